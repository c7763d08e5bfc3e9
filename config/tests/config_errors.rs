//! Every kind of bad configuration gives one error naming the file, the key
//! path and the value; unknown keys and aliases give warnings.

use std::time::Duration;

use chimaera_config::{ConfigError, parse_config};

const FILE: &str = "/etc/chimaera/test.yaml";

fn error(yaml: &str) -> ConfigError {
    match parse_config(yaml, FILE) {
        Ok(parsed) => panic!("accepted bad config:\n{yaml}\nas {:?}", parsed.config),
        Err(e) => e,
    }
}

/// Asserts the error names the file, the key path and the value.
fn assert_names(yaml: &str, key: &str, value: &str) {
    let err = error(yaml);
    let text = err.to_string();
    assert_eq!(err.key(), Some(key), "{text}");
    assert!(text.starts_with(&format!("{FILE}: {key}: ")), "{text}");
    assert!(text.contains(&format!("`{value}`")), "value `{value}` missing from: {text}");
    assert!(!text.contains('\n'), "not one line: {text}");
}

const ENTRY: &str = "  - mod_name: chimaera_bdev\n    pool_name: ram\n    pool_query: local\n";

#[test]
fn wrong_types_and_negative_numbers() {
    assert_names("workers:\n  sched_threads: -4\n", "workers.sched_threads", "-4");
    assert_names("workers:\n  slow_threads: many\n", "workers.slow_threads", "many");
    assert_names("networking:\n  port: [1, 2]\n", "networking.port", "[1, 2]");
    assert_names("networking:\n  wait_for_restart: -1\n", "networking.wait_for_restart", "-1");
    assert_names("runtime:\n  queue_depth: 1.5\n", "runtime.queue_depth", "1.5");
}

#[test]
fn zero_where_nonsense() {
    assert_names("workers:\n  sched_threads: 0\n", "workers.sched_threads", "0");
    assert_names("memory:\n  main_segment_size: 0\n", "memory.main_segment_size", "0");
    assert_names("networking:\n  port: 0\n", "networking.port", "0");
    assert_names("networking:\n  port: 70000\n", "networking.port", "70000");
    assert_names(
        "networking:\n  wait_for_restart_poll_period: 0\n",
        "networking.wait_for_restart_poll_period",
        "0",
    );
    assert_names("networking:\n  neighborhood_size: 0\n", "networking.neighborhood_size", "0");
    assert_names("runtime:\n  queue_depth: 0\n", "runtime.queue_depth", "0");
    assert_names("runtime:\n  stack_size: 1024\n", "runtime.stack_size", "1024");
    assert_names("runtime:\n  heartbeat_interval: 0\n", "runtime.heartbeat_interval", "0");
}

/// Values past what the runtime can honour are refused at load, naming the
/// key, never accepted to overflow later (a lane count of 0, a deadline
/// past the end of the clock, a queue no client can use).
#[test]
fn values_past_what_the_runtime_can_honour() {
    let max_u32 = u32::MAX.to_string();
    let max_u64 = u64::MAX.to_string();
    let cases = [
        ("workers", "sched_threads", max_u32.as_str(), "must be from 1 to 1024"),
        ("workers", "slow_threads", "1025", "must be from 0 to 1024"),
        ("workers", "process_reaper_threads", "65", "must be from 1 to 64"),
        ("runtime", "sched_threads", max_u32.as_str(), "must be from 1 to 1024"),
        ("runtime", "queue_depth", max_u32.as_str(), "must be from 1 to 1048576"),
        ("performance", "queue_depth", max_u32.as_str(), "must be from 1 to 1048576"),
        ("networking", "neighborhood_size", max_u32.as_str(), "must be from 1 to 65536"),
        ("networking", "wait_for_restart", max_u64.as_str(), "must be from 0 to 86400"),
        ("networking", "wait_for_restart_poll_period", "1e12", "must be from 0.001 to 3600"),
        ("runtime", "heartbeat_interval", max_u64.as_str(), "must be from 1 to 3600000"),
        ("runtime", "first_busy_wait", max_u64.as_str(), "must be from 0 to 1000000"),
        ("runtime", "sleep_increment", max_u64.as_str(), "must be from 1 to 1000000"),
        ("runtime", "max_sleep", "1000001", "must be from 1 to 1000000"),
    ];
    for (section, key, value, says) in cases {
        let yaml = format!("{section}:\n  {key}: {value}\n");
        let text = error(&yaml).to_string();
        let path = if section == "performance" {
            "runtime.queue_depth".to_owned()
        } else {
            format!("{section}.{key}")
        };
        let path = if section == "runtime" && key == "sched_threads" {
            "workers.sched_threads".to_owned()
        } else {
            path
        };
        assert!(text.starts_with(&format!("{FILE}: {path}: {says} (got `")), "{yaml}: {text}");
    }
    let text = error("runtime:\n  stack_size: 1T\n").to_string();
    assert_eq!(text, format!("{FILE}: runtime.stack_size: must be from 16K to 256M (got `1099511627776`)"));
}

