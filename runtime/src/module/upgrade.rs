//! Live module upgrade: a module's pools move to a new version of its code
//! while clients keep submitting, and no task fails.
//!
//! In order: the new library is loaded and checked (ABI, layout, name) as
//! at start; every pool of the module holds new tasks at its gate (they
//! yield their fibers and wait, their workers run other work); the tasks
//! inside drain, within the asked bound; a container of the new version is
//! created for each pool from the pool's parameters (a file bdev reopens
//! its file); only when all exist are they swapped in, the old containers
//! destroyed (which flushes them), the new version made the one new pools
//! get, and the gates opened: held tasks run on the new version. A module that implements
//! `ChiMod::hand_over` / `take_over` gives its new version the old
//! container's state instead. Any
//! failure before the swap (bad file, ABI mismatch, a drain that does not
//! finish, a create error) drops what was made and opens the gates: the old
//! version serves on, and the error names the file or the pool. The old
//! library stays loaded (`module/mod.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chimod_sdk::admin::{PoolUpgrade, UpgradeModule, UpgradeOutcome};
use tracing::{info, warn};

use crate::compose::ADMIN_MODULE;
use crate::node::Node;
use crate::pool::{Container, Pool};

/// The longest drain a request may ask for.
const MAX_DRAIN: Duration = Duration::from_secs(600);

/// Upgrades `req.mod_name` on this node.
pub fn upgrade_module(node: &Node, req: UpgradeModule) -> Result<UpgradeOutcome, String> {
    let name = req.mod_name.as_str();
    if name == ADMIN_MODULE {
        return Err(format!(
            "{ADMIN_MODULE} runs the upgrade itself and cannot be upgraded live; restart the runtime"
        ));
    }
    let Some(old) = node.modules.get(name) else {
        return Err(format!(
            "module `{name}` is not loaded on node {}; a pool created from now on loads it from the search path",
            node.node_id
        ));
    };
    let path = std::path::Path::new(&req.path);
    let drain = Duration::from_millis(req.drain_timeout_ms).min(MAX_DRAIN);
    let _no_creations = node.modules.upgrading(Instant::now() + drain).ok_or_else(|| {
        format!("pool creations did not finish within {drain:?}; {name} {} keeps serving", old.version())
    })?;
    let keeps = || format!("{name} {} keeps serving", old.version());
    let new = Arc::new(node.modules.load_new_version(name, path).map_err(|e| format!("{e}; {}", keeps()))?);
    let pools: Vec<Arc<Pool>> = node.pools.list().into_iter().filter(|p| p.spec().mod_name == name).collect();
    let held = Instant::now();
    for pool in &pools {
        pool.gate().hold();
    }
    let release = || pools.iter().for_each(|p| p.gate().release());
    let made = drain_then_create(&pools, &new, drain);
    let made = match made {
        Ok(made) => made,
        Err(e) => {
            release();
            warn!(
                module = name,
                "live upgrade to {} abandoned, {} keeps serving: {e}",
                new.version(),
                old.version()
            );
            return Err(format!("{e}; {}", keeps()));
        }
    };
    let mut outcome = Vec::new();
    for (pool, (container, adopted)) in pools.iter().zip(made) {
        if pool.replace_held_container(container).is_err() {
            // Cannot be: the gates were held and empty since the drain.
            warn!(pool = %pool.id(), "a pool was not held during the upgrade; it keeps its container");
        }
        outcome.push(PoolUpgrade {
            pool_id: pool.id(),
            state_handed_over: adopted,
            held_us: held.elapsed().as_micros() as u64,
        });
    }
    node.modules.replace(new.clone());
    release();
    // The next start loads this library too (a failure to record it is no
    // failure of the upgrade, which has happened; the log says so).
    if let Some(record) = node.record.get()
        && let Err(e) = record.guard().upgraded(name, Some(&req.path))
    {
        warn!(module = name, "the next start will load {name} from the search path again: {e}");
    }
    info!(
        module = name,
        from = old.version(),
        to = new.version(),
        path = %path.display(),
        pools = pools.len(),
        held_us = held.elapsed().as_micros() as u64,
        "module upgraded live"
    );
    Ok(UpgradeOutcome {
        node_id: node.node_id,
        mod_name: name.to_owned(),
        old_version: old.version().to_owned(),
        new_version: new.version().to_owned(),
        pools: outcome,
    })
}

/// Waits until no task is inside any of `pools`, then makes a container of
/// `module` for each, in order: from the old container's handed-over state
/// when both versions support it (the flag), else from the parameters.
fn drain_then_create(
    pools: &[Arc<Pool>],
    module: &Arc<crate::module::LoadedModule>,
    drain: Duration,
) -> Result<Vec<(Container, bool)>, String> {
    let deadline = Instant::now() + drain;
    for pool in pools {
        // The upgrade runs as an admin task on a worker: it yields its
        // fiber while it waits, so the tasks it waits for can finish even
        // on its own worker.
        while pool.gate().inside() > 0 {
            if Instant::now() > deadline {
                return Err(format!(
                    "pool {}: {} tasks still running after {drain:?}",
                    pool.id(),
                    pool.gate().inside()
                ));
            }
            crate::worker::yield_current_fiber();
        }
    }
    let mut made = Vec::with_capacity(pools.len());
    for pool in pools {
        let s = pool.spec();
        let params =
            serde_json::to_string(&s.params).map_err(|e| format!("pool {}: parameters: {e}", s.pool_id))?;
        let made_one = pool
            .with_held_container(|old| Container::take_over(module.clone(), old, &params))
            .ok_or_else(|| format!("pool {}: a task entered it during the upgrade", s.pool_id))?
            .map_err(|e| format!("pool {}: the new version's create failed: {e}", s.pool_id))?;
        made.push(made_one);
    }
    Ok(made)
}
