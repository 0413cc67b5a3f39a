// gpu/ops/linattn.cu - LINATTN (ggdm/ops.def; ref/src/ops/linattn.c): the linear attention
// core on packed q, k, v. Both modes: one thread block per (sample, head) computing the
// reference's chains in shared memory (GGDM_CUDA_LAFUSED=0: elem.h's staged launches;
// GGDM_CUDA_STAGED=0: the single-launch element kernels), so the reference's bits.
// Call record: N = a.N, H = a.heads, Dh = a.dh, L = a.W; qkv = in[0]; cache_q, cache_k,
// cache_ctx = cache[0..2]; VJP dqkv = din[0] (NULL: nothing), dout.
#include "cuda_ctx.h"

// ------------------------------------------------------------------ exact element kernels

#define SIG_linattn_forward                                                                                   \
    (float *out, float *cache_q, float *cache_k, float *cache_ctx, const float *qkv, int N, int H, int Dh, int L)
#define ARG_linattn_forward (out, cache_q, cache_k, cache_ctx, qkv, N, H, Dh, L)
#define SIZ_linattn_forward (N, H, Dh, L)
#define SIG_linattn_backward                                                                                  \
    (float *dqkv, const float *dout, const float *qkv, const float *cache_q, const float *cache_k,            \
     const float *cache_ctx, int N, int H, int Dh, int L)
#define ARG_linattn_backward (dqkv, dout, qkv, cache_q, cache_k, cache_ctx, N, H, Dh, L)
#define SIZ_linattn_backward (N, H, Dh, L)

ELEM_KERNELS(linattn_forward)
ELEM_KERNELS(linattn_backward)
EXACT_OP(linattn_forward)
EXACT_OP(linattn_backward)

// ------------------------------------------------------------------ staged and one-block-per-head kernels

// LinearAttention backward in five launches (ggdm/elem.h, ..._dqkv_staged): dctx, dks and
// the q part's softmax values, dp and t stored once instead of recomputed by every element;
// the same bits.
__global__ void k_linattn_dctx(float *dctx, const float *dout, const float *cq, int N, int H, int Dh, int L,
                               long long count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < count; i += step)
        ggdm_elem_linattn_backward_dctx(dctx, dout, cq, N, H, Dh, L, (long)i);
}

__global__ void k_linattn_dks(float *dks, const float *dctx, const float *qkv, int N, int H, int Dh, int L,
                              long long count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < count; i += step)
        ggdm_elem_linattn_backward_dks(dks, dctx, qkv, N, H, Dh, L, (long)i);
}

__global__ void k_linattn_qpg(float *qp, float *qg, const float *dout, const float *qkv, const float *cctx, int N,
                              int H, int Dh, int L, long long count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < count; i += step)
        ggdm_elem_linattn_backward_qpg(qp, qg, dout, qkv, cctx, N, H, Dh, L, (long)i);
}

__global__ void k_linattn_qt(float *qt, const float *qp, const float *qg, int N, int H, int Dh, int L, long long count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < count; i += step)
        ggdm_elem_linattn_backward_qt(qt, qp, qg, N, H, Dh, L, (long)i);
}

__global__ void k_linattn_dqkv_staged(float *dqkv, const float *ckk, const float *dctx, const float *dks,
                                      const float *qp, const float *qg, const float *qt, int N, int H, int Dh, int L,
                                      long long count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < count; i += step)
        ggdm_elem_linattn_backward_dqkv_staged(dqkv, ckk, dctx, dks, qp, qg, qt, N, H, Dh, L, (long)i);
}

// ------------------------------------------------------------------ LinearAttention, one block per head
//
// The whole LinearAttention forward (and backward) of one (sample, head) in one thread block:
// the intermediates (qs, ks, ctx; dctx, dks, p, dp, s, t) in shared memory, every value by the
// same chain as the reference's element functions (ggdm/elem.h: ggdm_dot_f32, fmaf in the same
// order, ggdm_elem_softmax_stats, ggdm_expf), so the results have the reference's bits; one
// launch instead of four (forward) or five (backward), and no per-element recomputation.
// Used when the shared memory fits (la_fused_smem <= LA_SMEM_MAX; the paper's L <= 64 needs
// 21 KiB); GGDM_CUDA_LAFUSED=0 uses the staged launches instead.
#define LA_THREADS 1024
#define LA_SMEM_MAX (96 * 1024) // opted in at initialisation (cudaFuncAttributeMaxDynamicSharedMemorySize)

