/*
 * Stable Diffusion's networks on the command line (docs/vae.md): `ggdm vae-decode`, the VAE
 * decoder's forward pass and input VJP, for the interop tests against diffusers.
 *
 * The configuration comes from a diffusers config.json through a minimal accessor interface
 * (sd_cfg_src below: numbers, strings and lists of them by top-level key), so the mapping
 * (vae_cfg_from_src) does not depend on which JSON reader backs it. Until the front end's
 * shared JSON reader (ref/cli/json.h) is merged, a small reader of flat JSON objects here
 * backs it (flat_json_*: a top-level object of numbers, strings, booleans, null and lists).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "args.h"
#include "cmds.h"
#include "ggdm/safetensors.h"
#include "ggdm/vae.h"
#include "io.h"
#include "pool.h"

#define ERRCAP 512

/* ------------------------------------------------------------------ config accessor */

/* What vae_cfg_from_src needs of a config file. Every function returns 1 when the key (and,
 * for index >= 0, its list's element) exists with that type, 0 when the key is absent, -1 when
 * it has another type or the index is out of range. index -1: the value itself. */
typedef struct sd_cfg_src {
    void *ctx;
    int (*number)(void *ctx, const char *key, int index, double *v);
    int (*string)(void *ctx, const char *key, int index, char *buf, size_t cap);
    int (*list_len)(void *ctx, const char *key, int *n);
} sd_cfg_src;

static int cfg_int(const sd_cfg_src *s, const char *key, int index, int lo, int hi, int *out, char *err)
{
    double v;
    int r = s->number(s->ctx, key, index, &v);
    if (r == 0)
        return 0;
    if (r < 0 || v != (double)(long)v || v < lo || v > hi) {
        snprintf(err, ERRCAP, "\"%s\"%s must be an integer in %d .. %d", key, index >= 0 ? " (an element)" : "", lo,
                 hi);
        return -1;
    }
    *out = (int)v;
    return 1;
}

/*
 * A diffusers AutoencoderKL config.json -> the decoder's configuration. Keys read:
 * block_out_channels, layers_per_block, latent_channels, out_channels, norm_num_groups,
 * scaling_factor, mid_block_add_attention (default true), act_fn (must be "silu"),
 * up_block_types (each "UpDecoderBlock2D"), _class_name (when present: "AutoencoderKL").
 * Missing keys keep diffusers' defaults for AutoencoderKL. The latent size is not in the file.
 */
