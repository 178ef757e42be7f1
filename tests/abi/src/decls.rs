//! The C ABI of `vais_alloc` written as plain declarations, for two readers:
//!
//! - ctest2 (build.rs) parses this file with its old Rust parser and
//!   `--cfg ctest_parse`: it sees the `#[cfg(ctest_parse)]` stand-ins below
//!   and writes C code that checks every item against `vais_alloc.h`. Keep
//!   the syntax old-fashioned: a classic `extern "C"` block, `#[repr(C)]`
//!   structs, one path per `use`.
//! - rustc compiles this file into the checker without that cfg, so the
//!   names resolve to the crate's real types; main.rs ties each function and
//!   constant below to the crate's own at compile time.

// ---- types ---------------------------------------------------------------

/// Stand-in for `vais_alloc::Layout`, read by ctest2 only.
#[cfg(ctest_parse)]
#[repr(C)]
pub struct Layout {
    pub size: i64,
    pub align: i64,
}

/// Stand-in for `vais_alloc::Allocation`, read by ctest2 only.
#[cfg(ctest_parse)]
#[repr(C)]
pub struct Allocation {
    pub ptr: i64,
    pub size: i64,
}

/// Stand-in for `vais_alloc::ffi::allocator::VaisAllocatorVtable`, read by
/// ctest2 only.
#[cfg(ctest_parse)]
#[repr(C)]
pub struct VaisAllocatorVtable {
    pub version: i64,
    pub caps: i64,
    pub alloc: Option<unsafe extern "C" fn(*mut c_void, Layout) -> Allocation>,
    pub alloc_zeroed: Option<unsafe extern "C" fn(*mut c_void, Layout) -> Allocation>,
    pub resize: Option<unsafe extern "C" fn(*mut c_void, i64, Layout, i64) -> i64>,
    pub realloc: Option<unsafe extern "C" fn(*mut c_void, i64, Layout, Layout) -> Allocation>,
    pub free: Option<unsafe extern "C" fn(*mut c_void, i64, Layout) -> i64>,
    pub reset: Option<unsafe extern "C" fn(*mut core::ffi::c_void) -> i64>,
}

/// Stand-in for `vais_alloc::ffi::allocator::VaisAllocator`, read by ctest2
/// only.
#[cfg(ctest_parse)]
#[repr(C)]
pub struct VaisAllocator {
    pub ctx: *mut c_void,
    pub vtable: *const VaisAllocatorVtable,
}

/// Stand-in for `vais_alloc::ffi::inspect::VaisAllocStats`, read by
/// ctest2 only.
#[cfg(ctest_parse)]
#[repr(C)]
pub struct VaisAllocStats {
    pub in_use_bytes: i64,
    pub peak_in_use_bytes: i64,
    pub live_blocks: i64,
    pub allocs: i64,
    pub frees: i64,
    pub failed_allocs: i64,
    pub capacity_bytes: i64,
    pub largest_free_block: i64,
}

// Opaque handles (incomplete types in C): only pointers to them are used.
#[cfg(ctest_parse)]
pub enum BumpAllocator {}
#[cfg(ctest_parse)]
pub enum PoolAllocator {}
#[cfg(ctest_parse)]
pub enum FreeListAllocator {}
#[cfg(ctest_parse)]
pub enum StackAllocator {}

// What rustc compiles: the crate's real types.
#[cfg(not(ctest_parse))]
pub use vais_alloc::ffi::allocator::VaisAllocator;
#[cfg(not(ctest_parse))]
pub use vais_alloc::ffi::allocator::VaisAllocatorVtable;
#[cfg(not(ctest_parse))]
pub use vais_alloc::ffi::bump::BumpAllocator;
#[cfg(not(ctest_parse))]
pub use vais_alloc::ffi::free_list::FreeListAllocator;
#[cfg(not(ctest_parse))]
pub use vais_alloc::ffi::inspect::VaisAllocStats;
#[cfg(not(ctest_parse))]
pub use vais_alloc::ffi::pool::PoolAllocator;
#[cfg(not(ctest_parse))]
pub use vais_alloc::ffi::stack::StackAllocator;
#[cfg(not(ctest_parse))]
pub use vais_alloc::ffi::types::Allocation;
#[cfg(not(ctest_parse))]
pub use vais_alloc::ffi::types::Layout;

use std::os::raw::c_char;
#[cfg(ctest_parse)]
use std::os::raw::c_void;

// ---- constants -----------------------------------------------------------

