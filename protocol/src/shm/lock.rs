//! Open-file-description locks: the runtime holds them, clients only test.
//!
//! `flock` has no way to ask "is this locked?" without taking a lock, and a
//! client's brief shared lock taken as a probe made a starting runtime's
//! exclusive `flock` fail as if another runtime held the identity. OFD locks
//! (`F_OFD_SETLK` / `F_OFD_GETLK`) can be tested without being taken, belong
//! to the open file (not the process, so closing another descriptor of the
//! same file does not drop them), and the kernel drops them when the last
//! descriptor closes, however the process dies.

use std::os::fd::{AsFd, AsRawFd};

use rustix::io::Errno;

fn whole_file(kind: libc::c_int) -> libc::flock {
    // SAFETY: `flock` is plain data; all-zero is a valid value.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    // l_start = 0, l_len = 0: the whole file, however large it grows.
    lock
}

/// Takes an exclusive lock on the whole file without waiting. `Ok(false)`
/// when another open file holds a lock on it.
pub fn try_lock_exclusive(fd: impl AsFd) -> Result<bool, Errno> {
    let mut lock = whole_file(libc::F_WRLCK);
    // SAFETY: a valid descriptor and a valid `flock` for the call's duration.
    let rc = unsafe { libc::fcntl(fd.as_fd().as_raw_fd(), libc::F_OFD_SETLK, &mut lock) };
    if rc == 0 {
        return Ok(true);
    }
    match Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)) {
        Errno::AGAIN | Errno::ACCESS => Ok(false),
        e => Err(e),
    }
}

/// Whether some open file holds an exclusive lock on this file. Takes no
/// lock, so probing never gets in the way of the runtime's own locking.
pub fn is_locked(fd: impl AsFd) -> Result<bool, Errno> {
    let mut lock = whole_file(libc::F_RDLCK);
    // SAFETY: a valid descriptor and a valid `flock` for the call's duration.
    let rc = unsafe { libc::fcntl(fd.as_fd().as_raw_fd(), libc::F_OFD_GETLK, &mut lock) };
    if rc != 0 {
        return Err(Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)));
    }
    Ok(lock.l_type != libc::F_UNLCK as libc::c_short)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_seen_by_another_open_file_and_dropped_with_it() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let holder = std::fs::OpenOptions::new().read(true).write(true).open(file.path()).unwrap();
        let prober = std::fs::OpenOptions::new().read(true).write(true).open(file.path()).unwrap();
        assert!(!is_locked(&prober).unwrap());
        assert!(try_lock_exclusive(&holder).unwrap());
        assert!(is_locked(&prober).unwrap(), "another open file sees the lock");
        assert!(!try_lock_exclusive(&prober).unwrap(), "a second exclusive lock is refused");
        // Probing took nothing: the holder's lock is unchanged and still alone.
        assert!(is_locked(&prober).unwrap());
        drop(holder);
        assert!(!is_locked(&prober).unwrap(), "closing the holder drops the lock");
        assert!(try_lock_exclusive(&prober).unwrap());
    }
}
