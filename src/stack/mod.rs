//! The LIFO stack: allocations are popped in reverse order, each pop
//! restoring exactly the state before its allocation.
//!
//! Every allocation is preceded by an 8-byte header right below its
//! payload; payloads are aligned to 16 at least (as `malloc`'s are), or as
//! requested:
//!
//! ```text
//!  prev top      header (8 mod 16)   payload (16-aligned)     new top
//!     |  gap < 16  | prev_header+8 | gap |  layout.size bytes  |
//! ```
//!
//! The header word holds `previous header offset + 8` (0 when this is the
//! bottom allocation): a multiple of 16, so its low 4 bits are free and
//! hold how far below the header the previous top was (the gap, 0..=15),
//! which recovers the previous top exactly, for any capacity, with one
//! subtraction. A payload aligned to more than 16 may lie further up: the
//! padding below its header then becomes a dead allocation of its own (see
//! below), popped with it. Since every header lies right below its payload,
//! a pointer names its allocation exactly, whatever layout a caller gives
//! with it. The allocator itself keeps the
//! top, the newest header's offset + 8, and a copy of that header's link
//! and gap. A pop restores the top and the link from the copy, then reads
//! and checks the header below (the new newest) to refill it: a pop never
//! waits for the header word its push just stored (nor for its check
//! bits), and in a run of pops each waits for the one before through a
//! header's load, a mask, and the copy's store and reload.
//!
//! The bits of the header word above the largest link the capacity allows,
//! and at least bits 16..64 (bits 41..64 for a capacity of 1 TiB), hold
//! check bits: the rest of the word (link and gap) xored with the header's
//! offset, times a random per-stack odd multiplier (a key); the product's
//! bits at those positions (each depends, through the carries, on every
//! bit of the rest below it, so on all of them), xored with a second key.
//! Bit 63 is set in the header of a live allocation; an allocation freed
//! out of order through the interface (not the newest) is *dead*: its
//! header gets check bits under a third key, with bit 63 clear, and it is
//! reclaimed when the allocation above it is popped. A header whose link
//! or gap was written over, or which was copied to another offset, keeps
//! valid check bits with a chance of about one in 2^47 for stacks below
//! 64 KiB, 2^32 below 2 GiB, 2^20 up to 4 TiB, over the keys; so does a
//! header written over at random. The check is nonlinear in the rest (a
//! flipped rest bit moves about half the check bits, so no flip of a rest
//! bit can be undone by a flip of a check bit), and the multiplier is a
//! key because which writes keep a fixed multiplier's bits depends on it.
//! They catch a caller's accidents; a caller who can read headers and sets
//! out to forge one is not what they are for.
//! Headers lie below their payloads, where a caller's underflow could
//! overwrite one. A header is read when the allocation above it is
//! popped; one whose check bits do not match, or whose link and gap, read
//! as one number, exceed its own offset (a link not below the header, or a
//! previous top below the buffer), was written over: the pop of its own
//! allocation then still succeeds, leaving the top at that header, but
//! forgets everything below it, which stays allocated until `reset`. The
//! newest allocation's header is not read while it is the newest (the
//! stack holds its copy): a write over it is found only if another
//! allocation is pushed above it and popped again. A header written over
//! by accident therefore never leads a later allocation over a live one,
//! and no header, forged or not, leads a pop or a push outside the buffer.
//!
//! A zero-size request takes one byte, so its pointer lies inside the
//! buffer and a stack with only a header's room left refuses it.

use crate::allocator::{footprint, nonnull, Block};
use crate::buffer::Buffer;
use crate::error::Error;
use crate::growth::Chunks;
use crate::inspect::{known, Counters, Inspect, Stats};
use crate::keyed_check::{new_key, KeyedCheck};
use crate::marks::Marks;
use crate::tools::{seen::Visible, Kind};
use core::alloc::Layout;

const HEADER_SIZE: usize = 8;
/// Every payload is aligned to at least this (as `malloc`'s are), so that
/// every link (a header's offset + 8) is a multiple of 16 and leaves its
/// low 4 bits for the gap.
const PAYLOAD_ALIGN: usize = 16;
/// The bits of a header's rest that hold the gap; the others are the link.
const GAP_MASK: usize = PAYLOAD_ALIGN - 1;
/// Bit 63 of a header: set while its allocation is live.
const LIVE: u64 = 1 << 63;

