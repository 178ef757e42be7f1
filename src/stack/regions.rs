//! A stack that grows from an upstream: its regions.
//!
//! The stack's regions are its own buffer (region 0, possibly empty) and
//! the chunks it obtained (region `i` is chunk `i - 1`). It pushes into one
//! region at a time, the current one; when a push does not fit, the
//! current region is *parked* (its buffer, top, link and newest header's
//! copy kept as they are) and the push goes to the next region held, or to
//! a new chunk. A pop that empties a region moves back down to the parked
//! one below, so the header chain never crosses a region: each region's
//! chain starts with a link of 0. Chunks come zero-filled (so no header
//! word a pop reads was never written) and stay held after the stack
//! moves down (a reused stack stops calling upstream); `reset` keeps the
//! largest, a release to a mark gives back those above the mark's region
//! but one.

use super::{Header, Stack, GAP_MASK, HEADER_SIZE, PAYLOAD_ALIGN};
use crate::allocator::footprint;
use crate::buffer::Buffer;
use crate::error::Error;
use crate::growth::Source;

/// The largest chunk a growing stack takes: the check bits of its headers
/// are sized for links up to it.
pub const MAX_STACK_CHUNK: usize = 1 << 30;

/// A region below the current one, as the stack left it.
#[derive(Debug)]
pub(super) struct Parked {
    pub(super) buffer: Buffer,
    pub(super) top: usize,
    pub(super) link: usize,
    pub(super) newest_rest: u64,
    pub(super) high: usize,
}

impl Stack {
    /// From now on a push that does not fit is served from a new chunk of
    /// `source` (sizes start at `first_chunk`, 0: the library's choice, and
    /// double; at most 1 GiB). `InvalidArgument` unless the
    /// stack is empty and holds no chunk of an earlier source: the check
    /// bits are resized for chunk-sized links, which changes the meaning of
    /// headers already written.
    pub fn set_upstream(
        &mut self,
        source: Box<dyn Source>,
        first_chunk: usize,
    ) -> Result<(), Error> {
        if self.link != 0
            || !self.parked.is_empty()
            || self.chunks.held_bytes() > self.capacity_own()
        {
            return Err(crate::misuse::note(
                Error::InvalidArgument,
                format_args!("the stack must be empty, and hold no chunk, to get an upstream"),
            ));
        }
        self.chunks
            .set_source(source, first_chunk.min(MAX_STACK_CHUNK));
        let own = u64::BITS - (self.capacity_own() as u64).leading_zeros();
        let chunk = u64::BITS - (MAX_STACK_CHUNK as u64).leading_zeros();
        self.set_check_shift(own.max(chunk).max(16));
        self.clear();
        Ok(())
    }

    /// Caps the bytes the stack may hold (its own buffer included) at
    /// `limit`; `usize::MAX` for no limit. `InvalidArgument` when it holds
    /// more already.
    pub fn set_limit(&mut self, limit: usize) -> Result<(), Error> {
        self.chunks.set_limit(limit)
    }

    /// Whether the stack grows from an upstream.
    pub fn grows(&self) -> bool {
        self.chunks.grows()
    }

    /// Bytes held now: the own buffer and every chunk.
    pub fn capacity(&self) -> usize {
        self.chunks.held_bytes()
    }

    fn capacity_own(&self) -> usize {
        match self.parked.first() {
            Some(own) => own.buffer.capacity(),
            None => self.buffer.capacity(),
        }
    }

    /// Moves the stack up to a region where a push of `size` bytes at
    /// alignment `align` fits: the next region held that can take it
    /// (skipped ones are parked empty), else a new chunk. `Exhausted`
    /// without an upstream, past the limit or past `MAX_STACK_CHUNK`,
    /// `OutOfMemory` when the upstream refuses; nothing changes then.
    pub(super) fn move_up_for(&mut self, size: usize, align: usize) -> Result<(), Error> {
        if !self.chunks.grows() {
            return Err(Error::Exhausted);
        }
        // A fresh region's first payload is at most `align` (or 16) plus
        // its header in, and large alignments pad with a dead header.
        let align = align.max(PAYLOAD_ALIGN);
        let needed = footprint(size)
            .checked_add(align + 2 * HEADER_SIZE + GAP_MASK)
            .filter(|&needed| needed <= MAX_STACK_CHUNK)
            .ok_or(Error::Exhausted)?;
        let current = self.parked.len();
        let held = self.chunks.held().len();
        let target = match (current..held).find(|&i| self.chunks.held()[i].size >= needed) {
            // Chunk `i` is region `i + 1`.
            Some(i) => i + 1,
            None => {
                self.chunks.grow(needed, true)?;
                held + 1
            }
        };
        while self.parked.len() + 1 < target {
            self.park_and_enter(self.parked.len());
        }
        self.park_and_enter(self.parked.len());
        Ok(())
    }

    /// Parks the current region and makes region `from + 1` (a chunk held)
    /// the current one, empty.
    fn park_and_enter(&mut self, from: usize) {
        let chunk = self.chunks.held()[from];
        // SAFETY: the chunk is held (obtained from the source, given back
        // only when no region is over it: `release_after` and
        // `keep_largest` run after the stack moved below it), so its bytes
        // stay valid and unused by anything else while this buffer exists.
        let buffer = unsafe { Buffer::borrow(chunk.start, chunk.size) }.unwrap_or(Buffer::empty());
        // The region's own high-water mark is counted before it is parked
        // at its current top.
        self.note_peak();
        let left = core::mem::replace(&mut self.buffer, buffer);
        self.below += self.top - left.start();
        self.parked.push(Parked {
            buffer: left,
            top: self.top,
            link: self.link,
            newest_rest: self.newest_rest,
            high: self.high,
        });
        self.top = self.buffer.start();
        self.end = self.buffer.end();
        self.high = self.top;
        self.link = 0;
        self.newest_rest = 0;
        // A pop that empties this region leaves the fast path.
        self.mark_floor = self.top + 1;
    }

    /// Moves back down to the parked region below (the current region,
    /// empty or not, stays held).
    pub(super) fn move_down(&mut self) {
        let Some(parked) = self.parked.pop() else {
            return;
        };
        self.below -= parked.top - parked.buffer.start();
        self.buffer = parked.buffer;
        self.top = parked.top;
        self.end = self.buffer.end();
        self.link = parked.link;
        self.newest_rest = parked.newest_rest;
        self.high = parked.high;
        // Its newest allocation may have been freed out of order while it
        // was parked: then it is reclaimed, as a pop reclaims dead ones.
        if self.link != 0 && matches!(self.classify(self.link), Header::Dead(_)) {
            self.settle();
        }
        self.drop_stale_marks();
    }

    /// Moves down while the current region is empty and one is parked.
    pub(super) fn move_down_while_empty(&mut self) {
        while self.link == 0 && !self.parked.is_empty() {
            self.move_down();
        }
    }
}
