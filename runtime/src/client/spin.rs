//! How a client waits for a task it expects within microseconds: spin, and
//! when the task is its only one in flight, hand its core to whoever else
//! wants it every 5 µs.
//!
//! A spinning thread holds its core: a runtime thread woken onto that core
//! (the network thread carrying the client's remote call, say) waits until
//! the spinner sleeps or the scheduler's slice ends. On a two-core VM that
//! wait was a third of a remote round trip (docs/benchmarks.md); a
//! `sched_yield` every few microseconds lets the woken thread in at once.
//! A client with several tasks in flight does not yield: under EEVDF a
//! yield gives up the rest of the thread's slice, and a pipelining client
//! that gives up its slice is late to submit its next tasks.

use std::time::Duration;

/// How often a lone waiter yields.
const YIELD_EVERY: Duration = Duration::from_micros(5);

/// One wait's spin state.
#[derive(Debug)]
pub(super) struct Spinner {
    next_yield: Option<Duration>,
}

impl Spinner {
    /// The spin of a wait; `alone` when the task waited for is the
    /// client's only one in flight.
    pub(super) fn new(alone: bool) -> Spinner {
        Spinner { next_yield: alone.then_some(YIELD_EVERY) }
    }

    /// One round of waiting, `waited` into the wait.
    pub(super) fn pause(&mut self, waited: Duration) {
        match self.next_yield {
            Some(at) if waited >= at => {
                self.next_yield = Some(waited + YIELD_EVERY);
                std::thread::yield_now();
            }
            _ => std::hint::spin_loop(),
        }
    }
}
