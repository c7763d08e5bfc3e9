//! Block allocation: size classes of 4 KiB, 64 KiB, 256 KiB and 1 MiB
//! (rounded up to the device's alignment), larger requests as several 1 MiB
//! blocks. Space never handed out is taken from the top by a bump pointer;
//! freed blocks go to per-class free lists and are reused first.
//!
//! Workers allocate in parallel: free lists and the live-block table are
//! split into shards (by thread and by offset), each behind its own short
//! lock, so no single lock sits on the hot path.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chimod_sdk::Size;

use chimaera_bdev_api::Block;

/// The size classes before alignment.
pub const CLASSES: [u64; 4] = [4 << 10, 64 << 10, 256 << 10, 1 << 20];
const SHARDS: usize = 16;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

thread_local! {
    static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The calling thread's free-list shard.
fn my_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    SHARD.with(|s| {
        if s.get() == usize::MAX {
            s.set(NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS);
        }
        s.get()
    })
}

/// Everything an allocator knows, handed to the next version of the
/// module by a live upgrade so that blocks clients hold stay theirs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AllocatorState {
    /// The bump pointer: space at and above it was never handed out.
    pub bump: u64,
    /// Free blocks by size class.
    pub free: [Vec<u64>; 4],
    /// Live blocks: offset and size.
    pub live: Vec<(u64, u64)>,
}

/// One device's blocks.
#[derive(Debug)]
pub struct BlockAllocator {
    capacity: u64,
    sizes: [u64; 4],
    bump: AtomicU64,
    free: [[Mutex<Vec<u64>>; SHARDS]; 4],
    live: [Mutex<HashMap<u64, u64>>; SHARDS],
    used: AtomicU64,
    blocks_live: AtomicU64,
}

impl BlockAllocator {
    /// An allocator for `capacity` bytes with blocks aligned to `alignment`.
    pub fn new(capacity: u64, alignment: u64) -> BlockAllocator {
        BlockAllocator {
            capacity,
            sizes: CLASSES.map(|c| c.next_multiple_of(alignment)),
            bump: AtomicU64::new(0),
            free: Default::default(),
            live: Default::default(),
            used: AtomicU64::new(0),
            blocks_live: AtomicU64::new(0),
        }
    }

    /// What it knows now (consistent when no task runs on the device: a
    /// live upgrade takes it after the drain).
    pub fn snapshot(&self) -> AllocatorState {
        let free = std::array::from_fn(|class| {
            let mut offsets: Vec<u64> = self.free[class].iter().flat_map(|s| lock(s).clone()).collect();
            offsets.sort_unstable();
            offsets
        });
        let mut live: Vec<(u64, u64)> = self
            .live
            .iter()
            .flat_map(|s| lock(s).iter().map(|(o, s)| (*o, *s)).collect::<Vec<_>>())
            .collect();
        live.sort_unstable();
        AllocatorState { bump: self.bump.load(Ordering::Relaxed), free, live }
    }

    /// An allocator that continues from `state`, checked against this
    /// device's capacity and block sizes (an error names what does not fit).
    pub fn restore(capacity: u64, alignment: u64, state: &AllocatorState) -> Result<BlockAllocator, String> {
        let a = BlockAllocator::new(capacity, alignment);
        if state.bump > capacity {
            return Err(format!("handed-over bump pointer {} is past the capacity {capacity}", state.bump));
        }
        for (class, offsets) in state.free.iter().enumerate() {
            let size = a.sizes[class];
            if let Some(bad) = offsets.iter().find(|o| o.checked_add(size).is_none_or(|end| end > state.bump))
            {
                return Err(format!(
                    "handed-over free block at {bad} of {size} bytes is outside the used space"
                ));
            }
            lock(&a.free[class][0]).extend_from_slice(offsets);
        }
        for &(offset, size) in &state.live {
            if !a.is_block_size(size) || offset.checked_add(size).is_none_or(|end| end > state.bump) {
                return Err(format!(
                    "handed-over live block at {offset} of {size} bytes is not a block of this device"
                ));
            }
            lock(&a.live[a.live_shard(offset)]).insert(offset, size);
            a.used.fetch_add(size, Ordering::Relaxed);
            a.blocks_live.fetch_add(1, Ordering::Relaxed);
        }
        a.bump.store(state.bump, Ordering::Relaxed);
        Ok(a)
    }

    /// Bytes not in live blocks.
    pub fn remaining(&self) -> u64 {
        self.capacity - self.used.load(Ordering::Relaxed)
    }

    /// Blocks allocated and not freed.
    pub fn blocks_live(&self) -> u64 {
        self.blocks_live.load(Ordering::Relaxed)
    }

    /// Whether `size` is one of this device's block sizes.
    pub fn is_block_size(&self, size: u64) -> bool {
        self.sizes.contains(&size)
    }

