//! The methods and types of `chimaera_custom_mod`, in a crate of their own:
//! a client links this, never the module library (every module library
//! exports the same plugin symbol, so two in one binary would clash).

use std::collections::BTreeMap;

use chimod_sdk::bulk::Bulk;
use chimod_sdk::methods::FIRST_MODULE_METHOD;
use chimod_sdk::{Method, PoolId, Route, Size};
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
/// Sends `copies` subtasks to another pool, waits for all, and returns
/// their outputs in order.
pub const RELAY: Method<Relay, Vec<Vec<u8>>> = Method::new(FIRST_MODULE_METHOD + 2);
/// Counts a tick and returns the count: a method to run periodically.
pub const TICK: Method<(), u64> = Method::new(FIRST_MODULE_METHOD + 3);

/// Sums the bytes of a client's bulk buffer (read where it lies).
pub const SUM: Method<Bulk, u64> = Method::new(FIRST_MODULE_METHOD + 4);
/// Returns a new `runtime_data` buffer of `len` bytes, byte `i` being
/// `seed + i` (wrapping); the client reads it and frees it.
pub const FILL: Method<(u64, u8), Bulk> = Method::new(FIRST_MODULE_METHOD + 5);

/// The byte [`FILL`] writes at `index` for `seed`.
pub fn fill_byte(seed: u8, index: usize) -> u8 {
    seed.wrapping_add(index as u8)
}

/// What [`RELAY`] sends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Relay {
    /// Target pool.
    pub pool_id: PoolId,
    /// Target method.
    pub method: u32,
    /// Encoded input for the target method.
    pub input: Vec<u8>,
    /// Whether the target method is long (runs on slow workers).
    pub long: bool,
    /// How many identical subtasks to send at once.
    pub copies: u32,
    /// Where in the cluster the subtasks run.
    pub route: Route,
}
