//! A bounded soak: a 3-node loopback cluster under many clients sending
//! mixed tasks (fast, spilled, subtasks, bdev I/O on slow workers, remote
//! and broadcast), every result checked, and memory (each runtime's RSS
//! and the shared-memory heaps' free space) compared from start to end.
//!
//! `CHI_SOAK_SECONDS` sets the length (default 30; longer runs by hand).

use std::time::{Duration, Instant};

use chimaera_client::{BdevClient, Client, TaskSpec};
use chimaera_custom_api::{ECHO, RELAY, Relay};
use chimaera_test_support::{Cluster, StartedRuntime, attach};
use chimod_sdk::admin::RUNTIME_STATS;
use chimod_sdk::{PoolId, Route};

const BDEV: PoolId = PoolId::new(310, 0);
const CUSTOM: PoolId = PoolId::new(400, 0);

fn rss_kib(rt: &StartedRuntime) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", rt.pid())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One client thread's loop; returns how many tasks it checked.
fn client_loop(client: &Client, seed: u64, until: Instant) -> u64 {
    let dev = BdevClient::new(client, BDEV);
    let block = dev.allocate(64 << 10).expect("bdev block")[0];
    let stats_input = RUNTIME_STATS.encode_input(&()).unwrap();
    let mut done = 0u64;
    let mut i = seed;
    while Instant::now() < until {
        i = i.wrapping_add(1);
        match i % 6 {
            0 => {
                let v = format!("fast {i}").into_bytes();
                assert_eq!(client.call_method(CUSTOM, ECHO, &v).unwrap(), v);
            }
            1 => {
                let v = vec![(i % 251) as u8; 10_000];
                assert_eq!(client.call_method(CUSTOM, ECHO, &v).unwrap(), v, "spilled echo");
            }
            2 => {
                let mut buf = client.bulk_alloc(64 << 10).unwrap();
                buf.fill((i % 199) as u8);
                dev.write(block, 0, &buf).unwrap();
                let mut back = client.bulk_alloc(64 << 10).unwrap();
                dev.read(block, 0, &mut back).unwrap();
                assert!(back.iter().all(|b| *b == (i % 199) as u8), "bdev data");
            }
            3 => {
                let target = (i % 3) as u32;
                let task = TaskSpec {
                    route: Route::Node(target),
                    ..TaskSpec::new(PoolId::ADMIN, RUNTIME_STATS.id, &stats_input)
                };
                let out = client.submit(&task).unwrap().wait(Some(Duration::from_secs(30))).unwrap();
                assert_eq!(RUNTIME_STATS.decode_output(&out).unwrap().node_id, target);
            }
            4 => {
                let relay = Relay {
                    pool_id: CUSTOM,
                    method: ECHO.id,
                    input: ECHO.encode_input(&vec![7u8; 100]).unwrap(),
                    long: false,
                    copies: 3,
                    route: Route::Local,
                };
                let outs = client.call_method(CUSTOM, RELAY, &relay).unwrap();
                assert_eq!(outs.len(), 3);
            }
            _ => {
                let task = TaskSpec {
                    route: Route::Broadcast,
                    ..TaskSpec::new(PoolId::ADMIN, RUNTIME_STATS.id, &stats_input)
                };
                let out = client.submit(&task).unwrap().wait(Some(Duration::from_secs(30))).unwrap();
                let all = Client::gathered(&out).unwrap();
                assert!(all.len() == 3 && all.iter().all(|o| o.ok), "broadcast");
            }
        }
        done += 1;
    }
    dev.free(&[block]).unwrap();
    done
}

#[test]
fn a_cluster_under_mixed_load_stays_correct_and_its_memory_flat() {
    let seconds: u64 = std::env::var("CHI_SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    let addresses = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
    let mut cluster = Cluster::new(&addresses, "");
    cluster.compose = "  - mod_name: chimaera_bdev\n    pool_name: soak_ram\n    pool_query: local\n    pool_id: 310.0\n    capacity: 8M\n    bdev_type: ram\n".into();
    let nodes: Vec<_> = addresses.iter().map(|a| cluster.start(a)).collect();
    // Warm up, then take the starting figures.
    let warm = Instant::now() + Duration::from_secs(2);
    let clients: Vec<Client> = nodes.iter().map(attach).collect();
    for c in &clients {
        client_loop(c, 0, warm);
    }
    let rss_start: Vec<u64> = nodes.iter().map(rss_kib).collect();
    let heaps_start: Vec<_> = clients.iter().map(|c| c.bulk_stats().unwrap().map(|h| h.free)).collect();

    let until = Instant::now() + Duration::from_secs(seconds);
    let threads: Vec<_> = (0..6u64)
        .map(|t| {
            let spec = nodes[(t % 3) as usize].spec().identity();
            std::thread::spawn(move || {
                let client = Client::attach_identity(spec, Duration::from_secs(10)).unwrap();
                client_loop(&client, t * 1_000_000, until)
            })
        })
        .collect();
    let tasks: u64 = threads.into_iter().map(|t| t.join().expect("a client thread failed a check")).sum();

    let rss_end: Vec<u64> = nodes.iter().map(rss_kib).collect();
    let heaps_end: Vec<_> = clients.iter().map(|c| c.bulk_stats().unwrap().map(|h| h.free)).collect();
    eprintln!(
        "soak: {seconds} s, 6 client threads on 3 nodes, {tasks} tasks checked, 0 errors; RSS KiB start {rss_start:?} end {rss_end:?}; bulk free start {heaps_start:?} end {heaps_end:?}"
    );
    assert!(tasks > 0);
    assert_eq!(heaps_end, heaps_start, "every bulk buffer came back");
    for (start, end) in rss_start.iter().zip(&rss_end) {
        // Flat, allowing for allocator caches settling: no growth with load.
        assert!(*end <= start + start / 2 + 16 * 1024, "RSS grew from {start} KiB to {end} KiB");
    }
    for rt in nodes {
        assert_eq!(rt.terminate().code(), Some(0));
    }
}
