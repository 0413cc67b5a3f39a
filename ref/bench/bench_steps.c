/*
 * Benchmark (not a test): seconds for the units of work of the paper's algorithms, with the
 * library's threaded API (ggdm/exec.h) on the front end's pool, `threads` threads, median of
 * R runs (every unit after one untimed warm-up call, except the rounds):
 *   unguided-step  one unguided DDPM step of the paper's Unet1D (dim 64, mults 1,2,4,8,
 *                  groups 8, length 64, 4 heads x 32, T = 200) at batch N, t = 100:
 *                  ggdm_guided_eps_ex (version NONE) + ggdm_ddpm_update
 *   gloss-step     the same with G_loss (v2): eps + the VJP through the network + guidance
 *                  + the DDPM update
 *   alg1-round     one round of Algorithm 1 (v2, quadratic reward theta_2, interval 0.2) on a
 *                  CPU-sized Unet1D (dim 16, mults 1,2,4,8, groups 8, length 64, 4 heads x 32,
 *                  T = 50) at batch N: ggdm_opt_targets, then a full guided run ggdm_sample_ex
 *   alg2-round     the same plus, between the two, one fine-tuning step ggdm_train_step_ex
 *                  (Adam, lr 1e-6) on the current samples (Algorithm 2)
 *   train-step     one pre-training step (loss + parameter gradients + Adam, lr 1e-4) of the
 *                  paper's Unet1D at batch N
 * The rounds start from the same N linear_latent data samples (d = 16) every run.
 *   build/bench_steps [threads] [R] [N]
 * Prints "ggdm unguided-step N=32 threads=1: 1.234 s" lines; `make bench` runs it beside
 * PyTorch (ref/bench/bench_steps_torch.py).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggdm/data.h"
#include "ggdm/diffusion.h"
#include "ggdm/exec.h"
#include "ggdm/reward.h"
#include "ggdm/rng.h"
#include "ggdm/schedule.h"
#include "ggdm/unet.h"
#define BENCH_NAME "bench_steps"
#include "bench_util.h"
#include "pool.h"

#define MAXR 16
#define DLAT 16





static void check(ggdm_status s, const char *what)
{
    if (s != GGDM_OK) {
        fprintf(stderr, "bench_steps: %s: %s\n", what, ggdm_status_str(s));
        exit(1);
    }
}

/* A network with its weights (seed 2345), the cosine schedule of T steps, the data hyper-parameters. */
typedef struct setup {
    ggdm_score m;
    ggdm_score_unet mu;
    uint64_t np;
    float *w, *tab;
    int T, D;
    double *A, theta2[4096];
} setup;

static void setup_init(setup *s, int dim, int T)
{
    double th1[4096], b1, b2[4096], *work;
    size_t wn;
    memset(s, 0, sizeof *s);
    ggdm_unet_cfg_default(&s->mu.cfg);
    s->mu.cfg.dim = dim;
    check(ggdm_unet_cfg_check(&s->mu.cfg, NULL), "network configuration");
    s->D = s->mu.cfg.length;
    check(ggdm_unet_num_params(&s->mu.cfg, &s->np), "num_params");
    s->w = xalloc(sizeof(float) * s->np);
    check(ggdm_unet_init(&s->mu.cfg, 2345, s->w, s->np), "init");
    check(ggdm_score_init_unet(&s->m, &s->mu, &s->mu.cfg, s->w), "score");
    s->T = T;
    s->tab = xalloc(sizeof(float) * ggdm_schedule_count(T));
    check(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, T, s->tab, ggdm_schedule_count(T)), "schedule");
    wn = ggdm_hyper_linear_latent_work_doubles(s->D, DLAT);
    work = xalloc(sizeof(double) * (wn + 1));
    s->A = xalloc(sizeof(double) * DLAT * s->D);
    check(ggdm_hyper_linear_latent(7, s->D, DLAT, GGDM_THETA2_R_OFF, s->A, th1, s->theta2, &b1, b2, work, wn),
          "hyper-parameters");
    free(work);
}

static void setup_free(setup *s)
{
    free(s->w);
    free(s->tab);
    free(s->A);
}

