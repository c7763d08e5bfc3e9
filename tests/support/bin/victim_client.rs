//! A client process for the tests to kill: attaches to the runtime on the
//! port given as its first argument, submits tasks it never collects (to
//! pool `500.0`'s sleep method and the admin ping), holds bulk buffers in
//! both data segments (its own, and one pool `400.0` filled for it), says
//! so on stdout, and waits to be killed.

use std::io::Write;
use std::time::Duration;

use chimaera_client::{Client, TaskSpec};
use chimaera_custom_api::FILL;
use chimod_sdk::PoolId;
use chimod_sdk::admin::PING;

fn main() {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).expect("usage: victim_client PORT");
    let client = Client::attach_port(port, Duration::from_secs(10)).expect("attach");
    let sleep = chimod_sdk::codec::encode(&20u64).expect("encode");
    let ping = PING.encode_input(&()).expect("encode");
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(client.submit(&TaskSpec::new(PoolId::new(500, 0), 12, &sleep)).expect("submit sleep"));
        held.push(client.submit(&TaskSpec::new(PoolId::ADMIN, PING.id, &ping)).expect("submit ping"));
    }
    let buffers: Vec<_> = (0..5).map(|_| client.bulk_alloc(64 << 10).expect("bulk alloc")).collect();
    let returned = client.call_method(PoolId::new(400, 0), FILL, &(100_000, 1)).expect("fill");
    println!("submitted {} holding {} buffers and {returned:?}", held.len(), buffers.len());
    std::io::stdout().flush().expect("flush");
    std::thread::sleep(Duration::from_secs(3600));
}
