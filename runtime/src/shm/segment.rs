//! One POSIX shared memory segment, mapped into this process.

use std::fs::File;
use std::os::fd::AsFd;

use chimod_sdk::Size;
use memmap2::{MmapOptions, MmapRaw};
use rustix::fs::{FallocateFlags, Mode};
use rustix::shm::OFlags;

use super::{SHM_DIR, ShmError};

/// A mapped segment. Creating one reserves its memory; dropping it unmaps
/// it, and unlinks the name too when this process created it.
#[derive(Debug)]
pub struct Segment {
    name: String,
    // Kept open for the life of the mapping; for `main` it carries the runtime's lock.
    _file: File,
    map: MmapRaw,
    owner: bool,
}

impl Segment {
    /// Creates `name` (which must not exist) with `size` bytes, all reserved
    /// now, readable and writable by this user only.
    pub fn create(name: &str, size: Size) -> Result<Segment, ShmError> {
        let fd =
            rustix::shm::open(name, OFlags::CREATE | OFlags::EXCL | OFlags::RDWR, Mode::RUSR | Mode::WUSR)
                .map_err(ShmError::io(name, "create"))?;
        let file = File::from(fd);
        // Owned from here on: any failure below unlinks the name again.
        Segment::map(name, file, size, true)
    }

    /// Opens the segment to the members of group `gid` (mode 0660).
    pub fn share_with_group(&self, gid: u32) -> Result<(), ShmError> {
        let gid = rustix::process::Gid::from_raw(gid);
        rustix::fs::fchown(&self._file, None, Some(gid))
            .map_err(ShmError::io(&self.name, "give to the group"))?;
        rustix::fs::fchmod(&self._file, Mode::from_raw_mode(0o660))
            .map_err(ShmError::io(&self.name, "open to the group"))
    }

    /// Takes over an already open segment file (the locked `main` segment).
    pub(super) fn adopt(name: &str, file: File, size: Size) -> Result<Segment, ShmError> {
        rustix::fs::ftruncate(&file, 0).map_err(ShmError::io(name, "clear"))?;
        Segment::map(name, file, size, true)
    }

    /// Opens an existing segment of the size it has, as a client does.
    pub fn open(name: &str) -> Result<Segment, ShmError> {
        let fd = rustix::shm::open(name, OFlags::RDWR, Mode::empty()).map_err(ShmError::io(name, "open"))?;
        let file = File::from(fd);
        let len = rustix::fs::fstat(&file).map_err(ShmError::io(name, "stat"))?.st_size;
        Segment::map(name, file, Size::from_bytes(u64::try_from(len).unwrap_or(0)), false)
    }

    /// Sizes (and, for the owner, reserves) the file, then maps it.
    fn map(name: &str, file: File, size: Size, owner: bool) -> Result<Segment, ShmError> {
        let unlink_on_error = |e| {
            if owner {
                let _ = rustix::shm::unlink(name);
            }
            e
        };
        rustix::fs::ftruncate(&file, size.bytes())
            .map_err(|e| unlink_on_error(allocate_error(name, size, e)))?;
        if owner {
            reserve(name, &file, size).map_err(unlink_on_error)?;
        }
        let len = usize::try_from(size.bytes()).map_err(|_| {
            unlink_on_error(ShmError::Allocate {
                name: name.to_owned(),
                size,
                reason: "larger than this machine's address space".to_owned(),
                free: shm_free(),
            })
        })?;
        let map = MmapOptions::new().len(len).map_raw(&file).map_err(|source| {
            unlink_on_error(ShmError::Io { name: name.to_owned(), action: "map", source })
        })?;
        Ok(Segment { name: name.to_owned(), _file: file, map, owner })
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
