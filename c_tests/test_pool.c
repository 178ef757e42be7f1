/* pool_*: the reference's example, block sizes and alignment, bad frees. */
#include "harness.h"
#include "vais_alloc.h"

#include <stdlib.h>

/* Refused as not a live block start of this pool: either code will do. */
#define CHECK_FREE_REFUSED(pool, ptr)                                     \
    do {                                                                  \
        vais_alloc_clear_error();                                         \
        int64_t status_ = pool_dealloc((pool), (ptr));                    \
        CHECK(status_ == VAIS_ALLOC_E_FOREIGN_POINTER ||                  \
              status_ == VAIS_ALLOC_E_DOUBLE_FREE);                       \
        CHECK_EQ(vais_alloc_last_error(), status_);                       \
    } while (0)

static int64_t address_of(const void *p) { return (int64_t)(intptr_t)p; }

/* The block alignment API.md promises: the largest power of two dividing
 * the block size, up to 16. */
static int64_t block_align(int64_t block_size) {
    int64_t align = 1;
    while (align < 16 && block_size % (align * 2) == 0) align *= 2;
    return align;
}

/* The reference's "Pool Allocator" example. */
TEST(pool_reference_example) {
    PoolAllocator *pool = pool_new(64, 100);
    CHECK(pool != NULL);
    CHECK_EQ(pool_block_size(pool), 64);
    CHECK_EQ(pool_num_free_blocks(pool), 100);
    CHECK_EQ(pool_num_allocated(pool), 0);

    int64_t p1 = pool_alloc(pool), p2 = pool_alloc(pool), p3 = pool_alloc(pool);
    CHECK_NE(p1, 0);
    CHECK_NE(p2, 0);
    CHECK_NE(p3, 0);
    CHECK_EQ(p1 % 16, 0);
    CHECK_EQ(p2 % 16, 0);
    CHECK_EQ(p3 % 16, 0);
    CHECK(p1 != p2 && p1 != p3 && p2 != p3);
    fill_pattern(p1, 64, 1);
    fill_pattern(p2, 64, 2);
    fill_pattern(p3, 64, 3);

    CHECK_EQ(pool_dealloc(pool, p2), 0);
    CHECK_EQ(pool_num_free_blocks(pool), 98);
    CHECK_EQ(pool_num_allocated(pool), 2);
    CHECK(pattern_intact(p1, 64, 1));
    CHECK(pattern_intact(p3, 64, 3));

    CHECK_EQ(pool_reset(pool), 0); /* every block freed: no leak */
    CHECK_EQ(pool_drop(pool), 0);
    CHECK_EQ(pool_reset(pool), 0);
    CHECK_EQ(pool_free(pool), 0);
}

TEST(pool_new_refuses_bad_arguments) {
    const int64_t cases[][2] = {
        {64, 0}, {64, -1}, {64, INT64_MIN}, {0, 10}, {-8, 10}, {-1, 1},
        {INT64_MIN, 10}, {INT64_MAX, 2}, {INT64_C(1) << 40, INT64_C(1) << 30},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        PoolAllocator *pool = (PoolAllocator *)1;
        CHECK_ERROR(pool = pool_new(cases[i][0], cases[i][1]), VAIS_ALLOC_E_INVALID_ARGUMENT);
        CHECK(pool == NULL);
    }
}

TEST(pool_block_sizes_round_to_multiples_of_8_and_align) {
    enum { BLOCKS = 5 };
    for (int64_t asked = 1; asked <= 100; asked++) {
        PoolAllocator *pool = pool_new(asked, BLOCKS);
        CHECK(pool != NULL);
        if (pool == NULL) continue;
        int64_t used = asked < 8 ? 8 : (asked + 7) / 8 * 8;
        CHECK_EQ(pool_block_size(pool), used);
        int64_t blocks[BLOCKS];
        for (int i = 0; i < BLOCKS; i++) {
            blocks[i] = pool_alloc(pool);
            CHECK_NE(blocks[i], 0);
            CHECK_EQ(blocks[i] % block_align(used), 0);
            fill_pattern(blocks[i], used, (unsigned)(asked * 7 + i));
        }
        for (int i = 0; i < BLOCKS; i++) {
            CHECK(pattern_intact(blocks[i], used, (unsigned)(asked * 7 + i)));
            for (int j = 0; j < i; j++) {
                int64_t gap = blocks[i] > blocks[j] ? blocks[i] - blocks[j] : blocks[j] - blocks[i];
                CHECK_GE(gap, used);
            }
        }
        int64_t none = 1;
        CHECK_ERROR(none = pool_alloc(pool), VAIS_ALLOC_E_EXHAUSTED);
        CHECK_EQ(none, 0);
        CHECK_EQ(pool_reset(pool), 0);
    CHECK_EQ(pool_free(pool), 0);
    }
}

