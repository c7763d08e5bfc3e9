//! Logging through `tracing`: to stderr always, and appended to
//! `logging.file` at `logging.level`.
//!
//! The guide's default file, `/tmp/chimaera.log`, is shared by every
//! runtime of the machine, so every line of the file starts with the
//! runtime it came from (its shared memory identity and process id), and
//! the file is readable by its owner only (and `memory.shm_group`, when
//! the runtime opens its memory to one): task errors and pool parameters
//! are not for every local user.

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

/// Installs the process-wide subscriber described by `config`. Every
/// line of the file starts with `label` (which runtime wrote it); `group`
/// may read the file too.
pub fn init(config: &LoggingConfig, label: &str, group: Option<u32>) -> Result<(), LoggingError> {
    let level = LevelFilter::from_level(config.level.as_tracing());
    let file_layer = match &config.file {
        Some(path) => {
            Some(tracing_subscriber::fmt::layer().with_ansi(false).with_thread_names(true).with_writer(
                SharedFile {
                    file: Arc::new(open_log(path, group)?),
                    prefix: Arc::from(format!("[{label}] ").into_bytes()),
                },
            ))
        }
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
        .map_err(|_| LoggingError::AlreadySet)?;
    // A panic of the runtime's own code is one error line of the log (and
    // of stderr), not stderr alone. Modules log theirs through the SDK.
    std::panic::set_hook(Box::new(|info| tracing::error!("{}", chimod_sdk::panic_line(info))));
    Ok(())
}

fn open_log(path: &Path, group: Option<u32>) -> Result<File, LoggingError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let error = |source| LoggingError::File { path: path.to_owned(), source };
    let mode = if group.is_some() { 0o640 } else { 0o600 };
    let file = OpenOptions::new().create(true).append(true).mode(mode).open(path).map_err(error)?;
    // A file made before (by an older runtime, or with a looser umask) is
    // narrowed too when it is ours; another user's file is theirs to set.
    let meta = file.metadata().map_err(error)?;
    if meta.uid() == rustix::process::getuid().as_raw() {
        if let Some(gid) = group {
            rustix::fs::fchown(&file, None, Some(rustix::process::Gid::from_raw(gid)))
                .map_err(|e| error(e.into()))?;
        }
        if meta.mode() & 0o777 != mode {
            rustix::fs::fchmod(&file, rustix::fs::Mode::from_raw_mode(mode)).map_err(|e| error(e.into()))?;
        }
    }
    Ok(file)
}

/// An append-only log file shared by every thread. Each event is one
/// `write` of a whole line, its prefix included, to an `O_APPEND` file, so
/// lines never interleave, even between runtimes sharing the file.
#[derive(Debug, Clone)]
struct SharedFile {
    file: Arc<File>,
    prefix: Arc<[u8]>,
}

/// One line being written: the prefix and the event, in one `write`.
#[derive(Debug)]
struct PrefixedLine<'a> {
    file: &'a File,
    prefix: &'a [u8],
}

impl io::Write for PrefixedLine<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut line = Vec::with_capacity(self.prefix.len() + buf.len());
        line.extend_from_slice(self.prefix);
        line.extend_from_slice(buf);
        (&*self.file).write_all(&line)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for SharedFile {
    type Writer = PrefixedLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        PrefixedLine { file: &self.file, prefix: &self.prefix }
    }
}
