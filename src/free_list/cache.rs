//! The front-end cache: recently freed small blocks kept whole, unmerged,
//! and handed out again before the size classes are searched (what glibc's
//! tcache does for malloc). What stays true, so that no caller can tell but
//! by speed (see "Free-list front-end cache" in the contract):
//!
//! - A cached block keeps its header in use with one more bit, [`CACHED`],
//!   which no header check accepts: a second free of it is `DoubleFree`
//!   (found in O(1) by `validate`), and to its neighbours it is a block in
//!   use, so nothing merges with it meanwhile.
//! - It counts as free: `allocated` goes down when it is cached and up
//!   when it is handed out, so `total_allocated` and `remaining` answer as
//!   if it were merged; `largest_free_block` and the exhaustion path flush
//!   the cache first (every cached block freed for real), so a request
//!   fails only if it would fail with nothing cached.
//! - It holds at most [`depth`] blocks of each of [`CLASSES`] exact block
//!   sizes (32 to 1040 bytes: requests up to 1032 bytes): 32 of each size
//!   up to 144 bytes, 5 of each larger one, so at most 536 blocks and
//!   about 186 KiB, and a flush is bounded.
//! - Its slots live in the handle, not in freed memory: a caller's write
//!   into a freed block cannot corrupt them. A slot is trusted only after
//!   the block's header is checked again (the word it was cached with): one
//!   that a stray write changed meanwhile is dropped from the cache, and
//!   each header's `CACHED` bit is cleared by the one slot that hands it
//!   out, so no block is handed out twice.
//!
//! [`FreeList::set_cache`] turns it off (every free merges at once: the
//! bounded, real-time behaviour TLSF users want) and on (the default).

use super::header::{State, PREV_FREE, SIZE_MASK};
use super::{FreeList, GRANULE, HEADER_SIZE, MIN_BLOCK, OVERHEAD};
use crate::allocator::{nonnull, Block};
use crate::error::Error;
use core::ptr::NonNull;

/// Bit 2 of word 1: the block is in the front-end cache.
pub(super) const CACHED: u64 = 4;
/// Exact block sizes cached: 32, 48, ... up to `MIN_BLOCK + (CLASSES - 1) * 16`.
pub(super) const CLASSES: usize = 64;
/// The largest request the cache serves: its block is the largest cached.
pub(super) const MAX_REQUEST: usize = MIN_BLOCK + (CLASSES - 1) * GRANULE - OVERHEAD;
/// The largest alignment the cache serves (a cached block serves a request
/// when its payload happens to be aligned for it).
pub(super) const MAX_ALIGN: usize = 4096;
/// Slots per size (a power of two makes the slot index a mask); how many
/// are used depends on the size ([`depth`]).
pub(super) const DEPTH: usize = 32;
/// The sizes below this many classes (blocks up to 144 bytes) get every
/// slot; larger ones [`LARGE_DEPTH`].
const SMALL_CLASSES: usize = 8;
/// Blocks cached per size above the small ones (glibc's tcache keeps 7).
const LARGE_DEPTH: usize = 5;

/// Blocks cached of the size of `class` at most when the cache is on.
/// Small blocks come and go in bursts (a program building and dropping
/// objects) and cost little memory each; larger ones are fewer, and what
/// they hold back from merging shows in the footprint, so they get few.
pub(super) const fn depth(class: usize) -> usize {
    if class < SMALL_CLASSES {
        DEPTH
    } else {
        LARGE_DEPTH
    }
}

/// A cached block: its offset and its word 1 as cached (`CACHED` set).
#[derive(Debug, Clone, Copy)]
struct Slot {
    offset: u64,
    header: u64,
}

/// The cached blocks of one heap, by exact size.
#[derive(Debug, Clone)]
pub(super) struct Cache {
    /// Blocks cached per size; never above `limits`.
    counts: [u8; CLASSES],
    /// [`depth`] of each size when the cache is on, 0 when off.
    limits: [u8; CLASSES],
    /// The cached blocks of each size, the newest last: offset and the
    /// word 1 written when it was cached.
    slots: [[Slot; DEPTH]; CLASSES],
}

