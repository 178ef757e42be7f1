/* allocator_*: one conformance suite, run over every allocator behind the
 * interface: the five built-in ones, bump arenas and stacks growing from an
 * upstream (the global allocator; a free list), a free list growing from
 * the global allocator, and a user allocator written here.
 *
 * Each subject says how to make a fresh allocator, how to release it, and
 * (where the family has one) a counter of what is in use, so that a check
 * can prove "state unchanged". The subject also says what API.md's table
 * "What each allocator does through it" promises for it; the checks read
 * allocator_caps() and decide from the bits what applies.
 *
 * A check that fails names the subject on the line after its own. */
#include "harness.h"
#include "vais_alloc.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>

#define HUGE_SIZE (INT64_C(1) << 40)
#define ARENA_CAPACITY (INT64_C(1) << 20)
#define POOL_BLOCK 64
#define POOL_BLOCKS 1024

static Layout lay(int64_t size, int64_t align) {
    Layout l = {size, align};
    return l;
}

static void *address(int64_t ptr) { return (void *)(intptr_t)ptr; }

/* ---- the user allocator: malloc / posix_memalign / free, counted -------- */

/* It keeps a registry of its live blocks, so a free with a pointer it never
 * handed out is refused (FOREIGN_POINTER) and a free with another layout
 * than the block's is refused and counted (the library's fallbacks must
 * pass the layout the block was allocated with). */
#define USER_MAX_BLOCKS 128

typedef struct {
    int64_t ptr, size, align;
} UserBlock;

typedef struct {
    int64_t live_blocks;
    int64_t live_bytes; /* sum of layout.size over the live blocks */
    int64_t layout_mismatches;
    UserBlock blocks[USER_MAX_BLOCKS];
} UserHeap;

static Allocation user_alloc(void *ctx, Layout layout) {
    UserHeap *heap = ctx;
    Allocation none = {0, 0};
    if (layout.size < 0 || layout.align < 1 || (layout.align & (layout.align - 1)) != 0)
        return none;
    UserBlock *slot = NULL;
    for (int i = 0; i < USER_MAX_BLOCKS && slot == NULL; i++)
        if (heap->blocks[i].ptr == 0) slot = &heap->blocks[i];
    if (slot == NULL) return none;
    size_t bytes = layout.size > 0 ? (size_t)layout.size : 1;
    void *p = NULL;
    if ((size_t)layout.align <= alignof(max_align_t)) {
        p = malloc(bytes);
    } else if (posix_memalign(&p, (size_t)layout.align, bytes) != 0) {
        p = NULL;
    }
    if (p == NULL) return none;
    slot->ptr = (int64_t)(intptr_t)p;
    slot->size = layout.size;
    slot->align = layout.align;
    heap->live_blocks++;
    heap->live_bytes += layout.size;
    Allocation block = {slot->ptr, layout.size};
    return block;
}

static int64_t user_free(void *ctx, int64_t ptr, Layout layout) {
    UserHeap *heap = ctx;
    for (int i = 0; i < USER_MAX_BLOCKS; i++) {
        UserBlock *b = &heap->blocks[i];
        if (b->ptr == 0 || b->ptr != ptr) continue;
        if (b->size != layout.size || b->align != layout.align) {
            heap->layout_mismatches++;
            return VAIS_ALLOC_E_INVALID_LAYOUT;
        }
        free(address(ptr));
        heap->live_blocks--;
        heap->live_bytes -= b->size;
        b->ptr = 0;
        return 0;
    }
    return VAIS_ALLOC_E_FOREIGN_POINTER;
}

/* alloc_zeroed, resize, realloc and reset are NULL: the library's
 * fallbacks serve them (zero fill; UNSUPPORTED; alloc + copy + free;
 * UNSUPPORTED). */
static const VaisAllocatorVtable user_vtable = {
    .version = VAIS_ALLOCATOR_VTABLE_VERSION,
    .caps = VAIS_ALLOC_CAP_FREE | VAIS_ALLOC_CAP_ANY_SIZE | VAIS_ALLOC_CAP_ANY_ALIGN,
    .alloc = user_alloc,
    .alloc_zeroed = NULL,
    .resize = NULL,
    .realloc = NULL,
    .free = user_free,
    .reset = NULL,
};

/* ---- subjects ------------------------------------------------------------ */

/* How a free is reclaimed, where the caps' FREE / FREE_LAST do not say it
 * all (API.md's table). */
typedef enum {
    FREES_ANY,   /* any block, at once (global, pool, free list, user) */
    FREES_BUMP,  /* the newest rolls back; others wait for the reset */
    FREES_STACK, /* the newest pops; older ones die and pop with it */
} FreeRule;

/* What allocator_resize does (API.md's table). */
typedef enum {
    RESIZE_NEVER,        /* no resize entry: UNSUPPORTED (user) */
    RESIZE_SHRINKS,      /* shrinks; grows only into the system's slack (global) */
    RESIZE_LAST_GROWS,   /* the newest block grows while there is room */
    RESIZE_WITHIN_BLOCK, /* any size up to the block size (pool) */
} ResizeRule;

struct Subject;

typedef struct {
    const struct Subject *subject;
    VaisAllocator a;
    void *handle; /* the family's handle, the user's heap, or NULL (global) */
    void *upstream; /* an upstream the subject owns (a free list), or NULL */
    int64_t caps; /* allocator_caps(a) */
} Instance;

typedef struct Subject {
    const char *name;
    void (*create)(Instance *in); /* sets handle and a */
    void (*destroy)(Instance *in);
    int64_t (*in_use)(const Instance *in); /* NULL: the family has no counter */
    VaisAllocator (*view)(void *handle);   /* the *_as_allocator getter, or NULL */
    int64_t caps;                          /* what API.md documents */
    int64_t max_size;                      /* without ANY_SIZE: the block size */
    int64_t max_align;                     /* without ANY_ALIGN: the block alignment */
    int64_t huge_error;                    /* a request for HUGE_SIZE bytes */
    int builtin;                           /* rule 1 holds through the interface */
    int refuses_foreign;                   /* a free of an address never handed out */
    int refuses_interior_and_double;       /* block + 8, a second free */
    FreeRule free_rule;
    ResizeRule resize_rule;
    /* RESIZE_LAST_GROWS: the size the third small block of a fresh
     * allocator can grow to in place (0: 2000). */
    int64_t last_grows_to;
} Subject;

static void create_global(Instance *in) {
    in->handle = NULL;
    in->a = global_as_allocator();
}
static void destroy_global(Instance *in) { (void)in; }

static VaisAllocator view_bump(void *h) { return bump_as_allocator((BumpAllocator *)h); }
static void create_bump(Instance *in) {
    in->handle = bump_new(ARENA_CAPACITY);
    in->a = view_bump(in->handle);
}
static void destroy_bump(Instance *in) { CHECK_EQ(bump_free(in->handle), 0); }
static int64_t in_use_bump(const Instance *in) { return bump_remaining(in->handle); }

/* Bump arenas growing from an upstream. Their remaining bytes change as
 * chunks come and go, so what they count is remaining - capacity: minus
 * the bytes used (padding and the unused ends of earlier chunks
 * included), 0 when empty and after a reset (which keeps one chunk). */
#define FREELIST_UPSTREAM_CAPACITY (INT64_C(1) << 22)
#define GROWING_OWN_BUFFER 256

static void create_bump_from_global(Instance *in) {
    in->handle = bump_new(0);
    CHECK(in->handle != NULL);
    if (in->handle == NULL) return;
    CHECK_EQ(bump_set_upstream(in->handle, global_as_allocator(), 4096), 0);
    in->a = view_bump(in->handle);
}
static int64_t in_use_growing_bump(const Instance *in) {
    return bump_remaining(in->handle) - bump_capacity(in->handle);
}

