/*
 * bench.c: cost per event of each door of the C API, on a typical non-matching event (a
 * service host started by services.exe) and a typical matching one (Impacket's dcomexec:
 * mmc.exe starting cmd.exe with output redirected to ADMIN$).
 *
 * The JSON doors read ~2.6 KB Elastic Defend-style process events from
 * ffi/benches/events/ (synthetic, shaped like real logs-endpoint.events.process documents);
 * the struct doors get the same three fields as sensor strings.
 *
 * usage: bench MODE ITERATIONS REPETITIONS EVENTS_DIR
 *   MODE: utf8-miss utf8-match utf16-miss utf16-match json-miss json-match, or "all"
 * Prints, per mode: the best ns/event over the repetitions, and the heap allocations made by
 * the library during the first call and during all the timed calls (linked with
 * -Wl,--wrap=malloc,... so every allocation the library makes is counted; see run.sh).
 * Under callgrind, run a mode twice with different ITERATIONS and divide the difference in
 * instructions by the difference in iterations (run.sh does).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uchar.h>

#include "dcom_detect.h"

/* ---- allocation counting (ld --wrap) -------------------------------------------------- */

static unsigned long allocations;
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *ptr, size_t size);
int __real_posix_memalign(void **ptr, size_t alignment, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
int __wrap_posix_memalign(void **ptr, size_t alignment, size_t size);
void *__wrap_aligned_alloc(size_t alignment, size_t size);

void *__wrap_malloc(size_t size) {
    allocations++;
    return __real_malloc(size);
}
void *__wrap_calloc(size_t n, size_t size) {
    allocations++;
    return __real_calloc(n, size);
}
void *__wrap_realloc(void *ptr, size_t size) {
    allocations++;
    return __real_realloc(ptr, size);
}
int __wrap_posix_memalign(void **ptr, size_t alignment, size_t size) {
    allocations++;
    return __real_posix_memalign(ptr, alignment, size);
}
void *__wrap_aligned_alloc(size_t alignment, size_t size) {
    allocations++;
    return __real_aligned_alloc(alignment, size);
}

/* ---- the events ----------------------------------------------------------------------- */

typedef struct fields {
    const char *name, *parent_name, *command_line;
    const char16_t *name16, *parent_name16, *command_line16;
    const char *json_file;
} fields;

static const fields MISS = {
    "svchost.exe", "services.exe", "C:\\Windows\\System32\\svchost.exe -k netsvcs -p -s Schedule",
    u"svchost.exe", u"services.exe", u"C:\\Windows\\System32\\svchost.exe -k netsvcs -p -s Schedule",
    "defend-svchost-start.json",
};
static const fields MATCH = {
    "cmd.exe", "mmc.exe", "cmd.exe /Q /c cd \\ 1> \\\\127.0.0.1\\ADMIN$\\__1714557801.412 2>&1",
    u"cmd.exe", u"mmc.exe", u"cmd.exe /Q /c cd \\ 1> \\\\127.0.0.1\\ADMIN$\\__1714557801.412 2>&1",
    "defend-mmc-cmd-start.json",
};

static const dcom_str CATEGORY[] = {{(const uint8_t *)"process", 7}};
static const dcom_str TYPE[] = {{(const uint8_t *)"start", 5}};
static const dcom_str16 CATEGORY16[] = {{u"process", 7}};
static const dcom_str16 TYPE16[] = {{u"start", 5}};

static dcom_str str(const char *s) {
    dcom_str r = {(const uint8_t *)s, strlen(s)};
    return r;
}

static dcom_str16 str16(const char16_t *s) {
    dcom_str16 r = {s, 0};
    while (s[r.len]) {
        r.len++;
    }
    return r;
}

static uint8_t *read_file(const char *dir, const char *name, size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    uint8_t *data = __real_malloc(1 << 16);
    *len = fread(data, 1, 1 << 16, f);
    fclose(f);
    while (*len > 0 && (data[*len - 1] == '\n' || data[*len - 1] == '\r')) {
        (*len)--;
    }
    return data;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef enum door { UTF8, UTF16, JSON } door;

typedef struct job {
    door door;
    const dcom_rule *rule;
    dcom_scratch *scratch;
    dcom_event event;
    dcom_event16 event16;
    const uint8_t *json;
    size_t json_len;
} job;

/* One call; returns its branches (and fails loudly on an error). */
static inline uint32_t call(const job *j) {
    uint32_t branches = 0;
    dcom_result r;
    switch (j->door) {
    case UTF8:
        r = dcom_rule_match(j->rule, &j->event, &branches);
        break;
    case UTF16:
        r = dcom_rule_match_utf16(j->rule, &j->event16, &branches);
        break;
    default:
        r = dcom_rule_match_json(j->rule, j->scratch, j->json, j->json_len, &branches);
        break;
    }
    if (r != DCOM_OK) {
        fprintf(stderr, "bench: %s\n", dcom_result_message(r));
        exit(1);
    }
    return branches;
}

static void bench(const char *mode, long iterations, int repetitions, const char *events_dir) {
    job j;
    memset(&j, 0, sizeof j);
    const fields *f = strstr(mode, "-match") ? &MATCH : &MISS;
    j.door = strncmp(mode, "utf8", 4) == 0 ? UTF8 : strncmp(mode, "utf16", 5) == 0 ? UTF16 : JSON;
    dcom_rule *rule = NULL;
    dcom_scratch *scratch = NULL;
    if (dcom_rule_create(NULL, &rule) != DCOM_OK || dcom_scratch_create(&scratch) != DCOM_OK) {
        exit(1);
    }
    j.rule = rule;
    j.scratch = scratch;
    j.event.event_category = CATEGORY;
    j.event.event_category_count = 1;
    j.event.event_type = TYPE;
    j.event.event_type_count = 1;
    j.event.process_name = str(f->name);
    j.event.process_parent_name = str(f->parent_name);
    j.event.process_command_line = str(f->command_line);
    j.event16.event_category = CATEGORY16;
    j.event16.event_category_count = 1;
    j.event16.event_type = TYPE16;
    j.event16.event_type_count = 1;
    j.event16.process_name = str16(f->name16);
    j.event16.process_parent_name = str16(f->parent_name16);
    j.event16.process_command_line = str16(f->command_line16);
    uint8_t *json = NULL;
    if (j.door == JSON) {
        json = read_file(events_dir, f->json_file, &j.json_len);
        j.json = json;
    }

    unsigned long before = allocations;
    uint32_t first = call(&j);
    unsigned long first_call_allocations = allocations - before;
    if ((first != 0) != (f == &MATCH)) {
        fprintf(stderr, "bench: %s gave branches %u\n", mode, first);
        exit(1);
    }

    double best = 1e300;
    unsigned long timed_allocations = 0;
    volatile uint32_t sink = 0;
    for (int rep = 0; rep < repetitions; rep++) {
        before = allocations;
        double start = now();
        uint32_t acc = 0;
        for (long i = 0; i < iterations; i++) {
            acc += call(&j);
        }
        double elapsed = now() - start;
        timed_allocations += allocations - before;
        sink += acc;
        if (elapsed / (double)iterations < best) {
            best = elapsed / (double)iterations;
        }
    }
    (void)sink;
    printf("%-12s %9.1f ns/event  %5zu bytes  branches=%u  allocations: first call %lu, next %ld calls %lu\n", mode, best,
           j.door == JSON ? j.json_len : 0, first, first_call_allocations, iterations * repetitions, timed_allocations);
    free(json);
    dcom_scratch_destroy(scratch);
    dcom_rule_destroy(rule);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s MODE ITERATIONS REPETITIONS EVENTS_DIR\n", argv[0]);
        return 2;
    }
    static const char *const modes[] = {"utf8-miss", "utf8-match", "utf16-miss", "utf16-match", "json-miss", "json-match"};
    long iterations = atol(argv[2]);
    int repetitions = atoi(argv[3]);
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        if (strcmp(argv[1], "all") == 0 || strcmp(argv[1], modes[m]) == 0) {
            bench(modes[m], iterations, repetitions, argv[4]);
        }
    }
    return 0;
}
