/*
 * AVGPOOL: the global average pool, x [N, C, H, W] -> y [N, C, 1, 1] (ResNet-18's
 * adaptive_avg_pool2d to 1 x 1): y = (chain over the H W positions of acc + x) / (float)(H W),
 * VJP dx += dy / (float)(H W) (ggdm/elem/avgpool.h). H W <= 2^24 (exact as a float), else
 * GGDM_ERR_ARG. The reference driver is the element functions in order (the elem driver's
 * launches), so both have the same bits by construction.
 */
#include "op_impl.h"

#include "ggdm/elem/avgpool.h"

ggdm_status ggdm_op_avgpool_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_op_info_begin(info, 1, 0);
    if (!ggdm_op_shape_ok(a) || (long)a->H * a->W > (1L << 24))
        return GGDM_ERR_ARG;
    return ggdm_op_info_out(info, &z, a->N, a->C, 1, 1); /* the VJP reads dy only */
}

void ggdm_elem_avgpool_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    long P = (long)c->a.H * c->a.W;
    (void)ctx;
    GGDM_ELEM_LAUNCH(avgpool_forward, y, (y, c->in[0], c->a.N, c->a.C, P, idx_), (c->a.N, c->a.C, P))
}

void ggdm_elem_avgpool_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dx = c->din[0];
    long P = (long)c->a.H * c->a.W;
    (void)ctx;
    GGDM_ELEM_LAUNCH(avgpool_backward, dx, (dx, c->dout, c->a.N, c->a.C, P, idx_), (c->a.N, c->a.C, P))
}

void ggdm_cpu_avgpool_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_elem_avgpool_fwd(ctx, c);
}

void ggdm_cpu_avgpool_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_elem_avgpool_vjp(ctx, c);
}
