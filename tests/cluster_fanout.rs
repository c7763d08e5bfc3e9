//! Broadcasts through a tree: with more nodes than one sender's fan-out
//! (8), the sender relays through one node of each group; every node runs
//! the task once and the outcomes come back in node order. A relay that
//! stops answering is reported failed and its group is still reached.

use std::time::Duration;

use chimaera_client::{Client, TaskSpec};
use chimaera_test_support::{Cluster, StartedRuntime, attach, poll_until};
use chimod_sdk::{PoolId, Route};
use rustix::process::Signal;

const POOL: PoolId = PoolId::new(412, 0);
const NODES: usize = 10;

fn addresses() -> Vec<String> {
    (1..=NODES).map(|i| format!("127.0.0.{i}")).collect()
}

/// Each node's (id, ok, echoed text or error) for a broadcast ECHO from `client`.
fn broadcast_echo(client: &Client, text: &[u8]) -> Vec<(u32, bool, String)> {
    let echo = chimaera_custom_api::ECHO;
    let input = echo.encode_input(&text.to_vec()).unwrap();
    let task = TaskSpec { route: Route::Broadcast, ..TaskSpec::new(POOL, echo.id, &input) };
    let out = client.submit(&task).unwrap().wait(Some(Duration::from_secs(60))).unwrap();
    Client::gathered(&out)
        .unwrap()
        .into_iter()
        .map(|o| {
            let said = if o.ok {
                String::from_utf8(echo.decode_output(&o.output).unwrap()).unwrap()
            } else {
                String::from_utf8_lossy(&o.output).into_owned()
            };
            (o.node, o.ok, said)
        })
        .collect()
}

fn start_all(cluster: &Cluster) -> Vec<StartedRuntime> {
    let runtimes: Vec<StartedRuntime> = addresses().iter().map(|a| cluster.start(a)).collect();
    runtimes.iter().for_each(Cluster::await_join);
    let out = cluster.compose_broadcast("127.0.0.1", "wide", "412.0");
    assert!(out.contains(&format!("created on every node ({NODES})")), "{out}");
    runtimes
}

#[test]
fn a_broadcast_to_more_nodes_than_the_fan_out_goes_through_relays_and_reaches_each_once() {
    let addresses = addresses();
    let cluster = Cluster::new(&addresses.iter().map(String::as_str).collect::<Vec<_>>(), "");
    let runtimes = start_all(&cluster);
    let clients: Vec<Client> = runtimes.iter().map(attach).collect();
    let got = broadcast_echo(&clients[0], b"tree");
    let expected: Vec<(u32, bool, String)> =
        (0..NODES as u32).map(|n| (n, true, "tree".to_owned())).collect();
    assert_eq!(got, expected);
    // Exactly once on every node, relays included.
    for (n, client) in clients.iter().enumerate() {
        assert_eq!(client.admin().pool_stats(POOL).unwrap().tasks, 1, "node {n}");
    }
    // Nine others in groups of two: four relays each pass it to one node,
    // and node 9 is sent it directly.
    let relayed: Vec<usize> =
        (0..NODES).filter(|n| runtimes[*n].log().contains("relaying a broadcast to nodes")).collect();
    assert_eq!(relayed, [1, 3, 5, 7]);
    for (relay, rest) in [(1, 2), (3, 4), (5, 6), (7, 8)] {
        assert!(
            runtimes[relay].log().contains(&format!("relaying a broadcast to nodes [{rest}]")),
            "node {relay}"
        );
    }
    // From any node, the same.
    let from_last = broadcast_echo(&clients[NODES - 1], b"back");
    assert!(from_last.iter().all(|(_, ok, said)| *ok && said == "back"), "{from_last:?}");
    assert_eq!(from_last.len(), NODES);
}

#[test]
fn a_relay_that_stops_answering_is_reported_and_its_group_is_still_reached() {
    let addresses = addresses();
    // Slow probing, so the frozen relay is still "up" when the broadcast
    // goes; a short wait_for_restart, so its silence is found soon.
    let mut cluster =
        Cluster::new(&addresses.iter().map(String::as_str).collect::<Vec<_>>(), "  wait_for_restart: 2\n");
    cluster.heartbeat_ms = 60_000;
    let runtimes = start_all(&cluster);
    let client = attach(&runtimes[0]);
    assert!(broadcast_echo(&client, b"warm").iter().all(|(_, ok, _)| *ok));
    // Each group's relay is its first node not known down: node 3 relays
    // for node 4. Frozen, it takes the task and never answers.
    let frozen = &runtimes[3];
    frozen.signal(Signal::STOP);
    let got = broadcast_echo(&client, b"around");
    frozen.signal(Signal::CONT);
    for (node, ok, said) in &got {
        if *node == 3 {
            assert!(!ok, "the frozen relay answered: {said}");
            assert!(said.contains("node 3 (127.0.0.4) did not answer"), "{said}");
        } else {
            assert!(*ok && said == "around", "node {node}: {said}");
        }
    }
    assert_eq!(got.len(), NODES, "{got:?}");
    // Thawed, they serve again.
    poll_until("the relays answer again", Duration::from_secs(30), Duration::from_millis(50), || {
        broadcast_echo(&client, b"again").iter().all(|(_, ok, _)| *ok)
    });
}

#[test]
fn a_relay_list_naming_nodes_many_times_or_far_outside_the_cluster_costs_no_more_than_the_cluster() {
    use chimod_sdk::admin::{PING, RELAY, Relay};
    let cluster = Cluster::new(&["127.0.0.1", "127.0.0.2"], "");
    let nodes: Vec<StartedRuntime> = ["127.0.0.1", "127.0.0.2"].iter().map(|a| cluster.start(a)).collect();
    let client = attach(&nodes[0]);
    // Node 1 fifty thousand times, and ids up to four billion.
    let mut named = vec![1u32; 50_000];
    named.extend((0..20_000u32).map(|i| i.wrapping_mul(214_748)));
    named.extend(2..10);
    let req = Relay {
        pool_id: PoolId::ADMIN,
        method: PING.id,
        input: PING.encode_input(&()).unwrap(),
        long: false,
        nodes: named,
    };
    let got = client.call_method(PoolId::ADMIN, RELAY, &req).unwrap();
    let once: Vec<u32> = got.iter().filter(|o| o.ok).map(|o| o.node).collect();
    assert_eq!(once, [0, 1], "each member once");
    // What is left: ids just past the cluster (nodes that may have
    // joined), each failing at once as unknown; nothing far outside it.
    for o in got.iter().filter(|o| !o.ok) {
        assert!((2..2 + 1024).contains(&o.node), "node {}", o.node);
        assert!(String::from_utf8_lossy(&o.output).contains(&format!("no node {}", o.node)), "{o:?}");
    }
    assert_eq!(got.len(), 2 + 8, "{got:?}");
    // The cluster serves on.
    let ping = PING.encode_input(&()).unwrap();
    let task = TaskSpec { route: Route::Broadcast, ..TaskSpec::new(PoolId::ADMIN, PING.id, &ping) };
    let all = Client::gathered(&client.submit(&task).unwrap().wait(Some(Duration::from_secs(60))).unwrap())
        .unwrap();
    assert_eq!(all.iter().map(|o| (o.node, o.ok)).collect::<Vec<_>>(), [(0, true), (1, true)]);
}
