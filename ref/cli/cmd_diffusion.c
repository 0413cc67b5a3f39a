/*
 * ggdm sample | guide | pretrain | optimize | demo: diffusion, guidance and the paper's
 * Algorithms 1 and 2 on the CPU. Flags mirror the original's command line (--x_type, --T,
 * --cond_score_version, --opt_rounds, ...), docs/cli.md lists them.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "cmds.h"
#include "ggdm/adam.h"
#include "ggdm/data.h"
#include "ggdm/diffusion.h"
#include "ggdm/hash.h"
#include "ggdm/optimize.h"
#include "ggdm/reward.h"
#include "ggdm/schedule.h"
#include "io.h"
#include "pool.h"
#include "plot.h"
#include "progress.h"
#include "run.h"
#include "tb.h"
#include "weights.h"

#define ERRCAP 1024


/* ------------------------------------------------------------------ options */

typedef struct opts {
    const char *cmd;
    /* data and reward (the original's names) */
    const char *x_type, *func_type, *hyper, *schedule, *score;
    const char *hyper_user; /* --hyper as given (hyper may then name the file found instead) */
    int d_outer, d_inner, T, use_theta_1, use_b_1;
    long long seed;
    double r_off;
    /* guidance */
    const char *cond_score_version;
    double beta, beta_coef, interval;
    int beta_given;       /* --beta given (the original's default is None: the formula) */
    int func_type_given;  /* --func_type given (unit_ball always uses the linear reward) */
    int generate_bs, opt_rounds, reward_K, save_samples;
    /* fine-tuning (Algorithm 2) */
    int score_matching_finetune, sm_ft_round, sm_ft_start_round, sm_ft_step_per_round;
    double sm_ft_lr;
    /* pre-training */
    int N_0, pre_bs, pre_num_episodes;
    double pre_lr;
    const char *pretrain_data, *pretrain_ckpt;
    /* network (when pre-training one) */
    int dim, groups, n_levels, dim_mults[GGDM_UNET_MAX_LEVELS];
    /* files */
    const char *log_dir, *save_dir, *resume, *out, *w, *x, *g, *y, *noise;
    /* the original's command line: --optimize, --pretrain, folders and remarks */
    int optimize, pretrain, disable_guidance, resume_flag, overwrite, dim_given;
    const char *pretrain_ckpt_folder, *other_remark, *run_dir;
    const char *data_out; /* where generated pre-training data are saved (when missing), or NULL */
    int n, t, round, quiet, heads, dim_head;
    int threads;    /* --threads N: 0 = every core */
    int stop_after; /* testing: stop (exit 3) after checkpointing this round / epoch, as if interrupted */
} opts;

static void opts_default(opts *o, const char *cmd)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->x_type = "linear_latent";
    o->func_type = "quadratic";
    o->schedule = "cosine";
    o->score = "unet";
    o->d_outer = 64;
    o->d_inner = 16;
    o->T = 200;
    o->seed = 2345;
    o->r_off = 9.0;
    o->cond_score_version = "v1"; /* the original's defaults (main.py) */
    o->beta = 0.0;                /* None there; 0 means the same (the formula, original.md §4) */
    o->beta_coef = 1.0;
    o->interval = 0.05;
    o->generate_bs = 32;
    o->opt_rounds = 20;
    o->reward_K = 4;
    o->sm_ft_lr = 1e-5;
    o->sm_ft_round = -1;
    o->sm_ft_start_round = 0;
    o->sm_ft_step_per_round = 1;
    o->N_0 = 65536;
    o->pre_bs = 32;
    o->pre_num_episodes = 50;
    o->pre_lr = 1e-3;
    o->dim = 64;
    o->groups = 8;
    o->n_levels = 4;
    o->dim_mults[0] = 1;
    o->dim_mults[1] = 2;
    o->dim_mults[2] = 4;
    o->dim_mults[3] = 8;
    o->log_dir = "logs";
    o->save_dir = "results";
    o->pretrain_ckpt_folder = "pretrained";
    o->other_remark = "";
    o->n = 32;
    o->t = -1;
    o->heads = 4;
    o->dim_head = 32;
    o->stop_after = -1;
}

/* Parses every option the diffusion commands share; returns 0 ok, 2 usage error. */
static int parse_opts(opts *o, int argc, char **argv, const char *usage)
{
    int i, r;
    const char *val;
    long long v = 0;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ggdm_is_help(a)) {
            fputs(usage, stdout);
            return 1;
        }
#define STR(name, field)                                                                                               \
    if ((r = ggdm_opt(argc, argv, &i, name, &val)) != 0) {                                                             \
        if (r < 0) return 2;                                                                                           \
        o->field = val;                                                                                                \
        continue;                                                                                                      \
    }
#define INT(name, field, lo, hi)                                                                                       \
    if ((r = ggdm_opt(argc, argv, &i, name, &val)) != 0) {                                                             \
        if (r < 0 || !ggdm_opt_int(o->cmd, name, val, lo, hi, &v)) return 2;                                           \
        o->field = (int)v;                                                                                             \
        continue;                                                                                                      \
    }
#define DBL(name, field)                                                                                               \
    if ((r = ggdm_opt(argc, argv, &i, name, &val)) != 0) {                                                             \
        if (r < 0 || !ggdm_opt_f64(o->cmd, name, val, &o->field)) return 2;                                            \
        continue;                                                                                                      \
    }
#define FLAG(name, field)                                                                                              \
    if (strcmp(a, name) == 0) {                                                                                        \
        o->field = 1;                                                                                                  \
        continue;                                                                                                      \
    }
        STR("--x_type", x_type) STR("--func_type", func_type) STR("--hyper", hyper) STR("--schedule", schedule)
        STR("--score", score) STR("--cond_score_version", cond_score_version) STR("--pretrain_data", pretrain_data)
        STR("--pretrain_ckpt", pretrain_ckpt) STR("--log_dir", log_dir) STR("--save_dir", save_dir)
        STR("-o", out) STR("--out", out) STR("-w", w) STR("-x", x) STR("--g", g) STR("--y", y)
        STR("--noise", noise) STR("--pretrain_ckpt_folder", pretrain_ckpt_folder) STR("--other_remark", other_remark)
        STR("--run_dir", run_dir)
        INT("--d_outer", d_outer, 1, 1 << 20) INT("--d_inner", d_inner, 1, 1 << 20) INT("--T", T, 1, GGDM_SCHEDULE_MAX_T)
        INT("--generate_bs", generate_bs, 1, 1 << 20) INT("-n", n, 1, 1 << 20) INT("--opt_rounds", opt_rounds, 0, 1 << 24)
        INT("--reward_K", reward_K, 1, 1 << 20) INT("--sm_ft_round", sm_ft_round, 0, 1 << 24)
        INT("--sm_ft_start_round", sm_ft_start_round, 0, 1 << 24)
        INT("--sm_ft_step_per_round", sm_ft_step_per_round, 1, 1 << 20) INT("--N_0", N_0, 1, 1 << 26)
        INT("--pre_bs", pre_bs, 1, 1 << 20) INT("--pre_num_episodes", pre_num_episodes, 0, 1 << 20)
        INT("--dim", dim, 4, 4096) INT("--groups", groups, 1, 4096) INT("-t", t, 0, GGDM_SCHEDULE_MAX_T - 1)
        INT("--round", round, 0, (1 << 23) - 1) INT("--heads", heads, 1, 64) INT("--dim-head", dim_head, 1, 1024)
        INT("--stop_after", stop_after, 0, 1 << 24) INT("--threads", threads, 1, 1024)
        DBL("--r_off", r_off) DBL("--beta_coef", beta_coef) DBL("--interval", interval)
        DBL("--sm_ft_lr", sm_ft_lr) DBL("--pre_lr", pre_lr)
        FLAG("--use_theta_1", use_theta_1) FLAG("--use_b_1", use_b_1) FLAG("--save_samples", save_samples)
        FLAG("--score_matching_finetune", score_matching_finetune) FLAG("--quiet", quiet)
        FLAG("--optimize", optimize) FLAG("--pretrain", pretrain) FLAG("--disable_guidance", disable_guidance)
        FLAG("--overwrite", overwrite)
        if ((r = ggdm_opt(argc, argv, &i, "--beta", &val)) != 0) { /* a number, or None (the original's default) */
            if (r < 0)
                return 2;
            if (!strcmp(val, "None") || !strcmp(val, "none")) {
                o->beta = 0;
                o->beta_given = 0;
            } else if (!ggdm_opt_f64(o->cmd, "--beta", val, &o->beta)) {
                return 2;
            } else {
                o->beta_given = 1;
            }
            continue;
        }
        if (!strcmp(a, "--func_type") || !strncmp(a, "--func_type=", 12))
            o->func_type_given = 1;
        if (!strcmp(a, "--dim") || !strncmp(a, "--dim=", 6))
            o->dim_given = 1;
        if (!strcmp(a, "--resume") || !strncmp(a, "--resume=", 9)) { /* --resume [RUN_DIR] */
            o->resume_flag = 1;
            if (a[8] == '=')
                o->resume = a + 9;
            else if (i + 1 < argc && argv[i + 1][0] != '-')
                o->resume = argv[++i];
            continue;
        }
        if ((r = ggdm_opt(argc, argv, &i, "--seed", &val)) != 0) {
            if (r < 0 || !ggdm_opt_int(o->cmd, "--seed", val, 0, 0x7FFFFFFFFFFFFFFFll, &o->seed)) return 2;
            continue;
        }
        if ((r = ggdm_opt(argc, argv, &i, "--dim-mults", &val)) != 0) {
            int nl = r > 0 ? ggdm_cli_parse_mults(val, o->dim_mults, GGDM_UNET_MAX_LEVELS) : -1;
            if (nl < 1) {
                fprintf(stderr, "ggdm %s: --dim-mults expects integers like 1,2,4,8\n", o->cmd);
                return 2;
            }
            o->n_levels = nl;
            continue;
        }
#undef STR
#undef INT
#undef DBL
#undef FLAG
        fprintf(stderr, "ggdm %s: unknown option '%s' (see ggdm %s --help)\n", o->cmd, a, o->cmd);
        return 2;
    }
    if (strcmp(o->x_type, "linear_latent") && strcmp(o->x_type, "unit_ball")) {
        fprintf(stderr, "ggdm %s: --x_type must be linear_latent or unit_ball, not '%s'\n", o->cmd, o->x_type);
        return 2;
    }
    if (strcmp(o->cond_score_version, "v1") && strcmp(o->cond_score_version, "v2")) {
        fprintf(stderr, "ggdm %s: --cond_score_version must be v1 (G) or v2 (G_loss), not '%s'\n", o->cmd,
                o->cond_score_version);
        return 2;
    }
    if (strcmp(o->score, "unet") && strcmp(o->score, "analytic")) {
        fprintf(stderr, "ggdm %s: --score must be unet or analytic, not '%s'\n", o->cmd, o->score);
        return 2;
    }
    if (!strcmp(o->score, "analytic") && strcmp(o->x_type, "linear_latent")) {
        fprintf(stderr, "ggdm %s: --score analytic exists for --x_type linear_latent only\n", o->cmd);
        return 2;
    }
    return 0;
}

/* ------------------------------------------------------------------ hyper-parameters */

typedef struct hyper {
    int unit_ball, D, d;
    double *A, *theta1, *theta2, *b2, *theta, b1;
} hyper;

static void hyper_free(hyper *h)
{
    free(h->A);
    free(h->theta1);
    free(h->theta2);
    free(h->b2);
    free(h->theta);
    memset(h, 0, sizeof *h);
}

/* One float64 member of an .npz held in memory, with its expected element count (0: any). */
static int npz_f64(const char *cmd, const char *path, const uint8_t *zip, uint64_t len, const char *name,
                   uint64_t want, double **out, uint64_t *count)
{
    uint64_t off, mlen;
    char msg[GGDM_NPY_MSG_LEN];
    ggdm_npy_info info;
    if (ggdm_npz_find(zip, len, name, &off, &mlen, msg) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s: member %s: %s\n", cmd, path, name, msg);
        return 0;
    }
    if (ggdm_npy_parse(zip + off, mlen, mlen, &info) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s: member %s: %s\n", cmd, path, name, info.msg);
        return 0;
    }
    if (want && info.count != want) {
        fprintf(stderr, "ggdm %s: %s: member %s has %llu elements, expected %llu\n", cmd, path, name,
                (unsigned long long)info.count, (unsigned long long)want);
        return 0;
    }
    *out = (double *)malloc(sizeof(double) * (size_t)(info.count ? info.count : 1));
    if (!*out || ggdm_npy_decode_f64(&info, zip + off + info.header_bytes, *out, info.count) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s: member %s: %s\n", cmd, path, name, info.msg);
        return 0;
    }
    if (!ggdm_f64_all_finite(*out, info.count, NULL)) {
        fprintf(stderr, "ggdm %s: %s: member %s holds NaN or infinity\n", cmd, path, name);
        return 0;
    }
    if (count)
        *count = info.count;
    return 1;
}

