//! POSIX shared memory: the three segments a runtime shares with its clients.
//!
//! A runtime creates `main`, `client_data` and `runtime_data` under names
//! derived from its [`ShmIdentity`] (user id and port), so runtimes of other
//! users or on other ports never collide. It reserves every byte up front
//! (`fallocate`), so a `/dev/shm` that is too small (Docker's `shm_size`)
//! fails at start with a message instead of a SIGBUS under load.
//!
//! The runtime holds two locks for its whole life (`lock.rs`): one on the
//! identity's lock file, which says the identity is taken and serializes
//! every change to its names, and one on its own `main` segment, which
//! tells a client whether the runtime it attached to still lives. The
//! kernel drops both when the process dies however it dies; segments found
//! at start under an unlocked identity were left by a runtime that crashed,
//! and are replaced by new ones (`segment_set.rs`). Anything under those
//! names that such a runtime could not have left is refused (`leftover.rs`).

mod error;
mod identity;
mod leftover;
mod lock;
mod path;
mod segment;
mod segment_set;

pub use error::ShmError;
pub use identity::{NODE_ADDRESS_VAR, RUNTIME_UID_VAR, ShmIdentity};
pub use segment::Segment;
pub use segment_set::{LOCK, SEGMENTS, SegmentSet, all_names, incarnation_alive, runtime_alive};

/// Where Linux keeps POSIX shared memory objects.
pub const SHM_DIR: &str = "/dev/shm";
