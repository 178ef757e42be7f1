//! Unit tests of a pool growing by slabs: logarithmic growth, blocks of
//! every slab valid and disjoint, frees validated across slabs, limits,
//! refusals, reset and drop.

use super::*;
use crate::allocator::tests::{layout, ptr};
use crate::global::Global;
use std::cell::Cell;
use std::collections::BTreeSet;
use std::rc::Rc;

/// What the counting source saw: calls to `obtain` that succeeded, blocks
/// still out, bytes still out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Seen {
    calls: usize,
    live: usize,
    bytes: usize,
}

/// A source over the global allocator that counts, and refuses while
/// `refuse` is set.
#[derive(Default)]
struct Counting {
    seen: Rc<Cell<Seen>>,
    refuse: Rc<Cell<bool>>,
}

impl Source for Counting {
    fn obtain(&mut self, layout: Layout, zeroed: bool) -> Result<Block, Error> {
        if self.refuse.get() {
            return Err(Error::OutOfMemory);
        }
        let block = Global.obtain(layout, zeroed)?;
        let seen = self.seen.get();
        self.seen.set(Seen {
            calls: seen.calls + 1,
            live: seen.live + 1,
            bytes: seen.bytes + layout.size(),
        });
        Ok(block)
    }

    unsafe fn give_back(&mut self, block: Block, layout: Layout) {
        let seen = self.seen.get();
        self.seen.set(Seen {
            live: seen.live - 1,
            bytes: seen.bytes - layout.size(),
            ..seen
        });
        // SAFETY: the block came from `obtain`, from the global allocator.
        unsafe { Global.give_back(block, layout) };
    }
}

struct Growing {
    pool: Pool,
    seen: Rc<Cell<Seen>>,
    refuse: Rc<Cell<bool>>,
}

fn growing(block_size: usize, own_blocks: usize, first_slab: usize) -> Growing {
    let source = Counting::default();
    let (seen, refuse) = (source.seen.clone(), source.refuse.clone());
    let mut pool = Pool::new(block_size, own_blocks).unwrap();
    assert!(!pool.grows());
    pool.set_upstream(Box::new(source), first_slab).unwrap();
    assert!(pool.grows());
    Growing { pool, seen, refuse }
}

fn addr(block: NonNull<u8>) -> usize {
    block.as_ptr() as usize
}

/// Everything a failed call must leave as it was.
fn state(pool: &Pool) -> (usize, usize, usize) {
    (pool.num_free(), pool.num_allocated(), pool.capacity())
}

#[test]
fn growth_is_logarithmic_and_every_block_is_valid_aligned_and_disjoint() {
    let Growing { mut pool, seen, .. } = growing(48, 10, 1024);
    let own = pool.capacity();
    assert_eq!(own, 480);
    let mut blocks = Vec::new();
    for i in 0..100_000usize {
        let block = pool.alloc_block().unwrap();
        assert_eq!(addr(block) % 16, 0);
        // SAFETY: a block of 48 bytes, handed out just now.
        unsafe { block.as_ptr().cast::<u64>().write(i as u64) };
        blocks.push(block);
    }
    let after = seen.get();
    // 4.8 MB from slabs doubling from 1 KiB: 13 calls.
    assert!(after.calls <= 14, "{after:?}");
    assert_eq!(after.live, after.calls);
    assert_eq!(pool.capacity(), own + after.bytes);
    assert_eq!(pool.num_allocated(), 100_000);
    // Every block held is free or in use; a slab wastes less than a block.
    let held_blocks = pool.num_free() + pool.num_allocated();
    assert!(held_blocks * 48 <= pool.capacity());
    assert!(held_blocks * 48 > pool.capacity() - 48 * after.calls);
    // Disjoint: sorted starts are a block apart at least.
    let mut sorted: Vec<usize> = blocks.iter().map(|&b| addr(b)).collect();
    sorted.sort_unstable();
    assert!(sorted.windows(2).all(|pair| pair[1] - pair[0] >= 48));
    for (i, &block) in blocks.iter().enumerate() {
        assert!(pool.owns(addr(block)));
        // SAFETY: as written above.
        assert_eq!(unsafe { block.as_ptr().cast::<u64>().read() }, i as u64);
    }
    for &block in &blocks {
        pool.dealloc(block).unwrap();
    }
    assert_eq!(pool.num_allocated(), 0);
    // Every block free again is served again before any new slab.
    for _ in 0..100_000 {
        pool.alloc_block().unwrap();
    }
    assert_eq!(seen.get().calls, after.calls);
    drop(pool);
    assert_eq!(seen.get().live, 0);
}

