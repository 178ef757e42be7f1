/* bump_* growing from an upstream (API.md, "Growing from an upstream") and
 * checkpoints ("Checkpoints (bump and stack)"): a counting upstream written
 * here as a user vtable, chunk growth, reset and free balance, limits,
 * upstream refusals, every kind of upstream, caps, marks. */
#include "harness.h"
#include "vais_alloc.h"

#include <stdlib.h>

#include "counting_upstream.h"

/* ---- helpers ---------------------------------------------------------------- */

#define GROWING_CAPS                                                                      \
    (VAIS_ALLOC_CAP_FREE_LAST | VAIS_ALLOC_CAP_RESIZE | VAIS_ALLOC_CAP_RESET |            \
     VAIS_ALLOC_CAP_ANY_SIZE | VAIS_ALLOC_CAP_ANY_ALIGN | VAIS_ALLOC_CAP_GROWS)

static int64_t address_of(const void *p) { return (int64_t)(intptr_t)p; }

/* What a refused call must leave as it was. */
typedef struct {
    int64_t remaining, total, capacity, peak;
} BumpState;

static BumpState state_of(BumpAllocator *b) {
    BumpState s = {bump_remaining(b), bump_total_allocated(b), bump_capacity(b), bump_peak(b)};
    return s;
}

#define CHECK_STATE(b, s)                                                 \
    do {                                                                  \
        BumpState now_ = state_of(b);                                     \
        CHECK_EQ(now_.remaining, (s).remaining);                          \
        CHECK_EQ(now_.total, (s).total);                                  \
        CHECK_EQ(now_.capacity, (s).capacity);                            \
        CHECK_EQ(now_.peak, (s).peak);                                    \
    } while (0)

/* A small block with a pattern: proof that a refused call disturbed nothing. */
typedef struct {
    Allocation block;
    unsigned seed;
} Witness;

static Witness witness(BumpAllocator *b, int64_t size, unsigned seed) {
    Witness w = {bump_alloc(b, layout_new(size, 8)), seed};
    CHECK_NE(w.block.ptr, 0);
    if (w.block.ptr != 0) fill_pattern(w.block.ptr, w.block.size, seed);
    return w;
}

static int intact(const Witness *w) {
    return w->block.ptr != 0 && pattern_intact(w->block.ptr, w->block.size, w->seed);
}

/* The size and alignment of small request i: 16..64 bytes, aligned 1..16. */
static Layout small_layout(int64_t i) {
    return layout_new(16 + (i * 7919) % 49, INT64_C(1) << (i % 5));
}

/* ---- (a) a million small blocks, a logarithmic number of chunks ------------ */

#define MILLION 1000000
#define SAMPLE_EVERY 997
#define SAMPLES (MILLION / SAMPLE_EVERY + 1)

static int by_ptr(const void *x, const void *y) {
    const Allocation *a = x, *b = y;
    return (a->ptr > b->ptr) - (a->ptr < b->ptr);
}

TEST(bump_growth_a_million_small_blocks_take_a_logarithmic_number_of_chunks) {
    Counting *up = counting_new();
    BumpAllocator *b = bump_new(0);
    CHECK(b != NULL);
    CHECK_EQ(bump_set_upstream(b, counting_allocator(up), 4096), 0);
    CHECK_EQ(up->calls, 0); /* nothing is asked before it is needed */

    static Allocation samples[SAMPLES];
    static int64_t used_end[COUNTING_MAX_CHUNKS]; /* per live slot: end of its last block */
    memset(used_end, 0, sizeof used_end);
    int nsamples = 0;
    int64_t total = 0, misaligned = 0, outside = 0, overlapping = 0, wrong_size = 0, failed = 0;
    int cached = -1;
    for (int64_t i = 0; i < MILLION; i++) {
        Layout l = small_layout(i);
        Allocation a = bump_alloc(b, l);
        if (a.ptr == 0) {
            failed++;
            break;
        }
        wrong_size += a.size != l.size;
        misaligned += a.ptr % l.align != 0;
        /* Inside memory the arena holds: one of its live chunks. */
        int c = cached;
        if (c < 0 || !(a.ptr >= up->live[c].ptr && a.ptr + a.size <= up->live[c].ptr + up->live[c].size))
            c = counting_holds(up, a.ptr, a.size);
        if (c < 0) {
            outside++;
            continue;
        }
        cached = c;
        /* Disjoint from every earlier block: within a chunk the arena only
         * moves up (no reset, no free happens here). */
        overlapping += a.ptr < used_end[c];
        used_end[c] = a.ptr + a.size;
        total += l.size;
        if (i % SAMPLE_EVERY == 0 && nsamples < SAMPLES) {
            fill_pattern(a.ptr, a.size, (unsigned)nsamples);
            samples[nsamples++] = a;
        }
    }
    CHECK_EQ(failed, 0);
    CHECK_EQ(wrong_size, 0);
    CHECK_EQ(misaligned, 0);
    CHECK_EQ(outside, 0);
    CHECK_EQ(overlapping, 0);

    /* About 45 MB from chunks doubling from 4 KiB: 14 calls. */
    CHECK_GE(up->calls, 10);
    CHECK_LE(up->calls, 20);
    CHECK_EQ(up->live_chunks, up->calls);
    CHECK_EQ(up->bad_frees, 0);
    /* Small requests: the chunk sizes are exactly 4096 * 2^k. */
    for (int64_t k = 0; k < up->calls && k < COUNTING_MAX_CHUNKS; k++)
        CHECK_EQ(up->sizes[k], INT64_C(4096) << k);
    CHECK_EQ(bump_capacity(b), up->live_bytes);
    CHECK_EQ(bump_total_allocated(b), total);
    CHECK_EQ(bump_peak(b), total);
    CHECK_LE(bump_remaining(b), up->last_size);

    /* The sample: patterns intact, owned, pairwise disjoint. */
    for (int s = 0; s < nsamples; s++) {
        CHECK(pattern_intact(samples[s].ptr, samples[s].size, (unsigned)s));
        CHECK_EQ(bump_owns(b, samples[s].ptr), 1);
    }
    for (int s = 0; s < nsamples; s++) fill_pattern(samples[s].ptr, samples[s].size, 0x5A);
    qsort(samples, (size_t)nsamples, sizeof samples[0], by_ptr);
    for (int s = 1; s < nsamples; s++)
        CHECK_LE(samples[s - 1].ptr + samples[s - 1].size, samples[s].ptr);
    for (int s = 0; s < nsamples; s++) CHECK(pattern_intact(samples[s].ptr, samples[s].size, 0x5A));

    CHECK_EQ(bump_free(b), 0);
    counting_done(up); /* balance zero */
}