/* The free list a subject growing out of a free list owns: made first,
 * and released last, when it must hold nothing (the subject gave every
 * chunk back). */
static int make_freelist_upstream(Instance *in) {
    in->upstream = freelist_new(FREELIST_UPSTREAM_CAPACITY);
    CHECK(in->upstream != NULL);
    return in->upstream != NULL;
}
static void release_freelist_upstream(Instance *in) {
    if (in->upstream == NULL) return;
    CHECK_EQ(freelist_total_allocated(in->upstream), 0);
    CHECK_EQ(freelist_free(in->upstream), 0);
    in->upstream = NULL;
}

static void create_bump_from_freelist(Instance *in) {
    if (!make_freelist_upstream(in)) return;
    in->handle = bump_new(GROWING_OWN_BUFFER);
    CHECK(in->handle != NULL);
    if (in->handle == NULL) {
        release_freelist_upstream(in);
        return;
    }
    CHECK_EQ(bump_set_upstream(in->handle, freelist_as_allocator(in->upstream), 4096), 0);
    in->a = view_bump(in->handle);
}
static void destroy_bump_from_freelist(Instance *in) {
    CHECK_EQ(bump_free(in->handle), 0);
    release_freelist_upstream(in);
}

static VaisAllocator view_pool(void *h) { return pool_as_allocator((PoolAllocator *)h); }
static void create_pool(Instance *in) {
    in->handle = pool_new(POOL_BLOCK, POOL_BLOCKS);
    in->a = view_pool(in->handle);
}
static void destroy_pool(Instance *in) { CHECK_EQ(pool_free(in->handle), 0); }
static int64_t in_use_pool(const Instance *in) { return pool_num_allocated(in->handle); }

static VaisAllocator view_freelist(void *h) {
    return freelist_as_allocator((FreeListAllocator *)h);
}
static void create_freelist(Instance *in) {
    in->handle = freelist_new(ARENA_CAPACITY);
    in->a = view_freelist(in->handle);
}
static void destroy_freelist(Instance *in) { CHECK_EQ(freelist_free(in->handle), 0); }
static int64_t in_use_freelist(const Instance *in) {
    return freelist_total_allocated(in->handle);
}

/* A free list growing by regions from the global allocator: a small own
 * buffer, so that most checks run over chunks too. */
static void create_freelist_from_global(Instance *in) {
    in->handle = freelist_new(GROWING_OWN_BUFFER);
    CHECK(in->handle != NULL);
    if (in->handle == NULL) return;
    CHECK_EQ(freelist_set_upstream(in->handle, global_as_allocator(), 4096), 0);
    in->a = view_freelist(in->handle);
}

static VaisAllocator view_stack(void *h) { return stack_as_allocator((StackAllocator *)h); }
static void create_stack(Instance *in) {
    in->handle = stack_new(ARENA_CAPACITY);
    in->a = view_stack(in->handle);
}
static void destroy_stack(Instance *in) { CHECK_EQ(stack_free(in->handle), 0); }
static int64_t in_use_stack(const Instance *in) { return stack_remaining(in->handle); }

/* Stacks growing from an upstream, counted as the growing bump arenas are:
 * remaining - capacity, minus the bytes used (headers, gaps and the unused
 * ends of earlier chunks included), 0 when empty and after a reset (which
 * keeps one chunk, held beyond the own buffer). */
static void create_stack_from_global(Instance *in) {
    in->handle = stack_new(0);
    CHECK(in->handle != NULL);
    if (in->handle == NULL) return;
    CHECK_EQ(stack_set_upstream(in->handle, global_as_allocator(), 4096), 0);
    in->a = view_stack(in->handle);
}
static int64_t in_use_growing_stack(const Instance *in) {
    return stack_remaining(in->handle) - stack_capacity(in->handle);
}

static void create_stack_from_freelist(Instance *in) {
    if (!make_freelist_upstream(in)) return;
    in->handle = stack_new(GROWING_OWN_BUFFER);
    CHECK(in->handle != NULL);
    if (in->handle == NULL) {
        release_freelist_upstream(in);
        return;
    }
    CHECK_EQ(stack_set_upstream(in->handle, freelist_as_allocator(in->upstream), 4096), 0);
    in->a = view_stack(in->handle);
}
static void destroy_stack_from_freelist(Instance *in) {
    CHECK_EQ(stack_free(in->handle), 0);
    release_freelist_upstream(in);
}

static void create_user(Instance *in) {
    UserHeap *heap = calloc(1, sizeof *heap);
    CHECK(heap != NULL);
    in->handle = heap;
    in->a.ctx = heap;
    in->a.vtable = heap ? &user_vtable : NULL;
}
/* Every block the library took from the user allocator went back to it,
 * with its own layout; what a failed check left behind is released too. */
static void destroy_user(Instance *in) {
    UserHeap *heap = in->handle;
    if (heap == NULL) return;
    CHECK_EQ(heap->live_blocks, 0);
    CHECK_EQ(heap->live_bytes, 0);
    CHECK_EQ(heap->layout_mismatches, 0);
    for (int i = 0; i < USER_MAX_BLOCKS; i++)
        if (heap->blocks[i].ptr != 0) free(address(heap->blocks[i].ptr));
    free(heap);
}
/* Live blocks in the high bits, live bytes in the low 40. */
static int64_t in_use_user(const Instance *in) {
    const UserHeap *heap = in->handle;
    return heap->live_blocks * (INT64_C(1) << 40) + heap->live_bytes;
}

#define CAPS_ANY (VAIS_ALLOC_CAP_ANY_SIZE | VAIS_ALLOC_CAP_ANY_ALIGN)

