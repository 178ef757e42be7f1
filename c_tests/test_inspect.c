/*
 * What an allocator says about itself: allocator_stats (checked against
 * the operations each test makes), allocator_check (healthy heaps pass; a
 * scribbled header or link is named), freelist_walk.
 */
#include "harness.h"
#include "vais_alloc.h"

static VaisAllocStats stats_of(VaisAllocator a) {
    VaisAllocStats s;
    memset(&s, 0x5a, sizeof s);
    CHECK_EQ(allocator_stats(a, &s), 0);
    return s;
}

TEST(inspect_pool_stats_follow_every_operation) {
    PoolAllocator *pool = pool_new(32, 4);
    VaisAllocator v = pool_as_allocator(pool);
    VaisAllocStats s = stats_of(v);
    CHECK_EQ(s.in_use_bytes, 0);
    CHECK_EQ(s.live_blocks, 0);
    CHECK_EQ(s.allocs, 0);
    CHECK_EQ(s.capacity_bytes, 128);
    CHECK_EQ(s.largest_free_block, 32);
    int64_t b[4];
    for (int i = 0; i < 4; i++) b[i] = pool_alloc(pool);
    CHECK_EQ(pool_alloc(pool), 0); /* exhausted: counted */
    CHECK_EQ(pool_dealloc(pool, b[1]), 0);
    CHECK_EQ(pool_dealloc(pool, b[1]), VAIS_ALLOC_E_DOUBLE_FREE); /* not a free */
    s = stats_of(v);
    CHECK_EQ(s.allocs, 4);
    CHECK_EQ(s.frees, 1);
    CHECK_EQ(s.live_blocks, 3);
    CHECK_EQ(s.in_use_bytes, 96);
    CHECK_EQ(s.peak_in_use_bytes, 128);
    CHECK_EQ(s.failed_allocs, 1);
    CHECK_EQ(s.largest_free_block, 32);
    CHECK_EQ(pool_reset(pool), 0);
    s = stats_of(v);
    CHECK_EQ(s.live_blocks, 0);
    CHECK_EQ(s.frees, 1); /* a reset is no free */
    CHECK_EQ(s.peak_in_use_bytes, 128);
    CHECK_EQ(allocator_check(v), 0);
    pool_free(pool);
}

TEST(inspect_freelist_stats_count_blocks_and_bytes) {
    FreeListAllocator *list = freelist_new(4096);
    VaisAllocator v = freelist_as_allocator(list);
    Allocation a = freelist_alloc(list, layout_new(100, 8));
    Allocation b = freelist_alloc(list, layout_new(200, 8));
    VaisAllocStats s = stats_of(v);
    CHECK_EQ(s.allocs, 2);
    CHECK_EQ(s.live_blocks, 2);
    CHECK_EQ(s.in_use_bytes, freelist_total_allocated(list));
    CHECK_EQ(s.capacity_bytes, 4096);
    CHECK_EQ(freelist_dealloc(list, a.ptr), 0);
    s = stats_of(v);
    CHECK_EQ(s.frees, 1);
    CHECK_EQ(s.live_blocks, 1);
    CHECK_GT(s.peak_in_use_bytes, s.in_use_bytes);
    CHECK_EQ(s.largest_free_block, freelist_largest_free_block(list));
    CHECK_EQ(freelist_alloc(list, layout_new(5000, 8)).ptr, 0);
    CHECK_EQ(stats_of(v).failed_allocs, 1);
    /* Cached frees and reuse count as any others. */
    for (int i = 0; i < 10; i++) {
        Allocation c = freelist_alloc(list, layout_new(24, 8));
        CHECK_EQ(freelist_dealloc(list, c.ptr), 0);
    }
    s = stats_of(v);
    CHECK_EQ(s.allocs, 12);
    CHECK_EQ(s.frees, 11);
    CHECK_EQ(s.live_blocks, 1);
    CHECK_EQ(freelist_reset(list), 0);
    s = stats_of(v);
    CHECK_EQ(s.live_blocks, 0);
    CHECK_EQ(s.frees, 11);
    CHECK_EQ(allocator_check(v), 0);
    (void)b;
    freelist_free(list);
}

/* A flush of the cache (which the stats make) hands each cached block out
 * and frees it again: the peak must not count it twice. */
