//! A runtime started, killed and started again while clients and tools keep
//! reaching for it, as a supervisor's restart loop does: no start may fail
//! or die, no tool may crash or hang, and no client may ever get another
//! client's result or wait on a runtime that is gone.

use std::process::{Command, ExitStatus};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chimaera::shm::{ShmIdentity, all_names};
use chimaera_client::{Client, ClientError};
use chimaera_custom_api::ECHO;
use chimaera_test_support::{RuntimeProcess, SMALL_CONFIG, artifacts, poll_until};
use chimod_sdk::PoolId;
use rustix::process::Signal;

const ECHO_POOL: PoolId = PoolId::new(400, 0);
/// Generous bound on anything that must not hang (never a speed check).
const HANG: Duration = Duration::from_secs(60);

fn config() -> String {
    format!(
        "{SMALL_CONFIG}compose:\n  - mod_name: chimaera_custom_mod\n    pool_name: echo\n    pool_query: local\n    pool_id: 400.0\n    custom_param1: a\n    custom_param2: b\n"
    )
}

/// What the loops saw, for the assertions at the end.
#[derive(Debug, Default)]
struct Seen {
    calls_ok: AtomicU64,
    stale_told: AtomicU64,
    status_ok: AtomicU64,
    status_runs: AtomicU64,
    wrong: Mutex<Vec<String>>,
}

impl Seen {
    fn wrong(&self, what: String) {
        self.wrong.lock().unwrap().push(what);
    }
}

/// One client thread: attach, call with a payload no other call uses,
/// check the answer is exactly that payload; when the runtime goes, attach
/// again.
fn client_loop(port: u16, me: u64, stop: &AtomicBool, seen: &Seen) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let client = match Client::attach_port_waiting(port, Duration::from_secs(5)) {
            Ok(client) => client,
            Err(
                ClientError::NoRuntime { .. }
                | ClientError::NotReady { .. }
                | ClientError::RuntimeDied { .. },
            ) => {
                continue;
            }
            Err(e) => {
                seen.wrong(format!("client {me}: attach: {e}"));
                continue;
            }
        };
        client.set_call_timeout(Some(HANG));
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let payload = format!("client {me} call {n}").into_bytes();
            match client.call_method(ECHO_POOL, ECHO, &payload) {
                Ok(answer) if answer == payload => {
                    seen.calls_ok.fetch_add(1, Ordering::Relaxed);
                }
                Ok(answer) => seen.wrong(format!(
                    "client {me} sent {:?}, got {:?}",
                    String::from_utf8_lossy(&payload),
                    String::from_utf8_lossy(&answer)
                )),
                Err(ClientError::Restarted { .. } | ClientError::RuntimeDied { .. }) => {
                    seen.stale_told.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(ClientError::Stopping) => break,
                Err(e) => {
                    seen.wrong(format!("client {me} call {n}: {e}"));
                    break;
                }
            }
        }
    }
}