#[test]
fn bad_frees_in_slabs_are_refused_with_nothing_changed() {
    let Growing { mut pool, .. } = growing(24, 2, 240);
    let mut other = Pool::new(24, 4).unwrap();
    let foreign = addr(other.alloc_block().unwrap());
    // Two own blocks, then a slab of 10, then one of 20 (of which 5 used).
    let blocks: Vec<usize> = (0..17).map(|_| addr(pool.alloc_block().unwrap())).collect();
    let in_slab = blocks[5];
    let newest = blocks[16];
    pool.dealloc(ptr(blocks[3])).unwrap();
    let before = state(&pool);
    for bad in [
        in_slab + 8,
        in_slab + 1,
        in_slab - 8,
        newest + 16,
        foreign,
        8,
        usize::MAX - 7,
        usize::MAX,
    ] {
        assert_eq!(
            pool.dealloc(ptr(bad)),
            Err(Error::ForeignPointer),
            "{bad:#x}"
        );
        assert!(!pool.owns(bad));
        assert_eq!(state(&pool), before);
    }
    // Freed, and never handed out (a block start past the slab's frontier).
    for free in [blocks[3], newest + 24, newest + 48] {
        assert_eq!(pool.dealloc(ptr(free)), Err(Error::DoubleFree), "{free:#x}");
        assert_eq!(state(&pool), before);
    }
    // The end of the last slab is no block start.
    let last_slab_end = newest + 24 * 16;
    assert_eq!(pool.dealloc(ptr(last_slab_end)), Err(Error::ForeignPointer));
    // Through the interface: the same refusals, and live slab blocks work.
    // SAFETY: blocks of this pool, or pointers it refuses.
    unsafe {
        assert_eq!(pool.resize(ptr(in_slab), layout(24, 8), 16), Ok(24));
        assert_eq!(pool.readable(ptr(in_slab), layout(24, 8)), Ok(24));
        assert_eq!(
            pool.readable(ptr(blocks[3]), layout(24, 8)),
            Err(Error::DoubleFree)
        );
        assert_eq!(
            pool.resize(ptr(in_slab + 8), layout(24, 8), 8),
            Err(Error::ForeignPointer)
        );
        pool.free(ptr(in_slab), layout(24, 8)).unwrap();
        assert_eq!(
            pool.free(ptr(in_slab), layout(24, 8)),
            Err(Error::DoubleFree)
        );
    }
    assert_eq!(pool.num_allocated(), before.1 - 1);
}

#[test]
fn freed_blocks_of_every_slab_come_back_before_fresh_ones() {
    let Growing { mut pool, seen, .. } = growing(16, 1, 64);
    // Own block, slab of 4, slab of 8: 13 blocks, the last slab full.
    let blocks: Vec<usize> = (0..13).map(|_| addr(pool.alloc_block().unwrap())).collect();
    let calls = seen.get().calls;
    assert_eq!(calls, 2);
    assert_eq!(pool.num_free(), 0);
    // One from each slab, then one of the own buffer.
    for &i in &[2, 9, 0] {
        pool.dealloc(ptr(blocks[i])).unwrap();
    }
    assert_eq!(pool.num_free(), 3);
    let again: BTreeSet<usize> = (0..3).map(|_| addr(pool.alloc_block().unwrap())).collect();
    assert_eq!(again, [blocks[0], blocks[2], blocks[9]].into());
    assert_eq!(seen.get().calls, calls);
    // Now a new slab.
    let fresh = addr(pool.alloc_block().unwrap());
    assert!(!blocks.contains(&fresh));
    assert_eq!(seen.get().calls, calls + 1);
}

#[test]
fn a_block_larger_than_the_first_slab_gets_a_slab_of_its_own() {
    for block_size in [104usize, 4104, 10_000] {
        let Growing { mut pool, seen, .. } = growing(block_size, 1, 64);
        let own = addr(pool.alloc_block().unwrap());
        let a = addr(pool.alloc_block().unwrap());
        let b = addr(pool.alloc_block().unwrap());
        assert!(seen.get().calls >= 1);
        assert!(a != own && b != a && b != own);
        for block in [a, b] {
            assert_eq!(block % 8, 0);
            // Exact division, in a slab too: no offset but 0 is a start.
            for offset in [8, 16, block_size / 2, block_size - 8] {
                assert_eq!(
                    pool.dealloc(ptr(block + offset)),
                    Err(Error::ForeignPointer)
                );
            }
        }
        pool.dealloc(ptr(a)).unwrap();
        pool.dealloc(ptr(b)).unwrap();
        assert_eq!(pool.num_allocated(), 1);
    }
}

