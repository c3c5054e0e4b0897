/*
 * test_tuning.c: exceptions from C. examples/exceptions.json loaded through
 * dcom_rule_options; each of its four false-positive families suppressed by its own item, and
 * each near miss (one condition off) alerting, through every door: dcom_rule_evaluate (UTF-8
 * struct, the extra ECS fields in `other`), dcom_rule_evaluate_utf16, dcom_rule_evaluate_json
 * and dcom_rule_alert_json (the events of core's tests/exceptions.rs). Bad files refused at
 * create time with a message naming the item, entry and field; exception names; the verdict
 * and alert functions' arguments, buffers and neutral out-parameters.
 *
 * usage: test_tuning EXCEPTIONS_JSON   (examples/exceptions.json)
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dcom_detect.h"
#include "golden.h"

static dcom_str str(const char *s) {
    dcom_str r = {(const uint8_t *)s, s ? strlen(s) : 0};
    return r;
}

/* ---- the families ------------------------------------------------------------------------ */

typedef struct family {
    const char *what;
    const char *host, *user, *parent, *name, *command_line;
    const char *subject; /* process.code_signature.subject_name; NULL: no code signature */
    const char *trusted; /* process.code_signature.trusted: "true" or "false" */
    int suppressed_by;   /* the item that suppresses it, or -1: it must alert */
} family;

#define EDR_LINE "powershell.exe -File C:\\Program Files\\Contoso EDR\\response\\collect.ps1"
#define SCCM_LINE "cmd.exe /c C:\\Windows\\CCM\\ccmsetup.exe /update"
#define FINANCE_LINE "wscript.exe \\\\fileserver\\finance\\approved-macros\\close.vbs"

static const family FAMILIES[] = {
    /* Each family's own case, suppressed by its item (file order). */
    {"admin", "mgmt-ws-03", "adm_kwright", "mmc.exe", "powershell.exe", "powershell.exe -NoExit -Command Get-Service", NULL, NULL, 0},
    {"edr", "ws-hr-0117", "SYSTEM", "mmc.exe", "powershell.exe", EDR_LINE, "Microsoft Windows", "true", 1},
    {"sccm", "ws-sales-0233", "SYSTEM", "WINWORD.EXE", "cmd.exe", SCCM_LINE, NULL, NULL, 2},
    {"finance", "ws-fin-0042", "mlopez", "EXCEL.EXE", "wscript.exe", FINANCE_LINE, NULL, NULL, 3},
    /* Near misses: one condition off each time. */
    {"admin on a finance host", "ws-fin-0042", "adm_kwright", "mmc.exe", "powershell.exe", "powershell.exe -NoExit -Command Get-Service", NULL, NULL, -1},
    {"admin: other user", "mgmt-ws-03", "jdoe", "mmc.exe", "powershell.exe", "powershell.exe -NoExit -Command Get-Service", NULL, NULL, -1},
    {"admin: encoded command", "mgmt-ws-03", "adm_kwright", "mmc.exe", "powershell.exe", "powershell.exe -nop -enc SQBFAFgA", NULL, NULL, -1},
    {"admin: cmd.exe", "mgmt-ws-03", "adm_kwright", "mmc.exe", "cmd.exe", "powershell.exe -NoExit -Command Get-Service", NULL, NULL, -1},
    {"edr: other folder", "ws-hr-0117", "SYSTEM", "mmc.exe", "powershell.exe", "powershell.exe -File C:\\Program Files\\Temp\\response\\collect.ps1", "Microsoft Windows", "true", -1},
    {"edr: unsigned", "ws-hr-0117", "SYSTEM", "mmc.exe", "powershell.exe", EDR_LINE, NULL, NULL, -1},
    {"edr: untrusted", "ws-hr-0117", "SYSTEM", "mmc.exe", "powershell.exe", EDR_LINE, "Microsoft Windows", "false", -1},
    {"sccm: other user", "ws-sales-0233", "bob", "WINWORD.EXE", "cmd.exe", SCCM_LINE, NULL, NULL, -1},
    {"sccm: domain controller", "dc-01", "SYSTEM", "WINWORD.EXE", "cmd.exe", SCCM_LINE, NULL, NULL, -1},
    {"sccm: other folder", "ws-sales-0233", "SYSTEM", "WINWORD.EXE", "cmd.exe", "cmd.exe /c C:\\Users\\Public\\ccmsetup.exe /update", NULL, NULL, -1},
    {"finance: other host", "ws-hr-0117", "mlopez", "EXCEL.EXE", "wscript.exe", FINANCE_LINE, NULL, NULL, -1},
    {"finance: other share", "ws-fin-0042", "mlopez", "EXCEL.EXE", "wscript.exe", "wscript.exe \\\\fileserver\\finance\\downloads\\close.vbs", NULL, NULL, -1},
    {"finance: http", "ws-fin-0042", "mlopez", "EXCEL.EXE", "wscript.exe", "wscript.exe \\\\fileserver\\finance\\approved-macros\\http-get.vbs", NULL, NULL, -1},
    {"finance: mshta", "ws-fin-0042", "mlopez", "EXCEL.EXE", "mshta.exe", FINANCE_LINE, NULL, NULL, -1},
    /* Genuine DCOM lateral movement (impacket's dcomexec). */
    {"impacket dcomexec", "ws-fin-0042", "adm_kwright", "mmc.exe", "cmd.exe", "cmd.exe /Q /c whoami 1> \\\\127.0.0.1\\ADMIN$\\__1556656511.61 2>&1", NULL, NULL, -1},
};
enum { FAMILY_COUNT = sizeof FAMILIES / sizeof FAMILIES[0] };

