//! Live module upgrade, end to end: `chimaera module upgrade` replaces a
//! module's code in a real runtime while client threads keep submitting to
//! its pools, with every result checked; and every failed upgrade leaves
//! the old version serving.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chimaera_client::{BdevClient, Client};
use chimaera_test_support::{
    GARBAGE_MODULE, GREETER, MISMATCHED_MODULE, NOT_A_MODULE, OOT_MODULE, OOT_MODULE_V2, RAM_DEV_ENTRY,
    RuntimeProcess, StartedRuntime, artifacts, attach, fixture_modules, oot, pattern, pools_config,
};
use chimod_sdk::PoolId;

const FILE_DEV: PoolId = PoolId::new(300, 0);

fn start() -> StartedRuntime {
    let config = format!(
        "{}  - mod_name: chimaera_bdev\n    pool_name: {{dir}}/device.dat\n    pool_query: local\n    pool_id: 300.0\n    capacity: 4M\n    bdev_type: file\n{RAM_DEV_ENTRY}",
        pools_config("workers:\n  sched_threads: 2\n  slow_threads: 1\n", "")
    );
    RuntimeProcess::new(&config).env("CHI_REPO_PATH", fixture_modules()).start()
}

/// `chimaera ARGS` against `rt`: its exit code, stdout and stderr.
fn chimaera(rt: &StartedRuntime, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(artifacts().bin("chimaera"));
    command.args(args).env("CHI_SERVER_CONF", rt.spec().config_path()).env_remove("CHI_NODE_ADDRESS");
    if let Some(node) = rt.spec().identity().node() {
        command.env("CHI_NODE_ADDRESS", node.to_string());
    }
    let out = command.output().expect("run chimaera");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

fn library(name: &str) -> String {
    fixture_modules().join(format!("lib{name}.so")).display().to_string()
}

fn version(client: &Client) -> String {
    client.call_method(GREETER, oot::VERSION, &()).expect("version")
}

/// One client task, checked: `Err` says what was wrong.
type Check = Arc<dyn Fn(&Client, u64, u64) -> Result<(), String> + Send + Sync>;

/// Client threads that run a checked task after another until told to stop.
struct Load {
    stop: Arc<AtomicBool>,
    checked: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<Vec<String>>>,
}

impl Load {
    /// `threads` clients of the runtime `identity`, each running
    /// `check(client, thread, i)` for i = 0, 1, ...
    fn start(identity: &chimaera::shm::ShmIdentity, threads: u64, check: Check) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let checked = Arc::new(AtomicU64::new(0));
        let threads = (0..threads)
            .map(|t| {
                let (stop, checked, check, identity) =
                    (stop.clone(), checked.clone(), check.clone(), identity.clone());
                std::thread::spawn(move || {
                    let client = Client::attach_identity(identity, Duration::from_secs(10)).unwrap();
                    let mut failures = Vec::new();
                    for i in 0u64.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        match check(&client, t, i) {
                            Ok(()) => {
                                checked.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => failures.push(e),
                        }
                    }
                    failures
                })
            })
            .collect();
        Load { stop, checked, threads }
    }

    /// Waits until `more` further answers were checked.
    fn wait_for(&self, more: u64) {
        let target = self.checked.load(Ordering::Relaxed) + more;
        chimaera_test_support::poll_until(
            "answers checked",
            Duration::from_secs(60),
            Duration::from_millis(1),
            || self.checked.load(Ordering::Relaxed) >= target,
        );
    }

    /// Stops the clients; fails the test if any task failed, else returns
    /// how many were checked.
    fn finish_without_failures(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let failures: Vec<String> = self.threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        let checked = self.checked.load(Ordering::Relaxed);
        assert!(
            failures.is_empty(),
            "{} of {} tasks failed: {:?}",
            failures.len(),
            checked + failures.len() as u64,
            &failures[..failures.len().min(5)]
        );
        checked
    }
}

/// A greeting, checked.
fn greet(client: &Client, node: Option<u32>, name: &str) -> Result<(), String> {
    let input = oot::GREET.encode_input(&name.to_owned()).map_err(|e| e.to_string())?;
    let route = node.map_or(chimod_sdk::Route::Local, chimod_sdk::Route::Node);
    let task =
        chimaera_client::TaskSpec { route, ..chimaera_client::TaskSpec::new(GREETER, oot::GREET.id, &input) };
    let answer = client
        .submit(&task)
        .and_then(|t| t.wait(Some(Duration::from_secs(60))))
        .map_err(|e| e.to_string())?;
    match oot::GREET.decode_output(&answer) {
        Ok(a) if a == format!("hello, {name}!") => Ok(()),
        other => Err(format!("wrong answer {other:?}")),
    }
}

