//! `chimaera module upgrade MOD_NAME PATH`: a live module upgrade, asked of
//! the runtime through its admin pool.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;

use super::ClientFlags;
use crate::{fail, say};

/// How long each pool's running tasks may take to finish.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Upgrades `mod_name` to the library at `path` and prints what each pool did.
pub fn run(mod_name: &str, path: &Path, flags: &ClientFlags, as_json: bool, tool: &str) -> ExitCode {
    // The runtime opens the path itself, so it must not depend on where
    // this tool runs.
    let path = match std::path::absolute(path) {
        Ok(path) => path,
        Err(e) => return fail(tool, 2, &format!("{}: {e}", path.display())),
    };
    let client = match flags.attach() {
        Ok(client) => client,
        Err(code) => return fail(tool, code.0, &code.1),
    };
    // The whole upgrade is one call: the drain and the creations fit in it.
    client.set_call_timeout(Some(flags.timeout.max(DRAIN * 2)));
    let outcome = match client.admin().upgrade_module(mod_name, &path.display().to_string(), DRAIN) {
        Ok(outcome) => outcome,
        Err(e) => return fail(tool, 1, &e),
    };
    if as_json {
        let pools: Vec<_> = outcome
            .pools
            .iter()
            .map(|p| json!({"pool_id": p.pool_id.to_string(), "state_handed_over": p.state_handed_over, "held_us": p.held_us}))
            .collect();
        say!(
            "{}",
            json!({"mod_name": outcome.mod_name, "old_version": outcome.old_version, "new_version": outcome.new_version, "pools": pools})
        );
        return ExitCode::SUCCESS;
    }
    say!(
        "module {}: {} -> {} ({})",
        outcome.mod_name,
        outcome.old_version,
        outcome.new_version,
        path.display()
    );
    for p in &outcome.pools {
        let how = if p.state_handed_over { "state handed over" } else { "created anew from its parameters" };
        say!("pool {}: {how}; new tasks held {:.2} ms", p.pool_id, p.held_us as f64 / 1000.0);
    }
    ExitCode::SUCCESS
}
