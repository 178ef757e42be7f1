//! Model-based test of the LIFO stack allocator through the C ABI
//! (`stack_*`, via `common::c_api::CStack`, so that the edge `int64_t`
//! inputs meet the ABI's own validation: `stack_alloc` refuses every
//! invalid layout with `InvalidLayout`, whatever the room left).
//!
//! The model follows the `stack` module docs offset by offset: an
//! allocation's payload is the first address aligned as asked, and to 16
//! at least, with room for its 8-byte header right below it above the top;
//! the new top is the payload's end; it is exhausted iff that end passes
//! the capacity. A pop restores the top from before the allocation exactly.
//!
//! The stack owns its buffer (16-byte aligned by contract), so the test
//! finds its start with a probe: the first allocation of an empty stack,
//! aligned to at most 16, has its header at offset 8 and its payload at 16.
//!
//! `stack_with_marks_matches_model` adds checkpoints (`stack_mark`,
//! `stack_release_to` to a live, stale or forged mark) and, on some stacks,
//! growth from the global allocator: the model keeps the live allocations
//! and the stack of live marks; a release to a live mark restores the depth,
//! the live set and the remaining bytes at the mark, and makes the marks
//! above it stale; a pop below a mark makes it stale; a stale or forged
//! mark is `StaleMark` with nothing changed.

mod common;

use common::c_api::CView;
use common::c_api::{CStack, Layout};
use common::{
    check_disjoint, check_inside, config, core_layout_ok, fill, request_align, request_size,
    sequence, verify, Span,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use vais_alloc::Error;

#[derive(Clone, Debug)]
enum Op {
    Alloc { size: i64, align: i64 },
    Pop,
    Reset,
    DropBuffer,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => (request_size(96), request_align())
            .prop_map(|(size, align)| Op::Alloc { size, align }),
        22 => Just(Op::Pop),
        1 => Just(Op::Reset),
    ]
}

#[derive(Debug)]
struct Live {
    /// The top before this allocation (what its pop restores).
    previous_top: usize,
    ptr: usize,
    size: usize,
    id: u64,
}

struct Model {
    /// Buffer start address; `None` when the capacity is below 9 (nothing,
    /// not even a zero-size request, fits, and the probe cannot run).
    start: Option<usize>,
    capacity: usize,
    /// First free offset.
    top: usize,
    live: Vec<Live>,
}

fn align_up(value: u128, align: u128) -> u128 {
    value.div_ceil(align) * align
}

impl Model {
    /// What `alloc(layout)` must do: the payload address, or the error.
    fn expect_alloc(&self, size: i64, align: i64) -> Result<usize, Error> {
        if !core_layout_ok(size, align) {
            return Err(Error::InvalidLayout);
        }
        let Some(start) = self.start else {
            return Err(Error::Exhausted);
        };
        let align = (align as u128).max(16);
        let payload = align_up(start as u128 + self.top as u128 + 8, align);
        // A zero-size request takes one byte (stack.rs).
        let end = payload - start as u128 + size.max(1) as u128;
        if end > self.capacity as u128 {
            return Err(Error::Exhausted);
        }
        Ok(payload as usize)
    }

