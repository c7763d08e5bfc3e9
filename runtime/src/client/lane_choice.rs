//! Which lane a submission goes to: `lane_map_policy` over the lanes of the
//! task's kind (scheduler lanes for fast tasks, slow lanes for long ones).
//!
//! A long task on a lane whose worker is busy waits for all of that
//! worker's work, so slow lanes are chosen by load first: the lane with the
//! fewest tasks queued or running, preferring a worker that is awake (a
//! sleeping one costs a futex wake-up), the policy's pick breaking ties.

use std::cell::Cell;
use std::ops::Range;
use std::sync::atomic::Ordering;

use crate::ipc::Queue;

/// Tasks estimated at or above this run on slow workers.
pub const SLOW_TASK_THRESHOLD: std::time::Duration = std::time::Duration::from_micros(50);

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
    /// This thread's `map_by_pid_tid` key (pid and tid are system calls).
    static PID_TID: u64 = (u64::from(std::process::id()) << 32) ^ thread_id();
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    (t ^ (u64::from(std::process::id()) << 32) ^ thread_id()) | 1
}

fn thread_id() -> u64 {
    rustix::thread::gettid().as_raw_nonzero().get() as u64
}

/// xorshift64*: plenty for spreading tasks over lanes.
fn next_random() -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

/// The lane for the next submission.
pub fn choose_lane(queue: &Queue, slow: bool) -> u32 {
    let Range { start, end } = queue.lanes_for(slow);
    let n = u64::from(end - start);
    let pick = match queue.header().lane_policy {
        1 => {
            let key = PID_TID.with(|k| *k);
            key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32
        }
        2 => next_random(),
        _ => queue.header().round_robin.fetch_add(1, Ordering::Relaxed),
    };
    let first = start + (pick % n) as u32;
    if !slow || n == 1 || queue.layout().num_lanes == queue.layout().sched_lanes {
        return first;
    }
    // From the policy's pick round: the least loaded, awake first.
    (0..end - start)
        .map(|i| start + (first - start + i) % (end - start))
        .min_by_key(|lane| {
            let lane_ref = queue.lane(*lane);
            (lane_ref.load(), lane_ref.asleep())
        })
        .unwrap_or(first)
}
