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
//! Built as `cdylib` (the module) and `rlib`, so clients can share
//! [`PARAMS`] and [`ECHO`] with it.

use std::collections::BTreeMap;

use chimod_sdk::methods::FIRST_MODULE_METHOD;
use chimod_sdk::{ChiMod, Method, ModError, PoolInfo, Size};
use serde::{Deserialize, Serialize};

/// The module's own compose keys.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CustomParams {
    /// Required.
    pub custom_param1: String,
    /// Required.
    pub custom_param2: String,
    /// Optional size, in any size form (`64K`, `1048576`).
    #[serde(default)]
    pub buffer_size: Option<Size>,
    /// Optional nested settings, kept as given.
    #[serde(default)]
    pub options: BTreeMap<String, serde_json::Value>,
}

/// Returns the parameters the container was created with.
pub const PARAMS: Method<(), CustomParams> = Method::new(FIRST_MODULE_METHOD);
/// Returns its input unchanged.
pub const ECHO: Method<Vec<u8>, Vec<u8>> = Method::new(FIRST_MODULE_METHOD + 1);

/// A container of the custom module.
#[derive(Debug)]
pub struct CustomMod {
    params: CustomParams,
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
        Ok(CustomMod { params })
    }

    fn call(&self, method: u32, input: &[u8]) -> Result<Vec<u8>, ModError> {
        match method {
            m if m == PARAMS.id => PARAMS.handle(input, |()| Ok(self.params.clone())),
            m if m == ECHO.id => ECHO.handle(input, Ok),
            other => Err(ModError::new(format!("chimaera_custom_mod has no method {other}"))),
        }
    }

    fn stats(&self) -> serde_json::Value {
        serde_json::json!({ "params": self.params })
    }
}

chimod_sdk::export_module!(CustomMod);
