//! Unit tests of a free list that grows by regions: chunks from an
//! upstream (counted), caller regions, limits, refusals, reset and drop,
//! with the invariants checked after every step.

use super::*;
use crate::allocator::tests::{layout, ptr};
use crate::allocator::Allocator;
use crate::growth::Source;
use std::cell::Cell;
use std::rc::Rc;

/// Upstream calls so far and chunks not yet given back.
type Counter = Rc<Cell<(usize, usize)>>;

/// A counting source over the global allocator; it refuses every call
/// after `refuse_after` of them.
#[derive(Default)]
struct Counting {
    counter: Counter,
    refuse_after: Option<usize>,
}

impl Source for Counting {
    fn obtain(&mut self, layout: Layout, zeroed: bool) -> Result<Block, Error> {
        let (calls, live) = self.counter.get();
        if self.refuse_after.is_some_and(|limit| calls >= limit) {
            return Err(Error::OutOfMemory);
        }
        assert!(zeroed, "a free list asks for zero-filled chunks");
        let block = crate::global::Global.alloc_zeroed(layout)?;
        self.counter.set((calls + 1, live + 1));
        Ok(block)
    }

    unsafe fn give_back(&mut self, block: Block, layout: Layout) {
        let (calls, live) = self.counter.get();
        self.counter.set((calls, live - 1));
        // SAFETY: the block came from `obtain`, from the global allocator.
        unsafe { crate::global::Global.free(block.ptr, layout) }.unwrap();
    }
}

/// A list over `own` bytes growing from a counting source that refuses
/// after `refuse_after` calls.
fn growing_with(
    own: usize,
    first_chunk: usize,
    refuse_after: Option<usize>,
) -> (FreeList, Counter) {
    let counter = Counter::default();
    let source = Counting {
        counter: counter.clone(),
        refuse_after,
    };
    let mut list = FreeList::new(own).unwrap();
    // Placement across regions is what these tests look at: no cache.
    list.set_cache(false);
    list.set_upstream(Box::new(source), first_chunk).unwrap();
    assert!(list.grows());
    (list, counter)
}

fn growing(own: usize, first_chunk: usize) -> (FreeList, Counter) {
    growing_with(own, first_chunk, None)
}

/// Everything a refused call must leave as it was.
fn snapshot(list: &mut FreeList) -> [usize; 5] {
    let (used, free, largest) = (
        list.total_allocated(),
        list.remaining(),
        list.largest_free_block(),
    );
    [used, free, largest, list.capacity(), list.region_count()]
}

fn check(list: &FreeList) {
    list.check_consistency().unwrap();
    assert_eq!(list.capacity(), list.remaining() + list.total_allocated());
}

/// Checks that every block lies wholly in one region (its header
/// included), is aligned, and that no two overlap.
fn check_blocks(list: &FreeList, blocks: &[(Block, usize)]) {
    let spans = list.region_spans();
    for (block, align) in blocks {
        assert_eq!(block.addr() % align, 0);
        let (start, end) = (block.addr() - HEADER_SIZE, block.addr() + block.size);
        let inside = spans.iter().filter(|&&(s, e)| s <= start && end <= e);
        assert_eq!(inside.count(), 1, "block {:#x} spans regions", block.addr());
    }
    let mut sorted: Vec<_> = blocks.iter().map(|(b, _)| (b.addr(), b.size)).collect();
    sorted.sort_unstable();
    for pair in sorted.windows(2) {
        // Usable bytes, and the next block's word 1 (its word 0 may be
        // this block's last usable word).
        assert!(
            pair[0].0 + pair[0].1 <= pair[1].0 - OVERHEAD,
            "{pair:?} overlap"
        );
    }
}

/// A deterministic pseudo-random sequence.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        // MMIX's multiplier; any odd increment gives the full period.
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1);
        ((self.0 >> 33) % bound as u64) as usize
    }
}

