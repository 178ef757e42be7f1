/* freelist_*: the front-end cache (issue #17), run with it on and off.
 *
 * The cache must be invisible but for speed and placement: a cached block
 * counts as free, a request fails only if it would with nothing cached, a
 * second free of a cached block is DOUBLE_FREE, freelist_set_cache(h, 0)
 * merges what is cached at once, and freelist_reset empties it and keeps
 * the setting. Each check here is one a broken cache would fail. */
#include "harness.h"
#include "vais_alloc.h"

#include <stdlib.h>

/* A block in use costs its usable size + 8 (see test_freelist.c). */
enum { CACHE_OVERHEAD = 8 };

#define CACHE_CAPACITY (64 * 1024)

static const int64_t cache_modes[] = {1, 0};
/* Runs the block once with the cache on, once with it off. */
#define FOR_EACH_MODE(on)                                                 \
    for (size_t mode_i_ = 0; mode_i_ < 2; mode_i_++)                      \
        for (int64_t on = cache_modes[mode_i_], once_ = 1; once_; once_ = 0)

/* Names the mode of a check that failed in it. */
#define MODE_DONE(on, failed_before)                                      \
    do {                                                                  \
        if (harness_current_failed && !(failed_before))                   \
            fprintf(stderr, "  ^ cache %s\n", (on) ? "on" : "off");       \
    } while (0)

static FreeListAllocator *cache_list(int64_t capacity, int64_t on) {
    FreeListAllocator *list = freelist_new(capacity);
    CHECK(list != NULL);
    if (list != NULL) CHECK_EQ(freelist_set_cache(list, on), 0);
    return list;
}

static int cache_disjoint(Allocation a, Allocation b) {
    return a.ptr + a.size <= b.ptr - CACHE_OVERHEAD || b.ptr + b.size <= a.ptr - CACHE_OVERHEAD;
}

/* Whether the cache of an empty list (fresh or just reset) is on, as
 * placement shows it: a freed 48-byte block stays whole while cached, so
 * the next, larger request comes from after it; off, it merges back into
 * the one free block and the larger request starts where it did. Resets
 * the list afterwards. Returns 1 (on), 0 (off) or -1 (a call failed). */
static int cache_observed_on(FreeListAllocator *list) {
    if (freelist_total_allocated(list) != 0) return -1;
    Allocation x = freelist_alloc(list, layout_new(48, 8));
    if (x.ptr == 0 || freelist_dealloc(list, x.ptr) != 0) return -1;
    Allocation y = freelist_alloc(list, layout_new(200, 8));
    if (y.ptr == 0) return -1;
    int on = y.ptr != x.ptr;
    if (freelist_reset(list) != 0) return -1;
    return on;
}

/* ---- 1. reuse ------------------------------------------------------------ */

TEST(freelist_cache_reuses_a_freed_block_and_counts_it_free) {
    const int64_t sizes[] = {1, 24, 40, 100, 500, 1032};
    FOR_EACH_MODE(on) {
        int failed = harness_current_failed;
        FreeListAllocator *list = cache_list(CACHE_CAPACITY, on);
        if (list == NULL) continue;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            Layout l = layout_new(sizes[i], 8);
            Allocation guard_before = freelist_alloc(list, layout_new(64, 8));
            Allocation a = freelist_alloc(list, l);
            Allocation guard_after = freelist_alloc(list, layout_new(64, 8));
            CHECK(guard_before.ptr != 0 && a.ptr != 0 && guard_after.ptr != 0);
            fill_pattern(guard_before.ptr, guard_before.size, 3);
            fill_pattern(guard_after.ptr, guard_after.size, 4);
            int64_t total = freelist_total_allocated(list);
            int64_t remaining = freelist_remaining(list);

            CHECK_EQ(freelist_dealloc(list, a.ptr), 0);
            /* Cached or merged, the block counts as free. */
            CHECK_EQ(freelist_total_allocated(list), total - a.size - CACHE_OVERHEAD);
            CHECK_EQ(freelist_remaining(list), remaining + a.size + CACHE_OVERHEAD);

            Allocation again = freelist_alloc(list, l);
            CHECK_NE(again.ptr, 0);
            CHECK_GE(again.size, sizes[i]);
            if (on) {
                CHECK_EQ(again.ptr, a.ptr);
                CHECK_EQ(again.size, a.size);
            }
            CHECK_EQ(freelist_total_allocated(list), total - a.size + again.size);
            CHECK_EQ(freelist_remaining(list), remaining + a.size - again.size);
            CHECK(pattern_intact(guard_before.ptr, guard_before.size, 3));
            CHECK(pattern_intact(guard_after.ptr, guard_after.size, 4));
            CHECK_EQ(freelist_dealloc(list, again.ptr), 0);
            CHECK_EQ(freelist_dealloc(list, guard_before.ptr), 0);
            CHECK_EQ(freelist_dealloc(list, guard_after.ptr), 0);
            CHECK_EQ(freelist_total_allocated(list), 0);
        }
        CHECK_EQ(freelist_free(list), 0);
        MODE_DONE(on, failed);
    }
}

