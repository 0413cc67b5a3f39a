/*
 * Benchmark (not a test): seconds for one forward pass (an unguided sampling step), one
 * forward + input VJP (a guided G / G_loss step) and one forward + input VJP + parameter
 * gradients (a training step's network work) of the paper's Unet1D at batch N (default
 * 32), median of R runs, with the library's threaded API (ggdm/exec.h) on the front end's
 * pool of `threads` threads (default 1).
 *   build/bench_unet [N] [R] [threads]
 * Prints "ggdm forward N=32: 1.234 s" lines; `make bench` runs it beside PyTorch.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggdm/rng.h"
#include "ggdm/exec.h"
#include "ggdm/unet.h"
#define BENCH_NAME "bench_unet"
#include "bench_util.h"
#include "pool.h"



int main(int argc, char **argv)
{
    int N = argc > 1 ? atoi(argv[1]) : 32, R = argc > 2 ? atoi(argv[2]) : 3, r, i;
    int threads = argc > 3 ? atoi(argv[3]) : 1;
    ggdm_pool *pool = NULL;
    ggdm_exec ex;
    ggdm_unet_cfg cfg;
    uint64_t np;
    size_t wsb;
    float *w, *x, *v, *eps, *dx, *dp;
    int64_t *t;
    void *ws;
    double tf[16], tb[16], tp[16];
    if (N < 1 || R < 1 || R > 16 || threads < 1 || threads > 1024) {
        fprintf(stderr, "usage: bench_unet [N >= 1] [1 <= R <= 16] [1 <= threads <= 1024]\n");
        return 2;
    }
    if (threads > 1 && !(pool = ggdm_pool_create(threads))) {
        fprintf(stderr, "bench_unet: cannot start %d threads\n", threads);
        return 1;
    }
    ex = ggdm_pool_exec(pool);
    ggdm_unet_cfg_default(&cfg);
    ggdm_unet_num_params(&cfg, &np);
    ggdm_unet_workspace_bytes_ex(&cfg, N, GGDM_UNET_BACKWARD, &ex, &wsb);
    w = malloc(sizeof(float) * np);
    x = malloc(sizeof(float) * N * 64);
    v = malloc(sizeof(float) * N * 64);
    eps = malloc(sizeof(float) * N * 64);
    dx = malloc(sizeof(float) * N * 64);
    dp = malloc(sizeof(float) * np);
    t = malloc(sizeof(int64_t) * N);
    if (posix_memalign(&ws, 64, wsb) != 0)
        ws = NULL;
    if (!w || !x || !v || !eps || !dx || !dp || !t || !ws) {
        fprintf(stderr, "bench_unet: out of memory\n");
        return 1;
    }
    ggdm_unet_init(&cfg, 2345, w, np);
    ggdm_rng_fill_normal(1, 1, 0, x, (uint64_t)N * 64);
    ggdm_rng_fill_normal(1, 2, 0, v, (uint64_t)N * 64);
    for (i = 0; i < N; i++)
        t[i] = (i * 37) % 200;
    for (r = 0; r < R; r++) {
        double a = now();
        ggdm_unet_forward_ex(&cfg, w, N, x, t, eps, ws, wsb, NULL, NULL, &ex);
        tf[r] = now() - a;
        a = now();
        ggdm_unet_backward_ex(&cfg, w, N, x, t, v, eps, dx, NULL, ws, wsb, &ex);
        tb[r] = now() - a;
        memset(dp, 0, sizeof(float) * np);
        a = now();
        ggdm_unet_backward_ex(&cfg, w, N, x, t, v, eps, dx, dp, ws, wsb, &ex);
        tp[r] = now() - a;
    }
    qsort(tf, R, sizeof tf[0], cmp_double);
    qsort(tb, R, sizeof tb[0], cmp_double);
    qsort(tp, R, sizeof tp[0], cmp_double);
    printf("ggdm forward N=%d: %.3f s\n", N, tf[R / 2]);
    printf("ggdm forward+vjp N=%d: %.3f s\n", N, tb[R / 2]);
    printf("ggdm forward+vjp+dparams N=%d: %.3f s\n", N, tp[R / 2]);
    {
        double fl = 0.0;
        ggdm_unet_flops(&cfg, N, &fl);
        printf("(workspace %.1f MB, %d thread(s), median of %d; %.2f GFLOP per forward: %.1f / %.1f / %.1f GFLOP/s)\n",
               wsb / 1e6, threads, R, fl / 1e9, fl / tf[R / 2] / 1e9, 2 * fl / tb[R / 2] / 1e9, 3 * fl / tp[R / 2] / 1e9);
    }
    free(w); free(x); free(v); free(eps); free(dx); free(dp); free(t); free(ws);
    ggdm_pool_destroy(pool);
    return 0;
}
