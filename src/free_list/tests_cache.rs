//! Unit tests of the front-end cache (`cache.rs`): reuse, validation of
//! frees of cached blocks, exact exhaustion, queries as if flushed, bounds,
//! turning it off, and stray writes into cached headers.

use super::cache::{depth, CACHED, CLASSES};
use super::*;
use crate::allocator::tests::layout;

fn check(list: &FreeList) {
    list.check_consistency().unwrap();
    assert_eq!(list.capacity(), list.remaining() + list.total_allocated());
}

fn addr(block: Block) -> usize {
    block.ptr.as_ptr() as usize
}

#[test]
fn a_freed_small_block_is_cached_whole_and_handed_out_again() {
    let mut list = FreeList::new(4096).unwrap();
    assert!(list.cache_on());
    let a = list.alloc(layout(40, 8)).unwrap();
    let b = list.alloc(layout(40, 8)).unwrap();
    let used = list.total_allocated();
    list.dealloc(a.ptr).unwrap();
    list.dealloc(b.ptr).unwrap();
    // Both cached, unmerged, and counted as free.
    assert_eq!(list.cached_blocks(), 2);
    assert_eq!(list.total_allocated(), 0);
    assert!(used > 0);
    check(&list);
    // Newest first, the same blocks.
    assert_eq!(addr(list.alloc(layout(40, 8)).unwrap()), addr(b));
    assert_eq!(addr(list.alloc(layout(33, 1)).unwrap()), addr(a));
    assert_eq!((list.cached_blocks(), list.total_allocated()), (0, used));
    check(&list);
}

#[test]
fn a_second_free_of_a_cached_block_is_a_double_free_with_nothing_changed() {
    let mut list = FreeList::new(4096).unwrap();
    let a = list.alloc(layout(100, 8)).unwrap();
    let _b = list.alloc(layout(100, 8)).unwrap();
    list.dealloc(a.ptr).unwrap();
    let before = (
        list.cached_blocks(),
        list.total_allocated(),
        list.remaining(),
    );
    assert_eq!(list.dealloc(a.ptr), Err(Error::DoubleFree));
    // SAFETY: not called: realloc_block validates `a.ptr` first.
    assert_eq!(
        list.realloc_block(a.ptr, layout(200, 8)).map(addr),
        Err(Error::DoubleFree)
    );
    assert_eq!(
        (
            list.cached_blocks(),
            list.total_allocated(),
            list.remaining()
        ),
        before
    );
    check(&list);
    // Handed out once, not twice.
    let again = list.alloc(layout(100, 8)).unwrap();
    let other = list.alloc(layout(100, 8)).unwrap();
    assert_eq!(addr(again), addr(a));
    assert_ne!(addr(other), addr(a));
}

#[test]
fn exhaustion_is_exact_the_cache_is_merged_back_before_a_request_fails() {
    for capacity in [4096, 65536] {
        let mut list = FreeList::new(capacity).unwrap();
        let whole = list.largest_free_block();
        let mut blocks = Vec::new();
        let mut size = 16;
        // Fill the heap with blocks of many cached sizes.
        while let Ok(block) = list.alloc(layout(size, 8)) {
            blocks.push(block);
            size = 16 + (size * 7 + 24) % 900;
        }
        // Free every other block first (they cannot merge: cached or
        // between blocks in use), then the rest.
        for block in blocks
            .iter()
            .step_by(2)
            .chain(blocks.iter().skip(1).step_by(2))
        {
            list.dealloc(block.ptr).unwrap();
        }
        assert!(list.cached_blocks() > 0);
        assert_eq!(list.total_allocated(), 0);
        check(&list);
        // The whole heap as one request: only a flush can serve it.
        let all = list.alloc(layout(whole, 8)).unwrap();
        assert_eq!(all.size, whole);
        assert_eq!(list.cached_blocks(), 0);
        assert_eq!(list.alloc(layout(1, 1)).map(addr), Err(Error::Exhausted));
        check(&list);
    }
}

#[test]
fn the_queries_answer_as_if_the_cache_were_flushed() {
    let mut list = FreeList::new(1 << 16).unwrap();
    let mut live: Vec<Block> = Vec::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut flushes_that_mattered = 0;
    for step in 0..3000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if x % 3 == 0 && !live.is_empty() {
            let block = live.swap_remove((x as usize / 3) % live.len());
            list.dealloc(block.ptr).unwrap();
        } else if let Ok(block) = list.alloc(layout(1 + (x >> 20) as usize % 1500, 8)) {
            live.push(block);
        }
        assert_eq!(list.capacity(), list.remaining() + list.total_allocated());
        if step % 50 == 0 {
            check(&list);
            let before = (list.total_allocated(), list.remaining());
            flushes_that_mattered += usize::from(list.cached_blocks() > 0);
            list.flush_cache();
            assert_eq!(
                (list.total_allocated(), list.remaining()),
                before,
                "step {step}"
            );
            check(&list);
        }
    }
    assert!(flushes_that_mattered > 10);
}

