//! The general-purpose free-list allocator: variable sizes, any alignment,
//! free in any order, coalescing, O(1) operations (two-level segregated fit,
//! as in TLSF) and O(1) validation of every free.
//!
//! ```
//! use core::alloc::Layout;
//! use vais_alloc::{free_list::FreeList, Error};
//!
//! let mut heap = FreeList::new(8192)?;
//! let a = heap.alloc(Layout::from_size_align(100, 8).unwrap())?;
//! let b = heap.alloc(Layout::from_size_align(500, 256).unwrap())?;
//! assert_eq!(b.addr() % 256, 0);
//! heap.dealloc(a.ptr)?;
//! heap.dealloc(b.ptr)?;
//! // Freed neighbours merged back into one block.
//! assert_eq!(heap.remaining(), 8192);
//! assert_eq!(heap.largest_free_block(), 8192 - 8);
//! heap.check_consistency().expect("consistent");
//! # Ok::<(), Error>(())
//! ```
//!
//! # Blocks
//!
//! The heap is a run of blocks that tile the buffer; every block starts at a
//! 16-aligned offset with a 16-byte header:
//!
//! ```text
//!  offset b          b+8                                b+16          b+size  +8
//!  | prev_size       | magic | size | PREV_FREE | FREE  | payload ...  | next block's
//!  |  word 0         |              word 1              | (free: links)| word 0
//! ```
//!
//! - word 0 is the predecessor's size, written when the predecessor is
//!   freed, so that a free can merge backwards. It is needed only while the
//!   predecessor is free, so while the predecessor is in use it is the last
//!   8 bytes of the predecessor's payload (the boundary-tag layout of
//!   dlmalloc and glibc): a block of `size` bytes gives `size - 8` usable
//!   bytes ([`OVERHEAD`]). The buffer has 8 spare bytes past the heap for
//!   the last block's.
//! - word 1 describes this block: its size (a multiple of 16, at least
//!   [`MIN_BLOCK`], below 2^40) in bits 4..40, `FREE` in bit 0,
//!   `PREV_FREE` (the predecessor is free) in bit 1, and in bits 40..64 a
//!   magic value derived from this allocator's random key, the block's
//!   offset, its size and `FREE`. A pointer whose header does not carry the
//!   right magic was not handed out here, and a header whose size was
//!   written over no longer matches. Headers swallowed by a merge are wiped,
//!   so a stale pointer into a merged block is refused too. Word 1 never
//!   lies in a payload.
//! - a free block keeps the offsets of its neighbours in its class's list in
//!   the first two payload words (hence the 32-byte minimum block).
//!
//! # Size classes
//!
//! Sizes below 256 map linearly to 16 classes of 16 bytes (first level 0);
//! a size with highest bit `f >= 8` maps to first level `f - 7` and to the
//! second level given by the next 4 bits. One bit per non-empty first level
//! and one 16-bit map per first level find the first non-empty class at or
//! above a given one in two `trailing_zeros`. Allocation first tries the
//! head of the request's own class (an exact fit when it is big enough: it
//! keeps larger blocks whole, which keeps the footprint of real programs'
//! allocation traces near glibc's); then it rounds the request up to the
//! next class boundary ("good fit"), so any block of the class it finds
//! fits; if that finds nothing it also tries the head of the highest
//! non-empty class, which may fit when the rounding (or, for alignments
//! above 16, the worst-case alignment gap) overshot. A small request whose
//! good fit is a block just 16 bytes too big (which could not be split: the
//! 16 bytes would stay in use) takes a block that can be split instead,
//! when there is one. Neither operation walks a list.
//!
//! # Trust
//!
//! Headers are checked before use: the magic (which covers the offset and
//! the size), the state, and the size against the heap; a free also checks
//! a free predecessor's header against word 0.
//! List links live in freed memory, which a buggy caller may scribble on:
//! a link is followed only when it leaves room for a block before the end
//! of the heap, and a block is handed out or merged only after its own
//! header is checked. A stray write into freed memory or into a header can
//! therefore hide free blocks, or make a block impossible to free (its
//! free is refused: a write over the whole old payload of a freed block
//! reaches its successor's word 0, and the successor's free is then
//! refused); the list updates' stores through a corrupted link land
//! somewhere in the heap, possibly in live data or another header, which
//! is then refused in turn. It never makes two allocations overlap (short
//! of forging a magic, which takes this allocator's key), never reaches
//! outside the heap, and never panics. Inside those checks the hot paths
//! access heap words without further bounds checks (each `unsafe` block
//! says why its word is in the heap).
//!
//! # Regions
//!
//! A free list grows by regions (see `regions.rs`): chunks from an
//! upstream ([`FreeList::set_upstream`]) and caller memory
//! ([`FreeList::add_region`]). Each region is a heap of its own, as
//! described above, over its own memory and under its own keys: no block
//! spans two regions and no merge crosses from one to another. The
//! current region is the `FreeList` itself (at first over its own
//! buffer), so the fast paths of `alloc` and `dealloc` are those of a
//! single heap; only when the current region cannot serve a request, or a
//! pointer is not in it, does a cold path look at the other regions.
//!
//! # Invariants (checked by [`FreeList::check_consistency`])
//!
//! 1. Blocks tile `[0, heap_len)` of every region; every header has the
//!    right magic, a size that is a multiple of 16 and at least
//!    [`MIN_BLOCK`].
//! 2. `PREV_FREE` is set exactly in the blocks whose predecessor is free,
//!    and their word 0 is the predecessor's size.
//! 3. No two free blocks are adjacent.
//! 4. Every free block is in exactly the list of its class, the list links
//!    are symmetric, and a class's bit is set iff its list is non-empty.
//! 5. `allocated` is the sum of the sizes of the blocks in use.
//! 6. The other regions are sorted by address, disjoint from each other
//!    and from the current one, and every chunk held is the memory of
//!    exactly one region.