static const Subject subjects[] = {
    {
        .name = "global",
        .create = create_global,
        .destroy = destroy_global,
        .caps = VAIS_ALLOC_CAP_FREE | VAIS_ALLOC_CAP_RESIZE | CAPS_ANY | VAIS_ALLOC_CAP_GROWS |
                VAIS_ALLOC_CAP_THREAD_SAFE,
        .max_align = 4096,
        .huge_error = VAIS_ALLOC_E_OUT_OF_MEMORY,
        .builtin = 1,
        .free_rule = FREES_ANY,
        .resize_rule = RESIZE_SHRINKS,
    },
    {
        .name = "bump",
        .create = create_bump,
        .destroy = destroy_bump,
        .in_use = in_use_bump,
        .view = view_bump,
        .caps = VAIS_ALLOC_CAP_FREE_LAST | VAIS_ALLOC_CAP_RESIZE | VAIS_ALLOC_CAP_RESET | CAPS_ANY,
        .max_align = 4096,
        .huge_error = VAIS_ALLOC_E_EXHAUSTED,
        .builtin = 1,
        .refuses_foreign = 1,
        .free_rule = FREES_BUMP,
        .resize_rule = RESIZE_LAST_GROWS,
    },
    {
        .name = "bump growing from global",
        .create = create_bump_from_global,
        .destroy = destroy_bump,
        .in_use = in_use_growing_bump,
        .view = view_bump,
        .caps = VAIS_ALLOC_CAP_FREE_LAST | VAIS_ALLOC_CAP_RESIZE | VAIS_ALLOC_CAP_RESET | CAPS_ANY |
                VAIS_ALLOC_CAP_GROWS,
        .max_align = 4096,
        .huge_error = VAIS_ALLOC_E_OUT_OF_MEMORY, /* the upstream refuses the chunk */
        .builtin = 1,
        .refuses_foreign = 1,
        .free_rule = FREES_BUMP,
        .resize_rule = RESIZE_LAST_GROWS,
    },
    {
        .name = "bump growing from a free list",
        .create = create_bump_from_freelist,
        .destroy = destroy_bump_from_freelist,
        .in_use = in_use_growing_bump,
        .view = view_bump,
        .caps = VAIS_ALLOC_CAP_FREE_LAST | VAIS_ALLOC_CAP_RESIZE | VAIS_ALLOC_CAP_RESET | CAPS_ANY |
                VAIS_ALLOC_CAP_GROWS,
        .max_align = 4096,
        .huge_error = VAIS_ALLOC_E_OUT_OF_MEMORY, /* the upstream refuses the chunk */
        .builtin = 1,
        .refuses_foreign = 1,
        .free_rule = FREES_BUMP,
        .resize_rule = RESIZE_LAST_GROWS,
        /* The blocks sit at 0, 32 and 72 of its 256-byte own buffer, and a
         * resize never moves to a chunk. */
        .last_grows_to = GROWING_OWN_BUFFER - 72,
    },
    {
        .name = "pool",
        .create = create_pool,
        .destroy = destroy_pool,
        .in_use = in_use_pool,
        .view = view_pool,
        .caps = VAIS_ALLOC_CAP_FREE | VAIS_ALLOC_CAP_RESET,
        .max_size = POOL_BLOCK,
        .max_align = 16,
        .huge_error = VAIS_ALLOC_E_UNSUPPORTED,
        .builtin = 1,
        .refuses_foreign = 1,
        .refuses_interior_and_double = 1,
        .free_rule = FREES_ANY,
        .resize_rule = RESIZE_WITHIN_BLOCK,
    },
    {
        .name = "freelist",
        .create = create_freelist,
        .destroy = destroy_freelist,
        .in_use = in_use_freelist,
        .view = view_freelist,
        .caps = VAIS_ALLOC_CAP_FREE | VAIS_ALLOC_CAP_RESIZE | VAIS_ALLOC_CAP_RESET | CAPS_ANY,
        .max_align = 4096,
        .huge_error = VAIS_ALLOC_E_EXHAUSTED,
        .builtin = 1,
        .refuses_foreign = 1,
        .refuses_interior_and_double = 1,
        .free_rule = FREES_ANY,
        .resize_rule = RESIZE_LAST_GROWS,
    },
    {
        .name = "freelist growing from global",
        .create = create_freelist_from_global,
        .destroy = destroy_freelist,
        .in_use = in_use_freelist,
        .view = view_freelist,
        .caps = VAIS_ALLOC_CAP_FREE | VAIS_ALLOC_CAP_RESIZE | VAIS_ALLOC_CAP_RESET | CAPS_ANY |
                VAIS_ALLOC_CAP_GROWS,
        .max_align = 4096,
        /* No region can hold it: refused before the upstream is asked. */
        .huge_error = VAIS_ALLOC_E_EXHAUSTED,
        .builtin = 1,
        .refuses_foreign = 1,
        .refuses_interior_and_double = 1,
        .free_rule = FREES_ANY,
        .resize_rule = RESIZE_LAST_GROWS,
        /* The witness and the two blocks sit at 0, 48 and 96 of its
         * 256-byte own buffer: the newest, shrunk to a 32-byte block, grows
         * to the end of the buffer, and a resize never moves to a chunk. */
        .last_grows_to = GROWING_OWN_BUFFER - 104,
    },
    {
        .name = "stack",
        .create = create_stack,
        .destroy = destroy_stack,
        .in_use = in_use_stack,
        .view = view_stack,
        .caps = VAIS_ALLOC_CAP_FREE_LAST | VAIS_ALLOC_CAP_RESIZE | VAIS_ALLOC_CAP_RESET | CAPS_ANY,
        .max_align = 4096,
        .huge_error = VAIS_ALLOC_E_EXHAUSTED,
        .builtin = 1,
        .refuses_foreign = 1,
        .free_rule = FREES_STACK,
        .resize_rule = RESIZE_LAST_GROWS,
    },
    {
        .name = "stack growing from global",
        .create = create_stack_from_global,
        .destroy = destroy_stack,
        .in_use = in_use_growing_stack,
        .view = view_stack,
        .caps = VAIS_ALLOC_CAP_FREE_LAST | VAIS_ALLOC_CAP_RESIZE | VAIS_ALLOC_CAP_RESET | CAPS_ANY |
                VAIS_ALLOC_CAP_GROWS,
        .max_align = 4096,
        .huge_error = VAIS_ALLOC_E_EXHAUSTED, /* a push above 1 GiB, never asked upstream */
        .builtin = 1,
        .refuses_foreign = 1,
        .free_rule = FREES_STACK,
        .resize_rule = RESIZE_LAST_GROWS,
    },
    {
        .name = "stack growing from a free list",
        .create = create_stack_from_freelist,
        .destroy = destroy_stack_from_freelist,
        .in_use = in_use_growing_stack,
        .view = view_stack,
        .caps = VAIS_ALLOC_CAP_FREE_LAST | VAIS_ALLOC_CAP_RESIZE | VAIS_ALLOC_CAP_RESET | CAPS_ANY |
                VAIS_ALLOC_CAP_GROWS,
        .max_align = 4096,
        .huge_error = VAIS_ALLOC_E_EXHAUSTED, /* a push above 1 GiB, never asked upstream */
        .builtin = 1,
        .refuses_foreign = 1,
        .free_rule = FREES_STACK,
        .resize_rule = RESIZE_LAST_GROWS,
        /* The payloads sit at 16, 64 and 112 of its 256-byte own buffer,
         * and a resize never moves to a chunk. */
        .last_grows_to = GROWING_OWN_BUFFER - 112,
    },
    {
        .name = "user",
        .create = create_user,
        .destroy = destroy_user,
        .in_use = in_use_user,
        .caps = VAIS_ALLOC_CAP_FREE | CAPS_ANY,
        .max_align = 4096,
        .huge_error = VAIS_ALLOC_E_OUT_OF_MEMORY,
        .refuses_foreign = 1,
        .free_rule = FREES_ANY,
        .resize_rule = RESIZE_NEVER,
    },
};

#define SUBJECT_COUNT ((int)(sizeof subjects / sizeof subjects[0]))

/* Runs `check` for every subject; a subject whose run failed is named. */
static void for_each_subject(void (*check)(const Subject *s)) {
    int failed = harness_current_failed;
    for (int i = 0; i < SUBJECT_COUNT; i++) {
        harness_current_failed = 0;
        check(&subjects[i]);
        if (harness_current_failed) {
            fprintf(stderr, "  ^ subject: %s\n", subjects[i].name);
            failed = 1;
        }
    }
    harness_current_failed = failed;
}

/* A fresh allocator of the subject, its caps read (and compared with the
 * documented ones). Returns 0 when there is none to test. */
static int open_subject(const Subject *s, Instance *in) {
    in->subject = s;
    in->handle = NULL;
    in->upstream = NULL;
    in->a.ctx = NULL;
    in->a.vtable = NULL;
    s->create(in);
    CHECK(in->a.vtable != NULL);
    if (in->a.vtable == NULL) {
        if (in->handle != NULL) s->destroy(in);
        return 0;
    }
    in->caps = allocator_caps(in->a);
    CHECK_EQ(in->caps, s->caps);
    return 1;
}

static void close_subject(Instance *in) { in->subject->destroy(in); }

