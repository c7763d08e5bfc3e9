//! Bulk buffers between real processes: a client's `client_data` buffer
//! read in place by a module, a module's `runtime_data` buffer read by the
//! client, and every bad reference or exhausted segment an error.

use std::time::Duration;

use chimaera_client::{ClientError, TaskSpec};
use chimaera_custom_api::{ECHO, FILL, SUM, fill_byte};
use chimaera_test_support::{TWO_PLUS_ONE, attach, start_with_pools};
use chimod_sdk::PoolId;
use chimod_sdk::bulk::{Bulk, BulkSegment};

const CUSTOM: PoolId = PoolId::new(400, 0);

#[test]
fn a_client_buffer_is_read_in_place_by_a_module() {
    let rt = start_with_pools(TWO_PLUS_ONE, "");
    let client = attach(&rt);
    let mut buf = client.bulk_alloc(1 << 20).unwrap();
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (i * 7 % 251) as u8;
    }
    let expected: u64 = buf.iter().map(|b| u64::from(*b)).sum();
    assert_eq!(client.call_method(CUSTOM, SUM, &buf.bulk()).unwrap(), expected);
    // A range of it, as a bdev write of part of a buffer would send.
    let part = buf.bulk().range(1000, 5000).unwrap();
    let part_sum: u64 = buf[1000..6000].iter().map(|b| u64::from(*b)).sum();
    assert_eq!(client.call_method(CUSTOM, SUM, &part).unwrap(), part_sum);
    // The runtime sees the buffer as live while we hold it.
    assert_eq!(client.admin().stats().unwrap().client_data.live_blocks, 1);
    drop(buf);
    assert_eq!(client.admin().stats().unwrap().client_data.live_blocks, 0);
}

#[test]
fn a_module_returns_data_in_a_runtime_buffer() {
    let rt = start_with_pools(TWO_PLUS_ONE, "");
    let client = attach(&rt);
    let free_before = client.bulk_stats().unwrap()[1].free;
    let bulk = client.call_method(CUSTOM, FILL, &(300_000, 9)).unwrap();
    assert_eq!(bulk.segment, BulkSegment::RuntimeData);
    assert_eq!(bulk.offset % 4096, 0, "blocks are 4096-aligned");
    let data = client.bulk_take(bulk).unwrap();
    assert_eq!(data.len(), 300_000);
    assert!(data.iter().enumerate().all(|(i, b)| *b == fill_byte(9, i)));
    assert!(client.bulk_stats().unwrap()[1].free < free_before);
    drop(data);
    assert_eq!(client.bulk_stats().unwrap()[1].free, free_before, "freed when dropped");
    // Taking it twice (it is gone now) is an error, not a dangling view.
    let err = client.bulk_take(bulk).unwrap_err();
    assert!(err.to_string().contains("has no live block"), "{err}");
}

#[test]
fn bad_references_and_a_full_segment_are_clear_errors() {
    let rt = start_with_pools(TWO_PLUS_ONE, "");
    let client = attach(&rt);
    // A reference to memory nobody allocated.
    let wild = Bulk { segment: BulkSegment::ClientData, offset: 123_456, len: 64 };
    let err = client.call_method(CUSTOM, SUM, &wild).unwrap_err();
    assert!(
        matches!(&err, ClientError::Failed(m) if m.contains("client_data segment has no live block")),
        "{err}"
    );
    let beyond = Bulk { segment: BulkSegment::RuntimeData, offset: u64::MAX - 10, len: 100 };
    assert!(client.call_method(CUSTOM, SUM, &beyond).is_err());
    // A client's buffer cannot be taken as a returned one.
    let buf = client.bulk_alloc(4096).unwrap();
    assert!(matches!(client.bulk_take(buf.bulk()), Err(ClientError::Bulk(_))));
    drop(buf);
    // client_data is 4M in these tests: fill it, see the error, free, reuse.
    let mut held = Vec::new();
    let err = loop {
        match client.bulk_alloc(512 << 10) {
            Ok(b) => held.push(b),
            Err(e) => break e,
        }
    };
    assert!(!held.is_empty());
    let text = err.to_string();
    assert!(
        text.contains("the client_data segment has no free block for 524288 bytes")
            && text.contains("raise memory.client_data_segment_size"),
        "{text}"
    );
    let too_big = client.bulk_alloc(1 << 30).unwrap_err().to_string();
    assert!(too_big.contains("larger than the client_data segment's largest block"), "{too_big}");
    held.pop();
    let again = client.bulk_alloc(512 << 10).expect("freed space is reused");
    drop(again);
    drop(held);
    // The module's own allocation failing is the task's error.
    let err = client.call_method(CUSTOM, FILL, &(1 << 30, 0)).unwrap_err();
    assert!(err.to_string().contains("runtime_data"), "{err}");
    // And everything still works.
    let buf = client.bulk_alloc(4096).unwrap();
    let input = SUM.encode_input(&buf.bulk()).unwrap();
    let out =
        client.submit(&TaskSpec::new(CUSTOM, SUM.id, &input)).unwrap().wait(Some(Duration::from_secs(10)));
    assert_eq!(SUM.decode_output(&out.unwrap()).unwrap(), 0);
}

#[test]
fn inputs_and_outputs_larger_than_a_slot_spill_into_bulk_buffers() {
    let rt = start_with_pools(TWO_PLUS_ONE, "");
    let client = attach(&rt);
    let free_at_start = client.bulk_stats().unwrap().map(|s| s.free);
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    // ECHO returns its input: 300 KB in, 300 KB out, through both segments.
    assert_eq!(client.call_method(CUSTOM, ECHO, &big).unwrap(), big);
    // Abandoned and fire-and-forget tasks free their spilled buffers too.
    let input = ECHO.encode_input(&big).unwrap();
    drop(client.submit(&TaskSpec::new(CUSTOM, ECHO.id, &input)).unwrap());
    client.fire_and_forget(&TaskSpec::new(CUSTOM, ECHO.id, &input)).unwrap();
    assert_eq!(client.call_method(CUSTOM, ECHO, &vec![1u8; 10]).unwrap(), vec![1u8; 10]);
    let started = std::time::Instant::now();
    while client.bulk_stats().unwrap().map(|s| s.free) != free_at_start {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "spilled buffers leaked: {:?}",
            client.bulk_stats().unwrap()
        );
        std::thread::yield_now();
    }
}