mod cache;
mod check;
mod class;
mod header;
mod interface;
mod regions;
// Not named `index`: rustc hands inlinable functions to LLVM sorted by
// symbol name, and the code LLVM makes of the hot paths depends on that
// order. These list operations must come after `FreeList`'s own methods
// (`alloc`, `dealloc`, ...), which a module name of 8 or 9 lowercase
// letters gives (`8seglists` sorts after `8FreeList`, `5index` before it;
// with them before, `freelist_alloc` and `freelist_dealloc` compile
// differently). Compare the hot paths' code (objdump) before renaming.
mod seglists;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cache;
#[cfg(test)]
mod tests_integrity;
#[cfg(test)]
mod tests_regions;

use crate::allocator::{nonnull, Block};
use crate::buffer::Buffer;
use crate::error::Error;
use crate::inspect::{known, Counters, Inspect, Stats};
use crate::keyed_check::{new_key, KeyedCheck};
use crate::tools::{seen::Visible, Kind};
use cache::Cache;
use class::{block_size_for, class_at_least, class_of, usable, FL_SLOTS, SL_COUNT, SMALL_LIMIT};
use core::alloc::Layout;
use core::ptr::NonNull;
use header::{State, Successor, Valid, FREE, MAGIC_INDEX_MASK, MAGIC_SHIFT, PREV_FREE, SIZE_MASK};
pub(crate) use regions::region_memory;
use regions::Regions;
use seglists::NONE;

/// Bytes of the header before every block's payload.
pub const HEADER_SIZE: usize = 16;
/// Bytes a block in use costs beyond its usable size: the header's word 1
/// (its word 0 is the end of the predecessor's payload, see the module
/// documentation). A block of `size` bytes has `size - OVERHEAD` usable
/// bytes.
pub const OVERHEAD: usize = 8;
/// The smallest block, header included.
pub const MIN_BLOCK: usize = 32;
/// Granularity of block sizes and offsets.
const GRANULE: usize = 16;
/// The largest capacity one free list manages (just under 1 TiB): block
/// sizes fit in 40 bits.
pub const MAX_CAPACITY: usize = (1 << 40) - GRANULE;

