//! Model-based tests of the free-list (segregated fit) allocator through
//! the C ABI (`freelist_*`, via `common::c_api::CFreeList`, so that the edge
//! `int64_t` inputs meet the ABI's own validation).
//!
//! The model keeps the live allocations. `total_allocated` must be the sum
//! of `usable size + 8` (`OVERHEAD`: the header word before the payload;
//! the header's other word is the end of the predecessor's payload) over
//! them, `remaining` must be `capacity - total_allocated`, and
//! `check_consistency()` must pass after every step. Each live block owns
//! `[ptr - 8, ptr + usable)`: these spans must be disjoint and inside
//! `[start + 8, start + heap + 8)` (the heap is the capacity rounded down to
//! 16; the buffer has 8 spare bytes past it for the last block).
//!
//! Whether a request fits depends on fragmentation, which the model does
//! not track; it is judged against `largest_free_block()` read just before
//! the request, which is documented as the largest size an align-8 request
//! can have and still succeed. Payloads are 16-aligned, so any alignment up
//! to 16 behaves as 8 and the answer is exact; for larger alignments a
//! request must fail when it exceeds `largest_free_block()` and must succeed
//! when even the worst alignment gap (`align + 32`) leaves room for it.
//!
//! `freelist_realloc` of a live block is judged the same way (it must
//! succeed wherever the allocation it may fall back to must, and may
//! succeed in place where that one would fail); a success keeps the first
//! `min(old usable size, new size)` bytes, compared with a copy taken
//! before the call. A realloc of anything but a live block is refused as
//! its free would be, and `ptr == 0` acts as an allocation. Every refusal
//! leaves the counters as they were. `freelist_reset` makes the heap one
//! free block again (as fresh), and every pointer handed out before is
//! refused from then on (the model keeps them as stale).
//!
//! The allocator owns its buffer; the test finds its start with a probe: a
//! fresh allocator is one free block at offset 0, so its first allocation
//! aligned to at most 16 has its header at the buffer start.

mod common;

use common::c_api::{Allocation, CFreeList, Layout};
use common::{
    check_disjoint, check_inside, config, core_layout_ok, edge_i64, fill, request_align,
    request_size, sequence, verify, Rng, Span,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use std::collections::BTreeMap;
use std::ops::Range;
use vais_alloc::free_list::{HEADER_SIZE, MIN_BLOCK, OVERHEAD};
use vais_alloc::Error;

#[derive(Clone, Debug)]
enum Target {
    /// A live allocation.
    Live(Index),
    /// A pointer handed out earlier and freed since (a double free, or a
    /// stale pointer into a merged or reused block).
    Stale(Index),
    /// The payload address of a block header at offset `16 * k`.
    Grid(usize),
    /// `delta` bytes into (or before) a live allocation.
    Interior(Index, i64),
    /// A live allocation of another free list.
    Foreign,
    /// An arbitrary value.
    Raw(i64),
    Null,
}

#[derive(Clone, Debug)]
enum Op {
    /// `fill_all`: the test writes its pattern over the whole usable size
    /// (else only over the requested size, leaving whatever was there, such
    /// as old headers, in the rest).
    Alloc {
        size: i64,
        align: i64,
        fill_all: bool,
    },
    Dealloc(Target),
    /// `freelist_realloc` of the target to `{size, align}`; `fill_all` as
    /// for `Alloc`, for the block it returns.
    Realloc {
        target: Target,
        size: i64,
        align: i64,
        fill_all: bool,
    },
    Reset,
    DropBuffer,
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        20 => any::<Index>().prop_map(Target::Live),
        3 => any::<Index>().prop_map(Target::Stale),
        2 => (0usize..600).prop_map(Target::Grid),
        3 => (any::<Index>(), -48i64..300).prop_map(|(i, d)| Target::Interior(i, d)),
        1 => Just(Target::Foreign),
        1 => edge_i64().prop_map(Target::Raw),
        1 => Just(Target::Null),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        24 => (request_size(300), request_align(), prop::bool::weighted(0.75))
            .prop_map(|(size, align, fill_all)| Op::Alloc { size, align, fill_all }),
        28 => target().prop_map(Op::Dealloc),
        12 => (target(), request_size(300), request_align(), prop::bool::weighted(0.75))
            .prop_map(|(target, size, align, fill_all)| Op::Realloc { target, size, align, fill_all }),
        1 => Just(Op::Reset),
    ]
}

