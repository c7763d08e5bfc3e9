//! The runtime process's life: start every manager in order, serve, stop.
//!
//! Start order: shared memory (so an undersized `/dev/shm` fails before any
//! thread exists), the module and pool managers, the admin pool, then every
//! `compose` entry. Stop runs the same steps backwards: pools are destroyed
//! newest first (modules flush), then the shared memory is removed. Dropping
//! a [`Runtime`] on any path, errors included, removes its shared memory.

use std::time::Instant;

use tracing::{info, warn};

use crate::compose::{ComposeReport, create_admin_pool, run_compose};
use crate::config::RuntimeConfig;
use crate::module::{ModuleManager, ModuleSearchPath};
use crate::pool::PoolManager;
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
    /// The admin module could not be loaded or created.
    #[error("{0}")]
    Admin(String),
    /// A compose entry failed and `strict` was asked for.
    #[error("{failed} of {total} compose entries failed (strict mode); first: {first}")]
    Compose {
        /// How many failed.
        failed: usize,
        /// How many entries there were.
        total: usize,
        /// The first failure.
        first: String,
    },
}

/// How to start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartOptions {
    /// Any failing compose entry stops the start.
    pub strict: bool,
}

/// A started runtime.
#[derive(Debug)]
pub struct Runtime {
    config: RuntimeConfig,
    // Field order is drop order: pools go before the modules and memory they use.
    pools: PoolManager,
    modules: ModuleManager,
    compose: ComposeReport,
    segments: SegmentSet,
    stop: StopSignal,
    started: Instant,
}

impl Runtime {
    /// Brings every part up. On error, whatever was created is removed again.
    pub fn start(config: RuntimeConfig, options: &StartOptions) -> Result<Runtime, StartError> {
        let started = Instant::now();
        let identity = ShmIdentity::for_current_user(config.networking.port);
        let segments = SegmentSet::create(&identity, &config.memory)?;
        if segments.reclaimed_stale() {
            warn!(%identity, "reclaimed shared memory left behind by a runtime that did not stop cleanly");
        }
        for seg in segments.segments() {
            info!(segment = seg.name(), bytes = seg.len(), "shared memory segment created and reserved");
        }
        let modules = ModuleManager::new(ModuleSearchPath::for_process(&config.runtime.module_path));
        tracing::debug!(dirs = ?modules.search_path().dirs(), "module search path");
        let pools = PoolManager::new(0);
        create_admin_pool(&pools, &modules).map_err(StartError::Admin)?;
        let compose = run_compose(&config.compose, &pools, &modules);
        if options.strict && !compose.failed.is_empty() {
            pools.destroy_all();
            return Err(StartError::Compose {
                failed: compose.failed.len(),
                total: config.compose.len(),
                first: compose.failed[0].clone(),
            });
        }
        let stop = StopSignal::new();
        stop.on_termination_signals().map_err(StartError::Signals)?;
        Ok(Runtime { config, pools, modules, compose, segments, stop, started })
    }

    /// The one line printed when the runtime serves.
    pub fn ready_line(&self) -> String {
        let w = &self.config.workers;
        format!(
            "chimaera runtime ready: identity {}, port {}, workers {} sched + {} slow, shared memory {}, pools {} created {} failed, in {:.0?}",
            self.segments.identity(),
            self.config.networking.port,
            w.sched_threads,
            w.slow_threads,
            self.config.memory.total(),
            self.compose.created,
            self.compose.failed.len(),
            self.started.elapsed(),
        )
    }

    /// This node's pools.
    pub fn pools(&self) -> &PoolManager {
        &self.pools
    }

    /// The modules loaded so far.
    pub fn modules(&self) -> &ModuleManager {
        &self.modules
    }

    /// What the compose section did at start.
    pub fn compose_report(&self) -> &ComposeReport {
        &self.compose
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
        self.pools.destroy_all();
        drop(self.segments);
        info!(%identity, "stopped cleanly; shared memory removed");
    }
}
