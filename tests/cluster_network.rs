//! A real cluster on this machine: runtime processes on 127.0.0.1-3 (one
//! port, one hostfile), tasks sent from one node's client to another node,
//! a node that starts late, one that never starts, and garbage on the port.

use std::io::Write;
use std::time::{Duration, Instant};

use chimaera_client::{Client, ClientError, TaskSpec};
use chimaera_custom_api::ECHO;
use chimaera_test_support::{Cluster, attach};
use chimod_sdk::admin::RUNTIME_STATS;
use chimod_sdk::{PoolId, Route};

fn stats_on(client: &Client, node: Option<u32>) -> Result<chimod_sdk::admin::RuntimeStats, ClientError> {
    let input = RUNTIME_STATS.encode_input(&()).unwrap();
    let task = TaskSpec {
        route: node.map_or(Route::Local, Route::Node),
        ..TaskSpec::new(PoolId::ADMIN, RUNTIME_STATS.id, &input)
    };
    let bytes = client.submit(&task)?.wait(Some(Duration::from_secs(60)))?;
    Ok(RUNTIME_STATS.decode_output(&bytes).unwrap())
}

#[test]
fn tasks_sent_to_a_node_run_on_that_node() {
    let cluster = Cluster::new(&["127.0.0.1", "127.0.0.2", "127.0.0.3"], "");
    let nodes: Vec<_> = ["127.0.0.1", "127.0.0.2", "127.0.0.3"].iter().map(|a| cluster.start(a)).collect();
    let client = attach(&nodes[0]);
    assert_eq!(stats_on(&client, None).unwrap().node_id, 0);
    for target in [1, 2, 0] {
        assert_eq!(stats_on(&client, Some(target)).unwrap().node_id, target, "ran on the node asked for");
    }
    // From another node's client too, and a large input and output across.
    let client2 = attach(&nodes[2]);
    assert_eq!(stats_on(&client2, Some(1)).unwrap().node_id, 1);
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let input = ECHO.encode_input(&big).unwrap();
    let task = TaskSpec { route: Route::Node(1), ..TaskSpec::new(PoolId::new(400, 0), ECHO.id, &input) };
    let out = client2.submit(&task).unwrap().wait(Some(Duration::from_secs(60))).unwrap();
    assert_eq!(ECHO.decode_output(&out).unwrap(), big);
    // A node id outside the cluster, and a pool the remote node lacks.
    let err = stats_on(&client, Some(7)).unwrap_err().to_string();
    assert!(err.contains("no node 7: the cluster has nodes 0 to 2"), "{err}");
    let missing = TaskSpec { route: Route::Node(2), ..TaskSpec::new(PoolId::new(999, 0), 10, &[]) };
    let err = client.submit(&missing).unwrap().wait(Some(Duration::from_secs(60))).unwrap_err();
    assert!(matches!(&err, ClientError::PoolNotFound(m) if m.contains("no pool 999.0")), "{err}");
}

#[test]
fn a_node_that_starts_late_gets_the_tasks_sent_before() {
    let cluster = Cluster::new(
        &["127.0.0.1", "127.0.0.2"],
        "  wait_for_restart: 20\n  wait_for_restart_poll_period: 0.5\n",
    );
    let first = cluster.start("127.0.0.1");
    let client = attach(&first);
    let input = RUNTIME_STATS.encode_input(&()).unwrap();
    let early = client
        .submit(&TaskSpec { route: Route::Node(1), ..TaskSpec::new(PoolId::ADMIN, RUNTIME_STATS.id, &input) })
        .unwrap();
    // The scenario itself: node 1 starts seconds after the task was sent.
    std::thread::sleep(Duration::from_secs(2));
    assert!(!early.is_done(), "no answer while node 1 is down");
    let _second = cluster.start("127.0.0.2");
    let stats = RUNTIME_STATS.decode_output(&early.wait(Some(Duration::from_secs(60))).unwrap()).unwrap();
    assert_eq!(stats.node_id, 1);
    assert!(
        first.log().contains("node 1 (127.0.0.2) is not reachable yet; retrying every 500ms"),
        "{}",
        first.log()
    );
}

