/* Handles of every family: NULL, the wrong family, after drop; and
 * zero-size requests (rule 5 of API.md). */
#include "harness.h"
#include "vais_alloc.h"

#include <stdlib.h>

/* A refused call that returns a pointer: 0, and `code` recorded. */
#define CHECK_POINTER_FAILS(expr, code)                                   \
    do {                                                                  \
        int64_t pointer_ = 1;                                             \
        CHECK_ERROR(pointer_ = (expr), (code));                           \
        CHECK_EQ(pointer_, 0);                                            \
    } while (0)

/* `*_free(NULL)`: 0, and no error recorded. */
#define CHECK_FREE_NULL_IS_A_NO_OP(expr)                                  \
    do {                                                                  \
        int64_t status_ = 1;                                              \
        CHECK_ERROR(status_ = (expr), VAIS_ALLOC_OK);                     \
        CHECK_EQ(status_, 0);                                             \
    } while (0)

/* ---- every function of a family, given a handle it must refuse -------- */

/* `code` is NULL_HANDLE for NULL, INVALID_ARGUMENT for another family's
 * handle; `ptr` is some address the caller holds (for dealloc/owns). */
static void bump_functions_refuse(BumpAllocator *bump, int64_t code, int64_t ptr) {
    CHECK_ALLOC_FAILS(bump_alloc(bump, layout_new(8, 8)), code);
    CHECK_ALLOC_FAILS(bump_alloc(bump, layout_new(0, 1)), code);
    CHECK_ALLOC_FAILS(bump_alloc_zeroed(bump, layout_new(8, 8)), code);
    CHECK_STATUS_FAILS(bump_reset(bump), code);
    CHECK_STATUS_FAILS(bump_remaining(bump), code);
    CHECK_STATUS_FAILS(bump_total_allocated(bump), code);
    CHECK_STATUS_FAILS(bump_capacity(bump), code);
    CHECK_STATUS_FAILS(bump_owns(bump, ptr), code);
    CHECK_STATUS_FAILS(bump_drop(bump), code);
    if (bump == NULL)
        CHECK_FREE_NULL_IS_A_NO_OP(bump_free(bump));
    else
        CHECK_STATUS_FAILS(bump_free(bump), code);
}

static void pool_functions_refuse(PoolAllocator *pool, int64_t code, int64_t ptr) {
    CHECK_POINTER_FAILS(pool_alloc(pool), code);
    CHECK_STATUS_FAILS(pool_dealloc(pool, ptr), code);
    CHECK_STATUS_FAILS(pool_dealloc(pool, 0), code);
    CHECK_STATUS_FAILS(pool_num_free_blocks(pool), code);
    CHECK_STATUS_FAILS(pool_num_allocated(pool), code);
    CHECK_STATUS_FAILS(pool_block_size(pool), code);
    CHECK_STATUS_FAILS(pool_owns(pool, ptr), code);
    CHECK_STATUS_FAILS(pool_drop(pool), code);
    if (pool == NULL)
        CHECK_FREE_NULL_IS_A_NO_OP(pool_free(pool));
    else
        CHECK_STATUS_FAILS(pool_free(pool), code);
}

static void freelist_functions_refuse(FreeListAllocator *list, int64_t code, int64_t ptr) {
    CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(8, 8)), code);
    CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(0, 1)), code);
    CHECK_STATUS_FAILS(freelist_dealloc(list, ptr), code);
    CHECK_STATUS_FAILS(freelist_dealloc(list, 0), code);
    CHECK_STATUS_FAILS(freelist_total_allocated(list), code);
    CHECK_STATUS_FAILS(freelist_remaining(list), code);
    CHECK_STATUS_FAILS(freelist_largest_free_block(list), code);
    CHECK_STATUS_FAILS(freelist_drop(list), code);
    if (list == NULL)
        CHECK_FREE_NULL_IS_A_NO_OP(freelist_free(list));
    else
        CHECK_STATUS_FAILS(freelist_free(list), code);
}

static void stack_functions_refuse(StackAllocator *stack, int64_t code) {
    CHECK_ALLOC_FAILS(stack_alloc(stack, layout_new(8, 8)), code);
    CHECK_ALLOC_FAILS(stack_alloc(stack, layout_new(0, 1)), code);
    CHECK_STATUS_FAILS(stack_pop(stack), code);
    CHECK_STATUS_FAILS(stack_reset(stack), code);
    CHECK_STATUS_FAILS(stack_remaining(stack), code);
    CHECK_STATUS_FAILS(stack_depth(stack), code);
    CHECK_STATUS_FAILS(stack_drop(stack), code);
    if (stack == NULL)
        CHECK_FREE_NULL_IS_A_NO_OP(stack_free(stack));
    else
        CHECK_STATUS_FAILS(stack_free(stack), code);
}

