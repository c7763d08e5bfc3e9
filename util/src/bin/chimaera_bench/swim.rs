//! `--mode swim`: the runtime's SWIM failure detector driven by a simulated
//! network and clock (no sockets, `chimaera::cluster::swim::Simulation`):
//! per-node messages per protocol period, how long until every node sees a
//! killed node dead, and false "dead" verdicts on live nodes over a long
//! run with message loss.

use std::time::{Duration, Instant};

use chimaera::cluster::swim::{Simulation, SwimConfig};

use crate::Args;

/// Runs the simulations `args` asks for and prints one line per size.
pub fn run(args: &Args) -> Result<(), String> {
    let heartbeat = Duration::from_millis(args.sim_heartbeat_ms);
    println!(
        "SWIM failure detector, simulated network: heartbeat_interval {heartbeat:?}, {:.1}% message loss, 0.1-0.5 ms latency, {} simulated minutes per size, then one node killed",
        args.sim_loss * 100.0,
        args.sim_minutes
    );
    println!(
        "{:>7}  {:>9}  {:>22}  {:>22}  {:>16}  {:>12}  {:>8}",
        "nodes", "period", "msgs/node/period", "killed: all see dead", "false suspects", "false dead", "wall"
    );
    for &n in &args.sim_nodes {
        if n < 2 {
            return Err(format!("--sim-nodes {n}: a cluster needs two nodes"));
        }
        let wall = Instant::now();
        let config = SwimConfig::for_cluster(heartbeat, n);
        let mut sim = Simulation::new(n, config, args.sim_loss, 0x5eed ^ n as u64);
        let warm = config.period * 20;
        sim.run_until(warm);
        let sent_before = sim.sent;
        let long = warm + Duration::from_secs_f64(args.sim_minutes * 60.0);
        sim.run_until(long);
        let periods = (long - warm).as_secs_f64() / config.period.as_secs_f64();
        let per_node = (sim.sent - sent_before) as f64 / n as f64 / periods;
        // One node dies: how long until every other node has it dead.
        let victim = (n / 2) as u32;
        sim.kill(victim);
        let killed = long;
        sim.run_until(killed + heartbeat * 20);
        let mut seen: Vec<Duration> = sim
            .saw_dead
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != victim as usize)
            .filter_map(|(_, t)| t.map(|t| t - killed))
            .collect();
        seen.sort();
        let detection = if seen.len() == n - 1 {
            format!(
                "median {:.2}s, all {:.2}s",
                seen[seen.len() / 2].as_secs_f64(),
                seen[seen.len() - 1].as_secs_f64()
            )
        } else {
            format!("{} of {} nodes", seen.len(), n - 1)
        };
        println!(
            "{n:>7}  {:>9?}  {per_node:>22.2}  {detection:>22}  {:>16}  {:>12}  {:>7.1}s",
            config.period,
            sim.false_suspect.len(),
            sim.false_dead.len(),
            wall.elapsed().as_secs_f64()
        );
        if let Some((by, of, at)) = sim.false_dead.first() {
            println!("         first false dead: node {by} declared live node {of} dead at {at:.2?}");
        }
    }
    println!(
        "rerun: chimaera_bench --mode swim --sim-nodes {} --sim-loss {} --sim-minutes {}",
        crate::list(&args.sim_nodes),
        args.sim_loss,
        args.sim_minutes
    );
    Ok(())
}
