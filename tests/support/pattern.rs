//! The data the block device tests write and check: a different byte
//! sequence for every seed, so a block read back from the wrong place or
//! left over from an earlier write does not pass.

/// `len` bytes of the pattern of `seed`.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u64).wrapping_mul(31).wrapping_add(seed.wrapping_mul(7919)) % 251) as u8)
        .collect()
}
