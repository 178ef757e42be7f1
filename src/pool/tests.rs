//! Unit tests of the block pool: placement, alignment, bad frees, the
//! exact-division test, reset.

use super::*;
use crate::allocator::tests::{layout, ptr};

fn addr(block: NonNull<u8>) -> usize {
    block.as_ptr() as usize
}

#[test]
fn reference_example_reads_98_free() {
    let mut pool = Pool::new(64, 100).unwrap();
    let _a = pool.alloc_block().unwrap();
    let b = pool.alloc_block().unwrap();
    let _c = pool.alloc_block().unwrap();
    pool.dealloc(b).unwrap();
    assert_eq!((pool.num_free(), pool.num_allocated()), (98, 2));
}

#[test]
fn block_sizes_round_up_and_align() {
    for (asked, used, align) in [
        (1, 8, 8),
        (8, 8, 8),
        (12, 16, 16),
        (24, 24, 8),
        (40, 40, 8),
        (48, 48, 16),
        (100, 104, 8),
    ] {
        let mut pool = Pool::new(asked, 5).unwrap();
        assert_eq!(pool.block_size(), used);
        for _ in 0..5 {
            assert_eq!(
                addr(pool.alloc_block().unwrap()) % align,
                0,
                "block size {asked}"
            );
        }
        assert_eq!(pool.alloc_block(), Err(Error::Exhausted));
    }
}

#[test]
fn bad_arguments_are_refused() {
    for (size, count) in [
        (64, 0),
        (0, 10),
        (usize::MAX - 2, 1),
        (isize::MAX as usize, 2),
        (64, MAX_BLOCKS + 1),
    ] {
        assert_eq!(
            Pool::new(size, count).unwrap_err(),
            Error::InvalidArgument,
            "{size} {count}"
        );
    }
    assert_eq!(Pool::new(1 << 40, 1 << 22).unwrap_err(), Error::OutOfMemory);
}

#[test]
fn foreign_interior_and_double_frees_change_nothing() {
    let mut pool = Pool::new(24, 4).unwrap();
    let mut other = Pool::new(24, 4).unwrap();
    let a = addr(pool.alloc_block().unwrap());
    let b = addr(pool.alloc_block().unwrap());
    let foreign = addr(other.alloc_block().unwrap());
    for bad in [a + 8, a - 8, b + 8, b + 96, foreign, 8, usize::MAX] {
        assert_eq!(
            pool.dealloc(ptr(bad)),
            Err(Error::ForeignPointer),
            "{bad:#x}"
        );
    }
    // Block starts never handed out are free blocks.
    for never in [b + 24, b + 48] {
        assert_eq!(pool.dealloc(ptr(never)), Err(Error::DoubleFree));
    }
    pool.dealloc(ptr(a)).unwrap();
    assert_eq!(pool.dealloc(ptr(a)), Err(Error::DoubleFree));
    assert_eq!((pool.num_free(), pool.num_allocated()), (3, 1));
    assert!(pool.owns(b) && !pool.owns(a));
    assert_eq!(addr(pool.alloc_block().unwrap()), a);
    let c = addr(pool.alloc_block().unwrap());
    assert!(c != a && c != b);
}

#[test]
fn exact_division_test_matches_division() {
    for block in [8usize, 24, 40, 56, 72, 96, 104, 1000, 4104] {
        let mut pool = Pool::new(block, 50).unwrap();
        for _ in 0..50 {
            pool.alloc_block().unwrap();
        }
        let start = pool.buffer.start();
        for offset in 0..block * 52 {
            let expected = (offset % block == 0 && offset / block < 50).then_some(offset / block);
            assert_eq!(
                pool.block_index(start + offset),
                expected,
                "{block} {offset}"
            );
        }
    }
}

