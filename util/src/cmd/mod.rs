//! The tools' commands, each in one place: the guide's binaries
//! (`chimaera_start_runtime`, `chimaera_stop_runtime`, `chimaera_status`,
//! `chimaera_compose`) and the subcommands of `chimaera` run the same code.
//!
//! Every command takes its parsed arguments and the name it prints errors
//! under, and returns the process's exit code: 0 done, 1 the runtime could
//! not do it (or is not there), 2 bad configuration or usage.

pub mod cluster;
pub mod compose;
pub mod module;
pub mod monitor;
pub mod pool;
pub mod start;
pub mod status;
pub mod stop;
pub mod upgrade;

use std::time::Duration;

use crate::{RuntimeFlags, parse_seconds};

/// A command that prints: how it reaches the runtime, and `--json`.
#[derive(Debug, Clone, clap::Args)]
pub struct Printing {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub client: ClientFlags,

    /// JSON instead of a table or lines, for scripts.
    #[arg(long)]
    pub json: bool,
}

/// How a command reaches this node's runtime: its port, and how long each
/// call may take.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientFlags {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub runtime: RuntimeFlags,

    /// Seconds each call to the runtime may take (and a starting runtime
    /// may take to become ready).
    #[arg(long, default_value = "10", value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Duration,
}

impl ClientFlags {
    /// Attaches, or gives the exit code (2 bad configuration, 1 no
    /// runtime) and the message.
    pub fn attach(&self) -> Result<chimaera_client::Client, (u8, String)> {
        let port = self.runtime.port().map_err(|e| (2, e.to_string()))?;
        crate::attach(port, Duration::ZERO, self.timeout).map_err(|e| (1, e.to_string()))
    }

    /// Attaches and asks one thing; a failure is printed under `tool` and
    /// becomes the exit code.
    pub fn ask<T>(
        &self,
        tool: &str,
        question: impl FnOnce(&chimaera_client::Client) -> Result<T, chimaera_client::ClientError>,
    ) -> Result<T, std::process::ExitCode> {
        let client = self.attach().map_err(|(code, why)| crate::fail(tool, code, &why))?;
        question(&client).map_err(|e| crate::fail(tool, 1, &e))
    }
}
