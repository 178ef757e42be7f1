//! `allocator_*` and `*_as_allocator`: one allocator interface for every
//! allocator, ours and the caller's.
//!
//! A `VaisAllocator` is a context pointer and a vtable. Every built-in
//! vtable is one row made by `vtable()`, generic over the family: its entries
//! resolve the context to the family's core (with the same NULL and family
//! checks as the family's own functions) and call the core's
//! [`Allocator`] methods. A caller's own vtable is trusted as a handle is.

use super::dispatch::vtable_of;
pub use super::dispatch::{
    allocator_alloc, allocator_alloc_zeroed, allocator_caps, allocator_free, allocator_realloc,
    allocator_reset, allocator_resize,
};
use super::types::{count, pointer, Allocation, Layout};
use super::Call;
use super::{core_if, core_of, finish, Family, ReturnValue};
use crate::allocator::{Allocator, Block};
use crate::error::Error;
use crate::global::Global;
use crate::growth::Source;
use crate::tools::{self, seen, seen::Visible};
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
    type Core: Visible;
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
    finish(
        move || Call::new(c"allocator_alloc").layout(layout.size, layout.align),
        unsafe { C::with(ctx, |core| Ok(seen::alloc(core, layout.check()?)?.into())) },
    )
}

unsafe extern "C" fn row_alloc_zeroed<C: Context>(ctx: *mut c_void, layout: Layout) -> Allocation {
    // SAFETY: as in `row_alloc`.
    finish(
        move || Call::new(c"allocator_alloc_zeroed").layout(layout.size, layout.align),
        unsafe {
            C::with(ctx, |core| {
                Ok(seen::alloc_zeroed(core, layout.check()?)?.into())
            })
        },
    )
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
        unsafe { seen::resize(core, ptr, old, new_size) }.map(|_| 0)
    };
    // SAFETY: as in `row_alloc`.
    finish(move || Call::new(c"allocator_resize").ptr(ptr), unsafe {
        C::with(ctx, resize)
    })
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
            return Ok(seen::alloc(core, new_layout)?.into());
        };
        // SAFETY: as in `row_resize`.
        Ok(unsafe { seen::realloc(core, ptr, old.check()?, new_layout) }?.into())
    };
    // SAFETY: as in `row_alloc`.
    finish(
        move || {
            Call::new(c"allocator_realloc")
                .ptr(ptr)
                .layout(new_layout.size, new_layout.align)
        },
        unsafe { C::with(ctx, realloc) },
    )
}

unsafe extern "C" fn row_free<C: Context>(ctx: *mut c_void, ptr: i64, layout: Layout) -> i64 {
    let free = |core: &mut C::Core| {
        let layout = layout.check()?;
        match pointer(ptr) {
            // SAFETY: as in `row_resize`.
            Some(ptr) => unsafe { seen::free(core, ptr, layout) }.map(|()| 0),
            None => Ok(0),
        }
    };
    // SAFETY: as in `row_alloc`.
    finish(
        move || {
            Call::new(c"allocator_free")
                .ptr(ptr)
                .layout(layout.size, layout.align)
        },
        unsafe { C::with(ctx, free) },
    )
}

unsafe extern "C" fn row_reset<C: Context>(ctx: *mut c_void) -> i64 {
    // SAFETY: as in `row_alloc`.
    finish(move || Call::new(c"allocator_reset"), unsafe {
        C::with(ctx, |core| seen::reset(core).map(|()| 0))
    })
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
    name: &'static core::ffi::CStr,
    handle: *mut F,
    vtable: &'static VaisAllocatorVtable,
    growing: &'static VaisAllocatorVtable,
) -> VaisAllocator {
    // SAFETY: forwarded from this function's contract.
    finish(
        move || Call::new(name),
        unsafe { core_of(handle) }.map(|core| VaisAllocator {
            ctx: handle.cast(),
            vtable: if F::grows(core) { growing } else { vtable },
        }),
    )
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
        let Some(ptr) = NonNull::new(allocation.ptr as usize as *mut u8) else {
            return Err(Error::OutOfMemory);
        };
        if (allocation.size as u64) < layout.size() as u64 {
            // A block smaller than asked (the upstream broke rule 6): give
            // it back rather than keep or leak it.
            // SAFETY: as above; the block came from this upstream.
            unsafe { allocator_free(self.0, allocation.ptr, layout.into()) };
            return Err(Error::OutOfMemory);
        }
        if reports_heap_blocks(self.0) {
            tools::disown(allocation.ptr as usize, allocation.size as usize);
        }
        Ok(Block {
            ptr,
            size: layout.size(),
        })
    }

    unsafe fn give_back(&mut self, block: Block, layout: core::alloc::Layout) {
        if reports_heap_blocks(self.0) {
            tools::reown(block.addr(), block.size);
        }
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
    if vtable.alloc.is_none() || vtable.free.is_none() {
        return Err(crate::misuse::note(
            Error::InvalidArgument,
            format_args!("the upstream's vtable has no alloc or no free entry"),
        ));
    }
    if upstream.ctx == handle.cast() {
        return Err(crate::misuse::note(
            Error::InvalidArgument,
            format_args!("an allocator cannot be its own upstream"),
        ));
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
    unsafe {
        view(
            c"bump_as_allocator",
            bump,
            &BUMP_VTABLE,
            &BUMP_GROWING_VTABLE,
        )
    }
}

/// Returns a view of the pool as an allocator, valid while the handle is
/// live; `{NULL, NULL}` and an error for a bad handle.
///
/// # Safety
/// `pool` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn pool_as_allocator(pool: *mut PoolAllocator) -> VaisAllocator {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        view(
            c"pool_as_allocator",
            pool,
            &POOL_VTABLE,
            &POOL_GROWING_VTABLE,
        )
    }
}

