//! `bump_*`: the bump arena.

use super::allocator::{upstream_of, VaisAllocator};
use super::types::{count, limit, to_i64, Allocation, Layout};
use super::Call;
use super::{core_if, core_of, drop_family, finish, free_family, new_handle, Family};
use crate::bump::Bump;
use crate::error::Error;
use crate::tools::{self, seen};

/// Opaque handle of a bump arena (Vais code holds it in an `i64`).
pub struct BumpAllocator {
    _opaque: [u8; 0],
}

impl Family for BumpAllocator {
    type Core = Bump;
    const TAG: u64 = 0x5641_4953_4255_4D50; // "VAISBUMP"
    const NAME: &'static str = "a bump arena's";
    fn drop_buffer(core: &mut Bump) {
        core.drop_buffer();
    }
    fn grows(core: &Bump) -> bool {
        core.grows()
    }
}

fn handle(call: impl FnOnce() -> Call, core: Result<Bump, Error>) -> *mut BumpAllocator {
    finish(call, core.and_then(new_handle))
}

/// Creates an arena owning a `capacity`-byte buffer (16-byte aligned).
/// Capacity 0 is valid (every request is then `VAIS_ALLOC_E_EXHAUSTED`).
/// Returns NULL on a negative capacity (`VAIS_ALLOC_E_INVALID_ARGUMENT`) or
/// when memory runs out (`VAIS_ALLOC_E_OUT_OF_MEMORY`).
#[no_mangle]
pub extern "C" fn bump_new(capacity: i64) -> *mut BumpAllocator {
    handle(
        move || Call::new(c"bump_new").value(capacity),
        count(capacity).and_then(Bump::new),
    )
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
        move || Call::new(c"bump_from_buffer").ptr(buffer).value(capacity),
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
    if !tools::active() {
        // SAFETY: forwarded from this function's contract.
        if let Some(core) = unsafe { core_if(bump) } {
            // The layout is checked by the fast path's own arithmetic, and
            // in full on the slow path (which sorts out the error).
            let (size, align) = (layout.size as usize, layout.align as usize);
            if let Some(block) = core.alloc_fast_unchecked(size, align) {
                return block.into();
            }
        }
    }
    // SAFETY: forwarded from this function's contract.
    unsafe { bump_alloc_slow(bump, layout) }
}

/// `bump_alloc` beyond its fast path: a bad handle or layout, a request
/// that needs another region or chunk, or one that fails. Out of line (and
/// a tail call), so that the fast path needs no stack frame.
///
/// # Safety
/// As for `bump_alloc`.
#[cold]
#[inline(never)]
unsafe fn bump_alloc_slow(bump: *mut BumpAllocator, layout: Layout) -> Allocation {
    let alloc = |bump: &mut Bump| {
        let layout = layout.check()?;
        Ok(if tools::active() {
            seen::alloc(bump, layout)
        } else {
            bump.alloc_slow(layout)
        }?
        .into())
    };
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"bump_alloc").layout(layout.size, layout.align),
        unsafe { core_of(bump) }.and_then(alloc),
    )
}

/// Like `bump_alloc`, with the block zero-filled.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_alloc_zeroed(bump: *mut BumpAllocator, layout: Layout) -> Allocation {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"bump_alloc_zeroed").layout(layout.size, layout.align),
        unsafe { core_of(bump) }
            .and_then(|bump| Ok(seen::alloc_zeroed(bump, layout.check()?)?.into())),
    )
}

/// Frees every allocation at once, keeping the buffer. Returns 0, or a
/// negative error code for a bad handle.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_reset(bump: *mut BumpAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"bump_reset"),
        unsafe { core_of(bump) }.and_then(|bump| seen::reset(bump).map(|()| 0)),
    )
}

/// Returns the bytes that can be served without asking the upstream (the
/// rest of the current buffer or chunk and the chunks held beyond it;
/// alignment padding counts as used), or a negative error code for a bad
/// handle.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_remaining(bump: *mut BumpAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"bump_remaining"),
        unsafe { core_of(bump) }.map(|bump| to_i64(bump.remaining())),
    )
}

/// Returns the sum of `layout.size` of the allocations since the last
/// reset, or a negative error code for a bad handle.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_total_allocated(bump: *mut BumpAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"bump_total_allocated"),
        unsafe { core_of(bump) }.map(|bump| to_i64(bump.total_allocated())),
    )
}

/// Returns the bytes held now (the buffer and every chunk obtained from an
/// upstream), or a negative error code for a bad handle.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_capacity(bump: *mut BumpAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"bump_capacity"),
        unsafe { core_of(bump) }.map(|bump| to_i64(bump.capacity())),
    )
}

