//! Unit tests of the free list's defences: frees of pointers it did not
//! hand out, and stray writes into headers and freed memory, which must
//! never make blocks overlap, lead outside the heap, or panic.

use super::header::{FREE, PREV_FREE, SIZE_MASK};
use super::tests::{check, disjoint, scribble, Allocation, Layout, TestList};
use super::*;

#[test]
fn bad_frees_are_refused_without_change() {
    let mut list = TestList::new(4096).unwrap();
    let mut other = TestList::new(4096).unwrap();
    let a = list.alloc(Layout::new(64, 8)).unwrap();
    let b = list.alloc(Layout::new(64, 8)).unwrap();
    let foreign = other.alloc(Layout::new(64, 8)).unwrap();
    let before = (list.total_allocated(), list.largest_free_block());
    for bad in [
        a.ptr + 16,
        a.ptr + 8,
        a.ptr + 1,
        a.ptr - 16,
        foreign.ptr,
        16,
        -16,
        i64::MAX,
    ] {
        assert_eq!(list.dealloc(bad), Err(Error::ForeignPointer), "{bad:#x}");
    }
    list.dealloc(a.ptr).unwrap();
    assert_eq!(list.dealloc(a.ptr), Err(Error::DoubleFree));
    check(&list);
    list.dealloc(b.ptr).unwrap();
    // `b` merged with `a` and the tail: its header is gone.
    assert_eq!(list.dealloc(b.ptr), Err(Error::ForeignPointer));
    assert_eq!(list.dealloc(a.ptr), Err(Error::DoubleFree));
    check(&list);
    assert_eq!(list.total_allocated(), 0);
    assert!(before.0 > 0);
}

#[test]
fn a_corrupted_predecessor_link_is_refused_not_followed() {
    let mut list = TestList::new(4096).unwrap();
    let a = list.alloc(Layout::new(64, 8)).unwrap();
    let b = list.alloc(Layout::new(64, 8)).unwrap();
    let _c = list.alloc(Layout::new(64, 8)).unwrap();
    list.dealloc(a.ptr).unwrap();
    let word0 = (b.ptr - 16) as usize as *mut u64;
    // SAFETY: word 0 of b's header lies inside the list's buffer; this
    // simulates a caller overflowing `a` into it.
    let saved = unsafe { word0.read() };
    for bogus in [saved + 16, saved + (1 << 20), 16 | 1] {
        // SAFETY: as above.
        unsafe { word0.write(bogus) };
        assert_eq!(
            list.dealloc(b.ptr),
            Err(Error::ForeignPointer),
            "{bogus:#x}"
        );
    }
    // SAFETY: as above; restores the genuine header.
    unsafe { word0.write(saved) };
    list.dealloc(b.ptr).unwrap();
    check(&list);
}

#[test]
fn writes_into_freed_blocks_never_cause_overlap_or_panic() {
    // Scribble the link words of freed blocks with hostile values (a
    // live block's offset, out of range, misaligned, -16) and keep
    // allocating: every success must be disjoint from the live blocks.
    for hostile in [0u64, 8, 3, u64::MAX - 15, 1 << 40, 64, 128] {
        let mut list = TestList::new(4096).unwrap();
        let blocks: Vec<_> = (0..6)
            .map(|_| list.alloc(Layout::new(48, 8)).unwrap())
            .collect();
        let base = list.buffer.start() as i64;
        list.dealloc(blocks[0].ptr).unwrap();
        list.dealloc(blocks[4].ptr).unwrap();
        let live_offset = (blocks[3].ptr - 16 - base) as u64;
        for freed in [blocks[0], blocks[4]] {
            let links = freed.ptr as usize as *mut u64;
            // SAFETY: both link words lie in the freed block's payload,
            // inside the list's buffer: a simulated use-after-free.
            unsafe {
                links.write(hostile);
                links.add(1).write(live_offset);
            }
        }
        let mut got: Vec<Allocation> = [1, 2, 3, 5].iter().map(|&i| blocks[i]).collect();
        while let Ok(a) = list.alloc(Layout::new(16, 8)) {
            for b in &got {
                assert!(
                    disjoint(&a, b),
                    "{a:?} overlaps {b:?} (hostile {hostile:#x})"
                );
            }
            got.push(a);
        }
        for a in got {
            let _ = list.dealloc(a.ptr);
        }
    }
}