/* A cached block serves an alignment its address meets, and never one it
 * does not. */
TEST(freelist_cache_honours_alignment) {
    FOR_EACH_MODE(on) {
        int failed = harness_current_failed;
        /* 6 blocks at each of 4 alignments up to 8192 need room. */
        FreeListAllocator *list = cache_list(16 * CACHE_CAPACITY, on);
        if (list == NULL) continue;
        /* A 4096-aligned block comes back for the same request. */
        Allocation big = freelist_alloc(list, layout_new(64, 4096));
        CHECK_NE(big.ptr, 0);
        CHECK_EQ(big.ptr % 4096, 0);
        CHECK_EQ(freelist_dealloc(list, big.ptr), 0);
        Allocation big2 = freelist_alloc(list, layout_new(64, 4096));
        CHECK_NE(big2.ptr, 0);
        CHECK_EQ(big2.ptr % 4096, 0);
        if (on) CHECK_EQ(big2.ptr, big.ptr);
        CHECK_EQ(freelist_dealloc(list, big2.ptr), 0);

        /* Many 48-byte blocks cached; 64-, 256-, 4096- and 8192-aligned
         * requests of that size get aligned blocks only. */
        enum { N = 40 };
        Allocation small[N];
        for (int i = 0; i < N; i++) {
            small[i] = freelist_alloc(list, layout_new(40, 8));
            CHECK_NE(small[i].ptr, 0);
        }
        for (int i = 0; i < N; i++) CHECK_EQ(freelist_dealloc(list, small[i].ptr), 0);
        const int64_t aligns[] = {64, 256, 4096, 8192};
        Allocation got[4][6];
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < 6; i++) {
                got[k][i] = freelist_alloc(list, layout_new(40, aligns[k]));
                CHECK_NE(got[k][i].ptr, 0);
                CHECK_EQ(got[k][i].ptr % aligns[k], 0);
                CHECK_GE(got[k][i].size, 40);
                fill_pattern(got[k][i].ptr, got[k][i].size, (unsigned)(k * 8 + i));
            }
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < 6; i++) {
                CHECK(pattern_intact(got[k][i].ptr, got[k][i].size, (unsigned)(k * 8 + i)));
                CHECK_EQ(freelist_dealloc(list, got[k][i].ptr), 0);
            }
        CHECK_EQ(freelist_total_allocated(list), 0);
        CHECK_EQ(freelist_free(list), 0);
        MODE_DONE(on, failed);
    }
}

/* ---- 2. exact exhaustion ------------------------------------------------- */

enum { FILL_MAX = CACHE_CAPACITY / 32 + 16 };

/* Fills `list` with blocks of assorted sizes (most of them cacheable) until
 * even a 1-byte request is EXHAUSTED; returns how many, their patterns
 * written. */
static int fill_list(FreeListAllocator *list, Allocation *blocks) {
    static const int64_t sizes[] = {1, 8, 24, 25, 40, 56, 100, 136, 137, 200,
                                    264, 500, 777, 1000, 1032, 1033, 2000};
    const int nsizes = (int)(sizeof sizes / sizeof sizes[0]);
    int n = 0, k = 0;
    int64_t size = sizes[0];
    while (n < FILL_MAX) {
        vais_alloc_clear_error();
        Allocation a = freelist_alloc(list, layout_new(size, 8));
        if (a.ptr == 0) {
            CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_EXHAUSTED);
            if (size == 1) break;
            size = 1; /* fill what is left, to the last byte */
            continue;
        }
        CHECK_GE(a.size, size);
        fill_pattern(a.ptr, a.size, (unsigned)n);
        blocks[n++] = a;
        if (size != 1) size = sizes[++k % nsizes];
    }
    CHECK_LT(n, FILL_MAX);
    return n;
}

/* Frees every other block, then the rest, checking each pattern first. */
static void free_interleaved(FreeListAllocator *list, Allocation *blocks, int n) {
    for (int pass = 0; pass < 2; pass++)
        for (int i = pass; i < n; i += 2) {
            CHECK(pattern_intact(blocks[i].ptr, blocks[i].size, (unsigned)i));
            CHECK_EQ(freelist_dealloc(list, blocks[i].ptr), 0);
        }
}

