//! What may stand under one of a runtime's names in `/dev/shm`.
//!
//! `/dev/shm` is writable by every local user, so anything found under a
//! runtime's names may have been planted: a symbolic link to a file the
//! runtime's user can write, or a world-writable file that other users keep
//! open. The runtime reclaims a leftover only when it is exactly what a
//! runtime of its user leaves behind, a regular file owned by that user with
//! the mode the runtime creates; anything else is refused by name.

use std::fmt;

use rustix::fs::{FileType, Stat};
use rustix::io::Errno;

use super::ShmError;
use super::path::shm_path;

/// Modes the runtime gives its files: its user only, or its user and
/// `memory.shm_group`.
const RUNTIME_MODES: [u32; 2] = [0o600, 0o660];

/// Whether `name` holds a leftover of `uid`'s runtime (`Ok(true)`), nothing
/// (`Ok(false)`), or something that must not be touched (`Err`).
pub fn check_leftover(name: &str, uid: u32) -> Result<bool, ShmError> {
    let path = shm_path(name);
    match rustix::fs::lstat(path.as_str()) {
        Ok(stat) => check_stat(&path, &stat, uid, true).map(|()| true),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(ShmError::io(name, "inspect")(e)),
    }
}

/// Checks a file the runtime or a client opened (with `O_NOFOLLOW`) is one
/// `uid`'s runtime made. `strict_mode` also asks for the runtime's own mode
/// (a client of another user only needs the owner to match).
pub fn check_stat(path: &str, stat: &Stat, uid: u32, strict_mode: bool) -> Result<(), ShmError> {
    let kind = FileType::from_raw_mode(stat.st_mode);
    let mode = stat.st_mode & 0o7777;
    let owner = stat.st_uid;
    let what = if kind == FileType::Symlink {
        Some(format!("a symbolic link owned by {}", Uid(owner)))
    } else if kind != FileType::RegularFile {
        Some(format!("a {} owned by {}, not a regular file", kind_name(kind), Uid(owner)))
    } else if owner != uid {
        Some(format!("owned by {}, not by this runtime's user {}", Uid(owner), Uid(uid)))
    } else if strict_mode && !RUNTIME_MODES.contains(&mode) {
        Some(format!(
            "mode {mode:04o}, not the {:04o} or {:04o} the runtime creates",
            RUNTIME_MODES[0], RUNTIME_MODES[1]
        ))
    } else {
        None
    };
    match what {
        Some(what) => Err(ShmError::Refused { path: path.to_owned(), what }),
        None => Ok(()),
    }
}

fn kind_name(kind: FileType) -> &'static str {
    match kind {
        FileType::Directory => "directory",
        FileType::Fifo => "FIFO",
        FileType::Socket => "socket",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        _ => "special file",
    }
}

/// A user id, with its name where the passwd database has one.
struct Uid(u32);

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "uid {}", self.0)?;
        if let Some(name) = user_name(self.0) {
            write!(f, " ({name})")?;
        }
        Ok(())
    }
}

fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: `passwd` is plain data; all-zero is a valid value.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; `buf`'s length is passed.
    let rc = unsafe { libc::getpwuid_r(uid, &mut entry, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() || entry.pw_name.is_null() {
        return None;
    }
    // SAFETY: on success `pw_name` points at a NUL-terminated string in `buf`.
    Some(unsafe { std::ffi::CStr::from_ptr(entry.pw_name) }.to_string_lossy().into_owned())
}
