/* stack_* growing from an upstream (API.md, "Growing from an upstream") and
 * its checkpoints ("Checkpoints (bump and stack)"), with and without an
 * upstream: a counting upstream written here as a user vtable, pushes
 * across chunks and their exact unwinding, reset and free balance, limits,
 * upstream refusals, stack_set_upstream refusals, every kind of upstream,
 * caps, out-of-order frees through the interface, marks and the peak. */
#include "harness.h"
#include "vais_alloc.h"

#include <stdlib.h>

#include "counting_upstream.h"

/* ---- helpers ---------------------------------------------------------------- */

#define STACK_CAPS                                                                        \
    (VAIS_ALLOC_CAP_FREE_LAST | VAIS_ALLOC_CAP_RESIZE | VAIS_ALLOC_CAP_RESET |            \
     VAIS_ALLOC_CAP_ANY_SIZE | VAIS_ALLOC_CAP_ANY_ALIGN)
#define GROWING_STACK_CAPS (STACK_CAPS | VAIS_ALLOC_CAP_GROWS)

static int64_t align_up(int64_t value, int64_t align) { return (value + align - 1) & ~(align - 1); }

/* What a refused call must leave as it was. */
typedef struct {
    int64_t remaining, depth, capacity, peak;
} StackState;

static StackState state_of(StackAllocator *s) {
    StackState st = {stack_remaining(s), stack_depth(s), stack_capacity(s), stack_peak(s)};
    return st;
}

#define CHECK_STATE(s, st)                                                \
    do {                                                                  \
        StackState now_ = state_of(s);                                    \
        CHECK_EQ(now_.remaining, (st).remaining);                         \
        CHECK_EQ(now_.depth, (st).depth);                                 \
        CHECK_EQ(now_.capacity, (st).capacity);                           \
        CHECK_EQ(now_.peak, (st).peak);                                   \
    } while (0)

/* A pushed block with a pattern: proof that a refused call disturbed
 * nothing. */
typedef struct {
    Allocation block;
    unsigned seed;
} Witness;

static Witness witness(StackAllocator *s, int64_t size, unsigned seed) {
    Witness w = {stack_alloc(s, layout_new(size, 8)), seed};
    CHECK_NE(w.block.ptr, 0);
    if (w.block.ptr != 0) fill_pattern(w.block.ptr, w.block.size, seed);
    return w;
}

static int intact(const Witness *w) {
    return w->block.ptr != 0 && pattern_intact(w->block.ptr, w->block.size, w->seed);
}

/* xorshift64*: a deterministic stream of layouts. */
static uint64_t rng_next(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * UINT64_C(0x2545F4914F6CDD1D);
}

/* The start of an empty stack's own buffer (at least 17 bytes): its first
 * push has its header at 8 and its payload at 16. */
static int64_t own_start(StackAllocator *s) {
    Allocation probe = stack_alloc(s, layout_new(0, 1));
    CHECK_NE(probe.ptr, 0);
    CHECK_EQ(stack_pop(s), 0);
    return probe.ptr - 16;
}

/* Pops until the depth is `depth`. */
static void pop_to_depth(StackAllocator *s, int64_t depth) {
    for (int64_t d = stack_depth(s); d > depth; d--) CHECK_EQ(stack_pop(s), 0);
    CHECK_EQ(stack_depth(s), depth);
}

/* ---- (a) 10^5 pushes across chunks, unwound exactly ------------------------- */

#define PUSHES 100000

static Allocation pushed[PUSHES];
static int64_t remaining_before[PUSHES], capacity_before[PUSHES];

TEST(stack_growth_a_hundred_thousand_pushes_take_a_logarithmic_number_of_chunks) {
    Counting *up = counting_new();
    StackAllocator *s = stack_new(0);
    CHECK(s != NULL);
    if (s == NULL) return;
    CHECK_EQ(stack_set_upstream(s, counting_allocator(up), 4096), 0);
    CHECK_EQ(up->calls, 0); /* nothing is asked before it is needed */
    CHECK_EQ(stack_capacity(s), 0);
    CHECK_EQ(stack_remaining(s), 0);

    uint64_t rng = UINT64_C(0x9E3779B97F4A7C15);
    /* The model: the current chunk's end and the top (0: no chunk yet). */
    int64_t region_end = 0, top = 0;
    int64_t n = 0, failed = 0, misplaced = 0, misaligned = 0, wrong_size = 0, wrong_remaining = 0;
    int64_t outside = 0, live_bytes = 0;
    int cached = -1;
    for (int64_t i = 0; i < PUSHES; i++) {
        uint64_t r = rng_next(&rng);
        Layout l = layout_new(8 + (int64_t)(r % 193), INT64_C(8) << ((r >> 16) % 4));
        remaining_before[i] = stack_remaining(s);
        capacity_before[i] = stack_capacity(s);
        int64_t calls = up->calls;
        Allocation a = stack_alloc(s, l);
        if (a.ptr == 0) {
            failed++;
            break;
        }
        pushed[i] = a;
        n++;
        /* The payload is the first address aligned to max(align, 16) with
         * 8 bytes below it above the top; when that does not fit, it is
         * the first such address of a new chunk, obtained by this push. */
        int64_t align = l.align < 16 ? 16 : l.align;
        int64_t expect = align_up(top + 8, align);
        if (top == 0 || expect + l.size > region_end) {
            misplaced += up->calls != calls + 1;
            region_end = up->last_ptr + up->last_size;
            expect = align_up(up->last_ptr + 8, align);
            cached = -1;
        } else {
            misplaced += up->calls != calls;
        }
        misplaced += a.ptr != expect;
        misaligned += a.ptr % l.align != 0;
        wrong_size += a.size != l.size;
        top = a.ptr + l.size;
        /* No chunk is held beyond the current one. */
        wrong_remaining += stack_remaining(s) != region_end - top;
        /* Inside a live chunk, with its header. */
        int c = cached;
        if (c < 0 || !(a.ptr - 8 >= up->live[c].ptr &&
                       a.ptr + a.size <= up->live[c].ptr + up->live[c].size))
            c = counting_holds(up, a.ptr - 8, a.size + 8);
        outside += c < 0;
        cached = c;
        live_bytes += l.size + 8;
        fill_pattern(a.ptr, a.size, (unsigned)i);
    }
    CHECK_EQ(failed, 0);
    CHECK_EQ(n, PUSHES);
    CHECK_EQ(misplaced, 0);
    CHECK_EQ(misaligned, 0);
    CHECK_EQ(wrong_size, 0);
    CHECK_EQ(wrong_remaining, 0);
    CHECK_EQ(outside, 0);

    /* Chunks double from 4 KiB: the number of calls is the logarithm of
     * the bytes used. Every request is small, so the sizes are exactly
     * 4096 * 2^k; the chunks before the last did not suffice. */
    int64_t calls = up->calls;
    CHECK_GE(calls, 8);
    CHECK_LE(calls, 16);
    for (int64_t k = 0; k < calls && k < COUNTING_MAX_CHUNKS; k++)
        CHECK_EQ(up->sizes[k], INT64_C(4096) << k);
    CHECK_EQ(up->live_chunks, calls);
    CHECK_EQ(stack_capacity(s), up->live_bytes);
    CHECK_EQ(stack_capacity(s), INT64_C(4096) * ((INT64_C(1) << calls) - 1));
    int64_t consumed = stack_capacity(s) - stack_remaining(s);
    CHECK_GT(consumed, INT64_C(4096) * ((INT64_C(1) << (calls - 1)) - 1));
    CHECK_EQ(stack_depth(s), n);
    /* The peak counts headers and padding. */
    int64_t peak = stack_peak(s);
    CHECK_GE(peak, live_bytes);
    CHECK_LE(peak, consumed);

    int64_t broken = 0;
    for (int64_t i = 0; i < n; i++)
        broken += !pattern_intact(pushed[i].ptr, pushed[i].size, (unsigned)i);
    CHECK_EQ(broken, 0);

    /* Unwind: each pop restores the remaining bytes from before its push,
     * plus the chunks obtained since (held beyond the current one). */
    int64_t failed_pops = 0, wrong_unwind = 0, wrong_depth = 0;
    broken = 0;
    for (int64_t i = n - 1; i >= 0; i--) {
        broken += !pattern_intact(pushed[i].ptr, pushed[i].size, (unsigned)i);
        int sample = i % 9973 == 0 || i < 3 || i > n - 3;
        if (sample) wrong_depth += stack_depth(s) != i + 1;
        if (stack_pop(s) != 0) {
            failed_pops++;
            break;
        }
        if (sample) wrong_depth += stack_depth(s) != i;
        wrong_unwind +=
            stack_remaining(s) != remaining_before[i] + stack_capacity(s) - capacity_before[i];
    }
    CHECK_EQ(failed_pops, 0);
    CHECK_EQ(broken, 0);
    CHECK_EQ(wrong_depth, 0);
    CHECK_EQ(wrong_unwind, 0);
    CHECK_STATUS_FAILS(stack_pop(s), VAIS_ALLOC_E_EMPTY);
    CHECK_EQ(stack_depth(s), 0);
    /* Every chunk stays held for reuse; nothing was obtained by a pop. */
    CHECK_EQ(stack_remaining(s), stack_capacity(s));
    CHECK_EQ(up->calls, calls);
    CHECK_EQ(up->live_chunks, calls);
    CHECK_GE(stack_peak(s), peak);

    CHECK_EQ(stack_free(s), 0);
    counting_done(up); /* balance zero */
}

