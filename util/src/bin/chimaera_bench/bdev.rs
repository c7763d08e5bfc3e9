//! Block device figures beside the machine's limits, measured in the same
//! run: memcpy bandwidth for the RAM device, fio (same block size, queue
//! depth, direct I/O, file system) for the file device.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chimaera_bdev_api::{Block, READ, ReadRequest, WRITE, WriteRequest};
use chimaera_client::{BdevClient, Client, TypedPending};
use chimod_sdk::PoolId;

use crate::runtime::with_runtime;
use crate::{Args, us};

const FILE_DEV: PoolId = PoolId::new(300, 0);
const RAM_DEV: PoolId = PoolId::new(301, 0);
const CHUNK: u64 = 1 << 20;
const IO_ESTIMATE: Duration = Duration::from_millis(1);

/// One measured figure.
#[derive(Debug, Clone, Copy, Default)]
struct Figure {
    mbps: f64,
    iops: f64,
    p50_us: f64,
    p99_us: f64,
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:8.1} MB/s {:8.0} IOPS  p50 {:7.1} us  p99 {:7.1} us",
            self.mbps, self.iops, self.p50_us, self.p99_us
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Write,
    Read,
}

/// One figure's workload: block size, operation, pattern, queue depth and
/// how long, the same for the device and for its limit.
#[derive(Debug, Clone, Copy)]
struct Workload {
    bs: u64,
    op: Op,
    random: bool,
    qd: u32,
    seconds: Duration,
}

/// Runs every bdev figure.
pub fn run(args: &Args) -> Result<(), String> {
    let dir =
        args.bdev_dir.canonicalize().map_err(|e| format!("--bdev-dir {}: {e}", args.bdev_dir.display()))?;
    let device = dir.join(format!("chimaera_bench_{}.dat", std::process::id()));
    let depth = args.io_depth.max(1);
    let size = args.bdev_size.bytes();
    // One slow worker per core but the client's: with io_uring each keeps
    // many operations in flight, and more spinning threads than cores (the
    // client spins too) only take turns.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let slow = cores.saturating_sub(1).clamp(1, depth as usize);
    let config = format!(
        "workers:\n  sched_threads: 1\n  slow_threads: {slow}\nmemory:\n  main_segment_size: 64M\n  client_data_segment_size: {}M\n  runtime_data_segment_size: 8M\nnetworking:\n  port: {{port}}\nlogging:\n  level: warning\n  file: \"\"\ncompose:\n  - mod_name: chimaera_bdev\n    pool_name: {}\n    pool_query: local\n    pool_id: 300.0\n    capacity: {size}\n    bdev_type: file\n    io_depth: {depth}\n  - mod_name: chimaera_bdev\n    pool_name: bench_ram\n    pool_query: local\n    pool_id: 301.0\n    capacity: {size}\n    bdev_type: ram\n    io_depth: {depth}\n",
        2 * u64::from(depth) + 16,
        device.display()
    );
    let result = with_runtime(&config, |port| measure_all(args, port, depth, size, &device));
    let _ = std::fs::remove_file(&device);
    let _ = std::fs::remove_file(fio_file(&device));
    result
}

