/*
 * BNORM: BatchNorm in eval mode (ResNet-18), x [N, C, H, W] and p [4, C] = weight, bias,
 * running_mean, running_var: y = ((x - mean) * alpha) + bias, alpha = weight * (1 / sqrtf(var
 * + eps)) (ggdm/elem/bnorm.h defines the chains; docs/nn.md, "Stable Diffusion's element
 * ops"). VJP: dx; dp's weight and bias rows (the running statistics get nothing), ADDED into.
 * No cache: the VJP recomputes alpha from p (the same bits).
 *
 * The reference driver is the element functions in order (the elem driver's launches), so
 * both have the same bits by construction.
 */
#include "op_impl.h"

#include "ggdm/elem/bnorm.h"

ggdm_status ggdm_op_bnorm_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_status st;
    ggdm_op_info_begin(info, 2, 0);
    if (!ggdm_op_shape_ok(a) || !(a->eps > 0.0f) || a->eps > 1.0f)
        return GGDM_ERR_ARG;
    st = ggdm_op_info_out(info, &z, a->N, a->C, a->H, a->W);
    info->vjp_in = 3; /* x (for dweight), p */
    info->flops = 2.0 * (double)info->out;
    return st;
}

void ggdm_elem_bnorm_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    const float *x = c->in[0], *p = c->in[1];
    int N = c->a.N, C = c->a.C;
    long P = (long)c->a.H * c->a.W;
    float eps = c->a.eps;
    (void)ctx;
#define A_ (y, x, p, N, C, P, eps, idx_)
#define S_ (N, C, P)
    GGDM_ELEM_LAUNCHES_bnorm_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_elem_bnorm_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dx = c->din[0], *dp = c->din[1];
    const float *dy = c->dout, *x = c->in[0], *p = c->in[1];
    int N = c->a.N, C = c->a.C;
    long P = (long)c->a.H * c->a.W;
    float eps = c->a.eps;
    (void)ctx;
#define A_ (dx, dp, dy, x, p, N, C, P, eps, idx_)
#define S_ (N, C, P)
    GGDM_ELEM_LAUNCHES_bnorm_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_cpu_bnorm_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_elem_bnorm_fwd(ctx, c);
}

void ggdm_cpu_bnorm_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_elem_bnorm_vjp(ctx, c);
}
