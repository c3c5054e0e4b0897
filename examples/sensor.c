/*
 * sensor.c: how an EDR sensor uses dcom-detect's C API.
 *
 * 1. Process starts as the sensor sees them (full image paths and a command line, in UTF-8
 *    and, as ETW delivers them, in UTF-16) are matched on the hot path without copying: the
 *    event only points into the sensor's own strings.
 * 2. JSON records, one per line (NDJSON) from a file or standard input, are matched with a
 *    per-thread scratch; bad lines are reported with their position and skipped.
 * Every match prints one alert line with the rule's metadata and the branches that fired.
 *
 * Build (static; see README):
 *   cargo build --release -p dcom-detect-ffi
 *   cc -std=c11 -Iinclude examples/sensor.c target/release/libdcom_detect.a \
 *      -lgcc_s -lutil -lrt -lpthread -lm -ldl -o sensor
 * Run:
 *   ./sensor [events.ndjson]     (without a file, NDJSON is read from standard input)
 */
#define _POSIX_C_SOURCE 200809L

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
};

struct process_start16 {
    const char16_t *image;
    const char16_t *parent_image;
    const char16_t *command_line;
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

/* ---- alerts ------------------------------------------------------------------------------- */

static void print_alert(const char *source, size_t number, uint32_t branches) {
    const dcom_metadata *m = dcom_rule_metadata();
    printf("ALERT %s #%zu rule=%s \"%s\" severity=%s risk=%u %s/%s branches=", source, number, m->id, m->name,
           m->severity, m->risk_score, m->tactic.id, m->subtechnique.id);
    const char *separator = "";
    for (uint32_t bit = 1; bit <= DCOM_BRANCH_ALL; bit <<= 1) {
        if (branches & bit) {
            printf("%s%s", separator, dcom_branch_name(bit));
            separator = ",";
        }
    }
    printf("\n");
}

static int report(const char *source, size_t number, dcom_result r, uint32_t branches) {
    if (r != DCOM_OK) {
        fprintf(stderr, "%s #%zu: %s\n", source, number, dcom_result_message(r));
        return 0;
    }
    if (branches != 0) {
        print_alert(source, number, branches);
    } else {
        printf("ok    %s #%zu no match\n", source, number);
    }
    return 1;
}

/* ---- the hot path ------------------------------------------------------------------------- */

static void match_sensor_events(const dcom_rule *rule) {
    static const struct process_start starts[] = {
        {"C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\System32\\mmc.exe", "cmd.exe /Q /c whoami"},
        {"C:\\Windows\\System32\\notepad.exe", "C:\\Windows\\explorer.exe", "notepad.exe C:\\notes.txt"},
        {"C:\\Windows\\System32\\dcomcnfg.exe", "C:\\Windows\\explorer.exe", NULL},
    };
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        dcom_event event = {0};
        event.event_category = CATEGORY;
        event.event_category_count = 1;
        event.event_type = TYPE;
        event.event_type_count = 1;
        event.process_name = file_name(starts[i].image);
        event.process_parent_name = file_name(starts[i].parent_image);
        event.process_command_line = text(starts[i].command_line);
        uint32_t branches = 0;
        dcom_result r = dcom_rule_match(rule, &event, &branches);
        report("utf8-event", i + 1, r, branches);
    }

    static const struct process_start16 starts16[] = {
        {u"C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE", u"C:\\Windows\\explorer.exe", NULL},
        {u"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
         u"C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE",
         u"powershell.exe -ExecutionPolicy Bypass -File C:\\Users\\Public\\Invoke-DCOM.ps1 -ComputerName 10.0.0.5"},
    };
    for (size_t i = 0; i < sizeof starts16 / sizeof starts16[0]; i++) {
        dcom_event16 event = {0};
        event.event_category = CATEGORY16;
        event.event_category_count = 1;
        event.event_type = TYPE16;
        event.event_type_count = 1;
        event.process_name = file_name16(starts16[i].image);
        event.process_parent_name = file_name16(starts16[i].parent_image);
        event.process_command_line = text16(starts16[i].command_line);
        uint32_t branches = 0;
        dcom_result r = dcom_rule_match_utf16(rule, &event, &branches);
        report("utf16-event", i + 1, r, branches);
    }
}

/* ---- NDJSON ------------------------------------------------------------------------------- */

static int match_ndjson(const dcom_rule *rule, FILE *in) {
    dcom_scratch *scratch = NULL; /* one per thread; this program has one thread */
    dcom_result r = dcom_scratch_create(&scratch);
    if (r != DCOM_OK) {
        fprintf(stderr, "dcom_scratch_create: %s\n", dcom_result_message(r));
        return 0;
    }
    char *line = NULL;
    size_t capacity = 0, number = 0, matched = 0, rejected = 0;
    ssize_t len;
    while ((len = getline(&line, &capacity, in)) != -1) {
        number++;
        if (len > 0 && line[len - 1] == '\n') {
            len--;
        }
        uint32_t branches = 0;
        r = dcom_rule_match_json(rule, scratch, (const uint8_t *)line, (size_t)len, &branches);
        if (r == DCOM_ERROR_BAD_JSON || r == DCOM_ERROR_INVALID_UTF8) {
            size_t offset = 0;
            char message[256];
            dcom_scratch_error_offset(scratch, &offset);
            dcom_scratch_error_message(scratch, message, sizeof message, NULL); /* truncated if long */
            fprintf(stderr, "line %zu: rejected at byte %zu: %s\n", number, offset, message);
            rejected++;
            continue;
        }
        matched += report("line", number, r, branches) && branches != 0;
    }
    free(line);
    dcom_scratch_destroy(scratch);
    printf("%zu lines, %zu alerts, %zu rejected\n", number, matched, rejected);
    return 1;
}

int main(int argc, char **argv) {
    dcom_rule *rule = NULL;
    dcom_rule_options options = {.struct_size = sizeof options, .case_folding = DCOM_CASE_FOLDING_ASCII};
    dcom_result r = dcom_rule_create(&options, &rule);
    if (r != DCOM_OK) {
        fprintf(stderr, "dcom_rule_create: %s\n", dcom_result_message(r));
        return 1;
    }
    printf("dcom-detect %s: %s\n", dcom_version(), dcom_rule_metadata()->name);
    match_sensor_events(rule);

    FILE *in = stdin;
    if (argc > 1 && (in = fopen(argv[1], "rb")) == NULL) {
        perror(argv[1]);
        dcom_rule_destroy(rule);
        return 1;
    }
    int ok = match_ndjson(rule, in);
    if (in != stdin) {
        fclose(in);
    }
    dcom_rule_destroy(rule);
    return ok ? 0 : 1;
}
