#define _POSIX_C_SOURCE 200809L
#include "weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggdm/bytes.h"
#include "ggdm/safetensors.h"
#include "io.h"
#include "pth.h"

/* Buffers of the original's GaussianDiffusion1D checkpoints: not network parameters. */
static const char *const ignored_buffers[] = {
    "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
    "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
    "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
    "loss_weight", "p2_loss_weight",
};

int ggdm_cli_parse_mults(const char *s, int *mults, int cap)
{
    int n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 64 || n == cap)
            return -1;
        mults[n++] = (int)v;
        if (*end == ',')
            end++;
        else if (*end)
            return -1;
        s = end;
    }
    return n;
}

/* ------------------------------------------------------------------ one list for both formats
 *
 * A safetensors file and a .pth checkpoint are both turned into this list of tensors (name,
 * shape, dtype, where the little-endian data lies in the file) plus the metadata strings the
 * configuration may come from; one function then validates the list against the network. */

enum { M_DIM, M_MULTS, M_GROUPS, M_LENGTH, M_HEADS, M_DIM_HEAD, M_COUNT };
static const char *const meta_keys[M_COUNT] = {"dim", "dim_mults", "groups", "length", "heads", "dim_head"};

typedef struct wtensor {
    const char *name; /* decoded; may hold NUL bytes, hence name_len */
    size_t name_len;
    int ndim;
    uint64_t shape[GGDM_ST_MAX_DIMS]; /* shape[ndim..] are 0 */
    int f32;                          /* the data is little-endian float32 */
    int dtype;                        /* the format's own code, for messages */
    uint64_t data_off, count;
} wtensor;

typedef struct wlist {
    int pth;          /* 0 safetensors, 1 .pth */
    wtensor *t;
    size_t n;
    size_t *sorted;   /* indices sorted by name */
    char *names;      /* safetensors: the decoded names */
    ggdm_pth ck;      /* .pth: the parsed checkpoint (owns the names) */
    int has[M_COUNT]; /* metadata present and decodable */
    char meta[M_COUNT][128];
} wlist;

static void wlist_free(wlist *w)
{
    free(w->t);
    free(w->sorted);
    free(w->names);
    ggdm_pth_free(&w->ck);
    memset(w, 0, sizeof *w);
}

static int name_cmp(const char *a, size_t na, const char *b, size_t nb)
{
    size_t m = na < nb ? na : nb;
    int c = m ? memcmp(a, b, m) : 0;
    return c ? c : na < nb ? -1 : na > nb ? 1 : 0;
}

/* shell sort of the index by name (no context-free qsort needed) */
static void sort_names(wlist *w)
{
    size_t gap, i, j;
    for (i = 0; i < w->n; i++)
        w->sorted[i] = i;
    for (gap = w->n / 2; gap > 0; gap /= 2)
        for (i = gap; i < w->n; i++) {
            size_t v = w->sorted[i];
            for (j = i; j >= gap && name_cmp(w->t[w->sorted[j - gap]].name, w->t[w->sorted[j - gap]].name_len,
                                             w->t[v].name, w->t[v].name_len) > 0;
                 j -= gap)
                w->sorted[j] = w->sorted[j - gap];
            w->sorted[j] = v;
        }
}

