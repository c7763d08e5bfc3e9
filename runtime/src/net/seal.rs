//! The cluster key: with `networking.cluster_key_file`, every frame ends in
//! an HMAC-SHA256 of its bytes under the key, and a frame whose tag does not
//! verify is dropped. Only nodes holding the key can make the others run
//! anything. (It authenticates; it does not encrypt, and a captured frame
//! could be replayed: see docs/deployment.md.)

use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of the tag.
pub const TAG: usize = 32;

/// Seals outgoing frames and opens incoming ones.
#[derive(Clone)]
pub struct Sealer {
    key: Option<Vec<u8>>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("keyed", &self.key.is_some()).finish()
    }
}

impl Sealer {
    /// No key: frames go out as they are.
    pub fn none() -> Sealer {
        Sealer { key: None }
    }

    /// The key in `path` (all its bytes, at least
    /// [`crate::config::MIN_CLUSTER_KEY`]).
    pub fn from_file(path: &Path) -> Result<Sealer, String> {
        crate::config::read_cluster_key(path).map(|key| Sealer { key: Some(key) })
    }

    /// Whether frames are authenticated.
    pub fn is_keyed(&self) -> bool {
        self.key.is_some()
    }

    fn mac(key: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length")
    }

    /// The frame's bytes, with the tag when keyed.
    pub fn seal(&self, mut bytes: Vec<u8>) -> Vec<u8> {
        if let Some(key) = &self.key {
            let mut mac = Self::mac(key);
            mac.update(&bytes);
            bytes.extend_from_slice(&mac.finalize().into_bytes());
        }
        bytes
    }

    /// The frame's bytes without the tag, if the tag verifies (or there is
    /// no key).
    pub fn open<'a>(&self, bytes: &'a [u8]) -> Option<&'a [u8]> {
        let Some(key) = &self.key else { return Some(bytes) };
        let body_len = bytes.len().checked_sub(TAG)?;
        let (body, tag) = bytes.split_at(body_len);
        let mut mac = Self::mac(key);
        mac.update(body);
        mac.verify_slice(tag).ok().map(|()| body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_key_opens() {
        let a = Sealer { key: Some(b"sixteen byte key!!".to_vec()) };
        let b = Sealer { key: Some(b"another sixteen bytes".to_vec()) };
        let sealed = a.seal(b"frame".to_vec());
        assert_eq!(a.open(&sealed), Some(&b"frame"[..]));
        assert_eq!(b.open(&sealed), None);
        assert_eq!(a.open(b"frame"), None, "no tag");
        assert_eq!(a.open(&[]), None);
        let mut tampered = sealed.clone();
        tampered[0] ^= 1;
        assert_eq!(a.open(&tampered), None);
        assert_eq!(Sealer::none().open(b"frame"), Some(&b"frame"[..]));
        assert_eq!(Sealer::none().seal(b"x".to_vec()), b"x");
    }
}
