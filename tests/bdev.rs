//! `chimaera_bdev` on real runtime processes: file and RAM devices written
//! and read through bulk buffers, concurrently, to fullness, with bad input,
//! and across a restart.

use std::time::Duration;

use chimaera::config::ComposeEntry;
use chimaera_bdev_api::Block;
use chimaera_client::{BdevClient, Client, ClientError};
use chimaera_test_support::{RuntimeProcess, SMALL_CONFIG, StartedRuntime, attach, pattern};
use chimod_sdk::admin::CreateOutcome;
use chimod_sdk::{PoolId, PoolQuery};

const FILE_DEV: PoolId = PoolId::new(300, 0);
const RAM_DEV: PoolId = PoolId::new(301, 0);
const SYNC_FILE_DEV: PoolId = PoolId::new(302, 0);

/// A runtime with a 32M file device in its directory and a 32M RAM device,
/// and data segments large enough for 1 MiB buffers from several threads.
fn config() -> String {
    let base = SMALL_CONFIG.replace("client_data_segment_size: 4M", "client_data_segment_size: 32M").replace(
        "workers:\n  sched_threads: 1\n  slow_threads: 1\n",
        "workers:\n  sched_threads: 1\n  slow_threads: 2\n",
    );
    format!(
        "{base}compose:
  - mod_name: chimaera_bdev
    pool_name: {{dir}}/device.dat
    pool_query: local
    pool_id: 300.0
    capacity: 32M
    bdev_type: file
    io_depth: 8
    read_bandwidth_mbps: 1800
  - mod_name: chimaera_bdev
    pool_name: {{dir}}/sync_device.dat
    pool_query: local
    pool_id: 302.0
    capacity: 32M
    bdev_type: file
    io_engine: sync
  - mod_name: chimaera_bdev
    pool_name: ram_dev
    pool_query: local
    pool_id: 301.0
    capacity: 32M
    bdev_type: ram
"
    )
}

fn start() -> StartedRuntime {
    RuntimeProcess::new(&config()).start()
}

fn write_pattern(client: &Client, dev: &BdevClient<'_>, block: Block, seed: u64) {
    let mut buf = client.bulk_alloc(block.size).unwrap();
    buf.copy_from_slice(&pattern(seed, block.size as usize));
    assert_eq!(dev.write(block, 0, &buf).unwrap(), block.size);
}

fn read_back(client: &Client, dev: &BdevClient<'_>, block: Block) -> Vec<u8> {
    let mut buf = client.bulk_alloc(block.size).unwrap();
    assert_eq!(dev.read(block, 0, &mut buf).unwrap(), block.size);
    buf.to_vec()
}

#[test]
fn every_size_class_round_trips_on_both_backends() {
    let rt = start();
    let client = attach(&rt);
    for pool in [FILE_DEV, SYNC_FILE_DEV, RAM_DEV] {
        let dev = BdevClient::new(&client, pool);
        for (i, size) in [4096u64, 64 << 10, 256 << 10, 1 << 20, 3 << 20].into_iter().enumerate() {
            let blocks = dev.allocate(size).unwrap();
            let expected_size = [4096, 64 << 10, 256 << 10, 1 << 20, 1 << 20][i];
            assert!(blocks.iter().all(|b| b.size == expected_size && b.offset % 4096 == 0), "{blocks:?}");
            for (j, block) in blocks.iter().enumerate() {
                write_pattern(&client, &dev, *block, (i * 10 + j) as u64);
            }
            for (j, block) in blocks.iter().enumerate() {
                assert!(
                    read_back(&client, &dev, *block) == pattern((i * 10 + j) as u64, block.size as usize)
                );
            }
        }
        // A range inside a block, unaligned, through a sub-range of a buffer.
        let block = dev.allocate(64 << 10).unwrap()[0];
        write_pattern(&client, &dev, block, 99);
        let mut small = client.bulk_alloc(1000).unwrap();
        dev.read(block, 333, &mut small).unwrap();
        assert_eq!(&small[..], &pattern(99, 64 << 10)[333..1333]);
        let stats = dev.stats().unwrap();
        assert_eq!(stats.writes.count, 1 + 1 + 1 + 1 + 3 + 1);
        assert_eq!(stats.reads.count, 1 + 1 + 1 + 1 + 3 + 1);
        assert_eq!(stats.reads.bytes, 4096 + (64 << 10) + (256 << 10) + (1 << 20) + (3 << 20) + 1000);
        assert!(stats.writes.mean_us > 0.0 && stats.writes.p99_us > 0.0);
        assert_eq!(stats.blocks_live, 1 + 1 + 1 + 1 + 3 + 1);
        assert_eq!(stats.remaining, (32 << 20) - (4096 + (64 << 10) * 2 + (256 << 10) + (4 << 20)));
    }
    let file = BdevClient::new(&client, FILE_DEV).stats().unwrap();
    assert_eq!(file.bdev_type, "file");
    assert_eq!(file.declared.read_bandwidth_mbps, Some(1800.0));
    assert!(!BdevClient::new(&client, SYNC_FILE_DEV).stats().unwrap().async_io, "io_engine: sync");
}

