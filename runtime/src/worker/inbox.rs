//! A worker's inbox for work that starts inside the runtime: subtasks,
//! wake-ups of its suspended tasks, and periodic tasks handed to it. Other
//! threads push; the worker alone pops. Pushing rings the worker's lane
//! doorbell, so a sleeping worker wakes as it does for a client's task.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crossbeam_queue::SegQueue;

use crate::ipc::Queue;
use crate::task::{InternalTask, PeriodicEntry};

/// One worker's inbox.
#[derive(Debug)]
pub struct Inbox {
    tasks: SegQueue<InternalTask>,
    wakeups: SegQueue<u32>,
    periodic: SegQueue<Arc<PeriodicEntry>>,
    /// Subtasks accepted and not yet finished.
    pending: AtomicUsize,
    /// Set when the worker is about to exit: no more subtasks accepted.
    closed: AtomicBool,
    queue: Queue,
    lane: u32,
}

impl Inbox {
    pub(super) fn new(queue: Queue, lane: u32) -> Inbox {
        Inbox {
            tasks: SegQueue::new(),
            wakeups: SegQueue::new(),
            periodic: SegQueue::new(),
            pending: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            queue,
            lane,
        }
    }

    fn ring(&self) {
        self.queue.lane(self.lane).ring();
    }

    /// Hands a subtask to this worker; gives it back if the worker has
    /// closed its inbox.
    pub(super) fn offer(&self, task: InternalTask) -> Result<(), InternalTask> {
        // Count first, then look at `closed`; the worker closes, then reads
        // the count (both SeqCst): one of the two sees the other.
        self.pending.fetch_add(1, Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            return Err(task);
        }
        self.tasks.push(task);
        self.ring();
        Ok(())
    }

    /// Asks the worker to resume its suspended fiber `fiber`.
    pub(super) fn wake(&self, fiber: u32) {
        self.wakeups.push(fiber);
        self.ring();
    }

    /// Hands a periodic task to this worker's timers.
    pub(super) fn add_periodic(&self, entry: Arc<PeriodicEntry>) {
        self.periodic.push(entry);
        self.ring();
    }

    // `SegQueue::pop` on an empty queue runs a SeqCst fence; `is_empty` is
    // two plain loads. The worker polls these on every round, so look first.

    pub(super) fn pop_wakeup(&self) -> Option<u32> {
        if self.wakeups.is_empty() { None } else { self.wakeups.pop() }
    }

    pub(super) fn pop_task(&self) -> Option<InternalTask> {
        if self.tasks.is_empty() { None } else { self.tasks.pop() }
    }

    pub(super) fn pop_periodic(&self) -> Option<Arc<PeriodicEntry>> {
        if self.periodic.is_empty() { None } else { self.periodic.pop() }
    }

    /// A subtask taken from this inbox has finished.
    pub(super) fn finished_one(&self) {
        self.pending.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether anything waits to be popped (a snapshot).
    pub(super) fn has_work(&self) -> bool {
        !self.wakeups.is_empty() || !self.tasks.is_empty() || !self.periodic.is_empty()
    }

    /// Refuses further subtasks; `true` once none is left to run.
    pub(super) fn close(&self) -> bool {
        self.closed.store(true, Ordering::SeqCst);
        self.pending.load(Ordering::SeqCst) == 0
    }

    /// Subtasks accepted and not finished (a snapshot, for statistics).
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }
}
