/*
 * ggdm/elem/attn.h - the ATTN op's element functions on any views (ggdm/ops.def; docs/ops.md;
 * the chains of docs/nn.md, "Attention": "Causal mask", "Recompute"): separate or packed q, k, v
 * with their own sample strides (q, k, v point at the views: the op's offsets already applied),
 * cross-attention (Lq != Lk), causal = 1 (keys j <= i), kind keep (cache = the weights
 * [N, H, Lq, Lk]) or recompute (cache = the rows' (max, sum) [N, H, Lq, 2]). Per (n, h), with
 * scale = ggdm_attn_scale(Dh), len_i = causal ? i + 1 : Lk:
 *   sim[i, j]  = chain over d of fmaf(q[d,i] * scale, k[d,j], acc)
 *   (m_i, s_i) = max scan of sim[i, 0 .. len_i) from term 0; chain of ggdm_expf(sim - m_i) from +0
 *   w[i, j]    = ggdm_expf(sim[i,j] - m_i) / s_i  (j < len_i; kept weights of masked keys: +0)
 *   out[d, i]  = chain over j < len_i of fmaf(w[i,j], v[d,j], acc)
 * VJP, ADDED into dq, dk, dv (each may be NULL: not launched):
 *   dattn[i,j] = chain over d of fmaf(dout[d,i], v[d,j], acc)
 *   t_i        = chain over j < len_i of fmaf(w[i,j], dattn[i,j], acc)      (tv, staged)
 *   dsim[i,j]  = w[i,j] * (dattn[i,j] - t_i)
 *   dq[d, i]  += (chain over j < len_i of fmaf(dsim[i,j], k[d,j], acc)) * scale
 *   dk[d, j]  += chain over i (causal: i >= j) of fmaf(dsim[i,j], q[d,i] * scale, acc)
 *   dv[d, j]  += chain over i (causal: i >= j) of fmaf(w[i,j], dout[d,i], acc)
 * The weights are the cache's (keep) or recomputed from sim and the cached (m_i, s_i)
 * (recompute): the same bits. The reference's blocked core (ggdm_attn_forward_ex /
 * _backward_ex) computes the same chains, so the elem driver and the CUDA kernels that run
 * these give its bits.
 *
 * Launch order (each launch after the previous one has finished):
 *   attnv_forward   cache, out        out reads cache (the weights, or the rows' statistics)
 *   attnv_backward  tv, dq, dk, dv    tv [N, H, Lq] (the row sums t_i; the driver's scratch,
 *                                     NULL when neither dq nor dk is wanted); dq and dk read
 *                                     tv; dv reads neither (the three gradients may be views of
 *                                     one buffer: they do not overlap)
 * Cost (the exact mode, correctness first): an element recomputes what it needs - a kept
 * weight its row's statistics (O(Lk Dh)), a recomputed weight its sim (O(Dh)), t_i its row's
 * dattn (O(Lk Dh)), dk/dv their column over all rows (O(Lq Dh) per term with recompute) - fine
 * for the CPU twin on small vectors, slow on a GPU at Stable Diffusion's L = 4096.
 * C99 and CUDA __host__ __device__.
 */
#ifndef GGDM_ELEM_ATTN_H
#define GGDM_ELEM_ATTN_H

#include "ggdm/attention.h"
#include "ggdm/dmath.h"
#include "ggdm/hostdev.h"
#include "ggdm/reduce.h"

#define GGDM_ELEM_LAUNCHES_attnv_forward(F) F(attnv_forward, cache) F(attnv_forward, out)
#define GGDM_ELEM_LAUNCHES_attnv_backward(F) \
    F(attnv_backward, tv) F(attnv_backward, dq) F(attnv_backward, dk) F(attnv_backward, dv)

/* The views of head (n, h): q [Dh, Lq], k and v [Dh, Lk] (GGDM_ELEM_ATTNV_QK: q and k only). */
#define GGDM_ELEM_ATTNV_QK(n, h)                                                                                      \
    const float *qh = q + (n) * sq + (h) * (long)Dh * Lq, *kh = k + (n) * sk + (h) * (long)Dh * Lk
#define GGDM_ELEM_ATTNV_HEAD(n, h)                                                                                    \
    GGDM_ELEM_ATTNV_QK(n, h);                                                                                         \
    const float *vh = v + (n) * sv + (h) * (long)Dh * Lk

