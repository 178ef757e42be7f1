//! Regions: how a free list grows (see "Regions" in the module
//! documentation).
//!
//! A free list's regions are its own buffer, chunks obtained from an
//! upstream ([`FreeList::set_upstream`], through [`Chunks`]: geometric
//! sizes, a limit) and caller memory ([`FreeList::add_region`]). Each is a
//! heap of its own: a `FreeList` over that memory alone, under its own
//! keys, so no block spans two regions and no merge crosses between them.
//!
//! The *current* region is the `FreeList` itself, whose fast paths are
//! those of a single heap. The others are boxed `FreeList`s in [`Regions`],
//! sorted by address:
//!
//! - allocation tries the current region (the fast path); when it has no
//!   fitting block, every other region in address order; then a new chunk,
//!   large enough for the request, which becomes the current region;
//! - a free of a pointer the current region refuses finds the other region
//!   that holds the address by binary search, O(log regions), and is
//!   validated there; a pointer in no region is refused with what the
//!   current region said (`ForeignPointer`);
//! - `reset` gives back every chunk but the largest (keeping the own buffer
//!   and caller regions), makes every region one free block under fresh
//!   keys, and makes the largest region current; `drop_buffer` releases
//!   the own buffer, gives back every chunk and forgets caller regions.
//!
//! Chunk sizes double, so the number of chunks grows with the logarithm of
//! the bytes served; caller regions are as many as the caller adds.

use super::class::{block_size_for, usable};
use super::header::Valid;
use super::{FreeList, GRANULE, HEADER_SIZE, MAX_CAPACITY, MIN_BLOCK, OVERHEAD};
use crate::allocator::Block;
use crate::buffer::Buffer;
use crate::error::Error;
use crate::growth::{Chunks, Source};
use crate::inspect::Counters;
use core::alloc::Layout;
use core::ptr::NonNull;

/// Where a region's memory comes from, which decides what `reset` and
/// `drop_buffer` do with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    /// The list's own buffer: kept by `reset`, released by `drop_buffer`.
    Own,
    /// A chunk from the upstream: `reset` keeps only the largest,
    /// `drop_buffer` gives every one back.
    Chunk,
    /// Caller memory (`add_region`), never freed: kept by `reset`,
    /// forgotten by `drop_buffer`.
    Caller,
}

/// A region other than the current one, with the address range of its
/// heap's memory (here, so that the binary search reads no heap).
#[derive(Debug)]
pub(super) struct Region {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) origin: Origin,
    pub(super) heap: Box<FreeList>,
}

/// What a free list keeps beside its current region.
#[derive(Debug)]
pub(super) struct Regions {
    /// Where the current region's memory comes from.
    pub(super) current: Origin,
    /// The other regions: sorted by address, disjoint, none empty.
    pub(super) others: Vec<Region>,
    /// The chunks, the upstream and the limit (`own`: the own buffer's
    /// capacity; caller regions do not count).
    pub(super) chunks: Chunks,
    /// The counts and peaks of the heaps that went (see
    /// [`FreeList::retire`]).
    pub(super) retired: (Counters, usize),
}

/// The heap that fits in `[address, address + len)`: its first address
/// (16-aligned, as block offsets and payloads must be) and its capacity (a
/// multiple of 16 up to [`MAX_CAPACITY`]; its buffer is `capacity +
/// OVERHEAD` bytes), if it holds a minimum block.
fn heap_span(address: usize, len: usize) -> Option<(usize, usize)> {
    let start = address.checked_add(GRANULE - 1)? & !(GRANULE - 1);
    let room = address.checked_add(len)?.checked_sub(start)?;
    let capacity = (room.checked_sub(OVERHEAD)? & !(GRANULE - 1)).min(MAX_CAPACITY);
    (capacity >= MIN_BLOCK).then_some((start, capacity))
}

/// The memory a caller region `[address, address + len)` given to
/// [`FreeList::add_region`] has its heap in (`start`, bytes): the rest is
/// alignment slack the list never touches.
pub(crate) fn region_memory(address: usize, len: usize) -> Option<(usize, usize)> {
    heap_span(address, len).map(|(start, capacity)| (start, capacity + OVERHEAD))
}

