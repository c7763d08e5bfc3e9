//! The network between nodes: ZeroMQ over TCP on `networking.port` (the
//! pure-Rust `zeromq` crate; see docs/decisions.md). Each node binds a
//! ROUTER socket on its hostfile address and keeps one DEALER socket per
//! peer, fed by a queue of its own, so a peer that is down or slow holds up
//! only its own frames. ROUTER rather than PULL because it tells which
//! connection a message came from, and so from which address
//! (`admission.rs`): only hostfile addresses are heard. All of it runs on
//! one thread ("chi-net") with a single-threaded tokio runtime; workers hand
//! it frames through those queues and never block on the network.
//!
//! A call to another node is a Request frame; the node runs it as a subtask
//! and answers with a Reply frame. A peer that is not up yet is retried
//! every `wait_for_restart_poll_period`, and a call that gets no reply
//! within `wait_for_restart` fails with an error naming the node.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chimod_sdk::PoolId;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

use super::admission::{Admission, Held, Verdict};
use super::log_limit::LogLimit;

use super::frame::MAX_FRAME;
use super::frame::{Body, Frame};
use super::peers::{PeerState, PeerTable};
use super::pending::PendingCalls;
use super::seal::{Sealer, TAG};
use crate::cluster::swim::{Message as SwimMessage, Swim, SwimConfig};
use crate::ipc::TaskStatus;
use crate::node::Node;
use crate::task::{Completion, InternalTask, Outcome};

/// One member of the cluster as the sending side knows it.
#[derive(Debug)]
struct Link {
    address: IpAddr,
    /// The queue of its sender (none for this node).
    queue: Option<mpsc::UnboundedSender<Vec<u8>>>,
}

impl Link {
    /// Another member, and the receiving end of its sender's queue.
    fn to(address: IpAddr) -> (Link, mpsc::UnboundedReceiver<Vec<u8>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Link { address, queue: Some(tx) }, rx)
    }
}

/// What the network thread is told by other threads.
#[derive(Debug)]
enum Control {
    /// Nodes joined: admit their addresses and start their senders.
    Grow(Vec<(u32, IpAddr, mpsc::UnboundedReceiver<Vec<u8>>)>),
}

/// What a re-read of the hostfile changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reloaded {
    /// The nodes added, with their new ids.
    pub added: Vec<(u32, IpAddr)>,
    /// Nodes in the cluster now.
    pub nodes: usize,
}

/// What workers use to reach other nodes.
#[derive(Debug)]
pub struct NetHandle {
    node_id: u32,
    /// Every member by id; grows when the hostfile does, never shrinks.
    members: std::sync::RwLock<Vec<Link>>,
    /// The hostfile, re-read to take in new nodes.
    hostfile: Option<std::path::PathBuf>,
    control: mpsc::UnboundedSender<Control>,
    /// Set at the stop, when the senders' queues are closed.
    closed: std::sync::atomic::AtomicBool,
    /// When the hostfile was last re-read because an unknown node spoke.
    last_reload: std::sync::Mutex<Option<Instant>>,
    pending: Arc<PendingCalls>,
    liveness: Arc<PeerTable>,
    wait: Duration,
    neighborhood: u32,
    sealer: Sealer,
    /// Frames dropped since start (stats).
    frames_dropped: std::sync::atomic::AtomicU64,
    /// The failure detector; used by the network thread alone (the lock is
    /// never contended).
    swim: std::sync::Mutex<Swim>,
    /// The failure detector's clock starts here.
    started: Instant,
}

impl NetHandle {
    fn links(&self) -> std::sync::RwLockReadGuard<'_, Vec<Link>> {
        self.members.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The queue of `node`'s sender and its address, if it is another
    /// member.
    fn queue_of(&self, node: u32) -> Option<(mpsc::UnboundedSender<Vec<u8>>, IpAddr)> {
        let links = self.links();
        let link = links.get(node as usize)?;
        Some((link.queue.clone()?, link.address))
    }

