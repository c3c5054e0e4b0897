/*
 * sensor.c: how an EDR sensor uses dcom-detect's C API.
 *
 * 1. Process starts as the sensor sees them (full image paths and a command line, in UTF-8
 *    and, as ETW delivers them, in UTF-16, with the host and user the sensor knows) are
 *    evaluated on the hot path without copying: the event only points into the sensor's own
 *    strings.
 * 2. JSON records, one per line (NDJSON) from a file or standard input, are evaluated with a
 *    per-thread scratch, and each alert is written as its ECS document (one JSON line, the
 *    same bytes every front end of dcom-detect writes); bad lines are reported with their
 *    position and skipped.
 * 3. With --exceptions FILE (for example examples/exceptions.json), the rule is tuned: an
 *    event an exception item covers is reported as suppressed, with the item's name, and
 *    raises no alert. A bad file is refused with a message naming the item and field.
 * 4. With --profile extended, the JSON records go through a correlation session instead: the
 *    seed rule's alerts and the correlation rules' (a COM server start joined with its
 *    inbound connection or network logon, ShellWindows), taken from the session's queue
 *    after each record and at the end of the input. First, the sensor's own events go
 *    through a session as structs: a ShellWindows activation (explorer's inbound connection,
 *    then its child) raises D3.
 * Every match prints one summary line with the rule's metadata and the branches that fired.
 *
 * Build (static; see README):
 *   cargo build --release -p dcom-detect-ffi
 *   cc -std=c11 -Iinclude examples/sensor.c target/release/libdcom_detect.a \
 *      -lgcc_s -lutil -lrt -lpthread -lm -ldl -o sensor
 * Run:
 *   ./sensor [--exceptions FILE] [--profile extended] [events.ndjson]
 *   (without a file, NDJSON is read from stdin)
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uchar.h>

#include "dcom_detect.h"

/* ---- what the sensor has ---------------------------------------------------------------- */

struct process_start {
    const char *image;        /* C:\Windows\System32\cmd.exe */
    const char *parent_image; /* C:\Windows\System32\mmc.exe */
    const char *command_line; /* NULL when the sensor could not read it */
    const char *host;         /* the machine's name */
    const char *user;         /* the account that started the process */
};

struct process_start16 {
    const char16_t *image;
    const char16_t *parent_image;
    const char16_t *command_line;
    const char *host; /* the sensor's own configuration: UTF-8 */
    const char *user;
};

/* ECS's process.name is the file name: the part after the last '\' or '/', pointed to, not
   copied. */
static dcom_str file_name(const char *path) {
    dcom_str s = {NULL, 0};
    if (path != NULL) {
        const char *name = path;
        for (const char *p = path; *p; p++) {
            if (*p == '\\' || *p == '/') {
                name = p + 1;
            }
        }
        s.ptr = (const uint8_t *)name;
        s.len = strlen(name);
    }
    return s;
}

static dcom_str text(const char *value) {
    dcom_str s = {(const uint8_t *)value, value ? strlen(value) : 0};
    return s;
}

static dcom_str16 file_name16(const char16_t *path) {
    dcom_str16 s = {NULL, 0};
    if (path != NULL) {
        const char16_t *name = path, *p = path;
        for (; *p; p++) {
            if (*p == u'\\' || *p == u'/') {
                name = p + 1;
            }
        }
        s.ptr = name;
        s.len = (size_t)(p - name);
    }
    return s;
}

static dcom_str16 text16(const char16_t *value) {
    dcom_str16 s = {value, 0};
    while (value != NULL && value[s.len] != 0) {
        s.len++;
    }
    return s;
}

/* A process-start callback always reports event.category "process" and event.type "start". */
static const dcom_str CATEGORY[] = {{(const uint8_t *)"process", 7}};
static const dcom_str TYPE[] = {{(const uint8_t *)"start", 5}};
static const dcom_str16 CATEGORY16[] = {{u"process", 7}};
static const dcom_str16 TYPE16[] = {{u"start", 5}};

/* ---- verdicts ---------------------------------------------------------------------------- */

