//! The memory an allocator hands out from: a buffer it owns (16-byte
//! aligned, obtained from the system) or one the caller lends it.

use crate::error::Error;
use core::ptr::NonNull;

/// Alignment of every buffer the library allocates for itself.
pub const BUFFER_ALIGN: usize = 16;

/// Owned buffers of at least this size ask the kernel for transparent huge
/// pages: an arena that large is touched all over, and 2 MiB pages spare
/// it most TLB misses and page faults (measured: see BENCHMARKS.md).
pub const HUGE_PAGE_THRESHOLD: usize = 4 << 20;
const HUGE_PAGE: usize = 2 << 20;

/// `madvise(MADV_HUGEPAGE)` over the whole 2 MiB pages inside the range; a
/// hint only, so its result is ignored (kernels without THP refuse it).
fn advise_huge_pages(start: usize, len: usize) {
    let first = (start + HUGE_PAGE - 1) & !(HUGE_PAGE - 1);
    let end = (start + len) & !(HUGE_PAGE - 1);
    if end > first {
        // SAFETY: the range lies inside a mapping this process owns (the
        // buffer just allocated); MADV_HUGEPAGE changes no contents.
        unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE) };
    }
}

/// A contiguous range of memory `[start, start + capacity)`.
///
/// When `owned`, the buffer came from [`Buffer::allocate`] and is released
/// by [`Buffer::release`] (or on drop); a borrowed buffer is never freed.
#[derive(Debug)]
pub struct Buffer {
    start: NonNull<u8>,
    capacity: usize,
    /// Word offsets below this hold a whole word: `capacity - 7`, or 0.
    word_limit: usize,
    owned: bool,
}