#[test]
fn stale_headers_of_an_earlier_list_are_refused() {
    // Whether or not the system reuses the buffer, the second list must
    // refuse pointers of the first: keys differ per list.
    for _ in 0..8 {
        let mut first = TestList::new(4096).unwrap();
        let _a = first.alloc(Layout::new(64, 8)).unwrap();
        let b = first.alloc(Layout::new(64, 8)).unwrap();
        drop(first);
        let mut second = TestList::new(4096).unwrap();
        assert_eq!(second.dealloc(b.ptr), Err(Error::ForeignPointer));
        assert_eq!(second.total_allocated(), 0);
        check(&second);
    }
}

#[test]
fn a_scribbled_size_in_a_freed_header_never_makes_blocks_overlap() {
    // One byte written into a freed block's header turns its size 64
    // into 192, as if it reached over its live neighbours.
    let mut list = TestList::new(256).unwrap();
    let a = list.alloc(Layout::new(48, 8)).unwrap(); // [0, 64)
    let b = list.alloc(Layout::new(48, 8)).unwrap(); // [64, 128)
    let c = list.alloc(Layout::new(112, 8)).unwrap(); // [128, 256)
    list.dealloc(a.ptr).unwrap();
    scribble(a.ptr - 8, 0xC1u8);
    for size in [48, 100, 150] {
        if let Ok(x) = list.alloc(Layout::new(size, 8)) {
            assert!(disjoint(&x, &b) && disjoint(&x, &c), "{x:?}");
        }
    }
    // The same, merged by freeing its left neighbour.
    let mut list = TestList::new(512).unwrap();
    let w = list.alloc(Layout::new(48, 8)).unwrap(); // [0, 64)
    let a = list.alloc(Layout::new(48, 8)).unwrap(); // [64, 128)
    let b = list.alloc(Layout::new(48, 8)).unwrap(); // [128, 192)
    let c = list.alloc(Layout::new(304, 8)).unwrap(); // [192, 512)
    list.dealloc(a.ptr).unwrap();
    scribble(a.ptr - 8, 0xC1u8);
    list.dealloc(w.ptr).unwrap();
    if let Ok(x) = list.alloc(Layout::new(200, 8)) {
        assert!(disjoint(&x, &b) && disjoint(&x, &c), "{x:?}");
    }
    // b's record of its free predecessor no longer matches that
    // predecessor's header: refused, as either may be the one written
    // over. Its other neighbour is unaffected.
    assert_eq!(list.dealloc(b.ptr), Err(Error::ForeignPointer));
    list.dealloc(c.ptr).unwrap();
}

#[test]
fn a_flipped_state_bit_in_a_live_header_is_not_taken_for_free() {
    for flip in [FREE, 4, 8] {
        let mut list = TestList::new(4096).unwrap();
        let a = list.alloc(Layout::new(16, 8)).unwrap();
        let b = list.alloc(Layout::new(48, 8)).unwrap();
        let w = list.alloc(Layout::new(16, 8)).unwrap();
        // Only that one bit of b's header changes.
        // SAFETY: b's header lies inside the list's buffer.
        let low = unsafe { ((b.ptr - 8) as usize as *const u8).read() };
        scribble(b.ptr - 8, low | flip as u8);
        assert_eq!(list.dealloc(a.ptr), Ok(()));
        let c = list.alloc(Layout::new(64, 8)).unwrap();
        assert!(disjoint(&c, &b) && disjoint(&c, &w), "{flip}: {c:?}");
        assert_eq!(list.dealloc(b.ptr), Err(Error::ForeignPointer));
    }
}

/// Sets `PREV_FREE` in the header of `b` (whose predecessor `a` is in
/// use) with `word0` in a's last word, where a free predecessor's size
/// would be; checks that b's free is refused without change, then
/// undoes the scribble and frees `a`, `b` and `w`: the list is whole
/// again.
fn check_prev_free_scribble(list: &mut TestList, [a, b, w]: [Allocation; 3], word0: u64) {
    scribble(a.ptr + a.size - 8, word0);
    // SAFETY: b's header lies inside the list's buffer.
    let low = unsafe { ((b.ptr - 8) as usize as *const u8).read() };
    scribble(b.ptr - 8, low | PREV_FREE as u8);
    let before = (list.total_allocated(), list.largest_free_block());
    assert_eq!(list.dealloc(b.ptr), Err(Error::ForeignPointer));
    assert_eq!((list.total_allocated(), list.largest_free_block()), before);
    scribble(b.ptr - 8, low);
    for x in [a, b, w] {
        list.dealloc(x.ptr).unwrap();
    }
    check(list);
    assert_eq!(list.remaining(), 4096);
}

