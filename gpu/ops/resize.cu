// gpu/ops/resize.cu - RESIZE (ggdm/ops.def; ref/src/ops/resize.c): not on the GPU yet (a recorded
// failure; the reference refuses the op too until it is implemented).
#include "cuda_ctx.h"

extern "C" void ggdm_cuda_resize_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    (void)c;
    if (!cx->failed)
        cuda_unsupported(cx, "resize", "not implemented on the GPU yet");
}

extern "C" void ggdm_cuda_resize_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    (void)c;
    if (!cx->failed)
        cuda_unsupported(cx, "resize", "not implemented on the GPU yet");
}
