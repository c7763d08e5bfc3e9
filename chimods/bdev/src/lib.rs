//! `chimaera_bdev`: block devices backed by a file (`pool_name` is the path)
//! or by RAM.
//!
//! ```yaml
//! compose:
//!   - mod_name: chimaera_bdev
//!     pool_name: /mnt/nvme/chimaera_bdev.dat   # the file; a label for ram
//!     pool_query: dynamic
//!     pool_id: 300.0
//!     capacity: 1GB
//!     bdev_type: file        # or ram
//!     io_depth: 32           # optional, default 16
//!     alignment: 4096        # optional, default 4096
//!     io_engine: auto        # optional: auto (io_uring if allowed), io_uring, sync
//! ```
//!
//! Clients allocate blocks ([`api::ALLOCATE`]), write and read them
//! through bulk buffers in shared memory ([`api::WRITE`], [`api::READ`]:
//! the device reads from and writes to the client's buffer directly), free
//! them, and read statistics. Allocation lives in memory; data in a file
//! device survives restarts (reopen the same path with the same capacity).
//!
//! A file device submits its I/O through io_uring and yields its worker
//! until the completion arrives, so one worker keeps up to `io_depth`
//! operations in flight and runs other tasks meanwhile; where io_uring is
//! not allowed it falls back to `pread`/`pwrite`. Clients send reads and
//! writes as long tasks (the typed client does), so they run on slow
//! workers and short tasks are never delayed behind them.

mod allocator;
mod backend;
mod latency;
mod params;

use std::path::Path;
use std::time::Instant;

pub use chimaera_bdev_api as api;
use chimod_sdk::bulk::Bulk;
use chimod_sdk::{ChiMod, ModError, PoolInfo, host};

use crate::allocator::BlockAllocator;
use crate::api::{
    ALLOCATE, BdevStats, Block, ByteBuf, DeclaredPerformance, FREE, READ, READ_AT, READ_AT_INLINE,
    READ_INLINE, ReadRequest, STATS, WRITE, WRITE_AT, WRITE_AT_INLINE, WRITE_INLINE, WriteRequest,
};
use crate::backend::{Backend, FileBackend, RamBackend};
use crate::latency::OpStats;
pub use crate::params::{BdevParams, BdevType, IoEngine};

/// A block device container.
#[derive(Debug)]
pub struct Bdev {
    /// `file device /data/dev.dat`: what I/O errors name.
    label: String,
    params: BdevParams,
    backend: Box<dyn Backend>,
    blocks: BlockAllocator,
    writes: OpStats,
    reads: OpStats,
}

/// The hand-over format between versions of this module; a version that
/// does not know it creates the device anew.
const HAND_OVER_FORMAT: u32 = 1;

/// What one version of the module hands the next in a live upgrade.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct HandOver {
    format: u32,
    capacity: u64,
    alignment: u64,
    blocks: allocator::AllocatorState,
    /// A RAM device's memfd, in this process.
    memory_fd: Option<i32>,
}

impl Bdev {
    fn from_hand_over(pool: &PoolInfo, params: BdevParams, state: &HandOver) -> Result<Bdev, ModError> {
        params.validate()?;
        let capacity = params.capacity.bytes();
        let backend: Box<dyn Backend> = match (params.bdev_type, state.memory_fd) {
            (BdevType::Ram, Some(fd)) => Box::new(RamBackend::adopt(fd, capacity)?),
            _ => Box::new(FileBackend::open(Path::new(&pool.pool_name), capacity, &params)?),
        };
        let blocks =
            BlockAllocator::restore(capacity, params.alignment, &state.blocks).map_err(ModError::new)?;
        Ok(Self::with_backend(pool, params, backend, blocks))
    }

    fn with_backend(
        pool: &PoolInfo,
        params: BdevParams,
        backend: Box<dyn Backend>,
        blocks: BlockAllocator,
    ) -> Bdev {
        chimod_sdk::tracing::info!(
            "{} device {pool}: capacity {}, io_depth {}, alignment {}{}",
            params.bdev_type.name(),
            params.capacity,
            params.io_depth,
            params.alignment,
            match (backend.direct_io(), backend.async_io()) {
                (true, true) => ", direct I/O through io_uring",
                (true, false) => ", direct I/O",
                (false, true) => ", through io_uring",
                (false, false) => "",
            }
        );
        Bdev {
            label: format!("{} device {}", params.bdev_type.name(), pool.pool_name),
            blocks,
            params,
            backend,
            writes: OpStats::default(),
            reads: OpStats::default(),
        }
    }
}

impl ChiMod for Bdev {
    type Params = BdevParams;

