//! The effective configuration: every value resolved, typed and validated.
//!
//! `Default` is the built-in configuration. `config/chimaera_default.yaml`
//! spells out exactly these values; a test keeps the two equal.

use std::path::PathBuf;
use std::time::Duration;

use chimod_sdk::Size;

use super::compose::ComposeEntry;
use super::enums::{LaneMapPolicy, LogLevel};

/// The runtime's whole configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuntimeConfig {
    /// `workers:` thread counts.
    pub workers: WorkersConfig,
    /// `memory:` shared memory segment sizes.
    pub memory: MemoryConfig,
    /// `networking:` ZeroMQ port, cluster membership and retry policy.
    pub networking: NetworkingConfig,
    /// `logging:` level and file.
    pub logging: LoggingConfig,
    /// `runtime:` task execution, queues and worker idling.
    pub runtime: RuntimeSection,
    /// `compose:` pools to create at start-up, in order.
    pub compose: Vec<ComposeEntry>,
}

/// Worker threads. Fast tasks (estimated under 50 µs) go to scheduler
/// workers, the rest to slow workers; with no slow workers, scheduler workers
/// run everything.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkersConfig {
    /// Scheduler workers for fast tasks (at least 1).
    pub sched_threads: u32,
    /// Slow workers for long tasks (0 sends every task to scheduler workers).
    pub slow_threads: u32,
    /// Threads that reclaim the tasks and buffers of dead client processes (at least 1).
    pub process_reaper_threads: u32,
}

impl Default for WorkersConfig {
    fn default() -> Self {
        WorkersConfig { sched_threads: 4, slow_threads: 4, process_reaper_threads: 1 }
    }
}

/// Sizes of the three POSIX shared memory segments.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryConfig {
    /// Task slots, queues and control structures.
    pub main_segment_size: Size,
    /// Bulk buffers that clients allocate.
    pub client_data_segment_size: Size,
    /// Bulk buffers that the runtime allocates.
    pub runtime_data_segment_size: Size,
    /// A group (by id) whose members may use the segments too (mode 0660);
    /// `None`: this user only (0600).
    pub shm_group: Option<u32>,
}

impl MemoryConfig {
    /// The three segments with their config key and size, in creation order.
    pub fn segments(&self) -> [(&'static str, Size); 3] {
        [
            ("main", self.main_segment_size),
            ("client_data", self.client_data_segment_size),
            ("runtime_data", self.runtime_data_segment_size),
        ]
    }

    /// The sum of all three segments.
    pub fn total(&self) -> Size {
        Size::from_bytes(self.segments().iter().map(|(_, s)| s.bytes()).sum())
    }
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            main_segment_size: Size::from_bytes(1 << 30),
            client_data_segment_size: Size::from_bytes(512 << 20),
            runtime_data_segment_size: Size::from_bytes(512 << 20),
            shm_group: None,
        }
    }
}

/// Networking and cluster membership.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkingConfig {
    /// ZeroMQ port, the same on every node.
    pub port: u16,
    /// At most this many nodes take part in one split range query.
    pub neighborhood_size: u32,
    /// One node address per line; `None` runs a single node.
    pub hostfile: Option<PathBuf>,
    /// A secret shared by the cluster's nodes: every frame carries an
    /// HMAC-SHA256 under it, and frames without a valid one are dropped.
    pub cluster_key_file: Option<PathBuf>,
    /// The TCP port remote clients (`CHI_SERVER_ADDR`) connect to; `None`
    /// (the key's 0, the default) takes no remote clients.
    pub client_port: Option<u16>,
    /// The address the remote-client port is bound to.
    pub client_address: std::net::IpAddr,
    /// How long a send keeps retrying a node that is not up yet.
    pub wait_for_restart: Duration,
    /// Pause between those retries (fractions of a second allowed).
    pub wait_for_restart_poll_period: Duration,
    /// A connection to a peer that carried nothing this long is closed
    /// (made again on the next message); zero keeps connections open.
    pub idle_connection_timeout: Duration,
}

impl Default for NetworkingConfig {
    fn default() -> Self {
        NetworkingConfig {
            port: 5555,
            neighborhood_size: 32,
            hostfile: None,
            cluster_key_file: None,
            client_port: None,
            client_address: std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            wait_for_restart: Duration::from_secs(30),
            wait_for_restart_poll_period: Duration::from_secs(1),
            idle_connection_timeout: Duration::from_secs(30),
        }
    }
}

/// Where log lines go and how many.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggingConfig {
    /// The least severe level written.
    pub level: LogLevel,
    /// The log file (appended to); `None` (written `file: ""`) logs to stderr only.
    pub file: Option<PathBuf>,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig { level: LogLevel::Info, file: Some(PathBuf::from("/tmp/chimaera.log")) }
    }
}

/// Task execution, queues and worker idling.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeSection {
    /// The stack each task runs on.
    pub stack_size: Size,
    /// Capacity of each lane of the task queue.
    pub queue_depth: u32,
    /// How a submission picks its lane.
    pub lane_map_policy: LaneMapPolicy,
    /// Period of the heartbeat task.
    pub heartbeat_interval: Duration,
    /// An idle worker spins this long before it first sleeps.
    pub first_busy_wait: Duration,
    /// Each further idle round sleeps this much longer than the last.
    pub sleep_increment: Duration,
    /// The longest single sleep of an idle worker.
    pub max_sleep: Duration,
    /// Directories searched for modules after `CHI_REPO_PATH`.
    pub module_path: Vec<PathBuf>,
    /// Where the pools created and destroyed at runtime are recorded.
    pub state_dir: crate::StateDir,
}

impl Default for RuntimeSection {
    fn default() -> Self {
        RuntimeSection {
            stack_size: Size::from_bytes(64 << 10),
            queue_depth: 10_000,
            lane_map_policy: LaneMapPolicy::RoundRobin,
            heartbeat_interval: Duration::from_millis(1000),
            first_busy_wait: Duration::from_micros(50),
            sleep_increment: Duration::from_micros(1000),
            max_sleep: Duration::from_micros(50_000),
            module_path: Vec::new(),
            state_dir: crate::StateDir::Default,
        }
    }
}

/// A parsed configuration and what the operator should be warned about.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The effective configuration.
    pub config: RuntimeConfig,
    /// Unknown keys, aliases used, disagreeing duplicates.
    pub warnings: Vec<String>,
    /// Whether the file sets `networking.port` itself. A compose-only file
    /// does not, and tools then find the runtime through its own
    /// configuration instead of the default port.
    pub port_given: bool,
}
