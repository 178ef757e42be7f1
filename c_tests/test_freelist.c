/* freelist_*: the reference's example, alignment, coalescing, bad frees. */
#include "harness.h"
#include "vais_alloc.h"

#include <stdlib.h>

/* HEADER: the bytes from a block's start to its payload. OVERHEAD: what a
 * block in use costs beyond its usable size (the header's first word is the
 * last word of the previous block's payload: boundary tags as in glibc). */
enum { HEADER = 16, OVERHEAD = 8 };

static int64_t address_of(const void *p) { return (int64_t)(intptr_t)p; }

static int gcd(int a, int b) { return b == 0 ? a : gcd(b, a % b); }

/* Two blocks, their usable bytes and the header word before each, do not
 * overlap. */
static int blocks_disjoint(Allocation a, Allocation b) {
    return a.ptr + a.size <= b.ptr - OVERHEAD || b.ptr + b.size <= a.ptr - OVERHEAD;
}

/* What the allocator reports, to prove a refused call changed nothing. */
typedef struct {
    int64_t total, remaining, largest;
} Snapshot;

static Snapshot snapshot(FreeListAllocator *list) {
    Snapshot s = {freelist_total_allocated(list), freelist_remaining(list),
                  freelist_largest_free_block(list)};
    return s;
}

#define CHECK_UNCHANGED(list, before)                                     \
    do {                                                                  \
        Snapshot now_ = snapshot(list);                                   \
        CHECK_EQ(now_.total, (before).total);                             \
        CHECK_EQ(now_.remaining, (before).remaining);                     \
        CHECK_EQ(now_.largest, (before).largest);                         \
    } while (0)

/* The reference's "Free List Allocator" example. */
TEST(freelist_reference_example) {
    FreeListAllocator *list = freelist_new(8192);
    CHECK(list != NULL);
    /* The placement below follows from frees that merge at once: with the
     * front-end cache on, a1 and a2 would stay whole in the cache and a4
     * would come from the rest of the heap (test_freelist_cache.c). */
    CHECK_EQ(freelist_set_cache(list, 0), 0);
    CHECK_EQ(freelist_total_allocated(list), 0);
    CHECK_EQ(freelist_remaining(list), 8192);

    Allocation a1 = freelist_alloc(list, layout_new(100, 8));
    Allocation a2 = freelist_alloc(list, layout_new(500, 8));
    Allocation a3 = freelist_alloc(list, layout_new(200, 8));
    CHECK(a1.ptr != 0 && a2.ptr != 0 && a3.ptr != 0);
    CHECK_GE(a1.size, 100);
    CHECK_GE(a2.size, 500);
    CHECK_GE(a3.size, 200);
    CHECK(a1.ptr % 8 == 0 && a2.ptr % 8 == 0 && a3.ptr % 8 == 0);
    CHECK(blocks_disjoint(a1, a2) && blocks_disjoint(a1, a3) && blocks_disjoint(a2, a3));
    /* Blocks in use, headers included. */
    CHECK_EQ(freelist_total_allocated(list), a1.size + a2.size + a3.size + 3 * OVERHEAD);
    CHECK_EQ(freelist_remaining(list), 8192 - freelist_total_allocated(list));
    fill_pattern(a1.ptr, a1.size, 1);
    fill_pattern(a2.ptr, a2.size, 2);
    fill_pattern(a3.ptr, a3.size, 3);

    CHECK_EQ(freelist_dealloc(list, a2.ptr), 0);
    CHECK_EQ(freelist_dealloc(list, a1.ptr), 0);
    CHECK_EQ(freelist_total_allocated(list), a3.size + OVERHEAD);
    CHECK(pattern_intact(a3.ptr, a3.size, 3));

    /* 300 bytes fit in the space a1 and a2 left (merged: 100 + 500 apart
     * would not hold 300 in a1's part alone). */
    Allocation a4 = freelist_alloc(list, layout_new(300, 8));
    CHECK_NE(a4.ptr, 0);
    CHECK_GE(a4.size, 300);
    int64_t low = (a1.ptr < a2.ptr ? a1.ptr : a2.ptr) - HEADER;
    int64_t high = a1.ptr + a1.size > a2.ptr + a2.size ? a1.ptr + a1.size : a2.ptr + a2.size;
    CHECK_GE(a4.ptr - HEADER, low);
    CHECK_LE(a4.ptr + 300, high);
    CHECK(blocks_disjoint(a4, a3));
    fill_pattern(a4.ptr, a4.size, 4);
    CHECK(pattern_intact(a3.ptr, a3.size, 3));

    CHECK_EQ(freelist_dealloc(list, a3.ptr), 0);
    CHECK_EQ(freelist_dealloc(list, a4.ptr), 0);
    CHECK_EQ(freelist_total_allocated(list), 0);
    CHECK_EQ(freelist_remaining(list), 8192);
    CHECK_EQ(freelist_drop(list), 0);
    CHECK_EQ(freelist_free(list), 0);
}

