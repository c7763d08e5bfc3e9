//! Logging through `tracing`: to stderr always, and appended to
//! `logging.file` at `logging.level`.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LoggingConfig;

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The log file cannot be opened for appending.
    #[error("logging.file: cannot open {path} for appending: {source}")]
    File {
        /// The configured path.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// Another subscriber was installed first (only in tests or embedders).
    #[error("logging was already initialised in this process")]
    AlreadySet,
}

/// Installs the process-wide subscriber described by `config`.
pub fn init(config: &LoggingConfig) -> Result<(), LoggingError> {
    let level = LevelFilter::from_level(config.level.as_tracing());
    let file_layer = match &config.file {
        Some(path) => Some(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_thread_names(true)
                .with_writer(SharedFile(Arc::new(open_log(path)?))),
        ),
        None => None,
    };
    let stderr_layer = tracing_subscriber::fmt::layer()
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .with_thread_names(true);
    tracing_subscriber::registry()
        .with(level)
        .with(stderr_layer)
        .with(file_layer)
        .try_init()
        .map_err(|_| LoggingError::AlreadySet)
}

fn open_log(path: &Path) -> Result<File, LoggingError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| LoggingError::File { path: path.to_owned(), source })
}

/// An append-only log file shared by every thread. Each event is one
/// `write` of a whole line to an `O_APPEND` file, so lines never interleave.
#[derive(Debug, Clone)]
struct SharedFile(Arc<File>);

impl<'a> MakeWriter<'a> for SharedFile {
    type Writer = &'a File;

    fn make_writer(&'a self) -> Self::Writer {
        &self.0
    }
}
