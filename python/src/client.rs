//! `chimaera.Client`: attach, ping, pools, calls and stats.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chimaera_client::config::ComposeEntry;
use chimaera_client::{Client as RustClient, TaskSpec};
use chimod_sdk::admin::CreateOutcome;
use chimod_sdk::{PoolId, PoolQuery};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::bdev::Bdev;
use crate::bulk::Bulk;
use crate::convert::{Bytes, timeout, to_json, to_python};
use crate::errors::OrRaise;
use crate::future::Future;

/// How long attaching waits for a runtime that is starting.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A client of one runtime, shared by any number of Python threads.
#[pyclass(module = "chimaera", frozen)]
pub(crate) struct Client {
    pub(crate) inner: Arc<RustClient>,
}

#[pymethods]
impl Client {
    /// Attaches to a runtime: over TCP to `remote` (`"host:port"`, its
    /// `networking.client_port`; else `CHI_SERVER_ADDR`), with the cluster
    /// key in `key_file` (else `CHI_CLUSTER_KEY_FILE`, else the config's);
    /// or through shared memory on `port`, or to the one the configuration
    /// file `config` names, else the one `CHI_SERVER_CONF`/`WRP_RUNTIME_CONF`
    /// names, else the default port 5555.
    #[new]
    #[pyo3(signature = (config=None, port=None, remote=None, key_file=None))]
    fn new(
        py: Python<'_>,
        config: Option<PathBuf>,
        port: Option<u16>,
        remote: Option<String>,
        key_file: Option<PathBuf>,
    ) -> PyResult<Client> {
        if port.is_some() && (config.is_some() || remote.is_some()) {
            return Err(PyValueError::new_err("give port alone: it names this node's runtime"));
        }
        if key_file.is_some() && remote.is_none() {
            return Err(PyValueError::new_err("key_file is for a remote client: give remote as well"));
        }
        let client = py.detach(|| match (port, remote, key_file) {
            (Some(port), ..) => RustClient::attach_port(port, READY_TIMEOUT),
            (None, Some(remote), Some(key)) => RustClient::connect_with_key_file(remote.trim(), Some(&key)),
            (None, Some(remote), None) => RustClient::connect_from_env(remote.trim(), config.as_deref()),
            (None, None, _) => RustClient::attach_from_env(config.as_deref()),
        });
        Ok(Client { inner: Arc::new(client.or_raise()?) })
    }

    /// The runtime's port (for a remote client, its `networking.client_port`).
    #[getter]
    fn port(&self) -> u16 {
        self.inner.port()
    }

    /// The runtime's `host:port` for a client connected over TCP, else None.
    #[getter]
    fn remote(&self) -> Option<String> {
        self.inner.remote_addr().map(str::to_owned)
    }

    /// Bounds every later call (`call`, pools, stats, bdev I/O) to
    /// `seconds` in all; `None` waits as long as a task runs.
    #[pyo3(signature = (seconds))]
    fn set_call_timeout(&self, seconds: Option<f64>) -> PyResult<()> {
        self.inner.set_call_timeout(timeout(seconds)?);
        Ok(())
    }

