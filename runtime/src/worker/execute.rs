//! Running one job on a fiber: a client's task from its slot, a subtask, or
//! a periodic task's run; and where each one's outcome goes.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chimod_sdk::bulk::{Bulk, BulkSegment};
use chimod_sdk::{PoolId, Route};
use tracing::{debug, error, warn};

use super::WorkerShared;
use super::stack_guard;
use crate::ipc::{Slot, TaskStatus, spill};
use crate::module::CreateError;
use crate::node::Node;
use crate::task::{Completion, InternalTask, Outcome, PeriodicEntry};

/// Work for a fiber.
#[derive(Debug)]
pub(super) enum Job {
    /// A client's task, by slot index.
    Slot(u32),
    /// A subtask from this worker's inbox.
    Internal(InternalTask),
    /// One run of a periodic task.
    Periodic(Arc<PeriodicEntry>),
}

impl Job {
    /// The process the job runs for (the runtime's own for periodic tasks).
    pub(super) fn owner(&self, w: &WorkerShared) -> u32 {
        match self {
            Job::Slot(index) => {
                w.queue.try_slot(*index).map_or(0, |s| s.header.owner_pid.load(Ordering::Relaxed))
            }
            Job::Internal(task) => task.owner,
            Job::Periodic(_) => crate::node::own_pid(),
        }
    }
}

/// Where a routed task stands when its worker is done with it.
enum Routed {
    /// Its outcome.
    Now(Outcome),
    /// Sent to one other node; the outcome comes with the reply.
    Remote(Arc<Completion>),
}

impl Routed {
    /// The outcome, waiting here (suspending the fiber) for a reply.
    fn wait(self) -> Outcome {
        match self {
            Routed::Now(outcome) => outcome,
            Routed::Remote(completion) => completion.wait(),
        }
    }
}

/// Runs `job` and delivers its outcome. The task is counted before its
/// outcome is delivered, so whoever has the result never sees statistics
/// without it.
pub(super) fn run_job(w: &Arc<WorkerShared>, job: Job) {
    let routed = match &job {
        Job::Slot(index) => match w.queue.try_slot(*index) {
            Some(slot) => run_slot(w, &slot),
            None => {
                warn!(index, "a lane held slot index {index}, beyond the queue's slots; ignored");
                Routed::Now(Outcome::failed(TaskStatus::BadTask, "no such slot"))
            }
        },
        Job::Internal(task) => {
            w.counters.begin(task.pool, task.method);
            let long = w.lane >= w.queue.layout().sched_lanes;
            route_task(&w.node, task.route, task.pool, task.method, &task.input, long)
        }
        Job::Periodic(entry) => {
            w.counters.begin(entry.pool, entry.method);
            Routed::Now(run(&w.node, entry.pool, entry.method, &entry.input))
        }
    };
    w.counters.end();
    w.counters.tasks_done.fetch_add(1, Ordering::Relaxed);
    match (job, routed) {
        // A client's task sent to one other node: the thread that receives
        // the reply fills the client's slot, so the reply does not wait for
        // this worker to wake up and pass it on (one thread hand-off less
        // per remote call; docs/benchmarks.md). The task stops loading this
        // worker's lane now.
        (Job::Slot(index), Routed::Remote(completion)) => {
            w.queue.lane(w.lane).finish_one();
            let w = w.clone();
            completion.on_complete(move |outcome| fill_slot(&w, index, outcome));
        }
        (job, routed) => deliver(w, job, routed.wait()),
    }
}

/// Delivers `outcome` for a job that was not run (the runtime is stopping,
/// or no fiber could be made for it).
pub(super) fn fail_job(w: &WorkerShared, job: Job, outcome: Outcome) {
    deliver(w, job, outcome);
}

fn deliver(w: &WorkerShared, job: Job, outcome: Outcome) {
    match job {
        Job::Slot(index) => complete_slot(w, index, outcome),
        Job::Internal(task) => {
            if let Some(completion) = task.completion {
                completion.complete(outcome);
            }
            w.inbox.finished_one();
        }
        Job::Periodic(entry) => entry.finish(&outcome),
    }
}

