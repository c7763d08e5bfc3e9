//! `chimaera_bench`: figures for the runtime against a runtime it starts
//! itself (or one already running): no-op task round trip and throughput
//! through shared memory (`--mode tasks`), and block device throughput and
//! latency beside the machine's own limits (`--mode bdev`), and a remote
//! client over TCP beside a raw TCP ping-pong (`--mode tcp-client`).

mod bdev;
mod clients;
mod cluster;
mod contend;
mod remote;
mod runtime;
mod swim;
mod tasks;
mod tcp_client;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Measure the runtime.
///
/// tasks: no-op task latency and throughput between client threads and a
/// runtime over shared memory. The no-op is the admin pool's `ping`, which
/// crosses the task queue and the module boundary and does nothing else.
/// With --contend N the same figures are measured again beside N CPU-bound
/// processes the bench starts (and stops), and printed side by side.
///
/// bdev: sequential and random writes and reads of 4K, 64K and 1M on a RAM
/// and a file chimaera_bdev device, at queue depth 1 and --io-depth, beside
/// memcpy bandwidth (RAM) and fio with the same block size, depth and
/// direct I/O on the same file system (file).
///
/// remote: a task round trip and pipelined throughput between two nodes on
/// loopback (127.0.0.1 and 127.0.0.2), beside a raw TCP ping-pong and a raw
/// ZeroMQ request/reply of the same frame size.
///
/// cluster: --cluster-nodes real runtimes on 127.0.0.x of this machine
/// (one hostfile, one worker each): time until all are up, idle CPU and
/// memory, a broadcast pool creation, and time until every node sees a
/// SIGKILLed node down.
///
/// swim: the cluster's failure detector (SWIM) driven by a simulated
/// network and clock, for --sim-nodes sizes: messages per node per
/// protocol period, how long until every node sees a killed node dead, and
/// false verdicts over --sim-minutes with --sim-loss message loss.
///
/// clients: the admin ping's round trip (p50) and 1 MiB bdev writes from
/// the Rust client, and from the C and Python clients' figure programs when
/// --c-figures and --python-figures name them (scripts/bench_clients.sh
/// builds and passes both), against one runtime in one run.
///
/// Unless --port names a running runtime, the bench starts
/// chimaera_start_runtime (next to this binary) and stops it afterwards.
///
/// Examples:
///   chimaera_bench --tasks 200000 --threads 1,2
///   chimaera_bench --tasks 100000 --threads 1 --window 64 --contend 1
///   chimaera_bench --default-workers --contend 1
///   chimaera_bench --mode bdev --bdev-dir /mnt/nvme --io-depth 16
///   scripts/bench_clients.sh
#[derive(Debug, Parser)]
#[command(version, about, long_about, verbatim_doc_comment)]
pub struct Args {
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Mode::Tasks)]
    mode: Mode,
    /// Tasks per measurement (tasks mode).
    #[arg(long, default_value_t = 200_000)]
    tasks: u64,
    /// Client thread counts to measure synchronous throughput with (tasks mode).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<u32>,
    /// Tasks in flight per client thread in the pipelined figures (tasks and
    /// remote modes); several, comma-separated, give one figure each.
    #[arg(long, value_delimiter = ',', default_value = "64", value_parser = clap::value_parser!(u32).range(1..))]
    window: Vec<u32>,
    /// Scheduler workers of the runtime the bench starts (no slow workers).
    #[arg(long, default_value_t = 1)]
    sched_workers: u32,
    /// Start the runtime with the built-in worker counts (the guide's
    /// defaults: 4 scheduler and 4 slow workers) instead.
    #[arg(long, conflicts_with_all = ["sched_workers", "port"])]
    default_workers: bool,
    /// Also measure beside this many CPU-bound processes (tasks mode): the
    /// figures of a node whose cores the application is using.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=1024))]
    contend: u32,
    /// Directory of the file device (bdev mode); its file system is measured.
    #[arg(long, default_value = ".")]
    bdev_dir: PathBuf,
    /// Capacity of each device (bdev mode).
    #[arg(long, default_value = "1G")]
    bdev_size: chimod_sdk::Size,
    /// The deeper queue depth measured (bdev mode); also the device's io_depth.
    #[arg(long, default_value_t = 16)]
    io_depth: u32,
    /// Devices to measure (bdev mode): ram, file or both.
    #[arg(long, value_delimiter = ',', default_value = "ram,file")]
    devices: Vec<String>,
    /// Block sizes to measure (bdev mode).
    #[arg(long, value_delimiter = ',', default_value = "4K,64K,1M")]
    block_sizes: Vec<chimod_sdk::Size>,
    /// Measurements per figure; the median is shown (tasks mode: every
    /// figure, with the range; bdev mode: ours and the limit alternating;
    /// remote mode: pipelined throughput, with the range).
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// Seconds per figure (bdev mode).
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Use the runtime already running on this port (tasks mode).
    #[arg(long)]
    port: Option<u16>,
    /// The C client's figure program (clients mode).
    #[arg(long)]
    c_figures: Option<PathBuf>,
    /// The Python client's figure script (clients mode).
    #[arg(long)]
    python_figures: Option<PathBuf>,
    /// The Python interpreter that runs --python-figures, with the
    /// `chimaera` package installed (clients mode).
    #[arg(long, default_value = "python3")]
    python: PathBuf,
    /// Cluster sizes to start as real runtimes (cluster mode).
    #[arg(long, value_delimiter = ',', default_value = "8,64")]
    cluster_nodes: Vec<usize>,
    /// Cluster sizes to simulate (swim mode).
    #[arg(long, value_delimiter = ',', default_value = "1024,8192")]
    sim_nodes: Vec<usize>,
    /// Probability that a simulated message is lost (swim mode).
    #[arg(long, default_value_t = 0.01)]
    sim_loss: f64,
    /// Simulated minutes of the long run with loss (swim mode).
    #[arg(long, default_value_t = 10.0)]
    sim_minutes: f64,
    /// The simulated runtime.heartbeat_interval in milliseconds (swim mode).
    #[arg(long, default_value_t = 1000)]
    sim_heartbeat_ms: u64,
    /// Be a CPU-bound process (what --contend starts).
    #[arg(long = contend::BURN_FLAG, hide = true)]
    burn_cpu: bool,
}

