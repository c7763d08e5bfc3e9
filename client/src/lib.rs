//! The client library: attach to this node's runtime through its shared
//! memory, or to a runtime on another host over TCP, and run tasks on its
//! pools.
//!
//! ```no_run
//! use chimaera_client::Client;
//! use chimaera_client::config::ConfigSource;
//! use chimod_sdk::{PoolId, admin::PING};
//!
//! let config = ConfigSource::from_env(None).load()?.config;
//! let client = Client::attach(&config)?;
//! client.call_method(PoolId::ADMIN, PING, &())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A client finds the runtime by the same identity rules as the runtime (its
//! user id and `networking.port`), or, with `CHI_SERVER_ADDR=host:port` (or
//! [`Client::connect`]), reaches it over TCP on its `networking.client_port`:
//! the same calls, with bulk data carried in the requests. Every wait is bounded: a client learns
//! within [`LIVENESS_PERIOD`] that the runtime died, and a full queue turns
//! into an error after the submit timeout.

mod admin;
mod bdev;
mod bdev_staged;
mod bulk;
mod error;
mod lane_choice;
mod owned;
mod shm_link;
mod tcp_link;
mod typed;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chimod_sdk::{Method, NodeOutcome, PoolId, Route};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use self::admin::AdminClient;
pub use self::bdev::{BdevClient, BulkRef, RemoteBdevClient};
pub use self::bulk::{BulkBuf, TakenBulk};
pub use self::error::{ClientError, ErrorKind};
pub use self::lane_choice::SLOW_TASK_THRESHOLD;
pub use self::owned::{OwnedBulk, OwnedPending};
use self::shm_link::ShmLink;
use self::tcp_link::TcpLink;
pub use self::typed::TypedPending;
/// The configuration model (and, with the `yaml` feature, its loader),
/// so an application needs no other crate to find its runtime.
pub use chimaera_config as config;
use chimaera_config::RuntimeConfig;
use chimaera_protocol::shm::ShmIdentity;

/// `Client::call_timeout` when calls are not bounded.
const NO_CALL_TIMEOUT: u64 = u64::MAX;
/// How often a sleeping client checks that the runtime is still alive.
pub const LIVENESS_PERIOD: Duration = Duration::from_millis(20);
/// How long a client waiting among several tasks in flight spins before
/// it sleeps (one waiting on its only task spins longer: `chimaera_protocol::spin`).
const SPIN: Duration = Duration::from_micros(50);
/// Checks a waiting client makes before it starts reading the clock: most
/// tasks finish within these, and a clock read costs more than a check.
const QUICK_CHECKS: u32 = 64;
/// The environment variable that sends a client to a runtime on another
/// host: `host:port`, the port being that runtime's `networking.client_port`.
pub const SERVER_ADDR_ENV: &str = "CHI_SERVER_ADDR";

/// One task to submit.
#[derive(Debug, Clone)]
pub struct TaskSpec<'a> {
    /// Target pool.
    pub pool: PoolId,
    /// Method number.
    pub method: u32,
    /// Encoded input.
    pub input: &'a [u8],
    /// Estimated CPU time: at or above [`SLOW_TASK_THRESHOLD`] it runs on a slow worker.
    pub est_cpu: Duration,
    /// How long to wait for room in the queue.
    pub submit_timeout: Duration,
    /// Where in the cluster it runs (this node by default).
    pub route: Route,
}

impl<'a> TaskSpec<'a> {
    /// A fast task with a 10 s submit timeout.
    pub fn new(pool: PoolId, method: u32, input: &'a [u8]) -> Self {
        TaskSpec {
            pool,
            method,
            input,
            est_cpu: Duration::ZERO,
            submit_timeout: Duration::from_secs(10),
            route: Route::Local,
        }
    }
}

/// A client of a runtime: of this node's, through its shared memory, or of
/// another host's, over TCP.
#[derive(Debug)]
pub struct Client {
    link: Link,
    /// The bound on every `call` (`set_call_timeout`), in nanoseconds;
    /// `NO_CALL_TIMEOUT` for none. Atomic, so a client shared by threads
    /// (or by language bindings) can be given one at any time.
    call_timeout: AtomicU64,
}

