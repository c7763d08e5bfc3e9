//! Networking between the nodes of a cluster: frames, the calls waiting on
//! replies, and the ZeroMQ transport.

mod admission;
mod frame;
mod hangup;
mod log_limit;
mod peers;
mod pending;
mod seal;
mod transport;

pub use frame::{Body, Frame, FrameError, MAX_FRAME};
pub use hangup::reload_on_hangup;
pub(crate) use log_limit::LogLimit;
pub use peers::{PeerState, PeerTable};
pub use pending::PendingCalls;
pub use seal::Sealer;
pub use transport::{NetConfig, NetHandle, Network, Reloaded};
