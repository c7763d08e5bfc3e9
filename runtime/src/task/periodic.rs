//! Periodic tasks: a pool method the runtime runs every `period`, such as
//! the admin heartbeat every `runtime.heartbeat_interval`.
//!
//! A run that has not finished when the next is due (it waits on a
//! subtask, say) is not doubled up: that tick is skipped and counted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chimod_sdk::PoolId;
use tracing::warn;

use super::Outcome;
use crate::ipc::TaskStatus;

/// One periodic task and its counters.
#[derive(Debug)]
pub struct PeriodicEntry {
    /// Its id, for cancelling it.
    pub id: u64,
    /// Target pool.
    pub pool: PoolId,
    /// Method number.
    pub method: u32,
    /// Encoded input, the same for every run.
    pub input: Vec<u8>,
    /// Time between runs.
    pub period: Duration,
    /// Runs finished.
    pub runs: AtomicU64,
    /// Runs that failed.
    pub failures: AtomicU64,
    /// Ticks skipped because the previous run was still going.
    pub skipped: AtomicU64,
    cancelled: AtomicBool,
    running: AtomicBool,
    last_error: Mutex<Option<String>>,
}

impl PeriodicEntry {
    /// Claims the next run; `false` (and a skipped tick) while one runs.
    pub fn try_begin(&self) -> bool {
        let began = self.running.compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed).is_ok();
        if !began {
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
        began
    }

    /// Records a finished run. A failure is logged when its message differs
    /// from the previous failure's, so a task failing every tick logs once.
    pub fn finish(&self, outcome: &Outcome) {
        self.runs.fetch_add(1, Ordering::Relaxed);
        if outcome.status != TaskStatus::Ok {
            self.failures.fetch_add(1, Ordering::Relaxed);
            let message = String::from_utf8_lossy(&outcome.output).into_owned();
            let mut last = self.last_error.lock().unwrap_or_else(PoisonError::into_inner);
            if last.as_deref() != Some(message.as_str()) {
                warn!(id = self.id, pool = %self.pool, method = self.method, "periodic task failed: {message}");
                *last = Some(message);
            }
        }
        self.running.store(false, Ordering::Release);
    }

    /// Stops further runs.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// Whether it was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// The most recent failure's message.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// This node's periodic tasks.
#[derive(Debug)]
pub struct PeriodicTasks {
    next_id: AtomicU64,
    entries: Mutex<Vec<Arc<PeriodicEntry>>>,
}

impl Default for PeriodicTasks {
    fn default() -> Self {
        PeriodicTasks { next_id: AtomicU64::new(1), entries: Mutex::default() }
    }
}

impl PeriodicTasks {
    /// Registers a periodic task; the caller hands it to a worker.
    pub fn add(&self, pool: PoolId, method: u32, input: Vec<u8>, period: Duration) -> Arc<PeriodicEntry> {
        let entry = Arc::new(PeriodicEntry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            pool,
            method,
            input,
            period,
            runs: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            cancelled: AtomicBool::new(false),
            running: AtomicBool::new(false),
            last_error: Mutex::new(None),
        });
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).push(entry.clone());
        entry
    }

    /// Cancels task `id`; `false` if there is none.
    pub fn cancel(&self, id: u64) -> bool {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(at) = entries.iter().position(|e| e.id == id) else { return false };
        entries.remove(at).cancel();
        true
    }

    /// Every registered task.
    pub fn list(&self) -> Vec<Arc<PeriodicEntry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}
