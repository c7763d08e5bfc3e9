//! Bulk buffers in the runtime's shared memory, and the bdev calls that
//! read and write them without a copy.

use chimaera_bdev_api::Block;
use rust_client::{BdevClient, OwnedBulk};

use crate::args::{chi_pool_id, handle, handle_mut, put};
use crate::client::chi_client;
use crate::status::{Failure, chi_status, guard};

/// A buffer in the runtime's shared memory (`client_data`), zeroed when
/// allocated. Fill it, then pass it to a bdev write; a bdev read fills it.
/// Do not change it while a task that uses it is in flight.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct chi_bulk {
    inner: OwnedBulk,
}

/// A block of a bdev pool: its place on the device and its size.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct chi_block {
    /// Byte offset on the device.
    pub offset: u64,
    /// Bytes.
    pub size: u64,
}

impl From<chi_block> for Block {
    fn from(b: chi_block) -> Block {
        Block { offset: b.offset, size: b.size }
    }
}

/// Allocates a `len`-byte bulk buffer.
///
/// # Safety
/// `client` is a live client; `out` is writable for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_bulk_alloc(
    client: *const chi_client,
    len: usize,
    out: *mut *mut chi_bulk,
) -> chi_status {
    guard(|| {
        // SAFETY: as the caller promised.
        let client = unsafe { handle(client, "client") }?;
        if out.is_null() {
            return Err(Failure::invalid("out is NULL"));
        }
        let bulk = Box::into_raw(Box::new(chi_bulk { inner: client.inner.bulk_alloc_owned(len as u64)? }));
        // SAFETY: checked non-null above; writable as the caller promised.
        unsafe { put(out, bulk, "out") }
    })
}

/// The buffer's bytes (NULL for a NULL buffer).
///
/// # Safety
/// `bulk` is null or a live buffer; the bytes live as long as it does.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_bulk_data(bulk: *mut chi_bulk) -> *mut u8 {
    // SAFETY: as the caller promised.
    unsafe { bulk.as_mut() }.map_or(std::ptr::null_mut(), |b| b.inner.as_mut_slice().as_mut_ptr())
}

/// The buffer's length in bytes (0 for a NULL buffer).
///
/// # Safety
/// `bulk` is null or a live buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_bulk_len(bulk: *const chi_bulk) -> usize {
    // SAFETY: as the caller promised.
    unsafe { bulk.as_ref() }.map_or(0, |b| b.inner.as_slice().len())
}

/// Frees a bulk buffer (NULL is ignored).
///
/// # Safety
/// `bulk` is null or a buffer from `chi_bulk_alloc`, not used after this
/// and not in use by a task in flight.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_bulk_free(bulk: *mut chi_bulk) {
    if !bulk.is_null() {
        // SAFETY: made by `Box::into_raw` in `chi_bulk_alloc`, freed once.
        drop(unsafe { Box::from_raw(bulk) });
    }
}

/// Allocates blocks for `size` bytes on bdev pool `pool_id`: up to
/// `max_blocks` are stored at `blocks`, and `*count` says how many the
/// device gave (more than `max_blocks` is `CHI_ERR_INVALID_ARGUMENT`, and
/// the blocks are freed again).
///
/// # Safety
/// `client` is a live client; `blocks` is writable for `max_blocks`
/// blocks; `count` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_bdev_allocate(
    client: *const chi_client,
    pool_id: chi_pool_id,
    size: u64,
    blocks: *mut chi_block,
    max_blocks: usize,
    count: *mut usize,
) -> chi_status {
    guard(|| {
        // SAFETY: as the caller promised.
        let client = unsafe { handle(client, "client") }?;
        if blocks.is_null() || count.is_null() {
            return Err(Failure::invalid("blocks or count is NULL"));
        }
        let dev = BdevClient::new(&client.inner, pool_id.into());
        let given = dev.allocate(size)?;
        if given.len() > max_blocks {
            let _ = dev.free(&given);
            return Err(Failure::invalid(format!(
                "the device gave {} blocks for {size} bytes, more than max_blocks ({max_blocks})",
                given.len()
            )));
        }
        for (i, b) in given.iter().enumerate() {
            // SAFETY: `blocks` has room for `max_blocks` >= `given.len()`.
            unsafe { blocks.add(i).write(chi_block { offset: b.offset, size: b.size }) };
        }
        // SAFETY: checked non-null; writable as the caller promised.
        unsafe { put(count, given.len(), "count") }
    })
}

