//! Connections between nodes are made on demand and closed when idle
//! (`networking.idle_connection_timeout`): a node holds connections only to
//! the peers it is talking to, as the kernel's socket table shows.

use std::net::IpAddr;
use std::time::Duration;

use chimaera_client::TaskSpec;
use chimaera_test_support::{Cluster, attach, connections_to_port, poll_until};
use chimod_sdk::admin::PING;
use chimod_sdk::{PoolId, Route};

#[test]
fn a_node_connects_to_a_peer_when_it_has_something_to_send_and_lets_go_when_idle() {
    let addresses = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
    let mut cluster = Cluster::new(&addresses, "  idle_connection_timeout: 2\n");
    // SWIM probes one member every 12 s: the start's traffic ends soon.
    cluster.heartbeat_ms = 60_000;
    let nodes: Vec<_> = addresses.iter().map(|a| cluster.start(a)).collect();
    assert!(nodes[0].log().contains("idle connections closed after 2s"), "{}", nodes[0].log());
    let pid = nodes[0].pid();
    let port = cluster.port;
    // Whatever the start connected (the first probe, the join's pool
    // listing) is closed once idle.
    poll_until("node 0 holding no connection", Duration::from_secs(30), Duration::from_millis(50), || {
        connections_to_port(pid, port).is_empty()
    });
    let client = attach(&nodes[0]);
    let ping = PING.encode_input(&()).unwrap();
    let task = TaskSpec { route: Route::Node(2), ..TaskSpec::new(PoolId::ADMIN, PING.id, &ping) };
    client.submit(&task).unwrap().wait(Some(Duration::from_secs(30))).unwrap();
    let third: IpAddr = "127.0.0.3".parse().unwrap();
    let held = connections_to_port(pid, port);
    assert!(held.contains(&third), "a task to node 2 connects to it: {held:?}");
    poll_until(
        "the connection to node 2 closed when idle",
        Duration::from_secs(30),
        Duration::from_millis(50),
        || !connections_to_port(pid, port).contains(&third),
    );
    assert!(nodes[0].log().contains("closed the idle connection to node 2 (127.0.0.3) after 2s"));
    // And made again for the next task.
    client.submit(&task).unwrap().wait(Some(Duration::from_secs(30))).unwrap();
    assert!(connections_to_port(pid, port).contains(&third));
}
