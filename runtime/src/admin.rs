//! The admin operations, run for the `chimaera_admin` module on this node.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chimod_sdk::admin::{
    BulkStats, CANCEL_PERIODIC, CLUSTER_POOLS, CREATE_POOL, CreateOutcome, CreatePool, DESTROY_POOL, FLUSH,
    HEARTBEAT, LEAVE_CLUSTER, LIST_MODULES, LIST_POOLS, ModuleDescription, NodeCreate, NodePools, NodeReload,
    NodeStats, PING, POOL_STATS, PeriodicStats, PoolDescription, PoolStats, RELAY, RELOAD_HOSTFILE,
    RUNTIME_STATS, ReloadHostfile, RuntimeStats, SCHEDULE_PERIODIC, STOP_RUNTIME, SchedulePeriodic,
    UPGRADE_MODULE, UpgradeModule, UpgradeOutcome, WorkerStats,
};
use chimod_sdk::{PoolId, PoolQuery};
use tracing::{info, warn};

use crate::node::Node;
use crate::pool::{Container, PoolSpec};
use crate::stop::StopReason;
use crate::worker::fanout::{Spread, gather, relay};

/// Runs admin method `method` on encoded `input`; the error is the message
/// the client sees.
pub fn handle(node: &Node, method: u32, input: &[u8]) -> Result<Vec<u8>, String> {
    let text = |e: chimod_sdk::ModError| e.to_string();
    match method {
        m if m == CREATE_POOL.id => {
            CREATE_POOL.handle(input, |req| create_pool(node, req).map_err(Into::into)).map_err(text)
        }
        m if m == DESTROY_POOL.id => {
            DESTROY_POOL.handle(input, |id| destroy_pool(node, id).map_err(Into::into)).map_err(text)
        }
        m if m == LIST_POOLS.id => LIST_POOLS.handle(input, |()| Ok(list_pools(node))).map_err(text),
        m if m == STOP_RUNTIME.id => STOP_RUNTIME
            .handle(input, |req| {
                info!(by = req.requested_by, "stop requested through the admin pool");
                node.stop.trigger(StopReason::Requested(req.requested_by));
                Ok(())
            })
            .map_err(text),
        m if m == LEAVE_CLUSTER.id => LEAVE_CLUSTER
            .handle(input, |req| {
                let network =
                    node.network.get().ok_or("this runtime is a single node (no networking.hostfile)")?;
                info!(
                    by = req.requested_by,
                    "leaving the cluster, then stopping, as asked through the admin pool"
                );
                network.leave();
                node.stop.trigger(StopReason::Requested(req.requested_by));
                Ok(())
            })
            .map_err(text),
        m if m == RELOAD_HOSTFILE.id => {
            RELOAD_HOSTFILE.handle(input, |req| Ok(reload_hostfile(node, req))).map_err(text)
        }
        m if m == RELAY.id => RELAY.handle(input, |r| Ok(relay(node, &r))).map_err(text),
        m if m == RUNTIME_STATS.id => RUNTIME_STATS.handle(input, |()| Ok(stats(node))).map_err(text),
        m if m == FLUSH.id => FLUSH.handle(input, |()| flush(node).map_err(Into::into)).map_err(text),
        m if m == PING.id => PING.handle(input, |()| Ok(())).map_err(text),
        m if m == SCHEDULE_PERIODIC.id => SCHEDULE_PERIODIC
            .handle(input, |req| schedule_periodic(node, req).map_err(Into::into))
            .map_err(text),
        m if m == CANCEL_PERIODIC.id => CANCEL_PERIODIC
            .handle(input, |id| {
                if node.periodic.cancel(id) { Ok(()) } else { Err(format!("no periodic task {id}").into()) }
            })
            .map_err(text),
        m if m == POOL_STATS.id => {
            POOL_STATS.handle(input, |id| pool_stats(node, id).map_err(Into::into)).map_err(text)
        }
        m if m == LIST_MODULES.id => LIST_MODULES.handle(input, |()| Ok(list_modules(node))).map_err(text),
        m if m == UPGRADE_MODULE.id => {
            UPGRADE_MODULE.handle(input, |req| upgrade_module(node, req).map_err(Into::into)).map_err(text)
        }
        m if m == CLUSTER_POOLS.id => CLUSTER_POOLS.handle(input, |()| Ok(cluster_pools(node))).map_err(text),
        m if m == HEARTBEAT.id => HEARTBEAT
            .handle(input, |()| {
                node.heartbeats.fetch_add(1, Ordering::Relaxed);
                Ok(())
            })
            .map_err(text),
        other => Err(format!("chimaera_admin has no method {other}")),
    }
}

