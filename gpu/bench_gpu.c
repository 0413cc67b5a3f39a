/*
 * build/bench_gpu (gpu/bench.sh, `make bench-gpu`): seconds per unit of work of the paper's
 * configuration on the CUDA backend, median of R runs after one untimed warm-up call:
 *   unguided-step  one unguided DDPM step of the paper's Unet1D (dim 64, mults 1,2,4,8,
 *                  groups 8, length 64, 4 heads x 32, T = 200) at batch N, t = 100:
 *                  ggdm_guided_eps_ex (version NONE) + ggdm_ddpm_update  (as ref/bench/bench_steps.c)
 *   gloss-step     the same with G_loss (v2): eps + the VJP through the network + guidance + update
 *   loss-grad      the training loss and every parameter gradient (ggdm_unet_loss_grad_ex)
 *   alg2-step      one fine-tuning step of Algorithm 2 (ggdm_train_step_ex: loss, gradients, Adam)
 *   round-G, round-G_loss  the sampling of one optimisation round: T guided steps from x_T
 *                  (ggdm_sample_ex with G (v1) and G_loss (v2)); measured once when the step
 *                  times predict at most --round-limit seconds (default 120), else estimated
 *                  as T x the step time and labelled so
 * Each line also gives the achieved TFLOP/s (ggdm_unet_flops: one forward; a guided step
 * counts as 2 forwards, a training step as 3), and the run starts with the device's measured
 * cuBLAS SGEMM rate (fp32, and TF32 with --tf32) for comparison.
 * Host-device copies are included (every step returns its result to the host, as the
 * library's API does). In exact mode it also computes the first step of each kind once with
 * the reference's CPU code and says whether the GPU's result is bit-identical.
 *
 *   build/bench_gpu [--mode exact|fast] [--tf32] [--reps R] [--n N] [--no-cpu-check] [--profile]
 *                   [--profile-async]
 * --profile: also one G_loss step with ggdm_cuda_profile (the time of every kernel, cuBLAS call
 * and memory operation, synchronised after each), printed as "profile: ..." lines.
 * --round-reps R: the median of R rounds (default 3; a round is T = 200 guided steps).
 * --profile-async: five G_loss steps, each operation timed by CUDA events on the stream, without
 * synchronising (the GPU's real timeline: the time from one operation's end to the next's).
 * Prints lines "cuda-exact unguided-step N=32: 0.00123 s"; exit status 3 without a CUDA device.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend_cuda.h"
#include "ggdm/diffusion.h"
#include "ggdm/exec.h"
#include "ggdm/rng.h"
#include "ggdm/schedule.h"
#include "ggdm/unet.h"

#define BENCH_NAME "bench_gpu"
#include "bench_util.h"

#define MAXR 64





static void check(ggdm_status s, const char *what)
{
    const char *e = ggdm_cuda_backend_error();
    if (s != GGDM_OK || e) {
        fprintf(stderr, "bench_gpu: %s: %s%s%s\n", what, ggdm_status_str(s), e ? "; CUDA: " : "", e ? e : "");
        exit(1);
    }
}

/* "identical", or the number of differing elements and the largest difference. */
static void compare(const char *label, const float *a, const float *b, size_t n)
{
    size_t i, ndiff = 0;
    double maxd = 0.0;
    for (i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
            double d = (double)a[i] - (double)b[i];
            d = d < 0 ? -d : d;
            ndiff++;
            if (d > maxd || d != d)
                maxd = d;
        }
    if (ndiff == 0)
        printf("check %s: bit-identical to the CPU reference (%lu values)\n", label, (unsigned long)n);
    else
        printf("check %s: DIFFERS from the CPU reference: %lu of %lu values, max |diff| %.3g\n", label,
               (unsigned long)ndiff, (unsigned long)n, maxd);
}

