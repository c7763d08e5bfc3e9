//! What the runtime offers modules: its log, subtasks to any pool, and (for
//! the admin module) its admin operations. No callback unwinds into a
//! module: each catches the runtime's own panics and reports an error.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use std::sync::Arc;

use chimod_sdk::abi::{AbiBulk, AbiBytes, AbiStr, AbiSubtask, HostApi, LogLevelCode, OutBuf, Status};
use chimod_sdk::bulk::BulkSegment;
use tracing::level_filters::LevelFilter;

use crate::ipc::TaskStatus;
use crate::node::Node;
use crate::task::{Completion, InternalTask, Outcome};

/// The runtime state admin callbacks act on; null outside a runtime (tests
/// that load modules in-process).
#[derive(Debug, Clone, Copy)]
pub struct HostContext(*const c_void);

// SAFETY: the pointer leads to a `Node`, which is Sync, or is null.
unsafe impl Send for HostContext {}
// SAFETY: as above.
unsafe impl Sync for HostContext {}

impl HostContext {
    /// No runtime behind the modules.
    pub const NONE: HostContext = HostContext(std::ptr::null());

    /// A context pointing at a `Node`, which must outlive every module call.
    pub fn new(node: *const c_void) -> HostContext {
        HostContext(node)
    }
}

/// The table handed to every module at load.
pub(super) fn host_api(ctx: HostContext) -> HostApi {
    let max_level = LevelFilter::current().into_level().map_or(0, |level| LogLevelCode::of(&level));
    HostApi {
        max_level,
        log: module_log,
        ctx: ctx.0,
        admin: host_admin,
        submit: host_submit,
        wait: host_wait,
        forget: host_forget,
        bulk_map: host_bulk_map,
        bulk_alloc: host_bulk_alloc,
        bulk_free: host_bulk_free,
        yield_now: host_yield_now,
    }
}

/// Re-emits a module's log line in the runtime's log, tagged with the module
/// and pool (a module's own `tracing` cannot reach the runtime's subscriber).
unsafe extern "C" fn module_log(level: u32, module: AbiStr, pool: AbiStr, target: AbiStr, message: AbiStr) {
    // SAFETY: the module passes strings alive for this call (ABI contract of `log`).
    let (module, pool, target, message) =
        unsafe { (module.as_str(), pool.as_str(), target.as_str(), message.as_str()) };
    match level {
        LogLevelCode::ERROR => tracing::error!(target: "chimod", module, pool, source = target, "{message}"),
        LogLevelCode::WARN => tracing::warn!(target: "chimod", module, pool, source = target, "{message}"),
        LogLevelCode::INFO => tracing::info!(target: "chimod", module, pool, source = target, "{message}"),
        LogLevelCode::DEBUG => tracing::debug!(target: "chimod", module, pool, source = target, "{message}"),
        _ => tracing::trace!(target: "chimod", module, pool, source = target, "{message}"),
    }
}

/// The node behind `ctx`, or the error for a module loaded outside a runtime.
///
/// # Safety
/// A non-null `ctx` must be the `Node` of `HostContext::new`, which is
/// alive during every module call.
unsafe fn node<'a>(ctx: *const c_void, what: &str) -> Result<&'a Node, String> {
    if ctx.is_null() {
        return Err(format!("{what} need a running runtime"));
    }
    // SAFETY: forwarded from the caller.
    Ok(unsafe { &*ctx.cast::<Node>() })
}

/// Writes `bytes` to the module's buffer and returns `status`.
fn reply(out: OutBuf, status: Status, bytes: &[u8]) -> Status {
    // SAFETY: `out` is the module's buffer for the current call.
    unsafe { out.put(bytes) };
    status
}

/// Runs an admin operation for the admin module, on a stack of its own:
/// creating a pool runs a module's create and parses its parameters, which
/// must not depend on how small `runtime.stack_size` is.
unsafe extern "C" fn host_admin(ctx: *const c_void, method: u32, input: AbiBytes, out: OutBuf) -> Status {
    // SAFETY: ctx comes from the host table given to this module; `input`
    // lives for this call.
    let result = unsafe { node(ctx, "admin operations") }.and_then(|node| {
        // SAFETY: the module's input lives for this call.
        let input = unsafe { input.as_slice() };
        catch_unwind(AssertUnwindSafe(|| {
            crate::worker::on_admin_stack(|| crate::admin::handle(node, method, input))
        }))
        .unwrap_or_else(|_| Err(format!("admin operation {method} panicked in the runtime")))
    });
    match result {
        Ok(bytes) => reply(out, Status::OK, &bytes),
        Err(message) => reply(out, Status::ERROR, message.as_bytes()),
    }
}

