//! Which node this runtime is: its address in the hostfile, found among
//! this machine's addresses, or named by `CHI_NODE_ADDRESS` (or
//! `chimaera_start_runtime --node-address`) where several nodes share one
//! machine. No hostfile means a single node, id 0.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::hostfile::{Hostfile, HostfileError};

pub use chimaera_protocol::shm::NODE_ADDRESS_VAR;

/// Why this runtime cannot tell which node it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    /// The hostfile is unusable.
    #[error(transparent)]
    Hostfile(#[from] HostfileError),
    /// The address given does not parse.
    #[error("{source_name}: `{value}` is not an IP address")]
    BadAddress {
        /// Where it came from.
        source_name: String,
        /// What it was.
        value: String,
    },
    /// The address given is not in the hostfile.
    #[error("{source_name}: {address} is not in hostfile {path}; use one of its addresses")]
    NotListed {
        /// Where it came from.
        source_name: String,
        /// The address.
        address: IpAddr,
        /// The hostfile.
        path: PathBuf,
    },
    /// None of this machine's addresses is in the hostfile.
    #[error(
        "none of this machine's addresses ({local}) is in hostfile {path}; add this node to it, or name its address with {NODE_ADDRESS_VAR}"
    )]
    NotInHostfile {
        /// This machine's addresses.
        local: String,
        /// The hostfile.
        path: PathBuf,
    },
    /// Several of this machine's addresses are in the hostfile.
    #[error(
        "several of this machine's addresses are in hostfile {path} ({matches}); name this node's with {NODE_ADDRESS_VAR} or --node-address"
    )]
    Ambiguous {
        /// The matches, with their lines.
        matches: String,
        /// The hostfile.
        path: PathBuf,
    },
}

/// This runtime's place in its cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    hostfile: Option<Hostfile>,
    node_id: u32,
    address: Option<IpAddr>,
    /// Whether the address was named (flag or variable), not discovered.
    named: bool,
}

impl Membership {
    /// Finds this node. `named` is the address from the flag, else from
    /// [`NODE_ADDRESS_VAR`]; without it, this machine's interface addresses
    /// are matched against the hostfile.
    pub fn resolve(
        hostfile: Option<&Path>,
        named: Option<(&str, &str)>,
    ) -> Result<Membership, MembershipError> {
        let named = named
            .map(|(source_name, value)| {
                value.trim().parse::<IpAddr>().map(|a| (source_name, a)).map_err(|_| {
                    MembershipError::BadAddress {
                        source_name: source_name.to_owned(),
                        value: value.to_owned(),
                    }
                })
            })
            .transpose()?;
        let Some(path) = hostfile else {
            return Ok(Membership {
                hostfile: None,
                node_id: 0,
                address: named.map(|(_, a)| a),
                named: named.is_some(),
            });
        };
        let hostfile = Hostfile::load(path)?;
        let (node_id, address) = match named {
            Some((source_name, address)) => {
                let id = hostfile.node_of(address).ok_or_else(|| MembershipError::NotListed {
                    source_name: source_name.to_owned(),
                    address,
                    path: path.to_owned(),
                })?;
                (id, address)
            }
            None => {
                let local = local_addresses();
                let matches: Vec<IpAddr> =
                    local.iter().copied().filter(|a| hostfile.node_of(*a).is_some()).collect();
                match matches.as_slice() {
                    [one] => (hostfile.node_of(*one).unwrap_or(0), *one),
                    [] => {
                        return Err(MembershipError::NotInHostfile {
                            local: local.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                            path: path.to_owned(),
                        });
                    }
                    several => {
                        return Err(MembershipError::Ambiguous {
                            matches: several
                                .iter()
                                .map(|a| format!("{a} on line {}", hostfile.line_of(*a).unwrap_or(0)))
                                .collect::<Vec<_>>()
                                .join(", "),
                            path: path.to_owned(),
                        });
                    }
                }
            }
        };
        Ok(Membership { hostfile: Some(hostfile), node_id, address: Some(address), named: named.is_some() })
    }

    /// This node's id (0 on a single node).
    pub fn node_id(&self) -> u32 {
        self.node_id
    }

    /// This node's address, when it has one (a cluster, or one named).
    pub fn address(&self) -> Option<IpAddr> {
        self.address
    }

    /// The address named by flag or variable, which also names this node's
    /// shared memory (several nodes may share a machine).
    pub fn named_address(&self) -> Option<IpAddr> {
        if self.named { self.address } else { None }
    }

    /// The hostfile, in cluster mode.
    pub fn hostfile(&self) -> Option<&Hostfile> {
        self.hostfile.as_ref()
    }

    /// Nodes in the cluster (1 without a hostfile).
    pub fn nodes(&self) -> usize {
        self.hostfile.as_ref().map_or(1, Hostfile::len)
    }

    /// One line for the log.
    pub fn describe(&self) -> String {
        match &self.hostfile {
            None => "single-node mode: no hostfile, this is node 0".to_owned(),
            Some(h) => format!(
                "cluster of {} nodes from hostfile {}; this is node {} ({}{})",
                h.len(),
                h.path().display(),
                self.node_id,
                self.address.map_or_else(String::new, |a| a.to_string()),
                if self.named { ", named" } else { ", found among this machine's addresses" }
            ),
        }
    }
}

/// This machine's interface addresses.
fn local_addresses() -> Vec<IpAddr> {
    if_addrs::get_if_addrs().map(|ifs| ifs.into_iter().map(|i| i.ip()).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostfile(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn no_hostfile_is_a_single_node() {
        let m = Membership::resolve(None, None).unwrap();
        assert_eq!((m.node_id(), m.nodes()), (0, 1));
        assert_eq!(m.describe(), "single-node mode: no hostfile, this is node 0");
    }

    #[test]
    fn a_named_address_picks_the_node() {
        let f = hostfile("127.0.0.1\n127.0.0.2\n127.0.0.3\n");
        let m = Membership::resolve(Some(f.path()), Some(("CHI_NODE_ADDRESS", "127.0.0.3"))).unwrap();
        assert_eq!((m.node_id(), m.nodes()), (2, 3));
        assert_eq!(m.named_address(), Some("127.0.0.3".parse().unwrap()));
        let err = Membership::resolve(Some(f.path()), Some(("--node-address", "10.9.9.9"))).unwrap_err();
        assert!(err.to_string().starts_with("--node-address: 10.9.9.9 is not in hostfile"), "{err}");
        let err = Membership::resolve(Some(f.path()), Some(("CHI_NODE_ADDRESS", "node-a"))).unwrap_err();
        assert_eq!(err.to_string(), "CHI_NODE_ADDRESS: `node-a` is not an IP address");
    }

    #[test]
    fn this_machine_s_address_is_found() {
        // 127.0.0.1 is an interface address; 127.0.0.2 is not.
        let f = hostfile("10.255.255.254\n127.0.0.1\n");
        let m = Membership::resolve(Some(f.path()), None).unwrap();
        assert_eq!(m.node_id(), 1);
        assert!(m.describe().contains("this is node 1 (127.0.0.1, found among this machine's addresses)"));
        let f = hostfile("10.255.255.254\n");
        let err = Membership::resolve(Some(f.path()), None).unwrap_err().to_string();
        assert!(
            err.starts_with("none of this machine's addresses (") && err.contains("CHI_NODE_ADDRESS"),
            "{err}"
        );
    }
}
