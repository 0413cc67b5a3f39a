/*
 * fuzz_pth: the PyTorch checkpoint reader and writer (ref/cli/pth.c) on arbitrary bytes,
 * and, for inputs it accepts, the weights loader (ggdm_cli_load_unet, ref/cli/weights.c) on
 * the same bytes written to a private temporary file. An input starting with "PK" is the
 * whole file; any other input is a pickle, wrapped as data.pkl in a valid archive with 16
 * storages (data/K holds (K + 1) * 16 bytes), so that the interpreter is reached without
 * forging CRC-32s (corpus files *.pkl).
 *
 * Properties checked besides "no crash, no UB, no leak":
 *   - on failure: the status is FORMAT, UNSUPPORTED or (out of memory) IO, the message a
 *     non-empty line starting with "pth: ", and nothing is left in the result;
 *   - on success: every tensor has at most 8 dimensions, count = product of the shape,
 *     data_len = count * itemsize, its bytes inside the file and inside its storage's
 *     entry; names and keys are NUL-terminated and unique; ggdm_pth_load_f32 gives the
 *     little-endian floats of a float32 tensor, bit for bit, and refuses any other dtype;
 *   - writer round trip (all tensors float32): ggdm_pth_write of the tensors and the string
 *     and integer entries parses back to the same names, shapes, values (bits) and entries,
 *     and writing twice gives the same bytes;
 *   - ggdm_cli_load_unet on the accepted file: failure = message starting with the path and
 *     nothing allocated; success = a valid configuration and num_params floats.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "ggdm/bytes.h"
#include "ggdm/npy.h"
#include "ggdm/unet.h"
#include "pth.h"
#include "weights.h"

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
    snprintf(tmpl, sizeof tmpl, "%s/ggdm-fuzz-pth-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(tmpl)) {
        perror("fuzz_pth: mkdtemp");
        abort();
    }
    snprintf(path, sizeof path, "%s/w.pth", tmpl);
    atexit(cleanup);
    return 0;
}

static void check_result(const uint8_t *data, size_t size, const ggdm_pth *ck)
{
    size_t i, j;
    FUZZ_CHECK(ck->archive != NULL && ck->archive[0] != 0);
    FUZZ_CHECK(ck->n_tensors == 0 || ck->tensors != NULL);
    for (i = 0; i < ck->n_tensors; i++) {
        const ggdm_pth_tensor *t = &ck->tensors[i];
        uint64_t c = 1;
        unsigned isz = ggdm_pth_itemsize(t->dtype);
        int d;
        FUZZ_CHECK(t->name && t->storage_key && isz > 0);
        FUZZ_CHECK(t->ndim >= 0 && t->ndim <= GGDM_PTH_MAX_DIMS);
        for (d = 0; d < t->ndim; d++)
            c *= t->shape[d];
        FUZZ_CHECKF(c == t->count, "tensor '%s': count %llu, shape product %llu", t->name,
                    (unsigned long long)t->count, (unsigned long long)c);
        FUZZ_CHECK(t->data_len == t->count * isz);
        FUZZ_CHECK(t->data_off <= size && t->data_len <= size - t->data_off);
        FUZZ_CHECK(t->storage_offset <= t->storage_numel && t->count <= t->storage_numel - t->storage_offset);
        for (j = 0; ck->n_tensors <= 2000 && j < i; j++) /* names hold no NUL: C strings compare them */
            FUZZ_CHECKF(strcmp(ck->tensors[j].name, t->name) != 0, "tensor '%s' twice", t->name);
        if (t->dtype == GGDM_PTH_F32) {
            float *v = (float *)malloc(sizeof(float) * (size_t)(t->count ? t->count : 1));
            uint64_t e;
            char msg[256];
            FUZZ_CHECK(v != NULL);
            FUZZ_CHECK(ggdm_pth_load_f32(data, size, t, v, t->count, msg, sizeof msg) == GGDM_OK);
            for (e = 0; e < t->count; e++) {
                uint32_t a, b = ggdm_le_load_u32(data + t->data_off + 4 * e);
                memcpy(&a, &v[e], 4);
                FUZZ_CHECK(a == b);
            }
            free(v);
        } else {
            float one;
            char msg[256];
            FUZZ_CHECK(ggdm_pth_load_f32(data, size, t, &one, 1, msg, sizeof msg) == GGDM_ERR_UNSUPPORTED);
            FUZZ_CHECK(strncmp(msg, "pth: ", 5) == 0);
        }
    }
    for (i = 0; i < ck->n_entries; i++) {
        FUZZ_CHECK(ck->entries[i].key != NULL);
        FUZZ_CHECK(ck->entries[i].kind != GGDM_PTH_STR || ck->entries[i].s != NULL);
        FUZZ_CHECK(ggdm_pth_find_entry(ck, ck->entries[i].key) != NULL);
    }
    FUZZ_CHECK(ck->state_key != NULL || ck->n_entries == 0);
}

