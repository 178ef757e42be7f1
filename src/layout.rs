//! `Layout` and `Allocation`, the two value types of the C ABI, and the
//! checked arithmetic every allocator uses on them.

use crate::error::Error;

/// A memory request: `size` bytes aligned to `align`.
///
/// Valid when `size >= 0`, `align` is a power of two `>= 1`, and `size`
/// rounded up to `align` fits in `int64_t`. Functions that take an invalid
/// layout fail with `VAIS_ALLOC_E_INVALID_LAYOUT`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    /// Requested size in bytes.
    pub size: i64,
    /// Requested alignment in bytes (a power of two).
    pub align: i64,
}

/// The result of an allocation: `ptr == 0` means it failed (see
/// `vais_alloc_last_error()`), otherwise `size >= layout.size` bytes at
/// `ptr` are the caller's to use.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Allocation {
    /// Address of the block, or 0 on failure.
    pub ptr: i64,
    /// Usable bytes at `ptr` (0 on failure).
    pub size: i64,
}

impl Allocation {
    /// The failed allocation `{0, 0}`.
    ///
    /// cbindgen:ignore
    pub const FAILED: Allocation = Allocation { ptr: 0, size: 0 };

    /// An allocation of `size` bytes at address `ptr`.
    #[inline]
    pub fn new(ptr: usize, size: usize) -> Allocation {
        Allocation {
            ptr: ptr as i64,
            size: size as i64,
        }
    }
}

/// The invalid layout returned by `layout_array`/`layout_extend` on failure.
pub const INVALID_LAYOUT: Layout = Layout {
    size: -1,
    align: -1,
};

/// A layout that passed [`Layout::check`]: sizes as `usize`, `align` a power
/// of two, `size + align - 1 <= i64::MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checked {
    /// Size in bytes.
    pub size: usize,
    /// Alignment in bytes, a power of two.
    pub align: usize,
}

impl Layout {
    /// A layout of `size` bytes aligned to `align`, unchecked.
    pub const fn new(size: i64, align: i64) -> Layout {
        Layout { size, align }
    }

    /// Validates the layout (rule 4 of the contract).
    #[inline]
    pub fn check(self) -> Result<Checked, Error> {
        let Layout { size, align } = self;
        // `align - 1` cannot wrap once `align > 0` is known.
        if size < 0 || align <= 0 || align & (align - 1) != 0 || size > i64::MAX - (align - 1) {
            return Err(Error::InvalidLayout);
        }
        Ok(Checked {
            size: size as usize,
            align: align as usize,
        })
    }

    /// Layout of `count` elements of `elem_size` bytes aligned to
    /// `elem_align`: the stride is `elem_size` rounded up to `elem_align`.
    pub fn array(elem_size: i64, elem_align: i64, count: i64) -> Result<Layout, Error> {
        let elem = Layout::new(elem_size, elem_align).check()?;
        if count < 0 {
            return Err(Error::InvalidLayout);
        }
        let stride = align_up(elem.size, elem.align).ok_or(Error::InvalidLayout)?;
        let size = stride
            .checked_mul(count as usize)
            .ok_or(Error::InvalidLayout)?;
        Layout::from_parts(size, elem.align)
    }

    /// `ext` placed after `base` at the first offset aligned to `ext.align`;
    /// the result's alignment is the larger of the two.
    pub fn extend(base: Layout, ext: Layout) -> Result<Layout, Error> {
        let base = base.check()?;
        let ext = ext.check()?;
        let offset = align_up(base.size, ext.align).ok_or(Error::InvalidLayout)?;
        let size = offset.checked_add(ext.size).ok_or(Error::InvalidLayout)?;
        Layout::from_parts(size, base.align.max(ext.align))
    }

    /// A checked layout from `usize` parts.
    fn from_parts(size: usize, align: usize) -> Result<Layout, Error> {
        let size = i64::try_from(size).map_err(|_| Error::InvalidLayout)?;
        let layout = Layout::new(size, align as i64);
        layout.check().map(|_| layout)
    }
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

    #[test]
    fn check_accepts_valid_and_refuses_invalid() {
        assert!(Layout::new(0, 1).check().is_ok());
        assert!(Layout::new(8, 8).check().is_ok());
        assert!(Layout::new(i64::MAX, 1).check().is_ok());
        assert!(Layout::new(i64::MAX - 7, 8).check().is_ok());
        assert_eq!(
            Layout::new(i64::MAX - 6, 8).check(),
            Err(Error::InvalidLayout)
        );
        assert_eq!(Layout::new(-1, 8).check(), Err(Error::InvalidLayout));
        assert_eq!(Layout::new(8, 0).check(), Err(Error::InvalidLayout));
        assert_eq!(Layout::new(8, 3).check(), Err(Error::InvalidLayout));
        assert_eq!(Layout::new(8, -8).check(), Err(Error::InvalidLayout));
        assert_eq!(Layout::new(8, i64::MIN).check(), Err(Error::InvalidLayout));
    }

    #[test]
    fn array_and_extend_examples() {
        assert_eq!(Layout::array(8, 8, 10), Ok(Layout::new(80, 8)));
        assert_eq!(Layout::array(5, 4, 3), Ok(Layout::new(24, 4)));
        assert_eq!(Layout::array(8, 8, 0), Ok(Layout::new(0, 8)));
        assert_eq!(Layout::array(8, 8, -1), Err(Error::InvalidLayout));
        assert_eq!(
            Layout::array(1 << 40, 8, 1 << 40),
            Err(Error::InvalidLayout)
        );
        let s = Layout::extend(Layout::new(8, 8), Layout::new(4, 4)).unwrap();
        assert_eq!(s, Layout::new(12, 8));
        let s = Layout::extend(s, Layout::new(8, 8)).unwrap();
        assert_eq!(s, Layout::new(24, 8));
        assert_eq!(
            Layout::extend(Layout::new(i64::MAX, 1), Layout::new(1, 1)),
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
