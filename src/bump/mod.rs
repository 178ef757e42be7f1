//! The bump arena: allocation moves one pointer, `reset` frees everything.
//!
//! The arena bumps *upwards*: the next block starts at the first address at
//! or after the top aligned as requested (the alignment is applied to the
//! address itself, never to an offset into the buffer), so an allocation is
//! one add, one mask, one add and one comparison against the buffer end.
//! Growing upwards is what lets the most recent block grow in place.
//!
//! ```text
//!  start                                   last        top              end
//!    | block 1 | pad | block 2 | block 3 | pad | block 4 | free (remaining) |
//! ```
//!
//! The arena remembers the most recent block (`last`): freeing it rolls the
//! top back to its start, and resizing it moves the top. Freeing any other
//! block succeeds and changes nothing (its bytes come back at reset).
//!
//! A zero-size request consumes one byte, so every pointer the arena hands
//! out is distinct and a full arena refuses zero-size requests too.

use crate::allocator::{footprint, nonnull, Allocator, Block, Caps};
use crate::buffer::Buffer;
use crate::error::Error;
use core::alloc::Layout;
use core::ptr::NonNull;

/// A bump arena over an owned or borrowed buffer.
#[derive(Debug)]
pub struct Bump {
    buffer: Buffer,
    /// First address not handed out (`buffer.start()` when empty).
    top: usize,
    /// One past the buffer's last address.
    end: usize,
    /// Start of the most recent block while it is live and the top still
    /// ends it, else 0.
    last: usize,
    /// Sum of `layout.size` of the allocations since the last reset.
    allocated: usize,
}

impl Bump {
    /// An arena owning a fresh buffer of `capacity` bytes (16-byte aligned).
    pub fn new(capacity: usize) -> Result<Bump, Error> {
        Ok(Bump::over(Buffer::allocate(capacity, false)?))
    }

    /// An arena over caller memory `[address, address + capacity)`, which it
    /// never frees. Any address alignment is accepted.
    ///
    /// # Safety
    /// The range must be valid for reads and writes while the arena uses it.
    pub unsafe fn from_buffer(address: usize, capacity: usize) -> Result<Bump, Error> {
        // SAFETY: forwarded from this function's contract.
        Ok(Bump::over(unsafe { Buffer::borrow(address, capacity)? }))
    }

    fn over(buffer: Buffer) -> Bump {
        Bump {
            top: buffer.start(),
            end: buffer.end(),
            buffer,
            last: 0,
            allocated: 0,
        }
    }

    /// Bytes still free (`capacity - used`, padding counts as used).
    pub fn remaining(&self) -> usize {
        self.end - self.top
    }

    /// Sum of `layout.size` of the allocations since the last reset (a
    /// resize of the most recent block counts its new size, a rollback
    /// takes its size off).
    pub fn total_allocated(&self) -> usize {
        self.allocated
    }

    /// Size of the buffer in bytes.
    pub fn capacity(&self) -> usize {
        self.buffer.capacity()
    }

    /// Whether `address` lies in memory this arena has handed out since the
    /// last reset.
    pub fn owns(&self, address: usize) -> bool {
        address >= self.buffer.start() && address < self.top
    }

    /// Releases an owned buffer (a borrowed one is left to its owner); the
    /// arena stays valid, empty, with capacity 0.
    pub fn drop_buffer(&mut self) {
        self.buffer.release();
        *self = Bump::over(Buffer::empty());
    }

    /// `ptr` as an address handed out since the last reset.
    #[inline]
    fn used(&self, ptr: NonNull<u8>) -> Result<usize, Error> {
        let address = ptr.as_ptr() as usize;
        if self.owns(address) {
            Ok(address)
        } else {
            Err(Error::ForeignPointer)
        }
    }
}

impl Allocator for Bump {
    const CAPS: Caps = Caps::FREE_LAST
        .with(Caps::RESIZE)
        .with(Caps::RESET)
        .with(Caps::ANY_SIZE)
        .with(Caps::ANY_ALIGN);

