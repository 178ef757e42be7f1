//! The block pool: fixed-size blocks, O(1) allocate and free, every free
//! checked.
//!
//! Blocks are carved lazily from an untouched *frontier*, so creating a
//! pool of a million blocks costs what a pool of ten does, and the pool
//! never writes to a block's memory. Its bookkeeping lives beside the
//! buffer in one `u32` per block that has ever been handed out:
//!
//! ```text
//!  link[i] == ALLOCATED   block i is in use
//!  link[i] == j           block i is free, block j is the next free one
//!  link[i] == END         block i is the last free block
//!  i >= links.len()       block i was never handed out (free; the frontier)
//! ```
//!
//! A free therefore costs one exact-division test (a multiply by the
//! inverse of the block size's odd part and a rotate, no `div`) and one
//! look at `link[i]`: a pointer that is not a block start, or a block that is
//! already free, is refused before anything changes. User code that writes
//! into a freed block cannot corrupt the pool either.
//!
//! # Growing by slabs
//!
//! With an upstream ([`Pool::set_upstream`]) a pool whose own buffer has no
//! free block takes one from its *slabs*: chunks obtained from the
//! upstream (see [`crate::growth`]: sizes grow geometrically, a limit caps
//! the bytes held), each cut into blocks of the pool's block size and kept
//! with the same link encoding (see the `slabs` module). The own buffer
//! stays the fast path of both operations: `alloc_block` leaves it only
//! when its free list and frontier are empty, and `dealloc` only when the
//! exact-division test says the pointer is no block of it in use; both
//! exits are out of line. A slab block is found, and a slab pointer
//! validated, in O(log slabs), and the number of slabs grows with the
//! logarithm of the bytes served. `reset` keeps the largest slab and gives
//! the others back; [`Pool::drop_buffer`] gives every slab back.

use crate::allocator::{nonnull, Allocator, Block, Caps};
use crate::buffer::Buffer;
use crate::error::Error;
use crate::growth::Source;
use crate::inspect::{known, Inspect, Stats};
use crate::tools::{seen::Visible, Kind};
use core::alloc::Layout;
use core::ptr::NonNull;
use slabs::Slabs;

mod slabs;

const ALLOCATED: u32 = u32::MAX;
const END: u32 = u32::MAX - 1;
/// The largest number of blocks one pool can hold.
pub const MAX_BLOCKS: usize = (u32::MAX - 2) as usize;
/// The largest block alignment a pool promises (its buffer's).
const MAX_BLOCK_ALIGN: usize = 16;

/// A pool of equal-sized blocks.
///
/// `repr(C)`: the fields of the fast paths come first, in declaration
/// order, so that they share the first cache lines of a C handle with its
/// tag, and the slabs (larger, and used only off the fast paths) come last.
#[derive(Debug)]
#[repr(C)]
pub struct Pool {
    buffer: Buffer,
    links: Vec<u32>,
    divisor: Divisor,
    /// The alignment of every block: the largest power of two dividing the
    /// block size, up to 16.
    block_align: usize,
    num_blocks: u32,
    free_head: u32,
    allocated: u32,
    /// Blocks handed out since the pool was made.
    allocs: u64,
    /// The blocks beyond the own buffer, from an upstream.
    slabs: Slabs,
    /// Blocks freed by resets and drops, refused requests, and the most
    /// blocks in use before the last reset (see [`Inspect`]).
    cleared: u64,
    failed: u64,
    peak_blocks: usize,
}

/// The block size, and what dividing by it exactly takes.
#[derive(Clone, Copy, Debug)]
struct Divisor {
    bytes: usize,
    /// Multiplicative inverse (mod 2^64) of the odd part of `bytes`.
    inverse: u64,
    /// `bytes.trailing_zeros()`.
    shift: u32,
}

impl Divisor {
    const fn new(bytes: usize) -> Divisor {
        let shift = bytes.trailing_zeros();
        Divisor {
            bytes,
            inverse: odd_inverse((bytes >> shift) as u64),
            shift,
        }
    }

    /// `offset / bytes` when that division is exact, else a number above
    /// every block index. `offset / bytes` is exact iff `rotate(offset *
    /// inverse, shift)` is at most `u64::MAX / bytes`; every block index
    /// is, and every inexact quotient lands above them all.
    #[inline(always)]
    fn exact_quotient(self, offset: u64) -> u64 {
        offset.wrapping_mul(self.inverse).rotate_right(self.shift)
    }
}

