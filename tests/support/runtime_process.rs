//! A real `chimaera_start_runtime` process under test.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use chimaera::shm::{SEGMENTS, SHM_DIR, ShmIdentity};
use rustix::process::{Pid, Signal};
use tempfile::TempDir;

use crate::artifacts;

/// A config small enough to run many runtimes at once. `{port}`, `{log}`
/// and `{dir}` are filled in by [`RuntimeProcess::new`].
pub const SMALL_CONFIG: &str = "\
workers:
  sched_threads: 1
  slow_threads: 1
memory:
  main_segment_size: 8M
  client_data_segment_size: 4M
  runtime_data_segment_size: 4M
networking:
  port: {port}
logging:
  level: debug
  file: {log}
";

/// How long a runtime may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopping runtime may take to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// A port no other test of this run picked: the OS hands out a free one.
pub fn unique_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("bind an ephemeral port").port()
}

/// A runtime to be started: its own temporary directory, config and port.
#[derive(Debug)]
pub struct RuntimeProcess {
    dir: TempDir,
    port: u16,
    config: PathBuf,
    env: Vec<(String, PathBuf)>,
    args: Vec<String>,
    node: Option<std::net::IpAddr>,
}

impl RuntimeProcess {
    /// Writes `template` (with `{port}`, `{log}`, `{dir}` filled in) as the
    /// config, passed through `CHI_SERVER_CONF` unless changed.
    pub fn new(template: &str) -> RuntimeProcess {
        Self::on_port(template, unique_port())
    }

    /// As [`RuntimeProcess::new`], on a given port (several nodes of one
    /// cluster share their port).
    pub fn on_port(template: &str, port: u16) -> RuntimeProcess {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("chimaera.yaml");
        let log = dir.path().join("chimaera.log");
        let text = template
            .replace("{port}", &port.to_string())
            .replace("{log}", &log.display().to_string())
            .replace("{dir}", &dir.path().display().to_string());
        fs::write(&config, text).expect("write config");
        // Each test runtime records its pools in its own directory, never
        // in the user's state directory (a later test on a reused port
        // would find them).
        let env = vec![
            ("CHI_SERVER_CONF".to_owned(), config.clone()),
            ("CHI_STATE_DIR".to_owned(), dir.path().join("state")),
        ];
        RuntimeProcess { dir, port, config, env, args: Vec::new(), node: None }
    }

    /// Runs it as the node with this address (`CHI_NODE_ADDRESS`), which
    /// also names its shared memory.
    pub fn node_address(mut self, address: &str) -> Self {
        self.node = Some(address.parse().expect("an IP address"));
        self.env("CHI_NODE_ADDRESS", address)
    }

    /// Passes the config through `var` instead (or as well, with several calls).
    pub fn config_via(mut self, vars: &[&str]) -> Self {
        self.env.retain(|(var, _)| !chimaera::config::CONFIG_ENV_VARS.contains(&var.as_str()));
        self.env.extend(vars.iter().map(|v| ((*v).to_owned(), self.config.clone())));
        self
    }

    /// Sets an environment variable of the runtime to a path.
    pub fn env(mut self, var: &str, value: impl Into<PathBuf>) -> Self {
        self.env.push((var.to_owned(), value.into()));
        self
    }

    /// Adds a command-line argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// The port the config names.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The runtime's shared memory identity.
    pub fn identity(&self) -> ShmIdentity {
        ShmIdentity::for_current_user(self.port).with_node(self.node)
    }

    /// Removes whatever shared memory of this runtime's identity exists.
    pub fn remove_shared_memory(&self) {
        let identity = self.identity();
        for name in chimaera::shm::all_names(&identity) {
            let _ = rustix::shm::unlink(name.as_str());
        }
    }

    /// The config file.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// The runtime's scratch directory (`{dir}` in the template).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts the process. Only `CHI_SERVER_CONF` / `WRP_RUNTIME_CONF` as
    /// set by this builder reach it, whatever the test's own environment.
    pub fn spawn(self) -> StartedRuntime {
        let bin = artifacts().bin("chimaera_start_runtime");
        let stderr = fs::File::create(self.dir.path().join("stderr.txt")).expect("stderr file");
        let mut cmd = Command::new(&bin);
        cmd.args(&self.args)
            .env_remove("CHI_SERVER_CONF")
            .env_remove("WRP_RUNTIME_CONF")
            .env_remove("CHI_NODE_ADDRESS")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        StartedRuntime { spec: Some(self), child: Some(child), lines, stdout: Vec::new(), ready: None }
    }

    /// Starts the process and waits for its ready line; panics with its
    /// stderr if it does not get there.
    pub fn start(self) -> StartedRuntime {
        let mut started = self.spawn();
        if let Err(why) = started.wait_ready() {
            panic!("runtime did not become ready: {why}");
        }
        started
    }
}

