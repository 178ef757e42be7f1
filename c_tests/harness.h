/*
 * A minimal C test harness: named tests, registered at load time, and
 * comparisons that print file:line with both values when they fail.
 *
 *   TEST(bump_resets) { CHECK_EQ(bump_reset(b), 0); }
 *
 * main.c runs every registered test and prints "N passed, N failed".
 */
#ifndef VAIS_ALLOC_TEST_HARNESS_H
#define VAIS_ALLOC_TEST_HARNESS_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vais_alloc.h"

typedef void (*test_fn)(void);

void harness_register(const char *name, test_fn fn);
/* Set by a failing check; read by the runner after each test. */
extern int harness_current_failed;

#define TEST(name)                                                        \
    static void test_##name(void);                                        \
    __attribute__((constructor)) static void register_##name(void) {      \
        harness_register(#name, test_##name);                             \
    }                                                                     \
    static void test_##name(void)

#define HARNESS_FAIL(...)                                                 \
    do {                                                                  \
        fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                 \
        fprintf(stderr, __VA_ARGS__);                                     \
        fputc('\n', stderr);                                              \
        harness_current_failed = 1;                                       \
    } while (0)

/* Integer comparison: both sides are evaluated once, as int64_t. */
#define CHECK_CMP(a, op, b)                                               \
    do {                                                                  \
        int64_t check_a_ = (int64_t)(a), check_b_ = (int64_t)(b);         \
        if (!(check_a_ op check_b_))                                      \
            HARNESS_FAIL("CHECK(%s %s %s): %" PRId64 " vs %" PRId64,      \
                         #a, #op, #b, check_a_, check_b_);                \
    } while (0)

/* For a test that scribbles over an allocator's own headers on purpose
 * (to prove the damage is refused): under Valgrind or ASan the scribble
 * is itself the bug the tool reports, so such a test runs only without
 * one (the plain run). */
#define SKIP_UNDER_MEMORY_TOOL()                                          \
    do {                                                                  \
        if (vais_alloc_memory_tools() != 0) {                             \
            fprintf(stderr, "  skipped under a memory tool: %s\n",        \
                    __func__);                                            \
            return;                                                       \
        }                                                                 \
    } while (0)

#define CHECK_EQ(a, b) CHECK_CMP(a, ==, b)
#define CHECK_NE(a, b) CHECK_CMP(a, !=, b)
#define CHECK_LT(a, b) CHECK_CMP(a, <, b)
#define CHECK_LE(a, b) CHECK_CMP(a, <=, b)
#define CHECK_GE(a, b) CHECK_CMP(a, >=, b)
#define CHECK_GT(a, b) CHECK_CMP(a, >, b)

#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond)) HARNESS_FAIL("CHECK(%s)", #cond);                    \
    } while (0)

#define CHECK_STR_CONTAINS(haystack, needle)                              \
    do {                                                                  \
        const char *check_h_ = (haystack);                                \
        if (check_h_ == NULL || strstr(check_h_, (needle)) == NULL)       \
            HARNESS_FAIL("CHECK_STR_CONTAINS(%s, \"%s\"): got \"%s\"",    \
                         #haystack, (needle),                             \
                         check_h_ ? check_h_ : "(null)");                 \
    } while (0)

/* The call's result, and the thread's last error right after it. */
#define CHECK_ERROR(expr, code)                                           \
    do {                                                                  \
        vais_alloc_clear_error();                                         \
        (void)(expr);                                                     \
        CHECK_EQ(vais_alloc_last_error(), (code));                        \
    } while (0)

/* A refused allocation: {0, 0}, and `code` as the thread's last error.
 * (Allocation comes from vais_alloc.h, included by every test file.) */
#define CHECK_ALLOC_FAILS(expr, code)                                     \
    do {                                                                  \
        Allocation refused_ = {1, 1};                                     \
        CHECK_ERROR(refused_ = (expr), (code));                           \
        CHECK_EQ(refused_.ptr, 0);                                        \
        CHECK_EQ(refused_.size, 0);                                       \
    } while (0)

/* A refused status call: it returns `code` and records it. */
#define CHECK_STATUS_FAILS(expr, code)                                    \
    do {                                                                  \
        int64_t status_ = 1;                                              \
        CHECK_ERROR(status_ = (expr), (code));                            \
        CHECK_EQ(status_, (code));                                        \
    } while (0)

/* Fill / verify a byte pattern: how tests prove nothing was disturbed. */
static inline void fill_pattern(int64_t ptr, int64_t size, unsigned seed) {
    unsigned char *p = (unsigned char *)(intptr_t)ptr;
    for (int64_t i = 0; i < size; i++) p[i] = (unsigned char)(seed + (unsigned)i * 31u);
}

static inline int pattern_intact(int64_t ptr, int64_t size, unsigned seed) {
    const unsigned char *p = (const unsigned char *)(intptr_t)ptr;
    for (int64_t i = 0; i < size; i++)
        if (p[i] != (unsigned char)(seed + (unsigned)i * 31u)) return 0;
    return 1;
}

#endif