static const char *const ITEM_NAMES[4] = {
    "Managed endpoints: administrators start PowerShell from MMC",
    "EDR agent: response scripts through MMC COM automation",
    "SCCM / Intune patch cycles drive Office COM",
    "Finance: approved Excel macros start wscript or cmd",
};

/* `s` as the inside of a JSON string (these values only need '\\' and '"' escaped). */
static void json_escape(char *out, size_t size, const char *s) {
    size_t n = 0;
    for (; *s && n + 3 < size; s++) {
        if (*s == '\\' || *s == '"') {
            out[n++] = '\\';
        }
        out[n++] = *s;
    }
    out[n] = '\0';
}

/* The record, shaped exactly as core's test writes it. */
static size_t family_json(const family *f, char *out, size_t size) {
    char host[128], user[128], parent[128], name[128], line[512], extra[256] = "";
    json_escape(host, sizeof host, f->host);
    json_escape(user, sizeof user, f->user);
    json_escape(parent, sizeof parent, f->parent);
    json_escape(name, sizeof name, f->name);
    json_escape(line, sizeof line, f->command_line);
    if (f->subject != NULL) {
        snprintf(extra, sizeof extra, ",\"code_signature\":{\"subject_name\":\"%s\",\"trusted\":%s}", f->subject, f->trusted);
    }
    int n = snprintf(out, size,
                     "{\"event\":{\"category\":[\"process\"],\"type\":[\"start\"]},\"host\":{\"name\":\"%s\"},"
                     "\"user\":{\"name\":\"%s\"},\"process\":{\"name\":\"%s\",\"command_line\":\"%s\","
                     "\"parent\":{\"name\":\"%s\"}%s}}",
                     host, user, name, line, parent, extra);
    return (size_t)n;
}

static const dcom_str CATEGORY[] = {{(const uint8_t *)"process", 7}};
static const dcom_str TYPE[] = {{(const uint8_t *)"start", 5}};

/* The UTF-8 struct: the rule's fields in their slots, the exceptions' in `other`. */
/* dcom_rule_evaluate on the family's event; *match_bits gets dcom_rule_match's answer. */
static dcom_verdict family_utf8(const dcom_rule *rule, const family *f, dcom_result *code, uint32_t *match_bits) {
    dcom_field other[4];
    size_t n = 0;
    other[n++] = (dcom_field){str("host.name"), str(f->host)};
    other[n++] = (dcom_field){str("user.name"), str(f->user)};
    if (f->subject != NULL) {
        other[n++] = (dcom_field){str("process.code_signature.subject_name"), str(f->subject)};
        other[n++] = (dcom_field){str("process.code_signature.trusted"), str(f->trusted)};
    }
    dcom_event e;
    memset(&e, 0, sizeof e);
    e.event_category = CATEGORY;
    e.event_category_count = 1;
    e.event_type = TYPE;
    e.event_type_count = 1;
    e.process_name = str(f->name);
    e.process_parent_name = str(f->parent);
    e.process_command_line = str(f->command_line);
    e.other = other;
    e.other_count = n;
    dcom_verdict v = {0xFFFFFFFFu, 99};
    *code = dcom_rule_evaluate(rule, &e, &v);
    *match_bits = 0xDEAD;
    if (*code == DCOM_OK) {
        *code = dcom_rule_match(rule, &e, match_bits);
    }
    return v;
}

