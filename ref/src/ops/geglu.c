/*
 * GEGLU: Stable Diffusion's feed-forward gate, x [N, 2Ch, H, W] -> y [N, Ch, H, W] =
 * x[:, :Ch] * gelu(x[:, Ch:]) (ggdm/elem/geglu.h defines the chains). Element-wise, so the
 * reference driver is the element functions in order, the elem driver the same launches:
 * the bits are the same by construction.
 *
 * The op added the way every op is added (docs/ops.md): its manifest line in ggdm/ops.def,
 * this math file, its element file ggdm/elem/geglu.h, and its GPU file gpu/ops/geglu.cu.
 */
#include "op_impl.h"

#include "ggdm/elem/geglu.h"

ggdm_status ggdm_op_geglu_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_op_info_begin(info, 1, 0);
    if (!ggdm_op_shape_ok(a) || a->C % 2)
        return GGDM_ERR_ARG;
    info->vjp_in = 1;
    return ggdm_op_info_out(info, &z, a->N, a->C / 2, a->H, a->W);
}

void ggdm_elem_geglu_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    const float *x = c->in[0];
    int N = c->a.N, Ch = c->a.C / 2;
    long P = (long)c->a.H * c->a.W;
    (void)ctx;
#define A_ (y, x, N, Ch, P, idx_)
#define S_ (N, Ch, P)
    GGDM_ELEM_LAUNCHES_geglu_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_elem_geglu_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dx = c->din[0];
    const float *dy = c->dout, *x = c->in[0];
    int N = c->a.N, Ch = c->a.C / 2;
    long P = (long)c->a.H * c->a.W;
    (void)ctx;
#define A_ (dx, dy, x, N, Ch, P, idx_)
#define S_ (N, Ch, P)
    GGDM_ELEM_LAUNCHES_geglu_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_cpu_geglu_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_elem_geglu_fwd(ctx, c);
}

void ggdm_cpu_geglu_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_elem_geglu_vjp(ctx, c);
}