/// Frees `count` blocks of bdev pool `pool_id`.
///
/// # Safety
/// `client` is a live client; `blocks` has `count` readable blocks.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_bdev_free(
    client: *const chi_client,
    pool_id: chi_pool_id,
    blocks: *const chi_block,
    count: usize,
) -> chi_status {
    guard(|| {
        // SAFETY: as the caller promised.
        let client = unsafe { handle(client, "client") }?;
        let blocks: Vec<Block> = if count == 0 {
            Vec::new()
        } else if blocks.is_null() {
            return Err(Failure::invalid(format!("blocks is NULL but count is {count}")));
        } else {
            // SAFETY: as the caller promised.
            unsafe { std::slice::from_raw_parts(blocks, count) }.iter().map(|b| (*b).into()).collect()
        };
        Ok(BdevClient::new(&client.inner, pool_id.into()).free(&blocks)?)
    })
}

/// Writes all of `data` into `block` of bdev pool `pool_id` at `offset`
/// bytes from the block's start; `*written` is the bytes written.
///
/// # Safety
/// `client` and `data` are live; `written` is null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_bdev_write(
    client: *const chi_client,
    pool_id: chi_pool_id,
    block: chi_block,
    offset: u64,
    data: *const chi_bulk,
    written: *mut u64,
) -> chi_status {
    guard(|| {
        // SAFETY: as the caller promised.
        let (client, data) = unsafe { (handle(client, "client")?, handle(data, "data")?) };
        let n = BdevClient::new(&client.inner, pool_id.into()).write(block.into(), offset, &data.inner)?;
        // SAFETY: as the caller promised.
        unsafe { put_optional(written, n) };
        Ok(())
    })
}

/// Reads `chi_bulk_len(into)` bytes of `block` of bdev pool `pool_id` from
/// `offset` into `into`; `*read` is the bytes read.
///
/// # Safety
/// `client` and `into` are live, and no other thread uses `into` during the
/// call; `read` is null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_bdev_read(
    client: *const chi_client,
    pool_id: chi_pool_id,
    block: chi_block,
    offset: u64,
    into: *mut chi_bulk,
    read: *mut u64,
) -> chi_status {
    guard(|| {
        // SAFETY: as the caller promised.
        let (client, into) = unsafe { (handle(client, "client")?, handle_mut(into, "into")?) };
        let n = BdevClient::new(&client.inner, pool_id.into()).read(block.into(), offset, &mut into.inner)?;
        // SAFETY: as the caller promised.
        unsafe { put_optional(read, n) };
        Ok(())
    })
}

/// Writes all of `data` at byte `offset` of bdev pool `pool_id`'s device
/// itself, outside its block allocator; `*written` is the bytes written.
///
/// # Safety
/// `client` and `data` are live; `written` is null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_bdev_write_at(
    client: *const chi_client,
    pool_id: chi_pool_id,
    offset: u64,
    data: *const chi_bulk,
    written: *mut u64,
) -> chi_status {
    guard(|| {
        // SAFETY: as the caller promised.
        let (client, data) = unsafe { (handle(client, "client")?, handle(data, "data")?) };
        let n = BdevClient::new(&client.inner, pool_id.into()).write_at(offset, &data.inner)?;
        // SAFETY: as the caller promised.
        unsafe { put_optional(written, n) };
        Ok(())
    })
}

/// Fills `into` from byte `offset` of bdev pool `pool_id`'s device itself;
/// `*read` is the bytes read.
///
/// # Safety
/// `client` and `into` are live, and no other thread uses `into` during the
/// call; `read` is null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_bdev_read_at(
    client: *const chi_client,
    pool_id: chi_pool_id,
    offset: u64,
    into: *mut chi_bulk,
    read: *mut u64,
) -> chi_status {
    guard(|| {
        // SAFETY: as the caller promised.
        let (client, into) = unsafe { (handle(client, "client")?, handle_mut(into, "into")?) };
        let n = BdevClient::new(&client.inner, pool_id.into()).read_at(offset, &mut into.inner)?;
        // SAFETY: as the caller promised.
        unsafe { put_optional(read, n) };
        Ok(())
    })
}

/// Stores `n` where C asked for a count, if it asked.
///
/// # Safety
/// `out` is null or writable.
unsafe fn put_optional(out: *mut u64, n: u64) {
    if !out.is_null() {
        // SAFETY: non-null; writable as the caller promised.
        unsafe { out.write(n) };
    }
}
