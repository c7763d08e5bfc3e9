//! `chimaera_compose`: creates the pools of a config file's `compose:`
//! section in the running runtime of this node.

use std::process::ExitCode;

use chimaera_util::cmd::compose::ComposeArgs;
use clap::Parser;

/// Create the pools listed in a config file's `compose:` section in the
/// runtime already running on this node, through its admin pool.
///
/// The runtime is the one on --port, else on the port the file names
/// (networking.port), else the one this node's configuration names
/// (CHI_SERVER_CONF, then WRP_RUNTIME_CONF, then the default 5555), so a
/// file holding only a compose: section reaches the runtime it is meant for. Prints one line per pool:
/// created, already exists (same id and parameters), or failed and why.
/// Running it twice is safe.
///
/// Exit codes: 0 every pool exists now; 1 a pool failed or no runtime is
/// reachable; 2 the file cannot be read or is invalid.
#[derive(Debug, Parser)]
#[command(version, about, long_about, verbatim_doc_comment)]
struct Args {
    #[command(flatten)]
    compose: ComposeArgs,
}

fn main() -> ExitCode {
    chimaera_util::cmd::compose::run(&Args::parse().compose, "chimaera_compose")
}
