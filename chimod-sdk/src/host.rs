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

use crate::abi::{AbiBulk, AbiBytes, AbiSubtask, HostApi, OutBuf, Status};
use crate::bulk::Bulk;
use crate::{Method, ModError, PoolId, Route, codec};

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
    submit_routed(pool, method, input, length, Route::Local)
}

/// Submits a subtask to where `route` says in the cluster: another node
/// (`Route::Node`, `Route::Hash`) or several (`Broadcast`, `Dynamic`,
/// `Range`, whose output is one [`crate::NodeOutcome`] per node, encoded).
///
/// ```
/// use chimod_sdk::host::{TaskLength, submit_routed};
/// let r = submit_routed(chimod_sdk::PoolId::ADMIN, 16, &[], TaskLength::Short, chimod_sdk::Route::Broadcast);
/// assert!(r.is_err()); // no runtime here
/// ```
pub fn submit_routed(
    pool: PoolId,
    method: u32,
    input: &[u8],
    length: TaskLength,
    route: Route,
) -> Result<Subtask, ModError> {
    let host = host()?;
    let flags = if length == TaskLength::Long { AbiSubtask::LONG } else { 0 };
    let (kind, a, b) = route.encode();
    let task = AbiSubtask { pool_id: pool, method, flags, input: AbiBytes::new(input), route: [kind, a, b] };
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

/// A data segment block mapped into this process: the memory behind a
/// [`Bulk`]. The other side (a client process) shares it; the protocol of
/// the task that carries the `Bulk` says who writes when (a write task's
/// buffer is the client's until the task starts and is read-only to the
/// module; a block the module allocated is the module's until it returns).
#[derive(Debug)]
pub struct BulkMem {
    ptr: *mut u8,
    len: usize,
}

impl BulkMem {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first byte, for I/O calls that take a pointer (zero-copy).
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Copies `data` in at `offset`; an error if it does not fit.
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<(), ModError> {
        self.check(offset, data.len())?;
        // SAFETY: in bounds (checked); the block is mapped while the runtime runs.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(offset), data.len()) };
        Ok(())
    }

    /// Copies out `out.len()` bytes from `offset`; an error if out of range.
    pub fn read_at(&self, offset: usize, out: &mut [u8]) -> Result<(), ModError> {
        self.check(offset, out.len())?;
        // SAFETY: as in `write_at`.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(offset), out.as_mut_ptr(), out.len()) };
        Ok(())
    }

    fn check(&self, offset: usize, len: usize) -> Result<(), ModError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(ModError::new(format!(
                "range of {len} bytes at offset {offset} is outside the {}-byte bulk buffer",
                self.len
            ))),
        }
    }

    /// The block as a slice.
    ///
    /// # Safety
    /// No one may write the block while the slice is alive (see the type's
    /// docs for who writes when).
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: mapped and in bounds; the caller rules out writers.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The block as a mutable slice.
    ///
    /// # Safety
    /// No one else may use the block while the slice is alive.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn as_mut_slice(&self) -> &mut [u8] {
        // SAFETY: mapped and in bounds; the caller rules out other users.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

/// The memory behind a [`Bulk`] a task carries. The runtime checks that it
/// is a live block of its segment, so a bad `Bulk` is an error, not a wild
/// pointer.
///
/// ```
/// use chimod_sdk::bulk::{Bulk, BulkSegment};
/// let b = Bulk { segment: BulkSegment::ClientData, offset: 0, len: 1 };
/// assert!(chimod_sdk::host::bulk_map(&b).is_err()); // no runtime here
/// ```
pub fn bulk_map(bulk: &Bulk) -> Result<BulkMem, ModError> {
    let host = host()?;
    let abi = AbiBulk::from(*bulk);
    let mut ptr = std::ptr::null_mut();
    let mut out = Vec::new();
    // SAFETY: the host table is valid while loaded; the pointers outlive the call.
    let status = unsafe { (host.bulk_map)(host.ctx, &abi, &mut ptr, OutBuf::for_vec(&mut out)) };
    outcome(status, out).map(|_| BulkMem { ptr, len: bulk.len as usize })
}

/// Allocates `len` bytes in `runtime_data`, owned by the client of the task
/// being run (reclaimed if that client dies); return the [`Bulk`] in the
/// task's output for the client to read and free.
///
/// ```
/// assert!(chimod_sdk::host::bulk_alloc(4096).is_err()); // no runtime here
/// ```
pub fn bulk_alloc(len: u64) -> Result<(Bulk, BulkMem), ModError> {
    let host = host()?;
    let mut abi = AbiBulk::default();
    let mut out = Vec::new();
    // SAFETY: as in `bulk_map`.
    let status = unsafe { (host.bulk_alloc)(host.ctx, len, &mut abi, OutBuf::for_vec(&mut out)) };
    outcome(status, out)?;
    let bulk = abi.to_bulk().ok_or_else(|| ModError::new("the runtime returned an unknown bulk segment"))?;
    let mem = bulk_map(&bulk)?;
    Ok((bulk, mem))
}

/// Frees a `runtime_data` block (one this module allocated and will not
/// hand to a client after all).
///
/// ```
/// use chimod_sdk::bulk::{Bulk, BulkSegment};
/// let b = Bulk { segment: BulkSegment::RuntimeData, offset: 0, len: 1 };
/// assert!(chimod_sdk::host::bulk_free(&b).is_err()); // no runtime here
/// ```
pub fn bulk_free(bulk: &Bulk) -> Result<(), ModError> {
    let host = host()?;
    let abi = AbiBulk::from(*bulk);
    let mut out = Vec::new();
    // SAFETY: as in `bulk_map`.
    let status = unsafe { (host.bulk_free)(host.ctx, &abi, OutBuf::for_vec(&mut out)) };
    outcome(status, out).map(drop)
}

/// Lets the worker run other tasks, and comes back on its next round. A
/// task that waits for something outside the runtime (an I/O completion
/// it polls for) calls this in its polling loop instead of blocking its
/// worker. Outside a runtime it yields the thread.
///
/// ```
/// let mut polls = 0;
/// while polls < 3 {
///     polls += 1;
///     chimod_sdk::host::yield_now();
/// }
/// assert_eq!(polls, 3);
/// ```
pub fn yield_now() {
    match get() {
        // SAFETY: the host table is valid while the module is loaded.
        Some(host) => unsafe { (host.yield_now)(host.ctx) },
        None => std::thread::yield_now(),
    }
}
