/*
 * ggdm init | info | convert | eps | vjp | loss-grad | trace | diff: the score network's inspection
 * commands. Their names and flags are stable: they are how a user checks ggdm against
 * PyTorch, and how a GPU discrepancy is localised (docs/cli.md).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "cmds.h"
#include "ggdm/schedule.h"
#include "ggdm/unet.h"
#include "ggdm/backend.h"
#include "io.h"
#include "pool.h"
#include "pth.h"
#include "weights.h"

#define ERRCAP 1024

/* Loads X (N, D) or (D,) float32/float64 as float32; every value must be finite. */
static int load_x(const char *cmd, const char *what, const char *path, ggdm_array *x, int *N, int *D)
{
    char err[ERRCAP];
    ggdm_array a;
    uint64_t i;
    if (ggdm_io_load_npy(path, &a, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, err);
        return 0;
    }
    if ((a.dtype != GGDM_DT_F32 && a.dtype != GGDM_DT_F64) || a.ndim < 1 || a.ndim > 2 || a.count == 0) {
        char d[128];
        ggdm_array_describe(&a, d, sizeof d);
        fprintf(stderr, "ggdm %s: %s %s is %s; expected a (N, D) float32 or float64 array\n", cmd, what, path, d);
        ggdm_array_free(&a);
        return 0;
    }
    *N = a.ndim == 2 ? (int)a.shape[0] : 1;
    *D = (int)a.shape[a.ndim - 1];
    if (ggdm_array_alloc(x, GGDM_DT_F32, 2, a.ndim == 2 ? a.shape : (uint64_t[]){1, a.shape[0]}) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: out of memory\n", cmd);
        ggdm_array_free(&a);
        return 0;
    }
    x->shape[0] = (uint64_t)*N;
    x->shape[1] = (uint64_t)*D;
    for (i = 0; i < a.count; i++) {
        float v = a.dtype == GGDM_DT_F32 ? ((float *)a.data)[i] : (float)((double *)a.data)[i];
        if (!isfinite(v)) {
            fprintf(stderr, "ggdm %s: %s %s: element %llu (sample %llu) is %s as float32; inputs must be finite\n",
                    cmd, what, path, (unsigned long long)i, (unsigned long long)(i / (uint64_t)*D),
                    v != v ? "NaN" : "infinite");
            ggdm_array_free(&a);
            ggdm_array_free(x);
            return 0;
        }
        ((float *)x->data)[i] = v;
    }
    ggdm_array_free(&a);
    return 1;
}

/* Timesteps: one value for all (-t) or one int64 per sample (--t-file). */
static int load_t(const char *cmd, const char *t_opt, const char *t_file, int N, int64_t **t)
{
    int n;
    *t = (int64_t *)malloc(sizeof(int64_t) * (size_t)N);
    if (!*t)
        return 0;
    if (t_opt && t_file) {
        fprintf(stderr, "ggdm %s: give either -t T or --t-file T.npy, not both\n", cmd);
        return 0;
    }
    if (t_opt) {
        long long v;
        if (!ggdm_opt_int(cmd, "-t", t_opt, 0, 1 << 24, &v))
            return 0;
        for (n = 0; n < N; n++)
            (*t)[n] = v;
        return 1;
    }
    if (t_file) {
        char err[ERRCAP];
        ggdm_array a;
        if (ggdm_io_load_npy(t_file, &a, err, sizeof err) != GGDM_OK) {
            fprintf(stderr, "ggdm %s: %s\n", cmd, err);
            return 0;
        }
        if (a.dtype != GGDM_DT_I64 || a.ndim != 1 || a.count != (uint64_t)N) {
            char d[128];
            ggdm_array_describe(&a, d, sizeof d);
            fprintf(stderr, "ggdm %s: --t-file %s is %s; expected (%d,) int64, one step per sample\n", cmd, t_file, d,
                    N);
            ggdm_array_free(&a);
            return 0;
        }
        for (n = 0; n < N; n++) {
            int64_t v = ((int64_t *)a.data)[n];
            if (v < 0 || v > (1 << 24)) {
                fprintf(stderr, "ggdm %s: --t-file %s: t[%d] = %lld is outside 0 .. 2^24\n", cmd, t_file, n,
                        (long long)v);
                ggdm_array_free(&a);
                return 0;
            }
            (*t)[n] = v;
        }
        ggdm_array_free(&a);
        return 1;
    }
    fprintf(stderr, "ggdm %s: the timestep is missing: -t T (all samples) or --t-file T.npy (int64, one per sample)\n",
            cmd);
    return 0;
}

