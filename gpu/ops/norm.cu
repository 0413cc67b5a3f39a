// gpu/ops/norm.cu - NORM (ggdm/ops.def; ref/src/ops/norm.c): GroupNorm (kind GROUP) and
// ChannelNorm (kind CHANNEL), and the fused activation path of backend.h (gn_act_*).
//  - exact mode: the element kernels (statistics, then the outputs, in elem.h's launch order);
//  - fast mode: one block reduction per group (statistics and outputs in one launch, the
//    backward's sums and dx in one), the parameter gradients by the exact element kernels;
//    a ResnetBlock half's GroupNorm, scale-shift and SiLU in one kernel each way (gn_act).
// Call record: N = a.N, C = a.C, L = a.H * a.W, G = a.G; x = in[0], gamma (or the channel
// gain g) = in[1], beta = in[2]; mean = cache[0], rstd = cache[1]; VJP dx = din[0],
// dgamma (dg) = din[1], dbeta = din[2]. Every eps (the element functions and the fast
// kernels take it); ChannelNorm's bias beta (Stable Diffusion's LayerNorm) and its gradient
// (the element kernel chnorm_beta_backward, both modes).
#include "cuda_ctx.h"

#include "ggdm/elem/gnblk.h"

// ------------------------------------------------------------------ exact element kernels

#define SIG_groupnorm_forward                                                                                  \
    (float *y, float *mean, float *rstd, const float *x, const float *gamma, const float *beta, int N, int C, \
     int L, int G, float eps)
#define ARG_groupnorm_forward (y, mean, rstd, x, gamma, beta, N, C, L, G, eps)
#define SIZ_groupnorm_forward (N, C, L, G)

#define SIG_groupnorm_backward                                                                            \
    (float *dx, float *dgamma, float *dbeta, const float *dy, const float *x, const float *mean,          \
     const float *rstd, const float *gamma, int N, int C, int L, int G)
#define ARG_groupnorm_backward (dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, L, G)
#define SIZ_groupnorm_backward (N, C, L, G)

#define SIG_chnorm_forward \
    (float *y, float *mean, float *rstd, const float *x, const float *g, const float *beta, int N, int C, int L, float eps)
#define ARG_chnorm_forward (y, mean, rstd, x, g, beta, N, C, L, eps)
#define SIZ_chnorm_forward (N, C, L)

#define SIG_chnorm_backward                                                                                    \
    (float *dx, float *dg, const float *dy, const float *x, const float *mean, const float *rstd, const float *g, \
     int N, int C, int L)
#define ARG_chnorm_backward (dx, dg, dy, x, mean, rstd, g, N, C, L)
#define SIZ_chnorm_backward (N, C, L)

#define SIG_chnorm_beta_backward (float *dbeta, const float *dy, int N, int C, int L)
#define ARG_chnorm_beta_backward (dbeta, dy, N, C, L)
#define SIZ_chnorm_beta_backward (N, C, L)

// GroupNorm with blocked statistics (a.block > 0, ggdm/elem/gnblk.h): the element kernels in
// both modes (the parameter gradients: groupnorm_backward's dgamma / dbeta kernels, dx NULL).
#define SIG_gnblk_forward                                                                                      \
    (float *y, float *mean, float *rstd, const float *x, const float *gamma, const float *beta, int N, int C, \
     int L, int G, float eps, long B)
#define ARG_gnblk_forward (y, mean, rstd, x, gamma, beta, N, C, L, G, eps, B)
#define SIZ_gnblk_forward (N, C, L, G, B)
#define SIG_gnblk_backward \
    (float *dx, const float *dy, const float *x, const float *mean, const float *rstd, const float *gamma, int N, int C, \
     int L, int G, long B)
#define ARG_gnblk_backward (dx, dy, x, mean, rstd, gamma, N, C, L, G, B)
#define SIZ_gnblk_backward (N, C, L, G, B)

ELEM_KERNELS(gnblk_forward)
ELEM_KERNELS(gnblk_backward)
EXACT_OP(gnblk_forward)
EXACT_OP(gnblk_backward)
ELEM_KERNELS(groupnorm_forward)
ELEM_KERNELS(groupnorm_backward)
ELEM_KERNELS(chnorm_forward)
ELEM_KERNELS(chnorm_backward)
ELEM_KERNELS(chnorm_beta_backward)
EXACT_OP(groupnorm_forward)
EXACT_OP(groupnorm_backward)
EXACT_OP(chnorm_forward)
EXACT_OP(chnorm_backward)
EXACT_OP(chnorm_beta_backward)

