/*
 * NORM: the normalisations as one op (docs/nn.md, "GroupNorm", "ChannelNorm"):
 *   kind GGDM_NORM_GROUP:   G groups of C/G contiguous channels over (C/G) H W values, then
 *                           gamma [C], beta [C] (either absent: no multiply / no add); caches
 *                           mean, rstd [N*G];
 *   kind GGDM_NORM_CHANNEL: over the C channels at each of the H W positions, then the gain
 *                           g [C] (input 1) and the bias beta [C] (input 2; LayerNorm with
 *                           weight and bias, CLIP and Stable Diffusion's transformer blocks),
 *                           either absent: no multiply / no add; caches mean, rstd [N*H*W].
 * rstd = 1 / sqrtf(var + eps) with the op's eps (the Unet1D's 1e-5 = GGDM_NORM_EPS).
 *
 * The elem driver runs the element functions of ggdm/elem.h, which take the eps (with
 * GGDM_NORM_EPS the bits of the plain functions): every eps has its element form.
 */
#include "op_impl.h"

#include "ggdm/elem/gnblk.h"

ggdm_status ggdm_op_norm_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_status st;
    size_t stats;
    ggdm_op_info_begin(info, 3, 2);
    if (!ggdm_op_shape_ok(a) || !(a->eps > 0.0f) || a->eps > 1.0f || a->block < 0 ||
        (a->block > 0 && a->kind != GGDM_NORM_GROUP))
        return GGDM_ERR_ARG;
    if (a->kind == GGDM_NORM_GROUP) {
        if (a->G < 1 || a->C % a->G)
            return GGDM_ERR_ARG;
        stats = ggdm_op_mul(&z, (size_t)a->N, (size_t)a->G);
    } else if (a->kind == GGDM_NORM_CHANNEL) {
        stats = ggdm_op_mul4(&z, (size_t)a->N, (size_t)a->H, (size_t)a->W, 1);
    } else {
        return GGDM_ERR_ARG;
    }
    st = ggdm_op_info_out(info, &z, a->N, a->C, a->H, a->W);
    info->cache[0] = info->cache[1] = stats;
    info->vjp_in = 3; /* x, gamma */
    return st;
}

static long plane(const ggdm_op_attr *a)
{
    return (long)a->H * a->W;
}

/* GroupNorm with blocked statistics (ggdm/elem/gnblk.h): the element functions' chains, each
 * group's statistics (and the VJP's m1, m2) computed once. */
static void gnblk_fwd(const ggdm_op_call *c)
{
    const ggdm_op_attr *a = &c->a;
    float *y = c->out, *mean = c->cache[0], *rstd = c->cache[1];
    const float *x = c->in[0], *gamma = c->in[1], *beta = c->in[2];
    int N = a->N, C = a->C, L = (int)plane(a), G = a->G;
    long B = a->block, q, M = (long)(C / G) * L;
    float eps = a->eps;
    for (q = 0; q < (long)N * G; q++) {
        float m, v;
        ggdm_gnblk_mean_var(x + q * M, M, B, &m, &v);
        mean[q] = m;
        rstd[q] = ggdm_norm_rstd_eps(v, eps);
    }
    GGDM_ELEM_LAUNCH(gnblk_forward, y, (y, mean, rstd, x, gamma, beta, N, C, L, G, eps, B, idx_), (N, C, L, G, B))
}

static void gnblk_vjp(const ggdm_op_call *c, int elem)
{
    const ggdm_op_attr *a = &c->a;
    float *dx = c->din[0];
    const float *dy = c->dout, *x = c->in[0], *mean = c->cache[0], *rstd = c->cache[1], *gamma = c->in[1];
    int N = a->N, C = a->C, L = (int)plane(a), G = a->G;
    long B = a->block, Cg = C / G, M = Cg * L, q, j;
    if (dx && elem) {
        GGDM_ELEM_LAUNCH(gnblk_backward, dx, (dx, dy, x, mean, rstd, gamma, N, C, L, G, B, idx_), (N, C, L, G, B))
    } else if (dx) {
        for (q = 0; q < (long)N * G; q++) {
            long g = q % G;
            float m = mean[q], r = rstd[q], m1, m2;
            const float *xq = x + q * M, *dq = dy + q * M;
            ggdm_gnblk_m1_m2(xq, dq, gamma, Cg, L, g, m, r, B, &m1, &m2);
            for (j = 0; j < M; j++) {
                float dh = gamma ? dq[j] * gamma[g * Cg + j / L] : dq[j];
                dx[q * M + j] = dx[q * M + j] + ggdm_norm_dx(dh, ggdm_norm_xhat(xq[j], m, r), m1, m2, r);
            }
        }
    }
    if (c->din[1] || c->din[2]) { /* GroupNorm's own parameter-gradient chains */
        float *dgamma = c->din[1], *dbeta = c->din[2];
        if (elem) {
            float *dx_ = NULL; /* (the launch table tests its outputs by name: dx is not launched) */
            {
                float *dx = dx_;
#define A_ (dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, L, G, idx_)
#define S_ (N, C, L, G)
                GGDM_ELEM_LAUNCHES_groupnorm_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
            }
        } else {
            ggdm_groupnorm_backward(NULL, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, L, G);
        }
    }
}

