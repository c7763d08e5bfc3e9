//! Calls this node made to other nodes and is waiting on: each with the
//! completion its task waits on and the time it gives up.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::ipc::TaskStatus;
use crate::task::{Completion, Outcome};

#[derive(Debug)]
struct Call {
    completion: Arc<Completion>,
    node: u32,
    address: IpAddr,
    sent: Instant,
    deadline: Instant,
}

/// The calls in flight to other nodes.
#[derive(Debug, Default)]
pub struct PendingCalls {
    next: AtomicU64,
    calls: Mutex<HashMap<u64, Call>>,
}

impl PendingCalls {
    /// Registers a call to `node`; it fails if no reply comes within `wait`.
    pub fn register(&self, node: u32, address: IpAddr, completion: Arc<Completion>, wait: Duration) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let call = Call { completion, node, address, sent: now, deadline: now + wait };
        self.calls.lock().unwrap_or_else(PoisonError::into_inner).insert(id, call);
        id
    }

    /// Drops a call that was never sent.
    pub fn forget(&self, id: u64) {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
    }

    /// Delivers a reply; `false` if no call has that id (late or forged).
    pub fn complete(&self, id: u64, from: u32, outcome: Outcome) -> bool {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        match calls.get(&id) {
            Some(call) if call.node == from => {
                let call = calls.remove(&id).expect("present");
                drop(calls);
                call.completion.complete(outcome);
                true
            }
            _ => false,
        }
    }

    /// Fails every call past its deadline with an error naming the node;
    /// returns the nodes that did not answer.
    pub fn expire(&self, now: Instant) -> Vec<u32> {
        let expired: Vec<Call> = {
            let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
            let ids: Vec<u64> = calls.iter().filter(|(_, c)| c.deadline <= now).map(|(id, _)| *id).collect();
            ids.into_iter().filter_map(|id| calls.remove(&id)).collect()
        };
        for call in &expired {
            call.completion.complete(Outcome::failed(
                TaskStatus::Error,
                format!(
                    "node {} ({}) did not answer within {:.1?} (networking.wait_for_restart)",
                    call.node,
                    call.address,
                    now.duration_since(call.sent)
                ),
            ));
        }
        expired.iter().map(|c| c.node).collect()
    }

    /// Fails every call (the runtime is stopping).
    pub fn fail_all(&self) {
        let calls: Vec<Call> =
            self.calls.lock().unwrap_or_else(PoisonError::into_inner).drain().map(|(_, c)| c).collect();
        for call in calls {
            call.completion.complete(Outcome::failed(TaskStatus::Stopping, "runtime stopping"));
        }
    }
}