/// Get-or-create on this node and, for a `broadcast` or `dynamic` pool
/// asked for by a client, on every other node of the cluster too: one
/// container per node under the same id. The outcome is this node's; any
/// other node's failure is an error naming that node.
fn create_pool(node: &Node, req: CreatePool) -> Result<CreateOutcome, String> {
    let what = format!("{} {} `{}`", req.mod_name, req.pool_id, req.pool_name);
    // What the requester (chimaera_compose) is told is in the log too.
    create_pool_spread(node, req).inspect_err(|e| warn!("cannot create pool {what}: {e}"))
}

fn create_pool_spread(node: &Node, req: CreatePool) -> Result<CreateOutcome, String> {
    let spread = !req.forwarded && matches!(req.pool_query, PoolQuery::Broadcast | PoolQuery::Dynamic);
    let forward = CreatePool { forwarded: true, ..req.clone() };
    let local = create_pool_here(node, req);
    let Some(network) = node.network.get().filter(|_| spread) else { return local };
    let mut failures = Vec::new();
    let mut done = Vec::new();
    for (n, answer) in ask(node, &others(node), CREATE_POOL, &forward) {
        match answer {
            Ok(CreateOutcome::Created) => done.push(NodeCreate { node_id: n, created: true }),
            Ok(CreateOutcome::AlreadyExists) => done.push(NodeCreate { node_id: n, created: false }),
            Ok(other) => failures.push(format!("node {n}: unexpected answer {other:?}")),
            Err(e) => failures.push(format!("node {n}: {e}")),
        }
    }
    match (local, failures.is_empty()) {
        (Ok(outcome), true) => {
            done.push(NodeCreate { node_id: network.node_id(), created: outcome == CreateOutcome::Created });
            done.sort_by_key(|n| n.node_id);
            Ok(CreateOutcome::OnNodes(done))
        }
        (Ok(outcome), false) => {
            let here = if outcome == CreateOutcome::Created {
                "created on this node"
            } else {
                "exists on this node"
            };
            Err(format!("{here}, but not on {}", failures.join("; ")))
        }
        (Err(e), true) => Err(e),
        (Err(e), false) => Err(format!("{e}; and on {}", failures.join("; "))),
    }
}

/// A node starting in a running cluster takes in the `broadcast` and
/// `dynamic` pools the others were given while it was not there: it asks
/// the peers in turn (from the one after it, each given `wait`) for their
/// pools until one answers, and creates here, recorded, each it lacks.
/// Returns the peer that answered and how many pools were created; `None`
/// when no peer answered (the whole cluster is starting: nothing to take).
pub fn join_broadcast_pools(node: &Node, wait: Duration) -> Option<(u32, usize)> {
    let network = node.network.get()?;
    let input = LIST_POOLS.encode_input(&()).ok()?;
    let n = network.nodes() as u32;
    let peers = (1..n).map(|i| (network.node_id() + i) % n).filter(|p| !network.has_left(*p));
    for peer in peers.take(3) {
        let Ok(pools) = answer_of(
            LIST_POOLS,
            network.call_within(peer, PoolId::ADMIN, LIST_POOLS.id, &input, false, wait),
        ) else {
            continue;
        };
        let mut created = 0;
        for p in
            pools.into_iter().filter(|p| matches!(p.pool_query, PoolQuery::Broadcast | PoolQuery::Dynamic))
        {
            if node.pools.get(p.pool_id).is_some() {
                continue;
            }
            let what = format!("{} {} `{}`", p.mod_name, p.pool_id, p.pool_name);
            let req = CreatePool {
                mod_name: p.mod_name,
                pool_name: p.pool_name,
                pool_query: p.pool_query,
                pool_id: p.pool_id,
                params_json: p.params_json,
                forwarded: true,
            };
            match create_pool_here(node, req) {
                Ok(_) => created += 1,
                Err(e) => warn!("cannot create broadcast pool {what}, which node {peer} has: {e}"),
            }
        }
        info!(
            from = peer,
            created, "took in the cluster's broadcast pools: {created} created here, as node {peer} has them"
        );
        return Some((peer, created));
    }
    None
}