/* One sampling step (unguided, or G_loss when v2) of the paper configuration. */
static double bench_step(const setup *s, int N, int v2, int R, const ggdm_exec *ex)
{
    int D = s->D, t = s->T / 2, r, i;
    ggdm_guide_cfg gc;
    size_t wsb;
    float *x = xalloc(sizeof(float) * N * D), *z = xalloc(sizeof(float) * N * D);
    float *g = xalloc(sizeof(float) * N * D), *y = xalloc(sizeof(float) * N);
    float *eps = xalloc(sizeof(float) * N * D), *xo = xalloc(sizeof(float) * N * D);
    double *f = xalloc(sizeof(double) * N), tm[MAXR];
    void *ws;
    ggdm_guide_cfg_default(&gc);
    gc.version = v2 ? GGDM_GUIDE_V2 : GGDM_GUIDE_NONE;
    check(ggdm_sample_workspace_bytes_ex(&s->m, N, gc.version, ex, &wsb), "sample workspace");
    ws = xalloc(wsb);
    ggdm_rng_fill_normal(1, 1, 0, x, (uint64_t)N * D);
    ggdm_rng_fill_normal(1, 2, 0, z, (uint64_t)N * D);
    check(ggdm_opt_targets(GGDM_REWARD_QUADRATIC, s->theta2, D, x, N, 0.2, f, g, y), "targets");
    for (r = -1; r < R; r++) {
        double a = now();
        check(ggdm_guided_eps_ex(&s->m, &gc, s->tab, s->T, t, N, x, v2 ? g : NULL, v2 ? y : NULL, eps, NULL, ws,
                                 wsb, ex), "guided eps");
        check(ggdm_ddpm_update(s->tab, s->T, t, N, D, x, eps, z, xo), "ddpm update");
        if (r >= 0)
            tm[r] = now() - a;
    }
    for (i = 0; i < N * D; i++) /* keep the result alive */
        if (xo[i] != xo[i])
            fprintf(stderr, "bench_steps: NaN in a step's output\n");
    free(x); free(z); free(g); free(y); free(eps); free(xo); free(f); free(ws);
    return median(tm, R);
}

/* One optimisation round (Algorithm 1, or 2 with finetune) of the CPU-sized configuration. */
static double bench_round(setup *s, int N, int finetune, int R, const ggdm_exec *ex)
{
    int D = s->D, r;
    ggdm_guide_cfg gc;
    ggdm_adam_cfg ac;
    ggdm_adam_state as;
    size_t wsb, twsb = 0;
    float *z0 = xalloc(sizeof(float) * N * D), *z = xalloc(sizeof(float) * N * D);
    float *g = xalloc(sizeof(float) * N * D), *y = xalloc(sizeof(float) * N);
    float *grad = xalloc(sizeof(float) * s->np), *am = xalloc(sizeof(float) * s->np);
    float *av = xalloc(sizeof(float) * s->np), *w0 = xalloc(sizeof(float) * s->np);
    double *f = xalloc(sizeof(double) * N), tm[MAXR];
    void *ws, *tws = NULL;
    ggdm_guide_cfg_default(&gc);
    gc.version = GGDM_GUIDE_V2;
    ggdm_adam_cfg_default(&ac);
    ac.lr = 1e-6;
    as.step = 0;
    check(ggdm_sample_workspace_bytes_ex(&s->m, N, gc.version, ex, &wsb), "sample workspace");
    ws = xalloc(wsb);
    if (finetune) {
        check(ggdm_train_workspace_bytes(&s->mu.cfg, N, &twsb), "train workspace");
        tws = xalloc(twsb);
    }
    check(ggdm_data_linear_latent(7, s->A, DLAT, D, 0, (uint64_t)N, z0), "data");
    memcpy(w0, s->w, sizeof(float) * s->np);
    for (r = 0; r < R; r++) {
        double a;
        memcpy(z, z0, sizeof(float) * N * D);
        memcpy(s->w, w0, sizeof(float) * s->np); /* every run the same work */
        a = now();
        /* a. rewards, gradients and targets at the current samples */
        check(ggdm_opt_targets(GGDM_REWARD_QUADRATIC, s->theta2, D, z, N, 0.2, f, g, y), "targets");
        /* b. Algorithm 2: one fine-tuning step of the score network on the current samples */
        if (finetune)
            check(ggdm_train_step_ex(&s->mu.cfg, s->w, grad, &ac, &as, am, av, s->tab, s->T, N, z, 7, (1u << 23),
                                     (uint32_t)r, 0, NULL, tws, twsb, ex), "fine-tuning step");
        /* c. N fresh guided samples: a full run of T steps */
        check(ggdm_sample_ex(&s->m, &gc, s->tab, s->T, N, 7, 1, 0, g, y, NULL, z, NULL, ws, wsb, NULL, NULL, ex),
              "guided sampling");
        tm[r] = now() - a;
    }
    memcpy(s->w, w0, sizeof(float) * s->np);
    free(z0); free(z); free(g); free(y); free(grad); free(am); free(av); free(w0); free(f); free(ws); free(tws);
    return median(tm, R);
}