/* ---- NULL handles -------------------------------------------------------- */

TEST(handles_null_bump_handle_is_refused) {
    int64_t local = 0;
    bump_functions_refuse(NULL, VAIS_ALLOC_E_NULL_HANDLE, (int64_t)(intptr_t)&local);
}

TEST(handles_null_pool_handle_is_refused) {
    int64_t local = 0;
    pool_functions_refuse(NULL, VAIS_ALLOC_E_NULL_HANDLE, (int64_t)(intptr_t)&local);
}

TEST(handles_null_freelist_handle_is_refused) {
    int64_t local = 0;
    freelist_functions_refuse(NULL, VAIS_ALLOC_E_NULL_HANDLE, (int64_t)(intptr_t)&local);
}

TEST(handles_null_stack_handle_is_refused) {
    stack_functions_refuse(NULL, VAIS_ALLOC_E_NULL_HANDLE);
}

/* ---- handles of the wrong family ----------------------------------------- */

/* One live allocator of each family, each holding allocations with known
 * bytes, and what each reports: a wrong-family call must change none of it. */
typedef struct {
    BumpAllocator *bump;
    PoolAllocator *pool;
    FreeListAllocator *list;
    StackAllocator *stack;
    Allocation bump_a, list_a, stack_a, stack_b;
    int64_t pool_a, pool_b;
    int64_t bump_remaining, bump_total, pool_free, pool_used, list_total, list_remaining,
        list_largest, stack_remaining, stack_depth;
} World;

static World world_new(void) {
    World w;
    w.bump = bump_new(4096);
    w.pool = pool_new(32, 8);
    w.list = freelist_new(4096);
    w.stack = stack_new(1024);
    CHECK(w.bump != NULL && w.pool != NULL && w.list != NULL && w.stack != NULL);
    w.bump_a = bump_alloc(w.bump, layout_new(100, 16));
    w.pool_a = pool_alloc(w.pool);
    w.pool_b = pool_alloc(w.pool);
    w.list_a = freelist_alloc(w.list, layout_new(200, 8));
    w.stack_a = stack_alloc(w.stack, layout_new(40, 8));
    w.stack_b = stack_alloc(w.stack, layout_new(24, 16));
    CHECK(w.bump_a.ptr != 0 && w.pool_a != 0 && w.pool_b != 0 && w.list_a.ptr != 0 &&
          w.stack_a.ptr != 0 && w.stack_b.ptr != 0);
    fill_pattern(w.bump_a.ptr, w.bump_a.size, 1);
    fill_pattern(w.pool_a, 32, 2);
    fill_pattern(w.pool_b, 32, 3);
    fill_pattern(w.list_a.ptr, w.list_a.size, 4);
    fill_pattern(w.stack_a.ptr, w.stack_a.size, 5);
    fill_pattern(w.stack_b.ptr, w.stack_b.size, 6);
    w.bump_remaining = bump_remaining(w.bump);
    w.bump_total = bump_total_allocated(w.bump);
    w.pool_free = pool_num_free_blocks(w.pool);
    w.pool_used = pool_num_allocated(w.pool);
    w.list_total = freelist_total_allocated(w.list);
    w.list_remaining = freelist_remaining(w.list);
    w.list_largest = freelist_largest_free_block(w.list);
    w.stack_remaining = stack_remaining(w.stack);
    w.stack_depth = stack_depth(w.stack);
    return w;
}

/* Everything is as world_new left it, every allocator still works, and
 * all four are released (Valgrind / ASan see any double release). */
