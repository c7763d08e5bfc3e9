//! The runtime's three segments, created together and owned under a lock.

use std::fs::File;

use rustix::fs::{FlockOperation, Mode};
use rustix::io::Errno;
use rustix::shm::OFlags;

use super::{SHM_DIR, Segment, ShmError, ShmIdentity};
use crate::config::MemoryConfig;

/// Names of the segments after the identity, in creation order.
pub const SEGMENTS: [&str; 3] = ["main", "client_data", "runtime_data"];

/// The runtime's segments. Dropping the set unlinks all three.
#[derive(Debug)]
pub struct SegmentSet {
    identity: ShmIdentity,
    // Field order is drop order: data segments go first, `main` (whose lock
    // marks the identity as taken) last.
    client_data: Segment,
    runtime_data: Segment,
    main: Segment,
    reclaimed: bool,
}

impl SegmentSet {
    /// Creates and reserves all three segments for `identity`, reclaiming
    /// segments left by a runtime of the same identity that died.
    pub fn create(identity: &ShmIdentity, memory: &MemoryConfig) -> Result<SegmentSet, ShmError> {
        let main_name = identity.segment_name(SEGMENTS[0]);
        let (file, reclaimed) = lock_main(identity, &main_name)?;
        if reclaimed {
            for seg in &SEGMENTS[1..] {
                let _ = rustix::shm::unlink(identity.segment_name(seg).as_str());
            }
        }
        let main = Segment::adopt(&main_name, file, memory.main_segment_size)?;
        let client_data =
            Segment::create(&identity.segment_name(SEGMENTS[1]), memory.client_data_segment_size)?;
        let runtime_data =
            Segment::create(&identity.segment_name(SEGMENTS[2]), memory.runtime_data_segment_size)?;
        if let Some(gid) = memory.shm_group {
            for seg in [&main, &client_data, &runtime_data] {
                seg.share_with_group(gid)?;
            }
        }
        Ok(SegmentSet { identity: identity.clone(), client_data, runtime_data, main, reclaimed })
    }

    /// Whether stale segments of a crashed runtime were found and reclaimed.
    pub fn reclaimed_stale(&self) -> bool {
        self.reclaimed
    }

    /// The identity the segments are named after.
    pub fn identity(&self) -> &ShmIdentity {
        &self.identity
    }

    /// The segments in creation order.
    pub fn segments(&self) -> [&Segment; 3] {
        [&self.main, &self.client_data, &self.runtime_data]
    }
}

/// Opens (or creates) `main` and takes its exclusive lock. Returns whether
/// the segment already existed, i.e. was left behind by a dead runtime.
fn lock_main(identity: &ShmIdentity, name: &str) -> Result<(File, bool), ShmError> {
    // A runtime stopping cleanly unlinks `main` while holding the lock; if we
    // opened the old name just before that, our lock is on a dead inode.
    // Checking the name still leads to the locked inode closes that race.
    for _ in 0..8 {
        let fd = rustix::shm::open(name, OFlags::CREATE | OFlags::RDWR, Mode::RUSR | Mode::WUSR)
            .map_err(ShmError::io(name, "open"))?;
        let file = File::from(fd);
        match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) => {
                return Err(ShmError::InUse { identity: identity.to_string(), name: name.to_owned() });
            }
            Err(e) => return Err(ShmError::io(name, "lock")(e)),
        }
        let held = rustix::fs::fstat(&file).map_err(ShmError::io(name, "stat"))?;
        let path = format!("{SHM_DIR}{name}");
        match rustix::fs::stat(path.as_str()) {
            Ok(current) if current.st_ino == held.st_ino => return Ok((file, held.st_size > 0)),
            _ => continue,
        }
    }
    Err(ShmError::InUse { identity: identity.to_string(), name: name.to_owned() })
}

