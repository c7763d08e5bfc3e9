//! A remote client, run by `tests/remote_clients.rs` where it cannot see
//! the runtime's shared memory (its own `/dev/shm`, its own network
//! namespace when the machine allows): attaches as `CHI_SERVER_ADDR` and
//! `CHI_CLUSTER_KEY_FILE` say and prints one line per check, or the
//! client error's text and exit code 1.

use chimaera_client::config::ComposeEntry;
use chimaera_client::{BdevClient, Client, ClientError, TaskSpec};
use chimod_sdk::PoolId;
use chimod_sdk::admin::PING;

fn main() {
    if let Err(e) = run() {
        println!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), ClientError> {
    let client = Client::attach_from_env(None)?;
    println!("remote: {}", client.remote_addr().unwrap_or("none"));
    client.admin().ping()?;
    println!("ping: ok");
    let dev_id = PoolId::new(300, 9);
    let entry = ComposeEntry::new("chimaera_bdev", "ram::remote", dev_id)
        .with_param("bdev_type", "ram")
        .with_param("capacity", "16MB");
    client.admin().create_pool(&entry)?;
    let dev = BdevClient::new(&client, dev_id);
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    dev.write_from(0, &data)?;
    let mut back = vec![0u8; data.len()];
    dev.read_into(0, &mut back)?;
    println!("1 MiB round trip: {}", if back == data { "equal" } else { "DIFFERENT" });
    let block = dev.allocate(4096)?[0];
    let mut buf = client.bulk_alloc(4096)?;
    buf.fill(0x5a);
    dev.write(block, 0, &buf)?;
    let mut into = client.bulk_alloc(4096)?;
    dev.read(block, 0, &mut into)?;
    println!("bulk block round trip: {}", if into[..] == buf[..] { "equal" } else { "DIFFERENT" });
    let input = PING.encode_input(&())?;
    let tasks: Vec<_> = (0..10_000)
        .map(|_| client.submit(&TaskSpec::new(PoolId::ADMIN, PING.id, &input)))
        .collect::<Result<_, _>>()?;
    let done = tasks.into_iter().map(|t| t.wait(None)).filter(Result::is_ok).count();
    println!("tasks in flight: {done} done");
    let missing = client.call(PoolId::new(999, 0), 0, &[]).expect_err("no such pool");
    println!("missing pool: {missing}");
    let taken = client.bulk_take(buf.bulk()).map(drop).expect_err("no shared memory");
    println!("bulk_take: {taken}");
    let stats = client.admin().stats()?;
    println!("remote clients connected: {}", stats.remote_clients.connected);
    Ok(())
}
