//! Model-based test of the bump arena through the C ABI (`bump_*`, via
//! `common::c_api::CBump`, so that the edge `int64_t` inputs meet the ABI's
//! own validation), mostly over a caller buffer deliberately misaligned by
//! 0..15 bytes, so the test knows the bounds exactly; sometimes over a
//! buffer of its own, whose start the test finds with a probe (an empty
//! arena puts its first one-byte request at `start`).
//!
//! The model is the upward bump of the `bump` module docs: a request of
//! `size` bytes aligned to `align` lands at `p = align_up(top, align)` (the
//! first address at or after the top with `p % align == 0`), the new top
//! is `p + max(size, 1)`, and the arena is exhausted for it iff that passes
//! the end. `bump_remaining` is `end - top`.
//!
//! `bump_with_marks_matches_model` adds checkpoints and growth: over a
//! small own buffer, sometimes with the global allocator as upstream, it
//! takes marks and releases to live, stale, foreign and forged ones, frees
//! the newest block, resets and drops. Its model keeps the stack of live
//! marks with the `(remaining, total)` read at each: a release to a live
//! mark restores exactly those and closes the scopes above it; anything
//! else is `STALE_MARK` with nothing changed. Addresses are predicted
//! exactly while the arena serves from its own buffer; from chunks, the
//! test checks alignment, ownership, disjointness and patterns.

mod common;

use common::c_api::{CBump, CView, Layout};
use common::{
    check_disjoint, check_inside, config, core_layout_ok, edge_i64, fill, request_align,
    request_size, sequence, verify, verify_zero, Span,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use vais_alloc::Error;

#[derive(Clone, Debug)]
enum Op {
    Alloc {
        size: i64,
        align: i64,
        zeroed: bool,
    },
    Reset,
    DropBuffer,
    /// `owns` of the address `delta` bytes from `anchor`.
    Owns {
        anchor: Anchor,
        delta: i64,
    },
}

#[derive(Clone, Copy, Debug)]
enum Anchor {
    Start,
    Top,
    End,
    /// Address 0: `delta` is the whole address.
    Zero,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        40 => (request_size(96), request_align(), any::<bool>())
            .prop_map(|(size, align, zeroed)| Op::Alloc { size, align, zeroed }),
        3 => Just(Op::Reset),
        6 => (
            prop_oneof![Just(Anchor::Start), Just(Anchor::Top), Just(Anchor::End)],
            prop_oneof![-3i64..=3, -64i64..2100],
        )
            .prop_map(|(anchor, delta)| Op::Owns { anchor, delta }),
        1 => any::<i64>().prop_map(|delta| Op::Owns { anchor: Anchor::Zero, delta }),
    ]
}

#[derive(Debug)]
struct Live {
    ptr: usize,
    size: usize,
    id: u64,
}

struct Model {
    /// The caller buffer's first address, as the test owns it (`None`:
    /// the arena owns its buffer).
    base: Option<*mut u8>,
    start: usize,
    end: usize,
    /// First address not handed out (`start` when empty).
    top: usize,
    /// `drop_buffer` was called: capacity 0 from now on.
    dropped: bool,
    total: usize,
    live: Vec<Live>,
}

impl Model {
    fn capacity(&self) -> usize {
        if self.dropped {
            0
        } else {
            self.end - self.start
        }
    }

    /// What `alloc(layout)` must do: the address, or the error.
    fn expect_alloc(&self, size: i64, align: i64) -> Result<usize, Error> {
        if !core_layout_ok(size, align) {
            return Err(Error::InvalidLayout);
        }
        if self.dropped {
            return Err(Error::Exhausted);
        }
        let (size, align) = (size as u128, align as u128);
        // The first aligned address at or after `top`, and the block's end.
        let p = (self.top as u128).div_ceil(align) * align;
        if p + size.max(1) > self.end as u128 {
            return Err(Error::Exhausted);
        }
        Ok(p as usize)
    }

    /// A pointer for an address inside the arena's buffer.
    fn ptr(&self, address: usize) -> *mut u8 {
        match self.base {
            Some(base) => base.wrapping_add(address - base as usize),
            None => address as *mut u8,
        }
    }

