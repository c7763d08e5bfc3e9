//! The `chimaera` command end to end against real runtimes: every
//! subcommand, its output (tables and JSON) and its failure exits.

use std::process::Command;

use chimaera_test_support::{RAM_DEV_ENTRY, RuntimeProcess, SMALL_CONFIG, artifacts};
use std::time::Duration;

use chimaera_client::{BdevClient, Client};
use chimod_sdk::PoolId;
use serde_json::Value;

/// A runtime `chimaera runtime start --background` starts; it is stopped
/// (and its memory removed) on every path.
struct Background {
    spec: RuntimeProcess,
}

impl Background {
    fn new() -> Background {
        Background { spec: RuntimeProcess::new(SMALL_CONFIG) }
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(artifacts().bin("chimaera"))
            .args(args)
            .current_dir(self.spec.dir())
            .env("CHI_SERVER_CONF", self.spec.config_path())
            .env("CHI_STATE_DIR", self.spec.dir().join("state"))
            .env("CHI_REPO_PATH", artifacts().dir())
            .env_remove("CHI_NODE_ADDRESS")
            .output()
            .expect("run chimaera");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "chimaera {args:?}:\n{out}{err}");
        out
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("chimaera {args:?}: not JSON ({e}):\n{out}"))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.run(&["runtime", "stop", "--timeout", "20"]);
        self.spec.remove_shared_memory();
    }
}

/// `ram_dev` (301.0) and a pool of the example module (400.0).
fn pools_file() -> String {
    format!(
        "compose:
{RAM_DEV_ENTRY}  - mod_name: chimaera_custom_mod
    pool_name: mine
    pool_query: local
    pool_id: 400.0
    custom_param1: a
    custom_param2: b
  - mod_name: chimaera_bdev
    pool_name: {{dir}}/cli.dat
    pool_query: local
    pool_id: 302.0
    capacity: 1M
    bdev_type: file
"
    )
}

