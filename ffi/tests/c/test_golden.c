/*
 * test_golden.c: core's golden corpus through the C JSON door, under both case foldings,
 * must give exactly the verdicts in expected.tsv (the same files core's Rust test replays).
 * Rejected records must report an offset inside the record and a message.
 *
 * usage: test_golden GOLDEN_DIR   (core/tests/golden)
 */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dcom_detect.h"
#include "golden.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s GOLDEN_DIR\n", argv[0]);
        return 2;
    }
    golden_corpus corpus;
    if (!golden_load(argv[1], &corpus)) {
        fprintf(stderr, "test_golden: the golden corpus is required (%s)\n", argv[1]);
        return 1;
    }
    CHECK(corpus.count > 100);

    static const uint32_t foldings[2] = {DCOM_CASE_FOLDING_ASCII, DCOM_CASE_FOLDING_UNICODE_SIMPLE};
    static const char *const folding_names[2] = {"ascii", "unicode_simple"};
    dcom_scratch *scratch = NULL;
    CHECK_RESULT(dcom_scratch_create(&scratch), DCOM_OK);
    size_t agreed = 0, rejected = 0;
    for (int column = 0; column < 2; column++) {
        dcom_rule_options options = {.struct_size = sizeof options, .case_folding = foldings[column]};
        dcom_rule *rule = NULL;
        if (!CHECK_RESULT(dcom_rule_create(&options, &rule), DCOM_OK)) {
            break;
        }
        for (size_t i = 0; i < corpus.count; i++) {
            const golden_case *c = &corpus.cases[i];
            uint32_t branches = 0xFFFFFFFFu;
            dcom_result r = dcom_rule_match_json(rule, scratch, c->record, c->record_len, &branches);
            long got;
            if (r == DCOM_OK) {
                got = (long)branches;
            } else if (r == DCOM_ERROR_BAD_JSON || r == DCOM_ERROR_INVALID_UTF8) {
                got = -1;
                rejected++;
                size_t offset = SIZE_MAX, needed = 0;
                char message[256];
                CHECK_RESULT(dcom_scratch_error_offset(scratch, &offset), DCOM_OK);
                CHECK(offset <= c->record_len);
                dcom_result m = dcom_scratch_error_message(scratch, message, sizeof message, &needed);
                CHECK(m == DCOM_OK || m == DCOM_ERROR_BUFFER_TOO_SMALL);
                CHECK(needed > 1 && message[0] != '\0');
                CHECK_EQ(branches, 0);
            } else {
                fprintf(stderr, "line %zu %s: unexpected %s\n", c->line, c->id, dcom_result_message(r));
                got = -2;
            }
            if (got == c->expected[column]) {
                agreed++;
                check_passed++;
            } else {
                check_failed++;
                fprintf(stderr, "line %zu %s (%s): expected %ld, got %ld\n", c->line, c->id, folding_names[column],
                        c->expected[column], got);
            }
        }
        dcom_rule_destroy(rule);
    }
    dcom_scratch_destroy(scratch);
    printf("golden corpus: %zu records x 2 foldings, %zu verdicts agree, %zu rejections\n", corpus.count, agreed,
           rejected);
    golden_free(&corpus);
    return check_summary("test_golden");
}