impl Cache {
    /// An empty cache, on.
    pub(super) const fn new() -> Cache {
        Cache {
            counts: [0; CLASSES],
            limits: Cache::limits(true),
            slots: [[Slot {
                offset: 0,
                header: 0,
            }; DEPTH]; CLASSES],
        }
    }

    /// The limits of every size, on or off.
    const fn limits(on: bool) -> [u8; CLASSES] {
        let mut limits = [0; CLASSES];
        let mut class = 0;
        while on && class < CLASSES {
            limits[class] = depth(class) as u8;
            class += 1;
        }
        limits
    }

    /// Whether it takes blocks at all.
    pub(super) fn is_on(&self) -> bool {
        self.limits[0] > 0
    }

    /// Blocks held.
    pub(super) fn len(&self) -> usize {
        self.counts.iter().map(|&n| n as usize).sum()
    }

    /// The offsets it holds (some may be stale, see the module docs).
    pub(super) fn offsets(&self) -> impl Iterator<Item = u64> + '_ {
        self.counts
            .iter()
            .zip(&self.slots)
            .flat_map(|(&n, slots)| slots[..n as usize].iter().map(|slot| slot.offset))
    }
}

/// The class of a block of `size` bytes (a multiple of 16), if its size is
/// cached: `(size - 32) / 16 < CLASSES`.
#[inline(always)]
fn class_of_size(size: usize) -> Option<usize> {
    let class = (size.wrapping_sub(MIN_BLOCK)) / GRANULE;
    (class < CLASSES).then_some(class)
}

impl FreeList {
    /// Caches the validated in-use block at `offset` of `size` bytes with
    /// word 1 `header`, if the cache takes it (its size is cached and that
    /// size's slots are not full). `false`: nothing changed.
    ///
    /// # Safety
    /// `offset`, `size` and `header` (word 1) are those of a block in use
    /// whose own header passed `validate`'s checks (magic, state, size
    /// within the heap).
    #[inline(always)]
    pub(super) unsafe fn cache_block(&mut self, offset: usize, size: usize, header: u64) -> bool {
        let Some(class) = class_of_size(size) else {
            return false;
        };
        let n = self.cache.counts[class];
        if n >= self.cache.limits[class] {
            return false;
        }
        let header = header | CACHED;
        // SAFETY: a validated block's offset: a multiple of 16 below
        // `heap_len`.
        unsafe { self.set_word1(offset, header) };
        // `n < limits[class] <= DEPTH`: the mask changes nothing.
        self.cache.slots[class][n as usize & (DEPTH - 1)] = Slot {
            offset: offset as u64,
            header,
        };
        self.cache.counts[class] = n + 1;
        self.peak = self.peak.max(self.allocated);
        self.allocated = self.allocated.saturating_sub(size);
        self.counts.frees += 1;
        true
    }

    /// A cached block of exactly `needed` bytes (a block size), handed out
    /// in use, if the cache has a genuine one. Slots whose block fails the
    /// check are dropped on the way (only a caller's stray write makes one).
    ///
    /// The check: word 1 is still the word written when the block was
    /// cached (`PREV_FREE` aside: a neighbour's free changes it), `CACHED`
    /// included. That word carries the block's magic (over its offset and
    /// size) and its size, and only the slot that hands the block out
    /// clears `CACHED`: if a stray write let a cached block be freed for
    /// real and the same block was cached again (two slots, one block), the
    /// first slot taken hands it out and the other no longer matches.
    #[inline(always)]
    pub(super) fn cached_block(&mut self, needed: usize, align: usize) -> Option<Block> {
        let class = class_of_size(needed)?;
        loop {
            let n = self.cache.counts[class];
            if n == 0 {
                return None;
            }
            let n = n - 1;
            self.cache.counts[class] = n;
            let Slot { offset, header } = self.cache.slots[class][n as usize & (DEPTH - 1)];
            let offset = offset as usize;
            if offset >= self.heap_len {
                continue;
            }
            // SAFETY: slots hold validated offsets (multiples of 16), and
            // this one was just compared with `heap_len`.
            let word = unsafe { self.word1(offset) };
            if (word ^ header) & !PREV_FREE != 0 {
                continue;
            }
            let payload = self.buffer.start() + offset + HEADER_SIZE;
            if payload & (align - 1) != 0 {
                // Genuine, but not aligned for this request: it stays.
                self.cache.counts[class] = n + 1;
                return None;
            }
            // SAFETY: as above.
            unsafe { self.set_word1(offset, word ^ CACHED) };
            self.allocated += needed;
            self.counts.allocs += 1;
            return Some(Block {
                // SAFETY: a payload address lies in the buffer: not 0.
                ptr: unsafe { nonnull(payload) },
                size: super::class::usable(needed),
            });
        }
    }

