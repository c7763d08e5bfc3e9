//! `chimaera_bench`: task round-trip latency and throughput through shared
//! memory, against a runtime it starts itself (or one already running).

use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use chimaera::client::{Client, TaskSpec};
use chimod_sdk::PoolId;
use chimod_sdk::admin::PING;
use clap::Parser;

/// Measure no-op task latency and throughput between client threads and a
/// runtime over shared memory. The no-op is the admin pool's `ping`, which
/// crosses the task queue and the module boundary and does nothing else.
///
/// Unless --port names a running runtime, the bench starts
/// chimaera_start_runtime (next to this binary) with --sched-workers
/// scheduler workers and no slow workers, and stops it afterwards.
///
/// Example: chimaera_bench --tasks 200000 --threads 1,2
#[derive(Debug, Parser)]
#[command(version, about, long_about, verbatim_doc_comment)]
struct Args {
    /// Tasks per measurement.
    #[arg(long, default_value_t = 200_000)]
    tasks: u64,
    /// Client thread counts to measure synchronous throughput with.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<u32>,
    /// Tasks in flight per thread in the pipelined (asynchronous) mode.
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Scheduler workers of the runtime the bench starts.
    #[arg(long, default_value_t = 1)]
    sched_workers: u32,
    /// Use the runtime already running on this port.
    #[arg(long)]
    port: Option<u16>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut owned = None;
    let port = match args.port {
        Some(port) => port,
        None => match start_runtime(&args) {
            Ok((child, port, _dir)) => {
                owned = Some((child, _dir));
                port
            }
            Err(e) => {
                eprintln!("chimaera_bench: {e}");
                return ExitCode::from(1);
            }
        },
    };
    let result = run(&args, port);
    if let Some((mut child, _dir)) = owned {
        if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let _ = child.wait();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chimaera_bench: {e}");
            ExitCode::from(1)
        }
    }
}

fn start_runtime(args: &Args) -> Result<(Child, u16, tempfile::TempDir), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let runtime: PathBuf = exe.with_file_name("chimaera_start_runtime");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = dir.path().join("bench.yaml");
    std::fs::write(
        &config,
        format!(
            "workers:\n  sched_threads: {}\n  slow_threads: 0\nmemory:\n  main_segment_size: 64M\n  client_data_segment_size: 8M\n  runtime_data_segment_size: 8M\nnetworking:\n  port: {port}\nlogging:\n  level: warning\n  file: \"\"\n",
            args.sched_workers
        ),
    )
    .map_err(|e| e.to_string())?;
    let mut child = Command::new(&runtime)
        .env("CHI_SERVER_CONF", &config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", runtime.display()))?;
    use std::io::BufRead;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    match lines.next() {
        Some(Ok(line)) if line.starts_with("chimaera runtime ready") => Ok((child, port, dir)),
        other => Err(format!("runtime did not become ready: {other:?}")),
    }
}

fn run(args: &Args, port: u16) -> Result<(), String> {
    let client = Client::attach_port(port, Duration::from_secs(10)).map_err(|e| e.to_string())?;
    let input = PING.encode_input(&()).map_err(|e| e.to_string())?;
    let stats = client.admin().stats().map_err(|e| e.to_string())?;
    println!(
        "chimaera_bench: runtime on port {port}, {} workers; {} tasks per figure; {} cores",
        stats.workers.len(),
        args.tasks,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    // Warm up.
    for _ in 0..10_000 {
        client.call(PoolId::ADMIN, PING.id, &input).map_err(|e| e.to_string())?;
    }

    let mut samples = Vec::with_capacity(args.tasks as usize);
    for _ in 0..args.tasks {
        let t = Instant::now();
        client.call(PoolId::ADMIN, PING.id, &input).map_err(|e| e.to_string())?;
        samples.push(t.elapsed());
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "round trip (1 client thread, sync): p50 {:.2} us, p99 {:.2} us, p99.9 {:.2} us",
        us(pct(0.50)),
        us(pct(0.99)),
        us(pct(0.999))
    );

    for &threads in &args.threads {
        let rate = throughput(port, threads, args.tasks, 1)?;
        println!("throughput sync, {threads} client thread(s): {:.0} tasks/s", rate);
    }
    for &threads in &args.threads {
        let rate = throughput(port, threads, args.tasks, args.window)?;
        println!(
            "throughput pipelined (window {}), {threads} client thread(s): {:.0} tasks/s",
            args.window, rate
        );
    }
    println!(
        "rerun: chimaera_bench --tasks {} --threads {:?} --window {}",
        args.tasks, args.threads, args.window
    );
    Ok(())
}

fn throughput(port: u16, threads: u32, tasks: u64, window: usize) -> Result<f64, String> {
    let per_thread = tasks / u64::from(threads);
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || -> Result<(), String> {
                let client = Client::attach_port(port, Duration::from_secs(10)).map_err(|e| e.to_string())?;
                let input = PING.encode_input(&()).map_err(|e| e.to_string())?;
                let spec = TaskSpec::new(PoolId::ADMIN, PING.id, &input);
                let mut inflight = std::collections::VecDeque::with_capacity(window);
                for _ in 0..per_thread {
                    if inflight.len() == window {
                        let task: chimaera::client::PendingTask<'_> =
                            inflight.pop_front().expect("non-empty");
                        task.wait(None).map_err(|e| e.to_string())?;
                    }
                    inflight.push_back(client.submit(&spec).map_err(|e| e.to_string())?);
                }
                for task in inflight {
                    task.wait(None).map_err(|e| e.to_string())?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "client thread panicked".to_owned())??;
    }
    Ok((per_thread * u64::from(threads)) as f64 / started.elapsed().as_secs_f64())
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
