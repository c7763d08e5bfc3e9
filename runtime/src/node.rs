//! The runtime's shared state on this node: what workers, the admin
//! operations and module callbacks all need, owned in one place and passed
//! by reference (no globals).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::bulk::BulkHeaps;
use crate::ipc::Queue;
use crate::module::{HostContext, ModuleManager, ModuleSearchPath};
use crate::pool::PoolManager;
use crate::stop::StopSignal;
use crate::task::PeriodicTasks;
use crate::worker::Inbox;

/// Counters one worker keeps.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    /// Tasks completed.
    pub tasks_done: AtomicU64,
    /// Tasks suspended now, waiting for subtasks.
    pub suspended: AtomicU64,
}

/// One worker as statistics describe it.
#[derive(Debug)]
pub struct WorkerInfo {
    /// `sched` or `slow`.
    pub kind: &'static str,
    /// The lane it serves.
    pub lane: u32,
    /// Its counters.
    pub counters: Arc<WorkerCounters>,
    /// Its inbox of subtasks.
    pub inbox: Arc<Inbox>,
}

/// This node's runtime state.
#[derive(Debug)]
pub struct Node {
    /// This node's id in the cluster (0 on one node).
    pub node_id: u32,
    /// Pools.
    pub pools: PoolManager,
    /// Loaded modules.
    pub modules: ModuleManager,
    /// Asks the runtime to stop.
    pub stop: StopSignal,
    /// Set once the runtime is stopping: workers drain and exit.
    pub stopping: AtomicBool,
    /// When the runtime started.
    pub started: Instant,
    /// The task queue, once shared memory is set up.
    pub queue: OnceLock<Queue>,
    /// The workers, once started.
    pub workers: OnceLock<Vec<WorkerInfo>>,
    /// The bulk heaps of the data segments, once shared memory is set up.
    pub bulk: OnceLock<BulkHeaps>,
    /// Each worker's inbox, indexed by lane, once the workers start.
    pub inboxes: OnceLock<Vec<Arc<Inbox>>>,
    /// Spreads subtasks and periodic tasks over workers.
    pub route_counter: AtomicU32,
    /// Periodic tasks.
    pub periodic: PeriodicTasks,
    /// Heartbeats run so far.
    pub heartbeats: AtomicU64,
}

impl Node {
    /// A node whose modules can call back into it (admin operations).
    pub fn new(node_id: u32, search: ModuleSearchPath, stop: StopSignal) -> Arc<Node> {
        Arc::new_cyclic(|weak: &std::sync::Weak<Node>| Node {
            node_id,
            pools: PoolManager::new(node_id),
            // The pointer is valid once `new_cyclic` returns and for as long
            // as the Arc lives; modules only call back during tasks and pool
            // creation, which all end before the node is dropped.
            modules: ModuleManager::with_host_context(search, HostContext::new(weak.as_ptr().cast())),
            stop,
            stopping: AtomicBool::new(false),
            started: Instant::now(),
            queue: OnceLock::new(),
            workers: OnceLock::new(),
            bulk: OnceLock::new(),
            inboxes: OnceLock::new(),
            route_counter: AtomicU32::new(0),
            periodic: PeriodicTasks::default(),
            heartbeats: AtomicU64::new(0),
        })
    }

    /// Scheduler workers (the first lanes), once the queue exists.
    pub fn sched_workers(&self) -> u32 {
        self.queue.get().map_or(0, |q| q.layout().sched_lanes)
    }
}
