//! A buddy allocator over one data segment, shared by the runtime and every
//! client process.
//!
//! Layout, from the segment's start:
//!
//! ```text
//! [HeapHeader]   sizes, the free-list heads per order, the robust mutex
//! [entries]      one u64 per page: for the first page of a block, its state
//!                (free / in use), order (2^order pages) and owner pid
//! [links]        one (next, prev) pair per page: the free lists
//! [data]         pages of 4 KiB, so every block is 4096-aligned (O_DIRECT)
//! ```
//!
//! Every change happens under the mutex. The entries are the truth, the
//! free lists only an index over them, and each change writes entries in an
//! order that keeps a scan from page 0 (block by block) consistent after any
//! single store: a split writes the new upper half's entry before shrinking
//! the lower one; a free marks the block free before merging it. So when a
//! process dies holding the mutex, the next locker rebuilds the lists from a
//! scan and nothing is lost or handed out twice.
//!
//! Every index read from the segment is bounds-checked: a client that
//! scribbles over the metadata can spoil the allocator (the lists are then
//! rebuilt) but cannot make the runtime touch memory outside the segment.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use chimod_sdk::Size;
use chimod_sdk::bulk::{Bulk, BulkSegment};

use super::mutex::{LockError, ShmGuard, ShmMutex};

/// Bytes per page: the smallest block and every block's alignment.
pub const PAGE: u64 = 4096;
const MAGIC: u64 = u64::from_le_bytes(*b"CHIBULK1");
const NIL: u32 = u32::MAX;
const ORDERS: usize = 32;

const FREE: u64 = 1;
const USED: u64 = 2;

fn encode(state: u64, order: u32, owner: u32) -> u64 {
    (u64::from(owner) << 32) | (state << 8) | u64::from(order)
}
fn state_of(e: u64) -> u64 {
    (e >> 8) & 0xff
}
fn order_of(e: u64) -> u32 {
    (e & 0xff) as u32
}
fn owner_of(e: u64) -> u32 {
    (e >> 32) as u32
}

#[repr(C, align(64))]
struct HeapHeader {
    magic: AtomicU64,
    pages: AtomicU32,
    max_order: AtomicU32,
    entries_offset: AtomicU64,
    links_offset: AtomicU64,
    data_offset: AtomicU64,
    free_pages: AtomicU64,
    live_blocks: AtomicU64,
    heads: [AtomicU32; ORDERS],
    lock: ShmMutex,
}

/// What went wrong with a bulk buffer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BulkError {
    /// No free block is large enough.
    #[error(
        "the {segment} segment has no free block for {requested} bytes ({free} free in all, the largest free block {largest}); free buffers or raise memory.{segment}_segment_size"
    )]
    Full {
        /// The segment.
        segment: &'static str,
        /// Bytes asked for.
        requested: u64,
        /// Free bytes in all.
        free: Size,
        /// The largest free block.
        largest: Size,
    },
    /// Larger than the segment could ever hold in one block.
    #[error(
        "a bulk buffer of {requested} bytes is larger than the {segment} segment's largest block ({max})"
    )]
    TooLarge {
        /// The segment.
        segment: &'static str,
        /// Bytes asked for.
        requested: u64,
        /// The largest block there can be.
        max: Size,
    },
    /// A zero-length buffer.
    #[error("a bulk buffer needs at least 1 byte")]
    Empty,
    /// The range is not inside one live block.
    #[error("the {segment} segment has no live block holding bytes {offset}..{end}")]
    NotABlock {
        /// The segment.
        segment: &'static str,
        /// Start of the range.
        offset: u64,
        /// End of the range.
        end: u64,
    },
    /// Freeing something that is not the start of a live block.
    #[error("nothing to free at offset {offset} of the {segment} segment (freed twice, or never allocated)")]
    NotLive {
        /// The segment.
        segment: &'static str,
        /// The offset given.
        offset: u64,
    },
    /// Freeing another process's block.
    #[error("the block at offset {offset} of the {segment} segment belongs to process {owner}, not {caller}")]
    NotOwner {
        /// The segment.
        segment: &'static str,
        /// The offset given.
        offset: u64,
        /// Its owner.
        owner: u32,
        /// Who asked.
        caller: u32,
    },
    /// A `Bulk` of one segment given to the other.
    #[error("a {given} buffer was given where a {expected} buffer belongs")]
    WrongSegment {
        /// The buffer's segment.
        given: &'static str,
        /// The segment expected.
        expected: &'static str,
    },
    /// The segment does not hold a heap of this version, or is too small.
    #[error("the {segment} segment cannot hold bulk buffers: {why}")]
    Layout {
        /// The segment.
        segment: &'static str,
        /// Why.
        why: String,
    },
    /// The heap's mutex failed.
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// The allocator's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes of data pages in all.
    pub capacity: u64,
    /// Bytes free.
    pub free: u64,
    /// Blocks in use.
    pub live_blocks: u64,
}

