//! The periodic tasks one worker runs, each with its next due time.

use std::sync::Arc;
use std::time::Instant;

use crate::task::PeriodicEntry;

/// A worker's periodic tasks. Few per worker, so a vector scan does.
#[derive(Debug, Default)]
pub(super) struct Timers {
    entries: Vec<(Instant, Arc<PeriodicEntry>)>,
}

impl Timers {
    pub(super) fn add(&mut self, entry: Arc<PeriodicEntry>, now: Instant) {
        self.entries.push((now + entry.period, entry));
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The earliest due time.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.entries.iter().map(|(due, _)| *due).min()
    }

    /// Calls `run` for every task that is due and not still running from
    /// its previous tick, and drops cancelled tasks. The next due time keeps
    /// to the period's grid unless the worker fell a whole period behind.
    pub(super) fn run_due(&mut self, now: Instant, mut run: impl FnMut(Arc<PeriodicEntry>)) {
        self.entries.retain(|(_, entry)| !entry.is_cancelled());
        for (due, entry) in &mut self.entries {
            if *due > now {
                continue;
            }
            if entry.try_begin() {
                run(entry.clone());
            }
            *due += entry.period;
            if *due <= now {
                *due = now + entry.period;
            }
        }
    }
}