static void print_branches(uint32_t branches) {
    const char *separator = "";
    for (uint32_t bit = 1; bit <= DCOM_BRANCH_ALL; bit <<= 1) {
        if (branches & bit) {
            printf("%s%s", separator, dcom_branch_name(bit));
            separator = ",";
        }
    }
    printf("\n");
}

/* One summary line per event: ALERT, suppressed (with the exception item's name) or ok.
   Returns 1 for an alert. */
static int report(const dcom_rule *rule, const char *source, size_t number, dcom_verdict verdict) {
    if (verdict.branches == 0) {
        printf("ok    %s #%zu no match\n", source, number);
        return 0;
    }
    if (verdict.suppressed_by != DCOM_NOT_SUPPRESSED) {
        dcom_str name = {NULL, 0};
        dcom_rule_exception_name(rule, (size_t)verdict.suppressed_by, &name);
        printf("suppressed %s #%zu by exception %d \"%.*s\" branches=", source, number, (int)verdict.suppressed_by,
               (int)name.len, (const char *)name.ptr);
        print_branches(verdict.branches);
        return 0;
    }
    const dcom_metadata *m = dcom_rule_metadata();
    printf("ALERT %s #%zu rule=%s \"%s\" severity=%s risk=%u %s/%s branches=", source, number, m->id, m->name,
           m->severity, m->risk_score, m->tactic.id, m->subtechnique.id);
    print_branches(verdict.branches);
    return 1;
}

/* ---- the hot path ------------------------------------------------------------------------- */

static void match_sensor_events(const dcom_rule *rule) {
    static const struct process_start starts[] = {
        {"C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\System32\\mmc.exe", "cmd.exe /Q /c whoami", "ws-fin-0042", "adm_kwright"},
        {"C:\\Windows\\System32\\notepad.exe", "C:\\Windows\\explorer.exe", "notepad.exe C:\\notes.txt", "ws-fin-0042", "mlopez"},
        {"C:\\Windows\\System32\\dcomcnfg.exe", "C:\\Windows\\explorer.exe", NULL, "ws-fin-0042", "mlopez"},
        /* An administrator on a management workstation: examples/exceptions.json covers it. */
        {"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "C:\\Windows\\System32\\mmc.exe",
         "powershell.exe -NoExit -Command Get-Service", "mgmt-ws-03", "adm_kwright"},
    };
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        /* The exceptions' conditions read any ECS field; the sensor passes what it has. */
        dcom_field other[2] = {{text("host.name"), text(starts[i].host)}, {text("user.name"), text(starts[i].user)}};
        dcom_event event = {0};
        event.event_category = CATEGORY;
        event.event_category_count = 1;
        event.event_type = TYPE;
        event.event_type_count = 1;
        event.process_name = file_name(starts[i].image);
        event.process_parent_name = file_name(starts[i].parent_image);
        event.process_command_line = text(starts[i].command_line);
        event.other = other;
        event.other_count = 2;
        dcom_verdict verdict;
        dcom_result r = dcom_rule_evaluate(rule, &event, &verdict);
        if (r != DCOM_OK) {
            fprintf(stderr, "utf8-event #%zu: %s\n", i + 1, dcom_result_message(r));
            continue;
        }
        report(rule, "utf8-event", i + 1, verdict);
    }

    static const struct process_start16 starts16[] = {
        {u"C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE", u"C:\\Windows\\explorer.exe", NULL, "ws-fin-0042", "mlopez"},
        {u"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
         u"C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE",
         u"powershell.exe -ExecutionPolicy Bypass -File C:\\Users\\Public\\Invoke-DCOM.ps1 -ComputerName 10.0.0.5", "ws-fin-0042",
         "mlopez"},
    };
    for (size_t i = 0; i < sizeof starts16 / sizeof starts16[0]; i++) {
        dcom_field16 other[1];
        char16_t host[64];
        size_t n = 0;
        for (; starts16[i].host[n] != '\0' && n < 64; n++) { /* the host name is ASCII here */
            host[n] = (char16_t)starts16[i].host[n];
        }
        other[0].path = text("host.name");
        other[0].value.ptr = host;
        other[0].value.len = n;
        dcom_event16 event = {0};
        event.event_category = CATEGORY16;
        event.event_category_count = 1;
        event.event_type = TYPE16;
        event.event_type_count = 1;
        event.process_name = file_name16(starts16[i].image);
        event.process_parent_name = file_name16(starts16[i].parent_image);
        event.process_command_line = text16(starts16[i].command_line);
        event.other = other;
        event.other_count = 1;
        dcom_verdict verdict;
        dcom_result r = dcom_rule_evaluate_utf16(rule, &event, &verdict);
        if (r != DCOM_OK) {
            fprintf(stderr, "utf16-event #%zu: %s\n", i + 1, dcom_result_message(r));
            continue;
        }
        report(rule, "utf16-event", i + 1, verdict);
    }
}

