//! The slabs of a growing pool: chunks from an upstream, cut into blocks of
//! the pool's block size.
//!
//! Slab blocks are numbered in one index space, slab after slab in the
//! order obtained (slab `k` holds indices `base_k .. base_k + count_k`), and
//! every block ever handed out has one `u32` link, encoded as the own
//! buffer's (see the parent module). A slab is obtained only when every
//! block of the slabs before it has been handed out, so the blocks handed
//! out are always a prefix of that space: one frontier (`links.len()`) and
//! one free list serve every slab, and a freed block of any slab is reused
//! before a fresh one is carved.
//!
//! An index becomes an address by a binary search over the slabs in index
//! order, an address an index by one over the slabs in address order, with
//! the exact-division test against the slab found: O(log slabs) either
//! way, and slab sizes grow geometrically, so the number of slabs grows
//! with the logarithm of the bytes served. Chunks are 16-byte aligned,
//! which every block alignment divides, so slab blocks are aligned as the
//! own buffer's are.

use super::{Divisor, ALLOCATED, END, MAX_BLOCKS};
use crate::allocator::nonnull;
use crate::error::Error;
use crate::growth::{Chunks, Source};
use core::ptr::NonNull;

/// One slab: where it starts, and its blocks in the index space.
#[derive(Clone, Copy, Debug)]
struct Slab {
    start: usize,
    /// The index of its first block.
    base: usize,
    /// Its number of blocks (at least 1).
    count: usize,
}

impl Slab {
    /// The index of the block starting at `address`, if it is one of this
    /// slab's block starts.
    fn index_of(&self, address: usize, divisor: Divisor) -> Option<usize> {
        let quotient = divisor.exact_quotient(address.wrapping_sub(self.start) as u64);
        (quotient < self.count as u64).then(|| self.base + quotient as usize)
    }
}

/// The slabs of a pool, where they come from, and their blocks' links.
#[derive(Debug)]
pub(super) struct Slabs {
    /// Slab `k` is chunk `k` of these (the own buffer counts against the
    /// limit through them).
    chunks: Chunks,
    /// The slabs in index order (the order obtained).
    by_index: Vec<Slab>,
    /// The same slabs in address order.
    by_address: Vec<Slab>,
    /// One link per slab block ever handed out.
    links: Vec<u32>,
    free_head: u32,
    /// Blocks in all slabs (the index the next slab starts at).
    blocks: usize,
    allocated: usize,
    divisor: Divisor,
}

impl Slabs {
    /// No slabs and no upstream, for a pool whose own buffer is `own`
    /// bytes of blocks of `divisor.bytes`.
    pub(super) fn new(divisor: Divisor, own: usize) -> Slabs {
        Slabs {
            chunks: Chunks::none(own),
            by_index: Vec::new(),
            by_address: Vec::new(),
            links: Vec::new(),
            free_head: END,
            blocks: 0,
            allocated: 0,
            divisor,
        }
    }

    /// Slabs come from `source` from now on, starting at `first_slab`
    /// bytes (0: the library's choice). `InvalidArgument` while slabs of an
    /// earlier source are held.
    pub(super) fn set_source(
        &mut self,
        source: Box<dyn Source>,
        first_slab: usize,
    ) -> Result<(), Error> {
        if !self.chunks.held().is_empty() {
            return Err(Error::InvalidArgument);
        }
        self.chunks.set_source(source, first_slab);
        Ok(())
    }

    /// See [`super::Pool::set_limit`].
    pub(super) fn set_limit(&mut self, limit: usize) -> Result<(), Error> {
        self.chunks.set_limit(limit)
    }

    /// Whether slabs can be obtained.
    pub(super) fn grows(&self) -> bool {
        self.chunks.grows()
    }

    /// Bytes held: the own buffer's and every slab's.
    pub(super) fn held_bytes(&self) -> usize {
        self.chunks.held_bytes()
    }

    /// Free blocks in the slabs held.
    pub(super) fn num_free(&self) -> usize {
        self.blocks - self.allocated
    }

    /// Slab blocks in use.
    pub(super) fn num_allocated(&self) -> usize {
        self.allocated
    }