#[test]
fn a_set_prev_free_bit_with_a_live_predecessor_is_refused() {
    // Word 0 holding what looks like a free block's size.
    let mut list = TestList::new(4096).unwrap();
    let a = list.alloc(Layout::new(24, 8)).unwrap();
    let b = list.alloc(Layout::new(40, 8)).unwrap();
    let w = list.alloc(Layout::new(24, 8)).unwrap();
    check_prev_free_scribble(&mut list, [a, b, w], 32);

    // Word 0 reaching past the live predecessor to a genuine free block
    // further down: that block does not end where b starts.
    let mut list = TestList::new(4096).unwrap();
    let f = list.alloc(Layout::new(40, 8)).unwrap(); // [0, 48)
    let a = list.alloc(Layout::new(24, 8)).unwrap(); // [48, 80)
    let b = list.alloc(Layout::new(40, 8)).unwrap(); // [80, 128)
    let w = list.alloc(Layout::new(24, 8)).unwrap();
    list.dealloc(f.ptr).unwrap();
    check_prev_free_scribble(&mut list, [a, b, w], 48 + 32);
}

#[test]
fn a_size_rewritten_far_beyond_the_block_is_refused() {
    // A 3-byte write (size 48 -> 0xE3D1E0, 14.3 MiB more), with which the
    // free would cover b and c. A magic with a fixed multiplier would
    // survive it for every key (key xored in after the multiply) or for one
    // key in 4,200 (xored in before): hence a keyed multiplier.
    let mut list = TestList::new(16 << 20).unwrap();
    let a = list.alloc(Layout::new(40, 8)).unwrap();
    let b = list.alloc(Layout::new(40, 8)).unwrap();
    let c = list.alloc(Layout::new(1 << 20, 8)).unwrap();
    // SAFETY: a's header lies inside the list's buffer.
    let word = unsafe { ((a.ptr - 8) as usize as *const u64).read() };
    let forged = word & !SIZE_MASK | 0xE3_D1E0;
    scribble(a.ptr - 8, forged);
    let before = (list.total_allocated(), list.largest_free_block());
    assert_eq!(list.dealloc(a.ptr), Err(Error::ForeignPointer));
    assert_eq!((list.total_allocated(), list.largest_free_block()), before);
    scribble(a.ptr - 8, word);
    for x in [a, b, c] {
        list.dealloc(x.ptr).unwrap();
    }
    check(&list);
}

/// Random single-bit flips into the 16 bytes before live and freed
/// blocks, amid churn, as the C test of the same name does but over
/// many seeds; returns whether an allocation ever overlapped a block
/// still in use.
fn stray_flips_overlap(seed: u32, steps: usize) -> bool {
    const SLOTS: usize = 48;
    let mut list = TestList::new(1 << 15).unwrap();
    let none = Allocation { ptr: 0, size: 0 };
    let (mut live, mut freed) = ([none; SLOTS], [none; SLOTS]);
    let mut random = seed;
    for _ in 0..steps {
        random = random.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let slot = (random >> 16) as usize % SLOTS;
        if (random >> 8) % 16 == 0 {
            let target = if random & 1 != 0 {
                live[slot]
            } else {
                freed[slot]
            };
            if target.ptr != 0 {
                let at = target.ptr - 16 + i64::from((random >> 4) % 16);
                // SAFETY: the 16 bytes before a block handed out by this
                // list lie inside its buffer.
                let byte = unsafe { (at as usize as *const u8).read() };
                scribble(at, byte ^ 1 << ((random >> 12) % 8));
            }
            continue;
        }
        if live[slot].ptr != 0 {
            if list.dealloc(live[slot].ptr).is_ok() {
                freed[slot] = live[slot];
            } else if let Some(j) = (0..SLOTS).find(|&j| live[(slot + j) % SLOTS].ptr == 0) {
                // Refused: it stays in use, in another slot.
                live[(slot + j) % SLOTS] = live[slot];
            }
            live[slot] = none;
            continue;
        }
        if let Ok(a) = list.alloc(Layout::new(i64::from((random >> 4) % 600), 8)) {
            if live.iter().any(|b| b.ptr != 0 && !disjoint(&a, b)) {
                return true;
            }
            live[slot] = a;
        }
    }
    false
}

