/* global_*: alignment, zeroing, realloc, failures. */
#include "harness.h"
#include "vais_alloc.h"

#include <stdlib.h>

TEST(global_reference_example) {
    Layout layout = layout_for_i64();
    Allocation a = global_alloc(layout);
    CHECK_NE(a.ptr, 0);
    CHECK_EQ(a.size, 8);
    *(int64_t *)(intptr_t)a.ptr = 42;
    CHECK_EQ(*(int64_t *)(intptr_t)a.ptr, 42);
    global_dealloc(a.ptr, layout);
}

TEST(global_every_alignment_up_to_1_mib) {
    for (int shift = 0; shift <= 20; shift++) {
        Layout l = layout_new(100, INT64_C(1) << shift);
        Allocation a = global_alloc(l);
        CHECK_NE(a.ptr, 0);
        CHECK_EQ(a.ptr % l.align, 0);
        CHECK_EQ(a.size, 100);
        fill_pattern(a.ptr, 100, (unsigned)shift);
        CHECK(pattern_intact(a.ptr, 100, (unsigned)shift));
        global_dealloc(a.ptr, l);
    }
}

TEST(global_zero_size_is_unique_and_freeable) {
    Layout l = layout_new(0, 32);
    Allocation a = global_alloc(l), b = global_alloc(l);
    CHECK_NE(a.ptr, 0);
    CHECK_NE(b.ptr, 0);
    CHECK_NE(a.ptr, b.ptr);
    CHECK_EQ(a.size, 0);
    CHECK_EQ(a.ptr % 32, 0);
    global_dealloc(a.ptr, l);
    global_dealloc(b.ptr, l);
    global_dealloc(0, l); /* no-op */
}

TEST(global_zeroed_is_zero) {
    const int64_t aligns[] = {1, 8, 16, 64, 4096};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        Layout l = layout_array(8, 8, 100);
        l.align = aligns[i] > 8 ? aligns[i] : 8;
        Allocation a = global_alloc_zeroed(l);
        CHECK_NE(a.ptr, 0);
        CHECK_EQ(a.ptr % l.align, 0);
        const unsigned char *p = (const unsigned char *)(intptr_t)a.ptr;
        int zero = 1;
        for (int64_t j = 0; j < l.size; j++) zero &= p[j] == 0;
        CHECK(zero);
        global_dealloc(a.ptr, l);
    }
}

TEST(global_realloc_keeps_contents_and_alignment) {
    Layout old = layout_new(64, 8);
    Allocation a = global_alloc(old);
    fill_pattern(a.ptr, 64, 7);
    /* Grow with a larger alignment. */
    Layout bigger = layout_new(10000, 4096);
    Allocation b = global_realloc(a.ptr, old, bigger);
    CHECK_NE(b.ptr, 0);
    CHECK_EQ(b.ptr % 4096, 0);
    CHECK_EQ(b.size, 10000);
    CHECK(pattern_intact(b.ptr, 64, 7));
    /* Shrink, back to a small alignment. */
    Layout smaller = layout_new(32, 16);
    Allocation c = global_realloc(b.ptr, bigger, smaller);
    CHECK_NE(c.ptr, 0);
    CHECK_EQ(c.ptr % 16, 0);
    CHECK(pattern_intact(c.ptr, 32, 7));
    global_dealloc(c.ptr, smaller);
    /* ptr 0 acts as global_alloc. */
    Allocation d = global_realloc(0, old, bigger);
    CHECK_NE(d.ptr, 0);
    CHECK_EQ(d.ptr % 4096, 0);
    global_dealloc(d.ptr, bigger);
}

TEST(global_failures_report_codes_and_keep_the_old_block) {
    CHECK_ERROR(global_alloc(layout_new(-1, 8)), VAIS_ALLOC_E_INVALID_LAYOUT);
    CHECK_EQ(global_alloc(layout_new(8, 12)).ptr, 0);
    CHECK_ERROR(global_alloc(layout_new(8, 0)), VAIS_ALLOC_E_INVALID_LAYOUT);
    CHECK_ERROR(global_alloc(layout_new(INT64_MAX, 16)), VAIS_ALLOC_E_INVALID_LAYOUT);
    CHECK_ERROR(global_alloc(layout_new(INT64_C(1) << 62, 8)), VAIS_ALLOC_E_OUT_OF_MEMORY);
    CHECK_ERROR(global_alloc_zeroed(layout_new(INT64_C(1) << 62, 4096)), VAIS_ALLOC_E_OUT_OF_MEMORY);
    Allocation failed = global_alloc(layout_new(INT64_C(1) << 62, 8));
    CHECK_EQ(failed.ptr, 0);
    CHECK_EQ(failed.size, 0);

    Layout old = layout_new(48, 16);
    Allocation a = global_alloc(old);
    fill_pattern(a.ptr, 48, 99);
    vais_alloc_clear_error();
    Allocation r = global_realloc(a.ptr, old, layout_new(INT64_C(1) << 62, 16));
    CHECK_EQ(r.ptr, 0);
    CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_OUT_OF_MEMORY);
    r = global_realloc(a.ptr, old, layout_new(INT64_C(1) << 62, 1 << 16));
    CHECK_EQ(r.ptr, 0);
    CHECK_ERROR(global_realloc(a.ptr, old, layout_new(8, 5)), VAIS_ALLOC_E_INVALID_LAYOUT);
    CHECK(pattern_intact(a.ptr, 48, 99));
    /* An invalid layout on dealloc is refused and the block stays live. */
    CHECK_ERROR(global_dealloc(a.ptr, layout_new(48, 7)), VAIS_ALLOC_E_INVALID_LAYOUT);
    CHECK(pattern_intact(a.ptr, 48, 99));
    global_dealloc(a.ptr, old);
}

/* ptr 0: dealloc is a no-op and realloc is global_alloc(new), whatever the
 * old layout says. */
TEST(global_null_pointer_ignores_the_old_layout) {
    CHECK_ERROR(global_dealloc(0, layout_new(0, 0)), VAIS_ALLOC_OK);
    vais_alloc_clear_error();
    Allocation a = global_realloc(0, layout_new(-1, 3), layout_new(64, 64));
    CHECK_NE(a.ptr, 0);
    CHECK_EQ(a.ptr % 64, 0);
    CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_OK);
    global_dealloc(a.ptr, layout_new(64, 64));
}
