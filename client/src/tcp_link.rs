//! The TCP link to a runtime on another host (`CHI_SERVER_ADDR`): for login
//! nodes and containers that share no `/dev/shm` with the runtime. Blocking
//! sockets and no thread of its own: the thread that waits reads the
//! socket and hands the replies of other tasks to their waiters, so a lone
//! waiter's round trip is one write and one read.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chimaera_protocol::ipc::TaskStatus;
use chimaera_protocol::remote::message::{ToClient, ToRuntime, decode_header, encode};
use chimaera_protocol::remote::reader::{Message, MessageReader};
use chimaera_protocol::remote::{MAGIC, VERSION, auth};

use super::{ClientError, TaskSpec};

/// How long connecting and the handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a reading waiter blocks before it looks at the clock (and
/// lets another waiter read).
const READ_SLICE: Duration = Duration::from_millis(100);
/// Payloads at least this large are written after their header, not
/// copied behind it.
const SEPARATE_PAYLOAD: usize = 64 << 10;

/// Replies read and not yet taken, and the tasks still waited for.
#[derive(Debug, Default)]
struct Replies {
    done: HashMap<u64, (u32, Vec<u8>)>,
    wanted: HashSet<u64>,
    /// Set once the connection broke: every wait after gets it.
    broken: Option<ClientError>,
}

#[derive(Debug)]
struct ReadSide {
    stream: TcpStream,
    reader: MessageReader,
    timeout: Option<Duration>,
}

/// A connection to a remote runtime.
#[derive(Debug)]
pub(crate) struct TcpLink {
    pub(crate) addr: String,
    pub(crate) port: u16,
    pub(crate) incarnation: u64,
    writer: Mutex<TcpStream>,
    /// A handle of the socket to shut it down with, whoever holds the others.
    control: TcpStream,
    read_side: Mutex<ReadSide>,
    replies: Mutex<Replies>,
    arrived: Condvar,
    next_id: AtomicU64,
}

