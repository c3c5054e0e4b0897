/*
 * test_threads.c: two rule handles (ASCII folding; Unicode folding with the example
 * exceptions) shared by 8 threads, each with its own scratch, evaluating the same workload
 * (the golden corpus as JSON, plus UTF-8 and UTF-16 struct events, some of them suppressed by
 * an exception item) many times in different orders: every verdict must equal the
 * single-threaded run's, and in the first rounds every alert document too. Then two threads
 * deliberately share one scratch: each call must either work or return
 * DCOM_ERROR_SCRATCH_BUSY, never corrupt anything.
 *
 * usage: test_threads GOLDEN_DIR EXCEPTIONS_JSON
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

/* Alerts allocate and are slow under valgrind: they are compared in the first rounds only. */
enum { THREADS = 8, ROUNDS = 12, ALERT_ROUNDS = 2 };

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

/* Struct events: {name, parent, command line, host.name, user.name}, the same text in UTF-8
   and UTF-16 (host and user, read only by the exceptions, are UTF-8 `other` fields). */
static const char *const EVENTS[][5] = {
    {"powershell.exe", "mmc.exe", "powershell.exe -NoExit -Command Get-Service", "mgmt-ws-03", "adm_kwright"},
    {"powershell.exe", "mmc.exe", "powershell.exe -NoExit -Command Get-Service", "mgmt-ws-03", "jdoe"},
    {"cmd.exe", "mmc.exe", "cmd /c whoami"},
    {"notepad.exe", "explorer.exe", "notepad C:\\x.txt"},
    {"dcomcnfg.exe", NULL, NULL},
    {"x.exe", NULL, "Invoke-DCOM -Exec calc"},
    {"c\xC5\xBF" "cript.exe", "outloo\xE2\x84\xAA.exe", NULL},
    {"\xC3\xA9.exe", "\xF0\x9F\x98\x80", "\xE2\x84\xAA DCOM"},
};
static const char16_t *const EVENTS16[][3] = {
    {u"powershell.exe", u"mmc.exe", u"powershell.exe -NoExit -Command Get-Service"},
    {u"powershell.exe", u"mmc.exe", u"powershell.exe -NoExit -Command Get-Service"},
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
    dcom_verdict verdict;
} outcome;

static golden_corpus corpus;
static size_t items;
static dcom_rule *rules[2];
static outcome *reference[2];
static char **reference_alerts[2]; /* per JSON item: the alert, or NULL for none */

static size_t other_fields(size_t event, dcom_field *other) {
    size_t n = 0;
    if (EVENTS[event][3] != NULL) {
        other[n++] = (dcom_field){str("host.name"), str(EVENTS[event][3])};
        other[n++] = (dcom_field){str("user.name"), str(EVENTS[event][4])};
    }
    return n;
}

static outcome run_item(const dcom_rule *rule, dcom_scratch *scratch, size_t item) {
    outcome o = {DCOM_OK, {0xFFFFFFFFu, 99}};
    if (item < corpus.count) {
        const golden_case *c = &corpus.cases[item];
        o.code = dcom_rule_evaluate_json(rule, scratch, c->record, c->record_len, &o.verdict);
        return o;
    }
    item -= corpus.count;
    if (item < STRUCT_EVENTS) {
        dcom_field other[2];
        dcom_event e;
        memset(&e, 0, sizeof e);
        e.event_category = CATEGORY;
        e.event_category_count = 1;
        e.event_type = TYPE;
        e.event_type_count = 1;
        e.process_name = str(EVENTS[item][0]);
        e.process_parent_name = str(EVENTS[item][1]);
        e.process_command_line = str(EVENTS[item][2]);
        e.other = other;
        e.other_count = other_fields(item, other);
        o.code = dcom_rule_evaluate(rule, &e, &o.verdict);
        return o;
    }
    item -= STRUCT_EVENTS;
    dcom_field other[2];
    size_t n = other_fields(item, other);
    dcom_field16 other16[2];
    char16_t values[2][32];
    for (size_t i = 0; i < n; i++) { /* host and user are ASCII */
        size_t k = 0;
        for (; k < other[i].value.len && k < 31; k++) {
            values[i][k] = other[i].value.ptr[k];
        }
        other16[i].path = other[i].path;
        other16[i].value.ptr = values[i];
        other16[i].value.len = k;
    }
    dcom_event16 e;
    memset(&e, 0, sizeof e);
    e.event_category = CATEGORY16;
    e.event_category_count = 1;
    e.event_type = TYPE16;
    e.event_type_count = 1;
    e.process_name = str16(EVENTS16[item][0]);
    e.process_parent_name = str16(EVENTS16[item][1]);
    e.process_command_line = str16(EVENTS16[item][2]);
    e.other = other16;
    e.other_count = n;
    o.code = dcom_rule_evaluate_utf16(rule, &e, &o.verdict);
    return o;
}

/* The alert for JSON item `item` into *buffer (grown as needed): 1 and the text in *buffer,
   0 for no alert (or a rejected record), -1 on an unexpected result. */
static int alert_item(const dcom_rule *rule, dcom_scratch *scratch, size_t item, char **buffer, size_t *capacity) {
    const golden_case *c = &corpus.cases[item];
    size_t needed = 0;
    dcom_result r = dcom_rule_alert_json(rule, scratch, c->record, c->record_len, NULL, 0, NULL, *buffer, *capacity, &needed);
    if (r == DCOM_ERROR_BUFFER_TOO_SMALL) {
        free(*buffer);
        *capacity = needed;
        *buffer = malloc(needed);
        r = dcom_rule_alert_json(rule, scratch, c->record, c->record_len, NULL, 0, NULL, *buffer, *capacity, &needed);
    }
    if (r == DCOM_ERROR_BAD_JSON || r == DCOM_ERROR_INVALID_UTF8) {
        return 0;
    }
    return r != DCOM_OK ? -1 : needed > 0;
}