/// Operations for a large heap: sizes spread over many size classes
/// (log-uniform up to 2^26), alignments up to 2^16.
fn large_op() -> impl Strategy<Value = Op> {
    let size = (0u32..=26, any::<u64>()).prop_map(|(k, r)| (r % (1u64 << k) + (1 << k) / 2) as i64);
    let align = prop_oneof![6 => Just(8i64), 1 => (0u32..=16).prop_map(|k| 1i64 << k)];
    prop_oneof![
        5 => (size.clone(), align.clone()).prop_map(|(size, align)| Op::Alloc { size, align, fill_all: true }),
        4 => any::<Index>().prop_map(|i| Op::Dealloc(Target::Live(i))),
        1 => target().prop_map(Op::Dealloc),
        2 => (any::<Index>(), size, align).prop_map(|(i, size, align)| Op::Realloc {
            target: Target::Live(i),
            size,
            align,
            fill_all: true,
        }),
    ]
}

/// The block size serving `size` payload bytes: overhead included, rounded
/// to 16, at least the minimum block (module docs).
fn block_size_for(size: u128) -> u128 {
    ((size + OVERHEAD as u128).div_ceil(16) * 16).max(MIN_BLOCK as u128)
}

/// The bytes a live block owns: the header word before its payload, and
/// its usable bytes.
fn span(ptr: usize, usable: usize, id: u64) -> Span {
    Span {
        start: ptr - OVERHEAD,
        end: ptr + usable,
        id,
    }
}

/// Checks that `span` lies where blocks' spans may: the heap (`capacity`
/// rounded down to 16) shifted by `OVERHEAD`.
fn check_in_heap(span: Span, start: usize, capacity: usize) -> Result<(), TestCaseError> {
    check_inside(
        span,
        start + OVERHEAD,
        start + capacity / 16 * 16 + OVERHEAD,
    )
}

#[derive(Debug)]
enum Expect {
    Fail(Error),
    Succeed,
    /// Either outcome is allowed (large alignment, middle ground).
    Either,
    /// A pointer that is no live block: refused as its free would be.
    Refused,
}

/// The parts of a block's first `keep` bytes the test compares across a
/// realloc: all of them, or for a large block (whose bytes past the first
/// `limit` the test never wrote) the first and the last `limit`.
fn windows(keep: usize, limit: usize) -> Vec<Range<usize>> {
    if keep <= limit.saturating_mul(2) {
        core::iter::once(0..keep).collect()
    } else {
        [0..limit, keep - limit..keep].into()
    }
}

/// A copy of the bytes of `windows` at `ptr`.
///
/// # Safety
/// The windows lie in a block of the allocator (inside its buffer, which
/// is zero-filled at creation, so every byte is initialised).
unsafe fn copy_out(ptr: usize, windows: &[Range<usize>]) -> Vec<Vec<u8>> {
    windows
        .iter()
        .map(|window| {
            // SAFETY: the caller's promise.
            unsafe { core::slice::from_raw_parts((ptr + window.start) as *const u8, window.len()) }
                .to_vec()
        })
        .collect()
}

struct Model {
    start: usize,
    capacity: usize,
    /// Live allocations: payload address -> (usable size, filled, id).
    live: BTreeMap<usize, (usize, usize, u64)>,
    /// Payload addresses handed out and freed since.
    stale: Vec<usize>,
    dropped: bool,
    /// The front-end cache is on: `largest_free_block` (which flushes it)
    /// is read only after a refusal and every 16th step, so that the
    /// cache is exercised; a refused request must then be larger than
    /// what the flushed heap holds.
    cache: bool,
}

impl Model {
    fn total(&self) -> usize {
        self.live
            .values()
            .map(|&(size, _, _)| size + OVERHEAD)
            .sum()
    }

    fn expect_alloc(&self, size: i64, align: i64, largest: usize) -> Expect {
        if !core_layout_ok(size, align) {
            return Expect::Fail(Error::InvalidLayout);
        }
        let (size, align) = (size as u128, align as u128);
        let largest = largest as u128;
        if self.dropped || largest == 0 || size > largest {
            return Expect::Fail(Error::Exhausted);
        }
        if align <= 16
            || block_size_for(size) + align + MIN_BLOCK as u128 <= largest + OVERHEAD as u128
        {
            Expect::Succeed
        } else {
            Expect::Either
        }
    }