// ------------------------------------------------------------------ fast mode: the norms' reductions
//
// The exact mode reduces each group with one thread (the reference's chain); fast mode sums
// a group with a block of up to RED_THREADS threads (norm_threads; a different order: within
// the tolerance).
// A group q's M values are at x[base(q) + i*s], base(q) = (q / L2) * S1 + (q % L2):
//   GroupNorm:   q = n*G + g, L2 = 1, S1 = M = (C/G)*L, s = 1
//   ChannelNorm: q = n*L + l, L2 = L, S1 = C*L, s = L (M = C)
#define RED_THREADS 256

// The sum of v over the block (blockDim.x a multiple of 32, at most RED_THREADS): a butterfly
// of shuffles within each warp (every lane ends with the same bits: each step adds the same
// two values in either order), then the warps' sums in warp order, by every thread.
__device__ static float block_sum(float v, float *red)
{
    int o, nw = (int)(blockDim.x >> 5);
    for (o = 16; o > 0; o >>= 1)
        v = v + __shfl_xor_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0)
        red[threadIdx.x >> 5] = v;
    __syncthreads();
    v = red[0];
    for (o = 1; o < nw; o++)
        v = v + red[o];
    __syncthreads(); // red is reused by the caller's next block_sum
    return v;
}

// Threads for a group of M values: a multiple of 32, at most RED_THREADS.
static int norm_threads(long long M)
{
    long long t = (M + 31) / 32 * 32;
    return t < 32 ? 32 : t > RED_THREADS ? RED_THREADS : (int)t;
}

// The mean and rstd = ggdm_norm_rstd_eps(biased variance, eps) of b[i*s], i < M, two passes as
// ggdm_mean_var_f32, summed by the block; thread 0 stores them to *mean, *rstd.
__device__ static void block_stats(const float *b, long long s, int M, float eps, float *red, float *m_out,
                                   float *r_out, float *mean, float *rstd)
{
    float acc = 0.0f, m, r;
    int i;
    for (i = threadIdx.x; i < M; i += blockDim.x)
        acc = acc + b[(long long)i * s];
    m = block_sum(acc, red) / (float)M;
    acc = 0.0f;
    for (i = threadIdx.x; i < M; i += blockDim.x) {
        float d = b[(long long)i * s] - m;
        acc = fmaf(d, d, acc);
    }
    r = ggdm_norm_rstd_eps(block_sum(acc, red) / (float)M, eps);
    if (threadIdx.x == 0) {
        *mean = m;
        *rstd = r;
    }
    *m_out = m;
    *r_out = r;
}

// mean[q], rstd[q] = ggdm_norm_rstd(biased variance), two passes as ggdm_mean_var_f32, then
// the group's outputs y = xhat [* gamma[channel]] [+ beta[channel]] (as the element kernel
// ..._forward_y), channel of element i = (q % G2) * Cg + i / Ldiv: one launch per norm.
__global__ void __launch_bounds__(RED_THREADS)
k_fast_norm(float *y, float *mean, float *rstd, const float *x, const float *gamma, const float *beta, int L2,
            long long S1, long long s, int M, int G2, int Cg, int Ldiv, float eps)
{
    __shared__ float red[RED_THREADS];
    int q = blockIdx.x, i;
    long long base = (long long)(q / L2) * S1 + (q % L2);
    const float *b = x + base;
    float m, r;
    block_stats(b, s, M, eps, red, &m, &r, &mean[q], &rstd[q]);
    for (i = threadIdx.x; i < M; i += blockDim.x) {
        int c = (q % G2) * Cg + i / Ldiv;
        float v = ggdm_norm_xhat(b[(long long)i * s], m, r);
        if (gamma)
            v = v * gamma[c];
        if (beta)
            v = v + beta[c];
        y[base + (long long)i * s] = v;
    }
}