#[test]
fn an_empty_file_means_defaults_with_a_warning_naming_it() {
    for text in ["", "# only a comment\n", "\n\n"] {
        let parsed = parse_config(text, FILE).unwrap();
        assert_eq!(parsed.config, Default::default());
        assert_eq!(
            parsed.warnings,
            [format!(
                "{FILE}: the file holds no settings (it is empty or only comments); using the built-in defaults"
            )]
        );
    }
}

#[test]
fn zero_where_meaningful_is_accepted() {
    let c = parse_config("workers:\n  slow_threads: 0\nnetworking:\n  wait_for_restart: 0\n", FILE)
        .unwrap()
        .config;
    assert_eq!(c.workers.slow_threads, 0);
    assert_eq!(c.networking.wait_for_restart, Duration::ZERO);
}

#[test]
fn malformed_sizes() {
    assert_names("memory:\n  main_segment_size: 1X\n", "memory.main_segment_size", "1X");
    assert_names("memory:\n  client_data_segment_size: -5M\n", "memory.client_data_segment_size", "-5M");
    assert_names("memory:\n  runtime_data_segment_size: lots\n", "memory.runtime_data_segment_size", "lots");
}

#[test]
fn unknown_choices() {
    assert_names("runtime:\n  lane_map_policy: fastest\n", "runtime.lane_map_policy", "fastest");
    assert_names("logging:\n  level: verbose\n", "logging.level", "verbose");
    let yaml = format!(
        "compose:\n{ENTRY}    pool_id: 1.0\n  - mod_name: m\n    pool_name: p\n    pool_query: everywhere\n    pool_id: 2.0\n"
    );
    assert_names(&yaml, "compose[1].pool_query", "everywhere");
}

#[test]
fn malformed_pool_ids() {
    for bad in ["300", "a.b", "1.2.3"] {
        assert_names(&format!("compose:\n{ENTRY}    pool_id: {bad}\n"), "compose[0].pool_id", bad);
    }
}

#[test]
fn duplicate_pool_id_names_both_entries() {
    let yaml = format!("compose:\n{ENTRY}    pool_id: 300.0\n{ENTRY}    pool_id: \"300.0\"\n");
    assert_names(&yaml, "compose[1].pool_id", "300.0");
    assert!(error(&yaml).to_string().contains("compose[0]"));
}

#[test]
fn missing_common_compose_keys() {
    let yaml = "compose:\n  - mod_name: chimaera_bdev\n    pool_name: ram\n    pool_id: 300.0\n";
    let err = error(yaml);
    assert_eq!(err.key(), Some("compose[0].pool_query"), "{err}");
    let yaml =
        "compose:\n  - mod_name: ../../evil\n    pool_name: p\n    pool_query: local\n    pool_id: 1.0\n";
    assert_names(yaml, "compose[0].mod_name", "../../evil");
}

#[test]
fn yaml_syntax_errors_name_the_file_and_line() {
    let text = error("workers: [\n  sched_threads: 4\n").to_string();
    assert!(text.starts_with(FILE), "{text}");
    assert!(text.contains("line"), "{text}");
}

#[test]
fn unknown_keys_are_warnings_with_suggestions() {
    let parsed =
        parse_config("workers:\n  shed_threads: 2\n  queue_depth: 5\nnetwork:\n  port: 1\n", FILE).unwrap();
    let w = parsed.warnings.join("\n");
    assert!(w.contains("workers.shed_threads: unknown key, ignored (did you mean `sched_threads`?)"), "{w}");
    assert!(
        w.contains("workers.queue_depth: unknown key, ignored (did you mean `runtime.queue_depth`?)"),
        "{w}"
    );
    assert!(w.contains("network: unknown key, ignored (did you mean `networking`?)"), "{w}");
    assert_eq!(parsed.config.workers.sched_threads, 4, "an unknown key must not change anything");
}