/// `chimaera_status --wait` over and over, as a health check polling a
/// runtime that a supervisor restarts.
fn status_loop(port: u16, stop: &AtomicBool, seen: &Seen) {
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let out = Command::new(artifacts().bin("chimaera_status"))
            .args(["--port", &port.to_string(), "--wait", "3", "--timeout", "3"])
            .env_remove("CHI_SERVER_CONF")
            .env_remove("WRP_RUNTIME_CONF")
            .env_remove("CHI_NODE_ADDRESS")
            .output()
            .expect("run chimaera_status");
        seen.status_runs.fetch_add(1, Ordering::Relaxed);
        match out.status.code() {
            Some(0) => {
                seen.status_ok.fetch_add(1, Ordering::Relaxed);
            }
            Some(1) => {}
            _ => seen.wrong(format!(
                "chimaera_status ended with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )),
        }
        if started.elapsed() > HANG {
            seen.wrong(format!("chimaera_status took {:?}", started.elapsed()));
        }
    }
}

fn killed_by(status: ExitStatus, signal: Signal) -> bool {
    std::os::unix::process::ExitStatusExt::signal(&status) == Some(signal.as_raw())
}

fn names_left(identity: &ShmIdentity) -> Vec<String> {
    all_names(identity).filter(|n| std::fs::symlink_metadata(format!("/dev/shm{n}")).is_ok()).collect()
}

#[test]
fn two_hundred_restarts_under_clients_and_status_probes() {
    const RESTARTS: u32 = 200;
    let mut spec = RuntimeProcess::new(&config());
    let port = spec.port();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Seen::default());
    let mut threads = Vec::new();
    for me in 0..2 {
        let (stop, seen) = (stop.clone(), seen.clone());
        threads.push(std::thread::spawn(move || client_loop(port, me, &stop, &seen)));
    }
    {
        let (stop, seen) = (stop.clone(), seen.clone());
        threads.push(std::thread::spawn(move || status_loop(port, &stop, &seen)));
    }
    let mut deaths = Vec::new();
    for round in 0..RESTARTS {
        let mut rt = spec.spawn();
        if let Err(why) = rt.wait_ready() {
            deaths.push(format!("start {round} failed: {why}"));
            spec = rt.kill_keeping_state();
            continue;
        }
        // Let the clients reach this incarnation before it goes.
        let before = seen.calls_ok.load(Ordering::Relaxed);
        poll_until("a client call on the new runtime", HANG, Duration::from_millis(1), || {
            seen.calls_ok.load(Ordering::Relaxed) > before
        });
        if round % 10 == 9 {
            // A clean stop now and then: the next start finds nothing.
            rt.signal(Signal::TERM);
            let status = rt.wait_exit();
            if status.code() != Some(0) {
                deaths.push(format!("round {round}: SIGTERM ended it with {status}: {}", rt.stderr()));
            }
            spec = rt.kill_keeping_state();
        } else {
            rt.signal(Signal::KILL);
            let status = rt.wait_exit();
            if !killed_by(status, Signal::KILL) {
                deaths.push(format!("round {round}: died of {status} before our SIGKILL: {}", rt.stderr()));
            }
            spec = rt.kill_keeping_state();
        }
    }
    // Zero stuck ports: one more start on the same port serves and stops
    // cleanly, leaving no name behind.
    let last = spec.start();
    let identity = last.spec().identity();
    let before = seen.calls_ok.load(Ordering::Relaxed);
    poll_until("a client call on the last runtime", HANG, Duration::from_millis(1), || {
        seen.calls_ok.load(Ordering::Relaxed) > before
    });
    stop.store(true, Ordering::Relaxed);
    assert_eq!(last.terminate().code(), Some(0));
    for t in threads {
        t.join().expect("loop thread");
    }
    assert!(deaths.is_empty(), "{} runtime deaths or failed starts:\n{}", deaths.len(), deaths.join("\n"));
    let wrong = seen.wrong.lock().unwrap();
    assert!(wrong.is_empty(), "{} wrong results or errors:\n{}", wrong.len(), wrong.join("\n"));
    assert!(
        seen.stale_told.load(Ordering::Relaxed) > 0,
        "no client was ever told its runtime was gone: the test did not exercise stale clients"
    );
    assert!(seen.status_ok.load(Ordering::Relaxed) > 0, "chimaera_status never found the runtime serving");
    assert_eq!(names_left(&identity), Vec::<String>::new(), "names left after the last clean stop");
    eprintln!(
        "{RESTARTS} restarts: {} calls answered, {} times a client was told its runtime was gone, {} of {} status probes serving",
        seen.calls_ok.load(Ordering::Relaxed),
        seen.stale_told.load(Ordering::Relaxed),
        seen.status_ok.load(Ordering::Relaxed),
        seen.status_runs.load(Ordering::Relaxed),
    );
}

