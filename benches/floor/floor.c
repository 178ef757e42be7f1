/*
 * floor.c: the least work each allocation job takes, built as a shared
 * object (benches/build/libfloor.so) so that every call pays the same
 * non-inlined, cross-object call that a call into libvais_alloc.so pays.
 *
 * A benchmark row "C floor" therefore measures the FFI call plus the
 * trivial algorithm; the distance between it and libvais_alloc is the
 * library's own work (validation, error bookkeeping, handle checks).
 *
 * None of these functions checks its arguments: that is the point.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

typedef struct Layout {
    int64_t size;
    int64_t align;
} Layout;

typedef struct Allocation {
    int64_t ptr;
    int64_t size;
} Allocation;

#define EXPORT __attribute__((visibility("default"), noinline))

/* ---- bump: one add, one mask, one compare ------------------------------ */

typedef struct FloorBump {
    uintptr_t cur, start, end;
} FloorBump;

EXPORT FloorBump *floor_bump_new(int64_t capacity)
{
    FloorBump *b = malloc(sizeof *b);
    void *mem = NULL;
    if (!b || posix_memalign(&mem, 16, (size_t)capacity) != 0)
        return NULL;
    b->start = b->cur = (uintptr_t)mem;
    b->end = b->start + (uintptr_t)capacity;
    return b;
}

EXPORT Allocation floor_bump_alloc(FloorBump *b, Layout l)
{
    uintptr_t p = (b->cur + (uintptr_t)l.align - 1) & ~((uintptr_t)l.align - 1);
    uintptr_t e = p + (uintptr_t)l.size;
    if (e > b->end)
        return (Allocation){0, 0};
    b->cur = e;
    return (Allocation){(int64_t)p, l.size};
}

EXPORT void floor_bump_reset(FloorBump *b) { b->cur = b->start; }

EXPORT void floor_bump_free(FloorBump *b)
{
    free((void *)b->start);
    free(b);
}

/* ---- pool: intrusive free list, fresh blocks bumped lazily -------------- */

typedef struct FloorPool {
    void *head;       /* freed blocks, linked through their first word */
    uintptr_t fresh;  /* next never-used block */
    uintptr_t end;
    uintptr_t block;
    void *mem;
} FloorPool;

/* The blocks of a pool floor: *bs gets the block size (at least 8, a
 * multiple of 8, as libvais_alloc rounds it). NULL if out of memory. */
static void *pool_blocks(int64_t block_size, int64_t num_blocks, size_t *bs)
{
    void *mem = NULL;
    *bs = ((size_t)block_size + 7) & ~(size_t)7;
    if (*bs < 8)
        *bs = 8;
    return posix_memalign(&mem, 16, *bs * (size_t)num_blocks) == 0 ? mem : NULL;
}

EXPORT FloorPool *floor_pool_new(int64_t block_size, int64_t num_blocks)
{
    FloorPool *p = malloc(sizeof *p);
    size_t bs;
    void *mem = p ? pool_blocks(block_size, num_blocks, &bs) : NULL;
    if (!mem) {
        free(p);
        return NULL;
    }
    p->head = NULL;
    p->mem = mem;
    p->fresh = (uintptr_t)mem;
    p->end = p->fresh + bs * (size_t)num_blocks;
    p->block = bs;
    return p;
}

EXPORT int64_t floor_pool_alloc(FloorPool *p)
{
    void *h = p->head;
    if (h) {
        p->head = *(void **)h;
        return (int64_t)(uintptr_t)h;
    }
    if (p->fresh < p->end) {
        uintptr_t r = p->fresh;
        p->fresh += p->block;
        return (int64_t)r;
    }
    return 0;
}

EXPORT int64_t floor_pool_dealloc(FloorPool *p, int64_t ptr)
{
    void *b = (void *)(uintptr_t)ptr;
    *(void **)b = p->head;
    p->head = b;
    return 0;
}

EXPORT void floor_pool_free(FloorPool *p)
{
    free(p->mem);
    free(p);
}

