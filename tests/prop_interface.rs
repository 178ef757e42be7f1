//! Model-based test of the one allocator interface: `VaisAllocator` and
//! the `allocator_*` dispatch functions, run over every core through its C
//! view (`global_as_allocator`, `bump_as_allocator`, `pool_as_allocator`,
//! `freelist_as_allocator`, `stack_as_allocator`), as `/work/shared/API.md`
//! ("One allocator interface") describes them.
//!
//! Random sequences of allocations (plain and zeroed, sometimes with an
//! invalid layout), frees, in-place resizes, reallocs and resets. The model
//! keeps every live block with the byte pattern the test wrote into it, and
//! after each operation checks that every live block still holds its
//! pattern (nothing was disturbed) and is aligned, that the live blocks are
//! pairwise disjoint, and that the family's counter (`bump_remaining`,
//! `pool_num_allocated`, `freelist_total_allocated`, `stack_remaining`)
//! is what the model says; an operation that is refused (or is a no-op)
//! must leave that counter as it was. A successful resize or realloc keeps
//! the first `min(old size, new size)` bytes.
//!
//! What each allocator must do follows the API table:
//!
//! - global: every request of these sizes succeeds; a resize that does not
//!   grow succeeds; no reset (`Unsupported`). It keeps no registry, so it
//!   only ever gets its own live blocks back.
//! - bump (FREE_LAST): a request lands at `align_up(top, align)` and takes
//!   `max(size, 1)` bytes, or is `Exhausted`; freeing the most recent
//!   allocation rolls the top back to its start, freeing any other block in
//!   the used part returns 0 and changes nothing (its bytes come back at
//!   reset), a pointer outside the used part is `ForeignPointer`; the most
//!   recent allocation resizes either way, the others only shrink.
//! - pool: a layout larger than the block or more aligned than the blocks
//!   is `Unsupported`, as is a resize past the block size; a full pool is
//!   `Exhausted`; a block start that is free is `DoubleFree`, anything else
//!   `ForeignPointer`.
//! - free list: whether a request fits is judged against
//!   `freelist_largest_free_block` as in `prop_free_list`; a second free is
//!   `DoubleFree`, or `ForeignPointer` once the block has merged (API.md
//!   allows both); a resize that does not grow past the usable size
//!   succeeds.
//! - stack (FREE_LAST): the payload is `align_up(top + 8, max(align, 16))`;
//!   freeing the newest allocation pops it, and with it every dead
//!   allocation right below; freeing an older live one marks it dead (0,
//!   nothing reclaimed yet), freeing a dead one is `DoubleFree`, as is an
//!   address between the top and the end (a stale pointer below the top may
//!   read as either refusal); the newest allocation resizes either way, the
//!   others only shrink.
//!
//! Above all, rule 1: a pointer that is no live block's start (freed
//! before, interior, another allocator's) is refused with nothing changed
//! (for the bump, inside the used part, it is a no-op), and never taken for
//! a live block; a block moved or resized keeps being freed with the layout
//! it holds now.
//!
//! For the FREE_LAST allocators the plain free op frees only the newest
//! live block; `FreeOlder` and the `Dead` target are the ops that exercise
//! the out-of-order rules (resize and realloc pick any live block). The
//! realloc predictions for bump and stack follow the interface's generic
//! realloc (in place when the block is aligned for the new layout and the
//! resize succeeds, else allocate, copy, free: the old block is then freed
//! out of order).

mod common;

use common::c_api::{Allocation, CBump, CFreeList, CPool, CStack, CView, Layout};
use common::{check_disjoint, config, fill, verify, verify_zero, Span};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use vais_alloc::ffi::{
    VAIS_ALLOC_CAP_ANY_ALIGN, VAIS_ALLOC_CAP_ANY_SIZE, VAIS_ALLOC_CAP_FREE,
    VAIS_ALLOC_CAP_FREE_LAST, VAIS_ALLOC_CAP_GROWS, VAIS_ALLOC_CAP_RESET, VAIS_ALLOC_CAP_RESIZE,
    VAIS_ALLOC_CAP_THREAD_SAFE,
};
use vais_alloc::free_list::{HEADER_SIZE, MIN_BLOCK, OVERHEAD};
use vais_alloc::Error;

// ----- operations ----------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Alloc {
        layout: Layout,
        zeroed: bool,
    },
    /// Free a live block: the newest (FREE_LAST) or a random one (FREE).
    Free(Index),
    /// Free a live block other than the newest (the out-of-order rules of
    /// the FREE_LAST allocators; a plain free for the others).
    FreeOlder(Index),
    /// Free something that is no live block.
    FreeBad(Bad),
    /// Free a live block with an invalid layout: `InvalidLayout`.
    FreeBadLayout(Index, Layout),
    /// `allocator_resize` of a live block to this size.
    Resize(Index, i64),
    /// `allocator_realloc` of a live block to this layout.
    Realloc(Index, Layout),
    Reset,
}

#[derive(Clone, Debug)]
enum Bad {
    /// A pointer freed for good earlier (popped, rolled back, reset...).
    Freed(Index),
    /// A block freed out of order whose memory is still held (FREE_LAST).
    Dead(Index),
    /// `delta` bytes (1..16, either way) from a live block's start.
    Interior(Index, i64),
    /// A live block of another allocator of the same family.
    Foreign,
    /// Pointer 0: a no-op.
    Null,
}

