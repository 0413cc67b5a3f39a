// gpu/ops/attn.cu - ATTN (ggdm/ops.def; ref/src/ops/attn.c): softmax attention. Both modes run
// element kernels (the reference's bits):
//  - self-attention on one packed qkv value (the three inputs the same value, views at offsets
//    0, hd L, 2 hd L, sample strides 3 hd L, Lq = Lk), kind keep, no mask, its one gradient
//    buffer: ggdm/elem.h's attn_forward / attn_backward, the backward staged (dsim stored once;
//    GGDM_CUDA_STAGED=0: one launch). Call record: N = a.N, H = a.heads, Dh = a.dh, L = a.Lq;
//    qkv = in[0]; cache_attn = cache[0]; VJP dqkv = din[0] = din[1] = din[2], dout.
//  - every other case (separate or strided views, cross-attention Lq != Lk, causal = 1, kind
//    recompute, some gradients NULL): ggdm/elem/attn.h's attnv_forward (launches cache, out)
//    and attnv_backward (tv, dq, dk, dv), tv = the rows' t_i in the op's VJP scratch (device
//    memory, its first N heads Lq floats). These kernels are the exact mode's correctness-first
//    form (an element recomputes its row's or column's sums): far from fast at L = 4096.
#include "cuda_ctx.h"

#include "ggdm/elem/attn.h"

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

// any views, causal, both kinds (ggdm/elem/attn.h)
#define SIG_attnv_forward                                                                                              \
    (float *out, float *cache, const float *q, const float *k, const float *v, long sq, long sk, long sv, int N, int H, \
     int Dh, int Lq, int Lk, int causal, int kind)
#define ARG_attnv_forward (out, cache, q, k, v, sq, sk, sv, N, H, Dh, Lq, Lk, causal, kind)
#define SIZ_attnv_forward (N, H, Dh, Lq, Lk, causal, kind)
#define SIG_attnv_backward                                                                                             \
    (float *tv, float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k, const float *v,    \
     const float *cache, long sq, long sk, long sv, int N, int H, int Dh, int Lq, int Lk, int causal, int kind)
#define ARG_attnv_backward (tv, dq, dk, dv, dout, q, k, v, cache, sq, sk, sv, N, H, Dh, Lq, Lk, causal, kind)
#define SIZ_attnv_backward (N, H, Dh, Lq, Lk, causal, kind)

ELEM_KERNELS(attnv_forward)
ELEM_KERNELS(attnv_backward)
EXACT_OP(attnv_forward)
EXACT_OP(attnv_backward)

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

// The packed self-attention layout of ggdm_attn_forward, keep, no mask (as ref/src/ops/attn.c's
// elem driver): the older kernels.
static int packed_plain(const ggdm_op_call *c)
{
    const ggdm_op_attr *a = &c->a;
    long hdl = (long)a->heads * a->dh * a->Lq;
    return c->in[0] == c->in[1] && c->in[1] == c->in[2] && a->Lq == a->Lk && a->oq == 0 && a->ok == hdl &&
           a->ov == 2 * hdl && a->sq == 3 * hdl && a->sk == 3 * hdl && a->sv == 3 * hdl && !a->causal &&
           a->kind == GGDM_ATTN_KEEP;
}

extern "C" void ggdm_cuda_attn_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    const ggdm_op_attr *a = &c->a;
    if (cx->failed)
        return;
    if (packed_plain(c)) {
        tape_or_run(cx, x_attn_forward, c->out, c->cache[0], c->in[0], a->N, a->heads, a->dh, a->Lq);
        return;
    }
    tape_or_run(cx, x_attnv_forward, c->out, c->cache[0], c->in[0] + a->oq, c->in[1] + a->ok, c->in[2] + a->ov, a->sq,
                a->sk, a->sv, a->N, a->heads, a->dh, a->Lq, a->Lk, a->causal, a->kind);
}

extern "C" void ggdm_cuda_attn_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    const ggdm_op_attr *a = &c->a;
    float *dq, *dk, *dv;
    if (cx->failed || (!c->din[0] && !c->din[1] && !c->din[2]))
        return;
    if (packed_plain(c) && c->din[1] == c->din[0] && c->din[2] == c->din[0]) {
        tape_or_run(cx, s_attn_backward, c->din[0], c->dout, c->in[0], (const float *)c->cache[0], a->N, a->heads,
                    a->dh, a->Lq);
        return;
    }
    dq = c->din[0] ? c->din[0] + a->oq : NULL;
    dk = c->din[1] ? c->din[1] + a->ok : NULL;
    dv = c->din[2] ? c->din[2] + a->ov : NULL;
    if ((dq || dk) && !c->scratch) {
        cuda_unsupported(cx, "attn", "the VJP without its scratch (the rows' sums)");
        return;
    }
    tape_or_run(cx, x_attnv_backward, dq || dk ? c->scratch : (float *)NULL, dq, dk, dv, c->dout, c->in[0] + a->oq,
                c->in[1] + a->ok, c->in[2] + a->ov, (const float *)c->cache[0], a->sq, a->sk, a->sv, a->N, a->heads,
                a->dh, a->Lq, a->Lk, a->causal, a->kind);
}
