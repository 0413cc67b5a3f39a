/*
 * ADD: y = a + b element-wise (the residual connections; one addition per element). VJP:
 * da and db ADDED into with dy (the graph's runner lets an input that has no other reader
 * share y's gradient instead: then its din is NULL and nothing is added).
 */
#include "op_impl.h"

#include "ggdm/elem/add.h"

ggdm_status ggdm_op_add_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_op_info_begin(info, 2, 0);
    if (!ggdm_op_shape_ok(a))
        return GGDM_ERR_ARG;
    return ggdm_op_info_out(info, &z, a->N, a->C, a->H, a->W);
}

void ggdm_cpu_add_fwd(void *ctx, const ggdm_op_call *c)
{
    long i, n = ggdm_op_count(&c->a);
    (void)ctx;
    for (i = 0; i < n; i++)
        c->out[i] = c->in[0][i] + c->in[1][i];
}

void ggdm_cpu_add_vjp(void *ctx, const ggdm_op_call *c)
{
    long i, n = ggdm_op_count(&c->a);
    (void)ctx;
    if (c->din[0])
        for (i = 0; i < n; i++)
            c->din[0][i] = c->din[0][i] + c->dout[i];
    if (c->din[1])
        for (i = 0; i < n; i++)
            c->din[1][i] = c->din[1][i] + c->dout[i];
}

void ggdm_elem_add_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    const float *a = c->in[0], *b = c->in[1];
    long n = ggdm_op_count(&c->a);
    (void)ctx;
#define A_ (y, a, b, n, idx_)
#define S_ (n)
    GGDM_ELEM_LAUNCHES_add_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_elem_add_vjp(void *ctx, const ggdm_op_call *c)
{
    float *da = c->din[0], *db = c->din[1];
    const float *dy = c->dout;
    long n = ggdm_op_count(&c->a);
    (void)ctx;
#define A_ (da, db, dy, n, idx_)
#define S_ (n)
    GGDM_ELEM_LAUNCHES_add_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}