GGDM_HD static inline int ggdm_elem_attnv_valid(int N, int H, int Dh, int Lq, int Lk, int causal, int kind)
{
    return N > 0 && H > 0 && Dh > 0 && Lq > 0 && Lk > 0 && (causal == 0 || (causal == 1 && Lq == Lk)) &&
           (kind == 0 || kind == 1);
}

/* sim[i, j] = chain over d of fmaf(q[d,i] * scale, k[d,j], acc) */
GGDM_HD static inline float ggdm_elem_attnv_sim(const float *qh, const float *kh, long i, long j, int Dh, int Lq,
                                                int Lk)
{
    const float scale = ggdm_attn_scale(Dh);
    float acc = 0.0f;
    long d;
    for (d = 0; d < Dh; d++)
        acc = fmaf(qh[d * Lq + i] * scale, kh[d * Lk + j], acc);
    return acc;
}

/* Row i's statistics over keys 0 .. len-1: st[0] = the max (scan from term 0), st[1] = the
 * exp-sum chain from +0. */
GGDM_HD static inline void ggdm_elem_attnv_stats(float *st, const float *qh, const float *kh, long i, long len, int Dh,
                                                 int Lq, int Lk)
{
    float m = ggdm_elem_attnv_sim(qh, kh, i, 0, Dh, Lq, Lk), s = 0.0f;
    long j;
    for (j = 1; j < len; j++) {
        float x = ggdm_elem_attnv_sim(qh, kh, i, j, Dh, Lq, Lk);
        m = x > m ? x : m;
    }
    for (j = 0; j < len; j++)
        s = s + ggdm_expf(ggdm_elem_attnv_sim(qh, kh, i, j, Dh, Lq, Lk) - m);
    st[0] = m;
    st[1] = s;
}

/* w[i, j] of head nh = n H + h (j < len_i): the kept weight, or recomputed from the statistics. */
GGDM_HD static inline float ggdm_elem_attnv_w(const float *cache, const float *qh, const float *kh, long nh, long i,
                                              long j, int Dh, int Lq, int Lk, int kind)
{
    if (kind == 0)
        return cache[(nh * Lq + i) * Lk + j];
    {
        const float *st = cache + (nh * Lq + i) * 2;
        return ggdm_expf(ggdm_elem_attnv_sim(qh, kh, i, j, Dh, Lq, Lk) - st[0]) / st[1];
    }
}

/* dattn[i, j] = chain over d of fmaf(dout[d,i], v[d,j], acc) */
GGDM_HD static inline float ggdm_elem_attnv_dattn(const float *goh, const float *vh, long i, long j, int Dh, int Lq,
                                                  int Lk)
{
    float acc = 0.0f;
    long d;
    for (d = 0; d < Dh; d++)
        acc = fmaf(goh[d * Lq + i], vh[d * Lk + j], acc);
    return acc;
}

/* ------------------------------------------------------------------ forward */

GGDM_HD static inline long ggdm_elem_attnv_forward_cache_count(int N, int H, int Dh, int Lq, int Lk, int causal,
                                                               int kind)
{
    if (!ggdm_elem_attnv_valid(N, H, Dh, Lq, Lk, causal, kind))
        return 0;
    return (long)N * H * Lq * (kind == 0 ? (long)Lk : 2L);
}

/* keep: cache[n, h, i, j] = w[i, j] (+0 for a masked key); recompute: cache[n, h, i, c] = m_i
 * (c = 0), s_i (c = 1). */
GGDM_HD static inline void ggdm_elem_attnv_forward_cache(float *out, float *cache, const float *q, const float *k,
                                                         const float *v, long sq, long sk, long sv, int N, int H,
                                                         int Dh, int Lq, int Lk, int causal, int kind, long idx)
{
    long per = kind == 0 ? (long)Lk : 2L, c = idx % per, i = (idx / per) % Lq, nh = idx / (per * Lq);
    long n = nh / H, h = nh % H, len = causal ? i + 1 : Lk;
    float st[2];
    GGDM_ELEM_ATTNV_QK(n, h);
    (void)out, (void)v, (void)sv, (void)N;
    if (kind == 0 && c >= len) {
        cache[idx] = 0.0f;
        return;
    }
    ggdm_elem_attnv_stats(st, qh, kh, i, len, Dh, Lq, Lk);
    if (kind == 0)
        cache[idx] = ggdm_expf(ggdm_elem_attnv_sim(qh, kh, i, c, Dh, Lq, Lk) - st[0]) / st[1];
    else
        cache[idx] = st[c];
}

