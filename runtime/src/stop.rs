//! How a running runtime is told to stop: a signal, or (later) an admin task.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Why the runtime stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// SIGINT or SIGTERM, by name.
    Signal(&'static str),
    /// A client asked through the admin module.
    Requested(String),
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Signal(name) => write!(f, "received {name}"),
            StopReason::Requested(by) => write!(f, "stop requested by {by}"),
        }
    }
}

/// A one-shot stop request that any thread can trigger and one waits for.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<(Mutex<Option<StopReason>>, Condvar)>);

impl StopSignal {
    /// A signal that nothing has triggered yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the first reason given and wakes the waiter.
    pub fn trigger(&self, reason: StopReason) {
        let (lock, cond) = &*self.0;
        let mut slot = lock.lock().unwrap_or_else(PoisonError::into_inner);
        slot.get_or_insert(reason);
        cond.notify_all();
    }

    /// Blocks until triggered; returns the first reason.
    pub fn wait(&self) -> StopReason {
        let (lock, cond) = &*self.0;
        let slot = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = cond.wait_while(slot, |s| s.is_none()).unwrap_or_else(PoisonError::into_inner);
        slot.clone().expect("woken only once a reason is set")
    }

    /// Triggers this signal on SIGINT and SIGTERM.
    pub fn on_termination_signals(&self) -> std::io::Result<()> {
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        let stop = self.clone();
        std::thread::Builder::new().name("chi-signals".into()).spawn(move || {
            if let Some(sig) = signals.forever().next() {
                stop.trigger(StopReason::Signal(if sig == SIGINT { "SIGINT" } else { "SIGTERM" }));
            }
        })?;
        Ok(())
    }
}

/// How long a stop may take in all (workers draining, pools destroyed,
/// devices flushed) before the runtime gives up on finishing it: it then
/// removes its shared memory and exits with code 1. A stuck module or a
/// corrupted queue can delay a stop, never prevent it.
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

/// A deadline for a stop: unless dropped (the stop finished) within the
/// grace, `on_expiry` runs on a thread of its own.
#[derive(Debug)]
pub struct StopDeadline {
    done: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StopDeadline {
    /// Starts the clock.
    pub fn arm(
        grace: std::time::Duration,
        on_expiry: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<Self> {
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let watched = done.clone();
        let thread = std::thread::Builder::new().name("chi-stop-deadline".into()).spawn(move || {
            let (lock, cond) = &*watched;
            let finished = lock.lock().unwrap_or_else(PoisonError::into_inner);
            let (finished, _) =
                cond.wait_timeout_while(finished, grace, |f| !*f).unwrap_or_else(PoisonError::into_inner);
            if !*finished {
                drop(finished);
                on_expiry();
            }
        })?;
        Ok(StopDeadline { done, thread: Some(thread) })
    }
}

impl Drop for StopDeadline {
    fn drop(&mut self) {
        let (lock, cond) = &*self.done;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        cond.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_deadline_fires_only_if_not_dropped_in_time() {
        let fired = Arc::new(AtomicBool::new(false));
        let flag = fired.clone();
        drop(StopDeadline::arm(Duration::from_secs(60), move || flag.store(true, Ordering::SeqCst)).unwrap());
        assert!(!fired.load(Ordering::SeqCst), "dropped in time: no expiry");
        let (tx, rx) = std::sync::mpsc::channel();
        let deadline = StopDeadline::arm(Duration::from_millis(1), move || tx.send(()).unwrap()).unwrap();
        rx.recv_timeout(Duration::from_secs(60)).expect("the deadline fired");
        drop(deadline);
    }
}
