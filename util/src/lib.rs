//! What the command-line tools share: their commands (`cmd`), the
//! `--config` flag, tables, JSON and the one-line error exit.

pub mod cmd;

use std::fmt::Display;
use std::path::PathBuf;
use std::process::ExitCode;

use chimaera::config::ConfigSource;

/// The `--config PATH` flag, with the precedence every tool applies.
#[derive(Debug, Clone, clap::Args)]
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
#[derive(Debug, Clone, clap::Args)]
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

/// A value as one line of JSON (what every `--json` prints).
pub fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// Rows as left-aligned columns two spaces apart; the last column is not
/// padded. The first row is the header.
///
/// ```
/// let rows = vec![vec!["ID".to_owned(), "NAME".to_owned()], vec!["300.0".to_owned(), "ram".to_owned()]];
/// assert_eq!(chimaera_util::table(&rows), ["ID     NAME", "300.0  ram"]);
/// ```
pub fn table(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
                }
            }
            line
        })
        .collect()
}

/// Prints `<tool>: warning: <text>` on stderr (a closed stderr is ignored).
pub fn warn_line(tool: &str, text: &dyn Display) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{tool}: warning: {text}");
}

/// Prints `<tool>: <error>` on stderr and returns exit code `code`.
pub fn fail(tool: &str, code: u8, error: &dyn Display) -> ExitCode {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{tool}: {error}");
    ExitCode::from(code)
}

/// Attaches to this node's runtime on `port` as every tool does: with
/// `wait` zero, a runtime that is not running is reported at once (one
/// that is starting is waited for up to `timeout`); else one that has not
/// started yet is waited for too, up to `wait` in all. Every later call is
/// bounded by `timeout`.
pub fn attach(
    port: u16,
    wait: std::time::Duration,
    timeout: std::time::Duration,
) -> Result<chimaera_client::Client, chimaera_client::ClientError> {
    let client = if wait.is_zero() {
        chimaera_client::Client::attach_port(port, timeout)
    } else {
        chimaera_client::Client::attach_port_waiting(port, wait)
    }?;
    client.set_call_timeout(Some(timeout));
    Ok(client)
}

/// The longest wait or timeout a tool accepts, in seconds (a week): more
/// than any deployment waits, and far from the overflow of a clock.
pub const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// Parses a `--timeout` / `--wait` value: a finite number of seconds from
/// 0 to [`MAX_SECONDS`], fractions allowed. Anything else is a usage error
/// (exit 2) that names the flag, never a panic.
///
/// ```
/// use chimaera_util::parse_seconds;
/// assert_eq!(parse_seconds("1.5").unwrap(), std::time::Duration::from_millis(1500));
/// assert!(parse_seconds("inf").is_err());
/// assert!(parse_seconds("1e30").is_err());
/// assert!(parse_seconds("-1").is_err());
/// ```
pub fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    let range = || format!("a number of seconds from 0 to {MAX_SECONDS} (one week)");
    let value: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not {}", range()))?;
    if !value.is_finite() || !(0.0..=MAX_SECONDS).contains(&value) {
        return Err(format!("`{text}` is out of range: give {}", range()));
    }
    Ok(std::time::Duration::from_secs_f64(value))
}

/// Prints one line on stdout, as `println!` does, but a closed stdout
/// (`chimaera_compose ... | head -1`) is no panic: the tool goes on with
/// its work and prints nothing more.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