    fn address_of(&self, target: &Target, foreign: i64) -> i64 {
        let live: Vec<usize> = self.live.keys().copied().collect();
        let payload0 = (self.start + HEADER_SIZE) as i64;
        match target {
            Target::Live(i) if !live.is_empty() => live[i.index(live.len())] as i64,
            Target::Stale(i) if !self.stale.is_empty() => {
                self.stale[i.index(self.stale.len())] as i64
            }
            Target::Live(_) | Target::Stale(_) => payload0,
            Target::Grid(k) => payload0 + 16 * *k as i64,
            Target::Interior(i, d) => {
                let base = if live.is_empty() {
                    payload0
                } else {
                    live[i.index(live.len())] as i64
                };
                // Never the payload itself: that would be a valid free.
                base.wrapping_add(if *d == 0 { 1 } else { *d })
            }
            Target::Foreign => foreign,
            Target::Raw(v) => *v,
            Target::Null => 0,
        }
    }

    /// Whether `a`, no live block, is a payload-aligned address of the
    /// heap: then either refusal is fair (a free block's start, a stale
    /// pointer, a pointer into a payload), otherwise it is foreign.
    fn aligned_in_heap(&self, a: usize) -> bool {
        !self.dropped
            && a >= self.start + HEADER_SIZE
            && a < self.start + self.capacity
            && (a - self.start) % 16 == 0
    }

    /// Checks a refusal of `a`, which is no live block.
    fn check_refusal(&self, a: usize, got: Error, what: &str) -> Result<(), TestCaseError> {
        if self.aligned_in_heap(a) {
            prop_assert!(
                matches!(got, Error::DoubleFree | Error::ForeignPointer),
                "{}: {:#x}: {:?}",
                what,
                a,
                got
            );
        } else {
            prop_assert_eq!(got, Error::ForeignPointer, "{}: {:#x}", what, a);
        }
        Ok(())
    }

    /// Checks a block just handed out for `layout` (valid) and records it,
    /// with the test's pattern written over `fill_all ? usable : size`
    /// bytes (at most `fill_limit`).
    fn accept(
        &mut self,
        what: &str,
        layout: Layout,
        a: Allocation,
        fill_all: bool,
        fill_limit: usize,
        id: u64,
    ) -> Result<(), TestCaseError> {
        let Layout { size, align } = layout;
        let ptr = a.ptr as usize;
        let usable = a.size as usize;
        prop_assert_eq!(ptr % align as usize, 0, "{}", what);
        prop_assert!(a.size >= size, "{} gave {:?}", what, a);
        // No waste beyond the block size the request needs and a remainder
        // too small to split off (a multiple of 16 below MIN_BLOCK).
        prop_assert!(
            usable as u128 <= block_size_for(size as u128) + (MIN_BLOCK - 16 - OVERHEAD) as u128,
            "{} gave {} usable bytes",
            what,
            usable
        );
        prop_assert!(
            !self.live.contains_key(&ptr),
            "{}: {:#x} is live already",
            what,
            ptr
        );
        check_in_heap(span(ptr, usable, id), self.start, self.capacity)?;
        let filled = if fill_all { usable } else { size as usize }.min(fill_limit);
        // SAFETY: inside the buffer (checked above).
        unsafe { fill(ptr as *mut u8, filled, id) };
        self.live.insert(ptr, (usable, filled, id));
        self.stale.retain(|&p| p != ptr);
        Ok(())
    }

    fn check(&self, list: &CFreeList) -> Result<(), TestCaseError> {
        if let Err(e) = list.check_consistency() {
            prop_assert!(false, "check_consistency: {}", e);
        }
        let capacity = if self.dropped { 0 } else { self.capacity };
        let total = self.total();
        prop_assert_eq!(list.total_allocated(), total);
        prop_assert_eq!(list.remaining(), capacity - total);
        if !self.cache || self.live.len() % 16 == 0 {
            prop_assert!(list.largest_free_block() + OVERHEAD <= (capacity - total).max(OVERHEAD));
            // The stats flush the cache too (for their largest free block).
            let stats = list.stats();
            prop_assert_eq!(stats.live_blocks, self.live.len() as i64);
            prop_assert_eq!(stats.in_use_bytes, total as i64);
            prop_assert!(stats.peak_in_use_bytes >= total as i64);
            prop_assert_eq!(stats.capacity_bytes, capacity as i64);
            prop_assert_eq!(stats.largest_free_block, list.largest_free_block() as i64);
        }
        let mut spans = Vec::with_capacity(self.live.len());
        for (&ptr, &(size, filled, id)) in &self.live {
            // The header word is part of the block: no other block may use it.
            let span = span(ptr, size, id);
            check_in_heap(span, self.start, capacity)?;
            spans.push(span);
            // SAFETY: a live allocation inside the buffer (checked).
            unsafe { verify(ptr as *const u8, filled, id)? };
        }
        check_disjoint(spans)
    }
}

