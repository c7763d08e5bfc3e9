//! This node's container of a pool: a module instance and its module.

use std::ffi::c_void;
use std::ptr::NonNull;
use std::sync::Arc;

use chimod_sdk::PoolInfo;

use crate::module::{CreateError, LoadedModule};

/// A live module instance. Dropping it runs the module's destroy handler.
#[derive(Debug)]
pub struct Container {
    module: Arc<LoadedModule>,
    instance: NonNull<c_void>,
    info: PoolInfo,
}

// SAFETY: `ChiMod: Send + Sync` is required of every module type, so its
// instance may be used and dropped from any thread; the pointer is only
// handed back to the module that made it.
unsafe impl Send for Container {}
// SAFETY: as above.
unsafe impl Sync for Container {}

impl Container {
    /// Creates a container through the module's create handler.
    pub fn create(
        module: Arc<LoadedModule>,
        info: PoolInfo,
        params_json: &str,
    ) -> Result<Container, CreateError> {
        let instance = module.create(&info, params_json)?;
        Ok(Container { module, instance, info })
    }

    /// A container of `module` (a new version) for the pool `old` serves:
    /// from `old`'s handed-over state when both versions support it (the
    /// flag), else from the parameters.
    pub fn take_over(
        module: Arc<LoadedModule>,
        old: &Container,
        params_json: &str,
    ) -> Result<(Container, bool), CreateError> {
        // SAFETY: `old.instance` came from its module's create and lives
        // until `old` drops.
        let state = unsafe { old.module.hand_over(old.instance) }?;
        let info = old.info.clone();
        let (instance, adopted) = match state {
            Some(state) => module.take_over(&info, params_json, &state)?,
            None => (module.create(&info, params_json)?, false),
        };
        Ok((Container { module, instance, info }, adopted))
    }

    /// What the module was told about this container's pool.
    pub fn info(&self) -> &PoolInfo {
        &self.info
    }

    /// The module.
    pub fn module(&self) -> &LoadedModule {
        &self.module
    }

    /// Runs one of the module's methods.
    pub fn call(&self, method: u32, input: &[u8]) -> Result<Vec<u8>, CreateError> {
        // SAFETY: `instance` came from this module's create and lives until drop.
        unsafe { self.module.call(self.instance, method, input) }
    }

    /// Makes the container's data durable.
    pub fn flush(&self) -> Result<(), CreateError> {
        // SAFETY: as in `call`.
        unsafe { self.module.flush(self.instance) }
    }

    /// The module's statistics for this container.
    pub fn stats(&self) -> Result<serde_json::Value, CreateError> {
        // SAFETY: as in `call`.
        let bytes = unsafe { self.module.stats(self.instance) }?;
        serde_json::from_slice(&bytes)
            .map_err(|e| CreateError::Refused(format!("module stats are not JSON: {e}")))
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // SAFETY: created by this module, destroyed exactly once, here.
        if let Err(e) = unsafe { self.module.destroy(self.instance) } {
            tracing::error!(pool = %self.info, module = self.module.mod_name(), "destroy failed: {e}");
        }
    }
}