/// Every other node of the cluster that has not left.
fn others(node: &Node) -> Vec<u32> {
    let Some(network) = node.network.get() else { return Vec::new() };
    (0..network.nodes() as u32).filter(|n| *n != node.node_id && !network.has_left(*n)).collect()
}

/// Admin `method` with `req` on each of `targets`, through the broadcast
/// tree: each node's decoded answer, or its error.
fn ask<I, O>(
    node: &Node,
    targets: &[u32],
    method: chimod_sdk::Method<I, O>,
    req: &I,
) -> Vec<(u32, Result<O, String>)>
where
    I: serde::Serialize + serde::de::DeserializeOwned,
    O: serde::de::DeserializeOwned + serde::Serialize,
{
    let input = match method.encode_input(req) {
        Ok(input) => input,
        Err(e) => return targets.iter().map(|t| (*t, Err(e.to_string()))).collect(),
    };
    let task = Spread { pool: PoolId::ADMIN, method: method.id, input: &input, long: false };
    gather(node, targets, task).into_iter().map(|o| (o.node, decoded(method, o.ok, &o.output))).collect()
}

/// The decoded answer of an admin call to another node, waiting for it
/// (suspending the task's fiber), or the error it ended with.
fn answer_of<I, O: serde::de::DeserializeOwned + serde::Serialize>(
    method: chimod_sdk::Method<I, O>,
    call: Result<std::sync::Arc<crate::task::Completion>, crate::task::Outcome>,
) -> Result<O, String>
where
    I: serde::Serialize + serde::de::DeserializeOwned,
{
    let outcome = match call {
        Ok(completion) => completion.wait(),
        Err(outcome) => outcome,
    };
    decoded(method, outcome.status == crate::ipc::TaskStatus::Ok, &outcome.output)
}

/// A task's decoded output when it succeeded, else its error message.
fn decoded<I, O>(method: chimod_sdk::Method<I, O>, ok: bool, output: &[u8]) -> Result<O, String>
where
    I: serde::Serialize + serde::de::DeserializeOwned,
    O: serde::de::DeserializeOwned + serde::Serialize,
{
    if !ok {
        return Err(String::from_utf8_lossy(output).into_owned());
    }
    method.decode_output(output).map_err(|e| e.to_string())
}

/// Get-or-create: the same id with the same module, name and parameters is
/// "already exists"; the same id with anything else is an error.
fn create_pool_here(node: &Node, req: CreatePool) -> Result<CreateOutcome, String> {
    let params = match serde_json::from_str::<serde_json::Value>(&req.params_json) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(other) => return Err(format!("parameters must be a map of keys, got {other}")),
        Err(e) => return Err(format!("parameters are not valid JSON: {e}")),
    };
    let spec = PoolSpec {
        mod_name: req.mod_name,
        pool_name: req.pool_name,
        pool_query: req.pool_query,
        pool_id: req.pool_id,
        params,
    };
    if let Some(known) = existing(node, &spec) {
        return known;
    }
    let id = spec.pool_id;
    let mut record = node.record.get().map(crate::pool::PoolRecord::guard);
    let wanted = spec.clone();
    let pool = match node.pools.create(spec, &node.modules) {
        Ok(pool) => pool,
        // Made meanwhile by another creation (a joining node taking in the
        // cluster's pools while chimaera_compose asks for the same one).
        Err(e) => return existing(node, &wanted).unwrap_or(Err(e.to_string())),
    };
    if let Some(record) = &mut record
        && let Err(e) = record.created(pool.spec())
    {
        // Unrecorded, it would vanish at the next restart: not created.
        drop(node.pools.destroy(id));
        return Err(format!("pool {id} was not created, since it could not be recorded: {e}"));
    }
    info!(pool_id = %id, "pool created through the admin pool");
    Ok(CreateOutcome::Created)
}