static int hyper_load(const opts *o, hyper *h)
{
    uint8_t *zip;
    uint64_t len;
    char err[ERRCAP];
    double *tmp = NULL;
    int ok = 0, D = o->d_outer, d = o->d_inner;
    memset(h, 0, sizeof *h);
    h->unit_ball = !strcmp(o->x_type, "unit_ball");
    if (ggdm_io_read_file(o->hyper, &zip, &len, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", o->cmd, err);
        return 0;
    }
    h->D = D;
    h->d = d;
    if (h->unit_ball) {
        ok = npz_f64(o->cmd, o->hyper, zip, len, "theta", (uint64_t)D, &h->theta, NULL);
    } else {
        ok = npz_f64(o->cmd, o->hyper, zip, len, "A", (uint64_t)d * D, &h->A, NULL) &&
             npz_f64(o->cmd, o->hyper, zip, len, "theta_1", (uint64_t)D, &h->theta1, NULL) &&
             npz_f64(o->cmd, o->hyper, zip, len, "theta_2", (uint64_t)D, &h->theta2, NULL) &&
             npz_f64(o->cmd, o->hyper, zip, len, "b_1", 1, &tmp, NULL) &&
             npz_f64(o->cmd, o->hyper, zip, len, "b_2", (uint64_t)D, &h->b2, NULL);
        if (ok)
            h->b1 = tmp[0];
        free(tmp);
        if (!ok)
            fprintf(stderr, "ggdm %s: %s must hold A (%d x %d), theta_1, theta_2, b_1, b_2 for --d_inner %d "
                            "--d_outer %d\n", o->cmd, o->hyper, d, D, d, D);
    }
    free(zip);
    if (!ok)
        hyper_free(h);
    return ok;
}

static int hyper_make(const opts *o, hyper *h)
{
    int D = o->d_outer, d = o->d_inner;
    memset(h, 0, sizeof *h);
    h->unit_ball = !strcmp(o->x_type, "unit_ball");
    h->D = D;
    h->d = d;
    if (h->unit_ball) {
        h->theta = (double *)malloc(sizeof(double) * D);
        return h->theta && ggdm_hyper_unit_ball((uint64_t)o->seed, D, h->theta) == GGDM_OK;
    } else {
        size_t wn = ggdm_hyper_linear_latent_work_doubles(D, d);
        double *work = (double *)malloc(sizeof(double) * (wn ? wn : 1));
        int ok;
        h->A = (double *)malloc(sizeof(double) * (size_t)d * D);
        h->theta1 = (double *)malloc(sizeof(double) * D);
        h->theta2 = (double *)malloc(sizeof(double) * D);
        h->b2 = (double *)malloc(sizeof(double) * D);
        ok = work && h->A && h->theta1 && h->theta2 && h->b2 &&
             ggdm_hyper_linear_latent((uint64_t)o->seed, D, d, o->r_off, h->A, h->theta1, h->theta2, &h->b1, h->b2,
                                      work, wn) == GGDM_OK;
        free(work);
        return ok;
    }
}

static ggdm_array f64_array(double *data, int ndim, uint64_t s0, uint64_t s1)
{
    ggdm_array a;
    memset(&a, 0, sizeof a);
    a.dtype = GGDM_DT_F64;
    a.ndim = ndim;
    a.shape[0] = s0;
    a.shape[1] = s1;
    a.count = ndim == 0 ? 1 : ndim == 1 ? s0 : s0 * s1;
    a.data = data;
    return a;
}

/* Saves the hyper-parameters in the authors' .npz layout. */
static int hyper_save(const opts *o, const hyper *h, const char *path)
{
    char err[ERRCAP];
    int64_t din = h->d, dout = h->D;
    ggdm_array arr[7];
    const char *names[7];
    int n = 0;
    double mean0 = 0;
    memset(arr, 0, sizeof arr);
    if (h->unit_ball) {
        double *mean = (double *)calloc((size_t)h->D, sizeof(double));
        names[n] = "d_outer"; arr[n] = f64_array(NULL, 0, 0, 0); arr[n].dtype = GGDM_DT_I64; arr[n++].data = &dout;
        names[n] = "mean"; arr[n++] = f64_array(mean, 1, (uint64_t)h->D, 0);
        names[n] = "theta"; arr[n++] = f64_array(h->theta, 2, (uint64_t)h->D, 1);
        n = ggdm_io_save_npz(path, names, arr, n, err, sizeof err) == GGDM_OK;
        free(mean);
    } else {
        double b1 = h->b1;
        names[n] = "d_inner"; arr[n] = f64_array(NULL, 0, 0, 0); arr[n].dtype = GGDM_DT_I64; arr[n++].data = &din;
        names[n] = "d_outer"; arr[n] = f64_array(NULL, 0, 0, 0); arr[n].dtype = GGDM_DT_I64; arr[n++].data = &dout;
        names[n] = "A"; arr[n++] = f64_array(h->A, 2, (uint64_t)h->d, (uint64_t)h->D);
        names[n] = "theta_1"; arr[n++] = f64_array(h->theta1, 2, (uint64_t)h->D, 1);
        names[n] = "theta_2"; arr[n++] = f64_array(h->theta2, 2, (uint64_t)h->D, 1);
        names[n] = "b_1"; arr[n++] = f64_array(&b1, 0, 0, 0);
        names[n] = "b_2"; arr[n++] = f64_array(h->b2, 1, (uint64_t)h->D, 0);
        n = ggdm_io_save_npz(path, names, arr, n, err, sizeof err) == GGDM_OK;
    }
    (void)mean0;
    if (!n)
        fprintf(stderr, "ggdm %s: %s\n", o->cmd, err);
    return n;
}

static int hyper_get(const opts *o, hyper *h)
{
    if (!strcmp(o->x_type, "linear_latent") && o->d_inner >= o->d_outer) {
        fprintf(stderr, "ggdm %s: --d_inner %d must be below --d_outer %d (the data live in a d-dimensional "
                        "subspace of R^D)\n", o->cmd, o->d_inner, o->d_outer);
        memset(h, 0, sizeof *h);
        return 0;
    }
    if (o->hyper)
        return hyper_load(o, h);
    if (!hyper_make(o, h)) {
        fprintf(stderr, "ggdm %s: cannot generate the hyper-parameters\n", o->cmd);
        return 0;
    }
    return 1;
}

/* The reward's parameter vector (b_1 broadcast). *buf is freed by the caller. */
static const double *reward_param(const opts *o, const hyper *h, ggdm_reward_kind *kind, double **buf)
{
    *buf = NULL;
    if (h->unit_ball) { /* the original always optimises theta^T x on the unit ball */
        *kind = GGDM_REWARD_LINEAR;
        return h->theta;
    }
    if (ggdm_reward_kind_parse(o->func_type, kind) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: --func_type must be linear, quadratic or negnormplus, not '%s'\n", o->cmd,
                o->func_type);
        return NULL;
    }
    if (*kind == GGDM_REWARD_NEGNORMPLUS) {
        if (o->use_b_1) {
            int j;
            *buf = (double *)malloc(sizeof(double) * h->D);
            for (j = 0; j < h->D; j++)
                (*buf)[j] = h->b1;
            return *buf;
        }
        return h->b2;
    }
    return o->use_theta_1 ? h->theta1 : h->theta2;
}

static float *schedule_tables(const opts *o)
{
    ggdm_schedule_kind k;
    float *tab;
    if (ggdm_schedule_kind_parse(o->schedule, &k) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: --schedule must be cosine or linear\n", o->cmd);
        return NULL;
    }
    tab = (float *)malloc(sizeof(float) * ggdm_schedule_count(o->T));
    if (!tab || ggdm_schedule_compute(k, o->T, tab, ggdm_schedule_count(o->T)) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: no %s schedule for --T %d%s\n", o->cmd, o->schedule, o->T,
                k == GGDM_SCHEDULE_LINEAR ? " (the linear schedule needs T > 20)" : "");
        free(tab);
        return NULL;
    }
    return tab;
}

static void progress_cb(void *ctx, int done, int total)
{
    (void)total;
    ggdm_progress_update((ggdm_progress *)ctx, (uint64_t)done, NULL);
}

/* ------------------------------------------------------------------ the score model */

typedef struct model {
    ggdm_score s;               /* the interface sampling and guidance call (ggdm/score.h) */
    ggdm_score_unet unet;       /* its context for the network */
    ggdm_score_analytic an;     /* its context for --score analytic */
    int is_unet;
    float *params; /* owned (UNET) */
    uint64_t np;
} model;

static void model_set_unet(model *m, const ggdm_unet_cfg *cfg, float *params, uint64_t np)
{
    ggdm_score_init_unet(&m->s, &m->unet, cfg, params);
    m->is_unet = 1;
    m->params = params;
    m->np = np;
}

static int model_load(const opts *o, const char *wpath, hyper *h, model *m)
{
    memset(m, 0, sizeof *m);
    if (!strcmp(o->score, "analytic")) {
        ggdm_score_init_analytic(&m->s, &m->an, h->A, h->d, h->D);
        return 1;
    }
    if (!wpath) {
        fprintf(stderr, "ggdm %s: the network's weights are required: -w W.safetensors (or --score analytic)\n",
                o->cmd);
        return 0;
    }
    {
        char err[ERRCAP];
        int known;
        ggdm_unet_cfg cfg;
        ggdm_unet_cfg_default(&cfg);
        if (ggdm_cli_load_unet(wpath, &cfg, &m->params, &m->np, &known, err, sizeof err) != GGDM_OK) {
            fprintf(stderr, "ggdm %s: %s\n", o->cmd, err);
            return 0;
        }
        if (h->D <= 0) /* no data dimension given: the network's own length */
            h->D = cfg.length;
        if (known && cfg.length != h->D) {
            fprintf(stderr, "ggdm %s: %s holds a network for length %d but the data have D = %d (--d_outer)\n", o->cmd,
                    wpath, cfg.length, h->D);
            free(m->params);
            m->params = NULL;
            return 0;
        }
        cfg.length = h->D;
        if (ggdm_unet_cfg_check(&cfg, NULL) != GGDM_OK) {
            fprintf(stderr, "ggdm %s: the network of %s cannot take length D = %d\n", o->cmd, wpath, h->D);
            free(m->params);
            m->params = NULL;
            return 0;
        }
        model_set_unet(m, &cfg, m->params, m->np);
    }
    return 1;
}

static ggdm_guide_cfg guide_cfg(const opts *o, int guided)
{
    ggdm_guide_cfg gc;
    ggdm_guide_cfg_default(&gc);
    gc.version = !guided ? GGDM_GUIDE_NONE : !strcmp(o->cond_score_version, "v1") ? GGDM_GUIDE_V1 : GGDM_GUIDE_V2;
    gc.beta = o->beta;
    gc.beta_coef = o->beta_coef;
    return gc;
}