static void world_check_and_free(World *w) {
    CHECK_EQ(bump_remaining(w->bump), w->bump_remaining);
    CHECK_EQ(bump_total_allocated(w->bump), w->bump_total);
    CHECK_EQ(bump_capacity(w->bump), 4096);
    CHECK_EQ(pool_num_free_blocks(w->pool), w->pool_free);
    CHECK_EQ(pool_num_allocated(w->pool), w->pool_used);
    CHECK_EQ(pool_block_size(w->pool), 32);
    CHECK_EQ(freelist_total_allocated(w->list), w->list_total);
    CHECK_EQ(freelist_remaining(w->list), w->list_remaining);
    CHECK_EQ(freelist_largest_free_block(w->list), w->list_largest);
    CHECK_EQ(stack_remaining(w->stack), w->stack_remaining);
    CHECK_EQ(stack_depth(w->stack), w->stack_depth);
    CHECK(pattern_intact(w->bump_a.ptr, w->bump_a.size, 1));
    CHECK(pattern_intact(w->pool_a, 32, 2));
    CHECK(pattern_intact(w->pool_b, 32, 3));
    CHECK(pattern_intact(w->list_a.ptr, w->list_a.size, 4));
    CHECK(pattern_intact(w->stack_a.ptr, w->stack_a.size, 5));
    CHECK(pattern_intact(w->stack_b.ptr, w->stack_b.size, 6));

    CHECK_EQ(bump_owns(w->bump, w->bump_a.ptr), 1);
    CHECK_EQ(pool_dealloc(w->pool, w->pool_b), 0);
    CHECK_EQ(pool_dealloc(w->pool, w->pool_a), 0);
    CHECK_EQ(pool_num_free_blocks(w->pool), 8);
    CHECK_EQ(freelist_dealloc(w->list, w->list_a.ptr), 0);
    CHECK_EQ(freelist_remaining(w->list), 4096);
    CHECK_EQ(stack_pop(w->stack), 0);
    CHECK_EQ(stack_pop(w->stack), 0);
    CHECK_EQ(stack_remaining(w->stack), 1024);

    CHECK_EQ(bump_free(w->bump), 0);
    CHECK_EQ(pool_free(w->pool), 0);
    CHECK_EQ(freelist_free(w->list), 0);
    CHECK_EQ(stack_free(w->stack), 0);
}

TEST(handles_bump_functions_refuse_other_families) {
    World w = world_new();
    bump_functions_refuse((BumpAllocator *)w.pool, VAIS_ALLOC_E_INVALID_ARGUMENT, w.pool_a);
    bump_functions_refuse((BumpAllocator *)w.list, VAIS_ALLOC_E_INVALID_ARGUMENT, w.list_a.ptr);
    bump_functions_refuse((BumpAllocator *)w.stack, VAIS_ALLOC_E_INVALID_ARGUMENT, w.stack_a.ptr);
    world_check_and_free(&w);
}

TEST(handles_pool_functions_refuse_other_families) {
    World w = world_new();
    pool_functions_refuse((PoolAllocator *)w.bump, VAIS_ALLOC_E_INVALID_ARGUMENT, w.bump_a.ptr);
    pool_functions_refuse((PoolAllocator *)w.list, VAIS_ALLOC_E_INVALID_ARGUMENT, w.list_a.ptr);
    pool_functions_refuse((PoolAllocator *)w.stack, VAIS_ALLOC_E_INVALID_ARGUMENT, w.stack_b.ptr);
    world_check_and_free(&w);
}

TEST(handles_freelist_functions_refuse_other_families) {
    World w = world_new();
    freelist_functions_refuse((FreeListAllocator *)w.bump, VAIS_ALLOC_E_INVALID_ARGUMENT, w.bump_a.ptr);
    freelist_functions_refuse((FreeListAllocator *)w.pool, VAIS_ALLOC_E_INVALID_ARGUMENT, w.pool_b);
    freelist_functions_refuse((FreeListAllocator *)w.stack, VAIS_ALLOC_E_INVALID_ARGUMENT, w.stack_a.ptr);
    world_check_and_free(&w);
}

TEST(handles_stack_functions_refuse_other_families) {
    World w = world_new();
    stack_functions_refuse((StackAllocator *)w.bump, VAIS_ALLOC_E_INVALID_ARGUMENT);
    stack_functions_refuse((StackAllocator *)w.pool, VAIS_ALLOC_E_INVALID_ARGUMENT);
    stack_functions_refuse((StackAllocator *)w.list, VAIS_ALLOC_E_INVALID_ARGUMENT);
    world_check_and_free(&w);
}

/* ---- *_drop leaves a valid, empty handle; *_free still works ------------ */

