/*
 * test_threads.c: one rule handle (per case folding) shared by 8 threads, each with its own
 * scratch, matching the same workload (the golden corpus as JSON, plus UTF-8 and UTF-16
 * struct events) many times in different orders: every result must equal the single-threaded
 * run's. Then two threads deliberately share one scratch: each call must either work or
 * return DCOM_ERROR_SCRATCH_BUSY, never corrupt anything.
 *
 * usage: test_threads GOLDEN_DIR
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uchar.h>

#include "check.h"
#include "dcom_detect.h"
#include "golden.h"

enum { THREADS = 8, ROUNDS = 12 };

static dcom_str str(const char *s) {
    dcom_str r = {(const uint8_t *)s, s ? strlen(s) : 0};
    return r;
}

static dcom_str16 str16(const char16_t *s) {
    size_t n = 0;
    while (s && s[n]) {
        n++;
    }
    dcom_str16 r = {s, n};
    return r;
}

static const dcom_str CATEGORY[] = {{(const uint8_t *)"process", 7}};
static const dcom_str TYPE[] = {{(const uint8_t *)"start", 5}};
static const dcom_str16 CATEGORY16[] = {{u"process", 7}};
static const dcom_str16 TYPE16[] = {{u"start", 5}};

/* Struct events: {name, parent, command line}, the same text in UTF-8 and UTF-16. */
static const char *const EVENTS[][3] = {
    {"cmd.exe", "mmc.exe", "cmd /c whoami"},
    {"notepad.exe", "explorer.exe", "notepad C:\\x.txt"},
    {"dcomcnfg.exe", NULL, NULL},
    {"x.exe", NULL, "Invoke-DCOM -Exec calc"},
    {"c\xC5\xBF" "cript.exe", "outloo\xE2\x84\xAA.exe", NULL},
    {"\xC3\xA9.exe", "\xF0\x9F\x98\x80", "\xE2\x84\xAA DCOM"},
};
static const char16_t *const EVENTS16[][3] = {
    {u"cmd.exe", u"mmc.exe", u"cmd /c whoami"},
    {u"notepad.exe", u"explorer.exe", u"notepad C:\\x.txt"},
    {u"dcomcnfg.exe", NULL, NULL},
    {u"x.exe", NULL, u"Invoke-DCOM -Exec calc"},
    {u"c\u017Fcript.exe", u"outloo\u212A.exe", NULL},
    {u"\u00E9.exe", u"\U0001F600", u"\u212A DCOM"},
};
enum { STRUCT_EVENTS = sizeof EVENTS / sizeof EVENTS[0] };

/* One unit of work: item < corpus.count is a JSON record; then UTF-8, then UTF-16 events. */
typedef struct outcome {
    dcom_result code;
    uint32_t branches;
} outcome;

static golden_corpus corpus;
static size_t items;
static dcom_rule *rules[2];
static outcome *reference[2];

static outcome run_item(const dcom_rule *rule, dcom_scratch *scratch, size_t item) {
    outcome o = {DCOM_OK, 0xFFFFFFFFu};
    if (item < corpus.count) {
        const golden_case *c = &corpus.cases[item];
        o.code = dcom_rule_match_json(rule, scratch, c->record, c->record_len, &o.branches);
        return o;
    }
    item -= corpus.count;
    if (item < STRUCT_EVENTS) {
        dcom_event e;
        memset(&e, 0, sizeof e);
        e.event_category = CATEGORY;
        e.event_category_count = 1;
        e.event_type = TYPE;
        e.event_type_count = 1;
        e.process_name = str(EVENTS[item][0]);
        e.process_parent_name = str(EVENTS[item][1]);
        e.process_command_line = str(EVENTS[item][2]);
        o.code = dcom_rule_match(rule, &e, &o.branches);
        return o;
    }
    item -= STRUCT_EVENTS;
    dcom_event16 e;
    memset(&e, 0, sizeof e);
    e.event_category = CATEGORY16;
    e.event_category_count = 1;
    e.event_type = TYPE16;
    e.event_type_count = 1;
    e.process_name = str16(EVENTS16[item][0]);
    e.process_parent_name = str16(EVENTS16[item][1]);
    e.process_command_line = str16(EVENTS16[item][2]);
    o.code = dcom_rule_match_utf16(rule, &e, &o.branches);
    return o;
}