/* Loads an (N, D) float array (f32 or f64), finite. */
static int load_mat(const opts *o, const char *flag, const char *path, int N, int D, float **out)
{
    ggdm_array a;
    char err[ERRCAP];
    uint64_t i;
    if (ggdm_io_load_npy(path, &a, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", o->cmd, err);
        return 0;
    }
    if ((a.dtype != GGDM_DT_F32 && a.dtype != GGDM_DT_F64) || a.count != (uint64_t)N * (uint64_t)D ||
        (D > 1 && (a.ndim != 2 || a.shape[1] != (uint64_t)D)) || (D == 1 && a.ndim > 2)) {
        char d[128];
        ggdm_array_describe(&a, d, sizeof d);
        fprintf(stderr, "ggdm %s: %s %s is %s; expected (%d, %d) float32 or float64\n", o->cmd, flag, path, d, N, D);
        ggdm_array_free(&a);
        return 0;
    }
    *out = (float *)malloc(sizeof(float) * (size_t)a.count);
    if (!*out) {
        fprintf(stderr, "ggdm %s: out of memory\n", o->cmd);
        ggdm_array_free(&a);
        return 0;
    }
    for (i = 0; i < a.count; i++) {
        float v = a.dtype == GGDM_DT_F32 ? ((float *)a.data)[i] : (float)((double *)a.data)[i];
        if (!isfinite(v)) {
            fprintf(stderr, "ggdm %s: %s %s: element %llu is not finite\n", o->cmd, flag, path, (unsigned long long)i);
            ggdm_array_free(&a);
            free(*out);
            *out = NULL;
            return 0;
        }
        (*out)[i] = v;
    }
    ggdm_array_free(&a);
    return 1;
}

static int save_mat(const opts *o, const char *path, const float *x, int N, int D)
{
    uint64_t shape[2];
    char err[ERRCAP];
    shape[0] = (uint64_t)N;
    shape[1] = (uint64_t)D;
    if (ggdm_io_save(path, GGDM_DT_F32, 2, shape, x, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", o->cmd, err);
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ sample, guide */

static const char *const sample_usage =
    "usage: ggdm sample -w W.safetensors [-n 32] [--T 200] [--schedule cosine|linear] [--seed S] [--round R]\n"
    "                   [--cond_score_version v1|v2 --g G.npy --y Y.npy [--beta B] [--beta_coef C]]\n"
    "                   [--noise NOISE.npy] [--score unet|analytic --hyper H.npz --d_outer 64 --d_inner 16] -o OUT.npy\n"
    "DDPM ancestral sampling of N samples, unguided or guided (G: v1, G_loss: v2) with per-sample gradient\n"
    "vectors G (N, D) and targets Y (N,). Noise from the Philox streams (seed, round), or replayed from\n"
    "NOISE (T+1, N, D): entry 0 is x_T, entry j >= 1 the z added at step t = T - j.\n"
    "  --threads N   worker threads (default: every core); results are bit-identical for every N\n";

int ggdm_cmd_sample(int argc, char **argv)
{
    opts o;
    hyper h;
    model m;
    float *tab = NULL, *g = NULL, *y = NULL, *noise = NULL, *x = NULL;
    void *ws = NULL;
    size_t wsb;
    int rc = 1, D, guided;
    ggdm_guide_cfg gc;
    ggdm_guide_stats stats;
    ggdm_progress pr;
    ggdm_status st;
    opts_default(&o, "sample");
    if ((rc = parse_opts(&o, argc, argv, sample_usage)) != 0)
        return rc == 1 ? 0 : rc;
    rc = 1;
    memset(&h, 0, sizeof h);
    memset(&m, 0, sizeof m);
    if (!o.out) {
        fprintf(stderr, "ggdm sample: -o OUT.npy is required\n");
        return 2;
    }
    if (!o.w && strcmp(o.score, "analytic")) {
        fprintf(stderr, "ggdm sample: the network's weights are required: -w W (or --score analytic)\n");
        return 2;
    }
    guided = o.g || o.y;
    if (guided && !(o.g && o.y)) {
        fprintf(stderr, "ggdm sample: guidance needs both --g G.npy and --y Y.npy\n");
        return 2;
    }
    if (!strcmp(o.score, "analytic") || o.hyper) {
        if (!hyper_get(&o, &h))
            return 1;
    } else {
        h.D = 0; /* the network's length */
    }
    if (!model_load(&o, o.w, &h, &m) || !(tab = schedule_tables(&o)))
        goto done;
    D = h.D;
    if (guided && (!load_mat(&o, "--g", o.g, o.n, D, &g) || !load_mat(&o, "--y", o.y, o.n, 1, &y)))
        goto done;
    if (o.noise) {
        ggdm_array a;
        char err[ERRCAP];
        if (ggdm_io_load_npy(o.noise, &a, err, sizeof err) != GGDM_OK) {
            fprintf(stderr, "ggdm sample: %s\n", err);
            goto done;
        }
        if (a.dtype != GGDM_DT_F32 || a.ndim != 3 || a.shape[0] != (uint64_t)o.T + 1 || a.shape[1] != (uint64_t)o.n ||
            a.shape[2] != (uint64_t)D || !ggdm_f32_all_finite((float *)a.data, a.count, NULL)) {
            fprintf(stderr, "ggdm sample: --noise %s must be finite float32 of shape (T+1, N, D) = (%d, %d, %d)\n",
                    o.noise, o.T + 1, o.n, D);
            ggdm_array_free(&a);
            goto done;
        }
        noise = (float *)a.data;
    }
    gc = guide_cfg(&o, guided);
    st = ggdm_sample_workspace_bytes_ex(&m.s, o.n, gc.version, ggdm_cli_exec(o.threads), &wsb);
    ws = st == GGDM_OK ? ggdm_io_aligned_alloc(wsb) : NULL;
    x = (float *)malloc(sizeof(float) * (size_t)o.n * D);
    if (!ws || !x) {
        fprintf(stderr, "ggdm sample: out of memory\n");
        goto done;
    }
    memset(&stats, 0, sizeof stats);
    ggdm_progress_start(&pr, "sample", (uint64_t)o.T);
    st = ggdm_sample_ex(&m.s, &gc, tab, o.T, o.n, (uint64_t)o.seed, (uint32_t)o.round, 0, g, y, noise, x, &stats,
                        ws, wsb, progress_cb, &pr, ggdm_cli_exec(o.threads));
    ggdm_progress_finish(&pr);
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm sample: %s\n", ggdm_status_str(st));
        goto done;
    }
    if (!ggdm_f32_all_finite(x, (uint64_t)o.n * D, NULL)) {
        fprintf(stderr, "ggdm sample: the samples became non-finite (guidance too strong? try a smaller --beta_coef)\n");
        goto done;
    }
    rc = save_mat(&o, o.out, x, o.n, D) ? 0 : 1;
done:
    free(tab); free(g); free(y); free(noise); free(x); free(ws); free(m.params);
    hyper_free(&h);
    return rc;
}

static const char *const guide_usage =
    "usage: ggdm guide -w W.safetensors -x X.npy -t T --g G.npy --y Y.npy --cond_score_version v1|v2\n"
    "                  [--beta B] [--beta_coef C] [--T 200] [--schedule cosine] -o EPS.npy\n"
    "The guided noise prediction eps' = -G n_t of one step (original.md §4) for every sample.\n"
    "  --threads N   worker threads (default: every core); results are bit-identical for every N\n";

int ggdm_cmd_guide(int argc, char **argv)
{
    opts o;
    hyper h;
    model m;
    float *tab = NULL, *g = NULL, *y = NULL, *x = NULL, *eps = NULL;
    void *ws = NULL;
    size_t wsb;
    int rc, N, D;
    ggdm_guide_cfg gc;
    ggdm_status st;
    ggdm_array xa;
    char err[ERRCAP];
    opts_default(&o, "guide");
    if ((rc = parse_opts(&o, argc, argv, guide_usage)) != 0)
        return rc == 1 ? 0 : rc;
    rc = 1;
    memset(&h, 0, sizeof h);
    memset(&m, 0, sizeof m);
    if (!o.out || !o.x || !o.g || !o.y || o.t < 0 || (!o.w && strcmp(o.score, "analytic"))) {
        fprintf(stderr, "ggdm guide: -w, -x, -t, --g, --y and -o are required (see ggdm guide --help)\n");
        return 2;
    }
    if (o.t >= o.T) {
        fprintf(stderr, "ggdm guide: -t %d is not a step of the T = %d schedule\n", o.t, o.T);
        return 2;
    }
    if (ggdm_io_load_npy(o.x, &xa, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm guide: %s\n", err);
        return 1;
    }
    N = xa.ndim == 2 ? (int)xa.shape[0] : 0;
    D = xa.ndim == 2 ? (int)xa.shape[1] : 0;
    ggdm_array_free(&xa);
    if (N < 1 || D < 1) {
        fprintf(stderr, "ggdm guide: -x %s must be an (N, D) array\n", o.x);
        return 1;
    }
    o.d_outer = D;
    if (o.d_inner > D)
        o.d_inner = D;
    if (!strcmp(o.score, "analytic")) {
        if (!hyper_get(&o, &h))
            return 1;
    } else {
        h.D = D;
    }
    if (!model_load(&o, o.w, &h, &m) || !(tab = schedule_tables(&o)) || !load_mat(&o, "-x", o.x, N, D, &x) ||
        !load_mat(&o, "--g", o.g, N, D, &g) || !load_mat(&o, "--y", o.y, N, 1, &y))
        goto done;
    gc = guide_cfg(&o, 1);
    st = ggdm_sample_workspace_bytes_ex(&m.s, N, gc.version, ggdm_cli_exec(o.threads), &wsb);
    ws = st == GGDM_OK ? ggdm_io_aligned_alloc(wsb) : NULL;
    eps = (float *)malloc(sizeof(float) * (size_t)N * D);
    if (!ws || !eps) {
        fprintf(stderr, "ggdm guide: out of memory\n");
        goto done;
    }
    st = ggdm_guided_eps_ex(&m.s, &gc, tab, o.T, o.t, N, x, g, y, eps, NULL, ws, wsb, ggdm_cli_exec(o.threads));
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm guide: %s\n", ggdm_status_str(st));
        goto done;
    }
    rc = save_mat(&o, o.out, eps, N, D) ? 0 : 1;
done:
    free(tab); free(g); free(y); free(x); free(eps); free(ws); free(m.params);
    hyper_free(&h);
    return rc;
}

/* ------------------------------------------------------------------ checkpoints */

/* snprintf for paths: a name that does not fit is cut (and then fails to open, loudly). */
static void pathf(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int write_text(const char *path, const char *text)
{
    char err[ERRCAP];
    if (ggdm_io_write_file(path, text, strlen(text), err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm: %s\n", err);
        return 0;
    }
    return 1;
}

/* Saves n values of dtype dt as a 1-d .npy; loads one back, checking dtype and length. */
static int save_vec(const char *path, ggdm_dtype dt, const void *x, uint64_t n)
{
    char err[ERRCAP];
    if (ggdm_io_save(path, dt, 1, &n, x, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm: %s\n", err);
        return 0;
    }
    return 1;
}

static int load_vec(const char *path, ggdm_dtype dt, void *x, uint64_t n)
{
    ggdm_array a;
    char err[ERRCAP];
    if (ggdm_io_load_npy(path, &a, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm: %s\n", err);
        return 0;
    }
    if (a.dtype != dt || a.count != n) {
        fprintf(stderr, "ggdm: %s does not match this run (%llu %s values expected)\n", path, (unsigned long long)n,
                ggdm_dtype_name(dt));
        ggdm_array_free(&a);
        return 0;
    }
    memcpy(x, a.data, ggdm_dtype_size(dt) * (size_t)n);
    ggdm_array_free(&a);
    return 1;
}

static int save_flat(const char *path, const float *x, uint64_t n) { return save_vec(path, GGDM_DT_F32, x, n); }
static int load_flat(const char *path, float *x, uint64_t n) { return load_vec(path, GGDM_DT_F32, x, n); }
static int save_vec64(const char *path, const double *x, uint64_t n) { return save_vec(path, GGDM_DT_F64, x, n); }
static int load_vec64(const char *path, double *x, uint64_t n) { return load_vec(path, GGDM_DT_F64, x, n); }

/* Reads "key value" lines of a state file. */
static int state_get(const char *path, const char *key, long long *val)
{
    FILE *f = fopen(path, "r");
    char line[256], k[64];
    long long v = 0;
    int found = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%63s %lld", k, &v) == 2 && !strcmp(k, key)) {
            *val = v;
            found = 1;
        }
    fclose(f);
    return found;
}

/* A run's checkpoints (run.h): ckdir, the generation committed last (cur: its name, "" if none). */
typedef struct ckpt {
    char dir[2048];
    char cur[128];
} ckpt;

static int ckpt_is(const ckpt *c, const char *prefix)
{
    return c && c->cur[0] && !strncmp(c->cur, prefix, strlen(prefix));
}

/* "DIR/GEN/NAME" of the committed generation */
static void ckpt_file(const ckpt *c, const char *name, char *out, size_t cap)
{
    pathf(out, cap, "%s/%s/%s", c->dir, c->cur, name);
}

/* Writes a new generation through fill(ctx, gendir) and commits it. */
typedef int (*ckpt_fill_fn)(void *ctx, const char *gendir);
static int ckpt_write(const opts *o, ckpt *c, const char *name, ckpt_fill_fn fill, void *ctx)
{
    char gendir[GGDM_RUN_PATH_MAX], err[ERRCAP];
    err[0] = 0;
    if (ggdm_ckpt_begin(c->dir, name, gendir, sizeof gendir, err, sizeof err) != 0 || !fill(ctx, gendir) ||
        ggdm_ckpt_commit(c->dir, name, c->cur, err, sizeof err) != 0) {
        fprintf(stderr, "ggdm %s: checkpoint %s: %s\n", o->cmd, name, err[0] ? err : "a file could not be written");
        return 0;
    }
    snprintf(c->cur, sizeof c->cur, "%s", name);
    return 1;
}

/* Weights: .pth (PyTorch's format, the original's checkpoints) or safetensors, by the name. */
static int save_weights(const opts *o, const char *path, const ggdm_unet_cfg *cfg, const float *params,
                        const char *step_key, long long step)
{
    char err[ERRCAP], ep[32];
    const char *kv[4];
    ggdm_status st;
    ggdm_schedule_kind sk = GGDM_SCHEDULE_COSINE;
    ggdm_schedule_kind_parse(o->schedule, &sk);
    snprintf(ep, sizeof ep, "%lld", step);
    kv[0] = "x_type";
    kv[1] = o->x_type;
    kv[2] = step_key;
    kv[3] = ep;
    if (ggdm_ends_with(path, ".pth") || ggdm_ends_with(path, ".pt"))
        st = ggdm_cli_save_unet_pth_ex(path, cfg, params, o->T, sk, o->x_type, step_key, step, err, sizeof err);
    else
        st = ggdm_cli_save_unet(path, cfg, params, kv, 2, err, sizeof err);
    if (st != GGDM_OK) {
        fprintf(stderr, "ggdm %s: %s\n", o->cmd, err);
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ pre-training */

typedef struct trainer {
    ggdm_unet_cfg cfg;
    float *params, *grad, *m, *v;
    uint64_t np;
    ggdm_adam_cfg ac;
    ggdm_adam_state as;
    void *ws;
    size_t wsb;
    int N;
} trainer;

static int trainer_init(trainer *tr, const ggdm_unet_cfg *cfg, float *params, uint64_t np, int N, double lr)
{
    memset(tr, 0, sizeof *tr);
    tr->cfg = *cfg;
    tr->params = params;
    tr->np = np;
    tr->N = N;
    ggdm_adam_cfg_default(&tr->ac);
    tr->ac.lr = lr;
    tr->grad = (float *)calloc((size_t)np, sizeof(float));
    tr->m = (float *)calloc((size_t)np, sizeof(float));
    tr->v = (float *)calloc((size_t)np, sizeof(float));
    if (ggdm_train_workspace_bytes(cfg, N, &tr->wsb) != GGDM_OK)
        return 0;
    tr->ws = ggdm_io_aligned_alloc(tr->wsb);
    return tr->grad && tr->m && tr->v && tr->ws;
}

static void trainer_free(trainer *tr)
{
    free(tr->grad);
    free(tr->m);
    free(tr->v);
    free(tr->ws);
}

/* A trainer's state as checkpoint files: weights, Adam's moments, its step (in state). */
static int trainer_save(const trainer *tr, const char *gendir, const char *state)
{
    char p[GGDM_RUN_PATH_MAX], err[ERRCAP];
    pathf(p, sizeof p, "%s/weights.safetensors", gendir);
    if (ggdm_cli_save_unet(p, &tr->cfg, tr->params, NULL, 0, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "ggdm: %s\n", err);
        return 0;
    }
    pathf(p, sizeof p, "%s/adam_m.npy", gendir);
    if (!save_flat(p, tr->m, tr->np))
        return 0;
    pathf(p, sizeof p, "%s/adam_v.npy", gendir);
    if (!save_flat(p, tr->v, tr->np))
        return 0;
    pathf(p, sizeof p, "%s/state.txt", gendir);
    return write_text(p, state);
}

static int trainer_load(trainer *tr, const ckpt *c)
{
    char p[GGDM_RUN_PATH_MAX], err[ERRCAP];
    float *p2;
    uint64_t n2;
    int known;
    long long v = 0;
    ggdm_unet_cfg c2 = tr->cfg;
    ckpt_file(c, "weights.safetensors", p, sizeof p);
    if (ggdm_cli_load_unet(p, &c2, &p2, &n2, &known, err, sizeof err) != GGDM_OK || n2 != tr->np) {
        fprintf(stderr, "ggdm: cannot resume: %s\n", err);
        if (n2 != tr->np)
            free(p2);
        return 0;
    }
    memcpy(tr->params, p2, sizeof(float) * (size_t)tr->np);
    free(p2);
    ckpt_file(c, "adam_m.npy", p, sizeof p);
    if (!load_flat(p, tr->m, tr->np))
        return 0;
    ckpt_file(c, "adam_v.npy", p, sizeof p);
    if (!load_flat(p, tr->v, tr->np))
        return 0;
    ckpt_file(c, "state.txt", p, sizeof p);
    state_get(p, "adam_step", &v);
    tr->as.step = (uint64_t)v;
    return 1;
}

typedef struct pre_ckpt_ctx {
    const trainer *tr;
    const char *state;
} pre_ckpt_ctx;

static int pre_fill(void *vctx, const char *gendir)
{
    pre_ckpt_ctx *c = (pre_ckpt_ctx *)vctx;
    return trainer_save(c->tr, gendir, c->state);
}

/*
 * Pre-trains cfg's network on the data set (N_0 x D, batches in data order, not shuffled).
 * With ck, every epoch is committed as checkpoint generation pretrain_EEEEE, and a committed
 * pretrain_ generation is resumed from. 1: done, 3: stopped by --stop_after, 0: failed.
 */
static int pretrain(const opts *o, const hyper *h, const ggdm_unet_cfg *cfg, float *params, uint64_t np, ckpt *ck,
                    ggdm_tb *tb, float *last_loss, double *seconds)
{
    float *data = NULL, *tab = NULL, loss = 0;
    trainer tr;
    int D = h->D, nb, e, b, e0 = 0, ok = 0;
    char st[256];
    ggdm_progress pr;
    ggdm_status s;
    double t0 = now_s();
    memset(&tr, 0, sizeof tr);
    if (!(tab = schedule_tables(o)))
        return 0;
    if (o->pretrain_data) {
        if (!load_mat(o, "--pretrain_data", o->pretrain_data, o->N_0, D, &data))
            goto done;
    } else {
        data = (float *)malloc(sizeof(float) * (size_t)o->N_0 * D);
        if (!data)
            goto done;
        s = h->unit_ball ? ggdm_data_unit_ball((uint64_t)o->seed, D, 0, (uint64_t)o->N_0, data)
                         : ggdm_data_linear_latent((uint64_t)o->seed, h->A, h->d, D, 0, (uint64_t)o->N_0, data);
        if (s != GGDM_OK) {
            fprintf(stderr, "ggdm %s: cannot generate the data: %s\n", o->cmd, ggdm_status_str(s));
            goto done;
        }
        if (o->data_out && !ggdm_io_exists(o->data_out)) { /* the original saves them */
            char dir[GGDM_RUN_PATH_MAX], *slash;
            pathf(dir, sizeof dir, "%s", o->data_out);
            slash = strrchr(dir, '/');
            if (slash)
                *slash = 0;
            if ((slash && ggdm_io_mkdirs(dir) != 0) || !save_mat(o, o->data_out, data, o->N_0, D))
                goto done;
        }
    }
    if (!trainer_init(&tr, cfg, params, np, o->pre_bs, o->pre_lr)) {
        fprintf(stderr, "ggdm %s: out of memory for training\n", o->cmd);
        goto done;
    }
    nb = (o->N_0 + o->pre_bs - 1) / o->pre_bs;
    if (ckpt_is(ck, "pretrain_")) { /* continue after the last committed epoch */
        char p[GGDM_RUN_PATH_MAX];
        long long v = 0;
        ckpt_file(ck, "state.txt", p, sizeof p);
        if (!state_get(p, "epoch", &v) || v < 0 || v > o->pre_num_episodes) {
            fprintf(stderr, "ggdm %s: cannot resume: %s does not match this run\n", o->cmd, p);
            goto done;
        }
        e0 = (int)v;
        if (!trainer_load(&tr, ck))
            goto done;
        fprintf(stderr, "ggdm %s: resuming pre-training after epoch %d of %d\n", o->cmd, e0, o->pre_num_episodes);
    }
    ggdm_progress_start(&pr, "pretrain", (uint64_t)(o->pre_num_episodes - e0) * nb);
    for (e = e0; e < o->pre_num_episodes; e++) {
        double sum = 0;
        for (b = 0; b < nb; b++) {
            int n = b == nb - 1 ? o->N_0 - b * o->pre_bs : o->pre_bs;
            char extra[64];
            if (n != tr.N) { /* a last, smaller batch */
                free(tr.ws);
                ggdm_train_workspace_bytes(cfg, n, &tr.wsb);
                tr.ws = ggdm_io_aligned_alloc(tr.wsb);
                tr.N = n;
            }
            s = ggdm_train_step_ex(cfg, params, tr.grad, &tr.ac, &tr.as, tr.m, tr.v, tab, o->T, n,
                                   data + (size_t)b * o->pre_bs * D, (uint64_t)o->seed, (uint32_t)e, (uint32_t)b, 0,
                                   &loss, tr.ws, tr.wsb, ggdm_cli_exec(o->threads));
            if (s != GGDM_OK) {
                ggdm_progress_finish(&pr);
                fprintf(stderr, "ggdm %s: training step %d of epoch %d failed: %s%s\n", o->cmd, b, e,
                        ggdm_status_str(s), s == GGDM_ERR_NONFINITE ? " (the loss diverged: lower --pre_lr)" : "");
                goto done;
            }
            sum += loss;
            if (tb) /* the original's step: the number of steps logged before (0-based) */
                ggdm_tb_scalar(tb, "stats/loss_diffusion", (int64_t)tr.as.step - 1, loss);
            snprintf(extra, sizeof extra, "epoch %d loss %.4f", e + 1, sum / (b + 1));
            ggdm_progress_update(&pr, (uint64_t)(e - e0) * nb + b + 1, extra);
        }
        if (ck) { /* the epoch as one committed checkpoint generation */
            pre_ckpt_ctx cc;
            char name[64];
            snprintf(st, sizeof st, "phase pretrain\nepoch %d\nadam_step %llu\n", e + 1,
                     (unsigned long long)tr.as.step);
            snprintf(name, sizeof name, "pretrain_%05d", e + 1);
            cc.tr = &tr;
            cc.state = st;
            if (!ckpt_write(o, ck, name, pre_fill, &cc)) {
                ggdm_progress_finish(&pr);
                goto done;
            }
        }
        if (o->stop_after == e + 1 && e + 1 < o->pre_num_episodes) {
            ggdm_progress_finish(&pr);
            fprintf(stderr, "ggdm %s: stopped after epoch %d (--stop_after); continue with --resume\n", o->cmd, e + 1);
            ok = 3;
            goto done;
        }
    }
    ggdm_progress_finish(&pr);
    if (last_loss)
        *last_loss = loss;
    ok = 1;
done:
    if (seconds)
        *seconds = now_s() - t0;
    trainer_free(&tr);
    free(data);
    free(tab);
    return ok;
}

static ggdm_unet_cfg net_cfg(const opts *o, int D)
{
    ggdm_unet_cfg c;
    int i;
    ggdm_unet_cfg_default(&c);
    c.dim = o->dim;
    c.groups = o->groups;
    c.n_levels = o->n_levels;
    for (i = 0; i < o->n_levels; i++)
        c.dim_mults[i] = o->dim_mults[i];
    c.length = D;
    c.heads = o->heads;
    c.dim_head = o->dim_head;
    return c;
}

/* ------------------------------------------------------------------ run records */

/* The settings that change a run's results, as (name, value) text: stored in config.json
 * and compared on --resume. */
#define NSET 48
typedef struct settings {
    int n;
    char key[NSET][32];
    char val[NSET][256];
} settings;

static void set_s(settings *s, const char *k, const char *v)
{
    if (s->n < NSET) {
        snprintf(s->key[s->n], sizeof s->key[0], "%s", k);
        snprintf(s->val[s->n], sizeof s->val[0], "%s", v ? v : "None");
        s->n++;
    }
}
static void set_i(settings *s, const char *k, long long v)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", v);
    set_s(s, k, b);
}
static void set_d(settings *s, const char *k, double v)
{
    char b[40];
    ggdm_py_float_repr(v, b, sizeof b);
    set_s(s, k, b);
}

/* Effective values: the reward unit_ball uses, fine-tune rounds when not given. */
static const char *eff_func_type(const opts *o)
{
    return !strcmp(o->x_type, "unit_ball") ? "linear" : o->func_type;
}
static int eff_ft_rounds(const opts *o)
{
    return o->sm_ft_round > 0 ? o->sm_ft_round : o->opt_rounds - o->sm_ft_start_round;
}

static void run_settings(const opts *o, settings *s)
{
    char b[64];
    int i;
    size_t u = 0;
    memset(s, 0, sizeof *s);
    set_s(s, "command", o->cmd);
    set_s(s, "x_type", o->x_type);
    set_i(s, "d_outer", o->d_outer);
    set_i(s, "d_inner", o->d_inner);
    set_i(s, "seed", o->seed);
    set_i(s, "T", o->T);
    set_s(s, "schedule", o->schedule);
    set_s(s, "hyper", o->hyper_user);
    if (!strcmp(o->cmd, "pretrain") || o->pretrain) {
        set_i(s, "N_0", o->N_0);
        set_i(s, "pre_bs", o->pre_bs);
        set_i(s, "pre_num_episodes", o->pre_num_episodes);
        set_d(s, "pre_lr", o->pre_lr);
        set_s(s, "pretrain_data", o->pretrain_data);
        set_i(s, "dim", o->dim);
        b[0] = 0;
        for (i = 0; i < o->n_levels; i++)
            u += (size_t)snprintf(b + u, sizeof b - u, "%s%d", i ? "," : "", o->dim_mults[i]);
        set_s(s, "dim_mults", b);
        set_i(s, "groups", o->groups);
        set_i(s, "heads", o->heads);
        set_i(s, "dim_head", o->dim_head);
    } else {
        set_s(s, "score", o->score);
        set_s(s, "pretrain_ckpt", o->pretrain_ckpt ? o->pretrain_ckpt : o->w);
    }
    if (!strcmp(o->cmd, "pretrain"))
        return;
    set_s(s, "func_type", eff_func_type(o));
    set_i(s, "use_theta_1", o->use_theta_1);
    set_i(s, "use_b_1", o->use_b_1);
    set_d(s, "r_off", o->r_off);
    set_i(s, "generate_bs", o->generate_bs);
    set_i(s, "reward_K", o->reward_K);
    set_i(s, "optimize", o->optimize);
    set_i(s, "save_samples", o->save_samples);
    set_s(s, "other_remark", o->other_remark);
    if (!o->optimize)
        return;
    set_s(s, "cond_score_version", o->cond_score_version);
    if (o->beta_given)
        set_d(s, "beta", o->beta);
    else
        set_s(s, "beta", "None");
    set_d(s, "beta_coef", o->beta_coef);
    set_d(s, "interval", o->interval);
    set_i(s, "opt_rounds", o->opt_rounds);
    set_i(s, "disable_guidance", o->disable_guidance);
    set_i(s, "score_matching_finetune", o->score_matching_finetune);
    if (o->score_matching_finetune) {
        set_d(s, "sm_ft_lr", o->sm_ft_lr);
        set_i(s, "sm_ft_round", eff_ft_rounds(o));
        set_i(s, "sm_ft_start_round", o->sm_ft_start_round);
        set_i(s, "sm_ft_step_per_round", o->sm_ft_step_per_round);
    }
}

/* XXH3-64 of a whole file, as hex ("" when it cannot be read). */
static void file_hash(const char *path, char out[17])
{
    uint8_t *buf;
    uint64_t len;
    char err[ERRCAP];
    out[0] = 0;
    if (!path || ggdm_io_read_file(path, &buf, &len, err, sizeof err) != GGDM_OK)
        return;
    ggdm_hash_hex(ggdm_hash_bytes(buf, len), out);
    free(buf);
}

/* Where a run writes: its record folder (lock, config.json, ckpt/, metrics), its results
 * (the original's file names) and its TensorBoard folder. */
typedef struct run_paths {
    char run[2048], results[2048], tb[2048], tb_pre[2048];
    char reward_file[2048], samples_file[2048], topk_file[2048];
    int flat;
} run_paths;

typedef struct run_info {
    char inputs[3][2][1024]; /* name, "path hash" */
    int ninputs;
    double t_start;
    time_t wall_start;
    char started[64]; /* the first start of an interrupted run ("" : this process's) */
} run_info;

static void iso_time(time_t t, char *out, size_t cap)
{
    struct tm tmv;
    gmtime_r(&t, &tmv);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tmv);
}

/* Writes RUN/config.json (atomically). status: "running" or "finished"; summary may be NULL. */
static int write_config(const opts *o, const run_paths *rp, const run_info *ri, int argc, char **argv,
                        const char *status, const char *summary_json)
{
    ggdm_json j;
    settings s;
    char path[GGDM_RUN_PATH_MAX], t[64], k[64], cwd[2048];
    const char *text;
    int i, ok;
    run_settings(o, &s);
    ggdm_json_begin(&j);
    ggdm_json_str(&j, "format", "ggdm.run.1");
    ggdm_json_str(&j, "ggdm_version", GGDM_VERSION_STRING);
    ggdm_json_str(&j, "status", status);
    ggdm_json_str(&j, "command", o->cmd);
    ggdm_json_open(&j, "argv", '[');
    for (i = 0; i < argc; i++)
        ggdm_json_str(&j, NULL, argv[i]);
    ggdm_json_close(&j, ']');
    if (getcwd(cwd, sizeof cwd))
        ggdm_json_str(&j, "cwd", cwd);
    ggdm_json_str(&j, "run_dir", rp->run);
    ggdm_json_str(&j, "results_dir", rp->results);
    ggdm_json_str(&j, "tensorboard_dir", rp->tb);
    ggdm_json_str(&j, "reward_file", rp->reward_file);
    ggdm_json_int(&j, "threads", o->threads > 0 ? o->threads : ggdm_pool_cores());
    iso_time(ri->wall_start, t, sizeof t);
    if (ri->started[0]) {
        ggdm_json_str(&j, "started", ri->started);
        ggdm_json_str(&j, "resumed", t);
    } else {
        ggdm_json_str(&j, "started", t);
    }
    if (!strcmp(status, "finished")) {
        iso_time(time(NULL), t, sizeof t);
        ggdm_json_str(&j, "finished", t);
    }
    for (i = 0; i < s.n; i++) { /* flat "setting.NAME" strings: what --resume compares */
        pathf(k, sizeof k, "setting.%s", s.key[i]);
        ggdm_json_str(&j, k, s.val[i]);
    }
    for (i = 0; i < ri->ninputs; i++) {
        pathf(k, sizeof k, "input.%s", ri->inputs[i][0]);
        ggdm_json_str(&j, k, ri->inputs[i][1]);
    }
    if (summary_json)
        ggdm_json_raw(&j, "timings", summary_json);
    text = ggdm_json_end(&j);
    pathf(path, sizeof path, "%s/config.json", rp->run);
    ok = text && write_text(path, text);
    ggdm_json_free(&j);
    return ok;
}

/* ------------------------------------------------------------------ Algorithms 1 and 2 */

/* A round's record (metrics.csv; TensorBoard under the original's tags). */
typedef struct metrics {
    double reward, ratio, top_reward, top_ratio; /* after the round's sampling */
    double y0, mean_y;      /* the round's targets: sample 0's (stats/guidance) and their mean */
    double loss;            /* fine-tuning loss, mean over the round's steps (NaN: none) */
    double gnorm, mean_beta; /* mean |G - s| and beta_t over the sampling steps */
    double t_sample, t_reward, t_finetune; /* seconds */
} metrics;
#define NMET 11

static void met_pack(const metrics *m, double *x)
{
    x[0] = m->reward; x[1] = m->ratio; x[2] = m->top_reward; x[3] = m->top_ratio; x[4] = m->y0; x[5] = m->mean_y;
    x[6] = m->loss; x[7] = m->gnorm; x[8] = m->mean_beta; x[9] = m->t_sample; x[10] = m->t_reward;
}
static void met_unpack(metrics *m, const double *x, double t_finetune)
{
    m->reward = x[0]; m->ratio = x[1]; m->top_reward = x[2]; m->top_ratio = x[3]; m->y0 = x[4]; m->mean_y = x[5];
    m->loss = x[6]; m->gnorm = x[7]; m->mean_beta = x[8]; m->t_sample = x[9]; m->t_reward = x[10];
    m->t_finetune = t_finetune;
}

/* The indices of the K best rewards, in ggdm_opt_round's (torch.topk's) order. */
static int top_k(const double *f, int N, int K, int *idx)
{
    size_t n = ggdm_opt_top_k_bytes(N);
    void *scratch = malloc(n ? n : 1);
    int ok = scratch && ggdm_opt_top_k(f, N, K, idx, scratch, n) == GGDM_OK;
    free(scratch);
    return ok;
}

/* The library's metrics of a round (ggdm/optimize.h) into the front end's record. */
static void met_from(metrics *m, const ggdm_opt_metrics *om)
{
    m->reward = om->reward;
    m->ratio = om->ratio;
    m->top_reward = om->top_reward;
    m->top_ratio = om->top_ratio;
    m->y0 = om->y0;
    m->mean_y = om->mean_y;
    m->loss = om->loss;
    m->gnorm = om->gnorm;
    m->mean_beta = om->mean_beta;
}

typedef struct run_out {
    metrics *m;       /* [rounds + 1] */
    double *rewards;  /* [N * (rounds + 1)], row n = sample n */
    float *samples;   /* [(rounds + 1) * N * D] with --save_samples, else NULL */
    int rounds;       /* -1: interrupted by --stop_after */
    double t_total, t_sample_guided;
} run_out;

static void log_round(ggdm_tb *tb, int step, const metrics *m)
{
    if (!tb)
        return;
    ggdm_tb_scalar(tb, "stats/reward", step, m->reward);
    ggdm_tb_scalar(tb, "stats/ratio", step, m->ratio);
    ggdm_tb_scalar(tb, "stats/top_k_reward", step, m->top_reward);
    ggdm_tb_scalar(tb, "stats/top_k_ratio", step, m->top_ratio);
}

typedef struct opt_ckpt_ctx {
    const opts *o;
    const run_out *ro;
    const float *z;
    const trainer *tr;
    int N, D, round, ft_done;
    long long ft_steps;
} opt_ckpt_ctx;

static int opt_fill(void *vctx, const char *gendir)
{
    opt_ckpt_ctx *c = (opt_ckpt_ctx *)vctx;
    int R = c->ro->rounds, N = c->N, kk, i, ok;
    uint64_t row = (uint64_t)N + NMET + 1;
    double *hist = (double *)calloc((size_t)(c->round + 1) * row, sizeof(double));
    char p[GGDM_RUN_PATH_MAX], st[256];
    if (!hist)
        return 0;
    for (kk = 0; kk <= c->round; kk++) {
        for (i = 0; i < N; i++)
            hist[(size_t)kk * row + i] = c->ro->rewards[(size_t)i * (R + 1) + kk];
        met_pack(&c->ro->m[kk], hist + (size_t)kk * row + N);
        hist[(size_t)kk * row + N + NMET] = c->ro->m[kk].t_finetune;
    }
    pathf(p, sizeof p, "%s/history.npy", gendir);
    ok = save_vec64(p, hist, (uint64_t)(c->round + 1) * row);
    free(hist);
    pathf(p, sizeof p, "%s/z.npy", gendir);
    if (!ok || !save_flat(p, c->z, (uint64_t)N * c->D))
        return 0;
    if (c->ro->samples) {
        pathf(p, sizeof p, "%s/samples.npy", gendir); /* every round so far: (round+1, N, D) */
        if (!save_flat(p, c->ro->samples, (uint64_t)(c->round + 1) * N * c->D))
            return 0;
    }
    snprintf(st, sizeof st, "phase optimize\nround %d\nft_done %d\nadam_step %llu\nft_steps %lld\n", c->round,
             c->ft_done, (unsigned long long)(c->tr ? c->tr->as.step : 0), c->ft_steps);
    if (c->tr && c->o->score_matching_finetune)
        return trainer_save(c->tr, gendir, st);
    pathf(p, sizeof p, "%s/state.txt", gendir);
    return write_text(p, st);
}

/* The round's hook (ggdm_opt_cfg.hook): timings and the TensorBoard scalars logged inside a round. */
typedef struct opt_hook_ctx {
    ggdm_tb *tb;
    metrics *mt;
    double t_last;
} opt_hook_ctx;

static void opt_hook(void *vctx, int round, ggdm_opt_phase done, const ggdm_opt_metrics *m, const ggdm_opt_state *st)
{
    opt_hook_ctx *h = (opt_hook_ctx *)vctx;
    double now = now_s();
    int j;
    switch (done) {
    case GGDM_OPT_PHASE_TARGETS: /* the original logs the targets before the round's sampling, at step k */
        if (h->tb) {
            ggdm_tb_scalar(h->tb, "stats/guidance", round - 1, m->y0);
            ggdm_tb_scalar(h->tb, "stats/mean_guidance", round - 1, m->mean_y);
        }
        break;
    case GGDM_OPT_PHASE_FINETUNE:
        if (h->tb)
            for (j = 0; j < m->ft_steps; j++)
                ggdm_tb_scalar(h->tb, "stats/loss_diffusion", st->ft_steps_done - m->ft_steps + j, st->losses[j]);
        h->mt->t_finetune = now - h->t_last;
        break;
    case GGDM_OPT_PHASE_SAMPLE:
        h->mt->t_sample = now - h->t_last;
        break;
    case GGDM_OPT_PHASE_EVALUATE:
        h->mt->t_reward = now - h->t_last;
        break;
    default:
        break;
    }
    h->t_last = now;
}

/* The checkpoint files' view of the round state's fine-tuning buffers (trainer_save / _load). */
static void opt_trainer(trainer *tr, const model *mdl, const ggdm_opt_cfg *oc, const ggdm_opt_state *os)
{
    memset(tr, 0, sizeof *tr);
    tr->cfg = mdl->unet.cfg;
    tr->params = mdl->params;
    tr->np = mdl->np;
    tr->grad = os->grad;
    tr->m = os->adam_m;
    tr->v = os->adam_v;
    tr->ac = oc->ft_adam;
    tr->as = os->adam;
    tr->N = oc->N;
}

/* The message of a failed round (k: the round's index in the original's loop, round = k + 1). */
static void opt_fail_msg(const opts *o, int round, const ggdm_opt_metrics *m, ggdm_status s)
{
    int k = round - 1;
    const char *nf = "a reward became NaN or infinite: the samples diverged (lower --interval or --beta_coef); the "
                     "last completed round is in the checkpoint";
    switch (m->failed) {
    case GGDM_OPT_PHASE_TARGETS:
        fprintf(stderr, "ggdm %s: round %d: %s\n", o->cmd, k, ggdm_status_str(s));
        break;
    case GGDM_OPT_PHASE_FINETUNE:
        fprintf(stderr, "ggdm %s: fine-tuning in round %d failed: %s\n", o->cmd, k, ggdm_status_str(s));
        break;
    case GGDM_OPT_PHASE_SAMPLE:
        if (round > 0)
            fprintf(stderr, "ggdm %s: sampling in round %d failed: %s\n", o->cmd, k, ggdm_status_str(s));
        break;
    case GGDM_OPT_PHASE_CHECK:
        if (round > 0)
            fprintf(stderr, "ggdm %s: the samples of round %d became non-finite (lower --interval or --beta_coef); "
                            "the last completed round is in the checkpoint\n", o->cmd, round);
        else
            fprintf(stderr, "ggdm %s: %s\n", o->cmd, nf);
        break;
    case GGDM_OPT_PHASE_EVALUATE:
        fprintf(stderr, "ggdm %s: %s\n", o->cmd, s == GGDM_ERR_NONFINITE ? nf : ggdm_status_str(s));
        break;
    default:
        fprintf(stderr, "ggdm %s: round %d: %s\n", o->cmd, k, ggdm_status_str(s));
        break;
    }
}

/*
 * Algorithm 1 (and 2 with --score_matching_finetune), the original's loop (original.md §8):
 * round 0 is the unguided baseline; each later round queries the reward's gradient at the
 * current samples, fine-tunes (Algorithm 2) and draws fresh guided samples; each round is one
 * library call, ggdm_opt_round (ggdm/optimize.h). With ck, every round is one committed
 * checkpoint generation round_RRRRR (run.h), and a committed round_ generation is resumed
 * from, bit for bit.
 */
static int optimize_run(const opts *o, const hyper *h, model *mdl, ckpt *ck, ggdm_tb *tb, run_out *ro,
                        const char *label)
{
    int N = o->generate_bs, D = h->D, R = o->optimize ? o->opt_rounds : 0, k, k0 = -1, i, ok = 0;
    int steps = o->sm_ft_step_per_round;
    float *tab = NULL;
    double *param_buf = NULL, t_opt0 = now_s(), t_resumed = 0;
    const double *param;
    void *mem = NULL;
    size_t memb;
    ggdm_reward_kind kind;
    ggdm_opt_cfg oc;
    ggdm_opt_state os;
    ggdm_opt_metrics om;
    opt_hook_ctx hk;
    trainer tr;
    ggdm_progress pr;
    ggdm_status s;
    int fine = o->optimize && o->score_matching_finetune;
    memset(&tr, 0, sizeof tr);
    param = reward_param(o, h, &kind, &param_buf);
    if (!param || !(tab = schedule_tables(o)))
        goto done;
    ggdm_opt_cfg_default(&oc);
    oc.score = &mdl->s;
    oc.tab = tab;
    oc.T = o->T;
    oc.N = N;
    oc.seed = (uint64_t)o->seed;
    oc.guide = guide_cfg(o, !o->disable_guidance);
    oc.reward = kind;
    oc.reward_param = param;
    oc.interval = o->interval;
    oc.ratio = h->unit_ball ? GGDM_OPT_RATIO_UNIT_BALL : GGDM_OPT_RATIO_LINEAR_LATENT;
    oc.ratio_A = h->A;
    oc.ratio_d = h->d;
    oc.top_k = o->reward_K;
    oc.progress = progress_cb;
    oc.progress_ctx = &pr;
    oc.hook = opt_hook;
    oc.hook_ctx = &hk;
    ro->rounds = R;
    ro->m = (metrics *)calloc((size_t)R + 1, sizeof(metrics));
    ro->rewards = (double *)calloc((size_t)N * (R + 1), sizeof(double));
    ro->samples = o->save_samples ? (float *)calloc((size_t)(R + 1) * N * D, sizeof(float)) : NULL;
    if (ggdm_opt_state_bytes(&oc, ggdm_cli_exec(o->threads), &memb) != GGDM_OK || !ro->m || !ro->rewards ||
        (o->save_samples && !ro->samples)) {
        fprintf(stderr, "ggdm %s: out of memory\n", o->cmd);
        goto done;
    }
    if (fine) {
        if (!mdl->is_unet) {
            fprintf(stderr, "ggdm %s: --score_matching_finetune needs the network (--score unet)\n", o->cmd);
            goto done;
        }
        /* the original: sm_ft_step_per_round steps, step j on samples [j*bs, (j+1)*bs), bs = N / steps */
        oc.ft_net = &mdl->unet.cfg;
        oc.ft_params = mdl->params;
        oc.ft_steps = steps > 0 ? steps : 1;
        oc.ft_start = o->sm_ft_start_round;
        oc.ft_rounds = eff_ft_rounds(o);
        oc.ft_adam.lr = o->sm_ft_lr;
        if (ggdm_opt_state_bytes(&oc, ggdm_cli_exec(o->threads), &memb) != GGDM_OK) {
            fprintf(stderr, "ggdm %s: out of memory for fine-tuning\n", o->cmd);
            goto done;
        }
    }
    if (!(mem = ggdm_io_aligned_alloc(memb)) || ggdm_opt_state_init(&oc, ggdm_cli_exec(o->threads), mem, memb, &os) !=
                                                     GGDM_OK) {
        fprintf(stderr, fine ? "ggdm %s: out of memory for fine-tuning\n" : "ggdm %s: out of memory\n", o->cmd);
        goto done;
    }
    if (ckpt_is(ck, "round_")) { /* resume after the last committed round */
        char p[GGDM_RUN_PATH_MAX];
        long long v = 0;
        uint64_t row = (uint64_t)N + NMET + 1;
        double *hist;
        ckpt_file(ck, "state.txt", p, sizeof p);
        if (!state_get(p, "round", &v) || v < 0 || v > R) {
            fprintf(stderr, "ggdm %s: cannot resume: %s does not match this run\n", o->cmd, p);
            goto done;
        }
        k0 = (int)v;
        v = 0;
        state_get(p, "ft_done", &v);
        os.ft_done = (int)v;
        v = 0;
        state_get(p, "ft_steps", &v);
        os.ft_steps_done = v;
        ckpt_file(ck, "z.npy", p, sizeof p);
        if (!load_flat(p, os.z, (uint64_t)N * D))
            goto done;
        hist = (double *)malloc(sizeof(double) * (size_t)(k0 + 1) * row);
        ckpt_file(ck, "history.npy", p, sizeof p);
        if (!hist || !load_vec64(p, hist, (uint64_t)(k0 + 1) * row)) {
            free(hist);
            goto done;
        }
        for (k = 0; k <= k0; k++) {
            for (i = 0; i < N; i++)
                ro->rewards[(size_t)i * (R + 1) + k] = hist[(size_t)k * row + i];
            met_unpack(&ro->m[k], hist + (size_t)k * row + N, hist[(size_t)k * row + N + NMET]);
            t_resumed += ro->m[k].t_sample + ro->m[k].t_reward + ro->m[k].t_finetune;
        }
        free(hist);
        if (ro->samples) {
            ckpt_file(ck, "samples.npy", p, sizeof p);
            if (!load_flat(p, ro->samples, (uint64_t)(k0 + 1) * N * D))
                goto done;
        }
        if (fine) {
            opt_trainer(&tr, mdl, &oc, &os);
            if (!trainer_load(&tr, ck))
                goto done;
            os.adam = tr.as;
        }
        fprintf(stderr, "ggdm %s: resuming after round %d of %d\n", o->cmd, k0, R);
    }
    ggdm_progress_start(&pr, label, (uint64_t)(R - k0) * o->T);
    /* round 0 (unguided samples) unless resumed, then rounds 1 .. R (the original's k = round - 1) */
    for (k = k0 < 0 ? -1 : k0; k < R; k++) {
        int round = k + 1;
        metrics *mt = &ro->m[round];
        hk.tb = tb;
        hk.mt = mt;
        hk.t_last = now_s();
        mt->t_finetune = 0;
        s = ggdm_opt_round(&oc, &os, round, &om, ggdm_cli_exec(o->threads));
        if (s != GGDM_OK) {
            opt_fail_msg(o, round, &om, s);
            goto fail;
        }
        met_from(mt, &om);
        for (i = 0; i < N; i++)
            ro->rewards[(size_t)i * (R + 1) + round] = os.f[i];
        if (ro->samples)
            memcpy(ro->samples + (size_t)round * N * D, os.z, sizeof(float) * (size_t)N * D);
        log_round(tb, round, mt);
        if (round > 0) {
            char extra[96];
            snprintf(extra, sizeof extra, "round %d reward %.3f ratio %.3f", round, mt->reward, mt->ratio);
            ggdm_progress_update(&pr, (uint64_t)(round - k0) * o->T, extra);
        }
        if (ck) {
            opt_ckpt_ctx cc;
            char name[64];
            if (fine)
                opt_trainer(&tr, mdl, &oc, &os);
            cc.o = o; cc.ro = ro; cc.z = os.z; cc.tr = fine ? &tr : NULL; cc.N = N; cc.D = D; cc.round = round;
            cc.ft_done = os.ft_done; cc.ft_steps = (long long)os.ft_steps_done;
            snprintf(name, sizeof name, "round_%05d", round);
            if (!ckpt_write(o, ck, name, opt_fill, &cc))
                goto fail;
        }
        if (round == 0)
            k0 = 0;
        else if (o->stop_after == round && round < R) {
            ggdm_progress_finish(&pr);
            fprintf(stderr, "ggdm %s: stopped after round %d (--stop_after); continue with --resume\n", o->cmd, round);
            ro->rounds = -1; /* tells the caller: interrupted */
            ok = 1;
            goto done;
        }
    }
    ggdm_progress_finish(&pr);
    ro->t_total = t_resumed + (now_s() - t_opt0);
    for (k = 1; k <= R; k++)
        ro->t_sample_guided += ro->m[k].t_sample;
    ok = 1;
    goto done;
fail:
    ggdm_progress_finish(&pr);
done:
    free(tab); free(mem); free(param_buf);
    return ok;
}

/* metrics.csv: one row per round, the timing columns last. */
static int write_metrics_csv(const opts *o, const char *path, const run_out *ro)
{
    size_t cap = 512 + (size_t)(ro->rounds + 1) * 360, used = 0;
    char *csv = (char *)malloc(cap), err[ERRCAP];
    int k, ok;
    if (!csv)
        return 0;
    used += (size_t)snprintf(csv + used, cap - used,
                             "round,reward,ratio,top_k_reward,top_k_ratio,guidance,mean_guidance,loss_diffusion,"
                             "guidance_norm,mean_beta,sample_s,reward_s,finetune_s\n");
    for (k = 0; k <= ro->rounds; k++) {
        const metrics *m = &ro->m[k];
        used += (size_t)snprintf(csv + used, cap - used, "%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.4f,%.4f,%.4f\n",
                                 k, m->reward, m->ratio, m->top_reward, m->top_ratio, m->y0, m->mean_y, m->loss,
                                 m->gnorm, m->mean_beta, m->t_sample, m->t_reward, m->t_finetune);
    }
    ok = ggdm_io_write_file(path, csv, used, err, sizeof err) == GGDM_OK;
    free(csv);
    if (!ok)
        fprintf(stderr, "ggdm %s: %s\n", o->cmd, err);
    return ok;
}

/* The results under the original's names: rewards (N, rounds+1) float64; with --save_samples
 * the samples of every round (rounds+1, N, D) and the top-K of each (rounds+1, K, D). */
static int write_results(const opts *o, const run_paths *rp, const run_out *ro, int N, int D)
{
    uint64_t shape[3];
    char err[ERRCAP];
    int ok;
    shape[0] = (uint64_t)N;
    shape[1] = (uint64_t)ro->rounds + 1;
    ok = ggdm_io_save(rp->reward_file, GGDM_DT_F64, 2, shape, ro->rewards, err, sizeof err) == GGDM_OK;
    if (ok && ro->samples) {
        int K = o->reward_K < N ? o->reward_K : N, k, i;
        float *top = (float *)malloc(sizeof(float) * (size_t)(ro->rounds + 1) * K * D);
        double *fk = (double *)malloc(sizeof(double) * (size_t)N);
        int *idx = (int *)malloc(sizeof(int) * (size_t)N);
        shape[0] = (uint64_t)ro->rounds + 1;
        shape[1] = (uint64_t)N;
        shape[2] = (uint64_t)D;
        ok = top && fk && idx &&
             ggdm_io_save(rp->samples_file, GGDM_DT_F32, 3, shape, ro->samples, err, sizeof err) == GGDM_OK;
        for (k = 0; ok && k <= ro->rounds; k++) {
            for (i = 0; i < N; i++)
                fk[i] = ro->rewards[(size_t)i * (ro->rounds + 1) + k];
            ok = top_k(fk, N, K, idx);
            for (i = 0; ok && i < K; i++)
                memcpy(top + ((size_t)k * K + i) * D, ro->samples + ((size_t)k * N + idx[i]) * D,
                       sizeof(float) * (size_t)D);
        }
        shape[1] = (uint64_t)K;
        ok = ok && ggdm_io_save(rp->topk_file, GGDM_DT_F32, 3, shape, top, err, sizeof err) == GGDM_OK;
        free(top);
        free(fk);
        free(idx);
    }
    if (!ok)
        fprintf(stderr, "ggdm %s: %s\n", o->cmd, err[0] ? err : "out of memory");
    return ok;
}

/* Reward and ratio per round for one or more runs, side by side. */
static int write_plot(const char *path, const char *title, const run_out *runs, const char *const *names, int nruns,
                      int log_ratio)
{
    ggdm_plot_series rs[4], qs[4];
    ggdm_plot_panel panels[2];
    double *buf[8];
    char err[ERRCAP];
    int r, k, ok;
    memset(panels, 0, sizeof panels);
    memset(rs, 0, sizeof rs);
    memset(qs, 0, sizeof qs);
    for (r = 0; r < nruns && r < 4; r++) {
        int n = runs[r].rounds + 1;
        buf[2 * r] = (double *)malloc(sizeof(double) * n);
        buf[2 * r + 1] = (double *)malloc(sizeof(double) * n);
        for (k = 0; k < n; k++) {
            buf[2 * r][k] = k;
            buf[2 * r + 1][k] = runs[r].m[k].reward;
        }
        rs[r].name = names[r];
        rs[r].x = buf[2 * r];
        rs[r].y = buf[2 * r + 1];
        rs[r].n = n;
        qs[r].name = names[r];
        qs[r].x = buf[2 * r];
        qs[r].y = (double *)malloc(sizeof(double) * n);
        for (k = 0; k < n; k++)
            ((double *)qs[r].y)[k] = runs[r].m[k].ratio;
        qs[r].n = n;
    }
    panels[0].title = "mean reward";
    panels[0].ylabel = "reward";
    panels[0].series = rs;
    panels[0].nseries = nruns;
    panels[1].title = "mean off-support ratio";
    panels[1].ylabel = "ratio";
    panels[1].series = qs;
    panels[1].nseries = nruns;
    panels[1].log_y = log_ratio;
    ok = ggdm_plot_svg(path, title, "round", panels, 2, err, sizeof err) == 0;
    if (!ok)
        fprintf(stderr, "ggdm: plot: %s\n", err);
    for (r = 0; r < nruns && r < 4; r++) {
        free(buf[2 * r]);
        free(buf[2 * r + 1]);
        free((double *)qs[r].y);
    }
    return ok;
}

static void run_free(run_out *ro)
{
    free(ro->m);
    free(ro->rewards);
    free(ro->samples);
    memset(ro, 0, sizeof *ro);
}

/* ------------------------------------------------------------------ runs: folders, lock, resume */

/* The original's name of the reward: quadratic_theta_2, negnormplus_b_1, linear, ... */
static void func_remark(const opts *o, char *out, size_t cap)
{
    const char *ft = eff_func_type(o);
    if (!strcmp(o->x_type, "unit_ball"))
        pathf(out, cap, "linear");
    else if (!strcmp(ft, "negnormplus"))
        pathf(out, cap, "negnormplus_%s", o->use_b_1 ? "b_1" : "b_2");
    else
        pathf(out, cap, "%s_%s", ft, o->use_theta_1 ? "theta_1" : "theta_2");
}

/* Folders and files of a run (the original's names; original.md §9, main.py). */
static void run_paths_make(const opts *o, long long epoch, run_paths *rp)
{
    char fr[128], iv[64], exp[1024];
    memset(rp, 0, sizeof *rp);
    func_remark(o, fr, sizeof fr);
    ggdm_py_float_repr(o->interval, iv, sizeof iv);
    if (o->optimize)
        snprintf(exp, sizeof exp, "%s/optimize_%s_guidance_%s/func_%s_interval_%s", o->x_type,
                 o->score_matching_finetune ? "alg2" : "alg1", !strcmp(o->cond_score_version, "v1") ? "G" : "G_loss",
                 fr, iv);
    else
        snprintf(exp, sizeof exp, "%s/pretrain_%lld", o->x_type, epoch);
    if (o->run_dir) { /* everything of the run in one folder */
        rp->flat = 1;
        pathf(rp->results, sizeof rp->results, "%s", o->run_dir);
        pathf(rp->run, sizeof rp->run, "%s", o->run_dir);
        pathf(rp->tb, sizeof rp->tb, "%s/logs", o->run_dir);
        pathf(rp->tb_pre, sizeof rp->tb_pre, "%s/logs/pretrain", o->run_dir);
    } else {
        pathf(rp->results, sizeof rp->results, "%s/%s%s", o->save_dir, exp, o->other_remark);
        pathf(rp->run, sizeof rp->run, "%s/ggdm_run_seed_%lld", rp->results, o->seed);
        if (o->optimize)
            pathf(rp->tb, sizeof rp->tb, "%s/%s_seed_%lld%s", o->log_dir, exp, o->seed, o->other_remark);
        else
            pathf(rp->tb, sizeof rp->tb, "%s/%s%s", o->log_dir, exp, o->other_remark);
        pathf(rp->tb_pre, sizeof rp->tb_pre, "%s/%s/pretrain_%d%s", o->log_dir, o->x_type, o->pre_num_episodes,
                 o->other_remark);
    }
    if (o->optimize)
        pathf(rp->reward_file, sizeof rp->reward_file, "%s/reward_seed_%lld.npy", rp->results, o->seed);
    else
        pathf(rp->reward_file, sizeof rp->reward_file, "%s/%s_reward_seed_%lld.npy", rp->results, fr, o->seed);
    pathf(rp->samples_file, sizeof rp->samples_file, "%s/samples_seed_%lld.npy", rp->results, o->seed);
    pathf(rp->topk_file, sizeof rp->topk_file, "%s/top_%d_samples_seed_%lld.npy", rp->results, o->reward_K,
             o->seed);
}

/* Whether a folder holds TensorBoard event files. */
static int has_events(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL)
        n += !strncmp(e->d_name, "events.out.tfevents.", 20);
    closedir(d);
    return n;
}

static void remove_events(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[GGDM_RUN_PATH_MAX];
    if (!d)
        return;
    while ((e = readdir(d)) != NULL)
        if (!strncmp(e->d_name, "events.out.tfevents.", 20)) {
            pathf(p, sizeof p, "%s/%s", dir, e->d_name);
            ggdm_io_remove_tree(p);
        }
    closedir(d);
}

/*
 * --resume RUN_DIR: the interrupted run's own command line (config.json) with this one's
 * flags after it. Returns 0 (merged argv in *out, malloc'd array of borrowed strings), 1 (error
 * printed), 2 (usage error).
 */
static int merge_resume_argv(const char *cmd, const char *dir, int argc, char **argv, ggdm_run_record *rec,
                             int *oargc, char ***oargv)
{
    char path[GGDM_RUN_PATH_MAX], err[ERRCAP];
    char **a;
    int i, n = 0;
    pathf(path, sizeof path, "%s/config.json", dir);
    if (ggdm_run_read_config(path, rec, err, sizeof err) != 0) {
        fprintf(stderr, "ggdm %s: --resume %s: %s\n", cmd, dir,
                ggdm_io_exists(path) ? err : "no config.json there: not the folder of a ggdm run");
        return 1;
    }
    if (strcmp(ggdm_run_record_get(rec, "command"), cmd)) {
        fprintf(stderr, "ggdm %s: --resume %s: that folder holds a `ggdm %s` run\n", cmd, dir,
                ggdm_run_record_get(rec, "command"));
        return 2;
    }
    a = (char **)malloc(sizeof(char *) * (size_t)(rec->argc + argc + 2));
    if (!a)
        return 1;
    a[n++] = argv[0];
    for (i = 1; i < rec->argc; i++)
        a[n++] = rec->argv[i];
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--resume")) {
            if (i + 1 < argc && argv[i + 1][0] != '-')
                i++;
            continue;
        }
        if (!strncmp(argv[i], "--resume=", 9))
            continue;
        a[n++] = argv[i];
    }
    a[n] = NULL;
    *oargc = n;
    *oargv = a;
    return 0;
}

/* The interrupted run's settings against this command line's; prints each difference. */
static int settings_match(const opts *o, const ggdm_run_record *rec, const char *dir)
{
    settings s;
    int i, bad = 0;
    run_settings(o, &s);
    for (i = 0; i < s.n; i++) {
        char k[64];
        const char *was;
        snprintf(k, sizeof k, "setting.%s", s.key[i]);
        was = ggdm_run_record_get(rec, k);
        if (strcmp(was, s.val[i])) {
            if (!bad)
                fprintf(stderr, "ggdm %s: cannot resume %s with other settings than it was started with:\n", o->cmd,
                        dir);
            fprintf(stderr, "    --%s: the run has %s, this command line says %s\n", s.key[i], was[0] ? was : "(unset)",
                    s.val[i]);
            bad = 1;
        }
    }
    if (bad)
        fprintf(stderr, "  resume with the run's own settings (`--resume %s` alone is enough), or start a new run\n",
                dir);
    return !bad;
}

/* An input file's identity, recorded in config.json and checked on --resume. */
static int check_input(const opts *o, run_info *ri, const char *name, const char *path, const ggdm_run_record *rec)
{
    char h[17], k[64], v[1024];
    const char *was;
    if (!path || ri->ninputs >= 3)
        return 1;
    file_hash(path, h);
    snprintf(v, sizeof v, "%s xxh3:%s", path, h);
    snprintf(ri->inputs[ri->ninputs][0], sizeof ri->inputs[0][0], "%s", name);
    snprintf(ri->inputs[ri->ninputs][1], sizeof ri->inputs[0][1], "%s", v);
    ri->ninputs++;
    snprintf(k, sizeof k, "input.%s", name);
    was = rec ? ggdm_run_record_get(rec, k) : "";
    if (rec && was[0] && strcmp(was, v)) {
        fprintf(stderr, "ggdm %s: cannot resume: the input --%s changed since the run started (%s, now %s)\n", o->cmd,
                name, was, v);
        return 0;
    }
    return 1;
}

/* Takes the run folder: lock, then what the folder holds decides (fresh, resume, refuse). */
typedef struct run_state {
    int lock_fd;
    int resuming;
} run_state;

static int run_claim(const opts *o, const run_paths *rp, run_state *rs, int tb_check)
{
    char err[ERRCAP], path[GGDM_RUN_PATH_MAX], status[64], cur[128];
    ggdm_run_record rec;
    rs->lock_fd = -1;
    rs->resuming = 0;
    if (ggdm_run_lock(rp->run, &rs->lock_fd, err, sizeof err) != 0) {
        fprintf(stderr, "ggdm %s: %s\n", o->cmd, err);
        return 0;
    }
    pathf(path, sizeof path, "%s/config.json", rp->run);
    status[0] = 0;
    if (ggdm_io_exists(path)) {
        if (ggdm_run_read_config(path, &rec, err, sizeof err) == 0) {
            snprintf(status, sizeof status, "%s", ggdm_run_record_get(&rec, "status"));
            ggdm_run_record_free(&rec);
        } else {
            snprintf(status, sizeof status, "damaged");
        }
    }
    if (o->overwrite) {
        DIR *d = opendir(rp->run);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) /* everything but the lock we hold */
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, ".lock")) {
                char p[GGDM_RUN_PATH_MAX];
                pathf(p, sizeof p, "%s/%s", rp->run, e->d_name);
                ggdm_io_remove_tree(p);
            }
        if (d)
            closedir(d);
        if (o->optimize || !strcmp(o->cmd, "pretrain"))
            remove_events(rp->tb);
        if (rp->tb_pre[0] && o->pretrain)
            remove_events(rp->tb_pre);
        if (strcmp(rp->reward_file, o->out ? o->out : "")) { /* the results of the replaced run */
            ggdm_io_remove_tree(rp->reward_file);
            ggdm_io_remove_tree(rp->samples_file);
            ggdm_io_remove_tree(rp->topk_file);
        }
        return 1;
    }
    if (!strcmp(status, "finished")) {
        fprintf(stderr, "ggdm %s: %s holds a finished run with these settings (%s/config.json); add --overwrite to "
                        "replace it, or choose another --save_dir / --other_remark / --run_dir\n",
                o->cmd, rp->run, rp->run);
        return 0;
    }
    if (status[0]) {
        pathf(path, sizeof path, "%s/ckpt/CURRENT", rp->run);
        cur[0] = 0;
        {
            FILE *f = fopen(path, "r");
            if (f) {
                if (!fgets(cur, sizeof cur, f))
                    cur[0] = 0;
                fclose(f);
            }
        }
        cur[strcspn(cur, "\n")] = 0;
        if (!o->resume_flag) {
            fprintf(stderr, "ggdm %s: %s holds an interrupted run (last checkpoint: %s); add --resume to continue "
                            "it, or --overwrite to start again\n",
                    o->cmd, rp->run, cur[0] ? cur : "none");
            return 0;
        }
        rs->resuming = 1;
        return 1;
    }
    if (o->resume_flag)
        fprintf(stderr, "ggdm %s: note: nothing to resume in %s; starting the run\n", o->cmd, rp->run);
    if (tb_check) { /* the TensorBoard folders this run will write */
        int main_tb = (o->optimize || !strcmp(o->cmd, "pretrain")) && has_events(rp->tb);
        if (main_tb || (rp->tb_pre[0] && o->pretrain && has_events(rp->tb_pre))) {
            fprintf(stderr, "ggdm %s: %s already holds TensorBoard files of another run; add --overwrite to "
                            "replace them, or choose another --log_dir / --other_remark\n",
                    o->cmd, main_tb ? rp->tb : rp->tb_pre);
            return 0;
        }
    }
    return 1;
}

