/*
 * bench_sd - Stable Diffusion v1.5's networks on the CPU (a benchmark, not a test):
 *
 *   bench_sd eval [SIZE] [THREADS]    one guided evaluation at SIZE px (default 512): the UNet's
 *                                     forward with the CFG batch of 2 (taped), the CFG combination,
 *                                     z0, the VAE decode of z0 and its VJP (batch 1), the UNet's VJP
 *                                     through both halves: seconds per phase, workspaces, peak RSS
 *   bench_sd parts SIZE [THREADS] [R] UNet forward, UNet VJP, VAE decode, VAE decode + VJP (batch 1),
 *                                     the median of R runs each (default 3)
 *
 * Random weights (ggdm's deterministic init), random latents and text states: the time and
 * memory of the real networks (docs/performance.md, "Stable Diffusion"; docs/sd.md, "Memory").
 * Attention runs with the recompute kind (the same bits, O(L) memory).
 */
#define _POSIX_C_SOURCE 200809L
#define BENCH_NAME "bench_sd"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_util.h"
#include "ggdm/rng.h"
#include "ggdm/unet2d.h"
#include "ggdm/vae.h"
#include "pool.h"

static double peak_gib(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_maxrss / (1024.0 * 1024.0); /* KiB on Linux */
}

static void *ws_of(const char *what, size_t bytes)
{
    fprintf(stderr, "bench_sd: %s workspace %.1f MiB\n", what, (double)bytes / 1048576.0);
    return xalloc(bytes);
}

static void check(ggdm_status st, const char *what)
{
    if (st != GGDM_OK) {
        fprintf(stderr, "bench_sd: %s: %s\n", what, ggdm_status_str(st));
        exit(1);
    }
}

typedef struct sd {
    ggdm_unet2d_cfg u;
    ggdm_vae_cfg v;
    float *up, *vp;
    int H, Lt;
} sd;

static void setup(sd *s, int px, int threads)
{
    ggdm_param_table t;
    uint64_t nv;
    double t0 = now();
    (void)threads;
    ggdm_unet2d_cfg_sd15(&s->u);
    s->u.attn_recompute = 1;
    ggdm_vae_cfg_sd15(&s->v);
    s->v.attn_kind = GGDM_ATTN_RECOMPUTE;
    s->H = px / 8;
    s->v.height = s->v.width = s->H;
    s->Lt = 77;
    check(ggdm_unet2d_table(&s->u, &t), "unet table");
    s->up = xalloc((size_t)t.n_params * sizeof(float));
    check(ggdm_unet2d_init(&s->u, 1, s->up, t.n_params), "unet init");
    check(ggdm_vae_num_params(&s->v, &nv), "vae params");
    s->vp = xalloc((size_t)nv * sizeof(float));
    check(ggdm_vae_init(&s->v, 2, s->vp, nv), "vae init");
    fprintf(stderr, "bench_sd: SD v1.5 UNet (%llu) and VAE decoder (%llu parameters) initialised in %.1f s\n",
            (unsigned long long)t.n_params, (unsigned long long)nv, now() - t0);
}

static float *randn(size_t n, uint32_t b)
{
    float *a = xalloc(n * sizeof(float));
    ggdm_rng_fill_normal(7, ggdm_stream_id(GGDM_STREAM_TEST, 0x5344, b), 0, a, n);
    return a;
}

static int eval(int px, int threads)
{
    const ggdm_exec *ex = ggdm_cli_exec(threads);
    sd s;
    ggdm_unet2d_tape tape;
    size_t tb, uw, vw, nz, nx;
    void *tmp, *uws, *vws;
    float *z, *z2, *text, *eps, *z0, *x0, *g, *dz0, *deps, *dz;
    int64_t t[2] = {981, 981};
    const float a = 0.0047f, sa = 0.068556546f, s1a = 0.99764926f, cfg = 7.5f; /* sqrt(a), sqrt(1 - a) */
    double t0, tu, tv, tb2;
    int H, OH, OW;
    size_t i;
    (void)a;
    setup(&s, px, threads);
    H = s.H;
    nz = (size_t)4 * H * H;
    check(ggdm_vae_out_size(&s.v, &OH, &OW), "vae size");
    nx = (size_t)3 * OH * OW;
    check(ggdm_unet2d_sizing_bytes(&s.u, 2, H, H, s.Lt, &tb), "unet sizing");
    tmp = xalloc(tb);
    check(ggdm_unet2d_workspace_bytes(&s.u, 2, H, H, s.Lt, 1, ex, tmp, tb, &uw), "unet workspace");
    free(tmp);
    check(ggdm_vae_workspace_bytes(&s.v, 1, 1, ex, &vw), "vae workspace");
    uws = ws_of("UNet (batch 2, taped)", uw);
    vws = ws_of("VAE decode + VJP", vw);
    z = randn(nz, 1);
    z2 = xalloc(2 * nz * sizeof(float));
    memcpy(z2, z, nz * sizeof(float));
    memcpy(z2 + nz, z, nz * sizeof(float));
    text = randn((size_t)2 * 768 * s.Lt, 2);
    eps = xalloc(2 * nz * sizeof(float));
    z0 = xalloc(nz * sizeof(float));
    x0 = xalloc(nx * sizeof(float));
    g = randn(nx, 3);
    dz0 = xalloc(nz * sizeof(float));
    deps = xalloc(2 * nz * sizeof(float));
    dz = xalloc(2 * nz * sizeof(float));
    t0 = now();
    check(ggdm_unet2d_tape_forward(&s.u, s.up, 2, H, H, s.Lt, z2, t, text, eps, uws, uw, ex, &tape), "unet forward");
    tu = now();
    for (i = 0; i < nz; i++) { /* eps = eu + cfg (ec - eu); z0 = (z - sqrt(1 - a) eps) / sqrt(a) */
        float e = eps[i] + cfg * (eps[nz + i] - eps[i]);
        z0[i] = (z[i] - s1a * e) / sa;
    }
    check(ggdm_vae_decode_vjp(&s.v, NULL, s.vp, 1, z0, g, x0, dz0, vws, vw, ex), "vae decode + vjp");
    tv = now();
    for (i = 0; i < nz; i++) { /* d/d eps_u and d/d eps_c of z0 */
        float d = dz0[i] * (-s1a / sa);
        deps[i] = d * (1.0f - cfg);
        deps[nz + i] = d * cfg;
    }
    check(ggdm_unet2d_tape_vjp(&tape, deps, dz), "unet vjp");
    tb2 = now();
    printf("guided evaluation at %d px (latent %dx%d, CFG batch 2, threads %d): UNet forward %.1f s, VAE decode + "
           "VJP %.1f s, UNet VJP %.1f s, total %.1f s; workspaces UNet %.2f GiB, VAE %.2f GiB; peak RSS %.2f GiB\n",
           px, H, H, threads, tu - t0, tv - tu, tb2 - tv, tb2 - t0, (double)uw / 1073741824.0,
           (double)vw / 1073741824.0, peak_gib());
    return 0;
}