#[test]
fn the_limit_is_exhausted_and_a_refusal_out_of_memory_with_nothing_changed() {
    let Growing {
        mut pool,
        seen,
        refuse,
    } = growing(32, 4, 256);
    pool.set_limit(128 + 256).unwrap();
    for _ in 0..12 {
        pool.alloc_block().unwrap();
    }
    assert_eq!(pool.capacity(), 128 + 256);
    let before = state(&pool);
    assert_eq!(pool.alloc_block(), Err(Error::Exhausted));
    assert_eq!(pool.alloc(layout(32, 16)), Err(Error::Exhausted));
    assert_eq!(state(&pool), before);
    assert_eq!(seen.get().calls, 1);
    // A limit below what is held is refused; lifting it lets the pool grow.
    assert_eq!(pool.set_limit(128 + 255), Err(Error::InvalidArgument));
    pool.set_limit(usize::MAX).unwrap();
    // The upstream refuses: OutOfMemory, nothing changed.
    refuse.set(true);
    assert_eq!(pool.alloc_block(), Err(Error::OutOfMemory));
    assert_eq!(state(&pool), before);
    refuse.set(false);
    pool.alloc_block().unwrap();
    assert_eq!(seen.get().calls, 2);
    // A pool without an upstream is exhausted as before.
    let mut fixed = Pool::new(32, 1).unwrap();
    fixed.alloc_block().unwrap();
    assert_eq!(fixed.alloc_block(), Err(Error::Exhausted));
    assert_eq!(fixed.capacity(), 32);
}

#[test]
fn reset_keeps_the_largest_slab_and_a_reused_pool_stops_calling_upstream() {
    let Growing { mut pool, seen, .. } = growing(64, 16, 1024);
    let load = 5_000;
    let round = |pool: &mut Pool| {
        let blocks: Vec<_> = (0..load).map(|_| pool.alloc_block().unwrap()).collect();
        assert_eq!(pool.num_allocated(), load);
        blocks
    };
    let first = round(&mut pool);
    let grown = seen.get();
    assert!(grown.calls >= 5, "{grown:?}");
    pool.reset().unwrap();
    // One slab is kept: the largest; the others went back.
    let kept = seen.get();
    assert_eq!(kept.live, 1);
    assert_eq!(pool.capacity(), 16 * 64 + kept.bytes);
    assert!(kept.bytes * 2 > grown.bytes);
    assert_eq!(pool.num_allocated(), 0);
    assert_eq!(pool.num_free(), 16 + kept.bytes / 64);
    // Blocks of the last round: free now (own buffer, kept slab) or no
    // longer the pool's (slabs given back).
    for block in first {
        let refused = pool.dealloc(block);
        assert!(
            refused == Err(Error::DoubleFree) || refused == Err(Error::ForeignPointer),
            "{refused:?}"
        );
    }
    // The same load again: the kept slab and the next one hold it; after
    // that reset, the kept slab alone does, and upstream is never called
    // again.
    round(&mut pool);
    let second = seen.get().calls;
    assert!(second <= grown.calls + 1);
    pool.reset().unwrap();
    for _ in 0..3 {
        round(&mut pool);
        pool.reset().unwrap();
    }
    assert_eq!(seen.get().calls, second);
    assert_eq!(seen.get().live, 1);
    // A smaller load fits the own buffer and the kept slab at once.
    for _ in 0..load / 2 {
        pool.alloc_block().unwrap();
    }
    assert_eq!(seen.get().calls, second);
    drop(pool);
    assert_eq!(seen.get().live, 0);
}

#[test]
fn drop_buffer_gives_every_slab_back_and_the_pool_can_grow_again() {
    let Growing { mut pool, seen, .. } = growing(16, 4, 128);
    let blocks: Vec<_> = (0..100).map(|_| pool.alloc_block().unwrap()).collect();
    assert!(seen.get().live > 1);
    // An earlier upstream's slabs are held: no new upstream.
    assert_eq!(
        pool.set_upstream(Box::new(Counting::default()), 0),
        Err(Error::InvalidArgument)
    );
    pool.drop_buffer();
    assert_eq!(seen.get().live, 0);
    assert_eq!(state(&pool), (0, 0, 0));
    assert!(pool.grows());
    for block in &blocks {
        assert_eq!(pool.dealloc(*block), Err(Error::ForeignPointer));
    }
    // It grows again from slabs only, and a new upstream is accepted.
    let again = pool.alloc_block().unwrap();
    assert_eq!(seen.get().live, 1);
    pool.dealloc(again).unwrap();
    pool.drop_buffer();
    let other = Counting::default();
    let other_seen = other.seen.clone();
    pool.set_upstream(Box::new(other), 0).unwrap();
    pool.alloc_block().unwrap();
    assert_eq!(other_seen.get().bytes, crate::growth::DEFAULT_CHUNK);
    drop(pool);
    assert_eq!(other_seen.get().live, 0);
}

#[test]
fn the_quotient_is_inverted_exactly() {
    for block in [8usize, 24, 40, 48, 104, 4104, 1 << 20] {
        let pool = Pool::new(block, 3).unwrap();
        let start = pool.buffer.start();
        for address in [
            1,
            8,
            start,
            start + block,
            start + 5,
            start - 8,
            usize::MAX,
            0x1234_5678_9abc,
        ] {
            let quotient = pool.exact_quotient(address);
            assert_eq!(pool.address_of_quotient(quotient), address, "{block}");
        }
    }
}