    /// Blocks for `size` bytes.
    pub fn allocate(&self, size: u64) -> Result<Vec<Block>, String> {
        if size == 0 {
            return Err("cannot allocate 0 bytes".to_owned());
        }
        let largest = self.sizes.len() - 1;
        let (class, count) = match self.sizes.iter().position(|s| *s >= size) {
            Some(class) => (class, 1),
            None => (largest, size.div_ceil(self.sizes[largest])),
        };
        let mut blocks = Vec::with_capacity(count as usize);
        for _ in 0..count {
            match self.allocate_one(class) {
                Some(block) => blocks.push(block),
                None => {
                    let remaining = self.remaining();
                    for b in blocks {
                        self.release(b);
                    }
                    let hint = if remaining >= size { " (fragmented into smaller blocks)" } else { "" };
                    return Err(format!(
                        "out of space: asked for {size} bytes, {} left of {}{hint}",
                        Size::from_bytes(remaining),
                        Size::from_bytes(self.capacity)
                    ));
                }
            }
        }
        Ok(blocks)
    }

    fn allocate_one(&self, class: usize) -> Option<Block> {
        let size = self.sizes[class];
        let shard = my_shard();
        // One lock at a time: each guard is dropped before the next try.
        let mine = lock(&self.free[class][shard]).pop();
        let offset = mine
            .or_else(|| self.bump(size))
            .or_else(|| (0..SHARDS).find_map(|s| lock(&self.free[class][s]).pop()))
            .or_else(|| self.split_larger(class, shard))?;
        let block = Block { offset, size };
        lock(&self.live[self.live_shard(offset)]).insert(offset, size);
        self.used.fetch_add(size, Ordering::Relaxed);
        self.blocks_live.fetch_add(1, Ordering::Relaxed);
        Some(block)
    }