/* A run's folder, record and checkpoints, from its start to its end (ggdm optimize, pretrain). */
typedef struct run_ctx {
    run_paths rp;
    run_state rs;
    run_info ri;
    ggdm_run_record prev; /* the interrupted run's record when resuming */
    ckpt ck;
    char **rargv;         /* the command line recorded in config.json */
    int rargc;
} run_ctx;

static void run_ctx_init(run_ctx *c)
{
    memset(c, 0, sizeof *c);
    c->rs.lock_fd = -1;
    c->ri.t_start = now_s();
    c->ri.wall_start = time(NULL);
}

static void run_ctx_free(run_ctx *c)
{
    ggdm_run_unlock(&c->rs.lock_fd);
    ggdm_run_record_free(&c->prev);
    free(c->rargv);
    c->rargv = NULL;
}

static char **record_argv(int argc, char **argv, int *n);

/*
 * Starts (or resumes) the run in c->rp, whose inputs were all read and checked: takes the
 * lock, refuses what run_claim refuses, checks a resumed run's settings and inputs (and then
 * uses its own copy of the hyper-parameters, *h), records config.json ("running") and the
 * hyper-parameters, removes stale temporaries (the run's folders and extra_dirs, NULL-ended)
 * and recovers the checkpoints (keeping the names in keep). 1 ok, 0 error, 2 usage error.
 */
