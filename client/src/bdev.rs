//! The typed client of a `chimaera_bdev` pool: the module's methods as
//! calls, synchronous and asynchronous. Data moves through bulk buffers
//! (a remote client's are its own memory, and their bytes travel in the
//! requests: the module's inline methods);
//! an asynchronous write or read borrows its buffer until it is waited for,
//! so the buffer can be neither changed nor freed while the device uses it.
//!
//! ```no_run
//! # use chimaera_client::{BdevClient, Client};
//! # let client: Client = todo!();
//! let dev = BdevClient::new(&client, chimod_sdk::PoolId::new(300, 0));
//! let block = dev.allocate(4096)?[0];
//! let mut buf = client.bulk_alloc(4096)?;
//! buf.fill(0xab);
//! dev.write(block, 0, &buf)?;
//! let mut back = client.bulk_alloc(4096)?;
//! dev.read(block, 0, &mut back)?;
//! assert_eq!(&buf[..], &back[..]);
//! # Ok::<(), chimaera_client::ClientError>(())
//! ```

use std::time::Duration;

use chimaera_bdev_api::{
    ALLOCATE, BdevStats, Block, FREE, READ, READ_AT, READ_AT_INLINE, READ_INLINE, ReadRequest, STATS, WRITE,
    WRITE_AT, WRITE_AT_INLINE, WRITE_INLINE, WriteInline, WriteInlineRef, WriteRequest,
};
use chimod_sdk::PoolId;
use chimod_sdk::bulk::Bulk;

use super::{BulkBuf, Client, ClientError, Landing, TaskSpec, TypedPending};

/// Reads and writes wait on the device: they go to slow workers.
const IO_ESTIMATE: Duration = Duration::from_millis(1);

/// A bdev pool's client.
#[derive(Debug, Clone, Copy)]
pub struct BdevClient<'c> {
    pub(crate) client: &'c Client,
    pub(crate) pool: PoolId,
}

impl<'c> BdevClient<'c> {
    /// The client of pool `pool`.
    pub fn new(client: &'c Client, pool: PoolId) -> Self {
        BdevClient { client, pool }
    }

    /// Blocks for `size` bytes.
    pub fn allocate(&self, size: u64) -> Result<Vec<Block>, ClientError> {
        self.client.call_method(self.pool, ALLOCATE, &size)
    }

    /// Frees blocks.
    pub fn free(&self, blocks: &[Block]) -> Result<(), ClientError> {
        self.client.call_method(self.pool, FREE, &blocks.to_vec())
    }

    /// Writes all of `data` into `block` at `offset`.
    pub fn write(&self, block: Block, offset: u64, data: &impl BulkRef) -> Result<u64, ClientError> {
        self.write_async(block, offset, data)?.wait(None)
    }

    /// Reads `into.len()` bytes of `block` from `offset` into `into`.
    pub fn read(&self, block: Block, offset: u64, into: &mut impl BulkRef) -> Result<u64, ClientError> {
        self.read_async(block, offset, into)?.wait(None)
    }

