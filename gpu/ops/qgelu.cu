// gpu/ops/qgelu.cu - QGELU (ggdm/ops.def; ref/src/ops/qgelu.c): CLIP's quick_gelu, y = x * sigmoid(1.702 x).
// Both modes: one thread per element calling ggdm/elem/qgelu.h's functions (forward y; VJP dx,
// ADDED into), so the reference's bits. Call record: n = N C H W; x = in[0]; VJP dx = din[0],
// dy = dout.
#include "cuda_ctx.h"

#include "ggdm/elem/qgelu.h"

#define SIG_qgelu_forward (float *y, const float *x, long n)
#define ARG_qgelu_forward (y, x, n)
#define SIZ_qgelu_forward (n)
#define SIG_qgelu_backward (float *dx, const float *dy, const float *x, long n)
#define ARG_qgelu_backward (dx, dy, x, n)
#define SIZ_qgelu_backward (n)

ELEM_KERNELS(qgelu_forward)
ELEM_KERNELS(qgelu_backward)
EXACT_OP(qgelu_forward)
EXACT_OP(qgelu_backward)

static long count_of(const ggdm_op_call *c)
{
    return (long)c->a.N * c->a.C * c->a.H * c->a.W;
}

extern "C" void ggdm_cuda_qgelu_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed)
        return;
    tape_or_run(cx, x_qgelu_forward, c->out, c->in[0], count_of(c));
}

extern "C" void ggdm_cuda_qgelu_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed || !c->din[0])
        return;
    tape_or_run(cx, x_qgelu_backward, c->din[0], c->dout, c->in[0], count_of(c));
}