/// What [`FreeList::find_block`] found: the head of the list of `class`,
/// a free block at `offset` of `size` bytes whose payload is aligned after
/// skipping `gap` bytes.
struct Found {
    offset: usize,
    size: usize,
    gap: usize,
    class: (usize, usize),
    /// The block's (free) header.
    header: u64,
}

/// A general-purpose allocator over an owned buffer, growing by regions
/// (from an upstream, or caller memory) if it is given any.
///
/// The fields but `regions` are the heap of the current region: the one
/// the fast paths use. Every other region is a `FreeList` of its own
/// (without regions) inside `regions`.
#[derive(Debug)]
pub struct FreeList {
    buffer: Buffer,
    /// Bytes of the buffer covered by blocks (capacity rounded down to 16).
    heap_len: usize,
    /// The capacity asked for.
    capacity: usize,
    /// Bytes of blocks in use, headers included.
    allocated: usize,
    /// Magic bits (40..64) shared by every header of this allocator: the
    /// low 23 bits of a random per-allocator key, and bit 63 set (the
    /// block's offset and size are xored in).
    magic_base: u64,
    /// The same for free blocks: the state is part of the magic too, so
    /// that flipping `FREE` alone makes a header invalid rather than free.
    magic_base_free: u64,
    /// The keyed multiply of the magic (its multiplier a second key).
    magic_mix: KeyedCheck,
    /// `magic_base ^ magic_base_free ^ FREE`: turns the header of a block
    /// in use into the header of the same block free, and back.
    state_flip: u64,
    /// Block offsets below this leave room for a minimum block before the
    /// end of the heap; a list link at or above it reads as the end of the
    /// list. 0 for an empty heap, so no link is ever followed there.
    link_end: u64,
    first_map: u64,
    second_maps: [u16; FL_SLOTS],
    heads: [[u64; SL_COUNT]; FL_SLOTS],
    /// The other regions, the upstream and the limit; `None` until one of
    /// them is set (always `None` in the other regions themselves).
    regions: Option<Box<Regions>>,
    /// Recently freed small blocks, not merged yet (see `cache.rs`).
    cache: Cache,
    /// This heap's blocks handed out, freed, cleared; refused requests
    /// (see [`Inspect`]). A heap that goes folds its counts into its
    /// regions' `retired`.
    counts: Counters,
    /// The largest `allocated` seen when it last went down.
    peak: usize,
}

impl FreeList {
    /// An allocator over a fresh buffer of `capacity` bytes: one free block
    /// covering it. `InvalidArgument` when `capacity` cannot hold one
    /// minimum block or exceeds [`MAX_CAPACITY`].
    pub fn new(capacity: usize) -> Result<FreeList, Error> {
        if !(MIN_BLOCK..=MAX_CAPACITY).contains(&capacity) {
            return Err(crate::misuse::note(
                Error::InvalidArgument,
                format_args!(
                    "capacity {capacity} is not between {MIN_BLOCK} (one block) and {MAX_CAPACITY}"
                ),
            ));
        }
        // Zero-filled, so a never-written word reads as 0 (a size no header
        // has) rather than as uninitialised memory. Large buffers come
        // as fresh zero pages from the kernel; below glibc's mmap threshold
        // (128 KiB, rising up to 32 MiB after big frees) calloc clears them.
        // The last block's payload ends with the 8 bytes past the heap.
        let buffer = Buffer::allocate(capacity + OVERHEAD, true)?;
        Ok(FreeList::over(buffer, capacity))
    }

