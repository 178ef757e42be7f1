//! The TLSF index: a doubly linked list of free blocks per size class,
//! linked through the blocks' first two payload words, the heads of the
//! lists, and the bitmaps that find the first non-empty class at or above
//! a given one in two `trailing_zeros` (see "Size classes" in the module
//! documentation).

use super::class::{class_of, FL_SLOTS, SL_COUNT};
use super::header::{State, Successor};
use super::{FreeList, HEADER_SIZE};

/// The end of a list, in a head or a link (any link at or above
/// `link_end` reads as the end too).
pub(super) const NONE: u64 = u64::MAX;

/// One of the two list links of a free block.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Link {
    /// The next block of the list: the first payload word.
    Next,
    /// The previous block of the list: the second payload word.
    Prev,
}

impl Link {
    /// The offset of the link's word in its block: bytes 16..24 or 24..32.
    #[inline(always)]
    pub(super) const fn in_block(self) -> usize {
        match self {
            Link::Next => HEADER_SIZE,
            Link::Prev => HEADER_SIZE + 8,
        }
    }
}

impl FreeList {
    /// A list link of the free block at `offset`. Links live in freed
    /// memory, which a buggy caller may have written to: one that is not
    /// below `link_end` reads as the end of the list (`NONE` is not), so
    /// every link this returns can be followed without leaving the heap.
    /// (Checking the linked block's header too would turn the list updates'
    /// blind stores into dependent cache misses; instead every block is
    /// checked where it matters, by `free_block_size`, before it is handed
    /// out or merged.)
    ///
    /// # Safety
    /// `offset + MIN_BLOCK <= heap_len`.
    #[inline(always)]
    unsafe fn trusted_link(&self, offset: usize, which: Link) -> u64 {
        // SAFETY: the link words are the block's bytes 16..32.
        let link = unsafe { self.word(offset + which.in_block()) };
        if link < self.link_end {
            link
        } else {
            NONE
        }
    }

    /// Writes a list link of the free block at `offset`.
    ///
    /// # Safety
    /// `offset + MIN_BLOCK <= heap_len` (for instance `offset < link_end`).
    #[inline(always)]
    unsafe fn set_link(&mut self, offset: usize, which: Link, value: u64) {
        // SAFETY: the link words are the block's bytes 16..32.
        unsafe { self.set_word(offset + which.in_block(), value) }
    }

    #[inline(always)]
    pub(super) fn head(&self, (first, second): (usize, usize)) -> u64 {
        self.heads[first & (FL_SLOTS - 1)][second & (SL_COUNT - 1)]
    }

    #[inline(always)]
    fn set_head(&mut self, (first, second): (usize, usize), offset: u64) {
        self.heads[first & (FL_SLOTS - 1)][second & (SL_COUNT - 1)] = offset;
    }

    /// Clears the bits of an emptied class.
    #[inline(always)]
    fn mark_empty(&mut self, (first, second): (usize, usize)) {
        let seconds = &mut self.second_maps[first & (FL_SLOTS - 1)];
        *seconds &= !(1 << (second & (SL_COUNT - 1)));
        if *seconds == 0 {
            self.first_map &= !(1 << (first & (FL_SLOTS - 1)));
        }
    }

    /// Puts the free block at `offset` at the head of its class's list.
    ///
    /// # Safety
    /// `offset + size <= heap_len` and `size >= MIN_BLOCK`.
    #[inline(always)]
    unsafe fn insert(&mut self, offset: usize, size: usize) {
        let class = class_of(size);
        let head = self.head(class);
        // SAFETY: the block's link words lie inside it (size >= MIN_BLOCK);
        // `head`, when below `link_end`, is a block offset at least
        // MIN_BLOCK below the end of the heap.
        unsafe {
            self.set_link(offset, Link::Next, head);
            self.set_link(offset, Link::Prev, NONE);
            if head < self.link_end {
                self.set_link(head as usize, Link::Prev, offset as u64);
            }
        }
        self.set_head(class, offset as u64);
        self.first_map |= 1 << (class.0 & (FL_SLOTS - 1));
        self.second_maps[class.0 & (FL_SLOTS - 1)] |= 1 << (class.1 & (SL_COUNT - 1));
    }