static int64_t in_use(const Instance *in) {
    return in->subject->in_use ? in->subject->in_use(in) : 0;
}

static int has(const Instance *in, int64_t cap) { return (in->caps & cap) != 0; }

/* The largest size and alignment the allocator serves (per its caps). */
static int64_t size_limit(const Instance *in) {
    return has(in, VAIS_ALLOC_CAP_ANY_SIZE) ? INT64_MAX : in->subject->max_size;
}
static int64_t align_limit(const Instance *in) {
    return has(in, VAIS_ALLOC_CAP_ANY_ALIGN) ? 4096 : in->subject->max_align;
}
static int64_t cap_size(const Instance *in, int64_t size) {
    return size < size_limit(in) ? size : size_limit(in);
}

/* The in-use counter once everything allocated was freed: a bump arena
 * reclaims older blocks only at its reset. */
static int64_t settled_in_use(Instance *in) {
    if (in->subject->free_rule == FREES_BUMP) CHECK_EQ(allocator_reset(in->a), 0);
    return in_use(in);
}

/* Frees blocks[0..n) with their layouts: newest first where only the
 * newest is reclaimed at once (FREE_LAST), oldest first otherwise. */
static void free_all(const Instance *in, const Allocation *blocks, const Layout *layouts, int n) {
    int newest_first = has(in, VAIS_ALLOC_CAP_FREE_LAST);
    for (int k = 0; k < n; k++) {
        int i = newest_first ? n - 1 - k : k;
        CHECK_EQ(allocator_free(in->a, blocks[i].ptr, layouts[i]), 0);
    }
}

/* A live block whose pattern proves that a refused call disturbed
 * nothing already allocated. {32, 16}: INT64_MAX bytes at its alignment
 * overflow. */
typedef struct {
    Allocation block;
    Layout layout;
    unsigned seed;
} Witness;

static Witness witness_new(const Instance *in, unsigned seed) {
    Witness w = {{0, 0}, lay(32, 16), seed};
    w.block = allocator_alloc(in->a, w.layout);
    CHECK_NE(w.block.ptr, 0);
    CHECK_GE(w.block.size, 32);
    if (w.block.ptr != 0) fill_pattern(w.block.ptr, w.block.size, seed);
    return w;
}

static int witness_intact(const Witness *w) {
    return w->block.ptr != 0 && pattern_intact(w->block.ptr, w->block.size, w->seed);
}

static void witness_free(const Instance *in, const Witness *w) {
    if (w->block.ptr != 0) CHECK_EQ(allocator_free(in->a, w->block.ptr, w->layout), 0);
}

/* State unchanged: the counter as it was, the witness intact. */
#define CHECK_UNCHANGED(in, before, w)                                    \
    do {                                                                  \
        CHECK_EQ(in_use(in), (before));                                   \
        CHECK(witness_intact(w));                                         \
    } while (0)

/* ---- 0. caps: as documented ------------------------------------------------ */

static void check_caps_documented(const Subject *s) {
    Instance in;
    if (!open_subject(s, &in)) return; /* open_subject compares the caps */
    vais_alloc_clear_error();
    CHECK_EQ(allocator_caps(in.a), s->caps);
    CHECK_EQ(vais_alloc_last_error(), 0);
    close_subject(&in);
}

TEST(conformance_caps_are_the_documented_ones) { for_each_subject(check_caps_documented); }

/* ---- 1. alignment ----------------------------------------------------------- */

static void check_alignment(const Subject *s) {
    static const int64_t sizes[] = {0, 1, 24, 64, 100};
    enum { SIZES = sizeof sizes / sizeof sizes[0] };
    Instance in;
    if (!open_subject(s, &in)) return;
    int64_t start = in_use(&in);
    for (int64_t align = 1; align <= align_limit(&in); align *= 2) {
        Allocation blocks[SIZES];
        Layout layouts[SIZES];
        int n = 0;
        for (int i = 0; i < SIZES; i++) {
            if (sizes[i] > size_limit(&in)) continue;
            Layout l = lay(sizes[i], align);
            Allocation b = allocator_alloc(in.a, l);
            CHECK_NE(b.ptr, 0);
            CHECK_EQ(b.ptr % align, 0);
            CHECK_GE(b.size, l.size);
            if (b.ptr == 0) continue;
            memset(address(b.ptr), 0xC3, (size_t)b.size);
            blocks[n] = b;
            layouts[n] = l;
            n++;
        }
        free_all(&in, blocks, layouts, n);
    }
    CHECK_EQ(settled_in_use(&in), start);
    close_subject(&in);
}

TEST(conformance_alignment_is_real_for_every_power_of_two) { for_each_subject(check_alignment); }

/* ---- 2. disjoint live blocks --------------------------------------------- */

#define DISJOINT_BLOCKS 50

static void check_disjoint(const Subject *s) {
    Instance in;
    if (!open_subject(s, &in)) return;
    int64_t start = in_use(&in);
    Allocation blocks[DISJOINT_BLOCKS];
    Layout layouts[DISJOINT_BLOCKS];
    int n = 0;
    for (int i = 0; i < DISJOINT_BLOCKS; i++) {
        int64_t size = i % 10 == 0 ? 0 : 1 + (i * 53) % cap_size(&in, 300);
        int64_t align = INT64_C(1) << (i % 5);
        if (align > align_limit(&in)) align = align_limit(&in);
        Layout l = lay(size, align);
        Allocation b = allocator_alloc(in.a, l);
        CHECK_NE(b.ptr, 0);
        CHECK_EQ(b.ptr % align, 0);
        CHECK_GE(b.size, size);
        if (b.ptr == 0) continue;
        fill_pattern(b.ptr, b.size, (unsigned)i + 1);
        blocks[n] = b;
        layouts[n] = l;
        n++;
    }
    /* A zero-size block still owns its address (rule 5: a unique pointer). */
    for (int i = 0; i < n; i++) {
        int64_t end_i = blocks[i].ptr + (blocks[i].size > 0 ? blocks[i].size : 1);
        for (int j = 0; j < i; j++) {
            int64_t end_j = blocks[j].ptr + (blocks[j].size > 0 ? blocks[j].size : 1);
            if (blocks[i].ptr < end_j && blocks[j].ptr < end_i)
                HARNESS_FAIL("blocks %d [%" PRId64 ", +%" PRId64 ") and %d [%" PRId64
                             ", +%" PRId64 ") overlap",
                             j, blocks[j].ptr, blocks[j].size, i, blocks[i].ptr, blocks[i].size);
        }
    }
    for (int i = 0; i < n; i++) CHECK(pattern_intact(blocks[i].ptr, blocks[i].size, (unsigned)i + 1));
    free_all(&in, blocks, layouts, n);
    CHECK_EQ(settled_in_use(&in), start);
    close_subject(&in);
}

TEST(conformance_live_blocks_are_disjoint) { for_each_subject(check_disjoint); }

/* ---- 3. zeroed ----------------------------------------------------------- */

