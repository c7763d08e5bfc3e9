//! A lane: a bounded multi-producer ring of slot indices in shared memory.
//!
//! This is Dmitry Vyukov's bounded MPMC queue: each cell carries a sequence
//! number that says whose turn it is, so producers from many processes and
//! the consumer (the lane's worker) never take a lock. A producer claims a
//! position with a CAS on `enqueue_pos`, writes the slot index, then
//! publishes the cell by storing `pos + 1` into its sequence (release). The
//! consumer waits for that sequence (acquire), takes the index, and hands the
//! cell back to producers by storing `pos + capacity`.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

use crate::spin::Peer;

/// A lane whose positions and cells no runtime or client could have
/// written: something else wrote over the shared memory. Found instead of
/// spun on (a garbage sequence would otherwise make `pop` retry forever).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("dequeue position {position} finds a cell of sequence {sequence}")]
pub struct LaneCorrupt {
    /// The consumer's position.
    pub position: u64,
    /// What the cell there holds.
    pub sequence: u64,
}

/// A lane's head. `capacity` cells follow it in memory.
#[derive(Debug)]
#[repr(C, align(64))]
pub struct Lane {
    /// Next position to claim; written by producers (CAS).
    enqueue_pos: AtomicU64,
    _pad0: [u8; 56],
    /// Next position to take; written by the consumer (CAS).
    dequeue_pos: AtomicU64,
    /// Tasks taken and finished; written by the lane's worker only.
    finished: AtomicU64,
    _pad1: [u8; 48],
    /// 1 while the lane's worker is asleep (or about to be); the futex word
    /// producers wake it on.
    pub doorbell: AtomicU32,
    _pad2: [u8; 60],
    /// Where the worker last waited for work, and where the last client to
    /// queue here ran (CPU number + 1; 0 unknown): `crate::spin` yields at
    /// once instead of spinning when the other side waits for this very CPU.
    worker_cpu: AtomicU32,
    client_cpu: AtomicU32,
    _pad3: [u8; 56],
}

#[derive(Debug)]
#[repr(C)]
struct Cell {
    sequence: AtomicU64,
    slot: AtomicU32,
    _pad: u32,
}

impl Lane {
    /// Bytes a lane of `capacity` cells occupies.
    pub const fn bytes(capacity: u32) -> usize {
        size_of::<Lane>() + capacity as usize * size_of::<Cell>()
    }

    fn cell(&self, capacity: u32, pos: u64) -> &Cell {
        let index = (pos & (u64::from(capacity) - 1)) as usize;
        // SAFETY: the layout places `capacity` cells right after the lane
        // head (checked when the queue was attached), and `index < capacity`.
        unsafe { &*(self as *const Lane).add(1).cast::<Cell>().add(index) }
    }

    /// Sets an empty lane up. Runtime only: before the segment is `Ready`,
    /// or to reset a lane found corrupt (whatever it held is lost).
    pub fn init(&self, capacity: u32) {
        debug_assert!(capacity.is_power_of_two());
        self.enqueue_pos.store(0, Ordering::Relaxed);
        self.dequeue_pos.store(0, Ordering::Relaxed);
        self.finished.store(0, Ordering::Relaxed);
        self.doorbell.store(0, Ordering::Relaxed);
        self.worker_cpu.store(0, Ordering::Relaxed);
        self.client_cpu.store(0, Ordering::Relaxed);
        for i in 0..u64::from(capacity) {
            self.cell(capacity, i).sequence.store(i, Ordering::Relaxed);
        }
    }

