//! Pools created and destroyed at runtime outlive the runtime: they are
//! recorded in `runtime.state_dir` before the change is acknowledged and
//! replayed at the next start, after the `compose:` section, by real
//! runtime processes stopped cleanly and SIGKILLed at random points.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chimaera::config::ComposeEntry;
use chimaera_client::{BdevClient, Client};
use chimaera_test_support::{RAM_DEV_ENTRY, RuntimeProcess, SMALL_CONFIG, StartedRuntime, attach, pattern};
use chimod_sdk::PoolId;

/// The compose section: a file device and a RAM device.
fn config() -> String {
    format!(
        "{SMALL_CONFIG}compose:
  - mod_name: chimaera_bdev
    pool_name: {{dir}}/composed.dat
    pool_query: local
    pool_id: 300.0
    capacity: 1M
    bdev_type: file
{RAM_DEV_ENTRY}"
    )
}

fn custom(i: u32) -> ComposeEntry {
    ComposeEntry::new("chimaera_custom_mod", format!("runtime_pool_{i}"), PoolId::new(400, i))
        .with_param("custom_param1", format!("v{i}"))
        .with_param("custom_param2", "x")
}

/// The pools the runtime lists: id to name.
fn pools(client: &Client) -> BTreeMap<String, String> {
    client
        .admin()
        .list_pools()
        .expect("list pools")
        .into_iter()
        .map(|p| (p.pool_id.to_string(), p.pool_name))
        .collect()
}

/// Stops `rt` cleanly and starts it again, whose ready line says `counts`.
fn restart_expecting(rt: StartedRuntime, counts: &str) -> StartedRuntime {
    let rt = rt.stop_keeping_dir().start();
    assert!(rt.wait_ready_line().contains(counts), "{}", rt.wait_ready_line());
    rt
}

fn record_dir(rt: &StartedRuntime) -> PathBuf {
    rt.spec().dir().join("state").join(rt.spec().identity().to_string())
}

#[test]
fn pools_created_and_destroyed_at_runtime_are_back_after_a_restart_with_their_data() {
    let rt = RuntimeProcess::new(&config()).start();
    let data = pattern(7, 64 << 10);
    let before = {
        let client = attach(&rt);
        let admin = client.admin();
        for i in 0..100 {
            admin.create_pool(&custom(i)).unwrap();
        }
        let device = rt.spec().dir().join("runtime.dat").display().to_string();
        let file_dev = ComposeEntry::new("chimaera_bdev", device, PoolId::new(310, 0))
            .with_param("capacity", "1M")
            .with_param("bdev_type", "file");
        admin.create_pool(&file_dev).unwrap();
        let dev = BdevClient::new(&client, PoolId::new(310, 0));
        let mut buf = client.bulk_alloc(data.len() as u64).unwrap();
        buf.copy_from_slice(&data);
        dev.write_at(4096, &buf).unwrap();
        // A compose pool and a runtime pool destroyed at runtime.
        admin.destroy_pool(PoolId::new(301, 0)).unwrap();
        admin.destroy_pool(PoolId::new(400, 50)).unwrap();
        let before = pools(&client);
        assert_eq!(before.len(), 1 + 1 + 99 + 1, "{before:?}");
        before
    };

    let rt = restart_expecting(rt, "pools 1 created 0 failed 100 restored");
    let client = attach(&rt);
    assert_eq!(pools(&client), before, "every pool back, the destroyed ones still gone");
    assert!(rt.log().contains("compose[1]: not created: it was destroyed at runtime"), "{}", rt.log());
    let dev = BdevClient::new(&client, PoolId::new(310, 0));
    let mut back = client.bulk_alloc(data.len() as u64).unwrap();
    dev.read_at(4096, &mut back).unwrap();
    assert!(back[..] == data[..], "the file device reopened with its data");
    drop((back, dev));

    // Created again at runtime, the compose pool comes back with its file's
    // parameters; running the file's compose again changes nothing.
    let ram = ComposeEntry::new("chimaera_bdev", "ram_dev", PoolId::new(301, 0))
        .with_param("capacity", "1M")
        .with_param("bdev_type", "ram");
    client.admin().create_pool(&ram).unwrap();
    drop(client);
    let rt2 = restart_expecting(rt, "pools 2 created 0 failed 100 restored");
    let client = attach(&rt2);
    let after = pools(&client);
    assert_eq!(after.len(), before.len() + 1);
    assert_eq!(after.get("301.0").map(String::as_str), Some("ram_dev"));
    let record = std::fs::read_to_string(record_dir(&rt2).join("pools.json")).unwrap();
    // 99 + 310.0 + 301.0 (now a runtime creation, so it outlives a compose
    // section that drops it): no duplicates, and the tombstone lifted.
    assert_eq!(record.matches("\"pool_id\"").count(), 101, "{record}");
    assert!(!record.contains("destroyed"), "{record}");
}

/// What the client thread saw acknowledged, and the change it had in flight
/// when the runtime died (which may or may not have taken effect).
#[derive(Debug, Default)]
struct Seen {
    acked: BTreeMap<u32, bool>,
    in_flight: Option<(u32, bool)>,
}