static void check_zeroed(const Subject *s) {
    Instance in;
    if (!open_subject(s, &in)) return;
    int64_t start = in_use(&in);
    Layout l = lay(48, 16);
    for (int round = 0; round < 3; round++) {
        Allocation dirty = allocator_alloc(in.a, l);
        CHECK_NE(dirty.ptr, 0);
        if (dirty.ptr == 0) break;
        memset(address(dirty.ptr), 0xAA, (size_t)dirty.size);
        CHECK_EQ(allocator_free(in.a, dirty.ptr, l), 0);

        Allocation zero = allocator_alloc_zeroed(in.a, l);
        CHECK_NE(zero.ptr, 0);
        CHECK_GE(zero.size, l.size);
        CHECK_EQ(zero.ptr % l.align, 0);
        if (zero.ptr == 0) break;
        const unsigned char *p = address(zero.ptr);
        int64_t nonzero = 0;
        for (int64_t i = 0; i < zero.size; i++) nonzero += p[i] != 0;
        CHECK_EQ(nonzero, 0);
        CHECK_EQ(allocator_free(in.a, zero.ptr, l), 0);
    }
    /* A zero-size zeroed request succeeds too (rule 5). */
    Allocation empty = allocator_alloc_zeroed(in.a, lay(0, 8));
    CHECK_NE(empty.ptr, 0);
    CHECK_EQ(empty.ptr % 8, 0);
    CHECK_EQ(allocator_free(in.a, empty.ptr, lay(0, 8)), 0);
    CHECK_EQ(settled_in_use(&in), start);
    close_subject(&in);
}

TEST(conformance_alloc_zeroed_gives_zero_bytes) { for_each_subject(check_zeroed); }

/* ---- 4. realloc ---------------------------------------------------------- */

static void check_realloc(const Subject *s) {
    Instance in;
    if (!open_subject(s, &in)) return;
    int64_t start = in_use(&in);
    const unsigned seed = 40;

    Layout old = lay(40, 8);
    Allocation b = allocator_alloc(in.a, old);
    CHECK_NE(b.ptr, 0);
    if (b.ptr == 0) goto out;
    fill_pattern(b.ptr, 40, seed);

    /* Grow to 4000: a fixed-size allocator never serves that. */
    int64_t grown_size = 4000;
    if (grown_size > size_limit(&in)) {
        int64_t before = in_use(&in);
        CHECK_ALLOC_FAILS(allocator_realloc(in.a, b.ptr, old, lay(4000, 8)),
                          VAIS_ALLOC_E_UNSUPPORTED);
        CHECK_EQ(in_use(&in), before);
        CHECK(pattern_intact(b.ptr, 40, seed));
        grown_size = size_limit(&in);
    }
    Layout grown = lay(grown_size, 8);
    Allocation g = allocator_realloc(in.a, b.ptr, old, grown);
    CHECK_NE(g.ptr, 0);
    if (g.ptr == 0) {
        CHECK_EQ(allocator_free(in.a, b.ptr, old), 0);
        goto out;
    }
    CHECK_EQ(g.ptr % 8, 0);
    CHECK_GE(g.size, grown_size);
    CHECK(pattern_intact(g.ptr, 40, seed));
    fill_pattern(g.ptr, grown_size, seed);

    /* Shrink to 10. */
    Layout shrunk = lay(10, 8);
    Allocation t = allocator_realloc(in.a, g.ptr, grown, shrunk);
    CHECK_NE(t.ptr, 0);
    if (t.ptr == 0) {
        CHECK_EQ(allocator_free(in.a, g.ptr, grown), 0);
        goto out;
    }
    CHECK_GE(t.size, 10);
    CHECK(pattern_intact(t.ptr, 10, seed));

    /* To a stricter alignment: honoured (rule 3), contents kept. */
    Layout realigned = lay(cap_size(&in, 100), align_limit(&in) < 256 ? align_limit(&in) : 256);
    Allocation r = allocator_realloc(in.a, t.ptr, shrunk, realigned);
    CHECK_NE(r.ptr, 0);
    if (r.ptr == 0) {
        CHECK_EQ(allocator_free(in.a, t.ptr, shrunk), 0);
        goto out;
    }
    CHECK_EQ(r.ptr % realigned.align, 0);
    CHECK_GE(r.size, realigned.size);
    CHECK(pattern_intact(r.ptr, 10, seed));
    t = r;
    shrunk = realigned;

    /* A realloc that cannot succeed leaves the block and the allocator. */
    int64_t before = in_use(&in);
    CHECK_ALLOC_FAILS(allocator_realloc(in.a, t.ptr, shrunk, lay(HUGE_SIZE, 8)), s->huge_error);
    CHECK_EQ(in_use(&in), before);
    CHECK(pattern_intact(t.ptr, 10, seed));
    CHECK_ALLOC_FAILS(allocator_alloc(in.a, lay(HUGE_SIZE, 8)), s->huge_error);
    CHECK_ALLOC_FAILS(allocator_alloc_zeroed(in.a, lay(HUGE_SIZE, 8)), s->huge_error);
    CHECK_EQ(in_use(&in), before);
    CHECK(pattern_intact(t.ptr, 10, seed));

    /* ptr 0 acts as alloc. */
    Allocation fresh = allocator_realloc(in.a, 0, lay(0, 1), lay(32, 8));
    CHECK_NE(fresh.ptr, 0);
    CHECK_EQ(fresh.ptr % 8, 0);
    CHECK_GE(fresh.size, 32);
    if (fresh.ptr != 0) {
        CHECK(fresh.ptr != t.ptr);
        fill_pattern(fresh.ptr, 32, 77);
        CHECK(pattern_intact(t.ptr, 10, seed));
        CHECK(pattern_intact(fresh.ptr, 32, 77));
        CHECK_EQ(allocator_free(in.a, fresh.ptr, lay(32, 8)), 0);
    }
    CHECK(pattern_intact(t.ptr, 10, seed));
    CHECK_EQ(allocator_free(in.a, t.ptr, shrunk), 0);
out:
    CHECK_EQ(settled_in_use(&in), start);
    close_subject(&in);
}

TEST(conformance_realloc_preserves_contents) { for_each_subject(check_realloc); }

/* ---- 5. resize in place -------------------------------------------------- */