/// A fresh free list and its buffer start, found by a probe.
fn new_with_start(capacity: usize) -> Result<(CFreeList, usize), TestCaseError> {
    let mut list = CFreeList::new(capacity as i64).unwrap();
    let probe = list.alloc(Layout::new(0, 8)).unwrap();
    list.dealloc(probe.ptr).unwrap();
    let start = probe.ptr as usize - HEADER_SIZE;
    prop_assert_eq!(start % 16, 0, "the free list's buffer is 16-byte aligned");
    Ok((list, start))
}

/// Runs `ops` against a fresh free list of `capacity` bytes and the model,
/// checking everything after every step. The test writes its pattern over
/// at most `fill_limit` bytes of each allocation.
fn run_model(
    capacity: usize,
    ops: Vec<Op>,
    fill_limit: usize,
    cache: bool,
) -> Result<(), TestCaseError> {
    let (mut list, start) = new_with_start(capacity)?;
    list.set_cache(cache).unwrap();
    let fresh_largest = list.largest_free_block();
    let (mut other, _) = new_with_start(256)?;
    let foreign = other.alloc(Layout::new(8, 8)).unwrap().ptr;
    let mut model = Model {
        start,
        capacity,
        live: BTreeMap::new(),
        stale: Vec::new(),
        dropped: false,
        cache,
    };
    model.check(&list)?;
    for (step, op) in ops.into_iter().enumerate() {
        let before = snapshot(&list, cache);
        // With the cache on, read only once the call is refused (see
        // `Model::cache`); a success is then judged by the model alone.
        let largest_after = |list: &CFreeList, refused: bool| match (cache, refused) {
            (false, _) => before.2,
            (true, true) => list.largest_free_block(),
            (true, false) => usize::MAX,
        };
        let id = step as u64;
        match op {
            Op::Alloc {
                size,
                align,
                fill_all,
            } => {
                let layout = Layout::new(size, align);
                let got = list.alloc(layout);
                let largest = largest_after(&list, got.is_err());
                let expect = model.expect_alloc(size, align, largest);
                let what = format!("step {step}: alloc {layout:?}");
                match (&expect, got) {
                    (Expect::Succeed | Expect::Either, Ok(a)) => {
                        model.accept(&what, layout, a, fill_all, fill_limit, id)?;
                    }
                    (Expect::Fail(e), Err(g)) => {
                        prop_assert_eq!(*e, g, "{} (largest {})", what, largest);
                    }
                    (Expect::Either, Err(g)) => {
                        prop_assert_eq!(g, Error::Exhausted, "{}", what);
                    }
                    (e, g) => prop_assert!(
                        false,
                        "{} with largest_free_block {}: expected {:?}, got {:?}",
                        what,
                        largest,
                        e,
                        g
                    ),
                }
                if got.is_err() {
                    let after = snapshot(&list, cache);
                    prop_assert_eq!(before, after, "{}: a refusal changed the state", what);
                }
            }
            Op::Dealloc(target) => {
                let address = model.address_of(&target, foreign);
                let got = list.dealloc(address);
                let a = address as usize;
                if address == 0 {
                    prop_assert_eq!(got, Ok(()), "step {}", step);
                } else if model.live.contains_key(&a) {
                    prop_assert_eq!(got, Ok(()), "step {}: free of live {:#x}", step, a);
                    model.live.remove(&a);
                    model.stale.push(a);
                } else {
                    let what = format!("step {step}: free of {a:#x} ({target:?})");
                    match got {
                        Ok(()) => prop_assert!(false, "{}: accepted", what),
                        Err(g) => model.check_refusal(a, g, &what)?,
                    }
                    let after = snapshot(&list, cache);
                    prop_assert_eq!(before, after, "{}: a refusal changed the state", what);
                }
            }
            Op::Realloc {
                target,
                size,
                align,
                fill_all,
            } => {
                let address = model.address_of(&target, foreign);
                let a = address as usize;
                let layout = Layout::new(size, align);
                let what = format!("step {step}: realloc of {a:#x} ({target:?}) to {layout:?}");
                let old = model.live.get(&a).copied();
                let expect = |largest: usize| {
                    if !core_layout_ok(size, align) {
                        Expect::Fail(Error::InvalidLayout)
                    } else if address == 0 {
                        model.expect_alloc(size, align, largest)
                    } else if old.is_some() {
                        // It must succeed where the allocation it falls back
                        // to must; in place, it may succeed where that fails.
                        match model.expect_alloc(size, align, largest) {
                            Expect::Succeed => Expect::Succeed,
                            _ => Expect::Either,
                        }
                    } else {
                        Expect::Refused
                    }
                };
                // What must survive a move: the first min(old usable, new
                // size) bytes, copied before the call.
                let kept = old.map(|(usable, _, _)| {
                    let keep = usable.min(size.max(0) as usize);
                    let windows = windows(keep, fill_limit.max(4096));
                    // SAFETY: a live block: `usable` bytes inside the buffer.
                    let bytes = unsafe { copy_out(a, &windows) };
                    (windows, bytes)
                });
                let got = list.realloc(address, layout);
                let largest = largest_after(&list, got.is_err());
                let expect = expect(largest);
                match (&expect, got) {
                    (Expect::Succeed | Expect::Either, Ok(moved)) => {
                        if let Some((windows, bytes)) = kept {
                            // SAFETY: the new block holds at least `size`
                            // usable bytes, and every window lies below
                            // min(old usable, size).
                            let now = unsafe { copy_out(moved.ptr as usize, &windows) };
                            prop_assert!(
                                now == bytes,
                                "{}: the first {} bytes were not kept (moved to {:#x})",
                                what,
                                windows.last().map_or(0, |w| w.end),
                                moved.ptr
                            );
                            model.live.remove(&a);
                            if moved.ptr as usize != a {
                                model.stale.push(a);
                            }
                        }
                        model.accept(&what, layout, moved, fill_all, fill_limit, id)?;
                    }
                    (Expect::Fail(e), Err(g)) => {
                        prop_assert_eq!(*e, g, "{} (largest {})", what, largest);
                    }
                    (Expect::Either, Err(g)) => {
                        prop_assert_eq!(g, Error::Exhausted, "{}", what);
                    }
                    (Expect::Refused, Err(g)) => model.check_refusal(a, g, &what)?,
                    (e, g) => prop_assert!(
                        false,
                        "{} with largest_free_block {}: expected {:?}, got {:?}",
                        what,
                        largest,
                        e,
                        g
                    ),
                }
                if got.is_err() {
                    let after = snapshot(&list, cache);
                    prop_assert_eq!(before, after, "{}: a refusal changed the state", what);
                }
            }
            Op::Reset => {
                prop_assert_eq!(list.reset(), Ok(()), "step {}", step);
                // Every pointer handed out before is refused from now on.
                let old: Vec<usize> = model.live.keys().copied().collect();
                model.live.clear();
                model.stale.extend(old);
                let fresh = if model.dropped { 0 } else { fresh_largest };
                prop_assert_eq!(
                    list.largest_free_block(),
                    fresh,
                    "step {}: after a reset the heap is one free block again",
                    step
                );
            }
            Op::DropBuffer => {
                prop_assert_eq!(list.drop_buffer(), Ok(()), "step {}", step);
                model.dropped = true;
                model.live.clear();
                model.stale.clear();
            }
        }
        model.check(&list)?;
    }
    other.dealloc(foreign).unwrap();
    if let Err(e) = other.check_consistency() {
        prop_assert!(false, "the other free list: {}", e);
    }
    Ok(())
}