int main(int argc, char **argv)
{
    int mode = GGDM_CUDA_EXACT, tf32 = 0, R = 10, N = 32, cpu_check = 1, profile = 0, i, r, v, T = 200, t = 100, D, rc;
    int round_reps = 3;
    double round_limit = 120.0, fwd_flops = 0.0, step_s[2] = {0, 0}, peak;
    const char *name;
    char err[512];
    const ggdm_unet_backend *be;
    ggdm_exec ex, cpu;
    ggdm_score m;
    ggdm_score_unet mu;
    uint64_t np;
    float *w, *tab, *x, *z, *g, *y, *eps, *xo, *ref, *grad, *grad_ref, loss;
    size_t wsb, lwsb;
    void *ws, *lws;
    double tm[MAXR];
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
            i++;
            mode = strcmp(argv[i], "fast") == 0 ? GGDM_CUDA_FAST : GGDM_CUDA_EXACT;
            if (strcmp(argv[i], "fast") != 0 && strcmp(argv[i], "exact") != 0) {
                fprintf(stderr, "bench_gpu: unknown mode '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--tf32") == 0) {
            tf32 = 1;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            R = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            N = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--profile") == 0) {
            profile = 1;
        } else if (strcmp(argv[i], "--profile-async") == 0) {
            profile = 2;
        } else if (strcmp(argv[i], "--no-cpu-check") == 0) {
            cpu_check = 0;
        } else if (strcmp(argv[i], "--round-limit") == 0 && i + 1 < argc) {
            round_limit = atof(argv[++i]);
        } else if (strcmp(argv[i], "--round-reps") == 0 && i + 1 < argc) {
            round_reps = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_gpu [--mode exact|fast] [--tf32] [--reps 1..%d] [--n N] [--no-cpu-check] [--profile] "
                            "[--profile-async] [--round-limit SECONDS] [--round-reps R]\n",
                    MAXR);
            return 2;
        }
    }
    if (R < 1 || R > MAXR || N < 1 || N > 4096 || round_reps < 1 || round_reps > MAXR) {
        fprintf(stderr, "bench_gpu: --reps and --round-reps must be in 1..%d and --n in 1..4096\n", MAXR);
        return 2;
    }
    rc = ggdm_cuda_backend_init(mode, tf32, &be, err, sizeof err);
    if (rc != GGDM_CUDA_OK) {
        fprintf(stderr, "bench_gpu: %s%s\n", rc == GGDM_CUDA_NO_DEVICE ? "no CUDA device: " : "", err);
        return rc == GGDM_CUDA_NO_DEVICE ? 3 : 1;
    }
    name = mode == GGDM_CUDA_EXACT ? (ggdm_cuda_backend_graphs() ? "cuda-exact-graph" : "cuda-exact")
           : tf32 ? (ggdm_cuda_backend_graphs() ? "cuda-fast-tf32-graph" : "cuda-fast-tf32")
                  : (ggdm_cuda_backend_graphs() ? "cuda-fast-graph" : "cuda-fast");
    memset(&ex, 0, sizeof ex);
    ex.nthreads = 1; /* one host thread drives the GPU */
    ex.unet = be;
    memset(&cpu, 0, sizeof cpu);
    cpu.nthreads = 1;

    /* the paper's network (seed 2345), the cosine schedule, the batch */
    memset(&m, 0, sizeof m);
    ggdm_unet_cfg_default(&mu.cfg);
    D = mu.cfg.length;
    check(ggdm_unet_num_params(&mu.cfg, &np), "num_params");
    w = xalloc(sizeof(float) * np);
    check(ggdm_unet_init(&mu.cfg, 2345, w, np), "init");
    check(ggdm_score_init_unet(&m, &mu, &mu.cfg, w), "score");
    tab = xalloc(sizeof(float) * ggdm_schedule_count(T));
    check(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, T, tab, ggdm_schedule_count(T)), "schedule");
    x = xalloc(sizeof(float) * N * D);
    z = xalloc(sizeof(float) * N * D);
    g = xalloc(sizeof(float) * N * D);
    y = xalloc(sizeof(float) * N);
    eps = xalloc(sizeof(float) * N * D);
    ref = xalloc(sizeof(float) * N * D);
    xo = xalloc(sizeof(float) * N * D);
    grad = xalloc(sizeof(float) * np);
    grad_ref = xalloc(sizeof(float) * np);
    ggdm_rng_fill_normal(1, 1, 0, x, (uint64_t)N * D);
    ggdm_rng_fill_normal(1, 2, 0, z, (uint64_t)N * D);
    ggdm_rng_fill_normal(1, 3, 0, g, (uint64_t)N * D);
    for (i = 0; i < N; i++)
        y[i] = 1.0f;
    printf("bench_gpu: %s; paper Unet1D, %lu parameters, N = %d, T = %d, t = %d, median of %d\n",
           ggdm_cuda_backend_describe(), (unsigned long)np, N, T, t, R);
    check(ggdm_unet_flops(&mu.cfg, N, &fwd_flops), "flops");
    peak = ggdm_cuda_sgemm_peak(8192, 0);
    printf("peak cuBLAS SGEMM 8192^3 fp32: %.1f TFLOP/s\n", peak);
    if (tf32)
        printf("peak cuBLAS SGEMM 8192^3 tf32: %.1f TFLOP/s\n", ggdm_cuda_sgemm_peak(8192, 1));
    printf("network: %.2f GFLOP per forward at N = %d (ggdm_unet_flops)\n", fwd_flops / 1e9, N);

    for (v = 0; v < 2; v++) {
        ggdm_guide_cfg gc;
        ggdm_guide_cfg_default(&gc);
        gc.version = v ? GGDM_GUIDE_V2 : GGDM_GUIDE_NONE;
        check(ggdm_sample_workspace_bytes_ex(&m, N, gc.version, &ex, &wsb), "sample workspace");
        ws = xalloc(wsb);
        for (r = -1; r < R; r++) {
            double a = now();
            check(ggdm_guided_eps_ex(&m, &gc, tab, T, t, N, x, v ? g : NULL, v ? y : NULL, eps, NULL, ws, wsb, &ex),
                  "guided eps");
            check(ggdm_ddpm_update(tab, T, t, N, D, x, eps, z, xo), "ddpm update");
            if (r >= 0)
                tm[r] = now() - a;
        }
        step_s[v] = median(tm, R);
        if (profile && v) { /* where one G_loss step's time goes (--profile: synchronised, slower) */
            int k, nrep = profile == 2 ? 5 : 1; /* asynchronous: the sum of 5 steps */
            ggdm_cuda_profile(profile);
            for (k = 0; k < nrep; k++)
                check(ggdm_guided_eps_ex(&m, &gc, tab, T, t, N, x, g, y, eps, NULL, ws, wsb, &ex), "guided eps");
            ggdm_cuda_profile(0);
            if (profile == 2)
                printf("profile: the GPU's time between consecutive operations, summed over %d G_loss steps\n", nrep);
            ggdm_cuda_profile_print(stdout);
        }
        printf("%s %s N=%d: %.5f s (%.2f TFLOP/s)\n", name, v ? "gloss-step" : "unguided-step", N, step_s[v],
               (v ? 2.0 : 1.0) * fwd_flops / step_s[v] / 1e12);
        fflush(stdout);
        if (mode == GGDM_CUDA_EXACT && cpu_check) {
            check(ggdm_guided_eps_ex(&m, &gc, tab, T, t, N, x, v ? g : NULL, v ? y : NULL, ref, NULL, ws, wsb, &cpu),
                  "guided eps (CPU)");
            compare(v ? "gloss-step eps" : "unguided-step eps", eps, ref, (size_t)N * D);
        }
        free(ws);
    }

    {
        int64_t *ts = xalloc(sizeof(int64_t) * N);
        for (i = 0; i < N; i++)
            ts[i] = (int64_t)((i * 37 + 11) % T);
        check(ggdm_unet_loss_workspace_bytes(&mu.cfg, N, &lwsb), "loss workspace");
        lws = xalloc(lwsb);
        for (r = -1; r < R; r++) {
            double a = now();
            memset(grad, 0, sizeof(float) * np);
            check(ggdm_unet_loss_grad_ex(&mu.cfg, w, N, x, ts, z, tab + GGDM_SCHED_SQRT_ALPHAS_CUMPROD * (size_t)T,
                                         tab + GGDM_SCHED_SQRT_ONE_MINUS_ALPHAS_CUMPROD * (size_t)T, T, &loss, grad,
                                         lws, lwsb, &ex),
                  "loss grad");
            if (r >= 0)
                tm[r] = now() - a;
        }
        {
            double lg = median(tm, R);
            printf("%s loss-grad N=%d: %.5f s (loss %.6g, %.2f TFLOP/s)\n", name, N, lg, (double)loss,
                   3.0 * fwd_flops / lg / 1e12);
        }
        if (mode == GGDM_CUDA_EXACT && cpu_check) {
            float lref;
            check(ggdm_unet_loss_grad_ex(&mu.cfg, w, N, x, ts, z, tab + GGDM_SCHED_SQRT_ALPHAS_CUMPROD * (size_t)T,
                                         tab + GGDM_SCHED_SQRT_ONE_MINUS_ALPHAS_CUMPROD * (size_t)T, T, &lref,
                                         grad_ref, lws, lwsb, &cpu),
                  "loss grad (CPU)");
            compare("loss", &loss, &lref, 1);
            compare("parameter gradients", grad, grad_ref, (size_t)np);
        }
        free(lws);
        free(ts);
    }
    /* Algorithm 2's fine-tuning step: loss, gradients and Adam on the device's parameters */
    {
        size_t twsb;
        void *tws;
        float *am = xalloc(sizeof(float) * np), *av = xalloc(sizeof(float) * np), *w2 = xalloc(sizeof(float) * np);
        ggdm_adam_cfg ac;
        ggdm_adam_state as;
        memcpy(w2, w, sizeof(float) * np);
        ggdm_adam_cfg_default(&ac);
        ac.lr = 1e-6;
        as.step = 0;
        check(ggdm_train_workspace_bytes(&mu.cfg, N, &twsb), "train workspace");
        tws = xalloc(twsb);
        for (r = -1; r < R; r++) {
            double a = now();
            check(ggdm_train_step_ex(&mu.cfg, w2, grad, &ac, &as, am, av, tab, T, N, x, 7, 1, (uint32_t)(r + 1), 0,
                                     &loss, tws, twsb, &ex),
                  "train step");
            if (r >= 0)
                tm[r] = now() - a;
        }
        {
            double st = median(tm, R);
            printf("%s alg2-step N=%d: %.5f s (%.2f TFLOP/s)\n", name, N, st, 3.0 * fwd_flops / st / 1e12);
        }
        free(tws); free(am); free(av); free(w2);
    }

    /* the sampling of one optimisation round: T guided steps (G, then G_loss) */
    for (v = 0; v < 2; v++) {
        ggdm_guide_cfg gc;
        double est = T * step_s[1], secs;
        ggdm_guide_cfg_default(&gc);
        gc.version = v ? GGDM_GUIDE_V2 : GGDM_GUIDE_V1;
        if (est > round_limit) {
            printf("%s round-%s N=%d T=%d: %.3f s (estimated: T x the G_loss step; over --round-limit %.0f s)\n", name,
                   v ? "G_loss" : "G", N, T, est, round_limit);
            continue;
        }
        check(ggdm_sample_workspace_bytes_ex(&m, N, gc.version, &ex, &wsb), "sample workspace");
        ws = xalloc(wsb);
        for (r = 0; r < round_reps; r++) {
            double a = now();
            check(ggdm_sample_ex(&m, &gc, tab, T, N, 7, 1, 0, g, y, NULL, xo, NULL, ws, wsb, NULL, NULL, &ex),
                  "sample (round)");
            tm[r] = now() - a;
        }
        secs = median(tm, round_reps);
        printf("%s round-%s N=%d T=%d: %.3f s (%.2f TFLOP/s; median of %d)\n", name, v ? "G_loss" : "G", N, T, secs,
               (v ? 2.0 : 1.0) * T * fwd_flops / secs / 1e12, round_reps);
        free(ws);
    }
    free(w); free(tab); free(x); free(z); free(g); free(y); free(eps); free(ref); free(xo); free(grad); free(grad_ref);
    ggdm_cuda_graph_stats(stdout);
    ggdm_cuda_backend_shutdown();
    if (ggdm_cuda_backend_error()) {
        fprintf(stderr, "bench_gpu: CUDA: %s\n", ggdm_cuda_backend_error());
        return 1;
    }
    return 0;
}