#[test]
fn a_growing_list_calls_upstream_logarithmically_and_gives_everything_back() {
    let (mut list, counter) = growing(256, 1024);
    let mut rng = Lcg(7);
    let mut blocks = Vec::new();
    for i in 0..20_000 {
        let align = if i % 10 == 0 { 64 } else { 8 };
        let block = list.alloc(layout(16 + rng.next(300), align)).unwrap();
        blocks.push((block, align));
        if i % 2_000 == 0 {
            check(&list);
        }
    }
    let (calls, live) = counter.get();
    // About 4.5 MB from chunks doubling from 1 KiB: about 13 calls.
    assert!((10..=18).contains(&calls), "{calls} upstream calls");
    assert_eq!(live, calls);
    assert_eq!(list.region_count(), calls + 1);
    check(&list);
    check_blocks(&list, &blocks);
    // Free half, in a scrambled order, in every region.
    for _ in 0..10_000 {
        let (block, _) = blocks.swap_remove(rng.next(blocks.len()));
        list.dealloc(block.ptr).unwrap();
    }
    check(&list);
    // Freed space is reused before the list grows again.
    for _ in 0..5_000 {
        blocks.push((list.alloc(layout(16 + rng.next(200), 8)).unwrap(), 8));
    }
    assert_eq!(counter.get().0, calls);
    check(&list);
    check_blocks(&list, &blocks);
    for (block, _) in blocks.drain(..) {
        list.dealloc(block.ptr).unwrap();
    }
    check(&list);
    assert_eq!(list.total_allocated(), 0);
    assert_eq!(list.remaining(), list.capacity());
    // Every region merged back into one free block.
    let largest = list
        .region_spans()
        .iter()
        .map(|(s, e)| e - s)
        .max()
        .unwrap();
    assert_eq!(list.largest_free_block(), usable(largest - OVERHEAD));
    drop(list);
    assert_eq!(counter.get().1, 0);
}

#[test]
fn an_oversized_request_gets_a_region_that_fits_it() {
    let (mut list, counter) = growing(64, 1024);
    let big = list.alloc(layout(1 << 20, 4096)).unwrap();
    assert_eq!(big.addr() % 4096, 0);
    assert!(big.size >= 1 << 20);
    assert_eq!(counter.get().0, 1);
    check(&list);
    check_blocks(&list, &[(big, 4096)]);
    // No region could hold it: refused without asking upstream.
    let before = snapshot(&mut list);
    for size in [MAX_CAPACITY, 1 << 50, isize::MAX as usize - 64] {
        assert_eq!(list.alloc(layout(size, 8)), Err(Error::Exhausted));
    }
    assert_eq!(list.alloc(layout(8, 1 << 45)), Err(Error::Exhausted));
    assert_eq!((snapshot(&mut list), counter.get().0), (before, 1));
    list.dealloc(big.ptr).unwrap();
    check(&list);
}

/// A list with blocks in its own buffer and in three chunks.
fn spread_over_regions() -> (FreeList, Counter, Vec<Block>) {
    let (mut list, counter) = growing(512, 512);
    let mut blocks = Vec::new();
    while list.region_count() < 4 {
        blocks.push(list.alloc(layout(100, 8)).unwrap());
        check(&list);
    }
    (list, counter, blocks)
}

#[test]
fn frees_in_every_region_validate_and_refusals_change_nothing() {
    let (mut list, counter, blocks) = spread_over_regions();
    let spans = list.region_spans();
    assert_eq!(spans.len(), 4);
    for at in (0..blocks.len() - 1).step_by(2) {
        let block = blocks[at];
        list.dealloc(block.ptr).unwrap();
        check(&list);
        let before = snapshot(&mut list);
        // A second free: the block is free (or merged into a neighbour).
        let again = list.dealloc(block.ptr);
        assert!(
            matches!(again, Err(Error::DoubleFree | Error::ForeignPointer)),
            "{at}: {again:?}"
        );
        // Pointers into a live block of the same region, or misaligned.
        let live = blocks[at + 1].addr();
        for bad in [live + 8, live + 16, live + 1, live - 16] {
            assert_eq!(
                list.dealloc(ptr(bad)),
                Err(Error::ForeignPointer),
                "{bad:#x}"
            );
        }
        assert_eq!(snapshot(&mut list), before);
    }
    // Addresses in no region: below, between and past them all.
    let before = snapshot(&mut list);
    let mut outside = vec![8, usize::MAX - 15, i64::MAX as usize & !15];
    outside.extend(
        spans
            .iter()
            .flat_map(|&(start, end)| [start - 16, end, end + 16]),
    );
    outside.retain(|&bad| !spans.iter().any(|&(start, end)| start <= bad && bad < end));
    assert!(outside.len() > 3);
    for bad in outside {
        let refused = list.dealloc(ptr(bad));
        assert_eq!(refused, Err(Error::ForeignPointer), "{bad:#x}");
        // SAFETY: refused pointers change nothing.
        unsafe {
            assert_eq!(
                list.resize(ptr(bad), layout(8, 8), 16),
                Err(Error::ForeignPointer)
            );
        }
    }
    assert_eq!(snapshot(&mut list), before);
    check(&list);
    for at in (1..blocks.len()).step_by(2) {
        list.dealloc(blocks[at].ptr).unwrap();
    }
    if blocks.len() % 2 == 1 {
        list.dealloc(blocks[blocks.len() - 1].ptr).unwrap();
    }
    assert_eq!(list.total_allocated(), 0);
    check(&list);
    drop(list);
    assert_eq!(counter.get().1, 0);
}

