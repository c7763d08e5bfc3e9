//! `chimaera_start_runtime` as a real process: readiness, shared memory,
//! signals, configuration precedence and every start-up failure.

use std::process::Command;
use std::time::{Duration, Instant};

use chimaera_test_support::{RuntimeProcess, SMALL_CONFIG, artifacts, segment_sizes};

const M: u64 = 1 << 20;

#[test]
fn ready_line_segments_and_clean_sigterm() {
    let rt = RuntimeProcess::new(SMALL_CONFIG).start();
    let port = rt.spec().port();
    assert_eq!(rt.segment_sizes(), [Some(8 * M), Some(4 * M), Some(4 * M)]);
    let identity = rt.spec().identity();
    let log_before_stop = rt.log();
    assert!(
        log_before_stop.contains(&format!(
            "loaded config file {} (from CHI_SERVER_CONF)",
            rt.spec().config_path().display()
        )),
        "{log_before_stop}"
    );
    assert!(log_before_stop.contains("workers: 1 sched + 1 slow"), "{log_before_stop}");
    // Every line of the file says which runtime wrote it; only its user reads it.
    let prefix = format!("[{identity} pid {}] ", rt.pid());
    assert!(
        log_before_stop.lines().all(|l| l.starts_with(&prefix)),
        "lines without `{prefix}`:\n{log_before_stop}"
    );
    let log_mode = std::fs::metadata(rt.spec().dir().join("chimaera.log")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&log_mode.permissions()) & 0o777, 0o600);
    assert!(log_before_stop.contains(&format!("networking: port {port}")), "{log_before_stop}");
    let status = rt.terminate();
    assert_eq!(status.code(), Some(0));
    assert_eq!(segment_sizes(&identity), [None, None, None], "segments left after SIGTERM");
}

#[test]
fn sigint_also_stops_cleanly() {
    let rt = RuntimeProcess::new(SMALL_CONFIG).start();
    let identity = rt.spec().identity();
    rt.signal(rustix::process::Signal::INT);
    let mut rt = rt;
    assert_eq!(rt.wait_exit().code(), Some(0));
    assert_eq!(segment_sizes(&identity), [None, None, None]);
}

#[test]
fn two_runtimes_on_different_ports_run_side_by_side() {
    let a = RuntimeProcess::new(SMALL_CONFIG).start();
    let b = RuntimeProcess::new(SMALL_CONFIG).start();
    assert_ne!(a.spec().identity(), b.spec().identity());
    assert!(a.segment_sizes().iter().all(Option::is_some));
    assert!(b.segment_sizes().iter().all(Option::is_some));
    let b_identity = b.spec().identity();
    assert_eq!(b.terminate().code(), Some(0));
    assert_eq!(segment_sizes(&b_identity), [None, None, None]);
    assert!(a.segment_sizes().iter().all(Option::is_some), "stopping b must not touch a");
}

#[test]
fn a_second_runtime_on_the_same_port_is_refused() {
    let first = RuntimeProcess::new(SMALL_CONFIG).start();
    let again = RuntimeProcess::new(&SMALL_CONFIG.replace("{port}", &first.spec().port().to_string()));
    let mut second = again.spawn();
    assert!(second.wait_ready().is_err());
    assert_eq!(second.wait_exit().code(), Some(1));
    assert!(second.stderr().contains("another runtime is already running"), "{}", second.stderr());
    assert!(
        first.segment_sizes().iter().all(Option::is_some),
        "the refused start must not remove the live segments"
    );
}

#[test]
fn stale_segments_of_a_killed_runtime_are_reclaimed() {
    let rt = RuntimeProcess::new(SMALL_CONFIG).start();
    let spec = rt.kill_keeping_state();
    assert!(segment_sizes(&spec.identity()).iter().all(Option::is_some), "SIGKILL leaves the segments");
    let again = spec.start();
    assert!(again.log().contains("reclaimed shared memory left behind"), "{}", again.log());
    assert_eq!(again.terminate().code(), Some(0));
}

#[test]
fn more_shared_memory_than_free_fails_fast_with_the_documented_message() {
    let template = SMALL_CONFIG.replace("main_segment_size: 8M", "main_segment_size: 64T");
    let mut rt = RuntimeProcess::new(&template).spawn();
    let started = Instant::now();
    assert!(rt.wait_ready().is_err());
    assert_eq!(rt.wait_exit().code(), Some(1));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "a failed reservation must not take {:?}",
        started.elapsed()
    );
    let name = rt.spec().identity().segment_name("main");
    let err = rt.stderr();
    let line = err.lines().find(|l| l.starts_with("chimaera_start_runtime: ")).unwrap_or_default();
    assert!(
        line.starts_with(&format!(
            "chimaera_start_runtime: Failed to allocate shared memory segment {name} (64T): "
        )),
        "{err}"
    );
    assert!(line.ends_with(" free in /dev/shm"), "{err}");
    assert_eq!(rt.segment_sizes(), [None, None, None]);
}

