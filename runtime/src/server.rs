//! The runtime process's life: start every manager in order, serve, stop.
//!
//! Start order: shared memory (so an undersized `/dev/shm` fails before any
//! thread exists), then the managers that later issues add. Stop runs the
//! same steps backwards; dropping a [`Runtime`] on any path removes its
//! shared memory.

use std::time::Instant;

use tracing::{info, warn};

use crate::config::RuntimeConfig;
use crate::shm::{SegmentSet, ShmError, ShmIdentity};
use crate::stop::{StopReason, StopSignal};

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Shared memory could not be set up.
    #[error(transparent)]
    Shm(#[from] ShmError),
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
}

/// A started runtime.
#[derive(Debug)]
pub struct Runtime {
    config: RuntimeConfig,
    segments: SegmentSet,
    stop: StopSignal,
    started: Instant,
}

impl Runtime {
    /// Brings every part up. On error, whatever was created is removed again.
    pub fn start(config: RuntimeConfig) -> Result<Runtime, StartError> {
        let started = Instant::now();
        let identity = ShmIdentity::for_current_user(config.networking.port);
        let segments = SegmentSet::create(&identity, &config.memory)?;
        if segments.reclaimed_stale() {
            warn!(%identity, "reclaimed shared memory left behind by a runtime that did not stop cleanly");
        }
        for seg in segments.segments() {
            info!(segment = seg.name(), bytes = seg.len(), "shared memory segment created and reserved");
        }
        let stop = StopSignal::new();
        stop.on_termination_signals().map_err(StartError::Signals)?;
        Ok(Runtime { config, segments, stop, started })
    }

    /// The one line printed when the runtime serves.
    pub fn ready_line(&self) -> String {
        let w = &self.config.workers;
        format!(
            "chimaera runtime ready: identity {}, port {}, workers {} sched + {} slow, shared memory {} in {:.0?}",
            self.segments.identity(),
            self.config.networking.port,
            w.sched_threads,
            w.slow_threads,
            self.config.memory.total(),
            self.started.elapsed(),
        )
    }

    /// A handle that stops this runtime when triggered.
    pub fn stop_signal(&self) -> StopSignal {
        self.stop.clone()
    }

    /// Serves until a stop is requested, then stops. Returns why it stopped.
    pub fn run(self) -> StopReason {
        let reason = self.stop.wait();
        info!(%reason, "stopping");
        self.shutdown();
        reason
    }

    fn shutdown(self) {
        let identity = self.segments.identity().clone();
        drop(self.segments);
        info!(%identity, "stopped cleanly; shared memory removed");
    }
}