#[test]
fn a_limit_exhausts_and_a_refusing_upstream_is_out_of_memory_unchanged() {
    let (mut list, counter) = growing(256, 1024);
    assert_eq!(list.set_limit(100), Err(Error::InvalidArgument));
    list.set_limit(256 + 1024).unwrap();
    let a = list.alloc(layout(200, 8)).unwrap();
    let b = list.alloc(layout(900, 8)).unwrap(); // a chunk of 1024
    assert_eq!(counter.get().0, 1);
    let before = snapshot(&mut list);
    assert_eq!(list.alloc(layout(200, 8)), Err(Error::Exhausted));
    assert_eq!((snapshot(&mut list), counter.get().0), (before, 1));
    check(&list);
    assert_eq!(list.set_limit(1000), Err(Error::InvalidArgument));
    list.set_limit(usize::MAX).unwrap();
    list.alloc(layout(200, 8)).unwrap();
    assert_eq!(counter.get().0, 2);
    list.dealloc(a.ptr).unwrap();
    list.dealloc(b.ptr).unwrap();
    check(&list);
    // The upstream refuses the second chunk: OutOfMemory, nothing changed.
    let (mut refused, counter) = growing_with(64, 256, Some(1));
    refused.alloc(layout(200, 8)).unwrap();
    let before = snapshot(&mut refused);
    assert_eq!(refused.alloc(layout(200, 8)), Err(Error::OutOfMemory));
    assert_eq!(snapshot(&mut refused), before);
    assert_eq!(counter.get(), (1, 1));
    check(&refused);
    // Without an upstream a full list is exhausted, as before.
    let mut plain = FreeList::new(64).unwrap();
    plain.alloc(layout(40, 8)).unwrap();
    assert_eq!(plain.alloc(layout(40, 8)), Err(Error::Exhausted));
    assert!(!plain.grows());
}

#[test]
fn set_upstream_refuses_while_chunks_are_held_and_oversized_chunks() {
    let (mut list, counter) = growing(64, 256);
    list.alloc(layout(100, 8)).unwrap();
    let again = list.set_upstream(Box::new(Counting::default()), 0);
    assert_eq!(again, Err(Error::InvalidArgument));
    let mut other = FreeList::new(64).unwrap();
    let huge = other.set_upstream(Box::new(Counting::default()), MAX_CAPACITY + 1);
    assert_eq!(huge, Err(Error::InvalidArgument));
    assert!(!other.grows());
    // After drop_buffer no chunk is held: a new upstream is accepted.
    list.drop_buffer();
    assert_eq!(counter.get().1, 0);
    list.set_upstream(Box::new(Counting::default()), 0).unwrap();
    list.alloc(layout(100, 8)).unwrap();
    check(&list);
}

