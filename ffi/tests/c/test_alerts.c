/*
 * test_alerts.c: the alert documents from C must be byte-identical to the golden ones.
 *
 * Reads DIR/events.ndjson line by line, calls dcom_rule_alert_json on each line with the
 * origin core's tests/alerts.rs uses (file "events.ndjson", the 1-based line, the byte offset
 * of the line's start; ASCII folding; no original), and compares every alert produced, in
 * order, with the lines of DIR/alerts.ndjson. The output buffer starts small and grows on
 * DCOM_ERROR_BUFFER_TOO_SMALL to the size reported, as a sensor would do.
 *
 * usage: test_alerts GOLDEN_DIR   (core/tests/golden)
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dcom_detect.h"
#include "golden.h"

/* The next line of `data` (without its '\n') from *pos; 0 at the end. */
static int next_line(const uint8_t *data, size_t len, size_t *pos, const uint8_t **line, size_t *line_len) {
    if (*pos >= len) {
        return 0;
    }
    const uint8_t *start = data + *pos;
    const uint8_t *newline = memchr(start, '\n', len - *pos);
    *line = start;
    *line_len = newline ? (size_t)(newline - start) : len - *pos;
    *pos += *line_len + (newline != NULL);
    return 1;
}

static dcom_str str(const char *s) {
    dcom_str out = {(const uint8_t *)s, s == NULL ? 0 : strlen(s)};
    return out;
}