/// A spawned runtime. Dropping it kills the process if it still runs and
/// removes any shared memory of its identity.
#[derive(Debug)]
pub struct StartedRuntime {
    // Taken out only by `kill_keeping_state`, which skips the clean-up.
    spec: Option<RuntimeProcess>,
    child: Option<Child>,
    lines: Receiver<String>,
    stdout: Vec<String>,
    ready: Option<String>,
}

impl StartedRuntime {
    /// Waits for the ready line and returns it, or why it never came.
    pub fn wait_ready(&mut self) -> Result<String, String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stdout.push(line.clone());
                    if line.starts_with("chimaera runtime ready") {
                        self.ready = Some(line.clone());
                        return Ok(line);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.wait_exit();
                    return Err(format!("exited with {status} before ready; stderr:\n{}", self.stderr()));
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("no ready line in {READY_TIMEOUT:?}; stderr:\n{}", self.stderr()));
                }
            }
        }
    }

    /// The ready line, once [`StartedRuntime::wait_ready`] saw it.
    pub fn wait_ready_line(&self) -> &str {
        self.ready.as_deref().expect("runtime is ready")
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(self.spec().dir.path().join("stderr.txt")).unwrap_or_default()
    }

    /// The log file named by `{log}`.
    pub fn log(&self) -> String {
        fs::read_to_string(self.spec().dir.path().join("chimaera.log")).unwrap_or_default()
    }

    /// The spec this runtime was started from.
    pub fn spec(&self) -> &RuntimeProcess {
        self.spec.as_ref().expect("spec is kept until drop")
    }

    /// SIGKILLs the runtime and hands back its spec with its shared memory
    /// left as the dead process left it, to start it again on the same port.
    /// A runtime that has exited already is only handed back.
    pub fn kill_keeping_state(mut self) -> RuntimeProcess {
        let exited = self.child.as_mut().expect("still owned").try_wait().expect("try_wait").is_some();
        if !exited {
            self.signal(Signal::KILL);
        }
        self.wait_exit();
        self.spec.take().expect("spec")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Stops the process with SIGSTOP and returns once every one of its
    /// threads is stopped (a signal is delivered asynchronously: a worker
    /// may otherwise still run a task submitted right after).
    pub fn freeze(&self) {
        self.signal(Signal::STOP);
        let tasks = format!("/proc/{}/task", self.pid());
        crate::poll_until(
            "every thread of the runtime stopped",
            Duration::from_secs(10),
            Duration::from_millis(1),
            || {
                fs::read_dir(&tasks).is_ok_and(|threads| {
                    threads.filter_map(Result::ok).all(|t| {
                        let stat = fs::read_to_string(t.path().join("stat")).unwrap_or_default();
                        let state = stat.rfind(')').and_then(|end| stat[end + 1..].split_whitespace().next());
                        matches!(state, Some("T" | "t"))
                    })
                })
            },
        );
    }

    /// Sends a signal.
    pub fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(self.pid() as i32).expect("nonzero pid");
        rustix::process::kill_process(pid, signal).expect("send signal");
    }

    /// Stops the runtime cleanly (SIGTERM, exit 0) and hands back its spec
    /// with its directory, to start it again on the same files and port.
    pub fn stop_keeping_dir(mut self) -> RuntimeProcess {
        self.signal(Signal::TERM);
        let status = self.wait_exit();
        assert!(status.success(), "runtime did not stop cleanly: {status}; stderr:\n{}", self.stderr());
        self.spec.take().expect("spec")
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        self.signal(Signal::TERM);
        self.wait_exit()
    }

    /// Waits for the process to exit (bounded); kills it past the bound.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("still owned");
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                panic!("runtime did not exit within {EXIT_TIMEOUT:?}; stderr:\n{}", self.stderr());
            }
            // Polling for exit, not for readiness: there is no exit event to wait on without a reaper thread.
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sizes of this runtime's segments that exist in /dev/shm.
    pub fn segment_sizes(&self) -> Vec<Option<u64>> {
        segment_sizes(&self.spec().identity())
    }
}

/// Sizes of the segments of `identity` that exist in /dev/shm, in order.
pub fn segment_sizes(identity: &ShmIdentity) -> Vec<Option<u64>> {
    SEGMENTS
        .iter()
        .map(|seg| fs::metadata(format!("{SHM_DIR}{}", identity.segment_name(seg))).ok().map(|m| m.len()))
        .collect()
}

impl Drop for StartedRuntime {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take()
            && child.try_wait().ok().flatten().is_none()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(spec) = &self.spec {
            spec.remove_shared_memory();
        }
    }
}
