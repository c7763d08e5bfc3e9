//! Where everything sits in the `main` segment, and the [`Queue`] view
//! that both the runtime and clients use.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::header::{Header, LAYOUT_VERSION, MAGIC, MAX_CLIENTS, RuntimeState};
use super::lane::Lane;
use super::slot::{SLOT_SIZE, Slot, state};

const NIL: u32 = u32::MAX;

/// Why a segment cannot hold, or does not hold, a valid queue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// The configured sizes do not fit.
    #[error(
        "memory.main_segment_size ({have} bytes) is too small for {lanes} lanes of queue_depth {depth}: it needs at least {need} bytes"
    )]
    TooSmall {
        /// Bytes available.
        have: u64,
        /// Bytes needed.
        need: u64,
        /// Lanes asked for.
        lanes: u32,
        /// Depth asked for.
        depth: u32,
    },
    /// The segment was not written by a compatible runtime.
    #[error("shared memory segment is not a Chimaera queue of this version ({0})")]
    Foreign(String),
}

/// Offsets and counts of a queue, computed from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Lanes served by scheduler workers.
    pub sched_lanes: u32,
    /// All lanes.
    pub num_lanes: u32,
    /// Cells per lane.
    pub lane_capacity: u32,
    /// Tasks a lane accepts.
    pub queue_depth: u32,
    /// Byte offset of lane 0.
    pub lanes_offset: u64,
    /// Bytes per lane.
    pub lane_stride: u64,
    /// Byte offset of slot 0.
    pub slots_offset: u64,
    /// Slots.
    pub num_slots: u32,
    /// Slots only admin-pool tasks may take (see `Header::admin_reserve`).
    pub admin_reserve: u32,
}

/// Cells a lane has beyond `queue_depth`, which only admin-pool tasks may
/// fill: a lane that other clients filled still takes a status or stop.
pub const ADMIN_LANE_ROOM: u32 = 64;

const fn round_up(value: u64, to: u64) -> u64 {
    value.div_ceil(to) * to
}

impl Layout {
    /// One lane per worker, and as many slots as fit after the lanes: a
    /// client may hold many finished tasks it has not collected yet, so
    /// slots are not bounded by the lanes' depth.
    pub fn compute(
        segment_bytes: u64,
        sched_lanes: u32,
        slow_lanes: u32,
        queue_depth: u32,
    ) -> Result<Layout, LayoutError> {
        // Bounded by the configuration's own range; checked, never wrapped.
        let lane_capacity =
            queue_depth.max(2).checked_add(ADMIN_LANE_ROOM).and_then(u32::checked_next_power_of_two).ok_or(
                LayoutError::TooSmall {
                    have: segment_bytes,
                    need: u64::MAX,
                    lanes: sched_lanes,
                    depth: queue_depth,
                },
            )?;
        let Some(num_lanes) = sched_lanes.checked_add(slow_lanes) else {
            return Err(LayoutError::TooSmall {
                have: segment_bytes,
                need: u64::MAX,
                lanes: u32::MAX,
                depth: queue_depth,
            });
        };
        let lanes_offset = round_up(size_of::<Header>() as u64, 64);
        let lane_stride = round_up(Lane::bytes(lane_capacity) as u64, 64);
        let slots_offset = round_up(lanes_offset + lane_stride * u64::from(num_lanes), SLOT_SIZE as u64);
        // A few slots per lane at the very least, or nothing could flow.
        let min_slots = u64::from(num_lanes) * 4;
        let need = slots_offset + min_slots * SLOT_SIZE as u64;
        if segment_bytes < need {
            return Err(LayoutError::TooSmall {
                have: segment_bytes,
                need,
                lanes: num_lanes,
                depth: queue_depth,
            });
        }
        let fit = (segment_bytes - slots_offset) / SLOT_SIZE as u64;
        let num_slots = fit.min(u64::from(NIL - 1)) as u32;
        let admin_reserve = (num_slots / 8).min(64);
        Ok(Layout {
            sched_lanes,
            num_lanes,
            lane_capacity,
            queue_depth,
            lanes_offset,
            lane_stride,
            slots_offset,
            num_slots,
            admin_reserve,
        })
    }
}

/// The queue in a mapped `main` segment.
#[derive(Debug, Clone, Copy)]
pub struct Queue {
    base: *mut u8,
    layout: Layout,
}

// SAFETY: every shared field is an atomic; the queue is built for use from
// many threads and processes at once.
unsafe impl Send for Queue {}
// SAFETY: as above.
unsafe impl Sync for Queue {}

