//! Layout arithmetic every allocator uses: alignment rounding, and the
//! array and struct-extension rules of the C `layout_*` functions, on
//! [`core::alloc::Layout`] (whose invariant is exactly rule 4 of the C
//! contract: a power-of-two alignment, and a size that rounds up to it
//! within `isize::MAX`).

use crate::error::Error;
use core::alloc::Layout;

/// `count` elements of `elem`: the stride is `elem.size()` rounded up to
/// `elem.align()`; the result is `{stride * count, elem.align()}`.
pub fn array(elem: Layout, count: usize) -> Result<Layout, Error> {
    let stride = elem.pad_to_align().size();
    let size = stride.checked_mul(count).ok_or(Error::InvalidLayout)?;
    Layout::from_size_align(size, elem.align()).map_err(|_| Error::InvalidLayout)
}

/// `ext` placed after `base` at the first offset aligned to `ext.align()`;
/// the result's alignment is the larger of the two (its size is not
/// padded to it).
pub fn extend(base: Layout, ext: Layout) -> Result<Layout, Error> {
    base.extend(ext)
        .map(|(layout, _offset)| layout)
        .map_err(|_| Error::InvalidLayout)
}

/// `value` rounded up to a multiple of `align` (a power of two), or `None`
/// on overflow.
#[inline]
pub const fn align_up(value: usize, align: usize) -> Option<usize> {
    match value.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

/// `value` rounded down to a multiple of `align` (a power of two).
#[inline]
pub const fn align_down(value: usize, align: usize) -> usize {
    value & !(align - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocator::tests::layout;

    #[test]
    fn array_and_extend_examples() {
        assert_eq!(array(layout(8, 8), 10), Ok(layout(80, 8)));
        assert_eq!(array(layout(5, 4), 3), Ok(layout(24, 4)));
        assert_eq!(array(layout(8, 8), 0), Ok(layout(0, 8)));
        assert_eq!(
            array(layout(1 << 40, 8), 1 << 40),
            Err(Error::InvalidLayout)
        );
        assert_eq!(array(layout(1 << 62, 8), 2), Err(Error::InvalidLayout));
        let s = extend(layout(8, 8), layout(4, 4)).unwrap();
        assert_eq!(s, layout(12, 8));
        let s = extend(s, layout(8, 8)).unwrap();
        assert_eq!(s, layout(24, 8));
        assert_eq!(
            extend(layout(isize::MAX as usize, 1), layout(1, 1)),
            Err(Error::InvalidLayout)
        );
    }

    #[test]
    fn align_helpers() {
        assert_eq!(align_up(0, 8), Some(0));
        assert_eq!(align_up(1, 8), Some(8));
        assert_eq!(align_up(16, 16), Some(16));
        assert_eq!(align_up(usize::MAX, 2), None);
        assert_eq!(align_down(15, 8), 8);
    }
}