/// A heap (one free block) over `[start, start + capacity + OVERHEAD)`.
///
/// # Safety
/// The range is valid for reads and writes, initialised (zero-filled when
/// new: a never-written word must read as 0), and used by nothing else
/// while the heap is in use.
unsafe fn heap_over(start: usize, capacity: usize) -> Result<FreeList, Error> {
    // SAFETY: the caller's promise.
    let buffer = unsafe { Buffer::borrow(start, capacity + OVERHEAD)? };
    Ok(FreeList::over(buffer, capacity))
}

/// `value` in a box; `OutOfMemory` (rather than an abort) when the system
/// refuses.
fn try_box<T>(value: T) -> Result<Box<T>, Error> {
    let layout = std::alloc::Layout::new::<T>();
    if layout.size() == 0 {
        return Ok(Box::new(value));
    }
    // SAFETY: the layout is not zero-sized.
    let raw = unsafe { std::alloc::alloc(layout) }.cast::<T>();
    if raw.is_null() {
        return Err(Error::OutOfMemory);
    }
    // SAFETY: `raw` is fresh, non-null and laid out for a `T`; writing
    // initialises it, and the box then owns it as one from `Box::new`
    // would (same global allocator, same layout).
    unsafe {
        raw.write(value);
        Ok(Box::from_raw(raw))
    }
}

impl FreeList {
    /// The current region, then every other one.
    pub(super) fn heaps(&self) -> impl Iterator<Item = &FreeList> {
        let others = self.regions.as_deref().map_or(&[][..], |r| &r.others[..]);
        core::iter::once(self).chain(others.iter().map(|region| &*region.heap))
    }

    /// Bytes of blocks in use, headers included, in every region.
    pub fn total_allocated(&self) -> usize {
        self.heaps().map(|heap| heap.allocated).sum()
    }

    /// `capacity - total_allocated`: the free bytes of every region, what
    /// can be served without asking the upstream (headers still to come
    /// out of it).
    pub fn remaining(&self) -> usize {
        self.heaps()
            .map(|heap| heap.capacity.saturating_sub(heap.allocated))
            .sum()
    }

    /// The largest `size` for which `alloc(Layout { size, align: 8 })` would
    /// succeed now without asking the upstream (0 if none would, which 0
    /// also means when only zero-size requests fit).
    ///
    /// It flushes the front-end cache first, so that the answer is what a
    /// request would find (an allocation flushes it before it fails).
    pub fn largest_free_block(&mut self) -> usize {
        self.flush_cache();
        self.heaps().map(FreeList::largest_here).max().unwrap_or(0)
    }

    /// [`FreeList::largest_free_block`] of this region alone.
    fn largest_here(&self) -> usize {
        // Any request whose class is at or below the top class succeeds;
        // above that only the head of the top class can serve (see
        // `find_block`), so its size is the limit.
        self.top_class()
            .and_then(|class| self.free_block_size(self.head(class)))
            .map_or(0, usable)
    }

    /// Releases the own buffer, gives every chunk back and forgets every
    /// caller region; the allocator stays valid, empty, capacity 0, and
    /// keeps its upstream and limit.
    pub fn drop_buffer(&mut self) {
        let mut regions = self.regions.take();
        if let Some(regions) = regions.as_deref_mut() {
            regions.release_all();
        }
        self.buffer.release();
        let cache_on = self.cache_on();
        let (counts, peak) = self.retired();
        *self = FreeList::over(Buffer::empty(), 0);
        self.cache_set_limit(cache_on);
        self.regions = regions;
        (self.counts, self.peak) = (counts, peak);
    }

    /// The regions, made on first use (no upstream, no limit).
    fn regions_mut(&mut self) -> Result<&mut Regions, Error> {
        if self.regions.is_none() {
            self.regions = Some(try_box(Regions {
                current: Origin::Own,
                others: Vec::new(),
                chunks: Chunks::none(self.capacity),
                retired: (Counters::default(), 0),
            })?);
        }
        self.regions.as_deref_mut().ok_or(Error::OutOfMemory)
    }