impl Queue {
    /// Writes an empty queue into a fresh segment; its state is `Starting`.
    ///
    /// # Safety
    /// `base` must map `len` writable bytes, aligned to a page, that outlive
    /// every use of the returned queue, and no client may use it yet.
    pub unsafe fn init(base: *mut u8, len: u64, layout: Layout, lane_policy: u32) -> Queue {
        assert!(layout.slots_offset + u64::from(layout.num_slots) * SLOT_SIZE as u64 <= len);
        // SAFETY: the header fits at the start of the mapping (checked above).
        let header = unsafe { &mut *base.cast::<Header>() };
        *header = Header {
            magic: MAGIC,
            layout_version: LAYOUT_VERSION,
            runtime_pid: std::process::id(),
            incarnation: super::header::fresh_incarnation(),
            sched_lanes: layout.sched_lanes,
            num_lanes: layout.num_lanes,
            lane_capacity: layout.lane_capacity,
            queue_depth: layout.queue_depth,
            num_slots: layout.num_slots,
            slot_size: SLOT_SIZE as u32,
            lane_policy,
            lanes_offset: layout.lanes_offset,
            lane_stride: layout.lane_stride,
            slots_offset: layout.slots_offset,
            state: AtomicU32::new(RuntimeState::Starting as u32),
            free_head: AtomicU64::new(u64::from(NIL)),
            round_robin: AtomicU64::new(0),
            slots_touched: AtomicU32::new(0),
            slots_in_use: AtomicU32::new(0),
            admin_reserve: layout.admin_reserve,
            clients: [const { AtomicU32::new(0) }; MAX_CLIENTS],
        };
        let queue = Queue { base, layout };
        for lane in 0..layout.num_lanes {
            queue.lane(lane).init(layout.lane_capacity);
        }
        // No slot is written here: a fresh segment is zeros, which is a
        // `FREE` slot, and `pop_free` hands out slots never used before
        // from `slots_touched`. Start-up touches none of the slot pages.
        queue
    }

    /// Reads and checks the header a runtime wrote.
    ///
    /// # Safety
    /// `base` must map `len` bytes of a `main` segment that outlive every
    /// use of the returned queue.
    pub unsafe fn attach(base: *mut u8, len: u64) -> Result<Queue, LayoutError> {
        if len < size_of::<Header>() as u64 {
            return Err(LayoutError::Foreign(format!("{len} bytes is smaller than its header")));
        }
        // SAFETY: the header fits (checked above).
        let h = unsafe { &*base.cast::<Header>() };
        if h.magic != MAGIC || h.layout_version != LAYOUT_VERSION || h.slot_size != SLOT_SIZE as u32 {
            return Err(LayoutError::Foreign(format!(
                "magic {:#x}, layout version {}",
                h.magic, h.layout_version
            )));
        }
        let layout = Layout {
            sched_lanes: h.sched_lanes,
            num_lanes: h.num_lanes,
            lane_capacity: h.lane_capacity,
            queue_depth: h.queue_depth,
            lanes_offset: h.lanes_offset,
            lane_stride: h.lane_stride,
            slots_offset: h.slots_offset,
            num_slots: h.num_slots,
            admin_reserve: h.admin_reserve,
        };
        let lanes_end = layout.lanes_offset + layout.lane_stride * u64::from(layout.num_lanes);
        let slots_end = layout.slots_offset + u64::from(layout.num_slots) * SLOT_SIZE as u64;
        let sane = layout.lane_capacity.is_power_of_two()
            && layout.lane_stride >= Lane::bytes(layout.lane_capacity) as u64
            && layout.num_lanes > 0
            && layout.sched_lanes > 0
            && layout.sched_lanes <= layout.num_lanes
            && lanes_end <= layout.slots_offset
            && layout.admin_reserve < layout.num_slots
            && slots_end <= len;
        if !sane {
            return Err(LayoutError::Foreign("offsets outside the segment".into()));
        }
        Ok(Queue { base, layout })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        // SAFETY: checked at init/attach; the mapping outlives the queue.
        unsafe { &*self.base.cast::<Header>() }
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Lane `i` (must be `< num_lanes`).
    pub fn lane(&self, i: u32) -> &Lane {
        assert!(i < self.layout.num_lanes, "lane {i} out of range");
        let offset = self.layout.lanes_offset + u64::from(i) * self.layout.lane_stride;
        // SAFETY: in bounds (checked at init/attach and above), 64-aligned.
        unsafe { &*self.base.add(offset as usize).cast::<Lane>() }
    }

    /// Slot `i`, or `None` for an index a corrupt lane could hold.
    pub fn try_slot(&self, i: u32) -> Option<Slot<'_>> {
        (i < self.layout.num_slots).then(|| self.slot(i))
    }