TEST(freelist_new_refuses_capacities_that_hold_no_block) {
    const int64_t bad[] = {31, 16, 1, 0, -1, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FreeListAllocator *list = (FreeListAllocator *)1;
        CHECK_ERROR(list = freelist_new(bad[i]), VAIS_ALLOC_E_INVALID_ARGUMENT);
        CHECK(list == NULL);
    }
    /* 32 bytes hold exactly one minimum block: 24 usable bytes. */
    FreeListAllocator *list = freelist_new(32);
    CHECK(list != NULL);
    CHECK_EQ(freelist_largest_free_block(list), 24);
    Allocation a = freelist_alloc(list, layout_new(24, 16));
    CHECK_NE(a.ptr, 0);
    CHECK_EQ(a.size, 24);
    CHECK_EQ(a.ptr % 16, 0);
    fill_pattern(a.ptr, 24, 1);
    CHECK_EQ(freelist_remaining(list), 0);
    CHECK_EQ(freelist_largest_free_block(list), 0);
    CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(1, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK(pattern_intact(a.ptr, 24, 1));
    CHECK_EQ(freelist_dealloc(list, a.ptr), 0);
    CHECK_EQ(freelist_remaining(list), 32);
    CHECK_EQ(freelist_free(list), 0);
}

/* The reference ignored alignment (7 in 8 blocks of align 64 were off). */
TEST(freelist_alignment_1_to_4096_is_honoured) {
    enum { CAPACITY = 1 << 20, ALIGNS = 13, PER = 3 };
    FreeListAllocator *list = freelist_new(CAPACITY);
    CHECK(list != NULL);
    if (list == NULL) return;
    Allocation live[ALIGNS * PER];
    int n = 0;
    int64_t in_use = 0;
    for (int k = 0; k < PER; k++) {
        for (int shift = 0; shift < ALIGNS; shift++) {
            Layout l = layout_new(k == 0 ? 40 : k == 1 ? 1 : 3000, INT64_C(1) << shift);
            Allocation a = freelist_alloc(list, l);
            CHECK_NE(a.ptr, 0);
            CHECK_EQ(a.ptr % l.align, 0);
            CHECK_GE(a.size, l.size);
            for (int j = 0; j < n; j++) CHECK(blocks_disjoint(a, live[j]));
            fill_pattern(a.ptr, a.size, (unsigned)n);
            in_use += a.size + OVERHEAD;
            live[n++] = a;
        }
    }
    /* Alignment gaps are free space, not space in use. */
    CHECK_EQ(freelist_total_allocated(list), in_use);
    CHECK_EQ(freelist_remaining(list), CAPACITY - in_use);
    for (int j = 0; j < n; j++) CHECK(pattern_intact(live[j].ptr, live[j].size, (unsigned)j));
    /* Free in a scrambled order (7 is prime to 39). */
    for (int i = 0; i < n; i++) {
        int j = (i * 7) % n;
        CHECK_EQ(freelist_dealloc(list, live[j].ptr), 0);
    }
    CHECK_EQ(freelist_total_allocated(list), 0);
    CHECK_EQ(freelist_remaining(list), CAPACITY);
    CHECK_EQ(freelist_largest_free_block(list), CAPACITY - OVERHEAD);
    CHECK_EQ(freelist_free(list), 0);
}

/* The reference never merged free neighbours: six freed 1000-byte blocks
 * could not serve 5000. Fill the heap, free everything in a scrambled
 * order, and the whole heap is one block again. */
TEST(freelist_coalescing_restores_the_whole_heap) {
    enum { CAPACITY = 65536, MAX = 4096 };
    FreeListAllocator *list = freelist_new(CAPACITY);
    CHECK(list != NULL);
    if (list == NULL) return;
    static Allocation live[MAX];
    int n = 0;
    /* Varied sizes and alignments until one fails, then minimum blocks for
     * the leftovers until the heap is full. */
    for (int phase = 0; phase < 2; phase++) {
        for (int i = 0; n < MAX; i++) {
            Layout l = phase == 0 ? layout_new(1 + (i * 53) % 700, INT64_C(1) << (i % 7))
                                  : layout_new(1, 1);
            vais_alloc_clear_error();
            Allocation a = freelist_alloc(list, l);
            if (a.ptr == 0) {
                CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_EXHAUSTED);
                break;
            }
            CHECK_EQ(a.ptr % l.align, 0);
            fill_pattern(a.ptr, a.size, (unsigned)n);
            live[n++] = a;
        }
    }
    CHECK_GT(n, 100);
    /* Full: less than one minimum block is left. */
    CHECK_LT(freelist_remaining(list), 32);
    CHECK_EQ(freelist_largest_free_block(list), 0);
    for (int j = 0; j < n; j++) CHECK(pattern_intact(live[j].ptr, live[j].size, (unsigned)j));

    /* A multiplier prime to n visits every block once. */
    int step = 7919;
    while (gcd(step, n) != 1) step++;
    for (int i = 0; i < n; i++) {
        int j = (int)(((int64_t)i * step + 13) % n);
        CHECK_EQ(freelist_dealloc(list, live[j].ptr), 0);
        if (i % 97 == 0)
            CHECK_EQ(freelist_remaining(list), CAPACITY - freelist_total_allocated(list));
    }
    CHECK_EQ(freelist_total_allocated(list), 0);
    CHECK_EQ(freelist_remaining(list), CAPACITY);

    int64_t largest = freelist_largest_free_block(list);
    CHECK_GE(largest * 100, (int64_t)CAPACITY * 95);
    CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(largest + 1, 8)), VAIS_ALLOC_E_EXHAUSTED);
    Allocation all = freelist_alloc(list, layout_new(largest, 8));
    CHECK_NE(all.ptr, 0);
    CHECK_GE(all.size, largest);
    fill_pattern(all.ptr, all.size, 77);
    CHECK(pattern_intact(all.ptr, all.size, 77));
    CHECK_EQ(freelist_dealloc(list, all.ptr), 0);
    CHECK_EQ(freelist_remaining(list), CAPACITY);
    CHECK_EQ(freelist_free(list), 0);
}