/// How a client reaches its runtime.
#[derive(Debug)]
enum Link {
    Shm(ShmLink),
    Tcp(TcpLink),
}

impl Client {
    fn with(link: Link) -> Client {
        Client { link, call_timeout: AtomicU64::new(NO_CALL_TIMEOUT) }
    }

    /// Attaches to the runtime that `config` describes (its port), waiting
    /// up to 10 s for it to finish starting.
    pub fn attach(config: &RuntimeConfig) -> Result<Client, ClientError> {
        Self::attach_port(config.networking.port, Duration::from_secs(10))
    }

    /// Attaches to the runtime the environment names, as the tools find
    /// theirs. With `CHI_SERVER_ADDR=host:port` it connects over TCP (with
    /// the cluster key of `CHI_CLUSTER_KEY_FILE`, else of the configuration's
    /// `networking.cluster_key_file`); otherwise it attaches through shared
    /// memory to the runtime of the configuration: the file at `config`,
    /// else the one `CHI_SERVER_CONF` or `WRP_RUNTIME_CONF` names, else the
    /// built-in defaults (port 5555). Reading a file needs the `yaml`
    /// feature; without it a named file is [`ClientError::Config`], never
    /// silently skipped.
    pub fn attach_from_env(config: Option<&Path>) -> Result<Client, ClientError> {
        match std::env::var(SERVER_ADDR_ENV).ok().filter(|a| !a.trim().is_empty()) {
            Some(addr) => Self::connect_from_env(addr.trim(), config),
            None => Self::attach(&Self::load_config(config)?),
        }
    }

    /// Connects over TCP to the runtime at `addr` with the cluster key the
    /// environment names: the file `CHI_CLUSTER_KEY_FILE` names, else the
    /// `networking.cluster_key_file` of the configuration (`config`, else
    /// the file `CHI_SERVER_CONF` or `WRP_RUNTIME_CONF` names), else none.
    pub fn connect_from_env(addr: &str, config: Option<&Path>) -> Result<Client, ClientError> {
        match std::env::var_os(chimaera_config::CLUSTER_KEY_ENV).filter(|k| !k.is_empty()) {
            // A remote client with its key named needs no configuration file.
            Some(key) => Self::connect_with_key_file(addr, Some(Path::new(&key))),
            None => {
                let config = Self::load_config(config)?;
                Self::connect_with_key_file(addr, config.networking.cluster_key_file.as_deref())
            }
        }
    }

    fn load_config(config: Option<&Path>) -> Result<RuntimeConfig, ClientError> {
        chimaera_config::ConfigSource::from_env(config)
            .load()
            .map(|parsed| parsed.config)
            .map_err(|e| ClientError::Config(e.to_string()))
    }

    /// Connects over TCP to the runtime at `addr` (`host:port`, the port
    /// being its `networking.client_port`), proving `key` (the bytes of
    /// its `networking.cluster_key_file`) when it asks for one. Bulk
    /// buffers of such a client are its own memory, and the bdev client
    /// sends their bytes in the requests.
    ///
    /// ```no_run
    /// let client = chimaera_client::Client::connect("10.0.0.5:5556", None)?;
    /// client.admin().ping()?;
    /// # Ok::<(), chimaera_client::ClientError>(())
    /// ```
    pub fn connect(addr: &str, key: Option<&[u8]>) -> Result<Client, ClientError> {
        TcpLink::connect(addr, key).map(|link| Self::with(Link::Tcp(link)))
    }

    /// As [`Client::connect`], with the key read from `key_file`.
    pub fn connect_with_key_file(addr: &str, key_file: Option<&Path>) -> Result<Client, ClientError> {
        let key = key_file.map(chimaera_config::read_cluster_key).transpose().map_err(|e| {
            ClientError::Config(e.replace("networking.cluster_key_file", chimaera_config::CLUSTER_KEY_ENV))
        })?;
        Self::connect(addr, key.as_deref())
    }

