//! `allocator_*`: the dispatch functions of the allocator interface, for
//! every `VaisAllocator` (ours, whose vtables are in `allocator.rs`, and
//! the caller's own).

use super::allocator::{
    growing_bit, is_builtin, VaisAllocator, VaisAllocatorVtable, VAIS_ALLOCATOR_VTABLE_VERSION,
};
use super::types::{Allocation, Layout};
use super::Call;
use super::{finish, ReturnValue};
use crate::error::Error;
use crate::misuse::note;

/// The vtable of `allocator`: `NullHandle` for a NULL one, and
/// `InvalidArgument` for a version this library does not know.
///
/// # Safety
/// A non-NULL vtable must be readable (the caller's duty, as for handles).
#[inline(always)]
pub(super) unsafe fn vtable_of(allocator: &VaisAllocator) -> Result<&VaisAllocatorVtable, Error> {
    if allocator.vtable.is_null() {
        return Err(note(
            Error::NullHandle,
            format_args!("the allocator's vtable is NULL"),
        ));
    }
    // SAFETY: non-NULL, and readable by this function's contract.
    let vtable = unsafe { &*allocator.vtable };
    if vtable.version < 1 || vtable.version > VAIS_ALLOCATOR_VTABLE_VERSION {
        let version = vtable.version;
        return Err(note(
            Error::InvalidArgument,
            format_args!(
                "vtable version {version} is not one this library knows (1 to {VAIS_ALLOCATOR_VTABLE_VERSION})"
            ),
        ));
    }
    Ok(vtable)
}

/// A status returned by a vtable entry, as a `Result`; a code that is not
/// ours reads as `InvalidArgument`. (A failing built-in entry has recorded
/// its error already; recording it again changes nothing.)
fn status(code: i64) -> Result<i64, Error> {
    if code >= 0 {
        Ok(code)
    } else {
        Err(Error::from_code(code).unwrap_or(Error::InvalidArgument))
    }
}

/// The C value of what a vtable entry returned: a failure of a built-in
/// entry was recorded by the entry already (its detail names the cause,
/// and the misuse handler has been called), so it is passed on as is; a
/// failure of a caller's entry is recorded here.
fn relay<T: ReturnValue>(
    call: impl FnOnce() -> Call,
    allocator: &VaisAllocator,
    result: Result<T, Error>,
) -> T {
    // SAFETY: a non-NULL vtable is readable (the dispatch functions'
    // contract), and the entry that produced `result` came from it.
    let builtin = !allocator.vtable.is_null() && is_builtin(unsafe { &*allocator.vtable });
    match result {
        Err(error) if builtin => T::failure(error),
        other => finish(call, other),
    }
}

/// An allocation returned by a vtable entry, as a `Result`. A caller's own
/// entry that returns `ptr == 0` has no way to say why: that failure is
/// `OutOfMemory`.
#[inline]
fn allocated(vtable: &VaisAllocatorVtable, allocation: Allocation) -> Result<Allocation, Error> {
    if allocation.ptr != 0 {
        return Ok(allocation);
    }
    if is_builtin(vtable) {
        // Its entry recorded the reason already.
        let last = crate::error::last_error();
        return Err(Error::from_code(last).unwrap_or(Error::OutOfMemory));
    }
    Err(Error::OutOfMemory)
}

/// Allocates `layout` from `allocator`. Returns `{0, 0}` on failure:
/// `VAIS_ALLOC_E_NULL_HANDLE` for a NULL vtable,
/// `VAIS_ALLOC_E_INVALID_ARGUMENT` for an unknown version or a NULL
/// `alloc` entry, or what the allocator refuses with (for ours: as its
/// family's own function, and `VAIS_ALLOC_E_UNSUPPORTED` for a layout it
/// never serves, such as one larger than a pool's blocks).
///
/// # Safety
/// `allocator` must come from a `*_as_allocator` getter whose handle is
/// live, or be the caller's own (trusted as a handle is).
#[no_mangle]
pub unsafe extern "C" fn allocator_alloc(allocator: VaisAllocator, layout: Layout) -> Allocation {
    // SAFETY: forwarded from this function's contract.
    let vtable = match unsafe { vtable_of(&allocator) } {
        Ok(vtable) => vtable,
        Err(error) => {
            return finish(
                move || Call::new(c"allocator_alloc").layout(layout.size, layout.align),
                Err(error),
            )
        }
    };
    let Some(alloc) = vtable.alloc else {
        return finish(
            move || Call::new(c"allocator_alloc").layout(layout.size, layout.align),
            Err(Error::InvalidArgument),
        );
    };
    // SAFETY: the entry and its context belong together (contract).
    let allocation = unsafe { alloc(allocator.ctx, layout) };
    if allocation.ptr != 0 {
        return allocation;
    }
    relay(
        move || Call::new(c"allocator_alloc").layout(layout.size, layout.align),
        &allocator,
        allocated(vtable, allocation),
    )
}

