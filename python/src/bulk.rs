//! `chimaera.Bulk`: a buffer in the runtime's shared memory that Python
//! reads and writes through the buffer protocol (`memoryview`, NumPy).

use std::ffi::c_int;
use std::sync::Arc;

use chimaera_client::{Client, OwnedBulk};
use pyo3::prelude::*;

use crate::errors::OrRaise;

/// A buffer in the runtime's `client_data` segment, zeroed when made. A
/// bdev reads from or fills it directly. Views of it (`memoryview`,
/// `numpy.frombuffer`) keep it alive; do not change it while a task that
/// uses it is in flight.
#[pyclass(module = "chimaera", frozen)]
pub(crate) struct Bulk {
    pub(crate) inner: OwnedBulk,
    /// Where its bytes are, read once: views hand this address to Python.
    addr: usize,
    len: usize,
}

impl Bulk {
    pub(crate) fn new(client: &Arc<Client>, len: usize) -> PyResult<Bulk> {
        let mut inner = client.bulk_alloc_owned(len as u64).or_raise()?;
        let addr = inner.as_mut_slice().as_mut_ptr() as usize;
        Ok(Bulk { inner, addr, len })
    }
}

#[pymethods]
impl Bulk {
    fn __len__(&self) -> usize {
        self.len
    }

    /// Gives Python a writable view of the block (one byte per item).
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut pyo3::ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let (addr, len) = (slf.get().addr, slf.get().len);
        // SAFETY: `view` is the interpreter's; the block stays mapped while
        // the view holds its reference to `slf` (FillInfo takes one).
        let rc = unsafe {
            pyo3::ffi::PyBuffer_FillInfo(view, slf.as_ptr(), addr as *mut _, len as isize, 0, flags)
        };
        if rc == -1 { Err(PyErr::fetch(slf.py())) } else { Ok(()) }
    }

    unsafe fn __releasebuffer__(&self, _view: *mut pyo3::ffi::Py_buffer) {}

    fn __repr__(&self) -> String {
        format!("chimaera.Bulk({} bytes)", self.len)
    }
}
