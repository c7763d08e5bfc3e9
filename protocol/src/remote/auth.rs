//! The handshake's proofs. Each side sends a fresh random nonce; a client
//! proves it holds the cluster key with an HMAC-SHA256 of both nonces
//! under it, and the runtime proves the same with another label, so
//! neither proof can be replayed to the other side or on another
//! connection. It authenticates the connection, not each message, and
//! encrypts nothing: on a network that others can write to, carry the
//! connection in a tunnel (docs/deployment.md, "Remote clients").

/// A nonce's bytes.
pub const NONCE: usize = 32;
/// A proof's bytes.
pub const PROOF: usize = 32;

/// Which side of the handshake a proof is from: each proves the key over
/// a label of its own, so one side's proof is never the other's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client, answering the challenge.
    Client,
    /// The runtime, in its welcome.
    Runtime,
}

impl Side {
    fn label(self) -> &'static [u8] {
        match self {
            Side::Client => b"chimaera remote client v1",
            Side::Runtime => b"chimaera remote runtime v1",
        }
    }
}

/// A fresh random nonce, from the kernel's generator.
pub fn nonce() -> std::io::Result<[u8; NONCE]> {
    let mut nonce = [0u8; NONCE];
    let mut filled = 0;
    while filled < NONCE {
        filled += rustix::rand::getrandom(&mut nonce[filled..], rustix::rand::GetRandomFlags::empty())?;
    }
    Ok(nonce)
}

fn message(side: Side, runtime_nonce: &[u8; NONCE], client_nonce: &[u8; NONCE]) -> Vec<u8> {
    [side.label(), &runtime_nonce[..], &client_nonce[..]].concat()
}

/// What `side`, holding `key`, sends for the connection of these nonces.
///
/// ```
/// use chimaera_protocol::remote::auth::{Side, proof, proof_holds};
/// let (r, c) = ([1u8; 32], [2u8; 32]);
/// let sent = proof(Side::Client, b"sixteen byte key", &r, &c);
/// assert!(proof_holds(Side::Client, b"sixteen byte key", &r, &c, &sent));
/// assert!(!proof_holds(Side::Client, b"another key here", &r, &c, &sent));
/// assert!(!proof_holds(Side::Runtime, b"sixteen byte key", &r, &c, &sent));
/// ```
pub fn proof(side: Side, key: &[u8], runtime_nonce: &[u8; NONCE], client_nonce: &[u8; NONCE]) -> [u8; PROOF] {
    hmac_sha256::HMAC::mac(message(side, runtime_nonce, client_nonce), key)
}

/// Whether `given` is `side`'s proof under `key` (compared in constant time).
pub fn proof_holds(
    side: Side,
    key: &[u8],
    runtime_nonce: &[u8; NONCE],
    client_nonce: &[u8; NONCE],
    given: &[u8; PROOF],
) -> bool {
    hmac_sha256::HMAC::verify(message(side, runtime_nonce, client_nonce), key, given)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_bind_the_key_the_nonces_and_the_side() {
        let key = b"a key of sixteen bytes or more";
        let (r, c) = (nonce().unwrap(), nonce().unwrap());
        assert_ne!(r, c, "two nonces differ");
        let sent = proof(Side::Client, key, &r, &c);
        assert!(proof_holds(Side::Client, key, &r, &c, &sent));
        assert!(!proof_holds(Side::Client, key, &c, &r, &sent), "nonces swapped");
        assert!(!proof_holds(Side::Client, key, &nonce().unwrap(), &c, &sent), "another connection");
        assert!(!proof_holds(Side::Runtime, key, &r, &c, &sent), "a client's proof is not the runtime's");
        assert!(proof_holds(Side::Runtime, key, &r, &c, &proof(Side::Runtime, key, &r, &c)));
    }
}
