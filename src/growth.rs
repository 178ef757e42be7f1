//! Growing from an upstream: where an arena that is full gets more memory.
//!
//! An arena with an upstream keeps the chunks it obtained in a [`Chunks`]:
//! chunk sizes start at a first size and double (up to [`MAX_CHUNK`]), a
//! request larger than the next size gets a chunk that fits it, and every
//! chunk goes back upstream when the arena is dropped. A limit caps the
//! bytes the arena may hold (its own buffer included). The number of
//! chunks therefore grows with the logarithm of the bytes served, which is
//! what keeps every lookup over them (which chunk holds a pointer)
//! independent of the number of blocks.

use crate::allocator::{Allocator, Block};
use crate::error::Error;
use core::alloc::Layout;
use core::ptr::NonNull;

/// Alignment of every chunk (as of every buffer the library allocates).
pub const CHUNK_ALIGN: usize = 16;
/// The first chunk size when the caller leaves the choice to the library.
pub const DEFAULT_CHUNK: usize = 64 << 10;
/// Chunks stop doubling at this size (a larger request still gets a chunk
/// that fits it).
pub const MAX_CHUNK: usize = 1 << 30;

/// Where chunks come from: any allocator, seen through a trait an arena can
/// hold as an object (the C ABI implements it over a `VaisAllocator`).
pub trait Source {
    /// A block of `layout`, zero-filled when `zeroed`; `OutOfMemory` (or
    /// the source's own error) when it refuses.
    fn obtain(&mut self, layout: Layout, zeroed: bool) -> Result<Block, Error>;

    /// Gives back a block obtained with `layout`.
    ///
    /// # Safety
    /// `block` came from [`Source::obtain`] of this source with `layout`,
    /// and is given back once.
    unsafe fn give_back(&mut self, block: Block, layout: Layout);
}

/// Any of this crate's allocators is a source.
impl<A: Allocator> Source for A {
    fn obtain(&mut self, layout: Layout, zeroed: bool) -> Result<Block, Error> {
        if zeroed {
            self.alloc_zeroed(layout)
        } else {
            self.alloc(layout)
        }
    }

    unsafe fn give_back(&mut self, block: Block, layout: Layout) {
        // SAFETY: the caller's promise: the block is this allocator's.
        let _refused = unsafe { self.free(block.ptr, layout) };
    }
}

/// A chunk obtained from the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// First address.
    pub start: usize,
    /// Size in bytes (what was asked of the source).
    pub size: usize,
}

impl Chunk {
    /// One past the last address.
    pub fn end(&self) -> usize {
        self.start + self.size
    }

    fn layout(&self) -> Layout {
        // A size the source once served with this alignment is valid.
        Layout::from_size_align(self.size, CHUNK_ALIGN).unwrap_or(Layout::new::<u8>())
    }
}

/// The chunks of a growing arena, its source, and its limit.
pub struct Chunks {
    source: Option<Box<dyn Source>>,
    /// Chunks in the order obtained (the arena's current one is the last).
    held: Vec<Chunk>,
    /// A chunk given back by a release, kept for the next growth.
    spare: Option<Chunk>,
    /// The size of the next chunk.
    next_size: usize,
    /// Bytes the arena may hold in all (own buffer included).
    limit: usize,
    /// The arena's own buffer's bytes (counted against the limit).
    own: usize,
}

impl core::fmt::Debug for Chunks {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Chunks")
            .field("source", &self.source.is_some())
            .field("held", &self.held)
            .field("spare", &self.spare)
            .field("next_size", &self.next_size)
            .field("limit", &self.limit)
            .finish()
    }
}

impl Chunks {
    /// No source (the arena never grows), no limit beyond its own buffer
    /// of `own` bytes.
    pub fn none(own: usize) -> Chunks {
        Chunks {
            source: None,
            held: Vec::new(),
            spare: None,
            next_size: DEFAULT_CHUNK,
            limit: usize::MAX,
            own,
        }
    }

    /// The arena's own buffer is now `own` bytes (0 once released).
    pub fn set_own(&mut self, own: usize) {
        self.own = own;
    }

    /// Whether the arena can grow.
    pub fn grows(&self) -> bool {
        self.source.is_some()
    }

    /// From now on chunks come from `source`, starting at `first_size`
    /// bytes (0: [`DEFAULT_CHUNK`]).
    pub fn set_source(&mut self, source: Box<dyn Source>, first_size: usize) {
        self.source = Some(source);
        self.next_size = if first_size == 0 {
            DEFAULT_CHUNK
        } else {
            first_size
        };
    }

    /// Caps the bytes held at `limit` (`usize::MAX`: no limit).
    /// `InvalidArgument` when more is held already.
    pub fn set_limit(&mut self, limit: usize) -> Result<(), Error> {
        if self.held_bytes() > limit {
            let held = self.held_bytes();
            return Err(crate::misuse::note(
                Error::InvalidArgument,
                format_args!("the limit {limit} is below the {held} bytes held already"),
            ));
        }
        self.limit = limit;
        Ok(())
    }

    /// Bytes held now: the own buffer and every chunk (a spare included).
    pub fn held_bytes(&self) -> usize {
        let chunks: usize = self.held.iter().map(|c| c.size).sum();
        self.own + chunks + self.spare.map_or(0, |c| c.size)
    }

    /// The chunks held, oldest first.
    pub fn held(&self) -> &[Chunk] {
        &self.held
    }

