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

mod common;

use common::c_api::{CBump, Layout};
use common::{
    check_disjoint, check_inside, config, core_layout_ok, fill, request_align, request_size,
    sequence, verify, verify_zero, Span,
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
