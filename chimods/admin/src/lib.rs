//! `chimaera_admin`: the runtime's management module.
//!
//! The runtime creates its pool (id `1.0`) before any compose entry. Its
//! methods, numbered in [`chimod_sdk::admin`] (create, destroy and list
//! pools, stop the runtime, statistics, flush), act on the runtime itself,
//! so the module hands them to the runtime through the host's admin entry
//! point; it is a plugin like any other, with the same ABI checks.

use std::time::Instant;

use chimod_sdk::admin::PING;
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

    fn call(&self, method: u32, input: &[u8]) -> Result<Vec<u8>, ModError> {
        // A ping needs nothing of the runtime: answer it here, so it measures
        // the task path and the module boundary alone.
        if method == PING.id {
            return PING.handle(input, |()| Ok(()));
        }
        chimod_sdk::host::admin_call(method, input)
    }

    fn stats(&self) -> serde_json::Value {
        serde_json::json!({
            "node_id": self.node_id,
            "uptime_seconds": self.created.elapsed().as_secs_f64(),
        })
    }
}

chimod_sdk::export_module!(Admin);
