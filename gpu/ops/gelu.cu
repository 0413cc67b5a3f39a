// gpu/ops/gelu.cu - GELU (ggdm/ops.def; ref/src/ops/gelu.c): the erf GELU, element-wise.
// Both modes: the element kernels (one thread per element). Call record: n = N C H W;
// x = in[0]; VJP dx = din[0] (NULL: nothing), dy = dout.
#include "cuda_ctx.h"

#define SIG_gelu_forward (float *y, const float *x, long n)
#define ARG_gelu_forward (y, x, n)
#define SIZ_gelu_forward (n)
#define SIG_gelu_backward (float *dx, const float *dy, const float *x, long n)
#define ARG_gelu_backward (dx, dy, x, n)
#define SIZ_gelu_backward (n)

ELEM_KERNELS(gelu_forward)
ELEM_KERNELS(gelu_backward)
EXACT_OP(gelu_forward)
EXACT_OP(gelu_backward)

extern "C" void ggdm_cuda_gelu_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed)
        return;
    tape_or_run(cx, x_gelu_forward, c->out, c->in[0], (long)c->a.N * c->a.C * c->a.H * c->a.W);
}

extern "C" void ggdm_cuda_gelu_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed || !c->din[0])
        return;
    tape_or_run(cx, x_gelu_backward, c->din[0], c->dout, c->in[0], (long)c->a.N * c->a.C * c->a.H * c->a.W);
}
