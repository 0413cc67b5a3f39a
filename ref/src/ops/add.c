/*
 * ADD: y = a + b element-wise (the residual connections; one addition per element). VJP:
 * da and db ADDED into with dy (the graph's runner lets an input that has no other reader
 * share y's gradient instead: then its din is NULL and nothing is added). kind
 * GGDM_ADD_BCAST: b is [N, C, 1, 1], broadcast over the positions (ggdm/elem/add.h).
 */
#include "op_impl.h"

#include "ggdm/elem/add.h"

ggdm_status ggdm_op_add_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_op_info_begin(info, 2, 0);
    if (!ggdm_op_shape_ok(a) || (a->kind != 0 && a->kind != GGDM_ADD_BCAST))
        return GGDM_ERR_ARG;
    return ggdm_op_info_out(info, &z, a->N, a->C, a->H, a->W);
}

static void addb_fwd(const ggdm_op_call *c)
{
    float *y = c->out;
    const float *a = c->in[0], *b = c->in[1];
    long NC = (long)c->a.N * c->a.C, P = (long)c->a.H * c->a.W;
#define A_ (y, a, b, NC, P, idx_)
#define S_ (NC, P)
    GGDM_ELEM_LAUNCHES_addb_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

static void addb_vjp(const ggdm_op_call *c)
{
    float *da = c->din[0], *db = c->din[1];
    const float *dy = c->dout;
    long NC = (long)c->a.N * c->a.C, P = (long)c->a.H * c->a.W;
#define A_ (da, db, dy, NC, P, idx_)
#define S_ (NC, P)
    GGDM_ELEM_LAUNCHES_addb_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_cpu_add_fwd(void *ctx, const ggdm_op_call *c)
{
    long i, n = ggdm_op_count(&c->a);
    (void)ctx;
    if (c->a.kind == GGDM_ADD_BCAST) {
        addb_fwd(c);
        return;
    }
    for (i = 0; i < n; i++)
        c->out[i] = c->in[0][i] + c->in[1][i];
}

void ggdm_cpu_add_vjp(void *ctx, const ggdm_op_call *c)
{
    long i, n = ggdm_op_count(&c->a);
    (void)ctx;
    if (c->a.kind == GGDM_ADD_BCAST) {
        addb_vjp(c);
        return;
    }
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
    if (c->a.kind == GGDM_ADD_BCAST) {
        addb_fwd(c);
        return;
    }
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
    if (c->a.kind == GGDM_ADD_BCAST) {
        addb_vjp(c);
        return;
    }
#define A_ (da, db, dy, n, idx_)
#define S_ (n)
    GGDM_ELEM_LAUNCHES_add_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}
