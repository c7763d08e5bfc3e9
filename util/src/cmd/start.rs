//! Starting this node's runtime: in the foreground (`chimaera_start_runtime`,
//! `chimaera runtime start`), or in the background once it is ready
//! (`chimaera runtime start --background`, `chimaera runtime restart`).

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use chimaera::server::{Runtime, StartError, StartOptions};
use tracing::{info, warn};

use crate::{ConfigFlag, fail, say};

/// How to start the runtime.
#[derive(Debug, Clone, clap::Args)]
pub struct StartArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub config: ConfigFlag,

    /// Refuse to start if any compose entry fails (by default a failing
    /// entry is logged and the others are still created).
    #[arg(long)]
    pub strict: bool,

    /// This node's address in the hostfile, for several nodes on one
    /// machine (default: $CHI_NODE_ADDRESS, else found among this machine's
    /// addresses). It also names the node's shared memory; clients of this
    /// node set CHI_NODE_ADDRESS to the same address.
    #[arg(long, value_name = "IP")]
    pub node_address: Option<String>,
}

impl StartArgs {
    /// The same flags as command-line words, for a runtime started in the
    /// background.
    fn words(&self) -> Vec<String> {
        let mut words = Vec::new();
        if let Some(config) = &self.config.config {
            words.extend(["--config".to_owned(), config.display().to_string()]);
        }
        if self.strict {
            words.push("--strict".to_owned());
        }
        if let Some(address) = &self.node_address {
            words.extend(["--node-address".to_owned(), address.clone()]);
        }
        words
    }
}

/// Runs the runtime in this process until it stops.
pub fn run_foreground(args: &StartArgs, tool: &str) -> ExitCode {
    let source = args.config.source();
    let parsed = match source.load() {
        Ok(parsed) => parsed,
        Err(e) => return fail(tool, 2, &e),
    };
    // The identity the runtime's memory will have (its node address as
    // `--node-address` or CHI_NODE_ADDRESS names it), to tell its log
    // lines from those of other runtimes in a shared file.
    let mut identity = chimaera::shm::ShmIdentity::for_current_user(parsed.config.networking.port);
    if let Some(address) = args.node_address.as_deref().and_then(|a| a.trim().parse().ok()) {
        identity = identity.with_node(Some(address));
    }
    let label = format!("{identity} pid {}", std::process::id());
    if let Err(e) = chimaera::logging::init(&parsed.config.logging, &label, parsed.config.memory.shm_group) {
        return fail(tool, 1, &e);
    }
    info!("loaded {source}");
    for warning in &parsed.warnings {
        warn!("{warning}");
    }
    for line in parsed.config.summary() {
        info!("{line}");
    }
    let options = StartOptions { strict: args.strict, node_address: args.node_address.clone() };
    let runtime = match Runtime::start(parsed.config, &options) {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("{e}");
            // A bad hostfile, node address or state directory is a
            // configuration error.
            let code = if matches!(e, StartError::Membership(_) | StartError::ConfigFile(_)) { 2 } else { 1 };
            return fail(tool, code, &e);
        }
    };
    let ready = runtime.ready_line();
    info!("{ready}");
    say!("{ready}");
    runtime.run();
    ExitCode::SUCCESS
}

/// A runtime started in the background.
#[derive(Debug, Clone)]
pub struct Started {
    /// Its ready line.
    pub ready: String,
    /// Its process id.
    pub pid: u32,
}

impl Started {
    /// Prints it: its ready line and how to stop it, or one JSON object
    /// with `extra` fields added.
    pub fn print(&self, json: bool, extra: serde_json::Value) {
        if json {
            let mut v = serde_json::json!({ "ready": self.ready, "pid": self.pid });
            if let (Some(v), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
                v.extend(extra);
            }
            say!("{v}");
        } else {
            say!("{}", self.ready);
            say!("runtime pid {} serves in the background; `chimaera runtime stop` stops it", self.pid);
        }
    }
}

/// Starts the runtime as a process of its own (`chimaera runtime start`
/// run by `exe`), in a process group of its own so that the terminal's
/// Ctrl-C does not reach it, and returns once it printed its ready line,
/// or with its error printed and its exit code if it could not start.
/// After that its log goes to `logging.file` only.
pub fn start_background(
    args: &StartArgs,
    exe: &Path,
    wait: Duration,
    tool: &str,
) -> Result<Started, ExitCode> {
    use std::os::unix::process::CommandExt as _;
    let mut child = match Command::new(exe)
        .args(["runtime", "start"])
        .args(args.words())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return Err(fail(tool, 1, &format!("cannot run {}: {e}", exe.display()))),
    };
    let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(fail(tool, 1, &"the runtime's output is not piped"));
    };
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let (lines, ready) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("chimaera runtime ready") {
                let _ = lines.send(line);
                return;
            }
        }
    });
    match ready.recv_timeout(wait) {
        Ok(line) => Ok(Started { ready: line, pid: child.id() }),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(fail(
            tool,
            1,
            &format!(
                "the runtime (pid {}) is not ready after {wait:?}; it is still starting (see its log file)",
                child.id()
            ),
        )),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            let status = child.wait().ok();
            let text = errors.join().unwrap_or_default();
            // Its own one-line error, without the prefix of the inner tool.
            let why = text
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("chimaera: ").or_else(|| l.strip_prefix(&format!("{tool}: "))))
                .map_or_else(|| text.trim().to_owned(), str::to_owned);
            let code = status.and_then(|s| s.code()).and_then(|c| u8::try_from(c).ok()).unwrap_or(1).max(1);
            Err(fail(tool, code, &why))
        }
    }
}
