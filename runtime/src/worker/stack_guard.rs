//! A task that overflows its fiber's stack hits the guard page below it.
//! That cannot be turned into a task error (the module's state on the lost
//! stack, locks included, would be left half-changed), so the runtime stops,
//! but first says what happened and which setting to raise. This module is
//! the SIGSEGV/SIGBUS handler that recognises such a fault and writes that
//! message; any other fault goes to the handler that was there before (Rust's
//! own, which reports thread stack overflows).

use std::cell::Cell;
use std::sync::OnceLock;

thread_local! {
    /// The guard page of the fiber running on this thread: [low, high).
    static GUARD: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// The task running on this thread: pool major, minor, method.
    static TASK: Cell<(u32, u32, u32)> = const { Cell::new((0, 0, 0)) };
}

struct Installed {
    stack_size: usize,
    previous: [libc::sigaction; 2],
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();
const SIGNALS: [libc::c_int; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// Installs the handler once per process.
pub(super) fn install(stack_size: usize) {
    INSTALLED.get_or_init(|| {
        // SAFETY: zeroed sigaction structs are valid "no handler" values;
        // sigaction only reads `action` and writes `previous`.
        unsafe {
            let mut previous: [libc::sigaction; 2] = std::mem::zeroed();
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            for (i, sig) in SIGNALS.iter().enumerate() {
                libc::sigaction(*sig, &action, &mut previous[i]);
            }
            Installed { stack_size, previous }
        }
    });
}

/// Bytes of the alternate signal stack the handler runs on.
const ALT_STACK: usize = 64 << 10;

/// Gives this thread an alternate signal stack if it has none: the handler
/// cannot run on the stack that just overflowed. Worker threads call this
/// once; the stack lives as long as the process (threads are few).
pub(super) fn prepare_thread() {
    // SAFETY: sigaltstack with a null new stack only reads the current one;
    // the new stack is a leaked allocation, valid for the process's life.
    unsafe {
        let mut current: libc::stack_t = std::mem::zeroed();
        if libc::sigaltstack(std::ptr::null(), &mut current) != 0 || current.ss_flags & libc::SS_DISABLE == 0
        {
            return;
        }
        let memory = Box::leak(vec![0u8; ALT_STACK].into_boxed_slice());
        let stack = libc::stack_t { ss_sp: memory.as_mut_ptr().cast(), ss_flags: 0, ss_size: memory.len() };
        libc::sigaltstack(&stack, std::ptr::null_mut());
    }
}

/// A fiber with this guard page runs on this thread from now on.
pub(super) fn enter(guard: (usize, usize)) {
    GUARD.set(guard);
}

/// No fiber runs on this thread.
pub(super) fn leave() {
    GUARD.set((0, 0));
}

/// The task this thread is running, named in the overflow message.
pub(super) fn set_task(pool_major: u32, pool_minor: u32, method: u32) {
    TASK.set((pool_major, pool_minor, method));
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let Some(installed) = INSTALLED.get() else { return };
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let address = unsafe { (*info).si_addr() } as usize;
    let (low, high) = GUARD.get();
    if address >= low && address < high {
        report_overflow(installed.stack_size);
    }
    let previous = &installed.previous[if sig == libc::SIGSEGV { 0 } else { 1 }];
    // SAFETY: restoring or calling the handler that was installed before
    // ours, with the arguments the kernel gave us.
    unsafe {
        if previous.sa_sigaction == libc::SIG_DFL || previous.sa_sigaction == libc::SIG_IGN {
            // Return with the default action back: the fault repeats and
            // ends the process with the signal.
            libc::signal(sig, libc::SIG_DFL);
        } else if previous.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(previous.sa_sigaction);
            f(sig, info, context);
        } else {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(previous.sa_sigaction);
            f(sig);
        }
    }
}

/// Writes the message with async-signal-safe calls only.
fn report_overflow(stack_size: usize) {
    let (major, minor, method) = TASK.get();
    let mut buf = [0u8; 512];
    let mut at = 0;
    let mut put = |bytes: &[u8]| {
        let n = bytes.len().min(buf.len() - at);
        buf[at..at + n].copy_from_slice(&bytes[..n]);
        at += n;
    };
    put(b"chimaera: FATAL: a task (pool ");
    put(decimal(u64::from(major)).as_bytes_trimmed());
    put(b".");
    put(decimal(u64::from(minor)).as_bytes_trimmed());
    put(b", method ");
    put(decimal(u64::from(method)).as_bytes_trimmed());
    put(b") overflowed its stack of ");
    put(decimal(stack_size as u64).as_bytes_trimmed());
    put(b" bytes; raise runtime.stack_size in the configuration. The runtime stops.\n");
    // SAFETY: write(2) on stderr with a valid buffer is async-signal-safe.
    unsafe { libc::write(2, buf.as_ptr().cast(), at) };
}

/// A number in decimal, without allocating.
struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    fn as_bytes_trimmed(&self) -> &[u8] {
        &self.digits[self.start..]
    }
}

fn decimal(mut n: u64) -> Decimal {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return Decimal { digits, start };
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_digits() {
        assert_eq!(super::decimal(0).as_bytes_trimmed(), b"0");
        assert_eq!(super::decimal(65536).as_bytes_trimmed(), b"65536");
        assert_eq!(super::decimal(u64::MAX).as_bytes_trimmed(), b"18446744073709551615");
    }
}
