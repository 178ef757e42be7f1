//! `bump_*`: the bump arena.

use super::types::{count, to_i64, Allocation, Layout};
use super::{core_of, drop_family, finish, free_family, new_handle, Family};
use crate::allocator::Allocator;
use crate::bump::Bump;
use crate::error::Error;

/// Opaque handle of a bump arena (Vais code holds it in an `i64`).
pub struct BumpAllocator {
    _opaque: [u8; 0],
}

impl Family for BumpAllocator {
    type Core = Bump;
    const TAG: u64 = 0x5641_4953_4255_4D50; // "VAISBUMP"
    fn drop_buffer(core: &mut Bump) {
        core.drop_buffer();
    }
}

fn handle(core: Result<Bump, Error>) -> *mut BumpAllocator {
    finish(core.and_then(new_handle))
}

/// Creates an arena owning a `capacity`-byte buffer (16-byte aligned).
/// Capacity 0 is valid (every request is then `VAIS_ALLOC_E_EXHAUSTED`).
/// Returns NULL on a negative capacity (`VAIS_ALLOC_E_INVALID_ARGUMENT`) or
/// when memory runs out (`VAIS_ALLOC_E_OUT_OF_MEMORY`).
#[no_mangle]
pub extern "C" fn bump_new(capacity: i64) -> *mut BumpAllocator {
    handle(count(capacity).and_then(Bump::new))
}

/// Creates an arena over caller memory `[buffer, buffer + capacity)`, at any
/// address alignment. The arena never frees it. Returns NULL with
/// `VAIS_ALLOC_E_INVALID_ARGUMENT` for a NULL buffer of non-zero capacity, a
/// negative capacity or a range that wraps.
///
/// # Safety
/// The range must stay valid for reads and writes while the arena uses it.
#[no_mangle]
pub unsafe extern "C" fn bump_from_buffer(buffer: i64, capacity: i64) -> *mut BumpAllocator {
    handle(
        count(buffer)
            .and_then(|buffer| Ok((buffer, count(capacity)?)))
            // SAFETY: forwarded from this function's contract.
            .and_then(|(buffer, capacity)| unsafe { Bump::from_buffer(buffer, capacity) }),
    )
}

/// Allocates `layout` at the first address at or after the arena's top
/// aligned to `layout.align`; `size` in the result is `layout.size`. A
/// zero-size request takes one byte of the arena, so every pointer is
/// distinct and a full arena refuses it. Returns `{0, 0}` on failure, the
/// arena unchanged: `VAIS_ALLOC_E_EXHAUSTED` when it does not fit,
/// `VAIS_ALLOC_E_INVALID_LAYOUT`, `VAIS_ALLOC_E_NULL_HANDLE`,
/// `VAIS_ALLOC_E_INVALID_ARGUMENT` for a handle of another family.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_alloc(bump: *mut BumpAllocator, layout: Layout) -> Allocation {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(bump) }.and_then(|bump| Ok(bump.alloc(layout.check()?)?.into())))
}

/// Like `bump_alloc`, with the block zero-filled.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_alloc_zeroed(bump: *mut BumpAllocator, layout: Layout) -> Allocation {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(bump) }.and_then(|bump| Ok(bump.alloc_zeroed(layout.check()?)?.into())))
}

/// Frees every allocation at once, keeping the buffer. Returns 0, or a
/// negative error code for a bad handle.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_reset(bump: *mut BumpAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(bump) }.and_then(|bump| bump.reset().map(|()| 0)))
}

/// Returns the free bytes (`capacity - used`, alignment padding counts as
/// used), or a negative error code for a bad handle.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_remaining(bump: *mut BumpAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(bump) }.map(|bump| to_i64(bump.remaining())))
}

/// Returns the sum of `layout.size` of the allocations since the last
/// reset, or a negative error code for a bad handle.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_total_allocated(bump: *mut BumpAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(bump) }.map(|bump| to_i64(bump.total_allocated())))
}

/// Returns the buffer size in bytes, or a negative error code for a bad
/// handle.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_capacity(bump: *mut BumpAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(bump) }.map(|bump| to_i64(bump.capacity())))
}

/// Returns 1 if `ptr` lies in memory the arena handed out since its last
/// reset, 0 if not, or a negative error code for a bad handle.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_owns(bump: *mut BumpAllocator, ptr: i64) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(bump) }.map(|bump| i64::from(bump.owns(ptr as usize))))
}

/// Releases an owned buffer (a `bump_from_buffer` buffer is left to its
/// owner). The handle stays valid, empty, with capacity 0. Returns 0, or a
/// negative error code for a bad handle.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_drop(bump: *mut BumpAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    unsafe { drop_family(bump) }
}

/// `bump_drop`, then releases the handle itself. NULL is a no-op returning
/// 0; a handle of another family is refused with
/// `VAIS_ALLOC_E_INVALID_ARGUMENT`.
///
/// # Safety
/// `bump` must be NULL or a live handle; it is dead afterwards.
#[no_mangle]
pub unsafe extern "C" fn bump_free(bump: *mut BumpAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    unsafe { free_family(bump) }
}