static int vae_cfg_from_src(const sd_cfg_src *s, ggdm_vae_cfg *cfg, char *err)
{
    char buf[64];
    double v;
    int n, i, r;
    /* AutoencoderKL's own defaults */
    memset(cfg, 0, sizeof *cfg);
    cfg->n_blocks = 1;
    cfg->block_out_channels[0] = 64;
    cfg->layers_per_block = 1;
    cfg->latent_channels = 4;
    cfg->out_channels = 3;
    cfg->norm_num_groups = 32;
    cfg->scaling_factor = 0.18215f;
    cfg->mid_attention = 1;
    r = s->string(s->ctx, "_class_name", -1, buf, sizeof buf);
    if (r < 0 || (r > 0 && strcmp(buf, "AutoencoderKL") != 0)) {
        snprintf(err, ERRCAP, "\"_class_name\" is not \"AutoencoderKL\"");
        return 0;
    }
    r = s->string(s->ctx, "act_fn", -1, buf, sizeof buf);
    if (r < 0 || (r > 0 && strcmp(buf, "silu") != 0)) {
        snprintf(err, ERRCAP, "\"act_fn\" must be \"silu\" (the only activation ggdm's decoder runs)");
        return 0;
    }
    r = s->list_len(s->ctx, "block_out_channels", &n);
    if (r < 0 || (r > 0 && (n < 1 || n > GGDM_VAE_MAX_BLOCKS))) {
        snprintf(err, ERRCAP, "\"block_out_channels\" must be a list of 1 .. %d integers", GGDM_VAE_MAX_BLOCKS);
        return 0;
    }
    if (r > 0) {
        cfg->n_blocks = n;
        for (i = 0; i < n; i++)
            if (cfg_int(s, "block_out_channels", i, 1, 8192, &cfg->block_out_channels[i], err) <= 0) {
                if (!err[0])
                    snprintf(err, ERRCAP, "\"block_out_channels\" must be a list of integers");
                return 0;
            }
    }
    r = s->list_len(s->ctx, "up_block_types", &n);
    if (r < 0 || (r > 0 && n != cfg->n_blocks)) {
        snprintf(err, ERRCAP, "\"up_block_types\" must list one block per block_out_channels entry");
        return 0;
    }
    for (i = 0; r > 0 && i < n; i++)
        if (s->string(s->ctx, "up_block_types", i, buf, sizeof buf) <= 0 || strcmp(buf, "UpDecoderBlock2D") != 0) {
            snprintf(err, ERRCAP, "\"up_block_types\"[%d] must be \"UpDecoderBlock2D\"", i);
            return 0;
        }
    if (cfg_int(s, "layers_per_block", -1, 0, GGDM_VAE_MAX_LAYERS, &cfg->layers_per_block, err) < 0 ||
        cfg_int(s, "latent_channels", -1, 1, 1024, &cfg->latent_channels, err) < 0 ||
        cfg_int(s, "out_channels", -1, 1, 1024, &cfg->out_channels, err) < 0 ||
        cfg_int(s, "norm_num_groups", -1, 1, 8192, &cfg->norm_num_groups, err) < 0)
        return 0;
    r = s->number(s->ctx, "scaling_factor", -1, &v);
    if (r < 0 || (r > 0 && !(v > 0 && v < 1e30))) {
        snprintf(err, ERRCAP, "\"scaling_factor\" must be a positive number");
        return 0;
    }
    if (r > 0)
        cfg->scaling_factor = (float)v;
    r = s->string(s->ctx, "mid_block_add_attention", -1, buf, sizeof buf); /* booleans come as strings */
    if (r > 0 && strcmp(buf, "true") != 0 && strcmp(buf, "false") != 0) {
        snprintf(err, ERRCAP, "\"mid_block_add_attention\" must be true or false");
        return 0;
    }
    if (r > 0)
        cfg->mid_attention = strcmp(buf, "true") == 0;
    return 1;
}

/* ------------------------------------------------------------------ a flat JSON reader */

typedef struct flat_json {
    const char *s;
    size_t n;
} flat_json;

static size_t fj_ws(const flat_json *j, size_t p)
{
    while (p < j->n && (j->s[p] == ' ' || j->s[p] == '\t' || j->s[p] == '\n' || j->s[p] == '\r'))
        p++;
    return p;
}

/* End of the string starting at p (the opening quote), past its closing quote; 0 on error. */
static size_t fj_str_end(const flat_json *j, size_t p)
{
    for (p++; p < j->n; p++) {
        if (j->s[p] == '\\')
            p++;
        else if (j->s[p] == '"')
            return p + 1;
    }
    return 0;
}

/* End of the value at p (any JSON value, nested lists and objects skipped); 0 on error. */
static size_t fj_value_end(const flat_json *j, size_t p)
{
    int depth = 0;
    p = fj_ws(j, p);
    if (p >= j->n)
        return 0;
    if (j->s[p] != '[' && j->s[p] != '{' && j->s[p] != '"') { /* a number, true, false, null */
        size_t b = p;
        while (p < j->n && !strchr(",}] \t\r\n", j->s[p]))
            p++;
        return p > b ? p : 0;
    }
    while (p < j->n) {
        char c = j->s[p];
        if (c == '"') {
            p = fj_str_end(j, p);
            if (!p || depth == 0)
                return p;
            continue;
        }
        if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (--depth == 0)
                return p + 1;
        }
        p++;
    }
    return 0;
}

/* The value of top-level key: [*b, *e); 0 when absent. */
static int fj_find(const flat_json *j, const char *key, size_t *b, size_t *e)
{
    size_t p = fj_ws(j, 0), klen = strlen(key);
    if (p >= j->n || j->s[p] != '{')
        return 0;
    p++;
    for (;;) {
        size_t ks, ke, ve;
        p = fj_ws(j, p);
        if (p >= j->n || j->s[p] != '"')
            return 0;
        ks = p + 1;
        ke = fj_str_end(j, p);
        if (!ke)
            return 0;
        p = fj_ws(j, ke);
        if (p >= j->n || j->s[p] != ':')
            return 0;
        p = fj_ws(j, p + 1);
        ve = fj_value_end(j, p);
        if (!ve)
            return 0;
        if (ke - 1 - ks == klen && memcmp(j->s + ks, key, klen) == 0) {
            *b = p;
            *e = ve;
            return 1;
        }
        p = fj_ws(j, ve);
        if (p >= j->n || j->s[p] != ',')
            return 0;
        p++;
    }
}

