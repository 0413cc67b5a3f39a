// gpu/ops/attn.cu - ATTN (ggdm/ops.def; ref/src/ops/attn.c): softmax attention. On the GPU:
// self-attention on one packed qkv value (the three inputs the same value, views at offsets
// 0, hd L, 2 hd L, sample strides 3 hd L, Lq = Lk), what ggdm/elem.h's element functions read;
// other views (cross-attention) are not on the GPU yet (a recorded failure). Both modes: the
// element kernels, the backward staged (dsim stored once; GGDM_CUDA_STAGED=0: one launch).
// Call record: N = a.N, H = a.heads, Dh = a.dh, L = a.Lq; qkv = in[0]; cache_attn = cache[0];
// VJP dqkv = din[0] = din[1] = din[2], dout.
#include "cuda_ctx.h"

// ------------------------------------------------------------------ exact element kernels

#define SIG_attn_forward (float *out, float *cache_attn, const float *qkv, int N, int H, int Dh, int L)
#define ARG_attn_forward (out, cache_attn, qkv, N, H, Dh, L)
#define SIZ_attn_forward (N, H, Dh, L)
#define SIG_attn_backward \
    (float *dqkv, const float *dout, const float *qkv, const float *cache_attn, int N, int H, int Dh, int L)
#define ARG_attn_backward (dqkv, dout, qkv, cache_attn, N, H, Dh, L)
#define SIZ_attn_backward (N, H, Dh, L)

ELEM_KERNELS(attn_forward)
ELEM_KERNELS(attn_backward)
EXACT_OP(attn_forward)
EXACT_OP(attn_backward)

// ------------------------------------------------------------------ staged kernels

// Attention backward in two launches (ggdm/elem.h, ..._attn_backward_dqkv_staged): dsim
// stored once; the same bits.
__global__ void k_attn_dsim(float *dsim, const float *dout, const float *qkv, const float *ca, int N, int H, int Dh,
                            int L, long long count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < count; i += step)
        ggdm_elem_attn_backward_dsim(dsim, dout, qkv, ca, N, H, Dh, L, (long)i);
}

__global__ void k_attn_dqkv_staged(float *dqkv, const float *dout, const float *qkv, const float *ca,
                                   const float *dsim, int N, int H, int Dh, int L, long long count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < count; i += step)
        ggdm_elem_attn_backward_dqkv_staged(dqkv, dout, qkv, ca, dsim, N, H, Dh, L, (long)i);
}

static void s_attn_backward(ggdm_cuda_ctx *cx, float *dqkv, const float *dout, const float *qkv, const float *cache_attn, int N, int H,
                            int Dh, int L)
{
    long long nds = ggdm_elem_attn_backward_dsim_count(N, H, Dh, L);
    long long nq = ggdm_elem_attn_backward_dqkv_count(N, H, Dh, L);
    float *ds;
    if (cx->failed || nq <= 0)
        return;
    if (cx->unstaged) {
        x_attn_backward(cx, dqkv, dout, qkv, cache_attn, N, H, Dh, L);
        return;
    }
    prof_enter(cx);
    if (!(ds = private_floats(cx, &cx->att, &cx->att_cap, (size_t)nds, "attn_backward: cudaMalloc")))
        return;
    k_attn_dsim<<<grid_for(nds), THREADS, 0, cx->stream>>>(ds, dout, qkv, cache_attn, N, H, Dh, L, nds);
    if (ck_launch(cx, "kernel attn_backward.dsim"))
        return;
    k_attn_dqkv_staged<<<grid_for(nq), THREADS, 0, cx->stream>>>(dqkv, dout, qkv, cache_attn, ds, N, H, Dh, L, nq);
    ck_launch(cx, "kernel attn_backward.dqkv (staged)");
}

// ------------------------------------------------------------------ the op

// The packed self-attention layout of ggdm_attn_forward (as ref/src/ops/attn.c's elem driver).
static int packed(const ggdm_op_call *c)
{
    const ggdm_op_attr *a = &c->a;
    long hdl = (long)a->heads * a->dh * a->Lq;
    return c->in[0] == c->in[1] && c->in[1] == c->in[2] && a->Lq == a->Lk && a->oq == 0 && a->ok == hdl &&
           a->ov == 2 * hdl && a->sq == 3 * hdl && a->sk == 3 * hdl && a->sv == 3 * hdl;
}

extern "C" void ggdm_cuda_attn_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    const ggdm_op_attr *a = &c->a;
    if (cx->failed)
        return;
    if (!packed(c)) {
        cuda_unsupported(cx, "attn", "attention on views other than one packed qkv (q, k, v offsets, strides, Lq != Lk)");
        return;
    }
    tape_or_run(cx, x_attn_forward, c->out, c->cache[0], c->in[0], a->N, a->heads, a->dh, a->Lq);
}

extern "C" void ggdm_cuda_attn_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    const ggdm_op_attr *a = &c->a;
    if (cx->failed || (!c->din[0] && !c->din[1] && !c->din[2]))
        return;
    if (!packed(c) || c->din[1] != c->din[0] || c->din[2] != c->din[0]) {
        cuda_unsupported(cx, "attn", "the VJP on views other than one packed qkv and its one gradient");
        return;
    }
    tape_or_run(cx, s_attn_backward, c->din[0], c->dout, c->in[0], (const float *)c->cache[0], a->N, a->heads, a->dh,
                a->Lq);
}
