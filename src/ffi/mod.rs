//! The C ABI: every exported function, one file per family.
//!
//! Each export is a few lines built from the helpers here, so the boundary
//! logic exists once:
//!
//! - `core_of` turns a handle into its core allocator, refusing NULL
//!   (`VAIS_ALLOC_E_NULL_HANDLE`) and handles of another family
//!   (`VAIS_ALLOC_E_INVALID_ARGUMENT`, from the tag every handle starts with);
//! - `new_handle` / `free_handle` box a core behind a tagged handle and
//!   release it (the tag is wiped first, which catches many, not all, uses
//!   of a stale handle: its memory may be reused by a new handle);
//! - [`ReturnValue`] turns a core `Result` into the C return value and
//!   records the thread's last error on failure.

// Declared in the order the header presents the families (cbindgen keeps
// source order; rustfmt.toml keeps rustfmt from sorting these).
pub mod types;
pub mod layout;
pub mod allocator;
pub mod dispatch;
pub mod inspect;
pub mod global;
pub mod bump;
pub mod pool;
pub mod free_list;
pub mod stack;
pub mod library;

pub use allocator::{
    VAIS_ALLOCATOR_VTABLE_VERSION, VAIS_ALLOC_CAP_ANY_ALIGN, VAIS_ALLOC_CAP_ANY_SIZE,
    VAIS_ALLOC_CAP_FREE, VAIS_ALLOC_CAP_FREE_LAST, VAIS_ALLOC_CAP_GROWS, VAIS_ALLOC_CAP_RESET,
    VAIS_ALLOC_CAP_RESIZE, VAIS_ALLOC_CAP_THREAD_SAFE,
};

use crate::error::Error;
pub(crate) use crate::misuse::Call;
use crate::tools::seen;
use core::ffi::CStr;
use types::{Allocation, Layout, INVALID_LAYOUT};

/// Success.
pub const VAIS_ALLOC_OK: i64 = 0;
/// Size below zero, alignment not a power of two, or a size that overflows.
pub const VAIS_ALLOC_E_INVALID_LAYOUT: i64 = -1;
/// A bad capacity, block size, block count or buffer; or a handle of the
/// wrong allocator family.
pub const VAIS_ALLOC_E_INVALID_ARGUMENT: i64 = -2;
/// The handle is NULL.
pub const VAIS_ALLOC_E_NULL_HANDLE: i64 = -3;
/// The system allocator refused.
pub const VAIS_ALLOC_E_OUT_OF_MEMORY: i64 = -4;
/// This allocator has no room for the request.
pub const VAIS_ALLOC_E_EXHAUSTED: i64 = -5;
/// The pointer was not handed out by this allocator.
pub const VAIS_ALLOC_E_FOREIGN_POINTER: i64 = -6;
/// The block is already free.
pub const VAIS_ALLOC_E_DOUBLE_FREE: i64 = -7;
/// Nothing to pop.
pub const VAIS_ALLOC_E_EMPTY: i64 = -8;
/// This allocator never does this operation or serves this layout shape
/// (its capability bits say so in advance); nothing changed.
pub const VAIS_ALLOC_E_UNSUPPORTED: i64 = -9;
/// The mark is not a live checkpoint of this allocator.
pub const VAIS_ALLOC_E_STALE_MARK: i64 = -10;
/// An integrity check found the allocator's own data overwritten.
pub const VAIS_ALLOC_E_CORRUPTED: i64 = -11;

/// An allocator family: the C handle type, its core, and its tag.
pub trait Family {
    /// The core allocator behind the handle.
    type Core: crate::tools::seen::Visible;
    /// The first word of every live handle of this family.
    const TAG: u64;
    /// What a handle of this family is, for error details ("a pool's").
    const NAME: &'static str;
    /// Releases the core's buffer, leaving it valid and empty.
    fn drop_buffer(core: &mut Self::Core);
    /// Whether the core grows from an upstream (its view then has the
    /// `VAIS_ALLOC_CAP_GROWS` bit).
    fn grows(_core: &Self::Core) -> bool {
        false
    }
}

