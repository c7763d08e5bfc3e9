//! What this node knows of each peer: when it last heard from it, and
//! whether it counts it as up. A peer that has sent nothing for three
//! heartbeat intervals is down (logged once, with its id and address); its
//! next frame brings it back up (logged as rejoined).

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
    /// Heard within the last three heartbeat intervals.
    Up,
    /// Silent for longer.
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
    silence: Duration,
}

impl PeerTable {
    /// Peers at `addresses`; down after `3 × heartbeat` of silence.
    pub fn new(addresses: Vec<IpAddr>, heartbeat: Duration) -> PeerTable {
        let n = addresses.len();
        PeerTable {
            addresses,
            peers: Mutex::new((0..n).map(|_| Peer { state: PeerState::Unknown, last_heard: None }).collect()),
            reconnect: (0..n).map(|_| Notify::new()).collect(),
            silence: heartbeat * 3,
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

    /// Marks silent peers down (and has their senders reconnect).
    pub fn sweep(&self, now: Instant, own: u32) {
        let mut peers = self.peers.lock().unwrap_or_else(PoisonError::into_inner);
        for (node, peer) in peers.iter_mut().enumerate() {
            if node as u32 == own || peer.state != PeerState::Up {
                continue;
            }
            let silent = peer.last_heard.map_or(Duration::ZERO, |t| now.duration_since(t));
            if silent > self.silence {
                peer.state = PeerState::Down;
                warn!(node, "node {node} ({}) is down: nothing heard for {silent:.1?}", self.addresses[node]);
                self.reconnect[node].notify_one();
            }
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