    fn check(&self, stack: &CStack) -> Result<(), TestCaseError> {
        prop_assert_eq!(stack.remaining(), self.capacity - self.top);
        prop_assert_eq!(stack.depth(), self.live.len());
        let Some(start) = self.start else {
            prop_assert!(self.live.is_empty());
            return Ok(());
        };
        let mut spans = Vec::with_capacity(self.live.len());
        for live in &self.live {
            let span = Span {
                start: live.ptr,
                end: live.ptr + live.size,
                id: live.id,
            };
            // Room for the header below the payload.
            check_inside(span, start + 8, start + self.capacity)?;
            spans.push(span);
            // SAFETY: the span lies inside the stack's live buffer
            // (checked just above).
            unsafe { verify(live.ptr as *const u8, live.size, live.id)? };
        }
        check_disjoint(spans)
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn stack_matches_model(
        capacity in prop_oneof![6 => 0usize..=16384, 1 => 0usize..=40],
        ops in sequence(op(), Op::DropBuffer),
    ) {
        let mut stack = CStack::new(capacity as i64).unwrap();
        // A zero-size probe takes 8 bytes of gap, its header and one byte.
        let start = if capacity >= 17 {
            let probe = stack.alloc(Layout::new(0, 1)).unwrap();
            prop_assert_eq!(stack.remaining(), capacity - 17);
            stack.pop().unwrap();
            let start = probe.ptr as usize - 16;
            prop_assert_eq!(start % 16, 0, "the stack's buffer is 16-byte aligned");
            Some(start)
        } else {
            prop_assert_eq!(stack.alloc(Layout::new(0, 1)), Err(Error::Exhausted));
            None
        };
        let mut model = Model { start, capacity, top: 0, live: Vec::new() };
        model.check(&stack)?;
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Alloc { size, align } => {
                    let layout = Layout::new(size, align);
                    match (model.expect_alloc(size, align), stack.alloc(layout)) {
                        (Ok(p), Ok(a)) => {
                            prop_assert_eq!(a.ptr as usize, p, "step {}: {:?}", step, layout);
                            prop_assert_eq!(p % align as usize, 0);
                            let start = model.start.unwrap();
                            // The caller may use all of `a.size`, which must
                            // therefore end at the new top.
                            let new_top = p - start + size.max(1) as usize;
                            prop_assert!(
                                a.size >= size && p + a.size as usize <= start + new_top,
                                "step {}: {:?} gave {:?}", step, layout, a
                            );
                            let id = step as u64;
                            let live = Live { previous_top: model.top, ptr: p, size: a.size as usize, id };
                            check_inside(
                                Span { start: p, end: p + live.size, id },
                                start + 8,
                                start + model.capacity,
                            )?;
                            // SAFETY: inside the stack's buffer (checked).
                            unsafe { fill(p as *mut u8, live.size, id) };
                            model.top = new_top;
                            model.live.push(live);
                        }
                        (Err(e), Err(g)) => prop_assert_eq!(e, g, "step {}: {:?}", step, layout),
                        (e, g) => prop_assert!(false, "step {}: {:?}: expected {:?}, got {:?}", step, layout, e, g),
                    }
                }
                Op::Pop => {
                    let got = stack.pop();
                    match model.live.pop() {
                        Some(live) => {
                            prop_assert_eq!(got, Ok(()), "step {}", step);
                            model.top = live.previous_top;
                        }
                        None => prop_assert_eq!(got, Err(Error::Empty), "step {}", step),
                    }
                }
                Op::Reset => {
                    prop_assert_eq!(stack.reset(), Ok(()), "step {}", step);
                    model.top = 0;
                    model.live.clear();
                }
                Op::DropBuffer => {
                    prop_assert_eq!(stack.drop_buffer(), Ok(()), "step {}", step);
                    model.start = None;
                    model.capacity = 0;
                    model.top = 0;
                    model.live.clear();
                }
            }
            model.check(&stack)?;
        }
    }
}

// ----- marks, over a stack that may grow ---------------------------------

#[derive(Clone, Debug)]
enum MarkOp {
    Push {
        size: i64,
        align: i64,
    },
    Pop,
    Mark,
    /// A release to a live mark (the one at this index), if any.
    ReleaseLive(prop::sample::Index),
    /// A release to a mark gone stale (the one at this index), if any.
    ReleaseStale(prop::sample::Index),
    /// A release to a forged value: `seed`, or a live mark with a bit
    /// flipped, plus or minus one (never a live mark's value).
    ReleaseForged {
        seed: i64,
        how: u8,
    },
    Reset,
}

