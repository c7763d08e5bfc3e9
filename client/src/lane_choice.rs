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

use chimaera_protocol::ipc::Queue;
use chimaera_protocol::ipc::lane_policy::{MAP_BY_PID_TID, RANDOM};

/// A fast task goes to a sleeping worker's lane rather than to an awake
/// worker that has this many tasks waiting already (or half its lane's
/// `queue_depth`, if less: a full lane would make the client wait).
const SPILL_QUEUED: u64 = 64;

fn spill_at(queue: &Queue) -> u64 {
    SPILL_QUEUED.min(u64::from(queue.layout().queue_depth / 2)).max(1)
}

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
    let policy = queue.header().lane_policy;
    let pick = match policy {
        MAP_BY_PID_TID => {
            let key = PID_TID.with(|k| *k);
            key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32
        }
        RANDOM => next_random(),
        _ => queue.header().round_robin.fetch_add(1, Ordering::Relaxed),
    };
    let first = start + (pick % n) as u32;
    let others = || (1..end - start).map(move |i| start + (first - start + i) % (end - start));
    if n == 1 {
        return first;
    }
    if slow && queue.layout().num_lanes > queue.layout().sched_lanes {
        // From the policy's pick round: the least loaded, awake first.
        return std::iter::once(first)
            .chain(others())
            .min_by_key(|lane| {
                let lane_ref = queue.lane(*lane);
                (lane_ref.load(), lane_ref.asleep())
            })
            .unwrap_or(first);
    }
    if policy == MAP_BY_PID_TID || !queue.lane(first).asleep() {
        return first;
    }
    // The pick's worker sleeps: an awake one takes the task unless it is
    // falling behind (waking a worker costs tens of microseconds).
    let spill = spill_at(queue);
    others()
        .find(|lane| {
            let lane_ref = queue.lane(*lane);
            !lane_ref.asleep() && lane_ref.len() < spill
        })
        .unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use chimaera_protocol::ipc::lane_policy::ROUND_ROBIN;
    use chimaera_protocol::ipc::test_queue;

    fn sleeping(queue: &Queue, lanes: &[u32]) {
        for lane in 0..queue.layout().num_lanes {
            queue.lane(lane).doorbell.store(u32::from(lanes.contains(&lane)), Ordering::Relaxed);
        }
    }

    fn queue_tasks(queue: &Queue, lane: u32, n: u64) {
        let l = queue.layout();
        for slot in 0..n {
            queue.lane(lane).push(l.lane_capacity, l.queue_depth, slot as u32).unwrap();
        }
    }

    #[test]
    fn round_robin_spreads_over_awake_workers() {
        let (_mem, queue) = test_queue::new(4, 0, 1024, ROUND_ROBIN);
        let picks: Vec<u32> = (0..8).map(|_| choose_lane(&queue, false)).collect();
        assert_eq!(picks, [0, 1, 2, 3, 0, 1, 2, 3]);
    }

    #[test]
    fn fast_tasks_go_to_the_awake_worker_while_the_others_sleep() {
        let (_mem, queue) = test_queue::new(4, 0, 1024, ROUND_ROBIN);
        sleeping(&queue, &[0, 1, 3]);
        let picks: Vec<u32> = (0..8).map(|_| choose_lane(&queue, false)).collect();
        assert_eq!(picks, [2; 8]);
        // With every worker asleep, the policy's pick is woken.
        sleeping(&queue, &[0, 1, 2, 3]);
        let picks: Vec<u32> = (0..4).map(|_| choose_lane(&queue, false)).collect();
        assert_eq!(picks, [0, 1, 2, 3]);
    }

    #[test]
    fn an_awake_worker_that_falls_behind_lets_a_sleeping_one_wake() {
        let (_mem, queue) = test_queue::new(4, 0, 1024, ROUND_ROBIN);
        sleeping(&queue, &[1, 2, 3]);
        assert_eq!(spill_at(&queue), SPILL_QUEUED);
        queue_tasks(&queue, 0, SPILL_QUEUED - 1);
        assert_eq!(choose_lane(&queue, false), 0);
        assert_eq!(choose_lane(&queue, false), 0, "the pick (1) sleeps: lane 0 still has room");
        queue_tasks(&queue, 0, 1);
        let picks: Vec<u32> = (0..4).map(|_| choose_lane(&queue, false)).collect();
        assert_eq!(picks, [2, 3, 0, 1], "lane 0 is behind: the policy's picks are woken");
    }

    #[test]
    fn a_shallow_lane_spills_at_half_its_depth() {
        let (_mem, queue) = test_queue::new(2, 0, 16, ROUND_ROBIN);
        assert_eq!(spill_at(&queue), 8);
        sleeping(&queue, &[1]);
        queue_tasks(&queue, 0, 8);
        let picks: Vec<u32> = (0..2).map(|_| choose_lane(&queue, false)).collect();
        assert_eq!(picks, [0, 1]);
        let (_mem, queue) = test_queue::new(2, 0, 1, ROUND_ROBIN);
        assert_eq!(spill_at(&queue), 1);
    }

    #[test]
    fn map_by_pid_tid_keeps_a_thread_on_its_lane_even_when_it_sleeps() {
        let (_mem, queue) = test_queue::new(4, 0, 1024, MAP_BY_PID_TID);
        let own = choose_lane(&queue, false);
        sleeping(&queue, &[own]);
        assert!((0..8).all(|_| choose_lane(&queue, false) == own));
    }

    #[test]
    fn slow_tasks_go_to_the_least_loaded_slow_lane_awake_first() {
        let (_mem, queue) = test_queue::new(2, 3, 1024, ROUND_ROBIN);
        queue_tasks(&queue, 2, 2);
        queue_tasks(&queue, 3, 1);
        queue_tasks(&queue, 4, 1);
        sleeping(&queue, &[4]);
        assert!((0..3).all(|_| choose_lane(&queue, true) == 3), "equal loads: the awake worker");
        queue_tasks(&queue, 3, 1);
        assert_eq!(choose_lane(&queue, true), 4, "the least loaded, though it sleeps");
        assert!((0..4).all(|_| choose_lane(&queue, false) < 2), "fast tasks stay on scheduler lanes");
    }
}