    /// Re-reads the hostfile and takes in the nodes added at its end (ids
    /// are line order, so nodes already known must keep their lines).
    /// Nodes then hear the new ones and probe them; broadcasts include
    /// them.
    pub fn reload(&self) -> Result<Reloaded, String> {
        let path =
            self.hostfile.as_deref().ok_or("this runtime is a single node (no networking.hostfile)")?;
        let hostfile = crate::cluster::Hostfile::load(path).map_err(|e| e.to_string())?;
        let listed: Vec<IpAddr> = hostfile.addresses().collect();
        let mut links = self.members.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (id, link) in links.iter().enumerate() {
            match listed.get(id) {
                Some(a) if *a == link.address => {}
                other => {
                    return Err(format!(
                        "hostfile {}: node {id} ({}) is {}; node ids are the hostfile's line order, so a running cluster takes new nodes at the end and keeps every known one on its line (a node that left stays listed)",
                        path.display(),
                        link.address,
                        other.map_or_else(|| "no longer listed".to_owned(), |a| format!("replaced by {a}"))
                    ));
                }
            }
        }
        let was = links.len();
        let mut started = Vec::new();
        for (id, address) in listed.iter().enumerate().skip(was) {
            let (link, rx) = Link::to(*address);
            links.push(link);
            started.push((id as u32, *address, rx));
        }
        let added: Vec<(u32, IpAddr)> = started.iter().map(|(id, a, _)| (*id, *a)).collect();
        if !added.is_empty() {
            self.liveness.grow(&listed[was..]);
            self.swim.lock().unwrap_or_else(std::sync::PoisonError::into_inner).grow(listed.len());
            let _ = self.control.send(Control::Grow(started));
            let list: Vec<String> = added.iter().map(|(id, a)| format!("node {id} ({a})")).collect();
            info!(
                "hostfile {} re-read: {} joined the cluster, now {} nodes",
                path.display(),
                list.join(", "),
                listed.len()
            );
        }
        Ok(Reloaded { added, nodes: listed.len() })
    }

