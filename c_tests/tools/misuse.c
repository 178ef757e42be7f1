/*
 * Bugs a memory tool must catch in memory from our allocators, one per
 * case: `misuse CASE` commits the bug of CASE, `misuse --list` lists the
 * cases. tools/memory_tool_tests.py runs every case under Valgrind
 * (Memcheck must report an error) and built with -fsanitize=address (ASan
 * must report one), and the case "correct" (every allocator used rightly)
 * under both, which must stay silent.
 *
 * Each bug is one read or write through a volatile pointer, so that the
 * compiler keeps it; the program then exits 0, so the tool's report is
 * the only thing that makes the case fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vais_alloc.h"

static void touch_read(int64_t address) {
    volatile unsigned char *p = (volatile unsigned char *)(intptr_t)address;
    unsigned char value = *p;
    /* Use the value, so that Memcheck also sees it used. */
    if (value == 0x5a) puts("(read 0x5a)");
}

static void touch_write(int64_t address) {
    volatile unsigned char *p = (volatile unsigned char *)(intptr_t)address;
    *p = 0x5a;
}

static Layout lay(int64_t size, int64_t align) { return layout_new(size, align); }

/* ---- bump ---------------------------------------------------------------- */

static void bump_overrun(void) {
    BumpAllocator *b = bump_new(4096);
    Allocation a = bump_alloc(b, lay(13, 1));
    touch_write(a.ptr + a.size); /* one byte past the block */
    bump_free(b);
}

static void bump_after_reset(void) {
    BumpAllocator *b = bump_new(4096);
    Allocation a = bump_alloc(b, lay(64, 8));
    memset((void *)(intptr_t)a.ptr, 1, 64);
    bump_reset(b);
    touch_read(a.ptr);
    bump_free(b);
}

static void bump_after_release(void) {
    BumpAllocator *b = bump_new(4096);
    int64_t mark = bump_mark(b);
    Allocation a = bump_alloc(b, lay(64, 8));
    memset((void *)(intptr_t)a.ptr, 1, 64);
    bump_release_to(b, mark);
    touch_read(a.ptr + 10);
    bump_free(b);
}

/* The bump arena keeps no header: the bytes it skips to align a block are
 * what a header read would reach. */
static void bump_padding(void) {
    BumpAllocator *b = bump_new(4096);
    bump_alloc(b, lay(1, 1));
    Allocation a = bump_alloc(b, lay(8, 64));
    touch_read(a.ptr - 1);
    bump_free(b);
}

/* ---- pool ---------------------------------------------------------------- */

static void pool_overrun(void) {
    PoolAllocator *p = pool_new(24, 8);
    int64_t first = pool_alloc(p);
    int64_t a = pool_alloc(p);
    touch_write(a + pool_block_size(p)); /* into the third block, never handed out */
    pool_dealloc(p, a);
    pool_dealloc(p, first);
    pool_free(p);
}

static void pool_after_free(void) {
    PoolAllocator *p = pool_new(32, 8);
    int64_t a = pool_alloc(p);
    memset((void *)(intptr_t)a, 1, 32);
    pool_dealloc(p, a);
    touch_read(a + 8);
    pool_free(p);
}

static void pool_after_reset(void) {
    PoolAllocator *p = pool_new(32, 8);
    int64_t a = pool_alloc(p);
    memset((void *)(intptr_t)a, 1, 32);
    pool_reset(p);
    touch_read(a);
    pool_free(p);
}

/* The pool keeps its bookkeeping beside the blocks: the nearest thing to
 * a header read is a read of a block never handed out. */
static void pool_unallocated(void) {
    PoolAllocator *p = pool_new(32, 8);
    int64_t a = pool_alloc(p);
    touch_read(a + 3 * 32);
    pool_dealloc(p, a);
    pool_free(p);
}

/* A block still live when its pool is freed: a leak (Valgrind only). The
 * pool's first block starts where its buffer does, so Memcheck (which
 * keys blocks by address) knows it only as part of the buffer, and would
 * report the buffer as lost: the leak here is the second block, reported
 * as a block of its own, allocated by pool_alloc. */
static void pool_leak(void) {
    PoolAllocator *p = pool_new(32, 8);
    int64_t first = pool_alloc(p);
    pool_alloc(p);
    pool_dealloc(p, first);
    pool_free(p);
}

/* ---- free list ----------------------------------------------------------- */

static void freelist_overrun(void) {
    FreeListAllocator *f = freelist_new(4096);
    Allocation a = freelist_alloc(f, lay(40, 8));
    touch_write(a.ptr + a.size);
    freelist_dealloc(f, a.ptr);
    freelist_free(f);
}

static void freelist_after_free(void) {
    FreeListAllocator *f = freelist_new(4096);
    Allocation a = freelist_alloc(f, lay(40, 8));
    memset((void *)(intptr_t)a.ptr, 1, 40);
    freelist_dealloc(f, a.ptr);
    touch_read(a.ptr + 16);
    freelist_free(f);
}

