/*
 * RELU: y = max(x, 0) (ResNet-18's activation; ggdm/elem/relu.h defines the chains). Element-
 * wise, so the reference driver runs the element functions in order, as the elem driver does.
 */
#include "op_impl.h"

#include "ggdm/elem/relu.h"

ggdm_status ggdm_op_relu_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_op_info_begin(info, 1, 0);
    if (!ggdm_op_shape_ok(a))
        return GGDM_ERR_ARG;
    info->vjp_in = 1;
    return ggdm_op_info_out(info, &z, a->N, a->C, a->H, a->W);
}

void ggdm_elem_relu_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    const float *x = c->in[0];
    long n = ggdm_op_count(&c->a);
    (void)ctx;
    GGDM_ELEM_LAUNCH(relu_forward, y, (y, x, n, idx_), (n))
}

void ggdm_elem_relu_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dx = c->din[0];
    const float *dy = c->dout, *x = c->in[0];
    long n = ggdm_op_count(&c->a);
    (void)ctx;
    GGDM_ELEM_LAUNCH(relu_backward, dx, (dx, dy, x, n, idx_), (n))
}

void ggdm_cpu_relu_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_elem_relu_fwd(ctx, c);
}

void ggdm_cpu_relu_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_elem_relu_vjp(ctx, c);
}
