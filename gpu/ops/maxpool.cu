// gpu/ops/maxpool.cu - MAXPOOL (ggdm/ops.def; ref/src/ops/maxpool.c): max over KH x KW windows,
// strides sh, sw, padding ph, pw (padding never wins; the first maximum wins ties; NaN
// propagates). Both modes: one thread per output element calling ggdm/elem/maxpool.h's
// functions (forward y; VJP dx, one thread per dx element over the windows that contain it,
// ADDED into), so the reference's bits. Call record: the attributes; x = in[0]; VJP dx =
// din[0], dy = dout.
#include "cuda_ctx.h"

#include "ggdm/elem/maxpool.h"

#define SIG_maxpool_forward \
    (float *y, const float *x, int N, int C, int H, int W, int KH, int KW, int sh, int sw, int ph, int pw)
#define ARG_maxpool_forward (y, x, N, C, H, W, KH, KW, sh, sw, ph, pw)
#define SIZ_maxpool_forward (N, C, H, W, KH, KW, sh, sw, ph, pw)
#define SIG_maxpool_backward                                                                                    \
    (float *dx, const float *dy, const float *x, int N, int C, int H, int W, int KH, int KW, int sh, int sw, \
     int ph, int pw)
#define ARG_maxpool_backward (dx, dy, x, N, C, H, W, KH, KW, sh, sw, ph, pw)
#define SIZ_maxpool_backward (N, C, H, W, KH, KW, sh, sw, ph, pw)

ELEM_KERNELS(maxpool_forward)
ELEM_KERNELS(maxpool_backward)
EXACT_OP(maxpool_forward)
EXACT_OP(maxpool_backward)

extern "C" void ggdm_cuda_maxpool_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    const ggdm_op_attr *a = &c->a;
    if (cx->failed)
        return;
    tape_or_run(cx, x_maxpool_forward, c->out, c->in[0], a->N, a->C, a->H, a->W, a->KH, a->KW, a->sh, a->sw, a->ph,
                a->pw);
}

extern "C" void ggdm_cuda_maxpool_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    const ggdm_op_attr *a = &c->a;
    if (cx->failed || !c->din[0])
        return;
    tape_or_run(cx, x_maxpool_backward, c->din[0], c->dout, c->in[0], a->N, a->C, a->H, a->W, a->KH, a->KW, a->sh,
                a->sw, a->ph, a->pw);
}
