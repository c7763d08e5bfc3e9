//! Calling a pool's methods with bytes in and out: a call that waits, a
//! task submitted and waited for later (with a timeout), and a task nobody
//! waits for.

use rust_client::{OwnedPending, TaskSpec};

use crate::args::{bytes, chi_pool_id, handle, handle_mut, put, timeout};
use crate::buffer::{chi_buffer, give};
use crate::client::chi_client;
use crate::status::{chi_status, guard};

/// A submitted task. Wait for it with `chi_task_wait`, then free it with
/// `chi_task_free`; freeing it unwaited abandons it (the runtime frees it
/// when it is done). It keeps its client alive.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct chi_task {
    inner: OwnedPending,
}

/// Runs method `method` of pool `pool_id` on `input_len` bytes of input and
/// waits for its output (bounded by `chi_set_call_timeout`).
///
/// # Safety
/// `client` is a live client; `input` has `input_len` readable bytes (or
/// `input_len` is 0); `out` is writable (free it with `chi_buffer_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_call(
    client: *const chi_client,
    pool_id: chi_pool_id,
    method: u32,
    input: *const u8,
    input_len: usize,
    out: *mut chi_buffer,
) -> chi_status {
    guard(|| {
        // SAFETY: as the caller promised.
        let (client, input) = unsafe { (handle(client, "client")?, bytes(input, input_len, "input")?) };
        let output = client.inner.call(pool_id.into(), method, input)?;
        // SAFETY: as the caller promised.
        unsafe { give(out, output) }
    })
}

/// Submits method `method` of pool `pool_id`; `*out` is the task to wait for.
///
/// # Safety
/// As for `chi_call`; `out` is writable for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_submit(
    client: *const chi_client,
    pool_id: chi_pool_id,
    method: u32,
    input: *const u8,
    input_len: usize,
    out: *mut *mut chi_task,
) -> chi_status {
    guard(|| {
        // SAFETY: as the caller promised.
        let (client, input) = unsafe { (handle(client, "client")?, bytes(input, input_len, "input")?) };
        if out.is_null() {
            return Err(crate::status::Failure::invalid("out is NULL"));
        }
        let pending = client.inner.submit_owned(&TaskSpec::new(pool_id.into(), method, input))?;
        let task = Box::into_raw(Box::new(chi_task { inner: pending }));
        // SAFETY: checked non-null above; writable as the caller promised.
        unsafe { put(out, task, "out") }
    })
}

/// Submits method `method` of pool `pool_id` and does not wait: the runtime
/// frees the task when it is done, and its output is dropped.
///
/// # Safety
/// As for `chi_call`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_fire_and_forget(
    client: *const chi_client,
    pool_id: chi_pool_id,
    method: u32,
    input: *const u8,
    input_len: usize,
) -> chi_status {
    guard(|| {
        // SAFETY: as the caller promised.
        let (client, input) = unsafe { (handle(client, "client")?, bytes(input, input_len, "input")?) };
        Ok(client.inner.fire_and_forget(&TaskSpec::new(pool_id.into(), method, input))?)
    })
}

/// Waits up to `timeout_ms` (`CHI_WAIT_FOREVER`: no limit) for a task's
/// output. `CHI_ERR_TIMEOUT` leaves the task in flight, to wait for again.
///
/// # Safety
/// `task` is a live task no other thread uses during the call; `out` is
/// writable (free it with `chi_buffer_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_task_wait(
    task: *mut chi_task,
    timeout_ms: i64,
    out: *mut chi_buffer,
) -> chi_status {
    guard(|| {
        // SAFETY: as the caller promised.
        let task = unsafe { handle_mut(task, "task") }?;
        let output = task.inner.wait(timeout(timeout_ms))?;
        // SAFETY: as the caller promised.
        unsafe { give(out, output) }
    })
}

/// 1 when the task's output is ready (`chi_task_wait` returns at once), else 0.
///
/// # Safety
/// `task` is null (0) or a live task.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_task_is_done(task: *const chi_task) -> i32 {
    // SAFETY: as the caller promised.
    unsafe { task.as_ref() }.is_some_and(|t| t.inner.is_done()).into()
}

/// Frees a task (NULL is ignored); one not waited for is abandoned.
///
/// # Safety
/// `task` is null or a task from `chi_submit`, not used after this.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chi_task_free(task: *mut chi_task) {
    if !task.is_null() {
        // SAFETY: made by `Box::into_raw` in `chi_submit`, freed once.
        drop(unsafe { Box::from_raw(task) });
    }
}