/// What `chimaera_bench` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// No-op task round trip and throughput.
    Tasks,
    /// Block devices against memcpy and fio.
    Bdev,
    /// Tasks between two nodes on loopback against raw TCP and ZeroMQ.
    Remote,
    /// The Rust, C and Python clients side by side.
    Clients,
    /// A remote client over TCP (`networking.client_port`) against a raw
    /// TCP ping-pong of the same size.
    TcpClient,
    /// The SWIM failure detector on a simulated network and clock.
    Swim,
    /// Real runtimes on loopback addresses: idle cost, failure detection.
    Cluster,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.burn_cpu {
        contend::burn();
    }
    let result = match (args.mode, args.port) {
        (Mode::Tasks, Some(port)) => tasks::run(&args, port),
        (Mode::Tasks, None) => {
            runtime::with_runtime(&runtime::tasks_config(&args), |port| tasks::run(&args, port))
        }
        (Mode::Bdev, _) => bdev::run(&args),
        (Mode::Clients, Some(port)) => clients::run(&args, port),
        (Mode::Clients, None) => runtime::with_runtime(&clients::config(), |port| clients::run(&args, port)),
        (Mode::Remote, _) => remote::run(&args),
        (Mode::TcpClient, _) => tcp_client::run(&args),
        (Mode::Swim, _) => swim::run(&args),
        (Mode::Cluster, _) => cluster::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chimaera_bench: {e}");
            ExitCode::from(1)
        }
    }
}

/// Microseconds, for printing.
fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A list as the command line takes it: `1,2`.
fn list<T: ToString>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

/// Runs `tasks` copies of `spec`, keeping `window` in flight: when the
/// window is full, waits for the oldest before submitting the next.
fn keep_in_flight(
    client: &chimaera_client::Client,
    spec: &chimaera_client::TaskSpec<'_>,
    tasks: u64,
    window: usize,
) -> Result<(), String> {
    let mut inflight = std::collections::VecDeque::with_capacity(window);
    for _ in 0..tasks {
        if inflight.len() == window {
            let oldest: chimaera_client::PendingTask<'_> = inflight.pop_front().expect("non-empty");
            oldest.wait(None).map_err(|e| e.to_string())?;
        }
        inflight.push_back(client.submit(spec).map_err(|e| e.to_string())?);
    }
    for task in inflight {
        task.wait(None).map_err(|e| e.to_string())?;
    }
    Ok(())
}