/* Every usable byte is the caller's: the last 8 of a block are the next
 * block's header word 0 (and the last block's lie past the heap, in the
 * buffer's spare word: ASan and Valgrind check the writes). Filling every
 * block to its last byte, freeing some and reusing the space must leave
 * the others intact and their frees accepted. */
TEST(freelist_every_usable_byte_belongs_to_the_caller) {
    enum { CAPACITY = 512, N = 8 };
    FreeListAllocator *list = freelist_new(CAPACITY);
    CHECK(list != NULL);
    if (list == NULL) return;
    Allocation blocks[N];
    int64_t in_use = 0;
    for (int i = 0; i < N; i++) {
        blocks[i] = freelist_alloc(list, layout_new(i == N - 1 ? freelist_largest_free_block(list) : 40, 8));
        CHECK_NE(blocks[i].ptr, 0);
        if (blocks[i].ptr == 0) return;
        fill_pattern(blocks[i].ptr, blocks[i].size, (unsigned)i + 1);
        in_use += blocks[i].size + OVERHEAD;
    }
    /* The heap is full, each block's usable bytes end 8 bytes before the
     * next block's payload, and the last block ends 8 bytes past the heap. */
    CHECK_EQ(freelist_total_allocated(list), CAPACITY);
    CHECK_EQ(in_use, CAPACITY);
    for (int i = 0; i + 1 < N; i++) CHECK_EQ(blocks[i].ptr + blocks[i].size, blocks[i + 1].ptr - OVERHEAD);
    CHECK_EQ(blocks[N - 1].ptr + blocks[N - 1].size, blocks[0].ptr - HEADER + CAPACITY + OVERHEAD);
    for (int i = 1; i < N; i += 2) CHECK_EQ(freelist_dealloc(list, blocks[i].ptr), 0);
    for (int i = 0; i < N; i += 2) CHECK(pattern_intact(blocks[i].ptr, blocks[i].size, (unsigned)i + 1));
    /* Reuse the freed space, filled to the last byte too. */
    Allocation again[N];
    int m = 0;
    for (; m < N; m++) {
        again[m] = freelist_alloc(list, layout_new(24, 8));
        if (again[m].ptr == 0) break;
        fill_pattern(again[m].ptr, again[m].size, 0xA0u + (unsigned)m);
    }
    CHECK_GE(m, N / 2);
    for (int i = 0; i < N; i += 2) {
        CHECK(pattern_intact(blocks[i].ptr, blocks[i].size, (unsigned)i + 1));
        CHECK_EQ(freelist_dealloc(list, blocks[i].ptr), 0);
    }
    for (int j = 0; j < m; j++) {
        CHECK(pattern_intact(again[j].ptr, again[j].size, 0xA0u + (unsigned)j));
        CHECK_EQ(freelist_dealloc(list, again[j].ptr), 0);
    }
    CHECK_EQ(freelist_total_allocated(list), 0);
    CHECK_EQ(freelist_largest_free_block(list), CAPACITY - OVERHEAD);
    CHECK_EQ(freelist_free(list), 0);
}

