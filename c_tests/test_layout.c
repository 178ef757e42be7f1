/* layout_*: the reference's examples, overflow and bad input. */
#include "harness.h"
#include "vais_alloc.h"

#include <stddef.h>

TEST(layout_helpers_match_c_types) {
    Layout l = layout_for_i64();
    CHECK_EQ(l.size, 8);
    CHECK_EQ(l.align, 8);
    l = layout_for_i32();
    CHECK_EQ(l.size, sizeof(int32_t));
    CHECK_EQ(l.align, _Alignof(int32_t));
    l = layout_for_ptr();
    CHECK_EQ(l.size, sizeof(void *));
    CHECK_EQ(l.align, _Alignof(void *));
    l = layout_new(123, 64);
    CHECK_EQ(l.size, 123);
    CHECK_EQ(l.align, 64);
    /* layout_new does not validate: the allocators do. */
    l = layout_new(-5, 3);
    CHECK_EQ(l.size, -5);
    CHECK_EQ(l.align, 3);
}

TEST(layout_array_rounds_the_stride) {
    Layout l = layout_array(8, 8, 10);
    CHECK_EQ(l.size, 80);
    CHECK_EQ(l.align, 8);
    l = layout_array(5, 4, 3);
    CHECK_EQ(l.size, 24);
    CHECK_EQ(l.align, 4);
    l = layout_array(12, 16, 0);
    CHECK_EQ(l.size, 0);
    CHECK_EQ(l.align, 16);
}

TEST(layout_array_refuses_overflow_and_bad_input) {
    const int64_t bad[][3] = {
        {8, 8, -1}, {-8, 8, 1}, {8, 3, 1}, {8, 0, 1},
        {INT64_C(1) << 40, 8, INT64_C(1) << 40}, {INT64_MAX, 1, 2}, {INT64_MAX, 2, 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vais_alloc_clear_error();
        Layout l = layout_array(bad[i][0], bad[i][1], bad[i][2]);
        CHECK_EQ(l.size, -1);
        CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_INVALID_LAYOUT);
    }
}

/* The reference's "Layout Extension" example: struct { i64; i32; ptr }. */
TEST(layout_extend_builds_a_struct) {
    struct s { int64_t a; int32_t b; void *c; };
    Layout l = layout_extend(layout_for_i64(), layout_for_i32());
    CHECK_EQ(l.size, 12);
    CHECK_EQ(l.align, 8);
    l = layout_extend(l, layout_for_ptr());
    CHECK_EQ(l.size, offsetof(struct s, c) + sizeof(void *));
    CHECK_EQ(l.align, _Alignof(struct s));
    Allocation a = global_alloc(l);
    CHECK_NE(a.ptr, 0);
    CHECK_EQ(a.ptr % l.align, 0);
    global_dealloc(a.ptr, l);
}

TEST(layout_extend_refuses_overflow_and_bad_input) {
    const Layout cases[][2] = {
        {{INT64_MAX, 1}, {1, 1}},
        {{INT64_MAX - 10, 1}, {1, 64}},
        {{8, 8}, {-1, 8}},
        {{8, 6}, {8, 8}},
        {{8, 8}, {8, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vais_alloc_clear_error();
        Layout l = layout_extend(cases[i][0], cases[i][1]);
        CHECK_EQ(l.size, -1);
        CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_INVALID_LAYOUT);
    }
}
