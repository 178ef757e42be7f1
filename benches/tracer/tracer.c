/*
 * tracer.c: an LD_PRELOAD library that records every malloc, calloc,
 * realloc, free and aligned allocation of a program, for trace replay
 * (workload 4 of the benchmarks).
 *
 *   VAIS_TRACE_DIR=dir LD_PRELOAD=benches/build/libtrace.so program ...
 *
 * writes dir/<pid>.trace for every process (a compiler driver's children
 * are traced too). A trace is a run of fixed 32-byte little-endian records:
 *
 *   u64 op | align << 8     op: 1 malloc, 2 free, 3 calloc, 4 realloc,
 *                               5 aligned (posix_memalign, memalign, ...)
 *   u64 size                requested bytes (calloc: n * size)
 *   u64 in                  pointer given (free, realloc), else 0
 *   u64 out                 pointer returned (0 on failure or for free)
 *
 * The real allocator is reached through glibc's __libc_* entry points, so
 * the tracer itself never allocates; records are buffered and written with
 * write(2).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

enum { OP_MALLOC = 1, OP_FREE = 2, OP_CALLOC = 3, OP_REALLOC = 4, OP_ALIGNED = 5 };

typedef struct Rec {
    uint64_t op;
    uint64_t size;
    uint64_t in;
    uint64_t out;
} Rec;

#define BUF_RECS 8192

static Rec buf[BUF_RECS];
static unsigned nbuf;
static int fd = -1;
static int disabled;
static volatile int lock;

static void spin_lock(void)
{
    while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
        ;
}

static void spin_unlock(void) { __atomic_store_n(&lock, 0, __ATOMIC_RELEASE); }

/* Appends the decimal digits of v to p; returns the new end. */
static char *put_u(char *p, unsigned long v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static void open_file(void)
{
    const char *dir = getenv("VAIS_TRACE_DIR");
    char path[4096];
    size_t len;
    if (!dir || (len = strlen(dir)) > sizeof path - 64) {
        disabled = 1;
        return;
    }
    mkdir(dir, 0777);
    memcpy(path, dir, len);
    char *p = path + len;
    *p++ = '/';
    p = put_u(p, (unsigned long)getpid());
    memcpy(p, ".trace", 7);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        disabled = 1;
}

static void flush_locked(void)
{
    if (fd < 0 && !disabled)
        open_file();
    if (fd >= 0) {
        const char *p = (const char *)buf;
        size_t left = nbuf * sizeof(Rec);
        while (left) {
            ssize_t w = write(fd, p, left);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            p += w;
            left -= (size_t)w;
        }
    }
    nbuf = 0;
}

static void record(uint64_t op, uint64_t align, uint64_t size, void *in, void *out)
{
    if (disabled)
        return;
    int saved = errno;
    spin_lock();
    Rec *r = &buf[nbuf++];
    r->op = op | (align << 8);
    r->size = size;
    r->in = (uint64_t)(uintptr_t)in;
    r->out = (uint64_t)(uintptr_t)out;
    if (nbuf == BUF_RECS)
        flush_locked();
    spin_unlock();
    errno = saved;
}

/* A forked child starts its own trace: drop the parent's buffered records. */
static void at_fork_child(void)
{
    nbuf = 0;
    fd = -1;
    lock = 0;
}

__attribute__((constructor)) static void init(void) { pthread_atfork(NULL, NULL, at_fork_child); }

__attribute__((destructor)) static void fini(void)
{
    spin_lock();
    flush_locked();
    if (fd >= 0)
        close(fd);
    fd = -1;
    disabled = 1;
    spin_unlock();
}

void *malloc(size_t n)
{
    void *p = __libc_malloc(n);
    record(OP_MALLOC, 0, n, NULL, p);
    return p;
}

void free(void *p)
{
    if (!p)
        return;
    record(OP_FREE, 0, 0, p, NULL);
    __libc_free(p);
}

void *calloc(size_t n, size_t m)
{
    void *p = __libc_calloc(n, m);
    record(OP_CALLOC, 0, (uint64_t)n * m, NULL, p);
    return p;
}

void *realloc(void *old, size_t n)
{
    void *p = __libc_realloc(old, n);
    record(OP_REALLOC, 0, n, old, p);
    return p;
}

static void *aligned(size_t align, size_t n)
{
    void *p = __libc_memalign(align, n);
    record(OP_ALIGNED, align, n, NULL, p);
    return p;
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    void *p = aligned(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *memalign(size_t align, size_t n) { return aligned(align, n); }
void *aligned_alloc(size_t align, size_t n) { return aligned(align, n); }
void *valloc(size_t n) { return aligned(4096, n); }
void *pvalloc(size_t n) { return aligned(4096, (n + 4095) & ~(size_t)4095); }
