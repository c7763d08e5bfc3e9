//! What can go wrong for a client; never a hang.

use std::time::Duration;

use chimod_sdk::codec::CodecError;

use chimaera_protocol::ipc::LayoutError;

/// A client error. Its `Debug` form is its message too, so that an
/// application's `fn main() -> Result<(), ClientError>` (which prints the
/// error with `Debug`) tells its user what went wrong in words.
#[derive(Clone, thiserror::Error)]
pub enum ClientError {
    /// No runtime of this identity is running.
    #[error(
        "no Chimaera runtime is running for port {port} (shared memory {identity}); start one with chimaera_start_runtime"
    )]
    NoRuntime {
        /// The runtime's shared memory identity.
        identity: String,
        /// Its port.
        port: u16,
    },
    /// The configuration that names the runtime could not be loaded.
    #[error("{0}")]
    Config(String),
    /// The runtime did not finish starting in time.
    #[error("the runtime for port {port} did not become ready within {waited:?}")]
    NotReady {
        /// Its port.
        port: u16,
        /// How long the client waited.
        waited: Duration,
    },
    /// The shared memory is not a compatible queue.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The segment could not be opened.
    #[error("{0}")]
    Shm(String),
    /// The runtime is stopping and takes no new tasks.
    #[error("runtime stopping")]
    Stopping,
    /// The runtime died while the task was in flight.
    #[error("the runtime for port {port} died while the task was in flight")]
    RuntimeDied {
        /// Its port.
        port: u16,
    },
    /// The runtime this client attached to died and another one of the same
    /// identity started: this client's tasks and memory belong to the dead one.
    #[error(
        "the runtime for port {port} restarted (incarnation {old:016x} is gone, {new:016x} serves now); attach again"
    )]
    Restarted {
        /// Its port.
        port: u16,
        /// The incarnation this client attached to.
        old: u64,
        /// The one serving now.
        new: u64,
    },
    /// Every lane (or every slot) stayed full for the submit timeout.
    #[error("task queue full: lane {lane} held queue_depth {depth} tasks for {waited:?}")]
    QueueFull {
        /// The lane tried.
        lane: u32,
        /// Its depth.
        depth: u32,
        /// How long the client waited.
        waited: Duration,
    },
    /// Every task slot stayed in use for the submit timeout.
    #[error(
        "no free task slot: all {slots} slots stayed in flight for {waited:?} (collect finished tasks, or enlarge memory.main_segment_size)"
    )]
    NoFreeSlot {
        /// Slots in the segment.
        slots: u32,
        /// How long the client waited.
        waited: Duration,
    },
    /// This client already holds its fair share of the task slots (the
    /// slots not reserved for admin tasks, shared out evenly among the
    /// clients attached) and none came back within the submit timeout.
    #[error(
        "this client holds {held} tasks in flight, its fair share of the runtime's task slots ({share}, the slots shared out among the clients attached), and none finished within {waited:?}; collect finished tasks first"
    )]
    OverShare {
        /// Tasks this client has in flight.
        held: u32,
        /// Its share.
        share: u32,
        /// How long it waited.
        waited: Duration,
    },
    /// The task did not complete within the wait timeout.
    #[error("task did not complete within {0:?}")]
    Timeout(Duration),
    /// The pool does not exist on this node.
    #[error("{0}")]
    PoolNotFound(String),
    /// The module returned an error.
    #[error("{0}")]
    Failed(String),
    /// The module panicked running the task.
    #[error("{0}")]
    Panicked(String),
    /// The runtime's shared memory is not open to this user.
    #[error(
        "permission denied opening shared memory segment {segment}: it is not open to this user (uid {uid}); the runtime's user can open it to a group with memory.shm_group"
    )]
    Permission {
        /// The segment.
        segment: String,
        /// This process's user.
        uid: u32,
    },
    /// A task's output was waited for again after it was taken.
    #[error("this task's output was already taken")]
    Taken,
    /// No remote-client endpoint answers at the address.
    #[error(
        "cannot reach a Chimaera runtime at {addr}: {why} (is it running with networking.client_port set to this port?)"
    )]
    Unreachable {
        /// The address tried (`CHI_SERVER_ADDR`).
        addr: String,
        /// What the connection attempt said.
        why: String,
    },
    /// The runtime at the address refused this client (its cluster key).
    #[error("the runtime at {addr} refused this client: {why}")]
    Refused {
        /// The runtime's address.
        addr: String,
        /// Its reason.
        why: String,
    },
    /// The connection to a remote runtime ended or broke.
    #[error("lost the connection to the runtime at {addr}: {why}")]
    Disconnected {
        /// The runtime's address.
        addr: String,
        /// What happened.
        why: String,
    },
    /// What was asked needs the runtime's shared memory, which a remote
    /// client does not map.
    #[error("{0} needs the runtime's shared memory, which a remote client (CHI_SERVER_ADDR) does not have")]
    NeedsSharedMemory(&'static str),
    /// Input or output did not encode or decode.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A bulk buffer could not be allocated, found or freed.
    #[error(transparent)]
    Bulk(#[from] chimaera_protocol::bulk::BulkError),
}

/// What kind of failure a [`ClientError`] is, for callers that branch on
/// it (the C API's status codes and the Python package's exception classes
/// are these kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No runtime of this identity is running.
    NoRuntime,
    /// A runtime is starting and did not become ready in time.
    NotReady,
    /// The configuration naming the runtime could not be loaded.
    Config,
    /// The runtime attached to died or was replaced by a new one.
    RuntimeGone,
    /// The runtime is stopping.
    Stopping,
    /// No room in the task queue within the submit timeout.
    QueueFull,
    /// A task did not finish in time.
    Timeout,
    /// The pool does not exist.
    PoolNotFound,
    /// The module failed or panicked running the task.
    TaskFailed,
    /// The runtime's shared memory is not open to this user, or a remote
    /// runtime refused this client's cluster key.
    Permission,
    /// The shared memory is not a compatible runtime's.
    SharedMemory,
    /// Input or output did not encode or decode.
    Codec,
    /// A bulk buffer could not be allocated, found or freed.
    Bulk,
    /// The call itself was wrong (an output taken twice).
    Usage,
}