/// What asking for `spec` gets when its id is taken: "already exists" for
/// the same module, name and parameters, an error for anything else.
fn existing(node: &Node, spec: &PoolSpec) -> Option<Result<CreateOutcome, String>> {
    let existing = node.pools.get(spec.pool_id)?;
    let e = existing.spec();
    if e.mod_name == spec.mod_name && e.pool_name == spec.pool_name && e.params == spec.params {
        return Some(Ok(CreateOutcome::AlreadyExists));
    }
    Some(Err(format!(
        "pool {} already exists as `{}` ({}) with other parameters",
        spec.pool_id, e.pool_name, e.mod_name
    )))
}

/// A live upgrade here and, with `cluster`, on every other node after it,
/// one at a time in node order: a failing node stops the rollout, so the
/// nodes after it keep the old version (the error says which did what).
fn upgrade_module(node: &Node, req: UpgradeModule) -> Result<Vec<UpgradeOutcome>, String> {
    let cluster = req.cluster;
    let here = crate::module::upgrade_module(node, UpgradeModule { cluster: false, ..req.clone() })?;
    let mut done = vec![here];
    let Some(network) = node.network.get().filter(|_| cluster) else { return Ok(done) };
    let input =
        UPGRADE_MODULE.encode_input(&UpgradeModule { cluster: false, ..req }).map_err(|e| e.to_string())?;
    for n in (0..network.nodes() as u32).filter(|n| *n != network.node_id() && !network.has_left(*n)) {
        match answer_of(UPGRADE_MODULE, network.call(n, PoolId::ADMIN, UPGRADE_MODULE.id, &input, true)) {
            Ok(mut outcomes) => done.append(&mut outcomes),
            Err(e) => {
                let ok: Vec<String> = done.iter().map(|o| o.node_id.to_string()).collect();
                return Err(format!(
                    "upgraded on node {}; node {n} failed: {e}; the nodes after it were not upgraded",
                    ok.join(", ")
                ));
            }
        }
    }
    Ok(done)
}

/// A re-read of the hostfile here and, with `cluster`, on every other node
/// this one knows (the ones just added included), asked at once.
fn reload_hostfile(node: &Node, req: ReloadHostfile) -> Vec<NodeReload> {
    let Some(network) = node.network.get() else {
        return vec![NodeReload {
            node_id: node.node_id,
            nodes: 1,
            added: Vec::new(),
            error: Some("this runtime is a single node (no networking.hostfile)".to_owned()),
        }];
    };
    let here = match network.reload() {
        Ok(r) => NodeReload {
            node_id: node.node_id,
            nodes: r.nodes as u32,
            added: r.added.iter().map(|(id, a)| (*id, a.to_string())).collect(),
            error: None,
        },
        Err(e) => NodeReload {
            node_id: node.node_id,
            nodes: network.nodes() as u32,
            added: Vec::new(),
            error: Some(e),
        },
    };
    if !req.cluster {
        return vec![here];
    }
    let mut all = vec![here];
    for (n, answer) in ask(node, &others(node), RELOAD_HOSTFILE, &ReloadHostfile { cluster: false }) {
        match answer {
            Ok(mut answers) => all.append(&mut answers),
            Err(e) => all.push(NodeReload { node_id: n, nodes: 0, added: Vec::new(), error: Some(e) }),
        }
    }
    all
}

