//! The LIFO stack: allocations are popped in reverse order, each pop
//! restoring exactly the state before its allocation.
//!
//! Every allocation is preceded by an 8-byte header at the first 8-aligned
//! offset at or after the previous top; the payload follows at the first
//! address aligned as requested:
//!
//! ```text
//!  prev top  header (8-aligned)   padding   payload           new top
//!     |  pad  | prev_header+8 | top%8 |  ...  | layout.size bytes |
//! ```
//!
//! The header word holds `previous header offset + 8` (0 when this is the
//! bottom allocation): a multiple of 8, so its low 3 bits are free and hold
//! `previous top % 8`. Since the header sits at `align_up(previous top, 8)`,
//! those 3 bits recover the previous top exactly, for any capacity. The
//! allocator itself keeps only the top and, in the same encoding, the newest
//! header's offset + 8, so a pop is one load, a mask and a store on the
//! chain from one pop to the next.
//!
//! Headers lie below their payloads, where a caller's underflow could
//! overwrite one: a pop believes a header only as far as it stays in the
//! buffer and below itself (every genuine header is), so a corrupted one
//! ends the chain early instead of leading outside the buffer.
//!
//! A zero-size request takes one byte, so its pointer lies inside the
//! buffer and a stack with only a header's room left refuses it.

use crate::buffer::Buffer;
use crate::error::Error;
use crate::layout::{Allocation, Layout};

const HEADER_SIZE: usize = 8;

/// A LIFO allocator over an owned buffer.
#[derive(Debug)]
pub struct Stack {
    buffer: Buffer,
    /// First free offset.
    top: usize,
    /// Offset of the newest live allocation's header + 8, or 0 when there
    /// is none (what the next header will hold, less the top's low bits).
    link: usize,
    /// Number of live allocations.
    depth: usize,
}

impl Stack {
    /// A stack owning a fresh buffer of `capacity` bytes (16-byte aligned).
    pub fn new(capacity: i64) -> Result<Stack, Error> {
        let capacity = usize::try_from(capacity).map_err(|_| Error::InvalidArgument)?;
        Ok(Stack {
            buffer: Buffer::allocate(capacity, false)?,
            top: 0,
            link: 0,
            depth: 0,
        })
    }

    /// Pushes an allocation for `layout`; `Exhausted` (state unchanged)
    /// when it does not fit.
    #[inline]
    pub fn alloc(&mut self, layout: Layout) -> Result<Allocation, Error> {
        let layout = layout.check()?;
        let start = self.buffer.start();
        // The payload is the first address aligned to `align` (at least 8)
        // with 8 bytes below it above the top: `align_up(top + 8, align)`
        // is at least `align_up(top, 8) + 8`, the header's end, because
        // rounding `top + 8` up to a multiple of 8 first changes nothing.
        // (Computed straight from the top, so one push waits on the last
        // one's top for three additions and a mask.) `start + top` is an
        // address in the buffer and `align <= 2^62`: no overflow.
        let align = layout.align.max(HEADER_SIZE);
        let payload = (start + self.top + HEADER_SIZE + (align - 1)) & !(align - 1);
        // A zero-size request takes one byte, as in the bump arena: its
        // pointer then lies inside the buffer and is distinct.
        let new_top = (payload - start)
            .checked_add(layout.size.max(1))
            .ok_or(Error::Exhausted)?;
        // `top <= capacity <= i64::MAX`: no overflow.
        let header = (self.top + 7) & !7;
        if new_top > self.buffer.capacity() {
            return Err(Error::Exhausted);
        }
        // SAFETY: `header + 8 <= payload - start <= new_top <= capacity`.
        unsafe {
            self.buffer
                .write_word_unchecked(header, (self.link | (self.top & 7)) as u64)
        };
        self.link = header + HEADER_SIZE;
        self.top = new_top;
        self.depth += 1;
        Ok(Allocation::new(payload, layout.size))
    }

