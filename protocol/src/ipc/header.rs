//! The segment header: what a client checks before it trusts the layout.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// `Header::magic`.
pub const MAGIC: u64 = u64::from_le_bytes(*b"CHIMAIN1");
/// `Header::layout_version`: bumped whenever any shared structure changes.
pub const LAYOUT_VERSION: u32 = 8;

/// `Header::lane_policy` codes: how a client picks a lane within its kind.
pub mod lane_policy {
    /// `round_robin`.
    pub const ROUND_ROBIN: u32 = 0;
    /// `map_by_pid_tid`.
    pub const MAP_BY_PID_TID: u32 = 1;
    /// `random`.
    pub const RANDOM: u32 = 2;
}
/// Entries of the attached-client table (`Header::clients`).
pub const MAX_CLIENTS: usize = 256;

/// The runtime's life, as clients see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum RuntimeState {
    /// Segments exist, pools are being created.
    Starting = 0,
    /// Serving tasks.
    Ready = 1,
    /// Draining; new tasks fail with "runtime stopping".
    Stopping = 2,
}

/// The first bytes of the `main` segment. Written once by the runtime before
/// it sets `state` to `Ready` (release); read by clients after they see
/// `Ready` (acquire). Only `state`, `free_head`, `round_robin` and
/// `slots_touched` change later.
#[derive(Debug)]
#[repr(C, align(64))]
pub struct Header {
    /// `MAGIC`.
    pub magic: u64,
    /// `LAYOUT_VERSION`.
    pub layout_version: u32,
    /// The runtime's process id.
    pub runtime_pid: u32,
    /// A random number drawn at every start: which runtime of an identity
    /// this is. A client names it when that runtime is gone.
    pub incarnation: u64,
    /// Lanes `0..sched_lanes` are served by scheduler workers, the rest by slow workers.
    pub sched_lanes: u32,
    /// Total lanes.
    pub num_lanes: u32,
    /// Cells per lane (a power of two, at least `queue_depth`).
    pub lane_capacity: u32,
    /// `queue_depth` as configured: the most tasks a lane takes.
    pub queue_depth: u32,
    /// Task slots.
    pub num_slots: u32,
    /// Bytes per slot.
    pub slot_size: u32,
    /// `lane_map_policy`: one of [`lane_policy`].
    pub lane_policy: u32,
    /// Byte offset of lane 0.
    pub lanes_offset: u64,
    /// Bytes per lane.
    pub lane_stride: u64,
    /// Byte offset of slot 0.
    pub slots_offset: u64,
    /// [`RuntimeState`] as its code.
    pub state: AtomicU32,
    /// Free-slot stack: `(tag << 32) | index`, index `u32::MAX` when empty.
    /// The tag makes every successful pop and push unique (no ABA).
    pub free_head: AtomicU64,
    /// Shared round-robin counter for lane choice.
    pub round_robin: AtomicU64,
    /// Slots `0..slots_touched` have been handed out at least once; the
    /// rest have never been used and are taken in order when the free
    /// stack is empty. So start-up writes no slot, a runtime's resident
    /// memory grows with the most slots ever in use at once, and the
    /// reaper scans no further than this (every slot of a 1G segment is
    /// 262,144 pages).
    pub slots_touched: AtomicU32,
    /// Slots taken and not yet given back, of every kind.
    pub slots_in_use: AtomicU32,
    /// The last `admin_reserve` free slots go to admin-pool tasks only, so
    /// `chimaera_status` and `chimaera_stop_runtime` get through a queue
    /// that other clients filled.
    pub admin_reserve: u32,
    /// Attached clients by process id (0: a free entry). A client takes an
    /// entry at attach (CAS 0 to its pid) and gives it back when dropped;
    /// the reaper clears the entries of processes that died. How many are
    /// taken sets each client's fair share of the slots.
    pub clients: [AtomicU32; MAX_CLIENTS],
}

impl Header {
    /// The runtime's state.
    pub fn state(&self) -> RuntimeState {
        match self.state.load(Ordering::Acquire) {
            1 => RuntimeState::Ready,
            2 => RuntimeState::Stopping,
            _ => RuntimeState::Starting,
        }
    }

    /// Publishes a new state.
    pub fn set_state(&self, state: RuntimeState) {
        self.state.store(state as u32, Ordering::Release);
    }
}

/// A fresh incarnation number: random, so two starts of one identity never
/// share one (and never 0, which reads as "none").
pub fn fresh_incarnation() -> u64 {
    let mut bytes = [0u8; 8];
    // SAFETY: `bytes` is valid for 8 bytes of writes.
    let got = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    let random = if got == 8 {
        u64::from_le_bytes(bytes)
    } else {
        // No entropy source: the clock and the process id still differ per start.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        nanos ^ (u64::from(std::process::id()) << 40)
    };
    random.max(1)
}