    /// Runs `f` on the regions and the current region, with the regions
    /// taken out of it meanwhile (so that the current region's own slow
    /// paths do not grow); `None` when there are no regions.
    fn with_regions<R>(&mut self, f: impl FnOnce(&mut Regions, &mut FreeList) -> R) -> Option<R> {
        let mut regions = self.regions.take()?;
        let result = f(&mut regions, self);
        self.regions = Some(regions);
        Some(result)
    }

    /// From now on a request that no region can serve is served from a new
    /// chunk of `source`: chunk sizes start at `first_chunk` (0: the
    /// library's choice) and double, and a larger request gets a chunk that
    /// fits it. `InvalidArgument` for a `first_chunk` above
    /// [`MAX_CAPACITY`] or while chunks of an earlier source are held.
    pub fn set_upstream(
        &mut self,
        source: Box<dyn Source>,
        first_chunk: usize,
    ) -> Result<(), Error> {
        let held = self
            .regions
            .as_deref()
            .is_some_and(|r| !r.chunks.held().is_empty());
        if first_chunk > MAX_CAPACITY || held {
            return Err(Error::InvalidArgument);
        }
        self.regions_mut()?.chunks.set_source(source, first_chunk);
        Ok(())
    }

    /// Caps the bytes the list may hold, its own buffer's capacity and its
    /// chunks (not caller regions), at `limit`; `usize::MAX` for no limit.
    /// `InvalidArgument` when it holds more already.
    pub fn set_limit(&mut self, limit: usize) -> Result<(), Error> {
        self.regions_mut()?.chunks.set_limit(limit)
    }

    /// Whether the list grows from an upstream.
    pub fn grows(&self) -> bool {
        self.regions.as_deref().is_some_and(|r| r.chunks.grows())
    }

    /// Bytes of every region's heap: what `remaining` and
    /// `total_allocated` add up to.
    pub fn capacity(&self) -> usize {
        self.heaps().map(|heap| heap.capacity).sum()
    }

    /// The number of regions (the current one included, even if empty).
    pub fn region_count(&self) -> usize {
        self.heaps().count()
    }

    /// Makes caller memory `[address, address + capacity)` a region of the
    /// list (it is zero-filled first, and never freed by the list; blocks
    /// start at its first 16-aligned address). It becomes the current
    /// region if it is larger than what the current one has free.
    /// `InvalidArgument`, with nothing changed, for a NULL address, a
    /// capacity that cannot hold a minimum block (with the alignment and
    /// the 8-byte tail) or exceeds [`MAX_CAPACITY`], a range that wraps or
    /// passes `i64::MAX`, or one that overlaps a region held;
    /// `OutOfMemory` when the few bytes of its bookkeeping cannot be had.
    ///
    /// # Safety
    /// The range must be valid for reads and writes, and used by nothing
    /// else, for as long as the list holds it (until `drop_buffer` or
    /// drop).
    pub unsafe fn add_region(&mut self, address: usize, capacity: usize) -> Result<(), Error> {
        let end = address
            .checked_add(capacity)
            .filter(|&end| address != 0 && capacity <= MAX_CAPACITY && end <= i64::MAX as usize)
            .ok_or(Error::InvalidArgument)?;
        let (start, heap_capacity) = heap_span(address, capacity).ok_or(Error::InvalidArgument)?;
        let overlaps = self.heaps().any(|heap| {
            let buffer = &heap.buffer;
            buffer.capacity() > 0 && buffer.start() < end && address < buffer.end()
        });
        if overlaps {
            return Err(crate::misuse::note(
                Error::InvalidArgument,
                format_args!(
                    "the region {address:#x}..{end:#x} overlaps memory this free list holds"
                ),
            ));
        }
        let regions = self.regions_mut()?;
        regions
            .others
            .try_reserve(1)
            .map_err(|_| Error::OutOfMemory)?;
        let mut heap = try_box(FreeList::over(Buffer::empty(), 0))?;
        // SAFETY: `[start, start + heap_capacity + OVERHEAD)` lies inside
        // the caller's range (`heap_span`), which the caller lends.
        unsafe { (start as *mut u8).write_bytes(0, heap_capacity + OVERHEAD) };
        // SAFETY: the same range, zero-filled just now.
        *heap = unsafe { heap_over(start, heap_capacity)? };
        self.with_regions(|regions, current| {
            heap.cache_set_limit(current.cache_on());
            if heap_capacity > current.capacity.saturating_sub(current.allocated) {
                regions.swap_in(current, heap, Origin::Caller);
            } else {
                regions.keep(heap, Origin::Caller);
            }
        });
        Ok(())
    }

