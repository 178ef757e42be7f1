//! Size classes: the two-level segregated classes a block size maps to
//! (see "Size classes" in the module documentation), and the block size a
//! request needs.

use super::{GRANULE, MIN_BLOCK, OVERHEAD};

/// Log2 of the number of second-level classes per first level.
pub(super) const SL_LOG2: u32 = 4;
/// Second-level classes per first level.
pub(super) const SL_COUNT: usize = 1 << SL_LOG2;
/// Sizes below this map linearly (first level 0).
pub(super) const SMALL_LIMIT: usize = SL_COUNT * GRANULE;
/// First levels in use: sizes are below 2^40, and first level 0 covers
/// every size below 2^8.
pub(super) const FL_COUNT: usize = 40 - 7;
/// The class tables have a power-of-two number of rows, so an index masked
/// with `FL_SLOTS - 1` is in bounds by construction: no bounds check, no
/// panic path (rows at and above `FL_COUNT` stay empty).
pub(super) const FL_SLOTS: usize = 64;

/// The class `(first, second)` that a block of `size` bytes belongs to.
#[inline]
pub(super) fn class_of(size: usize) -> (usize, usize) {
    if size < SMALL_LIMIT {
        (0, size / GRANULE)
    } else {
        let top = usize::BITS - 1 - size.leading_zeros();
        let second = (size >> (top - SL_LOG2)) & (SL_COUNT - 1);
        ((top - 7) as usize, second)
    }
}

/// The first class all of whose blocks are at least `size` bytes, or
/// `None` past the last class.
#[inline]
pub(super) fn class_at_least(size: usize) -> Option<(usize, usize)> {
    let rounded = if size < SMALL_LIMIT {
        size
    } else {
        let top = usize::BITS - 1 - size.leading_zeros();
        size.checked_add((1 << (top - SL_LOG2)) - 1)?
    };
    let class = class_of(rounded);
    (class.0 < FL_COUNT).then_some(class)
}

/// The block size (header included) serving `size` payload bytes, if any
/// block could.
#[inline]
pub(super) fn block_size_for(size: usize) -> Option<usize> {
    let total = size.checked_add(OVERHEAD + GRANULE - 1)? & !(GRANULE - 1);
    Some(total.max(MIN_BLOCK))
}

/// The usable bytes of a block of `size` bytes.
#[inline(always)]
pub(super) const fn usable(size: usize) -> usize {
    size - OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::free_list::MAX_CAPACITY;

    #[test]
    fn class_mapping_is_monotonic_and_rounding_fits() {
        let mut last = (0, 0);
        for size in (MIN_BLOCK..1 << 20).step_by(16) {
            let class = class_of(size);
            assert!(class >= last, "{size}");
            last = class;
            let up = class_at_least(size).unwrap();
            // Every block of class `up` is at least `size`.
            let lowest = (size..).step_by(16).find(|&s| class_of(s) == up).unwrap();
            assert!(lowest >= size);
            assert!(up >= class);
        }
        assert_eq!(class_of(MAX_CAPACITY - 16).0, FL_COUNT - 1);
    }
}
