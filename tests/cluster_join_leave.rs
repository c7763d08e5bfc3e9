//! Membership that changes while the cluster runs: a node added to the
//! hostfile joins (taken in by `chimaera cluster reload`, or by a node
//! itself when the newcomer speaks), gets the broadcast pools created
//! before it came, and is part of broadcasts; a node that leaves is passed
//! by and its tasks fail at once; a hostfile that renumbers known nodes is
//! refused, by the command and on SIGHUP.

use std::time::{Duration, Instant};

use chimaera_client::{Client, ClientError, TaskSpec};
use chimaera_test_support::{Cluster, attach, poll_until};
use chimod_sdk::admin::{LIST_POOLS, RUNTIME_STATS};
use chimod_sdk::{PoolId, Route};

fn stats_on(client: &Client, route: Route) -> Result<Vec<u8>, ClientError> {
    let input = RUNTIME_STATS.encode_input(&()).unwrap();
    let task = TaskSpec { route, ..TaskSpec::new(PoolId::ADMIN, RUNTIME_STATS.id, &input) };
    client.submit(&task)?.wait(Some(Duration::from_secs(60)))
}

fn broadcast_nodes(client: &Client) -> Vec<(u32, bool)> {
    let all = Client::gathered(&stats_on(client, Route::Broadcast).unwrap()).unwrap();
    for failed in all.iter().filter(|o| !o.ok) {
        eprintln!("broadcast failed on node {}: {}", failed.node, String::from_utf8_lossy(&failed.output));
    }
    all.iter().map(|o| (o.node, o.ok)).collect()
}

fn state_of(client: &Client, node: u32) -> String {
    let stats = RUNTIME_STATS.decode_output(&stats_on(client, Route::Local).unwrap()).unwrap();
    stats.nodes.iter().find(|n| n.node_id == node).map_or_else(|| "absent".to_owned(), |n| n.state.clone())
}

const BROADCAST_POOL: PoolId = PoolId::new(411, 0);

