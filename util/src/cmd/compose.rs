//! Creating (or destroying) the pools of a file's `compose:` section in the
//! running runtime of this node.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chimaera::config::parse_config;

use crate::{ConfigFlag, fail, parse_seconds, say};

/// The file and how to reach the runtime.
#[derive(Debug, Clone, clap::Args)]
pub struct ComposeArgs {
    /// The YAML file whose `compose:` section lists the pools.
    pub config: PathBuf,

    /// The runtime's port; overrides the file's networking.port.
    #[arg(long)]
    pub port: Option<u16>,

    /// Seconds to wait for the runtime to start and become ready, so the
    /// tool can follow `chimaera_start_runtime &` directly.
    #[arg(long, default_value = "10", value_name = "SECONDS", value_parser = parse_seconds)]
    pub wait: Duration,

    /// Seconds each pool's creation may take before the tool gives up on
    /// it (the runtime may still finish it; running again is safe).
    #[arg(long, default_value = "60", value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Duration,

    /// Destroy the file's pools instead, newest first (a pool that is not
    /// there is reported and is no failure). Destroyed pools stay destroyed
    /// across restarts, even those the runtime's own compose section lists.
    #[arg(long)]
    pub destroy: bool,
}

/// Creates (or destroys) every pool of the file, one line per pool.
pub fn run(args: &ComposeArgs, tool: &str) -> ExitCode {
    let text = match chimaera::config::read_small_text(&args.config, chimaera::config::MAX_CONFIG_FILE) {
        Ok(text) => text,
        Err(e) => return fail(tool, 2, &format!("cannot read {}: {e}", args.config.display())),
    };
    let parsed = match parse_config(&text, &args.config.display().to_string()) {
        Ok(parsed) => parsed,
        Err(e) => return fail(tool, 2, &e),
    };
    for warning in &parsed.warnings {
        crate::warn_line(tool, &warning);
    }
    let file_port = parsed.port_given.then_some(parsed.config.networking.port);
    let port = match (ConfigFlag { config: None }).port(args.port.or(file_port)) {
        Ok(port) => port,
        Err(e) => return fail(tool, 2, &e),
    };
    let client = match crate::attach(port, args.wait, args.timeout) {
        Ok(client) => client,
        Err(e) => return fail(tool, 1, &e),
    };
    let admin = client.admin();
    let entries = &parsed.config.compose;
    let mut failed = 0;
    if args.destroy {
        let present: std::collections::HashMap<_, _> = match admin.list_pools() {
            Ok(pools) => pools.into_iter().map(|p| (p.pool_id, p)).collect(),
            Err(e) => return fail(tool, 1, &e),
        };
        for (i, entry) in entries.iter().enumerate().rev() {
            let what = format!("compose[{i}] {} {} `{}`", entry.mod_name, entry.pool_id, entry.pool_name);
            let Some(there) = present.get(&entry.pool_id) else {
                say!("{what}: not there");
                continue;
            };
            // The id alone is not enough: another pool may have it.
            if there.mod_name != entry.mod_name || there.pool_name != entry.pool_name {
                failed += 1;
                say!(
                    "{what}: failed: pool {} is `{}` ({}), not this file's pool; not destroyed",
                    there.pool_id,
                    there.pool_name,
                    there.mod_name
                );
                continue;
            }
            match admin.destroy_pool(entry.pool_id) {
                Ok(()) => say!("{what}: destroyed"),
                Err(e) => {
                    failed += 1;
                    say!("{what}: failed: {e}");
                }
            }
        }
    } else {
        for (i, entry) in entries.iter().enumerate() {
            let what = format!("compose[{i}] {} {} `{}`", entry.mod_name, entry.pool_id, entry.pool_name);
            match admin.create_pool(entry) {
                Ok(outcome) => say!("{what}: {}", outcome.describe()),
                Err(e) => {
                    failed += 1;
                    say!("{what}: failed: {e}");
                }
            }
        }
    }
    if failed > 0 {
        return fail(tool, 1, &format!("{failed} of {} pools failed", entries.len()));
    }
    ExitCode::SUCCESS
}
