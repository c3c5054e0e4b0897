/*
 * test_api.c: the C API from C. Every result code a caller can provoke, NULL and zero-length
 * arguments, invalid UTF-8 and UTF-16 (lone surrogates, misaligned pointers), options, the
 * static texts and metadata, and the verdicts of each door.
 *
 * DCOM_ERROR_INTERNAL cannot be provoked through the API (it needs a bug); the Rust unit
 * tests check the panic guard that produces it. Here its code and message are checked.
 */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uchar.h>

#include "check.h"
#include "dcom_detect.h"

/* ---- building events ---------------------------------------------------------------- */

static dcom_str str(const char *s) {
    dcom_str r = {(const uint8_t *)s, s ? strlen(s) : 0};
    return r;
}

static size_t len16(const char16_t *s) {
    size_t n = 0;
    while (s[n] != 0) {
        n++;
    }
    return n;
}

static dcom_str16 str16(const char16_t *s) {
    dcom_str16 r = {s, s ? len16(s) : 0};
    return r;
}

static const dcom_str ABSENT = {NULL, 0};

static const dcom_str PROCESS[] = {{(const uint8_t *)"process", 7}};
static const dcom_str START[] = {{(const uint8_t *)"start", 5}};
static const dcom_str16 PROCESS16[] = {{u"process", 7}};
static const dcom_str16 START16[] = {{u"start", 5}};

/* A process start; NULL means absent. */
static dcom_event start_event(const char *name, const char *parent, const char *command_line) {
    dcom_event e;
    memset(&e, 0, sizeof e);
    e.event_category = PROCESS;
    e.event_category_count = 1;
    e.event_type = START;
    e.event_type_count = 1;
    e.process_name = str(name);
    e.process_parent_name = str(parent);
    e.process_command_line = str(command_line);
    return e;
}

static dcom_event16 start_event16(const char16_t *name, const char16_t *parent, const char16_t *command_line) {
    dcom_event16 e;
    memset(&e, 0, sizeof e);
    e.event_category = PROCESS16;
    e.event_category_count = 1;
    e.event_type = START16;
    e.event_type_count = 1;
    e.process_name = str16(name);
    e.process_parent_name = str16(parent);
    e.process_command_line = str16(command_line);
    return e;
}

static dcom_rule *ascii_rule;
static dcom_rule *unicode_rule;

/* Branch bits of dcom_rule_match, or 0xDEAD plus a failed check on error. */
static uint32_t verdict(const dcom_rule *rule, const dcom_event *e) {
    uint32_t branches = 0xFFFFFFFFu;
    if (!CHECK_RESULT(dcom_rule_match(rule, e, &branches), DCOM_OK)) {
        return 0xDEAD;
    }
    return branches;
}

static uint32_t verdict16(const dcom_rule *rule, const dcom_event16 *e) {
    uint32_t branches = 0xFFFFFFFFu;
    if (!CHECK_RESULT(dcom_rule_match_utf16(rule, e, &branches), DCOM_OK)) {
        return 0xDEAD;
    }
    return branches;
}

/* The result of dcom_rule_match, checking that a failure leaves *branches at 0. */
static dcom_result match_code(const dcom_event *e) {
    uint32_t branches = 0xFFFFFFFFu;
    dcom_result r = dcom_rule_match(ascii_rule, e, &branches);
    CHECK(r == DCOM_OK || branches == 0);
    return r;
}

static dcom_result match16_code(const dcom_event16 *e) {
    uint32_t branches = 0xFFFFFFFFu;
    dcom_result r = dcom_rule_match_utf16(ascii_rule, e, &branches);
    CHECK(r == DCOM_OK || branches == 0);
    return r;
}

/* ---- static texts ------------------------------------------------------------------- */

