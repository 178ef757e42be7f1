/*
 * Error details and the misuse handler: every refusal of every function
 * leaves a sentence that starts with the function's name and names the
 * cause with its values (vais_alloc_last_error_detail), and every refusal
 * that signals a caller bug reaches the misuse handler, with the code,
 * the function and the pointer.
 */
#include <stdlib.h>

#include "harness.h"
#include "vais_alloc.h"

static int detail_ok(int64_t code, const char *function, const char *needle, const char *expr,
                     const char *file, int line) {
    int64_t got = vais_alloc_last_error();
    const char *detail = vais_alloc_last_error_detail();
    size_t n = strlen(function);
    if (got != code || strncmp(detail, function, n) != 0 || strncmp(detail + n, ": ", 2) != 0 ||
        strstr(detail, needle) == NULL) {
        fprintf(stderr, "  %s:%d: %s: code %" PRId64 " (want %" PRId64 "), detail \"%s\" (want \"%s: ...%s...\")\n",
                file, line, expr, got, code, detail, function, needle);
        harness_current_failed = 1;
        return 0;
    }
    return 1;
}

/* Runs `expr` (any return type), then checks the thread's last error is
 * `code` and its detail starts with "function: " and contains `needle`. */
#define CHECK_REFUSAL(expr, code, function, needle)                         \
    do {                                                                  \
        vais_alloc_clear_error();                                         \
        (void)(expr);                                                     \
        detail_ok(code, function, needle, #expr, __FILE__, __LINE__);    \
    } while (0)

#define NULL_H VAIS_ALLOC_E_NULL_HANDLE
#define WRONG VAIS_ALLOC_E_INVALID_ARGUMENT
#define IS_NULL "the handle is NULL"

static const Layout BAD_ALIGN = {8, 3};
static const Layout NEGATIVE = {-1, 8};
static const Layout OVERFLOW = {INT64_MAX, 16};

TEST(detail_is_empty_before_a_failure_and_after_clear) {
    vais_alloc_clear_error();
    CHECK_EQ(strlen(vais_alloc_last_error_detail()), 0);
    CHECK_EQ(pool_alloc(NULL), 0);
    CHECK(strlen(vais_alloc_last_error_detail()) > 0);
    vais_alloc_clear_error();
    CHECK_EQ(strlen(vais_alloc_last_error_detail()), 0);
    /* Success leaves the detail alone, as it leaves the code. */
    CHECK_EQ(pool_alloc(NULL), 0);
    PoolAllocator *pool = pool_new(16, 1);
    CHECK_NE(pool_alloc(pool), 0);
    CHECK(strstr(vais_alloc_last_error_detail(), "pool_alloc: the handle is NULL") != NULL);
    pool_reset(pool);
    pool_free(pool);
}

/* Every function that takes a handle: NULL, and a handle of another
 * family (the detail says which). */
TEST(detail_null_and_wrong_family_handles_for_every_function) {
    BumpAllocator *bump = bump_new(64);
    PoolAllocator *pool = pool_new(16, 4);
    FreeListAllocator *list = freelist_new(256);
    StackAllocator *stack = stack_new(256);
    VaisAllocator up = global_as_allocator();
    Layout l = layout_new(8, 8);
#define NOT_A(kind) "the handle is a pool's, not " kind
    BumpAllocator *pb = (BumpAllocator *)pool;
    CHECK_REFUSAL(bump_alloc(NULL, l), NULL_H, "bump_alloc", IS_NULL);
    CHECK_REFUSAL(bump_alloc(pb, l), WRONG, "bump_alloc", NOT_A("a bump arena's"));
    CHECK_REFUSAL(bump_alloc_zeroed(NULL, l), NULL_H, "bump_alloc_zeroed", IS_NULL);
    CHECK_REFUSAL(bump_alloc_zeroed(pb, l), WRONG, "bump_alloc_zeroed", NOT_A("a bump arena's"));
    CHECK_REFUSAL(bump_reset(NULL), NULL_H, "bump_reset", IS_NULL);
    CHECK_REFUSAL(bump_reset(pb), WRONG, "bump_reset", NOT_A("a bump arena's"));
    CHECK_REFUSAL(bump_remaining(NULL), NULL_H, "bump_remaining", IS_NULL);
    CHECK_REFUSAL(bump_remaining(pb), WRONG, "bump_remaining", NOT_A("a bump arena's"));
    CHECK_REFUSAL(bump_total_allocated(NULL), NULL_H, "bump_total_allocated", IS_NULL);
    CHECK_REFUSAL(bump_total_allocated(pb), WRONG, "bump_total_allocated", NOT_A("a bump arena's"));
    CHECK_REFUSAL(bump_capacity(NULL), NULL_H, "bump_capacity", IS_NULL);
    CHECK_REFUSAL(bump_capacity(pb), WRONG, "bump_capacity", NOT_A("a bump arena's"));
    CHECK_REFUSAL(bump_owns(NULL, 8), NULL_H, "bump_owns", IS_NULL);
    CHECK_REFUSAL(bump_owns(pb, 8), WRONG, "bump_owns", NOT_A("a bump arena's"));
    CHECK_REFUSAL(bump_drop(NULL), NULL_H, "bump_drop", IS_NULL);
    CHECK_REFUSAL(bump_drop(pb), WRONG, "bump_drop", NOT_A("a bump arena's"));
    CHECK_REFUSAL(bump_free(pb), WRONG, "bump_free", NOT_A("a bump arena's"));
    CHECK_REFUSAL(bump_set_upstream(NULL, up, 0), NULL_H, "bump_set_upstream", IS_NULL);
    CHECK_REFUSAL(bump_set_upstream(pb, up, 0), WRONG, "bump_set_upstream", NOT_A("a bump arena's"));
    CHECK_REFUSAL(bump_set_limit(NULL, -1), NULL_H, "bump_set_limit", IS_NULL);
    CHECK_REFUSAL(bump_set_limit(pb, -1), WRONG, "bump_set_limit", NOT_A("a bump arena's"));
    CHECK_REFUSAL(bump_mark(NULL), NULL_H, "bump_mark", IS_NULL);
    CHECK_REFUSAL(bump_mark(pb), WRONG, "bump_mark", NOT_A("a bump arena's"));
    CHECK_REFUSAL(bump_release_to(NULL, 0), NULL_H, "bump_release_to", IS_NULL);
    CHECK_REFUSAL(bump_release_to(pb, 0), WRONG, "bump_release_to", NOT_A("a bump arena's"));
    CHECK_REFUSAL(bump_peak(NULL), NULL_H, "bump_peak", IS_NULL);
    CHECK_REFUSAL(bump_peak(pb), WRONG, "bump_peak", NOT_A("a bump arena's"));
    CHECK_REFUSAL(bump_as_allocator(NULL), NULL_H, "bump_as_allocator", IS_NULL);
    CHECK_REFUSAL(bump_as_allocator(pb), WRONG, "bump_as_allocator", NOT_A("a bump arena's"));
#undef NOT_A
#define NOT_A(kind) "the handle is a bump arena's, not " kind
    PoolAllocator *bp = (PoolAllocator *)bump;
    CHECK_REFUSAL(pool_alloc(NULL), NULL_H, "pool_alloc", IS_NULL);
    CHECK_REFUSAL(pool_alloc(bp), WRONG, "pool_alloc", NOT_A("a pool's"));
    CHECK_REFUSAL(pool_dealloc(NULL, 8), NULL_H, "pool_dealloc", IS_NULL);
    CHECK_REFUSAL(pool_dealloc(bp, 8), WRONG, "pool_dealloc", NOT_A("a pool's"));
    CHECK_REFUSAL(pool_num_free_blocks(NULL), NULL_H, "pool_num_free_blocks", IS_NULL);
    CHECK_REFUSAL(pool_num_free_blocks(bp), WRONG, "pool_num_free_blocks", NOT_A("a pool's"));
    CHECK_REFUSAL(pool_num_allocated(NULL), NULL_H, "pool_num_allocated", IS_NULL);
    CHECK_REFUSAL(pool_num_allocated(bp), WRONG, "pool_num_allocated", NOT_A("a pool's"));
    CHECK_REFUSAL(pool_block_size(NULL), NULL_H, "pool_block_size", IS_NULL);
    CHECK_REFUSAL(pool_block_size(bp), WRONG, "pool_block_size", NOT_A("a pool's"));
    CHECK_REFUSAL(pool_owns(NULL, 8), NULL_H, "pool_owns", IS_NULL);
    CHECK_REFUSAL(pool_owns(bp, 8), WRONG, "pool_owns", NOT_A("a pool's"));
    CHECK_REFUSAL(pool_reset(NULL), NULL_H, "pool_reset", IS_NULL);
    CHECK_REFUSAL(pool_reset(bp), WRONG, "pool_reset", NOT_A("a pool's"));
    CHECK_REFUSAL(pool_drop(NULL), NULL_H, "pool_drop", IS_NULL);
    CHECK_REFUSAL(pool_drop(bp), WRONG, "pool_drop", NOT_A("a pool's"));
    CHECK_REFUSAL(pool_free(bp), WRONG, "pool_free", NOT_A("a pool's"));
    CHECK_REFUSAL(pool_set_upstream(NULL, up, 0), NULL_H, "pool_set_upstream", IS_NULL);
    CHECK_REFUSAL(pool_set_upstream(bp, up, 0), WRONG, "pool_set_upstream", NOT_A("a pool's"));
    CHECK_REFUSAL(pool_set_limit(NULL, -1), NULL_H, "pool_set_limit", IS_NULL);
    CHECK_REFUSAL(pool_set_limit(bp, -1), WRONG, "pool_set_limit", NOT_A("a pool's"));
    CHECK_REFUSAL(pool_capacity(NULL), NULL_H, "pool_capacity", IS_NULL);
    CHECK_REFUSAL(pool_capacity(bp), WRONG, "pool_capacity", NOT_A("a pool's"));
    CHECK_REFUSAL(pool_as_allocator(NULL), NULL_H, "pool_as_allocator", IS_NULL);
    CHECK_REFUSAL(pool_as_allocator(bp), WRONG, "pool_as_allocator", NOT_A("a pool's"));
    FreeListAllocator *bl = (FreeListAllocator *)bump;
    CHECK_REFUSAL(freelist_alloc(NULL, l), NULL_H, "freelist_alloc", IS_NULL);
    CHECK_REFUSAL(freelist_alloc(bl, l), WRONG, "freelist_alloc", NOT_A("a free list's"));
    CHECK_REFUSAL(freelist_realloc(NULL, 0, l), NULL_H, "freelist_realloc", IS_NULL);
    CHECK_REFUSAL(freelist_realloc(bl, 0, l), WRONG, "freelist_realloc", NOT_A("a free list's"));
    CHECK_REFUSAL(freelist_dealloc(NULL, 8), NULL_H, "freelist_dealloc", IS_NULL);
    CHECK_REFUSAL(freelist_dealloc(bl, 8), WRONG, "freelist_dealloc", NOT_A("a free list's"));
    CHECK_REFUSAL(freelist_total_allocated(NULL), NULL_H, "freelist_total_allocated", IS_NULL);
    CHECK_REFUSAL(freelist_total_allocated(bl), WRONG, "freelist_total_allocated", NOT_A("a free list's"));
    CHECK_REFUSAL(freelist_remaining(NULL), NULL_H, "freelist_remaining", IS_NULL);
    CHECK_REFUSAL(freelist_remaining(bl), WRONG, "freelist_remaining", NOT_A("a free list's"));
    CHECK_REFUSAL(freelist_largest_free_block(NULL), NULL_H, "freelist_largest_free_block", IS_NULL);
    CHECK_REFUSAL(freelist_largest_free_block(bl), WRONG, "freelist_largest_free_block", NOT_A("a free list's"));
    CHECK_REFUSAL(freelist_reset(NULL), NULL_H, "freelist_reset", IS_NULL);
    CHECK_REFUSAL(freelist_reset(bl), WRONG, "freelist_reset", NOT_A("a free list's"));
    CHECK_REFUSAL(freelist_drop(NULL), NULL_H, "freelist_drop", IS_NULL);
    CHECK_REFUSAL(freelist_drop(bl), WRONG, "freelist_drop", NOT_A("a free list's"));
    CHECK_REFUSAL(freelist_free(bl), WRONG, "freelist_free", NOT_A("a free list's"));
    CHECK_REFUSAL(freelist_set_upstream(NULL, up, 0), NULL_H, "freelist_set_upstream", IS_NULL);
    CHECK_REFUSAL(freelist_set_upstream(bl, up, 0), WRONG, "freelist_set_upstream", NOT_A("a free list's"));
    CHECK_REFUSAL(freelist_add_region(NULL, 64, 64), NULL_H, "freelist_add_region", IS_NULL);
    CHECK_REFUSAL(freelist_add_region(bl, 64, 64), WRONG, "freelist_add_region", NOT_A("a free list's"));
    CHECK_REFUSAL(freelist_set_limit(NULL, -1), NULL_H, "freelist_set_limit", IS_NULL);
    CHECK_REFUSAL(freelist_set_limit(bl, -1), WRONG, "freelist_set_limit", NOT_A("a free list's"));
    CHECK_REFUSAL(freelist_capacity(NULL), NULL_H, "freelist_capacity", IS_NULL);
    CHECK_REFUSAL(freelist_capacity(bl), WRONG, "freelist_capacity", NOT_A("a free list's"));
    CHECK_REFUSAL(freelist_set_cache(NULL, 1), NULL_H, "freelist_set_cache", IS_NULL);
    CHECK_REFUSAL(freelist_set_cache(bl, 1), WRONG, "freelist_set_cache", NOT_A("a free list's"));
    CHECK_REFUSAL(freelist_walk(NULL, NULL, NULL), NULL_H, "freelist_walk", IS_NULL);
    CHECK_REFUSAL(freelist_walk(bl, NULL, NULL), WRONG, "freelist_walk", NOT_A("a free list's"));
    CHECK_REFUSAL(freelist_walk(list, NULL, NULL), WRONG, "freelist_walk", "visit is NULL");
    CHECK_REFUSAL(freelist_as_allocator(NULL), NULL_H, "freelist_as_allocator", IS_NULL);
    CHECK_REFUSAL(freelist_as_allocator(bl), WRONG, "freelist_as_allocator", NOT_A("a free list's"));
    StackAllocator *bs = (StackAllocator *)bump;
    CHECK_REFUSAL(stack_alloc(NULL, l), NULL_H, "stack_alloc", IS_NULL);
    CHECK_REFUSAL(stack_alloc(bs, l), WRONG, "stack_alloc", NOT_A("a stack's"));
    CHECK_REFUSAL(stack_pop(NULL), NULL_H, "stack_pop", IS_NULL);
    CHECK_REFUSAL(stack_pop(bs), WRONG, "stack_pop", NOT_A("a stack's"));
    CHECK_REFUSAL(stack_reset(NULL), NULL_H, "stack_reset", IS_NULL);
    CHECK_REFUSAL(stack_reset(bs), WRONG, "stack_reset", NOT_A("a stack's"));
    CHECK_REFUSAL(stack_remaining(NULL), NULL_H, "stack_remaining", IS_NULL);
    CHECK_REFUSAL(stack_remaining(bs), WRONG, "stack_remaining", NOT_A("a stack's"));
    CHECK_REFUSAL(stack_depth(NULL), NULL_H, "stack_depth", IS_NULL);
    CHECK_REFUSAL(stack_depth(bs), WRONG, "stack_depth", NOT_A("a stack's"));
    CHECK_REFUSAL(stack_drop(NULL), NULL_H, "stack_drop", IS_NULL);
    CHECK_REFUSAL(stack_drop(bs), WRONG, "stack_drop", NOT_A("a stack's"));
    CHECK_REFUSAL(stack_free(bs), WRONG, "stack_free", NOT_A("a stack's"));
    CHECK_REFUSAL(stack_mark(NULL), NULL_H, "stack_mark", IS_NULL);
    CHECK_REFUSAL(stack_mark(bs), WRONG, "stack_mark", NOT_A("a stack's"));
    CHECK_REFUSAL(stack_release_to(NULL, 0), NULL_H, "stack_release_to", IS_NULL);
    CHECK_REFUSAL(stack_release_to(bs, 0), WRONG, "stack_release_to", NOT_A("a stack's"));
    CHECK_REFUSAL(stack_peak(NULL), NULL_H, "stack_peak", IS_NULL);
    CHECK_REFUSAL(stack_peak(bs), WRONG, "stack_peak", NOT_A("a stack's"));
    CHECK_REFUSAL(stack_set_upstream(NULL, up, 0), NULL_H, "stack_set_upstream", IS_NULL);
    CHECK_REFUSAL(stack_set_upstream(bs, up, 0), WRONG, "stack_set_upstream", NOT_A("a stack's"));
    CHECK_REFUSAL(stack_set_limit(NULL, -1), NULL_H, "stack_set_limit", IS_NULL);
    CHECK_REFUSAL(stack_set_limit(bs, -1), WRONG, "stack_set_limit", NOT_A("a stack's"));
    CHECK_REFUSAL(stack_capacity(NULL), NULL_H, "stack_capacity", IS_NULL);
    CHECK_REFUSAL(stack_capacity(bs), WRONG, "stack_capacity", NOT_A("a stack's"));
    CHECK_REFUSAL(stack_as_allocator(NULL), NULL_H, "stack_as_allocator", IS_NULL);
    CHECK_REFUSAL(stack_as_allocator(bs), WRONG, "stack_as_allocator", NOT_A("a stack's"));
#undef NOT_A
    bump_free(bump);
    pool_free(pool);
    freelist_free(list);
    stack_free(stack);
}

/* Every function that takes a layout, with each kind of invalid layout. */
TEST(detail_invalid_layouts_name_the_cause_and_the_values) {
    BumpAllocator *bump = bump_new(256);
    FreeListAllocator *list = freelist_new(1024);
    StackAllocator *stack = stack_new(256);
    VaisAllocator a = freelist_as_allocator(list);
    Allocation live = freelist_alloc(list, layout_new(16, 8));
    const Layout bad[3] = {BAD_ALIGN, NEGATIVE, OVERFLOW};
    const char *why[3] = {"align 3 is not a power of two", "size -1 is negative",
                          "rounded up to align 16 overflows int64_t"};
    for (int i = 0; i < 3; i++) {
        Layout b = bad[i];
        CHECK_REFUSAL(bump_alloc(bump, b), VAIS_ALLOC_E_INVALID_LAYOUT, "bump_alloc", why[i]);
        CHECK_REFUSAL(bump_alloc_zeroed(bump, b), VAIS_ALLOC_E_INVALID_LAYOUT, "bump_alloc_zeroed", why[i]);
        CHECK_REFUSAL(freelist_alloc(list, b), VAIS_ALLOC_E_INVALID_LAYOUT, "freelist_alloc", why[i]);
        CHECK_REFUSAL(freelist_realloc(list, live.ptr, b), VAIS_ALLOC_E_INVALID_LAYOUT,
                      "freelist_realloc", why[i]);
        CHECK_REFUSAL(stack_alloc(stack, b), VAIS_ALLOC_E_INVALID_LAYOUT, "stack_alloc", why[i]);
        CHECK_REFUSAL(global_alloc(b), VAIS_ALLOC_E_INVALID_LAYOUT, "global_alloc", why[i]);
        CHECK_REFUSAL(global_alloc_zeroed(b), VAIS_ALLOC_E_INVALID_LAYOUT, "global_alloc_zeroed", why[i]);
        CHECK_REFUSAL(global_realloc(0, layout_new(8, 8), b), VAIS_ALLOC_E_INVALID_LAYOUT,
                      "global_realloc", why[i]);
        Allocation g = global_alloc(layout_new(8, 8));
        CHECK_REFUSAL(global_dealloc(g.ptr, b), VAIS_ALLOC_E_INVALID_LAYOUT, "global_dealloc", why[i]);
        global_dealloc(g.ptr, layout_new(8, 8)); /* refused above: still live */
        CHECK_REFUSAL(allocator_alloc(a, b), VAIS_ALLOC_E_INVALID_LAYOUT, "allocator_alloc", why[i]);
        CHECK_REFUSAL(allocator_alloc_zeroed(a, b), VAIS_ALLOC_E_INVALID_LAYOUT,
                      "allocator_alloc_zeroed", why[i]);
        CHECK_REFUSAL(allocator_realloc(a, live.ptr, layout_new(16, 8), b), VAIS_ALLOC_E_INVALID_LAYOUT,
                      "allocator_realloc", why[i]);
        CHECK_REFUSAL(allocator_resize(a, live.ptr, b, 8), VAIS_ALLOC_E_INVALID_LAYOUT,
                      "allocator_resize", why[i]);
        CHECK_REFUSAL(allocator_free(a, live.ptr, b), VAIS_ALLOC_E_INVALID_LAYOUT, "allocator_free", why[i]);
    }
    /* The values are in the sentence. */
    CHECK_REFUSAL(bump_alloc(bump, BAD_ALIGN), VAIS_ALLOC_E_INVALID_LAYOUT, "bump_alloc",
                  "layout {size 8, align 3}: align 3 is not a power of two");
    CHECK_REFUSAL(layout_array(8, 8, -1), VAIS_ALLOC_E_INVALID_LAYOUT, "layout_array", "");
    CHECK_REFUSAL(layout_array(8, 3, 2), VAIS_ALLOC_E_INVALID_LAYOUT, "layout_array", "align 3");
    CHECK_REFUSAL(layout_extend(layout_new(8, 8), BAD_ALIGN), VAIS_ALLOC_E_INVALID_LAYOUT,
                  "layout_extend", "align 3");
    CHECK_EQ(freelist_dealloc(list, live.ptr), 0);
    bump_free(bump);
    freelist_free(list);
    stack_free(stack);
}

TEST(detail_bad_arguments_name_the_argument_and_its_value) {
    CHECK_REFUSAL(bump_new(-5), WRONG, "bump_new", "-5 is negative");
    CHECK_REFUSAL(bump_from_buffer(0, 64), WRONG, "bump_from_buffer", "the buffer address is NULL");
    CHECK_REFUSAL(bump_from_buffer(4096, -1), WRONG, "bump_from_buffer", "-1 is negative");
    CHECK_REFUSAL(pool_new(0, 10), WRONG, "pool_new", "block_size 0 is not positive");
    CHECK_REFUSAL(pool_new(16, -3), WRONG, "pool_new", "num_blocks -3 is not positive");
    CHECK_REFUSAL(freelist_new(-1), WRONG, "freelist_new", "-1 is negative");
    CHECK_REFUSAL(freelist_new(8), WRONG, "freelist_new", "capacity 8 is not between 32 (one block)");
    CHECK_REFUSAL(stack_new(-7), WRONG, "stack_new", "-7 is negative");

    FreeListAllocator *list = freelist_new(1024);
    PoolAllocator *pool = pool_new(16, 4);
    StackAllocator *stack = stack_new(256);
    CHECK_REFUSAL(freelist_set_cache(list, 5), WRONG, "freelist_set_cache", "on is 5: 0 (off) or 1 (on)");
    CHECK_REFUSAL(freelist_set_limit(list, -2), WRONG, "freelist_set_limit", "-2 is negative");
    CHECK_REFUSAL(freelist_set_limit(list, 100), WRONG, "freelist_set_limit",
                  "the limit 100 is below the");
    CHECK_REFUSAL(pool_set_upstream(pool, pool_as_allocator(pool), 0), WRONG, "pool_set_upstream",
                  "an allocator cannot be its own upstream");
    VaisAllocatorVtable partial = *global_as_allocator().vtable;
    partial.free = NULL;
    VaisAllocator no_free = {NULL, &partial};
    CHECK_REFUSAL(pool_set_upstream(pool, no_free, 0), WRONG, "pool_set_upstream", "no alloc or no free");
    VaisAllocatorVtable future = *global_as_allocator().vtable;
    future.version = 99;
    VaisAllocator unknown = {NULL, &future};
    CHECK_REFUSAL(allocator_alloc(unknown, layout_new(8, 8)), WRONG, "allocator_alloc",
                  "vtable version 99 is not one this library knows");
    VaisAllocator none = {NULL, NULL};
    CHECK_REFUSAL(allocator_alloc(none, layout_new(8, 8)), NULL_H, "allocator_alloc", "vtable is NULL");
    CHECK_REFUSAL(allocator_alloc_zeroed(none, layout_new(8, 8)), NULL_H, "allocator_alloc_zeroed", "vtable is NULL");
    CHECK_REFUSAL(allocator_resize(none, 8, layout_new(8, 8), 16), NULL_H, "allocator_resize", "vtable is NULL");
    CHECK_REFUSAL(allocator_realloc(none, 8, layout_new(8, 8), layout_new(16, 8)), NULL_H,
                  "allocator_realloc", "vtable is NULL");
    CHECK_REFUSAL(allocator_free(none, 8, layout_new(8, 8)), NULL_H, "allocator_free", "vtable is NULL");
    CHECK_REFUSAL(allocator_reset(none), NULL_H, "allocator_reset", "vtable is NULL");
    CHECK_REFUSAL(allocator_caps(none), NULL_H, "allocator_caps", "vtable is NULL");
    VaisAllocStats stats;
    CHECK_REFUSAL(allocator_stats(none, &stats), NULL_H, "allocator_stats", "vtable is NULL");
    CHECK_REFUSAL(allocator_stats(pool_as_allocator(pool), NULL), WRONG, "allocator_stats", "out is NULL");
    CHECK_REFUSAL(allocator_stats(unknown, &stats), VAIS_ALLOC_E_UNSUPPORTED, "allocator_stats",
                  "a caller's allocator");
    CHECK_REFUSAL(allocator_check(none), NULL_H, "allocator_check", "vtable is NULL");
    CHECK_NE(stack_alloc(stack, layout_new(8, 8)).ptr, 0);
    CHECK_REFUSAL(stack_set_upstream(stack, global_as_allocator(), 0), WRONG, "stack_set_upstream",
                  "the stack must be empty");
    unsigned char *memory = malloc(4096);
    CHECK_EQ(freelist_add_region(list, (int64_t)(intptr_t)memory, 2048), 0);
    CHECK_REFUSAL(freelist_add_region(list, (int64_t)(intptr_t)memory + 1024, 2048), WRONG,
                  "freelist_add_region", "overlaps memory this free list holds");
    freelist_free(list);
    free(memory);
    pool_free(pool);
    stack_free(stack);
}

TEST(detail_pointer_refusals_say_where_the_pointer_lies) {
    PoolAllocator *pool = pool_new(64, 4);
    int64_t a = pool_alloc(pool), b = pool_alloc(pool);
    CHECK_REFUSAL(pool_dealloc(pool, a + 24), VAIS_ALLOC_E_FOREIGN_POINTER, "pool_dealloc",
                  "is 24 bytes into the block at 0x");
    CHECK_REFUSAL(pool_dealloc(pool, 4096), VAIS_ALLOC_E_FOREIGN_POINTER, "pool_dealloc",
                  "0x1000 is outside this pool's memory");
    CHECK_EQ(pool_dealloc(pool, a), 0);
    CHECK_REFUSAL(pool_dealloc(pool, a), VAIS_ALLOC_E_DOUBLE_FREE, "pool_dealloc", "is already free");
    CHECK_REFUSAL(allocator_alloc(pool_as_allocator(pool), layout_new(100, 8)), VAIS_ALLOC_E_UNSUPPORTED,
                  "allocator_alloc", "the pool's blocks are 64 bytes aligned to 16: {size 100, align 8}");
    CHECK_EQ(pool_dealloc(pool, b), 0);
    pool_free(pool);

    FreeListAllocator *list = freelist_new(4096);
    CHECK_EQ(freelist_set_cache(list, 0), 0);
    Allocation x = freelist_alloc(list, layout_new(100, 8));
    Allocation y = freelist_alloc(list, layout_new(100, 8));
    Allocation z = freelist_alloc(list, layout_new(100, 8));
    CHECK_REFUSAL(freelist_dealloc(list, y.ptr + 40), VAIS_ALLOC_E_FOREIGN_POINTER, "freelist_dealloc",
                  "is 40 bytes into the block at 0x");
    CHECK_REFUSAL(freelist_dealloc(list, 4096), VAIS_ALLOC_E_FOREIGN_POINTER, "freelist_dealloc",
                  "outside this free list's memory");
    /* x and y freed: they merge; freeing y again is the merged double
     * free the detail names. */
    CHECK_EQ(freelist_dealloc(list, x.ptr), 0);
    CHECK_EQ(freelist_dealloc(list, y.ptr), 0);
    CHECK_REFUSAL(freelist_dealloc(list, y.ptr), VAIS_ALLOC_E_FOREIGN_POINTER, "freelist_dealloc",
                  "lies inside the free block at 0x");
    CHECK(strstr(vais_alloc_last_error_detail(), "freed already and merged with a neighbour") != NULL);
    CHECK_REFUSAL(freelist_realloc(list, y.ptr, layout_new(50, 8)), VAIS_ALLOC_E_FOREIGN_POINTER,
                  "freelist_realloc", "was not handed out by this allocator");
    CHECK_EQ(freelist_dealloc(list, z.ptr), 0);
    /* With the cache on, a second free of a cached block. */
    CHECK_EQ(freelist_set_cache(list, 1), 0);
    Allocation w = freelist_alloc(list, layout_new(24, 8));
    CHECK_EQ(freelist_dealloc(list, w.ptr), 0);
    CHECK_REFUSAL(freelist_dealloc(list, w.ptr), VAIS_ALLOC_E_DOUBLE_FREE, "freelist_dealloc", "already free");
    freelist_free(list);

    BumpAllocator *bump = bump_new(256);
    CHECK_REFUSAL(allocator_free(bump_as_allocator(bump), 8, layout_new(8, 8)), VAIS_ALLOC_E_FOREIGN_POINTER,
                  "allocator_free", "0x8 was not handed out by this allocator");
    CHECK_REFUSAL(allocator_resize(bump_as_allocator(bump), 8, layout_new(8, 8), 16),
                  VAIS_ALLOC_E_FOREIGN_POINTER, "allocator_resize", "0x8 was not handed out");
    CHECK_REFUSAL(allocator_realloc(bump_as_allocator(bump), 8, layout_new(8, 8), layout_new(16, 8)),
                  VAIS_ALLOC_E_FOREIGN_POINTER, "allocator_realloc", "0x8 was not handed out");
    CHECK_REFUSAL(allocator_reset(global_as_allocator()), VAIS_ALLOC_E_UNSUPPORTED, "allocator_reset",
                  "never does this");
    bump_free(bump);
}

TEST(detail_stack_marks_and_exhaustion) {
    StackAllocator *stack = stack_new(256);
    CHECK_REFUSAL(stack_pop(stack), VAIS_ALLOC_E_EMPTY, "stack_pop", "the stack is empty");
    CHECK_REFUSAL(stack_release_to(stack, 12345), VAIS_ALLOC_E_STALE_MARK, "stack_release_to",
                  "mark 12345 is not a live checkpoint");
    CHECK_REFUSAL(stack_alloc(stack, layout_new(1000, 8)), VAIS_ALLOC_E_EXHAUSTED, "stack_alloc",
                  "no room for {size 1000, align 8}");
    BumpAllocator *bump = bump_new(64);
    CHECK_REFUSAL(bump_release_to(bump, -4), VAIS_ALLOC_E_STALE_MARK, "bump_release_to", "mark -4");
    CHECK_REFUSAL(bump_alloc(bump, layout_new(100, 8)), VAIS_ALLOC_E_EXHAUSTED, "bump_alloc",
                  "no room for {size 100, align 8}");
    PoolAllocator *pool = pool_new(16, 1);
    CHECK_NE(pool_alloc(pool), 0);
    CHECK_REFUSAL(pool_alloc(pool), VAIS_ALLOC_E_EXHAUSTED, "pool_alloc", "no room");
    CHECK_REFUSAL(global_alloc(layout_new(INT64_MAX / 2, 8)), VAIS_ALLOC_E_OUT_OF_MEMORY, "global_alloc",
                  "refused memory for {size");
    pool_reset(pool);
    pool_free(pool);
    bump_free(bump);
    stack_free(stack);
}

/* ---- the misuse handler --------------------------------------------------- */

typedef struct {
    int calls;
    int64_t code;
    char function[64];
    int64_t ptr;
    char detail[256];
} Seen;

static void count_misuse(int64_t code, const char *function, int64_t ptr, void *ctx) {
    Seen *seen = ctx;
    seen->calls++;
    seen->code = code;
    snprintf(seen->function, sizeof seen->function, "%s", function);
    seen->ptr = ptr;
    snprintf(seen->detail, sizeof seen->detail, "%s", vais_alloc_last_error_detail());
}

TEST(misuse_handler_sees_every_caller_bug_and_nothing_else) {
    Seen seen = {0};
    vais_alloc_set_misuse_handler(count_misuse, &seen);
    PoolAllocator *pool = pool_new(32, 1);
    int64_t a = pool_alloc(pool);
    CHECK_EQ(seen.calls, 0);
    /* Exhaustion and lack of memory are no misuse. */
    CHECK_EQ(pool_alloc(pool), 0);
    CHECK_EQ(global_alloc(layout_new(INT64_MAX / 2, 8)).ptr, 0);
    CHECK_EQ(allocator_reset(global_as_allocator()), VAIS_ALLOC_E_UNSUPPORTED);
    CHECK_EQ(seen.calls, 0);
    /* Each misuse reaches it once, with the code, function and pointer,
     * after the detail is recorded. */
    CHECK_EQ(pool_dealloc(pool, a + 8), VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_EQ(seen.calls, 1);
    CHECK_EQ(seen.code, VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK(strcmp(seen.function, "pool_dealloc") == 0);
    CHECK_EQ(seen.ptr, a + 8);
    CHECK(strstr(seen.detail, "8 bytes into the block") != NULL);
    CHECK_EQ(pool_dealloc(pool, a), 0);
    CHECK_EQ(pool_dealloc(pool, a), VAIS_ALLOC_E_DOUBLE_FREE);
    CHECK_EQ(seen.calls, 2);
    CHECK_EQ(seen.code, VAIS_ALLOC_E_DOUBLE_FREE);
    CHECK_EQ(bump_alloc(NULL, layout_new(8, 8)).ptr, 0);
    CHECK_EQ(seen.code, VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_EQ(global_alloc(layout_new(8, 3)).ptr, 0);
    CHECK_EQ(seen.code, VAIS_ALLOC_E_INVALID_LAYOUT);
    CHECK(strcmp(seen.function, "global_alloc") == 0);
    StackAllocator *stack = stack_new(64);
    CHECK_EQ(stack_pop(stack), VAIS_ALLOC_E_EMPTY);
    CHECK_EQ(seen.code, VAIS_ALLOC_E_EMPTY);
    CHECK_EQ(stack_release_to(stack, 77), VAIS_ALLOC_E_STALE_MARK);
    CHECK_EQ(seen.code, VAIS_ALLOC_E_STALE_MARK);
    CHECK_EQ(pool_new(-1, 1), NULL);
    CHECK_EQ(seen.code, VAIS_ALLOC_E_INVALID_ARGUMENT);
    /* Through the interface: one call per refusal, from the entry. */
    int before = seen.calls;
    CHECK_EQ(allocator_free(pool_as_allocator(pool), 16, layout_new(32, 8)), VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_EQ(seen.calls, before + 1);
    CHECK(strcmp(seen.function, "allocator_free") == 0);
    /* NULL restores the default (silent here: VAIS_ALLOC_MISUSE unset). */
    vais_alloc_set_misuse_handler(NULL, NULL);
    before = seen.calls;
    CHECK_EQ(pool_dealloc(pool, a), VAIS_ALLOC_E_DOUBLE_FREE);
    CHECK_EQ(seen.calls, before);
    pool_free(pool);
    stack_free(stack);
}
