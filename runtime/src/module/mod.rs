//! Modules: found on the search path, loaded with `libloading`, checked
//! against this runtime's ABI, and kept loaded for the process's life.
//!
//! A module is loaded once however many pools use it. It is never unloaded:
//! a Rust `cdylib` registers thread-local destructors and a global `tracing`
//! dispatcher that `dlclose` would leave dangling, and a module's code is a
//! few hundred kilobytes of mapped text.

mod error;
mod file_check;
mod host_api;
mod loaded;
mod manager;
mod search_path;
mod upgrade;

pub use error::ModuleError;
pub use host_api::HostContext;
pub use loaded::{CreateError, LoadedModule};
pub use manager::ModuleManager;
pub use search_path::{MODULE_PATH_ENV, ModuleSearchPath};
pub use upgrade::upgrade_module;
