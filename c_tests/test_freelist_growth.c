/* A free list that grows by regions: freelist_set_upstream (a counting
 * upstream written as a user vtable, and the global allocator),
 * freelist_add_region, freelist_set_limit, freelist_capacity. */
#include "harness.h"
#include "vais_alloc.h"

#include <stdlib.h>

enum { HEADER = 16, OVERHEAD = 8 };

/* ---- a counting upstream, as a C program writes one ------------------- */

/* Calls served, chunks and bytes not yet given back; refuses every call
 * once `refuse_after` were served (-1: never). `bad_frees` counts frees
 * of a layout or pointer it never handed out. */
typedef struct {
    int64_t calls, live, live_bytes, refuse_after, bad_frees;
    int64_t last_align;
} Counting;

static Allocation counting_alloc(void *ctx, Layout layout) {
    Counting *c = ctx;
    Allocation none = {0, 0};
    if (c->refuse_after >= 0 && c->calls >= c->refuse_after) return none;
    void *p = NULL;
    size_t align = layout.align < (int64_t)sizeof(void *) ? sizeof(void *) : (size_t)layout.align;
    if (posix_memalign(&p, align, (size_t)layout.size) != 0) return none;
    c->calls++;
    c->live++;
    c->live_bytes += layout.size;
    c->last_align = layout.align;
    Allocation a = {(int64_t)(intptr_t)p, layout.size};
    return a;
}

static Allocation counting_alloc_zeroed(void *ctx, Layout layout) {
    Allocation a = counting_alloc(ctx, layout);
    if (a.ptr != 0) memset((void *)(intptr_t)a.ptr, 0, (size_t)a.size);
    return a;
}

static int64_t counting_free(void *ctx, int64_t ptr, Layout layout) {
    Counting *c = ctx;
    if (ptr == 0 || layout.size <= 0 || c->live == 0) {
        c->bad_frees++;
        return VAIS_ALLOC_E_FOREIGN_POINTER;
    }
    c->live--;
    c->live_bytes -= layout.size;
    free((void *)(intptr_t)ptr);
    return 0;
}

static const VaisAllocatorVtable counting_vtable = {
    .version = VAIS_ALLOCATOR_VTABLE_VERSION,
    .caps = VAIS_ALLOC_CAP_FREE | VAIS_ALLOC_CAP_ANY_SIZE | VAIS_ALLOC_CAP_ANY_ALIGN,
    .alloc = counting_alloc,
    .alloc_zeroed = counting_alloc_zeroed,
    .resize = NULL,
    .realloc = NULL,
    .free = counting_free,
    .reset = NULL,
};

static VaisAllocator counting(Counting *c, int64_t refuse_after) {
    memset(c, 0, sizeof *c);
    c->refuse_after = refuse_after;
    VaisAllocator a = {c, &counting_vtable};
    return a;
}

/* A free list of `own` bytes growing from `upstream`, chunks from `chunk`. */
static FreeListAllocator *growing(int64_t own, VaisAllocator upstream, int64_t chunk) {
    FreeListAllocator *list = freelist_new(own);
    CHECK(list != NULL);
    CHECK_EQ(freelist_set_upstream(list, upstream, chunk), 0);
    return list;
}

/* ---- what a refused call must leave as it was --------------------------- */

typedef struct {
    int64_t total, remaining, largest, capacity;
} Snapshot;

static Snapshot snapshot(FreeListAllocator *list) {
    Snapshot s = {freelist_total_allocated(list), freelist_remaining(list),
                  freelist_largest_free_block(list), freelist_capacity(list)};
    return s;
}

#define CHECK_UNCHANGED(list, before)                                     \
    do {                                                                  \
        Snapshot now_ = snapshot(list);                                   \
        CHECK_EQ(now_.total, (before).total);                             \
        CHECK_EQ(now_.remaining, (before).remaining);                     \
        CHECK_EQ(now_.largest, (before).largest);                         \
        CHECK_EQ(now_.capacity, (before).capacity);                       \
    } while (0)

