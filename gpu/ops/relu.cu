// gpu/ops/relu.cu - RELU (ggdm/ops.def; ref/src/ops/relu.c): both modes run one thread per
// output element calling ggdm/elem/relu.h's functions (forward y; VJP dx, ADDED into), so the
// reference's bits. Call record: n = N C H W; x = in[0]; VJP dx = din[0] (NULL: nothing).
#include "cuda_ctx.h"

#include "ggdm/elem/relu.h"

#define SIG_relu_forward (float *y, const float *x, long n)
#define ARG_relu_forward (y, x, n)
#define SIZ_relu_forward (n)
#define SIG_relu_backward (float *dx, const float *dy, const float *x, long n)
#define ARG_relu_backward (dx, dy, x, n)
#define SIZ_relu_backward (n)

ELEM_KERNELS(relu_forward)
ELEM_KERNELS(relu_backward)
EXACT_OP(relu_forward)
EXACT_OP(relu_backward)

extern "C" void ggdm_cuda_relu_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed)
        return;
    tape_or_run(cx, x_relu_forward, c->out, c->in[0], (long)c->a.N * c->a.C * c->a.H * c->a.W);
}

extern "C" void ggdm_cuda_relu_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed || !c->din[0])
        return;
    tape_or_run(cx, x_relu_backward, c->din[0], c->dout, c->in[0], (long)c->a.N * c->a.C * c->a.H * c->a.W);
}
