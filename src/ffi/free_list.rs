//! `freelist_*`: the general-purpose free-list allocator.

use super::types::{count, pointer, to_i64, Allocation, Layout};
use super::{core_of, drop_family, finish, free_family, new_handle, Family};
use crate::allocator::Allocator;
use crate::free_list::FreeList;

/// Opaque handle of a free-list allocator (Vais code holds it in an `i64`).
pub struct FreeListAllocator {
    _opaque: [u8; 0],
}

impl Family for FreeListAllocator {
    type Core = FreeList;
    const TAG: u64 = 0x5641_4953_4652_4545; // "VAISFREE"
    fn drop_buffer(core: &mut FreeList) {
        core.drop_buffer();
    }
}

/// Creates a free-list allocator over a `capacity`-byte buffer (16-byte
/// aligned): one free block covering it. Returns NULL with
/// `VAIS_ALLOC_E_INVALID_ARGUMENT` when `capacity` cannot hold one minimum
/// block (32 bytes) or exceeds 2^40 - 16, or `VAIS_ALLOC_E_OUT_OF_MEMORY`.
#[no_mangle]
pub extern "C" fn freelist_new(capacity: i64) -> *mut FreeListAllocator {
    finish(count(capacity).and_then(FreeList::new).and_then(new_handle))
}

/// Allocates `layout` in O(1) (any power-of-two alignment). `size` in the
/// result is the usable size of the block (at least `layout.size`). Every
/// block carries a 16-byte header and is at least 32 bytes with it; the
/// header's first word is the previous block's last 8 usable bytes while
/// that block is in use, so a block costs its usable size + 8. Returns
/// `{0, 0}` on failure, the allocator unchanged: `VAIS_ALLOC_E_EXHAUSTED`,
/// `VAIS_ALLOC_E_INVALID_LAYOUT`, or a bad handle.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_alloc(
    list: *mut FreeListAllocator,
    layout: Layout,
) -> Allocation {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(list) }.and_then(|list| Ok(list.alloc(layout.check()?)?.into())))
}

/// Resizes the block at `ptr` to `layout`, keeping the first
/// `min(old usable size, layout.size)` bytes: in place when the block is
/// aligned for `layout` and it, with a free successor, is big enough (a
/// shrink gives its tail back); otherwise it allocates, copies and frees.
/// `ptr == 0` acts as `freelist_alloc`. Returns the (possibly moved) block,
/// or `{0, 0}` with the allocator and the old block unchanged:
/// `VAIS_ALLOC_E_EXHAUSTED`, `VAIS_ALLOC_E_INVALID_LAYOUT`,
/// `VAIS_ALLOC_E_FOREIGN_POINTER`, `VAIS_ALLOC_E_DOUBLE_FREE`, or a bad
/// handle's code.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_realloc(
    list: *mut FreeListAllocator,
    ptr: i64,
    layout: Layout,
) -> Allocation {
    // SAFETY: forwarded from this function's contract.
    let realloc = |list: &mut FreeList| {
        let layout = layout.check()?;
        Ok(match pointer(ptr) {
            Some(ptr) => list.realloc_block(ptr, layout)?,
            None => list.alloc(layout)?,
        }
        .into())
    };
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(list) }.and_then(realloc))
}

/// Frees a block in O(1), merging it with free neighbours; `ptr == 0` is a
/// no-op. Returns 0, or, with the allocator unchanged,
/// `VAIS_ALLOC_E_FOREIGN_POINTER` (not a block this allocator handed out; a
/// second free of a block that has since merged into a neighbour reads as
/// this too), `VAIS_ALLOC_E_DOUBLE_FREE`, or a bad handle's code.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_dealloc(list: *mut FreeListAllocator, ptr: i64) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        unsafe { core_of(list) }
            .and_then(|list| pointer(ptr).map_or(Ok(()), |ptr| list.dealloc(ptr)))
            .map(|()| 0),
    )
}

/// Returns the bytes of blocks in use, headers included, or a negative
/// error code for a bad handle.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_total_allocated(list: *mut FreeListAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(list) }.map(|list| to_i64(list.total_allocated())))
}

/// Returns `capacity - freelist_total_allocated`, or a negative error code
/// for a bad handle.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_remaining(list: *mut FreeListAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(list) }.map(|list| to_i64(list.remaining())))
}

/// Returns the largest `size` for which `freelist_alloc(list, {size, 8})`
/// would succeed now (0 when none would), or a negative error code for a
/// bad handle. Compare it with `freelist_remaining` to see fragmentation.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_largest_free_block(list: *mut FreeListAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(list) }.map(|list| to_i64(list.largest_free_block())))
}

/// Frees every block at once, in O(1): the heap is one free block again,
/// and every pointer handed out before is refused from now on (the
/// headers' key changes). Returns 0, or a negative error code for a bad
/// handle.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_reset(list: *mut FreeListAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(list) }.and_then(|list| list.reset().map(|()| 0)))
}

/// Releases the buffer; the handle stays valid, empty, capacity 0. Returns
/// 0, or a negative error code for a bad handle.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_drop(list: *mut FreeListAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    unsafe { drop_family(list) }
}

/// `freelist_drop`, then releases the handle itself. NULL is a no-op returning
/// 0; a handle of another family is refused with
/// `VAIS_ALLOC_E_INVALID_ARGUMENT`.
///
/// # Safety
/// `list` must be NULL or a live handle; it is dead afterwards.
#[no_mangle]
pub unsafe extern "C" fn freelist_free(list: *mut FreeListAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    unsafe { free_family(list) }
}