static int run_begin(const opts *o, run_ctx *c, int argc, char **argv, hyper *h, const char *const *extra_dirs,
                     const char *const *keep)
{
    char path[GGDM_RUN_PATH_MAX], err[ERRCAP];
    const ggdm_run_record *prev = NULL;
    const char *const *d;
    if (!run_claim(o, &c->rp, &c->rs, 1))
        return 0;
    if (c->rs.resuming) {
        pathf(path, sizeof path, "%s/config.json", c->rp.run);
        if (ggdm_run_read_config(path, &c->prev, err, sizeof err) != 0) {
            fprintf(stderr, "ggdm %s: %s\n", o->cmd, err);
            return 0;
        }
        if (!settings_match(o, &c->prev, c->rp.run))
            return 2;
        snprintf(c->ri.started, sizeof c->ri.started, "%s", ggdm_run_record_get(&c->prev, "started"));
        prev = &c->prev;
    }
    if (!check_input(o, &c->ri, "pretrain_ckpt", o->pretrain_ckpt ? o->pretrain_ckpt : o->w, prev) ||
        !check_input(o, &c->ri, "hyper", o->hyper, prev) ||
        !check_input(o, &c->ri, "pretrain_data", o->pretrain_data, prev))
        return 0;
    pathf(path, sizeof path, "%s/hyperparameters.npz", c->rp.run);
    if (prev && ggdm_io_exists(path)) { /* the run's own (generated ones are on no command line) */
        hyper h2;
        opts o2 = *o;
        o2.hyper = path;
        if (!hyper_load(&o2, &h2))
            return 0;
        hyper_free(h);
        *h = h2;
    }
    c->rargv = record_argv(argc, argv, &c->rargc);
    if (!c->rargv || !write_config(o, &c->rp, &c->ri, c->rargc, c->rargv, "running", NULL) ||
        !hyper_save(o, h, path))
        return 0;
    ggdm_run_clean_tmp(c->rp.run); /* stale temporaries of dead processes, wherever the run writes */
    ggdm_run_clean_tmp(c->rp.results);
    for (d = extra_dirs; d && *d; d++)
        ggdm_run_clean_tmp(*d);
    pathf(c->ck.dir, sizeof c->ck.dir, "%s/ckpt", c->rp.run);
    if (ggdm_ckpt_recover(c->ck.dir, keep, c->ck.cur, sizeof c->ck.cur, err, sizeof err) != 0) {
        fprintf(stderr, "ggdm %s: %s\n", o->cmd, err);
        return 0;
    }
    return 1;
}

