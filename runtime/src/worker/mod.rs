//! Workers: one thread per lane. Scheduler workers serve the lanes that
//! fast tasks (estimated under 50 µs) go to; slow workers serve the lanes of
//! long tasks, so a long task never delays a fast one. With no slow workers,
//! clients send every task to scheduler lanes.
//!
//! A worker that finds its lane empty spins for `first_busy_wait`, then
//! sleeps on its lane's doorbell (a futex in the shared segment) for
//! `sleep_increment`, then longer by `sleep_increment` each round up to
//! `max_sleep`. A client that pushes into a sleeping worker's lane rings the
//! doorbell, so pick-up after idle is one futex wake, not a sleep period.

mod execute;
mod idle;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use tracing::debug;

use self::execute::execute;
use self::idle::Idle;
use crate::config::RuntimeSection;
use crate::ipc::{Queue, TaskStatus, futex_wake};
use crate::node::{Node, WorkerCounters, WorkerInfo};

/// The running worker threads.
#[derive(Debug)]
pub struct Workers {
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts one worker per lane of `queue`.
    pub fn start(node: &Arc<Node>, queue: Queue, timing: &RuntimeSection) -> std::io::Result<Workers> {
        let layout = *queue.layout();
        let mut infos = Vec::new();
        let mut threads = Vec::new();
        for lane in 0..layout.num_lanes {
            let kind = if lane < layout.sched_lanes { "sched" } else { "slow" };
            let counters = Arc::new(WorkerCounters::default());
            infos.push(WorkerInfo { kind, lane, counters: counters.clone() });
            let node = node.clone();
            let idle = Idle::new(timing.first_busy_wait, timing.sleep_increment, timing.max_sleep);
            let thread = std::thread::Builder::new()
                .name(format!("chi-{kind}-{lane}"))
                .spawn(move || serve(&node, queue, lane, idle, &counters))?;
            threads.push(thread);
        }
        let _ = node.workers.set(infos);
        Ok(Workers { threads })
    }

    /// Tells every worker to drain its lane and exit, and waits for them.
    pub fn stop(self, node: &Node, queue: &Queue) {
        node.stopping.store(true, Ordering::SeqCst);
        for lane in 0..queue.layout().num_lanes {
            let doorbell = &queue.lane(lane).doorbell;
            doorbell.store(0, Ordering::SeqCst);
            futex_wake(doorbell);
        }
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// One worker's loop: run what its lane holds; idle when empty; on stop,
/// fail what is left with "runtime stopping".
fn serve(node: &Node, queue: Queue, lane_index: u32, mut idle: Idle, counters: &WorkerCounters) {
    let lane = queue.lane(lane_index);
    let capacity = queue.layout().lane_capacity;
    debug!(lane = lane_index, "worker started");
    loop {
        if let Some(slot) = lane.pop(capacity) {
            execute(node, &queue, slot, counters);
            idle.reset();
            continue;
        }
        if node.stopping.load(Ordering::SeqCst) {
            break;
        }
        idle.wait(lane, &node.stopping);
    }
    while let Some(slot) = lane.pop(capacity) {
        if let Some(s) = queue.try_slot(slot)
            && !s.complete(TaskStatus::Stopping, b"runtime stopping")
        {
            queue.release(slot);
        }
    }
    debug!(lane = lane_index, "worker stopped");
}
