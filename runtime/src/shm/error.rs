//! Shared memory errors, each naming the segment.

use std::io;

use chimod_sdk::Size;

/// Why a segment could not be created or opened.
#[derive(Debug, thiserror::Error)]
pub enum ShmError {
    /// Not enough room in `/dev/shm`, or the kernel refused the reservation.
    #[error("Failed to allocate shared memory segment {name} ({size}): {reason}; {free} free in /dev/shm")]
    Allocate {
        /// The segment's name.
        name: String,
        /// The size asked for.
        size: Size,
        /// What failed.
        reason: String,
        /// What `/dev/shm` had free at the time.
        free: Size,
    },
    /// A live runtime already owns this identity.
    #[error(
        "another runtime is already running with shared memory {identity} (segment {name} is locked); \
         stop it with chimaera_stop_runtime or give this one another networking.port"
    )]
    InUse {
        /// The identity.
        identity: String,
        /// The locked segment.
        name: String,
    },
    /// Any other system call failure.
    #[error("shared memory segment {name}: {action}: {source}")]
    Io {
        /// The segment's name.
        name: String,
        /// What was being done.
        action: &'static str,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
}

impl ShmError {
    pub(super) fn io<'a>(
        name: &'a str,
        action: &'static str,
    ) -> impl FnOnce(rustix::io::Errno) -> ShmError + 'a {
        move |errno| ShmError::Io { name: name.to_owned(), action, source: errno.into() }
    }
}
