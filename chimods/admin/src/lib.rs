//! `chimaera_admin`: the runtime's management module.
//!
//! The runtime creates its pool (id `1.0`) before any compose entry. Its
//! methods (create and destroy pools, list them, flush, stop, statistics)
//! arrive with the task engine; today it answers `stats`.

use std::time::Instant;

use chimod_sdk::{ChiMod, ModError, NoParams, PoolInfo};

/// The admin container.
#[derive(Debug)]
pub struct Admin {
    created: Instant,
    node_id: u32,
}

impl ChiMod for Admin {
    type Params = NoParams;

    fn create(pool: &PoolInfo, _: NoParams) -> Result<Self, ModError> {
        chimod_sdk::tracing::debug!("admin module ready for {pool}");
        Ok(Admin { created: Instant::now(), node_id: pool.node_id })
    }

    fn stats(&self) -> serde_json::Value {
        serde_json::json!({
            "node_id": self.node_id,
            "uptime_seconds": self.created.elapsed().as_secs_f64(),
        })
    }
}

chimod_sdk::export_module!(Admin);
