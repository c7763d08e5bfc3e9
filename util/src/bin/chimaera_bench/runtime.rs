//! The runtimes a bench starts for itself, and stops however the bench ends.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::Args;

/// The config of the tasks bench: `--sched-workers` scheduler workers and
/// no slow workers, or with `--default-workers` the built-in counts.
/// `{port}` is filled in when started.
pub fn tasks_config(args: &Args) -> String {
    let workers = if args.default_workers {
        String::new()
    } else {
        format!("workers:\n  sched_threads: {}\n  slow_threads: 0\n", args.sched_workers)
    };
    format!(
        "{workers}memory:\n  main_segment_size: 64M\n  client_data_segment_size: 8M\n  runtime_data_segment_size: 8M\nnetworking:\n  port: {{port}}\nlogging:\n  level: warning\n  file: \"\"\n",
    )
}

/// A free TCP port on this machine.
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// A started runtime; stopped (SIGTERM) when dropped.
pub struct Started {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Started {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let _ = self.child.wait();
    }
}

/// Starts a runtime with `config` (`{port}` filled in) as the node with
/// `node_address`, if given, and waits for its ready line.
pub fn start(config: &str, port: u16, node_address: Option<&str>) -> Result<Started, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let runtime: PathBuf = exe.with_file_name("chimaera_start_runtime");
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("bench.yaml");
    std::fs::write(&path, config.replace("{port}", &port.to_string())).map_err(|e| e.to_string())?;
    let mut command = Command::new(&runtime);
    command
        .env("CHI_SERVER_CONF", &path)
        // A benchmark's pools are its own: nothing recorded to come back.
        .env("CHI_STATE_DIR", "")
        .env_remove("CHI_NODE_ADDRESS")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(address) = node_address {
        command.env("CHI_NODE_ADDRESS", address);
    }
    let mut child = command.spawn().map_err(|e| format!("cannot start {}: {e}", runtime.display()))?;
    let ready = wait_ready(&mut child);
    let started = Started { child, _dir: dir };
    ready.map(|()| started)
}

/// Starts a runtime on a free port with `config`, runs `f` with the port,
/// and stops the runtime.
pub fn with_runtime(config: &str, f: impl FnOnce(u16) -> Result<(), String>) -> Result<(), String> {
    let port = free_port()?;
    let _runtime = start(config, port, None)?;
    f(port)
}

fn wait_ready(child: &mut Child) -> Result<(), String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    match std::io::BufReader::new(stdout).lines().next() {
        Some(Ok(line)) if line.starts_with("chimaera runtime ready") => Ok(()),
        other => Err(format!("runtime did not become ready: {other:?}")),
    }
}