/// Reads a client's task from its slot and runs it. Nothing a client wrote
/// into the slot can make this panic or touch memory outside the slot.
fn run_slot(w: &WorkerShared, slot: &Slot<'_>) -> Routed {
    let node = &w.node;
    let h = slot.header;
    let pool = PoolId::new(h.pool_major.load(Ordering::Relaxed), h.pool_minor.load(Ordering::Relaxed));
    let method = h.method.load(Ordering::Relaxed);
    w.counters.begin(pool, method);
    let input_len = h.input_len.load(Ordering::Relaxed);
    if input_len as usize > Slot::PAYLOAD {
        return Routed::Now(Outcome::failed(
            TaskStatus::BadTask,
            format!("task input of {input_len} bytes exceeds the slot payload of {} bytes", Slot::PAYLOAD),
        ));
    }
    let payload = slot.payload(input_len);
    let long = w.lane >= w.queue.layout().sched_lanes;
    let args = &h.route_args;
    let Some(route) = Route::decode(
        h.route.load(Ordering::Relaxed),
        args[0].load(Ordering::Relaxed),
        args[1].load(Ordering::Relaxed),
    ) else {
        return Routed::Now(Outcome::failed(TaskStatus::BadTask, "the task's route code is unknown"));
    };
    let go = |input: &[u8]| route_task(node, route, pool, method, input, long);
    if h.flags.load(Ordering::Relaxed) & spill::INPUT == 0 {
        return go(payload);
    }
    match spilled(node, payload, BulkSegment::ClientData) {
        Ok((ptr, bulk)) => {
            // SAFETY: a live client_data block of `len` bytes (resolved),
            // which the client leaves alone until the task is done.
            let input = unsafe { std::slice::from_raw_parts(ptr, bulk.len as usize) };
            go(input)
        }
        Err(message) => Routed::Now(Outcome::failed(TaskStatus::BadTask, format!("task input: {message}"))),
    }
}

/// Runs a task where its route says: here, on one other node, or on
/// several, gathering one outcome per node.
fn route_task(node: &Node, route: Route, pool: PoolId, method: u32, input: &[u8], long: bool) -> Routed {
    let network = node.network.get();
    let nodes = network.map_or(1, |n| n.nodes() as u32);
    let route = match route {
        Route::Dynamic if node.pools.get(pool).is_some() => Route::Local,
        other => other,
    };
    if let Some(target) = route.node(nodes) {
        return if target == node.node_id {
            Routed::Now(run(node, pool, method, input))
        } else {
            send_remote(node, target, pool, method, input, long)
        };
    }
    if route == Route::Local {
        return Routed::Now(run(node, pool, method, input));
    }
    let neighborhood = network.map_or(1, |n| n.neighborhood());
    // Nodes that left the cluster have no containers: passed by.
    let mut targets = route.nodes(nodes, neighborhood);
    if let Some(network) = network {
        targets.retain(|t| !network.has_left(*t));
    }
    let gathered = super::fanout::gather(node, &targets, super::fanout::Spread { pool, method, input, long });
    Routed::Now(match chimod_sdk::codec::encode(&gathered) {
        Ok(output) => Outcome { status: TaskStatus::Ok, output },
        Err(e) => Outcome::failed(TaskStatus::Error, e.to_string()),
    })
}

/// Sends a task to another node. Its outcome comes with the reply, or as
/// an error naming the node when the wait_for_restart limit passes.
fn send_remote(node: &Node, target: u32, pool: PoolId, method: u32, input: &[u8], long: bool) -> Routed {
    let Some(network) = node.network.get() else {
        return Routed::Now(Outcome::failed(
            TaskStatus::Error,
            format!("no node {target}: this runtime is a single node (no networking.hostfile)"),
        ));
    };
    match network.call(target, pool, method, input, long) {
        Ok(completion) => Routed::Remote(completion),
        Err(outcome) => Routed::Now(outcome),
    }
}