#[test]
fn caller_regions_are_used_kept_at_reset_and_never_freed() {
    let mut storage = vec![0xA5u8; 70_000];
    let base = storage.as_mut_ptr() as usize;
    let mut list = FreeList::new(64).unwrap();
    let own = list.capacity();
    // A limit at the own buffer does not stop caller regions.
    list.set_limit(64).unwrap();
    // SAFETY: ranges inside `storage`, which outlives `list`; refused ones
    // are not touched.
    unsafe {
        for (address, len) in [(0, 4096), (base + 3, 30), (base + 1, MAX_CAPACITY + 1)] {
            assert_eq!(list.add_region(address, len), Err(Error::InvalidArgument));
        }
        assert_eq!(
            list.add_region(usize::MAX - 100, 4096),
            Err(Error::InvalidArgument)
        );
        assert_eq!(
            list.add_region(i64::MAX as usize - 100, 4096),
            Err(Error::InvalidArgument)
        );
        list.add_region(base + 3, 30_000).unwrap();
        check(&list);
        // Overlapping it, in part or whole, or the own buffer.
        let before = snapshot(&mut list);
        let own_start = list.region_spans()[1].0;
        for (address, len) in [(base + 3, 30_000), (base + 1, 100), (base + 29_000, 2000)] {
            assert_eq!(list.add_region(address, len), Err(Error::InvalidArgument));
        }
        assert_eq!(
            list.add_region(own_start - 8, 64),
            Err(Error::InvalidArgument)
        );
        assert_eq!(snapshot(&mut list), before);
        list.add_region(base + 40_000, 30_000).unwrap();
    }
    check(&list);
    assert_eq!(list.region_count(), 3);
    let capacity = list.capacity();
    assert!(capacity >= own + 2 * (30_000 - 38));
    // Blocks come from the caller's memory.
    let mut blocks = Vec::new();
    while let Ok(block) = list.alloc(layout(500, 32)) {
        assert!(block.addr() >= base && block.addr() + block.size <= base + 70_000);
        blocks.push((block, 32));
        check(&list);
    }
    assert!(blocks.len() >= 100);
    check_blocks(&list, &blocks);
    // Reset keeps them.
    list.clear();
    check(&list);
    assert_eq!((list.capacity(), list.total_allocated()), (capacity, 0));
    let starts: Vec<_> = list.region_spans().iter().map(|&(s, _)| s + 16).collect();
    let inner = blocks
        .iter()
        .find(|(b, _)| !starts.contains(&b.addr()))
        .unwrap();
    assert_eq!(list.dealloc(inner.0.ptr), Err(Error::ForeignPointer));
    let block = list.alloc(layout(20_000, 8)).unwrap();
    assert!(block.addr() >= base && block.addr() < base + 70_000);
    // Dropping forgets them (the storage is still ours: freeing it here
    // would be a double free when `storage` goes).
    list.drop_buffer();
    assert_eq!((list.capacity(), list.region_count()), (0, 1));
    assert_eq!(list.dealloc(block.ptr), Err(Error::ForeignPointer));
    check(&list);
    drop(list);
    storage[0] = 1;
}

#[test]
fn reset_keeps_the_largest_chunk_and_refuses_every_old_pointer() {
    let (mut list, counter, blocks) = spread_over_regions();
    let before = counter.get();
    let largest = list.region_spans()[0];
    list.clear();
    check(&list);
    assert_eq!(counter.get(), (before.0, 1));
    assert_eq!(list.region_count(), 2);
    // The own buffer and the largest chunk, now current.
    assert_eq!(list.region_spans()[0], largest);
    assert_eq!(list.total_allocated(), 0);
    // (A block that started its region names the one free block there
    // now: a double free.)
    let unchanged = snapshot(&mut list);
    for block in &blocks {
        let refused = list.dealloc(block.ptr);
        let expected = match list
            .region_spans()
            .iter()
            .any(|&(s, _)| s + 16 == block.addr())
        {
            true => Err(Error::DoubleFree),
            false => Err(Error::ForeignPointer),
        };
        assert_eq!(refused, expected, "{:#x}", block.addr());
    }
    assert_eq!(snapshot(&mut list), unchanged);
    check(&list);
    // A reused list stops calling upstream.
    for _ in 0..3 {
        while list.remaining() > 1024 {
            list.alloc(layout(100, 8)).unwrap();
        }
        list.clear();
        check(&list);
    }
    assert_eq!(counter.get().0, before.0);
    // Through the interface too.
    list.alloc(layout(100, 8)).unwrap();
    Allocator::reset(&mut list).unwrap();
    assert_eq!(list.total_allocated(), 0);
    drop(list);
    assert_eq!(counter.get().1, 0);
}

#[test]
fn drop_buffer_gives_every_chunk_back_and_the_list_grows_again() {
    let (mut list, counter, _blocks) = spread_over_regions();
    list.drop_buffer();
    assert_eq!(counter.get().1, 0);
    assert_eq!(
        [list.capacity(), list.remaining(), list.total_allocated()],
        [0; 3]
    );
    check(&list);
    // It keeps its upstream.
    assert!(list.grows());
    let block = list.alloc(layout(100, 8)).unwrap();
    assert_eq!(counter.get().1, 1);
    assert_eq!(list.region_count(), 1);
    check(&list);
    list.dealloc(block.ptr).unwrap();
    list.drop_buffer();
    assert_eq!(counter.get().1, 0);
    check(&list);
}