    /// A free block of a slab: the most recently freed one, else the first
    /// never handed out, else the first of a new slab. `Exhausted` without
    /// an upstream or past the limit, `OutOfMemory` when the upstream
    /// refuses; nothing changes then.
    pub(super) fn alloc(&mut self) -> Result<NonNull<u8>, Error> {
        let head = self.free_head as usize;
        let address = if head < self.links.len() {
            let address = self.address_of(head).ok_or(Error::Exhausted)?;
            self.free_head = core::mem::replace(&mut self.links[head], ALLOCATED);
            address
        } else {
            if self.links.len() == self.blocks {
                self.add_slab()?;
            }
            let address = self.address_of(self.links.len()).ok_or(Error::Exhausted)?;
            // `add_slab` reserved a link for every block of every slab, so
            // this never reallocates.
            self.links.push(ALLOCATED);
            address
        };
        self.allocated += 1;
        // SAFETY: a block's address lies in a slab, so it is not 0.
        Ok(unsafe { nonnull(address) })
    }

    /// Obtains a slab of at least one block, room for its links first (so
    /// that nothing can fail once the chunk is obtained).
    fn add_slab(&mut self) -> Result<(), Error> {
        let bytes = self.divisor.bytes;
        // Indices stay below END, as the own buffer's do.
        let room = MAX_BLOCKS.saturating_sub(self.blocks);
        if room == 0 {
            return Err(Error::Exhausted);
        }
        let size = self.chunks.next_chunk_size(bytes).ok_or(Error::Exhausted)?;
        let count = (size / bytes).min(room);
        let oom = |_| Error::OutOfMemory;
        self.links.try_reserve_exact(count).map_err(oom)?;
        self.by_index.try_reserve(1).map_err(oom)?;
        self.by_address.try_reserve(1).map_err(oom)?;
        let chunk = self.chunks.grow(bytes, false)?;
        let slab = Slab {
            start: chunk.start,
            base: self.blocks,
            // The chunk is the size announced (and holds at least a block).
            count: (chunk.size / bytes).min(count),
        };
        let place = self.by_address.partition_point(|s| s.start < slab.start);
        self.by_address.insert(place, slab);
        self.by_index.push(slab);
        self.blocks += slab.count;
        Ok(())
    }

    /// The address of the block of index `index`, if there is one.
    fn address_of(&self, index: usize) -> Option<usize> {
        let before = self.by_index.partition_point(|s| s.base <= index);
        let slab = self.by_index.get(before.checked_sub(1)?)?;
        let within = index - slab.base;
        (within < slab.count).then(|| slab.start + within * self.divisor.bytes)
    }

    /// The index of the slab block starting at `address`, if it is one.
    fn index_of(&self, address: usize) -> Option<usize> {
        let before = self.by_address.partition_point(|s| s.start <= address);
        let slab = self.by_address.get(before.checked_sub(1)?)?;
        slab.index_of(address, self.divisor)
    }

    /// The start and block count of the slab whose memory holds `address`.
    pub(super) fn slab_holding(&self, address: usize) -> Option<(usize, usize)> {
        let span = self.divisor.bytes;
        self.by_address
            .iter()
            .find(|slab| address >= slab.start && address < slab.start + slab.count * span)
            .map(|slab| (slab.start, slab.count))
    }

    /// Slab blocks ever handed out since the last reset (the frontier).
    pub(super) fn frontier(&self) -> usize {
        self.links.len()
    }

    /// Checks the slabs' links: every free list ends, holds only free
    /// blocks, and with the blocks in use accounts for the frontier.
    pub(super) fn check(&self) -> Result<(), String> {
        check_links(&self.links, self.free_head, self.allocated, "slab")
    }

    /// How many slabs there are.
    pub(super) fn count(&self) -> usize {
        self.by_index.len()
    }

    /// Calls `f(address)` for every slab block in use.
    pub(super) fn for_each_live(&self, f: &mut dyn FnMut(usize)) {
        for (index, link) in self.links.iter().enumerate() {
            if *link == ALLOCATED {
                if let Some(address) = self.address_of(index) {
                    f(address);
                }
            }
        }
    }

