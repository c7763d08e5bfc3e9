//! Tasks and bulk buffers that hold a share of their client (`Arc<Client>`)
//! instead of a borrow: for the C and Python bindings, whose handles have
//! no lifetimes, and for applications that keep tasks in flight inside
//! structures of their own.
//!
//! ```no_run
//! use std::sync::Arc;
//! use chimaera_client::{Client, TaskSpec};
//! use chimod_sdk::PoolId;
//!
//! let client = Arc::new(Client::attach_port(5555, std::time::Duration::from_secs(10))?);
//! let mut task = client.submit_owned(&TaskSpec::new(PoolId::ADMIN, chimod_sdk::admin::PING.id, &[]))?;
//! drop(client); // the task keeps the client alive
//! task.wait(None)?;
//! # Ok::<(), chimaera_client::ClientError>(())
//! ```

use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::time::Duration;

use chimod_sdk::bulk::Bulk;

use super::{BulkBuf, Client, ClientError, PendingTask, TaskSpec};

/// A value that borrows a client, stored with the `Arc` that keeps that
/// client alive and at one address. The borrow's `'static` is a fiction
/// kept inside this module: the value is never handed out by value or by
/// `&mut` (which would let it be swapped into another tether), and it is
/// dropped before the `Arc`.
#[derive(Debug)]
struct Tether<T> {
    value: ManuallyDrop<T>,
    _client: Arc<Client>,
}

impl<T> Tether<T> {
    /// Makes `make`'s borrow of `client` live as long as the tether.
    fn new<E>(client: &Arc<Client>, make: impl FnOnce(&'static Client) -> Result<T, E>) -> Result<Self, E> {
        let keep = Arc::clone(client);
        // SAFETY: the `Arc` clone stored beside the value keeps the client
        // alive (and unmoved: it is on the heap) until after the value is
        // dropped in `Drop`; the value cannot leave the tether.
        let borrowed: &'static Client = unsafe { &*Arc::as_ptr(&keep) };
        Ok(Tether { value: ManuallyDrop::new(make(borrowed)?), _client: keep })
    }
}

impl<T> Drop for Tether<T> {
    fn drop(&mut self) {
        // SAFETY: dropped once, here, while `_client` (dropped after this
        // body) still keeps the borrowed client alive.
        unsafe { ManuallyDrop::drop(&mut self.value) }
    }
}

/// A submitted task that owns a share of its client. Dropping it unwaited
/// abandons it, as with [`PendingTask`].
#[derive(Debug)]
pub struct OwnedPending(Tether<PendingTask<'static>>);

impl OwnedPending {
    /// Whether the output is ready.
    pub fn is_done(&self) -> bool {
        self.0.value.is_done()
    }

    /// Waits for the output (for at most `timeout`, if given); a timeout
    /// leaves the task in flight to be waited for again
    /// ([`PendingTask::wait_mut`]).
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<Vec<u8>, ClientError> {
        self.0.value.wait_mut(timeout)
    }
}

/// A block of `client_data` that owns a share of its client; freed on drop.
/// Do not change it while a task that reads it is in flight.
#[derive(Debug)]
pub struct OwnedBulk(Tether<BulkBuf<'static>>);

// SAFETY: the block belongs to this process, not to a thread: any thread
// may read or write it through `&mut self` / `&self` and free it (the
// heap's free takes the segment's own lock). The pointer inside stays
// valid while the tethered client maps the segment.
unsafe impl Send for OwnedBulk {}
// SAFETY: `&self` gives only shared reads of the block.
unsafe impl Sync for OwnedBulk {}

impl OwnedBulk {
    /// The reference to put in a task's input.
    pub fn bulk(&self) -> Bulk {
        self.0.value.bulk()
    }

    /// The buffer inside.
    pub(crate) fn buffer(&self) -> &BulkBuf<'static> {
        &self.0.value
    }

    /// The block's bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.0.value
    }

    /// The block's bytes, to fill.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // The `&mut BulkBuf` stays inside this call: only its bytes leave.
        &mut self.0.value
    }
}

impl Client {
    /// As [`Client::submit`], but the task holds a share of this client.
    pub fn submit_owned(self: &Arc<Self>, task: &TaskSpec<'_>) -> Result<OwnedPending, ClientError> {
        Tether::new(self, |client| client.submit(task)).map(OwnedPending)
    }

    /// As [`Client::bulk_alloc`], but the buffer holds a share of this client.
    pub fn bulk_alloc_owned(self: &Arc<Self>, len: u64) -> Result<OwnedBulk, ClientError> {
        Tether::new(self, |client| client.bulk_alloc(len)).map(OwnedBulk)
    }
}