/* The run's record, "finished", with its timings (a JSON object). */
static int run_finish(const opts *o, run_ctx *c, ggdm_json *timings)
{
    const char *t = ggdm_json_end(timings);
    int ok = t && write_config(o, &c->rp, &c->ri, c->rargc, c->rargv, "finished", t);
    ggdm_json_free(timings);
    return ok;
}

/*
 * Parses a run command's options (opts_default + parse_opts); with --resume RUN_DIR the run's
 * recorded command line comes first, then this one's flags, and the command continues in the
 * run's working folder (relative paths mean what they meant). The argv to record goes to
 * *margc and *margv (*alloc: free it; *recp holds the recorded strings they and *o point into:
 * ggdm_run_record_free it after the run). 0 ok, -1 help printed, 1 error, 2 usage error.
 */
static int parse_run_cmd(opts *o, const char *cmd, const char *usage, int argc, char **argv, int *margc,
                         char ***margv, char ***alloc, ggdm_run_record *recp)
{
    const char *dir;
    int rc;
    memset(recp, 0, sizeof *recp);
    *margc = argc;
    *margv = argv;
    *alloc = NULL;
    opts_default(o, cmd);
    if ((rc = parse_opts(o, argc, argv, usage)) != 0)
        return rc == 1 ? -1 : rc;
    if (!o->resume)
        return 0;
    dir = o->resume;
    rc = merge_resume_argv(cmd, dir, argc, argv, recp, margc, alloc);
    if (rc)
        return rc;
    *margv = *alloc;
    opts_default(o, cmd);
    rc = parse_opts(o, *margc, *margv, usage);
    if (rc == 0) {
        const char *cwd = ggdm_run_record_get(recp, "cwd");
        o->resume_flag = 1;
        o->resume = NULL;
        if (cwd[0] && chdir(cwd) != 0) {
            fprintf(stderr, "ggdm %s: cannot enter the run's working folder %s (%s)\n", cmd, cwd, strerror(errno));
            return 1;
        }
    }
    return rc == 1 ? -1 : rc;
}

/* ------------------------------------------------------------------ the original's main.py */

