//! Broadcasts and range queries through a tree. The sender splits the
//! other nodes into at most [`FANOUT`] groups of consecutive ids and sends
//! each group's task to one node of it (the relay, an admin `RELAY` task
//! carrying the rest of the group); each relay runs the task, does the
//! same with its rest, and answers with its group's outcomes. No node sends
//! more than [`FANOUT`] messages for one broadcast, and `N` nodes are
//! reached in `log8 N` hops (two at 64 nodes, five at 8,192).
//!
//! A relay that does not answer is reported failed, and its group is then
//! gathered from here through other relays: the group's nodes still get
//! the task (those the relay had reached get it twice, so broadcast tasks
//! should be safe to repeat, as get-or-create and statistics are).

use chimod_sdk::admin::{RELAY, Relay};
use chimod_sdk::{NodeOutcome, PoolId};

use super::execute::run;
use crate::ipc::TaskStatus;
use crate::net::PeerState;
use crate::node::Node;
use crate::task::{Completion, Outcome};

/// Messages one node sends for one broadcast, at most.
pub const FANOUT: usize = 8;

/// Ids past this node's cluster a relay's group may name: nodes joined
/// since this node last read the hostfile.
const RELAY_GROWTH: u32 = 1024;

/// A task for several nodes.
#[derive(Debug, Clone, Copy)]
pub struct Spread<'a> {
    /// The task's pool.
    pub pool: PoolId,
    /// Its method.
    pub method: u32,
    /// Its encoded input.
    pub input: &'a [u8],
    /// Whether it runs on slow workers.
    pub long: bool,
}

/// What was sent to one group.
enum Sent {
    /// A group of one, sent the task itself.
    Direct(u32, Result<std::sync::Arc<Completion>, Outcome>),
    /// A relay and the rest of its group.
    Relayed { relay: u32, rest: Vec<u32>, call: Result<std::sync::Arc<Completion>, Outcome> },
}

/// Runs `task` on each of `targets` (this node included if listed) and
/// returns one outcome per node, in node order. The other nodes are sent
/// to first, through the tree; this node's part runs meanwhile.
pub fn gather(node: &Node, targets: &[u32], task: Spread<'_>) -> Vec<NodeOutcome> {
    let others: Vec<u32> = targets.iter().copied().filter(|t| *t != node.node_id).collect();
    let sent = send_groups(node, &others, task);
    let mut out = Vec::with_capacity(targets.len());
    if targets.contains(&node.node_id) {
        out.push(outcome(node.node_id, run(node, task.pool, task.method, task.input)));
    }
    for s in sent {
        match s {
            Sent::Direct(target, call) => out.push(outcome(target, waited(call))),
            Sent::Relayed { relay, rest, call } => {
                let answer = waited(call);
                match decoded(&answer) {
                    Some(mut group) => out.append(&mut group),
                    None => {
                        // The relay is gone or failed: its group is reached
                        // from here, through other relays.
                        out.push(outcome(relay, answer));
                        out.extend(gather(node, &rest, task));
                    }
                }
            }
        }
    }
    out.sort_by_key(|o| o.node);
    out
}

/// The admin `RELAY` task: this node and the nodes it relays for.
/// The group comes from another node: each member once, and only members
/// (a node whose hostfile grew first may name one this node takes in with
/// the call's re-read), so a malformed list costs no more than the cluster.
pub fn relay(node: &Node, r: &Relay) -> Vec<NodeOutcome> {
    let (members, growth) = node.network.get().map_or((1, 0), |n| (n.nodes() as u32, RELAY_GROWTH));
    let mut seen = std::collections::HashSet::new();
    let mut targets = vec![node.node_id];
    let beyond = |n: u32| n >= members && n < members.saturating_add(growth);
    targets.extend(
        r.nodes
            .iter()
            .copied()
            .filter(|n| *n != node.node_id && (*n < members || beyond(*n)) && seen.insert(*n)),
    );
    tracing::debug!(pool = %r.pool_id, method = r.method, "relaying a broadcast to nodes {:?}", r.nodes);
    gather(node, &targets, Spread { pool: r.pool_id, method: r.method, input: &r.input, long: r.long })
}

/// Sends `task` to `others` in at most [`FANOUT`] groups.
fn send_groups(node: &Node, others: &[u32], task: Spread<'_>) -> Vec<Sent> {
    if others.is_empty() {
        return Vec::new();
    }
    let Some(network) = node.network.get() else {
        let single = || {
            Err(Outcome::failed(TaskStatus::Error, "this runtime is a single node (no networking.hostfile)"))
        };
        return others.iter().map(|t| Sent::Direct(*t, single())).collect();
    };
    let size = others.len().div_ceil(FANOUT);
    let mut sent = Vec::with_capacity(FANOUT);
    for group in others.chunks(size) {
        if let [only] = group {
            sent.push(Sent::Direct(
                *only,
                network.call(*only, task.pool, task.method, task.input, task.long),
            ));
            continue;
        }
        // The group's first node not known down relays, so that a dead one
        // costs its own outcome only.
        let at = group.iter().position(|n| network.peer_state(*n) != Some(PeerState::Down)).unwrap_or(0);
        let relay = group[at];
        let rest: Vec<u32> = group.iter().copied().filter(|n| *n != relay).collect();
        let request = Relay {
            pool_id: task.pool,
            method: task.method,
            input: task.input.to_vec(),
            long: task.long,
            nodes: rest.clone(),
        };
        let call = match RELAY.encode_input(&request) {
            Ok(input) => network.call(relay, PoolId::ADMIN, RELAY.id, &input, task.long),
            Err(e) => Err(Outcome::failed(TaskStatus::Error, e.to_string())),
        };
        sent.push(Sent::Relayed { relay, rest, call });
    }
    sent
}

fn waited(call: Result<std::sync::Arc<Completion>, Outcome>) -> Outcome {
    call.map_or_else(|o| o, |c| c.wait())
}

fn outcome(node: u32, o: Outcome) -> NodeOutcome {
    NodeOutcome { node, ok: o.status == TaskStatus::Ok, output: o.output }
}

/// A relay's answer: its group's outcomes, if it gave them.
fn decoded(answer: &Outcome) -> Option<Vec<NodeOutcome>> {
    if answer.status != TaskStatus::Ok {
        return None;
    }
    RELAY.decode_output(&answer.output).ok()
}
