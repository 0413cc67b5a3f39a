// gpu/ops/add.cu - ADD (ggdm/ops.def; ref/src/ops/add.c): y = a + b element-wise (the
// residual connections). Both modes: ggdm/elem/add.h's element functions, one thread per
// element: the forward one launch; the VJP one launch per wanted input gradient (da += dy,
// then db += dy; a NULL din is not launched). Call record: n = N C H W; a = in[0], b = in[1].
#include "cuda_ctx.h"

#include "ggdm/elem/add.h"

#define SIG_add_forward (float *y, const float *a, const float *b, long n)
#define ARG_add_forward (y, a, b, n)
#define SIZ_add_forward (n)
#define SIG_add_backward (float *da, float *db, const float *dy, long n)
#define ARG_add_backward (da, db, dy, n)
#define SIZ_add_backward (n)

#define SIG_addb_forward (float *y, const float *a, const float *b, long NC, long P)
#define ARG_addb_forward (y, a, b, NC, P)
#define SIZ_addb_forward (NC, P)
#define SIG_addb_backward (float *da, float *db, const float *dy, long NC, long P)
#define ARG_addb_backward (da, db, dy, NC, P)
#define SIZ_addb_backward (NC, P)

ELEM_KERNELS(addb_forward)
ELEM_KERNELS(addb_backward)
EXACT_OP(addb_forward)
EXACT_OP(addb_backward)
ELEM_KERNELS(add_forward)
ELEM_KERNELS(add_backward)
EXACT_OP(add_forward)
EXACT_OP(add_backward)

extern "C" void ggdm_cuda_add_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed)
        return;
    if (c->a.kind == GGDM_ADD_BCAST) {
        tape_or_run(cx, x_addb_forward, c->out, c->in[0], c->in[1], (long)c->a.N * c->a.C, (long)c->a.H * c->a.W);
        return;
    }
    tape_or_run(cx, x_add_forward, c->out, c->in[0], c->in[1], (long)c->a.N * c->a.C * c->a.H * c->a.W);
}

extern "C" void ggdm_cuda_add_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed || (!c->din[0] && !c->din[1]))
        return;
    if (c->a.kind == GGDM_ADD_BCAST) {
        tape_or_run(cx, x_addb_backward, c->din[0], c->din[1], c->dout, (long)c->a.N * c->a.C,
                    (long)c->a.H * c->a.W);
        return;
    }
    tape_or_run(cx, x_add_backward, c->din[0], c->din[1], c->dout, (long)c->a.N * c->a.C * c->a.H * c->a.W);
}
