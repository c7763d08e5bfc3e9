//! The gate every task of a pool passes on its way into the container: it
//! counts the tasks inside, and a live module upgrade closes it to hold new
//! tasks while the running ones drain and the container is swapped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Counts the tasks inside a pool's container; can hold new ones.
#[derive(Debug, Default)]
pub struct Gate {
    held: AtomicBool,
    inside: AtomicU64,
}

/// A task inside the container; leaving (also by a panic) is on drop.
#[derive(Debug)]
pub struct Inside<'g>(&'g Gate);

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.inside.fetch_sub(1, Ordering::Release);
    }
}

impl Gate {
    /// Enters; while the gate is held, the task yields its fiber (its
    /// worker runs other work meanwhile) and tries again.
    pub fn enter(&self) -> Inside<'_> {
        loop {
            if !self.held.load(Ordering::Acquire) {
                // SeqCst on both sides: either the upgrade sees this task
                // inside, or this task sees the gate held and backs out.
                self.inside.fetch_add(1, Ordering::SeqCst);
                if !self.held.load(Ordering::SeqCst) {
                    return Inside(self);
                }
                self.inside.fetch_sub(1, Ordering::SeqCst);
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

    /// Tasks inside now.
    pub fn inside(&self) -> u64 {
        self.inside.load(Ordering::SeqCst)
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
    }
}