/* dcom_rule_alert: the alert of a struct event, with host, user and pid from its fields. */
static void struct_event_alerts(dcom_rule *rule, dcom_scratch *scratch) {
    dcom_str process[] = {str("process")};
    dcom_str start[] = {str("start")};
    dcom_field other[] = {
        {str("host.name"), str("ws-01")},
        {str("user.name"), str("alice")},
        {str("process.pid"), str("0x10")},
        {str("@timestamp"), str("2024-05-01T12:00:00Z")},
    };
    dcom_event event = {
        .event_category = process,
        .event_category_count = 1,
        .event_type = start,
        .event_type_count = 1,
        .process_name = str("cmd.exe"),
        .process_parent_name = str("mmc.exe"),
        .process_command_line = str("cmd /c whoami"),
        .other = other,
        .other_count = 4,
    };
    dcom_origin origin = {.file = str("sensor"), .position = DCOM_POSITION_LINE, .line = 7, .offset = 0};
    char alert[4096];
    size_t needed = 0;
    dcom_verdict verdict;
    CHECK_RESULT(dcom_rule_alert(rule, scratch, &event, &origin, 0, &verdict, alert, sizeof alert, &needed), DCOM_OK);
    CHECK(needed == strlen(alert) + 1 && needed > 1);
    CHECK(verdict.branches == DCOM_BRANCH_OFFICE_CHILD && verdict.suppressed_by == DCOM_NOT_SUPPRESSED);
    CHECK(strstr(alert, "\"@timestamp\":\"2024-05-01T12:00:00Z\"") != NULL);
    CHECK(strstr(alert, "\"host\":{\"name\":\"ws-01\"}") != NULL);
    CHECK(strstr(alert, "\"process\":{\"name\":\"cmd.exe\",\"pid\":16,\"command_line\":\"cmd /c whoami\"") != NULL);
    CHECK(strstr(alert, "\"parent\":{\"name\":\"mmc.exe\"}") != NULL);
    CHECK(strstr(alert, "\"schema\":\"fields\"") != NULL);
    CHECK(strstr(alert, "\"source\":{\"file\":\"sensor\",\"line\":7") != NULL);
    /* Too small a buffer: the size needed, then the same document. */
    char small[16];
    size_t again = 0;
    CHECK_RESULT(dcom_rule_alert(rule, scratch, &event, &origin, 0, NULL, small, sizeof small, &again),
                 DCOM_ERROR_BUFFER_TOO_SMALL);
    CHECK_EQ(again, needed);
    /* No alert: nothing written. */
    event.process_parent_name = str("explorer.exe");
    CHECK_RESULT(dcom_rule_alert(rule, scratch, &event, NULL, 0, &verdict, alert, sizeof alert, &needed), DCOM_OK);
    CHECK(needed == 0 && alert[0] == '\0' && verdict.branches == 0);
    /* Bad arguments. */
    CHECK_RESULT(dcom_rule_alert(rule, scratch, &event, NULL, 1, NULL, alert, sizeof alert, &needed),
                 DCOM_ERROR_INVALID_OPTION);
    CHECK_RESULT(dcom_rule_alert(rule, scratch, NULL, NULL, 0, NULL, alert, sizeof alert, &needed),
                 DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_rule_alert(NULL, scratch, &event, NULL, 0, NULL, alert, sizeof alert, &needed),
                 DCOM_ERROR_NULL_ARGUMENT);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s GOLDEN_DIR\n", argv[0]);
        return 2;
    }
    char path[4096];
    size_t events_len = 0, golden_len = 0;
    snprintf(path, sizeof path, "%s/events.ndjson", argv[1]);
    uint8_t *events = golden_read_file(path, &events_len);
    snprintf(path, sizeof path, "%s/alerts.ndjson", argv[1]);
    uint8_t *golden = golden_read_file(path, &golden_len);
    if (events == NULL || golden == NULL) {
        free(events);
        free(golden);
        return 1;
    }

    dcom_rule *rule = NULL;
    dcom_scratch *scratch = NULL;
    dcom_rule_options options = {.struct_size = sizeof options, .case_folding = DCOM_CASE_FOLDING_ASCII};
    CHECK_RESULT(dcom_rule_create(&options, &rule), DCOM_OK);
    CHECK_RESULT(dcom_scratch_create(&scratch), DCOM_OK);

    size_t capacity = 256; /* smaller than any alert: the retry path is exercised */
    char *alert = malloc(capacity);
    size_t events_pos = 0, golden_pos = 0, line = 0, offset = 0;
    size_t alerts = 0, quiet = 0, rejected = 0, grown = 0, differ = 0;
    const uint8_t *record;
    size_t record_len;
    while (next_line(events, events_len, &events_pos, &record, &record_len)) {
        line++;
        dcom_origin origin = {
            .file = {(const uint8_t *)"events.ndjson", 13},
            .position = DCOM_POSITION_LINE,
            .line = line,
            .offset = offset,
        };
        offset = events_pos;
        dcom_verdict verdict;
        size_t needed = 0;
        dcom_result r = dcom_rule_alert_json(rule, scratch, record, record_len, &origin, 0, &verdict, alert, capacity, &needed);
        if (r == DCOM_ERROR_BUFFER_TOO_SMALL) {
            CHECK(needed > capacity);
            capacity = needed;
            alert = realloc(alert, capacity);
            grown++;
            r = dcom_rule_alert_json(rule, scratch, record, record_len, &origin, 0, &verdict, alert, capacity, &needed);
        }
        if (r == DCOM_ERROR_BAD_JSON || r == DCOM_ERROR_INVALID_UTF8) {
            CHECK_EQ(needed, 0);
            rejected++;
            continue;
        }
        if (!CHECK_RESULT(r, DCOM_OK)) {
            continue;
        }
        if (needed == 0) {
            CHECK(alert[0] == '\0');
            CHECK(verdict.branches == 0 && verdict.suppressed_by == DCOM_NOT_SUPPRESSED);
            quiet++;
            continue;
        }
        alerts++;
        CHECK(verdict.branches != 0 && verdict.suppressed_by == DCOM_NOT_SUPPRESSED);
        CHECK_EQ(strlen(alert) + 1, needed);
        const uint8_t *want;
        size_t want_len;
        if (!CHECK(next_line(golden, golden_len, &golden_pos, &want, &want_len))) {
            fprintf(stderr, "events.ndjson line %zu: an alert beyond the %zu golden ones\n", line, alerts - 1);
            continue;
        }
        if (want_len + 1 == needed && memcmp(want, alert, want_len) == 0) {
            check_passed++;
        } else {
            check_failed++;
            if (differ++ < 3) {
                fprintf(stderr, "events.ndjson line %zu: alert %zu differs\n  got:  %s\n  want: %.*s\n", line, alerts, alert,
                        (int)want_len, (const char *)want);
            }
        }
    }
    const uint8_t *extra;
    size_t extra_len;
    if (!CHECK(!next_line(golden, golden_len, &golden_pos, &extra, &extra_len))) {
        fprintf(stderr, "alerts.ndjson has more alerts than the %zu produced\n", alerts);
    }
    CHECK(alerts >= 98 && quiet > 0 && rejected > 0 && grown > 0);
    struct_event_alerts(rule, scratch);
    printf("golden alerts: %zu lines, %zu alerts byte-identical to alerts.ndjson (%zu differ), %zu quiet, %zu rejected, "
           "buffer grown %zu times\n",
           line, alerts - differ, differ, quiet, rejected, grown);
    free(alert);
    dcom_scratch_destroy(scratch);
    dcom_rule_destroy(rule);
    free(events);
    free(golden);
    return check_summary("test_alerts");
}