/* ASCII to UTF-16 (every value here is ASCII). */
typedef struct wide {
    uint16_t units[256];
} wide;

static dcom_str16 widen(wide *w, const char *s) {
    size_t n = 0;
    for (; s[n] && n < sizeof w->units / sizeof w->units[0]; n++) {
        w->units[n] = (uint16_t)(unsigned char)s[n];
    }
    dcom_str16 r = {w->units, n};
    return r;
}

static dcom_verdict family_utf16(const dcom_rule *rule, const family *f, dcom_result *code) {
    wide w[10];
    dcom_str16 category[1], type[1];
    category[0] = widen(&w[0], "process");
    type[0] = widen(&w[1], "start");
    dcom_field16 other[4];
    size_t n = 0;
    other[n++] = (dcom_field16){str("host.name"), widen(&w[2], f->host)};
    other[n++] = (dcom_field16){str("user.name"), widen(&w[3], f->user)};
    if (f->subject != NULL) {
        other[n++] = (dcom_field16){str("process.code_signature.subject_name"), widen(&w[4], f->subject)};
        other[n++] = (dcom_field16){str("process.code_signature.trusted"), widen(&w[5], f->trusted)};
    }
    dcom_event16 e;
    memset(&e, 0, sizeof e);
    e.event_category = category;
    e.event_category_count = 1;
    e.event_type = type;
    e.event_type_count = 1;
    e.process_name = widen(&w[6], f->name);
    e.process_parent_name = widen(&w[7], f->parent);
    e.process_command_line = widen(&w[8], f->command_line);
    e.other = other;
    e.other_count = n;
    dcom_verdict v = {0xFFFFFFFFu, 99};
    *code = dcom_rule_evaluate_utf16(rule, &e, &v);
    return v;
}

static int same_verdict(dcom_verdict a, dcom_verdict b) {
    return a.branches == b.branches && a.suppressed_by == b.suppressed_by;
}

/* ---- the tests ----------------------------------------------------------------------------- */

static uint8_t *example;
static size_t example_len;

static dcom_rule *tuned_rule(uint32_t folding) {
    dcom_rule_options options = {
        .struct_size = sizeof(dcom_rule_options),
        .case_folding = folding,
        .exceptions = example,
        .exceptions_len = example_len,
    };
    dcom_rule *rule = NULL;
    char message[512];
    size_t needed = 99;
    CHECK_RESULT(dcom_rule_create_ex(&options, &rule, message, sizeof message, &needed), DCOM_OK);
    CHECK_STR(message, "");
    CHECK_EQ(needed, 1);
    return rule;
}

