//! A mutex in shared memory that survives its holder's death: a POSIX
//! robust, process-shared mutex. When a process dies holding it, the next
//! locker is told so (`EOWNERDEAD`), repairs what the lock protects, and
//! marks the mutex consistent again.

use std::cell::UnsafeCell;

/// The mutex, placed inside a shared segment.
#[repr(C)]
pub struct ShmMutex {
    raw: UnsafeCell<libc::pthread_mutex_t>,
}

impl std::fmt::Debug for ShmMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShmMutex")
    }
}

/// Why the mutex could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shared memory lock unusable ({0})")]
pub struct LockError(String);

/// The mutex, held. Unlocks on drop.
#[derive(Debug)]
pub struct ShmGuard<'m> {
    mutex: &'m ShmMutex,
}

impl ShmMutex {
    /// Initialises the mutex in place. Runtime only, before any client
    /// can see the segment.
    ///
    /// # Safety
    /// Nobody else may use the mutex during or before this call.
    pub unsafe fn init(&self) -> Result<(), LockError> {
        // SAFETY: the attribute object is initialised before use and
        // destroyed after; the mutex memory is ours alone (caller's promise).
        unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            check(libc::pthread_mutexattr_init(&mut attr), "mutexattr_init")?;
            check(libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED), "setpshared")?;
            check(libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST), "setrobust")?;
            let result = check(libc::pthread_mutex_init(self.raw.get(), &attr), "mutex_init");
            libc::pthread_mutexattr_destroy(&mut attr);
            result
        }
    }

    /// Takes the mutex. `repair` runs, holding it, when its previous holder
    /// died: it must make the protected state consistent again.
    pub fn lock(&self, repair: impl FnOnce()) -> Result<ShmGuard<'_>, LockError> {
        // SAFETY: the mutex was initialised by the runtime before the
        // segment was published; pthread calls synchronise access.
        match unsafe { libc::pthread_mutex_lock(self.raw.get()) } {
            0 => Ok(ShmGuard { mutex: self }),
            libc::EOWNERDEAD => {
                repair();
                // SAFETY: we hold the mutex (EOWNERDEAD grants it).
                check(unsafe { libc::pthread_mutex_consistent(self.raw.get()) }, "mutex_consistent")?;
                Ok(ShmGuard { mutex: self })
            }
            code => Err(LockError(std::io::Error::from_raw_os_error(code).to_string())),
        }
    }
}

impl Drop for ShmGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: this guard holds the mutex.
        unsafe { libc::pthread_mutex_unlock(self.mutex.raw.get()) };
    }
}

fn check(code: libc::c_int, what: &str) -> Result<(), LockError> {
    if code == 0 {
        Ok(())
    } else {
        Err(LockError(format!("{what}: {}", std::io::Error::from_raw_os_error(code))))
    }
}