static int same(outcome a, outcome b) {
    return a.code == b.code && a.verdict.branches == b.verdict.branches && a.verdict.suppressed_by == b.verdict.suppressed_by;
}

typedef struct worker {
    size_t index;
    pthread_barrier_t *start;
    size_t calls;
    size_t alerts;
    size_t mismatches;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    dcom_scratch *scratch = NULL;
    size_t capacity = 1024;
    char *alert = malloc(capacity);
    if (dcom_scratch_create(&scratch) != DCOM_OK) {
        w->mismatches++;
        free(alert);
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
                if (!same(o, reference[r][item])) {
                    w->mismatches++;
                }
                if (round < ALERT_ROUNDS && item < corpus.count) {
                    int got = alert_item(rules[r], scratch, item, &alert, &capacity);
                    const char *want = reference_alerts[r][item];
                    w->alerts += got == 1;
                    if (got < 0 || (got == 1) != (want != NULL) || (got == 1 && strcmp(alert, want) != 0)) {
                        w->mismatches++;
                    }
                }
            }
        }
    }
    free(alert);
    dcom_scratch_destroy(scratch);
    return NULL;
}

static void test_shared_rule(void) {
    dcom_scratch *scratch = NULL;
    CHECK_RESULT(dcom_scratch_create(&scratch), DCOM_OK);
    size_t matching = 0, rejected = 0, suppressed = 0, alerts = 0;
    size_t capacity = 1024;
    char *alert = malloc(capacity);
    for (int r = 0; r < 2; r++) {
        reference[r] = calloc(items, sizeof(outcome));
        reference_alerts[r] = calloc(corpus.count, sizeof(char *));
        for (size_t item = 0; item < items; item++) {
            reference[r][item] = run_item(rules[r], scratch, item);
            matching += reference[r][item].verdict.branches != 0 && reference[r][item].code == DCOM_OK;
            rejected += reference[r][item].code != DCOM_OK;
            suppressed += reference[r][item].verdict.suppressed_by >= 0;
            if (item < corpus.count) {
                int got = alert_item(rules[r], scratch, item, &alert, &capacity);
                CHECK(got >= 0);
                if (got == 1) {
                    reference_alerts[r][item] = strdup(alert);
                    alerts++;
                }
            }
        }
    }
    free(alert);
    dcom_scratch_destroy(scratch);
    /* The workload has matches, misses, rejections, suppressions (struct events 0, in UTF-8
       and UTF-16, under the tuned rule) and alerts. */
    CHECK(matching > 0 && rejected > 0 && alerts > 0);
    CHECK_EQ(suppressed, 2);
    CHECK(reference[1][corpus.count].verdict.suppressed_by == 0);
    CHECK(reference[1][corpus.count + 1].verdict.suppressed_by == DCOM_NOT_SUPPRESSED);
    CHECK(reference[0][corpus.count].verdict.suppressed_by == DCOM_NOT_SUPPRESSED);

    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    pthread_t threads[THREADS];
    worker workers[THREADS];
    for (size_t t = 0; t < THREADS; t++) {
        workers[t] = (worker){.index = t, .start = &start};
        CHECK(pthread_create(&threads[t], NULL, work, &workers[t]) == 0);
    }
    size_t calls = 0, thread_alerts = 0;
    for (size_t t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        CHECK_EQ(workers[t].mismatches, 0);
        calls += workers[t].calls;
        thread_alerts += workers[t].alerts;
    }
    pthread_barrier_destroy(&start);
    CHECK_EQ(calls, (size_t)THREADS * ROUNDS * items * 2);
    CHECK_EQ(thread_alerts, (size_t)THREADS * ALERT_ROUNDS * alerts);
    printf("shared rules: %d threads, %zu verdicts and %zu alert documents, identical to the single-threaded run\n",
           THREADS, calls, thread_alerts);
    for (int r = 0; r < 2; r++) {
        for (size_t item = 0; item < corpus.count; item++) {
            free(reference_alerts[r][item]);
        }
        free(reference_alerts[r]);
        free(reference[r]);
    }
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
    if (argc != 3) {
        fprintf(stderr, "usage: %s GOLDEN_DIR EXCEPTIONS_JSON\n", argv[0]);
        return 2;
    }
    if (!golden_load(argv[1], &corpus)) {
        fprintf(stderr, "test_threads: the golden corpus is required (%s)\n", argv[1]);
        return 1;
    }
    size_t exceptions_len = 0;
    uint8_t *exceptions = golden_read_file(argv[2], &exceptions_len);
    if (exceptions == NULL) {
        golden_free(&corpus);
        return 1;
    }
    items = corpus.count + 2 * STRUCT_EVENTS;
    dcom_rule_options tuned = {
        .struct_size = sizeof tuned,
        .case_folding = DCOM_CASE_FOLDING_UNICODE_SIMPLE,
        .exceptions = exceptions,
        .exceptions_len = exceptions_len,
    };
    if (CHECK_RESULT(dcom_rule_create(NULL, &rules[0]), DCOM_OK)
        && CHECK_RESULT(dcom_rule_create(&tuned, &rules[1]), DCOM_OK)) {
        test_shared_rule();
        test_shared_scratch();
    }
    free(exceptions); /* compiled into the rule: the buffer is not needed any more */
    dcom_rule_destroy(rules[0]);
    dcom_rule_destroy(rules[1]);
    golden_free(&corpus);
    return check_summary("test_threads");
}