/// `*_drop`: releases the buffer behind `handle`, which stays valid; 0 or a
/// negative error code.
///
/// # Safety
/// As for [`core_of`].
pub(crate) unsafe fn drop_family<F: Family>(handle: *mut F, name: &'static CStr) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(name),
        unsafe { core_of(handle) }.map(|core| {
            seen::quietly(|| crate::misuse::report_leaks(name, core));
            seen::dropping(core);
            F::drop_buffer(core);
            0
        }),
    )
}

/// `*_free`: releases the buffer and the handle; NULL is a no-op; 0 or a
/// negative error code.
///
/// # Safety
/// As for [`core_of`]; `handle` is dead afterwards.
pub(crate) unsafe fn free_family<F: Family>(handle: *mut F, name: &'static CStr) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(name),
        unsafe { free_handle(handle, name) }.map(|()| 0),
    )
}

/// Written over the tag of a released handle.
const DEAD_TAG: u64 = 0xDEAD_A110_C0DE_0000;

/// What a handle points to: the family tag, then the core.
#[repr(C)]
struct Handle<C> {
    tag: u64,
    core: C,
}

/// Boxes `core` behind a new handle of family `F`; `OutOfMemory` (instead
/// of an abort) when the system refuses the few bytes of the handle.
pub(crate) fn new_handle<F: Family>(core: F::Core) -> Result<*mut F, Error> {
    let layout = std::alloc::Layout::new::<Handle<F::Core>>();
    // SAFETY: `Handle` is never zero-sized (it holds a u64 tag).
    let raw = unsafe { std::alloc::alloc(layout) }.cast::<Handle<F::Core>>();
    if raw.is_null() {
        return Err(Error::OutOfMemory);
    }
    seen::created(&core);
    // SAFETY: `raw` is fresh, non-null and laid out for a `Handle`; writing
    // initialises it, and it is then owned like `Box::into_raw`'s result
    // (same global allocator, same layout), which `free_handle` relies on.
    unsafe { raw.write(Handle { tag: F::TAG, core }) };
    Ok(raw.cast::<F>())
}

/// The core behind `handle`.
///
/// # Safety
/// `handle` must be NULL or a live handle of some family (from `*_new`, not
/// yet given to `*_free`), used by one thread at a time.
#[inline]
pub(crate) unsafe fn core_of<'a, F: Family>(handle: *mut F) -> Result<&'a mut F::Core, Error> {
    if handle.is_null() {
        return Err(Error::NullHandle);
    }
    // SAFETY: every live handle of every family points to a `Handle<_>`,
    // which is `repr(C)` and starts with its `u64` tag.
    let tag = unsafe { handle.cast::<u64>().read() };
    if tag != F::TAG {
        return Err(wrong_family::<F>(tag));
    }
    // SAFETY: the tag proves that this is a live `Handle<F::Core>`, and the
    // caller guarantees no other reference to it is in use.
    Ok(unsafe { &mut (*handle.cast::<Handle<F::Core>>()).core })
}

/// The core behind `handle` if it is a live handle of family `F`, else
/// `None`, with nothing recorded or noted: the fast paths' check, which
/// leaves every refusal to their slow path (where [`core_of`] says why).
///
/// # Safety
/// As for [`core_of`].
#[inline(always)]
pub(crate) unsafe fn core_if<'a, F: Family>(handle: *mut F) -> Option<&'a mut F::Core> {
    if handle.is_null() {
        return None;
    }
    // SAFETY: as in `core_of`.
    let tag = unsafe { handle.cast::<u64>().read() };
    if tag != F::TAG {
        return None;
    }
    // SAFETY: as in `core_of`.
    Some(unsafe { &mut (*handle.cast::<Handle<F::Core>>()).core })
}