#[test]
fn random_bit_flips_into_headers_never_make_blocks_overlap() {
    // With a magic linear in the size, a flip of a size bit and a flip of
    // the magic bit it moves undo each other: 16 of these 400 runs (the
    // same ones for any key) would let a free cover live blocks.
    for seed in 0..400u32 {
        assert!(
            !stray_flips_overlap(777 + seed * 7919, 20_000),
            "seed {seed}"
        );
    }
}

#[test]
fn a_scribbled_size_in_a_live_header_is_refused() {
    for (size_bits, live_after) in [(0x0100u16, false), (0x00C0, true)] {
        let mut list = TestList::new(256).unwrap();
        let w = list.alloc(Layout::new(48, 8)).unwrap(); // [0, 64)
        let a = list.alloc(Layout::new(48, 8)).unwrap(); // [64, 128)
        let b = list.alloc(Layout::new(48, 8)).unwrap(); // [128, 192)
        let c = live_after.then(|| list.alloc(Layout::new(48, 8)).unwrap());
        let before = list.total_allocated();
        // The size of `a` now reaches to (or past) the end of the heap.
        scribble(a.ptr - 8, size_bits);
        assert_eq!(list.dealloc(a.ptr), Err(Error::ForeignPointer));
        assert_eq!(list.total_allocated(), before);
        if let Ok(x) = list.alloc(Layout::new(150, 8)) {
            assert!(disjoint(&x, &w) && disjoint(&x, &b), "{x:?}");
            assert!(c.is_none_or(|c| disjoint(&x, &c)), "{x:?}");
        }
    }
}

#[test]
fn consistency_checks_survive_garbage_links() {
    let garbage = |link: &dyn Fn(i64, i64) -> u64| {
        let mut list = TestList::new(4096).unwrap();
        let base = list.buffer.start() as i64;
        let a = list.alloc(Layout::new(48, 8)).unwrap();
        let _w1 = list.alloc(Layout::new(48, 8)).unwrap();
        let b = list.alloc(Layout::new(48, 8)).unwrap();
        let _w2 = list.alloc(Layout::new(48, 8)).unwrap();
        list.dealloc(a.ptr).unwrap();
        list.dealloc(b.ptr).unwrap(); // the class's list: b -> a
        scribble(b.ptr, link(base, b.ptr));
        assert!(list.check_consistency().is_err());
    };
    garbage(&|_, _| u64::MAX - 7); // overflows if followed blindly
    garbage(&|base, b| (b - 16 - base) as u64); // b -> b: a cycle
}

#[test]
fn a_realloc_that_cannot_finish_its_move_undoes_it() {
    let mut list = TestList::new(4096).unwrap();
    let _w0 = list.alloc(Layout::new(48, 8)).unwrap(); // [0, 64)
    let b = list.alloc(Layout::new(48, 8)).unwrap(); // [64, 128)
    let _w = list.alloc(Layout::new(48, 8)).unwrap(); // [128, 192)
    let f = list.alloc(Layout::new(200, 8)).unwrap(); // [192, 416)
    let _x = list.alloc(Layout::new(48, 8)).unwrap();
    list.dealloc(f.ptr).unwrap();
    // A link 16 bytes below `b`: unlinking `f` writes over b's header.
    scribble(f.ptr, 48u64);
    let before = list.total_allocated();
    match list.realloc(b.ptr, Layout::new(150, 8)) {
        Ok(moved) => assert!(moved.size >= 150),
        Err(_) => assert_eq!(list.total_allocated(), before),
    }
}

#[test]
fn check_names_a_scribbled_counter() {
    use crate::inspect::Inspect;
    let mut list = FreeList::new(4096).unwrap();
    let a = list
        .alloc(core::alloc::Layout::from_size_align(64, 8).unwrap())
        .unwrap();
    assert_eq!(Inspect::check(&list), Ok(()));
    list.allocated += 16;
    let damage = Inspect::check(&list).unwrap_err();
    assert!(damage.contains("but blocks in use sum to"), "{damage}");
    list.allocated -= 16;
    list.dealloc(a.ptr).unwrap();
    assert_eq!(Inspect::check(&list), Ok(()));
}
