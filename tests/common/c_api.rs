//! Thin owning wrappers over the C ABI (`vais_alloc::ffi`), so that the
//! model tests feed their `int64_t` inputs, edge values included, through
//! exactly the validation a C caller gets.
//!
//! Each wrapper owns one handle and frees it on drop; each method is one
//! `ffi` call. A failure is read back as the thread's last error, which is
//! cleared before every call; the helpers also check rule 2 of the C
//! contract on the way: a failure records the code it returns, a success
//! records nothing.

use core::marker::PhantomData;
use vais_alloc::ffi::allocator::{
    allocator_alloc, allocator_alloc_zeroed, allocator_caps, allocator_free, allocator_realloc,
    allocator_reset, allocator_resize, bump_as_allocator, freelist_as_allocator,
    global_as_allocator, pool_as_allocator, stack_as_allocator, VaisAllocator,
};
use vais_alloc::ffi::bump::{self as bump_ffi, BumpAllocator};
use vais_alloc::ffi::free_list::{self as free_list_ffi, FreeListAllocator};
use vais_alloc::ffi::inspect::{allocator_stats, VaisAllocStats};
use vais_alloc::ffi::layout as layout_ffi;
use vais_alloc::ffi::library::{vais_alloc_clear_error, vais_alloc_last_error};
use vais_alloc::ffi::pool::{self as pool_ffi, PoolAllocator};
use vais_alloc::ffi::stack::{self as stack_ffi, StackAllocator};
use vais_alloc::ffi::Family;
use vais_alloc::free_list::FreeList;
use vais_alloc::Error;

pub use vais_alloc::ffi::types::{Allocation, Layout};

/// The error a failed call recorded (rule 2: it must have recorded one).
fn recorded(what: &str) -> Error {
    let code = vais_alloc_last_error();
    Error::from_code(code)
        .unwrap_or_else(|| panic!("{what} failed but the last error is {code}, no error code"))
}

/// Checks that a successful call recorded no error.
fn no_error_recorded(what: &str) {
    let code = vais_alloc_last_error();
    assert_eq!(code, 0, "{what} succeeded but recorded error {code}");
}

/// An allocation call: `Err` (the recorded error) when it returned `{0, 0}`.
fn allocation(what: &str, call: impl FnOnce() -> Allocation) -> Result<Allocation, Error> {
    vais_alloc_clear_error();
    let got = call();
    if got.ptr == 0 {
        assert_eq!(got, Allocation::FAILED, "{what}: a failure is {{0, 0}}");
        Err(recorded(what))
    } else {
        no_error_recorded(what);
        Ok(got)
    }
}

/// A status or count call: `Err` (the recorded error, which must be the
/// code returned) when it returned a negative value.
fn status(what: &str, call: impl FnOnce() -> i64) -> Result<i64, Error> {
    vais_alloc_clear_error();
    let got = call();
    if got >= 0 {
        no_error_recorded(what);
        Ok(got)
    } else {
        let error = recorded(what);
        assert_eq!(
            error.code(),
            got,
            "{what} returned {got} but recorded {error:?}"
        );
        Err(error)
    }
}

/// A status call that returns 0 on success.
fn done(what: &str, call: impl FnOnce() -> i64) -> Result<(), Error> {
    status(what, call).map(|value| assert_eq!(value, 0, "{what} returned {value}"))
}

/// A query that cannot fail on a live handle.
fn count(what: &str, call: impl FnOnce() -> i64) -> usize {
    match status(what, call) {
        Ok(value) => value as usize,
        Err(error) => panic!("{what} failed on a live handle: {error:?}"),
    }
}

/// A constructor: `Err` (the recorded error) for NULL.
fn handle<T>(what: &str, call: impl FnOnce() -> *mut T) -> Result<*mut T, Error> {
    vais_alloc_clear_error();
    let got = call();
    if got.is_null() {
        Err(recorded(what))
    } else {
        no_error_recorded(what);
        Ok(got)
    }
}

/// Releases a handle in `Drop` (a failure is reported unless the thread is
/// already unwinding).
fn release(what: &str, result: i64) {
    if !std::thread::panicking() {
        assert_eq!(result, 0, "{what} of a live handle failed");
    }
}