#[test]
fn a_node_that_never_starts_is_a_named_error_after_wait_for_restart() {
    let cluster = Cluster::new(
        &["127.0.0.1", "127.0.0.4"],
        "  wait_for_restart: 2\n  wait_for_restart_poll_period: 0.5\n",
    );
    let first = cluster.start("127.0.0.1");
    let client = attach(&first);
    let started = Instant::now();
    let err = stats_on(&client, Some(1)).unwrap_err().to_string();
    let waited = started.elapsed();
    assert!(err.contains("node 1 (127.0.0.4) did not answer within"), "{err}");
    assert!(err.contains("networking.wait_for_restart"), "{err}");
    assert!(waited >= Duration::from_millis(1900), "failed after {waited:?}, before wait_for_restart");
    // The node still serves its own tasks.
    assert_eq!(stats_on(&client, None).unwrap().node_id, 0);
}

#[test]
fn garbage_on_the_port_is_dropped_and_the_cluster_serves_on() {
    let cluster = Cluster::new(&["127.0.0.1", "127.0.0.2"], "");
    let nodes: Vec<_> = ["127.0.0.1", "127.0.0.2"].iter().map(|a| cluster.start(a)).collect();
    for garbage in [&b"GET / HTTP/1.0\r\n\r\n"[..], &[0xff; 4096][..], &[0u8; 3][..]] {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.2", cluster.port)) {
            let _ = stream.write_all(garbage);
        }
    }
    let client = attach(&nodes[0]);
    assert_eq!(stats_on(&client, Some(1)).unwrap().node_id, 1);
    assert_eq!(stats_on(&attach(&nodes[1]), Some(0)).unwrap().node_id, 0);
}

#[test]
fn a_killed_node_fails_its_tasks_clearly_and_serves_again_after_restart() {
    let cluster = Cluster::new(
        &["127.0.0.1", "127.0.0.2"],
        "  wait_for_restart: 2\n  wait_for_restart_poll_period: 0.2\n",
    );
    let first = cluster.start("127.0.0.1");
    let second = cluster.start("127.0.0.2");
    let client = attach(&first);
    assert_eq!(stats_on(&client, Some(1)).unwrap().node_id, 1);
    let node_state = |client: &Client| stats_on(client, None).unwrap().nodes[1].state.clone();
    assert_eq!(node_state(&client), "up");
    let spec = second.kill_keeping_state();
    let err = stats_on(&client, Some(1)).unwrap_err().to_string();
    assert!(err.contains("node 1 (127.0.0.2) did not answer within"), "{err}");
    // Marked down (heartbeats every 100 ms here), and this node goes on.
    assert_eq!(node_state(&client), "down");
    assert!(first.log().contains("node 1 (127.0.0.2) is down: nothing heard for"), "{}", first.log());
    assert_eq!(stats_on(&client, None).unwrap().node_id, 0);
    let _second = spec.start();
    assert_eq!(stats_on(&client, Some(1)).unwrap().node_id, 1, "the restarted node serves again");
    assert_eq!(node_state(&client), "up");
    assert!(first.log().contains("node 1 (127.0.0.2) rejoined"), "{}", first.log());
}