    /// Slot `i` (must be `< num_slots`).
    pub fn slot(&self, i: u32) -> Slot<'_> {
        assert!(i < self.layout.num_slots, "slot {i} out of range");
        let offset = self.layout.slots_offset + u64::from(i) * SLOT_SIZE as u64;
        // SAFETY: in bounds, and slots are SLOT_SIZE apart from a
        // page-aligned offset, so 64-aligned.
        unsafe { Slot::at(self.base.add(offset as usize)) }
    }

    /// Takes a free slot, if any: one given back before (the free stack),
    /// else one never used. The last `admin_reserve` free slots go to
    /// admin-pool tasks only (`for_admin`).
    pub fn pop_free(&self, for_admin: bool) -> Option<u32> {
        let in_use = &self.header().slots_in_use;
        let general = self.layout.num_slots - self.layout.admin_reserve;
        if !for_admin && in_use.load(Ordering::Relaxed) >= general {
            return None;
        }
        let index = self.pop_free_stack()?;
        in_use.fetch_add(1, Ordering::Relaxed);
        Some(index)
    }

    fn pop_free_stack(&self) -> Option<u32> {
        let head = &self.header().free_head;
        let mut current = head.load(Ordering::Acquire);
        loop {
            let index = current as u32;
            if index == NIL || index >= self.layout.num_slots {
                return self.take_untouched();
            }
            let next = self.slot(index).header.next_free.load(Ordering::Relaxed);
            let tagged = ((current >> 32).wrapping_add(1) << 32) | u64::from(next);
            match head.compare_exchange_weak(current, tagged, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(index),
                Err(seen) => current = seen,
            }
        }
    }

    /// Slots every client may hold at once besides admin tasks: all that
    /// are not reserved, shared out evenly among the clients attached
    /// (at least one slot each). The rule clients keep (`client::Client`).
    pub fn fair_share(&self) -> u32 {
        let general = self.layout.num_slots - self.layout.admin_reserve;
        let attached = self.header().clients.iter().filter(|c| c.load(Ordering::Relaxed) != 0).count() as u32;
        (general / attached.max(1)).max(1)
    }

    /// Takes an entry of the client table for `pid`; `None` when all are taken.
    pub fn register_client(&self, pid: u32) -> Option<usize> {
        self.header()
            .clients
            .iter()
            .position(|c| c.compare_exchange(0, pid, Ordering::AcqRel, Ordering::Relaxed).is_ok())
    }

    /// Gives entry `entry` of the client table back, if `pid` still holds it.
    pub fn unregister_client(&self, entry: usize, pid: u32) {
        if let Some(c) = self.header().clients.get(entry) {
            let _ = c.compare_exchange(pid, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    /// The lowest slot never handed out, if any is left.
    fn take_untouched(&self) -> Option<u32> {
        let touched = &self.header().slots_touched;
        let mut next = touched.load(Ordering::Relaxed);
        loop {
            if next >= self.layout.num_slots {
                return None;
            }
            match touched.compare_exchange_weak(next, next + 1, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Some(next),
                Err(seen) => next = seen,
            }
        }
    }

    /// Slots `0..slots_touched()` are all that were ever taken.
    pub fn slots_touched(&self) -> u32 {
        self.header().slots_touched.load(Ordering::Relaxed).min(self.layout.num_slots)
    }

    /// Marks slot `index` free and returns it to the free stack: the one
    /// way a slot is given back, by whichever side owns it.
    pub fn release(&self, index: u32) {
        let h = self.slot(index).header;
        h.owner_pid.store(0, Ordering::Relaxed);
        h.state.store(state::FREE, Ordering::Release);
        self.push_free(index);
    }

    /// Returns a slot to the free stack.
    pub fn push_free(&self, index: u32) {
        let _ = self
            .header()
            .slots_in_use
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        let head = &self.header().free_head;
        let slot = self.slot(index);
        let mut current = head.load(Ordering::Relaxed);
        loop {
            slot.header.next_free.store(current as u32, Ordering::Relaxed);
            let tagged = ((current >> 32).wrapping_add(1) << 32) | u64::from(index);
            match head.compare_exchange_weak(current, tagged, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return,
                Err(seen) => current = seen,
            }
        }
    }

    /// The lanes of one kind: scheduler lanes, or slow lanes (scheduler
    /// lanes when there are no slow workers).
    pub fn lanes_for(&self, slow: bool) -> std::ops::Range<u32> {
        let l = &self.layout;
        if slow && l.num_lanes > l.sched_lanes { l.sched_lanes..l.num_lanes } else { 0..l.sched_lanes }
    }
}

/// Queues in ordinary memory, for unit tests of what works on a queue
/// (here, and in crates that enable the `test-queue` feature).
#[cfg(any(test, feature = "test-queue"))]
pub mod test_queue {
    use super::{Layout, Queue};

    /// Bytes of each test queue.
    pub const BYTES: u64 = 4 << 20;

    /// The memory under a test queue, which must outlive it.
    #[derive(Debug)]
    pub struct Memory {
        _bytes: Vec<u8>,
    }

    /// A queue of `sched` and `slow` lanes in zeroed memory (as a fresh
    /// segment is), with lane policy code `policy`.
    pub fn new(sched: u32, slow: u32, depth: u32, policy: u32) -> (Memory, Queue) {
        let layout = Layout::compute(BYTES, sched, slow, depth).unwrap();
        let mem = vec![0u8; BYTES as usize + 4096];
        let base = mem.as_ptr().wrapping_add(mem.as_ptr().align_offset(4096)) as *mut u8;
        // SAFETY: `mem` is larger than the layout and is returned with the
        // queue, for the caller to keep while it uses the queue.
        let queue = unsafe { Queue::init(base, BYTES, layout, policy) };
        (Memory { _bytes: mem }, queue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_small_names_the_numbers() {
        let err = Layout::compute(64 << 10, 4, 4, 10_000).unwrap_err();
        assert!(err.to_string().starts_with(
            "memory.main_segment_size (65536 bytes) is too small for 8 lanes of queue_depth 10000"
        ));
    }

    #[test]
    fn defaults_fit_the_default_segment() {
        let l = Layout::compute(1 << 30, 4, 4, 10_000).unwrap();
        assert_eq!((l.num_lanes, l.lane_capacity), (8, 16384));
        assert_eq!(l.admin_reserve, 64);
        assert!(l.num_slots > 8 * 10_000, "{}", l.num_slots);
    }

    fn fresh_queue() -> (test_queue::Memory, *mut u8, Layout, Queue) {
        let (mem, queue) = test_queue::new(1, 1, 16, 0);
        (mem, mem_base(&queue), *queue.layout(), queue)
    }

    fn mem_base(queue: &Queue) -> *mut u8 {
        (queue.header() as *const Header).cast_mut().cast()
    }

    #[test]
    fn free_stack_hands_out_each_slot_once() {
        let (_mem, base, layout, queue) = fresh_queue();
        let mut seen = std::collections::HashSet::new();
        while let Some(i) = queue.pop_free(true) {
            assert!(seen.insert(i));
        }
        assert_eq!(seen.len() as u32, layout.num_slots);
        queue.push_free(3);
        assert_eq!(queue.pop_free(true), Some(3));
        // SAFETY: as above.
        let attached = unsafe { Queue::attach(base, test_queue::BYTES) }.unwrap();
        assert_eq!(attached.layout(), &layout);
    }

    #[test]
    fn the_admin_reserve_is_left_to_admin_tasks_and_shares_are_even() {
        let (_mem, _, layout, queue) = fresh_queue();
        let general = layout.num_slots - layout.admin_reserve;
        assert!(layout.admin_reserve > 0);
        for _ in 0..general {
            queue.pop_free(false).unwrap();
        }
        assert_eq!(queue.pop_free(false), None, "the reserve is not for other tasks");
        let admin = queue.pop_free(true).expect("an admin task still gets a slot");
        queue.release(admin);
        assert_eq!(queue.fair_share(), general);
        let first = queue.register_client(10).unwrap();
        queue.register_client(11).unwrap();
        assert_eq!(queue.fair_share(), general / 2);
        queue.unregister_client(first, 10);
        assert_eq!(queue.fair_share(), general);
    }

    #[test]
    fn slots_touched_marks_the_highest_slot_ever_taken() {
        let (_mem, _, _, queue) = fresh_queue();
        assert_eq!(queue.slots_touched(), 0);
        let taken: Vec<u32> = (0..3).map(|_| queue.pop_free(false).unwrap()).collect();
        assert_eq!(queue.slots_touched(), 3, "taken {taken:?}");
        // Freed slots are taken again first: the mark does not move.
        for i in taken {
            queue.release(i);
        }
        for _ in 0..3 {
            queue.pop_free(false).unwrap();
        }
        assert_eq!(queue.slots_touched(), 3);
        queue.pop_free(false).unwrap();
        assert_eq!(queue.slots_touched(), 4);
    }
}
