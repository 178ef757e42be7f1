/* stack_*: the reference's example, exact unwinding, bad layouts. */
#include "harness.h"
#include "vais_alloc.h"

static int64_t align_up(int64_t value, int64_t align) { return (value + align - 1) & -align; }

/* The stack's placement, as a model: the payload at the first address
 * aligned as requested, and to 16 at least, with room for the 8-byte
 * header right below it above the top; a zero-size request takes one byte.
 * Returns the payload address; *top moves past it. */
static int64_t model_push(int64_t base, int64_t *top, Layout l) {
    int64_t payload = align_up(base + *top + 8, l.align > 16 ? l.align : 16);
    *top = payload - base + (l.size > 0 ? l.size : 1);
    return payload;
}

/* The buffer's start: a first zero-size, byte-aligned push has its header
 * at offset 8 and its payload (16-aligned) right after it. The stack is
 * left empty. */
static int64_t stack_base(StackAllocator *stack) {
    Allocation probe = stack_alloc(stack, layout_new(0, 1));
    CHECK_NE(probe.ptr, 0);
    CHECK_EQ(stack_pop(stack), 0);
    return probe.ptr - 16;
}

/* The reference's "Stack Allocator" example, with the exact top after each
 * step: i64 -> header 8, payload 16..24; i32 -> header 24, payload 32..36;
 * ptr -> header 40, payload 48..56 (payloads are 16-aligned). */
TEST(stack_reference_example) {
    StackAllocator *stack = stack_new(2048);
    CHECK(stack != NULL);
    CHECK_EQ(stack_remaining(stack), 2048);
    CHECK_EQ(stack_depth(stack), 0);

    Allocation a1 = stack_alloc(stack, layout_for_i64());
    CHECK_NE(a1.ptr, 0);
    CHECK_EQ(a1.size, 8);
    CHECK_EQ(a1.ptr % 16, 0);
    CHECK_EQ(stack_remaining(stack), 2024);
    Allocation a2 = stack_alloc(stack, layout_for_i32());
    CHECK_EQ(a2.ptr, a1.ptr + 16);
    CHECK_EQ(a2.size, 4);
    CHECK_EQ(stack_remaining(stack), 2012);
    Allocation a3 = stack_alloc(stack, layout_for_ptr());
    CHECK_EQ(a3.size, (int64_t)sizeof(void *));
    CHECK_EQ(a3.ptr % (int64_t)_Alignof(void *), 0);
    if (sizeof(void *) == 8) {
        CHECK_EQ(a3.ptr, a1.ptr + 32);
        CHECK_EQ(stack_remaining(stack), 1992);
    }
    CHECK_EQ(stack_depth(stack), 3);
    *(int64_t *)(intptr_t)a1.ptr = 111;
    *(int32_t *)(intptr_t)a2.ptr = 222;
    *(void **)(intptr_t)a3.ptr = stack;

    CHECK_EQ(stack_pop(stack), 0); /* a3 */
    CHECK_EQ(stack_remaining(stack), 2012);
    CHECK_EQ(stack_depth(stack), 2);
    CHECK_EQ(stack_pop(stack), 0); /* a2 */
    CHECK_EQ(stack_remaining(stack), 2024);
    CHECK_EQ(stack_depth(stack), 1);
    CHECK_EQ(*(int64_t *)(intptr_t)a1.ptr, 111);

    CHECK_EQ(stack_reset(stack), 0);
    CHECK_EQ(stack_remaining(stack), 2048);
    CHECK_EQ(stack_depth(stack), 0);
    CHECK_STATUS_FAILS(stack_pop(stack), VAIS_ALLOC_E_EMPTY);
    CHECK_EQ(stack_remaining(stack), 2048);

    CHECK_EQ(stack_drop(stack), 0);
    CHECK_EQ(stack_free(stack), 0);
}

/* The reference's pop never read its header: after three pushes, three
 * pops left remaining at 2020 each time. Here N pops undo N pushes, in
 * order, whatever the sizes and alignments, and one more is EMPTY. */
