//! `chimaera.Future`: a submitted task, waited for with `.result(timeout)`
//! or awaited in `asyncio`.

use std::sync::Mutex;

use chimaera_client::{ClientError, OwnedPending};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::to_py;

enum State {
    Pending(OwnedPending),
    Done(Result<Vec<u8>, ClientError>),
}

/// A task in flight. Dropping it unwaited abandons the task (the runtime
/// frees it when done); its output is kept once taken, so `result()` may
/// be called again.
#[pyclass(module = "chimaera", frozen)]
pub(crate) struct Future {
    state: Mutex<State>,
}

impl Future {
    pub(crate) fn new(pending: OwnedPending) -> Future {
        Future { state: Mutex::new(State::Pending(pending)) }
    }
}

#[pymethods]
impl Future {
    /// Whether the output is ready (`result()` returns at once).
    fn done(&self) -> bool {
        match &*self.state.lock().unwrap_or_else(|p| p.into_inner()) {
            State::Pending(p) => p.is_done(),
            State::Done(_) => true,
        }
    }

    /// The task's output, waiting up to `timeout` seconds (`None`: no
    /// limit); `chimaera.Timeout` leaves the task in flight.
    #[pyo3(signature = (timeout=None))]
    fn result<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyBytes>> {
        let limit = crate::convert::timeout(timeout)?;
        let outcome = py.detach(|| {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if let State::Pending(pending) = &mut *state {
                match pending.wait(limit) {
                    Err(e @ ClientError::Timeout(_)) => return Err(e),
                    done => *state = State::Done(done),
                }
            }
            match &*state {
                State::Done(done) => done.clone(),
                State::Pending(_) => unreachable!("a finished wait leaves the state done"),
            }
        });
        outcome.map(|bytes| PyBytes::new(py, &bytes)).map_err(to_py)
    }

    /// `await future`: waits in the event loop's executor, so the loop
    /// keeps running other coroutines meanwhile.
    fn __await__<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
        let waiting = event_loop.call_method1("run_in_executor", (py.None(), slf.getattr("result")?))?;
        waiting.call_method0("__await__")
    }
}
