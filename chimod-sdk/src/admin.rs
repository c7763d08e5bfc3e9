//! The admin module's methods, shared by the `chimaera_admin` module, the
//! runtime that serves them, and every client that calls them.
//!
//! ```
//! use chimod_sdk::admin::{CREATE_POOL, CreatePool};
//! use chimod_sdk::{PoolId, PoolQuery};
//! let request = CreatePool {
//!     mod_name: "chimaera_custom_mod".into(),
//!     pool_name: "my_custom_pool".into(),
//!     pool_query: PoolQuery::Dynamic,
//!     pool_id: PoolId::new(400, 0),
//!     params_json: r#"{"custom_param1":"value1","custom_param2":"value2"}"#.into(),
//!     forwarded: false,
//! };
//! let bytes = CREATE_POOL.encode_input(&request).unwrap();
//! assert!(!bytes.is_empty());
//! ```

use serde::{Deserialize, Serialize};

use crate::methods::FIRST_MODULE_METHOD;
use crate::{Method, PoolId, PoolQuery};

/// Creates a pool, or confirms it exists with the same parameters.
///
/// ```
/// assert_eq!(chimod_sdk::admin::CREATE_POOL.id, 10);
/// ```
pub const CREATE_POOL: Method<CreatePool, CreateOutcome> = Method::new(FIRST_MODULE_METHOD);
/// Destroys a pool; its containers are destroyed (and flushed).
///
/// ```
/// let bytes = chimod_sdk::admin::DESTROY_POOL.encode_input(&chimod_sdk::PoolId::new(300, 0)).unwrap();
/// assert!(!bytes.is_empty());
/// ```
pub const DESTROY_POOL: Method<PoolId, ()> = Method::new(FIRST_MODULE_METHOD + 1);
/// Lists every pool of this node.
///
/// ```
/// assert_eq!(chimod_sdk::admin::LIST_POOLS.decode_output(&[0]).unwrap(), vec![]);
/// ```
pub const LIST_POOLS: Method<(), Vec<PoolDescription>> = Method::new(FIRST_MODULE_METHOD + 2);
/// Asks the runtime to stop.
///
/// ```
/// use chimod_sdk::admin::{STOP_RUNTIME, StopRequest};
/// let req = StopRequest { requested_by: "me".into() };
/// assert!(STOP_RUNTIME.encode_input(&req).is_ok());
/// ```
pub const STOP_RUNTIME: Method<StopRequest, ()> = Method::new(FIRST_MODULE_METHOD + 3);
/// Runtime statistics: workers, queues, tasks.
///
/// ```
/// assert_eq!(chimod_sdk::admin::RUNTIME_STATS.encode_input(&()).unwrap(), Vec::<u8>::new());
/// ```
pub const RUNTIME_STATS: Method<(), RuntimeStats> = Method::new(FIRST_MODULE_METHOD + 4);
/// Flushes every pool; returns how many were flushed.
///
/// ```
/// assert_eq!(chimod_sdk::admin::FLUSH.decode_output(&[3]).unwrap(), 3);
/// ```
pub const FLUSH: Method<(), u32> = Method::new(FIRST_MODULE_METHOD + 5);
/// Does nothing: the cheapest round trip through a module, for benchmarks
/// and liveness checks.
///
/// ```
/// assert_eq!(chimod_sdk::admin::PING.handle(&[], |()| Ok(())).unwrap(), Vec::<u8>::new());
/// ```
pub const PING: Method<(), ()> = Method::new(FIRST_MODULE_METHOD + 6);
/// Runs a pool method every `period_ms` from now on; returns the periodic
/// task's id.
///
/// ```
/// use chimod_sdk::admin::{SCHEDULE_PERIODIC, SchedulePeriodic};
/// let req = SchedulePeriodic { pool_id: chimod_sdk::PoolId::new(400, 0), method: 12, input: vec![], period_ms: 100 };
/// assert!(SCHEDULE_PERIODIC.encode_input(&req).is_ok());
/// ```
pub const SCHEDULE_PERIODIC: Method<SchedulePeriodic, u64> = Method::new(FIRST_MODULE_METHOD + 7);
/// Cancels a periodic task by id.
///
/// ```
/// assert_eq!(chimod_sdk::admin::CANCEL_PERIODIC.encode_input(&3).unwrap(), [3]);
/// ```
pub const CANCEL_PERIODIC: Method<u64, ()> = Method::new(FIRST_MODULE_METHOD + 8);
/// The heartbeat: the runtime runs it every `runtime.heartbeat_interval` ms.
///
/// ```
/// assert_eq!(chimod_sdk::admin::HEARTBEAT.id, 19);
/// ```
pub const HEARTBEAT: Method<(), ()> = Method::new(FIRST_MODULE_METHOD + 9);
/// One pool's figures on this node: its description, tasks, errors and the
/// module's own statistics.
///
/// ```
/// assert_eq!(chimod_sdk::admin::POOL_STATS.id, 20);
/// ```
pub const POOL_STATS: Method<PoolId, PoolStats> = Method::new(FIRST_MODULE_METHOD + 10);
/// Every module this node has loaded, with its version and pools.
///
/// ```
/// assert_eq!(chimod_sdk::admin::LIST_MODULES.decode_output(&[0]).unwrap(), vec![]);
/// ```
pub const LIST_MODULES: Method<(), Vec<ModuleDescription>> = Method::new(FIRST_MODULE_METHOD + 11);
/// Every node's pools: this node's, and in a cluster each other node's,
/// asked over the network (a node that does not answer says why).
///
/// ```
/// assert_eq!(chimod_sdk::admin::CLUSTER_POOLS.id, 22);
/// ```
pub const CLUSTER_POOLS: Method<(), Vec<NodePools>> = Method::new(FIRST_MODULE_METHOD + 12);
/// Replaces a module's code while its pools keep serving (see
/// [`UpgradeModule`]); on any failure the old version keeps serving.
///
/// ```
/// use chimod_sdk::admin::{UPGRADE_MODULE, UpgradeModule};
/// let req = UpgradeModule { mod_name: "chimaera_bdev".into(), path: "/opt/new/libchimaera_bdev.so".into(), drain_timeout_ms: 10_000, cluster: false };
/// assert!(UPGRADE_MODULE.encode_input(&req).is_ok());
/// ```
pub const UPGRADE_MODULE: Method<UpgradeModule, Vec<UpgradeOutcome>> = Method::new(FIRST_MODULE_METHOD + 13);

