//! The bump arena: allocation moves one pointer, `reset` frees everything.
//!
//! The arena bumps *upwards*: the next block starts at the first address at
//! or after the top aligned as requested (the alignment is applied to the
//! address itself, never to an offset into the buffer), so an allocation is
//! one add, one mask, one add and one comparison against the buffer end.
//! Growing upwards is what lets the most recent block grow in place.
//!
//! ```text
//!  start                                   last        top              end
//!    | block 1 | pad | block 2 | block 3 | pad | block 4 | free (remaining) |
//! ```
//!
//! The arena remembers the most recent block (`last`): freeing it rolls the
//! top back to its start, and resizing it moves the top. Freeing any other
//! block succeeds and changes nothing (its bytes come back at reset).
//!
//! A zero-size request consumes one byte, so every pointer the arena hands
//! out is distinct and a full arena refuses zero-size requests too.
//!
//! # Growing, and checkpoints
//!
//! With an upstream ([`Bump::set_upstream`]) a request that does not fit
//! is served from a new chunk (see [`crate::growth`]): the arena's
//! *regions* are its own buffer (region 0, possibly empty) and its chunks
//! (region `i` is chunk `i - 1`), and it allocates from one region at a
//! time, the current one, whose top and end the fast path uses. Regions
//! before the current one keep their used end, so a pointer is validated
//! against every region (a handful: their number grows with the logarithm
//! of the bytes served). `reset` keeps the largest chunk and gives the
//! others back. A mark ([`Bump::mark`]) saves the current region, top and
//! count; releasing to it restores them and gives back the chunks obtained
//! since (keeping one spare).

use crate::allocator::{footprint, nonnull, Allocator, Block, Caps};
use crate::buffer::Buffer;
use crate::error::Error;
use crate::growth::{Chunks, Source, CHUNK_ALIGN};
use crate::inspect::{known, Counters, Inspect, Stats};
use crate::marks::Marks;
use crate::tools::{seen::Visible, Kind};
use core::alloc::Layout;
use core::ptr::NonNull;

/// A bump arena over an owned or borrowed buffer, growing from an upstream
/// if it has one.
///
/// `repr(C)`, with the fast path's fields first: they then share the
/// handle's first cache line with its tag.
#[derive(Debug)]
#[repr(C)]
pub struct Bump {
    /// First address not handed out in the current region.
    top: usize,
    /// One past the current region's last address.
    end: usize,
    /// Start of the most recent block while it is live and the top still
    /// ends it, else 0.
    last: usize,
    /// Sum of `layout.size` of the allocations since the last reset.
    allocated: usize,
    buffer: Buffer,
    /// The region allocated from: 0 the own buffer, `i > 0` chunk `i - 1`.
    current: usize,
    /// The used end of every region before the current one.
    used_ends: Vec<usize>,
    chunks: Chunks,
    marks: Marks<Checkpoint>,
    /// The largest `allocated` seen when it last went down.
    peak: usize,
    /// Blocks handed out, frees of them, refused requests (see
    /// [`Inspect`]).
    counts: Counters,
}

/// What a mark saves: where the arena was.
#[derive(Clone, Copy, Debug)]
struct Checkpoint {
    region: usize,
    top: usize,
    allocated: usize,
    /// Chunks held at the mark (kept by a release to it).
    chunks: usize,
}

impl Bump {
    /// An arena owning a fresh buffer of `capacity` bytes (16-byte aligned).
    pub fn new(capacity: usize) -> Result<Bump, Error> {
        Ok(Bump::over(Buffer::allocate(capacity, false)?))
    }

    /// An arena over caller memory `[address, address + capacity)`, which it
    /// never frees. Any address alignment is accepted.
    ///
    /// # Safety
    /// The range must be valid for reads and writes while the arena uses it.
    pub unsafe fn from_buffer(address: usize, capacity: usize) -> Result<Bump, Error> {
        // SAFETY: forwarded from this function's contract.
        Ok(Bump::over(unsafe { Buffer::borrow(address, capacity)? }))
    }

    fn over(buffer: Buffer) -> Bump {
        Bump {
            top: buffer.start(),
            end: buffer.end(),
            chunks: Chunks::none(buffer.capacity()),
            marks: Marks::new(buffer.start()),
            buffer,
            last: 0,
            allocated: 0,
            current: 0,
            used_ends: Vec::new(),
            peak: 0,
            counts: Counters::default(),
        }
    }

