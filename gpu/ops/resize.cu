// gpu/ops/resize.cu - RESIZE (ggdm/ops.def; ref/src/ops/resize.c): bilinear resize to oh x ow,
// align_corners false, antialias 0 / 1. Both modes: one thread per output element calling
// ggdm/elem/resize.h's functions in its launch order (forward y; VJP dx, ADDED into), so the
// reference's bits (the weights are recomputed per element from the attributes: no tables).
// Call record: N, C, H, W = a.N, a.C, a.H, a.W; OH = a.oh, OW = a.ow, aa = a.antialias;
// x = in[0]; VJP dx = din[0] (NULL: nothing), dy = dout (the VJP does not read x).
#include "cuda_ctx.h"

#include "ggdm/elem/resize.h"

#define SIG_resize_forward (float *y, const float *x, int N, int C, int H, int W, int OH, int OW, int aa)
#define ARG_resize_forward (y, x, N, C, H, W, OH, OW, aa)
#define SIZ_resize_forward (N, C, H, W, OH, OW, aa)
#define SIG_resize_backward (float *dx, const float *dy, int N, int C, int H, int W, int OH, int OW, int aa)
#define ARG_resize_backward (dx, dy, N, C, H, W, OH, OW, aa)
#define SIZ_resize_backward (N, C, H, W, OH, OW, aa)

ELEM_KERNELS(resize_forward)
ELEM_KERNELS(resize_backward)
EXACT_OP(resize_forward)
EXACT_OP(resize_backward)

extern "C" void ggdm_cuda_resize_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed)
        return;
    tape_or_run(cx, x_resize_forward, c->out, c->in[0], c->a.N, c->a.C, c->a.H, c->a.W, c->a.oh, c->a.ow,
                c->a.antialias);
}

extern "C" void ggdm_cuda_resize_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed || !c->din[0])
        return;
    tape_or_run(cx, x_resize_backward, c->din[0], c->dout, c->a.N, c->a.C, c->a.H, c->a.W, c->a.oh, c->a.ow,
                c->a.antialias);
}