    /// [`FreeList::alloc`] once the current region is known to have no
    /// block for `layout`: the other regions, or a new chunk.
    pub(crate) fn alloc_missed(&mut self, layout: Layout) -> Result<Block, Error> {
        let needed = block_size_for(layout.size()).unwrap_or(usize::MAX);
        self.alloc_elsewhere(needed, layout.align())
    }

    /// The slow path of [`FreeList::alloc`]: the current region has no
    /// block of `needed` bytes (a block size, `usize::MAX` for a request
    /// no block could serve) at alignment `align`. `Exhausted` without
    /// regions, or when no region fits and the list cannot grow (no
    /// upstream, past the limit, or a request no region could hold);
    /// `OutOfMemory` when the upstream refuses. Nothing changes on
    /// failure.
    #[cold]
    #[inline(never)]
    pub(super) fn alloc_elsewhere(&mut self, needed: usize, align: usize) -> Result<Block, Error> {
        let block = self.alloc_elsewhere_uncounted(needed, align);
        if block.is_err() {
            self.counts.failed += 1;
        }
        block
    }

    /// [`FreeList::alloc_elsewhere`] but for the count of refusals.
    fn alloc_elsewhere_uncounted(&mut self, needed: usize, align: usize) -> Result<Block, Error> {
        // The smallest layout with this block size: the same blocks serve
        // it, with the same usable size.
        let layout =
            Layout::from_size_align(usable(needed), align).map_err(|_| Error::Exhausted)?;
        // Exhaustion is exact: the cached blocks of this region are merged
        // back before it counts as full (each other region does the same
        // when it misses).
        if self.cache.len() > 0 {
            self.flush_cache_here();
            if let Some(block) = self.alloc_then(layout, Some, |_, _, _| None) {
                return Ok(block);
            }
        }
        self.with_regions(|regions, current| regions.alloc(current, layout))
            .unwrap_or(Err(Error::Exhausted))
    }

    /// The slow path of [`FreeList::dealloc`]: the current region refused
    /// the pointer at `offset` from its heap with `error`. The region
    /// holding the address, if there is one, validates and frees it; else
    /// `error`.
    #[cold]
    #[inline(never)]
    pub(super) fn dealloc_elsewhere(&mut self, offset: usize, error: Error) -> Result<(), Error> {
        let address = offset.wrapping_add(self.buffer.start() + HEADER_SIZE);
        let (Some(regions), Some(ptr)) = (
            self.regions.as_deref_mut(),
            NonNull::new(address as *mut u8),
        ) else {
            return Err(error);
        };
        match regions.holding(address) {
            Some(at) => regions.others[at].heap.dealloc(ptr),
            None => Err(error),
        }
    }

    /// The in-use block whose payload starts at `address`, validated as a
    /// free would validate it, and its region: `None` for the current one,
    /// else its index among the others.
    pub(super) fn locate(&self, address: usize) -> Result<(Option<usize>, Valid), Error> {
        let error = match self.validate(address) {
            Ok(valid) => return Ok((None, valid)),
            Err(error) => error,
        };
        let regions = self.regions.as_deref().ok_or(error)?;
        let at = regions.holding(address).ok_or(error)?;
        Ok((Some(at), regions.others[at].heap.validate(address)?))
    }

