//! `chimaera_stop_runtime`: stops this node's runtime through its admin pool.

use std::process::ExitCode;

use chimaera_util::cmd::stop::StopArgs;
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
    stop: StopArgs,
}

fn main() -> ExitCode {
    chimaera_util::cmd::stop::run(&Args::parse().stop, "chimaera_stop_runtime")
}
