//! `allocator_*` and `*_as_allocator`: one allocator interface for every
//! allocator, ours and the caller's.
//!
//! A `VaisAllocator` is a context pointer and a vtable. Every built-in
//! vtable is one row made by `vtable()`, generic over the family: its entries
//! resolve the context to the family's core (with the same NULL and family
//! checks as the family's own functions) and call the core's
//! [`Allocator`] methods. A caller's own vtable is trusted as a handle is.

use super::types::{count, pointer, Allocation, Layout};
use super::{core_of, finish, Family, ReturnValue};
use crate::allocator::{Allocator, Block};
use crate::error::Error;
use crate::global::Global;
use crate::growth::Source;
use core::ffi::c_void;
use core::ptr::NonNull;

use super::bump::BumpAllocator;
use super::free_list::FreeListAllocator;
use super::pool::PoolAllocator;
use super::stack::StackAllocator;

/// The vtable version this library writes and reads; vtables of an older
/// version are accepted too.
pub const VAIS_ALLOCATOR_VTABLE_VERSION: i64 = 1;

/// A freed block is reusable at once, in any order.
pub const VAIS_ALLOC_CAP_FREE: i64 = 1;
/// Only a free of the most recent live block reclaims memory at once;
/// other frees are reclaimed later.
pub const VAIS_ALLOC_CAP_FREE_LAST: i64 = 2;
/// In-place growth (`allocator_resize`) can succeed.
pub const VAIS_ALLOC_CAP_RESIZE: i64 = 4;
/// `allocator_reset` frees every block at once.
pub const VAIS_ALLOC_CAP_RESET: i64 = 8;
/// Any size up to the capacity, not one fixed block size.
pub const VAIS_ALLOC_CAP_ANY_SIZE: i64 = 16;
/// Every power-of-two alignment.
pub const VAIS_ALLOC_CAP_ANY_ALIGN: i64 = 32;
/// Gets more memory when full (the system, or an upstream).
pub const VAIS_ALLOC_CAP_GROWS: i64 = 64;
/// May be used from several threads at once.
pub const VAIS_ALLOC_CAP_THREAD_SAFE: i64 = 128;

/// The operations of an allocator. `alloc` and `free` are required; a NULL
/// `alloc_zeroed` is served by `alloc` and a zero fill, a NULL `resize`
/// means the allocator never resizes (UNSUPPORTED), a NULL `realloc` is
/// served by `resize`, then `alloc` + copy + `free`, and a NULL `reset`
/// means there is none (UNSUPPORTED). Each entry returns what the
/// `allocator_*` function of its name returns.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VaisAllocatorVtable {
    /// `VAIS_ALLOCATOR_VTABLE_VERSION` (1).
    pub version: i64,
    /// `VAIS_ALLOC_CAP_*` bits.
    pub caps: i64,
    /// Allocates `layout`; `{0, 0}` on failure.
    pub alloc: Option<unsafe extern "C" fn(ctx: *mut c_void, layout: Layout) -> Allocation>,
    /// Allocates `layout` zero-filled; may be NULL.
    pub alloc_zeroed: Option<unsafe extern "C" fn(ctx: *mut c_void, layout: Layout) -> Allocation>,
    /// Resizes in place: 0, or a negative code; may be NULL.
    pub resize:
        Option<unsafe extern "C" fn(ctx: *mut c_void, ptr: i64, old: Layout, new_size: i64) -> i64>,
    /// Moves a block to a new layout; may be NULL.
    pub realloc: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            ptr: i64,
            old: Layout,
            new_layout: Layout,
        ) -> Allocation,
    >,
    /// Frees a block allocated with `layout`: 0, or a negative code.
    pub free: Option<unsafe extern "C" fn(ctx: *mut c_void, ptr: i64, layout: Layout) -> i64>,
    /// Frees every block at once: 0, or a negative code; may be NULL.
    pub reset: Option<unsafe extern "C" fn(ctx: *mut c_void) -> i64>,
}

