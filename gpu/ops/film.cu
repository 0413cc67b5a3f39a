// gpu/ops/film.cu - FILM (ggdm/ops.def; ref/src/ops/film.c): y = x * (scale + 1) + shift,
// ss [N, 2C] = [scale, shift] per sample and channel (ggdm_scale_shift_*). Both modes: the
// element kernels. Call record: N = a.N, C = a.C, L = a.H * a.W; x = in[0], ss = in[1]; VJP
// dx = din[0], dss = din[1] (either NULL: not launched), dy = dout.
#include "cuda_ctx.h"

#define SIG_scale_shift_forward (float *y, const float *x, const float *ss, int N, int C, int L)
#define ARG_scale_shift_forward (y, x, ss, N, C, L)
#define SIZ_scale_shift_forward (N, C, L)
#define SIG_scale_shift_backward \
    (float *dx, float *dss, const float *dy, const float *x, const float *ss, int N, int C, int L)
#define ARG_scale_shift_backward (dx, dss, dy, x, ss, N, C, L)
#define SIZ_scale_shift_backward (N, C, L)

ELEM_KERNELS(scale_shift_forward)
ELEM_KERNELS(scale_shift_backward)
EXACT_OP(scale_shift_forward)
EXACT_OP(scale_shift_backward)

extern "C" void ggdm_cuda_film_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed)
        return;
    tape_or_run(cx, x_scale_shift_forward, c->out, c->in[0], c->in[1], c->a.N, c->a.C, c->a.H * c->a.W);
}

extern "C" void ggdm_cuda_film_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed || (!c->din[0] && !c->din[1]))
        return;
    tape_or_run(cx, x_scale_shift_backward, c->din[0], c->din[1], c->dout, c->in[0], c->in[1], c->a.N, c->a.C,
                c->a.H * c->a.W);
}
