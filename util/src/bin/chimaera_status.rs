//! `chimaera_status`: is this node's runtime serving? For health checks.

use std::process::ExitCode;

use chimaera_util::cmd::status::StatusArgs;
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
    status: StatusArgs,
}

fn main() -> ExitCode {
    chimaera_util::cmd::status::run(&Args::parse().status, "chimaera_status")
}
