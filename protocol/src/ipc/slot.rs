//! Task slots: a fixed-size header and an inline payload.
//!
//! Hand-over protocol (who writes what, in order):
//! 1. A client pops a free slot, stores `owner_pid` and `state = CLAIMED`,
//!    writes the task fields and the input into the payload, stores
//!    `state = SUBMITTED` and pushes the index into a lane (the lane's
//!    release publishes all of it).
//! 2. The worker pops the index (acquire), runs the task, writes the output
//!    into the payload, `status` and `output_len`, then stores
//!    `state = DONE` (SeqCst) and wakes the client if `waiters` is set.
//! 3. The client sees `DONE`, reads the output, stores `state = FREE` and
//!    pushes the slot back on the free stack.
//!
//! Nobody waits for a fire-and-forget task, or for one whose client gave up:
//! such a slot is `ABANDONED` (set at submission, or by a CAS from
//! `SUBMITTED`). The worker's completion is a CAS from `SUBMITTED` to `DONE`;
//! when it fails because the slot is abandoned, the worker frees the slot
//! itself. Exactly one side frees every slot.
//!
//! A client that dies leaves slots `CLAIMED` or `DONE` under its pid; the
//! runtime's reaper frees those (see `reaper.rs`).
//!
//! All fields are atomics: the two sides are different processes, and the
//! hand-over orders them; relaxed loads cost nothing on x86-64.

use std::sync::atomic::{AtomicU32, Ordering};

/// Bytes per slot: a 64-byte header and 4032 bytes of payload.
pub const SLOT_SIZE: usize = 4096;

/// `SlotHeader::state` values.
pub mod state {
    /// On the free stack, or owned by a client that is filling it.
    pub const FREE: u32 = 0;
    /// In a lane or running.
    pub const SUBMITTED: u32 = 1;
    /// Output written; the client may read it.
    pub const DONE: u32 = 2;
    /// Nobody will read the output: the worker frees the slot when done.
    pub const ABANDONED: u32 = 3;
    /// Taken off the free stack by `owner_pid`, which is filling it in.
    pub const CLAIMED: u32 = 4;
}

/// Inputs and outputs larger than a slot's payload "spill" into a bulk
/// buffer: the payload then holds the buffer's offset and length (16 bytes,
/// little-endian) and a flag says so. An input spills into `client_data`
/// (the client allocates; the runtime frees it once the task ran), an
/// output into `runtime_data` (the runtime allocates for the task's owner;
/// the client frees it once read).
pub mod spill {
    /// The input is in a `client_data` buffer.
    pub const INPUT: u32 = 1;
    /// The output is in a `runtime_data` buffer.
    pub const OUTPUT: u32 = 2;

    /// The payload bytes that describe a spilled buffer.
    pub fn encode(offset: u64, len: u64) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&offset.to_le_bytes());
        out[8..].copy_from_slice(&len.to_le_bytes());
        out
    }

    /// The buffer a payload describes, if it is 16 bytes.
    pub fn decode(payload: &[u8]) -> Option<(u64, u64)> {
        let bytes: &[u8; 16] = payload.try_into().ok()?;
        let (offset, len) = bytes.split_at(8);
        Some((u64::from_le_bytes(offset.try_into().ok()?), u64::from_le_bytes(len.try_into().ok()?)))
    }
}

/// The header of a slot.
#[derive(Debug)]
#[repr(C, align(64))]
pub struct SlotHeader {
    /// [`state`]: the futex word a waiting client sleeps on.
    pub state: AtomicU32,
    /// 1 while the submitting client sleeps (or is about to) on `state`.
    pub waiters: AtomicU32,
    /// The free stack's link.
    pub next_free: AtomicU32,
    /// The submitting process.
    pub owner_pid: AtomicU32,
    /// Target pool, major part.
    pub pool_major: AtomicU32,
    /// Target pool, minor part.
    pub pool_minor: AtomicU32,
    /// Method number.
    pub method: AtomicU32,
    /// [`spill`] bits: whether the input (set by the client) or the output
    /// (set by the worker) lives in a bulk buffer instead of the payload.
    pub flags: AtomicU32,
    /// [`super::TaskStatus`] code, valid once `DONE`.
    pub status: AtomicU32,
    /// Input bytes at the start of the payload.
    pub input_len: AtomicU32,
    /// Output bytes at the start of the payload, valid once `DONE`.
    pub output_len: AtomicU32,
    /// Where the task runs: `chimod_sdk::Route::encode`'s code...
    pub route: AtomicU32,
    /// ...and its two arguments.
    pub route_args: [AtomicU32; 2],
}

/// A slot: its header and its payload.
#[derive(Debug, Clone, Copy)]
pub struct Slot<'q> {
    /// The header.
    pub header: &'q SlotHeader,
    payload: *mut u8,
}

impl<'q> Slot<'q> {
    /// Bytes of payload per slot.
    pub const PAYLOAD: usize = SLOT_SIZE - size_of::<SlotHeader>();

    /// The slot at `base`.
    ///
    /// # Safety
    /// `base` must point at `SLOT_SIZE` bytes of the mapped queue, aligned
    /// to 64, alive for `'q`.
    pub unsafe fn at(base: *mut u8) -> Slot<'q> {
        // SAFETY: forwarded from the caller.
        unsafe { Slot { header: &*base.cast::<SlotHeader>(), payload: base.add(size_of::<SlotHeader>()) } }
    }

    /// Copies `bytes` into the payload; `false` if they do not fit.
    pub fn write_payload(&self, bytes: &[u8]) -> bool {
        if bytes.len() > Self::PAYLOAD {
            return false;
        }
        // SAFETY: the payload has PAYLOAD bytes and this side owns the slot
        // in the current protocol step.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.payload, bytes.len()) };
        true
    }

    /// The first `len` payload bytes (clamped to the payload size, so a
    /// corrupt length never reads outside the slot).
    pub fn payload(&self, len: u32) -> &'q [u8] {
        let len = (len as usize).min(Self::PAYLOAD);
        // SAFETY: within the slot; this side owns the slot in the current step.
        unsafe { std::slice::from_raw_parts(self.payload, len) }
    }

    /// Marks the slot done and wakes its client if it sleeps. Returns
    /// `false` when the slot was abandoned: the caller must free it.
    #[must_use]
    pub fn complete(&self, status: super::TaskStatus, output: &[u8]) -> bool {
        let h = self.header;
        let (status, output) = if self.write_payload(output) {
            (status, output.len())
        } else {
            let message = format!(
                "task output of {} bytes does not fit in a slot ({} bytes)",
                output.len(),
                Self::PAYLOAD
            );
            self.write_payload(message.as_bytes());
            (super::TaskStatus::Error, message.len())
        };
        h.status.store(status as u32, Ordering::Relaxed);
        h.output_len.store(output as u32, Ordering::Relaxed);
        if h.state
            .compare_exchange(state::SUBMITTED, state::DONE, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return false;
        }
        if h.waiters.load(Ordering::SeqCst) != 0 {
            super::futex_wake(&h.state);
        }
        true
    }
}
