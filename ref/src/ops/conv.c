/*
 * CONV: convolution, x [N, C, H, W], w [Cout, C, KH, KW], b [Cout] (may be absent), zero
 * padding (ph, pw), strides (sh, sw). The 1-D case (H = KH = 1, ph = 0) runs
 * ggdm_conv1d_*_ex's chains (docs/nn.md, "Conv1d"); every other case ggdm_conv2d_*_ex's
 * (docs/nn.md, "Conv2d": the chain over i, kh, kw, which is the 1-D one at H = KH = 1, so
 * the split is one of speed only). The elem driver runs ggdm/elem.h's conv1d or
 * ggdm/elem/conv2d.h's element functions.
 */
#include "op_impl.h"

#include "ggdm/elem/conv2d.h"

/* The 1-D case: one input row, one kernel row, no vertical padding (output height 1). */
static int conv_is_1d(const ggdm_op_attr *a)
{
    return a->H == 1 && a->KH == 1 && a->ph == 0;
}

static ggdm_conv2d_dims conv_dims(const ggdm_op_attr *a)
{
    ggdm_conv2d_dims d;
    d.N = a->N;
    d.C = a->C;
    d.H = a->H;
    d.W = a->W;
    d.Cout = a->Cout;
    d.KH = a->KH;
    d.KW = a->KW;
    d.sh = a->sh;
    d.sw = a->sw;
    d.ph = a->ph;
    d.pw = a->pw;
    return d;
}

ggdm_status ggdm_op_conv_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    int Ho, Wo;
    ggdm_status st;
    ggdm_op_info_begin(info, 3, 0);
    if (!ggdm_op_shape_ok(a) || a->Cout < 1 || a->KH < 1 || a->KW < 1 || a->sh < 1 || a->sw < 1 || a->ph < 0 ||
        a->pw < 0)
        return GGDM_ERR_ARG;
    Ho = ggdm_conv1d_out_len(a->H, a->KH, a->sh, a->ph);
    Wo = ggdm_conv1d_out_len(a->W, a->KW, a->sw, a->pw);
    if (Ho < 1 || Wo < 1)
        return GGDM_ERR_ARG;
    st = ggdm_op_info_out(info, &z, a->N, a->Cout, Ho, Wo);
    if (st != GGDM_OK)
        return st;
    /* the input and the weights must have sizes too */
    (void)ggdm_op_mul4(&z, (size_t)a->N, (size_t)a->C, (size_t)a->H, (size_t)a->W);
    (void)ggdm_op_mul4(&z, (size_t)a->Cout, (size_t)a->C, (size_t)a->KH, (size_t)a->KW);
    if (z.ovf)
        return GGDM_ERR_ARG;
    if (conv_is_1d(a)) {
        info->scratch_fwd = info->scratch_vjp =
            ggdm_conv1d_scratch_floats(a->N, a->C, a->W, a->Cout, a->KW, a->sw, a->pw);
    } else {
        ggdm_conv2d_dims d = conv_dims(a);
        info->scratch_fwd = info->scratch_vjp = ggdm_conv2d_scratch_floats(&d);
    }
    info->vjp_in = 3; /* x for dw, w for dx */
    info->vjp_in_for[0] = 2; /* x only for d(input 1) */
    info->vjp_in_for[1] = 1; /* input 1 only for dx */
    info->flops = 2.0 * a->N * a->Cout * (double)Ho * Wo * a->C * a->KH * a->KW;
    return GGDM_OK;
}

void ggdm_cpu_conv_fwd(void *ctx, const ggdm_op_call *c)
{
    const ggdm_op_attr *a = &c->a;
    (void)ctx;
    if (conv_is_1d(a)) {
        ggdm_conv1d_forward_ex(c->out, c->in[0], c->in[1], c->in[2], a->N, a->C, a->W, a->Cout, a->KW, a->sw, a->pw,
                               c->scratch, c->ex);
    } else {
        ggdm_conv2d_dims d = conv_dims(a);
        ggdm_conv2d_forward_ex(c->out, c->in[0], c->in[1], c->in[2], &d, c->scratch, c->ex);
    }
}

void ggdm_cpu_conv_vjp(void *ctx, const ggdm_op_call *c)
{
    const ggdm_op_attr *a = &c->a;
    (void)ctx;
    if (conv_is_1d(a)) {
        ggdm_conv1d_backward_ex(c->din[0], c->din[1], c->din[2], c->dout, c->in[0], c->in[1], a->N, a->C, a->W,
                                a->Cout, a->KW, a->sw, a->pw, c->scratch, c->ex);
    } else {
        ggdm_conv2d_dims d = conv_dims(a);
        ggdm_conv2d_backward_ex(c->din[0], c->din[1], c->din[2], c->dout, c->in[0], c->in[1], &d, c->scratch, c->ex);
    }
}

void ggdm_elem_conv_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    const float *x = c->in[0], *w = c->in[1], *b = c->in[2];
    int N = c->a.N, Cin = c->a.C, Lin = c->a.W, Cout = c->a.Cout, K = c->a.KW, stride = c->a.sw, pad = c->a.pw;
    int H = c->a.H, KH = c->a.KH, sh = c->a.sh, ph = c->a.ph;
    (void)ctx;
    if (conv_is_1d(&c->a)) {
#define A_ (y, x, w, b, N, Cin, Lin, Cout, K, stride, pad, idx_)
#define S_ (N, Cin, Lin, Cout, K, stride, pad)
        GGDM_ELEM_LAUNCHES_conv1d_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
    } else {
#define A_ (y, x, w, b, N, Cin, H, Lin, Cout, KH, K, sh, stride, ph, pad, idx_)
#define S_ (N, Cin, H, Lin, Cout, KH, K, sh, stride, ph, pad)
        GGDM_ELEM_LAUNCHES_conv2d_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
    }
}

void ggdm_elem_conv_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dx = c->din[0], *dw = c->din[1], *db = c->din[2];
    const float *dy = c->dout, *x = c->in[0], *w = c->in[1];
    int N = c->a.N, Cin = c->a.C, Lin = c->a.W, Cout = c->a.Cout, K = c->a.KW, stride = c->a.sw, pad = c->a.pw;
    int H = c->a.H, KH = c->a.KH, sh = c->a.sh, ph = c->a.ph;
    (void)ctx;
    if (conv_is_1d(&c->a)) {
#define A_ (dx, dw, db, dy, x, w, N, Cin, Lin, Cout, K, stride, pad, idx_)
#define S_ (N, Cin, Lin, Cout, K, stride, pad)
        GGDM_ELEM_LAUNCHES_conv1d_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
    } else {
#define A_ (dx, dw, db, dy, x, w, N, Cin, H, Lin, Cout, KH, K, sh, stride, ph, pad, idx_)
#define S_ (N, Cin, H, Lin, Cout, KH, K, sh, stride, ph, pad)
        GGDM_ELEM_LAUNCHES_conv2d_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
    }
}
