//! `chimaera_status`: is this node's runtime serving? For health checks.

use std::process::ExitCode;
use std::time::Duration;

use chimaera_util::{RuntimeFlags, parse_seconds, say};
use clap::Parser;

/// Ask this node's runtime whether it serves (a task through its admin
/// pool), and print one line about it and one per cluster node.
///
/// The runtime is found as chimaera_stop_runtime finds it (--config, then
/// CHI_SERVER_CONF, then WRP_RUNTIME_CONF, then defaults, or --port; and
/// CHI_NODE_ADDRESS). For a container health check:
///   HEALTHCHECK CMD chimaera_status
///
/// Exit codes: 0 serving; 1 not serving (none running, starting, stopping,
/// or no answer within --timeout); 2 bad configuration or usage.
#[derive(Debug, Parser)]
#[command(version, about, long_about, verbatim_doc_comment)]
struct Args {
    #[command(flatten)]
    runtime: RuntimeFlags,

    /// Seconds to wait for the answer (and for a runtime that is starting
    /// to become ready).
    #[arg(long, default_value = "5", value_name = "SECONDS", value_parser = parse_seconds)]
    timeout: Duration,

    /// Seconds to wait for a runtime that is not running yet to start
    /// (0: report at once that none is running). For scripts:
    /// `chimaera_start_runtime & chimaera_status --wait 30 && ...`.
    #[arg(long, default_value = "0", value_name = "SECONDS", value_parser = parse_seconds)]
    wait: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let port = match args.runtime.port() {
        Ok(port) => port,
        Err(e) => return fail(2, &e),
    };
    let client = match chimaera_util::attach(port, args.wait, args.timeout) {
        Ok(client) => client,
        Err(e) => return fail(1, &e),
    };
    let stats = match client.admin().stats() {
        Ok(stats) => stats,
        Err(e) => return fail(1, &e),
    };
    say!(
        "serving: node {}, port {port}, {} pools, {} workers, {} tasks done, up {:.1}s",
        stats.node_id,
        stats.pools,
        stats.workers.len(),
        stats.workers.iter().map(|w| w.tasks_done).sum::<u64>(),
        stats.uptime_ms as f64 / 1000.0
    );
    for n in &stats.nodes {
        let heard = n.last_heard_ms.map_or_else(|| "never".to_owned(), |ms| format!("{ms} ms ago"));
        say!("node {} {}: {} (heard {heard})", n.node_id, n.address, n.state);
    }
    ExitCode::SUCCESS
}

fn fail(code: u8, error: &dyn std::fmt::Display) -> ExitCode {
    chimaera_util::fail("chimaera_status", code, error)
}
