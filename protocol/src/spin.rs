//! How a thread that expects work within microseconds waits for it: it
//! spins, and when it waits on a single task (a caller doing one call at a
//! time) it spins longer and hands its core to whoever else wants it every
//! 5 µs.
//!
//! Why longer for a single task: a caller doing one call at a time sends
//! its next task one round trip after the last. A worker or client that
//! has gone to sleep by then must be woken, and on a VM waking a thread
//! whose virtual CPU has halted costs tens of microseconds per hand-off
//! (50 µs on the two-core VM of docs/benchmarks.md, where a remote call
//! crosses five threads). Spinning through the round trip keeps the
//! threads awake, so the call costs what the network costs.
//!
//! Why yield: a spinning thread holds its core, and a runtime thread woken
//! onto that core (the network thread carrying the call, say) would wait
//! until the spinner sleeps or its slice ends. A yield every few
//! microseconds lets the woken thread in at once. A thread with a batch of
//! work does not yield: under EEVDF a yield gives up the rest of the
//! thread's slice, and a pipelining client or a worker draining a batch
//! that gives up its slice is late with its next tasks.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// This thread's CPU, plus one (0 is "unknown"); glibc reads it from the
/// vDSO in a few nanoseconds.
pub fn current_cpu() -> u32 {
    // SAFETY: no arguments, no memory touched.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).map_or(0, |c| c + 1)
}

/// The two sides of a hand-off, as each sees the other: where this thread
/// runs (`mine`, which it stamps while it waits) and where the thread that
/// must answer last waited (`theirs`). Both are words of a lane in shared
/// memory: a worker and the clients of its lane.
#[derive(Debug, Clone, Copy)]
pub struct Peer<'a> {
    mine: &'a AtomicU32,
    theirs: &'a AtomicU32,
}

impl<'a> Peer<'a> {
    /// The hand-off between `mine` and `theirs`.
    pub fn new(mine: &'a AtomicU32, theirs: &'a AtomicU32) -> Peer<'a> {
        Peer { mine, theirs }
    }

    /// Stamps this thread's CPU (writing only when it changed: the other
    /// side reads the word on every round of its own wait).
    pub fn stamp(&self) -> u32 {
        let cpu = current_cpu();
        if self.mine.load(Ordering::Relaxed) != cpu {
            self.mine.store(cpu, Ordering::Relaxed);
        }
        cpu
    }

    /// Whether the other side last waited on the CPU this thread holds:
    /// then it cannot run until this thread gives the CPU up, and spinning
    /// only delays it.
    pub fn waits_for_my_cpu(&self) -> bool {
        let cpu = self.stamp();
        cpu != 0 && self.theirs.load(Ordering::Relaxed) == cpu
    }
}

/// How often a single-task waiter yields.
const YIELD_EVERY: Duration = Duration::from_micros(5);

/// How long a single-task waiter spins before it sleeps: longer than a
/// remote round trip on a slow VM (about 300 µs with two nodes on two
/// cores), short enough that an idle runtime is soon idle.
pub const SINGLE_TASK_SPIN: Duration = Duration::from_micros(500);

/// One wait's spin state.
#[derive(Debug)]
pub struct Spinner {
    next_yield: Option<Duration>,
}

impl Spinner {
    /// The spin of a wait; `single` when it waits on a single task (the
    /// only one a client has in flight, or the only one a worker's last
    /// busy period ran).
    pub fn new(single: bool) -> Spinner {
        Spinner { next_yield: single.then_some(YIELD_EVERY) }
    }

    /// Whether this is the wait on a single task.
    pub fn single(&self) -> bool {
        self.next_yield.is_some()
    }

    /// How long this wait spins before it sleeps, given the plain spin of
    /// its kind; a plain spin of zero (spinning turned off) stays zero.
    pub fn budget(&self, plain: Duration) -> Duration {
        match self.next_yield {
            Some(_) if !plain.is_zero() => plain.max(SINGLE_TASK_SPIN),
            _ => plain,
        }
    }

    /// One round of waiting, `waited` into the wait, for `peer` to answer.
    pub fn pause(&mut self, waited: Duration, peer: Peer<'_>) {
        if peer.waits_for_my_cpu() {
            std::thread::yield_now();
            return;
        }
        match self.next_yield {
            Some(at) if waited >= at => {
                self.next_yield = Some(waited + YIELD_EVERY);
                std::thread::yield_now();
            }
            _ => std::hint::spin_loop(),
        }
    }
}

/// The shortest spin a learnt budget shrinks to: a few rounds of a busy
/// caller's loop still find their next task without a sleep.
const LEARNT_FLOOR: Duration = Duration::from_micros(5);

