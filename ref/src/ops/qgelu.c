/*
 * QGELU: CLIP's quick_gelu, y = x * sigmoid(1.702 x) (ggdm/elem/qgelu.h defines the forward
 * and the VJP, sigmoid with ggdm_expf as ggdm_silu). Element-wise: the reference driver is the
 * element functions (the elem driver's launches), so both have the same bits by construction.
 */
#include "op_impl.h"

#include "ggdm/elem/qgelu.h"

ggdm_status ggdm_op_qgelu_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_op_info_begin(info, 1, 0);
    if (!ggdm_op_shape_ok(a))
        return GGDM_ERR_ARG;
    info->vjp_in = 1;
    return ggdm_op_info_out(info, &z, a->N, a->C, a->H, a->W);
}

void ggdm_elem_qgelu_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    long n = ggdm_op_count(&c->a);
    (void)ctx;
    GGDM_ELEM_LAUNCH(qgelu_forward, y, (y, c->in[0], n, idx_), (n))
}

void ggdm_elem_qgelu_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dx = c->din[0];
    long n = ggdm_op_count(&c->a);
    (void)ctx;
    GGDM_ELEM_LAUNCH(qgelu_backward, dx, (dx, c->dout, c->in[0], n, idx_), (n))
}

void ggdm_cpu_qgelu_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_elem_qgelu_fwd(ctx, c);
}

void ggdm_cpu_qgelu_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_elem_qgelu_vjp(ctx, c);
}
