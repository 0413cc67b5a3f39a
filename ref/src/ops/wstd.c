/*
 * WSTD: weight standardisation, w [Cout, fan] -> w_hat [Cout, fan] with rstd [Cout] kept
 * (ggdm_ws_*: docs/nn.md). The output has no batch axis; the VJP reads it (w_hat).
 */
#include "op_impl.h"

ggdm_status ggdm_op_wstd_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_status st;
    ggdm_op_info_begin(info, 1, 1);
    if (a->Cout < 1 || a->C < 1)
        return GGDM_ERR_ARG;
    st = ggdm_op_info_out(info, &z, 1, a->Cout, 1, a->C);
    info->cache[0] = (size_t)a->Cout;
    info->batched = 0;
    info->vjp_out = 1;
    return st;
}

void ggdm_cpu_wstd_fwd(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    ggdm_ws_forward(c->out, c->cache[0], c->in[0], c->a.Cout, c->a.C);
}

void ggdm_cpu_wstd_vjp(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    if (c->din[0])
        ggdm_ws_backward(c->din[0], c->dout, c->out, c->cache[0], c->a.Cout, c->a.C);
}

void ggdm_elem_wstd_fwd(void *ctx, const ggdm_op_call *c)
{
    float *w_hat = c->out, *rstd = c->cache[0];
    const float *w = c->in[0];
    int Cout = c->a.Cout, fan = c->a.C;
    (void)ctx;
#define A_ (w_hat, rstd, w, Cout, fan, idx_)
#define S_ (Cout, fan)
    GGDM_ELEM_LAUNCHES_ws_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_elem_wstd_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dw = c->din[0];
    const float *dw_hat = c->dout, *w_hat = c->out, *rstd = c->cache[0];
    int Cout = c->a.Cout, fan = c->a.C;
    (void)ctx;
#define A_ (dw, dw_hat, w_hat, rstd, Cout, fan, idx_)
#define S_ (Cout, fan)
    GGDM_ELEM_LAUNCHES_ws_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}
