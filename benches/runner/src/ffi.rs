//! The C functions the benchmarks call: libvais_alloc.so (declared as in
//! include/vais_alloc.h) and the C floor, libfloor.so (benches/floor/floor.c).
//! Both are shared objects, so each call is a non-inlined call through the
//! PLT, exactly as a C program linked against the library makes it.

#![allow(dead_code)]

use std::os::raw::c_void;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub size: i64,
    pub align: i64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Allocation {
    pub ptr: i64,
    pub size: i64,
}

pub type Handle = *mut c_void;

/// `VaisAllocator`: a context and a vtable (opaque here).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VaisAllocator {
    pub ctx: *mut c_void,
    pub vtable: *const c_void,
}

extern "C" {
    pub fn global_alloc(layout: Layout) -> Allocation;
    pub fn global_dealloc(ptr: i64, layout: Layout);

    pub fn bump_new(capacity: i64) -> Handle;
    pub fn bump_alloc(bump: Handle, layout: Layout) -> Allocation;
    pub fn bump_reset(bump: Handle) -> i64;
    pub fn bump_free(bump: Handle) -> i64;
    pub fn bump_set_upstream(bump: Handle, upstream: VaisAllocator, chunk_size: i64) -> i64;
    pub fn bump_mark(bump: Handle) -> i64;
    pub fn bump_release_to(bump: Handle, mark: i64) -> i64;
    pub fn global_as_allocator() -> VaisAllocator;

    pub fn pool_new(block_size: i64, num_blocks: i64) -> Handle;
    pub fn pool_alloc(pool: Handle) -> i64;
    pub fn pool_dealloc(pool: Handle, ptr: i64) -> i64;
    pub fn pool_free(pool: Handle) -> i64;

    pub fn freelist_new(capacity: i64) -> Handle;
    pub fn freelist_alloc(list: Handle, layout: Layout) -> Allocation;
    pub fn freelist_dealloc(list: Handle, ptr: i64) -> i64;
    pub fn freelist_realloc(list: Handle, ptr: i64, layout: Layout) -> Allocation;
    pub fn freelist_free(list: Handle) -> i64;
    pub fn freelist_set_cache(list: Handle, on: i64) -> i64;

    pub fn stack_new(capacity: i64) -> Handle;
    pub fn stack_alloc(stack: Handle, layout: Layout) -> Allocation;
    pub fn stack_pop(stack: Handle) -> i64;
    pub fn stack_free(stack: Handle) -> i64;

    pub fn vais_alloc_last_error() -> i64;
    pub fn vais_alloc_version() -> *const std::os::raw::c_char;
}

extern "C" {
    pub fn floor_bump_new(capacity: i64) -> Handle;
    pub fn floor_bump_alloc(b: Handle, layout: Layout) -> Allocation;
    pub fn floor_bump_reset(b: Handle);
    pub fn floor_bump_free(b: Handle);

    pub fn floor_pool_new(block_size: i64, num_blocks: i64) -> Handle;
    pub fn floor_pool_alloc(p: Handle) -> i64;
    pub fn floor_pool_dealloc(p: Handle, ptr: i64) -> i64;
    pub fn floor_pool_free(p: Handle);
    pub fn floor_ipool_new(block_size: i64, num_blocks: i64) -> Handle;
    pub fn floor_ipool_alloc(p: Handle) -> i64;
    pub fn floor_ipool_dealloc(p: Handle, ptr: i64) -> i64;
    pub fn floor_ipool_free(p: Handle);

    pub fn floor_stack_new(capacity: i64) -> Handle;
    pub fn floor_stack_alloc(s: Handle, layout: Layout) -> Allocation;
    pub fn floor_stack_pop(s: Handle) -> i64;
    pub fn floor_stack_free(s: Handle);

    pub fn floor_classes_new(capacity: i64) -> Handle;
    pub fn floor_classes_alloc(c: Handle, layout: Layout) -> Allocation;
    pub fn floor_classes_dealloc(c: Handle, ptr: i64, layout: Layout);
    pub fn floor_classes_free(c: Handle);

    pub fn floor_malloc(layout: Layout) -> Allocation;
    pub fn floor_free(ptr: i64, layout: Layout);
}

/// Panics with the library's last error when `cond` fails: a benchmark that
/// silently measured failures would be worthless.
#[track_caller]
pub fn check(cond: bool, what: &str) {
    if !cond {
        let code = unsafe { vais_alloc_last_error() };
        panic!("{what} failed (vais_alloc_last_error = {code})");
    }
}

pub fn version() -> String {
    unsafe { std::ffi::CStr::from_ptr(vais_alloc_version()) }
        .to_string_lossy()
        .into_owned()
}
