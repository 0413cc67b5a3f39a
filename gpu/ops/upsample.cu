// gpu/ops/upsample.cu - UPSAMPLE (ggdm/ops.def; ref/src/ops/upsample.c): nearest-neighbour
// upsampling by 2 along the width (a.sh 0 or 1, H = 1) or, a.sh = 2, along H and W
// (ggdm/elem/upsample2d.h). Both modes: the element kernels. Call record: N = a.N, C = a.C,
// H = a.H, L = a.W; x = in[0]; VJP dx = din[0] (NULL: nothing), dy = dout.
#include "cuda_ctx.h"

#include "ggdm/elem/upsample2d.h"

#define SIG_upsample2_forward (float *y, const float *x, int N, int C, int L)
#define ARG_upsample2_forward (y, x, N, C, L)
#define SIZ_upsample2_forward (N, C, L)
#define SIG_upsample2_backward (float *dx, const float *dy, int N, int C, int L)
#define ARG_upsample2_backward (dx, dy, N, C, L)
#define SIZ_upsample2_backward (N, C, L)

#define SIG_upsample2d_forward (float *y, const float *x, int N, int C, int H, int W)
#define ARG_upsample2d_forward (y, x, N, C, H, W)
#define SIZ_upsample2d_forward (N, C, H, W)
#define SIG_upsample2d_backward (float *dx, const float *dy, int N, int C, int H, int W)
#define ARG_upsample2d_backward (dx, dy, N, C, H, W)
#define SIZ_upsample2d_backward (N, C, H, W)

ELEM_KERNELS(upsample2d_forward)
ELEM_KERNELS(upsample2d_backward)
EXACT_OP(upsample2d_forward)
EXACT_OP(upsample2d_backward)
ELEM_KERNELS(upsample2_forward)
ELEM_KERNELS(upsample2_backward)
EXACT_OP(upsample2_forward)
EXACT_OP(upsample2_backward)

extern "C" void ggdm_cuda_upsample_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed)
        return;
    if (c->a.sh == 2) {
        tape_or_run(cx, x_upsample2d_forward, c->out, c->in[0], c->a.N, c->a.C, c->a.H, c->a.W);
        return;
    }
    if (c->a.H != 1) {
        cuda_unsupported(cx, "upsample", "upsampling along W only (sh 0 or 1) with H > 1");
        return;
    }
    tape_or_run(cx, x_upsample2_forward, c->out, c->in[0], c->a.N, c->a.C, c->a.W);
}

extern "C" void ggdm_cuda_upsample_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed || !c->din[0])
        return;
    if (c->a.sh == 2) {
        tape_or_run(cx, x_upsample2d_backward, c->din[0], c->dout, c->a.N, c->a.C, c->a.H, c->a.W);
        return;
    }
    if (c->a.H != 1) {
        cuda_unsupported(cx, "upsample", "upsampling along W only (sh 0 or 1) with H > 1");
        return;
    }
    tape_or_run(cx, x_upsample2_backward, c->din[0], c->dout, c->a.N, c->a.C, c->a.W);
}
