//! `--mode cluster`: N real runtimes on this machine's loopback addresses
//! (127.0.0.1 to 127.0.0.N, one hostfile, one worker each, small segments):
//! how long until node 0 has them all up, their idle CPU and memory, a
//! broadcast pool creation, a node joining the running cluster (appended
//! to the hostfile and started: until it serves the broadcast pools and
//! node 0's broadcasts reach it), and how long until every node has a
//! SIGKILLed node down.

use std::time::{Duration, Instant};

use chimaera::config::ComposeEntry;
use chimaera::shm::ShmIdentity;
use chimaera_client::{Client, TaskSpec};
use chimod_sdk::admin::PING;
use chimod_sdk::{PoolId, PoolQuery, Route};

use crate::Args;
use crate::runtime::{Started, free_port, start};

const IDLE: Duration = Duration::from_secs(10);
/// From all up to the idle measurement.
const SETTLE: Duration = Duration::from_secs(5);

fn config(hostfile: &std::path::Path) -> String {
    format!(
        "workers:\n  sched_threads: 1\n  slow_threads: 0\n  process_reaper_threads: 1\nmemory:\n  main_segment_size: 8M\n  client_data_segment_size: 4M\n  runtime_data_segment_size: 4M\nnetworking:\n  port: {{port}}\n  hostfile: {}\nlogging:\n  level: warning\n  file: \"\"\n",
        hostfile.display()
    )
}

fn address(i: usize) -> String {
    format!("127.0.0.{}", i + 1)
}

fn client(port: u16, i: usize) -> Result<Client, String> {
    let identity = ShmIdentity::for_current_user(port).with_node(address(i).parse().ok());
    let client = Client::attach_identity(identity, Duration::from_secs(10)).map_err(|e| e.to_string())?;
    client.set_call_timeout(Some(Duration::from_secs(30)));
    Ok(client)
}

/// User plus system CPU ticks of a process, and its resident set in KiB.
fn usage(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = fields.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    (ticks, rss)
}

/// Waits until `check` holds, polling every `poll`, up to `limit`.
fn wait_until(limit: Duration, poll: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check() {
            return Some(started.elapsed());
        }
        std::thread::sleep(poll);
    }
    None
}

/// How many nodes answer a broadcast ping from `client`.
fn broadcast_reach(client: &Client) -> usize {
    let Ok(input) = PING.encode_input(&()) else { return 0 };
    let task = TaskSpec { route: Route::Broadcast, ..TaskSpec::new(PoolId::ADMIN, PING.id, &input) };
    let Ok(out) = client.submit(&task).and_then(|t| t.wait(Some(Duration::from_secs(30)))) else { return 0 };
    Client::gathered(&out).map_or(0, |all| all.iter().filter(|o| o.ok).count())
}

/// A node appended to `hostfile` as node `joiner` and started: how long
/// from its start until it serves the broadcast pool `pool`, and until
/// `first`'s broadcasts reach it.
fn join(
    hostfile: &std::path::Path,
    port: u16,
    joiner: usize,
    first: &Client,
    pool: PoolId,
) -> Result<(Started, Option<Duration>, Option<Duration>), String> {
    let mut listed = std::fs::read_to_string(hostfile).map_err(|e| e.to_string())?;
    listed.push_str(&format!("\n{}", address(joiner)));
    std::fs::write(hostfile, listed).map_err(|e| e.to_string())?;
    let asked = Instant::now();
    let started = start(&config(hostfile), port, Some(&address(joiner)))?;
    let newcomer = client(port, joiner)?;
    let poll = Duration::from_millis(2);
    let serves = wait_until(Duration::from_secs(30), poll, || newcomer.admin().pool_stats(pool).is_ok())
        .map(|_| asked.elapsed());
    let reached = wait_until(Duration::from_secs(30), poll, || broadcast_reach(first) == joiner + 1)
        .map(|_| asked.elapsed());
    Ok((started, serves, reached))
}