/* ---- NDJSON ------------------------------------------------------------------------------- */

/* The alert for one record: the verdict, and the ECS document in *alert (grown when the
   library reports that it needs more room; *capacity tracks the size). */
static dcom_result alert_for(const dcom_rule *rule, dcom_scratch *scratch, const char *record, size_t len,
                             const dcom_origin *origin, dcom_verdict *verdict, char **alert, size_t *capacity) {
    size_t needed = 0;
    dcom_result r = dcom_rule_alert_json(rule, scratch, (const uint8_t *)record, len, origin, 0, verdict, *alert,
                                         *capacity, &needed);
    if (r == DCOM_ERROR_BUFFER_TOO_SMALL) {
        char *bigger = realloc(*alert, needed);
        if (bigger == NULL) {
            return r;
        }
        *alert = bigger;
        *capacity = needed;
        r = dcom_rule_alert_json(rule, scratch, (const uint8_t *)record, len, origin, 0, verdict, *alert, *capacity,
                                 &needed);
    }
    return r;
}

static int match_ndjson(const dcom_rule *rule, FILE *in, const char *file) {
    dcom_scratch *scratch = NULL; /* one per thread; this program has one thread */
    dcom_result r = dcom_scratch_create(&scratch);
    if (r != DCOM_OK) {
        fprintf(stderr, "dcom_scratch_create: %s\n", dcom_result_message(r));
        return 0;
    }
    size_t capacity = 4096; /* most alerts fit; alert_for grows it when one does not */
    char *alert = malloc(capacity);
    char *line = NULL;
    size_t line_capacity = 0, number = 0, alerts = 0, suppressed = 0, rejected = 0;
    uint64_t offset = 0;
    ssize_t len;
    while (alert != NULL && (len = getline(&line, &line_capacity, in)) != -1) {
        number++;
        dcom_origin origin = {
            .file = {(const uint8_t *)file, strlen(file)},
            .position = DCOM_POSITION_LINE,
            .line = number,
            .offset = offset,
        };
        offset += (uint64_t)len;
        if (len > 0 && line[len - 1] == '\n') {
            len--;
        }
        dcom_verdict verdict;
        r = alert_for(rule, scratch, line, (size_t)len, &origin, &verdict, &alert, &capacity);
        if (r == DCOM_ERROR_BAD_JSON || r == DCOM_ERROR_INVALID_UTF8) {
            size_t at = 0;
            char message[256];
            dcom_scratch_error_offset(scratch, &at);
            dcom_scratch_error_message(scratch, message, sizeof message, NULL); /* truncated if long */
            fprintf(stderr, "line %zu: rejected at byte %zu: %s\n", number, at, message);
            rejected++;
            continue;
        }
        if (r != DCOM_OK) {
            fprintf(stderr, "line %zu: %s\n", number, dcom_result_message(r));
            continue;
        }
        if (report(rule, "line", number, verdict)) {
            printf("%s\n", alert); /* the ECS alert document, ready for a SIEM */
            alerts++;
        }
        suppressed += verdict.suppressed_by != DCOM_NOT_SUPPRESSED;
    }
    free(line);
    free(alert);
    dcom_scratch_destroy(scratch);
    printf("%zu lines, %zu alerts, %zu suppressed, %zu rejected\n", number, alerts, suppressed, rejected);
    return 1;
}

/* ---- correlation ------------------------------------------------------------------------ */

/* Prints every alert waiting in the session (grown into *alert as the library asks); returns
   how many. */
