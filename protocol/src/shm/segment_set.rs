//! The runtime's three segments and the lock that owns their names.
//!
//! Every name of an identity is made and removed only by the process that
//! holds the identity's lock file, `<identity>_lock`, for its whole life.
//! Holding it, a starting runtime checks whatever stands under its names
//! (see `leftover.rs`), removes the leftovers of a runtime that died, and
//! creates every segment anew: it never reuses a file a client may still
//! have mapped, so a client of a dead runtime can never reach the memory
//! of the next one. `main` is built under another name, sized, locked and
//! only then renamed into place, so a client that finds `main` finds it
//! whole, and finds it locked exactly while the runtime that made it lives.

use std::fs::File;

use rustix::fs::Mode;
use rustix::fs::OFlags;
use rustix::io::Errno;

use super::leftover::{check_leftover, check_stat};
use super::lock::{is_locked, try_lock_exclusive};
use super::path::{self, shm_path};
use super::{Segment, ShmError, ShmIdentity};
use chimaera_config::MemoryConfig;

/// Names of the segments after the identity, in creation order.
pub const SEGMENTS: [&str; 3] = ["main", "client_data", "runtime_data"];
/// The identity's lock file, held by the runtime process for its life.
pub const LOCK: &str = "lock";
/// What `main` is called until it is complete.
const MAIN_UNPUBLISHED: &str = "main.new";

/// Every name a runtime of an identity may leave in `/dev/shm`.
pub fn all_names(identity: &ShmIdentity) -> impl Iterator<Item = String> + '_ {
    SEGMENTS.iter().chain([&MAIN_UNPUBLISHED, &LOCK]).map(|seg| identity.segment_name(seg))
}

/// The runtime's segments. Dropping the set unlinks all three, then the lock.
#[derive(Debug)]
pub struct SegmentSet {
    identity: ShmIdentity,
    // Field order is drop order: data segments go first, then `main`
    // (whose lock tells clients this incarnation lives), then the lock
    // file, so a new runtime can take the identity only once every name
    // is gone.
    client_data: Segment,
    runtime_data: Segment,
    main: Segment,
    _lock: IdentityLock,
    reclaimed: bool,
}