    /// A node this one does not know spoke: the hostfile may have grown.
    /// Re-read at most once a second, whatever peers send; returns the
    /// addresses taken in.
    fn reload_for_stranger(&self, why: &str) -> Vec<IpAddr> {
        {
            let mut last = self.last_reload.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
                return Vec::new();
            }
            *last = Some(Instant::now());
        }
        if self.hostfile.is_none() {
            return Vec::new();
        }
        match self.reload() {
            Ok(r) => {
                if r.added.is_empty() {
                    debug!("{why}; the hostfile lists no new node");
                }
                r.added.into_iter().map(|(_, a)| a).collect()
            }
            Err(e) => {
                warn!("{why}; cannot take in new nodes: {e}");
                Vec::new()
            }
        }
    }

    /// Tells every member this node is leaving, so that they stop probing
    /// it and pass it by; it then neither probes nor answers.
    pub fn leave(&self) {
        let farewell = self.swim.lock().unwrap_or_else(std::sync::PoisonError::into_inner).leave();
        let count = farewell.len();
        self.send_swim(farewell);
        info!("leaving the cluster: told the {count} members that are up");
    }

    /// Ends every sender's queue: each sends what it holds, then stops.
    /// Calls made afterwards fail as the runtime is stopping.
    fn close_queues(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::Release);
        let mut links = self.members.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for link in links.iter_mut() {
            link.queue = None;
        }
    }

    fn send_swim(&self, out: Vec<(u32, SwimMessage)>) {
        for (to, message) in out {
            let Some((queue, _)) = self.queue_of(to) else { continue };
            // A SWIM message is small (bounded updates): never over the limit.
            if let Ok(bytes) = wire(&self.sealer, &Frame::new(self.node_id, Body::Swim(message))) {
                let _ = queue.send(bytes);
            }
        }
    }

    /// Runs the failure detector: its timers, or `incoming` from a peer;
    /// sends what it has to send and records the changes it saw.
    fn swim(&self, incoming: Option<(u32, SwimMessage)>) {
        let mut out = Vec::new();
        let changes = {
            let mut swim = self.swim.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = self.started.elapsed();
            match incoming {
                Some((from, message)) => swim.receive(now, from, message, &mut out),
                None => swim.tick(now, &mut out),
            }
            swim.take_changes()
        };
        self.send_swim(out);
        let now = Instant::now();
        for change in changes {
            self.liveness.swim_says(change.node, change.liveness, now);
        }
    }

    /// When the failure detector next has something to do.
    fn swim_deadline(&self) -> tokio::time::Instant {
        let next = self.swim.lock().unwrap_or_else(std::sync::PoisonError::into_inner).next_deadline();
        tokio::time::Instant::from_std(self.started + next)
    }

    /// How many frames from the network were dropped since start.
    pub fn frames_dropped(&self) -> u64 {
        self.frames_dropped.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// This node's id.
    pub fn node_id(&self) -> u32 {
        self.node_id
    }

    /// Every node's address, state and how long ago it was heard from.
    pub fn peers(&self) -> Vec<(IpAddr, PeerState, Option<Duration>)> {
        self.liveness.snapshot(Instant::now())
    }

    /// The most nodes a range query spans (`networking.neighborhood_size`).
    pub fn neighborhood(&self) -> u32 {
        self.neighborhood
    }

    /// Nodes in the cluster, those that left included.
    pub fn nodes(&self) -> usize {
        self.links().len()
    }

    /// Whether `node` said it left the cluster (broadcasts pass it by).
    pub fn has_left(&self, node: u32) -> bool {
        self.peer_state(node) == Some(PeerState::Left)
    }

    /// What this node knows of `node`, if it is a member.
    pub fn peer_state(&self, node: u32) -> Option<PeerState> {
        self.liveness.state(node)
    }

    /// Sends a task to node `target`; its outcome arrives on the returned
    /// completion (an error naming the node if none comes in time).
    pub fn call(
        &self,
        target: u32,
        pool: PoolId,
        method: u32,
        input: &[u8],
        long: bool,
    ) -> Result<Arc<Completion>, Outcome> {
        self.call_within(target, pool, method, input, long, self.wait)
    }

    /// [`NetHandle::call`] with its own bound on the wait for the reply.
    pub fn call_within(
        &self,
        target: u32,
        pool: PoolId,
        method: u32,
        input: &[u8],
        long: bool,
        wait: Duration,
    ) -> Result<Arc<Completion>, Outcome> {
        if self.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Outcome::failed(
                TaskStatus::Error,
                "this runtime is stopping: no more calls to other nodes",
            ));
        }
        if target as usize >= self.nodes() {
            // Named by another node (a relay's group) that has re-read a
            // grown hostfile before this one.
            self.reload_for_stranger(&format!("a call to node {target}, which this node does not know"));
        }
        let Some((peer, address)) = self.queue_of(target) else {
            return Err(Outcome::failed(
                TaskStatus::Error,
                format!("no node {target}: the cluster has nodes 0 to {}", self.nodes().saturating_sub(1)),
            ));
        };
        if self.has_left(target) {
            return Err(Outcome::failed(
                TaskStatus::Error,
                format!("node {target} ({address}) left the cluster"),
            ));
        }
        let completion = Completion::new();
        let id = self.pending.register(target, address, completion.clone(), wait);
        let frame = Frame::new(self.node_id, Body::Request { id, pool, method, input: input.to_vec(), long });
        let bytes = wire(&self.sealer, &frame).map_err(|len| {
            self.pending.forget(id);
            Outcome::failed(
                TaskStatus::Error,
                format!("a task of {len} bytes cannot be sent to node {target}: frames between nodes are limited to {MAX_FRAME} bytes"),
            )
        })?;
        if peer.send(bytes).is_err() {
            return Err(Outcome::failed(TaskStatus::Stopping, "runtime stopping"));
        }
        crate::worker::handed_off();
        Ok(completion)
    }
}