const INVALID_LAYOUTS: &[(i64, i64)] = &[
    (-1, 8),
    (8, 0),
    (8, 3),
    (8, -8),
    (24, 48),
    (i64::MAX, 16),
    (i64::MIN, 1),
    (16, i64::MIN),
];

fn invalid_layout() -> impl Strategy<Value = Layout> {
    prop::sample::select(INVALID_LAYOUTS).prop_map(|(size, align)| Layout::new(size, align))
}

/// Sizes 0..300, alignments 1..=256 (mostly up to 8); sometimes an
/// invalid layout.
fn layout() -> impl Strategy<Value = Layout> {
    let align = prop_oneof![3 => 0u32..=3, 2 => 4u32..=8].prop_map(|k| 1i64 << k);
    prop_oneof![
        24 => (0i64..300, align).prop_map(|(size, align)| Layout::new(size, align)),
        1 => invalid_layout(),
    ]
}

fn bad() -> impl Strategy<Value = Bad> {
    prop_oneof![
        4 => any::<Index>().prop_map(Bad::Freed),
        3 => any::<Index>().prop_map(Bad::Dead),
        3 => (any::<Index>(), 1i64..16, any::<bool>())
            .prop_map(|(i, d, down)| Bad::Interior(i, if down { -d } else { d })),
        1 => Just(Bad::Foreign),
        1 => Just(Bad::Null),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let new_size = prop_oneof![12 => 0i64..400, 1 => Just(-1i64), 1 => Just(i64::MAX)];
    prop_oneof![
        30 => (layout(), any::<bool>()).prop_map(|(layout, zeroed)| Op::Alloc { layout, zeroed }),
        12 => any::<Index>().prop_map(Op::Free),
        4 => any::<Index>().prop_map(Op::FreeOlder),
        6 => bad().prop_map(Op::FreeBad),
        2 => (any::<Index>(), invalid_layout()).prop_map(|(i, l)| Op::FreeBadLayout(i, l)),
        8 => (any::<Index>(), new_size).prop_map(|(i, size)| Op::Resize(i, size)),
        8 => (any::<Index>(), layout()).prop_map(|(i, l)| Op::Realloc(i, l)),
        1 => Just(Op::Reset),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..=200)
}

// ----- the allocators --------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Global,
    Bump,
    Pool,
    FreeList,
    Stack,
}

/// The allocator under test (or the other one of its family), owned.
enum Owner {
    Global,
    Bump(CBump),
    Pool(CPool),
    FreeList(CFreeList),
    Stack(CStack),
}

impl Owner {
    fn view(&self) -> CView<'_> {
        match self {
            Owner::Global => CView::global(),
            Owner::Bump(bump) => bump.as_allocator(),
            Owner::Pool(pool) => pool.as_allocator(),
            Owner::FreeList(list) => list.as_allocator(),
            Owner::Stack(stack) => stack.as_allocator(),
        }
    }

    /// The family's counter, which no refused operation may change.
    fn counter(&self) -> Option<usize> {
        match self {
            Owner::Global => None,
            Owner::Bump(bump) => Some(bump.remaining()),
            Owner::Pool(pool) => Some(pool.num_allocated()),
            Owner::FreeList(list) => Some(list.total_allocated()),
            Owner::Stack(stack) => Some(stack.remaining()),
        }
    }
}

/// The capability bits API.md gives each allocator.
fn expected_caps(kind: Kind) -> i64 {
    let last = VAIS_ALLOC_CAP_FREE_LAST
        | VAIS_ALLOC_CAP_RESIZE
        | VAIS_ALLOC_CAP_RESET
        | VAIS_ALLOC_CAP_ANY_SIZE
        | VAIS_ALLOC_CAP_ANY_ALIGN;
    match kind {
        Kind::Global => {
            VAIS_ALLOC_CAP_FREE
                | VAIS_ALLOC_CAP_RESIZE
                | VAIS_ALLOC_CAP_ANY_SIZE
                | VAIS_ALLOC_CAP_ANY_ALIGN
                | VAIS_ALLOC_CAP_GROWS
                | VAIS_ALLOC_CAP_THREAD_SAFE
        }
        Kind::Bump | Kind::Stack => last,
        Kind::Pool => VAIS_ALLOC_CAP_FREE | VAIS_ALLOC_CAP_RESET,
        Kind::FreeList => {
            VAIS_ALLOC_CAP_FREE
                | VAIS_ALLOC_CAP_RESIZE
                | VAIS_ALLOC_CAP_RESET
                | VAIS_ALLOC_CAP_ANY_SIZE
                | VAIS_ALLOC_CAP_ANY_ALIGN
        }
    }
}

// ----- the model -----------------------------------------------------------

fn align_up(value: usize, align: usize) -> u128 {
    (value as u128).div_ceil(align as u128) * align as u128
}

/// The bytes an arena block takes for `size`: at least one.
fn footprint(size: usize) -> usize {
    size.max(1)
}

/// The free list's block size for `size` payload bytes (its module docs).
fn block_size_for(size: usize) -> u128 {
    ((size as u128 + OVERHEAD as u128).div_ceil(16) * 16).max(MIN_BLOCK as u128)
}

