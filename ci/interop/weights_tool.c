/*
 * weights_tool: a small driver of the front end's weight layer for ci/interop/weights_vs_torch.py.
 *
 *   weights_tool load PATH OUT.safetensors [VARIANT]
 *       opens PATH (a .safetensors file, a *.index.json, or a folder: ggdm_cli_wset_open_dir with
 *       base "model"), loads every tensor (F32/F16/BF16) through ggdm_cli_params_load with a
 *       table of all of them (name order), and writes them as one F32 file
 *   weights_tool resave PATH OUTDIR f32|f16 MAX_SHARD_BYTES
 *       the same load, then ggdm_cli_params_save(OUTDIR, "model", ...)
 * Exit status 0, or 1 with the error on stderr.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model_dir.h"

typedef struct tab {
    ggdm_param_info *info;
    int n;
} tab;

static ggdm_status fn(const void *cfg, int i, ggdm_param_info *info)
{
    const tab *t = (const tab *)cfg;
    if (i < 0 || i >= t->n)
        return GGDM_ERR_ARG;
    *info = t->info[i];
    return GGDM_OK;
}

int main(int argc, char **argv)
{
    ggdm_weight_set set;
    tab t;
    ggdm_param_table tb;
    uint64_t i, total = 0;
    float *p;
    char err[2048];
    struct stat sb;
    ggdm_status st;
    int d;
    if (argc < 4 || (strcmp(argv[1], "load") && strcmp(argv[1], "resave")) ||
        (!strcmp(argv[1], "resave") && argc < 6)) {
        fprintf(stderr, "usage: weights_tool load PATH OUT [VARIANT] | resave PATH OUTDIR f32|f16 MAX\n");
        return 2;
    }
    if (stat(argv[2], &sb) == 0 && S_ISDIR(sb.st_mode))
        st = ggdm_cli_wset_open_dir(&set, argv[2], "model", !strcmp(argv[1], "load") && argc > 4 ? argv[4] : NULL, err,
                                    sizeof err);
    else
        st = ggdm_cli_wset_open(&set, argv[2], err, sizeof err);
    if (st != GGDM_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    t.info = (ggdm_param_info *)calloc((size_t)set.n_entries + 1, sizeof *t.info);
    t.n = (int)set.n_entries;
    for (i = 0; i < set.n_entries; i++) {
        const ggdm_st_tensor *x = &set.files[set.entries[i].file].tensors[set.entries[i].tensor];
        snprintf(t.info[i].name, sizeof t.info[i].name, "%s", set.entries[i].name);
        t.info[i].ndim = x->ndim;
        for (d = 0; d < x->ndim && d < GGDM_PARAM_MAX_DIMS; d++)
            t.info[i].shape[d] = x->shape[d];
        t.info[i].count = x->count;
        t.info[i].offset = total;
        total += x->count;
    }
    tb.cfg = &t;
    tb.tensor = fn;
    tb.n_tensors = t.n;
    tb.n_params = total;
    p = (float *)malloc((size_t)(total ? total : 1) * sizeof *p);
    st = ggdm_cli_params_load(&set, &tb, p, NULL, err, sizeof err);
    if (st == GGDM_OK) {
        if (!strcmp(argv[1], "load"))
            st = ggdm_cli_params_save_file(argv[3], &tb, p, GGDM_ST_F32, NULL, 0, err, sizeof err);
        else
            st = ggdm_cli_params_save(argv[3], "model", NULL, &tb, p, !strcmp(argv[4], "f16") ? GGDM_ST_F16 : GGDM_ST_F32,
                                      strtoull(argv[5], NULL, 10), err, sizeof err);
    }
    ggdm_cli_wset_close(&set);
    free(p);
    free(t.info);
    if (st != GGDM_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    return 0;
}
