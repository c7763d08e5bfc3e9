//! Where a pool is created and where its tasks are routed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The routing of a pool or task, as compose files name it.
///
/// On a single node all three create the pool locally; across a cluster
/// `broadcast` creates one container per node and `dynamic` routes to the
/// local container when there is one and broadcasts otherwise.
///
/// ```
/// use chimod_sdk::PoolQuery;
/// assert_eq!("dynamic".parse::<PoolQuery>().unwrap(), PoolQuery::Dynamic);
/// assert_eq!(PoolQuery::Broadcast.to_string(), "broadcast");
/// assert!("everywhere".parse::<PoolQuery>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum PoolQuery {
    /// This node only.
    Local = 0,
    /// Local when the pool exists here, broadcast when it must be created.
    #[default]
    Dynamic = 1,
    /// Every node of the cluster.
    Broadcast = 2,
}

/// Why a text is not a pool query.
///
/// ```
/// let err = "all".parse::<chimod_sdk::PoolQuery>().unwrap_err();
/// assert!(err.to_string().contains("local, dynamic, broadcast"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a pool query; expected one of: local, dynamic, broadcast")]
pub struct PoolQueryError(String);

impl PoolQuery {
    /// Every query a compose entry may name, in documentation order.
    ///
    /// ```
    /// assert_eq!(chimod_sdk::PoolQuery::ALL.len(), 3);
    /// ```
    pub const ALL: [PoolQuery; 3] = [PoolQuery::Local, PoolQuery::Dynamic, PoolQuery::Broadcast];

    /// The query for an ABI discriminant, if it is one.
    ///
    /// ```
    /// use chimod_sdk::PoolQuery;
    /// assert_eq!(PoolQuery::from_code(PoolQuery::Broadcast as u32), Some(PoolQuery::Broadcast));
    /// assert_eq!(PoolQuery::from_code(99), None);
    /// ```
    pub fn from_code(code: u32) -> Option<PoolQuery> {
        PoolQuery::ALL.into_iter().find(|q| *q as u32 == code)
    }

    /// The name used in YAML.
    ///
    /// ```
    /// assert_eq!(chimod_sdk::PoolQuery::Local.name(), "local");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            PoolQuery::Local => "local",
            PoolQuery::Dynamic => "dynamic",
            PoolQuery::Broadcast => "broadcast",
        }
    }
}

impl FromStr for PoolQuery {
    type Err = PoolQueryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        PoolQuery::ALL
            .into_iter()
            .find(|q| q.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| PoolQueryError(s.to_owned()))
    }
}

impl fmt::Display for PoolQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for PoolQuery {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for PoolQuery {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