    fn create(pool: &PoolInfo, params: BdevParams) -> Result<Self, ModError> {
        params.validate()?;
        let capacity = params.capacity.bytes();
        let backend: Box<dyn Backend> = match params.bdev_type {
            BdevType::Ram => Box::new(RamBackend::new(capacity)?),
            BdevType::File => Box::new(FileBackend::open(Path::new(&pool.pool_name), capacity, &params)?),
        };
        let blocks = BlockAllocator::new(capacity, params.alignment);
        Ok(Self::with_backend(pool, params, backend, blocks))
    }

    // A live upgrade keeps the device's blocks and, for a RAM device, its
    // memory (mapped again from the same memfd, no copy); a file device
    // reopens its file.
    fn hand_over(&self) -> Option<Vec<u8>> {
        let state = HandOver {
            format: HAND_OVER_FORMAT,
            capacity: self.params.capacity.bytes(),
            alignment: self.params.alignment,
            blocks: self.blocks.snapshot(),
            memory_fd: self.backend.memory_fd(),
        };
        chimod_sdk::codec::encode(&state).ok()
    }

    fn take_over(pool: &PoolInfo, params: BdevParams, state: &[u8]) -> Option<Result<Self, ModError>> {
        let state: HandOver = chimod_sdk::codec::decode(state).ok().filter(|s: &HandOver| {
            s.format == HAND_OVER_FORMAT
                && s.capacity == params.capacity.bytes()
                && s.alignment == params.alignment
                && s.memory_fd.is_some() == (params.bdev_type == BdevType::Ram)
        })?;
        Some(Self::from_hand_over(pool, params, &state))
    }

    fn call(&self, method: u32, input: &[u8]) -> Result<Vec<u8>, ModError> {
        match method {
            m if m == ALLOCATE.id => ALLOCATE.handle(input, |size| Ok(self.blocks.allocate(size)?)),
            m if m == FREE.id => FREE.handle(input, |blocks| Ok(self.blocks.free(&blocks)?)),
            m if m == WRITE.id => WRITE.handle(input, |req| self.write(&req)),
            m if m == READ.id => READ.handle(input, |req| self.read(&req)),
            m if m == STATS.id => STATS.handle(input, |()| Ok(self.typed_stats())),
            m if m == WRITE_INLINE.id => WRITE_INLINE.handle(input, |req| {
                let at = self.check_range("write", &req.block, req.offset, req.data.len() as u64)?;
                self.write_inline(at, &req.data)
            }),
            m if m == READ_INLINE.id => READ_INLINE.handle(input, |(block, offset, len)| {
                self.read_inline(self.check_range("read", &block, offset, len)?, len)
            }),
            m if m == WRITE_AT_INLINE.id => WRITE_AT_INLINE.handle(input, |(at, data)| {
                self.write_inline(self.check_device("write", at, data.len() as u64)?, &data)
            }),
            m if m == READ_AT_INLINE.id => READ_AT_INLINE
                .handle(input, |(at, len)| self.read_inline(self.check_device("read", at, len)?, len)),
            m if m == WRITE_AT.id => WRITE_AT.handle(input, |(at, data)| {
                let at = self.check_device("write", at, data.len)?;
                // SAFETY: as in `write`.
                self.transfer("write", at, &data, &self.writes, |ptr, len, at| unsafe {
                    self.backend.write(ptr, len, at)
                })
            }),
            m if m == READ_AT.id => READ_AT.handle(input, |(at, into)| {
                let at = self.check_device("read", at, into.len)?;
                // SAFETY: as in `read`.
                self.transfer("read", at, &into, &self.reads, |ptr, len, at| unsafe {
                    self.backend.read(ptr, len, at)
                })
            }),
            other => Err(ModError::new(format!("chimaera_bdev has no method {other}"))),
        }
    }

    fn stats(&self) -> serde_json::Value {
        serde_json::to_value(self.typed_stats()).unwrap_or_default()
    }

    fn flush(&self) -> Result<(), ModError> {
        self.backend.flush().map_err(|e| ModError::new(format!("flush: {e}")))
    }

    fn destroy(self) -> Result<(), ModError> {
        self.flush()
    }
}

/// The most bytes one read returns in its output: well inside what one
/// message between nodes, or to a remote client, carries (64 MiB).
const INLINE_READ_MAX: u64 = 32 << 20;

impl Bdev {
    /// Checks that `len` bytes at `offset` within `block` lie on this device.
    fn check_range(&self, what: &str, block: &Block, offset: u64, len: u64) -> Result<u64, ModError> {
        let capacity = self.params.capacity.bytes();
        let block_ok = block.offset.is_multiple_of(self.params.alignment)
            && self.blocks.is_block_size(block.size)
            && block.offset.checked_add(block.size).is_some_and(|end| end <= capacity);
        if !block_ok {
            return Err(ModError::new(format!(
                "{what}: block at {} of {} bytes is not a block of this device (capacity {capacity}, alignment {})",
                block.offset, block.size, self.params.alignment
            )));
        }
        match offset.checked_add(len) {
            Some(end) if end <= block.size => Ok(block.offset + offset),
            _ => Err(ModError::new(format!(
                "{what}: {len} bytes at offset {offset} do not fit in the block of {} bytes",
                block.size
            ))),
        }
    }