    /// The spare chunk (held for the next growth, in use by nothing).
    pub fn spare(&self) -> Option<Chunk> {
        self.spare
    }

    /// The chunks held from index `from` on (none if there are fewer),
    /// then the spare: with `from` 0, all the memory obtained.
    pub fn held_from(&self, from: usize) -> impl Iterator<Item = Chunk> + '_ {
        let held = &self.held[from.min(self.held.len())..];
        held.iter().copied().chain(self.spare)
    }

    /// The size of the chunk [`Chunks::grow`] would add now for
    /// `min_size` (the spare's, or a new one's), so that an arena can make
    /// room for its bookkeeping first; `None` when no size fits.
    pub fn next_chunk_size(&self, min_size: usize) -> Option<usize> {
        if let Some(spare) = self.spare.filter(|spare| spare.size >= min_size) {
            return Some(spare.size);
        }
        let min_size = crate::layout::align_up(min_size, CHUNK_ALIGN)?;
        Some(self.next_size.max(min_size))
    }

    /// A new chunk of at least `min_size` bytes (zero-filled when
    /// `zeroed`), now the last one held: the spare if it is big enough,
    /// else one from the source.
    /// `Exhausted` without a source or past the limit, `OutOfMemory` (or
    /// the source's error) when the source refuses; nothing changes then.
    pub fn grow(&mut self, min_size: usize, zeroed: bool) -> Result<Chunk, Error> {
        if let Some(spare) = self.spare.filter(|spare| spare.size >= min_size) {
            self.held.try_reserve(1).map_err(|_| Error::OutOfMemory)?;
            self.spare = None;
            if zeroed {
                // Accessible to the memory tools while it is cleared (ASan
                // checks the `memset`), then the arena's again.
                crate::tools::returning(spare.start, spare.size);
                // SAFETY: the spare is a chunk this arena holds, of `size`
                // writable bytes, in use by nothing.
                unsafe { (spare.start as *mut u8).write_bytes(0, spare.size) };
                crate::tools::obtained(spare.start, spare.size);
            }
            self.held.push(spare);
            return Ok(spare);
        }
        let source = self.source.as_mut().ok_or(Error::Exhausted)?;
        let min_size = crate::layout::align_up(min_size, CHUNK_ALIGN).ok_or(Error::Exhausted)?;
        let size = self.next_size.max(min_size);
        let held = self.own
            + self.held.iter().map(|c| c.size).sum::<usize>()
            + self.spare.map_or(0, |c| c.size);
        if size > self.limit.saturating_sub(held) {
            return Err(Error::Exhausted);
        }
        let layout = Layout::from_size_align(size, CHUNK_ALIGN).map_err(|_| Error::Exhausted)?;
        self.held.try_reserve(1).map_err(|_| Error::OutOfMemory)?;
        let block = source.obtain(layout, zeroed).map_err(|error| match error {
            Error::Exhausted | Error::OutOfMemory => Error::OutOfMemory,
            other => other,
        })?;
        let chunk = Chunk {
            start: block.addr(),
            size,
        };
        crate::tools::obtained(chunk.start, chunk.size);
        self.held.push(chunk);
        // Doubling up to MAX_CHUNK, never shrinking (a first size above
        // MAX_CHUNK stays: `clamp` would panic with its bounds reversed).
        self.next_size = self
            .next_size
            .saturating_mul(2)
            .min(MAX_CHUNK)
            .max(self.next_size);
        Ok(chunk)
    }

    /// Gives back the chunk obtained last (one the arena cannot use).
    pub fn give_back_last(&mut self) {
        if let Some(chunk) = self.held.pop() {
            self.give_back(chunk);
        }
    }

    /// Gives back every chunk held after the first `keep`, keeping one of
    /// them (the largest) as the spare if there is no spare yet, so that a
    /// loop that grows and releases each round does not call the source
    /// each round.
    pub fn release_after(&mut self, keep: usize) {
        while self.held.len() > keep {
            let Some(chunk) = self.held.pop() else { break };
            match self.spare {
                Some(spare) if spare.size >= chunk.size => self.give_back(chunk),
                Some(spare) => {
                    self.give_back(spare);
                    self.spare = Some(chunk);
                }
                None => self.spare = Some(chunk),
            }
        }
    }

    /// Keeps only the largest chunk (held or spare), which becomes the
    /// only one held; gives back the others. The index of the kept chunk
    /// is 0 afterwards.
    pub fn keep_largest(&mut self) -> Option<Chunk> {
        self.release_after(0);
        let spare = self.spare.take()?;
        self.held.push(spare);
        Some(spare)
    }

    /// Gives back every chunk.
    pub fn release_all(&mut self) {
        self.release_after(0);
        if let Some(spare) = self.spare.take() {
            self.give_back(spare);
        }
    }

    fn give_back(&mut self, chunk: Chunk) {
        if let (Some(source), Some(ptr)) =
            (self.source.as_mut(), NonNull::new(chunk.start as *mut u8))
        {
            let block = Block {
                ptr,
                size: chunk.size,
            };
            crate::tools::returning(chunk.start, chunk.size);
            // SAFETY: every chunk held came from this source's `obtain`
            // with this layout, and leaves `held`/`spare` as it goes back.
            unsafe { source.give_back(block, chunk.layout()) };
        }
    }
}

impl Drop for Chunks {
    fn drop(&mut self) {
        self.release_all();
    }
}
