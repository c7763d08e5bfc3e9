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
    /// Something that is not this runtime's stands under one of its names.
    #[error(
        "refusing {path}: it is {what}; it was not left by a runtime of this user, so it is neither used nor removed (remove it by hand, or give this runtime another networking.port)"
    )]
    Refused {
        /// The path in `/dev/shm`.
        path: String,
        /// What it is, and whose.
        what: String,
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
    /// The same error told of segment `segment` (what the operator knows
    /// it as) rather than the name it was being built under.
    pub(super) fn for_segment(self, segment: &str) -> ShmError {
        match self {
            ShmError::Allocate { size, reason, free, .. } => {
                ShmError::Allocate { name: segment.to_owned(), size, reason, free }
            }
            ShmError::Io { action, source, .. } => ShmError::Io { name: segment.to_owned(), action, source },
            other => other,
        }
    }

    pub(super) fn io<'a>(
        name: &'a str,
        action: &'static str,
    ) -> impl FnOnce(rustix::io::Errno) -> ShmError + 'a {
        move |errno| ShmError::Io { name: name.to_owned(), action, source: errno.into() }
    }
}