TEST(pool_exhaustion_fails_and_changes_nothing) {
    PoolAllocator *pool = pool_new(16, 3);
    CHECK(pool != NULL);
    int64_t a = pool_alloc(pool), b = pool_alloc(pool), c = pool_alloc(pool);
    CHECK(a != 0 && b != 0 && c != 0);
    fill_pattern(a, 16, 1);
    fill_pattern(b, 16, 2);
    fill_pattern(c, 16, 3);
    for (int i = 0; i < 3; i++) {
        int64_t none = 1;
        CHECK_ERROR(none = pool_alloc(pool), VAIS_ALLOC_E_EXHAUSTED);
        CHECK_EQ(none, 0);
    }
    CHECK_EQ(pool_num_free_blocks(pool), 0);
    CHECK_EQ(pool_num_allocated(pool), 3);
    CHECK_EQ(pool_dealloc(pool, b), 0);
    int64_t again = pool_alloc(pool);
    CHECK_EQ(again, b); /* the only free block */
    CHECK(pattern_intact(a, 16, 1));
    CHECK(pattern_intact(c, 16, 3));
    CHECK_EQ(pool_reset(pool), 0);
    CHECK_EQ(pool_free(pool), 0);
}

TEST(pool_dealloc_of_zero_is_a_no_op) {
    PoolAllocator *pool = pool_new(32, 4);
    CHECK(pool != NULL);
    int64_t a = pool_alloc(pool);
    CHECK_NE(a, 0);
    vais_alloc_clear_error();
    CHECK_EQ(pool_dealloc(pool, 0), 0);
    CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_OK);
    CHECK_EQ(pool_num_allocated(pool), 1);
    CHECK_EQ(pool_num_free_blocks(pool), 3);
    CHECK_EQ(pool_owns(pool, a), 1);
    CHECK_EQ(pool_reset(pool), 0);
    CHECK_EQ(pool_free(pool), 0);
}

/* The reference accepted foreign, interior and double frees and then
 * handed blocks out twice. Every one is refused here, nothing changes, and
 * no later pool_alloc returns a block still in use. */
TEST(pool_bad_frees_are_refused_and_change_nothing) {
    enum { BLOCKS = 8, SIZE = 24 };
    PoolAllocator *pool = pool_new(SIZE, BLOCKS);
    PoolAllocator *other = pool_new(SIZE, BLOCKS);
    CHECK(pool != NULL && other != NULL);
    if (pool == NULL || other == NULL) return;
    int64_t a = pool_alloc(pool), b = pool_alloc(pool), c = pool_alloc(pool);
    int64_t foreign = pool_alloc(other);
    CHECK(a != 0 && b != 0 && c != 0 && foreign != 0);
    fill_pattern(a, SIZE, 1);
    fill_pattern(b, SIZE, 2);
    fill_pattern(c, SIZE, 3);
    fill_pattern(foreign, SIZE, 4);
    int64_t on_stack = 0;
    void *heap = malloc(SIZE);

    const int64_t outside_or_interior[] = {
        a + 1, a + 8, a + 16, a + SIZE - 1, b + 4, c + 12, /* inside a block */
        foreign, foreign + 8,                              /* another pool's */
        address_of(&on_stack), address_of(heap),           /* not a pool's */
        8, -8, 1, INT64_MAX, INT64_MIN,
    };
    for (size_t i = 0; i < sizeof outside_or_interior / sizeof outside_or_interior[0]; i++) {
        CHECK_STATUS_FAILS(pool_dealloc(pool, outside_or_interior[i]), VAIS_ALLOC_E_FOREIGN_POINTER);
        CHECK_EQ(pool_num_allocated(pool), 3);
        CHECK_EQ(pool_num_free_blocks(pool), BLOCKS - 3);
    }
    CHECK_EQ(pool_num_allocated(other), 1);

    /* A block freed once is free: the second free is DOUBLE_FREE. */
    CHECK_EQ(pool_dealloc(pool, b), 0);
    CHECK_STATUS_FAILS(pool_dealloc(pool, b), VAIS_ALLOC_E_DOUBLE_FREE);
    CHECK_STATUS_FAILS(pool_dealloc(pool, b), VAIS_ALLOC_E_DOUBLE_FREE);
    CHECK_EQ(pool_num_allocated(pool), 2);
    CHECK_EQ(pool_num_free_blocks(pool), BLOCKS - 2);
    CHECK_EQ(pool_owns(pool, b), 0);
    CHECK_EQ(pool_owns(pool, a), 1);
    CHECK_EQ(pool_owns(pool, a + 8), 0);

    /* Fill the pool again: every block is new, none is `a` or `c`. */
    int64_t fresh[BLOCKS];
    int n = 0;
    for (;;) {
        vais_alloc_clear_error();
        int64_t p = pool_alloc(pool);
        if (p == 0) {
            CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_EXHAUSTED);
            break;
        }
        CHECK_LT(n, BLOCKS - 2);
        if (n >= BLOCKS - 2) break;
        CHECK(p != a && p != c);
        for (int j = 0; j < n; j++) CHECK(p != fresh[j]);
        fill_pattern(p, SIZE, (unsigned)(10 + n));
        fresh[n++] = p;
    }
    CHECK_EQ(n, BLOCKS - 2);
    CHECK(pattern_intact(a, SIZE, 1));
    CHECK(pattern_intact(c, SIZE, 3));
    CHECK(pattern_intact(foreign, SIZE, 4));
    for (int j = 0; j < n; j++) CHECK(pattern_intact(fresh[j], SIZE, (unsigned)(10 + j)));
    CHECK_EQ(pool_num_allocated(pool), BLOCKS);
    CHECK_EQ(pool_num_free_blocks(pool), 0);

    free(heap);
    CHECK_EQ(pool_reset(other), 0);
    CHECK_EQ(pool_free(other), 0);
    CHECK_EQ(pool_reset(pool), 0);
    CHECK_EQ(pool_free(pool), 0);
}