    /// The chunks the slabs are made of (the spare included).
    pub(super) fn chunks(&self) -> impl Iterator<Item = crate::growth::Chunk> + '_ {
        self.chunks.held_from(0)
    }

    /// Whether the slab block starting at `address` is in use; `None` when
    /// `address` is no slab block start.
    pub(super) fn live(&self, address: usize) -> Option<bool> {
        self.index_of(address)
            .map(|index| self.links.get(index) == Some(&ALLOCATED))
    }

    /// Gives a slab block back: `ForeignPointer` for anything but a slab
    /// block start, `DoubleFree` for a free block (freed, or never handed
    /// out); nothing changes then.
    pub(super) fn dealloc(&mut self, address: usize) -> Result<(), Error> {
        let index = self.index_of(address).ok_or(Error::ForeignPointer)?;
        match self.links.get_mut(index) {
            Some(slot) if *slot == ALLOCATED => {
                *slot = self.free_head;
                self.free_head = index as u32;
                self.allocated -= 1;
                Ok(())
            }
            _ => Err(Error::DoubleFree),
        }
    }

    /// Every slab block free again; the largest slab is kept (its blocks
    /// become indices `0..count`) and the others go back upstream. O(number
    /// of slabs): the link table is emptied, not walked.
    pub(super) fn reset(&mut self) {
        let kept = self.chunks.keep_largest().and_then(|chunk| {
            self.by_index
                .iter()
                .find(|slab| slab.start == chunk.start)
                .copied()
        });
        self.by_index.clear();
        self.by_address.clear();
        self.links.clear();
        self.free_head = END;
        self.blocks = 0;
        self.allocated = 0;
        // Every chunk held is a slab, so the kept chunk is one.
        let Some(kept) = kept else { return };
        let slab = Slab { base: 0, ..kept };
        // The link table had room for every slab: a smaller one will do
        // when the kept slab needs much less (if the system provides it).
        if self.links.capacity() / 2 > slab.count {
            let mut smaller = Vec::new();
            if smaller.try_reserve_exact(slab.count).is_ok() {
                self.links = smaller;
            }
        }
        // Both lists held this slab a moment ago: no reallocation.
        self.by_index.push(slab);
        self.by_address.push(slab);
        self.blocks = slab.count;
    }

    /// Gives every slab back, the pool's own buffer being released too (it
    /// counts 0 bytes against the limit from now on).
    pub(super) fn drop_buffer(&mut self) {
        self.chunks.release_all();
        self.chunks.set_own(0);
        self.by_index = Vec::new();
        self.by_address = Vec::new();
        self.links = Vec::new();
        self.free_head = END;
        self.blocks = 0;
        self.allocated = 0;
    }
}

/// Checks one link table (see the pool's module documentation): the free
/// list from `head` visits only free blocks below the frontier, each once,
/// and ends; it and the `allocated` blocks in use account for every block
/// below the frontier.
pub(super) fn check_links(
    links: &[u32],
    head: u32,
    allocated: usize,
    what: &str,
) -> Result<(), String> {
    let in_use = links.iter().filter(|&&link| link == ALLOCATED).count();
    if in_use != allocated {
        return Err(format!(
            "{what} blocks: {in_use} marked in use, the counter says {allocated}"
        ));
    }
    let mut free = 0;
    let mut at = head;
    while (at as usize) < links.len() {
        let link = links[at as usize];
        if link == ALLOCATED {
            return Err(format!(
                "{what} block {at}: on the free list but marked in use"
            ));
        }
        free += 1;
        if free > links.len() {
            return Err(format!("{what} free list: a cycle through block {at}"));
        }
        at = link;
    }
    if at != END {
        return Err(format!(
            "{what} free list: a link to block {at}, beyond the {} handed out",
            links.len()
        ));
    }
    if free + in_use != links.len() {
        return Err(format!(
            "{what} blocks: {} handed out, {in_use} in use and {free} on the free list",
            links.len()
        ));
    }
    Ok(())
}
