//! Pools: named, numbered groups of containers of one module.
//!
//! On a single node every pool has one container, whatever its
//! `pool_query` (`local`, `dynamic` and `broadcast` all create locally);
//! spreading containers over nodes comes with networking.

mod container;
mod error;
mod gate;
mod manager;
mod record;

pub use container::Container;
pub use error::PoolError;
pub use gate::{Gate, Inside};
pub use manager::{Pool, PoolManager, PoolSpec};
pub use record::{OpenNotes, PoolRecord, RECORD_FILE, RecordError, RecordGuard, Recorded};
