//! The task engine end to end: real runtime processes, clients in this
//! process attached through shared memory, the utilities as processes.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chimaera_client::{Client, ClientError, TaskSpec};
use chimaera_test_support::oot::{GREET, PANIC, SLEEP};
use chimaera_test_support::{
    ECHO, GREETER, RuntimeProcess, SMALL_CONFIG, StartedRuntime, TWO_PLUS_ONE, artifacts, attach,
    start_with_pools, tasks_done,
};
use chimod_sdk::PoolId;
use chimod_sdk::admin::{CreateOutcome, PING};

fn start(workers: &str, extra_runtime: &str) -> StartedRuntime {
    start_with_pools(workers, extra_runtime)
}

#[test]
fn many_threads_many_pools_every_result_right() {
    let rt = start(TWO_PLUS_ONE, "");
    let port = rt.spec().port();
    let threads: Vec<_> = (0..6)
        .map(|t| {
            std::thread::spawn(move || {
                let client = Client::attach_port(port, Duration::from_secs(10)).unwrap();
                for i in 0..500u32 {
                    let pool = PoolId::new(400, i % 4);
                    let payload = format!("thread {t} task {i}").into_bytes();
                    assert_eq!(client.call_method(pool, ECHO, &payload).unwrap(), payload);
                    let name = format!("{t}/{i}");
                    assert_eq!(client.call_method(GREETER, GREET, &name).unwrap(), format!("hello, {name}!"));
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let client = attach(&rt);
    assert!(tasks_done(&client) >= 6 * 500 * 2);
    assert_eq!(rt.terminate().code(), Some(0));
}

#[test]
fn several_client_processes_at_once() {
    let rt = start(TWO_PLUS_ONE, "");
    let bench = artifacts().bin("chimaera_bench");
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(&bench)
                .args([
                    "--port",
                    &rt.spec().port().to_string(),
                    "--tasks",
                    "3000",
                    "--threads",
                    "2",
                    "--window",
                    "8",
                ])
                .output()
                .unwrap()
        })
        .collect();
    for out in children {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(tasks_done(&attach(&rt)) >= 3 * (10_000 + 3 * 3000));
}

/// Processes running `chimaera_bench --burn-cpu` (what `--contend` starts).
fn cpu_burners() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).any(|arg| arg == b"--burn-cpu"))
        })
        .collect()
}

#[test]
fn the_bench_prints_quiet_and_contended_figures_side_by_side_and_stops_its_contenders() {
    let rt = start(TWO_PLUS_ONE, "");
    let out = Command::new(artifacts().bin("chimaera_bench"))
        .args(["--port", &rt.spec().port().to_string()])
        .args(["--tasks", "2000", "--threads", "1", "--window", "8", "--repeat", "2", "--contend", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].contains("median of 2"), "{stdout}");
    let header: Vec<&str> = lines[1].split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(header, ["quiet", "2 CPU-bound processes"], "{stdout}");
    for figure in ["round trip p50", "throughput sync, 1", "throughput pipelined (window 8), 1"] {
        let line =
            lines.iter().find(|l| l.starts_with(figure)).unwrap_or_else(|| panic!("{figure}: {stdout}"));
        let values = line.matches(" us (").count() + line.matches(" tasks/s (").count();
        assert_eq!(values, 2, "a figure per column, with its range: {line}");
    }
    assert!(stdout.contains("rerun: chimaera_bench --tasks 2000"), "{stdout}");
    assert_eq!(cpu_burners(), Vec::<u32>::new(), "the bench stopped its CPU-bound processes");
}

