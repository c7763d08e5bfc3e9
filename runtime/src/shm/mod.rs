//! POSIX shared memory: the three segments a runtime shares with its clients.
//!
//! A runtime creates `main`, `client_data` and `runtime_data` under names
//! derived from its [`ShmIdentity`] (user id and port), so runtimes of other
//! users or on other ports never collide. It reserves every byte up front
//! (`fallocate`), so a `/dev/shm` that is too small (Docker's `shm_size`)
//! fails at start with a message instead of a SIGBUS under load.
//!
//! The runtime holds an exclusive `flock` on the `main` segment for its whole
//! life. The kernel drops that lock when the process dies however it dies,
//! which makes the lock the liveness signal: segments found unlocked at start
//! were left by a runtime that crashed, and are reclaimed.

mod error;
mod identity;
mod segment;
mod segment_set;

pub use error::ShmError;
pub use identity::{RUNTIME_UID_VAR, ShmIdentity};
pub use segment::Segment;
pub use segment_set::{SEGMENTS, SegmentSet, runtime_alive};

/// Where Linux keeps POSIX shared memory objects.
pub const SHM_DIR: &str = "/dev/shm";
