//! The allocators' operations as the memory tools must see them: each
//! function here is the plain core operation when no tool is present (one
//! branch) and, when one is, the operation under `Quiet` followed by its
//! report.

use super::{active, free_space, handed_out, resized, returning, taken_back, Kind, Quiet};
use crate::allocator::{realloc_by_parts, Allocator, Block, Caps};
use crate::buffer::Buffer;
use crate::error::Error;
use core::alloc::Layout;
use core::ptr::NonNull;

/// What the reports need to know of an allocator.
pub trait Visible: Allocator {
    /// How its blocks are reported.
    const KIND: Kind;

    /// Heap kinds: the usable bytes of the live block at `ptr` (what was
    /// reported for it), if it is one.
    fn usable_size(&self, _ptr: NonNull<u8>) -> Option<usize> {
        None
    }

    /// Whether its `realloc` never moves a block (it is then reported as a
    /// resize; otherwise a realloc is reported as its parts, see
    /// `realloc_by_parts`).
    const REALLOC_IN_PLACE: bool = false;

    /// Calls `f(start, len)` for every range of memory the allocator holds.
    fn for_each_region(&self, f: &mut dyn FnMut(usize, usize));

    /// Span kinds: calls `f(start, len)` for every range not in use.
    fn for_each_free_span(&self, _f: &mut dyn FnMut(usize, usize)) {}

    /// Heap kinds: whether the block at `addr` starts where the memory
    /// holding it does. Memcheck keys its heap blocks by address, and that
    /// memory may be a `malloc` block of its own: such a block is reported
    /// as a span instead (addressability, no record).
    fn starts_region(&self, _addr: usize) -> bool {
        false
    }

    /// Heap kinds: the buffer the allocator allocated itself, if any (which
    /// `dropping` keeps from being freed when blocks are still live in
    /// it under Valgrind).
    fn own_buffer(&mut self) -> Option<&mut Buffer> {
        None
    }

    /// Heap kinds: calls `f(ptr, usable)` for every live block.
    fn for_each_live(&self, _f: &mut dyn FnMut(usize, usize)) {}
}

/// How the block at `addr` of `core` is reported.
fn kind_of<A: Visible>(core: &A, addr: usize) -> Kind {
    if A::KIND == Kind::Heap && core.starts_region(addr) {
        Kind::Span
    } else {
        A::KIND
    }
}

/// Marks every free span of a span-kind allocator inaccessible.
fn resync<A: Visible>(core: &A) {
    if A::KIND == Kind::Span {
        core.for_each_free_span(&mut |start, len| free_space(start, len));
    }
}

/// Whether `A`'s operations are to be reported now.
#[inline(always)]
fn reported<A: Visible>() -> bool {
    A::KIND != Kind::Native && active()
}

/// The allocator under the tools: its operations, reported.
struct Seen<'a, A>(&'a mut A);

impl<A: Visible> Allocator for Seen<'_, A> {
    const CAPS: Caps = A::CAPS;

    fn alloc(&mut self, layout: Layout) -> Result<Block, Error> {
        let _quiet = Quiet::new();
        let block = self.0.alloc(layout)?;
        handed_out(kind_of(self.0, block.addr()), block.addr(), block.size);
        Ok(block)
    }

    // `alloc_zeroed`: the trait's, which zeroes after `alloc` reported the
    // block (ASan checks the `memset`).

    unsafe fn resize(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new_size: usize,
    ) -> Result<usize, Error> {
        let _quiet = Quiet::new();
        let before = match A::KIND {
            Kind::Heap => self.0.usable_size(ptr),
            Kind::Span => Some(old.size()),
            Kind::Native => None,
        };
        // SAFETY: forwarded from this function's contract.
        let size = unsafe { self.0.resize(ptr, old, new_size)? };
        if let Some(before) = before {
            resized(A::KIND, ptr.as_ptr() as usize, before, size);
        }
        resync(self.0);
        Ok(size)
    }

    unsafe fn readable(&self, ptr: NonNull<u8>, old: Layout) -> Result<usize, Error> {
        let _quiet = Quiet::new();
        // SAFETY: forwarded from this function's contract.
        unsafe { self.0.readable(ptr, old) }
    }

    /// Made of the reported operations above, so that a copy reads and
    /// writes blocks the tools know to be live.
    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<Block, Error> {
        if !A::REALLOC_IN_PLACE {
            // SAFETY: forwarded from this function's contract.
            return unsafe { realloc_by_parts(self, ptr, old, new) };
        }
        let _quiet = Quiet::new();
        let before = self.0.usable_size(ptr);
        // SAFETY: forwarded from this function's contract.
        let block = unsafe { self.0.realloc(ptr, old, new)? };
        if let Some(before) = before {
            resized(A::KIND, ptr.as_ptr() as usize, before, block.size);
        }
        Ok(block)
    }

    unsafe fn free(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Error> {
        let _quiet = Quiet::new();
        let size = match A::KIND {
            Kind::Heap => self.0.usable_size(ptr).unwrap_or(0),
            Kind::Span | Kind::Native => layout.size(),
        };
        // SAFETY: forwarded from this function's contract.
        unsafe { self.0.free(ptr, layout)? };
        let addr = ptr.as_ptr() as usize;
        taken_back(kind_of(self.0, addr), addr, size);
        resync(self.0);
        Ok(())
    }

    fn reset(&mut self) -> Result<(), Error> {
        let _quiet = Quiet::new();
        let mut live = Vec::new();
        let core = &*self.0;
        core.for_each_live(&mut |ptr, size| live.push((kind_of(core, ptr), ptr, size)));
        self.0.reset()?;
        for (kind, ptr, size) in live {
            taken_back(kind, ptr, size);
        }
        resync(self.0);
        Ok(())
    }
}