/// The block size actually used for a request of `block_size` bytes: at
/// least 8 and a multiple of 8.
pub fn effective_block_size(block_size: usize) -> Result<usize, Error> {
    if block_size == 0 {
        return Err(Error::InvalidArgument);
    }
    let rounded = crate::layout::align_up(block_size, 8).ok_or(Error::InvalidArgument)?;
    Ok(rounded.max(8))
}

/// The inverse of odd `d` modulo 2^64 (Newton's iteration: each step
/// doubles the number of correct low bits, 3 -> 6 -> ... -> 96).
const fn odd_inverse(d: u64) -> u64 {
    let mut inverse = d; // correct to 3 bits for any odd d
    let mut step = 0;
    while step < 5 {
        inverse = inverse.wrapping_mul(2u64.wrapping_sub(d.wrapping_mul(inverse)));
        step += 1;
    }
    inverse
}

impl Pool {
    /// A pool of `num_blocks` blocks of [`effective_block_size`] bytes.
    pub fn new(block_size: usize, num_blocks: usize) -> Result<Pool, Error> {
        let block_size = effective_block_size(block_size)?;
        if num_blocks == 0 || num_blocks > MAX_BLOCKS {
            return Err(Error::InvalidArgument);
        }
        let capacity = block_size
            .checked_mul(num_blocks)
            .ok_or(Error::InvalidArgument)?;
        if capacity > i64::MAX as usize {
            return Err(Error::InvalidArgument);
        }
        let buffer = Buffer::allocate(capacity, false)?;
        let mut links = Vec::new();
        // `try_reserve` fails cleanly on OOM; the memory is not touched
        // until a block is handed out.
        links
            .try_reserve_exact(num_blocks)
            .map_err(|_| Error::OutOfMemory)?;
        let divisor = Divisor::new(block_size);
        Ok(Pool {
            buffer,
            links,
            divisor,
            block_align: (1 << divisor.shift).min(MAX_BLOCK_ALIGN),
            num_blocks: num_blocks as u32,
            free_head: END,
            allocated: 0,
            allocs: 0,
            slabs: Slabs::new(divisor, capacity),
            cleared: 0,
            failed: 0,
            peak_blocks: 0,
        })
    }

    /// From now on, when the own buffer has no free block, blocks come
    /// from slabs obtained from `source`: slab sizes start at
    /// `first_slab` bytes (0: the library's choice) and grow geometrically.
    /// `InvalidArgument` while slabs of an earlier source are held.
    pub fn set_upstream(
        &mut self,
        source: Box<dyn Source>,
        first_slab: usize,
    ) -> Result<(), Error> {
        self.slabs.set_source(source, first_slab)
    }

    /// Caps the bytes the pool may hold (its own buffer included) at
    /// `limit`; `usize::MAX` for no limit. `InvalidArgument` when it holds
    /// more already.
    pub fn set_limit(&mut self, limit: usize) -> Result<(), Error> {
        self.slabs.set_limit(limit)
    }

    /// Whether the pool grows from an upstream.
    pub fn grows(&self) -> bool {
        self.slabs.grows()
    }

    /// Bytes held now: the own buffer and every slab.
    pub fn capacity(&self) -> usize {
        self.slabs.held_bytes()
    }

    /// A free block: from the own buffer (its free list, then its
    /// frontier), else from a slab. `Exhausted` when none is left and the
    /// pool cannot grow (no upstream, or the limit), `OutOfMemory` when the
    /// upstream refuses; nothing changes then.
    #[inline]
    pub fn alloc_block(&mut self) -> Result<NonNull<u8>, Error> {
        match self.alloc_fast() {
            Some(block) => Ok(block),
            None => self.alloc_slow(),
        }
    }

    /// The fast path of [`Pool::alloc_block`]: a free block of the own
    /// buffer, if it has one.
    #[inline]
    pub(crate) fn alloc_fast(&mut self) -> Option<NonNull<u8>> {
        let index = self.free_head as usize;
        if let Some(slot) = self.links.get_mut(index) {
            // A free block (END is never a valid index: `links` is shorter).
            self.free_head = *slot;
            *slot = ALLOCATED;
        } else {
            return self.fresh_block();
        }
        Some(self.handed_out(index))
    }

