//! What a module can ask of the runtime it is loaded into: admin operations,
//! and subtasks to any pool.
//!
//! A subtask runs on the runtime's workers like any task. Waiting for one
//! suspends only the task that waits (it runs on its own stack of
//! `runtime.stack_size` bytes); its worker runs other tasks meanwhile and
//! resumes the waiting task when the subtask is done. Several subtasks may
//! be in flight at once:
//!
//! ```no_run
//! use chimod_sdk::{host, Method, ModError, PoolId};
//!
//! const LOOKUP: Method<u64, String> = Method::new(10);
//!
//! fn fan_out(index: PoolId, keys: &[u64]) -> Result<Vec<String>, ModError> {
//!     // Submit all first, then wait: the lookups run in parallel.
//!     let pending = keys
//!         .iter()
//!         .map(|k| host::submit_method(index, LOOKUP, k))
//!         .collect::<Result<Vec<_>, _>>()?;
//!     pending.into_iter().map(|p| p.wait()).collect()
//! }
//! ```

use std::marker::PhantomData;
use std::sync::OnceLock;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::abi::{AbiBytes, AbiSubtask, HostApi, OutBuf, Status};
use crate::{Method, ModError, PoolId, codec};

static HOST: OnceLock<HostApi> = OnceLock::new();

/// Keeps the host's table (first call wins).
pub(crate) fn install(host: HostApi) -> bool {
    HOST.set(host).is_ok()
}

/// The host's table, once the module is initialised.
pub(crate) fn get() -> Option<&'static HostApi> {
    HOST.get()
}

fn host() -> Result<&'static HostApi, ModError> {
    get().ok_or_else(|| ModError::new("not running inside a Chimaera runtime"))
}

/// Turns a host status and its output buffer into a result.
fn outcome(status: Status, out: Vec<u8>) -> Result<Vec<u8>, ModError> {
    if status == Status::OK {
        Ok(out)
    } else {
        Err(ModError::new(String::from_utf8_lossy(&out).into_owned()))
    }
}

/// Runs one of the runtime's admin operations (numbered as the methods in
/// [`crate::admin`]) on encoded input. Only the admin module needs this.
///
/// ```
/// // Outside a runtime there is no host to ask.
/// assert!(chimod_sdk::host::admin_call(chimod_sdk::admin::LIST_POOLS.id, &[]).is_err());
/// ```
pub fn admin_call(method: u32, input: &[u8]) -> Result<Vec<u8>, ModError> {
    let host = host()?;
    let mut out = Vec::new();
    // SAFETY: the host table came from the runtime at init and stays valid
    // while the module is loaded; input and out outlive the call.
    let status = unsafe { (host.admin)(host.ctx, method, AbiBytes::new(input), OutBuf::for_vec(&mut out)) };
    outcome(status, out)
}

/// How long a subtask is expected to run, which decides the workers it
/// may run on (as for a client's task).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskLength {
    /// Under 50 µs: runs on a scheduler worker.
    #[default]
    Short,
    /// 50 µs or more: runs on a slow worker, so short tasks are not delayed.
    Long,
}

/// A subtask in flight. [`Subtask::wait`] for its output; dropping it
/// without waiting lets it run to completion unobserved.
///
/// ```
/// // Outside a runtime, submitting fails with a message.
/// let err = chimod_sdk::host::submit(chimod_sdk::PoolId::ADMIN, 16, &[]).unwrap_err();
/// assert!(err.message().contains("runtime"));
/// ```
#[derive(Debug)]
pub struct Subtask {
    handle: u64,
}

impl Subtask {
    /// Waits for the subtask's encoded output. Inside a task this suspends
    /// the task, not its worker.
    pub fn wait(self) -> Result<Vec<u8>, ModError> {
        let host = host()?;
        let handle = self.handle;
        std::mem::forget(self);
        let mut out = Vec::new();
        // SAFETY: the handle came from this host's `submit` and is consumed
        // exactly once (forget above keeps Drop from consuming it again).
        let status = unsafe { (host.wait)(host.ctx, handle, OutBuf::for_vec(&mut out)) };
        outcome(status, out)
    }
}

impl Drop for Subtask {
    fn drop(&mut self) {
        if let Some(host) = get() {
            // SAFETY: the handle came from this host and is consumed once.
            unsafe { (host.forget)(host.ctx, self.handle) };
        }
    }
}

/// A typed subtask in flight (see [`submit_method`]).
#[derive(Debug)]
pub struct TypedSubtask<Out> {
    inner: Subtask,
    _out: PhantomData<fn() -> Out>,
}

impl<Out: DeserializeOwned> TypedSubtask<Out> {
    /// Waits for the subtask's output and decodes it.
    pub fn wait(self) -> Result<Out, ModError> {
        Ok(codec::decode(&self.inner.wait()?)?)
    }
}

/// Submits a short subtask: method `method` of pool `pool` on encoded input.
///
/// ```
/// assert!(chimod_sdk::host::submit(chimod_sdk::PoolId::new(300, 0), 10, b"x").is_err());
/// ```
pub fn submit(pool: PoolId, method: u32, input: &[u8]) -> Result<Subtask, ModError> {
    submit_as(pool, method, input, TaskLength::Short)
}

/// Submits a subtask of the given expected [`TaskLength`].
///
/// ```
/// use chimod_sdk::host::{TaskLength, submit_as};
/// assert!(submit_as(chimod_sdk::PoolId::new(300, 0), 10, b"x", TaskLength::Long).is_err());
/// ```
pub fn submit_as(pool: PoolId, method: u32, input: &[u8], length: TaskLength) -> Result<Subtask, ModError> {
    let host = host()?;
    let flags = if length == TaskLength::Long { AbiSubtask::LONG } else { 0 };
    let task = AbiSubtask { pool_id: pool, method, flags, input: AbiBytes::new(input) };
    let mut handle = 0;
    let mut out = Vec::new();
    // SAFETY: the host table is valid while the module is loaded; task,
    // handle and out outlive the call.
    let status = unsafe { (host.submit)(host.ctx, &task, &mut handle, OutBuf::for_vec(&mut out)) };
    outcome(status, out).map(|_| Subtask { handle })
}

/// Submits a typed short subtask.
///
/// ```
/// let r = chimod_sdk::host::submit_method(chimod_sdk::PoolId::ADMIN, chimod_sdk::admin::PING, &());
/// assert!(r.is_err()); // no runtime here
/// ```
pub fn submit_method<In: Serialize + DeserializeOwned, Out: Serialize + DeserializeOwned>(
    pool: PoolId,
    method: Method<In, Out>,
    input: &In,
) -> Result<TypedSubtask<Out>, ModError> {
    let inner = submit(pool, method.id, &method.encode_input(input)?)?;
    Ok(TypedSubtask { inner, _out: PhantomData })
}

/// Runs a typed short subtask and waits for its output: the call a module
/// makes to use another pool.
///
/// ```
/// let r = chimod_sdk::host::call(chimod_sdk::PoolId::ADMIN, chimod_sdk::admin::PING, &());
/// assert!(r.is_err()); // no runtime here
/// ```
pub fn call<In: Serialize + DeserializeOwned, Out: Serialize + DeserializeOwned>(
    pool: PoolId,
    method: Method<In, Out>,
    input: &In,
) -> Result<Out, ModError> {
    submit_method(pool, method, input)?.wait()
}
