/* pool_set_upstream, pool_set_limit, pool_capacity: a pool growing by
 * slabs from an upstream (a counting user allocator written here, the
 * global allocator, a free list), and every refusal of rule 1 across its
 * slabs. */
#include "harness.h"
#include "vais_alloc.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>

static Layout lay(int64_t size, int64_t align) {
    Layout l = {size, align};
    return l;
}

static int64_t address_of(const void *p) { return (int64_t)(intptr_t)p; }

/* ---- the counting upstream: malloc, with a registry ---------------------- */

/* It records every block it hands out, so that a give-back with a pointer
 * or layout it does not know is caught (and counted), and it can be told
 * to refuse. */
#define COUNTING_MAX_BLOCKS 64

typedef struct {
    int64_t ptr, size, align;
} CountedBlock;

typedef struct {
    int64_t calls;      /* successful allocations */
    int64_t live;       /* blocks not given back yet */
    int64_t live_bytes; /* their sizes */
    int64_t bad_frees;  /* unknown pointer, or another layout */
    int refuse;         /* when set, every allocation fails */
    CountedBlock blocks[COUNTING_MAX_BLOCKS];
} Counting;

static Allocation counting_alloc(void *ctx, Layout layout) {
    Counting *c = ctx;
    Allocation none = {0, 0};
    if (c->refuse || layout.size <= 0 || layout.align < 1) return none;
    CountedBlock *slot = NULL;
    for (int i = 0; i < COUNTING_MAX_BLOCKS && slot == NULL; i++)
        if (c->blocks[i].ptr == 0) slot = &c->blocks[i];
    if (slot == NULL) return none;
    void *p = NULL;
    if ((size_t)layout.align <= alignof(max_align_t)) {
        p = malloc((size_t)layout.size);
    } else if (posix_memalign(&p, (size_t)layout.align, (size_t)layout.size) != 0) {
        p = NULL;
    }
    if (p == NULL) return none;
    slot->ptr = address_of(p);
    slot->size = layout.size;
    slot->align = layout.align;
    c->calls++;
    c->live++;
    c->live_bytes += layout.size;
    Allocation block = {slot->ptr, layout.size};
    return block;
}

static int64_t counting_free(void *ctx, int64_t ptr, Layout layout) {
    Counting *c = ctx;
    for (int i = 0; i < COUNTING_MAX_BLOCKS; i++) {
        CountedBlock *b = &c->blocks[i];
        if (b->ptr == 0 || b->ptr != ptr) continue;
        if (b->size != layout.size || b->align != layout.align) {
            c->bad_frees++;
            return VAIS_ALLOC_E_INVALID_LAYOUT;
        }
        free((void *)(intptr_t)ptr);
        c->live--;
        c->live_bytes -= b->size;
        b->ptr = 0;
        return 0;
    }
    c->bad_frees++;
    return VAIS_ALLOC_E_FOREIGN_POINTER;
}

static const VaisAllocatorVtable counting_vtable = {
    .version = VAIS_ALLOCATOR_VTABLE_VERSION,
    .caps = VAIS_ALLOC_CAP_FREE | VAIS_ALLOC_CAP_ANY_SIZE | VAIS_ALLOC_CAP_ANY_ALIGN,
    .alloc = counting_alloc,
    .alloc_zeroed = NULL,
    .resize = NULL,
    .realloc = NULL,
    .free = counting_free,
    .reset = NULL,
};

static VaisAllocator counting(Counting *c) {
    memset(c, 0, sizeof *c);
    VaisAllocator a = {c, &counting_vtable};
    return a;
}

/* A pool of `own` blocks of `size` bytes, growing from `upstream`. */
static PoolAllocator *growing_pool(int64_t size, int64_t own, VaisAllocator upstream,
                                   int64_t first_slab) {
    PoolAllocator *pool = pool_new(size, own);
    CHECK(pool != NULL);
    if (pool == NULL) return NULL;
    CHECK_EQ(pool_set_upstream(pool, upstream, first_slab), 0);
    return pool;
}

