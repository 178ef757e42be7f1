//! Block headers: the fields and magic of word 1, the predecessor's size
//! in word 0, the checks a header passes before it is trusted, and the
//! unchecked word access they rest on (see "Blocks" and "Trust" in the
//! module documentation).

use super::{FreeList, GRANULE, HEADER_SIZE, MIN_BLOCK};
use crate::error::Error;

/// Bit 0 of word 1: the block is free.
pub(super) const FREE: u64 = 1;
/// Bit 1 of word 1: the predecessor is free, and word 0 is its size.
pub(super) const PREV_FREE: u64 = 2;
/// The bits of word 1 below the size that a header check compares: `FREE`
/// and two that are always 0 (`PREV_FREE` is left out: it changes with the
/// predecessor. One set by a stray write is refused where it is used, see
/// `validate`; one cleared by a stray write only keeps a merge from
/// happening).
pub(super) const STATE_MASK: u64 = (GRANULE as u64 - 1) & !PREV_FREE;
pub(super) const SIZE_MASK: u64 = ((1 << 40) - 1) & !(GRANULE as u64 - 1);
pub(super) const MAGIC_SHIFT: u32 = 40;
/// The magic bits of word 1.
pub(super) const MAGIC_MASK: u64 = !0 << MAGIC_SHIFT;
/// The bits of the magic that vary (the top bit is always set).
pub(super) const MAGIC_INDEX_MASK: u64 = ((1 << 23) - 1) << MAGIC_SHIFT;

/// The state of a block, which its header records twice: in `FREE` and
/// in the magic (a block's magic differs between the two states).
///
/// This and [`Successor`] stand where a `bool` could and compile to the
/// same code: the variant that means "yes" comes second (it is 1, like
/// `true`: with `Successor`'s variants the other way round,
/// `freelist_dealloc` compiles differently), and both are tested with
/// `==`. Compare the hot paths' code (objdump) after changing either.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// In use: handed out by `alloc` or `realloc`.
    Used,
    /// Free: in the list of its class.
    Free,
}

impl State {
    /// `Free` if `free`, else `Used`.
    #[inline(always)]
    pub(super) const fn free_if(free: bool) -> State {
        if free {
            State::Free
        } else {
            State::Used
        }
    }
}

/// What the block after one being freed or taken into use has in its
/// `PREV_FREE` bit, so that only a bit that needs changing is written (a
/// read of that header may be far from anything the caller touched).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Successor {
    /// `PREV_FREE` is clear.
    Unflagged,
    /// `PREV_FREE` is set already (the block being freed or taken was
    /// free, or merged with a free block), or needs no update (there is
    /// no successor, or its word 1 is about to be written whole).
    Flagged,
}

impl Successor {
    /// `Flagged` if `flagged`, else `Unflagged`.
    #[inline(always)]
    pub(super) const fn flagged_if(flagged: bool) -> Successor {
        if flagged {
            Successor::Flagged
        } else {
            Successor::Unflagged
        }
    }
}

/// What [`FreeList::validate`] found: the in-use block at `offset` of
/// `size` bytes, its header (word 1), and the size of its predecessor if
/// that is free (else 0).
pub(super) struct Valid {
    pub(super) offset: usize,
    pub(super) size: usize,
    pub(super) header: u64,
    pub(super) prev_size: usize,
}

impl FreeList {
    // ----- word access ---------------------------------------------------
    //
    // The hot paths read and write heap words without a bounds check of
    // their own: each caller proves the word lies in the heap from facts it
    // has already checked (a validated address, a header's size checked
    // against the heap, a link compared with `link_end`). Those checks are
    // the ones that keep corrupted memory from leading outside the heap;
    // repeating them in every access would cost a fifth of the
    // instructions of a free+alloc step (see BENCHMARKS.md).

    /// The word at `offset`.
    ///
    /// # Safety
    /// `offset + 8 <= self.heap_len`.
    #[inline(always)]
    pub(super) unsafe fn word(&self, offset: usize) -> u64 {
        debug_assert!(offset + 8 <= self.heap_len);
        // SAFETY: the heap lies inside the buffer (`heap_len <= capacity`),
        // and the caller puts the word inside the heap.
        unsafe { self.buffer.read_word_unchecked(offset) }
    }

    /// Writes the word at `offset`.
    ///
    /// # Safety
    /// `offset + 8 <= self.heap_len`.
    #[inline(always)]
    pub(super) unsafe fn set_word(&mut self, offset: usize, value: u64) {
        debug_assert!(offset + 8 <= self.heap_len);
        // SAFETY: as in `word`.
        unsafe { self.buffer.write_word_unchecked(offset, value) }
    }