impl TcpLink {
    /// Connects to `addr` (`host:port`) and passes the handshake, proving
    /// `key` when the runtime asks for one.
    pub(crate) fn connect(addr: &str, key: Option<&[u8]>) -> Result<TcpLink, ClientError> {
        let unreachable = |why: String| ClientError::Unreachable { addr: addr.to_owned(), why };
        let targets: Vec<_> = addr
            .to_socket_addrs()
            .map_err(|e| unreachable(format!("not a host:port address ({e})")))?
            .collect();
        let mut last = "the name resolves to no address".to_owned();
        let mut stream = None;
        for target in &targets {
            match TcpStream::connect_timeout(target, CONNECT_TIMEOUT) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = format!("{target}: {e}"),
            }
        }
        let stream = stream.ok_or_else(|| unreachable(last))?;
        let port = stream.peer_addr().map(|a| a.port()).unwrap_or(0);
        let _ = stream.set_nodelay(true);
        keep_alive(&stream);
        let lost = |why: String| ClientError::Disconnected { addr: addr.to_owned(), why };
        let io = |e: std::io::Error| lost(e.to_string());
        let _ = stream.set_read_timeout(Some(CONNECT_TIMEOUT));
        let _ = stream.set_write_timeout(Some(CONNECT_TIMEOUT));
        let mut reader = MessageReader::default();
        let mut next = |stream: &TcpStream| -> Result<ToClient, ClientError> {
            let message = reader
                .read_from(&mut &*stream)
                .map_err(io)?
                .ok_or_else(|| lost(format!("the runtime did not answer within {CONNECT_TIMEOUT:?}")))?;
            decode_header(&message.header)
                .map_err(|e| unreachable(format!("what answers there is not a Chimaera runtime ({e})")))
        };
        let refused = |why: String| ClientError::Refused { addr: addr.to_owned(), why };
        let (keyed, runtime_nonce) = match next(&stream)? {
            ToClient::Challenge { magic, version, keyed, nonce } if magic == MAGIC && version == VERSION => {
                (keyed, nonce)
            }
            ToClient::Challenge { version, .. } => {
                return Err(unreachable(format!(
                    "the runtime speaks remote-client protocol version {version}, this client {VERSION}"
                )));
            }
            ToClient::Refused { why } => return Err(refused(why)),
            other => {
                return Err(unreachable(format!("the runtime did not start with a challenge ({other:?})")));
            }
        };
        let nonce = auth::nonce().map_err(|e| unreachable(format!("no random nonce: {e}")))?;
        let proof =
            key.filter(|_| keyed).map(|key| auth::proof(auth::Side::Client, key, &runtime_nonce, &nonce));
        let hello = encode(&ToRuntime::Hello { magic: MAGIC, version: VERSION, nonce, proof }, &[])
            .map_err(&unreachable)?;
        (&stream).write_all(&hello).map_err(io)?;
        let incarnation = match next(&stream) {
            Ok(ToClient::Welcome { proof: runtime_proof, incarnation, .. }) => {
                if let (Some(key), true) = (key, keyed) {
                    let holds = runtime_proof.is_some_and(|p| {
                        auth::proof_holds(auth::Side::Runtime, key, &runtime_nonce, &nonce, &p)
                    });
                    if !holds {
                        return Err(refused(
                            "the runtime did not prove it holds this client's cluster key: it is not the runtime it claims to be"
                                .to_owned(),
                        ));
                    }
                }
                incarnation
            }
            Ok(ToClient::Refused { why }) => return Err(refused(why)),
            Ok(other) => return Err(unreachable(format!("an unexpected answer to the hello ({other:?})"))),
            // A refusal is sent before the runtime closes: a close without
            // one, right after a hello without a key, is that refusal lost.
            Err(e) => return Err(e),
        };
        let _ = stream.set_write_timeout(None);
        let read = stream.try_clone().map_err(io)?;
        let control = stream.try_clone().map_err(io)?;
        Ok(TcpLink {
            addr: addr.to_owned(),
            port,
            incarnation,
            writer: Mutex::new(stream),
            control,
            read_side: Mutex::new(ReadSide { stream: read, reader, timeout: Some(CONNECT_TIMEOUT) }),
            replies: Mutex::default(),
            arrived: Condvar::new(),
            next_id: AtomicU64::new(1),
        })
    }

    fn replies(&self) -> MutexGuard<'_, Replies> {
        self.replies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lost(&self, why: impl Into<String>) -> ClientError {
        ClientError::Disconnected { addr: self.addr.clone(), why: why.into() }
    }

    /// Sends a task; its id, to wait on when `reply` is asked for.
    pub(crate) fn submit(&self, task: &TaskSpec<'_>, reply: bool) -> Result<u64, ClientError> {
        if let Some(broken) = &self.replies().broken {
            return Err(broken.clone());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (kind, a, b) = task.route.encode();
        let header = ToRuntime::Request {
            id,
            pool: (task.pool.major, task.pool.minor),
            method: task.method,
            route: (kind, a, b),
            long: task.est_cpu >= super::SLOW_TASK_THRESHOLD,
            reply,
        };
        let separate = task.input.len() >= SEPARATE_PAYLOAD;
        let inline = if separate { &[][..] } else { task.input };
        let mut bytes = encode(&header, inline).map_err(ClientError::Failed)?;
        if separate {
            if task.input.len() > chimaera_protocol::remote::MAX_PAYLOAD {
                return Err(ClientError::Failed(format!(
                    "a task input of {} bytes is over the {}-byte limit of a remote client's request",
                    task.input.len(),
                    chimaera_protocol::remote::MAX_PAYLOAD
                )));
            }
            bytes[4..8].copy_from_slice(&(task.input.len() as u32).to_le_bytes());
        }
        if reply {
            self.replies().wanted.insert(id);
        }
        let writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let deadline = Instant::now() + task.submit_timeout;
        let written = self
            .send_draining(&writer, &bytes, deadline)
            .and_then(|()| if separate { self.send_draining(&writer, task.input, deadline) } else { Ok(()) });
        drop(writer);
        if let Err(e) = written {
            let why = if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) {
                format!("the runtime took no more data for {:?} (the submit timeout)", task.submit_timeout)
            } else {
                e.to_string()
            };
            // The runtime may have said why before it closed (a goodbye
            // still unread): that is the better error.
            if let Ok(mut side) = self.read_side.try_lock() {
                for _ in 0..10 {
                    if self.replies().broken.is_some() {
                        break;
                    }
                    self.read_one(&mut side, Duration::from_millis(20));
                }
            }
            let error = self.replies().broken.clone().unwrap_or_else(|| self.lost(why));
            self.break_with(error.clone());
            return Err(error);
        }
        Ok(id)
    }

    /// Writes all of `bytes`, reading replies whenever the socket is full:
    /// a client that submits many tasks before it waits for any would
    /// otherwise stop the runtime's replies, and with them its reading of
    /// requests. A write that cannot finish by `deadline` (the submit
    /// timeout) leaves a message cut short, and the connection unusable.
    fn send_draining(&self, writer: &TcpStream, bytes: &[u8], deadline: Instant) -> std::io::Result<()> {
        use rustix::event::{PollFd, PollFlags, poll};
        use rustix::net::SendFlags;
        let mut sent = 0;
        while sent < bytes.len() {
            match rustix::net::send(writer, &bytes[sent..], SendFlags::DONTWAIT | SendFlags::NOSIGNAL) {
                Ok(n) => sent += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => {
                    if Instant::now() >= deadline {
                        return Err(std::io::ErrorKind::TimedOut.into());
                    }
                    let mut fds = [PollFd::new(writer, PollFlags::OUT | PollFlags::IN)];
                    let tick = rustix::time::Timespec { tv_sec: 0, tv_nsec: 10_000_000 };
                    let _ = poll(&mut fds, Some(&tick));
                    if fds[0].revents().contains(PollFlags::IN)
                        && let Ok(mut side) = self.read_side.try_lock()
                    {
                        self.read_one(&mut side, Duration::from_millis(1));
                        drop(side);
                        self.arrived.notify_all();
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Marks the connection broken: every waiter gets `error`.
    fn break_with(&self, error: ClientError) {
        let mut replies = self.replies();
        replies.broken.get_or_insert(error);
        drop(replies);
        let _ = self.control.shutdown(std::net::Shutdown::Both);
        self.arrived.notify_all();
    }

    /// Waits for the reply to task `id`, for at most `timeout`; a timeout
    /// keeps the task wanted.
    pub(crate) fn wait(&self, id: u64, timeout: Option<Duration>) -> Result<Vec<u8>, ClientError> {
        let started = Instant::now();
        loop {
            let mut replies = self.replies();
            if let Some((status, output)) = replies.done.remove(&id) {
                return ClientError::from_outcome(TaskStatus::from_code(status), output);
            }
            if let Some(broken) = replies.broken.clone() {
                replies.wanted.remove(&id);
                return Err(broken);
            }
            let left = match timeout {
                Some(limit) => match limit.checked_sub(started.elapsed()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Err(ClientError::Timeout(limit)),
                },
                None => None,
            };
            let slice = left.map_or(READ_SLICE, |l| l.min(READ_SLICE));
            match self.read_side.try_lock() {
                Ok(mut side) => {
                    drop(replies);
                    self.read_one(&mut side, slice);
                    drop(side);
                    // Another waiter may take over the reading now.
                    self.arrived.notify_all();
                }
                Err(_) => {
                    let _ = self.arrived.wait_timeout(replies, slice).unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
    }

    /// Whether task `id`'s reply is in, reading what has already arrived.
    pub(crate) fn is_done(&self, id: u64) -> bool {
        if let Ok(mut side) = self.read_side.try_lock() {
            let ready = rustix::event::poll(
                &mut [rustix::event::PollFd::new(&side.stream, rustix::event::PollFlags::IN)],
                Some(&rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 }),
            )
            .unwrap_or(0);
            if ready > 0 {
                self.read_one(&mut side, Duration::from_millis(1));
                self.arrived.notify_all();
            }
        }
        let replies = self.replies();
        replies.done.contains_key(&id) || replies.broken.is_some()
    }

    /// Gives up on task `id`: its reply, now or later, is dropped.
    pub(crate) fn forget(&self, id: u64) {
        let mut replies = self.replies();
        replies.wanted.remove(&id);
        replies.done.remove(&id);
    }

    /// Reads one message (or times out after `slice`) and files it.
    fn read_one(&self, side: &mut ReadSide, slice: Duration) {
        if side.timeout != Some(slice) {
            let _ = side.stream.set_read_timeout(Some(slice));
            side.timeout = Some(slice);
        }
        let ReadSide { stream, reader, .. } = side;
        match reader.read_from(&mut &*stream) {
            Ok(None) => {}
            Ok(Some(message)) => self.file(message),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                self.break_with(self.lost("the runtime closed the connection (it stopped or died)"));
            }
            Err(e) => self.break_with(self.lost(e.to_string())),
        }
    }

    fn file(&self, message: Message) {
        match decode_header::<ToClient>(&message.header) {
            Ok(ToClient::Reply { id, status }) => {
                let mut replies = self.replies();
                if replies.wanted.remove(&id) {
                    replies.done.insert(id, (status, message.payload));
                }
            }
            Ok(ToClient::Goodbye { why }) => self.break_with(if why == "runtime stopping" {
                ClientError::Stopping
            } else {
                self.lost(why)
            }),
            Ok(other) => {
                self.break_with(self.lost(format!("an unexpected message from the runtime ({other:?})")))
            }
            Err(e) => self.break_with(self.lost(e)),
        }
    }
}

impl Drop for TcpLink {
    fn drop(&mut self) {
        let _ = self.control.shutdown(std::net::Shutdown::Both);
    }
}

/// Lets the kernel notice a runtime host that vanished without closing
/// the connection (power loss, a cut cable) within about half a minute.
fn keep_alive(stream: &TcpStream) {
    use rustix::net::sockopt;
    let _ = sockopt::set_socket_keepalive(stream, true);
    let _ = sockopt::set_tcp_keepidle(stream, Duration::from_secs(10));
    let _ = sockopt::set_tcp_keepintvl(stream, Duration::from_secs(5));
    let _ = sockopt::set_tcp_keepcnt(stream, 4);
}