static void test_result_codes(void) {
    /* The values are the ABI: they must never change. */
    CHECK_EQ(DCOM_OK, 0);
    CHECK_EQ(DCOM_ERROR_NULL_ARGUMENT, 1);
    CHECK_EQ(DCOM_ERROR_INVALID_UTF8, 2);
    CHECK_EQ(DCOM_ERROR_INVALID_UTF16, 3);
    CHECK_EQ(DCOM_ERROR_MISALIGNED_POINTER, 4);
    CHECK_EQ(DCOM_ERROR_INVALID_LENGTH, 5);
    CHECK_EQ(DCOM_ERROR_BAD_JSON, 6);
    CHECK_EQ(DCOM_ERROR_BUFFER_TOO_SMALL, 7);
    CHECK_EQ(DCOM_ERROR_INVALID_OPTION, 8);
    CHECK_EQ(DCOM_ERROR_SCRATCH_BUSY, 9);
    CHECK_EQ(DCOM_ERROR_INTERNAL, 10);
    CHECK_EQ(DCOM_ERROR_BAD_EXCEPTIONS, 11);
    CHECK_EQ(DCOM_ERROR_OUT_OF_RANGE, 12);
    CHECK_EQ(DCOM_ERROR_SESSION_BUSY, 13);
    CHECK_EQ(DCOM_ERROR_FINISHED, 14);
    CHECK_EQ(DCOM_ERROR_QUEUE_FULL, 15);
    const char *unknown = dcom_result_message(-1);
    CHECK_STR(unknown, "unknown dcom_result code");
    CHECK_STR(dcom_result_message(16), "unknown dcom_result code");
    CHECK_STR(dcom_result_message(DCOM_OK), "success");
    for (int code = DCOM_OK; code <= DCOM_ERROR_QUEUE_FULL; code++) {
        const char *m = dcom_result_message(code);
        CHECK(m != NULL && m[0] != '\0' && strcmp(m, unknown) != 0);
        for (int other = DCOM_OK; other < code; other++) {
            CHECK(strcmp(m, dcom_result_message(other)) != 0);
        }
    }
    CHECK(strstr(dcom_result_message(DCOM_ERROR_INTERNAL), "internal") != NULL);
}

static void test_static_texts(void) {
    const char *version = dcom_version();
    CHECK(version != NULL && strchr(version, '.') != NULL);
    const char *eql = dcom_rule_eql();
    CHECK(strncmp(eql, "process where event.type == \"start\" and\n(", 41) == 0);
    CHECK(strstr(eql, "process.name == \"dcomcnfg.exe\" or") != NULL);
    CHECK(strstr(eql, "process.command_line : \"*DCOM*\" and process.command_line : \"*-Exec*\"") != NULL);
    CHECK(eql[strlen(eql) - 1] == ')');

    const dcom_metadata *m = dcom_rule_metadata();
    CHECK(m != NULL);
    CHECK(m == dcom_rule_metadata());
    CHECK(m->struct_size >= sizeof(dcom_metadata));
    CHECK_STR(m->id, "3e8485db-ed53-542a-bdd7-0246bf43ff97");
    CHECK_STR(m->severity, "high");
    CHECK_EQ(m->risk_score, 73);
    CHECK(m->name[0] != '\0' && m->description[0] != '\0');
    CHECK_STR(m->framework, "MITRE ATT&CK");
    CHECK_STR(m->tactic.id, "TA0008");
    CHECK_STR(m->tactic.name, "Lateral Movement");
    CHECK_STR(m->technique.id, "T1021");
    CHECK_STR(m->technique.name, "Remote Services");
    CHECK_STR(m->subtechnique.id, "T1021.003");
    CHECK_STR(m->subtechnique.name, "Distributed Component Object Model");
    CHECK_STR(m->subtechnique.reference, "https://attack.mitre.org/techniques/T1021/003/");
    CHECK(m->reference_count >= 1);
    CHECK_STR(m->references[0], "https://attack.mitre.org/techniques/T1021/003/");
    /* The triage guides (docs/triage/): appended fields, present when struct_size covers them. */
    CHECK(m->struct_size >= offsetof(dcom_metadata, branch_guide_count) + sizeof(size_t));
    CHECK(strncmp(m->guide, "# The seed rule", 15) == 0);
    CHECK(strstr(m->guide, "\n## Investigation\n") != NULL && strstr(m->guide, "\n## Hunting pivots\n") != NULL);
    CHECK_EQ(m->branch_guide_count, 3);
    for (uint32_t i = 0; i < 3; i++) {
        /* Entry i is the guide of the branch whose bit is 1 << i, and its title names it. */
        const char *title_end = strchr(m->branch_guides[i], '\n');
        const char *name = dcom_branch_name(1u << i);
        CHECK(title_end != NULL && name != NULL);
        char title[256] = {0};
        memcpy(title, m->branch_guides[i], (size_t)(title_end - m->branch_guides[i]) < 255 ? (size_t)(title_end - m->branch_guides[i]) : 255);
        CHECK(strstr(title, name) != NULL);
        CHECK(strstr(m->branch_guides[i], "## False positives") != NULL);
    }
    const char *d2 = dcom_rule_guide("D2");
    CHECK(d2 != NULL && strncmp(d2, "# D2:", 5) == 0);
    CHECK(dcom_rule_guide("d2") == d2);
    CHECK(dcom_rule_guide("3f0c6d2e-8a41-4d7b-9a52-d2c0f3a1e702") == d2);
    CHECK(dcom_rule_guide("shellwindows") != NULL && strstr(dcom_rule_guide("shellwindows"), "ShellWindows") != NULL);
    CHECK(dcom_rule_guide("D2L") != d2 && dcom_rule_guide("D3") != NULL && dcom_rule_guide("mmc20") != NULL && dcom_rule_guide("hta") != NULL);
    CHECK(dcom_rule_guide("seed") == NULL);
    CHECK(dcom_rule_guide(NULL) == NULL);

    CHECK_EQ(DCOM_BRANCH_OFFICE_CHILD | DCOM_BRANCH_DCOMCNFG | DCOM_BRANCH_DCOM_COMMAND_LINE, DCOM_BRANCH_ALL);
    CHECK_STR(dcom_branch_name(DCOM_BRANCH_OFFICE_CHILD), "office_child");
    CHECK_STR(dcom_branch_name(DCOM_BRANCH_DCOMCNFG), "dcomcnfg");
    CHECK_STR(dcom_branch_name(DCOM_BRANCH_DCOM_COMMAND_LINE), "dcom_command_line");
    CHECK(dcom_branch_name(0) == NULL);
    CHECK(dcom_branch_name(DCOM_BRANCH_ALL) == NULL);
    CHECK(dcom_branch_name(8) == NULL);
}