/// The invalid layout `layout_array`/`layout_extend` return on failure.
const INVALID_LAYOUT: Layout = Layout::new(-1, -1);

/// A layout call: `Err` (the recorded error) when it returned `{-1, -1}`.
fn layout_result(what: &str, call: impl FnOnce() -> Layout) -> Result<Layout, Error> {
    vais_alloc_clear_error();
    let got = call();
    if got == INVALID_LAYOUT {
        Err(recorded(what))
    } else {
        no_error_recorded(what);
        Ok(got)
    }
}

/// `layout_array`.
pub fn layout_array(elem_size: i64, elem_align: i64, count: i64) -> Result<Layout, Error> {
    layout_result("layout_array", || {
        layout_ffi::layout_array(elem_size, elem_align, count)
    })
}

/// `layout_extend`.
pub fn layout_extend(base: Layout, ext: Layout) -> Result<Layout, Error> {
    layout_result("layout_extend", || layout_ffi::layout_extend(base, ext))
}

// ----- the allocator interface -------------------------------------------

/// A `VaisAllocator` borrowed from its owner (or the global allocator's,
/// which lives forever): the `allocator_*` dispatch functions.
#[derive(Clone, Copy, Debug)]
pub struct CView<'a> {
    /// The C value.
    pub allocator: VaisAllocator,
    owner: PhantomData<&'a ()>,
}

impl CView<'static> {
    /// `global_as_allocator()`.
    pub fn global() -> CView<'static> {
        CView {
            allocator: global_as_allocator(),
            owner: PhantomData,
        }
    }
}

impl CView<'_> {
    fn checked(what: &str, allocator: VaisAllocator) -> Self {
        assert!(
            !allocator.ctx.is_null() && !allocator.vtable.is_null(),
            "{what} of a live handle failed"
        );
        no_error_recorded(what);
        CView {
            allocator,
            owner: PhantomData,
        }
    }

    /// `allocator_caps`.
    pub fn caps(&self) -> i64 {
        // SAFETY: the view comes from a getter whose handle outlives it
        // (the borrow of `'a`), or is the global allocator.
        count("allocator_caps", || unsafe {
            allocator_caps(self.allocator)
        }) as i64
    }

    /// `allocator_alloc`.
    pub fn alloc(&self, layout: Layout) -> Result<Allocation, Error> {
        // SAFETY: as in `caps`.
        allocation("allocator_alloc", || unsafe {
            allocator_alloc(self.allocator, layout)
        })
    }

    /// `allocator_alloc_zeroed`.
    pub fn alloc_zeroed(&self, layout: Layout) -> Result<Allocation, Error> {
        // SAFETY: as in `caps`.
        allocation("allocator_alloc_zeroed", || unsafe {
            allocator_alloc_zeroed(self.allocator, layout)
        })
    }

    /// `allocator_resize`.
    ///
    /// # Safety
    /// For the global allocator, `ptr` must be a live block of it (it
    /// keeps no registry); the other allocators validate every pointer.
    pub unsafe fn resize(&self, ptr: i64, old: Layout, new_size: i64) -> Result<(), Error> {
        // SAFETY: as in `caps`; the pointer rule is the caller's promise.
        done("allocator_resize", || unsafe {
            allocator_resize(self.allocator, ptr, old, new_size)
        })
    }

    /// `allocator_realloc`.
    ///
    /// # Safety
    /// As for [`CView::resize`].
    pub unsafe fn realloc(&self, ptr: i64, old: Layout, new: Layout) -> Result<Allocation, Error> {
        // SAFETY: as in `resize`.
        allocation("allocator_realloc", || unsafe {
            allocator_realloc(self.allocator, ptr, old, new)
        })
    }

    /// `allocator_free`.
    ///
    /// # Safety
    /// As for [`CView::resize`].
    pub unsafe fn free(&self, ptr: i64, layout: Layout) -> Result<(), Error> {
        // SAFETY: as in `resize`.
        done("allocator_free", || unsafe {
            allocator_free(self.allocator, ptr, layout)
        })
    }

    /// `allocator_reset`.
    pub fn reset(&self) -> Result<(), Error> {
        // SAFETY: as in `caps`.
        done("allocator_reset", || unsafe {
            allocator_reset(self.allocator)
        })
    }
}

