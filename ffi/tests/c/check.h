/*
 * check.h: the few assertion helpers the C tests share. Each failed check prints where and
 * why; check_summary() prints "NAME: N passed, M failed" and gives the exit status.
 */
#ifndef DCOM_CHECK_H
#define DCOM_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dcom_detect.h"

static unsigned check_passed;
static unsigned check_failed;

static inline int check_true(int ok, const char *what, const char *file, int line) {
    if (ok) {
        check_passed++;
    } else {
        check_failed++;
        fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    }
    return ok;
}

static inline int check_result(dcom_result got, dcom_result want, const char *what, const char *file, int line) {
    if (got == want) {
        check_passed++;
        return 1;
    }
    check_failed++;
    fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s)\n", file, line, what, (int)got,
            dcom_result_message(got), (int)want, dcom_result_message(want));
    return 0;
}

static inline int check_u64(uint64_t got, uint64_t want, const char *what, const char *file, int line) {
    if (got == want) {
        check_passed++;
        return 1;
    }
    check_failed++;
    fprintf(stderr, "%s:%d: %s is %" PRIu64 ", expected %" PRIu64 "\n", file, line, what, got, want);
    return 0;
}

static inline int check_str(const char *got, const char *want, const char *what, const char *file, int line) {
    if (got != NULL && strcmp(got, want) == 0) {
        check_passed++;
        return 1;
    }
    check_failed++;
    fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", file, line, what, got ? got : "(NULL)", want);
    return 0;
}

#define CHECK(cond) check_true(!!(cond), #cond, __FILE__, __LINE__)
#define CHECK_RESULT(expr, want) check_result((expr), (want), #expr, __FILE__, __LINE__)
#define CHECK_EQ(got, want) check_u64((uint64_t)(got), (uint64_t)(want), #got, __FILE__, __LINE__)
#define CHECK_STR(got, want) check_str((got), (want), #got, __FILE__, __LINE__)

/* Prints the closing line and returns the process exit status. */
static inline int check_summary(const char *name) {
    printf("%s: %u passed, %u failed\n", name, check_passed, check_failed);
    return check_failed == 0 && check_passed > 0 ? 0 : 1;
}

#endif /* DCOM_CHECK_H */