/* ---- (b) reset keeps the largest chunk; free gives everything back --------- */

/* Allocates n small blocks; each inside the own buffer or a live chunk. */
static int64_t small_round(BumpAllocator *b, const Counting *up, int64_t own_start,
                           int64_t own_capacity, int64_t n) {
    int64_t total = 0, bad = 0;
    for (int64_t i = 0; i < n; i++) {
        Layout l = small_layout(i);
        Allocation a = bump_alloc(b, l);
        if (a.ptr == 0) {
            HARNESS_FAIL("round: request %" PRId64 " refused (error %" PRId64 ")", i,
                         vais_alloc_last_error());
            return total;
        }
        int in_own = a.ptr >= own_start && a.ptr + a.size <= own_start + own_capacity;
        bad += a.ptr % l.align != 0 || (!in_own && counting_holds(up, a.ptr, a.size) < 0);
        total += l.size;
    }
    CHECK_EQ(bad, 0);
    return total;
}

TEST(bump_growth_reset_keeps_the_largest_chunk_and_free_gives_everything_back) {
    Counting *up = counting_new();
    BumpAllocator *b = bump_new(256);
    CHECK(b != NULL);
    /* The own buffer's start: an empty arena puts its first byte there. */
    int64_t own = bump_alloc(b, layout_new(0, 1)).ptr;
    CHECK_NE(own, 0);
    CHECK_EQ(bump_reset(b), 0);
    CHECK_EQ(bump_set_upstream(b, counting_allocator(up), 4096), 0);

    enum { ROUND = 20000 };
    int64_t total = small_round(b, up, own, 256, ROUND);
    int64_t first_calls = up->calls;
    CHECK_GE(first_calls, 5);
    CHECK_EQ(bump_total_allocated(b), total);
    CHECK_EQ(bump_capacity(b), 256 + up->live_bytes);
    int64_t peak = bump_peak(b);
    CHECK_EQ(peak, total);

    CHECK_EQ(bump_reset(b), 0);
    /* Exactly one chunk kept: the largest; the others went back. */
    CHECK_EQ(up->live_chunks, 1);
    CHECK_EQ(up->live_bytes, up->largest);
    CHECK_EQ(bump_capacity(b), 256 + up->largest);
    CHECK_EQ(bump_remaining(b), 256 + up->largest);
    CHECK_EQ(bump_total_allocated(b), 0);
    CHECK_EQ(bump_peak(b), peak);
    /* It starts again at the own buffer. */
    Allocation again = bump_alloc(b, layout_new(1, 1));
    CHECK_EQ(again.ptr, own);
    CHECK_EQ(bump_reset(b), 0);

    /* The kept chunk is at least half of what the round needed, so the
     * second identical round asks for one chunk at most; from then on the
     * kept chunk holds a whole round and upstream is never called again. */
    CHECK_EQ(small_round(b, up, own, 256, ROUND), total);
    CHECK_LE(up->calls, first_calls + 1);
    CHECK_EQ(bump_reset(b), 0);
    CHECK_EQ(up->live_chunks, 1);
    CHECK_EQ(up->live_bytes, up->largest);
    int64_t settled_calls = up->calls;
    for (int round = 0; round < 5; round++) {
        CHECK_EQ(small_round(b, up, own, 256, ROUND), total);
        CHECK_EQ(up->calls, settled_calls);
        CHECK_EQ(bump_reset(b), 0);
        CHECK_EQ(up->live_chunks, 1);
        CHECK_EQ(bump_capacity(b), 256 + up->live_bytes);
    }
    CHECK_EQ(bump_peak(b), peak);

    /* bump_drop gives every chunk back, and the arena still grows. */
    CHECK_EQ(bump_drop(b), 0);
    CHECK_EQ(up->live_chunks, 0);
    CHECK_EQ(up->live_bytes, 0);
    CHECK_EQ(bump_capacity(b), 0);
    CHECK_EQ(bump_remaining(b), 0);
    Allocation after_drop = bump_alloc(b, layout_new(100, 8));
    CHECK_NE(after_drop.ptr, 0);
    CHECK_EQ(up->live_chunks, 1);
    CHECK_GE(counting_holds(up, after_drop.ptr, 100), 0);

    CHECK_EQ(bump_free(b), 0);
    counting_done(up);
}

TEST(bump_growth_an_oversized_request_gets_a_chunk_of_its_own) {
    Counting *up = counting_new();
    BumpAllocator *b = bump_new(128);
    CHECK_EQ(bump_set_upstream(b, counting_allocator(up), 4096), 0);
    Witness w = witness(b, 64, 1);
    /* 1 MiB aligned to 4096: one chunk that fits it, whatever the padding. */
    Allocation big = bump_alloc(b, layout_new(1 << 20, 4096));
    CHECK_NE(big.ptr, 0);
    CHECK_EQ(big.ptr % 4096, 0);
    CHECK_EQ(big.size, 1 << 20);
    CHECK_EQ(up->calls, 1);
    CHECK_GE(up->last_size, (1 << 20));
    CHECK_GE(counting_holds(up, big.ptr, big.size), 0);
    if (big.ptr != 0) fill_pattern(big.ptr, big.size, 2);
    /* Small requests go on from a chunk of the geometric sequence. */
    Allocation small = bump_alloc(b, layout_new(4000, 16));
    CHECK_NE(small.ptr, 0);
    CHECK_GE(counting_holds(up, small.ptr, small.size), 0);
    CHECK(intact(&w));
    if (big.ptr != 0) CHECK(pattern_intact(big.ptr, big.size, 2));
    CHECK_EQ(bump_capacity(b), 128 + up->live_bytes);
    CHECK_EQ(bump_free(b), 0);
    counting_done(up);
}