// Shared memory (floats): forward q/qs, k/ks, v [Dh, L] each, ctx [Dh, Dh], the softmax
// statistics; backward dout, qs, ks, v, q/p, dks/dp [Dh, L] each, ctx, dctx [Dh, Dh], s, the
// statistics and t. The paper's L = 64, Dh = 32: 29 KiB and 58 KiB (above 48 KiB: opted in).
static size_t la_fwd_smem(int Dh, int L)
{
    return sizeof(float) * ((size_t)3 * Dh * L + (size_t)Dh * Dh + (size_t)2 * (L > Dh ? L : Dh));
}

static size_t la_bwd_smem(int Dh, int L)
{
    return sizeof(float) * ((size_t)6 * Dh * L + (size_t)2 * Dh * Dh + (size_t)Dh + (size_t)3 * L);
}

// A softmax of R rows of n values each, row r's value j at x[r*rs + j*js], as
// ggdm_elem_softmax_stats computes it (m: the max scan from element 0; sum: the chain of
// ggdm_expf(x - m) from +0), written to y[r*rs + j*js] = ggdm_expf(x - m) / sum (* post,
// unless post is 1: then no product): the scans and chains one thread per row, the
// exponentials and quotients by all threads (each value once, stored in e). Every thread of
// the block must call it; it synchronises.
__device__ static void la_softmax(float *y, float *e, float *stat, const float *x, int R, int n, int rs, int js,
                                  float post, int has_post)
{
    int tid = threadIdx.x, nt = blockDim.x, i, j;
    for (i = tid; i < R; i += nt) {
        float m = x[(long)i * rs];
        for (j = 1; j < n; j++) {
            float v = x[(long)i * rs + (long)j * js];
            m = v > m ? v : m;
        }
        stat[2 * i] = m;
    }
    __syncthreads();
    for (i = tid; i < R * n; i += nt) {
        int r = i / n, c = i % n;
        e[(long)r * rs + (long)c * js] = ggdm_expf(x[(long)r * rs + (long)c * js] - stat[2 * r]);
    }
    __syncthreads();
    for (i = tid; i < R; i += nt) {
        float sum = 0.0f;
        for (j = 0; j < n; j++)
            sum = sum + e[(long)i * rs + (long)j * js];
        stat[2 * i + 1] = sum;
    }
    __syncthreads();
    for (i = tid; i < R * n; i += nt) {
        int r = i / n, c = i % n;
        long o = (long)r * rs + (long)c * js;
        float t = e[o] / stat[2 * r + 1];
        y[o] = has_post ? t * post : t;
    }
    __syncthreads();
}

// Copies n floats from global to shared memory (all threads; the caller synchronises).
__device__ static void la_load(float *dst, const float *src, int n)
{
    int i;
    for (i = threadIdx.x; i < n; i += blockDim.x)
        dst[i] = src[i];
}

__global__ void __launch_bounds__(LA_THREADS)
k_linattn_fwd_fused(float *out, float *cache_q, float *cache_k, float *cache_ctx, const float *qkv, int H, int Dh,
                    int L)
{
    extern __shared__ float la_sm[];
    int DL = Dh * L;
    float *qs = la_sm, *ks = qs + DL, *v = ks + DL, *ctx = v + DL, *stat = ctx + Dh * Dh;
    int n = blockIdx.x / H, h = blockIdx.x % H, tid = threadIdx.x, nt = blockDim.x, i;
    long ho = ggdm_elem_head_off(n, H, Dh, L, h), co = ggdm_elem_head_off(n, H, Dh, Dh, h);
    // q, k, v of this head are contiguous [Dh, L] blocks
    la_load(qs, qkv + ggdm_elem_qkv_off(n, 0, H, Dh, L, h), DL);
    la_load(ks, qkv + ggdm_elem_qkv_off(n, 1, H, Dh, L, h), DL);
    la_load(v, qkv + ggdm_elem_qkv_off(n, 2, H, Dh, L, h), DL);
    __syncthreads();
    // in place: qs[d, l] = (softmax over d of q[:, l])[d] * scale; ks[d, l] = (softmax over l of k[d, :])[l]
    la_softmax(qs, qs, stat, qs, L, Dh, 1, L, ggdm_attn_scale(Dh), 1);
    la_softmax(ks, ks, stat, ks, Dh, L, L, 1, 1.0f, 0);
    for (i = tid; i < DL; i += nt) {
        cache_q[ho + i] = qs[i];
        cache_k[ho + i] = ks[i];
    }
    for (i = tid; i < Dh * Dh; i += nt) { // ctx[d, e] = chain over l of fmaf(v[e,l], ks[d,l], acc)
        int d = i / Dh, e = i % Dh;
        float t = ggdm_dot_f32(v + e * L, 1, ks + d * L, 1, L);
        ctx[i] = t;
        cache_ctx[co + i] = t;
    }
    __syncthreads();
    for (i = tid; i < DL; i += nt) { // out[e, l] = chain over d of fmaf(qs[d,l], ctx[d,e], acc)
        int e = i / L, l = i % L;
        out[ho + i] = ggdm_dot_f32(qs + l, L, ctx + e, Dh, Dh);
    }
}