static void check_resize(const Subject *s) {
    Instance in;
    if (!open_subject(s, &in)) return;
    int64_t start = in_use(&in);
    Witness w = witness_new(&in, 5);
    Layout l = lay(40, 8);
    Allocation older = allocator_alloc(in.a, l);
    Allocation newest = allocator_alloc(in.a, l);
    CHECK_NE(older.ptr, 0);
    CHECK_NE(newest.ptr, 0);
    if (older.ptr == 0 || newest.ptr == 0) goto out;
    fill_pattern(older.ptr, 40, 51);
    fill_pattern(newest.ptr, 40, 52);
    Layout newest_now = l, older_now = l;

    if (!has(&in, VAIS_ALLOC_CAP_RESIZE) && s->resize_rule == RESIZE_NEVER) {
        int64_t before = in_use(&in);
        CHECK_STATUS_FAILS(allocator_resize(in.a, newest.ptr, l, 200), VAIS_ALLOC_E_UNSUPPORTED);
        CHECK_STATUS_FAILS(allocator_resize(in.a, newest.ptr, l, 20), VAIS_ALLOC_E_UNSUPPORTED);
        CHECK_UNCHANGED(&in, before, &w);
        CHECK(pattern_intact(newest.ptr, 40, 52));
    }

    if (s->resize_rule == RESIZE_WITHIN_BLOCK) {
        /* Any size up to the block size; one more is never served. */
        CHECK_EQ(allocator_resize(in.a, newest.ptr, l, s->max_size), 0);
        CHECK(pattern_intact(newest.ptr, 40, 52));
        newest_now = lay(s->max_size, 8);
        fill_pattern(newest.ptr, s->max_size, 52);
        CHECK_EQ(allocator_resize(in.a, newest.ptr, newest_now, 10), 0);
        newest_now = lay(10, 8);
        CHECK(pattern_intact(newest.ptr, 10, 52));
        int64_t before = in_use(&in);
        CHECK_STATUS_FAILS(allocator_resize(in.a, newest.ptr, newest_now, s->max_size + 1),
                           VAIS_ALLOC_E_UNSUPPORTED);
        CHECK_UNCHANGED(&in, before, &w);
        CHECK(pattern_intact(newest.ptr, 10, 52));
    }

    if (has(&in, VAIS_ALLOC_CAP_RESIZE)) {
        /* Every resizing allocator shrinks its newest block in place. */
        CHECK_EQ(allocator_resize(in.a, newest.ptr, l, 24), 0);
        newest_now = lay(24, 8);
        CHECK(pattern_intact(newest.ptr, 24, 52));
        CHECK(pattern_intact(older.ptr, 40, 51));

        if (s->resize_rule == RESIZE_LAST_GROWS) {
            /* The newest grows while there is room, at the same address. */
            int64_t grow_to = s->last_grows_to ? s->last_grows_to : 2000;
            int64_t before = in_use(&in);
            CHECK_EQ(allocator_resize(in.a, newest.ptr, newest_now, grow_to), 0);
            newest_now = lay(grow_to, 8);
            CHECK(pattern_intact(newest.ptr, 24, 52));
            fill_pattern(newest.ptr, grow_to, 52);
            CHECK(pattern_intact(older.ptr, 40, 51));
            CHECK(witness_intact(&w));
            if (s->in_use) CHECK_NE(in_use(&in), before);

            /* An older block with a live one right after it cannot grow. */
            before = in_use(&in);
            CHECK_STATUS_FAILS(allocator_resize(in.a, older.ptr, l, 40 + 4096),
                               VAIS_ALLOC_E_EXHAUSTED);
            CHECK_UNCHANGED(&in, before, &w);
            CHECK(pattern_intact(older.ptr, 40, 51));
            CHECK(pattern_intact(newest.ptr, grow_to, 52));

            if (s->free_rule == FREES_BUMP) {
                /* An older block shrinks (its bytes wait for the reset). */
                CHECK_EQ(allocator_resize(in.a, older.ptr, l, 16), 0);
                older_now = lay(16, 8);
                CHECK_UNCHANGED(&in, before, &w);
                CHECK(pattern_intact(older.ptr, 16, 51));
                CHECK(pattern_intact(newest.ptr, grow_to, 52));
            }
        }

        /* No allocator has room for this in place. */
        int64_t before = in_use(&in);
        CHECK_STATUS_FAILS(allocator_resize(in.a, newest.ptr, newest_now, HUGE_SIZE),
                           VAIS_ALLOC_E_EXHAUSTED);
        CHECK_UNCHANGED(&in, before, &w);
        CHECK(pattern_intact(newest.ptr, newest_now.size, 52));
        CHECK(pattern_intact(older.ptr, older_now.size, 51));
    }

    if (has(&in, VAIS_ALLOC_CAP_FREE_LAST)) {
        CHECK_EQ(allocator_free(in.a, newest.ptr, newest_now), 0);
        CHECK_EQ(allocator_free(in.a, older.ptr, older_now), 0);
    } else {
        CHECK_EQ(allocator_free(in.a, older.ptr, older_now), 0);
        CHECK_EQ(allocator_free(in.a, newest.ptr, newest_now), 0);
    }
out:
    CHECK(witness_intact(&w));
    witness_free(&in, &w);
    CHECK_EQ(settled_in_use(&in), start);
    close_subject(&in);
}

TEST(conformance_resize_in_place) { for_each_subject(check_resize); }

/* ---- 6. caps honoured ---------------------------------------------------- */

static void check_caps_honoured(const Subject *s) {
    Instance in;
    if (!open_subject(s, &in)) return;
    int64_t start = in_use(&in);
    Witness w = witness_new(&in, 6);
    int64_t before = in_use(&in);

    if (!has(&in, VAIS_ALLOC_CAP_ANY_SIZE)) {
        CHECK_ALLOC_FAILS(allocator_alloc(in.a, lay(s->max_size + 1, 8)), VAIS_ALLOC_E_UNSUPPORTED);
        CHECK_ALLOC_FAILS(allocator_alloc_zeroed(in.a, lay(s->max_size + 1, 8)),
                          VAIS_ALLOC_E_UNSUPPORTED);
        CHECK_UNCHANGED(&in, before, &w);
    }
    if (!has(&in, VAIS_ALLOC_CAP_ANY_ALIGN)) {
        CHECK_ALLOC_FAILS(allocator_alloc(in.a, lay(8, s->max_align * 2)), VAIS_ALLOC_E_UNSUPPORTED);
        CHECK_ALLOC_FAILS(allocator_alloc_zeroed(in.a, lay(8, s->max_align * 2)),
                          VAIS_ALLOC_E_UNSUPPORTED);
        CHECK_ALLOC_FAILS(allocator_realloc(in.a, w.block.ptr, w.layout, lay(8, s->max_align * 2)),
                          VAIS_ALLOC_E_UNSUPPORTED);
        CHECK_UNCHANGED(&in, before, &w);
    }
    if (!has(&in, VAIS_ALLOC_CAP_RESET)) {
        CHECK_STATUS_FAILS(allocator_reset(in.a), VAIS_ALLOC_E_UNSUPPORTED);
        CHECK_UNCHANGED(&in, before, &w);
        witness_free(&in, &w);
    } else {
        for (int i = 0; i < 5; i++) {
            Allocation extra = allocator_alloc(in.a, lay(cap_size(&in, 100), 8));
            CHECK_NE(extra.ptr, 0);
        }
        CHECK_NE(in_use(&in), start);
        CHECK_EQ(allocator_reset(in.a), 0);
        CHECK_EQ(in_use(&in), start);
        /* The allocator works on afterwards. */
        Layout l = lay(cap_size(&in, 48), 16);
        Allocation after = allocator_alloc(in.a, l);
        CHECK_NE(after.ptr, 0);
        CHECK_EQ(after.ptr % 16, 0);
        if (after.ptr != 0) {
            fill_pattern(after.ptr, after.size, 66);
            CHECK(pattern_intact(after.ptr, after.size, 66));
            CHECK_EQ(allocator_free(in.a, after.ptr, l), 0);
        }
    }
    CHECK_EQ(settled_in_use(&in), start);
    close_subject(&in);
}

TEST(conformance_caps_are_honoured) { for_each_subject(check_caps_honoured); }

/* ---- 7. rule-1 refusals through the interface --------------------------- */

static const Layout invalid_layouts[] = {
    {-1, 8},
    {8, 3},
    {8, 0},
    {INT64_MAX, 16},
};
#define INVALID_LAYOUTS ((int)(sizeof invalid_layouts / sizeof invalid_layouts[0]))

