//! Spinner tokens: how many idle workers may spin at once.
//!
//! A spinning worker holds a core. When spinning workers outnumber the cores
//! nobody else needs, they take the cores from the very threads whose tasks
//! they wait for (the clients, the network threads, each other). So an idle
//! worker spins only while it holds a token; without one it sleeps on its
//! doorbell at once. There is one token per core less one (the one left for
//! a client), and never fewer than one: on two cores, one worker spins.
//!
//! Clients send fast tasks to lanes whose workers are awake
//! (`client::lane_choice`), so the token holder serves them all while load
//! is low, and the workers that sleep cost nothing.

use std::sync::atomic::{AtomicU32, Ordering};

/// The tokens of one runtime's workers.
#[derive(Debug)]
pub(crate) struct SpinTokens {
    free: AtomicU32,
}

impl SpinTokens {
    /// Tokens for a machine (or CPU set) of `cores` cores.
    pub(crate) fn for_cores(cores: usize) -> SpinTokens {
        let tokens = u32::try_from(cores.saturating_sub(1)).unwrap_or(u32::MAX).max(1);
        SpinTokens { free: AtomicU32::new(tokens) }
    }

    /// Tokens for the cores this process may run on.
    pub(crate) fn for_this_machine() -> SpinTokens {
        SpinTokens::for_cores(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Takes a token if one is free.
    pub(crate) fn take(&self) -> bool {
        self.free.fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok()
    }

    /// Gives a token back.
    pub(crate) fn give_back(&self) {
        self.free.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_token_per_core_but_one_and_never_none() {
        for (cores, tokens) in [(1, 1), (2, 1), (3, 2), (16, 15)] {
            let t = SpinTokens::for_cores(cores);
            let taken = (0..100).take_while(|_| t.take()).count();
            assert_eq!(taken, tokens, "{cores} cores");
            t.give_back();
            assert!(t.take(), "a token given back can be taken again");
            assert!(!t.take());
        }
    }
}