/* The element `index` of the list at [b, e) (index -1: the value itself). */
static int fj_elem(const flat_json *j, size_t b, size_t e, int index, size_t *eb, size_t *ee)
{
    size_t p;
    int k = 0;
    if (index < 0) {
        *eb = b;
        *ee = e;
        return 1;
    }
    if (j->s[b] != '[')
        return -1;
    p = fj_ws(j, b + 1);
    if (p < e && j->s[p] == ']')
        return -1;
    while (p < e) {
        size_t ve = fj_value_end(j, p);
        if (!ve)
            return -1;
        if (k == index) {
            *eb = p;
            *ee = ve;
            return 1;
        }
        p = fj_ws(j, ve);
        if (p >= e || j->s[p] != ',')
            return -1;
        p = fj_ws(j, p + 1);
        k++;
    }
    return -1;
}

static int fj_number(void *ctx, const char *key, int index, double *v)
{
    const flat_json *j = (const flat_json *)ctx;
    size_t b, e, eb, ee;
    char tmp[64], *end;
    if (!fj_find(j, key, &b, &e))
        return 0;
    if (fj_elem(j, b, e, index, &eb, &ee) < 0 || ee - eb >= sizeof tmp || ee == eb)
        return -1;
    memcpy(tmp, j->s + eb, ee - eb);
    tmp[ee - eb] = 0;
    errno = 0;
    *v = strtod(tmp, &end);
    return *end == 0 && errno == 0 && (tmp[0] == '-' || (tmp[0] >= '0' && tmp[0] <= '9')) ? 1 : -1;
}

/* A string's raw contents (escapes kept), or true / false as "true" / "false". */
static int fj_string(void *ctx, const char *key, int index, char *buf, size_t cap)
{
    const flat_json *j = (const flat_json *)ctx;
    size_t b, e, eb, ee;
    if (!fj_find(j, key, &b, &e))
        return 0;
    if (fj_elem(j, b, e, index, &eb, &ee) < 0)
        return -1;
    if (j->s[eb] == '"') {
        eb++;
        ee--;
    } else if (!((ee - eb == 4 && memcmp(j->s + eb, "true", 4) == 0) ||
                 (ee - eb == 5 && memcmp(j->s + eb, "false", 5) == 0))) {
        return -1;
    }
    if (ee - eb >= cap)
        return -1;
    memcpy(buf, j->s + eb, ee - eb);
    buf[ee - eb] = 0;
    return 1;
}

static int fj_list_len(void *ctx, const char *key, int *n)
{
    const flat_json *j = (const flat_json *)ctx;
    size_t b, e, eb, ee;
    int k = 0;
    if (!fj_find(j, key, &b, &e))
        return 0;
    if (j->s[b] != '[')
        return -1;
    while (k < 4096 && fj_elem(j, b, e, k, &eb, &ee) > 0)
        k++;
    *n = k;
    return 1;
}

/* ------------------------------------------------------------------ weights */

static int name_ignored(const char *name, const char *ignore)
{
    const char *p = ignore;
    while (p && *p) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (l && strncmp(name, p, l) == 0)
            return 1;
        p = c ? c + 1 : NULL;
    }
    return 0;
}

/*
 * Fills params (the table's n_params floats) from a safetensors file by name: every tensor
 * of the table must be there (under prefix + name when prefix is given), F32, of its shape (a
 * Linear [O, I] may also be stored as a 1x1 convolution [O, I, 1, 1]); a tensor of the file
 * that is not in the table is an error unless its name (after the prefix) starts with one of
 * the comma-separated prefixes in `ignore` (the encoder's, for a whole AutoencoderKL file).
 */
