//! What an allocator can say about itself: its statistics ([`Stats`]) and
//! a whole-heap integrity check, behind one trait, [`Inspect`], that every
//! core implements (the C `allocator_stats` and `allocator_check`).

/// An allocator's statistics; a field an allocator cannot know is `None`
/// (-1 in C).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes of the blocks in use (the bump arena and the stack: the bytes
    /// they have handed out since the last reset; the free list: blocks
    /// with their headers).
    pub in_use_bytes: Option<u64>,
    /// The largest `in_use_bytes` since the allocator was made.
    pub peak_in_use_bytes: Option<u64>,
    /// Blocks in use.
    pub live_blocks: Option<u64>,
    /// Successful allocations since the allocator was made.
    pub allocs: Option<u64>,
    /// Blocks given back one by one (a free, a pop; not a reset) since the
    /// allocator was made.
    pub frees: Option<u64>,
    /// Allocations refused for lack of room (`Exhausted`, `OutOfMemory`)
    /// since the allocator was made (requests refused as invalid before
    /// they reach the allocator are not counted).
    pub failed_allocs: Option<u64>,
    /// Bytes held now (the own buffer, chunks, slabs, regions).
    pub capacity_bytes: Option<u64>,
    /// The largest block that could be handed out now without asking an
    /// upstream.
    pub largest_free_block: Option<u64>,
}

/// The counters a core keeps for its [`Stats`]: kept always, each an add
/// on a path that writes the allocator's state anyway.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Blocks handed out.
    pub allocs: u64,
    /// Blocks given back one by one.
    pub frees: u64,
    /// Blocks freed all at once (reset, release to a mark, drop).
    pub cleared: u64,
    /// Requests refused for lack of room (`Exhausted`, `OutOfMemory`).
    pub failed: u64,
}

impl Counters {
    /// Both sets of counts, added.
    pub fn plus(self, other: Counters) -> Counters {
        Counters {
            allocs: self.allocs + other.allocs,
            frees: self.frees + other.frees,
            cleared: self.cleared + other.cleared,
            failed: self.failed + other.failed,
        }
    }

    /// Blocks handed out and not given back.
    pub fn live(self) -> u64 {
        self.allocs.saturating_sub(self.frees + self.cleared)
    }
}

/// `value` as a statistic.
pub(crate) fn known(value: usize) -> Option<u64> {
    Some(value as u64)
}

/// Statistics and an integrity check.
pub trait Inspect {
    /// The allocator's statistics now.
    fn stats(&mut self) -> Stats;

    /// Reads the allocator's whole state (every header, link, size class
    /// and counter it keeps), O(size): `Err` with a sentence naming the
    /// first damage found.
    fn check(&self) -> Result<(), String>;
}
