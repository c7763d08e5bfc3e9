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

/// What workers use to reach other nodes.
#[derive(Debug)]
pub struct NetHandle {
    node_id: u32,
    addresses: Vec<IpAddr>,
    peers: Vec<Option<mpsc::UnboundedSender<Vec<u8>>>>,
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
        for (to, message) in out {
            let Some(Some(peer)) = self.peers.get(to as usize) else { continue };
            // A SWIM message is small (bounded updates): never over the limit.
            if let Ok(bytes) = wire(&self.sealer, &Frame::new(self.node_id, Body::Swim(message))) {
                let _ = peer.send(bytes);
            }
        }
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

    /// Nodes in the cluster.
    pub fn nodes(&self) -> usize {
        self.addresses.len()
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
        let Some(Some(peer)) = self.peers.get(target as usize) else {
            return Err(Outcome::failed(
                TaskStatus::Error,
                format!(
                    "no node {target}: the cluster has nodes 0 to {}",
                    self.addresses.len().saturating_sub(1)
                ),
            ));
        };
        let completion = Completion::new();
        let id =
            self.pending.register(target, self.addresses[target as usize], completion.clone(), self.wait);
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
    /// `runtime.heartbeat_interval`.
    pub heartbeat: Duration,
    /// `networking.neighborhood_size`.
    pub neighborhood: u32,
    /// The cluster key, if any.
    pub sealer: Sealer,
}

impl Network {
    /// Binds this node's socket and starts the network thread. Fails if the
    /// address and port cannot be bound.
    pub fn start(node: &Arc<Node>, config: NetConfig) -> std::io::Result<Network> {
        let pending = Arc::new(PendingCalls::default());
        let mut peers = Vec::new();
        let mut queues = Vec::new();
        for (id, address) in config.addresses.iter().enumerate() {
            if id as u32 == config.node_id {
                peers.push(None);
            } else {
                let (tx, rx) = mpsc::unbounded_channel();
                peers.push(Some(tx));
                queues.push((id as u32, *address, rx));
            }
        }
        let liveness = Arc::new(PeerTable::new(config.addresses.clone()));
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
            SwimConfig::for_cluster(config.heartbeat, members),
            incarnation ^ u64::from(config.node_id),
        );
        let handle = Arc::new(NetHandle {
            node_id: config.node_id,
            addresses: config.addresses.clone(),
            peers,
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
            runtime.block_on(serve(node, thread_handle, config, queues, stop, bound_tx));
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
    for (id, address, rx) in queues {
        tokio::spawn(feed_peer(id, address, config.port, config.poll, rx, handle.liveness.clone()));
    }
    let mut sweep = tokio::time::interval(config.poll.min(config.heartbeat).min(Duration::from_millis(250)));
    let swim_timer = tokio::time::sleep_until(handle.swim_deadline());
    tokio::pin!(swim_timer);
    loop {
        tokio::select! {
            _ = &mut stop => break,
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
                    handle.liveness.reconnect[node as usize].notify_one();
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
    debug!("network thread stopped");
}

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
            let reply_to = handle.peers.get(from as usize).cloned().flatten();
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

/// Keeps a DEALER socket to one peer and sends its queue's frames, connecting
/// (and reconnecting) every `poll` until the peer is up. A DEALER socket does
/// not notice a peer that died, so the connection is also made again when
/// the peer goes silent or leaves a call unanswered.
async fn feed_peer(
    id: u32,
    address: IpAddr,
    port: u16,
    poll: Duration,
    mut queue: mpsc::UnboundedReceiver<Vec<u8>>,
    liveness: Arc<PeerTable>,
) {
    let target = endpoint(address, port);
    // A frame taken from the queue that did not fit the last message.
    let mut carry: Option<Vec<u8>> = None;
    loop {
        let mut socket = zeromq::DealerSocket::with_options(socket_options());
        let mut attempt = 0u32;
        loop {
            match tokio::time::timeout(poll, socket.connect(&target)).await {
                Ok(Ok(())) => break,
                Ok(Err(e)) => {
                    debug!(node = id, "connecting to {target}: {e}");
                    tokio::time::sleep(poll).await;
                }
                Err(_) => {}
            }
            attempt += 1;
            info!(
                node = id,
                "node {id} ({address}) is not reachable yet; retrying every {poll:?} (attempt {attempt})"
            );
            if queue.is_closed() {
                return;
            }
        }
        info!(node = id, "connected to node {id} ({address})");
        loop {
            let bytes = match carry.take() {
                Some(bytes) => bytes,
                None => tokio::select! {
                    () = liveness.reconnect[id as usize].notified() => {
                        info!(node = id, "reconnecting to node {id} ({address})");
                        break;
                    }
                    bytes = queue.recv() => match bytes {
                        Some(bytes) => bytes,
                        None => return,
                    },
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
                break;
            }
        }
    }
}