    /// From now on a request that does not fit is served from a new chunk
    /// of `source`: chunk sizes start at `first_chunk` (0: the library's
    /// choice) and double. `InvalidArgument` while chunks of an earlier
    /// source are held.
    pub fn set_upstream(
        &mut self,
        source: Box<dyn Source>,
        first_chunk: usize,
    ) -> Result<(), Error> {
        if self.chunks.held_bytes() > self.buffer.capacity() {
            return Err(Error::InvalidArgument);
        }
        self.chunks.set_source(source, first_chunk);
        Ok(())
    }

    /// Caps the bytes the arena may hold (its own buffer included) at
    /// `limit`; `usize::MAX` for no limit. `InvalidArgument` when it holds
    /// more already.
    pub fn set_limit(&mut self, limit: usize) -> Result<(), Error> {
        self.chunks.set_limit(limit)
    }

    /// Whether the arena grows from an upstream.
    pub fn grows(&self) -> bool {
        self.chunks.grows()
    }

    /// Bytes that can be served without asking upstream: the rest of the
    /// current region and the regions held beyond it (padding counts as
    /// used).
    pub fn remaining(&self) -> usize {
        let beyond: usize = self.chunks.held()[self.current.min(self.chunks.held().len())..]
            .iter()
            .map(|chunk| chunk.size)
            .sum();
        self.end - self.top + beyond
    }

    /// Sum of `layout.size` of the allocations since the last reset (a
    /// resize of the most recent block counts its new size, a rollback
    /// takes its size off, a release to a mark restores it).
    pub fn total_allocated(&self) -> usize {
        self.allocated
    }

    /// The largest [`Bump::total_allocated`] since the arena was made.
    pub fn peak(&self) -> usize {
        self.peak.max(self.allocated)
    }

    /// Bytes held now: the own buffer and every chunk.
    pub fn capacity(&self) -> usize {
        self.chunks.held_bytes()
    }

    /// Whether `address` lies in memory this arena has handed out since the
    /// last reset.
    pub fn owns(&self, address: usize) -> bool {
        (address >= self.region_start(self.current) && address < self.top)
            || (0..self.current)
                .any(|i| address >= self.region_start(i) && address < self.used_ends[i])
    }

    /// Releases an owned buffer (a borrowed one is left to its owner) and
    /// gives every chunk back; the arena stays valid, empty, with capacity
    /// 0, and keeps its upstream.
    pub fn drop_buffer(&mut self) {
        let peak = self.peak();
        self.chunks.release_all();
        self.chunks.set_own(0);
        self.buffer.release();
        let chunks = core::mem::replace(&mut self.chunks, Chunks::none(0));
        let counts = self.counts;
        *self = Bump::over(Buffer::empty());
        self.chunks = chunks;
        self.peak = peak;
        self.counts = counts;
    }

    /// A mark naming the current point; releasing to it frees everything
    /// allocated after it. The most recent block is no longer rolled back
    /// by a free once a mark covers it.
    pub fn mark(&mut self) -> Result<i64, Error> {
        let point = Checkpoint {
            region: self.current,
            top: self.top,
            allocated: self.allocated,
            chunks: self.chunks.held().len(),
        };
        let mark = self.marks.push(point)?;
        self.last = 0;
        Ok(mark)
    }

    /// Frees everything allocated after `mark` (which stays live; marks
    /// taken after it become stale) and gives back the chunks obtained
    /// since, keeping one spare. `StaleMark`, with nothing changed, for
    /// anything but a live mark of this arena.
    pub fn release_to(&mut self, mark: i64) -> Result<(), Error> {
        let (place, point) = self.marks.find(mark)?;
        self.peak = self.peak();
        self.marks.release_to(place);
        self.chunks.release_after(point.chunks);
        self.used_ends.truncate(point.region);
        self.current = point.region;
        self.top = point.top;
        self.end = self.region_end(point.region);
        self.last = 0;
        self.allocated = point.allocated;
        Ok(())
    }

    fn region_start(&self, region: usize) -> usize {
        match region {
            0 => self.buffer.start(),
            _ => self.chunks.held()[region - 1].start,
        }
    }

    fn region_end(&self, region: usize) -> usize {
        match region {
            0 => self.buffer.end(),
            _ => self.chunks.held()[region - 1].end(),
        }
    }

    /// Where `layout` would land in region `region` starting at `top`, if
    /// it fits there: the block's address and the new top.
    #[inline(always)]
    fn fit(top: usize, end: usize, layout: Layout) -> Option<(usize, usize)> {
        // No overflow: the top is an address below 2^63, and a layout's
        // size rounded up to its alignment is at most `isize::MAX`.
        let mask = layout.align() - 1;
        let ptr = (top + mask) & !mask;
        let new_top = ptr + footprint(layout.size());
        (new_top <= end).then_some((ptr, new_top))
    }