/// The bulk buffer a spilled payload describes, checked against its heap.
fn spilled(node: &Node, payload: &[u8], segment: BulkSegment) -> Result<(*mut u8, Bulk), String> {
    let (offset, len) = spill::decode(payload).ok_or("a spilled buffer needs a 16-byte descriptor")?;
    let bulk = Bulk { segment, offset, len };
    let heaps = node.bulk.get().ok_or("no data segments")?;
    heaps.get(segment).resolve(&bulk).map(|ptr| (ptr, bulk)).map_err(|e| e.to_string())
}

/// Completes a client's slot on its worker.
fn complete_slot(w: &WorkerShared, index: u32, outcome: Outcome) {
    w.queue.lane(w.lane).finish_one();
    fill_slot(w, index, outcome);
}

/// Leaves `outcome` in a client's slot, on any thread. An input that
/// spilled is freed (the task is over); an output too large for the slot
/// spills into `runtime_data`, owned by the client.
fn fill_slot(w: &WorkerShared, index: u32, outcome: Outcome) {
    let Some(slot) = w.queue.try_slot(index) else { return };
    let h = slot.header;
    let heaps = w.node.bulk.get();
    if h.flags.load(Ordering::Relaxed) & spill::INPUT != 0
        && let (Some(heaps), Ok((_, bulk))) =
            (heaps, spilled(&w.node, slot.payload(16), BulkSegment::ClientData))
        && let Err(e) = heaps.client.free(&bulk, None)
    {
        debug!("spilled task input already gone: {e}");
    }
    let mut spilled_output = None;
    let (status, payload, flags) = match heaps {
        Some(heaps) if outcome.output.len() > Slot::PAYLOAD => {
            let owner = h.owner_pid.load(Ordering::Relaxed);
            match heaps
                .runtime
                .alloc(outcome.output.len() as u64, owner)
                .and_then(|b| Ok((heaps.runtime.resolve(&b)?, b)))
            {
                Ok((ptr, bulk)) => {
                    // SAFETY: a block just allocated for this output.
                    unsafe {
                        std::ptr::copy_nonoverlapping(outcome.output.as_ptr(), ptr, outcome.output.len())
                    };
                    spilled_output = Some(bulk);
                    (outcome.status, spill::encode(bulk.offset, bulk.len).to_vec(), spill::OUTPUT)
                }
                Err(e) => (
                    TaskStatus::Error,
                    format!(
                        "task output of {} bytes does not fit in its slot, and {e}",
                        outcome.output.len()
                    )
                    .into_bytes(),
                    0,
                ),
            }
        }
        _ => (outcome.status, outcome.output, 0),
    };
    h.flags.store(flags, Ordering::Relaxed);
    if !slot.complete(status, &payload) {
        // Abandoned: nobody will read the output.
        if let (Some(heaps), Some(bulk)) = (heaps, spilled_output) {
            let _ = heaps.runtime.free(&bulk, None);
        }
        w.queue.release(index);
    }
}

/// Runs method `method` of this node's container of `pool`.
pub(super) fn run(node: &Node, pool_id: PoolId, method: u32, input: &[u8]) -> Outcome {
    let Some(pool) = node.pools.get(pool_id) else {
        return Outcome::failed(TaskStatus::NoPool, format!("no pool {pool_id} on this node"));
    };
    stack_guard::set_task(pool_id.major, pool_id.minor, method);
    // Module panics are caught at the boundary; this catches the runtime's
    // own bugs, so one task's failure never takes its worker down.
    let result = catch_unwind(AssertUnwindSafe(|| pool.call(method, input)));
    if !matches!(result, Ok(Ok(_))) {
        pool.errors.fetch_add(1, Ordering::Relaxed);
    }
    match result {
        Ok(Ok(output)) => Outcome { status: TaskStatus::Ok, output },
        Ok(Err(CreateError::Panicked(message))) => Outcome::failed(TaskStatus::Panicked, message),
        Ok(Err(e)) => Outcome::failed(TaskStatus::Error, e.to_string()),
        Err(_) => {
            error!(pool = %pool_id, method, "the runtime panicked running a task");
            Outcome::failed(TaskStatus::Error, "internal error in the runtime while running the task")
        }
    }
}