    /// Starts a write; `data` stays borrowed until it is waited for.
    pub fn write_async<'b>(
        &'b self,
        block: Block,
        offset: u64,
        data: &'b impl BulkRef,
    ) -> Result<TypedPending<'b, u64>, ClientError> {
        if self.client.is_remote() {
            let input = chimod_sdk::codec::encode(&WriteInlineRef { block, offset, data: bytes_of(data) })?;
            return self.typed(WRITE_INLINE.id, &input);
        }
        let request = WriteRequest { block, offset, data: data.bulk_ref() };
        self.client.submit_method(self.pool, WRITE, &request, IO_ESTIMATE)
    }

    /// Starts a read; `into` stays borrowed until it is waited for.
    pub fn read_async<'b>(
        &'b self,
        block: Block,
        offset: u64,
        into: &'b mut impl BulkRef,
    ) -> Result<TypedPending<'b, u64>, ClientError> {
        if self.client.is_remote() {
            let (ptr, len) = into.memory();
            let input = READ_INLINE.encode_input(&(block, offset, len as u64))?;
            return self.landing(READ_INLINE.id, &input, Landing::new(ptr, len));
        }
        let request = ReadRequest { block, offset, into: into.bulk_ref() };
        self.client.submit_method(self.pool, READ, &request, IO_ESTIMATE)
    }

    /// Writes all of `data` at byte `offset` of the device itself, outside
    /// the block allocator (for callers that manage the device's space).
    pub fn write_at(&self, offset: u64, data: &impl BulkRef) -> Result<u64, ClientError> {
        if self.client.is_remote() {
            return self.write_at_inline(offset, bytes_of(data))?.wait(None);
        }
        self.write_at_async(offset, data.bulk_ref())?.wait(None)
    }

    /// Fills `into` from byte `offset` of the device itself.
    pub fn read_at(&self, offset: u64, into: &mut impl BulkRef) -> Result<u64, ClientError> {
        if self.client.is_remote() {
            let (ptr, len) = into.memory();
            return self.read_at_inline(offset, Landing::new(ptr, len))?.wait(None);
        }
        self.read_at_async(offset, into.bulk_ref())?.wait(None)
    }

    /// Starts a device-offset write whose bytes travel in the request.
    pub(crate) fn write_at_inline(
        &self,
        offset: u64,
        data: &[u8],
    ) -> Result<TypedPending<'c, u64>, ClientError> {
        // The same encoding as the method's `(u64, ByteBuf)`, borrowing the bytes.
        let input = chimod_sdk::codec::encode(&(offset, chimaera_bdev_api::Bytes::new(data)))?;
        self.typed(WRITE_AT_INLINE.id, &input)
    }

    /// Submits an encoded input to a slow worker; the output is a `u64`.
    fn typed(&self, method: u32, input: &[u8]) -> Result<TypedPending<'c, u64>, ClientError> {
        let task = TaskSpec { est_cpu: IO_ESTIMATE, ..TaskSpec::new(self.pool, method, input) };
        Ok(TypedPending::new(self.client.submit(&task)?))
    }

    /// Starts a device-offset read whose bytes come back in the reply and
    /// land in `into` (lent until the task is waited for).
    pub(crate) fn read_at_inline(
        &self,
        offset: u64,
        into: Landing,
    ) -> Result<TypedPending<'c, u64>, ClientError> {
        let input = READ_AT_INLINE.encode_input(&(offset, into.len() as u64))?;
        self.landing(READ_AT_INLINE.id, &input, into)
    }

    fn landing(
        &self,
        method: u32,
        input: &[u8],
        into: Landing,
    ) -> Result<TypedPending<'c, u64>, ClientError> {
        let task = TaskSpec { est_cpu: IO_ESTIMATE, ..TaskSpec::new(self.pool, method, input) };
        Ok(TypedPending::new(self.client.submit_landing(&task, into)?))
    }

    /// Starts a device-offset write of `data`, which the caller keeps alive
    /// and untouched until the task is waited for.
    pub(crate) fn write_at_async(
        &self,
        offset: u64,
        data: Bulk,
    ) -> Result<TypedPending<'c, u64>, ClientError> {
        self.client.submit_method(self.pool, WRITE_AT, &(offset, data), IO_ESTIMATE)
    }

    /// Starts a device-offset read into `into`, which the caller keeps alive
    /// and does not look at until the task is waited for.
    pub(crate) fn read_at_async(
        &self,
        offset: u64,
        into: Bulk,
    ) -> Result<TypedPending<'c, u64>, ClientError> {
        self.client.submit_method(self.pool, READ_AT, &(offset, into), IO_ESTIMATE)
    }

    /// The device's statistics.
    pub fn stats(&self) -> Result<BdevStats, ClientError> {
        self.client.call_method(self.pool, STATS, &())
    }
}

