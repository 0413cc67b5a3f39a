/* UPSAMPLE: nearest-neighbour upsampling by 2 along W (H = 1; ggdm_upsample2_*: docs/nn.md). */
#include "op_impl.h"

ggdm_status ggdm_op_upsample_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_op_info_begin(info, 1, 0);
    if (!ggdm_op_shape_ok(a) || a->W > (1 << 29))
        return GGDM_ERR_ARG;
    if (a->H != 1)
        return GGDM_ERR_UNSUPPORTED; /* 2-D nearest comes with Stable Diffusion's networks */
    return ggdm_op_info_out(info, &z, a->N, a->C, 1, 2 * a->W);
}

void ggdm_cpu_upsample_fwd(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    ggdm_upsample2_forward(c->out, c->in[0], c->a.N, c->a.C, c->a.W);
}

void ggdm_cpu_upsample_vjp(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    if (c->din[0])
        ggdm_upsample2_backward(c->din[0], c->dout, c->a.N, c->a.C, c->a.W);
}

void ggdm_elem_upsample_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    const float *x = c->in[0];
    int N = c->a.N, C = c->a.C, L = c->a.W;
    (void)ctx;
#define A_ (y, x, N, C, L, idx_)
#define S_ (N, C, L)
    GGDM_ELEM_LAUNCHES_upsample2_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_elem_upsample_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dx = c->din[0];
    const float *dy = c->dout;
    int N = c->a.N, C = c->a.C, L = c->a.W;
    (void)ctx;
#define A_ (dx, dy, N, C, L, idx_)
#define S_ (N, C, L)
    GGDM_ELEM_LAUNCHES_upsample2_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}