/* ---- (b) reset keeps the largest chunk; free gives everything back --------- */

/* Pushes n small blocks (8..192 bytes, aligned 8 or 16: the footprints do
 * not depend on where a chunk lies), each in the own buffer or a live
 * chunk, with patterns; returns the bytes pushed. */
static int64_t small_round(StackAllocator *s, const Counting *up, int64_t own, int64_t own_capacity,
                           int64_t n, Allocation *first) {
    int64_t total = 0, bad = 0;
    for (int64_t i = 0; i < n; i++) {
        Layout l = layout_new(8 + (i * 7919) % 185, INT64_C(8) << (i % 2));
        Allocation a = stack_alloc(s, l);
        if (a.ptr == 0) {
            HARNESS_FAIL("round: push %" PRId64 " refused (error %" PRId64 ")", i,
                         vais_alloc_last_error());
            return total;
        }
        if (i == 0 && first != NULL) *first = a;
        int in_own = a.ptr - 8 >= own && a.ptr + a.size <= own + own_capacity;
        bad += a.ptr % 16 != 0 || (!in_own && counting_holds(up, a.ptr - 8, a.size + 8) < 0);
        if (i % 101 == 0) fill_pattern(a.ptr, a.size, (unsigned)i);
        total += l.size;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(stack_depth(s), n);
    return total;
}

TEST(stack_growth_reset_keeps_the_largest_chunk_and_free_gives_everything_back) {
    Counting *up = counting_new();
    StackAllocator *s = stack_new(256);
    CHECK(s != NULL);
    if (s == NULL) return;
    int64_t own = own_start(s);
    CHECK_EQ(own % 16, 0);
    CHECK_EQ(stack_set_upstream(s, counting_allocator(up), 4096), 0);

    enum { ROUND = 20000 };
    Allocation first = {0, 0};
    int64_t total = small_round(s, up, own, 256, ROUND, &first);
    CHECK_EQ(first.ptr, own + 16); /* the own buffer serves first */
    int64_t first_calls = up->calls;
    CHECK_GE(first_calls, 5);
    CHECK_EQ(stack_capacity(s), 256 + up->live_bytes);
    int64_t peak = stack_peak(s);
    CHECK_GE(peak, total);

    CHECK_EQ(stack_reset(s), 0);
    /* Exactly one chunk kept: the largest; the others went back. */
    CHECK_EQ(up->live_chunks, 1);
    CHECK_EQ(up->live_bytes, up->largest);
    CHECK_EQ(stack_capacity(s), 256 + up->largest);
    CHECK_EQ(stack_remaining(s), 256 + up->largest);
    CHECK_EQ(stack_depth(s), 0);
    CHECK_STATUS_FAILS(stack_pop(s), VAIS_ALLOC_E_EMPTY);
    CHECK_EQ(stack_peak(s), peak);

    /* The kept chunk is at least half of what the round needed, so the
     * second identical round asks for one chunk at most; from then on the
     * chunk kept holds a whole round and upstream is never called again. */
    CHECK_EQ(small_round(s, up, own, 256, ROUND, &first), total);
    CHECK_EQ(first.ptr, own + 16);
    CHECK_LE(up->calls, first_calls + 1);
    CHECK_EQ(stack_reset(s), 0);
    CHECK_EQ(up->live_chunks, 1);
    CHECK_EQ(up->live_bytes, up->largest);
    int64_t settled_calls = up->calls;
    for (int round = 0; round < 4; round++) {
        CHECK_EQ(small_round(s, up, own, 256, ROUND, &first), total);
        CHECK_EQ(first.ptr, own + 16);
        CHECK_EQ(up->calls, settled_calls);
        if (round % 2 == 0) {
            CHECK_EQ(stack_reset(s), 0);
        } else {
            /* Unwound by pops instead: the chunk stays, nothing is asked. */
            for (int i = 0; i < ROUND; i++) CHECK_EQ(stack_pop(s), 0);
            CHECK_STATUS_FAILS(stack_pop(s), VAIS_ALLOC_E_EMPTY);
        }
        CHECK_EQ(up->live_chunks, 1);
        CHECK_EQ(stack_capacity(s), 256 + up->live_bytes);
        CHECK_EQ(stack_remaining(s), stack_capacity(s));
        if (harness_current_failed) break;
    }
    /* Where a push lands at a region's start its gap differs, so a later
     * round may use a few bytes more. */
    CHECK_GE(stack_peak(s), peak);
    CHECK_LE(stack_peak(s), peak + 16 * (first_calls + 2));

    /* stack_drop gives every chunk back, and the stack still grows. */
    CHECK_EQ(stack_drop(s), 0);
    CHECK_EQ(up->live_chunks, 0);
    CHECK_EQ(up->live_bytes, 0);
    CHECK_EQ(stack_capacity(s), 0);
    CHECK_EQ(stack_remaining(s), 0);
    CHECK_EQ(allocator_caps(stack_as_allocator(s)), GROWING_STACK_CAPS);
    Allocation after_drop = stack_alloc(s, layout_new(100, 8));
    CHECK_NE(after_drop.ptr, 0);
    CHECK_EQ(up->live_chunks, 1);
    CHECK_GE(counting_holds(up, after_drop.ptr, 100), 0);

    CHECK_EQ(stack_free(s), 0);
    counting_done(up); /* balance zero */
}

TEST(stack_growth_an_oversized_push_gets_a_chunk_of_its_own) {
    Counting *up = counting_new();
    StackAllocator *s = stack_new(128);
    CHECK_EQ(stack_set_upstream(s, counting_allocator(up), 4096), 0);
    Witness w = witness(s, 64, 1);
    /* 1 MiB aligned to 4096: one chunk that fits it, whatever the padding. */
    Allocation big = stack_alloc(s, layout_new(1 << 20, 4096));
    CHECK_NE(big.ptr, 0);
    CHECK_EQ(big.ptr % 4096, 0);
    CHECK_EQ(big.size, 1 << 20);
    CHECK_EQ(up->calls, 1);
    CHECK_GE(up->last_size, (1 << 20) + 4096);
    CHECK_GE(counting_holds(up, big.ptr, big.size), 0);
    if (big.ptr != 0) fill_pattern(big.ptr, big.size, 2);
    /* Small pushes go on from a chunk of the geometric sequence (5000
     * bytes cannot fit the rest of the big one: at most 4128 - 16). */
    Allocation small = stack_alloc(s, layout_new(5000, 16));
    CHECK_NE(small.ptr, 0);
    CHECK_GE(counting_holds(up, small.ptr, small.size), 0);
    CHECK_EQ(up->calls, 2);
    CHECK_EQ(up->sizes[1], 4096 * 2); /* the sequence went on from 4096 */
    CHECK(intact(&w));
    if (big.ptr != 0) CHECK(pattern_intact(big.ptr, big.size, 2));
    CHECK_EQ(stack_capacity(s), 128 + up->live_bytes);
    CHECK_EQ(stack_depth(s), 3); /* the padding below `big` is no allocation */
    CHECK_EQ(stack_pop(s), 0);
    CHECK_EQ(stack_pop(s), 0);
    CHECK_EQ(stack_depth(s), 1);
    CHECK(intact(&w));
    CHECK_EQ(stack_remaining(s), 128 - 16 - 64 + up->live_bytes);
    CHECK_EQ(stack_free(s), 0);
    counting_done(up);
}

TEST(stack_growth_default_first_chunk_is_64_kib_and_doubles) {
    Counting *up = counting_new();
    StackAllocator *s = stack_new(0);
    CHECK_EQ(stack_set_upstream(s, counting_allocator(up), 0), 0);
    CHECK_NE(stack_alloc(s, layout_new(1, 1)).ptr, 0);
    CHECK_EQ(up->calls, 1);
    CHECK_EQ(up->sizes[0], 64 << 10);
    CHECK_EQ(stack_capacity(s), 64 << 10);
    CHECK_EQ(stack_remaining(s), (64 << 10) - 17); /* gap, header, one byte */
    /* The next one is 128 KiB (and fits a 64 KiB push). */
    CHECK_NE(stack_alloc(s, layout_new(64 << 10, 1)).ptr, 0);
    CHECK_EQ(up->calls, 2);
    CHECK_EQ(up->sizes[1], 128 << 10);
    CHECK_EQ(stack_capacity(s), (64 << 10) + (128 << 10));
    CHECK_EQ(stack_remaining(s), (128 << 10) - 16 - (64 << 10));
    CHECK_EQ(stack_free(s), 0);
    counting_done(up);
}

/* ---- (c) the limit --------------------------------------------------------- */

TEST(stack_growth_limit_refuses_with_exhausted_and_nothing_changed) {
    Counting *up = counting_new();
    StackAllocator *s = stack_new(256);
    CHECK_EQ(stack_set_upstream(s, counting_allocator(up), 4096), 0);
    /* Below the own buffer: refused, nothing set. */
    CHECK_STATUS_FAILS(stack_set_limit(s, 255), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(stack_set_limit(s, 256 + 4096), 0);
    Witness w = witness(s, 100, 3);                    /* own: 16..116 */
    Allocation a = stack_alloc(s, layout_new(1000, 8)); /* the 4096 chunk: 16..1016 */
    CHECK_NE(a.ptr, 0);
    CHECK_EQ(up->calls, 1);
    CHECK_EQ(stack_capacity(s), 256 + 4096);

    /* The next chunk (8192) would pass the limit. */
    StackState before = state_of(s);
    CHECK_EQ(before.depth, 2);
    CHECK_ALLOC_FAILS(stack_alloc(s, layout_new(4000, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(stack_alloc(s, layout_new(1 << 20, 64)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(allocator_alloc(stack_as_allocator(s), layout_new(4000, 8)),
                      VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(allocator_alloc_zeroed(stack_as_allocator(s), layout_new(4000, 8)),
                      VAIS_ALLOC_E_EXHAUSTED);
    CHECK_STATE(s, before);
    CHECK_EQ(up->calls, 1);
    CHECK_EQ(up->refusals, 0); /* the upstream was not even asked */
    CHECK(intact(&w));
    /* What still fits the held chunk is served. */
    Allocation fits = stack_alloc(s, layout_new(2000, 8)); /* 1024..3024 */
    CHECK_NE(fits.ptr, 0);
    CHECK_EQ(up->calls, 1);
    before = state_of(s);

    /* A limit below what is held: INVALID_ARGUMENT, the old one stays. */
    CHECK_STATUS_FAILS(stack_set_limit(s, 100), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(stack_set_limit(s, 256 + 4095), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(stack_set_limit(s, -2), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(stack_set_limit(s, INT64_MIN), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATE(s, before);
    CHECK_ALLOC_FAILS(stack_alloc(s, layout_new(4000, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_STATE(s, before);

    /* Exactly what the next chunk needs: served; a chunk more is not. */
    CHECK_EQ(stack_set_limit(s, 256 + 4096 + 8192), 0);
    CHECK_NE(stack_alloc(s, layout_new(4000, 8)).ptr, 0); /* 8192 chunk: 16..4016 */
    CHECK_EQ(up->calls, 2);
    CHECK_EQ(stack_capacity(s), 256 + 4096 + 8192);
    before = state_of(s);
    CHECK_ALLOC_FAILS(stack_alloc(s, layout_new(8000, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_STATE(s, before);
    CHECK_EQ(up->refusals, 0);

    /* -1 removes the limit. */
    CHECK_EQ(stack_set_limit(s, -1), 0);
    CHECK_NE(stack_alloc(s, layout_new(8000, 8)).ptr, 0);
    CHECK_NE(stack_alloc(s, layout_new(1 << 20, 8)).ptr, 0);
    CHECK_EQ(up->calls, 4);
    CHECK(intact(&w));
    /* A push above 1 GiB is EXHAUSTED, limit or not, without asking. */
    before = state_of(s);
    CHECK_ALLOC_FAILS(stack_alloc(s, layout_new(INT64_C(1) << 30, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(stack_alloc(s, layout_new((INT64_C(1) << 30) - 40, 16)),
                      VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(stack_alloc(s, layout_new(INT64_C(1) << 40, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_STATE(s, before);
    CHECK_EQ(up->calls, 4);
    CHECK_EQ(up->refusals, 0);

    /* Popped back to the own buffer, the chunks stay held: a limit on
     * exactly that is fine, and pushes into them need no more. */
    pop_to_depth(s, 1);
    int64_t held = stack_capacity(s);
    CHECK_EQ(held, 256 + up->live_bytes);
    CHECK_STATUS_FAILS(stack_set_limit(s, held - 1), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(stack_set_limit(s, held), 0);
    CHECK_NE(stack_alloc(s, layout_new(1000, 8)).ptr, 0);
    CHECK_NE(stack_alloc(s, layout_new(4000, 8)).ptr, 0);
    CHECK_NE(stack_alloc(s, layout_new(8000, 8)).ptr, 0);
    CHECK_EQ(up->calls, 4);
    CHECK_EQ(stack_capacity(s), held);
    CHECK(intact(&w));

    /* After a reset, less is held. */
    CHECK_EQ(stack_reset(s), 0);
    CHECK_EQ(stack_capacity(s), 256 + up->largest);
    CHECK_EQ(stack_set_limit(s, stack_capacity(s)), 0);
    CHECK_STATUS_FAILS(stack_set_limit(s, stack_capacity(s) - 1), VAIS_ALLOC_E_INVALID_ARGUMENT);

    /* Refusals of a bad handle. */
    CHECK_STATUS_FAILS(stack_set_limit(NULL, -1), VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_STATUS_FAILS(stack_capacity(NULL), VAIS_ALLOC_E_NULL_HANDLE);
    PoolAllocator *pool = pool_new(64, 4);
    CHECK_STATUS_FAILS(stack_set_limit((StackAllocator *)pool, -1), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(stack_capacity((StackAllocator *)pool), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(pool_free(pool), 0);

    CHECK_EQ(stack_free(s), 0);
    counting_done(up);
}

TEST(stack_growth_limit_without_upstream) {
    StackAllocator *s = stack_new(1024);
    CHECK_EQ(stack_capacity(s), 1024);
    CHECK_STATUS_FAILS(stack_set_limit(s, 1023), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(stack_set_limit(s, 1024), 0);
    CHECK_NE(stack_alloc(s, layout_new(1000, 1)).ptr, 0);
    CHECK_ALLOC_FAILS(stack_alloc(s, layout_new(1, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_EQ(stack_set_limit(s, -1), 0);
    CHECK_EQ(stack_capacity(s), 1024);
    CHECK_EQ(stack_free(s), 0);
}

/* ---- (d) the upstream refuses ------------------------------------------------ */

TEST(stack_growth_upstream_refusal_is_out_of_memory_with_nothing_changed) {
    Counting *up = counting_new();
    StackAllocator *s = stack_new(256);
    CHECK_EQ(stack_set_upstream(s, counting_allocator(up), 1024), 0);
    Witness w = witness(s, 100, 4); /* own: 16..116 */
    VaisAllocator view = stack_as_allocator(s);

    up->refuse = 1;
    StackState before = state_of(s);
    CHECK_ALLOC_FAILS(stack_alloc(s, layout_new(200, 8)), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_ALLOC_FAILS(stack_alloc(s, layout_new(1 << 20, 64)), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_ALLOC_FAILS(allocator_alloc(view, layout_new(200, 8)), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_ALLOC_FAILS(allocator_alloc_zeroed(view, layout_new(200, 8)),
                      VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_ALLOC_FAILS(allocator_realloc(view, w.block.ptr, layout_new(100, 8), layout_new(5000, 8)),
                      VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_EQ(up->refusals, 5);
    CHECK_EQ(up->calls, 0);
    CHECK_STATE(s, before);
    CHECK(intact(&w));
    /* What fits the own buffer is still served. */
    Allocation fits = stack_alloc(s, layout_new(20, 4)); /* 128..148 */
    CHECK_NE(fits.ptr, 0);
    CHECK_EQ(stack_pop(s), 0);
    before.peak = 148;
    CHECK_STATE(s, before);

    /* The upstream serves again: so does the stack, and the failed
     * attempts did not change the chunk sequence. */
    up->refuse = 0;
    Allocation a = stack_alloc(s, layout_new(200, 8));
    CHECK_NE(a.ptr, 0);
    CHECK_EQ(up->calls, 1);
    CHECK_EQ(up->sizes[0], 1024);
    CHECK_GE(counting_holds(up, a.ptr, 200), 0);
    CHECK(intact(&w));

    /* Popped back, the chunk stays held: a push that fits it is served
     * while the upstream refuses. */
    CHECK_EQ(stack_pop(s), 0);
    up->refuse = 1;
    Allocation again = stack_alloc(s, layout_new(200, 8));
    CHECK_EQ(again.ptr, a.ptr);
    CHECK_EQ(up->refusals, 5);

    /* A refusal once chunks are held changes nothing either. */
    before = state_of(s);
    CHECK_ALLOC_FAILS(stack_alloc(s, layout_new(900, 8)), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_STATE(s, before);
    CHECK_EQ(up->live_chunks, 1);
    CHECK(intact(&w));
    up->refuse = 0;
    CHECK_NE(stack_alloc(s, layout_new(900, 8)).ptr, 0);
    CHECK_EQ(up->sizes[1], 2048);
    CHECK_EQ(stack_depth(s), 3);

    CHECK_EQ(stack_free(s), 0);
    counting_done(up);
}

/* An upstream that breaks rule 6 (a block smaller than asked) is refused
 * like a failing one: OUT_OF_MEMORY, the stack unchanged, the block given
 * back. */
TEST(stack_growth_a_short_chunk_is_refused_and_given_back) {
    Counting *up = counting_new();
    StackAllocator *s = stack_new(64);
    CHECK_EQ(stack_set_upstream(s, counting_allocator(up), 4096), 0);
    Witness w = witness(s, 32, 13);
    up->short_by = 1;
    StackState before = state_of(s);
    CHECK_ALLOC_FAILS(stack_alloc(s, layout_new(100, 8)), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_STATE(s, before);
    CHECK(intact(&w));
    CHECK_EQ(up->calls, 1);
    CHECK_EQ(up->live_chunks, 0); /* given back */
    CHECK_EQ(up->live_bytes, 0);
    up->short_by = 0;
    CHECK_NE(stack_alloc(s, layout_new(100, 8)).ptr, 0);
    CHECK_EQ(stack_free(s), 0);
    counting_done(up);
}

/* ---- (e) stack_set_upstream refusals ------------------------------------------- */

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

/* The stack does not grow: a push past its buffer is EXHAUSTED. */
static void check_not_growing(StackAllocator *s) {
    CHECK_EQ(allocator_caps(stack_as_allocator(s)), STACK_CAPS);
    StackState before = state_of(s);
    CHECK_ALLOC_FAILS(stack_alloc(s, layout_new(4096, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_STATE(s, before);
}

TEST(stack_growth_set_upstream_refuses_bad_upstreams) {
    Counting *up = counting_new();
    StackAllocator *s = stack_new(1024);

    VaisAllocator no_vtable = {up, NULL};
    CHECK_STATUS_FAILS(stack_set_upstream(s, no_vtable, 4096), VAIS_ALLOC_E_NULL_HANDLE);
    check_not_growing(s);

    static const int64_t versions[] = {0, VAIS_ALLOCATOR_VTABLE_VERSION + 1, -1, INT64_MIN};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        VaisAllocatorVtable odd = counting_vtable;
        odd.version = versions[i];
        VaisAllocator bad = {up, &odd};
        CHECK_STATUS_FAILS(stack_set_upstream(s, bad, 4096), VAIS_ALLOC_E_INVALID_ARGUMENT);
        check_not_growing(s);
    }

    VaisAllocatorVtable no_alloc_entry = counting_vtable;
    no_alloc_entry.alloc = NULL;
    VaisAllocator without_alloc = {up, &no_alloc_entry};
    CHECK_STATUS_FAILS(stack_set_upstream(s, without_alloc, 4096), VAIS_ALLOC_E_INVALID_ARGUMENT);
    check_not_growing(s);

    VaisAllocatorVtable no_free_entry = counting_vtable;
    no_free_entry.free = NULL;
    VaisAllocator without_free = {up, &no_free_entry};
    CHECK_STATUS_FAILS(stack_set_upstream(s, without_free, 4096), VAIS_ALLOC_E_INVALID_ARGUMENT);
    check_not_growing(s);

    /* Its own upstream. */
    CHECK_STATUS_FAILS(stack_set_upstream(s, stack_as_allocator(s), 4096),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    check_not_growing(s);

    /* A negative chunk size. */
    CHECK_STATUS_FAILS(stack_set_upstream(s, counting_allocator(up), -1),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(stack_set_upstream(s, counting_allocator(up), INT64_MIN),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    check_not_growing(s);

    /* Bad handles. */
    CHECK_STATUS_FAILS(stack_set_upstream(NULL, counting_allocator(up), 4096),
                       VAIS_ALLOC_E_NULL_HANDLE);
    PoolAllocator *pool = pool_new(64, 4);
    CHECK_STATUS_FAILS(stack_set_upstream((StackAllocator *)pool, counting_allocator(up), 4096),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(pool_free(pool), 0);

    /* A stack not empty: refused, and its allocation is untouched (the
     * check bits of its header were not changed under it). */
    Witness w = witness(s, 64, 5);
    Witness w2 = witness(s, 32, 6);
    CHECK_STATUS_FAILS(stack_set_upstream(s, counting_allocator(up), 4096),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(stack_set_upstream(s, global_as_allocator(), 0),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    check_not_growing(s);
    CHECK(intact(&w));
    CHECK(intact(&w2));
    CHECK_EQ(stack_depth(s), 2);
    CHECK_EQ(stack_pop(s), 0);
    CHECK_STATUS_FAILS(stack_set_upstream(s, counting_allocator(up), 4096),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(stack_pop(s), 0);
    CHECK_STATUS_FAILS(stack_pop(s), VAIS_ALLOC_E_EMPTY);
    CHECK_EQ(stack_remaining(s), 1024);
    CHECK_EQ(up->calls + up->refusals, 0); /* never asked */

    /* Empty again: accepted. Before any chunk is held, another one may
     * replace it. */
    Counting *first = counting_new();
    CHECK_EQ(stack_set_upstream(s, counting_allocator(first), 4096), 0);
    CHECK_EQ(allocator_caps(stack_as_allocator(s)), GROWING_STACK_CAPS);
    CHECK_EQ(stack_set_upstream(s, counting_allocator(up), 4096), 0);
    CHECK_NE(stack_alloc(s, layout_new(2000, 8)).ptr, 0);
    CHECK_EQ(first->calls, 0);
    CHECK_EQ(up->calls, 1);
    counting_done(first);

    /* While its chunks are held, another one is refused, even when the
     * stack is empty again. */
    CHECK_EQ(stack_pop(s), 0);
    CHECK_EQ(stack_depth(s), 0);
    VaisAllocatorVtable other = counting_vtable;
    other.alloc = no_alloc;
    other.free = no_free;
    VaisAllocator refusing = {up, &other};
    StackState before = state_of(s);
    CHECK_STATUS_FAILS(stack_set_upstream(s, refusing, 4096), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(stack_set_upstream(s, global_as_allocator(), 4096),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATE(s, before);
    /* The refused ones were not installed: growth still asks the counting one. */
    CHECK_NE(stack_alloc(s, layout_new(1000, 8)).ptr, 0);
    CHECK_NE(stack_alloc(s, layout_new(8000, 8)).ptr, 0);
    CHECK_EQ(up->calls, 2);
    /* A drop gives every chunk back: then another upstream is accepted. */
    CHECK_EQ(stack_drop(s), 0);
    CHECK_EQ(up->live_chunks, 0);
    CHECK_EQ(stack_set_upstream(s, global_as_allocator(), 4096), 0);
    CHECK_NE(stack_alloc(s, layout_new(100, 8)).ptr, 0);
    CHECK_EQ(up->calls, 2);
    CHECK_EQ(stack_free(s), 0);
    counting_done(up);
}

/* ---- (f) upstreams of every kind ------------------------------------------------ */

TEST(stack_growth_from_the_global_allocator) {
    StackAllocator *s = stack_new(0);
    CHECK_EQ(stack_set_upstream(s, global_as_allocator(), 0), 0);
    Allocation first = {0, 0};
    int64_t total = 0;
    uint64_t rng = 7;
    for (int i = 0; i < 20000; i++) {
        uint64_t r = rng_next(&rng);
        Layout l = layout_new(8 + (int64_t)(r % 193), INT64_C(8) << ((r >> 16) % 4));
        Allocation a = stack_alloc(s, l);
        CHECK_NE(a.ptr, 0);
        if (a.ptr == 0) break;
        if (a.ptr % l.align != 0) CHECK_EQ(a.ptr % l.align, 0);
        if (i == 0) {
            first = a;
            fill_pattern(a.ptr, a.size, 6);
        }
        total += l.size;
    }
    CHECK_EQ(stack_depth(s), 20000);
    /* 64 KiB, 128 KiB, 256 KiB, ...: a handful of chunks. */
    CHECK_GE(stack_capacity(s), total);
    CHECK_LE(stack_capacity(s), (64 << 10) * 127);
    CHECK(pattern_intact(first.ptr, first.size, 6));
    Allocation big = stack_alloc(s, layout_new(3 << 20, 4096));
    CHECK_NE(big.ptr, 0);
    CHECK_EQ(big.ptr % 4096, 0);
    if (big.ptr != 0) memset((void *)(intptr_t)big.ptr, 0x77, (size_t)big.size);
    CHECK_EQ(stack_pop(s), 0);
    for (int i = 0; i < 10000; i++) CHECK_EQ(stack_pop(s), 0);
    CHECK(pattern_intact(first.ptr, first.size, 6));
    CHECK_EQ(stack_depth(s), 10000);
    CHECK_EQ(stack_reset(s), 0);
    CHECK_GE(stack_capacity(s), 3 << 20);
    CHECK_EQ(stack_remaining(s), stack_capacity(s));
    CHECK_EQ(stack_free(s), 0); /* Valgrind / ASan: no chunk leaks */
}

TEST(stack_growth_from_a_free_list) {
    FreeListAllocator *list = freelist_new(1 << 22);
    CHECK(list != NULL);
    StackAllocator *s = stack_new(0);
    CHECK_EQ(stack_set_upstream(s, freelist_as_allocator(list), 4096), 0);
    CHECK_EQ(freelist_total_allocated(list), 0);
    Witness w = witness(s, 64, 7);
    CHECK_GT(freelist_total_allocated(list), 4096);
    for (int i = 0; i < 1000; i++) {
        Allocation a = stack_alloc(s, layout_new(1000, 16));
        CHECK_NE(a.ptr, 0);
        if (a.ptr == 0) break;
        CHECK_EQ(a.ptr % 16, 0);
    }
    CHECK_EQ(stack_depth(s), 1001);
    int64_t held = freelist_total_allocated(list);
    CHECK_GE(held, stack_capacity(s)); /* headers on top */
    CHECK(intact(&w));
    /* Pops keep the chunks; reset keeps one in the free list. */
    for (int i = 0; i < 500; i++) CHECK_EQ(stack_pop(s), 0);
    CHECK_EQ(freelist_total_allocated(list), held);
    CHECK_EQ(stack_reset(s), 0);
    int64_t kept = freelist_total_allocated(list);
    CHECK_GT(kept, 0);
    CHECK_LT(kept, held);
    CHECK_GE(kept, stack_capacity(s));

    /* The free list runs out: OUT_OF_MEMORY, the stack unchanged. */
    Witness w2 = witness(s, 64, 8);
    StackState before = state_of(s);
    int64_t list_before = freelist_total_allocated(list);
    CHECK_ALLOC_FAILS(stack_alloc(s, layout_new(8 << 20, 16)), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_STATE(s, before);
    CHECK_EQ(freelist_total_allocated(list), list_before);
    CHECK(intact(&w2));

    CHECK_EQ(stack_free(s), 0);
    /* Balance zero: every chunk went back to the free list. */
    CHECK_EQ(freelist_total_allocated(list), 0);
    CHECK_EQ(freelist_remaining(list), 1 << 22);
    CHECK_EQ(freelist_free(list), 0);
}

TEST(stack_growth_from_a_bump_arena) {
    BumpAllocator *parent = bump_new(1 << 20);
    StackAllocator *child = stack_new(0);
    CHECK_EQ(stack_set_upstream(child, bump_as_allocator(parent), 4096), 0);
    for (int i = 0; i < 100; i++) CHECK_NE(stack_alloc(child, layout_new(200, 8)).ptr, 0);
    /* 216 + 99 * 208 bytes: 19 pushes in 4 KiB, 39 in 8 KiB, the rest in
     * 16 KiB. */
    CHECK_EQ(bump_total_allocated(parent), 4096 + 8192 + 16384);
    CHECK_EQ(stack_capacity(child), 4096 + 8192 + 16384);
    CHECK_EQ(stack_remaining(child), 16384 - 216 - 41 * 208);
    CHECK_EQ(stack_depth(child), 100);
    for (int i = 0; i < 100; i++) CHECK_EQ(stack_pop(child), 0);
    CHECK_EQ(bump_total_allocated(parent), 4096 + 8192 + 16384);
    CHECK_EQ(stack_free(child), 0);
    /* The parent's newest chunk rolled back; the others wait for its reset. */
    CHECK_LE(bump_total_allocated(parent), 4096 + 8192);
    CHECK_EQ(bump_reset(parent), 0);
    CHECK_EQ(bump_remaining(parent), 1 << 20);
    CHECK_EQ(bump_free(parent), 0);
}

/* ---- (g) caps ------------------------------------------------------------- */

TEST(stack_growth_caps_say_grows_once_an_upstream_is_set) {
    StackAllocator *s = stack_new(64);
    int64_t plain = allocator_caps(stack_as_allocator(s));
    CHECK_EQ(plain, STACK_CAPS);
    CHECK_EQ(plain & VAIS_ALLOC_CAP_GROWS, 0);
    CHECK_EQ(stack_set_upstream(s, global_as_allocator(), 4096), 0);
    CHECK_EQ(allocator_caps(stack_as_allocator(s)), GROWING_STACK_CAPS);
    /* It keeps its upstream through a reset and a drop. */
    CHECK_EQ(stack_reset(s), 0);
    CHECK_EQ(allocator_caps(stack_as_allocator(s)), GROWING_STACK_CAPS);
    CHECK_EQ(stack_drop(s), 0);
    CHECK_EQ(allocator_caps(stack_as_allocator(s)), GROWING_STACK_CAPS);
    CHECK_EQ(stack_free(s), 0);

    StackAllocator *c = stack_new(64);
    CHECK_STATUS_FAILS(stack_set_upstream(c, global_as_allocator(), -5),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(allocator_caps(stack_as_allocator(c)), plain);
    CHECK_EQ(stack_free(c), 0);
}

/* ---- (h) out-of-order frees through the interface, across chunks ------------ */

#define OOO_BLOCKS 40

typedef struct {
    StackAllocator *s;
    Allocation b[OOO_BLOCKS];
    int64_t remaining_before[OOO_BLOCKS], capacity_before[OOO_BLOCKS];
    int live[OOO_BLOCKS]; /* pushed and neither freed nor popped */
    int top;              /* blocks [0, top) are not yet reclaimed */
} OutOfOrder;

static int64_t live_count(const OutOfOrder *m) {
    int64_t n = 0;
    for (int i = 0; i < m->top; i++) n += m->live[i];
    return n;
}

/* The stack is as the model says: depth, remaining bytes (those before the
 * push of the first block not reclaimed, plus the chunks obtained since),
 * and the patterns of the live blocks. */
static void check_model(const OutOfOrder *m) {
    CHECK_EQ(stack_depth(m->s), live_count(m));
    if (m->top < OOO_BLOCKS) {
        int k = m->top;
        CHECK_EQ(stack_remaining(m->s),
                 m->remaining_before[k] + stack_capacity(m->s) - m->capacity_before[k]);
    }
    for (int i = 0; i < m->top; i++)
        if (m->live[i] && !pattern_intact(m->b[i].ptr, m->b[i].size, 100u + (unsigned)i))
            HARNESS_FAIL("block %d disturbed", i);
}

/* A pop: the newest live block goes, and every dead one right below it. */
static void model_pop(OutOfOrder *m) {
    while (m->top > 0 && !m->live[m->top - 1]) m->top--;
    if (m->top > 0) m->live[--m->top] = 0;
    while (m->top > 0 && !m->live[m->top - 1]) m->top--;
}

TEST(stack_growth_out_of_order_frees_across_chunks_are_reclaimed_by_the_pop_that_uncovers_them) {
    Counting *up = counting_new();
    OutOfOrder m;
    memset(&m, 0, sizeof m);
    m.s = stack_new(0);
    CHECK_EQ(stack_set_upstream(m.s, counting_allocator(up), 1024), 0);
    VaisAllocator view = stack_as_allocator(m.s);
    CHECK_EQ(allocator_caps(view), GROWING_STACK_CAPS);
    Layout l = layout_new(300, 16);
    int chunk_of[OOO_BLOCKS];
    for (int i = 0; i < OOO_BLOCKS; i++) {
        m.remaining_before[i] = stack_remaining(m.s);
        m.capacity_before[i] = stack_capacity(m.s);
        m.b[i] = allocator_alloc(view, l);
        CHECK_NE(m.b[i].ptr, 0);
        if (m.b[i].ptr == 0) goto out;
        fill_pattern(m.b[i].ptr, m.b[i].size, 100u + (unsigned)i);
        chunk_of[i] = counting_holds(up, m.b[i].ptr, m.b[i].size);
        CHECK_GE(chunk_of[i], 0);
        m.live[i] = 1;
    }
    m.top = OOO_BLOCKS;
    /* 300 bytes a push (320 with header and gap): 3 in 1 KiB, 6 in 2 KiB,
     * 12 in 4 KiB, the rest in 8 KiB. */
    CHECK_EQ(up->calls, 4);
    CHECK(chunk_of[0] == chunk_of[2] && chunk_of[2] != chunk_of[3]);
    CHECK(chunk_of[3] == chunk_of[8] && chunk_of[8] != chunk_of[9]);
    CHECK(chunk_of[9] == chunk_of[20] && chunk_of[20] != chunk_of[21]);
    check_model(&m);

    /* Frees of older blocks, in older chunks and in the current one: each
     * is 0, the block dies (depth one less), nothing is reclaimed yet, and
     * a second free is DOUBLE_FREE with nothing changed. */
    static const int older[] = {1, 2, 4, 5, 8, 9, 15, 20, 21, OOO_BLOCKS - 2};
    for (size_t k = 0; k < sizeof older / sizeof older[0]; k++) {
        int i = older[k];
        StackState before = state_of(m.s);
        CHECK_EQ(allocator_free(view, m.b[i].ptr, l), 0);
        m.live[i] = 0;
        CHECK_EQ(stack_remaining(m.s), before.remaining);
        CHECK_EQ(stack_capacity(m.s), before.capacity);
        CHECK_EQ(stack_depth(m.s), before.depth - 1);
        StackState dead = state_of(m.s);
        CHECK_STATUS_FAILS(allocator_free(view, m.b[i].ptr, l), VAIS_ALLOC_E_DOUBLE_FREE);
        CHECK_STATE(m.s, dead);
        check_model(&m);
        if (harness_current_failed) {
            fprintf(stderr, "  ^ freeing block %d\n", i);
            goto out;
        }
    }

    /* The newest, freed through the interface, is popped with the dead
     * one below it. */
    CHECK_EQ(allocator_free(view, m.b[OOO_BLOCKS - 1].ptr, l), 0);
    model_pop(&m);
    CHECK_EQ(m.top, OOO_BLOCKS - 2);
    check_model(&m);

    /* Pops unwind the rest: each pop reclaims the dead blocks it uncovers,
     * across chunk boundaries (21 and 20 sit at the edges of two chunks;
     * 9 and 8 too). A reclaimed block is refused as a double free. */
    while (live_count(&m) > 0) {
        CHECK_EQ(stack_pop(m.s), 0);
        model_pop(&m);
        check_model(&m);
        if (m.top == 1) {
            /* Reclaimed, in the current region above the top. */
            StackState before = state_of(m.s);
            CHECK_STATUS_FAILS(allocator_free(view, m.b[1].ptr, l), VAIS_ALLOC_E_DOUBLE_FREE);
            CHECK_STATE(m.s, before);
        }
        if (harness_current_failed) {
            fprintf(stderr, "  ^ after a pop down to %d\n", m.top);
            goto out;
        }
    }
    CHECK_STATUS_FAILS(stack_pop(m.s), VAIS_ALLOC_E_EMPTY);
    CHECK_EQ(stack_depth(m.s), 0);
    CHECK_EQ(stack_remaining(m.s), stack_capacity(m.s));
    /* A block in a chunk the stack no longer uses (held beyond its
     * current region) is refused too, with nothing changed. */
    StackState before = state_of(m.s);
    vais_alloc_clear_error();
    int64_t refused = allocator_free(view, m.b[30].ptr, l);
    CHECK(refused == VAIS_ALLOC_E_DOUBLE_FREE || refused == VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_EQ(vais_alloc_last_error(), refused);
    CHECK_STATE(m.s, before);
    CHECK_EQ(up->calls, 4);
out:
    CHECK_EQ(stack_free(m.s), 0);
    counting_done(up);
}

/* ---- (i) checkpoints, with and without an upstream ---------------------------- */

/* Nested marks (across chunks when `up` is set), a loop of 100 rounds
 * released to the inner mark, then to the outer one; the inner is then
 * STALE_MARK with nothing changed. */
static void check_marks_nest_and_loop(Counting *up) {
    StackAllocator *s = stack_new(up ? 256 : 1 << 20);
    CHECK(s != NULL);
    if (s == NULL) return;
    if (up) CHECK_EQ(stack_set_upstream(s, counting_allocator(up), 1024), 0);
    int64_t max_used = 0, max_capacity = 0, max_live = 0, live = 0;
#define NOTE_USE(extra)                                                              \
    do {                                                                             \
        live += (extra);                                                             \
        if (live > max_live) max_live = live;                                        \
        int64_t cap_ = stack_capacity(s), used_ = cap_ - stack_remaining(s);         \
        if (used_ > max_used) max_used = used_;                                      \
        if (cap_ > max_capacity) max_capacity = cap_;                                \
    } while (0)

    Witness w = witness(s, 100, 9);
    NOTE_USE(100);
    int64_t a = stack_mark(s);
    CHECK_GE(a, 0);
    StackState at_a = state_of(s);
    int64_t live_at_a = live;
    /* Into two or three chunks (with an upstream). */
    Witness inner[5];
    for (int i = 0; i < 5; i++) {
        inner[i] = witness(s, 300, 20u + (unsigned)i);
        NOTE_USE(300);
    }
    int64_t b = stack_mark(s);
    CHECK_GE(b, 0);
    CHECK_NE(b, a);
    StackState at_b = state_of(s);
    int64_t live_at_b = live;
    CHECK_EQ(at_b.depth, 6);
    if (up) CHECK_GE(up->calls, 2);

    int64_t calls_after[100] = {0};
    for (int round = 0; round < 100; round++) {
        /* 20 blocks of 1000 bytes: across several chunks. */
        for (int i = 0; i < 20; i++) {
            Allocation x = stack_alloc(s, layout_new(1000, 8 << (i % 4)));
            CHECK_NE(x.ptr, 0);
            if (x.ptr != 0) fill_pattern(x.ptr, 1000, (unsigned)(round + i));
            NOTE_USE(1000);
        }
        CHECK_EQ(stack_depth(s), at_b.depth + 20);
        CHECK_EQ(stack_release_to(s, b), 0);
        live = live_at_b;
        CHECK_EQ(stack_remaining(s), at_b.remaining);
        CHECK_EQ(stack_depth(s), at_b.depth);
        if (up) {
            calls_after[round] = up->calls;
            CHECK_EQ(stack_capacity(s), 256 + up->live_bytes);
        } else {
            CHECK_EQ(stack_capacity(s), 1 << 20);
        }
        if (harness_current_failed) {
            fprintf(stderr, "  ^ round %d\n", round);
            break;
        }
    }
    if (up) {
        /* The chunks obtained in a round go back but one spare, which from
         * the third round on holds a whole round: upstream calls stop. */
        CHECK_LE(calls_after[1], calls_after[0] + 1);
        for (int round = 3; round < 100; round++) CHECK_EQ(calls_after[round], calls_after[2]);
    }
    CHECK(intact(&w));
    for (int i = 0; i < 5; i++) CHECK(intact(&inner[i]));
    CHECK_GE(stack_peak(s), max_live);
    if (up) {
        CHECK_LE(stack_peak(s), max_capacity);
    } else {
        /* Without chunks, the peak is exactly the high water of
         * capacity - remaining. */
        CHECK_EQ(stack_peak(s), max_used);
    }

    /* A release right after the mark changes nothing. */
    StackState before = state_of(s);
    CHECK_EQ(stack_release_to(s, b), 0);
    CHECK_STATE(s, before);

    /* Release to A: B goes stale, nothing changes on a stale release. */
    CHECK_EQ(stack_release_to(s, a), 0);
    live = live_at_a;
    CHECK_EQ(stack_remaining(s), at_a.remaining);
    CHECK_EQ(stack_depth(s), at_a.depth);
    CHECK(intact(&w));
    before = state_of(s);
    int64_t calls = up ? up->calls : 0, chunks = up ? up->live_chunks : 0;
    if (up) CHECK_LE(chunks, 1); /* a spare at most */
    CHECK_STATUS_FAILS(stack_release_to(s, b), VAIS_ALLOC_E_STALE_MARK);
    CHECK_STATE(s, before);
    if (up) {
        CHECK_EQ(up->calls, calls);
        CHECK_EQ(up->live_chunks, chunks);
    }
    /* A stays live, again and again. */
    CHECK_EQ(stack_release_to(s, a), 0);
    CHECK_STATE(s, before);
    CHECK_EQ(stack_release_to(s, a), 0);
    CHECK_STATE(s, before);
    CHECK(intact(&w));
    CHECK_GE(stack_peak(s), max_live);
    /* A mark taken now at the same point is another value, and works. */
    int64_t again = stack_mark(s);
    CHECK_GE(again, 0);
    CHECK_NE(again, b);
    CHECK_NE(stack_alloc(s, layout_new(5000, 16)).ptr, 0);
    CHECK_EQ(stack_release_to(s, again), 0);
    CHECK_STATE(s, before);
    CHECK_EQ(stack_release_to(s, a), 0);
    CHECK_EQ(stack_pop(s), 0); /* the witness, below A: A is stale now */
    CHECK_STATUS_FAILS(stack_release_to(s, a), VAIS_ALLOC_E_STALE_MARK);
    CHECK_STATUS_FAILS(stack_release_to(s, again), VAIS_ALLOC_E_STALE_MARK);
    CHECK_EQ(stack_depth(s), 0);
#undef NOTE_USE
    CHECK_EQ(stack_free(s), 0);
}

TEST(stack_marks_nest_and_a_loop_releases_without_calling_upstream) {
    Counting *up = counting_new();
    check_marks_nest_and_loop(up);
    counting_done(up);
}

TEST(stack_marks_nest_and_a_loop_releases_without_upstream) { check_marks_nest_and_loop(NULL); }

/* A pop below a mark makes it stale; a pop back to the mark's point (out
 * of a chunk entered after it) does not. */
static void check_pop_below_mark(Counting *up) {
    StackAllocator *s = stack_new(256);
    if (up) CHECK_EQ(stack_set_upstream(s, counting_allocator(up), 1024), 0);
    Witness w = witness(s, 64, 30);
    Witness x = witness(s, 64, 31); /* own: 16..80, 96..160 */
    int64_t m = stack_mark(s);
    CHECK_GE(m, 0);
    StackState at_m = state_of(s);
    CHECK_EQ(at_m.remaining, 256 - 160);
    /* Above the mark: pushed and popped, the mark stays live. */
    CHECK_NE(stack_alloc(s, layout_new(64, 8)).ptr, 0); /* own: 176..240 */
    CHECK_EQ(stack_pop(s), 0);
    at_m.peak = 240;
    CHECK_STATE(s, at_m);
    if (up) {
        /* Into a chunk and back: the region empties, the stack moves down
         * to the mark's point, which is not below it; the chunk stays
         * held beyond it. */
        Allocation c = stack_alloc(s, layout_new(200, 8));
        CHECK_NE(c.ptr, 0);
        CHECK_GE(counting_holds(up, c.ptr, 200), 0);
        CHECK_EQ(stack_pop(s), 0);
        CHECK_EQ(stack_capacity(s), 256 + 1024);
        CHECK_EQ(stack_remaining(s), at_m.remaining + 1024);
        CHECK_EQ(stack_depth(s), at_m.depth);
        /* The release gives back the chunk obtained since the mark (kept
         * as the spare: the capacity stays). */
        CHECK_EQ(stack_release_to(s, m), 0);
        at_m.capacity = 256 + 1024;
        at_m.peak = stack_peak(s);
        CHECK_GE(at_m.peak, 160 + 216);
    }
    CHECK_EQ(stack_release_to(s, m), 0);
    CHECK_STATE(s, at_m);
    /* A mark taken in a chunk, popped below by leaving the chunk. */
    if (up) {
        Allocation c = stack_alloc(s, layout_new(200, 8));
        CHECK_NE(c.ptr, 0);
        CHECK_GE(counting_holds(up, c.ptr, 200), 0);
        CHECK_EQ(up->calls, 1); /* the spare */
        int64_t in_chunk = stack_mark(s);
        CHECK_GE(in_chunk, 0);
        CHECK_NE(stack_alloc(s, layout_new(100, 8)).ptr, 0);
        CHECK_EQ(stack_release_to(s, in_chunk), 0);
        CHECK_EQ(stack_depth(s), 3);
        CHECK_EQ(stack_pop(s), 0); /* c: below in_chunk */
        StackState after = state_of(s);
        CHECK_STATUS_FAILS(stack_release_to(s, in_chunk), VAIS_ALLOC_E_STALE_MARK);
        CHECK_STATE(s, after);
        CHECK_EQ(stack_release_to(s, m), 0); /* m is older: still live */
        CHECK_EQ(stack_depth(s), 2);
        CHECK_EQ(stack_remaining(s), at_m.remaining);
        CHECK_EQ(stack_capacity(s), at_m.capacity);
    }
    /* Now below m: x goes, m is stale, nothing changes on a release. */
    CHECK_EQ(stack_pop(s), 0);
    StackState after = state_of(s);
    CHECK_EQ(after.depth, 1);
    CHECK_STATUS_FAILS(stack_release_to(s, m), VAIS_ALLOC_E_STALE_MARK);
    CHECK_STATE(s, after);
    CHECK(intact(&w));
    /* Pushing back to the same height does not revive it. */
    x = witness(s, 64, 32);
    CHECK_STATUS_FAILS(stack_release_to(s, m), VAIS_ALLOC_E_STALE_MARK);
    CHECK_EQ(stack_depth(s), 2);
    CHECK(intact(&x));
    /* An out-of-order free through the interface makes no pop: the mark
     * above a block freed that way stays live, and a release to it
     * reclaims the dead block when it is the newest left. */
    int64_t m2 = stack_mark(s);
    Allocation y = stack_alloc(s, layout_new(48, 16));
    CHECK_NE(y.ptr, 0);
    CHECK_EQ(allocator_free(stack_as_allocator(s), x.block.ptr, layout_new(64, 8)), 0);
    CHECK_EQ(stack_depth(s), 2);
    CHECK_EQ(stack_release_to(s, m2), 0);
    CHECK_EQ(stack_depth(s), 1);
    CHECK(intact(&w));
    CHECK_EQ(stack_free(s), 0);
}

TEST(stack_marks_a_pop_below_a_mark_makes_it_stale) {
    Counting *up = counting_new();
    check_pop_below_mark(up);
    counting_done(up);
    check_pop_below_mark(NULL);
}

/* Marks of another stack, forged values, marks taken before a reset or a
 * drop: STALE_MARK with nothing changed. */
static void check_stale_forged_and_foreign(Counting *up) {
    StackAllocator *s = stack_new(512);
    StackAllocator *other = stack_new(512);
    if (up) CHECK_EQ(stack_set_upstream(s, counting_allocator(up), 1024), 0);
    Witness w = witness(s, 64, 11);
    int64_t before_reset = stack_mark(s);
    CHECK_GE(before_reset, 0);
    CHECK_NE(stack_alloc(s, layout_new(up ? 2000 : 300, 8)).ptr, 0);
    CHECK_EQ(stack_reset(s), 0);
    CHECK_STATUS_FAILS(stack_release_to(s, before_reset), VAIS_ALLOC_E_STALE_MARK);
    w = witness(s, 64, 12);

    int64_t marks[3];
    marks[0] = stack_mark(s);
    CHECK_NE(stack_alloc(s, layout_new(200, 8)).ptr, 0);
    marks[1] = stack_mark(s);
    CHECK_NE(stack_alloc(s, layout_new(up ? 3000 : 100, 8)).ptr, 0); /* a new chunk */
    marks[2] = stack_mark(s);
    for (int i = 0; i < 3; i++) CHECK_GE(marks[i], 0);
    int64_t foreign[4];
    for (int i = 0; i < 4; i++) foreign[i] = stack_mark(other);
    StackState before = state_of(s);
    int64_t calls = up ? up->calls : 0, live = up ? up->live_chunks : 0;

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
        if (is_live) continue; /* a small value can only pass as the live mark it equals */
        tried++;
        CHECK_STATUS_FAILS(stack_release_to(s, candidates[i]), VAIS_ALLOC_E_STALE_MARK);
        CHECK_STATE(s, before);
        if (harness_current_failed) fprintf(stderr, "  ^ value %" PRId64 "\n", candidates[i]);
    }
    CHECK_GE(tried, 14);
    if (up) {
        CHECK_EQ(up->calls, calls);
        CHECK_EQ(up->live_chunks, live);
    }
    CHECK(intact(&w));

    /* Bad handles. */
    CHECK_STATUS_FAILS(stack_mark(NULL), VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_STATUS_FAILS(stack_release_to(NULL, m), VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_STATUS_FAILS(stack_peak(NULL), VAIS_ALLOC_E_NULL_HANDLE);
    PoolAllocator *pool = pool_new(64, 4);
    CHECK_STATUS_FAILS(stack_mark((StackAllocator *)pool), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(stack_release_to((StackAllocator *)pool, m), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(stack_peak((StackAllocator *)pool), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(pool_free(pool), 0);
    BumpAllocator *bump = bump_new(64);
    int64_t bump_mark_value = bump_mark(bump);
    CHECK_STATUS_FAILS(stack_release_to(s, bump_mark_value), VAIS_ALLOC_E_STALE_MARK);
    CHECK_STATUS_FAILS(stack_release_to((StackAllocator *)bump, m), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(bump_free(bump), 0);
    CHECK_STATE(s, before);

    /* The real marks still work, newest first. */
    CHECK_EQ(stack_release_to(s, marks[2]), 0);
    CHECK_STATE(s, before);
    CHECK_EQ(stack_release_to(s, marks[1]), 0);
    CHECK_EQ(stack_depth(s), 2);
    CHECK_STATUS_FAILS(stack_release_to(s, marks[2]), VAIS_ALLOC_E_STALE_MARK);
    CHECK_EQ(stack_release_to(s, marks[0]), 0);
    CHECK_EQ(stack_depth(s), 1);
    CHECK_STATUS_FAILS(stack_release_to(s, marks[1]), VAIS_ALLOC_E_STALE_MARK);
    CHECK(intact(&w));
    /* The other stack's own marks are its own. */
    CHECK_EQ(stack_release_to(other, foreign[3]), 0);
    CHECK_EQ(stack_release_to(other, foreign[0]), 0);
    CHECK_STATUS_FAILS(stack_release_to(other, foreign[1]), VAIS_ALLOC_E_STALE_MARK);
    /* A reset makes every mark stale; so does a drop. */
    CHECK_EQ(stack_reset(s), 0);
    CHECK_STATUS_FAILS(stack_release_to(s, marks[0]), VAIS_ALLOC_E_STALE_MARK);
    int64_t before_drop = stack_mark(other);
    CHECK_EQ(stack_drop(other), 0);
    CHECK_STATUS_FAILS(stack_release_to(other, before_drop), VAIS_ALLOC_E_STALE_MARK);

    CHECK_EQ(stack_free(other), 0);
    CHECK_EQ(stack_free(s), 0);
}

TEST(stack_marks_stale_forged_and_foreign_are_refused) {
    Counting *up = counting_new();
    check_stale_forged_and_foreign(up);
    counting_done(up);
    check_stale_forged_and_foreign(NULL);
}

/* A mark taken with chunks held beyond the current region (after pops):
 * a release to it keeps them, and brings back the remaining bytes at the
 * mark. A mark right after a reset finds the kept chunk there again. */
TEST(stack_marks_keep_the_chunks_held_when_taken) {
    Counting *up = counting_new();
    StackAllocator *s = stack_new(256);
    CHECK_EQ(stack_set_upstream(s, counting_allocator(up), 1024), 0);
    Witness w = witness(s, 64, 40);
    for (int i = 0; i < 10; i++) CHECK_NE(stack_alloc(s, layout_new(900, 8)).ptr, 0);
    int64_t calls = up->calls, chunks = up->live_chunks;
    CHECK_GE(calls, 3);
    pop_to_depth(s, 1);
    int64_t m = stack_mark(s);
    StackState at_m = state_of(s);
    CHECK_EQ(at_m.remaining, at_m.capacity - 16 - 64);
    for (int i = 0; i < 10; i++) CHECK_NE(stack_alloc(s, layout_new(900, 8)).ptr, 0);
    CHECK_EQ(up->calls, calls);
    CHECK_EQ(stack_release_to(s, m), 0);
    CHECK_STATE(s, at_m);
    CHECK_EQ(up->live_chunks, chunks);
    CHECK(intact(&w));

    /* After a reset: one chunk, beyond the own buffer. */
    CHECK_EQ(stack_reset(s), 0);
    CHECK_EQ(stack_remaining(s), 256 + up->largest);
    int64_t r = stack_mark(s);
    StackState at_r = state_of(s);
    CHECK_EQ(stack_release_to(s, r), 0);
    CHECK_STATE(s, at_r);
    CHECK_NE(stack_alloc(s, layout_new(1000, 8)).ptr, 0);
    CHECK_NE(stack_alloc(s, layout_new(1000, 8)).ptr, 0);
    CHECK_EQ(stack_release_to(s, r), 0);
    CHECK_STATE(s, at_r);
    CHECK_EQ(up->live_chunks, 1);

    /* A spare kept by a release serves while the upstream refuses. */
    int64_t m2 = stack_mark(s);
    for (int i = 0; i < 30; i++) CHECK_NE(stack_alloc(s, layout_new(1000, 8)).ptr, 0);
    CHECK_EQ(stack_release_to(s, m2), 0);
    CHECK_EQ(up->live_chunks, 2); /* the one held at the mark, and a spare */
    up->refuse = 1;
    calls = up->calls;
    for (int i = 0; i < 2; i++) CHECK_NE(stack_alloc(s, layout_new(1000, 8)).ptr, 0);
    Allocation in_spare = stack_alloc(s, layout_new(up->largest / 2, 8));
    CHECK_NE(in_spare.ptr, 0);
    CHECK_GE(counting_holds(up, in_spare.ptr, in_spare.size), 0);
    CHECK_EQ(up->calls, calls);
    up->refuse = 0;
    CHECK_EQ(stack_free(s), 0);
    counting_done(up);
}

/* The peak: the most bytes in use (headers and padding included), kept
 * through pops, releases, resets and drops. */
TEST(stack_peak_is_the_high_water_mark) {
    StackAllocator *s = stack_new(4096);
    CHECK_EQ(stack_peak(s), 0);
    int64_t start = own_start(s);
    CHECK_EQ(stack_peak(s), 17);
    CHECK_NE(stack_alloc(s, layout_new(100, 8)).ptr, 0); /* 16..116 */
    CHECK_EQ(stack_peak(s), 116);
    int64_t m = stack_mark(s);
    CHECK_NE(stack_alloc(s, layout_new(1000, 8)).ptr, 0); /* 128..1128 */
    Allocation y = stack_alloc(s, layout_new(500, 8));    /* 1136..1636 */
    CHECK_NE(y.ptr, 0);
    CHECK_EQ(stack_peak(s), 1636);
    CHECK_EQ(stack_peak(s), 4096 - stack_remaining(s));
    CHECK_EQ(allocator_free(stack_as_allocator(s), y.ptr, layout_new(500, 8)), 0);
    CHECK_EQ(stack_remaining(s), 4096 - 1128);
    CHECK_EQ(stack_peak(s), 1636);
    CHECK_EQ(stack_release_to(s, m), 0);
    CHECK_EQ(stack_remaining(s), 4096 - 116);
    CHECK_EQ(stack_peak(s), 1636);
    CHECK_EQ(stack_pop(s), 0);
    CHECK_EQ(stack_peak(s), 1636);
    /* Aligned to 64: 16 to 64 bytes in, as the buffer lies. */
    Allocation z = stack_alloc(s, layout_new(2000, 64));
    CHECK_NE(z.ptr, 0);
    CHECK_EQ(z.ptr, align_up(start + 8, 64));
    int64_t high = z.ptr + 2000 - start;
    CHECK_EQ(stack_peak(s), high);
    CHECK_EQ(stack_reset(s), 0);
    CHECK_EQ(stack_peak(s), high);
    /* A drop keeps it too (as bump_peak does). */
    CHECK_EQ(stack_drop(s), 0);
    CHECK_EQ(stack_peak(s), high);
    CHECK_EQ(stack_free(s), 0);

    /* Growing: at least the bytes of the live pushes and their headers. */
    Counting *up = counting_new();
    s = stack_new(0);
    CHECK_EQ(stack_set_upstream(s, counting_allocator(up), 1024), 0);
    int64_t live = 0;
    for (int i = 0; i < 50; i++) {
        CHECK_NE(stack_alloc(s, layout_new(200 + i, 8)).ptr, 0);
        live += 200 + i + 8;
    }
    int64_t peak = stack_peak(s);
    CHECK_GE(peak, live);
    CHECK_LE(peak, stack_capacity(s) - stack_remaining(s));
    for (int i = 0; i < 50; i++) CHECK_EQ(stack_pop(s), 0);
    CHECK_EQ(stack_peak(s), peak);
    CHECK_EQ(stack_reset(s), 0);
    CHECK_EQ(stack_peak(s), peak);
    CHECK_EQ(stack_free(s), 0);
    counting_done(up);
}

/* An upstream whose chunks start at 4080 mod 4096 (so that a push aligned
 * to 4096 lands 16 bytes into a fresh chunk): the peak of a stack whose
 * high water was reached in a region it then leaves for a new chunk. */
static Allocation offset_alloc(void *ctx, Layout layout) {
    int64_t *live = ctx;
    void *base = NULL;
    Allocation none = {0, 0};
    if (posix_memalign(&base, 4096, (size_t)layout.size + 4096) != 0) return none;
    ++*live;
    Allocation chunk = {(int64_t)(intptr_t)base + 4080, layout.size};
    return chunk;
}
static int64_t offset_free(void *ctx, int64_t ptr, Layout layout) {
    (void)layout;
    int64_t *live = ctx;
    --*live;
    free((void *)(intptr_t)(ptr - 4080));
    return 0;
}
static const VaisAllocatorVtable offset_vtable = {
    .version = VAIS_ALLOCATOR_VTABLE_VERSION,
    .caps = VAIS_ALLOC_CAP_FREE | VAIS_ALLOC_CAP_ANY_SIZE,
    .alloc = offset_alloc,
    .free = offset_free,
};

TEST(stack_peak_never_goes_down_when_a_push_moves_to_a_new_chunk) {
    int64_t live = 0;
    VaisAllocator up = {&live, &offset_vtable};
    StackAllocator *s = stack_new(0);
    CHECK_EQ(stack_set_upstream(s, up, 4096), 0);
    CHECK_NE(stack_alloc(s, layout_new(1, 16)).ptr, 0);    /* chunk 1: 16..17 */
    CHECK_NE(stack_alloc(s, layout_new(4000, 16)).ptr, 0); /* 32..4032 */
    CHECK_EQ(stack_peak(s), 4032);
    CHECK_EQ(stack_pop(s), 0); /* a pop with a live header below */
    CHECK_EQ(stack_peak(s), 4032);
    /* No 4096-aligned place with room in chunk 1: a new chunk, 16 bytes in. */
    Allocation a = stack_alloc(s, layout_new(1, 4096));
    CHECK_NE(a.ptr, 0);
    CHECK_EQ(live, 2);
    CHECK_GE(stack_peak(s), 4032);
    CHECK_EQ(stack_pop(s), 0);
    CHECK_GE(stack_peak(s), 4032);
    CHECK_EQ(stack_free(s), 0);
    CHECK_EQ(live, 0);
}
