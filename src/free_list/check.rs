//! [`FreeList::check_consistency`]: a walk of every region's heap and of
//! every list that verifies the invariants listed in the module
//! documentation, without trusting the headers and links it checks, and of
//! the regions' own bookkeeping.

use super::cache::CACHED;
use super::class::{class_of, FL_COUNT, FL_SLOTS, SL_COUNT};
use super::header::{State, FREE, PREV_FREE, SIZE_MASK};
use super::regions::{Origin, Regions};
use super::seglists::{Link, NONE};
use super::{FreeList, GRANULE, MIN_BLOCK};

impl FreeList {
    /// Verifies every invariant listed in the module documentation, in
    /// every region; `Err` names the first one broken. Walks every heap:
    /// for tests and debugging, not for hot paths.
    pub fn check_consistency(&self) -> Result<(), String> {
        self.check_heap()?;
        self.check_regions()
    }

    /// Invariants 1 to 5 of this region's heap.
    pub(super) fn check_heap(&self) -> Result<(), String> {
        let mut offset = 0;
        let mut prev_size = 0;
        let mut prev_free = false;
        let mut allocated = 0;
        let mut free_blocks = 0;
        let mut cached = Vec::new();
        while offset < self.heap_len {
            let mut word = self.buffer.read_word(offset + 8);
            if word & CACHED != 0 {
                // A cached block: a block in use with one more bit, counted
                // as free, and in the cache exactly once (checked below).
                cached.push(offset as u64);
                word ^= CACHED;
                if word & FREE != 0 {
                    return Err(format!("block {offset}: cached and free"));
                }
            }
            let size = (word & SIZE_MASK) as usize;
            let free = word & FREE != 0;
            if !self.is_header(word, offset, State::free_if(free)) {
                return Err(format!("block {offset}: bad magic or state bits"));
            }
            if size < MIN_BLOCK || size % GRANULE != 0 || size > self.heap_len - offset {
                return Err(format!("block {offset}: bad size {size}"));
            }
            if (word & PREV_FREE != 0) != prev_free {
                return Err(format!(
                    "block {offset}: PREV_FREE disagrees with its predecessor"
                ));
            }
            let prev_word = self.buffer.read_word(offset);
            if prev_free && prev_word != prev_size as u64 {
                return Err(format!(
                    "block {offset}: word 0 {prev_word:#x}, free predecessor {prev_size}"
                ));
            }
            if free && prev_free {
                return Err(format!("block {offset}: two adjacent free blocks"));
            }
            if free {
                free_blocks += 1;
                let (first, second) = class_of(size);
                if !self.list_contains(first, second, offset) {
                    return Err(format!("free block {offset} not in its class list"));
                }
            } else if cached.last() != Some(&(offset as u64)) {
                allocated += size;
            }
            prev_size = size;
            prev_free = free;
            offset += size;
        }
        if offset != self.heap_len {
            return Err(format!("blocks end at {offset}, heap at {}", self.heap_len));
        }
        let mut slots: Vec<u64> = self.cache.offsets().collect();
        slots.sort_unstable();
        if slots != cached {
            return Err(format!(
                "the cache holds blocks {slots:?}, the headers say {cached:?}"
            ));
        }
        if allocated != self.allocated {
            return Err(format!(
                "allocated {} but blocks in use sum to {allocated}",
                self.allocated
            ));
        }
        let mut listed = 0;
        for first in 0..FL_COUNT {
            for second in 0..SL_COUNT {
                let count = self.list_len(first, second)?;
                listed += count;
                let bit = self.second_maps[first & (FL_SLOTS - 1)] & (1 << second) != 0;
                if bit != (count > 0) {
                    return Err(format!(
                        "class ({first},{second}): bit {bit}, {count} blocks"
                    ));
                }
            }
            if (self.first_map & (1 << first) != 0)
                != (self.second_maps[first & (FL_SLOTS - 1)] != 0)
            {
                return Err(format!("first level {first}: map disagrees"));
            }
        }
        if listed != free_blocks {
            return Err(format!("{listed} listed blocks, {free_blocks} free blocks"));
        }
        Ok(())
    }

    fn list_contains(&self, first: usize, second: usize, offset: usize) -> bool {
        let mut cursor = self.head((first, second));
        // A list cannot be longer than the heap has blocks (a longer walk
        // is a cycle), nor lead out of the heap.
        for _ in 0..=self.heap_len / MIN_BLOCK {
            if cursor as usize == offset {
                return true;
            }
            if cursor >= self.heap_len as u64 {
                return false;
            }
            cursor = self.checked_link(cursor as usize, Link::Next);
        }
        false
    }

    fn list_len(&self, first: usize, second: usize) -> Result<usize, String> {
        let mut count = 0;
        let mut prev = NONE;
        let mut cursor = self.head((first, second));
        while cursor != NONE {
            let offset = cursor as usize;
            let size = self.free_block_size(cursor);
            if size.map(class_of) != Some((first, second)) {
                return Err(format!(
                    "class ({first},{second}) lists a wrong block {offset}"
                ));
            }
            if self.checked_link(offset, Link::Prev) != prev {
                return Err(format!("block {offset}: back link broken"));
            }
            count += 1;
            if count > self.heap_len / MIN_BLOCK {
                return Err(format!("class ({first},{second}): cycle"));
            }
            prev = cursor;
            cursor = self.checked_link(offset, Link::Next);
        }
        Ok(count)
    }

    /// A list link read with a bounds check: for the checks above, which
    /// must not trust the lists they check.
    fn checked_link(&self, offset: usize, which: Link) -> u64 {
        match offset.checked_add(which.in_block()) {
            Some(at) => self.buffer.read_word(at),
            None => NONE,
        }
    }
}

impl Regions {
    /// Invariant 6, and every other region's heap.
    pub(super) fn check(&self, current: &FreeList) -> Result<(), String> {
        let (current_start, current_end) = (current.buffer.start(), current.buffer.end());
        let mut own = usize::from(self.current == Origin::Own && current.buffer.capacity() > 0);
        let mut chunk_starts = Vec::new();
        if self.current == Origin::Chunk {
            chunk_starts.push(current_start);
        }
        for (at, region) in self.others.iter().enumerate() {
            let heap = &region.heap;
            let name = format!("region {at} at {:#x}", region.start);
            if heap.regions.is_some() {
                return Err(format!("{name} has regions of its own"));
            }
            if (region.start, region.end) != (heap.buffer.start(), heap.buffer.end())
                || region.start >= region.end
            {
                return Err(format!("{name}: range disagrees with its heap"));
            }
            if at > 0 && self.others[at - 1].end > region.start {
                return Err(format!("{name}: not sorted, or overlaps its predecessor"));
            }
            if current.buffer.capacity() > 0
                && region.start < current_end
                && current_start < region.end
            {
                return Err(format!("{name} overlaps the current region"));
            }
            heap.check_heap()
                .map_err(|error| format!("{name}: {error}"))?;
            match region.origin {
                Origin::Own => own += 1,
                Origin::Chunk => chunk_starts.push(region.start),
                Origin::Caller => {}
            }
        }
        if own > 1 {
            return Err(format!("{own} regions over the own buffer"));
        }
        let held = self.chunks.held();
        let every_chunk_once = held.iter().all(|chunk| {
            let inside = chunk_starts
                .iter()
                .filter(|&&s| chunk.start <= s && s < chunk.end());
            inside.count() == 1
        });
        if chunk_starts.len() != held.len() || !every_chunk_once {
            return Err(format!(
                "{} chunk regions for {} chunks held",
                chunk_starts.len(),
                held.len()
            ));
        }
        Ok(())
    }
}
