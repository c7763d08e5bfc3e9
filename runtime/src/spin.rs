//! How a thread that expects work within microseconds waits for it: it
//! spins, and when it waits on a single task (a caller doing one call at a
//! time) it spins longer and hands its core to whoever else wants it every
//! 5 µs.
//!
//! Why longer for a single task: a caller doing one call at a time sends
//! its next task one round trip after the last. A worker or client that
//! has gone to sleep by then must be woken, and on a VM waking a thread
//! whose virtual CPU has halted costs tens of microseconds per hand-off
//! (50 µs on the two-core VM of docs/benchmarks.md, where a remote call
//! crosses five threads). Spinning through the round trip keeps the
//! threads awake, so the call costs what the network costs.
//!
//! Why yield: a spinning thread holds its core, and a runtime thread woken
//! onto that core (the network thread carrying the call, say) would wait
//! until the spinner sleeps or its slice ends. A yield every few
//! microseconds lets the woken thread in at once. A thread with a batch of
//! work does not yield: under EEVDF a yield gives up the rest of the
//! thread's slice, and a pipelining client or a worker draining a batch
//! that gives up its slice is late with its next tasks.

use std::time::Duration;

/// How often a single-task waiter yields.
const YIELD_EVERY: Duration = Duration::from_micros(5);

/// How long a single-task waiter spins before it sleeps: longer than a
/// remote round trip on a slow VM (about 300 µs with two nodes on two
/// cores), short enough that an idle runtime is soon idle.
pub(crate) const SINGLE_TASK_SPIN: Duration = Duration::from_micros(500);

/// One wait's spin state.
#[derive(Debug)]
pub(crate) struct Spinner {
    next_yield: Option<Duration>,
}

impl Spinner {
    /// The spin of a wait; `single` when it waits on a single task (the
    /// only one a client has in flight, or the only one a worker's last
    /// busy period ran).
    pub(crate) fn new(single: bool) -> Spinner {
        Spinner { next_yield: single.then_some(YIELD_EVERY) }
    }

    /// How long this wait spins before it sleeps, given the plain spin of
    /// its kind; a plain spin of zero (spinning turned off) stays zero.
    pub(crate) fn budget(&self, plain: Duration) -> Duration {
        match self.next_yield {
            Some(_) if !plain.is_zero() => plain.max(SINGLE_TASK_SPIN),
            _ => plain,
        }
    }

    /// One round of waiting, `waited` into the wait.
    pub(crate) fn pause(&mut self, waited: Duration) {
        match self.next_yield {
            Some(at) if waited >= at => {
                self.next_yield = Some(waited + YIELD_EVERY);
                std::thread::yield_now();
            }
            _ => std::hint::spin_loop(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_task_wait_spins_longer_unless_spinning_is_off() {
        let plain = Duration::from_micros(50);
        assert_eq!(Spinner::new(false).budget(plain), plain);
        assert_eq!(Spinner::new(true).budget(plain), SINGLE_TASK_SPIN);
        assert_eq!(Spinner::new(true).budget(Duration::ZERO), Duration::ZERO);
        let long = Duration::from_millis(2);
        assert_eq!(Spinner::new(true).budget(long), long);
    }

    #[test]
    fn a_single_task_wait_yields_every_few_microseconds() {
        let mut s = Spinner::new(true);
        s.pause(Duration::from_micros(1));
        assert_eq!(s.next_yield, Some(YIELD_EVERY));
        s.pause(Duration::from_micros(6));
        assert_eq!(s.next_yield, Some(Duration::from_micros(11)));
        let mut batch = Spinner::new(false);
        batch.pause(Duration::from_micros(100));
        assert_eq!(batch.next_yield, None);
    }
}
