//! Resizing, and the free list through the [`Allocator`] interface:
//! `realloc_block` (in place when it can, else moved to any region),
//! in-place resizing (grow into a free successor, shrink by splitting off
//! a free block, always in the block's own region) and a reset in
//! O(regions).

use super::class::{block_size_for, class_of};
use super::header::{State, Successor};
use super::{usable, FreeList};
use crate::allocator::{Allocator, Block, Caps};
use crate::error::Error;
use core::alloc::Layout;
use core::ptr::NonNull;

impl FreeList {
    /// Resizes the block at `ptr` to `layout`, keeping the first
    /// `min(old usable size, layout.size())` bytes. In place when the block
    /// is aligned for `layout` and it, with a free successor, is big enough
    /// (a shrink gives its tail back); otherwise allocate (in any region,
    /// or a new chunk), copy, free. On any error nothing changes.
    pub fn realloc_block(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<Block, Error> {
        let address = ptr.as_ptr() as usize;
        let (at, valid) = self.locate(address)?;
        let needed = block_size_for(layout.size()).ok_or(Error::Exhausted)?;
        if address & (layout.align() - 1) == 0 {
            let heap = self.heap_at(at).ok_or(Error::ForeignPointer)?;
            // SAFETY: `locate` checked the block, in this region.
            let resized =
                unsafe { heap.in_place(valid.offset, valid.size, valid.prev_size, needed) };
            if let Some(block) = resized {
                return Ok(block);
            }
        }
        let moved = self.alloc(layout)?;
        let keep = usable(valid.size).min(layout.size());
        // SAFETY: the old block's usable bytes lie in its region's memory
        // (`locate` checked its size against that heap, and allocation
        // never drops a region), the new block's `layout.size() >= keep`
        // bytes in its region's; both are valid for reads and writes, and
        // `copy` allows any overlap.
        unsafe { core::ptr::copy(address as *const u8, moved.addr() as *mut u8, keep) };
        if let Err(error) = self.dealloc(ptr) {
            // Only a caller's scribble on freed memory gets here: list
            // updates of the allocation, through a corrupted link, wrote
            // over the old block's header. Undo the move rather than report
            // an error with the new block still taken.
            let _undone = self.dealloc(moved.ptr);
            return Err(error);
        }
        Ok(moved)
    }

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
            self.peak = self.peak.max(self.allocated);
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
        let (at, valid) = self.locate(ptr.as_ptr() as usize)?;
        let needed = block_size_for(new_size).ok_or(Error::Exhausted)?;
        let heap = self.heap_at(at).ok_or(Error::ForeignPointer)?;
        // SAFETY: `locate` checked the block, in this region.
        unsafe { heap.in_place(valid.offset, valid.size, valid.prev_size, needed) }
            .map(|block| block.size)
            .ok_or(Error::Exhausted)
    }

    unsafe fn readable(&self, ptr: NonNull<u8>, old: Layout) -> Result<usize, Error> {
        let (_, valid) = self.locate(ptr.as_ptr() as usize)?;
        Ok(usable(valid.size).min(old.size()))
    }

    unsafe fn realloc(&mut self, ptr: NonNull<u8>, _: Layout, new: Layout) -> Result<Block, Error> {
        self.realloc_block(ptr, new)
    }

    #[inline]
    unsafe fn free(&mut self, ptr: NonNull<u8>, _: Layout) -> Result<(), Error> {
        self.dealloc(ptr)
    }

    fn reset(&mut self) -> Result<(), Error> {
        self.clear();
        Ok(())
    }
}