/* ---- pool, second floor: the free list kept beside the blocks -----------
 * One uint32_t link per block in a dense side array (as libvais_alloc's
 * pool keeps it), so a free writes, and an allocation reads, a 4-byte slot
 * of a small array instead of the first word of a block somewhere in the
 * buffer: less memory traffic when blocks are freed in random order. The
 * block index is a shift (power-of-two block sizes; the workloads use 64 B)
 * or else a division. */

#define IPOOL_END UINT32_MAX

typedef struct FloorIndexPool {
    uint32_t *next;
    uint32_t head, fresh, count;
    unsigned shift; /* log2(block) when block is a power of two, else 0 */
    uintptr_t base, block;
} FloorIndexPool;

EXPORT FloorIndexPool *floor_ipool_new(int64_t block_size, int64_t num_blocks)
{
    FloorIndexPool *p = malloc(sizeof *p);
    size_t bs;
    void *mem = p ? pool_blocks(block_size, num_blocks, &bs) : NULL;
    if (!mem) {
        free(p);
        return NULL;
    }
    p->next = malloc(sizeof(uint32_t) * (size_t)num_blocks);
    if (!p->next) {
        free(mem);
        free(p);
        return NULL;
    }
    p->head = IPOOL_END;
    p->fresh = 0;
    p->count = (uint32_t)num_blocks;
    p->base = (uintptr_t)mem;
    p->block = bs;
    p->shift = (bs & (bs - 1)) == 0 ? (unsigned)__builtin_ctzll(bs) : 0;
    return p;
}

EXPORT int64_t floor_ipool_alloc(FloorIndexPool *p)
{
    uint32_t i = p->head;
    if (i != IPOOL_END) {
        p->head = p->next[i];
    } else if (p->fresh < p->count) {
        i = p->fresh++;
    } else {
        return 0;
    }
    return (int64_t)(p->shift ? p->base + ((uintptr_t)i << p->shift) : p->base + (uintptr_t)i * p->block);
}

EXPORT int64_t floor_ipool_dealloc(FloorIndexPool *p, int64_t ptr)
{
    uintptr_t off = (uintptr_t)ptr - p->base;
    uint32_t i = (uint32_t)(p->shift ? off >> p->shift : off / p->block);
    p->next[i] = p->head;
    p->head = i;
    return 0;
}

EXPORT void floor_ipool_free(FloorIndexPool *p)
{
    free((void *)p->base);
    free(p->next);
    free(p);
}

/* ---- stack: the library's encoding without its check bits. An 8-byte
 * header at the first 8-aligned address at or above the previous top holds
 * the previous allocation's header address + 8 (0: none) and, in its low 3
 * bits, the gap from the previous top up to the header; pop is one load, a
 * mask, a subtraction and two stores ---- */

typedef struct FloorStack {
    uintptr_t top, start, end;
    uintptr_t link; /* newest header's address + 8, or 0 */
} FloorStack;

EXPORT FloorStack *floor_stack_new(int64_t capacity)
{
    FloorStack *s = malloc(sizeof *s);
    void *mem = NULL;
    if (!s || posix_memalign(&mem, 16, (size_t)capacity) != 0)
        return NULL;
    s->start = s->top = (uintptr_t)mem;
    s->end = s->start + (uintptr_t)capacity;
    s->link = 0;
    return s;
}

EXPORT Allocation floor_stack_alloc(FloorStack *s, Layout l)
{
    uintptr_t a = (uintptr_t)l.align < 8 ? 8 : (uintptr_t)l.align;
    uintptr_t p = (s->top + 8 + a - 1) & ~(a - 1);
    uintptr_t e = p + (uintptr_t)l.size;
    if (e > s->end)
        return (Allocation){0, 0};
    uintptr_t h = (s->top + 7) & ~(uintptr_t)7;
    *(uintptr_t *)h = s->link | (h - s->top);
    s->link = h + 8;
    s->top = e;
    return (Allocation){(int64_t)p, l.size};
}

