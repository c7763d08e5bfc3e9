//! The shared-memory link to this node's runtime: the segments a client
//! maps, the task slots it fills and the lanes it pushes them into, and
//! the waits on their completion (the default way to reach a runtime).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use chimod_sdk::PoolId;
use chimod_sdk::bulk::BulkSegment;

use super::lane_choice::choose_lane;
use super::{ClientError, LIVENESS_PERIOD, QUICK_CHECKS, SLOW_TASK_THRESHOLD, SPIN, TaskSpec};
use chimaera_protocol::bulk::{BulkHeap, BulkHeaps};
use chimaera_protocol::ipc::{Queue, RuntimeState, Slot, TaskStatus, futex_wait, spill, state};
use chimaera_protocol::shm::{SEGMENTS, Segment, ShmError, ShmIdentity, incarnation_alive, runtime_alive};
use chimaera_protocol::spin::Spinner;

/// A client's mapping of its runtime's shared memory.
#[derive(Debug)]
pub(crate) struct ShmLink {
    // Field order: the queue and heaps point into the segments, which must
    // outlive them.
    pub(crate) queue: Queue,
    pub(crate) heaps: BulkHeaps,
    _main: Segment,
    _data: [Segment; 2],
    identity: ShmIdentity,
    pub(crate) port: u16,
    /// Which start of the runtime this client attached to.
    pub(crate) incarnation: u64,
    /// This client's entry in the runtime's client table, if it got one.
    entry: Option<usize>,
    /// This process: a client belongs to the process that attached it
    /// (`getpid` is a system call, so it is asked once).
    pub(crate) pid: u32,
    /// Tasks submitted and not yet waited for or dropped: a waiter alone
    /// in flight lends its core to the runtime now and then (`Spinner`),
    /// a pipelining one keeps it.
    pub(crate) in_flight: AtomicU32,
}

impl ShmLink {
    pub(crate) fn attach(identity: ShmIdentity, ready_timeout: Duration) -> Result<ShmLink, ClientError> {
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
        Ok(ShmLink {
            queue,
            heaps,
            _main: main,
            _data: data,
            identity,
            port,
            incarnation,
            entry: queue.register_client(std::process::id()),
            pid: std::process::id(),
            in_flight: AtomicU32::new(0),
        })
    }

    /// `Ok` while the runtime this client attached to lives; else whether
    /// it died or was replaced by a new one.
    pub(crate) fn check_alive(&self) -> Result<(), ClientError> {
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

    pub(crate) fn enqueue(&self, task: &TaskSpec<'_>, abandoned: bool) -> Result<(u32, u32), ClientError> {
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
    pub(crate) fn take_spilled_output(&self, payload: &[u8]) -> Result<Vec<u8>, ClientError> {
        let (offset, len) = spill::decode(payload)
            .ok_or_else(|| ClientError::Failed("malformed spilled output descriptor".to_owned()))?;
        let bulk = chimod_sdk::bulk::Bulk { segment: BulkSegment::RuntimeData, offset, len };
        let ptr = self.heaps.runtime.resolve(&bulk)?;
        // SAFETY: a live block of `len` bytes the finished task handed to
        // this process, mapped while the link lives; freed right after.
        let output = unsafe { std::slice::from_raw_parts(ptr, len as usize) }.to_vec();
        self.heaps.runtime.free(&bulk, Some(self.pid))?;
        Ok(output)
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

    /// Waits for slot `index` (queued in `lane`) to be done, for at most
    /// `timeout`; `Err` with `*gone` set when the runtime died (the slot is
    /// then left alone).
    pub(crate) fn wait(
        &self,
        index: u32,
        lane: u32,
        timeout: Option<Duration>,
        gone: &mut bool,
    ) -> Result<(), ClientError> {
        let slot = self.queue.slot(index);
        let h = slot.header;
        let worker = self.queue.lane(lane).client_side();
        // A worker that waits for this very CPU cannot answer until we
        // yield it: no quick checks then.
        let quick = if worker.waits_for_my_cpu() { 0 } else { QUICK_CHECKS };
        for _ in 0..quick {
            if h.state.load(Ordering::Acquire) == state::DONE {
                return Ok(());
            }
            std::hint::spin_loop();
        }
        let started = Instant::now();
        let mut last_check = started;
        let mut spinner = Spinner::new(self.in_flight.load(Ordering::Relaxed) <= 1);
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
                if let Err(dead) = self.check_alive() {
                    // The slot belongs to a dead runtime's memory: leave it.
                    *gone = true;
                    return Err(dead);
                }
            }
        }
        Ok(())
    }

    /// Takes the output of slot `index`, which is `DONE`, and frees the slot.
    pub(crate) fn finish(&self, index: u32) -> Result<Vec<u8>, ClientError> {
        let slot = self.queue.slot(index);
        let h = slot.header;
        let status = TaskStatus::from_code(h.status.load(Ordering::Relaxed));
        let payload = slot.payload(h.output_len.load(Ordering::Relaxed));
        let output = if h.flags.load(Ordering::Relaxed) & spill::OUTPUT != 0 {
            self.take_spilled_output(payload)
        } else {
            Ok(payload.to_vec())
        };
        self.queue.release(index);
        ClientError::from_outcome(status, output?)
    }

    /// Whether slot `index` is done.
    pub(crate) fn is_done(&self, index: u32) -> bool {
        self.queue.slot(index).header.state.load(Ordering::Acquire) == state::DONE
    }

    /// Gives up on slot `index`: the runtime frees it when done, or it is
    /// freed here if it already is.
    pub(crate) fn abandon(&self, index: u32) {
        let slot = self.queue.slot(index);
        let h = slot.header;
        // Either we abandon it before the worker completes it (the worker
        // frees it), or it is already done and we free it here.
        if h.state
            .compare_exchange(state::SUBMITTED, state::ABANDONED, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            if h.flags.load(Ordering::Relaxed) & spill::OUTPUT != 0 {
                let _ = self.take_spilled_output(slot.payload(h.output_len.load(Ordering::Relaxed)));
            }
            self.queue.release(index);
        }
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

impl Drop for ShmLink {
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
