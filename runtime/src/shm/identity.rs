//! The per-runtime identity that names its shared memory.

use std::fmt;

/// Which runtime a set of segments belongs to: the user it runs as and its
/// `networking.port`. Segment names are `/chi_<uid>_<port>_<segment>`.
///
/// ```
/// use chimaera::shm::ShmIdentity;
/// let id = ShmIdentity::new(1000, 5555);
/// assert_eq!(id.segment_name("main"), "/chi_1000_5555_main");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ShmIdentity {
    uid: u32,
    port: u16,
}

impl ShmIdentity {
    /// The identity of user `uid`'s runtime on `port`.
    pub const fn new(uid: u32, port: u16) -> Self {
        ShmIdentity { uid, port }
    }

    /// The identity of this process's user's runtime on `port`.
    pub fn for_current_user(port: u16) -> Self {
        Self::new(rustix::process::getuid().as_raw(), port)
    }

    /// The POSIX shared memory name of one segment.
    pub fn segment_name(&self, segment: &str) -> String {
        format!("/{self}_{segment}")
    }
}

impl fmt::Display for ShmIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "chi_{}_{}", self.uid, self.port)
    }
}
