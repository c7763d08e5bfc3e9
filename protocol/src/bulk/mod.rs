//! Bulk buffers in the `client_data` and `runtime_data` segments: one
//! allocator design (a buddy heap with a robust process-shared lock) for
//! both, so clients, the runtime and its modules exchange large data as
//! (segment, offset, length) instead of copying it through task slots.

mod heap;
mod mutex;

pub use heap::{BulkError, BulkHeap, HeapStats, PAGE};
pub use mutex::{LockError, ShmGuard, ShmMutex};

use chimod_sdk::bulk::BulkSegment;

/// The heaps of both data segments.
#[derive(Debug, Clone, Copy)]
pub struct BulkHeaps {
    /// `client_data`.
    pub client: BulkHeap,
    /// `runtime_data`.
    pub runtime: BulkHeap,
}

impl BulkHeaps {
    /// The heap of `segment`.
    pub fn get(&self, segment: BulkSegment) -> &BulkHeap {
        match segment {
            BulkSegment::ClientData => &self.client,
            BulkSegment::RuntimeData => &self.runtime,
        }
    }
}