#[derive(Clone, Copy, Debug)]
struct Block {
    ptr: usize,
    /// The layout it holds now (what free, resize and realloc get).
    layout: Layout,
    /// Usable bytes as the allocator counts them (the free list's block
    /// size less its overhead; the pool's block size; else the size).
    usable: usize,
    /// Bytes from the start that hold the pattern of `id`.
    filled: usize,
    id: u64,
    /// Freed out of order (FREE_LAST): no longer the caller's, but its
    /// memory is held until what lies above it is gone (stack) or until
    /// reset (bump).
    dead: bool,
    /// The top before this allocation (bump, stack).
    previous_top: usize,
}

/// What an allocation (or realloc) must do.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Succeed at this address.
    At(usize),
    Succeed,
    /// Succeed, or fail with `Exhausted`.
    Either,
    Fail(Error),
}

/// What a free (or resize) of something must return.
#[derive(Clone, Copy, Debug)]
enum Status {
    Ok,
    Fail(Error),
    /// Either refusal (a free list's second free, which may read as foreign
    /// once the block merged; a stack's stale pointer below the top).
    DoubleOrForeign,
    /// Succeed, or fail with `Exhausted` (growth in place).
    OkOrExhausted,
}

struct Model {
    kind: Kind,
    caps: i64,
    /// Allocation order, newest last; live and dead.
    blocks: Vec<Block>,
    /// Pointers freed for good, with their layouts.
    freed: Vec<(usize, Layout)>,
    /// The buffer (bump, stack, pool, free list; 0 and the capacity when
    /// nothing fits and the start could not be probed).
    start: usize,
    end: usize,
    /// First free address (bump, stack).
    top: usize,
    /// The bump's most recent allocation, while it can still roll back.
    bump_last: Option<usize>,
    /// Pool geometry.
    block_size: usize,
    block_align: usize,
    num_blocks: usize,
}

impl Model {
    fn live(&self) -> Vec<usize> {
        (0..self.blocks.len())
            .filter(|&i| !self.blocks[i].dead)
            .collect()
    }

    fn dead(&self) -> Vec<usize> {
        (0..self.blocks.len())
            .filter(|&i| self.blocks[i].dead)
            .collect()
    }

    fn is_free_last(&self) -> bool {
        matches!(self.kind, Kind::Bump | Kind::Stack)
    }

    /// The index of the newest live block.
    fn newest_live(&self) -> Option<usize> {
        (0..self.blocks.len()).rev().find(|&i| !self.blocks[i].dead)
    }

    /// Whether the block at `i` is the one a FREE_LAST allocator reclaims
    /// at once: the bump's most recent allocation, the stack's top.
    fn is_newest(&self, i: usize) -> bool {
        match self.kind {
            Kind::Bump => self.bump_last == Some(self.blocks[i].ptr),
            Kind::Stack => i + 1 == self.blocks.len(),
            _ => true,
        }
    }

    /// Whether `address` is the start of some block the model holds.
    fn holds(&self, address: usize) -> bool {
        self.blocks.iter().any(|b| b.ptr == address)
    }

    /// What the family's counter must read.
    fn counter(&self) -> Option<usize> {
        match self.kind {
            Kind::Global => None,
            Kind::Bump | Kind::Stack => Some(self.end - self.top),
            Kind::Pool => Some(self.live().len()),
            Kind::FreeList => Some(
                self.blocks
                    .iter()
                    .filter(|b| !b.dead)
                    .map(|b| b.usable + OVERHEAD)
                    .sum(),
            ),
        }
    }

    /// What an allocation of `layout` must do (`largest`: the free list's
    /// largest free block just before).
    fn expect_alloc(&self, layout: Layout, largest: usize) -> Expect {
        let Ok(checked) = layout.check() else {
            return Expect::Fail(Error::InvalidLayout);
        };
        let (size, align) = (checked.size(), checked.align());
        match self.kind {
            Kind::Global => Expect::Succeed,
            Kind::Bump => {
                let p = align_up(self.top, align);
                if p + footprint(size) as u128 > self.end as u128 {
                    Expect::Fail(Error::Exhausted)
                } else {
                    Expect::At(p as usize)
                }
            }
            Kind::Stack => {
                // Payloads are 16-aligned at least, the header right below.
                let payload = align_up(self.top + 8, align.max(16));
                if payload + footprint(size) as u128 > self.end as u128 {
                    Expect::Fail(Error::Exhausted)
                } else {
                    Expect::At(payload as usize)
                }
            }
            Kind::Pool => {
                if size > self.block_size || align > self.block_align {
                    Expect::Fail(Error::Unsupported)
                } else if self.live().len() == self.num_blocks {
                    Expect::Fail(Error::Exhausted)
                } else {
                    Expect::Succeed
                }
            }
            Kind::FreeList => {
                if largest == 0 || size > largest {
                    Expect::Fail(Error::Exhausted)
                } else if align <= 16
                    || block_size_for(size) + align as u128 + MIN_BLOCK as u128
                        <= largest as u128 + OVERHEAD as u128
                {
                    Expect::Succeed
                } else {
                    Expect::Either
                }
            }
        }
    }

