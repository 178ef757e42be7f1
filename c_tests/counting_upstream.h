/* A counting upstream for the growth tests, written as a user vtable:
 * posix_memalign / free, with a registry of the live chunks (so that a free
 * of anything it never handed out, or with another layout, is refused and
 * counted), counters, and switches to refuse or to serve short chunks. Its
 * alloc_zeroed entry is NULL: an arena that asks for zero-filled chunks
 * (the stack) has the library zero-fill what `alloc` returns, and `alloc`
 * fills every chunk with garbage to make that matter. Functions are static:
 * each test file that includes this has its own copy. */
#ifndef VAIS_ALLOC_COUNTING_UPSTREAM_H
#define VAIS_ALLOC_COUNTING_UPSTREAM_H

#include "harness.h"
#include "vais_alloc.h"

#include <stdlib.h>
#include <string.h>

#define COUNTING_MAX_CHUNKS 256

typedef struct {
    int64_t ptr, size, align;
} CountedChunk;

typedef struct {
    int64_t calls;       /* alloc calls served */
    int64_t refusals;    /* alloc calls refused (switch on, or out of memory) */
    int64_t frees;       /* free calls accepted */
    int64_t live_chunks; /* calls - frees */
    int64_t live_bytes;  /* sum of layout.size over the live chunks */
    int64_t largest;     /* the largest chunk ever served */
    int64_t last_size;   /* the size of the last chunk served */
    int64_t last_ptr;    /* the address of the last chunk served */
    int64_t bad_frees;   /* frees of an unknown pointer or with another layout */
    int refuse;          /* non-zero: every alloc returns {0, 0} */
    int short_by;        /* non-zero: a chunk is served, reporting that many bytes too few */
    int64_t sizes[COUNTING_MAX_CHUNKS]; /* the size of every chunk served, in order */
    CountedChunk live[COUNTING_MAX_CHUNKS];
} Counting;

static Allocation counting_alloc(void *ctx, Layout layout) {
    Counting *up = ctx;
    Allocation none = {0, 0};
    if (up->refuse || layout.size <= 0 || layout.align < 1 ||
        (layout.align & (layout.align - 1)) != 0) {
        up->refusals++;
        return none;
    }
    CountedChunk *slot = NULL;
    for (int i = 0; i < COUNTING_MAX_CHUNKS && slot == NULL; i++)
        if (up->live[i].ptr == 0) slot = &up->live[i];
    if (slot == NULL) {
        up->refusals++;
        return none;
    }
    size_t align = (size_t)layout.align < sizeof(void *) ? sizeof(void *) : (size_t)layout.align;
    void *p = NULL;
    if (posix_memalign(&p, align, (size_t)layout.size) != 0 || p == NULL) {
        up->refusals++;
        return none;
    }
    memset(p, 0xA5, (size_t)layout.size);
    slot->ptr = (int64_t)(intptr_t)p;
    slot->size = layout.size;
    slot->align = layout.align;
    if (up->calls < COUNTING_MAX_CHUNKS) up->sizes[up->calls] = layout.size;
    up->calls++;
    up->live_chunks++;
    up->live_bytes += layout.size;
    up->last_size = layout.size;
    up->last_ptr = slot->ptr;
    if (layout.size > up->largest) up->largest = layout.size;
    Allocation chunk = {slot->ptr, layout.size - up->short_by};
    return chunk;
}

static int64_t counting_free(void *ctx, int64_t ptr, Layout layout) {
    Counting *up = ctx;
    for (int i = 0; i < COUNTING_MAX_CHUNKS; i++) {
        CountedChunk *c = &up->live[i];
        if (c->ptr == 0 || c->ptr != ptr) continue;
        if (c->size != layout.size || c->align != layout.align) {
            up->bad_frees++;
            return VAIS_ALLOC_E_INVALID_LAYOUT;
        }
        free((void *)(intptr_t)ptr);
        c->ptr = 0;
        up->frees++;
        up->live_chunks--;
        up->live_bytes -= layout.size;
        return 0;
    }
    up->bad_frees++;
    return VAIS_ALLOC_E_FOREIGN_POINTER;
}

static const VaisAllocatorVtable counting_vtable = {
    .version = VAIS_ALLOCATOR_VTABLE_VERSION,
    .caps = VAIS_ALLOC_CAP_FREE | VAIS_ALLOC_CAP_ANY_SIZE | VAIS_ALLOC_CAP_ANY_ALIGN,
    .alloc = counting_alloc,
    .alloc_zeroed = NULL,
    .free = counting_free,
};

static VaisAllocator counting_allocator(Counting *up) {
    VaisAllocator a = {up, &counting_vtable};
    return a;
}

static Counting *counting_new(void) {
    Counting *up = calloc(1, sizeof *up);
    CHECK(up != NULL);
    if (up == NULL) abort();
    return up;
}

/* Every chunk went back, with its own layout; frees what a failed check
 * left behind. */
static void counting_done(Counting *up) {
    CHECK_EQ(up->live_chunks, 0);
    CHECK_EQ(up->live_bytes, 0);
    CHECK_EQ(up->frees, up->calls);
    CHECK_EQ(up->bad_frees, 0);
    for (int i = 0; i < COUNTING_MAX_CHUNKS; i++)
        if (up->live[i].ptr != 0) free((void *)(intptr_t)up->live[i].ptr);
    free(up);
}

/* The index of the live chunk holding [ptr, ptr + size), or -1. */
static int counting_holds(const Counting *up, int64_t ptr, int64_t size) {
    for (int i = 0; i < COUNTING_MAX_CHUNKS; i++) {
        const CountedChunk *c = &up->live[i];
        if (c->ptr != 0 && ptr >= c->ptr && ptr + size <= c->ptr + c->size) return i;
    }
    return -1;
}

#endif