// ----- bump --------------------------------------------------------------

/// An owned `BumpAllocator *`.
#[derive(Debug)]
pub struct CBump {
    handle: *mut BumpAllocator,
}

impl CBump {
    /// `bump_new(capacity)`.
    pub fn new(capacity: i64) -> Result<CBump, Error> {
        handle("bump_new", || bump_ffi::bump_new(capacity)).map(|handle| CBump { handle })
    }

    /// `bump_from_buffer(buffer, capacity)`.
    ///
    /// # Safety
    /// `[buffer, buffer + capacity)` must stay valid for reads and writes,
    /// and be used through the arena only, while the arena lives.
    pub unsafe fn from_buffer(buffer: i64, capacity: i64) -> Result<CBump, Error> {
        // SAFETY: the caller's promise.
        handle("bump_from_buffer", || unsafe {
            bump_ffi::bump_from_buffer(buffer, capacity)
        })
        .map(|handle| CBump { handle })
    }

    /// `bump_alloc`.
    pub fn alloc(&mut self, layout: Layout) -> Result<Allocation, Error> {
        // SAFETY: `self.handle` is live until `drop`.
        allocation("bump_alloc", || unsafe {
            bump_ffi::bump_alloc(self.handle, layout)
        })
    }

    /// `bump_alloc_zeroed`.
    pub fn alloc_zeroed(&mut self, layout: Layout) -> Result<Allocation, Error> {
        // SAFETY: `self.handle` is live until `drop`.
        allocation("bump_alloc_zeroed", || unsafe {
            bump_ffi::bump_alloc_zeroed(self.handle, layout)
        })
    }