    // ----- headers -------------------------------------------------------

    /// The magic bits (40..64) of the header of a block at `offset` of
    /// `size` bytes in state `state`: through the random per-allocator
    /// keys, different for every allocator ever made in this process, even
    /// one whose buffer reuses an old address. (Zeroed memory never passes
    /// as a header: its size, 0, is refused whatever the magic.)
    /// They cover the block's position and its size: bits 40..62 of
    /// `offset ^ size` times a random odd multiplier (a key; each bit of
    /// the product depends, through the carries, on every bit of
    /// `offset ^ size` below it), xored with a second key (`magic_base` or
    /// `magic_base_free`, so the state is covered too), bit 63 set. So a
    /// header moved elsewhere, or whose size bits were written over, keeps
    /// its magic with a chance of about 2^-23 over the keys, whatever the
    /// write. The magic is nonlinear in the size so that a flip of a size
    /// bit and a flip of a magic bit cannot cancel out (as they would,
    /// whatever the key, for bits of `offset ^ size` merely moved up into
    /// the magic: random bit flips into headers find such pairs, and the
    /// free they let through covers live blocks); the multiplier is a
    /// per-allocator key because with a fixed one some size changes keep
    /// the magic for a sizeable share of keys (see `KeyedCheck`).
    #[inline(always)]
    fn magic(&self, offset: usize, size: usize, state: State) -> u64 {
        let base = if state == State::Free {
            self.magic_base_free
        } else {
            self.magic_base
        };
        self.magic_mix.product(offset as u64, size as u64) & MAGIC_INDEX_MASK ^ base
    }

    /// Word 1 of a block at `offset` of `size` bytes.
    #[inline(always)]
    pub(super) fn header(&self, offset: usize, size: usize, state: State) -> u64 {
        self.magic(offset, size, state) | size as u64 | if state == State::Free { FREE } else { 0 }
    }

    /// Whether word 1 `word` is the header of a block at `offset` of its
    /// size, in state `state`: magic and state bits both (so a flipped
    /// `FREE` bit, or a stray bit below the size, is caught).
    #[inline(always)]
    pub(super) fn is_header(&self, word: u64, offset: usize, state: State) -> bool {
        let size = (word & SIZE_MASK) as usize;
        word & (MAGIC_MASK | STATE_MASK)
            == self.magic(offset, size, state) | if state == State::Free { FREE } else { 0 }
    }

    /// Word 1 (the header proper) of the block at `offset`.
    ///
    /// # Safety
    /// `offset` is a multiple of 16 below `heap_len`.
    #[inline(always)]
    pub(super) unsafe fn word1(&self, offset: usize) -> u64 {
        // SAFETY: `heap_len` is a multiple of 16 too, so `offset + 16 <=
        // heap_len`.
        unsafe { self.word(offset + 8) }
    }

    /// Writes word 1 (the header proper) of the block at `offset`.
    ///
    /// # Safety
    /// As for [`FreeList::word1`].
    #[inline(always)]
    pub(super) unsafe fn set_word1(&mut self, offset: usize, word: u64) {
        // SAFETY: as in `word1`.
        unsafe { self.set_word(offset + 8, word) }
    }

    /// Wipes word 1 of a header swallowed by a merge, so that a stale
    /// pointer to it is refused.
    ///
    /// # Safety
    /// As for [`FreeList::word1`].
    #[inline(always)]
    pub(super) unsafe fn wipe_header(&mut self, offset: usize) {
        // SAFETY: the caller's promise.
        unsafe { self.set_word1(offset, 0) }
    }

    /// Tells the block at `offset`, if there is one (`offset` may be
    /// `heap_len`), that its predecessor is a free block of `prev_size`
    /// bytes. `successor` is what that block's `PREV_FREE` holds (it is the
    /// successor of the free block): with `Successor::Flagged` only word 0
    /// is written, so no header that may be far from anything the caller
    /// touched is read.
    ///
    /// # Safety
    /// `offset` is a multiple of 16.
    #[inline(always)]
    pub(super) unsafe fn set_prev_free(
        &mut self,
        offset: usize,
        prev_size: usize,
        successor: Successor,
    ) {
        if offset < self.heap_len {
            // SAFETY: a multiple of 16 below `heap_len` (a multiple of 16):
            // both header words are in the heap.
            unsafe {
                self.set_word(offset, prev_size as u64);
                if successor == Successor::Unflagged {
                    self.set_word1(offset, self.word1(offset) | PREV_FREE);
                }
            }
        }
    }

