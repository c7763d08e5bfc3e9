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

    /// One JSON array (index, module, pool id and name, result or error per
    /// pool) instead of lines.
    #[arg(long)]
    pub json: bool,

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
    let mut lines = Lines { json: args.json, done: Vec::new(), failed: 0 };
    if args.destroy {
        let present: std::collections::HashMap<_, _> = match admin.list_pools() {
            Ok(pools) => pools.into_iter().map(|p| (p.pool_id, p)).collect(),
            Err(e) => return fail(tool, 1, &e),
        };
        for (i, entry) in entries.iter().enumerate().rev() {
            let Some(there) = present.get(&entry.pool_id) else {
                lines.say(i, entry, Ok("not there".to_owned()));
                continue;
            };
            // The id alone is not enough: another pool may have it.
            if there.mod_name != entry.mod_name || there.pool_name != entry.pool_name {
                let why = format!(
                    "pool {} is `{}` ({}), not this file's pool; not destroyed",
                    there.pool_id, there.pool_name, there.mod_name
                );
                lines.say(i, entry, Err(why));
                continue;
            }
            let done = admin.destroy_pool(entry.pool_id).map(|()| "destroyed".to_owned());
            lines.say(i, entry, done.map_err(|e| e.to_string()));
        }
    } else {
        for (i, entry) in entries.iter().enumerate() {
            let done = admin.create_pool(entry).map(|outcome| outcome.describe());
            lines.say(i, entry, done.map_err(|e| e.to_string()));
        }
    }
    if lines.json {
        say!("{}", serde_json::Value::Array(lines.done));
    }
    let failed = lines.failed;
    if failed > 0 {
        return fail(tool, 1, &format!("{failed} of {} pools failed", entries.len()));
    }
    ExitCode::SUCCESS
}

/// What happened to each pool: a line each as it happens, or JSON at the end.
struct Lines {
    json: bool,
    done: Vec<serde_json::Value>,
    failed: usize,
}

impl Lines {
    fn say(&mut self, i: usize, entry: &chimaera::config::ComposeEntry, result: Result<String, String>) {
        if result.is_err() {
            self.failed += 1;
        }
        if self.json {
            let (result, error) = match result {
                Ok(done) => (done, None),
                Err(e) => ("failed".to_owned(), Some(e)),
            };
            self.done.push(serde_json::json!({
                "index": i,
                "mod_name": entry.mod_name,
                "pool_id": entry.pool_id.to_string(),
                "pool_name": entry.pool_name,
                "result": result,
                "error": error,
            }));
            return;
        }
        let what = format!("compose[{i}] {} {} `{}`", entry.mod_name, entry.pool_id, entry.pool_name);
        match result {
            Ok(done) => say!("{what}: {done}"),
            Err(e) => say!("{what}: failed: {e}"),
        }
    }
}