/// A write of a 4 KiB pattern to the file device and its read-back.
fn write_and_read(client: &Client, i: u64) -> Result<(), String> {
    let dev = BdevClient::new(client, FILE_DEV);
    let mut buf = client.bulk_alloc(4096).map_err(|e| e.to_string())?;
    let mut back = client.bulk_alloc(4096).map_err(|e| e.to_string())?;
    let offset = (i % 256) * 4096;
    buf.copy_from_slice(&pattern(i, 4096));
    dev.write_at(offset, &buf).and_then(|_| dev.read_at(offset, &mut back)).map_err(|e| e.to_string())?;
    if back[..] == pattern(i, 4096)[..] { Ok(()) } else { Err(format!("wrong bytes at {offset}")) }
}

#[test]
fn modules_upgraded_under_load_fail_no_task_and_the_new_version_answers() {
    let rt = start();
    let client = attach(&rt);
    assert_eq!(version(&client), "0.3.0");
    let check: Check =
        Arc::new(
            |client, t, i| {
                if t == 2 { write_and_read(client, i) } else { greet(client, None, &format!("n{t}-{i}")) }
            },
        );
    let load = Load::start(&rt.spec().identity(), 3, check);
    load.wait_for(2000);
    let calls_before = client.admin().pool_stats(GREETER).unwrap().module_json;
    let calls_before: u64 =
        serde_json::from_str::<serde_json::Value>(&calls_before).unwrap()["calls"].as_u64().unwrap();
    let (code, out, err) = chimaera(&rt, &["module", "upgrade", OOT_MODULE, &library(OOT_MODULE_V2)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("module oot_module: 0.3.0 -> 0.4.0"), "{out}");
    assert!(out.contains("pool 500.0: state handed over; new tasks held"), "{out}");
    eprintln!("{out}");
    load.wait_for(2000);
    // The bdev module too, while the file device is written and read: a
    // block allocated before stays allocated, the RAM device keeps its bytes.
    let ram = BdevClient::new(&client, PoolId::new(301, 0));
    let mut buf = client.bulk_alloc(65536).unwrap();
    buf.copy_from_slice(&pattern(42, 65536));
    ram.write_at(8192, &buf).unwrap();
    let held_block = BdevClient::new(&client, FILE_DEV).allocate(4096).unwrap();
    let bdev = artifacts().dir().join("libchimaera_bdev.so").display().to_string();
    let (code, out, err) = chimaera(&rt, &["module", "upgrade", "chimaera_bdev", &bdev, "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let outcome: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pools: Vec<_> = outcome["pools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["pool_id"].clone(), p["state_handed_over"].clone()))
        .collect();
    assert_eq!(
        pools,
        [
            (serde_json::json!("300.0"), serde_json::json!(true)),
            (serde_json::json!("301.0"), serde_json::json!(true))
        ],
        "{out}"
    );
    let mut back = client.bulk_alloc(65536).unwrap();
    ram.read_at(8192, &mut back).unwrap();
    assert!(back[..] == pattern(42, 65536)[..], "the RAM device's bytes survived the upgrade");
    BdevClient::new(&client, FILE_DEV)
        .free(&held_block)
        .expect("a block allocated before the upgrade is still allocated");
    eprintln!("{out}");
    load.wait_for(2000);
    let checked = load.finish_without_failures();
    eprintln!("{checked} tasks checked during two live upgrades, none failed");

    assert_eq!(version(&client), "0.4.0");
    // The new version took the old one's call count over.
    let stats = client.admin().pool_stats(GREETER).unwrap();
    let calls: u64 =
        serde_json::from_str::<serde_json::Value>(&stats.module_json).unwrap()["calls"].as_u64().unwrap();
    assert!(calls >= calls_before + 1000, "{calls} calls after, {calls_before} before the upgrade");
    let (_, out, _) = chimaera(&rt, &["module", "list", "--json"]);
    let modules: serde_json::Value = serde_json::from_str(&out).unwrap();
    let oot = modules.as_array().unwrap().iter().find(|m| m["mod_name"] == OOT_MODULE).unwrap();
    assert_eq!(oot["version"], "0.4.0");
    assert_eq!(oot["replaced"], serde_json::json!(["0.3.0"]));
    assert_eq!(oot["path"], library(OOT_MODULE_V2));
    let (_, out, _) = chimaera(&rt, &["pool", "list"]);
    let line = out.lines().find(|l| l.starts_with("500.0")).unwrap();
    assert!(line.contains("oot_module") && line.contains("0.4.0"), "{out}");

    // A restart keeps the upgraded version: the record names its library.
    let rt = rt.stop_keeping_dir().start();
    assert_eq!(version(&attach(&rt)), "0.4.0", "after a restart");
    assert!(rt.log().contains("module loaded from the library a live upgrade installed"), "{}", rt.log());
}

#[test]
fn a_failed_upgrade_leaves_the_old_version_serving() {
    let rt = start();
    let client = attach(&rt);
    let cases = [
        (library(MISMATCHED_MODULE), "ABI"),
        (library(GARBAGE_MODULE), "too short for an ELF header"),
        (library(NOT_A_MODULE), "chimod_plugin"),
        (
            artifacts().dir().join("libchimaera_bdev.so").display().to_string(),
            "it is module `chimaera_bdev`, not `oot_module`",
        ),
        ("/nonexistent/liboot_module.so".to_owned(), "/nonexistent/liboot_module.so"),
    ];
    for (path, why) in &cases {
        let (code, out, err) = chimaera(&rt, &["module", "upgrade", OOT_MODULE, path]);
        assert_eq!(code, 1, "{path}: {out}{err}");
        assert!(err.contains(why) && err.contains("oot_module 0.3.0 keeps serving"), "{path}: {err}");
        assert_eq!(version(&client), "0.3.0");
    }
    let (code, _, err) = chimaera(&rt, &["module", "upgrade", "chimaera_admin", &library(OOT_MODULE_V2)]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot be upgraded live"), "{err}");

    // A task that outlasts the drain: the upgrade gives up and says which
    // pool, the task completes on the old version, and nothing was held
    // for longer than the drain.
    let sleeper = client.submit_method(GREETER, oot::SLEEP, &1500, Duration::from_secs(1)).unwrap();
    chimaera_test_support::poll_until(
        "the sleep runs",
        Duration::from_secs(10),
        Duration::from_millis(1),
        || {
            client
                .admin()
                .stats()
                .unwrap()
                .workers
                .iter()
                .any(|w| w.running.is_some_and(|r| r.pool_id == GREETER))
        },
    );
    let e = client
        .admin()
        .upgrade_module(OOT_MODULE, &library(OOT_MODULE_V2), Duration::from_millis(200), false)
        .unwrap_err();
    assert!(e.to_string().contains("pool 500.0: 1 tasks still running after 200ms"), "{e}");
    sleeper.wait(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(version(&client), "0.3.0");
    assert_eq!(client.call_method(GREETER, oot::GREET, &"x".to_owned()).unwrap(), "hello, x!");

    // The new version refuses one of the module's two pools: neither moves.
    let refuser = PoolId::new(501, 0);
    let entry = chimaera::config::ComposeEntry::new(OOT_MODULE, "refuser", refuser)
        .with_param("greeting", "no upgrade");
    client.admin().create_pool(&entry).unwrap();
    let (code, _, err) = chimaera(&rt, &["module", "upgrade", OOT_MODULE, &library(OOT_MODULE_V2)]);
    assert_eq!(code, 1);
    assert!(
        err.contains("pool 501.0: the new version's create failed: this pool refuses its upgrade"),
        "{err}"
    );
    assert_eq!(version(&client), "0.3.0");
    assert_eq!(client.call_method(refuser, oot::VERSION, &()).unwrap(), "0.3.0");
    let (_, out, _) = chimaera(&rt, &["module", "list", "--json"]);
    let modules: serde_json::Value = serde_json::from_str(&out).unwrap();
    let oot = modules.as_array().unwrap().iter().find(|m| m["mod_name"] == OOT_MODULE).unwrap();
    assert_eq!(
        (&oot["version"], &oot["replaced"]),
        (&serde_json::json!("0.3.0"), &serde_json::json!([])),
        "{out}"
    );
}

#[test]
fn a_cluster_upgrades_node_by_node_under_load_with_no_failed_task() {
    let nodes = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
    let mut cluster = chimaera_test_support::Cluster::new(&nodes, "");
    cluster.compose = "  - mod_name: oot_module\n    pool_name: greeter\n    pool_query: broadcast\n    pool_id: 500.0\n    greeting: hello\n".to_owned();
    let runtimes: Vec<_> =
        nodes.iter().map(|a| cluster.spec(a).env("CHI_REPO_PATH", fixture_modules()).start()).collect();
    let check: Check =
        Arc::new(|client, t, i| greet(client, Some(((t + i) % 3) as u32), &format!("n{t}-{i}")));
    let load = Load::start(&runtimes[0].spec().identity(), 3, check);
    load.wait_for(1000);
    let (code, out, err) = chimaera(
        &runtimes[0],
        &["module", "upgrade", OOT_MODULE, &library(OOT_MODULE_V2), "--cluster", "--json"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let outcomes: serde_json::Value = serde_json::from_str(&out).unwrap();
    let upgraded: Vec<_> = outcomes
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["node_id"].clone(), o["new_version"].clone()))
        .collect();
    let expected: Vec<_> = (0..3).map(|n| (serde_json::json!(n), serde_json::json!("0.4.0"))).collect();
    assert_eq!(upgraded, expected, "{out}");
    eprintln!("{out}");
    load.wait_for(1000);
    let total = load.finish_without_failures();
    eprintln!("{total} tasks to three nodes checked during a cluster upgrade, none failed");
    let client = attach(&runtimes[0]);
    for node in 0..3 {
        let task = chimaera_client::TaskSpec {
            route: chimod_sdk::Route::Node(node),
            ..chimaera_client::TaskSpec::new(GREETER, oot::VERSION.id, &[])
        };
        let v = client.submit(&task).unwrap().wait(Some(Duration::from_secs(60))).unwrap();
        assert_eq!(oot::VERSION.decode_output(&v).unwrap(), "0.4.0", "node {node}");
    }
}
