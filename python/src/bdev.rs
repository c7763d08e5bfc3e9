//! `chimaera.Bdev`: a bdev pool's client. I/O addresses the device by byte
//! offset; data comes from and goes to any buffer-protocol object.

use std::sync::Arc;

use chimaera_bdev_api::Block;
use chimaera_client::{BdevClient, Client};
use chimod_sdk::PoolId;
use pyo3::buffer::PyUntypedBuffer;
use pyo3::exceptions::{PyMemoryError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::bulk::Bulk;
use crate::convert::{Bytes, to_python};
use crate::errors::OrRaise;

/// The client of one bdev pool. Data that is not a `chimaera.Bulk` is
/// staged through shared memory by the Rust client (`BdevClient::write_from`),
/// its copies overlapping the device's work, with the GIL released.
#[pyclass(module = "chimaera", frozen)]
pub(crate) struct Bdev {
    client: Arc<Client>,
    pool: PoolId,
}

impl Bdev {
    pub(crate) fn new(client: Arc<Client>, pool: PoolId) -> Bdev {
        Bdev { client, pool }
    }

    fn dev(&self) -> BdevClient<'_> {
        BdevClient::new(&self.client, self.pool)
    }
}

#[pymethods]
impl Bdev {
    /// Writes all of `data` (any bytes-like object; a `chimaera.Bulk` is
    /// written without a copy) at byte `offset` of the device. Returns the
    /// bytes written.
    fn write(&self, py: Python<'_>, offset: u64, data: &Bound<'_, PyAny>) -> PyResult<u64> {
        if let Ok(bulk) = data.cast::<Bulk>() {
            let bulk = bulk.get();
            return py.detach(|| self.dev().write_at(offset, &bulk.inner)).or_raise();
        }
        let bytes = Bytes::get(Some(data), "data")?;
        py.detach(|| self.dev().write_from(offset, bytes.as_slice())).or_raise()
    }

    /// Reads from byte `offset` of the device: `n` bytes returned as
    /// `bytes`, or into `out` (any writable buffer, e.g. a NumPy array; a
    /// `chimaera.Bulk` is filled without a copy), which is returned.
    #[pyo3(signature = (offset, n=None, *, out=None))]
    fn read<'py>(
        &self,
        py: Python<'py>,
        offset: u64,
        n: Option<usize>,
        out: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match (n, out) {
            (Some(n), None) => {
                // A size no memory can hold is Python's MemoryError, not an abort.
                let mut buf = Vec::new();
                buf.try_reserve_exact(n)
                    .map_err(|_| PyMemoryError::new_err(format!("cannot hold {n} bytes to read")))?;
                buf.resize(n, 0);
                py.detach(|| self.dev().read_into(offset, &mut buf)).or_raise()?;
                Ok(PyBytes::new(py, &buf).into_any())
            }
            (None, Some(out)) => {
                if let Ok(bulk) = out.cast::<Bulk>() {
                    let target = bulk.get();
                    py.detach(|| self.dev().read_at(offset, &mut &target.inner)).or_raise()?;
                    return Ok(out);
                }
                let buffer = PyUntypedBuffer::get(&out).map_err(|_| {
                    PyTypeError::new_err("out must be a writable buffer (bytearray, a NumPy array)")
                })?;
                if buffer.readonly() || !buffer.is_c_contiguous() {
                    return Err(PyValueError::new_err("out must be writable and contiguous"));
                }
                let (addr, len) = (buffer.buf_ptr() as usize, buffer.len_bytes());
                py.detach(|| {
                    // SAFETY: `buffer` holds the writable, contiguous
                    // `len` bytes at `addr` until it is dropped below.
                    let target = unsafe { std::slice::from_raw_parts_mut(addr as *mut u8, len) };
                    self.dev().read_into(offset, target)
                })
                .or_raise()?;
                drop(buffer);
                Ok(out)
            }
            _ => Err(PyValueError::new_err("read takes n or out=, exactly one")),
        }
    }

    /// Blocks for `size` bytes from the device's allocator, as
    /// `(offset, size)` pairs.
    fn allocate(&self, py: Python<'_>, size: u64) -> PyResult<Vec<(u64, u64)>> {
        let blocks = py.detach(|| self.dev().allocate(size)).or_raise()?;
        Ok(blocks.iter().map(|b| (b.offset, b.size)).collect())
    }

    /// Frees blocks `allocate` gave.
    fn free(&self, py: Python<'_>, blocks: Vec<(u64, u64)>) -> PyResult<()> {
        let blocks: Vec<Block> = blocks.into_iter().map(|(offset, size)| Block { offset, size }).collect();
        py.detach(|| self.dev().free(&blocks)).or_raise()
    }

    /// The device's statistics, as a dict.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stats = py.detach(|| self.dev().stats()).or_raise()?;
        to_python(py, &stats)
    }

    fn __repr__(&self) -> String {
        format!("chimaera.Bdev(pool_id=\"{}\")", self.pool)
    }
}
