//! What the command-line tools share: the `--config` flag and the one-line
//! error exit.

use std::fmt::Display;
use std::path::PathBuf;
use std::process::ExitCode;

use chimaera::config::ConfigSource;

/// The `--config PATH` flag, with the precedence every tool applies.
#[derive(Debug, clap::Args)]
pub struct ConfigFlag {
    /// Configuration file; overrides CHI_SERVER_CONF and WRP_RUNTIME_CONF.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

impl ConfigFlag {
    /// Where the configuration comes from: this flag, then the variables.
    pub fn source(&self) -> ConfigSource {
        ConfigSource::from_env(self.config.as_deref())
    }

    /// The runtime's port: `port` if given, else the configuration's.
    pub fn port(&self, port: Option<u16>) -> Result<u16, chimaera::config::ConfigError> {
        match port {
            Some(port) => Ok(port),
            None => Ok(self.source().load()?.config.networking.port),
        }
    }
}

/// How a tool finds this node's running runtime: the configuration's port
/// (`--config`, then the variables), or `--port`.
#[derive(Debug, clap::Args)]
pub struct RuntimeFlags {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub config: ConfigFlag,

    /// The runtime's port; overrides the configuration.
    #[arg(long)]
    pub port: Option<u16>,
}

impl RuntimeFlags {
    /// The runtime's port.
    pub fn port(&self) -> Result<u16, chimaera::config::ConfigError> {
        self.config.port(self.port)
    }
}

/// Prints `<tool>: <error>` on stderr and returns exit code `code`.
pub fn fail(tool: &str, code: u8, error: &dyn Display) -> ExitCode {
    eprintln!("{tool}: {error}");
    ExitCode::from(code)
}
