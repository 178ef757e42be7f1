/*
 * A short tour of libvais_alloc: layouts, the global allocator, the five
 * allocator families and the error model. Run it with `make demo`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vais_alloc.h"

#define PTR(a) ((void *)(intptr_t)(a))

static void section(const char *title) { printf("\n== %s ==\n", title); }

static void layouts(void) {
    section("Layouts");
    Layout l = layout_extend(layout_for_i64(), layout_for_i32());
    l = layout_extend(l, layout_for_ptr());
    printf("struct { int64_t; int32_t; void *; } -> size %lld, align %lld\n",
           (long long)l.size, (long long)l.align);
    Layout arr = layout_array(12, 8, 10);
    printf("10 elements of 12 bytes, align 8     -> size %lld (stride 16)\n", (long long)arr.size);
    Layout bad = layout_array(INT64_MAX, 8, 2);
    printf("an overflowing array                 -> size %lld, error %lld: %s\n", (long long)bad.size,
           (long long)vais_alloc_last_error(), vais_alloc_error_message(vais_alloc_last_error()));
    vais_alloc_clear_error();
}

static void global(void) {
    section("Global allocator (system malloc, any alignment)");
    Layout page = layout_new(10000, 4096);
    Allocation a = global_alloc(page);
    printf("10000 bytes aligned to 4096: ptr %% 4096 = %lld\n", (long long)(a.ptr % 4096));
    strcpy(PTR(a.ptr), "kept across realloc");
    Layout huge = layout_new(20000, 1 << 16);
    Allocation b = global_realloc(a.ptr, page, huge);
    printf("realloc to 20000 bytes aligned to 64 KiB: ptr %% 65536 = %lld, contents \"%s\"\n",
           (long long)(b.ptr % 65536), (char *)PTR(b.ptr));
    global_dealloc(b.ptr, huge);
    Allocation fail = global_alloc(layout_new(INT64_C(1) << 62, 8));
    printf("2^62 bytes: ptr %lld, error: %s\n", (long long)fail.ptr,
           vais_alloc_error_message(vais_alloc_last_error()));
    vais_alloc_clear_error();
}

static void bump(void) {
    section("Bump arena: a pointer bump per allocation, reset frees all");
    BumpAllocator *arena = bump_new(4096);
    Allocation x = bump_alloc(arena, layout_for_i64());
    Allocation v = bump_alloc(arena, layout_array(8, 8, 10));
    Allocation c = bump_alloc(arena, layout_new(64, 64));
    printf("3 allocations: total %lld bytes, remaining %lld of 4096, cache line aligned: %s\n",
           (long long)bump_total_allocated(arena), (long long)bump_remaining(arena),
           c.ptr % 64 == 0 ? "yes" : "no");
    (void)x;
    (void)v;
    Allocation too_big = bump_alloc(arena, layout_new(5000, 8));
    printf("5000 more bytes: ptr %lld (%s), remaining still %lld\n", (long long)too_big.ptr,
           vais_alloc_error_message(vais_alloc_last_error()), (long long)bump_remaining(arena));
    bump_reset(arena);
    printf("after reset: remaining %lld\n", (long long)bump_remaining(arena));
    bump_free(arena);

    char *storage = malloc(1000 + 3);
    BumpAllocator *borrowed = bump_from_buffer((int64_t)(intptr_t)(storage + 3), 1000);
    Allocation d = bump_alloc(borrowed, layout_new(16, 16));
    printf("arena over a misaligned caller buffer: ptr %% 16 = %lld; the caller frees its buffer\n",
           (long long)(d.ptr % 16));
    bump_free(borrowed);
    free(storage);
    vais_alloc_clear_error();
}

static void pool(void) {
    section("Pool: fixed-size blocks, O(1), every free checked");
    PoolAllocator *p = pool_new(64, 100);
    int64_t a = pool_alloc(p), b = pool_alloc(p), c = pool_alloc(p);
    pool_dealloc(p, b);
    printf("100 blocks of 64 B, 3 allocated, 1 freed: %lld free, %lld in use\n",
           (long long)pool_num_free_blocks(p), (long long)pool_num_allocated(p));
    printf("freeing it again: %s\n", vais_alloc_error_message(pool_dealloc(p, b)));
    printf("freeing a pointer inside a block: %s\n", vais_alloc_error_message(pool_dealloc(p, a + 8)));
    printf("counts unchanged: %lld free\n", (long long)pool_num_free_blocks(p));
    (void)c;
    pool_free(p);
    vais_alloc_clear_error();
}

static void free_list(void) {
    section("Free list: any size, any alignment, coalescing, O(1)");
    FreeListAllocator *fl = freelist_new(8192);
    Allocation a1 = freelist_alloc(fl, layout_new(100, 8));
    Allocation a2 = freelist_alloc(fl, layout_new(500, 8));
    Allocation a3 = freelist_alloc(fl, layout_new(200, 256));
    printf("100, 500 and 200 (align 256) bytes: usable %lld/%lld/%lld, third ptr %% 256 = %lld\n",
           (long long)a1.size, (long long)a2.size, (long long)a3.size, (long long)(a3.ptr % 256));
    printf("in use %lld bytes (headers included), largest free block %lld\n",
           (long long)freelist_total_allocated(fl), (long long)freelist_largest_free_block(fl));
    freelist_dealloc(fl, a1.ptr);
    printf("freeing the first block twice: %s\n", vais_alloc_error_message(freelist_dealloc(fl, a1.ptr)));
    freelist_dealloc(fl, a2.ptr);
    Allocation a4 = freelist_alloc(fl, layout_new(300, 8));
    printf("freed the first two; 300 bytes reuse their merged space: %s\n",
           a4.ptr == a1.ptr ? "yes" : "no");
    freelist_dealloc(fl, a3.ptr);
    freelist_dealloc(fl, a4.ptr);
    printf("all freed: remaining %lld of 8192, largest free block %lld\n",
           (long long)freelist_remaining(fl), (long long)freelist_largest_free_block(fl));
    freelist_free(fl);
    vais_alloc_clear_error();
}

static void stack(void) {
    section("Stack: LIFO, each pop restores the previous state exactly");
    StackAllocator *s = stack_new(2048);
    printf("remaining: %lld", (long long)stack_remaining(s));
    stack_alloc(s, layout_for_i64());
    printf(" -> %lld", (long long)stack_remaining(s));
    stack_alloc(s, layout_for_i32());
    printf(" -> %lld", (long long)stack_remaining(s));
    stack_alloc(s, layout_for_ptr());
    printf(" -> %lld\n", (long long)stack_remaining(s));
    printf("popping:  ");
    while (stack_pop(s) == 0) printf(" %lld", (long long)stack_remaining(s));
    printf("\none pop too many: %s\n", vais_alloc_error_message(vais_alloc_last_error()));
    stack_free(s);
    vais_alloc_clear_error();
}

static void errors(void) {
    section("Error model");
    PoolAllocator *p = pool_new(32, 4);
    Allocation wrong = bump_alloc((BumpAllocator *)(void *)p, layout_for_i64());
    printf("a pool handle passed to bump_alloc: ptr %lld, error %lld (%s)\n", (long long)wrong.ptr,
           (long long)vais_alloc_last_error(), vais_alloc_error_message(vais_alloc_last_error()));
    printf("NULL handle: bump_remaining(NULL) = %lld\n", (long long)bump_remaining(NULL));
    printf("last error stays set until cleared: %lld", (long long)vais_alloc_last_error());
    vais_alloc_clear_error();
    printf(" -> %lld after vais_alloc_clear_error()\n", (long long)vais_alloc_last_error());
    pool_free(p);
}

int main(void) {
    printf("libvais_alloc %s\n", vais_alloc_version());
    layouts();
    global();
    bump();
    pool();
    free_list();
    stack();
    errors();
    return 0;
}
