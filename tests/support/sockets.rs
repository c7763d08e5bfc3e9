//! The TCP connections a process holds, read from `/proc`: the kernel's
//! own account, whatever the process logs.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

/// The remote addresses of the established IPv4 connections process `pid`
/// holds to port `port` of another host (its outgoing connections to other
/// nodes' cluster ports).
pub fn connections_to_port(pid: u32, port: u16) -> Vec<IpAddr> {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    l.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')).map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp")).unwrap_or_default();
    let mut out: Vec<IpAddr> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            let (remote, state, inode) = (f.get(2)?, f.get(3)?, f.get(9)?);
            let (addr, rport) = remote.split_once(':')?;
            let established = *state == "01";
            let ours = inodes.contains(*inode);
            let to_port = u16::from_str_radix(rport, 16).ok()? == port;
            // The kernel prints the address as a little-endian word.
            let ip = Ipv4Addr::from(u32::from_str_radix(addr, 16).ok()?.swap_bytes());
            (established && ours && to_port).then_some(IpAddr::V4(ip))
        })
        .collect();
    out.sort();
    out
}