void ggdm_cpu_norm_fwd(void *ctx, const ggdm_op_call *c)
{
    const ggdm_op_attr *a = &c->a;
    (void)ctx;
    if (a->kind == GGDM_NORM_GROUP && a->block > 0)
        gnblk_fwd(c);
    else if (a->kind == GGDM_NORM_GROUP)
        ggdm_groupnorm_forward_eps(c->out, c->cache[0], c->cache[1], c->in[0], c->in[1], c->in[2], a->N, a->C,
                                   (int)plane(a), a->G, a->eps);
    else
        ggdm_chnorm_forward_beta(c->out, c->cache[0], c->cache[1], c->in[0], c->in[1], c->in[2], a->N, a->C,
                                 (int)plane(a), a->eps);
}

void ggdm_cpu_norm_vjp(void *ctx, const ggdm_op_call *c)
{
    const ggdm_op_attr *a = &c->a;
    (void)ctx;
    if (a->kind == GGDM_NORM_GROUP && a->block > 0)
        gnblk_vjp(c, 0);
    else if (a->kind == GGDM_NORM_GROUP)
        ggdm_groupnorm_backward(c->din[0], c->din[1], c->din[2], c->dout, c->in[0], c->cache[0], c->cache[1],
                                c->in[1], a->N, a->C, (int)plane(a), a->G);
    else {
        ggdm_chnorm_backward(c->din[0], c->din[1], c->dout, c->in[0], c->cache[0], c->cache[1], c->in[1], a->N, a->C,
                             (int)plane(a));
        ggdm_chnorm_backward_beta(c->din[2], c->dout, a->N, a->C, (int)plane(a));
    }
}

void ggdm_elem_norm_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out, *mean = c->cache[0], *rstd = c->cache[1];
    const float *x = c->in[0], *gamma = c->in[1], *beta = c->in[2];
    int N = c->a.N, C = c->a.C, L = (int)plane(&c->a), G = c->a.G;
    float eps = c->a.eps;
    (void)ctx;
    if (c->a.kind == GGDM_NORM_GROUP && c->a.block > 0) {
        long B = c->a.block;
#define A_ (y, mean, rstd, x, gamma, beta, N, C, L, G, eps, B, idx_)
#define S_ (N, C, L, G, B)
        GGDM_ELEM_LAUNCHES_gnblk_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
    } else if (c->a.kind == GGDM_NORM_GROUP) {
#define A_ (y, mean, rstd, x, gamma, beta, N, C, L, G, eps, idx_)
#define S_ (N, C, L, G)
        GGDM_ELEM_LAUNCHES_groupnorm_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
    } else {
        const float *g = gamma;
#define A_ (y, mean, rstd, x, g, beta, N, C, L, eps, idx_)
#define S_ (N, C, L)
        GGDM_ELEM_LAUNCHES_chnorm_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
    }
}

void ggdm_elem_norm_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dx = c->din[0], *dgamma = c->din[1], *dbeta = c->din[2];
    const float *dy = c->dout, *x = c->in[0], *mean = c->cache[0], *rstd = c->cache[1], *gamma = c->in[1];
    int N = c->a.N, C = c->a.C, L = (int)plane(&c->a), G = c->a.G;
    (void)ctx; /* the backward does not read eps: its element functions serve every eps */
    if (c->a.kind == GGDM_NORM_GROUP && c->a.block > 0) {
        gnblk_vjp(c, 1);
    } else if (c->a.kind == GGDM_NORM_GROUP) {
#define A_ (dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, L, G, idx_)
#define S_ (N, C, L, G)
        GGDM_ELEM_LAUNCHES_groupnorm_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
    } else {
        float *dg = dgamma;
        const float *g = gamma;
#define A_ (dx, dg, dy, x, mean, rstd, g, N, C, L, idx_)
#define S_ (N, C, L)
        GGDM_ELEM_LAUNCHES_chnorm_backward(GGDM_ELEM_RUN)
#undef A_
#define A_ (dbeta, dy, N, C, L, idx_)
        GGDM_ELEM_LAUNCHES_chnorm_beta_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
    }
}
