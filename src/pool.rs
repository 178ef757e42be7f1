//! The block pool: fixed-size blocks, O(1) allocate and free, every free
//! checked.
//!
//! Blocks are carved lazily from an untouched *frontier*, so creating a
//! pool of a million blocks costs what a pool of ten does, and the pool
//! never writes to a block's memory. Its bookkeeping lives beside the
//! buffer in one `u32` per block that has ever been handed out:
//!
//! ```text
//!  link[i] == ALLOCATED   block i is in use
//!  link[i] == j           block i is free, block j is the next free one
//!  link[i] == END         block i is the last free block
//!  i >= links.len()       block i was never handed out (free; the frontier)
//! ```
//!
//! A free therefore costs one exact-division test (a multiply by the
//! inverse of the block size's odd part and a rotate, no `div`) and one
//! look at `link[i]`: a pointer that is not a block start, or a block that is
//! already free, is refused before anything changes. User code that writes
//! into a freed block cannot corrupt the pool either.

use crate::allocator::{nonnull, Allocator, Block, Caps};
use crate::buffer::Buffer;
use crate::error::Error;
use core::alloc::Layout;
use core::ptr::NonNull;

const ALLOCATED: u32 = u32::MAX;
const END: u32 = u32::MAX - 1;
/// The largest number of blocks one pool can hold.
pub const MAX_BLOCKS: usize = (u32::MAX - 2) as usize;
/// The largest block alignment a pool promises (its buffer's).
const MAX_BLOCK_ALIGN: usize = 16;

/// A pool of equal-sized blocks.
#[derive(Debug)]
pub struct Pool {
    buffer: Buffer,
    links: Vec<u32>,
    block_size: usize,
    /// Multiplicative inverse (mod 2^64) of the odd part of `block_size`.
    inverse: u64,
    /// `block_size.trailing_zeros()`.
    shift: u32,
    /// The alignment of every block: the largest power of two dividing the
    /// block size, up to 16.
    block_align: usize,
    num_blocks: u32,
    free_head: u32,
    allocated: u32,
}

/// The block size actually used for a request of `block_size` bytes: at
/// least 8 and a multiple of 8.
pub fn effective_block_size(block_size: usize) -> Result<usize, Error> {
    if block_size == 0 {
        return Err(Error::InvalidArgument);
    }
    let rounded = crate::layout::align_up(block_size, 8).ok_or(Error::InvalidArgument)?;
    Ok(rounded.max(8))
}

/// The inverse of odd `d` modulo 2^64 (Newton's iteration: each step
/// doubles the number of correct low bits, 3 -> 6 -> ... -> 96).
const fn odd_inverse(d: u64) -> u64 {
    let mut inverse = d; // correct to 3 bits for any odd d
    let mut step = 0;
    while step < 5 {
        inverse = inverse.wrapping_mul(2u64.wrapping_sub(d.wrapping_mul(inverse)));
        step += 1;
    }
    inverse
}

impl Pool {
    /// A pool of `num_blocks` blocks of [`effective_block_size`] bytes.
    pub fn new(block_size: usize, num_blocks: usize) -> Result<Pool, Error> {
        let block_size = effective_block_size(block_size)?;
        if num_blocks == 0 || num_blocks > MAX_BLOCKS {
            return Err(Error::InvalidArgument);
        }
        let capacity = block_size
            .checked_mul(num_blocks)
            .ok_or(Error::InvalidArgument)?;
        if capacity > i64::MAX as usize {
            return Err(Error::InvalidArgument);
        }
        let buffer = Buffer::allocate(capacity, false)?;
        let mut links = Vec::new();
        // `try_reserve` fails cleanly on OOM; the memory is not touched
        // until a block is handed out.
        links
            .try_reserve_exact(num_blocks)
            .map_err(|_| Error::OutOfMemory)?;
        let shift = block_size.trailing_zeros();
        Ok(Pool {
            buffer,
            links,
            block_size,
            inverse: odd_inverse((block_size >> shift) as u64),
            shift,
            block_align: (1 << shift).min(MAX_BLOCK_ALIGN),
            num_blocks: num_blocks as u32,
            free_head: END,
            allocated: 0,
        })
    }