    /// What a free of `address` (no live block of the model; `dead`: the
    /// start of a dead block) must return.
    fn expect_bad_free(&self, address: usize, dead: bool) -> Status {
        if address == 0 {
            return Status::Ok;
        }
        match self.kind {
            // Not reached: the global allocator never gets a bad pointer.
            Kind::Global => Status::Ok,
            Kind::Bump => {
                if address >= self.start && address < self.top {
                    // In the used part: the arena cannot tell, and frees
                    // of blocks other than the most recent change nothing.
                    Status::Ok
                } else {
                    Status::Fail(Error::ForeignPointer)
                }
            }
            Kind::Pool => match self.block_of(address) {
                Some(_) => Status::Fail(Error::DoubleFree),
                None => Status::Fail(Error::ForeignPointer),
            },
            Kind::FreeList => {
                let aligned_in_heap = address >= self.start + HEADER_SIZE
                    && address < self.end
                    && (address - self.start) % 16 == 0;
                if aligned_in_heap {
                    Status::DoubleOrForeign
                } else {
                    Status::Fail(Error::ForeignPointer)
                }
            }
            Kind::Stack => {
                if dead || (address >= self.top && address < self.end) {
                    Status::Fail(Error::DoubleFree)
                } else {
                    Status::Fail(Error::ForeignPointer)
                }
            }
        }
    }

    /// The pool block starting at `address`, if any.
    fn block_of(&self, address: usize) -> Option<usize> {
        let offset = address.checked_sub(self.start)?;
        (offset % self.block_size == 0 && offset / self.block_size < self.num_blocks)
            .then_some(offset / self.block_size)
    }

    /// The block at `i` is freed (the allocator accepted it): reclaimed,
    /// or marked dead for a FREE_LAST allocator that is not at it.
    fn release(&mut self, i: usize) {
        match self.kind {
            Kind::Global => {
                self.blocks.remove(i);
            }
            Kind::Pool | Kind::FreeList => {
                let b = self.blocks.remove(i);
                self.freed.push((b.ptr, b.layout));
            }
            Kind::Bump => {
                if self.is_newest(i) {
                    let b = self.blocks.remove(i);
                    self.top = b.ptr;
                    self.bump_last = None;
                    self.freed.push((b.ptr, b.layout));
                } else {
                    self.blocks[i].dead = true;
                }
            }
            Kind::Stack => {
                if self.is_newest(i) {
                    // Popped, with every dead allocation right below.
                    while let Some(b) = self.blocks.pop() {
                        self.top = b.previous_top;
                        self.freed.push((b.ptr, b.layout));
                        if !matches!(self.blocks.last(), Some(below) if below.dead) {
                            break;
                        }
                    }
                } else {
                    self.blocks[i].dead = true;
                }
            }
        }
    }

    /// Records a block just handed out at the top (bump, stack) or anywhere.
    fn push(&mut self, block: Block) {
        if matches!(self.kind, Kind::Bump | Kind::Stack) {
            self.top = block.ptr + footprint(block.layout.size as usize);
        }
        if self.kind == Kind::Bump {
            self.bump_last = Some(block.ptr);
        }
        self.freed.retain(|&(p, _)| p != block.ptr);
        self.blocks.push(block);
    }

    fn check(&self, owner: &Owner, what: &str) -> Result<(), TestCaseError> {
        prop_assert_eq!(owner.counter(), self.counter(), "{}: the counter", what);
        if let Owner::Stack(stack) = owner {
            prop_assert_eq!(stack.depth(), self.live().len(), "{}: stack_depth", what);
        }
        let mut spans = Vec::with_capacity(self.blocks.len());
        for b in self.blocks.iter().filter(|b| !b.dead) {
            prop_assert_eq!(
                b.ptr % b.layout.align as usize,
                0,
                "{}: block #{} at {:#x} is not aligned for {:?}",
                what,
                b.id,
                b.ptr,
                b.layout
            );
            // SAFETY: a live block of at least `filled` bytes.
            unsafe { verify(b.ptr as *const u8, b.filled, b.id)? };
            spans.push(Span {
                start: b.ptr,
                end: b.ptr + b.usable.max(1),
                id: b.id,
            });
        }
        check_disjoint(spans)
    }
}

// ----- one run ---------------------------------------------------------------

struct Run {
    owner: Owner,
    /// Another allocator of the same family (kept alive for `foreign`).
    _other: Owner,
    /// A live block of `_other`, allocated with `{8, 8}`.
    foreign: usize,
    model: Model,
}

const FOREIGN_LAYOUT: Layout = Layout::new(8, 8);

