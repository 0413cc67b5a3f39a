/*
 * AFFINE: a per-channel scale and shift, y = (x * s[c]) + t[c] (ggdm/elem/affine.h defines
 * the chains; docs/nn.md, "Stable Diffusion's element ops"). An absent s / t (input 1 / 2
 * NULL) is the scalar attribute scale / shift for every channel: (x + 1) / 2 is scale 0.5,
 * shift 0.5; the VAE's z / 0.18215 is scale 1 / 0.18215, shift 0; torchvision's Normalize is
 * s = 1 / std, t = -mean / std. VJP: dx, ds (s present), dt (t present), ADDED into.
 *
 * The reference driver is the element functions in order (the elem driver's launches), so
 * both have the same bits by construction.
 */
#include "op_impl.h"

#include "ggdm/elem/affine.h"

ggdm_status ggdm_op_affine_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_status st;
    ggdm_op_info_begin(info, 3, 0);
    if (!ggdm_op_shape_ok(a) || !(a->scale == a->scale) || !(a->shift == a->shift))
        return GGDM_ERR_ARG;
    st = ggdm_op_info_out(info, &z, a->N, a->C, a->H, a->W);
    info->vjp_in = 3; /* x (for ds), s (for dx) */
    info->flops = 2.0 * (double)info->out;
    return st;
}

void ggdm_elem_affine_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    const float *x = c->in[0], *s = c->in[1], *t = c->in[2];
    int N = c->a.N, C = c->a.C;
    long P = (long)c->a.H * c->a.W;
    float scale = c->a.scale, shift = c->a.shift;
    (void)ctx;
#define A_ (y, x, s, t, N, C, P, scale, shift, idx_)
#define S_ (N, C, P)
    GGDM_ELEM_LAUNCHES_affine_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_elem_affine_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dx = c->din[0], *ds = c->in[1] ? c->din[1] : NULL, *dt = c->in[2] ? c->din[2] : NULL;
    const float *dy = c->dout, *x = c->in[0], *s = c->in[1];
    int N = c->a.N, C = c->a.C;
    long P = (long)c->a.H * c->a.W;
    float scale = c->a.scale;
    (void)ctx;
#define A_ (dx, ds, dt, dy, x, s, N, C, P, scale, idx_)
#define S_ (N, C, P)
    GGDM_ELEM_LAUNCHES_affine_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_cpu_affine_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_elem_affine_fwd(ctx, c);
}

void ggdm_cpu_affine_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_elem_affine_vjp(ctx, c);
}
