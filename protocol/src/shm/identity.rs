//! The per-runtime identity that names its shared memory.

use std::fmt;
use std::net::IpAddr;

/// Names the address of this node, when several share a machine (or one
/// machine has several addresses in the hostfile).
pub const NODE_ADDRESS_VAR: &str = "CHI_NODE_ADDRESS";

/// Names the user whose runtime a client of another user attaches to.
pub const RUNTIME_UID_VAR: &str = "CHI_RUNTIME_UID";

/// Which runtime a set of segments belongs to: the user it runs as, its
/// `networking.port` and, when several nodes share a machine, the node's
/// address (named by `CHI_NODE_ADDRESS` or `--node-address`). Segment names
/// are `/chi_<uid>_<port>_<segment>`, or `/chi_<uid>_<port>_<address>_<segment>`
/// with the address's dots and colons as dashes.
///
/// ```
/// use chimaera_protocol::shm::ShmIdentity;
/// let id = ShmIdentity::new(1000, 5555);
/// assert_eq!(id.segment_name("main"), "/chi_1000_5555_main");
/// let node = ShmIdentity::for_node(1000, 5555, Some("127.0.0.2".parse().unwrap()));
/// assert_eq!(node.segment_name("main"), "/chi_1000_5555_127-0-0-2_main");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShmIdentity {
    uid: u32,
    port: u16,
    node: Option<IpAddr>,
}

impl ShmIdentity {
    /// The identity of user `uid`'s runtime on `port`.
    pub const fn new(uid: u32, port: u16) -> Self {
        ShmIdentity { uid, port, node: None }
    }

    /// The identity of user `uid`'s runtime on `port` for the node named `node`.
    pub const fn for_node(uid: u32, port: u16, node: Option<IpAddr>) -> Self {
        ShmIdentity { uid, port, node }
    }

    /// The identity of this process's user's runtime on `port` (or the
    /// runtime of the user `CHI_RUNTIME_UID` names, for a client of another
    /// user in the runtime's `memory.shm_group`), on the node
    /// `CHI_NODE_ADDRESS` names, if it names one.
    pub fn for_current_user(port: u16) -> Self {
        let node = std::env::var(NODE_ADDRESS_VAR).ok().and_then(|v| v.trim().parse().ok());
        let uid = std::env::var(RUNTIME_UID_VAR)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| rustix::process::getuid().as_raw());
        Self::for_node(uid, port, node)
    }

    /// This identity for another node address (same user and port).
    pub fn with_node(&self, node: Option<IpAddr>) -> Self {
        ShmIdentity { node, ..self.clone() }
    }

    /// The node address that names it, when several nodes share a machine.
    pub fn node(&self) -> Option<IpAddr> {
        self.node
    }

    /// The user the runtime runs as, who owns its shared memory.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The runtime's `networking.port`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The POSIX shared memory name of one segment.
    pub fn segment_name(&self, segment: &str) -> String {
        format!("/{self}_{segment}")
    }
}

impl fmt::Display for ShmIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chi_{}_{}", self.uid, self.port)?;
        if let Some(node) = self.node {
            write!(f, "_{}", node.to_string().replace(['.', ':'], "-"))?;
        }
        Ok(())
    }
}
