//! The one interface every core speaks: [`Allocator`].
//!
//! Each allocator of this crate implements it, and so the C vtables of
//! `ffi::allocator` (one generic row per family), the conformance model in
//! `tests/prop_interface.rs` and any code written for "an allocator" are
//! written against this trait alone. A new allocator is one module that
//! implements it, plus its row in the vtable table.
//!
//! Requests are [`core::alloc::Layout`]s (a power-of-two alignment, a size
//! that rounds up to it within `isize::MAX`: exactly rule 4 of the C
//! contract); pointers are [`NonNull<u8>`]; failures are [`Error`]s. Only
//! `ffi` converts to and from the C `int64_t` values.

use crate::error::Error;
use core::alloc::Layout;
use core::ptr::NonNull;

/// A block handed out: `size` usable bytes at `ptr` (`size` is at least
/// the layout's size; the caller may use all of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// First byte of the block, aligned as requested.
    pub ptr: NonNull<u8>,
    /// Usable bytes at `ptr`.
    pub size: usize,
}

impl Block {
    /// The block's address.
    #[inline(always)]
    pub fn addr(self) -> usize {
        self.ptr.as_ptr() as usize
    }
}

/// Capability bits: what an allocator can do, known before calling it.
/// The values are the stable `VAIS_ALLOC_CAP_*` constants of the C ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Caps(pub u64);

impl Caps {
    /// A freed block is reusable at once, in any order.
    pub const FREE: Caps = Caps(1);
    /// Only a free of the most recent live block reclaims memory at once.
    pub const FREE_LAST: Caps = Caps(2);
    /// In-place growth can succeed.
    pub const RESIZE: Caps = Caps(4);
    /// Everything can be freed at once.
    pub const RESET: Caps = Caps(8);
    /// Any size up to the capacity, not one fixed block size.
    pub const ANY_SIZE: Caps = Caps(16);
    /// Every power-of-two alignment.
    pub const ANY_ALIGN: Caps = Caps(32);
    /// Gets more memory when full.
    pub const GROWS: Caps = Caps(64);
    /// May be used from several threads at once.
    pub const THREAD_SAFE: Caps = Caps(128);

    /// Both sets of bits.
    pub const fn with(self, other: Caps) -> Caps {
        Caps(self.0 | other.0)
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Caps) -> bool {
        self.0 & other.0 == other.0
    }
}

/// An allocator: what the C `VaisAllocatorVtable` dispatches to.
///
/// Every method either succeeds or fails with nothing changed (rule 1 of
/// the C contract). The pointer-taking methods are `unsafe` only because
/// one implementation, [`crate::global::Global`], cannot check pointers
/// (the system allocator keeps no registry); the others validate every
/// pointer in time independent of the number of blocks and refuse what
/// they did not hand out.
pub trait Allocator {
    /// What this allocator can do.
    const CAPS: Caps;

    /// A block for `layout`.
    fn alloc(&mut self, layout: Layout) -> Result<Block, Error>;

    /// A zero-filled block for `layout`.
    fn alloc_zeroed(&mut self, layout: Layout) -> Result<Block, Error> {
        let block = self.alloc(layout)?;
        // SAFETY: a block just handed out is `size` writable bytes.
        unsafe { block.ptr.as_ptr().write_bytes(0, block.size) };
        Ok(block)
    }

    /// Grows or shrinks the block at `ptr` (allocated with `old`) to
    /// `new_size` bytes without moving it; the new usable size.
    /// `Exhausted` when there is no room in place, `Unsupported` when the
    /// allocator never serves that size.
    ///
    /// # Safety
    /// `ptr` is a pointer this allocator accepts (see the trait docs).
    unsafe fn resize(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new_size: usize,
    ) -> Result<usize, Error>;