TEST(stack_pops_unwind_every_push_in_order) {
    enum { CAPACITY = 1 << 16 };
    static const int64_t layouts[][2] = {
        {3, 1}, {5, 2}, {1, 256}, {7, 1}, {0, 4096}, {9, 16}, {1, 1}, {100, 64},
        {13, 8}, {0, 1}, {33, 32}, {2, 2}, {1, 1}, {1, 1}, {4000, 4096}, {6, 4},
    };
    enum { N = sizeof layouts / sizeof layouts[0] };
    StackAllocator *stack = stack_new(CAPACITY);
    CHECK(stack != NULL);
    if (stack == NULL) return;
    int64_t base = stack_base(stack);
    CHECK_EQ(base % 16, 0);

    for (int round = 0; round < 2; round++) {
        int64_t top = 0, before[N];
        Allocation live[N];
        for (int i = 0; i < N; i++) {
            Layout l = layout_new(layouts[i][0], layouts[i][1]);
            before[i] = stack_remaining(stack);
            CHECK_EQ(before[i], CAPACITY - top);
            int64_t expected = model_push(base, &top, l);
            live[i] = stack_alloc(stack, l);
            CHECK_EQ(live[i].ptr, expected);
            CHECK_EQ(live[i].ptr % l.align, 0);
            CHECK_EQ(live[i].size, l.size);
            CHECK_EQ(stack_remaining(stack), CAPACITY - top);
            CHECK_EQ(stack_depth(stack), i + 1);
            fill_pattern(live[i].ptr, live[i].size, (unsigned)(round * N + i));
        }
        for (int i = N - 1; i >= 0; i--) {
            for (int j = 0; j <= i; j++)
                CHECK(pattern_intact(live[j].ptr, live[j].size, (unsigned)(round * N + j)));
            CHECK_EQ(stack_pop(stack), 0);
            CHECK_EQ(stack_remaining(stack), before[i]);
            CHECK_EQ(stack_depth(stack), i);
        }
        CHECK_STATUS_FAILS(stack_pop(stack), VAIS_ALLOC_E_EMPTY);
        CHECK_EQ(stack_remaining(stack), CAPACITY);
        CHECK_EQ(stack_depth(stack), 0);
    }
    CHECK_EQ(stack_free(stack), 0);
}

/* Pops interleaved with pushes: the stack always undoes the newest live one. */
TEST(stack_interleaved_pushes_and_pops_track_the_model) {
    enum { CAPACITY = 4096, MAX = 64 };
    StackAllocator *stack = stack_new(CAPACITY);
    CHECK(stack != NULL);
    if (stack == NULL) return;
    int64_t base = stack_base(stack);
    int64_t tops[MAX + 1] = {0};
    Allocation live[MAX];
    int depth = 0;
    uint32_t random = 99;
    for (int step = 0; step < 3000; step++) {
        random = random * 1103515245u + 12345u;
        int push = depth == 0 || (depth < MAX && (random >> 16) % 3 != 0);
        if (push) {
            Layout l = layout_new((int64_t)((random >> 8) % 40), INT64_C(1) << ((random >> 20) % 7));
            int64_t top = tops[depth];
            int64_t expected = model_push(base, &top, l);
            if (top > CAPACITY) {
                CHECK_ALLOC_FAILS(stack_alloc(stack, l), VAIS_ALLOC_E_EXHAUSTED);
                CHECK_EQ(stack_remaining(stack), CAPACITY - tops[depth]);
                continue;
            }
            live[depth] = stack_alloc(stack, l);
            CHECK_EQ(live[depth].ptr, expected);
            fill_pattern(live[depth].ptr, live[depth].size, (unsigned)depth);
            tops[++depth] = top;
        } else {
            CHECK(pattern_intact(live[depth - 1].ptr, live[depth - 1].size, (unsigned)(depth - 1)));
            CHECK_EQ(stack_pop(stack), 0);
            depth--;
        }
        CHECK_EQ(stack_remaining(stack), CAPACITY - tops[depth]);
        CHECK_EQ(stack_depth(stack), depth);
    }
    for (int i = 0; i < depth; i++) CHECK(pattern_intact(live[i].ptr, live[i].size, (unsigned)i));
    CHECK_EQ(stack_free(stack), 0);
}