    /// A free block; `Exhausted` when none is left.
    #[inline]
    pub fn alloc_block(&mut self) -> Result<NonNull<u8>, Error> {
        let index = self.free_head as usize;
        if let Some(slot) = self.links.get_mut(index) {
            // A free block (END is never a valid index: `links` is shorter).
            self.free_head = *slot;
            *slot = ALLOCATED;
        } else {
            return self.fresh_block();
        }
        self.handed_out(index)
    }

    /// The first block never handed out (the frontier moves up by one);
    /// `Exhausted` when there is none.
    #[inline]
    fn fresh_block(&mut self) -> Result<NonNull<u8>, Error> {
        let index = self.links.len();
        if index >= self.num_blocks as usize {
            return Err(Error::Exhausted);
        }
        // `links` was given room for every block up front, so this never
        // reallocates (a `push` would still carry the call that could).
        let slot = self
            .links
            .spare_capacity_mut()
            .first_mut()
            .ok_or(Error::Exhausted)?;
        slot.write(ALLOCATED);
        // SAFETY: the slot at `index` (the old length) was just written,
        // within the capacity.
        unsafe { self.links.set_len(index + 1) };
        self.handed_out(index)
    }

    #[inline]
    fn handed_out(&mut self, index: usize) -> Result<NonNull<u8>, Error> {
        self.allocated += 1;
        // SAFETY: a block's address lies in the buffer, so it is not 0.
        Ok(unsafe { nonnull(self.buffer.start() + index * self.block_size) })
    }

    /// Gives a block back. Anything but the start of a block of this pool
    /// is `ForeignPointer`, a free block is `DoubleFree`; on error nothing
    /// changes.
    #[inline]
    pub fn dealloc(&mut self, ptr: NonNull<u8>) -> Result<(), Error> {
        let address = ptr.as_ptr() as usize;
        // One compare with the frontier for every block handed out (all of
        // them block starts below `num_blocks`); what lies beyond is sorted
        // out only when the free fails.
        // (Lossless: the crate builds for 64-bit targets only.)
        let index = self.exact_quotient(address) as usize;
        let Some(slot) = self.links.get_mut(index) else {
            // A block start past the frontier was never handed out: it is
            // free.
            return Err(if index < self.num_blocks as usize {
                Error::DoubleFree
            } else {
                Error::ForeignPointer
            });
        };
        if *slot != ALLOCATED {
            return Err(Error::DoubleFree);
        }
        *slot = self.free_head;
        self.free_head = index as u32;
        self.allocated -= 1;
        Ok(())
    }

    /// The index of the block starting at `address`, if it is a block start
    /// of this pool. `offset / block_size` is exact iff `rotate(offset *
    /// inverse, shift)` is at most `u64::MAX / block_size`; every block
    /// index is, and every inexact quotient lands above them all.
    #[inline]
    fn block_index(&self, address: usize) -> Option<usize> {
        let index = self.exact_quotient(address);
        (index < self.num_blocks as u64).then_some(index as usize)
    }

    /// `(address - start) / block_size` when that division is exact, else
    /// a number above every block index (see [`Pool::block_index`]).
    #[inline]
    fn exact_quotient(&self, address: usize) -> u64 {
        let offset = (address as u64).wrapping_sub(self.buffer.start() as u64);
        offset.wrapping_mul(self.inverse).rotate_right(self.shift)
    }

    /// Whether `address` is the start of a block of this pool now in use.
    pub fn owns(&self, address: usize) -> bool {
        self.block_index(address).and_then(|i| self.links.get(i)) == Some(&ALLOCATED)
    }

    /// `Ok` if `ptr` is the start of a block in use, else the error its
    /// free would get.
    fn check_live(&self, ptr: NonNull<u8>) -> Result<(), Error> {
        let address = ptr.as_ptr() as usize;
        match self.block_index(address) {
            _ if self.owns(address) => Ok(()),
            Some(_) => Err(Error::DoubleFree),
            None => Err(Error::ForeignPointer),
        }
    }

    /// `Ok` if every block can hold `layout`, else `Unsupported`.
    #[inline]
    fn serves(&self, layout: Layout) -> Result<(), Error> {
        if layout.size() <= self.block_size && layout.align() <= self.block_align {
            Ok(())
        } else {
            Err(Error::Unsupported)
        }
    }

    /// The alignment of every block.
    pub fn block_align(&self) -> usize {
        self.block_align
    }

    /// Blocks that can still be allocated.
    pub fn num_free(&self) -> usize {
        (self.num_blocks - self.allocated) as usize
    }

    /// Blocks now in use.
    pub fn num_allocated(&self) -> usize {
        self.allocated as usize
    }

