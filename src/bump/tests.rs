//! Unit tests of the bump arena: placement, exhaustion, rollback and
//! resize, growth from an upstream, checkpoints.

use super::*;
use crate::allocator::tests::{layout, ptr};

#[test]
fn allocations_are_aligned_disjoint_and_counted() {
    let mut bump = Bump::new(4096).unwrap();
    let a = bump.alloc(layout(8, 8)).unwrap();
    let b = bump.alloc(layout(4, 4)).unwrap();
    let c = bump.alloc(layout(80, 64)).unwrap();
    assert_eq!((a.addr() % 8, b.addr() % 4, c.addr() % 64), (0, 0, 0));
    assert!(a.addr() + 8 <= b.addr() && b.addr() + 4 <= c.addr());
    assert_eq!(bump.total_allocated(), 92);
    assert!(bump.remaining() <= 4096 - 92);
    bump.reset().unwrap();
    assert_eq!((bump.remaining(), bump.total_allocated()), (4096, 0));
}

#[test]
fn misaligned_borrowed_buffer_still_gives_aligned_addresses() {
    let mut storage = vec![0u8; 1024 + 3];
    let start = storage.as_mut_ptr() as usize + 3;
    // SAFETY: the range lies inside `storage`, which outlives `bump`.
    let mut bump = unsafe { Bump::from_buffer(start, 1024) }.unwrap();
    for align in [1, 2, 4, 8, 16, 32, 64, 128] {
        let a = bump.alloc(layout(5, align)).unwrap();
        assert_eq!(a.addr() % align, 0);
        assert!(a.addr() >= start && a.addr() + 5 <= start + 1024);
    }
}

#[test]
fn exhaustion_leaves_state_unchanged() {
    let mut bump = Bump::new(64).unwrap();
    bump.alloc(layout(40, 8)).unwrap();
    let before = (bump.remaining(), bump.total_allocated());
    assert_eq!(bump.alloc(layout(40, 8)), Err(Error::Exhausted));
    assert_eq!(
        bump.alloc(layout(isize::MAX as usize, 1)),
        Err(Error::Exhausted)
    );
    assert_eq!(bump.alloc(layout(8, 1 << 62)), Err(Error::Exhausted));
    assert_eq!(before, (bump.remaining(), bump.total_allocated()));
}

#[test]
fn zero_size_requests_follow_one_byte_requests() {
    let mut empty = Bump::new(0).unwrap();
    assert_eq!(empty.alloc(layout(0, 1)), Err(Error::Exhausted));
    let mut bump = Bump::new(2).unwrap();
    let a = bump.alloc(layout(0, 1)).unwrap();
    let b = bump.alloc(layout(0, 1)).unwrap();
    assert!(a.ptr != b.ptr && a.size == 0);
    assert_eq!(bump.alloc(layout(0, 1)), Err(Error::Exhausted));
}

#[test]
fn drop_buffer_leaves_an_empty_usable_arena() {
    let mut bump = Bump::new(128).unwrap();
    bump.alloc(layout(16, 8)).unwrap();
    bump.drop_buffer();
    assert_eq!(
        (bump.capacity(), bump.remaining(), bump.total_allocated()),
        (0, 0, 0)
    );
    assert_eq!(bump.alloc(layout(1, 1)), Err(Error::Exhausted));
}

#[test]
fn zeroed_allocations_are_zero() {
    let mut bump = Bump::new(256).unwrap();
    let a = bump.alloc(layout(64, 8)).unwrap();
    // SAFETY: `a` is 64 bytes inside the arena.
    unsafe { a.ptr.as_ptr().write_bytes(0xFF, 64) };
    bump.reset().unwrap();
    let z = bump.alloc_zeroed(layout(64, 8)).unwrap();
    // SAFETY: `z` is 64 bytes inside the arena.
    let bytes = unsafe { core::slice::from_raw_parts(z.ptr.as_ptr(), 64) };
    assert!(bytes.iter().all(|&b| b == 0));
}

#[test]
fn the_most_recent_block_rolls_back_and_resizes_in_place() {
    let mut bump = Bump::new(256).unwrap();
    let a = bump.alloc(layout(16, 8)).unwrap();
    let b = bump.alloc(layout(16, 8)).unwrap();
    // SAFETY: pointers of this arena, or refused.
    unsafe {
        assert_eq!(bump.resize(b.ptr, layout(16, 8), 100), Ok(100));
        assert_eq!(bump.remaining(), 256 - 16 - 100);
        assert_eq!(bump.total_allocated(), 116);
        assert_eq!(
            bump.resize(b.ptr, layout(100, 8), 300),
            Err(Error::Exhausted)
        );
        // An older block shrinks, never grows.
        assert_eq!(bump.resize(a.ptr, layout(16, 8), 8), Ok(8));
        assert_eq!(bump.resize(a.ptr, layout(16, 8), 17), Err(Error::Exhausted));
        // Freeing an older block changes nothing; the newest rolls back.
        bump.free(a.ptr, layout(16, 8)).unwrap();
        assert_eq!(bump.remaining(), 256 - 116);
        bump.free(b.ptr, layout(100, 8)).unwrap();
        assert_eq!((bump.remaining(), bump.total_allocated()), (240, 16));
        // It is gone: outside the used part now.
        assert_eq!(bump.free(b.ptr, layout(100, 8)), Err(Error::ForeignPointer));
        assert_eq!(bump.free(ptr(1), layout(1, 1)), Err(Error::ForeignPointer));
        assert_eq!(bump.alloc(layout(8, 8)).unwrap().ptr, b.ptr);
    }
}

