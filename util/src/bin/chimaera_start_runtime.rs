//! `chimaera_start_runtime`: runs this node's runtime in the foreground.

use std::process::ExitCode;

use chimaera_util::cmd::start::StartArgs;
use clap::Parser;

// The network thread frees what workers allocate (frames, outcomes) and
// the reverse; glibc's malloc spent about a sixth of a pipelined remote
// load in its own bookkeeping for that (docs/decisions.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Start the Chimaera runtime of this node in the foreground.
///
/// The configuration file is, in order of precedence: --config PATH, then
/// $CHI_SERVER_CONF, then $WRP_RUNTIME_CONF; with none of them set, the
/// built-in defaults (config/chimaera_default.yaml) are used. The runtime
/// prints one "chimaera runtime ready" line on stdout once it serves, and
/// stops cleanly on SIGINT or SIGTERM, removing its shared memory.
///
/// Modules (lib<mod_name>.so) are searched in $CHI_REPO_PATH, then
/// runtime.module_path, then this binary's directory, then $LD_LIBRARY_PATH.
///
/// With networking.hostfile, the runtime is the node whose address it finds
/// among this machine's addresses, or the one --node-address or
/// $CHI_NODE_ADDRESS names; without one it is a single node.
///
/// Exit codes: 0 stopped cleanly; 1 could not start (shared memory, log
/// file); 2 bad configuration, hostfile or usage.
#[derive(Debug, Parser)]
#[command(version, about, long_about, verbatim_doc_comment)]
struct Args {
    #[command(flatten)]
    start: StartArgs,
}

fn main() -> ExitCode {
    chimaera_util::cmd::start::run_foreground(&Args::parse().start, "chimaera_start_runtime")
}
