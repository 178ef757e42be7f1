//! `stack_*`: the LIFO stack allocator.

use super::allocator::{upstream_of, VaisAllocator};
use super::types::{count, limit, to_i64, Allocation, Layout};
use super::Call;
use super::{core_if, core_of, drop_family, finish, free_family, new_handle, Family};
use crate::stack::Stack;
use crate::tools::{self, seen};

/// Opaque handle of a stack allocator (Vais code holds it in an `i64`).
pub struct StackAllocator {
    _opaque: [u8; 0],
}

impl Family for StackAllocator {
    type Core = Stack;
    const TAG: u64 = 0x5641_4953_5354_434B; // "VAISSTCK"
    const NAME: &'static str = "a stack's";
    fn drop_buffer(core: &mut Stack) {
        core.drop_buffer();
    }
    fn grows(core: &Stack) -> bool {
        core.grows()
    }
}

/// Creates a stack owning a `capacity`-byte buffer (16-byte aligned).
/// Capacity 0 is valid (every push is then `VAIS_ALLOC_E_EXHAUSTED`).
/// Returns NULL on a negative capacity (`VAIS_ALLOC_E_INVALID_ARGUMENT`) or
/// when memory runs out (`VAIS_ALLOC_E_OUT_OF_MEMORY`).
#[no_mangle]
pub extern "C" fn stack_new(capacity: i64) -> *mut StackAllocator {
    finish(
        move || Call::new(c"stack_new"),
        count(capacity).and_then(Stack::new).and_then(new_handle),
    )
}

/// Pushes an allocation of `layout`: its address is aligned to
/// `layout.align` and to 16 at least, with an 8-byte header right below it;
/// a zero-size request takes one byte, so it fits exactly where a one-byte
/// request would. Returns `{0, 0}` on failure, the stack unchanged:
/// `VAIS_ALLOC_E_EXHAUSTED`, `VAIS_ALLOC_E_INVALID_LAYOUT`, or a bad handle.
///
/// # Safety
/// `stack` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn stack_alloc(stack: *mut StackAllocator, layout: Layout) -> Allocation {
    // Only the alignment is checked up front: the fast path's fit refuses
    // every size that does not make a valid layout, and the rest is worked
    // out only for a request that the fast path leaves.
    if layout.align > 0 && layout.align & (layout.align - 1) == 0 && !tools::active() {
        // SAFETY: forwarded from this function's contract.
        if let Some(core) = unsafe { core_if(stack) } {
            if let Some(block) = core.push_fast(layout.size as usize, layout.align as usize) {
                return block.into();
            }
        }
    }
    // SAFETY: forwarded from this function's contract.
    unsafe { stack_alloc_slow(stack, layout) }
}

/// `stack_alloc` beyond its fast path: a bad handle or layout, a push that
/// does not fit, or one that needs padding. Out of line (and a tail call),
/// so that the fast path needs no stack frame.
///
/// # Safety
/// As for `stack_alloc`.
#[cold]
#[inline(never)]
unsafe fn stack_alloc_slow(stack: *mut StackAllocator, layout: Layout) -> Allocation {
    let push = |stack: &mut Stack| {
        let layout = layout.check()?;
        Ok(if tools::active() {
            seen::alloc(stack, layout)
        } else {
            stack.push_slow(layout.size(), layout.align())
        }?
        .into())
    };
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"stack_alloc").layout(layout.size, layout.align),
        unsafe { core_of(stack) }.and_then(push),
    )
}

/// Pops the most recent live allocation; `stack_remaining` returns to its
/// value before that allocation. Returns 0, or `VAIS_ALLOC_E_EMPTY` when
/// nothing is live (nothing changes), or a bad handle's code.
///
/// # Safety
/// `stack` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn stack_pop(stack: *mut StackAllocator) -> i64 {
    if !tools::active() {
        // SAFETY: forwarded from this function's contract.
        if let Some(core) = unsafe { core_if(stack) } {
            if core.pop_fast() {
                return 0;
            }
        }
    }
    // SAFETY: forwarded from this function's contract.
    unsafe { stack_pop_slow(stack) }
}

/// `stack_pop` beyond its fast path: a bad handle, an empty stack, or a
/// header below that is not live. Out of line (and a tail call), so that
/// the fast path needs no stack frame.
///
/// # Safety
/// As for `stack_pop`.
#[cold]
#[inline(never)]
unsafe fn stack_pop_slow(stack: *mut StackAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"stack_pop"),
        unsafe { core_of(stack) }
            .and_then(|stack| {
                if tools::active() {
                    seen::bulk(stack, Stack::pop)
                } else {
                    stack.pop_slow()
                }
            })
            .map(|()| 0),
    )
}

/// Pops everything. Returns 0, or a negative error code for a bad handle.
///
/// # Safety
/// `stack` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn stack_reset(stack: *mut StackAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"stack_reset"),
        unsafe { core_of(stack) }.map(|stack| {
            seen::bulk(stack, Stack::clear);
            0
        }),
    )
}

/// Returns the bytes that can be pushed without asking the upstream:
/// above the top, and the chunks held beyond the current one (without an
/// upstream, `capacity - top`); or a negative error code for a bad handle.
///
/// # Safety
/// `stack` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn stack_remaining(stack: *mut StackAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"stack_remaining"),
        unsafe { core_of(stack) }.map(|stack| to_i64(stack.remaining())),
    )
}