/// Re-reads the hostfile and takes in the nodes added at its end (see
/// [`ReloadHostfile`]); nodes already known keep their ids.
///
/// ```
/// use chimod_sdk::admin::{RELOAD_HOSTFILE, ReloadHostfile};
/// assert!(RELOAD_HOSTFILE.encode_input(&ReloadHostfile { cluster: true }).is_ok());
/// ```
pub const RELOAD_HOSTFILE: Method<ReloadHostfile, Vec<NodeReload>> = Method::new(FIRST_MODULE_METHOD + 14);
/// Leaves the cluster cleanly and stops: every member is told, stops
/// probing this node and passes it by in broadcasts; tasks for it fail at
/// once (not after `wait_for_restart`). Started again, it rejoins.
///
/// ```
/// let r = chimod_sdk::admin::StopRequest { requested_by: "ops".into() };
/// assert!(chimod_sdk::admin::LEAVE_CLUSTER.encode_input(&r).is_ok());
/// ```
pub const LEAVE_CLUSTER: Method<StopRequest, ()> = Method::new(FIRST_MODULE_METHOD + 15);

/// Runs a task on the receiving node and on [`Relay::nodes`], gathered:
/// how a runtime fans a broadcast or range query out through a tree. The
/// receiver runs the task, splits the nodes into at most eight groups and
/// relays to one node of each group in turn, so no node sends more than
/// eight messages for one broadcast. The output is one [`NodeOutcome`] per
/// node, in node order; runtimes send it to each other, clients use
/// [`Route::Broadcast`](crate::Route::Broadcast) instead.
///
/// ```
/// use chimod_sdk::admin::{RELAY, Relay, PING};
/// let r = Relay { pool_id: chimod_sdk::PoolId::ADMIN, method: PING.id, input: vec![], long: false, nodes: vec![5, 6] };
/// assert!(RELAY.encode_input(&r).is_ok());
/// ```
pub const RELAY: Method<Relay, Vec<crate::NodeOutcome>> = Method::new(FIRST_MODULE_METHOD + 16);