/// What a header found below the newest says about its allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Header {
    /// Live, with this link and gap.
    Live(u64),
    /// Freed out of order, with this link and gap.
    Dead(u64),
    /// Written over: nothing below it can be trusted.
    Bad,
}

/// A LIFO allocator over an owned buffer, growing from an upstream if it
/// has one.
///
/// `repr(C)`, with the fields of push and pop first: they then take the
/// handle's first two cache lines.
#[derive(Debug)]
#[repr(C)]
pub struct Stack {
    buffer: Buffer,
    /// First free address (an address, not an offset: a push then waits
    /// on the last one's top for just an add, a mask and an add).
    top: usize,
    /// One past the buffer's last address.
    end: usize,
    /// Offset of the newest live allocation's header + 8, or 0 when there
    /// is none (what the next header will hold, less the gap below it).
    link: usize,
    /// The newest header's link and gap (meaningful while `link != 0`):
    /// the word that header holds without its check bits, as its push
    /// wrote it or as the pop above it read and checked it.
    newest_rest: u64,
    /// The header bits that hold check bits: those above any link.
    check_mask: u64,
    /// `!check_mask`: the link and the gap.
    rest_mask: u64,
    /// `check_mask` without bit 63, which `check_key` sets.
    shifted_mask: u64,
    /// The per-stack random key, within `shifted_mask`, with bit 63 set.
    check_key: u64,
    /// The keyed multiply of the check bits (its multiplier odd, random).
    check_mix: KeyedCheck,
    /// A pop whose top would go below this leaves the fast path: the
    /// newest mark's top (a pop below it makes it stale), or in a chunk
    /// region at least its start + 1 (a pop that empties the region moves
    /// down a region); else the buffer's start.
    mark_floor: usize,
    /// The highest top since the peak was last brought up to date.
    high: usize,
    /// The live checkpoints.
    marks: Marks<Checkpoint>,
    /// The key of dead headers: another random key within `shifted_mask`
    /// (bit 63 clear).
    dead_key: u64,
    /// The most bytes in use (`capacity - remaining`) seen so far, as of
    /// the last update (see [`Stack::peak`]).
    peak: usize,
    /// The regions below the current one (the own buffer first, then
    /// chunks), with their state as they were left.
    parked: Vec<regions::Parked>,
    /// Bytes in use in the parked regions.
    below: usize,
    /// The chunks obtained from an upstream.
    chunks: Chunks,
    /// The keys the check bits are derived from (live, multiplier, dead).
    keys: [u64; 3],
    /// Pushes, pops and frees, refused pushes (see [`Inspect`]).
    counts: Counters,
}

/// What a mark saves: where the stack was.
#[derive(Clone, Copy, Debug)]
struct Checkpoint {
    region: usize,
    /// Chunks held at the mark (kept by a release to it).
    chunks: usize,
    top: usize,
    link: usize,
    newest_rest: u64,
}

impl Stack {
    /// A stack owning a fresh buffer of `capacity` bytes (16-byte aligned).
    pub fn new(capacity: usize) -> Result<Stack, Error> {
        // Zero-filled, so that no header word a pop reads was never written.
        let buffer = Buffer::allocate(capacity, true)?;
        // Links are at most the capacity (below 2^63). Check bits start at
        // bit 16 at the lowest, so that no byte (nor 16-bit half) of a
        // header holds both a bit and the check bit that covers it.
        let check_shift = (u64::BITS - (capacity as u64).leading_zeros()).max(16);
        let start = buffer.start();
        let (key, multiplier, dead_key) = (new_key(start), new_key(start), new_key(start));
        let mut stack = Stack {
            top: start,
            end: buffer.end(),
            buffer,
            link: 0,
            newest_rest: 0,
            check_mask: 0,
            rest_mask: 0,
            shifted_mask: 0,
            check_key: 0,
            dead_key: 0,
            check_mix: KeyedCheck::new(1),
            marks: Marks::new(start),
            mark_floor: start,
            high: start,
            peak: 0,
            parked: Vec::new(),
            below: 0,
            chunks: Chunks::none(capacity),
            keys: [key, multiplier, dead_key],
            counts: Counters::default(),
        };
        stack.set_check_shift(check_shift);
        Ok(stack)
    }

