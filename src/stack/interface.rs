//! The stack through the [`Allocator`] interface: out-of-order frees
//! (dead allocations), in-place resizing of the newest allocation, and
//! how a pointer is found among the allocations.

use super::{Header, Stack, GAP_MASK, HEADER_SIZE};
use crate::allocator::{footprint, Allocator, Block, Caps};
use crate::error::Error;
use core::alloc::Layout;
use core::ptr::NonNull;

/// Where a pointer given to the interface lies among the allocations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Located {
    /// The payload of the newest allocation.
    Newest,
    /// The payload of an older live allocation, whose header is at this
    /// offset with this link and gap.
    Older { header: usize, rest: u64 },
}

impl Stack {
    /// Where `ptr` lies: the
    /// newest allocation, an older live one, or neither (`DoubleFree` for
    /// a dead allocation or an address above the top, `ForeignPointer`
    /// for anything else). O(depth) for anything but the newest.
    pub(super) fn locate(&self, ptr: NonNull<u8>) -> Result<Located, Error> {
        let address = ptr.as_ptr() as usize;
        // Every payload starts right after its header (see `push`), at the
        // buffer's start + the link.
        let mut walk = self.walk();
        while let Some((link, rest, dead)) = walk.step(self) {
            if self.buffer.start() + link == address {
                return match (dead, link == self.link) {
                    (true, _) => Err(Error::DoubleFree),
                    (false, true) => Ok(Located::Newest),
                    (false, false) => Ok(Located::Older {
                        header: link - HEADER_SIZE,
                        rest,
                    }),
                };
            }
        }
        if address >= self.top && address < self.end {
            Err(Error::DoubleFree)
        } else {
            Err(Error::ForeignPointer)
        }
    }
}

/// A walk down the header chain (see [`Stack::walk`]).
pub(super) struct Walk {
    /// The link of the allocation to visit next (0: done).
    pub(super) next: usize,
    /// The newest allocation's link and gap (from the stack's copy).
    pub(super) newest_rest: u64,
    pub(super) first: bool,
}

impl Walk {
    /// The next allocation down: its link, its link and gap, and whether
    /// it is dead; `None` at the bottom. Each step leads strictly down (a
    /// link is at most its header's offset, 8 below the link that led
    /// there), so a walk ends.
    pub(super) fn step(&mut self, stack: &Stack) -> Option<(usize, u64, bool)> {
        if self.next == 0 {
            return None;
        }
        let link = self.next;
        let (rest, dead) = if core::mem::take(&mut self.first) {
            (self.newest_rest, false)
        } else {
            match stack.classify(link) {
                Header::Live(rest) => (rest, false),
                Header::Dead(rest) => (rest, true),
                // Written over: its own allocation is still popped (and
                // counted), nothing below it is.
                Header::Bad => (0, false),
            }
        };
        self.next = rest as usize & !GAP_MASK;
        Some((link, rest, dead))
    }
}

impl Allocator for Stack {
    const CAPS: Caps = Caps::FREE_LAST
        .with(Caps::RESIZE)
        .with(Caps::RESET)
        .with(Caps::ANY_SIZE)
        .with(Caps::ANY_ALIGN);

    #[inline]
    fn alloc(&mut self, layout: Layout) -> Result<Block, Error> {
        self.push(layout)
    }

    /// The newest allocation grows or shrinks (the top moves); an older one
    /// only shrinks (nothing moves).
    unsafe fn resize(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new_size: usize,
    ) -> Result<usize, Error> {
        let address = ptr.as_ptr() as usize;
        match self.locate(ptr)? {
            // Not under a mark: releasing to it would cut the block short.
            Located::Newest
                if address >= self.mark_floor && footprint(new_size) <= self.end - address =>
            {
                self.top = address + footprint(new_size);
                Ok(new_size)
            }
            _ if new_size <= old.size() => Ok(new_size),
            _ => Err(Error::Exhausted),
        }
    }

    unsafe fn readable(&self, ptr: NonNull<u8>, old: Layout) -> Result<usize, Error> {
        self.locate(ptr)?;
        Ok(old.size().min(self.top - ptr.as_ptr() as usize))
    }

    /// The newest allocation is popped; an older live one becomes dead and
    /// is reclaimed when everything above it is gone.
    unsafe fn free(&mut self, ptr: NonNull<u8>, _: Layout) -> Result<(), Error> {
        match self.locate(ptr)? {
            Located::Newest => self.pop(),
            Located::Older { header, rest } => {
                let word = self.dead_check_bits(header, rest) | rest;
                // SAFETY: `classify` read this header word, so it lies in
                // the buffer.
                unsafe { self.buffer.write_word_unchecked(header, word) };
                Ok(())
            }
        }
    }

    fn reset(&mut self) -> Result<(), Error> {
        self.clear();
        Ok(())
    }
}
