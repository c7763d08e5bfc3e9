//! Operation counters and a latency histogram, all atomics, so workers
//! record without a lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chimaera_bdev_api::LatencyStats;

/// Buckets per doubling of latency: the p99 is exact to within 2^(1/8), 9%.
const PER_OCTAVE: f64 = 8.0;
const BUCKETS: usize = 40 * 8;

/// One kind of operation's figures.
#[derive(Debug)]
pub struct OpStats {
    count: AtomicU64,
    bytes: AtomicU64,
    total_ns: AtomicU64,
    buckets: Box<[AtomicU64]>,
}

impl Default for OpStats {
    fn default() -> Self {
        OpStats {
            count: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            total_ns: AtomicU64::new(0),
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

fn bucket(ns: u64) -> usize {
    (((ns.max(1) as f64).log2() * PER_OCTAVE) as usize).min(BUCKETS - 1)
}

impl OpStats {
    /// Records one operation.
    pub fn record(&self, bytes: u64, took: Duration) {
        let ns = took.as_nanos() as u64;
        self.count.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.total_ns.fetch_add(ns, Ordering::Relaxed);
        self.buckets[bucket(ns)].fetch_add(1, Ordering::Relaxed);
    }

    /// The figures now.
    pub fn snapshot(&self) -> LatencyStats {
        let count = self.count.load(Ordering::Relaxed);
        let total = self.total_ns.load(Ordering::Relaxed);
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let target = (count as f64 * 0.99).ceil() as u64;
        let mut seen = 0;
        let p99_ns = counts
            .iter()
            .position(|c| {
                seen += c;
                count > 0 && seen >= target
            })
            .map_or(0.0, |i| 2f64.powf((i + 1) as f64 / PER_OCTAVE));
        LatencyStats {
            count,
            bytes: self.bytes.load(Ordering::Relaxed),
            mean_us: if count == 0 { 0.0 } else { total as f64 / count as f64 / 1000.0 },
            p99_us: p99_ns / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_p99() {
        let s = OpStats::default();
        for _ in 0..99 {
            s.record(4096, Duration::from_micros(10));
        }
        s.record(4096, Duration::from_millis(5));
        let snap = s.snapshot();
        assert_eq!((snap.count, snap.bytes), (100, 409_600));
        assert!((snap.mean_us - (99.0 * 10.0 + 5000.0) / 100.0).abs() < 0.01);
        assert!(snap.p99_us >= 10.0 && snap.p99_us <= 11.0, "{}", snap.p99_us);
        assert_eq!(OpStats::default().snapshot().p99_us, 0.0);
    }
}
