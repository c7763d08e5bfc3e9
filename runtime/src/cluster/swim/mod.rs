//! Failure detection whose cost per node does not grow with the cluster:
//! SWIM (Das, Gupta and Motivala, "SWIM: Scalable Weakly-consistent
//! Infection-style Process Group Membership Protocol", DSN 2002), with the
//! suspicion mechanism of its section 4.2 and dissemination by
//! piggybacking plus a small gossip fan-out (as HashiCorp's memberlist
//! does), written as a state machine without I/O: the runtime's network
//! and the simulator (`chimaera_bench --mode swim`) both drive the same
//! code.
//!
//! Each protocol period a node probes one member (round robin over a
//! shuffled list, so every member is probed by every node within one round);
//! with no ack before the ack timeout it asks `indirect` others to probe it;
//! with no ack by the end of the period the member is suspect. A suspect
//! that is told refutes with a higher incarnation; one that has not
//! refuted after the suspicion timeout is dead. Every change rides on the
//! protocol's own messages (each carried a bounded number of times) and on
//! gossip to `fanout` members per period while there is news; with nothing
//! new a node sends one ping and answers the pings it gets, whatever the
//! cluster's size. See `docs/membership.md` for the parameters and bounds.

mod config;
mod detector;
mod message;
mod sim;

pub use config::SwimConfig;
pub use detector::{Change, Swim};
pub use message::{Liveness, Message, Update};
pub use sim::Simulation;