static long find_exact(const wlist *w, const char *name, size_t len)
{
    size_t lo = 0, hi = w->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const wtensor *t = &w->t[w->sorted[mid]];
        int c = name_cmp(t->name, t->name_len, name, len);
        if (c == 0)
            return (long)w->sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* name, else prefix + name (as ggdm_st_find_prefixed) */
static int find_t(const wlist *w, const char *prefix, const char *name)
{
    char buf[GGDM_UNET_NAME_LEN + 16];
    long i = find_exact(w, name, strlen(name));
    if (i >= 0 || !prefix[0])
        return (int)i;
    snprintf(buf, sizeof buf, "%s%s", prefix, name);
    return (int)find_exact(w, buf, strlen(buf));
}

/* Parses a safetensors file into malloc'd tensor and metadata tables (free both, also on
 * failure); err gets "PATH: reason". */
static ggdm_status st_parse_alloc(const char *path, const uint8_t *f, uint64_t len, ggdm_st_tensor **t,
                                  uint64_t *nt, ggdm_st_meta **m, uint64_t *nm, char *err, size_t errcap)
{
    char msg[GGDM_ST_MSG_LEN];
    ggdm_status st = ggdm_st_parse(f, len, NULL, 0, nt, NULL, 0, nm, msg);
    *t = NULL;
    *m = NULL;
    if (st == GGDM_ERR_BUFFER_TOO_SMALL) {
        *t = (ggdm_st_tensor *)calloc(*nt + 1, sizeof **t);
        *m = (ggdm_st_meta *)calloc(*nm + 1, sizeof **m);
        st = (*t && *m) ? ggdm_st_parse(f, len, *t, *nt, nt, *m, *nm, nm, msg) : GGDM_ERR_IO;
    }
    if (st != GGDM_OK)
        snprintf(err, errcap, "%s: %s", path, st == GGDM_ERR_IO ? "out of memory" : msg);
    return st;
}

static ggdm_status list_safetensors(const char *path, const uint8_t *f, uint64_t len, wlist *w, char *err,
                                    size_t errcap)
{
    uint64_t nt = 0, nm = 0, i, total = 0, used = 0;
    ggdm_st_tensor *t = NULL;
    ggdm_st_meta *m = NULL;
    ggdm_status st = st_parse_alloc(path, f, len, &t, &nt, &m, &nm, err, errcap);
    int k;
    if (st != GGDM_OK)
        goto done;
    for (i = 0; i < nt; i++)
        total += t[i].name_len + 1; /* decoded names are never longer than stored */
    w->t = (wtensor *)calloc(nt + 1, sizeof *w->t);
    w->sorted = (size_t *)calloc(nt + 1, sizeof *w->sorted);
    w->names = (char *)malloc(total + 1);
    if (!w->t || !w->sorted || !w->names) {
        snprintf(err, errcap, "%s: out of memory", path);
        st = GGDM_ERR_IO;
        goto done;
    }
    for (i = 0; i < nt; i++) {
        wtensor *x = &w->t[i];
        uint64_t sl = 0;
        int d;
        st = ggdm_st_string(f, len, t[i].name_off, t[i].name_len, w->names + used, total + 1 - used, &sl);
        if (st != GGDM_OK) { /* cannot happen after a successful parse */
            snprintf(err, errcap, "%s: tensor %llu: its name cannot be decoded", path, (unsigned long long)i);
            st = GGDM_ERR_FORMAT;
            goto done;
        }
        x->name = w->names + used;
        x->name_len = (size_t)sl;
        used += sl + 1;
        x->ndim = t[i].ndim;
        for (d = 0; d < t[i].ndim && d < GGDM_ST_MAX_DIMS; d++)
            x->shape[d] = t[i].shape[d];
        x->f32 = t[i].dtype == GGDM_ST_F32;
        x->dtype = (int)t[i].dtype;
        x->data_off = t[i].data_off;
        x->count = t[i].count;
    }
    w->n = (size_t)nt;
    for (k = 0; k < M_COUNT; k++) {
        uint64_t idx, sl;
        size_t cap = k == M_MULTS ? sizeof w->meta[k] : 64; /* the integers: as ggdm has always read them */
        w->has[k] = ggdm_st_find_meta(f, len, m, nm, meta_keys[k], &idx, NULL) == GGDM_OK &&
                    ggdm_st_string(f, len, m[idx].value_off, m[idx].value_len, w->meta[k], cap, &sl) == GGDM_OK;
    }
    st = GGDM_OK;
done:
    free(t);
    free(m);
    return st;
}

static ggdm_status list_pth(const char *path, const uint8_t *f, uint64_t len, wlist *w, char *err, size_t errcap)
{
    char msg[512];
    size_t i;
    ggdm_status st = ggdm_pth_parse(f, len, &w->ck, msg, sizeof msg);
    w->pth = 1;
    if (st != GGDM_OK) {
        snprintf(err, errcap, "%s: %s", path, msg);
        return st;
    }
    w->t = (wtensor *)calloc(w->ck.n_tensors + 1, sizeof *w->t);
    w->sorted = (size_t *)calloc(w->ck.n_tensors + 1, sizeof *w->sorted);
    if (!w->t || !w->sorted) {
        snprintf(err, errcap, "%s: out of memory", path);
        return GGDM_ERR_IO;
    }
    for (i = 0; i < w->ck.n_tensors; i++) {
        const ggdm_pth_tensor *p = &w->ck.tensors[i];
        wtensor *x = &w->t[i];
        int d;
        x->name = p->name;
        x->name_len = strlen(p->name);
        x->ndim = p->ndim;
        for (d = 0; d < p->ndim; d++)
            x->shape[d] = p->shape[d];
        x->f32 = p->dtype == GGDM_PTH_F32;
        x->dtype = p->dtype;
        x->data_off = p->data_off;
        x->count = p->count;
    }
    w->n = w->ck.n_tensors;
    return GGDM_OK; /* a checkpoint records no configuration: all of it comes from the shapes */
}

/* torch.save's formats before the zip one (torch < 1.6, or _use_new_zipfile_serialization=False):
 * a bare pickle stream (PROTO 2..5 first) or a tar archive ("ustar" at byte 257). */
static int legacy_torch(const char *path, const uint8_t *f, uint64_t len, char *err, size_t errcap)
{
    if ((len >= 2 && f[0] == 0x80 && f[1] >= 2 && f[1] <= 5) || (len >= 262 && memcmp(f + 257, "ustar", 5) == 0)) {
        snprintf(err, errcap, "%s: a PyTorch checkpoint in the legacy format (torch < 1.6, or "
                 "_use_new_zipfile_serialization=False), which is not read: load it and torch.save it again",
                 path);
        return 1;
    }
    return 0;
}

static ggdm_status read_list(const char *path, uint8_t **f, uint64_t *len, wlist *w, char *err, size_t errcap)
{
    ggdm_status st;
    memset(w, 0, sizeof *w);
    st = ggdm_io_read_file(path, f, len, err, errcap);
    if (st != GGDM_OK)
        return st;
    if (legacy_torch(path, *f, *len, err, errcap))
        return GGDM_ERR_UNSUPPORTED;
    /* torch.save's format is a zip archive; safetensors starts with a u64 header length,
     * which would have to be about 67 million TB to look like "PK\3\4" */
    st = ggdm_pth_is_zip(*f, *len) ? list_pth(path, *f, *len, w, err, errcap)
                                   : list_safetensors(path, *f, *len, w, err, errcap);
    if (st == GGDM_OK)
        sort_names(w);
    return st;
}

static int meta_int(const wlist *w, int key, int *out)
{
    char *end;
    long v;
    if (!w->has[key])
        return 0;
    v = strtol(w->meta[key], &end, 10);
    if (end == w->meta[key] || *end || v < 0 || v > (1L << 30))
        return -1;
    *out = (int)v;
    return 1;
}

/* The network of the list: configuration (metadata, else shapes), every parameter present,
 * of its shape and float32, nothing else but the schedule buffers; then the values. */
static ggdm_status load_list(const char *path, const uint8_t *f, const wlist *w, ggdm_unet_cfg *cfg, float **params,
                             uint64_t *count, int *length_known, char *err, size_t errcap)
{
    char cmsg[GGDM_UNET_MSG_LEN], shownm[256];
    const char *prefix = "";
    unsigned char *used = NULL;
    float *p = NULL;
    uint64_t np = 0;
    size_t i;
    int ntensors = 0, k, v, ok;
    ggdm_status st;
    /* the "model." prefix of the original's checkpoints */
    if (find_t(w, "", "init_conv.weight") < 0 && find_t(w, "model.", "init_conv.weight") >= 0)
        prefix = "model.";
    /* configuration: metadata first, then shapes */
    k = find_t(w, prefix, "init_conv.weight");
    if (k < 0) {
        snprintf(err, errcap, "%s: no tensor init_conv.weight (or model.init_conv.weight): not a Unet1D state dict",
                 path);
        return GGDM_ERR_FORMAT;
    }
    if (meta_int(w, M_DIM, &v) == 1)
        cfg->dim = v;
    else if (w->t[k].ndim == 3)
        cfg->dim = (int)w->t[k].shape[0];
    if (w->has[M_MULTS]) {
        int nlv = ggdm_cli_parse_mults(w->meta[M_MULTS], cfg->dim_mults, GGDM_UNET_MAX_LEVELS);
        if (nlv < 1) {
            snprintf(err, errcap, "%s: metadata dim_mults = '%s' is not a list like 1,2,4,8", path, w->meta[M_MULTS]);
            return GGDM_ERR_FORMAT;
        }
        cfg->n_levels = nlv;
    } else { /* from downs.i.3.weight: (dim * mult_i, ...) */
        int lv = 0;
        char nbuf[64];
        for (;;) {
            snprintf(nbuf, sizeof nbuf, "downs.%d.3.weight", lv);
            k = find_t(w, prefix, nbuf);
            if (k < 0 || lv == GGDM_UNET_MAX_LEVELS || cfg->dim <= 0)
                break;
            cfg->dim_mults[lv++] = (int)(w->t[k].shape[0] / (uint64_t)cfg->dim);
        }
        if (lv > 0)
            cfg->n_levels = lv;
    }
    meta_int(w, M_GROUPS, &cfg->groups);
    *length_known = meta_int(w, M_LENGTH, &cfg->length) == 1;
    meta_int(w, M_HEADS, &cfg->heads);
    meta_int(w, M_DIM_HEAD, &cfg->dim_head);
    st = ggdm_unet_cfg_check(cfg, cmsg);
    if (st != GGDM_OK) {
        snprintf(err, errcap, "%s: the network it describes is impossible: %s", path, cmsg);
        return st;
    }
    ggdm_unet_num_params(cfg, &np);
    ggdm_unet_num_tensors(cfg, &ntensors);
    used = (unsigned char *)calloc(w->n + 1, 1);
    if (!used) {
        snprintf(err, errcap, "%s: out of memory", path);
        return GGDM_ERR_IO;
    }
    /* every parameter present, of its shape, float32, before any allocation of its size:
     * the configuration may come from a hostile file (metadata dim 4096 ... would ask for TBs) */
    for (k = 0; k < ntensors; k++) {
        ggdm_unet_tensor_info ti;
        const wtensor *t;
        int j, d;
        ggdm_unet_tensor(cfg, k, &ti);
        j = find_t(w, prefix, ti.name);
        if (j < 0) {
            snprintf(err, errcap, "%s: missing tensor %s%s (dim %d, %d levels): the file does not hold this network",
                     path, prefix, ti.name, cfg->dim, cfg->n_levels);
            st = GGDM_ERR_FORMAT;
            goto done;
        }
        t = &w->t[j];
        ok = t->ndim == ti.ndim;
        for (d = 0; ok && d < ti.ndim; d++)
            ok = t->shape[d] == ti.shape[d];
        if (!ok) {
            snprintf(err, errcap, "%s: tensor %s%s has shape [%llu, %llu, %llu] (ndim %d), expected [%llu, %llu, %llu] "
                                  "(ndim %d)",
                     path, prefix, ti.name, (unsigned long long)t->shape[0], (unsigned long long)t->shape[1],
                     (unsigned long long)t->shape[2], t->ndim, (unsigned long long)ti.shape[0],
                     (unsigned long long)ti.shape[1], (unsigned long long)ti.shape[2], ti.ndim);
            st = GGDM_ERR_FORMAT;
            goto done;
        }
        if (!t->f32) {
            if (w->pth)
                snprintf(err, errcap, "%s: tensor %s%s is %s (torch.%s); only float32 tensors can be loaded", path,
                         prefix, ti.name, ggdm_pth_dtype_name(t->dtype), ggdm_pth_storage_name(t->dtype));
            else
                snprintf(err, errcap, "%s: tensor %s%s: safetensors: tensor '%s%s' is %s; only F32 tensors can be "
                                      "loaded as float32",
                         path, prefix, ti.name, prefix, ti.name, ggdm_st_dtype_name((ggdm_st_dtype)t->dtype));
            st = GGDM_ERR_UNSUPPORTED;
            goto done;
        }
        used[j] = 1;
    }
    for (i = 0; i < w->n; i++) { /* anything left must be a known non-parameter buffer */
        size_t b, pl = strlen(prefix), nb = sizeof ignored_buffers / sizeof ignored_buffers[0];
        const wtensor *t = &w->t[i];
        if (used[i])
            continue;
        for (b = 0; b < nb; b++) {
            size_t bl = strlen(ignored_buffers[b]);
            if (name_cmp(t->name, t->name_len, ignored_buffers[b], bl) == 0 ||
                (t->name_len == pl + bl && memcmp(t->name, prefix, pl) == 0 &&
                 memcmp(t->name + pl, ignored_buffers[b], bl) == 0))
                break;
        }
        if (b == nb) {
            if (t->name_len >= 255)
                snprintf(shownm, sizeof shownm, "(a long name)");
            else
                ggdm_io_shown(shownm, sizeof shownm, t->name, t->name_len);
            snprintf(err, errcap,
                     "%s: unexpected tensor '%s': not a parameter of Unet1D(dim=%d, %d levels) nor a schedule buffer",
                     path, shownm, cfg->dim, cfg->n_levels);
            st = GGDM_ERR_FORMAT;
            goto done;
        }
    }
    p = (float *)malloc(sizeof(float) * (size_t)(np ? np : 1));
    if (!p) {
        snprintf(err, errcap, "%s: out of memory", path);
        st = GGDM_ERR_IO;
        goto done;
    }
    for (k = 0; k < ntensors; k++) {
        ggdm_unet_tensor_info ti;
        const wtensor *t;
        uint64_t e;
        ggdm_unet_tensor(cfg, k, &ti);
        t = &w->t[find_t(w, prefix, ti.name)];
        for (e = 0; e < ti.count; e++) /* bit for bit: NaN payloads and -0 included */
            p[ti.offset + e] = ggdm_le_load_f32(f + t->data_off + 4 * e);
    }
    *params = p;
    *count = np;
    p = NULL;
    st = GGDM_OK;
done:
    free(p);
    free(used);
    return st;
}

ggdm_status ggdm_cli_load_unet(const char *path, ggdm_unet_cfg *cfg, float **params, uint64_t *count,
                               int *length_known, char *err, size_t errcap)
{
    uint8_t *f = NULL;
    uint64_t len = 0;
    wlist w;
    ggdm_status st;
    *params = NULL;
    *count = 0;
    *length_known = 0;
    st = read_list(path, &f, &len, &w, err, errcap);
    if (st == GGDM_OK)
        st = load_list(path, f, &w, cfg, params, count, length_known, err, errcap);
    wlist_free(&w);
    free(f);
    return st;
}

/* ------------------------------------------------------------------ checkpoint information */

ggdm_status ggdm_cli_unet_ckpt_info(const char *path, char *x_type, size_t cap, long long *epoch, char *err,
                                    size_t errcap)
{
    uint8_t *f = NULL;
    uint64_t len = 0;
    ggdm_status st;
    char buf[256];
    if (!x_type || cap == 0 || !epoch) {
        snprintf(err, errcap, "%s: ggdm_cli_unet_ckpt_info: null argument", path);
        return GGDM_ERR_ARG;
    }
    x_type[0] = 0;
    *epoch = -1;
    st = ggdm_io_read_file(path, &f, &len, err, errcap);
    if (st != GGDM_OK)
        return st;
    if (legacy_torch(path, f, len, err, errcap)) {
        free(f);
        return GGDM_ERR_UNSUPPORTED;
    }
    if (ggdm_pth_is_zip(f, len)) {
        ggdm_pth ck;
        char msg[512];
        const ggdm_pth_entry *e;
        st = ggdm_pth_parse(f, len, &ck, msg, sizeof msg);
        if (st != GGDM_OK) {
            snprintf(err, errcap, "%s: %s", path, msg);
            goto pth_done;
        }
        e = ggdm_pth_find_entry(&ck, "x_type");
        if (e && e->kind != GGDM_PTH_STR) {
            snprintf(err, errcap, "%s: the checkpoint's x_type is not a string", path);
            st = GGDM_ERR_FORMAT;
            goto pth_done;
        }
        if (e && strlen(e->s) >= cap) {
            snprintf(err, errcap, "%s: the checkpoint's x_type is longer than %zu bytes", path, cap - 1);
            st = GGDM_ERR_BUFFER_TOO_SMALL;
            goto pth_done;
        }
        if (e)
            strcpy(x_type, e->s);
        e = ggdm_pth_find_entry(&ck, "epoch");
        if (!e)
            e = ggdm_pth_find_entry(&ck, "iteration");
        if (e && e->kind != GGDM_PTH_INT) {
            snprintf(err, errcap, "%s: the checkpoint's %s is not an integer", path, e->key);
            st = GGDM_ERR_FORMAT;
            goto pth_done;
        }
        if (e)
            *epoch = e->i;
    pth_done:
        ggdm_pth_free(&ck);
        free(f);
        return st;
    }
    { /* safetensors: the metadata keys x_type and epoch (or iteration), when present */
        uint64_t nt = 0, nm = 0, idx, sl;
        ggdm_st_meta *m = NULL;
        ggdm_st_tensor *t = NULL;
        char *end;
        const char *keys[2] = {"epoch", "iteration"};
        int i;
        st = st_parse_alloc(path, f, len, &t, &nt, &m, &nm, err, errcap);
        if (st != GGDM_OK)
            goto st_done;
        if (ggdm_st_find_meta(f, len, m, nm, "x_type", &idx, NULL) == GGDM_OK) {
            if (ggdm_st_string(f, len, m[idx].value_off, m[idx].value_len, x_type, cap, &sl) != GGDM_OK) {
                x_type[0] = 0;
                snprintf(err, errcap, "%s: metadata x_type is longer than %zu bytes", path, cap - 1);
                st = GGDM_ERR_BUFFER_TOO_SMALL;
                goto st_done;
            }
        }
        for (i = 0; i < 2; i++)
            if (ggdm_st_find_meta(f, len, m, nm, keys[i], &idx, NULL) == GGDM_OK) {
                long long v;
                if (ggdm_st_string(f, len, m[idx].value_off, m[idx].value_len, buf, sizeof buf, &sl) != GGDM_OK ||
                    (v = strtoll(buf, &end, 10), end == buf || *end || v < 0)) {
                    snprintf(err, errcap, "%s: metadata %s is not a non-negative integer", path, keys[i]);
                    st = GGDM_ERR_FORMAT;
                    goto st_done;
                }
                *epoch = v;
                break;
            }
        st = GGDM_OK;
    st_done:
        free(t);
        free(m);
    }
    free(f);
    return st;
}

/* ------------------------------------------------------------------ writing */

ggdm_status ggdm_cli_save_unet(const char *path, const ggdm_unet_cfg *cfg, const float *params,
                               const char *const *extra_kv, int n_extra, char *err, size_t errcap)
{
    int nt = 0, k, nmeta = 0;
    ggdm_unet_tensor_info *info = NULL;
    ggdm_st_spec *specs = NULL;
    ggdm_st_kv meta[24];
    char vals[7][64], msg[GGDM_ST_MSG_LEN];
    uint64_t hb = 0, db = 0, written = 0, pos;
    uint8_t *buf = NULL;
    ggdm_status st = ggdm_unet_num_tensors(cfg, &nt);
    if (st != GGDM_OK) {
        snprintf(err, errcap, "%s: invalid configuration", path);
        return st;
    }
    info = (ggdm_unet_tensor_info *)calloc((size_t)nt, sizeof *info);
    specs = (ggdm_st_spec *)calloc((size_t)nt, sizeof *specs);
    if (!info || !specs) {
        st = GGDM_ERR_IO;
        snprintf(err, errcap, "%s: out of memory", path);
        goto done;
    }
    for (k = 0; k < nt; k++) {
        ggdm_unet_tensor(cfg, k, &info[k]);
        specs[k].name = info[k].name;
        specs[k].dtype = GGDM_ST_F32;
        specs[k].ndim = info[k].ndim;
        specs[k].shape[0] = info[k].shape[0];
        specs[k].shape[1] = info[k].shape[1];
        specs[k].shape[2] = info[k].shape[2];
    }
    {
        size_t used = 0;
        vals[1][0] = 0;
        for (k = 0; k < cfg->n_levels; k++)
            used += (size_t)snprintf(vals[1] + used, sizeof vals[1] - used, "%s%d", k ? "," : "", cfg->dim_mults[k]);
    }
    snprintf(vals[0], sizeof vals[0], "%d", cfg->dim);
    snprintf(vals[2], sizeof vals[2], "%d", cfg->groups);
    snprintf(vals[3], sizeof vals[3], "%d", cfg->length);
    snprintf(vals[4], sizeof vals[4], "%d", cfg->heads);
    snprintf(vals[5], sizeof vals[5], "%d", cfg->dim_head);
    meta[nmeta].key = "format"; meta[nmeta++].value = "ggdm.unet1d";
    meta[nmeta].key = "dim"; meta[nmeta++].value = vals[0];
    meta[nmeta].key = "dim_mults"; meta[nmeta++].value = vals[1];
    meta[nmeta].key = "groups"; meta[nmeta++].value = vals[2];
    meta[nmeta].key = "length"; meta[nmeta++].value = vals[3];
    meta[nmeta].key = "heads"; meta[nmeta++].value = vals[4];
    meta[nmeta].key = "dim_head"; meta[nmeta++].value = vals[5];
    for (k = 0; k + 1 < 2 * n_extra && nmeta < 24; k += 2) {
        meta[nmeta].key = extra_kv[k];
        meta[nmeta++].value = extra_kv[k + 1];
    }
    st = ggdm_st_header_size(specs, (uint64_t)nt, meta, (uint64_t)nmeta, &hb, &db, msg);
    if (st == GGDM_OK) {
        buf = (uint8_t *)malloc((size_t)(hb + db));
        if (!buf)
            st = GGDM_ERR_IO;
    }
    if (st == GGDM_OK)
        st = ggdm_st_write_header(specs, (uint64_t)nt, meta, (uint64_t)nmeta, buf, hb + db, &written, msg);
    if (st != GGDM_OK) {
        snprintf(err, errcap, "%s: cannot write the header: %s", path, msg);
        goto done;
    }
    pos = hb;
    for (k = 0; k < nt; k++) {
        ggdm_st_encode_f32(params + info[k].offset, info[k].count, buf + pos);
        pos += 4 * info[k].count;
    }
    st = ggdm_io_write_file(path, buf, hb + db, err, errcap);
done:
    free(buf);
    free(specs);
    free(info);
    return st;
}

ggdm_status ggdm_cli_save_unet_pth_ex(const char *path, const ggdm_unet_cfg *cfg, const float *params, int T,
                                      ggdm_schedule_kind schedule, const char *x_type, const char *step_key,
                                      long long step, char *err, size_t errcap)
{
    int nt = 0, k, nb = T > 0 ? GGDM_SCHED_NUM_TABLES : 0;
    ggdm_unet_tensor_info *info = NULL;
    ggdm_pth_wtensor *wt = NULL;
    ggdm_pth_wentry ent[3];
    size_t ne = 0;
    float *sched = NULL;
    char (*names)[GGDM_UNET_NAME_LEN + 8] = NULL, msg[512];
    uint8_t *buf = NULL;
    uint64_t blen = 0;
    ggdm_status st = ggdm_unet_num_tensors(cfg, &nt);
    if (st != GGDM_OK) {
        snprintf(err, errcap, "%s: invalid configuration", path);
        return st;
    }
    if (T < 0 || T > GGDM_SCHEDULE_MAX_T) {
        snprintf(err, errcap, "%s: T = %d is outside 0 .. %d", path, T, GGDM_SCHEDULE_MAX_T);
        return GGDM_ERR_ARG;
    }
    info = (ggdm_unet_tensor_info *)calloc((size_t)nt, sizeof *info);
    wt = (ggdm_pth_wtensor *)calloc((size_t)(nt + nb), sizeof *wt);
    names = (char(*)[GGDM_UNET_NAME_LEN + 8])calloc((size_t)nt, sizeof *names);
    if (nb)
        sched = (float *)malloc(sizeof(float) * ggdm_schedule_count(T));
    if (!info || !wt || !names || (nb && !sched)) {
        st = GGDM_ERR_IO;
        snprintf(err, errcap, "%s: out of memory", path);
        goto done;
    }
    /* the wrapper's state_dict(): its own buffers first, then the network under "model." */
    if (nb) {
        st = ggdm_schedule_compute(schedule, T, sched, ggdm_schedule_count(T));
        if (st != GGDM_OK) {
            snprintf(err, errcap, "%s: no %s schedule of T = %d", path, ggdm_schedule_kind_name(schedule), T);
            goto done;
        }
        for (k = 0; k < nb; k++) {
            wt[k].name = ggdm_schedule_table_name(k);
            wt[k].ndim = 1;
            wt[k].shape[0] = (uint64_t)T;
            wt[k].data = sched + (size_t)k * (size_t)T;
        }
    }
    for (k = 0; k < nt; k++) {
        int d;
        ggdm_unet_tensor(cfg, k, &info[k]);
        snprintf(names[k], sizeof names[k], "model.%s", info[k].name);
        wt[nb + k].name = names[k];
        wt[nb + k].ndim = info[k].ndim;
        for (d = 0; d < info[k].ndim; d++)
            wt[nb + k].shape[d] = info[k].shape[d];
        wt[nb + k].data = params + info[k].offset;
    }
    memset(ent, 0, sizeof ent);
    if (x_type) {
        ent[ne].key = "x_type";
        ent[ne].kind = GGDM_PTH_W_STR;
        ent[ne++].s = x_type;
    }
    ent[ne].key = "model_state_dict";
    ent[ne++].kind = GGDM_PTH_W_STATE;
    if (step >= 0) {
        ent[ne].key = step_key ? step_key : "epoch";
        ent[ne].kind = GGDM_PTH_W_INT;
        ent[ne++].i = step;
    }
    st = ggdm_pth_write(ent, ne, wt, (size_t)(nt + nb), &buf, &blen, msg, sizeof msg);
    if (st != GGDM_OK) {
        snprintf(err, errcap, "%s: %s", path, msg);
        goto done;
    }
    st = ggdm_io_write_file(path, buf, blen, err, errcap);
done:
    free(buf);
    free(sched);
    free(names);
    free(wt);
    free(info);
    return st;
}

ggdm_status ggdm_cli_save_unet_pth(const char *path, const ggdm_unet_cfg *cfg, const float *params, const char *x_type,
                                   long long epoch, int T, char *err, size_t errcap)
{
    return ggdm_cli_save_unet_pth_ex(path, cfg, params, T, GGDM_SCHEDULE_COSINE, x_type, "epoch", epoch, err, errcap);
}
