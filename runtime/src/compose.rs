//! Running the `compose:` section: one pool per entry, in order.
//!
//! A failing entry is logged with its index and reason and does not stop the
//! others, so one bad device does not take a node's other pools down with
//! it; the ready line counts the failures. Operators who want any failure
//! to be fatal start the runtime with `--strict`.

use chimod_sdk::{PoolId, PoolQuery};
use tracing::{error, info, warn};

use crate::config::ComposeEntry;
use crate::module::ModuleManager;
use crate::pool::{PoolManager, PoolRecord, PoolSpec};

/// The admin module's name; it is loaded first, as a plugin like any other.
pub const ADMIN_MODULE: &str = "chimaera_admin";

/// What a compose run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComposeReport {
    /// Pools created.
    pub created: usize,
    /// One message per failed entry: `compose[i] (<mod_name> <pool_id>): <why>`,
    /// and per recorded pool that could not be created again.
    pub failed: Vec<String>,
    /// Pools created at runtime before and created again from the record.
    pub restored: usize,
}

/// Creates the runtime's admin pool.
pub fn create_admin_pool(pools: &PoolManager, modules: &ModuleManager) -> Result<(), String> {
    let spec = PoolSpec {
        mod_name: ADMIN_MODULE.to_owned(),
        pool_name: ADMIN_MODULE.to_owned(),
        pool_query: PoolQuery::Local,
        pool_id: PoolId::ADMIN,
        params: serde_json::Map::new(),
    };
    pools
        .create(spec, modules)
        .map(drop)
        .map_err(|e| format!("admin pool ({ADMIN_MODULE} {}): {e}", PoolId::ADMIN))
}

/// Creates every entry's pool, in order, except those the record says were
/// destroyed at runtime, and reports what happened.
pub fn run_compose(
    entries: &[ComposeEntry],
    pools: &PoolManager,
    modules: &ModuleManager,
    record: Option<&PoolRecord>,
) -> ComposeReport {
    let mut report = ComposeReport::default();
    let destroyed = record.map(PoolRecord::destroyed_ids).unwrap_or_default();
    for (i, entry) in entries.iter().enumerate() {
        if destroyed.contains(&entry.pool_id) {
            info!(
                pool_id = %entry.pool_id,
                pool_name = entry.pool_name,
                "compose[{i}]: not created: it was destroyed at runtime (recorded in {}); create it at runtime (chimaera compose) to bring it back",
                record.map_or_else(String::new, |r| r.path().display().to_string())
            );
            continue;
        }
        match pools.create(PoolSpec::from(entry), modules) {
            Ok(pool) => {
                report.created += 1;
                info!(
                    pool_id = %pool.id(),
                    pool_name = entry.pool_name,
                    module = entry.mod_name,
                    query = %entry.pool_query,
                    "compose[{i}]: pool created"
                );
            }
            Err(e) => {
                let message = format!("compose[{i}] ({} {}): {e}", entry.mod_name, entry.pool_id);
                error!("{message}");
                report.failed.push(message);
            }
        }
    }
    report
}

/// Creates again, in the order they were first created, the pools the
/// record says were created at runtime. A pool whose id the `compose:`
/// section already gave to the same pool is left as it is; one it gave to
/// another pool gives way to the file (its entry is dropped, with a
/// warning); one that cannot be created is an error naming it, and stays
/// recorded so that it comes back once its cause is fixed.
pub fn restore_recorded(
    record: &PoolRecord,
    pools: &PoolManager,
    modules: &ModuleManager,
    report: &mut ComposeReport,
) {
    let file = record.path().display().to_string();
    for spec in record.entries().iter().filter_map(|e| e.spec()) {
        let what = format!("{} {} `{}`", spec.mod_name, spec.pool_id, spec.pool_name);
        if let Some(existing) = pools.get(spec.pool_id) {
            if *existing.spec() == spec {
                continue;
            }
            warn!(
                "recorded pool {what} differs from the compose section's pool {} `{}` ({}): the compose section's stands and the record drops it ({file})",
                spec.pool_id,
                existing.spec().pool_name,
                existing.spec().mod_name
            );
            if let Err(e) = record.guard().forget(spec.pool_id) {
                error!("{e}");
            }
            continue;
        }
        match pools.create(spec, modules) {
            Ok(_) => {
                report.restored += 1;
                info!("recorded pool {what}: created again from {file}");
            }
            Err(e) => {
                let message = format!("recorded pool ({what}): {e} (kept in {file})");
                error!("{message}");
                report.failed.push(message);
            }
        }
    }
}
