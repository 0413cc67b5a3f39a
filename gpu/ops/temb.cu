// gpu/ops/temb.cu - TEMB (ggdm/ops.def; ref/src/ops/temb.c): the sinusoidal embedding of
// float steps, t [N] -> [N, dim] (dim = a.Cout; t = in[0]). Both modes: the element kernel.
// Steps carry no gradient: the VJP does nothing.
#include "cuda_ctx.h"

#include "ggdm/elem/temb.h"

#define SIG_time_embedding (float *emb, const float *t, int N, int dim)
#define ARG_time_embedding (emb, t, N, dim)
#define SIZ_time_embedding (N, dim)

#define SIG_temb_diffusers (float *emb, const float *t, int N, int dim)
#define ARG_temb_diffusers (emb, t, N, dim)
#define SIZ_temb_diffusers (N, dim)

ELEM_KERNELS(time_embedding)
EXACT_OP(time_embedding)
ELEM_KERNELS(temb_diffusers)
EXACT_OP(temb_diffusers)

extern "C" void ggdm_cuda_temb_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed)
        return;
    if (c->a.kind == GGDM_TEMB_DIFFUSERS) {
        tape_or_run(cx, x_temb_diffusers, c->out, c->in[0], c->a.N, c->a.Cout);
        return;
    }
    tape_or_run(cx, x_time_embedding, c->out, c->in[0], c->a.N, c->a.Cout);
}

extern "C" void ggdm_cuda_temb_vjp(void *ctx, const ggdm_op_call *c)
{
    (void)ctx, (void)c;
}
