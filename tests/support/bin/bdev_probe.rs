//! A client for the Docker tests, copied into containers: writes a pattern
//! to a block of a bdev pool on this node, or reads a block of a pool on
//! another node and checks the pattern.
//!
//!   bdev_probe write POOL SEED          prints "block OFFSET SIZE"
//!   bdev_probe read POOL NODE OFFSET SIZE SEED   prints "ok" or exits 1

use std::process::ExitCode;
use std::time::Duration;

use chimaera_bdev_api::Block;
use chimaera_client::{BdevClient, Client, RemoteBdevClient};
use chimaera_test_support::pattern;
use chimod_sdk::PoolId;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| args.get(i).and_then(|a| a.parse::<u64>().ok()).expect("a number argument");
    let client =
        Client::attach_port(5555, Duration::from_secs(10)).expect("attach to the runtime on port 5555");
    let pool: PoolId = args.get(1).expect("a pool id").parse().expect("a pool id like 310.0");
    match args.first().map(String::as_str) {
        Some("write") => {
            let dev = BdevClient::new(&client, pool);
            let block = dev.allocate(64 << 10).expect("allocate")[0];
            let mut buf = client.bulk_alloc(block.size).expect("bulk buffer");
            buf.copy_from_slice(&pattern(num(2), block.size as usize));
            dev.write(block, 0, &buf).expect("write");
            println!("block {} {}", block.offset, block.size);
            ExitCode::SUCCESS
        }
        Some("read") => {
            let dev = RemoteBdevClient::new(&client, pool, num(2) as u32);
            let block = Block { offset: num(3), size: num(4) };
            let data = dev.read(block, 0, block.size).expect("read");
            if data == pattern(num(5), block.size as usize) {
                println!("ok");
                ExitCode::SUCCESS
            } else {
                println!("data differs");
                ExitCode::from(1)
            }
        }
        _ => {
            eprintln!("usage: bdev_probe write POOL SEED | read POOL NODE OFFSET SIZE SEED");
            ExitCode::from(2)
        }
    }
}