    /// Attaches to this user's runtime on `port` (on the node
    /// `CHI_NODE_ADDRESS` names, if set).
    pub fn attach_port(port: u16, ready_timeout: Duration) -> Result<Client, ClientError> {
        Self::attach_identity(ShmIdentity::for_current_user(port), ready_timeout)
    }

    /// As [`Client::attach_port`], but a runtime that has not created its
    /// shared memory yet is waited for as well, up to `timeout` in all: for
    /// a tool started right after `chimaera_start_runtime &`.
    pub fn attach_port_waiting(port: u16, timeout: Duration) -> Result<Client, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match Self::attach_port(port, left) {
                // Polled: a starting runtime needs milliseconds to appear,
                // and nothing cheaper announces a segment that is not there.
                Err(ClientError::NoRuntime { .. }) if !left.is_zero() => {
                    std::thread::sleep(left.min(Duration::from_millis(10)));
                }
                other => return other,
            }
        }
    }

    /// Attaches to the runtime whose shared memory `identity` names. A
    /// runtime that is starting (it holds the identity but has not
    /// published its queue, or has not marked it ready) is waited for up
    /// to `ready_timeout`; none at all is [`ClientError::NoRuntime`] at once.
    pub fn attach_identity(identity: ShmIdentity, ready_timeout: Duration) -> Result<Client, ClientError> {
        ShmLink::attach(identity, ready_timeout).map(|link| Self::with(Link::Shm(link)))
    }

    /// The incarnation of the runtime this client is attached to (see
    /// [`ClientError::Restarted`]).
    pub fn incarnation(&self) -> u64 {
        match &self.link {
            Link::Shm(shm) => shm.incarnation,
            Link::Tcp(tcp) => tcp.incarnation,
        }
    }

    /// The port of the runtime this client talks to (for a remote client,
    /// its `networking.client_port`).
    pub fn port(&self) -> u16 {
        match &self.link {
            Link::Shm(shm) => shm.port,
            Link::Tcp(tcp) => tcp.port,
        }
    }

    /// The address of the remote runtime, for a client connected over TCP.
    pub fn remote_addr(&self) -> Option<&str> {
        match &self.link {
            Link::Shm(_) => None,
            Link::Tcp(tcp) => Some(&tcp.addr),
        }
    }

    /// The shared-memory link, or the error naming `what` needs it.
    fn shm(&self, what: &'static str) -> Result<&ShmLink, ClientError> {
        match &self.link {
            Link::Shm(shm) => Ok(shm),
            Link::Tcp(_) => Err(ClientError::NeedsSharedMemory(what)),
        }
    }

    /// Submits a task; wait on the returned handle for its output.
    pub fn submit(&self, task: &TaskSpec<'_>) -> Result<PendingTask<'_>, ClientError> {
        let ticket = match &self.link {
            Link::Shm(shm) => {
                let (index, lane) = shm.enqueue(task, false)?;
                shm.in_flight.fetch_add(1, Ordering::Relaxed);
                Ticket::Shm { index, lane }
            }
            Link::Tcp(tcp) => Ticket::Tcp { id: tcp.submit(task, true)?, landing: None },
        };
        Ok(PendingTask { client: self, ticket, done: false })
    }

    /// Submits a read whose output (bytes, encoded) lands in `landing` when
    /// waited for, the wait then giving the byte count (encoded `u64`):
    /// how a remote client's bdev reads fill a buffer.
    pub(crate) fn submit_landing(
        &self,
        task: &TaskSpec<'_>,
        landing: Landing,
    ) -> Result<PendingTask<'_>, ClientError> {
        let mut pending = self.submit(task)?;
        if let Ticket::Tcp { landing: slot, .. } = &mut pending.ticket {
            *slot = Some(landing);
        }
        Ok(pending)
    }

    /// Whether this client reaches its runtime over TCP.
    pub(crate) fn is_remote(&self) -> bool {
        matches!(self.link, Link::Tcp(_))
    }

    /// Submits a task nobody waits for; the runtime frees it when done.
    pub fn fire_and_forget(&self, task: &TaskSpec<'_>) -> Result<(), ClientError> {
        match &self.link {
            Link::Shm(shm) => shm.enqueue(task, true).map(drop),
            Link::Tcp(tcp) => tcp.submit(task, false).map(drop),
        }
    }

    /// Bounds every [`Client::call`] (and the typed calls built on it:
    /// admin, bdev): waiting for room in the queue and for the output
    /// together take at most `timeout`, whatever the runtime does (it may
    /// be stopped with SIGSTOP, or busy). `None`, the default, waits for
    /// as long as the task runs, and still notices a runtime that dies.
    pub fn set_call_timeout(&self, timeout: Option<Duration>) {
        let nanos =
            timeout.map_or(NO_CALL_TIMEOUT, |t| u64::try_from(t.as_nanos()).unwrap_or(NO_CALL_TIMEOUT - 1));
        self.call_timeout.store(nanos, Ordering::Relaxed);
    }

    /// Runs method `method` of `pool` on encoded input and waits for the
    /// output (bounded by [`Client::set_call_timeout`]).
    pub fn call(&self, pool: PoolId, method: u32, input: &[u8]) -> Result<Vec<u8>, ClientError> {
        let mut task = TaskSpec::new(pool, method, input);
        let limit = self.call_timeout.load(Ordering::Relaxed);
        if limit == NO_CALL_TIMEOUT {
            return self.submit(&task)?.wait(None);
        }
        let limit = Duration::from_nanos(limit);
        let started = Instant::now();
        task.submit_timeout = task.submit_timeout.min(limit);
        let pending = self.submit(&task)?;
        let left = limit.saturating_sub(started.elapsed());
        pending.wait(Some(left)).map_err(|e| match e {
            ClientError::Timeout(_) => ClientError::Timeout(limit),
            other => other,
        })
    }

    /// Runs a typed method and waits for its typed output.
    pub fn call_method<I: Serialize + DeserializeOwned, O: Serialize + DeserializeOwned>(
        &self,
        pool: PoolId,
        method: Method<I, O>,
        input: &I,
    ) -> Result<O, ClientError> {
        let bytes = self.call(pool, method.id, &method.encode_input(input)?)?;
        Ok(method.decode_output(&bytes)?)
    }

    /// Submits a typed method with an estimated CPU time (at or above
    /// [`SLOW_TASK_THRESHOLD`] it runs on a slow worker); wait on the
    /// result for its typed output.
    pub fn submit_method<I: Serialize + DeserializeOwned, O: Serialize + DeserializeOwned>(
        &self,
        pool: PoolId,
        method: Method<I, O>,
        input: &I,
        est_cpu: Duration,
    ) -> Result<TypedPending<'_, O>, ClientError> {
        let input = method.encode_input(input)?;
        let task = TaskSpec { est_cpu, ..TaskSpec::new(pool, method.id, &input) };
        Ok(TypedPending::new(self.submit(&task)?))
    }

    /// Decodes the output of a task routed to several nodes
    /// (`Route::Broadcast`, `Dynamic` without a local pool, `Range`): one
    /// outcome per node.
    pub fn gathered(output: &[u8]) -> Result<Vec<NodeOutcome>, ClientError> {
        Ok(chimod_sdk::codec::decode(output)?)
    }

    /// The admin pool's typed client.
    pub fn admin(&self) -> AdminClient<'_> {
        AdminClient::new(self)
    }
}

