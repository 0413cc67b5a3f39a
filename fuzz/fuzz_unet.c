/*
 * fuzz_unet: the score network's entry points (ggdm/unet.h) on random configurations and
 * random inputs. The first byte chooses what to do with the rest:
 *
 *   odd:  an arbitrary configuration (any ints, any N): the size functions only
 *         (cfg_check, num_params, num_tensors, tensor, workspace_bytes), which allocate
 *         nothing. Properties: they agree on which configurations are valid; tensors
 *         tile the parameter array (offsets, counts, shapes, NUL-terminated names); the
 *         workspace size is never below what the buffers it must hold need, i.e. the
 *         size computation does not wrap around (an overflowing size must be an error).
 *   even: a small valid configuration (dim 4 or 6, mults 1 or 2, up to 3 levels, length <= 8, N <= 3),
 *         initialised from a seed (ggdm_unet_init, or uniform in [-2, 2]), finite inputs (|x| <= 6):
 *         forward, backward (input VJP and parameter gradients) and loss_grad.
 *         Properties: every output finite; the same bits with a workspace full of
 *         zeros or of NaNs (no read of unwritten workspace); backward's eps equals
 *         forward's; each sample's eps and input gradient are the same alone as in the
 *         batch (docs/nn.md: batch independence); a workspace one byte short,
 *         N = 0 and t outside [0, T) are refused with the documented status.
 */
#include <math.h>

#include "fuzz.h"
#include "ggdm/rng.h"
#include "ggdm/schedule.h"
#include "ggdm/unet.h"

