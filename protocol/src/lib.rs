//! The shared-memory protocol between a Chimaera runtime and its clients.
//!
//! Both sides map the same three POSIX segments and read them through this
//! crate, so there is one definition of every byte they share:
//!
//! - [`shm`]: the segments, the identity that names them, and the checks
//!   made before one is trusted.
//! - [`ipc`]: the task queue in the main segment: its header, lanes and
//!   slots, and the futex words that wake either side.
//! - [`bulk`]: the bulk heaps that carry task data without copying.
//! - [`remote`]: the TCP protocol of clients on other hosts.
//! - [`spin`]: how either side waits on the other without taking a core
//!   the other needs.

pub mod bulk;
pub mod ipc;
pub mod remote;
pub mod shm;
pub mod spin;
