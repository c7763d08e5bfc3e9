//! Module logging, forwarded to the runtime's log.
//!
//! A `cdylib` carries its own copy of `tracing` and with it its own global
//! dispatcher, so a module's `tracing::info!` would go nowhere. At load the
//! SDK installs, in the module's copy, a subscriber that hands every event to
//! the host's `log` callback, tagged with the module and the pool the current
//! thread is working for.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::sync::OnceLock;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use crate::abi::{AbiStr, HostApi, LogLevelCode};

static MODULE_NAME: OnceLock<&'static str> = OnceLock::new();

thread_local! {
    static CURRENT_POOL: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records the module's crate name for its log lines (first call wins).
pub fn set_module_name(name: &'static str) {
    let _ = MODULE_NAME.set(name);
}

/// Installs the forwarding subscriber; later calls change nothing.
pub(crate) fn install(host: HostApi) {
    let module = MODULE_NAME.get().copied().unwrap_or("unknown module");
    if crate::host::install(host) {
        let _ = tracing::subscriber::set_global_default(Forwarder { module, max_level: host.max_level });
        // The module's copy of std has a panic hook of its own, which would
        // print to stderr only; a panic is one error line of the runtime's
        // log instead (the task or creation fails with its message too).
        std::panic::set_hook(Box::new(|info| tracing::error!("{}", panic_line(info))));
    }
}

/// A panic as one log line: where, and what it said. The SDK logs a
/// module's panics with it, and the runtime its own.
///
/// ```
/// std::panic::set_hook(Box::new(|info| eprintln!("{}", chimod_sdk::panic_line(info))));
/// let _ = std::panic::take_hook();
/// ```
pub fn panic_line(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)");
    match info.location() {
        Some(at) => format!("panicked at {}:{}:{}: {message}", at.file(), at.line(), at.column()),
        None => format!("panicked: {message}"),
    }
}

/// Runs `f` with log lines tagged as coming from `pool`.
pub(crate) fn with_pool<R>(pool: &str, f: impl FnOnce() -> R) -> R {
    let previous = CURRENT_POOL.with(|p| std::mem::replace(&mut *p.borrow_mut(), pool.to_owned()));
    let result = f();
    CURRENT_POOL.with(|p| *p.borrow_mut() = previous);
    result
}

struct Forwarder {
    module: &'static str,
    max_level: u32,
}

impl Subscriber for Forwarder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        LogLevelCode::of(metadata.level()) <= self.max_level
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let Some(host) = crate::host::get() else { return };
        let mut line = LineVisitor::default();
        event.record(&mut line);
        let meta = event.metadata();
        CURRENT_POOL.with(|pool| {
            let pool = pool.borrow();
            // SAFETY: every AbiStr borrows a string alive for this call, and
            // the host copies what it keeps before returning.
            unsafe {
                (host.log)(
                    LogLevelCode::of(meta.level()),
                    AbiStr::new(self.module),
                    AbiStr::new(&pool),
                    AbiStr::new(meta.target()),
                    AbiStr::new(&line.text),
                )
            }
        });
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// The message first, then `key=value` for every other field.
#[derive(Default)]
struct LineVisitor {
    text: String,
}

impl Visit for LineVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let fields = std::mem::take(&mut self.text);
            let _ = write!(self.text, "{value:?}{fields}");
        } else {
            let _ = write!(self.text, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            let _ = write!(self.text, " {}={value}", field.name());
        }
    }
}
