// gpu/ops/clamp.cu - CLAMP (ggdm/ops.def; ref/src/ops/clamp.c): y = min(max(x, lo), hi), VJP dx += dy where lo <= x <= hi.
// Both modes: one thread per element calling ggdm/elem/clamp.h's functions (forward y; VJP dx,
// ADDED into), so the reference's bits. Call record: n = N C H W; x = in[0]; VJP dx = din[0],
// dy = dout.
#include "cuda_ctx.h"

#include "ggdm/elem/clamp.h"

#define SIG_clamp_forward (float *y, const float *x, long n, float lo, float hi)
#define ARG_clamp_forward (y, x, n, lo, hi)
#define SIZ_clamp_forward (n)
#define SIG_clamp_backward (float *dx, const float *dy, const float *x, long n, float lo, float hi)
#define ARG_clamp_backward (dx, dy, x, n, lo, hi)
#define SIZ_clamp_backward (n)

ELEM_KERNELS(clamp_forward)
ELEM_KERNELS(clamp_backward)
EXACT_OP(clamp_forward)
EXACT_OP(clamp_backward)

static long count_of(const ggdm_op_call *c)
{
    return (long)c->a.N * c->a.C * c->a.H * c->a.W;
}

extern "C" void ggdm_cuda_clamp_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed)
        return;
    tape_or_run(cx, x_clamp_forward, c->out, c->in[0], count_of(c), c->a.lo, c->a.hi);
}

extern "C" void ggdm_cuda_clamp_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed || !c->din[0])
        return;
    tape_or_run(cx, x_clamp_backward, c->din[0], c->dout, c->in[0], count_of(c), c->a.lo, c->a.hi);
}