// The backward of a group: m1 = (sum of dxhat) / M, m2 = (sum of dxhat * xhat) / M over the
// group, dxhat = dy [* gamma[channel]], then dx += ggdm_norm_dx(dxhat, xhat, m1, m2, rstd)
// for the group's elements (as the element kernel ..._backward_dx): one launch.
__global__ void __launch_bounds__(RED_THREADS)
k_fast_norm_bwd(float *dx, const float *dy, const float *x, const float *mean, const float *rstd, const float *gamma,
                int L2, long long S1, long long s, int M, int G2, int Cg, int Ldiv, int fresh)
{
    __shared__ float red[RED_THREADS];
    int q = blockIdx.x, i;
    long long base = (long long)(q / L2) * S1 + (q % L2);
    float mq = mean[q], rq = rstd[q], s1 = 0.0f, s2 = 0.0f;
    for (i = threadIdx.x; i < M; i += blockDim.x) {
        long long a = base + (long long)i * s;
        float d = gamma ? dy[a] * gamma[(q % G2) * Cg + i / Ldiv] : dy[a];
        s1 = s1 + d;
        s2 = fmaf(d, ggdm_norm_xhat(x[a], mq, rq), s2);
    }
    s1 = block_sum(s1, red) / (float)M;
    s2 = block_sum(s2, red) / (float)M;
    for (i = threadIdx.x; i < M; i += blockDim.x) {
        long long a = base + (long long)i * s;
        float d = gamma ? dy[a] * gamma[(q % G2) * Cg + i / Ldiv] : dy[a];
        float g = ggdm_norm_dx(d, ggdm_norm_xhat(x[a], mq, rq), s1, s2, rq);
        dx[a] = fresh ? g : dx[a] + g;
    }
}

static void f_groupnorm_forward(ggdm_cuda_ctx *cx, float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                const float *beta, int N, int C, int L, int G, float eps)
{
    int M;
    if (cx->failed || ggdm_elem_groupnorm_forward_mean_count(N, C, L, G) <= 0)
        return;
    prof_enter(cx);
    M = (C / G) * L;
    k_fast_norm<<<N * G, norm_threads(M), 0, cx->stream>>>(y, mean, rstd, x, gamma, beta, 1, (long long)M, 1, M, G, C / G,
                                                      L, eps);
    ck_launch(cx, "kernel fast groupnorm");
}

static void f_chnorm_forward(ggdm_cuda_ctx *cx, float *y, float *mean, float *rstd, const float *x, const float *g,
                             const float *beta, int N, int C, int L, float eps)
{
    if (cx->failed || ggdm_elem_chnorm_forward_mean_count(N, C, L) <= 0)
        return;
    prof_enter(cx);
    k_fast_norm<<<N * L, norm_threads(C), 0, cx->stream>>>(y, mean, rstd, x, g, beta, L, (long long)C * L, L, C, 1, 0, 1,
                                                      eps);
    ck_launch(cx, "kernel fast chnorm");
}

static void f_groupnorm_backward(ggdm_cuda_ctx *cx, float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                 const float *mean, const float *rstd, const float *gamma, int N, int C, int L, int G)
{
    if (cx->failed || ggdm_elem_groupnorm_backward_dx_count(N, C, L, G) <= 0)
        return;
    if (dx) {
        int M = (C / G) * L;
        prof_enter(cx);
        k_fast_norm_bwd<<<N * G, norm_threads(M), 0, cx->stream>>>(dx, dy, x, mean, rstd, gamma, 1, (long long)M, 1, M, G,
                                                              C / G, L, 0);
        if (ck_launch(cx, "kernel fast groupnorm_backward"))
            return;
    }
    // the parameter gradients (training only): the exact element kernels
    l_groupnorm_backward_dgamma(cx, dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, L, G);
    l_groupnorm_backward_dbeta(cx, dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, L, G);
}

void f_chnorm_backward(ggdm_cuda_ctx *cx, float *dx, float *dg, const float *dy, const float *x, const float *mean,
                              const float *rstd, const float *g, int N, int C, int L)
{
    int fresh;
    if (cx->failed || ggdm_elem_chnorm_backward_dx_count(N, C, L) <= 0)
        return;
    fresh = dx ? zero_take(cx, dx, (size_t)N * C * L) : (zero_flush(cx), 0); // see zero_take
    if (dx) {
        prof_enter(cx);
        k_fast_norm_bwd<<<N * L, norm_threads(C), 0, cx->stream>>>(dx, dy, x, mean, rstd, g, L, (long long)C * L, L, C, 1,
                                                              0, 1, fresh);
        if (ck_launch(cx, "kernel fast chnorm_backward"))
            return;
    }
    l_chnorm_backward_dg(cx, dx, dg, dy, x, mean, rstd, g, N, C, L);
}

