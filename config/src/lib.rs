//! Configuration, loaded exactly as the deployment guide describes.
//!
//! [`ConfigSource`] decides which file is read (flag, `CHI_SERVER_CONF`,
//! `WRP_RUNTIME_CONF`, defaults). [`parse_config`] turns the YAML into the
//! typed [`RuntimeConfig`] in three steps: serde reads the file into
//! all-optional structs (`file.rs`), so precedence between the places a key
//! may appear can be applied; missing keys take the built-in defaults
//! (`model.rs`); and values are validated with errors that name the file, the
//! key path and the value (`error.rs`). Unknown keys are warnings with a
//! "did you mean" (`keys.rs`). Compose entries keep every module-specific key
//! verbatim for the module (`compose.rs`).
//!
//! Reading YAML is the `yaml` feature (on by default). Without it the crate
//! is the typed model, its defaults and the choice of file, for programs
//! such as a thin client that attach by port: a file named by a flag or a
//! variable is then an error that says so, never silently ignored.

#[cfg(feature = "yaml")]
mod bounds;
mod cluster_key;
mod compose;
mod enums;
mod error;
#[cfg(feature = "yaml")]
mod file;
#[cfg(feature = "yaml")]
mod keys;
mod model;
#[cfg(feature = "yaml")]
mod parse;
#[cfg(feature = "yaml")]
mod seconds;
mod small_file;
mod source;
mod state_dir;
mod summary;

pub use cluster_key::{CLUSTER_KEY_ENV, MIN_CLUSTER_KEY, read_cluster_key};
pub use compose::{COMMON_KEYS, ComposeEntry};
pub use enums::{LaneMapPolicy, LogLevel};
pub use error::ConfigError;
#[cfg(feature = "yaml")]
pub use keys::known_keys;
pub use model::{
    LoggingConfig, MemoryConfig, NetworkingConfig, Parsed, RuntimeConfig, RuntimeSection, WorkersConfig,
};
#[cfg(feature = "yaml")]
pub use parse::parse_config;
pub use small_file::{MAX_CONFIG_FILE, MAX_KEY_FILE, read_small_file, read_small_text};
pub use source::{CONFIG_ENV_VARS, ConfigSource};
pub use state_dir::{STATE_DIR_ENV, StateDir};
