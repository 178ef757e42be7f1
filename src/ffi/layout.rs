//! `layout_*`: building and combining layouts.

use super::finish;
use super::types::Layout;
use super::Call;
use crate::error::Error;
use crate::layout;

/// Returns `{size, align}` as given; it is checked where it is used.
#[no_mangle]
pub extern "C" fn layout_new(size: i64, align: i64) -> Layout {
    Layout::new(size, align)
}

/// Returns the layout of an `int64_t`: `{8, 8}`.
#[no_mangle]
pub extern "C" fn layout_for_i64() -> Layout {
    Layout::new(8, 8)
}

/// Returns the layout of an `int32_t`: `{4, 4}`.
#[no_mangle]
pub extern "C" fn layout_for_i32() -> Layout {
    Layout::new(4, 4)
}

/// Returns the layout of a pointer: `{sizeof(void *), alignof(void *)}`.
#[no_mangle]
pub extern "C" fn layout_for_ptr() -> Layout {
    Layout::new(
        core::mem::size_of::<*const u8>() as i64,
        core::mem::align_of::<*const u8>() as i64,
    )
}

/// Returns the layout of `count` elements of `elem_size` bytes aligned to
/// `elem_align`: the stride is `elem_size` rounded up to `elem_align`, the
/// result is `{stride * count, elem_align}`. On a bad input or overflow it
/// returns `{-1, -1}` and sets `VAIS_ALLOC_E_INVALID_LAYOUT`.
#[no_mangle]
pub extern "C" fn layout_array(elem_size: i64, elem_align: i64, count: i64) -> Layout {
    let array = |elem: core::alloc::Layout| {
        let count = super::types::count(count).map_err(|_| Error::InvalidLayout)?;
        layout::array(elem, count)
    };
    finish(
        move || Call::new(c"layout_array"),
        Layout::new(elem_size, elem_align)
            .check()
            .and_then(array)
            .map(Layout::from),
    )
}

/// Returns the layout of `base` followed by `ext`: `ext` starts at
/// `base.size` rounded up to `ext.align`; the alignment is the larger one.
/// On a bad input or overflow it returns `{-1, -1}` and sets
/// `VAIS_ALLOC_E_INVALID_LAYOUT`.
#[no_mangle]
pub extern "C" fn layout_extend(base: Layout, ext: Layout) -> Layout {
    finish(
        move || Call::new(c"layout_extend"),
        base.check()
            .and_then(|base| layout::extend(base, ext.check()?))
            .map(Layout::from),
    )
}