/// `InvalidArgument` for a handle of family `F` whose tag is `tag`, its
/// cause noted: which family the handle is of, or that it is no live
/// handle.
#[cold]
#[inline(never)]
fn wrong_family<F: Family>(tag: u64) -> Error {
    let families = [
        (bump::BumpAllocator::TAG, "a bump arena's"),
        (pool::PoolAllocator::TAG, "a pool's"),
        (free_list::FreeListAllocator::TAG, "a free list's"),
        (stack::StackAllocator::TAG, "a stack's"),
        (DEAD_TAG, "a freed handle (given to *_free already)"),
    ];
    let what = families
        .iter()
        .find(|(known, _)| *known == tag)
        .map_or("no live handle of this library", |(_, name)| name);
    crate::misuse::note(
        Error::InvalidArgument,
        format_args!("the handle is {what}, not {}", F::NAME),
    )
}

/// Releases a handle made by [`new_handle`]; NULL is a no-op.
///
/// # Safety
/// As for [`core_of`].
pub(crate) unsafe fn free_handle<F: Family>(handle: *mut F, name: &CStr) -> Result<(), Error> {
    if handle.is_null() {
        return Ok(());
    }
    // SAFETY: forwarded from this function's contract.
    let core = unsafe { core_of(handle)? };
    seen::quietly(|| crate::misuse::report_leaks(name, core));
    seen::dropping(core);
    let handle = handle.cast::<Handle<F::Core>>();
    // SAFETY: the family check above proves `handle` came from
    // `new_handle` for this core type (allocated exactly as a `Box` would
    // be), and is still live.
    let mut boxed = unsafe { Box::from_raw(handle) };
    boxed.tag = DEAD_TAG;
    drop(boxed);
    Ok(())
}

/// A C return type: how a failure looks in it.
pub trait ReturnValue {
    /// The value returned for `error`.
    fn failure(error: Error) -> Self;
}

impl ReturnValue for Allocation {
    fn failure(_: Error) -> Self {
        Allocation::FAILED
    }
}

impl ReturnValue for Layout {
    fn failure(_: Error) -> Self {
        INVALID_LAYOUT
    }
}

impl<T> ReturnValue for *mut T {
    fn failure(_: Error) -> Self {
        core::ptr::null_mut()
    }
}

/// A status or count: the value on success, the negative code on failure.
impl ReturnValue for i64 {
    fn failure(error: Error) -> Self {
        error.code()
    }
}

/// The C value of `result`; a failure is also recorded (see
/// [`crate::misuse::record`]) for `call`: the thread's last error, its
/// detail, the misuse handler.
#[inline]
pub(crate) fn finish<T: ReturnValue>(call: impl FnOnce() -> Call, result: Result<T, Error>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => fail(call, error),
    }
}

/// `call` is a closure, so that the fast paths only pass on the arguments
/// it captures: the `Call` itself is built here, on the way to an error.
#[cold]
#[inline(never)]
fn fail<T: ReturnValue>(call: impl FnOnce() -> Call, error: Error) -> T {
    crate::misuse::record(call(), error);
    T::failure(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ALL_ERRORS;

    #[test]
    fn c_constants_match_the_error_enum() {
        let constants = [
            VAIS_ALLOC_E_INVALID_LAYOUT,
            VAIS_ALLOC_E_INVALID_ARGUMENT,
            VAIS_ALLOC_E_NULL_HANDLE,
            VAIS_ALLOC_E_OUT_OF_MEMORY,
            VAIS_ALLOC_E_EXHAUSTED,
            VAIS_ALLOC_E_FOREIGN_POINTER,
            VAIS_ALLOC_E_DOUBLE_FREE,
            VAIS_ALLOC_E_EMPTY,
            VAIS_ALLOC_E_UNSUPPORTED,
            VAIS_ALLOC_E_STALE_MARK,
            VAIS_ALLOC_E_CORRUPTED,
        ];
        assert_eq!(constants.len(), ALL_ERRORS.len());
        for (constant, error) in constants.iter().zip(ALL_ERRORS) {
            assert_eq!(*constant, error.code());
        }
        assert_eq!(VAIS_ALLOC_OK, 0);
    }
}
