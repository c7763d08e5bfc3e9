//! The clients of every language side by side (`--mode clients`): the
//! admin ping's round trip and 1 MiB bdev writes, measured by the Rust
//! client here and by the C and Python figure programs
//! (`client-c/examples/client_figures.c`, `python/bench/client_figures.py`)
//! against the same runtime in the same run.
//!
//! Each program prints `name value` lines: `ping_p50_us`, and
//! `bdev_write_1m_mbps` (Python adds `bdev_write_1m_bulk_mbps`, from a
//! `chimaera.Bulk` instead of a NumPy array).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use chimaera_client::config::ComposeEntry;
use chimaera_client::{BdevClient, Client};
use chimod_sdk::PoolId;

use crate::Args;

/// The RAM device the write figures use.
const DEV: PoolId = PoolId::new(300, 0);
/// Bytes per write.
const WRITE: u64 = 1 << 20;
/// Writes cycle over this much of the device.
const SPAN: u64 = 64 << 20;

/// The runtime: one scheduler and one slow worker (bdev I/O goes to slow
/// workers), room for 1 MiB staging buffers.
pub fn config() -> String {
    "workers:\n  sched_threads: 1\n  slow_threads: 1\nmemory:\n  main_segment_size: 64M\n  client_data_segment_size: 32M\n  runtime_data_segment_size: 8M\nnetworking:\n  port: {port}\nlogging:\n  level: warning\n  file: \"\"\n".to_owned()
}

pub fn run(args: &Args, port: u16) -> Result<(), String> {
    let client = Client::attach_port(port, Duration::from_secs(10)).map_err(|e| e.to_string())?;
    let entry = ComposeEntry::new("chimaera_bdev", "ram::bench", DEV)
        .with_param("bdev_type", "ram")
        .with_param("capacity", "128MB");
    client.admin().create_pool(&entry).map_err(|e| e.to_string())?;
    let pings = args.tasks;
    let writes = (args.tasks / 100).max(200);
    println!(
        "chimaera_bench: clients of port {port}: {pings} pings (p50 of each call), {writes} writes of 1 MiB to a RAM bdev; median of {} runs, the clients taking turns",
        args.repeat.max(1)
    );
    // Each client in turn, --repeat times: the median of each figure is
    // shown, so that where the scheduler put a process for one run does
    // not decide a comparison.
    let mut runs: Vec<(String, Vec<BTreeMap<String, f64>>)> = vec![("Rust".to_owned(), Vec::new())];
    let programs: Vec<(&str, &std::path::PathBuf)> =
        [("C", args.c_figures.as_ref()), ("Python", args.python_figures.as_ref())]
            .into_iter()
            .filter_map(|(label, p)| Some((label, p?)))
            .collect();
    runs.extend(programs.iter().map(|(label, _)| ((*label).to_owned(), Vec::new())));
    for _ in 0..args.repeat.max(1) {
        runs[0].1.push(rust(&client, pings, writes)?);
        for (n, (_, program)) in programs.iter().enumerate() {
            runs[n + 1].1.push(external(args, program, port, pings, writes)?);
        }
    }
    let columns: Vec<(String, BTreeMap<String, f64>)> =
        runs.into_iter().map(|(label, figures)| (label, medians(&figures))).collect();
    print_table(&columns);
    Ok(())
}

/// Runs a figure program (a `.py` file with `--python`) and reads its figures.
fn external(
    args: &Args,
    program: &std::path::Path,
    port: u16,
    pings: u64,
    writes: u64,
) -> Result<BTreeMap<String, f64>, String> {
    let mut cmd = match program.extension().and_then(|e| e.to_str()) {
        Some("py") => {
            let mut c = Command::new(&args.python);
            c.arg(program);
            c
        }
        _ => Command::new(program),
    };
    let out = cmd
        .args([port.to_string(), DEV.to_string(), pings.to_string(), writes.to_string()])
        .output()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            program.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(parse(&String::from_utf8_lossy(&out.stdout)))
}

/// Each figure's median over the runs.
fn medians(runs: &[BTreeMap<String, f64>]) -> BTreeMap<String, f64> {
    let names: std::collections::BTreeSet<&String> = runs.iter().flat_map(|r| r.keys()).collect();
    names
        .into_iter()
        .map(|name| {
            let mut values: Vec<f64> = runs.iter().filter_map(|r| r.get(name).copied()).collect();
            values.sort_by(f64::total_cmp);
            (name.clone(), values[values.len() / 2])
        })
        .collect()
}

fn rust(client: &Client, pings: u64, writes: u64) -> Result<BTreeMap<String, f64>, String> {
    let admin = client.admin();
    let mut times = Vec::with_capacity(pings as usize);
    for _ in 0..pings / 10 {
        admin.ping().map_err(|e| e.to_string())?;
    }
    for _ in 0..pings {
        let started = Instant::now();
        admin.ping().map_err(|e| e.to_string())?;
        times.push(started.elapsed());
    }
    times.sort();
    let dev = BdevClient::new(client, DEV);
    let mut buf = client.bulk_alloc(WRITE).map_err(|e| e.to_string())?;
    buf.fill(0x5a);
    let started = Instant::now();
    for i in 0..writes {
        dev.write_at((i * WRITE) % SPAN, &buf).map_err(|e| e.to_string())?;
    }
    let mbps = (writes * WRITE) as f64 / started.elapsed().as_secs_f64() / 1e6;
    let plain = vec![0x5au8; WRITE as usize];
    let started = Instant::now();
    for i in 0..writes {
        dev.write_from((i * WRITE) % SPAN, &plain).map_err(|e| e.to_string())?;
    }
    let staged = (writes * WRITE) as f64 / started.elapsed().as_secs_f64() / 1e6;
    Ok(BTreeMap::from([
        ("ping_p50_us".to_owned(), times[times.len() / 2].as_secs_f64() * 1e6),
        ("bdev_write_1m_mbps".to_owned(), mbps),
        ("bdev_write_1m_staged_mbps".to_owned(), staged),
    ]))
}

fn parse(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter_map(|l| {
            let (name, value) = l.split_once(' ')?;
            Some((name.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

fn print_table(columns: &[(String, BTreeMap<String, f64>)]) {
    let rust = &columns[0].1;
    let rows = ["ping_p50_us", "bdev_write_1m_mbps", "bdev_write_1m_staged_mbps", "bdev_write_1m_bulk_mbps"];
    print!("{:<26}", "figure");
    for (label, _) in columns {
        print!("{label:>12}");
    }
    println!("   vs Rust");
    for row in rows {
        if !columns.iter().any(|(_, c)| c.contains_key(row)) {
            continue;
        }
        print!("{row:<26}");
        for (_, c) in columns {
            match c.get(row) {
                Some(v) => print!("{v:>12.2}"),
                None => print!("{:>12}", "-"),
            }
        }
        let base = rust.get(row).or_else(|| rust.get("bdev_write_1m_mbps"));
        let others: Vec<String> = columns[1..]
            .iter()
            .filter_map(|(label, c)| {
                let (v, b) = (c.get(row)?, base?);
                Some(if row.starts_with("ping") {
                    format!("{label} {:.2}x, {:+.2} us", v / b, v - b)
                } else {
                    format!("{label} {:.0}%", v / b * 100.0)
                })
            })
            .collect();
        println!("   {}", others.join("; "));
    }
}