TEST(freelist_cache_exact_exhaustion_after_freeing_everything) {
    static Allocation blocks[FILL_MAX];
    FOR_EACH_MODE(on) {
        int failed = harness_current_failed;
        FreeListAllocator *list = cache_list(CACHE_CAPACITY, on);
        if (list == NULL) continue;
        int64_t capacity = freelist_capacity(list);
        int64_t whole = freelist_largest_free_block(list);
        CHECK_GT(whole, CACHE_CAPACITY - 64);
        for (int round = 0; round < 3; round++) {
            int n = fill_list(list, blocks);
            CHECK_GT(n, 100);
            CHECK_EQ(freelist_total_allocated(list) + freelist_remaining(list), capacity);
            CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(1, 8)), VAIS_ALLOC_E_EXHAUSTED);
            free_interleaved(list, blocks, n);
            /* Everything free, cached or not: no freelist_largest_free_block
             * here, which would flush the cache. */
            CHECK_EQ(freelist_total_allocated(list), 0);
            CHECK_EQ(freelist_remaining(list), capacity);

            Allocation all = freelist_alloc(list, layout_new(whole, 8));
            CHECK_NE(all.ptr, 0);
            CHECK_GE(all.size, whole);
            CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(1, 8)), VAIS_ALLOC_E_EXHAUSTED);
            CHECK_EQ(freelist_remaining(list), capacity - all.size - CACHE_OVERHEAD);
            if (all.ptr != 0) {
                fill_pattern(all.ptr, all.size, 99);
                CHECK(pattern_intact(all.ptr, all.size, 99));
            }
            CHECK_EQ(freelist_dealloc(list, all.ptr), 0);
            CHECK_EQ(freelist_largest_free_block(list), whole);
        }
        CHECK_EQ(freelist_free(list), 0);
        MODE_DONE(on, failed);
    }
}

/* A request larger than any cached block but no larger than what a run of
 * cached blocks makes merged: it must succeed, once the cache is flushed. */
TEST(freelist_cache_failing_request_flushes_and_retries) {
    FOR_EACH_MODE(on) {
        int failed = harness_current_failed;
        FreeListAllocator *list = cache_list(4096, on);
        if (list == NULL) continue;
        int64_t whole = freelist_largest_free_block(list);
        enum { N = 4096 / 64 };
        Allocation blocks[N];
        int n = 0;
        while (n < N) {
            Allocation a = freelist_alloc(list, layout_new(56, 8)); /* 64-byte blocks */
            if (a.ptr == 0) break;
            blocks[n++] = a;
        }
        CHECK_GT(n, 50);
        /* Free a run in the middle: only cached (unmerged) while on. */
        int first = 10, last = 40;
        for (int i = first; i < last; i++) CHECK_EQ(freelist_dealloc(list, blocks[i].ptr), 0);
        int64_t run = (last - first) * 64 - CACHE_OVERHEAD;
        Allocation big = freelist_alloc(list, layout_new(run, 8));
        CHECK_NE(big.ptr, 0);
        CHECK_GE(big.size, run);
        CHECK_EQ(big.ptr, blocks[first].ptr);
        CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(run + 1, 8)), VAIS_ALLOC_E_EXHAUSTED);
        CHECK_EQ(freelist_dealloc(list, big.ptr), 0);
        for (int i = 0; i < n; i++)
            if (i < first || i >= last) CHECK_EQ(freelist_dealloc(list, blocks[i].ptr), 0);
        CHECK_EQ(freelist_total_allocated(list), 0);
        CHECK_EQ(freelist_largest_free_block(list), whole);
        CHECK_EQ(freelist_free(list), 0);
        MODE_DONE(on, failed);
    }
}

/* ---- 3. double free of a cached block ------------------------------------ */

