//! Workers: one thread per lane. Scheduler workers serve the lanes that
//! fast tasks (estimated under 50 µs) go to; slow workers serve the lanes of
//! long tasks, so a long task never delays a fast one. With no slow workers,
//! clients send every task to scheduler lanes.
//!
//! Each task runs on a fiber (see `fiber.rs`): a task that waits for a
//! subtask is suspended and its worker runs other tasks meanwhile. Besides
//! its lane, a worker serves its inbox (subtasks, wake-ups, periodic tasks
//! handed to it) and the periodic tasks it owns.
//!
//! A worker with nothing to do spins for `first_busy_wait`, then sleeps on
//! its lane's doorbell (a futex in the shared segment) for `sleep_increment`,
//! then longer by `sleep_increment` each round up to `max_sleep`, or until
//! its next periodic task is due. Whoever queues work for a sleeping worker
//! rings the doorbell, so pick-up after idle is one futex wake. A worker
//! that has just handed a frame to the network thread yields its core once
//! before it spins (`handed_off`), so that thread need not wait for it.
//!
//! A client's task sent to one other node leaves its worker at once: the
//! network thread that receives the reply fills the client's slot.

mod execute;
pub mod fanout;
mod fiber;
mod idle;
mod inbox;
mod route;
mod spin_tokens;
mod stack_guard;
mod timers;

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{debug, error, warn};

use self::execute::{Job, fail_job};
use self::fiber::Fibers;
pub use self::fiber::{
    FiberRef, current_fiber, current_task_owner, on_admin_stack, suspend_current_fiber, yield_current_fiber,
};
use self::idle::Idle;
pub use self::inbox::Inbox;
pub use self::route::{schedule_periodic, submit};
use self::timers::Timers;
use crate::config::RuntimeSection;
use crate::ipc::{Queue, TaskStatus};
use crate::node::{Node, WorkerCounters, WorkerInfo};
use crate::task::Outcome;

/// How long a stopping runtime waits for suspended tasks to finish before it
/// abandons them.
const STOP_GRACE: Duration = Duration::from_secs(10);

thread_local! {
    static CURRENT_WORKER: Cell<Option<u32>> = const { Cell::new(None) };
    static HANDED_OFF: Cell<bool> = const { Cell::new(false) };
}

/// Notes that this thread just woke another to pass it work (a frame for
/// the network thread). A worker that then finds nothing to do yields its
/// core once before it spins: on a busy machine the woken thread may have
/// been queued behind it on this very core (docs/benchmarks.md).
pub fn handed_off() {
    HANDED_OFF.set(true);
}

/// The index (lane) of the worker running on this thread, if any.
pub fn current_worker() -> Option<u32> {
    CURRENT_WORKER.get()
}

/// What one worker's fibers share with it.
#[derive(Debug)]
pub(crate) struct WorkerShared {
    node: Arc<Node>,
    queue: Queue,
    lane: u32,
    counters: Arc<WorkerCounters>,
    inbox: Arc<Inbox>,
}

/// The running worker threads.
#[derive(Debug)]
pub struct Workers {
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts one worker per lane of `queue`.
    pub fn start(node: &Arc<Node>, queue: Queue, timing: &RuntimeSection) -> std::io::Result<Workers> {
        let layout = *queue.layout();
        let stack_size = usize::try_from(timing.stack_size.bytes()).unwrap_or(usize::MAX);
        stack_guard::install(stack_size);
        let inboxes: Vec<Arc<Inbox>> =
            (0..layout.num_lanes).map(|lane| Arc::new(Inbox::new(queue, lane))).collect();
        let _ = node.inboxes.set(inboxes.clone());
        let mut infos = Vec::new();
        let mut threads = Vec::new();
        let tokens = Arc::new(spin_tokens::SpinTokens::for_this_machine());
        for (lane, inbox) in (0..layout.num_lanes).zip(inboxes) {
            let kind = if lane < layout.sched_lanes { "sched" } else { "slow" };
            let counters = Arc::new(WorkerCounters::default());
            infos.push(WorkerInfo { kind, lane, counters: counters.clone(), inbox: inbox.clone() });
            let shared =
                Arc::new(WorkerShared { node: node.clone(), queue, lane, counters: counters.clone(), inbox });
            let idle = Idle::new(
                timing.first_busy_wait,
                timing.sleep_increment,
                timing.max_sleep,
                tokens.clone(),
                counters.clone(),
            );
            let thread = std::thread::Builder::new()
                .name(format!("chi-{kind}-{lane}"))
                .spawn(move || serve(shared, lane, idle, stack_size))?;
            threads.push(thread);
        }
        let _ = node.workers.set(infos);
        Ok(Workers { threads })
    }