/// A task to run on the receiving node and on `nodes` (see [`RELAY`]).
///
/// ```
/// let r = chimod_sdk::admin::Relay { pool_id: chimod_sdk::PoolId::new(300, 0), method: 10, input: vec![1], long: false, nodes: vec![3] };
/// assert_eq!(r.nodes, [3]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relay {
    /// The task's pool.
    pub pool_id: PoolId,
    /// Its method.
    pub method: u32,
    /// Its encoded input.
    pub input: Vec<u8>,
    /// Whether it runs on slow workers.
    pub long: bool,
    /// The other nodes it is for, reached through the receiver.
    pub nodes: Vec<u32>,
}

/// Which nodes re-read the hostfile (see [`RELOAD_HOSTFILE`]).
///
/// ```
/// let r = chimod_sdk::admin::ReloadHostfile { cluster: false };
/// assert!(!r.cluster);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadHostfile {
    /// Every node known to this one re-reads its own hostfile too (after
    /// this one, so that the nodes just added are asked as well).
    pub cluster: bool,
}

/// What one node's re-read of the hostfile did.
///
/// ```
/// let r = chimod_sdk::admin::NodeReload { node_id: 0, nodes: 4, added: vec![(3, "127.0.0.4".into())], error: None };
/// assert_eq!(r.added[0].0, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReload {
    /// The node that re-read.
    pub node_id: u32,
    /// Nodes in the cluster as it sees it now.
    pub nodes: u32,
    /// The nodes it took in: id and address.
    pub added: Vec<(u32, String)>,
    /// Why it could not re-read, if it could not.
    pub error: Option<String>,
}

/// A live module upgrade to make (see [`UPGRADE_MODULE`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeModule {
    /// The module to replace.
    pub mod_name: String,
    /// The new library, as a path the runtime can open.
    pub path: String,
    /// How long each pool's running tasks may take to finish before the
    /// upgrade gives up (leaving the old version serving), in milliseconds.
    pub drain_timeout_ms: u64,
    /// Upgrade every node of the cluster, one node at a time in node order
    /// (this one first), stopping at the first node that fails; the path
    /// must name the library on every node.
    pub cluster: bool,
}

/// What a live module upgrade did.
///
/// ```
/// let o = chimod_sdk::admin::UpgradeOutcome { node_id: 0, mod_name: "m".into(), old_version: "0.1.0".into(), new_version: "0.2.0".into(), pools: vec![] };
/// assert_ne!(o.old_version, o.new_version);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeOutcome {
    /// The node that upgraded.
    pub node_id: u32,
    /// The module.
    pub mod_name: String,
    /// The version that served before.
    pub old_version: String,
    /// The version that serves now.
    pub new_version: String,
    /// Each of its pools on this node.
    pub pools: Vec<PoolUpgrade>,
}

/// How one pool was handed to the new version.
///
/// ```
/// let p = chimod_sdk::admin::PoolUpgrade { pool_id: chimod_sdk::PoolId::new(300, 0), state_handed_over: false, held_us: 850 };
/// assert!(!p.state_handed_over);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolUpgrade {
    /// The pool.
    pub pool_id: PoolId,
    /// `true`: the new version took the old container's state (its
    /// `upgrade_from` hook); `false`: it was created anew from the pool's
    /// parameters.
    pub state_handed_over: bool,
    /// How long new tasks for the pool were held: the drain of its running
    /// tasks plus the new container's creation, in microseconds.
    pub held_us: u64,
}

/// A periodic task to schedule (see [`SCHEDULE_PERIODIC`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulePeriodic {
    /// Target pool.
    pub pool_id: PoolId,
    /// Method number.
    pub method: u32,
    /// Encoded input, the same for every run.
    pub input: Vec<u8>,
    /// Milliseconds between runs (at least 1).
    pub period_ms: u64,
}

