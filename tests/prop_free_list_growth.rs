//! Model-based test of a free list growing by regions, through the C ABI
//! (`freelist_set_upstream`, `freelist_add_region`, `freelist_set_limit`,
//! `freelist_capacity` and the `freelist_*` calls, via
//! `common::c_api::CFreeList`), with another free list of a few sizes as
//! the upstream, so that the upstream runs out now and then, and caller
//! regions of any alignment.
//!
//! The model does not predict chunk sizes or placement; it checks what
//! holds whatever they are: every live block is aligned, disjoint from the
//! others and intact; the whole-heap check passes after every step, and
//! the counters add up (`capacity = remaining + total_allocated`); a free
//! of a live block succeeds, and anything else is refused with nothing
//! changed; an allocation that fits a region never asks the upstream, one
//! that fails fails with `Exhausted` or `OutOfMemory` and changes nothing;
//! the chunks stay within the limit and all go back when the list is
//! dropped; caller regions are used and never freed.

mod common;

use common::c_api::{Allocation, CFreeList, Layout};
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
    /// A block handed out before, live or freed since.
    Ever(Index),
    /// `delta` bytes into (or before) a live block.
    Interior(Index, i64),
    /// An arbitrary value.
    Raw(i64),
    Null,
}

#[derive(Clone, Debug)]
enum Op {
    Alloc(i64, i64),
    Dealloc(Target),
    Realloc(Index, i64),
    Reset,
    SetLimit(i64),
    /// Caller memory of this many bytes, at this misalignment.
    AddRegion(i64, usize),
    /// The range of a caller region already given, moved by less than 16
    /// bytes: it overlaps that region's heap.
    AddOverlap(Index, i64),
    DropBuffer,
}

fn size() -> impl Strategy<Value = i64> {
    prop_oneof![6 => 0i64..64, 4 => 64i64..1024, 1 => 1024i64..20_000]
}

fn align() -> impl Strategy<Value = i64> {
    prop_oneof![8 => (0u32..=4).prop_map(|k| 1i64 << k), 1 => (5u32..=12).prop_map(|k| 1i64 << k)]
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        8 => any::<Index>().prop_map(Target::Live),
        3 => any::<Index>().prop_map(Target::Ever),
        2 => (any::<Index>(), -64i64..64).prop_map(|(i, d)| Target::Interior(i, d)),
        1 => edge_i64().prop_map(Target::Raw),
        1 => Just(Target::Null),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        14 => (size(), align()).prop_map(|(s, a)| Op::Alloc(s, a)),
        9 => target().prop_map(Op::Dealloc),
        3 => (any::<Index>(), size()).prop_map(|(i, s)| Op::Realloc(i, s)),
        1 => Just(Op::Reset),
        1 => prop_oneof![Just(-1i64), 0i64..200_000, edge_i64()].prop_map(Op::SetLimit),
        1 => (0i64..12_000, 0usize..16).prop_map(|(n, m)| Op::AddRegion(n, m)),
        1 => (any::<Index>(), -16i64..16).prop_map(|(i, d)| Op::AddOverlap(i, d)),
    ]
}

/// A live block: its id, the bytes it was asked for, its alignment.
#[derive(Clone, Copy, Debug)]
struct Live {
    id: u64,
    len: usize,
    align: usize,
}

#[derive(Default)]
struct Model {
    live: BTreeMap<usize, Live>,
    /// Blocks handed out since the list was made (freed or live).
    ever: BTreeSet<usize>,
    /// The caller regions given: address, length, heap capacity.
    regions: Vec<(usize, usize, usize)>,
    limit: Option<usize>,
}

/// The heap capacity `freelist_add_region` makes of `[address, address +
/// len)`: from the first 16-aligned address, less 8 bytes, rounded down to
/// 16; `None` below a minimum block.
fn region_capacity(address: usize, len: usize) -> Option<usize> {
    let start = (address + 15) & !15;
    let room = (address + len).checked_sub(start)?.checked_sub(8)? & !15;
    (room >= 32).then_some(room)
}

impl Model {
    fn caller_bytes(&self) -> usize {
        self.regions.iter().map(|r| r.2).sum()
    }

