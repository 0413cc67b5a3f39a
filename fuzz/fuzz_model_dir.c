/*
 * fuzz_model_dir: the front end's model-folder layer (ref/cli/json.c, ref/cli/model_dir.c)
 * on arbitrary bytes: the strict JSON reader, a sharded index and a safetensors shard
 * through the weight-set loader and ggdm_cli_params_load / _save.
 *
 * The input is cut at its first NUL byte: the part before is the index JSON
 * (m.safetensors.index.json), the part after is shard m-1.safetensors; a fixed valid shard
 * m-2.safetensors (tensor "fixed.w", F32 [2]) is beside them. Without a NUL the whole input
 * is the shard, opened as a single file.
 *
 * Properties checked besides "no crash, no UB, no leak":
 *   - JSON: a parse succeeds or gives FORMAT with one line "fuzz: at byte N: ..." with
 *     N <= size; a parsed value written and parsed again writes the same text (a fixed
 *     point); the writer fails only on non-UTF-8 / NUL-containing strings it was never
 *     given by the reader (never);
 *   - weight sets: on error the set is empty and the message is one non-empty line naming a
 *     file of the folder; on success the names are sorted and unique and every one is found;
 *   - loading: a table of every F32/F16/BF16 tensor of the set (small ones) loads, F32 values
 *     are the file's bits; a tensor left out of the table is refused unless ignored; saved as
 *     F32 (sharded at 256 bytes) and loaded back: the same bits; saved as F16: the values
 *     rounded by ggdm_st_f32_to_f16_bits.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "ggdm/bytes.h"
#include "json.h"
#include "model_dir.h"

static char dir[4096], outdir[4096];

static void cleanup(void)
{
    if (dir[0])
        ggdm_io_remove_tree(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "%s/ggdm-fuzz-model-dir-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("fuzz_model_dir: mkdtemp");
        abort();
    }
    snprintf(outdir, sizeof outdir, "%s/out", dir);
    atexit(cleanup);
    return 0;
}

static void put(const char *name, const void *data, size_t n)
{
    char p[4200];
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    f = fopen(p, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(n == 0 || fwrite(data, 1, n, f) == n);
    FUZZ_CHECK(fclose(f) == 0);
}

static void check_json(const uint8_t *data, size_t size)
{
    ggdm_jv *v = NULL, *w = NULL;
    char err[512], *t1 = NULL, *t2 = NULL;
    size_t l1 = 0, l2 = 0;
    ggdm_status st = ggdm_jv_parse((const char *)data, size, NULL, "fuzz", &v, err, sizeof err);
    if (st != GGDM_OK) {
        unsigned long long at = 0;
        FUZZ_CHECK(v == NULL);
        FUZZ_CHECKF(st == GGDM_ERR_FORMAT, "status %d", (int)st);
        FUZZ_CHECKF(sscanf(err, "fuzz: at byte %llu:", &at) == 1 && at <= size, "%s", err);
        FUZZ_CHECK(fuzz_msg_ok(err, sizeof err) && strchr(err, '\n') == NULL);
        return;
    }
    FUZZ_CHECK(ggdm_jv_write(v, 1, &t1, &l1) == GGDM_OK);
    FUZZ_CHECK(ggdm_jv_parse(t1, l1, NULL, "fuzz", &w, err, sizeof err) == GGDM_OK);
    FUZZ_CHECK(ggdm_jv_write(w, 1, &t2, &l2) == GGDM_OK);
    FUZZ_CHECKF(l1 == l2 && memcmp(t1, t2, l1) == 0, "not a fixed point:\n%s\n%s", t1, t2);
    free(t1);
    free(t2);
    ggdm_jv_free(v);
    ggdm_jv_free(w);
}

typedef struct ftable {
    ggdm_param_info *info;
    int n;
} ftable;

static ggdm_status ft_fn(const void *cfg, int i, ggdm_param_info *info)
{
    const ftable *t = (const ftable *)cfg;
    if (i < 0 || i >= t->n)
        return GGDM_ERR_ARG;
    *info = t->info[i];
    return GGDM_OK;
}

static void check_set(const ggdm_weight_set *set)
{
    uint64_t i, total = 0;
    ftable ft;
    ggdm_param_table tb;
    const char **ign;
    int ni = 0, d;
    float *p, *q;
    char err[1024];
    ggdm_weight_set back;
    for (i = 0; i < set->n_entries; i++) {
        FUZZ_CHECK(i == 0 || strcmp(set->entries[i - 1].name, set->entries[i].name) < 0);
        FUZZ_CHECK(ggdm_cli_wset_find(set, set->entries[i].name) == &set->entries[i]);
    }
    ft.info = (ggdm_param_info *)calloc((size_t)set->n_entries + 1, sizeof *ft.info);
    ign = (const char **)calloc((size_t)set->n_entries + 2, sizeof *ign);
    FUZZ_CHECK(ft.info && ign);
    ft.n = 0;
    for (i = 0; i < set->n_entries; i++) {
        const ggdm_st_tensor *t = &set->files[set->entries[i].file].tensors[set->entries[i].tensor];
        ggdm_param_info *pi = &ft.info[ft.n];
        int ok = (t->dtype == GGDM_ST_F32 || t->dtype == GGDM_ST_F16 || t->dtype == GGDM_ST_BF16) && t->ndim <= 4 &&
                 t->count <= 4096 && strlen(set->entries[i].name) < GGDM_PARAM_NAME_LEN && set->entries[i].name[0] != '*';
        if (!ok) {
            ign[ni++] = set->entries[i].name;
            continue;
        }
        memset(pi, 0, sizeof *pi);
        strcpy(pi->name, set->entries[i].name);
        pi->ndim = t->ndim;
        for (d = 0; d < t->ndim; d++)
            pi->shape[d] = t->shape[d];
        pi->count = t->count;
        pi->offset = total;
        total += t->count;
        ft.n++;
    }
    tb.cfg = &ft;
    tb.tensor = ft_fn;
    tb.n_tensors = ft.n;
    tb.n_params = total;
    p = (float *)malloc((size_t)(total ? total : 1) * sizeof *p);
    q = (float *)malloc((size_t)(total ? total : 1) * sizeof *q);
    FUZZ_CHECK(p && q);
    {
        ggdm_load_opts opts;
        ggdm_status st;
        memset(&opts, 0, sizeof opts);
        opts.ignore = ign;
        st = ggdm_cli_params_load(set, &tb, p, &opts, err, sizeof err);
        /* names a table cannot hold are ignored by exact name; a name like "*x" cannot be */
        FUZZ_CHECKF(st == GGDM_OK, "%s", err);
        if (ni > 0 && ign[0][0] != '*') {
            FUZZ_CHECK(ggdm_cli_params_load(set, &tb, p, NULL, err, sizeof err) == GGDM_ERR_FORMAT);
            FUZZ_CHECK(strstr(err, "is not a parameter of the network") != NULL);
        }
    }
    for (i = 0; i < (uint64_t)ft.n; i++) {
        const ggdm_wentry *e = ggdm_cli_wset_find(set, ft.info[i].name);
        const ggdm_wfile *wf = &set->files[e->file];
        const ggdm_st_tensor *t = &wf->tensors[e->tensor];
        uint64_t k;
        if (t->dtype == GGDM_ST_F32)
            for (k = 0; k < t->count; k++) {
                uint32_t a = ggdm_le_load_u32(wf->map.data + t->data_off + 4 * k), b;
                memcpy(&b, &p[ft.info[i].offset + k], 4);
                FUZZ_CHECK(a == b);
            }
    }
    /* saved and loaded back */
    ggdm_io_remove_tree(outdir);
    FUZZ_CHECKF(ggdm_cli_params_save(outdir, "m", NULL, &tb, p, GGDM_ST_F32, 256, err, sizeof err) == GGDM_OK, "%s", err);
    FUZZ_CHECKF(ggdm_cli_wset_open_dir(&back, outdir, "m", NULL, err, sizeof err) == GGDM_OK, "%s", err);
    FUZZ_CHECKF(ggdm_cli_params_load(&back, &tb, q, NULL, err, sizeof err) == GGDM_OK, "%s", err);
    FUZZ_CHECK(total == 0 || memcmp(p, q, (size_t)total * sizeof *p) == 0);
    ggdm_cli_wset_close(&back);
    FUZZ_CHECKF(ggdm_cli_params_save(outdir, "m", "fp16", &tb, p, GGDM_ST_F16, 0, err, sizeof err) == GGDM_OK, "%s", err);
    FUZZ_CHECKF(ggdm_cli_wset_open_dir(&back, outdir, "m", "fp16", err, sizeof err) == GGDM_OK, "%s", err);
    FUZZ_CHECKF(ggdm_cli_params_load(&back, &tb, q, NULL, err, sizeof err) == GGDM_OK, "%s", err);
    for (i = 0; i < total; i++) {
        uint32_t a, b;
        memcpy(&a, &p[i], 4);
        memcpy(&b, &q[i], 4);
        FUZZ_CHECK(b == ggdm_st_f16_to_f32_bits(ggdm_st_f32_to_f16_bits(a)));
    }
    ggdm_cli_wset_close(&back);
    free(p);
    free(q);
    free(ft.info);
    free(ign);
}

