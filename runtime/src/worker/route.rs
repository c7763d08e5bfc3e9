//! Where a subtask or periodic task goes. A short subtask submitted from a
//! scheduler worker stays on that worker (no cross-core hand-off; its
//! submitter is suspended anyway); otherwise tasks are spread round-robin
//! over the workers of their kind, as clients' tasks are over lanes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chimod_sdk::PoolId;

use super::current_worker;
use crate::ipc::TaskStatus;
use crate::node::Node;
use crate::task::{InternalTask, Outcome, PeriodicEntry};

/// Hands `task` to a worker. When no worker takes it (the runtime has
/// stopped), its completion gets a "runtime stopping" failure.
pub fn submit(node: &Node, task: InternalTask, long: bool) -> Result<(), Outcome> {
    let Some(inboxes) = node.inboxes.get() else {
        return Err(refuse(task, "the runtime's workers are not running"));
    };
    let sched = node.sched_workers().min(inboxes.len() as u32).max(1);
    let here = current_worker();
    let first = match (long, here) {
        (true, _) if (inboxes.len() as u32) > sched => sched + next(node) % (inboxes.len() as u32 - sched),
        (false, Some(w)) if w < sched => w,
        _ => next(node) % sched,
    };
    // The chosen worker first, then the submitter's own (it is running, so
    // it is open), then any other that is still open.
    let order = std::iter::once(first).chain(here).chain(0..inboxes.len() as u32);
    let mut task = task;
    for i in order {
        match inboxes[i as usize].offer(task) {
            Ok(()) => return Ok(()),
            Err(back) => task = back,
        }
    }
    Err(refuse(task, "runtime stopping"))
}

fn refuse(task: InternalTask, why: &str) -> Outcome {
    let outcome = Outcome::failed(TaskStatus::Stopping, why);
    if let Some(c) = &task.completion {
        c.complete(outcome.clone());
    }
    outcome
}

fn next(node: &Node) -> u32 {
    node.route_counter.fetch_add(1, Ordering::Relaxed)
}

/// Registers a periodic task and gives it to a scheduler worker.
pub fn schedule_periodic(
    node: &Node,
    pool: PoolId,
    method: u32,
    input: Vec<u8>,
    period: Duration,
) -> Result<Arc<PeriodicEntry>, String> {
    if period.is_zero() {
        return Err("the period of a periodic task must be at least 1 ms".to_owned());
    }
    let inboxes = node.inboxes.get().ok_or("the runtime's workers are not running")?;
    let entry = node.periodic.add(pool, method, input, period);
    let sched = node.sched_workers().min(inboxes.len() as u32).max(1);
    inboxes[(next(node) % sched) as usize].add_periodic(entry.clone());
    Ok(entry)
}
