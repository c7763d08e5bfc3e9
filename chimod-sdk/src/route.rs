//! Where a task runs in a cluster, and the per-node results of a task that
//! ran on several nodes.

use serde::{Deserialize, Serialize};

/// Where a task runs.
///
/// ```
/// use chimod_sdk::Route;
/// assert_eq!(Route::Hash(7).node(3), Some(1));
/// assert_eq!(Route::Range { offset: 2, count: 3 }.nodes(3, 2), vec![2, 0]);
/// assert_eq!(Route::Broadcast.nodes(3, 32), vec![0, 1, 2]);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Route {
    /// This node.
    #[default]
    Local,
    /// The node with this id.
    Node(u32),
    /// The node holding container `hash % nodes` (one container per node).
    Hash(u64),
    /// Every node; the results of all are gathered.
    Broadcast,
    /// This node when the pool is here, else every node.
    Dynamic,
    /// Nodes `offset`, `offset + 1`, ... (`count` of them, wrapping), at
    /// most `networking.neighborhood_size` of them; results gathered.
    Range {
        /// The first node.
        offset: u32,
        /// How many nodes.
        count: u32,
    },
}

impl Route {
    /// The single node a one-node route names, for a cluster of `nodes`
    /// (`None` for routes that run on several nodes, or on this one).
    pub fn node(&self, nodes: u32) -> Option<u32> {
        match *self {
            Route::Node(n) => Some(n),
            Route::Hash(h) => Some((h % u64::from(nodes.max(1))) as u32),
            _ => None,
        }
    }

    /// The nodes a gathering route runs on, in a cluster of `nodes` with
    /// `neighborhood` the most a range may span.
    pub fn nodes(&self, nodes: u32, neighborhood: u32) -> Vec<u32> {
        let nodes = nodes.max(1);
        match *self {
            Route::Broadcast | Route::Dynamic => (0..nodes).collect(),
            Route::Range { offset, count } => {
                (0..count.min(neighborhood).min(nodes)).map(|i| (offset + i) % nodes).collect()
            }
            _ => Vec::new(),
        }
    }

    /// The code and two arguments a task slot carries.
    pub fn encode(&self) -> (u32, u32, u32) {
        match *self {
            Route::Local => (0, 0, 0),
            Route::Node(n) => (1, n, 0),
            Route::Hash(h) => (2, h as u32, (h >> 32) as u32),
            Route::Broadcast => (3, 0, 0),
            Route::Dynamic => (4, 0, 0),
            Route::Range { offset, count } => (5, offset, count),
        }
    }

    /// The route a slot carries; unknown codes are `None`.
    ///
    /// ```
    /// use chimod_sdk::Route;
    /// let r = Route::Hash(u64::MAX - 3);
    /// let (k, a, b) = r.encode();
    /// assert_eq!(Route::decode(k, a, b), Some(r));
    /// assert_eq!(Route::decode(99, 0, 0), None);
    /// ```
    pub fn decode(kind: u32, a: u32, b: u32) -> Option<Route> {
        Some(match kind {
            0 => Route::Local,
            1 => Route::Node(a),
            2 => Route::Hash(u64::from(a) | (u64::from(b) << 32)),
            3 => Route::Broadcast,
            4 => Route::Dynamic,
            5 => Route::Range { offset: a, count: b },
            _ => return None,
        })
    }
}

/// One node's part of a task that ran on several nodes.
///
/// ```
/// let r = chimod_sdk::NodeOutcome { node: 2, ok: true, output: vec![1] };
/// assert!(r.ok);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeOutcome {
    /// The node.
    pub node: u32,
    /// Whether the task succeeded there.
    pub ok: bool,
    /// Its output, or its error message.
    pub output: Vec<u8>,
}
