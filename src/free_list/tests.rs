//! Unit tests of the free list's behaviour: placement, alignment, reuse,
//! exhaustion, `realloc`, and the queries. (Its defences against stray
//! writes are in `tests_integrity`.)

use super::*;
pub(super) use crate::ffi::types::{Allocation, Layout};
use core::ops::{Deref, DerefMut};

/// A free list seen as C code sees it, through the ABI's conversions:
/// `int64_t` sizes and addresses, pointer 0 a no-op. The tests are written
/// in these terms (they feed invalid layouts and foreign addresses); the
/// list itself is reached through `Deref`.
#[derive(Debug)]
pub(super) struct TestList(FreeList);

impl TestList {
    pub(super) fn new(capacity: i64) -> Result<TestList, Error> {
        let capacity = usize::try_from(capacity).map_err(|_| Error::InvalidArgument)?;
        // The heap's own behaviour (placement, merging, integrity): every
        // free merges at once. The cache has tests of its own
        // (tests_cache.rs), and the property tests run with it on and off.
        let mut list = FreeList::new(capacity)?;
        list.set_cache(false);
        Ok(TestList(list))
    }

    pub(super) fn alloc(&mut self, layout: Layout) -> Result<Allocation, Error> {
        Ok(self.0.alloc(layout.check()?)?.into())
    }

    pub(super) fn dealloc(&mut self, ptr: i64) -> Result<(), Error> {
        match NonNull::new(ptr as usize as *mut u8) {
            Some(ptr) => self.0.dealloc(ptr),
            None => Ok(()),
        }
    }

    pub(super) fn realloc(&mut self, ptr: i64, layout: Layout) -> Result<Allocation, Error> {
        let layout = layout.check()?;
        Ok(match NonNull::new(ptr as usize as *mut u8) {
            Some(ptr) => self.0.realloc_block(ptr, layout)?,
            None => self.0.alloc(layout)?,
        }
        .into())
    }
}

impl Deref for TestList {
    type Target = FreeList;
    fn deref(&self) -> &FreeList {
        &self.0
    }
}

impl DerefMut for TestList {
    fn deref_mut(&mut self) -> &mut FreeList {
        &mut self.0
    }
}

/// Panics unless every invariant holds.
pub(super) fn check(list: &FreeList) {
    list.check_consistency().unwrap();
}

/// Whether two allocations are disjoint: their usable bytes, and the
/// header word before each (word 0 is the predecessor's last word).
pub(super) fn disjoint(a: &Allocation, b: &Allocation) -> bool {
    let overhead = OVERHEAD as i64;
    a.ptr + a.size <= b.ptr - overhead || b.ptr + b.size <= a.ptr - overhead
}

/// Writes `value` at `address` (inside a list's buffer), as a caller's
/// stray write would.
pub(super) fn scribble<T>(address: i64, value: T) {
    // SAFETY: every caller passes an address inside a live list's
    // buffer, with room for a `T`.
    unsafe { (address as usize as *mut T).write_unaligned(value) }
}

#[test]
fn reference_example_and_reuse() {
    let mut list = TestList::new(8192).unwrap();
    let a1 = list.alloc(Layout::new(100, 8)).unwrap();
    let a2 = list.alloc(Layout::new(500, 8)).unwrap();
    let a3 = list.alloc(Layout::new(200, 8)).unwrap();
    assert!(a1.size >= 100 && a2.size >= 500 && a3.size >= 200);
    check(&list);
    list.dealloc(a2.ptr).unwrap();
    list.dealloc(a1.ptr).unwrap();
    check(&list);
    let a4 = list.alloc(Layout::new(300, 8)).unwrap();
    assert!(
        a4.ptr >= a1.ptr && a4.ptr < a3.ptr,
        "reuses the merged space"
    );
    check(&list);
    list.dealloc(a3.ptr).unwrap();
    list.dealloc(a4.ptr).unwrap();
    check(&list);
    assert_eq!((list.remaining(), list.total_allocated()), (8192, 0));
    assert_eq!(list.largest_free_block(), 8192 - OVERHEAD);
}

#[test]
fn alignment_is_real_and_padding_is_not_leaked() {
    let mut list = TestList::new(1 << 20).unwrap();
    let mut live = vec![];
    for shift in 0..=14 {
        let a = list.alloc(Layout::new(40, 1 << shift)).unwrap();
        assert_eq!(a.ptr % (1 << shift), 0, "align {}", 1 << shift);
        live.push(a);
        check(&list);
    }
    let in_use: i64 = live.iter().map(|a| a.size + OVERHEAD as i64).sum();
    assert_eq!(
        list.total_allocated() as i64,
        in_use,
        "gaps are free, not in use"
    );
    for a in live {
        list.dealloc(a.ptr).unwrap();
        check(&list);
    }
    assert_eq!(list.largest_free_block(), (1 << 20) - OVERHEAD);
}