static int load_weights(const char *cmd, const char *path, const ggdm_param_table *tab, const char *prefix,
                        const char *ignore, float *params)
{
    uint8_t *file = NULL;
    uint64_t len = 0, nt = 0, nm = 0, i, idx;
    ggdm_st_tensor *ts = NULL;
    char err[ERRCAP], msg[GGDM_ST_MSG_LEN], *used = NULL, nbuf[512];
    ggdm_status st;
    int k, d, ok = 0;
    size_t pl = prefix ? strlen(prefix) : 0;
    if (ggdm_io_read_file(path, &file, &len, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, err);
        return 0;
    }
    st = ggdm_st_parse(file, len, NULL, 0, &nt, NULL, 0, &nm, msg);
    if (st == GGDM_ERR_BUFFER_TOO_SMALL || st == GGDM_OK) {
        ggdm_st_meta *meta = (ggdm_st_meta *)calloc(nm ? nm : 1, sizeof *meta);
        ts = (ggdm_st_tensor *)calloc(nt ? nt : 1, sizeof *ts);
        used = (char *)calloc(nt ? nt : 1, 1);
        st = meta && ts && used ? ggdm_st_parse(file, len, ts, nt, &nt, meta, nm, &nm, msg) : GGDM_ERR_IO;
        free(meta);
    }
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s: %s\n", cmd, path, st == GGDM_ERR_IO ? "out of memory" : msg);
        goto done;
    }
    for (k = 0; k < tab->n_tensors; k++) {
        ggdm_param_info t;
        const ggdm_st_tensor *f;
        int shape_ok;
        tab->tensor(tab->cfg, k, &t);
        snprintf(nbuf, sizeof nbuf, "%s%s", prefix ? prefix : "", t.name);
        if (ggdm_st_find(file, len, ts, nt, nbuf, &idx, msg) != GGDM_OK) {
            fprintf(stderr, "ggdm %s: %s: the tensor %s is missing\n", cmd, path, nbuf);
            goto done;
        }
        f = &ts[idx];
        used[idx] = 1;
        shape_ok = f->ndim == t.ndim;
        for (d = 0; shape_ok && d < t.ndim; d++)
            shape_ok = f->shape[d] == t.shape[d];
        if (!shape_ok && t.ndim == 2 && f->ndim == 4 && f->shape[0] == t.shape[0] && f->shape[1] == t.shape[1] &&
            f->shape[2] == 1 && f->shape[3] == 1)
            shape_ok = 1; /* a Linear stored as a 1x1 convolution (older checkpoints) */
        if (!shape_ok || f->count != t.count) {
            char want[128] = "", got[128] = "";
            for (d = 0; d < t.ndim; d++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%llu", d ? ", " : "",
                         (unsigned long long)t.shape[d]);
            for (d = 0; d < f->ndim; d++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", d ? ", " : "",
                         (unsigned long long)f->shape[d]);
            fprintf(stderr, "ggdm %s: %s: %s has shape (%s); the configuration needs (%s)\n", cmd, path, nbuf, got,
                    want);
            goto done;
        }
        if (ggdm_st_load_f32(file, len, f, params + t.offset, t.count, msg) != GGDM_OK) {
            fprintf(stderr, "ggdm %s: %s: %s: %s (convert the weights to float32)\n", cmd, path, nbuf, msg);
            goto done;
        }
    }
    for (i = 0; i < nt; i++) {
        uint64_t ol;
        if (used[i])
            continue;
        if (ts[i].name_len >= sizeof nbuf ||
            ggdm_st_string(file, len, ts[i].name_off, ts[i].name_len, nbuf, sizeof nbuf, &ol) != GGDM_OK)
            snprintf(nbuf, sizeof nbuf, "(unreadable name)");
        if (pl && strncmp(nbuf, prefix, pl) != 0)
            continue; /* another network's tensor in a whole-pipeline file */
        if (!name_ignored(nbuf + pl, ignore)) {
            fprintf(stderr,
                    "ggdm %s: %s: the tensor %s is not a parameter of this VAE decoder (a wrong configuration? "
                    "--ignore PREFIXES skips tensors by name)\n",
                    cmd, path, nbuf);
            goto done;
        }
    }
    ok = 1;
done:
    free(file);
    free(ts);
    free(used);
    return ok;
}

/* ------------------------------------------------------------------ trace */

typedef struct sd_trace {
    const char *dir;
    FILE *index;
    int count, failed;
} sd_trace;