/// The client of a bdev pool's container on another node of the cluster.
/// Data travels in the tasks (that node cannot see this node's buffers).
#[derive(Debug, Clone, Copy)]
pub struct RemoteBdevClient<'c> {
    client: &'c Client,
    pool: PoolId,
    node: u32,
}

impl<'c> RemoteBdevClient<'c> {
    /// The client of pool `pool` on node `node`.
    pub fn new(client: &'c Client, pool: PoolId, node: u32) -> Self {
        RemoteBdevClient { client, pool, node }
    }

    fn run<
        I: serde::Serialize + serde::de::DeserializeOwned,
        O: serde::Serialize + serde::de::DeserializeOwned,
    >(
        &self,
        method: chimod_sdk::Method<I, O>,
        input: &I,
    ) -> Result<O, ClientError> {
        let bytes = method.encode_input(input)?;
        let task = TaskSpec {
            est_cpu: IO_ESTIMATE,
            route: chimod_sdk::Route::Node(self.node),
            ..TaskSpec::new(self.pool, method.id, &bytes)
        };
        Ok(method.decode_output(&self.client.submit(&task)?.wait(None)?)?)
    }

    /// Blocks for `size` bytes on that node's device.
    pub fn allocate(&self, size: u64) -> Result<Vec<Block>, ClientError> {
        self.run(ALLOCATE, &size)
    }

    /// Writes `data` into `block` at `offset`.
    pub fn write(&self, block: Block, offset: u64, data: &[u8]) -> Result<u64, ClientError> {
        self.run(WRITE_INLINE, &WriteInline { block, offset, data: data.to_vec() })
    }

    /// Reads `len` bytes of `block` from `offset`.
    pub fn read(&self, block: Block, offset: u64, len: u64) -> Result<Vec<u8>, ClientError> {
        self.run(READ_INLINE, &(block, offset, len)).map(chimaera_bdev_api::ByteBuf::into_vec)
    }

    /// That device's statistics.
    pub fn stats(&self) -> Result<BdevStats, ClientError> {
        self.run(STATS, &())
    }
}

/// A client's bulk buffer, borrowed or owned ([`BulkBuf`],
/// [`crate::OwnedBulk`]): what a device reads from or fills. Implemented
/// by this crate's buffers only.
pub trait BulkRef: sealed::Sealed {
    /// The reference a task's input carries.
    fn bulk_ref(&self) -> Bulk;

    /// The buffer's memory: what a remote request carries, or a remote
    /// read fills.
    #[doc(hidden)]
    fn memory(&self) -> (*mut u8, usize);
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::BulkBuf<'_> {}
    impl Sealed for crate::OwnedBulk {}
    impl<T: Sealed> Sealed for &T {}
}

/// The bytes of a buffer, for a request to carry.
fn bytes_of(data: &impl BulkRef) -> &[u8] {
    let (ptr, len) = data.memory();
    // SAFETY: the buffer's own memory, borrowed for as long as `data`.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

impl BulkRef for BulkBuf<'_> {
    fn bulk_ref(&self) -> Bulk {
        self.bulk()
    }

    fn memory(&self) -> (*mut u8, usize) {
        BulkBuf::memory(self)
    }
}

impl BulkRef for crate::OwnedBulk {
    fn bulk_ref(&self) -> Bulk {
        self.bulk()
    }

    fn memory(&self) -> (*mut u8, usize) {
        self.buffer().memory()
    }
}

/// A shared reference to a buffer serves where a read needs `&mut`: for
/// owners (bindings) that hold the buffer behind `&`.
impl<T: BulkRef> BulkRef for &T {
    fn bulk_ref(&self) -> Bulk {
        (**self).bulk_ref()
    }

    fn memory(&self) -> (*mut u8, usize) {
        (**self).memory()
    }
}
