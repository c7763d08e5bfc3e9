//! The protocol between a runtime and its remote clients: clients on
//! another host (a login node, a container) that share no `/dev/shm` with
//! the runtime and reach it over TCP on `networking.client_port`
//! (`CHI_SERVER_ADDR=host:port` on the client's side).
//!
//! A connection starts with a handshake (`auth.rs`): the runtime sends a
//! challenge; the client answers with its own nonce and, when the runtime
//! holds a cluster key, an HMAC-SHA256 proof that it holds the same key;
//! the runtime welcomes it (proving the key in turn) or refuses it with a
//! message that says why. After it, the client sends requests and the
//! runtime sends replies, matched by the client's request ids, in any
//! order. Every message is a small postcard header and a payload of raw
//! bytes (`message.rs`): a task's input or output travels as it is, bulk
//! data included, without being re-encoded.

pub mod auth;
pub mod message;
pub mod reader;

/// "CHIR": a Chimaera remote-client connection.
pub const MAGIC: u32 = u32::from_le_bytes(*b"CHIR");
/// Bumped whenever a message changes.
pub const VERSION: u16 = 1;
/// The largest payload (a task's input or output) a message carries.
pub const MAX_PAYLOAD: usize = 64 << 20;
/// The largest header a message carries (the payload aside): headers are
/// a few integers, or a refusal's sentence.
pub const MAX_HEADER: usize = 4 << 10;
