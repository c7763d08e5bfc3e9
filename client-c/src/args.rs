//! Reading what C passed: text, byte ranges, handles and out-pointers, each
//! refused with an error naming the argument rather than trusted.

use std::ffi::{CStr, c_char};
use std::time::Duration;

use chimod_sdk::PoolId;

use crate::status::Failure;

/// A pool id: the two numbers of `"major.minor"`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct chi_pool_id {
    /// The first number (a module family by convention).
    pub major: u32,
    /// The second number (an instance within the family).
    pub minor: u32,
}

impl From<chi_pool_id> for PoolId {
    fn from(id: chi_pool_id) -> PoolId {
        PoolId::new(id.major, id.minor)
    }
}

/// Waits without a limit (a timeout argument in milliseconds).
pub const CHI_WAIT_FOREVER: i64 = -1;

/// A timeout in milliseconds; negative is no limit.
pub(crate) fn timeout(ms: i64) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}

/// Text C passed, required.
///
/// # Safety
/// `ptr` is null or a NUL-terminated string that lives for the call.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Failure> {
    // SAFETY: as the caller promised.
    unsafe { optional_text(ptr, what) }?.ok_or_else(|| Failure::invalid(format!("{what} is NULL")))
}

/// Text C passed, where NULL means "not given".
///
/// # Safety
/// As for [`text`].
pub(crate) unsafe fn optional_text<'a>(ptr: *const c_char, what: &str) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null and NUL-terminated, as the caller promised.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map(Some).map_err(|_| Failure::invalid(format!("{what} is not UTF-8 text")))
}

/// `len` bytes at `ptr` (NULL allowed when `len` is 0).
///
/// # Safety
/// `ptr` is null or points to `len` readable bytes that live for the call.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::invalid(format!("{what} is NULL but its length is {len}")));
    }
    // SAFETY: as the caller promised.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The object behind a handle C passed.
///
/// # Safety
/// `ptr` is null or a handle this library returned and has not freed.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Failure> {
    // SAFETY: as the caller promised.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::invalid(format!("{what} is NULL")))
}

/// As [`handle`], for a handle the call changes.
///
/// # Safety
/// As for [`handle`], and no other thread uses it during the call.
pub(crate) unsafe fn handle_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: as the caller promised.
    unsafe { ptr.as_mut() }.ok_or_else(|| Failure::invalid(format!("{what} is NULL")))
}

/// Stores `value` where C asked for a result.
///
/// # Safety
/// `out` is null or writable for a `T`.
pub(crate) unsafe fn put<T>(out: *mut T, value: T, what: &str) -> Result<(), Failure> {
    if out.is_null() {
        return Err(Failure::invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-null and writable, as the caller promised.
    unsafe { out.write(value) };
    Ok(())
}

/// The admin pool's ping method (pool 1.0, no input, no output): the
/// cheapest round trip, for checks and latency figures.
pub const CHI_ADMIN_PING: u32 = 16;

#[cfg(test)]
mod tests {
    #[test]
    fn the_ping_method_number_is_the_sdk_s() {
        assert_eq!(super::CHI_ADMIN_PING, chimod_sdk::admin::PING.id);
    }
}