    fn check(&self, bump: &CBump) -> Result<(), TestCaseError> {
        prop_assert_eq!(bump.capacity(), self.capacity());
        let remaining = if self.dropped { 0 } else { self.end - self.top };
        prop_assert_eq!(bump.remaining(), remaining);
        prop_assert_eq!(bump.total_allocated(), self.total);
        let mut spans = Vec::with_capacity(self.live.len());
        for live in &self.live {
            // A zero-size request consumes one byte (module docs).
            let span = Span {
                start: live.ptr,
                end: live.ptr + live.size.max(1),
                id: live.id,
            };
            check_inside(span, self.start, self.end)?;
            prop_assert!(bump.owns(live.ptr as i64));
            spans.push(span);
            // SAFETY: the span lies inside the arena's buffer (checked just
            // above), which lives until the arena drops it, and then
            // `live` is empty.
            unsafe { verify(self.ptr(live.ptr), live.size, live.id)? };
        }
        check_disjoint(spans)
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn bump_matches_model(
        capacity in prop_oneof![6 => 0usize..=16384, 1 => 0usize..=64],
        misalign in 0usize..16,
        owned in prop::bool::weighted(0.2),
        ops in sequence(op(), Op::DropBuffer),
    ) {
        // 16 spare bytes in front (for the misalignment) and behind (to
        // prove nothing is written past the end).
        let mut storage = vec![0xA5u8; capacity + 32];
        let base = storage.as_mut_ptr();
        let (mut bump, start, base) = if owned {
            let mut bump = CBump::new(capacity as i64).unwrap();
            let start = match bump.alloc(Layout::new(0, 1)) {
                Ok(probe) => probe.ptr as usize,
                Err(e) => {
                    prop_assert_eq!((capacity, e), (0, Error::Exhausted));
                    0
                }
            };
            prop_assert_eq!(bump.reset(), Ok(()));
            prop_assert_eq!(start % 16, 0, "the arena's own buffer is 16-byte aligned");
            (bump, start, None)
        } else {
            let start = base as usize + misalign;
            // SAFETY: `[start, start + capacity)` lies inside `storage`,
            // which is not touched otherwise (only through `base`) and
            // outlives `bump`.
            let bump = unsafe { CBump::from_buffer(start as i64, capacity as i64) }.unwrap();
            (bump, start, Some(base))
        };
        let mut model = Model {
            base,
            start,
            end: start + capacity,
            top: start,
            dropped: false,
            total: 0,
            live: Vec::new(),
        };
        model.check(&bump)?;
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Alloc { size, align, zeroed } => {
                    let layout = Layout::new(size, align);
                    let got = if zeroed {
                        bump.alloc_zeroed(layout)
                    } else {
                        bump.alloc(layout)
                    };
                    match (model.expect_alloc(size, align), got) {
                        (Ok(p), Ok(a)) => {
                            prop_assert_eq!(a.ptr as usize, p, "step {}: {:?}", step, layout);
                            prop_assert_eq!(a.size, size, "step {}: bump returns size = layout.size", step);
                            prop_assert_eq!(a.ptr as usize % align as usize, 0);
                            prop_assert_eq!(bump.capacity(), capacity);
                            let id = step as u64;
                            let live = Live { ptr: p, size: size as usize, id };
                            check_inside(
                                Span { start: p, end: p + live.size.max(1), id },
                                model.start,
                                model.end,
                            )?;
                            if zeroed {
                                // SAFETY: inside the arena's buffer (checked).
                                unsafe { verify_zero(model.ptr(p), live.size)? };
                            }
                            // SAFETY: inside the arena's buffer (checked).
                            unsafe { fill(model.ptr(p), live.size, id) };
                            model.top = p + live.size.max(1);
                            model.total += live.size;
                            model.live.push(live);
                        }
                        (Err(e), Err(g)) => prop_assert_eq!(e, g, "step {}: {:?}", step, layout),
                        (e, g) => prop_assert!(false, "step {}: {:?}: expected {:?}, got {:?}", step, layout, e, g),
                    }
                }
                Op::Reset => {
                    prop_assert_eq!(bump.reset(), Ok(()), "step {}", step);
                    model.top = model.start;
                    model.total = 0;
                    model.live.clear();
                }
                Op::DropBuffer => {
                    prop_assert_eq!(bump.drop_buffer(), Ok(()), "step {}", step);
                    model.dropped = true;
                    model.top = model.start;
                    model.total = 0;
                    model.live.clear();
                }
                Op::Owns { anchor, delta } => {
                    let anchor = match anchor {
                        Anchor::Start => model.start,
                        Anchor::Top => model.top,
                        Anchor::End => model.end,
                        Anchor::Zero => 0,
                    };
                    let address = (anchor as i64).wrapping_add(delta);
                    let a = address as usize;
                    let expected = !model.dropped && a >= model.start && a < model.top;
                    prop_assert_eq!(bump.owns(address), expected, "step {}: owns({:#x})", step, a);
                }
            }
            model.check(&bump)?;
        }
        drop(bump);
        // Nothing was written outside `[start, end)`.
        prop_assert!(storage[..misalign].iter().all(|&b| b == 0xA5));
        prop_assert!(storage[misalign + capacity..].iter().all(|&b| b == 0xA5));
    }
}