/// One periodic task's figures (see [`RuntimeStats`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodicStats {
    /// Its id.
    pub id: u64,
    /// Target pool.
    pub pool_id: PoolId,
    /// Method number.
    pub method: u32,
    /// Milliseconds between runs.
    pub period_ms: u64,
    /// Runs finished.
    pub runs: u64,
    /// Runs that failed.
    pub failures: u64,
    /// Ticks skipped because the previous run was still going.
    pub skipped: u64,
    /// The latest failure's message.
    pub last_error: Option<String>,
}

/// A pool to create. See the module example above.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePool {
    /// The module.
    pub mod_name: String,
    /// The pool's name.
    pub pool_name: String,
    /// Where it lives.
    pub pool_query: PoolQuery,
    /// Its id.
    pub pool_id: PoolId,
    /// The module's own keys, as a JSON object.
    pub params_json: String,
    /// Set when one node passes a `broadcast` or `dynamic` creation on to
    /// the others: create here only, do not pass it on again.
    pub forwarded: bool,
}

/// What [`CREATE_POOL`] did.
///
/// ```
/// use chimod_sdk::admin::{CREATE_POOL, CreateOutcome};
/// let bytes = chimod_sdk::codec::encode(&CreateOutcome::AlreadyExists).unwrap();
/// assert_eq!(CREATE_POOL.decode_output(&bytes).unwrap(), CreateOutcome::AlreadyExists);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CreateOutcome {
    /// A new pool.
    Created,
    /// The same pool (same id, module, name and parameters) was already there.
    AlreadyExists,
    /// A pool spread over the cluster (`broadcast`, `dynamic`): what each
    /// node did, by node id in order. A node that restarted and lost its
    /// pools creates it again while the others already have it.
    OnNodes(Vec<NodeCreate>),
}

/// What one node did with a spread pool creation ([`CreateOutcome::OnNodes`]).
///
/// ```
/// use chimod_sdk::admin::NodeCreate;
/// let n = NodeCreate { node_id: 1, created: true };
/// assert!(n.created);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCreate {
    /// The node.
    pub node_id: u32,
    /// `true`: created there now; `false`: it was already there.
    pub created: bool,
}

impl CreateOutcome {
    /// One line for an operator: `created`, `already exists`, or per node
    /// (`created on node 1; already exists on nodes 0, 2`).
    ///
    /// ```
    /// use chimod_sdk::admin::{CreateOutcome, NodeCreate};
    /// let mixed = CreateOutcome::OnNodes(vec![
    ///     NodeCreate { node_id: 0, created: false },
    ///     NodeCreate { node_id: 1, created: true },
    /// ]);
    /// assert_eq!(mixed.describe(), "created on node 1; already exists on node 0");
    /// assert_eq!(CreateOutcome::Created.describe(), "created");
    /// ```
    pub fn describe(&self) -> String {
        let nodes = match self {
            CreateOutcome::Created => return "created".to_owned(),
            CreateOutcome::AlreadyExists => return "already exists".to_owned(),
            CreateOutcome::OnNodes(nodes) => nodes,
        };
        let list = |created: bool| {
            let ids: Vec<String> =
                nodes.iter().filter(|n| n.created == created).map(|n| n.node_id.to_string()).collect();
            match ids.len() {
                0 => None,
                1 => Some(format!("node {}", ids[0])),
                _ => Some(format!("nodes {}", ids.join(", "))),
            }
        };
        match (list(true), list(false)) {
            (Some(_), None) => format!("created on every node ({})", nodes.len()),
            (None, Some(_)) => format!("already exists on every node ({})", nodes.len()),
            (Some(made), Some(had)) => format!("created on {made}; already exists on {had}"),
            (None, None) => "no node answered".to_owned(),
        }
    }
}

