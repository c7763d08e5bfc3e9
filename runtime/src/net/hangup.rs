//! SIGHUP re-reads the hostfile: the operator's way to add nodes to a
//! running cluster (besides `chimaera cluster reload`, and the re-read a
//! node makes by itself when an unknown node speaks).

use std::sync::Arc;

use signal_hook::consts::SIGHUP;
use signal_hook::iterator::Signals;
use tracing::{info, warn};

use super::NetHandle;

/// Re-reads the hostfile of `network` on every SIGHUP, on a thread of its own.
pub fn reload_on_hangup(network: Arc<NetHandle>) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGHUP])?;
    std::thread::Builder::new().name("chi-sighup".into()).spawn(move || {
        for _ in signals.forever() {
            match network.reload() {
                Ok(r) if r.added.is_empty() => {
                    info!("SIGHUP: hostfile re-read, no new node ({} nodes)", r.nodes)
                }
                Ok(_) => {}
                Err(e) => warn!("SIGHUP: hostfile not taken in: {e}"),
            }
        }
    })?;
    Ok(())
}