/// A view of the heap in one mapped data segment. The geometry is kept in
/// the view (checked once), not re-read from shared memory on every use.
#[derive(Debug, Clone, Copy)]
pub struct BulkHeap {
    base: *mut u8,
    segment: BulkSegment,
    pages: u32,
    max_order: u32,
    entries: u64,
    links: u64,
    data: u64,
}

// SAFETY: all shared state is atomics or behind the process-shared mutex.
unsafe impl Send for BulkHeap {}
// SAFETY: as above.
unsafe impl Sync for BulkHeap {}

/// Offsets of the parts for a segment of `size` bytes: (pages, entries,
/// links, data).
fn layout(size: u64) -> Option<(u32, u64, u64, u64)> {
    let header = size_of::<HeapHeader>() as u64;
    let fits = |pages: u64| {
        let entries = header.next_multiple_of(64);
        let links = entries + pages * 8;
        let data = (links + pages * 8).next_multiple_of(PAGE);
        (data + pages * PAGE <= size).then_some((entries, links, data))
    };
    let mut pages = size.saturating_sub(header + PAGE) / (PAGE + 16);
    pages = pages.min(u64::from(NIL - 1));
    while pages > 0 {
        if let Some((e, l, d)) = fits(pages) {
            return Some((pages as u32, e, l, d));
        }
        pages -= 1;
    }
    None
}

impl BulkHeap {
    /// Lays a fresh heap over a segment: every page free.
    ///
    /// # Safety
    /// `base` must be a mapping of `size` bytes, aligned to a page, alive
    /// while any view is used, and not yet seen by any other process.
    pub unsafe fn init(base: *mut u8, size: u64, segment: BulkSegment) -> Result<BulkHeap, BulkError> {
        let (pages, entries, links, data) = layout(size).ok_or_else(|| BulkError::Layout {
            segment: segment.name(),
            why: format!("{size} bytes is too small for even one page"),
        })?;
        let max_order = (31 - pages.leading_zeros()).min(ORDERS as u32 - 1);
        let heap = BulkHeap { base, segment, pages, max_order, entries, links, data };
        let h = heap.header();
        h.pages.store(pages, Ordering::Relaxed);
        h.max_order.store(max_order, Ordering::Relaxed);
        h.entries_offset.store(entries, Ordering::Relaxed);
        h.links_offset.store(links, Ordering::Relaxed);
        h.data_offset.store(data, Ordering::Relaxed);
        // SAFETY: nobody else sees the segment yet (caller's promise).
        unsafe { h.lock.init()? };
        // Carve the pages into the largest aligned blocks that fit; the
        // scan in `rebuild` then finds them and builds the lists.
        let max = max_order;
        let mut i = 0u32;
        while i < pages {
            let mut k = max.min(i.trailing_zeros());
            while i as u64 + (1u64 << k) > u64::from(pages) {
                k -= 1;
            }
            heap.entry(i).store(encode(FREE, k, 0), Ordering::Relaxed);
            for interior in i + 1..i + (1 << k) {
                heap.entry(interior).store(0, Ordering::Relaxed);
            }
            i += 1 << k;
        }
        heap.rebuild();
        h.magic.store(MAGIC, Ordering::Release);
        Ok(heap)
    }

