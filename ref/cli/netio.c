/*
 * Front end: the network commands' shared pieces (netio.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "netio.h"

#include <errno.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "ggdm/clip_tok.h"

#define ERRCAP 512

int ggdm_netio_opt(int argc, char **argv, int *i, const ggdm_netio_sopt *tab)
{
    const char *val;
    int r;
    for (; tab->name; tab++)
        if ((r = ggdm_opt(argc, argv, i, tab->name, &val)) != 0) {
            if (r > 0)
                *tab->dst = val;
            return r > 0 ? 1 : -1;
        }
    return 0;
}

static ggdm_status stored_fn(const void *cfg, int i, ggdm_param_info *info)
{
    const ggdm_netio_stored_table *s = (const ggdm_netio_stored_table *)cfg;
    if (i < 0 || i >= GGDM_NETIO_MAX_TENSORS)
        return GGDM_ERR_ARG;
    return s->base.tensor(s->base.cfg, s->map[i], info);
}

int ggdm_netio_stored(const ggdm_param_table *t, ggdm_netio_stored_table *s, ggdm_param_table *out)
{
    int i, n = 0;
    ggdm_param_info p;
    if (t->n_tensors > GGDM_NETIO_MAX_TENSORS)
        return 0;
    s->base = *t;
    for (i = 0; i < t->n_tensors; i++) {
        if (t->tensor(t->cfg, i, &p) != GGDM_OK)
            return 0;
        if (p.init != GGDM_PARAM_INIT_DERIVED)
            s->map[n++] = i;
    }
    *out = *t;
    out->cfg = s;
    out->tensor = stored_fn;
    out->n_tensors = n;
    return 1;
}

int ggdm_netio_load_f32(const char *cmd, const char *opt, const char *path, int ndim, ggdm_array *a)
{
    char err[ERRCAP];
    if (ggdm_io_load_npy(path, a, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s %s\n", cmd, opt, err);
        return 0;
    }
    if (a->dtype != GGDM_DT_F32 || a->ndim != ndim || a->count == 0) {
        char d[128];
        ggdm_array_describe(a, d, sizeof d);
        fprintf(stderr, "ggdm %s: %s %s is %s; expected a non-empty float32 array of %d dimensions\n", cmd, opt, path,
                d, ndim);
        ggdm_array_free(a);
        return 0;
    }
    return 1;
}

int ggdm_netio_save_f32(const char *cmd, const char *path, int ndim, const uint64_t *shape, const float *data)
{
    char err[ERRCAP];
    if (ggdm_io_save(path, GGDM_DT_F32, ndim, shape, data, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, err);
        return 0;
    }
    return 1;
}

void *ggdm_netio_alloc_ws(const char *cmd, size_t bytes)
{
    void *w = ggdm_io_aligned_alloc(bytes);
    if (!w)
        fprintf(stderr, "ggdm %s: out of memory for a %.1f MiB workspace\n", cmd, (double)bytes / 1048576.0);
    return w;
}

float *ggdm_netio_load_set(const char *cmd, const ggdm_weight_set *set, const ggdm_param_table *t,
                           const ggdm_load_opts *opts, const char *prefix)
{
    ggdm_netio_stored_table *stt;
    ggdm_param_table view;
    ggdm_weight_set sub;
    float *params;
    char err[ERRCAP];
    ggdm_status s;
    size_t pl = prefix ? strlen(prefix) : 0;
    uint64_t j, n = 0;
    stt = (ggdm_netio_stored_table *)malloc(sizeof *stt);
    if (!stt || !ggdm_netio_stored(t, stt, &view)) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, stt ? "the network's parameter table is too large" : "out of memory");
        free(stt);
        return NULL;
    }
    params = (float *)calloc((size_t)(t->n_params ? t->n_params : 1), sizeof(float));
    sub = *set;
    sub.entries = NULL;
    if (pl) {
        /* the names with the prefix, without it: still sorted (a common prefix) */
        sub.entries = (ggdm_wentry *)malloc((size_t)(set->n_entries ? set->n_entries : 1) * sizeof *sub.entries);
        for (j = 0; sub.entries && j < set->n_entries; j++)
            if (strncmp(set->entries[j].name, prefix, pl) == 0) {
                sub.entries[n] = set->entries[j];
                sub.entries[n++].name = set->entries[j].name + pl;
            }
        sub.n_entries = n;
    }
    if (!params || (pl && !sub.entries)) {
        fprintf(stderr, "ggdm %s: out of memory for %llu parameters\n", cmd, (unsigned long long)t->n_params);
        free(params);
        free(sub.entries);
        free(stt);
        return NULL;
    }
    s = ggdm_cli_params_load(pl ? &sub : set, &view, params, opts, err, sizeof err);
    free(sub.entries);
    free(stt);
    if (s != GGDM_OK) {
        if (pl)
            fprintf(stderr, "ggdm %s: %s (names after the prefix '%s')\n", cmd, err, prefix);
        else
            fprintf(stderr, "ggdm %s: %s\n", cmd, err);
        free(params);
        return NULL;
    }
    return params;
}

float *ggdm_netio_load_path(const char *cmd, const char *path, const ggdm_param_table *t,
                            const ggdm_load_opts *opts, const char *prefix)
{
    ggdm_weight_set set;
    char err[ERRCAP];
    float *p;
    if (ggdm_cli_wset_open(&set, path, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, err);
        return NULL;
    }
    p = ggdm_netio_load_set(cmd, &set, t, opts, prefix);
    ggdm_cli_wset_close(&set);
    return p;
}

