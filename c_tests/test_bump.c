/* bump_*: the reference's examples, caller buffers, bad layouts, exhaustion. */
#include "harness.h"
#include "vais_alloc.h"

#include <stdlib.h>

/* An allocation lies inside [start, start + capacity). */
#define CHECK_INSIDE(a, start, capacity)                                  \
    do {                                                                  \
        CHECK_GE((a).ptr, (start));                                       \
        CHECK_LE((a).ptr + (a).size, (start) + (capacity));               \
    } while (0)

static int64_t address_of(const void *p) { return (int64_t)(intptr_t)p; }

static int all_zero(int64_t ptr, int64_t size) {
    const unsigned char *p = (const unsigned char *)(intptr_t)ptr;
    for (int64_t i = 0; i < size; i++)
        if (p[i] != 0) return 0;
    return 1;
}

static int disjoint(Allocation a, Allocation b) {
    return a.ptr + a.size <= b.ptr || b.ptr + b.size <= a.ptr;
}

/* The reference's "Bump Allocator" example. */
TEST(bump_reference_example) {
    BumpAllocator *bump = bump_new(4096);
    CHECK(bump != NULL);
    CHECK_EQ(bump_capacity(bump), 4096);
    CHECK_EQ(bump_remaining(bump), 4096);
    CHECK_EQ(bump_total_allocated(bump), 0);

    Allocation a1 = bump_alloc(bump, layout_for_i64());
    Allocation a2 = bump_alloc(bump, layout_for_i32());
    Allocation a3 = bump_alloc(bump, layout_array(8, 8, 10));
    CHECK_NE(a1.ptr, 0);
    CHECK_NE(a2.ptr, 0);
    CHECK_NE(a3.ptr, 0);
    CHECK_EQ(a1.size, 8);
    CHECK_EQ(a2.size, 4);
    CHECK_EQ(a3.size, 80);
    CHECK_EQ(a1.ptr % 8, 0);
    CHECK_EQ(a2.ptr % 4, 0);
    CHECK_EQ(a3.ptr % 8, 0);
    CHECK(disjoint(a1, a2) && disjoint(a1, a3) && disjoint(a2, a3));
    CHECK_EQ(bump_total_allocated(bump), 92);
    /* Padding counts as used, and three allocations need at most 7 + 3 + 7 of it. */
    CHECK_LE(bump_remaining(bump), 4096 - 92);
    CHECK_GE(bump_remaining(bump), 4096 - 92 - 17);

    *(int64_t *)(intptr_t)a1.ptr = INT64_MIN;
    *(int32_t *)(intptr_t)a2.ptr = -7;
    int64_t *array = (int64_t *)(intptr_t)a3.ptr;
    for (int i = 0; i < 10; i++) array[i] = i * 1000;
    CHECK_EQ(*(int64_t *)(intptr_t)a1.ptr, INT64_MIN);
    CHECK_EQ(*(int32_t *)(intptr_t)a2.ptr, -7);
    for (int i = 0; i < 10; i++) CHECK_EQ(array[i], i * 1000);

    CHECK_EQ(bump_reset(bump), 0);
    CHECK_EQ(bump_remaining(bump), 4096);
    CHECK_EQ(bump_total_allocated(bump), 0);

    Allocation a4 = bump_alloc(bump, layout_for_ptr());
    CHECK_NE(a4.ptr, 0);
    CHECK_EQ(a4.size, (int64_t)sizeof(void *));
    CHECK_EQ(a4.ptr % (int64_t)_Alignof(void *), 0);
    CHECK_EQ(bump_total_allocated(bump), (int64_t)sizeof(void *));

    CHECK_EQ(bump_drop(bump), 0);
    CHECK_EQ(bump_free(bump), 0);
}

TEST(bump_owned_buffer_is_16_aligned_and_allocations_stay_inside) {
    BumpAllocator *bump = bump_new(1 << 16);
    CHECK(bump != NULL);
    /* A 16-aligned request that fills the arena exactly starts the buffer. */
    Allocation all = bump_alloc(bump, layout_new(1 << 16, 16));
    CHECK_NE(all.ptr, 0);
    CHECK_EQ(all.ptr % 16, 0);
    CHECK_EQ(bump_remaining(bump), 0);
    int64_t start = all.ptr;
    CHECK_EQ(bump_reset(bump), 0);

    Allocation live[13];
    for (int shift = 0; shift <= 12; shift++) {
        Layout l = layout_new(37 + shift, INT64_C(1) << shift);
        live[shift] = bump_alloc(bump, l);
        CHECK_NE(live[shift].ptr, 0);
        CHECK_EQ(live[shift].ptr % l.align, 0);
        CHECK_EQ(live[shift].size, l.size);
        CHECK_INSIDE(live[shift], start, 1 << 16);
        CHECK_EQ(bump_owns(bump, live[shift].ptr), 1);
        fill_pattern(live[shift].ptr, live[shift].size, (unsigned)shift);
    }
    for (int shift = 0; shift <= 12; shift++) {
        CHECK(pattern_intact(live[shift].ptr, live[shift].size, (unsigned)shift));
        for (int other = 0; other < shift; other++) CHECK(disjoint(live[shift], live[other]));
    }
    CHECK_EQ(bump_owns(bump, address_of(&all)), 0);
    CHECK_EQ(bump_free(bump), 0);
}