static int by_address(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Every block aligned as the block size says, inside nothing else handed
 * out (sorted starts a block apart), with its pattern intact. */
static void check_blocks(const int64_t *blocks, int64_t n, int64_t size, int64_t align) {
    int64_t *sorted = malloc((size_t)n * sizeof *sorted);
    CHECK(sorted != NULL);
    if (sorted == NULL) return;
    memcpy(sorted, blocks, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, by_address);
    int64_t overlaps = 0, misaligned = 0, damaged = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i > 0 && sorted[i] - sorted[i - 1] < size) overlaps++;
        if (blocks[i] % align != 0) misaligned++;
        if (*(const int64_t *)(intptr_t)blocks[i] != i) damaged++;
    }
    CHECK_EQ(overlaps, 0);
    CHECK_EQ(misaligned, 0);
    CHECK_EQ(damaged, 0);
    free(sorted);
}

/* ---- growth ---------------------------------------------------------------- */

TEST(pool_growth_slabs_grow_logarithmically_and_go_back) {
    enum { N = 100000, SIZE = 48, OWN = 10 };
    Counting up;
    PoolAllocator *pool = growing_pool(SIZE, OWN, counting(&up), 1024);
    if (pool == NULL) return;
    CHECK_EQ(pool_capacity(pool), OWN * SIZE);
    int64_t *blocks = malloc(N * sizeof *blocks);
    CHECK(blocks != NULL);
    if (blocks == NULL) return;
    int64_t failed = 0;
    for (int64_t i = 0; i < N; i++) {
        blocks[i] = pool_alloc(pool);
        if (blocks[i] == 0) {
            failed++;
            break;
        }
        *(int64_t *)(intptr_t)blocks[i] = i;
    }
    CHECK_EQ(failed, 0);
    if (failed != 0) return;
    /* 4.8 MB from slabs doubling from 1 KiB: 13 of them. */
    CHECK_LE(up.calls, 14);
    CHECK_GE(up.calls, 10);
    CHECK_EQ(up.live, up.calls);
    CHECK_EQ(pool_capacity(pool), OWN * SIZE + up.live_bytes);
    CHECK_EQ(pool_num_allocated(pool), N);
    int64_t held = pool_num_free_blocks(pool) + pool_num_allocated(pool);
    CHECK_LE(held * SIZE, pool_capacity(pool));
    CHECK_GT(held * SIZE, pool_capacity(pool) - SIZE * up.calls);
    check_blocks(blocks, N, SIZE, 16);
    int64_t not_owned = 0, refused = 0;
    for (int64_t i = 0; i < N; i++) not_owned += pool_owns(pool, blocks[i]) != 1;
    for (int64_t i = 0; i < N; i++) refused += pool_dealloc(pool, blocks[i]) != 0;
    CHECK_EQ(not_owned, 0);
    CHECK_EQ(refused, 0);
    CHECK_EQ(pool_num_allocated(pool), 0);
    /* Every block comes back before the upstream is asked again. */
    int64_t calls = up.calls;
    for (int64_t i = 0; i < N; i++) failed += pool_alloc(pool) == 0;
    CHECK_EQ(failed, 0);
    CHECK_EQ(up.calls, calls);
    CHECK_EQ(pool_reset(pool), 0);
    CHECK_EQ(pool_free(pool), 0);
    CHECK_EQ(up.live, 0);
    CHECK_EQ(up.live_bytes, 0);
    CHECK_EQ(up.bad_frees, 0);
    free(blocks);
}

