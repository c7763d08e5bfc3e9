//! Remote clients: applications on other hosts (login nodes, containers
//! without this node's `/dev/shm`) that reach this runtime over TCP on
//! `networking.client_port`, speaking `chimaera_protocol::remote`. Off by
//! default. With `networking.cluster_key_file` every client must prove it
//! holds the key before it may send anything; without one, anyone who
//! reaches the port can run tasks, and the start says so.
//!
//! One thread accepts; each connection has a reader thread, which submits
//! its requests to the workers, and a writer thread for replies the socket
//! could not take at once. Plain threads and blocking sockets: a remote
//! client's round trip then costs one wake-up on each side, as a raw TCP
//! ping-pong does (docs/benchmarks.md).

mod budget;
mod connection;
mod outbox;

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use tracing::{info, warn};

use self::connection::Connection;
use crate::node::Node;

/// Connections served at once; further ones are refused with a message.
pub const MAX_CONNECTIONS: usize = 512;
/// Stack of each connection's threads: they run no tasks, only I/O.
const THREAD_STACK: usize = 256 << 10;

/// What the admin stats report of remote clients.
#[derive(Debug, Default)]
pub struct Counters {
    /// Connected now (past the handshake).
    pub connected: AtomicU64,
    /// Connections accepted since start.
    pub accepted: AtomicU64,
    /// Handshakes refused, and connections ended for a malformed message.
    pub refused: AtomicU64,
    /// Requests received.
    pub requests: AtomicU64,
}

impl Counters {
    /// The figures now.
    pub fn snapshot(&self) -> chimod_sdk::admin::RemoteClientStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        chimod_sdk::admin::RemoteClientStats {
            connected: get(&self.connected),
            accepted: get(&self.accepted),
            refused: get(&self.refused),
            requests: get(&self.requests),
        }
    }
}

/// What every connection's threads share.
#[derive(Debug)]
struct Shared {
    key: Option<Vec<u8>>,
    counters: Arc<Counters>,
    live: Mutex<Vec<(Arc<Connection>, JoinHandle<()>)>>,
}

/// The remote-client endpoint, while it runs.
#[derive(Debug)]
pub struct RemoteClients {
    listener: Arc<TcpListener>,
    address: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl RemoteClients {
    /// Binds `address` and starts accepting. `key` is the cluster key, if
    /// any. Fails if the address cannot be bound.
    pub fn start(
        node: &Arc<Node>,
        address: SocketAddr,
        key: Option<Vec<u8>>,
    ) -> std::io::Result<RemoteClients> {
        let listener = TcpListener::bind(address).map_err(|e| {
            std::io::Error::new(e.kind(), format!("networking.client_port: cannot bind {address}: {e}"))
        })?;
        let address = listener.local_addr()?;
        let listener = Arc::new(listener);
        if key.is_some() {
            info!("remote clients: listening on {address}; clients must hold the cluster key");
        } else {
            warn!(
                "remote clients: listening on {address} without a cluster key: anyone who can reach this port can run tasks (set networking.cluster_key_file)"
            );
        }
        let counters = Arc::new(Counters::default());
        let _ = node.remote_clients.set(counters.clone());
        let shared = Arc::new(Shared { key, counters, live: Mutex::default() });
        let acceptor = {
            let (node, listener, shared) = (node.clone(), listener.clone(), shared.clone());
            std::thread::Builder::new()
                .name("chi-remote".into())
                .spawn(move || accept(&node, &listener, &shared))?
        };
        Ok(RemoteClients { listener, address, shared, acceptor: Some(acceptor) })
    }

    /// The address clients connect to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Takes no more connections and no more requests; replies to the tasks
    /// in flight still go out. The first step of a stop.
    pub fn stop_reading(&mut self) {
        // Shutting a listening socket down wakes its `accept` (Linux).
        let _ = rustix::net::shutdown(&*self.listener, rustix::net::Shutdown::Read);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for (connection, _) in self.shared.live.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            connection.stop_reading();
        }
    }

    /// Says goodbye to every client and waits for the connections to end:
    /// after the workers stopped, so every reply is out.
    pub fn finish(mut self) {
        self.stop_reading();
        let live = std::mem::take(&mut *self.shared.live.lock().unwrap_or_else(PoisonError::into_inner));
        for (connection, _) in &live {
            connection.finish("runtime stopping");
        }
        for (_, thread) in live {
            let _ = thread.join();
        }
    }
}

/// Accepts connections until the listener is shut down.
fn accept(node: &Arc<Node>, listener: &TcpListener, shared: &Arc<Shared>) {
    static ACCEPT_LIMIT: crate::net::LogLimit = crate::net::LogLimit::new();
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // The listener was shut down: the runtime stops.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => return,
            Err(e) => {
                if let Some(quiet) = ACCEPT_LIMIT.allow() {
                    warn!(
                        "remote clients: cannot accept a connection: {e} ({quiet} more since the last such line)"
                    );
                }
                // Out of descriptors, say: pause rather than spin.
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        };
        shared.counters.accepted.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let mut live = shared.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.retain(|(_, thread)| !thread.is_finished());
        let connection = match Connection::new(stream, peer) {
            Ok(connection) => Arc::new(connection),
            Err(e) => {
                warn!(client = %peer, "remote clients: cannot serve a connection: {e}");
                continue;
            }
        };
        if live.len() >= MAX_CONNECTIONS {
            shared.counters.refused.fetch_add(1, Ordering::Relaxed);
            connection.refuse(&format!("this runtime already serves {MAX_CONNECTIONS} remote clients"));
            continue;
        }
        let thread = {
            let (node, shared2, connection) = (node.clone(), shared.clone(), connection.clone());
            std::thread::Builder::new()
                .name("chi-remote-in".into())
                .stack_size(THREAD_STACK)
                .spawn(move || connection.serve(&node, &shared2))
        };
        match thread {
            Ok(thread) => live.push((connection, thread)),
            Err(e) => warn!(client = %peer, "remote clients: no thread for a connection: {e}"),
        }
    }
}
