//! The cluster key: the secret in `networking.cluster_key_file` that the
//! nodes of a cluster authenticate their frames with, and that remote
//! clients prove they hold. Read by the runtime and by clients (which may
//! name it with `CHI_CLUSTER_KEY_FILE` instead), with the same checks.

use std::path::Path;

use crate::small_file::{MAX_KEY_FILE, read_small_file};

/// The shortest key accepted, in bytes.
pub const MIN_CLUSTER_KEY: usize = 16;

/// The environment variable a client names its key file with when it has
/// no configuration file (a remote client on a login node, say).
pub const CLUSTER_KEY_ENV: &str = "CHI_CLUSTER_KEY_FILE";

/// The key in `path`: all its bytes, at least [`MIN_CLUSTER_KEY`]. The
/// error names the key, the file and what is wrong with it.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let short = dir.path().join("key");
/// std::fs::write(&short, b"too short").unwrap();
/// let e = chimaera_config::read_cluster_key(&short).unwrap_err();
/// assert!(e.contains("at least 16 bytes (has 9)"), "{e}");
/// ```
pub fn read_cluster_key(path: &Path) -> Result<Vec<u8>, String> {
    let key = read_small_file(path, MAX_KEY_FILE)
        .map_err(|e| format!("networking.cluster_key_file: {}: cannot read it: {e}", path.display()))?;
    if key.len() < MIN_CLUSTER_KEY {
        return Err(format!(
            "networking.cluster_key_file: {}: must hold at least {MIN_CLUSTER_KEY} bytes (has {}); e.g. head -c 32 /dev/urandom > key",
            path.display(),
            key.len()
        ));
    }
    Ok(key)
}