/// One pool, as [`LIST_POOLS`] reports it.
///
/// ```
/// use chimod_sdk::admin::PoolDescription;
/// let d = PoolDescription {
///     pool_id: chimod_sdk::PoolId::ADMIN,
///     pool_name: "chimaera_admin".into(),
///     mod_name: "chimaera_admin".into(),
///     mod_version: "0.1.0".into(),
///     pool_query: chimod_sdk::PoolQuery::Local,
///     params_json: "{}".into(),
/// };
/// assert_eq!(d.pool_id.to_string(), "1.0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolDescription {
    /// Its id.
    pub pool_id: PoolId,
    /// Its name.
    pub pool_name: String,
    /// Its module.
    pub mod_name: String,
    /// The version of the module its container runs (it changes with a
    /// live module upgrade).
    pub mod_version: String,
    /// Where it lives.
    pub pool_query: PoolQuery,
    /// Its module keys, as a JSON object.
    pub params_json: String,
}

/// What [`POOL_STATS`] reports.
///
/// ```
/// let s = chimod_sdk::admin::PoolStats {
///     pool: chimod_sdk::admin::PoolDescription {
///         pool_id: chimod_sdk::PoolId::new(300, 0),
///         pool_name: "ram".into(),
///         mod_name: "chimaera_bdev".into(),
///         mod_version: "0.1.0".into(),
///         pool_query: chimod_sdk::PoolQuery::Local,
///         params_json: "{}".into(),
///     },
///     tasks: 10,
///     errors: 1,
///     module_json: "{}".into(),
/// };
/// assert!(s.errors <= s.tasks);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolStats {
    /// The pool.
    pub pool: PoolDescription,
    /// Tasks its container ran on this node since it was created.
    pub tasks: u64,
    /// Those that failed (an error or a panic).
    pub errors: u64,
    /// The module's own statistics for the container (its `stats`
    /// handler), as JSON: for a bdev, bytes, operations and latencies.
    pub module_json: String,
}

/// One loaded module, as [`LIST_MODULES`] reports it.
///
/// ```
/// let m = chimod_sdk::admin::ModuleDescription {
///     mod_name: "chimaera_bdev".into(),
///     version: "0.1.0".into(),
///     path: "/opt/chimaera/lib/libchimaera_bdev.so".into(),
///     pools: vec![chimod_sdk::PoolId::new(300, 0)],
///     replaced: vec![],
/// };
/// assert_eq!(m.pools.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleDescription {
    /// Its name.
    pub mod_name: String,
    /// The version it was built as (its crate's version).
    pub version: String,
    /// The library it was loaded from.
    pub path: String,
    /// Its pools on this node.
    pub pools: Vec<PoolId>,
    /// Versions it replaced by live upgrades, oldest first (their code stays
    /// loaded).
    pub replaced: Vec<String>,
}

/// One node's pools, as [`CLUSTER_POOLS`] reports them.
///
/// ```
/// let n = chimod_sdk::admin::NodePools { node_id: 1, pools: vec![], error: Some("node 1 is down".into()) };
/// assert!(n.pools.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodePools {
    /// The node.
    pub node_id: u32,
    /// Its pools (none when it did not answer).
    pub pools: Vec<PoolDescription>,
    /// Why it did not answer.
    pub error: Option<String>,
}

/// Why a stop is asked for, for the runtime's log.
///
/// ```
/// let r = chimod_sdk::admin::StopRequest { requested_by: "ops".into() };
/// assert_eq!(r.requested_by, "ops");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRequest {
    /// Who asks, e.g. `chimaera_stop_runtime (pid 4242)`.
    pub requested_by: String,
}

