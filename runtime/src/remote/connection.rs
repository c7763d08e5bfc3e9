//! One remote client's connection: the handshake, then its requests run as
//! tasks of this node, each reply sent back by the worker that completes it
//! (`outbox.rs`).

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chimod_sdk::{PoolId, Route};
use tracing::{debug, info, warn};

use super::budget::Budget;
use super::outbox::Outbox;
use super::{Counters, Shared};
use crate::ipc::TaskStatus;
use crate::net::LogLimit;
use crate::node::Node;
use crate::task::{Completion, InternalTask, Outcome};
use chimaera_protocol::remote::message::{ToClient, ToRuntime, decode_header, encode};
use chimaera_protocol::remote::reader::{Message, MessageReader};
use chimaera_protocol::remote::{MAGIC, VERSION, auth};

/// How long a client has to answer the challenge.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// A live connection, as the listener keeps it (to end it on stop).
#[derive(Debug)]
pub(super) struct Connection {
    pub(super) peer: SocketAddr,
    stream: TcpStream,
    outbox: Arc<Outbox>,
    budget: Arc<Budget>,
    /// Set when the runtime stops: the replies still due and the goodbye
    /// go out before the connection closes (`finish`).
    stopping: std::sync::atomic::AtomicBool,
}

impl Connection {
    pub(super) fn new(stream: TcpStream, peer: SocketAddr) -> std::io::Result<Connection> {
        let budget = Arc::new(Budget::default());
        let outbox = Arc::new(Outbox::new(stream.try_clone()?, budget.clone()));
        Ok(Connection { peer, stream, outbox, budget, stopping: Default::default() })
    }

    /// Refuses the connection before any handshake, and closes it.
    pub(super) fn refuse(&self, why: &str) {
        if let Ok(bytes) = encode(&ToClient::Refused { why: why.to_owned() }, &[]) {
            let _ = self.stream.set_write_timeout(Some(HANDSHAKE_TIMEOUT));
            let _ = std::io::Write::write_all(&mut &self.stream, &bytes);
        }
        let _ = rustix::net::shutdown(&self.stream, rustix::net::Shutdown::Both);
    }

    /// Stops reading requests (the reader thread ends; replies still go out).
    pub(super) fn stop_reading(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = rustix::net::shutdown(&self.stream, rustix::net::Shutdown::Read);
        self.budget.close();
    }

    /// Says goodbye and lets the writer end once the replies are out.
    pub(super) fn finish(&self, why: &str) {
        if let Ok(bytes) = encode(&ToClient::Goodbye { why: why.to_owned() }, &[]) {
            self.outbox.send(bytes, None);
        }
        self.outbox.close();
    }

    /// Serves the connection until the client leaves or the runtime stops:
    /// the reader thread. The writer runs on a thread of its own.
    pub(super) fn serve(&self, node: &Arc<Node>, shared: &Shared) {
        let writer = {
            let outbox = self.outbox.clone();
            std::thread::Builder::new()
                .name("chi-remote-out".into())
                .stack_size(super::THREAD_STACK)
                .spawn(move || outbox.run_writer())
        };
        let Ok(writer) = writer else {
            warn!(client = %self.peer, "cannot start a writer thread for a remote client; closing it");
            let _ = rustix::net::shutdown(&self.stream, rustix::net::Shutdown::Both);
            return;
        };
        match self.handshake(node, shared) {
            Ok(()) => {
                shared.counters.connected.fetch_add(1, Ordering::Relaxed);
                let why = self.requests(node, &shared.counters);
                shared.counters.connected.fetch_sub(1, Ordering::Relaxed);
                debug!(client = %self.peer, "remote client left: {why}");
            }
            Err(why) => {
                shared.counters.refused.fetch_add(1, Ordering::Relaxed);
                static LIMIT: LogLimit = LogLimit::new();
                if let Some(quiet) = LIMIT.allow() {
                    warn!(
                        "refused a remote client from {}: {why} ({quiet} more refused since the last such line)",
                        self.peer
                    );
                }
                if let Ok(bytes) = encode(&ToClient::Refused { why }, &[]) {
                    self.outbox.send(bytes, None);
                }
            }
        }
        // A stopping runtime closes the outbox itself once the workers are
        // done (`finish`): replies to the tasks in flight, then a goodbye.
        if !self.stopping.load(Ordering::SeqCst) {
            self.outbox.close();
        }
        let _ = writer.join();
        let _ = rustix::net::shutdown(&self.stream, rustix::net::Shutdown::Both);
    }