/// Submits a module's subtask; its handle is a counted reference to the
/// subtask's completion, consumed by `wait` or `forget`.
unsafe extern "C" fn host_submit(
    ctx: *const c_void,
    task: *const AbiSubtask,
    handle: *mut u64,
    out: OutBuf,
) -> Status {
    // SAFETY: ctx comes from the host table; the module passes a valid task
    // and handle pointer for this call, and the input lives for it.
    let result = unsafe { node(ctx, "subtasks") }.and_then(|node| {
        // SAFETY: the module passes a task valid for this call.
        let task = unsafe { &*task };
        // SAFETY: the task's input lives for this call; it is copied here.
        let input = unsafe { task.input.as_slice() }.to_vec();
        let completion = Completion::new();
        let internal = InternalTask {
            pool: task.pool_id,
            method: task.method,
            input,
            completion: Some(completion.clone()),
            owner: crate::worker::current_task_owner().unwrap_or_else(std::process::id),
            route: chimod_sdk::Route::decode(task.route[0], task.route[1], task.route[2])
                .ok_or_else(|| format!("unknown route code {}", task.route[0]))?,
        };
        let long = task.flags & AbiSubtask::LONG != 0;
        catch_unwind(AssertUnwindSafe(|| crate::worker::submit(node, internal, long)))
            .unwrap_or_else(|_| Err(Outcome::failed(TaskStatus::Error, "submitting panicked in the runtime")))
            .map(|()| completion)
            .map_err(|o| String::from_utf8_lossy(&o.output).into_owned())
    });
    match result {
        Ok(completion) => {
            // SAFETY: the module passes a writable handle location.
            unsafe { *handle = Arc::into_raw(completion) as u64 };
            Status::OK
        }
        Err(message) => reply(out, Status::ERROR, message.as_bytes()),
    }
}

/// Waits for a subtask (suspending the calling task's fiber) and consumes
/// its handle.
unsafe extern "C" fn host_wait(_ctx: *const c_void, handle: u64, out: OutBuf) -> Status {
    // SAFETY: the handle is an `Arc<Completion>` from `host_submit`, which
    // the SDK consumes exactly once.
    let completion = unsafe { Arc::from_raw(handle as *const Completion) };
    let outcome = catch_unwind(AssertUnwindSafe(|| completion.wait()))
        .unwrap_or_else(|_| Outcome::failed(TaskStatus::Error, "waiting panicked in the runtime"));
    let status = match outcome.status {
        TaskStatus::Ok => Status::OK,
        TaskStatus::Panicked => Status::PANIC,
        TaskStatus::NoPool => Status::NO_POOL,
        TaskStatus::Stopping => Status::STOPPING,
        TaskStatus::Error | TaskStatus::BadTask => Status::ERROR,
    };
    reply(out, status, &outcome.output)
}

/// Drops a subtask's handle unwaited; the subtask runs on.
unsafe extern "C" fn host_forget(_ctx: *const c_void, handle: u64) {
    // SAFETY: as in `host_wait`.
    drop(unsafe { Arc::from_raw(handle as *const Completion) });
}

/// Runs a bulk operation on the node's heaps and replies with its error.
///
/// # Safety
/// As for [`node`].
unsafe fn with_bulk(
    ctx: *const c_void,
    out: OutBuf,
    op: impl FnOnce(&crate::bulk::BulkHeaps) -> Result<(), String>,
) -> Status {
    // SAFETY: forwarded from the caller.
    let result = unsafe { node(ctx, "bulk buffers") }.and_then(|node| {
        let heaps = node.bulk.get().ok_or("the runtime's data segments are not set up")?;
        catch_unwind(AssertUnwindSafe(|| op(heaps)))
            .unwrap_or_else(|_| Err("a bulk operation panicked in the runtime".to_owned()))
    });
    match result {
        Ok(()) => Status::OK,
        Err(message) => reply(out, Status::ERROR, message.as_bytes()),
    }
}

/// Checks a module's `Bulk` against the heap and gives it the address.
unsafe extern "C" fn host_bulk_map(
    ctx: *const c_void,
    bulk: *const AbiBulk,
    ptr: *mut *mut u8,
    out: OutBuf,
) -> Status {
    // SAFETY: ctx from the host table; bulk and ptr valid for this call.
    unsafe {
        with_bulk(ctx, out, |heaps| {
            let bulk = (*bulk).to_bulk().ok_or("unknown bulk segment")?;
            *ptr = heaps.get(bulk.segment).resolve(&bulk).map_err(|e| e.to_string())?;
            Ok(())
        })
    }
}

/// Allocates in `runtime_data` for the running task's client.
unsafe extern "C" fn host_bulk_alloc(
    ctx: *const c_void,
    len: u64,
    bulk: *mut AbiBulk,
    out: OutBuf,
) -> Status {
    let owner = crate::worker::current_task_owner().unwrap_or_else(std::process::id);
    // SAFETY: ctx from the host table; bulk valid for this call.
    unsafe {
        with_bulk(ctx, out, |heaps| {
            *bulk = heaps.runtime.alloc(len, owner).map_err(|e| e.to_string())?.into();
            Ok(())
        })
    }
}

/// Frees a `runtime_data` block for a module.
unsafe extern "C" fn host_bulk_free(ctx: *const c_void, bulk: *const AbiBulk, out: OutBuf) -> Status {
    // SAFETY: ctx from the host table; bulk valid for this call.
    unsafe {
        with_bulk(ctx, out, |heaps| {
            let bulk = (*bulk).to_bulk().ok_or("unknown bulk segment")?;
            if bulk.segment != BulkSegment::RuntimeData {
                return Err("modules free only runtime_data buffers; a client frees its own".to_owned());
            }
            heaps.runtime.free(&bulk, None).map_err(|e| e.to_string())
        })
    }
}

/// Puts the calling task back at the end of its worker's round.
unsafe extern "C" fn host_yield_now(_ctx: *const c_void) {
    if catch_unwind(crate::worker::yield_current_fiber).is_err() {
        tracing::error!("yielding panicked in the runtime");
    }
}