    /// Tells the block at `offset`, if there is one (`offset` may be
    /// `heap_len`), that its predecessor is in use (and owns word 0).
    ///
    /// # Safety
    /// `offset` is a multiple of 16.
    #[inline(always)]
    pub(super) unsafe fn clear_prev_free(&mut self, offset: usize) {
        if offset < self.heap_len {
            // SAFETY: as in `set_prev_free`.
            unsafe { self.set_word1(offset, self.word1(offset) & !PREV_FREE) }
        }
    }

    /// The size of the genuine free block at `offset`, if there is one: on
    /// the grid, in the heap, with a free header carrying this block's magic
    /// and a size that fits. Every block handed out or merged is checked by
    /// this first, so corrupted links or heads cannot make allocations
    /// overlap.
    #[inline(always)]
    pub(super) fn free_block_size(&self, offset: u64) -> Option<usize> {
        let (offset, word) = self.candidate(offset)?;
        let size = (word & SIZE_MASK) as usize;
        self.is_free_header(word, offset, size).then_some(size)
    }

    /// The offset of a would-be free block and its word 1, if `offset` is on
    /// the grid and leaves room for a block before the end of the heap;
    /// nothing about the word is checked yet.
    #[inline(always)]
    pub(super) fn candidate(&self, offset: u64) -> Option<(usize, u64)> {
        if offset >= self.link_end || offset % GRANULE as u64 != 0 {
            return None;
        }
        let offset = offset as usize;
        // SAFETY: a multiple of 16 below `link_end <= heap_len`.
        Some((offset, unsafe { self.word1(offset) }))
    }

    /// Whether `word`, read at `offset` by [`FreeList::candidate`], is the
    /// header of a genuine free block of `size` (its size bits) bytes.
    #[inline(always)]
    pub(super) fn is_free_header(&self, word: u64, offset: usize, size: usize) -> bool {
        self.is_header(word, offset, State::Free)
            && size >= MIN_BLOCK
            && size <= self.heap_len - offset
    }

    /// The offset in this region of the block whose payload would start at
    /// `address` (wrapping: an address below the heap gives a huge one).
    #[inline(always)]
    pub(super) fn offset_of(&self, address: usize) -> usize {
        address.wrapping_sub(self.buffer.start() + HEADER_SIZE)
    }

    /// The offset, size and header (word 1) of the in-use block whose
    /// payload starts at `address`, and the size of its predecessor if that
    /// is free (else 0), after checking everything a free relies on: the
    /// header's magic, state and size, and a free predecessor's header.
    /// (When word 0 and the predecessor's header disagree, which only a
    /// stray write can cause, the free is refused: which of the two was
    /// written over cannot be told. A `PREV_FREE` set by a stray write is
    /// refused the same way: the only block that ends where this one starts
    /// is the predecessor, and its header is not free.)
    #[inline(always)]
    pub(super) fn validate(&self, address: usize) -> Result<Valid, Error> {
        let offset = self.offset_of(address);
        if offset % GRANULE != 0 || offset >= self.heap_len {
            return Err(Error::ForeignPointer);
        }
        // SAFETY: just checked: a multiple of 16 below `heap_len`.
        let word = unsafe { self.word1(offset) };
        let size = (word & SIZE_MASK) as usize;
        if !self.is_header(word, offset, State::Used)
            || size < MIN_BLOCK
            || size > self.heap_len - offset
        {
            return Err(if self.is_header(word, offset, State::Free) {
                Error::DoubleFree
            } else {
                self.cached_refusal(word, offset)
                    .unwrap_or(Error::ForeignPointer)
            });
        }
        let mut valid = Valid {
            offset,
            size,
            header: word,
            prev_size: 0,
        };
        if word & PREV_FREE == 0 {
            return Ok(valid);
        }
        // A free predecessor must be where word 0 says, and say so itself.
        // SAFETY: word 0 of a block below `heap_len`.
        let prev_size = (unsafe { self.word(offset) } & SIZE_MASK) as usize;
        if prev_size > offset || prev_size < MIN_BLOCK {
            return Err(Error::ForeignPointer);
        }
        let prev_offset = offset - prev_size;
        // SAFETY: a multiple of 16 below `offset`.
        let prev_word = unsafe { self.word1(prev_offset) };
        if prev_word != self.header(prev_offset, prev_size, State::Free) {
            return Err(Error::ForeignPointer);
        }
        valid.prev_size = prev_size;
        Ok(valid)
    }
}