#[test]
fn a_full_lane_pushes_back_then_everything_completes() {
    // One worker, lanes of 4: a window of 200 keeps the lane full.
    let rt = start("workers:\n  sched_threads: 1\n  slow_threads: 0\n", "  queue_depth: 4\n");
    let client = attach(&rt);
    let input = ECHO.encode_input(&b"x".to_vec()).unwrap();
    let spec = TaskSpec::new(PoolId::new(400, 0), ECHO.id, &input);
    let mut pending = std::collections::VecDeque::new();
    for _ in 0..2000 {
        if pending.len() == 200 {
            let task: chimaera_client::PendingTask<'_> = pending.pop_front().unwrap();
            assert_eq!(ECHO.decode_output(&task.wait(None).unwrap()).unwrap(), b"x");
        }
        pending.push_back(client.submit(&spec).unwrap());
    }
    for task in pending {
        assert_eq!(ECHO.decode_output(&task.wait(None).unwrap()).unwrap(), b"x");
    }
}

#[test]
fn a_full_lane_past_the_timeout_is_an_error() {
    let rt = start("workers:\n  sched_threads: 1\n  slow_threads: 0\n", "  queue_depth: 2\n");
    let client = attach(&rt);
    let sleep = SLEEP.encode_input(&2000).unwrap();
    let blocker = TaskSpec::new(GREETER, SLEEP.id, &sleep);
    // One running, two queued: the lane is full.
    let held: Vec<_> = (0..3).map(|_| client.submit(&blocker).unwrap()).collect();
    let mut spec = blocker.clone();
    spec.submit_timeout = Duration::from_millis(200);
    match client.submit(&spec) {
        Err(ClientError::QueueFull { depth, .. }) => assert_eq!(depth, 2),
        other => panic!("expected QueueFull, got {other:?}"),
    }
    drop(held);
}

#[test]
fn fast_tasks_complete_while_a_slow_worker_runs_a_long_task() {
    let rt = start(TWO_PLUS_ONE, "");
    let client = attach(&rt);
    let sleep = SLEEP.encode_input(&3000).unwrap();
    let mut long = TaskSpec::new(GREETER, SLEEP.id, &sleep);
    long.est_cpu = Duration::from_secs(3);
    let long_task = client.submit(&long).unwrap();
    for _ in 0..100 {
        client.call_method(PoolId::ADMIN, PING, &()).unwrap();
    }
    let stats = client.admin().stats().unwrap();
    let slow: Vec<_> = stats.workers.iter().filter(|w| w.kind == "slow").collect();
    assert_eq!(slow.len(), 1);
    assert_eq!(slow[0].tasks_done, 0, "the long task is still running on the slow worker");
    // The long task shows in the stats: which pool and method, for how long.
    let running = slow[0].running.expect("the slow worker reports its running task");
    assert_eq!((running.pool_id, running.method), (GREETER, SLEEP.id));
    assert!(running.running_ms < 3000 + 1000, "{running:?}");
    long_task.wait(None).unwrap();
    let slow = client.admin().stats().unwrap().workers.into_iter().find(|w| w.kind == "slow").unwrap();
    assert_eq!(slow.tasks_done, 1);
    assert_eq!(slow.running, None, "idle again");
}

#[test]
fn fire_and_forget_tasks_run() {
    let rt = start(TWO_PLUS_ONE, "");
    let client = attach(&rt);
    let before = tasks_done(&client);
    let input = PING.encode_input(&()).unwrap();
    for _ in 0..1000 {
        client.fire_and_forget(&TaskSpec::new(PoolId::ADMIN, PING.id, &input)).unwrap();
    }
    // Completion is observed through the runtime's own counters; the stats
    // tasks themselves count too (one per poll).
    let started = Instant::now();
    let mut polls = 0;
    while tasks_done(&client) < before + 1000 + polls {
        polls += 1;
        assert!(started.elapsed() < Duration::from_secs(30), "fire-and-forget tasks did not all run");
    }
    // Every slot came back: a full round of waited tasks still works.
    for _ in 0..3000 {
        client.call_method(PoolId::ADMIN, PING, &()).unwrap();
    }
}