typedef struct worker {
    size_t index;
    pthread_barrier_t *start;
    size_t calls;
    size_t mismatches;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    dcom_scratch *scratch = NULL;
    if (dcom_scratch_create(&scratch) != DCOM_OK) {
        w->mismatches++;
        return NULL;
    }
    pthread_barrier_wait(w->start);
    for (size_t round = 0; round < ROUNDS; round++) {
        for (size_t k = 0; k < items; k++) {
            /* Each thread and round walks the items from a different place and direction. */
            size_t item = (round % 2 ? items - 1 - k : k);
            item = (item + w->index * 37 + round * 11) % items;
            for (int r = 0; r < 2; r++) {
                outcome o = run_item(rules[r], scratch, item);
                w->calls++;
                if (o.code != reference[r][item].code || o.branches != reference[r][item].branches) {
                    w->mismatches++;
                }
            }
        }
    }
    dcom_scratch_destroy(scratch);
    return NULL;
}

static void test_shared_rule(void) {
    dcom_scratch *scratch = NULL;
    CHECK_RESULT(dcom_scratch_create(&scratch), DCOM_OK);
    size_t matching = 0, rejected = 0;
    for (int r = 0; r < 2; r++) {
        reference[r] = calloc(items, sizeof(outcome));
        for (size_t item = 0; item < items; item++) {
            reference[r][item] = run_item(rules[r], scratch, item);
            matching += reference[r][item].branches != 0 && reference[r][item].code == DCOM_OK;
            rejected += reference[r][item].code != DCOM_OK;
        }
    }
    dcom_scratch_destroy(scratch);
    CHECK(matching > 0 && rejected > 0); /* the workload has matches, misses and rejections */

    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    pthread_t threads[THREADS];
    worker workers[THREADS];
    for (size_t t = 0; t < THREADS; t++) {
        workers[t] = (worker){.index = t, .start = &start};
        CHECK(pthread_create(&threads[t], NULL, work, &workers[t]) == 0);
    }
    size_t calls = 0;
    for (size_t t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        CHECK_EQ(workers[t].mismatches, 0);
        calls += workers[t].calls;
    }
    pthread_barrier_destroy(&start);
    CHECK_EQ(calls, (size_t)THREADS * ROUNDS * items * 2);
    printf("shared rule: %d threads, %zu calls, identical to the single-threaded run\n", THREADS, calls);
    free(reference[0]);
    free(reference[1]);
}

/* ---- two threads misusing one scratch ------------------------------------------------ */

typedef struct sharer {
    dcom_scratch *scratch;
    const uint8_t *record;
    size_t record_len;
    uint32_t expected;
    atomic_int *stop;
    atomic_size_t ok, busy, wrong;
} sharer;

static void sharer_init(sharer *s, dcom_scratch *scratch, const uint8_t *record, size_t len, uint32_t expected,
                        atomic_int *stop) {
    s->scratch = scratch;
    s->record = record;
    s->record_len = len;
    s->expected = expected;
    s->stop = stop;
    atomic_init(&s->ok, 0);
    atomic_init(&s->busy, 0);
    atomic_init(&s->wrong, 0);
}

