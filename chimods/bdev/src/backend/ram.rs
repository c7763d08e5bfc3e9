//! A device in the runtime's memory.
//!
//! The memory is a memfd mapped shared, not an anonymous mapping: a live
//! upgrade hands the file descriptor to the module's next version, which
//! maps the same pages, so the data survives the upgrade without a copy.

use std::fs::File;
use std::os::fd::{AsFd as _, AsRawFd as _, BorrowedFd, RawFd};

use chimod_sdk::{ModError, Size};
use memmap2::MmapMut;

use super::Backend;

/// `capacity` bytes of memory, touched only as it is written.
#[derive(Debug)]
pub struct RamBackend {
    map: MmapMut,
    memory: File,
}

impl RamBackend {
    /// Reserves the memory; refuses a capacity the machine cannot give.
    pub fn new(capacity: u64) -> Result<RamBackend, ModError> {
        if let Some(available) = memory_available()
            && capacity > available
        {
            return Err(ModError::new(format!(
                "capacity: {} is more than this machine can give: {} of memory available (MemAvailable in /proc/meminfo)",
                Size::from_bytes(capacity),
                Size::from_bytes(available)
            )));
        }
        let reserve = |e: std::io::Error| {
            ModError::new(format!("capacity: cannot reserve {} of memory: {e}", Size::from_bytes(capacity)))
        };
        let fd = rustix::fs::memfd_create("chimaera_bdev", rustix::fs::MemfdFlags::CLOEXEC)
            .map_err(|e| reserve(e.into()))?;
        rustix::fs::ftruncate(&fd, capacity).map_err(|e| reserve(e.into()))?;
        Self::map(File::from(fd), capacity).map_err(reserve)
    }

    /// The same memory as the device whose descriptor is `fd` (a live
    /// upgrade's hand-over, in this process): its own descriptor to it,
    /// mapped again.
    pub fn adopt(fd: RawFd, capacity: u64) -> Result<RamBackend, ModError> {
        // SAFETY: the previous version keeps `fd` open until the upgrade is
        // over, and only duplicates of it are taken here.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let own = rustix::io::fcntl_dupfd_cloexec(borrowed, 0)
            .map_err(|e| ModError::new(format!("cannot take over the device's memory: {e}")))?;
        let memory = File::from(own);
        let len = memory.metadata().map_err(|e| ModError::new(format!("device memory: {e}")))?.len();
        if len != capacity {
            return Err(ModError::new(format!(
                "the handed-over memory is {len} bytes, not the capacity {capacity}"
            )));
        }
        Self::map(memory, capacity).map_err(|e| ModError::new(format!("cannot map the device's memory: {e}")))
    }

    /// The descriptor of the device's memory, for a hand-over.
    pub fn memory_fd(&self) -> RawFd {
        self.memory.as_fd().as_raw_fd()
    }

    fn map(memory: File, capacity: u64) -> std::io::Result<RamBackend> {
        let len =
            usize::try_from(capacity).map_err(|_| std::io::Error::other("too large for this machine"))?;
        // SAFETY: the memfd is this device's own, never truncated while
        // mapped; other mappings of it (a live upgrade's) see the same bytes.
        let map = unsafe { memmap2::MmapOptions::new().len(len).map_mut(&memory) }?;
        Ok(RamBackend { map, memory })
    }

    fn at(&self, offset: u64, len: usize) -> std::io::Result<*mut u8> {
        let end = offset.checked_add(len as u64).filter(|end| *end <= self.map.len() as u64);
        match end {
            // The map is never resized; offsets are checked against it.
            Some(_) => Ok(self.map.as_ptr().cast_mut().wrapping_add(offset as usize)),
            None => Err(std::io::Error::other("range outside the device")),
        }
    }
}

/// `MemAvailable` from /proc/meminfo, in bytes.
fn memory_available() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

impl Backend for RamBackend {
    unsafe fn write(&self, src: *const u8, len: usize, offset: u64) -> std::io::Result<()> {
        let dst = self.at(offset, len)?;
        // SAFETY: dst..dst+len is inside the map (checked); src is readable
        // for len bytes (caller's promise); the two never overlap (shared
        // memory and private memory).
        unsafe { std::ptr::copy_nonoverlapping(src, dst, len) };
        Ok(())
    }

    unsafe fn read(&self, dst: *mut u8, len: usize, offset: u64) -> std::io::Result<()> {
        let src = self.at(offset, len)?;
        // SAFETY: as in `write`, the other way round.
        unsafe { std::ptr::copy_nonoverlapping(src, dst, len) };
        Ok(())
    }

    fn flush(&self) -> std::io::Result<()> {
        Ok(())
    }

    fn direct_io(&self) -> bool {
        false
    }

    fn memory_fd(&self) -> Option<RawFd> {
        Some(RamBackend::memory_fd(self))
    }
}