/// What [`RUNTIME_STATS`] reports.
///
/// ```
/// use chimod_sdk::admin::{RuntimeStats, WorkerStats};
/// let s = RuntimeStats {
///     node_id: 0,
///     uptime_ms: 5,
///     pools: 1,
///     workers: vec![WorkerStats { kind: "sched".into(), lane: 0, tasks_done: 7, queued: 0, suspended: 0, subtasks_pending: 0, running: None, spin_us: 0, sleep_us: 0 }],
///     slots_total: 10,
///     slots_free: 10,
///     heartbeats: 0,
///     periodic: vec![],
///     client_data: Default::default(),
///     runtime_data: Default::default(),
///     nodes: vec![],
///     frames_dropped: 0,
///     remote_clients: Default::default(),
/// };
/// assert_eq!(s.workers[0].tasks_done, 7);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeStats {
    /// This node's id.
    pub node_id: u32,
    /// Time since the runtime started, in milliseconds.
    pub uptime_ms: u64,
    /// Pools on this node.
    pub pools: u32,
    /// One entry per worker.
    pub workers: Vec<WorkerStats>,
    /// Task slots in shared memory.
    pub slots_total: u32,
    /// Task slots free now (neither in flight nor held by a client).
    pub slots_free: u32,
    /// Heartbeats run since start.
    pub heartbeats: u64,
    /// Periodic tasks, the heartbeat included.
    pub periodic: Vec<PeriodicStats>,
    /// Bulk buffers in `client_data`.
    pub client_data: BulkStats,
    /// Bulk buffers in `runtime_data`.
    pub runtime_data: BulkStats,
    /// The cluster's nodes as this node sees them (empty on a single node).
    pub nodes: Vec<NodeStats>,
    /// Frames from the network this node dropped: malformed, without a
    /// valid cluster key tag, or from an address outside the hostfile.
    pub frames_dropped: u64,
    /// Clients on other hosts, over TCP (`networking.client_port`).
    pub remote_clients: RemoteClientStats,
}

/// The remote-client endpoint's figures (all zero when it is off).
///
/// ```
/// let r = chimod_sdk::admin::RemoteClientStats { connected: 1, accepted: 3, refused: 2, requests: 40 };
/// assert_eq!(r.accepted - r.refused, r.connected);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteClientStats {
    /// Clients connected now (past the handshake).
    pub connected: u64,
    /// Connections accepted since start.
    pub accepted: u64,
    /// Connections refused (wrong or missing key, too many clients) or
    /// closed for a malformed message.
    pub refused: u64,
    /// Requests received from remote clients.
    pub requests: u64,
}

/// One node of the cluster, as the reporting node sees it.
///
/// ```
/// let n = chimod_sdk::admin::NodeStats { node_id: 2, address: "127.0.0.3".into(), state: "up".into(), last_heard_ms: Some(40) };
/// assert_eq!(n.state, "up");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStats {
    /// Its id.
    pub node_id: u32,
    /// Its hostfile address.
    pub address: String,
    /// `self`, `up`, `down` (found dead by the failure detector), `left`
    /// (left the cluster cleanly) or `unknown` (never heard from).
    pub state: String,
    /// Milliseconds since it was last heard from.
    pub last_heard_ms: Option<u64>,
}

/// A data segment's bulk buffer figures (see [`RuntimeStats`]).
///
/// ```
/// let s = chimod_sdk::admin::BulkStats { capacity: 8192, free: 4096, live_blocks: 1 };
/// assert_eq!(s.capacity - s.free, 4096);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkStats {
    /// Bytes for buffers in all.
    pub capacity: u64,
    /// Bytes free.
    pub free: u64,
    /// Buffers allocated now.
    pub live_blocks: u64,
}

/// One worker's figures (see [`RuntimeStats`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStats {
    /// `sched` or `slow`.
    pub kind: String,
    /// The lane it serves.
    pub lane: u32,
    /// Tasks it has completed.
    pub tasks_done: u64,
    /// Tasks waiting in its lane now.
    pub queued: u64,
    /// Tasks suspended on it now, waiting for subtasks.
    pub suspended: u64,
    /// Subtasks handed to it and not finished.
    pub subtasks_pending: u64,
    /// The task it is running now, if any: a task that runs long (or never
    /// ends) shows here with its pool, method and time so far.
    pub running: Option<RunningTask>,
    /// Microseconds it spent spinning for work since start.
    pub spin_us: u64,
    /// Microseconds it spent asleep waiting for work since start (the rest
    /// of its time it ran tasks or looked for them).
    pub sleep_us: u64,
}

/// A task a worker is running (see [`WorkerStats::running`]).
///
/// ```
/// let t = chimod_sdk::admin::RunningTask { pool_id: chimod_sdk::PoolId::new(500, 0), method: 12, running_ms: 2500 };
/// assert!(t.running_ms > 1000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningTask {
    /// Its pool.
    pub pool_id: PoolId,
    /// Its method.
    pub method: u32,
    /// Milliseconds since it started (coarse: ±10 ms).
    pub running_ms: u64,
}
