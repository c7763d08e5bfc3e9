//! The effective settings in a few log lines, so an operator sees at start
//! what the runtime actually uses.

use super::model::RuntimeConfig;

impl RuntimeConfig {
    /// One line per section: workers, memory, networking, runtime.
    pub fn summary(&self) -> [String; 4] {
        let (w, m, n, r) = (&self.workers, &self.memory, &self.networking, &self.runtime);
        let hostfile =
            n.hostfile.as_ref().map_or("none (single node)".to_owned(), |h| h.display().to_string());
        [
            format!(
                "workers: {} sched + {} slow, {} process reaper",
                w.sched_threads, w.slow_threads, w.process_reaper_threads
            ),
            format!(
                "memory: main {}, client_data {}, runtime_data {} ({} total)",
                m.main_segment_size,
                m.client_data_segment_size,
                m.runtime_data_segment_size,
                m.total()
            ),
            format!(
                "networking: port {}, neighborhood_size {}, hostfile {hostfile}, wait_for_restart {:?} polled every {:?}, idle connections closed after {:?}",
                n.port,
                n.neighborhood_size,
                n.wait_for_restart,
                n.wait_for_restart_poll_period,
                n.idle_connection_timeout
            ),
            format!(
                "runtime: stack_size {}, queue_depth {}, lane_map_policy {}, heartbeat {:?}, idle spin {:?} then sleep +{:?} up to {:?}",
                r.stack_size,
                r.queue_depth,
                r.lane_map_policy,
                r.heartbeat_interval,
                r.first_busy_wait,
                r.sleep_increment,
                r.max_sleep
            ),
        ]
    }
}
