//! Bulk buffers: data too large for a task's inline payload lives in one of
//! the runtime's two data segments and crosses in a task as a [`Bulk`]
//! (segment, offset, length), never copied on the way.
//!
//! - A client allocates in `client_data`, writes its data, and sends the
//!   `Bulk` in a task's input (a write, say).
//! - A module allocates in `runtime_data` for data it returns (a read, say)
//!   and sends the `Bulk` back in the task's output; the client reads it
//!   and frees it. Blocks a dead client left behind are reclaimed.
//!
//! In a module, [`crate::host::bulk_map`] turns a `Bulk` into memory.

use serde::{Deserialize, Serialize};

/// Which data segment a [`Bulk`] lives in.
///
/// ```
/// use chimod_sdk::bulk::BulkSegment;
/// assert_eq!(BulkSegment::from_code(BulkSegment::RuntimeData.code()), Some(BulkSegment::RuntimeData));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BulkSegment {
    /// `client_data`: clients allocate here.
    ClientData,
    /// `runtime_data`: the runtime (and its modules) allocate here.
    RuntimeData,
}

impl BulkSegment {
    /// The number the ABI uses.
    pub const fn code(self) -> u32 {
        match self {
            BulkSegment::ClientData => 1,
            BulkSegment::RuntimeData => 2,
        }
    }

    /// The segment for an ABI number.
    pub const fn from_code(code: u32) -> Option<BulkSegment> {
        match code {
            1 => Some(BulkSegment::ClientData),
            2 => Some(BulkSegment::RuntimeData),
            _ => None,
        }
    }

    /// Its name, as in the configuration (`memory.<name>_segment_size`).
    pub const fn name(self) -> &'static str {
        match self {
            BulkSegment::ClientData => "client_data",
            BulkSegment::RuntimeData => "runtime_data",
        }
    }
}

/// A buffer in a data segment: where it is and how long.
///
/// ```
/// use chimod_sdk::bulk::{Bulk, BulkSegment};
/// let b = Bulk { segment: BulkSegment::ClientData, offset: 8192, len: 4096 };
/// let tail = b.range(1024, 1024).unwrap();
/// assert_eq!((tail.offset, tail.len), (9216, 1024));
/// assert!(b.range(4000, 200).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Bulk {
    /// The segment.
    pub segment: BulkSegment,
    /// Byte offset from the segment's start.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
}

impl Bulk {
    /// The part `[start, start + len)` of this buffer, if it lies inside.
    pub fn range(&self, start: u64, len: u64) -> Option<Bulk> {
        let end = start.checked_add(len)?;
        (end <= self.len).then(|| Bulk { segment: self.segment, offset: self.offset + start, len })
    }
}
