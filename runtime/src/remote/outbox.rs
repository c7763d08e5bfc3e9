//! A connection's replies on their way out. A worker that completes a task
//! writes the reply itself when the socket takes it at once (no thread is
//! woken: the fast path of a round trip); what the socket cannot take now
//! waits here, in order, for the connection's writer thread, so a client
//! that reads slowly holds up its own replies and never a worker.

use std::collections::VecDeque;
use std::io::Write;
use std::net::TcpStream;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use rustix::net::SendFlags;

use super::budget::Budget;

/// A reply and what it holds of the connection's budget.
struct Queued {
    bytes: Vec<u8>,
    /// Bytes of it already sent.
    sent: usize,
    /// What it holds of the budget: `None` for the handshake's messages.
    charge: Option<u64>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Queued>,
    /// The writer thread is sending the front of what was queued.
    writing: bool,
    /// No more replies go out (the client is gone, or the runtime stops).
    closed: bool,
}

/// Where a connection's replies go.
pub(super) struct Outbox {
    stream: TcpStream,
    state: Mutex<State>,
    wake: Condvar,
    budget: std::sync::Arc<Budget>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").field("stream", &self.stream).finish_non_exhaustive()
    }
}

impl Outbox {
    pub(super) fn new(stream: TcpStream, budget: std::sync::Arc<Budget>) -> Outbox {
        Outbox { stream, state: Mutex::default(), wake: Condvar::new(), budget }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; the state stays consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `bytes`, now if the socket takes them, else through the writer;
    /// `charge` (a task's) goes back to the budget once they are out (or
    /// dropped).
    pub(super) fn send(&self, bytes: Vec<u8>, charge: Option<u64>) {
        let mut state = self.lock();
        if state.closed {
            drop(state);
            self.release(charge);
            return;
        }
        let mut sent = 0;
        if state.queue.is_empty() && !state.writing {
            match rustix::net::send(&self.stream, &bytes, SendFlags::DONTWAIT | SendFlags::NOSIGNAL) {
                Ok(n) if n == bytes.len() => {
                    drop(state);
                    self.release(charge);
                    return;
                }
                Ok(n) => sent = n,
                Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => {}
                Err(_) => {
                    // The client is gone: nothing more can reach it.
                    state.closed = true;
                    drop(state);
                    self.release(charge);
                    self.wake.notify_all();
                    return;
                }
            }
        }
        state.queue.push_back(Queued { bytes, sent, charge });
        drop(state);
        self.wake.notify_all();
    }

    /// Sends what was queued, blocking, until the outbox is closed and
    /// empty: the connection's writer thread.
    pub(super) fn run_writer(&self) {
        let mut stream = &self.stream;
        let mut state = self.lock();
        loop {
            let Some(item) = state.queue.pop_front() else {
                if state.closed {
                    return;
                }
                state = self.wake.wait(state).unwrap_or_else(PoisonError::into_inner);
                continue;
            };
            state.writing = true;
            drop(state);
            let ok = stream.write_all(&item.bytes[item.sent..]).is_ok();
            self.release(item.charge);
            state = self.lock();
            state.writing = false;
            if !ok {
                state.closed = true;
                for dropped in state.queue.drain(..) {
                    self.release(dropped.charge);
                }
                return;
            }
        }
    }

    fn release(&self, charge: Option<u64>) {
        if let Some(bytes) = charge {
            self.budget.release(bytes);
        }
    }

    /// No further replies: the writer sends what is queued and ends.
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_all();
    }
}
