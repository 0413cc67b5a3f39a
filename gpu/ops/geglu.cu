// gpu/ops/geglu.cu - GEGLU (ggdm/ops.def; ref/src/ops/geglu.c): Stable Diffusion's
// feed-forward gate, y = x[:, :C/2] * gelu(x[:, C/2:]). Both modes: one thread per output
// element calling ggdm/elem/geglu.h's functions in its launch order (forward y; VJP dx, ADDED
// into), so the reference's bits. Call record: N = a.N, Ch = a.C / 2, P = a.H * a.W;
// x = in[0]; VJP dx = din[0] (NULL: nothing), dy = dout.
//
// The op added the way every op is added (docs/ops.md): this is its one GPU file.
#include "cuda_ctx.h"

#include "ggdm/elem/geglu.h"

#define SIG_geglu_forward (float *y, const float *x, int N, int Ch, long P)
#define ARG_geglu_forward (y, x, N, Ch, P)
#define SIZ_geglu_forward (N, Ch, P)
#define SIG_geglu_backward (float *dx, const float *dy, const float *x, int N, int Ch, long P)
#define ARG_geglu_backward (dx, dy, x, N, Ch, P)
#define SIZ_geglu_backward (N, Ch, P)

ELEM_KERNELS(geglu_forward)
ELEM_KERNELS(geglu_backward)
EXACT_OP(geglu_forward)
EXACT_OP(geglu_backward)

extern "C" void ggdm_cuda_geglu_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed)
        return;
    tape_or_run(cx, x_geglu_forward, c->out, c->in[0], c->a.N, c->a.C / 2, (long)c->a.H * c->a.W);
}

extern "C" void ggdm_cuda_geglu_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed || !c->din[0])
        return;
    tape_or_run(cx, x_geglu_backward, c->din[0], c->dout, c->in[0], c->a.N, c->a.C / 2, (long)c->a.H * c->a.W);
}