static int load_net(const char *cmd, const char *path, int D, ggdm_unet_cfg *cfg, float **params)
{
    char err[ERRCAP], msg[GGDM_UNET_MSG_LEN];
    uint64_t n;
    int known;
    if (!path) {
        fprintf(stderr, "ggdm %s: -w WEIGHTS.safetensors is required\n", cmd);
        return 0;
    }
    ggdm_unet_cfg_default(cfg);
    if (ggdm_cli_load_unet(path, cfg, params, &n, &known, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, err);
        return 0;
    }
    if (D > 0 && known && D != cfg->length) {
        fprintf(stderr, "ggdm %s: the inputs have length D = %d but %s holds a network for length %d\n", cmd, D, path,
                cfg->length);
        free(*params);
        *params = NULL;
        return 0;
    }
    if (D > 0) {
        cfg->length = D;
        if (ggdm_unet_cfg_check(cfg, msg) != GGDM_OK) {
            fprintf(stderr, "ggdm %s: the inputs' length D = %d does not fit the network: %s\n", cmd, D, msg);
            free(*params);
            *params = NULL;
            return 0;
        }
    }
    return 1;
}

static int save_f32(const char *cmd, const char *path, const float *data, int N, int D)
{
    uint64_t shape[2];
    char err[ERRCAP];
    shape[0] = (uint64_t)N;
    shape[1] = (uint64_t)D;
    if (ggdm_io_save(path, GGDM_DT_F32, 2, shape, data, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, err);
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ init / info */

int ggdm_cmd_init(int argc, char **argv)
{
    ggdm_unet_cfg cfg;
    const char *val, *out = NULL;
    long long v, seed = 0;
    char msg[GGDM_UNET_MSG_LEN], err[ERRCAP], seedbuf[32];
    const char *extra[2];
    float *params;
    uint64_t n;
    int i, r;
    ggdm_unet_cfg_default(&cfg);
    for (i = 1; i < argc; i++) {
        if (ggdm_is_help(argv[i])) {
            printf("usage: ggdm init [--dim 64] [--dim-mults 1,2,4,8] [--groups 8] [--length 64]\n"
                   "                 [--heads 4] [--dim-head 32] [--seed S] -o W.safetensors\n"
                   "Writes a deterministically initialised Unet1D (PyTorch's bounds, ggdm's Philox stream)\n"
                   "under the original's parameter names; the configuration goes into the metadata.\n");
            return 0;
        }
#define INTOPT(name, field, lo, hi)                                                                                    \
    if ((r = ggdm_opt(argc, argv, &i, name, &val)) != 0) {                                                             \
        if (r < 0 || !ggdm_opt_int("init", name, val, lo, hi, &v))                                                     \
            return 2;                                                                                                  \
        cfg.field = (int)v;                                                                                            \
        continue;                                                                                                      \
    }
        INTOPT("--dim", dim, 1, 4096)
        INTOPT("--groups", groups, 1, 4096)
        INTOPT("--length", length, 1, 1 << 20)
        INTOPT("--heads", heads, 1, 64)
        INTOPT("--dim-head", dim_head, 1, 1024)
#undef INTOPT
        if ((r = ggdm_opt(argc, argv, &i, "--dim-mults", &val)) != 0) {
            int nl = r > 0 ? ggdm_cli_parse_mults(val, cfg.dim_mults, GGDM_UNET_MAX_LEVELS) : -1;
            if (nl < 1) {
                fprintf(stderr, "ggdm init: --dim-mults expects 1 to %d integers like 1,2,4,8\n",
                        GGDM_UNET_MAX_LEVELS);
                return 2;
            }
            cfg.n_levels = nl;
        } else if ((r = ggdm_opt(argc, argv, &i, "--seed", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int("init", "--seed", val, 0, 0x7FFFFFFFFFFFFFFFll, &seed))
                return 2;
        } else if ((r = ggdm_opt(argc, argv, &i, "-o", &val)) != 0) {
            if (r < 0)
                return 2;
            out = val;
        } else {
            fprintf(stderr, "ggdm init: unknown option '%s' (see ggdm init --help)\n", argv[i]);
            return 2;
        }
    }
    if (!out) {
        fprintf(stderr, "ggdm init: -o W.safetensors is required\n");
        return 2;
    }
    if (ggdm_unet_cfg_check(&cfg, msg) != GGDM_OK) {
        fprintf(stderr, "ggdm init: %s\n", msg);
        return 2;
    }
    ggdm_unet_num_params(&cfg, &n);
    params = (float *)malloc(sizeof(float) * (size_t)n);
    if (!params) {
        fprintf(stderr, "ggdm init: out of memory for %llu parameters\n", (unsigned long long)n);
        return 1;
    }
    ggdm_unet_init(&cfg, (uint64_t)seed, params, n);
    snprintf(seedbuf, sizeof seedbuf, "%lld", seed);
    extra[0] = "init_seed";
    extra[1] = seedbuf;
    r = ggdm_cli_save_unet(out, &cfg, params, extra, 1, err, sizeof err) == GGDM_OK ? 0 : 1;
    if (r)
        fprintf(stderr, "ggdm init: %s\n", err);
    else
        fprintf(stderr, "ggdm init: %llu parameters -> %s\n", (unsigned long long)n, out);
    free(params);
    return r;
}

/* "iteration" for a .pth that records its step so (the original's fine-tuned checkpoints), else "epoch" */
static const char *step_name(const char *path)
{
    uint8_t *f = NULL;
    uint64_t len = 0;
    ggdm_pth ck;
    char err[ERRCAP];
    const char *r = "epoch";
    memset(&ck, 0, sizeof ck);
    if (ggdm_io_read_file(path, &f, &len, err, sizeof err) != GGDM_OK)
        return r;
    if (ggdm_pth_is_zip(f, len) && ggdm_pth_parse(f, len, &ck, err, sizeof err) == GGDM_OK &&
        !ggdm_pth_find_entry(&ck, "epoch") && ggdm_pth_find_entry(&ck, "iteration"))
        r = "iteration";
    ggdm_pth_free(&ck);
    free(f);
    return r;
}

int ggdm_cmd_info(int argc, char **argv)
{
    const char *val, *w = NULL;
    int i, r, tensors = 0, nt, k;
    ggdm_unet_cfg cfg;
    float *params = NULL;
    uint64_t n;
    for (i = 1; i < argc; i++) {
        if (ggdm_is_help(argv[i])) {
            printf("usage: ggdm info -w W.safetensors [--tensors]\n"
                   "Prints the network's configuration and parameter count (and every tensor).\n");
            return 0;
        } else if ((r = ggdm_opt(argc, argv, &i, "-w", &val)) != 0) {
            if (r < 0)
                return 2;
            w = val;
        } else if (strcmp(argv[i], "--tensors") == 0) {
            tensors = 1;
        } else {
            fprintf(stderr, "ggdm info: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!load_net("info", w, 0, &cfg, &params))
        return 1;
    ggdm_unet_num_params(&cfg, &n);
    ggdm_unet_num_tensors(&cfg, &nt);
    printf("Unet1D dim %d, dim_mults", cfg.dim);
    for (k = 0; k < cfg.n_levels; k++)
        printf("%s%d", k ? "," : " ", cfg.dim_mults[k]);
    printf(", groups %d, length %d, heads %d x %d\n%llu parameters in %d tensors\n", cfg.groups, cfg.length, cfg.heads,
           cfg.dim_head, (unsigned long long)n, nt);
    {
        char xt[128], err[ERRCAP];
        long long ep = -1;
        if (ggdm_cli_unet_ckpt_info(w, xt, sizeof xt, &ep, err, sizeof err) == GGDM_OK && (xt[0] || ep >= 0)) {
            printf("checkpoint:");
            if (xt[0])
                printf(" x_type %s", xt);
            if (ep >= 0)
                printf("%s %s %lld", xt[0] ? "," : "", step_name(w), ep);
            printf("\n");
        }
    }
    if (tensors)
        for (k = 0; k < nt; k++) {
            ggdm_unet_tensor_info t;
            ggdm_unet_tensor(&cfg, k, &t);
            if (t.ndim == 1)
                printf("%s (%llu,)\n", t.name, (unsigned long long)t.shape[0]);
            else if (t.ndim == 2)
                printf("%s (%llu, %llu)\n", t.name, (unsigned long long)t.shape[0], (unsigned long long)t.shape[1]);
            else
                printf("%s (%llu, %llu, %llu)\n", t.name, (unsigned long long)t.shape[0],
                       (unsigned long long)t.shape[1], (unsigned long long)t.shape[2]);
        }
    free(params);
    return 0;
}

/* ggdm convert: safetensors <-> the original's .pth checkpoints */
int ggdm_cmd_convert(int argc, char **argv)
{
    const char *val, *in = NULL, *out = NULL, *x_type = NULL, *step_key = "epoch", *sched_name = "cosine";
    long long v, step = -1, T = 200;
    int i, r, known, to_pth, step_given = 0;
    ggdm_unet_cfg cfg;
    ggdm_schedule_kind kind;
    char err[ERRCAP], ck_xtype[128], stepbuf[32];
    long long ck_step = -1;
    float *params = NULL;
    uint64_t n;
    ggdm_status st;
    ggdm_unet_cfg_default(&cfg);
    for (i = 1; i < argc; i++) {
        if (ggdm_is_help(argv[i])) {
            printf("usage: ggdm convert -w IN -o OUT [--x_type NAME] [--epoch N | --iteration N]\n"
                   "                    [--T 200] [--schedule cosine|linear] [--groups 8] [--length 64]\n"
                   "                    [--heads 4] [--dim-head 32]\n"
                   "Reads a Unet1D (safetensors, or a PyTorch checkpoint .pth) and writes it again: OUT ending in\n"
                   ".pth or .pt as the original's checkpoint ({x_type, model_state_dict, epoch}: the schedule\n"
                   "buffers of --T steps, --T 0 for none, then model.* parameters; torch.load(weights_only=True)\n"
                   "reads it), anything else as safetensors with the configuration in its metadata. x_type and\n"
                   "the epoch are taken from IN unless given. A .pth does not record groups, heads or length:\n"
                   "give them when they are not the defaults.\n");
            return 0;
        }
#define INTOPT(name, field, lo, hi)                                                                                    \
    if ((r = ggdm_opt(argc, argv, &i, name, &val)) != 0) {                                                             \
        if (r < 0 || !ggdm_opt_int("convert", name, val, lo, hi, &v))                                                  \
            return 2;                                                                                                  \
        cfg.field = (int)v;                                                                                            \
        continue;                                                                                                      \
    }
        INTOPT("--groups", groups, 1, 4096)
        INTOPT("--length", length, 1, 1 << 20)
        INTOPT("--heads", heads, 1, 64)
        INTOPT("--dim-head", dim_head, 1, 1024)
#undef INTOPT
        if ((r = ggdm_opt(argc, argv, &i, "-w", &val)) != 0) {
            if (r < 0)
                return 2;
            in = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "-o", &val)) != 0) {
            if (r < 0)
                return 2;
            out = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--x_type", &val)) != 0) {
            if (r < 0)
                return 2;
            x_type = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--epoch", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int("convert", "--epoch", val, 0, 0x7FFFFFFFFFFFFFFFll, &step))
                return 2;
            step_key = "epoch";
            step_given = 1;
        } else if ((r = ggdm_opt(argc, argv, &i, "--iteration", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int("convert", "--iteration", val, 0, 0x7FFFFFFFFFFFFFFFll, &step))
                return 2;
            step_key = "iteration";
            step_given = 1;
        } else if ((r = ggdm_opt(argc, argv, &i, "--T", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int("convert", "--T", val, 0, GGDM_SCHEDULE_MAX_T, &T))
                return 2;
        } else if ((r = ggdm_opt(argc, argv, &i, "--schedule", &val)) != 0) {
            if (r < 0)
                return 2;
            sched_name = val;
        } else {
            fprintf(stderr, "ggdm convert: unknown option '%s' (see ggdm convert --help)\n", argv[i]);
            return 2;
        }
    }
    if (!in || !out) {
        fprintf(stderr, "ggdm convert: -w IN and -o OUT are required\n");
        return 2;
    }
    if (ggdm_schedule_kind_parse(sched_name, &kind) != GGDM_OK) {
        fprintf(stderr, "ggdm convert: --schedule must be cosine or linear, not '%s'\n", sched_name);
        return 2;
    }
    if (ggdm_cli_load_unet(in, &cfg, &params, &n, &known, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm convert: %s\n", err);
        return 1;
    }
    if (ggdm_cli_unet_ckpt_info(in, ck_xtype, sizeof ck_xtype, &ck_step, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm convert: %s\n", err);
        free(params);
        return 1;
    }
    if (!x_type && ck_xtype[0])
        x_type = ck_xtype;
    if (!step_given)
        step = ck_step;
    to_pth = ggdm_ends_with(out, ".pth") || ggdm_ends_with(out, ".pt");
    if (to_pth) {
        st = ggdm_cli_save_unet_pth_ex(out, &cfg, params, (int)T, kind, x_type, step_key, step, err, sizeof err);
    } else {
        const char *extra[4];
        int ne = 0;
        if (x_type) {
            extra[2 * ne] = "x_type";
            extra[2 * ne++ + 1] = x_type;
        }
        if (step >= 0) {
            snprintf(stepbuf, sizeof stepbuf, "%lld", step);
            extra[2 * ne] = step_key;
            extra[2 * ne++ + 1] = stepbuf;
        }
        st = ggdm_cli_save_unet(out, &cfg, params, extra, ne, err, sizeof err);
    }
    free(params);
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm convert: %s\n", err);
        return 1;
    }
    fprintf(stderr, "ggdm convert: %llu parameters -> %s\n", (unsigned long long)n, out);
    return 0;
}

/* ------------------------------------------------------------------ eps / vjp / trace */

typedef struct trace_ctx {
    const char *dir;
    FILE *index;
    int count, failed;
    const ggdm_unet_backend *be; /* NULL: the layers' data is host memory */
} trace_ctx;

static void trace_write(void *vctx, const char *name, const float *data, int ndim, const uint64_t *shape)
{
    trace_ctx *c = (trace_ctx *)vctx;
    char path[2048], err[ERRCAP];
    float *host = NULL;
    ggdm_status st;
    snprintf(path, sizeof path, "%s/%s.npy", c->dir, name);
    if (c->be) { /* the backend's memory (a GPU's): copy the layer to the host first */
        size_t n = 1;
        int d;
        for (d = 0; d < ndim; d++)
            n *= (size_t)shape[d];
        host = (float *)malloc(sizeof(float) * (n ? n : 1));
        if (!host) {
            fprintf(stderr, "ggdm trace: out of memory for layer %s\n", name);
            c->failed = 1;
            return;
        }
        c->be->download(c->be->ctx, host, data, n);
        data = host;
    }
    st = ggdm_io_save(path, GGDM_DT_F32, ndim, shape, data, err, sizeof err);
    free(host);
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm trace: %s\n", err);
        c->failed = 1;
        return;
    }
    fprintf(c->index, "%s\n", name);
    c->count++;
}

/* mode 0: eps, 1: vjp, 2: trace */
static int run_net(int argc, char **argv, int mode)
{
    static const char *const cmds[] = {"eps", "vjp", "trace"};
    const char *cmd = cmds[mode], *val, *w = NULL, *xp = NULL, *tv = NULL, *tf = NULL, *vp = NULL, *out = NULL;
    int i, r, N = 0, D = 0, Nv, Dv, rc = 1;
    ggdm_unet_cfg cfg;
    ggdm_array x, v;
    int64_t *t = NULL;
    float *params = NULL, *res = NULL;
    void *ws = NULL;
    size_t wsb;
    ggdm_status st;
    long long threads = 0;
    const ggdm_exec *ex;
    memset(&x, 0, sizeof x);
    memset(&v, 0, sizeof v);
    for (i = 1; i < argc; i++) {
        if (ggdm_is_help(argv[i])) {
            if (mode == 0)
                printf("usage: ggdm eps -w W.safetensors -x X.npy (-t T | --t-file T.npy) -o EPS.npy [--threads N]\n"
                       "The predicted noise eps(x, t) of every sample: X is (N, D) float32 or float64.\n");
            else if (mode == 1)
                printf("usage: ggdm vjp -w W.safetensors -x X.npy (-t T | --t-file T.npy) -v V.npy -o OUT.npy [--threads N]\n"
                       "OUT[i] = J_eps(x_i)^T v_i, the vector-Jacobian product of the network's input gradient.\n");
            else
                printf("usage: ggdm trace -w W.safetensors -x X.npy (-t T | --t-file T.npy) -o DIR [--threads N]\n"
                       "Writes every named layer output of one forward pass as DIR/NAME.npy and their order\n"
                       "in DIR/index.txt; compare two traces with `ggdm diff DIR_A DIR_B`.\n");
            return 0;
        }
        if ((r = ggdm_opt(argc, argv, &i, "-w", &val)) != 0) {
            if (r < 0) return 2;
            w = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "-x", &val)) != 0) {
            if (r < 0) return 2;
            xp = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "-t", &val)) != 0) {
            long long tcheck;
            if (r < 0 || !ggdm_opt_int(cmd, "-t", val, 0, 1 << 24, &tcheck)) return 2; /* a usage error */
            tv = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--t-file", &val)) != 0) {
            if (r < 0) return 2;
            tf = val;
        } else if (mode == 1 && (r = ggdm_opt(argc, argv, &i, "-v", &val)) != 0) {
            if (r < 0) return 2;
            vp = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "-o", &val)) != 0) {
            if (r < 0) return 2;
            out = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--threads", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int(cmd, "--threads", val, 1, 1024, &threads)) return 2;
        } else {
            fprintf(stderr, "ggdm %s: unknown option '%s' (see ggdm %s --help)\n", cmd, argv[i], cmd);
            return 2;
        }
    }
    if (!xp || !out || (mode == 1 && !vp)) {
        fprintf(stderr, "ggdm %s: %s is required (see ggdm %s --help)\n", cmd,
                !xp ? "-x X.npy" : !out ? "-o OUTPUT" : "-v V.npy", cmd);
        return 2;
    }
    if ((tv && tf) || (!tv && !tf) || !w) { /* usage errors, before any file is read */
        fprintf(stderr, "ggdm %s: %s (see ggdm %s --help)\n", cmd,
                !w ? "-w WEIGHTS is required" : tv ? "give either -t T or --t-file T.npy, not both"
                                                   : "the timestep is missing: -t T or --t-file T.npy", cmd);
        return 2;
    }
    if (!load_x(cmd, "-x", xp, &x, &N, &D) || !load_t(cmd, tv, tf, N, &t) || !load_net(cmd, w, D, &cfg, &params))
        goto done;
    if (mode == 1) {
        if (!load_x(cmd, "-v", vp, &v, &Nv, &Dv))
            goto done;
        if (Nv != N || Dv != D) {
            fprintf(stderr, "ggdm vjp: -v %s is (%d, %d) but -x is (%d, %d)\n", vp, Nv, Dv, N, D);
            goto done;
        }
    }
    ex = ggdm_cli_exec((int)threads);
    st = ggdm_unet_workspace_bytes_ex(&cfg, N, mode == 1 ? GGDM_UNET_BACKWARD : GGDM_UNET_FORWARD, ex, &wsb);
    ws = st == GGDM_OK ? ggdm_io_aligned_alloc(wsb) : NULL;
    res = (float *)malloc(sizeof(float) * (size_t)N * D);
    if (!ws || !res) {
        fprintf(stderr, "ggdm %s: cannot allocate %.1f MB of workspace for N = %d\n", cmd, wsb / 1e6, N);
        goto done;
    }
    if (mode == 0) {
        st = ggdm_unet_forward_ex(&cfg, params, N, (float *)x.data, t, res, ws, wsb, NULL, NULL, ex);
    } else if (mode == 1) {
        st = ggdm_unet_backward_ex(&cfg, params, N, (float *)x.data, t, (float *)v.data, NULL, res, NULL, ws, wsb, ex);
    } else {
        trace_ctx tc;
        char ipath[2048];
        if (mkdir(out, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "ggdm trace: cannot create the folder %s (%s)\n", out, strerror(errno));
            goto done;
        }
        snprintf(ipath, sizeof ipath, "%s/index.txt", out);
        memset(&tc, 0, sizeof tc);
        tc.dir = out;
        tc.be = ex->unet;
        tc.index = fopen(ipath, "w");
        if (!tc.index) {
            fprintf(stderr, "ggdm trace: cannot write %s (%s)\n", ipath, strerror(errno));
            goto done;
        }
        st = ggdm_unet_forward_ex(&cfg, params, N, (float *)x.data, t, res, ws, wsb, trace_write, &tc, ex);
        fclose(tc.index);
        if (st == GGDM_OK && !tc.failed) {
            fprintf(stderr, "ggdm trace: %d layers -> %s/\n", tc.count, out);
            rc = 0;
        }
        goto done;
    }
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", cmd, ggdm_status_str(st));
        goto done;
    }
    rc = save_f32(cmd, out, res, N, D) ? 0 : 1;