impl SegmentSet {
    /// Creates and reserves all three segments for `identity`, reclaiming
    /// what a runtime of the same identity that died left behind.
    pub fn create(identity: &ShmIdentity, memory: &MemoryConfig) -> Result<SegmentSet, ShmError> {
        let uid = rustix::process::getuid().as_raw();
        let lock = IdentityLock::acquire(identity, uid, memory.shm_group)?;
        // Check everything before removing anything: a refusal changes nothing.
        let mut leftovers = Vec::new();
        for name in all_names(identity).filter(|n| *n != lock.name) {
            if check_leftover(&name, uid)? {
                leftovers.push(name);
            }
        }
        for name in &leftovers {
            rustix::shm::unlink(name.as_str()).map_err(ShmError::io(name, "remove the leftover"))?;
        }
        let main_name = identity.segment_name(SEGMENTS[0]);
        let mut main = Segment::create(&identity.segment_name(MAIN_UNPUBLISHED), memory.main_segment_size)
            .map_err(|e| e.for_segment(&main_name))?;
        let client_data =
            Segment::create(&identity.segment_name(SEGMENTS[1]), memory.client_data_segment_size)?;
        let runtime_data =
            Segment::create(&identity.segment_name(SEGMENTS[2]), memory.runtime_data_segment_size)?;
        if !try_lock_exclusive(main.file()).map_err(ShmError::io(main.name(), "lock"))? {
            return Err(ShmError::InUse { identity: identity.to_string(), name: main.name().to_owned() });
        }
        if let Some(gid) = memory.shm_group {
            for seg in [&main, &client_data, &runtime_data] {
                seg.share_with_group(gid)?;
            }
        }
        main.publish_as(&main_name)?;
        Ok(SegmentSet {
            identity: identity.clone(),
            client_data,
            runtime_data,
            main,
            _lock: lock,
            reclaimed: !leftovers.is_empty(),
        })
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

/// The identity's lock file, held open and locked; dropping it removes the
/// name while still holding the lock.
#[derive(Debug)]
struct IdentityLock {
    name: String,
    _file: File,
}

impl IdentityLock {
    fn acquire(identity: &ShmIdentity, uid: u32, group: Option<u32>) -> Result<IdentityLock, ShmError> {
        let name = identity.segment_name(LOCK);
        let in_use = || ShmError::InUse { identity: identity.to_string(), name: name.clone() };
        // A runtime stopping cleanly unlinks the lock file while holding
        // it; if we opened the old name just before that, our lock is on a
        // dead inode. Checking the name still leads to our inode closes it.
        for _ in 0..8 {
            let file = open_lock_file(&name, uid)?;
            if !try_lock_exclusive(&file).map_err(ShmError::io(&name, "lock"))? {
                return Err(in_use());
            }
            let held = rustix::fs::fstat(&file).map_err(ShmError::io(&name, "stat"))?;
            match rustix::fs::lstat(shm_path(&name).as_str()) {
                Ok(current) if current.st_ino == held.st_ino && current.st_dev == held.st_dev => {}
                _ => continue,
            }
            if let Some(gid) = group {
                // Clients of the group open it to see whether the runtime lives.
                rustix::fs::fchown(&file, None, Some(rustix::process::Gid::from_raw(gid)))
                    .map_err(ShmError::io(&name, "give to the group"))?;
                rustix::fs::fchmod(&file, Mode::from_raw_mode(0o660))
                    .map_err(ShmError::io(&name, "open to the group"))?;
            }
            return Ok(IdentityLock { name, _file: file });
        }
        Err(in_use())
    }
}

impl Drop for IdentityLock {
    fn drop(&mut self) {
        let _ = rustix::shm::unlink(self.name.as_str());
    }
}

/// Opens (creating if need be) the lock file, refusing anything but a
/// regular file of this user with the runtime's mode.
fn open_lock_file(name: &str, uid: u32) -> Result<File, ShmError> {
    let fd =
        path::open(name, OFlags::CREATE | OFlags::RDWR, Mode::RUSR | Mode::WUSR).map_err(|e| match e {
            // A link (ELOOP), or another user's file in sticky /dev/shm (EACCES
            // under fs.protected_regular): say what stands there.
            Errno::LOOP | Errno::ACCESS => {
                check_leftover(name, uid).err().unwrap_or_else(|| ShmError::io(name, "open")(e))
            }
            e => ShmError::io(name, "open")(e),
        })?;
    let file = File::from(fd);
    let stat = rustix::fs::fstat(&file).map_err(ShmError::io(name, "stat"))?;
    check_stat(&shm_path(name), &stat, uid, true)?;
    Ok(file)
}

/// Whether a runtime process owns `identity` now: it is starting, serving
/// or stopping (its lock file is locked). Takes no lock.
pub fn runtime_alive(identity: &ShmIdentity) -> bool {
    let name = identity.segment_name(LOCK);
    let Ok(fd) = path::open(&name, OFlags::RDONLY, Mode::empty()) else {
        return false;
    };
    is_locked(&fd).unwrap_or(false)
}

/// Whether the runtime that made this `main` segment still lives: the
/// lock is on the file itself, so a runtime started since, which made a
/// `main` of its own, does not count.
pub fn incarnation_alive(main: &Segment) -> bool {
    is_locked(main.file()).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU16, Ordering};

    use chimod_sdk::Size;

    use super::*;
    use crate::shm::SHM_DIR;

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
        std::fs::symlink_metadata(format!("{SHM_DIR}{}", identity.segment_name(seg))).ok().map(|m| m.len())
    }

    /// `main` as a client opens it (its own open file: the runtime's own
    /// descriptor never conflicts with its own lock).
    fn as_client(identity: &ShmIdentity) -> Segment {
        Segment::open(&identity.segment_name("main"), identity.uid()).unwrap()
    }

    fn plant(identity: &ShmIdentity, seg: &str, len: u64) {
        let fd =
            path::open(&identity.segment_name(seg), OFlags::CREATE | OFlags::RDWR, Mode::RUSR | Mode::WUSR)
                .unwrap();
        rustix::fs::ftruncate(&fd, len).unwrap();
    }

