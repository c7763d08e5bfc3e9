//! Running one task from its slot.

use std::sync::atomic::Ordering;

use chimod_sdk::PoolId;
use tracing::warn;

use crate::ipc::{Queue, Slot, TaskStatus};
use crate::module::CreateError;
use crate::node::{Node, WorkerCounters};

/// Runs the task in slot `index` and completes it. Nothing a client wrote
/// into the slot can make this panic or touch memory outside the slot.
/// The task is counted before its slot is handed back, so a client that
/// has its result never sees statistics without it.
pub(super) fn execute(node: &Node, queue: &Queue, index: u32, counters: &WorkerCounters) {
    let Some(slot) = queue.try_slot(index) else {
        warn!(index, "a lane held slot index {index}, beyond the queue's slots; ignored");
        return;
    };
    let (status, output) = run(node, &slot);
    counters.tasks_done.fetch_add(1, Ordering::Relaxed);
    if !slot.complete(status, &output) {
        queue.release(index);
    }
}

fn run(node: &Node, slot: &Slot<'_>) -> (TaskStatus, Vec<u8>) {
    let h = slot.header;
    let pool_id = PoolId::new(h.pool_major.load(Ordering::Relaxed), h.pool_minor.load(Ordering::Relaxed));
    let method = h.method.load(Ordering::Relaxed);
    let input_len = h.input_len.load(Ordering::Relaxed);
    if input_len as usize > Slot::PAYLOAD {
        let message =
            format!("task input of {input_len} bytes exceeds the slot payload of {} bytes", Slot::PAYLOAD);
        return (TaskStatus::BadTask, message.into_bytes());
    }
    let Some(pool) = node.pools.get(pool_id) else {
        return (TaskStatus::NoPool, format!("no pool {pool_id} on this node").into_bytes());
    };
    match pool.container().call(method, slot.payload(input_len)) {
        Ok(output) => (TaskStatus::Ok, output),
        Err(CreateError::Panicked(message)) => (TaskStatus::Panicked, message.into_bytes()),
        Err(e) => (TaskStatus::Error, e.to_string().into_bytes()),
    }
}