/* The counters add up: what the regions span is in use or free. */
#define CHECK_BALANCED(list)                                              \
    CHECK_EQ(freelist_capacity(list),                                     \
             freelist_remaining(list) + freelist_total_allocated(list))

static int by_address(const void *a, const void *b) {
    const Allocation *x = a, *y = b;
    return (x->ptr > y->ptr) - (x->ptr < y->ptr);
}

/* No two blocks overlap (usable bytes, and the header word before each). */
static int all_disjoint(Allocation *blocks, int n) {
    qsort(blocks, (size_t)n, sizeof blocks[0], by_address);
    for (int i = 1; i < n; i++)
        if (blocks[i - 1].ptr + blocks[i - 1].size > blocks[i].ptr - OVERHEAD) return 0;
    return 1;
}

/* A deterministic pseudo-random sequence. */
static unsigned next_random(unsigned *state) {
    *state = *state * 1103515245u + 12345u;
    return (*state >> 16) & 0x7fff;
}

/* ---- tests ---------------------------------------------------------------- */

TEST(freelist_growth_calls_a_counting_upstream_logarithmically) {
    enum { N = 20000 };
    Counting c;
    FreeListAllocator *list = growing(256, counting(&c, -1), 1024);
    static Allocation blocks[N];
    unsigned seed = 1;
    for (int i = 0; i < N; i++) {
        int64_t align = i % 10 == 0 ? 64 : 8;
        blocks[i] = freelist_alloc(list, layout_new(16 + next_random(&seed) % 300, align));
        CHECK_NE(blocks[i].ptr, 0);
        CHECK_EQ(blocks[i].ptr % align, 0);
        fill_pattern(blocks[i].ptr, 16, (unsigned)i);
    }
    /* About 4.5 MB from chunks doubling from 1 KiB: about 13 calls. */
    CHECK_GE(c.calls, 10);
    CHECK_LE(c.calls, 18);
    CHECK_EQ(c.live, c.calls);
    CHECK_EQ(c.last_align, 16);
    CHECK_BALANCED(list);
    CHECK_GE(freelist_capacity(list), freelist_total_allocated(list));
    /* Nothing written into one block reached another. */
    int intact = 1;
    for (int i = 0; i < N; i++) intact &= pattern_intact(blocks[i].ptr, 16, (unsigned)i);
    CHECK(intact);
    CHECK(all_disjoint(blocks, N));
    /* Free everything: every region is one free block again. */
    for (int i = 0; i < N; i++) CHECK_EQ(freelist_dealloc(list, blocks[i].ptr), 0);
    CHECK_EQ(freelist_total_allocated(list), 0);
    CHECK_EQ(freelist_remaining(list), freelist_capacity(list));
    int64_t calls = c.calls;
    /* Reset keeps the largest chunk; a reused list stops calling. */
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(c.live, 1);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 1000; i++) CHECK_NE(freelist_alloc(list, layout_new(100, 8)).ptr, 0);
        CHECK_EQ(freelist_reset(list), 0);
    }
    CHECK_EQ(c.calls, calls);
    /* The upstream's balance is zero once the list is freed. */
    CHECK_EQ(freelist_free(list), 0);
    CHECK_EQ(c.live, 0);
    CHECK_EQ(c.live_bytes, 0);
    CHECK_EQ(c.bad_frees, 0);
}