/// Like `allocator_alloc`, with the block zero-filled (all of
/// `Allocation.size`): through the `alloc_zeroed` entry, or `alloc` and a
/// zero fill when it is NULL.
///
/// # Safety
/// As for `allocator_alloc`.
#[no_mangle]
pub unsafe extern "C" fn allocator_alloc_zeroed(
    allocator: VaisAllocator,
    layout: Layout,
) -> Allocation {
    // SAFETY: forwarded from this function's contract.
    let vtable = match unsafe { vtable_of(&allocator) } {
        Ok(vtable) => vtable,
        Err(error) => {
            return finish(
                move || Call::new(c"allocator_alloc_zeroed").layout(layout.size, layout.align),
                Err(error),
            )
        }
    };
    if let Some(alloc_zeroed) = vtable.alloc_zeroed {
        // SAFETY: the entry and its context belong together (contract).
        let allocation = unsafe { alloc_zeroed(allocator.ctx, layout) };
        return relay(
            move || Call::new(c"allocator_alloc_zeroed").layout(layout.size, layout.align),
            &allocator,
            allocated(vtable, allocation),
        );
    }
    // SAFETY: forwarded from this function's contract.
    let block = unsafe { allocator_alloc(allocator, layout) };
    if block.ptr != 0 {
        // SAFETY: a block the allocator just handed out: `size` writable
        // bytes (the allocator's promise, rule 6).
        unsafe { (block.ptr as usize as *mut u8).write_bytes(0, block.size as usize) };
    }
    block
}

/// Grows or shrinks the block at `ptr` (allocated with `old`) to
/// `new_size` bytes **in place**, never moving it. Returns 0 (the block now
/// holds `new_size` bytes), `VAIS_ALLOC_E_EXHAUSTED` when there is no room
/// in place (nothing changed; `allocator_realloc` may move it),
/// `VAIS_ALLOC_E_UNSUPPORTED` when the allocator never resizes (or never
/// serves that size), or the allocator's refusal of `ptr`.
///
/// # Safety
/// As for `allocator_alloc`.
#[no_mangle]
pub unsafe extern "C" fn allocator_resize(
    allocator: VaisAllocator,
    ptr: i64,
    old: Layout,
    new_size: i64,
) -> i64 {
    // SAFETY: forwarded from this function's contract.
    let entry = unsafe { vtable_of(&allocator) }.and_then(|v| v.resize.ok_or(Error::Unsupported));
    match entry {
        // SAFETY: the entry and its context belong together (contract).
        Ok(resize) => relay(
            move || Call::new(c"allocator_resize").ptr(ptr),
            &allocator,
            status(unsafe { resize(allocator.ctx, ptr, old, new_size) }),
        ),
        Err(error) => finish(move || Call::new(c"allocator_resize").ptr(ptr), Err(error)),
    }
}

/// Moves the block at `ptr` (allocated with `old`) to one for
/// `new_layout`, keeping `min(old.size, new_layout.size)` bytes: in place
/// when possible, else allocate, copy, free. `ptr == 0` acts as
/// `allocator_alloc(allocator, new_layout)`. On failure returns `{0, 0}`
/// and the old block is untouched. A NULL `realloc` entry is served by
/// `resize`, then `alloc` + copy + `free`.
///
/// # Safety
/// As for `allocator_alloc`.
#[no_mangle]
pub unsafe extern "C" fn allocator_realloc(
    allocator: VaisAllocator,
    ptr: i64,
    old: Layout,
    new_layout: Layout,
) -> Allocation {
    // SAFETY: forwarded from this function's contract.
    let vtable = match unsafe { vtable_of(&allocator) } {
        Ok(vtable) => vtable,
        Err(error) => {
            return finish(
                move || {
                    Call::new(c"allocator_realloc")
                        .ptr(ptr)
                        .layout(new_layout.size, new_layout.align)
                },
                Err(error),
            )
        }
    };
    if ptr == 0 {
        // SAFETY: forwarded from this function's contract.
        return unsafe { allocator_alloc(allocator, new_layout) };
    }
    if let Some(realloc) = vtable.realloc {
        // SAFETY: the entry and its context belong together (contract).
        let allocation = unsafe { realloc(allocator.ctx, ptr, old, new_layout) };
        return relay(
            move || {
                Call::new(c"allocator_realloc")
                    .ptr(ptr)
                    .layout(new_layout.size, new_layout.align)
            },
            &allocator,
            allocated(vtable, allocation),
        );
    }
    // SAFETY: forwarded from this function's contract.
    finish(
        move || {
            Call::new(c"allocator_realloc")
                .ptr(ptr)
                .layout(new_layout.size, new_layout.align)
        },
        unsafe { move_by_parts(allocator, vtable, ptr, old, new_layout) },
    )
}

