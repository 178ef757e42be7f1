//! The memory an allocator hands out from: a buffer it owns (16-byte
//! aligned, obtained from the system) or one the caller lends it.

use crate::error::Error;
use core::ptr::NonNull;

/// Alignment of every buffer the library allocates for itself.
pub const BUFFER_ALIGN: usize = 16;

/// A contiguous range of memory `[start, start + capacity)`.
///
/// When `owned`, the buffer came from [`Buffer::allocate`] and is released
/// by [`Buffer::release`] (or on drop); a borrowed buffer is never freed.
#[derive(Debug)]
pub struct Buffer {
    start: NonNull<u8>,
    capacity: usize,
    owned: bool,
}

impl Buffer {
    /// An empty buffer (capacity 0) that owns nothing.
    pub const fn empty() -> Buffer {
        Buffer {
            start: NonNull::dangling(),
            capacity: 0,
            owned: false,
        }
    }

    /// Allocates `capacity` bytes aligned to [`BUFFER_ALIGN`]; when `zeroed`,
    /// the memory reads as zero (the system provides that lazily for large
    /// buffers, so the cost does not grow with the size).
    pub fn allocate(capacity: usize, zeroed: bool) -> Result<Buffer, Error> {
        if capacity == 0 {
            return Ok(Buffer::empty());
        }
        let layout = std::alloc::Layout::from_size_align(capacity, BUFFER_ALIGN)
            .map_err(|_| Error::OutOfMemory)?;
        // SAFETY: `layout` has a non-zero size.
        let raw = unsafe {
            if zeroed {
                std::alloc::alloc_zeroed(layout)
            } else {
                std::alloc::alloc(layout)
            }
        };
        let start = NonNull::new(raw).ok_or(Error::OutOfMemory)?;
        Ok(Buffer {
            start,
            capacity,
            owned: true,
        })
    }

    /// Borrows caller memory `[address, address + capacity)`.
    ///
    /// # Safety
    /// The range must be valid for reads and writes, and stay so (and not be
    /// used otherwise) for as long as this buffer is in use.
    pub unsafe fn borrow(address: usize, capacity: usize) -> Result<Buffer, Error> {
        if capacity == 0 {
            return Ok(Buffer::empty());
        }
        address
            .checked_add(capacity)
            .ok_or(Error::InvalidArgument)?;
        let start = NonNull::new(address as *mut u8).ok_or(Error::InvalidArgument)?;
        Ok(Buffer {
            start,
            capacity,
            owned: false,
        })
    }

    /// First address of the buffer.
    #[inline]
    pub fn start(&self) -> usize {
        self.start.as_ptr() as usize
    }

    /// One past the last address of the buffer.
    #[inline]
    pub fn end(&self) -> usize {
        self.start() + self.capacity
    }

    /// Size in bytes.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether the buffer is freed by [`Buffer::release`].
    pub fn is_owned(&self) -> bool {
        self.owned
    }

    /// Releases an owned buffer (a borrowed one is forgotten); leaves an
    /// empty buffer behind.
    pub fn release(&mut self) {
        let old = core::mem::replace(self, Buffer::empty());
        drop(old);
    }

    /// Writes `len` zero bytes at `address`, which must lie in the buffer.
    #[inline]
    pub fn zero(&mut self, address: usize, len: usize) {
        let offset = address.wrapping_sub(self.start());
        if offset <= self.capacity && len <= self.capacity - offset {
            // SAFETY: the range lies inside the buffer, which is valid for
            // writes (owned, or the caller's promise in `borrow`).
            unsafe { core::ptr::write_bytes(address as *mut u8, 0, len) };
        }
    }

    /// Reads the word at byte `offset` (8-aligned, inside the buffer).
    /// Out-of-range offsets read as 0 instead of touching foreign memory.
    #[inline]
    pub fn read_word(&self, offset: usize) -> u64 {
        if offset % 8 == 0 && offset < self.capacity && self.capacity - offset >= 8 {
            // SAFETY: checked just above: the aligned word lies inside the
            // buffer, which starts 8-aligned for every caller of this method.
            unsafe { self.start.as_ptr().add(offset).cast::<u64>().read() }
        } else {
            0
        }
    }

    /// Writes the word at byte `offset` (8-aligned, inside the buffer);
    /// out-of-range writes are dropped instead of corrupting memory.
    #[inline]
    pub fn write_word(&mut self, offset: usize, value: u64) {
        if offset % 8 == 0 && offset < self.capacity && self.capacity - offset >= 8 {
            // SAFETY: as in `read_word`; the buffer is valid for writes.
            unsafe { self.start.as_ptr().add(offset).cast::<u64>().write(value) };
        }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: an owned buffer came from `allocate` with exactly this
            // size and alignment, and is freed only here.
            unsafe {
                std::alloc::dealloc(
                    self.start.as_ptr(),
                    std::alloc::Layout::from_size_align_unchecked(self.capacity, BUFFER_ALIGN),
                )
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_buffers_are_aligned_and_words_round_trip() {
        let mut b = Buffer::allocate(64, true).unwrap();
        assert_eq!(b.start() % BUFFER_ALIGN, 0);
        assert!(b.is_owned());
        assert_eq!(b.read_word(8), 0);
        b.write_word(8, 42);
        assert_eq!(b.read_word(8), 42);
        b.write_word(64, 1); // out of range: ignored
        b.write_word(60, 1); // straddles the end: ignored
        assert_eq!(b.read_word(64), 0);
        b.release();
        assert_eq!(b.capacity(), 0);
        assert!(!b.is_owned());
    }

    #[test]
    fn borrow_refuses_null_and_wrapping_ranges() {
        // SAFETY: the calls fail before any memory is used.
        unsafe {
            assert_eq!(Buffer::borrow(0, 16).unwrap_err(), Error::InvalidArgument);
            assert_eq!(
                Buffer::borrow(usize::MAX - 4, 16).unwrap_err(),
                Error::InvalidArgument
            );
        }
        assert_eq!(
            Buffer::allocate(usize::MAX - 4, false).unwrap_err(),
            Error::OutOfMemory
        );
    }
}
