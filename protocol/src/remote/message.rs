//! The messages of a remote-client connection. On the wire a message is
//! the header's length and the payload's length (two little-endian `u32`),
//! the header (postcard) and the payload (raw bytes).

use serde::{Deserialize, Serialize};

use super::auth::{NONCE, PROOF};
use super::{MAX_HEADER, MAX_PAYLOAD};

/// Bytes before a message's header: its two lengths.
pub const PREFIX: usize = 8;

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToRuntime {
    /// The answer to the runtime's [`ToClient::Challenge`]; no payload.
    Hello {
        /// [`super::MAGIC`].
        magic: u32,
        /// [`super::VERSION`].
        version: u16,
        /// The client's nonce.
        nonce: [u8; NONCE],
        /// Its proof of the cluster key, if it holds one.
        proof: Option<[u8; PROOF]>,
    },
    /// Run a task; the payload is its encoded input.
    Request {
        /// The client's id for it, echoed in the reply.
        id: u64,
        /// Target pool, as its two integers.
        pool: (u32, u32),
        /// Method.
        method: u32,
        /// Where it runs: `chimod_sdk::Route::encode`'s three integers.
        route: (u32, u32, u32),
        /// A long task (runs on a slow worker).
        long: bool,
        /// Whether the client waits for a reply (not for fire-and-forget).
        reply: bool,
    },
}

/// What a runtime sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToClient {
    /// The first message of every connection; no payload.
    Challenge {
        /// [`super::MAGIC`].
        magic: u32,
        /// [`super::VERSION`].
        version: u16,
        /// Whether the runtime holds a cluster key (clients must prove it).
        keyed: bool,
        /// The runtime's nonce.
        nonce: [u8; NONCE],
    },
    /// The client may send requests; no payload.
    Welcome {
        /// The runtime's proof of the key, when it holds one.
        proof: Option<[u8; PROOF]>,
        /// The runtime's node id in its cluster.
        node: u32,
        /// Which start of the runtime this is.
        incarnation: u64,
    },
    /// The connection is refused, and why; the runtime closes it.
    Refused {
        /// The reason, for the client's error.
        why: String,
    },
    /// A task's outcome; the payload is its output, or its error message.
    Reply {
        /// The request's id.
        id: u64,
        /// Its `TaskStatus` code.
        status: u32,
    },
    /// The runtime is closing the connection (it is stopping).
    Goodbye {
        /// Why.
        why: String,
    },
}

/// A message's bytes, ready to write in one call.
///
/// ```
/// use chimaera_protocol::remote::message::{ToClient, decode_header, encode};
/// let bytes = encode(&ToClient::Reply { id: 7, status: 0 }, b"out").unwrap();
/// let header_len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
/// let header: ToClient = decode_header(&bytes[8..8 + header_len]).unwrap();
/// assert_eq!(header, ToClient::Reply { id: 7, status: 0 });
/// assert_eq!(&bytes[8 + header_len..], b"out");
/// ```
pub fn encode(header: &impl Serialize, payload: &[u8]) -> Result<Vec<u8>, String> {
    if payload.len() > MAX_PAYLOAD {
        return Err(format!(
            "a payload of {} bytes is over the {MAX_PAYLOAD}-byte limit of a remote-client message",
            payload.len()
        ));
    }
    let mut bytes = vec![0u8; PREFIX];
    bytes.reserve(64 + payload.len());
    let mut bytes = postcard::to_extend(header, bytes).map_err(|e| format!("encoding a message: {e}"))?;
    let header_len = bytes.len() - PREFIX;
    if header_len > MAX_HEADER {
        return Err(format!("a message header of {header_len} bytes is over the {MAX_HEADER}-byte limit"));
    }
    bytes[..4].copy_from_slice(&(header_len as u32).to_le_bytes());
    bytes[4..PREFIX].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    bytes.extend_from_slice(payload);
    Ok(bytes)
}

/// A header from the bytes a peer sent: malformed bytes, or bytes left
/// over, are an error that says so.
pub fn decode_header<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, String> {
    let (header, rest) =
        postcard::take_from_bytes(bytes).map_err(|e| format!("malformed message header: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("malformed message header: {} bytes left over", rest.len()));
    }
    Ok(header)
}

/// The lengths a message's prefix announces, checked against the limits.
pub fn lengths(prefix: &[u8; PREFIX]) -> Result<(usize, usize), String> {
    let header = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    let payload = u32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]) as usize;
    if header == 0 || header > MAX_HEADER {
        return Err(format!("a message announces a header of {header} bytes (1 to {MAX_HEADER} allowed)"));
    }
    if payload > MAX_PAYLOAD {
        return Err(format!(
            "a message announces a payload of {payload} bytes, over the {MAX_PAYLOAD}-byte limit"
        ));
    }
    Ok((header, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_round_trips_and_every_bad_header_is_an_error() {
        let request = ToRuntime::Request {
            id: 9,
            pool: (300, 1),
            method: 12,
            route: (3, 0, 0),
            long: true,
            reply: false,
        };
        let bytes = encode(&request, &[5; 100]).unwrap();
        let (h, p) = lengths(bytes[..PREFIX].try_into().unwrap()).unwrap();
        assert_eq!(p, 100);
        assert_eq!(decode_header::<ToRuntime>(&bytes[PREFIX..PREFIX + h]).unwrap(), request);
        for cut in 0..h {
            assert!(decode_header::<ToRuntime>(&bytes[PREFIX..PREFIX + cut]).is_err(), "cut at {cut}");
        }
        assert!(
            decode_header::<ToRuntime>(&bytes[PREFIX..PREFIX + h + 1]).unwrap_err().contains("left over")
        );
        assert!(lengths(&[0; 8]).unwrap_err().contains("header of 0 bytes"));
        assert!(lengths(&[1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]).unwrap_err().contains("over the"));
        assert!(lengths(&[0xff, 0xff, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(encode(&request, &vec![0; MAX_PAYLOAD + 1]).is_err());
    }
}