impl Run {
    fn new(kind: Kind, owner: Owner, other: Owner, capacity: usize) -> Result<Run, TestCaseError> {
        let view = owner.view();
        prop_assert_eq!(
            view.caps(),
            expected_caps(kind),
            "allocator_caps of {:?}",
            kind
        );
        let foreign = if kind == Kind::Global {
            0
        } else {
            other.view().alloc(FOREIGN_LAYOUT).unwrap().ptr as usize
        };
        let mut model = Model {
            kind,
            caps: expected_caps(kind),
            blocks: Vec::new(),
            freed: Vec::new(),
            start: 0,
            end: capacity,
            top: 0,
            bump_last: None,
            block_size: 0,
            block_align: 0,
            num_blocks: capacity,
        };
        // Find the buffer with a probe: each allocator's first block of an
        // empty buffer lies at a known offset from its start.
        let probe = |layout: Layout, offset: usize| -> Result<Option<usize>, TestCaseError> {
            match view.alloc(layout) {
                Ok(a) => {
                    // SAFETY: the allocator's own block, given back once.
                    prop_assert_eq!(unsafe { view.free(a.ptr, layout) }, Ok(()));
                    Ok(Some(a.ptr as usize - offset))
                }
                Err(e) => {
                    prop_assert_eq!(e, Error::Exhausted, "probe of {:?}", kind);
                    Ok(None)
                }
            }
        };
        match &owner {
            Owner::Global => {}
            Owner::Bump(_) => {
                let start = probe(Layout::new(0, 1), 0)?;
                prop_assert_eq!(start.is_some(), capacity > 0);
                // The probe was the most recent allocation: rolled back.
                model.start = start.unwrap_or(0);
                model.end = model.start + capacity;
                model.top = model.start;
            }
            Owner::Stack(_) => {
                // The first payload is 16 in: 8 bytes of gap, the header.
                let start = probe(Layout::new(0, 1), 16)?;
                prop_assert_eq!(start.is_some(), capacity >= 17);
                model.start = start.unwrap_or(0);
                model.end = model.start + capacity;
                model.top = model.start;
            }
            Owner::Pool(pool) => {
                model.start = probe(Layout::new(1, 1), 0)?.expect("a pool has a block");
                model.block_size = pool.block_size();
                model.block_align = (1 << model.block_size.trailing_zeros()).min(16);
                model.end = model.start + model.block_size * model.num_blocks;
            }
            Owner::FreeList(_) => {
                model.start = probe(Layout::new(0, 8), HEADER_SIZE)?.expect("a heap");
                model.end = model.start + capacity;
            }
        }
        model.check(&owner, "fresh")?;
        Ok(Run {
            owner,
            _other: other,
            foreign,
            model,
        })
    }

    fn largest(&self) -> usize {
        match &self.owner {
            Owner::FreeList(list) => list.largest_free_block(),
            _ => 0,
        }
    }

    /// Checks a block just handed out for `layout` (valid) and its size.
    fn check_new(&self, what: &str, layout: Layout, a: Allocation) -> Result<(), TestCaseError> {
        let (size, align) = (layout.size as usize, layout.align as usize);
        prop_assert_eq!(
            a.ptr as usize % align,
            0,
            "{}: {:?} is not aligned",
            what,
            a
        );
        let usable = a.size as usize;
        match self.model.kind {
            Kind::Pool => {
                prop_assert_eq!(usable, self.model.block_size, "{}: a pool block", what);
                let k = self.model.block_of(a.ptr as usize);
                prop_assert!(k.is_some(), "{}: {:#x} is no block start", what, a.ptr);
            }
            Kind::FreeList => prop_assert!(
                usable >= size && usable as u128 <= block_size_for(size) + 8,
                "{}: {} usable bytes for {}",
                what,
                usable,
                size
            ),
            _ => prop_assert_eq!(usable, size, "{}: size = layout.size", what),
        }
        if matches!(self.model.kind, Kind::Bump | Kind::Stack) {
            prop_assert!(
                a.ptr as usize >= self.model.start
                    && a.ptr as usize + footprint(size) <= self.model.end,
                "{}: {:?} lies outside the buffer",
                what,
                a
            );
        }
        Ok(())
    }

    /// Judges an allocation's outcome against `expect`; the block, if any.
    fn judge(
        what: &str,
        expect: Expect,
        got: Result<Allocation, Error>,
    ) -> Result<Option<Allocation>, TestCaseError> {
        match (expect, got) {
            (Expect::At(p), Ok(a)) => {
                prop_assert_eq!(a.ptr as usize, p, "{}: the address", what);
                Ok(Some(a))
            }
            (Expect::Succeed | Expect::Either, Ok(a)) => Ok(Some(a)),
            (Expect::Fail(e), Err(g)) => {
                prop_assert_eq!(g, e, "{}", what);
                Ok(None)
            }
            (Expect::Either, Err(g)) => {
                prop_assert_eq!(g, Error::Exhausted, "{}", what);
                Ok(None)
            }
            (e, g) => Err(TestCaseError::fail(format!(
                "{what}: expected {e:?}, got {g:?}"
            ))),
        }
    }

    /// Judges a status against `expect`: whether it succeeded.
    fn judge_status(
        what: &str,
        expect: Status,
        got: Result<(), Error>,
    ) -> Result<bool, TestCaseError> {
        match (expect, got) {
            (Status::Ok | Status::OkOrExhausted, Ok(())) => Ok(true),
            (Status::Fail(e), Err(g)) => {
                prop_assert_eq!(g, e, "{}", what);
                Ok(false)
            }
            (Status::OkOrExhausted, Err(Error::Exhausted)) => Ok(false),
            (Status::DoubleOrForeign, Err(Error::DoubleFree | Error::ForeignPointer)) => Ok(false),
            (e, g) => Err(TestCaseError::fail(format!(
                "{what}: expected {e:?}, got {g:?}"
            ))),
        }
    }