/* The defect of the reference: alignment applied to the offset, not the
 * address. A buffer at 3 mod 16 must still give aligned addresses, all
 * inside it (guards around it and ASan's redzones prove no stray write). */
TEST(bump_from_buffer_misaligned_buffer_gives_aligned_addresses) {
    enum { GUARD = 64, CAPACITY = 32768 };
    unsigned char *raw = malloc(GUARD + 3 + CAPACITY + GUARD);
    CHECK(raw != NULL);
    if (raw == NULL) return;
    unsigned char *buffer = raw + GUARD + 3;
    int64_t start = address_of(buffer);
    CHECK_EQ(start % 8, 3); /* misaligned for every alignment above 1 */
    fill_pattern(address_of(raw), GUARD + 3, 11);
    fill_pattern(address_of(buffer + CAPACITY), GUARD, 12);

    BumpAllocator *arena = bump_from_buffer(start, CAPACITY);
    CHECK(arena != NULL);
    CHECK_EQ(bump_capacity(arena), CAPACITY);
    CHECK_EQ(bump_remaining(arena), CAPACITY);

    Allocation live[2][13];
    for (int round = 0; round < 2; round++) {
        for (int shift = 0; shift <= 12; shift++) {
            Layout l = layout_new(round == 0 ? 5 : 100, INT64_C(1) << shift);
            Allocation a = bump_alloc(arena, l);
            CHECK_NE(a.ptr, 0);
            CHECK_EQ(a.ptr % l.align, 0);
            CHECK_EQ(a.size, l.size);
            CHECK_INSIDE(a, start, CAPACITY);
            fill_pattern(a.ptr, a.size, (unsigned)(round * 13 + shift));
            live[round][shift] = a;
        }
    }
    for (int round = 0; round < 2; round++)
        for (int shift = 0; shift <= 12; shift++)
            CHECK(pattern_intact(live[round][shift].ptr, live[round][shift].size,
                                 (unsigned)(round * 13 + shift)));
    /* Zeroed allocations too. */
    Allocation z = bump_alloc_zeroed(arena, layout_new(64, 64));
    CHECK_NE(z.ptr, 0);
    CHECK_EQ(z.ptr % 64, 0);
    CHECK_INSIDE(z, start, CAPACITY);
    CHECK(all_zero(z.ptr, 64));

    CHECK(pattern_intact(address_of(raw), GUARD + 3, 11));
    CHECK(pattern_intact(address_of(buffer + CAPACITY), GUARD, 12));
    CHECK_EQ(bump_free(arena), 0);
    free(raw); /* the arena never frees caller memory */
}

/* Fill a misaligned caller buffer (no guards: ASan's redzones are the
 * guards) to exhaustion with requests of every alignment. */
TEST(bump_from_buffer_misaligned_buffer_fills_to_exhaustion_inside) {
    enum { CAPACITY = 4096 };
    unsigned char *raw = malloc(CAPACITY + 3);
    CHECK(raw != NULL);
    if (raw == NULL) return;
    int64_t start = address_of(raw + 3);
    BumpAllocator *arena = bump_from_buffer(start, CAPACITY);
    CHECK(arena != NULL);
    int count = 0;
    for (int i = 0;; i++) {
        Layout l = layout_new(1 + i % 23, INT64_C(1) << (i % 13));
        int64_t before = bump_remaining(arena);
        vais_alloc_clear_error();
        Allocation a = bump_alloc(arena, l);
        if (a.ptr == 0) {
            CHECK_EQ(a.size, 0);
            CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_EXHAUSTED);
            CHECK_EQ(bump_remaining(arena), before);
            break;
        }
        CHECK_EQ(a.ptr % l.align, 0);
        CHECK_INSIDE(a, start, CAPACITY);
        fill_pattern(a.ptr, a.size, (unsigned)i);
        count++;
        if (count > CAPACITY) break; /* cannot happen: each takes a byte */
    }
    CHECK_GT(count, 10);
    /* Whatever is left, 1-byte requests use it up, still inside. */
    for (;;) {
        Allocation a = bump_alloc(arena, layout_new(1, 1));
        if (a.ptr == 0) break;
        CHECK_INSIDE(a, start, CAPACITY);
        fill_pattern(a.ptr, 1, 0);
    }
    CHECK_EQ(bump_remaining(arena), 0);
    CHECK_EQ(bump_free(arena), 0);
    free(raw);
}