fn schedule_periodic(node: &Node, req: SchedulePeriodic) -> Result<u64, String> {
    if req.period_ms == 0 {
        return Err("period_ms must be at least 1".to_owned());
    }
    if node.pools.get(req.pool_id).is_none() {
        return Err(format!("no pool {} on this node", req.pool_id));
    }
    let entry = crate::worker::schedule_periodic(
        node,
        req.pool_id,
        req.method,
        req.input,
        Duration::from_millis(req.period_ms),
    )?;
    info!(id = entry.id, pool = %req.pool_id, method = req.method, period_ms = req.period_ms, "periodic task scheduled");
    Ok(entry.id)
}

fn destroy_pool(node: &Node, id: PoolId) -> Result<(), String> {
    if id == PoolId::ADMIN {
        return Err("the admin pool 1.0 cannot be destroyed; stop the runtime instead".to_owned());
    }
    let mut record = node.record.get().map(crate::pool::PoolRecord::guard);
    let pool = node.pools.get(id).ok_or_else(|| format!("no pool {id} on this node"))?;
    // Recorded first: a crash after it leaves the pool destroyed, as asked.
    if let Some(record) = &mut record {
        record.destroyed(pool.spec()).map_err(|e| format!("pool {id} was not destroyed: {e}"))?;
    }
    drop(node.pools.destroy(id));
    info!(pool_id = %id, "pool destroyed through the admin pool");
    Ok(())
}

fn list_pools(node: &Node) -> Vec<PoolDescription> {
    node.pools.list().iter().map(|p| describe(p)).collect()
}

fn describe(pool: &crate::pool::Pool) -> PoolDescription {
    let s = pool.spec();
    PoolDescription {
        pool_id: s.pool_id,
        pool_name: s.pool_name.clone(),
        mod_name: s.mod_name.clone(),
        mod_version: pool.with_container(|c| c.module().version().to_owned()),
        pool_query: s.pool_query,
        params_json: serde_json::Value::Object(s.params.clone()).to_string(),
    }
}

fn pool_stats(node: &Node, id: PoolId) -> Result<PoolStats, String> {
    let pool = node.pools.get(id).ok_or_else(|| format!("no pool {id} on this node"))?;
    // A module whose stats fail still has the runtime's figures.
    let module_json = match pool.with_container(Container::stats) {
        Ok(value) => value.to_string(),
        Err(e) => serde_json::json!({ "error": e.to_string() }).to_string(),
    };
    Ok(PoolStats {
        pool: describe(&pool),
        tasks: pool.tasks(),
        errors: pool.errors.load(Ordering::Relaxed),
        module_json,
    })
}

fn list_modules(node: &Node) -> Vec<ModuleDescription> {
    let pools = node.pools.list();
    node.modules
        .loaded()
        .iter()
        .map(|m| ModuleDescription {
            mod_name: m.mod_name().to_owned(),
            version: m.version().to_owned(),
            path: m.path().display().to_string(),
            pools: pools.iter().filter(|p| p.spec().mod_name == m.mod_name()).map(|p| p.id()).collect(),
            replaced: node.modules.replaced(m.mod_name()),
        })
        .collect()
}

/// This node's pools and, in a cluster, every other node's, asked at once.
fn cluster_pools(node: &Node) -> Vec<NodePools> {
    let here = NodePools { node_id: node.node_id, pools: list_pools(node), error: None };
    let Some(network) = node.network.get() else { return vec![here] };
    // A node known to be down is not asked (the listing would wait for it
    // up to wait_for_restart); it is reported as down.
    let mut all = vec![here];
    let mut asked = Vec::new();
    for (n, (address, state, heard)) in network.peers().into_iter().enumerate() {
        let n = n as u32;
        let is = match state {
            _ if n == node.node_id => continue,
            crate::net::PeerState::Down => "is down",
            crate::net::PeerState::Left => "left the cluster",
            _ => {
                asked.push(n);
                continue;
            }
        };
        let heard = heard.map_or_else(|| "never heard".to_owned(), |d| format!("last heard {d:.1?} ago"));
        all.push(NodePools {
            node_id: n,
            pools: Vec::new(),
            error: Some(format!("node {n} ({address}) {is} ({heard})")),
        });
    }
    for (n, answer) in ask(node, &asked, LIST_POOLS, &()) {
        all.push(match answer {
            Ok(pools) => NodePools { node_id: n, pools, error: None },
            Err(e) => NodePools { node_id: n, pools: Vec::new(), error: Some(e) },
        });
    }
    all.sort_by_key(|n| n.node_id);
    all
}

