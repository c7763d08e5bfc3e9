//! A client's bulk buffers: blocks it allocates in `client_data` to send
//! data, and blocks a module allocated in `runtime_data` to return data.
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
}

/// A block of `runtime_data` a task returned to this client; freed on drop.
#[derive(Debug)]
pub struct TakenBulk<'c> {
    client: &'c Client,
    bulk: Bulk,
    ptr: *const u8,
}

impl Client {
    /// Allocates `len` bytes in `client_data`, zeroed.
    pub fn bulk_alloc(&self, len: u64) -> Result<BulkBuf<'_>, ClientError> {
        let buf = self.bulk_alloc_stale(len)?;
        // SAFETY: the block was just allocated to this process and is
        // `len` bytes inside the mapped segment.
        unsafe { std::ptr::write_bytes(buf.ptr, 0, len as usize) };
        Ok(buf)
    }

    /// Allocates `len` bytes in `client_data` holding whatever they held
    /// before: for staging buffers whose bytes are always written before
    /// anyone reads them (zeroing a megabyte costs as much as copying it).
    pub(crate) fn bulk_alloc_stale(&self, len: u64) -> Result<BulkBuf<'_>, ClientError> {
        let bulk = self.heaps.client.alloc(len, self.pid)?;
        let ptr = self.heaps.client.resolve(&bulk)?;
        Ok(BulkBuf { client: self, bulk, ptr })
    }

    /// Takes ownership of a `runtime_data` block a task returned: read it,
    /// and it is freed when dropped. A `Bulk` that is not a live block
    /// of this client's is an error.
    pub fn bulk_take(&self, bulk: Bulk) -> Result<TakenBulk<'_>, ClientError> {
        if bulk.segment != BulkSegment::RuntimeData {
            return Err(chimaera_protocol::bulk::BulkError::WrongSegment {
                given: bulk.segment.name(),
                expected: BulkSegment::RuntimeData.name(),
            }
            .into());
        }
        let ptr = self.heaps.runtime.resolve(&bulk)?;
        Ok(TakenBulk { client: self, bulk, ptr })
    }

    /// The figures of `client_data` and `runtime_data`, in that order.
    pub fn bulk_stats(&self) -> [HeapStats; 2] {
        [self.heaps.client.stats(), self.heaps.runtime.stats()]
    }
}

impl BulkBuf<'_> {
    /// The reference to put in a task's input.
    pub fn bulk(&self) -> Bulk {
        self.bulk
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
        if let Err(e) = self.client.heaps.client.free(&self.bulk, Some(self.client.pid)) {
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
        if let Err(e) = self.client.heaps.runtime.free(&self.bulk, Some(self.client.pid)) {
            tracing::warn!("freeing a returned bulk buffer: {e}");
        }
    }
}