/* Merging in both directions: free the middle of three, then each side. */
TEST(freelist_coalescing_merges_both_neighbours) {
    FreeListAllocator *list = freelist_new(4096);
    CHECK(list != NULL);
    /* 4 x (1000 + header) fit in 4096; no 4000-byte request fits beside them. */
    Allocation blocks[4];
    for (int i = 0; i < 4; i++) {
        blocks[i] = freelist_alloc(list, layout_new(1000, 8));
        CHECK_NE(blocks[i].ptr, 0);
        fill_pattern(blocks[i].ptr, blocks[i].size, (unsigned)i);
    }
    CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(4000, 8)), VAIS_ALLOC_E_EXHAUSTED);
    const int order[] = {1, 3, 2, 0};
    for (int k = 0; k < 4; k++) {
        CHECK_EQ(freelist_dealloc(list, blocks[order[k]].ptr), 0);
        for (int m = k + 1; m < 4; m++)
            CHECK(pattern_intact(blocks[order[m]].ptr, blocks[order[m]].size, (unsigned)order[m]));
    }
    Allocation big = freelist_alloc(list, layout_new(4000, 8));
    CHECK_NE(big.ptr, 0);
    CHECK_EQ(freelist_dealloc(list, big.ptr), 0);
    CHECK_EQ(freelist_largest_free_block(list), 4096 - OVERHEAD);
    CHECK_EQ(freelist_free(list), 0);
}