#[test]
fn chimaera_compose_creates_broadcast_pools_on_every_node_and_data_crosses_nodes() {
    let addresses = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
    let cluster = Cluster::new(&addresses, "");
    let nodes: Vec<_> = addresses.iter().map(|a| cluster.start(a)).collect();
    // Else a node still joining could take in the pool before its creation reaches it.
    nodes.iter().for_each(Cluster::await_join);
    let compose = nodes[0].spec().dir().join("cluster_compose.yaml");
    std::fs::write(
        &compose,
        format!(
            "networking:\n  port: {}\ncompose:\n  - mod_name: chimaera_bdev\n    pool_name: shared_ram\n    pool_query: broadcast\n    pool_id: 310.0\n    capacity: 8M\n    bdev_type: ram\n  - mod_name: chimaera_custom_mod\n    pool_name: everywhere\n    pool_query: dynamic\n    pool_id: 410.0\n    custom_param1: one\n    custom_param2: two\n",
            cluster.port
        ),
    )
    .unwrap();
    let out = std::process::Command::new(chimaera_test_support::artifacts().bin("chimaera_compose"))
        .arg(&compose)
        .env("CHI_NODE_ADDRESS", "127.0.0.1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}\nnode 0:\n{}",
        String::from_utf8_lossy(&out.stderr),
        nodes[0].stderr()
    );
    // Every node has both pools, each its own container.
    let client = attach(&nodes[0]);
    let list = chimod_sdk::admin::LIST_POOLS;
    let input = list.encode_input(&()).unwrap();
    for target in 0..3 {
        let task = TaskSpec { route: Route::Node(target), ..TaskSpec::new(PoolId::ADMIN, list.id, &input) };
        let pools = list
            .decode_output(&client.submit(&task).unwrap().wait(Some(Duration::from_secs(60))).unwrap())
            .unwrap();
        for id in [PoolId::new(310, 0), PoolId::new(410, 0)] {
            assert!(pools.iter().any(|p| p.pool_id == id), "node {target} lacks {id}: {pools:?}");
        }
    }
    // Written on node 0 through its own client...
    let dev0 = chimaera_client::BdevClient::new(&client, PoolId::new(310, 0));
    let block = dev0.allocate(64 << 10).unwrap()[0];
    let mut buf = client.bulk_alloc(64 << 10).unwrap();
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (i % 249) as u8;
    }
    dev0.write(block, 0, &buf).unwrap();
    // ...read from node 2 by sending the read to node 0.
    let client2 = attach(&nodes[2]);
    let remote = chimaera_client::RemoteBdevClient::new(&client2, PoolId::new(310, 0), 0);
    assert_eq!(remote.read(block, 0, 64 << 10).unwrap(), buf.to_vec());
    assert_eq!(remote.stats().unwrap().reads.count, 1, "the read ran on node 0's device");
    // Running it again is safe: already exists everywhere.
    let again = std::process::Command::new(chimaera_test_support::artifacts().bin("chimaera_compose"))
        .arg(&compose)
        .env("CHI_NODE_ADDRESS", "127.0.0.1")
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stdout));
    let again = String::from_utf8_lossy(&again.stdout).into_owned();
    assert!(stdout.contains("`shared_ram`: created on every node (3)"), "{stdout}");
    assert!(again.contains("`shared_ram`: already exists on every node (3)"), "{again}");
    // Node 1 restarts: from its own record it creates the pools again.
    // Restarted without its record (a replaced machine), it gets them from
    // the others as it joins.
    let mut nodes = nodes;
    let restarted = nodes.remove(1).kill_keeping_state().start();
    let compose_again = || {
        // Once node 0 reaches the new node 1 again (a frame sent into the
        // old connection before it notices is lost, and waits out
        // wait_for_restart).
        let ping = chimod_sdk::admin::PING.encode_input(&()).unwrap();
        chimaera_test_support::poll_until(
            "node 0 reaching the restarted node 1",
            Duration::from_secs(60),
            Duration::from_millis(50),
            || {
                let task = TaskSpec {
                    route: Route::Node(1),
                    ..TaskSpec::new(PoolId::ADMIN, chimod_sdk::admin::PING.id, &ping)
                };
                client.submit(&task).and_then(|t| t.wait(Some(Duration::from_secs(2)))).is_ok()
            },
        );
        let out = std::process::Command::new(chimaera_test_support::artifacts().bin("chimaera_compose"))
            .arg(&compose)
            .env("CHI_NODE_ADDRESS", "127.0.0.1")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let third = compose_again();
    assert!(third.contains("`shared_ram`: already exists on every node (3)"), "{third}");
    let spec = restarted.kill_keeping_state();
    std::fs::remove_dir_all(spec.dir().join("state")).unwrap();
    let restarted = spec.start();
    // It takes the cluster's broadcast pools in as it joins, from a peer's
    // list rather than its lost record.
    chimaera_test_support::poll_until(
        "the replaced node 1 taking in the broadcast pools",
        Duration::from_secs(60),
        Duration::from_millis(20),
        || restarted.log().contains("took in the cluster's broadcast pools: 2 created here"),
    );
    let fourth = compose_again();
    assert!(fourth.contains("`shared_ram`: already exists on every node (3)"), "{fourth}");
    drop(restarted);
}