/* A block start that was never handed out, and the address one block past
 * the buffer: with two blocks and one handed out, `a - size` and
 * `a + size` are those two, in some order. Both are refused. */
TEST(pool_never_handed_out_block_is_refused) {
    PoolAllocator *pool = pool_new(32, 2);
    CHECK(pool != NULL);
    int64_t a = pool_alloc(pool);
    CHECK_NE(a, 0);
    fill_pattern(a, 32, 7);
    CHECK_FREE_REFUSED(pool, a + 32);
    CHECK_FREE_REFUSED(pool, a - 32);
    CHECK_FREE_REFUSED(pool, a + 64);
    CHECK_FREE_REFUSED(pool, a - 64);
    CHECK_EQ(pool_num_allocated(pool), 1);
    CHECK_EQ(pool_num_free_blocks(pool), 1);
    int64_t b = pool_alloc(pool);
    CHECK(b == a + 32 || b == a - 32);
    fill_pattern(b, 32, 8);
    int64_t none = 1;
    CHECK_ERROR(none = pool_alloc(pool), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_EQ(none, 0);
    CHECK(pattern_intact(a, 32, 7));
    CHECK(pattern_intact(b, 32, 8));
    CHECK_EQ(pool_reset(pool), 0);
    CHECK_EQ(pool_free(pool), 0);
}

/* Blocks recycled through many frees never alias a live block. */
TEST(pool_recycling_never_hands_out_a_live_block) {
    enum { BLOCKS = 64, SIZE = 40 };
    PoolAllocator *pool = pool_new(SIZE, BLOCKS);
    CHECK(pool != NULL);
    int64_t live[BLOCKS] = {0};
    uint32_t random = 12345;
    for (int round = 0; round < 2000; round++) {
        random = random * 1103515245u + 12345u;
        int slot = (int)((random >> 16) % BLOCKS);
        if (live[slot] != 0) {
            CHECK(pattern_intact(live[slot], SIZE, (unsigned)slot));
            CHECK_EQ(pool_dealloc(pool, live[slot]), 0);
            live[slot] = 0;
        } else {
            int64_t p = pool_alloc(pool);
            CHECK_NE(p, 0);
            for (int j = 0; j < BLOCKS; j++) CHECK(live[j] != p);
            fill_pattern(p, SIZE, (unsigned)slot);
            live[slot] = p;
        }
    }
    int64_t in_use = 0;
    for (int j = 0; j < BLOCKS; j++) {
        if (live[j] == 0) continue;
        in_use++;
        CHECK(pattern_intact(live[j], SIZE, (unsigned)j));
    }
    CHECK_EQ(pool_num_allocated(pool), in_use);
    CHECK_EQ(pool_num_free_blocks(pool), BLOCKS - in_use);
    CHECK_EQ(pool_reset(pool), 0);
    CHECK_EQ(pool_free(pool), 0);
}

/* Creation does not walk the buffer: a million blocks are cheap, and
 * counted right. */
TEST(pool_large_pool_is_counted_without_a_walk) {
    PoolAllocator *pool = pool_new(64, 1000000);
    CHECK(pool != NULL);
    CHECK_EQ(pool_num_free_blocks(pool), 1000000);
    int64_t a = pool_alloc(pool);
    CHECK_NE(a, 0);
    CHECK_EQ(a % 16, 0);
    CHECK_EQ(pool_num_free_blocks(pool), 999999);
    CHECK_EQ(pool_dealloc(pool, a), 0);
    CHECK_EQ(pool_free(pool), 0);
}
