/* GELU: the erf GELU, element-wise (ggdm_gelu_*: docs/nn.md). */
#include "op_impl.h"

ggdm_status ggdm_op_gelu_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_op_info_begin(info, 1, 0);
    if (!ggdm_op_shape_ok(a))
        return GGDM_ERR_ARG;
    info->vjp_in = 1;
    return ggdm_op_info_out(info, &z, a->N, a->C, a->H, a->W);
}

void ggdm_cpu_gelu_fwd(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    ggdm_gelu_forward(c->out, c->in[0], ggdm_op_count(&c->a));
}

void ggdm_cpu_gelu_vjp(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    if (c->din[0])
        ggdm_gelu_backward(c->din[0], c->dout, c->in[0], ggdm_op_count(&c->a));
}

void ggdm_elem_gelu_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    const float *x = c->in[0];
    long n = ggdm_op_count(&c->a);
    (void)ctx;
#define A_ (y, x, n, idx_)
#define S_ (n)
    GGDM_ELEM_LAUNCHES_gelu_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_elem_gelu_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dx = c->din[0];
    const float *dy = c->dout, *x = c->in[0];
    long n = ggdm_op_count(&c->a);
    (void)ctx;
#define A_ (dx, dy, x, n, idx_)
#define S_ (n)
    GGDM_ELEM_LAUNCHES_gelu_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}