__global__ void __launch_bounds__(LA_THREADS)
k_linattn_bwd_fused(float *dqkv, const float *dout, const float *qkv, const float *cache_q, const float *cache_k,
                    const float *cache_ctx, int H, int Dh, int L, int fresh)
{
    extern __shared__ float la_sm[];
    int DL = Dh * L;
    float *go = la_sm, *qs = go + DL, *ks = qs + DL, *v = ks + DL, *qp = v + DL, *dks = qp + DL, *ctx = dks + DL;
    float *dctx = ctx + Dh * Dh, *sd = dctx + Dh * Dh, *st = sd + Dh, *tl = st + 2 * L;
    float *qg = dks; // dp reuses dks's space once the k part is done
    int n = blockIdx.x / H, h = blockIdx.x % H, tid = threadIdx.x, nt = blockDim.x, i, j;
    long ho = ggdm_elem_head_off(n, H, Dh, L, h), co = ggdm_elem_head_off(n, H, Dh, Dh, h);
    long oq = ggdm_elem_qkv_off(n, 0, H, Dh, L, h), ok = ggdm_elem_qkv_off(n, 1, H, Dh, L, h),
         ov = ggdm_elem_qkv_off(n, 2, H, Dh, L, h);
    la_load(go, dout + ho, DL);
    la_load(qs, cache_q + ho, DL);
    la_load(ks, cache_k + ho, DL);
    la_load(v, qkv + ov, DL);
    la_load(qp, qkv + oq, DL); // q, replaced by p below
    la_load(ctx, cache_ctx + co, Dh * Dh);
    __syncthreads();
    for (i = tid; i < Dh * Dh; i += nt) // dctx[d, e] = chain over l of fmaf(dout[e,l], qs[d,l], acc)
        dctx[i] = ggdm_elem_linattn_dctx(go, qs, i / Dh, i % Dh, L);
    __syncthreads();
    for (i = tid; i < 2 * DL; i += nt) {
        int w = i / DL, r = i % DL, d = r / L, l = r % L;
        float acc = 0.0f;
        if (w == 0) { // dks[d, l] = chain over e of fmaf(v[e,l], dctx[d,e], acc)
            for (j = 0; j < Dh; j++)
                acc = fmaf(v[j * L + l], dctx[d * Dh + j], acc);
            dks[r] = acc;
        } else { // the v part, channel e = d: chain over d' of fmaf(ks[d',l], dctx[d',e], acc)
            for (j = 0; j < Dh; j++)
                acc = fmaf(ks[j * L + l], dctx[j * Dh + d], acc);
            dqkv[ov + r] = fresh ? acc : dqkv[ov + r] + acc; // fresh: dqkv was to be zeroed
        }
    }
    __syncthreads();
    for (i = tid; i < Dh; i += nt) { // s[d] = chain over l of fmaf(ks[d,l], dks[d,l], acc)
        float acc = 0.0f;
        for (j = 0; j < L; j++)
            acc = fmaf(ks[i * L + j], dks[i * L + j], acc);
        sd[i] = acc;
    }
    __syncthreads();
    for (i = tid; i < DL; i += nt) { // the k part: ks[d,l] * (dks[d,l] - s[d])
        float g = ks[i] * (dks[i] - sd[i / L]);
        dqkv[ok + i] = fresh ? g : dqkv[ok + i] + g;
    }
    __syncthreads();
    // p = the softmax of q over d (as the forward's, without the scale; in place), then dp[d, l]
    la_softmax(qp, qp, st, qp, L, Dh, 1, L, 1.0f, 0);
    for (i = tid; i < DL; i += nt)
        qg[i] = ggdm_elem_linattn_dp(go, ctx, i / L, i % L, Dh, L);
    __syncthreads();
    for (i = tid; i < L; i += nt) { // t[l] = chain over d of fmaf(p[d,l], dp[d,l], acc)
        float acc = 0.0f;
        for (j = 0; j < Dh; j++)
            acc = fmaf(qp[j * L + i], qg[j * L + i], acc);
        tl[i] = acc;
    }
    __syncthreads();
    for (i = tid; i < DL; i += nt) { // the q part: p * (dp - t)
        float g = qp[i] * (qg[i] - tl[i % L]);
        dqkv[oq + i] = fresh ? g : dqkv[oq + i] + g;
    }
}