    /// Sets the check bits to start at bit `check_shift` (16..=63), keyed
    /// by the stack's keys (the multiplier made odd, so that the multiply
    /// loses no bit), and everything derived from that.
    fn set_check_shift(&mut self, check_shift: u32) {
        let [key, multiplier, dead_key] = self.keys;
        self.check_mask = !0 << check_shift;
        self.shifted_mask = self.check_mask & !LIVE;
        self.rest_mask = !self.check_mask;
        self.check_key = key & self.shifted_mask | LIVE;
        self.dead_key = dead_key & self.shifted_mask;
        self.check_mix = KeyedCheck::new(multiplier);
    }

    /// The check bits of a live header at offset `header` whose other bits
    /// are `rest` (link and gap); bit 63 always set, so zeroed memory never
    /// passes.
    #[inline(always)]
    fn check_bits(&self, header: usize, rest: u64) -> u64 {
        self.keyed_bits(header, rest) ^ self.check_key
    }

    /// The check bits of a dead header (bit 63 clear).
    fn dead_check_bits(&self, header: usize, rest: u64) -> u64 {
        self.keyed_bits(header, rest) ^ self.dead_key
    }

    #[inline(always)]
    fn keyed_bits(&self, header: usize, rest: u64) -> u64 {
        self.check_mix.product(rest, header as u64) & self.shifted_mask
    }

    /// Pushes an allocation for `layout`; `Exhausted` (state unchanged)
    /// when it does not fit.
    #[inline]
    pub fn push(&mut self, layout: Layout) -> Result<Block, Error> {
        match self.push_fast(layout.size(), layout.align()) {
            Some(block) => Ok(block),
            None => self.push_slow(layout.size(), layout.align()),
        }
    }

    /// Where a push of `size` bytes at alignment `align` (a power of two,
    /// at most 2^62) puts its payload, and the top after it; `None` when it
    /// does not fit. A size that fits makes a valid layout (rule 4):
    /// `payload` is a positive multiple of `align` and `payload + size <=
    /// end < 2^63`, so `size` rounded up to `align` is at most `2^63 -
    /// align`; every other size is refused here.
    #[inline(always)]
    fn fit(&self, size: usize, align: usize) -> Option<(usize, usize)> {
        debug_assert!(align.is_power_of_two() && align <= 1 << 62);
        // The payload is the first address aligned to `align` (at least 16)
        // with 8 bytes below it above the top. Addresses are below 2^63 and
        // `align <= 2^62`: no overflow.
        let align = align.max(PAYLOAD_ALIGN);
        let payload = (self.top + HEADER_SIZE + (align - 1)) & !(align - 1);
        // A zero-size request takes one byte, as in the bump arena: its
        // pointer then lies inside the buffer and is distinct.
        if payload > self.end || footprint(size) > self.end - payload {
            return None;
        }
        Some((payload, payload + footprint(size)))
    }

    /// [`Stack::push`]'s fast path, for a caller that has checked only the
    /// alignment: `None` when the push does not fit (whatever the size,
    /// see [`Stack::fit`]) or its alignment is above 16 and its header
    /// would lie 16 or more above the top; [`Stack::push_slow`] then
    /// decides.
    #[inline]
    pub(crate) fn push_fast(&mut self, size: usize, align: usize) -> Option<Block> {
        let (payload, new_top) = self.fit(size, align)?;
        // The header lies right below the payload: for an alignment up to
        // 16, less than 16 above the top.
        let gap = payload - HEADER_SIZE - self.top;
        if gap > GAP_MASK {
            return None;
        }
        Some(self.place(payload, new_top, size, self.link | gap))
    }

    /// The rest of a push: `Exhausted` when it does not fit, and the
    /// padding of a large alignment (see [`Stack::pad`]).
    #[cold]
    #[inline(never)]
    pub(crate) fn push_slow(&mut self, size: usize, align: usize) -> Result<Block, Error> {
        let (payload, new_top) = match self.fit(size, align) {
            Some(fit) => fit,
            None => {
                if let Err(error) = self.move_up_for(size, align) {
                    self.counts.failed += 1;
                    return Err(error);
                }
                self.fit(size, align).ok_or(Error::Exhausted)?
            }
        };
        let rest = match payload - HEADER_SIZE - self.top {
            gap if gap <= GAP_MASK => self.link | gap,
            _ => self.pad(payload - HEADER_SIZE),
        };
        Ok(self.place(payload, new_top, size, rest))
    }