    fn bump(&self, size: u64) -> Option<u64> {
        self.bump
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |top| {
                top.checked_add(size).filter(|end| *end <= self.capacity)
            })
            .ok()
    }

    /// Takes a free block of a larger class, keeps its first piece and
    /// puts the rest on this class's list.
    fn split_larger(&self, class: usize, shard: usize) -> Option<u64> {
        let size = self.sizes[class];
        for larger in class + 1..self.sizes.len() {
            let Some(big) = (0..SHARDS).find_map(|s| lock(&self.free[larger][s]).pop()) else { continue };
            let pieces = self.sizes[larger] / size;
            lock(&self.free[class][shard]).extend((1..pieces).map(|i| big + i * size));
            return Some(big);
        }
        None
    }

    fn live_shard(&self, offset: u64) -> usize {
        ((offset / self.sizes[0]) as usize).wrapping_mul(0x9e37_79b9) % SHARDS
    }

    /// Frees blocks. Blocks that are not live blocks of this device (freed
    /// twice, or never allocated here) are refused, each named; the others
    /// are freed.
    pub fn free(&self, blocks: &[Block]) -> Result<(), String> {
        let mut refused = Vec::new();
        for b in blocks {
            let mut live = lock(&self.live[self.live_shard(b.offset)]);
            match live.get(&b.offset) {
                Some(size) if *size == b.size => {
                    live.remove(&b.offset);
                    drop(live);
                    self.release(*b);
                }
                Some(size) => refused.push(format!(
                    "block at {} is {size} bytes, not {} (not a block this device handed out)",
                    b.offset, b.size
                )),
                None => refused.push(format!(
                    "block at {} of {} bytes is not allocated (freed twice, or not from this device)",
                    b.offset, b.size
                )),
            }
        }
        if refused.is_empty() { Ok(()) } else { Err(refused.join("; ")) }
    }

    /// Returns a block that is no longer in the live table to its free list.
    fn release(&self, block: Block) {
        if let Some(class) = self.sizes.iter().position(|s| *s == block.size) {
            lock(&self.live[self.live_shard(block.offset)]).remove(&block.offset);
            lock(&self.free[class][my_shard()]).push(block.offset);
            self.used.fetch_sub(block.size, Ordering::Relaxed);
            self.blocks_live.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_restored_allocator_keeps_every_live_block_and_reuses_the_free_ones() {
        let a = BlockAllocator::new(8 << 20, 4096);
        let kept = a.allocate(64 << 10).unwrap();
        let freed = a.allocate(4096).unwrap();
        a.free(&freed).unwrap();
        let state = a.snapshot();
        let b = BlockAllocator::restore(8 << 20, 4096, &state).unwrap();
        assert_eq!(b.snapshot(), state);
        assert_eq!((b.remaining(), b.blocks_live()), (a.remaining(), a.blocks_live()));
        assert!(b.free(&freed).is_err(), "a block freed before is not live after the hand-over");
        // Everything else is handed out once, the freed block included
        // (whichever shard it sits in), and never inside the kept block.
        let mut handed = Vec::new();
        while let Ok(blocks) = b.allocate(4096) {
            handed.extend(blocks);
        }
        assert!(handed.iter().all(|h| h.offset >= kept[0].offset + kept[0].size), "inside a live block");
        assert!(handed.contains(&freed[0]), "the freed block is reused");
        assert_eq!(handed.len() as u64, ((8 << 20) - (64 << 10)) / 4096);
        assert!(b.free(&kept).is_ok(), "a block handed out before is still live");
        let past = AllocatorState { bump: 9 << 20, ..state.clone() };
        assert!(BlockAllocator::restore(8 << 20, 4096, &past).unwrap_err().contains("past the capacity"));
        let odd = AllocatorState { live: vec![(0, 5000)], ..state };
        assert!(BlockAllocator::restore(8 << 20, 4096, &odd).unwrap_err().contains("not a block"));
    }

    fn no_overlap(blocks: &[Block]) {
        let mut by_offset: BTreeMap<u64, u64> = BTreeMap::new();
        for b in blocks {
            assert!(by_offset.insert(b.offset, b.size).is_none(), "two blocks at {}", b.offset);
        }
        let mut end = 0;
        for (offset, size) in by_offset {
            assert!(offset >= end, "overlap at {offset}");
            end = offset + size;
        }
    }

    #[test]
    fn classes_and_large_requests() {
        let a = BlockAllocator::new(64 << 20, 4096);
        assert_eq!(a.allocate(1).unwrap()[0].size, 4096);
        assert_eq!(a.allocate(4097).unwrap()[0].size, 64 << 10);
        assert_eq!(a.allocate(200 << 10).unwrap()[0].size, 256 << 10);
        assert_eq!(a.allocate(1 << 20).unwrap()[0].size, 1 << 20);
        let big = a.allocate((3 << 20) + 1).unwrap();
        assert_eq!(big.len(), 4);
        assert!(big.iter().all(|b| b.size == 1 << 20 && b.offset % 4096 == 0));
        assert!(a.allocate(0).is_err());
    }

    #[test]
    fn alignment_rounds_classes_up() {
        let a = BlockAllocator::new(64 << 20, 128 << 10);
        let b = a.allocate(10).unwrap()[0];
        assert_eq!((b.size, b.offset % (128 << 10)), (128 << 10, 0));
    }

    #[test]
    fn full_then_error_then_reuse() {
        let a = BlockAllocator::new(1 << 20, 4096);
        let mut held = Vec::new();
        let err = loop {
            match a.allocate(64 << 10) {
                Ok(b) => held.extend(b),
                Err(e) => break e,
            }
        };
        assert_eq!(held.len(), 16);
        assert_eq!(err, "out of space: asked for 65536 bytes, 0 left of 1M");
        no_overlap(&held);
        let one = held.pop().unwrap();
        a.free(&[one]).unwrap();
        assert_eq!(a.remaining(), 64 << 10);
        assert_eq!(a.allocate(64 << 10).unwrap(), vec![one], "freed space is reused");
        // A 64K block split for small ones once nothing else is left.
        a.free(&[one]).unwrap();
        let small: Vec<Block> = (0..16).flat_map(|_| a.allocate(4096).unwrap()).collect();
        held.extend(small);
        no_overlap(&held);
        assert!(a.allocate(4096).is_err());
    }

    #[test]
    fn double_free_and_foreign_blocks_are_refused() {
        let a = BlockAllocator::new(1 << 20, 4096);
        let b = a.allocate(4096).unwrap()[0];
        a.free(&[b]).unwrap();
        assert!(a.free(&[b]).unwrap_err().contains("freed twice"));
        let c = a.allocate(4096).unwrap()[0];
        let foreign = Block { offset: c.offset, size: 64 << 10 };
        assert!(a.free(&[foreign]).unwrap_err().contains("not a block this device handed out"));
        assert!(a.free(&[Block { offset: 999 << 12, size: 4096 }]).is_err());
        assert_eq!(a.blocks_live(), 1);
    }

    #[test]
    fn many_threads_never_overlap() {
        let a = std::sync::Arc::new(BlockAllocator::new(64 << 30, 4096));
        let all: Vec<Block> = (0..8)
            .map(|t| {
                let a = a.clone();
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    for i in 0..2000u64 {
                        let size = [4096, 60 << 10, 200 << 10, 1 << 20][((i + t) % 4) as usize];
                        mine.extend(a.allocate(size).unwrap());
                        if i % 3 == 0 {
                            let b = mine.swap_remove((i as usize * 7) % mine.len());
                            a.free(&[b]).unwrap();
                        }
                    }
                    mine
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        no_overlap(&all);
        assert_eq!(a.blocks_live(), all.len() as u64);
    }
}