done:
    ggdm_array_free(&x);
    ggdm_array_free(&v);
    free(t);
    free(params);
    free(res);
    free(ws);
    return rc;
}

int ggdm_cmd_eps(int argc, char **argv) { return run_net(argc, argv, 0); }
int ggdm_cmd_vjp(int argc, char **argv) { return run_net(argc, argv, 1); }
int ggdm_cmd_trace(int argc, char **argv) { return run_net(argc, argv, 2); }

/* ------------------------------------------------------------------ loss-grad */

int ggdm_cmd_loss_grad(int argc, char **argv)
{
    const char *val, *w = NULL, *x0p = NULL, *tf = NULL, *zp = NULL, *out = NULL, *kind_s = "cosine";
    long long T = 200;
    int i, r, N = 0, D = 0, Nz, Dz, rc = 1;
    ggdm_unet_cfg cfg;
    ggdm_schedule_kind kind;
    ggdm_array x0, z;
    int64_t *t = NULL;
    float *params = NULL, *grad = NULL, *tab = NULL, loss = 0;
    void *ws = NULL;
    size_t wsb;
    uint64_t np;
    char err[ERRCAP];
    ggdm_status st;
    long long threads = 0;
    memset(&x0, 0, sizeof x0);
    memset(&z, 0, sizeof z);
    for (i = 1; i < argc; i++) {
        if (ggdm_is_help(argv[i])) {
            printf("usage: ggdm loss-grad -w W.safetensors --x0 X0.npy --t-file T.npy --noise Z.npy -o GRAD.safetensors\n"
                   "                      [--T 200] [--schedule cosine|linear] [--threads N]\n"
                   "The training loss of a batch with the given t and noise (original.md §5):\n"
                   "  xt = sqrt_alphas_cumprod[t] * x0 + sqrt_one_minus_alphas_cumprod[t] * z\n"
                   "  loss = mean over all N*D entries of (eps(xt, t) - z)^2\n"
                   "Prints `loss VALUE`; writes d loss / d parameters under the parameter names.\n");
            return 0;
        }
        if ((r = ggdm_opt(argc, argv, &i, "-w", &val)) != 0) {
            if (r < 0) return 2;
            w = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--x0", &val)) != 0) {
            if (r < 0) return 2;
            x0p = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--t-file", &val)) != 0) {
            if (r < 0) return 2;
            tf = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--noise", &val)) != 0) {
            if (r < 0) return 2;
            zp = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--T", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int("loss-grad", "--T", val, 1, GGDM_SCHEDULE_MAX_T, &T)) return 2;
        } else if ((r = ggdm_opt(argc, argv, &i, "--schedule", &val)) != 0) {
            if (r < 0) return 2;
            kind_s = val;
        } else if ((r = ggdm_opt(argc, argv, &i, "--threads", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int("loss-grad", "--threads", val, 1, 1024, &threads)) return 2;
        } else if ((r = ggdm_opt(argc, argv, &i, "-o", &val)) != 0) {
            if (r < 0) return 2;
            out = val;
        } else {
            fprintf(stderr, "ggdm loss-grad: unknown option '%s' (see ggdm loss-grad --help)\n", argv[i]);
            return 2;
        }
    }
    if (!x0p || !tf || !zp || !out) {
        fprintf(stderr, "ggdm loss-grad: --x0, --t-file, --noise and -o are required (see ggdm loss-grad --help)\n");
        return 2;
    }
    if (ggdm_schedule_kind_parse(kind_s, &kind) != GGDM_OK) {
        fprintf(stderr, "ggdm loss-grad: --schedule must be cosine or linear, not '%s'\n", kind_s);
        return 2;
    }
    if (!load_x("loss-grad", "--x0", x0p, &x0, &N, &D) || !load_x("loss-grad", "--noise", zp, &z, &Nz, &Dz) ||
        !load_t("loss-grad", NULL, tf, N, &t) || !load_net("loss-grad", w, D, &cfg, &params))
        goto done;
    if (Nz != N || Dz != D) {
        fprintf(stderr, "ggdm loss-grad: --noise %s is (%d, %d) but --x0 is (%d, %d)\n", zp, Nz, Dz, N, D);
        goto done;
    }
    for (i = 0; i < N; i++)
        if (t[i] >= T) {
            fprintf(stderr, "ggdm loss-grad: t[%d] = %lld is not a step of the T = %lld schedule\n", i,
                    (long long)t[i], T);
            goto done;
        }
    tab = (float *)malloc(sizeof(float) * ggdm_schedule_count((int)T));
    if (!tab || ggdm_schedule_compute(kind, (int)T, tab, ggdm_schedule_count((int)T)) != GGDM_OK) {
        fprintf(stderr, "ggdm loss-grad: cannot compute the %s schedule for T = %lld\n", kind_s, T);
        goto done;
    }
    ggdm_unet_num_params(&cfg, &np);
    grad = (float *)calloc((size_t)np, sizeof(float));
    st = ggdm_unet_loss_workspace_bytes(&cfg, N, &wsb);
    ws = st == GGDM_OK ? ggdm_io_aligned_alloc(wsb) : NULL;
    if (!grad || !ws) {
        fprintf(stderr, "ggdm loss-grad: out of memory\n");
        goto done;
    }
    st = ggdm_unet_loss_grad_ex(&cfg, params, N, (float *)x0.data, t, (float *)z.data,
                                tab + GGDM_SCHED_SQRT_ALPHAS_CUMPROD * (size_t)T,
                                tab + GGDM_SCHED_SQRT_ONE_MINUS_ALPHAS_CUMPROD * (size_t)T, (int)T, &loss, grad, ws,
                                wsb, ggdm_cli_exec((int)threads));
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm loss-grad: %s\n", ggdm_status_str(st));
        goto done;
    }
    printf("loss %.9g\n", (double)loss);
    if (ggdm_cli_save_unet(out, &cfg, grad, NULL, 0, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm loss-grad: %s\n", err);
        goto done;
    }
    rc = 0;
done:
    ggdm_array_free(&x0);
    ggdm_array_free(&z);
    free(t);
    free(params);
    free(grad);
    free(tab);
    free(ws);
    return rc;
}

/* ------------------------------------------------------------------ diff */

int ggdm_cmd_diff(int argc, char **argv)
{
    const char *val, *dirs[2] = {NULL, NULL};
    double rtol = 1e-5, atol = 1e-6;
    int i, r, nd = 0, layers = 0, bad = 0;
    char ipath[2048], line[256];
    FILE *idx;
    for (i = 1; i < argc; i++) {
        if (ggdm_is_help(argv[i])) {
            printf("usage: ggdm diff TRACE_A TRACE_B [--rtol 1e-5] [--atol 1e-6]\n"
                   "Compares two `trace` folders layer by layer, in forward order, and reports the first\n"
                   "layer whose values differ beyond |a - b| <= atol + rtol * |b| (max abs, max rel error,\n"
                   "first index), then the rest in one line each. Exit 1 when a layer differs.\n");
            return 0;
        } else if ((r = ggdm_opt(argc, argv, &i, "--rtol", &val)) != 0) {
            if (r < 0 || !ggdm_opt_f64("diff", "--rtol", val, &rtol)) return 2;
        } else if ((r = ggdm_opt(argc, argv, &i, "--atol", &val)) != 0) {
            if (r < 0 || !ggdm_opt_f64("diff", "--atol", val, &atol)) return 2;
        } else if (argv[i][0] != '-' && nd < 2) {
            dirs[nd++] = argv[i];
        } else {
            fprintf(stderr, "ggdm diff: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (nd != 2) {
        fprintf(stderr, "ggdm diff: two trace folders are required (see ggdm diff --help)\n");
        return 2;
    }
    snprintf(ipath, sizeof ipath, "%s/index.txt", dirs[0]);
    idx = fopen(ipath, "r");
    if (!idx) {
        fprintf(stderr, "ggdm diff: cannot read %s (%s): not a `ggdm trace` folder?\n", ipath, strerror(errno));
        return 2;
    }
    while (fgets(line, sizeof line, idx)) {
        char pa[2048], pb[2048], err[ERRCAP];
        ggdm_array a, b;
        uint64_t k, first = 0, nbad = 0;
        double maxabs = 0, maxrel = 0;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            continue;
        layers++;
        snprintf(pa, sizeof pa, "%s/%s.npy", dirs[0], line);
        snprintf(pb, sizeof pb, "%s/%s.npy", dirs[1], line);
        if (ggdm_io_load_npy(pa, &a, err, sizeof err) != GGDM_OK) {
            printf("%-28s MISSING: %s\n", line, err);
            bad++;
            continue;
        }
        if (ggdm_io_load_npy(pb, &b, err, sizeof err) != GGDM_OK) {
            printf("%-28s MISSING: %s\n", line, err);
            ggdm_array_free(&a); /* was leaked */
            bad++;
            continue;
        }
        if (a.dtype != GGDM_DT_F32 || b.dtype != GGDM_DT_F32 || a.count != b.count) {
            printf("%-28s SHAPE: %llu vs %llu float32 elements\n", line, (unsigned long long)a.count,
                   (unsigned long long)b.count);
            bad++;
        } else {
            for (k = 0; k < a.count; k++) {
                double x = ((float *)a.data)[k], y = ((float *)b.data)[k], d = fabs(x - y);
                double rel = y != 0 ? d / fabs(y) : (d == 0 ? 0 : INFINITY);
                if (d > maxabs || d != d) maxabs = d;
                if (rel > maxrel || rel != rel) maxrel = rel;
                if (!(d <= atol + rtol * fabs(y)) && nbad++ == 0)
                    first = k;
            }
            if (nbad) {
                printf("%-28s DIFFERS: %llu of %llu beyond tolerance, max abs %.3g, max rel %.3g, first at flat "
                       "index %llu (%.9g vs %.9g)%s\n",
                       line, (unsigned long long)nbad, (unsigned long long)a.count, maxabs, maxrel,
                       (unsigned long long)first, ((float *)a.data)[first], ((float *)b.data)[first],
                       bad ? "" : "   <- first divergent layer");
                bad++;
            } else {
                printf("%-28s ok      max abs %.3g, max rel %.3g\n", line, maxabs, maxrel);
            }
        }
        ggdm_array_free(&a);
        ggdm_array_free(&b);
    }
    fclose(idx);
    printf("diff: %d layers, %d differ\n", layers, bad);
    return bad ? 1 : 0;
}
