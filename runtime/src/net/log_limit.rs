//! Warnings a stranger can trigger at will (a peer with the wrong key, a
//! client that fails its handshake), let through at most once a second.

use std::time::{Duration, Instant};

/// Lets a warning through at most once a second, counting the others: a
/// peer with the wrong key sends every heartbeat interval, and a stranger
/// can connect as often as it likes.
#[derive(Debug)]
pub(crate) struct LogLimit {
    last: std::sync::Mutex<Option<Instant>>,
    quiet: std::sync::atomic::AtomicU64,
}

impl LogLimit {
    pub(crate) const fn new() -> LogLimit {
        LogLimit { last: std::sync::Mutex::new(None), quiet: std::sync::atomic::AtomicU64::new(0) }
    }

    /// `Some(how many were held back since)` when a line may be logged now.
    pub(crate) fn allow(&self) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
            self.quiet.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return None;
        }
        *last = Some(now);
        Some(self.quiet.swap(0, std::sync::atomic::Ordering::Relaxed))
    }
}