#[test]
fn a_sigkill_at_any_point_of_creations_and_destructions_leaves_the_old_or_the_new_state() {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("seed {seed}");
    let mut rng = seed | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut spec = RuntimeProcess::new(SMALL_CONFIG);
    // Pool i exists (true) or not: what the last restart showed.
    let mut expected: BTreeMap<u32, bool> = BTreeMap::new();
    let mut created_total = 0;
    let mut round = 0;
    while created_total < 100 || round < 6 {
        round += 1;
        let rt = spec.start();
        let client = attach(&rt);
        let listed = pools(&client);
        let exists: BTreeMap<u32, bool> =
            expected.keys().map(|i| (*i, listed.contains_key(&format!("400.{i}")))).collect();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let worker = {
            let seen = seen.clone();
            let mut state = exists.clone();
            let start = (round - 1) * 1000;
            std::thread::spawn(move || {
                for step in 0u32.. {
                    // Create a new pool, and every third step destroy one.
                    let (id, create) = match state.iter().find(|(_, e)| **e).map(|(i, _)| *i) {
                        Some(old) if step % 3 == 2 => (old, false),
                        _ => (start + step, true),
                    };
                    seen.lock().unwrap().in_flight = Some((id, create));
                    let result = if create {
                        client.admin().create_pool(&custom(id)).map(drop)
                    } else {
                        client.admin().destroy_pool(PoolId::new(400, id))
                    };
                    if result.is_err() {
                        return;
                    }
                    state.insert(id, create);
                    let mut seen = seen.lock().unwrap();
                    seen.acked.insert(id, create);
                    seen.in_flight = None;
                }
            })
        };
        // The random point of the kill: a sleep, deliberately.
        std::thread::sleep(Duration::from_millis(5 + next() % 120));
        spec = rt.kill_keeping_state();
        worker.join().unwrap();
        let seen = Arc::try_unwrap(seen).unwrap().into_inner().unwrap();
        let mut want = exists;
        want.extend(seen.acked.iter().map(|(i, c)| (*i, *c)));
        created_total += seen.acked.values().filter(|c| **c).count();

        let rt = spec.start();
        let client = attach(&rt);
        let listed = pools(&client);
        let mut actual: BTreeMap<u32, bool> =
            want.keys().map(|i| (*i, listed.contains_key(&format!("400.{i}")))).collect();
        if let Some((id, create)) = seen.in_flight {
            let now = listed.contains_key(&format!("400.{id}"));
            let before = want.get(&id).copied().unwrap_or(false);
            assert!(
                now == before || now == create,
                "round {round}: pool 400.{id} in flight ({create}) is {now}"
            );
            actual.insert(id, now);
            want.insert(id, now);
        }
        assert_eq!(actual, want, "round {round} (seed {seed}): acknowledged changes lost or undone");
        let unexpected: Vec<_> = listed
            .keys()
            .filter(|k| k.starts_with("400."))
            .filter(|k| {
                let i: u32 = k[4..].parse().unwrap();
                !want.get(&i).copied().unwrap_or(false)
            })
            .collect();
        assert!(unexpected.is_empty(), "round {round}: pools that were never acknowledged: {unexpected:?}");
        expected = want;
        drop(client);
        spec = rt.stop_keeping_dir();
    }
    eprintln!("{round} rounds, {created_total} creations acknowledged, all back after each SIGKILL");
}

#[test]
fn a_record_that_cannot_be_read_is_kept_aside_and_one_that_cannot_be_written_refuses_the_change() {
    let spec = RuntimeProcess::new(SMALL_CONFIG);
    let dir = spec.dir().join("state").join(spec.identity().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pools.json"), "not json at all").unwrap();
    let rt = spec.start();
    assert!(rt.log().contains("could not be read"), "{}", rt.log());
    let aside: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("pools.json.bad-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(std::fs::read_to_string(dir.join(&aside[0])).unwrap(), "not json at all");
    let client = attach(&rt);
    client.admin().create_pool(&custom(1)).unwrap();
    // The state directory gone: the next creation cannot be recorded, so it
    // is refused and the runtime keeps serving.
    std::fs::remove_dir_all(&dir).unwrap();
    let e = client.admin().create_pool(&custom(2)).unwrap_err().to_string();
    assert!(e.contains("could not be recorded") && e.contains("pools.json"), "{e}");
    assert!(!pools(&client).contains_key("400.2"));
    client.admin().ping().unwrap();
}

#[test]
fn a_state_directory_that_cannot_be_made_stops_the_start_and_an_empty_one_keeps_nothing() {
    let blocker = tempfile::NamedTempFile::new().unwrap();
    let mut rt = RuntimeProcess::new(SMALL_CONFIG).env("CHI_STATE_DIR", blocker.path()).spawn();
    assert!(rt.wait_ready().is_err());
    assert_eq!(rt.wait_exit().code(), Some(2));
    let err = rt.stderr();
    assert!(
        err.contains("runtime.state_dir") && err.contains(&blocker.path().display().to_string()),
        "{err}"
    );

    let rt = RuntimeProcess::new(SMALL_CONFIG).env("CHI_STATE_DIR", "").start();
    assert!(rt.log().contains("not kept across restarts"), "{}", rt.log());
    attach(&rt).admin().create_pool(&custom(3)).unwrap();
    let rt = rt.stop_keeping_dir().start();
    assert!(!pools(&attach(&rt)).contains_key("400.3"));
    assert!(!rt.spec().dir().join("state").exists());
}
