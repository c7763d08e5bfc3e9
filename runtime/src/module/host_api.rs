//! What the runtime offers modules: its log, and (for the admin module) its
//! admin operations.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use chimod_sdk::abi::{AbiBytes, AbiStr, HostApi, LogLevelCode, OutBuf, Status};
use tracing::level_filters::LevelFilter;

use crate::node::Node;

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
    HostApi { max_level, log: module_log, ctx: ctx.0, admin: host_admin }
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

/// Runs an admin operation for the admin module. Never unwinds into it.
unsafe extern "C" fn host_admin(ctx: *const c_void, method: u32, input: AbiBytes, out: OutBuf) -> Status {
    let result = if ctx.is_null() {
        Err("admin operations need a running runtime".to_owned())
    } else {
        // SAFETY: a non-null ctx is the `Node` of `HostContext::new`, alive
        // during every module call; `input` lives for this call.
        let (node, input) = unsafe { (&*ctx.cast::<Node>(), input.as_slice()) };
        catch_unwind(AssertUnwindSafe(|| crate::admin::handle(node, method, input)))
            .unwrap_or_else(|_| Err(format!("admin operation {method} panicked in the runtime")))
    };
    let (status, bytes) = match result {
        Ok(bytes) => (Status::OK, bytes),
        Err(message) => (Status::ERROR, message.into_bytes()),
    };
    // SAFETY: `out` is the module's buffer for this call.
    unsafe { out.put(&bytes) };
    status
}