#[test]
fn creation_does_not_touch_a_large_buffer() {
    // A million 64-byte blocks: only bookkeeping for handed-out blocks
    // is ever written.
    let mut pool = Pool::new(64, 1_000_000).unwrap();
    assert_eq!(pool.links.len(), 0);
    pool.alloc_block().unwrap();
    assert_eq!(pool.links.len(), 1);
    assert_eq!(pool.num_free(), 999_999);
}

#[test]
fn drop_buffer_leaves_an_empty_pool() {
    let mut pool = Pool::new(64, 10).unwrap();
    let a = pool.alloc_block().unwrap();
    pool.drop_buffer();
    assert_eq!((pool.num_free(), pool.num_allocated()), (0, 0));
    assert_eq!(pool.alloc_block(), Err(Error::Exhausted));
    assert_eq!(pool.dealloc(a), Err(Error::ForeignPointer));
}

#[test]
fn through_the_interface_layouts_past_the_block_are_unsupported() {
    let mut pool = Pool::new(24, 4).unwrap();
    assert_eq!(pool.block_align(), 8);
    let a = pool.alloc(layout(24, 8)).unwrap();
    assert_eq!(a.size, 24);
    assert_eq!(pool.alloc(layout(25, 8)), Err(Error::Unsupported));
    assert_eq!(pool.alloc(layout(8, 16)), Err(Error::Unsupported));
    // SAFETY: a block of this pool, or pointers it refuses.
    unsafe {
        assert_eq!(pool.resize(a.ptr, layout(24, 8), 1), Ok(24));
        assert_eq!(
            pool.resize(a.ptr, layout(24, 8), 25),
            Err(Error::Unsupported)
        );
        let moved = pool.realloc(a.ptr, layout(24, 8), layout(16, 8)).unwrap();
        assert_eq!(moved.ptr, a.ptr);
        assert_eq!(
            pool.realloc(a.ptr, layout(24, 8), layout(32, 8)),
            Err(Error::Unsupported)
        );
        assert_eq!(
            pool.readable(ptr(addr(a.ptr) + 8), layout(8, 8)),
            Err(Error::ForeignPointer)
        );
        pool.free(a.ptr, layout(24, 8)).unwrap();
        assert_eq!(pool.resize(a.ptr, layout(24, 8), 8), Err(Error::DoubleFree));
    }
    assert_eq!(pool.num_allocated(), 0);
}

#[test]
fn reset_frees_every_block_at_once() {
    let mut pool = Pool::new(16, 3).unwrap();
    let blocks: Vec<_> = (0..3).map(|_| pool.alloc_block().unwrap()).collect();
    pool.reset().unwrap();
    assert_eq!((pool.num_free(), pool.num_allocated()), (3, 0));
    for block in &blocks {
        assert_eq!(pool.dealloc(*block), Err(Error::DoubleFree));
    }
    let again: Vec<_> = (0..3).map(|_| pool.alloc_block().unwrap()).collect();
    assert_eq!(again, blocks);
    assert_eq!(pool.alloc_block(), Err(Error::Exhausted));
}

#[test]
fn check_names_a_scribbled_counter_and_link() {
    use crate::inspect::Inspect;
    let mut pool = Pool::new(16, 8).unwrap();
    let a = pool.alloc_block().unwrap();
    let _b = pool.alloc_block().unwrap();
    pool.dealloc(a).unwrap();
    assert_eq!(pool.check(), Ok(()));
    pool.allocated += 1;
    let damage = pool.check().unwrap_err();
    assert!(
        damage.contains("1 marked in use, the counter says 2"),
        "{damage}"
    );
    pool.allocated -= 1;
    let saved = pool.links[0];
    pool.links[0] = 5;
    let damage = pool.check().unwrap_err();
    assert!(
        damage.contains("a link to block 5, beyond the 2 handed out"),
        "{damage}"
    );
    pool.links[0] = saved;
    pool.free_head = 1;
    let damage = pool.check().unwrap_err();
    assert!(
        damage.contains("block 1: on the free list but marked in use"),
        "{damage}"
    );
    pool.free_head = 0;
    assert_eq!(pool.check(), Ok(()));
}