TEST(freelist_cache_double_free_is_refused_and_hands_out_once) {
    const int64_t sizes[] = {24, 100, 1032};
    FOR_EACH_MODE(on) {
        int failed = harness_current_failed;
        FreeListAllocator *list = cache_list(CACHE_CAPACITY, on);
        if (list == NULL) continue;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            Layout l = layout_new(sizes[i], 8);
            Allocation g1 = freelist_alloc(list, l);
            Allocation a = freelist_alloc(list, l);
            Allocation g2 = freelist_alloc(list, l);
            CHECK(g1.ptr != 0 && a.ptr != 0 && g2.ptr != 0);
            CHECK_EQ(freelist_dealloc(list, a.ptr), 0);
            int64_t total = freelist_total_allocated(list);
            int64_t remaining = freelist_remaining(list);
            CHECK_STATUS_FAILS(freelist_dealloc(list, a.ptr), VAIS_ALLOC_E_DOUBLE_FREE);
            CHECK_STATUS_FAILS(freelist_dealloc(list, a.ptr), VAIS_ALLOC_E_DOUBLE_FREE);
            CHECK_EQ(freelist_total_allocated(list), total);
            CHECK_EQ(freelist_remaining(list), remaining);
            /* Realloc of it is refused too, nothing changed. */
            CHECK_ALLOC_FAILS(freelist_realloc(list, a.ptr, layout_new(sizes[i] + 200, 8)),
                              VAIS_ALLOC_E_DOUBLE_FREE);
            CHECK_EQ(freelist_total_allocated(list), total);

            Allocation b = freelist_alloc(list, l);
            Allocation c = freelist_alloc(list, l);
            CHECK(b.ptr != 0 && c.ptr != 0);
            CHECK_NE(b.ptr, c.ptr);
            CHECK(cache_disjoint(b, c));
            CHECK(cache_disjoint(b, g1) && cache_disjoint(b, g2));
            CHECK(cache_disjoint(c, g1) && cache_disjoint(c, g2));
            if (on) CHECK_EQ(b.ptr, a.ptr);
            fill_pattern(b.ptr, b.size, 5);
            fill_pattern(c.ptr, c.size, 6);
            CHECK(pattern_intact(b.ptr, b.size, 5));
            CHECK_EQ(freelist_dealloc(list, b.ptr), 0);
            CHECK_EQ(freelist_dealloc(list, c.ptr), 0);
            CHECK_EQ(freelist_dealloc(list, g1.ptr), 0);
            CHECK_EQ(freelist_dealloc(list, g2.ptr), 0);
            CHECK_EQ(freelist_total_allocated(list), 0);
        }
        CHECK_EQ(freelist_free(list), 0);
        MODE_DONE(on, failed);
    }
}

/* ---- 4. the queries do not change with the cache ------------------------- */

static uint32_t cache_rng(uint32_t *state) {
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

enum { RANDOM_SLOTS = 96, RANDOM_STEPS = 6000 };

typedef struct {
    FreeListAllocator *list;
    Allocation blocks[RANDOM_SLOTS];
    int64_t live_bytes; /* usable size + overhead of the live blocks */
    int failures;
} RandomRun;

static void random_step(RandomRun *r, int slot, Layout l, unsigned seed) {
    int64_t capacity = freelist_capacity(r->list);
    Allocation *b = &r->blocks[slot];
    if (b->ptr != 0) {
        CHECK(pattern_intact(b->ptr, b->size, seed));
        CHECK_EQ(freelist_dealloc(r->list, b->ptr), 0);
        r->live_bytes -= b->size + CACHE_OVERHEAD;
        b->ptr = 0;
        b->size = 0;
    } else {
        int64_t total = freelist_total_allocated(r->list);
        vais_alloc_clear_error();
        Allocation a = freelist_alloc(r->list, l);
        if (a.ptr == 0) {
            r->failures++;
            CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_EXHAUSTED);
            CHECK_EQ(freelist_total_allocated(r->list), total);
            /* Really too large: no free block (cache flushed) holds it. */
            int64_t largest = freelist_largest_free_block(r->list);
            if (l.align <= 16) {
                CHECK_LT(largest, l.size);
            } else {
                /* An aligned block may start up to align + 16 bytes into a
                 * free block (a gap below it must hold a free block of its
                 * own, 32 bytes at least), and its size rounds up to 16. */
                CHECK_LT(largest, l.size + l.align + 32);
            }
        } else {
            CHECK_GE(a.size, l.size);
            CHECK_EQ(a.ptr % l.align, 0);
            CHECK_EQ(a.ptr % 16, 0);
            for (int i = 0; i < RANDOM_SLOTS; i++)
                if (r->blocks[i].ptr != 0) CHECK(cache_disjoint(a, r->blocks[i]));
            fill_pattern(a.ptr, a.size, seed);
            *b = a;
            r->live_bytes += a.size + CACHE_OVERHEAD;
        }
    }
    CHECK_EQ(freelist_total_allocated(r->list), r->live_bytes);
    CHECK_EQ(freelist_total_allocated(r->list) + freelist_remaining(r->list), capacity);
}