/// Whether a live runtime holds `identity` (its `main` segment is locked).
pub fn runtime_alive(identity: &ShmIdentity) -> bool {
    let name = identity.segment_name(SEGMENTS[0]);
    let Ok(fd) = rustix::shm::open(name.as_str(), OFlags::RDONLY, Mode::empty()) else {
        return false;
    };
    matches!(rustix::fs::flock(&fd, FlockOperation::NonBlockingLockShared), Err(Errno::WOULDBLOCK))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU16, Ordering};

    use chimod_sdk::Size;

    use super::*;

    /// A port no other test (or test process) of this user uses.
    fn unique_identity() -> ShmIdentity {
        static NEXT: AtomicU16 = AtomicU16::new(0);
        let port = 20_000 + (std::process::id() % 2000) as u16 * 16 + NEXT.fetch_add(1, Ordering::Relaxed);
        ShmIdentity::for_current_user(port)
    }

    fn small() -> MemoryConfig {
        MemoryConfig {
            shm_group: None,
            main_segment_size: Size::from_bytes(1 << 20),
            client_data_segment_size: Size::from_bytes(256 << 10),
            runtime_data_segment_size: Size::from_bytes(128 << 10),
        }
    }

    fn on_disk(identity: &ShmIdentity, seg: &str) -> Option<u64> {
        let path = format!("{SHM_DIR}{}", identity.segment_name(seg));
        std::fs::metadata(path).ok().map(|m| m.len())
    }

    #[test]
    fn creates_reserves_and_removes() {
        let id = unique_identity();
        let set = SegmentSet::create(&id, &small()).unwrap();
        assert_eq!(on_disk(&id, "main"), Some(1 << 20));
        assert_eq!(on_disk(&id, "client_data"), Some(256 << 10));
        assert_eq!(on_disk(&id, "runtime_data"), Some(128 << 10));
        assert!(runtime_alive(&id));
        assert!(!set.reclaimed_stale());
        let mode = std::fs::metadata(format!("{SHM_DIR}{}", id.segment_name("main"))).unwrap();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777, 0o600);
        drop(set);
        for seg in SEGMENTS {
            assert_eq!(on_disk(&id, seg), None, "{seg} left behind");
        }
        assert!(!runtime_alive(&id));
    }

    #[test]
    fn a_live_identity_is_refused() {
        let id = unique_identity();
        let _first = SegmentSet::create(&id, &small()).unwrap();
        let err = SegmentSet::create(&id, &small()).unwrap_err();
        assert!(matches!(err, ShmError::InUse { .. }), "{err}");
        assert_eq!(
            on_disk(&id, "client_data"),
            Some(256 << 10),
            "the refused start must not touch the live runtime"
        );
    }

    #[test]
    fn stale_segments_are_reclaimed() {
        let id = unique_identity();
        // What a runtime killed with SIGKILL leaves: named, sized, unlocked.
        for seg in SEGMENTS {
            let fd = rustix::shm::open(
                id.segment_name(seg).as_str(),
                OFlags::CREATE | OFlags::RDWR,
                Mode::RUSR | Mode::WUSR,
            )
            .unwrap();
            rustix::fs::ftruncate(&fd, 4096).unwrap();
        }
        let set = SegmentSet::create(&id, &small()).unwrap();
        assert!(set.reclaimed_stale());
        assert_eq!(on_disk(&id, "client_data"), Some(256 << 10));
    }

    #[test]
    fn too_large_fails_with_the_documented_message() {
        let id = unique_identity();
        let mut memory = small();
        memory.client_data_segment_size = Size::from_bytes(1 << 50);
        let err = SegmentSet::create(&id, &memory).unwrap_err().to_string();
        let name = id.segment_name("client_data");
        assert!(
            err.starts_with(&format!("Failed to allocate shared memory segment {name} (1024T): ")),
            "{err}"
        );
        assert!(err.ends_with("free in /dev/shm"), "{err}");
        for seg in SEGMENTS {
            assert_eq!(on_disk(&id, seg), None, "{seg} left behind after a failed start");
        }
    }
}