    /// One free block over `buffer` (of `capacity + OVERHEAD` bytes, or
    /// empty for capacity 0), under fresh keys: every header written
    /// before in that memory is refused.
    pub(super) fn over(buffer: Buffer, capacity: usize) -> FreeList {
        let start = buffer.start();
        let key = new_key(start);
        let heap_len = capacity & !(GRANULE - 1);
        let mut list = FreeList {
            buffer,
            heap_len,
            capacity,
            allocated: 0,
            magic_base: (key << MAGIC_SHIFT) & MAGIC_INDEX_MASK | 1 << 63,
            magic_base_free: ((key << MAGIC_SHIFT) & MAGIC_INDEX_MASK | 1 << 63)
                ^ ((key.rotate_left(29) << MAGIC_SHIFT) & MAGIC_INDEX_MASK | 1 << MAGIC_SHIFT),
            magic_mix: KeyedCheck::new(new_key(start)),
            state_flip: 0,
            link_end: (heap_len + 1).saturating_sub(MIN_BLOCK) as u64,
            first_map: 0,
            second_maps: [0; FL_SLOTS],
            heads: [[NONE; SL_COUNT]; FL_SLOTS],
            regions: None,
            cache: Cache::new(),
            counts: Counters::default(),
            peak: 0,
        };
        list.state_flip = list.magic_base ^ list.magic_base_free ^ FREE;
        if heap_len >= MIN_BLOCK {
            // SAFETY: the heap is a multiple of 16 of at least MIN_BLOCK
            // bytes. The block has no successor.
            unsafe { list.make_free(0, heap_len, Successor::Flagged) };
        }
        list
    }

    /// Bytes to skip at the start of the free block at `offset` so that its
    /// payload is aligned to `align`: 0, or a gap big enough to become a
    /// free block of its own.
    #[inline(always)]
    fn gap_for(&self, offset: usize, align: usize) -> usize {
        // Payloads are 16-aligned: the buffer is, and so are block offsets.
        if align <= GRANULE {
            return 0;
        }
        let payload = self.buffer.start() + offset + HEADER_SIZE;
        // `align` is a power of two (checked layout): a mask, not a `div`.
        if payload & (align - 1) == 0 {
            0
        } else {
            ((payload + MIN_BLOCK + align - 1) & !(align - 1)) - payload
        }
    }

    /// A free block that can hold `needed` bytes at alignment `align`,
    /// without walking a list. First the head of the class `needed` itself
    /// falls in, which fits when it happens to be big enough (an exact
    /// fit: it keeps larger blocks whole, which is what keeps the real
    /// traces' footprint near glibc's); then the first block of the first
    /// class whose every block fits even with the worst alignment gap (good
    /// fit); then the head of the highest class, which may fit when that
    /// rounding overshot. Each candidate is the head of its class's list.
    #[inline(always)]
    fn find_block(&self, needed: usize, align: usize) -> Option<Found> {
        // Small sizes have classes 16 bytes wide, so for them, unless a
        // large alignment widens the search, the exact class is the
        // good-fit class: no need to look twice.
        if needed >= SMALL_LIMIT || align > GRANULE {
            let exact = class_of(needed);
            if self.is_listed(exact) {
                if let Some(found) = self.fits(exact, needed, align) {
                    return Some(found);
                }
            }
        }
        let worst_case = if align <= GRANULE {
            needed
        } else {
            needed.checked_add(align + MIN_BLOCK)?
        };
        let class = match class_at_least(worst_case).and_then(|c| self.find_class(c)) {
            Some(class) => class,
            None => self.top_class()?,
        };
        // A small block just 16 bytes too big would keep those 16 bytes in
        // use (no block is smaller than 32): a block that can be split is
        // better, when there is one, and the snug one stays free for a
        // request of its own size. (On the python3 trace this keeps the
        // footprint at 1.149x the peak live bytes, which is what the
        // headers and rounding alone cost, rather than 1.178x.)
        if needed < SMALL_LIMIT && align <= GRANULE && class == class_of(needed + GRANULE) {
            let splittable = class_at_least(needed + MIN_BLOCK).and_then(|c| self.find_class(c));
            if let Some(found) = splittable.and_then(|c| self.fits(c, needed, align)) {
                return Some(found);
            }
        }
        self.fits(class, needed, align)
    }

