//! The runtime a bench starts for itself, and stops however the bench ends.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::Args;

/// The config of the tasks bench: `--sched-workers` scheduler workers, no
/// slow workers. `{port}` is filled in by [`with_runtime`].
pub fn tasks_config(args: &Args) -> String {
    format!(
        "workers:\n  sched_threads: {}\n  slow_threads: 0\nmemory:\n  main_segment_size: 64M\n  client_data_segment_size: 8M\n  runtime_data_segment_size: 8M\nnetworking:\n  port: {{port}}\nlogging:\n  level: warning\n  file: \"\"\n",
        args.sched_workers
    )
}

/// Starts a runtime on a free port with `config`, runs `f` with the port,
/// and stops the runtime.
pub fn with_runtime(config: &str, f: impl FnOnce(u16) -> Result<(), String>) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let runtime: PathBuf = exe.with_file_name("chimaera_start_runtime");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("bench.yaml");
    std::fs::write(&path, config.replace("{port}", &port.to_string())).map_err(|e| e.to_string())?;
    let mut child = Command::new(&runtime)
        .env("CHI_SERVER_CONF", &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", runtime.display()))?;
    let result = wait_ready(&mut child).and_then(|()| f(port));
    stop(child);
    result
}

fn wait_ready(child: &mut Child) -> Result<(), String> {
    use std::io::BufRead;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    match std::io::BufReader::new(stdout).lines().next() {
        Some(Ok(line)) if line.starts_with("chimaera runtime ready") => Ok(()),
        other => Err(format!("runtime did not become ready: {other:?}")),
    }
}

fn stop(mut child: Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    let _ = child.wait();
}
