//! A minimal ZeroMQ (ZMTP 3.0, NULL security) peer over a plain TCP stream,
//! for tests that must send what a well-behaved ZeroMQ library never would:
//! commands after the handshake, truncated commands, garbage frames.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A connection that has completed the ZMTP handshake.
#[derive(Debug)]
pub struct ZmtpPeer {
    stream: TcpStream,
}

impl ZmtpPeer {
    /// Connects and greets as a socket of `socket_type` (`DEALER`, `PUSH`).
    pub fn connect(to: SocketAddr, socket_type: &str) -> io::Result<ZmtpPeer> {
        let mut stream = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut greeting = vec![0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 0];
        greeting.extend_from_slice(&pad(b"NULL", 20));
        greeting.push(0); // as-server: no
        greeting.extend_from_slice(&[0; 31]);
        stream.write_all(&greeting)?;
        let mut theirs = [0u8; 64];
        stream.read_exact(&mut theirs)?;
        let mut peer = ZmtpPeer { stream };
        let mut ready = property(b"Socket-Type", socket_type.as_bytes());
        ready.splice(0..0, command_name(b"READY"));
        peer.send_command(&ready)?;
        // Their READY: flags, size, body.
        let mut head = [0u8; 2];
        peer.stream.read_exact(&mut head)?;
        let mut body = vec![0u8; usize::from(head[1])];
        peer.stream.read_exact(&mut body)?;
        Ok(peer)
    }

    /// Sends a command frame with this body (name length, name, properties).
    pub fn send_command(&mut self, body: &[u8]) -> io::Result<()> {
        self.send_raw(&frame(0x04, body))
    }

    /// Sends one message of these parts.
    pub fn send_message(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let mut bytes = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let more = if i + 1 < parts.len() { 0x01 } else { 0 };
            bytes.extend(frame(more, part));
        }
        self.send_raw(&bytes)
    }

    /// Sends bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }
}

/// A command's name, length-prefixed.
pub fn command_name(name: &[u8]) -> Vec<u8> {
    let mut out = vec![u8::try_from(name.len()).expect("short name")];
    out.extend_from_slice(name);
    out
}

/// One command property.
pub fn property(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = command_name(name);
    out.extend_from_slice(&u32::try_from(value.len()).expect("short value").to_be_bytes());
    out.extend_from_slice(value);
    out
}

fn frame(flags: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 9);
    match u8::try_from(body.len()) {
        Ok(short) => out.extend_from_slice(&[flags, short]),
        Err(_) => {
            out.push(flags | 0x02);
            out.extend_from_slice(&(body.len() as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(body);
    out
}

fn pad(text: &[u8], len: usize) -> Vec<u8> {
    let mut out = text.to_vec();
    out.resize(len, 0);
    out
}
