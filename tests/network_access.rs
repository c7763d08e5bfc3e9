//! The port hears only hostfile addresses. A network namespace made by the
//! test, joined to this machine by a veth pair, is a host with an address
//! outside the hostfile: a valid heartbeat frame it sends is dropped, while
//! the same frame sent from a hostfile address is heard. Needs root and
//! `ip` (iproute2); skipped, loudly, otherwise.

use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use chimaera::net::{Body, Frame};
use chimaera_test_support::zmtp::ZmtpPeer;
use chimaera_test_support::{Cluster, StartedRuntime, attach, poll_until};
use chimod_sdk::PoolId;
use chimod_sdk::admin::{RUNTIME_STATS, RuntimeStats};

/// A network namespace with one veth pair: `host` on this machine's side,
/// `guest` inside. Removed on drop, failures included.
struct Namespace {
    name: String,
    host_link: String,
    host: IpAddr,
    guest: IpAddr,
}

impl Namespace {
    fn create() -> Option<Namespace> {
        if !rustix::process::geteuid().is_root() || Command::new("ip").arg("-V").output().is_err() {
            return None;
        }
        let id = std::process::id();
        let subnet = format!("10.213.{}", id % 200 + 20);
        let ns = Namespace {
            name: format!("chi-test-{id}"),
            host_link: format!("chih{id}"),
            host: format!("{subnet}.1").parse().expect("address"),
            guest: format!("{subnet}.2").parse().expect("address"),
        };
        let guest_link = format!("chig{id}");
        let steps: [&[&str]; 7] = [
            &["netns", "add", &ns.name],
            &["link", "add", &ns.host_link, "type", "veth", "peer", "name", &guest_link],
            &["link", "set", &guest_link, "netns", &ns.name],
            &["addr", "add", &format!("{}/24", ns.host), "dev", &ns.host_link],
            &["link", "set", &ns.host_link, "up"],
            &["-n", &ns.name, "addr", "add", &format!("{}/24", ns.guest), "dev", &guest_link],
            &["-n", &ns.name, "link", "set", &guest_link, "up"],
        ];
        for step in steps {
            let out = Command::new("ip").args(step).output().expect("run ip");
            if !out.status.success() {
                eprintln!(
                    "\n*** SKIPPED: `ip {}` failed: {} ***\n",
                    step.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                );
                return None;
            }
        }
        Some(ns)
    }

    /// Runs `f` on a thread that has joined the namespace's network.
    fn run_inside<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let fd = std::fs::File::open(&path).expect("open the namespace");
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&fd),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .expect("join the namespace");
            f()
        })
        .join()
        .expect("namespace thread")
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.host_link]).output();
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

fn stats(node: &StartedRuntime) -> RuntimeStats {
    let client = attach(node);
    let input = RUNTIME_STATS.encode_input(&()).unwrap();
    let bytes = client.call(PoolId::ADMIN, RUNTIME_STATS.id, &input).unwrap();
    RUNTIME_STATS.decode_output(&bytes).unwrap()
}

fn node_1_heard(node: &StartedRuntime) -> bool {
    stats(node).nodes.iter().any(|n| n.node_id == 1 && n.last_heard_ms.is_some())
}

/// Sends node 1's heartbeat to `to` as a ZeroMQ peer would.
fn send_heartbeat(to: SocketAddr) {
    let mut peer = ZmtpPeer::connect(to, "DEALER").expect("a ZeroMQ handshake");
    peer.send_message(&[&Frame::new(1, Body::Heartbeat).encode()]).expect("send");
}

fn wait_for(what: &str, limit: Duration, done: impl FnMut() -> bool) {
    poll_until(what, limit, Duration::from_millis(20), done);
}

#[test]
fn frames_from_an_address_outside_the_hostfile_are_dropped() {
    let Some(ns) = Namespace::create() else {
        eprintln!("\n*** SKIPPED: needs root and `ip` to make a network namespace ***\n");
        return;
    };
    // Node 0 is this side of the veth pair; node 1 (hostfile only) never starts.
    let node1 = match ns.host {
        IpAddr::V4(a) => IpAddr::V4(std::net::Ipv4Addr::from(u32::from(a) + 4)),
        IpAddr::V6(_) => unreachable!(),
    };
    let cluster = Cluster::new(&[&ns.host.to_string(), &node1.to_string()], "");
    let node = cluster.start(&ns.host.to_string());
    let to = SocketAddr::new(ns.host, cluster.port);

    assert_eq!(stats(&node).frames_dropped, 0);
    ns.run_inside(move || send_heartbeat(to));
    wait_for("the frame to be dropped", Duration::from_secs(10), || stats(&node).frames_dropped == 1);
    assert!(!node_1_heard(&node), "a frame from {} was heard", ns.guest);
    // Counted before it is logged: wait for the lines themselves.
    let refused = format!("a connection from {}, which is not in the hostfile", ns.guest);
    let dropped = format!("1 frames from {}, which is not in the hostfile", ns.guest);
    wait_for("the refusal and the drop in the log", Duration::from_secs(10), || {
        let log = node.log();
        log.contains(&refused) && log.contains(&dropped)
    });

    // The same frame from a hostfile address (this side of the pair) is heard.
    send_heartbeat(to);
    wait_for("node 1's heartbeat from a hostfile address", Duration::from_secs(10), || node_1_heard(&node));
}