/* The reference's "Custom Arena Pattern": the caller owns the buffer and
 * frees it; neither reset, drop nor free may touch or free it. */
TEST(bump_custom_arena_over_caller_buffer) {
    enum { MIB = 1048576 };
    void *buffer = malloc(MIB);
    CHECK(buffer != NULL);
    if (buffer == NULL) return;
    int64_t start = address_of(buffer);
    BumpAllocator *arena = bump_from_buffer(start, MIB);
    CHECK(arena != NULL);
    CHECK_EQ(bump_capacity(arena), MIB);
    CHECK_EQ(bump_remaining(arena), MIB);

    Allocation a = bump_alloc(arena, layout_array(8, 8, 1000));
    Allocation b = bump_alloc(arena, layout_new(100000, 4096));
    CHECK_NE(a.ptr, 0);
    CHECK_NE(b.ptr, 0);
    CHECK_EQ(b.ptr % 4096, 0);
    CHECK_INSIDE(a, start, MIB);
    CHECK_INSIDE(b, start, MIB);
    fill_pattern(a.ptr, a.size, 1);
    fill_pattern(b.ptr, b.size, 2);
    CHECK(pattern_intact(a.ptr, a.size, 1));
    CHECK_EQ(bump_total_allocated(arena), 108000);

    CHECK_EQ(bump_reset(arena), 0);
    CHECK_EQ(bump_remaining(arena), MIB);
    CHECK_EQ(bump_total_allocated(arena), 0);
    Allocation c = bump_alloc(arena, layout_new(MIB, 1));
    CHECK_EQ(c.ptr, start);

    /* Drop and free leave the caller's bytes alone. */
    fill_pattern(start, MIB, 3);
    CHECK_EQ(bump_reset(arena), 0);
    CHECK_EQ(bump_drop(arena), 0);
    CHECK_EQ(bump_capacity(arena), 0);
    CHECK_EQ(bump_free(arena), 0);
    CHECK(pattern_intact(start, MIB, 3));
    free(buffer); /* must not be a double free (Valgrind / ASan) */
}

/* The reference's "Zeroed Allocation" example, with dirty memory first. */
TEST(bump_zeroed_allocation_reference_example) {
    Layout array = layout_array(8, 8, 100);
    Allocation g = global_alloc_zeroed(array);
    CHECK_NE(g.ptr, 0);
    CHECK_EQ(g.ptr % 8, 0);
    CHECK(all_zero(g.ptr, 800));

    BumpAllocator *bump = bump_new(4096);
    CHECK(bump != NULL);
    Allocation dirty = bump_alloc(bump, layout_new(4096, 1));
    CHECK_NE(dirty.ptr, 0);
    memset((void *)(intptr_t)dirty.ptr, 0xA5, 4096);
    CHECK_EQ(bump_reset(bump), 0);

    Allocation z = bump_alloc_zeroed(bump, layout_for_i64());
    CHECK_NE(z.ptr, 0);
    CHECK_EQ(z.size, 8);
    CHECK_EQ(z.ptr % 8, 0);
    CHECK_EQ(*(int64_t *)(intptr_t)z.ptr, 0);
    Allocation big = bump_alloc_zeroed(bump, layout_new(1000, 64));
    CHECK_NE(big.ptr, 0);
    CHECK_EQ(big.ptr % 64, 0);
    CHECK(all_zero(big.ptr, 1000));
    CHECK_EQ(bump_total_allocated(bump), 1008);

    CHECK_EQ(bump_drop(bump), 0);
    CHECK_EQ(bump_free(bump), 0);
    global_dealloc(g.ptr, array);
}

/* The reference accepted these: offsets wrapped, later allocations
 * overlapped live ones or landed before the buffer. */