EXPORT int64_t floor_stack_pop(FloorStack *s)
{
    if (!s->link)
        return -8;
    uintptr_t h = s->link - 8, word = *(uintptr_t *)h;
    s->link = word & ~(uintptr_t)7;
    s->top = h - (word & 7);
    return 0;
}

EXPORT void floor_stack_free(FloorStack *s)
{
    free((void *)s->start);
    free(s);
}

/* ---- general purpose: size classes of 16 B per alignment, no coalescing --
 * The least work a variable-size allocate/free pair takes: pop or push one
 * intrusive list picked by (size / 16, log2 align), bump when it is empty.
 * Sizes above 1024 B are not supported (the workloads never ask). */

#define SC_SIZES 65 /* (size + 15) / 16 for size <= 1024 */
#define SC_ALIGNS 9 /* align 1 .. 256 */

typedef struct FloorClasses {
    void *head[SC_ALIGNS][SC_SIZES];
    uintptr_t cur, end;
    void *mem;
} FloorClasses;

EXPORT FloorClasses *floor_classes_new(int64_t capacity)
{
    FloorClasses *c = calloc(1, sizeof *c);
    void *mem = NULL;
    if (!c || posix_memalign(&mem, 256, (size_t)capacity) != 0)
        return NULL;
    /* Huge pages for big arenas, as libvais_alloc advises its own. */
    if ((size_t)capacity >= HUGE_PAGE * 2) {
        uintptr_t first = ((uintptr_t)mem + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
        uintptr_t end = ((uintptr_t)mem + (size_t)capacity) & ~(uintptr_t)(HUGE_PAGE - 1);
        if (end > first)
            madvise((void *)first, end - first, MADV_HUGEPAGE);
    }
    c->mem = mem;
    c->cur = (uintptr_t)mem;
    c->end = c->cur + (uintptr_t)capacity;
    return c;
}

static inline unsigned align_index(int64_t align)
{
    return align <= 1 ? 0 : 64 - (unsigned)__builtin_clzll((uint64_t)align - 1);
}

EXPORT Allocation floor_classes_alloc(FloorClasses *c, Layout l)
{
    size_t sc = ((size_t)l.size + 15) >> 4;
    if (sc == 0)
        sc = 1;
    void **slot = &c->head[align_index(l.align)][sc];
    void *h = *slot;
    if (h) {
        *slot = *(void **)h;
        return (Allocation){(int64_t)(uintptr_t)h, (int64_t)(sc << 4)};
    }
    uintptr_t a = (uintptr_t)l.align < 16 ? 16 : (uintptr_t)l.align;
    uintptr_t p = (c->cur + a - 1) & ~(a - 1);
    uintptr_t e = p + (sc << 4);
    if (e > c->end)
        return (Allocation){0, 0};
    c->cur = e;
    return (Allocation){(int64_t)p, (int64_t)(sc << 4)};
}

EXPORT void floor_classes_dealloc(FloorClasses *c, int64_t ptr, Layout l)
{
    size_t sc = ((size_t)l.size + 15) >> 4;
    if (sc == 0)
        sc = 1;
    void **slot = &c->head[align_index(l.align)][sc];
    void *b = (void *)(uintptr_t)ptr;
    *(void **)b = *slot;
    *slot = b;
}

EXPORT void floor_classes_free(FloorClasses *c)
{
    free(c->mem);
    free(c);
}

/* ---- global: malloc/free behind one more shared-object call ------------- */

EXPORT Allocation floor_malloc(Layout l)
{
    void *p;
    if (l.align <= 16) {
        p = malloc((size_t)l.size);
    } else if (posix_memalign(&p, (size_t)l.align, (size_t)l.size) != 0) {
        p = NULL;
    }
    return p ? (Allocation){(int64_t)(uintptr_t)p, l.size} : (Allocation){0, 0};
}

EXPORT void floor_free(int64_t ptr, Layout l)
{
    (void)l;
    free((void *)(uintptr_t)ptr);
}
