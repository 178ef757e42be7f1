//! `pool_*`: the fixed-size block pool.

use super::types::{count, pointer, to_i64};
use super::{core_of, drop_family, finish, free_family, new_handle, Family};
use crate::allocator::Allocator;
use crate::error::Error;
use crate::pool::Pool;

/// Opaque handle of a block pool (Vais code holds it in an `i64`).
pub struct PoolAllocator {
    _opaque: [u8; 0],
}

impl Family for PoolAllocator {
    type Core = Pool;
    const TAG: u64 = 0x5641_4953_504F_4F4C; // "VAISPOOL"
    fn drop_buffer(core: &mut Pool) {
        core.drop_buffer();
    }
}

/// Creates a pool of `num_blocks` blocks of `block_size` bytes, raised to
/// at least 8 and to a multiple of 8; blocks are aligned to the largest
/// power of two dividing the block size, up to 16. Creation does not touch
/// the blocks, so its cost does not grow with `num_blocks`. Returns NULL
/// with `VAIS_ALLOC_E_INVALID_ARGUMENT` for `num_blocks <= 0` (or above
/// 2^32 - 3), `block_size <= 0` or an overflowing total, and with
/// `VAIS_ALLOC_E_OUT_OF_MEMORY` when memory runs out.
#[no_mangle]
pub extern "C" fn pool_new(block_size: i64, num_blocks: i64) -> *mut PoolAllocator {
    let positive = |value: i64| {
        if value > 0 {
            count(value)
        } else {
            Err(Error::InvalidArgument)
        }
    };
    finish(
        positive(block_size)
            .and_then(|block_size| Pool::new(block_size, positive(num_blocks)?))
            .and_then(new_handle),
    )
}

/// Allocates one block in O(1). Returns its address, or 0 on failure:
/// `VAIS_ALLOC_E_EXHAUSTED` when no block is free, or a bad handle.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_alloc(pool: *mut PoolAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    let block = unsafe { core_of(pool) }.and_then(Pool::alloc_block);
    finish(block.map(|block| block.as_ptr())) as i64
}

/// Returns a block to the pool in O(1); `ptr == 0` is a no-op. Returns 0,
/// or, with the pool unchanged, `VAIS_ALLOC_E_FOREIGN_POINTER` for anything
/// that is not the start of a block of this pool,
/// `VAIS_ALLOC_E_DOUBLE_FREE` for a block that is free (freed, or never
/// handed out), or a bad handle's code.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_dealloc(pool: *mut PoolAllocator, ptr: i64) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        unsafe { core_of(pool) }
            .and_then(|pool| pointer(ptr).map_or(Ok(()), |ptr| pool.dealloc(ptr)))
            .map(|()| 0),
    )
}

/// Returns the number of blocks that can still be allocated, or a negative
/// error code for a bad handle.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_num_free_blocks(pool: *mut PoolAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(pool) }.map(|pool| to_i64(pool.num_free())))
}

/// Returns the number of blocks in use, or a negative error code for a bad
/// handle.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_num_allocated(pool: *mut PoolAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(pool) }.map(|pool| to_i64(pool.num_allocated())))
}

/// Returns the block size in use (after rounding), or a negative error code
/// for a bad handle.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_block_size(pool: *mut PoolAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(pool) }.map(|pool| to_i64(pool.block_size())))
}

/// Returns 1 if `ptr` is the start of a block of this pool now in use, 0 if
/// not, or a negative error code for a bad handle.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_owns(pool: *mut PoolAllocator, ptr: i64) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(pool) }.map(|pool| i64::from(pool.owns(ptr as usize))))
}

/// Frees every block at once, in O(1) (the pool forgets which blocks it
/// handed out, and carves them afresh). Returns 0, or a negative error
/// code for a bad handle.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_reset(pool: *mut PoolAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(pool) }.and_then(|pool| pool.reset().map(|()| 0)))
}

/// Releases the pool's memory; the handle stays valid, with no blocks.
/// Returns 0, or a negative error code for a bad handle.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_drop(pool: *mut PoolAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    unsafe { drop_family(pool) }
}

/// `pool_drop`, then releases the handle itself. NULL is a no-op returning
/// 0; a handle of another family is refused with
/// `VAIS_ALLOC_E_INVALID_ARGUMENT`.
///
/// # Safety
/// `pool` must be NULL or a live handle; it is dead afterwards.
#[no_mangle]
pub unsafe extern "C" fn pool_free(pool: *mut PoolAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    unsafe { free_family(pool) }
}