    /// The front-end cache's part of `freelist_alloc`, before the layout
    /// is validated (`size` and `align` are a C layout's fields as `u64`):
    /// a cached block when the layout is one the cache serves (`align` a
    /// power of two up to [`MAX_ALIGN`], `size` at most [`MAX_REQUEST`]:
    /// valid, so the check is the full one for these) and the newest
    /// cached block of its size is genuine and aligned for it; else `None`
    /// (a stale slot, see [`FreeList::cached_block`], is dropped).
    #[inline(always)]
    pub(crate) fn alloc_cached(&mut self, size: u64, align: u64) -> Option<Block> {
        // Off (the real-time mode): out before any arithmetic.
        if !self.cache.is_on() {
            return None;
        }
        let mask = align.wrapping_sub(1);
        // A power of two, 0 excluded, is a value whose `x ^ (x - 1)`
        // exceeds `x - 1`.
        if align ^ mask <= mask || align > MAX_ALIGN as u64 || size > MAX_REQUEST as u64 {
            return None;
        }
        let needed = ((size as usize + OVERHEAD + GRANULE - 1) & !(GRANULE - 1)).max(MIN_BLOCK);
        // `needed <= 1040`: the class is below CLASSES; the mask says so.
        let class = ((needed - MIN_BLOCK) / GRANULE) & (CLASSES - 1);
        let n = self.cache.counts[class].checked_sub(1)?;
        let Slot { offset, header } = self.cache.slots[class][n as usize & (DEPTH - 1)];
        let offset = offset as usize;
        if offset >= self.heap_len {
            self.cache.counts[class] = n;
            return None;
        }
        // SAFETY: slots hold validated offsets (multiples of 16), and this
        // one was just compared with `heap_len`.
        let word = unsafe { self.word1(offset) };
        if (word ^ header) & !PREV_FREE != 0 {
            self.cache.counts[class] = n;
            return None;
        }
        let payload = self.buffer.start() + offset + HEADER_SIZE;
        if payload as u64 & mask != 0 {
            return None;
        }
        self.cache.counts[class] = n;
        // SAFETY: as above.
        unsafe { self.set_word1(offset, word ^ CACHED) };
        self.allocated += needed;
        self.counts.allocs += 1;
        Some(Block {
            // SAFETY: a payload address lies in the buffer: not 0.
            ptr: unsafe { nonnull(payload) },
            size: needed - OVERHEAD,
        })
    }

