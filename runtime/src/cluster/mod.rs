//! The cluster this runtime belongs to: the hostfile and this node's place
//! in it. (The network transport between nodes builds on this.)

mod hostfile;
mod membership;
pub mod swim;

pub use hostfile::{Hostfile, HostfileError};
pub use membership::{Membership, MembershipError, NODE_ADDRESS_VAR};