/* ---- rules and options ------------------------------------------------------------------ */

static void test_rule_options(void) {
    dcom_rule *rule = (dcom_rule *)&rule; /* not NULL: failures must reset it */
    uint32_t folding = 99;

    CHECK_RESULT(dcom_rule_create(NULL, NULL), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_rule_create(NULL, &rule), DCOM_OK);
    CHECK(rule != NULL);
    CHECK_RESULT(dcom_rule_case_folding(rule, &folding), DCOM_OK);
    CHECK_EQ(folding, DCOM_CASE_FOLDING_ASCII);
    CHECK_RESULT(dcom_rule_case_folding(NULL, &folding), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_rule_case_folding(rule, NULL), DCOM_ERROR_NULL_ARGUMENT);
    dcom_rule_destroy(rule);
    dcom_rule_destroy(NULL);

    dcom_rule_options options = {.struct_size = sizeof(dcom_rule_options), .case_folding = DCOM_CASE_FOLDING_UNICODE_SIMPLE};
    CHECK_RESULT(dcom_rule_create(&options, &rule), DCOM_OK);
    CHECK_RESULT(dcom_rule_case_folding(rule, &folding), DCOM_OK);
    CHECK_EQ(folding, DCOM_CASE_FOLDING_UNICODE_SIMPLE);
    dcom_rule_destroy(rule);

    /* Zero-initialised apart from the size: every default. */
    dcom_rule_options defaults = {.struct_size = sizeof(dcom_rule_options)};
    CHECK_RESULT(dcom_rule_create(&defaults, &rule), DCOM_OK);
    CHECK_RESULT(dcom_rule_case_folding(rule, &folding), DCOM_OK);
    CHECK_EQ(folding, DCOM_CASE_FOLDING_ASCII);
    dcom_rule_destroy(rule);

    options.case_folding = 2;
    rule = (dcom_rule *)&rule;
    CHECK_RESULT(dcom_rule_create(&options, &rule), DCOM_ERROR_INVALID_OPTION);
    CHECK(rule == NULL);
    options.case_folding = DCOM_CASE_FOLDING_ASCII;
    options.struct_size = 0;
    CHECK_RESULT(dcom_rule_create(&options, &rule), DCOM_ERROR_INVALID_OPTION);
    options.struct_size = 4;
    CHECK_RESULT(dcom_rule_create(&options, &rule), DCOM_ERROR_INVALID_OPTION);

    /* A caller built against the first header (version 1: 8 bytes, 4-byte aligned): only
       those bytes are read. */
    _Alignas(8) struct {
        uint32_t pad;
        uint32_t struct_size; /* at 4 mod 8, and the object ends right after case_folding */
        uint32_t case_folding;
    } v1 = {0, 8, DCOM_CASE_FOLDING_UNICODE_SIMPLE};
    CHECK_RESULT(dcom_rule_create((const dcom_rule_options *)(const void *)&v1.struct_size, &rule), DCOM_OK);
    CHECK_RESULT(dcom_rule_case_folding(rule, &folding), DCOM_OK);
    CHECK_EQ(folding, DCOM_CASE_FOLDING_UNICODE_SIMPLE);
    dcom_rule_destroy(rule);
    /* Sizes between the versions were never declared by any header. */
    options.struct_size = 12;
    CHECK_RESULT(dcom_rule_create(&options, &rule), DCOM_ERROR_INVALID_OPTION);

    /* A caller built against a newer header: unknown fields must be zero (unset). */
    struct {
        dcom_rule_options v2;
        uint64_t something_new;
    } newer;
    memset(&newer, 0, sizeof newer);
    newer.v2.struct_size = sizeof newer;
    CHECK_RESULT(dcom_rule_create(&newer.v2, &rule), DCOM_OK);
    dcom_rule_destroy(rule);
    newer.something_new = 3;
    CHECK_RESULT(dcom_rule_create(&newer.v2, &rule), DCOM_ERROR_INVALID_OPTION);
    CHECK(rule == NULL);
    char message[256];
    CHECK_RESULT(dcom_rule_create_ex(&newer.v2, &rule, message, sizeof message, NULL), DCOM_ERROR_INVALID_OPTION);
    CHECK(strstr(message, "newer header") != NULL);

    /* A misaligned options pointer is refused before it is read. */
    _Alignas(8) unsigned char raw[2 * sizeof(dcom_rule_options)];
    memset(raw, 0, sizeof raw);
    CHECK_RESULT(dcom_rule_create((const dcom_rule_options *)(const void *)(raw + 1), &rule), DCOM_ERROR_MISALIGNED_POINTER);
    CHECK_RESULT(dcom_rule_case_folding(ascii_rule, (uint32_t *)(void *)(raw + 1)), DCOM_ERROR_MISALIGNED_POINTER);
}