    /// Runs one operation; returns whether it may have changed the state.
    fn apply(&mut self, step: usize, op: Op, what: &str) -> Result<bool, TestCaseError> {
        let id = step as u64 + 1;
        let kind = self.model.kind;
        let live = self.model.live();
        match op {
            Op::Alloc { layout, zeroed } => self.alloc(what, layout, zeroed, id),
            Op::Free(i) | Op::FreeOlder(i) => {
                let candidates: Vec<usize> = match op {
                    Op::Free(_) if self.model.is_free_last() => {
                        self.model.newest_live().into_iter().collect()
                    }
                    Op::FreeOlder(_) if self.model.is_free_last() => live
                        .iter()
                        .copied()
                        .filter(|&b| !self.model.is_newest(b))
                        .collect(),
                    _ => live,
                };
                if candidates.is_empty() {
                    return self.free_null(what);
                }
                let b = candidates[i.index(candidates.len())];
                let block = self.model.blocks[b];
                let reclaimed = self.model.is_newest(b);
                // SAFETY: a live block of this allocator, with its layout.
                let got = unsafe { self.owner.view().free(block.ptr as i64, block.layout) };
                prop_assert_eq!(got, Ok(()), "{}: free of live {:?}", what, block);
                self.model.release(b);
                // A FREE_LAST allocator reclaims nothing for an older block.
                Ok(reclaimed)
            }
            Op::FreeBad(bad) => {
                if kind == Kind::Global {
                    // It keeps no registry: only its own blocks go back.
                    return self.free_null(what);
                }
                let dead = self.model.dead();
                let (address, layout, is_dead) = match bad {
                    Bad::Null => (0, FOREIGN_LAYOUT, false),
                    Bad::Foreign => (self.foreign, FOREIGN_LAYOUT, false),
                    Bad::Freed(i) if !self.model.freed.is_empty() => {
                        let (ptr, layout) = self.model.freed[i.index(self.model.freed.len())];
                        (ptr, layout, false)
                    }
                    Bad::Dead(i) if !dead.is_empty() => {
                        let b = self.model.blocks[dead[i.index(dead.len())]];
                        (b.ptr, b.layout, true)
                    }
                    Bad::Interior(i, d) if !live.is_empty() => {
                        let b = self.model.blocks[live[i.index(live.len())]];
                        (b.ptr.wrapping_add_signed(d as isize), b.layout, false)
                    }
                    _ => return self.free_null(what),
                };
                if !is_dead && self.model.holds(address) {
                    // It is some block's start after all: not a bad free.
                    return self.free_null(what);
                }
                let mut expect = self.model.expect_bad_free(address, is_dead);
                if kind == Kind::Stack
                    && matches!(bad, Bad::Freed(_))
                    && address < self.model.top
                    && address >= self.model.start
                {
                    // Below the top, a stale pointer with its old layout
                    // may name a dead allocation's payload (DoubleFree) or
                    // none (ForeignPointer).
                    expect = Status::DoubleOrForeign;
                }
                // SAFETY: a validating allocator (not the global one).
                let got = unsafe { self.owner.view().free(address as i64, layout) };
                let what = format!("{what}: free of {address:#x} ({layout:?})");
                Self::judge_status(&what, expect, got)?;
                Ok(false)
            }
            Op::FreeBadLayout(i, bad_layout) => {
                if live.is_empty() {
                    // Pointer 0 is a no-op, whatever the layout.
                    // SAFETY: pointer 0 is never dereferenced.
                    let got = unsafe { self.owner.view().free(0, bad_layout) };
                    prop_assert_eq!(got, Ok(()), "{}: free of 0", what);
                    return Ok(false);
                }
                let block = self.model.blocks[live[i.index(live.len())]];
                // SAFETY: a live block of this allocator (refused before it
                // is looked at).
                let got = unsafe { self.owner.view().free(block.ptr as i64, bad_layout) };
                prop_assert_eq!(got, Err(Error::InvalidLayout), "{}: {:?}", what, block);
                Ok(false)
            }
            Op::Resize(i, new_size) => {
                if live.is_empty() {
                    // SAFETY: pointer 0 is refused before any use.
                    let got = unsafe { self.owner.view().resize(0, FOREIGN_LAYOUT, 16) };
                    prop_assert_eq!(got, Err(Error::ForeignPointer), "{}: resize of 0", what);
                    return Ok(false);
                }
                self.resize(what, live[i.index(live.len())], new_size)
            }
            Op::Realloc(i, layout) => {
                if live.is_empty() {
                    // Pointer 0 acts as an allocation.
                    return self.realloc_null(what, layout, id);
                }
                self.realloc(what, live[i.index(live.len())], layout, id)
            }
            Op::Reset => {
                let got = self.owner.view().reset();
                if self.model.caps & VAIS_ALLOC_CAP_RESET == 0 {
                    prop_assert_eq!(got, Err(Error::Unsupported), "{}", what);
                    return Ok(false);
                }
                prop_assert_eq!(got, Ok(()), "{}", what);
                let model = &mut self.model;
                for b in model.blocks.drain(..) {
                    model.freed.push((b.ptr, b.layout));
                }
                model.top = model.start;
                model.bump_last = None;
                Ok(true)
            }
        }
    }

    fn free_null(&mut self, what: &str) -> Result<bool, TestCaseError> {
        // SAFETY: pointer 0 is a no-op.
        let got = unsafe { self.owner.view().free(0, FOREIGN_LAYOUT) };
        prop_assert_eq!(got, Ok(()), "{}: free of 0", what);
        Ok(false)
    }