#[test]
fn a_bad_config_exits_2_naming_the_key_path() {
    let template = SMALL_CONFIG.replace("sched_threads: 1", "sched_threads: -3");
    let mut rt = RuntimeProcess::new(&template).spawn();
    assert!(rt.wait_ready().is_err());
    assert_eq!(rt.wait_exit().code(), Some(2));
    let err = rt.stderr();
    let config = rt.spec().config_path().display().to_string();
    assert!(err.contains(&format!("{config}: workers.sched_threads: ")), "{err}");
    assert!(err.contains("`-3`"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line, no log noise: {err}");
}

#[test]
fn a_set_variable_naming_a_missing_file_is_fatal() {
    let mut rt = RuntimeProcess::new(SMALL_CONFIG)
        .config_via(&[])
        .env("CHI_SERVER_CONF", "/nonexistent/chimaera.yaml")
        .spawn();
    assert!(rt.wait_ready().is_err());
    assert_eq!(rt.wait_exit().code(), Some(2));
    assert!(
        rt.stderr().contains("CHI_SERVER_CONF names /nonexistent/chimaera.yaml, which cannot be read"),
        "{}",
        rt.stderr()
    );
}

#[test]
fn wrp_runtime_conf_is_read_when_chi_server_conf_is_unset() {
    let rt = RuntimeProcess::new(SMALL_CONFIG).config_via(&["WRP_RUNTIME_CONF"]).start();
    assert!(rt.log().contains("(from WRP_RUNTIME_CONF)"), "{}", rt.log());
    assert!(rt.segment_sizes().iter().all(Option::is_some));
}

#[test]
fn chi_server_conf_wins_over_wrp_runtime_conf() {
    let rt = RuntimeProcess::new(SMALL_CONFIG)
        .config_via(&["CHI_SERVER_CONF"])
        .env("WRP_RUNTIME_CONF", "/nonexistent/ignored.yaml")
        .start();
    assert!(rt.log().contains("(from CHI_SERVER_CONF)"), "{}", rt.log());
}

#[test]
fn config_flag_wins_over_the_variables() {
    let spec = RuntimeProcess::new(SMALL_CONFIG);
    let flag = spec.config_path().to_owned();
    let rt = spec
        .config_via(&[])
        .env("CHI_SERVER_CONF", "/nonexistent/ignored.yaml")
        .arg("--config")
        .arg(flag.display().to_string())
        .start();
    assert!(rt.log().contains("(from --config)"), "{}", rt.log());
}

#[test]
fn an_unwritable_log_file_is_a_clear_error() {
    let template = SMALL_CONFIG.replace("file: {log}", "file: /nonexistent/dir/chimaera.log");
    let mut rt = RuntimeProcess::new(&template).spawn();
    assert!(rt.wait_ready().is_err());
    assert_eq!(rt.wait_exit().code(), Some(1));
    assert!(
        rt.stderr().contains("logging.file: cannot open /nonexistent/dir/chimaera.log for appending"),
        "{}",
        rt.stderr()
    );
}

#[test]
fn unknown_keys_are_logged_with_a_suggestion() {
    let rt = RuntimeProcess::new(&format!("{SMALL_CONFIG}runtme:\n  queue_depth: 8\n")).start();
    assert!(rt.log().contains("runtme: unknown key, ignored (did you mean `runtime`?)"), "{}", rt.log());
}

#[test]
fn built_in_defaults_when_nothing_is_set() {
    // The README's first command: no config at all. Port 5555 and 2G of
    // shared memory, exactly as the guide's defaults say.
    let rt = RuntimeProcess::new("").config_via(&[]).start();
    let identity = chimaera::shm::ShmIdentity::for_current_user(5555);
    assert_eq!(segment_sizes(&identity), [Some(1 << 30), Some(512 * M), Some(512 * M)]);
    assert!(
        rt.stderr()
            .contains("loaded built-in defaults (neither CHI_SERVER_CONF nor WRP_RUNTIME_CONF is set)"),
        "{}",
        rt.stderr()
    );
    let status = rt.terminate();
    assert_eq!(status.code(), Some(0));
    assert_eq!(segment_sizes(&identity), [None, None, None]);
}

#[test]
fn help_and_version() {
    let bin = artifacts().bin("chimaera_start_runtime");
    let help = Command::new(&bin).arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for needle in ["CHI_SERVER_CONF", "WRP_RUNTIME_CONF", "--config", "SIGTERM", "Exit codes"] {
        assert!(text.contains(needle), "--help lacks {needle}:\n{text}");
    }
    let version = Command::new(&bin).arg("--version").output().unwrap();
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
}

/// A runtime given `template` that must not start: exit code 2 and the
/// one line on stderr it printed.
fn refused_with_2(spec: RuntimeProcess) -> String {
    let mut rt = spec.spawn();
    assert!(rt.wait_ready().is_err());
    assert_eq!(rt.wait_exit().code(), Some(2), "{}", rt.stderr());
    rt.stderr()
}

#[test]
fn files_that_are_not_regular_files_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.yaml");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        0,
    )
    .unwrap();
    // A FIFO with no writer, and devices that never end or hold nothing.
    for (path, what) in [
        (fifo.display().to_string(), "a FIFO"),
        ("/dev/zero".to_owned(), "a character device"),
        ("/dev/null".to_owned(), "a character device"),
    ] {
        let err =
            refused_with_2(RuntimeProcess::new(SMALL_CONFIG).config_via(&[]).env("CHI_SERVER_CONF", &path));
        assert!(
            err.contains(&format!(
                "CHI_SERVER_CONF names {path}, which cannot be read: it is {what}, not a regular file"
            )),
            "{err}"
        );
    }
    let hostfile = SMALL_CONFIG.replace("networking:\n", "networking:\n  hostfile: /dev/zero\n");
    let err = refused_with_2(RuntimeProcess::new(&hostfile));
    assert!(
        err.contains("/dev/zero") && err.contains("it is a character device, not a regular file"),
        "{err}"
    );
    let key = SMALL_CONFIG
        .replace("networking:\n", "networking:\n  hostfile: {dir}/hosts\n  cluster_key_file: /dev/urandom\n");
    let spec = RuntimeProcess::new(&key);
    std::fs::write(spec.dir().join("hosts"), "127.0.0.1\n").unwrap();
    let err = refused_with_2(spec);
    assert!(
        err.contains("networking.cluster_key_file: /dev/urandom: cannot read it: it is a character device, not a regular file"),
        "{err}"
    );
}

