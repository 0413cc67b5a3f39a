/*
 * fuzz_runrec: the reader of a run's record (config.json, ref/cli/run.c) on arbitrary bytes,
 * and the JSON writer against it.
 *
 * Properties checked besides "no crash, no UB, no leak":
 *   - ggdm_run_read_config on the bytes (as a file): success gives at most 4096 argv strings,
 *     each NUL-terminated and shorter than its buffer, at most GGDM_RUN_REC_MAX string members,
 *     each NUL-terminated; failure gives a NUL-terminated message naming the file;
 *   - round trip: the input cut at its NUL bytes into strings (argv) written as a record with
 *     ggdm_json_* reads back as the same argv, and its first string as the "status" member,
 *     byte for byte (control characters escaped by the writer, other bytes as they are).
 */
#define _POSIX_C_SOURCE 200809L
#include <unistd.h>

#include "fuzz.h"
#include "io.h"
#include "run.h"

static char path[96];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(path, sizeof path, "/tmp/ggdm-fuzz-runrec.%ld.json", (long)getpid());
    return 0;
}

static void put_file(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size);
    FUZZ_CHECK(fclose(f) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ggdm_run_record rec;
    char err[512];
    int rc, i;
    /* 1. the bytes as a config.json */
    put_file(data, size);
    err[0] = 'x';
    rc = ggdm_run_read_config(path, &rec, err, sizeof err);
    if (rc == 0) {
        FUZZ_CHECK(rec.argc >= 0 && rec.argc <= 4096);
        FUZZ_CHECK(rec.argc == 0 || rec.argv != NULL);
        for (i = 0; i < rec.argc; i++)
            FUZZ_CHECK(rec.argv[i] != NULL && strlen(rec.argv[i]) < 4096);
        FUZZ_CHECK(rec.n >= 0 && rec.n <= GGDM_RUN_REC_MAX);
        for (i = 0; i < rec.n; i++)
            FUZZ_CHECK(fuzz_msg_ok(rec.key[i], sizeof rec.key[i]) && fuzz_msg_ok(rec.val[i], sizeof rec.val[i]));
    } else {
        FUZZ_CHECK(fuzz_msg_ok(err, sizeof err));
        FUZZ_CHECKF(strncmp(err, path, strlen(path)) == 0, "message '%s' does not name the file", err);
        FUZZ_CHECK(rec.argv == NULL && rec.argc == 0);
    }
    ggdm_run_record_free(&rec);

    /* 2. round trip of strings through the writer and the reader */
    {
        char *copy = (char *)malloc(size + 1), *strs[64];
        int n = 0;
        size_t k, start = 0;
        ggdm_json j;
        const char *text;
        FUZZ_CHECK(copy != NULL);
        memcpy(copy, data, size);
        copy[size] = 0;
        for (k = 0; k <= size && n < 64; k++)
            if (copy[k] == 0) {
                if (k - start < 500) /* the status member's buffer holds 511 bytes */
                    strs[n++] = copy + start;
                start = k + 1;
            }
        ggdm_json_begin(&j);
        ggdm_json_str(&j, "format", "ggdm.run.1");
        ggdm_json_str(&j, "status", n ? strs[0] : "");
        ggdm_json_open(&j, "argv", '[');
        for (i = 0; i < n; i++)
            ggdm_json_str(&j, NULL, strs[i]);
        ggdm_json_close(&j, ']');
        ggdm_json_num(&j, "x", 0.1);
        text = ggdm_json_end(&j);
        FUZZ_CHECK(text != NULL);
        put_file((const uint8_t *)text, strlen(text));
        rc = ggdm_run_read_config(path, &rec, err, sizeof err);
        FUZZ_CHECKF(rc == 0, "the writer's record does not read back: %s", err);
        FUZZ_CHECK(rec.argc == n);
        for (i = 0; i < n; i++)
            FUZZ_CHECKF(strcmp(rec.argv[i], strs[i]) == 0, "argv[%d] differs after the round trip", i);
        FUZZ_CHECK(strcmp(ggdm_run_record_get(&rec, "status"), n ? strs[0] : "") == 0);
        ggdm_run_record_free(&rec);
        ggdm_json_free(&j);
        free(copy);
    }
    remove(path);
    return 0;
}
