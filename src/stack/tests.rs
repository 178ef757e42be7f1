//! Unit tests of the stack: unwinding, scribbled and forged headers,
//! random bit flips, the interface's out-of-order frees.

use super::*;
use crate::allocator::tests::layout;
use crate::allocator::Allocator;

#[test]
fn pops_unwind_every_level() {
    let mut stack = Stack::new(2048).unwrap();
    let mut seen = vec![stack.remaining()];
    for layout in [layout(8, 8), layout(4, 4), layout(8, 8)] {
        stack.push(layout).unwrap();
        seen.push(stack.remaining());
    }
    // Payloads are 16-aligned, headers right below them.
    assert_eq!(seen, vec![2048, 2024, 2012, 1992]);
    seen.pop();
    while let Some(expected) = seen.pop() {
        stack.pop().unwrap();
        assert_eq!(stack.remaining(), expected);
    }
    assert_eq!(stack.pop(), Err(Error::Empty));
    assert_eq!(stack.remaining(), 2048);
}

#[test]
fn odd_tops_and_big_alignments_unwind_exactly() {
    let mut stack = Stack::new(1 << 16).unwrap();
    let layouts = [(3, 1), (5, 2), (1, 256), (7, 1), (0, 4096), (9, 16), (1, 1)];
    let mut remaining = vec![];
    for (size, align) in layouts {
        remaining.push(stack.remaining());
        let a = stack.push(layout(size, align)).unwrap();
        assert_eq!(a.addr() % align, 0);
    }
    while let Some(expected) = remaining.pop() {
        stack.pop().unwrap();
        assert_eq!(stack.remaining(), expected);
    }
    assert_eq!(stack.depth(), 0);
}

#[test]
fn an_overwritten_header_ends_the_chain_inside_the_buffer() {
    for garbage in [u64::MAX, 1 << 40, 0x1000 | 7, 8, 0] {
        for scribbled in 0..4 {
            let mut stack = Stack::new(4096).unwrap();
            let start = stack.buffer.start();
            let mut ptrs = vec![];
            for _ in 0..4 {
                ptrs.push(stack.push(layout(24, 8)).unwrap().addr());
            }
            // A caller's underflow writes over a header (the 8 bytes
            // below its payload, here directly below).
            let header = ptrs[scribbled] - 8;
            // SAFETY: the header lies inside the stack's buffer.
            unsafe { (header as *mut u64).write(garbage) };
            // The newest header's link and gap are also in the stack
            // itself, which pops from that copy: all 4 pops succeed.
            // Below it, the pops down to the scribbled allocation's
            // succeed, and that one leaves the top at its header.
            let (pops, bottom) = match scribbled {
                3 => (4, start),
                _ => (4 - scribbled, header),
            };
            let why = format!("garbage {garbage:#x} in header {scribbled}");
            assert_eq!(stack.depth(), pops, "{why}");
            for _ in 0..pops {
                stack.pop().unwrap();
            }
            assert_eq!(stack.remaining(), 4096 - (bottom - start), "{why}");
            assert_eq!(
                (stack.pop(), stack.depth()),
                (Err(Error::Empty), 0),
                "{why}"
            );
            // The stack still works and its space is usable again.
            let a = stack.push(layout(64, 16)).unwrap();
            assert!(a.addr() % 16 == 0 && a.addr() - 8 >= bottom, "{why}");
            stack.clear();
            assert_eq!(stack.remaining(), 4096);
        }
    }
}

#[test]
fn a_scribbled_newest_header_is_caught_once_a_push_covers_it() {
    let mut stack = Stack::new(4096).unwrap();
    let a = stack.push(layout(24, 8)).unwrap();
    let b = stack.push(layout(24, 8)).unwrap();
    // b is the newest: its header is not read while it is.
    // SAFETY: the header lies inside the stack's buffer.
    unsafe { ((b.addr() - 8) as *mut u64).write(0x0123_4567) };
    assert_eq!(stack.depth(), 2);
    // Covered by c, it is read (and refused) when c is popped.
    stack.push(layout(24, 8)).unwrap();
    assert_eq!(stack.depth(), 2);
    stack.pop().unwrap(); // c
    stack.pop().unwrap(); // b: the top stays at its header
    assert_eq!(
        stack.remaining(),
        4096 - (b.addr() - 8 - stack.buffer.start())
    );
    assert!(a.addr() < b.addr());
    assert_eq!(stack.pop(), Err(Error::Empty)); // a is forgotten
}