TEST(inspect_freelist_peak_is_exact_across_cache_flushes) {
    FreeListAllocator *list = freelist_new(1 << 16);
    VaisAllocator v = freelist_as_allocator(list);
    Allocation small = freelist_alloc(list, layout_new(56, 8));
    CHECK_EQ(freelist_dealloc(list, small.ptr), 0); /* cached */
    Allocation big = freelist_alloc(list, layout_new(1000, 8));
    int64_t peak = freelist_total_allocated(list);
    VaisAllocStats s = stats_of(v); /* flushes */
    CHECK_EQ(s.peak_in_use_bytes, peak);
    s = stats_of(v);
    CHECK_EQ(s.peak_in_use_bytes, peak);
    CHECK_EQ(freelist_dealloc(list, big.ptr), 0);
    /* Grown: the peak is no longer known. */
    CHECK_EQ(freelist_set_upstream(list, global_as_allocator(), 0), 0);
    Allocation far = freelist_alloc(list, layout_new(100000, 8));
    CHECK_NE(far.ptr, 0);
    CHECK_EQ(stats_of(v).peak_in_use_bytes, -1);
    CHECK_EQ(freelist_dealloc(list, far.ptr), 0);
    freelist_free(list);
}

TEST(inspect_bump_and_stack_stats) {
    BumpAllocator *bump = bump_new(1024);
    VaisAllocator bv = bump_as_allocator(bump);
    bump_alloc(bump, layout_new(100, 8));
    Allocation last = bump_alloc(bump, layout_new(50, 8));
    CHECK_EQ(allocator_free(bv, last.ptr, layout_new(50, 8)), 0);
    CHECK_EQ(bump_alloc(bump, layout_new(2000, 8)).ptr, 0);
    VaisAllocStats s = stats_of(bv);
    CHECK_EQ(s.allocs, 2);
    CHECK_EQ(s.frees, 1);
    CHECK_EQ(s.live_blocks, -1);
    CHECK_EQ(s.in_use_bytes, 100);
    CHECK_EQ(s.peak_in_use_bytes, 150);
    CHECK_EQ(s.failed_allocs, 1);
    CHECK_EQ(s.capacity_bytes, 1024);
    CHECK_EQ(s.largest_free_block, bump_remaining(bump));
    CHECK_EQ(allocator_check(bv), 0);
    bump_free(bump);

    StackAllocator *stack = stack_new(1024);
    VaisAllocator sv = stack_as_allocator(stack);
    Allocation x = stack_alloc(stack, layout_new(40, 8));
    stack_alloc(stack, layout_new(40, 8));
    stack_alloc(stack, layout_new(40, 8));
    CHECK_EQ(allocator_free(sv, x.ptr, layout_new(40, 8)), 0); /* an older one: dead */
    CHECK_EQ(stack_pop(stack), 0);
    s = stats_of(sv);
    CHECK_EQ(s.allocs, 3);
    CHECK_EQ(s.frees, 2);
    CHECK_EQ(s.live_blocks, 1);
    CHECK_EQ(s.live_blocks, stack_depth(stack));
    CHECK_EQ(s.in_use_bytes, 1024 - stack_remaining(stack));
    CHECK_GT(s.peak_in_use_bytes, s.in_use_bytes);
    CHECK_EQ(allocator_check(sv), 0);
    stack_free(stack);
}