static const uint8_t fixed_shard[] = {
    /* {"fixed.w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} padded to 64, then 8 bytes */
    64, 0, 0, 0, 0, 0, 0, 0, '{', '"', 'f', 'i', 'x', 'e', 'd', '.', 'w', '"', ':', '{', '"', 'd', 't', 'y', 'p', 'e',
    '"', ':', '"', 'F', '3', '2', '"', ',', '"', 's', 'h', 'a', 'p', 'e', '"', ':', '[', '2', ']', ',', '"', 'd', 'a',
    't', 'a', '_', 'o', 'f', 'f', 's', 'e', 't', 's', '"', ':', '[', '0', ',', '8', ']', '}', '}', ' ', ' ', ' ', ' ',
    0, 0, 128, 63, 0, 0, 0, 192};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = (const uint8_t *)memchr(data, 0, size);
    ggdm_weight_set set;
    char err[2048], path[4200];
    ggdm_status st;
    check_json(data, size);
    if (nul) {
        size_t a = (size_t)(nul - data);
        put("m.safetensors.index.json", data, a);
        put("m-1.safetensors", nul + 1, size - a - 1);
        put("m-2.safetensors", fixed_shard, sizeof fixed_shard);
        snprintf(path, sizeof path, "%s/m.safetensors", dir);
        unlink(path);
        err[0] = 0;
        st = ggdm_cli_wset_open_dir(&set, dir, "m", NULL, err, sizeof err);
    } else {
        snprintf(path, sizeof path, "%s/m.safetensors.index.json", dir);
        unlink(path);
        put("m.safetensors", data, size);
        err[0] = 0;
        st = ggdm_cli_wset_open_dir(&set, dir, "m", NULL, err, sizeof err);
    }
    if (st != GGDM_OK) {
        FUZZ_CHECK(set.n_files == 0 && set.n_entries == 0 && set.files == NULL);
        FUZZ_CHECK(fuzz_msg_ok(err, sizeof err) && strchr(err, '\n') == NULL);
        FUZZ_CHECKF(strncmp(err, dir, strlen(dir)) == 0 || strncmp(err, "weights: ", 9) == 0, "%s", err);
        FUZZ_CHECKF(st == GGDM_ERR_FORMAT || st == GGDM_ERR_UNSUPPORTED ||
                        (st == GGDM_ERR_IO && (strstr(err, "out of memory") || strstr(err, "cannot map"))),
                    "status %d: %s", (int)st, err);
        return 0;
    }
    check_set(&set);
    ggdm_cli_wset_close(&set);
    return 0;
}