TEST(freelist_cache_queries_match_an_uncached_list) {
    enum { CAP = 48 * 1024 };
    RandomRun runs[2];
    memset(runs, 0, sizeof runs);
    runs[0].list = cache_list(CAP, 1);
    runs[1].list = cache_list(CAP, 0);
    if (runs[0].list == NULL || runs[1].list == NULL) return;
    CHECK_EQ(freelist_capacity(runs[0].list), freelist_capacity(runs[1].list));
    uint32_t rng = 12345;
    for (int step = 0; step < RANDOM_STEPS && !harness_current_failed; step++) {
        int slot = (int)(cache_rng(&rng) % RANDOM_SLOTS);
        uint32_t kind = cache_rng(&rng) % 16;
        int64_t size;
        if (kind < 10)
            size = 1 + cache_rng(&rng) % 160; /* the small, deep classes */
        else if (kind < 14)
            size = 1 + cache_rng(&rng) % 1100; /* around the cache's limit */
        else
            size = 1 + cache_rng(&rng) % 6000; /* never cached */
        uint32_t a = cache_rng(&rng) % 16;
        int64_t align = a < 10 ? 8 : a < 12 ? 16 : a < 14 ? 64 : a < 15 ? 512 : 4096;
        Layout l = layout_new(size, align);
        for (int k = 0; k < 2; k++) {
            int failed = harness_current_failed;
            random_step(&runs[k], slot, l, (unsigned)slot * 7u + 1u);
            if (harness_current_failed && !failed)
                fprintf(stderr, "  ^ step %d, cache %s\n", step, k == 0 ? "on" : "off");
        }
    }
    /* The sequence does run into exhaustion. */
    CHECK_GT(runs[0].failures, 0);
    CHECK_GT(runs[1].failures, 0);
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < RANDOM_SLOTS; i++)
            if (runs[k].blocks[i].ptr != 0)
                CHECK_EQ(freelist_dealloc(runs[k].list, runs[k].blocks[i].ptr), 0);
        CHECK_EQ(freelist_total_allocated(runs[k].list), 0);
        CHECK_EQ(freelist_remaining(runs[k].list), freelist_capacity(runs[k].list));
    }
    /* Both merge back to the same whole block. */
    CHECK_EQ(freelist_largest_free_block(runs[0].list), freelist_largest_free_block(runs[1].list));
    CHECK_EQ(freelist_free(runs[0].list), 0);
    CHECK_EQ(freelist_free(runs[1].list), 0);
}

/* ---- 5. freelist_set_cache's arguments ----------------------------------- */