TEST(stack_bad_layouts_fail_and_change_nothing) {
    StackAllocator *stack = stack_new(4096);
    CHECK(stack != NULL);
    Allocation a = stack_alloc(stack, layout_new(100, 8));
    CHECK_NE(a.ptr, 0);
    fill_pattern(a.ptr, 100, 5);
    const int64_t remaining = stack_remaining(stack);
    CHECK_EQ(remaining, 4096 - 116); /* header at 8, payload at 16 */

    const struct { Layout layout; int64_t code; } cases[] = {
        {{INT64_MAX, 1}, VAIS_ALLOC_E_EXHAUSTED},
        {{INT64_MAX, 8}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{INT64_C(1) << 62, 8}, VAIS_ALLOC_E_EXHAUSTED},
        {{1, INT64_C(1) << 62}, VAIS_ALLOC_E_EXHAUSTED},
        {{4096, 1}, VAIS_ALLOC_E_EXHAUSTED},
        {{-64, 8}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{-200, 8}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{INT64_MIN, 1}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{8, 0}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{8, 3}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{8, -8}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{8, INT64_MIN}, VAIS_ALLOC_E_INVALID_LAYOUT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_ALLOC_FAILS(stack_alloc(stack, cases[i].layout), cases[i].code);
        CHECK_EQ(stack_remaining(stack), remaining);
        CHECK_EQ(stack_depth(stack), 1);
    }
    CHECK(pattern_intact(a.ptr, 100, 5));

    /* The header chain is intact: a push and two pops unwind exactly. */
    Allocation b = stack_alloc(stack, layout_new(16, 16));
    CHECK_NE(b.ptr, 0);
    CHECK_GE(b.ptr, a.ptr + 100 + 8);
    fill_pattern(b.ptr, 16, 6);
    CHECK(pattern_intact(a.ptr, 100, 5));
    CHECK_EQ(stack_pop(stack), 0);
    CHECK_EQ(stack_remaining(stack), remaining);
    CHECK_EQ(stack_pop(stack), 0);
    CHECK_EQ(stack_remaining(stack), 4096);
    CHECK_STATUS_FAILS(stack_pop(stack), VAIS_ALLOC_E_EMPTY);
    CHECK_EQ(stack_free(stack), 0);
}

TEST(stack_exhaustion_fails_and_changes_nothing) {
    StackAllocator *stack = stack_new(64);
    CHECK(stack != NULL);
    Allocation a = stack_alloc(stack, layout_new(20, 4)); /* header 8, payload 16..36 */
    CHECK_NE(a.ptr, 0);
    fill_pattern(a.ptr, 20, 1);
    CHECK_EQ(stack_remaining(stack), 28);
    /* Header at 40, payload 48: 16 bytes fit, 17 do not. */
    CHECK_ALLOC_FAILS(stack_alloc(stack, layout_new(17, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(stack_alloc(stack, layout_new(30, 64)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_EQ(stack_remaining(stack), 28);
    CHECK_EQ(stack_depth(stack), 1);
    Allocation b = stack_alloc(stack, layout_new(16, 1));
    CHECK_EQ(b.ptr, a.ptr + 32);
    CHECK_EQ(stack_remaining(stack), 0);
    fill_pattern(b.ptr, 16, 2);
    CHECK_ALLOC_FAILS(stack_alloc(stack, layout_new(1, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK(pattern_intact(a.ptr, 20, 1));
    CHECK(pattern_intact(b.ptr, 16, 2));
    CHECK_EQ(stack_pop(stack), 0);
    CHECK_EQ(stack_remaining(stack), 28);
    CHECK_EQ(stack_pop(stack), 0);
    CHECK_EQ(stack_remaining(stack), 64);
    CHECK_EQ(stack_free(stack), 0);
}

TEST(stack_reset_then_reuse_starts_at_the_bottom) {
    StackAllocator *stack = stack_new(256);
    CHECK(stack != NULL);
    Allocation first = stack_alloc(stack, layout_new(10, 8));
    CHECK_NE(first.ptr, 0);
    CHECK_NE(stack_alloc(stack, layout_new(30, 16)).ptr, 0);
    CHECK_EQ(stack_reset(stack), 0);
    CHECK_EQ(stack_remaining(stack), 256);
    CHECK_EQ(stack_depth(stack), 0);
    CHECK_STATUS_FAILS(stack_pop(stack), VAIS_ALLOC_E_EMPTY);
    Allocation again = stack_alloc(stack, layout_new(10, 8));
    CHECK_EQ(again.ptr, first.ptr);
    CHECK_EQ(stack_pop(stack), 0);
    CHECK_STATUS_FAILS(stack_pop(stack), VAIS_ALLOC_E_EMPTY);
    CHECK_EQ(stack_free(stack), 0);
}

TEST(stack_new_refuses_a_negative_capacity) {
    StackAllocator *bad = (StackAllocator *)1;
    CHECK_ERROR(bad = stack_new(-1), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK(bad == NULL);
    CHECK_ERROR(bad = stack_new(INT64_MIN), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK(bad == NULL);
    CHECK_ERROR(bad = stack_new(INT64_C(1) << 62), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK(bad == NULL);
}

/* A stray write into a header (a caller's underflow) may lose the pops
 * below it, but never lets a later push overlap an allocation still in use.
 * Here b's header, read when c is popped, has its low byte made to link to
 * "a header" inside a's payload. (The newest allocation's header is not
 * read while it is the newest: the stack keeps its own copy.) */
TEST(stack_a_stray_write_into_a_header_never_causes_overlap) {
    SKIP_UNDER_MEMORY_TOOL();
    StackAllocator *stack = stack_new(4096);
    CHECK(stack != NULL);
    if (stack == NULL) return;
    int64_t base = stack_base(stack);
    Allocation a = stack_alloc(stack, layout_new(64, 8)); /* header 8 */
    Allocation b = stack_alloc(stack, layout_new(24, 8));
    Allocation c = stack_alloc(stack, layout_new(8, 8));
    CHECK(a.ptr == base + 16 && b.ptr != 0 && c.ptr != 0);
    ((unsigned char *)(intptr_t)(b.ptr - 8))[0] = 48; /* link -> offset 40 */
    CHECK_EQ(stack_pop(stack), 0); /* c: reads b's header */
    CHECK_EQ(stack_pop(stack), 0); /* b: the top stays at its header */
    CHECK_EQ(stack_remaining(stack), 4096 - (b.ptr - 8 - base));
    /* a stays allocated, forgotten by the stack */
    CHECK_STATUS_FAILS(stack_pop(stack), VAIS_ALLOC_E_EMPTY);
    Allocation d = stack_alloc(stack, layout_new(48, 8));
    CHECK_NE(d.ptr, 0);
    CHECK(d.ptr >= a.ptr + a.size);
    CHECK_EQ(stack_free(stack), 0);
}

/* Random single-bit flips into the headers of live allocations amid pushes,
 * pops and resets: no push overlaps an allocation still live, counting those
 * a pop that met a bad header forgot (they stay allocated until the reset),
 * and, under ASan and Valgrind, the library reads and writes nothing outside
 * its buffer. (The Rust test
 * random_bit_flips_into_headers_never_make_allocations_overlap runs 300
 * seeds of 20,000 steps, enough to find pairs of flips that undo each
 * other; these few seeds are sized for the memory tools.) */
TEST(stack_random_bit_flips_into_headers_never_cause_overlap) {
    SKIP_UNDER_MEMORY_TOOL();
    enum { CAPACITY = 1 << 14, MAX_LIVE = 256, SEEDS = 16, STEPS = 4000 };
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        StackAllocator *stack = stack_new(CAPACITY);
        CHECK(stack != NULL);
        if (stack == NULL) return;
        Allocation live[MAX_LIVE];
        int n = 0, popped_below = 0; /* live[0..popped_below) are forgotten */
        uint64_t random = seed * UINT64_C(0x9E3779B97F4A7C15);
        for (int step = 0; step < STEPS; step++) {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            int roll = (int)(random % 100);
            if (roll < 10 && n > popped_below) {
                Allocation a = live[popped_below + (int)((random >> 8) % (uint64_t)(n - popped_below))];
                unsigned char *header = (unsigned char *)(intptr_t)(a.ptr - 8);
                header[(random >> 20) % 8] ^= (unsigned char)(1u << ((random >> 32) % 8));
            } else if (roll < 50) {
                int64_t depth = stack_depth(stack);
                if (stack_pop(stack) == 0) {
                    CHECK_GT(n, popped_below); /* nothing poppable is left */
                    if (n == popped_below) break;
                    n--;
                    if (depth == 1) popped_below = n; /* empty: the rest was forgotten */
                }
            } else if (roll == 50) {
                CHECK_EQ(stack_reset(stack), 0);
                n = popped_below = 0;
            } else if (n < MAX_LIVE) {
                Allocation a = stack_alloc(stack, layout_new((int64_t)((random >> 8) % 200), 8));
                if (a.ptr == 0) continue;
                int64_t end = a.ptr + (a.size > 0 ? a.size : 1);
                for (int j = 0; j < n; j++) {
                    int64_t other_end = live[j].ptr + (live[j].size > 0 ? live[j].size : 1);
                    CHECK(end <= live[j].ptr - 8 || other_end <= a.ptr - 8);
                }
                CHECK_LE(stack_remaining(stack), CAPACITY);
                live[n++] = a;
            }
        }
        CHECK_EQ(stack_free(stack), 0);
    }
}