#[test]
fn concurrent_clients_write_disjoint_blocks_and_every_byte_is_right() {
    let rt = start();
    let port = rt.spec().port();
    let threads: Vec<_> = (0..6u64)
        .map(|t| {
            std::thread::spawn(move || {
                let client = Client::attach_port(port, Duration::from_secs(10)).unwrap();
                let pool = if t % 2 == 0 { FILE_DEV } else { RAM_DEV };
                let dev = BdevClient::new(&client, pool);
                let blocks: Vec<Block> = (0..20).flat_map(|_| dev.allocate(64 << 10).unwrap()).collect();
                // Pipelined: all writes in flight, then all reads.
                let bufs: Vec<_> = blocks
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        let mut buf = client.bulk_alloc(b.size).unwrap();
                        buf.copy_from_slice(&pattern(t * 1000 + i as u64, b.size as usize));
                        buf
                    })
                    .collect();
                let writes: Vec<_> =
                    blocks.iter().zip(&bufs).map(|(b, buf)| dev.write_async(*b, 0, buf).unwrap()).collect();
                for w in writes {
                    assert_eq!(w.wait(Some(Duration::from_secs(30))).unwrap(), 64 << 10);
                }
                for (i, b) in blocks.iter().enumerate() {
                    assert!(read_back(&client, &dev, *b) == pattern(t * 1000 + i as u64, b.size as usize));
                }
                blocks
            })
        })
        .collect();
    let mut all: Vec<(u64, Block)> = Vec::new();
    for (t, h) in threads.into_iter().enumerate() {
        all.extend(h.join().unwrap().into_iter().map(|b| ((t % 2) as u64, b)));
    }
    all.sort_by_key(|(dev, b)| (*dev, b.offset));
    for pair in all.windows(2) {
        let ((d1, a), (d2, b)) = (pair[0], pair[1]);
        assert!(d1 != d2 || a.offset + a.size <= b.offset, "blocks {a:?} and {b:?} overlap");
    }
}

#[test]
fn allocation_until_full_then_error_then_reuse() {
    let rt = start();
    let client = attach(&rt);
    let dev = BdevClient::new(&client, RAM_DEV);
    let mut held = Vec::new();
    let err = loop {
        match dev.allocate(1 << 20) {
            Ok(blocks) => held.extend(blocks),
            Err(e) => break e,
        }
    };
    assert_eq!(held.len(), 32);
    assert_eq!(err.to_string(), "out of space: asked for 1048576 bytes, 0 left of 32M");
    assert_eq!(dev.stats().unwrap().remaining, 0);
    let last = held.pop().unwrap();
    dev.free(&[last]).unwrap();
    assert_eq!(dev.allocate(1 << 20).unwrap(), vec![last], "freed space is reused");
    // Freeing twice, or a block this device never gave, is refused.
    dev.free(&[last]).unwrap();
    let err = dev.free(&[last]).unwrap_err().to_string();
    assert!(err.contains("is not allocated (freed twice, or not from this device)"), "{err}");
    let err = dev.free(&[Block { offset: 4096, size: 4096 }]).unwrap_err().to_string();
    assert!(err.contains("not"), "{err}");
    dev.free(&held).unwrap();
    assert_eq!(dev.stats().unwrap().remaining, 32 << 20);
    assert_eq!(dev.stats().unwrap().blocks_live, 0);
}

fn bdev_entry(id: PoolId, name: &str, params: serde_json::Value) -> ComposeEntry {
    ComposeEntry {
        mod_name: "chimaera_bdev".into(),
        pool_name: name.into(),
        pool_query: PoolQuery::Local,
        pool_id: id,
        params: params.as_object().unwrap().clone(),
    }
}

