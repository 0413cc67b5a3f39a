// gpu/ops/bnorm.cu - BNORM (ggdm/ops.def; ref/src/ops/bnorm.c): BatchNorm in eval mode,
// p = [weight, bias, running_mean, running_var] [4, C]. Both modes: one thread per output
// element calling ggdm/elem/bnorm.h's functions in its launch order (forward y; VJP dx, dp,
// ADDED into), so the reference's bits. Call record: N = a.N, C = a.C, P = a.H * a.W, eps;
// x = in[0], p = in[1]; VJP dx = din[0], dp = din[1] (rows 0 and 1), dy = dout.
#include "cuda_ctx.h"

#include "ggdm/elem/bnorm.h"

#define SIG_bnorm_forward (float *y, const float *x, const float *p, int N, int C, long P, float eps)
#define ARG_bnorm_forward (y, x, p, N, C, P, eps)
#define SIZ_bnorm_forward (N, C, P)
#define SIG_bnorm_backward \
    (float *dx, float *dp, const float *dy, const float *x, const float *p, int N, int C, long P, float eps)
#define ARG_bnorm_backward (dx, dp, dy, x, p, N, C, P, eps)
#define SIZ_bnorm_backward (N, C, P)

ELEM_KERNELS(bnorm_forward)
ELEM_KERNELS(bnorm_backward)
EXACT_OP(bnorm_forward)
EXACT_OP(bnorm_backward)

extern "C" void ggdm_cuda_bnorm_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed)
        return;
    tape_or_run(cx, x_bnorm_forward, c->out, c->in[0], c->in[1], c->a.N, c->a.C, (long)c->a.H * c->a.W, c->a.eps);
}

extern "C" void ggdm_cuda_bnorm_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed || (!c->din[0] && !c->din[1]))
        return;
    tape_or_run(cx, x_bnorm_backward, c->din[0], c->din[1], c->dout, c->in[0], c->in[1], c->a.N, c->a.C,
                (long)c->a.H * c->a.W, c->a.eps);
}