#[test]
fn hash_broadcast_dynamic_and_range_routes_reach_the_documented_nodes() {
    let addresses = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
    let cluster = Cluster::new(&addresses, "  neighborhood_size: 2\n");
    let nodes: Vec<_> = addresses.iter().map(|a| cluster.start(a)).collect();
    let client = attach(&nodes[0]);
    let input = RUNTIME_STATS.encode_input(&()).unwrap();
    let run = |route: Route| {
        let task = TaskSpec { route, ..TaskSpec::new(PoolId::ADMIN, RUNTIME_STATS.id, &input) };
        client.submit(&task).unwrap().wait(Some(Duration::from_secs(60))).unwrap()
    };
    let node_of = |bytes: &[u8]| RUNTIME_STATS.decode_output(bytes).unwrap().node_id;
    // Hash: container hash % 3, one container per node.
    for h in [0u64, 1, 2, 3, 7, 11, u64::MAX] {
        assert_eq!(node_of(&run(Route::Hash(h))), (h % 3) as u32, "hash {h}");
    }
    // Broadcast: every node, one outcome each, in node order.
    let all = Client::gathered(&run(Route::Broadcast)).unwrap();
    assert_eq!(all.iter().map(|o| (o.node, o.ok)).collect::<Vec<_>>(), [(0, true), (1, true), (2, true)]);
    assert!(all.iter().all(|o| node_of(&o.output) == o.node));
    // Range of 3 from node 1 with neighborhood_size 2: nodes 1 and 2 only.
    let range = Client::gathered(&run(Route::Range { offset: 1, count: 3 })).unwrap();
    assert_eq!(range.iter().map(|o| o.node).collect::<Vec<_>>(), [1, 2]);
    // Dynamic: the admin pool is here, so here only.
    assert_eq!(node_of(&run(Route::Dynamic)), 0);
    // Dynamic to a pool that is not here: every node, each says so.
    let task = TaskSpec { route: Route::Dynamic, ..TaskSpec::new(PoolId::new(888, 0), 10, &[]) };
    let missing =
        Client::gathered(&client.submit(&task).unwrap().wait(Some(Duration::from_secs(60))).unwrap())
            .unwrap();
    assert_eq!(missing.len(), 3);
    assert!(missing.iter().all(|o| !o.ok && String::from_utf8_lossy(&o.output).contains("no pool 888.0")));
}

#[test]
fn a_broadcast_with_a_node_down_reports_each_node() {
    let cluster = Cluster::new(
        &["127.0.0.1", "127.0.0.2", "127.0.0.5"],
        "  wait_for_restart: 1\n  wait_for_restart_poll_period: 0.2\n",
    );
    let nodes: Vec<_> = ["127.0.0.1", "127.0.0.2"].iter().map(|a| cluster.start(a)).collect();
    let client = attach(&nodes[0]);
    let input = RUNTIME_STATS.encode_input(&()).unwrap();
    let task = TaskSpec { route: Route::Broadcast, ..TaskSpec::new(PoolId::ADMIN, RUNTIME_STATS.id, &input) };
    let all = Client::gathered(&client.submit(&task).unwrap().wait(Some(Duration::from_secs(60))).unwrap())
        .unwrap();
    assert_eq!(all.iter().map(|o| (o.node, o.ok)).collect::<Vec<_>>(), [(0, true), (1, true), (2, false)]);
    assert!(String::from_utf8_lossy(&all[2].output).contains("node 2 (127.0.0.5) did not answer within"));
}

