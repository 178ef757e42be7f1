/* The error model: last error, clear, messages, per-thread state. */
#include "harness.h"
#include "vais_alloc.h"

#include <pthread.h>
#include <stdlib.h>

TEST(errors_success_does_not_clear_and_clear_does) {
    vais_alloc_clear_error();
    CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_OK);
    layout_array(-1, 8, 1);
    CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_INVALID_LAYOUT);
    Allocation a = global_alloc(layout_for_i64()); /* succeeds */
    CHECK_NE(a.ptr, 0);
    CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_INVALID_LAYOUT);
    global_dealloc(a.ptr, layout_for_i64());
    vais_alloc_clear_error();
    CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_OK);
}

TEST(errors_every_code_has_a_message) {
    const int64_t codes[] = {
        VAIS_ALLOC_E_INVALID_LAYOUT, VAIS_ALLOC_E_INVALID_ARGUMENT, VAIS_ALLOC_E_NULL_HANDLE,
        VAIS_ALLOC_E_OUT_OF_MEMORY,  VAIS_ALLOC_E_EXHAUSTED,        VAIS_ALLOC_E_FOREIGN_POINTER,
        VAIS_ALLOC_E_DOUBLE_FREE,    VAIS_ALLOC_E_EMPTY,
    };
    const char *words[] = {"layout", "argument", "null", "memory", "exhausted", "foreign", "double", "empty"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        CHECK_STR_CONTAINS(vais_alloc_error_message(codes[i]), words[i]);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(vais_alloc_error_message(codes[i]), vais_alloc_error_message(codes[j])) != 0);
    }
    CHECK_STR_CONTAINS(vais_alloc_error_message(VAIS_ALLOC_OK), "ok");
    CHECK_STR_CONTAINS(vais_alloc_error_message(-100), "unknown");
    CHECK_STR_CONTAINS(vais_alloc_error_message(INT64_MIN), "unknown");
    CHECK_STR_CONTAINS(vais_alloc_error_message(7), "unknown");
}

TEST(errors_version_is_semver) {
    const char *v = vais_alloc_version();
    CHECK(v != NULL);
    int major = -1, minor = -1, patch = -1;
    CHECK_EQ(sscanf(v, "%d.%d.%d", &major, &minor, &patch), 3);
    CHECK_GE(major, 0);
}

static void *thread_sets_its_own_error(void *arg) {
    (void)arg;
    int64_t before = vais_alloc_last_error();
    global_alloc(layout_new(INT64_C(1) << 62, 8)); /* OUT_OF_MEMORY here */
    int64_t *result = malloc(2 * sizeof *result);
    result[0] = before;
    result[1] = vais_alloc_last_error();
    return result;
}

TEST(errors_are_per_thread) {
    vais_alloc_clear_error();
    layout_array(1, 3, 1); /* INVALID_LAYOUT on this thread */
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, thread_sets_its_own_error, NULL), 0);
    void *out = NULL;
    CHECK_EQ(pthread_join(t, &out), 0);
    int64_t *result = out;
    CHECK_EQ(result[0], VAIS_ALLOC_OK);
    CHECK_EQ(result[1], VAIS_ALLOC_E_OUT_OF_MEMORY);
    free(result);
    CHECK_EQ(vais_alloc_last_error(), VAIS_ALLOC_E_INVALID_LAYOUT);
    vais_alloc_clear_error();
}
