//! Model-based test of a pool growing by slabs, through the C ABI
//! (`pool_set_upstream`, `pool_set_limit`, `pool_capacity` and the `pool_*`
//! calls, via `common::c_api::CPool`), with a free list of a few sizes as
//! the upstream, so that the upstream runs out now and then, and its blocks
//! are counted.
//!
//! The model does not predict slab sizes; it checks what holds whatever
//! they are: a live block's free succeeds, an own block start that is free
//! and a slab block freed since the last reset are `DoubleFree`, a pointer
//! into a live block is `ForeignPointer`, anything else not live is
//! refused; an allocation fails only when no block is free (and changes
//! nothing then), and never asks the upstream while one is; every live
//! block is aligned, disjoint from the others, intact and owned; the pool
//! holds at most its limit and gives every slab back when dropped.

mod common;

use common::c_api::{CFreeList, CPool};
use common::{check_disjoint, config, edge_i64, fill, sequence, verify, Span};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use std::collections::{BTreeMap, BTreeSet};
use vais_alloc::Error;

#[derive(Clone, Debug)]
enum Target {
    /// A live block.
    Live(Index),
    /// A block handed out before (own or slab), live or freed since.
    Ever(Index),
    /// Block `k` of the own buffer (`k` may be past its end).
    Own(usize),
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
    SetLimit(i64),
    DropBuffer,
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        8 => any::<Index>().prop_map(Target::Live),
        4 => any::<Index>().prop_map(Target::Ever),
        2 => (0usize..40).prop_map(Target::Own),
        3 => (any::<Index>(), -300i64..300).prop_map(|(i, d)| Target::Interior(i, d)),
        1 => Just(Target::Foreign),
        1 => edge_i64().prop_map(Target::Raw),
        1 => Just(Target::Null),
    ]
}

fn limit() -> impl Strategy<Value = i64> {
    prop_oneof![
        2 => Just(-1i64),
        3 => 0i64..300_000,
        1 => edge_i64(),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => Just(Op::Alloc),
        8 => target().prop_map(Op::Dealloc),
        2 => target().prop_map(Op::Owns),
        1 => Just(Op::Reset),
        1 => limit().prop_map(Op::SetLimit),
    ]
}

struct Model {
    /// The own buffer: its start and number of blocks (0 once dropped).
    start: usize,
    own_blocks: usize,
    block_size: usize,
    /// Live blocks: address -> allocation id.
    live: BTreeMap<usize, u64>,
    /// Blocks handed out since the last reset (own and slab).
    ever: BTreeSet<usize>,
    /// Blocks handed out before it (since the last drop).
    older: BTreeSet<usize>,
    limit: usize,
}

impl Model {
    /// Whether `address` is a block start of the own buffer.
    fn own_block(&self, address: usize) -> bool {
        address
            .checked_sub(self.start)
            .is_some_and(|o| o % self.block_size == 0 && o / self.block_size < self.own_blocks)
    }

    fn own_bytes(&self) -> usize {
        self.own_blocks * self.block_size
    }

    fn address_of(&self, target: &Target, foreign: usize) -> usize {
        let live: Vec<usize> = self.live.keys().copied().collect();
        let pick = |set: &[usize], i: &Index| {
            if set.is_empty() {
                self.start
            } else {
                set[i.index(set.len())]
            }
        };
        match target {
            Target::Live(i) => pick(&live, i),
            Target::Ever(i) => {
                let ever: Vec<usize> = self.ever.union(&self.older).copied().collect();
                pick(&ever, i)
            }
            Target::Own(k) => self.start.wrapping_add(k * self.block_size),
            Target::Interior(i, d) => pick(&live, i).wrapping_add(*d as usize),
            Target::Foreign => foreign,
            Target::Raw(v) => *v as usize,
            Target::Null => 0,
        }
    }

    /// Whether `address` lies inside a live block, past its start.
    fn interior(&self, address: usize) -> bool {
        self.live
            .range(..address)
            .next_back()
            .is_some_and(|(&start, _)| address < start + self.block_size)
    }

    fn check(&self, pool: &CPool, upstream: &CFreeList) -> Result<(), TestCaseError> {
        prop_assert_eq!(pool.num_allocated(), self.live.len());
        let capacity = pool.capacity();
        let blocks = pool.num_free() + pool.num_allocated();
        prop_assert!(blocks * self.block_size <= capacity);
        prop_assert!(capacity >= self.own_bytes() && capacity <= self.limit);
        // The slabs are the upstream's blocks (it adds its headers).
        prop_assert!(upstream.total_allocated() >= capacity - self.own_bytes());
        let align = (1 << self.block_size.trailing_zeros()).min(16);
        let mut spans = Vec::with_capacity(self.live.len());
        for (&ptr, &id) in &self.live {
            prop_assert_eq!(ptr % align, 0);
            prop_assert!(pool.owns(ptr as i64));
            spans.push(Span {
                start: ptr,
                end: ptr + self.block_size,
                id,
            });
            // SAFETY: a live block of the pool, `block_size` bytes.
            unsafe { verify(ptr as *const u8, self.block_size, id)? };
        }
        check_disjoint(spans)
    }
}

