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

ggdm_status ggdm_op_norm_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_status st;
    size_t stats;
    ggdm_op_info_begin(info, 3, 2);
    if (!ggdm_op_shape_ok(a) || !(a->eps > 0.0f) || a->eps > 1.0f)
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

void ggdm_cpu_norm_fwd(void *ctx, const ggdm_op_call *c)
{
    const ggdm_op_attr *a = &c->a;
    (void)ctx;
    if (a->kind == GGDM_NORM_GROUP)
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
    if (a->kind == GGDM_NORM_GROUP)
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
    if (c->a.kind == GGDM_NORM_GROUP) {
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
    if (c->a.kind == GGDM_NORM_GROUP) {
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
