/*
 * test_session.c: the correlation session from C.
 *
 * - A real correlation: the OTRF Excel ExecuteExcel4Macro fixture (4624, 4688, Sysmon 1, 5156,
 *   Sysmon 3 of one remote activation) fed line by line gives D2 and D2L alerts on both
 *   process starts (lines 2 and 3), naming their partners; the ShellWindows fixture gives D3
 *   on lines 3 and 4. The alert buffer starts small and grows as the library asks.
 * - The rule handle destroyed right after the session is created (the session keeps it).
 * - Struct events (dcom_event, dcom_event16) fed as a sensor hands them over: ShellWindows as
 *   an inbound connection to explorer and its child gives D3; dcom_event_json's record; the
 *   struct doors' errors.
 * - Every error path: NULL pointers, an unknown profile or flag, limits out of range or of an
 *   unknown size, bad JSON and invalid UTF-8 (with the offset and message), an inconsistent
 *   origin, a too-small buffer (the alert stays queued), a full queue, feeding and finishing
 *   after finish, a stats struct of an unknown size; and destroy(NULL).
 *
 * usage: test_session DIR   (core/tests/data/correlation)
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dcom_detect.h"
#include "golden.h"

static dcom_str str(const char *s) {
    dcom_str out = {(const uint8_t *)s, s == NULL ? 0 : strlen(s)};
    return out;
}

static const char OFFICE_CHILD[] =
    "{\"event\":{\"category\":\"process\",\"type\":\"start\"},\"process\":{\"name\":\"cmd.exe\",\"parent\":{\"name\":"
    "\"WINWORD.EXE\"}}}";

/* A growing buffer for alerts, as a sensor keeps one. */
typedef struct alert_buffer {
    char *text;
    size_t capacity;
} alert_buffer;

/* Takes the next alert into *b (growing it when asked); 1 if there was one. */
static int next_alert(dcom_session *session, alert_buffer *b) {
    size_t needed = 0;
    dcom_result r = dcom_session_next_alert(session, b->text, b->capacity, &needed);
    if (r == DCOM_ERROR_BUFFER_TOO_SMALL) {
        char *bigger = realloc(b->text, needed);
        if (!CHECK(bigger != NULL)) {
            return 0;
        }
        b->text = bigger;
        b->capacity = needed;
        r = dcom_session_next_alert(session, b->text, b->capacity, &needed);
    }
    CHECK_RESULT(r, DCOM_OK);
    return r == DCOM_OK && needed > 0 && CHECK(needed == strlen(b->text) + 1);
}

/* Feeds every line of DIR/NAME to a new extended session (file name NAME in the origins),
   and returns the alerts, concatenated one per line (caller frees), with their count. */
static char *correlate_file(const dcom_rule *rule, const char *dir, const char *name, size_t *count) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len = 0;
    uint8_t *data = golden_read_file(path, &len);
    *count = 0;
    if (!CHECK(data != NULL)) {
        return NULL;
    }
    dcom_session *session = NULL;
    CHECK_RESULT(dcom_session_create(rule, DCOM_PROFILE_EXTENDED, NULL, 0, &session), DCOM_OK);
    alert_buffer b = {malloc(64), 64};
    size_t all_len = 0;
    char *all = calloc(1, 1);
    size_t pos = 0, line = 0;
    int finished = 0;
    while (session != NULL && b.text != NULL) {
        size_t waiting = 0;
        if (pos < len) {
            const uint8_t *start = data + pos;
            const uint8_t *newline = memchr(start, '\n', len - pos);
            size_t line_len = newline ? (size_t)(newline - start) : len - pos;
            dcom_origin origin = {.file = str(name), .position = DCOM_POSITION_LINE, .line = ++line, .offset = pos};
            pos += line_len + (newline != NULL);
            dcom_verdict verdict;
            CHECK_RESULT(dcom_session_feed_json(session, start, line_len, &origin, &verdict, &waiting), DCOM_OK);
            CHECK(verdict.branches == 0);
        } else if (!finished) {
            CHECK_RESULT(dcom_session_finish(session, &waiting), DCOM_OK);
            finished = 1;
        } else {
            break;
        }
        for (size_t i = 0; i < waiting; i++) {
            if (!next_alert(session, &b)) {
                break;
            }
            size_t n = strlen(b.text);
            char *grown = realloc(all, all_len + n + 2);
            if (!CHECK(grown != NULL)) {
                break;
            }
            all = grown;
            memcpy(all + all_len, b.text, n);
            all[all_len + n] = '\n';
            all[all_len + n + 1] = '\0';
            all_len += n + 1;
            (*count)++;
        }
        /* The queue is empty once the announced alerts were taken. */
        size_t needed = 1;
        CHECK_RESULT(dcom_session_next_alert(session, NULL, 0, &needed), DCOM_OK);
        CHECK_EQ(needed, 0);
    }
    dcom_session_stats stats = {.struct_size = sizeof stats};
    CHECK_RESULT(dcom_session_get_stats(session, &stats), DCOM_OK);
    CHECK_EQ(stats.records, line);
    CHECK_EQ(stats.correlation_alerts, *count);
    CHECK_EQ(stats.correlations, *count);
    CHECK_EQ(stats.waiting, 0);
    CHECK_EQ(stats.unwritten, 0);
    CHECK_EQ(stats.profile, DCOM_PROFILE_EXTENDED);
    dcom_session_destroy(session);
    free(b.text);
    free(data);
    return all;
}

