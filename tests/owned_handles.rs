//! Tasks and bulk buffers that own a share of their client (what the C
//! and Python bindings hold), against a real runtime: they outlive the
//! application's last `Arc<Client>`, a timed-out wait keeps the task for
//! another wait, and an output is taken once.

use std::sync::Arc;
use std::time::Duration;

use chimaera_client::config::ComposeEntry;
use chimaera_client::{BdevClient, Client, ClientError, TaskSpec};
use chimaera_test_support::{RuntimeProcess, SMALL_CONFIG, attach};
use chimod_sdk::PoolId;
use chimod_sdk::admin::PING;
use rustix::process::Signal;

#[test]
fn a_timed_out_owned_task_can_be_waited_for_again_and_its_output_is_taken_once() {
    let rt = RuntimeProcess::new(SMALL_CONFIG).start();
    let client = Arc::new(attach(&rt));
    let input = PING.encode_input(&()).expect("encode");
    rt.freeze();
    let mut task = client.submit_owned(&TaskSpec::new(PoolId::ADMIN, PING.id, &input)).expect("submit");
    drop(client);
    let first = task.wait(Some(Duration::from_millis(200)));
    rt.signal(Signal::CONT);
    assert!(matches!(first, Err(ClientError::Timeout(_))), "{first:?}");
    assert_eq!(
        task.wait(Some(Duration::from_secs(10))).expect("the same task, waited again"),
        Vec::<u8>::new()
    );
    assert!(task.is_done());
    let again = task.wait(None);
    assert!(matches!(again, Err(ClientError::Taken)), "{again:?}");
    assert_eq!(again.unwrap_err().to_string(), "this task's output was already taken");
}

#[test]
fn an_owned_bulk_buffer_outlives_the_client_handle_and_carries_a_bdev_write() {
    let rt = RuntimeProcess::new(SMALL_CONFIG).start();
    let client =
        Arc::new(Client::attach_identity(rt.spec().identity(), Duration::from_secs(10)).expect("attach"));
    let dev_id = PoolId::new(300, 3);
    let entry = ComposeEntry::new("chimaera_bdev", "ram::owned", dev_id)
        .with_param("bdev_type", "ram")
        .with_param("capacity", "1MB");
    client.admin().create_pool(&entry).expect("create the bdev");
    let mut buf = client.bulk_alloc_owned(64 << 10).expect("bulk");
    buf.as_mut_slice().iter_mut().enumerate().for_each(|(i, b)| *b = (i % 241) as u8);
    let dev = BdevClient::new(&client, dev_id);
    assert_eq!(dev.write_at(4096, &buf).expect("write_at"), 64 << 10);
    let mut back = vec![0u8; 64 << 10];
    dev.read_into(4096, &mut back).expect("read_into");
    assert_eq!(&back[..], buf.as_slice());
    let err = dev.write_from((1 << 20) - 10, &[0u8; 100]).expect_err("past the end");
    assert!(err.to_string().contains("run past the device's capacity"), "{err}");
    drop(client);
    // The buffer still maps the segment and frees its block when dropped.
    assert_eq!(buf.as_slice()[241], 0);
    drop(buf);
}
