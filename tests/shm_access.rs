//! Who may use a runtime's shared memory: its own user only (mode 0600),
//! unless `memory.shm_group` opens it to a group. A client of another user
//! gets a clear permission error, not "no runtime"; and what another user
//! plants under a runtime's names in `/dev/shm` is neither followed, nor
//! adopted, nor trusted by a client. Needs root (to act as `nobody`);
//! skipped, loudly, otherwise.

use std::process::Command;

use chimaera_test_support::{RuntimeProcess, SMALL_CONFIG, StartedRuntime, artifacts};

/// `chimaera_status` for the runtime on `port`, run as user and group
/// 65534 (nobody/nogroup), naming root's runtime.
fn status_as_nobody(port: u16) -> std::process::Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(artifacts().bin("chimaera_status"))
        .args(["--port", &port.to_string()])
        .env("CHI_RUNTIME_UID", "0")
        .env_remove("CHI_NODE_ADDRESS")
        .output()
        .expect("run setpriv")
}

fn can_switch_user() -> bool {
    rustix::process::getuid().is_root() && Command::new("setpriv").arg("--version").output().is_ok()
}

#[test]
fn another_user_is_refused_unless_the_runtime_opens_its_memory_to_a_group() {
    if !can_switch_user() {
        eprintln!("\n*** SKIPPED: needs root and setpriv to run a client as another user ***\n");
        return;
    }
    let private = RuntimeProcess::new(SMALL_CONFIG).start();
    let out = status_as_nobody(private.spec().port());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("permission denied opening shared memory segment")
            && stderr.contains("not open to this user (uid 65534)")
            && stderr.contains("memory.shm_group"),
        "{stderr}"
    );

    let shared =
        RuntimeProcess::new(&SMALL_CONFIG.replace("memory:\n", "memory:\n  shm_group: nogroup\n")).start();
    let out = status_as_nobody(shared.spec().port());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("serving: node 0"));
    let mode = std::fs::metadata(format!("/dev/shm{}", shared.spec().identity().segment_name("main")))
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .unwrap();
    assert_eq!(mode, 0o660);
}

/// Runs `script` with `sh -c` as user and group 65534 (nobody/nogroup).
fn as_nobody(script: &str) {
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", script])
        .output()
        .expect("run setpriv");
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A planted file under `name`, removed again however the test ends.
struct Planted(String);

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A start on a port whose `segment` another user planted: refused. The
/// exited runtime is returned too, since dropping it cleans the names up.
fn start_refused(spec: RuntimeProcess, planted: &str) -> (String, StartedRuntime) {
    let mut rt = spec.spawn();
    assert!(rt.wait_ready().is_err(), "a runtime must not start over a planted {planted}");
    assert_eq!(rt.wait_exit().code(), Some(1), "{}", rt.stderr());
    (rt.stderr(), rt)
}

#[test]
fn a_link_planted_by_another_user_is_refused_not_followed() {
    if !can_switch_user() {
        eprintln!("\n*** SKIPPED: needs root and setpriv to act as another user ***\n");
        return;
    }
    let victim = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(victim.path(), b"root's data").unwrap();
    let spec = RuntimeProcess::new(SMALL_CONFIG);
    for segment in ["main", "client_data", "lock"] {
        let path = format!("/dev/shm{}", spec.identity().segment_name(segment));
        let _planted = Planted(path.clone());
        as_nobody(&format!("ln -s {} {path}", victim.path().display()));
        let spec = RuntimeProcess::on_port(SMALL_CONFIG, spec.port());
        let (stderr, _rt) = start_refused(spec, segment);
        assert!(
            stderr.contains(&format!("refusing {path}: it is a symbolic link owned by uid 65534")),
            "{segment}: {stderr}"
        );
        assert_eq!(std::fs::read(victim.path()).unwrap(), b"root's data", "the runtime wrote through {path}");
    }
}

#[test]
fn a_world_writable_file_planted_by_another_user_is_refused_not_adopted() {
    if !can_switch_user() {
        eprintln!("\n*** SKIPPED: needs root and setpriv to act as another user ***\n");
        return;
    }
    let spec = RuntimeProcess::new(SMALL_CONFIG);
    let path = format!("/dev/shm{}", spec.identity().segment_name("main"));
    let _planted = Planted(path.clone());
    as_nobody(&format!("umask 0; printf x > {path}"));
    let port = spec.port();
    let (stderr, _rt) = start_refused(spec, "main");
    assert!(
        stderr.contains(&format!("refusing {path}: it is owned by uid 65534"))
            && stderr.contains("not by this runtime's user uid 0"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"x", "the planted file must be left as it was");

    // A client does not trust it either: it is not the runtime's.
    let out = Command::new(artifacts().bin("chimaera_status"))
        .args(["--port", &port.to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("refusing {path}: it is owned by uid 65534")), "{stderr}");
}
