//! A device in the runtime's memory.

use chimod_sdk::{ModError, Size};
use memmap2::MmapMut;

use super::Backend;

/// Anonymous memory of `capacity` bytes, touched only as it is written.
#[derive(Debug)]
pub struct RamBackend {
    map: MmapMut,
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
        let len =
            usize::try_from(capacity).map_err(|_| ModError::new("capacity: too large for this machine"))?;
        let map = MmapMut::map_anon(len).map_err(|e| {
            ModError::new(format!("capacity: cannot reserve {} of memory: {e}", Size::from_bytes(capacity)))
        })?;
        Ok(RamBackend { map })
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
}