#[test]
fn bad_devices_and_bad_requests_are_clear_errors() {
    let rt = start();
    let client = attach(&rt);
    let admin = client.admin();
    let create = |id: u32, name: &str, params: serde_json::Value| {
        admin.create_pool(&bdev_entry(PoolId::new(350, id), name, params)).unwrap_err().to_string()
    };
    let err = create(0, "x", serde_json::json!({"capacity": "1M", "bdev_type": "ram", "alignment": 3000}));
    assert!(err.contains("alignment: must be a power of two (got `3000`)"), "{err}");
    let err = create(1, "x", serde_json::json!({"capacity": 0, "bdev_type": "ram"}));
    assert!(err.contains("capacity: must be more than 0"), "{err}");
    let err = create(2, "/no/such/dir/dev.dat", serde_json::json!({"capacity": "1M", "bdev_type": "file"}));
    assert!(
        err.contains(
            "/no/such/dir/dev.dat: cannot create the device file: directory /no/such/dir does not exist"
        ),
        "{err}"
    );
    let err = create(3, "/proc/chimaera_dev.dat", serde_json::json!({"capacity": "1M", "bdev_type": "file"}));
    assert!(err.contains("/proc/chimaera_dev.dat: cannot open the device file"), "{err}");
    let path = rt.spec().dir().join("huge.dat");
    let err = create(4, path.to_str().unwrap(), serde_json::json!({"capacity": "64T", "bdev_type": "file"}));
    assert!(err.contains("capacity 64T (70368744177664 bytes) does not fit: only"), "{err}");
    assert!(!path.exists(), "a device file that could not be sized is removed");
    let err = create(5, "big_ram", serde_json::json!({"capacity": "64T", "bdev_type": "ram"}));
    assert!(err.contains("capacity: 64T is more than this machine can give"), "{err}");
    let err = create(6, "x", serde_json::json!({"capacity": "1M", "bdev_type": "ram", "io_depth": 0}));
    assert!(err.contains("io_depth: must be at least 1"), "{err}");
    let err = create(7, "x", serde_json::json!({"capacity": "1M", "bdev_type": "file", "io_engine": "aio"}));
    assert!(err.contains("io_engine: unknown variant `aio`"), "{err}");

    // Requests outside a block or the device.
    let dev = BdevClient::new(&client, FILE_DEV);
    let block = dev.allocate(4096).unwrap()[0];
    let mut buf = client.bulk_alloc(4096).unwrap();
    let err = dev.read(block, 1, &mut buf).unwrap_err();
    assert!(
        matches!(&err, ClientError::Failed(m) if m.contains("read: 4096 bytes at offset 1 do not fit in the block of 4096 bytes")),
        "{err}"
    );
    let outside = Block { offset: 32 << 20, size: 4096 };
    let err = dev.write(outside, 0, &buf).unwrap_err().to_string();
    assert!(err.contains("is not a block of this device"), "{err}");
    let odd = Block { offset: 100, size: 4096 };
    assert!(dev.write(odd, 0, &buf).is_err());
    // The device still serves.
    write_pattern(&client, &dev, block, 5);
    assert!(read_back(&client, &dev, block) == pattern(5, 4096));
}

#[test]
fn file_data_survives_a_clean_restart() {
    let rt = start();
    let client = attach(&rt);
    let dev = BdevClient::new(&client, FILE_DEV);
    let blocks = dev.allocate(5 << 20).unwrap();
    for (i, b) in blocks.iter().enumerate() {
        write_pattern(&client, &dev, *b, 500 + i as u64);
    }
    drop(client);
    // Stop cleanly (flushes every pool), then start again on the same file.
    let spec = rt.stop_keeping_dir();
    let rt = spec.start();
    let client = attach(&rt);
    let dev = BdevClient::new(&client, FILE_DEV);
    for (i, b) in blocks.iter().enumerate() {
        assert!(
            read_back(&client, &dev, *b) == pattern(500 + i as u64, b.size as usize),
            "block {i} changed"
        );
    }
    assert_eq!(admin_create_again(&client), CreateOutcome::AlreadyExists);
}

/// Creating the same device again through the admin pool is harmless.
fn admin_create_again(client: &Client) -> CreateOutcome {
    let pools = client.admin().list_pools().unwrap();
    let d = pools.iter().find(|p| p.pool_id == FILE_DEV).unwrap();
    let params: serde_json::Value = serde_json::from_str(&d.params_json).unwrap();
    client.admin().create_pool(&bdev_entry(FILE_DEV, &d.pool_name, params)).unwrap()
}

#[test]
fn flushed_data_survives_a_killed_runtime() {
    let rt = start();
    let client = attach(&rt);
    let dev = BdevClient::new(&client, FILE_DEV);
    let blocks = dev.allocate(2 << 20).unwrap();
    for (i, b) in blocks.iter().enumerate() {
        write_pattern(&client, &dev, *b, 900 + i as u64);
    }
    assert!(client.admin().flush().unwrap() >= 3, "every pool flushed");
    drop(client);
    // SIGKILL: no clean stop, no destroy; the next start reclaims the
    // stale shared memory and reopens the file with its data.
    let spec = rt.kill_keeping_state();
    let rt = spec.start();
    assert!(rt.log().contains("reclaimed shared memory left behind"), "{}", rt.log());
    let client = attach(&rt);
    let dev = BdevClient::new(&client, FILE_DEV);
    for (i, b) in blocks.iter().enumerate() {
        assert!(read_back(&client, &dev, *b) == pattern(900 + i as u64, b.size as usize), "block {i} lost");
    }
}