TEST(bump_bad_layouts_fail_and_change_nothing) {
    BumpAllocator *bump = bump_new(4096);
    CHECK(bump != NULL);
    Allocation a = bump_alloc(bump, layout_new(100, 8));
    CHECK_NE(a.ptr, 0);
    fill_pattern(a.ptr, 100, 5);
    const int64_t remaining = bump_remaining(bump), total = bump_total_allocated(bump);

    const struct { Layout layout; int64_t code; } cases[] = {
        {{INT64_MAX, 1}, VAIS_ALLOC_E_EXHAUSTED},
        {{INT64_MAX, 8}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{INT64_C(1) << 62, 8}, VAIS_ALLOC_E_EXHAUSTED},
        {{INT64_C(1) << 62, INT64_C(1) << 62}, VAIS_ALLOC_E_EXHAUSTED},
        {{1, INT64_C(1) << 62}, VAIS_ALLOC_E_EXHAUSTED},
        {{4097, 1}, VAIS_ALLOC_E_EXHAUSTED},
        {{-64, 8}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{-200, 8}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{-1, 1}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{INT64_MIN, 8}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{8, 0}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{8, 3}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{8, 24}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{8, -8}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{8, INT64_MIN}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{0, 0}, VAIS_ALLOC_E_INVALID_LAYOUT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_ALLOC_FAILS(bump_alloc(bump, cases[i].layout), cases[i].code);
        CHECK_ALLOC_FAILS(bump_alloc_zeroed(bump, cases[i].layout), cases[i].code);
        CHECK_EQ(bump_remaining(bump), remaining);
        CHECK_EQ(bump_total_allocated(bump), total);
    }
    CHECK(pattern_intact(a.ptr, 100, 5));

    /* The next allocations are sound: disjoint from `a`, and the arena
     * still holds exactly what it held. */
    Allocation b = bump_alloc(bump, layout_new(200, 8));
    CHECK_NE(b.ptr, 0);
    CHECK(disjoint(a, b));
    fill_pattern(b.ptr, 200, 6);
    CHECK(pattern_intact(a.ptr, 100, 5));
    CHECK_EQ(bump_total_allocated(bump), 300);
    /* The arena bumps upwards: b starts at a's end rounded up to 8. */
    CHECK_EQ(b.ptr, (a.ptr + 100 + 7) & ~(int64_t)7);
    CHECK_EQ(bump_remaining(bump), remaining - (b.ptr + 200 - (a.ptr + 100)));
    CHECK_EQ(bump_free(bump), 0);
}

TEST(bump_exhaustion_fails_and_changes_nothing) {
    BumpAllocator *bump = bump_new(128);
    CHECK(bump != NULL);
    Allocation a = bump_alloc(bump, layout_new(100, 8));
    CHECK_NE(a.ptr, 0);
    fill_pattern(a.ptr, 100, 9);
    const int64_t remaining = bump_remaining(bump);
    CHECK_GE(remaining, 20);
    CHECK_LE(remaining, 28);

    CHECK_ALLOC_FAILS(bump_alloc(bump, layout_new(remaining + 1, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(bump_alloc(bump, layout_new(64, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(bump_alloc_zeroed(bump, layout_new(64, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_EQ(bump_remaining(bump), remaining);
    CHECK_EQ(bump_total_allocated(bump), 100);
    CHECK(pattern_intact(a.ptr, 100, 9));

    /* What does fit still succeeds, exactly to the last byte. */
    Allocation rest = bump_alloc(bump, layout_new(remaining, 1));
    CHECK_NE(rest.ptr, 0);
    CHECK(disjoint(a, rest));
    fill_pattern(rest.ptr, rest.size, 10);
    CHECK_EQ(bump_remaining(bump), 0);
    CHECK_ALLOC_FAILS(bump_alloc(bump, layout_new(1, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK(pattern_intact(a.ptr, 100, 9));
    CHECK(pattern_intact(rest.ptr, rest.size, 10));
    CHECK_EQ(bump_free(bump), 0);
}

TEST(bump_new_and_from_buffer_refuse_bad_arguments) {
    BumpAllocator *bad = (BumpAllocator *)1;
    CHECK_ERROR(bad = bump_new(-1), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK(bad == NULL);
    CHECK_ERROR(bad = bump_new(INT64_MIN), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK(bad == NULL);
    CHECK_ERROR(bad = bump_new(INT64_C(1) << 62), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK(bad == NULL);

    unsigned char storage[64];
    CHECK_ERROR(bad = bump_from_buffer(0, 64), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK(bad == NULL);
    CHECK_ERROR(bad = bump_from_buffer(address_of(storage), -1), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK(bad == NULL);
    /* A range that wraps past the top of the address space. */
    CHECK_ERROR(bad = bump_from_buffer(-16, 64), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK(bad == NULL);
}

/* Addresses cross the ABI as int64_t: a borrowed range must end below
 * INT64_MAX, or the arena could hand out negative "pointers". */
TEST(bump_from_buffer_refuses_ranges_past_int64_max) {
    vais_alloc_clear_error();
    CHECK(bump_from_buffer(INT64_MAX, INT64_MAX) == NULL);
    CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_INVALID_ARGUMENT);
    vais_alloc_clear_error();
    CHECK(bump_from_buffer(INT64_MAX - 8, 16) == NULL);
    CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_INVALID_ARGUMENT);
}
