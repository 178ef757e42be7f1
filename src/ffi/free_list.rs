//! `freelist_*`: the general-purpose free-list allocator.

use super::allocator::{upstream_of, VaisAllocator};
use super::types::{count, limit, pointer, to_i64, Allocation, Layout};
use super::Call;
use super::{core_if, core_of, drop_family, finish, free_family, new_handle, Family};
use crate::error::Error;
use crate::free_list::FreeList;
use crate::tools::{self, seen, seen::Visible};

/// Opaque handle of a free-list allocator (Vais code holds it in an `i64`).
pub struct FreeListAllocator {
    _opaque: [u8; 0],
}

impl Family for FreeListAllocator {
    type Core = FreeList;
    const TAG: u64 = 0x5641_4953_4652_4545; // "VAISFREE"
    const NAME: &'static str = "a free list's";
    fn drop_buffer(core: &mut FreeList) {
        core.drop_buffer();
    }
    fn grows(core: &FreeList) -> bool {
        core.grows()
    }
}

/// Creates a free-list allocator over a `capacity`-byte buffer (16-byte
/// aligned): one free block covering it. Returns NULL with
/// `VAIS_ALLOC_E_INVALID_ARGUMENT` when `capacity` cannot hold one minimum
/// block (32 bytes) or exceeds 2^40 - 16, or `VAIS_ALLOC_E_OUT_OF_MEMORY`.
#[no_mangle]
pub extern "C" fn freelist_new(capacity: i64) -> *mut FreeListAllocator {
    finish(
        move || Call::new(c"freelist_new"),
        count(capacity).and_then(FreeList::new).and_then(new_handle),
    )
}

/// Allocates `layout` (any power-of-two alignment) in time independent of
/// the number of blocks: from the current region, else from the other
/// regions in turn, else, with an upstream, from a new chunk that becomes
/// the current region. `size` in the result is the usable size of
/// the block (at least `layout.size`). Every payload is 16-byte aligned,
/// whatever `layout.align` asks (1 included), as `malloc`'s are; larger
/// alignments are honoured exactly. Every block carries a 16-byte
/// header and is at least 32 bytes with it; the header's first word is the
/// previous block's last 8 usable bytes while that block is in use, so a
/// block costs its usable size + 8. Returns
/// `{0, 0}` on failure, the allocator unchanged: `VAIS_ALLOC_E_EXHAUSTED`
/// (no region fits, and there is no upstream, or the limit or the largest
/// region size, 2^40 - 16 bytes, is in the way),
/// `VAIS_ALLOC_E_OUT_OF_MEMORY` (the upstream refused),
/// `VAIS_ALLOC_E_INVALID_LAYOUT`, or a bad handle.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_alloc(
    list: *mut FreeListAllocator,
    layout: Layout,
) -> Allocation {
    if tools::active() {
        // SAFETY: forwarded from this function's contract.
        return unsafe { freelist_alloc_slow(list, layout) };
    }
    // SAFETY: forwarded from this function's contract.
    if let Some(core) = unsafe { core_if(list) } {
        // The layout is checked by the cache's own test (it serves only
        // valid small layouts), and in full on the way to the heap.
        if let Some(block) = core.alloc_cached(layout.size as u64, layout.align as u64) {
            return block.into();
        }
    }
    // SAFETY: forwarded from this function's contract.
    unsafe { freelist_alloc_heap(list, layout) }
}

/// `freelist_alloc` once the front-end cache has no block for it: the
/// current region's size classes. Out of line (and a tail call), so that
/// a cache hit needs no stack frame.
///
/// # Safety
/// As for `freelist_alloc`.
#[inline(never)]
unsafe fn freelist_alloc_heap(list: *mut FreeListAllocator, layout: Layout) -> Allocation {
    // SAFETY: forwarded from this function's contract.
    if let Some(core) = unsafe { core_if(list) } {
        if let Ok(checked) = layout.check() {
            if let Some(block) = core.alloc_with(checked, false, Some, |_, _, _| None) {
                return block.into();
            }
        }
    }
    // SAFETY: forwarded from this function's contract.
    unsafe { freelist_alloc_slow(list, layout) }
}

