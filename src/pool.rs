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

use crate::buffer::Buffer;
use crate::error::Error;

const ALLOCATED: u32 = u32::MAX;
const END: u32 = u32::MAX - 1;
/// The largest number of blocks one pool can hold.
pub const MAX_BLOCKS: i64 = (u32::MAX - 2) as i64;

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
    num_blocks: u32,
    free_head: u32,
    allocated: u32,
}

/// The block size actually used for a request of `block_size` bytes: at
/// least 8 and a multiple of 8.
pub fn effective_block_size(block_size: i64) -> Result<usize, Error> {
    if block_size <= 0 {
        return Err(Error::InvalidArgument);
    }
    let rounded = crate::layout::align_up(block_size as usize, 8).ok_or(Error::InvalidArgument)?;
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
    pub fn new(block_size: i64, num_blocks: i64) -> Result<Pool, Error> {
        let block_size = effective_block_size(block_size)?;
        if num_blocks <= 0 || num_blocks > MAX_BLOCKS {
            return Err(Error::InvalidArgument);
        }
        let capacity = block_size
            .checked_mul(num_blocks as usize)
            .ok_or(Error::InvalidArgument)?;
        if capacity > i64::MAX as usize {
            return Err(Error::InvalidArgument);
        }
        let buffer = Buffer::allocate(capacity, false)?;
        let mut links = Vec::new();
        // `try_reserve` fails cleanly on OOM; the memory is not touched
        // until a block is handed out.
        links
            .try_reserve_exact(num_blocks as usize)
            .map_err(|_| Error::OutOfMemory)?;
        let shift = block_size.trailing_zeros();
        Ok(Pool {
            buffer,
            links,
            block_size,
            inverse: odd_inverse((block_size >> shift) as u64),
            shift,
            num_blocks: num_blocks as u32,
            free_head: END,
            allocated: 0,
        })
    }

    /// A free block's address; `Exhausted` when none is left.
    #[inline]
    pub fn alloc(&mut self) -> Result<usize, Error> {
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
    fn fresh_block(&mut self) -> Result<usize, Error> {
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
    fn handed_out(&mut self, index: usize) -> Result<usize, Error> {
        self.allocated += 1;
        Ok(self.buffer.start() + index * self.block_size)
    }

    /// Gives a block back. 0 is a no-op; anything but the start of a block
    /// of this pool is `ForeignPointer`, a free block is `DoubleFree`; on
    /// error nothing changes.
    #[inline]
    pub fn dealloc(&mut self, address: i64) -> Result<(), Error> {
        if address == 0 {
            return Ok(());
        }
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
    fn block_index(&self, address: i64) -> Option<usize> {
        let index = self.exact_quotient(address);
        (index < self.num_blocks as u64).then_some(index as usize)
    }

    /// `(address - start) / block_size` when that division is exact, else
    /// a number above every block index (see [`Pool::block_index`]).
    #[inline]
    fn exact_quotient(&self, address: i64) -> u64 {
        let offset = (address as u64).wrapping_sub(self.buffer.start() as u64);
        offset.wrapping_mul(self.inverse).rotate_right(self.shift)
    }

    /// Whether `address` is the start of a block of this pool now in use.
    pub fn owns(&self, address: i64) -> bool {
        self.block_index(address).and_then(|i| self.links.get(i)) == Some(&ALLOCATED)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_example_reads_98_free() {
        let mut pool = Pool::new(64, 100).unwrap();
        let _a = pool.alloc().unwrap();
        let b = pool.alloc().unwrap();
        let _c = pool.alloc().unwrap();
        pool.dealloc(b as i64).unwrap();
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
                assert_eq!(pool.alloc().unwrap() % align, 0, "block size {asked}");
            }
            assert_eq!(pool.alloc(), Err(Error::Exhausted));
        }
    }

    #[test]
    fn bad_arguments_are_refused() {
        for (size, count) in [
            (64, 0),
            (64, -1),
            (0, 10),
            (-8, 10),
            (i64::MAX, 2),
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
        let a = pool.alloc().unwrap();
        let b = pool.alloc().unwrap();
        let foreign = other.alloc().unwrap();
        for bad in [a + 8, a - 8, b + 8, b + 96, foreign, 8, usize::MAX] {
            assert_eq!(
                pool.dealloc(bad as i64),
                Err(Error::ForeignPointer),
                "{bad:#x}"
            );
        }
        // Block starts never handed out are free blocks.
        for never in [b + 24, b + 48] {
            assert_eq!(pool.dealloc(never as i64), Err(Error::DoubleFree));
        }
        pool.dealloc(a as i64).unwrap();
        assert_eq!(pool.dealloc(a as i64), Err(Error::DoubleFree));
        assert_eq!((pool.num_free(), pool.num_allocated()), (3, 1));
        assert!(pool.owns(b as i64) && !pool.owns(a as i64));
        assert_eq!(pool.alloc().unwrap(), a);
        let c = pool.alloc().unwrap();
        assert!(c != a && c != b);
    }

    #[test]
    fn exact_division_test_matches_division() {
        for block in [8usize, 24, 40, 56, 72, 96, 104, 1000, 4104] {
            let mut pool = Pool::new(block as i64, 50).unwrap();
            for _ in 0..50 {
                pool.alloc().unwrap();
            }
            let start = pool.buffer.start();
            for offset in 0..block * 52 {
                let expected =
                    (offset % block == 0 && offset / block < 50).then_some(offset / block);
                assert_eq!(
                    pool.block_index((start + offset) as i64),
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
        pool.alloc().unwrap();
        assert_eq!(pool.links.len(), 1);
        assert_eq!(pool.num_free(), 999_999);
    }

    #[test]
    fn drop_buffer_leaves_an_empty_pool() {
        let mut pool = Pool::new(64, 10).unwrap();
        let a = pool.alloc().unwrap();
        pool.drop_buffer();
        assert_eq!((pool.num_free(), pool.num_allocated()), (0, 0));
        assert_eq!(pool.alloc(), Err(Error::Exhausted));
        assert_eq!(pool.dealloc(a as i64), Err(Error::ForeignPointer));
    }
}