/// Where a remote read's bytes go: a buffer the caller lends until the
/// task is waited for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Landing {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the buffer is lent to the pending task, which alone writes it,
// from whichever thread waits.
unsafe impl Send for Landing {}
// SAFETY: as above; `&Landing` gives nothing to read or write.
unsafe impl Sync for Landing {}

impl Landing {
    /// `len` bytes at `ptr`, which stay valid and untouched by anyone else
    /// until the task they are lent to is waited for or dropped.
    pub(crate) fn new(ptr: *mut u8, len: usize) -> Landing {
        Landing { ptr, len }
    }

    /// The bytes lent.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The `len` bytes from `at` of this landing.
    pub(crate) fn part(&self, at: usize, len: usize) -> Landing {
        debug_assert!(at + len <= self.len);
        // SAFETY: inside the lent buffer (checked by the callers' loops).
        Landing { ptr: unsafe { self.ptr.add(at) }, len }
    }

    /// Copies a read's output (encoded bytes) in; the encoded byte count.
    fn land(self, output: &[u8]) -> Result<Vec<u8>, ClientError> {
        let bytes: chimaera_bdev_api::ByteBuf = chimod_sdk::codec::decode(output)?;
        if bytes.len() > self.len {
            return Err(ClientError::Failed(format!(
                "the runtime returned {} bytes for a read of {}",
                bytes.len(),
                self.len
            )));
        }
        // SAFETY: `new`'s contract: `len` bytes, lent to this task.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr, bytes.len()) };
        Ok(chimod_sdk::codec::encode(&(bytes.len() as u64))?)
    }
}

