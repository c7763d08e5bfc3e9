//! Peers that try to make a node hold what it cannot: a frame that
//! declares a terabyte, a message of endless parts, more connections than
//! the node has file descriptors. The node's memory and CPU stay bounded
//! and it keeps serving the peers it has.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use chimaera_test_support::zmtp::ZmtpPeer;
use chimaera_test_support::{Cluster, StartedRuntime, attach, poll_until};

/// Node 0 of a two-node cluster on loopback addresses of its own; node 1
/// is only in the hostfile. Loopback sources are admitted.
fn lone_node(a: &str, b: &str) -> (Cluster, StartedRuntime, SocketAddr) {
    let cluster = Cluster::new(&[a, b], "");
    let node = cluster.start(a);
    let to = SocketAddr::new(a.parse().unwrap(), cluster.port);
    (cluster, node, to)
}

/// Resident memory of a process, from /proc.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// CPU time a process has used, from /proc (ticks of utime + stime).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    let after_name = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Streams `total` bytes after `head` until the node hangs up; returns how
/// many it took.
fn stream_until_refused(peer: &mut ZmtpPeer, head: &[u8], total: usize) -> usize {
    peer.send_raw(head).expect("the header");
    let chunk = vec![0x5au8; 1 << 20];
    let mut sent = 0;
    while sent < total {
        if peer.send_raw(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    sent
}

fn still_serves(node: &StartedRuntime) {
    attach(node).admin().stats().expect("the node still serves its clients");
}

const MIB: u64 = 1 << 20;
/// What a node may grow by while refusing a peer: well under the 256 MiB
/// it was sent, well over its own noise.
const BOUND: u64 = 48 * MIB;

#[test]
fn a_frame_declaring_a_terabyte_is_refused_on_its_header() {
    let (_cluster, node, to) = lone_node("127.0.0.41", "127.0.0.42");
    let before = rss_bytes(node.pid());
    let mut peer = ZmtpPeer::connect(to, "DEALER").expect("a ZeroMQ handshake");
    let mut head = vec![0x02u8]; // a long message frame
    head.extend_from_slice(&(1u64 << 40).to_be_bytes());
    let sent = stream_until_refused(&mut peer, &head, 256 << 20);
    let grown = rss_bytes(node.pid()).saturating_sub(before);
    assert!(grown < BOUND, "the node grew by {} MiB on {} MiB sent", grown / MIB, sent as u64 / MIB);
    assert!(sent < 256 << 20, "the node read all 256 MiB of a 1 TiB frame instead of hanging up");
    poll_until("the refusal in the log", Duration::from_secs(30), Duration::from_millis(20), || {
        node.log().contains("the connection from 127.0.0.1 was closed: ")
    });
    assert!(node.log().contains("max_message_size"), "{}", node.log());
    still_serves(&node);
}

#[test]
fn a_message_of_endless_parts_is_refused_at_the_size_limit() {
    let (_cluster, node, to) = lone_node("127.0.0.43", "127.0.0.44");
    let before = rss_bytes(node.pid());
    let mut peer = ZmtpPeer::connect(to, "DEALER").expect("a ZeroMQ handshake");
    // 1 MiB parts, each saying "more follows", 256 of them.
    let mut part = vec![0x03u8]; // long frame, more
    part.extend_from_slice(&(1u64 << 20).to_be_bytes());
    part.extend(vec![0x5au8; 1 << 20]);
    let mut sent = 0usize;
    for _ in 0..256 {
        if peer.send_raw(&part).is_err() {
            break;
        }
        sent += part.len();
    }
    let grown = rss_bytes(node.pid()).saturating_sub(before);
    assert!(grown < 64 * MIB + BOUND, "the node grew by {} MiB", grown / MIB);
    assert!(sent < 256 << 20, "the node took all {} MiB of one message", sent as u64 / MIB);
    still_serves(&node);
}

#[test]
fn running_out_of_file_descriptors_pauses_accepts_instead_of_spinning() {
    let (_cluster, node, to) = lone_node("127.0.0.45", "127.0.0.46");
    let pid = node.pid().to_string();
    let limited = std::process::Command::new("prlimit").args(["--pid", &pid, "--nofile=128:128"]).status();
    if !limited.is_ok_and(|s| s.success()) {
        eprintln!("\n*** SKIPPED: `prlimit` cannot lower the node's file descriptor limit here ***\n");
        return;
    }
    // More connections than the node can take, held open.
    // Once the node stops accepting, its listen backlog fills and a connect
    // waits: stop at the first one that does not complete at once.
    let held: Vec<TcpStream> =
        (0..300).map_while(|_| TcpStream::connect_timeout(&to, Duration::from_millis(500)).ok()).collect();
    assert!(held.len() > 128, "only {} connections were made", held.len());
    poll_until("the accept failure in the log", Duration::from_secs(30), Duration::from_millis(20), || {
        node.log().contains("cannot accept a connection")
    });
    // CPU used over two seconds of the node being out of descriptors: a
    // spinning accept loop takes a whole core (100 ticks a second).
    let (ticks, started) = (cpu_ticks(node.pid()), Instant::now());
    std::thread::sleep(Duration::from_secs(2));
    let per_second = (cpu_ticks(node.pid()) - ticks) as f64 / started.elapsed().as_secs_f64();
    assert!(
        per_second < 30.0,
        "the node used {per_second:.0} ticks a second (of 100) while out of descriptors"
    );
    let lines = node.log().matches("cannot accept a connection").count();
    assert!(lines <= 4, "{lines} lines about it: logged at most once a second");
    drop(held);
    still_serves(&node);
    // And a peer is accepted again once descriptors are free.
    let mut peer = ZmtpPeer::connect(to, "DEALER").expect("a handshake after the flood");
    peer.send_raw(&[]).unwrap();
    let _ = peer;
    let _ = std::io::stdout().flush();
}