/// An allocator: a context and the vtable that knows what to do with it.
/// 16 bytes, passed by value like `Layout`. `{NULL, NULL}` is no allocator.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VaisAllocator {
    /// What the vtable's entries get as `ctx` (a handle, or the caller's
    /// own state).
    pub ctx: *mut c_void,
    /// The operations.
    pub vtable: *const VaisAllocatorVtable,
}

impl ReturnValue for VaisAllocator {
    fn failure(_: Error) -> Self {
        VaisAllocator {
            ctx: core::ptr::null_mut(),
            vtable: core::ptr::null(),
        }
    }
}

// ----- the built-in rows -------------------------------------------------

/// How a built-in vtable finds its core from `ctx`.
trait Context {
    type Core: Allocator;
    /// Runs `f` on the core behind `ctx`.
    ///
    /// # Safety
    /// `ctx` is NULL or a live handle of some family.
    unsafe fn with<R>(
        ctx: *mut c_void,
        f: impl FnOnce(&mut Self::Core) -> Result<R, Error>,
    ) -> Result<R, Error>;
}

impl<F: Family> Context for F {
    type Core = F::Core;
    #[inline(always)]
    unsafe fn with<R>(
        ctx: *mut c_void,
        f: impl FnOnce(&mut F::Core) -> Result<R, Error>,
    ) -> Result<R, Error> {
        // SAFETY: forwarded from this function's contract.
        unsafe { core_of::<F>(ctx.cast()) }.and_then(f)
    }
}

/// The global allocator's context: none (`ctx` is ignored).
struct GlobalContext;

impl Context for GlobalContext {
    type Core = Global;
    #[inline(always)]
    unsafe fn with<R>(
        _: *mut c_void,
        f: impl FnOnce(&mut Global) -> Result<R, Error>,
    ) -> Result<R, Error> {
        f(&mut Global)
    }
}

unsafe extern "C" fn row_alloc<C: Context>(ctx: *mut c_void, layout: Layout) -> Allocation {
    // SAFETY: `ctx` comes from a `*_as_allocator` getter of this family
    // (or the caller broke the handle rule).
    finish(unsafe { C::with(ctx, |core| Ok(core.alloc(layout.check()?)?.into())) })
}

unsafe extern "C" fn row_alloc_zeroed<C: Context>(ctx: *mut c_void, layout: Layout) -> Allocation {
    // SAFETY: as in `row_alloc`.
    finish(unsafe { C::with(ctx, |core| Ok(core.alloc_zeroed(layout.check()?)?.into())) })
}

unsafe extern "C" fn row_resize<C: Context>(
    ctx: *mut c_void,
    ptr: i64,
    old: Layout,
    new_size: i64,
) -> i64 {
    let resize = |core: &mut C::Core| {
        let old = old.check()?;
        let new_size = count(new_size).map_err(|_| Error::InvalidLayout)?;
        core::alloc::Layout::from_size_align(new_size, old.align())
            .map_err(|_| Error::InvalidLayout)?;
        let ptr = pointer(ptr).ok_or(Error::ForeignPointer)?;
        // SAFETY: the validating cores accept any pointer; for the global
        // allocator the caller vouches for it (rule 1).
        unsafe { core.resize(ptr, old, new_size) }.map(|_| 0)
    };
    // SAFETY: as in `row_alloc`.
    finish(unsafe { C::with(ctx, resize) })
}

unsafe extern "C" fn row_realloc<C: Context>(
    ctx: *mut c_void,
    ptr: i64,
    old: Layout,
    new_layout: Layout,
) -> Allocation {
    let realloc = |core: &mut C::Core| {
        let new_layout = new_layout.check()?;
        let Some(ptr) = pointer(ptr) else {
            return Ok(core.alloc(new_layout)?.into());
        };
        // SAFETY: as in `row_resize`.
        Ok(unsafe { core.realloc(ptr, old.check()?, new_layout) }?.into())
    };
    // SAFETY: as in `row_alloc`.
    finish(unsafe { C::with(ctx, realloc) })
}