GGDM_HD static inline long ggdm_elem_attnv_forward_out_count(int N, int H, int Dh, int Lq, int Lk, int causal, int kind)
{
    return ggdm_elem_attnv_valid(N, H, Dh, Lq, Lk, causal, kind) ? (long)N * H * Dh * Lq : 0;
}

/* out[n, h Dh + d, i] = chain over j < len_i of fmaf(w[i,j], v[d,j], acc); reads cache. */
GGDM_HD static inline void ggdm_elem_attnv_forward_out(float *out, float *cache, const float *q, const float *k,
                                                       const float *v, long sq, long sk, long sv, int N, int H, int Dh,
                                                       int Lq, int Lk, int causal, int kind, long idx)
{
    long i = idx % Lq, d = (idx / Lq) % Dh, nh = idx / ((long)Lq * Dh), n = nh / H, h = nh % H;
    long len = causal ? i + 1 : Lk, j;
    float acc = 0.0f;
    GGDM_ELEM_ATTNV_HEAD(n, h);
    (void)N;
    for (j = 0; j < len; j++)
        acc = fmaf(ggdm_elem_attnv_w(cache, qh, kh, nh, i, j, Dh, Lq, Lk, kind), vh[d * Lk + j], acc);
    out[idx] = acc;
}

/* ------------------------------------------------------------------ VJP */

GGDM_HD static inline long ggdm_elem_attnv_backward_tv_count(int N, int H, int Dh, int Lq, int Lk, int causal, int kind)
{
    return ggdm_elem_attnv_valid(N, H, Dh, Lq, Lk, causal, kind) ? (long)N * H * Lq : 0;
}

/* t_i of head nh: chain over j < len_i of fmaf(w[i,j], dattn[i,j], acc) */
GGDM_HD static inline float ggdm_elem_attnv_t(const float *cache, const float *qh, const float *kh, const float *vh,
                                              const float *goh, long nh, long i, int Dh, int Lq, int Lk, int causal,
                                              int kind)
{
    long len = causal ? i + 1 : Lk, j;
    float t = 0.0f;
    for (j = 0; j < len; j++)
        t = fmaf(ggdm_elem_attnv_w(cache, qh, kh, nh, i, j, Dh, Lq, Lk, kind),
                 ggdm_elem_attnv_dattn(goh, vh, i, j, Dh, Lq, Lk), t);
    return t;
}

GGDM_HD static inline void ggdm_elem_attnv_backward_tv(float *tv, float *dq, float *dk, float *dv, const float *dout,
                                                       const float *q, const float *k, const float *v,
                                                       const float *cache, long sq, long sk, long sv, int N, int H,
                                                       int Dh, int Lq, int Lk, int causal, int kind, long idx)
{
    long i = idx % Lq, nh = idx / Lq, n = nh / H, h = nh % H;
    GGDM_ELEM_ATTNV_HEAD(n, h);
    (void)dq, (void)dk, (void)dv, (void)N;
    tv[idx] = ggdm_elem_attnv_t(cache, qh, kh, vh, dout + nh * Dh * Lq, nh, i, Dh, Lq, Lk, causal, kind);
}

GGDM_HD static inline long ggdm_elem_attnv_backward_dq_count(int N, int H, int Dh, int Lq, int Lk, int causal, int kind)
{
    return ggdm_elem_attnv_valid(N, H, Dh, Lq, Lk, causal, kind) ? (long)N * H * Dh * Lq : 0;
}

/* element (n, h, d, i) of dq: dq[n sq + (h Dh + d) Lq + i] += (chain over j < len_i of
 * fmaf(dsim[i,j], k[d,j], acc)) * scale; reads tv. */