static void freelist_after_realloc(void) {
    FreeListAllocator *f = freelist_new(1 << 16);
    Allocation a = freelist_alloc(f, lay(40, 8));
    Allocation blocker = freelist_alloc(f, lay(40, 8));
    Allocation moved = freelist_realloc(f, a.ptr, lay(4000, 8));
    if (moved.ptr == a.ptr) puts("(realloc did not move)");
    touch_read(a.ptr);
    freelist_dealloc(f, moved.ptr);
    freelist_dealloc(f, blocker.ptr);
    freelist_free(f);
}

static void freelist_header(void) {
    FreeListAllocator *f = freelist_new(4096);
    Allocation a = freelist_alloc(f, lay(40, 8));
    touch_read(a.ptr - 8);
    freelist_dealloc(f, a.ptr);
    freelist_free(f);
}

static void freelist_leak(void) {
    FreeListAllocator *f = freelist_new(4096);
    freelist_alloc(f, lay(40, 8));
    freelist_free(f);
}

/* ---- stack --------------------------------------------------------------- */

static void stack_overrun(void) {
    StackAllocator *s = stack_new(4096);
    Allocation a = stack_alloc(s, lay(20, 8));
    touch_write(a.ptr + a.size);
    stack_pop(s);
    stack_free(s);
}

static void stack_after_pop(void) {
    StackAllocator *s = stack_new(4096);
    Allocation a = stack_alloc(s, lay(64, 8));
    memset((void *)(intptr_t)a.ptr, 1, 64);
    stack_pop(s);
    touch_read(a.ptr);
    stack_free(s);
}

static void stack_after_release(void) {
    StackAllocator *s = stack_new(4096);
    stack_alloc(s, lay(16, 8));
    int64_t mark = stack_mark(s);
    Allocation a = stack_alloc(s, lay(64, 8));
    memset((void *)(intptr_t)a.ptr, 1, 64);
    stack_release_to(s, mark);
    touch_read(a.ptr + 32);
    stack_free(s);
}

static void stack_header(void) {
    StackAllocator *s = stack_new(4096);
    Allocation a = stack_alloc(s, lay(64, 8));
    touch_read(a.ptr - 8);
    stack_pop(s);
    stack_free(s);
}

/* ---- through the interface, and from an upstream ------------------------- */

static void interface_pool_after_free(void) {
    PoolAllocator *p = pool_new(64, 8);
    VaisAllocator v = pool_as_allocator(p);
    Allocation a = allocator_alloc(v, lay(48, 8));
    allocator_free(v, a.ptr, lay(48, 8));
    touch_read(a.ptr);
    pool_free(p);
}

static void grown_bump_overrun(void) {
    BumpAllocator *b = bump_new(0);
    bump_set_upstream(b, global_as_allocator(), 4096);
    Allocation a = bump_alloc(b, lay(100, 8));
    touch_read(a.ptr + 100);
    bump_free(b);
}

static void grown_freelist_after_free(void) {
    FreeListAllocator *up = freelist_new(1 << 20);
    FreeListAllocator *f = freelist_new(64);
    freelist_set_upstream(f, freelist_as_allocator(up), 1 << 16);
    Allocation a = freelist_alloc(f, lay(1000, 8));
    freelist_dealloc(f, a.ptr);
    touch_read(a.ptr + 100);
    freelist_free(f);
    freelist_free(up);
}

/* ---- for VAIS_ALLOC_MISUSE: a double free, run without a tool ------------ */

static void double_free(void) {
    PoolAllocator *p = pool_new(32, 8);
    int64_t a = pool_alloc(p);
    pool_dealloc(p, a);
    int64_t code = pool_dealloc(p, a);
    printf("returned %lld\n", (long long)code);
    pool_free(p);
}

/* ---- for VAIS_ALLOC_LEAKS: blocks live when their allocators go ---------- */

static void leak_report(void) {
    PoolAllocator *p = pool_new(32, 8);
    pool_alloc(p);
    pool_alloc(p);
    pool_free(p);
    FreeListAllocator *f = freelist_new(4096);
    freelist_alloc(f, lay(100, 8));
    freelist_drop(f);
    freelist_free(f);
    BumpAllocator *b = bump_new(256);
    bump_alloc(b, lay(10, 1)); /* an arena: freeing it frees its blocks */
    bump_free(b);
    puts("leak-report: done");
}

/* ---- every allocator used rightly: the tools stay silent ----------------- */