#[test]
fn realloc_and_resize_work_in_the_blocks_region_and_move_across() {
    let (mut list, counter) = growing(1024, 4096);
    // Blocks in the own buffer, then a chunk becomes current.
    let a = list.alloc(layout(100, 8)).unwrap();
    let b = list.alloc(layout(100, 8)).unwrap();
    while list.region_count() < 2 {
        list.alloc(layout(200, 8)).unwrap();
    }
    // SAFETY: `a` and `b` are 100-byte blocks of this list.
    unsafe {
        a.ptr.as_ptr().write_bytes(0x11, 100);
        b.ptr.as_ptr().write_bytes(0x22, 100);
    }
    let own = list.region_spans()[1];
    // With `b` free, `a` grows into it and shrinks back in place, in its
    // own region (not the current one).
    list.dealloc(b.ptr).unwrap();
    let grown = list.realloc_block(a.ptr, layout(180, 8)).unwrap();
    assert_eq!(grown.ptr, a.ptr);
    // SAFETY: a pointer of this list.
    unsafe {
        assert_eq!(list.resize(a.ptr, layout(180, 8), 40), Ok(usable(48)));
        assert!(list.readable(a.ptr, layout(100, 8)).unwrap() >= 40);
    }
    check(&list);
    // Too big for the own buffer: it moves to another region, contents
    // kept.
    let moved = list.realloc_block(a.ptr, layout(3000, 8)).unwrap();
    assert!(moved.addr() < own.0 || moved.addr() >= own.1);
    // SAFETY: `moved` holds at least 40 bytes kept from `a`.
    let kept = unsafe { core::slice::from_raw_parts(moved.ptr.as_ptr(), 40) };
    assert!(kept.iter().all(|&byte| byte == 0x11));
    assert_eq!(list.dealloc(a.ptr), Err(Error::DoubleFree));
    check(&list);
    // A move that needs a new chunk.
    let calls = counter.get().0;
    let far = list.realloc_block(moved.ptr, layout(100_000, 8)).unwrap();
    assert_eq!(counter.get().0, calls + 1);
    // SAFETY: `far` holds at least 40 bytes kept from `moved`.
    let kept = unsafe { core::slice::from_raw_parts(far.ptr.as_ptr(), 40) };
    assert!(kept.iter().all(|&byte| byte == 0x11));
    check(&list);
    // Refusals change nothing: a foreign pointer, a too-large request.
    let before = snapshot(&mut list);
    assert_eq!(
        list.realloc_block(ptr(64), layout(8, 8)),
        Err(Error::ForeignPointer)
    );
    assert_eq!(
        list.realloc_block(far.ptr, layout(1 << 50, 8)),
        Err(Error::Exhausted)
    );
    assert_eq!(snapshot(&mut list), before);
}

#[test]
fn random_traffic_over_chunks_and_caller_regions_keeps_every_invariant() {
    let mut storage = vec![0u8; 1 << 16];
    let (mut list, counter) = growing(128, 256);
    // SAFETY: `storage` outlives `list` and is used by nothing else.
    unsafe {
        list.add_region(storage.as_mut_ptr() as usize + 5, 5000)
            .unwrap()
    };
    let mut rng = Lcg(11);
    let mut live: Vec<(Block, usize)> = Vec::new();
    for step in 0..3000 {
        match rng.next(10) {
            0..=4 => {
                let align = [8, 16, 64, 256][rng.next(4)];
                let block = list.alloc(layout(rng.next(700), align)).unwrap();
                live.push((block, align));
            }
            5..=7 if !live.is_empty() => {
                let (block, _) = live.swap_remove(rng.next(live.len()));
                list.dealloc(block.ptr).unwrap();
                assert!(list.dealloc(block.ptr).is_err());
            }
            8 if !live.is_empty() => {
                let at = rng.next(live.len());
                let size = rng.next(1500);
                let moved = list.realloc_block(live[at].0.ptr, layout(size, 8)).unwrap();
                live[at] = (moved, 8);
            }
            _ => {}
        }
        if step % 700 == 699 {
            list.clear();
            live.clear();
        }
        check(&list);
        if step % 100 == 0 {
            check_blocks(&list, &live);
        }
    }
    check_blocks(&list, &live);
    let (calls, _) = counter.get();
    assert!(calls <= 20, "{calls} upstream calls");
    drop(list);
    assert_eq!(counter.get().1, 0);
    storage[0] = 1;
}
