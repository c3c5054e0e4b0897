/*
 * golden.h: loads core's golden corpus (DIR/events.ndjson, one JSON record per line, and
 * DIR/expected.tsv with the header "line\tascii\tunicode_simple\tid"), the same files every
 * front end replays. Records are kept as byte ranges (they may hold any byte but '\n').
 */
#ifndef DCOM_GOLDEN_H
#define DCOM_GOLDEN_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct golden_case {
    size_t line;            /* 1-based line in events.ndjson */
    long expected[2];       /* branch bits under ascii and unicode_simple; -1 = rejected */
    char id[160];
    const uint8_t *record;  /* into golden_corpus.ndjson */
    size_t record_len;
} golden_case;

typedef struct golden_corpus {
    uint8_t *ndjson;
    size_t ndjson_len;
    golden_case *cases;
    size_t count;
} golden_corpus;

static inline uint8_t *golden_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "golden corpus: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *data = malloc(cap);
    size_t got;
    while (data != NULL && (got = fread(data + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *bigger = realloc(data, cap * 2);
            if (bigger == NULL) {
                free(data);
            }
            data = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    *len = n;
    return data;
}

static inline void golden_free(golden_corpus *c) {
    free(c->ndjson);
    free(c->cases);
    memset(c, 0, sizeof *c);
}

/* Loads the corpus; on failure prints why and returns 0. */
static inline int golden_load(const char *dir, golden_corpus *out) {
    char path[4096];
    memset(out, 0, sizeof *out);
    snprintf(path, sizeof path, "%s/events.ndjson", dir);
    out->ndjson = golden_read_file(path, &out->ndjson_len);
    if (out->ndjson == NULL) {
        return 0;
    }
    /* Split into lines: every record ends with '\n'. */
    size_t lines = 0;
    for (size_t i = 0; i < out->ndjson_len; i++) {
        lines += out->ndjson[i] == '\n';
    }
    if (out->ndjson_len == 0 || out->ndjson[out->ndjson_len - 1] != '\n') {
        fprintf(stderr, "golden corpus: %s does not end with a newline\n", path);
        golden_free(out);
        return 0;
    }
    const uint8_t **starts = malloc(lines * sizeof *starts);
    size_t *lens = malloc(lines * sizeof *lens);
    size_t line = 0, start = 0;
    for (size_t i = 0; i < out->ndjson_len; i++) {
        if (out->ndjson[i] == '\n') {
            starts[line] = out->ndjson + start;
            lens[line] = i - start;
            line++;
            start = i + 1;
        }
    }

    snprintf(path, sizeof path, "%s/expected.tsv", dir);
    FILE *tsv = fopen(path, "r");
    if (tsv == NULL) {
        fprintf(stderr, "golden corpus: cannot open %s: %s\n", path, strerror(errno));
        free(starts);
        free(lens);
        golden_free(out);
        return 0;
    }
    char row[512];
    int ok = fgets(row, sizeof row, tsv) != NULL && strcmp(row, "line\tascii\tunicode_simple\tid\n") == 0;
    if (!ok) {
        fprintf(stderr, "golden corpus: %s does not start with the expected header\n", path);
    }
    out->cases = calloc(lines, sizeof *out->cases);
    while (ok && fgets(row, sizeof row, tsv) != NULL) {
        golden_case c;
        memset(&c, 0, sizeof c);
        row[strcspn(row, "\n")] = '\0';
        if (sscanf(row, "%zu\t%ld\t%ld\t%159[^\t]", &c.line, &c.expected[0], &c.expected[1], c.id) != 4
            || c.line == 0 || c.line > lines || out->count == lines) {
            fprintf(stderr, "golden corpus: bad row in %s: %s\n", path, row);
            ok = 0;
            break;
        }
        c.record = starts[c.line - 1];
        c.record_len = lens[c.line - 1];
        out->cases[out->count++] = c;
    }
    fclose(tsv);
    free(starts);
    free(lens);
    if (ok && out->count != lines) {
        fprintf(stderr, "golden corpus: %zu records but %zu expected rows\n", lines, out->count);
        ok = 0;
    }
    if (!ok) {
        golden_free(out);
    }
    return ok;
}

#endif /* DCOM_GOLDEN_H */