/* Writes the accepted checkpoint's float32 tensors and string/int entries, parses them back. */
static void round_trip(const uint8_t *data, size_t size, const ggdm_pth *ck)
{
    ggdm_pth_wtensor *wt;
    ggdm_pth_wentry *we;
    float **vals;
    size_t i, ne = 0, j;
    uint8_t *out = NULL, *out2 = NULL;
    uint64_t n = 0, n2 = 0, total = 0;
    char msg[512];
    ggdm_status st;
    ggdm_pth back;
    for (i = 0; i < ck->n_tensors; i++) {
        if (ck->tensors[i].dtype != GGDM_PTH_F32)
            return;
        total += ck->tensors[i].count;
    }
    if (total > (1u << 22) || ck->n_tensors > 1000)
        return;
    wt = (ggdm_pth_wtensor *)calloc(ck->n_tensors + 1, sizeof *wt);
    vals = (float **)calloc(ck->n_tensors + 1, sizeof *vals);
    we = (ggdm_pth_wentry *)calloc(ck->n_entries + 2, sizeof *we);
    FUZZ_CHECK(wt && vals && we);
    for (i = 0; i < ck->n_tensors; i++) {
        const ggdm_pth_tensor *t = &ck->tensors[i];
        int d;
        vals[i] = (float *)malloc(sizeof(float) * (size_t)(t->count ? t->count : 1));
        FUZZ_CHECK(vals[i] != NULL);
        FUZZ_CHECK(ggdm_pth_load_f32(data, size, t, vals[i], t->count, msg, sizeof msg) == GGDM_OK);
        wt[i].name = t->name;
        wt[i].ndim = t->ndim;
        for (d = 0; d < t->ndim; d++)
            wt[i].shape[d] = t->shape[d];
        wt[i].data = vals[i];
    }
    if (ck->state_key) {
        for (i = 0; i < ck->n_entries; i++) {
            const ggdm_pth_entry *e = &ck->entries[i];
            if (e->kind == GGDM_PTH_STR) {
                we[ne].key = e->key;
                we[ne].kind = GGDM_PTH_W_STR;
                we[ne++].s = e->s;
            } else if (e->kind == GGDM_PTH_INT) {
                we[ne].key = e->key;
                we[ne].kind = GGDM_PTH_W_INT;
                we[ne++].i = e->i;
            }
        }
        we[ne].key = ck->state_key;
        we[ne++].kind = GGDM_PTH_W_STATE;
    }
    /* keys cut at an inner NUL may now collide: the writer must refuse that, not misbehave */
    st = ggdm_pth_write(we, ne, wt, ck->n_tensors, &out, &n, msg, sizeof msg);
    if (st == GGDM_OK) {
        FUZZ_CHECK(ggdm_pth_write(we, ne, wt, ck->n_tensors, &out2, &n2, msg, sizeof msg) == GGDM_OK);
        FUZZ_CHECK(n == n2 && memcmp(out, out2, (size_t)n) == 0);
        st = ggdm_pth_parse(out, n, &back, msg, sizeof msg);
        FUZZ_CHECKF(st == GGDM_OK, "the writer's own file is refused: %s", msg);
        FUZZ_CHECK(back.n_tensors == ck->n_tensors);
        for (i = 0; i < back.n_tensors; i++) {
            const ggdm_pth_tensor *t = &back.tensors[i];
            float *v = (float *)malloc(sizeof(float) * (size_t)(t->count ? t->count : 1));
            int d;
            FUZZ_CHECK(v != NULL);
            FUZZ_CHECK(strcmp(t->name, wt[i].name) == 0 && t->ndim == wt[i].ndim && t->dtype == GGDM_PTH_F32);
            for (d = 0; d < t->ndim; d++)
                FUZZ_CHECK(t->shape[d] == wt[i].shape[d]);
            FUZZ_CHECK(ggdm_pth_load_f32(out, n, t, v, t->count, msg, sizeof msg) == GGDM_OK);
            FUZZ_CHECK(t->count == 0 || memcmp(v, vals[i], sizeof(float) * (size_t)t->count) == 0);
            free(v);
        }
        FUZZ_CHECK((back.state_key != NULL) == (ne > 0));
        for (j = 0; j + 1 < ne; j++) {
            const ggdm_pth_entry *e = ggdm_pth_find_entry(&back, we[j].key);
            FUZZ_CHECK(e != NULL);
            if (we[j].kind == GGDM_PTH_W_STR)
                FUZZ_CHECK(e->kind == GGDM_PTH_STR && strcmp(e->s, we[j].s) == 0);
            else
                FUZZ_CHECK(e->kind == GGDM_PTH_INT && e->i == we[j].i);
        }
        ggdm_pth_free(&back);
    } else {
        FUZZ_CHECKF(st == GGDM_ERR_ARG || st == GGDM_ERR_UNSUPPORTED, "writer status %d: %s", (int)st, msg);
    }
    free(out);
    free(out2);
    for (i = 0; i < ck->n_tensors; i++)
        free(vals[i]);
    free(vals);
    free(wt);
    free(we);
}