unsafe extern "C" fn row_free<C: Context>(ctx: *mut c_void, ptr: i64, layout: Layout) -> i64 {
    let free = |core: &mut C::Core| {
        let layout = layout.check()?;
        match pointer(ptr) {
            // SAFETY: as in `row_resize`.
            Some(ptr) => unsafe { core.free(ptr, layout) }.map(|()| 0),
            None => Ok(0),
        }
    };
    // SAFETY: as in `row_alloc`.
    finish(unsafe { C::with(ctx, free) })
}

unsafe extern "C" fn row_reset<C: Context>(ctx: *mut c_void) -> i64 {
    // SAFETY: as in `row_alloc`.
    finish(unsafe { C::with(ctx, |core| core.reset().map(|()| 0)) })
}

/// The vtable of a built-in allocator: one row, the same for every family
/// (`extra`: capability bits beyond the family's, `VAIS_ALLOC_CAP_GROWS`
/// for an allocator with an upstream).
const fn vtable<C: Context>(extra: i64) -> VaisAllocatorVtable {
    VaisAllocatorVtable {
        version: VAIS_ALLOCATOR_VTABLE_VERSION,
        caps: <C::Core as Allocator>::CAPS.0 as i64 | extra,
        alloc: Some(row_alloc::<C>),
        alloc_zeroed: Some(row_alloc_zeroed::<C>),
        resize: Some(row_resize::<C>),
        realloc: Some(row_realloc::<C>),
        free: Some(row_free::<C>),
        reset: Some(row_reset::<C>),
    }
}

static GLOBAL_VTABLE: VaisAllocatorVtable = vtable::<GlobalContext>(0);
static BUMP_VTABLE: VaisAllocatorVtable = vtable::<BumpAllocator>(0);
static BUMP_GROWING_VTABLE: VaisAllocatorVtable = vtable::<BumpAllocator>(VAIS_ALLOC_CAP_GROWS);
static POOL_VTABLE: VaisAllocatorVtable = vtable::<PoolAllocator>(0);
static POOL_GROWING_VTABLE: VaisAllocatorVtable = vtable::<PoolAllocator>(VAIS_ALLOC_CAP_GROWS);
static FREELIST_VTABLE: VaisAllocatorVtable = vtable::<FreeListAllocator>(0);
static FREELIST_GROWING_VTABLE: VaisAllocatorVtable =
    vtable::<FreeListAllocator>(VAIS_ALLOC_CAP_GROWS);
static STACK_VTABLE: VaisAllocatorVtable = vtable::<StackAllocator>(0);
static STACK_GROWING_VTABLE: VaisAllocatorVtable = vtable::<StackAllocator>(VAIS_ALLOC_CAP_GROWS);

/// A view of `handle` through `vtable`, or `growing` when the allocator
/// has an upstream, after the family's handle checks.
///
/// # Safety
/// `handle` must be NULL or a live handle.
unsafe fn view<F: Family>(
    handle: *mut F,
    vtable: &'static VaisAllocatorVtable,
    growing: &'static VaisAllocatorVtable,
) -> VaisAllocator {
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { core_of(handle) }.map(|core| VaisAllocator {
        ctx: handle.cast(),
        vtable: if F::grows(core) { growing } else { vtable },
    }))
}

/// An upstream: the chunks of a growing allocator come from a
/// `VaisAllocator` (one of ours, or the caller's), through the dispatch
/// functions.
struct Upstream(VaisAllocator);