pub const VAIS_ALLOC_OK: i64 = 0;
pub const VAIS_ALLOC_E_INVALID_LAYOUT: i64 = -1;
pub const VAIS_ALLOC_E_INVALID_ARGUMENT: i64 = -2;
pub const VAIS_ALLOC_E_NULL_HANDLE: i64 = -3;
pub const VAIS_ALLOC_E_OUT_OF_MEMORY: i64 = -4;
pub const VAIS_ALLOC_E_EXHAUSTED: i64 = -5;
pub const VAIS_ALLOC_E_FOREIGN_POINTER: i64 = -6;
pub const VAIS_ALLOC_E_DOUBLE_FREE: i64 = -7;
pub const VAIS_ALLOC_E_EMPTY: i64 = -8;
pub const VAIS_ALLOC_E_UNSUPPORTED: i64 = -9;
pub const VAIS_ALLOC_E_STALE_MARK: i64 = -10;
pub const VAIS_ALLOC_E_CORRUPTED: i64 = -11;
pub const VAIS_ALLOCATOR_VTABLE_VERSION: i64 = 1;
pub const VAIS_ALLOC_CAP_FREE: i64 = 1;
pub const VAIS_ALLOC_CAP_FREE_LAST: i64 = 2;
pub const VAIS_ALLOC_CAP_RESIZE: i64 = 4;
pub const VAIS_ALLOC_CAP_RESET: i64 = 8;
pub const VAIS_ALLOC_CAP_ANY_SIZE: i64 = 16;
pub const VAIS_ALLOC_CAP_ANY_ALIGN: i64 = 32;
pub const VAIS_ALLOC_CAP_GROWS: i64 = 64;
pub const VAIS_ALLOC_CAP_THREAD_SAFE: i64 = 128;

// ---- functions -----------------------------------------------------------