#[test]
fn every_subcommand_works_end_to_end_and_a_restart_brings_every_pool_back() {
    let rt = Background::new();
    let file = rt.spec.dir().join("pools.yaml");
    std::fs::write(&file, pools_file().replace("{dir}", &rt.spec.dir().display().to_string())).unwrap();
    let file = file.display().to_string();

    let (code, _, err) = rt.run(&["pool", "list"]);
    assert_eq!(code, 1, "no runtime yet");
    assert!(err.starts_with("chimaera: no Chimaera runtime is running"), "{err}");

    let out = rt.ok(&["runtime", "start", "--background"]);
    assert!(out.starts_with("chimaera runtime ready: identity"), "{out}");
    let status = rt.json(&["runtime", "status", "--json"]);
    assert_eq!(status["node_id"], 0);
    assert!(status["workers"].as_array().is_some_and(|w| w.len() == 2), "{status}");

    let out = rt.ok(&["compose", &file]);
    assert!(out.contains("compose[0] chimaera_bdev 301.0 `ram_dev`: created"), "{out}");
    let again = rt.json(&["compose", &file, "--json"]);
    let results: Vec<_> =
        again.as_array().unwrap().iter().map(|r| r["result"].as_str().unwrap().to_owned()).collect();
    assert_eq!(results, ["already exists"; 3], "{again}");
    let pools = rt.json(&["pool", "list", "--json"]);
    let ids: Vec<&str> = pools.as_array().unwrap().iter().map(|p| p["pool_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["1.0", "301.0", "302.0", "400.0"]);
    let data = chimaera_test_support::pattern(3, 8192);
    {
        let client = Client::attach_port(rt.spec.port(), Duration::from_secs(10)).unwrap();
        let mut buf = client.bulk_alloc(8192).unwrap();
        buf.copy_from_slice(&data);
        BdevClient::new(&client, PoolId::new(302, 0)).write_at(4096, &buf).unwrap();
    }
    assert_eq!(pools[1]["mod_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(pools[1]["nodes"], serde_json::json!([0]));
    assert_eq!(pools[1]["params"]["capacity"], "1M");
    let table = rt.ok(&["pool", "list"]);
    assert!(table.lines().next().unwrap().starts_with("ID     NAME"), "{table}");

    let stats = rt.json(&["pool", "stats", "301.0", "--json"]);
    assert_eq!(stats["module_stats"]["bdev_type"], "ram", "{stats}");
    assert_eq!(stats["module_stats"]["capacity"], 1 << 20);
    let view = rt.json(&["monitor", "--once", "--json", "-i", "0.2"]);
    assert_eq!(view["workers"].as_array().unwrap().len(), 2, "{view}");
    assert!(
        view["pools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["pool_id"] == "301.0" && p["module"]["writes.count_per_s"] == 0.0),
        "{view}"
    );
    let screen = rt.ok(&["monitor", "--once", "-i", "0.1"]);
    assert!(screen.contains("WORKER") && screen.contains("ram_dev"), "{screen}");
    let modules = rt.json(&["module", "list", "--json"]);
    assert!(
        modules
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mod_name"] == "chimaera_bdev" && m["pools"] == serde_json::json!(["301.0", "302.0"])),
        "{modules}"
    );

    assert_eq!(rt.ok(&["pool", "destroy", "400.0"]).trim(), "pool 400.0 destroyed");
    let (code, _, err) = rt.run(&["pool", "destroy", "400.0"]);
    assert_eq!(code, 1);
    assert!(err.contains("no pool 400.0 on this node"), "{err}");
    let (code, _, err) = rt.run(&["pool", "stats", "4x"]);
    assert_eq!(code, 2, "a bad pool id is a usage error: {err}");
    let (code, _, err) = rt.run(&["monitor", "-i", "0"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = rt.run(&["pool", "stats", "999.0"]);
    assert_eq!(code, 1);
    assert!(err.contains("no pool 999.0 on this node"), "{err}");

    let out = rt.ok(&["runtime", "restart"]);
    assert!(out.contains("stopped") && out.contains("pools 0 created 0 failed 2 restored"), "{out}");
    let ids: Vec<String> = rt
        .json(&["pool", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pool_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["1.0", "301.0", "302.0"], "the destroyed pool stays destroyed");
    {
        let client = Client::attach_port(rt.spec.port(), Duration::from_secs(10)).unwrap();
        let mut back = client.bulk_alloc(8192).unwrap();
        BdevClient::new(&client, PoolId::new(302, 0)).read_at(4096, &mut back).unwrap();
        assert!(back[..] == data[..], "the file device reopened with its data after the restart");
    }

    let out = rt.ok(&["compose", &file, "--destroy"]);
    assert!(out.contains("400.0 `mine`: not there") && out.contains("301.0 `ram_dev`: destroyed"), "{out}");
    let restarted = rt.json(&["runtime", "restart", "--json"]);
    assert_eq!(restarted["stopped"], true, "{restarted}");
    assert!(restarted["ready"].as_str().unwrap().contains("restored"), "{restarted}");
    assert_eq!(
        rt.json(&["runtime", "stop", "--json"]),
        serde_json::json!({"stopped": true, "port": rt.spec.port()})
    );
    let started = rt.json(&["runtime", "start", "--background", "--json"]);
    assert!(started["pid"].as_u64().is_some_and(|p| p > 0), "{started}");
    assert!(rt.ok(&["runtime", "stop"]).contains("stopped"));
    for args in [&["runtime", "stop"][..], &["pool", "list"], &["monitor", "--once"], &["module", "list"]] {
        let (code, _, err) = rt.run(args);
        assert_eq!(code, 1, "{args:?} without a runtime: {err}");
        assert!(err.contains("no Chimaera runtime is running"), "{err}");
    }
    let (code, _, err) = rt.run(&["runtime", "start", "--background", "--config", "/nonexistent.yaml"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent.yaml"), "{err}");
}

#[test]
fn help_completions_and_bench_are_there() {
    let rt = Background::new();
    let help = rt.ok(&["--help"]);
    for needle in ["runtime", "compose", "pool", "module", "monitor", "bench", "Examples:", "Exit codes"] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
    let bash = rt.ok(&["completions", "bash"]);
    assert!(bash.contains("_chimaera") && bash.contains("upgrade"), "{bash}");
    let bench = rt.ok(&["bench", "--help"]);
    assert!(bench.contains("chimaera_bench") || bench.contains("--tasks"), "{bench}");
}

#[test]
fn pool_list_asks_every_node_and_names_one_that_is_down() {
    let nodes = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
    let cluster = chimaera_test_support::Cluster::new(&nodes, "");
    let mut runtimes: Vec<_> = nodes.iter().map(|a| cluster.start(a)).collect();
    let config = runtimes[0].spec().config_path().to_owned();
    let run = |args: &[&str]| {
        let out = Command::new(artifacts().bin("chimaera"))
            .args(args)
            .env("CHI_SERVER_CONF", &config)
            .env("CHI_NODE_ADDRESS", nodes[0])
            .output()
            .expect("run chimaera");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&["pool", "list", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let pools: Value = serde_json::from_str(&out).unwrap();
    let custom = pools.as_array().unwrap().iter().find(|p| p["pool_id"] == "400.0").unwrap();
    assert_eq!(custom["nodes"], serde_json::json!([0, 1, 2]), "{out}");

    drop(runtimes.pop());
    let client = chimaera_test_support::attach(&runtimes[0]);
    chimaera_test_support::poll_until(
        "node 2 seen down",
        Duration::from_secs(30),
        Duration::from_millis(20),
        || client.admin().stats().unwrap().nodes.iter().any(|n| n.node_id == 2 && n.state == "down"),
    );
    let (code, out, err) = run(&["pool", "list"]);
    assert_eq!(code, Some(1), "a node that does not answer is exit 1: {out}{err}");
    assert!(err.contains("node 2 did not answer: node 2 (127.0.0.3) is down"), "{err}");
    let line = out.lines().find(|l| l.starts_with("400.0")).unwrap();
    assert!(line.contains(" 0,1 "), "the nodes that answered: {out}");
}