fn measure_all(args: &Args, port: u16, depth: u32, size: u64, device: &Path) -> Result<(), String> {
    let client = Client::attach_port(port, Duration::from_secs(10)).map_err(|e| e.to_string())?;
    let seconds = Duration::from_secs_f64(args.seconds);
    println!(
        "chimaera_bench bdev: devices of {} (file {}), queue depths 1 and {depth}, {:.1} s per figure, {} cores",
        chimod_sdk::Size::from_bytes(size),
        device.display(),
        args.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let fio = fio_version();
    match &fio {
        Some(v) => println!(
            "limits: memcpy (one thread) for RAM; {v} with --direct=1 on the same file system for file"
        ),
        None => println!(
            "limits: memcpy for RAM; fio is not installed (apt-get install fio), so file figures stand alone"
        ),
    }
    for (pool, name) in [(RAM_DEV, "ram"), (FILE_DEV, "file")] {
        if !args.devices.iter().any(|d| d == name) {
            continue;
        }
        let dev = BdevClient::new(&client, pool);
        let blocks = dev.allocate(size).map_err(|e| e.to_string())?;
        let stats = dev.stats().map_err(|e| e.to_string())?;
        if pool == FILE_DEV {
            println!("file device: direct I/O (O_DIRECT) {}, io_uring {}", stats.direct_io, stats.async_io);
        }
        // Write everything once so reads read real data; fio's file too,
        // so that both overwrite blocks that are already written.
        fill(&client, pool, &blocks, depth)?;
        if pool == FILE_DEV && fio.is_some() {
            fio_fill(device, size)?;
        }
        for bs in args.block_sizes.iter().map(|s| s.bytes()) {
            if !bs.is_power_of_two() || !(512..=CHUNK).contains(&bs) {
                return Err(format!("--block-sizes: {bs} is not a power of two from 512 to 1M"));
            }
            for random in [false, true] {
                for op in [Op::Write, Op::Read] {
                    for qd in [1, depth] {
                        // Ours and the limit alternate `repeat` times; the
                        // figures shown are the medians (a virtual disk's
                        // speed drifts between runs by more than the goal).
                        let mut ours_runs = Vec::new();
                        let mut limit_runs = Vec::new();
                        let work = Workload { bs, op, random, qd, seconds };
                        // Who goes first alternates too: a virtual disk
                        // is slower for a while after a burst of writes
                        // (random 4K writes at half speed for seconds after
                        // a 1 GiB fill, fio alone), and always going first
                        // put ours in that window.
                        for i in 0..args.repeat.max(1) {
                            let limit = || match pool {
                                RAM_DEV => Some(memcpy(bs, seconds)),
                                _ if fio.is_some() => fio_figure(device, size, work).ok(),
                                _ => None,
                            };
                            if i % 2 == 1 {
                                limit_runs.extend(limit());
                            }
                            ours_runs.push(measure(&client, pool, &blocks, work)?);
                            if i % 2 == 0 {
                                limit_runs.extend(limit());
                            }
                        }
                        let ours = median(ours_runs);
                        let limit = (!limit_runs.is_empty()).then(|| median(limit_runs));
                        let label = format!(
                            "{name:4} {:4} {:5} {:>4} qd{qd:<3}",
                            if random { "rand" } else { "seq" },
                            if op == Op::Write { "write" } else { "read" },
                            chimod_sdk::Size::from_bytes(bs).to_string()
                        );
                        match limit {
                            Some(l) => println!(
                                "{label} {ours} | limit {l} | {:5.1}% of the limit's MB/s",
                                100.0 * ours.mbps / l.mbps.max(f64::MIN_POSITIVE)
                            ),
                            None => println!("{label} {ours}"),
                        }
                    }
                }
            }
        }
        dev.free(&blocks).map_err(|e| e.to_string())?;
    }
    println!(
        "rerun: chimaera_bench --mode bdev --bdev-dir {} --bdev-size {} --io-depth {depth} --seconds {} --repeat {} --devices {} --block-sizes {}",
        args.bdev_dir.display(),
        args.bdev_size,
        args.seconds,
        args.repeat,
        args.devices.join(","),
        crate::list(&args.block_sizes)
    );
    Ok(())
}

/// Writes every 1 MiB block once.
fn fill(client: &Client, pool: PoolId, blocks: &[Block], depth: u32) -> Result<(), String> {
    let mut buf = client.bulk_alloc(CHUNK).map_err(|e| e.to_string())?;
    buf.fill(0x5a);
    let bulk = buf.bulk();
    let mut inflight = VecDeque::new();
    for block in blocks {
        if inflight.len() >= depth as usize {
            let p: TypedPending<'_, u64> = inflight.pop_front().expect("non-empty");
            p.wait(None).map_err(|e| e.to_string())?;
        }
        let req = WriteRequest { block: *block, offset: 0, data: bulk };
        inflight.push_back(client.submit_method(pool, WRITE, &req, IO_ESTIMATE).map_err(|e| e.to_string())?);
    }
    for p in inflight {
        p.wait(None).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// One figure: `qd` operations of `bs` bytes in flight for `seconds`.
fn measure(client: &Client, pool: PoolId, blocks: &[Block], work: Workload) -> Result<Figure, String> {
    let Workload { bs, op, random, qd, seconds } = work;
    let bufs =
        (0..qd).map(|_| client.bulk_alloc(bs)).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    let slots = blocks.len() as u64 * (CHUNK / bs);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next_seq = 0u64;
    let mut next_slot = || {
        let slot = if random {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % slots
        } else {
            next_seq = (next_seq + 1) % slots;
            next_seq
        };
        let per_block = CHUNK / bs;
        (blocks[(slot / per_block) as usize], (slot % per_block) * bs)
    };
    let mut free: Vec<usize> = (0..bufs.len()).collect();
    let mut inflight: VecDeque<(TypedPending<'_, u64>, Instant, usize)> = VecDeque::new();
    let mut latencies = Vec::new();
    let started = Instant::now();
    let deadline = started + seconds;
    loop {
        let now = Instant::now();
        if now < deadline
            && let Some(b) = free.pop()
        {
            let (block, offset) = next_slot();
            let bulk = bufs[b].bulk();
            let pending = match op {
                Op::Write => client.submit_method(
                    pool,
                    WRITE,
                    &WriteRequest { block, offset, data: bulk },
                    IO_ESTIMATE,
                ),
                Op::Read => {
                    client.submit_method(pool, READ, &ReadRequest { block, offset, into: bulk }, IO_ESTIMATE)
                }
            }
            .map_err(|e| e.to_string())?;
            inflight.push_back((pending, now, b));
            continue;
        }
        if inflight.is_empty() {
            break;
        }
        // Collect whichever finished first (as an I/O engine reaps any
        // completion), not the oldest: no head-of-line blocking.
        let at = match inflight.iter().position(|(p, _, _)| p.is_done()) {
            Some(at) => at,
            None if Instant::now() < deadline => {
                std::hint::spin_loop();
                continue;
            }
            None => 0,
        };
        let (pending, submitted, b) = inflight.remove(at).expect("in range");
        pending.wait(None).map_err(|e| e.to_string())?;
        latencies.push(submitted.elapsed());
        free.push(b);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
    };
    let ops = latencies.len() as f64;
    Ok(Figure {
        mbps: ops * bs as f64 / elapsed / 1e6,
        iops: ops / elapsed,
        p50_us: pct(0.5).map_or(0.0, |d| us(*d)),
        p99_us: pct(0.99).map_or(0.0, |d| us(*d)),
    })
}

/// The figure with the median bandwidth.
fn median(mut runs: Vec<Figure>) -> Figure {
    runs.sort_by(|a, b| a.mbps.total_cmp(&b.mbps));
    runs[runs.len() / 2]
}

/// One thread copying `bs`-byte pieces between two 64 MiB buffers.
fn memcpy(bs: u64, seconds: Duration) -> Figure {
    const SPAN: usize = 64 << 20;
    let src = vec![0x33u8; SPAN];
    let mut dst = vec![0u8; SPAN];
    let bs = bs as usize;
    let mut copies = 0u64;
    let mut at = 0;
    let started = Instant::now();
    while started.elapsed() < seconds {
        for _ in 0..64 {
            dst[at..at + bs].copy_from_slice(&src[at..at + bs]);
            at = (at + bs) % SPAN;
            copies += 1;
        }
    }
    std::hint::black_box(&dst);
    let elapsed = started.elapsed().as_secs_f64();
    let per_op_us = elapsed * 1e6 / copies as f64;
    Figure {
        mbps: copies as f64 * bs as f64 / elapsed / 1e6,
        iops: copies as f64 / elapsed,
        p50_us: per_op_us,
        p99_us: per_op_us,
    }
}

fn fio_version() -> Option<String> {
    let out = Command::new("fio").arg("--version").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// fio's own file, beside the device file. It lives as long as the device
/// file: deleting it after each figure (as this bench once did) made a
/// file system mounted with `discard` trim a whole device's worth of
/// blocks just before the next figure of ours, which then ran at half
/// speed (docs/benchmarks.md).
fn fio_file(device: &Path) -> std::path::PathBuf {
    device.with_extension("fio")
}

/// Writes fio's whole file once, as `fill` does the device.
fn fio_fill(device: &Path, size: u64) -> Result<(), String> {
    let work = Workload { bs: CHUNK, op: Op::Write, random: false, qd: 16, seconds: Duration::ZERO };
    fio(device, size, work, false).map(|_| ())
}

/// fio with the same block size, pattern, depth and direct I/O, on its
/// file beside the device file.
fn fio_figure(device: &Path, size: u64, work: Workload) -> Result<Figure, String> {
    fio(device, size, work, true)
}

/// Runs fio: for `work.seconds` when `timed`, else once over the file.
fn fio(device: &Path, size: u64, work: Workload, timed: bool) -> Result<Figure, String> {
    let Workload { bs, op, random, qd, seconds } = work;
    let file = fio_file(device);
    let rw = match (op, random) {
        (Op::Write, false) => "write",
        (Op::Write, true) => "randwrite",
        (Op::Read, false) => "read",
        (Op::Read, true) => "randread",
    };
    let engine = if qd == 1 { "psync" } else { "libaio" };
    let runtime = format!("--runtime={}", seconds.as_secs_f64().max(1.0));
    let timing: &[&str] = if timed { &[&runtime, "--time_based"] } else { &[] };
    let out = Command::new("fio")
        .args([
            "--name=limit",
            &format!("--filename={}", file.display()),
            &format!("--size={size}"),
            &format!("--bs={bs}"),
            &format!("--rw={rw}"),
            "--direct=1",
            &format!("--ioengine={engine}"),
            &format!("--iodepth={qd}"),
            "--output-format=json",
        ])
        .args(timing)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let job = &json["jobs"][0][if op == Op::Write { "write" } else { "read" }];
    let pct = |p: &str| job["clat_ns"]["percentile"][p].as_f64().unwrap_or(0.0) / 1000.0;
    Ok(Figure {
        mbps: job["bw_bytes"].as_f64().unwrap_or(0.0) / 1e6,
        iops: job["iops"].as_f64().unwrap_or(0.0),
        p50_us: pct("50.000000"),
        p99_us: pct("99.000000"),
    })
}