/// Runs one cluster size after another and prints a row each.
pub fn run(args: &Args) -> Result<(), String> {
    let ticks_per_s = rustix::param::clock_ticks_per_second() as f64;
    println!(
        "{} real runtimes per row on 127.0.0.x of this machine, 1 scheduler worker each, 8M/4M/4M segments, heartbeat_interval 1s; idle over {IDLE:?} from {SETTLE:?} after all up",
        crate::list(&args.cluster_nodes)
    );
    println!(
        "{:>6}  {:>13}  {:>20}  {:>14}  {:>14}  {:>26}  {:>28}  {:>24}",
        "nodes",
        "all up after",
        "idle CPU, all nodes",
        "per node",
        "RSS, all",
        "broadcast create 1st, 2nd",
        "join: serves, in broadcasts",
        "killed: all see down"
    );
    for &n in &args.cluster_nodes {
        if !(2..=253).contains(&n) {
            return Err(format!("--cluster-nodes {n}: from 2 to 253 nodes (one more joins)"));
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let hostfile = dir.path().join("hostfile");
        std::fs::write(&hostfile, (0..n).map(address).collect::<Vec<_>>().join("\n"))
            .map_err(|e| e.to_string())?;
        let port = free_port()?;
        let began = Instant::now();
        let mut nodes: Vec<Started> = Vec::new();
        for i in 0..n {
            nodes.push(start(&config(&hostfile), port, Some(&address(i)))?);
        }
        let first = client(port, 0)?;
        let all_up = wait_until(Duration::from_secs(120), Duration::from_millis(20), || {
            first.admin().stats().is_ok_and(|s| s.nodes.iter().all(|x| x.state == "up" || x.state == "self"))
        })
        .map(|_| began.elapsed());
        // The start's news (each node's own aliveness) has spread by now.
        std::thread::sleep(SETTLE);
        let before: Vec<(u64, u64)> = nodes.iter().map(|s| usage(s.pid())).collect();
        std::thread::sleep(IDLE);
        let after: Vec<(u64, u64)> = nodes.iter().map(|s| usage(s.pid())).collect();
        let cpu: f64 = before.iter().zip(&after).map(|(b, a)| a.0.saturating_sub(b.0) as f64).sum::<f64>()
            / ticks_per_s
            / IDLE.as_secs_f64()
            * 100.0;
        let rss_mib = after.iter().map(|a| a.1).sum::<u64>() as f64 / 1024.0;
        // The first broadcast loads the module on every node (checked and
        // mapped: CPU the nodes share here); the second finds it loaded.
        let mut compose = Vec::new();
        for minor in 0..2 {
            let entry =
                ComposeEntry::new("chimaera_bdev", format!("bench_ram{minor}"), PoolId::new(310, minor))
                    .with_query(PoolQuery::Broadcast)
                    .with_param("capacity", "1M")
                    .with_param("bdev_type", "ram");
            let started = Instant::now();
            first.admin().create_pool(&entry).map_err(|e| format!("broadcast compose: {e}"))?;
            compose.push(started.elapsed());
        }
        let (joined, serves, reached) = join(&hostfile, port, n, &first, PoolId::new(310, 0))?;
        nodes.push(joined);
        // Node n - 1 dies; every other node, the newcomer too, must see it down.
        let victim = n - 1;
        let killed = Instant::now();
        if let Some(pid) = rustix::process::Pid::from_raw(nodes[victim].pid() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        let others: Vec<Client> =
            (0..=n).filter(|i| *i != victim).map(|i| client(port, i)).collect::<Result<_, _>>()?;
        let mut seen = vec![None; others.len()];
        let all_down = wait_until(Duration::from_secs(60), Duration::from_millis(20), || {
            for (i, c) in others.iter().enumerate() {
                if seen[i].is_none()
                    && c.admin().stats().is_ok_and(|s| {
                        s.nodes.iter().any(|x| x.node_id == victim as u32 && x.state == "down")
                    })
                {
                    seen[i] = Some(killed.elapsed());
                }
            }
            seen.iter().all(Option::is_some)
        });
        let show = |d: Option<Duration>| {
            d.map_or_else(|| "not within the limit".to_owned(), |d| format!("{:.2}s", d.as_secs_f64()))
        };
        println!(
            "{n:>6}  {:>13}  {:>19.1}%  {:>13.2}%  {:>10.0} MiB  {:>12.1} ms, {:>6.1} ms  {:>28}  {:>24}",
            show(all_up),
            cpu,
            cpu / n as f64,
            rss_mib,
            compose[0].as_secs_f64() * 1000.0,
            compose[1].as_secs_f64() * 1000.0,
            format!("{}, {}", show(serves), show(reached)),
            show(all_down.map(|_| killed.elapsed()).and(seen.iter().flatten().max().copied())),
        );
        drop(others);
        drop(first);
        drop(nodes);
    }
    println!("rerun: chimaera_bench --mode cluster --cluster-nodes {}", crate::list(&args.cluster_nodes));
    Ok(())
}
