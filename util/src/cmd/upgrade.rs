//! `chimaera module upgrade MOD_NAME PATH`: a live module upgrade, asked of
//! the runtime through its admin pool.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;

use chimod_sdk::admin::UpgradeOutcome;

use super::Printing;
use crate::{fail, say};

/// How long each pool's running tasks may take to finish.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Upgrades `mod_name` to the library at `path` (on every node with
/// `cluster`) and prints what each pool did.
pub fn run(mod_name: &str, path: &Path, cluster: bool, out: &Printing, tool: &str) -> ExitCode {
    // The runtime opens the path itself, so it must not depend on where
    // this tool runs.
    let path = match std::path::absolute(path) {
        Ok(path) => path,
        Err(e) => return fail(tool, 2, &format!("{}: {e}", path.display())),
    };
    let flags = &out.client;
    let client = match flags.attach() {
        Ok(client) => client,
        Err(code) => return fail(tool, code.0, &code.1),
    };
    // The whole upgrade is one call: the drains and the creations fit in it.
    client.set_call_timeout(Some(flags.timeout.max(DRAIN * 3)));
    let outcomes = match client.admin().upgrade_module(mod_name, &path.display().to_string(), DRAIN, cluster)
    {
        Ok(outcomes) => outcomes,
        Err(e) => return fail(tool, 1, &e),
    };
    if out.json {
        let nodes: Vec<_> = outcomes.iter().map(outcome_json).collect();
        say!(
            "{}",
            if cluster {
                serde_json::Value::Array(nodes)
            } else {
                nodes.into_iter().next().unwrap_or_default()
            }
        );
        return ExitCode::SUCCESS;
    }
    for o in &outcomes {
        let on = if cluster { format!(" on node {}", o.node_id) } else { String::new() };
        say!("module {}{on}: {} -> {} ({})", o.mod_name, o.old_version, o.new_version, path.display());
        for p in &o.pools {
            let how =
                if p.state_handed_over { "state handed over" } else { "created anew from its parameters" };
            say!("pool {}: {how}; new tasks held {:.2} ms", p.pool_id, p.held_us as f64 / 1000.0);
        }
    }
    ExitCode::SUCCESS
}

fn outcome_json(o: &UpgradeOutcome) -> serde_json::Value {
    let pools: Vec<_> = o
        .pools
        .iter()
        .map(|p| json!({"pool_id": p.pool_id.to_string(), "state_handed_over": p.state_handed_over, "held_us": p.held_us}))
        .collect();
    json!({"node_id": o.node_id, "mod_name": o.mod_name, "old_version": o.old_version, "new_version": o.new_version, "pools": pools})
}
