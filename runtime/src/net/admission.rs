//! Which connections to the node's port may speak: those from an address
//! of the hostfile. The receiving ROUTER socket tags every message with the
//! identity of the connection it came from, and its monitor reports each
//! accepted connection's remote address; this table joins the two.
//!
//! Nodes that share one machine on loopback addresses (127.0.0.x) connect
//! from the machine's primary loopback address whatever their own, so a node
//! bound to a loopback address also admits every loopback source: only this
//! machine's processes can use one. Against those, and against anyone who
//! can forge a hostfile source address, `networking.cluster_key_file` is
//! the defence (docs/reliability.md).

use std::collections::HashMap;
use std::net::IpAddr;

use bytes::Bytes;
use zeromq::{Endpoint, Host, SocketEvent};

/// The connections accepted so far and whether each may speak.
#[derive(Debug)]
pub struct Admission {
    hostfile: Vec<IpAddr>,
    own_is_loopback: bool,
    /// Connection identity → the address it connected from.
    connections: HashMap<Bytes, IpAddr>,
}

impl Admission {
    /// For a node at `own` in a cluster of `hostfile`.
    pub fn new(hostfile: Vec<IpAddr>, own: IpAddr) -> Admission {
        Admission { hostfile, own_is_loopback: own.is_loopback(), connections: HashMap::new() }
    }

    /// Whether a connection from `source` may speak.
    pub fn admits(&self, source: IpAddr) -> bool {
        self.hostfile.contains(&source) || (self.own_is_loopback && source.is_loopback())
    }

    /// Records what the socket's monitor reports. Returns a refused
    /// connection's address, to be logged.
    pub fn on_event(&mut self, event: SocketEvent) -> Option<IpAddr> {
        match event {
            SocketEvent::Accepted(endpoint, identity) => {
                let source = source_of(&endpoint)?;
                self.connections.insert(identity.into(), source);
                (!self.admits(source)).then_some(source)
            }
            SocketEvent::Disconnected(identity) => {
                self.connections.remove(&Bytes::from(identity));
                None
            }
            _ => None,
        }
    }

    /// The address a message's connection came from, if it may speak;
    /// otherwise why not.
    pub fn check(&self, identity: &Bytes) -> Result<IpAddr, String> {
        match self.connections.get(identity) {
            Some(source) if self.admits(*source) => Ok(*source),
            Some(source) => Err(format!("from {source}, which is not in the hostfile")),
            None => Err("from a connection whose address is not known".to_owned()),
        }
    }
}

fn source_of(endpoint: &Endpoint) -> Option<IpAddr> {
    match endpoint {
        Endpoint::Tcp(Host::Ipv4(a), _) => Some(IpAddr::V4(*a)),
        Endpoint::Tcp(Host::Ipv6(a), _) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use zeromq::util::PeerIdentity;

    use super::*;

    fn accepted(admission: &mut Admission, source: &str) -> (Bytes, Option<IpAddr>) {
        let identity = PeerIdentity::new();
        let endpoint = Endpoint::Tcp(Host::from(source.parse::<IpAddr>().unwrap()), 40000);
        let refused = admission.on_event(SocketEvent::Accepted(endpoint, identity.clone()));
        (identity.into(), refused)
    }

    /// A node at the first of `hostfile`.
    fn first_of(hostfile: &[&str]) -> Admission {
        let hostfile: Vec<IpAddr> = hostfile.iter().map(|a| a.parse().unwrap()).collect();
        Admission::new(hostfile.clone(), hostfile[0])
    }

    #[test]
    fn hostfile_sources_speak_and_others_are_refused() {
        let mut admission = first_of(&["10.0.0.1", "10.0.0.2"]);
        let (peer, refused) = accepted(&mut admission, "10.0.0.2");
        assert_eq!(refused, None);
        assert_eq!(admission.check(&peer), Ok("10.0.0.2".parse().unwrap()));
        let (stranger, refused) = accepted(&mut admission, "10.0.0.9");
        assert_eq!(refused, Some("10.0.0.9".parse().unwrap()));
        assert_eq!(admission.check(&stranger).unwrap_err(), "from 10.0.0.9, which is not in the hostfile");
        let (local, _) = accepted(&mut admission, "127.0.0.1");
        assert!(admission.check(&local).is_err(), "a node on a real address does not admit loopback");
        assert!(admission.check(&Bytes::from_static(b"unknown")).is_err());
        admission.on_event(SocketEvent::Disconnected(PeerIdentity::try_from(peer.clone()).unwrap()));
        assert!(admission.check(&peer).is_err(), "forgotten once disconnected");
    }

    #[test]
    fn a_loopback_node_admits_loopback_sources() {
        let mut admission = first_of(&["127.0.0.2", "127.0.0.3"]);
        let (peer, refused) = accepted(&mut admission, "127.0.0.1");
        assert_eq!(refused, None);
        assert!(admission.check(&peer).is_ok());
    }
}