    fn address_of(&self, target: &Target) -> usize {
        let pick = |set: Vec<usize>, i: &Index| {
            if set.is_empty() {
                64
            } else {
                set[i.index(set.len())]
            }
        };
        match target {
            Target::Live(i) => pick(self.live.keys().copied().collect(), i),
            Target::Ever(i) => pick(self.ever.iter().copied().collect(), i),
            Target::Interior(i, d) => {
                pick(self.live.keys().copied().collect(), i).wrapping_add(*d as usize)
            }
            Target::Raw(v) => *v as usize,
            Target::Null => 0,
        }
    }

    fn check(
        &self,
        list: &CFreeList,
        upstream: &CFreeList,
        own: usize,
    ) -> Result<(), TestCaseError> {
        let checked = list.check_consistency();
        prop_assert!(checked.is_ok(), "{:?}", checked);
        let capacity = list.capacity();
        prop_assert_eq!(capacity, list.remaining() + list.total_allocated());
        // The chunks' heaps lie in the upstream's blocks.
        let chunks = capacity - own.min(capacity) - self.caller_bytes().min(capacity);
        prop_assert!(
            chunks <= upstream.total_allocated(),
            "{} > {}",
            chunks,
            upstream.total_allocated()
        );
        if let Some(limit) = self.limit {
            prop_assert!(capacity - self.caller_bytes() <= limit);
        }
        let mut spans = Vec::with_capacity(self.live.len());
        for (&ptr, live) in &self.live {
            prop_assert_eq!(ptr % live.align, 0);
            spans.push(Span {
                start: ptr,
                end: ptr + live.len.max(1),
                id: live.id,
            });
            // SAFETY: a live block of the list, at least `len` bytes.
            unsafe { verify(ptr as *const u8, live.len, live.id)? };
        }
        check_disjoint(spans)
    }
}

