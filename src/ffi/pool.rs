//! `pool_*`: the fixed-size block pool.

use super::allocator::{upstream_of, VaisAllocator};
use super::types::{count, limit, pointer, to_i64};
use super::Call;
use super::{core_if, core_of, drop_family, finish, free_family, new_handle, Family};
use crate::error::Error;
use crate::misuse::note;
use crate::pool::Pool;
use crate::tools::{self, seen};

/// Opaque handle of a block pool (Vais code holds it in an `i64`).
pub struct PoolAllocator {
    _opaque: [u8; 0],
}

impl Family for PoolAllocator {
    type Core = Pool;
    const TAG: u64 = 0x5641_4953_504F_4F4C; // "VAISPOOL"
    const NAME: &'static str = "a pool's";
    fn drop_buffer(core: &mut Pool) {
        core.drop_buffer();
    }
    fn grows(core: &Pool) -> bool {
        core.grows()
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
    let positive = |value: i64, name: &str| {
        if value > 0 {
            count(value)
        } else {
            Err(note(
                Error::InvalidArgument,
                format_args!("{name} {value} is not positive"),
            ))
        }
    };
    finish(
        move || Call::new(c"pool_new"),
        positive(block_size, "block_size")
            .and_then(|block_size| Pool::new(block_size, positive(num_blocks, "num_blocks")?))
            .and_then(new_handle),
    )
}

/// Allocates one block: a free block of the pool's own, in O(1), else
/// (with an upstream, see `pool_set_upstream`) one of a slab, in O(log n)
/// for n slabs, a new slab being obtained when every slab is full. Returns its address, or 0
/// on failure with the pool unchanged: `VAIS_ALLOC_E_EXHAUSTED` when no
/// block is free and the pool cannot grow (no upstream, or the limit of
/// `pool_set_limit`), `VAIS_ALLOC_E_OUT_OF_MEMORY` when the upstream (or
/// the system, for the slab's bookkeeping) refuses, or a bad handle's code.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_alloc(pool: *mut PoolAllocator) -> i64 {
    if !tools::active() {
        // SAFETY: forwarded from this function's contract.
        if let Some(core) = unsafe { core_if(pool) } {
            if let Some(block) = core.alloc_fast() {
                return block.as_ptr() as i64;
            }
        }
    }
    // SAFETY: forwarded from this function's contract.
    unsafe { pool_alloc_slow(pool) }
}

/// `pool_alloc` beyond its fast path: a bad handle, a block from a slab,
/// or a failure. Out of line (and a tail call), so that the fast path
/// needs no stack frame.
///
/// # Safety
/// As for `pool_alloc`.
#[cold]
#[inline(never)]
unsafe fn pool_alloc_slow(pool: *mut PoolAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    let block = unsafe { core_of(pool) }.and_then(|core| seen::alloc(core, core.block_layout()));
    finish(
        move || Call::new(c"pool_alloc"),
        block.map(|block| block.ptr.as_ptr()),
    ) as i64
}

/// Returns a block to the pool; `ptr == 0` is a no-op. O(1) for the pool's
/// own blocks, O(log n) for a pool with n slabs (their number grows with
/// the logarithm of the bytes obtained). Returns 0, or, with the pool
/// unchanged, `VAIS_ALLOC_E_FOREIGN_POINTER` for anything that is not the
/// start of a block of this pool (its own or a slab's),
/// `VAIS_ALLOC_E_DOUBLE_FREE` for a block that is free (freed, or never
/// handed out), or a bad handle's code.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_dealloc(pool: *mut PoolAllocator, ptr: i64) -> i64 {
    // SAFETY: forwarded from this function's contract.
    let core = match unsafe { core_if(pool) } {
        Some(core) if !tools::active() => core,
        // SAFETY: forwarded from this function's contract.
        _ => return unsafe { pool_dealloc_checked(pool, ptr) },
    };
    let Some(ptr) = pointer(ptr) else { return 0 };
    match core.dealloc_fast(ptr) {
        Ok(()) => 0,
        // SAFETY: forwarded from this function's contract.
        Err(quotient) => unsafe { pool_dealloc_slow(pool, quotient) },
    }
}

/// `pool_dealloc` of a pointer its fast path refused with `quotient`: a
/// slab's block, or a refusal (the address, for the detail, is the
/// quotient's: see [`Pool::address_of_quotient`]). Out of line (and a tail
/// call), as `pool_alloc_slow`.
///
/// # Safety
/// As for `pool_dealloc`, with a live handle of this family.
#[cold]
#[inline(never)]
unsafe fn pool_dealloc_slow(pool: *mut PoolAllocator, quotient: u64) -> i64 {
    // SAFETY: forwarded from this function's contract.
    let Some(core) = (unsafe { core_if(pool) }) else {
        // SAFETY: forwarded from this function's contract.
        return unsafe { pool_dealloc_checked(pool, 0) };
    };
    let address = core.address_of_quotient(quotient);
    let freed = core
        .dealloc_slow(quotient)
        .map_err(|error| core.explain(address, error));
    finish(
        move || Call::new(c"pool_dealloc").ptr(address as i64),
        freed.map(|()| 0),
    )
}

