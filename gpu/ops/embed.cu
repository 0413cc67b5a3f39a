// gpu/ops/embed.cu - EMBED (ggdm/ops.def; ref/src/ops/embed.c): CLIP's token and position
// embeddings, y[n, :, 0, l] = tok[ids[n, l], :] + pos[l, :]. Both modes: one thread per output
// element calling ggdm/elem/embed.h's functions (forward y; VJP dtok, dpos, ADDED into; every
// dtok element scans the ids), so the reference's bits. Call record: N = a.N, W = a.W,
// C2 = a.C2 (the vocabulary), Cout = a.Cout; ids = in[0], tok = in[1], pos = in[2] (or
// NULL); VJP dtok = din[1], dpos = din[2] (din[0] ignored), dy = dout.
#include "cuda_ctx.h"

#include "ggdm/elem/embed.h"

#define SIG_embed_forward \
    (float *y, const float *ids, const float *tok, const float *pos, int N, int W, int C2, int Cout)
#define ARG_embed_forward (y, ids, tok, pos, N, W, C2, Cout)
#define SIZ_embed_forward (N, W, C2, Cout)
#define SIG_embed_backward \
    (float *dtok, float *dpos, const float *dy, const float *ids, int N, int W, int C2, int Cout)
#define ARG_embed_backward (dtok, dpos, dy, ids, N, W, C2, Cout)
#define SIZ_embed_backward (N, W, C2, Cout)

ELEM_KERNELS(embed_forward)
ELEM_KERNELS(embed_backward)
EXACT_OP(embed_forward)
EXACT_OP(embed_backward)

extern "C" void ggdm_cuda_embed_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed)
        return;
    tape_or_run(cx, x_embed_forward, c->out, c->in[0], c->in[1], c->in[2], c->a.N, c->a.W, c->a.C2, c->a.Cout);
}

extern "C" void ggdm_cuda_embed_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    float *dpos = c->in[2] ? c->din[2] : NULL;
    if (cx->failed || (!c->din[1] && !dpos))
        return;
    tape_or_run(cx, x_embed_backward, c->din[1], dpos, c->dout, c->in[0], c->a.N, c->a.W, c->a.C2, c->a.Cout);
}