/// What a valid ZeroMQ peer could send that no ZeroMQ library would:
/// commands after the handshake (a second READY took the network thread
/// down with zeromq 0.4), truncated commands, and frames that are not ours.
#[test]
fn zeromq_level_garbage_is_dropped_and_the_cluster_serves_on() {
    use chimaera_test_support::zmtp::{ZmtpPeer, command_name, property};

    let cluster = Cluster::new(&["127.0.0.1", "127.0.0.2"], "");
    let nodes: Vec<_> = ["127.0.0.1", "127.0.0.2"].iter().map(|a| cluster.start(a)).collect();
    let target: std::net::SocketAddr = ([127, 0, 0, 2], cluster.port).into();
    let mut ready = command_name(b"READY");
    ready.extend(property(b"Socket-Type", b"DEALER"));
    type Send = Box<dyn Fn(&mut ZmtpPeer) -> std::io::Result<()>>;
    let garbage: Vec<Send> = vec![
        Box::new(move |p| p.send_command(&ready)),
        Box::new(|p| p.send_command(&[0x10])),
        Box::new(|p| p.send_command(&[])),
        Box::new(|p| p.send_command(&command_name(b"PING"))),
        Box::new(|p| p.send_message(&[b"not a frame"])),
        Box::new(|p| p.send_message(&[&[0u8; 300][..], b"", &[0xff; 70000][..]])),
        Box::new(|p| p.send_raw(&[0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])),
        Box::new(|p| p.send_raw(&[0x80, 0x01])),
    ];
    for send in &garbage {
        // Each on a connection of its own: the node may close one it
        // cannot parse.
        let mut peer = ZmtpPeer::connect(target, "DEALER").expect("a ZeroMQ handshake with node 1");
        let _ = send(&mut peer);
    }
    // A peer still connected, then its garbage: the node must not wait on it.
    let mut lingering = ZmtpPeer::connect(target, "DEALER").expect("handshake");
    let _ = lingering.send_message(&[b"half"]);
    let client = attach(&nodes[0]);
    assert_eq!(stats_on(&client, Some(1)).unwrap().node_id, 1);
    assert_eq!(stats_on(&attach(&nodes[1]), Some(0)).unwrap().node_id, 0);
    let log = nodes[1].log();
    assert!(log.contains("dropped a frame from the network"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn with_a_cluster_key_only_nodes_holding_it_are_heard() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("cluster.key");
    let other = dir.path().join("other.key");
    std::fs::write(&key, b"0123456789abcdef0123456789abcdef").unwrap();
    std::fs::write(&other, b"fedcba9876543210fedcba9876543210").unwrap();
    let keyed = |k: &std::path::Path| {
        format!(
            "  cluster_key_file: {}\n  wait_for_restart: 3\n  wait_for_restart_poll_period: 0.2\n",
            k.display()
        )
    };
    let mut cluster = Cluster::new(&["127.0.0.1", "127.0.0.2", "127.0.0.3"], &keyed(&key));
    let first = cluster.start("127.0.0.1");
    let second = cluster.start("127.0.0.2");
    assert!(first.log().contains("cluster frames are authenticated with the cluster key"), "{}", first.log());
    // A third node with another key: its frames are dropped, so it is
    // never heard, and tasks to it get no answer.
    cluster.extra = keyed(&other);
    let intruder = cluster.start("127.0.0.3");
    let client = attach(&first);
    assert_eq!(stats_on(&client, Some(1)).unwrap().node_id, 1, "the keyed peer serves");
    let err = stats_on(&client, Some(2)).unwrap_err().to_string();
    assert!(err.contains("node 2 (127.0.0.3) did not answer within"), "{err}");
    assert!(
        second.log().contains("no valid cluster key tag")
            || intruder.log().contains("no valid cluster key tag")
    );
    // A key file that is too short stops the start with exit code 2.
    drop(intruder);
    std::fs::write(&other, b"short").unwrap();
    let mut bad = cluster.spec("127.0.0.3").spawn();
    assert_eq!(bad.wait_exit().code(), Some(2));
    assert!(bad.stderr().contains("must hold at least 16 bytes (has 5)"), "{}", bad.stderr());
}

#[test]
fn a_module_s_subtasks_take_routes_too() {
    use chimaera_custom_api::{RELAY, Relay};
    let addresses = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
    let cluster = Cluster::new(&addresses, "");
    let nodes: Vec<_> = addresses.iter().map(|a| cluster.start(a)).collect();
    let client = attach(&nodes[0]);
    let stats_input = RUNTIME_STATS.encode_input(&()).unwrap();
    let relay = |route: Route| {
        let req = Relay {
            pool_id: PoolId::ADMIN,
            method: RUNTIME_STATS.id,
            input: stats_input.clone(),
            long: false,
            copies: 1,
            route,
        };
        client.call_method(PoolId::new(400, 0), RELAY, &req).unwrap().remove(0)
    };
    // The custom pool on node 0 sends its subtask to node 2.
    assert_eq!(RUNTIME_STATS.decode_output(&relay(Route::Node(2))).unwrap().node_id, 2);
    // And to every node, gathered.
    let all = Client::gathered(&relay(Route::Broadcast)).unwrap();
    assert_eq!(all.iter().map(|o| o.node).collect::<Vec<_>>(), [0, 1, 2]);
    assert!(all.iter().all(|o| RUNTIME_STATS.decode_output(&o.output).unwrap().node_id == o.node));
}

#[test]
fn a_module_s_subtask_to_a_node_that_is_down_fails_within_wait_for_restart_naming_it() {
    use chimaera_custom_api::{RELAY, Relay};
    let addresses = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
    let cluster = Cluster::new(&addresses, "  wait_for_restart: 2\n");
    // Node 2 never starts.
    let nodes: Vec<_> = addresses[..2].iter().map(|a| cluster.start(a)).collect();
    let client = attach(&nodes[0]);
    let ping = chimod_sdk::admin::PING.encode_input(&()).unwrap();
    let relay = |route: Route| {
        let req = Relay {
            pool_id: PoolId::ADMIN,
            method: chimod_sdk::admin::PING.id,
            input: ping.clone(),
            long: false,
            copies: 1,
            route,
        };
        client.call_method(PoolId::new(400, 0), RELAY, &req)
    };
    let asked = std::time::Instant::now();
    let err = relay(Route::Node(2)).unwrap_err().to_string();
    assert!(err.contains("node 2 (127.0.0.3) did not answer within"), "{err}");
    assert!(err.contains("(networking.wait_for_restart)"), "{err}");
    assert!(asked.elapsed() < Duration::from_secs(20), "it waited {:?}", asked.elapsed());
    // Gathered, the down node is named and the others answer.
    let all = Client::gathered(&relay(Route::Broadcast).unwrap().remove(0)).unwrap();
    assert_eq!(all.iter().map(|o| (o.node, o.ok)).collect::<Vec<_>>(), [(0, true), (1, true), (2, false)]);
    assert!(String::from_utf8_lossy(&all[2].output).contains("node 2 (127.0.0.3)"), "{all:?}");
}

#[test]
fn the_remote_bench_reports_every_figure_it_promises() {
    let out = std::process::Command::new(chimaera_test_support::artifacts().bin("chimaera_bench"))
        .args(["--mode", "remote", "--tasks", "300", "--window", "4,16", "--repeat", "3"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    // Every figure is a positive number.
    let figure = |prefix: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in:\n{text}"));
        let value = line[prefix.len()..].split_whitespace().next().unwrap();
        value.parse().unwrap_or_else(|_| panic!("{line}"))
    };
    for prefix in [
        "remote task round trip: p50",
        "remote pipelined throughput (window 4):",
        "remote pipelined throughput (window 16):",
        "raw TCP ping-pong (24-byte frames): p50",
        "raw ZeroMQ REQ/REP (24-byte frames): p50",
    ] {
        assert!(figure(prefix) > 0.0, "{prefix} in:\n{text}");
    }
    assert!(text.contains("(median of 3:"), "{text}");
    assert!(text.contains("--window 4,16 --repeat 3"), "the rerun line repeats the windows: {text}");
}