GGDM_HD static inline void ggdm_elem_attnv_backward_dq(float *tv, float *dq, float *dk, float *dv, const float *dout,
                                                       const float *q, const float *k, const float *v,
                                                       const float *cache, long sq, long sk, long sv, int N, int H,
                                                       int Dh, int Lq, int Lk, int causal, int kind, long idx)
{
    long i = idx % Lq, d = (idx / Lq) % Dh, nh = idx / ((long)Lq * Dh), n = nh / H, h = nh % H;
    long len = causal ? i + 1 : Lk, j;
    const float *goh = dout + nh * Dh * Lq;
    const float t = tv[nh * Lq + i];
    float acc = 0.0f, *g = dq + n * sq + (h * Dh + d) * Lq + i;
    GGDM_ELEM_ATTNV_HEAD(n, h);
    (void)dk, (void)dv, (void)N;
    for (j = 0; j < len; j++) {
        float w = ggdm_elem_attnv_w(cache, qh, kh, nh, i, j, Dh, Lq, Lk, kind);
        acc = fmaf(w * (ggdm_elem_attnv_dattn(goh, vh, i, j, Dh, Lq, Lk) - t), kh[d * Lk + j], acc);
    }
    *g = *g + acc * ggdm_attn_scale(Dh);
}

GGDM_HD static inline long ggdm_elem_attnv_backward_dk_count(int N, int H, int Dh, int Lq, int Lk, int causal, int kind)
{
    return ggdm_elem_attnv_valid(N, H, Dh, Lq, Lk, causal, kind) ? (long)N * H * Dh * Lk : 0;
}

/* element (n, h, d, j) of dk: dk[n sk + (h Dh + d) Lk + j] += chain over i (causal: i >= j) of
 * fmaf(dsim[i,j], q[d,i] * scale, acc); reads tv. */
GGDM_HD static inline void ggdm_elem_attnv_backward_dk(float *tv, float *dq, float *dk, float *dv, const float *dout,
                                                       const float *q, const float *k, const float *v,
                                                       const float *cache, long sq, long sk, long sv, int N, int H,
                                                       int Dh, int Lq, int Lk, int causal, int kind, long idx)
{
    long j = idx % Lk, d = (idx / Lk) % Dh, nh = idx / ((long)Lk * Dh), n = nh / H, h = nh % H, i;
    const float *goh = dout + nh * Dh * Lq;
    const float scale = ggdm_attn_scale(Dh);
    float acc = 0.0f, *g = dk + n * sk + (h * Dh + d) * Lk + j;
    GGDM_ELEM_ATTNV_HEAD(n, h);
    (void)dq, (void)dv, (void)N;
    for (i = causal ? j : 0; i < Lq; i++) {
        float w = ggdm_elem_attnv_w(cache, qh, kh, nh, i, j, Dh, Lq, Lk, kind);
        float ds = w * (ggdm_elem_attnv_dattn(goh, vh, i, j, Dh, Lq, Lk) - tv[nh * Lq + i]);
        acc = fmaf(ds, qh[d * Lq + i] * scale, acc);
    }
    *g = *g + acc;
}

GGDM_HD static inline long ggdm_elem_attnv_backward_dv_count(int N, int H, int Dh, int Lq, int Lk, int causal, int kind)
{
    return ggdm_elem_attnv_valid(N, H, Dh, Lq, Lk, causal, kind) ? (long)N * H * Dh * Lk : 0;
}

/* element (n, h, d, j) of dv: dv[n sv + (h Dh + d) Lk + j] += chain over i (causal: i >= j) of
 * fmaf(w[i,j], dout[d,i], acc). */
GGDM_HD static inline void ggdm_elem_attnv_backward_dv(float *tv, float *dq, float *dk, float *dv, const float *dout,
                                                       const float *q, const float *k, const float *v,
                                                       const float *cache, long sq, long sk, long sv, int N, int H,
                                                       int Dh, int Lq, int Lk, int causal, int kind, long idx)
{
    long j = idx % Lk, d = (idx / Lk) % Dh, nh = idx / ((long)Lk * Dh), n = nh / H, h = nh % H, i;
    const float *goh = dout + nh * Dh * Lq;
    float acc = 0.0f, *g = dv + n * sv + (h * Dh + d) * Lk + j;
    GGDM_ELEM_ATTNV_QK(n, h);
    (void)tv, (void)dq, (void)dk, (void)v, (void)sv, (void)N;
    for (i = causal ? j : 0; i < Lq; i++)
        acc = fmaf(ggdm_elem_attnv_w(cache, qh, kh, nh, i, j, Dh, Lq, Lk, kind), goh[d * Lq + i], acc);
    *g = *g + acc;
}

#undef GGDM_ELEM_ATTNV_HEAD
#undef GGDM_ELEM_ATTNV_QK

#endif /* GGDM_ELEM_ATTN_H */
