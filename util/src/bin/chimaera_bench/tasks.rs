//! No-op task round trip and throughput.

use std::time::{Duration, Instant};

use chimaera::client::{Client, TaskSpec};
use chimod_sdk::PoolId;
use chimod_sdk::admin::PING;

use crate::{Args, us};

pub fn run(args: &Args, port: u16) -> Result<(), String> {
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
    for &window in &args.window {
        for &threads in &args.threads {
            let rate = throughput(port, threads, args.tasks, window as usize)?;
            println!("throughput pipelined (window {window}), {threads} client thread(s): {rate:.0} tasks/s");
        }
    }
    println!(
        "rerun: chimaera_bench --tasks {} --threads {} --window {}",
        args.tasks,
        crate::list(&args.threads),
        crate::list(&args.window)
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
                crate::keep_in_flight(&client, &spec, per_thread, window)
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "client thread panicked".to_owned())??;
    }
    Ok((per_thread * u64::from(threads)) as f64 / started.elapsed().as_secs_f64())
}
