//! Remote clients over TCP against real runtime processes: a client with
//! no view of the runtime's shared memory (an empty `/dev/shm` of its own,
//! in a network namespace of its own where the machine allows) runs the
//! whole client API; the cluster key lets in only clients that hold it,
//! and refuses the others in words; a runtime that stops or restarts is a
//! clear error, not a hang; malformed bytes end only their connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use chimaera_client::{Client, ClientError, ErrorKind};
use chimaera_test_support::{
    NetNs, RuntimeProcess, SMALL_CONFIG, StartedRuntime, artifacts, attach, unique_port,
};

/// `SMALL_CONFIG` with the remote-client port on `address`, and a key.
fn remote_config(address: &str, port: u16, key: Option<&str>) -> String {
    let key = key.map_or(String::new(), |k| format!("  cluster_key_file: {k}\n"));
    SMALL_CONFIG.replace(
        "networking:\n  port: {port}\n",
        &format!("networking:\n  port: {{port}}\n  client_port: {port}\n  client_address: {address}\n{key}"),
    )
}

/// Runs the probe client with `CHI_SERVER_ADDR=addr` (and the key file),
/// through `wrap` (a namespace's command) or on its own.
fn probe(ns: Option<&NetNs>, addr: &str, key: Option<&Path>) -> Output {
    let bin = artifacts().bin("remote_probe");
    let mut cmd = match ns {
        Some(ns) => ns.command(&bin),
        None => {
            // No namespace: at least a /dev/shm of its own, when allowed.
            let mut cmd = Command::new("unshare");
            cmd.args(["--mount", "sh", "-c", "mount -t tmpfs tmpfs /dev/shm && exec \"$0\""]).arg(&bin);
            cmd
        }
    };
    cmd.env_remove("CHI_SERVER_CONF").env_remove("WRP_RUNTIME_CONF").env_remove("CHI_CLUSTER_KEY_FILE");
    cmd.env("CHI_SERVER_ADDR", addr);
    if let Some(key) = key {
        cmd.env("CHI_CLUSTER_KEY_FILE", key);
    }
    cmd.output().expect("run the probe")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_whole_api(out: &Output, addr: &str) {
    let text = stdout(out);
    assert!(out.status.success(), "probe failed: {text}\n{}", String::from_utf8_lossy(&out.stderr));
    for line in [
        &format!("remote: {addr}") as &str,
        "ping: ok",
        "1 MiB round trip: equal",
        "bulk block round trip: equal",
        "tasks in flight: 10000 done",
        "missing pool: no pool 999.0 on this node",
        "bulk_take: taking a runtime_data block needs the runtime's shared memory, which a remote client (CHI_SERVER_ADDR) does not have",
        "remote clients connected: 1",
    ] {
        assert!(text.lines().any(|l| l == line), "no line {line:?} in:\n{text}");
    }
}

#[test]
fn a_client_on_another_host_without_the_shared_memory_runs_the_whole_api() {
    let (ns, address) = match NetNs::create() {
        Ok(ns) => {
            let address = ns.host_address.clone();
            (Some(ns), address)
        }
        Err(why) => {
            eprintln!(
                "\n*** NO NETWORK NAMESPACE ({why}): the remote client runs from this host to 127.0.0.2 instead ***\n"
            );
            (None, "127.0.0.2".to_owned())
        }
    };
    let port = unique_port();
    let rt = RuntimeProcess::new(&remote_config(&address, port, None)).start();
    let addr = format!("{address}:{port}");
    assert_whole_api(&probe(ns.as_ref(), &addr, None), &addr);
    // Its bdev and its tasks were this runtime's: a local client sees them.
    let local = attach(&rt);
    let stats = local.admin().stats().expect("stats");
    assert_eq!(stats.remote_clients.accepted, 1);
    assert!(stats.remote_clients.requests > 10_000, "{:?}", stats.remote_clients);
    assert!(local.admin().list_pools().expect("pools").iter().any(|p| p.pool_name == "ram::remote"));
    assert!(rt.log().contains("without a cluster key: anyone who can reach this port can run tasks"));
}

#[test]
fn the_cluster_key_admits_its_holders_and_refuses_the_others_in_words() {
    let dir = tempfile::tempdir().expect("dir");
    let key = dir.path().join("cluster.key");
    std::fs::write(&key, b"the cluster's own secret key, 32b").expect("key");
    let wrong = dir.path().join("wrong.key");
    std::fs::write(&wrong, b"a key of some other cluster, 32b").expect("key");
    let port = unique_port();
    let rt = RuntimeProcess::new(&remote_config("127.0.0.2", port, Some(&key.display().to_string()))).start();
    let addr = format!("127.0.0.2:{port}");
    assert_whole_api(&probe(None, &addr, Some(&key)), &addr);

    let without = stdout(&probe(None, &addr, None));
    assert_eq!(
        without.trim(),
        format!(
            "error: the runtime at {addr} refused this client: this runtime requires the cluster key (networking.cluster_key_file): give the client the same key file with CHI_CLUSTER_KEY_FILE"
        )
    );
    let other = stdout(&probe(None, &addr, Some(&wrong)));
    assert_eq!(
        other.trim(),
        format!(
            "error: the runtime at {addr} refused this client: the client's cluster key is not this runtime's (networking.cluster_key_file differs from CHI_CLUSTER_KEY_FILE)"
        )
    );
    let refused = Client::connect(&addr, None).expect_err("no key");
    assert_eq!(refused.kind(), ErrorKind::Permission);
    let stats = attach(&rt).admin().stats().expect("stats");
    assert_eq!(
        (stats.remote_clients.accepted, stats.remote_clients.refused),
        (4, 3),
        "{:?}",
        stats.remote_clients
    );
    assert!(rt.log().contains("refused a remote client from"), "the refusal is logged");
}

#[test]
fn a_stopped_or_restarted_runtime_is_a_clear_error_and_never_a_hang() {
    let port = unique_port();
    let rt = RuntimeProcess::new(&remote_config("127.0.0.2", port, None)).start();
    let addr = format!("127.0.0.2:{port}");
    let client = Client::connect(&addr, None).expect("connect");
    client.admin().ping().expect("ping");
    let old = client.incarnation();
    let spec = rt.stop_keeping_dir();
    let gone = client.admin().ping().expect_err("the runtime stopped");
    // It said goodbye before it closed the connection.
    assert!(matches!(gone, ClientError::Stopping), "{gone}");
    let rt = spec.start();
    let again = client.admin().ping().expect_err("still the old connection");
    assert!(matches!(again.kind(), ErrorKind::Stopping | ErrorKind::RuntimeGone), "{again}");
    let fresh = Client::connect(&addr, None).expect("connect to the new runtime");
    fresh.admin().ping().expect("ping the new runtime");
    assert_ne!(fresh.incarnation(), old);
    drop(rt);
    let none = Client::connect(&addr, None).expect_err("nothing listens");
    assert_eq!(none.kind(), ErrorKind::NoRuntime);
    assert!(none.to_string().starts_with(&format!("cannot reach a Chimaera runtime at {addr}: ")), "{none}");
    assert!(
        none.to_string().ends_with("(is it running with networking.client_port set to this port?)"),
        "{none}"
    );
}

#[test]
fn malformed_bytes_end_only_their_own_connection() {
    let port = unique_port();
    let rt: StartedRuntime = RuntimeProcess::new(&remote_config("127.0.0.2", port, None)).start();
    let addr = format!("127.0.0.2:{port}");
    let client = Client::connect(&addr, None).expect("connect");
    for garbage in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        &[0xff; 64][..],
        // A header and payload of the largest sizes announced, then nothing.
        &[0x00, 0x10, 0, 0, 0, 0, 0, 4][..],
    ] {
        let mut stranger = TcpStream::connect(&addr).expect("connect");
        stranger.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        stranger.write_all(garbage).expect("write");
        // The runtime answers with its challenge, then closes the connection.
        let mut seen = Vec::new();
        let _ = stranger.read_to_end(&mut seen);
        assert!(seen.len() >= 8, "the challenge came first");
    }
    client.admin().ping().expect("the honest client is still served");
    let stats = attach(&rt).admin().stats().expect("stats");
    assert_eq!(stats.remote_clients.refused, 3, "{:?}", stats.remote_clients);
    assert!(rt.log().contains("refused a remote client from"));
}