/// What the free list reports: (total allocated, remaining, largest free
/// block), to prove a refused call changed nothing.
fn snapshot(list: &CFreeList, cache: bool) -> (usize, usize, usize) {
    (
        list.total_allocated(),
        list.remaining(),
        // It flushes the cache: read with the cache off only.
        if cache { 0 } else { list.largest_free_block() },
    )
}
proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn free_list_matches_model(
        capacity in prop_oneof![
            3 => 32usize..=16384,
            1 => 16385usize..=65536,
            1 => 32usize..=128,
        ],
        ops in sequence(op(), Op::DropBuffer),
    ) {
        run_model(capacity, ops.clone(), usize::MAX, false)?;
        run_model(capacity, ops, usize::MAX, true)?;
    }

    /// The same model over heaps of 1 MiB to 256 MiB (zero-filled by the
    /// allocator, so untouched pages cost nothing), to reach the upper size
    /// classes; only the first 64 bytes of each allocation are written.
    #[test]
    fn free_list_large_heap_matches_model(
        capacity in (1usize << 20)..=(1 << 28),
        ops in prop::collection::vec(large_op(), 1..120),
    ) {
        run_model(capacity, ops.clone(), 64, false)?;
        run_model(capacity, ops, 64, true)?;
    }

    /// Fill with random sizes until a request is refused, then with
    /// minimum blocks until nothing is left; free everything in random
    /// order; the heap must be one free block again.
    #[test]
    fn free_list_fill_and_drain(
        capacity in prop_oneof![1 => 1024usize..=4096, 2 => 4096usize..=(1 << 18)],
        sizes in prop::collection::vec(
            (prop_oneof![4 => 0i64..=256, 1 => 0i64..=4096], prop_oneof![6 => Just(8i64), 1 => (0u32..=9).prop_map(|k| 1i64 << k)]),
            1..400,
        ),
        seed in any::<u64>(),
    ) {
        let (mut list, start) = new_with_start(capacity)?;
        let mut live: Vec<(usize, usize, u64)> = Vec::new();
        let mut push = |list: &mut CFreeList, size: i64, align: i64| -> Result<bool, TestCaseError> {
            match list.alloc(Layout::new(size, align)) {
                Ok(a) => {
                    let (ptr, usable) = (a.ptr as usize, a.size as usize);
                    let id = live.len() as u64;
                    check_in_heap(span(ptr, usable, id), start, capacity)?;
                    prop_assert_eq!(ptr % align as usize, 0);
                    // SAFETY: inside the buffer (checked above).
                    unsafe { fill(ptr as *mut u8, usable, id) };
                    live.push((ptr, usable, id));
                    Ok(true)
                }
                Err(e) => {
                    prop_assert_eq!(e, Error::Exhausted);
                    Ok(false)
                }
            }
        };
        // Random sizes (cycled) until the first refusal...
        let mut refused = false;
        for &(size, align) in sizes.iter().cycle().take(capacity / 16 + 1) {
            if !push(&mut list, size, align)? {
                refused = true;
                break;
            }
        }
        prop_assert!(refused, "{} bytes never filled", capacity);
        // ...then the smallest blocks until even those are refused.
        while push(&mut list, 0, 8)? {}
        if let Err(e) = list.check_consistency() {
            prop_assert!(false, "full heap: {}", e);
        }
        prop_assert_eq!(list.largest_free_block(), 0, "a full heap has no free block");
        prop_assert_eq!(list.remaining(), capacity % 16, "only the tail below one granule is left");
        let total: usize = live.iter().map(|&(_, usable, _)| usable + OVERHEAD).sum();
        prop_assert_eq!(list.total_allocated(), total);
        check_disjoint(
            live.iter()
                .map(|&(ptr, usable, id)| span(ptr, usable, id))
                .collect(),
        )?;

        Rng::new(seed).shuffle(&mut live);
        for (n, &(ptr, _, _)) in live.iter().enumerate() {
            prop_assert_eq!(list.dealloc(ptr as i64), Ok(()));
            if n % 16 == 0 {
                if let Err(e) = list.check_consistency() {
                    prop_assert!(false, "after {} frees: {}", n + 1, e);
                }
                // The blocks not yet freed are intact.
                for &(ptr, usable, id) in &live[n + 1..] {
                    // SAFETY: a live allocation inside the buffer.
                    unsafe { verify(ptr as *const u8, usable, id)? };
                }
            }
        }
        if let Err(e) = list.check_consistency() {
            prop_assert!(false, "empty heap: {}", e);
        }
        prop_assert_eq!(list.total_allocated(), 0);
        prop_assert_eq!(list.remaining(), capacity);
        let largest = list.largest_free_block();
        prop_assert_eq!(largest, capacity / 16 * 16 - OVERHEAD, "one free block over the heap");
        let all = list.alloc(Layout::new(largest as i64, 8));
        prop_assert!(all.is_ok(), "alloc of largest_free_block() = {} failed: {:?}", largest, all);
        let all = all.unwrap();
        prop_assert!(
            all.size as f64 >= 0.95 * capacity as f64,
            "{} usable bytes of {}", all.size, capacity
        );
        prop_assert_eq!(all.ptr as usize, start + HEADER_SIZE);
        if let Err(e) = list.check_consistency() {
            prop_assert!(false, "one block: {}", e);
        }
    }
}