/// [`Allocator::alloc`], reported.
#[inline(always)]
pub(crate) fn alloc<A: Visible>(core: &mut A, layout: Layout) -> Result<Block, Error> {
    if reported::<A>() {
        Seen(core).alloc(layout)
    } else {
        core.alloc(layout)
    }
}

/// [`Allocator::alloc_zeroed`], reported.
#[inline(always)]
pub(crate) fn alloc_zeroed<A: Visible>(core: &mut A, layout: Layout) -> Result<Block, Error> {
    if reported::<A>() {
        Seen(core).alloc_zeroed(layout)
    } else {
        core.alloc_zeroed(layout)
    }
}

/// [`Allocator::resize`], reported.
///
/// # Safety
/// As for [`Allocator::resize`].
#[inline(always)]
pub(crate) unsafe fn resize<A: Visible>(
    core: &mut A,
    ptr: NonNull<u8>,
    old: Layout,
    new_size: usize,
) -> Result<usize, Error> {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        if reported::<A>() {
            Seen(core).resize(ptr, old, new_size)
        } else {
            core.resize(ptr, old, new_size)
        }
    }
}

/// [`Allocator::realloc`], reported.
///
/// # Safety
/// As for [`Allocator::realloc`].
#[inline(always)]
pub(crate) unsafe fn realloc<A: Visible>(
    core: &mut A,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<Block, Error> {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        if reported::<A>() {
            Seen(core).realloc(ptr, old, new)
        } else {
            core.realloc(ptr, old, new)
        }
    }
}

/// [`Allocator::free`], reported.
///
/// # Safety
/// As for [`Allocator::free`].
#[inline(always)]
pub(crate) unsafe fn free<A: Visible>(
    core: &mut A,
    ptr: NonNull<u8>,
    layout: Layout,
) -> Result<(), Error> {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        if reported::<A>() {
            Seen(core).free(ptr, layout)
        } else {
            core.free(ptr, layout)
        }
    }
}

/// [`Allocator::reset`], reported.
#[inline(always)]
pub(crate) fn reset<A: Visible>(core: &mut A) -> Result<(), Error> {
    if reported::<A>() {
        Seen(core).reset()
    } else {
        core.reset()
    }
}

/// Any operation that frees without naming a block (a pop, a release to
/// a mark), reported: afterwards, every free span is inaccessible.
#[inline(always)]
pub(crate) fn bulk<A: Visible, R>(core: &mut A, op: impl FnOnce(&mut A) -> R) -> R {
    if !reported::<A>() {
        return op(core);
    }
    let _quiet = Quiet::new();
    let result = op(core);
    resync(core);
    result
}

/// A new allocator: everything it holds becomes inaccessible but to it.
pub(crate) fn created<A: Visible>(core: &A) {
    if reported::<A>() {
        core.for_each_region(&mut |start, len| super::obtained(start, len));
    }
}

/// Any operation, run with the tool's errors off (the allocator touches its
/// bookkeeping) and nothing reported: construction, walks, checks.
#[inline(always)]
pub(crate) fn quietly<R>(op: impl FnOnce() -> R) -> R {
    if !active() {
        return op();
    }
    let _quiet = Quiet::new();
    op()
}

/// Before the allocator's memory goes (`*_drop`, `*_free`): all of it
/// becomes accessible again. Heap blocks still live in the allocator's
/// own buffer stay reported to Memcheck, which shows them as leaks at
/// exit: that buffer is then kept (never freed), so that no later block
/// lands on a block Memcheck still records. Blocks live in memory that
/// goes back to an upstream or a caller are dropped from the records
/// (that memory is theirs to reuse).
pub(crate) fn dropping<A: Visible>(core: &mut A) {
    if !reported::<A>() {
        return;
    }
    let _quiet = Quiet::new();
    let mut kept = None;
    if A::KIND == Kind::Heap && super::valgrind() {
        let mut live = Vec::new();
        core.for_each_live(&mut |ptr, size| live.push((kind_of(core, ptr), ptr, size)));
        if let Some(own) = core.own_buffer() {
            let (start, end) = (own.start(), own.end());
            if live.iter().any(|&(_, ptr, _)| ptr >= start && ptr < end) {
                own.forget();
                kept = Some((start, end - start));
            }
        }
        let in_kept =
            |ptr: usize| kept.is_some_and(|(start, len)| ptr >= start && ptr < start + len);
        for (kind, ptr, size) in live {
            if !in_kept(ptr) {
                taken_back(kind, ptr, size);
            }
        }
    }
    core.for_each_region(&mut |start, len| {
        if kept.map_or(true, |(kept_start, _)| kept_start != start) {
            returning(start, len);
        }
    });
}