    /// Challenges the client; `Err` says why it is refused.
    fn handshake(&self, node: &Node, shared: &Shared) -> Result<(), String> {
        let nonce = auth::nonce().map_err(|e| format!("no random nonce: {e}"))?;
        let challenge =
            ToClient::Challenge { magic: MAGIC, version: VERSION, keyed: shared.key.is_some(), nonce };
        self.outbox.send(encode(&challenge, &[])?, None);
        let _ = self.stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT));
        let message = match MessageReader::default().read_from(&mut &self.stream) {
            Ok(Some(message)) => message,
            Ok(None) => return Err(format!("no hello within {HANDSHAKE_TIMEOUT:?}")),
            Err(e) => return Err(format!("no hello: {e}")),
        };
        let _ = self.stream.set_read_timeout(None);
        let hello: ToRuntime =
            decode_header(&message.header).map_err(|e| format!("not a Chimaera client ({e})"))?;
        let ToRuntime::Hello { magic, version, nonce: client_nonce, proof } = hello else {
            return Err("a request before the hello".to_owned());
        };
        if magic != MAGIC || version != VERSION {
            return Err(format!(
                "a client of another protocol or version (magic {magic:#x}, version {version}; this runtime speaks version {VERSION})"
            ));
        }
        let welcome_proof = match (&shared.key, proof) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(
                    "this runtime requires the cluster key (networking.cluster_key_file): give the client the same key file with CHI_CLUSTER_KEY_FILE"
                        .to_owned(),
                );
            }
            (Some(key), Some(proof)) => {
                if !auth::proof_holds(auth::Side::Client, key, &nonce, &client_nonce, &proof) {
                    return Err(
                        "the client's cluster key is not this runtime's (networking.cluster_key_file differs from CHI_CLUSTER_KEY_FILE)"
                            .to_owned(),
                    );
                }
                Some(auth::proof(auth::Side::Runtime, key, &nonce, &client_nonce))
            }
        };
        let incarnation = node.queue.get().map_or(0, |q| q.header().incarnation);
        let welcome = ToClient::Welcome { proof: welcome_proof, node: node.node_id, incarnation };
        self.outbox.send(encode(&welcome, &[])?, None);
        info!(client = %self.peer, keyed = shared.key.is_some(), "remote client connected");
        Ok(())
    }

    /// Runs requests until the connection ends; returns why it ended.
    fn requests(&self, node: &Arc<Node>, counters: &Counters) -> String {
        let mut reader = MessageReader::default();
        loop {
            let message = match reader.read_from(&mut &self.stream) {
                Ok(Some(message)) => message,
                Ok(None) => continue,
                Err(e) => return e.to_string(),
            };
            counters.requests.fetch_add(1, Ordering::Relaxed);
            if let Err(why) = self.run(node, message) {
                // A client that sends what is not a request is not one to
                // trust with more: its connection ends.
                counters.refused.fetch_add(1, Ordering::Relaxed);
                warn!(client = %self.peer, "closing a remote client's connection: {why}");
                return why;
            }
        }
    }

    /// Submits one request.
    fn run(&self, node: &Arc<Node>, message: Message) -> Result<(), String> {
        let Message { header, payload: input } = message;
        let ToRuntime::Request { id, pool, method, route, long, reply } = decode_header(&header)? else {
            return Err("a second hello".to_owned());
        };
        let charge = input.len() as u64;
        if !self.budget.acquire(charge) {
            return Err("the runtime is stopping".to_owned());
        }
        let outbox = self.outbox.clone();
        let budget = self.budget.clone();
        let send = move |outcome: Outcome| {
            if !reply {
                budget.release(charge);
                return;
            }
            let bytes = encode(&ToClient::Reply { id, status: outcome.status as u32 }, &outcome.output)
                .or_else(|why| {
                    let why = format!("the task's output cannot be sent back: {why}");
                    encode(&ToClient::Reply { id, status: TaskStatus::Error as u32 }, why.as_bytes())
                });
            match bytes {
                Ok(bytes) => {
                    let total = charge + bytes.len() as u64;
                    budget.grow(bytes.len() as u64);
                    outbox.send(bytes, Some(total));
                    crate::worker::handed_off();
                }
                Err(_) => budget.release(charge),
            }
        };
        let Some(route) = Route::decode(route.0, route.1, route.2) else {
            send(Outcome::failed(TaskStatus::BadTask, format!("unknown route code {}", route.0)));
            return Ok(());
        };
        let completion = Completion::new();
        completion.on_complete(send);
        let task = InternalTask {
            pool: PoolId::new(pool.0, pool.1),
            method,
            input,
            completion: Some(completion),
            owner: crate::node::own_pid(),
            route,
        };
        // A refused task's completion is failed by `submit`, which replies.
        let _ = crate::worker::submit(node, task, long);
        Ok(())
    }
}