#[test]
fn an_empty_file_is_valid_and_said_to_hold_nothing() {
    // The runtime's own use of the defaults is checked in the loader's
    // tests (a runtime on them would need the guide's port 5555, which
    // `built_in_defaults_when_nothing_is_set` takes); the tools say it too.
    let rt = RuntimeProcess::new(SMALL_CONFIG).start();
    let empty = rt.spec().dir().join("empty.yaml");
    std::fs::write(&empty, "# nothing yet\n").unwrap();
    let out = Command::new(artifacts().bin("chimaera_compose"))
        .arg(&empty)
        .args(["--port", &rt.spec().port().to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!(
            "chimaera_compose: warning: {}: the file holds no settings (it is empty or only comments); using the built-in defaults",
            empty.display()
        )
    );
}

#[test]
fn the_largest_stack_size_accepted_runs_tasks() {
    let rt = RuntimeProcess::new(&format!("{SMALL_CONFIG}runtime:\n  stack_size: 256M\n")).start();
    let client =
        chimaera_client::Client::attach_identity(rt.spec().identity(), Duration::from_secs(10)).unwrap();
    client.admin().ping().expect("a task runs on a 256M stack");
    assert_eq!(client.admin().stats().expect("stats").node_id, 0);
    assert_eq!(rt.terminate().code(), Some(0));
}

#[test]
fn tool_flags_out_of_range_are_usage_errors_not_panics() {
    let runs: [(&str, &[&str]); 4] = [
        ("chimaera_status", &["--timeout", "1e30"]),
        ("chimaera_status", &["--wait", "inf"]),
        ("chimaera_compose", &["config/examples/pools.yaml", "--wait", "1e19"]),
        ("chimaera_stop_runtime", &["--timeout=-1"]),
    ];
    for (tool, args) in runs {
        let out = Command::new(artifacts().bin(tool))
            .args(args)
            .current_dir(chimaera_test_support::workspace_root())
            .env_remove("CHI_SERVER_CONF")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{tool} {args:?}: {stderr}");
        assert!(stderr.contains("a number of seconds from 0 to 604800"), "{tool} {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_closed_stdout_is_no_panic() {
    let rt = RuntimeProcess::new(SMALL_CONFIG).start();
    let file = rt.spec().dir().join("pools.yaml");
    let pools: String = (0..50)
        .map(|i| format!("  - mod_name: chimaera_custom_mod\n    pool_name: p{i}\n    pool_query: local\n    pool_id: 400.{i}\n    custom_param1: a\n    custom_param2: b\n"))
        .collect();
    std::fs::write(&file, format!("compose:\n{pools}")).unwrap();
    // `chimaera_compose ... | head -1`: the reader goes away after one line.
    let mut child = Command::new(artifacts().bin("chimaera_compose"))
        .arg(&file)
        .args(["--port", &rt.spec().port().to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 1];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Every pool was still created, though nobody read about them.
    let client =
        chimaera_client::Client::attach_identity(rt.spec().identity(), Duration::from_secs(10)).unwrap();
    assert_eq!(client.admin().list_pools().unwrap().len(), 51);
}