/// `freelist_alloc` beyond its fast path: a bad handle or layout, or a
/// request the current region cannot serve (the other regions, or a new
/// chunk). Out of line, and given the arguments as they came, so that the
/// fast path keeps nothing for it.
///
/// # Safety
/// As for `freelist_alloc`.
#[cold]
#[inline(never)]
unsafe fn freelist_alloc_slow(list: *mut FreeListAllocator, layout: Layout) -> Allocation {
    let alloc = |core: &mut FreeList| {
        let layout = layout.check()?;
        Ok(if tools::active() {
            seen::alloc(core, layout)
        } else {
            core.alloc_missed(layout)
        }?
        .into())
    };
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"freelist_alloc").layout(layout.size, layout.align),
        unsafe { core_of(list) }.and_then(alloc),
    )
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
            Some(ptr) if tools::active() => realloc_seen(list, ptr, layout)?,
            Some(ptr) => list.realloc_block(ptr, layout)?,
            None => seen::alloc(list, layout)?,
        }
        .into())
    };
    // SAFETY: forwarded from this function's contract.
    finish(
        move || {
            Call::new(c"freelist_realloc")
                .ptr(ptr)
                .layout(layout.size, layout.align)
        },
        unsafe { core_of(list) }.and_then(realloc),
    )
}

/// Frees a block in O(1), merging it with free neighbours (in its own
/// region: a block of another region than the current one is found by
/// address, in time logarithmic in the number of regions); `ptr == 0` is a
/// no-op. Returns 0, or, with the allocator unchanged,
/// `VAIS_ALLOC_E_FOREIGN_POINTER` (not a block this allocator handed out; a
/// second free of a block that has since merged into a neighbour reads as
/// this too), `VAIS_ALLOC_E_DOUBLE_FREE`, or a bad handle's code.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_dealloc(list: *mut FreeListAllocator, ptr: i64) -> i64 {
    if tools::active() {
        // SAFETY: forwarded from this function's contract.
        return unsafe { freelist_dealloc_heap(list, ptr) };
    }
    // SAFETY: forwarded from this function's contract.
    if let Some(core) = unsafe { core_if(list) } {
        if let Some(ptr) = pointer(ptr) {
            if core.dealloc_cached(ptr) {
                return 0;
            }
        }
    }
    // SAFETY: forwarded from this function's contract.
    unsafe { freelist_dealloc_heap(list, ptr) }
}

/// `freelist_dealloc` of a block the front-end cache does not take (or a
/// pointer it refuses): validated in full and merged. Out of line (and a
/// tail call), so that a cached free needs no stack frame.
///
/// # Safety
/// As for `freelist_dealloc`.
#[inline(never)]
unsafe fn freelist_dealloc_heap(list: *mut FreeListAllocator, ptr: i64) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"freelist_dealloc").ptr(ptr),
        unsafe { core_of(list) }
            .and_then(|list| match pointer(ptr) {
                // SAFETY: the free list validates every pointer.
                Some(ptr) if tools::active() => unsafe { seen::free(list, ptr, ANY_LAYOUT) }
                    .map_err(|error| explain(list, ptr, error)),
                Some(ptr) => list
                    .dealloc_merging(ptr)
                    .map_err(|error| explain(list, ptr, error)),
                None => Ok(()),
            })
            .map(|()| 0),
    )
}

/// Returns the bytes of blocks in use, headers included, in every region,
/// or a negative error code for a bad handle.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_total_allocated(list: *mut FreeListAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"freelist_total_allocated"),
        unsafe { core_of(list) }.map(|list| to_i64(list.total_allocated())),
    )
}

/// Returns `freelist_capacity - freelist_total_allocated`: the free bytes
/// of every region, what can be served without asking the upstream
/// (headers of the blocks still to come out of it); or a negative error
/// code for a bad handle.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_remaining(list: *mut FreeListAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"freelist_remaining"),
        unsafe { core_of(list) }.map(|list| to_i64(list.remaining())),
    )
}

/// Returns the largest `size` for which `freelist_alloc(list, {size, 8})`
/// would succeed now without asking the upstream (0 when none would): the
/// largest over the regions, as no block spans two. Or a negative error
/// code for a bad handle. Compare it with `freelist_remaining` to see
/// fragmentation.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_largest_free_block(list: *mut FreeListAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"freelist_largest_free_block"),
        unsafe { core_of(list) }.map(|list| to_i64(seen::quietly(|| list.largest_free_block()))),
    )
}

/// Frees every block at once: every region is one free block again, and
/// every pointer handed out before is refused from now on (the headers'
/// keys change). Chunks obtained from the upstream go back to it except
/// the largest, which is kept for reuse; the buffer and the regions of
/// `freelist_add_region` stay. O(1) per region. Returns 0, or a negative
/// error code for a bad handle.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_reset(list: *mut FreeListAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"freelist_reset"),
        unsafe { core_of(list) }.and_then(|list| seen::reset(list).map(|()| 0)),
    )
}

