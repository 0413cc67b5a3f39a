/*
 * FILM: y = x * (scale + 1) + shift with ss [N, 2C] = [scale, shift] per sample and channel,
 * over the H W positions (ggdm_scale_shift_*: docs/nn.md).
 */
#include "op_impl.h"

ggdm_status ggdm_op_film_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_op_info_begin(info, 2, 0);
    if (!ggdm_op_shape_ok(a))
        return GGDM_ERR_ARG;
    info->vjp_in = 3;
    info->vjp_in_for[0] = 2; /* x only for d(input 1) */
    info->vjp_in_for[1] = 1; /* input 1 only for dx */
    return ggdm_op_info_out(info, &z, a->N, a->C, a->H, a->W);
}

void ggdm_cpu_film_fwd(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    ggdm_scale_shift_forward(c->out, c->in[0], c->in[1], c->a.N, c->a.C, c->a.H * c->a.W);
}

void ggdm_cpu_film_vjp(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    ggdm_scale_shift_backward(c->din[0], c->din[1], c->dout, c->in[0], c->in[1], c->a.N, c->a.C, c->a.H * c->a.W);
}

void ggdm_elem_film_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    const float *x = c->in[0], *ss = c->in[1];
    int N = c->a.N, C = c->a.C, L = c->a.H * c->a.W;
    (void)ctx;
#define A_ (y, x, ss, N, C, L, idx_)
#define S_ (N, C, L)
    GGDM_ELEM_LAUNCHES_scale_shift_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_elem_film_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dx = c->din[0], *dss = c->din[1];
    const float *dy = c->dout, *x = c->in[0], *ss = c->in[1];
    int N = c->a.N, C = c->a.C, L = c->a.H * c->a.W;
    (void)ctx;
#define A_ (dx, dss, dy, x, ss, N, C, L, idx_)
#define S_ (N, C, L)
    GGDM_ELEM_LAUNCHES_scale_shift_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}