static void test_families(void) {
    static const uint32_t foldings[2] = {DCOM_CASE_FOLDING_ASCII, DCOM_CASE_FOLDING_UNICODE_SIMPLE};
    dcom_scratch *scratch = NULL;
    CHECK_RESULT(dcom_scratch_create(&scratch), DCOM_OK);
    char record[2048];
    char alert[8192];
    size_t suppressed = 0, alerted = 0;
    for (int k = 0; k < 2; k++) {
        dcom_rule *rule = tuned_rule(foldings[k]);
        dcom_rule *plain = NULL;
        CHECK_RESULT(dcom_rule_create(NULL, &plain), DCOM_OK);
        for (size_t i = 0; i < FAMILY_COUNT; i++) {
            const family *f = &FAMILIES[i];
            const dcom_verdict want = {DCOM_BRANCH_OFFICE_CHILD, f->suppressed_by};
            size_t len = family_json(f, record, sizeof record);
            dcom_result code;
            int ok = 1;

            /* The match functions answer "alert?": the branch bits, or 0 when suppressed. */
            const uint32_t alert_bits = f->suppressed_by >= 0 ? 0 : DCOM_BRANCH_OFFICE_CHILD;
            uint32_t branches = 0xDEAD;
            dcom_verdict v = family_utf8(rule, f, &code, &branches);
            ok &= CHECK_RESULT(code, DCOM_OK) && CHECK(same_verdict(v, want)) && CHECK_EQ(branches, alert_bits);
            v = family_utf16(rule, f, &code);
            ok &= CHECK_RESULT(code, DCOM_OK) && CHECK(same_verdict(v, want));
            v = (dcom_verdict){0xFFFFFFFFu, 99};
            ok &= CHECK_RESULT(dcom_rule_evaluate_json(rule, scratch, (const uint8_t *)record, len, &v), DCOM_OK);
            ok &= CHECK(same_verdict(v, want));

            branches = 0xDEAD;
            ok &= CHECK_RESULT(dcom_rule_match_json(rule, scratch, (const uint8_t *)record, len, &branches), DCOM_OK);
            ok &= CHECK_EQ(branches, alert_bits);

            /* The alert door: an alert exactly when nothing suppressed it. */
            size_t needed = 99;
            memset(alert, 'x', sizeof alert);
            v = (dcom_verdict){0xFFFFFFFFu, 99};
            ok &= CHECK_RESULT(dcom_rule_alert_json(rule, scratch, (const uint8_t *)record, len, NULL, 0, &v, alert,
                                                    sizeof alert, &needed),
                               DCOM_OK);
            ok &= CHECK(same_verdict(v, want));
            if (f->suppressed_by >= 0) {
                ok &= CHECK_EQ(needed, 0) && CHECK(alert[0] == '\0' && alert[1] == 'x');
                suppressed++;
                /* The same record without exceptions alerts. */
                CHECK_RESULT(dcom_rule_alert_json(plain, scratch, (const uint8_t *)record, len, NULL, 0, &v, alert,
                                                  sizeof alert, &needed),
                             DCOM_OK);
                CHECK(needed > 1 && v.suppressed_by == DCOM_NOT_SUPPRESSED);
            } else {
                ok &= CHECK(needed > 1 && needed == strlen(alert) + 1);
                ok &= CHECK(strstr(alert, "\"kind\":\"alert\"") != NULL);
                ok &= CHECK(strstr(alert, "\"branches\":[\"office_child\"]") != NULL);
                alerted++;
            }
            if (!ok) {
                fprintf(stderr, "  case: %s (folding %u): %s\n", f->what, foldings[k], record);
            }
        }
        dcom_rule_destroy(plain);
        dcom_rule_destroy(rule);
    }
    dcom_scratch_destroy(scratch);
    CHECK_EQ(suppressed, 2 * 4);
    CHECK_EQ(alerted, 2 * (FAMILY_COUNT - 4));
    printf("families: %zu suppressed by their item, %zu near misses alert, on every door\n", suppressed, alerted);
}

