//! What an idle worker does: spin, then sleep in growing steps, and wake at
//! once when a client rings the lane's doorbell.

use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::time::{Duration, Instant};

use crate::ipc::{Lane, futex_wait};

/// The idle state of one worker.
#[derive(Debug)]
pub(super) struct Idle {
    first_busy_wait: Duration,
    increment: Duration,
    max_sleep: Duration,
    empty_since: Option<Instant>,
    next_sleep: Duration,
}

impl Idle {
    pub(super) fn new(first_busy_wait: Duration, increment: Duration, max_sleep: Duration) -> Self {
        Idle { first_busy_wait, increment, max_sleep, empty_since: None, next_sleep: increment }
    }

    /// Work arrived: the next idle period starts from a spin again.
    pub(super) fn reset(&mut self) {
        self.empty_since = None;
        self.next_sleep = self.increment;
    }

    /// Called when the lane is empty: spins a little, or sleeps.
    pub(super) fn wait(&mut self, lane: &Lane, stopping: &AtomicBool) {
        let since = *self.empty_since.get_or_insert_with(Instant::now);
        if since.elapsed() < self.first_busy_wait {
            for _ in 0..64 {
                std::hint::spin_loop();
            }
            return;
        }
        // Announce the sleep, then look once more: a client that pushed
        // before seeing the doorbell set is caught by this check, one that
        // pushes after sees the doorbell and wakes us (SeqCst on both sides).
        lane.doorbell.store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if lane.is_empty() && !stopping.load(Ordering::SeqCst) {
            futex_wait(&lane.doorbell, 1, self.next_sleep);
            self.next_sleep = (self.next_sleep + self.increment).min(self.max_sleep);
        }
        lane.doorbell.store(0, Ordering::SeqCst);
    }
}