    /// Checks that `len` bytes at device offset `at` lie on this device.
    fn check_device(&self, what: &str, at: u64, len: u64) -> Result<u64, ModError> {
        let capacity = self.params.capacity.bytes();
        match at.checked_add(len) {
            Some(end) if end <= capacity => Ok(at),
            _ => Err(ModError::new(format!(
                "{what}: {len} bytes at device offset {at} run past the device's capacity ({capacity} bytes)"
            ))),
        }
    }

    fn write(&self, req: &WriteRequest) -> Result<u64, ModError> {
        let at = self.check_range("write", &req.block, req.offset, req.data.len)?;
        // SAFETY: the client does not touch its buffer while the write is
        // in flight; `transfer` passes a mapping valid for `len` bytes.
        self.transfer("write", at, &req.data, &self.writes, |ptr, len, at| unsafe {
            self.backend.write(ptr, len, at)
        })
    }

    fn read(&self, req: &ReadRequest) -> Result<u64, ModError> {
        let at = self.check_range("read", &req.block, req.offset, req.into.len)?;
        // SAFETY: as in `write`; the client waits for the read before it
        // looks at its buffer.
        self.transfer("read", at, &req.into, &self.reads, |ptr, len, at| unsafe {
            self.backend.read(ptr, len, at)
        })
    }

    /// Writes bytes the task carried at device offset `at` (checked by the caller).
    fn write_inline(&self, at: u64, data: &[u8]) -> Result<u64, ModError> {
        let len = data.len() as u64;
        let started = Instant::now();
        // SAFETY: the task's own input, alive for this call.
        unsafe { self.backend.write(data.as_ptr(), data.len(), at) }
            .map_err(|e| self.io_error("write", len, at, e))?;
        self.writes.record(len, started.elapsed());
        Ok(len)
    }

    /// Reads `len` bytes at device offset `at` (checked by the caller) into the output.
    fn read_inline(&self, at: u64, len: u64) -> Result<ByteBuf, ModError> {
        if len > INLINE_READ_MAX {
            return Err(ModError::new(format!(
                "read: {len} bytes returned in the task's output are over the {INLINE_READ_MAX}-byte limit of one message; read in pieces"
            )));
        }
        let mut out = vec![0u8; len as usize];
        let started = Instant::now();
        // SAFETY: `out` is ours, `len` bytes.
        unsafe { self.backend.read(out.as_mut_ptr(), out.len(), at) }
            .map_err(|e| self.io_error("read", len, at, e))?;
        self.reads.record(len, started.elapsed());
        Ok(ByteBuf::from(out))
    }

    /// Maps the client's buffer, runs `io` on it at device offset `at`
    /// (checked by the caller) and records the operation.
    fn transfer(
        &self,
        what: &str,
        at: u64,
        bulk: &Bulk,
        stats: &OpStats,
        io: impl FnOnce(*mut u8, usize, u64) -> std::io::Result<()>,
    ) -> Result<u64, ModError> {
        let mem = host::bulk_map(bulk)?;
        let started = Instant::now();
        io(mem.as_ptr(), mem.len(), at).map_err(|e| self.io_error(what, bulk.len, at, e))?;
        stats.record(bulk.len, started.elapsed());
        Ok(bulk.len)
    }

    fn io_error(&self, what: &str, len: u64, at: u64, e: std::io::Error) -> ModError {
        ModError::new(format!("{}: {what} of {len} bytes at device offset {at} failed: {e}", self.label))
    }

    fn typed_stats(&self) -> BdevStats {
        let p = &self.params;
        BdevStats {
            bdev_type: p.bdev_type.name().to_owned(),
            capacity: p.capacity.bytes(),
            remaining: self.blocks.remaining(),
            blocks_live: self.blocks.blocks_live(),
            writes: self.writes.snapshot(),
            reads: self.reads.snapshot(),
            direct_io: self.backend.direct_io(),
            async_io: self.backend.async_io(),
            declared: DeclaredPerformance {
                read_bandwidth_mbps: p.read_bandwidth_mbps,
                write_bandwidth_mbps: p.write_bandwidth_mbps,
                read_latency_us: p.read_latency_us,
                write_latency_us: p.write_latency_us,
                iops: p.iops,
            },
        }
    }
}

chimod_sdk::export_module!(Bdev);