static size_t print_alerts(dcom_session *session, char **alert, size_t *capacity) {
    size_t printed = 0, needed = 0;
    for (;;) {
        dcom_result r = dcom_session_next_alert(session, *alert, *capacity, &needed);
        if (r == DCOM_ERROR_BUFFER_TOO_SMALL) {
            char *bigger = realloc(*alert, needed);
            if (bigger == NULL) {
                return printed;
            }
            *alert = bigger;
            *capacity = needed;
            continue;
        }
        if (r != DCOM_OK || needed == 0) {
            return printed;
        }
        printf("%s\n", *alert);
        printed++;
    }
}

/* --profile extended: every record fed in input order to one session (one thread). */
static int correlate_ndjson(const dcom_rule *rule, FILE *in, const char *file) {
    dcom_session *session = NULL;
    dcom_result r = dcom_session_create(rule, DCOM_PROFILE_EXTENDED, NULL, 0, &session);
    if (r != DCOM_OK) {
        fprintf(stderr, "dcom_session_create: %s\n", dcom_result_message(r));
        return 0;
    }
    size_t capacity = 4096, line_capacity = 0, number = 0, alerts = 0;
    char *alert = malloc(capacity), *line = NULL;
    uint64_t offset = 0;
    ssize_t len;
    while (alert != NULL && (len = getline(&line, &line_capacity, in)) != -1) {
        dcom_origin origin = {.file = {(const uint8_t *)file, strlen(file)}, .position = DCOM_POSITION_LINE,
                              .line = ++number, .offset = offset};
        offset += (uint64_t)len;
        if (len > 0 && line[len - 1] == '\n') {
            len--;
        }
        r = dcom_session_feed_json(session, (const uint8_t *)line, (size_t)len, &origin, NULL, NULL);
        if (r != DCOM_OK) { /* DCOM_ERROR_QUEUE_FULL cannot happen: the queue is emptied below */
            fprintf(stderr, "line %zu: %s\n", number, dcom_result_message(r));
        }
        alerts += print_alerts(session, &alert, &capacity);
    }
    dcom_session_finish(session, NULL); /* what the state still held */
    alerts += print_alerts(session, &alert, &capacity);
    dcom_session_stats stats = {.struct_size = sizeof stats};
    dcom_session_get_stats(session, &stats);
    printf("%zu lines, %zu alerts (%" PRIu64 " correlations), %" PRIu64 " rejected, %" PRIu64 " evicted\n", number,
           alerts, stats.correlation_alerts, stats.rejected, stats.evicted_hosts + stats.evicted_pending);
    free(line);
    free(alert);
    dcom_session_destroy(session);
    return 1;
}

/* --profile extended, the sensor's own events: a ShellWindows activation as the sensor sees
   it, an inbound TCP connection to explorer.exe and, a second later, explorer starting
   cmd.exe, handed to a session as structs (the fields the correlation reads go in `other`).
   Prints the D3 alert anchored on the child. */