/* One pre-training step (loss, parameter gradients, Adam) of the paper configuration. */
static double bench_train(setup *s, int N, int R, const ggdm_exec *ex)
{
    int D = s->D, r;
    ggdm_adam_cfg ac;
    ggdm_adam_state as;
    size_t twsb;
    float *x0 = xalloc(sizeof(float) * N * D), *grad = xalloc(sizeof(float) * s->np);
    float *am = xalloc(sizeof(float) * s->np), *av = xalloc(sizeof(float) * s->np), loss;
    double tm[MAXR];
    void *tws;
    ggdm_adam_cfg_default(&ac);
    ac.lr = 1e-4;
    as.step = 0;
    check(ggdm_train_workspace_bytes(&s->mu.cfg, N, &twsb), "train workspace");
    tws = xalloc(twsb);
    for (r = -1; r < R; r++) {
        double a;
        /* the next batch of the data set (not timed: the original reads it from memory) */
        check(ggdm_data_linear_latent(7, s->A, DLAT, D, (uint64_t)(r + 1) * N, (uint64_t)N, x0), "data");
        a = now();
        check(ggdm_train_step_ex(&s->mu.cfg, s->w, grad, &ac, &as, am, av, s->tab, s->T, N, x0, 7, 0,
                                 (uint32_t)(r + 1), 0, &loss, tws, twsb, ex), "training step");
        if (r >= 0)
            tm[r] = now() - a;
    }
    free(x0); free(grad); free(am); free(av); free(tws);
    return median(tm, R);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, R = argc > 2 ? atoi(argv[2]) : 3;
    int N = argc > 3 ? atoi(argv[3]) : 32;
    ggdm_pool *pool = NULL;
    ggdm_exec ex;
    setup paper, small;
    double t;
    if (threads < 1 || threads > 1024 || R < 1 || R > MAXR || N < 1 || N > 4096) {
        fprintf(stderr, "usage: bench_steps [1 <= threads <= 1024] [1 <= R <= %d] [1 <= N <= 4096]\n", MAXR);
        return 2;
    }
    if (threads > 1 && !(pool = ggdm_pool_create(threads))) {
        fprintf(stderr, "bench_steps: cannot start %d threads\n", threads);
        return 1;
    }
    ex = ggdm_pool_exec(pool);
    setup_init(&paper, 64, 200);
    setup_init(&small, 16, 50);
    printf("ggdm unguided-step N=%d threads=%d: %.3f s\n", N, threads, bench_step(&paper, N, 0, R, &ex));
    fflush(stdout);
    printf("ggdm gloss-step N=%d threads=%d: %.3f s\n", N, threads, bench_step(&paper, N, 1, R, &ex));
    fflush(stdout);
    printf("ggdm alg1-round N=%d threads=%d: %.3f s\n", N, threads, bench_round(&small, N, 0, R, &ex));
    fflush(stdout);
    printf("ggdm alg2-round N=%d threads=%d: %.3f s\n", N, threads, bench_round(&small, N, 1, R, &ex));
    fflush(stdout);
    t = bench_train(&paper, N, R, &ex);
    printf("ggdm train-step N=%d threads=%d: %.3f s (%.1f samples/s)\n", N, threads, t, N / t);
    printf("(ggdm: paper Unet1D %lu parameters, CPU-sized dim %d: %lu parameters, heads %d x dim_head %d, "
           "T = %d; %d thread(s), median of %d)\n",
           (unsigned long)paper.np, small.mu.cfg.dim, (unsigned long)small.np, small.mu.cfg.heads,
           small.mu.cfg.dim_head, small.T, threads, R);
    setup_free(&paper);
    setup_free(&small);
    ggdm_pool_destroy(pool);
    return 0;
}