    /// The first block of the own buffer never handed out (the frontier
    /// moves up by one); `None` when there is none.
    #[inline]
    fn fresh_block(&mut self) -> Option<NonNull<u8>> {
        let index = self.links.len();
        if index >= self.num_blocks as usize {
            return None;
        }
        // `links` was given room for every block up front, so this never
        // reallocates (a `push` would still carry the call that could).
        let slot = self.links.spare_capacity_mut().first_mut()?;
        slot.write(ALLOCATED);
        // SAFETY: the slot at `index` (the old length) was just written,
        // within the capacity.
        unsafe { self.links.set_len(index + 1) };
        Some(self.handed_out(index))
    }

    #[inline]
    fn handed_out(&mut self, index: usize) -> NonNull<u8> {
        self.allocated += 1;
        self.allocs += 1;
        // SAFETY: a block's address lies in the buffer, so it is not 0.
        unsafe { nonnull(self.buffer.start() + index * self.divisor.bytes) }
    }

    /// The own buffer has no free block: a block of a slab (out of line,
    /// so that the fast path stays as it is without slabs).
    #[cold]
    #[inline(never)]
    fn alloc_slow(&mut self) -> Result<NonNull<u8>, Error> {
        let block = self.slabs.alloc();
        match block {
            Ok(_) => self.allocs += 1,
            Err(_) => self.failed += 1,
        }
        block
    }

    /// The most blocks in use since the last reset: blocks are taken from
    /// the frontiers only when no freed block is left, so every block
    /// below a frontier was in use at once when it moved.
    fn frontier_blocks(&self) -> usize {
        self.links.len() + self.slabs.frontier()
    }

    /// Before every block is freed at once: counts them, keeps the peak.
    fn note_clear(&mut self) {
        self.cleared += self.num_allocated() as u64;
        self.peak_blocks = self.peak_blocks.max(self.frontier_blocks());
    }

    /// Gives a block back. Anything but the start of a block of this pool
    /// (own buffer or slab) is `ForeignPointer`, a free block is
    /// `DoubleFree`; on error nothing changes. O(1) for the own buffer,
    /// O(log slabs) for a slab.
    #[inline]
    pub fn dealloc(&mut self, ptr: NonNull<u8>) -> Result<(), Error> {
        match self.dealloc_fast(ptr) {
            Ok(()) => Ok(()),
            Err(quotient) => self.dealloc_slow(quotient),
        }
    }

    /// The fast path of [`Pool::dealloc`]: frees `ptr` if it is a block of
    /// the own buffer in use; else nothing changes, and the error is the
    /// pointer's exact quotient (see [`Pool::exact_quotient`]), for
    /// [`Pool::dealloc_slow`]. (The quotient, not the pointer: the pointer
    /// is then dead once the quotient is computed, and the fast path
    /// computes it in place.)
    #[inline]
    pub(crate) fn dealloc_fast(&mut self, ptr: NonNull<u8>) -> Result<(), u64> {
        // One compare with the frontier for every block handed out (all of
        // them block starts below `num_blocks`); what lies beyond is sorted
        // out only when the free fails.
        let quotient = self.exact_quotient(ptr.as_ptr() as usize);
        // (Lossless: the crate builds for 64-bit targets only.)
        let index = quotient as usize;
        match self.links.get_mut(index) {
            Some(slot) if *slot == ALLOCATED => {
                *slot = self.free_head;
                self.free_head = index as u32;
                self.allocated -= 1;
                Ok(())
            }
            _ => Err(quotient),
        }
    }

    /// A free that [`Pool::dealloc_fast`] refused with `quotient`: a free
    /// block start of the own buffer (freed, or past the frontier: never
    /// handed out), a slab's block, or no block start at all. Out of line,
    /// as `alloc_slow`.
    #[cold]
    #[inline(never)]
    pub(crate) fn dealloc_slow(&mut self, quotient: u64) -> Result<(), Error> {
        if quotient < self.num_blocks as u64 {
            return Err(Error::DoubleFree);
        }
        self.slabs.dealloc(self.address_of_quotient(quotient))
    }

    /// The index of the block of the own buffer starting at `address`, if
    /// it is one.
    #[inline]
    fn block_index(&self, address: usize) -> Option<usize> {
        let index = self.exact_quotient(address);
        (index < self.num_blocks as u64).then_some(index as usize)
    }

    /// `(address - start) / block_size` when that division is exact, else
    /// a number above every block index (see [`Divisor::exact_quotient`]).
    #[inline]
    fn exact_quotient(&self, address: usize) -> u64 {
        let offset = (address as u64).wrapping_sub(self.buffer.start() as u64);
        self.divisor.exact_quotient(offset)
    }

