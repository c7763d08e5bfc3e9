//! # chimod-sdk
//!
//! The one crate a Chimaera module ("ChiMod") author depends on. It defines
//! every type that crosses the boundary between the runtime and a module, so
//! the runtime never declares a type that a module must declare again.
//!
//! A module is a `cdylib` crate with one [`ChiMod`] implementation and one
//! [`export_module!`] line:
//!
//! ```
//! use chimod_sdk::{ChiMod, Method, ModError, PoolInfo, methods::FIRST_MODULE_METHOD};
//!
//! /// The module's own compose keys.
//! #[derive(serde::Deserialize)]
//! struct Params { custom_param1: String }
//!
//! struct Custom { param: String }
//!
//! /// Returns the configured parameter, shared with clients.
//! const GET_PARAM: Method<(), String> = Method::new(FIRST_MODULE_METHOD);
//!
//! impl ChiMod for Custom {
//!     type Params = Params;
//!     fn create(pool: &PoolInfo, params: Params) -> Result<Self, ModError> {
//!         chimod_sdk::tracing::info!("creating {pool}");
//!         Ok(Custom { param: params.custom_param1 })
//!     }
//!     fn call(&self, method: u32, input: &[u8]) -> Result<Vec<u8>, ModError> {
//!         match method {
//!             m if m == GET_PARAM.id => GET_PARAM.handle(input, |()| Ok(self.param.clone())),
//!             other => Err(ModError::new(format!("unknown method {other}"))),
//!         }
//!     }
//! }
//!
//! chimod_sdk::export_module!(Custom);
//! ```
//!
//! The value types that configuration, compose entries and tasks share are
//! here too: [`Size`], [`PoolId`] and [`PoolQuery`].

pub mod abi;
pub mod admin;
pub mod bulk;
pub mod codec;
mod error;
mod export;
pub mod host;
mod logging;
pub use logging::panic_line;
mod module;
mod params;
mod pool_id;
mod pool_query;
mod route;
mod size;

pub use error::ModError;
pub use module::{ChiMod, Method, PoolInfo, methods};
pub use params::{NoParams, ParamsError, decode_params};
pub use pool_id::{PoolId, PoolIdError};
pub use pool_query::{PoolQuery, PoolQueryError};
pub use route::{NodeOutcome, Route};
pub use size::{Size, SizeError};
/// The `tracing` a module logs with; its events reach the runtime's log.
pub use tracing;

#[doc(hidden)]
pub mod __private {
    pub use crate::export::{header, vtable};
    pub use crate::logging::set_module_name;
}