/// A push size: as `request_size`, but none that would make a growing
/// stack ask the global allocator for a chunk between a few KiB and 1 GiB
/// (a push above 1 GiB is refused without asking).
fn push_size() -> impl Strategy<Value = i64> {
    request_size(96).prop_filter("no chunk between 8 KiB and 1 GiB", |&size| {
        size <= 5000 || size >= 1 << 30
    })
}

/// A push alignment: as `request_align`, with the same restriction.
fn push_align() -> impl Strategy<Value = i64> {
    request_align().prop_filter("no chunk between 8 KiB and 1 GiB", |&align| {
        align <= 4096 || align >= 1 << 30
    })
}

fn mark_op() -> impl Strategy<Value = MarkOp> {
    prop_oneof![
        30 => (push_size(), push_align()).prop_map(|(size, align)| MarkOp::Push { size, align }),
        16 => Just(MarkOp::Pop),
        6 => Just(MarkOp::Mark),
        6 => any::<prop::sample::Index>().prop_map(MarkOp::ReleaseLive),
        2 => any::<prop::sample::Index>().prop_map(MarkOp::ReleaseStale),
        2 => (any::<i64>(), 0u8..4).prop_map(|(seed, how)| MarkOp::ReleaseForged { seed, how }),
        1 => Just(MarkOp::Reset),
    ]
}

/// The bytes a growing stack may hold in all (its chunks then stay small).
const GROWING_LIMIT: usize = 1 << 20;

/// The largest chunk a growing stack takes (`MAX_STACK_CHUNK`).
const MAX_STACK_CHUNK: u128 = 1 << 30;

#[derive(Debug)]
struct MarkLive {
    ptr: usize,
    /// `Allocation.size`.
    size: usize,
    /// The top after it: `ptr + max(size, 1)`.
    end: usize,
    id: u64,
    /// 0: the own buffer; otherwise the chunk region it was pushed in (a
    /// fresh number each time the stack moves to a chunk).
    region: u64,
}

#[derive(Debug)]
struct LiveMark {
    value: i64,
    /// Live allocations at the mark.
    depth: usize,
    remaining: usize,
    capacity: usize,
}

/// What a push must do.
#[derive(Debug, PartialEq, Eq)]
enum Push {
    /// Succeed at this address, in the current region.
    At(usize),
    /// Succeed in a chunk: at `here` if it stays in the current chunk
    /// region, else elsewhere; or, past the limit, `Exhausted`.
    Chunk {
        here: Option<usize>,
        align: usize,
    },
    Fail(Error),
}

struct MarkModel {
    /// Own buffer start; `None` when it is below 17 bytes (nothing fits).
    start: Option<usize>,
    own: usize,
    grows: bool,
    live: Vec<MarkLive>,
    marks: Vec<LiveMark>,
    /// Marks gone stale (the most recent ones).
    stale: Vec<i64>,
    next_region: u64,
    /// Without an upstream: the highest top (as an offset) so far.
    high: usize,
    /// The peak last read (it never goes down).
    peak: usize,
}

impl MarkModel {
    fn in_own(&self) -> bool {
        !matches!(self.live.last(), Some(live) if live.region != 0)
    }

    /// The top of the current region: the newest allocation's end, or the
    /// own buffer's start.
    fn top(&self) -> Option<usize> {
        match self.live.last() {
            Some(live) => Some(live.end),
            None => self.start,
        }
    }

    fn expect_push(&self, size: i64, align: i64) -> Push {
        if !core_layout_ok(size, align) {
            return Push::Fail(Error::InvalidLayout);
        }
        let align = (align as u128).max(16);
        let footprint = (size as u128).max(1);
        let here = self.top().map(|top| align_up(top as u128 + 8, align));
        if self.in_own() {
            if let (Some(start), Some(payload)) = (self.start, here) {
                if payload + footprint <= (start + self.own) as u128 {
                    return Push::At(payload as usize);
                }
            }
            if !self.grows {
                return Push::Fail(Error::Exhausted);
            }
        }
        // A fresh region's first payload is at most `align` in, and a large
        // alignment pads with a dead header (regions.rs).
        if footprint + align + 2 * 8 + 15 > MAX_STACK_CHUNK {
            return Push::Fail(Error::Exhausted);
        }
        Push::Chunk {
            here: if self.in_own() {
                None
            } else {
                here.map(|p| p as usize)
            },
            align: align as usize,
        }
    }

