//! What an idle worker does: spin, then sleep in growing steps, and wake at
//! once when a client rings the lane's doorbell (or another thread posts to
//! the worker's inbox, which rings the same doorbell). A worker whose busy
//! period ran a single task spins longer, yielding (`crate::spin`): its
//! caller is likely one doing a call at a time, whose next task comes one
//! round trip later.

use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};
use std::time::{Duration, Instant};

use super::spin_tokens::SpinTokens;

use crate::ipc::{Lane, futex_wait};
use crate::node::WorkerCounters;
use crate::spin::{SpinBudget, Spinner};

/// The idle state of one worker.
#[derive(Debug)]
pub(super) struct Idle {
    first_busy_wait: Duration,
    increment: Duration,
    max_sleep: Duration,
    empty_since: Option<Instant>,
    next_sleep: Duration,
    /// Tasks started since the worker was last idle.
    started: u32,
    spinner: Spinner,
    spin: Duration,
    tokens: Arc<SpinTokens>,
    /// Whether this idle period's spin holds one of `tokens`.
    holding: bool,
    /// What spins after a batch (0) and after a single task (1) learnt.
    learnt: [SpinBudget; 2],
    /// Where the time spun and slept is added up, for the monitor.
    counters: Arc<WorkerCounters>,
}

impl Idle {
    pub(super) fn new(
        first_busy_wait: Duration,
        increment: Duration,
        max_sleep: Duration,
        tokens: Arc<SpinTokens>,
        counters: Arc<WorkerCounters>,
    ) -> Self {
        Idle {
            first_busy_wait,
            increment,
            max_sleep,
            empty_since: None,
            next_sleep: increment,
            started: 0,
            spinner: Spinner::new(false),
            spin: first_busy_wait,
            tokens,
            holding: false,
            learnt: [SpinBudget::new(); 2],
            counters,
        }
    }

    /// A task started.
    pub(super) fn started(&mut self) {
        self.started = self.started.saturating_add(1);
    }

    /// Work arrived: the next idle period starts from a spin again.
    pub(super) fn reset(&mut self) {
        self.stop_spinning();
        if let Some(since) = self.empty_since.take() {
            let idle = since.elapsed();
            self.counters.spin_us.fetch_add(idle.min(self.spin).as_micros() as u64, Ordering::Relaxed);
            let (learnt, ceiling) = self.this_period();
            learnt.learn(idle, ceiling);
        }
        self.next_sleep = self.increment;
    }

    /// What this idle period's kind of spin learnt, and its longest spin.
    fn this_period(&mut self) -> (&mut SpinBudget, Duration) {
        let ceiling = self.spinner.budget(self.first_busy_wait);
        (&mut self.learnt[usize::from(self.spinner.single())], ceiling)
    }

    fn stop_spinning(&mut self) {
        if std::mem::take(&mut self.holding) {
            self.tokens.give_back();
        }
    }

    /// Called when there is no work: spins a little, or sleeps until rung,
    /// the next sleep step passes, or `deadline` (a periodic task) comes.
    pub(super) fn wait(&mut self, lane: &Lane, has_work: impl Fn() -> bool, deadline: Option<Instant>) {
        let now = Instant::now();
        if self.empty_since.is_none() {
            // A busy period of timers or wake-ups alone (`started == 0`)
            // gets the plain spin: an idle runtime's periodic tasks must
            // not keep it spinning.
            self.spinner = Spinner::new(self.started == 1);
            self.started = 0;
            let (learnt, ceiling) = self.this_period();
            let budget = learnt.get(ceiling);
            self.holding = !budget.is_zero() && self.tokens.take();
            self.spin = if self.holding { budget } else { Duration::ZERO };
        }
        let since = *self.empty_since.get_or_insert(now);
        let waited = now.duration_since(since);
        if waited < self.spin {
            self.spinner.pause(waited, lane.worker_side());
            return;
        }
        self.stop_spinning();
        let nap = deadline.map_or(self.next_sleep, |d| self.next_sleep.min(d.saturating_duration_since(now)));
        if nap.is_zero() {
            return;
        }
        // Announce the sleep, then look once more: whoever queued work
        // before seeing the doorbell set is caught by this check, whoever
        // queues after sees the doorbell and wakes us (SeqCst on both sides).
        lane.doorbell.store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if !has_work() {
            let slept = Instant::now();
            futex_wait(&lane.doorbell, 1, nap);
            self.counters.sleep_us.fetch_add(slept.elapsed().as_micros() as u64, Ordering::Relaxed);
            self.next_sleep = (self.next_sleep + self.increment).min(self.max_sleep);
        }
        lane.doorbell.store(0, Ordering::SeqCst);
    }
}