    /// A view of the heap a runtime laid over this segment.
    ///
    /// # Safety
    /// `base` must be a mapping of `size` bytes, alive while the view is used.
    pub unsafe fn attach(base: *mut u8, size: u64, segment: BulkSegment) -> Result<BulkHeap, BulkError> {
        let foreign = |why: &str| BulkError::Layout { segment: segment.name(), why: why.to_owned() };
        if size < size_of::<HeapHeader>() as u64 {
            return Err(foreign("too small to hold a heap header"));
        }
        // SAFETY: the segment holds at least a header (checked above).
        let h = unsafe { &*base.cast::<HeapHeader>() };
        if h.magic.load(Ordering::Acquire) != MAGIC {
            return Err(foreign("no heap of this version (is the runtime of another version?)"));
        }
        let expected = layout(size).ok_or_else(|| foreign("too small for even one page"))?;
        let found = (
            h.pages.load(Ordering::Relaxed),
            h.entries_offset.load(Ordering::Relaxed),
            h.links_offset.load(Ordering::Relaxed),
            h.data_offset.load(Ordering::Relaxed),
        );
        if expected != found {
            return Err(foreign("its header does not match its size"));
        }
        let (pages, entries, links, data) = expected;
        let max_order = (31 - pages.leading_zeros()).min(ORDERS as u32 - 1);
        Ok(BulkHeap { base, segment, pages, max_order, entries, links, data })
    }

    fn header(&self) -> &HeapHeader {
        // SAFETY: the segment starts with the header (init/attach checked
        // the size), page-aligned, mapped while the view lives.
        unsafe { &*self.base.cast::<HeapHeader>() }
    }

    fn pages(&self) -> u32 {
        self.pages
    }

    fn max_order(&self) -> u32 {
        self.max_order
    }

    fn data_offset(&self) -> u64 {
        self.data
    }

    fn entry(&self, i: u32) -> &AtomicU64 {
        assert!(i < self.pages, "bulk heap entry {i} out of range");
        let offset = self.entries + u64::from(i) * 8;
        // SAFETY: i < pages (callers check), so the entry lies inside the
        // entries array that `layout` placed within the segment.
        unsafe { &*self.base.add(offset as usize).cast::<AtomicU64>() }
    }

    fn link(&self, i: u32) -> (&AtomicU32, &AtomicU32) {
        assert!(i < self.pages, "bulk heap link {i} out of range");
        let offset = self.links + u64::from(i) * 8;
        // SAFETY: as in `entry`, for the links array.
        unsafe {
            let p = self.base.add(offset as usize).cast::<AtomicU32>();
            (&*p, &*p.add(1))
        }
    }

