//! A simulated network and clock for the SWIM state machines: the
//! protocol's own code for thousands of nodes in one process, with message
//! loss, for `chimaera_bench --mode swim` and the tests.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use super::{Liveness, Message, Swim, SwimConfig};

/// Something due at a simulated time.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// A node's timers.
    Tick(u32),
    /// A message arrives (index into the in-flight store).
    Deliver(usize),
}

/// A cluster of [`Swim`] nodes on a simulated network: every message is
/// lost with probability `loss`, else delivered after 0.1–0.5 ms.
#[derive(Debug)]
pub struct Simulation {
    nodes: Vec<Swim>,
    /// Which nodes run (a killed one neither ticks nor receives).
    pub alive: Vec<bool>,
    queue: BinaryHeap<Reverse<(Duration, u64, Event)>>,
    /// The tick each node has queued (later ones are stale).
    ticks: Vec<Duration>,
    in_flight: Vec<Option<(u32, u32, Message)>>,
    free: Vec<usize>,
    order: u64,
    rng: fastrand::Rng,
    loss: f64,
    /// Messages sent so far (lost ones included).
    pub sent: u64,
    /// Live nodes declared dead: by whom, whom, when.
    pub false_dead: Vec<(u32, u32, Duration)>,
    /// Suspicions of live nodes: (node, incarnation), however many
    /// nodes heard of each.
    pub false_suspect: std::collections::HashSet<(u32, u64)>,
    /// When each node saw the killed node dead.
    pub saw_dead: Vec<Option<Duration>>,
    victim: Option<u32>,
}

impl Simulation {
    pub fn new(n: usize, config: SwimConfig, loss: f64, seed: u64) -> Simulation {
        let nodes = (0..n as u32).map(|i| Swim::new(i, n, 0, config, seed ^ (u64::from(i) << 20))).collect();
        let mut sim = Simulation {
            nodes,
            alive: vec![true; n],
            queue: BinaryHeap::new(),
            ticks: vec![Duration::MAX; n],
            in_flight: Vec::new(),
            free: Vec::new(),
            order: 0,
            rng: fastrand::Rng::with_seed(seed),
            loss,
            sent: 0,
            false_dead: Vec::new(),
            false_suspect: std::collections::HashSet::new(),
            saw_dead: vec![None; n],
            victim: None,
        };
        // Nodes start spread over one period, as real ones do.
        for i in 0..n as u32 {
            let at = Duration::from_nanos(sim.rng.u64(0..config.period.as_nanos() as u64));
            sim.schedule_tick(i, at);
        }
        sim
    }

    fn push(&mut self, at: Duration, event: Event) {
        self.order += 1;
        self.queue.push(Reverse((at, self.order, event)));
    }

    fn schedule_tick(&mut self, node: u32, at: Duration) {
        if at < self.ticks[node as usize] {
            self.ticks[node as usize] = at;
            self.push(at, Event::Tick(node));
        }
    }

    /// Sends what a node produced: each message lost with the loss
    /// probability, else delivered after 0.1–0.5 ms.
    fn send(&mut self, now: Duration, from: u32, out: &mut Vec<(u32, Message)>) {
        for (to, message) in out.drain(..) {
            self.sent += 1;
            if self.rng.f64() < self.loss {
                continue;
            }
            let slot = match self.free.pop() {
                Some(slot) => {
                    self.in_flight[slot] = Some((from, to, message));
                    slot
                }
                None => {
                    self.in_flight.push(Some((from, to, message)));
                    self.in_flight.len() - 1
                }
            };
            let latency = Duration::from_micros(self.rng.u64(100..500));
            self.push(now + latency, Event::Deliver(slot));
        }
    }

    /// Runs until simulated time `until`.
    pub fn run_until(&mut self, until: Duration) {
        let mut out = Vec::new();
        while let Some(Reverse((at, _, _))) = self.queue.peek() {
            if *at > until {
                break;
            }
            let Some(Reverse((now, _, event))) = self.queue.pop() else { break };
            let node = match event {
                Event::Tick(node) => {
                    if self.ticks[node as usize] != now {
                        continue;
                    }
                    self.ticks[node as usize] = Duration::MAX;
                    if !self.alive[node as usize] {
                        continue;
                    }
                    self.nodes[node as usize].tick(now, &mut out);
                    node
                }
                Event::Deliver(slot) => {
                    let Some((from, to, message)) = self.in_flight[slot].take() else { continue };
                    self.free.push(slot);
                    if !self.alive[to as usize] {
                        continue;
                    }
                    self.nodes[to as usize].receive(now, from, message, &mut out);
                    to
                }
            };
            self.send(now, node, &mut out);
            self.observe(node);
            let next = self.nodes[node as usize].next_deadline().max(now);
            self.schedule_tick(node, next);
        }
    }

    /// Kills `node` now: from here on it neither ticks nor answers, and
    /// [`Simulation::saw_dead`] records when each node declares it dead.
    pub fn kill(&mut self, node: u32) {
        self.victim = Some(node);
        self.alive[node as usize] = false;
    }

    fn observe(&mut self, node: u32) {
        for change in self.nodes[node as usize].take_changes() {
            let live = self.alive[change.node as usize];
            match change.liveness {
                Liveness::Dead if live => self.false_dead.push((node, change.node, change.at)),
                Liveness::Dead if Some(change.node) == self.victim => {
                    self.saw_dead[node as usize].get_or_insert(change.at);
                }
                Liveness::Suspect if live => {
                    self.false_suspect.insert((change.node, change.incarnation));
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_loss_no_live_node_is_declared_dead_and_a_killed_one_is_by_all() {
        let n = 200;
        let config = SwimConfig::for_cluster(Duration::from_millis(1000), n);
        let mut sim = Simulation::new(n, config, 0.02, 3);
        sim.run_until(Duration::from_secs(60));
        assert!(sim.false_dead.is_empty(), "{:?}", sim.false_dead);
        sim.kill(17);
        sim.run_until(Duration::from_secs(80));
        let seen = sim.saw_dead.iter().enumerate().filter(|(i, t)| *i != 17 && t.is_some()).count();
        assert_eq!(seen, n - 1, "every other node has node 17 dead");
    }
}