/* 1 while the bug of fuzz/open-bugs/unet-workspace-overflow is open (see the README there) */
#ifndef FUZZ_OPEN_BUG_UNET_WS_OVERFLOW
#define FUZZ_OPEN_BUG_UNET_WS_OVERFLOW 0
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int all_finite(const float *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

/* ------------------------------------------------------------ arbitrary configurations */

static void sizes(fuzz_in *in)
{
    ggdm_unet_cfg c;
    int i, nt = -1, N;
    uint64_t np = 1, sum = 0;
    size_t wf = 1, wb = 1, wl = 1;
    ggdm_status st, st_np, st_nt, st_wf, st_wb, st_wl;
    char msg[GGDM_UNET_MSG_LEN];
    memset(&c, 0, sizeof c);
    /* small numbers most of the time, anything sometimes */
    c.dim = (int)fuzz_u32(in);
    c.n_levels = (int)fuzz_range(in, -1, GGDM_UNET_MAX_LEVELS + 1);
    for (i = 0; i < GGDM_UNET_MAX_LEVELS; i++)
        c.dim_mults[i] = (int)fuzz_range(in, -1, 66);
    c.groups = (int)fuzz_u32(in);
    c.length = (int)fuzz_u32(in);
    c.heads = (int)fuzz_range(in, -1, 66);
    c.dim_head = (int)fuzz_range(in, -1, 1030);
    N = (int)fuzz_u32(in);
    if (fuzz_u8(in) & 1) { /* scale down to plausible sizes */
        c.dim = c.dim % 4100;
        c.groups = c.groups % 64;
        c.length = c.length % (1 << 21);
        N = N % (1 << 25);
    }
    msg[0] = 'x';
    st = ggdm_unet_cfg_check(&c, msg);
    FUZZ_CHECK(fuzz_msg_ok(msg, sizeof msg) && (st == GGDM_OK) == (msg[0] == 0));
    FUZZ_CHECK(st == GGDM_OK || st == GGDM_ERR_ARG);
    st_np = ggdm_unet_num_params(&c, &np);
    st_nt = ggdm_unet_num_tensors(&c, &nt);
    FUZZ_CHECK(st_np == st && st_nt == st);
    st_wf = ggdm_unet_workspace_bytes(&c, N, GGDM_UNET_FORWARD, &wf);
    st_wb = ggdm_unet_workspace_bytes(&c, N, GGDM_UNET_BACKWARD, &wb);
    st_wl = ggdm_unet_loss_workspace_bytes(&c, N, &wl);
    if (st != GGDM_OK) {
        FUZZ_CHECK(np == 0 && nt == 0);
        FUZZ_CHECK(st_wf == GGDM_ERR_ARG && st_wb == GGDM_ERR_ARG && st_wl == GGDM_ERR_ARG);
        return;
    }
    FUZZ_CHECK(nt > 0 && nt <= GGDM_UNET_MAX_TENSORS && np > 0);
    /* the tensors tile the parameter array (every one when there are few) */
    for (i = 0; i < nt; i++) {
        ggdm_unet_tensor_info ti;
        uint64_t cnt = 1;
        int d;
        if (nt > 64 && i > 8 && i < nt - 8 && (i % 17) != 0)
            continue;
        FUZZ_CHECK(ggdm_unet_tensor(&c, i, &ti) == GGDM_OK);
        FUZZ_CHECK(memchr(ti.name, 0, sizeof ti.name) != NULL && ti.name[0] != 0);
        FUZZ_CHECK(ti.ndim >= 1 && ti.ndim <= 3);
        for (d = 0; d < ti.ndim; d++)
            cnt *= ti.shape[d];
        FUZZ_CHECK(cnt == ti.count && cnt > 0);
        FUZZ_CHECK(ti.offset < np && ti.count <= np - ti.offset);
        if (nt <= 64) {
            FUZZ_CHECK(ti.offset == sum);
            sum += ti.count;
        }
    }
    if (nt <= 64)
        FUZZ_CHECK(sum == np);
    {
        ggdm_unet_tensor_info ti;
        FUZZ_CHECK(ggdm_unet_tensor(&c, nt, &ti) == GGDM_ERR_ARG);
        FUZZ_CHECK(ggdm_unet_tensor(&c, -1, &ti) == GGDM_ERR_ARG);
    }
    if (N < 1 || N > (1 << 24)) {
        FUZZ_CHECK(st_wf == GGDM_ERR_ARG && st_wb == GGDM_ERR_ARG && st_wl == GGDM_ERR_ARG);
        return;
    }
    {
        /* what the workspace must hold at least: the first feature map (dim, length) and
         * the middle attention's scores (heads, L, L), L = length / 2^(levels-1), per sample */
        double Lm = (double)(c.length >> (c.n_levels - 1));
        double need = 4.0 * ((double)N * c.dim * c.length + (double)N * c.heads * Lm * Lm);
        double maxsz = (double)SIZE_MAX;
#if FUZZ_OPEN_BUG_UNET_WS_OVERFLOW
        if (need >= maxsz / 4.0)
            return; /* open bug (fuzz/open-bugs/README.md): the size wraps around instead of failing */
#endif
        if (need >= maxsz) {
            FUZZ_CHECKF(st_wf != GGDM_OK, "workspace of %g bytes reported as %zu (size overflow)", need, wf);
            FUZZ_CHECKF(st_wb != GGDM_OK, "workspace of %g bytes reported as %zu (size overflow)", need, wb);
            FUZZ_CHECK(st_wl != GGDM_OK);
            return;
        }
        FUZZ_CHECK(st_wf == GGDM_OK && st_wb == GGDM_OK && st_wl == GGDM_OK);
        FUZZ_CHECKF((double)wf >= need, "forward workspace %zu bytes < %g needed (size overflow?)", wf, need);
        FUZZ_CHECKF((double)wb >= (double)wf && wb >= wf, "backward workspace %zu < forward %zu", wb, wf);
        FUZZ_CHECK(wl > wb);
    }
}

/* ------------------------------------------------------------------ small networks */

typedef struct run_out {
    float *eps, *dx, *dp;
} run_out;

static void run_small(fuzz_in *in)
{
    ggdm_unet_cfg c;
    int i, N, D, k, T = 200;
    uint64_t np = 0, seed;
    size_t wf = 0, wb = 0, wl = 0, nd, j;
    float *params, *x, *v, *z, *eps, *eps0, *eps_b, *dx, *dx1, *dp, *tab, loss = -1.0f, scale;
    int64_t t[3];
    unsigned char *ws;
    ggdm_status st;

    ggdm_unet_cfg_default(&c);
    c.dim = 4 + 2 * (int)fuzz_range(in, 0, 1);
    c.n_levels = 1 + (int)fuzz_range(in, 0, 2);
    for (i = 0; i < c.n_levels; i++)
        c.dim_mults[i] = 1 + (int)fuzz_range(in, 0, 1);
    {
        int divs[8], nd2 = 0, g;
        for (g = 1; g <= c.dim; g++)
            if (c.dim % g == 0)
                divs[nd2++] = g;
        c.groups = divs[fuzz_range(in, 0, nd2 - 1)];
    }
    c.length = (1 << (c.n_levels - 1)) * (1 + (int)fuzz_range(in, 0, 1));
    c.heads = 1 + (int)fuzz_range(in, 0, 1);
    c.dim_head = 1 + (int)fuzz_range(in, 0, 3);
    N = 1 + (int)fuzz_range(in, 0, 2);
    seed = fuzz_u64(in);
    scale = (float)(1 + fuzz_range(in, 0, 3)); /* parameters up to 4x PyTorch's init bounds */
    FUZZ_CHECK(ggdm_unet_cfg_check(&c, NULL) == GGDM_OK);
    FUZZ_CHECK(ggdm_unet_num_params(&c, &np) == GGDM_OK);
    FUZZ_CHECK(ggdm_unet_workspace_bytes(&c, N, GGDM_UNET_FORWARD, &wf) == GGDM_OK);
    FUZZ_CHECK(ggdm_unet_workspace_bytes(&c, N, GGDM_UNET_BACKWARD, &wb) == GGDM_OK);
    FUZZ_CHECK(ggdm_unet_loss_workspace_bytes(&c, N, &wl) == GGDM_OK);
    D = c.length;
    nd = (size_t)N * (size_t)D;
    params = (float *)malloc(sizeof(float) * (size_t)np);
    dp = (float *)calloc((size_t)np, sizeof(float));
    x = (float *)malloc(sizeof(float) * nd);
    v = (float *)malloc(sizeof(float) * nd);
    z = (float *)malloc(sizeof(float) * nd);
    eps = (float *)malloc(sizeof(float) * nd);
    eps0 = (float *)malloc(sizeof(float) * nd);
    eps_b = (float *)malloc(sizeof(float) * nd);
    dx = (float *)malloc(sizeof(float) * nd);
    dx1 = (float *)malloc(sizeof(float) * nd);
    tab = (float *)malloc(sizeof(float) * ggdm_schedule_count(T));
    ws = (unsigned char *)malloc(wl + 64);
    FUZZ_CHECK(params && dp && x && v && z && eps && eps0 && eps_b && dx && dx1 && tab && ws);
    if (fuzz_u8(in) % 4 == 0) { /* PyTorch's initialisation (slow: it walks the tensors once per tensor) */
        FUZZ_CHECK(ggdm_unet_init(&c, seed, params, np) == GGDM_OK);
        FUZZ_CHECK(all_finite(params, (size_t)np));
        for (j = 0; j < np; j++)
            params[j] *= scale;
    } else { /* every parameter uniform in [-scale/2, scale/2) */
        ggdm_rng_fill_uniform(seed, ggdm_stream_id(GGDM_STREAM_TEST, 77, 0), 0, params, np);
        for (j = 0; j < np; j++)
            params[j] = (params[j] - 0.5f) * scale;
    }
    /* a few parameters set from the input */
    for (k = (int)fuzz_range(in, 0, 8); k > 0; k--) {
        uint32_t at = fuzz_u32(in);
        params[at % np] = fuzz_f32_bounded(in, 2.0f);
    }
    for (j = 0; j < nd; j++) {
        x[j] = fuzz_f32_bounded(in, 6.0f);
        v[j] = fuzz_f32_bounded(in, 6.0f);
        z[j] = fuzz_f32_bounded(in, 6.0f);
    }
    for (i = 0; i < N; i++)
        t[i] = (int64_t)fuzz_range(in, 0, T - 1);

    /* forward: finite, independent of the workspace's previous contents */
    memset(ws, 0, wf);
    st = ggdm_unet_forward(&c, params, N, x, t, eps, ws, wf, NULL, NULL);
    FUZZ_CHECK(st == GGDM_OK);
    FUZZ_CHECKF(all_finite(eps, nd), "non-finite eps from finite x and bounded parameters");
    memset(ws, 0xFF, wf);
    FUZZ_CHECK(ggdm_unet_forward(&c, params, N, x, t, eps0, ws, wf, NULL, NULL) == GGDM_OK);
    FUZZ_CHECKF(memcmp(eps, eps0, sizeof(float) * nd) == 0, "forward depends on stale workspace contents");
    /* contracts */
    /* a workspace below the size query's: refused, or (the call's own plan, for its backend and
     * gradient mode, may be smaller than the query's maximum) the same bits; far below: refused */
    st = ggdm_unet_forward(&c, params, N, x, t, eps0, ws, wf - 1, NULL, NULL);
    FUZZ_CHECK(st == GGDM_ERR_BUFFER_TOO_SMALL || (st == GGDM_OK && memcmp(eps, eps0, sizeof(float) * nd) == 0));
    FUZZ_CHECK(ggdm_unet_forward(&c, params, N, x, t, eps0, ws, 4096, NULL, NULL) == GGDM_ERR_BUFFER_TOO_SMALL);
    FUZZ_CHECK(ggdm_unet_forward(&c, params, 0, x, t, eps0, ws, wf, NULL, NULL) == GGDM_ERR_ARG);
    FUZZ_CHECK(ggdm_unet_forward(&c, NULL, N, x, t, eps0, ws, wf, NULL, NULL) == GGDM_ERR_ARG);

    /* backward: eps identical to forward's; dx and parameter gradients finite */
    memset(ws, 0xFF, wb);
    st = ggdm_unet_backward(&c, params, N, x, t, v, eps_b, dx, dp, ws, wb);
    FUZZ_CHECK(st == GGDM_OK);
    FUZZ_CHECKF(memcmp(eps, eps_b, sizeof(float) * nd) == 0, "backward's eps differs from forward's");
    FUZZ_CHECKF(all_finite(dx, nd), "non-finite input gradient");
    FUZZ_CHECKF(all_finite(dp, (size_t)np), "non-finite parameter gradient");
    FUZZ_CHECK(ggdm_unet_backward(&c, params, N, x, t, v, NULL, dx1, NULL, ws, 4096) == GGDM_ERR_BUFFER_TOO_SMALL);
    memset(ws, 0, wb);
    FUZZ_CHECK(ggdm_unet_backward(&c, params, N, x, t, v, NULL, dx1, NULL, ws, wb) == GGDM_OK);
    FUZZ_CHECKF(memcmp(dx, dx1, sizeof(float) * nd) == 0, "input gradient depends on what else is computed");
    memset(dx1, 0, sizeof(float) * nd);
    st = ggdm_unet_backward(&c, params, N, x, t, v, NULL, dx1, NULL, ws, wb - 1);
    FUZZ_CHECKF(st == GGDM_ERR_BUFFER_TOO_SMALL || (st == GGDM_OK && memcmp(dx, dx1, sizeof(float) * nd) == 0),
                "a workspace one byte short neither refused nor giving the same input gradient");

    /* batch independence: the last sample alone */
    if (N > 1) {
        size_t off = (size_t)(N - 1) * (size_t)D, w1 = 0;
        FUZZ_CHECK(ggdm_unet_workspace_bytes(&c, 1, GGDM_UNET_BACKWARD, &w1) == GGDM_OK && w1 <= wb);
        FUZZ_CHECK(ggdm_unet_forward(&c, params, 1, x + off, t + N - 1, eps0, ws, w1, NULL, NULL) == GGDM_OK);
        FUZZ_CHECKF(memcmp(eps0, eps + off, sizeof(float) * (size_t)D) == 0, "eps of a sample depends on its batch");
        FUZZ_CHECK(ggdm_unet_backward(&c, params, 1, x + off, t + N - 1, v + off, NULL, dx1, NULL, ws, w1) == GGDM_OK);
        FUZZ_CHECKF(memcmp(dx1, dx + off, sizeof(float) * (size_t)D) == 0,
                    "input gradient of a sample depends on its batch");
    }

    /* the training loss and its gradients */
    FUZZ_CHECK(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, T, tab, ggdm_schedule_count(T)) == GGDM_OK);
    memset(dp, 0, sizeof(float) * (size_t)np);
    st = ggdm_unet_loss_grad(&c, params, N, x, t, z, tab + GGDM_SCHED_SQRT_ALPHAS_CUMPROD * (size_t)T,
                             tab + GGDM_SCHED_SQRT_ONE_MINUS_ALPHAS_CUMPROD * (size_t)T, T, &loss, dp, ws, wl);
    FUZZ_CHECK(st == GGDM_OK);
    FUZZ_CHECKF(isfinite(loss) && loss >= 0.0f, "loss %g", (double)loss);
    FUZZ_CHECK(all_finite(dp, (size_t)np));
    FUZZ_CHECK(ggdm_unet_loss_grad(&c, params, N, x, t, z, tab + GGDM_SCHED_SQRT_ALPHAS_CUMPROD * (size_t)T,
                                   tab + GGDM_SCHED_SQRT_ONE_MINUS_ALPHAS_CUMPROD * (size_t)T, T, &loss, dp, ws,
                                   wl - 1) == GGDM_ERR_BUFFER_TOO_SMALL);
    {
        int64_t keep = t[0];
        t[0] = (fuzz_u8(in) & 1) ? T : -1;
        FUZZ_CHECK(ggdm_unet_loss_grad(&c, params, N, x, t, z, tab + GGDM_SCHED_SQRT_ALPHAS_CUMPROD * (size_t)T,
                                       tab + GGDM_SCHED_SQRT_ONE_MINUS_ALPHAS_CUMPROD * (size_t)T, T, &loss, NULL,
                                       ws, wl) == GGDM_ERR_ARG);
        t[0] = keep;
    }
    free(params);
    free(dp);
    free(x);
    free(v);
    free(z);
    free(eps);
    free(eps0);
    free(eps_b);
    free(dx);
    free(dx1);
    free(tab);
    free(ws);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in;
    in.p = data;
    in.n = size;
    if (fuzz_u8(&in) & 1)
        sizes(&in);
    else
        run_small(&in);
    return 0;
}