#[test]
fn worker_keys_under_runtime_follow_the_documented_precedence() {
    let original = "runtime:\n  sched_threads: 2\n  slow_threads: 0\n  process_reaper_threads: 3\n  first_busy_wait: 10\n  sleep_increment: 500\n  max_sleep: 9000\n";
    let parsed = parse_config(original, FILE).unwrap();
    let c = &parsed.config;
    assert_eq!(
        (c.workers.sched_threads, c.workers.slow_threads, c.workers.process_reaper_threads),
        (2, 0, 3)
    );
    assert_eq!(c.runtime.first_busy_wait, Duration::from_micros(10));
    assert_eq!(c.runtime.sleep_increment, Duration::from_micros(500));
    assert_eq!(c.runtime.max_sleep, Duration::from_micros(9000));
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);

    let both = "workers:\n  sched_threads: 6\nruntime:\n  sched_threads: 2\n";
    let parsed = parse_config(both, FILE).unwrap();
    assert_eq!(parsed.config.workers.sched_threads, 6);
    assert!(parsed.warnings[0].contains("workers.sched_threads (6) and runtime.sched_threads (2) disagree"));
}

#[test]
fn empty_file_means_defaults() {
    for text in ["", "# only a comment\n", "---\n"] {
        let parsed = parse_config(text, FILE).unwrap();
        assert_eq!(parsed.config, Default::default());
    }
}

#[test]
fn module_parameters_are_kept_verbatim() {
    let yaml = format!(
        "compose:\n{ENTRY}    pool_id: 1000.100\n    capacity: 1GB\n    ratio: 0.25\n    tags: [a, b]\n    nested: {{depth: 2, name: x}}\n    flag: true\n"
    );
    let c = parse_config(&yaml, FILE).unwrap().config;
    let e = &c.compose[0];
    assert_eq!(e.pool_id.to_string(), "1000.100");
    assert_eq!(e.params["capacity"], "1GB");
    assert_eq!(e.params["ratio"], 0.25);
    assert_eq!(e.params["tags"], serde_json::json!(["a", "b"]));
    assert_eq!(e.params["nested"], serde_json::json!({"depth": 2, "name": "x"}));
    assert_eq!(e.params["flag"], true);
    assert!(!e.params.contains_key("pool_id"));
}

#[test]
fn a_repeated_key_names_itself_and_where_in_plain_words() {
    // The guide's retry snippets pasted into one file, one after another.
    let text = error("networking:\n  port: 5600\nnetworking:\n  wait_for_restart: 5\n").to_string();
    assert_eq!(
        text,
        format!(
            "{FILE}: networking: the key `networking` appears again at the top level (line 3, column 1); each key may appear once, so merge the two into one (snippets pasted one after another each repeat their section's name)"
        )
    );
    let err = error("networking:\n  port: 5600\n  port: 5601\n");
    assert_eq!(err.key(), Some("networking.port"));
    let text = err.to_string();
    assert!(text.contains("the key `port` appears again in this section (line 3, column 3)"), "{text}");
    assert!(!text.contains("DuplicateKeyPolicy"), "{text}");
}

#[test]
fn the_remote_client_port_and_address() {
    assert_names("networking:\n  client_port: 70000\n", "networking.client_port", "70000");
    assert_names("networking:\n  port: 6000\n  client_port: 6000\n", "networking.client_port", "6000");
    assert_names("networking:\n  client_address: somewhere\n", "networking.client_address", "somewhere");
    let off = parse_config("networking:\n  client_port: 0\n", FILE).unwrap().config;
    assert_eq!(off.networking.client_port, None, "0 takes no remote clients");
    let on =
        parse_config("networking:\n  client_port: 6001\n  client_address: 10.0.0.5\n", FILE).unwrap().config;
    assert_eq!(on.networking.client_port, Some(6001));
    assert_eq!(on.networking.client_address.to_string(), "10.0.0.5");
    let default = parse_config("", FILE).unwrap().config;
    assert_eq!(
        (default.networking.client_port, default.networking.client_address.to_string()),
        (None, "0.0.0.0".into())
    );
}