    /// The fast path of [`Allocator::alloc`]: the current region only.
    #[inline]
    pub(crate) fn alloc_fast(&mut self, layout: Layout) -> Option<Block> {
        let (ptr, new_top) = Bump::fit(self.top, self.end, layout)?;
        self.top = new_top;
        self.last = ptr;
        self.allocated += layout.size();
        self.counts.allocs += 1;
        Some(Block {
            // SAFETY: `ptr` is at least the region's start, which is not 0.
            ptr: unsafe { nonnull(ptr) },
            size: layout.size(),
        })
    }

    /// The fast path of `bump_alloc`, before the layout is validated:
    /// `Some` only for a valid layout (`align` a power of two, `size`
    /// rounded up to it at most `isize::MAX`) that fits the current region,
    /// `None` for everything else, valid or not, so that the caller takes
    /// the checked path. `size` and `align` are a C layout's fields as
    /// `usize`: a negative one is above `isize::MAX`.
    ///
    /// Why nothing invalid gets through: a power of two, 0 excluded, is
    /// exactly a value whose `x ^ (x - 1)` exceeds `x - 1`. Region addresses
    /// lie below 2^57 (the largest user address space of a 64-bit target),
    /// so the aligned pointer is below 2^63 for every alignment up to 2^62
    /// and at 2^63 for the one above (2^63), where no end reaches. A size of
    /// 2^63 or more then either carries out of the addition or ends above
    /// every region's end. What fits ends below 2^57, so its size rounded up
    /// to an alignment of at most 2^62 stays below 2^63.
    #[inline]
    pub(crate) fn alloc_fast_unchecked(&mut self, size: usize, align: usize) -> Option<Block> {
        let mask = align.wrapping_sub(1);
        if align ^ mask <= mask {
            return None;
        }
        debug_assert!(self.end < 1 << 57);
        let ptr = (self.top + mask) & !mask;
        let new_top = ptr.checked_add(footprint(size))?;
        if new_top > self.end {
            return None;
        }
        self.top = new_top;
        self.last = ptr;
        self.allocated += size;
        self.counts.allocs += 1;
        Some(Block {
            // SAFETY: `ptr` is at least the region's start, which is not 0.
            ptr: unsafe { nonnull(ptr) },
            size,
        })
    }

    /// A request the current region cannot serve: the first region held
    /// beyond it that can (after a reset or a release), else a new chunk.
    /// `Exhausted` without an upstream or past the limit, `OutOfMemory`
    /// when the upstream refuses; nothing changes then.
    #[cold]
    #[inline(never)]
    pub(crate) fn alloc_slow(&mut self, layout: Layout) -> Result<Block, Error> {
        let block = self.alloc_elsewhere(layout);
        if block.is_err() {
            self.counts.failed += 1;
        }
        block
    }

    /// [`Bump::alloc_slow`] but for the count of refusals.
    fn alloc_elsewhere(&mut self, layout: Layout) -> Result<Block, Error> {
        let regions = 1 + self.chunks.held().len();
        let held = (self.current + 1..regions).find(|&region| {
            let start = self.region_start(region);
            Bump::fit(start, self.region_end(region), layout).is_some()
        });
        let region = match held {
            Some(region) => region,
            None => {
                // Room for the worst-case padding of a large alignment.
                let padding = if layout.align() > CHUNK_ALIGN {
                    layout.align()
                } else {
                    0
                };
                let size = footprint(layout.size())
                    .checked_add(padding)
                    .ok_or(Error::Exhausted)?;
                self.chunks.grow(size, false)?;
                regions
            }
        };
        self.used_ends.push(self.top);
        while self.used_ends.len() < region {
            self.used_ends.push(self.region_start(self.used_ends.len()));
        }
        self.current = region;
        self.top = self.region_start(region);
        self.end = self.region_end(region);
        self.alloc_fast(layout).ok_or(Error::Exhausted)
    }

    /// `ptr` as an address handed out since the last reset.
    #[inline]
    fn used(&self, ptr: NonNull<u8>) -> Result<usize, Error> {
        let address = ptr.as_ptr() as usize;
        if self.owns(address) {
            Ok(address)
        } else {
            Err(Error::ForeignPointer)
        }
    }

    /// The end of the used part of the region holding `address` (a used
    /// address).
    fn used_end(&self, address: usize) -> usize {
        (0..self.current)
            .find(|&i| address >= self.region_start(i) && address < self.used_ends[i])
            .map_or(self.top, |i| self.used_ends[i])
    }
}

impl Allocator for Bump {
    const CAPS: Caps = Caps::FREE_LAST
        .with(Caps::RESIZE)
        .with(Caps::RESET)
        .with(Caps::ANY_SIZE)
        .with(Caps::ANY_ALIGN);

