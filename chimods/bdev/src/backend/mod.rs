//! Where a device's bytes live: a file or memory. Both move data straight
//! between the device and a task's shared-memory buffer, with no copy in
//! between.

mod file;
mod ram;
mod uring;

pub use file::FileBackend;
pub use ram::RamBackend;

/// A device's storage.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Writes `len` bytes from `src` at device offset `offset`.
    ///
    /// # Safety
    /// `src` must be readable for `len` bytes during the call.
    unsafe fn write(&self, src: *const u8, len: usize, offset: u64) -> std::io::Result<()>;

    /// Reads `len` bytes at device offset `offset` into `dst`.
    ///
    /// # Safety
    /// `dst` must be writable for `len` bytes during the call.
    unsafe fn read(&self, dst: *mut u8, len: usize, offset: u64) -> std::io::Result<()>;

    /// Makes what was written durable.
    fn flush(&self) -> std::io::Result<()>;

    /// Whether I/O bypasses the page cache.
    fn direct_io(&self) -> bool;

    /// Whether I/O is asynchronous (io_uring), leaving the worker free.
    fn async_io(&self) -> bool {
        false
    }

    /// The descriptor of the memory holding the data, when the data is in
    /// memory (a RAM device): what a live upgrade hands over.
    fn memory_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }
}