    /// `bump_reset`.
    pub fn reset(&mut self) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("bump_reset", || unsafe {
            bump_ffi::bump_reset(self.handle)
        })
    }

    /// `bump_remaining`.
    pub fn remaining(&self) -> usize {
        // SAFETY: `self.handle` is live until `drop`.
        count("bump_remaining", || unsafe {
            bump_ffi::bump_remaining(self.handle)
        })
    }

    /// `bump_total_allocated`.
    pub fn total_allocated(&self) -> usize {
        // SAFETY: `self.handle` is live until `drop`.
        count("bump_total_allocated", || unsafe {
            bump_ffi::bump_total_allocated(self.handle)
        })
    }

    /// `bump_capacity`.
    pub fn capacity(&self) -> usize {
        // SAFETY: `self.handle` is live until `drop`.
        count("bump_capacity", || unsafe {
            bump_ffi::bump_capacity(self.handle)
        })
    }

    /// `bump_owns`.
    pub fn owns(&self, ptr: i64) -> bool {
        // SAFETY: `self.handle` is live until `drop`.
        match count("bump_owns", || unsafe {
            bump_ffi::bump_owns(self.handle, ptr)
        }) {
            0 => false,
            1 => true,
            other => panic!("bump_owns returned {other}"),
        }
    }

    /// `bump_drop`.
    pub fn drop_buffer(&mut self) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("bump_drop", || unsafe { bump_ffi::bump_drop(self.handle) })
    }

    /// `bump_as_allocator`.
    pub fn as_allocator(&self) -> CView<'_> {
        // SAFETY: `self.handle` is live until `drop`, which the view's
        // borrow of `self` cannot outlive.
        CView::checked("bump_as_allocator", unsafe {
            bump_as_allocator(self.handle)
        })
    }

    /// `bump_set_upstream` with an upstream that outlives every arena (a
    /// `'static` view: the global allocator's).
    pub fn set_upstream(&mut self, upstream: CView<'static>, chunk_size: i64) -> Result<(), Error> {
        // SAFETY: a `'static` upstream outlives the arena.
        unsafe { self.set_upstream_raw(upstream.allocator, chunk_size) }
    }

    /// `bump_set_upstream` with any `VaisAllocator`, refusals included.
    ///
    /// # Safety
    /// `upstream` must be a valid allocator (or one the library refuses:
    /// a NULL vtable, a readable vtable of another version, ...) that
    /// outlives the arena.
    pub unsafe fn set_upstream_raw(
        &mut self,
        upstream: VaisAllocator,
        chunk_size: i64,
    ) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`; the upstream rule is
        // the caller's promise.
        done("bump_set_upstream", || unsafe {
            bump_ffi::bump_set_upstream(self.handle, upstream, chunk_size)
        })
    }

    /// `bump_set_limit`.
    pub fn set_limit(&mut self, max_bytes: i64) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("bump_set_limit", || unsafe {
            bump_ffi::bump_set_limit(self.handle, max_bytes)
        })
    }

    /// `bump_mark`: the mark (`>= 0`).
    pub fn mark(&mut self) -> Result<i64, Error> {
        // SAFETY: `self.handle` is live until `drop`.
        status("bump_mark", || unsafe { bump_ffi::bump_mark(self.handle) })
    }

    /// `bump_release_to`.
    pub fn release_to(&mut self, mark: i64) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("bump_release_to", || unsafe {
            bump_ffi::bump_release_to(self.handle, mark)
        })
    }

    /// `bump_peak`.
    pub fn peak(&self) -> usize {
        // SAFETY: `self.handle` is live until `drop`.
        count("bump_peak", || unsafe { bump_ffi::bump_peak(self.handle) })
    }
}

impl Drop for CBump {
    fn drop(&mut self) {
        // SAFETY: `self.handle` came from `bump_new`/`bump_from_buffer` and
        // is freed here only.
        release("bump_free", unsafe { bump_ffi::bump_free(self.handle) });
    }
}

// ----- pool --------------------------------------------------------------

/// An owned `PoolAllocator *`.
#[derive(Debug)]
pub struct CPool {
    handle: *mut PoolAllocator,
}

impl CPool {
    /// `allocator_stats` of the pool's view.
    pub fn stats(&self) -> VaisAllocStats {
        stats_of(
            // SAFETY: `self.handle` is live until `drop`.
            unsafe { vais_alloc::ffi::allocator::pool_as_allocator(self.handle) },
        )
    }

    /// `pool_new(block_size, num_blocks)`.
    pub fn new(block_size: i64, num_blocks: i64) -> Result<CPool, Error> {
        handle("pool_new", || pool_ffi::pool_new(block_size, num_blocks))
            .map(|handle| CPool { handle })
    }

    /// `pool_alloc`: the block's address.
    pub fn alloc(&mut self) -> Result<usize, Error> {
        vais_alloc_clear_error();
        // SAFETY: `self.handle` is live until `drop`.
        let got = unsafe { pool_ffi::pool_alloc(self.handle) };
        if got == 0 {
            Err(recorded("pool_alloc"))
        } else {
            no_error_recorded("pool_alloc");
            Ok(got as usize)
        }
    }

    /// `pool_dealloc`.
    pub fn dealloc(&mut self, ptr: i64) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("pool_dealloc", || unsafe {
            pool_ffi::pool_dealloc(self.handle, ptr)
        })
    }

    /// `pool_owns`.
    pub fn owns(&self, ptr: i64) -> bool {
        // SAFETY: `self.handle` is live until `drop`.
        match count("pool_owns", || unsafe {
            pool_ffi::pool_owns(self.handle, ptr)
        }) {
            0 => false,
            1 => true,
            other => panic!("pool_owns returned {other}"),
        }
    }

    /// `pool_num_free_blocks`.
    pub fn num_free(&self) -> usize {
        // SAFETY: `self.handle` is live until `drop`.
        count("pool_num_free_blocks", || unsafe {
            pool_ffi::pool_num_free_blocks(self.handle)
        })
    }

    /// `pool_num_allocated`.
    pub fn num_allocated(&self) -> usize {
        // SAFETY: `self.handle` is live until `drop`.
        count("pool_num_allocated", || unsafe {
            pool_ffi::pool_num_allocated(self.handle)
        })
    }

    /// `pool_block_size`.
    pub fn block_size(&self) -> usize {
        // SAFETY: `self.handle` is live until `drop`.
        count("pool_block_size", || unsafe {
            pool_ffi::pool_block_size(self.handle)
        })
    }

    /// `pool_reset`.
    pub fn reset(&mut self) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("pool_reset", || unsafe {
            pool_ffi::pool_reset(self.handle)
        })
    }

    /// `pool_drop`.
    pub fn drop_buffer(&mut self) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("pool_drop", || unsafe { pool_ffi::pool_drop(self.handle) })
    }

    /// `pool_as_allocator`.
    pub fn as_allocator(&self) -> CView<'_> {
        // SAFETY: as in `CBump::as_allocator`.
        CView::checked("pool_as_allocator", unsafe {
            pool_as_allocator(self.handle)
        })
    }

    /// `pool_set_upstream`. The pool gives its slabs back to `upstream`
    /// when it is dropped: the upstream's owner must be dropped after it.
    pub fn set_upstream(&mut self, upstream: CView<'_>, slab_bytes: i64) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`; the view is valid
        // (the caller keeps its owner alive longer than the pool).
        done("pool_set_upstream", || unsafe {
            pool_ffi::pool_set_upstream(self.handle, upstream.allocator, slab_bytes)
        })
    }

    /// `pool_set_limit`.
    pub fn set_limit(&mut self, max_bytes: i64) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("pool_set_limit", || unsafe {
            pool_ffi::pool_set_limit(self.handle, max_bytes)
        })
    }

    /// `pool_capacity`.
    pub fn capacity(&self) -> usize {
        // SAFETY: `self.handle` is live until `drop`.
        count("pool_capacity", || unsafe {
            pool_ffi::pool_capacity(self.handle)
        })
    }
}