    /// The next block for `layout`; `Exhausted` (state unchanged) when it
    /// does not fit. `size` in the result is `layout.size()`.
    #[inline]
    fn alloc(&mut self, layout: Layout) -> Result<Block, Error> {
        // No overflow: the top is an address below 2^63, and a layout's
        // size rounded up to its alignment is at most `isize::MAX`.
        let mask = layout.align() - 1;
        let ptr = (self.top + mask) & !mask;
        let new_top = ptr + footprint(layout.size());
        if new_top > self.end {
            return Err(Error::Exhausted);
        }
        self.top = new_top;
        self.last = ptr;
        self.allocated += layout.size();
        Ok(Block {
            // SAFETY: `ptr` is at least the buffer's start, which is not 0.
            ptr: unsafe { nonnull(ptr) },
            size: layout.size(),
        })
    }

    /// The most recent block grows or shrinks (the top moves); any other
    /// block only shrinks (nothing moves). `ForeignPointer` for an address
    /// outside the used part.
    unsafe fn resize(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new_size: usize,
    ) -> Result<usize, Error> {
        let address = self.used(ptr)?;
        if address != self.last {
            return if new_size <= old.size() {
                Ok(new_size)
            } else {
                Err(Error::Exhausted)
            };
        }
        if footprint(new_size) > self.end - address {
            return Err(Error::Exhausted);
        }
        self.top = address + footprint(new_size);
        self.allocated = self.allocated.saturating_sub(old.size()) + new_size;
        Ok(new_size)
    }

    unsafe fn readable(&self, ptr: NonNull<u8>, old: Layout) -> Result<usize, Error> {
        let address = self.used(ptr)?;
        Ok(old.size().min(self.top - address))
    }

