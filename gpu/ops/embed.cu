// gpu/ops/embed.cu - EMBED (ggdm/ops.def; ref/src/ops/embed.c): not on the GPU yet (a recorded
// failure; the reference refuses the op too until it is implemented).
#include "cuda_ctx.h"

extern "C" void ggdm_cuda_embed_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    (void)c;
    if (!cx->failed)
        cuda_unsupported(cx, "embed", "not implemented on the GPU yet");
}

extern "C" void ggdm_cuda_embed_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    (void)c;
    if (!cx->failed)
        cuda_unsupported(cx, "embed", "not implemented on the GPU yet");
}