    /// The head of the list of `class`, if it is a genuine free block that
    /// holds `needed` bytes at alignment `align`. Its own header is checked
    /// before it is used, so that no corruption of freed memory can make an
    /// allocation overlap another.
    #[inline(always)]
    fn fits(&self, class: (usize, usize), needed: usize, align: usize) -> Option<Found> {
        let (offset, word) = self.candidate(self.head(class))?;
        let size = (word & SIZE_MASK) as usize;
        let gap = self.gap_for(offset, align);
        // Whether it fits first: a head too small (the exact-class probe's
        // usual miss) is passed over without checking its magic.
        if size.checked_sub(gap)? < needed || !self.is_free_header(word, offset, size) {
            return None;
        }
        Some(Found {
            offset,
            size,
            gap,
            class,
            header: word,
        })
    }

    /// Allocates `layout`; `Allocation.size` is the usable size of the block.
    /// From the current region; when it has no fitting block, from the
    /// other regions or a new chunk (`alloc_elsewhere`, out of line).
    #[inline(always)]
    pub fn alloc(&mut self, layout: Layout) -> Result<Block, Error> {
        self.alloc_then(layout, Ok, FreeList::alloc_elsewhere)
    }

    /// [`FreeList::alloc`] with each outcome handed to a continuation:
    /// `found` gets the block the current region hands out; when it has
    /// none, `missed` gets the list, the block size needed (`usize::MAX`
    /// when no block could serve the request) and the alignment, which the
    /// search holds anyway (keeping the layout for it would cost the fast
    /// path registers). `freelist_alloc` returns `found`'s result at once
    /// and leaves a miss to a function of its own: its fast path is then
    /// the single heap's, instruction for instruction.
    #[inline(always)]
    pub(crate) fn alloc_then<R>(
        &mut self,
        layout: Layout,
        found: impl FnOnce(Block) -> R,
        missed: impl FnOnce(&mut FreeList, usize, usize) -> R,
    ) -> R {
        self.alloc_with(layout, true, found, missed)
    }

    /// [`FreeList::alloc_then`], the front-end cache probed first only if
    /// `probe_cache` (the C ABI's heap path comes after a probe of its
    /// own, [`FreeList::alloc_cached`]).
    #[inline(always)]
    pub(crate) fn alloc_with<R>(
        &mut self,
        layout: Layout,
        probe_cache: bool,
        found: impl FnOnce(Block) -> R,
        missed: impl FnOnce(&mut FreeList, usize, usize) -> R,
    ) -> R {
        let Some(needed) = block_size_for(layout.size()) else {
            return missed(self, usize::MAX, layout.align());
        };
        if probe_cache && layout.align() <= cache::MAX_ALIGN {
            if let Some(block) = self.cached_block(needed, layout.align()) {
                return found(block);
            }
        }
        let Some(Found {
            offset,
            size,
            gap,
            class,
            header,
        }) = self.find_block(needed, layout.align())
        else {
            return missed(self, needed, layout.align());
        };
        // SAFETY: `find_block` checked the block: a multiple of 16 with
        // `offset + size <= heap_len`, `size >= MIN_BLOCK`, and
        // `gap + needed <= size` where `gap` is 0 or a multiple of 16 of at
        // least MIN_BLOCK.
        unsafe {
            self.remove_head(offset, class);
            // Payloads are 16-aligned; a larger alignment may need a
            // leading gap, which goes back to the free lists as a block of
            // its own, the predecessor of the block taken.
            // (Its successor's word 1 is written whole by `occupy`.)
            let prev = if gap > 0 {
                self.make_free(offset, gap, Successor::Flagged);
                State::Free
            } else {
                State::Used
            };
            // The block was free, so its successor's PREV_FREE is set.
            let free_header = if gap == 0 { Some(header) } else { None };
            self.counts.allocs += 1;
            found(self.occupy(
                offset + gap,
                size - gap,
                needed,
                prev,
                Successor::Flagged,
                free_header,
            ))
        }
    }