    /// Appends `slot`; `Err(())` when the lane holds `depth` tasks already
    /// (or is corrupt: the caller's wait for room is bounded by its timeout).
    #[allow(clippy::result_unit_err)]
    pub fn push(&self, capacity: u32, depth: u32, slot: u32) -> Result<(), ()> {
        let mut pos = self.enqueue_pos.load(Ordering::Relaxed);
        loop {
            if pos.wrapping_sub(self.dequeue_pos.load(Ordering::Acquire)) >= u64::from(depth) {
                return Err(());
            }
            let cell = self.cell(capacity, pos);
            let seq = cell.sequence.load(Ordering::Acquire);
            let diff = seq.wrapping_sub(pos) as i64;
            if diff == 0 {
                match self.enqueue_pos.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        cell.slot.store(slot, Ordering::Relaxed);
                        cell.sequence.store(pos.wrapping_add(1), Ordering::Release);
                        return Ok(());
                    }
                    Err(current) => pos = current,
                }
            } else if diff < 0 {
                return Err(());
            } else {
                // Another producer claimed `pos`: it has moved on. If
                // nobody has, the cell is garbage; give up rather than spin.
                let now = self.enqueue_pos.load(Ordering::Relaxed);
                if now == pos {
                    return Err(());
                }
                pos = now;
            }
        }
    }

    /// Takes the oldest slot index, if any. Every retry follows another
    /// consumer's progress, so a lane of garbage is reported, not spun on.
    pub fn pop(&self, capacity: u32) -> Result<Option<u32>, LaneCorrupt> {
        let mut pos = self.dequeue_pos.load(Ordering::Relaxed);
        loop {
            let cell = self.cell(capacity, pos);
            let seq = cell.sequence.load(Ordering::Acquire);
            let diff = seq.wrapping_sub(pos.wrapping_add(1)) as i64;
            if diff == 0 {
                match self.dequeue_pos.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let slot = cell.slot.load(Ordering::Relaxed);
                        cell.sequence.store(pos.wrapping_add(u64::from(capacity)), Ordering::Release);
                        return Ok(Some(slot));
                    }
                    Err(current) => pos = current,
                }
            } else if diff == -1 {
                // The cell still waits for its producer: empty.
                return Ok(None);
            } else if diff < 0 {
                // The consumer finds a cell either published for it (0) or
                // not yet (-1); anything older no lane ever holds.
                return Err(LaneCorrupt { position: pos, sequence: seq });
            } else {
                let now = self.dequeue_pos.load(Ordering::Relaxed);
                if now == pos {
                    return Err(LaneCorrupt { position: pos, sequence: seq });
                }
                pos = now;
            }
        }
    }

    /// Wakes the lane's worker if it sleeps (or is about to), after
    /// something was queued for it.
    pub fn ring(&self) {
        // Pairs with the worker's fence between announcing its sleep and
        // looking for work once more.
        fence(Ordering::SeqCst);
        // A plain load first: while the worker is awake (the common case
        // under load) the doorbell's cache line is only read, not written.
        if self.doorbell.load(Ordering::Relaxed) != 0 && self.doorbell.swap(0, Ordering::SeqCst) != 0 {
            super::futex_wake(&self.doorbell);
        }
    }

    /// The hand-off as the lane's worker sees it: it stamps where it waits
    /// for work and looks where the last client to queue here ran.
    pub fn worker_side(&self) -> Peer<'_> {
        Peer::new(&self.worker_cpu, &self.client_cpu)
    }

    /// The hand-off as a client of the lane sees it.
    pub fn client_side(&self) -> Peer<'_> {
        Peer::new(&self.client_cpu, &self.worker_cpu)
    }

    /// The worker finished a task it took from this lane. Worker only.
    pub fn finish_one(&self) {
        // One writer: a plain increment, no locked instruction.
        self.finished.store(self.finished.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Tasks queued or running (a snapshot): how busy the lane's worker is.
    pub fn load(&self) -> u64 {
        self.enqueue_pos.load(Ordering::Relaxed).saturating_sub(self.finished.load(Ordering::Relaxed))
    }

    /// Whether the lane's worker sleeps (or is about to).
    pub fn asleep(&self) -> bool {
        self.doorbell.load(Ordering::Relaxed) != 0
    }

    /// Tasks waiting now (a snapshot).
    pub fn len(&self) -> u64 {
        self.enqueue_pos.load(Ordering::Relaxed).saturating_sub(self.dequeue_pos.load(Ordering::Relaxed))
    }

    /// Whether no task waits (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::alloc::{Layout, alloc_zeroed, dealloc};
    use std::sync::Arc;

    use super::*;

    /// A lane in ordinary (64-byte aligned) memory.
    struct TestLane {
        ptr: *mut u8,
        layout: Layout,
        capacity: u32,
    }

    // SAFETY: the lane is built for concurrent use through atomics only.
    unsafe impl Send for TestLane {}
    // SAFETY: as above.
    unsafe impl Sync for TestLane {}

    impl TestLane {
        fn new(capacity: u32) -> Arc<TestLane> {
            let layout = Layout::from_size_align(Lane::bytes(capacity), 64).unwrap();
            // SAFETY: non-zero size; zeroed memory is a valid (all-zero) Lane.
            let ptr = unsafe { alloc_zeroed(layout) };
            let lane = TestLane { ptr, layout, capacity };
            lane.lane().init(capacity);
            Arc::new(lane)
        }

        fn lane(&self) -> &Lane {
            // SAFETY: allocated with the lane's size and alignment above.
            unsafe { &*self.ptr.cast::<Lane>() }
        }
    }

    impl Drop for TestLane {
        fn drop(&mut self) {
            // SAFETY: allocated in `new` with this layout.
            unsafe { dealloc(self.ptr, self.layout) }
        }
    }

    #[test]
    fn fifo_and_depth_bound() {
        let t = TestLane::new(8);
        let lane = t.lane();
        for i in 0..5 {
            lane.push(8, 5, i).unwrap();
        }
        assert!(lane.push(8, 5, 99).is_err(), "depth 5 reached");
        assert_eq!(lane.len(), 5);
        for i in 0..5 {
            assert_eq!(lane.pop(8), Ok(Some(i)));
        }
        assert_eq!(lane.pop(8), Ok(None));
        // Wrap around many times.
        for i in 0..1000 {
            lane.push(8, 8, i).unwrap();
            assert_eq!(lane.pop(8), Ok(Some(i)));
        }
    }

    #[test]
    fn many_producers_one_consumer_lose_nothing() {
        const PRODUCERS: u32 = 4;
        const EACH: u32 = 20_000;
        let t = TestLane::new(64);
        let handles: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for i in 0..EACH {
                        let value = p * EACH + i;
                        while t.lane().push(t.capacity, t.capacity, value).is_err() {
                            std::hint::spin_loop();
                        }
                    }
                })
            })
            .collect();
        let mut seen = vec![false; (PRODUCERS * EACH) as usize];
        let mut last = vec![None::<u32>; PRODUCERS as usize];
        let mut got = 0;
        while got < PRODUCERS * EACH {
            if let Ok(Some(v)) = t.lane().pop(t.capacity) {
                assert!(!std::mem::replace(&mut seen[v as usize], true), "{v} twice");
                let producer = (v / EACH) as usize;
                assert!(last[producer] < Some(v), "per-producer order broken");
                last[producer] = Some(v);
                got += 1;
            }
        }
        handles.into_iter().for_each(|h| h.join().unwrap());
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn garbage_is_reported_not_spun_on_and_a_reset_lane_serves_again() {
        let t = TestLane::new(8);
        let lane = t.lane();
        lane.push(8, 8, 1).unwrap();
        // What a stray write over the segment leaves: positions and cells
        // no producer or consumer wrote.
        lane.dequeue_pos.store(0xa1b2_c3d4_e5f6_0718, Ordering::Relaxed);
        lane.enqueue_pos.store(u64::MAX, Ordering::Relaxed);
        for i in 0..8 {
            lane.cell(8, i).sequence.store(0xdead_beef_dead_beef, Ordering::Relaxed);
        }
        let err = lane.pop(8).unwrap_err();
        assert_eq!(err, LaneCorrupt { position: 0xa1b2_c3d4_e5f6_0718, sequence: 0xdead_beef_dead_beef });
        assert!(lane.push(8, 8, 2).is_err(), "a producer gives up too");
        lane.init(8);
        lane.push(8, 8, 3).unwrap();
        assert_eq!(lane.pop(8), Ok(Some(3)));
    }
}