TEST(freelist_growth_over_the_global_allocator) {
    FreeListAllocator *list = freelist_new(4096);
    CHECK(list != NULL);
    VaisAllocator view = freelist_as_allocator(list);
    CHECK_EQ(allocator_caps(view) & VAIS_ALLOC_CAP_GROWS, 0);
    CHECK_EQ(freelist_set_upstream(list, global_as_allocator(), 0), 0);
    /* The view has the GROWS bit once an upstream is set. */
    view = freelist_as_allocator(list);
    CHECK_EQ(allocator_caps(view) & VAIS_ALLOC_CAP_GROWS, VAIS_ALLOC_CAP_GROWS);
    CHECK_NE(allocator_caps(view) & VAIS_ALLOC_CAP_FREE, 0);
    enum { N = 2000 };
    static Allocation blocks[N];
    for (int i = 0; i < N; i++) {
        /* Through the interface and the family's own function alike. */
        Layout l = layout_new(1000, 16);
        blocks[i] = i % 2 ? allocator_alloc(view, l) : freelist_alloc(list, l);
        CHECK_NE(blocks[i].ptr, 0);
        CHECK_EQ(blocks[i].ptr % 16, 0);
        fill_pattern(blocks[i].ptr, 1000, (unsigned)i);
    }
    CHECK_GE(freelist_capacity(list), 2000 * 1000);
    CHECK_BALANCED(list);
    int intact = 1;
    for (int i = 0; i < N; i++) intact &= pattern_intact(blocks[i].ptr, 1000, (unsigned)i);
    CHECK(intact);
    /* A realloc moves a block between regions and keeps its bytes. */
    Allocation moved = freelist_realloc(list, blocks[0].ptr, layout_new(300000, 8));
    CHECK_NE(moved.ptr, 0);
    CHECK(pattern_intact(moved.ptr, 1000, 0));
    blocks[0] = moved;
    for (int i = 0; i < N; i++) {
        Layout l = layout_new(i == 0 ? 300000 : 1000, 16);
        CHECK_EQ(i % 2 ? allocator_free(view, blocks[i].ptr, l) : freelist_dealloc(list, blocks[i].ptr), 0);
    }
    CHECK_EQ(freelist_total_allocated(list), 0);
    /* Drop gives every chunk back (Valgrind and ASan see any leak). */
    CHECK_EQ(freelist_drop(list), 0);
    CHECK_EQ(freelist_capacity(list), 0);
    CHECK_NE(freelist_alloc(list, layout_new(100, 8)).ptr, 0);
    CHECK_EQ(freelist_free(list), 0);
}