    /// The admin pool's ping; raises if the runtime does not answer.
    fn ping(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.inner.admin().ping()).or_raise()
    }

    /// The pools on this node, as dicts.
    fn list_pools<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let pools = py.detach(|| self.inner.admin().list_pools()).or_raise()?;
        to_python(py, &pools)
    }

    /// Creates a pool; the keyword arguments are the module's keys, as in a
    /// compose entry. Returns "created", "already_exists" or, for a pool
    /// spread over nodes, a list of what each node did.
    #[pyo3(signature = (mod_name, pool_name, pool_id, pool_query="local", **params))]
    fn create_pool<'py>(
        &self,
        py: Python<'py>,
        mod_name: &str,
        pool_name: &str,
        pool_id: &Bound<'py, PyAny>,
        pool_query: &str,
        params: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let query: PoolQuery =
            pool_query.parse().map_err(|e| PyValueError::new_err(format!("pool_query: {e}")))?;
        let mut entry =
            ComposeEntry::new(mod_name, pool_name, crate::convert::pool_id(pool_id)?).with_query(query);
        if let Some(params) = params {
            entry.params = to_json(params.as_any())?;
        }
        entry.check().map_err(|(key, why)| PyValueError::new_err(format!("{key}: {why}")))?;
        let outcome = py.detach(|| self.inner.admin().create_pool(&entry)).or_raise()?;
        match outcome {
            CreateOutcome::Created => Ok("created".into_pyobject(py)?.into_any()),
            CreateOutcome::AlreadyExists => Ok("already_exists".into_pyobject(py)?.into_any()),
            spread => to_python(py, &spread),
        }
    }

    /// Destroys a pool.
    fn destroy_pool(&self, py: Python<'_>, pool_id: &Bound<'_, PyAny>) -> PyResult<()> {
        let id = crate::convert::pool_id(pool_id)?;
        py.detach(|| self.inner.admin().destroy_pool(id)).or_raise()
    }

    /// Runs method `method` of a pool on `data` (bytes-like, encoded as
    /// the module expects) and returns its output bytes.
    #[pyo3(signature = (pool_id, method, data=None))]
    fn call<'py>(
        &self,
        py: Python<'py>,
        pool_id: &Bound<'py, PyAny>,
        method: u32,
        data: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let (id, input) = task_input(pool_id, data)?;
        let output = py.detach(|| self.inner.call(id, method, input.as_slice())).or_raise()?;
        Ok(PyBytes::new(py, &output))
    }

    /// Submits method `method` of a pool; the returned future gives its
    /// output with `.result(timeout)` or `await`.
    #[pyo3(signature = (pool_id, method, data=None))]
    fn submit(
        &self,
        py: Python<'_>,
        pool_id: &Bound<'_, PyAny>,
        method: u32,
        data: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Future> {
        let (id, input) = task_input(pool_id, data)?;
        let pending =
            py.detach(|| self.inner.submit_owned(&TaskSpec::new(id, method, input.as_slice()))).or_raise()?;
        Ok(Future::new(pending))
    }

    /// Submits method `method` of a pool and does not wait for it.
    #[pyo3(signature = (pool_id, method, data=None))]
    fn fire_and_forget(
        &self,
        py: Python<'_>,
        pool_id: &Bound<'_, PyAny>,
        method: u32,
        data: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let (id, input) = task_input(pool_id, data)?;
        py.detach(|| self.inner.fire_and_forget(&TaskSpec::new(id, method, input.as_slice()))).or_raise()
    }

    /// The runtime's statistics, as a dict.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stats = py.detach(|| self.inner.admin().stats()).or_raise()?;
        to_python(py, &stats)
    }

    /// A `len`-byte buffer in the runtime's shared memory: bdev I/O from
    /// or into it copies nothing (`numpy.frombuffer(bulk, dtype)` views it).
    fn bulk(&self, len: usize) -> PyResult<Bulk> {
        Bulk::new(&self.inner, len)
    }

    /// The client of bdev pool `pool_id`.
    fn bdev(&self, pool_id: &Bound<'_, PyAny>) -> PyResult<Bdev> {
        Ok(Bdev::new(Arc::clone(&self.inner), crate::convert::pool_id(pool_id)?))
    }

    fn __repr__(&self) -> String {
        format!("chimaera.Client(port={})", self.inner.port())
    }
}

/// A task's pool and input bytes, as `call`, `submit` and `fire_and_forget` take them.
fn task_input(pool_id: &Bound<'_, PyAny>, data: Option<&Bound<'_, PyAny>>) -> PyResult<(PoolId, Bytes)> {
    Ok((crate::convert::pool_id(pool_id)?, Bytes::get(data, "data")?))
}