/// A counting source over the global allocator: the upstream of the
/// growth tests.
#[derive(Default)]
struct Counting {
    obtained: std::rc::Rc<std::cell::Cell<(usize, usize)>>,
    refuse_after: Option<usize>,
}

impl Source for Counting {
    fn obtain(&mut self, layout: Layout, _zeroed: bool) -> Result<Block, Error> {
        let (calls, live) = self.obtained.get();
        if self.refuse_after.is_some_and(|limit| calls >= limit) {
            return Err(Error::OutOfMemory);
        }
        let block = crate::global::Global.alloc_zeroed(layout)?;
        self.obtained.set((calls + 1, live + 1));
        Ok(block)
    }

    unsafe fn give_back(&mut self, block: Block, layout: Layout) {
        let (calls, live) = self.obtained.get();
        self.obtained.set((calls, live - 1));
        // SAFETY: the block came from `obtain`, from the global allocator.
        unsafe { crate::global::Global.free(block.ptr, layout) }.unwrap();
    }
}

fn growing(own: usize, first_chunk: usize) -> (Bump, std::rc::Rc<std::cell::Cell<(usize, usize)>>) {
    let source = Counting::default();
    let counter = source.obtained.clone();
    let mut bump = Bump::new(own).unwrap();
    bump.set_upstream(Box::new(source), first_chunk).unwrap();
    (bump, counter)
}

#[test]
fn a_growing_arena_calls_upstream_logarithmically_and_gives_everything_back() {
    let (mut bump, counter) = growing(256, 1024);
    let mut blocks = Vec::new();
    for i in 0..100_000usize {
        let b = bump.alloc(layout(16 + i % 48, 8)).unwrap();
        assert_eq!(b.addr() % 8, 0);
        blocks.push(b);
    }
    let (calls, live) = counter.get();
    // About 4 MB served from chunks doubling from 1 KiB: about 12 calls.
    assert!(calls <= 16, "{calls} upstream calls");
    assert_eq!(live, calls);
    for pair in blocks.windows(2) {
        assert!(
            pair[0].addr() + pair[0].size <= pair[1].addr()
                || pair[1].addr() + pair[1].size <= pair[0].addr()
        );
    }
    // Every block is known: an older block frees (to nothing), a foreign
    // pointer does not.
    // SAFETY: pointers of this arena, or refused ones.
    unsafe {
        bump.free(blocks[10].ptr, layout(26, 8)).unwrap();
        assert_eq!(bump.free(ptr(8), layout(1, 1)), Err(Error::ForeignPointer));
    }
    assert!(bump.owns(blocks[0].addr()) && bump.owns(blocks[99_999].addr()));
    // Reset keeps the largest chunk and gives back the others.
    bump.reset().unwrap();
    assert_eq!(counter.get().1, 1);
    let kept = bump.capacity() - 256;
    assert!(kept >= 1 << 20, "{kept}");
    // A reused arena stops calling upstream.
    for _ in 0..3 {
        for i in 0..10_000usize {
            bump.alloc(layout(16 + i % 48, 8)).unwrap();
        }
        bump.reset().unwrap();
    }
    assert_eq!(counter.get().0, calls);
    drop(bump);
    assert_eq!(counter.get().1, 0);
}

#[test]
fn an_oversized_request_gets_a_chunk_of_its_own() {
    let (mut bump, counter) = growing(0, 1024);
    let big = bump.alloc(layout(1 << 20, 4096)).unwrap();
    assert_eq!(big.addr() % 4096, 0);
    assert_eq!(counter.get().0, 1);
    assert!(bump.capacity() >= (1 << 20) + 4096);
}

#[test]
fn limits_and_refusals_fail_with_nothing_changed() {
    let (mut bump, counter) = growing(128, 1024);
    bump.set_limit(128 + 1024).unwrap();
    bump.alloc(layout(100, 8)).unwrap();
    bump.alloc(layout(1000, 8)).unwrap(); // a chunk of 1024
    let before = (bump.remaining(), bump.total_allocated(), bump.capacity());
    assert_eq!(bump.alloc(layout(100, 8)), Err(Error::Exhausted));
    assert_eq!(
        before,
        (bump.remaining(), bump.total_allocated(), bump.capacity())
    );
    assert_eq!(bump.set_limit(100), Err(Error::InvalidArgument));
    bump.set_limit(usize::MAX).unwrap();
    // The upstream refuses: OutOfMemory, nothing changed.
    let (mut refused, _) = growing(0, 64);
    let source = Counting {
        refuse_after: Some(0),
        ..Counting::default()
    };
    let mut empty = Bump::new(0).unwrap();
    empty.set_upstream(Box::new(source), 0).unwrap();
    assert_eq!(empty.alloc(layout(8, 8)), Err(Error::OutOfMemory));
    assert_eq!((empty.remaining(), empty.capacity()), (0, 0));
    refused.alloc(layout(8, 8)).unwrap();
    drop(counter);
}