// A ResnetBlock half's activation path (ggdm/backend.h, gn_act_*), one block per group
// q = n*G + gi of M = (C/G)*L contiguous values: the GroupNorm of k_fast_norm, then per
// element the scale_shift and silu of the element kernels (ggdm/elem.h formulas).
__global__ void __launch_bounds__(RED_THREADS)
k_fast_gn_act(float *g, float *mean, float *rstd, float *f, float *a, const float *h, const float *gamma,
              const float *beta, const float *ss, int C, int L, int G)
{
    __shared__ float red[RED_THREADS];
    int q = blockIdx.x, i, Cg = C / G, M = Cg * L, n = q / G, gi = q % G;
    long long base = (long long)q * M;
    const float *b = h + base;
    float m, r;
    block_stats(b, 1, M, GGDM_NORM_EPS, red, &m, &r, &mean[q], &rstd[q]);
    for (i = threadIdx.x; i < M; i += blockDim.x) {
        int c = gi * Cg + i / L;
        long long o = base + i;
        float v = ggdm_norm_xhat(b[i], m, r);
        if (gamma)
            v = v * gamma[c];
        if (beta)
            v = v + beta[c];
        g[o] = v;
        if (ss) {
            v = (v * (ss[(long long)n * 2 * C + c] + 1.0f)) + ss[(long long)n * 2 * C + C + c];
            f[o] = v;
        }
        a[o] = ggdm_silu(v);
    }
}

// Its input gradient: t = da * silu'(f or g) [* (scale + 1)], then GroupNorm's backward with
// dy = t (sums over the group, then dh); dh is written (as 0 + the value, as the separate
// operations leave it in a zeroed dh).
__device__ static float gn_act_t(const float *da, const float *g, const float *f, const float *ss, long long o, int n,
                                 int c, int C)
{
    float t = 0.0f + da[o] * ggdm_silu_grad(ss ? f[o] : g[o]);
    if (ss)
        t = 0.0f + t * (ss[(long long)n * 2 * C + c] + 1.0f);
    return t;
}

__global__ void __launch_bounds__(RED_THREADS)
k_fast_gn_act_bwd(float *dh, const float *da, const float *h, const float *mean, const float *rstd, const float *gamma,
                  const float *g, const float *f, const float *ss, int C, int L, int G)
{
    __shared__ float red[RED_THREADS];
    int q = blockIdx.x, i, Cg = C / G, M = Cg * L, n = q / G, gi = q % G;
    long long base = (long long)q * M;
    float mq = mean[q], rq = rstd[q], s1 = 0.0f, s2 = 0.0f;
    for (i = threadIdx.x; i < M; i += blockDim.x) {
        int c = gi * Cg + i / L;
        long long o = base + i;
        float t = gn_act_t(da, g, f, ss, o, n, c, C);
        float d = gamma ? t * gamma[c] : t;
        s1 = s1 + d;
        s2 = fmaf(d, ggdm_norm_xhat(h[o], mq, rq), s2);
    }
    s1 = block_sum(s1, red) / (float)M;
    s2 = block_sum(s2, red) / (float)M;
    for (i = threadIdx.x; i < M; i += blockDim.x) {
        int c = gi * Cg + i / L;
        long long o = base + i;
        float t = gn_act_t(da, g, f, ss, o, n, c, C);
        float d = gamma ? t * gamma[c] : t;
        dh[o] = 0.0f + ggdm_norm_dx(d, ggdm_norm_xhat(h[o], mq, rq), s1, s2, rq);
    }
}

void f_gn_act_forward(ggdm_cuda_ctx *cx, float *g, float *mean, float *rstd, float *f, float *a, const float *h,
                             const float *gamma, const float *beta, const float *ss, int N, int C, int L, int G)
{
    if (cx->failed || ggdm_elem_groupnorm_forward_mean_count(N, C, L, G) <= 0)
        return;
    prof_enter(cx);
    k_fast_gn_act<<<N * G, norm_threads((long long)(C / G) * L), 0, cx->stream>>>(g, mean, rstd, f, a, h, gamma, beta, f ? ss : NULL, C, L, G);
    ck_launch(cx, "kernel fast gn_act");
}

void f_gn_act_backward(ggdm_cuda_ctx *cx, float *dh, float *scratch, const float *da, const float *h, const float *mean,
                              const float *rstd, const float *gamma, const float *g, const float *f, const float *ss,
                              int N, int C, int L, int G)
{
    (void)scratch; // not needed: one kernel reads da and writes dh
    if (cx->failed || ggdm_elem_groupnorm_backward_dx_count(N, C, L, G) <= 0)
        return;
    prof_enter(cx);
    k_fast_gn_act_bwd<<<N * G, norm_threads((long long)(C / G) * L), 0, cx->stream>>>(dh, da, h, mean, rstd, gamma, g, f, f ? ss : NULL, C, L,
                                                            G);
    ck_launch(cx, "kernel fast gn_act_backward");
}

// ------------------------------------------------------------------ the op