TEST(freelist_bad_layouts_fail_and_change_nothing) {
    FreeListAllocator *list = freelist_new(4096);
    CHECK(list != NULL);
    Allocation a = freelist_alloc(list, layout_new(100, 8));
    CHECK_NE(a.ptr, 0);
    fill_pattern(a.ptr, a.size, 5);
    const Snapshot before = snapshot(list);

    const struct { Layout layout; int64_t code; } cases[] = {
        {{INT64_MAX, 1}, VAIS_ALLOC_E_EXHAUSTED},
        {{INT64_MAX, 8}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{INT64_C(1) << 62, 8}, VAIS_ALLOC_E_EXHAUSTED},
        {{1, INT64_C(1) << 62}, VAIS_ALLOC_E_EXHAUSTED},
        {{4000, 4096}, VAIS_ALLOC_E_EXHAUSTED},
        {{4096, 8}, VAIS_ALLOC_E_EXHAUSTED},
        {{-64, 8}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{-200, 8}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{INT64_MIN, 1}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{8, 0}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{8, 3}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{8, -16}, VAIS_ALLOC_E_INVALID_LAYOUT},
        {{8, INT64_MIN}, VAIS_ALLOC_E_INVALID_LAYOUT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_ALLOC_FAILS(freelist_alloc(list, cases[i].layout), cases[i].code);
        CHECK_UNCHANGED(list, before);
    }
    CHECK(pattern_intact(a.ptr, a.size, 5));
    Allocation b = freelist_alloc(list, layout_new(200, 8));
    CHECK_NE(b.ptr, 0);
    CHECK(blocks_disjoint(a, b));
    fill_pattern(b.ptr, b.size, 6);
    CHECK(pattern_intact(a.ptr, a.size, 5));
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(freelist_free(list), 0);
}

/* The reference accepted double frees (then handed a block out thrice).
 * Outside, interior, misaligned, never handed out, foreign, double-freed:
 * each is refused with nothing changed. */
TEST(freelist_bad_frees_are_refused_and_change_nothing) {
    FreeListAllocator *list = freelist_new(4096);
    FreeListAllocator *other = freelist_new(4096);
    CHECK(list != NULL && other != NULL);
    if (list == NULL || other == NULL) return;
    /* Initialise the whole heap first (one block, written, freed), so that
     * the never-handed-out pointers below point at defined bytes. */
    Allocation whole = freelist_alloc(list, layout_new(freelist_largest_free_block(list), 8));
    CHECK_NE(whole.ptr, 0);
    fill_pattern(whole.ptr, whole.size, 200);
    CHECK_EQ(freelist_dealloc(list, whole.ptr), 0);

    Allocation a = freelist_alloc(list, layout_new(64, 8));
    Allocation b = freelist_alloc(list, layout_new(64, 8));
    Allocation c = freelist_alloc(list, layout_new(64, 8));
    Allocation foreign = freelist_alloc(other, layout_new(64, 8));
    CHECK(a.ptr != 0 && b.ptr != 0 && c.ptr != 0 && foreign.ptr != 0);
    fill_pattern(a.ptr, a.size, 1);
    fill_pattern(b.ptr, b.size, 2);
    fill_pattern(c.ptr, c.size, 3);
    fill_pattern(foreign.ptr, foreign.size, 4);
    int64_t on_stack = 0;
    void *heap = malloc(64);
    Snapshot before = snapshot(list);

    const int64_t foreign_pointers[] = {
        a.ptr + 1, a.ptr + 4, a.ptr + 8, a.ptr - 1, a.ptr - 8,   /* misaligned */
        a.ptr + 16, a.ptr + 32, b.ptr + 48, a.ptr - HEADER,      /* interior, header */
        whole.ptr + 1024, whole.ptr + 2048, whole.ptr + whole.size - 16, /* never handed out */
        foreign.ptr, foreign.ptr + 16,                           /* another allocator's */
        address_of(&on_stack), address_of(heap),                 /* nobody's */
        16, -16, 1, INT64_MAX, INT64_MIN,
    };
    for (size_t i = 0; i < sizeof foreign_pointers / sizeof foreign_pointers[0]; i++) {
        CHECK_STATUS_FAILS(freelist_dealloc(list, foreign_pointers[i]), VAIS_ALLOC_E_FOREIGN_POINTER);
        CHECK_UNCHANGED(list, before);
    }
    CHECK(pattern_intact(a.ptr, a.size, 1));
    CHECK(pattern_intact(b.ptr, b.size, 2));
    CHECK(pattern_intact(c.ptr, c.size, 3));

    /* b sits between two blocks in use: freed, it stays a block of its own. */
    CHECK_EQ(freelist_dealloc(list, b.ptr), 0);
    before = snapshot(list);
    CHECK_STATUS_FAILS(freelist_dealloc(list, b.ptr), VAIS_ALLOC_E_DOUBLE_FREE);
    CHECK_STATUS_FAILS(freelist_dealloc(list, b.ptr), VAIS_ALLOC_E_DOUBLE_FREE);
    CHECK_UNCHANGED(list, before);
    /* Once merged into a neighbour, a stale pointer may read as foreign. */
    CHECK_EQ(freelist_dealloc(list, a.ptr), 0);
    before = snapshot(list);
    int64_t stale[] = {a.ptr, b.ptr};
    for (size_t i = 0; i < 2; i++) {
        vais_alloc_clear_error();
        int64_t status = freelist_dealloc(list, stale[i]);
        CHECK(status == VAIS_ALLOC_E_DOUBLE_FREE || status == VAIS_ALLOC_E_FOREIGN_POINTER);
        CHECK_EQ(vais_alloc_last_error(), status);
        CHECK_UNCHANGED(list, before);
    }
    CHECK(pattern_intact(c.ptr, c.size, 3));

    /* Later allocations never overlap c, the one block still in use. */
    Allocation fresh[8];
    for (int i = 0; i < 8; i++) {
        fresh[i] = freelist_alloc(list, layout_new(40 + 20 * i, 16));
        CHECK_NE(fresh[i].ptr, 0);
        CHECK(blocks_disjoint(fresh[i], c));
        for (int j = 0; j < i; j++) CHECK(blocks_disjoint(fresh[i], fresh[j]));
        fill_pattern(fresh[i].ptr, fresh[i].size, (unsigned)(10 + i));
    }
    CHECK(pattern_intact(c.ptr, c.size, 3));
    CHECK(pattern_intact(foreign.ptr, foreign.size, 4));
    for (int i = 0; i < 8; i++) CHECK(pattern_intact(fresh[i].ptr, fresh[i].size, (unsigned)(10 + i)));

    free(heap);
    CHECK_EQ(freelist_reset(other), 0);
    CHECK_EQ(freelist_free(other), 0);
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(freelist_free(list), 0);
}

/* A pointer into a heap that has never been written (no earlier
 * allocation covered it) is refused like any other, without reading
 * uninitialised memory (the heap starts zero-filled; Valgrind checks). */
TEST(freelist_never_handed_out_pointer_in_a_fresh_heap_is_refused) {
    FreeListAllocator *list = freelist_new(8192);
    CHECK(list != NULL);
    Allocation a = freelist_alloc(list, layout_new(64, 16));
    CHECK_NE(a.ptr, 0);
    fill_pattern(a.ptr, a.size, 1);
    Snapshot before = snapshot(list);
    /* The payload of the free rest of the heap, if it follows `a`: a free
     * block, never handed out; either refusal will do. */
    vais_alloc_clear_error();
    int64_t status = freelist_dealloc(list, a.ptr + a.size + OVERHEAD);
    CHECK(status == VAIS_ALLOC_E_DOUBLE_FREE || status == VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_EQ(vais_alloc_last_error(), status);
    CHECK_UNCHANGED(list, before);
    const int64_t offsets[] = {a.size + OVERHEAD + 16, 512, 1024, 4096};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        CHECK_STATUS_FAILS(freelist_dealloc(list, a.ptr + offsets[i]), VAIS_ALLOC_E_FOREIGN_POINTER);
        CHECK_UNCHANGED(list, before);
    }
    CHECK(pattern_intact(a.ptr, a.size, 1));
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(freelist_free(list), 0);
}

/* A free list whose buffer lands where an earlier one's was (glibc hands
 * the same 4 KiB chunk back) must refuse the earlier list's stale headers:
 * every list has its own key in the block magic. */
TEST(freelist_stale_headers_of_an_earlier_heap_are_refused) {
    FreeListAllocator *earlier = freelist_new(4096);
    CHECK(earlier != NULL);
    Allocation a1 = freelist_alloc(earlier, layout_new(64, 8));
    Allocation a2 = freelist_alloc(earlier, layout_new(64, 8));
    CHECK(a1.ptr != 0 && a2.ptr != 0);
    CHECK_EQ(freelist_reset(earlier), 0);
    CHECK_EQ(freelist_free(earlier), 0);

    FreeListAllocator *list = freelist_new(4096);
    CHECK(list != NULL);
    Snapshot before = snapshot(list);
    /* Only meaningful when the new buffer reuses the old address. */
    Allocation probe = freelist_alloc(list, layout_new(0, 1));
    int same_buffer = probe.ptr == a1.ptr;
    CHECK_EQ(freelist_dealloc(list, probe.ptr), 0);
    if (same_buffer) {
        CHECK_STATUS_FAILS(freelist_dealloc(list, a2.ptr), VAIS_ALLOC_E_FOREIGN_POINTER);
        CHECK_UNCHANGED(list, before);
        Allocation x = freelist_alloc(list, layout_new(3000, 8));
        Allocation y = freelist_alloc(list, layout_new(3000, 8));
        CHECK_NE(x.ptr, 0);
        CHECK_EQ(y.ptr, 0);
    }
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(freelist_free(list), 0);
}

TEST(freelist_dealloc_of_zero_is_a_no_op) {
    FreeListAllocator *list = freelist_new(1024);
    CHECK(list != NULL);
    Allocation a = freelist_alloc(list, layout_new(10, 8));
    CHECK_NE(a.ptr, 0);
    Snapshot before = snapshot(list);
    vais_alloc_clear_error();
    CHECK_EQ(freelist_dealloc(list, 0), 0);
    CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_OK);
    CHECK_UNCHANGED(list, before);
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(freelist_free(list), 0);
}