#[test]
fn errors_panics_and_unknown_pools_fail_only_their_task() {
    let rt = start(TWO_PLUS_ONE, "");
    let client = attach(&rt);
    match client.call_method(GREETER, PANIC, &()) {
        Err(ClientError::Panicked(m)) => assert_eq!(m, "module panicked: asked to panic in a call"),
        other => panic!("{other:?}"),
    }
    match client.call(PoolId::new(999, 9), 10, &[]) {
        Err(ClientError::PoolNotFound(m)) => assert_eq!(m, "no pool 999.9 on this node"),
        other => panic!("{other:?}"),
    }
    match client.call(GREETER, 77, &[]) {
        Err(ClientError::Failed(m)) => assert!(m.contains("no method 77"), "{m}"),
        other => panic!("{other:?}"),
    }
    match client.call(GREETER, GREET.id, &[0xff; 3]) {
        Err(ClientError::Failed(m)) => assert!(m.contains("malformed task data"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(client.call_method(GREETER, GREET, &"still".to_owned()).unwrap(), "hello, still!");
    // The panic is one error line of logging.file, naming the module and
    // the pool, not a raw panic and backtrace on stderr alone.
    let log = rt.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("asked to panic in a call")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("ERROR") && lines[0].contains("panicked at "), "{}", lines[0]);
    assert!(lines[0].contains("greeter"), "the pool is named: {}", lines[0]);
    assert!(!rt.stderr().contains("stack backtrace"), "{}", rt.stderr());
}

#[test]
fn a_killed_runtime_is_an_error_not_a_hang() {
    let rt = start(TWO_PLUS_ONE, "");
    let client = attach(&rt);
    let sleep = SLEEP.encode_input(&60_000).unwrap();
    let task = client.submit(&TaskSpec::new(GREETER, SLEEP.id, &sleep)).unwrap();
    let spec = rt.kill_keeping_state();
    let started = Instant::now();
    match task.wait(None) {
        Err(ClientError::RuntimeDied { .. }) => {}
        other => panic!("expected RuntimeDied, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10), "noticed only after {:?}", started.elapsed());
    assert!(matches!(client.call_method(PoolId::ADMIN, PING, &()), Err(ClientError::RuntimeDied { .. })));
    spec.remove_shared_memory();
}

#[test]
fn no_runtime_is_a_clear_error() {
    let port = chimaera_test_support::unique_port();
    let err = Client::attach_port(port, Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, ClientError::NoRuntime { .. }), "{err}");
    assert!(err.to_string().starts_with(&format!("no Chimaera runtime is running for port {port}")));
}

#[test]
fn every_lane_map_policy_spreads_as_documented() {
    for policy in ["round_robin", "map_by_pid_tid", "random"] {
        let rt = start(
            "workers:\n  sched_threads: 3\n  slow_threads: 0\n",
            &format!("  lane_map_policy: {policy}\n"),
        );
        let client = attach(&rt);
        let per_lane = |client: &Client| -> Vec<u64> {
            client.admin().stats().unwrap().workers.iter().map(|w| w.tasks_done).collect()
        };
        // One call at a time: the worker that answered stays awake and
        // takes the next call; the others sleep (docs/deployment.md).
        for _ in 0..400 {
            client.call_method(PoolId::ADMIN, PING, &()).unwrap();
        }
        let calls = per_lane(&client);
        let busiest = *calls.iter().max().unwrap();
        assert!(busiest >= 200, "{policy}: one worker takes most single calls: {calls:?}");
        // A burst that one worker cannot keep up with reaches every lane,
        // except under map_by_pid_tid, where one client thread has one lane.
        let sleep = SLEEP.encode_input(&1).unwrap();
        let spec = TaskSpec::new(GREETER, SLEEP.id, &sleep);
        let burst: Vec<_> = (0..240).map(|_| client.submit(&spec).unwrap()).collect();
        burst.into_iter().for_each(|t| drop(t.wait(None).unwrap()));
        let after = per_lane(&client);
        let burst_lanes: Vec<u64> = after.iter().zip(&calls).map(|(a, c)| a - c).collect();
        match policy {
            "map_by_pid_tid" => {
                assert_eq!(burst_lanes.iter().filter(|n| **n > 0).count(), 1, "{policy}: {burst_lanes:?}")
            }
            _ => assert!(burst_lanes.iter().all(|n| *n > 10), "{policy}: {burst_lanes:?}"),
        }
    }
}

#[test]
fn an_idle_runtime_sleeps_and_still_answers() {
    let rt = start(TWO_PLUS_ONE, "");
    let client = attach(&rt);
    client.call_method(PoolId::ADMIN, PING, &()).unwrap();
    // Nanoseconds on a CPU, summed over the runtime's threads. Not
    // utime + stime from /proc/PID/stat: those count whole 10 ms clock
    // ticks, and an idle runtime's few milliseconds in 3 s read as 0, 1, 2
    // or 3 ticks by chance.
    let cpu_ns = |pid: u32| -> u64 {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
            .map(|line| line.split_whitespace().next().unwrap().parse::<u64>().unwrap())
            .sum()
    };
    let before = cpu_ns(rt.pid());
    let window = Duration::from_secs(3);
    std::thread::sleep(window);
    let used = cpu_ns(rt.pid()).saturating_sub(before) as f64 / 1e9;
    assert!(
        used / window.as_secs_f64() < 0.01,
        "idle runtime used {:.2}% CPU",
        100.0 * used / window.as_secs_f64()
    );
    client.call_method(PoolId::ADMIN, PING, &()).unwrap();
}

#[test]
fn admin_create_is_get_or_create_and_pools_can_be_destroyed() {
    let rt = start(TWO_PLUS_ONE, "");
    let client = attach(&rt);
    let admin = client.admin();
    let entry = |p1: &str| {
        let yaml = format!(
            "compose:\n  - mod_name: chimaera_custom_mod\n    pool_name: added\n    pool_query: local\n    pool_id: 410.0\n    custom_param1: {p1}\n    custom_param2: b\n"
        );
        chimaera::config::parse_config(&yaml, "test").unwrap().config.compose.remove(0)
    };
    assert_eq!(admin.create_pool(&entry("a")).unwrap(), CreateOutcome::Created);
    assert_eq!(admin.create_pool(&entry("a")).unwrap(), CreateOutcome::AlreadyExists);
    let err = admin.create_pool(&entry("other")).unwrap_err().to_string();
    assert!(
        err.contains("pool 410.0 already exists as `added` (chimaera_custom_mod) with other parameters"),
        "{err}"
    );
    let pools = admin.list_pools().unwrap();
    let added = pools.iter().find(|p| p.pool_id == PoolId::new(410, 0)).unwrap();
    assert_eq!(added.params_json, r#"{"custom_param1":"a","custom_param2":"b"}"#);
    assert_eq!(admin.flush().unwrap(), pools.len() as u32);
    admin.destroy_pool(PoolId::new(410, 0)).unwrap();
    assert!(matches!(client.call(PoolId::new(410, 0), 10, &[]), Err(ClientError::PoolNotFound(_))));
    assert!(admin.destroy_pool(PoolId::ADMIN).unwrap_err().to_string().contains("cannot be destroyed"));
}

/// The guide's own sequence: start, wait for ready, compose, verify, stop.
#[test]
fn compose_and_stop_utilities_end_to_end() {
    let rt = RuntimeProcess::new(SMALL_CONFIG).start();
    let port = rt.spec().port();
    let file = rt.spec().dir().join("pools.yaml");
    std::fs::write(
        &file,
        format!(
            "networking:\n  port: {port}\ncompose:\n  - mod_name: chimaera_bdev\n    pool_name: ram_cache\n    pool_query: local\n    pool_id: 301.0\n    capacity: 4MB\n    bdev_type: ram\n  - mod_name: chimaera_custom_mod\n    pool_name: my_custom_pool\n    pool_query: dynamic\n    pool_id: 400.0\n    custom_param1: value1\n    custom_param2: value2\n"
        ),
    )
    .unwrap();
    let compose = || Command::new(artifacts().bin("chimaera_compose")).arg(&file).output().unwrap();
    let first = compose();
    assert!(
        first.status.success(),
        "{}{}\n{}",
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&first.stderr),
        rt.stderr()
    );
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(out.contains("compose[0] chimaera_bdev 301.0 `ram_cache`: created"), "{out}");
    assert!(out.contains("compose[1] chimaera_custom_mod 400.0 `my_custom_pool`: created"), "{out}");
    let second = compose();
    assert!(second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stdout)
            .contains("compose[1] chimaera_custom_mod 400.0 `my_custom_pool`: already exists")
    );
    let client = attach(&rt);
    let ids: Vec<String> =
        client.admin().list_pools().unwrap().iter().map(|p| p.pool_id.to_string()).collect();
    assert_eq!(ids, ["1.0", "301.0", "400.0"]);
    drop(client);

    let stop = Command::new(artifacts().bin("chimaera_stop_runtime"))
        .args(["--port", &port.to_string()])
        .output()
        .unwrap();
    assert!(stop.status.success(), "{}", String::from_utf8_lossy(&stop.stderr));
    let mut rt = rt;
    assert_eq!(rt.wait_exit().code(), Some(0));
    assert_eq!(rt.segment_sizes(), [None, None, None]);
    assert!(rt.log().contains("stop requested through the admin pool"));

    // Failure exits: nothing to stop; nothing to compose into; a bad file.
    let stop = Command::new(artifacts().bin("chimaera_stop_runtime"))
        .args(["--port", &port.to_string()])
        .output()
        .unwrap();
    assert_eq!(stop.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&stop.stderr).contains("no Chimaera runtime is running"));
    let none = compose();
    assert_eq!(none.status.code(), Some(1));
    std::fs::write(
        &file,
        "compose:\n  - mod_name: x\n    pool_name: y\n    pool_query: nowhere\n    pool_id: 1.5\n",
    )
    .unwrap();
    let bad = compose();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("compose[0].pool_query"));
}