impl ClientError {
    /// A finished task's output, or the error its status says.
    pub(crate) fn from_outcome(
        status: chimaera_protocol::ipc::TaskStatus,
        output: Vec<u8>,
    ) -> Result<Vec<u8>, ClientError> {
        use chimaera_protocol::ipc::TaskStatus;
        let text = || String::from_utf8_lossy(&output).into_owned();
        match status {
            TaskStatus::Ok => Ok(output),
            TaskStatus::NoPool => Err(ClientError::PoolNotFound(text())),
            TaskStatus::Stopping => Err(ClientError::Stopping),
            TaskStatus::Panicked => Err(ClientError::Panicked(text())),
            TaskStatus::Error | TaskStatus::BadTask => Err(ClientError::Failed(text())),
        }
    }

    /// This error's kind.
    ///
    /// ```
    /// use chimaera_client::{ClientError, ErrorKind};
    /// assert_eq!(ClientError::Timeout(std::time::Duration::from_secs(1)).kind(), ErrorKind::Timeout);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::NoRuntime { .. } | ClientError::Unreachable { .. } => ErrorKind::NoRuntime,
            ClientError::Refused { .. } => ErrorKind::Permission,
            ClientError::Disconnected { .. } => ErrorKind::RuntimeGone,
            ClientError::NeedsSharedMemory(_) => ErrorKind::Usage,
            ClientError::Config(_) => ErrorKind::Config,
            ClientError::NotReady { .. } => ErrorKind::NotReady,
            ClientError::Layout(_) | ClientError::Shm(_) => ErrorKind::SharedMemory,
            ClientError::Stopping => ErrorKind::Stopping,
            ClientError::RuntimeDied { .. } | ClientError::Restarted { .. } => ErrorKind::RuntimeGone,
            ClientError::QueueFull { .. }
            | ClientError::NoFreeSlot { .. }
            | ClientError::OverShare { .. } => ErrorKind::QueueFull,
            ClientError::Timeout(_) => ErrorKind::Timeout,
            ClientError::PoolNotFound(_) => ErrorKind::PoolNotFound,
            ClientError::Failed(_) | ClientError::Panicked(_) => ErrorKind::TaskFailed,
            ClientError::Permission { .. } => ErrorKind::Permission,
            ClientError::Taken => ErrorKind::Usage,
            ClientError::Codec(_) => ErrorKind::Codec,
            ClientError::Bulk(_) => ErrorKind::Bulk,
        }
    }
}

impl std::fmt::Debug for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_debug_form_is_the_message() {
        let e = ClientError::NoRuntime { identity: "chi_0_5630".into(), port: 5630 };
        assert_eq!(format!("{e:?}"), e.to_string());
        assert!(format!("{e:?}").starts_with("no Chimaera runtime is running for port 5630"));
        let e = ClientError::Timeout(Duration::from_secs(2));
        assert_eq!(format!("{e:?}"), e.to_string());
    }
}