    /// Marks the first `needed` bytes of the `size` bytes at `offset` (not
    /// listed as free, successor not free, predecessor in state `prev`,
    /// successor's `PREV_FREE` as `successor` says) as a block in use; a
    /// tail of at least [`MIN_BLOCK`] goes back to the free lists, a
    /// smaller one stays in the block. `free_header`: the free header of a
    /// block at `offset` of `size` bytes, if the caller has it.
    ///
    /// # Safety
    /// `offset` is a multiple of 16, `offset + size <= heap_len`, and
    /// `MIN_BLOCK <= needed <= size`, both multiples of 16.
    #[inline(always)]
    unsafe fn occupy(
        &mut self,
        offset: usize,
        size: usize,
        needed: usize,
        prev: State,
        successor: Successor,
        free_header: Option<u64>,
    ) -> Block {
        // SAFETY: the caller's promise; the tail, when split off, is a
        // multiple of 16 of at least MIN_BLOCK ending where the block did.
        let used = unsafe {
            let (used, word) = if size - needed >= MIN_BLOCK {
                self.make_free(offset + needed, size - needed, successor);
                (needed, self.header(offset, needed, State::Used))
            } else {
                if successor == Successor::Flagged {
                    self.clear_prev_free(offset + size);
                }
                let word = match free_header {
                    // Same offset and size: the free header with its state
                    // flipped.
                    Some(header) => header ^ self.state_flip,
                    None => self.header(offset, size, State::Used),
                };
                (size, word)
            };
            self.set_word1(
                offset,
                word | if prev == State::Free { PREV_FREE } else { 0 },
            );
            used
        };
        self.allocated += used;
        let payload = self.buffer.start() + offset + HEADER_SIZE;
        Block {
            // SAFETY: a payload address lies in the buffer: not 0.
            ptr: unsafe { nonnull(payload) },
            size: usable(used),
        }
    }

    /// Frees the block at `ptr`, merging it with free neighbours; anything
    /// not handed out here is refused unchanged. A pointer the current
    /// region refuses is looked for in the other regions
    /// (`dealloc_elsewhere`, out of line; it gets the offset `validate`
    /// computed, which the fast path keeps anyway, rather than `ptr`).
    #[inline(always)]
    pub fn dealloc(&mut self, ptr: NonNull<u8>) -> Result<(), Error> {
        self.dealloc_with(ptr, true)
    }

    /// [`FreeList::dealloc`] without offering the block to the front-end
    /// cache: the C ABI's heap path, reached when its own offer
    /// ([`FreeList::dealloc_cached`]) was declined.
    #[inline(always)]
    pub(crate) fn dealloc_merging(&mut self, ptr: NonNull<u8>) -> Result<(), Error> {
        self.dealloc_with(ptr, false)
    }

