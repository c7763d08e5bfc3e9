//! Reading messages from a socket that may time out part-way: the bytes
//! of a message read so far are kept, and the next call goes on from
//! there, so a bounded wait never loses or splits a message.

use std::io::{self, Read};

use super::message::{PREFIX, lengths};

/// A message as read: its header's bytes and its payload.
#[derive(Debug, Default)]
pub struct Message {
    /// The header's postcard bytes.
    pub header: Vec<u8>,
    /// The payload.
    pub payload: Vec<u8>,
}

/// Reads one message after another.
#[derive(Debug, Default)]
pub struct MessageReader {
    prefix: [u8; PREFIX],
    prefix_read: usize,
    /// The lengths, once the prefix is in.
    expect: Option<(usize, usize)>,
    message: Message,
}

/// A payload grows by at most this much at a time, so a peer that
/// announces a large one and sends nothing makes the reader hold little.
const GROWTH: usize = 4 << 20;

impl MessageReader {
    /// Reads on from `from`: `Ok(Some)` once a whole message is in,
    /// `Ok(None)` when `from` would block or timed out first (what was read
    /// is kept), an error when the peer closed the connection
    /// ([`io::ErrorKind::UnexpectedEof`]) or sent lengths over the limits
    /// ([`io::ErrorKind::InvalidData`], naming them).
    pub fn read_from(&mut self, from: &mut impl Read) -> io::Result<Option<Message>> {
        match self.read_more(from) {
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => Ok(None),
            other => other,
        }
    }

    fn read_more(&mut self, from: &mut impl Read) -> io::Result<Option<Message>> {
        while self.prefix_read < PREFIX {
            match from.read(&mut self.prefix[self.prefix_read..]) {
                Ok(0) => return Err(closed(self.prefix_read)),
                Ok(n) => self.prefix_read += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let (header_len, payload_len) = match self.expect {
            Some(lengths) => lengths,
            None => {
                let found =
                    lengths(&self.prefix).map_err(|why| io::Error::new(io::ErrorKind::InvalidData, why))?;
                self.message.header.reserve_exact(found.0);
                self.expect = Some(found);
                found
            }
        };
        fill(from, &mut self.message.header, header_len)?;
        while self.message.payload.len() < payload_len {
            let have = self.message.payload.len();
            let room = (payload_len - have).min(GROWTH);
            self.message.payload.reserve_exact(room);
            fill(from, &mut self.message.payload, have + room)?;
        }
        self.prefix_read = 0;
        self.expect = None;
        Ok(Some(std::mem::take(&mut self.message)))
    }
}

/// Reads into `buf` until it holds `len` bytes.
fn fill(from: &mut impl Read, buf: &mut Vec<u8>, len: usize) -> io::Result<()> {
    while buf.len() < len {
        let want = (len - buf.len()) as u64;
        // `read_to_end` reads into the spare capacity without zeroing it.
        match from.by_ref().take(want).read_to_end(buf) {
            Ok(0) => return Err(closed(1)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn closed(mid: usize) -> io::Error {
    let why = if mid == 0 {
        "the peer closed the connection"
    } else {
        "the peer closed the connection mid-message"
    };
    io::Error::new(io::ErrorKind::UnexpectedEof, why)
}

#[cfg(test)]
mod tests {
    use super::super::message::{ToClient, encode};
    use super::*;

    /// Hands out its bytes a few at a time, timing out between pieces.
    struct Trickle {
        bytes: Vec<u8>,
        at: usize,
        step: usize,
        tick: bool,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.tick = !self.tick;
            if self.tick {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.step).min(self.bytes.len() - self.at);
            buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn a_message_read_in_pieces_with_timeouts_between_is_whole() {
        let one = encode(&ToClient::Reply { id: 1, status: 0 }, &[7; 1000]).unwrap();
        let two = encode(&ToClient::Goodbye { why: "stopping".into() }, &[]).unwrap();
        let mut from = Trickle { bytes: [one, two].concat(), at: 0, step: 3, tick: false };
        let mut reader = MessageReader::default();
        let mut got = Vec::new();
        while got.len() < 2 {
            if let Some(message) = reader.read_from(&mut from).unwrap() {
                got.push(message);
            }
        }
        assert_eq!(got[0].payload, vec![7; 1000]);
        assert!(got[1].payload.is_empty());
        // At the end: timeouts, then the close.
        let e = loop {
            match reader.read_from(&mut from) {
                Ok(None) => {}
                Ok(Some(extra)) => panic!("a third message: {extra:?}"),
                Err(e) => break e,
            }
        };
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn lengths_over_the_limits_are_refused_before_anything_is_read() {
        let mut bad: &[u8] = &[1, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0];
        let e = MessageReader::default().read_from(&mut bad).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("over the"), "{e}");
    }
}