#[test]
fn depth_counts_the_pops_that_succeed() {
    let mut stack = Stack::new(4096).unwrap();
    let mut ptrs = vec![];
    for n in 1..=6 {
        ptrs.push(stack.push(layout(8 * n, 8)).unwrap().addr());
        assert_eq!(stack.depth(), n);
    }
    // Scribble the third allocation's header: pops 6, 5, 4 and 3
    // succeed (3 forgets 2 and 1), then the stack is empty.
    // SAFETY: the header lies inside the stack's buffer.
    unsafe { ((ptrs[2] - 8) as *mut u64).write(0x1234_5678) };
    for left in (0..4).rev() {
        stack.pop().unwrap();
        assert_eq!(stack.depth(), left);
    }
    assert_eq!(stack.pop(), Err(Error::Empty));
}

#[test]
fn one_byte_writes_to_the_rest_almost_never_keep_the_check_bits() {
    // For each check shift up to 42 (4 TiB), 200 random headers and
    // every one-byte change of their rest: a change keeps the 63 - shift
    // check bits with a chance of 2^-(63 - shift), so all shifts
    // together should let through about 0.3 of these 1.8 million
    // changes. A check that left some rest bits out (say, the high bits
    // of a large stack's links) would let thousands through; so would
    // one linear in the rest, for the changes that also hit the check
    // bits (not tried here).
    let mut stack = Stack::new(64).unwrap();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut kept = 0;
    for shift in [16, 24, 31, 32, 33, 36, 40, 41, 42] {
        stack.keys = [rng.rotate_left(shift), rng, rng.rotate_left(7)];
        stack.set_check_shift(shift);
        for _ in 0..200 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let limit = (1u64 << shift) - 1;
            let rest = rng & limit;
            let header = ((rng >> 20) & limit) as usize & !7;
            let bits = stack.check_bits(header, rest);
            for byte in 0..8 {
                for value in 1..=255u64 {
                    let delta = (value << (8 * byte)) & limit;
                    if delta != 0 && stack.check_bits(header, rest ^ delta) == bits {
                        kept += 1;
                    }
                }
            }
        }
    }
    assert!(kept <= 6, "{kept} one-byte changes kept their check bits");
}

#[test]
fn a_forged_header_leading_below_the_buffer_or_up_is_refused() {
    // A header forged with valid check bits (computed here with the
    // stack's keys, as a caller who read other headers might): what
    // stops it is the compare of link and gap against the header's own
    // offset. The bottom header is at offset 8 (gap 8 from the start):
    // gaps 9..15 would lead below the buffer; b's header is at offset 40,
    // and links from 48 up would lead up.
    for (bottom, rest) in [
        (true, 9u64),
        (true, 15),
        (false, 48),
        (false, 64),
        (false, 48 | 5),
    ] {
        let mut stack = Stack::new(4096).unwrap();
        let start = stack.buffer.start();
        let a = stack.push(layout(24, 8)).unwrap();
        let b = stack.push(layout(24, 8)).unwrap();
        stack.push(layout(24, 8)).unwrap();
        assert_eq!((a.addr() - start, b.addr() - start), (16, 48));
        let target = if bottom { a.addr() } else { b.addr() } - 8;
        let header = target - start;
        let word = stack.check_bits(header, rest) | rest;
        // SAFETY: the header lies inside the stack's buffer.
        unsafe { (target as *mut u64).write(word) };
        stack.pop().unwrap(); // the newest: reads b's header
        stack.pop().unwrap(); // b: written over, or reads a's header
        if bottom {
            stack.pop().unwrap(); // a: written over
        }
        // The top stays at the header written over.
        assert_eq!(stack.remaining(), 4096 - header, "{rest}");
        // (Before `depth`, which would loop on a link leading up.)
        assert_eq!(stack.pop(), Err(Error::Empty), "{rest}");
        assert_eq!(stack.depth(), 0, "{rest}");
    }
}