proptest! {
    #![proptest_config(config(192))]

    #[test]
    fn growing_pool_matches_model(
        block_size in prop_oneof![4 => 1i64..=80, 1 => 81i64..=600],
        own_blocks in 1usize..=12,
        first_slab in prop_oneof![1 => Just(0i64), 4 => 1i64..=2048],
        upstream_bytes in prop_oneof![Just(4096i64), Just(1 << 16), Just(1 << 20)],
        ops in sequence(op(), Op::DropBuffer),
    ) {
        // Declared first, so dropped last: the pool gives its slabs back.
        let upstream = CFreeList::new(upstream_bytes).unwrap();
        let mut pool = CPool::new(block_size, own_blocks as i64).unwrap();
        pool.set_upstream(upstream.as_allocator(), first_slab).unwrap();
        let size = pool.block_size();
        let mut other = CPool::new(block_size, 4).unwrap();
        let foreign = other.alloc().unwrap();

        // A fresh pool hands out its own first block first.
        let start = pool.alloc().unwrap();
        pool.dealloc(start as i64).unwrap();
        let mut model = Model {
            start,
            own_blocks,
            block_size: size,
            live: BTreeMap::new(),
            ever: BTreeSet::from([start]),
            older: BTreeSet::new(),
            limit: usize::MAX,
        };
        model.check(&pool, &upstream)?;
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Alloc => {
                    let (free, capacity) = (pool.num_free(), pool.capacity());
                    match pool.alloc() {
                        Ok(ptr) => {
                            prop_assert!(!model.live.contains_key(&ptr), "step {}: {:#x} twice", step, ptr);
                            prop_assert!(
                                model.own_block(ptr) || !model.interior(ptr),
                                "step {}: {:#x} inside a live block", step, ptr
                            );
                            if free > 0 {
                                prop_assert_eq!(pool.capacity(), capacity, "step {}: grew with {} free", step, free);
                            }
                            let id = step as u64 + 1;
                            // SAFETY: a block of the pool, `size` bytes.
                            unsafe { fill(ptr as *mut u8, size, id) };
                            model.live.insert(ptr, id);
                            model.ever.insert(ptr);
                        }
                        Err(error) => {
                            prop_assert!(
                                matches!(error, Error::Exhausted | Error::OutOfMemory),
                                "step {}: {:?}", step, error
                            );
                            prop_assert_eq!(free, 0, "step {}: {:?} with blocks free", step, error);
                            prop_assert_eq!(pool.capacity(), capacity, "step {}", step);
                            prop_assert_eq!(pool.num_free(), 0, "step {}", step);
                        }
                    }
                }
                Op::Dealloc(target) => {
                    let address = model.address_of(&target, foreign);
                    let got = pool.dealloc(address as i64);
                    if address == 0 {
                        prop_assert_eq!(got, Ok(()), "step {}", step);
                    } else if model.live.contains_key(&address) {
                        prop_assert_eq!(got, Ok(()), "step {}: free of live {:#x}", step, address);
                        model.live.remove(&address);
                    } else if model.own_block(address) || model.ever.contains(&address) {
                        prop_assert_eq!(got, Err(Error::DoubleFree), "step {}: {:#x}", step, address);
                    } else if model.interior(address) {
                        prop_assert_eq!(got, Err(Error::ForeignPointer), "step {}: {:#x}", step, address);
                    } else {
                        // A slab given back, a block start never handed
                        // out, or nothing of this pool: refused either way.
                        prop_assert!(
                            matches!(got, Err(Error::DoubleFree | Error::ForeignPointer)),
                            "step {}: free of {:#x}: {:?}", step, address, got
                        );
                    }
                }
                Op::Owns(target) => {
                    let address = model.address_of(&target, foreign);
                    prop_assert_eq!(
                        pool.owns(address as i64),
                        model.live.contains_key(&address),
                        "step {}: owns({:#x})", step, address
                    );
                }
                Op::Reset => {
                    let capacity = pool.capacity();
                    prop_assert_eq!(pool.reset(), Ok(()), "step {}", step);
                    prop_assert!(pool.capacity() <= capacity, "step {}", step);
                    model.live.clear();
                    let ever = std::mem::take(&mut model.ever);
                    model.older.extend(ever);
                }
                Op::SetLimit(max_bytes) => {
                    let capacity = pool.capacity();
                    let got = pool.set_limit(max_bytes);
                    if max_bytes == -1 || (max_bytes >= 0 && max_bytes as usize >= capacity) {
                        prop_assert_eq!(got, Ok(()), "step {}", step);
                        model.limit = if max_bytes == -1 { usize::MAX } else { max_bytes as usize };
                    } else {
                        prop_assert_eq!(got, Err(Error::InvalidArgument), "step {}", step);
                    }
                }
                Op::DropBuffer => {
                    prop_assert_eq!(pool.drop_buffer(), Ok(()), "step {}", step);
                    prop_assert_eq!(pool.capacity(), 0);
                    prop_assert_eq!(upstream.total_allocated(), 0);
                    model.own_blocks = 0;
                    model.live.clear();
                    model.ever.clear();
                    model.older.clear();
                }
            }
            model.check(&pool, &upstream)?;
        }
        other.dealloc(foreign as i64).unwrap();
        drop(pool);
        prop_assert_eq!(upstream.total_allocated(), 0);
    }
}
