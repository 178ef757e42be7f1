//! `allocator_stats`, `allocator_check`, `freelist_walk`: what an
//! allocator can say about itself.

use super::allocator::{with_core, VaisAllocator};
use super::free_list::FreeListAllocator;
use super::{core_of, finish, Call};
use crate::error::Error;
use crate::inspect::Stats;
use crate::misuse::note;
use crate::tools::seen;
use core::ffi::c_void;

/// An allocator's statistics (`allocator_stats`); -1 in a field the
/// allocator cannot know.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VaisAllocStats {
    /// Bytes of the blocks in use (the bump arena and the stack: bytes
    /// handed out since the last reset, padding and headers included for
    /// the stack; the free list: blocks with their headers; the pool:
    /// blocks times the block size).
    pub in_use_bytes: i64,
    /// The largest `in_use_bytes` since the allocator was made (-1 for a
    /// free list that has had more than one region: each keeps its own).
    pub peak_in_use_bytes: i64,
    /// Blocks in use (-1 for the bump arena, whose blocks other than the
    /// most recent are freed only by a reset).
    pub live_blocks: i64,
    /// Successful allocations since the allocator was made (a free list's
    /// realloc that moves counts one, and one free).
    pub allocs: i64,
    /// Blocks given back one at a time (a free, a pop), not by a reset.
    pub frees: i64,
    /// Allocations refused for lack of room (`VAIS_ALLOC_E_EXHAUSTED`,
    /// `VAIS_ALLOC_E_OUT_OF_MEMORY`).
    pub failed_allocs: i64,
    /// Bytes held now: the own buffer, chunks, slabs, regions.
    pub capacity_bytes: i64,
    /// The largest block that can be handed out now without asking an
    /// upstream.
    pub largest_free_block: i64,
}

impl From<Stats> for VaisAllocStats {
    fn from(stats: Stats) -> VaisAllocStats {
        let c = |value: Option<u64>| value.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
        VaisAllocStats {
            in_use_bytes: c(stats.in_use_bytes),
            peak_in_use_bytes: c(stats.peak_in_use_bytes),
            live_blocks: c(stats.live_blocks),
            allocs: c(stats.allocs),
            frees: c(stats.frees),
            failed_allocs: c(stats.failed_allocs),
            capacity_bytes: c(stats.capacity_bytes),
            largest_free_block: c(stats.largest_free_block),
        }
    }
}

/// Fills `*out` with the statistics of a built-in allocator (the global
/// one: every field -1). Counting costs an add on each allocation and
/// free; the query itself walks a stack's headers (for `live_blocks`) and
/// flushes a free list's cache. Returns 0, or `VAIS_ALLOC_E_INVALID_ARGUMENT`
/// for a NULL `out`, `VAIS_ALLOC_E_UNSUPPORTED` for a caller's allocator,
/// or a bad handle's code; `*out` is then untouched.
///
/// # Safety
/// `allocator` is a view of a live handle (or the global view, or a
/// caller's allocator); `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn allocator_stats(
    allocator: VaisAllocator,
    out: *mut VaisAllocStats,
) -> i64 {
    let stats = |()| {
        // SAFETY: forwarded from this function's contract.
        unsafe { with_core(allocator, |core| Ok(seen::quietly(|| core.stats()))) }
    };
    let out_ok = if out.is_null() {
        Err(note(Error::InvalidArgument, format_args!("out is NULL")))
    } else {
        Ok(())
    };
    finish(
        move || Call::new(c"allocator_stats"),
        out_ok.and_then(stats).map(|stats| {
            // SAFETY: `out` is non-NULL and writable (contract).
            unsafe { out.write(stats.into()) };
            0
        }),
    )
}

/// Reads the whole state of a built-in allocator (every header, link,
/// size class and counter it keeps; O(size)) and returns 0, or
/// `VAIS_ALLOC_E_CORRUPTED` with `vais_alloc_last_error_detail` naming the
/// first damage found (a caller's stray write). `VAIS_ALLOC_E_UNSUPPORTED`
/// for a caller's allocator. Changes nothing.
///
/// # Safety
/// As for `allocator_stats`.
#[no_mangle]
pub unsafe extern "C" fn allocator_check(allocator: VaisAllocator) -> i64 {
    let check = |core: &mut dyn crate::inspect::Inspect| {
        seen::quietly(|| core.check())
            .map(|()| 0)
            .map_err(|damage| note(Error::Corrupted, format_args!("{damage}")))
    };
    // SAFETY: forwarded from this function's contract.
    finish(move || Call::new(c"allocator_check"), unsafe {
        with_core(allocator, check)
    })
}

/// Calls `visit(ptr, size, in_use, ctx)` for every block of the free
/// list in address order, over every region (a block's payload address,
/// its usable bytes, 1 if in use, 0 if free), after flushing the cache;
/// stops at the first non-zero return and returns it, else 0. The visitor
/// must not call the list. `VAIS_ALLOC_E_INVALID_ARGUMENT` for a NULL
/// `visit`; `VAIS_ALLOC_E_CORRUPTED` if a header is found damaged on the
/// way (the blocks before it were visited).
///
/// # Safety
/// `list` must be NULL or a live handle; `visit` a function of this type.
#[no_mangle]
pub unsafe extern "C" fn freelist_walk(
    list: *mut FreeListAllocator,
    visit: Option<unsafe extern "C" fn(i64, i64, i64, *mut c_void) -> i64>,
    ctx: *mut c_void,
) -> i64 {
    let walk = |core: &mut crate::free_list::FreeList| {
        let visit =
            visit.ok_or_else(|| note(Error::InvalidArgument, format_args!("visit is NULL")))?;
        // The blocks are read with a memory tool's errors off (the headers
        // are the list's); the visitor runs after, with them on.
        let mut blocks = Vec::new();
        let walked = seen::quietly(|| {
            core.flush_cache();
            core.walk(&mut |ptr, size, in_use| {
                blocks.push((ptr, size, in_use));
                0
            })
        });
        for (ptr, size, in_use) in blocks {
            // SAFETY: the caller's visitor, with its context.
            let stop = unsafe { visit(ptr as i64, size as i64, i64::from(in_use), ctx) };
            if stop != 0 {
                return Ok(stop);
            }
        }
        walked.map_err(|damage| note(Error::Corrupted, format_args!("{damage}")))
    };
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"freelist_walk"),
        unsafe { core_of(list) }.and_then(walk),
    )
}
