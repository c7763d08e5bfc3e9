//! A device in a file: `pool_name` is its path. Created and sized to the
//! capacity when missing; reopened with its data when it has the right size.
//!
//! I/O goes straight between the task's shared-memory buffer and the file
//! (`pread`/`pwrite`). With `O_DIRECT` where the file system allows it and
//! the request is aligned (bulk buffers are 4096-aligned), the page cache
//! is bypassed; otherwise a second, buffered descriptor serves the request.
//! Operations go through io_uring where it is allowed (see `uring.rs`).

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use chimod_sdk::{ModError, Size};
use rustix::fs::{FallocateFlags, Mode, OFlags};
use rustix::io::Errno;

use super::Backend;
use super::uring::{Uring, UringOp};
use crate::params::{BdevParams, IoEngine};

/// The file and its descriptors.
#[derive(Debug)]
pub struct FileBackend {
    buffered: OwnedFd,
    direct: Option<OwnedFd>,
    alignment: u64,
    uring: Option<Uring>,
}

fn error(path: &Path, what: &str, e: impl std::fmt::Display) -> ModError {
    ModError::new(format!("{}: {what}: {e}", path.display()))
}

impl FileBackend {
    /// Opens (or creates and sizes) the file at `path`.
    pub fn open(path: &Path, capacity: u64, params: &BdevParams) -> Result<FileBackend, ModError> {
        let alignment = params.alignment;
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(ModError::new(format!(
                "{}: cannot create the device file: directory {} does not exist",
                path.display(),
                parent.display()
            )));
        }
        let existed = path.exists();
        let mode = Mode::from_raw_mode(0o644);
        let buffered = rustix::fs::open(path, OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC, mode)
            .map_err(|e| error(path, "cannot open the device file", std::io::Error::from(e)))?;
        let size = rustix::fs::fstat(&buffered).map_err(|e| error(path, "cannot stat", e))?.st_size as u64;
        if existed && size != 0 && size != capacity {
            return Err(ModError::new(format!(
                "{}: the file exists with {size} bytes, not the capacity {capacity} ({}); use another path or the file's size",
                path.display(),
                Size::from_bytes(capacity)
            )));
        }
        if size == 0 {
            let fresh = || {
                if !existed {
                    let _ = std::fs::remove_file(path);
                }
            };
            let stat = rustix::fs::statvfs(parent).map_err(|e| error(path, "cannot query free space", e))?;
            let free = stat.f_bavail * stat.f_frsize;
            if free < capacity {
                fresh();
                return Err(ModError::new(format!(
                    "{}: capacity {} ({capacity} bytes) does not fit: only {} ({free} bytes) free on its file system",
                    path.display(),
                    Size::from_bytes(capacity),
                    Size::from_bytes(free)
                )));
            }
            match rustix::fs::fallocate(&buffered, FallocateFlags::empty(), 0, capacity) {
                Ok(()) => {}
                Err(Errno::OPNOTSUPP) => rustix::fs::ftruncate(&buffered, capacity).map_err(|e| {
                    fresh();
                    error(path, "cannot size the device file", e)
                })?,
                Err(e) => {
                    fresh();
                    return Err(error(
                        path,
                        "cannot reserve the device file's space",
                        std::io::Error::from(e),
                    ));
                }
            }
        }
        let direct = if alignment >= 512 {
            rustix::fs::open(path, OFlags::RDWR | OFlags::DIRECT | OFlags::CLOEXEC, mode).ok()
        } else {
            None
        };
        let uring = match (params.io_engine, Uring::new(params.io_depth)) {
            (IoEngine::Sync, _) => None,
            (_, Ok(ring)) => Some(ring),
            (IoEngine::IoUring, Err(e)) => {
                return Err(ModError::new(format!("io_engine: io_uring is not available here: {e}")));
            }
            (IoEngine::Auto, Err(e)) => {
                chimod_sdk::tracing::warn!(
                    "{}: io_uring unavailable ({e}); I/O runs synchronously on the worker (io_engine: sync)",
                    path.display()
                );
                None
            }
        };
        Ok(FileBackend { buffered, direct, alignment, uring })
    }

    fn op(&self, fd: &OwnedFd, ptr: *mut u8, len: usize, offset: u64, write: bool) -> UringOp {
        // One operation moves at most u32::MAX bytes; `whole` goes on.
        UringOp { fd: fd.as_raw_fd(), ptr, len: len.min(u32::MAX as usize) as u32, offset, write }
    }

    /// The descriptor for a request: direct when everything is aligned.
    fn fd_for(&self, ptr: usize, len: usize, offset: u64) -> &OwnedFd {
        let a = self.alignment;
        match &self.direct {
            Some(direct)
                if (ptr as u64).is_multiple_of(a)
                    && (len as u64).is_multiple_of(a)
                    && offset.is_multiple_of(a) =>
            {
                direct
            }
            _ => &self.buffered,
        }
    }
}

impl Backend for FileBackend {
    unsafe fn write(&self, src: *const u8, len: usize, offset: u64) -> std::io::Result<()> {
        let fd = self.fd_for(src as usize, len, offset);
        whole(len, "the device file accepted no bytes", |done| {
            let at = offset + done as u64;
            match &self.uring {
                // SAFETY: src is readable for len bytes (caller's promise).
                Some(ring) => unsafe {
                    ring.run(self.op(fd, src.add(done).cast_mut(), len - done, at, true))
                },
                None => {
                    // SAFETY: as above.
                    let buf = unsafe { std::slice::from_raw_parts(src.add(done), len - done) };
                    rustix::io::pwrite(fd, buf, at).map_err(Into::into)
                }
            }
        })
    }

    unsafe fn read(&self, dst: *mut u8, len: usize, offset: u64) -> std::io::Result<()> {
        let fd = self.fd_for(dst as usize, len, offset);
        whole(len, "the device file ended early", |done| {
            let at = offset + done as u64;
            match &self.uring {
                // SAFETY: dst is writable for len bytes (caller's promise).
                Some(ring) => unsafe { ring.run(self.op(fd, dst.add(done), len - done, at, false)) },
                None => {
                    // SAFETY: as above.
                    let buf = unsafe { std::slice::from_raw_parts_mut(dst.add(done), len - done) };
                    rustix::io::pread(fd, buf, at).map_err(Into::into)
                }
            }
        })
    }

    fn flush(&self) -> std::io::Result<()> {
        rustix::fs::fdatasync(&self.buffered).map_err(Into::into)
    }

    fn direct_io(&self) -> bool {
        self.direct.is_some()
    }

    fn async_io(&self) -> bool {
        self.uring.is_some()
    }
}

/// Repeats a partial transfer (`step` gets the bytes done so far) until all
/// `len` bytes are moved, retrying on EINTR.
fn whole(
    len: usize,
    stalled: &str,
    mut step: impl FnMut(usize) -> std::io::Result<usize>,
) -> std::io::Result<()> {
    let mut done = 0;
    while done < len {
        match step(done) {
            Ok(0) => return Err(std::io::Error::other(stalled.to_owned())),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