fn stats(node: &Node) -> RuntimeStats {
    let queue = node.queue.get();
    let workers = node
        .workers
        .get()
        .map(|ws| {
            ws.iter()
                .map(|w| WorkerStats {
                    kind: w.kind.to_owned(),
                    lane: w.lane,
                    tasks_done: w.counters.tasks_done.load(Ordering::Relaxed),
                    queued: queue.map_or(0, |q| q.lane(w.lane).len()),
                    suspended: w.counters.suspended.load(Ordering::Relaxed),
                    subtasks_pending: w.inbox.pending() as u64,
                    running: w.counters.running(),
                    spin_us: w.counters.spin_us.load(Ordering::Relaxed),
                    sleep_us: w.counters.sleep_us.load(Ordering::Relaxed),
                })
                .collect()
        })
        .unwrap_or_default();
    let (slots_total, slots_free) = queue.map_or((0, 0), |q| {
        let total = q.layout().num_slots;
        // Slots never handed out are free without a look (and looking
        // would fault in their pages).
        let touched = q.slots_touched();
        let free = (0..touched)
            .filter(|i| q.slot(*i).header.state.load(Ordering::Relaxed) == crate::ipc::state::FREE)
            .count() as u32;
        (total, free + (total - touched))
    });
    RuntimeStats {
        slots_total,
        slots_free,
        node_id: node.node_id,
        uptime_ms: node.started.elapsed().as_millis() as u64,
        pools: node.pools.list().len() as u32,
        workers,
        heartbeats: node.heartbeats.load(Ordering::Relaxed),
        client_data: node.bulk.get().map(|b| bulk_stats(&b.client)).unwrap_or_default(),
        runtime_data: node.bulk.get().map(|b| bulk_stats(&b.runtime)).unwrap_or_default(),
        nodes: node_stats(node),
        frames_dropped: node.network.get().map_or(0, |n| n.frames_dropped()),
        remote_clients: node.remote_clients.get().map(|c| c.snapshot()).unwrap_or_default(),
        periodic: node
            .periodic
            .list()
            .iter()
            .map(|e| PeriodicStats {
                id: e.id,
                pool_id: e.pool,
                method: e.method,
                period_ms: e.period.as_millis() as u64,
                runs: e.runs.load(Ordering::Relaxed),
                failures: e.failures.load(Ordering::Relaxed),
                skipped: e.skipped.load(Ordering::Relaxed),
                last_error: e.last_error(),
            })
            .collect(),
    }
}

fn node_stats(node: &Node) -> Vec<NodeStats> {
    let Some(network) = node.network.get() else { return Vec::new() };
    network
        .peers()
        .into_iter()
        .enumerate()
        .map(|(id, (address, state, heard))| NodeStats {
            node_id: id as u32,
            address: address.to_string(),
            state: if id as u32 == network.node_id() { "self".to_owned() } else { state.name().to_owned() },
            last_heard_ms: heard.map(|d| d.as_millis() as u64),
        })
        .collect()
}

fn bulk_stats(heap: &crate::bulk::BulkHeap) -> BulkStats {
    let s = heap.stats();
    BulkStats { capacity: s.capacity, free: s.free, live_blocks: s.live_blocks }
}

fn flush(node: &Node) -> Result<u32, String> {
    let pools = node.pools.list();
    for pool in &pools {
        pool.with_container(Container::flush).map_err(|e| format!("flushing pool {}: {e}", pool.id()))?;
    }
    Ok(pools.len() as u32)
}
