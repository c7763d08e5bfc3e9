//! `chimaera_stop_runtime`: stops this node's runtime through its admin pool.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use chimaera::shm::{ShmIdentity, runtime_alive};
use chimaera_client::ClientError;
use chimaera_util::{RuntimeFlags, parse_seconds, say};
use clap::Parser;

/// Stop the Chimaera runtime of this node and wait until it has stopped.
///
/// The runtime is found like chimaera_start_runtime finds its config
/// (--config, then CHI_SERVER_CONF, then WRP_RUNTIME_CONF, then defaults),
/// or by --port. Tasks in flight complete or fail with "runtime stopping".
///
/// Exit codes: 0 stopped; 1 no runtime running, or it did not stop within
/// --timeout; 2 bad configuration or usage.
#[derive(Debug, Parser)]
#[command(version, about, long_about, verbatim_doc_comment)]
struct Args {
    #[command(flatten)]
    runtime: RuntimeFlags,

    /// Seconds to wait for a starting runtime to become ready, then for the
    /// runtime to take the stop request and to stop (each bounded by it).
    #[arg(long, default_value = "30", value_name = "SECONDS", value_parser = parse_seconds)]
    timeout: Duration,

    /// Seconds to wait for a runtime that is not running yet to start, then
    /// stop it (0: report at once that none is running): for a stop that
    /// may follow `chimaera_start_runtime &` directly.
    #[arg(long, default_value = "0", value_name = "SECONDS", value_parser = parse_seconds)]
    wait: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let port = match args.runtime.port() {
        Ok(port) => port,
        Err(e) => return fail(2, &e),
    };
    let limit = args.timeout;
    let client = match chimaera_util::attach(port, args.wait, limit) {
        Ok(client) => client,
        Err(e) => return fail(1, &e),
    };
    let started = Instant::now();
    let by = format!("chimaera_stop_runtime (pid {})", std::process::id());
    match client.admin().stop_runtime(&by) {
        Ok(()) | Err(ClientError::Stopping) => {}
        Err(e) => return fail(1, &e),
    }
    drop(client);
    let identity = ShmIdentity::for_current_user(port);
    // Polled: the runtime's exit drops a lock, which announces nothing.
    while runtime_alive(&identity) {
        if started.elapsed() > limit {
            return fail(1, &format!("the runtime on port {port} did not stop within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    say!("chimaera runtime on port {port} stopped");
    ExitCode::SUCCESS
}

fn fail(code: u8, error: &dyn std::fmt::Display) -> ExitCode {
    chimaera_util::fail("chimaera_stop_runtime", code, error)
}