/// Returns a view of the free list as an allocator, valid while the handle
/// is live; `{NULL, NULL}` and an error for a bad handle.
///
/// # Safety
/// `list` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn freelist_as_allocator(list: *mut FreeListAllocator) -> VaisAllocator {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        view(
            c"freelist_as_allocator",
            list,
            &FREELIST_VTABLE,
            &FREELIST_GROWING_VTABLE,
        )
    }
}

/// Returns a view of the stack as an allocator, valid while the handle is
/// live; `{NULL, NULL}` and an error for a bad handle.
///
/// # Safety
/// `stack` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn stack_as_allocator(stack: *mut StackAllocator) -> VaisAllocator {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        view(
            c"stack_as_allocator",
            stack,
            &STACK_VTABLE,
            &STACK_GROWING_VTABLE,
        )
    }
}

/// `VAIS_ALLOC_CAP_GROWS` if `allocator` is a view of one of our arenas
/// that grows from an upstream now, else 0.
///
/// # Safety
/// As for the dispatch functions: a built-in view's handle is live.
pub(super) unsafe fn growing_bit(allocator: VaisAllocator) -> i64 {
    // SAFETY: a view of one of these vtables holds a handle of the family
    // (or one `core_of` refuses).
    let grows = unsafe {
        if core::ptr::eq(allocator.vtable, &BUMP_VTABLE) {
            core_if::<BumpAllocator>(allocator.ctx.cast())
                .is_some_and(|core| BumpAllocator::grows(core))
        } else if core::ptr::eq(allocator.vtable, &STACK_VTABLE) {
            core_if::<StackAllocator>(allocator.ctx.cast())
                .is_some_and(|core| StackAllocator::grows(core))
        } else if core::ptr::eq(allocator.vtable, &POOL_VTABLE) {
            core_if::<PoolAllocator>(allocator.ctx.cast())
                .is_some_and(|core| PoolAllocator::grows(core))
        } else if core::ptr::eq(allocator.vtable, &FREELIST_VTABLE) {
            core_if::<FreeListAllocator>(allocator.ctx.cast())
                .is_some_and(|core| FreeListAllocator::grows(core))
        } else {
            false
        }
    };
    if grows {
        VAIS_ALLOC_CAP_GROWS
    } else {
        0
    }
}

/// Runs `f` on the core behind a built-in allocator's view; `Unsupported`
/// for a caller's allocator (its state is its own).
///
/// # Safety
/// `allocator` is a view of a live handle, or the global view, or a
/// caller's allocator (whose vtable is only compared, not read).
pub(super) unsafe fn with_core<R>(
    allocator: VaisAllocator,
    f: impl FnOnce(&mut dyn crate::inspect::Inspect) -> Result<R, Error>,
) -> Result<R, Error> {
    let vtable = allocator.vtable;
    let of = |plain: &VaisAllocatorVtable, growing: &VaisAllocatorVtable| {
        core::ptr::eq(plain, vtable) || core::ptr::eq(growing, vtable)
    };
    let ctx = allocator.ctx;
    // SAFETY: in each arm the vtable is one of that family's, so `ctx` is
    // a handle of it (the `*_as_allocator` contract).
    unsafe {
        if core::ptr::eq(&GLOBAL_VTABLE, vtable) {
            f(&mut Global)
        } else if of(&BUMP_VTABLE, &BUMP_GROWING_VTABLE) {
            core_of::<BumpAllocator>(ctx.cast()).and_then(|core| f(core))
        } else if of(&POOL_VTABLE, &POOL_GROWING_VTABLE) {
            core_of::<PoolAllocator>(ctx.cast()).and_then(|core| f(core))
        } else if of(&FREELIST_VTABLE, &FREELIST_GROWING_VTABLE) {
            core_of::<FreeListAllocator>(ctx.cast()).and_then(|core| f(core))
        } else if of(&STACK_VTABLE, &STACK_GROWING_VTABLE) {
            core_of::<StackAllocator>(ctx.cast()).and_then(|core| f(core))
        } else if vtable.is_null() {
            Err(crate::misuse::note(
                Error::NullHandle,
                format_args!("the allocator's vtable is NULL"),
            ))
        } else {
            Err(crate::misuse::note(
                Error::Unsupported,
                format_args!("a caller's allocator: its state is its own"),
            ))
        }
    }
}

/// Whether `upstream` reports its blocks to Memcheck as heap blocks (a
/// pool or a free list of this library): a chunk taken from it is then
/// [`tools::disown`]ed while held, since Memcheck refuses heap blocks
/// inside heap blocks.
fn reports_heap_blocks(upstream: VaisAllocator) -> bool {
    [
        &POOL_VTABLE,
        &POOL_GROWING_VTABLE,
        &FREELIST_VTABLE,
        &FREELIST_GROWING_VTABLE,
    ]
    .iter()
    .any(|ours| core::ptr::eq(*ours, upstream.vtable))
}

/// Whether `vtable` is one of this library's, whose entries record their
/// own errors.
pub(super) fn is_builtin(vtable: &VaisAllocatorVtable) -> bool {
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