/* How many lines of `alerts` contain both needles. */
static size_t count_with(const char *alerts, const char *a, const char *b) {
    size_t n = 0;
    for (const char *line = alerts; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char *copy = malloc(len + 1);
        if (copy == NULL) {
            return 0;
        }
        memcpy(copy, line, len);
        copy[len] = '\0';
        n += strstr(copy, a) != NULL && strstr(copy, b) != NULL;
        free(copy);
        line = end ? end + 1 : NULL;
    }
    return n;
}

static void test_real_correlations(const char *dir) {
    dcom_rule *rule = NULL;
    CHECK_RESULT(dcom_rule_create(NULL, &rule), DCOM_OK);
    size_t count = 0;
    char *alerts = correlate_file(rule, dir, "otrf_excel4macro.ndjson", &count);
    CHECK_EQ(count, 4);
    if (alerts != NULL) {
        /* Anchored on the process starts (lines 2 and 3), partners: the 5156 (line 4) and the
           4624 (line 1). */
        const char *d2 = "\"correlation\":{\"rule\":\"D2\"";
        const char *d2l = "\"correlation\":{\"rule\":\"D2L\"";
        CHECK_EQ(count_with(alerts, d2, "\"source\":{\"file\":\"otrf_excel4macro.ndjson\",\"line\":2,"), 1);
        CHECK_EQ(count_with(alerts, d2, "\"source\":{\"file\":\"otrf_excel4macro.ndjson\",\"line\":3,"), 1);
        CHECK_EQ(count_with(alerts, d2l, "\"source\":{\"file\":\"otrf_excel4macro.ndjson\",\"line\":2,"), 1);
        CHECK_EQ(count_with(alerts, d2l, "\"source\":{\"file\":\"otrf_excel4macro.ndjson\",\"line\":3,"), 1);
        CHECK_EQ(count_with(alerts, d2, "\"partner\":{\"source\":{\"file\":\"otrf_excel4macro.ndjson\",\"line\":4,"), 2);
        CHECK_EQ(count_with(alerts, d2l, "\"partner\":{\"source\":{\"file\":\"otrf_excel4macro.ndjson\",\"line\":1,"),
                 2);
        CHECK_EQ(count_with(alerts, "\"kind\":\"alert\"", "\"name\":\"EXCEL.EXE\""), 4);
        CHECK_EQ(count_with(alerts, "\"subtechnique\":", "T1021.003"), 4);
    }
    free(alerts);
    alerts = correlate_file(rule, dir, "otrf_shellwindows.ndjson", &count);
    CHECK_EQ(count, 2);
    if (alerts != NULL) {
        const char *d3 = "\"correlation\":{\"rule\":\"D3\"";
        CHECK_EQ(count_with(alerts, d3, "\"source\":{\"file\":\"otrf_shellwindows.ndjson\",\"line\":3,"), 1);
        CHECK_EQ(count_with(alerts, d3, "\"source\":{\"file\":\"otrf_shellwindows.ndjson\",\"line\":4,"), 1);
    }
    free(alerts);
    dcom_rule_destroy(rule);
}

