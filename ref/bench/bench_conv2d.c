/*
 * bench_conv2d - GFLOP/s of the 2-D convolution's fast kernels (ggdm_conv2d_*_ex,
 * ref/src/conv1d_fast.c) on Stable Diffusion's UNet shapes, forward, input gradient (dx) and
 * weight gradient (dw), 1 and 2 threads (the front end's pool), beside the 1-D kernel on a
 * comparable product. Also checks, once per shape, that the threaded results have the serial
 * results' bits. flops = 2 x multiply-adds (the padding taps that are skipped not counted).
 *
 *   make BUILD=build build/ggdm
 *   cc -std=c99 -O2 -ffp-contract=off -fno-fast-math $(sh ci/arch-flags.sh) -Iref/include -Iref/cli \
 *      -o build/bench_conv2d ref/bench/bench_conv2d.c build/obj/ref/cli/pool.o build/libggdm.a -lm -pthread
 *   build/bench_conv2d [reps]
 */
#define _POSIX_C_SOURCE 200112L
#define BENCH_NAME "bench_conv2d"
#include "bench_util.h"

#include "ggdm/exec.h"
#include "ggdm/layers.h"
#include "pool.h"

/* the calling thread's CPU time (the 1-thread figures: less sensitive to a shared machine) */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fill(float *p, size_t n, unsigned seed)
{
    size_t i;
    for (i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)((seed >> 8) * (1.0 / 16777216.0)) - 0.5f;
    }
}

/* multiply-adds of the forward (taps inside the input only) */
static double macs(const ggdm_conv2d_dims *d, int Ho, int Wo)
{
    double t = 0;
    int yo, xo, kh, kw;
    for (yo = 0; yo < Ho; yo++)
        for (kh = 0; kh < d->KH; kh++) {
            int yi = yo * d->sh + kh - d->ph;
            if (yi < 0 || yi >= d->H)
                continue;
            for (xo = 0; xo < Wo; xo++)
                for (kw = 0; kw < d->KW; kw++) {
                    int xi = xo * d->sw + kw - d->pw;
                    t += xi >= 0 && xi < d->W;
                }
        }
    return t * d->N * d->Cout * d->C;
}

static void run(const char *name, ggdm_conv2d_dims d, int reps, ggdm_pool *pool2)
{
    int Ho, Wo, th, r, what;
    size_t nx, nw, ny, ns;
    float *x, *w, *b, *y, *y1, *dy, *dx, *dx1, *dw, *dw1, *sc;
    double m;
    if (!ggdm_conv2d_out(&d, &Ho, &Wo))
        return;
    nx = (size_t)d.N * d.C * d.H * d.W, nw = (size_t)d.Cout * d.C * d.KH * d.KW, ny = (size_t)d.N * d.Cout * Ho * Wo;
    ns = ggdm_conv2d_scratch_floats(&d);
    x = xalloc(nx * 4), w = xalloc(nw * 4), b = xalloc((size_t)d.Cout * 4), y = xalloc(ny * 4), y1 = xalloc(ny * 4);
    dy = xalloc(ny * 4), dx = xalloc(nx * 4), dx1 = xalloc(nx * 4), dw = xalloc(nw * 4), dw1 = xalloc(nw * 4);
    sc = xalloc(ns * 4);
    fill(x, nx, 1), fill(w, nw, 2), fill(b, (size_t)d.Cout, 3), fill(dy, ny, 4);
    m = macs(&d, Ho, Wo);
    for (what = 0; what < 3; what++) {
        double g[2] = {0, 0};
        for (th = 0; th < 2; th++) {
            ggdm_exec ex = ggdm_pool_exec(th ? pool2 : NULL);
            float *gx = th ? dx1 : dx, *gw = th ? dw1 : dw;
            double t[64];
            int R = reps < 64 ? reps : 64;
            for (r = 0; r < R; r++) {
                double t0;
                memset(gx, 0, nx * 4);
                memset(gw, 0, nw * 4);
                t0 = th ? now() : cpu_now();
                if (what == 0)
                    ggdm_conv2d_forward_ex(th ? y1 : y, x, w, b, &d, sc, &ex);
                else if (what == 1)
                    ggdm_conv2d_backward_ex(gx, NULL, NULL, dy, NULL, w, &d, sc, &ex);
                else
                    ggdm_conv2d_backward_ex(NULL, gw, NULL, dy, x, NULL, &d, sc, &ex);
                t[r] = (th ? now() : cpu_now()) - t0;
            }
            g[th] = 2.0 * m / median(t, R) * 1e-9;
        }
        if ((what == 0 && memcmp(y, y1, ny * 4)) || (what == 1 && memcmp(dx, dx1, nx * 4)) ||
            (what == 2 && memcmp(dw, dw1, nw * 4)))
            printf("  (1 and 2 threads: the bits differ!)\n");
        if (what == 0 && memcmp(y, y1, ny * 4) != 0)
            printf("  (forward: threaded bits differ!)\n");
        printf("%-34s %-3s  1 thread %7.1f GFLOP/s (CPU time)   2 threads %7.1f GFLOP/s (wall)\n", name,
               what == 0 ? "fwd" : what == 1 ? "dx" : "dw", g[0], g[1]);
    }
    free(x), free(w), free(b), free(y), free(y1), free(dy), free(dx), free(dx1), free(dw), free(dw1), free(sc);
}

