#define _POSIX_C_SOURCE 200809L
#include "weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggdm/safetensors.h"
#include "io.h"

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

static int meta_int(const uint8_t *f, uint64_t len, const ggdm_st_meta *m, uint64_t nm, const char *key, int *out)
{
    uint64_t idx, sl;
    char buf[64], *end;
    long v;
    if (ggdm_st_find_meta(f, len, m, nm, key, &idx, NULL) != GGDM_OK)
        return 0;
    if (ggdm_st_string(f, len, m[idx].value_off, m[idx].value_len, buf, sizeof buf, &sl) != GGDM_OK)
        return -1;
    v = strtol(buf, &end, 10);
    if (end == buf || *end || v < 0 || v > (1L << 30))
        return -1;
    *out = (int)v;
    return 1;
}

static int find_t(const uint8_t *f, uint64_t len, const ggdm_st_tensor *t, uint64_t n, const char *prefix,
                  const char *name)
{
    uint64_t idx;
    if (ggdm_st_find_prefixed(f, len, t, n, prefix, name, &idx, NULL) != GGDM_OK)
        return -1;
    return (int)idx;
}

ggdm_status ggdm_cli_load_unet(const char *path, ggdm_unet_cfg *cfg, float **params, uint64_t *count,
                               int *length_known, char *err, size_t errcap)
{
    uint8_t *f = NULL;
    uint64_t len, nt = 0, nm = 0, np = 0, i;
    ggdm_st_tensor *t = NULL;
    ggdm_st_meta *m = NULL;
    char msg[GGDM_ST_MSG_LEN], cmsg[GGDM_UNET_MSG_LEN];
    const char *prefix = "";
    unsigned char *used = NULL;
    float *p = NULL;
    int ntensors, k, v, ok;
    ggdm_status st;
    *params = NULL;
    *count = 0;
    *length_known = 0;
    st = ggdm_io_read_file(path, &f, &len, err, errcap);
    if (st != GGDM_OK)
        return st;
    st = ggdm_st_parse(f, len, NULL, 0, &nt, NULL, 0, &nm, msg);
    if (st == GGDM_ERR_BUFFER_TOO_SMALL) {
        t = (ggdm_st_tensor *)calloc(nt + 1, sizeof *t);
        m = (ggdm_st_meta *)calloc(nm + 1, sizeof *m);
        st = (t && m) ? ggdm_st_parse(f, len, t, nt, &nt, m, nm, &nm, msg) : GGDM_ERR_IO;
    }
    if (st != GGDM_OK) {
        snprintf(err, errcap, "%s: %s", path, st == GGDM_ERR_IO ? "out of memory" : msg);
        goto done;
    }
    /* the "model." prefix of the original's checkpoints */
    if (find_t(f, len, t, nt, "", "init_conv.weight") < 0 && find_t(f, len, t, nt, "model.", "init_conv.weight") >= 0)
        prefix = "model.";
    /* configuration: metadata first, then shapes */
    k = find_t(f, len, t, nt, prefix, "init_conv.weight");
    if (k < 0) {
        snprintf(err, errcap, "%s: no tensor init_conv.weight (or model.init_conv.weight): not a Unet1D state dict",
                 path);
        st = GGDM_ERR_FORMAT;
        goto done;
    }
    if (meta_int(f, len, m, nm, "dim", &v) == 1)
        cfg->dim = v;
    else if (t[k].ndim == 3)
        cfg->dim = (int)t[k].shape[0];
    {
        uint64_t idx, sl;
        char buf[128];
        if (ggdm_st_find_meta(f, len, m, nm, "dim_mults", &idx, NULL) == GGDM_OK &&
            ggdm_st_string(f, len, m[idx].value_off, m[idx].value_len, buf, sizeof buf, &sl) == GGDM_OK) {
            int nlv = ggdm_cli_parse_mults(buf, cfg->dim_mults, GGDM_UNET_MAX_LEVELS);
            if (nlv < 1) {
                snprintf(err, errcap, "%s: metadata dim_mults = '%s' is not a list like 1,2,4,8", path, buf);
                st = GGDM_ERR_FORMAT;
                goto done;
            }
            cfg->n_levels = nlv;
        } else { /* from downs.i.3.weight: (dim * mult_i, ...) */
            int lv = 0;
            char nbuf[64];
            for (;;) {
                snprintf(nbuf, sizeof nbuf, "downs.%d.3.weight", lv);
                k = find_t(f, len, t, nt, prefix, nbuf);
                if (k < 0 || lv == GGDM_UNET_MAX_LEVELS || cfg->dim <= 0)
                    break;
                cfg->dim_mults[lv++] = (int)(t[k].shape[0] / (uint64_t)cfg->dim);
            }
            if (lv > 0)
                cfg->n_levels = lv;
        }
    }
    meta_int(f, len, m, nm, "groups", &cfg->groups);
    *length_known = meta_int(f, len, m, nm, "length", &cfg->length) == 1;
    meta_int(f, len, m, nm, "heads", &cfg->heads);
    meta_int(f, len, m, nm, "dim_head", &cfg->dim_head);
    st = ggdm_unet_cfg_check(cfg, cmsg);
    if (st != GGDM_OK) {
        snprintf(err, errcap, "%s: the network it describes is impossible: %s", path, cmsg);
        goto done;
    }
    ggdm_unet_num_params(cfg, &np);
    ggdm_unet_num_tensors(cfg, &ntensors);
    used = (unsigned char *)calloc(nt + 1, 1);
    if (!used) {
        snprintf(err, errcap, "%s: out of memory", path);
        st = GGDM_ERR_IO;
        goto done;
    }
    /* every parameter present, of its shape, float32, before any allocation of its size:
     * the configuration may come from a hostile file (metadata dim 4096 ... would ask for TBs) */
    for (k = 0; k < ntensors; k++) {
        ggdm_unet_tensor_info ti;
        int j, d;
        ggdm_unet_tensor(cfg, k, &ti);
        j = find_t(f, len, t, nt, prefix, ti.name);
        if (j < 0) {
            snprintf(err, errcap, "%s: missing tensor %s%s (dim %d, %d levels): the file does not hold this network",
                     path, prefix, ti.name, cfg->dim, cfg->n_levels);
            st = GGDM_ERR_FORMAT;
            goto done;
        }
        ok = t[j].ndim == ti.ndim;
        for (d = 0; ok && d < ti.ndim; d++)
            ok = t[j].shape[d] == ti.shape[d];
        if (!ok) {
            snprintf(err, errcap, "%s: tensor %s%s has shape [%llu, %llu, %llu] (ndim %d), expected [%llu, %llu, %llu] "
                                  "(ndim %d)",
                     path, prefix, ti.name, (unsigned long long)t[j].shape[0], (unsigned long long)t[j].shape[1],
                     (unsigned long long)t[j].shape[2], t[j].ndim, (unsigned long long)ti.shape[0],
                     (unsigned long long)ti.shape[1], (unsigned long long)ti.shape[2], ti.ndim);
            st = GGDM_ERR_FORMAT;
            goto done;
        }
        if (t[j].dtype != GGDM_ST_F32) {
            snprintf(err, errcap, "%s: tensor %s%s: safetensors: tensor '%s%s' is %s; only F32 tensors can be loaded "
                                  "as float32",
                     path, prefix, ti.name, prefix, ti.name, ggdm_st_dtype_name(t[j].dtype));
            st = GGDM_ERR_UNSUPPORTED;
            goto done;
        }
        used[j] = 1;
    }
    p = (float *)malloc(sizeof(float) * (size_t)np);
    if (!p) {
        snprintf(err, errcap, "%s: out of memory", path);
        st = GGDM_ERR_IO;
        goto done;
    }
    for (k = 0; k < ntensors; k++) {
        ggdm_unet_tensor_info ti;
        int j;
        ggdm_unet_tensor(cfg, k, &ti);
        j = find_t(f, len, t, nt, prefix, ti.name);
        st = ggdm_st_load_f32(f, len, &t[j], p + ti.offset, ti.count, msg);
        if (st != GGDM_OK) {
            snprintf(err, errcap, "%s: tensor %s%s: %s", path, prefix, ti.name, msg);
            goto done;
        }
    }
    for (i = 0; i < nt; i++) { /* anything left must be a known non-parameter buffer */
        char name[256];
        uint64_t sl;
        size_t b, pl = strlen(prefix);
        const char *bare;
        if (used[i])
            continue;
        if (ggdm_st_string(f, len, t[i].name_off, t[i].name_len, name, sizeof name, &sl) != GGDM_OK)
            snprintf(name, sizeof name, "(a long name)");
        bare = strncmp(name, prefix, pl) == 0 ? name + pl : name;
        for (b = 0; b < sizeof ignored_buffers / sizeof ignored_buffers[0]; b++)
            if (strcmp(name, ignored_buffers[b]) == 0 || strcmp(bare, ignored_buffers[b]) == 0)
                break;
        if (b == sizeof ignored_buffers / sizeof ignored_buffers[0]) {
            snprintf(err, errcap,
                     "%s: unexpected tensor '%s': not a parameter of Unet1D(dim=%d, %d levels) nor a schedule buffer",
                     path, name, cfg->dim, cfg->n_levels);
            st = GGDM_ERR_FORMAT;
            goto done;
        }
    }
    *params = p;
    *count = np;
    p = NULL;
    st = GGDM_OK;
done:
    free(p);
    free(used);
    free(t);
    free(m);
    free(f);
    return st;
}

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
