//! Tasks that wait on subtasks, periodic tasks and the task stack, on real
//! runtime processes: the example module's RELAY sends subtasks to other
//! pools (the out-of-tree module's included) from inside a task.

use std::time::{Duration, Instant};

use chimaera_client::{ClientError, TaskSpec};
use chimaera_custom_api::{RELAY, Relay, TICK};
use chimaera_test_support::oot::{GREET, RECURSE, SLEEP};
use chimaera_test_support::{GREETER, TWO_PLUS_ONE, attach, start_with_pools};
use chimod_sdk::admin::HEARTBEAT;
use chimod_sdk::{Method, PoolId};
use serde::Serialize;
use serde::de::DeserializeOwned;

const ONE_SCHED_ONLY: &str = "workers:\n  sched_threads: 1\n  slow_threads: 0\n";

fn relay<I: Serialize + DeserializeOwned, O: Serialize + DeserializeOwned>(
    pool: PoolId,
    method: Method<I, O>,
    input: &I,
    copies: u32,
) -> Relay {
    Relay {
        pool_id: pool,
        method: method.id,
        input: method.encode_input(input).unwrap(),
        long: false,
        copies,
        route: chimod_sdk::Route::Local,
    }
}

#[test]
fn a_task_waits_on_subtasks_in_another_module_s_pool() {
    let rt = start_with_pools(TWO_PLUS_ONE, "");
    let client = attach(&rt);
    let outputs = client
        .call_method(PoolId::new(400, 0), RELAY, &relay(GREETER, GREET, &"relay".to_owned(), 3))
        .unwrap();
    assert_eq!(outputs.len(), 3);
    for out in outputs {
        assert_eq!(GREET.decode_output(&out).unwrap(), "hello, relay!");
    }
    // A subtask's failure reaches the waiting task, which reports it.
    let err = client
        .call_method(PoolId::new(400, 0), RELAY, &relay(PoolId::new(777, 0), GREET, &"x".to_owned(), 1))
        .unwrap_err();
    assert!(matches!(&err, ClientError::Failed(m) if m.contains("no pool 777.0")), "{err}");
}

#[test]
fn nested_subtasks_on_a_single_worker_do_not_deadlock() {
    // One worker in all: if waiting blocked the worker, the first wait
    // would hang forever, since its subtask needs that same worker.
    let rt = start_with_pools(ONE_SCHED_ONLY, "");
    let client = attach(&rt);
    let inner = relay(GREETER, GREET, &"deep".to_owned(), 4);
    let outer = Relay {
        pool_id: PoolId::new(400, 1),
        method: RELAY.id,
        input: RELAY.encode_input(&inner).unwrap(),
        long: false,
        copies: 4,
        route: chimod_sdk::Route::Local,
    };
    let input = RELAY.encode_input(&outer).unwrap();
    let output = client
        .submit(&TaskSpec::new(PoolId::new(400, 0), RELAY.id, &input))
        .unwrap()
        .wait(Some(Duration::from_secs(30)));
    let outer_outputs = RELAY.decode_output(&output.expect("nested relay completes")).unwrap();
    assert_eq!(outer_outputs.len(), 4);
    for inner_output in outer_outputs {
        let greetings = RELAY.decode_output(&inner_output).unwrap();
        assert_eq!(greetings.len(), 4);
        for g in greetings {
            assert_eq!(GREET.decode_output(&g).unwrap(), "hello, deep!");
        }
    }
}

#[test]
fn a_waiting_task_leaves_its_worker_free_for_others() {
    // One scheduler worker and one slow worker. The relay runs on the
    // scheduler worker and waits for a long subtask on the slow worker.
    let rt = start_with_pools("workers:\n  sched_threads: 1\n  slow_threads: 1\n", "");
    let client = attach(&rt);
    let mut long = relay(GREETER, SLEEP, &3000, 1);
    long.long = true;
    let input = RELAY.encode_input(&long).unwrap();
    let pending = client.submit(&TaskSpec::new(PoolId::new(400, 0), RELAY.id, &input)).unwrap();
    let sched_suspended = || client.admin().stats().unwrap().workers[0].suspended;
    let started = Instant::now();
    while sched_suspended() == 0 {
        assert!(started.elapsed() < Duration::from_secs(20), "the relay never suspended");
        std::thread::yield_now();
    }
    // The only scheduler worker serves these while the relay waits on it.
    for i in 0..200u32 {
        let name = format!("n{i}");
        assert_eq!(client.call_method(GREETER, GREET, &name).unwrap(), format!("hello, {name}!"));
    }
    assert_eq!(sched_suspended(), 1, "the relay was still waiting while the greetings ran");
    let outputs = RELAY.decode_output(&pending.wait(Some(Duration::from_secs(30))).unwrap()).unwrap();
    assert_eq!(outputs, vec![Vec::<u8>::new()]);
    assert_eq!(sched_suspended(), 0);
}