    /// The next block for `layout`; `Exhausted` (state unchanged) when it
    /// does not fit and the arena cannot grow. `size` in the result is
    /// `layout.size()`.
    #[inline]
    fn alloc(&mut self, layout: Layout) -> Result<Block, Error> {
        match self.alloc_fast(layout) {
            Some(block) => Ok(block),
            None => self.alloc_slow(layout),
        }
    }

    /// The most recent block grows or shrinks (the top moves); any other
    /// block only shrinks (nothing moves). `ForeignPointer` for an address
    /// outside the used part.
    unsafe fn resize(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new_size: usize,
    ) -> Result<usize, Error> {
        let address = self.used(ptr)?;
        if address != self.last {
            return if new_size <= old.size() {
                Ok(new_size)
            } else {
                Err(Error::Exhausted)
            };
        }
        if footprint(new_size) > self.end - address {
            return Err(Error::Exhausted);
        }
        self.peak = self.peak();
        self.top = address + footprint(new_size);
        self.allocated = self.allocated.saturating_sub(old.size()) + new_size;
        Ok(new_size)
    }

    unsafe fn readable(&self, ptr: NonNull<u8>, old: Layout) -> Result<usize, Error> {
        let address = self.used(ptr)?;
        Ok(old.size().min(self.used_end(address) - address))
    }

    /// The most recent block is rolled back (its bytes are reused); any
    /// other block in the used part: nothing happens until reset.
    unsafe fn free(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), Error> {
        let address = self.used(ptr)?;
        self.counts.frees += 1;
        if address == self.last {
            self.peak = self.peak();
            self.top = address;
            self.last = 0;
            self.allocated = self.allocated.saturating_sub(layout.size());
        }
        Ok(())
    }

    /// Frees every allocation at once; the own buffer and the largest
    /// chunk are kept, the other chunks go back upstream, every mark
    /// becomes stale.
    fn reset(&mut self) -> Result<(), Error> {
        self.peak = self.peak();
        self.marks.clear();
        self.chunks.keep_largest();
        self.used_ends.clear();
        self.current = 0;
        self.top = self.buffer.start();
        self.end = self.buffer.end();
        self.last = 0;
        self.allocated = 0;
        Ok(())
    }
}

impl Visible for Bump {
    const KIND: Kind = Kind::Span;

    fn for_each_region(&self, f: &mut dyn FnMut(usize, usize)) {
        f(self.buffer.start(), self.buffer.capacity());
        for chunk in self.chunks.held_from(0) {
            f(chunk.start, chunk.size);
        }
    }

    fn for_each_free_span(&self, f: &mut dyn FnMut(usize, usize)) {
        let regions = 1 + self.chunks.held().len();
        for region in 0..regions {
            let from = match region {
                r if r < self.current => self.used_ends[r],
                r if r == self.current => self.top,
                r => self.region_start(r),
            };
            f(from, self.region_end(region) - from);
        }
        if let Some(spare) = self.chunks.spare() {
            f(spare.start, spare.size);
        }
    }
}

#[cfg(test)]
mod tests;

impl Inspect for Bump {
    fn stats(&mut self) -> Stats {
        let beyond = self
            .chunks
            .held_from(self.current)
            .map(|chunk| chunk.size)
            .max();
        Stats {
            in_use_bytes: known(self.allocated),
            peak_in_use_bytes: known(self.peak()),
            // Blocks other than the most recent are freed only by a
            // reset: the arena does not count what is live.
            live_blocks: None,
            allocs: Some(self.counts.allocs),
            frees: Some(self.counts.frees),
            failed_allocs: Some(self.counts.failed),
            capacity_bytes: known(self.capacity()),
            largest_free_block: known((self.end - self.top).max(beyond.unwrap_or(0))),
        }
    }

    fn check(&self) -> Result<(), String> {
        let regions = 1 + self.chunks.held().len();
        if self.current >= regions || self.used_ends.len() != self.current {
            return Err(format!(
                "current region {} of {regions}, {} used ends",
                self.current,
                self.used_ends.len()
            ));
        }
        let (start, end) = (
            self.region_start(self.current),
            self.region_end(self.current),
        );
        if self.end != end || self.top < start || self.top > end {
            return Err(format!(
                "top {:#x} and end {:#x} outside the current region {start:#x}..{end:#x}",
                self.top, self.end
            ));
        }
        for (region, &used) in self.used_ends.iter().enumerate() {
            let (start, end) = (self.region_start(region), self.region_end(region));
            if used < start || used > end {
                return Err(format!(
                    "region {region}: used end {used:#x} outside {start:#x}..{end:#x}"
                ));
            }
        }
        Ok(())
    }
}