#[test]
fn a_node_added_to_the_hostfile_joins_the_running_cluster_with_its_broadcast_pools() {
    let cluster = Cluster::new(&["127.0.0.1", "127.0.0.2"], "  wait_for_restart: 20\n");
    let first = cluster.start("127.0.0.1");
    let second = cluster.start("127.0.0.2");
    // A broadcast pool created at runtime, before the newcomer exists.
    cluster.compose_broadcast("127.0.0.1", "everywhere", "411.0");

    cluster.set_nodes(&["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
    // Node 0 is told; node 1 is not, and takes the newcomer in when it speaks.
    let (code, out, err) = cluster.chimaera("127.0.0.1", &["cluster", "reload"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("node 0: now 3 nodes; taken in: node 2 (127.0.0.3)"), "{out}");
    let started = Instant::now();
    let third = cluster.start("127.0.0.3");
    let client2 = attach(&third);
    let input = LIST_POOLS.encode_input(&()).unwrap();
    poll_until(
        "the newcomer has the broadcast pool",
        Duration::from_secs(20),
        Duration::from_millis(5),
        || {
            let task = TaskSpec::new(PoolId::ADMIN, LIST_POOLS.id, &input);
            let pools =
                LIST_POOLS.decode_output(&client2.submit(&task).unwrap().wait(None).unwrap()).unwrap();
            pools.iter().any(|p| p.pool_id == BROADCAST_POOL)
        },
    );
    println!("node 2 started and had the broadcast pool after {:.0?}", started.elapsed());
    // The line comes once the pools are made.
    poll_until(
        "the newcomer says what it took in",
        Duration::from_secs(20),
        Duration::from_millis(5),
        || third.log().contains("took in the cluster's broadcast pools: 1 created here"),
    );
    // Its id is the new line's; the other nodes keep theirs.
    let own = RUNTIME_STATS.decode_output(&stats_on(&client2, Route::Local).unwrap()).unwrap();
    assert_eq!(own.node_id, 2);
    let client0 = attach(&first);
    let client1 = attach(&second);
    // Every node's broadcasts reach all three.
    for client in [&client0, &client1, &client2] {
        assert_eq!(broadcast_nodes(client), [(0, true), (1, true), (2, true)]);
    }
    assert!(second.log().contains("joined the cluster, now 3 nodes"), "{}", second.log());
    // The operator's view: all three, up.
    let (code, out, err) = cluster.chimaera("127.0.0.2", &["cluster", "members", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let members: serde_json::Value = serde_json::from_str(&out).unwrap();
    let seen: Vec<(u64, &str, &str)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (m["node_id"].as_u64().unwrap(), m["address"].as_str().unwrap(), m["state"].as_str().unwrap())
        })
        .collect();
    assert_eq!(seen, [(0, "127.0.0.1", "up"), (1, "127.0.0.2", "self"), (2, "127.0.0.3", "up")], "{out}");
    // The pool serves on the newcomer, reached from node 0.
    let echo = chimaera_custom_api::ECHO;
    let input = echo.encode_input(&b"hello".to_vec()).unwrap();
    let task = TaskSpec { route: Route::Node(2), ..TaskSpec::new(BROADCAST_POOL, echo.id, &input) };
    let out = client0.submit(&task).unwrap().wait(Some(Duration::from_secs(60))).unwrap();
    assert_eq!(echo.decode_output(&out).unwrap(), b"hello");

    // A hostfile that renumbers known nodes is refused, and nothing changes.
    cluster.set_nodes(&["127.0.0.1", "127.0.0.3", "127.0.0.2"]);
    let (code, out, err) = cluster.chimaera("127.0.0.1", &["cluster", "reload", "--all"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("node 1 (127.0.0.2) is replaced by 127.0.0.3"), "{err}");
    assert!(err.contains("node ids are the hostfile's line order"), "{err}");
    second.signal(rustix::process::Signal::HUP);
    poll_until("SIGHUP is answered", Duration::from_secs(20), Duration::from_millis(20), || {
        second.log().contains("SIGHUP: hostfile not taken in")
    });
    assert_eq!(broadcast_nodes(&client1), [(0, true), (1, true), (2, true)]);
}

#[test]
fn a_node_that_leaves_is_passed_by_its_tasks_fail_at_once_and_it_can_come_back() {
    let addresses = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
    let cluster = Cluster::new(&addresses, "  wait_for_restart: 30\n");
    let first = cluster.start("127.0.0.1");
    let _second = cluster.start("127.0.0.2");
    let mut third = cluster.start("127.0.0.3");
    let client = attach(&first);
    assert_eq!(broadcast_nodes(&client), [(0, true), (1, true), (2, true)]);
    // (Before it started, node 0 may have found it down: only what follows counts.)
    let before_leaving = first.log().len();
    let (code, out, err) = cluster.chimaera("127.0.0.3", &["cluster", "leave"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("left the cluster"), "{out}");
    assert_eq!(third.wait_exit().code(), Some(0), "{}", third.stderr());
    poll_until("node 0 sees node 2 gone", Duration::from_secs(20), Duration::from_millis(20), || {
        state_of(&client, 2) == "left"
    });
    assert!(first.log().contains("node 2 (127.0.0.3) left the cluster"), "{}", first.log());
    // Passed by in broadcasts, and its tasks fail at once, naming it,
    // instead of waiting out the 30 s of wait_for_restart.
    assert_eq!(broadcast_nodes(&client), [(0, true), (1, true)]);
    let asked = Instant::now();
    let err = stats_on(&client, Route::Node(2)).unwrap_err().to_string();
    assert!(err.contains("node 2 (127.0.0.3) left the cluster"), "{err}");
    assert!(asked.elapsed() < Duration::from_secs(20), "failed after {:?}", asked.elapsed());
    // Never found dead: it said it left.
    let since = &first.log()[before_leaving..];
    assert!(!since.contains("node 2 (127.0.0.3) is down"), "{since}");
    // Started again, it rejoins and is in broadcasts again.
    let _back = cluster.start("127.0.0.3");
    poll_until("node 2 rejoins", Duration::from_secs(20), Duration::from_millis(20), || {
        state_of(&client, 2) == "up"
    });
    assert_eq!(broadcast_nodes(&client), [(0, true), (1, true), (2, true)]);
}
