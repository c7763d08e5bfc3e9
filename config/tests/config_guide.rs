//! Every YAML snippet of the deployment guide, kept under `config/guide/`,
//! parses to what the guide says it means; and the shipped default file is
//! exactly the built-in defaults.

use std::path::PathBuf;
use std::time::Duration;

use chimaera_config::{LaneMapPolicy, LogLevel, Parsed, RuntimeConfig, parse_config};
use chimod_sdk::{PoolId, PoolQuery, Size};

fn repo_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn load(rel: &str) -> Parsed {
    let path = repo_file(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_config(&text, rel).unwrap_or_else(|e| panic!("{e}"))
}

const G: u64 = 1 << 30;
const M: u64 = 1 << 20;

#[test]
fn default_file_equals_built_in_defaults() {
    let parsed = load("config/chimaera_default.yaml");
    assert_eq!(parsed.config, RuntimeConfig::default());
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
}

#[test]
fn built_in_defaults_are_the_guides() {
    let d = RuntimeConfig::default();
    assert_eq!((d.workers.sched_threads, d.workers.slow_threads), (4, 4));
    assert_eq!(d.memory.main_segment_size.bytes(), G);
    assert_eq!(d.memory.client_data_segment_size.bytes(), 512 * M);
    assert_eq!(d.memory.runtime_data_segment_size.bytes(), 512 * M);
    assert_eq!((d.networking.port, d.networking.neighborhood_size), (5555, 32));
    assert_eq!(d.networking.hostfile, None);
    assert_eq!(d.networking.wait_for_restart, Duration::from_secs(30));
    assert_eq!(d.networking.wait_for_restart_poll_period, Duration::from_secs(1));
    assert_eq!(d.logging.level, LogLevel::Info);
    assert_eq!(d.logging.file, Some(PathBuf::from("/tmp/chimaera.log")));
    assert_eq!(d.runtime.stack_size.bytes(), 65536);
    assert_eq!(d.runtime.queue_depth, 10000);
    assert_eq!(d.runtime.lane_map_policy, LaneMapPolicy::RoundRobin);
    assert_eq!(d.runtime.heartbeat_interval, Duration::from_millis(1000));
    assert!(d.compose.is_empty());
}

#[test]
fn complete_configuration_example() {
    let parsed = load("config/guide/complete_configuration.yaml");
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let c = parsed.config;
    assert_eq!((c.workers.sched_threads, c.workers.slow_threads), (4, 4));
    assert_eq!(c.memory.main_segment_size.bytes(), 1073741824);
    assert_eq!(c.memory.client_data_segment_size.bytes(), 536870912);
    assert_eq!(c.memory.runtime_data_segment_size.bytes(), 536870912);
    assert_eq!(c.networking.port, 5555);
    assert_eq!(c.networking.neighborhood_size, 32);
    assert_eq!(c.networking.hostfile, Some(PathBuf::from("/etc/chimaera/hostfile")));
    assert_eq!(c.networking.wait_for_restart, Duration::from_secs(30));
    assert_eq!(c.networking.wait_for_restart_poll_period, Duration::from_secs(1));
    assert_eq!(c.logging.level, LogLevel::Info);
    assert_eq!(c.logging.file, Some(PathBuf::from("/tmp/chimaera.log")));
    assert_eq!(c.runtime.stack_size.bytes(), 65536);
    assert_eq!(c.runtime.queue_depth, 10000);
    assert_eq!(c.runtime.lane_map_policy, LaneMapPolicy::RoundRobin);
    assert_eq!(c.runtime.heartbeat_interval, Duration::from_millis(1000));
}

#[test]
fn retry_examples() {
    for (file, wait, poll) in [
        ("config/guide/retry_quick.yaml", 10.0, 1.0),
        ("config/guide/retry_extended.yaml", 60.0, 2.0),
        ("config/guide/retry_flaky.yaml", 30.0, 0.5),
    ] {
        let n = load(file).config.networking;
        assert_eq!(n.wait_for_restart, Duration::from_secs_f64(wait), "{file}");
        assert_eq!(n.wait_for_restart_poll_period, Duration::from_secs_f64(poll), "{file}");
    }
}

#[test]
fn hostfile_reference() {
    let c = load("config/guide/hostfile_reference.yaml").config;
    assert_eq!(c.networking.hostfile, Some(PathBuf::from("/etc/chimaera/hostfile")));
}

#[test]
fn basic_compose_example() {
    let c = load("config/guide/basic_compose.yaml").config;
    assert_eq!(c.memory.main_segment_size.bytes(), G);
    assert_eq!(c.memory.client_data_segment_size.bytes(), 512 * M);
    assert_eq!(c.compose.len(), 3);
    let file = &c.compose[0];
    assert_eq!(file.mod_name, "chimaera_bdev");
    assert_eq!(file.pool_name, "/tmp/storage_device.dat");
    assert_eq!(file.pool_query, PoolQuery::Dynamic);
    assert_eq!(file.pool_id, PoolId::new(300, 0));
    assert_eq!(file.params["capacity"], "1GB");
    assert_eq!(file.params["bdev_type"], "file");
    assert_eq!(file.params["io_depth"], 32);
    assert_eq!(file.params["alignment"], 4096);
    let ram = &c.compose[1];
    assert_eq!((ram.pool_query, ram.pool_id), (PoolQuery::Local, PoolId::new(301, 0)));
    assert_eq!(ram.params["capacity"], "512MB");
    let custom = &c.compose[2];
    assert_eq!(custom.mod_name, "chimaera_custom_mod");
    assert_eq!(custom.pool_id, PoolId::new(400, 0));
    let keys: Vec<_> = custom.params.keys().map(String::as_str).collect();
    assert_eq!(keys, ["custom_param1", "custom_param2"]);
    assert_eq!(custom.params["custom_param1"], "value1");
    assert_eq!(custom.params["custom_param2"], "value2");
}

#[test]
fn complete_compose_example() {
    let c = load("config/guide/complete_compose.yaml").config;
    assert_eq!((c.workers.sched_threads, c.workers.slow_threads), (8, 8));
    assert_eq!(c.memory.main_segment_size.bytes(), 4 * G);
    assert_eq!(c.memory.total(), Size::from_bytes(8 * G));
    assert_eq!(c.logging.file, Some(PathBuf::from("/var/log/chimaera/chimaera.log")));
    assert_eq!(c.runtime.queue_depth, 20000);
    let ids: Vec<_> = c.compose.iter().map(|e| e.pool_id.to_string()).collect();
    assert_eq!(ids, ["300.0", "301.0", "302.0"]);
    let capacities: Vec<_> = c.compose.iter().map(|e| e.params["capacity"].as_str().unwrap()).collect();
    assert_eq!(capacities, ["100GB", "8GB", "500GB"]);
    assert_eq!(c.compose[1].params["io_depth"], 128);
}

#[test]
fn troubleshooting_snippets() {
    let m = load("config/guide/troubleshoot_shm_size.yaml").config.memory;
    assert_eq!(
        (
            m.main_segment_size.bytes(),
            m.client_data_segment_size.bytes(),
            m.runtime_data_segment_size.bytes()
        ),
        (512 * M, 256 * M, 256 * M)
    );
    assert_eq!(load("config/guide/troubleshoot_port.yaml").config.networking.port, 5555);
    assert_eq!(load("config/guide/troubleshoot_debug_logging.yaml").config.logging.level, LogLevel::Debug);
    let alias = load("config/guide/troubleshoot_queue_depth.yaml");
    assert_eq!(alias.config.runtime.queue_depth, 5000);
    assert!(alias.warnings.iter().any(|w| w.contains("performance.queue_depth")), "{:?}", alias.warnings);
}
