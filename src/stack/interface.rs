//! The stack through the [`Allocator`] interface: out-of-order frees
//! (dead allocations), in-place resizing of the newest allocation, and
//! how a pointer is found among the allocations.

use super::{Header, Stack, GAP_MASK, HEADER_SIZE};
use crate::allocator::{footprint, Allocator, Block, Caps};
use crate::buffer::Buffer;
use crate::error::Error;
use core::alloc::Layout;
use core::ptr::NonNull;

/// Where a pointer given to the interface lies among the allocations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Located {
    /// The payload of the newest allocation.
    Newest,
    /// The payload of an older live allocation, whose header is at this
    /// offset with this link and gap, in this region (`None`: the current
    /// one, else the index of a parked region), whose top is `top`.
    Older {
        region: Option<usize>,
        header: usize,
        rest: u64,
        top: usize,
    },
}

impl Stack {
    /// Where `ptr` lies: the
    /// newest allocation, an older live one, or neither (`DoubleFree` for
    /// a dead allocation or an address above the top, `ForeignPointer`
    /// for anything else). O(depth) for anything but the newest.
    pub(super) fn locate(&self, ptr: NonNull<u8>) -> Result<Located, Error> {
        let address = ptr.as_ptr() as usize;
        let regions = self.parked.len();
        let tops = core::iter::once(self.top).chain(self.parked.iter().rev().map(|r| r.top));
        for (i, (mut walk, top)) in self.walks().zip(tops).enumerate() {
            let region = i.checked_sub(1).map(|above| regions - 1 - above);
            // Every payload starts right after its header (see `push`), at
            // its buffer's start + the link.
            while let Some((link, rest, dead)) = walk.step(self) {
                if walk.buffer.start() + link != address {
                    continue;
                }
                return match (dead, region.is_none() && link == self.link) {
                    (true, _) => Err(Error::DoubleFree),
                    (false, true) => Ok(Located::Newest),
                    (false, false) => Ok(Located::Older {
                        region,
                        header: link - HEADER_SIZE,
                        rest,
                        top,
                    }),
                };
            }
            if address >= top && address < walk.buffer.end() {
                return Err(Error::DoubleFree);
            }
        }
        // A chunk held above the current region was popped off entirely.
        let held = self.chunks.held();
        let above = &held[self.parked.len().min(held.len())..];
        if above
            .iter()
            .any(|chunk| address >= chunk.start && address < chunk.end())
        {
            return Err(Error::DoubleFree);
        }
        Err(Error::ForeignPointer)
    }
}

/// A walk down the header chain of one region (see [`Stack::walks`]).
pub(super) struct Walk<'a> {
    /// The region's buffer.
    pub(super) buffer: &'a Buffer,
    /// The link of the allocation to visit next (0: done).
    pub(super) next: usize,
    /// The newest allocation's link and gap (from the stack's copy).
    pub(super) newest_rest: u64,
    /// The next step is the first, whose link and gap come from
    /// `newest_rest` (the current region's newest allocation is always
    /// live; a parked region's newest is read from memory, since an
    /// out-of-order free may have made it dead).
    pub(super) first: bool,
}

impl Walk<'_> {
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
            match stack.classify_in(self.buffer, link) {
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
        let top = match self.locate(ptr)? {
            Located::Newest => self.top,
            Located::Older { top, .. } => top,
        };
        Ok(old.size().min(top - ptr.as_ptr() as usize))
    }

    /// The newest allocation is popped; an older live one becomes dead and
    /// is reclaimed when everything above it is gone.
    unsafe fn free(&mut self, ptr: NonNull<u8>, _: Layout) -> Result<(), Error> {
        match self.locate(ptr)? {
            Located::Newest => self.pop(),
            Located::Older {
                region,
                header,
                rest,
                ..
            } => {
                let word = self.dead_check_bits(header, rest) | rest;
                let buffer = match region {
                    None => &mut self.buffer,
                    Some(region) => &mut self.parked[region].buffer,
                };
                // SAFETY: `classify_in` read this header word in this
                // buffer, so it lies in it.
                unsafe { buffer.write_word_unchecked(header, word) };
                self.counts.frees += 1;
                Ok(())
            }
        }
    }

    fn reset(&mut self) -> Result<(), Error> {
        self.clear();
        Ok(())
    }
}
