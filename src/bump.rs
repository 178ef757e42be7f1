//! The bump arena: allocation moves one pointer, `reset` frees everything.
//!
//! The arena bumps *downwards*: the next block ends where the previous one
//! began, so an allocation is one subtraction, one mask (the alignment is
//! applied to the address itself, never to an offset into the buffer) and
//! one comparison against the buffer start.
//!
//! ```text
//!  start                        top                                    end
//!    |      free (remaining)      | block 3 | pad | block 2 | block 1 |
//! ```
//!
//! A zero-size request consumes one byte, so every pointer the arena hands
//! out is distinct and a full arena refuses zero-size requests too.

use crate::buffer::Buffer;
use crate::error::Error;
use crate::layout::{Allocation, Layout};

/// A bump arena over an owned or borrowed buffer.
#[derive(Debug)]
pub struct Bump {
    buffer: Buffer,
    /// Lowest address handed out so far (`buffer.end()` when empty).
    top: usize,
    /// Sum of `layout.size` of the allocations since the last reset.
    allocated: usize,
}

impl Bump {
    /// An arena owning a fresh buffer of `capacity` bytes (16-byte aligned).
    pub fn new(capacity: i64) -> Result<Bump, Error> {
        let capacity = usize::try_from(capacity).map_err(|_| Error::InvalidArgument)?;
        Ok(Bump::over(Buffer::allocate(capacity, false)?))
    }

    /// An arena over caller memory `[address, address + capacity)`, which it
    /// never frees. Any address alignment is accepted.
    ///
    /// # Safety
    /// The range must be valid for reads and writes while the arena uses it.
    pub unsafe fn from_buffer(address: i64, capacity: i64) -> Result<Bump, Error> {
        let capacity = usize::try_from(capacity).map_err(|_| Error::InvalidArgument)?;
        let address = usize::try_from(address).map_err(|_| Error::InvalidArgument)?;
        // SAFETY: forwarded from this function's contract.
        Ok(Bump::over(unsafe { Buffer::borrow(address, capacity)? }))
    }

    fn over(buffer: Buffer) -> Bump {
        let top = buffer.end();
        Bump {
            buffer,
            top,
            allocated: 0,
        }
    }

    /// The next block for `layout`; `Exhausted` (state unchanged) when it
    /// does not fit.
    #[inline]
    pub fn alloc(&mut self, layout: Layout) -> Result<Allocation, Error> {
        let layout = layout.check()?;
        let ptr = self
            .top
            .checked_sub(layout.size.max(1))
            .map(|end| end & !(layout.align - 1))
            .filter(|&ptr| ptr >= self.buffer.start())
            .ok_or(Error::Exhausted)?;
        self.top = ptr;
        self.allocated += layout.size;
        Ok(Allocation::new(ptr, layout.size))
    }

    /// Like [`Bump::alloc`], zero-filled.
    pub fn alloc_zeroed(&mut self, layout: Layout) -> Result<Allocation, Error> {
        let allocation = self.alloc(layout)?;
        self.buffer
            .zero(allocation.ptr as usize, allocation.size as usize);
        Ok(allocation)
    }

    /// Frees every allocation at once; the buffer is kept.
    pub fn reset(&mut self) {
        self.top = self.buffer.end();
        self.allocated = 0;
    }

    /// Bytes still free (`capacity - used`, padding counts as used).
    pub fn remaining(&self) -> usize {
        self.top - self.buffer.start()
    }

    /// Sum of `layout.size` of the allocations since the last reset.
    pub fn total_allocated(&self) -> usize {
        self.allocated
    }

    /// Size of the buffer in bytes.
    pub fn capacity(&self) -> usize {
        self.buffer.capacity()
    }

    /// Whether `address` lies in memory this arena has handed out since the
    /// last reset.
    pub fn owns(&self, address: i64) -> bool {
        let address = address as usize;
        address >= self.top && address < self.buffer.end()
    }