static void test_names(void) {
    dcom_rule *rule = tuned_rule(DCOM_CASE_FOLDING_ASCII);
    size_t count = 99;
    CHECK_RESULT(dcom_rule_exception_count(rule, &count), DCOM_OK);
    CHECK_EQ(count, 4);
    for (size_t i = 0; i < 4; i++) {
        dcom_str name = {NULL, 0};
        CHECK_RESULT(dcom_rule_exception_name(rule, i, &name), DCOM_OK);
        CHECK(name.len == strlen(ITEM_NAMES[i]) && memcmp(name.ptr, ITEM_NAMES[i], name.len) == 0);
    }
    dcom_str name = str("stale");
    CHECK_RESULT(dcom_rule_exception_name(rule, 4, &name), DCOM_ERROR_OUT_OF_RANGE);
    CHECK(name.ptr == NULL && name.len == 0);
    CHECK_RESULT(dcom_rule_exception_name(rule, SIZE_MAX, &name), DCOM_ERROR_OUT_OF_RANGE);
    CHECK_RESULT(dcom_rule_exception_name(NULL, 0, &name), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_rule_exception_name(rule, 0, NULL), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_rule_exception_count(NULL, &count), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_EQ(count, 0);
    CHECK_RESULT(dcom_rule_exception_count(rule, NULL), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_STR(dcom_result_message(DCOM_ERROR_OUT_OF_RANGE), "index out of range");
    dcom_rule_destroy(rule);

    /* Without exceptions: none. */
    CHECK_RESULT(dcom_rule_create(NULL, &rule), DCOM_OK);
    CHECK_RESULT(dcom_rule_exception_count(rule, &count), DCOM_OK);
    CHECK_EQ(count, 0);
    CHECK_RESULT(dcom_rule_exception_name(rule, 0, &name), DCOM_ERROR_OUT_OF_RANGE);
    dcom_rule_destroy(rule);
}

/* Creates a rule from `json`; expects BAD_EXCEPTIONS and every needle in the message. */
static void refused(const char *json, const char *const *needles) {
    dcom_rule_options options = {
        .struct_size = sizeof options,
        .exceptions = (const uint8_t *)json,
        .exceptions_len = strlen(json),
    };
    dcom_rule *rule = (dcom_rule *)&options;
    char message[1024];
    size_t needed = 0;
    CHECK_RESULT(dcom_rule_create_ex(&options, &rule, message, sizeof message, &needed), DCOM_ERROR_BAD_EXCEPTIONS);
    CHECK(rule == NULL);
    CHECK(needed == strlen(message) + 1);
    CHECK(strncmp(message, "bad exceptions file", 19) == 0);
    for (; *needles != NULL; needles++) {
        if (!CHECK(strstr(message, *needles) != NULL)) {
            fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", message, *needles);
        }
    }
    rule = (dcom_rule *)&options;
    CHECK_RESULT(dcom_rule_create(&options, &rule), DCOM_ERROR_BAD_EXCEPTIONS);
    CHECK(rule == NULL);
}

static void test_bad_files(void) {
    refused("not json", (const char *const[]){"not valid JSON", NULL});
    refused("{\"items\":[]}", (const char *const[]){"expected {\"exceptions\": [...]}", NULL});
    refused("[{\"entries\":[{\"field\":\"a\",\"operator\":\"exists\"}]}]", (const char *const[]){"item 1", "needs a \"name\"", NULL});
    refused("[{\"name\":\"x\",\"entries\":[]}]", (const char *const[]){"item 1 (\"x\")", "would suppress every alert", NULL});
    refused("[{\"name\":\"ok\",\"entries\":[{\"field\":\"a\",\"operator\":\"exists\"}]},"
            "{\"name\":\"second\",\"entries\":[{\"field\":\"host.name\",\"operator\":\"equals\",\"value\":\"x\"}]}]",
            (const char *const[]){"item 2 (\"second\")", "entry 1", "(field \"host.name\")", "unknown operator \"equals\"", NULL});
    refused("{\"exceptions\":[{\"name\":\"Finance\",\"entries\":[{\"field\":\"host.name\",\"operator\":\"exists\"},"
            "{\"field\":\"user.name\",\"operator\":\"is one of\",\"value\":\"a\"}]}]}",
            (const char *const[]){"item 1 (\"Finance\")", "entry 2", "(field \"user.name\")", "needs a list of strings", NULL});
    refused("[{\"name\":\"x\",\"entries\":[{\"field\":\"host.name\",\"operator\":\"is\",\"value\":\"a\",\"vaule\":\"b\"}]}]",
            (const char *const[]){"unknown key \"vaule\"", NULL});
    refused("[{\"name\":\"x\",\"entries\":[{\"field\":\"host..name\",\"operator\":\"exists\"}]}]",
            (const char *const[]){"dotted ECS path", NULL});
    /* Not UTF-8: refused by the JSON parser, with a message. */
    refused("[{\"name\":\"\xff\"}]", (const char *const[]){"not valid JSON", NULL});

    /* A present, empty buffer is an empty file (refused), not "no exceptions". */
    dcom_rule_options options = {.struct_size = sizeof options, .exceptions = (const uint8_t *)"", .exceptions_len = 0};
    dcom_rule *rule = NULL;
    CHECK_RESULT(dcom_rule_create(&options, &rule), DCOM_ERROR_BAD_EXCEPTIONS);
    options.exceptions = NULL;
    CHECK_RESULT(dcom_rule_create(&options, &rule), DCOM_OK);
    dcom_rule_destroy(rule);
    options.exceptions_len = 5; /* NULL with a length */
    char message[256];
    CHECK_RESULT(dcom_rule_create_ex(&options, &rule, message, sizeof message, NULL), DCOM_ERROR_NULL_ARGUMENT);
    CHECK(strncmp(message, "dcom_rule_options.exceptions: ", 30) == 0);

    /* The message buffer: size only, cut at the size given, never BUFFER_TOO_SMALL. */
    const char *bad = "[{\"name\":\"x\",\"entries\":[]}]";
    options.exceptions = (const uint8_t *)bad;
    options.exceptions_len = strlen(bad);
    size_t needed = 0, full;
    CHECK_RESULT(dcom_rule_create_ex(&options, &rule, NULL, 0, &needed), DCOM_ERROR_BAD_EXCEPTIONS);
    full = needed;
    CHECK(full > 40);
    memset(message, 'x', sizeof message);
    CHECK_RESULT(dcom_rule_create_ex(&options, &rule, message, 20, &needed), DCOM_ERROR_BAD_EXCEPTIONS);
    CHECK_EQ(needed, full);
    CHECK_STR(message, "bad exceptions file");
    CHECK(message[20] == 'x');
    CHECK_RESULT(dcom_rule_create_ex(&options, &rule, message, full, &needed), DCOM_ERROR_BAD_EXCEPTIONS);
    CHECK_EQ(strlen(message) + 1, full);
    CHECK_RESULT(dcom_rule_create_ex(&options, &rule, NULL, 0, NULL), DCOM_ERROR_BAD_EXCEPTIONS);
    /* Bad message arguments are refused before anything else. */
    rule = (dcom_rule *)&options;
    CHECK_RESULT(dcom_rule_create_ex(NULL, &rule, NULL, 8, &needed), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_EQ(needed, 0);
    /* Other failures are explained too. */
    dcom_rule_options folding = {.struct_size = sizeof folding, .case_folding = 7};
    CHECK_RESULT(dcom_rule_create_ex(&folding, &rule, message, sizeof message, &needed), DCOM_ERROR_INVALID_OPTION);
    CHECK(strstr(message, "case_folding is 7") != NULL);
    CHECK_RESULT(dcom_rule_create_ex(NULL, NULL, message, sizeof message, &needed), DCOM_ERROR_NULL_ARGUMENT);
    CHECK(strncmp(message, "rule: ", 6) == 0);
    CHECK(strstr(dcom_result_message(DCOM_ERROR_BAD_EXCEPTIONS), "exceptions") != NULL);
}

static const char *MATCH =
    "{\"@timestamp\":\"2024-05-01T10:00:00Z\",\"event\":{\"category\":\"process\",\"type\":\"start\"},"
    "\"process\":{\"name\":\"cmd.exe\",\"parent\":{\"name\":\"mmc.exe\"}},\"host\":{\"name\":\"h\\u00e9\"}}";

static void test_alert_buffers_and_arguments(void) {
    dcom_rule *rule = tuned_rule(DCOM_CASE_FOLDING_ASCII);
    dcom_scratch *scratch = NULL;
    CHECK_RESULT(dcom_scratch_create(&scratch), DCOM_OK);
    const uint8_t *json = (const uint8_t *)MATCH;
    size_t len = strlen(MATCH);
    dcom_verdict v;
    size_t needed = 0;
    char full[4096];

    /* Size only, then exactly enough, then one byte short. */
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, json, len, NULL, 0, &v, NULL, 0, &needed), DCOM_ERROR_BUFFER_TOO_SMALL);
    CHECK(v.branches == 0 && v.suppressed_by == DCOM_NOT_SUPPRESSED);
    size_t size = needed;
    CHECK(size > 100 && size < sizeof full);
    char *exact = malloc(size);
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, json, len, NULL, 0, &v, exact, size, &needed), DCOM_OK);
    CHECK_EQ(needed, size);
    CHECK_EQ(strlen(exact) + 1, size);
    CHECK(v.branches == DCOM_BRANCH_OFFICE_CHILD && v.suppressed_by == DCOM_NOT_SUPPRESSED);
    CHECK(strstr(exact, "\"host\":{\"name\":\"h\xC3\xA9\"}") != NULL);
    memcpy(full, exact, size);
    memset(exact, 'x', size);
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, json, len, NULL, 0, &v, exact, size - 1, &needed), DCOM_ERROR_BUFFER_TOO_SMALL);
    CHECK_EQ(needed, size);
    CHECK(exact[size - 2] == '\0' && exact[size - 1] == 'x');
    CHECK(strncmp(exact, full, size - 2) == 0);
    free(exact);

    /* The original, embedded on request. */
    char with_original[8192];
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, json, len, NULL, DCOM_ALERT_INCLUDE_ORIGINAL, NULL, with_original,
                                      sizeof with_original, &needed),
                 DCOM_OK);
    CHECK(strstr(with_original, "\"original\":\"{\\\"@timestamp\\\"") != NULL);
    CHECK(strstr(full, "\"original\"") == NULL);

    /* Origins: a line, an EVTX record, and inconsistent ones. */
    dcom_origin line = {.file = str("sensor.ndjson"), .position = DCOM_POSITION_LINE, .line = 7, .offset = 1234};
    char buffer[4096];
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, json, len, &line, 0, NULL, buffer, sizeof buffer, NULL), DCOM_OK);
    CHECK(strstr(buffer, "\"log\":{\"file\":{\"path\":\"sensor.ndjson\"},\"offset\":1234}") != NULL);
    CHECK(strstr(buffer, "\"source\":{\"file\":\"sensor.ndjson\",\"line\":7,\"offset\":1234}") != NULL);
    dcom_origin evtx = {.file = str("Security.evtx"), .position = DCOM_POSITION_EVTX, .record = 3, .has_event_record_id = 1, .event_record_id = 4242};
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, json, len, &evtx, 0, NULL, buffer, sizeof buffer, NULL), DCOM_OK);
    CHECK(strstr(buffer, "\"source\":{\"file\":\"Security.evtx\",\"record\":3,\"event_record_id\":4242}") != NULL);
    dcom_origin forgot = {.file = str("x"), .line = 7}; /* position left at NONE */
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, json, len, &forgot, 0, &v, buffer, sizeof buffer, &needed), DCOM_ERROR_INVALID_OPTION);
    CHECK(needed == 0 && buffer[0] == '\0' && v.branches == 0);
    dcom_origin unknown = {.position = 3};
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, json, len, &unknown, 0, NULL, buffer, sizeof buffer, NULL), DCOM_ERROR_INVALID_OPTION);
    dcom_origin bad_file = {.file = {(const uint8_t *)"\xC3", 1}};
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, json, len, &bad_file, 0, NULL, buffer, sizeof buffer, NULL), DCOM_ERROR_INVALID_UTF8);
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, json, len, NULL, 2, NULL, buffer, sizeof buffer, NULL), DCOM_ERROR_INVALID_OPTION);

    /* NULL arguments; every failure leaves the out-parameters neutral. */
    v = (dcom_verdict){7, 7};
    needed = 7;
    CHECK_RESULT(dcom_rule_alert_json(NULL, scratch, json, len, NULL, 0, &v, buffer, sizeof buffer, &needed), DCOM_ERROR_NULL_ARGUMENT);
    CHECK(v.branches == 0 && v.suppressed_by == DCOM_NOT_SUPPRESSED && needed == 0 && buffer[0] == '\0');
    CHECK_RESULT(dcom_rule_alert_json(rule, NULL, json, len, NULL, 0, &v, buffer, sizeof buffer, &needed), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, NULL, 3, NULL, 0, &v, buffer, sizeof buffer, &needed), DCOM_ERROR_NULL_ARGUMENT);
    needed = 7;
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, json, len, NULL, 0, &v, NULL, 9, &needed), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_EQ(needed, 0);
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, NULL, 0, NULL, 0, &v, buffer, sizeof buffer, &needed), DCOM_ERROR_BAD_JSON);
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, (const uint8_t *)"{\"a\":1,\"a\":2}", 13, NULL, 0, &v, buffer,
                                      sizeof buffer, &needed),
                 DCOM_ERROR_BAD_JSON);
    size_t offset = 0;
    CHECK_RESULT(dcom_scratch_error_offset(scratch, &offset), DCOM_OK);
    CHECK_EQ(offset, 7);
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, (const uint8_t *)"{\"a\":\"\xff\"}", 10, NULL, 0, &v, buffer,
                                      sizeof buffer, &needed),
                 DCOM_ERROR_INVALID_UTF8);
    _Alignas(8) unsigned char raw[32];
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, json, len, NULL, 0, (dcom_verdict *)(void *)(raw + 1), buffer,
                                      sizeof buffer, &needed),
                 DCOM_ERROR_MISALIGNED_POINTER);
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, json, len, NULL, 0, &v, buffer, sizeof buffer, (size_t *)(void *)(raw + 1)),
                 DCOM_ERROR_MISALIGNED_POINTER);
    /* A record without an alert: DCOM_OK, needed 0, the empty string. */
    const char *quiet = "{\"event\":{\"category\":\"process\",\"type\":\"start\"},\"process\":{\"name\":\"notepad.exe\"}}";
    memset(buffer, 'x', 4);
    needed = 7;
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, (const uint8_t *)quiet, strlen(quiet), NULL, 0, &v, buffer, sizeof buffer, &needed), DCOM_OK);
    CHECK(needed == 0 && buffer[0] == '\0' && buffer[1] == 'x' && v.branches == 0 && v.suppressed_by == DCOM_NOT_SUPPRESSED);
    CHECK_RESULT(dcom_rule_alert_json(rule, scratch, (const uint8_t *)quiet, strlen(quiet), NULL, 0, NULL, NULL, 0, NULL), DCOM_OK);

    /* The evaluate functions' arguments. */
    dcom_event e;
    memset(&e, 0, sizeof e);
    v = (dcom_verdict){7, 7};
    CHECK_RESULT(dcom_rule_evaluate(NULL, &e, &v), DCOM_ERROR_NULL_ARGUMENT);
    CHECK(v.branches == 0 && v.suppressed_by == DCOM_NOT_SUPPRESSED);
    CHECK_RESULT(dcom_rule_evaluate(rule, NULL, &v), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_rule_evaluate(rule, &e, NULL), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_rule_evaluate(rule, &e, &v), DCOM_OK);
    CHECK(v.branches == 0 && v.suppressed_by == DCOM_NOT_SUPPRESSED);
    dcom_field bad_other[] = {{str("host.name"), {(const uint8_t *)"\xff", 1}}};
    e.other = bad_other;
    e.other_count = 1;
    CHECK_RESULT(dcom_rule_evaluate(rule, &e, &v), DCOM_ERROR_INVALID_UTF8);
    dcom_event16 e16;
    memset(&e16, 0, sizeof e16);
    CHECK_RESULT(dcom_rule_evaluate_utf16(NULL, &e16, &v), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_rule_evaluate_utf16(rule, NULL, &v), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_rule_evaluate_utf16(rule, &e16, NULL), DCOM_ERROR_NULL_ARGUMENT);
    static const uint16_t lone[] = {0xD800};
    dcom_field16 bad16[] = {{str("user.name"), {lone, 1}}};
    e16.other = bad16;
    e16.other_count = 1;
    CHECK_RESULT(dcom_rule_evaluate_utf16(rule, &e16, &v), DCOM_ERROR_INVALID_UTF16);
    CHECK_RESULT(dcom_rule_evaluate_json(NULL, scratch, json, len, &v), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_rule_evaluate_json(rule, NULL, json, len, &v), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_rule_evaluate_json(rule, scratch, json, len, NULL), DCOM_ERROR_NULL_ARGUMENT);
    v = (dcom_verdict){7, 7};
    CHECK_RESULT(dcom_rule_evaluate_json(rule, scratch, (const uint8_t *)"[]", 2, &v), DCOM_ERROR_BAD_JSON);
    CHECK(v.branches == 0 && v.suppressed_by == DCOM_NOT_SUPPRESSED);

    dcom_scratch_destroy(scratch);
    dcom_rule_destroy(rule);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s EXCEPTIONS_JSON\n", argv[0]);
        return 2;
    }
    example = golden_read_file(argv[1], &example_len);
    if (example == NULL) {
        return 1;
    }
    CHECK_EQ(DCOM_ERROR_BAD_EXCEPTIONS, 11);
    CHECK_EQ(DCOM_ERROR_OUT_OF_RANGE, 12);
    CHECK_EQ(DCOM_NOT_SUPPRESSED, -1);
    test_families();
    test_names();
    test_bad_files();
    test_alert_buffers_and_arguments();
    free(example);
    return check_summary("test_tuning");
}