/// A spin budget learnt from what recent waits found. A spin pays when work
/// comes before it ends (it saves a sleep and a wake-up); when work keeps
/// coming later than the longest allowed spin, spinning buys nothing and
/// only takes a core from whoever else wants it, so the budget halves, down
/// to `LEARNT_FLOOR`. Work that came soon after a spin gave up makes the
/// next spin long enough to catch it (twice the gap, up to the ceiling).
#[derive(Debug, Clone, Copy)]
pub struct SpinBudget {
    now: Duration,
}

impl Default for SpinBudget {
    fn default() -> Self {
        Self::new()
    }
}

impl SpinBudget {
    /// A budget that starts at its ceiling.
    pub const fn new() -> SpinBudget {
        SpinBudget { now: Duration::MAX }
    }

    /// The next spin, at most `ceiling`.
    pub fn get(&self, ceiling: Duration) -> Duration {
        self.now.min(ceiling)
    }

    /// A wait with spins of at most `ceiling` ended with work `gap` after
    /// it began.
    pub fn learn(&mut self, gap: Duration, ceiling: Duration) {
        let now = self.get(ceiling);
        self.now = if gap <= ceiling {
            now.max(gap.saturating_mul(2)).min(ceiling)
        } else {
            (now / 2).max(LEARNT_FLOOR.min(ceiling))
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_learnt_budget_shrinks_while_spins_cannot_pay_and_grows_back() {
        let ceiling = Duration::from_micros(500);
        let mut b = SpinBudget::new();
        assert_eq!(b.get(ceiling), ceiling);
        // Work keeps coming after 2 ms: spinning cannot catch it.
        for _ in 0..20 {
            b.learn(Duration::from_millis(2), ceiling);
        }
        assert_eq!(b.get(ceiling), LEARNT_FLOOR);
        // Work 40 us after the wait began: the next spin covers it twice.
        b.learn(Duration::from_micros(40), ceiling);
        assert_eq!(b.get(ceiling), Duration::from_micros(80));
        // Quick work keeps what was learnt; never above the ceiling.
        b.learn(Duration::from_micros(1), ceiling);
        assert_eq!(b.get(ceiling), Duration::from_micros(80));
        b.learn(Duration::from_micros(400), ceiling);
        assert_eq!(b.get(ceiling), ceiling);
        // A ceiling of zero (spinning off) stays zero.
        assert_eq!(b.get(Duration::ZERO), Duration::ZERO);
        b.learn(Duration::from_millis(2), Duration::ZERO);
        assert_eq!(b.get(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn a_single_task_wait_spins_longer_unless_spinning_is_off() {
        let plain = Duration::from_micros(50);
        assert_eq!(Spinner::new(false).budget(plain), plain);
        assert_eq!(Spinner::new(true).budget(plain), SINGLE_TASK_SPIN);
        assert_eq!(Spinner::new(true).budget(Duration::ZERO), Duration::ZERO);
        let long = Duration::from_millis(2);
        assert_eq!(Spinner::new(true).budget(long), long);
    }

    #[test]
    fn a_single_task_wait_yields_every_few_microseconds() {
        let (mine, elsewhere) = (AtomicU32::new(0), AtomicU32::new(0));
        let peer = Peer::new(&mine, &elsewhere);
        let mut s = Spinner::new(true);
        s.pause(Duration::from_micros(1), peer);
        assert_eq!(s.next_yield, Some(YIELD_EVERY));
        s.pause(Duration::from_micros(6), peer);
        assert_eq!(s.next_yield, Some(Duration::from_micros(11)));
        let mut batch = Spinner::new(false);
        batch.pause(Duration::from_micros(100), peer);
        assert_eq!(batch.next_yield, None);
    }

    #[test]
    fn a_peer_that_waits_for_this_cpu_is_seen_there_and_nowhere_else() {
        let any = current_cpu();
        assert_ne!(any, 0, "sched_getcpu works here");
        // Pinned, so that the thread cannot move between the reads.
        let seen = std::thread::spawn(move || {
            let mut set = rustix::thread::CpuSet::new();
            set.set((any - 1) as usize);
            rustix::thread::sched_setaffinity(None, &set).expect("pin to a CPU of this process");
            let (mine, theirs) = (AtomicU32::new(0), AtomicU32::new(0));
            let peer = Peer::new(&mine, &theirs);
            let never_seen = peer.waits_for_my_cpu();
            let stamped = mine.load(Ordering::Relaxed);
            theirs.store(any, Ordering::Relaxed);
            let here = peer.waits_for_my_cpu();
            theirs.store(any + 1, Ordering::Relaxed);
            (never_seen, stamped, here, peer.waits_for_my_cpu())
        });
        assert_eq!(seen.join().unwrap(), (false, any, true, false));
    }
}