/// Returns the number of live allocations (how many `stack_pop` calls will
/// succeed), or a negative error code for a bad handle. It walks the
/// headers, O(depth): pushes and pops keep no count.
///
/// # Safety
/// `stack` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn stack_depth(stack: *mut StackAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"stack_depth"),
        unsafe { core_of(stack) }.map(|stack| to_i64(seen::quietly(|| stack.depth()))),
    )
}

/// Releases the buffer; the handle stays valid, empty, capacity 0. Returns
/// 0, or a negative error code for a bad handle.
///
/// Drop versus free: `stack_drop` empties the allocator and keeps the handle
/// (every pointer into it is dead; with an upstream it can serve again);
/// `stack_free` does the same and then releases the handle itself.
///
/// # Safety
/// `stack` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn stack_drop(stack: *mut StackAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    unsafe { drop_family(stack, c"stack_drop") }
}

/// `stack_drop`, then releases the handle itself. NULL is a no-op returning
/// 0; a handle of another family is refused with
/// `VAIS_ALLOC_E_INVALID_ARGUMENT`.
///
/// # Safety
/// `stack` must be NULL or a live handle; it is dead afterwards.
#[no_mangle]
pub unsafe extern "C" fn stack_free(stack: *mut StackAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    unsafe { free_family(stack, c"stack_free") }
}

/// Returns a mark (`>= 0`) naming the current point of the stack, for
/// `stack_release_to`; or a negative error code (a bad handle,
/// `VAIS_ALLOC_E_OUT_OF_MEMORY`). A mark uses none of the stack's bytes; a
/// pop below it (a pop of an allocation older than the mark) makes it
/// stale.
///
/// # Safety
/// `stack` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn stack_mark(stack: *mut StackAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"stack_mark"),
        unsafe { core_of(stack) }.and_then(Stack::mark),
    )
}

/// Pops everything pushed after `mark` at once: `stack_remaining` returns
/// to its value at the mark, marks taken after it become stale, and `mark`
/// itself stays live (a loop may release to it again and again). Scopes
/// nest. Returns 0, or `VAIS_ALLOC_E_STALE_MARK` with nothing changed for a
/// mark released past, popped below, taken before a reset, of another
/// stack, or forged; or a bad handle's code.
///
/// # Safety
/// `stack` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn stack_release_to(stack: *mut StackAllocator, mark: i64) -> i64 {
    let release = |core: &mut Stack| seen::bulk(core, |core| core.release_to(mark)).map(|()| 0);
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"stack_release_to").value(mark),
        unsafe { core_of(stack) }.and_then(release),
    )
}

/// Returns the most bytes the stack has had in use (its high-water
/// `capacity - stack_remaining`), or a negative error code for a bad
/// handle.
///
/// # Safety
/// `stack` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn stack_peak(stack: *mut StackAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"stack_peak"),
        unsafe { core_of(stack) }.map(|core| to_i64(core.peak())),
    )
}

/// From now on a push that does not fit is served from a new chunk
/// obtained from `upstream` (any allocator: `global_as_allocator()`,
/// another of ours, or the caller's): chunk sizes start at `chunk_size`
/// (0: the library's choice, 64 KiB) and double, up to 1 GiB; a larger
/// push gets a chunk that fits it, and a push above 1 GiB is
/// `VAIS_ALLOC_E_EXHAUSTED`. Pops unwind across chunks exactly; chunks stay
/// held for reuse, `stack_reset` keeps the largest and gives the others
/// back, `stack_free` gives every chunk back, so `upstream` must outlive
/// the stack. The stack must be empty (its header check bits are resized
/// for chunks). Returns 0, or: `VAIS_ALLOC_E_NULL_HANDLE` for a NULL
/// handle or vtable, `VAIS_ALLOC_E_INVALID_ARGUMENT` for a handle of
/// another family, a negative `chunk_size`, an unknown vtable version, a
/// vtable without `alloc` or `free`, the stack itself as its upstream, a
/// stack not empty, or chunks of an earlier upstream still held. A failure
/// changes nothing.
///
/// # Safety
/// `stack` must be NULL or a live handle; `upstream` a valid allocator.
#[no_mangle]
pub unsafe extern "C" fn stack_set_upstream(
    stack: *mut StackAllocator,
    upstream: VaisAllocator,
    chunk_size: i64,
) -> i64 {
    let set = |core: &mut Stack| {
        let chunk_size = count(chunk_size)?;
        // SAFETY: forwarded from this function's contract.
        let source = unsafe { upstream_of(stack, upstream) }?;
        core.set_upstream(source, chunk_size).map(|()| 0)
    };
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"stack_set_upstream"),
        unsafe { core_of(stack) }.and_then(set),
    )
}

/// Caps the bytes the stack may hold (its buffer and chunks) at
/// `max_bytes`; -1 removes the cap. A push that would pass it fails with
/// `VAIS_ALLOC_E_EXHAUSTED`. Returns 0, or `VAIS_ALLOC_E_INVALID_ARGUMENT`
/// for a value below -1 or below what the stack holds already, or a bad
/// handle's code.
///
/// # Safety
/// `stack` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn stack_set_limit(stack: *mut StackAllocator, max_bytes: i64) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"stack_set_limit"),
        unsafe { core_of(stack) }.and_then(|core| core.set_limit(limit(max_bytes)?).map(|()| 0)),
    )
}

/// Returns the bytes the stack holds now (its buffer and every chunk), or
/// a negative error code for a bad handle.
///
/// # Safety
/// `stack` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn stack_capacity(stack: *mut StackAllocator) -> i64 {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(c"stack_capacity"),
        unsafe { core_of(stack) }.map(|core| to_i64(core.capacity())),
    )
}