#[test]
fn a_client_of_a_restarted_runtime_is_told_to_attach_again_even_mid_task() {
    let rt = RuntimeProcess::new(&config()).start();
    let port = rt.spec().port();
    let idle = Client::attach_port(port, HANG).expect("attach");
    let busy = Client::attach_port(port, HANG).expect("attach");
    let old = idle.incarnation();
    // A task queued while the runtime cannot run it, then the runtime dies.
    rt.freeze();
    let payload = b"queued before the crash".to_vec();
    let input = ECHO.encode_input(&payload).unwrap();
    let pending = busy.submit(&chimaera_client::TaskSpec::new(ECHO_POOL, ECHO.id, &input)).expect("submit");
    let again = rt.kill_keeping_state().start();
    let started = Instant::now();
    match pending.wait(None) {
        Err(ClientError::Restarted { old: was, new, .. }) => {
            assert_eq!(was, old);
            assert_ne!(new, old);
        }
        other => panic!("a task of the dead runtime must fail with Restarted, got {other:?}"),
    }
    assert!(started.elapsed() < HANG, "the stale wait hung for {:?}", started.elapsed());
    let err = idle.call_method(ECHO_POOL, ECHO, &payload).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ClientError::Restarted { .. }), "{text}");
    assert!(
        text.contains(&format!("the runtime for port {port} restarted")) && text.ends_with("attach again"),
        "{text}"
    );
    // Attaching again reaches the new runtime.
    let fresh = Client::attach_port(port, HANG).expect("attach again");
    assert_ne!(fresh.incarnation(), old);
    assert_eq!(fresh.call_method(ECHO_POOL, ECHO, &payload).unwrap(), payload);
    assert_eq!(again.terminate().code(), Some(0));
}

fn tool(name: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(artifacts().bin(name));
    cmd.args(args)
        .env_remove("CHI_SERVER_CONF")
        .env_remove("WRP_RUNTIME_CONF")
        .env_remove("CHI_NODE_ADDRESS");
    cmd
}

#[test]
fn status_and_stop_wait_through_a_starting_runtime() {
    for round in 0..10 {
        let mut rt = RuntimeProcess::new(&config()).spawn();
        let port = rt.spec().port().to_string();
        // At once, while it creates its memory and pools.
        let status = tool("chimaera_status", &["--port", &port, "--wait", "30"]).output().unwrap();
        assert!(status.status.success(), "round {round}: {}", String::from_utf8_lossy(&status.stderr));
        rt.wait_ready().expect("ready");
        drop(rt);
        let mut rt = RuntimeProcess::new(&config()).spawn();
        let port = rt.spec().port().to_string();
        let stop = tool("chimaera_stop_runtime", &["--port", &port, "--wait", "30", "--timeout", "30"])
            .output()
            .unwrap();
        assert!(stop.status.success(), "round {round}: {}", String::from_utf8_lossy(&stop.stderr));
        assert_eq!(rt.wait_exit().code(), Some(0), "round {round}: {}", rt.stderr());
        assert_eq!(names_left(&rt.spec().identity()), Vec::<String>::new());
    }
}

#[test]
fn every_tool_wait_is_bounded_by_its_timeout_when_the_runtime_is_frozen() {
    let rt = RuntimeProcess::new(&config()).start();
    let port = rt.spec().port().to_string();
    rt.freeze();
    let compose = rt.spec().dir().join("more.yaml");
    std::fs::write(
        &compose,
        "compose:\n  - mod_name: chimaera_custom_mod\n    pool_name: more\n    pool_query: local\n    pool_id: 400.7\n    custom_param1: a\n    custom_param2: b\n",
    )
    .unwrap();
    let compose = compose.display().to_string();
    let runs: [(&str, Vec<&str>, &str); 3] = [
        ("chimaera_status", vec!["--port", &port, "--timeout", "1"], "did not complete within 1s"),
        ("chimaera_stop_runtime", vec!["--port", &port, "--timeout", "2"], ""),
        ("chimaera_compose", vec![&compose, "--port", &port, "--timeout", "1", "--wait", "1"], "failed"),
    ];
    for (name, args, says) in runs {
        let started = Instant::now();
        let out = tool(name, &args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(says), "{name}: {stderr}");
        assert!(started.elapsed() < HANG, "{name} took {:?}", started.elapsed());
    }
    rt.signal(Signal::CONT);
    assert_eq!(rt.terminate().code(), Some(0));
}
