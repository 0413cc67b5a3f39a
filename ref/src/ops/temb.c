/*
 * TEMB: the sinusoidal embedding of float steps t [N, 1, 1, 1] -> [N, dim, 1, 1], dim = Cout
 * (ggdm_time_embedding: docs/nn.md). Steps carry no gradient: the VJP does nothing.
 */
#include "op_impl.h"

#include "ggdm/elem/temb.h"

ggdm_status ggdm_op_temb_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_op_info_begin(info, 1, 0);
    if (a->N < 1 || a->Cout < 4 || a->Cout % 2 || a->Cout > (1 << 20) ||
        (a->kind != GGDM_TEMB_UNET1D && a->kind != GGDM_TEMB_DIFFUSERS))
        return GGDM_ERR_ARG;
    return ggdm_op_info_out(info, &z, a->N, a->Cout, 1, 1);
}

static void temb_diffusers(const ggdm_op_call *c)
{
    float *emb = c->out;
    const float *t = c->in[0];
    int N = c->a.N, dim = c->a.Cout;
#define A_ (emb, t, N, dim, idx_)
#define S_ (N, dim)
    GGDM_ELEM_LAUNCHES_temb_diffusers(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_cpu_temb_fwd(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    if (c->a.kind == GGDM_TEMB_DIFFUSERS) {
        temb_diffusers(c);
        return;
    }
    ggdm_time_embedding(c->out, c->in[0], c->a.N, c->a.Cout);
}

void ggdm_cpu_temb_vjp(void *ctx, const ggdm_op_call *c)
{
    (void)ctx, (void)c;
}

void ggdm_elem_temb_fwd(void *ctx, const ggdm_op_call *c)
{
    float *emb = c->out;
    const float *t = c->in[0];
    int N = c->a.N, dim = c->a.Cout;
    (void)ctx;
    if (c->a.kind == GGDM_TEMB_DIFFUSERS) {
        temb_diffusers(c);
        return;
    }
#define A_ (emb, t, N, dim, idx_)
#define S_ (N, dim)
    GGDM_ELEM_LAUNCHES_time_embedding(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_elem_temb_vjp(void *ctx, const ggdm_op_call *c)
{
    (void)ctx, (void)c;
}