TEST(pool_growth_bad_frees_in_slabs_are_refused_and_change_nothing) {
    enum { SIZE = 24 };
    Counting up;
    /* Two own blocks, a slab of 10, one of 20 (5 of them used). */
    PoolAllocator *pool = growing_pool(SIZE, 2, counting(&up), 240);
    PoolAllocator *other = pool_new(SIZE, 4);
    CHECK(other != NULL);
    if (pool == NULL || other == NULL) return;
    int64_t blocks[17];
    for (int i = 0; i < 17; i++) {
        blocks[i] = pool_alloc(pool);
        CHECK_NE(blocks[i], 0);
        fill_pattern(blocks[i], SIZE, (unsigned)i);
    }
    CHECK_EQ(up.calls, 2);
    int64_t in_slab = blocks[5], newest = blocks[16];
    CHECK_EQ(pool_dealloc(pool, blocks[3]), 0);
    int64_t foreign = pool_alloc(other);
    int64_t on_stack = 0;
    void *heap = malloc(SIZE);
    const int64_t foreign_or_interior[] = {
        in_slab + 1, in_slab + 8, in_slab - 8, newest + 16, /* inside a slab block */
        newest + SIZE * 16,                                 /* the slab's end */
        foreign, address_of(&on_stack), address_of(heap),   /* not this pool's */
        8, -8, INT64_MAX, INT64_MIN,
    };
    for (size_t i = 0; i < sizeof foreign_or_interior / sizeof foreign_or_interior[0]; i++) {
        CHECK_STATUS_FAILS(pool_dealloc(pool, foreign_or_interior[i]), VAIS_ALLOC_E_FOREIGN_POINTER);
        CHECK_EQ(pool_owns(pool, foreign_or_interior[i]), 0);
    }
    /* Freed, and never handed out (past the last slab's frontier). */
    const int64_t free_blocks[] = {blocks[3], newest + SIZE, newest + 2 * SIZE};
    for (size_t i = 0; i < sizeof free_blocks / sizeof free_blocks[0]; i++)
        CHECK_STATUS_FAILS(pool_dealloc(pool, free_blocks[i]), VAIS_ALLOC_E_DOUBLE_FREE);
    CHECK_EQ(pool_num_allocated(pool), 16);
    CHECK_EQ(pool_num_free_blocks(pool), 2 + 10 + 20 - 16);
    /* Through the interface: the same refusals. */
    VaisAllocator view = pool_as_allocator(pool);
    CHECK_STATUS_FAILS(allocator_free(view, in_slab + 8, lay(SIZE, 8)), VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_STATUS_FAILS(allocator_free(view, blocks[3], lay(SIZE, 8)), VAIS_ALLOC_E_DOUBLE_FREE);
    CHECK_EQ(allocator_free(view, in_slab, lay(SIZE, 8)), 0);
    CHECK_STATUS_FAILS(allocator_free(view, in_slab, lay(SIZE, 8)), VAIS_ALLOC_E_DOUBLE_FREE);
    CHECK_EQ(pool_num_allocated(pool), 15);
    for (int i = 0; i < 17; i++)
        if (i != 3 && i != 5) CHECK(pattern_intact(blocks[i], SIZE, (unsigned)i));
    /* The two freed blocks come back first, then fresh ones of the slab. */
    int64_t a = pool_alloc(pool), b = pool_alloc(pool);
    CHECK((a == in_slab && b == blocks[3]) || (a == blocks[3] && b == in_slab));
    CHECK_EQ(pool_alloc(pool), newest + SIZE);
    CHECK_EQ(up.calls, 2);
    free(heap);
    CHECK_EQ(pool_reset(other), 0);
    CHECK_EQ(pool_free(other), 0);
    CHECK_EQ(pool_reset(pool), 0);
    CHECK_EQ(pool_free(pool), 0);
    CHECK_EQ(up.live, 0);
    CHECK_EQ(up.bad_frees, 0);
}

TEST(pool_growth_limit_is_exhausted_and_refusal_out_of_memory) {
    enum { SIZE = 32, OWN = 4, SLAB = 256 };
    Counting up;
    PoolAllocator *pool = growing_pool(SIZE, OWN, counting(&up), SLAB);
    if (pool == NULL) return;
    CHECK_STATUS_FAILS(pool_set_limit(pool, OWN * SIZE - 1), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(pool_set_limit(pool, -2), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(pool_set_limit(pool, INT64_MIN), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(pool_set_limit(pool, OWN * SIZE + SLAB), 0);
    for (int i = 0; i < OWN + SLAB / SIZE; i++) CHECK_NE(pool_alloc(pool), 0);
    CHECK_EQ(pool_capacity(pool), OWN * SIZE + SLAB);
    CHECK_EQ(up.calls, 1);
    for (int i = 0; i < 3; i++) {
        int64_t none = 1;
        CHECK_ERROR(none = pool_alloc(pool), VAIS_ALLOC_E_EXHAUSTED);
        CHECK_EQ(none, 0);
    }
    CHECK_ALLOC_FAILS(allocator_alloc(pool_as_allocator(pool), lay(SIZE, 16)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_EQ(pool_num_free_blocks(pool), 0);
    CHECK_EQ(pool_num_allocated(pool), OWN + SLAB / SIZE);
    CHECK_EQ(pool_capacity(pool), OWN * SIZE + SLAB);
    CHECK_EQ(up.calls, 1);
    /* Below what is held: refused, the old limit stays. */
    CHECK_STATUS_FAILS(pool_set_limit(pool, OWN * SIZE), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(pool_set_limit(pool, -1), 0);
    /* The upstream refuses: OUT_OF_MEMORY, nothing changed. */
    up.refuse = 1;
    int64_t none = 1;
    CHECK_ERROR(none = pool_alloc(pool), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_EQ(none, 0);
    CHECK_EQ(pool_num_allocated(pool), OWN + SLAB / SIZE);
    CHECK_EQ(pool_capacity(pool), OWN * SIZE + SLAB);
    up.refuse = 0;
    CHECK_NE(pool_alloc(pool), 0);
    CHECK_EQ(up.calls, 2);
    CHECK_EQ(pool_capacity(pool), OWN * SIZE + SLAB * 3);
    CHECK_EQ(pool_reset(pool), 0);
    CHECK_EQ(pool_free(pool), 0);
    CHECK_EQ(up.live, 0);
}

TEST(pool_growth_set_upstream_refusals) {
    Counting up;
    VaisAllocator upstream = counting(&up);
    PoolAllocator *pool = pool_new(16, 4);
    BumpAllocator *bump = bump_new(64);
    CHECK(pool != NULL && bump != NULL);
    if (pool == NULL || bump == NULL) return;
    CHECK_STATUS_FAILS(pool_set_upstream(NULL, upstream, 0), VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_STATUS_FAILS(pool_set_upstream((PoolAllocator *)bump, upstream, 0),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    VaisAllocator no_vtable = {&up, NULL};
    CHECK_STATUS_FAILS(pool_set_upstream(pool, no_vtable, 0), VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_STATUS_FAILS(pool_set_upstream(pool, upstream, -1), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(pool_set_upstream(pool, pool_as_allocator(pool), 0),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    VaisAllocatorVtable partial = counting_vtable;
    partial.free = NULL;
    VaisAllocator no_free = {&up, &partial};
    CHECK_STATUS_FAILS(pool_set_upstream(pool, no_free, 0), VAIS_ALLOC_E_INVALID_ARGUMENT);
    VaisAllocatorVtable future = counting_vtable;
    future.version = VAIS_ALLOCATOR_VTABLE_VERSION + 1;
    VaisAllocator unknown = {&up, &future};
    CHECK_STATUS_FAILS(pool_set_upstream(pool, unknown, 0), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(pool_set_limit(NULL, -1), VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_STATUS_FAILS(pool_capacity(NULL), VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_STATUS_FAILS(pool_capacity((PoolAllocator *)bump), VAIS_ALLOC_E_INVALID_ARGUMENT);
    /* None of these set an upstream: the pool is still fixed. */
    for (int i = 0; i < 4; i++) CHECK_NE(pool_alloc(pool), 0);
    int64_t none = 1;
    CHECK_ERROR(none = pool_alloc(pool), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_EQ(up.calls, 0);
    /* Another upstream, while slabs of the first are held: refused. */
    CHECK_EQ(pool_set_upstream(pool, upstream, 0), 0);
    CHECK_NE(pool_alloc(pool), 0);
    CHECK_EQ(up.calls, 1);
    CHECK_EQ(up.live_bytes, 64 << 10); /* 0: the library's choice, 64 KiB */
    CHECK_STATUS_FAILS(pool_set_upstream(pool, global_as_allocator(), 0),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    /* Once they are given back, a new one is accepted. */
    CHECK_EQ(pool_reset(pool), 0); /* every block freed: no leak */
    CHECK_EQ(pool_drop(pool), 0);
    CHECK_EQ(up.live, 0);
    CHECK_EQ(pool_capacity(pool), 0);
    CHECK_EQ(pool_set_upstream(pool, global_as_allocator(), 0), 0);
    CHECK_NE(pool_alloc(pool), 0);
    CHECK_EQ(pool_capacity(pool), 64 << 10);
    CHECK_EQ(pool_reset(pool), 0);
    CHECK_EQ(pool_free(pool), 0);
    CHECK_EQ(bump_free(bump), 0);
}

TEST(pool_growth_reset_keeps_the_largest_slab) {
    enum { SIZE = 64, OWN = 16, LOAD = 5000 };
    Counting up;
    PoolAllocator *pool = growing_pool(SIZE, OWN, counting(&up), 1024);
    if (pool == NULL) return;
    int64_t failed = 0;
    for (int i = 0; i < LOAD; i++) failed += pool_alloc(pool) == 0;
    CHECK_EQ(failed, 0);
    int64_t calls = up.calls, bytes = up.live_bytes;
    CHECK_GE(calls, 5);
    CHECK_EQ(pool_reset(pool), 0);
    CHECK_EQ(up.live, 1);
    CHECK_GT(up.live_bytes * 2, bytes);
    CHECK_EQ(pool_capacity(pool), OWN * SIZE + up.live_bytes);
    CHECK_EQ(pool_num_allocated(pool), 0);
    CHECK_EQ(pool_num_free_blocks(pool), OWN + up.live_bytes / SIZE);
    /* The same load again: at most one more slab; after that reset, none
     * is ever needed. */
    for (int i = 0; i < LOAD; i++) failed += pool_alloc(pool) == 0;
    CHECK_LE(up.calls, calls + 1);
    calls = up.calls;
    for (int round = 0; round < 3; round++) {
        CHECK_EQ(allocator_reset(pool_as_allocator(pool)), 0);
        for (int i = 0; i < LOAD; i++) failed += pool_alloc(pool) == 0;
    }
    CHECK_EQ(failed, 0);
    CHECK_EQ(up.calls, calls);
    CHECK_EQ(pool_reset(pool), 0);
    CHECK_EQ(pool_free(pool), 0);
    CHECK_EQ(up.live, 0);
    CHECK_EQ(up.bad_frees, 0);
}

/* ---- other upstreams, and the interface ---------------------------------------- */

TEST(pool_growth_from_the_global_allocator) {
    enum { N = 20000, SIZE = 40 };
    PoolAllocator *pool = growing_pool(SIZE, 8, global_as_allocator(), 0);
    if (pool == NULL) return;
    int64_t *blocks = malloc(N * sizeof *blocks);
    CHECK(blocks != NULL);
    if (blocks == NULL) return;
    int64_t failed = 0;
    for (int64_t i = 0; i < N; i++) {
        blocks[i] = pool_alloc(pool);
        if (blocks[i] == 0) {
            failed++;
            break;
        }
        *(int64_t *)(intptr_t)blocks[i] = i;
    }
    CHECK_EQ(failed, 0);
    if (failed != 0) return;
    check_blocks(blocks, N, SIZE, 8);
    CHECK_GE(pool_capacity(pool), (int64_t)N * SIZE);
    CHECK_STATUS_FAILS(pool_dealloc(pool, blocks[N - 1] + 8), VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_EQ(pool_dealloc(pool, blocks[N - 1]), 0);
    CHECK_STATUS_FAILS(pool_dealloc(pool, blocks[N - 1]), VAIS_ALLOC_E_DOUBLE_FREE);
    /* Valgrind and ASan see every slab go back here. */
    CHECK_EQ(pool_reset(pool), 0);
    CHECK_EQ(pool_free(pool), 0);
    free(blocks);
}

TEST(pool_growth_from_a_free_list) {
    enum { SIZE = 16, SLAB = 4096 };
    FreeListAllocator *list = freelist_new(48 << 10);
    CHECK(list != NULL);
    if (list == NULL) return;
    PoolAllocator *pool = growing_pool(SIZE, 2, freelist_as_allocator(list), SLAB);
    if (pool == NULL) return;
    /* The free list serves slabs of 4, 8 and 16 KiB; 32 KiB more do not
     * fit in its 48 KiB: OUT_OF_MEMORY, nothing changed. */
    int64_t served = 0;
    for (;;) {
        vais_alloc_clear_error();
        if (pool_alloc(pool) == 0) break;
        served++;
    }
    CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_EQ(served, 2 + (SLAB + 2 * SLAB + 4 * SLAB) / SIZE);
    CHECK_EQ(pool_num_allocated(pool), served);
    CHECK_EQ(pool_num_free_blocks(pool), 0);
    /* (The free list counts its block headers too.) */
    CHECK_GE(freelist_total_allocated(list), 7 * SLAB);
    CHECK_LT(freelist_total_allocated(list), 7 * SLAB + 256);
    CHECK_EQ(pool_capacity(pool), 2 * SIZE + 7 * SLAB);
    /* Reset gives all but the largest back to the list; free the rest. */
    CHECK_EQ(pool_reset(pool), 0);
    CHECK_GE(freelist_total_allocated(list), 4 * SLAB);
    CHECK_LT(freelist_total_allocated(list), 4 * SLAB + 128);
    CHECK_EQ(pool_free(pool), 0);
    CHECK_EQ(freelist_total_allocated(list), 0);
    CHECK_EQ(freelist_free(list), 0);
}

TEST(pool_growth_view_reports_grows) {
    Counting up;
    PoolAllocator *pool = pool_new(32, 2);
    CHECK(pool != NULL);
    if (pool == NULL) return;
    int64_t fixed = allocator_caps(pool_as_allocator(pool));
    CHECK_EQ(fixed & VAIS_ALLOC_CAP_GROWS, 0);
    CHECK_EQ(fixed & (VAIS_ALLOC_CAP_FREE | VAIS_ALLOC_CAP_RESET),
             VAIS_ALLOC_CAP_FREE | VAIS_ALLOC_CAP_RESET);
    CHECK_EQ(pool_set_upstream(pool, counting(&up), 128), 0);
    VaisAllocator view = pool_as_allocator(pool);
    CHECK_EQ(allocator_caps(view), fixed | VAIS_ALLOC_CAP_GROWS);
    /* Through the view it grows as through pool_alloc. */
    Allocation blocks[10];
    for (int i = 0; i < 10; i++) {
        blocks[i] = allocator_alloc(view, lay(32, 16));
        CHECK_NE(blocks[i].ptr, 0);
        CHECK_EQ(blocks[i].size, 32);
        CHECK_EQ(blocks[i].ptr % 16, 0);
    }
    CHECK_EQ(up.calls, 2); /* 2 own blocks, slabs of 4 and 8 */
    CHECK_ALLOC_FAILS(allocator_alloc(view, lay(33, 8)), VAIS_ALLOC_E_UNSUPPORTED);
    CHECK_EQ(allocator_resize(view, blocks[9].ptr, lay(32, 16), 8), 0);
    Allocation zeroed = allocator_alloc_zeroed(view, lay(32, 16));
    CHECK_NE(zeroed.ptr, 0);
    for (int i = 0; i < 10; i++) CHECK_EQ(allocator_free(view, blocks[i].ptr, lay(32, 16)), 0);
    CHECK_EQ(allocator_free(view, zeroed.ptr, lay(32, 16)), 0);
    CHECK_EQ(pool_num_allocated(pool), 0);
    /* A dropped pool keeps its upstream, so its view still grows. */
    CHECK_EQ(pool_drop(pool), 0);
    CHECK_EQ(allocator_caps(pool_as_allocator(pool)) & VAIS_ALLOC_CAP_GROWS, VAIS_ALLOC_CAP_GROWS);
    CHECK_EQ(pool_free(pool), 0);
    CHECK_EQ(up.live, 0);
}