/// `pool_dealloc` with every check made here: a bad handle, or a memory
/// tool present (the free is then reported to it).
///
/// # Safety
/// As for `pool_dealloc`.
#[cold]
#[inline(never)]
unsafe fn pool_dealloc_checked(pool: *mut PoolAllocator, address: i64) -> i64 {
    let dealloc = |core: &mut Pool| match pointer(address) {
        // SAFETY: the pool validates every pointer.
        Some(ptr) => unsafe { seen::free(core, ptr, core.block_layout()) }
            .map_err(|error| core.explain(address as usize, error)),
        None => Ok(()),
    };
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"pool_dealloc").ptr(address),
        unsafe { core_of(pool) }.and_then(dealloc).map(|()| 0),
    )
}

/// Returns the number of blocks that can be allocated without asking the
/// upstream (the free blocks of the pool's own and of every slab held),
/// or a negative error code for a bad handle.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_num_free_blocks(pool: *mut PoolAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"pool_num_free_blocks"),
        unsafe { core_of(pool) }.map(|pool| to_i64(pool.num_free())),
    )
}

/// Returns the number of blocks in use (the pool's own and the slabs'), or
/// a negative error code for a bad handle.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_num_allocated(pool: *mut PoolAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"pool_num_allocated"),
        unsafe { core_of(pool) }.map(|pool| to_i64(pool.num_allocated())),
    )
}

/// Returns the block size in use (after rounding), or a negative error code
/// for a bad handle.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_block_size(pool: *mut PoolAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"pool_block_size"),
        unsafe { core_of(pool) }.map(|pool| to_i64(pool.block_size())),
    )
}

/// Returns 1 if `ptr` is the start of a block of this pool now in use, 0 if
/// not, or a negative error code for a bad handle.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_owns(pool: *mut PoolAllocator, ptr: i64) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"pool_owns").ptr(ptr),
        unsafe { core_of(pool) }.map(|pool| i64::from(pool.owns(ptr as usize))),
    )
}

/// Frees every block at once, in O(1) plus O(number of slabs) (the pool
/// forgets which blocks it handed out, and carves them afresh). The largest
/// slab is kept, with every block free, and the others go back upstream,
/// so a pool reused for the same load soon stops calling the upstream.
/// Returns 0, or a negative error code for a bad handle.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_reset(pool: *mut PoolAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"pool_reset"),
        unsafe { core_of(pool) }.and_then(|pool| seen::reset(pool).map(|()| 0)),
    )
}

/// Releases the pool's memory and gives every slab back upstream; the
/// handle stays valid, with no blocks, and keeps its upstream. Returns 0,
/// or a negative error code for a bad handle.
///
/// Drop versus free: `pool_drop` empties the allocator and keeps the handle
/// (every pointer into it is dead; with an upstream it can serve again);
/// `pool_free` does the same and then releases the handle itself.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_drop(pool: *mut PoolAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    unsafe { drop_family(pool, c"pool_drop") }
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
    unsafe { free_family(pool, c"pool_free") }
}

/// From now on, when the pool's own blocks are all in use, blocks come
/// from slabs obtained from `upstream` (any allocator:
/// `global_as_allocator()`, another of ours, or the caller's): each slab
/// is cut into blocks of the pool's block size, aligned as the pool's own.
/// Slab sizes start at `slab_bytes` (0: the library's choice, 64 KiB; a
/// slab holds at least one block) and double. Freed blocks of every slab
/// are reused before a new slab is obtained. `pool_reset` keeps the
/// largest slab and gives the others back; `pool_drop` and `pool_free`
/// give every slab back, so `upstream` must outlive the pool. Returns 0,
/// or: `VAIS_ALLOC_E_NULL_HANDLE` for a NULL handle or vtable,
/// `VAIS_ALLOC_E_INVALID_ARGUMENT` for a handle of another family, a
/// negative `slab_bytes`, an unknown vtable version, a vtable without
/// `alloc` or `free`, the pool itself as its upstream, or while slabs of an
/// earlier upstream are held. A failure changes nothing.
///
/// # Safety
/// `pool` must be NULL or a live handle; `upstream` a valid allocator.
#[no_mangle]
pub unsafe extern "C" fn pool_set_upstream(
    pool: *mut PoolAllocator,
    upstream: VaisAllocator,
    slab_bytes: i64,
) -> i64 {
    let set = |core: &mut Pool| {
        let slab_bytes = count(slab_bytes)?;
        // SAFETY: forwarded from this function's contract.
        let source = unsafe { upstream_of(pool, upstream) }?;
        core.set_upstream(source, slab_bytes).map(|()| 0)
    };
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"pool_set_upstream"),
        unsafe { core_of(pool) }.and_then(set),
    )
}

/// Caps the bytes the pool may hold (its own blocks and its slabs) at
/// `max_bytes`; -1 removes the cap. An allocation that would need a slab
/// past it fails with `VAIS_ALLOC_E_EXHAUSTED`. Returns 0, or
/// `VAIS_ALLOC_E_INVALID_ARGUMENT` for a value below -1 or below what the
/// pool holds already, or a bad handle's code.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_set_limit(pool: *mut PoolAllocator, max_bytes: i64) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"pool_set_limit"),
        unsafe { core_of(pool) }.and_then(|core| core.set_limit(limit(max_bytes)?).map(|()| 0)),
    )
}

/// Returns the bytes the pool holds now (its own blocks and every slab
/// obtained from its upstream), or a negative error code for a bad handle.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_capacity(pool: *mut PoolAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"pool_capacity"),
        unsafe { core_of(pool) }.map(|core| to_i64(core.capacity())),
    )
}