impl Drop for CPool {
    fn drop(&mut self) {
        // SAFETY: `self.handle` came from `pool_new` and is freed here only.
        release("pool_free", unsafe { pool_ffi::pool_free(self.handle) });
    }
}

// ----- free list ---------------------------------------------------------

/// An owned `FreeListAllocator *`.
#[derive(Debug)]
pub struct CFreeList {
    handle: *mut FreeListAllocator,
}

impl CFreeList {
    /// `allocator_stats` of the list's view.
    pub fn stats(&self) -> VaisAllocStats {
        stats_of(
            // SAFETY: `self.handle` is live until `drop`.
            unsafe { vais_alloc::ffi::allocator::freelist_as_allocator(self.handle) },
        )
    }

    /// `freelist_new(capacity)`.
    pub fn new(capacity: i64) -> Result<CFreeList, Error> {
        handle("freelist_new", || free_list_ffi::freelist_new(capacity))
            .map(|handle| CFreeList { handle })
    }

    /// `freelist_alloc`.
    pub fn alloc(&mut self, layout: Layout) -> Result<Allocation, Error> {
        // SAFETY: `self.handle` is live until `drop`.
        allocation("freelist_alloc", || unsafe {
            free_list_ffi::freelist_alloc(self.handle, layout)
        })
    }

    /// `freelist_realloc`.
    pub fn realloc(&mut self, ptr: i64, layout: Layout) -> Result<Allocation, Error> {
        // SAFETY: `self.handle` is live until `drop`.
        allocation("freelist_realloc", || unsafe {
            free_list_ffi::freelist_realloc(self.handle, ptr, layout)
        })
    }