impl Source for Upstream {
    fn obtain(&mut self, layout: core::alloc::Layout, zeroed: bool) -> Result<Block, Error> {
        // SAFETY: `upstream_of` checked the vtable; keeping the upstream
        // alive is the caller's duty, as for handles.
        let allocation = unsafe {
            if zeroed {
                allocator_alloc_zeroed(self.0, layout.into())
            } else {
                allocator_alloc(self.0, layout.into())
            }
        };
        match NonNull::new(allocation.ptr as usize as *mut u8) {
            Some(ptr) if allocation.size as u64 >= layout.size() as u64 => Ok(Block {
                ptr,
                size: layout.size(),
            }),
            _ => Err(Error::OutOfMemory),
        }
    }

    unsafe fn give_back(&mut self, block: Block, layout: core::alloc::Layout) {
        // SAFETY: as in `obtain`; the block came from this upstream.
        unsafe { allocator_free(self.0, block.addr() as i64, layout.into()) };
    }
}

/// `upstream` as a source for the allocator behind `handle`: `NullHandle`
/// for a NULL vtable, `InvalidArgument` for an unknown version, a vtable
/// without `alloc` or `free`, or the allocator itself.
///
/// # Safety
/// A non-NULL vtable must be readable (the caller's duty, as for handles).
pub(crate) unsafe fn upstream_of<F>(
    handle: *mut F,
    upstream: VaisAllocator,
) -> Result<Box<dyn Source>, Error> {
    // SAFETY: forwarded from this function's contract.
    let vtable = unsafe { vtable_of(&upstream) }?;
    if vtable.alloc.is_none() || vtable.free.is_none() || upstream.ctx == handle.cast() {
        return Err(Error::InvalidArgument);
    }
    Ok(Box::new(Upstream(upstream)))
}

/// Returns the global allocator (system malloc with any alignment) as an
/// allocator; its `ctx` is NULL.
#[no_mangle]
pub extern "C" fn global_as_allocator() -> VaisAllocator {
    VaisAllocator {
        ctx: core::ptr::null_mut(),
        vtable: &GLOBAL_VTABLE,
    }
}

/// Returns a view of the bump arena as an allocator, valid while the
/// handle is live; `{NULL, NULL}` and an error for a bad handle.
///
/// # Safety
/// `bump` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn bump_as_allocator(bump: *mut BumpAllocator) -> VaisAllocator {
    // SAFETY: forwarded from this function's contract.
    unsafe { view(bump, &BUMP_VTABLE, &BUMP_GROWING_VTABLE) }
}

/// Returns a view of the pool as an allocator, valid while the handle is
/// live; `{NULL, NULL}` and an error for a bad handle.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_as_allocator(pool: *mut PoolAllocator) -> VaisAllocator {
    // SAFETY: forwarded from this function's contract.
    unsafe { view(pool, &POOL_VTABLE, &POOL_GROWING_VTABLE) }
}

/// Returns a view of the free list as an allocator, valid while the handle
/// is live; `{NULL, NULL}` and an error for a bad handle.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_as_allocator(list: *mut FreeListAllocator) -> VaisAllocator {
    // SAFETY: forwarded from this function's contract.
    unsafe { view(list, &FREELIST_VTABLE, &FREELIST_GROWING_VTABLE) }
}

/// Returns a view of the stack as an allocator, valid while the handle is
/// live; `{NULL, NULL}` and an error for a bad handle.
///
/// # Safety
/// `stack` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn stack_as_allocator(stack: *mut StackAllocator) -> VaisAllocator {
    // SAFETY: forwarded from this function's contract.
    unsafe { view(stack, &STACK_VTABLE, &STACK_GROWING_VTABLE) }
}

// ----- dispatch ----------------------------------------------------------

