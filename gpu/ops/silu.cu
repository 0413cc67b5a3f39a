// gpu/ops/silu.cu - SILU (ggdm/ops.def; ref/src/ops/silu.c): y = x * sigmoid(x), element-wise.
// Both modes: the element kernels (one thread per element). Call record: n = N C H W;
// x = in[0]; VJP dx = din[0] (NULL: nothing), dy = dout.
#include "cuda_ctx.h"

#define SIG_silu_forward (float *y, const float *x, long n)
#define ARG_silu_forward (y, x, n)
#define SIZ_silu_forward (n)
#define SIG_silu_backward (float *dx, const float *dy, const float *x, long n)
#define ARG_silu_backward (dx, dy, x, n)
#define SIZ_silu_backward (n)

ELEM_KERNELS(silu_forward)
ELEM_KERNELS(silu_backward)
EXACT_OP(silu_forward)
EXACT_OP(silu_backward)

extern "C" void ggdm_cuda_silu_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed)
        return;
    tape_or_run(cx, x_silu_forward, c->out, c->in[0], (long)c->a.N * c->a.C * c->a.H * c->a.W);
}

extern "C" void ggdm_cuda_silu_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed || !c->din[0])
        return;
    tape_or_run(cx, x_silu_backward, c->din[0], c->dout, c->in[0], (long)c->a.N * c->a.C * c->a.H * c->a.W);
}