    /// `freelist_dealloc`.
    pub fn dealloc(&mut self, ptr: i64) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("freelist_dealloc", || unsafe {
            free_list_ffi::freelist_dealloc(self.handle, ptr)
        })
    }

    /// `freelist_total_allocated`.
    pub fn total_allocated(&self) -> usize {
        // SAFETY: `self.handle` is live until `drop`.
        count("freelist_total_allocated", || unsafe {
            free_list_ffi::freelist_total_allocated(self.handle)
        })
    }

    /// `freelist_remaining`.
    pub fn remaining(&self) -> usize {
        // SAFETY: `self.handle` is live until `drop`.
        count("freelist_remaining", || unsafe {
            free_list_ffi::freelist_remaining(self.handle)
        })
    }

    /// `freelist_largest_free_block`.
    pub fn largest_free_block(&self) -> usize {
        // SAFETY: `self.handle` is live until `drop`.
        count("freelist_largest_free_block", || unsafe {
            free_list_ffi::freelist_largest_free_block(self.handle)
        })
    }

    /// `freelist_reset`.
    pub fn reset(&mut self) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("freelist_reset", || unsafe {
            free_list_ffi::freelist_reset(self.handle)
        })
    }

    /// `freelist_drop`.
    pub fn drop_buffer(&mut self) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("freelist_drop", || unsafe {
            free_list_ffi::freelist_drop(self.handle)
        })
    }

    /// `freelist_as_allocator`.
    pub fn as_allocator(&self) -> CView<'_> {
        // SAFETY: as in `CBump::as_allocator`.
        CView::checked("freelist_as_allocator", unsafe {
            freelist_as_allocator(self.handle)
        })
    }

    /// `freelist_set_upstream`. The list gives its chunks back to
    /// `upstream` when it is dropped: the upstream's owner must be dropped
    /// after it.
    pub fn set_upstream(&mut self, upstream: CView<'_>, chunk_size: i64) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`; the view is valid
        // (the caller keeps its owner alive longer than the list).
        done("freelist_set_upstream", || unsafe {
            free_list_ffi::freelist_set_upstream(self.handle, upstream.allocator, chunk_size)
        })
    }

    /// `freelist_add_region`.
    ///
    /// # Safety
    /// `[buffer, buffer + capacity)` must be valid for reads and writes,
    /// and used by nothing else, until the list is dropped or freed (or
    /// the call is refused).
    pub unsafe fn add_region(&mut self, buffer: i64, capacity: i64) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`; the range is the
        // caller's promise.
        done("freelist_add_region", || unsafe {
            free_list_ffi::freelist_add_region(self.handle, buffer, capacity)
        })
    }

    /// `freelist_set_limit`.
    pub fn set_limit(&mut self, max_bytes: i64) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("freelist_set_limit", || unsafe {
            free_list_ffi::freelist_set_limit(self.handle, max_bytes)
        })
    }

    /// `freelist_set_cache`.
    pub fn set_cache(&mut self, on: bool) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("freelist_set_cache", || unsafe {
            free_list_ffi::freelist_set_cache(self.handle, i64::from(on))
        })
    }

    /// `freelist_capacity`.
    pub fn capacity(&self) -> usize {
        // SAFETY: `self.handle` is live until `drop`.
        count("freelist_capacity", || unsafe {
            free_list_ffi::freelist_capacity(self.handle)
        })
    }

    /// The core's `check_consistency()`: the whole-heap invariant walk,
    /// which the C ABI does not export (yet: API.md plans
    /// `allocator_check`). It reads the core through the handle's layout,
    /// `ffi::Handle<C>` = `#[repr(C)] { tag: u64, core: C }`, a private
    /// detail of `src/ffi/mod.rs`; the family tag and the counters are
    /// checked against the C queries first, so that a change of that
    /// layout fails here rather than reading garbage.
    pub fn check_consistency(&self) -> Result<(), String> {
        // SAFETY: a live handle points to at least its 8-byte tag.
        let tag = unsafe { self.handle.cast::<u64>().read() };
        assert_eq!(
            tag,
            <FreeListAllocator as Family>::TAG,
            "a free-list handle starts with its family tag"
        );
        let (total, remaining) = (self.total_allocated(), self.remaining());
        let offset =
            core::mem::size_of::<u64>().next_multiple_of(core::mem::align_of::<FreeList>());
        // SAFETY: a live free-list handle is a `Handle<FreeList>`, whose
        // `repr(C)` layout puts the core at `offset` (the tag check above
        // confirms the family); no other reference to the core exists
        // while this one does (the C queries above have returned, and
        // nothing else runs until this function returns).
        let core = unsafe { &*self.handle.cast::<u8>().add(offset).cast::<FreeList>() };
        assert_eq!(
            (core.total_allocated(), core.remaining()),
            (total, remaining),
            "the core read through the handle agrees with the C queries"
        );
        core.check_consistency()
    }
}

impl Drop for CFreeList {
    fn drop(&mut self) {
        // SAFETY: `self.handle` came from `freelist_new` and is freed here
        // only.
        release("freelist_free", unsafe {
            free_list_ffi::freelist_free(self.handle)
        });
    }
}

// ----- stack -------------------------------------------------------------

/// An owned `StackAllocator *`.
#[derive(Debug)]
pub struct CStack {
    handle: *mut StackAllocator,
}