static void check_invalid_layouts(const Subject *s) {
    if (!s->builtin) return; /* a user's allocator is trusted */
    Instance in;
    if (!open_subject(s, &in)) return;
    int64_t start = in_use(&in);
    Witness w = witness_new(&in, 7);
    int64_t before = in_use(&in);
    for (int i = 0; i < INVALID_LAYOUTS; i++) {
        Layout bad = invalid_layouts[i];
        CHECK_ALLOC_FAILS(allocator_alloc(in.a, bad), VAIS_ALLOC_E_INVALID_LAYOUT);
        CHECK_ALLOC_FAILS(allocator_alloc_zeroed(in.a, bad), VAIS_ALLOC_E_INVALID_LAYOUT);
        CHECK_ALLOC_FAILS(allocator_realloc(in.a, w.block.ptr, w.layout, bad),
                          VAIS_ALLOC_E_INVALID_LAYOUT);
        CHECK_ALLOC_FAILS(allocator_realloc(in.a, w.block.ptr, bad, lay(16, 8)),
                          VAIS_ALLOC_E_INVALID_LAYOUT);
        CHECK_STATUS_FAILS(allocator_resize(in.a, w.block.ptr, bad, 16),
                           VAIS_ALLOC_E_INVALID_LAYOUT);
        /* The block stays allocated: freeing it properly below is the proof
         * (Valgrind / ASan would see a second release). */
        CHECK_STATUS_FAILS(allocator_free(in.a, w.block.ptr, bad), VAIS_ALLOC_E_INVALID_LAYOUT);
        CHECK_UNCHANGED(&in, before, &w);
    }
    /* A new size that makes the layout invalid. */
    CHECK_STATUS_FAILS(allocator_resize(in.a, w.block.ptr, w.layout, -1),
                       VAIS_ALLOC_E_INVALID_LAYOUT);
    CHECK_STATUS_FAILS(allocator_resize(in.a, w.block.ptr, w.layout, INT64_MAX),
                       VAIS_ALLOC_E_INVALID_LAYOUT);
    CHECK_UNCHANGED(&in, before, &w);
    witness_free(&in, &w);
    CHECK_EQ(settled_in_use(&in), start);
    close_subject(&in);
}

TEST(conformance_invalid_layouts_are_refused) { for_each_subject(check_invalid_layouts); }

