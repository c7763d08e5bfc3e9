//! The client library: attach to this node's runtime through its shared
//! memory and run tasks on its pools.
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
//! user id and `networking.port`). Every wait is bounded: a client learns
//! within [`LIVENESS_PERIOD`] that the runtime died, and a full queue turns
//! into an error after the submit timeout.

mod admin;
mod bdev;
mod bdev_staged;
mod bulk;
mod error;
mod lane_choice;
mod owned;
mod typed;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chimod_sdk::bulk::BulkSegment;
use chimod_sdk::{Method, NodeOutcome, PoolId, Route};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use self::admin::AdminClient;
pub use self::bdev::{BdevClient, BulkRef, RemoteBdevClient};
pub use self::bulk::{BulkBuf, TakenBulk};
pub use self::error::{ClientError, ErrorKind};
pub use self::lane_choice::SLOW_TASK_THRESHOLD;
use self::lane_choice::choose_lane;
pub use self::owned::{OwnedBulk, OwnedPending};
pub use self::typed::TypedPending;
/// The configuration model (and, with the `yaml` feature, its loader),
/// so an application needs no other crate to find its runtime.
pub use chimaera_config as config;
use chimaera_config::RuntimeConfig;
use chimaera_protocol::bulk::{BulkHeap, BulkHeaps};
use chimaera_protocol::ipc::{Queue, RuntimeState, Slot, TaskStatus, futex_wait, spill, state};
use chimaera_protocol::shm::{SEGMENTS, Segment, ShmError, ShmIdentity, incarnation_alive, runtime_alive};
use chimaera_protocol::spin::Spinner;

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

/// A client of this node's runtime.
#[derive(Debug)]
pub struct Client {
    // Field order: the queue and heaps point into the segments, which must
    // outlive them.
    queue: Queue,
    heaps: BulkHeaps,
    _main: Segment,
    _data: [Segment; 2],
    identity: ShmIdentity,
    port: u16,
    /// Which start of the runtime this client attached to.
    incarnation: u64,
    /// The bound on every `call` (`set_call_timeout`), in nanoseconds;
    /// `NO_CALL_TIMEOUT` for none. Atomic, so a client shared by threads
    /// (or by language bindings) can be given one at any time.
    call_timeout: AtomicU64,
    /// This client's entry in the runtime's client table, if it got one.
    entry: Option<usize>,
    /// This process: a client belongs to the process that attached it
    /// (`getpid` is a system call, so it is asked once).
    pid: u32,
    /// Tasks submitted and not yet waited for or dropped: a waiter alone
    /// in flight lends its core to the runtime now and then (`Spinner`),
    /// a pipelining one keeps it.
    in_flight: AtomicU32,
}

impl Client {
    /// Attaches to the runtime that `config` describes (its port), waiting
    /// up to 10 s for it to finish starting.
    pub fn attach(config: &RuntimeConfig) -> Result<Client, ClientError> {
        Self::attach_port(config.networking.port, Duration::from_secs(10))
    }