static const char *const optimize_usage =
    "usage: ggdm optimize [options]      (or the original's line: ggdm --optimize [options])\n"
    "       ggdm --pretrain [options]    pre-train first (then sample, and optimise with --optimize)\n"
    "The paper's Algorithm 1 (gradient-guided generative optimisation), or Algorithm 2 with\n"
    "--score_matching_finetune, with the original's flags and defaults (main.py):\n"
    "  data:         --x_type linear_latent|unit_ball  --d_outer 64  --d_inner 16  --seed 2345\n"
    "                --hyper H.npz (default: data/X_TYPE/hyperparameters.npz, as the original; generated from\n"
    "                --seed and saved there when missing)\n"
    "  reward:       --func_type quadratic|negnormplus (linear_latent; unit_ball always optimises theta^T x)\n"
    "                --use_theta_1  --use_b_1  --r_off 9  --reward_K 4\n"
    "  network:      --pretrain_ckpt CKPT (.pth as the authors' code saves it, or .safetensors)\n"
    "                --pretrain [--pretrain_data X.npy --N_0 65536 --pre_bs 32 --pre_num_episodes 50\n"
    "                --pre_lr 1e-3 --pretrain_ckpt_folder pretrained --dim D_OUTER --dim-mults 1,2,4,8 --groups 8]\n"
    "                --score analytic (the exact score of linear_latent data: no network)\n"
    "  guidance:     --cond_score_version v1 (G) | v2 (G_loss)  --interval 0.05  --opt_rounds 20\n"
    "                --generate_bs 32  --beta None  --beta_coef 1  --T 200  --disable_guidance\n"
    "  Algorithm 2:  --score_matching_finetune  --sm_ft_lr 1e-5  --sm_ft_start_round 0  --sm_ft_round R\n"
    "                --sm_ft_step_per_round 1\n"
    "  outputs:      --save_dir results  --log_dir logs  --other_remark TEXT  --save_samples\n"
    "                results in SAVE_DIR/X_TYPE/optimize_alg{1,2}_guidance_{G,G_loss}/func_F_interval_I/\n"
    "                (reward_seed_S.npy, samples_seed_S.npy, top_K_samples_seed_S.npy) and ggdm's record of\n"
    "                the run in its ggdm_run_seed_S/ (config.json, metrics.csv, metrics.svg, ckpt/);\n"
    "                TensorBoard in LOG_DIR/X_TYPE/optimize_.../func_..._seed_S (the original's tags)\n"
    "                --run_dir DIR: everything of the run in DIR instead (TensorBoard in DIR/logs)\n"
    "  runs:         --resume [RUN_DIR]  continue an interrupted run bit for bit (its settings are checked)\n"
    "                --overwrite  replace a finished run    --threads N (default: the cores this process may use)\n"
    "A second run into a folder in use, or over a finished run, is refused. docs/cli.md lists where ggdm\n"
    "differs from the original.\n";

/* Checks that need no file, before anything is read or written. 0 ok, 2 usage error. */
static int check_run_opts(const opts *o)
{
    if (o->reward_K > o->generate_bs) {
        fprintf(stderr, "ggdm %s: --reward_K %d exceeds --generate_bs %d (the top K of each round's samples)\n",
                o->cmd, o->reward_K, o->generate_bs);
        return 2;
    }
    if (o->score_matching_finetune && o->sm_ft_step_per_round > o->generate_bs) {
        fprintf(stderr, "ggdm %s: --sm_ft_step_per_round %d exceeds --generate_bs %d (each step trains on "
                        "generate_bs / steps samples)\n", o->cmd, o->sm_ft_step_per_round, o->generate_bs);
        return 2;
    }
    if (!strcmp(o->x_type, "unit_ball") && o->func_type_given && strcmp(o->func_type, "linear"))
        fprintf(stderr, "ggdm %s: note: unit_ball always optimises the linear reward theta^T x (as the original); "
                        "--func_type %s is ignored\n", o->cmd, o->func_type);
    if (!strcmp(o->x_type, "linear_latent")) {
        ggdm_reward_kind k;
        if (ggdm_reward_kind_parse(o->func_type, &k) != GGDM_OK) {
            fprintf(stderr, "ggdm %s: --func_type must be quadratic, negnormplus (or linear), not '%s'\n", o->cmd,
                    o->func_type);
            return 2;
        }
    }
    if (o->score_matching_finetune && !strcmp(o->score, "analytic")) {
        fprintf(stderr, "ggdm %s: --score_matching_finetune fine-tunes a network: not with --score analytic\n", o->cmd);
        return 2;
    }
    if (!o->pretrain && !o->pretrain_ckpt && !o->w && strcmp(o->score, "analytic")) {
        fprintf(stderr, "ggdm %s: no score network: give --pretrain_ckpt CKPT (.pth or .safetensors), or --pretrain "
                        "to pre-train one first (as the original), or --score analytic\n", o->cmd);
        return 2;
    }
    if (o->pretrain && (o->pretrain_ckpt || !strcmp(o->score, "analytic"))) {
        fprintf(stderr, "ggdm %s: --pretrain trains the network: not with --pretrain_ckpt or --score analytic\n",
                o->cmd);
        return 2;
    }
    return 0;
}

/* Hyper-parameters as the original finds them: --hyper, else data/X_TYPE/hyperparameters.npz,
 * else generated (*generated set: the caller saves them there, as the original does). */
static int hyper_find(opts *o, hyper *h, char *found, size_t cap, int *generated)
{
    *generated = 0;
    o->hyper_user = o->hyper;
    snprintf(found, cap, "data/%s/hyperparameters.npz", o->x_type);
    if (!o->hyper && ggdm_io_exists(found)) {
        o->hyper = found;
        fprintf(stderr, "ggdm %s: hyper-parameters from %s (as the original; --hyper to choose another file)\n",
                o->cmd, found);
    }
    if (!hyper_get(o, h))
        return 0;
    if (!o->hyper)
        *generated = 1;
    return 1;
}

static int ggdm_run_main(opts *o, int argc, char **argv);

/* `ggdm optimize ...`, and the original's `ggdm --optimize ...` / `ggdm --pretrain ...`. */
int ggdm_cmd_original(int argc, char **argv, int optimize)
{
    opts o;
    int rc, margc;
    char **margv, **alloc;
    ggdm_run_record rec;
    rc = parse_run_cmd(&o, "optimize", optimize_usage, argc, argv, &margc, &margv, &alloc, &rec);
    if (rc) {
        free(alloc);
        ggdm_run_record_free(&rec);
        return rc < 0 ? 0 : rc;
    }
    if (optimize)
        o.optimize = 1;
    if (!o.dim_given)
        o.dim = o.d_outer; /* the original: Unet1D(dim=d_outer) */
    rc = check_run_opts(&o);
    if (!rc)
        rc = ggdm_run_main(&o, margc, margv);
    free(alloc);
    ggdm_run_record_free(&rec);
    return rc;
}

int ggdm_cmd_optimize(int argc, char **argv)
{
    return ggdm_cmd_original(argc, argv, 1);
}

/* The argv to record: this command line without --resume, --overwrite and --threads. */
static char **record_argv(int argc, char **argv, int *n)
{
    char **a = (char **)malloc(sizeof(char *) * (size_t)(argc + 1));
    int i, k = 0;
    if (!a)
        return NULL;
    for (i = 0; i < argc; i++) {
        if (i > 0 && (!strcmp(argv[i], "--resume") || !strcmp(argv[i], "--overwrite") ||
                      !strcmp(argv[i], "--threads"))) {
            if (strcmp(argv[i], "--overwrite") && i + 1 < argc && argv[i + 1][0] != '-')
                i++;
            continue;
        }
        if (i > 0 && !strcmp(argv[i], "--stop_after")) { /* a testing switch */
            i++;
            continue;
        }
        if (i > 0 && (!strncmp(argv[i], "--resume=", 9) || !strncmp(argv[i], "--threads=", 10) ||
                      !strncmp(argv[i], "--stop_after=", 13)))
            continue;
        a[k++] = argv[i];
    }
    a[k] = NULL;
    *n = k;
    return a;
}

static int ggdm_run_main(opts *o, int argc, char **argv)
{
    hyper h;
    model mdl;
    run_out ro;
    run_ctx rn;
    ggdm_tb *tb = NULL;
    ggdm_unet_cfg cfg;
    float *params = NULL;
    uint64_t np = 0;
    char hyper_found[512], path[GGDM_RUN_PATH_MAX], err[ERRCAP], msg[GGDM_UNET_MSG_LEN], fr[128];
    char ckpt_xtype[64], data_out[600], d_data[600], d_fine[600];
    const char *extra[4];
    long long epoch = -1;
    int rc = 1, hyper_generated = 0, b;
    double t_pre = 0, t_all0 = now_s();
    memset(&h, 0, sizeof h);
    memset(&mdl, 0, sizeof mdl);
    memset(&ro, 0, sizeof ro);
    run_ctx_init(&rn);

    /* 1. everything is read and checked before anything is written */
    if (!hyper_find(o, &h, hyper_found, sizeof hyper_found, &hyper_generated))
        goto done;
    if (o->pretrain) {
        cfg = net_cfg(o, h.D);
        if (ggdm_unet_cfg_check(&cfg, msg) != GGDM_OK) {
            fprintf(stderr, "ggdm %s: %s (the network of --pretrain: --dim %d, --d_outer %d)\n", o->cmd, msg, o->dim,
                    h.D);
            rc = 2;
            goto done;
        }
        if (o->pretrain_data) { /* read now: a bad file fails before the run starts */
            float *tmp = NULL;
            if (!load_mat(o, "--pretrain_data", o->pretrain_data, o->N_0, h.D, &tmp))
                goto done;
            free(tmp);
        }
        epoch = o->pre_num_episodes;
    } else if (strcmp(o->score, "analytic")) {
        const char *w = o->pretrain_ckpt ? o->pretrain_ckpt : o->w;
        if (!model_load(o, w, &h, &mdl))
            goto done;
        ckpt_xtype[0] = 0;
        if (ggdm_cli_unet_ckpt_info(w, ckpt_xtype, sizeof ckpt_xtype, &epoch, err, sizeof err) == GGDM_OK &&
            ckpt_xtype[0] && strcmp(ckpt_xtype, o->x_type)) {
            fprintf(stderr, "ggdm %s: %s was pre-trained on x_type %s, not --x_type %s (the original refuses it too)\n",
                    o->cmd, w, ckpt_xtype, o->x_type);
            goto done;
        }
        if (epoch < 0)
            epoch = 0;
    } else {
        if (!model_load(o, NULL, &h, &mdl))
            goto done;
        epoch = 0;
    }
    {
        ggdm_reward_kind kind;
        double *pb = NULL;
        float *tab;
        if (!reward_param(o, &h, &kind, &pb))
            goto done;
        free(pb);
        if (!(tab = schedule_tables(o)))
            goto done;
        free(tab);
    }
    run_paths_make(o, epoch, &rn.rp);
    func_remark(o, fr, sizeof fr);
    /* 2. the run's folder: lock, then fresh / resume / refuse; its record */
    pathf(d_data, sizeof d_data, "data/%s", o->x_type);
    pathf(d_fine, sizeof d_fine, "checkpoints/score_finetuned/%s_%s", eff_func_type(o), o->cond_score_version);
    extra[0] = d_data;
    extra[1] = o->pretrain_ckpt_folder;
    extra[2] = d_fine;
    extra[3] = NULL;
    {
        static const char *const keep[] = {"pretrained.safetensors", NULL};
        b = run_begin(o, &rn, argc, argv, &h, extra, keep);
        if (b != 1) {
            rc = b == 2 ? 2 : 1;
            goto done;
        }
    }
    if (!mdl.is_unet)
        mdl.an.A = h.A; /* a resumed run's own copy */
    if (hyper_generated && !ggdm_io_exists(hyper_found)) { /* the original saves generated ones for later runs */
        if (ggdm_io_mkdirs(d_data) == 0 && hyper_save(o, &h, hyper_found))
            fprintf(stderr, "ggdm %s: generated the hyper-parameters from --seed %lld and saved them to %s (the "
                            "original's place: later runs use them)\n", o->cmd, o->seed, hyper_found);
    }
    /* 3. pre-training (--pretrain) */
    if (o->pretrain) {
        char wp[GGDM_RUN_PATH_MAX];
        pathf(wp, sizeof wp, "%s/pretrained.safetensors", rn.ck.dir);
        ggdm_unet_num_params(&cfg, &np);
        params = (float *)malloc(sizeof(float) * (size_t)np);
        if (!params)
            goto done;
        if (ckpt_is(&rn.ck, "round_")) { /* pre-training was finished and saved */
            float *p2;
            uint64_t n2;
            int known;
            ggdm_unet_cfg c2 = cfg;
            if (ggdm_cli_load_unet(wp, &c2, &p2, &n2, &known, err, sizeof err) != GGDM_OK || n2 != np) {
                fprintf(stderr, "ggdm %s: cannot resume: %s\n", o->cmd, err);
                goto done;
            }
            memcpy(params, p2, sizeof(float) * (size_t)np);
            free(p2);
        } else {
            ggdm_tb *tbp;
            ggdm_unet_init(&cfg, (uint64_t)o->seed, params, np);
            printf("====================Pretraining Starts====================\n");
            fflush(stdout);
            pathf(data_out, sizeof data_out, "data/%s/pretrain_%d.npy", o->x_type, o->N_0);
            if (!o->pretrain_data)
                o->data_out = data_out;
            tbp = ggdm_tb_open(rn.rp.tb_pre, err, sizeof err);
            if (!tbp)
                fprintf(stderr, "ggdm %s: no TensorBoard log: %s\n", o->cmd, err);
            rc = pretrain(o, &h, &cfg, params, np, &rn.ck, tbp, NULL, &t_pre);
            if (tbp)
                ggdm_tb_close(tbp);
            if (rc != 1) {
                rc = rc == 3 ? 3 : 1;
                goto done;
            }
            rc = 1;
            /* the original's checkpoint, then ggdm's copy for resuming the later phases */
            pathf(path, sizeof path, "%s/%s_pretrain_epoch_%d.pth", o->pretrain_ckpt_folder, o->x_type,
                     o->pre_num_episodes);
            if (ggdm_io_mkdirs(o->pretrain_ckpt_folder) != 0) {
                fprintf(stderr, "ggdm %s: cannot create --pretrain_ckpt_folder %s (%s)\n", o->cmd,
                        o->pretrain_ckpt_folder, strerror(errno));
                goto done;
            }
            if (!save_weights(o, path, &cfg, params, "epoch", o->pre_num_episodes) ||
                !save_weights(o, wp, &cfg, params, "epoch", epoch))
                goto done;
            printf("------------Pretraining Time Summary--------------\n");
            printf("ggdm | %lld\npretrain diffusion model (epoch=%d)\ntraining time: %.3f\n", o->seed,
                   o->pre_num_episodes, t_pre);
            printf("-------------------------------------------------\n");
            printf("pretrained checkpoint: %s\n", path);
        }
        model_set_unet(&mdl, &cfg, params, np);
        params = NULL;
    }
    /* 4. round 0 (unguided) and, with --optimize, the rounds */
    if (o->optimize) {
        printf("guidance version: %s\n", o->cond_score_version);
        printf("====================Optimization Starts====================\n");
        fflush(stdout);
    }
    tb = o->optimize ? ggdm_tb_open(rn.rp.tb, err, sizeof err) : NULL;
    if (o->optimize && !tb)
        fprintf(stderr, "ggdm %s: no TensorBoard log: %s\n", o->cmd, err);
    if (!optimize_run(o, &h, &mdl, &rn.ck, tb, &ro, o->optimize ? "optimize" : "sample"))
        goto done;
    if (ro.rounds < 0) {
        rc = 3;
        goto done;
    }
    printf("Unconditional Generation: sample_num: %d | mean_ratio: %.9g | sample_time: %.4f\n", o->generate_bs,
           ro.m[0].ratio, ro.m[0].t_sample);
    printf("Reward type: %s | mean_reward: %.9g\n", fr, ro.m[0].reward);
    /* 5. outputs, each atomic; config.json's "finished" last */
    if (ggdm_io_mkdirs(rn.rp.results) != 0) {
        fprintf(stderr, "ggdm %s: cannot create %s (%s)\n", o->cmd, rn.rp.results, strerror(errno));
        goto done;
    }
    if (!write_results(o, &rn.rp, &ro, o->generate_bs, h.D))
        goto done;
    pathf(path, sizeof path, "%s/metrics.csv", rn.rp.run);
    if (!write_metrics_csv(o, path, &ro))
        goto done;
    if (o->optimize) {
        const char *names[1];
        char title[256];
        names[0] = !strcmp(o->cond_score_version, "v1") ? "G (v1)" : "G_loss (v2)";
        snprintf(title, sizeof title, "ggdm: %s, %s reward, %s%s", o->x_type, fr, names[0],
                 o->score_matching_finetune ? ", Algorithm 2" : ", Algorithm 1");
        pathf(path, sizeof path, "%s/metrics.svg", rn.rp.run);
        write_plot(path, title, &ro, names, 1, !h.unit_ball);
        if (o->score_matching_finetune && mdl.params) { /* the original's fine-tuned checkpoint */
            char dir[2048];
            if (rn.rp.flat) /* --run_dir: in the run's folder */
                pathf(dir, sizeof dir, "%s", rn.rp.run);
            else /* the original's place */
                pathf(dir, sizeof dir, "checkpoints/score_finetuned/%s_%s", eff_func_type(o), o->cond_score_version);
            pathf(path, sizeof path, "%s/%s_finetune_iteration_%d.pth", dir, o->x_type, eff_ft_rounds(o));
            if (ggdm_io_mkdirs(dir) != 0 || !save_weights(o, path, &mdl.unet.cfg, mdl.params, "iteration", eff_ft_rounds(o)))
                goto done;
        }
    }
    {
        ggdm_json j;
        int R = ro.rounds;
        double total = now_s() - t_all0;
        ggdm_json_begin(&j);
        ggdm_json_num(&j, "pretrain_s", t_pre);
        ggdm_json_num(&j, "unguided_sample_s", ro.m[0].t_sample);
        ggdm_json_num(&j, "optimize_s", ro.t_total);
        ggdm_json_num(&j, "sample_s", ro.t_sample_guided);
        ggdm_json_int(&j, "rounds", R);
        ggdm_json_num(&j, "optimize_s_per_round", R ? ro.t_total / R : 0);
        ggdm_json_num(&j, "sample_s_per_round", R ? ro.t_sample_guided / R : 0);
        ggdm_json_num(&j, "this_process_s", total);
        if (o->optimize) {
            printf("------------Optimization Time Summary-----------------\n");
            printf("ggdm | data type: %s | function type: %s | guidance type: %s | score matching finetune: %s | "
                   "%lld\n", o->x_type, fr, o->cond_score_version, o->score_matching_finetune ? "True" : "False",
                   o->seed);
            printf("The total optimizing time is: %.4f \n", ro.t_total);
            printf("Sample time: %.4f (total rounds: %d)\n", ro.t_sample_guided, R);
            printf("Each round:\n optimizing time: %.4f | sample time: %.4f\n", R ? ro.t_total / R : 0,
                   R ? ro.t_sample_guided / R : 0);
            printf("-------------------------------------------------\n");
            printf("round 0: reward %.4f ratio %.4g;  round %d: reward %.4f ratio %.4g (top-%d %.4f)\n",
                   ro.m[0].reward, ro.m[0].ratio, R, ro.m[R].reward, ro.m[R].ratio, o->reward_K, ro.m[R].top_reward);
        }
        if (!run_finish(o, &rn, &j))
            goto done;
    }
    printf("results: %s%s\nrun record: %s (config.json, metrics.csv)\n", rn.rp.reward_file,
           o->save_samples ? " (+ samples)" : "", rn.rp.run);
    if (o->optimize)
        printf("TensorBoard: %s\n", rn.rp.tb);
    printf("The total running time is: %.4f \n", now_s() - t_all0);
    rc = 0;
done:
    if (tb)
        ggdm_tb_close(tb);
    run_ctx_free(&rn);
    run_free(&ro);
    free(params);
    free(mdl.params);
    hyper_free(&h);
    return rc;
}

