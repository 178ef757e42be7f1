//! Checkpoints of an arena: the marks of `bump_mark` / `stack_mark`.
//!
//! Live marks nest, so they form a stack: the arena keeps, for each, the
//! state to go back to (its own type `S`). A mark's value names its place
//! in that stack and carries a 32-bit tag drawn from a per-arena key and a
//! counter, so that checking a value is O(1) whatever the number of marks
//! and allocations: a value whose place is past the live marks (a scope
//! since closed, a reset), or whose tag is not the one given for that
//! place (another arena's mark, a mark since replaced, a forged value), is
//! stale. A guess passes with a chance of 2^-32.

use crate::error::Error;
use crate::keyed_check::{new_key, KeyedCheck};

/// The tags take the low 32 bits of a value, the place the bits above
/// (values stay positive: at most 2^31 live marks).
const TAG_BITS: u32 = 32;

/// The live marks of one arena.
#[derive(Debug)]
pub struct Marks<S> {
    live: Vec<(u32, S)>,
    /// Marks ever taken (the tags' counter).
    taken: u64,
    mix: KeyedCheck,
    key: u64,
}

impl<S: Copy> Marks<S> {
    /// No marks, with fresh keys (mixed with `seed`, e.g. the arena's
    /// address).
    pub fn new(seed: usize) -> Marks<S> {
        Marks {
            live: Vec::new(),
            taken: 0,
            mix: KeyedCheck::new(new_key(seed)),
            key: new_key(seed),
        }
    }

    /// Pushes a mark for `state`; its value (`>= 0`). `OutOfMemory` when
    /// the list of marks cannot grow.
    pub fn push(&mut self, state: S) -> Result<i64, Error> {
        let place = self.live.len();
        if place >= 1 << 31 {
            return Err(Error::OutOfMemory);
        }
        self.live.try_reserve(1).map_err(|_| Error::OutOfMemory)?;
        self.taken += 1;
        let tag = (self.mix.product(self.taken, self.key) >> 32) as u32;
        self.live.push((tag, state));
        Ok(((place as i64) << TAG_BITS) | i64::from(tag))
    }

    /// The place and state of the live mark `value`; `StaleMark` for
    /// anything else.
    pub fn find(&self, value: i64) -> Result<(usize, S), Error> {
        let place = usize::try_from(value >> TAG_BITS).map_err(|_| Error::StaleMark)?;
        let tag = value as u32;
        match self.live.get(place) {
            Some(&(live_tag, state)) if live_tag == tag && value >= 0 => Ok((place, state)),
            _ => Err(Error::StaleMark),
        }
    }

    /// Closes every scope above the mark at `place` (which stays live).
    pub fn release_to(&mut self, place: usize) {
        self.live.truncate(place + 1);
    }

    /// Drops the marks for which `stale` says so, from the newest down,
    /// stopping at the first that stays.
    pub fn drop_while(&mut self, mut stale: impl FnMut(&S) -> bool) {
        while self.live.last().is_some_and(|(_, state)| stale(state)) {
            self.live.pop();
        }
    }

    /// Makes every mark stale.
    pub fn clear(&mut self) {
        self.live.clear();
    }

    /// The state of the newest live mark.
    pub fn newest(&self) -> Option<S> {
        self.live.last().map(|&(_, state)| state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_nest_and_go_stale() {
        let mut marks = Marks::new(1);
        let a = marks.push(10usize).unwrap();
        let b = marks.push(20).unwrap();
        assert!(a >= 0 && b >= 0 && a != b);
        assert_eq!(marks.find(b), Ok((1, 20)));
        marks.release_to(1);
        assert_eq!(marks.find(b), Ok((1, 20)));
        marks.release_to(0);
        assert_eq!(marks.find(b), Err(Error::StaleMark));
        assert_eq!(marks.find(a), Ok((0, 10)));
        // A new mark in b's place has another tag.
        let c = marks.push(30).unwrap();
        assert_ne!(c, b);
        assert_eq!(marks.find(b), Err(Error::StaleMark));
        for forged in [-1, i64::MIN, a + 1, c ^ 1, 1 << 40] {
            assert_eq!(marks.find(forged), Err(Error::StaleMark), "{forged}");
        }
        let other = Marks::<usize>::new(1);
        assert_eq!(other.find(a), Err(Error::StaleMark));
        marks.drop_while(|&state| state > 15);
        assert_eq!(marks.find(c), Err(Error::StaleMark));
        marks.clear();
        assert_eq!(marks.find(a), Err(Error::StaleMark));
    }
}
