//! The runtime process's life: start every part in order, serve, stop.
//!
//! Start order: shared memory (so an undersized `/dev/shm` fails before any
//! thread exists) and the task queue in it, the module and pool managers,
//! the admin pool, every `compose` entry, the workers; then the queue is
//! marked ready for clients. Stop runs backwards: the queue is marked
//! stopping (new submissions are refused), workers fail what is left in
//! their lanes with "runtime stopping" and exit, pools are destroyed newest
//! first (modules flush), and the shared memory is removed. Dropping a
//! [`Runtime`] on any path, errors included, removes its shared memory.

use std::sync::Arc;
use std::time::Instant;

use chimod_sdk::PoolId;
use chimod_sdk::bulk::BulkSegment;

use tracing::{error, info, warn};

use crate::bulk::{BulkError, BulkHeap, BulkHeaps};
use crate::cluster::{Membership, NODE_ADDRESS_VAR};
use crate::compose::{ComposeReport, create_admin_pool, restore_recorded, run_compose};
use crate::config::{LaneMapPolicy, RuntimeConfig};
use crate::ipc::{Layout, LayoutError, Queue, RuntimeState};
use crate::module::ModuleSearchPath;
use crate::net::{NetConfig, Network, Sealer};
use crate::node::Node;
use crate::pool::PoolRecord;
use crate::reaper::Reapers;
use crate::remote::RemoteClients;
use crate::shm::{SegmentSet, ShmError, ShmIdentity, all_names};
use crate::stop::{STOP_GRACE, StopDeadline, StopReason, StopSignal};
use crate::worker::Workers;

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Shared memory could not be set up.
    #[error(transparent)]
    Shm(#[from] ShmError),
    /// The queue does not fit the configured segment.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A file the configuration names is unusable (the cluster key).
    #[error("{0}")]
    ConfigFile(String),
    /// This node's place in the cluster cannot be told.
    #[error(transparent)]
    Membership(#[from] crate::cluster::MembershipError),
    /// A data segment cannot hold bulk buffers.
    #[error(transparent)]
    Bulk(BulkError),
    /// Signal handlers or threads could not be started.
    #[error("cannot start {what}: {source}")]
    Os {
        /// What could not be started.
        what: &'static str,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The admin module could not be loaded or created.
    #[error("{0}")]
    Admin(String),
    /// A compose entry failed and `strict` was asked for.
    #[error("{failed} of {total} compose entries failed (strict mode); first: {first}")]
    Compose {
        /// How many failed.
        failed: usize,
        /// How many entries there were.
        total: usize,
        /// The first failure.
        first: String,
    },
}

/// How to start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartOptions {
    /// Any failing compose entry stops the start.
    pub strict: bool,
    /// This node's address (`--node-address`); else `CHI_NODE_ADDRESS`.
    pub node_address: Option<String>,
}

/// A started runtime.
#[derive(Debug)]
pub struct Runtime {
    config: RuntimeConfig,
    // Field order is drop order: workers and pools go before the memory
    // they use.
    workers: Option<Workers>,
    network: Option<Network>,
    remote: Option<RemoteClients>,
    reapers: Option<Reapers>,
    node: Arc<Node>,
    queue: Queue,
    compose: ComposeReport,
    segments: SegmentSet,
    started: Instant,
}

/// The `Header::lane_policy` code of a policy.
pub fn lane_policy_code(policy: LaneMapPolicy) -> u32 {
    match policy {
        LaneMapPolicy::RoundRobin => crate::ipc::lane_policy::ROUND_ROBIN,
        LaneMapPolicy::MapByPidTid => crate::ipc::lane_policy::MAP_BY_PID_TID,
        LaneMapPolicy::Random => crate::ipc::lane_policy::RANDOM,
    }
}

impl Runtime {
    /// Brings every part up. On error, whatever was created is removed again.
    pub fn start(config: RuntimeConfig, options: &StartOptions) -> Result<Runtime, StartError> {
        let started = Instant::now();
        let env_address = std::env::var(NODE_ADDRESS_VAR).ok().filter(|v| !v.trim().is_empty());
        let named = match (&options.node_address, &env_address) {
            (Some(flag), _) => Some(("--node-address", flag.as_str())),
            (None, Some(var)) => Some((NODE_ADDRESS_VAR, var.as_str())),
            (None, None) => None,
        };
        let membership = Membership::resolve(config.networking.hostfile.as_deref(), named)?;
        info!("{}", membership.describe());
        let identity =
            ShmIdentity::for_current_user(config.networking.port).with_node(membership.named_address());
        let segments = SegmentSet::create(&identity, &config.memory)?;
        if segments.reclaimed_stale() {
            warn!(%identity, "reclaimed shared memory left behind by a runtime that did not stop cleanly");
        }
        for seg in segments.segments() {
            info!(segment = seg.name(), bytes = seg.len(), "shared memory segment created and reserved");
        }
        let main = segments.segments()[0];
        let w = &config.workers;
        let layout =
            Layout::compute(main.len() as u64, w.sched_threads, w.slow_threads, config.runtime.queue_depth)?;
        // SAFETY: `main` is a fresh page-aligned mapping of `len` bytes owned
        // by `segments`, which outlives the queue (field order above); no
        // client can use it before the state is `Ready`.
        let queue = unsafe {
            Queue::init(
                main.as_ptr(),
                main.len() as u64,
                layout,
                lane_policy_code(config.runtime.lane_map_policy),
            )
        };
        info!(
            lanes = layout.num_lanes,
            sched_lanes = layout.sched_lanes,
            queue_depth = layout.queue_depth,
            slots = layout.num_slots,
            "task queue ready in shared memory"
        );

        let stop = StopSignal::new();
        stop.on_termination_signals().map_err(|source| StartError::Os { what: "signal handling", source })?;
        let node =
            Node::new(membership.node_id(), ModuleSearchPath::for_process(&config.runtime.module_path), stop);
        let _ = node.queue.set(queue);
        let _ = node.bulk.set(init_bulk_heaps(&segments)?);
        tracing::debug!(dirs = ?node.modules.search_path().dirs(), "module search path");
        create_admin_pool(&node.pools, &node.modules).map_err(StartError::Admin)?;
        let record = match open_record(&config, &identity) {
            Ok(record) => record,
            Err(e) => {
                node.pools.destroy_all();
                return Err(e);
            }
        };
        for (name, path) in record.iter().flat_map(PoolRecord::upgraded_modules) {
            if let Err(e) = node.modules.preload(&name, std::path::Path::new(&path)) {
                error!(
                    module = name,
                    "the library a live upgrade installed cannot be loaded ({e}); {name} comes from the search path"
                );
            }
        }
        let mut compose = run_compose(&config.compose, &node.pools, &node.modules, record.as_ref());
        let recorded =
            record.as_ref().map_or(0, |r| r.entries().iter().filter(|e| e.spec().is_some()).count());
        if let Some(record) = &record {
            restore_recorded(record, &node.pools, &node.modules, &mut compose);
        }
        if options.strict && !compose.failed.is_empty() {
            node.pools.destroy_all();
            return Err(StartError::Compose {
                failed: compose.failed.len(),
                total: config.compose.len() + recorded,
                first: compose.failed[0].clone(),
            });
        }
        if let Some(record) = record {
            let _ = node.record.set(record);
        }
        let workers = match Workers::start(&node, queue, &config.runtime) {
            Ok(workers) => workers,
            Err(source) => {
                node.pools.destroy_all();
                return Err(StartError::Os { what: "worker threads", source });
            }
        };
        if let Err(e) = crate::worker::schedule_periodic(
            &node,
            PoolId::ADMIN,
            chimod_sdk::admin::HEARTBEAT.id,
            Vec::new(),
            config.runtime.heartbeat_interval,
        ) {
            warn!("no heartbeat: {e}");
        }
        let network = match start_network(&node, &membership, &config) {
            Ok(network) => network,
            Err(e) => {
                workers.stop(&node, &queue);
                node.pools.destroy_all();
                return Err(e);
            }
        };
        let remote = match start_remote_clients(&node, &config) {
            Ok(remote) => remote,
            Err(e) => {
                if let Some(network) = network {
                    network.stop();
                }
                workers.stop(&node, &queue);
                node.pools.destroy_all();
                return Err(e);
            }
        };
        let reapers = match Reapers::start(&node, queue, config.workers.process_reaper_threads) {
            Ok(reapers) => reapers,
            Err(source) => {
                if let Some(remote) = remote {
                    remote.finish();
                }
                if let Some(network) = network {
                    network.stop();
                }
                workers.stop(&node, &queue);
                node.pools.destroy_all();
                return Err(StartError::Os { what: "process reaper threads", source });
            }
        };
        queue.header().set_state(RuntimeState::Ready);
        if network.is_some() {
            join_cluster(&node, config.networking.wait_for_restart_poll_period);
        }
        Ok(Runtime {
            config,
            workers: Some(workers),
            network,
            remote,
            reapers: Some(reapers),
            node,
            queue,
            compose,
            segments,
            started,
        })
    }

    /// The one line printed when the runtime serves.
    pub fn ready_line(&self) -> String {
        let w = &self.config.workers;
        format!(
            "chimaera runtime ready: identity {}, port {}, workers {} sched + {} slow, shared memory {}, pools {} created {} failed {} restored, in {:.0?}",
            self.segments.identity(),
            self.config.networking.port,
            w.sched_threads,
            w.slow_threads,
            self.config.memory.total(),
            self.compose.created,
            self.compose.failed.len(),
            self.compose.restored,
            self.started.elapsed(),
        )
    }

    /// This node's state.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// What the compose section did at start.
    pub fn compose_report(&self) -> &ComposeReport {
        &self.compose
    }

    /// A handle that stops this runtime when triggered.
    pub fn stop_signal(&self) -> StopSignal {
        self.node.stop.clone()
    }

    /// Serves until a stop is requested, then stops. Returns why it stopped.
    pub fn run(mut self) -> StopReason {
        let reason = self.node.stop.wait();
        info!(%reason, "stopping");
        let names: Vec<String> = all_names(self.segments.identity()).collect();
        let deadline = StopDeadline::arm(STOP_GRACE, move || {
            error!(
                "the stop did not finish within {STOP_GRACE:?} (a worker or a module is stuck); removing shared memory and exiting without finishing it"
            );
            for name in &names {
                let _ = rustix::shm::unlink(name.as_str());
            }
            // SAFETY: `_exit` ends the process at once; nothing the stuck
            // threads hold is run or freed.
            unsafe { libc::_exit(1) }
        });
        if let Err(e) = &deadline {
            warn!("no deadline for the stop: {e}");
        }
        self.shutdown();
        reason
    }

    fn shutdown(&mut self) {
        self.queue.header().set_state(RuntimeState::Stopping);
        if let Some(remote) = &mut self.remote {
            remote.stop_reading();
        }
        if let Some(network) = self.network.take() {
            network.stop();
        }
        if let Some(workers) = self.workers.take() {
            workers.stop(&self.node, &self.queue);
        }
        // After the workers: the tasks they failed or finished are replied to.
        if let Some(remote) = self.remote.take() {
            remote.finish();
        }
        if let Some(reapers) = self.reapers.take() {
            reapers.join();
        }
        self.node.pools.destroy_all();
        info!(identity = %self.segments.identity(), "stopped cleanly; removing shared memory");
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.workers.is_some() {
            self.shutdown();
        }
    }
}

/// Lays the bulk heaps over the two data segments.
fn init_bulk_heaps(segments: &SegmentSet) -> Result<BulkHeaps, StartError> {
    let [_, client, runtime] = segments.segments();
    let heap = |seg: &crate::shm::Segment, which| {
        // SAFETY: the segment is a fresh page-aligned mapping owned by
        // `segments`, which outlives the node's use of it (field order of
        // `Runtime`); no client sees it before the queue is `Ready`.
        unsafe { BulkHeap::init(seg.as_ptr(), seg.len() as u64, which) }.map_err(StartError::Bulk)
    };
    Ok(BulkHeaps {
        client: heap(client, BulkSegment::ClientData)?,
        runtime: heap(runtime, BulkSegment::RuntimeData)?,
    })
}

/// Opens the record of pools changed at runtime (`runtime.state_dir`), or
/// says that none is kept.
fn open_record(config: &RuntimeConfig, identity: &ShmIdentity) -> Result<Option<PoolRecord>, StartError> {
    let Some(dir) = config.runtime.state_dir.resolve(&identity.to_string()) else {
        info!("pools created at runtime are not kept across restarts (runtime.state_dir is \"\")");
        return Ok(None);
    };
    let compose_ids = config.compose.iter().map(|e| e.pool_id).collect();
    let (record, notes) = PoolRecord::open(&dir, compose_ids).map_err(|e| {
        StartError::ConfigFile(format!(
            "runtime.state_dir: {e}; set runtime.state_dir (or {}) to a writable directory of this user, or to \"\" to keep nothing",
            crate::config::STATE_DIR_ENV
        ))
    })?;
    if let Some((aside, why)) = &notes.moved_aside {
        error!(
            "the pool record {} could not be read ({why}); it was moved to {} and this start creates no recorded pools",
            record.path().display(),
            aside.display()
        );
    }
    info!(record = %record.path().display(), pools = record.entries().len(), "pools created and destroyed at runtime are recorded here");
    Ok(Some(record))
}

/// Starts the remote-client endpoint when `networking.client_port` is set.
fn start_remote_clients(
    node: &Arc<Node>,
    config: &RuntimeConfig,
) -> Result<Option<RemoteClients>, StartError> {
    let n = &config.networking;
    let Some(port) = n.client_port else { return Ok(None) };
    let key = n
        .cluster_key_file
        .as_deref()
        .map(crate::config::read_cluster_key)
        .transpose()
        .map_err(StartError::ConfigFile)?;
    let address = std::net::SocketAddr::new(n.client_address, port);
    RemoteClients::start(node, address, key)
        .map(Some)
        .map_err(|source| StartError::Os { what: "the remote-client endpoint", source })
}

/// In the background: the broadcast pools of a cluster this node joins
/// while it runs, and SIGHUP re-reading the hostfile.
fn join_cluster(node: &Arc<Node>, wait: std::time::Duration) {
    let joining = node.clone();
    let spawned = std::thread::Builder::new().name("chi-join".into()).spawn(move || {
        if crate::admin::join_broadcast_pools(&joining, wait).is_none() {
            tracing::debug!("no peer answered: the cluster is starting, no broadcast pools to take in");
        }
    });
    if let Err(e) = spawned {
        warn!("cannot take in the cluster's broadcast pools: {e}");
    }
    if let Some(network) = node.network.get()
        && let Err(e) = crate::net::reload_on_hangup(network.clone())
    {
        warn!("SIGHUP will not re-read the hostfile: {e}");
    }
}

/// Starts the network in cluster mode (a hostfile); nothing on a single node.
fn start_network(
    node: &Arc<Node>,
    membership: &Membership,
    config: &RuntimeConfig,
) -> Result<Option<Network>, StartError> {
    let Some(hostfile) = membership.hostfile() else { return Ok(None) };
    let n = &config.networking;
    let sealer = match &n.cluster_key_file {
        Some(path) => Sealer::from_file(path).map_err(StartError::ConfigFile)?,
        None => Sealer::none(),
    };
    info!(
        "cluster frames are {}",
        if sealer.is_keyed() {
            "authenticated with the cluster key (HMAC-SHA256)"
        } else {
            "not authenticated (no networking.cluster_key_file)"
        }
    );
    let net = NetConfig {
        node_id: membership.node_id(),
        addresses: hostfile.addresses().collect(),
        port: n.port,
        wait: n.wait_for_restart,
        poll: n.wait_for_restart_poll_period,
        idle: n.idle_connection_timeout,
        heartbeat: config.runtime.heartbeat_interval,
        neighborhood: n.neighborhood_size,
        sealer,
        hostfile: Some(hostfile.path().to_owned()),
    };
    let network =
        Network::start(node, net).map_err(|source| StartError::Os { what: "networking", source })?;
    let _ = node.network.set(network.handle());
    Ok(Some(network))
}