TEST(freelist_exhaustion_fails_and_changes_nothing) {
    FreeListAllocator *list = freelist_new(1024);
    CHECK(list != NULL);
    Allocation a = freelist_alloc(list, layout_new(500, 8));
    CHECK_NE(a.ptr, 0);
    fill_pattern(a.ptr, a.size, 1);
    const Snapshot before = snapshot(list);
    CHECK_GT(before.largest, 0);
    CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(before.largest + 1, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(600, 8)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK_UNCHANGED(list, before);
    Allocation rest = freelist_alloc(list, layout_new(before.largest, 8));
    CHECK_NE(rest.ptr, 0);
    CHECK(blocks_disjoint(a, rest));
    fill_pattern(rest.ptr, rest.size, 2);
    CHECK_ALLOC_FAILS(freelist_alloc(list, layout_new(1, 1)), VAIS_ALLOC_E_EXHAUSTED);
    CHECK(pattern_intact(a.ptr, a.size, 1));
    CHECK(pattern_intact(rest.ptr, rest.size, 2));
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(freelist_free(list), 0);
}

/* Random allocations and frees: live blocks stay disjoint and intact, and
 * the counters agree with the blocks in use. */
TEST(freelist_random_churn_keeps_blocks_disjoint_and_intact) {
    enum { CAPACITY = 1 << 16, SLOTS = 96 };
    FreeListAllocator *list = freelist_new(CAPACITY);
    CHECK(list != NULL);
    if (list == NULL) return;
    Allocation live[SLOTS] = {{0, 0}};
    uint32_t random = 4242;
    for (int step = 0; step < 4000; step++) {
        random = random * 1103515245u + 12345u;
        int slot = (int)((random >> 16) % SLOTS);
        if (live[slot].ptr != 0) {
            CHECK(pattern_intact(live[slot].ptr, live[slot].size, (unsigned)slot));
            CHECK_EQ(freelist_dealloc(list, live[slot].ptr), 0);
            live[slot].ptr = 0;
            continue;
        }
        Layout l = layout_new((int64_t)((random >> 4) % 1500), INT64_C(1) << ((random >> 24) % 9));
        vais_alloc_clear_error();
        Allocation a = freelist_alloc(list, l);
        if (a.ptr == 0) {
            CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_EXHAUSTED);
            continue;
        }
        CHECK_EQ(a.ptr % l.align, 0);
        CHECK_GE(a.size, l.size);
        for (int j = 0; j < SLOTS; j++)
            if (live[j].ptr != 0) CHECK(blocks_disjoint(a, live[j]));
        fill_pattern(a.ptr, a.size, (unsigned)slot);
        live[slot] = a;
    }
    int64_t in_use = 0;
    for (int j = 0; j < SLOTS; j++)
        if (live[j].ptr != 0) in_use += live[j].size + OVERHEAD;
    CHECK_GT(in_use, 0);
    CHECK_EQ(freelist_total_allocated(list), in_use);
    CHECK_EQ(freelist_remaining(list), CAPACITY - in_use);
    for (int j = 0; j < SLOTS; j++) {
        if (live[j].ptr == 0) continue;
        CHECK(pattern_intact(live[j].ptr, live[j].size, (unsigned)j));
        CHECK_EQ(freelist_dealloc(list, live[j].ptr), 0);
    }
    CHECK_EQ(freelist_remaining(list), CAPACITY);
    CHECK_EQ(freelist_largest_free_block(list), CAPACITY - OVERHEAD);
    CHECK_EQ(freelist_free(list), 0);
}

/* freelist_realloc (an extra of this library): in place when it can be,
 * moved otherwise, contents kept, failures change nothing. */
