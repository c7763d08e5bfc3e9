//! Waiting for a condition that nothing announces (a log line, a stat, a
//! container's health): checked every `period` until it holds, or the test
//! fails naming what it waited for.

use std::time::{Duration, Instant};

/// Polls `check` every `period` until it holds; panics after `limit`.
pub fn poll_until(what: &str, limit: Duration, period: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "timed out waiting for {what} (within {limit:?})");
        std::thread::sleep(period);
    }
}