fn snapshot(list: &CFreeList) -> [usize; 4] {
    [
        list.total_allocated(),
        list.remaining(),
        list.largest_free_block(),
        list.capacity(),
    ]
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn growing_free_list_matches_model(
        own in prop_oneof![Just(32i64), 32i64..=4096],
        first_chunk in prop_oneof![1 => Just(0i64), 4 => 1i64..=8192],
        upstream_bytes in prop_oneof![Just(1i64 << 14), Just(1 << 17), Just(1 << 21)],
        ops in sequence(op(), Op::DropBuffer),
    ) {
        // Declared first, so dropped last: the list gives its chunks back
        // to the upstream, and never frees the caller's memory.
        let mut storage: Vec<Vec<u8>> = Vec::new();
        let upstream = CFreeList::new(upstream_bytes).unwrap();
        let mut list = CFreeList::new(own).unwrap();
        list.set_upstream(upstream.as_allocator(), first_chunk).unwrap();
        let mut own = own as usize;
        let mut model = Model::default();
        model.check(&list, &upstream, own)?;
        for (step, op) in ops.into_iter().enumerate() {
            let id = step as u64 + 1;
            match op {
                Op::Alloc(size, align) => {
                    let before = snapshot(&list);
                    match list.alloc(Layout::new(size, align)) {
                        Ok(Allocation { ptr, size: got }) => {
                            let ptr = ptr as usize;
                            prop_assert!(got >= size, "step {}", step);
                            // A region that fits serves it: no chunk.
                            if align <= 16 && before[2] >= size.max(1) as usize {
                                prop_assert_eq!(list.capacity(), before[3], "step {}: grew", step);
                            }
                            // SAFETY: a block of the list, `got` bytes.
                            unsafe { fill(ptr as *mut u8, size as usize, id) };
                            model.live.insert(ptr, Live { id, len: size as usize, align: align as usize });
                            model.ever.insert(ptr);
                        }
                        Err(error) => {
                            prop_assert!(matches!(error, Error::Exhausted | Error::OutOfMemory), "step {}: {:?}", step, error);
                            prop_assert_eq!(snapshot(&list), before, "step {}", step);
                            if align <= 16 {
                                prop_assert!(before[2] < size.max(1) as usize, "step {}: refused with room", step);
                            }
                        }
                    }
                }
                Op::Dealloc(target) => {
                    let address = model.address_of(&target);
                    let before = snapshot(&list);
                    let got = list.dealloc(address as i64);
                    if address == 0 {
                        prop_assert_eq!(got, Ok(()), "step {}", step);
                    } else if model.live.remove(&address).is_some() {
                        prop_assert_eq!(got, Ok(()), "step {}: free of live {:#x}", step, address);
                    } else {
                        prop_assert!(matches!(got, Err(Error::DoubleFree | Error::ForeignPointer)), "step {}: {:#x}: {:?}", step, address, got);
                        prop_assert_eq!(snapshot(&list), before, "step {}", step);
                    }
                }
                Op::Realloc(at, size) => {
                    if model.live.is_empty() {
                        continue;
                    }
                    let ptr = *model.live.keys().nth(at.index(model.live.len())).unwrap();
                    let old = model.live[&ptr];
                    let before = snapshot(&list);
                    match list.realloc(ptr as i64, Layout::new(size, 8)) {
                        Ok(Allocation { ptr: moved, .. }) => {
                            let (moved, keep) = (moved as usize, old.len.min(size as usize));
                            // SAFETY: the new block holds at least `keep`
                            // bytes kept from the old one.
                            unsafe { verify(moved as *const u8, keep, old.id)? };
                            // SAFETY: a block of the list, `size` bytes.
                            unsafe { fill(moved as *mut u8, size as usize, id) };
                            model.live.remove(&ptr);
                            model.live.insert(moved, Live { id, len: size as usize, align: 8 });
                            model.ever.insert(moved);
                        }
                        Err(error) => {
                            prop_assert!(matches!(error, Error::Exhausted | Error::OutOfMemory), "step {}: {:?}", step, error);
                            prop_assert_eq!(snapshot(&list), before, "step {}", step);
                        }
                    }
                }
                Op::Reset => {
                    let (capacity, chunks) = (list.capacity(), upstream.total_allocated());
                    prop_assert_eq!(list.reset(), Ok(()), "step {}", step);
                    prop_assert!(list.capacity() <= capacity && upstream.total_allocated() <= chunks, "step {}", step);
                    prop_assert_eq!(list.total_allocated(), 0);
                    model.live.clear();
                }
                Op::SetLimit(max_bytes) => {
                    let held = list.capacity() - model.caller_bytes();
                    let got = list.set_limit(max_bytes);
                    if max_bytes == -1 || (max_bytes >= 0 && max_bytes as usize >= own + upstream.total_allocated()) {
                        prop_assert_eq!(got, Ok(()), "step {}", step);
                    } else if max_bytes < -1 || (max_bytes as usize) < held {
                        prop_assert_eq!(got, Err(Error::InvalidArgument), "step {}", step);
                    }
                    if got.is_ok() {
                        model.limit = (max_bytes != -1).then_some(max_bytes as usize);
                    }
                }
                Op::AddRegion(len, misalign) => {
                    let mut memory = vec![0u8; len as usize + misalign];
                    let address = memory.as_mut_ptr() as usize + misalign;
                    let before = snapshot(&list);
                    // SAFETY: `memory` is kept in `storage`, which outlives
                    // the list, and used by nothing else.
                    let got = unsafe { list.add_region(address as i64, len) };
                    match region_capacity(address, len as usize) {
                        Some(capacity) => {
                            prop_assert_eq!(got, Ok(()), "step {}", step);
                            prop_assert_eq!(list.capacity(), before[3] + capacity, "step {}", step);
                            model.regions.push((address, len as usize, capacity));
                        }
                        None => {
                            prop_assert_eq!(got, Err(Error::InvalidArgument), "step {}", step);
                            prop_assert_eq!(snapshot(&list), before, "step {}", step);
                        }
                    }
                    storage.push(memory);
                }
                Op::AddOverlap(at, delta) => {
                    if model.regions.is_empty() {
                        continue;
                    }
                    let (address, len, _) = model.regions[at.index(model.regions.len())];
                    let start = address.wrapping_add(delta as usize);
                    let before = snapshot(&list);
                    // SAFETY: refused (it overlaps a region the list holds)
                    // before any memory is touched.
                    let got = unsafe { list.add_region(start as i64, len as i64) };
                    prop_assert_eq!(got, Err(Error::InvalidArgument), "step {}", step);
                    prop_assert_eq!(snapshot(&list), before, "step {}", step);
                }
                Op::DropBuffer => {
                    prop_assert_eq!(list.drop_buffer(), Ok(()), "step {}", step);
                    prop_assert_eq!(list.capacity(), 0);
                    prop_assert_eq!(upstream.total_allocated(), 0);
                    own = 0;
                    model.live.clear();
                    model.regions.clear();
                }
            }
            model.check(&list, &upstream, own)?;
        }
        drop(list);
        prop_assert_eq!(upstream.total_allocated(), 0);
        drop(storage);
    }
}
