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
//! allocator itself keeps only the top and the offset of the newest header.
//!
//! A zero-size request takes one byte, so its pointer lies inside the
//! buffer and a stack with only a header's room left refuses it.

use crate::buffer::Buffer;
use crate::error::Error;
use crate::layout::{align_up, Allocation, Layout};

const HEADER_SIZE: usize = 8;
const NO_HEADER: usize = usize::MAX;

/// A LIFO allocator over an owned buffer.
#[derive(Debug)]
pub struct Stack {
    buffer: Buffer,
    /// First free offset.
    top: usize,
    /// Offset of the newest live allocation's header, or `NO_HEADER`.
    newest: usize,
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
            newest: NO_HEADER,
            depth: 0,
        })
    }

    /// Pushes an allocation for `layout`; `Exhausted` (state unchanged)
    /// when it does not fit.
    #[inline]
    pub fn alloc(&mut self, layout: Layout) -> Result<Allocation, Error> {
        let layout = layout.check()?;
        let start = self.buffer.start();
        // `top <= capacity <= i64::MAX`, so these two cannot overflow.
        let header = (self.top + 7) & !7;
        let payload_min = start + header + HEADER_SIZE;
        let payload = align_up(payload_min, layout.align).ok_or(Error::Exhausted)?;
        // A zero-size request takes one byte, as in the bump arena: its
        // pointer then lies inside the buffer and is distinct.
        let new_top = (payload - start)
            .checked_add(layout.size.max(1))
            .ok_or(Error::Exhausted)?;
        if new_top > self.buffer.capacity() {
            return Err(Error::Exhausted);
        }
        let previous = if self.newest == NO_HEADER {
            0
        } else {
            self.newest + HEADER_SIZE
        };
        self.buffer
            .write_word(header, (previous | (self.top & 7)) as u64);
        self.newest = header;
        self.top = new_top;
        self.depth += 1;
        Ok(Allocation::new(payload, layout.size))
    }

    /// Pops the newest live allocation; `Empty` when there is none.
    #[inline]
    pub fn pop(&mut self) -> Result<(), Error> {
        if self.newest == NO_HEADER {
            return Err(Error::Empty);
        }
        let word = self.buffer.read_word(self.newest) as usize;
        let low = word & 7;
        self.top = if low == 0 {
            self.newest
        } else {
            self.newest - 8 + low
        };
        self.newest = match word & !7 {
            0 => NO_HEADER,
            previous => previous - HEADER_SIZE,
        };
        self.depth -= 1;
        Ok(())
    }

    /// Pops everything.
    pub fn reset(&mut self) {
        self.top = 0;
        self.newest = NO_HEADER;
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
