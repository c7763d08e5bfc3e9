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