#[test]
fn periodic_tasks_run_every_period_until_cancelled() {
    let rt = start_with_pools(TWO_PLUS_ONE, "  heartbeat_interval: 50\n");
    let client = attach(&rt);
    let admin = client.admin();
    let period = Duration::from_millis(20);
    let id = admin.schedule_periodic(PoolId::new(400, 2), TICK, &(), period).unwrap();
    let runs = || {
        let stats = admin.stats().unwrap();
        let entry = stats.periodic.iter().find(|p| p.id == id).cloned().expect("listed");
        (stats.heartbeats, stats.uptime_ms, entry)
    };
    let (_, _, first) = runs();
    let t0 = Instant::now();
    // Time must pass for periodic runs to happen; this waits for the count.
    while runs().2.runs < first.runs + 25 {
        assert!(t0.elapsed() < Duration::from_secs(30), "periodic task stalled at {:?}", runs().2);
        std::thread::sleep(Duration::from_millis(10));
    }
    let elapsed = t0.elapsed();
    let (heartbeats, uptime_ms, entry) = runs();
    let ran = entry.runs - first.runs;
    // Never more often than the period allows (one tick of slack either end).
    let most = elapsed.as_millis() as u64 / 20 + 2;
    assert!(ran <= most, "{ran} runs in {elapsed:?} with a 20 ms period");
    assert_eq!(entry.failures, 0, "{:?}", entry.last_error);
    // The module saw every run: its own count is at least the runtime's.
    let ticks = client.call_method(PoolId::new(400, 2), TICK, &()).unwrap();
    assert!(ticks > entry.runs, "module counted {ticks}, runtime {}", entry.runs);
    // The heartbeat is a periodic task of the admin pool, every 50 ms here.
    let hb = stats_entry(&admin.stats().unwrap().periodic, HEARTBEAT.id);
    assert_eq!(hb.period_ms, 50);
    assert!(heartbeats >= 1 && heartbeats <= uptime_ms / 50 + 1, "{heartbeats} heartbeats in {uptime_ms} ms");

    admin.cancel_periodic(id).unwrap();
    assert!(admin.stats().unwrap().periodic.iter().all(|p| p.id != id));
    let before = client.call_method(PoolId::new(400, 2), TICK, &()).unwrap();
    // Several periods pass with no run: only this test's own calls count.
    std::thread::sleep(period * 10);
    let after = client.call_method(PoolId::new(400, 2), TICK, &()).unwrap();
    assert!(after <= before + 2, "ticks went on after cancel: {before} -> {after}");
    assert!(admin.cancel_periodic(id).is_err(), "cancelling twice is an error");
}

fn stats_entry(
    periodic: &[chimod_sdk::admin::PeriodicStats],
    method: u32,
) -> chimod_sdk::admin::PeriodicStats {
    periodic
        .iter()
        .find(|p| p.method == method && p.pool_id == PoolId::ADMIN)
        .cloned()
        .expect("heartbeat listed")
}

#[test]
fn bad_periodic_requests_are_refused() {
    let rt = start_with_pools(TWO_PLUS_ONE, "");
    let client = attach(&rt);
    let admin = client.admin();
    let err = admin.schedule_periodic(PoolId::new(400, 0), TICK, &(), Duration::ZERO).unwrap_err();
    assert!(err.to_string().contains("period_ms must be at least 1"), "{err}");
    let err = admin.schedule_periodic(PoolId::new(999, 0), TICK, &(), Duration::from_millis(5)).unwrap_err();
    assert!(err.to_string().contains("no pool 999.0"), "{err}");
    // A periodic task whose method fails is counted, logged once, and runs on.
    let id =
        admin.schedule_periodic(GREETER, Method::<(), ()>::new(99), &(), Duration::from_millis(5)).unwrap();
    let started = Instant::now();
    loop {
        let stats = admin.stats().unwrap();
        let entry = stats.periodic.iter().find(|p| p.id == id).cloned().unwrap();
        if entry.failures >= 3 {
            assert!(entry.last_error.unwrap().contains("oot_module has no method 99"));
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "failing periodic task did not run");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(rt.log().matches("periodic task failed").count(), 1, "a repeated failure is logged once");
    assert!(admin.ping().is_ok());
}

#[test]
fn stack_size_bounds_how_deep_a_task_may_recurse() {
    // 300 levels of 1 KiB frames: fine on a 4 MiB task stack...
    let rt = start_with_pools(TWO_PLUS_ONE, "  stack_size: 4M\n");
    let client = attach(&rt);
    assert!(client.call_method(GREETER, RECURSE, &300).unwrap() > 0);
    drop(client);
    assert_eq!(rt.terminate().code(), Some(0));

    // ...and beyond a 64 KiB one: the runtime says so and which key to raise.
    let mut rt = start_with_pools(TWO_PLUS_ONE, "  stack_size: 64K\n");
    let client = attach(&rt);
    let err = client.call_method(GREETER, RECURSE, &300).unwrap_err();
    assert!(matches!(err, ClientError::RuntimeDied { .. }), "{err}");
    let status = rt.wait_exit();
    assert!(!status.success());
    let stderr = rt.stderr();
    assert!(
        stderr.contains(
            "a task (pool 500.0, method 13) overflowed its stack of 65536 bytes; raise runtime.stack_size"
        ),
        "{stderr}"
    );
}