    /// Tells every worker to finish and exit, and waits for them.
    pub fn stop(self, node: &Node, queue: &Queue) {
        node.stopping.store(true, Ordering::SeqCst);
        for lane in 0..queue.layout().num_lanes {
            queue.lane(lane).ring();
        }
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// One worker's loop: run what its lane and inbox hold; idle when there is
/// nothing; on stop, finish suspended tasks, then fail what is left in the
/// lane with "runtime stopping".
fn serve(shared: Arc<WorkerShared>, lane_index: u32, mut idle: Idle, stack_size: usize) {
    CURRENT_WORKER.set(Some(lane_index));
    stack_guard::prepare_thread();
    let queue = shared.queue;
    let node = shared.node.clone();
    let inbox = shared.inbox.clone();
    let lane = queue.lane(lane_index);
    let capacity = queue.layout().lane_capacity;
    let mut fibers = Fibers::new(shared.clone(), stack_size);
    let mut timers = Timers::default();
    let mut rounds: u32 = 0;
    let mut stop_began: Option<Instant> = None;
    debug!(lane = lane_index, "worker started");
    loop {
        let mut worked = fibers.run_ready();
        while let Some(fiber) = inbox.pop_wakeup() {
            fibers.wake(fiber);
            worked = true;
        }
        if let Some(task) = inbox.pop_task() {
            fibers.start(Job::Internal(task));
            idle.started();
            worked = true;
        }
        match lane.pop(capacity) {
            Ok(Some(slot)) => {
                fibers.start(Job::Slot(slot));
                idle.started();
                worked = true;
            }
            Ok(None) => {}
            Err(corrupt) => {
                error!(
                    lane = lane_index,
                    "the task queue's lane {lane_index} in shared memory is corrupt ({corrupt}): something wrote over the runtime's shared memory; the lane is reset and the tasks queued in it are lost"
                );
                lane.init(capacity);
            }
        }
        rounds = rounds.wrapping_add(1);
        // Timers are looked at on every idle round, and every 64 busy ones.
        if !worked || rounds.is_multiple_of(64) {
            let now = Instant::now();
            while let Some(entry) = inbox.pop_periodic() {
                timers.add(entry, now);
            }
            if !timers.is_empty() {
                timers.run_due(now, |entry| fibers.start(Job::Periodic(entry)));
            }
        }
        if worked {
            idle.reset();
            continue;
        }
        if node.stopping.load(Ordering::SeqCst) {
            let began = *stop_began.get_or_insert_with(Instant::now);
            if fibers.suspended() == 0 && !inbox.has_work() && inbox.close() {
                break;
            }
            if began.elapsed() > STOP_GRACE {
                warn!(
                    lane = lane_index,
                    suspended = fibers.suspended(),
                    "tasks still waiting {STOP_GRACE:?} after the stop began are abandoned"
                );
                inbox.close();
                break;
            }
        }
        if HANDED_OFF.replace(false) {
            std::thread::yield_now();
            continue;
        }
        idle.wait(lane, || !lane.is_empty() || inbox.has_work(), timers.next_deadline());
    }
    // Bounded by the lane's size, whatever its cells hold.
    for _ in 0..capacity {
        let Ok(Some(slot)) = lane.pop(capacity) else { break };
        fail_job(&shared, Job::Slot(slot), Outcome::failed(TaskStatus::Stopping, "runtime stopping"));
    }
    while let Some(task) = inbox.pop_task() {
        fail_job(&shared, Job::Internal(task), Outcome::failed(TaskStatus::Stopping, "runtime stopping"));
    }
    drop(fibers);
    CURRENT_WORKER.set(None);
    debug!(lane = lane_index, "worker stopped");
}
