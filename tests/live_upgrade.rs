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
    GARBAGE_MODULE, GREETER, MISMATCHED_MODULE, NOT_A_MODULE, OOT_MODULE, OOT_MODULE_V2, RuntimeProcess,
    StartedRuntime, artifacts, attach, fixture_modules, oot, pattern, pools_config,
};
use chimod_sdk::PoolId;

const FILE_DEV: PoolId = PoolId::new(300, 0);

fn start() -> StartedRuntime {
    let config = format!(
        "{}  - mod_name: chimaera_bdev\n    pool_name: {{dir}}/device.dat\n    pool_query: local\n    pool_id: 300.0\n    capacity: 4M\n    bdev_type: file\n",
        pools_config("workers:\n  sched_threads: 2\n  slow_threads: 1\n", "")
    );
    RuntimeProcess::new(&config).env("CHI_REPO_PATH", fixture_modules()).start()
}

/// `chimaera ARGS` against `rt`: its exit code, stdout and stderr.
fn chimaera(rt: &StartedRuntime, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(artifacts().bin("chimaera"))
        .args(args)
        .env("CHI_SERVER_CONF", rt.spec().config_path())
        .env_remove("CHI_NODE_ADDRESS")
        .output()
        .expect("run chimaera");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

fn library(name: &str) -> String {
    fixture_modules().join(format!("lib{name}.so")).display().to_string()
}

fn version(client: &Client) -> String {
    client.call_method(GREETER, oot::VERSION, &()).expect("version")
}

/// Client threads that check every answer until told to stop.
struct Load {
    stop: Arc<AtomicBool>,
    checked: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<Vec<String>>>,
}

impl Load {
    fn start(port: u16) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let checked = Arc::new(AtomicU64::new(0));
        let threads = (0..3u64)
            .map(|t| {
                let (stop, checked) = (stop.clone(), checked.clone());
                std::thread::spawn(move || {
                    let client = Client::attach_port(port, Duration::from_secs(10)).unwrap();
                    let mut failures = Vec::new();
                    let mut buf = client.bulk_alloc(4096).unwrap();
                    let mut back = client.bulk_alloc(4096).unwrap();
                    let dev = BdevClient::new(&client, FILE_DEV);
                    for i in 0u64.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let result = if t == 2 {
                            // The file device: a write and its read-back.
                            let offset = (i % 256) * 4096;
                            buf.copy_from_slice(&pattern(i, 4096));
                            dev.write_at(offset, &buf)
                                .and_then(|_| dev.read_at(offset, &mut back))
                                .map_err(|e| e.to_string())
                                .and_then(|_| {
                                    if back[..] == pattern(i, 4096)[..] {
                                        Ok(())
                                    } else {
                                        Err("wrong bytes".into())
                                    }
                                })
                        } else {
                            let name = format!("n{t}-{i}");
                            match client.call_method(GREETER, oot::GREET, &name) {
                                Ok(answer) if answer == format!("hello, {name}!") => Ok(()),
                                Ok(answer) => Err(format!("wrong answer {answer:?}")),
                                Err(e) => Err(e.to_string()),
                            }
                        };
                        match result {
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

    fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let failures = self.threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        (self.checked.load(Ordering::Relaxed), failures)
    }
}

#[test]
fn modules_upgraded_under_load_fail_no_task_and_the_new_version_answers() {
    let rt = start();
    let client = attach(&rt);
    assert_eq!(version(&client), "0.3.0");
    let load = Load::start(rt.spec().port());
    load.wait_for(2000);
    let (code, out, err) = chimaera(&rt, &["module", "upgrade", OOT_MODULE, &library(OOT_MODULE_V2)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("module oot_module: 0.3.0 -> 0.4.0"), "{out}");
    assert!(out.contains("pool 500.0: created anew from its parameters; new tasks held"), "{out}");
    eprintln!("{out}");
    load.wait_for(2000);
    // The file device's module too, while its pool is written and read.
    let bdev = artifacts().dir().join("libchimaera_bdev.so").display().to_string();
    let (code, out, err) = chimaera(&rt, &["module", "upgrade", "chimaera_bdev", &bdev, "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let outcome: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(outcome["pools"][0]["pool_id"], "300.0", "{out}");
    eprintln!("{out}");
    load.wait_for(2000);
    let (checked, failures) = load.finish();
    assert!(
        failures.is_empty(),
        "{} of {checked} tasks failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    eprintln!("{checked} tasks checked during two live upgrades, none failed");

    assert_eq!(version(&client), "0.4.0");
    let (_, out, _) = chimaera(&rt, &["module", "list", "--json"]);
    let modules: serde_json::Value = serde_json::from_str(&out).unwrap();
    let oot = modules.as_array().unwrap().iter().find(|m| m["mod_name"] == OOT_MODULE).unwrap();
    assert_eq!(oot["version"], "0.4.0");
    assert_eq!(oot["replaced"], serde_json::json!(["0.3.0"]));
    assert_eq!(oot["path"], library(OOT_MODULE_V2));
    let (_, out, _) = chimaera(&rt, &["pool", "list"]);
    let line = out.lines().find(|l| l.starts_with("500.0")).unwrap();
    assert!(line.contains("oot_module") && line.contains("0.4.0"), "{out}");
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
        .upgrade_module(OOT_MODULE, &library(OOT_MODULE_V2), Duration::from_millis(200))
        .unwrap_err();
    assert!(e.to_string().contains("pool 500.0: 1 tasks still running after 200ms"), "{e}");
    sleeper.wait(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(version(&client), "0.3.0");
    assert_eq!(client.call_method(GREETER, oot::GREET, &"x".to_owned()).unwrap(), "hello, x!");
}