#[test]
fn exhaustion_and_bad_layouts() {
    let mut list = TestList::new(256).unwrap();
    assert_eq!(list.alloc(Layout::new(256, 8)), Err(Error::Exhausted));
    assert_eq!(list.alloc(Layout::new(i64::MAX, 1)), Err(Error::Exhausted));
    assert_eq!(list.alloc(Layout::new(8, 1 << 62)), Err(Error::Exhausted));
    assert_eq!(list.alloc(Layout::new(-1, 8)), Err(Error::InvalidLayout));
    let all = list.alloc(Layout::new(240, 8)).unwrap();
    assert_eq!(all.size, 256 - OVERHEAD as i64, "the whole heap");
    assert_eq!(list.alloc(Layout::new(0, 1)), Err(Error::Exhausted));
    assert_eq!(list.largest_free_block(), 0);
    check(&list);
    assert_eq!(TestList::new(31).unwrap_err(), Error::InvalidArgument);
    assert_eq!(TestList::new(-1).unwrap_err(), Error::InvalidArgument);
    assert_eq!(
        TestList::new(MAX_CAPACITY as i64 + 1).unwrap_err(),
        Error::InvalidArgument
    );
}

#[test]
fn an_aligned_request_that_fits_the_top_block_succeeds() {
    // The worst-case search wants 4016 + 64 + 32 bytes, more than the
    // heap; the actual gap (0..=80 bytes) leaves room in the one block.
    let mut list = TestList::new(4096).unwrap();
    let a = list.alloc(Layout::new(4000, 64)).unwrap();
    assert_eq!(a.ptr % 64, 0);
    check(&list);
    assert_eq!(list.alloc(Layout::new(4000, 64)), Err(Error::Exhausted));
    list.dealloc(a.ptr).unwrap();
    assert_eq!(list.remaining(), 4096);
    check(&list);
}

#[test]
fn a_small_request_splits_a_block_rather_than_keep_16_bytes_it_cannot_use() {
    let mut list = TestList::new(1 << 12).unwrap();
    let snug = list.alloc(Layout::new(40, 8)).unwrap(); // 48-byte block
    let _w1 = list.alloc(Layout::new(8, 8)).unwrap();
    let big = list.alloc(Layout::new(88, 8)).unwrap(); // 96-byte block
    let _w2 = list.alloc(Layout::new(8, 8)).unwrap();
    let largest = list.largest_free_block() as i64;
    let _rest = list.alloc(Layout::new(largest, 8));
    list.dealloc(snug.ptr).unwrap();
    list.dealloc(big.ptr).unwrap();
    // 24 bytes need a 32-byte block: the 48-byte one would keep 16
    // bytes in use, the 96-byte one splits into 32 + 64.
    let a = list.alloc(Layout::new(24, 8)).unwrap();
    assert_eq!((a.ptr, a.size), (big.ptr, 24));
    // The snug block is still free, for a request of its size.
    let b = list.alloc(Layout::new(40, 8)).unwrap();
    assert_eq!((b.ptr, b.size), (snug.ptr, 40));
    check(&list);
}

#[test]
fn a_freed_block_of_the_requests_own_class_is_reused_before_larger_ones() {
    // A 560-byte block sits in the class [544, 576); good fit alone
    // would skip that class for a 560-byte request and split the big
    // free block instead.
    for align in [8, 16, 32, 64] {
        let mut list = TestList::new(1 << 16).unwrap();
        let a = list.alloc(Layout::new(544, 8)).unwrap();
        let _wall = list.alloc(Layout::new(16, 8)).unwrap();
        list.dealloc(a.ptr).unwrap();
        let again = list.alloc(Layout::new(544, align)).unwrap();
        assert_eq!(again.ptr % align, 0);
        // The freed block serves when its payload happens to be aligned
        // enough (always for align <= 16; the buffer is only 16-aligned,
        // so for more it depends on where the buffer landed): it has no
        // room for a gap.
        if a.ptr % align == 0 {
            assert_eq!(again.ptr, a.ptr, "align {align}");
        } else {
            assert_ne!(again.ptr, a.ptr, "align {align}");
        }
        check(&list);
    }
    // A head too small for the request is passed over, not split.
    let mut list = TestList::new(1 << 16).unwrap();
    let a = list.alloc(Layout::new(520, 8)).unwrap();
    let _wall = list.alloc(Layout::new(16, 8)).unwrap();
    list.dealloc(a.ptr).unwrap();
    let bigger = list.alloc(Layout::new(540, 8)).unwrap();
    assert_ne!(bigger.ptr, a.ptr);
    check(&list);
}

