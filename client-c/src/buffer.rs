//! Bytes this library hands to C: task outputs and JSON text.

use crate::args::put;
use crate::status::{Failure, chi_status, guard};

/// Bytes owned by this library; free with `chi_buffer_free`. `data` is
/// NUL-terminated (one byte past `len`), so JSON can be printed as is.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug)]
pub struct chi_buffer {
    /// The bytes (never NULL for a buffer this library filled).
    pub data: *mut u8,
    /// How many, not counting the terminating NUL.
    pub len: usize,
}

/// Hands `bytes` to C through `out`.
///
/// # Safety
/// `out` is null or writable for a `chi_buffer`.
pub(crate) unsafe fn give(out: *mut chi_buffer, mut bytes: Vec<u8>) -> Result<(), Failure> {
    let len = bytes.len();
    bytes.push(0);
    let data = Box::into_raw(bytes.into_boxed_slice()).cast::<u8>();
    let buffer = chi_buffer { data, len };
    if out.is_null() {
        // SAFETY: just made from a boxed slice of `len + 1` bytes.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, len + 1)) });
        return Err(Failure::invalid("the output buffer pointer is NULL"));
    }
    // SAFETY: non-null, as checked; writable, as the caller promised.
    unsafe { put(out, buffer, "out") }
}

/// Frees a buffer this library filled and empties it. A NULL `buffer`, or
/// one already freed (data NULL), is left alone.
///
/// # Safety
/// `buffer` is null or a `chi_buffer` this library filled.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_buffer_free(buffer: *mut chi_buffer) {
    let _: chi_status = guard(|| {
        // SAFETY: as the caller promised.
        let Some(buffer) = (unsafe { buffer.as_mut() }) else { return Ok(()) };
        if !buffer.data.is_null() {
            let whole = std::ptr::slice_from_raw_parts_mut(buffer.data, buffer.len + 1);
            // SAFETY: made by `give` from a boxed slice of `len + 1` bytes.
            drop(unsafe { Box::from_raw(whole) });
        }
        buffer.data = std::ptr::null_mut();
        buffer.len = 0;
        Ok(())
    });
}