TEST(bump_growth_default_first_chunk_is_64_kib) {
    Counting *up = counting_new();
    BumpAllocator *b = bump_new(0);
    CHECK_EQ(bump_set_upstream(b, counting_allocator(up), 0), 0);
    CHECK_NE(bump_alloc(b, layout_new(1, 1)).ptr, 0);
    CHECK_EQ(up->calls, 1);
    CHECK_EQ(up->sizes[0], 64 << 10);
    CHECK_EQ(bump_capacity(b), 64 << 10);
    CHECK_EQ(bump_remaining(b), (64 << 10) - 1);
    /* And it doubles. */
    CHECK_NE(bump_alloc(b, layout_new(64 << 10, 1)).ptr, 0);
    CHECK_EQ(up->calls, 2);
    CHECK_EQ(up->sizes[1], 128 << 10);
    CHECK_EQ(bump_free(b), 0);
    counting_done(up);
}

/* ---- (c) the limit --------------------------------------------------------- */

TEST(bump_growth_limit_refuses_with_exhausted_and_nothing_changed) {
    Counting *up = counting_new();
    BumpAllocator *b = bump_new(256);
    CHECK_EQ(bump_set_upstream(b, counting_allocator(up), 4096), 0);
    /* Below the own buffer: refused, nothing set. */
    CHECK_STATUS_FAILS(bump_set_limit(b, 255), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(bump_set_limit(b, 256 + 4096), 0);
    Witness w = witness(b, 100, 3);
    Allocation a = bump_alloc(b, layout_new(1000, 8)); /* the 4096 chunk */
    CHECK_NE(a.ptr, 0);
    CHECK_EQ(up->calls, 1);
    CHECK_EQ(bump_capacity(b), 256 + 4096);

    /* The next chunk (8192) would pass the limit. */
    BumpState before = state_of(b);
    CHECK_ALLOC_FAILS(bump_alloc(b, layout_new(4000, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(bump_alloc_zeroed(b, layout_new(4000, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(bump_alloc(b, layout_new(1 << 20, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(allocator_alloc(bump_as_allocator(b), layout_new(4000, 8)),
                      VAIS_ALLOC_E_EXHAUSTED);
    CHECK_STATE(b, before);
    CHECK_EQ(up->calls, 1);
    CHECK_EQ(up->refusals, 0); /* the upstream was not even asked */
    CHECK(intact(&w));
    /* What still fits the held chunk is served. */
    Allocation fits = bump_alloc(b, layout_new(2000, 8));
    CHECK_NE(fits.ptr, 0);
    CHECK_EQ(up->calls, 1);
    before = state_of(b);

    /* A limit below what is held: INVALID_ARGUMENT, the old one stays. */
    CHECK_STATUS_FAILS(bump_set_limit(b, 100), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(bump_set_limit(b, 256 + 4095), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(bump_set_limit(b, -2), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(bump_set_limit(b, INT64_MIN), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATE(b, before);
    CHECK_ALLOC_FAILS(bump_alloc(b, layout_new(4000, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_STATE(b, before);

    /* Exactly what the next chunk needs: served; one byte more is not. */
    CHECK_EQ(bump_set_limit(b, 256 + 4096 + 8192), 0);
    CHECK_NE(bump_alloc(b, layout_new(4000, 8)).ptr, 0);
    CHECK_EQ(up->calls, 2);
    CHECK_EQ(bump_capacity(b), 256 + 4096 + 8192);
    before = state_of(b);
    CHECK_ALLOC_FAILS(bump_alloc(b, layout_new(8000, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_STATE(b, before);

    /* -1 removes the limit. */
    CHECK_EQ(bump_set_limit(b, -1), 0);
    CHECK_NE(bump_alloc(b, layout_new(8000, 8)).ptr, 0);
    CHECK_NE(bump_alloc(b, layout_new(1 << 20, 8)).ptr, 0);
    CHECK_EQ(up->calls, 4);
    CHECK(intact(&w));

    /* A limit on what is held exactly is fine; after a reset, less is held. */
    CHECK_EQ(bump_set_limit(b, bump_capacity(b)), 0);
    CHECK_EQ(bump_reset(b), 0);
    CHECK_EQ(bump_set_limit(b, bump_capacity(b)), 0);
    CHECK_STATUS_FAILS(bump_set_limit(b, bump_capacity(b) - 1), VAIS_ALLOC_E_INVALID_ARGUMENT);

    /* Refusals of a bad handle. */
    CHECK_STATUS_FAILS(bump_set_limit(NULL, -1), VAIS_ALLOC_E_NULL_HANDLE);
    PoolAllocator *pool = pool_new(64, 4);
    CHECK_STATUS_FAILS(bump_set_limit((BumpAllocator *)pool, -1), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(pool_free(pool), 0);

    CHECK_EQ(bump_free(b), 0);
    counting_done(up);
}

TEST(bump_growth_limit_without_upstream) {
    BumpAllocator *b = bump_new(1024);
    CHECK_STATUS_FAILS(bump_set_limit(b, 1023), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(bump_set_limit(b, 1024), 0);
    CHECK_NE(bump_alloc(b, layout_new(1024, 1)).ptr, 0);
    CHECK_ALLOC_FAILS(bump_alloc(b, layout_new(1, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_EQ(bump_set_limit(b, -1), 0);
    CHECK_EQ(bump_free(b), 0);
}

/* ---- (d) the upstream refuses ------------------------------------------------ */

TEST(bump_growth_upstream_refusal_is_out_of_memory_with_nothing_changed) {
    Counting *up = counting_new();
    BumpAllocator *b = bump_new(128);
    CHECK_EQ(bump_set_upstream(b, counting_allocator(up), 1024), 0);
    Witness w = witness(b, 100, 4);

    up->refuse = 1;
    BumpState before = state_of(b);
    CHECK_ALLOC_FAILS(bump_alloc(b, layout_new(100, 8)), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_ALLOC_FAILS(bump_alloc_zeroed(b, layout_new(100, 8)), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_ALLOC_FAILS(bump_alloc(b, layout_new(1 << 20, 64)), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_ALLOC_FAILS(allocator_alloc(bump_as_allocator(b), layout_new(100, 8)),
                      VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_ALLOC_FAILS(allocator_realloc(bump_as_allocator(b), w.block.ptr, layout_new(100, 8),
                                        layout_new(5000, 8)),
                      VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_EQ(up->refusals, 5);
    CHECK_EQ(up->calls, 0);
    CHECK_STATE(b, before);
    CHECK(intact(&w));
    CHECK_EQ(bump_owns(b, w.block.ptr), 1);
    /* What fits the own buffer is still served. */
    Allocation fits = bump_alloc(b, layout_new(20, 4));
    CHECK_NE(fits.ptr, 0);

    /* The upstream serves again: so does the arena, and the failed
     * attempts did not change the chunk sequence. */
    up->refuse = 0;
    Allocation a = bump_alloc(b, layout_new(100, 8));
    CHECK_NE(a.ptr, 0);
    CHECK_EQ(up->calls, 1);
    CHECK_EQ(up->sizes[0], 1024);
    CHECK(intact(&w));

    /* A refusal once chunks are held changes nothing either. */
    CHECK_NE(bump_alloc(b, layout_new(900, 8)).ptr, 0);
    up->refuse = 1;
    before = state_of(b);
    CHECK_ALLOC_FAILS(bump_alloc(b, layout_new(1000, 8)), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_STATE(b, before);
    CHECK_EQ(up->live_chunks, 1);
    CHECK(intact(&w));
    up->refuse = 0;
    CHECK_NE(bump_alloc(b, layout_new(1000, 8)).ptr, 0);
    CHECK_EQ(up->sizes[1], 2048);

    CHECK_EQ(bump_free(b), 0);
    counting_done(up);
}

/* An upstream that breaks rule 6 (a block smaller than asked) is refused
 * like a failing one: OUT_OF_MEMORY, the arena unchanged. The block it did
 * hand out must go back to it, or it leaks. */
TEST(bump_growth_a_short_chunk_is_refused_and_given_back) {
    Counting *up = counting_new();
    BumpAllocator *b = bump_new(64);
    CHECK_EQ(bump_set_upstream(b, counting_allocator(up), 4096), 0);
    Witness w = witness(b, 32, 13);
    up->short_by = 1;
    BumpState before = state_of(b);
    CHECK_ALLOC_FAILS(bump_alloc(b, layout_new(100, 8)), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_STATE(b, before);
    CHECK(intact(&w));
    CHECK_EQ(up->calls, 1);
    CHECK_EQ(up->live_chunks, 0); /* given back */
    CHECK_EQ(up->live_bytes, 0);
    up->short_by = 0;
    CHECK_NE(bump_alloc(b, layout_new(100, 8)).ptr, 0);
    CHECK_EQ(bump_free(b), 0);
    counting_done(up);
}

/* ---- (e) bump_set_upstream refusals ------------------------------------------- */

static Allocation no_alloc(void *ctx, Layout layout) {
    (void)ctx;
    (void)layout;
    Allocation none = {0, 0};
    return none;
}
static int64_t no_free(void *ctx, int64_t ptr, Layout layout) {
    (void)ctx;
    (void)ptr;
    (void)layout;
    return 0;
}

/* The arena does not grow: the next request past its buffer is EXHAUSTED. */
static void check_not_growing(BumpAllocator *b) {
    CHECK_EQ(allocator_caps(bump_as_allocator(b)) & VAIS_ALLOC_CAP_GROWS, 0);
    BumpState before = state_of(b);
    CHECK_ALLOC_FAILS(bump_alloc(b, layout_new(4096, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_STATE(b, before);
}

TEST(bump_growth_set_upstream_refuses_bad_upstreams) {
    Counting *up = counting_new();
    BumpAllocator *b = bump_new(1024);
    Witness w = witness(b, 64, 5);

    VaisAllocator no_vtable = {up, NULL};
    CHECK_STATUS_FAILS(bump_set_upstream(b, no_vtable, 4096), VAIS_ALLOC_E_NULL_HANDLE);
    check_not_growing(b);

    static const int64_t versions[] = {0, VAIS_ALLOCATOR_VTABLE_VERSION + 1, -1, INT64_MIN};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        VaisAllocatorVtable odd = counting_vtable;
        odd.version = versions[i];
        VaisAllocator bad = {up, &odd};
        CHECK_STATUS_FAILS(bump_set_upstream(b, bad, 4096), VAIS_ALLOC_E_INVALID_ARGUMENT);
        check_not_growing(b);
    }

    VaisAllocatorVtable no_alloc_entry = counting_vtable;
    no_alloc_entry.alloc = NULL;
    VaisAllocator without_alloc = {up, &no_alloc_entry};
    CHECK_STATUS_FAILS(bump_set_upstream(b, without_alloc, 4096), VAIS_ALLOC_E_INVALID_ARGUMENT);
    check_not_growing(b);

    VaisAllocatorVtable no_free_entry = counting_vtable;
    no_free_entry.free = NULL;
    VaisAllocator without_free = {up, &no_free_entry};
    CHECK_STATUS_FAILS(bump_set_upstream(b, without_free, 4096), VAIS_ALLOC_E_INVALID_ARGUMENT);
    check_not_growing(b);

    /* Its own upstream. */
    CHECK_STATUS_FAILS(bump_set_upstream(b, bump_as_allocator(b), 4096),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    check_not_growing(b);

    /* A negative chunk size. */
    CHECK_STATUS_FAILS(bump_set_upstream(b, counting_allocator(up), -1),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(bump_set_upstream(b, counting_allocator(up), INT64_MIN),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    check_not_growing(b);

    /* Bad handles. */
    CHECK_STATUS_FAILS(bump_set_upstream(NULL, counting_allocator(up), 4096),
                       VAIS_ALLOC_E_NULL_HANDLE);
    PoolAllocator *pool = pool_new(64, 4);
    CHECK_STATUS_FAILS(bump_set_upstream((BumpAllocator *)pool, counting_allocator(up), 4096),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(pool_free(pool), 0);
    CHECK(intact(&w));
    CHECK_EQ(up->calls + up->refusals, 0); /* never asked */

    /* A good one is accepted; while its chunks are held, another is not. */
    CHECK_EQ(bump_set_upstream(b, counting_allocator(up), 4096), 0);
    CHECK_NE(bump_alloc(b, layout_new(4096, 8)).ptr, 0);
    CHECK_EQ(up->live_chunks, 1);
    VaisAllocatorVtable other = counting_vtable;
    other.alloc = no_alloc;
    other.free = no_free;
    VaisAllocator refusing = {up, &other};
    BumpState before = state_of(b);
    CHECK_STATUS_FAILS(bump_set_upstream(b, refusing, 4096), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(bump_set_upstream(b, global_as_allocator(), 4096),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATE(b, before);
    /* The refused one was not installed: growth still asks the counting one. */
    CHECK_NE(bump_alloc(b, layout_new(8000, 8)).ptr, 0);
    CHECK_EQ(up->calls, 2);
    CHECK(intact(&w));
    /* A drop gives every chunk back: then another upstream is accepted. */
    CHECK_EQ(bump_drop(b), 0);
    CHECK_EQ(up->live_chunks, 0);
    CHECK_EQ(bump_set_upstream(b, global_as_allocator(), 4096), 0);
    CHECK_NE(bump_alloc(b, layout_new(100, 8)).ptr, 0);
    CHECK_EQ(up->calls, 2);
    CHECK_EQ(bump_free(b), 0);
    counting_done(up);
}

/* ---- (f) upstreams of every kind ------------------------------------------------ */

TEST(bump_growth_from_the_global_allocator) {
    BumpAllocator *b = bump_new(0);
    CHECK_EQ(bump_set_upstream(b, global_as_allocator(), 0), 0);
    Allocation first = {0, 0};
    int64_t total = 0;
    for (int i = 0; i < 20000; i++) {
        Layout l = small_layout(i);
        Allocation a = bump_alloc(b, l);
        CHECK_NE(a.ptr, 0);
        if (a.ptr == 0) break;
        if (a.ptr % l.align != 0) CHECK_EQ(a.ptr % l.align, 0);
        if (i == 0) {
            first = a;
            fill_pattern(a.ptr, a.size, 6);
        }
        total += l.size;
    }
    CHECK_EQ(bump_total_allocated(b), total);
    /* 64 KiB, 128 KiB, 256 KiB, 512 KiB: about 880 KB. */
    CHECK_GE(bump_capacity(b), total);
    CHECK_LE(bump_capacity(b), (64 << 10) * 31);
    CHECK(pattern_intact(first.ptr, first.size, 6));
    Allocation big = bump_alloc(b, layout_new(3 << 20, 4096));
    CHECK_NE(big.ptr, 0);
    CHECK_EQ(big.ptr % 4096, 0);
    if (big.ptr != 0) memset((void *)(intptr_t)big.ptr, 0x77, (size_t)big.size);
    CHECK_EQ(bump_reset(b), 0);
    CHECK_GE(bump_capacity(b), 3 << 20);
    CHECK_EQ(bump_remaining(b), bump_capacity(b));
    CHECK_EQ(bump_free(b), 0); /* Valgrind / ASan: no chunk leaks */
}

TEST(bump_growth_from_a_free_list) {
    FreeListAllocator *list = freelist_new(1 << 22);
    CHECK(list != NULL);
    BumpAllocator *b = bump_new(0);
    CHECK_EQ(bump_set_upstream(b, freelist_as_allocator(list), 4096), 0);
    CHECK_EQ(freelist_total_allocated(list), 0);
    Witness w = witness(b, 64, 7);
    CHECK_GT(freelist_total_allocated(list), 4096);
    int64_t total = 64;
    for (int i = 0; i < 1000; i++) {
        Allocation a = bump_alloc(b, layout_new(1000, 16));
        CHECK_NE(a.ptr, 0);
        if (a.ptr == 0) break;
        CHECK_EQ(a.ptr % 16, 0);
        total += 1000;
    }
    CHECK_EQ(bump_total_allocated(b), total);
    int64_t held = freelist_total_allocated(list);
    CHECK_GE(held, bump_capacity(b)); /* headers on top */
    CHECK(intact(&w));
    /* Reset: one chunk stays in the free list. */
    CHECK_EQ(bump_reset(b), 0);
    int64_t kept = freelist_total_allocated(list);
    CHECK_GT(kept, 0);
    CHECK_LT(kept, held);
    CHECK_GE(kept, bump_capacity(b));

    /* The free list runs out: OUT_OF_MEMORY, the arena unchanged. */
    Witness w2 = witness(b, 64, 8);
    BumpState before = state_of(b);
    int64_t list_before = freelist_total_allocated(list);
    CHECK_ALLOC_FAILS(bump_alloc(b, layout_new(8 << 20, 16)), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_STATE(b, before);
    CHECK_EQ(freelist_total_allocated(list), list_before);
    CHECK(intact(&w2));

    CHECK_EQ(bump_free(b), 0);
    /* Balance zero: every chunk went back to the free list. */
    CHECK_EQ(freelist_total_allocated(list), 0);
    CHECK_EQ(freelist_remaining(list), 1 << 22);
    CHECK_EQ(freelist_free(list), 0);
}

TEST(bump_growth_from_another_bump_arena) {
    BumpAllocator *parent = bump_new(1 << 20);
    BumpAllocator *child = bump_new(0);
    CHECK_EQ(bump_set_upstream(child, bump_as_allocator(parent), 4096), 0);
    for (int i = 0; i < 100; i++) CHECK_NE(bump_alloc(child, layout_new(200, 8)).ptr, 0);
    /* 20000 bytes: chunks of 4, 8 and 16 KiB from the parent. */
    CHECK_EQ(bump_total_allocated(parent), 4096 + 8192 + 16384);
    CHECK_EQ(bump_capacity(child), 4096 + 8192 + 16384);
    CHECK_EQ(bump_free(child), 0);
    /* The parent's newest chunk rolled back; the others wait for its reset. */
    CHECK_LE(bump_total_allocated(parent), 4096 + 8192);
    CHECK_EQ(bump_reset(parent), 0);
    CHECK_EQ(bump_remaining(parent), 1 << 20);
    CHECK_EQ(bump_free(parent), 0);
}

TEST(bump_growth_from_buffer_arena_with_an_upstream) {
    enum { CAP = 1000, MIS = 5 };
    unsigned char *storage = malloc(CAP + 32);
    CHECK(storage != NULL);
    if (storage == NULL) return;
    memset(storage, 0xA5, CAP + 32);
    int64_t start = address_of(storage + MIS);
    Counting *up = counting_new();
    BumpAllocator *b = bump_from_buffer(start, CAP);
    CHECK(b != NULL);
    CHECK_EQ(bump_capacity(b), CAP);
    CHECK_EQ(bump_set_upstream(b, counting_allocator(up), 4096), 0);
    CHECK_EQ(allocator_caps(bump_as_allocator(b)), GROWING_CAPS);

    int in_buffer = 0, in_chunks = 0;
    Allocation blocks[50];
    for (int i = 0; i < 50; i++) {
        blocks[i] = bump_alloc(b, layout_new(64, 8));
        CHECK_NE(blocks[i].ptr, 0);
        CHECK_EQ(blocks[i].ptr % 8, 0);
        if (blocks[i].ptr >= start && blocks[i].ptr + 64 <= start + CAP)
            in_buffer++;
        else if (counting_holds(up, blocks[i].ptr, 64) >= 0)
            in_chunks++;
        fill_pattern(blocks[i].ptr, 64, (unsigned)i + 20);
    }
    CHECK_EQ(in_buffer + in_chunks, 50);
    CHECK_GE(in_buffer, 14); /* 1000 bytes hold 15 blocks of 64 (less the misalignment) */
    CHECK_LE(in_buffer, 15);
    CHECK_EQ(up->calls, 1);
    CHECK_EQ(bump_capacity(b), CAP + 4096);
    for (int i = 0; i < 50; i++) CHECK(pattern_intact(blocks[i].ptr, 64, (unsigned)i + 20));

    /* After a reset the caller buffer serves first again. */
    CHECK_EQ(bump_reset(b), 0);
    Allocation again = bump_alloc(b, layout_new(64, 8));
    CHECK_EQ(again.ptr, blocks[0].ptr);
    CHECK_EQ(bump_free(b), 0);
    counting_done(up);
    /* Nothing was written outside the caller's range, which is not freed. */
    for (int i = 0; i < MIS; i++) CHECK_EQ(storage[i], 0xA5);
    for (int i = MIS + CAP; i < CAP + 32; i++) CHECK_EQ(storage[i], 0xA5);
    free(storage);
}

/* ---- (g) caps ------------------------------------------------------------- */

TEST(bump_growth_caps_say_grows_once_an_upstream_is_set) {
    BumpAllocator *b = bump_new(64);
    int64_t plain = allocator_caps(bump_as_allocator(b));
    CHECK_EQ(plain, GROWING_CAPS & ~VAIS_ALLOC_CAP_GROWS);
    CHECK_EQ(plain & VAIS_ALLOC_CAP_GROWS, 0);
    CHECK_EQ(bump_set_upstream(b, global_as_allocator(), 4096), 0);
    CHECK_EQ(allocator_caps(bump_as_allocator(b)), GROWING_CAPS);
    /* It keeps its upstream through a drop. */
    CHECK_EQ(bump_drop(b), 0);
    CHECK_EQ(allocator_caps(bump_as_allocator(b)), GROWING_CAPS);
    CHECK_EQ(bump_free(b), 0);

    BumpAllocator *c = bump_new(64);
    CHECK_STATUS_FAILS(bump_set_upstream(c, global_as_allocator(), -5),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(allocator_caps(bump_as_allocator(c)), plain);
    CHECK_EQ(bump_free(c), 0);
}

/* ---- (h) checkpoints -------------------------------------------------------- */

TEST(bump_marks_nest_and_a_loop_releases_without_calling_upstream) {
    Counting *up = counting_new();
    BumpAllocator *b = bump_new(256);
    CHECK_EQ(bump_set_upstream(b, counting_allocator(up), 4096), 0);
    Witness w = witness(b, 100, 9);

    int64_t a = bump_mark(b);
    CHECK_GE(a, 0);
    BumpState at_a = state_of(b);
    Witness wa = witness(b, 100, 10);
    int64_t m = bump_mark(b);
    CHECK_GE(m, 0);
    CHECK_NE(m, a);
    BumpState at_b = state_of(b);

    int64_t calls_after[100] = {0};
    int64_t scope_peak = 0;
    for (int round = 0; round < 100; round++) {
        /* 20 blocks of 1000 bytes: across several chunks. */
        for (int i = 0; i < 20; i++) {
            Allocation x = bump_alloc(b, layout_new(1000, 8));
            CHECK_NE(x.ptr, 0);
            if (x.ptr != 0) fill_pattern(x.ptr, 1000, (unsigned)(round + i));
        }
        CHECK_EQ(bump_total_allocated(b), at_b.total + 20 * 1000);
        if (bump_total_allocated(b) > scope_peak) scope_peak = bump_total_allocated(b);
        CHECK_EQ(bump_release_to(b, m), 0);
        CHECK_EQ(bump_remaining(b), at_b.remaining);
        CHECK_EQ(bump_total_allocated(b), at_b.total);
        /* The chunks went back but one spare. */
        CHECK_LE(up->live_chunks, 1);
        CHECK_EQ(bump_capacity(b), 256 + up->live_bytes);
        calls_after[round] = up->calls;
        if (harness_current_failed) break;
    }
    /* The first round takes chunks of 4, 8 and 16 KiB; the second reuses
     * the 16 KiB spare and takes one more (32 KiB); that one holds a whole
     * round, and from then on upstream is not called. */
    CHECK_GE(calls_after[0], 3);
    for (int round = 2; round < 100; round++) CHECK_EQ(calls_after[round], calls_after[1]);
    CHECK(intact(&w));
    CHECK(intact(&wa));
    CHECK_GE(bump_peak(b), scope_peak);

    /* Release to A: B goes stale, nothing changes on a stale release. */
    CHECK_EQ(bump_release_to(b, a), 0);
    CHECK_EQ(bump_remaining(b), at_a.remaining);
    CHECK_EQ(bump_total_allocated(b), at_a.total);
    CHECK(intact(&w));
    BumpState before = state_of(b);
    int64_t calls = up->calls, live = up->live_chunks;
    CHECK_STATUS_FAILS(bump_release_to(b, m), VAIS_ALLOC_E_STALE_MARK);
    CHECK_STATE(b, before);
    CHECK_EQ(up->calls, calls);
    CHECK_EQ(up->live_chunks, live);
    /* A stays live. */
    CHECK_EQ(bump_release_to(b, a), 0);
    CHECK_STATE(b, before);
    CHECK(intact(&w));
    CHECK_GE(bump_peak(b), scope_peak);

    CHECK_EQ(bump_free(b), 0);
    counting_done(up);
}

TEST(bump_marks_stale_forged_and_foreign_are_refused) {
    Counting *up = counting_new();
    BumpAllocator *b = bump_new(512);
    BumpAllocator *other = bump_new(512);
    CHECK_EQ(bump_set_upstream(b, counting_allocator(up), 1024), 0);
    Witness w = witness(b, 64, 11);
    int64_t before_reset = bump_mark(b);
    CHECK_GE(before_reset, 0);
    CHECK_NE(bump_alloc(b, layout_new(2000, 8)).ptr, 0);
    CHECK_EQ(bump_reset(b), 0);
    w = witness(b, 64, 12);

    int64_t marks[3];
    marks[0] = bump_mark(b);
    CHECK_NE(bump_alloc(b, layout_new(600, 8)).ptr, 0); /* into the kept chunk */
    marks[1] = bump_mark(b);
    CHECK_NE(bump_alloc(b, layout_new(3000, 8)).ptr, 0); /* a new chunk */
    marks[2] = bump_mark(b);
    for (int i = 0; i < 3; i++) CHECK_GE(marks[i], 0);
    int64_t foreign[4];
    for (int i = 0; i < 4; i++) foreign[i] = bump_mark(other);
    BumpState before = state_of(b);
    int64_t calls = up->calls, live = up->live_chunks;

    /* Forged values, a mark before the reset, another arena's marks. */
    int64_t m = marks[2];
    const int64_t candidates[] = {
        -1, 0, 1, m + 1, m - 1, m ^ (INT64_C(1) << 40), m ^ (INT64_C(1) << 32),
        INT64_MAX, INT64_MIN, before_reset, marks[0] + 1, marks[1] ^ 1,
        foreign[0], foreign[1], foreign[2], foreign[3],
    };
    int tried = 0;
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        int is_live = 0;
        for (int k = 0; k < 3; k++) is_live |= candidates[i] == marks[k];
        if (is_live) continue; /* 0 or 1 can only pass as the live mark they equal */
        tried++;
        CHECK_STATUS_FAILS(bump_release_to(b, candidates[i]), VAIS_ALLOC_E_STALE_MARK);
        CHECK_STATE(b, before);
        if (harness_current_failed) fprintf(stderr, "  ^ value %" PRId64 "\n", candidates[i]);
    }
    CHECK_GE(tried, 14);
    CHECK_EQ(up->calls, calls);
    CHECK_EQ(up->live_chunks, live);
    CHECK(intact(&w));

    /* Bad handles. */
    CHECK_STATUS_FAILS(bump_mark(NULL), VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_STATUS_FAILS(bump_release_to(NULL, m), VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_STATUS_FAILS(bump_peak(NULL), VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_STATUS_FAILS(bump_capacity(NULL), VAIS_ALLOC_E_NULL_HANDLE);
    PoolAllocator *pool = pool_new(64, 4);
    CHECK_STATUS_FAILS(bump_mark((BumpAllocator *)pool), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(bump_release_to((BumpAllocator *)pool, m), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(pool_free(pool), 0);
    CHECK_STATE(b, before);

    /* The real marks still work, newest first. */
    CHECK_EQ(bump_release_to(b, marks[2]), 0);
    CHECK_STATE(b, before);
    CHECK_EQ(bump_release_to(b, marks[1]), 0);
    CHECK_STATUS_FAILS(bump_release_to(b, marks[2]), VAIS_ALLOC_E_STALE_MARK);
    CHECK_EQ(bump_release_to(b, marks[0]), 0);
    CHECK_STATUS_FAILS(bump_release_to(b, marks[1]), VAIS_ALLOC_E_STALE_MARK);
    CHECK(intact(&w));
    /* The other arena's own marks are its own. */
    CHECK_EQ(bump_release_to(other, foreign[3]), 0);
    CHECK_EQ(bump_release_to(other, foreign[0]), 0);
    CHECK_STATUS_FAILS(bump_release_to(other, foreign[1]), VAIS_ALLOC_E_STALE_MARK);
    /* A reset makes every mark stale; so does a drop. */
    CHECK_EQ(bump_reset(b), 0);
    CHECK_STATUS_FAILS(bump_release_to(b, marks[0]), VAIS_ALLOC_E_STALE_MARK);
    int64_t before_drop = bump_mark(other);
    CHECK_EQ(bump_drop(other), 0);
    CHECK_STATUS_FAILS(bump_release_to(other, before_drop), VAIS_ALLOC_E_STALE_MARK);

    CHECK_EQ(bump_free(other), 0);
    CHECK_EQ(bump_free(b), 0);
    counting_done(up);
}

/* API.md: release_to brings `remaining` back to its value at the mark. A
 * reset keeps the largest chunk held *beyond* the current region (the own
 * buffer), and a mark taken then must find it there again after a
 * release. */
TEST(bump_marks_after_a_reset_restore_remaining) {
    Counting *up = counting_new();
    BumpAllocator *b = bump_new(256);
    CHECK_EQ(bump_set_upstream(b, counting_allocator(up), 4096), 0);
    CHECK_NE(bump_alloc(b, layout_new(300, 8)).ptr, 0); /* a chunk of 4096 */
    CHECK_EQ(bump_reset(b), 0);
    CHECK_EQ(bump_remaining(b), 256 + 4096);

    /* A release right after the mark changes nothing. */
    int64_t m = bump_mark(b);
    BumpState at_m = state_of(b);
    CHECK_EQ(bump_release_to(b, m), 0);
    CHECK_STATE(b, at_m);

    /* And a scope that used the kept chunk gives it back to where it was. */
    CHECK_NE(bump_alloc(b, layout_new(1000, 8)).ptr, 0);
    CHECK_EQ(bump_release_to(b, m), 0);
    CHECK_EQ(bump_remaining(b), at_m.remaining);
    CHECK_EQ(bump_total_allocated(b), at_m.total);
    CHECK_EQ(bump_capacity(b), at_m.capacity);
    CHECK_EQ(up->calls, 1);

    CHECK_EQ(bump_free(b), 0);
    counting_done(up);
}

TEST(bump_marks_keep_a_spare_chunk_that_serves_without_upstream) {
    Counting *up = counting_new();
    BumpAllocator *b = bump_new(0);
    CHECK_EQ(bump_set_upstream(b, counting_allocator(up), 1024), 0);
    int64_t m = bump_mark(b);
    for (int i = 0; i < 10; i++) CHECK_NE(bump_alloc(b, layout_new(1000, 8)).ptr, 0);
    int64_t calls = up->calls;
    CHECK_EQ(bump_release_to(b, m), 0);
    CHECK_EQ(bump_total_allocated(b), 0);
    CHECK_EQ(up->live_chunks, 1);
    /* The upstream refuses, yet the spare serves a request that fits it. */
    up->refuse = 1;
    Allocation a = bump_alloc(b, layout_new(1000, 8));
    CHECK_NE(a.ptr, 0);
    CHECK_GE(counting_holds(up, a.ptr, 1000), 0);
    CHECK_EQ(up->calls, calls);
    up->refuse = 0;
    CHECK_EQ(bump_free(b), 0);
    counting_done(up);
}

TEST(bump_marks_cover_the_most_recent_block) {
    BumpAllocator *b = bump_new(256);
    Allocation x = bump_alloc(b, layout_new(16, 8));
    CHECK_NE(x.ptr, 0);
    int64_t m = bump_mark(b);
    BumpState at_m = state_of(b);
    /* Not rolled back: it lies below the mark. */
    CHECK_EQ(allocator_free(bump_as_allocator(b), x.ptr, layout_new(16, 8)), 0);
    CHECK_STATE(b, at_m);
    CHECK_EQ(bump_owns(b, x.ptr), 1);
    /* A block after the mark rolls back as usual (the peak remembers it). */
    Allocation y = bump_alloc(b, layout_new(32, 8));
    CHECK_NE(y.ptr, 0);
    CHECK_EQ(allocator_free(bump_as_allocator(b), y.ptr, layout_new(32, 8)), 0);
    at_m.peak = 48;
    CHECK_STATE(b, at_m);
    CHECK_EQ(bump_release_to(b, m), 0);
    CHECK_STATE(b, at_m);
    CHECK_EQ(bump_owns(b, x.ptr), 1);
    CHECK_EQ(bump_free(b), 0);
}

TEST(bump_peak_is_the_high_water_mark) {
    BumpAllocator *b = bump_new(4096);
    CHECK_EQ(bump_peak(b), 0);
    CHECK_NE(bump_alloc(b, layout_new(100, 8)).ptr, 0);
    int64_t m = bump_mark(b);
    CHECK_NE(bump_alloc(b, layout_new(1000, 8)).ptr, 0);
    Allocation y = bump_alloc(b, layout_new(500, 8));
    CHECK_NE(y.ptr, 0);
    CHECK_EQ(bump_peak(b), 1600);
    CHECK_EQ(allocator_free(bump_as_allocator(b), y.ptr, layout_new(500, 8)), 0);
    CHECK_EQ(bump_total_allocated(b), 1100);
    CHECK_EQ(bump_peak(b), 1600);
    CHECK_EQ(bump_release_to(b, m), 0);
    CHECK_EQ(bump_total_allocated(b), 100);
    CHECK_EQ(bump_peak(b), 1600);
    CHECK_EQ(bump_reset(b), 0);
    CHECK_EQ(bump_peak(b), 1600);
    CHECK_EQ(bump_drop(b), 0);
    CHECK_EQ(bump_peak(b), 1600);
    CHECK_EQ(bump_free(b), 0);
}
