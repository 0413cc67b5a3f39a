/*
 * CONV: convolution, x [N, C, H, W], w [Cout, C, KH, KW], b [Cout] (may be absent), zero
 * padding (ph, pw), strides (sh, sw). The 1-D case (H = KH = 1) is ggdm_conv1d_*_ex's
 * chains (docs/nn.md, "Conv1d"); the 2-D case (H > 1 or KH > 1) is not run by the drivers
 * yet (GGDM_ERR_UNSUPPORTED: Stable Diffusion's networks bring it, with the chain over i,
 * kh, kw that reduces to the 1-D one at H = KH = 1).
 */
#include "op_impl.h"

ggdm_status ggdm_op_conv_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    int Wo;
    ggdm_status st;
    ggdm_op_info_begin(info, 3, 0);
    if (!ggdm_op_shape_ok(a) || a->Cout < 1 || a->KH < 1 || a->KW < 1 || a->sh < 1 || a->sw < 1 || a->ph < 0 ||
        a->pw < 0)
        return GGDM_ERR_ARG;
    if (a->H != 1 || a->KH != 1 || a->ph != 0)
        return GGDM_ERR_UNSUPPORTED;
    Wo = ggdm_conv1d_out_len(a->W, a->KW, a->sw, a->pw);
    if (Wo < 1)
        return GGDM_ERR_ARG;
    st = ggdm_op_info_out(info, &z, a->N, a->Cout, 1, Wo);
    if (st != GGDM_OK)
        return st;
    info->scratch_fwd = info->scratch_vjp = ggdm_conv1d_scratch_floats(a->N, a->C, a->W, a->Cout, a->KW, a->sw, a->pw);
    info->vjp_in = 3; /* x for dw, w for dx */
    info->flops = 2.0 * a->N * a->Cout * (double)Wo * a->C * a->KW;
    return GGDM_OK;
}

void ggdm_cpu_conv_fwd(void *ctx, const ggdm_op_call *c)
{
    const ggdm_op_attr *a = &c->a;
    (void)ctx;
    ggdm_conv1d_forward_ex(c->out, c->in[0], c->in[1], c->in[2], a->N, a->C, a->W, a->Cout, a->KW, a->sw, a->pw,
                           c->scratch, c->ex);
}

void ggdm_cpu_conv_vjp(void *ctx, const ggdm_op_call *c)
{
    const ggdm_op_attr *a = &c->a;
    (void)ctx;
    ggdm_conv1d_backward_ex(c->din[0], c->din[1], c->din[2], c->dout, c->in[0], c->in[1], a->N, a->C, a->W, a->Cout,
                            a->KW, a->sw, a->pw, c->scratch, c->ex);
}

void ggdm_elem_conv_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    const float *x = c->in[0], *w = c->in[1], *b = c->in[2];
    int N = c->a.N, Cin = c->a.C, Lin = c->a.W, Cout = c->a.Cout, K = c->a.KW, stride = c->a.sw, pad = c->a.pw;
    (void)ctx;
#define A_ (y, x, w, b, N, Cin, Lin, Cout, K, stride, pad, idx_)
#define S_ (N, Cin, Lin, Cout, K, stride, pad)
    GGDM_ELEM_LAUNCHES_conv1d_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_elem_conv_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dx = c->din[0], *dw = c->din[1], *db = c->din[2];
    const float *dy = c->dout, *x = c->in[0], *w = c->in[1];
    int N = c->a.N, Cin = c->a.C, Lin = c->a.W, Cout = c->a.Cout, K = c->a.KW, stride = c->a.sw, pad = c->a.pw;
    (void)ctx;
#define A_ (dx, dw, db, dy, x, w, N, Cin, Lin, Cout, K, stride, pad, idx_)
#define S_ (N, Cin, Lin, Cout, K, stride, pad)
    GGDM_ELEM_LAUNCHES_conv1d_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}
