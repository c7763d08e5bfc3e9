//! What this node knows of each peer: when it last heard from it, and
//! whether it counts it as up. The SWIM failure detector (`cluster::swim`)
//! says when a peer is down (logged once, with its id and address); a frame
//! from a peer, or SWIM seeing it alive again, brings it back up (logged as
//! rejoined).

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
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
}

impl PeerState {
    /// Its name in statistics.
    pub fn name(self) -> &'static str {
        match self {
            PeerState::Unknown => "unknown",
            PeerState::Up => "up",
            PeerState::Down => "down",
        }
    }
}

#[derive(Debug)]
struct Peer {
    state: PeerState,
    last_heard: Option<Instant>,
}

/// Every peer's liveness, and a way to tell a peer's sender to reconnect.
#[derive(Debug)]
pub struct PeerTable {
    addresses: Vec<IpAddr>,
    peers: Mutex<Vec<Peer>>,
    /// One per node: wakes that node's sender to drop its connection.
    pub reconnect: Vec<Notify>,
}

impl PeerTable {
    /// Peers at `addresses`, none heard from yet.
    pub fn new(addresses: Vec<IpAddr>) -> PeerTable {
        let n = addresses.len();
        PeerTable {
            addresses,
            peers: Mutex::new((0..n).map(|_| Peer { state: PeerState::Unknown, last_heard: None }).collect()),
            reconnect: (0..n).map(|_| Notify::new()).collect(),
        }
    }

    /// A frame came from `node`.
    pub fn heard(&self, node: u32, now: Instant) {
        let mut peers = self.peers.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(peer) = peers.get_mut(node as usize) else { return };
        peer.last_heard = Some(now);
        match peer.state {
            PeerState::Up => {}
            PeerState::Unknown => {
                peer.state = PeerState::Up;
                info!(node, "node {node} ({}) is up", self.addresses[node as usize]);
            }
            PeerState::Down => {
                peer.state = PeerState::Up;
                info!(node, "node {node} ({}) rejoined", self.addresses[node as usize]);
            }
        }
    }

    /// What the failure detector found: a dead peer is down (and its
    /// sender reconnects); one alive again after that has rejoined.
    pub fn swim_says(&self, node: u32, liveness: crate::cluster::swim::Liveness, now: Instant) {
        use crate::cluster::swim::Liveness;
        let mut peers = self.peers.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(peer) = peers.get_mut(node as usize) else { return };
        let address = self.addresses[node as usize];
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
                self.reconnect[node as usize].notify_one();
            }
            (Liveness::Alive, PeerState::Down) => {
                peer.state = PeerState::Up;
                info!(node, "node {node} ({address}) rejoined");
            }
            (Liveness::Suspect, _) => tracing::debug!(node, "node {node} ({address}) is suspect"),
            _ => {}
        }
    }

    /// Each node's state and how long ago it was heard from.
    pub fn snapshot(&self, now: Instant) -> Vec<(IpAddr, PeerState, Option<Duration>)> {
        let peers = self.peers.lock().unwrap_or_else(PoisonError::into_inner);
        peers
            .iter()
            .zip(&self.addresses)
            .map(|(p, a)| (*a, p.state, p.last_heard.map(|t| now.duration_since(t))))
            .collect()
    }
}