    /// The address whose [`Pool::exact_quotient`] is `quotient`: the
    /// quotient's rotate and multiply are both invertible (the odd part of
    /// the block size undoes its inverse), so this is exact for every
    /// address.
    pub(crate) fn address_of_quotient(&self, quotient: u64) -> usize {
        let odd = (self.divisor.bytes >> self.divisor.shift) as u64;
        let offset = quotient.rotate_left(self.divisor.shift).wrapping_mul(odd);
        (self.buffer.start() as u64).wrapping_add(offset) as usize
    }

    /// Whether `address` is the start of a block of this pool (own buffer
    /// or slab) now in use.
    pub fn owns(&self, address: usize) -> bool {
        self.live(address) == Some(true)
    }

    /// Whether the block starting at `address` is in use; `None` when
    /// `address` is no block start of this pool.
    fn live(&self, address: usize) -> Option<bool> {
        match self.block_index(address) {
            Some(index) => Some(self.links.get(index) == Some(&ALLOCATED)),
            None => self.slabs.live(address),
        }
    }

    /// `Ok` if `ptr` is the start of a block in use, else the error its
    /// free would get.
    fn check_live(&self, ptr: NonNull<u8>) -> Result<(), Error> {
        match self.live(ptr.as_ptr() as usize) {
            Some(true) => Ok(()),
            Some(false) => Err(Error::DoubleFree),
            None => Err(Error::ForeignPointer),
        }
    }

    /// `Ok` if every block can hold `layout`, else `Unsupported`.
    #[inline]
    fn serves(&self, layout: Layout) -> Result<(), Error> {
        if layout.size() <= self.divisor.bytes && layout.align() <= self.block_align {
            Ok(())
        } else {
            Err(self.unserved(layout))
        }
    }

    /// Notes why a free of `address` was refused with `error` (for the
    /// error detail) and returns `error`. Off the hot paths.
    #[cold]
    #[inline(never)]
    pub fn explain(&self, address: usize, error: Error) -> Error {
        let size = self.divisor.bytes;
        let own = (self.buffer.start(), self.num_blocks as usize);
        let holding = if address >= own.0 && address < own.0 + own.1 * size {
            Some(own)
        } else {
            self.slabs.slab_holding(address)
        };
        let cause = match (error, holding) {
            (Error::DoubleFree, _) => {
                format!("the block at {address:#x} is already free (freed before, or never handed out)")
            }
            (_, Some((start, _))) if (address - start) % size != 0 => {
                let block = start + (address - start) / size * size;
                format!(
                    "{address:#x} is {} bytes into the block at {block:#x} ({size}-byte blocks), not its start",
                    address - block
                )
            }
            (_, _) => format!(
                "{address:#x} is outside this pool's memory (its own blocks at {:#x}, {} of {size} bytes, and {} slabs)",
                own.0,
                own.1,
                self.slabs.count()
            ),
        };
        crate::misuse::note(error, format_args!("{cause}"))
    }

    /// The layout of one block: its size and alignment.
    pub fn block_layout(&self) -> Layout {
        // The block size is a multiple of 8 below `isize::MAX`, its
        // alignment a power of two dividing it.
        Layout::from_size_align(self.divisor.bytes, self.block_align)
            .unwrap_or(Layout::new::<u64>())
    }

    /// `Unsupported` for `layout`, its cause noted.
    #[cold]
    #[inline(never)]
    fn unserved(&self, layout: Layout) -> Error {
        let (size, align) = (layout.size(), layout.align());
        crate::misuse::note(
            Error::Unsupported,
            format_args!(
                "the pool's blocks are {} bytes aligned to {}: {{size {size}, align {align}}} does not fit",
                self.divisor.bytes, self.block_align
            ),
        )
    }

    /// The alignment of every block.
    pub fn block_align(&self) -> usize {
        self.block_align
    }

    /// Blocks that can be allocated without asking the upstream: the free
    /// ones of the own buffer and of every slab held.
    pub fn num_free(&self) -> usize {
        (self.num_blocks - self.allocated) as usize + self.slabs.num_free()
    }

    /// Blocks now in use (own buffer and slabs).
    pub fn num_allocated(&self) -> usize {
        self.allocated as usize + self.slabs.num_allocated()
    }

    /// The block size in use (after rounding).
    pub fn block_size(&self) -> usize {
        self.divisor.bytes
    }