TEST(freelist_set_cache_refuses_bad_arguments) {
    const int64_t bad[] = {2, -1, 256, INT64_MIN, INT64_MAX};
    FOR_EACH_MODE(on) {
        int failed = harness_current_failed;
        FreeListAllocator *list = cache_list(CACHE_CAPACITY, on);
        if (list == NULL) continue;
        Layout l = layout_new(40, 8);
        Allocation g1 = freelist_alloc(list, l);
        Allocation a = freelist_alloc(list, l);
        Allocation g2 = freelist_alloc(list, l);
        CHECK(g1.ptr != 0 && a.ptr != 0 && g2.ptr != 0);
        CHECK_EQ(freelist_dealloc(list, a.ptr), 0);
        int64_t total = freelist_total_allocated(list);
        int64_t remaining = freelist_remaining(list);
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            CHECK_STATUS_FAILS(freelist_set_cache(list, bad[i]), VAIS_ALLOC_E_INVALID_ARGUMENT);
        CHECK_EQ(freelist_total_allocated(list), total);
        CHECK_EQ(freelist_remaining(list), remaining);
        /* Still free and whole; a second free of it is DOUBLE_FREE, and
         * with the cache on it comes back for the same request. */
        CHECK_STATUS_FAILS(freelist_dealloc(list, a.ptr), VAIS_ALLOC_E_DOUBLE_FREE);
        Allocation again = freelist_alloc(list, l);
        CHECK_NE(again.ptr, 0);
        if (on) CHECK_EQ(again.ptr, a.ptr);
        CHECK_EQ(freelist_dealloc(list, again.ptr), 0);
        CHECK_EQ(freelist_dealloc(list, g1.ptr), 0);
        CHECK_EQ(freelist_dealloc(list, g2.ptr), 0);
        CHECK_EQ(freelist_reset(list), 0);
        /* The setting is the one before the refused calls. */
        CHECK_EQ(cache_observed_on(list), on);
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            CHECK_STATUS_FAILS(freelist_set_cache(list, bad[i]), VAIS_ALLOC_E_INVALID_ARGUMENT);
        CHECK_EQ(cache_observed_on(list), on);
        /* Setting it to what it is already is fine. */
        CHECK_EQ(freelist_set_cache(list, on), 0);
        CHECK_EQ(cache_observed_on(list), on);
        CHECK_EQ(freelist_free(list), 0);
        MODE_DONE(on, failed);
    }

    CHECK_STATUS_FAILS(freelist_set_cache(NULL, 0), VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_STATUS_FAILS(freelist_set_cache(NULL, 1), VAIS_ALLOC_E_NULL_HANDLE);

    PoolAllocator *pool = pool_new(64, 8);
    CHECK(pool != NULL);
    if (pool != NULL) {
        int64_t block = pool_alloc(pool);
        CHECK_NE(block, 0);
        CHECK_STATUS_FAILS(freelist_set_cache((FreeListAllocator *)pool, 0),
                           VAIS_ALLOC_E_INVALID_ARGUMENT);
        CHECK_STATUS_FAILS(freelist_set_cache((FreeListAllocator *)pool, 1),
                           VAIS_ALLOC_E_INVALID_ARGUMENT);
        CHECK_STATUS_FAILS(freelist_set_cache((FreeListAllocator *)pool, 2),
                           VAIS_ALLOC_E_INVALID_ARGUMENT);
        CHECK_EQ(pool_num_allocated(pool), 1);
        CHECK_EQ(pool_dealloc(pool, block), 0);
        CHECK_EQ(pool_free(pool), 0);
    }
}

TEST(freelist_cache_is_on_by_default_and_switches) {
    FreeListAllocator *list = freelist_new(CACHE_CAPACITY);
    CHECK(list != NULL);
    if (list == NULL) return;
    CHECK_EQ(cache_observed_on(list), 1);
    CHECK_EQ(freelist_set_cache(list, 0), 0);
    CHECK_EQ(cache_observed_on(list), 0);
    CHECK_EQ(freelist_set_cache(list, 1), 0);
    CHECK_EQ(cache_observed_on(list), 1);
    CHECK_EQ(freelist_free(list), 0);
}

/* ---- 6. off: every free merges at once ----------------------------------- */

TEST(freelist_cache_off_merges_at_once) {
    static Allocation blocks[FILL_MAX];
    FreeListAllocator *list = cache_list(CACHE_CAPACITY, 0);
    if (list == NULL) return;
    int64_t capacity = freelist_capacity(list);
    int64_t whole = freelist_largest_free_block(list);

    /* Two adjacent blocks freed: one block where they were, at once. */
    Allocation a = freelist_alloc(list, layout_new(56, 8));
    Allocation b = freelist_alloc(list, layout_new(56, 8));
    Allocation c = freelist_alloc(list, layout_new(56, 8));
    Allocation d = freelist_alloc(list, layout_new(56, 8));
    CHECK(a.ptr != 0 && b.ptr != 0 && c.ptr != 0 && d.ptr != 0);
    CHECK_EQ(freelist_dealloc(list, b.ptr), 0);
    CHECK_EQ(freelist_dealloc(list, c.ptr), 0);
    /* c merged into b: not a block any more. */
    CHECK_STATUS_FAILS(freelist_dealloc(list, c.ptr), VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_STATUS_FAILS(freelist_dealloc(list, b.ptr), VAIS_ALLOC_E_DOUBLE_FREE);
    /* The merged block serves what neither half could (placement is the
     * index's choice, so only success and disjointness are checked). */
    Allocation e = freelist_alloc(list, layout_new(100, 8));
    CHECK_NE(e.ptr, 0);
    CHECK(cache_disjoint(e, a) && cache_disjoint(e, d));
    CHECK_EQ(freelist_dealloc(list, e.ptr), 0);
    CHECK_EQ(freelist_dealloc(list, a.ptr), 0);
    CHECK_EQ(freelist_dealloc(list, d.ptr), 0);

    /* Everything freed: the list is one block again, with no flush. */
    int n = fill_list(list, blocks);
    free_interleaved(list, blocks, n);
    CHECK_EQ(freelist_remaining(list), capacity);
    for (int i = 1; i < n; i++)
        CHECK_STATUS_FAILS(freelist_dealloc(list, blocks[i].ptr), VAIS_ALLOC_E_FOREIGN_POINTER);
    Allocation all = freelist_alloc(list, layout_new(whole, 8));
    CHECK_NE(all.ptr, 0);
    CHECK_EQ(all.ptr, blocks[0].ptr);
    CHECK_EQ(freelist_dealloc(list, all.ptr), 0);
    CHECK_EQ(freelist_free(list), 0);
}

TEST(freelist_cache_turned_off_merges_what_it_holds) {
    static Allocation blocks[FILL_MAX];
    FreeListAllocator *list = cache_list(CACHE_CAPACITY, 1);
    if (list == NULL) return;
    int64_t capacity = freelist_capacity(list);
    int64_t whole = freelist_largest_free_block(list);

    Allocation a = freelist_alloc(list, layout_new(56, 8));
    Allocation b = freelist_alloc(list, layout_new(56, 8));
    Allocation c = freelist_alloc(list, layout_new(56, 8));
    Allocation d = freelist_alloc(list, layout_new(56, 8));
    CHECK(a.ptr != 0 && b.ptr != 0 && c.ptr != 0 && d.ptr != 0);
    CHECK_EQ(freelist_dealloc(list, b.ptr), 0);
    CHECK_EQ(freelist_dealloc(list, c.ptr), 0);
    /* Cached, whole: each is still a block (freed). */
    CHECK_STATUS_FAILS(freelist_dealloc(list, c.ptr), VAIS_ALLOC_E_DOUBLE_FREE);
    CHECK_EQ(freelist_set_cache(list, 0), 0);
    /* Merged now. */
    CHECK_STATUS_FAILS(freelist_dealloc(list, c.ptr), VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_STATUS_FAILS(freelist_dealloc(list, b.ptr), VAIS_ALLOC_E_DOUBLE_FREE);
    /* The merged block serves what neither half could (placement is the
     * index's choice, so only success and disjointness are checked). */
    Allocation e = freelist_alloc(list, layout_new(100, 8));
    CHECK_NE(e.ptr, 0);
    CHECK(cache_disjoint(e, a) && cache_disjoint(e, d));
    CHECK_EQ(freelist_dealloc(list, e.ptr), 0);
    CHECK_EQ(freelist_dealloc(list, a.ptr), 0);
    CHECK_EQ(freelist_dealloc(list, d.ptr), 0);

    /* Fill and free everything with the cache on, then turn it off: every
     * cached block merges, and the list is one block again. */
    CHECK_EQ(freelist_set_cache(list, 1), 0);
    int n = fill_list(list, blocks);
    free_interleaved(list, blocks, n);
    CHECK_EQ(freelist_remaining(list), capacity);
    CHECK_EQ(freelist_set_cache(list, 0), 0);
    CHECK_EQ(freelist_remaining(list), capacity);
    CHECK_EQ(freelist_total_allocated(list), 0);
    for (int i = 1; i < n; i++)
        CHECK_STATUS_FAILS(freelist_dealloc(list, blocks[i].ptr), VAIS_ALLOC_E_FOREIGN_POINTER);
    Allocation all = freelist_alloc(list, layout_new(whole, 8));
    CHECK_NE(all.ptr, 0);
    CHECK_EQ(all.ptr, blocks[0].ptr);
    CHECK_EQ(freelist_dealloc(list, all.ptr), 0);
    CHECK_EQ(freelist_free(list), 0);
}

/* freelist_largest_free_block flushes: what was cached is merged after it,
 * and the cache stays on. */
TEST(freelist_cache_largest_free_block_flushes) {
    FreeListAllocator *list = cache_list(CACHE_CAPACITY, 1);
    if (list == NULL) return;
    int64_t whole = freelist_largest_free_block(list);
    Allocation a = freelist_alloc(list, layout_new(56, 8));
    Allocation b = freelist_alloc(list, layout_new(56, 8));
    Allocation c = freelist_alloc(list, layout_new(56, 8));
    CHECK(a.ptr != 0 && b.ptr != 0 && c.ptr != 0);
    CHECK_EQ(freelist_dealloc(list, a.ptr), 0);
    CHECK_EQ(freelist_dealloc(list, b.ptr), 0);
    CHECK_STATUS_FAILS(freelist_dealloc(list, b.ptr), VAIS_ALLOC_E_DOUBLE_FREE);
    int64_t largest = freelist_largest_free_block(list);
    CHECK_LT(largest, whole);
    CHECK_STATUS_FAILS(freelist_dealloc(list, b.ptr), VAIS_ALLOC_E_FOREIGN_POINTER);
    /* Still on: a block freed now is cached again. */
    CHECK_EQ(freelist_dealloc(list, c.ptr), 0);
    Allocation again = freelist_alloc(list, layout_new(56, 8));
    CHECK_EQ(again.ptr, c.ptr);
    CHECK_EQ(freelist_dealloc(list, again.ptr), 0);
    CHECK_EQ(freelist_largest_free_block(list), whole);
    CHECK_EQ(freelist_free(list), 0);
}

/* ---- 7. reset ------------------------------------------------------------ */

TEST(freelist_cache_reset_empties_it_and_keeps_the_setting) {
    FOR_EACH_MODE(on) {
        int failed = harness_current_failed;
        FreeListAllocator *list = cache_list(CACHE_CAPACITY, on);
        if (list == NULL) continue;
        int64_t capacity = freelist_capacity(list);
        int64_t whole = freelist_largest_free_block(list);
        enum { N = 20 };
        Allocation blocks[N];
        for (int i = 0; i < N; i++) {
            blocks[i] = freelist_alloc(list, layout_new(24 + 16 * (i % 5), 8));
            CHECK_NE(blocks[i].ptr, 0);
        }
        /* Every other freed (cached while on), the rest still in use. */
        for (int i = 0; i < N; i += 2) CHECK_EQ(freelist_dealloc(list, blocks[i].ptr), 0);
        CHECK_EQ(freelist_reset(list), 0);
        CHECK_EQ(freelist_total_allocated(list), 0);
        CHECK_EQ(freelist_remaining(list), capacity);
        /* Old pointers, cached or in use, are refused; nothing changes. */
        for (int i = 0; i < N; i++) {
            vais_alloc_clear_error();
            int64_t rc = freelist_dealloc(list, blocks[i].ptr);
            CHECK(rc == VAIS_ALLOC_E_FOREIGN_POINTER || rc == VAIS_ALLOC_E_DOUBLE_FREE);
            CHECK_EQ(vais_alloc_last_error(), rc);
        }
        CHECK_EQ(freelist_total_allocated(list), 0);
        CHECK_EQ(freelist_remaining(list), capacity);
        /* No stale slot hands an old block out: fresh requests of the cached
         * sizes come from the one free block, in address order. */
        Allocation fresh[N];
        for (int i = 0; i < N; i++) {
            fresh[i] = freelist_alloc(list, layout_new(24 + 16 * (i % 5), 8));
            CHECK_NE(fresh[i].ptr, 0);
            CHECK_EQ(fresh[i].ptr, blocks[i].ptr);
            fill_pattern(fresh[i].ptr, fresh[i].size, (unsigned)i);
        }
        for (int i = 0; i < N; i++) {
            CHECK(pattern_intact(fresh[i].ptr, fresh[i].size, (unsigned)i));
            CHECK_EQ(freelist_dealloc(list, fresh[i].ptr), 0);
        }
        CHECK_EQ(freelist_largest_free_block(list), whole);
        CHECK_EQ(freelist_reset(list), 0);
        /* The setting survives the reset. */
        CHECK_EQ(cache_observed_on(list), on);
        CHECK_EQ(freelist_free(list), 0);
        MODE_DONE(on, failed);
    }
}

/* ---- 8. through the interface -------------------------------------------- */

TEST(freelist_cache_double_free_through_the_interface) {
    FOR_EACH_MODE(on) {
        int failed = harness_current_failed;
        FreeListAllocator *list = cache_list(CACHE_CAPACITY, on);
        if (list == NULL) continue;
        VaisAllocator v = freelist_as_allocator(list);
        Layout l = layout_new(64, 16);
        Allocation g1 = allocator_alloc(v, l);
        Allocation a = allocator_alloc(v, l);
        Allocation g2 = allocator_alloc(v, l);
        CHECK(g1.ptr != 0 && a.ptr != 0 && g2.ptr != 0);
        CHECK_EQ(allocator_free(v, a.ptr, l), 0);
        int64_t total = freelist_total_allocated(list);
        CHECK_STATUS_FAILS(allocator_free(v, a.ptr, l), VAIS_ALLOC_E_DOUBLE_FREE);
        CHECK_EQ(freelist_total_allocated(list), total);
        Allocation b = allocator_alloc(v, l);
        Allocation c = allocator_alloc(v, l);
        CHECK(b.ptr != 0 && c.ptr != 0);
        CHECK_NE(b.ptr, c.ptr);
        if (on) CHECK_EQ(b.ptr, a.ptr);
        CHECK_EQ(allocator_free(v, b.ptr, l), 0);
        CHECK_EQ(allocator_free(v, c.ptr, l), 0);
        CHECK_EQ(allocator_free(v, g1.ptr, l), 0);
        CHECK_EQ(allocator_free(v, g2.ptr, l), 0);
        CHECK_EQ(freelist_total_allocated(list), 0);
        CHECK_EQ(freelist_free(list), 0);
        MODE_DONE(on, failed);
    }
}
