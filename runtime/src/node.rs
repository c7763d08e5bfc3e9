//! The runtime's shared state on this node: what workers, the admin
//! operations and module callbacks all need, owned in one place and passed
//! by reference (no globals).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
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
    /// The task running now: pool major, pool minor, method, and the coarse
    /// monotonic millisecond it started at (0 while idle).
    pub running: [AtomicU64; 4],
    /// Microseconds spent spinning for work, since start.
    pub spin_us: AtomicU64,
    /// Microseconds spent asleep waiting for work, since start.
    pub sleep_us: AtomicU64,
}

/// This process's id, asked of the kernel once: glibc no longer caches
/// `getpid`, so `std::process::id()` is a system call each time, and the
/// network thread needs it for every task another node sends.
pub fn own_pid() -> u32 {
    static PID: OnceLock<u32> = OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// A coarse monotonic clock in milliseconds: cheap enough to read for every
/// task (it reads the kernel's tick, no timer instruction).
pub fn coarse_now_ms() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
    (t.tv_sec as u64) * 1000 + (t.tv_nsec as u64) / 1_000_000 + 1
}

impl WorkerCounters {
    /// Marks a task as running on this worker.
    pub fn begin(&self, pool: chimod_sdk::PoolId, method: u32) {
        self.running[0].store(u64::from(pool.major), Ordering::Relaxed);
        self.running[1].store(u64::from(pool.minor), Ordering::Relaxed);
        self.running[2].store(u64::from(method), Ordering::Relaxed);
        self.running[3].store(coarse_now_ms(), Ordering::Relaxed);
    }

    /// The task is over.
    pub fn end(&self) {
        self.running[3].store(0, Ordering::Relaxed);
    }

    /// The running task, if any.
    pub fn running(&self) -> Option<chimod_sdk::admin::RunningTask> {
        let since = self.running[3].load(Ordering::Relaxed);
        (since != 0).then(|| chimod_sdk::admin::RunningTask {
            pool_id: chimod_sdk::PoolId::new(
                self.running[0].load(Ordering::Relaxed) as u32,
                self.running[1].load(Ordering::Relaxed) as u32,
            ),
            method: self.running[2].load(Ordering::Relaxed) as u32,
            running_ms: coarse_now_ms().saturating_sub(since),
        })
    }
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
    /// The way to other nodes, in cluster mode.
    pub network: OnceLock<Arc<crate::net::NetHandle>>,
    /// The remote-client endpoint's figures, when it runs.
    pub remote_clients: OnceLock<Arc<crate::remote::Counters>>,
    /// The durable record of pools created and destroyed at runtime, when
    /// `runtime.state_dir` keeps one.
    pub record: OnceLock<crate::pool::PoolRecord>,
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
            network: OnceLock::new(),
            remote_clients: OnceLock::new(),
            record: OnceLock::new(),
        })
    }

    /// Scheduler workers (the first lanes), once the queue exists.
    pub fn sched_workers(&self) -> u32 {
        self.queue.get().map_or(0, |q| q.layout().sched_lanes)
    }
}