static int la_fused(ggdm_cuda_ctx *cx, int N, int H, int Dh, int L)
{
    return !cx->la_unfused && (long long)N * H <= 2147483647LL && la_fwd_smem(Dh, L) <= LA_SMEM_MAX &&
           la_bwd_smem(Dh, L) <= LA_SMEM_MAX;
}

void s_linattn_backward(ggdm_cuda_ctx *cx, float *dqkv, const float *dout, const float *qkv, const float *cache_q,
                               const float *cache_k, const float *cache_ctx, int N, int H, int Dh, int L)
{
    long long nd = ggdm_elem_linattn_backward_dctx_count(N, H, Dh, L);
    long long nk = ggdm_elem_linattn_backward_dks_count(N, H, Dh, L);
    long long nq = ggdm_elem_linattn_backward_dqkv_count(N, H, Dh, L);
    long long nqs = ggdm_elem_linattn_backward_qt_count(N, H, Dh, L), nact = nk; // [N, H*Dh, L]
    float *dc, *dk, *qp, *qg, *qt;
    if (cx->failed || nq <= 0)
        return;
    if (cx->unstaged || !la_fused(cx, N, H, Dh, L))
        zero_flush(cx);
    if (cx->unstaged) {
        x_linattn_backward(cx, dqkv, dout, qkv, cache_q, cache_k, cache_ctx, N, H, Dh, L);
        return;
    }
    prof_enter(cx);
    if (la_fused(cx, N, H, Dh, L)) {
        int fresh = zero_take(cx, dqkv, (size_t)nq); // see zero_take (never in exact mode)
        k_linattn_bwd_fused<<<N * H, LA_THREADS, la_bwd_smem(Dh, L), cx->stream>>>(dqkv, dout, qkv, cache_q, cache_k,
                                                                                 cache_ctx, H, Dh, L, fresh);
        ck_launch(cx, "kernel linattn_backward (one block per head)");
        return;
    }
    if (!(dc = private_floats(cx, &cx->att, &cx->att_cap, (size_t)(nd + nk + 2 * nact + nqs),
                              "linattn_backward: cudaMalloc")))
        return;
    dk = dc + nd;
    qp = dk + nk;
    qg = qp + nact;
    qt = qg + nact;
    k_linattn_dctx<<<grid_for(nd), THREADS, 0, cx->stream>>>(dc, dout, cache_q, N, H, Dh, L, nd);
    if (ck_launch(cx, "kernel linattn_backward.dctx"))
        return;
    k_linattn_dks<<<grid_for(nk), THREADS, 0, cx->stream>>>(dk, dc, qkv, N, H, Dh, L, nk);
    if (ck_launch(cx, "kernel linattn_backward.dks"))
        return;
    k_linattn_qpg<<<grid_for(nact), THREADS, 0, cx->stream>>>(qp, qg, dout, qkv, cache_ctx, N, H, Dh, L, nact);
    if (ck_launch(cx, "kernel linattn_backward.qpg"))
        return;
    k_linattn_qt<<<grid_for(nqs), THREADS, 0, cx->stream>>>(qt, qp, qg, N, H, Dh, L, nqs);
    if (ck_launch(cx, "kernel linattn_backward.qt"))
        return;
    k_linattn_dqkv_staged<<<grid_for(nq), THREADS, 0, cx->stream>>>(dqkv, cache_k, dc, dk, qp, qg, qt, N, H, Dh, L,
                                                                   nq);
    ck_launch(cx, "kernel linattn_backward.dqkv (staged)");
}

// LinearAttention forward with the softmax statistics stored once (ggdm/elem.h,
// ..._cache_q_staged / _cache_k_staged), then cache_ctx and out as the element kernels; the
// same bits.
__global__ void k_linattn_stats(float *qst, float *kst, const float *qkv, int N, int H, int Dh, int L, long long nq,
                                long long nk)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < nq + nk; i += step) {
        if (i < nq)
            ggdm_elem_linattn_forward_qstats(qst, qkv, N, H, Dh, L, (long)i);
        else
            ggdm_elem_linattn_forward_kstats(kst, qkv, N, H, Dh, L, (long)(i - nq));
    }
}

