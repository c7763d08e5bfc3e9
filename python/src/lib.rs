//! The Python package `chimaera`'s native part (`chimaera._native`): the
//! Rust client behind Python classes. The GIL is released whenever a call
//! waits on the runtime, so other Python threads run meanwhile.

mod bdev;
mod bulk;
mod client;
mod convert;
mod errors;
mod future;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<client::Client>()?;
    m.add_class::<future::Future>()?;
    m.add_class::<bulk::Bulk>()?;
    m.add_class::<bdev::Bdev>()?;
    errors::register(m)?;
    Ok(())
}