    /// The block size in use (after rounding).
    pub fn block_size(&self) -> usize {
        self.block_size
    }

    /// Releases the buffer; the pool stays valid, with no blocks.
    pub fn drop_buffer(&mut self) {
        self.buffer.release();
        self.links = Vec::new();
        self.num_blocks = 0;
        self.free_head = END;
        self.allocated = 0;
    }
}

impl Allocator for Pool {
    const CAPS: Caps = Caps::FREE.with(Caps::RESET);

    /// A block, if one can hold `layout` (else `Unsupported`).
    #[inline]
    fn alloc(&mut self, layout: Layout) -> Result<Block, Error> {
        self.serves(layout)?;
        let ptr = self.alloc_block()?;
        Ok(Block {
            ptr,
            size: self.block_size,
        })
    }

    /// Any size up to the block size: the block itself; beyond it,
    /// `Unsupported`.
    unsafe fn resize(
        &mut self,
        ptr: NonNull<u8>,
        _: Layout,
        new_size: usize,
    ) -> Result<usize, Error> {
        self.check_live(ptr)?;
        if new_size <= self.block_size {
            Ok(self.block_size)
        } else {
            Err(Error::Unsupported)
        }
    }

    unsafe fn readable(&self, ptr: NonNull<u8>, old: Layout) -> Result<usize, Error> {
        self.check_live(ptr)?;
        Ok(old.size().min(self.block_size))
    }

    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<Block, Error> {
        self.check_live(ptr)?;
        self.serves(new)?;
        // SAFETY: forwarded from this function's contract.
        let size = unsafe { self.resize(ptr, old, new.size())? };
        Ok(Block { ptr, size })
    }

    unsafe fn free(&mut self, ptr: NonNull<u8>, _: Layout) -> Result<(), Error> {
        self.dealloc(ptr)
    }