    /// Releases the buffer and gives every slab back; the pool stays
    /// valid, with no blocks, and keeps its upstream.
    pub fn drop_buffer(&mut self) {
        self.note_clear();
        self.buffer.release();
        self.links = Vec::new();
        self.num_blocks = 0;
        self.free_head = END;
        self.allocated = 0;
        self.slabs.drop_buffer();
    }
}

impl Allocator for Pool {
    const CAPS: Caps = Caps::FREE.with(Caps::RESET);

    /// A block, if one can hold `layout` (else `Unsupported`).
    #[inline]
    fn alloc(&mut self, layout: Layout) -> Result<Block, Error> {
        self.serves(layout)?;
        let ptr = self.alloc_block()?;
        Ok(Block {
            ptr,
            size: self.divisor.bytes,
        })
    }

    /// Any size up to the block size: the block itself; beyond it,
    /// `Unsupported`.
    unsafe fn resize(
        &mut self,
        ptr: NonNull<u8>,
        _: Layout,
        new_size: usize,
    ) -> Result<usize, Error> {
        self.check_live(ptr)?;
        if new_size <= self.divisor.bytes {
            Ok(self.divisor.bytes)
        } else {
            Err(Error::Unsupported)
        }
    }

    unsafe fn readable(&self, ptr: NonNull<u8>, old: Layout) -> Result<usize, Error> {
        self.check_live(ptr)?;
        Ok(old.size().min(self.divisor.bytes))
    }

    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<Block, Error> {
        self.check_live(ptr)?;
        self.serves(new)?;
        // SAFETY: forwarded from this function's contract.
        let size = unsafe { self.resize(ptr, old, new.size())? };
        Ok(Block { ptr, size })
    }

    unsafe fn free(&mut self, ptr: NonNull<u8>, _: Layout) -> Result<(), Error> {
        self.dealloc(ptr)
    }

    /// Every block free again, in O(number of slabs): the frontier goes
    /// back to the first block (the link table is emptied, not walked);
    /// the largest slab is kept (all its blocks free) and the others go
    /// back upstream.
    fn reset(&mut self) -> Result<(), Error> {
        self.note_clear();
        self.links.clear();
        self.free_head = END;
        self.allocated = 0;
        self.slabs.reset();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
impl Visible for Pool {
    const KIND: Kind = Kind::Heap;
    const REALLOC_IN_PLACE: bool = true;

    fn usable_size(&self, ptr: NonNull<u8>) -> Option<usize> {
        (self.live(ptr.as_ptr() as usize) == Some(true)).then_some(self.divisor.bytes)
    }

    fn for_each_region(&self, f: &mut dyn FnMut(usize, usize)) {
        f(self.buffer.start(), self.buffer.capacity());
        for chunk in self.slabs.chunks() {
            f(chunk.start, chunk.size);
        }
    }

    fn starts_region(&self, addr: usize) -> bool {
        addr == self.buffer.start() || self.slabs.chunks().any(|chunk| chunk.start == addr)
    }

    fn own_buffer(&mut self) -> Option<&mut Buffer> {
        Some(&mut self.buffer)
    }

    fn for_each_live(&self, f: &mut dyn FnMut(usize, usize)) {
        let size = self.divisor.bytes;
        for (index, link) in self.links.iter().enumerate() {
            if *link == ALLOCATED {
                f(self.buffer.start() + index * size, size);
            }
        }
        self.slabs.for_each_live(&mut |address| f(address, size));
    }
}

#[cfg(test)]
mod tests_growth;

impl Inspect for Pool {
    fn stats(&mut self) -> Stats {
        let size = self.divisor.bytes;
        let live = self.num_allocated();
        let frees = self.allocs.saturating_sub(live as u64 + self.cleared);
        Stats {
            in_use_bytes: known(live * size),
            peak_in_use_bytes: known(self.peak_blocks.max(self.frontier_blocks()) * size),
            live_blocks: known(live),
            allocs: Some(self.allocs),
            frees: Some(frees),
            failed_allocs: Some(self.failed),
            capacity_bytes: known(self.capacity()),
            largest_free_block: known(if self.num_free() > 0 { size } else { 0 }),
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.links.len() > self.num_blocks as usize {
            return Err(format!(
                "{} blocks handed out of a buffer of {}",
                self.links.len(),
                self.num_blocks
            ));
        }
        slabs::check_links(&self.links, self.free_head, self.allocated as usize, "pool")?;
        self.slabs.check()
    }
}