/// Random single-bit flips into the headers of live allocations amid
/// pushes, pops and resets; returns whether a push ever overlapped an
/// allocation still live (one a pop that met a bad header forgot stays
/// live until the reset).
fn stray_flips_overlap(seed: u64, steps: usize) -> bool {
    let mut stack = Stack::new(1 << 16).unwrap();
    let mut live: Vec<Block> = vec![];
    let mut forgotten: Vec<Block> = vec![];
    let mut random = seed;
    for _ in 0..steps {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        match random % 100 {
            0..=9 if !live.is_empty() => {
                let a = live[(random >> 8) as usize % live.len()];
                // One bit of the header (the 8 bytes below the payload).
                let at = (a.addr() - 8 + (random >> 20) as usize % 8) as *mut u8;
                // SAFETY: the header of a live allocation lies inside
                // the stack's buffer.
                unsafe { at.write(at.read() ^ 1 << ((random >> 32) % 8)) };
            }
            10..=49 => {
                let before = stack.depth();
                if stack.pop().is_ok() {
                    live.pop();
                    if before == 1 {
                        // The stack is empty: anything still below was
                        // forgotten at a bad header.
                        forgotten.append(&mut live);
                    }
                }
            }
            50 => {
                stack.clear();
                live.clear();
                forgotten.clear();
            }
            _ => {
                let size = ((random >> 8) % 200) as usize;
                if let Ok(a) = stack.push(layout(size, 8)) {
                    let overlaps = |b: &Block| {
                        a.addr() - 8 < b.addr() + b.size.max(1)
                            && b.addr() - 8 < a.addr() + a.size.max(1)
                    };
                    if live.iter().chain(&forgotten).any(overlaps) {
                        return true;
                    }
                    live.push(a);
                }
            }
        }
    }
    false
}

#[test]
fn random_bit_flips_into_headers_never_make_allocations_overlap() {
    for seed in 1..=300u64 {
        assert!(
            !stray_flips_overlap(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), 20_000),
            "seed {seed}"
        );
    }
}

#[test]
fn a_header_scribbled_to_point_into_a_live_payload_is_caught() {
    for garbage in [40u64, 40 | 3, 0] {
        let mut stack = Stack::new(4096).unwrap();
        let a = stack.push(layout(64, 8)).unwrap(); // header 0
        let _b = stack.push(layout(8, 8)).unwrap();
        let c = stack.push(layout(8, 8)).unwrap();
        stack.push(layout(8, 8)).unwrap();
        // Keep the check bits, change the link: one byte of c's header
        // (the newest but one: the newest's is read from the stack's
        // own copy).
        // SAFETY: c's header lies inside the stack's buffer.
        unsafe { ((c.addr() - 8) as *mut u8).write(garbage as u8) };
        stack.pop().unwrap(); // the newest
        stack.pop().unwrap(); // c
                              // b's pop, as the caller believes: c's header was written over, so
                              // the pop of c forgot everything below it (`a` stays live).
        assert_eq!(stack.pop(), Err(Error::Empty));
        let d = stack.push(layout(8, 8)).unwrap();
        assert!(
            d.addr() >= a.addr() + a.size || d.addr() + d.size <= a.addr(),
            "{d:?} overlaps {a:?}"
        );
    }
}

#[test]
fn one_forged_byte_in_a_small_stacks_bottom_header_is_caught() {
    // A 64-byte stack: the header's link and low bits fit in its low
    // byte (the bottom header, at offset 8, holds link 0 and gap 8); no
    // other value of that byte may pass for a header: the pop of `a` then
    // leaves the top at its header.
    for byte in 0..=255u8 {
        let mut stack = Stack::new(64).unwrap();
        let a = stack.push(layout(8, 8)).unwrap();
        stack.push(layout(8, 8)).unwrap();
        // SAFETY: a's header lies inside the stack's buffer.
        unsafe { ((a.addr() - 8) as *mut u8).write(byte) };
        stack.pop().unwrap(); // reads a's header
        stack.pop().unwrap();
        let expected = if byte == 8 { 64 } else { 64 - 8 };
        assert_eq!(stack.remaining(), expected, "{byte:#x}");
        assert_eq!(stack.pop(), Err(Error::Empty));
        assert!(stack.push(layout(8, 8)).is_ok());
    }
}