__global__ void k_linattn_qk(float *cache_q, float *cache_k, const float *qkv, const float *qst, const float *kst,
                             int N, int H, int Dh, int L, long long count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < 2 * count; i += step) {
        if (i < count)
            ggdm_elem_linattn_forward_cache_q_staged(cache_q, qkv, qst, N, H, Dh, L, (long)i);
        else
            ggdm_elem_linattn_forward_cache_k_staged(cache_k, qkv, kst, N, H, Dh, L, (long)(i - count));
    }
}

static void s_linattn_forward(ggdm_cuda_ctx *cx, float *out, float *cache_q, float *cache_k, float *cache_ctx, const float *qkv, int N,
                              int H, int Dh, int L)
{
    long long nq = ggdm_elem_linattn_forward_qstats_count(N, H, Dh, L);
    long long nk = ggdm_elem_linattn_forward_kstats_count(N, H, Dh, L);
    long long nc = ggdm_elem_linattn_forward_cache_q_count(N, H, Dh, L);
    float *qst, *kst;
    if (cx->failed || nc <= 0)
        return;
    if (cx->unstaged) {
        x_linattn_forward(cx, out, cache_q, cache_k, cache_ctx, qkv, N, H, Dh, L);
        return;
    }
    prof_enter(cx);
    if (la_fused(cx, N, H, Dh, L)) {
        k_linattn_fwd_fused<<<N * H, LA_THREADS, la_fwd_smem(Dh, L), cx->stream>>>(out, cache_q, cache_k, cache_ctx,
                                                                                 qkv, H, Dh, L);
        ck_launch(cx, "kernel linattn_forward (one block per head)");
        return;
    }
    if (!(qst = private_floats(cx, &cx->att, &cx->att_cap, (size_t)(2 * (nq + nk)), "linattn_forward: cudaMalloc")))
        return;
    kst = qst + 2 * nq;
    k_linattn_stats<<<grid_for(nq + nk), THREADS, 0, cx->stream>>>(qst, kst, qkv, N, H, Dh, L, nq, nk);
    if (ck_launch(cx, "kernel linattn_forward.stats"))
        return;
    k_linattn_qk<<<grid_for(2 * nc), THREADS, 0, cx->stream>>>(cache_q, cache_k, qkv, qst, kst, N, H, Dh, L, nc);
    if (ck_launch(cx, "kernel linattn_forward.cache_q, cache_k (staged)"))
        return;
    // cache_ctx reads cache_k; out reads cache_q and cache_ctx (the launch order of ggdm/elem.h)
    l_linattn_forward_cache_ctx(cx, out, cache_q, cache_k, cache_ctx, qkv, N, H, Dh, L);
    l_linattn_forward_out(cx, out, cache_q, cache_k, cache_ctx, qkv, N, H, Dh, L);
}


// The one-block-per-head kernels may use more than 48 KiB of shared memory: opted in once
// (a CUDA function attribute, for every instance); -1 when it cannot be (the staged launches).
int ggdm_cuda_linattn_init(void)
{
    if (cudaFuncSetAttribute(k_linattn_fwd_fused, cudaFuncAttributeMaxDynamicSharedMemorySize, LA_SMEM_MAX) !=
            cudaSuccess ||
        cudaFuncSetAttribute(k_linattn_bwd_fused, cudaFuncAttributeMaxDynamicSharedMemorySize, LA_SMEM_MAX) !=
            cudaSuccess) {
        cudaGetLastError();
        return -1;
    }
    return 0;
}

// ------------------------------------------------------------------ the op

extern "C" void ggdm_cuda_linattn_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    const ggdm_op_attr *a = &c->a;
    if (cx->failed)
        return;
    tape_or_run(cx, s_linattn_forward, c->out, c->cache[0], c->cache[1], c->cache[2], c->in[0], a->N, a->heads, a->dh,
                a->W);
}

extern "C" void ggdm_cuda_linattn_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    const ggdm_op_attr *a = &c->a;
    if (cx->failed || !c->din[0])
        return;
    tape_or_run(cx, s_linattn_backward, c->din[0], c->dout, c->in[0], (const float *)c->cache[0],
                (const float *)c->cache[1], (const float *)c->cache[2], a->N, a->heads, a->dh, a->W);
}
