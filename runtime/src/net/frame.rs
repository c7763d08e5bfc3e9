//! What crosses the network between nodes: one frame per message, encoded
//! with the task codec (postcard). A frame is checked before anything acts
//! on it: its size, magic, version, and that its sender is a node of the
//! hostfile; a frame that fails any check is dropped and logged.

use chimod_sdk::PoolId;
use serde::{Deserialize, Serialize};

/// "CHIN": a Chimaera node frame.
pub const MAGIC: u32 = u32::from_le_bytes(*b"CHIN");
/// Bumped whenever `Frame` changes (2: pool ids as two integers).
pub const VERSION: u16 = 2;
/// The largest frame accepted: larger ones are dropped unread.
pub const MAX_FRAME: usize = 64 << 20;

/// Bytes a frame takes besides its payload, at most (varints of the
/// integers, the payload's length, and a cluster key's tag).
const HEADROOM: usize = 96;

/// A message between nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// [`MAGIC`].
    pub magic: u32,
    /// [`VERSION`].
    pub version: u16,
    /// The sending node's id.
    pub from: u32,
    /// What it says.
    pub body: Body,
}

/// A frame's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// Run a task on the receiving node and reply.
    Request {
        /// The sender's id for the call, echoed in the reply.
        id: u64,
        /// Target pool.
        #[serde(with = "pool_pair")]
        pool: PoolId,
        /// Method.
        method: u32,
        /// Encoded input.
        input: Vec<u8>,
        /// A long task (runs on a slow worker).
        long: bool,
    },
    /// "I am up": what nodes sent every peer before the SWIM failure
    /// detector; still accepted, and ignored.
    Heartbeat,
    /// A message of the SWIM failure detector (`cluster::swim`).
    Swim(crate::cluster::swim::Message),
    /// A task's outcome.
    Reply {
        /// The request's id.
        id: u64,
        /// `TaskStatus` code.
        status: u32,
        /// Output, or the error message.
        output: Vec<u8>,
    },
}

/// A pool id on the wire as its two integers: `PoolId`'s own serde form is
/// the text "major.minor" (what YAML and JSON need), and formatting and
/// parsing that text for every frame showed in the network profile.
mod pool_pair {
    use chimod_sdk::PoolId;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(pool: &PoolId, serializer: S) -> Result<S::Ok, S::Error> {
        (pool.major, pool.minor).serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<PoolId, D::Error> {
        let (major, minor) = <(u32, u32)>::deserialize(deserializer)?;
        Ok(PoolId::new(major, minor))
    }
}

/// Why a frame was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Over [`MAX_FRAME`].
    #[error("frame of {0} bytes is over the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    /// Not postcard of a `Frame`.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// Another protocol or version.
    #[error("frame of another protocol or version (magic {magic:#x}, version {version})")]
    Foreign {
        /// Its magic.
        magic: u32,
        /// Its version.
        version: u16,
    },
    /// The sender is not a node of this cluster.
    #[error("frame from node {from}, which is not in the hostfile ({nodes} nodes)")]
    UnknownSender {
        /// The claimed sender.
        from: u32,
        /// Nodes in the hostfile.
        nodes: usize,
    },
}

impl Frame {
    /// A frame from node `from`.
    pub fn new(from: u32, body: Body) -> Frame {
        Frame { magic: MAGIC, version: VERSION, from, body }
    }

    /// The frame's bytes.
    pub fn encode(&self) -> Vec<u8> {
        // Room for the header and the payload at once: growing the vector
        // on the way showed in the profile.
        let payload = match &self.body {
            Body::Request { input, .. } => input.len(),
            Body::Reply { output, .. } => output.len(),
            Body::Heartbeat | Body::Swim(_) => 0,
        };
        // A frame of plain integers and byte vectors always encodes.
        postcard::to_extend(self, Vec::with_capacity(HEADROOM + payload)).unwrap_or_default()
    }

    /// Checks and decodes bytes from the network (`nodes` in the cluster).
    pub fn decode(bytes: &[u8], nodes: usize) -> Result<Frame, FrameError> {
        if bytes.len() > MAX_FRAME {
            return Err(FrameError::TooLarge(bytes.len()));
        }
        let (frame, rest): (Frame, &[u8]) =
            postcard::take_from_bytes(bytes).map_err(|e| FrameError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(FrameError::Malformed(format!("{} trailing bytes", rest.len())));
        }
        if frame.magic != MAGIC || frame.version != VERSION {
            return Err(FrameError::Foreign { magic: frame.magic, version: frame.version });
        }
        if frame.from as usize >= nodes {
            return Err(FrameError::UnknownSender { from: frame.from, nodes });
        }
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Frame {
        Frame::new(
            1,
            Body::Request { id: 7, pool: PoolId::new(300, 0), method: 12, input: vec![1, 2, 3], long: false },
        )
    }

    #[test]
    fn round_trip() {
        let f = request();
        assert_eq!(Frame::decode(&f.encode(), 3).unwrap(), f);
    }

    #[test]
    fn every_bad_frame_is_an_error_not_a_panic() {
        let good = request().encode();
        assert!(matches!(Frame::decode(&[], 3), Err(FrameError::Malformed(_))));
        for cut in 0..good.len() {
            assert!(Frame::decode(&good[..cut], 3).is_err(), "truncated at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(Frame::decode(&trailing, 3), Err(FrameError::Malformed(_))));
        assert!(matches!(Frame::decode(&good, 1), Err(FrameError::UnknownSender { from: 1, nodes: 1 })));
        let mut foreign = request();
        foreign.version = 99;
        assert!(matches!(Frame::decode(&foreign.encode(), 3), Err(FrameError::Foreign { .. })));
        assert!(matches!(Frame::decode(&vec![0u8; MAX_FRAME + 1], 3), Err(FrameError::TooLarge(_))));
        // A length prefix claiming far more than the frame holds.
        let mut huge = Frame::new(0, Body::Reply { id: 1, status: 0, output: vec![] }).encode();
        huge.truncate(huge.len() - 1);
        huge.extend([0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(Frame::decode(&huge, 3).is_err());
        // Random bytes.
        let mut x = 0x1234_5678_u32;
        for _ in 0..2000 {
            let bytes: Vec<u8> = (0..(x % 64))
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = Frame::decode(&bytes, 3);
        }
    }
}
