//! A client's bulk buffers: blocks it allocates in `client_data` to send
//! data, and blocks a module allocated in `runtime_data` to return data.
//! A remote client's buffers are its own memory: the bdev client sends
//! their bytes in its requests, and their [`Bulk`] names no block.
//!
//! ```no_run
//! # use chimaera_client::Client;
//! # let client: Client = todo!();
//! let mut buf = client.bulk_alloc(1 << 20)?;
//! buf.fill(7);
//! let bulk = buf.bulk(); // put this in a task's input
//! # Ok::<(), chimaera_client::ClientError>(())
//! ```

use std::ops::{Deref, DerefMut};

use chimod_sdk::bulk::{Bulk, BulkSegment};

use super::{Client, ClientError};
use chimaera_protocol::bulk::HeapStats;

/// A block of `client_data` this client owns; freed on drop. Do not change
/// it while a task that reads it is in flight.
#[derive(Debug)]
pub struct BulkBuf<'c> {
    client: &'c Client,
    bulk: Bulk,
    ptr: *mut u8,
    /// A remote client's buffer: the memory `ptr` points into.
    own: Option<Box<[u8]>>,
}

/// The offset a remote client's buffers carry in their [`Bulk`]: no block
/// of any runtime's heap is there, so a task that hands one to a module
/// fails with an error naming it, never touching another buffer.
pub const REMOTE_BULK_OFFSET: u64 = u64::MAX;

/// A block of `runtime_data` a task returned to this client; freed on drop.
#[derive(Debug)]
pub struct TakenBulk<'c> {
    client: &'c Client,
    bulk: Bulk,
    ptr: *const u8,
}

impl Client {
    /// Allocates `len` bytes in `client_data`, zeroed (for a remote
    /// client, in its own memory).
    pub fn bulk_alloc(&self, len: u64) -> Result<BulkBuf<'_>, ClientError> {
        let buf = self.bulk_alloc_stale(len)?;
        if buf.own.is_none() {
            // SAFETY: the block was just allocated to this process and is
            // `len` bytes inside the mapped segment.
            unsafe { std::ptr::write_bytes(buf.ptr, 0, len as usize) };
        }
        Ok(buf)
    }

    /// Allocates `len` bytes in `client_data` holding whatever they held
    /// before: for staging buffers whose bytes are always written before
    /// anyone reads them (zeroing a megabyte costs as much as copying it).
    pub(crate) fn bulk_alloc_stale(&self, len: u64) -> Result<BulkBuf<'_>, ClientError> {
        let Ok(shm) = self.shm("") else {
            let size = usize::try_from(len)
                .map_err(|_| ClientError::Failed(format!("no buffer of {len} bytes here")))?;
            let mut own = Vec::new();
            own.try_reserve_exact(size)
                .map_err(|_| ClientError::Failed(format!("cannot allocate a buffer of {len} bytes")))?;
            own.resize(size, 0);
            let mut own = own.into_boxed_slice();
            let bulk = Bulk { segment: BulkSegment::ClientData, offset: REMOTE_BULK_OFFSET, len };
            return Ok(BulkBuf { client: self, bulk, ptr: own.as_mut_ptr(), own: Some(own) });
        };
        let bulk = shm.heaps.client.alloc(len, shm.pid)?;
        let ptr = shm.heaps.client.resolve(&bulk)?;
        Ok(BulkBuf { client: self, bulk, ptr, own: None })
    }

    /// Takes ownership of a `runtime_data` block a task returned: read it,
    /// and it is freed when dropped. A `Bulk` that is not a live block
    /// of this client's is an error.
    pub fn bulk_take(&self, bulk: Bulk) -> Result<TakenBulk<'_>, ClientError> {
        let shm = self.shm("taking a runtime_data block")?;
        if bulk.segment != BulkSegment::RuntimeData {
            return Err(chimaera_protocol::bulk::BulkError::WrongSegment {
                given: bulk.segment.name(),
                expected: BulkSegment::RuntimeData.name(),
            }
            .into());
        }
        let ptr = shm.heaps.runtime.resolve(&bulk)?;
        Ok(TakenBulk { client: self, bulk, ptr })
    }

    /// The figures of `client_data` and `runtime_data`, in that order
    /// ([`ClientError::NeedsSharedMemory`] for a remote client).
    pub fn bulk_stats(&self) -> Result<[HeapStats; 2], ClientError> {
        let shm = self.shm("bulk heap figures")?;
        Ok([shm.heaps.client.stats(), shm.heaps.runtime.stats()])
    }
}

impl BulkBuf<'_> {
    /// The reference to put in a task's input (for a remote client's
    /// buffer, one that names no block: see [`REMOTE_BULK_OFFSET`]).
    pub fn bulk(&self) -> Bulk {
        self.bulk
    }

    /// The buffer's memory, for a remote request to carry or fill.
    pub(crate) fn memory(&self) -> (*mut u8, usize) {
        (self.ptr, self.bulk.len as usize)
    }
}

impl Deref for BulkBuf<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: a live block of this process, `len` bytes, mapped while
        // the client lives (the borrow ties us to it).
        unsafe { std::slice::from_raw_parts(self.ptr, self.bulk.len as usize) }
    }
}

impl DerefMut for BulkBuf<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`; `&mut self` makes this the only view here.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.bulk.len as usize) }
    }
}

impl Drop for BulkBuf<'_> {
    fn drop(&mut self) {
        if self.own.is_some() {
            return;
        }
        if let Ok(shm) = self.client.shm("")
            && let Err(e) = shm.heaps.client.free(&self.bulk, Some(shm.pid))
        {
            tracing::warn!("freeing a bulk buffer: {e}");
        }
    }
}

impl TakenBulk<'_> {
    /// The block's reference.
    pub fn bulk(&self) -> Bulk {
        self.bulk
    }
}

impl Deref for TakenBulk<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: a live block (checked when taken), handed to this client
        // by a finished task, mapped while the client lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.bulk.len as usize) }
    }
}

impl Drop for TakenBulk<'_> {
    fn drop(&mut self) {
        if let Ok(shm) = self.client.shm("")
            && let Err(e) = shm.heaps.runtime.free(&self.bulk, Some(shm.pid))
        {
            tracing::warn!("freeing a returned bulk buffer: {e}");
        }
    }
}