    /// Every block free again, in O(1): the frontier goes back to the
    /// first block (the link table is emptied, not walked).
    fn reset(&mut self) -> Result<(), Error> {
        self.links.clear();
        self.free_head = END;
        self.allocated = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocator::tests::{layout, ptr};

    fn addr(block: NonNull<u8>) -> usize {
        block.as_ptr() as usize
    }

    #[test]
    fn reference_example_reads_98_free() {
        let mut pool = Pool::new(64, 100).unwrap();
        let _a = pool.alloc_block().unwrap();
        let b = pool.alloc_block().unwrap();
        let _c = pool.alloc_block().unwrap();
        pool.dealloc(b).unwrap();
        assert_eq!((pool.num_free(), pool.num_allocated()), (98, 2));
    }

    #[test]
    fn block_sizes_round_up_and_align() {
        for (asked, used, align) in [
            (1, 8, 8),
            (8, 8, 8),
            (12, 16, 16),
            (24, 24, 8),
            (40, 40, 8),
            (48, 48, 16),
            (100, 104, 8),
        ] {
            let mut pool = Pool::new(asked, 5).unwrap();
            assert_eq!(pool.block_size(), used);
            for _ in 0..5 {
                assert_eq!(
                    addr(pool.alloc_block().unwrap()) % align,
                    0,
                    "block size {asked}"
                );
            }
            assert_eq!(pool.alloc_block(), Err(Error::Exhausted));
        }
    }

    #[test]
    fn bad_arguments_are_refused() {
        for (size, count) in [
            (64, 0),
            (0, 10),
            (usize::MAX - 2, 1),
            (isize::MAX as usize, 2),
            (64, MAX_BLOCKS + 1),
        ] {
            assert_eq!(
                Pool::new(size, count).unwrap_err(),
                Error::InvalidArgument,
                "{size} {count}"
            );
        }
        assert_eq!(Pool::new(1 << 40, 1 << 22).unwrap_err(), Error::OutOfMemory);
    }

    #[test]
    fn foreign_interior_and_double_frees_change_nothing() {
        let mut pool = Pool::new(24, 4).unwrap();
        let mut other = Pool::new(24, 4).unwrap();
        let a = addr(pool.alloc_block().unwrap());
        let b = addr(pool.alloc_block().unwrap());
        let foreign = addr(other.alloc_block().unwrap());
        for bad in [a + 8, a - 8, b + 8, b + 96, foreign, 8, usize::MAX] {
            assert_eq!(
                pool.dealloc(ptr(bad)),
                Err(Error::ForeignPointer),
                "{bad:#x}"
            );
        }
        // Block starts never handed out are free blocks.
        for never in [b + 24, b + 48] {
            assert_eq!(pool.dealloc(ptr(never)), Err(Error::DoubleFree));
        }
        pool.dealloc(ptr(a)).unwrap();
        assert_eq!(pool.dealloc(ptr(a)), Err(Error::DoubleFree));
        assert_eq!((pool.num_free(), pool.num_allocated()), (3, 1));
        assert!(pool.owns(b) && !pool.owns(a));
        assert_eq!(addr(pool.alloc_block().unwrap()), a);
        let c = addr(pool.alloc_block().unwrap());
        assert!(c != a && c != b);
    }

    #[test]
    fn exact_division_test_matches_division() {
        for block in [8usize, 24, 40, 56, 72, 96, 104, 1000, 4104] {
            let mut pool = Pool::new(block, 50).unwrap();
            for _ in 0..50 {
                pool.alloc_block().unwrap();
            }
            let start = pool.buffer.start();
            for offset in 0..block * 52 {
                let expected =
                    (offset % block == 0 && offset / block < 50).then_some(offset / block);
                assert_eq!(
                    pool.block_index(start + offset),
                    expected,
                    "{block} {offset}"
                );
            }
        }
    }

    #[test]
    fn creation_does_not_touch_a_large_buffer() {
        // A million 64-byte blocks: only bookkeeping for handed-out blocks
        // is ever written.
        let mut pool = Pool::new(64, 1_000_000).unwrap();
        assert_eq!(pool.links.len(), 0);
        pool.alloc_block().unwrap();
        assert_eq!(pool.links.len(), 1);
        assert_eq!(pool.num_free(), 999_999);
    }

    #[test]
    fn drop_buffer_leaves_an_empty_pool() {
        let mut pool = Pool::new(64, 10).unwrap();
        let a = pool.alloc_block().unwrap();
        pool.drop_buffer();
        assert_eq!((pool.num_free(), pool.num_allocated()), (0, 0));
        assert_eq!(pool.alloc_block(), Err(Error::Exhausted));
        assert_eq!(pool.dealloc(a), Err(Error::ForeignPointer));
    }

    #[test]
    fn through_the_interface_layouts_past_the_block_are_unsupported() {
        let mut pool = Pool::new(24, 4).unwrap();
        assert_eq!(pool.block_align(), 8);
        let a = pool.alloc(layout(24, 8)).unwrap();
        assert_eq!(a.size, 24);
        assert_eq!(pool.alloc(layout(25, 8)), Err(Error::Unsupported));
        assert_eq!(pool.alloc(layout(8, 16)), Err(Error::Unsupported));
        // SAFETY: a block of this pool, or pointers it refuses.
        unsafe {
            assert_eq!(pool.resize(a.ptr, layout(24, 8), 1), Ok(24));
            assert_eq!(
                pool.resize(a.ptr, layout(24, 8), 25),
                Err(Error::Unsupported)
            );
            let moved = pool.realloc(a.ptr, layout(24, 8), layout(16, 8)).unwrap();
            assert_eq!(moved.ptr, a.ptr);
            assert_eq!(
                pool.realloc(a.ptr, layout(24, 8), layout(32, 8)),
                Err(Error::Unsupported)
            );
            assert_eq!(
                pool.readable(ptr(addr(a.ptr) + 8), layout(8, 8)),
                Err(Error::ForeignPointer)
            );
            pool.free(a.ptr, layout(24, 8)).unwrap();
            assert_eq!(pool.resize(a.ptr, layout(24, 8), 8), Err(Error::DoubleFree));
        }
        assert_eq!(pool.num_allocated(), 0);
    }

    #[test]
    fn reset_frees_every_block_at_once() {
        let mut pool = Pool::new(16, 3).unwrap();
        let blocks: Vec<_> = (0..3).map(|_| pool.alloc_block().unwrap()).collect();
        pool.reset().unwrap();
        assert_eq!((pool.num_free(), pool.num_allocated()), (3, 0));
        for block in &blocks {
            assert_eq!(pool.dealloc(*block), Err(Error::DoubleFree));
        }
        let again: Vec<_> = (0..3).map(|_| pool.alloc_block().unwrap()).collect();
        assert_eq!(again, blocks);
        assert_eq!(pool.alloc_block(), Err(Error::Exhausted));
    }
}
