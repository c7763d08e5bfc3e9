//! `compose:` entries: the pools to create, with each module's own keys kept
//! verbatim for that module to decode.

use chimod_sdk::{PoolId, PoolQuery};
use serde::{Deserialize, Serialize};

/// The compose keys every entry has; all other keys belong to the module.
pub const COMMON_KEYS: [&str; 4] = ["mod_name", "pool_name", "pool_query", "pool_id"];

/// One pool to create.
///
/// Keys other than [`COMMON_KEYS`] land in `params` in file order and reach
/// the module's create handler unchanged (strings, numbers, lists, maps).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ComposeEntry {
    /// The module library: `lib<mod_name>.so` on the module search path.
    pub mod_name: String,
    /// The pool's name; for a file-backed bdev, the file path.
    pub pool_name: String,
    /// Where the pool is created.
    pub pool_query: PoolQuery,
    /// The pool's cluster-wide id.
    pub pool_id: PoolId,
    /// The module's own keys.
    #[serde(flatten)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

impl ComposeEntry {
    /// An entry for pool `pool_id` of module `mod_name`, created on this
    /// node only (`pool_query: local`) with no module keys yet.
    ///
    /// ```
    /// use chimaera_config::ComposeEntry;
    /// use chimod_sdk::{PoolId, PoolQuery};
    /// let entry = ComposeEntry::new("chimaera_bdev", "ram::scratch", PoolId::new(300, 0))
    ///     .with_param("bdev_type", "ram")
    ///     .with_param("capacity", "64MB");
    /// assert_eq!(entry.pool_query, PoolQuery::Local);
    /// assert_eq!(entry.params["capacity"], "64MB");
    /// ```
    pub fn new(mod_name: impl Into<String>, pool_name: impl Into<String>, pool_id: PoolId) -> Self {
        ComposeEntry {
            mod_name: mod_name.into(),
            pool_name: pool_name.into(),
            pool_query: PoolQuery::Local,
            pool_id,
            params: serde_json::Map::new(),
        }
    }

    /// This entry with another `pool_query`.
    pub fn with_query(self, pool_query: PoolQuery) -> Self {
        ComposeEntry { pool_query, ..self }
    }

    /// This entry with module key `key` set to `value`.
    pub fn with_param(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.params.insert(key.into(), value.into());
        self
    }

    /// Checks what serde cannot: a usable module name and a non-empty pool
    /// name. Returns the offending key and the reason.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let valid_mod_name = !self.mod_name.is_empty()
            && self.mod_name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_mod_name {
            return Err((
                "mod_name",
                format!(
                    "a module name is letters, digits, `_` and `-` (it names lib<mod_name>.so) (got `{}`)",
                    self.mod_name
                ),
            ));
        }
        if self.pool_name.trim().is_empty() {
            return Err(("pool_name", "must not be empty".to_owned()));
        }
        Ok(())
    }
}
