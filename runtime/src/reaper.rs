//! Reclaims what dead client processes held: slots they had taken but not
//! submitted (`CLAIMED`), slots whose output they never collected (`DONE`),
//! and their bulk buffers in both data segments. Slots they submitted are
//! finished by the workers first and reclaimed on a later pass.
//!
//! `process_reaper_threads` threads share the slots (thread `i` scans every
//! `n`-th slot) once per [`REAP_PERIOD`]. A pid reused by a new process keeps
//! its predecessor's slots until that process exits too.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use crate::bulk::BulkHeaps;
use crate::ipc::{Queue, state};
use crate::node::Node;

/// How often each slot is checked.
pub const REAP_PERIOD: Duration = Duration::from_millis(500);

/// The running reaper threads.
#[derive(Debug)]
pub struct Reapers {
    threads: Vec<JoinHandle<()>>,
}

impl Reapers {
    /// Starts `count` reaper threads.
    pub fn start(node: &Arc<Node>, queue: Queue, count: u32) -> std::io::Result<Reapers> {
        let threads = (0..count)
            .map(|i| {
                let node = node.clone();
                std::thread::Builder::new().name(format!("chi-reaper-{i}")).spawn(move || {
                    while !node.stopping.load(Ordering::SeqCst) {
                        let freed = reap(&queue, i, count);
                        if freed > 0 {
                            info!(slots = freed, "reclaimed task slots of client processes that died");
                        }
                        if i == 0
                            && let Some(heaps) = node.bulk.get()
                        {
                            reap_bulk(heaps);
                        }
                        sleep_unless_stopping(&node, REAP_PERIOD);
                    }
                    debug!(reaper = i, "reaper stopped");
                })
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Reapers { threads })
    }

    /// Wakes the threads, which exit once the node is stopping, and waits
    /// for them.
    pub fn join(self) {
        for t in &self.threads {
            t.thread().unpark();
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Sleeps `period`, or less once the node is stopping (`Reapers::join`
/// unparks the thread). An idle runtime's reaper wakes twice a second, not
/// at every step of a polling sleep.
fn sleep_unless_stopping(node: &Node, period: Duration) {
    let until = Instant::now() + period;
    while !node.stopping.load(Ordering::SeqCst) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::park_timeout(left);
    }
}

/// One pass over this reaper's share of the slots; returns how many it freed.
pub fn reap(queue: &Queue, index: u32, of: u32) -> u32 {
    let me = crate::node::own_pid();
    let mut alive: HashMap<u32, bool> = HashMap::new();
    let mut freed = 0;
    if index == 0 {
        // Entries of clients that died without giving theirs back.
        for entry in 0..crate::ipc::MAX_CLIENTS {
            let pid = queue.header().clients[entry].load(Ordering::Relaxed);
            if pid != 0 && pid != me && !*alive.entry(pid).or_insert_with(|| process_alive(pid)) {
                queue.unregister_client(entry, pid);
            }
        }
    }
    for i in (index..queue.slots_touched()).step_by(of.max(1) as usize) {
        let h = queue.slot(i).header;
        let seen = h.state.load(Ordering::Acquire);
        if seen != state::CLAIMED && seen != state::DONE {
            continue;
        }
        let pid = h.owner_pid.load(Ordering::Relaxed);
        if pid == 0 || pid == me || *alive.entry(pid).or_insert_with(|| process_alive(pid)) {
            continue;
        }
        // Claim it first: the CAS fails if the slot moved on meanwhile.
        if h.state.compare_exchange(seen, state::FREE, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
            queue.release(i);
            freed += 1;
        }
    }
    freed
}

/// Frees the bulk buffers of dead processes in both data segments.
pub fn reap_bulk(heaps: &BulkHeaps) {
    let me = crate::node::own_pid();
    for heap in [&heaps.client, &heaps.runtime] {
        for pid in heap.owners() {
            if pid == me || process_alive(pid) {
                continue;
            }
            match heap.reap(pid) {
                Ok((0, _)) => {}
                Ok((blocks, bytes)) => info!(
                    segment = heap.segment().name(),
                    pid, blocks, bytes, "reclaimed bulk buffers of a client process that died"
                ),
                Err(e) => warn!(segment = heap.segment().name(), pid, "cannot reclaim bulk buffers: {e}"),
            }
        }
    }
}

fn process_alive(pid: u32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else { return false };
    !matches!(rustix::process::test_kill_process(pid), Err(rustix::io::Errno::SRCH))
}