    /// Writes the header below `payload` (its link and gap `rest`) and
    /// makes its allocation the newest, the top at `new_top`.
    #[inline(always)]
    fn place(&mut self, payload: usize, new_top: usize, size: usize, rest: usize) -> Block {
        // Addresses and offsets agree mod 16 (the start is 16-aligned).
        let header = payload - HEADER_SIZE - self.buffer.start();
        let rest = rest as u64;
        let word = self.check_bits(header, rest) | rest;
        // SAFETY: `header + 8 = payload - start <= new_top - start <=
        // capacity` (`fit`).
        unsafe { self.buffer.write_word_unchecked(header, word) };
        self.newest_rest = rest;
        self.link = header + HEADER_SIZE;
        self.top = new_top;
        self.counts.allocs += 1;
        Block {
            // SAFETY: `payload` lies in the buffer, so it is not 0.
            ptr: unsafe { nonnull(payload) },
            size,
        }
    }

    /// Pads the space from the top to `header_address`, 16 or more bytes
    /// above it (an allocation aligned to more than 16), with a dead
    /// allocation: its header at the first place a header can be (less
    /// than 16 above the top). Returns the rest of the padded allocation's
    /// header: a link to the padding, gap 0. Popping that allocation
    /// reclaims the padding with it.
    fn pad(&mut self, header_address: usize) -> usize {
        let start = self.buffer.start();
        let filler_address = ((self.top + HEADER_SIZE + GAP_MASK) & !GAP_MASK) - HEADER_SIZE;
        debug_assert!(filler_address + 2 * HEADER_SIZE <= header_address);
        let filler = filler_address - start;
        let rest = (self.link | (filler_address - self.top)) as u64;
        let word = self.dead_check_bits(filler, rest) | rest;
        // SAFETY: the header is at least 16 above the top, and `filler`,
        // at most 15 above it and equal to it mod 16, at least 16 below:
        // its word lies in the buffer (`fit` checked the header's).
        unsafe { self.buffer.write_word_unchecked(filler, word) };
        filler + HEADER_SIZE
    }

    /// Pops the newest live allocation, and every dead one right below it;
    /// `Empty` when there is none.
    #[inline]
    pub fn pop(&mut self) -> Result<(), Error> {
        if self.pop_fast() {
            Ok(())
        } else {
            self.pop_slow()
        }
    }

    /// [`Stack::pop`]'s fast path: `false`, with nothing changed, when the
    /// stack is empty or the header below the newest is not a live one.
    ///
    /// The newest header's link and gap come from the stack's copy, so the
    /// top and the link are restored without waiting for the word the push
    /// stored; the header below is read and checked into the copy (a chain
    /// of pops waits on that load and one mask).
    #[inline]
    pub(crate) fn pop_fast(&mut self) -> bool {
        if self.link == 0 {
            return false;
        }
        let rest = self.newest_rest as usize;
        let top = self.buffer.start() + (self.link - HEADER_SIZE) - (rest & GAP_MASK);
        if top < self.mark_floor {
            return false;
        }
        if self.top > self.high {
            self.high = self.top;
        }
        let below = rest & !GAP_MASK;
        if below != 0 {
            let header = below - HEADER_SIZE;
            // SAFETY: as in `classify`.
            let word = unsafe { self.buffer.read_word_unchecked(header) };
            let rest = word & self.rest_mask;
            // A genuine header carries its check bits, and its link (a
            // multiple of 16, at most `header - 8`) or'ed with its gap
            // (below 16) is below its offset: so the link leads down, and
            // the previous top, `header - gap`, is not below the buffer.
            if word & self.check_mask != self.check_bits(header, rest) || rest as usize > header {
                return false;
            }
            self.newest_rest = rest;
        }
        self.top = top;
        self.link = below;
        self.counts.frees += 1;
        true
    }

    /// The rest of a pop: `Empty`, or a pop whose header below is dead (it
    /// is popped too, and so on down) or was written over (the copy becomes
    /// 0, so that the pop of that allocation leaves the top at its header,
    /// at or above everything still live, and the link at 0: what lies
    /// below is forgotten).
    #[cold]
    #[inline(never)]
    pub(crate) fn pop_slow(&mut self) -> Result<(), Error> {
        self.note_peak();
        self.move_down_while_empty();
        if self.link == 0 {
            return Err(Error::Empty);
        }
        let rest = self.newest_rest as usize;
        self.top = self.buffer.start() + (self.link - HEADER_SIZE) - (rest & GAP_MASK);
        self.link = rest & !GAP_MASK;
        self.counts.frees += 1;
        self.settle();
        self.move_down_while_empty();
        self.drop_stale_marks();
        Ok(())
    }