    /// The front-end cache's part of [`FreeList::dealloc`], for the C ABI's
    /// fast path: caches the block at `ptr` if it is a block in use of
    /// this region whose size the cache takes, and says whether it did
    /// (`false`: nothing changed; `dealloc` then validates in full and
    /// frees, or refuses). Only the block's own header is checked: a
    /// cached block merges with nothing, so its neighbours are checked
    /// when it is freed for real.
    #[inline(always)]
    pub(crate) fn dealloc_cached(&mut self, ptr: NonNull<u8>) -> bool {
        // Off: out before the header is read (the heap's free reads it).
        if !self.cache.is_on() {
            return false;
        }
        let offset = self.offset_of(ptr.as_ptr() as usize);
        if offset % GRANULE != 0 || offset >= self.heap_len {
            return false;
        }
        // SAFETY: just checked: a multiple of 16 below `heap_len`.
        let word = unsafe { self.word1(offset) };
        let size = (word & SIZE_MASK) as usize;
        // Whether the cache would take it first (off, or full for this
        // size: the header is checked once, by the heap's own free).
        let Some(class) = class_of_size(size) else {
            return false;
        };
        if self.cache.counts[class] >= self.cache.limits[class]
            || size > self.heap_len - offset
            || !self.is_header(word, offset, State::Used)
        {
            return false;
        }
        // SAFETY: the checks `validate` makes of the block itself, passed
        // (`class_of_size` bounds the size from below).
        unsafe { self.cache_block(offset, size, word) }
    }

    /// Frees every cached block of this region for real (merging it with
    /// its free neighbours). Bounded: at most 536 blocks.
    pub(super) fn flush_cache_here(&mut self) {
        // Each block is handed out and freed again: the peak must not see
        // it counted twice.
        let peak = self.peak;
        for class in 0..CLASSES {
            let needed = MIN_BLOCK + class * GRANULE;
            while self.cache.counts[class] > 0 {
                // Hand the block out, then free it with the cache bypassed.
                if let Some(block) = self.cached_block(needed, 1) {
                    let limits = core::mem::replace(&mut self.cache.limits, [0; CLASSES]);
                    // Refused only when a stray write changed a neighbour's
                    // header meanwhile: the block then stays in use, and
                    // counted so, as any block whose free is refused.
                    let _ = self.dealloc(block.ptr);
                    self.cache.limits = limits;
                    // A flush is neither an allocation nor a free.
                    self.counts.allocs -= 1;
                    self.counts.frees = self.counts.frees.saturating_sub(1);
                }
            }
        }
        self.peak = peak;
    }

    /// Frees every cached block for real, in every region (each merged
    /// with its free neighbours).
    pub fn flush_cache(&mut self) {
        self.flush_cache_here();
        if let Some(regions) = self.regions.as_deref_mut() {
            for region in &mut regions.others {
                region.heap.flush_cache_here();
            }
        }
    }

    /// Turns the front-end cache on (the default) or off in every region;
    /// off flushes it first, so every block freed from now on merges at
    /// once.
    pub fn set_cache(&mut self, on: bool) {
        if !on {
            self.flush_cache();
        }
        let limits = Cache::limits(on);
        self.cache.limits = limits;
        if let Some(regions) = self.regions.as_deref_mut() {
            for region in &mut regions.others {
                region.heap.cache.limits = limits;
            }
        }
    }

    /// Sets this region's cache on or off, without flushing it.
    pub(super) fn cache_set_limit(&mut self, on: bool) {
        self.cache.limits = Cache::limits(on);
    }

    /// Whether the front-end cache is on.
    pub fn cache_on(&self) -> bool {
        self.cache.is_on()
    }

    /// Blocks in the front-end cache, in every region.
    pub fn cached_blocks(&self) -> usize {
        self.heaps().map(|heap| heap.cache.len()).sum()
    }

    /// The error for a free of the block at `offset` whose word 1 is `word`
    /// when it is not a block in use: `DoubleFree` for a cached block (its
    /// header says so and the cache holds it: a `CACHED` bit set by a stray
    /// write alone is a foreign header).
    pub(super) fn cached_refusal(&self, word: u64, offset: usize) -> Option<Error> {
        let class = class_of_size((word & SIZE_MASK) as usize)?;
        let held = &self.cache.slots[class][..self.cache.counts[class] as usize];
        (word & CACHED != 0
            && self.is_header(word ^ CACHED, offset, State::Used)
            && held.iter().any(|slot| slot.offset == offset as u64))
        .then_some(Error::DoubleFree)
    }
}
