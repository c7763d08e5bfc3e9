//! What SWIM nodes send each other.

use serde::{Deserialize, Serialize};

/// What a node believes of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Liveness {
    /// Answering.
    Alive,
    /// Did not answer a probe; may still refute.
    Suspect,
    /// Did not refute in time.
    Dead,
    /// Said it was leaving: no longer probed nor asked, until it comes
    /// back with a higher incarnation.
    Left,
}

/// A change of one member's liveness, at an incarnation of it. A newer
/// incarnation wins; at the same one, Left beats Dead beats Suspect beats
/// Alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// The member.
    pub node: u32,
    /// Its incarnation (only the member itself raises it, to refute).
    pub incarnation: u64,
    /// What it is.
    pub liveness: Liveness,
}

impl Update {
    /// Whether this update replaces what is known (`incarnation`, `liveness`).
    pub fn overrides(&self, incarnation: u64, liveness: Liveness) -> bool {
        let rank = |l: Liveness| match l {
            Liveness::Alive => 0,
            Liveness::Suspect => 1,
            Liveness::Dead => 2,
            Liveness::Left => 3,
        };
        match self.incarnation.cmp(&incarnation) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => rank(self.liveness) > rank(liveness),
            std::cmp::Ordering::Less => false,
        }
    }
}

/// One protocol message; every kind carries updates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Are you there?
    Ping {
        /// Matches the ack.
        seq: u64,
        /// News.
        updates: Vec<Update>,
    },
    /// Probe `target` for me and tell me.
    PingReq {
        /// The requester's probe.
        seq: u64,
        /// Whom to probe.
        target: u32,
        /// News.
        updates: Vec<Update>,
    },
    /// I am (or, relayed, `of` is) there.
    Ack {
        /// The probe answered.
        seq: u64,
        /// The member that answered (the sender, or the one probed on the
        /// receiver's behalf).
        of: u32,
        /// News.
        updates: Vec<Update>,
    },
    /// News only, to a few members a period while there is any.
    Gossip {
        /// News.
        updates: Vec<Update>,
    },
}

impl Message {
    /// The updates it carries.
    pub fn updates(&self) -> &[Update] {
        match self {
            Message::Ping { updates, .. }
            | Message::PingReq { updates, .. }
            | Message::Ack { updates, .. }
            | Message::Gossip { updates } => updates,
        }
    }
}