/* The session shares the rule: destroying the handle first is fine. */
static void test_rule_destroyed_first(void) {
    dcom_rule *rule = NULL;
    CHECK_RESULT(dcom_rule_create(NULL, &rule), DCOM_OK);
    dcom_session *session = NULL;
    CHECK_RESULT(dcom_session_create(rule, DCOM_PROFILE_SEED, NULL, DCOM_ALERT_INCLUDE_ORIGINAL, &session), DCOM_OK);
    dcom_rule_destroy(rule);
    size_t waiting = 0;
    dcom_verdict verdict;
    CHECK_RESULT(dcom_session_feed_json(session, (const uint8_t *)OFFICE_CHILD, strlen(OFFICE_CHILD), NULL, &verdict,
                                        &waiting),
                 DCOM_OK);
    CHECK_EQ(waiting, 1);
    CHECK(verdict.branches == DCOM_BRANCH_OFFICE_CHILD && verdict.suppressed_by == DCOM_NOT_SUPPRESSED);
    char alert[4096];
    size_t needed = 0;
    CHECK_RESULT(dcom_session_next_alert(session, alert, sizeof alert, &needed), DCOM_OK);
    CHECK(needed > 1 && strstr(alert, "\"source\":{\"row\":1}") != NULL);
    CHECK(strstr(alert, "\"original\":") != NULL);
    dcom_session_destroy(session);
}