/* the 1-D kernel on the same product size, for comparison */
static void run1d(const char *name, int N, int C, int L, int Co, int K, int reps, ggdm_pool *pool2)
{
    int Lo = ggdm_conv1d_out_len(L, K, 1, K / 2), th, r;
    size_t ns = ggdm_conv1d_scratch_floats(N, C, L, Co, K, 1, K / 2);
    float *x = xalloc((size_t)N * C * L * 4), *w = xalloc((size_t)Co * C * K * 4), *y = xalloc((size_t)N * Co * Lo * 4);
    float *sc = xalloc(ns * 4), *dx = xalloc((size_t)N * C * L * 4);
    double m = (double)N * Co * C * ((double)Lo * K - (K / 2) * (K / 2 + 1));
    fill(x, (size_t)N * C * L, 1), fill(w, (size_t)Co * C * K, 2), fill(y, (size_t)N * Co * Lo, 3);
    for (th = 0; th < 2; th++) {
        ggdm_exec ex = ggdm_pool_exec(th ? pool2 : NULL);
        double t[64], u[64];
        int R = reps < 64 ? reps : 64;
        for (r = 0; r < R; r++) {
            double t0 = th ? now() : cpu_now();
            ggdm_conv1d_forward_ex(y, x, w, NULL, N, C, L, Co, K, 1, K / 2, sc, &ex);
            t[r] = (th ? now() : cpu_now()) - t0;
            t0 = th ? now() : cpu_now();
            ggdm_conv1d_backward_ex(dx, NULL, NULL, y, NULL, w, N, C, L, Co, K, 1, K / 2, sc, &ex);
            u[r] = (th ? now() : cpu_now()) - t0;
        }
        printf("%-34s %d thread(s): fwd %7.1f GFLOP/s, dx %7.1f GFLOP/s\n", name, th + 1, 2.0 * m / median(t, R) * 1e-9,
               2.0 * m / median(u, R) * 1e-9);
    }
    free(x), free(w), free(y), free(sc), free(dx);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    ggdm_pool *pool2 = ggdm_pool_create(2);
    ggdm_conv2d_dims d;
    if (reps < 1)
        reps = 1;
    memset(&d, 0, sizeof d);
    d.N = 1, d.KH = d.KW = 3, d.sh = d.sw = 1, d.ph = d.pw = 1;
    d.C = d.Cout = 320, d.H = d.W = 64;
    run("3x3 320->320 64x64 (N=1)", d, reps, pool2);
    d.C = d.Cout = 1280, d.H = d.W = 8;
    run("3x3 1280->1280 8x8 (N=1)", d, reps, pool2);
    d.C = d.Cout = 640, d.H = d.W = 32;
    run("3x3 640->640 32x32 (N=1)", d, reps, pool2);
    d.C = d.Cout = 320, d.H = d.W = 64, d.sh = d.sw = 2;
    run("3x3 s2 320->320 64x64 (N=1)", d, reps, pool2);
    d.C = 320, d.Cout = 640, d.H = d.W = 32, d.KH = d.KW = 1, d.sh = d.sw = 1, d.ph = d.pw = 0;
    run("1x1 320->640 32x32 (N=1)", d, reps, pool2);
    run1d("1-D K=3 320->320 L=4096 (N=1)", 1, 320, 4096, 320, 3, reps, pool2);
    run1d("1-D K=3 960->320 L=4096 (N=1)", 1, 960, 4096, 320, 3, reps, pool2);
    ggdm_pool_destroy(pool2);
    return 0;
}
