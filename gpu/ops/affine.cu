// gpu/ops/affine.cu - AFFINE (ggdm/ops.def; ref/src/ops/affine.c): y = (x * s[c]) + t[c], an
// absent s / t the scalar scale / shift. Both modes: one thread per output element calling
// ggdm/elem/affine.h's functions in its launch order (forward y; VJP dx, ds, dt, ADDED into),
// so the reference's bits. Call record: N = a.N, C = a.C, P = a.H * a.W; x = in[0], s = in[1],
// t = in[2]; VJP dx = din[0], ds = din[1] (s present), dt = din[2] (t present), dy = dout.
#include "cuda_ctx.h"

#include "ggdm/elem/affine.h"

#define SIG_affine_forward \
    (float *y, const float *x, const float *s, const float *t, int N, int C, long P, float scale, float shift)
#define ARG_affine_forward (y, x, s, t, N, C, P, scale, shift)
#define SIZ_affine_forward (N, C, P)
#define SIG_affine_backward                                                                                     \
    (float *dx, float *ds, float *dt, const float *dy, const float *x, const float *s, int N, int C, long P, \
     float scale)
#define ARG_affine_backward (dx, ds, dt, dy, x, s, N, C, P, scale)
#define SIZ_affine_backward (N, C, P)

ELEM_KERNELS(affine_forward)
ELEM_KERNELS(affine_backward)
EXACT_OP(affine_forward)
EXACT_OP(affine_backward)

extern "C" void ggdm_cuda_affine_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed)
        return;
    tape_or_run(cx, x_affine_forward, c->out, c->in[0], c->in[1], c->in[2], c->a.N, c->a.C,
                (long)c->a.H * c->a.W, c->a.scale, c->a.shift);
}

extern "C" void ggdm_cuda_affine_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    float *ds = c->in[1] ? c->din[1] : NULL, *dt = c->in[2] ? c->din[2] : NULL;
    if (cx->failed || (!c->din[0] && !ds && !dt))
        return;
    tape_or_run(cx, x_affine_backward, c->din[0], ds, dt, c->dout, c->in[0], c->in[1], c->a.N, c->a.C,
                (long)c->a.H * c->a.W, c->a.scale);
}