/// The vtable of `allocator`: `NullHandle` for a NULL one, and
/// `InvalidArgument` for a version this library does not know.
///
/// # Safety
/// A non-NULL vtable must be readable (the caller's duty, as for handles).
#[inline(always)]
unsafe fn vtable_of(allocator: &VaisAllocator) -> Result<&VaisAllocatorVtable, Error> {
    if allocator.vtable.is_null() {
        return Err(Error::NullHandle);
    }
    // SAFETY: non-NULL, and readable by this function's contract.
    let vtable = unsafe { &*allocator.vtable };
    if vtable.version < 1 || vtable.version > VAIS_ALLOCATOR_VTABLE_VERSION {
        return Err(Error::InvalidArgument);
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

/// Whether `vtable` is one of this library's, whose entries record their
/// own errors.
fn is_builtin(vtable: &VaisAllocatorVtable) -> bool {
    [
        &GLOBAL_VTABLE,
        &BUMP_VTABLE,
        &BUMP_GROWING_VTABLE,
        &POOL_VTABLE,
        &POOL_GROWING_VTABLE,
        &FREELIST_VTABLE,
        &FREELIST_GROWING_VTABLE,
        &STACK_VTABLE,
        &STACK_GROWING_VTABLE,
    ]
    .iter()
    .any(|ours| core::ptr::eq(*ours, vtable))
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
        Err(error) => return finish(Err(error)),
    };
    let Some(alloc) = vtable.alloc else {
        return finish(Err(Error::InvalidArgument));
    };
    // SAFETY: the entry and its context belong together (contract).
    let allocation = unsafe { alloc(allocator.ctx, layout) };
    if allocation.ptr != 0 {
        return allocation;
    }
    finish(allocated(vtable, allocation))
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
        Err(error) => return finish(Err(error)),
    };
    if let Some(alloc_zeroed) = vtable.alloc_zeroed {
        // SAFETY: the entry and its context belong together (contract).
        let allocation = unsafe { alloc_zeroed(allocator.ctx, layout) };
        return finish(allocated(vtable, allocation));
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
        Ok(resize) => finish(status(unsafe { resize(allocator.ctx, ptr, old, new_size) })),
        Err(error) => finish(Err(error)),
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
        Err(error) => return finish(Err(error)),
    };
    if ptr == 0 {
        // SAFETY: forwarded from this function's contract.
        return unsafe { allocator_alloc(allocator, new_layout) };
    }
    if let Some(realloc) = vtable.realloc {
        // SAFETY: the entry and its context belong together (contract).
        let allocation = unsafe { realloc(allocator.ctx, ptr, old, new_layout) };
        return finish(allocated(vtable, allocation));
    }
    // SAFETY: forwarded from this function's contract.
    finish(unsafe { move_by_parts(allocator, vtable, ptr, old, new_layout) })
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
        Ok(free) => finish(status(unsafe { free(allocator.ctx, ptr, layout) })),
        Err(error) => finish(Err(error)),
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
        Ok(reset) => finish(status(unsafe { reset(allocator.ctx) })),
        Err(error) => finish(Err(error)),
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
    finish(unsafe { vtable_of(&allocator) }.map(|vtable| vtable.caps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocator::Caps;

    #[test]
    fn cap_constants_are_the_cores_bits() {
        let pairs = [
            (VAIS_ALLOC_CAP_FREE, Caps::FREE),
            (VAIS_ALLOC_CAP_FREE_LAST, Caps::FREE_LAST),
            (VAIS_ALLOC_CAP_RESIZE, Caps::RESIZE),
            (VAIS_ALLOC_CAP_RESET, Caps::RESET),
            (VAIS_ALLOC_CAP_ANY_SIZE, Caps::ANY_SIZE),
            (VAIS_ALLOC_CAP_ANY_ALIGN, Caps::ANY_ALIGN),
            (VAIS_ALLOC_CAP_GROWS, Caps::GROWS),
            (VAIS_ALLOC_CAP_THREAD_SAFE, Caps::THREAD_SAFE),
        ];
        for (constant, caps) in pairs {
            assert_eq!(constant as u64, caps.0);
        }
        assert_eq!(core::mem::size_of::<VaisAllocator>(), 16);
    }
}