// ----- marks and growth ----------------------------------------------------

#[derive(Clone, Debug)]
enum MarkOp {
    Alloc {
        size: i64,
        align: i64,
        zeroed: bool,
    },
    /// Frees the newest block the test still holds (rolled back if it is
    /// the arena's most recent one and no mark covers it).
    FreeNewest,
    Mark,
    /// Releases to a live mark (picked by index), if there is one.
    ReleaseLive(prop::sample::Index),
    /// Releases to a mark gone stale (released past, reset, dropped).
    ReleaseStale(prop::sample::Index),
    ReleaseForged(Forged),
    /// Releases to a live mark of another arena.
    ReleaseForeign(prop::sample::Index),
    Reset,
    DropBuffer,
}

#[derive(Clone, Debug)]
enum Forged {
    /// Any value, edges included.
    Value(i64),
    /// A live mark (or, with none, 0) plus a non-zero delta.
    Near(prop::sample::Index, i64),
    /// A live mark (or 0) with one bit flipped.
    Flip(prop::sample::Index, u32),
}

/// Request sizes: mostly small, sometimes a few chunks' worth, sometimes
/// absurd.
fn mark_request_size() -> BoxedStrategy<i64> {
    prop_oneof![
        12 => 0i64..=96,
        2 => Just(0i64),
        2 => 97i64..=1500,
        2 => edge_i64(),
    ]
    .boxed()
}

fn forged() -> impl Strategy<Value = Forged> {
    prop_oneof![
        3 => edge_i64().prop_map(Forged::Value),
        2 => (any::<prop::sample::Index>(), prop_oneof![-3i64..=-1, 1i64..=3, Just(1i64 << 32), Just(-(1i64 << 32))])
            .prop_map(|(i, d)| Forged::Near(i, d)),
        2 => (any::<prop::sample::Index>(), 0u32..64).prop_map(|(i, bit)| Forged::Flip(i, bit)),
    ]
}

fn mark_op() -> impl Strategy<Value = MarkOp> {
    prop_oneof![
        30 => (mark_request_size(), request_align(), any::<bool>())
            .prop_map(|(size, align, zeroed)| MarkOp::Alloc { size, align, zeroed }),
        8 => Just(MarkOp::FreeNewest),
        8 => Just(MarkOp::Mark),
        8 => any::<prop::sample::Index>().prop_map(MarkOp::ReleaseLive),
        3 => any::<prop::sample::Index>().prop_map(MarkOp::ReleaseStale),
        3 => forged().prop_map(MarkOp::ReleaseForged),
        2 => any::<prop::sample::Index>().prop_map(MarkOp::ReleaseForeign),
        2 => Just(MarkOp::Reset),
    ]
}

/// A block the test holds.
#[derive(Clone, Copy, Debug)]
struct Held {
    ptr: usize,
    size: usize,
    align: usize,
    /// The step that allocated it (increasing: marks compare against it).
    id: u64,
}

/// A live mark and what the arena looked like when it was taken.
#[derive(Clone, Copy, Debug)]
struct Saved {
    value: i64,
    remaining: usize,
    total: usize,
    /// The model's own-buffer state at the mark.
    top: usize,
    in_own: bool,
    /// Blocks with `id < step` were allocated before the mark.
    step: u64,
}

struct MarkModel {
    base: Option<*mut u8>,
    start: usize,
    end: usize,
    /// Whether the arena has an upstream.
    grows: bool,
    dropped: bool,
    /// Whether the arena allocates from its own buffer (region 0) now; its
    /// top is then `top`. Without an upstream, always.
    in_own: bool,
    top: usize,
    total: usize,
    peak: usize,
    held: Vec<Held>,
    /// The id of the block a free would roll back.
    last: Option<u64>,
    marks: Vec<Saved>,
    stale: Vec<i64>,
}

/// Requests whose chunk no system can serve: refused with EXHAUSTED or
/// OUT_OF_MEMORY when the arena grows.
const HOPELESS: u128 = 1 << 48;
/// Requests a growing arena would serve with a chunk too large for a test
/// (the test skips them).
const TOO_BIG: i64 = 1 << 20;

