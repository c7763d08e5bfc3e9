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

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use zeromq::{Endpoint, Host, SocketEvent};

/// What to do with a message from a connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// From a hostfile address: act on it.
    Admit,
    /// From elsewhere: drop it, for this reason.
    Refuse(String),
    /// The monitor has not reported the connection yet (the socket can hand
    /// over a new connection's first message before its monitor event):
    /// hold it until it does.
    Unknown,
}

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

    /// Admits nodes added to the hostfile (each once: a re-read's nodes
    /// arrive both at once, for the connection that caused it, and through
    /// the network thread's control channel).
    pub fn admit(&mut self, addresses: impl IntoIterator<Item = IpAddr>) {
        for address in addresses {
            if !self.hostfile.contains(&address) {
                self.hostfile.push(address);
            }
        }
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

    /// The address connection `identity` came from, if known.
    pub fn source(&self, identity: &Bytes) -> Option<IpAddr> {
        self.connections.get(identity).copied()
    }

    /// Whether a message from the connection `identity` may be acted on.
    pub fn check(&self, identity: &Bytes) -> Verdict {
        match self.connections.get(identity) {
            Some(source) if self.admits(*source) => Verdict::Admit,
            Some(source) => Verdict::Refuse(format!("from {source}, which is not in the hostfile")),
            None => Verdict::Unknown,
        }
    }
}

/// Messages held until their connection's address is known, oldest first;
/// bounded in number and in age.
#[derive(Debug, Default)]
pub struct Held {
    messages: VecDeque<(Instant, Bytes, Vec<Bytes>)>,
}

impl Held {
    /// The most messages held; past it the oldest goes.
    pub const MAX: usize = 256;
    /// How long a message waits for its connection to be reported.
    pub const WAIT: Duration = Duration::from_secs(1);

    /// Holds the frames of a message from `identity`; returns what had to
    /// make room.
    pub fn hold(&mut self, now: Instant, identity: Bytes, frames: Vec<Bytes>) -> Option<Vec<Bytes>> {
        let evicted = (self.messages.len() >= Self::MAX)
            .then(|| self.messages.pop_front().map(|(_, _, f)| f))
            .flatten();
        self.messages.push_back((now, identity, frames));
        evicted
    }

    /// Takes, in order, every held message whose connection is now known
    /// (with its verdict) or that waited longer than [`Held::WAIT`] (with
    /// `Unknown`).
    pub fn release(&mut self, admission: &Admission, now: Instant) -> Vec<(Verdict, Vec<Bytes>)> {
        let mut out = Vec::new();
        self.messages.retain_mut(|(since, identity, frames)| {
            let verdict = admission.check(identity);
            if verdict == Verdict::Unknown && now.duration_since(*since) < Self::WAIT {
                return true;
            }
            out.push((verdict, std::mem::take(frames)));
            false
        });
        out
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
        assert_eq!(admission.check(&peer), Verdict::Admit);
        let (stranger, refused) = accepted(&mut admission, "10.0.0.9");
        assert_eq!(refused, Some("10.0.0.9".parse().unwrap()));
        assert_eq!(
            admission.check(&stranger),
            Verdict::Refuse("from 10.0.0.9, which is not in the hostfile".into())
        );
        let (local, _) = accepted(&mut admission, "127.0.0.1");
        assert!(
            matches!(admission.check(&local), Verdict::Refuse(_)),
            "a node on a real address does not admit loopback"
        );
        assert_eq!(admission.check(&Bytes::from_static(b"unknown")), Verdict::Unknown);
        admission.on_event(SocketEvent::Disconnected(PeerIdentity::try_from(peer.clone()).unwrap()));
        assert_eq!(admission.check(&peer), Verdict::Unknown, "forgotten once disconnected");
    }

    #[test]
    fn a_loopback_node_admits_loopback_sources() {
        let mut admission = first_of(&["127.0.0.2", "127.0.0.3"]);
        let (peer, refused) = accepted(&mut admission, "127.0.0.1");
        assert_eq!(refused, None);
        assert_eq!(admission.check(&peer), Verdict::Admit);
    }

    #[test]
    fn a_message_before_its_connection_is_reported_waits_for_it() {
        let mut admission = first_of(&["10.0.0.1", "10.0.0.2"]);
        let mut held = Held::default();
        let start = Instant::now();
        let early = PeerIdentity::new();
        let frame = vec![Bytes::from_static(b"frame")];
        assert!(held.hold(start, early.clone().into(), frame.clone()).is_none());
        assert!(held.hold(start, Bytes::from_static(b"never reported"), frame.clone()).is_none());
        assert!(held.release(&admission, start).is_empty(), "nothing known yet");
        let endpoint = Endpoint::Tcp(Host::from("10.0.0.2".parse::<IpAddr>().unwrap()), 40000);
        admission.on_event(SocketEvent::Accepted(endpoint, early));
        assert_eq!(held.release(&admission, start), vec![(Verdict::Admit, frame.clone())]);
        let late = start + Held::WAIT;
        assert_eq!(held.release(&admission, late), vec![(Verdict::Unknown, frame.clone())], "expired");
        for _ in 0..Held::MAX {
            assert!(held.hold(start, Bytes::from_static(b"x"), frame.clone()).is_none());
        }
        assert_eq!(held.hold(start, Bytes::from_static(b"x"), frame.clone()), Some(frame), "bounded");
    }
}
