/* LINEAR: y [N, Out] = x [N, In] W^T + b (ggdm_linear_*: docs/nn.md, "Linear"). */
#include "op_impl.h"

ggdm_status ggdm_op_linear_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_status st;
    ggdm_op_info_begin(info, 3, 0);
    if (!ggdm_op_shape_ok(a) || a->H != 1 || a->W != 1 || a->Cout < 1)
        return GGDM_ERR_ARG;
    st = ggdm_op_info_out(info, &z, a->N, a->Cout, 1, 1);
    info->vjp_in = 3;
    info->vjp_in_for[0] = 2; /* x only for d(input 1) */
    info->vjp_in_for[1] = 1; /* input 1 only for dx */
    info->flops = 2.0 * a->N * (double)a->C * a->Cout;
    return st;
}

void ggdm_cpu_linear_fwd(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    ggdm_linear_forward(c->out, c->in[0], c->in[1], c->in[2], c->a.N, c->a.C, c->a.Cout);
}

void ggdm_cpu_linear_vjp(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    ggdm_linear_backward(c->din[0], c->din[1], c->din[2], c->dout, c->in[0], c->in[1], c->a.N, c->a.C, c->a.Cout);
}

void ggdm_elem_linear_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    const float *x = c->in[0], *W = c->in[1], *b = c->in[2];
    int N = c->a.N, In = c->a.C, Out = c->a.Cout;
    (void)ctx;
#define A_ (y, x, W, b, N, In, Out, idx_)
#define S_ (N, In, Out)
    GGDM_ELEM_LAUNCHES_linear_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_elem_linear_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dx = c->din[0], *dW = c->din[1], *db = c->din[2];
    const float *dy = c->dout, *x = c->in[0], *W = c->in[1];
    int N = c->a.N, In = c->a.C, Out = c->a.Cout;
    (void)ctx;
#define A_ (dx, dW, db, dy, x, W, N, In, Out, idx_)
#define S_ (N, In, Out)
    GGDM_ELEM_LAUNCHES_linear_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}