    /// Drops the marks the top is now below, and moves the floor.
    fn drop_stale_marks(&mut self) {
        let here = (self.parked.len(), self.top);
        self.marks
            .drop_while(|point| (point.region, point.top) > here);
        let floor = self.buffer.start() + usize::from(!self.parked.is_empty());
        self.mark_floor = match self.marks.newest() {
            Some(point) if point.region == here.0 => point.top.max(floor),
            _ => floor,
        };
    }

    /// Brings the peak up to date (before the top goes down).
    fn note_peak(&mut self) {
        self.peak = self.peak();
        self.high = self.top;
    }

    /// The most bytes in use (the bytes taken from its buffer and chunks,
    /// headers and padding included) the stack has had.
    pub fn peak(&self) -> usize {
        self.peak
            .max(self.below + self.high.max(self.top) - self.buffer.start())
    }

    /// A mark naming the current point; releasing to it pops everything
    /// pushed after it. A pop below it makes it stale.
    pub fn mark(&mut self) -> Result<i64, Error> {
        let point = Checkpoint {
            region: self.parked.len(),
            chunks: self.chunks.held().len(),
            top: self.top,
            link: self.link,
            newest_rest: self.newest_rest,
        };
        let mark = self.marks.push(point)?;
        self.mark_floor = self.mark_floor.max(self.top);
        Ok(mark)
    }

    /// Pops everything pushed after `mark` at once (which stays live; marks
    /// taken after it become stale). `StaleMark`, with nothing changed, for
    /// anything but a live mark of this stack.
    pub fn release_to(&mut self, mark: i64) -> Result<(), Error> {
        let (place, point) = self.marks.find(mark)?;
        self.note_peak();
        self.marks.release_to(place);
        while self.parked.len() > point.region {
            self.move_down();
        }
        self.chunks.release_after(point.chunks);
        self.top = point.top;
        self.link = point.link;
        self.newest_rest = point.newest_rest;
        self.high = point.top;
        self.drop_stale_marks();
        // The newest allocation at the mark may have been freed out of
        // order since (it is dead now): reclaim it as a pop would.
        if self.link != 0 && matches!(self.classify(self.link), Header::Dead(_)) {
            self.settle();
            self.drop_stale_marks();
        }
        Ok(())
    }

    /// Refills the copy of the newest header from the header that ends at
    /// `self.link`: a dead allocation is popped as well (and so on down),
    /// and a header written over ends the chain (the copy becomes 0).
    fn settle(&mut self) {
        while self.link != 0 {
            match self.classify(self.link) {
                Header::Live(rest) => {
                    self.newest_rest = rest;
                    return;
                }
                Header::Dead(rest) => {
                    let rest = rest as usize;
                    self.top = self.buffer.start() + (self.link - HEADER_SIZE) - (rest & GAP_MASK);
                    self.link = rest & !GAP_MASK;
                }
                Header::Bad => {
                    self.newest_rest = 0;
                    return;
                }
            }
        }
    }

    /// What the header that ends at `link` (nonzero, and below the newest
    /// header) says.
    fn classify(&self, link: usize) -> Header {
        self.classify_in(&self.buffer, link)
    }

    /// [`Stack::classify`] in the region over `buffer`.
    fn classify_in(&self, buffer: &Buffer, link: usize) -> Header {
        let header = link - HEADER_SIZE;
        // SAFETY: `link` is nonzero here, and is the link of a rest that
        // `push` wrote (the link it held: 0, or a header's offset + 8, at
        // most the capacity) or that this function accepted (checked below
        // to be at most its header's offset); so `header + 8 = link <=
        // capacity`. The buffer never shrinks under a live header
        // (`drop_buffer` resets the stack), and it is zero-filled, so the
        // word was initialised.
        let word = unsafe { buffer.read_word_unchecked(header) };
        let rest = word & self.rest_mask;
        if rest as usize > header {
            Header::Bad
        } else if word & self.check_mask == self.check_bits(header, rest) {
            Header::Live(rest)
        } else if word & self.check_mask == self.dead_check_bits(header, rest) {
            Header::Dead(rest)
        } else {
            Header::Bad
        }
    }

