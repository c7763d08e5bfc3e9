//! What the runtime offers modules: today, its log.

use chimod_sdk::abi::{AbiStr, HostApi, LogLevelCode};
use tracing::level_filters::LevelFilter;

/// The table handed to every module at load.
pub(super) fn host_api() -> HostApi {
    let max_level = match LevelFilter::current().into_level() {
        None => 0,
        Some(tracing::Level::ERROR) => LogLevelCode::ERROR,
        Some(tracing::Level::WARN) => LogLevelCode::WARN,
        Some(tracing::Level::INFO) => LogLevelCode::INFO,
        Some(tracing::Level::DEBUG) => LogLevelCode::DEBUG,
        Some(tracing::Level::TRACE) => LogLevelCode::TRACE,
    };
    HostApi { max_level, log: module_log }
}

/// Re-emits a module's log line in the runtime's log, tagged with the module
/// and pool (a module's own `tracing` cannot reach the runtime's subscriber).
unsafe extern "C" fn module_log(level: u32, module: AbiStr, pool: AbiStr, target: AbiStr, message: AbiStr) {
    // SAFETY: the module passes strings alive for this call (ABI contract of `log`).
    let (module, pool, target, message) =
        unsafe { (module.as_str(), pool.as_str(), target.as_str(), message.as_str()) };
    // A panic here would unwind into the module: logging must not panic, and
    // tracing's macros do not.
    match level {
        LogLevelCode::ERROR => tracing::error!(target: "chimod", module, pool, source = target, "{message}"),
        LogLevelCode::WARN => tracing::warn!(target: "chimod", module, pool, source = target, "{message}"),
        LogLevelCode::INFO => tracing::info!(target: "chimod", module, pool, source = target, "{message}"),
        LogLevelCode::DEBUG => tracing::debug!(target: "chimod", module, pool, source = target, "{message}"),
        _ => tracing::trace!(target: "chimod", module, pool, source = target, "{message}"),
    }
}