extern "C" void ggdm_cuda_norm_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    const ggdm_op_attr *a = &c->a;
    int fast = cx->mode == GGDM_CUDA_FAST, L = a->H * a->W;
    if (cx->failed)
        return;
    if (a->kind == GGDM_NORM_GROUP && a->block > 0) {
        tape_or_run(cx, x_gnblk_forward, c->out, c->cache[0], c->cache[1], c->in[0], c->in[1], c->in[2], a->N, a->C, L,
                    a->G, a->eps, (long)a->block);
    } else if (a->kind == GGDM_NORM_GROUP) {
        if (fast)
            tape_or_run(cx, f_groupnorm_forward, c->out, c->cache[0], c->cache[1], c->in[0], c->in[1], c->in[2], a->N,
                        a->C, L, a->G, a->eps);
        else
            tape_or_run(cx, x_groupnorm_forward, c->out, c->cache[0], c->cache[1], c->in[0], c->in[1], c->in[2], a->N,
                        a->C, L, a->G, a->eps);
    } else if (a->kind == GGDM_NORM_CHANNEL) {
        if (fast)
            tape_or_run(cx, f_chnorm_forward, c->out, c->cache[0], c->cache[1], c->in[0], c->in[1], c->in[2], a->N, a->C,
                        L, a->eps);
        else
            tape_or_run(cx, x_chnorm_forward, c->out, c->cache[0], c->cache[1], c->in[0], c->in[1], c->in[2], a->N, a->C,
                        L, a->eps);
    } else {
        cuda_unsupported(cx, "norm", "this kind");
    }
}

extern "C" void ggdm_cuda_norm_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    const ggdm_op_attr *a = &c->a;
    int fast = cx->mode == GGDM_CUDA_FAST, L = a->H * a->W;
    const float *mean = c->cache[0], *rstd = c->cache[1];
    if (cx->failed || (!c->din[0] && !c->din[1] && !c->din[2]))
        return;
    // (the backward does not read eps: the cached rstd carries it)
    if (a->kind == GGDM_NORM_GROUP && a->block > 0) {
        if (c->din[0])
            tape_or_run(cx, x_gnblk_backward, c->din[0], c->dout, c->in[0], mean, rstd, c->in[1], a->N, a->C, L, a->G,
                        (long)a->block);
        if (c->din[1] || c->din[2])
            tape_or_run(cx, x_groupnorm_backward, (float *)NULL, c->din[1], c->din[2], c->dout, c->in[0], mean, rstd,
                        c->in[1], a->N, a->C, L, a->G);
    } else if (a->kind == GGDM_NORM_GROUP) {
        if (fast)
            tape_or_run(cx, f_groupnorm_backward, c->din[0], c->din[1], c->din[2], c->dout, c->in[0], mean, rstd,
                        c->in[1], a->N, a->C, L, a->G);
        else
            tape_or_run(cx, x_groupnorm_backward, c->din[0], c->din[1], c->din[2], c->dout, c->in[0], mean, rstd,
                        c->in[1], a->N, a->C, L, a->G);
    } else if (a->kind == GGDM_NORM_CHANNEL) {
        if (fast)
            tape_or_run(cx, f_chnorm_backward, c->din[0], c->din[1], c->dout, c->in[0], mean, rstd, c->in[1], a->N,
                        a->C, L);
        else
            tape_or_run(cx, x_chnorm_backward, c->din[0], c->din[1], c->dout, c->in[0], mean, rstd, c->in[1], a->N,
                        a->C, L);
        if (c->din[2]) // the bias gradient (LayerNorm with a bias): the exact element kernel, both modes
            tape_or_run(cx, x_chnorm_beta_backward, c->din[2], c->dout, a->N, a->C, L);
    } else {
        cuda_unsupported(cx, "norm", "this kind");
    }
}

// backend.h's fused activation path (gn_act_*), on the instance ctx.
void ggdm_cuda_gn_act_forward(void *ctx, float *g, float *mean, float *rstd, float *f, float *a, const float *h,
                              const float *gamma, const float *beta, const float *ss, int N, int C, int L, int G)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    tape_or_run(cx, f_gn_act_forward, g, mean, rstd, f, a, h, gamma, beta, ss, N, C, L, G);
}

void ggdm_cuda_gn_act_backward(void *ctx, float *dh, float *scratch, const float *da, const float *h, const float *mean,
                               const float *rstd, const float *gamma, const float *g, const float *f, const float *ss,
                               int N, int C, int L, int G)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    tape_or_run(cx, f_gn_act_backward, dh, scratch, da, h, mean, rstd, gamma, g, f, ss, N, C, L, G);
}