/// What a pending task is, on its client's link.
#[derive(Debug)]
enum Ticket {
    Shm {
        index: u32,
        /// The lane it was queued in.
        lane: u32,
    },
    Tcp {
        id: u64,
        landing: Option<Landing>,
    },
}

/// A submitted task. Wait on it for the output; dropping it unwaited
/// abandons it (the runtime frees its slot when it is done).
#[derive(Debug)]
pub struct PendingTask<'c> {
    client: &'c Client,
    ticket: Ticket,
    done: bool,
}

impl PendingTask<'_> {
    /// Whether the task has finished (its output is ready): for clients
    /// that keep many tasks in flight and collect whichever is done.
    pub fn is_done(&self) -> bool {
        // Once its output is taken the slot is free again: still done.
        self.done
            || match (&self.client.link, &self.ticket) {
                (Link::Shm(shm), Ticket::Shm { index, .. }) => shm.is_done(*index),
                (Link::Tcp(tcp), Ticket::Tcp { id, .. }) => tcp.is_done(*id),
                _ => false,
            }
    }

    /// Waits for the output (for at most `timeout`, if given). A task
    /// that times out is abandoned: the runtime frees it when it is done.
    pub fn wait(mut self, timeout: Option<Duration>) -> Result<Vec<u8>, ClientError> {
        self.wait_mut(timeout)
    }

    /// Waits for the output (for at most `timeout`, if given) and keeps the
    /// task on [`ClientError::Timeout`], so it can be waited for again (as a
    /// future's `result(timeout)` is). Once the output is taken, another
    /// wait is [`ClientError::Taken`].
    pub fn wait_mut(&mut self, timeout: Option<Duration>) -> Result<Vec<u8>, ClientError> {
        if self.done {
            return Err(ClientError::Taken);
        }
        match (&self.client.link, &self.ticket) {
            (Link::Shm(shm), Ticket::Shm { index, lane }) => {
                let mut gone = false;
                let waited = shm.wait(*index, *lane, timeout, &mut gone);
                if gone {
                    self.done = true;
                }
                waited?;
                self.done = true;
                shm.finish(*index)
            }
            (Link::Tcp(tcp), Ticket::Tcp { id, landing }) => {
                let output = tcp.wait(*id, timeout);
                if matches!(output, Err(ClientError::Timeout(_))) {
                    return output;
                }
                self.done = true;
                match landing {
                    Some(landing) => landing.land(&output?),
                    None => output,
                }
            }
            _ => unreachable!("a ticket is made by its client's own link"),
        }
    }
}

impl Drop for PendingTask<'_> {
    fn drop(&mut self) {
        match (&self.client.link, &self.ticket) {
            (Link::Shm(shm), Ticket::Shm { index, .. }) => {
                shm.in_flight.fetch_sub(1, Ordering::Relaxed);
                if !self.done {
                    shm.abandon(*index);
                }
            }
            (Link::Tcp(tcp), Ticket::Tcp { id, .. }) if !self.done => tcp.forget(*id),
            _ => {}
        }
    }
}