/* ---- the UTF-8 struct path -------------------------------------------------------------- */

static void test_utf8_verdicts(void) {
    dcom_event e = start_event("cmd.exe", "mmc.exe", "cmd.exe /c whoami");
    CHECK_EQ(verdict(ascii_rule, &e), DCOM_BRANCH_OFFICE_CHILD);
    e = start_event("POWERSHELL.EXE", "WinWord.exe", NULL);
    CHECK_EQ(verdict(ascii_rule, &e), DCOM_BRANCH_OFFICE_CHILD);
    e = start_event("dcomcnfg.exe", NULL, NULL);
    CHECK_EQ(verdict(ascii_rule, &e), DCOM_BRANCH_DCOMCNFG);
    e = start_event("DCOMCNFG.EXE", NULL, NULL); /* == is case-sensitive */
    CHECK_EQ(verdict(ascii_rule, &e), 0);
    e = start_event("x.exe", NULL, "powershell Invoke-dcom -exec calc");
    CHECK_EQ(verdict(ascii_rule, &e), DCOM_BRANCH_DCOM_COMMAND_LINE);
    e = start_event("dcomcnfg.exe", "excel.exe", "DCOM -ExecutionPolicy");
    CHECK_EQ(verdict(ascii_rule, &e), DCOM_BRANCH_DCOMCNFG | DCOM_BRANCH_DCOM_COMMAND_LINE);
    e = start_event("cmd.exe", "explorer.exe", "cmd /c dir");
    CHECK_EQ(verdict(ascii_rule, &e), 0);
    e = start_event(NULL, NULL, NULL);
    CHECK_EQ(verdict(ascii_rule, &e), 0);

    /* Zero-length strings are values (the empty string), not absent. */
    dcom_str empty = {(const uint8_t *)"", 0};
    e = start_event("cmd.exe", "mmc.exe", NULL);
    e.process_command_line = empty;
    CHECK_EQ(verdict(ascii_rule, &e), DCOM_BRANCH_OFFICE_CHILD);
    e.process_name = empty;
    CHECK_EQ(verdict(ascii_rule, &e), 0);

    /* A NUL byte is an ordinary character, not a terminator. */
    e = start_event("cmd.exe", "mmc.exe", NULL);
    e.process_name.len = 8; /* "cmd.exe\0" */
    CHECK_EQ(verdict(ascii_rule, &e), 0);

    /* KELVIN SIGN (U+212A) folds to k only under Unicode simple folding. */
    e = start_event("cmd.exe", "outloo\xE2\x84\xAA.exe", NULL);
    CHECK_EQ(verdict(ascii_rule, &e), 0);
    CHECK_EQ(verdict(unicode_rule, &e), DCOM_BRANCH_OFFICE_CHILD);

    /* event.category and event.type: exact, any value of the array, required. */
    dcom_str categories[] = {str("host"), ABSENT, str("process")};
    dcom_str types[] = {str("info"), str("start")};
    e = start_event("dcomcnfg.exe", NULL, NULL);
    e.event_category = categories;
    e.event_category_count = 3;
    e.event_type = types;
    e.event_type_count = 2;
    CHECK_EQ(verdict(ascii_rule, &e), DCOM_BRANCH_DCOMCNFG);
    e.event_type_count = 1; /* only "info" */
    CHECK_EQ(verdict(ascii_rule, &e), 0);
    e.event_type_count = 2;
    e.event_category_count = 2; /* "host" and an absent value */
    CHECK_EQ(verdict(ascii_rule, &e), 0);
    e.event_category = NULL;
    e.event_category_count = 0;
    CHECK_EQ(verdict(ascii_rule, &e), 0);
    dcom_str upper[] = {str("Process")};
    e.event_category = upper;
    e.event_category_count = 1;
    CHECK_EQ(verdict(ascii_rule, &e), 0);

    /* Extra fields: more values for the rule's fields (two command-line values may satisfy
       the two patterns), any other path ignored by the rule. */
    dcom_field other[] = {
        {str("process.command_line"), str("Invoke-DCOM")},
        {str("user.name"), str("-Exec")},
        {str("process.command_line"), ABSENT},
    };
    e = start_event(NULL, NULL, "-Exec");
    CHECK_EQ(verdict(ascii_rule, &e), 0);
    e.other = other;
    e.other_count = 3;
    CHECK_EQ(verdict(ascii_rule, &e), DCOM_BRANCH_DCOM_COMMAND_LINE);
    e.other_count = 2;
    e.other = other + 1;
    CHECK_EQ(verdict(ascii_rule, &e), 0);
}

