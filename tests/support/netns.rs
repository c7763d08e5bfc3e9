//! A network namespace of the test's own, joined to this one by a veth
//! pair: a "host" whose client shares neither the network stack nor (run
//! through [`NetNs::command`], which mounts a fresh `/dev/shm`) the shared
//! memory of the runtime under test. Needs root and iproute2; where either
//! is missing, [`NetNs::create`] says why and the caller falls back.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A namespace and its veth pair; removed on drop.
#[derive(Debug)]
pub struct NetNs {
    name: String,
    /// This side's address (where a runtime listens for the namespace).
    pub host_address: String,
    /// The namespace's address.
    pub inner_address: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl NetNs {
    /// A fresh namespace with a /30 of its own (names and subnets unique
    /// per process and call, so tests in parallel never share one).
    pub fn create() -> Result<NetNs, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let name = format!("chi{pid}n{n}");
        let (outer, inner) = (format!("cv{pid}o{n}"), format!("cv{pid}i{n}"));
        // One /30 of 10.64.0.0/10 per (process, call): tests in parallel
        // processes never share a subnet.
        let k = pid.wrapping_mul(8).wrapping_add(n % 8);
        let block = (k % (1 << 20)) * 4;
        let octets = |last: u32| {
            format!("10.{}.{}.{}", 64 + (block >> 16) % 64, (block >> 8) & 255, (block & 255) + last)
        };
        let (host, guest) = (octets(1), octets(2));
        ip(&["netns", "add", &name])?;
        let ns = NetNs { name: name.clone(), host_address: host.clone(), inner_address: guest.clone() };
        ip(&["link", "add", &outer, "type", "veth", "peer", "name", &inner])?;
        ip(&["link", "set", &inner, "netns", &name])?;
        ip(&["addr", "add", &format!("{host}/30"), "dev", &outer])?;
        ip(&["link", "set", &outer, "up"])?;
        ip(&["-n", &name, "addr", "add", &format!("{guest}/30"), "dev", &inner])?;
        ip(&["-n", &name, "link", "set", &inner, "up"])?;
        ip(&["-n", &name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// `program` run inside the namespace with an empty `/dev/shm` of its
    /// own (`ip netns exec` gives it a mount namespace of its own).
    pub fn command(&self, program: &std::path::Path) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, "sh", "-c", "mount -t tmpfs tmpfs /dev/shm && exec \"$0\""])
            .arg(program);
        cmd
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // The veth pair goes with the namespace.
        let _ = ip(&["netns", "delete", &self.name]);
    }
}