/// Releases the buffer, gives every chunk back to the upstream and forgets
/// the regions of `freelist_add_region` (the caller's memory, never
/// freed); the handle stays valid, empty, capacity 0, and keeps its
/// upstream and limit. Returns 0, or a negative error code for a bad
/// handle.
///
/// Drop versus free: `freelist_drop` empties the allocator and keeps the handle
/// (every pointer into it is dead; with an upstream it can serve again);
/// `freelist_free` does the same and then releases the handle itself.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_drop(list: *mut FreeListAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    unsafe { drop_family(list, c"freelist_drop") }
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
    unsafe { free_family(list, c"freelist_free") }
}

/// From now on a request that no region can serve is served from a new
/// region over a chunk obtained from `upstream` (any allocator:
/// `global_as_allocator()`, another of ours, or the caller's): chunk sizes
/// start at `chunk_size` (0: the library's choice, 64 KiB) and double up
/// to 1 GiB (or stay at a larger `chunk_size`), and a larger request gets
/// a chunk that fits it. No block spans two regions. `freelist_reset`
/// keeps the largest chunk and gives the others back; `freelist_drop` and
/// `freelist_free` give every chunk back, so `upstream` must outlive the
/// list. The view of `freelist_as_allocator` has `VAIS_ALLOC_CAP_GROWS`
/// from now on. Each region's bookkeeping (about 8 KiB: its size-class
/// index) comes from the system allocator, as the handle does; the
/// upstream serves only the chunks. Returns 0, or:
/// `VAIS_ALLOC_E_NULL_HANDLE` for a NULL handle or vtable,
/// `VAIS_ALLOC_E_INVALID_ARGUMENT` for a handle of another family, a
/// negative `chunk_size` or one above 2^40 - 16, an unknown vtable
/// version, a vtable without `alloc` or `free`, the list itself as its
/// upstream, or while chunks of an earlier upstream are held;
/// `VAIS_ALLOC_E_OUT_OF_MEMORY` when the few bytes of bookkeeping cannot
/// be had. A failure changes nothing.
///
/// # Safety
/// `list` must be NULL or a live handle; `upstream` a valid allocator.
#[no_mangle]
pub unsafe extern "C" fn freelist_set_upstream(
    list: *mut FreeListAllocator,
    upstream: VaisAllocator,
    chunk_size: i64,
) -> i64 {
    let set = |core: &mut FreeList| {
        let chunk_size = count(chunk_size)?;
        // SAFETY: forwarded from this function's contract.
        let source = unsafe { upstream_of(list, upstream) }?;
        core.set_upstream(source, chunk_size).map(|()| 0)
    };
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"freelist_set_upstream"),
        unsafe { core_of(list) }.and_then(set),
    )
}

/// Makes caller memory `[buffer, buffer + capacity)` a region of the list,
/// at any address alignment (blocks start at its first 16-aligned address;
/// its last 8 to 23 bytes stay unused). The library zero-fills it,
/// allocates from it, keeps it at `freelist_reset`, and never frees it: it
/// must stay valid until `freelist_drop` or `freelist_free`, which forget
/// it. It becomes the current region (the first one allocations try) if
/// it is larger than what the current region has free. It does not count
/// against `freelist_set_limit`; its bookkeeping (about 8 KiB) comes from
/// the system allocator. Returns 0,
/// or, with nothing changed: `VAIS_ALLOC_E_INVALID_ARGUMENT` for a NULL
/// `buffer`, a negative `capacity`, one that cannot hold a minimum block
/// (32 bytes, after the alignment and the 8 bytes at the end) or above
/// 2^40 - 16, a range that wraps or overlaps a region the list holds (its
/// buffer, a chunk, an earlier region), or a handle of another family;
/// `VAIS_ALLOC_E_NULL_HANDLE`; `VAIS_ALLOC_E_OUT_OF_MEMORY` when the
/// bookkeeping cannot be had.
///
/// # Safety
/// `list` must be NULL or a live handle; the range must be valid for reads
/// and writes and used by nothing else while the list holds it.
#[no_mangle]
pub unsafe extern "C" fn freelist_add_region(
    list: *mut FreeListAllocator,
    buffer: i64,
    capacity: i64,
) -> i64 {
    let add = |core: &mut FreeList| {
        let (buffer, capacity) = (count(buffer)?, count(capacity)?);
        // SAFETY: forwarded from this function's contract.
        seen::quietly(|| unsafe { core.add_region(buffer, capacity) })?;
        // Only the heap's bytes become the list's (and inaccessible to the
        // memory tools): alignment slack stays the caller's.
        if let Some((start, len)) = crate::free_list::region_memory(buffer, capacity) {
            tools::obtained(start, len);
        }
        Ok(0)
    };
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"freelist_add_region"),
        unsafe { core_of(list) }.and_then(add),
    )
}