    #[test]
    fn creates_reserves_and_removes_every_name() {
        let id = unique_identity();
        let set = SegmentSet::create(&id, &small()).unwrap();
        assert_eq!(on_disk(&id, "main"), Some(1 << 20));
        assert_eq!(on_disk(&id, "client_data"), Some(256 << 10));
        assert_eq!(on_disk(&id, "runtime_data"), Some(128 << 10));
        assert_eq!(on_disk(&id, MAIN_UNPUBLISHED), None, "main is published under its own name");
        assert!(runtime_alive(&id));
        assert!(incarnation_alive(&as_client(&id)));
        assert!(!set.reclaimed_stale());
        let mode = std::fs::metadata(format!("{SHM_DIR}{}", id.segment_name("main"))).unwrap();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777, 0o600);
        drop(set);
        for name in all_names(&id) {
            assert!(std::fs::symlink_metadata(format!("{SHM_DIR}{name}")).is_err(), "{name} left behind");
        }
        assert!(!runtime_alive(&id));
    }

    #[test]
    fn a_live_identity_is_refused_and_left_untouched() {
        let id = unique_identity();
        let first = SegmentSet::create(&id, &small()).unwrap();
        let err = SegmentSet::create(&id, &small()).unwrap_err();
        assert!(matches!(err, ShmError::InUse { .. }), "{err}");
        assert_eq!(
            on_disk(&id, "client_data"),
            Some(256 << 10),
            "the refused start must not touch the live runtime"
        );
        assert!(incarnation_alive(&as_client(&id)));
        drop(first);
    }

    #[test]
    fn a_dead_runtime_s_segments_are_replaced_not_reused() {
        let id = unique_identity();
        // What a runtime killed with SIGKILL leaves: named, sized, unlocked.
        for seg in SEGMENTS.iter().chain([&LOCK, &MAIN_UNPUBLISHED]) {
            plant(&id, seg, 4096);
        }
        let old_main = Segment::open(&id.segment_name("main"), id.uid()).unwrap();
        assert!(!incarnation_alive(&old_main));
        let set = SegmentSet::create(&id, &small()).unwrap();
        assert!(set.reclaimed_stale());
        assert_eq!(on_disk(&id, "client_data"), Some(256 << 10));
        assert_eq!(on_disk(&id, MAIN_UNPUBLISHED), None);
        // A client still holding the old file sees its runtime dead, not the new one alive.
        assert!(!incarnation_alive(&old_main), "the new runtime must not lock the dead one's file");
        assert_eq!(old_main.len(), 4096, "nor resize it");
        assert!(incarnation_alive(&as_client(&id)));
        drop(set);
    }

    #[test]
    fn a_symbolic_link_under_a_name_is_refused_and_not_followed() {
        let id = unique_identity();
        let victim = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(victim.path(), b"precious").unwrap();
        let link = format!("{SHM_DIR}{}", id.segment_name("runtime_data"));
        std::os::unix::fs::symlink(victim.path(), &link).unwrap();
        let err = SegmentSet::create(&id, &small()).unwrap_err().to_string();
        std::fs::remove_file(&link).unwrap();
        assert!(err.starts_with(&format!("refusing {link}: it is a symbolic link owned by uid ")), "{err}");
        assert_eq!(std::fs::read(victim.path()).unwrap(), b"precious");
        for name in all_names(&id) {
            assert!(
                std::fs::symlink_metadata(format!("{SHM_DIR}{name}")).is_err(),
                "{name} left after a refusal"
            );
        }
    }

    #[test]
    fn a_file_of_another_mode_is_refused() {
        let id = unique_identity();
        plant(&id, "main", 0);
        let path = format!("{SHM_DIR}{}", id.segment_name("main"));
        rustix::fs::chmod(path.as_str(), Mode::from_raw_mode(0o666)).unwrap();
        let err = SegmentSet::create(&id, &small()).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(err.starts_with(&format!("refusing {path}: it is mode 0666")), "{err}");
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
        for name in all_names(&id) {
            assert!(
                std::fs::symlink_metadata(format!("{SHM_DIR}{name}")).is_err(),
                "{name} left after a failed start"
            );
        }
    }
}
