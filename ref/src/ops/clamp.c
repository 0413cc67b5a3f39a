/*
 * CLAMP: y = min(max(x, lo), hi) (the VAE decoder's output to [-1, 1] or [0, 1]); VJP dx += dy
 * where lo <= x <= hi (ggdm/elem/clamp.h defines both, NaN included). Attributes lo <= hi, no
 * NaN (infinities allowed), else GGDM_ERR_ARG. The reference driver is the element functions
 * (the elem driver's launches), so both have the same bits by construction.
 */
#include "op_impl.h"

#include "ggdm/elem/clamp.h"

ggdm_status ggdm_op_clamp_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_op_info_begin(info, 1, 0);
    if (!ggdm_op_shape_ok(a) || !(a->lo <= a->hi)) /* also refuses a NaN bound */
        return GGDM_ERR_ARG;
    info->vjp_in = 1;
    return ggdm_op_info_out(info, &z, a->N, a->C, a->H, a->W);
}

void ggdm_elem_clamp_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    long n = ggdm_op_count(&c->a);
    (void)ctx;
    GGDM_ELEM_LAUNCH(clamp_forward, y, (y, c->in[0], n, c->a.lo, c->a.hi, idx_), (n))
}

void ggdm_elem_clamp_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dx = c->din[0];
    long n = ggdm_op_count(&c->a);
    (void)ctx;
    GGDM_ELEM_LAUNCH(clamp_backward, dx, (dx, c->dout, c->in[0], n, c->a.lo, c->a.hi, idx_), (n))
}

void ggdm_cpu_clamp_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_elem_clamp_fwd(ctx, c);
}

void ggdm_cpu_clamp_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_elem_clamp_vjp(ctx, c);
}
