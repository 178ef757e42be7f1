//! The value types of the C ABI, `Layout` and `Allocation`, and their
//! conversions to and from the cores' Rust types: the one place where
//! `int64_t` sizes and addresses become `usize`, [`core::alloc::Layout`]
//! and [`NonNull<u8>`], and back.

use crate::allocator::Block;
use crate::error::Error;
use crate::misuse::note;
use core::ptr::NonNull;

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
/// `ptr` are the caller's to use. What `size` is, by family:
/// - global, bump, stack: `layout.size`, exactly;
/// - pool (through `allocator_alloc`): the pool's block size;
/// - free list: the block's usable size, at least `layout.size` (a
///   multiple of 8: the rounding of the size classes is the caller's to
///   use, and `freelist_realloc` within it stays in place).
///
/// Pass the original layout (not `size`) back to the functions that take
/// one.
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
}

impl From<Block> for Allocation {
    #[inline(always)]
    fn from(block: Block) -> Allocation {
        Allocation {
            ptr: to_i64(block.addr()),
            size: to_i64(block.size),
        }
    }
}

/// The invalid layout returned by `layout_array`/`layout_extend` on failure.
pub(crate) const INVALID_LAYOUT: Layout = Layout {
    size: -1,
    align: -1,
};

impl Layout {
    /// A layout of `size` bytes aligned to `align`, unchecked.
    pub const fn new(size: i64, align: i64) -> Layout {
        Layout { size, align }
    }

    /// The Rust layout, if this one is valid (rule 4), else
    /// `InvalidLayout`.
    #[inline(always)]
    pub fn check(self) -> Result<core::alloc::Layout, Error> {
        let Layout { size, align } = self;
        // `align - 1` cannot wrap once `align > 0` is known; a negative
        // size, as `u64`, is above every bound.
        if align <= 0 || align & (align - 1) != 0 || size as u64 > (i64::MAX - (align - 1)) as u64 {
            return Err(invalid_layout(size, align));
        }
        // SAFETY: just checked: `align` is a power of two and `size`
        // rounded up to it is at most `i64::MAX == isize::MAX` (64-bit
        // targets only, see lib.rs).
        Ok(
            unsafe {
                core::alloc::Layout::from_size_align_unchecked(size as usize, align as usize)
            },
        )
    }
}

impl From<core::alloc::Layout> for Layout {
    fn from(layout: core::alloc::Layout) -> Layout {
        Layout::new(to_i64(layout.size()), to_i64(layout.align()))
    }
}

/// `InvalidLayout`, its cause noted.
#[cold]
#[inline(never)]
fn invalid_layout(size: i64, align: i64) -> Error {
    let cause = crate::misuse::LayoutCause(size, align);
    note(
        Error::InvalidLayout,
        format_args!("layout {{size {size}, align {align}}}: {cause}"),
    )
}

/// A byte count from C: `InvalidArgument` when negative.
#[inline]
pub(crate) fn count(value: i64) -> Result<usize, Error> {
    usize::try_from(value).map_err(|_| negative(value))
}

/// `InvalidArgument` for a negative count, its cause noted.
#[cold]
#[inline(never)]
fn negative(value: i64) -> Error {
    note(
        Error::InvalidArgument,
        format_args!("{value} is negative (a size, capacity or address must be at least 0)"),
    )
}

/// A limit from C: -1 for none (`usize::MAX`), else a byte count
/// (`InvalidArgument` below -1).
#[inline]
pub(crate) fn limit(value: i64) -> Result<usize, Error> {
    match value {
        -1 => Ok(usize::MAX),
        _ => count(value),
    }
}

/// A pointer from C: `None` for 0.
#[inline(always)]
pub(crate) fn pointer(ptr: i64) -> Option<NonNull<u8>> {
    NonNull::new(ptr as usize as *mut u8)
}

/// A byte count or address as `int64_t` (all fit: sizes are capped at
/// `isize::MAX`, and user-space addresses are below 2^63).
#[inline(always)]
pub(crate) fn to_i64(value: usize) -> i64 {
    value as i64
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
        for bad in [
            Layout::new(i64::MAX - 6, 8),
            Layout::new(-1, 8),
            Layout::new(8, 0),
            Layout::new(8, 3),
            Layout::new(8, -8),
            Layout::new(8, i64::MIN),
            Layout::new(i64::MIN, 1),
        ] {
            assert_eq!(bad.check(), Err(Error::InvalidLayout), "{bad:?}");
        }
        let rust = Layout::new(24, 8).check().unwrap();
        assert_eq!((rust.size(), rust.align()), (24, 8));
        assert_eq!(Layout::from(rust), Layout::new(24, 8));
    }

    #[test]
    fn counts_and_pointers() {
        assert_eq!(count(-1), Err(Error::InvalidArgument));
        assert_eq!(count(7), Ok(7));
        assert_eq!(pointer(0), None);
        assert_eq!(pointer(64).map(|p| p.as_ptr() as usize), Some(64));
    }
}
