//! Which node a runtime is: the hostfile, this machine's addresses, and the
//! CHI_NODE_ADDRESS / --node-address override that lets several nodes of
//! one cluster run on one machine (same port, shared memory of their own).

use std::time::Duration;

use chimaera_client::Client;
use chimaera_test_support::{RuntimeProcess, SMALL_CONFIG, segment_sizes, unique_port};

fn with_hostfile(dir_hostfile: &str) -> String {
    SMALL_CONFIG.replace(
        "networking:\n  port: {port}\n",
        &format!("networking:\n  port: {{port}}\n  hostfile: {dir_hostfile}\n"),
    )
}

fn write_hostfile(text: &str) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), text).unwrap();
    f
}

#[test]
fn two_nodes_of_one_cluster_share_a_machine_and_a_port() {
    let hostfile = write_hostfile("# three nodes on loopback\n127.0.0.1\n127.0.0.2\n127.0.0.3\n");
    let config = with_hostfile(&hostfile.path().display().to_string());
    let port = unique_port();
    let second = RuntimeProcess::on_port(&config, port).node_address("127.0.0.2").start();
    // Named by the flag (the spec sets the variable too, for its own cleanup).
    let third = RuntimeProcess::on_port(&config, port)
        .node_address("127.0.0.3")
        .arg("--node-address")
        .arg("127.0.0.3")
        .start();
    assert!(second.log().contains("cluster of 3 nodes from hostfile"), "{}", second.log());
    assert!(second.log().contains("this is node 1 (127.0.0.2, named)"), "{}", second.log());
    assert!(third.log().contains("this is node 2 (127.0.0.3, named)"), "{}", third.log());
    // Each has shared memory of its own, named after its address.
    for (rt, suffix) in [(&second, "127-0-0-2"), (&third, "127-0-0-3")] {
        let identity = rt.spec().identity();
        assert!(identity.to_string().ends_with(suffix), "{identity}");
        assert!(segment_sizes(&identity).iter().all(Option::is_some));
        let client = Client::attach_identity(identity, Duration::from_secs(10)).unwrap();
        let expected = if suffix.ends_with('2') { 1 } else { 2 };
        assert_eq!(client.admin().stats().unwrap().node_id, expected);
    }
    assert_eq!(second.terminate().code(), Some(0));
    assert_eq!(third.terminate().code(), Some(0));
}

#[test]
fn a_runtime_without_a_hostfile_is_a_single_node() {
    let rt = RuntimeProcess::new(SMALL_CONFIG).start();
    assert!(rt.log().contains("single-node mode: no hostfile, this is node 0"), "{}", rt.log());
}

#[test]
fn bad_hostfiles_and_addresses_stop_the_start_with_exit_2() {
    let cases: [(&str, Option<&str>, &str); 4] = [
        ("127.0.0.1\nnode-b\n", None, "line 2: `node-b` is not an IP address"),
        ("127.0.0.1\n127.0.0.2\n127.0.0.1\n", None, "line 3: 127.0.0.1 is already node 0 (line 1)"),
        ("10.255.255.254\n", None, "none of this machine's addresses ("),
        ("127.0.0.1\n127.0.0.2\n", Some("127.0.0.9"), "CHI_NODE_ADDRESS: 127.0.0.9 is not in hostfile"),
    ];
    for (text, named, expected) in cases {
        let hostfile = write_hostfile(text);
        let mut spec = RuntimeProcess::new(&with_hostfile(&hostfile.path().display().to_string()));
        if let Some(address) = named {
            spec = spec.env("CHI_NODE_ADDRESS", address);
        }
        let mut rt = spec.spawn();
        let status = rt.wait_exit();
        assert_eq!(status.code(), Some(2), "{text:?}: {}", rt.stderr());
        assert!(rt.stderr().contains(expected), "{text:?}: expected {expected:?} in {}", rt.stderr());
    }
}
