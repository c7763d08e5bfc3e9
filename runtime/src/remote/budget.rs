//! What one remote client may have in flight: tasks and bytes, from the
//! request read until its reply is written. Past either, the connection
//! stops reading requests, so TCP pushes back on the client, and a client
//! that never reads its replies cannot make the runtime hold more.

use std::sync::{Condvar, Mutex, PoisonError};

/// Tasks one connection may have in flight.
pub(super) const MAX_TASKS: u64 = 4096;
/// Bytes (inputs and outputs) one connection may have in flight; a single
/// task larger than this still runs, alone.
pub(super) const MAX_BYTES: u64 = 256 << 20;

#[derive(Debug, Default)]
struct Held {
    tasks: u64,
    bytes: u64,
    closed: bool,
}

/// A connection's budget.
#[derive(Debug, Default)]
pub(super) struct Budget {
    held: Mutex<Held>,
    freed: Condvar,
}

impl Budget {
    /// Waits until one more task of `bytes` fits (or the budget is closed:
    /// then `false`), and takes it.
    pub(super) fn acquire(&self, bytes: u64) -> bool {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if held.closed {
                return false;
            }
            let fits = held.tasks == 0 || (held.tasks < MAX_TASKS && held.bytes + bytes <= MAX_BYTES);
            if fits {
                held.tasks += 1;
                held.bytes += bytes;
                return true;
            }
            held = self.freed.wait(held).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Adds the bytes of a task's reply to what it holds.
    pub(super) fn grow(&self, bytes: u64) {
        self.held.lock().unwrap_or_else(PoisonError::into_inner).bytes += bytes;
    }

    /// Gives back one task holding `bytes` in all.
    pub(super) fn release(&self, bytes: u64) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.tasks = held.tasks.saturating_sub(1);
        held.bytes = held.bytes.saturating_sub(bytes);
        drop(held);
        self.freed.notify_all();
    }

    /// Wakes a reader waiting for room: the connection is ending.
    pub(super) fn close(&self) {
        self.held.lock().unwrap_or_else(PoisonError::into_inner).closed = true;
        self.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_budget_waits_for_a_release_and_a_closed_one_refuses() {
        let budget = std::sync::Arc::new(Budget::default());
        assert!(budget.acquire(MAX_BYTES + 1), "one task alone always fits");
        let waiting = {
            let budget = budget.clone();
            std::thread::spawn(move || budget.acquire(1))
        };
        budget.release(MAX_BYTES + 1);
        assert!(waiting.join().unwrap(), "room after the release");
        budget.close();
        assert!(!budget.acquire(1));
    }
}