// `improper_ctypes`: rustc resolves the handle types to the crate's own,
// which are deliberately not `#[repr(C)]` (so that cbindgen emits them as
// opaque `typedef struct X X;`); they only ever cross the ABI behind a
// pointer, so their layout does not matter.
#[allow(improper_ctypes)]
extern "C" {
    // layout_*
    pub fn layout_new(size: i64, align: i64) -> Layout;
    pub fn layout_for_i64() -> Layout;
    pub fn layout_for_i32() -> Layout;
    pub fn layout_for_ptr() -> Layout;
    pub fn layout_array(elem_size: i64, elem_align: i64, count: i64) -> Layout;
    pub fn layout_extend(base: Layout, ext: Layout) -> Layout;

    // global_*
    pub fn global_alloc(layout: Layout) -> Allocation;
    pub fn global_alloc_zeroed(layout: Layout) -> Allocation;
    pub fn global_dealloc(ptr: i64, layout: Layout);
    pub fn global_realloc(ptr: i64, old_layout: Layout, new_layout: Layout) -> Allocation;

    // the allocator interface
    pub fn global_as_allocator() -> VaisAllocator;
    pub fn bump_as_allocator(bump: *mut BumpAllocator) -> VaisAllocator;
    pub fn pool_as_allocator(pool: *mut PoolAllocator) -> VaisAllocator;
    pub fn freelist_as_allocator(list: *mut FreeListAllocator) -> VaisAllocator;
    pub fn stack_as_allocator(stack: *mut StackAllocator) -> VaisAllocator;
    pub fn allocator_alloc(allocator: VaisAllocator, layout: Layout) -> Allocation;
    pub fn allocator_alloc_zeroed(allocator: VaisAllocator, layout: Layout) -> Allocation;
    pub fn allocator_resize(allocator: VaisAllocator, ptr: i64, old: Layout, new_size: i64) -> i64;
    pub fn allocator_realloc(
        allocator: VaisAllocator,
        ptr: i64,
        old: Layout,
        new_layout: Layout,
    ) -> Allocation;
    pub fn allocator_free(allocator: VaisAllocator, ptr: i64, layout: Layout) -> i64;
    pub fn allocator_reset(allocator: VaisAllocator) -> i64;
    pub fn allocator_caps(allocator: VaisAllocator) -> i64;

    // bump_*
    pub fn bump_new(capacity: i64) -> *mut BumpAllocator;
    pub fn bump_from_buffer(buffer: i64, capacity: i64) -> *mut BumpAllocator;
    pub fn bump_alloc(bump: *mut BumpAllocator, layout: Layout) -> Allocation;
    pub fn bump_alloc_zeroed(bump: *mut BumpAllocator, layout: Layout) -> Allocation;
    pub fn bump_reset(bump: *mut BumpAllocator) -> i64;
    pub fn bump_remaining(bump: *mut BumpAllocator) -> i64;
    pub fn bump_total_allocated(bump: *mut BumpAllocator) -> i64;
    pub fn bump_capacity(bump: *mut BumpAllocator) -> i64;
    pub fn bump_owns(bump: *mut BumpAllocator, ptr: i64) -> i64;
    pub fn bump_drop(bump: *mut BumpAllocator) -> i64;
    pub fn bump_free(bump: *mut BumpAllocator) -> i64;
    pub fn bump_set_upstream(
        bump: *mut BumpAllocator,
        upstream: VaisAllocator,
        chunk_size: i64,
    ) -> i64;
    pub fn bump_set_limit(bump: *mut BumpAllocator, max_bytes: i64) -> i64;
    pub fn bump_mark(bump: *mut BumpAllocator) -> i64;
    pub fn bump_release_to(bump: *mut BumpAllocator, mark: i64) -> i64;
    pub fn bump_peak(bump: *mut BumpAllocator) -> i64;

    // pool_*
    pub fn pool_new(block_size: i64, num_blocks: i64) -> *mut PoolAllocator;
    pub fn pool_alloc(pool: *mut PoolAllocator) -> i64;
    pub fn pool_dealloc(pool: *mut PoolAllocator, ptr: i64) -> i64;
    pub fn pool_num_free_blocks(pool: *mut PoolAllocator) -> i64;
    pub fn pool_num_allocated(pool: *mut PoolAllocator) -> i64;
    pub fn pool_block_size(pool: *mut PoolAllocator) -> i64;
    pub fn pool_owns(pool: *mut PoolAllocator, ptr: i64) -> i64;
    pub fn pool_reset(pool: *mut PoolAllocator) -> i64;
    pub fn pool_drop(pool: *mut PoolAllocator) -> i64;
    pub fn pool_free(pool: *mut PoolAllocator) -> i64;
    pub fn pool_set_upstream(
        pool: *mut PoolAllocator,
        upstream: VaisAllocator,
        slab_bytes: i64,
    ) -> i64;
    pub fn pool_set_limit(pool: *mut PoolAllocator, max_bytes: i64) -> i64;
    pub fn pool_capacity(pool: *mut PoolAllocator) -> i64;

    // freelist_*
    pub fn freelist_new(capacity: i64) -> *mut FreeListAllocator;
    pub fn freelist_alloc(list: *mut FreeListAllocator, layout: Layout) -> Allocation;
    pub fn freelist_realloc(list: *mut FreeListAllocator, ptr: i64, layout: Layout) -> Allocation;
    pub fn freelist_dealloc(list: *mut FreeListAllocator, ptr: i64) -> i64;
    pub fn freelist_total_allocated(list: *mut FreeListAllocator) -> i64;
    pub fn freelist_remaining(list: *mut FreeListAllocator) -> i64;
    pub fn freelist_largest_free_block(list: *mut FreeListAllocator) -> i64;
    pub fn freelist_reset(list: *mut FreeListAllocator) -> i64;
    pub fn freelist_drop(list: *mut FreeListAllocator) -> i64;
    pub fn freelist_free(list: *mut FreeListAllocator) -> i64;
    pub fn freelist_set_upstream(
        list: *mut FreeListAllocator,
        upstream: VaisAllocator,
        chunk_size: i64,
    ) -> i64;
    pub fn freelist_add_region(list: *mut FreeListAllocator, buffer: i64, capacity: i64) -> i64;
    pub fn freelist_set_limit(list: *mut FreeListAllocator, max_bytes: i64) -> i64;
    pub fn freelist_capacity(list: *mut FreeListAllocator) -> i64;
    pub fn freelist_set_cache(list: *mut FreeListAllocator, on: i64) -> i64;

    // stack_*
    pub fn stack_new(capacity: i64) -> *mut StackAllocator;
    pub fn stack_alloc(stack: *mut StackAllocator, layout: Layout) -> Allocation;
    pub fn stack_pop(stack: *mut StackAllocator) -> i64;
    pub fn stack_reset(stack: *mut StackAllocator) -> i64;
    pub fn stack_remaining(stack: *mut StackAllocator) -> i64;
    pub fn stack_depth(stack: *mut StackAllocator) -> i64;
    pub fn stack_drop(stack: *mut StackAllocator) -> i64;
    pub fn stack_free(stack: *mut StackAllocator) -> i64;
    pub fn stack_mark(stack: *mut StackAllocator) -> i64;
    pub fn stack_release_to(stack: *mut StackAllocator, mark: i64) -> i64;
    pub fn stack_peak(stack: *mut StackAllocator) -> i64;
    pub fn stack_set_upstream(
        stack: *mut StackAllocator,
        upstream: VaisAllocator,
        chunk_size: i64,
    ) -> i64;
    pub fn stack_set_limit(stack: *mut StackAllocator, max_bytes: i64) -> i64;
    pub fn stack_capacity(stack: *mut StackAllocator) -> i64;

    // allocator_stats, allocator_check, freelist_walk
    pub fn allocator_stats(allocator: VaisAllocator, out: *mut VaisAllocStats) -> i64;
    pub fn allocator_check(allocator: VaisAllocator) -> i64;
    pub fn freelist_walk(
        list: *mut FreeListAllocator,
        visit: Option<unsafe extern "C" fn(i64, i64, i64, *mut core::ffi::c_void) -> i64>,
        ctx: *mut core::ffi::c_void,
    ) -> i64;

    // vais_alloc_*
    pub fn vais_alloc_last_error() -> i64;
    pub fn vais_alloc_clear_error();
    pub fn vais_alloc_error_message(code: i64) -> *const c_char;
    pub fn vais_alloc_version() -> *const c_char;
    pub fn vais_alloc_memory_tools() -> i64;
    pub fn vais_alloc_last_error_detail() -> *const c_char;
    pub fn vais_alloc_set_misuse_handler(
        handler: Option<unsafe extern "C" fn(i64, *const c_char, i64, *mut core::ffi::c_void)>,
        ctx: *mut core::ffi::c_void,
    );
}
