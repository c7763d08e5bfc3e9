//! How a thread waits for work it expects within microseconds: spin, and
//! every so often hand the core to whoever else wants it.
//!
//! A spinning thread holds its core: a thread woken onto that core (the
//! network thread a worker just queued a frame for, say) waits until the
//! spinner sleeps or the scheduler's slice ends. On a two-core VM that
//! wait was half of a remote round trip (docs/benchmarks.md). A
//! `sched_yield` now and then lets the woken thread in at once. Not too
//! often: under EEVDF a yield gives up the rest of the thread's slice, so a
//! thread that yields all the time is the last to run when it has work.
//! The periods below are the ones that measured best on the remote bench:
//! workers yielding more often cost pipelined throughput, clients yielding
//! less often cost round-trip time.

use std::time::Duration;

/// One waiter's spin state.
#[derive(Debug)]
pub struct Spinner {
    every: Option<Duration>,
    next: Duration,
}

impl Spinner {
    /// An idle worker's spin: yields every 20 µs.
    pub fn worker() -> Spinner {
        Spinner::yielding_every(None)
    }

    /// A client's wait for one task: yields every 5 µs when it is the
    /// client's only task in flight, never when the client keeps others in
    /// flight too (a pipelining client that gives up its slice is late to
    /// submit the next ones).
    pub fn client(alone: bool) -> Spinner {
        Spinner::yielding_every(alone.then_some(Duration::from_micros(5)))
    }

    fn yielding_every(every: Option<Duration>) -> Spinner {
        Spinner { every, next: every.unwrap_or(Duration::MAX) }
    }

    /// One round of waiting, `waited` into the wait.
    pub fn pause(&mut self, waited: Duration) {
        match self.every {
            Some(every) if waited >= self.next => {
                self.next = waited + every;
                std::thread::yield_now();
            }
            _ => std::hint::spin_loop(),
        }
    }
}