    /// The region `at` (as [`FreeList::locate`] names it).
    pub(super) fn heap_at(&mut self, at: Option<usize>) -> Option<&mut FreeList> {
        match at {
            None => Some(self),
            Some(at) => Some(&mut self.regions.as_deref_mut()?.others.get_mut(at)?.heap),
        }
    }

    /// Frees every block at once: every region is one free block again,
    /// under fresh keys (so every pointer handed out before is refused).
    /// Chunks go back upstream but the largest; the own buffer and caller
    /// regions stay; the largest region becomes current.
    pub fn clear(&mut self) {
        if self
            .with_regions(|regions, current| regions.reset(current))
            .is_none()
        {
            self.clear_here();
        }
    }

    /// [`FreeList::clear`] of this region alone, in O(1).
    fn clear_here(&mut self) {
        let regions = self.regions.take();
        let buffer = core::mem::replace(&mut self.buffer, Buffer::empty());
        let cache_on = self.cache_on();
        let (counts, peak) = self.retired();
        *self = FreeList::over(buffer, self.capacity);
        self.cache_set_limit(cache_on);
        self.regions = regions;
        (self.counts, self.peak) = (counts, peak);
    }

    /// This heap's counts with every live block cleared, and its peak: what
    /// it leaves behind when it is cleared or goes.
    pub(super) fn retired(&self) -> (Counters, usize) {
        let live = self.counts.live();
        let counts = Counters {
            cleared: self.counts.cleared + live,
            ..self.counts
        };
        (counts, self.peak.max(self.allocated))
    }

    /// Adds [`FreeList::retired`] to `into`.
    pub(super) fn retire_into(&self, into: &mut (Counters, usize)) {
        let (counts, peak) = self.retired();
        *into = (into.0.plus(counts), into.1 + peak);
    }

    /// Verifies the regions' bookkeeping (invariant 6) and every other
    /// region's heap; the current one is `self`, checked by the caller.
    pub(super) fn check_regions(&self) -> Result<(), String> {
        match self.regions.as_deref() {
            Some(regions) => regions.check(self),
            None => Ok(()),
        }
    }
}

impl Regions {
    /// Allocates `layout` in another region, or in a new chunk that becomes
    /// the current region.
    fn alloc(&mut self, current: &mut FreeList, layout: Layout) -> Result<Block, Error> {
        for region in &mut self.others {
            // A region has no regions of its own: a miss there is a plain
            // `Exhausted`.
            if let Ok(block) = region.heap.alloc(layout) {
                return Ok(block);
            }
        }
        self.grow(current, layout)?;
        // The new region is empty and holds the request even at its worst
        // alignment gap; `current` has no regions meanwhile, so a miss
        // (only a misaligned chunk of a broken upstream) cannot recurse.
        current.alloc(layout)
    }

    /// Obtains a chunk that holds `layout` at its worst alignment gap and
    /// makes it the current region. Nothing changes on failure.
    fn grow(&mut self, current: &mut FreeList, layout: Layout) -> Result<(), Error> {
        // The worst gap before an aligned payload (see `gap_for`).
        let gap = if layout.align() > GRANULE {
            layout
                .align()
                .checked_add(MIN_BLOCK)
                .ok_or(Error::Exhausted)?
        } else {
            0
        };
        let heap_bytes = block_size_for(layout.size())
            .and_then(|needed| needed.checked_add(gap))
            .filter(|&bytes| bytes <= MAX_CAPACITY)
            .ok_or(Error::Exhausted)?;
        self.others.try_reserve(1).map_err(|_| Error::OutOfMemory)?;
        let mut heap = try_box(FreeList::over(Buffer::empty(), 0))?;
        // `grow` rounds up to 16: `heap_span` then gives `heap_bytes`.
        let chunk = self.chunks.grow(heap_bytes + OVERHEAD, true)?;
        let made = heap_span(chunk.start, chunk.size).map(|(start, capacity)| {
            // SAFETY: a chunk just obtained zero-filled, this list's alone
            // until it goes back upstream; `reset` and `drop_buffer` drop
            // its region when it does, without touching its memory.
            unsafe { heap_over(start, capacity) }
        });
        match made {
            Some(Ok(made)) => *heap = made,
            // Only an upstream that broke its contract (a block past
            // `i64::MAX`) gets here.
            _ => {
                self.chunks.give_back_last();
                return Err(Error::OutOfMemory);
            }
        }
        self.swap_in(current, heap, Origin::Chunk);
        Ok(())
    }

