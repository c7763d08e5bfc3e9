//! What this node knows of each peer: when it last heard from it, and
//! whether it counts it as up. The SWIM failure detector (`cluster::swim`)
//! says when a peer is down (logged once, with its id and address); a frame
//! from a peer, or SWIM seeing it alive again, brings it back up (logged as
//! rejoined). A peer that says it is leaving is gone until it comes back.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tracing::{info, warn};

/// A peer's state as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// Nothing heard yet.
    Unknown,
    /// Heard from, and not found dead since.
    Up,
    /// Found dead by the failure detector: it answered no probe, direct or
    /// indirect, and did not refute the suspicion in time.
    Down,
    /// Said it was leaving the cluster (`chimaera cluster leave`): tasks
    /// for it fail at once, broadcasts pass it by.
    Left,
}

impl PeerState {
    /// Its name in statistics.
    pub fn name(self) -> &'static str {
        match self {
            PeerState::Unknown => "unknown",
            PeerState::Up => "up",
            PeerState::Down => "down",
            PeerState::Left => "left",
        }
    }
}

#[derive(Debug)]
struct Peer {
    address: IpAddr,
    state: PeerState,
    last_heard: Option<Instant>,
    /// Wakes this peer's sender to drop its connection.
    reconnect: Arc<Notify>,
}

impl Peer {
    fn new(address: IpAddr) -> Peer {
        Peer { address, state: PeerState::Unknown, last_heard: None, reconnect: Arc::new(Notify::new()) }
    }
}

/// Every peer's liveness, and a way to tell a peer's sender to reconnect.
/// It grows when the hostfile gains nodes; ids never change.
#[derive(Debug)]
pub struct PeerTable {
    peers: Mutex<Vec<Peer>>,
}

impl PeerTable {
    /// Peers at `addresses`, none heard from yet.
    pub fn new(addresses: &[IpAddr]) -> PeerTable {
        PeerTable { peers: Mutex::new(addresses.iter().map(|a| Peer::new(*a)).collect()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Peer>> {
        self.peers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes in new nodes, whose ids follow the known ones.
    pub fn grow(&self, addresses: &[IpAddr]) {
        self.lock().extend(addresses.iter().map(|a| Peer::new(*a)));
    }

    /// What wakes `node`'s sender to reconnect.
    pub fn reconnect_signal(&self, node: u32) -> Option<Arc<Notify>> {
        self.lock().get(node as usize).map(|p| p.reconnect.clone())
    }

    /// Tells `node`'s sender to make its connection again.
    pub fn reconnect(&self, node: u32) {
        if let Some(peer) = self.lock().get(node as usize) {
            peer.reconnect.notify_one();
        }
    }

    /// `node`'s state.
    pub fn state(&self, node: u32) -> Option<PeerState> {
        self.lock().get(node as usize).map(|p| p.state)
    }

    /// A frame came from `node`.
    pub fn heard(&self, node: u32, now: Instant) {
        let mut peers = self.lock();
        let Some(peer) = peers.get_mut(node as usize) else { return };
        peer.last_heard = Some(now);
        let address = peer.address;
        match peer.state {
            PeerState::Up => {}
            PeerState::Unknown => {
                peer.state = PeerState::Up;
                info!(node, "node {node} ({address}) is up");
            }
            PeerState::Down | PeerState::Left => {
                peer.state = PeerState::Up;
                info!(node, "node {node} ({address}) rejoined");
            }
        }
    }

    /// What the failure detector found: a dead peer is down (and its
    /// sender reconnects); one that left is gone; one alive again after
    /// either has rejoined.
    pub fn swim_says(&self, node: u32, liveness: crate::cluster::swim::Liveness, now: Instant) {
        use crate::cluster::swim::Liveness;
        let mut peers = self.lock();
        let Some(peer) = peers.get_mut(node as usize) else { return };
        let address = peer.address;
        match (liveness, peer.state) {
            (Liveness::Dead, PeerState::Up | PeerState::Unknown) => {
                peer.state = PeerState::Down;
                let silent = peer.last_heard.map_or_else(
                    || "never heard from".to_owned(),
                    |t| format!("nothing heard for {:.1?}", now.duration_since(t)),
                );
                warn!(
                    node,
                    "node {node} ({address}) is down: {silent}; it answered no probe and did not refute the suspicion"
                );
                peer.reconnect.notify_one();
            }
            (Liveness::Left, state) if state != PeerState::Left => {
                peer.state = PeerState::Left;
                info!(node, "node {node} ({address}) left the cluster");
                peer.reconnect.notify_one();
            }
            (Liveness::Alive, PeerState::Down | PeerState::Left) => {
                peer.state = PeerState::Up;
                info!(node, "node {node} ({address}) rejoined");
            }
            (Liveness::Alive, PeerState::Unknown) => {
                peer.state = PeerState::Up;
                info!(node, "node {node} ({address}) is up");
            }
            (Liveness::Suspect, _) => tracing::debug!(node, "node {node} ({address}) is suspect"),
            _ => {}
        }
    }

    /// Each node's address, state and how long ago it was heard from.
    pub fn snapshot(&self, now: Instant) -> Vec<(IpAddr, PeerState, Option<Duration>)> {
        self.lock()
            .iter()
            .map(|p| (p.address, p.state, p.last_heard.map(|t| now.duration_since(t))))
            .collect()
    }
}
