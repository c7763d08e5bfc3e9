//! Stopping this node's runtime through its admin pool, and waiting until
//! it has stopped.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use chimaera::shm::{ShmIdentity, runtime_alive};
use chimaera_client::ClientError;

use crate::{RuntimeFlags, fail, parse_seconds, say};

/// Which runtime to stop and how long to wait.
#[derive(Debug, Clone, clap::Args)]
pub struct StopArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub runtime: RuntimeFlags,

    /// Seconds to wait for a starting runtime to become ready, then for the
    /// runtime to take the stop request and to stop (each bounded by it).
    #[arg(long, default_value = "30", value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Duration,

    /// Seconds to wait for a runtime that is not running yet to start, then
    /// stop it (0: report at once that none is running): for a stop that
    /// may follow `chimaera_start_runtime &` directly.
    #[arg(long, default_value = "0", value_name = "SECONDS", value_parser = parse_seconds)]
    pub wait: Duration,

    /// Print one JSON object (`{"stopped": true, "port": N}`) instead.
    #[arg(long)]
    pub json: bool,
}

/// What a stop found.
#[derive(Debug)]
pub enum Stopped {
    /// It stopped.
    Stopped(u16),
    /// None was running.
    NotRunning(ClientError),
}

/// Stops the runtime and prints that it did.
pub fn run(args: &StopArgs, tool: &str) -> ExitCode {
    match stop(args, tool) {
        Ok(Stopped::Stopped(port)) => {
            if args.json {
                say!("{}", serde_json::json!({ "stopped": true, "port": port }));
            } else {
                say!("chimaera runtime on port {port} stopped");
            }
            ExitCode::SUCCESS
        }
        Ok(Stopped::NotRunning(e)) => fail(tool, 1, &e),
        Err(code) => code,
    }
}

/// Stops the runtime; `Err` is the exit code of a failure already printed.
pub fn stop(args: &StopArgs, tool: &str) -> Result<Stopped, ExitCode> {
    let port = args.runtime.port().map_err(|e| fail(tool, 2, &e))?;
    let limit = args.timeout;
    let client = match crate::attach(port, args.wait, limit) {
        Ok(client) => client,
        Err(e @ ClientError::NoRuntime { .. }) => return Ok(Stopped::NotRunning(e)),
        Err(e) => return Err(fail(tool, 1, &e)),
    };
    let started = Instant::now();
    let by = format!("{tool} (pid {})", std::process::id());
    match client.admin().stop_runtime(&by) {
        Ok(()) | Err(ClientError::Stopping) => {}
        Err(e) => return Err(fail(tool, 1, &e)),
    }
    drop(client);
    let identity = ShmIdentity::for_current_user(port);
    // Polled: the runtime's exit drops a lock, which announces nothing.
    while runtime_alive(&identity) {
        if started.elapsed() > limit {
            return Err(fail(tool, 1, &format!("the runtime on port {port} did not stop within {limit:?}")));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(Stopped::Stopped(port))
}