    /// [`FreeList::dealloc`], the block offered to the cache if `try_cache`.
    #[inline(always)]
    fn dealloc_with(&mut self, ptr: NonNull<u8>, try_cache: bool) -> Result<(), Error> {
        let address = ptr.as_ptr() as usize;
        let Valid {
            mut offset,
            mut size,
            header,
            prev_size,
        } = match self.validate(address) {
            Ok(valid) => valid,
            Err(error) => return self.dealloc_elsewhere(self.offset_of(address), error),
        };
        // SAFETY: `validate` accepted the block.
        if try_cache && unsafe { self.cache_block(offset, size, header) } {
            return Ok(());
        }
        // Exact for every genuine block; saturating, so that not even a
        // forged header can make it panic.
        self.peak = self.peak.max(self.allocated);
        self.allocated = self.allocated.saturating_sub(size);
        self.counts.frees += 1;
        // SAFETY: `validate` checked the block (a multiple of 16, inside the
        // heap) and, when word 0 says the predecessor is free, that it is a
        // genuine free block of `prev_size` bytes right before it; the
        // successor is checked by `free_block_size`. The merged block is
        // made of those, so it is a multiple of 16 inside the heap.
        unsafe {
            if prev_size > 0 {
                self.remove(offset - prev_size, class_of(prev_size));
                self.wipe_header(offset);
                offset -= prev_size;
                size += prev_size;
            }
            let next = offset + size;
            let merged = match self.free_block_size(next as u64) {
                Some(next_size) => {
                    self.remove(next, class_of(next_size));
                    self.wipe_header(next);
                    size += next_size;
                    true
                }
                None => false,
            };
            // After a merge with a free successor, the new successor's
            // PREV_FREE is set already.
            if prev_size == 0 && !merged {
                // Same offset and size: the free header is the validated
                // one with its state flipped (its PREV_FREE is clear).
                self.list_free(offset, size, Successor::Unflagged, header ^ self.state_flip);
            } else {
                self.make_free(offset, size, Successor::flagged_if(merged));
            }
        }
        Ok(())
    }
}

impl Visible for FreeList {
    const KIND: Kind = Kind::Heap;

    fn usable_size(&self, ptr: NonNull<u8>) -> Option<usize> {
        let (_, valid) = self.locate(ptr.as_ptr() as usize).ok()?;
        Some(usable(valid.size))
    }

    fn for_each_region(&self, f: &mut dyn FnMut(usize, usize)) {
        for heap in self.heaps() {
            f(heap.buffer.start(), heap.buffer.capacity());
        }
    }

    fn own_buffer(&mut self) -> Option<&mut Buffer> {
        if self.buffer.is_owned() {
            return Some(&mut self.buffer);
        }
        let others = &mut self.regions.as_deref_mut()?.others;
        Some(
            &mut others
                .iter_mut()
                .find(|region| region.heap.buffer.is_owned())?
                .heap
                .buffer,
        )
    }

    fn for_each_live(&self, f: &mut dyn FnMut(usize, usize)) {
        for heap in self.heaps() {
            for (offset, size, word) in heap.blocks().map_while(Result::ok) {
                if word & (FREE | cache::CACHED) == 0 {
                    f(heap.buffer.start() + offset + HEADER_SIZE, usable(size));
                }
            }
        }
    }
}

impl FreeList {
    /// This region's blocks in address order, read from their headers
    /// (word 1) without checking their magic: `Ok((offset, size, word))`
    /// each, or, at a header whose size does not fit the heap, `Err` with
    /// its offset, and nothing after it. For the walks off the hot paths
    /// (heap walk, leak lists, error details).
    fn blocks(&self) -> impl Iterator<Item = Result<(usize, usize, u64), usize>> + '_ {
        let mut offset = 0;
        core::iter::from_fn(move || {
            if offset >= self.heap_len {
                return None;
            }
            let at = offset;
            let word = self.buffer.read_word(at + 8);
            let size = (word & SIZE_MASK) as usize;
            if size < MIN_BLOCK || size > self.heap_len - at {
                offset = self.heap_len;
                return Some(Err(at));
            }
            offset += size;
            Some(Ok((at, size, word)))
        })
    }
}

impl FreeList {
    /// Notes why a free of `address` was refused with `error` (for the
    /// error detail) and returns `error`: where the address lies, and, for
    /// one inside a free block, that the block was most likely freed
    /// already and merged with a neighbour. Walks the heap: off the hot
    /// paths.
    #[cold]
    #[inline(never)]
    pub fn explain(&self, address: usize, error: Error) -> Error {
        let cause = self
            .heaps()
            .find_map(|heap| heap.explain_here(address))
            .unwrap_or_else(|| format!("{address:#x} is outside this free list's memory"));
        crate::misuse::note(error, format_args!("{cause}"))
    }