static int parts(int px, int threads, int R)
{
    const ggdm_exec *ex = ggdm_cli_exec(threads);
    sd s;
    size_t tb, uf, ub, vf, vb, nz, nx;
    void *tmp, *ws;
    float *z, *text, *eps, *deps, *dz, *x0, *g, *dz0;
    int64_t t[1] = {501};
    double tm[4][16];
    int H, OH, OW, r, k;
    if (R > 16)
        R = 16;
    setup(&s, px, threads);
    H = s.H;
    nz = (size_t)4 * H * H;
    check(ggdm_vae_out_size(&s.v, &OH, &OW), "vae size");
    nx = (size_t)3 * OH * OW;
    check(ggdm_unet2d_sizing_bytes(&s.u, 1, H, H, s.Lt, &tb), "unet sizing");
    tmp = xalloc(tb);
    check(ggdm_unet2d_workspace_bytes(&s.u, 1, H, H, s.Lt, 0, ex, tmp, tb, &uf), "unet workspace");
    check(ggdm_unet2d_workspace_bytes(&s.u, 1, H, H, s.Lt, 1, ex, tmp, tb, &ub), "unet workspace");
    free(tmp);
    check(ggdm_vae_workspace_bytes(&s.v, 1, 0, ex, &vf), "vae workspace");
    check(ggdm_vae_workspace_bytes(&s.v, 1, 1, ex, &vb), "vae workspace");
    ws = ws_of("largest", ub > vb ? ub : vb);
    z = randn(nz, 1);
    text = randn((size_t)768 * s.Lt, 2);
    eps = xalloc(nz * sizeof(float));
    deps = randn(nz, 4);
    dz = xalloc(nz * sizeof(float));
    x0 = xalloc(nx * sizeof(float));
    g = randn(nx, 3);
    dz0 = xalloc(nz * sizeof(float));
    for (r = 0; r < R; r++) {
        double t0 = now();
        check(ggdm_unet2d_forward(&s.u, s.up, 1, H, H, s.Lt, z, t, text, eps, ws, uf, NULL, NULL, ex), "unet");
        tm[0][r] = now() - t0;
        t0 = now();
        check(ggdm_unet2d_vjp(&s.u, s.up, 1, H, H, s.Lt, z, t, text, deps, eps, dz, ws, ub, ex), "unet vjp");
        tm[1][r] = now() - t0;
        t0 = now();
        check(ggdm_vae_decode(&s.v, NULL, s.vp, 1, z, x0, ws, vf, NULL, NULL, ex), "vae");
        tm[2][r] = now() - t0;
        t0 = now();
        check(ggdm_vae_decode_vjp(&s.v, NULL, s.vp, 1, z, g, x0, dz0, ws, vb, ex), "vae vjp");
        tm[3][r] = now() - t0;
    }
    printf("parts at %d px (latent %dx%d, batch 1, threads %d, median of %d): UNet forward %.2f s (%.2f GiB), UNet "
           "forward + VJP %.2f s (%.2f GiB), VAE decode %.2f s (%.2f GiB), VAE decode + VJP %.2f s (%.2f GiB); peak "
           "RSS %.2f GiB\n",
           px, H, H, threads, R, median(tm[0], R), (double)uf / 1073741824.0, median(tm[1], R),
           (double)ub / 1073741824.0, median(tm[2], R), (double)vf / 1073741824.0, median(tm[3], R),
           (double)vb / 1073741824.0, peak_gib());
    for (k = 0; k < 4; k++)
        (void)tm[k];
    return 0;
}

int main(int argc, char **argv)
{
    int px = argc > 2 ? atoi(argv[2]) : 512, threads = argc > 3 ? atoi(argv[3]) : 2, R = argc > 4 ? atoi(argv[4]) : 3;
    if (argc < 2 || (strcmp(argv[1], "eval") != 0 && strcmp(argv[1], "parts") != 0) || px < 64 || px % 64 ||
        threads < 1 || R < 1) {
        fprintf(stderr, "usage: bench_sd eval [SIZE] [THREADS] | bench_sd parts SIZE [THREADS] [R]\n"
                        "  SIZE: image pixels, a multiple of 64 (default 512)\n");
        return 2;
    }
    return strcmp(argv[1], "eval") == 0 ? eval(px, threads) : parts(px, threads, R);
}
