//! `chimaera_start_runtime`: runs this node's runtime in the foreground.

use std::process::ExitCode;

use chimaera::server::{Runtime, StartError, StartOptions};
use chimaera_util::ConfigFlag;
use clap::Parser;
use tracing::{info, warn};

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
    config: ConfigFlag,

    /// Refuse to start if any compose entry fails (by default a failing
    /// entry is logged and the others are still created).
    #[arg(long)]
    strict: bool,

    /// This node's address in the hostfile, for several nodes on one
    /// machine (default: $CHI_NODE_ADDRESS, else found among this machine's
    /// addresses). It also names the node's shared memory; clients of this
    /// node set CHI_NODE_ADDRESS to the same address.
    #[arg(long, value_name = "IP")]
    node_address: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let source = args.config.source();
    let parsed = match source.load() {
        Ok(parsed) => parsed,
        Err(e) => return fail(2, &e),
    };
    // The identity the runtime's memory will have (its node address as
    // `--node-address` or CHI_NODE_ADDRESS names it), to tell its log
    // lines from those of other runtimes in a shared file.
    let mut identity = chimaera::shm::ShmIdentity::for_current_user(parsed.config.networking.port);
    if let Some(address) = args.node_address.as_deref().and_then(|a| a.trim().parse().ok()) {
        identity = identity.with_node(Some(address));
    }
    let label = format!("{identity} pid {}", std::process::id());
    if let Err(e) = chimaera::logging::init(&parsed.config.logging, &label, parsed.config.memory.shm_group) {
        return fail(1, &e);
    }
    info!("loaded {source}");
    for warning in &parsed.warnings {
        warn!("{warning}");
    }
    for line in parsed.config.summary() {
        info!("{line}");
    }
    let options = StartOptions { strict: args.strict, node_address: args.node_address };
    let runtime = match Runtime::start(parsed.config, &options) {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("{e}");
            // A bad hostfile or node address is a configuration error.
            let code = if matches!(e, StartError::Membership(_) | StartError::ConfigFile(_)) { 2 } else { 1 };
            return fail(code, &e);
        }
    };
    let ready = runtime.ready_line();
    info!("{ready}");
    chimaera_util::say!("{ready}");
    runtime.run();
    ExitCode::SUCCESS
}

fn fail(code: u8, error: &dyn std::fmt::Display) -> ExitCode {
    chimaera_util::fail("chimaera_start_runtime", code, error)
}