    /// The most recent block is rolled back (its bytes are reused); any
    /// other block in the used part: nothing happens until reset.
    unsafe fn free(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Error> {
        let address = self.used(ptr)?;
        if address == self.last {
            self.top = address;
            self.last = 0;
            self.allocated = self.allocated.saturating_sub(layout.size());
        }
        Ok(())
    }

    /// Frees every allocation at once; the buffer is kept.
    fn reset(&mut self) -> Result<(), Error> {
        self.top = self.buffer.start();
        self.last = 0;
        self.allocated = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocator::tests::{layout, ptr};

    #[test]
    fn allocations_are_aligned_disjoint_and_counted() {
        let mut bump = Bump::new(4096).unwrap();
        let a = bump.alloc(layout(8, 8)).unwrap();
        let b = bump.alloc(layout(4, 4)).unwrap();
        let c = bump.alloc(layout(80, 64)).unwrap();
        assert_eq!((a.addr() % 8, b.addr() % 4, c.addr() % 64), (0, 0, 0));
        assert!(a.addr() + 8 <= b.addr() && b.addr() + 4 <= c.addr());
        assert_eq!(bump.total_allocated(), 92);
        assert!(bump.remaining() <= 4096 - 92);
        bump.reset().unwrap();
        assert_eq!((bump.remaining(), bump.total_allocated()), (4096, 0));
    }

    #[test]
    fn misaligned_borrowed_buffer_still_gives_aligned_addresses() {
        let mut storage = vec![0u8; 1024 + 3];
        let start = storage.as_mut_ptr() as usize + 3;
        // SAFETY: the range lies inside `storage`, which outlives `bump`.
        let mut bump = unsafe { Bump::from_buffer(start, 1024) }.unwrap();
        for align in [1, 2, 4, 8, 16, 32, 64, 128] {
            let a = bump.alloc(layout(5, align)).unwrap();
            assert_eq!(a.addr() % align, 0);
            assert!(a.addr() >= start && a.addr() + 5 <= start + 1024);
        }
    }

    #[test]
    fn exhaustion_leaves_state_unchanged() {
        let mut bump = Bump::new(64).unwrap();
        bump.alloc(layout(40, 8)).unwrap();
        let before = (bump.remaining(), bump.total_allocated());
        assert_eq!(bump.alloc(layout(40, 8)), Err(Error::Exhausted));
        assert_eq!(
            bump.alloc(layout(isize::MAX as usize, 1)),
            Err(Error::Exhausted)
        );
        assert_eq!(bump.alloc(layout(8, 1 << 62)), Err(Error::Exhausted));
        assert_eq!(before, (bump.remaining(), bump.total_allocated()));
    }

    #[test]
    fn zero_size_requests_follow_one_byte_requests() {
        let mut empty = Bump::new(0).unwrap();
        assert_eq!(empty.alloc(layout(0, 1)), Err(Error::Exhausted));
        let mut bump = Bump::new(2).unwrap();
        let a = bump.alloc(layout(0, 1)).unwrap();
        let b = bump.alloc(layout(0, 1)).unwrap();
        assert!(a.ptr != b.ptr && a.size == 0);
        assert_eq!(bump.alloc(layout(0, 1)), Err(Error::Exhausted));
    }

    #[test]
    fn drop_buffer_leaves_an_empty_usable_arena() {
        let mut bump = Bump::new(128).unwrap();
        bump.alloc(layout(16, 8)).unwrap();
        bump.drop_buffer();
        assert_eq!(
            (bump.capacity(), bump.remaining(), bump.total_allocated()),
            (0, 0, 0)
        );
        assert_eq!(bump.alloc(layout(1, 1)), Err(Error::Exhausted));
    }

    #[test]
    fn zeroed_allocations_are_zero() {
        let mut bump = Bump::new(256).unwrap();
        let a = bump.alloc(layout(64, 8)).unwrap();
        // SAFETY: `a` is 64 bytes inside the arena.
        unsafe { a.ptr.as_ptr().write_bytes(0xFF, 64) };
        bump.reset().unwrap();
        let z = bump.alloc_zeroed(layout(64, 8)).unwrap();
        // SAFETY: `z` is 64 bytes inside the arena.
        let bytes = unsafe { core::slice::from_raw_parts(z.ptr.as_ptr(), 64) };
        assert!(bytes.iter().all(|&b| b == 0));
    }

    #[test]
    fn the_most_recent_block_rolls_back_and_resizes_in_place() {
        let mut bump = Bump::new(256).unwrap();
        let a = bump.alloc(layout(16, 8)).unwrap();
        let b = bump.alloc(layout(16, 8)).unwrap();
        // SAFETY: pointers of this arena, or refused.
        unsafe {
            assert_eq!(bump.resize(b.ptr, layout(16, 8), 100), Ok(100));
            assert_eq!(bump.remaining(), 256 - 16 - 100);
            assert_eq!(bump.total_allocated(), 116);
            assert_eq!(
                bump.resize(b.ptr, layout(100, 8), 300),
                Err(Error::Exhausted)
            );
            // An older block shrinks, never grows.
            assert_eq!(bump.resize(a.ptr, layout(16, 8), 8), Ok(8));
            assert_eq!(bump.resize(a.ptr, layout(16, 8), 17), Err(Error::Exhausted));
            // Freeing an older block changes nothing; the newest rolls back.
            bump.free(a.ptr, layout(16, 8)).unwrap();
            assert_eq!(bump.remaining(), 256 - 116);
            bump.free(b.ptr, layout(100, 8)).unwrap();
            assert_eq!((bump.remaining(), bump.total_allocated()), (240, 16));
            // It is gone: outside the used part now.
            assert_eq!(bump.free(b.ptr, layout(100, 8)), Err(Error::ForeignPointer));
            assert_eq!(bump.free(ptr(1), layout(1, 1)), Err(Error::ForeignPointer));
            assert_eq!(bump.alloc(layout(8, 8)).unwrap().ptr, b.ptr);
        }
    }
}
