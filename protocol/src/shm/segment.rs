//! One POSIX shared memory segment, mapped into this process.

use std::fs::File;
use std::os::fd::AsFd;

use chimod_sdk::Size;
use memmap2::{MmapOptions, MmapRaw};
use rustix::fs::OFlags;
use rustix::fs::{FallocateFlags, Mode};

use super::leftover::check_stat;
use super::path::{self, shm_path};
use super::{SHM_DIR, ShmError};

/// A mapped segment. Creating one reserves its memory; dropping it unmaps
/// it, and unlinks the name too when this process created it.
///
/// Only the runtime ever sizes a segment: it creates each one under a name
/// nobody else holds, sizes and reserves it before a client can know it,
/// and a client maps what it finds, never resizing it.
#[derive(Debug)]
pub struct Segment {
    name: String,
    // Kept open for the life of the mapping; for `main` it carries the
    // runtime's lock that tells clients this incarnation is alive.
    file: File,
    map: MmapRaw,
    owner: bool,
}

impl Segment {
    /// Creates `name`, which must not exist, with `size` bytes all reserved
    /// now, readable and writable by this user only.
    pub fn create(name: &str, size: Size) -> Result<Segment, ShmError> {
        let fd = path::open(name, OFlags::CREATE | OFlags::EXCL | OFlags::RDWR, Mode::RUSR | Mode::WUSR)
            .map_err(ShmError::io(name, "create"))?;
        let file = File::from(fd);
        // Owned from here on: any failure below unlinks the name again.
        let unlink_on_error = |e| {
            let _ = rustix::shm::unlink(name);
            e
        };
        rustix::fs::ftruncate(&file, size.bytes())
            .map_err(|e| unlink_on_error(allocate_error(name, size, e)))?;
        reserve(name, &file, size).map_err(unlink_on_error)?;
        let map = map(name, &file, size).map_err(unlink_on_error)?;
        Ok(Segment { name: name.to_owned(), file, map, owner: true })
    }

    /// Gives this segment the name `name` (which must not exist) in place
    /// of the one it was created under: the new name appears at once with
    /// the segment complete, sized and locked.
    pub fn publish_as(&mut self, name: &str) -> Result<(), ShmError> {
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            shm_path(&self.name).as_str(),
            rustix::fs::CWD,
            shm_path(name).as_str(),
            rustix::fs::RenameFlags::NOREPLACE,
        )
        .map_err(ShmError::io(name, "publish"))?;
        self.name = name.to_owned();
        Ok(())
    }

    /// Opens the segment to the members of group `gid` (mode 0660).
    pub fn share_with_group(&self, gid: u32) -> Result<(), ShmError> {
        let gid = rustix::process::Gid::from_raw(gid);
        rustix::fs::fchown(&self.file, None, Some(gid))
            .map_err(ShmError::io(&self.name, "give to the group"))?;
        rustix::fs::fchmod(&self.file, Mode::from_raw_mode(0o660))
            .map_err(ShmError::io(&self.name, "open to the group"))
    }

    /// Opens an existing segment of user `uid`'s runtime at the size it
    /// has, as a client does. A file under the name that is not a regular
    /// file of that user (something another user planted) is refused.
    pub fn open(name: &str, uid: u32) -> Result<Segment, ShmError> {
        let fd = path::open(name, OFlags::RDWR, Mode::empty()).map_err(|e| {
            // O_NOFOLLOW on a link fails with ELOOP: say what is there.
            if e == rustix::io::Errno::LOOP
                && let Err(refused) = super::leftover::check_leftover(name, uid)
            {
                return refused;
            }
            ShmError::io(name, "open")(e)
        })?;
        let file = File::from(fd);
        let stat = rustix::fs::fstat(&file).map_err(ShmError::io(name, "stat"))?;
        check_stat(&shm_path(name), &stat, uid, false)?;
        let size = Size::from_bytes(u64::try_from(stat.st_size).unwrap_or(0));
        let map = map(name, &file, size)?;
        Ok(Segment { name: name.to_owned(), file, map, owner: false })
    }

    /// The open file (for its lock).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The segment's POSIX name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The mapped length in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the segment has no bytes.
    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    /// The start of the mapping.
    pub fn as_ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.owner {
            let _ = rustix::shm::unlink(self.name.as_str());
        }
    }
}

/// Maps `size` bytes of `file` (memmap2 maps an empty file as an empty view).
fn map(name: &str, file: &File, size: Size) -> Result<MmapRaw, ShmError> {
    let len = usize::try_from(size.bytes()).map_err(|_| ShmError::Allocate {
        name: name.to_owned(),
        size,
        reason: "larger than this machine's address space".to_owned(),
        free: shm_free(),
    })?;
    MmapOptions::new().len(len).map_raw(file).map_err(|source| ShmError::Io {
        name: name.to_owned(),
        action: "map",
        source,
    })
}

/// Backs every page now: tmpfs otherwise hands out pages lazily and a full
/// `/dev/shm` surfaces as SIGBUS on first touch, long after start. The free
/// space check comes first because tmpfs fills itself up to the brim before
/// it refuses an oversized `fallocate`.
fn reserve(name: &str, file: &File, size: Size) -> Result<(), ShmError> {
    let free = shm_free();
    if size > free {
        return Err(ShmError::Allocate {
            name: name.to_owned(),
            size,
            reason: "not enough free space".to_owned(),
            free,
        });
    }
    rustix::fs::fallocate(file.as_fd(), FallocateFlags::empty(), 0, size.bytes())
        .map_err(|e| allocate_error(name, size, e))
}

fn allocate_error(name: &str, size: Size, errno: rustix::io::Errno) -> ShmError {
    ShmError::Allocate {
        name: name.to_owned(),
        size,
        reason: std::io::Error::from(errno).to_string(),
        free: shm_free(),
    }
}

/// Free bytes in `/dev/shm` as this user may use them.
pub(super) fn shm_free() -> Size {
    rustix::fs::statvfs(SHM_DIR)
        .map(|s| Size::from_bytes(s.f_bavail.saturating_mul(s.f_frsize)))
        .unwrap_or_default()
}
