//! Asynchronous file I/O through io_uring, with at most `io_depth`
//! operations in flight per device.
//!
//! A task queues its operation, yields once, and then polls for the
//! completion, yielding to its worker between polls (`host::yield_now`), so
//! one worker keeps many operations in flight and runs other tasks
//! meanwhile. Whoever polls first submits every operation queued so far
//! (the tasks of one worker round share one `io_uring_enter`) and reaps
//! every completion that has arrived; no thread sleeps and nothing is
//! handed between threads. Where io_uring is not allowed
//! (Docker's default seccomp profile, old kernels) the file device falls
//! back to `pread`/`pwrite` on the worker.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chimod_sdk::host;
use io_uring::{IoUring, opcode, types};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Default)]
struct Completion {
    done: AtomicBool,
    result: AtomicI32,
}

/// One device's ring.
pub struct Uring {
    ring: Mutex<IoUring>,
    completions: Box<[Completion]>,
    free: Mutex<Vec<u32>>,
}

impl std::fmt::Debug for Uring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uring").field("depth", &self.completions.len()).finish()
    }
}

/// One operation.
#[derive(Debug, Clone, Copy)]
pub struct UringOp {
    /// The file.
    pub fd: RawFd,
    /// The buffer.
    pub ptr: *mut u8,
    /// Bytes.
    pub len: u32,
    /// File offset.
    pub offset: u64,
    /// Write (else read).
    pub write: bool,
}

impl Uring {
    /// A ring for `depth` operations in flight.
    pub fn new(depth: u32) -> std::io::Result<Uring> {
        let depth = depth.max(1);
        let entries = depth.next_power_of_two();
        // Completions are handed to us when we next enter the kernel (we
        // poll anyway) rather than by an interrupt to this thread per
        // completion: in a VM that inter-processor interrupt costs more
        // than the I/O's own processing. Kernels before 5.19 lack it.
        let ring = IoUring::builder()
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .build(entries)
            .or_else(|_| IoUring::new(entries))?;
        Ok(Uring {
            ring: Mutex::new(ring),
            completions: (0..depth).map(|_| Completion::default()).collect(),
            free: Mutex::new((0..depth).rev().collect()),
        })
    }

    /// Runs one operation to completion, yielding to the worker while it is
    /// in flight; returns the bytes moved.
    ///
    /// # Safety
    /// `op.ptr` must be valid for `op.len` bytes until this returns.
    pub unsafe fn run(&self, op: UringOp) -> std::io::Result<usize> {
        // A free completion slot: at most `depth` operations in flight.
        let id = loop {
            if let Some(id) = lock(&self.free).pop() {
                break id;
            }
            host::yield_now();
        };
        let completion = &self.completions[id as usize];
        completion.done.store(false, Ordering::Relaxed);
        let entry = if op.write {
            opcode::Write::new(types::Fd(op.fd), op.ptr, op.len).offset(op.offset).build()
        } else {
            opcode::Read::new(types::Fd(op.fd), op.ptr, op.len).offset(op.offset).build()
        }
        .user_data(u64::from(id));
        {
            let mut ring = lock(&self.ring);
            // SAFETY: the buffer outlives the operation (caller's promise:
            // we return only after its completion). The queue has a place:
            // it is as deep as the completion slots, and one is ours.
            if unsafe { ring.submission().push(&entry) }.is_err() {
                drop(ring);
                lock(&self.free).push(id);
                return Err(std::io::Error::other("io_uring submission queue full"));
            }
        }
        // Let the worker's other tasks queue theirs: the first of us to
        // poll submits them all at once.
        host::yield_now();
        loop {
            if let Ok(mut ring) = self.ring.try_lock() {
                // A failed submit leaves the entries queued; they go with the
                // next poll. Returning instead would free a buffer the
                // kernel may still use.
                // Entering the kernel also runs the completions it holds
                // for us (the task-run flag).
                if !ring.submission().is_empty() || ring.submission().taskrun() {
                    let _ = ring.submit();
                }
                for cqe in ring.completion() {
                    if let Some(c) = self.completions.get(cqe.user_data() as usize) {
                        c.result.store(cqe.result(), Ordering::Relaxed);
                        c.done.store(true, Ordering::Release);
                    }
                }
            }
            if completion.done.load(Ordering::Acquire) {
                break;
            }
            host::yield_now();
        }
        let result = completion.result.load(Ordering::Relaxed);
        lock(&self.free).push(id);
        if result < 0 { Err(std::io::Error::from_raw_os_error(-result)) } else { Ok(result as usize) }
    }
}

// SAFETY: the ring is behind a mutex; completions are atomics.
unsafe impl Sync for Uring {}
// SAFETY: as above.
unsafe impl Send for Uring {}