    /// How many bytes at `ptr` (allocated with `old`) a move may copy: at
    /// most `old.size()`, and never past the block as this allocator knows
    /// it. Validates `ptr` as a free would, changing nothing.
    ///
    /// # Safety
    /// As for [`Allocator::resize`].
    unsafe fn readable(&self, ptr: NonNull<u8>, old: Layout) -> Result<usize, Error>;

    /// Moves the block at `ptr` to one for `new`, keeping the first
    /// `min(old.size(), new.size())` bytes: in place when it can, else
    /// allocate, copy, free. On failure the old block is untouched.
    ///
    /// # Safety
    /// As for [`Allocator::resize`].
    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<Block, Error> {
        // SAFETY: forwarded from this function's contract.
        unsafe { realloc_by_parts(self, ptr, old, new) }
    }

    /// Gives the block at `ptr` (allocated with `layout`) back.
    ///
    /// # Safety
    /// As for [`Allocator::resize`].
    unsafe fn free(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Error>;

    /// Frees every block at once; `Unsupported` where there is no reset.
    fn reset(&mut self) -> Result<(), Error> {
        Err(Error::Unsupported)
    }
}

/// [`Allocator::realloc`] made of the allocator's other operations: resize
/// in place when the pointer has the new alignment, else readable +
/// alloc + copy + free.
///
/// # Safety
/// As for [`Allocator::realloc`].
pub(crate) unsafe fn realloc_by_parts<A: Allocator + ?Sized>(
    allocator: &mut A,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<Block, Error> {
    if ptr.as_ptr() as usize & (new.align() - 1) == 0 {
        // SAFETY: forwarded from this function's contract.
        match unsafe { allocator.resize(ptr, old, new.size()) } {
            Ok(size) => return Ok(Block { ptr, size }),
            Err(Error::Exhausted) => {}
            Err(error) => return Err(error),
        }
    }
    // SAFETY: forwarded from this function's contract.
    let keep = unsafe { allocator.readable(ptr, old)? }.min(new.size());
    let fresh = allocator.alloc(new)?;
    // SAFETY: `readable` vouched for `keep` bytes at `ptr`, the fresh
    // block holds at least `new.size() >= keep`, and two live blocks
    // of one allocator are disjoint.
    unsafe { core::ptr::copy_nonoverlapping(ptr.as_ptr(), fresh.ptr.as_ptr(), keep) };
    // SAFETY: forwarded from this function's contract.
    if let Err(error) = unsafe { allocator.free(ptr, old) } {
        // SAFETY: `fresh` was just handed out by this allocator.
        let _undone = unsafe { allocator.free(fresh.ptr, new) };
        return Err(error);
    }
    Ok(fresh)
}

/// The bytes an arena's block may take for `size`: at least one, so that
/// every pointer handed out is distinct and lies inside the arena (rule 5:
/// a zero-size request succeeds wherever a one-byte request would).
#[inline(always)]
pub fn footprint(size: usize) -> usize {
    size.max(1)
}

/// A `NonNull` for an address that a successful allocation computed.
///
/// # Safety
/// `address` is not 0 (it lies in a live buffer).
#[inline(always)]
pub(crate) unsafe fn nonnull(address: usize) -> NonNull<u8> {
    // SAFETY: the caller's promise.
    unsafe { NonNull::new_unchecked(address as *mut u8) }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid layout (panics on a bad one: tests only).
    pub(crate) fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).expect("a valid test layout")
    }

    /// A non-null pointer to `address`, which tests hand to allocators
    /// that must refuse it.
    pub(crate) fn ptr(address: usize) -> NonNull<u8> {
        NonNull::new(address as *mut u8).expect("a non-null test address")
    }

    #[test]
    fn caps_combine() {
        let caps = Caps::FREE.with(Caps::RESET);
        assert_eq!(caps.0, 9);
        assert!(caps.contains(Caps::RESET) && !caps.contains(Caps::RESIZE));
        assert_eq!((footprint(0), footprint(7)), (1, 7));
    }
}
