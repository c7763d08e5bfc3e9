//! The exceptions: `ChimaeraError` and one subclass per kind of client
//! error, each carrying the error's message.

use chimaera_client::{ClientError, ErrorKind};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(chimaera, ChimaeraError, PyException, "Any failure of the Chimaera client.");
create_exception!(chimaera, NoRuntime, ChimaeraError, "No runtime is running for that port or address.");
create_exception!(
    chimaera,
    NotReady,
    ChimaeraError,
    "A runtime is starting and did not become ready in time."
);
create_exception!(chimaera, ConfigError, ChimaeraError, "The configuration file could not be loaded.");
create_exception!(chimaera, RuntimeGone, ChimaeraError, "The runtime died or was restarted: attach again.");
create_exception!(chimaera, Stopping, ChimaeraError, "The runtime is stopping.");
create_exception!(chimaera, QueueFull, ChimaeraError, "No room in the task queue within the submit timeout.");
create_exception!(chimaera, Timeout, ChimaeraError, "A task did not finish in time; it is still in flight.");
create_exception!(chimaera, PoolNotFound, ChimaeraError, "No pool of that id.");
create_exception!(chimaera, TaskFailed, ChimaeraError, "The module returned an error or panicked.");
create_exception!(
    chimaera,
    PermissionDenied,
    ChimaeraError,
    "The runtime's shared memory is not open to this user."
);

/// The Python exception for a client error.
pub(crate) fn to_py(e: ClientError) -> PyErr {
    let message = e.to_string();
    match e.kind() {
        ErrorKind::NoRuntime => NoRuntime::new_err(message),
        ErrorKind::NotReady => NotReady::new_err(message),
        ErrorKind::Config => ConfigError::new_err(message),
        ErrorKind::RuntimeGone => RuntimeGone::new_err(message),
        ErrorKind::Stopping => Stopping::new_err(message),
        ErrorKind::QueueFull => QueueFull::new_err(message),
        ErrorKind::Timeout => Timeout::new_err(message),
        ErrorKind::PoolNotFound => PoolNotFound::new_err(message),
        ErrorKind::TaskFailed => TaskFailed::new_err(message),
        ErrorKind::Permission => PermissionDenied::new_err(message),
        _ => ChimaeraError::new_err(message),
    }
}

/// A `Result` of the client as a Python result.
pub(crate) trait OrRaise<T> {
    /// The value, or the matching exception.
    fn or_raise(self) -> PyResult<T>;
}

impl<T> OrRaise<T> for Result<T, ClientError> {
    fn or_raise(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ChimaeraError", py.get_type::<ChimaeraError>())?;
    m.add("NoRuntime", py.get_type::<NoRuntime>())?;
    m.add("NotReady", py.get_type::<NotReady>())?;
    m.add("ConfigError", py.get_type::<ConfigError>())?;
    m.add("RuntimeGone", py.get_type::<RuntimeGone>())?;
    m.add("Stopping", py.get_type::<Stopping>())?;
    m.add("QueueFull", py.get_type::<QueueFull>())?;
    m.add("Timeout", py.get_type::<Timeout>())?;
    m.add("PoolNotFound", py.get_type::<PoolNotFound>())?;
    m.add("TaskFailed", py.get_type::<TaskFailed>())?;
    m.add("PermissionDenied", py.get_type::<PermissionDenied>())?;
    Ok(())
}