static void check_foreign_pointers(const Subject *s) {
    if (!s->refuses_foreign) return; /* global: the caller's duty */
    Instance in;
    if (!open_subject(s, &in)) return;
    int64_t start = in_use(&in);
    Witness w = witness_new(&in, 8);
    int64_t before = in_use(&in);

    /* An address inside a buffer of ours, its bytes defined (an allocator
     * may read what it takes for a header). */
    unsigned char *buffer = malloc(4096);
    CHECK(buffer != NULL);
    if (buffer == NULL) goto out;
    fill_pattern((int64_t)(intptr_t)buffer, 4096, 99);
    int64_t foreign = (int64_t)(intptr_t)(buffer + 512);
    Layout l = lay(32, 16);

    CHECK_STATUS_FAILS(allocator_free(in.a, foreign, l), VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_UNCHANGED(&in, before, &w);
    CHECK_ALLOC_FAILS(allocator_realloc(in.a, foreign, l, lay(64, 16)),
                      VAIS_ALLOC_E_FOREIGN_POINTER);
    CHECK_UNCHANGED(&in, before, &w);
    if (s->resize_rule != RESIZE_NEVER) {
        CHECK_STATUS_FAILS(allocator_resize(in.a, foreign, l, 16), VAIS_ALLOC_E_FOREIGN_POINTER);
        CHECK_UNCHANGED(&in, before, &w);
    }
    CHECK(pattern_intact((int64_t)(intptr_t)buffer, 4096, 99));
    free(buffer);

    if (s->refuses_interior_and_double) {
        /* Inside a live block, not its start. */
        CHECK_STATUS_FAILS(allocator_free(in.a, w.block.ptr + 8, lay(24, 8)),
                           VAIS_ALLOC_E_FOREIGN_POINTER);
        CHECK_UNCHANGED(&in, before, &w);
        CHECK_STATUS_FAILS(allocator_free(in.a, w.block.ptr + 16, lay(16, 16)),
                           VAIS_ALLOC_E_FOREIGN_POINTER);
        CHECK_UNCHANGED(&in, before, &w);
    }
out:
    witness_free(&in, &w);
    CHECK_EQ(settled_in_use(&in), start);
    close_subject(&in);
}

TEST(conformance_foreign_pointers_are_refused) { for_each_subject(check_foreign_pointers); }

/* A second free: DOUBLE_FREE where blocks are freed in any order (the
 * freed block sits between two live ones, so the free list cannot merge
 * it away); a stack's dead block, a bump arena's rolled-back block. */
static void check_double_frees(const Subject *s) {
    if (!s->builtin || !s->in_use) return;
    Instance in;
    if (!open_subject(s, &in)) return;
    int64_t start = in_use(&in);
    Witness w = witness_new(&in, 9);
    Layout l = lay(24, 8);

    if (s->refuses_interior_and_double) {
        Allocation a = allocator_alloc(in.a, l), b = allocator_alloc(in.a, l),
                   c = allocator_alloc(in.a, l);
        CHECK(a.ptr != 0 && b.ptr != 0 && c.ptr != 0);
        fill_pattern(a.ptr, 24, 91);
        fill_pattern(c.ptr, 24, 93);
        CHECK_EQ(allocator_free(in.a, b.ptr, l), 0);
        int64_t before = in_use(&in);
        CHECK_STATUS_FAILS(allocator_free(in.a, b.ptr, l), VAIS_ALLOC_E_DOUBLE_FREE);
        CHECK_UNCHANGED(&in, before, &w);
        CHECK(pattern_intact(a.ptr, 24, 91));
        CHECK(pattern_intact(c.ptr, 24, 93));
        /* b is reusable once, and the live ones are not handed out. */
        Allocation again = allocator_alloc(in.a, l);
        CHECK_NE(again.ptr, 0);
        CHECK(again.ptr != a.ptr && again.ptr != c.ptr);
        CHECK_EQ(allocator_free(in.a, again.ptr, l), 0);
        CHECK_EQ(allocator_free(in.a, a.ptr, l), 0);
        CHECK_EQ(allocator_free(in.a, c.ptr, l), 0);
    }

    if (s->free_rule == FREES_STACK) {
        int64_t before_both = in_use(&in);
        Allocation older = allocator_alloc(in.a, l);
        Allocation newest = allocator_alloc(in.a, l);
        CHECK(older.ptr != 0 && newest.ptr != 0);
        fill_pattern(newest.ptr, 24, 95);
        int64_t with_both = in_use(&in);
        CHECK_LT(with_both, before_both);
        /* The older one dies, and is reclaimed only with the newest. */
        CHECK_EQ(allocator_free(in.a, older.ptr, l), 0);
        CHECK_EQ(in_use(&in), with_both);
        CHECK(pattern_intact(newest.ptr, 24, 95));
        CHECK_STATUS_FAILS(allocator_free(in.a, older.ptr, l), VAIS_ALLOC_E_DOUBLE_FREE);
        CHECK_UNCHANGED(&in, with_both, &w);
        CHECK(pattern_intact(newest.ptr, 24, 95));
        CHECK_EQ(stack_depth(in.handle), 2); /* live: the witness and the newest */
        CHECK_EQ(allocator_free(in.a, newest.ptr, l), 0);
        CHECK_EQ(in_use(&in), before_both);
        CHECK_EQ(stack_depth(in.handle), 1);
        CHECK(witness_intact(&w));
    }

    if (s->free_rule == FREES_BUMP) {
        int64_t r0 = in_use(&in);
        Allocation older = allocator_alloc(in.a, l);
        int64_t r1 = in_use(&in);
        Allocation newest = allocator_alloc(in.a, l);
        int64_t r2 = in_use(&in);
        CHECK(older.ptr != 0 && newest.ptr != 0);
        CHECK_EQ(r1, r0 - 24); /* the witness ends 16-aligned: no padding */
        CHECK_EQ(r2, r1 - 24);
        fill_pattern(newest.ptr, 24, 97);
        /* An older block: 0, nothing reclaimed until the reset. */
        CHECK_EQ(allocator_free(in.a, older.ptr, l), 0);
        CHECK_EQ(in_use(&in), r2);
        CHECK(pattern_intact(newest.ptr, 24, 97));
        /* The newest rolls back; its bytes are handed out again. */
        CHECK_EQ(allocator_free(in.a, newest.ptr, l), 0);
        CHECK_EQ(in_use(&in), r1);
        Allocation same = allocator_alloc(in.a, l);
        CHECK_EQ(same.ptr, newest.ptr);
        CHECK_EQ(in_use(&in), r2);
        CHECK_EQ(allocator_free(in.a, same.ptr, l), 0);
        CHECK_EQ(in_use(&in), r1);
        /* Rolled back, it lies outside the used part. */
        CHECK_STATUS_FAILS(allocator_free(in.a, same.ptr, l), VAIS_ALLOC_E_FOREIGN_POINTER);
        CHECK_UNCHANGED(&in, r1, &w);
    }

    CHECK(witness_intact(&w));
    witness_free(&in, &w);
    CHECK_EQ(settled_in_use(&in), start);
    close_subject(&in);
}

TEST(conformance_double_frees_are_refused) { for_each_subject(check_double_frees); }

/* ---- 8. the interface's own refusals ------------------------------------- */

/* Every allocator_* function refuses `bad` with `code`. */
static void check_all_refuse(VaisAllocator bad, const Witness *w, int64_t code) {
    CHECK_ALLOC_FAILS(allocator_alloc(bad, lay(16, 8)), code);
    CHECK_ALLOC_FAILS(allocator_alloc_zeroed(bad, lay(16, 8)), code);
    CHECK_ALLOC_FAILS(allocator_realloc(bad, w->block.ptr, w->layout, lay(64, 16)), code);
    CHECK_ALLOC_FAILS(allocator_realloc(bad, 0, lay(0, 1), lay(64, 16)), code);
    CHECK_STATUS_FAILS(allocator_resize(bad, w->block.ptr, w->layout, 16), code);
    CHECK_STATUS_FAILS(allocator_free(bad, w->block.ptr, w->layout), code);
    CHECK_STATUS_FAILS(allocator_reset(bad), code);
}

static void check_interface_refusals(const Subject *s) {
    Instance in;
    if (!open_subject(s, &in)) return;
    int64_t start = in_use(&in);
    Witness w = witness_new(&in, 10);
    int64_t before = in_use(&in);

    /* No vtable. */
    VaisAllocator no_vtable = {in.a.ctx, NULL};
    check_all_refuse(no_vtable, &w, VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_STATUS_FAILS(allocator_caps(no_vtable), VAIS_ALLOC_E_NULL_HANDLE);
    CHECK_UNCHANGED(&in, before, &w);

    /* A version this library does not know. */
    static const int64_t versions[] = {0, VAIS_ALLOCATOR_VTABLE_VERSION + 1, 99, -1, INT64_MIN};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        VaisAllocatorVtable odd = *in.a.vtable;
        odd.version = versions[i];
        VaisAllocator bad = {in.a.ctx, &odd};
        check_all_refuse(bad, &w, VAIS_ALLOC_E_INVALID_ARGUMENT);
        CHECK_STATUS_FAILS(allocator_caps(bad), VAIS_ALLOC_E_INVALID_ARGUMENT);
        CHECK_UNCHANGED(&in, before, &w);
    }

    /* The required entries missing. */
    VaisAllocatorVtable partial = *in.a.vtable;
    partial.alloc = NULL;
    partial.free = NULL;
    VaisAllocator no_entries = {in.a.ctx, &partial};
    CHECK_ALLOC_FAILS(allocator_alloc(no_entries, lay(16, 8)), VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_STATUS_FAILS(allocator_free(no_entries, w.block.ptr, w.layout),
                       VAIS_ALLOC_E_INVALID_ARGUMENT);
    CHECK_UNCHANGED(&in, before, &w);

    if (s->view) {
        /* A built-in vtable with no handle behind it. */
        VaisAllocator no_ctx = {NULL, in.a.vtable};
        check_all_refuse(no_ctx, &w, VAIS_ALLOC_E_NULL_HANDLE);
        CHECK_UNCHANGED(&in, before, &w);
        /* The getter of a NULL handle. */
        VaisAllocator none = {&in, &user_vtable};
        CHECK_ERROR(none = s->view(NULL), VAIS_ALLOC_E_NULL_HANDLE);
        CHECK(none.ctx == NULL);
        CHECK(none.vtable == NULL);
        /* The getter of the live handle: the same view again. */
        VaisAllocator again = s->view(in.handle);
        CHECK(again.ctx == in.a.ctx);
        CHECK(again.vtable == in.a.vtable);
    }

    CHECK_UNCHANGED(&in, before, &w);
    witness_free(&in, &w);
    CHECK_EQ(settled_in_use(&in), start);
    close_subject(&in);
}

TEST(conformance_interface_refuses_bad_allocators) { for_each_subject(check_interface_refusals); }

/* A handle of one family through another family's getter or vtable: the
 * getter gives {NULL, NULL}, every call through a hand-built pairing is
 * INVALID_ARGUMENT, and neither allocator changes. */
static void check_wrong_family(const Subject *s) {
    if (!s->view) return;
    Instance in;
    if (!open_subject(s, &in)) return;
    int64_t start = in_use(&in);
    Witness w = witness_new(&in, 11);
    int64_t before = in_use(&in);
    for (int j = 0; j < SUBJECT_COUNT; j++) {
        const Subject *other = &subjects[j];
        /* Another subject of the same family is no wrong family. */
        if (other == s || !other->view || other->view == s->view) continue;
        int failed = harness_current_failed;
        harness_current_failed = 0;
        Instance them;
        if (!open_subject(other, &them)) {
            harness_current_failed |= failed;
            continue;
        }
        Witness their = witness_new(&them, 12);
        int64_t their_before = in_use(&them);

        VaisAllocator none = {&in, &user_vtable};
        CHECK_ERROR(none = other->view(in.handle), VAIS_ALLOC_E_INVALID_ARGUMENT);
        CHECK(none.ctx == NULL);
        CHECK(none.vtable == NULL);

        VaisAllocator mixed = {in.handle, them.a.vtable};
        check_all_refuse(mixed, &w, VAIS_ALLOC_E_INVALID_ARGUMENT);
        /* Their block's address through the mixed pairing too. */
        CHECK_STATUS_FAILS(allocator_free(mixed, their.block.ptr, their.layout),
                           VAIS_ALLOC_E_INVALID_ARGUMENT);

        CHECK_UNCHANGED(&in, before, &w);
        CHECK_UNCHANGED(&them, their_before, &their);
        if (harness_current_failed)
            fprintf(stderr, "  ^ handle: %s, getter / vtable: %s\n", s->name, other->name);
        witness_free(&them, &their);
        close_subject(&them);
        harness_current_failed |= failed;
    }
    witness_free(&in, &w);
    CHECK_EQ(settled_in_use(&in), start);
    close_subject(&in);
}

TEST(conformance_wrong_family_is_refused) { for_each_subject(check_wrong_family); }

/* ---- 9. free of 0 -------------------------------------------------------- */

static void check_free_null(const Subject *s) {
    Instance in;
    if (!open_subject(s, &in)) return;
    Witness w = witness_new(&in, 13);
    int64_t before = in_use(&in);
    vais_alloc_clear_error();
    CHECK_EQ(allocator_free(in.a, 0, lay(16, 8)), 0);
    CHECK_EQ(allocator_free(in.a, 0, w.layout), 0);
    CHECK_EQ(vais_alloc_last_error(), 0);
    CHECK_UNCHANGED(&in, before, &w);
    witness_free(&in, &w);
    close_subject(&in);
}

TEST(conformance_free_of_null_is_a_no_op) { for_each_subject(check_free_null); }