#[test]
fn exhaustion_and_bad_layouts_change_nothing() {
    let mut stack = Stack::new(32).unwrap();
    stack.push(layout(8, 8)).unwrap();
    let before = stack.remaining();
    for (layout, err) in [
        (layout(16, 8), Error::Exhausted),
        (layout(isize::MAX as usize, 1), Error::Exhausted),
        (layout(1, 1 << 62), Error::Exhausted),
    ] {
        assert_eq!(stack.push(layout), Err(err));
    }
    assert_eq!((stack.remaining(), stack.depth()), (before, 1));
    let mut empty = Stack::new(0).unwrap();
    assert_eq!(empty.alloc(layout(0, 1)), Err(Error::Exhausted));
}

#[test]
fn out_of_order_frees_are_dead_until_everything_above_is_gone() {
    let mut stack = Stack::new(4096).unwrap();
    let l = layout(24, 8);
    let before = stack.remaining();
    let a = stack.push(l).unwrap();
    let b = stack.push(l).unwrap();
    let c = stack.push(layout(40, 64)).unwrap();
    let after_c = stack.remaining();
    // SAFETY: pointers of this stack, or pointers it refuses.
    unsafe {
        // An older live allocation becomes dead: nothing is reclaimed yet.
        stack.free(a.ptr, l).unwrap();
        assert_eq!(stack.free(a.ptr, l), Err(Error::DoubleFree));
        stack.free(b.ptr, l).unwrap();
        assert_eq!(stack.remaining(), after_c);
        assert_eq!(stack.depth(), 1);
        // Freeing the newest pops it and every dead one right below.
        stack.free(c.ptr, layout(40, 64)).unwrap();
        assert_eq!(stack.remaining(), before);
        assert_eq!(stack.pop(), Err(Error::Empty));
        // Popped blocks lie above the top: freeing one again is a double
        // free; an address outside the buffer is foreign.
        assert_eq!(stack.free(c.ptr, layout(40, 64)), Err(Error::DoubleFree));
        assert_eq!(
            stack.free(crate::allocator::tests::ptr(8), l),
            Err(Error::ForeignPointer)
        );
    }
}

#[test]
fn pop_reclaims_dead_allocations_below_the_one_it_pops() {
    let mut stack = Stack::new(4096).unwrap();
    let l = layout(16, 8);
    let base = stack.push(l).unwrap();
    let with_base = stack.remaining();
    let dead = stack.push(l).unwrap();
    stack.push(l).unwrap();
    // SAFETY: a pointer of this stack.
    unsafe { stack.free(dead.ptr, l).unwrap() };
    assert_eq!(stack.depth(), 2);
    stack.pop().unwrap();
    assert_eq!((stack.remaining(), stack.depth()), (with_base, 1));
    // SAFETY: a pointer of this stack.
    unsafe { stack.free(base.ptr, l).unwrap() };
    assert_eq!((stack.remaining(), stack.depth()), (4096, 0));
}

#[test]
fn the_newest_allocation_resizes_in_place() {
    let mut stack = Stack::new(256).unwrap();
    let a = stack.push(layout(16, 8)).unwrap();
    let b = stack.push(layout(16, 16)).unwrap();
    // SAFETY: pointers of this stack.
    unsafe {
        assert_eq!(stack.resize(b.ptr, layout(16, 16), 100), Ok(100));
        assert_eq!(
            stack.remaining(),
            256 - (b.addr() + 100 - stack.buffer.start())
        );
        assert_eq!(
            stack.resize(b.ptr, layout(100, 16), 1000),
            Err(Error::Exhausted)
        );
        assert_eq!(stack.resize(a.ptr, layout(16, 8), 8), Ok(8));
        assert_eq!(
            stack.resize(a.ptr, layout(16, 8), 17),
            Err(Error::Exhausted)
        );
        assert_eq!(stack.readable(b.ptr, layout(500, 16)), Ok(100));
    }
    stack.pop().unwrap();
    stack.pop().unwrap();
    assert_eq!(stack.remaining(), 256);
}

