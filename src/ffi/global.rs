//! `global_*`: the system allocator with any alignment.

use super::finish;
use super::types::{pointer, Allocation, Layout};
use super::Call;
use crate::allocator::Allocator;
use crate::global::Global;

/// Allocates `layout.size` bytes aligned to `layout.align` (any power of
/// two) from the system allocator. A zero size gives a unique pointer that
/// `global_dealloc` accepts. Returns `{0, 0}` on failure
/// (`VAIS_ALLOC_E_INVALID_LAYOUT`, `VAIS_ALLOC_E_OUT_OF_MEMORY`).
///
/// The block comes from `malloc` (alignments up to 16) or `posix_memalign`
/// (above), so C's `free()` may release it too, in place of
/// `global_dealloc`; C's `realloc()` only keeps alignments up to 16 (use
/// `global_realloc`).
#[no_mangle]
pub extern "C" fn global_alloc(layout: Layout) -> Allocation {
    finish(
        move || Call::new(c"global_alloc").layout(layout.size, layout.align),
        layout
            .check()
            .and_then(|layout| Ok(Global.alloc(layout)?.into())),
    )
}

/// Like `global_alloc`, with the block zero-filled.
#[no_mangle]
pub extern "C" fn global_alloc_zeroed(layout: Layout) -> Allocation {
    finish(
        move || Call::new(c"global_alloc_zeroed").layout(layout.size, layout.align),
        layout
            .check()
            .and_then(|layout| Ok(Global.alloc_zeroed(layout)?.into())),
    )
}

/// Frees a block from `global_alloc*`/`global_realloc`; `ptr == 0` is a
/// no-op. An invalid `layout` sets `VAIS_ALLOC_E_INVALID_LAYOUT` and leaves
/// the block allocated.
///
/// `layout` must be the one the block was allocated (or last reallocated)
/// with, as in every interface of this kind (C++'s sized delete, Rust's
/// `dealloc`). Today only its validity is checked, and any valid layout
/// frees the block (the system `free` needs none); a later version may
/// use it, so a mismatch is a bug in the caller even where it works.
///
/// # Safety
/// `ptr` must be 0 or a live block from `global_alloc*`/`global_realloc`.
#[no_mangle]
pub unsafe extern "C" fn global_dealloc(ptr: i64, layout: Layout) {
    let call = move || {
        Call::new(c"global_dealloc")
            .ptr(ptr)
            .layout(layout.size, layout.align)
    };
    let Some(ptr) = pointer(ptr) else {
        return;
    };
    // SAFETY: forwarded from this function's contract.
    finish(
        call,
        layout
            .check()
            .and_then(|layout| unsafe { Global.free(ptr, layout) })
            .map(|()| 0),
    );
}

/// Resizes a block to `new_layout`, keeping `min(old, new)` bytes of its
/// contents and honouring the new alignment; `ptr == 0` acts as
/// `global_alloc(new_layout)`. Returns `{0, 0}` on failure, and the old
/// block then stays valid and unchanged.
///
/// # Safety
/// `ptr` must be 0 or a live block from `global_alloc*`/`global_realloc`
/// allocated with `old_layout`.
#[no_mangle]
pub unsafe extern "C" fn global_realloc(
    ptr: i64,
    old_layout: Layout,
    new_layout: Layout,
) -> Allocation {
    let call = move || {
        Call::new(c"global_realloc")
            .ptr(ptr)
            .layout(new_layout.size, new_layout.align)
    };
    let new_layout = match new_layout.check() {
        Ok(layout) => layout,
        Err(error) => return finish(call, Err(error)),
    };
    let Some(ptr) = pointer(ptr) else {
        return finish(call, Global.alloc(new_layout).map(Allocation::from));
    };
    finish(
        call,
        old_layout
            .check()
            // SAFETY: forwarded from this function's contract.
            .and_then(|old| unsafe { Global.realloc(ptr, old, new_layout) })
            .map(Allocation::from),
    )
}