#[test]
fn the_cache_is_bounded_and_turning_it_off_merges_it() {
    let mut list = FreeList::new(1 << 20).unwrap();
    // Three more blocks of each cached size than it takes, and a few
    // sizes above the cached ones.
    let sizes: Vec<(usize, usize)> = (0..CLASSES + 4)
        .map(|class| (16 * class + 24, depth(class.min(CLASSES - 1)) + 3))
        .collect();
    let blocks: Vec<Block> = sizes
        .iter()
        .flat_map(|&(size, n)| (0..n).map(move |_| size))
        .map(|size| list.alloc(layout(size, 8)).unwrap())
        .collect();
    for block in &blocks {
        list.dealloc(block.ptr).unwrap();
    }
    // Every cached size full, nothing beyond: the largest sizes not cached.
    let bound: usize = (0..CLASSES).map(depth).sum();
    assert_eq!(list.cached_blocks(), bound);
    check(&list);
    list.set_cache(false);
    assert!(!list.cache_on());
    assert_eq!(list.cached_blocks(), 0);
    assert_eq!(list.largest_free_block(), usable_whole(&list));
    // Off: a free merges at once.
    let a = list.alloc(layout(40, 8)).unwrap();
    list.dealloc(a.ptr).unwrap();
    assert_eq!(list.cached_blocks(), 0);
    list.set_cache(true);
    let a = list.alloc(layout(40, 8)).unwrap();
    list.dealloc(a.ptr).unwrap();
    assert_eq!(list.cached_blocks(), 1);
    check(&list);
}

/// The usable size of a block covering the whole (empty) heap.
fn usable_whole(list: &FreeList) -> usize {
    list.heap_len - OVERHEAD
}

#[test]
fn reset_empties_the_cache_and_keeps_its_setting() {
    let mut list = FreeList::new(4096).unwrap();
    let a = list.alloc(layout(64, 8)).unwrap();
    list.dealloc(a.ptr).unwrap();
    list.clear();
    assert_eq!(list.cached_blocks(), 0);
    assert_eq!(list.dealloc(a.ptr), Err(Error::DoubleFree));
    list.set_cache(false);
    list.clear();
    assert!(!list.cache_on());
    check(&list);
}

#[test]
fn a_stray_write_into_a_cached_header_never_hands_a_block_out_twice() {
    for flip in [CACHED, 1 << 5, 1 << 45] {
        let mut list = FreeList::new(4096).unwrap();
        let a = list.alloc(layout(48, 8)).unwrap();
        let guard = list.alloc(layout(48, 8)).unwrap();
        list.dealloc(a.ptr).unwrap();
        let header = (addr(a) - 8) as *mut u64;
        // SAFETY: a's header lies inside the list's buffer; this simulates
        // a caller's stray write into it.
        unsafe { header.write(header.read() ^ flip) };
        // With CACHED cleared the header reads as in use: a free of it is
        // accepted (and merges); every other write makes it foreign.
        let freed = list.dealloc(a.ptr);
        assert_eq!(freed.is_ok(), flip == CACHED, "{flip:#x}: {freed:?}");
        // Two more blocks of a's size: never the same one twice, never the
        // guard. (With CACHED cleared the counters are off by a's size, as
        // after any double free a stray write lets through.)
        let x = list.alloc(layout(48, 8)).unwrap();
        let y = list.alloc(layout(48, 8)).unwrap();
        assert!(addr(x) != addr(y) && addr(x) != addr(guard) && addr(y) != addr(guard));
    }
}

#[test]
fn a_cached_block_serves_a_more_aligned_request_only_when_it_is_aligned_for_it() {
    let mut list = FreeList::new(1 << 16).unwrap();
    let a = list.alloc(layout(100, 256)).unwrap();
    list.dealloc(a.ptr).unwrap();
    assert_eq!(list.cached_blocks(), 1);
    // The same block again: its payload is 256-aligned.
    let b = list.alloc(layout(100, 256)).unwrap();
    assert_eq!(addr(b), addr(a));
    list.dealloc(b.ptr).unwrap();
    // A stricter alignment it does not meet: another block, and it stays.
    // Twice a's lowest set bit: an alignment a's payload does not meet.
    let align = (addr(a) & addr(a).wrapping_neg()) * 2;
    let c = list.alloc(layout(100, align)).unwrap();
    assert_ne!(addr(c), addr(a));
    assert_eq!(list.cached_blocks(), 1);
    check(&list);
}