    /// Releases an owned buffer (a borrowed one is left to its owner); the
    /// arena stays usable, empty, with capacity 0.
    pub fn drop_buffer(&mut self) {
        self.buffer.release();
        self.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_aligned_disjoint_and_counted() {
        let mut bump = Bump::new(4096).unwrap();
        let a = bump.alloc(Layout::new(8, 8)).unwrap();
        let b = bump.alloc(Layout::new(4, 4)).unwrap();
        let c = bump.alloc(Layout::new(80, 64)).unwrap();
        assert_eq!((a.ptr % 8, b.ptr % 4, c.ptr % 64), (0, 0, 0));
        assert!(b.ptr + 4 <= a.ptr && c.ptr + 80 <= b.ptr);
        assert_eq!(bump.total_allocated(), 92);
        assert!(bump.remaining() <= 4096 - 92);
        bump.reset();
        assert_eq!((bump.remaining(), bump.total_allocated()), (4096, 0));
    }

    #[test]
    fn misaligned_borrowed_buffer_still_gives_aligned_addresses() {
        let mut storage = vec![0u8; 1024 + 3];
        let start = storage.as_mut_ptr() as usize + 3;
        // SAFETY: the range lies inside `storage`, which outlives `bump`.
        let mut bump = unsafe { Bump::from_buffer(start as i64, 1024) }.unwrap();
        for align in [1, 2, 4, 8, 16, 32, 64, 128] {
            let a = bump.alloc(Layout::new(5, align)).unwrap();
            assert_eq!(a.ptr % align, 0);
            assert!(a.ptr as usize >= start && a.ptr as usize + 5 <= start + 1024);
        }
    }

    #[test]
    fn exhaustion_and_bad_layouts_leave_state_unchanged() {
        let mut bump = Bump::new(64).unwrap();
        bump.alloc(Layout::new(40, 8)).unwrap();
        let before = (bump.remaining(), bump.total_allocated());
        assert_eq!(bump.alloc(Layout::new(40, 8)), Err(Error::Exhausted));
        assert_eq!(bump.alloc(Layout::new(i64::MAX, 1)), Err(Error::Exhausted));
        assert_eq!(bump.alloc(Layout::new(-64, 8)), Err(Error::InvalidLayout));
        assert_eq!(bump.alloc(Layout::new(8, 0)), Err(Error::InvalidLayout));
        assert_eq!(bump.alloc(Layout::new(8, 1 << 62)), Err(Error::Exhausted));
        assert_eq!(before, (bump.remaining(), bump.total_allocated()));
    }

    #[test]
    fn zero_size_requests_follow_one_byte_requests() {
        let mut empty = Bump::new(0).unwrap();
        assert_eq!(empty.alloc(Layout::new(0, 1)), Err(Error::Exhausted));
        let mut bump = Bump::new(2).unwrap();
        let a = bump.alloc(Layout::new(0, 1)).unwrap();
        let b = bump.alloc(Layout::new(0, 1)).unwrap();
        assert!(a.ptr != 0 && a.ptr != b.ptr && a.size == 0);
        assert_eq!(bump.alloc(Layout::new(0, 1)), Err(Error::Exhausted));
    }

    #[test]
    fn drop_buffer_leaves_an_empty_usable_arena() {
        let mut bump = Bump::new(128).unwrap();
        bump.alloc(Layout::new(16, 8)).unwrap();
        bump.drop_buffer();
        assert_eq!(
            (bump.capacity(), bump.remaining(), bump.total_allocated()),
            (0, 0, 0)
        );
        assert_eq!(bump.alloc(Layout::new(1, 1)), Err(Error::Exhausted));
    }

    #[test]
    fn zeroed_allocations_are_zero() {
        let mut bump = Bump::new(256).unwrap();
        let a = bump.alloc(Layout::new(64, 8)).unwrap();
        // SAFETY: `a` is 64 bytes inside the arena.
        unsafe { core::ptr::write_bytes(a.ptr as usize as *mut u8, 0xFF, 64) };
        bump.reset();
        let z = bump.alloc_zeroed(Layout::new(64, 8)).unwrap();
        // SAFETY: `z` is 64 bytes inside the arena.
        let bytes = unsafe { core::slice::from_raw_parts(z.ptr as usize as *const u8, 64) };
        assert!(bytes.iter().all(|&b| b == 0));
    }
}