#[test]
fn a_pointer_names_its_allocation_whatever_layout_comes_with_it() {
    let mut stack = Stack::new(4096).unwrap();
    // An alignment above 16 that puts a's payload above where b's goes
    // (16 past the start).
    let start = stack.buffer.start();
    let align = (5..20)
        .map(|k| 1 << k)
        .find(|a| (start + 16) % a != 0)
        .unwrap();
    let a = stack.push(layout(0, align)).unwrap();
    stack.pop().unwrap();
    // b's header lies where a's padding began, at a smaller alignment:
    // a's stale pointer, freed with a's layout, must not name b.
    let b = stack.push(layout(0, 1)).unwrap();
    assert_ne!(a.ptr, b.ptr);
    let before = stack.remaining();
    // SAFETY: pointers of this stack, or pointers it refuses.
    unsafe {
        assert_eq!(stack.free(a.ptr, layout(0, align)), Err(Error::DoubleFree));
        assert_eq!((stack.remaining(), stack.depth()), (before, 1));
        // An allocation realloc'ed in place to another alignment is freed
        // with its new layout.
        let c = stack.push(layout(32, 64)).unwrap();
        let moved = stack.realloc(c.ptr, layout(32, 64), layout(16, 1)).unwrap();
        assert_eq!(moved.ptr, c.ptr);
        stack.free(moved.ptr, layout(16, 1)).unwrap();
        stack.free(b.ptr, layout(0, 1)).unwrap();
    }
    assert_eq!((stack.remaining(), stack.depth()), (4096, 0));
}

#[test]
fn large_alignments_pad_with_a_dead_allocation_popped_with_them() {
    let mut stack = Stack::new(1 << 16).unwrap();
    let base = stack.push(layout(8, 8)).unwrap();
    let before = stack.remaining();
    for align in [32, 64, 256, 4096] {
        let a = stack.push(layout(24, align)).unwrap();
        assert_eq!(a.addr() % align, 0);
        // The padding is not a live allocation.
        assert_eq!(stack.depth(), 2);
        stack.pop().unwrap();
        assert_eq!((stack.remaining(), stack.depth()), (before, 1));
    }
    // SAFETY: a pointer of this stack.
    unsafe { stack.free(base.ptr, layout(8, 8)).unwrap() };
    assert_eq!(stack.remaining(), 1 << 16);
}

#[test]
fn marks_nest_release_and_go_stale() {
    let mut stack = Stack::new(4096).unwrap();
    stack.push(layout(24, 8)).unwrap();
    let a = stack.mark().unwrap();
    let at_a = (stack.remaining(), stack.depth());
    stack.push(layout(100, 8)).unwrap();
    let b = stack.mark().unwrap();
    let at_b = (stack.remaining(), stack.depth());
    for _ in 0..3 {
        for _ in 0..5 {
            stack.push(layout(40, 16)).unwrap();
        }
        stack.release_to(b).unwrap();
        assert_eq!((stack.remaining(), stack.depth()), at_b);
    }
    stack.release_to(a).unwrap();
    assert_eq!((stack.remaining(), stack.depth()), at_a);
    assert_eq!(stack.release_to(b), Err(Error::StaleMark));
    assert_eq!((stack.remaining(), stack.depth()), at_a);
    // Popping back to a's point keeps a; popping below it makes it stale.
    let c = stack.push(layout(8, 8)).unwrap();
    stack.pop().unwrap();
    stack.release_to(a).unwrap();
    stack.pop().unwrap();
    assert_eq!(stack.release_to(a), Err(Error::StaleMark));
    assert_eq!(stack.remaining(), 4096);
    // Forged values and marks of another stack.
    let mut other = Stack::new(64).unwrap();
    let foreign = other.mark().unwrap();
    let m = stack.mark().unwrap();
    for forged in [-1, i64::MAX, m + 1, m ^ (1 << 40), foreign] {
        assert_eq!(stack.release_to(forged), Err(Error::StaleMark), "{forged}");
    }
    stack.clear();
    assert_eq!(stack.release_to(m), Err(Error::StaleMark));
    assert!(stack.peak() >= 24 + 100 + 5 * 40);
    let _ = c;
}

#[test]
fn a_block_under_a_mark_does_not_grow_past_it() {
    let mut stack = Stack::new(4096).unwrap();
    let a = stack.push(layout(16, 8)).unwrap();
    let m = stack.mark().unwrap();
    // SAFETY: a pointer of this stack.
    unsafe {
        assert_eq!(
            stack.resize(a.ptr, layout(16, 8), 64),
            Err(Error::Exhausted)
        );
        assert_eq!(stack.resize(a.ptr, layout(16, 8), 8), Ok(8));
    }
    stack.release_to(m).unwrap();
    assert_eq!(stack.depth(), 1);
}