    /// Marks above the live depth are stale (a pop below them).
    fn drop_stale_marks(&mut self) {
        while self
            .marks
            .last()
            .is_some_and(|mark| mark.depth > self.live.len())
        {
            let mark = self.marks.pop().unwrap();
            self.stale.push(mark.value);
        }
    }

    fn forget_marks_above(&mut self, place: usize) {
        for mark in self.marks.drain(place + 1..) {
            self.stale.push(mark.value);
        }
    }

    fn trim_stale(&mut self) {
        if self.stale.len() > 64 {
            self.stale.drain(..self.stale.len() - 64);
        }
    }

    /// Every live allocation aligned, inside the own buffer (those pushed
    /// there), its pattern intact, and, headers included, disjoint from
    /// the others; the depth and the remaining bytes as the model says.
    fn check(&mut self, stack: &CStack) -> Result<(), TestCaseError> {
        prop_assert_eq!(stack.depth(), self.live.len());
        let mut spans = Vec::with_capacity(self.live.len());
        for live in &self.live {
            prop_assert_eq!(live.ptr % 16, 0, "every payload is 16-aligned at least");
            let span = Span {
                start: live.ptr - 8,
                end: live.end,
                id: live.id,
            };
            if live.region == 0 {
                let start = self.start.unwrap();
                check_inside(span, start, start + self.own)?;
            }
            spans.push(span);
            // SAFETY: a live allocation of the stack (its own buffer or a
            // chunk it holds), of `size` bytes.
            unsafe { verify(live.ptr as *const u8, live.size, live.id)? };
        }
        check_disjoint(spans)?;
        let peak = stack.peak();
        prop_assert!(
            peak >= self.peak,
            "the peak went down: {} -> {}",
            self.peak,
            peak
        );
        self.peak = peak;
        let in_use: usize = self.live.iter().map(|live| live.end - live.ptr + 8).sum();
        prop_assert!(
            peak >= in_use,
            "peak {} below the bytes in use {}",
            peak,
            in_use
        );
        if !self.grows {
            prop_assert_eq!(stack.capacity(), self.own);
            let used = match (self.top(), self.start) {
                (Some(top), Some(start)) => top - start,
                _ => 0,
            };
            prop_assert_eq!(stack.remaining(), self.own - used);
            prop_assert_eq!(peak, self.high, "the peak is the highest top");
        } else {
            prop_assert!(stack.capacity() >= self.own);
            prop_assert!(stack.capacity() <= self.own + GROWING_LIMIT);
            prop_assert!(stack.remaining() <= stack.capacity());
        }
        Ok(())
    }
}

