//! Model-based test of the block pool through the C ABI (`pool_*`, via
//! `common::c_api::CPool`, so that the edge `int64_t` inputs meet the ABI's
//! own validation).
//!
//! The model keeps the set of live blocks (by index) and the set of blocks
//! ever handed out. Allocation succeeds iff fewer than `num_blocks` are
//! live; a free succeeds iff the address is a live block's start; a free
//! block's start is a `DoubleFree`; anything else is a `ForeignPointer`.
//! `pool_reset` makes every block free again at once (the blocks handed
//! out before are then free blocks: `DoubleFree`).
//!
//! The pool owns its buffer; the test finds its start with a probe: blocks
//! are carved from a frontier that starts at the buffer start, so a fresh
//! pool's first block is block 0 (if it were not, some later block would
//! fall outside the bounds the test derives, and the test would fail).

mod common;

use common::c_api::CPool;
use common::{check_disjoint, check_inside, config, edge_i64, fill, sequence, verify, Span};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use std::collections::{BTreeMap, BTreeSet};
use vais_alloc::pool::MAX_BLOCKS;
use vais_alloc::Error;

#[derive(Clone, Debug)]
enum Target {
    /// A live block.
    Live(Index),
    /// Block `k` of the pool, whatever its state (`k` may be past the end).
    Block(usize),
    /// A block handed out before, live or freed since.
    Ever(Index),
    /// `delta` bytes into (or before) a live block.
    Interior(Index, i64),
    /// A block of another pool.
    Foreign,
    /// An arbitrary value.
    Raw(i64),
    Null,
}

#[derive(Clone, Debug)]
enum Op {
    Alloc,
    Dealloc(Target),
    Owns(Target),
    Reset,
    DropBuffer,
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        8 => any::<Index>().prop_map(Target::Live),
        3 => (0usize..70).prop_map(Target::Block),
        4 => any::<Index>().prop_map(Target::Ever),
        3 => (any::<Index>(), -300i64..300).prop_map(|(i, d)| Target::Interior(i, d)),
        1 => Just(Target::Foreign),
        2 => edge_i64().prop_map(Target::Raw),
        1 => Just(Target::Null),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => Just(Op::Alloc),
        8 => target().prop_map(Op::Dealloc),
        2 => target().prop_map(Op::Owns),
        1 => Just(Op::Reset),
    ]
}

struct Model {
    start: usize,
    block_size: usize,
    num_blocks: usize,
    /// Live blocks: index -> allocation id.
    live: BTreeMap<usize, u64>,
    /// Blocks handed out at least once.
    ever: BTreeSet<usize>,
    /// What `allocator_stats` must say: allocations, frees, refusals, the
    /// most blocks live at once.
    allocs: i64,
    frees: i64,
    failed: i64,
    peak: usize,
}

impl Model {
    /// The index of the block starting at `address`, if it is one.
    fn block_of(&self, address: i64) -> Option<usize> {
        let offset = (address as usize).checked_sub(self.start)?;
        (offset % self.block_size == 0 && offset / self.block_size < self.num_blocks)
            .then_some(offset / self.block_size)
    }

    fn address_of(&self, target: &Target, foreign: usize) -> i64 {
        let live: Vec<usize> = self.live.keys().copied().collect();
        let block = |k: usize| (self.start + k * self.block_size) as i64;
        match target {
            Target::Live(i) if !live.is_empty() => block(live[i.index(live.len())]),
            Target::Live(_) => block(0),
            Target::Block(k) => block(*k),
            Target::Ever(i) if !self.ever.is_empty() => {
                let ever: Vec<usize> = self.ever.iter().copied().collect();
                block(ever[i.index(ever.len())])
            }
            Target::Ever(_) => block(0),
            Target::Interior(i, d) => {
                let k = if live.is_empty() {
                    0
                } else {
                    live[i.index(live.len())]
                };
                block(k).wrapping_add(*d)
            }
            Target::Foreign => foreign as i64,
            Target::Raw(v) => *v,
            Target::Null => 0,
        }
    }

    /// Largest power of two dividing the block size, at most 16.
    fn block_align(&self) -> usize {
        (1 << self.block_size.trailing_zeros()).min(16)
    }