/// Returns 1 if `ptr` lies in memory the arena handed out since its last
/// reset, 0 if not, or a negative error code for a bad handle.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_owns(bump: *mut BumpAllocator, ptr: i64) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"bump_owns").ptr(ptr),
        unsafe { core_of(bump) }.map(|bump| i64::from(bump.owns(ptr as usize))),
    )
}

/// Releases an owned buffer (a `bump_from_buffer` buffer is left to its
/// owner). The handle stays valid, empty, with capacity 0. Returns 0, or a
/// negative error code for a bad handle.
///
/// Drop versus free: `bump_drop` empties the allocator and keeps the handle
/// (every pointer into it is dead; with an upstream it can serve again);
/// `bump_free` does the same and then releases the handle itself.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_drop(bump: *mut BumpAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    unsafe { drop_family(bump, c"bump_drop") }
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
    unsafe { free_family(bump, c"bump_free") }
}

/// From now on a request that does not fit is served from a new chunk
/// obtained from `upstream` (any allocator: `global_as_allocator()`,
/// another of ours, or the caller's): chunk sizes start at `chunk_size`
/// (0: the library's choice, 64 KiB) and double, and a larger request gets
/// a chunk that fits it. Works for owned and `bump_from_buffer` arenas
/// alike. `bump_reset` keeps the largest chunk and gives the others back;
/// `bump_free` gives every chunk back, so `upstream` must outlive the
/// arena. Returns 0, or: `VAIS_ALLOC_E_NULL_HANDLE` for a NULL handle or
/// vtable, `VAIS_ALLOC_E_INVALID_ARGUMENT` for a handle of another family,
/// a negative `chunk_size`, an unknown vtable version, a vtable without
/// `alloc` or `free`, the arena itself as its upstream, or while chunks of
/// an earlier upstream are held. A failure changes nothing.
///
/// # Safety
/// `bump` must be NULL or a live handle; `upstream` a valid allocator.
#[no_mangle]
pub unsafe extern "C" fn bump_set_upstream(
    bump: *mut BumpAllocator,
    upstream: VaisAllocator,
    chunk_size: i64,
) -> i64 {
    let set = |core: &mut Bump| {
        let chunk_size = count(chunk_size)?;
        // SAFETY: forwarded from this function's contract.
        let source = unsafe { upstream_of(bump, upstream) }?;
        core.set_upstream(source, chunk_size).map(|()| 0)
    };
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"bump_set_upstream"),
        unsafe { core_of(bump) }.and_then(set),
    )
}

/// Caps the bytes the arena may hold (its buffer and chunks) at
/// `max_bytes`; -1 removes the cap. A request that would pass it fails
/// with `VAIS_ALLOC_E_EXHAUSTED`. Returns 0, or
/// `VAIS_ALLOC_E_INVALID_ARGUMENT` for a value below -1 or below what the
/// arena holds already, or a bad handle's code.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_set_limit(bump: *mut BumpAllocator, max_bytes: i64) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"bump_set_limit"),
        unsafe { core_of(bump) }.and_then(|core| core.set_limit(limit(max_bytes)?).map(|()| 0)),
    )
}

/// Returns a mark (`>= 0`) naming the current point of the arena, for
/// `bump_release_to`; or a negative error code (a bad handle,
/// `VAIS_ALLOC_E_OUT_OF_MEMORY`). A mark uses none of the arena's bytes.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_mark(bump: *mut BumpAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"bump_mark"),
        unsafe { core_of(bump) }.and_then(Bump::mark),
    )
}

/// Frees everything allocated after `mark` at once: `bump_remaining` and
/// `bump_total_allocated` return to their values at the mark, chunks
/// obtained since go back upstream (one is kept for reuse), marks taken
/// after it become stale, and `mark` itself stays live (a loop may release
/// to it again and again). Scopes nest. Returns 0, or
/// `VAIS_ALLOC_E_STALE_MARK` with nothing changed for a mark released past,
/// taken before a reset, of another arena, or forged; or a bad handle's
/// code.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_release_to(bump: *mut BumpAllocator, mark: i64) -> i64 {
    let release = |core: &mut Bump| seen::bulk(core, |core| core.release_to(mark)).map(|()| 0);
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"bump_release_to").value(mark),
        unsafe { core_of(bump) }.and_then(release),
    )
}

/// Returns the largest `bump_total_allocated` the arena has reached (its
/// high-water mark), or a negative error code for a bad handle.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_peak(bump: *mut BumpAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"bump_peak"),
        unsafe { core_of(bump) }.map(|core| to_i64(core.peak())),
    )
}