static void sd_trace_write(void *vctx, const char *name, const float *data, int ndim, const uint64_t *shape)
{
    sd_trace *c = (sd_trace *)vctx;
    char path[2048], err[ERRCAP];
    snprintf(path, sizeof path, "%s/%s.npy", c->dir, name);
    if (ggdm_io_save(path, GGDM_DT_F32, ndim, shape, data, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm vae-decode: %s\n", err);
        c->failed = 1;
        return;
    }
    fprintf(c->index, "%s\n", name);
    c->count++;
}

/* ------------------------------------------------------------------ ggdm vae-decode */

static const char *const vae_help =
    "usage: ggdm vae-decode (--config config.json | --tiny | --sd15) (--weights W.safetensors | --init-seed S)\n"
    "                       --z Z.npy -o X.npy [--vjp DX.npy --o-grad DZ.npy] [--prefix P] [--ignore PREFIXES]\n"
    "                       [--attn keep|recompute] [--threads N] [--trace DIR] [--time]\n"
    "Stable Diffusion's VAE decoder (diffusers AutoencoderKL's decode path, docs/vae.md):\n"
    "  X = decoder(post_quant_conv(Z / scaling_factor))   (diffusers: vae.decode(Z / sf).sample)\n"
    "Z: float32 (N, latent_channels, H, W) latents as the pipeline holds them; X: float32\n"
    "(N, out_channels, H * 2^(blocks-1), W * 2^(blocks-1)), not clamped.\n"
    "  --config F      a diffusers config.json (vae/config.json): block_out_channels, layers_per_block,\n"
    "                  latent_channels, out_channels, norm_num_groups, scaling_factor, ...\n"
    "  --tiny, --sd15  built-in configurations (block_out_channels (32, 64), groups 8, 1 layer; SD v1.5)\n"
    "  --weights W     safetensors, diffusers' names (decoder.*, post_quant_conv.*; float32); tensors of\n"
    "                  the encoder path (encoder.*, quant_conv.*) are skipped, any other is an error\n"
    "  --prefix P      the names carry the prefix P (e.g. 'vae.' in a whole-pipeline file; others skipped)\n"
    "  --ignore L      comma-separated name prefixes to skip (default encoder.,quant_conv.)\n"
    "  --init-seed S   instead of --weights: ggdm's deterministic initialisation (ggdm_vae_init)\n"
    "  --vjp DX.npy    also the input VJP: DZ = J_X(Z)^T DX per sample, written to --o-grad (or -o-grad)\n"
    "  --attn K        the mid attention's cache: keep (the weights, default) or recompute (O(HW) memory)\n"
    "  --trace DIR     every named activation as DIR/NAME.npy, their order in DIR/index.txt (serial)\n"
    "  --time          print the workspace size and the run's wall time to stderr\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int load_f32_4d(const char *opt, const char *path, ggdm_array *a)
{
    char err[ERRCAP];
    if (ggdm_io_load_npy(path, a, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm vae-decode: %s\n", err);
        return 0;
    }
    if (a->dtype != GGDM_DT_F32 || a->ndim != 4 || a->count == 0) {
        char d[128];
        ggdm_array_describe(a, d, sizeof d);
        fprintf(stderr, "ggdm vae-decode: %s %s is %s; a float32 (N, C, H, W) array is needed\n", opt, path, d);
        return 0;
    }
    return 1;
}

int ggdm_cmd_vae_decode(int argc, char **argv)
{
    const char *cmd = "vae-decode", *val, *cfgp = NULL, *wp = NULL, *zp = NULL, *out = NULL, *dxp = NULL,
               *dzp = NULL, *prefix = NULL, *ignore = "encoder.,quant_conv.", *trace = NULL, *attn = "keep";
    int i, r, preset = 0, timing = 0, have_seed = 0, rc = 1, N, oh, ow;
    long long threads = 0, seed = 0;
    ggdm_vae_cfg cfg;
    ggdm_param_table tab;
    ggdm_array z, dx;
    float *params = NULL, *x0 = NULL, *dz = NULL;
    void *ws = NULL;
    size_t wsb = 0;
    char err[ERRCAP], msg[GGDM_VAE_MSG_LEN];
    ggdm_status st;
    const ggdm_exec *ex;
    double t0;
    memset(&z, 0, sizeof z);
    memset(&dx, 0, sizeof dx);
    for (i = 1; i < argc; i++) {
        if (ggdm_is_help(argv[i])) {
            fputs(vae_help, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--tiny") == 0 || strcmp(argv[i], "--sd15") == 0) {
            preset = argv[i][2] == 't' ? 1 : 2;
        } else if (strcmp(argv[i], "--time") == 0) {
            timing = 1;
        } else if ((r = ggdm_opt(argc, argv, &i, "--config", &val)) != 0) {
            if (r < 0) return 2;
            cfgp = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--weights", &val)) != 0 ||
                   (r = ggdm_opt(argc, argv, &i, "-w", &val)) != 0) {
            if (r < 0) return 2;
            wp = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--z", &val)) != 0) {
            if (r < 0) return 2;
            zp = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "-o", &val)) != 0) {
            if (r < 0) return 2;
            out = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--vjp", &val)) != 0) {
            if (r < 0) return 2;
            dxp = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--o-grad", &val)) != 0 ||
                   (r = ggdm_opt(argc, argv, &i, "-o-grad", &val)) != 0) {
            if (r < 0) return 2;
            dzp = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--prefix", &val)) != 0) {
            if (r < 0) return 2;
            prefix = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--ignore", &val)) != 0) {
            if (r < 0) return 2;
            ignore = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--trace", &val)) != 0) {
            if (r < 0) return 2;
            trace = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--attn", &val)) != 0) {
            if (r < 0) return 2;
            attn = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--init-seed", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int(cmd, "--init-seed", val, 0, 0x7FFFFFFFFFFFFFFFll, &seed)) return 2;
            have_seed = 1;
        } else if ((r = ggdm_opt(argc, argv, &i, "--threads", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int(cmd, "--threads", val, 1, 1024, &threads)) return 2;
        } else {
            fprintf(stderr, "ggdm %s: unknown option '%s' (see ggdm %s --help)\n", cmd, argv[i], cmd);
            return 2;
        }
    }
    if (!zp || !out || (!cfgp && !preset) || (cfgp && preset) || (!wp && !have_seed) || (wp && have_seed) ||
        (!dxp != !dzp) || (strcmp(attn, "keep") != 0 && strcmp(attn, "recompute") != 0)) {
        fprintf(stderr, "ggdm %s: %s (see ggdm %s --help)\n", cmd,
                !zp                       ? "--z Z.npy is required"
                : !out                    ? "-o X.npy is required"
                : !cfgp && !preset        ? "a configuration is required: --config config.json, --tiny or --sd15"
                : cfgp && preset          ? "give either --config or a built-in configuration, not both"
                : !wp && !have_seed       ? "--weights W.safetensors (or --init-seed S) is required"
                : wp && have_seed         ? "give either --weights or --init-seed, not both"
                : !dxp != !dzp            ? "--vjp DX.npy and --o-grad DZ.npy go together"
                                          : "--attn must be keep or recompute",
                cmd);
        return 2;
    }
    /* the configuration */
    if (cfgp) {
        uint8_t *buf = NULL;
        uint64_t len = 0;
        flat_json j;
        sd_cfg_src src;
        if (ggdm_io_read_file(cfgp, &buf, &len, err, sizeof err) != GGDM_OK) {
            fprintf(stderr, "ggdm %s: %s\n", cmd, err);
            return 1;
        }
        j.s = (const char *)buf;
        j.n = (size_t)len;
        src.ctx = &j;
        src.number = fj_number;
        src.string = fj_string;
        src.list_len = fj_list_len;
        err[0] = 0;
        r = vae_cfg_from_src(&src, &cfg, err);
        free(buf);
        if (!r) {
            fprintf(stderr, "ggdm %s: %s: %s\n", cmd, cfgp, err);
            return 1;
        }
    } else if (preset == 1) {
        ggdm_vae_cfg_tiny(&cfg);
    } else {
        ggdm_vae_cfg_sd15(&cfg);
    }
    cfg.attn_kind = strcmp(attn, "keep") == 0 ? GGDM_ATTN_KEEP : GGDM_ATTN_RECOMPUTE;
    if (!load_f32_4d("--z", zp, &z))
        goto done;
    if (z.shape[0] > (1u << 20) || z.shape[1] != (uint64_t)cfg.latent_channels || z.shape[2] > (1u << 14) ||
        z.shape[3] > (1u << 14)) {
        fprintf(stderr, "ggdm %s: --z %s has %llu channels; the configuration's latent_channels is %d\n", cmd, zp,
                (unsigned long long)z.shape[1], cfg.latent_channels);
        goto done;
    }
    N = (int)z.shape[0];
    cfg.height = (int)z.shape[2];
    cfg.width = (int)z.shape[3];
    if (ggdm_vae_cfg_check(&cfg, msg) != GGDM_OK || ggdm_vae_params(&cfg, &tab) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, msg);
        goto done;
    }
    ggdm_vae_out_size(&cfg, &oh, &ow);
    if (dxp) {
        if (!load_f32_4d("--vjp", dxp, &dx))
            goto done;
        if (dx.shape[0] != (uint64_t)N || dx.shape[1] != (uint64_t)cfg.out_channels || dx.shape[2] != (uint64_t)oh ||
            dx.shape[3] != (uint64_t)ow) {
            fprintf(stderr, "ggdm %s: --vjp %s must be (%d, %d, %d, %d), the output's shape\n", cmd, dxp, N,
                    cfg.out_channels, oh, ow);
            goto done;
        }
    }
    params = (float *)malloc(sizeof(float) * (size_t)(tab.n_params ? tab.n_params : 1));
    x0 = (float *)malloc(sizeof(float) * (size_t)N * (size_t)cfg.out_channels * (size_t)oh * (size_t)ow);
    dz = dxp ? (float *)malloc(sizeof(float) * (size_t)z.count) : NULL;
    if (!params || !x0 || (dxp && !dz)) {
        fprintf(stderr, "ggdm %s: out of memory\n", cmd);
        goto done;
    }
    if (wp) {
        if (!load_weights(cmd, wp, &tab, prefix, ignore, params))
            goto done;
    } else {
        ggdm_vae_init(&cfg, (uint64_t)seed, params, tab.n_params);
    }
    ex = ggdm_cli_exec(trace ? 1 : (int)threads);
    st = ggdm_vae_workspace_bytes(&cfg, N, dxp ? 1 : 0, ex, &wsb);
    ws = st == GGDM_OK ? ggdm_io_aligned_alloc(wsb) : NULL;
    if (!ws) {
        fprintf(stderr, "ggdm %s: %s (%.1f MB of workspace for N = %d)\n", cmd,
                st == GGDM_OK ? "cannot allocate the workspace" : ggdm_status_str(st), wsb / 1e6, N);
        goto done;
    }
    t0 = now_s();
    if (trace) {
        sd_trace tc;
        char ipath[2048];
        if (mkdir(trace, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "ggdm %s: cannot create the folder %s (%s)\n", cmd, trace, strerror(errno));
            goto done;
        }
        snprintf(ipath, sizeof ipath, "%s/index.txt", trace);
        memset(&tc, 0, sizeof tc);
        tc.dir = trace;
        tc.index = fopen(ipath, "w");
        if (!tc.index) {
            fprintf(stderr, "ggdm %s: cannot write %s (%s)\n", cmd, ipath, strerror(errno));
            goto done;
        }
        st = ggdm_vae_decode(&cfg, ex->unet, params, N, (const float *)z.data, x0, ws, wsb, sd_trace_write, &tc, ex);
        fclose(tc.index);
        if (tc.failed)
            goto done;
    } else if (dxp) {
        st = ggdm_vae_decode_vjp(&cfg, ex->unet, params, N, (const float *)z.data, (const float *)dx.data, x0, dz, ws,
                                 wsb, ex);
    } else {
        st = ggdm_vae_decode(&cfg, ex->unet, params, N, (const float *)z.data, x0, ws, wsb, NULL, NULL, ex);
    }
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, ggdm_status_str(st));
        goto done;
    }
    if (timing)
        fprintf(stderr, "ggdm %s: N = %d, latent %d x %d -> %d x %d, %llu parameters, workspace %.1f MB, %s %.3f s\n",
                cmd, N, cfg.height, cfg.width, oh, ow, (unsigned long long)tab.n_params, wsb / 1e6,
                dxp ? "decode + vjp" : "decode", now_s() - t0);
    {
        uint64_t shape[4];
        shape[0] = (uint64_t)N;
        shape[1] = (uint64_t)cfg.out_channels;
        shape[2] = (uint64_t)oh;
        shape[3] = (uint64_t)ow;
        if (ggdm_io_save(out, GGDM_DT_F32, 4, shape, x0, err, sizeof err) != GGDM_OK ||
            (dxp && ggdm_io_save(dzp, GGDM_DT_F32, 4, z.shape, dz, err, sizeof err) != GGDM_OK)) {
            fprintf(stderr, "ggdm %s: %s\n", cmd, err);
            goto done;
        }
    }
    rc = 0;
done:
    ggdm_array_free(&z);
    ggdm_array_free(&dx);
    free(params);
    free(x0);
    free(dz);
    free(ws);
    return rc;
}
