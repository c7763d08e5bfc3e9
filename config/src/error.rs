//! Configuration errors: each names the file (or variable), the key path and
//! the value, in one line an operator can act on.

use std::io;
use std::path::PathBuf;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable or flag names a file that cannot be read.
    #[error("{origin} names {path}, which cannot be read: {source}")]
    Unreadable {
        /// `CHI_SERVER_CONF`, `WRP_RUNTIME_CONF` or `--config`.
        origin: String,
        /// The path as given.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A file is named, but this program was built without the `yaml`
    /// feature and cannot read one.
    #[error(
        "{origin} names {path}, but this program was built without YAML support (cargo feature `yaml` of chimaera-config, or of chimaera-client); unset {origin} or attach by port"
    )]
    NoYaml {
        /// `CHI_SERVER_CONF`, `WRP_RUNTIME_CONF` or `--config`.
        origin: String,
        /// The path as given.
        path: PathBuf,
    },
    /// The file is not YAML at all.
    #[error("{file}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A key has a value that is wrong for it.
    #[error("{file}: {key}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// The key path, e.g. `compose[1].pool_id`.
        key: String,
        /// What is wrong, ending with the value that was given.
        message: String,
    },
}

impl ConfigError {
    /// The key path for [`ConfigError::Invalid`], for tests and tools.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}