TEST(inspect_stats_refusals) {
    VaisAllocStats s = stats_of(global_as_allocator());
    CHECK_EQ(s.in_use_bytes, -1);
    CHECK_EQ(s.allocs, -1);
    CHECK_EQ(allocator_check(global_as_allocator()), 0);
    PoolAllocator *pool = pool_new(16, 2);
    VaisAllocStats untouched;
    memset(&untouched, 7, sizeof untouched);
    VaisAllocStats copy = untouched;
    CHECK_STATUS_FAILS(allocator_stats(pool_as_allocator(pool), NULL), VAIS_ALLOC_E_INVALID_ARGUMENT);
    VaisAllocator none = {NULL, NULL};
    CHECK_STATUS_FAILS(allocator_stats(none, &copy), VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_STATUS_FAILS(allocator_check(none), VAIS_ALLOC_E_NULL_HANDLE);
    VaisAllocatorVtable mine = *global_as_allocator().vtable;
    VaisAllocator user = {NULL, &mine};
    CHECK_STATUS_FAILS(allocator_stats(user, &copy), VAIS_ALLOC_E_UNSUPPORTED);
    CHECK_STATUS_FAILS(allocator_check(user), VAIS_ALLOC_E_UNSUPPORTED);
    CHECK(memcmp(&copy, &untouched, sizeof copy) == 0);
    VaisAllocator wrong = {pool, bump_as_allocator(NULL).vtable};
    (void)wrong;
    pool_free(pool);
}

/* ---- allocator_check names the damage ------------------------------------- */

TEST(inspect_check_names_a_scribbled_freelist_header_and_link) {
    SKIP_UNDER_MEMORY_TOOL();
    FreeListAllocator *list = freelist_new(4096);
    VaisAllocator v = freelist_as_allocator(list);
    CHECK_EQ(freelist_set_cache(list, 0), 0);
    Allocation a = freelist_alloc(list, layout_new(64, 8));
    Allocation b = freelist_alloc(list, layout_new(64, 8));
    Allocation c = freelist_alloc(list, layout_new(64, 8));
    CHECK_EQ(allocator_check(v), 0);
    /* A header: the size bits of b's word 1. */
    uint64_t *header = (uint64_t *)(intptr_t)(b.ptr - 8);
    uint64_t saved = *header;
    *header ^= 0x100;
    CHECK_STATUS_FAILS(allocator_check(v), VAIS_ALLOC_E_CORRUPTED);
    CHECK_STR_CONTAINS(vais_alloc_last_error_detail(), "allocator_check: block");
    *header = saved;
    CHECK_EQ(allocator_check(v), 0);
    /* A link: the first payload word of a freed block. */
    CHECK_EQ(freelist_dealloc(list, b.ptr), 0);
    uint64_t *link = (uint64_t *)(intptr_t)b.ptr;
    saved = *link;
    *link = 0x1230;
    CHECK_STATUS_FAILS(allocator_check(v), VAIS_ALLOC_E_CORRUPTED);
    CHECK_STR_CONTAINS(vais_alloc_last_error_detail(), "allocator_check: ");
    *link = saved;
    CHECK_EQ(allocator_check(v), 0);
    CHECK_EQ(freelist_dealloc(list, a.ptr), 0);
    CHECK_EQ(freelist_dealloc(list, c.ptr), 0);
    CHECK_EQ(allocator_check(v), 0);
    freelist_free(list);
}

TEST(inspect_check_names_a_scribbled_stack_header) {
    SKIP_UNDER_MEMORY_TOOL();
    StackAllocator *stack = stack_new(1024);
    VaisAllocator v = stack_as_allocator(stack);
    stack_alloc(stack, layout_new(40, 8));
    Allocation b = stack_alloc(stack, layout_new(40, 8));
    stack_alloc(stack, layout_new(40, 8));
    CHECK_EQ(allocator_check(v), 0);
    uint64_t *header = (uint64_t *)(intptr_t)(b.ptr - 8);
    uint64_t saved = *header;
    *header ^= (uint64_t)1 << 62;
    CHECK_STATUS_FAILS(allocator_check(v), VAIS_ALLOC_E_CORRUPTED);
    CHECK_STR_CONTAINS(vais_alloc_last_error_detail(), "is overwritten");
    *header = saved;
    CHECK_EQ(allocator_check(v), 0);
    stack_free(stack);
}

/* ---- freelist_walk ----------------------------------------------------------- */

typedef struct {
    int blocks, used;
    int64_t last, bytes, stop_at;
    int ordered;
} Walked;

static int64_t visit(int64_t ptr, int64_t size, int64_t in_use, void *ctx) {
    Walked *w = ctx;
    if (ptr <= w->last) w->ordered = 0;
    w->last = ptr;
    w->blocks++;
    w->used += in_use != 0;
    w->bytes += size + 8; /* a block's usable bytes and its header word */
    return w->blocks == w->stop_at ? 99 : 0;
}

TEST(inspect_walk_visits_every_block_in_address_order) {
    FreeListAllocator *list = freelist_new(8192);
    Allocation a[6];
    for (int i = 0; i < 6; i++) a[i] = freelist_alloc(list, layout_new(100 + 50 * i, 8));
    CHECK_EQ(freelist_dealloc(list, a[1].ptr), 0);
    CHECK_EQ(freelist_dealloc(list, a[4].ptr), 0);
    Walked w = {0, 0, 0, 0, -1, 1};
    CHECK_EQ(freelist_walk(list, visit, &w), 0);
    CHECK(w.ordered);
    CHECK_EQ(w.used, 4);
    CHECK_EQ(w.blocks, 7); /* 4 in use, 2 freed, the free rest */
    CHECK_EQ(w.bytes, 8192);
    Walked stop = {0, 0, 0, 0, 3, 1};
    CHECK_EQ(freelist_walk(list, visit, &stop), 99);
    CHECK_EQ(stop.blocks, 3);
    CHECK_STATUS_FAILS(freelist_walk(list, NULL, NULL), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(freelist_walk(NULL, visit, &w), VAIS_ALLOC_E_NULL_HANDLE);
    for (int i = 0; i < 6; i++)
        if (i != 1 && i != 4) CHECK_EQ(freelist_dealloc(list, a[i].ptr), 0);
    Walked empty = {0, 0, 0, 0, -1, 1};
    CHECK_EQ(freelist_walk(list, visit, &empty), 0);
    CHECK_EQ(empty.blocks, 1);
    CHECK_EQ(empty.used, 0);
    freelist_free(list);
}
