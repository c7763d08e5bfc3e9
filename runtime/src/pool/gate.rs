//! The gate every task of a pool passes on its way into the container: it
//! counts the tasks inside, and a live module upgrade closes it to hold new
//! tasks while the running ones drain and the container is swapped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Counts the tasks inside a pool's container; can hold new ones.
///
/// Two counters, entered and left, instead of one count inside: each task
/// pays one atomic add on the way in and one on the way out, and `left` is
/// also the pool's task count, so statistics cost nothing more.
#[derive(Debug, Default)]
pub struct Gate {
    held: AtomicBool,
    entered: AtomicU64,
    left: AtomicU64,
    /// Entries taken back because the gate was held (counted in `left`).
    backed_out: AtomicU64,
}

/// A task inside the container; leaving (also by a panic) is on drop.
/// An uncounted one (the runtime's own look at the container) is not a
/// task of the pool.
#[derive(Debug)]
pub struct Inside<'g> {
    gate: &'g Gate,
    counted: bool,
}

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        if !self.counted {
            self.gate.backed_out.fetch_add(1, Ordering::Relaxed);
        }
        self.gate.left.fetch_add(1, Ordering::Release);
    }
}

impl Gate {
    /// Enters; while the gate is held, the task yields its fiber (its
    /// worker runs other work meanwhile) and tries again.
    pub fn enter(&self) -> Inside<'_> {
        let mut inside = self.enter_uncounted();
        inside.counted = true;
        inside
    }

    /// Enters as [`Gate::enter`] does, for something that is not one of the
    /// pool's tasks (statistics, a flush): it is not counted in
    /// [`Gate::passed`].
    pub fn enter_uncounted(&self) -> Inside<'_> {
        loop {
            if !self.held.load(Ordering::Acquire) {
                // SeqCst on both sides: either the upgrade sees this task
                // inside, or this task sees the gate held and backs out.
                self.entered.fetch_add(1, Ordering::SeqCst);
                if !self.held.load(Ordering::SeqCst) {
                    return Inside { gate: self, counted: false };
                }
                self.backed_out.fetch_add(1, Ordering::SeqCst);
                self.left.fetch_add(1, Ordering::SeqCst);
            }
            crate::worker::yield_current_fiber();
        }
    }

    /// Holds new tasks at the gate.
    pub fn hold(&self) {
        self.held.store(true, Ordering::SeqCst);
    }

    /// Lets held and new tasks in again.
    pub fn release(&self) {
        self.held.store(false, Ordering::SeqCst);
    }

    /// Whether the gate is held with nobody inside: the one state in which
    /// a pool's container may be replaced.
    pub fn is_held_empty(&self) -> bool {
        self.held.load(Ordering::SeqCst) && self.inside() == 0
    }

    /// Tasks inside now. `left` is read first: a task entering meanwhile
    /// makes the figure larger, never a false zero.
    pub fn inside(&self) -> u64 {
        let left = self.left.load(Ordering::SeqCst);
        self.entered.load(Ordering::SeqCst).saturating_sub(left)
    }

    /// Tasks that passed through the gate since the pool was created.
    pub fn passed(&self) -> u64 {
        self.left.load(Ordering::Relaxed).saturating_sub(self.backed_out.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_gate_lets_no_task_in_until_released() {
        let gate = std::sync::Arc::new(Gate::default());
        let inside = gate.enter();
        gate.hold();
        assert_eq!(gate.inside(), 1);
        let entered = std::sync::Arc::new(AtomicBool::new(false));
        let waiter = {
            let (gate, entered) = (gate.clone(), entered.clone());
            std::thread::spawn(move || {
                let _in = gate.enter();
                entered.store(true, Ordering::SeqCst);
            })
        };
        drop(inside);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!entered.load(Ordering::SeqCst), "held");
        assert_eq!(gate.inside(), 0);
        gate.release();
        waiter.join().unwrap();
        assert!(entered.load(Ordering::SeqCst));
        assert_eq!(gate.inside(), 0);
        assert_eq!(gate.passed(), 2, "each task once, not its tries");
    }
}
