//! Where a task's outcome is left for whoever waits for it.
//!
//! The waiter is either a task suspended on its fiber (woken by a message to
//! its worker's inbox) or a plain thread (unparked). Waiting from a fiber
//! never blocks the worker thread.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::Thread;

use crate::ipc::TaskStatus;
use crate::worker::{FiberRef, current_fiber, suspend_current_fiber};

/// A finished task: its status and its output (or error message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// How it ended.
    pub status: TaskStatus,
    /// Output when `Ok`, otherwise the message.
    pub output: Vec<u8>,
}

impl Outcome {
    /// A failure with a message.
    pub fn failed(status: TaskStatus, message: impl Into<String>) -> Outcome {
        Outcome { status, output: message.into().into_bytes() }
    }
}

enum Waiter {
    Fiber(FiberRef),
    Thread(Thread),
    /// Runs on whichever thread completes the task (a network reply).
    Callback(Box<dyn FnOnce(Outcome) + Send>),
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Waiter::Fiber(r) => f.debug_tuple("Fiber").field(r).finish(),
            Waiter::Thread(t) => f.debug_tuple("Thread").field(t).finish(),
            Waiter::Callback(_) => f.write_str("Callback"),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    outcome: Option<Outcome>,
    done: bool,
    waiter: Option<Waiter>,
}

/// The meeting point of a task and the one party waiting for it.
#[derive(Debug, Default)]
pub struct Completion {
    state: Mutex<State>,
}

impl Completion {
    /// A completion nobody has finished yet.
    pub fn new() -> Arc<Completion> {
        Arc::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned lock still
        // holds consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Leaves the outcome and wakes the waiter, if any.
    pub fn complete(&self, outcome: Outcome) {
        let waiter = {
            let mut state = self.lock();
            state.done = true;
            match state.waiter.take() {
                Some(Waiter::Callback(callback)) => {
                    drop(state);
                    callback(outcome);
                    return;
                }
                other => {
                    state.outcome = Some(outcome);
                    other
                }
            }
        };
        match waiter {
            Some(Waiter::Fiber(fiber)) => fiber.wake(),
            Some(Waiter::Thread(thread)) => thread.unpark(),
            Some(Waiter::Callback(_)) | None => {}
        }
    }

    /// Runs `callback` with the outcome once the task is done (at once if
    /// it is), on the thread that completes it. Instead of `wait`.
    pub fn on_complete(&self, callback: impl FnOnce(Outcome) + Send + 'static) {
        let mut state = self.lock();
        match state.outcome.take() {
            Some(outcome) => {
                drop(state);
                callback(outcome);
            }
            None => state.waiter = Some(Waiter::Callback(Box::new(callback))),
        }
    }

    /// Whether the task has finished.
    pub fn is_done(&self) -> bool {
        self.lock().done
    }

    /// Waits for the outcome and takes it. On a worker this suspends the
    /// calling task's fiber; elsewhere it parks the thread.
    pub fn wait(&self) -> Outcome {
        let fiber = current_fiber();
        loop {
            {
                let mut state = self.lock();
                if let Some(outcome) = state.outcome.take() {
                    return outcome;
                }
                if state.done {
                    return Outcome::failed(TaskStatus::Error, "the task's outcome was already taken");
                }
                state.waiter = Some(match &fiber {
                    Some(f) => Waiter::Fiber(f.clone()),
                    None => Waiter::Thread(std::thread::current()),
                });
            }
            match fiber {
                Some(_) => suspend_current_fiber(),
                None => std::thread::park(),
            }
        }
    }
}