#[test]
fn every_usable_byte_belongs_to_the_caller() {
    // Fill the whole usable size of every block (the last word of each
    // is its successor's word 0, the last block's is past the heap),
    // free every other one, reuse, and check that nothing was disturbed.
    // (That the buffer really has the spare word past the heap is for
    // the C test of the same name under ASan and Valgrind to see: here
    // the system allocator's rounding would hide its absence.)
    let mut list = TestList::new(1 << 14).unwrap();
    let mut live = vec![];
    let mut size = 1;
    while let Ok(a) = list.alloc(Layout::new(size, 8)) {
        live.push((a, live.len() as u8));
        size = size * 7 % 500 + 1;
    }
    let fill = |a: &Allocation, tag: u8| {
        // SAFETY: `a`'s usable bytes lie in the list's buffer.
        unsafe { std::ptr::write_bytes(a.ptr as usize as *mut u8, tag, a.size as usize) }
    };
    let intact = |a: &Allocation, tag: u8| {
        // SAFETY: as for `fill`.
        let bytes =
            unsafe { std::slice::from_raw_parts(a.ptr as usize as *const u8, a.size as usize) };
        bytes.iter().all(|&b| b == tag)
    };
    for (a, tag) in &live {
        fill(a, *tag);
    }
    check(&list);
    for (a, _) in live.iter().step_by(2) {
        list.dealloc(a.ptr).unwrap();
    }
    check(&list);
    let kept: Vec<_> = live.iter().skip(1).step_by(2).copied().collect();
    while let Ok(a) = list.alloc(Layout::new(20, 8)) {
        fill(&a, 0xEE);
    }
    check(&list);
    for (a, tag) in &kept {
        assert!(intact(a, *tag), "{a:?}");
        list.dealloc(a.ptr).unwrap();
    }
    check(&list);
}

#[test]
fn realloc_grows_in_place_shrinks_in_place_and_moves() {
    let mut list = TestList::new(8192).unwrap();
    let a = list.alloc(Layout::new(100, 8)).unwrap();
    let fill = |ptr: i64, len: usize, byte: u8| {
        // SAFETY: the block at `ptr` holds at least `len` bytes.
        unsafe { core::ptr::write_bytes(ptr as usize as *mut u8, byte, len) }
    };
    let holds = |ptr: i64, len: usize, byte: u8| {
        // SAFETY: as above.
        unsafe { core::slice::from_raw_parts(ptr as usize as *const u8, len) }
            .iter()
            .all(|&b| b == byte)
    };
    fill(a.ptr, 100, 0xA1);
    // Grows into the free successor: same address.
    let grown = list.realloc(a.ptr, Layout::new(1000, 8)).unwrap();
    assert_eq!(grown.ptr, a.ptr);
    assert!(grown.size >= 1000 && holds(grown.ptr, 100, 0xA1));
    check(&list);
    // Shrinks in place and gives the tail back.
    let before = list.total_allocated();
    let shrunk = list.realloc(a.ptr, Layout::new(50, 8)).unwrap();
    assert_eq!(shrunk.ptr, a.ptr);
    assert!(list.total_allocated() < before && holds(shrunk.ptr, 50, 0xA1));
    check(&list);
    // Blocked by a neighbour: moves, keeps the contents, frees the old.
    let wall = list.alloc(Layout::new(10, 8)).unwrap();
    let moved = list.realloc(a.ptr, Layout::new(2000, 256)).unwrap();
    assert!(moved.ptr != a.ptr && moved.ptr % 256 == 0);
    assert!(holds(moved.ptr, 50, 0xA1));
    assert!(matches!(
        list.dealloc(a.ptr),
        Err(Error::DoubleFree | Error::ForeignPointer)
    ));
    check(&list);
    // Failures change nothing.
    let total = list.total_allocated();
    assert_eq!(
        list.realloc(moved.ptr, Layout::new(1 << 40, 8)),
        Err(Error::Exhausted)
    );
    assert_eq!(
        list.realloc(moved.ptr, Layout::new(8, 3)),
        Err(Error::InvalidLayout)
    );
    assert_eq!(
        list.realloc(moved.ptr + 16, Layout::new(8, 8)),
        Err(Error::ForeignPointer)
    );
    assert_eq!(list.total_allocated(), total);
    assert!(holds(moved.ptr, 50, 0xA1));
    // 0 allocates.
    let fresh = list.realloc(0, Layout::new(64, 64)).unwrap();
    assert_eq!(fresh.ptr % 64, 0);
    for block in [fresh, moved, wall] {
        list.dealloc(block.ptr).unwrap();
    }
    assert_eq!(list.remaining(), 8192);
    check(&list);
}

#[test]
fn largest_free_block_is_exact() {
    let mut list = TestList::new(100_000).unwrap();
    let a = list.alloc(Layout::new(30_000, 8)).unwrap();
    let _b = list.alloc(Layout::new(100, 8)).unwrap();
    list.dealloc(a.ptr).unwrap();
    let largest = list.largest_free_block() as i64;
    assert!(largest >= 30_000);
    assert_eq!(
        list.alloc(Layout::new(largest + 1, 8)),
        Err(Error::Exhausted)
    );
    let fits = list.alloc(Layout::new(largest, 8)).unwrap();
    list.dealloc(fits.ptr).unwrap();
    check(&list);
}
