//! Who may use a runtime's shared memory: its own user only (mode 0600),
//! unless `memory.shm_group` opens it to a group. A client of another user
//! gets a clear permission error, not "no runtime". Needs root (to run a
//! client as `nobody`); skipped, loudly, otherwise.

use std::process::Command;

use chimaera_test_support::{RuntimeProcess, SMALL_CONFIG, artifacts};

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
