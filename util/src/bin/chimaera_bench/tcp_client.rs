//! A remote client's round trip over TCP (`networking.client_port`, the
//! runtime on 127.0.0.2) beside a raw TCP ping-pong of the same message
//! size measured in the same run, the two taking turns; and 1 MiB bdev
//! writes over the connection.

use std::time::{Duration, Instant};

use chimaera_client::config::ComposeEntry;
use chimaera_client::{BdevClient, Client, TaskSpec};
use chimaera_protocol::remote::message::{ToRuntime, encode};
use chimod_sdk::PoolId;
use chimod_sdk::admin::PING;

use crate::remote::{print_latency, tcp_ping_pong};
use crate::runtime::{free_port, start};
use crate::us;

/// Runs the figures.
pub fn run(args: &crate::Args) -> Result<(), String> {
    let (port, client_port) = (free_port()?, free_port()?);
    let config = format!(
        "workers:\n  sched_threads: 1\n  slow_threads: 1\nmemory:\n  main_segment_size: 16M\n  client_data_segment_size: 8M\n  runtime_data_segment_size: 8M\nnetworking:\n  port: {{port}}\n  client_port: {client_port}\n  client_address: 127.0.0.2\nlogging:\n  level: error\n  file: \"\"\n"
    );
    let _runtime = start(&config, port, None)?;
    let addr = format!("127.0.0.2:{client_port}");
    let client = Client::connect(&addr, None).map_err(|e| e.to_string())?;
    let input = PING.encode_input(&()).map_err(|e| e.to_string())?;
    let spec = TaskSpec::new(PoolId::ADMIN, PING.id, &input);
    // The bytes a ping request is on the wire: the raw ping-pong sends as many.
    let request = ToRuntime::Request {
        id: 1,
        pool: (1, 0),
        method: PING.id,
        route: (0, 0, 0),
        long: false,
        reply: true,
    };
    let size = encode(&request, &input)?.len();
    let tasks = args.tasks.min(200_000);
    println!(
        "chimaera_bench tcp-client: runtime at {addr}; {tasks} pings per figure, {}-byte requests; median of {} turns each; {} cores",
        size,
        args.repeat.max(1),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let call = || client.submit(&spec).and_then(|t| t.wait(None)).map_err(|e| e.to_string());
    for _ in 0..2000 {
        call()?;
    }
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..args.repeat.max(1) {
        let mut samples = Vec::with_capacity(tasks as usize);
        for _ in 0..tasks {
            let t = Instant::now();
            call()?;
            samples.push(t.elapsed());
        }
        ours.push(median(&mut samples));
        raw.push(median(&mut tcp_ping_pong(size, tasks)?));
    }
    let (ours_p50, raw_p50) = (median(&mut ours), median(&mut raw));
    println!(
        "remote client ping p50 {:.1} us, raw TCP ping-pong p50 {:.1} us: {:.2}x",
        us(ours_p50),
        us(raw_p50),
        ours_p50.as_secs_f64() / raw_p50.as_secs_f64()
    );
    let mut last = Vec::new();
    for _ in 0..tasks.min(20_000) {
        let t = Instant::now();
        call()?;
        last.push(t.elapsed());
    }
    print_latency("remote client ping (one more run)", &mut last);

    let dev = PoolId::new(300, 0);
    let entry = ComposeEntry::new("chimaera_bdev", "ram::tcp_bench", dev)
        .with_param("bdev_type", "ram")
        .with_param("capacity", "64MB");
    client.admin().create_pool(&entry).map_err(|e| e.to_string())?;
    let bdev = BdevClient::new(&client, dev);
    let data = vec![0x5au8; 1 << 20];
    let writes = (tasks / 100).max(200);
    let started = Instant::now();
    for n in 0..writes {
        bdev.write_from((n % 64) << 20, &data).map_err(|e| e.to_string())?;
    }
    let mbps = (writes << 20) as f64 / started.elapsed().as_secs_f64() / 1e6;
    println!("remote client bdev write of 1 MiB (from a Vec): {mbps:.0} MB/s over {writes} writes");
    println!("rerun: chimaera_bench --mode tcp-client --tasks {} --repeat {}", args.tasks, args.repeat);
    Ok(())
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}