#[test]
fn compose_reports_each_failed_pool_and_exits_1() {
    let rt = RuntimeProcess::new(SMALL_CONFIG).start();
    let file = rt.spec().dir().join("pools.yaml");
    std::fs::write(
        &file,
        "compose:\n  - mod_name: no_such_module\n    pool_name: a\n    pool_query: local\n    pool_id: 600.0\n  - mod_name: chimaera_custom_mod\n    pool_name: ok\n    pool_query: local\n    pool_id: 601.0\n    custom_param1: a\n    custom_param2: b\n",
    )
    .unwrap();
    let out = Command::new(artifacts().bin("chimaera_compose"))
        .arg(&file)
        .args(["--port", &rt.spec().port().to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("compose[0] no_such_module 600.0 `a`: failed: module `no_such_module` not found"),
        "{stdout}"
    );
    assert!(stdout.contains("compose[1] chimaera_custom_mod 601.0 `ok`: created"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 of 2 pools failed"));
}

#[test]
fn stop_fails_in_flight_work_cleanly() {
    let rt = start("workers:\n  sched_threads: 1\n  slow_threads: 0\n", "");
    let client = attach(&rt);
    let sleep = SLEEP.encode_input(&500).unwrap();
    let spec = TaskSpec::new(GREETER, SLEEP.id, &sleep);
    let tasks: Vec<_> = (0..5).map(|_| client.submit(&spec).unwrap()).collect();
    let port = rt.spec().port();
    let stopper = std::thread::spawn(move || {
        Command::new(artifacts().bin("chimaera_stop_runtime"))
            .args(["--port", &port.to_string()])
            .output()
            .unwrap()
    });
    let done = AtomicU64::new(0);
    for task in tasks {
        match task.wait(None) {
            Ok(_) => {
                done.fetch_add(1, Ordering::Relaxed);
            }
            Err(ClientError::Stopping) | Err(ClientError::RuntimeDied { .. }) => {}
            Err(other) => panic!("in-flight task ended with {other:?}"),
        }
    }
    assert!(stopper.join().unwrap().status.success());
    assert!(matches!(
        client.call_method(PoolId::ADMIN, PING, &()),
        Err(ClientError::Stopping | ClientError::RuntimeDied { .. })
    ));
}

#[test]
fn a_killed_client_s_slots_are_reclaimed_and_the_runtime_serves_on() {
    let rt = start(TWO_PLUS_ONE, "");
    let client = attach(&rt);
    let total = client.admin().stats().unwrap().slots_total;
    let free_at_start = client.bulk_stats().unwrap().map(|s| s.free);
    let mut victim = Command::new(env!("CARGO_BIN_EXE_victim_client"))
        .arg(rt.spec().port().to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(victim.stdout.take().unwrap()), &mut line)
        .unwrap();
    assert!(line.starts_with("submitted 40 holding 5 buffers"), "{line}");
    assert!(client.admin().stats().unwrap().slots_free < total - 1, "the victim holds slots");
    let held = client.bulk_stats().unwrap().map(|s| s.free);
    assert!(held[0] < free_at_start[0] && held[1] < free_at_start[1], "the victim holds bulk buffers");
    victim.kill().unwrap();
    victim.wait().unwrap();
    // The reaper runs every 500 ms; the victim's sleep tasks finish first.
    let started = Instant::now();
    loop {
        // Our own stats call holds one slot.
        if client.admin().stats().unwrap().slots_free == total - 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "slots of the dead client were not reclaimed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(rt.log().contains("reclaimed task slots of client processes that died"), "{}", rt.log());
    // Its bulk buffers in both segments come back too.
    while client.bulk_stats().unwrap().map(|s| s.free) != free_at_start {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "bulk buffers of the dead client were not reclaimed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(rt.log().contains("reclaimed bulk buffers of a client process that died"), "{}", rt.log());
    assert_eq!(client.call_method(GREETER, GREET, &"after".to_owned()).unwrap(), "hello, after!");
}

/// Submits echo tasks until the runtime gives no more slots within 200 ms;
/// returns what was submitted and the error that stopped it.
fn fill<'c>(client: &'c Client, pool: PoolId) -> (Vec<chimaera_client::PendingTask<'c>>, ClientError) {
    let input = ECHO.encode_input(&b"x".to_vec()).unwrap();
    let mut held = Vec::new();
    loop {
        let task =
            TaskSpec { submit_timeout: Duration::from_millis(200), ..TaskSpec::new(pool, ECHO.id, &input) };
        match client.submit(&task) {
            Ok(pending) => held.push(pending),
            Err(e) => return (held, e),
        }
    }
}

#[test]
fn a_greedy_client_cannot_starve_admin_tasks_or_take_more_than_its_share() {
    // The default queue depth: the slots, not the lanes, run out first.
    let rt = start(TWO_PLUS_ONE, "  queue_depth: 10000\n");
    let greedy = attach(&rt);
    let (mut held, why) = fill(&greedy, PoolId::new(400, 0));
    assert!(matches!(why, ClientError::NoFreeSlot { .. }), "{why}");
    // Every slot but the admin reserve is held: status and stop still get through.
    let status = Command::new(artifacts().bin("chimaera_status"))
        .args(["--port", &rt.spec().port().to_string(), "--timeout", "5"])
        .env_remove("CHI_NODE_ADDRESS")
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));

    // A second client attaches: the greedy one's share is now half.
    let other = attach(&rt);
    let half = held.len() / 2;
    for pending in held.drain(..half) {
        pending.wait(Some(Duration::from_secs(30))).expect("an echo");
    }
    let (more, why) = fill(&greedy, PoolId::new(400, 0));
    assert!(more.is_empty(), "the greedy client took {} more past its share", more.len());
    match why {
        ClientError::OverShare { held: h, share, .. } => {
            assert_eq!(h as usize, held.len());
            assert!(share as usize <= held.len(), "{share}");
        }
        other => panic!("expected OverShare, got {other}"),
    }
    // The newcomer gets the slots the greedy one gave back.
    let (theirs, _) = fill(&other, PoolId::new(400, 0));
    assert!(theirs.len() >= half / 2, "the second client got only {} slots", theirs.len());
    drop(more);
}