    /// Pops the newest live allocation; `Empty` when there is none.
    #[inline]
    pub fn pop(&mut self) -> Result<(), Error> {
        if self.link == 0 {
            return Err(Error::Empty);
        }
        let header = self.link - HEADER_SIZE;
        // SAFETY: `link` is only ever 0 or set by `alloc` to a header's
        // offset + 8 that was at most the capacity (or taken from a header
        // below it, checked below); the buffer never shrinks under a live
        // header (`drop_buffer` resets the stack).
        let word = unsafe { self.buffer.read_word_unchecked(header) } as usize;
        let low = word & 7;
        let previous = word & !7;
        // A genuine previous link lies below this header; anything else was
        // written over, and ends the chain here.
        let previous = if previous <= header { previous } else { 0 };
        self.link = previous;
        self.top = if low == 0 {
            header
        } else {
            header.saturating_sub(8) + low
        };
        self.depth = if previous == 0 {
            0
        } else {
            self.depth.saturating_sub(1)
        };
        Ok(())
    }

    /// Pops everything.
    pub fn reset(&mut self) {
        self.top = 0;
        self.link = 0;
        self.depth = 0;
    }

    /// Bytes above the top (`capacity - top`).
    pub fn remaining(&self) -> usize {
        self.buffer.capacity() - self.top
    }

    /// Number of live allocations.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Releases the buffer; the stack stays valid, empty, capacity 0.
    pub fn drop_buffer(&mut self) {
        self.buffer.release();
        self.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_unwind_every_level() {
        let mut stack = Stack::new(2048).unwrap();
        let mut seen = vec![stack.remaining()];
        for layout in [Layout::new(8, 8), Layout::new(4, 4), Layout::new(8, 8)] {
            stack.alloc(layout).unwrap();
            seen.push(stack.remaining());
        }
        assert_eq!(seen, vec![2048, 2032, 2020, 2000]);
        seen.pop();
        while let Some(expected) = seen.pop() {
            stack.pop().unwrap();
            assert_eq!(stack.remaining(), expected);
        }
        assert_eq!(stack.pop(), Err(Error::Empty));
        assert_eq!(stack.remaining(), 2048);
    }

    #[test]
    fn odd_tops_and_big_alignments_unwind_exactly() {
        let mut stack = Stack::new(1 << 16).unwrap();
        let layouts = [(3, 1), (5, 2), (1, 256), (7, 1), (0, 4096), (9, 16), (1, 1)];
        let mut remaining = vec![];
        for (size, align) in layouts {
            remaining.push(stack.remaining());
            let a = stack.alloc(Layout::new(size, align)).unwrap();
            assert_eq!(a.ptr % align, 0);
        }
        while let Some(expected) = remaining.pop() {
            stack.pop().unwrap();
            assert_eq!(stack.remaining(), expected);
        }
        assert_eq!(stack.depth(), 0);
    }

    #[test]
    fn an_overwritten_header_ends_the_chain_inside_the_buffer() {
        for garbage in [u64::MAX, 1 << 40, 0x1000 | 7, 8, 0] {
            let mut stack = Stack::new(4096).unwrap();
            let mut ptrs = vec![];
            for _ in 0..4 {
                ptrs.push(stack.alloc(Layout::new(24, 8)).unwrap().ptr);
            }
            // A caller's underflow writes over the newest header (the 8
            // bytes below its payload, here directly below).
            // SAFETY: the header lies inside the stack's buffer.
            unsafe { ((ptrs[3] - 8) as usize as *mut u64).write(garbage) };
            let mut pops = 0;
            while stack.pop().is_ok() {
                pops += 1;
                assert!(stack.remaining() <= 4096, "garbage {garbage:#x}");
                assert!(pops <= 4, "garbage {garbage:#x}");
            }
            assert_eq!(stack.depth(), 0);
            // The stack still works and its space is usable again.
            let a = stack.alloc(Layout::new(64, 16)).unwrap();
            assert_eq!(a.ptr % 16, 0);
            stack.reset();
            assert_eq!(stack.remaining(), 4096);
        }
    }

    #[test]
    fn exhaustion_and_bad_layouts_change_nothing() {
        let mut stack = Stack::new(32).unwrap();
        stack.alloc(Layout::new(8, 8)).unwrap();
        let before = stack.remaining();
        for (layout, err) in [
            (Layout::new(16, 8), Error::Exhausted),
            (Layout::new(i64::MAX, 1), Error::Exhausted),
            (Layout::new(1, 1 << 62), Error::Exhausted),
            (Layout::new(-1, 8), Error::InvalidLayout),
        ] {
            assert_eq!(stack.alloc(layout), Err(err));
        }
        assert_eq!((stack.remaining(), stack.depth()), (before, 1));
        let mut empty = Stack::new(0).unwrap();
        assert_eq!(empty.alloc(Layout::new(0, 1)), Err(Error::Exhausted));
    }
}