static void correct(void) {
    BumpAllocator *b = bump_new(4096);
    Allocation x = bump_alloc_zeroed(b, lay(100, 16));
    for (int64_t i = 0; i < x.size; i++) ((unsigned char *)(intptr_t)x.ptr)[i] += 1;
    int64_t mark = bump_mark(b);
    Allocation y = bump_alloc(b, lay(50, 8));
    memset((void *)(intptr_t)y.ptr, 2, 50);
    bump_release_to(b, mark);
    y = bump_alloc(b, lay(50, 8));
    memset((void *)(intptr_t)y.ptr, 3, 50);
    bump_reset(b);
    bump_free(b);

    PoolAllocator *p = pool_new(24, 16);
    int64_t blocks[16];
    for (int i = 0; i < 16; i++) {
        blocks[i] = pool_alloc(p);
        memset((void *)(intptr_t)blocks[i], i, 24);
    }
    for (int i = 0; i < 16; i += 2) pool_dealloc(p, blocks[i]);
    for (int i = 0; i < 16; i += 2) blocks[i] = pool_alloc(p);
    for (int i = 0; i < 16; i++) memset((void *)(intptr_t)blocks[i], 7, 24);
    pool_reset(p);
    pool_free(p);

    FreeListAllocator *f = freelist_new(1 << 16);
    Allocation a = freelist_alloc(f, lay(40, 8));
    memset((void *)(intptr_t)a.ptr, 4, (size_t)a.size);
    a = freelist_realloc(f, a.ptr, lay(3000, 64));
    for (int i = 0; i < 40; i++)
        if (((unsigned char *)(intptr_t)a.ptr)[i] != 4) puts("realloc lost the contents");
    memset((void *)(intptr_t)a.ptr, 5, (size_t)a.size);
    a = freelist_realloc(f, a.ptr, lay(100, 8));
    memset((void *)(intptr_t)a.ptr, 6, (size_t)a.size);
    VaisAllocator fv = freelist_as_allocator(f);
    Allocation z = allocator_alloc_zeroed(fv, lay(256, 32));
    if (((unsigned char *)(intptr_t)z.ptr)[255] != 0) puts("not zeroed");
    if (allocator_resize(fv, z.ptr, lay(256, 32), 512) == 0) memset((void *)(intptr_t)z.ptr, 1, 512);
    freelist_dealloc(f, a.ptr);
    allocator_free(fv, z.ptr, lay(512, 32));
    freelist_free(f);

    StackAllocator *s = stack_new(4096);
    Allocation s1 = stack_alloc(s, lay(30, 8));
    Allocation s2 = stack_alloc(s, lay(70, 128));
    memset((void *)(intptr_t)s1.ptr, 1, 30);
    memset((void *)(intptr_t)s2.ptr, 2, 70);
    VaisAllocator sv = stack_as_allocator(s);
    allocator_free(sv, s1.ptr, lay(30, 8)); /* an older one: marked dead */
    memset((void *)(intptr_t)s2.ptr, 3, 70);
    stack_pop(s);
    stack_reset(s);
    stack_free(s);

    /* A growing free list over a pool-less upstream chain. */
    FreeListAllocator *up = freelist_new(1 << 20);
    PoolAllocator *grown = pool_new(64, 1);
    pool_set_upstream(grown, freelist_as_allocator(up), 4096);
    for (int i = 0; i < 200; i++) memset((void *)(intptr_t)pool_alloc(grown), 9, 64);
    pool_reset(grown);
    pool_free(grown);
    freelist_free(up);
    puts("correct: done");
}

struct Case {
    const char *name;
    void (*run)(void);
    int asan; /* also a bug ASan can see (leaks are Valgrind's only); -1: no tool */
};

static const struct Case cases[] = {
    {"bump-overrun", bump_overrun, 1},
    {"bump-after-reset", bump_after_reset, 1},
    {"bump-after-release", bump_after_release, 1},
    {"bump-padding", bump_padding, 1},
    {"pool-overrun", pool_overrun, 1},
    {"pool-after-free", pool_after_free, 1},
    {"pool-after-reset", pool_after_reset, 1},
    {"pool-unallocated", pool_unallocated, 1},
    {"pool-leak", pool_leak, 0},
    {"freelist-overrun", freelist_overrun, 1},
    {"freelist-after-free", freelist_after_free, 1},
    {"freelist-after-realloc", freelist_after_realloc, 1},
    {"freelist-header", freelist_header, 1},
    {"freelist-leak", freelist_leak, 0},
    {"stack-overrun", stack_overrun, 1},
    {"stack-after-pop", stack_after_pop, 1},
    {"stack-after-release", stack_after_release, 1},
    {"stack-header", stack_header, 1},
    {"interface-pool-after-free", interface_pool_after_free, 1},
    {"grown-bump-overrun", grown_bump_overrun, 1},
    {"grown-freelist-after-free", grown_freelist_after_free, 1},
    {"correct", correct, 1},
    {"double-free", double_free, -1},
    {"leak-report", leak_report, -1},
};

int main(int argc, char **argv) {
    int n = (int)(sizeof cases / sizeof cases[0]);
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < n; i++)
            printf("%s %s\n", cases[i].name,
                   cases[i].asan < 0 ? "none" : cases[i].asan ? "both" : "valgrind");
        return 0;
    }
    for (int i = 0; argc == 2 && i < n; i++) {
        if (strcmp(argv[1], cases[i].name) == 0) {
            cases[i].run();
            return 0;
        }
    }
    fprintf(stderr, "usage: misuse CASE | --list\n");
    return 2;
}