static void test_utf8_errors(void) {
    dcom_event good = start_event("cmd.exe", "mmc.exe", NULL);
    uint32_t branches = 0xFFFFFFFFu;

    CHECK_RESULT(dcom_rule_match(NULL, &good, &branches), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_EQ(branches, 0);
    CHECK_RESULT(dcom_rule_match(ascii_rule, NULL, &branches), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_rule_match(ascii_rule, &good, NULL), DCOM_ERROR_NULL_ARGUMENT);

    dcom_event e = good;
    e.process_command_line.len = 3; /* NULL pointer with a length */
    CHECK_RESULT(match_code(&e), DCOM_ERROR_NULL_ARGUMENT);
    e = good;
    e.event_type = NULL; /* NULL array with a count */
    CHECK_RESULT(match_code(&e), DCOM_ERROR_NULL_ARGUMENT);
    e = good;
    dcom_field no_path[] = {{ABSENT, str("x")}};
    e.other = no_path;
    e.other_count = 1;
    CHECK_RESULT(match_code(&e), DCOM_ERROR_NULL_ARGUMENT);

    /* Invalid UTF-8, anywhere, in every shape. */
    static const char *const invalid[] = {
        "\xff",             /* never valid */
        "ab\x80",           /* lone continuation byte */
        "\xC3",             /* truncated two-byte sequence */
        "\xE2\x84",         /* truncated three-byte sequence */
        "\xC0\xAF",         /* overlong '/' */
        "\xED\xA0\x80",     /* a UTF-16 surrogate encoded in UTF-8 */
        "\xF4\x90\x80\x80", /* beyond U+10FFFF */
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        e = good;
        e.process_parent_name = str(invalid[i]);
        CHECK_RESULT(match_code(&e), DCOM_ERROR_INVALID_UTF8);
        e = good;
        dcom_str bad_type[] = {str("start"), str(invalid[i])};
        e.event_type = bad_type;
        e.event_type_count = 2;
        CHECK_RESULT(match_code(&e), DCOM_ERROR_INVALID_UTF8);
        e = good;
        dcom_field bad_other[] = {{str("user.name"), str(invalid[i])}};
        e.other = bad_other;
        e.other_count = 1;
        CHECK_RESULT(match_code(&e), DCOM_ERROR_INVALID_UTF8);
    }
    /* Valid multi-byte text is fine; the first problem in field order wins. */
    e = good;
    e.process_command_line = str("\xF0\x9F\x98\x80 \xC3\xA9");
    CHECK_EQ(verdict(ascii_rule, &e), DCOM_BRANCH_OFFICE_CHILD);
    e.process_name = str("\xff");
    e.process_command_line.ptr = NULL; /* also wrong, but checked after process_name */
    e.process_command_line.len = 7;
    CHECK_RESULT(match_code(&e), DCOM_ERROR_INVALID_UTF8);

    /* Impossible lengths and misaligned pointers are refused before any memory is read. */
    e = good;
    e.process_name.len = SIZE_MAX;
    CHECK_RESULT(match_code(&e), DCOM_ERROR_INVALID_LENGTH);
    e = good;
    e.event_category_count = SIZE_MAX / 2;
    CHECK_RESULT(match_code(&e), DCOM_ERROR_INVALID_LENGTH);
    _Alignas(16) unsigned char raw[sizeof(dcom_event) + 16];
    memset(raw, 0, sizeof raw);
    CHECK_RESULT(dcom_rule_match(ascii_rule, (const dcom_event *)(const void *)(raw + 4), &branches), DCOM_ERROR_MISALIGNED_POINTER);
    CHECK_RESULT(dcom_rule_match(ascii_rule, &good, (uint32_t *)(void *)(raw + 1)), DCOM_ERROR_MISALIGNED_POINTER);
    e = good;
    e.event_category = (const dcom_str *)(const void *)(raw + 1);
    CHECK_RESULT(match_code(&e), DCOM_ERROR_MISALIGNED_POINTER);
}

/* ---- the UTF-16 struct path ------------------------------------------------------------- */

static void test_utf16(void) {
    dcom_event16 e = start_event16(u"cmd.exe", u"MMC.exe", NULL);
    CHECK_EQ(verdict16(ascii_rule, &e), DCOM_BRANCH_OFFICE_CHILD);
    e = start_event16(u"dcomcnfg.exe", u"services.exe", u"x \U0001F600 DCOM -Exec");
    CHECK_EQ(verdict16(ascii_rule, &e), DCOM_BRANCH_DCOMCNFG | DCOM_BRANCH_DCOM_COMMAND_LINE);
    e = start_event16(u"c\u017Fcript.exe", u"outloo\u212A.exe", NULL); /* LONG S, KELVIN SIGN */
    CHECK_EQ(verdict16(ascii_rule, &e), 0);
    CHECK_EQ(verdict16(unicode_rule, &e), DCOM_BRANCH_OFFICE_CHILD);
    e = start_event16(NULL, NULL, NULL);
    CHECK_EQ(verdict16(ascii_rule, &e), 0);
    e = start_event16(u"cmd.exe", u"mmc.exe", NULL);
    dcom_str16 empty = {u"", 0};
    e.process_command_line = empty;
    CHECK_EQ(verdict16(ascii_rule, &e), DCOM_BRANCH_OFFICE_CHILD);
    dcom_field16 other[] = {{str("process.command_line"), str16(u"DCOM")}, {str("process.command_line"), str16(u"-Exec")}};
    e.other = other;
    e.other_count = 2;
    CHECK_EQ(verdict16(ascii_rule, &e), DCOM_BRANCH_OFFICE_CHILD | DCOM_BRANCH_DCOM_COMMAND_LINE);

    /* Errors. */
    dcom_event16 good = start_event16(u"cmd.exe", u"mmc.exe", NULL);
    uint32_t branches = 0xFFFFFFFFu;
    CHECK_RESULT(dcom_rule_match_utf16(NULL, &good, &branches), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_EQ(branches, 0);
    CHECK_RESULT(dcom_rule_match_utf16(ascii_rule, NULL, &branches), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_rule_match_utf16(ascii_rule, &good, NULL), DCOM_ERROR_NULL_ARGUMENT);
    e = good;
    e.process_name.ptr = NULL;
    CHECK_RESULT(match16_code(&e), DCOM_ERROR_NULL_ARGUMENT);

    static const uint16_t lone_high_at_end[] = {'c', 'm', 'd', 0xD83D};
    static const uint16_t lone_high_inside[] = {0xD83D, 'x'};
    static const uint16_t lone_low[] = {'a', 0xDE00, 'b'};
    static const uint16_t reversed_pair[] = {0xDE00, 0xD83D};
    static const uint16_t high_high[] = {0xD83D, 0xD83D, 0xDE00};
    const dcom_str16 invalid[] = {
        {lone_high_at_end, 4}, {lone_high_inside, 2}, {lone_low, 3}, {reversed_pair, 2}, {high_high, 3},
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        e = good;
        e.process_command_line = invalid[i];
        CHECK_RESULT(match16_code(&e), DCOM_ERROR_INVALID_UTF16);
        e = good;
        dcom_str16 types[] = {START16[0], invalid[i]};
        e.event_type = types;
        e.event_type_count = 2;
        CHECK_RESULT(match16_code(&e), DCOM_ERROR_INVALID_UTF16);
    }
    /* A valid pair cut by the length is a lone surrogate too. */
    e = good;
    e.process_command_line = str16(u"\U0001F600");
    CHECK_EQ(verdict16(ascii_rule, &e), DCOM_BRANCH_OFFICE_CHILD);
    e.process_command_line.len = 1;
    CHECK_RESULT(match16_code(&e), DCOM_ERROR_INVALID_UTF16);

    /* Misaligned uint16_t * (as in a packed ETW payload): refused, never read. The pointer
       is only formed here and handed over; this test never dereferences it. */
    _Alignas(8) unsigned char raw[32];
    memset(raw, 0, sizeof raw);
    e = good;
    e.process_name.ptr = (const uint16_t *)(const void *)(raw + 1);
    e.process_name.len = 3;
    CHECK_RESULT(match16_code(&e), DCOM_ERROR_MISALIGNED_POINTER);
    e.process_name.len = 0; /* even when empty */
    CHECK_RESULT(match16_code(&e), DCOM_ERROR_MISALIGNED_POINTER);
    e = good;
    e.process_name.len = SIZE_MAX / 2;
    CHECK_RESULT(match16_code(&e), DCOM_ERROR_INVALID_LENGTH);
    e = good;
    e.other = (const dcom_field16 *)(const void *)(raw + 2);
    e.other_count = 1;
    CHECK_RESULT(match16_code(&e), DCOM_ERROR_MISALIGNED_POINTER);
}

/* ---- the JSON path ---------------------------------------------------------------------- */

static dcom_result json(dcom_scratch *scratch, const dcom_rule *rule, const char *record, uint32_t *branches) {
    *branches = 0xFFFFFFFFu;
    dcom_result r = dcom_rule_match_json(rule, scratch, (const uint8_t *)record, strlen(record), branches);
    CHECK(r == DCOM_OK || *branches == 0);
    return r;
}

static void test_json(void) {
    dcom_scratch *scratch = (dcom_scratch *)&scratch;
    uint32_t branches;
    size_t offset = 99, needed = 0;
    char message[128];

    CHECK_RESULT(dcom_scratch_create(NULL), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_scratch_create(&scratch), DCOM_OK);
    CHECK(scratch != NULL);
    dcom_scratch_destroy(NULL);

    CHECK_RESULT(json(scratch, ascii_rule,
                      "{\"event\":{\"category\":[\"process\"],\"type\":[\"start\"]},"
                      "\"process\":{\"name\":\"cmd.exe\",\"parent\":{\"name\":\"EXCEL.EXE\"}}}",
                      &branches),
                 DCOM_OK);
    CHECK_EQ(branches, DCOM_BRANCH_OFFICE_CHILD);
    CHECK_RESULT(json(scratch, ascii_rule,
                      "{\"winlog\":{\"channel\":\"Microsoft-Windows-Sysmon/Operational\",\"event_id\":1,"
                      "\"event_data\":{\"Image\":\"C:\\\\Windows\\\\System32\\\\dcomcnfg.exe\","
                      "\"CommandLine\":\"\\u0044COM -\\u0045xec\"}}}",
                      &branches),
                 DCOM_OK);
    CHECK_EQ(branches, DCOM_BRANCH_DCOMCNFG | DCOM_BRANCH_DCOM_COMMAND_LINE);
    CHECK_RESULT(json(scratch, ascii_rule, "{\"event.category\":\"process\",\"event.type\":\"start\"}", &branches), DCOM_OK);
    CHECK_EQ(branches, 0);
    CHECK_RESULT(dcom_scratch_error_offset(scratch, &offset), DCOM_OK);
    CHECK_EQ(offset, 0);
    CHECK_RESULT(dcom_scratch_error_message(scratch, message, sizeof message, &needed), DCOM_OK);
    CHECK_STR(message, "");
    CHECK_EQ(needed, 1);

    /* Rejected records: code, offset, message. */
    CHECK_RESULT(json(scratch, ascii_rule, "{\"process\":{\"name\":\"a\",\"name\":\"b\"}}", &branches), DCOM_ERROR_BAD_JSON);
    CHECK_RESULT(dcom_scratch_error_offset(scratch, &offset), DCOM_OK);
    CHECK_EQ(offset, 23); /* the second "name" */
    CHECK_RESULT(dcom_scratch_error_message(scratch, message, sizeof message, &needed), DCOM_OK);
    CHECK_STR(message, "duplicate key \"name\" in one object");
    CHECK_EQ(needed, strlen(message) + 1);

    CHECK_RESULT(json(scratch, ascii_rule, "{\"process\":{\"name\":\"\xC3\"}}", &branches), DCOM_ERROR_INVALID_UTF8);
    CHECK_RESULT(dcom_scratch_error_offset(scratch, &offset), DCOM_OK);
    CHECK_EQ(offset, 20);
    CHECK_RESULT(dcom_scratch_error_message(scratch, message, sizeof message, NULL), DCOM_OK);
    CHECK_STR(message, "invalid UTF-8");

    static const char *const bad[] = {"", "   ", "[1]", "{", "{\"a\":}", "{\"a\":1,}", "{} x", "{\"a\":\"\\x\"}", "{\"a..b\":1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_RESULT(json(scratch, ascii_rule, bad[i], &branches), DCOM_ERROR_BAD_JSON);
        CHECK_RESULT(dcom_scratch_error_offset(scratch, &offset), DCOM_OK);
        CHECK(offset <= strlen(bad[i]));
        CHECK_RESULT(dcom_scratch_error_message(scratch, message, sizeof message, &needed), DCOM_OK);
        CHECK(message[0] != '\0');
    }

    /* NULL and zero-length records. */
    branches = 0xFFFFFFFFu;
    CHECK_RESULT(dcom_rule_match_json(ascii_rule, scratch, NULL, 0, &branches), DCOM_ERROR_BAD_JSON);
    CHECK_EQ(branches, 0);
    CHECK_RESULT(dcom_scratch_error_message(scratch, message, sizeof message, NULL), DCOM_OK);
    CHECK(strncmp(message, "truncated", 9) == 0);
    CHECK_RESULT(dcom_rule_match_json(ascii_rule, scratch, NULL, 5, &branches), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_rule_match_json(ascii_rule, scratch, (const uint8_t *)"{}", SIZE_MAX, &branches), DCOM_ERROR_INVALID_LENGTH);
    CHECK_RESULT(dcom_rule_match_json(NULL, scratch, (const uint8_t *)"{}", 2, &branches), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_rule_match_json(ascii_rule, NULL, (const uint8_t *)"{}", 2, &branches), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_rule_match_json(ascii_rule, scratch, (const uint8_t *)"{}", 2, NULL), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_scratch_error_offset(NULL, &offset), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_scratch_error_offset(scratch, NULL), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_scratch_error_message(NULL, message, sizeof message, &needed), DCOM_ERROR_NULL_ARGUMENT);

    /* The caller-buffer convention: size reported, truncated output, size-only queries. */
    CHECK_RESULT(json(scratch, ascii_rule, "[]", &branches), DCOM_ERROR_BAD_JSON);
    const char *full = "the record is not a JSON object";
    needed = 0;
    CHECK_RESULT(dcom_scratch_error_message(scratch, NULL, 0, &needed), DCOM_ERROR_BUFFER_TOO_SMALL);
    CHECK_EQ(needed, strlen(full) + 1);
    memset(message, 'x', sizeof message);
    CHECK_RESULT(dcom_scratch_error_message(scratch, message, 11, &needed), DCOM_ERROR_BUFFER_TOO_SMALL);
    CHECK_STR(message, "the record");
    CHECK(message[11] == 'x'); /* nothing written past the size given */
    CHECK_EQ(needed, strlen(full) + 1);
    CHECK_RESULT(dcom_scratch_error_message(scratch, message, strlen(full), &needed), DCOM_ERROR_BUFFER_TOO_SMALL);
    CHECK_RESULT(dcom_scratch_error_message(scratch, message, strlen(full) + 1, &needed), DCOM_OK);
    CHECK_STR(message, full);
    CHECK_RESULT(dcom_scratch_error_message(scratch, NULL, 10, &needed), DCOM_ERROR_NULL_ARGUMENT);
    CHECK_RESULT(dcom_scratch_error_message(scratch, message, SIZE_MAX, &needed), DCOM_ERROR_INVALID_LENGTH);
    _Alignas(8) unsigned char raw[16];
    CHECK_RESULT(dcom_scratch_error_message(scratch, message, sizeof message, (size_t *)(void *)(raw + 1)), DCOM_ERROR_MISALIGNED_POINTER);
    CHECK_RESULT(dcom_scratch_error_offset(scratch, (size_t *)(void *)(raw + 4)), DCOM_ERROR_MISALIGNED_POINTER);
    /* Truncation never splits a UTF-8 sequence ("\xC3\xA9" is two bytes). */
    CHECK_RESULT(json(scratch, ascii_rule, "{\"\xC3\xA9\xC3\xA9\":1,\"\xC3\xA9\xC3\xA9\":2}", &branches), DCOM_ERROR_BAD_JSON);
    CHECK_RESULT(dcom_scratch_error_message(scratch, message, 18, &needed), DCOM_ERROR_BUFFER_TOO_SMALL);
    CHECK_STR(message, "duplicate key \"\xC3\xA9");

    /* A scratch serves any rule. */
    CHECK_RESULT(json(scratch, unicode_rule,
                      "{\"event\":{\"category\":\"process\",\"type\":\"start\"},"
                      "\"process\":{\"name\":\"cmd.exe\",\"parent\":{\"name\":\"outloo\\u212a.exe\"}}}",
                      &branches),
                 DCOM_OK);
    CHECK_EQ(branches, DCOM_BRANCH_OFFICE_CHILD);

    dcom_scratch_destroy(scratch);
}

int main(void) {
    dcom_rule_options unicode = {.struct_size = sizeof(dcom_rule_options), .case_folding = DCOM_CASE_FOLDING_UNICODE_SIMPLE};
    if (!CHECK_RESULT(dcom_rule_create(NULL, &ascii_rule), DCOM_OK)
        || !CHECK_RESULT(dcom_rule_create(&unicode, &unicode_rule), DCOM_OK)) {
        return check_summary("test_api");
    }
    test_result_codes();
    test_static_texts();
    test_rule_options();
    test_utf8_verdicts();
    test_utf8_errors();
    test_utf16();
    test_json();
    dcom_rule_destroy(ascii_rule);
    dcom_rule_destroy(unicode_rule);
    return check_summary("test_api");
}