float *ggdm_netio_load_model(const char *cmd, const ggdm_model_dir *md, const char *comp, const char *variant,
                             const ggdm_param_table *t, const ggdm_load_opts *opts)
{
    ggdm_weight_set set;
    char err[ERRCAP];
    float *p;
    if (ggdm_cli_model_weights(md, comp, variant, &set, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, err);
        return NULL;
    }
    p = ggdm_netio_load_set(cmd, &set, t, opts, NULL);
    ggdm_cli_wset_close(&set);
    return p;
}

int ggdm_netio_model(const char *cmd, const char *model, const char *comp, const char **cfgp, const char *wp,
                     ggdm_model_dir *md, char *cfgbuf, size_t cap)
{
    char err[ERRCAP];
    memset(md, 0, sizeof *md);
    if (!model)
        return 1;
    if (*cfgp || wp) {
        fprintf(stderr, "ggdm %s: --model reads the configuration and the weights; give neither --config nor "
                        "--weights with it\n", cmd);
        return -1;
    }
    if (ggdm_cli_model_open(md, model, err, sizeof err) != GGDM_OK ||
        ggdm_cli_model_path(md, comp, "config.json", cfgbuf, cap, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: --model %s\n", cmd, err);
        ggdm_cli_model_close(md);
        memset(md, 0, sizeof *md);
        return 0;
    }
    *cfgp = cfgbuf;
    return 1;
}

float *ggdm_netio_load(const char *cmd, const ggdm_model_dir *md, const char *comp, const char *variant,
                       const char *path, const ggdm_param_table *t, const ggdm_load_opts *opts, const char *prefix)
{
    return md && md->dir ? ggdm_netio_load_model(cmd, md, comp, variant, t, opts)
                         : ggdm_netio_load_path(cmd, path, t, opts, prefix);
}

static int read_tok_file(const char *cmd, const char *dir, const char *name, uint8_t **buf, uint64_t *len)
{
    char path[4096], err[ERRCAP];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        fprintf(stderr, "ggdm %s: path too long: %s/%s\n", cmd, dir, name);
        return 0;
    }
    if (ggdm_io_read_file(path, buf, len, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, err);
        return 0;
    }
    return 1;
}

int ggdm_netio_tok_open(const char *cmd, const char *dir, void **arena, const struct ggdm_clip_tok **tok)
{
    uint8_t *vocab = NULL, *merges = NULL;
    uint64_t vlen = 0, mlen = 0, abytes = 0;
    char msg[GGDM_CLIP_TOK_MSG_LEN];
    ggdm_clip_tok *t = NULL;
    ggdm_status st;
    *arena = NULL;
    *tok = NULL;
    if (!read_tok_file(cmd, dir, "vocab.json", &vocab, &vlen) ||
        !read_tok_file(cmd, dir, "merges.txt", &merges, &mlen)) {
        free(vocab);
        return 0;
    }
    st = ggdm_clip_tok_bytes(vlen, mlen, &abytes);
    if (st == GGDM_OK && !(*arena = malloc((size_t)abytes)))
        st = GGDM_ERR_IO;
    if (st == GGDM_OK)
        st = ggdm_clip_tok_load(*arena, abytes, (const char *)vocab, vlen, (const char *)merges, mlen, &t, msg);
    else
        snprintf(msg, sizeof msg, "%s", st == GGDM_ERR_IO ? "out of memory" : "tokenizer files too large");
    free(vocab);
    free(merges);
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s: %s\n", cmd, dir, msg);
        free(*arena);
        *arena = NULL;
        return 0;
    }
    *tok = t;
    return 1;
}

/* ------------------------------------------------------------------ traces */

int ggdm_netio_trace_open(ggdm_netio_trace *t, const char *cmd, const char *dir)
{
    char ipath[2048];
    memset(t, 0, sizeof *t);
    t->cmd = cmd;
    t->dir = dir;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "ggdm %s: cannot create the folder %s (%s)\n", cmd, dir, strerror(errno));
        return 0;
    }
    snprintf(ipath, sizeof ipath, "%s/index.txt", dir);
    t->index = fopen(ipath, "w");
    if (!t->index) {
        fprintf(stderr, "ggdm %s: cannot write %s (%s)\n", cmd, ipath, strerror(errno));
        return 0;
    }
    return 1;
}

void ggdm_netio_trace_write(void *ctx, const char *name, const float *data, int ndim, const uint64_t *shape)
{
    ggdm_netio_trace *c = (ggdm_netio_trace *)ctx;
    char path[2048], err[512];
    if (c->failed)
        return;
    snprintf(path, sizeof path, "%s/%s.npy", c->dir, name);
    if (ggdm_io_save(path, GGDM_DT_F32, ndim, shape, data, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", c->cmd, err);
        c->failed = 1;
        return;
    }
    fprintf((FILE *)c->index, "%s\n", name);
    c->count++;
}

int ggdm_netio_trace_close(ggdm_netio_trace *t)
{
    if (t->index && fclose((FILE *)t->index) != 0)
        t->failed = 1;
    t->index = NULL;
    return !t->failed;
}
