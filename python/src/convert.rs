//! Values between Python and the client: pool ids, bytes-like inputs,
//! timeouts and JSON-shaped results.

use std::time::Duration;

use chimod_sdk::PoolId;
use pyo3::buffer::PyUntypedBuffer;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// A pool id from `"300.0"` or `(300, 0)`.
pub(crate) fn pool_id(value: &Bound<'_, PyAny>) -> PyResult<PoolId> {
    if let Ok(text) = value.extract::<String>() {
        return text.parse().map_err(|e| PyValueError::new_err(format!("pool_id: {e}")));
    }
    if let Ok((major, minor)) = value.extract::<(u32, u32)>() {
        return Ok(PoolId::new(major, minor));
    }
    Err(PyTypeError::new_err(format!(
        "pool_id is \"major.minor\" or (major, minor), not {}",
        value.get_type().name()?
    )))
}

/// A timeout in seconds (`None`: no limit).
pub(crate) fn timeout(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    seconds
        .map(|s| {
            Duration::try_from_secs_f64(s).map_err(|_| {
                PyValueError::new_err(format!("timeout must be a number of seconds >= 0, not {s}"))
            })
        })
        .transpose()
}

/// A bytes-like object's bytes, without a copy: the buffer stays held
/// (and its bytes valid) while the returned guard lives.
pub(crate) struct Bytes {
    buffer: Option<PyUntypedBuffer>,
}

impl Bytes {
    pub(crate) fn get(value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Bytes> {
        let Some(value) = value else { return Ok(Bytes { buffer: None }) };
        let buffer = PyUntypedBuffer::get(value).map_err(|_| {
            PyTypeError::new_err(format!(
                "{what} must be bytes-like (bytes, bytearray, memoryview, a NumPy array)"
            ))
        })?;
        if !buffer.is_c_contiguous() {
            return Err(PyValueError::new_err(format!("{what} must be contiguous")));
        }
        Ok(Bytes { buffer: Some(buffer) })
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match &self.buffer {
            // SAFETY: a contiguous buffer of `len_bytes` bytes, held (so
            // neither freed nor resized) for as long as `self` lives.
            Some(b) if b.len_bytes() > 0 => unsafe {
                std::slice::from_raw_parts(b.buf_ptr().cast::<u8>(), b.len_bytes())
            },
            _ => &[],
        }
    }
}

/// A value the client serialises, as Python objects (through JSON).
pub(crate) fn to_python<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// Python keyword arguments as a JSON object.
pub(crate) fn to_json(value: &Bound<'_, PyAny>) -> PyResult<serde_json::Map<String, serde_json::Value>> {
    let text: String = value.py().import("json")?.call_method1("dumps", (value,))?.extract()?;
    serde_json::from_str(&text).map_err(|e| PyValueError::new_err(format!("module parameters: {e}")))
}