TEST(freelist_growth_limits_and_refusals_change_nothing) {
    Counting c;
    FreeListAllocator *list = growing(256, counting(&c, -1), 1024);
    CHECK_STATUS_FAILS(freelist_set_limit(list, 100), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(freelist_set_limit(list, -2), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(freelist_set_limit(list, 256 + 1024), 0);
    Allocation a = freelist_alloc(list, layout_new(200, 8));
    Allocation b = freelist_alloc(list, layout_new(900, 8)); /* a chunk of 1024 */
    CHECK(a.ptr != 0 && b.ptr != 0);
    CHECK_EQ(c.calls, 1);
    Snapshot before = snapshot(list);
    CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(200, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_UNCHANGED(list, before);
    CHECK_EQ(c.calls, 1);
    /* A request no region could hold never reaches the upstream. */
    CHECK_EQ(freelist_set_limit(list, -1), 0);
    CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(INT64_C(1) << 41, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_UNCHANGED(list, before);
    CHECK_EQ(c.calls, 1);
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(freelist_free(list), 0);
    CHECK_EQ(c.live, 0);

    /* The upstream refuses its second chunk: OUT_OF_MEMORY, unchanged. */
    list = growing(64, counting(&c, 1), 256);
    CHECK_NE(freelist_alloc(list, layout_new(200, 8)).ptr, 0);
    before = snapshot(list);
    CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(200, 8)), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_UNCHANGED(list, before);
    CHECK_EQ(c.live, 1);
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(freelist_free(list), 0);
    CHECK_EQ(c.live, 0);
}

TEST(freelist_set_upstream_refuses_bad_arguments) {
    Counting c;
    FreeListAllocator *list = freelist_new(256);
    PoolAllocator *pool = pool_new(64, 4);
    CHECK(list != NULL && pool != NULL);
    VaisAllocator up = counting(&c, -1);
    VaisAllocator no_vtable = {&c, NULL};
    CHECK_STATUS_FAILS(freelist_set_upstream(NULL, up, 0), VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_STATUS_FAILS(freelist_set_upstream((FreeListAllocator *)pool, up, 0),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(freelist_set_upstream(list, up, -1), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(freelist_set_upstream(list, up, INT64_C(1) << 41),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(freelist_set_upstream(list, no_vtable, 0), VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_STATUS_FAILS(freelist_set_upstream(list, freelist_as_allocator(list), 0),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    /* Nothing was set: the list does not grow. */
    CHECK_EQ(allocator_caps(freelist_as_allocator(list)) & VAIS_ALLOC_CAP_GROWS, 0);
    CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(1000, 8)), VAIS_ALLOC_E_EXHAUSTED);
    /* Another of ours is a fine upstream: here a second free list. */
    FreeListAllocator *parent = freelist_new(1 << 20);
    CHECK_EQ(freelist_set_upstream(list, freelist_as_allocator(parent), 4096), 0);
    CHECK_NE(freelist_alloc(list, layout_new(1000, 8)).ptr, 0);
    CHECK_GT(freelist_total_allocated(parent), 4096);
    /* While its chunks are held, no other upstream. */
    CHECK_STATUS_FAILS(freelist_set_upstream(list, up, 0), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(freelist_free(list), 0);
    CHECK_EQ(freelist_total_allocated(parent), 0);
    CHECK_EQ(freelist_reset(parent), 0);
    CHECK_EQ(freelist_free(parent), 0);
    CHECK_EQ(pool_reset(pool), 0);
    CHECK_EQ(pool_free(pool), 0);
    /* The other new functions check their handle too. */
    CHECK_STATUS_FAILS(freelist_add_region(NULL, 64, 64), VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_STATUS_FAILS(freelist_set_limit(NULL, -1), VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_STATUS_FAILS(freelist_capacity(NULL), VAIS_ALLOC_E_NULL_HANDLE);
}

TEST(freelist_add_region_uses_caller_memory_and_never_frees_it) {
    enum { SIZE = 70000 };
    unsigned char *memory = malloc(SIZE);
    CHECK(memory != NULL);
    if (memory == NULL) return;
    int64_t base = (int64_t)(intptr_t)memory;
    FreeListAllocator *list = freelist_new(64);
    int64_t own = freelist_capacity(list);
    /* A limit at the own buffer does not count caller regions. */
    CHECK_EQ(freelist_set_limit(list, 64), 0);
    Snapshot before = snapshot(list);
    CHECK_STATUS_FAILS(freelist_add_region(list, 0, 4096), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(freelist_add_region(list, base, -1), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(freelist_add_region(list, base + 3, 30), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(freelist_add_region(list, base, INT64_C(1) << 41),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(freelist_add_region(list, INT64_MAX - 100, 4096),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_UNCHANGED(list, before);
    CHECK_EQ(freelist_add_region(list, base + 3, 30000), 0);
    /* Overlapping it, in part or whole. */
    before = snapshot(list);
    CHECK_STATUS_FAILS(freelist_add_region(list, base + 3, 30000), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(freelist_add_region(list, base, 100), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(freelist_add_region(list, base + 29000, 2000), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_UNCHANGED(list, before);
    CHECK_EQ(freelist_add_region(list, base + 40000, 30000), 0);
    int64_t capacity = freelist_capacity(list);
    CHECK_GE(capacity, own + 2 * (30000 - 38));
    CHECK_BALANCED(list);
    /* Blocks come from the caller's memory, until it is full. */
    static Allocation blocks[200];
    int n = 0;
    for (;;) {
        Allocation a = freelist_alloc(list, layout_new(500, 32));
        if (a.ptr == 0) break;
        CHECK(a.ptr >= base && a.ptr + a.size <= base + SIZE);
        CHECK_EQ(a.ptr % 32, 0);
        if (n < 200) blocks[n++] = a;
    }
    CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_GE(n, 100);
    CHECK(all_disjoint(blocks, n));
    /* Reset keeps the caller's regions. */
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(freelist_capacity(list), capacity);
    CHECK_EQ(freelist_total_allocated(list), 0);
    Allocation big = freelist_alloc(list, layout_new(20000, 8));
    CHECK(big.ptr >= base && big.ptr < base + SIZE);
    /* Drop forgets them: capacity 0, their pointers foreign. */
    CHECK_EQ(freelist_reset(list), 0); /* every block freed: no leak */
    CHECK_EQ(freelist_drop(list), 0);
    CHECK_EQ(freelist_capacity(list), 0);
    CHECK_STATUS_FAILS(freelist_dealloc(list, big.ptr), VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(freelist_free(list), 0);
    /* Still the caller's: a library free would make this a double free
     * (ASan and Valgrind report it). */
    memory[0] = 1;
    free(memory);
}

TEST(freelist_growth_refuses_bad_frees_in_every_region) {
    Counting c;
    FreeListAllocator *list = growing(512, counting(&c, -1), 512);
    enum { N = 60 };
    Allocation blocks[N];
    for (int i = 0; i < N; i++) {
        blocks[i] = freelist_alloc(list, layout_new(100, 8));
        CHECK_NE(blocks[i].ptr, 0);
    }
    CHECK_GE(c.calls, 3);
    /* Every other block freed: its second free, and pointers into its
     * live neighbour, are refused with nothing changed. */
    for (int i = 0; i + 1 < N; i += 2) {
        CHECK_EQ(freelist_dealloc(list, blocks[i].ptr), 0);
        Snapshot before = snapshot(list);
        vais_alloc_clear_error();
        int64_t again = freelist_dealloc(list, blocks[i].ptr);
        CHECK(again == VAIS_ALLOC_E_DOUBLE_FREE || again == VAIS_ALLOC_E_FOREIGN_POINTER);
        int64_t live = blocks[i + 1].ptr;
        CHECK_STATUS_FAILS(freelist_dealloc(list, live + 8), VAIS_ALLOC_E_FOREIGN_POINTER);
        CHECK_STATUS_FAILS(freelist_dealloc(list, live + 16), VAIS_ALLOC_E_FOREIGN_POINTER);
        CHECK_STATUS_FAILS(freelist_dealloc(list, live + 1), VAIS_ALLOC_E_FOREIGN_POINTER);
        CHECK_UNCHANGED(list, before);
    }
    /* Memory the list never held. */
    void *elsewhere = malloc(64);
    Snapshot before = snapshot(list);
    CHECK_STATUS_FAILS(freelist_dealloc(list, (int64_t)(intptr_t)elsewhere + 16),
                       VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_STATUS_FAILS(freelist_dealloc(list, 16), VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_STATUS_FAILS(freelist_dealloc(list, INT64_MAX & ~15), VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_STATUS_FAILS(freelist_dealloc(list, -16), VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_ALLOC_FAILS(freelist_realloc(list, (int64_t)(intptr_t)elsewhere, layout_new(8, 8)),
                      VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_UNCHANGED(list, before);
    free(elsewhere);
    for (int i = 1; i < N; i += 2) CHECK_EQ(freelist_dealloc(list, blocks[i].ptr), 0);
    CHECK_EQ(freelist_total_allocated(list), 0);
    /* After a reset every old pointer is refused. */
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(c.live, 1);
    for (int i = 0; i < N; i++) {
        vais_alloc_clear_error();
        CHECK_LT(freelist_dealloc(list, blocks[i].ptr), 0);
    }
    CHECK_EQ(freelist_free(list), 0);
    CHECK_EQ(c.live, 0);
}
