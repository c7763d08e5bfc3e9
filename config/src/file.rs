//! The YAML file as written: every key optional, so the loader can tell what
//! the operator set from what defaults to, and apply precedence between the
//! places a key may appear.

use chimod_sdk::Size;
use serde::Deserialize;

use super::compose::ComposeEntry;
use super::enums::{LaneMapPolicy, LogLevel};
use super::seconds::Seconds;

#[derive(Debug, Default, Deserialize)]
pub(super) struct FileConfig {
    pub workers: Option<FileWorkers>,
    pub memory: Option<FileMemory>,
    pub networking: Option<FileNetworking>,
    pub logging: Option<FileLogging>,
    pub runtime: Option<FileRuntime>,
    /// The guide's troubleshooting section writes `performance: queue_depth:`.
    pub performance: Option<FilePerformance>,
    pub compose: Option<Vec<ComposeEntry>>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct FileWorkers {
    pub sched_threads: Option<u32>,
    pub slow_threads: Option<u32>,
    pub process_reaper_threads: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct FileMemory {
    pub main_segment_size: Option<Size>,
    pub client_data_segment_size: Option<Size>,
    pub runtime_data_segment_size: Option<Size>,
    pub shm_group: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct FileNetworking {
    pub port: Option<u32>,
    pub neighborhood_size: Option<u32>,
    pub hostfile: Option<String>,
    pub cluster_key_file: Option<String>,
    pub client_port: Option<u32>,
    pub client_address: Option<String>,
    pub wait_for_restart: Option<Seconds>,
    pub wait_for_restart_poll_period: Option<Seconds>,
    pub idle_connection_timeout: Option<Seconds>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct FileLogging {
    pub level: Option<LogLevel>,
    pub file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct FileRuntime {
    pub stack_size: Option<Size>,
    pub queue_depth: Option<u32>,
    pub lane_map_policy: Option<LaneMapPolicy>,
    /// Milliseconds.
    pub heartbeat_interval: Option<u64>,
    pub module_path: Option<Vec<String>>,
    pub state_dir: Option<String>,
    // Worker keys that the original's own default file keeps here.
    pub sched_threads: Option<u32>,
    pub slow_threads: Option<u32>,
    pub process_reaper_threads: Option<u32>,
    /// Microseconds.
    pub first_busy_wait: Option<u64>,
    /// Microseconds.
    pub sleep_increment: Option<u64>,
    /// Microseconds.
    pub max_sleep: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct FilePerformance {
    pub queue_depth: Option<u32>,
}