impl Buffer {
    /// An empty buffer (capacity 0) that owns nothing.
    pub const fn empty() -> Buffer {
        Buffer {
            start: NonNull::dangling(),
            capacity: 0,
            word_limit: 0,
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
        if capacity >= HUGE_PAGE_THRESHOLD {
            advise_huge_pages(start.as_ptr() as usize, capacity);
        }
        Ok(Buffer {
            start,
            capacity,
            word_limit: capacity.saturating_sub(7),
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
        // Addresses cross the C ABI as int64_t: the whole range must too.
        let end = address
            .checked_add(capacity)
            .ok_or(Error::InvalidArgument)?;
        if end > i64::MAX as usize {
            return Err(Error::InvalidArgument);
        }
        let start = NonNull::new(address as *mut u8).ok_or_else(|| {
            crate::misuse::note(
                Error::InvalidArgument,
                format_args!("the buffer address is NULL"),
            )
        })?;
        Ok(Buffer {
            start,
            capacity,
            word_limit: capacity.saturating_sub(7),
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

    /// From now on the buffer is not freed: under Valgrind, memory that
    /// still holds blocks reported as live when their allocator goes is
    /// kept, so that Memcheck reports those blocks as leaks and no later
    /// block lands on their records.
    pub fn forget(&mut self) {
        self.owned = false;
    }

    /// Releases an owned buffer (a borrowed one is forgotten); leaves an
    /// empty buffer behind.
    pub fn release(&mut self) {
        let old = core::mem::replace(self, Buffer::empty());
        drop(old);
    }

    /// Copies `len` bytes from address `from` to address `to` (ranges may
    /// overlap). `Corrupted`, with nothing copied, unless both ranges lie
    /// in the buffer: a caller that computed them from its own validated
    /// state never gets it.
    pub fn copy(&mut self, from: usize, to: usize, len: usize) -> Result<(), Error> {
        let inside = |address: usize| {
            let offset = address.wrapping_sub(self.start());
            offset <= self.capacity && len <= self.capacity - offset
        };
        if !(inside(from) && inside(to)) {
            return Err(Error::Corrupted);
        }
        // SAFETY: both ranges lie inside the buffer, which is valid for
        // reads and writes; `copy` allows overlap.
        unsafe { core::ptr::copy(from as *const u8, to as *mut u8, len) };
        Ok(())
    }

    /// Reads the 8 bytes at byte `offset` (any alignment). Offsets whose
    /// word does not lie wholly inside the buffer read as 0 instead of
    /// touching foreign memory: one comparison, so a corrupted link can
    /// never lead outside the buffer.
    #[inline(always)]
    pub fn read_word(&self, offset: usize) -> u64 {
        if self.holds_word(offset) {
            // SAFETY: `holds_word` proves `offset + 8 <= capacity`.
            unsafe { self.read_word_unchecked(offset) }
        } else {
            0
        }
    }

    /// Writes the 8 bytes at byte `offset` (any alignment); words that do
    /// not lie wholly inside the buffer are dropped instead of corrupting
    /// memory.
    #[inline(always)]
    pub fn write_word(&mut self, offset: usize, value: u64) {
        if self.holds_word(offset) {
            // SAFETY: `holds_word` proves `offset + 8 <= capacity`.
            unsafe { self.write_word_unchecked(offset, value) }
        }
    }

    /// Reads the 8 bytes at byte `offset` (any alignment) without a bounds
    /// check, for callers that have proven the range already.
    ///
    /// # Safety
    /// `offset + 8 <= self.capacity()`.
    #[inline(always)]
    pub unsafe fn read_word_unchecked(&self, offset: usize) -> u64 {
        debug_assert!(offset < self.word_limit);
        // SAFETY: the caller keeps the word inside the buffer, which is
        // valid for reads; the read tolerates any alignment.
        unsafe { self.word_at(offset).read_unaligned() }
    }

    /// Writes the 8 bytes at byte `offset` (any alignment) without a bounds
    /// check.
    ///
    /// # Safety
    /// `offset + 8 <= self.capacity()`.
    #[inline(always)]
    pub unsafe fn write_word_unchecked(&mut self, offset: usize, value: u64) {
        debug_assert!(offset < self.word_limit);
        // SAFETY: as in `read_word_unchecked`; the buffer is valid for
        // writes.
        unsafe { self.word_at(offset).write_unaligned(value) }
    }

    /// The address of the word at byte `offset`.
    ///
    /// # Safety
    /// `offset <= self.capacity()` (so the pointer stays in the buffer or
    /// one past it).
    #[inline(always)]
    unsafe fn word_at(&self, offset: usize) -> *mut u64 {
        // SAFETY: the caller's promise keeps the result inside the buffer's
        // allocation or one past its end.
        unsafe { self.start.as_ptr().add(offset).cast::<u64>() }
    }

    /// Whether `[offset, offset + 8)` lies inside the buffer.
    #[inline(always)]
    fn holds_word(&self, offset: usize) -> bool {
        offset < self.word_limit
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
        b.write_word(57, 1); // straddles the end: ignored
        assert_eq!(b.read_word(64), 0);
        assert_eq!(b.read_word(57), 0);
        b.write_word(56, 7); // the last word
        assert_eq!(b.read_word(56), 7);
        b.write_word(3, 0x0102); // unaligned words are fine
        assert_eq!(b.read_word(3), 0x0102);
        b.write_word(0, 0x1122);
        let at = b.start();
        assert_eq!(b.copy(at, at + 16, 8), Ok(()));
        assert_eq!(b.read_word(16), 0x1122);
        assert_eq!(b.copy(at, at + 60, 8), Err(Error::Corrupted));
        assert_eq!(b.copy(at + 1, 0, 8), Err(Error::Corrupted));
        assert_eq!(b.read_word(56), 7);
        let tiny = Buffer::allocate(4, false).unwrap();
        assert_eq!(tiny.read_word(0), 0);
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
            assert_eq!(
                Buffer::borrow(i64::MAX as usize, i64::MAX as usize).unwrap_err(),
                Error::InvalidArgument
            );
        }
        assert_eq!(
            Buffer::allocate(usize::MAX - 4, false).unwrap_err(),
            Error::OutOfMemory
        );
    }
}
