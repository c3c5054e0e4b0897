/*
 * bench.c: cost per event of each door of the C API, on a typical non-matching event (a
 * service host started by services.exe), a typical matching one (Impacket's dcomexec:
 * mmc.exe starting cmd.exe with output redirected to ADMIN$) and, with tuning, one that an
 * exception item suppresses (an administrator's PowerShell from MMC on a management
 * workstation, the first family of examples/exceptions.json).
 *
 * The JSON doors read ~2.6 KB Elastic Defend-style process events from
 * ffi/benches/events/ (synthetic, shaped like real logs-endpoint.events.process documents);
 * the struct doors get the same three fields as sensor strings, and with tuning also
 * host.name and user.name in `other`, as a sensor passes them.
 *
 * usage: bench MODE ITERATIONS REPETITIONS EVENTS_DIR EXCEPTIONS_JSON
 *   MODE: DOOR-KIND[-tuned], or "all"
 *     DOOR: utf8 utf16 json (dcom_rule_match* without tuning, dcom_rule_evaluate* with it),
 *           alert (dcom_rule_alert_json: the verdict, and the ECS document when there is one)
 *     KIND: miss match suppressed (suppressed only with -tuned)
 *     -tuned: the rule is created with EXCEPTIONS_JSON
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
    const char *name, *parent_name, *command_line, *host, *user;
    const char16_t *name16, *parent_name16, *command_line16;
    const char *json_file;
} fields;

static const fields MISS = {
    "svchost.exe", "services.exe", "C:\\Windows\\System32\\svchost.exe -k netsvcs -p -s Schedule", "ws-fin-0231", "SYSTEM",
    u"svchost.exe", u"services.exe", u"C:\\Windows\\System32\\svchost.exe -k netsvcs -p -s Schedule",
    "defend-svchost-start.json",
};
static const fields MATCH = {
    "cmd.exe", "mmc.exe", "cmd.exe /Q /c cd \\ 1> \\\\127.0.0.1\\ADMIN$\\__1714557801.412 2>&1", "ws-fin-0231", "svc_backup",
    u"cmd.exe", u"mmc.exe", u"cmd.exe /Q /c cd \\ 1> \\\\127.0.0.1\\ADMIN$\\__1714557801.412 2>&1",
    "defend-mmc-cmd-start.json",
};
static const fields SUPPRESSED = {
    "powershell.exe", "mmc.exe", "powershell.exe -NoExit -Command Get-Service", "mgmt-ws-03", "adm_kwright",
    u"powershell.exe", u"mmc.exe", u"powershell.exe -NoExit -Command Get-Service",
    "defend-mmc-powershell-admin.json",
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

/* DIR/NAME, or NAME when DIR is NULL; trailing newlines dropped. */
static uint8_t *read_file(const char *dir, const char *name, size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
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

typedef enum door { UTF8, UTF16, JSON, ALERT } door;

typedef struct job {
    door door;
    int tuned;
    const dcom_rule *rule;
    dcom_scratch *scratch;
    dcom_event event;
    dcom_event16 event16;
    const uint8_t *json;
    size_t json_len;
    dcom_origin origin;
    char *alert;
    size_t alert_size;
} job;

/* What one call saw: bits 0-2 the branches, bit 8 "suppressed", bits 16+ the alert's size. */
static inline uint32_t seen(dcom_verdict v) {
    return v.branches | (v.suppressed_by != DCOM_NOT_SUPPRESSED ? 0x100u : 0);
}

/* One call; returns what it saw (and fails loudly on an error). */
static inline uint32_t call(const job *j) {
    uint32_t branches = 0;
    dcom_verdict verdict = {0, DCOM_NOT_SUPPRESSED};
    size_t needed = 0;
    dcom_result r;
    switch (j->door) {
    case UTF8:
        r = j->tuned ? dcom_rule_evaluate(j->rule, &j->event, &verdict) : dcom_rule_match(j->rule, &j->event, &branches);
        break;
    case UTF16:
        r = j->tuned ? dcom_rule_evaluate_utf16(j->rule, &j->event16, &verdict)
                     : dcom_rule_match_utf16(j->rule, &j->event16, &branches);
        break;
    case JSON:
        r = j->tuned ? dcom_rule_evaluate_json(j->rule, j->scratch, j->json, j->json_len, &verdict)
                     : dcom_rule_match_json(j->rule, j->scratch, j->json, j->json_len, &branches);
        break;
    default:
        r = dcom_rule_alert_json(j->rule, j->scratch, j->json, j->json_len, &j->origin, 0, &verdict, j->alert,
                                 j->alert_size, &needed);
        break;
    }
    if (r != DCOM_OK) {
        fprintf(stderr, "bench: %s\n", dcom_result_message(r));
        exit(1);
    }
    return branches | seen(verdict) | (uint32_t)needed << 16;
}

static dcom_str16 ascii16(char16_t *out, const char *s) {
    dcom_str16 r = {out, 0};
    for (; s[r.len]; r.len++) {
        out[r.len] = (char16_t)s[r.len];
    }
    return r;
}

static uint8_t *exceptions_json;
static size_t exceptions_len;

static void bench(const char *mode, long iterations, int repetitions, const char *events_dir) {
    job j;
    memset(&j, 0, sizeof j);
    const fields *f = strstr(mode, "-match") ? &MATCH : strstr(mode, "-suppressed") ? &SUPPRESSED : &MISS;
    j.door = strncmp(mode, "utf8", 4) == 0 ? UTF8 : strncmp(mode, "utf16", 5) == 0 ? UTF16 : strncmp(mode, "json", 4) == 0 ? JSON : ALERT;
    j.tuned = strstr(mode, "-tuned") != NULL;
    dcom_rule_options options = {.struct_size = sizeof options};
    if (j.tuned) {
        options.exceptions = exceptions_json;
        options.exceptions_len = exceptions_len;
    }
    dcom_rule *rule = NULL;
    dcom_scratch *scratch = NULL;
    if (dcom_rule_create(&options, &rule) != DCOM_OK || dcom_scratch_create(&scratch) != DCOM_OK) {
        exit(1);
    }
    j.rule = rule;
    j.scratch = scratch;
    dcom_field other[2] = {{str("host.name"), str(f->host)}, {str("user.name"), str(f->user)}};
    char16_t host16[64], user16[64];
    dcom_field16 other16[2] = {{str("host.name"), ascii16(host16, f->host)}, {str("user.name"), ascii16(user16, f->user)}};
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
    if (j.tuned) { /* a tuned sensor passes what its exceptions read */
        j.event.other = other;
        j.event.other_count = 2;
        j.event16.other = other16;
        j.event16.other_count = 2;
    }
    uint8_t *json = NULL;
    if (j.door == JSON || j.door == ALERT) {
        json = read_file(events_dir, f->json_file, &j.json_len);
        j.json = json;
    }
    j.origin.file = str(f->json_file);
    j.origin.position = DCOM_POSITION_LINE;
    j.origin.line = 1234;
    j.origin.offset = 3456789;
    j.alert_size = 16384;
    j.alert = __real_malloc(j.alert_size);

    unsigned long before = allocations;
    uint32_t first = call(&j);
    unsigned long first_call_allocations = allocations - before;
    int fired = (first & DCOM_BRANCH_ALL) != 0, suppressed = (first & 0x100u) != 0, alert = (first >> 16) != 0;
    int ok = f == &MISS ? !fired : f == &MATCH ? fired && !suppressed : fired && suppressed;
    ok &= j.door != ALERT || alert == (f == &MATCH);
    if (!ok) {
        fprintf(stderr, "bench: %s saw %#x\n", mode, first);
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
    printf("%-24s %9.1f ns/event  %5zu bytes  branches=%u%s%s  allocations: first call %lu, next %ld calls %lu\n", mode, best,
           j.json_len, first & DCOM_BRANCH_ALL, suppressed ? " suppressed" : "", alert ? " alert" : "",
           first_call_allocations, iterations * repetitions, timed_allocations);
    free(json);
    free(j.alert);
    dcom_scratch_destroy(scratch);
    dcom_rule_destroy(rule);
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s MODE ITERATIONS REPETITIONS EVENTS_DIR EXCEPTIONS_JSON\n", argv[0]);
        return 2;
    }
    static const char *const modes[] = {
        "utf8-miss", "utf8-match", "utf16-miss", "utf16-match", "json-miss", "json-match",
        "utf8-miss-tuned", "utf8-match-tuned", "utf8-suppressed-tuned",
        "utf16-miss-tuned", "utf16-match-tuned", "utf16-suppressed-tuned",
        "json-miss-tuned", "json-match-tuned", "json-suppressed-tuned",
        "alert-miss", "alert-match", "alert-suppressed-tuned",
    };
    long iterations = atol(argv[2]);
    int repetitions = atoi(argv[3]);
    exceptions_json = read_file(NULL, argv[5], &exceptions_len);
    int known = 0;
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        if (strcmp(argv[1], "all") == 0 || strcmp(argv[1], modes[m]) == 0) {
            bench(modes[m], iterations, repetitions, argv[4]);
            known = 1;
        }
    }
    free(exceptions_json);
    if (!known) {
        fprintf(stderr, "bench: unknown mode %s\n", argv[1]);
        return 2;
    }
    return 0;
}