static void load_as_network(const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ggdm_unet_cfg cfg;
    float *params = (float *)&cfg;
    uint64_t count = 77, n = 0;
    int known = 5;
    char err[1024];
    ggdm_status st;
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size);
    FUZZ_CHECK(fclose(f) == 0);
    /* what a .pth cannot say, set small so that tiny networks load */
    ggdm_unet_cfg_default(&cfg);
    cfg.groups = 1;
    cfg.heads = 1;
    cfg.dim_head = 1;
    cfg.length = 4;
    st = ggdm_cli_load_unet(path, &cfg, &params, &count, &known, err, sizeof err);
    FUZZ_CHECK(known == 0);
    if (st != GGDM_OK) {
        FUZZ_CHECK(params == NULL && count == 0);
        FUZZ_CHECK(fuzz_msg_ok(err, sizeof err) && strncmp(err, path, strlen(path)) == 0);
        FUZZ_CHECK(strchr(err, '\n') == NULL);
        return;
    }
    FUZZ_CHECK(params != NULL);
    FUZZ_CHECK(ggdm_unet_cfg_check(&cfg, NULL) == GGDM_OK);
    FUZZ_CHECK(ggdm_unet_num_params(&cfg, &n) == GGDM_OK && n == count);
    free(params);
}

/* ------------------------------------------------------------------ pickle mode
 * An input that is not a zip archive is taken as data.pkl and wrapped in a valid archive
 * (correct CRCs) with the storages data/0 .. data/15, storage k holding (k + 1) * 16 bytes,
 * so that the fuzzer reaches the pickle interpreter without having to forge CRC-32s. */
#define N_STORAGES 16

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v & 0xffff);
    put16(p + 2, v >> 16);
}

