//! Running the `compose:` section: one pool per entry, in order.
//!
//! A failing entry is logged with its index and reason and does not stop the
//! others, so one bad device does not take a node's other pools down with
//! it; the ready line counts the failures. Operators who want any failure
//! to be fatal start the runtime with `--strict`.

use chimod_sdk::{PoolId, PoolQuery};
use tracing::{error, info};

use crate::config::ComposeEntry;
use crate::module::ModuleManager;
use crate::pool::{PoolManager, PoolSpec};

/// The admin module's name; it is loaded first, as a plugin like any other.
pub const ADMIN_MODULE: &str = "chimaera_admin";

/// What a compose run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComposeReport {
    /// Pools created.
    pub created: usize,
    /// One message per failed entry: `compose[i] (<mod_name> <pool_id>): <why>`.
    pub failed: Vec<String>,
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

/// Creates every entry's pool, in order, and reports what happened.
pub fn run_compose(entries: &[ComposeEntry], pools: &PoolManager, modules: &ModuleManager) -> ComposeReport {
    let mut report = ComposeReport::default();
    for (i, entry) in entries.iter().enumerate() {
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
