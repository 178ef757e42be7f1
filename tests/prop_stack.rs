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

mod common;

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
