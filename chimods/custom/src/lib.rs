//! `chimaera_custom_mod`: the example module of the deployment guide's
//! compose section, showing a module's own keys arriving typed.
//!
//! ```yaml
//! compose:
//!   - mod_name: chimaera_custom_mod
//!     pool_name: my_custom_pool
//!     pool_query: dynamic
//!     pool_id: 400.0
//!     custom_param1: value1
//!     custom_param2: value2
//!     buffer_size: 64K          # optional: any size form
//!     options:                  # optional: any nested map
//!       retries: 3
//! ```
//!
//! Besides its parameters it shows what most modules need beyond plain
//! methods: [`RELAY`] sends subtasks to another pool (any module's) and
//! waits for them without blocking its worker; [`TICK`] is a method meant
//! to be run as a periodic task; [`SUM`] reads a client's bulk buffer in
//! place and [`FILL`] returns data in a bulk buffer of its own.
//!
//! Its methods and their types are in `chimaera-custom-api`
//! (`chimods/custom/api`), which clients depend on.

use std::sync::atomic::{AtomicU64, Ordering};

pub use chimaera_custom_api::*;
use chimod_sdk::bulk::Bulk;
use chimod_sdk::host::{self, TaskLength};
use chimod_sdk::{ChiMod, ModError, PoolInfo};

/// A container of the custom module.
#[derive(Debug)]
pub struct CustomMod {
    params: CustomParams,
    ticks: AtomicU64,
}

impl CustomMod {
    fn relay(&self, relay: Relay) -> Result<Vec<Vec<u8>>, ModError> {
        let length = if relay.long { TaskLength::Long } else { TaskLength::Short };
        // Submit every copy before waiting for any: they run in parallel.
        let pending = (0..relay.copies.max(1))
            .map(|_| host::submit_routed(relay.pool_id, relay.method, &relay.input, length, relay.route))
            .collect::<Result<Vec<_>, _>>()?;
        pending.into_iter().map(|p| p.wait()).collect()
    }

    fn sum(bulk: Bulk) -> Result<u64, ModError> {
        let mem = host::bulk_map(&bulk)?;
        // SAFETY: a client does not write its buffer while a task reading
        // it is in flight (the client library's contract).
        let bytes = unsafe { mem.as_slice() };
        Ok(bytes.iter().map(|b| u64::from(*b)).sum())
    }

    fn fill(len: u64, seed: u8) -> Result<Bulk, ModError> {
        let (bulk, mem) = host::bulk_alloc(len)?;
        // SAFETY: the block is this task's until it returns it.
        let bytes = unsafe { mem.as_mut_slice() };
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = fill_byte(seed, i);
        }
        Ok(bulk)
    }
}

impl ChiMod for CustomMod {
    type Params = CustomParams;

    fn create(pool: &PoolInfo, params: CustomParams) -> Result<Self, ModError> {
        chimod_sdk::tracing::info!(
            "created {pool} with custom_param1={} custom_param2={} buffer_size={:?} options={:?}",
            params.custom_param1,
            params.custom_param2,
            params.buffer_size.map(|s| s.bytes()),
            params.options
        );
        Ok(CustomMod { params, ticks: AtomicU64::new(0) })
    }

    fn call(&self, method: u32, input: &[u8]) -> Result<Vec<u8>, ModError> {
        match method {
            m if m == PARAMS.id => PARAMS.handle(input, |()| Ok(self.params.clone())),
            m if m == ECHO.id => ECHO.handle(input, Ok),
            m if m == RELAY.id => RELAY.handle(input, |relay| self.relay(relay)),
            m if m == SUM.id => SUM.handle(input, Self::sum),
            m if m == FILL.id => FILL.handle(input, |(len, seed)| Self::fill(len, seed)),
            m if m == TICK.id => TICK.handle(input, |()| Ok(self.ticks.fetch_add(1, Ordering::Relaxed) + 1)),
            other => Err(ModError::new(format!("chimaera_custom_mod has no method {other}"))),
        }
    }

    fn stats(&self) -> serde_json::Value {
        serde_json::json!({ "params": self.params, "ticks": self.ticks.load(Ordering::Relaxed) })
    }
}

chimod_sdk::export_module!(CustomMod);