/// Caps the bytes the list may hold at `max_bytes`: the capacity given to
/// `freelist_new` plus every chunk obtained from the upstream (the regions
/// of `freelist_add_region` are the caller's and do not count); -1 removes
/// the cap. A request that would need a chunk past it fails with
/// `VAIS_ALLOC_E_EXHAUSTED`. Returns 0, or
/// `VAIS_ALLOC_E_INVALID_ARGUMENT` for a value below -1 or below what the
/// list holds already, `VAIS_ALLOC_E_OUT_OF_MEMORY` when the few bytes of
/// bookkeeping cannot be had, or a bad handle's code. A failure changes
/// nothing.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_set_limit(list: *mut FreeListAllocator, max_bytes: i64) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"freelist_set_limit"),
        unsafe { core_of(list) }.and_then(|core| core.set_limit(limit(max_bytes)?).map(|()| 0)),
    )
}

/// Returns the bytes the list's regions span, `freelist_remaining +
/// freelist_total_allocated`: the capacity given to `freelist_new` (0 after
/// `freelist_drop`), plus, for each chunk and each region of
/// `freelist_add_region`, its size less what no block can cover: the
/// bytes before its first 16-aligned address, 8 bytes at its end, and the
/// rest rounded down to a multiple of 16 (16 bytes for a chunk, 8 to 38
/// for a caller region). Or a negative error code for a bad handle.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_capacity(list: *mut FreeListAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"freelist_capacity"),
        unsafe { core_of(list) }.map(|core| to_i64(core.capacity())),
    )
}

/// Turns the front-end cache on (`on == 1`, the default) or off
/// (`on == 0`). The cache keeps recently freed blocks of each small
/// size whole (up to 32 of each block size to 144 bytes, 5 of each larger
/// one to 1040 bytes: requests up to 1032 bytes; a block serves any
/// alignment its address meets) and hands them out again before searching
/// the size classes; nothing a caller can see changes but the speed: every
/// free is still validated (a second free of a cached block is
/// `VAIS_ALLOC_E_DOUBLE_FREE`), `freelist_remaining` and
/// `freelist_total_allocated` count cached blocks as free, and a request
/// fails with `VAIS_ALLOC_E_EXHAUSTED` only if it would with nothing cached
/// (the cache is merged back and the request retried first). Off, every
/// free merges at once (the bounded, real-time behaviour): turning it off
/// merges the cached blocks now. Returns 0, or with nothing changed
/// `VAIS_ALLOC_E_INVALID_ARGUMENT` (`on` neither 0 nor 1) or a bad
/// handle's code.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_set_cache(list: *mut FreeListAllocator, on: i64) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"freelist_set_cache"),
        unsafe { core_of(list) }.and_then(|core| match on {
            0 | 1 => {
                seen::quietly(|| core.set_cache(on == 1));
                Ok(0)
            }
            _ => Err(crate::misuse::note(
                Error::InvalidArgument,
                format_args!("on is {on}: 0 (off) or 1 (on)"),
            )),
        }),
    )
}

/// The layout a free-list free is given through the interface (the free
/// list reads the block's size from its header).
const ANY_LAYOUT: core::alloc::Layout = core::alloc::Layout::new::<u8>();

/// `freelist_realloc` of a block with a memory tool present: the
/// interface's realloc, reported (its copy then reads and writes blocks
/// the tool knows to be live), keeping the whole usable size as
/// `realloc_block` does.
fn realloc_seen(
    list: &mut FreeList,
    ptr: core::ptr::NonNull<u8>,
    layout: core::alloc::Layout,
) -> Result<crate::allocator::Block, Error> {
    let Some(usable) = seen::quietly(|| list.usable_size(ptr)) else {
        // Not a block in use: the refusal `realloc_block` gives.
        return seen::quietly(|| list.realloc_block(ptr, layout));
    };
    let old = core::alloc::Layout::from_size_align(usable, 1).map_err(|_| Error::Corrupted)?;
    // SAFETY: the free list validates every pointer.
    unsafe { seen::realloc(list, ptr, old, layout) }
}

/// `error` for a refused free of `ptr`, its cause noted (see
/// [`FreeList::explain`]).
#[cold]
#[inline(never)]
fn explain(list: &FreeList, ptr: core::ptr::NonNull<u8>, error: Error) -> Error {
    seen::quietly(|| list.explain(ptr.as_ptr() as usize, error))
}
