//! `chimaera_compose`: creates the pools of a config file's `compose:`
//! section in the running runtime of this node.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chimaera::config::parse_config;
use chimaera_util::{ConfigFlag, parse_seconds, say};
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
    /// The YAML file whose `compose:` section lists the pools.
    config: PathBuf,

    /// The runtime's port; overrides the file's networking.port.
    #[arg(long)]
    port: Option<u16>,

    /// Seconds to wait for the runtime to start and become ready, so the
    /// tool can follow `chimaera_start_runtime &` directly.
    #[arg(long, default_value = "10", value_name = "SECONDS", value_parser = parse_seconds)]
    wait: Duration,

    /// Seconds each pool's creation may take before the tool gives up on
    /// it (the runtime may still finish it; running again is safe).
    #[arg(long, default_value = "60", value_name = "SECONDS", value_parser = parse_seconds)]
    timeout: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let text = match chimaera::config::read_small_text(&args.config, chimaera::config::MAX_CONFIG_FILE) {
        Ok(text) => text,
        Err(e) => return fail(2, &format!("cannot read {}: {e}", args.config.display())),
    };
    let parsed = match parse_config(&text, &args.config.display().to_string()) {
        Ok(parsed) => parsed,
        Err(e) => return fail(2, &e),
    };
    for warning in &parsed.warnings {
        chimaera_util::warn_line("chimaera_compose", &warning);
    }
    let file_port = parsed.port_given.then_some(parsed.config.networking.port);
    let port = match (ConfigFlag { config: None }).port(args.port.or(file_port)) {
        Ok(port) => port,
        Err(e) => return fail(2, &e),
    };
    let client = match chimaera_util::attach(port, args.wait, args.timeout) {
        Ok(client) => client,
        Err(e) => return fail(1, &e),
    };
    let admin = client.admin();
    let mut failed = 0;
    for (i, entry) in parsed.config.compose.iter().enumerate() {
        let what = format!("compose[{i}] {} {} `{}`", entry.mod_name, entry.pool_id, entry.pool_name);
        match admin.create_pool(entry) {
            Ok(outcome) => say!("{what}: {}", outcome.describe()),
            Err(e) => {
                failed += 1;
                say!("{what}: failed: {e}");
            }
        }
    }
    if failed > 0 {
        return fail(1, &format!("{failed} of {} pools failed", parsed.config.compose.len()));
    }
    ExitCode::SUCCESS
}

fn fail(code: u8, error: &dyn std::fmt::Display) -> ExitCode {
    chimaera_util::fail("chimaera_compose", code, error)
}
