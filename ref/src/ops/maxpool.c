/*
 * MAXPOOL: max pooling over KH x KW windows, strides sh, sw, padding ph, pw (ResNet-18's 3x3
 * s2 p1; PyTorch's max_pool2d with ceil_mode False, dilation 1): ggdm/elem/maxpool.h defines
 * the argmax (the first maximum in row-major window order wins; NaN propagates) and the VJP's
 * chains (dx element by dx element, the windows in output order). No cache: the VJP
 * recomputes the argmax from x.
 *
 * Attributes: KH, KW >= 1, sh, sw >= 1, 0 <= ph <= KH / 2, 0 <= pw <= KW / 2 (PyTorch's
 * limit: every window holds an input value), H + 2 ph >= KH, W + 2 pw >= KW; else
 * GGDM_ERR_ARG. The reference driver is the element functions in order (the elem driver's
 * launches), so both have the same bits by construction.
 */
#include "op_impl.h"

#include "ggdm/elem/maxpool.h"

ggdm_status ggdm_op_maxpool_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    int Ho, Wo;
    ggdm_op_info_begin(info, 1, 0);
    if (!ggdm_op_shape_ok(a))
        return GGDM_ERR_ARG;
    Ho = ggdm_elem_maxpool_out(a->H, a->KH, a->sh, a->ph);
    Wo = ggdm_elem_maxpool_out(a->W, a->KW, a->sw, a->pw);
    if (Ho < 1 || Wo < 1)
        return GGDM_ERR_ARG;
    info->vjp_in = 1;
    return ggdm_op_info_out(info, &z, a->N, a->C, Ho, Wo);
}

#define MP_DIMS c->a.N, c->a.C, c->a.H, c->a.W, c->a.KH, c->a.KW, c->a.sh, c->a.sw, c->a.ph, c->a.pw

void ggdm_elem_maxpool_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    (void)ctx;
    GGDM_ELEM_LAUNCH(maxpool_forward, y, (y, c->in[0], MP_DIMS, idx_), (MP_DIMS))
}

void ggdm_elem_maxpool_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dx = c->din[0];
    (void)ctx;
    GGDM_ELEM_LAUNCH(maxpool_backward, dx, (dx, c->dout, c->in[0], MP_DIMS, idx_), (MP_DIMS))
}

void ggdm_cpu_maxpool_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_elem_maxpool_fwd(ctx, c);
}

void ggdm_cpu_maxpool_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_elem_maxpool_vjp(ctx, c);
}