impl CStack {
    /// `stack_new(capacity)`.
    pub fn new(capacity: i64) -> Result<CStack, Error> {
        handle("stack_new", || stack_ffi::stack_new(capacity)).map(|handle| CStack { handle })
    }

    /// `stack_alloc`.
    pub fn alloc(&mut self, layout: Layout) -> Result<Allocation, Error> {
        // SAFETY: `self.handle` is live until `drop`.
        allocation("stack_alloc", || unsafe {
            stack_ffi::stack_alloc(self.handle, layout)
        })
    }

    /// `stack_pop`.
    pub fn pop(&mut self) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("stack_pop", || unsafe { stack_ffi::stack_pop(self.handle) })
    }

    /// `stack_reset`.
    pub fn reset(&mut self) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("stack_reset", || unsafe {
            stack_ffi::stack_reset(self.handle)
        })
    }

    /// `stack_remaining`.
    pub fn remaining(&self) -> usize {
        // SAFETY: `self.handle` is live until `drop`.
        count("stack_remaining", || unsafe {
            stack_ffi::stack_remaining(self.handle)
        })
    }

    /// `stack_depth`.
    pub fn depth(&self) -> usize {
        // SAFETY: `self.handle` is live until `drop`.
        count("stack_depth", || unsafe {
            stack_ffi::stack_depth(self.handle)
        })
    }

    /// `stack_drop`.
    pub fn drop_buffer(&mut self) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("stack_drop", || unsafe {
            stack_ffi::stack_drop(self.handle)
        })
    }

    /// `stack_as_allocator`.
    pub fn as_allocator(&self) -> CView<'_> {
        // SAFETY: as in `CBump::as_allocator`.
        CView::checked("stack_as_allocator", unsafe {
            stack_as_allocator(self.handle)
        })
    }

    /// `stack_set_upstream` with an upstream that outlives every stack (a
    /// `'static` view: the global allocator's).
    pub fn set_upstream(&mut self, upstream: CView<'static>, chunk_size: i64) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`; a `'static` upstream
        // outlives the stack.
        done("stack_set_upstream", || unsafe {
            stack_ffi::stack_set_upstream(self.handle, upstream.allocator, chunk_size)
        })
    }

    /// `stack_set_limit`.
    pub fn set_limit(&mut self, max_bytes: i64) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("stack_set_limit", || unsafe {
            stack_ffi::stack_set_limit(self.handle, max_bytes)
        })
    }

    /// `stack_mark`: the mark (`>= 0`).
    pub fn mark(&mut self) -> Result<i64, Error> {
        // SAFETY: `self.handle` is live until `drop`.
        status("stack_mark", || unsafe {
            stack_ffi::stack_mark(self.handle)
        })
    }

    /// `stack_release_to`.
    pub fn release_to(&mut self, mark: i64) -> Result<(), Error> {
        // SAFETY: `self.handle` is live until `drop`.
        done("stack_release_to", || unsafe {
            stack_ffi::stack_release_to(self.handle, mark)
        })
    }

    /// `stack_peak`.
    pub fn peak(&self) -> usize {
        // SAFETY: `self.handle` is live until `drop`.
        count("stack_peak", || unsafe {
            stack_ffi::stack_peak(self.handle)
        })
    }

    /// `stack_capacity`.
    pub fn capacity(&self) -> usize {
        // SAFETY: `self.handle` is live until `drop`.
        count("stack_capacity", || unsafe {
            stack_ffi::stack_capacity(self.handle)
        })
    }
}

impl Drop for CStack {
    fn drop(&mut self) {
        // SAFETY: `self.handle` came from `stack_new` and is freed here
        // only.
        release("stack_free", unsafe { stack_ffi::stack_free(self.handle) });
    }
}

/// `allocator_stats(view)`, which must succeed.
#[allow(dead_code)]
fn stats_of(view: vais_alloc::ffi::allocator::VaisAllocator) -> VaisAllocStats {
    let mut stats = VaisAllocStats::default();
    // SAFETY: a view of a live handle; `stats` is writable.
    let status = unsafe { allocator_stats(view, &mut stats) };
    assert_eq!(status, 0, "allocator_stats");
    stats
}