static int correlate_sensor_events(const dcom_rule *rule) {
    dcom_session *session = NULL;
    dcom_result r = dcom_session_create(rule, DCOM_PROFILE_EXTENDED, NULL, 0, &session);
    if (r != DCOM_OK) {
        fprintf(stderr, "dcom_session_create: %s\n", dcom_result_message(r));
        return 0;
    }
    static const dcom_str NETWORK[] = {{(const uint8_t *)"network", 7}};
    dcom_field connection_fields[] = {
        {text("@timestamp"), text("2024-05-01T10:00:00.250Z")}, {text("host.name"), text("ws-fin-0042")},
        {text("network.direction"), text("incoming")},         {text("network.transport"), text("tcp")},
        {text("source.ip"), text("10.0.0.5")},                 {text("source.port"), text("50211")},
        {text("destination.ip"), text("10.0.0.42")},           {text("destination.port"), text("49733")},
        {text("process.pid"), text("5012")},
    };
    dcom_field child_fields[] = {
        {text("@timestamp"), text("2024-05-01T10:00:01.125Z")}, {text("host.name"), text("ws-fin-0042")},
        {text("process.pid"), text("7340")},                    {text("process.parent.pid"), text("5012")},
    };
    dcom_event connection = {.event_category = NETWORK,
                             .event_category_count = 1,
                             .event_type = TYPE,
                             .event_type_count = 1,
                             .process_name = text("explorer.exe"),
                             .other = connection_fields,
                             .other_count = sizeof connection_fields / sizeof connection_fields[0]};
    dcom_event child = {.event_category = CATEGORY, .event_category_count = 1, .event_type = TYPE,
                        .event_type_count = 1, .process_name = text("cmd.exe"),
                        .process_parent_name = text("explorer.exe"), .process_command_line = text("cmd.exe /c whoami"),
                        .other = child_fields, .other_count = sizeof child_fields / sizeof child_fields[0]};
    const dcom_event *events[] = {&connection, &child};
    size_t capacity = 4096, alerts = 0;
    char *alert = malloc(capacity);
    for (size_t i = 0; alert != NULL && i < 2; i++) {
        r = dcom_session_feed_event(session, events[i], NULL, NULL, NULL);
        if (r != DCOM_OK) {
            fprintf(stderr, "sensor event #%zu: %s\n", i + 1, dcom_result_message(r));
        }
        alerts += print_alerts(session, &alert, &capacity);
    }
    dcom_session_finish(session, NULL);
    if (alert != NULL) {
        alerts += print_alerts(session, &alert, &capacity);
    }
    printf("sensor events: 2 fed, %zu correlation alerts\n", alerts);
    free(alert);
    dcom_session_destroy(session);
    return 1;
}

/* The whole file, or NULL (with a message). */
static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return NULL;
    }
    size_t capacity = 1 << 16;
    uint8_t *data = malloc(capacity);
    *len = 0;
    size_t got;
    while (data != NULL && (got = fread(data + *len, 1, capacity - *len, f)) > 0) {
        *len += got;
        if (*len == capacity) {
            uint8_t *bigger = realloc(data, capacity *= 2);
            if (bigger == NULL) {
                free(data);
            }
            data = bigger;
        }
    }
    fclose(f);
    return data;
}

int main(int argc, char **argv) {
    const char *exceptions_path = NULL;
    int arg = 1;
    int correlate = 0;
    if (arg + 1 < argc && strcmp(argv[arg], "--exceptions") == 0) {
        exceptions_path = argv[arg + 1];
        arg += 2;
    }
    if (arg + 1 < argc && strcmp(argv[arg], "--profile") == 0 && strcmp(argv[arg + 1], "extended") == 0) {
        correlate = 1;
        arg += 2;
    }
    dcom_rule_options options = {.struct_size = sizeof options, .case_folding = DCOM_CASE_FOLDING_ASCII};
    uint8_t *exceptions = NULL;
    if (exceptions_path != NULL) {
        exceptions = read_file(exceptions_path, &options.exceptions_len);
        if (exceptions == NULL) {
            return 1;
        }
        options.exceptions = exceptions;
    }
    dcom_rule *rule = NULL;
    char message[1024];
    dcom_result r = dcom_rule_create_ex(&options, &rule, message, sizeof message, NULL);
    free(exceptions); /* compiled into the rule */
    if (r != DCOM_OK) {
        fprintf(stderr, "dcom_rule_create: %s: %s\n", dcom_result_message(r), message);
        return 1;
    }
    size_t items = 0;
    dcom_rule_exception_count(rule, &items);
    printf("dcom-detect %s: %s (%zu exception items)\n", dcom_version(), dcom_rule_metadata()->name, items);
    for (size_t i = 0; i < items; i++) {
        dcom_str name = {NULL, 0};
        dcom_rule_exception_name(rule, i, &name);
        printf("  exception %zu: %.*s\n", i, (int)name.len, (const char *)name.ptr);
    }
    match_sensor_events(rule);

    FILE *in = stdin;
    const char *file = "-";
    if (arg < argc) {
        file = argv[arg];
        if ((in = fopen(file, "rb")) == NULL) {
            perror(file);
            dcom_rule_destroy(rule);
            return 1;
        }
    }
    int ok = correlate ? correlate_sensor_events(rule) && correlate_ndjson(rule, in, file)
                       : match_ndjson(rule, in, file);
    if (in != stdin) {
        fclose(in);
    }
    dcom_rule_destroy(rule);
    return ok ? 0 : 1;
}