static void *share(void *arg) {
    sharer *s = arg;
    while (!atomic_load(s->stop)) {
        uint32_t branches = 0xFFFFFFFFu;
        dcom_result r = dcom_rule_match_json(rules[0], s->scratch, s->record, s->record_len, &branches);
        if (r == DCOM_OK && branches == s->expected) {
            atomic_fetch_add(&s->ok, 1);
        } else if (r == DCOM_ERROR_SCRATCH_BUSY && branches == 0) {
            atomic_fetch_add(&s->busy, 1);
        } else {
            atomic_fetch_add(&s->wrong, 1);
        }
    }
    return NULL;
}

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_shared_scratch(void) {
    /* A large record keeps the scratch claimed for a long time; the other thread calls in
       a tight loop with a small one. */
    const char *head = "{\"event\":{\"category\":\"process\",\"type\":\"start\"},\"process\":{\"command_line\":\"";
    const char *tail = " DCOM -Exec\"}}";
    size_t filler = 1 << 20;
    size_t len = strlen(head) + filler + strlen(tail);
    uint8_t *big = malloc(len);
    memcpy(big, head, strlen(head));
    memset(big + strlen(head), 'A', filler);
    memcpy(big + strlen(head) + filler, tail, strlen(tail));
    const char *small = "{\"event\":{\"category\":\"process\",\"type\":\"start\"},\"process\":{\"name\":\"dcomcnfg.exe\"}}";

    dcom_scratch *scratch = NULL;
    CHECK_RESULT(dcom_scratch_create(&scratch), DCOM_OK);
    atomic_int stop = 0;
    sharer a, b;
    sharer_init(&a, scratch, big, len, DCOM_BRANCH_DCOM_COMMAND_LINE, &stop);
    sharer_init(&b, scratch, (const uint8_t *)small, strlen(small), DCOM_BRANCH_DCOMCNFG, &stop);
    pthread_t ta, tb;
    CHECK(pthread_create(&ta, NULL, share, &a) == 0);
    CHECK(pthread_create(&tb, NULL, share, &b) == 0);
    /* Runs until some call has worked and some call has been turned away (a fraction of a
       second; seconds under valgrind), or 60 s have passed. Either thread may starve the
       other under valgrind's serialised scheduling, so neither is required to succeed here;
       every call must be right or busy, and both records are matched again afterwards. */
    double deadline = seconds() + 60;
    struct timespec pause = {0, 1000000};
    while (seconds() < deadline &&
           !(atomic_load(&a.ok) + atomic_load(&b.ok) > 0 && atomic_load(&a.busy) + atomic_load(&b.busy) > 0)) {
        nanosleep(&pause, NULL);
    }
    atomic_store(&stop, 1);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    size_t ok_a = atomic_load(&a.ok), ok_b = atomic_load(&b.ok);
    size_t busy_a = atomic_load(&a.busy), busy_b = atomic_load(&b.busy);
    CHECK_EQ(atomic_load(&a.wrong) + atomic_load(&b.wrong), 0);
    CHECK(ok_a + ok_b > 0);
    CHECK(busy_a + busy_b > 0);
    printf("shared scratch: %zu + %zu calls worked, %zu + %zu turned away as busy\n", ok_a, ok_b, busy_a, busy_b);
    /* The scratch is intact afterwards. */
    uint32_t branches = 0;
    CHECK_RESULT(dcom_rule_match_json(rules[0], scratch, (const uint8_t *)small, strlen(small), &branches), DCOM_OK);
    CHECK_EQ(branches, DCOM_BRANCH_DCOMCNFG);
    CHECK_RESULT(dcom_rule_match_json(rules[0], scratch, big, len, &branches), DCOM_OK);
    CHECK_EQ(branches, DCOM_BRANCH_DCOM_COMMAND_LINE);
    dcom_scratch_destroy(scratch);
    free(big);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s GOLDEN_DIR\n", argv[0]);
        return 2;
    }
    if (!golden_load(argv[1], &corpus)) {
        fprintf(stderr, "test_threads: the golden corpus is required (%s)\n", argv[1]);
        return 1;
    }
    items = corpus.count + 2 * STRUCT_EVENTS;
    dcom_rule_options unicode = {.struct_size = sizeof unicode, .case_folding = DCOM_CASE_FOLDING_UNICODE_SIMPLE};
    if (CHECK_RESULT(dcom_rule_create(NULL, &rules[0]), DCOM_OK)
        && CHECK_RESULT(dcom_rule_create(&unicode, &rules[1]), DCOM_OK)) {
        test_shared_rule();
        test_shared_scratch();
    }
    dcom_rule_destroy(rules[0]);
    dcom_rule_destroy(rules[1]);
    golden_free(&corpus);
    return check_summary("test_threads");
}
