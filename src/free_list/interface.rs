//! The free list through the [`Allocator`] interface: in-place resizing
//! (grow into a free successor, shrink by splitting off a free block) and
//! an O(1) reset.

use super::class::{block_size_for, class_of};
use super::header::{State, Successor, Valid};
use super::{usable, FreeList};
use crate::allocator::{Allocator, Block, Caps};
use crate::buffer::Buffer;
use crate::error::Error;
use core::alloc::Layout;
use core::ptr::NonNull;

impl FreeList {
    /// The in-use block at `offset` of `size` bytes (validated, its
    /// predecessor free as `prev_size > 0` says) made `needed` bytes (a
    /// block size) without moving it: it grows into a free successor, and
    /// a tail of at least a minimum block goes back to the free lists.
    /// `None` (nothing changed) when it does not fit in place.
    ///
    /// # Safety
    /// The block was checked by `validate`.
    pub(super) unsafe fn in_place(
        &mut self,
        offset: usize,
        size: usize,
        prev_size: usize,
        needed: usize,
    ) -> Option<Block> {
        let next = offset + size;
        let next_size = self.free_block_size(next as u64).unwrap_or(0);
        if size + next_size < needed {
            return None;
        }
        // SAFETY: `validate` and `free_block_size` checked both blocks:
        // together they are a multiple of 16 bytes ending inside the heap,
        // at least `needed`.
        unsafe {
            if next_size > 0 {
                self.remove(next, class_of(next_size));
                self.wipe_header(next);
            }
            self.allocated = self.allocated.saturating_sub(size);
            Some(self.occupy(
                offset,
                size + next_size,
                needed,
                State::free_if(prev_size > 0),
                Successor::flagged_if(next_size > 0),
                None,
            ))
        }
    }

    /// The block at `ptr`, validated as a free would be.
    fn valid(&self, ptr: NonNull<u8>) -> Result<Valid, Error> {
        self.validate(ptr.as_ptr() as usize)
    }

    /// Frees every block at once, in O(1): one free block over the heap
    /// again, under fresh keys, so that every header written before (and
    /// so every pointer handed out before) is refused.
    pub fn clear(&mut self) {
        let buffer = core::mem::replace(&mut self.buffer, Buffer::empty());
        *self = FreeList::over(buffer, self.capacity);
    }
}

impl Allocator for FreeList {
    const CAPS: Caps = Caps::FREE
        .with(Caps::RESIZE)
        .with(Caps::RESET)
        .with(Caps::ANY_SIZE)
        .with(Caps::ANY_ALIGN);

    #[inline]
    fn alloc(&mut self, layout: Layout) -> Result<Block, Error> {
        FreeList::alloc(self, layout)
    }

    unsafe fn resize(
        &mut self,
        ptr: NonNull<u8>,
        _: Layout,
        new_size: usize,
    ) -> Result<usize, Error> {
        let Valid {
            offset,
            size,
            prev_size,
            ..
        } = self.valid(ptr)?;
        let needed = block_size_for(new_size).ok_or(Error::Exhausted)?;
        // SAFETY: `valid` checked the block.
        unsafe { self.in_place(offset, size, prev_size, needed) }
            .map(|block| block.size)
            .ok_or(Error::Exhausted)
    }

    unsafe fn readable(&self, ptr: NonNull<u8>, old: Layout) -> Result<usize, Error> {
        let Valid { size, .. } = self.valid(ptr)?;
        Ok(usable(size).min(old.size()))
    }

    unsafe fn realloc(&mut self, ptr: NonNull<u8>, _: Layout, new: Layout) -> Result<Block, Error> {
        self.realloc_block(ptr, new)
    }

    unsafe fn free(&mut self, ptr: NonNull<u8>, _: Layout) -> Result<(), Error> {
        self.dealloc(ptr)
    }

    fn reset(&mut self) -> Result<(), Error> {
        self.clear();
        Ok(())
    }
}
