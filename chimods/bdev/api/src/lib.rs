//! The methods and types of `chimaera_bdev`, in a crate of their own: a
//! client links this, never the module library (every module library
//! exports the same plugin symbol, so two in one binary would clash).

use chimod_sdk::Method;
use chimod_sdk::bulk::Bulk;
use chimod_sdk::methods::FIRST_MODULE_METHOD;
use serde::{Deserialize, Serialize};
/// Bytes carried in a task (the inline methods' data): encoded as one run of
/// bytes, where a `Vec<u8>` would be encoded (and decoded) byte by byte.
pub use serde_bytes::{ByteBuf, Bytes};

/// A block of the device: `size` bytes at byte `offset`, both multiples of
/// the device's alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Block {
    /// Byte offset on the device.
    pub offset: u64,
    /// Bytes.
    pub size: u64,
}

/// Writes `data` (a client's `client_data` buffer) into `block` at
/// `offset` bytes from the block's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteRequest {
    /// The block.
    pub block: Block,
    /// Offset within the block.
    pub offset: u64,
    /// The bytes to write; its length is the write's length.
    pub data: Bulk,
}

/// Reads `into.len` bytes of `block`, from `offset` bytes past its start,
/// into a client's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRequest {
    /// The block.
    pub block: Block,
    /// Offset within the block.
    pub offset: u64,
    /// Where the bytes go; its length is the read's length.
    pub into: Bulk,
}

/// Latency figures of one kind of operation, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    /// Operations.
    pub count: u64,
    /// Bytes moved.
    pub bytes: u64,
    /// Mean latency.
    pub mean_us: f64,
    /// 99th percentile (upper bound of its histogram bucket, within 10%).
    pub p99_us: f64,
}

/// The figures the original declares for a device, when the compose entry
/// gives them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DeclaredPerformance {
    /// Declared read bandwidth, MB/s.
    pub read_bandwidth_mbps: Option<f64>,
    /// Declared write bandwidth, MB/s.
    pub write_bandwidth_mbps: Option<f64>,
    /// Declared read latency, µs.
    pub read_latency_us: Option<f64>,
    /// Declared write latency, µs.
    pub write_latency_us: Option<f64>,
    /// Declared operations per second.
    pub iops: Option<f64>,
}

/// A device's statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BdevStats {
    /// `file` or `ram`.
    pub bdev_type: String,
    /// Bytes in all.
    pub capacity: u64,
    /// Bytes not in live blocks.
    pub remaining: u64,
    /// Blocks allocated and not freed.
    pub blocks_live: u64,
    /// Writes.
    pub writes: LatencyStats,
    /// Reads.
    pub reads: LatencyStats,
    /// Whether file I/O bypasses the page cache (`O_DIRECT`).
    pub direct_io: bool,
    /// Whether file I/O is asynchronous (io_uring).
    pub async_io: bool,
    /// What the compose entry declared.
    pub declared: DeclaredPerformance,
}

/// Allocates blocks for `size` bytes: one block of the smallest size class
/// that holds it (4 KiB, 64 KiB, 256 KiB, 1 MiB), or several 1 MiB blocks.
pub const ALLOCATE: Method<u64, Vec<Block>> = Method::new(FIRST_MODULE_METHOD);
/// Frees blocks.
pub const FREE: Method<Vec<Block>, ()> = Method::new(FIRST_MODULE_METHOD + 1);
/// Writes; returns the bytes written.
pub const WRITE: Method<WriteRequest, u64> = Method::new(FIRST_MODULE_METHOD + 2);
/// Reads; returns the bytes read.
pub const READ: Method<ReadRequest, u64> = Method::new(FIRST_MODULE_METHOD + 3);
/// Statistics.
pub const STATS: Method<(), BdevStats> = Method::new(FIRST_MODULE_METHOD + 4);

/// Writes bytes carried in the task itself (not a bulk buffer): for a
/// client on another node, whose buffers this node cannot see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteInline {
    /// The block.
    pub block: Block,
    /// Offset within the block.
    pub offset: u64,
    /// The bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// A [`WriteInline`] that borrows its bytes: the same encoding, for a
/// client that sends a buffer of its own without copying it first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WriteInlineRef<'a> {
    /// The block.
    pub block: Block,
    /// Offset within the block.
    pub offset: u64,
    /// The bytes.
    #[serde(with = "serde_bytes")]
    pub data: &'a [u8],
}

/// Writes inline bytes; returns the bytes written.
pub const WRITE_INLINE: Method<WriteInline, u64> = Method::new(FIRST_MODULE_METHOD + 5);
/// Reads `len` bytes at `offset` of a block and returns them in the task's
/// output (for a client on another node).
pub const READ_INLINE: Method<(Block, u64, u64), ByteBuf> = Method::new(FIRST_MODULE_METHOD + 6);

/// Writes a client's `client_data` buffer at a byte offset of the device
/// itself, outside the block allocator: for an application that manages
/// the device's space on its own (the Python package's `Bdev.write`).
/// Returns the bytes written.
pub const WRITE_AT: Method<(u64, Bulk), u64> = Method::new(FIRST_MODULE_METHOD + 7);
/// Reads into a client's buffer from a byte offset of the device itself;
/// returns the bytes read.
pub const READ_AT: Method<(u64, Bulk), u64> = Method::new(FIRST_MODULE_METHOD + 8);
/// Writes bytes carried in the task at a byte offset of the device itself:
/// [`WRITE_AT`] for a remote client, whose buffers the runtime cannot see.
/// Returns the bytes written.
pub const WRITE_AT_INLINE: Method<(u64, ByteBuf), u64> = Method::new(FIRST_MODULE_METHOD + 9);
/// Reads `len` bytes from a byte offset of the device itself and returns
/// them in the task's output: [`READ_AT`] for a remote client.
pub const READ_AT_INLINE: Method<(u64, u64), ByteBuf> = Method::new(FIRST_MODULE_METHOD + 10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_borrowed_inline_write_encodes_as_the_owned_one() {
        let block = Block { offset: 4096, size: 4096 };
        let owned = WriteInline { block, offset: 8, data: vec![1, 2, 3] };
        let borrowed = WriteInlineRef { block, offset: 8, data: &[1, 2, 3] };
        let bytes = chimod_sdk::codec::encode(&borrowed).unwrap();
        assert_eq!(chimod_sdk::codec::encode(&owned).unwrap(), bytes);
        assert_eq!(chimod_sdk::codec::decode::<WriteInline>(&bytes).unwrap(), owned);
        // As a Vec<u8> encodes in this codec: one run of bytes either way.
        assert_eq!(
            chimod_sdk::codec::encode(&(7u64, Bytes::new(&[9, 9]))).unwrap(),
            chimod_sdk::codec::encode(&(7u64, vec![9u8, 9])).unwrap()
        );
    }
}