    /// Makes `heap` (of `origin`) the current region; the old current
    /// region becomes one of the others. Room for one more region must be
    /// reserved.
    fn swap_in(&mut self, current: &mut FreeList, mut heap: Box<FreeList>, origin: Origin) {
        heap.cache_set_limit(current.cache_on());
        core::mem::swap(current, &mut *heap);
        let origin = core::mem::replace(&mut self.current, origin);
        self.keep(heap, origin);
    }

    /// Files `heap` (of `origin`) among the other regions, in address
    /// order; an empty one (the own buffer after `drop_buffer`) is no
    /// region and goes. Room for one more region must be reserved.
    fn keep(&mut self, heap: Box<FreeList>, origin: Origin) {
        if heap.buffer.capacity() == 0 {
            return;
        }
        let (start, end) = (heap.buffer.start(), heap.buffer.end());
        let at = self.others.partition_point(|region| region.start < start);
        self.others.insert(
            at,
            Region {
                start,
                end,
                origin,
                heap,
            },
        );
    }

    /// The index of the other region whose memory holds `address`, found by
    /// binary search: O(log regions).
    fn holding(&self, address: usize) -> Option<usize> {
        let at = self
            .others
            .partition_point(|region| region.start <= address)
            .checked_sub(1)?;
        (address < self.others[at].end).then_some(at)
    }

    /// `reset` with regions: see [`FreeList::clear`].
    fn reset(&mut self, current: &mut FreeList) {
        let kept = self.chunks.keep_largest();
        let is_kept = |start: usize| kept.is_some_and(|c| c.start <= start && start < c.end());
        // The regions over chunks given back go; their memory is not
        // touched again (dropping a heap over borrowed memory touches
        // nothing).
        let retired = &mut self.retired;
        self.others.retain(|region| {
            let keep = region.origin != Origin::Chunk || is_kept(region.start);
            if !keep {
                region.heap.retire_into(retired);
            }
            keep
        });
        if self.current == Origin::Chunk && !is_kept(current.buffer.start()) {
            let cache_on = current.cache_on();
            current.retire_into(&mut self.retired);
            *current = FreeList::over(Buffer::empty(), 0);
            current.cache_set_limit(cache_on);
            self.current = Origin::Own;
        }
        current.clear_here();
        for region in &mut self.others {
            region.heap.clear_here();
        }
        let largest = (0..self.others.len()).max_by_key(|&at| self.others[at].heap.capacity);
        if let Some(at) = largest.filter(|&at| self.others[at].heap.capacity > current.capacity) {
            // Removing it leaves room for the old current region.
            let region = self.others.remove(at);
            self.swap_in(current, region.heap, region.origin);
        }
    }

    /// `drop_buffer` with regions: every other region goes (the own buffer
    /// with its region, if it is not the current one), every chunk goes
    /// back, caller regions are forgotten.
    pub(super) fn release_all(&mut self) {
        for region in &self.others {
            region.heap.retire_into(&mut self.retired);
        }
        self.others.clear();
        self.chunks.release_all();
        self.chunks.set_own(0);
        self.current = Origin::Own;
    }
}

#[cfg(test)]
impl FreeList {
    /// Each region's memory `[start, end)`, the current one first (an empty
    /// current region left out).
    pub(super) fn region_spans(&self) -> Vec<(usize, usize)> {
        self.heaps()
            .filter(|heap| heap.buffer.capacity() > 0)
            .map(|heap| (heap.buffer.start(), heap.buffer.end()))
            .collect()
    }
}