/* ------------------------------------------------------------------ ggdm pretrain */

static const char *const pretrain_usage =
    "usage: ggdm pretrain [--x_type linear_latent|unit_ball] [--d_outer 64] [--d_inner 16] [--seed 2345]\n"
    "                     [--hyper H.npz] [--N_0 65536] [--pre_bs 32] [--pre_num_episodes 50] [--pre_lr 1e-3]\n"
    "                     [--pretrain_data X.npy] [--dim 64] [--dim-mults 1,2,4,8] [--groups 8] [--T 200]\n"
    "                     [--save_dir results] [--log_dir logs] [--resume [DIR]] [--overwrite] -o W.safetensors|W.pth\n"
    "Pre-trains the Unet1D score network on N_0 samples of the data distribution (batches in data order,\n"
    "Adam with betas (0.9, 0.99)), writes the weights (the original's names; .pth: the authors' checkpoint\n"
    "format) and the run's record in SAVE_DIR (config.json, hyperparameters.npz, ckpt/: every epoch committed\n"
    "atomically). --resume continues an interrupted run bit for bit. (The original's `--pretrain` line works\n"
    "too: ggdm --pretrain ...)\n"
    "  --threads N   worker threads (default: the cores this process may use); results are bit-identical\n";

int ggdm_cmd_pretrain(int argc, char **argv)
{
    opts o;
    hyper h;
    ggdm_unet_cfg cfg;
    float *params = NULL, loss = 0;
    uint64_t np;
    int rc, margc;
    char err[ERRCAP], msg[GGDM_UNET_MSG_LEN], odir[GGDM_RUN_PATH_MAX];
    char **margv, **alloc;
    const char *extra[2];
    ggdm_tb *tb = NULL;
    run_ctx rn;
    ggdm_run_record rec;
    memset(&h, 0, sizeof h);
    run_ctx_init(&rn);
    rc = parse_run_cmd(&o, "pretrain", pretrain_usage, argc, argv, &margc, &margv, &alloc, &rec);
    if (rc) {
        free(alloc);
        ggdm_run_record_free(&rec);
        return rc < 0 ? 0 : rc;
    }
    rc = 1;
    if (!o.out) {
        fprintf(stderr, "ggdm pretrain: -o W.safetensors (or W.pth) is required\n");
        rc = 2;
        goto done;
    }
    cfg = net_cfg(&o, o.d_outer);
    if (ggdm_unet_cfg_check(&cfg, msg) != GGDM_OK) {
        fprintf(stderr, "ggdm pretrain: %s\n", msg);
        rc = 2;
        goto done;
    }
    /* every input, and the place of -o, checked before the training */
    if (!hyper_get(&o, &h))
        goto done;
    if (o.pretrain_data) {
        float *tmp = NULL;
        if (!load_mat(&o, "--pretrain_data", o.pretrain_data, o.N_0, h.D, &tmp))
            goto done;
        free(tmp);
    }
    {
        const char *slash = strrchr(o.out, '/');
        struct stat sb;
        if (slash)
            pathf(odir, sizeof odir, "%.*s", (int)(slash - o.out), o.out);
        else
            pathf(odir, sizeof odir, ".");
        if (!odir[0])
            pathf(odir, sizeof odir, "/");
        if (stat(o.out, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "ggdm pretrain: -o %s is a folder; give a file name (W.safetensors or W.pth)\n", o.out);
            goto done;
        }
        if (stat(odir, &sb) != 0 || !S_ISDIR(sb.st_mode) || ggdm_io_probe_writable(odir) != 0) {
            fprintf(stderr, "ggdm pretrain: -o %s cannot be written (%s: %s); nothing was trained\n", o.out, odir,
                    strerror(errno ? errno : ENOTDIR));
            goto done;
        }
    }
    rn.rp.flat = 1; /* the run's folder is --save_dir */
    pathf(rn.rp.run, sizeof rn.rp.run, "%s", o.save_dir);
    pathf(rn.rp.results, sizeof rn.rp.results, "%s", o.save_dir);
    pathf(rn.rp.tb, sizeof rn.rp.tb, "%s", o.log_dir);
    pathf(rn.rp.reward_file, sizeof rn.rp.reward_file, "%s", o.out);
    extra[0] = odir;
    extra[1] = NULL;
    rc = run_begin(&o, &rn, margc, margv, &h, extra, NULL);
    if (rc != 1) {
        rc = rc == 2 ? 2 : 1;
        goto done;
    }
    rc = 1;
    ggdm_unet_num_params(&cfg, &np);
    params = (float *)malloc(sizeof(float) * (size_t)np);
    if (!params)
        goto done;
    ggdm_unet_init(&cfg, (uint64_t)o.seed, params, np);
    tb = ggdm_tb_open(o.log_dir, err, sizeof err);
    if (!tb)
        fprintf(stderr, "ggdm pretrain: no TensorBoard log: %s\n", err);
    {
        double secs = 0;
        ggdm_json j;
        rc = pretrain(&o, &h, &cfg, params, np, &rn.ck, tb, &loss, &secs);
        if (rc != 1) {
            rc = rc == 3 ? 3 : 1;
            goto done;
        }
        rc = 1;
        if (!save_weights(&o, o.out, &cfg, params, "epoch", o.pre_num_episodes))
            goto done;
        ggdm_json_begin(&j);
        ggdm_json_num(&j, "pretrain_s_this_process", secs);
        if (!run_finish(&o, &rn, &j))
            goto done;
        fprintf(stderr, "ggdm pretrain: final loss %.5f -> %s (training time %.1f s)\n", loss, o.out, secs);
    }
    rc = 0;
done:
    if (tb)
        ggdm_tb_close(tb);
    run_ctx_free(&rn);
    free(alloc);
    ggdm_run_record_free(&rec);
    free(params);
    hyper_free(&h);
    return rc;
}

/* ------------------------------------------------------------------ demo */

static const char *const demo_usage =
    "usage: ggdm demo [--out DIR] [--seed 2345] [--opt_rounds 8] [--generate_bs 16] [--T 100]\n"
    "                 [--d_outer 16] [--d_inner 4] [--N_0 6144] [--pre_num_episodes 8] [--pre_lr 3e-3]\n"
    "The paper's finding on a laptop, in a few minutes on 2 cores: pre-trains a small Unet1D on\n"
    "linear_latent data (D 16, d 4), then runs Algorithm 1 with guidance G (v1) and G_loss (v2)\n"
    "side by side on the quadratic reward, prints a per-round table, and writes DIR/demo.svg,\n"
    "DIR/G/ and DIR/G_loss/ (reward_seed_S.npy, metrics.csv) and TensorBoard logs in DIR/logs/.\n"
    "G_loss raises the reward while keeping the samples near the data's subspace; G leaves it.\n"
    "  --threads N   worker threads (default: every core); results are bit-identical for every N\n";

int ggdm_cmd_demo(int argc, char **argv)
{
    opts o, ov;
    hyper h;
    model mdl;
    run_out runs[2];
    const char *names[2] = {"G (v1)", "G_loss (v2)"};
    const char *dirs[2] = {"G", "G_loss"};
    ggdm_unet_cfg cfg;
    float *params = NULL, *saved = NULL;
    uint64_t np;
    char path[2048], err[ERRCAP];
    int rc, v, k;
    time_t t0 = time(NULL);
    ggdm_tb *tb = NULL;
    const char *out = "demo_out";
    memset(runs, 0, sizeof runs);
    memset(&mdl, 0, sizeof mdl);
    opts_default(&o, "demo");
    o.d_outer = 16; /* a 4-dimensional subspace of R^16: learnable in a minute */
    o.d_inner = 4;
    o.opt_rounds = 8;
    o.generate_bs = 16;
    o.T = 100;
    o.N_0 = 6144;
    o.pre_bs = 64;
    o.pre_num_episodes = 8;
    o.pre_lr = 3e-3;
    o.func_type = "quadratic";
    o.optimize = 1;
    if ((rc = parse_opts(&o, argc, argv, demo_usage)) != 0)
        return rc == 1 ? 0 : rc;
    rc = 1;
    if (o.out)
        out = o.out;
    if (ggdm_io_mkdirs(out) != 0) {
        fprintf(stderr, "ggdm demo: cannot create %s (%s)\n", out, strerror(errno));
        return 1;
    }
    if (!hyper_get(&o, &h))
        return 1;
    snprintf(path, sizeof path, "%s/hyperparameters.npz", out);
    hyper_save(&o, &h, path);
    ggdm_unet_cfg_default(&cfg);
    cfg.dim = 8; /* small enough to pre-train in about a minute on 2 cores */
    cfg.n_levels = 3;
    cfg.dim_mults[0] = 1;
    cfg.dim_mults[1] = 2;
    cfg.dim_mults[2] = 4;
    cfg.groups = 4;
    cfg.heads = 1;
    cfg.dim_head = 16;
    cfg.length = h.D;
    ggdm_unet_num_params(&cfg, &np);
    params = (float *)malloc(sizeof(float) * (size_t)np);
    saved = (float *)malloc(sizeof(float) * (size_t)np);
    if (!params || !saved)
        goto done;
    ggdm_unet_init(&cfg, (uint64_t)o.seed, params, np);
    printf("ggdm demo: pre-training a Unet1D (dim %d, %llu parameters) on %d linear_latent samples (D %d, d %d)\n",
           cfg.dim, (unsigned long long)np, o.N_0, h.D, h.d);
    snprintf(path, sizeof path, "%s/logs/pretrain", out);
    tb = ggdm_tb_open(path, err, sizeof err);
    if (pretrain(&o, &h, &cfg, params, np, NULL, tb, NULL, NULL) != 1)
        goto done;
    if (tb)
        ggdm_tb_close(tb);
    tb = NULL;
    snprintf(path, sizeof path, "%s/pretrained.safetensors", out);
    if (ggdm_cli_save_unet(path, &cfg, params, NULL, 0, err, sizeof err) != GGDM_OK)
        fprintf(stderr, "ggdm demo: %s\n", err);
    memcpy(saved, params, sizeof(float) * (size_t)np);
    model_set_unet(&mdl, &cfg, params, np);
    for (v = 0; v < 2; v++) {
        char d[2048];
        ov = o;
        ov.cond_score_version = v == 0 ? "v1" : "v2";
        ov.interval = v == 0 ? 0.9 : 0.2; /* the paper's intervals for each guidance (Fig. 4) */
        memcpy(params, saved, sizeof(float) * (size_t)np);
        snprintf(d, sizeof d, "%s/%s", out, dirs[v]);
        ggdm_io_mkdirs(d);
        snprintf(path, sizeof path, "%s/logs/%s", out, dirs[v]);
        tb = ggdm_tb_open(path, err, sizeof err);
        printf("ggdm demo: Algorithm 1 with %s, %d rounds of %d samples, T = %d\n", names[v], o.opt_rounds,
               o.generate_bs, o.T);
        fflush(stdout);
        if (!optimize_run(&ov, &h, &mdl, NULL, tb, &runs[v], dirs[v]))
            goto done;
        {
            run_paths rp;
            ov.run_dir = d;
            run_paths_make(&ov, 0, &rp);
            pathf(path, sizeof path, "%s/metrics.csv", d);
            if (!write_results(&ov, &rp, &runs[v], o.generate_bs, h.D) || !write_metrics_csv(&ov, path, &runs[v]))
                goto done;
        }
        if (tb)
            ggdm_tb_close(tb);
        tb = NULL;
    }
    printf("\n%5s | %-23s | %-23s\n", "", "G (v1)", "G_loss (v2)");
    printf("%5s | %10s %12s | %10s %12s\n", "round", "reward", "ratio", "reward", "ratio");
    for (k = 0; k <= o.opt_rounds; k++)
        printf("%5d | %10.4f %12.4f | %10.4f %12.4f\n", k, runs[0].m[k].reward, runs[0].m[k].ratio,
               runs[1].m[k].reward, runs[1].m[k].ratio);
    snprintf(path, sizeof path, "%s/demo.svg", out);
    write_plot(path, "ggdm demo: Algorithm 1 on linear_latent data, quadratic reward", runs, names, 2, 1);
    {
        double r1 = runs[0].m[o.opt_rounds].ratio, r2 = runs[1].m[o.opt_rounds].ratio;
        double g2 = runs[1].m[o.opt_rounds].reward - runs[1].m[0].reward;
        printf("\nG_loss raised the mean reward by %.3f while its off-support ratio stayed at %.4f, %.1fx below G's "
               "%.4f: %s\n",
               g2, r2, r2 > 0 ? r1 / r2 : 0.0, r1,
               (g2 > 0 && r2 < r1) ? "the paper's finding." : "NOT the paper's finding (see the table).");
    }
    printf("wrote %s/demo.svg, %s/G/, %s/G_loss/ (reward_seed_%lld.npy, metrics.csv), TensorBoard logs in %s/logs/ "
           "(%ld s)\n", out, out, out, o.seed, out, (long)(time(NULL) - t0));
    rc = 0;
done:
    if (tb)
        ggdm_tb_close(tb);
    run_free(&runs[0]);
    run_free(&runs[1]);
    free(params);
    free(saved);
    hyper_free(&h);
    return rc;
}