    /// Attaches to the runtime the configuration names, as the tools find
    /// theirs: the file at `config`, else the one `CHI_SERVER_CONF` or
    /// `WRP_RUNTIME_CONF` names, else the built-in defaults (port 5555).
    /// Reading a file needs the `yaml` feature; without it a named file is
    /// [`ClientError::Config`], never silently skipped.
    pub fn attach_from_env(config: Option<&std::path::Path>) -> Result<Client, ClientError> {
        let parsed = chimaera_config::ConfigSource::from_env(config)
            .load()
            .map_err(|e| ClientError::Config(e.to_string()))?;
        Self::attach(&parsed.config)
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
        let port = identity.port();
        let started = Instant::now();
        let main = loop {
            match open_live_main(&identity)? {
                Some(main) if header_of(&main).state() != RuntimeState::Starting => break main,
                // Published but not ready yet, or not published yet while
                // the identity is held: a runtime is starting. Polled:
                // nothing cheaper announces either step.
                Some(_) => {}
                None if runtime_alive(&identity) => {}
                None => return Err(ClientError::NoRuntime { identity: identity.to_string(), port }),
            }
            if started.elapsed() >= ready_timeout {
                return Err(ClientError::NotReady { port, waited: ready_timeout });
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // SAFETY: the mapping lives in `_main`, which outlives `queue`.
        let queue = unsafe { Queue::attach(main.as_ptr(), main.len() as u64) }?;
        let incarnation = queue.header().incarnation;
        let open =
            |name| Segment::open(&identity.segment_name(name), identity.uid()).map_err(shm_error(&identity));
        let data = [open(SEGMENTS[1])?, open(SEGMENTS[2])?];
        // The data segments were opened by name: they are this runtime's
        // only if it still lived after they were opened (a runtime's
        // successor replaces the names only once it is dead).
        if !incarnation_alive(&main) {
            return Err(ClientError::RuntimeDied { port });
        }
        let heap = |seg: &Segment, which| {
            // SAFETY: the mapping lives in `_data`, which outlives `heaps`.
            unsafe { BulkHeap::attach(seg.as_ptr(), seg.len() as u64, which) }
        };
        let heaps = BulkHeaps {
            client: heap(&data[0], BulkSegment::ClientData)?,
            runtime: heap(&data[1], BulkSegment::RuntimeData)?,
        };
        Ok(Client {
            queue,
            heaps,
            _main: main,
            _data: data,
            identity,
            port,
            incarnation,
            call_timeout: AtomicU64::new(NO_CALL_TIMEOUT),
            entry: queue.register_client(std::process::id()),
            pid: std::process::id(),
            in_flight: AtomicU32::new(0),
        })
    }

    /// The incarnation of the runtime this client is attached to (see
    /// [`ClientError::Restarted`]).
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// `Ok` while the runtime this client attached to lives; else whether
    /// it died or was replaced by a new one.
    fn check_alive(&self) -> Result<(), ClientError> {
        if incarnation_alive(&self._main) {
            return Ok(());
        }
        let now = open_live_main(&self.identity).ok().flatten().map(|main| header_of(&main).incarnation);
        match now {
            Some(new) if new != 0 && new != self.incarnation => {
                Err(ClientError::Restarted { port: self.port, old: self.incarnation, new })
            }
            _ => Err(ClientError::RuntimeDied { port: self.port }),
        }
    }

    /// The port of the runtime this client talks to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Submits a task; wait on the returned handle for its output.
    pub fn submit(&self, task: &TaskSpec<'_>) -> Result<PendingTask<'_>, ClientError> {
        let (index, lane) = self.enqueue(task, false)?;
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Ok(PendingTask { client: self, index, lane, done: false })
    }

    /// Submits a task nobody waits for; the runtime frees it when done.
    pub fn fire_and_forget(&self, task: &TaskSpec<'_>) -> Result<(), ClientError> {
        self.enqueue(task, true).map(drop)
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

    fn enqueue(&self, task: &TaskSpec<'_>, abandoned: bool) -> Result<(u32, u32), ClientError> {
        // An input too large for the slot goes in a client_data buffer the
        // runtime frees once the task has run (see `ipc::spill`).
        let spilled = if task.input.len() > Slot::PAYLOAD {
            let bulk = self.heaps.client.alloc(task.input.len() as u64, self.pid)?;
            let ptr = self.heaps.client.resolve(&bulk)?;
            // SAFETY: a block just allocated to this process, input-sized.
            unsafe { std::ptr::copy_nonoverlapping(task.input.as_ptr(), ptr, task.input.len()) };
            Some(bulk)
        } else {
            None
        };
        let result = self.enqueue_inline(task, abandoned, spilled);
        if result.is_err()
            && let Some(bulk) = spilled
        {
            let _ = self.heaps.client.free(&bulk, Some(self.pid));
        }
        result
    }

    fn enqueue_inline(
        &self,
        task: &TaskSpec<'_>,
        abandoned: bool,
        spilled: Option<chimod_sdk::bulk::Bulk>,
    ) -> Result<(u32, u32), ClientError> {
        // The clock is read only once there is something to wait for.
        let mut started = None;
        let lane_index = choose_lane(&self.queue, task.est_cpu >= SLOW_TASK_THRESHOLD);
        let mut backoff = Backoff::default();
        // Admin tasks (status, stop, pool changes) have slots and lane
        // cells of their own, so they get through a queue others filled.
        let admin = task.pool == PoolId::ADMIN;
        let index = loop {
            self.check_serving()?;
            let held = self.in_flight.load(Ordering::Relaxed);
            let share = if admin || held < self.quick_share() { None } else { Some(self.queue.fair_share()) };
            if share.is_none_or(|share| held < share)
                && let Some(index) = self.queue.pop_free(admin)
            {
                break index;
            }
            self.wait_for_room(&mut backoff, &mut started, task, lane_index).map_err(|e| {
                match (e, share) {
                    // Over a share smaller than every slot: others are attached.
                    (ClientError::QueueFull { waited, .. }, Some(share))
                        if held >= share
                            && share < self.queue.layout().num_slots - self.queue.layout().admin_reserve =>
                    {
                        ClientError::OverShare { held, share, waited }
                    }
                    (ClientError::QueueFull { waited, .. }, _) => {
                        ClientError::NoFreeSlot { slots: self.queue.layout().num_slots, waited }
                    }
                    (other, _) => other,
                }
            })?;
        };
        let slot = self.queue.slot(index);
        let h = slot.header;
        h.owner_pid.store(self.pid, Ordering::Relaxed);
        h.state.store(state::CLAIMED, Ordering::Release);
        h.pool_major.store(task.pool.major, Ordering::Relaxed);
        h.pool_minor.store(task.pool.minor, Ordering::Relaxed);
        h.method.store(task.method, Ordering::Relaxed);
        h.waiters.store(0, Ordering::Relaxed);
        let (kind, a, b) = task.route.encode();
        h.route.store(kind, Ordering::Relaxed);
        h.route_args[0].store(a, Ordering::Relaxed);
        h.route_args[1].store(b, Ordering::Relaxed);
        match spilled {
            Some(bulk) => {
                let descriptor = spill::encode(bulk.offset, bulk.len);
                h.flags.store(spill::INPUT, Ordering::Relaxed);
                h.input_len.store(descriptor.len() as u32, Ordering::Relaxed);
                slot.write_payload(&descriptor);
            }
            None => {
                h.flags.store(0, Ordering::Relaxed);
                h.input_len.store(task.input.len() as u32, Ordering::Relaxed);
                slot.write_payload(task.input);
            }
        }
        h.state.store(if abandoned { state::ABANDONED } else { state::SUBMITTED }, Ordering::Relaxed);
        let lane = self.queue.lane(lane_index);
        let layout = self.queue.layout();
        let depth = if admin { layout.lane_capacity } else { layout.queue_depth };
        while lane.push(layout.lane_capacity, depth, index).is_err() {
            if let Err(e) = self
                .check_serving()
                .and_then(|()| self.wait_for_room(&mut backoff, &mut started, task, lane_index))
            {
                self.queue.release(index);
                return Err(e);
            }
        }
        lane.client_side().stamp();
        lane.ring();
        Ok((index, lane_index))
    }

    /// Below this many tasks in flight no client can be over its share
    /// (every share is at least the general slots over the table's size),
    /// so the table need not be read.
    fn quick_share(&self) -> u32 {
        let l = self.queue.layout();
        ((l.num_slots - l.admin_reserve) / chimaera_protocol::ipc::MAX_CLIENTS as u32).max(1)
    }

    /// Copies out an output that spilled into `runtime_data`, and frees it.
    fn take_spilled_output(&self, payload: &[u8]) -> Result<Vec<u8>, ClientError> {
        let (offset, len) = spill::decode(payload)
            .ok_or_else(|| ClientError::Failed("malformed spilled output descriptor".to_owned()))?;
        let taken =
            self.bulk_take(chimod_sdk::bulk::Bulk { segment: BulkSegment::RuntimeData, offset, len })?;
        Ok(taken.to_vec())
    }

    fn check_serving(&self) -> Result<(), ClientError> {
        match self.queue.header().state() {
            RuntimeState::Ready => Ok(()),
            RuntimeState::Stopping => Err(ClientError::Stopping),
            RuntimeState::Starting => Err(ClientError::NotReady { port: self.port, waited: Duration::ZERO }),
        }
    }

    /// Backpressure: waits a little for the runtime to make room, or fails
    /// once the submit timeout has passed or the runtime is gone.
    fn wait_for_room(
        &self,
        backoff: &mut Backoff,
        started: &mut Option<Instant>,
        task: &TaskSpec<'_>,
        lane: u32,
    ) -> Result<(), ClientError> {
        let started = *started.get_or_insert_with(Instant::now);
        if started.elapsed() >= task.submit_timeout {
            return Err(ClientError::QueueFull {
                lane,
                depth: self.queue.layout().queue_depth,
                waited: started.elapsed(),
            });
        }
        if backoff.step() {
            self.check_alive()?;
        }
        Ok(())
    }
}

/// The `main` segment of `identity` if a live runtime made it: `None`
/// when there is none, or only what a dead runtime left.
fn open_live_main(identity: &ShmIdentity) -> Result<Option<Segment>, ClientError> {
    match Segment::open(&identity.segment_name(SEGMENTS[0]), identity.uid()) {
        // Published whole (renamed into place once sized): a segment too
        // small for its header is a foreign file, refused by `attach`.
        Ok(main) if incarnation_alive(&main) && main.len() >= size_of::<chimaera_protocol::ipc::Header>() => {
            Ok(Some(main))
        }
        Ok(main) if incarnation_alive(&main) => {
            Err(ClientError::Layout(chimaera_protocol::ipc::LayoutError::Foreign(format!(
                "{} bytes is smaller than its header",
                main.len()
            ))))
        }
        Ok(_) => Ok(None),
        Err(ShmError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(shm_error(identity)(e)),
    }
}

/// The header at the start of a `main` segment.
fn header_of(main: &Segment) -> &chimaera_protocol::ipc::Header {
    // SAFETY: the caller checked the segment holds a header; its fields a
    // client reads before `Ready` (`state`) are atomics, and the rest are
    // written before `Ready` is published.
    unsafe { &*main.as_ptr().cast::<chimaera_protocol::ipc::Header>() }
}

/// A segment that cannot be opened, as a client error.
fn shm_error(identity: &ShmIdentity) -> impl Fn(ShmError) -> ClientError + '_ {
    move |e| match e {
        ShmError::Io { name, source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
            ClientError::Permission { segment: name, uid: rustix::process::getuid().as_raw() }
        }
        ShmError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            ClientError::NoRuntime { identity: identity.to_string(), port: identity.port() }
        }
        other => ClientError::Shm(other.to_string()),
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(entry) = self.entry {
            self.queue.unregister_client(entry, self.pid);
        }
    }
}

/// Spins, then yields, then sleeps; says when a liveness check is due.
#[derive(Debug, Default)]
struct Backoff {
    rounds: u32,
}

impl Backoff {
    fn step(&mut self) -> bool {
        self.rounds += 1;
        match self.rounds {
            0..=64 => std::hint::spin_loop(),
            65..=128 => std::thread::yield_now(),
            _ => std::thread::sleep(Duration::from_micros(200)),
        }
        self.rounds.is_multiple_of(64)
    }
}

/// A submitted task. Wait on it for the output; dropping it unwaited
/// abandons it (the runtime frees its slot when it is done).
#[derive(Debug)]
pub struct PendingTask<'c> {
    client: &'c Client,
    index: u32,
    /// The lane it was queued in.
    lane: u32,
    done: bool,
}

impl PendingTask<'_> {
    /// Whether the task has finished (its output is ready): for clients
    /// that keep many tasks in flight and collect whichever is done.
    pub fn is_done(&self) -> bool {
        // Once its output is taken the slot is free again: still done.
        self.done || self.client.queue.slot(self.index).header.state.load(Ordering::Acquire) == state::DONE
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
        let slot = self.client.queue.slot(self.index);
        let h = slot.header;
        let worker = self.client.queue.lane(self.lane).client_side();
        // A worker that waits for this very CPU cannot answer until we
        // yield it: no quick checks then.
        let quick = if worker.waits_for_my_cpu() { 0 } else { QUICK_CHECKS };
        for _ in 0..quick {
            if h.state.load(Ordering::Acquire) == state::DONE {
                return self.finish();
            }
            std::hint::spin_loop();
        }
        let started = Instant::now();
        let mut last_check = started;
        let mut spinner = Spinner::new(self.client.in_flight.load(Ordering::Relaxed) <= 1);
        let spin = spinner.budget(SPIN);
        loop {
            if h.state.load(Ordering::Acquire) == state::DONE {
                break;
            }
            let elapsed = started.elapsed();
            if let Some(limit) = timeout
                && elapsed >= limit
            {
                return Err(ClientError::Timeout(limit));
            }
            if elapsed < spin {
                spinner.pause(elapsed, worker);
                continue;
            }
            h.waiters.store(1, Ordering::SeqCst);
            if h.state.load(Ordering::SeqCst) != state::DONE {
                let mut nap = LIVENESS_PERIOD;
                if let Some(limit) = timeout {
                    nap = nap.min(limit.saturating_sub(elapsed));
                }
                futex_wait(&h.state, state::SUBMITTED, nap);
            }
            h.waiters.store(0, Ordering::Relaxed);
            if last_check.elapsed() >= LIVENESS_PERIOD && h.state.load(Ordering::Acquire) != state::DONE {
                last_check = Instant::now();
                if let Err(gone) = self.client.check_alive() {
                    // The slot belongs to a dead runtime's memory: leave it.
                    self.done = true;
                    return Err(gone);
                }
            }
        }
        self.finish()
    }

    /// Takes the output of a slot that is `DONE` and frees the slot.
    fn finish(&mut self) -> Result<Vec<u8>, ClientError> {
        let slot = self.client.queue.slot(self.index);
        let h = slot.header;
        let status = TaskStatus::from_code(h.status.load(Ordering::Relaxed));
        let payload = slot.payload(h.output_len.load(Ordering::Relaxed));
        let output = if h.flags.load(Ordering::Relaxed) & spill::OUTPUT != 0 {
            self.client.take_spilled_output(payload)
        } else {
            Ok(payload.to_vec())
        };
        self.client.queue.release(self.index);
        self.done = true;
        let output = output?;
        let text = || String::from_utf8_lossy(&output).into_owned();
        match status {
            TaskStatus::Ok => Ok(output),
            TaskStatus::NoPool => Err(ClientError::PoolNotFound(text())),
            TaskStatus::Stopping => Err(ClientError::Stopping),
            TaskStatus::Panicked => Err(ClientError::Panicked(text())),
            TaskStatus::Error | TaskStatus::BadTask => Err(ClientError::Failed(text())),
        }
    }
}

impl Drop for PendingTask<'_> {
    fn drop(&mut self) {
        self.client.in_flight.fetch_sub(1, Ordering::Relaxed);
        if self.done {
            return;
        }
        let slot = self.client.queue.slot(self.index);
        let h = slot.header;
        // Either we abandon it before the worker completes it (the worker
        // frees it), or it is already done and we free it here.
        if h.state
            .compare_exchange(state::SUBMITTED, state::ABANDONED, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            if h.flags.load(Ordering::Relaxed) & spill::OUTPUT != 0 {
                let _ = self.client.take_spilled_output(slot.payload(h.output_len.load(Ordering::Relaxed)));
            }
            self.client.queue.release(self.index);
        }
    }
}
