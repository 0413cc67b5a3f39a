/*
 * fuzz_weights: the command's Unet1D weights loader (ggdm_cli_load_unet, ref/cli/weights.c)
 * on arbitrary bytes, written to a private temporary file.
 *
 * Properties checked besides "no crash, no UB, no leak":
 *   - on failure: *params is NULL, *count is 0, the message is a non-empty line that
 *     starts with the file's path;
 *   - on success: the configuration passes ggdm_unet_cfg_check, *count equals
 *     ggdm_unet_num_params, and when the network is small and its parameters are
 *     finite and bounded, a forward pass on finite inputs gives finite outputs, twice
 *     the same bits (a workspace full of NaNs the second time).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "ggdm/unet.h"
#include "weights.h"

/* 1 while the bug of fuzz/open-bugs/weights-huge-config.safetensors is open (README there):
 * the loader allocates what the metadata describes before checking that the file holds it;
 * a huge request is then let fail (NULL, "out of memory", as without ASan) instead of aborting.
 * fuzz/run.sh raises libFuzzer's -malloc_limit_mb for this harness for the same reason. */
#ifndef FUZZ_OPEN_BUG_WEIGHTS_ALLOC
#define FUZZ_OPEN_BUG_WEIGHTS_ALLOC 0
#endif
#if FUZZ_OPEN_BUG_WEIGHTS_ALLOC
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
#endif

static char path[4096];

static void cleanup(void)
{
    char dir[4096];
    char *slash;
    if (!path[0])
        return;
    unlink(path);
    snprintf(dir, sizeof dir, "%s", path);
    slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        rmdir(dir);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char tmpl[4096];
    const char *tmp = getenv("TMPDIR");
    (void)argc;
    (void)argv;
    snprintf(tmpl, sizeof tmpl, "%s/ggdm-fuzz-weights-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(tmpl)) {
        perror("fuzz_weights: mkdtemp");
        abort();
    }
    snprintf(path, sizeof path, "%s/w.safetensors", tmpl);
    atexit(cleanup);
    return 0;
}

/* A forward pass of a small network with bounded finite parameters must be finite. */
static void check_forward(const ggdm_unet_cfg *cfg, const float *params, uint64_t count)
{
    int N = 2, D = cfg->length, i;
    size_t wsb = 0;
    float *x, *e1, *e2;
    int64_t t[2] = {0, 150};
    void *ws;
    uint64_t k;
    for (k = 0; k < count; k++)
        if (!(fabsf(params[k]) <= 4.0f))
            return; /* NaN, infinite or large parameters may legitimately overflow */
    if (ggdm_unet_workspace_bytes(cfg, N, GGDM_UNET_FORWARD, &wsb) != GGDM_OK || wsb > (64u << 20))
        return;
    x = (float *)malloc(sizeof(float) * (size_t)(N * D));
    e1 = (float *)malloc(sizeof(float) * (size_t)(N * D));
    e2 = (float *)malloc(sizeof(float) * (size_t)(N * D));
    ws = malloc(wsb + 64);
    FUZZ_CHECK(x && e1 && e2 && ws);
    for (i = 0; i < N * D; i++)
        x[i] = (float)((i * 37) % 17 - 8) * 0.25f;
    memset(ws, 0, wsb);
    FUZZ_CHECK(ggdm_unet_forward(cfg, params, N, x, t, e1, ws, wsb, NULL, NULL) == GGDM_OK);
    for (i = 0; i < N * D; i++)
        FUZZ_CHECKF(isfinite(e1[i]), "eps[%d] = %g from finite inputs and parameters in [-4, 4]", i, (double)e1[i]);
    memset(ws, 0xFF, wsb); /* NaNs: a read of workspace not written first would show */
    FUZZ_CHECK(ggdm_unet_forward(cfg, params, N, x, t, e2, ws, wsb, NULL, NULL) == GGDM_OK);
    FUZZ_CHECK(memcmp(e1, e2, sizeof(float) * (size_t)(N * D)) == 0);
    free(x);
    free(e1);
    free(e2);
    free(ws);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ggdm_unet_cfg cfg;
    float *params = (float *)&cfg; /* must be overwritten */
    uint64_t count = 77, n = 0;
    int known = 5;
    char err[1024];
    ggdm_status st;
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size);
    FUZZ_CHECK(fclose(f) == 0);
    ggdm_unet_cfg_default(&cfg);
    err[0] = 0;
    st = ggdm_cli_load_unet(path, &cfg, &params, &count, &known, err, sizeof err);
    FUZZ_CHECK(known == 0 || known == 1);
    if (st != GGDM_OK) {
        FUZZ_CHECK(params == NULL && count == 0);
        FUZZ_CHECK(fuzz_msg_ok(err, sizeof err) && strncmp(err, path, strlen(path)) == 0);
        FUZZ_CHECK(strchr(err, '\n') == NULL);
        FUZZ_CHECKF(st == GGDM_ERR_FORMAT || st == GGDM_ERR_UNSUPPORTED || st == GGDM_ERR_ARG ||
                        (st == GGDM_ERR_IO && strstr(err, "out of memory")),
                    "status %d: %s", (int)st, err);
        return 0;
    }
    FUZZ_CHECK(params != NULL);
    FUZZ_CHECK(ggdm_unet_cfg_check(&cfg, NULL) == GGDM_OK);
    FUZZ_CHECK(ggdm_unet_num_params(&cfg, &n) == GGDM_OK && n == count);
    if (count <= 200000 && cfg.length <= 256)
        check_forward(&cfg, params, count);
    free(params);
    return 0;
}