static void test_error_paths(void) {
    dcom_rule *rule = NULL;
    CHECK_RESULT(dcom_rule_create(NULL, &rule), DCOM_OK);
    dcom_session *session = (dcom_session *)&rule; /* not NULL, to see it reset */

    /* Limits. */
    CHECK_RESULT(dcom_session_limits_default(NULL), DCOM_ERROR_NULL_ARGUMENT);
    dcom_session_limits limits;
    CHECK_RESULT(dcom_session_limits_default(&limits), DCOM_OK);
    CHECK_EQ(limits.struct_size, sizeof limits);
    CHECK_EQ(limits.hosts, 4096);
    CHECK_EQ(limits.pending, 256);
    CHECK_EQ(limits.alert_queue, 1024);
    CHECK_EQ(limits.lateness_ms, 60000);
    CHECK_EQ(limits.rewind_ms, 3600000);

    /* Creation. */
    CHECK_RESULT(dcom_session_create(rule, DCOM_PROFILE_EXTENDED, NULL, 0, NULL), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_session_create(NULL, DCOM_PROFILE_EXTENDED, NULL, 0, &session), DCOM_ERROR_NULL_ARGUMENT);
    CHECK(session == NULL);
    for (uint32_t profile = DCOM_PROFILE_SEED; profile <= DCOM_PROFILE_EXTENDED; profile++) {
        CHECK_RESULT(dcom_session_create(rule, profile, NULL, 0, &session), DCOM_OK);
        dcom_session_destroy(session);
    }
    CHECK_RESULT(dcom_session_create(rule, 7, NULL, 0, &session), DCOM_ERROR_INVALID_OPTION);
    CHECK(session == NULL);
    CHECK_RESULT(dcom_session_create(rule, DCOM_PROFILE_EXTENDED, NULL, 2, &session), DCOM_ERROR_INVALID_OPTION);
    dcom_session_limits bad = limits;
    bad.struct_size = 0;
    CHECK_RESULT(dcom_session_create(rule, DCOM_PROFILE_EXTENDED, &bad, 0, &session), DCOM_ERROR_INVALID_OPTION);
    bad = limits;
    bad.hosts = 0;
    CHECK_RESULT(dcom_session_create(rule, DCOM_PROFILE_EXTENDED, &bad, 0, &session), DCOM_ERROR_INVALID_OPTION);
    bad = limits;
    bad.pending = DCOM_SESSION_MAX_PENDING + 1;
    CHECK_RESULT(dcom_session_create(rule, DCOM_PROFILE_EXTENDED, &bad, 0, &session), DCOM_ERROR_INVALID_OPTION);
    bad = limits;
    bad.alert_queue = 0;
    CHECK_RESULT(dcom_session_create(rule, DCOM_PROFILE_EXTENDED, &bad, 0, &session), DCOM_ERROR_INVALID_OPTION);
    bad = limits;
    bad.lateness_ms = UINT64_MAX / 2;
    CHECK_RESULT(dcom_session_create(rule, DCOM_PROFILE_EXTENDED, &bad, 0, &session), DCOM_ERROR_INVALID_OPTION);
    CHECK(session == NULL);
    /* A newer caller's struct: unknown fields must be zero. */
    struct {
        dcom_session_limits v1;
        uint64_t something_new;
    } newer = {limits, 0};
    newer.v1.struct_size = sizeof newer;
    CHECK_RESULT(dcom_session_create(rule, DCOM_PROFILE_EXTENDED, &newer.v1, 0, &session), DCOM_OK);
    dcom_session_destroy(session);
    newer.something_new = 1;
    CHECK_RESULT(dcom_session_create(rule, DCOM_PROFILE_EXTENDED, &newer.v1, 0, &session), DCOM_ERROR_INVALID_OPTION);

    /* A session with a queue of one alert. */
    limits.alert_queue = 1;
    CHECK_RESULT(dcom_session_create(rule, DCOM_PROFILE_EXTENDED, &limits, 0, &session), DCOM_OK);
    dcom_verdict verdict;
    size_t waiting = 99;
    CHECK_RESULT(dcom_session_feed_json(NULL, (const uint8_t *)"{}", 2, NULL, &verdict, &waiting),
                 DCOM_ERROR_NULL_ARGUMENT);
    CHECK(verdict.branches == 0 && verdict.suppressed_by == DCOM_NOT_SUPPRESSED && waiting == 0);
    CHECK_RESULT(dcom_session_feed_json(session, NULL, 5, NULL, NULL, NULL), DCOM_ERROR_NULL_ARGUMENT);
    /* Bad JSON: rejected, with where and why. */
    CHECK_RESULT(dcom_session_feed_json(session, (const uint8_t *)"{\"a\":1,\"a\":2}", 13, NULL, &verdict, &waiting),
                 DCOM_ERROR_BAD_JSON);
    size_t offset = 0;
    char message[128];
    CHECK_RESULT(dcom_session_error_offset(session, &offset), DCOM_OK);
    CHECK_EQ(offset, 7);
    CHECK_RESULT(dcom_session_error_message(session, message, sizeof message, NULL), DCOM_OK);
    CHECK_STR(message, "duplicate key \"a\" in one object");
    CHECK_RESULT(dcom_session_error_offset(NULL, &offset), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_session_error_offset(session, NULL), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_session_error_message(NULL, message, sizeof message, NULL), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_session_error_message(session, NULL, 4, NULL), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_session_feed_json(session, (const uint8_t *)"{\"a\":\"\xff\"}", 9, NULL, NULL, NULL),
                 DCOM_ERROR_INVALID_UTF8);
    CHECK_RESULT(dcom_session_feed_json(session, NULL, 0, NULL, NULL, NULL), DCOM_ERROR_BAD_JSON);
    /* An origin with a line but no position kind. */
    dcom_origin inconsistent = {.file = str("x"), .position = DCOM_POSITION_NONE, .line = 3};
    CHECK_RESULT(dcom_session_feed_json(session, (const uint8_t *)OFFICE_CHILD, strlen(OFFICE_CHILD), &inconsistent,
                                        NULL, NULL),
                 DCOM_ERROR_INVALID_OPTION);
    /* An alert: the queue of one is full. */
    CHECK_RESULT(dcom_session_feed_json(session, (const uint8_t *)OFFICE_CHILD, strlen(OFFICE_CHILD), NULL, &verdict,
                                        &waiting),
                 DCOM_OK);
    CHECK_EQ(waiting, 1);
    CHECK_RESULT(dcom_session_error_offset(session, &offset), DCOM_OK);
    CHECK_EQ(offset, 0);
    CHECK_RESULT(dcom_session_feed_json(session, (const uint8_t *)OFFICE_CHILD, strlen(OFFICE_CHILD), NULL, &verdict,
                                        &waiting),
                 DCOM_ERROR_QUEUE_FULL);
    CHECK_EQ(waiting, 0);
    /* Too small a buffer: the size, and the alert stays. */
    char small[8];
    size_t needed = 0;
    CHECK_RESULT(dcom_session_next_alert(session, small, sizeof small, &needed), DCOM_ERROR_BUFFER_TOO_SMALL);
    CHECK(needed > sizeof small && small[7] == '\0');
    CHECK_RESULT(dcom_session_next_alert(session, NULL, 4, &needed), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_session_next_alert(NULL, small, sizeof small, &needed), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_EQ(needed, 0);
    char *alert = malloc(4096);
    CHECK_RESULT(dcom_session_next_alert(session, alert, 4096, &needed), DCOM_OK);
    CHECK(needed > 1 && strstr(alert, "\"branches\":[\"office_child\"]") != NULL);
    /* Its row: the 4th record fed (the rejected ones count; those refused before being fed,
       for a bad argument or a full queue, do not). */
    CHECK(strstr(alert, "\"source\":{\"row\":4}") != NULL);
    CHECK_RESULT(dcom_session_next_alert(session, alert, 4096, &needed), DCOM_OK);
    CHECK_EQ(needed, 0);
    CHECK(alert[0] == '\0');
    free(alert);

    /* Stats: the caller's struct_size decides what is written. */
    dcom_session_stats stats = {.struct_size = sizeof stats};
    CHECK_RESULT(dcom_session_get_stats(session, &stats), DCOM_OK);
    CHECK_EQ(stats.records, 4);
    CHECK_EQ(stats.rejected, 3);
    CHECK_EQ(stats.alerts, 1);
    CHECK_EQ(stats.struct_size, sizeof stats);
    CHECK_RESULT(dcom_session_get_stats(NULL, &stats), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_session_get_stats(session, NULL), DCOM_ERROR_NULL_ARGUMENT);
    stats.struct_size = 8;
    CHECK_RESULT(dcom_session_get_stats(session, &stats), DCOM_ERROR_INVALID_OPTION);
    struct {
        dcom_session_stats v1;
        uint64_t newer;
    } bigger;
    memset(&bigger, 0xAA, sizeof bigger);
    bigger.v1.struct_size = sizeof bigger;
    CHECK_RESULT(dcom_session_get_stats(session, &bigger.v1), DCOM_OK);
    CHECK_EQ(bigger.v1.records, 4);
    CHECK_EQ(bigger.newer, 0);

    /* Finish: then no more records, no second finish. */
    CHECK_RESULT(dcom_session_finish(NULL, &waiting), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_session_finish(session, &waiting), DCOM_OK);
    CHECK_EQ(waiting, 0);
    CHECK_RESULT(dcom_session_feed_json(session, (const uint8_t *)OFFICE_CHILD, strlen(OFFICE_CHILD), NULL, &verdict,
                                        &waiting),
                 DCOM_ERROR_FINISHED);
    CHECK(verdict.branches == 0 && waiting == 0);
    CHECK_RESULT(dcom_session_finish(session, &waiting), DCOM_ERROR_FINISHED);
    CHECK_RESULT(dcom_session_get_stats(session, &stats), DCOM_ERROR_INVALID_OPTION); /* struct_size still 8 */
    stats.struct_size = sizeof stats;
    CHECK_RESULT(dcom_session_get_stats(session, &stats), DCOM_OK);
    CHECK_EQ(stats.records, 4);

    CHECK_STR(dcom_result_message(DCOM_ERROR_FINISHED),
              "the session's input has ended (dcom_session_finish was called)");
    dcom_session_destroy(session);
    dcom_session_destroy(NULL);
    dcom_rule_destroy(rule);
}

/* A sensor's struct events: ShellWindows seen as an inbound connection to explorer.exe and,
   2 s later, explorer's child, handed over as dcom_event (the connection) and dcom_event16
   (the child), give D3 anchored on the child (row 2); the struct feed is the feed of the
   record dcom_event_json writes. Then the struct doors' errors. */
static void test_struct_events(void) {
    dcom_rule *rule = NULL;
    CHECK_RESULT(dcom_rule_create(NULL, &rule), DCOM_OK);
    dcom_session *session = NULL;
    CHECK_RESULT(dcom_session_create(rule, DCOM_PROFILE_EXTENDED, NULL, 0, &session), DCOM_OK);

    dcom_str network[] = {str("network")}, start[] = {str("start")};
    dcom_field connection_fields[] = {
        {str("@timestamp"), str("2024-05-01T10:00:00Z")}, {str("host.id"), str("ws-7")},
        {str("network.direction"), str("incoming")},      {str("network.transport"), str("tcp")},
        {str("source.ip"), str("10.0.0.5")},              {str("source.port"), str("50000")},
        {str("destination.ip"), str("10.0.0.7")},         {str("destination.port"), str("49700")},
        {str("process.pid"), str("4242")},                {str("process.entity_id"), str("e-explorer")},
    };
    dcom_event connection = {network, 1, start, 1, str("explorer.exe"), str(NULL), str(NULL), connection_fields,
                             sizeof connection_fields / sizeof connection_fields[0]};
    size_t waiting = 99;
    dcom_verdict verdict;
    CHECK_RESULT(dcom_session_feed_event(session, &connection, NULL, &verdict, &waiting), DCOM_OK);
    CHECK(waiting == 0 && verdict.branches == 0);

    /* The child, in UTF-16 (as ETW gives it). */
    static const uint16_t process16[] = {'p', 'r', 'o', 'c', 'e', 's', 's'}, start16[] = {'s', 't', 'a', 'r', 't'};
    static const uint16_t cmd16[] = {'c', 'm', 'd', '.', 'e', 'x', 'e'};
    static const uint16_t explorer16[] = {'e', 'x', 'p', 'l', 'o', 'r', 'e', 'r', '.', 'e', 'x', 'e'};
    static const uint16_t time16[] = {'2', '0', '2', '4', '-', '0', '5', '-', '0', '1', 'T',
                                      '1', '0', ':', '0', '0', ':', '0', '2', 'Z'};
    static const uint16_t host16[] = {'w', 's', '-', '7'}, parent16[] = {'4', '2', '4', '2'};
    dcom_str16 category16[] = {{process16, 7}}, type16[] = {{start16, 5}};
    dcom_field16 child_fields[] = {
        {str("@timestamp"), {time16, 20}}, {str("host.id"), {host16, 4}}, {str("process.parent.pid"), {parent16, 4}}};
    dcom_event16 child = {category16, 1, type16, 1, {cmd16, 7}, {explorer16, 12}, {NULL, 0}, child_fields, 3};
    CHECK_RESULT(dcom_session_feed_event16(session, &child, NULL, &verdict, &waiting), DCOM_OK);
    CHECK(verdict.branches == 0);
    CHECK_RESULT(dcom_session_finish(session, &waiting), DCOM_OK);
    CHECK_EQ(waiting, 1);
    alert_buffer b = {NULL, 0};
    if (next_alert(session, &b)) {
        CHECK(strstr(b.text, "\"correlation\":{\"rule\":\"D3\"") != NULL);
        CHECK(strstr(b.text, "\"source\":{\"row\":2}") != NULL);
        CHECK(strstr(b.text, "\"partner\":{\"source\":{\"row\":1}") != NULL);
        CHECK(strstr(b.text, "\"name\":\"cmd.exe\"") != NULL);
    }
    CHECK(!next_alert(session, &b));
    dcom_session_destroy(session);

    /* The record a struct is fed as. */
    char json[512];
    size_t needed = 0;
    CHECK_RESULT(dcom_event16_json(&child, json, sizeof json, &needed), DCOM_OK);
    CHECK_STR(json, "{\"@timestamp\":\"2024-05-01T10:00:02Z\",\"event.category\":\"process\",\"event.type\":\"start\","
                    "\"host.id\":\"ws-7\",\"process.name\":\"cmd.exe\",\"process.parent.name\":\"explorer.exe\","
                    "\"process.parent.pid\":\"4242\"}");
    CHECK_EQ(needed, strlen(json) + 1);
    CHECK_RESULT(dcom_event_json(&connection, NULL, 0, &needed), DCOM_ERROR_BUFFER_TOO_SMALL);
    CHECK(needed > 100);
    char small[8];
    CHECK_RESULT(dcom_event_json(&connection, small, sizeof small, &needed), DCOM_ERROR_BUFFER_TOO_SMALL);
    CHECK_STR(small, "{\"@time");

    /* Errors: the out-parameters neutral, nothing fed. */
    CHECK_RESULT(dcom_session_create(rule, DCOM_PROFILE_EXTENDED, NULL, 0, &session), DCOM_OK);
    CHECK_RESULT(dcom_session_feed_event(session, NULL, NULL, &verdict, &waiting), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_session_feed_event(NULL, &connection, NULL, &verdict, &waiting), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_event_json(NULL, json, sizeof json, &needed), DCOM_ERROR_NULL_ARGUMENT);
    CHECK(needed == 0 && json[0] == '\0');
    dcom_event bad = connection;
    dcom_field bad_fields[] = {{str("user.name"), {(const uint8_t *)"\xff", 1}}};
    bad.other = bad_fields;
    bad.other_count = 1;
    CHECK_RESULT(dcom_session_feed_event(session, &bad, NULL, &verdict, &waiting), DCOM_ERROR_INVALID_UTF8);
    CHECK_RESULT(dcom_event_json(&bad, json, sizeof json, &needed), DCOM_ERROR_INVALID_UTF8);
    bad_fields[0].path = str(NULL);
    bad_fields[0].value = str("x");
    CHECK_RESULT(dcom_session_feed_event(session, &bad, NULL, &verdict, &waiting), DCOM_ERROR_NULL_ARGUMENT);
    bad.other = NULL; /* with other_count 1 */
    CHECK_RESULT(dcom_session_feed_event(session, &bad, NULL, &verdict, &waiting), DCOM_ERROR_NULL_ARGUMENT);
    child_fields[1].value.ptr = (const uint16_t *)((const uint8_t *)host16 + 1); /* misaligned */
    CHECK_RESULT(dcom_session_feed_event16(session, &child, NULL, &verdict, &waiting), DCOM_ERROR_MISALIGNED_POINTER);
    child_fields[1].value.ptr = host16;
    static const uint16_t lone_surrogate[] = {0xD800};
    child_fields[1].value = (dcom_str16){lone_surrogate, 1};
    CHECK_RESULT(dcom_session_feed_event16(session, &child, NULL, &verdict, &waiting), DCOM_ERROR_INVALID_UTF16);
    dcom_session_stats stats = {.struct_size = sizeof stats};
    CHECK_RESULT(dcom_session_get_stats(session, &stats), DCOM_OK);
    CHECK(stats.records == 0 && stats.rejected == 0);
    /* A record the view refuses: a path that is both a value and an object. */
    dcom_field conflict[] = {{str("process"), str("x")}};
    bad = connection;
    bad.other = conflict;
    bad.other_count = 1;
    CHECK_RESULT(dcom_session_feed_event(session, &bad, NULL, &verdict, &waiting), DCOM_ERROR_BAD_JSON);
    CHECK(verdict.branches == 0 && waiting == 0);
    char message[256];
    CHECK_RESULT(dcom_session_error_message(session, message, sizeof message, NULL), DCOM_OK);
    CHECK(strstr(message, "process") != NULL);
    CHECK_RESULT(dcom_session_get_stats(session, &stats), DCOM_OK);
    CHECK(stats.records == 1 && stats.rejected == 1);
    dcom_session_destroy(session);
    free(b.text);
    dcom_rule_destroy(rule);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORRELATION_FIXTURE_DIR\n", argv[0]);
        return 2;
    }
    test_real_correlations(argv[1]);
    test_rule_destroyed_first();
    test_error_paths();
    test_struct_events();
    return check_summary("test_session");
}
