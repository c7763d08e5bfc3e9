//! Status codes, the calling thread's last error message, and the guard
//! every exported function runs its body in (no Rust panic crosses into C).

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use rust_client::{ClientError, ErrorKind};

/// What a call returned: `CHI_OK`, or why it failed (the message is
/// `chi_last_error()`).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum chi_status {
    /// Success.
    ChiOk = 0,
    /// No runtime is running for that port (or address).
    ChiErrNoRuntime = 1,
    /// A runtime is starting and did not become ready in time.
    ChiErrNotReady = 2,
    /// The configuration file could not be loaded.
    ChiErrConfig = 3,
    /// The runtime attached to died or was restarted: attach again.
    ChiErrRuntimeGone = 4,
    /// The runtime is stopping.
    ChiErrStopping = 5,
    /// No room in the task queue within the submit timeout.
    ChiErrQueueFull = 6,
    /// The task did not finish within the timeout; it is still in flight.
    ChiErrTimeout = 7,
    /// No pool of that id.
    ChiErrPoolNotFound = 8,
    /// The module returned an error or panicked.
    ChiErrTaskFailed = 9,
    /// The runtime's shared memory is not open to this user.
    ChiErrPermission = 10,
    /// The shared memory is not a compatible runtime's.
    ChiErrSharedMemory = 11,
    /// Input or output did not encode or decode.
    ChiErrCodec = 12,
    /// A bulk buffer could not be allocated, found or freed.
    ChiErrBulk = 13,
    /// An argument was wrong (a null pointer, text that is not UTF-8, a
    /// pool id or query that does not parse, an output taken twice).
    ChiErrInvalidArgument = 14,
    /// A bug in this library (it was caught; the client is still usable).
    ChiErrInternal = 15,
}

impl chi_status {
    fn of(kind: ErrorKind) -> chi_status {
        match kind {
            ErrorKind::NoRuntime => chi_status::ChiErrNoRuntime,
            ErrorKind::NotReady => chi_status::ChiErrNotReady,
            ErrorKind::Config => chi_status::ChiErrConfig,
            ErrorKind::RuntimeGone => chi_status::ChiErrRuntimeGone,
            ErrorKind::Stopping => chi_status::ChiErrStopping,
            ErrorKind::QueueFull => chi_status::ChiErrQueueFull,
            ErrorKind::Timeout => chi_status::ChiErrTimeout,
            ErrorKind::PoolNotFound => chi_status::ChiErrPoolNotFound,
            ErrorKind::TaskFailed => chi_status::ChiErrTaskFailed,
            ErrorKind::Permission => chi_status::ChiErrPermission,
            ErrorKind::SharedMemory => chi_status::ChiErrSharedMemory,
            ErrorKind::Codec => chi_status::ChiErrCodec,
            ErrorKind::Bulk => chi_status::ChiErrBulk,
            _ => chi_status::ChiErrInvalidArgument,
        }
    }

    /// The code's name, as the header spells it.
    fn name(code: i32) -> &'static CStr {
        match code {
            0 => c"CHI_OK",
            1 => c"CHI_ERR_NO_RUNTIME",
            2 => c"CHI_ERR_NOT_READY",
            3 => c"CHI_ERR_CONFIG",
            4 => c"CHI_ERR_RUNTIME_GONE",
            5 => c"CHI_ERR_STOPPING",
            6 => c"CHI_ERR_QUEUE_FULL",
            7 => c"CHI_ERR_TIMEOUT",
            8 => c"CHI_ERR_POOL_NOT_FOUND",
            9 => c"CHI_ERR_TASK_FAILED",
            10 => c"CHI_ERR_PERMISSION",
            11 => c"CHI_ERR_SHARED_MEMORY",
            12 => c"CHI_ERR_CODEC",
            13 => c"CHI_ERR_BULK",
            14 => c"CHI_ERR_INVALID_ARGUMENT",
            15 => c"CHI_ERR_INTERNAL",
            _ => c"(not a chi_status)",
        }
    }
}

/// A failure inside an exported function: its code and message.
pub(crate) struct Failure {
    status: chi_status,
    message: String,
}

impl Failure {
    /// A wrong argument, named.
    pub(crate) fn invalid(message: impl Into<String>) -> Failure {
        Failure { status: chi_status::ChiErrInvalidArgument, message: message.into() }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        Failure { status: chi_status::of(e.kind()), message: e.to_string() }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    // A message never holds NUL in practice; if one did, cut it there.
    let text = message.split('\0').next().unwrap_or_default();
    let text = CString::new(text).unwrap_or_default();
    LAST_ERROR.with(|last| *last.borrow_mut() = text);
}

/// Runs an exported function's body: its failure becomes a status code and
/// the thread's last error, and a panic is caught at the boundary.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Failure>) -> chi_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => chi_status::ChiOk,
        Ok(Err(failure)) => {
            set_last_error(&failure.message);
            failure.status
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            set_last_error(&format!("internal error in libchimaera_client: {what}"));
            chi_status::ChiErrInternal
        }
    }
}

/// The message of the last call that failed on this thread ("" if none
/// has). Valid until the next failing call on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn chi_last_error() -> *const c_char {
    LAST_ERROR.with(|last| last.borrow().as_ptr())
}

/// The name of a status code ("CHI_ERR_TIMEOUT"), a static string.
#[unsafe(no_mangle)]
pub extern "C" fn chi_status_name(status: i32) -> *const c_char {
    chi_status::name(status).as_ptr()
}