/// What a refused call must leave unchanged.
fn snapshot(stack: &CStack) -> (usize, usize, usize, usize) {
    (
        stack.remaining(),
        stack.depth(),
        stack.capacity(),
        stack.peak(),
    )
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn stack_with_marks_matches_model(
        own in prop_oneof![3 => 0usize..=512, 1 => 0usize..=40],
        upstream in prop::option::weighted(0.6, prop_oneof![1 => Just(0i64), 4 => 32i64..=2048]),
        ops in prop::collection::vec(mark_op(), 1..200),
    ) {
        let mut stack = CStack::new(own as i64).unwrap();
        // The probe, before any upstream (which needs an empty stack).
        let start = if own >= 17 {
            let probe = stack.alloc(Layout::new(0, 1)).unwrap();
            stack.pop().unwrap();
            Some(probe.ptr as usize - 16)
        } else {
            None
        };
        if let Some(chunk_size) = upstream {
            stack.set_upstream(CView::global(), chunk_size).unwrap();
            stack.set_limit((own + GROWING_LIMIT) as i64).unwrap();
            prop_assert_eq!(
                stack.as_allocator().caps() & vais_alloc::ffi::allocator::VAIS_ALLOC_CAP_GROWS,
                vais_alloc::ffi::allocator::VAIS_ALLOC_CAP_GROWS
            );
        }
        let mut model = MarkModel {
            start,
            own,
            grows: upstream.is_some(),
            live: Vec::new(),
            marks: Vec::new(),
            stale: Vec::new(),
            next_region: 1,
            high: if start.is_some() { 17 } else { 0 },
            peak: 0,
        };
        model.check(&stack)?;
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                MarkOp::Push { size, align } => {
                    let layout = Layout::new(size, align);
                    let expect = model.expect_push(size, align);
                    let before = snapshot(&stack);
                    let got = stack.alloc(layout);
                    let region = match (&expect, &got) {
                        (Push::At(p), Ok(a)) => {
                            prop_assert_eq!(a.ptr as usize, *p, "step {}: {:?}", step, layout);
                            0
                        }
                        (Push::Chunk { here, align }, Ok(a)) => {
                            let p = a.ptr as usize;
                            prop_assert_eq!(p % align, 0, "step {}: {:?} gave {:?}", step, layout, a);
                            if let Some(start) = model.start {
                                prop_assert!(
                                    p + size.max(1) as usize <= start || p - 8 >= start + model.own,
                                    "step {}: {:?} gave {:?}, in the own buffer", step, layout, a
                                );
                            }
                            // The same region: at its first place, with the
                            // remaining bytes down by exactly what it took,
                            // and no new chunk.
                            let end = p + size.max(1) as usize;
                            let same = *here == Some(p)
                                && stack.capacity() == before.2
                                && model.top().is_some_and(|top| stack.remaining() + (end - top) == before.0);
                            if same {
                                model.live.last().unwrap().region
                            } else {
                                model.next_region += 1;
                                model.next_region
                            }
                        }
                        (Push::Chunk { .. }, Err(Error::Exhausted)) => {
                            // Past the limit: nothing changed.
                            prop_assert_eq!(snapshot(&stack), before, "step {}", step);
                            model.check(&stack)?;
                            continue;
                        }
                        (Push::Fail(e), Err(g)) => {
                            prop_assert_eq!(e, g, "step {}: {:?}", step, layout);
                            prop_assert_eq!(snapshot(&stack), before, "step {}", step);
                            model.check(&stack)?;
                            continue;
                        }
                        (e, g) => {
                            prop_assert!(false, "step {}: {:?}: expected {:?}, got {:?}", step, layout, e, g);
                            unreachable!()
                        }
                    };
                    let a = got.unwrap();
                    let ptr = a.ptr as usize;
                    prop_assert_eq!(ptr % align as usize, 0);
                    prop_assert!(a.size >= size, "step {}: {:?} gave {:?}", step, layout, a);
                    let live = MarkLive {
                        ptr,
                        size: a.size as usize,
                        end: ptr + size.max(1) as usize,
                        id: step as u64,
                        region,
                    };
                    if region == 0 {
                        let start = model.start.unwrap();
                        model.high = model.high.max(live.end - start);
                    }
                    // SAFETY: `size` bytes of the stack's, just handed out.
                    unsafe { fill(ptr as *mut u8, live.size, live.id) };
                    model.live.push(live);
                }
                MarkOp::Pop => {
                    let before = snapshot(&stack);
                    let got = stack.pop();
                    match model.live.pop() {
                        Some(popped) => {
                            prop_assert_eq!(got, Ok(()), "step {}", step);
                            // Within a region the remaining bytes come back
                            // exactly.
                            let same_region = model.live.last().map_or(popped.region == 0, |below| below.region == popped.region);
                            if same_region {
                                let top = model.top().unwrap();
                                prop_assert_eq!(stack.remaining(), before.0 + (popped.end - top), "step {}", step);
                            }
                            model.drop_stale_marks();
                        }
                        None => {
                            prop_assert_eq!(got, Err(Error::Empty), "step {}", step);
                            prop_assert_eq!(snapshot(&stack), before, "step {}", step);
                        }
                    }
                }
                MarkOp::Mark => {
                    let value = stack.mark();
                    prop_assert!(value.is_ok(), "step {}: {:?}", step, value);
                    let value = value.unwrap();
                    prop_assert!(value >= 0);
                    prop_assert!(model.marks.iter().all(|mark| mark.value != value));
                    model.marks.push(LiveMark {
                        value,
                        depth: model.live.len(),
                        remaining: stack.remaining(),
                        capacity: stack.capacity(),
                    });
                }
                MarkOp::ReleaseLive(index) => {
                    if model.marks.is_empty() {
                        continue;
                    }
                    let place = index.index(model.marks.len());
                    let capacity_before = stack.capacity();
                    let mark = &model.marks[place];
                    let (value, depth, remaining, capacity) = (mark.value, mark.depth, mark.remaining, mark.capacity);
                    prop_assert_eq!(stack.release_to(value), Ok(()), "step {}: mark {} of {}", step, place, model.marks.len());
                    model.live.truncate(depth);
                    model.forget_marks_above(place);
                    prop_assert_eq!(stack.depth(), depth, "step {}", step);
                    prop_assert_eq!(stack.remaining(), remaining, "step {}: remaining at the mark", step);
                    // Chunks obtained since go back, one kept as a spare.
                    let now = stack.capacity();
                    prop_assert!(now >= capacity && now <= capacity_before, "step {}: capacity {} (at the mark {}, before {})", step, now, capacity, capacity_before);
                    // The mark stays live: releasing to it again changes nothing.
                    let after = snapshot(&stack);
                    prop_assert_eq!(stack.release_to(value), Ok(()), "step {}", step);
                    prop_assert_eq!(snapshot(&stack), after, "step {}", step);
                }
                MarkOp::ReleaseStale(index) => {
                    if model.stale.is_empty() {
                        continue;
                    }
                    let value = model.stale[index.index(model.stale.len())];
                    if model.marks.iter().any(|mark| mark.value == value) {
                        continue;
                    }
                    let before = snapshot(&stack);
                    prop_assert_eq!(stack.release_to(value), Err(Error::StaleMark), "step {}: {}", step, value);
                    prop_assert_eq!(snapshot(&stack), before, "step {}", step);
                }
                MarkOp::ReleaseForged { seed, how } => {
                    let value = match (how, model.marks.last()) {
                        (1, Some(mark)) => mark.value ^ (1i64 << (seed as u64 % 64)),
                        (2, Some(mark)) => mark.value.wrapping_add(1),
                        (3, Some(mark)) => mark.value.wrapping_sub(1),
                        _ => seed,
                    };
                    if model.marks.iter().any(|mark| mark.value == value) {
                        continue;
                    }
                    let before = snapshot(&stack);
                    prop_assert_eq!(stack.release_to(value), Err(Error::StaleMark), "step {}: {}", step, value);
                    prop_assert_eq!(snapshot(&stack), before, "step {}", step);
                }
                MarkOp::Reset => {
                    prop_assert_eq!(stack.reset(), Ok(()), "step {}", step);
                    model.live.clear();
                    let marks: Vec<i64> = model.marks.drain(..).map(|mark| mark.value).collect();
                    model.stale.extend(marks);
                    // Everything held can be pushed again without asking.
                    prop_assert_eq!(stack.remaining(), stack.capacity(), "step {}", step);
                }
            }
            model.trim_stale();
            model.check(&stack)?;
        }
    }
}
