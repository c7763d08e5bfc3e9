//! No-op task round trip and throughput, on a quiet machine and, with
//! `--contend N`, beside N CPU-bound processes, side by side.

use std::time::{Duration, Instant};

use chimaera_client::{Client, TaskSpec};
use chimod_sdk::PoolId;
use chimod_sdk::admin::PING;

use crate::contend::Contenders;
use crate::{Args, us};

/// One figure: its runs, and how it reads.
struct Figure {
    name: String,
    runs: Vec<f64>,
    unit: &'static str,
}

impl Figure {
    /// The median and the range of the runs.
    fn show(&self) -> String {
        let mut runs = self.runs.clone();
        runs.sort_by(f64::total_cmp);
        let value = |v: f64| if self.unit == "us" { format!("{v:.2}") } else { format!("{v:.0}") };
        let median = value(runs[runs.len() / 2]);
        if runs.len() == 1 {
            format!("{median} {}", self.unit)
        } else {
            format!("{median} {} ({}-{})", self.unit, value(runs[0]), value(runs[runs.len() - 1]))
        }
    }
}

pub fn run(args: &Args, port: u16) -> Result<(), String> {
    let client = Client::attach_port(port, Duration::from_secs(10)).map_err(|e| e.to_string())?;
    let stats = client.admin().stats().map_err(|e| e.to_string())?;
    let sched = stats.workers.iter().filter(|w| w.kind == "sched").count();
    println!(
        "chimaera_bench: runtime on port {port}, {} workers ({sched} scheduler, {} slow); {} tasks per figure, median of {} (range in brackets); {} cores",
        stats.workers.len(),
        stats.workers.len() - sched,
        args.tasks,
        args.repeat.max(1),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut columns = vec![("quiet".to_owned(), measure(args, &client, port)?)];
    if args.contend > 0 {
        let _contenders = Contenders::start(args.contend)?;
        let label =
            format!("{} CPU-bound process{}", args.contend, if args.contend == 1 { "" } else { "es" });
        columns.push((label, measure(args, &client, port)?));
    }
    print_table(&columns);
    println!("rerun: {}", rerun(args));
    Ok(())
}

/// Every figure, `--repeat` times.
fn measure(args: &Args, client: &Client, port: u16) -> Result<Vec<Figure>, String> {
    let input = PING.encode_input(&()).map_err(|e| e.to_string())?;
    // Warm up (and let contenders settle on their cores).
    for _ in 0..10_000 {
        client.call(PoolId::ADMIN, PING.id, &input).map_err(|e| e.to_string())?;
    }
    let mut figures = vec![
        Figure { name: "round trip p50 (1 client thread, sync)".into(), runs: vec![], unit: "us" },
        Figure { name: "round trip p99".into(), runs: vec![], unit: "us" },
        Figure { name: "round trip p99.9".into(), runs: vec![], unit: "us" },
    ];
    for &threads in &args.threads {
        figures.push(Figure {
            name: format!("throughput sync, {threads} client thread(s)"),
            runs: vec![],
            unit: "tasks/s",
        });
    }
    for &window in &args.window {
        for &threads in &args.threads {
            figures.push(Figure {
                name: format!("throughput pipelined (window {window}), {threads} client thread(s)"),
                runs: vec![],
                unit: "tasks/s",
            });
        }
    }
    for _ in 0..args.repeat.max(1) {
        let mut samples = Vec::with_capacity(args.tasks as usize);
        for _ in 0..args.tasks {
            let t = Instant::now();
            client.call(PoolId::ADMIN, PING.id, &input).map_err(|e| e.to_string())?;
            samples.push(t.elapsed());
        }
        samples.sort();
        let pct = |p: f64| us(samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)]);
        let mut next = figures.iter_mut();
        for p in [0.50, 0.99, 0.999] {
            next.next().expect("a percentile figure").runs.push(pct(p));
        }
        for &threads in &args.threads {
            next.next().expect("a sync figure").runs.push(throughput(port, threads, args.tasks, 1)?);
        }
        for &window in &args.window {
            for &threads in &args.threads {
                let rate = throughput(port, threads, args.tasks, window as usize)?;
                next.next().expect("a pipelined figure").runs.push(rate);
            }
        }
    }
    Ok(figures)
}

fn print_table(columns: &[(String, Vec<Figure>)]) {
    let names: Vec<&str> = columns[0].1.iter().map(|f| f.name.as_str()).collect();
    let first = names.iter().map(|n| n.len()).max().unwrap_or(0);
    let cells: Vec<Vec<String>> =
        columns.iter().map(|(_, figures)| figures.iter().map(Figure::show).collect()).collect();
    let widths: Vec<usize> = columns
        .iter()
        .zip(&cells)
        .map(|((label, _), cells)| cells.iter().map(String::len).chain([label.len()]).max().unwrap_or(0))
        .collect();
    let mut header = format!("{:first$}", "");
    for ((label, _), width) in columns.iter().zip(&widths) {
        header.push_str(&format!("  {label:width$}"));
    }
    println!("{}", header.trim_end());
    for (row, name) in names.iter().enumerate() {
        let mut line = format!("{name:first$}");
        for (column, width) in cells.iter().zip(&widths) {
            line.push_str(&format!("  {:width$}", column[row]));
        }
        println!("{}", line.trim_end());
    }
}

/// The command line that measures the same figures again.
fn rerun(args: &Args) -> String {
    let mut line = format!(
        "chimaera_bench --tasks {} --threads {} --window {} --repeat {}",
        args.tasks,
        crate::list(&args.threads),
        crate::list(&args.window),
        args.repeat
    );
    if args.contend > 0 {
        line.push_str(&format!(" --contend {}", args.contend));
    }
    match args.port {
        Some(port) => line.push_str(&format!(" --port {port}")),
        None if args.default_workers => line.push_str(" --default-workers"),
        None => line.push_str(&format!(" --sched-workers {}", args.sched_workers)),
    }
    line
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
                crate::keep_in_flight(&client, &spec, per_thread, window)
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "client thread panicked".to_owned())??;
    }
    Ok((per_thread * u64::from(threads)) as f64 / started.elapsed().as_secs_f64())
}