    /// Pops everything; every mark becomes stale; the largest chunk is
    /// kept and the others go back upstream.
    pub fn clear(&mut self) {
        self.note_peak();
        while !self.parked.is_empty() {
            self.move_down();
        }
        self.chunks.keep_largest();
        self.top = self.buffer.start();
        self.high = self.top;
        self.link = 0;
        self.marks.clear();
        self.mark_floor = self.top;
    }

    /// Bytes that can be served without asking upstream: above the top,
    /// and the chunks held beyond the current region.
    pub fn remaining(&self) -> usize {
        let held = self.chunks.held();
        let beyond: usize = held[self.parked.len().min(held.len())..]
            .iter()
            .map(|chunk| chunk.size)
            .sum();
        self.end - self.top + beyond
    }

    /// Number of live allocations: how many pops succeed before `Empty`.
    /// It walks the headers (O(depth)), so that pushes and pops do not
    /// keep a count.
    pub fn depth(&self) -> usize {
        let mut depth = 0;
        for mut walk in self.walks() {
            while let Some((_, _, dead)) = walk.step(self) {
                depth += usize::from(!dead);
            }
        }
        depth
    }

    /// A walk down the allocations of each region, the current one first.
    fn walks(&self) -> impl Iterator<Item = Walk<'_>> {
        let current = Walk {
            buffer: &self.buffer,
            next: self.link,
            newest_rest: self.newest_rest,
            first: true,
        };
        let parked = self.parked.iter().rev().map(|region| Walk {
            buffer: &region.buffer,
            next: region.link,
            newest_rest: region.newest_rest,
            first: false,
        });
        core::iter::once(current).chain(parked)
    }

    /// Releases the buffer and gives every chunk back; the stack stays
    /// valid, empty, capacity 0, and keeps its upstream.
    pub fn drop_buffer(&mut self) {
        self.clear();
        self.chunks.release_all();
        self.chunks.set_own(0);
        self.buffer.release();
        self.top = self.buffer.start();
        self.end = self.buffer.end();
        self.high = self.top;
        self.mark_floor = self.top;
    }
}

impl Visible for Stack {
    const KIND: Kind = Kind::Span;

    fn for_each_region(&self, f: &mut dyn FnMut(usize, usize)) {
        let own = self
            .parked
            .first()
            .map_or(&self.buffer, |region| &region.buffer);
        f(own.start(), own.capacity());
        for chunk in self.chunks.held_from(0) {
            f(chunk.start, chunk.size);
        }
    }

    fn for_each_free_span(&self, f: &mut dyn FnMut(usize, usize)) {
        for region in &self.parked {
            f(region.top, region.buffer.end() - region.top);
        }
        f(self.top, self.end - self.top);
        for chunk in self.chunks.held_from(self.parked.len()) {
            f(chunk.start, chunk.size);
        }
    }
}

mod interface;
mod regions;

use interface::Walk;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_growth;

impl Inspect for Stack {
    fn stats(&mut self) -> Stats {
        let beyond = self
            .chunks
            .held_from(self.parked.len())
            .map(|chunk| chunk.size)
            .max();
        Stats {
            in_use_bytes: known(self.capacity() - self.remaining()),
            peak_in_use_bytes: known(self.peak()),
            live_blocks: known(self.depth()),
            allocs: Some(self.counts.allocs),
            frees: Some(self.counts.frees),
            failed_allocs: Some(self.counts.failed),
            capacity_bytes: known(self.capacity()),
            largest_free_block: known((self.end - self.top).max(beyond.unwrap_or(0))),
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.top < self.buffer.start() || self.top > self.end || self.end != self.buffer.end() {
            return Err(format!(
                "the top {:#x} lies outside the current region",
                self.top
            ));
        }
        // Every header of every region's chain, the newest included (its
        // word in memory must agree with the stack's copy's check bits).
        for mut walk in self.walks() {
            let buffer = walk.buffer;
            while let Some((link, _, _)) = walk.step(self) {
                if let Header::Bad = self.classify_in(buffer, link) {
                    return Err(format!(
                        "the header at {:#x} is overwritten",
                        buffer.start() + link - HEADER_SIZE
                    ));
                }
            }
        }
        Ok(())
    }
}