#[test]
fn marks_nest_release_and_go_stale() {
    let (mut bump, counter) = growing(256, 256);
    bump.alloc(layout(100, 8)).unwrap();
    let a = bump.mark().unwrap();
    let at_a = (bump.remaining(), bump.total_allocated());
    bump.alloc(layout(100, 8)).unwrap();
    let b = bump.mark().unwrap();
    let at_b = (bump.remaining(), bump.total_allocated());
    for _ in 0..100 {
        bump.alloc(layout(200, 8)).unwrap();
    }
    let calls = counter.get().0;
    assert!(calls > 3);
    // Release to b again and again: it stays live, and the chunks come
    // back but one, so a loop does not call upstream each round.
    for _ in 0..3 {
        bump.release_to(b).unwrap();
        assert_eq!((bump.remaining(), bump.total_allocated()), at_b);
        for _ in 0..3 {
            bump.alloc(layout(200, 8)).unwrap();
        }
    }
    assert!(counter.get().0 <= calls + 1);
    bump.release_to(a).unwrap();
    assert_eq!((bump.remaining(), bump.total_allocated()), at_a);
    // b was taken after a: stale now, and nothing changes.
    assert_eq!(bump.release_to(b), Err(Error::StaleMark));
    assert_eq!((bump.remaining(), bump.total_allocated()), at_a);
    // Forged values, another arena's marks, marks before a reset.
    let mut other = Bump::new(64).unwrap();
    let foreign = other.mark().unwrap();
    for forged in [-1, 0, 1, a + 1, a ^ (1 << 40), foreign] {
        if forged != a {
            assert_eq!(bump.release_to(forged), Err(Error::StaleMark), "{forged}");
        }
    }
    bump.reset().unwrap();
    assert_eq!(bump.release_to(a), Err(Error::StaleMark));
    assert!(bump.peak() >= 100 * 200);
}

#[test]
fn a_mark_covers_the_most_recent_block() {
    let mut bump = Bump::new(256).unwrap();
    let a = bump.alloc(layout(16, 8)).unwrap();
    let m = bump.mark().unwrap();
    // SAFETY: a pointer of this arena.
    unsafe { bump.free(a.ptr, layout(16, 8)).unwrap() };
    // Not rolled back: it lies below the mark.
    assert_eq!(bump.total_allocated(), 16);
    bump.release_to(m).unwrap();
    assert_eq!(bump.remaining(), 240);
}

/// The unchecked fast path agrees with the checked one on every layout, the
/// invalid ones included (which it must never serve), at the bottom of the
/// buffer and at its very end.
#[test]
fn the_unchecked_fast_path_serves_exactly_the_valid_layouts_that_fit() {
    let sizes: [i64; 10] = [0, 1, 7, 8, 100, 4096, 4097, i64::MAX, -1, i64::MIN];
    let aligns: [i64; 12] = [1, 2, 8, 64, 4096, 1 << 62, 0, 3, 12, -1, -8, i64::MIN];
    let mut bump = Bump::new(4096).unwrap();
    for used in [0usize, 4000, 4095, 4096] {
        for &size in &sizes {
            for &align in &aligns {
                let mut outcome = |unchecked: bool| {
                    bump.reset().unwrap();
                    if used > 0 {
                        bump.alloc(layout(used, 1)).unwrap();
                    }
                    let block = if unchecked {
                        bump.alloc_fast_unchecked(size as usize, align as usize)
                    } else {
                        let valid = crate::ffi::types::Layout::new(size, align).check();
                        valid.ok().and_then(|l| bump.alloc_fast(l))
                    };
                    (block, bump.total_allocated(), bump.remaining())
                };
                let (got, want) = (outcome(true), outcome(false));
                assert_eq!(got, want, "size {size} align {align} after {used} bytes");
            }
        }
    }
}

#[test]
fn check_names_a_scribbled_top() {
    use crate::inspect::Inspect;
    let mut bump = Bump::new(256).unwrap();
    bump.alloc(Layout::from_size_align(10, 8).unwrap()).unwrap();
    assert_eq!(bump.check(), Ok(()));
    let top = bump.top;
    bump.top = bump.end + 8;
    let damage = bump.check().unwrap_err();
    assert!(damage.contains("outside the current region"), "{damage}");
    bump.top = top;
    assert_eq!(bump.check(), Ok(()));
}