static uint8_t *wrap_pickle(const uint8_t *pkl, size_t n, size_t *out_len)
{
    const char *names[N_STORAGES + 2];
    char snames[N_STORAGES][32];
    const uint8_t *datas[N_STORAGES + 2];
    size_t lens[N_STORAGES + 2], offs[N_STORAGES + 2], total = 0, pos, cd, k, nr = 0;
    static uint8_t pattern[N_STORAGES * 16];
    uint8_t *z;
    for (k = 0; k < sizeof pattern; k++)
        pattern[k] = (uint8_t)(k * 7 + 1);
    names[nr] = "archive/data.pkl";
    datas[nr] = pkl;
    lens[nr++] = n;
    for (k = 0; k < N_STORAGES; k++) {
        snprintf(snames[k], sizeof snames[k], "archive/data/%u", (unsigned)k);
        names[nr] = snames[k];
        datas[nr] = pattern;
        lens[nr++] = (k + 1) * 16;
    }
    names[nr] = "archive/version";
    datas[nr] = (const uint8_t *)"3\n";
    lens[nr++] = 2;
    for (k = 0; k < nr; k++)
        total += 30 + strlen(names[k]) + lens[k] + 46 + strlen(names[k]);
    total += 22;
    z = (uint8_t *)calloc(total, 1);
    FUZZ_CHECK(z != NULL);
    for (pos = 0, k = 0; k < nr; k++) {
        size_t nl = strlen(names[k]);
        uint32_t crc = ggdm_crc32(0, datas[k], lens[k]);
        offs[k] = pos;
        put32(z + pos, 0x04034b50u);
        put16(z + pos + 4, 20);
        put32(z + pos + 14, crc);
        put32(z + pos + 18, (uint32_t)lens[k]);
        put32(z + pos + 22, (uint32_t)lens[k]);
        put16(z + pos + 26, (unsigned)nl);
        memcpy(z + pos + 30, names[k], nl);
        if (lens[k])
            memcpy(z + pos + 30 + nl, datas[k], lens[k]);
        pos += 30 + nl + lens[k];
    }
    cd = pos;
    for (k = 0; k < nr; k++) {
        size_t nl = strlen(names[k]);
        put32(z + pos, 0x02014b50u);
        put16(z + pos + 4, 20);
        put16(z + pos + 6, 20);
        put32(z + pos + 16, ggdm_crc32(0, datas[k], lens[k]));
        put32(z + pos + 20, (uint32_t)lens[k]);
        put32(z + pos + 24, (uint32_t)lens[k]);
        put16(z + pos + 28, (unsigned)nl);
        put32(z + pos + 42, (uint32_t)offs[k]);
        memcpy(z + pos + 46, names[k], nl);
        pos += 46 + nl;
    }
    put32(z + pos, 0x06054b50u);
    put16(z + pos + 8, (unsigned)nr);
    put16(z + pos + 10, (unsigned)nr);
    put32(z + pos + 12, (uint32_t)(pos - cd));
    put32(z + pos + 16, (uint32_t)cd);
    pos += 22;
    FUZZ_CHECK(pos == total);
    *out_len = total;
    return z;
}

static void one_archive(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
        one_archive(data, size);
    } else if (size <= (1u << 20)) {
        size_t n = 0;
        uint8_t *z = wrap_pickle(data, size, &n);
        one_archive(z, n);
        free(z);
    }
    return 0;
}

static void one_archive(const uint8_t *data, size_t size)
{
    ggdm_pth ck;
    char msg[512];
    ggdm_status st;
    memset(msg, 'x', sizeof msg);
    st = ggdm_pth_parse(data, size, &ck, msg, sizeof msg);
    FUZZ_CHECK(fuzz_msg_ok(msg, sizeof msg));
    if (getenv("FUZZ_REPLAY_VERBOSE")) /* what the reader said, for a look at the corpus */
        fprintf(stderr, "  -> %s%s\n", st == GGDM_OK ? "accepted" : "refused: ", st == GGDM_OK ? "" : msg);
    if (st != GGDM_OK) {
        FUZZ_CHECKF(st == GGDM_ERR_FORMAT || st == GGDM_ERR_UNSUPPORTED ||
                        (st == GGDM_ERR_IO && strstr(msg, "out of memory")),
                    "status %d: %s", (int)st, msg);
        FUZZ_CHECKF(strncmp(msg, "pth: ", 5) == 0 && strlen(msg) > 5 && strchr(msg, '\n') == NULL, "message '%s'",
                    msg);
        ggdm_pth_free(&ck);
        FUZZ_CHECK(ck.tensors == NULL && ck.n_tensors == 0 && ck.entries == NULL && ck.archive == NULL);
        return;
    }
    FUZZ_CHECK(msg[0] == 0);
    check_result(data, size, &ck);
    round_trip(data, size, &ck);
    ggdm_pth_free(&ck);
    load_as_network(data, size);
}
