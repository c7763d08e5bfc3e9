//! Task round trip and throughput between two nodes on loopback, beside the
//! transport's own limits measured in the same run: a raw TCP ping-pong
//! and a raw ZeroMQ request/reply of the same frame size.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use chimaera::shm::ShmIdentity;
use chimaera_client::{Client, TaskSpec};
use chimod_sdk::admin::PING;
use chimod_sdk::{PoolId, Route};

use crate::runtime::{free_port, start};
use crate::{Args, us};

/// Runs the remote figures.
pub fn run(args: &Args) -> Result<(), String> {
    let port = free_port()?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let hostfile = dir.path().join("hostfile");
    std::fs::write(&hostfile, "127.0.0.1\n127.0.0.2\n").map_err(|e| e.to_string())?;
    let config = format!(
        "workers:\n  sched_threads: 1\n  slow_threads: 0\nmemory:\n  main_segment_size: 64M\n  client_data_segment_size: 8M\n  runtime_data_segment_size: 8M\nnetworking:\n  port: {{port}}\n  hostfile: {}\nlogging:\n  level: warning\n  file: \"\"\n",
        hostfile.display()
    );
    let _node0 = start(&config, port, Some("127.0.0.1"))?;
    let _node1 = start(&config, port, Some("127.0.0.2"))?;
    let identity =
        ShmIdentity::for_current_user(port).with_node(Some("127.0.0.1".parse().expect("an address")));
    let client = Client::attach_identity(identity, Duration::from_secs(10)).map_err(|e| e.to_string())?;
    let input = PING.encode_input(&()).map_err(|e| e.to_string())?;
    let spec = TaskSpec { route: Route::Node(1), ..TaskSpec::new(PoolId::ADMIN, PING.id, &input) };
    let tasks = args.tasks.min(50_000);
    println!(
        "chimaera_bench remote: nodes 127.0.0.1 and 127.0.0.2, port {port}; ping from node 0's client to node 1, {tasks} tasks per figure; {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let call = || client.submit(&spec).and_then(|t| t.wait(None)).map_err(|e| e.to_string());
    for _ in 0..2000 {
        call()?;
    }
    let mut samples = Vec::with_capacity(tasks as usize);
    for _ in 0..tasks {
        let t = Instant::now();
        call()?;
        samples.push(t.elapsed());
    }
    print_latency("remote task round trip", &mut samples);
    for &window in &args.window {
        // One figure is a fraction of a second: on a shared VM it swings by
        // half between runs, so show the median and the range.
        let mut runs = (0..args.repeat.max(1))
            .map(|_| pipelined(&client, &spec, tasks, window as usize))
            .collect::<Result<Vec<f64>, String>>()?;
        runs.sort_by(f64::total_cmp);
        println!(
            "remote pipelined throughput (window {window}): {:.0} tasks/s (median of {}: {:.0} to {:.0})",
            runs[runs.len() / 2],
            runs.len(),
            runs[0],
            runs[runs.len() - 1]
        );
    }
    // The frame a ping request is on the wire (about this many bytes).
    let frame = 24;
    let mut tcp = tcp_ping_pong(frame, tasks)?;
    print_latency(&format!("raw TCP ping-pong ({frame}-byte frames)"), &mut tcp);
    let mut zmq = zmq_req_rep(frame, tasks)?;
    print_latency(&format!("raw ZeroMQ REQ/REP ({frame}-byte frames)"), &mut zmq);
    println!(
        "rerun: chimaera_bench --mode remote --tasks {} --window {} --repeat {}",
        args.tasks,
        crate::list(&args.window),
        args.repeat
    );
    Ok(())
}

/// Tasks per second with `window` tasks in flight.
fn pipelined(client: &Client, spec: &TaskSpec<'_>, tasks: u64, window: usize) -> Result<f64, String> {
    let started = Instant::now();
    crate::keep_in_flight(client, spec, tasks, window)?;
    Ok(tasks as f64 / started.elapsed().as_secs_f64())
}

pub(crate) fn print_latency(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!("{what}: p50 {:.1} us, p99 {:.1} us", us(pct(0.5)), us(pct(0.99)));
}

/// Round trips of `size` bytes over a loopback TCP connection.
pub(crate) fn tcp_ping_pong(size: usize, rounds: u64) -> Result<Vec<Duration>, String> {
    let listener = TcpListener::bind("127.0.0.3:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let mut buf = vec![0u8; size];
        while s.read_exact(&mut buf).is_ok() {
            s.write_all(&buf)?;
        }
        Ok(())
    });
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut buf = vec![7u8; size];
    let mut samples = Vec::with_capacity(rounds as usize);
    for i in 0..rounds + 1000 {
        let t = Instant::now();
        s.write_all(&buf).and_then(|()| s.read_exact(&mut buf)).map_err(|e| e.to_string())?;
        if i >= 1000 {
            samples.push(t.elapsed());
        }
    }
    drop(s);
    let _ = server.join();
    Ok(samples)
}

/// Round trips of `size` bytes through ZeroMQ REQ/REP (the same crate the
/// runtime uses) on loopback.
fn zmq_req_rep(size: usize, rounds: u64) -> Result<Vec<Duration>, String> {
    use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let port = free_port()?;
    runtime.block_on(async move {
        let mut rep = zeromq::RepSocket::new();
        rep.bind(&format!("tcp://127.0.0.3:{port}")).await.map_err(|e| e.to_string())?;
        let server = tokio::spawn(async move {
            while let Ok(m) = rep.recv().await {
                if rep.send(m).await.is_err() {
                    break;
                }
            }
        });
        let mut req = zeromq::ReqSocket::new();
        req.connect(&format!("tcp://127.0.0.3:{port}")).await.map_err(|e| e.to_string())?;
        let mut samples = Vec::with_capacity(rounds as usize);
        for i in 0..rounds + 1000 {
            let t = Instant::now();
            req.send(ZmqMessage::from(vec![7u8; size])).await.map_err(|e| e.to_string())?;
            req.recv().await.map_err(|e| e.to_string())?;
            if i >= 1000 {
                samples.push(t.elapsed());
            }
        }
        server.abort();
        Ok(samples)
    })
}
