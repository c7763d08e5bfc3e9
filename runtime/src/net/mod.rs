//! Networking between the nodes of a cluster: frames, the calls waiting on
//! replies, and the ZeroMQ transport.

mod frame;
mod pending;
mod transport;

pub use frame::{Body, Frame, FrameError, MAX_FRAME};
pub use pending::PendingCalls;
pub use transport::{NetConfig, NetHandle, Network};
