//! Names in `/dev/shm`, opened the one safe way.

use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::SHM_DIR;

/// The `/dev/shm` path of a POSIX shared memory name.
pub fn shm_path(name: &str) -> String {
    format!("{SHM_DIR}{name}")
}

/// `shm_open` that never follows a symbolic link: `/dev/shm` is writable
/// by every user, and a link planted under a runtime's name would make the
/// runtime write wherever it points. A link fails with `ELOOP`.
pub fn open(name: &str, flags: OFlags, mode: Mode) -> Result<OwnedFd, Errno> {
    rustix::fs::open(shm_path(name).as_str(), flags | OFlags::NOFOLLOW | OFlags::CLOEXEC, mode)
}