/// `allocator_realloc` for a vtable without a `realloc` entry.
///
/// # Safety
/// As for `allocator_alloc`; `vtable` is `allocator`'s.
unsafe fn move_by_parts(
    allocator: VaisAllocator,
    vtable: &VaisAllocatorVtable,
    ptr: i64,
    old: Layout,
    new_layout: Layout,
) -> Result<Allocation, Error> {
    let checked_old = old.check()?;
    let checked_new = new_layout.check()?;
    if let Some(resize) = vtable.resize {
        if ptr as usize & (checked_new.align() - 1) == 0 {
            // SAFETY: the entry and its context belong together (contract).
            match status(unsafe { resize(allocator.ctx, ptr, old, new_layout.size) }) {
                Ok(_) => {
                    return Ok(Allocation {
                        ptr,
                        size: new_layout.size,
                    })
                }
                Err(Error::Exhausted | Error::Unsupported) => {}
                Err(error) => return Err(error),
            }
        }
    }
    let free = vtable.free.ok_or(Error::InvalidArgument)?;
    // SAFETY: forwarded from this function's contract.
    let fresh = allocated(vtable, unsafe { allocator_alloc(allocator, new_layout) })?;
    let keep = checked_old.size().min(checked_new.size());
    // SAFETY: `ptr` is a live block of at least `old.size` bytes (the
    // caller's promise for its own allocator), `fresh` a new block of at
    // least `new_layout.size`; live blocks are disjoint.
    unsafe {
        core::ptr::copy_nonoverlapping(
            ptr as usize as *const u8,
            fresh.ptr as usize as *mut u8,
            keep,
        )
    };
    // SAFETY: the entry and its context belong together (contract).
    if let Err(error) = status(unsafe { free(allocator.ctx, ptr, old) }) {
        // SAFETY: as above; `fresh` was just handed out.
        unsafe { free(allocator.ctx, fresh.ptr, new_layout) };
        return Err(error);
    }
    Ok(fresh)
}

/// Frees the block at `ptr`, allocated with `layout`. Returns 0 (`ptr == 0`
/// is a no-op), or a negative code with nothing changed: a bad vtable, a
/// NULL `free` entry (`VAIS_ALLOC_E_INVALID_ARGUMENT`), or the
/// allocator's refusal (for ours, as its family's own free: a foreign
/// pointer, a double free...).
///
/// # Safety
/// As for `allocator_alloc`.
#[no_mangle]
pub unsafe extern "C" fn allocator_free(allocator: VaisAllocator, ptr: i64, layout: Layout) -> i64 {
    // SAFETY: forwarded from this function's contract.
    let entry = unsafe { vtable_of(&allocator) }.and_then(|v| v.free.ok_or(Error::InvalidArgument));
    match entry {
        Ok(_) if ptr == 0 => 0,
        // SAFETY: the entry and its context belong together (contract).
        Ok(free) => relay(
            move || {
                Call::new(c"allocator_free")
                    .ptr(ptr)
                    .layout(layout.size, layout.align)
            },
            &allocator,
            status(unsafe { free(allocator.ctx, ptr, layout) }),
        ),
        Err(error) => finish(
            move || {
                Call::new(c"allocator_free")
                    .ptr(ptr)
                    .layout(layout.size, layout.align)
            },
            Err(error),
        ),
    }
}

/// Frees every block of `allocator` at once. Returns 0, or a negative code:
/// `VAIS_ALLOC_E_UNSUPPORTED` where the allocator has no reset (the global
/// allocator, or a NULL `reset` entry).
///
/// # Safety
/// As for `allocator_alloc`.
#[no_mangle]
pub unsafe extern "C" fn allocator_reset(allocator: VaisAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    let entry = unsafe { vtable_of(&allocator) }.and_then(|v| v.reset.ok_or(Error::Unsupported));
    match entry {
        // SAFETY: the entry and its context belong together (contract).
        Ok(reset) => relay(
            move || Call::new(c"allocator_reset"),
            &allocator,
            status(unsafe { reset(allocator.ctx) }),
        ),
        Err(error) => finish(move || Call::new(c"allocator_reset"), Err(error)),
    }
}

/// Returns the capability bits of `allocator` (`VAIS_ALLOC_CAP_*`), or a
/// negative code for a NULL vtable or an unknown version.
///
/// # Safety
/// As for `allocator_alloc`.
#[no_mangle]
pub unsafe extern "C" fn allocator_caps(allocator: VaisAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    let caps = unsafe { vtable_of(&allocator) }.map(|vtable| vtable.caps);
    // A view of ours taken before its allocator got an upstream still
    // answers for the allocator as it is now.
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"allocator_caps"),
        caps.map(|caps| caps | unsafe { growing_bit(allocator) }),
    )
}