TEST(freelist_realloc_grows_shrinks_and_moves) {
    FreeListAllocator *list = freelist_new(16384);
    CHECK(list != NULL);
    Allocation a = freelist_alloc(list, layout_new(100, 8));
    fill_pattern(a.ptr, 100, 21);

    Allocation grown = freelist_realloc(list, a.ptr, layout_new(3000, 8));
    CHECK_EQ(grown.ptr, a.ptr); /* the rest of the heap follows `a` */
    CHECK_GE(grown.size, 3000);
    CHECK(pattern_intact(grown.ptr, 100, 21));

    int64_t before_shrink = freelist_total_allocated(list);
    Allocation shrunk = freelist_realloc(list, a.ptr, layout_new(40, 8));
    CHECK_EQ(shrunk.ptr, a.ptr);
    CHECK_LT(freelist_total_allocated(list), before_shrink);
    CHECK(pattern_intact(shrunk.ptr, 40, 21));

    Allocation wall = freelist_alloc(list, layout_new(16, 8));
    CHECK_NE(wall.ptr, 0);
    fill_pattern(wall.ptr, wall.size, 22);
    Allocation moved = freelist_realloc(list, a.ptr, layout_new(5000, 512));
    CHECK_NE(moved.ptr, 0);
    CHECK_NE(moved.ptr, a.ptr);
    CHECK_EQ(moved.ptr % 512, 0);
    CHECK(pattern_intact(moved.ptr, 40, 21));
    CHECK(pattern_intact(wall.ptr, wall.size, 22));

    /* Refusals: nothing changes, the block keeps its bytes. */
    Snapshot before = snapshot(list);
    CHECK_ALLOC_FAILS(freelist_realloc(list, moved.ptr, layout_new(INT64_C(1) << 40, 8)),
                      VAIS_ALLOC_E_EXHAUSTED);
    CHECK_ALLOC_FAILS(freelist_realloc(list, moved.ptr, layout_new(8, 12)), VAIS_ALLOC_E_INVALID_LAYOUT);
    CHECK_ALLOC_FAILS(freelist_realloc(list, moved.ptr + 16, layout_new(8, 8)),
                      VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_ALLOC_FAILS(freelist_realloc(NULL, moved.ptr, layout_new(8, 8)), VAIS_ALLOC_E_NULL_HANDLE);
    PoolAllocator *pool = pool_new(64, 4);
    CHECK_ALLOC_FAILS(freelist_realloc((FreeListAllocator *)(void *)pool, moved.ptr, layout_new(8, 8)),
                      VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_EQ(pool_num_free_blocks(pool), 4);
    CHECK_EQ(pool_free(pool), 0);
    CHECK_UNCHANGED(list, before);
    CHECK(pattern_intact(moved.ptr, 40, 21));

    /* 0 allocates. */
    Allocation fresh = freelist_realloc(list, 0, layout_new(64, 64));
    CHECK_NE(fresh.ptr, 0);
    CHECK_EQ(fresh.ptr % 64, 0);

    CHECK_EQ(freelist_dealloc(list, fresh.ptr), 0);
    CHECK_EQ(freelist_dealloc(list, moved.ptr), 0);
    CHECK_EQ(freelist_dealloc(list, wall.ptr), 0);
    CHECK_EQ(freelist_remaining(list), 16384);
    CHECK_EQ(freelist_largest_free_block(list), 16384 - OVERHEAD);
    CHECK_EQ(freelist_free(list), 0);
}

/* A stray write into a freed block's header that makes its size reach
 * over its live neighbours: the block is no longer believed (the magic
 * covers the size), so nothing handed out overlaps them. */
TEST(freelist_a_grown_size_in_a_freed_header_never_causes_overlap) {
    SKIP_UNDER_MEMORY_TOOL();
    FreeListAllocator *list = freelist_new(256);
    CHECK(list != NULL);
    if (list == NULL) return;
    Allocation a = freelist_alloc(list, layout_new(48, 8));  /* [0, 64) */
    Allocation b = freelist_alloc(list, layout_new(48, 8));  /* [64, 128) */
    Allocation c = freelist_alloc(list, layout_new(112, 8)); /* [128, 256) */
    CHECK(a.ptr != 0 && b.ptr != 0 && c.ptr != 0);
    CHECK_EQ(freelist_dealloc(list, a.ptr), 0);
    ((unsigned char *)(intptr_t)(a.ptr - 8))[0] = 0xC1; /* size 64 -> 192 */
    int64_t sizes[] = {48, 100, 150};
    for (int i = 0; i < 3; i++) {
        Allocation x = freelist_alloc(list, layout_new(sizes[i], 8));
        if (x.ptr != 0) CHECK(blocks_disjoint(x, b) && blocks_disjoint(x, c));
    }
    CHECK_EQ(freelist_dealloc(list, c.ptr), 0);
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(freelist_free(list), 0);
}

/* A stray write into a live block's header that makes its size reach the
 * end of the heap: its free is refused, and changes nothing. */
TEST(freelist_a_grown_size_in_a_live_header_is_refused) {
    SKIP_UNDER_MEMORY_TOOL();
    FreeListAllocator *list = freelist_new(256);
    CHECK(list != NULL);
    if (list == NULL) return;
    Allocation w = freelist_alloc(list, layout_new(48, 8)); /* [0, 64) */
    Allocation a = freelist_alloc(list, layout_new(48, 8)); /* [64, 128) */
    Allocation b = freelist_alloc(list, layout_new(48, 8)); /* [128, 192) */
    CHECK(w.ptr != 0 && a.ptr != 0 && b.ptr != 0);
    Snapshot before = snapshot(list);
    ((unsigned char *)(intptr_t)(a.ptr - 8))[0] = 0xC0; /* size 64 -> 192 */
    CHECK_STATUS_FAILS(freelist_dealloc(list, a.ptr), VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_UNCHANGED(list, before);
    Allocation x = freelist_alloc(list, layout_new(40, 8));
    if (x.ptr != 0) CHECK(blocks_disjoint(x, w) && blocks_disjoint(x, a) && blocks_disjoint(x, b));
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(freelist_free(list), 0);
}

/* A stray write that sets the FREE bit (bit 0 of the header's size word)
 * of a live block: the block must not be taken for free when its
 * neighbour is freed, so nothing handed out covers it. */
TEST(freelist_a_flipped_free_bit_in_a_live_header_never_causes_overlap) {
    SKIP_UNDER_MEMORY_TOOL();
    FreeListAllocator *list = freelist_new(4096);
    CHECK(list != NULL);
    if (list == NULL) return;
    Allocation a = freelist_alloc(list, layout_new(16, 8));
    Allocation b = freelist_alloc(list, layout_new(48, 8));
    Allocation w = freelist_alloc(list, layout_new(16, 8));
    CHECK(a.ptr != 0 && b.ptr != 0 && w.ptr != 0);
    ((unsigned char *)(intptr_t)(b.ptr - 8))[0] |= 1;
    CHECK_EQ(freelist_dealloc(list, a.ptr), 0);
    Allocation c = freelist_alloc(list, layout_new(64, 8));
    CHECK(c.ptr == 0 || (blocks_disjoint(c, b) && blocks_disjoint(c, w)));
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(freelist_free(list), 0);
}

/* Random stray writes (single bit flips) into the headers of live and
 * freed blocks, amid churn: frees may be refused, but no allocation
 * overlaps a block still in use, and (under Valgrind, which sees the
 * library's accesses too) nothing is read or written outside the buffer. */
TEST(freelist_stray_writes_into_headers_never_cause_overlap) {
    SKIP_UNDER_MEMORY_TOOL();
    enum { CAPACITY = 1 << 15, SLOTS = 48 };
    FreeListAllocator *list = freelist_new(CAPACITY);
    CHECK(list != NULL);
    if (list == NULL) return;
    Allocation live[SLOTS] = {{0, 0}};
    Allocation freed[SLOTS] = {{0, 0}};
    uint32_t random = 777;
    int refused = 0;
    for (int step = 0; step < 6000; step++) {
        random = random * 1103515245u + 12345u;
        int slot = (int)((random >> 16) % SLOTS);
        if ((random >> 8) % 16 == 0) {
            /* One random byte of the 16 before a live or freed block. */
            Allocation target = (random & 1) ? live[slot] : freed[slot];
            if (target.ptr != 0) {
                unsigned char *header = (unsigned char *)(intptr_t)(target.ptr - HEADER);
                header[(random >> 4) % HEADER] ^= (unsigned char)(1u << ((random >> 12) % 8));
            }
            continue;
        }
        if (live[slot].ptr != 0) {
            int64_t status = freelist_dealloc(list, live[slot].ptr);
            if (status == 0) {
                freed[slot] = live[slot];
                live[slot].ptr = 0;
            } else {
                /* Refused: the block stays in use for the rest of the run. */
                CHECK(status == VAIS_ALLOC_E_FOREIGN_POINTER || status == VAIS_ALLOC_E_DOUBLE_FREE);
                refused++;
                for (int j = 0; j < SLOTS; j++)
                    if (live[(slot + j) % SLOTS].ptr == 0) {
                        live[(slot + j) % SLOTS] = live[slot];
                        break;
                    }
                live[slot].ptr = 0;
            }
            continue;
        }
        Allocation a = freelist_alloc(list, layout_new((int64_t)((random >> 4) % 600), 8));
        if (a.ptr == 0) continue;
        for (int j = 0; j < SLOTS; j++)
            if (live[j].ptr != 0) CHECK(blocks_disjoint(a, live[j]));
        live[slot] = a;
    }
    CHECK_GT(refused, 0); /* the stray writes did hit headers in use */
    CHECK_EQ(freelist_reset(list), 0);
    CHECK_EQ(freelist_free(list), 0);
}