impl MarkModel {
    fn own_capacity(&self) -> usize {
        if self.dropped {
            0
        } else {
            self.end - self.start
        }
    }

    /// Where `(size, align)` lands in the own buffer, if it fits there now.
    fn fit_own(&self, size: usize, align: usize) -> Option<usize> {
        if self.dropped || !self.in_own {
            return None;
        }
        let (size, align) = (size as u128, align as u128);
        let p = (self.top as u128).div_ceil(align) * align;
        (p + size.max(1) <= self.end as u128).then_some(p as usize)
    }

    fn ptr(&self, address: usize) -> *mut u8 {
        match self.base {
            Some(base) if address >= self.start && address < self.end => {
                base.wrapping_add(address - base as usize)
            }
            _ => address as *mut u8,
        }
    }

    fn stale_all(&mut self) {
        self.stale.extend(self.marks.drain(..).map(|m| m.value));
    }

    fn emptied(&mut self) {
        self.stale_all();
        self.in_own = true;
        self.top = self.start;
        self.total = 0;
        self.held.clear();
        self.last = None;
    }

    fn check(&self, bump: &CBump) -> Result<(), TestCaseError> {
        prop_assert_eq!(bump.total_allocated(), self.total);
        prop_assert_eq!(bump.peak(), self.peak, "peak: the highest total_allocated");
        let (remaining, capacity) = (bump.remaining(), bump.capacity());
        if self.grows {
            prop_assert!(capacity >= self.own_capacity());
            prop_assert!(
                remaining <= capacity,
                "remaining {} > capacity {}",
                remaining,
                capacity
            );
            if self.in_own && !self.dropped {
                prop_assert!(remaining >= self.end - self.top);
            }
        } else {
            prop_assert_eq!(capacity, self.own_capacity());
            let expected = if self.dropped { 0 } else { self.end - self.top };
            prop_assert_eq!(remaining, expected);
        }
        let mut spans = Vec::with_capacity(self.held.len());
        for held in &self.held {
            let span = Span {
                start: held.ptr,
                end: held.ptr + held.size.max(1),
                id: held.id,
            };
            prop_assert_eq!(held.ptr % held.align, 0);
            if !self.grows {
                check_inside(span, self.start, self.end)?;
            }
            prop_assert!(bump.owns(held.ptr as i64), "block #{} not owned", held.id);
            spans.push(span);
            // SAFETY: the block lies in the own buffer (which lives until
            // the arena drops it, and then `held` is empty) or in a chunk
            // the arena holds (until a reset, release or drop, which take
            // the block out of `held`).
            unsafe { verify(self.ptr(held.ptr), held.size, held.id)? };
        }
        check_disjoint(spans)
    }

    /// The arena's observable state, for "nothing changed".
    fn snapshot(bump: &CBump) -> (usize, usize, usize, usize) {
        (
            bump.remaining(),
            bump.total_allocated(),
            bump.capacity(),
            bump.peak(),
        )
    }

    /// `bump_release_to(value)` against the model: a live mark's value
    /// releases to it (whatever way the test came by the value), anything
    /// else is stale.
    fn release(
        &mut self,
        bump: &mut CBump,
        value: i64,
        step: usize,
        what: &str,
    ) -> Result<(), TestCaseError> {
        let before = MarkModel::snapshot(bump);
        let got = bump.release_to(value);
        match self.marks.iter().position(|m| m.value == value) {
            Some(place) => {
                prop_assert_eq!(
                    got,
                    Ok(()),
                    "step {}: release to live mark {} ({})",
                    step,
                    value,
                    what
                );
                let saved = self.marks[place];
                prop_assert_eq!(
                    (bump.remaining(), bump.total_allocated()),
                    (saved.remaining, saved.total),
                    "step {}: (remaining, total) back to their values at mark {} ({})",
                    step,
                    value,
                    what
                );
                self.stale
                    .extend(self.marks.drain(place + 1..).map(|m| m.value));
                self.total = saved.total;
                self.top = saved.top;
                self.in_own = saved.in_own;
                self.held.retain(|h| h.id < saved.step);
                self.last = None;
            }
            None => {
                prop_assert_eq!(
                    got,
                    Err(Error::StaleMark),
                    "step {}: release to {} ({})",
                    step,
                    value,
                    what
                );
                prop_assert_eq!(
                    MarkModel::snapshot(bump),
                    before,
                    "step {}: a stale release changed the arena",
                    step
                );
            }
        }
        Ok(())
    }

