//! Is this node's runtime serving? One line about it and one per node, or
//! the whole of its statistics as JSON.

use std::process::ExitCode;
use std::time::Duration;

use crate::{RuntimeFlags, fail, parse_seconds, say};

/// Which runtime, and how long to wait for it.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub runtime: RuntimeFlags,

    /// Seconds to wait for the answer (and for a runtime that is starting
    /// to become ready).
    #[arg(long, default_value = "5", value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Duration,

    /// Seconds to wait for a runtime that is not running yet to start
    /// (0: report at once that none is running). For scripts:
    /// `chimaera_start_runtime & chimaera_status --wait 30 && ...`.
    #[arg(long, default_value = "0", value_name = "SECONDS", value_parser = parse_seconds)]
    pub wait: Duration,

    /// Print the runtime's statistics as one JSON object instead.
    #[arg(long)]
    pub json: bool,
}

/// Asks the runtime for its statistics and prints them.
pub fn run(args: &StatusArgs, tool: &str) -> ExitCode {
    let port = match args.runtime.port() {
        Ok(port) => port,
        Err(e) => return fail(tool, 2, &e),
    };
    let client = match crate::attach(port, args.wait, args.timeout) {
        Ok(client) => client,
        Err(e) => return fail(tool, 1, &e),
    };
    let stats = match client.admin().stats() {
        Ok(stats) => stats,
        Err(e) => return fail(tool, 1, &e),
    };
    if args.json {
        say!("{}", crate::json(&stats));
        return ExitCode::SUCCESS;
    }
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