/// The running network thread.
#[derive(Debug)]
pub struct Network {
    handle: Arc<NetHandle>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// The settings the network needs.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// This node's id.
    pub node_id: u32,
    /// Every node's address, by id.
    pub addresses: Vec<IpAddr>,
    /// `networking.port`.
    pub port: u16,
    /// `networking.wait_for_restart`.
    pub wait: Duration,
    /// `networking.wait_for_restart_poll_period`.
    pub poll: Duration,
    /// `networking.idle_connection_timeout`.
    pub idle: Duration,
    /// `runtime.heartbeat_interval`.
    pub heartbeat: Duration,
    /// `networking.neighborhood_size`.
    pub neighborhood: u32,
    /// The cluster key, if any.
    pub sealer: Sealer,
    /// The hostfile the addresses came from, re-read to take in new nodes.
    pub hostfile: Option<std::path::PathBuf>,
}

impl Network {
    /// Binds this node's socket and starts the network thread. Fails if the
    /// address and port cannot be bound.
    pub fn start(node: &Arc<Node>, config: NetConfig) -> std::io::Result<Network> {
        let pending = Arc::new(PendingCalls::default());
        let mut links = Vec::new();
        let mut queues = Vec::new();
        for (id, address) in config.addresses.iter().enumerate() {
            if id as u32 == config.node_id {
                links.push(Link { address: *address, queue: None });
            } else {
                let (link, rx) = Link::to(*address);
                links.push(link);
                queues.push((id as u32, *address, rx));
            }
        }
        let (control, control_rx) = mpsc::unbounded_channel();
        let liveness = Arc::new(PeerTable::new(&config.addresses));
        let members = config.addresses.len();
        // A restarted node takes a larger incarnation than any it had, so
        // that its aliveness overrides its old death.
        let incarnation = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_millis() as u64);
        let swim = Swim::new(
            config.node_id,
            members,
            incarnation,
            SwimConfig::for_heartbeat(config.heartbeat),
            incarnation ^ u64::from(config.node_id),
        );
        let handle = Arc::new(NetHandle {
            node_id: config.node_id,
            members: std::sync::RwLock::new(links),
            hostfile: config.hostfile.clone(),
            control,
            closed: Default::default(),
            last_reload: Default::default(),
            pending: pending.clone(),
            liveness,
            wait: config.wait,
            neighborhood: config.neighborhood,
            sealer: config.sealer.clone(),
            frames_dropped: Default::default(),
            swim: std::sync::Mutex::new(swim),
            started: Instant::now(),
        });
        let (shutdown, stop) = oneshot::channel();
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let node = node.clone();
        let thread_handle = handle.clone();
        let thread = std::thread::Builder::new().name("chi-net".into()).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = bound_tx.send(Err(e.to_string()));
                    return;
                }
            };
            runtime.block_on(serve(node, thread_handle, config, queues, control_rx, stop, bound_tx));
        })?;
        match bound_rx.recv() {
            Ok(Ok(())) => Ok(Network { handle, shutdown: Some(shutdown), thread: Some(thread) }),
            Ok(Err(why)) => {
                let _ = thread.join();
                Err(std::io::Error::other(why))
            }
            Err(_) => Err(std::io::Error::other("the network thread ended before binding")),
        }
    }

    /// What workers use.
    pub fn handle(&self) -> Arc<NetHandle> {
        self.handle.clone()
    }

    /// Fails calls in flight and stops the thread.
    pub fn stop(mut self) {
        self.handle.pending.fail_all();
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The most frames packed into one message.
const MAX_PARTS: usize = 64;
/// The largest message a peer may send, counted as the socket counts it
/// (each part's bytes and `FRAME_ACCOUNTING_BYTES`): one frame of the
/// largest size with its cluster key tag, or many smaller ones packed
/// together up to the same total. The socket refuses a message past it on
/// the header of the frame that would pass it, before reading its body, so
/// a peer cannot make a node buffer more (docs/reliability.md).
const MAX_MESSAGE: usize = MAX_FRAME + TAG + MAX_PARTS * zeromq::FRAME_ACCOUNTING_BYTES;

/// What a message part costs against [`MAX_MESSAGE`].
fn accounted(part: usize) -> usize {
    part + zeromq::FRAME_ACCOUNTING_BYTES
}

/// Every socket of the network, listening or connecting.
fn socket_options() -> zeromq::SocketOptions {
    let mut options = zeromq::SocketOptions::default();
    options.max_message_size(MAX_MESSAGE);
    options
}

/// A frame encoded and sealed for the network, or its size when it is over
/// [`MAX_FRAME`] (a peer would refuse it).
fn wire(sealer: &Sealer, frame: &Frame) -> Result<Vec<u8>, usize> {
    let bytes = frame.encode();
    if bytes.len() > MAX_FRAME {
        return Err(bytes.len());
    }
    Ok(sealer.seal(bytes))
}

fn endpoint(address: IpAddr, port: u16) -> String {
    format!("tcp://{}", SocketAddr::new(address, port))
}

async fn serve(
    node: Arc<Node>,
    handle: Arc<NetHandle>,
    config: NetConfig,
    queues: Vec<(u32, IpAddr, mpsc::UnboundedReceiver<Vec<u8>>)>,
    mut control: mpsc::UnboundedReceiver<Control>,
    mut stop: oneshot::Receiver<()>,
    bound: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let own = config.addresses[config.node_id as usize];
    let mut socket = zeromq::RouterSocket::with_options(socket_options());
    let mut connections = socket.monitor();
    let mut admission = Admission::new(config.addresses.clone(), own);
    let mut held = Held::default();
    if let Err(e) = socket.bind(&endpoint(own, config.port)).await {
        let _ = bound.send(Err(format!("cannot bind {}: {e}", endpoint(own, config.port))));
        return;
    }
    let _ = bound.send(Ok(()));
    info!(
        node = config.node_id,
        "listening on {} for the other {} nodes",
        endpoint(own, config.port),
        queues.len()
    );
    let mut feeders = tokio::task::JoinSet::new();
    let mut start_feeders = |queues: Vec<(u32, IpAddr, mpsc::UnboundedReceiver<Vec<u8>>)>| {
        for (id, address, rx) in queues {
            let Some(reconnect) = handle.liveness.reconnect_signal(id) else { continue };
            let pacing = Pacing { poll: config.poll, wait: config.wait, idle: config.idle };
            feeders.spawn(feed_peer(id, address, config.port, pacing, rx, reconnect));
        }
    };
    start_feeders(queues);
    let mut sweep = tokio::time::interval(config.poll.min(config.heartbeat).min(Duration::from_millis(250)));
    let swim_timer = tokio::time::sleep_until(handle.swim_deadline());
    tokio::pin!(swim_timer);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(Control::Grow(joined)) = control.recv() => {
                admission.admit(joined.iter().map(|(_, a, _)| *a));
                start_feeders(joined);
            }
            () = &mut swim_timer => {
                handle.swim(None);
                swim_timer.as_mut().reset(handle.swim_deadline());
            }
            _ = sweep.tick() => {
                let now = Instant::now();
                act_on_released(&node, &handle, &admission, &mut held, now);
                for node in handle.pending.expire(now) {
                    // A call went unanswered: the connection may be dead
                    // without the socket knowing; make it again.
                    handle.liveness.reconnect(node);
                }
            }
            Some(event) = connections.next() => {
                note_connection(&handle, &mut admission, event);
                act_on_released(&node, &handle, &admission, &mut held, Instant::now());
            }
            message = socket.recv() => match message {
                Ok(message) => {
                    // The monitor may not have been polled since this
                    // connection was accepted; messages held for it go
                    // before this one, in order.
                    while let Ok(event) = connections.try_recv() {
                        note_connection(&handle, &mut admission, event);
                    }
                    act_on_released(&node, &handle, &admission, &mut held, Instant::now());
                    receive(&node, &handle, &admission, &mut held, message);
                    // What arrived may have moved the detector's next deadline.
                    swim_timer.as_mut().reset(handle.swim_deadline());
                }
                Err(e) => {
                    dropped(&handle, 1, &format!("the socket failed to receive: {e}"));
                    // Never a busy loop, whatever the socket does next.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            },
        }
    }
    // No new connection while the rest goes: a peer that connected now
    // would lose what it sends when the process ends.
    drop(connections);
    drop(socket);
    // What is queued goes out before the sockets close (a farewell, the
    // replies of the last tasks); a peer that cannot take it does not hold
    // the stop up for long.
    handle.close_queues();
    let drained =
        tokio::time::timeout(FLUSH_GRACE, async { while feeders.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        debug!("frames still queued for unreachable peers after {FLUSH_GRACE:?} were dropped at the stop");
    }
    debug!("network thread stopped");
}

/// How long a stopping node waits for its queued frames to be sent.
const FLUSH_GRACE: Duration = Duration::from_millis(250);

/// Counts and logs `count` dropped frames.
fn dropped(handle: &NetHandle, count: usize, why: &str) {
    static LIMIT: LogLimit = LogLimit::new();
    handle.frames_dropped.fetch_add(count as u64, std::sync::atomic::Ordering::Relaxed);
    if let Some(quiet) = LIMIT.allow() {
        warn!("dropped a frame from the network: {why} ({quiet} more dropped since the last such line)");
    }
}

/// Records what the monitor reports, and logs a connection from outside
/// the hostfile (its frames are dropped).
fn note_connection(handle: &NetHandle, admission: &mut Admission, event: zeromq::SocketEvent) {
    static LIMIT: LogLimit = LogLimit::new();
    static ACCEPT_LIMIT: LogLimit = LogLimit::new();
    if let zeromq::SocketEvent::ReceiveFailed(identity, why) = &event {
        // An oversized or malformed message: the socket drops the
        // connection before the frames reach us; count and log it here.
        let from = admission.source(&Bytes::from(identity.clone()));
        let from = from.map_or_else(|| "an unknown address".to_owned(), |a| a.to_string());
        dropped(handle, 1, &format!("the connection from {from} was closed: {why}"));
        return;
    }
    if let zeromq::SocketEvent::AcceptFailed(e) = &event {
        // The socket pauses its accepts (growing to a second) and keeps
        // serving the connections it has.
        if let Some(quiet) = ACCEPT_LIMIT.allow() {
            warn!(
                "cannot accept a connection: {e} (out of file descriptors?); pausing new connections, serving those open                  ({quiet} more such failures since the last such line)"
            );
        }
        return;
    }
    let Some(source) = admission.on_event(event) else { return };
    // A node just added to the hostfile, before this one re-read it?
    admission.admit(handle.reload_for_stranger(&format!("a connection from {source}, not in the hostfile")));
    if admission.admits(source) {
        return;
    }
    if let Some(quiet) = LIMIT.allow() {
        warn!(
            "a connection from {source}, which is not in the hostfile: its frames will be dropped \
             ({quiet} more such connections since the last such line)"
        );
    }
}

/// Acts on one message: the ROUTER puts the connection's identity first;
/// each further part is a frame (a sender packs the frames it has queued
/// into one message).
fn receive(
    node: &Arc<Node>,
    handle: &Arc<NetHandle>,
    admission: &Admission,
    held: &mut Held,
    message: ZmqMessage,
) {
    let mut parts = message.into_vec();
    if parts.is_empty() {
        return;
    }
    let identity = parts.remove(0);
    match admission.check(&identity) {
        Verdict::Unknown => {
            if let Some(evicted) = held.hold(Instant::now(), identity, parts) {
                act_on(node, handle, Verdict::Unknown, evicted);
            }
        }
        verdict => act_on(node, handle, verdict, parts),
    }
}

/// Acts on the held messages whose connection is now known or that waited
/// too long.
fn act_on_released(
    node: &Arc<Node>,
    handle: &Arc<NetHandle>,
    admission: &Admission,
    held: &mut Held,
    now: Instant,
) {
    for (verdict, frames) in held.release(admission, now) {
        act_on(node, handle, verdict, frames);
    }
}

/// Runs the frames of an admitted message; drops the others.
fn act_on(node: &Arc<Node>, handle: &Arc<NetHandle>, verdict: Verdict, frames: Vec<Bytes>) {
    let why = match verdict {
        Verdict::Admit => {
            for frame in &frames {
                receive_frame(node, handle, frame);
            }
            return;
        }
        Verdict::Refuse(why) => why,
        Verdict::Unknown => "from a connection whose address was never reported".to_owned(),
    };
    dropped(handle, frames.len(), &format!("{} frames {why}", frames.len()));
}

/// Acts on one frame: runs a request, delivers a reply, or drops it.
fn receive_frame(node: &Arc<Node>, handle: &Arc<NetHandle>, bytes: &Bytes) {
    let Some(bytes) = handle.sealer.open(bytes) else {
        dropped(
            handle,
            1,
            &format!("no valid cluster key tag (networking.cluster_key_file), {} bytes", bytes.len()),
        );
        return;
    };
    let frame = match Frame::decode(bytes, handle.nodes()) {
        Ok(frame) => frame,
        Err(e @ super::frame::FrameError::UnknownSender { .. }) => {
            // A node added to the hostfile after this one read it.
            handle.reload_for_stranger(&format!("a frame {e}"));
            match Frame::decode(bytes, handle.nodes()) {
                Ok(frame) => frame,
                Err(e) => {
                    dropped(handle, 1, &e.to_string());
                    return;
                }
            }
        }
        Err(e) => {
            dropped(handle, 1, &e.to_string());
            return;
        }
    };
    let from = frame.from;
    handle.liveness.heard(from, Instant::now());
    match frame.body {
        Body::Heartbeat => {}
        Body::Swim(message) => handle.swim(Some((from, message))),
        Body::Request { id, pool, method, input, long } => {
            let reply_to = handle.queue_of(from).map(|(queue, _)| queue);
            let own = handle.node_id;
            let sealer = handle.sealer.clone();
            let completion = Completion::new();
            completion.on_complete(move |outcome| {
                let reply = |status: TaskStatus, output| Frame::new(own, Body::Reply { id, status: status as u32, output });
                let bytes = wire(&sealer, &reply(outcome.status, outcome.output)).or_else(|len| {
                    let why = format!("the task's output of {len} bytes cannot be sent back: frames between nodes are limited to {MAX_FRAME} bytes");
                    wire(&sealer, &reply(TaskStatus::Error, why.into_bytes()))
                });
                if let (Some(peer), Ok(bytes)) = (reply_to, bytes) {
                    let _ = peer.send(bytes);
                    crate::worker::handed_off();
                }
            });
            let task = InternalTask {
                pool,
                method,
                input,
                completion: Some(completion),
                owner: crate::node::own_pid(),
                route: chimod_sdk::Route::Local,
            };
            // A refused task's completion is failed by `submit`, which sends the reply.
            let _ = crate::worker::submit(node, task, long);
        }
        Body::Reply { id, status, output } => {
            let outcome = Outcome { status: TaskStatus::from_code(status), output };
            if !handle.pending.complete(id, from, outcome) {
                debug!(id, from, "reply to a call that is no longer waiting (timed out?)");
            }
        }
    }
}

/// When a peer's sender connects, retries and lets a connection go.
#[derive(Debug, Clone, Copy)]
struct Pacing {
    /// Between connection attempts (`wait_for_restart_poll_period`).
    poll: Duration,
    /// How long an undelivered message is worth sending again.
    wait: Duration,
    /// A connection that carried nothing this long is closed; zero never.
    idle: Duration,
}

/// Sends one peer's queue over a DEALER socket, connected on demand: only
/// once there is something to send, and closed again after `idle` without
/// traffic, so a node holds connections only to the peers it talks to
/// (SWIM talks to a few random members a period, not to all). Connecting
/// is retried every `poll` until the peer is up. A DEALER socket does not
/// notice a peer that died, so the connection is also made again when the
/// peer goes silent or leaves a call unanswered. A message the socket could
/// not deliver (the peer restarted under it) is sent again on the next
/// connection, unless it waited longer than `wait` (the calls in it have
/// failed by then).
async fn feed_peer(
    id: u32,
    address: IpAddr,
    port: u16,
    pacing: Pacing,
    mut queue: mpsc::UnboundedReceiver<Vec<u8>>,
    reconnect: Arc<tokio::sync::Notify>,
) {
    let target = endpoint(address, port);
    // A frame taken from the queue that did not fit the last message.
    let mut carry: Option<Vec<u8>> = None;
    // A message returned undelivered, and since when.
    let mut unsent: Option<(ZmqMessage, Instant)> = None;
    loop {
        if carry.is_none() && unsent.is_none() {
            match queue.recv().await {
                Some(bytes) => carry = Some(bytes),
                None => return,
            }
        }
        let mut socket = zeromq::DealerSocket::with_options(socket_options());
        let mut attempt = 0u32;
        loop {
            match tokio::time::timeout(pacing.poll, socket.connect(&target)).await {
                Ok(Ok(())) => break,
                Ok(Err(e)) => {
                    debug!(node = id, "connecting to {target}: {e}");
                    tokio::time::sleep(pacing.poll).await;
                }
                Err(_) => {}
            }
            attempt += 1;
            info!(
                node = id,
                "node {id} ({address}) is not reachable yet; retrying every {:?} (attempt {attempt})",
                pacing.poll
            );
            if queue.is_closed() {
                return;
            }
        }
        debug!(node = id, "connected to node {id} ({address})");
        if let Some((message, since)) = unsent.take() {
            if since.elapsed() > pacing.wait {
                debug!(
                    node = id,
                    "dropped {} frames that waited {:?} for node {id}",
                    message.len(),
                    since.elapsed()
                );
            } else if let Err(e) = socket.send(message).await {
                unsent = returned(e).map(|m| (m, since));
                continue;
            }
        }
        loop {
            let bytes = match carry.take() {
                Some(bytes) => bytes,
                None => tokio::select! {
                    () = reconnect.notified() => {
                        debug!(node = id, "reconnecting to node {id} ({address})");
                        break;
                    }
                    bytes = queue.recv() => match bytes {
                        Some(bytes) => bytes,
                        None => return,
                    },
                    () = idle_for(pacing.idle) => {
                        debug!(node = id, "closed the idle connection to node {id} ({address}) after {:?}", pacing.idle);
                        break;
                    }
                },
            };
            // Whatever else is queued goes in the same message, one frame
            // per part (one write for many frames under load), up to the
            // size a peer accepts: what does not fit starts the next one.
            let mut size = accounted(bytes.len());
            let mut message = ZmqMessage::from(bytes);
            while message.len() < MAX_PARTS {
                let Ok(more) = queue.try_recv() else { break };
                if size + accounted(more.len()) > MAX_MESSAGE {
                    carry = Some(more);
                    break;
                }
                size += accounted(more.len());
                message.push_back(Bytes::from(more));
            }
            if let Err(e) = socket.send(message).await {
                warn!(node = id, "lost node {id} ({address}): {e}; reconnecting");
                unsent = returned(e).map(|m| (m, Instant::now()));
                break;
            }
        }
    }
}

/// Ends after `idle`; never when it is zero.
async fn idle_for(idle: Duration) {
    if idle.is_zero() {
        std::future::pending::<()>().await;
    } else {
        tokio::time::sleep(idle).await;
    }
}

/// The message a failed send gave back, if it did.
fn returned(error: zeromq::ZmqError) -> Option<ZmqMessage> {
    match error {
        zeromq::ZmqError::ReturnToSender { message, .. } => Some(message),
        _ => None,
    }
}