    fn alloc(
        &mut self,
        what: &str,
        layout: Layout,
        zeroed: bool,
        id: u64,
    ) -> Result<bool, TestCaseError> {
        let expect = self.model.expect_alloc(layout, self.largest());
        let view = self.owner.view();
        let got = if zeroed {
            view.alloc_zeroed(layout)
        } else {
            view.alloc(layout)
        };
        let what = format!(
            "{what}: alloc{} {layout:?}",
            if zeroed { "_zeroed" } else { "" }
        );
        let Some(a) = Self::judge(&what, expect, got)? else {
            return Ok(false);
        };
        self.check_new(&what, layout, a)?;
        let (ptr, usable) = (a.ptr as usize, a.size as usize);
        if zeroed {
            // SAFETY: a block just handed out: `usable` bytes.
            unsafe { verify_zero(ptr as *const u8, usable)? };
        }
        // SAFETY: as above.
        unsafe { fill(ptr as *mut u8, usable, id) };
        let previous_top = self.model.top;
        self.model.push(Block {
            ptr,
            layout,
            usable,
            filled: usable,
            id,
            dead: false,
            previous_top,
        });
        Ok(true)
    }

    fn realloc_null(&mut self, what: &str, layout: Layout, id: u64) -> Result<bool, TestCaseError> {
        let expect = self.model.expect_alloc(layout, self.largest());
        // SAFETY: pointer 0 acts as an allocation.
        let got = unsafe { self.owner.view().realloc(0, FOREIGN_LAYOUT, layout) };
        let what = format!("{what}: realloc of 0 to {layout:?}");
        let Some(a) = Self::judge(&what, expect, got)? else {
            return Ok(false);
        };
        self.check_new(&what, layout, a)?;
        // SAFETY: a block just handed out.
        unsafe { fill(a.ptr as *mut u8, a.size as usize, id) };
        let previous_top = self.model.top;
        self.model.push(Block {
            ptr: a.ptr as usize,
            layout,
            usable: a.size as usize,
            filled: a.size as usize,
            id,
            dead: false,
            previous_top,
        });
        Ok(true)
    }

    fn resize(&mut self, what: &str, b: usize, new_size: i64) -> Result<bool, TestCaseError> {
        let block = self.model.blocks[b];
        let old = block.layout;
        let what = format!("{what}: resize of {block:?} to {new_size}");
        let valid = new_size >= 0 && Layout::new(new_size, old.align).check().is_ok();
        let new = new_size.max(0) as usize;
        let newest = self.model.is_newest(b);
        let expect = if !valid {
            Status::Fail(Error::InvalidLayout)
        } else {
            match self.model.kind {
                Kind::Global if new <= old.size as usize => Status::Ok,
                Kind::Global => Status::OkOrExhausted,
                Kind::Bump | Kind::Stack if newest => {
                    if footprint(new) <= self.model.end - block.ptr {
                        Status::Ok
                    } else {
                        Status::Fail(Error::Exhausted)
                    }
                }
                Kind::Bump | Kind::Stack => {
                    if new <= old.size as usize {
                        Status::Ok
                    } else {
                        Status::Fail(Error::Exhausted)
                    }
                }
                Kind::Pool if new <= self.model.block_size => Status::Ok,
                Kind::Pool => Status::Fail(Error::Unsupported),
                Kind::FreeList if new <= block.usable => Status::Ok,
                Kind::FreeList => Status::OkOrExhausted,
            }
        };
        let before = self.owner.counter();
        // SAFETY: a live block of this allocator, with its layout.
        let got = unsafe { self.owner.view().resize(block.ptr as i64, old, new_size) };
        if !Self::judge_status(&what, expect, got)? {
            return Ok(false);
        }
        // In place: the first min(filled, new) bytes are still there.
        let keep = block.filled.min(new);
        // SAFETY: the block holds at least `new` bytes now.
        unsafe { verify(block.ptr as *const u8, keep, block.id)? };
        let usable = match self.model.kind {
            Kind::Pool => self.model.block_size,
            Kind::FreeList => {
                // The C call does not say; the counter's change does.
                let after = self.owner.counter().unwrap();
                let usable = (block.usable + after).checked_sub(before.unwrap());
                prop_assert!(
                    usable.is_some_and(|u| u >= new),
                    "{}: {:?} usable bytes after the resize",
                    what,
                    usable
                );
                usable.unwrap()
            }
            _ => new,
        };
        // SAFETY: the block holds at least `new` bytes.
        unsafe { fill(block.ptr as *mut u8, new, block.id) };
        let model = &mut self.model;
        let entry = &mut model.blocks[b];
        entry.layout = Layout::new(new_size, old.align);
        entry.usable = usable;
        entry.filled = new;
        if newest && matches!(model.kind, Kind::Bump | Kind::Stack) {
            model.top = block.ptr + footprint(new);
        }
        Ok(true)
    }