    fn pick_live(&self, index: &prop::sample::Index) -> i64 {
        if self.marks.is_empty() {
            0
        } else {
            self.marks[index.index(self.marks.len())].value
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn bump_with_marks_matches_model(
        capacity in prop_oneof![3 => 0usize..=512, 1 => 0usize..=64],
        misalign in 0usize..16,
        owned in prop::bool::weighted(0.3),
        upstream in prop::option::weighted(0.6, prop_oneof![Just(0i64), 1i64..=4096]),
        ops in sequence(mark_op(), MarkOp::DropBuffer),
    ) {
        let mut storage = vec![0xA5u8; capacity + 32];
        let base = storage.as_mut_ptr();
        let (mut bump, start, base) = if owned {
            let mut bump = CBump::new(capacity as i64).unwrap();
            let start = match bump.alloc(Layout::new(0, 1)) {
                Ok(probe) => probe.ptr as usize,
                Err(e) => {
                    prop_assert_eq!((capacity, e), (0, Error::Exhausted));
                    0
                }
            };
            prop_assert_eq!(bump.reset(), Ok(()));
            (bump, start, None)
        } else {
            let start = base as usize + misalign;
            // SAFETY: `[start, start + capacity)` lies inside `storage`,
            // which is not touched otherwise (only through `base`) and
            // outlives `bump`.
            let bump = unsafe { CBump::from_buffer(start as i64, capacity as i64) }.unwrap();
            (bump, start, Some(base))
        };
        if let Some(chunk) = upstream {
            prop_assert_eq!(bump.set_upstream(CView::global(), chunk), Ok(()));
        }
        // Another arena, whose live marks are foreign to this one.
        let mut other = CBump::new(64).unwrap();
        let foreign: Vec<i64> = (0..4).map(|_| other.mark().unwrap()).collect();

        let mut model = MarkModel {
            base,
            start,
            end: start + capacity,
            grows: upstream.is_some(),
            dropped: false,
            in_own: true,
            top: start,
            total: 0,
            peak: 0,
            held: Vec::new(),
            last: None,
            marks: Vec::new(),
            stale: Vec::new(),
        };
        model.check(&bump)?;
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                MarkOp::Alloc { size, align, zeroed } => {
                    let layout = Layout::new(size, align);
                    let valid = core_layout_ok(size, align);
                    let hopeless = valid && size as u128 + align as u128 >= HOPELESS;
                    if model.grows && valid && !hopeless && (size > TOO_BIG || align > TOO_BIG) {
                        continue; // a real chunk of that size: not in a test
                    }
                    let before = MarkModel::snapshot(&bump);
                    let got = if zeroed { bump.alloc_zeroed(layout) } else { bump.alloc(layout) };
                    if !valid {
                        prop_assert_eq!(got, Err(Error::InvalidLayout), "step {}: {:?}", step, layout);
                        prop_assert_eq!(MarkModel::snapshot(&bump), before);
                    } else if hopeless || !model.grows && model.fit_own(size as usize, align as usize).is_none() {
                        let error = got.err();
                        if model.grows {
                            prop_assert!(
                                matches!(error, Some(Error::Exhausted | Error::OutOfMemory)),
                                "step {}: {:?}: {:?}", step, layout, error
                            );
                        } else {
                            prop_assert_eq!(error, Some(Error::Exhausted), "step {}: {:?}", step, layout);
                        }
                        prop_assert_eq!(MarkModel::snapshot(&bump), before, "step {}: a refusal changed the arena", step);
                    } else {
                        let a = got.map_err(|e| {
                            TestCaseError::fail(format!("step {step}: {layout:?} refused: {e:?}"))
                        })?;
                        let (size, align) = (size as usize, align as usize);
                        let ptr = a.ptr as usize;
                        prop_assert_eq!(a.size as usize, size, "step {}: size = layout.size", step);
                        prop_assert_eq!(ptr % align, 0, "step {}: {:?} at {:#x}", step, layout, ptr);
                        let span = Span { start: ptr, end: ptr + size.max(1), id: step as u64 };
                        match model.fit_own(size, align) {
                            Some(p) => {
                                prop_assert_eq!(ptr, p, "step {}: {:?} in the own buffer", step, layout);
                                check_inside(span, model.start, model.end)?;
                                model.top = p + size.max(1);
                            }
                            None => {
                                // From a chunk: memory apart from the own buffer.
                                prop_assert!(
                                    model.dropped || span.end <= model.start || span.start >= model.end,
                                    "step {}: {:#x}..{:#x} overlaps the own buffer {:#x}..{:#x} it does not fit",
                                    step, span.start, span.end, model.start, model.end
                                );
                                model.in_own = false;
                            }
                        }
                        if zeroed {
                            // SAFETY: a block just handed out, in the own
                            // buffer or in a chunk the arena holds.
                            unsafe { verify_zero(model.ptr(ptr), size)? };
                        }
                        // SAFETY: as above.
                        unsafe { fill(model.ptr(ptr), size, step as u64) };
                        model.held.push(Held { ptr, size, align, id: step as u64 });
                        model.last = Some(step as u64);
                        model.total += size;
                        model.peak = model.peak.max(model.total);
                    }
                }
                MarkOp::FreeNewest => {
                    let Some(newest) = model.held.pop() else { continue };
                    let layout = Layout::new(newest.size as i64, newest.align as i64);
                    let before = MarkModel::snapshot(&bump);
                    // SAFETY: a block of this arena (the view validates it).
                    let got = unsafe { bump.as_allocator().free(newest.ptr as i64, layout) };
                    prop_assert_eq!(got, Ok(()), "step {}: free of #{}", step, newest.id);
                    if model.last == Some(newest.id) {
                        // Rolled back: its bytes are reused.
                        model.total -= newest.size;
                        if model.in_own {
                            model.top = newest.ptr;
                        }
                        prop_assert!(!bump.owns(newest.ptr as i64), "step {}: a rolled-back block is owned", step);
                    } else {
                        // Older, or covered by a mark: nothing happens.
                        prop_assert_eq!(MarkModel::snapshot(&bump), before, "step {}", step);
                        prop_assert!(bump.owns(newest.ptr as i64));
                    }
                    model.last = None;
                }
                MarkOp::Mark => {
                    let before = MarkModel::snapshot(&bump);
                    let value = bump.mark();
                    prop_assert!(matches!(value, Ok(v) if v >= 0), "step {}: mark: {:?}", step, value);
                    let value = value.unwrap();
                    prop_assert!(
                        model.marks.iter().all(|m| m.value != value),
                        "step {}: mark {} repeats a live one", step, value
                    );
                    prop_assert_eq!(MarkModel::snapshot(&bump), before, "step {}: a mark changed the arena", step);
                    model.marks.push(Saved {
                        value,
                        remaining: before.0,
                        total: before.1,
                        top: model.top,
                        in_own: model.in_own,
                        step: step as u64,
                    });
                    model.last = None;
                }
                MarkOp::ReleaseLive(index) => {
                    if model.marks.is_empty() {
                        continue;
                    }
                    let value = model.pick_live(&index);
                    model.release(&mut bump, value, step, "live")?;
                }
                MarkOp::ReleaseStale(index) => {
                    if model.stale.is_empty() {
                        continue;
                    }
                    let value = model.stale[index.index(model.stale.len())];
                    model.release(&mut bump, value, step, "stale")?;
                }
                MarkOp::ReleaseForged(forged) => {
                    let value = match forged {
                        Forged::Value(v) => v,
                        Forged::Near(i, delta) => model.pick_live(&i).wrapping_add(delta),
                        Forged::Flip(i, bit) => model.pick_live(&i) ^ (1i64 << bit),
                    };
                    model.release(&mut bump, value, step, "forged")?;
                }
                MarkOp::ReleaseForeign(index) => {
                    let value = foreign[index.index(foreign.len())];
                    model.release(&mut bump, value, step, "another arena's")?;
                }
                MarkOp::Reset => {
                    prop_assert_eq!(bump.reset(), Ok(()), "step {}", step);
                    model.emptied();
                }
                MarkOp::DropBuffer => {
                    prop_assert_eq!(bump.drop_buffer(), Ok(()), "step {}", step);
                    model.dropped = true;
                    model.emptied();
                }
            }
            model.check(&bump)?;
        }
        // The other arena's marks are still its own.
        prop_assert_eq!(other.release_to(foreign[3]), Ok(()));
        drop(bump);
        // Nothing was written outside `[start, end)` of a caller buffer.
        if !owned {
            prop_assert!(storage[..misalign].iter().all(|&b| b == 0xA5));
            prop_assert!(storage[misalign + capacity..].iter().all(|&b| b == 0xA5));
        }
    }
}