    fn check(&self, pool: &CPool) -> Result<(), TestCaseError> {
        let stats = pool.stats();
        let size = self.block_size as i64;
        prop_assert_eq!(stats.live_blocks, self.live.len() as i64);
        prop_assert_eq!(stats.in_use_bytes, self.live.len() as i64 * size);
        prop_assert_eq!(stats.allocs, self.allocs);
        prop_assert_eq!(stats.frees, self.frees);
        prop_assert_eq!(stats.failed_allocs, self.failed);
        prop_assert_eq!(stats.peak_in_use_bytes, self.peak as i64 * size);
        prop_assert_eq!(
            stats.largest_free_block,
            if self.live.len() < self.num_blocks {
                size
            } else {
                0
            }
        );
        prop_assert_eq!(pool.num_allocated(), self.live.len());
        prop_assert_eq!(pool.num_free(), self.num_blocks - self.live.len());
        let end = self.start + self.block_size * self.num_blocks;
        let mut spans = Vec::with_capacity(self.live.len());
        for (&k, &id) in &self.live {
            let ptr = self.start + k * self.block_size;
            let span = Span {
                start: ptr,
                end: ptr + self.block_size,
                id,
            };
            check_inside(span, self.start, end)?;
            prop_assert!(pool.owns(ptr as i64));
            spans.push(span);
            // SAFETY: a live block of the pool, inside its buffer (checked).
            unsafe { verify(ptr as *const u8, self.block_size, id)? };
        }
        check_disjoint(spans)
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn pool_matches_model(
        block_size in prop_oneof![4 => 1i64..=80, 1 => 81i64..=520],
        num_blocks in prop_oneof![3 => 1usize..=40, 1 => 41usize..=200],
        ops in sequence(op(), Op::DropBuffer),
    ) {
        let mut pool = CPool::new(block_size, num_blocks as i64).unwrap();
        let expected_size = ((block_size as usize).div_ceil(8) * 8).max(8);
        prop_assert_eq!(pool.block_size(), expected_size);
        let mut other = CPool::new(block_size, 4).unwrap();
        let foreign = other.alloc().unwrap();

        let start = pool.alloc().unwrap();
        pool.dealloc(start as i64).unwrap();
        let mut model = Model {
            start,
            block_size: expected_size,
            num_blocks,
            live: BTreeMap::new(),
            ever: BTreeSet::from([0]),
            // The probe above: one block handed out and freed.
            allocs: 1,
            frees: 1,
            failed: 0,
            peak: 1,
        };
        model.check(&pool)?;
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Alloc => {
                    let got = pool.alloc();
                    if model.live.len() < model.num_blocks {
                        let ptr = got.map_err(|e| TestCaseError::fail(format!("step {step}: alloc failed: {e:?}")))?;
                        prop_assert_eq!(ptr % model.block_align(), 0, "step {}", step);
                        let k = model.block_of(ptr as i64);
                        prop_assert!(k.is_some(), "step {}: {:#x} is no block start", step, ptr);
                        let k = k.unwrap();
                        prop_assert!(!model.live.contains_key(&k), "step {}: block {} handed out twice", step, k);
                        let id = step as u64;
                        // SAFETY: a block of the pool, inside its buffer.
                        unsafe { fill(ptr as *mut u8, model.block_size, id) };
                        model.live.insert(k, id);
                        model.ever.insert(k);
                        model.allocs += 1;
                        model.peak = model.peak.max(model.live.len());
                    } else {
                        prop_assert_eq!(got, Err(Error::Exhausted), "step {}", step);
                        model.failed += 1;
                    }
                }
                Op::Dealloc(target) => {
                    let address = model.address_of(&target, foreign);
                    let got = pool.dealloc(address);
                    match model.block_of(address) {
                        _ if address == 0 => prop_assert_eq!(got, Ok(()), "step {}", step),
                        Some(k) if model.live.contains_key(&k) => {
                            prop_assert_eq!(got, Ok(()), "step {}: free of live block {}", step, k);
                            model.live.remove(&k);
                            model.frees += 1;
                        }
                        Some(k) if model.ever.contains(&k) => prop_assert_eq!(
                            got,
                            Err(Error::DoubleFree),
                            "step {}: free of free block {}",
                            step,
                            k
                        ),
                        // Never handed out: a free block the pool has not
                        // carved yet; either code is fair.
                        Some(k) => prop_assert!(
                            matches!(got, Err(Error::DoubleFree | Error::ForeignPointer)),
                            "step {}: free of untouched block {}: {:?}",
                            step,
                            k,
                            got
                        ),
                        None => prop_assert_eq!(
                            got,
                            Err(Error::ForeignPointer),
                            "step {}: free of {:#x}",
                            step,
                            address
                        ),
                    }
                }
                Op::Owns(target) => {
                    let address = model.address_of(&target, foreign);
                    let expected = model
                        .block_of(address)
                        .is_some_and(|k| model.live.contains_key(&k));
                    prop_assert_eq!(pool.owns(address), expected, "step {}: owns({:#x})", step, address);
                }
                Op::Reset => {
                    prop_assert_eq!(pool.reset(), Ok(()), "step {}", step);
                    // Every block is free; the ones handed out before stay
                    // in `ever` (their starts are free blocks now).
                    model.live.clear();
                }
                Op::DropBuffer => {
                    prop_assert_eq!(pool.drop_buffer(), Ok(()), "step {}", step);
                    model.num_blocks = 0;
                    model.live.clear();
                    model.ever.clear();
                }
            }
            model.check(&pool)?;
        }
        other.dealloc(foreign as i64).unwrap();
    }

    /// `pool_new` refuses exactly the bad arguments. (Valid pools whose
    /// buffer would be large are not built: the test must not depend on how
    /// much memory the machine has.)
    #[test]
    fn pool_new_refuses_exactly_bad_arguments(
        block_size in edge_i64(),
        num_blocks in edge_i64(),
    ) {
        let expected = (|| {
            if block_size <= 0 || num_blocks <= 0 || num_blocks > MAX_BLOCKS as i64 {
                return None;
            }
            let size = (block_size as u128).div_ceil(8) * 8;
            let capacity = size * num_blocks as u128;
            (capacity <= i64::MAX as u128).then_some((size as usize, capacity))
        })();
        match expected {
            None => prop_assert_eq!(
                CPool::new(block_size, num_blocks).unwrap_err(),
                Error::InvalidArgument
            ),
            Some((size, capacity)) if capacity <= 1 << 24 => {
                let pool = CPool::new(block_size, num_blocks).unwrap();
                prop_assert_eq!(pool.block_size(), size.max(8));
                prop_assert_eq!(pool.num_free(), num_blocks as usize);
            }
            Some(_) => {}
        }
    }
}
