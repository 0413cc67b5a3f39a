// gpu/ops/avgpool.cu - AVGPOOL (ggdm/ops.def; ref/src/ops/avgpool.c): the global average pool
// -> [N, C, 1, 1]. Both modes: one thread per output element calling ggdm/elem/avgpool.h's
// functions (forward y; VJP dx, ADDED into), so the reference's bits. Call record: N = a.N,
// C = a.C, P = a.H * a.W; x = in[0]; VJP dx = din[0], dy = dout.
#include "cuda_ctx.h"

#include "ggdm/elem/avgpool.h"

#define SIG_avgpool_forward (float *y, const float *x, int N, int C, long P)
#define ARG_avgpool_forward (y, x, N, C, P)
#define SIZ_avgpool_forward (N, C, P)
#define SIG_avgpool_backward (float *dx, const float *dy, int N, int C, long P)
#define ARG_avgpool_backward (dx, dy, N, C, P)
#define SIZ_avgpool_backward (N, C, P)

ELEM_KERNELS(avgpool_forward)
ELEM_KERNELS(avgpool_backward)
EXACT_OP(avgpool_forward)
EXACT_OP(avgpool_backward)

extern "C" void ggdm_cuda_avgpool_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed)
        return;
    tape_or_run(cx, x_avgpool_forward, c->out, c->in[0], c->a.N, c->a.C, (long)c->a.H * c->a.W);
}

extern "C" void ggdm_cuda_avgpool_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed || !c->din[0])
        return;
    tape_or_run(cx, x_avgpool_backward, c->din[0], c->dout, c->a.N, c->a.C, (long)c->a.H * c->a.W);
}