    /// Takes the free block at `offset` out of the list of `class`.
    ///
    /// # Safety
    /// `offset + MIN_BLOCK <= heap_len`.
    #[inline(always)]
    pub(super) unsafe fn remove(&mut self, offset: usize, class: (usize, usize)) {
        // SAFETY: the caller's promise, and links checked by
        // `trusted_link` (below `link_end`).
        unsafe {
            let next = self.trusted_link(offset, Link::Next);
            let prev = self.trusted_link(offset, Link::Prev);
            if next < self.link_end {
                self.set_link(next as usize, Link::Prev, prev);
            }
            if prev < self.link_end {
                self.set_link(prev as usize, Link::Next, next);
                return;
            }
            self.set_head(class, next);
            if next >= self.link_end {
                self.mark_empty(class);
            }
        }
    }

    /// Takes the head of the list of `class`, the block at `offset`, out of
    /// the list: its predecessor link is not even read.
    ///
    /// # Safety
    /// `offset + MIN_BLOCK <= heap_len`.
    #[inline(always)]
    pub(super) unsafe fn remove_head(&mut self, offset: usize, class: (usize, usize)) {
        // SAFETY: the caller's promise; `next` is checked by
        // `trusted_link`.
        unsafe {
            let next = self.trusted_link(offset, Link::Next);
            self.set_head(class, next);
            if next < self.link_end {
                self.set_link(next as usize, Link::Prev, NONE);
            } else {
                self.mark_empty(class);
            }
        }
    }

    /// Marks `[offset, offset + size)` as one free block (whose
    /// predecessor is in use: free blocks are never adjacent), lists it,
    /// and tells its successor (whose `PREV_FREE` is as `successor` says).
    ///
    /// # Safety
    /// `offset` is a multiple of 16, `offset + size <= heap_len`, and
    /// `size` is a multiple of 16 and at least `MIN_BLOCK`.
    #[inline(always)]
    pub(super) unsafe fn make_free(&mut self, offset: usize, size: usize, successor: Successor) {
        let header = self.header(offset, size, State::Free);
        // SAFETY: the caller's promise.
        unsafe { self.list_free(offset, size, successor, header) }
    }

    /// [`FreeList::make_free`] with the block's free header `header`
    /// already at hand.
    ///
    /// # Safety
    /// As for [`FreeList::make_free`], and `header` is
    /// `self.header(offset, size, State::Free)`.
    #[inline(always)]
    pub(super) unsafe fn list_free(
        &mut self,
        offset: usize,
        size: usize,
        successor: Successor,
        header: u64,
    ) {
        // SAFETY: the caller's promise covers all three.
        unsafe {
            self.set_word1(offset, header);
            self.insert(offset, size);
            self.set_prev_free(offset + size, size, successor);
        }
    }

    /// The first non-empty class at or above `(first, second)`.
    #[inline(always)]
    pub(super) fn find_class(&self, (first, second): (usize, usize)) -> Option<(usize, usize)> {
        let seconds = self.second_maps[first & (FL_SLOTS - 1)] as u32 & (u32::MAX << second);
        if seconds != 0 {
            return Some((first, seconds.trailing_zeros() as usize));
        }
        let firsts = self.first_map & u64::MAX.checked_shl(first as u32 + 1).unwrap_or(0);
        if firsts == 0 {
            return None;
        }
        let first = firsts.trailing_zeros() as usize;
        Some((
            first,
            self.second_maps[first & (FL_SLOTS - 1)].trailing_zeros() as usize,
        ))
    }

    /// The highest non-empty class: its head is the best candidate when
    /// the good-fit search comes up empty.
    #[inline(always)]
    pub(super) fn top_class(&self) -> Option<(usize, usize)> {
        if self.first_map == 0 {
            return None;
        }
        let first = 63 - self.first_map.leading_zeros() as usize;
        let second = 15 - self.second_maps[first & (FL_SLOTS - 1)].leading_zeros() as usize;
        Some((first, second))
    }

    /// Whether the list of `class` is non-empty.
    #[inline(always)]
    pub(super) fn is_listed(&self, (first, second): (usize, usize)) -> bool {
        self.second_maps[first & (FL_SLOTS - 1)] & (1 << (second & (SL_COUNT - 1))) != 0
    }
}