    fn realloc(
        &mut self,
        what: &str,
        b: usize,
        new: Layout,
        id: u64,
    ) -> Result<bool, TestCaseError> {
        let block = self.model.blocks[b];
        let old = block.layout;
        let what = format!("{what}: realloc of {block:?} to {new:?}");
        let newest = self.model.is_newest(b);
        let expect = match new.check() {
            Err(_) => Expect::Fail(Error::InvalidLayout),
            Ok(checked) => {
                let (size, align) = (checked.size(), checked.align());
                let aligned = block.ptr % align == 0;
                match self.model.kind {
                    Kind::Global => Expect::Succeed,
                    Kind::Pool => {
                        if size > self.model.block_size || align > self.model.block_align {
                            Expect::Fail(Error::Unsupported)
                        } else {
                            Expect::At(block.ptr)
                        }
                    }
                    Kind::FreeList => match self.model.expect_alloc(new, self.largest()) {
                        Expect::Succeed => Expect::Succeed,
                        _ => Expect::Either,
                    },
                    Kind::Bump | Kind::Stack => {
                        // The generic realloc: in place when aligned and
                        // the resize succeeds, else a fresh block.
                        let in_place = aligned
                            && if newest {
                                footprint(size) <= self.model.end - block.ptr
                            } else {
                                size <= old.size as usize
                            };
                        if in_place {
                            Expect::At(block.ptr)
                        } else {
                            self.model.expect_alloc(new, 0)
                        }
                    }
                }
            }
        };
        // SAFETY: a live block of this allocator, with its layout.
        let got = unsafe { self.owner.view().realloc(block.ptr as i64, old, new) };
        let Some(a) = Self::judge(&what, expect, got)? else {
            return Ok(false);
        };
        self.check_new(&what, new, a)?;
        let (ptr, usable) = (a.ptr as usize, a.size as usize);
        // The first min(old.size, new.size) bytes are kept (the free list
        // keeps min(old usable, new.size), and the test filled `filled`).
        let mut keep = block.filled.min(new.size as usize);
        if self.model.kind != Kind::FreeList {
            keep = keep.min(old.size as usize);
        }
        // SAFETY: the block just handed out holds at least `new.size`
        // bytes.
        unsafe { verify(ptr as *const u8, keep, block.id)? };
        // SAFETY: as above: `usable` bytes.
        unsafe { fill(ptr as *mut u8, usable, id) };
        let model = &mut self.model;
        if ptr == block.ptr {
            let entry = &mut model.blocks[b];
            entry.layout = new;
            entry.usable = usable;
            entry.filled = usable;
            entry.id = id;
            if newest && matches!(model.kind, Kind::Bump | Kind::Stack) {
                model.top = ptr + footprint(new.size as usize);
            }
        } else {
            match model.kind {
                // The old block was freed by the move; a FREE_LAST
                // allocator holds it until later (it is not the newest
                // any more).
                Kind::Bump | Kind::Stack => model.blocks[b].dead = true,
                Kind::Global => {
                    model.blocks.remove(b);
                }
                Kind::Pool | Kind::FreeList => {
                    model.blocks.remove(b);
                    model.freed.push((block.ptr, old));
                }
            }
            let previous_top = model.top;
            model.push(Block {
                ptr,
                layout: new,
                usable,
                filled: usable,
                id,
                dead: false,
                previous_top,
            });
        }
        Ok(true)
    }

    /// Gives the global allocator's live blocks back (the others free
    /// everything with their handles).
    fn finish(&mut self) {
        if self.model.kind == Kind::Global {
            for b in self.model.blocks.drain(..) {
                // SAFETY: a live block of the global allocator, freed once.
                let got = unsafe { CView::global().free(b.ptr as i64, b.layout) };
                assert_eq!(got, Ok(()));
            }
        }
    }
}

fn run(
    kind: Kind,
    owner: Owner,
    other: Owner,
    capacity: usize,
    ops: Vec<Op>,
) -> Result<(), TestCaseError> {
    let mut run = Run::new(kind, owner, other, capacity)?;
    let steps = || -> Result<(), TestCaseError> {
        for (step, op) in ops.into_iter().enumerate() {
            let what = format!("step {step}: {op:?}");
            let before = run.owner.counter();
            if !run.apply(step, op, &what)? {
                prop_assert_eq!(
                    run.owner.counter(),
                    before,
                    "{}: refused or a no-op, yet the counter moved",
                    what
                );
            }
            run.model.check(&run.owner, &what)?;
        }
        Ok(())
    };
    let result = steps();
    run.finish();
    result
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn interface_global(ops in ops()) {
        run(Kind::Global, Owner::Global, Owner::Global, 0, ops)?;
    }

    #[test]
    fn interface_bump(capacity in prop_oneof![4 => 0usize..=16384, 1 => 0usize..=64], ops in ops()) {
        let bump = Owner::Bump(CBump::new(capacity as i64).unwrap());
        let other = Owner::Bump(CBump::new(256).unwrap());
        run(Kind::Bump, bump, other, capacity, ops)?;
    }

    #[test]
    fn interface_pool(block_size in 1i64..=300, num_blocks in 1usize..=48, ops in ops()) {
        let pool = Owner::Pool(CPool::new(block_size, num_blocks as i64).unwrap());
        let other = Owner::Pool(CPool::new(block_size, 4).unwrap());
        run(Kind::Pool, pool, other, num_blocks, ops)?;
    }

    #[test]
    fn interface_free_list(capacity in prop_oneof![3 => 32usize..=8192, 1 => 32usize..=256], ops in ops()) {
        let list = Owner::FreeList(CFreeList::new(capacity as i64).unwrap());
        let other = Owner::FreeList(CFreeList::new(256).unwrap());
        run(Kind::FreeList, list, other, capacity, ops)?;
    }

    #[test]
    fn interface_stack(capacity in prop_oneof![4 => 0usize..=16384, 1 => 0usize..=64], ops in ops()) {
        let stack = Owner::Stack(CStack::new(capacity as i64).unwrap());
        let other = Owner::Stack(CStack::new(256).unwrap());
        run(Kind::Stack, stack, other, capacity, ops)?;
    }
}
