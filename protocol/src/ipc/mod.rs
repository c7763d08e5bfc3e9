//! The task queue in the `main` shared memory segment, shared by the
//! runtime and every client process of this node.
//!
//! Layout, all offsets from the segment start:
//!
//! ```text
//! [Header]                       magic, sizes, state, the free-slot stack head
//! [Lane 0][Lane 1]...            one bounded ring per worker: sched lanes first, then slow lanes
//! [Slot 0][Slot 1]...            fixed-size task slots: a header and an inline payload
//! ```
//!
//! A client pops a free slot, writes the task into it, pushes the slot's
//! index into a lane (chosen by estimated CPU time and `lane_map_policy`) and
//! rings the lane's doorbell if its worker sleeps. The worker runs the task,
//! writes the output into the same slot, marks it done and wakes the client
//! if it sleeps. While work flows nobody makes a system call: both sides
//! spin briefly before they sleep on a futex in the shared segment.
//!
//! Every shared structure is `#[repr(C)]` over offsets and atomics; each
//! type's docs say who writes which field in what order.

mod futex;
mod header;
mod lane;
mod layout;
mod slot;
mod status;

pub use futex::{futex_wait, futex_wake};
pub use header::{Header, MAX_CLIENTS, RuntimeState, lane_policy};
pub use lane::{Lane, LaneCorrupt};
#[cfg(any(test, feature = "test-queue"))]
pub use layout::test_queue;
pub use layout::{ADMIN_LANE_ROOM, Layout, LayoutError, Queue};
pub use slot::{SLOT_SIZE, Slot, SlotHeader, spill, state};
pub use status::TaskStatus;
