// gpu/ops/temb.cu - TEMB (ggdm/ops.def; ref/src/ops/temb.c): the sinusoidal embedding of
// float steps, t [N] -> [N, dim] (dim = a.Cout; t = in[0]). Both modes: the element kernel.
// Steps carry no gradient: the VJP does nothing.
#include "cuda_ctx.h"

#define SIG_time_embedding (float *emb, const float *t, int N, int dim)
#define ARG_time_embedding (emb, t, N, dim)
#define SIZ_time_embedding (N, dim)

ELEM_KERNELS(time_embedding)
EXACT_OP(time_embedding)

extern "C" void ggdm_cuda_temb_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed)
        return;
    tape_or_run(cx, x_time_embedding, c->out, c->in[0], c->a.N, c->a.Cout);
}

extern "C" void ggdm_cuda_temb_vjp(void *ctx, const ggdm_op_call *c)
{
    (void)ctx, (void)c;
}