TEST(handles_bump_drop_leaves_an_empty_handle) {
    BumpAllocator *bump = bump_new(256);
    CHECK(bump != NULL);
    Allocation a = bump_alloc(bump, layout_new(16, 8));
    CHECK_NE(a.ptr, 0);
    CHECK_EQ(bump_drop(bump), 0);
    CHECK_EQ(bump_capacity(bump), 0);
    CHECK_EQ(bump_remaining(bump), 0);
    CHECK_EQ(bump_total_allocated(bump), 0);
    CHECK_EQ(bump_owns(bump, a.ptr), 0);
    CHECK_ALLOC_FAILS(bump_alloc(bump, layout_new(1, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(bump_alloc(bump, layout_new(0, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(bump_alloc_zeroed(bump, layout_new(8, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(bump_alloc(bump, layout_new(8, 3)), VAIS_ALLOC_E_INVALID_LAYOUT);
    CHECK_EQ(bump_reset(bump), 0);
    CHECK_EQ(bump_remaining(bump), 0);
    CHECK_EQ(bump_drop(bump), 0); /* a second drop is harmless */
    CHECK_EQ(bump_free(bump), 0);
}

TEST(handles_bump_drop_of_a_borrowed_buffer_leaves_it_to_its_owner) {
    void *buffer = malloc(512);
    CHECK(buffer != NULL);
    if (buffer == NULL) return;
    fill_pattern((int64_t)(intptr_t)buffer, 512, 9);
    BumpAllocator *arena = bump_from_buffer((int64_t)(intptr_t)buffer, 512);
    CHECK(arena != NULL);
    CHECK_EQ(bump_drop(arena), 0);
    CHECK_EQ(bump_capacity(arena), 0);
    CHECK_ALLOC_FAILS(bump_alloc(arena, layout_new(1, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_EQ(bump_free(arena), 0);
    CHECK(pattern_intact((int64_t)(intptr_t)buffer, 512, 9));
    free(buffer);
}

TEST(handles_pool_drop_leaves_an_empty_handle) {
    PoolAllocator *pool = pool_new(64, 10);
    CHECK(pool != NULL);
    int64_t a = pool_alloc(pool);
    CHECK_NE(a, 0);
    CHECK_EQ(pool_reset(pool), 0); /* every block freed: no leak */
    CHECK_EQ(pool_drop(pool), 0);
    CHECK_EQ(pool_num_free_blocks(pool), 0);
    CHECK_EQ(pool_num_allocated(pool), 0);
    CHECK_EQ(pool_owns(pool, a), 0);
    CHECK_POINTER_FAILS(pool_alloc(pool), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_STATUS_FAILS(pool_dealloc(pool, a), VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_EQ(pool_dealloc(pool, 0), 0);
    CHECK_EQ(pool_drop(pool), 0);
    CHECK_EQ(pool_reset(pool), 0);
    CHECK_EQ(pool_free(pool), 0);
}

TEST(handles_freelist_drop_leaves_an_empty_handle) {
    FreeListAllocator *list = freelist_new(1024);
    CHECK(list != NULL);
    Allocation a = freelist_alloc(list, layout_new(64, 8));
    CHECK_NE(a.ptr, 0);
    CHECK_EQ(freelist_reset(list), 0); /* every block freed: no leak */
    CHECK_EQ(freelist_drop(list), 0);
    CHECK_EQ(freelist_total_allocated(list), 0);
    CHECK_EQ(freelist_remaining(list), 0);
    CHECK_EQ(freelist_largest_free_block(list), 0);
    CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(1, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(0, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_STATUS_FAILS(freelist_dealloc(list, a.ptr), VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_EQ(freelist_dealloc(list, 0), 0);
    CHECK_EQ(freelist_drop(list), 0);
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(freelist_free(list), 0);
}

TEST(handles_stack_drop_leaves_an_empty_handle) {
    StackAllocator *stack = stack_new(512);
    CHECK(stack != NULL);
    CHECK_NE(stack_alloc(stack, layout_new(64, 8)).ptr, 0);
    CHECK_EQ(stack_drop(stack), 0);
    CHECK_EQ(stack_remaining(stack), 0);
    CHECK_EQ(stack_depth(stack), 0);
    CHECK_ALLOC_FAILS(stack_alloc(stack, layout_new(1, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(stack_alloc(stack, layout_new(0, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_STATUS_FAILS(stack_pop(stack), VAIS_ALLOC_E_EMPTY);
    CHECK_EQ(stack_reset(stack), 0);
    CHECK_EQ(stack_drop(stack), 0);
    CHECK_EQ(stack_free(stack), 0);
}

/* ---- zero-size requests (rule 5) ----------------------------------------- */

TEST(handles_zero_size_bump_requests_follow_one_byte_requests) {
    BumpAllocator *empty = bump_new(0);
    CHECK(empty != NULL);
    CHECK_EQ(bump_capacity(empty), 0);
    CHECK_ALLOC_FAILS(bump_alloc(empty, layout_new(1, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(bump_alloc(empty, layout_new(0, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(bump_alloc_zeroed(empty, layout_new(0, 16)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_EQ(bump_free(empty), 0);

    /* An empty caller buffer: NULL is fine when the capacity is 0. */
    BumpAllocator *none = bump_from_buffer(0, 0);
    CHECK(none != NULL);
    CHECK_ALLOC_FAILS(bump_alloc(none, layout_new(0, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_EQ(bump_free(none), 0);

    BumpAllocator *bump = bump_new(64);
    CHECK(bump != NULL);
    Allocation z = bump_alloc(bump, layout_new(0, 16));
    CHECK_NE(z.ptr, 0);
    CHECK_EQ(z.ptr % 16, 0);
    CHECK_EQ(z.size, 0);
    Allocation zz = bump_alloc_zeroed(bump, layout_new(0, 8));
    CHECK_NE(zz.ptr, 0);
    CHECK_EQ(zz.ptr % 8, 0);
    CHECK_EQ(bump_total_allocated(bump), 0);
    /* Byte-aligned requests fit while a byte is left: zero-size ones must
     * succeed exactly then. Alternate them until the arena is full. */
    for (int i = 0; i < 200; i++) {
        int64_t left = bump_remaining(bump);
        Allocation zero = bump_alloc(bump, layout_new(0, 1));
        if (left == 0) {
            CHECK_EQ(zero.ptr, 0);
            break;
        }
        CHECK_NE(zero.ptr, 0);
        if (bump_alloc(bump, layout_new(1, 1)).ptr == 0) break;
    }
    CHECK_EQ(bump_remaining(bump), 0);
    CHECK_ALLOC_FAILS(bump_alloc(bump, layout_new(1, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(bump_alloc(bump, layout_new(0, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_EQ(bump_free(bump), 0);
}

TEST(handles_zero_size_stack_requests_follow_one_byte_requests) {
    StackAllocator *empty = stack_new(0);
    CHECK(empty != NULL);
    CHECK_EQ(stack_remaining(empty), 0);
    CHECK_ALLOC_FAILS(stack_alloc(empty, layout_new(1, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(stack_alloc(empty, layout_new(0, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_STATUS_FAILS(stack_pop(empty), VAIS_ALLOC_E_EMPTY);
    CHECK_EQ(stack_free(empty), 0);

    StackAllocator *stack = stack_new(64);
    CHECK(stack != NULL);
    Allocation z = stack_alloc(stack, layout_new(0, 32));
    CHECK_NE(z.ptr, 0);
    CHECK_EQ(z.ptr % 32, 0);
    CHECK_EQ(z.size, 0);
    CHECK_EQ(stack_depth(stack), 1);
    CHECK_EQ(stack_pop(stack), 0);
    CHECK_EQ(stack_remaining(stack), 64);
    /* Full (the first payload is at offset 16): both refused, nothing
     * changes. */
    Allocation all = stack_alloc(stack, layout_new(48, 8));
    CHECK_NE(all.ptr, 0);
    CHECK_EQ(stack_remaining(stack), 0);
    CHECK_ALLOC_FAILS(stack_alloc(stack, layout_new(1, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(stack_alloc(stack, layout_new(0, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_EQ(stack_depth(stack), 1);
    CHECK_EQ(stack_pop(stack), 0);
    CHECK_STATUS_FAILS(stack_pop(stack), VAIS_ALLOC_E_EMPTY);
    /* Room for a header but not one byte more: both refused, so no
     * pointer ever lands one past the end of the buffer. */
    CHECK_NE(stack_alloc(stack, layout_new(40, 8)).ptr, 0);
    CHECK_EQ(stack_remaining(stack), 8);
    CHECK_ALLOC_FAILS(stack_alloc(stack, layout_new(1, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(stack_alloc(stack, layout_new(0, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_EQ(stack_remaining(stack), 8);
    CHECK_EQ(stack_free(stack), 0);
}

TEST(handles_zero_size_freelist_requests_follow_one_byte_requests) {
    FreeListAllocator *list = freelist_new(32);
    CHECK(list != NULL);
    Allocation z = freelist_alloc(list, layout_new(0, 1));
    CHECK_NE(z.ptr, 0);
    CHECK_GE(z.size, 0);
    CHECK_EQ(freelist_remaining(list), 0);
    CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(1, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(0, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_EQ(freelist_dealloc(list, z.ptr), 0);
    CHECK_EQ(freelist_remaining(list), 32);
    CHECK_EQ(freelist_free(list), 0);

    list = freelist_new(4096);
    CHECK(list != NULL);
    Allocation aligned = freelist_alloc(list, layout_new(0, 256));
    CHECK_NE(aligned.ptr, 0);
    CHECK_EQ(aligned.ptr % 256, 0);
    CHECK_EQ(freelist_dealloc(list, aligned.ptr), 0);
    CHECK_EQ(freelist_remaining(list), 4096);
    CHECK_EQ(freelist_free(list), 0);
}