    fn lock(&self) -> Result<ShmGuard<'_>, BulkError> {
        Ok(self.header().lock.lock(|| {
            tracing::warn!(
                segment = self.segment.name(),
                "a process died holding the bulk heap lock; rebuilt"
            );
            self.rebuild();
        })?)
    }

    /// The segment this heap serves.
    pub fn segment(&self) -> BulkSegment {
        self.segment
    }

    /// Allocates a block of at least `len` bytes owned by `owner` (a pid).
    pub fn alloc(&self, len: u64, owner: u32) -> Result<Bulk, BulkError> {
        if len == 0 {
            return Err(BulkError::Empty);
        }
        let max = self.max_order();
        let order = len.div_ceil(PAGE).next_power_of_two().trailing_zeros();
        if order > max {
            return Err(BulkError::TooLarge {
                segment: self.segment.name(),
                requested: len,
                max: Size::from_bytes(PAGE << max),
            });
        }
        let _guard = self.lock()?;
        for attempt in 0..2 {
            let Some(mut j) = (order..=max).find(|j| self.head(*j) != NIL) else { break };
            let Some(b) = self.pop(j) else {
                // The lists disagree with the entries: rebuild, try again.
                if attempt == 0 {
                    self.rebuild();
                }
                continue;
            };
            while j > order {
                j -= 1;
                let upper = b + (1 << j);
                self.entry(upper).store(encode(FREE, j, 0), Ordering::Relaxed);
                self.push(j, upper);
                self.entry(b).store(encode(FREE, j, 0), Ordering::Relaxed);
            }
            self.entry(b).store(encode(USED, order, owner), Ordering::Relaxed);
            let h = self.header();
            h.free_pages.fetch_sub(1 << order, Ordering::Relaxed);
            h.live_blocks.fetch_add(1, Ordering::Relaxed);
            return Ok(Bulk { segment: self.segment, offset: self.data_offset() + u64::from(b) * PAGE, len });
        }
        let stats = self.stats();
        Err(BulkError::Full {
            segment: self.segment.name(),
            requested: len,
            free: Size::from_bytes(stats.free),
            largest: Size::from_bytes(self.largest_free()),
        })
    }

    /// The block index a `Bulk` starts at, if it starts a page of this heap.
    fn block_index(&self, bulk: &Bulk) -> Result<u32, BulkError> {
        self.check_segment(bulk)?;
        let not_live = || BulkError::NotLive { segment: self.segment.name(), offset: bulk.offset };
        let rel = bulk.offset.checked_sub(self.data_offset()).ok_or_else(not_live)?;
        if !rel.is_multiple_of(PAGE) || rel / PAGE >= u64::from(self.pages()) {
            return Err(not_live());
        }
        Ok((rel / PAGE) as u32)
    }

    fn check_segment(&self, bulk: &Bulk) -> Result<(), BulkError> {
        if bulk.segment == self.segment {
            Ok(())
        } else {
            Err(BulkError::WrongSegment { given: bulk.segment.name(), expected: self.segment.name() })
        }
    }

    /// Frees the block `bulk` starts. With `owner`, only that process's.
    pub fn free(&self, bulk: &Bulk, owner: Option<u32>) -> Result<(), BulkError> {
        let b = self.block_index(bulk)?;
        let _guard = self.lock()?;
        let e = self.entry(b).load(Ordering::Relaxed);
        if state_of(e) != USED {
            return Err(BulkError::NotLive { segment: self.segment.name(), offset: bulk.offset });
        }
        if let Some(caller) = owner
            && owner_of(e) != caller
        {
            return Err(BulkError::NotOwner {
                segment: self.segment.name(),
                offset: bulk.offset,
                owner: owner_of(e),
                caller,
            });
        }
        self.release(b, order_of(e));
        Ok(())
    }

    /// Marks block `b` of order `k` free and merges it with free buddies.
    /// Holding the lock.
    fn release(&self, mut b: u32, mut k: u32) {
        self.entry(b).store(encode(FREE, k, 0), Ordering::Relaxed);
        let h = self.header();
        h.free_pages.fetch_add(1 << k, Ordering::Relaxed);
        h.live_blocks.fetch_sub(1, Ordering::Relaxed);
        let pages = u64::from(self.pages());
        while k < self.max_order() {
            let buddy = b ^ (1 << k);
            if u64::from(buddy) + (1u64 << k) > pages {
                break;
            }
            let be = self.entry(buddy).load(Ordering::Relaxed);
            if state_of(be) != FREE || order_of(be) != k || !self.remove(k, buddy) {
                break;
            }
            let (low, high) = (b.min(buddy), b.max(buddy));
            self.entry(low).store(encode(FREE, k + 1, 0), Ordering::Relaxed);
            self.entry(high).store(0, Ordering::Relaxed);
            b = low;
            k += 1;
        }
        self.push(k, b);
    }

    /// The address of `bulk`'s bytes, if they lie inside one live block.
    pub fn resolve(&self, bulk: &Bulk) -> Result<*mut u8, BulkError> {
        self.check_segment(bulk)?;
        let data = self.data_offset();
        let end = bulk.offset.checked_add(bulk.len);
        let not_a_block = || BulkError::NotABlock {
            segment: self.segment.name(),
            offset: bulk.offset,
            end: end.unwrap_or(u64::MAX),
        };
        let end = end.ok_or_else(not_a_block)?;
        let rel = bulk.offset.checked_sub(data).ok_or_else(not_a_block)?;
        let page = rel / PAGE;
        if page >= u64::from(self.pages()) {
            return Err(not_a_block());
        }
        let page = page as u32;
        for k in 0..=self.max_order() {
            let head = page & !((1u32 << k) - 1);
            let e = self.entry(head).load(Ordering::Acquire);
            if state_of(e) == USED && order_of(e) == k {
                let block_end = data + (u64::from(head) + (1u64 << k)) * PAGE;
                if end > block_end {
                    return Err(not_a_block());
                }
                // SAFETY: offset..end lies inside the data pages of the
                // mapped segment (checked against the block above).
                return Ok(unsafe { self.base.add(bulk.offset as usize) });
            }
        }
        Err(not_a_block())
    }

    /// Frees every block `pid` owns; returns how many and their bytes.
    pub fn reap(&self, pid: u32) -> Result<(u32, u64), BulkError> {
        let _guard = self.lock()?;
        let mut victims = Vec::new();
        self.scan(true, |i, e| {
            if state_of(e) == USED && owner_of(e) == pid {
                victims.push((i, order_of(e)));
            }
        });
        let bytes = victims.iter().map(|(_, k)| PAGE << k).sum();
        for (i, k) in &victims {
            self.release(*i, *k);
        }
        Ok((victims.len() as u32, bytes))
    }

    /// Current figures.
    pub fn stats(&self) -> HeapStats {
        let h = self.header();
        HeapStats {
            capacity: u64::from(self.pages()) * PAGE,
            free: h.free_pages.load(Ordering::Relaxed) * PAGE,
            live_blocks: h.live_blocks.load(Ordering::Relaxed),
        }
    }

    /// The largest free block's bytes.
    pub fn largest_free(&self) -> u64 {
        (0..=self.max_order()).rev().find(|k| self.head(*k) != NIL).map_or(0, |k| PAGE << k)
    }

    fn head(&self, k: u32) -> u32 {
        let head = self.header().heads[k as usize].load(Ordering::Relaxed);
        if head < self.pages() { head } else { NIL }
    }

    fn push(&self, k: u32, b: u32) {
        let head = self.head(k);
        let (next, prev) = self.link(b);
        next.store(head, Ordering::Relaxed);
        prev.store(NIL, Ordering::Relaxed);
        if head != NIL {
            self.link(head).1.store(b, Ordering::Relaxed);
        }
        self.header().heads[k as usize].store(b, Ordering::Relaxed);
    }

    fn pop(&self, k: u32) -> Option<u32> {
        let b = self.head(k);
        (b != NIL && self.remove(k, b)).then_some(b)
    }

    /// Unlinks free block `b` from list `k`; `false` if the links are not
    /// what a list holding `b` would have (corrupt metadata).
    fn remove(&self, k: u32, b: u32) -> bool {
        let pages = self.pages();
        let e = self.entry(b).load(Ordering::Relaxed);
        if state_of(e) != FREE || order_of(e) != k {
            return false;
        }
        let (next, prev) = self.link(b);
        let (n, p) = (next.load(Ordering::Relaxed), prev.load(Ordering::Relaxed));
        if (n != NIL && n >= pages) || (p != NIL && p >= pages) {
            return false;
        }
        if p == NIL {
            if self.header().heads[k as usize].load(Ordering::Relaxed) != b {
                return false;
            }
            self.header().heads[k as usize].store(n, Ordering::Relaxed);
        } else {
            self.link(p).0.store(n, Ordering::Relaxed);
        }
        if n != NIL {
            self.link(n).1.store(p, Ordering::Relaxed);
        }
        true
    }

    /// The processes that own blocks now (a lock-free snapshot, for the
    /// reaper to check which of them died).
    pub fn owners(&self) -> Vec<u32> {
        let mut owners = Vec::new();
        self.scan(false, |_, e| {
            if state_of(e) == USED && !owners.contains(&owner_of(e)) {
                owners.push(owner_of(e));
            }
        });
        owners
    }

    /// Visits each block from page 0, stepping by block size. An entry that
    /// cannot start a block (metadata scribbled over, or a change in flight
    /// when not holding the lock) is taken as a free page; with `repair` it
    /// is made one.
    fn scan(&self, repair: bool, mut visit: impl FnMut(u32, u64)) {
        let pages = u64::from(self.pages());
        let max = self.max_order();
        let mut i = 0u64;
        while i < pages {
            let mut e = self.entry(i as u32).load(Ordering::Relaxed);
            let k = order_of(e);
            let valid = matches!(state_of(e), FREE | USED)
                && k <= max
                && i.is_multiple_of(1 << k)
                && i + (1u64 << k) <= pages;
            if !valid {
                e = encode(FREE, 0, 0);
                if repair {
                    self.entry(i as u32).store(e, Ordering::Relaxed);
                }
            }
            visit(i as u32, e);
            i += 1u64 << order_of(e);
        }
    }

    /// Rebuilds the free lists and counters from the entries. Holding the
    /// lock (or before the heap is published).
    fn rebuild(&self) {
        let h = self.header();
        for head in &h.heads {
            head.store(NIL, Ordering::Relaxed);
        }
        let (mut free, mut live) = (0u64, 0u64);
        let mut free_blocks = Vec::new();
        self.scan(true, |i, e| {
            if state_of(e) == FREE {
                free += 1 << order_of(e);
                free_blocks.push((i, order_of(e)));
            } else {
                live += 1;
            }
        });
        for (i, k) in free_blocks.into_iter().rev() {
            self.push(k, i);
        }
        h.free_pages.store(free, Ordering::Relaxed);
        h.live_blocks.store(live, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rustix::mm::{MapFlags, ProtFlags, mmap_anonymous, munmap};

    use super::*;

    /// A shared anonymous mapping: shared so a forked child's lock state
    /// is the parent's too.
    struct Region {
        ptr: *mut u8,
        len: usize,
    }

    impl Region {
        fn new(len: usize) -> Region {
            // SAFETY: a fresh anonymous mapping; unmapped in Drop.
            let ptr = unsafe {
                mmap_anonymous(
                    std::ptr::null_mut(),
                    len,
                    ProtFlags::READ | ProtFlags::WRITE,
                    MapFlags::SHARED,
                )
            }
            .expect("mmap");
            Region { ptr: ptr.cast(), len }
        }

        fn heap(&self) -> BulkHeap {
            // SAFETY: the region outlives the heap in every test.
            unsafe { BulkHeap::init(self.ptr, self.len as u64, BulkSegment::ClientData) }.unwrap()
        }
    }

    impl Drop for Region {
        fn drop(&mut self) {
            // SAFETY: mapped in `new` with this length.
            unsafe { munmap(self.ptr.cast(), self.len) }.unwrap();
        }
    }

    /// Checks no two live blocks overlap and the free count adds up.
    fn check(heap: &BulkHeap, live: &BTreeMap<u64, u64>) {
        let mut end = 0;
        for (offset, len) in live {
            assert!(*offset >= end, "blocks overlap at {offset}");
            end = offset + len.next_multiple_of(PAGE);
        }
        let stats = heap.stats();
        assert_eq!(stats.live_blocks, live.len() as u64);
        let used: u64 = live.values().map(|len| len.div_ceil(PAGE).next_power_of_two() * PAGE).sum();
        assert_eq!(stats.free + used, stats.capacity);
    }

    #[test]
    fn random_alloc_and_free_never_overlap_and_give_everything_back() {
        let region = Region::new(8 << 20);
        let heap = region.heap();
        let capacity = heap.stats().free;
        assert_eq!(capacity, heap.stats().capacity);
        let mut live = BTreeMap::new();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            if !rng.is_multiple_of(3) || live.is_empty() {
                let len = 1 + rng % (300 << 10);
                match heap.alloc(len, 42) {
                    Ok(b) => {
                        assert_eq!(b.offset % PAGE, 0, "4096-aligned");
                        assert!(heap.resolve(&b).is_ok());
                        assert!(live.insert(b.offset, len).is_none());
                    }
                    Err(BulkError::Full { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            } else {
                let at = *live.keys().nth((rng as usize / 3) % live.len()).unwrap();
                let len = live.remove(&at).unwrap();
                heap.free(&Bulk { segment: BulkSegment::ClientData, offset: at, len }, Some(42)).unwrap();
            }
            check(&heap, &live);
        }
        for (offset, len) in std::mem::take(&mut live) {
            heap.free(&Bulk { segment: BulkSegment::ClientData, offset, len }, None).unwrap();
        }
        assert_eq!(heap.stats().free, capacity, "every page came back");
        // Fully merged again: the largest block is as large as at the start.
        let fresh = Region::new(8 << 20);
        assert_eq!(heap.largest_free(), fresh.heap().largest_free());
    }

    #[test]
    fn full_double_free_foreign_and_wrong_blocks_are_errors() {
        let region = Region::new(1 << 20);
        let heap = region.heap();
        let mut blocks = Vec::new();
        let err = loop {
            match heap.alloc(64 << 10, 7) {
                Ok(b) => blocks.push(b),
                Err(e) => break e,
            }
        };
        assert!(matches!(err, BulkError::Full { .. }), "{err}");
        assert!(err.to_string().contains("raise memory.client_data_segment_size"), "{err}");
        assert!(matches!(heap.alloc(1 << 30, 7), Err(BulkError::TooLarge { .. })));
        assert!(matches!(heap.alloc(0, 7), Err(BulkError::Empty)));
        let b = blocks.pop().unwrap();
        assert!(matches!(heap.free(&b, Some(8)), Err(BulkError::NotOwner { owner: 7, caller: 8, .. })));
        heap.free(&b, Some(7)).unwrap();
        assert!(matches!(heap.free(&b, Some(7)), Err(BulkError::NotLive { .. })), "double free");
        assert!(matches!(heap.resolve(&b), Err(BulkError::NotABlock { .. })), "freed block");
        let inside = blocks[0].range(100, 10).unwrap();
        assert!(heap.free(&inside, None).is_err(), "not a block's start");
        assert!(heap.resolve(&inside).is_ok(), "a range inside a live block resolves");
        let past_end = Bulk { len: (64 << 10) + 1, ..blocks[0] };
        assert!(heap.resolve(&past_end).is_err(), "a range past its block");
        let other = Bulk { segment: BulkSegment::RuntimeData, ..blocks[0] };
        assert!(matches!(heap.resolve(&other), Err(BulkError::WrongSegment { .. })));
        let wild = Bulk { offset: u64::MAX - 5, len: 10, ..blocks[0] };
        assert!(heap.resolve(&wild).is_err() && heap.free(&wild, None).is_err());
    }

    #[test]
    fn reap_frees_a_dead_owner_s_blocks_only() {
        let region = Region::new(2 << 20);
        let heap = region.heap();
        let start = heap.stats().free;
        let mine = heap.alloc(10_000, 1).unwrap();
        for _ in 0..5 {
            heap.alloc(5_000, 2).unwrap();
        }
        assert_eq!(heap.owners().len(), 2);
        assert_eq!(heap.reap(2).unwrap(), (5, 5 * 8192));
        assert_eq!(heap.owners(), vec![1]);
        heap.free(&mine, Some(1)).unwrap();
        assert_eq!(heap.stats().free, start);
    }

    #[test]
    fn a_process_dying_with_the_lock_held_does_not_wedge_the_heap() {
        let region = Region::new(2 << 20);
        let heap = region.heap();
        let kept = heap.alloc(4096, 1).unwrap();
        // Scribble over the lists as a half-done change would, then die
        // holding the lock: the next locker must repair from the entries.
        // SAFETY: the child only takes the lock, writes shared memory and
        // exits with _exit, all async-signal-safe after fork.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let guard = heap.lock();
            for head in &heap.header().heads {
                head.store(7, Ordering::Relaxed);
            }
            std::mem::forget(guard);
            // SAFETY: ends the child without running the parent's destructors.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        let b = heap.alloc(8192, 1).expect("allocation after the holder died");
        assert!(heap.resolve(&kept).is_ok(), "the block kept before is still live");
        assert_ne!(b.offset, kept.offset);
        heap.free(&b, None).unwrap();
        heap.free(&kept, None).unwrap();
        assert_eq!(heap.stats().live_blocks, 0);
    }
}