    /// [`FreeList::explain`] in this region, if `address` lies in it.
    fn explain_here(&self, address: usize) -> Option<String> {
        let start = self.buffer.start();
        if address < start || address >= start + self.heap_len {
            return None;
        }
        for block in self.blocks() {
            let (offset, size, word) = match block {
                Ok(block) => block,
                Err(offset) => {
                    return Some(format!(
                        "{address:#x} lies in this free list, whose header at {:#x} is damaged",
                        start + offset + 8
                    ))
                }
            };
            if address < start + offset + size {
                let payload = start + offset + HEADER_SIZE;
                return Some(if word & FREE != 0 {
                    format!(
                        "{address:#x} lies inside the free block at {payload:#x} ({size} bytes): \
                         it was most likely freed already and merged with a neighbour"
                    )
                } else if word & cache::CACHED != 0 && address == payload {
                    format!("the block at {address:#x} is already free (freed, not yet merged)")
                } else if address == payload {
                    format!(
                        "the header of the block at {address:#x} fails its check (overwritten?)"
                    )
                } else if address < payload {
                    format!("{address:#x} points into the header of the block at {payload:#x}")
                } else {
                    format!(
                        "{address:#x} is {} bytes into the block at {payload:#x} ({} usable bytes, in use), \
                         not its start",
                        address - payload,
                        usable(size)
                    )
                });
            }
        }
        None
    }
}

impl Inspect for FreeList {
    /// Flushes the cache first (its blocks are free). The peak is known
    /// while the list has had one region only (each region keeps its own):
    /// after growth or `add_region` it is `None`.
    fn stats(&mut self) -> Stats {
        let largest = self.largest_free_block();
        let retired: (Counters, usize) = self
            .regions
            .as_deref()
            .map_or((Counters::default(), 0), |regions| regions.retired);
        let (counts, peak) = self
            .heaps()
            .map(|heap| (heap.counts, heap.peak.max(heap.allocated)))
            .fold(retired, |(counts, peak), (c, p)| (counts.plus(c), peak + p));
        let one_region = self.heaps().count() == 1 && retired == (Counters::default(), 0);
        Stats {
            in_use_bytes: known(self.total_allocated()),
            peak_in_use_bytes: if one_region { known(peak) } else { None },
            live_blocks: Some(counts.live()),
            allocs: Some(counts.allocs),
            frees: Some(counts.frees),
            failed_allocs: Some(counts.failed),
            capacity_bytes: known(self.capacity()),
            largest_free_block: known(largest),
        }
    }

    fn check(&self) -> Result<(), String> {
        self.check_consistency()
    }
}

impl FreeList {
    /// Calls `visit(payload, usable, in_use)` for every block of every
    /// region, in address order, until it returns non-zero (returned);
    /// `Err` naming a damaged header met on the way. A cached block counts
    /// as free.
    pub fn walk(&self, visit: &mut dyn FnMut(usize, usize, bool) -> i64) -> Result<i64, String> {
        let mut heaps: Vec<&FreeList> = self.heaps().collect();
        heaps.sort_by_key(|heap| heap.buffer.start());
        for heap in heaps {
            let start = heap.buffer.start();
            for block in heap.blocks() {
                let (offset, size, word) = block.map_err(|offset| {
                    format!(
                        "the header at {:#x} says a size that does not fit",
                        start + offset + 8
                    )
                })?;
                let in_use = word & (FREE | cache::CACHED) == 0;
                let stop = visit(start + offset + HEADER_SIZE, usable(size), in_use);
                if stop != 0 {
                    return Ok(stop);
                }
            }
        }
        Ok(0)
    }
}
