/*
 * ggdm/attention.h - the attention cores of the score network (LinearAttention and
 * Attention, section 2 of the spec) and the sinusoidal time embedding, forward and
 * backward.  The exact chains are defined in docs/nn.md ("Attention", "Time embedding").
 *
 * Layout: activations are float32 [N, C, L] in C order.  The input of an attention core
 * is the output of the 1x1 to_qkv conv, qkv [N, 3*H*Dh, L]: channels [0, H*Dh) are q,
 * [H*Dh, 2*H*Dh) k, then v; inside each, channel h*Dh + d is head h, row d.  The output
 * is [N, H*Dh, L], channel h*Dh + e (heads concatenated).  The surrounding convs,
 * ChannelNorm and the residual belong to the caller.
 *
 * Memory: the caller provides everything (caches, scratch); nothing is allocated.
 * Backward ADDS into dqkv: every gradient element is computed as one value (chains
 * from +0, in the order of docs/nn.md) and added to dqkv with ONE addition; the caller
 * zeroes dqkv first if it wants the plain gradient.  dqkv must not alias any input.
 *
 * Element-wise and per-output helpers are GGDM_HD static inline so that the CUDA
 * exact mode computes the same bits from the same source.
 */
#ifndef GGDM_ATTENTION_H
#define GGDM_ATTENTION_H

#include <math.h>
#include <stddef.h>

#include "ggdm/dmath.h"
#include "ggdm/hostdev.h"
#include "ggdm/reduce.h"

/* The attention scale for the network's head width 32: (float)(32^-0.5), exactly. */
#define GGDM_ATTN_SCALE_DH32 0x1.6a09e6p-3f

/*
 * The attention scale Dh^-0.5 as float: (float)(1.0 / sqrt((double)Dh)) (the original's
 * Python float dim_head ** -0.5, rounded to float32 when it multiplies a float32 tensor).
 * Dh = 32 gives GGDM_ATTN_SCALE_DH32.
 */
GGDM_HD static inline float ggdm_attn_scale(int Dh)
{
    return (float)(1.0 / ggdm_sqrt((double)Dh));
}

/*
 * softmax of n values with stride s: m = max (scan from element 0: m = x_i > m ? x_i : m);
 * e_i = ggdm_expf(x_i - m); sum = sequential chain of e_i from +0; y_i = e_i / sum.
 * y may equal x (in place).  n <= 0 writes nothing.
 */
GGDM_HD static inline void ggdm_softmax_f32(float *y, const float *x, long n, long stride)
{
    float m, sum = 0.0f;
    long i;
    if (n <= 0)
        return;
    m = x[0];
    for (i = 1; i < n; i++) {
        float v = x[i * stride];
        m = v > m ? v : m;
    }
    for (i = 0; i < n; i++) {
        float e = ggdm_expf(x[i * stride] - m);
        y[i * stride] = e;
        sum = sum + e;
    }
    for (i = 0; i < n; i++)
        y[i * stride] = y[i * stride] / sum;
}

/*
 * Backward of a softmax y (n values, stride s) for the upstream gradient dy:
 *   t = chain over i of fmaf(y_i, dy_i, acc) from +0;  dx_i = y_i * (dy_i - t).
 * Writes dx (does not add).  dx may equal dy (in place); it must not overlap y otherwise.
 */
GGDM_HD static inline void ggdm_softmax_backward_f32(float *dx, const float *y, const float *dy, long n,
                                                     long stride)
{
    float t = ggdm_dot_f32(y, stride, dy, stride, n);
    long i;
    for (i = 0; i < n; i++)
        dx[i * stride] = y[i * stride] * (dy[i * stride] - t);
}

/* ------------------------------------------------------------------ LinearAttention */

/*
 * LinearAttention core (heads H, head width Dh), per (n, h), with scale = ggdm_attn_scale(Dh):
 *   qs[d, l] = (softmax over d of q[:, l])[d] * scale       (one rounding for the product)
 *   ks[d, l] = (softmax over l of k[d, :])[l]
 *   ctx[d, e] = chain over l of fmaf(ks[d,l], v[e,l], acc)
 *   out[e, l] = chain over d of fmaf(ctx[d,e], qs[d,l], acc)
 * Caches (for the backward): cache_q = qs [N, H*Dh, L], cache_k = ks [N, H*Dh, L],
 * cache_ctx = ctx [N, H, Dh, Dh].  out [N, H*Dh, L].  Nothing is done when any size < 1.
 */
void ggdm_linattn_forward(float *out, float *cache_q, float *cache_k, float *cache_ctx, const float *qkv,
                          int N, int H, int Dh, int L);

/* Floats of scratch ggdm_linattn_backward needs (per call, any N): 3*Dh*L + Dh*Dh. */
size_t ggdm_linattn_backward_scratch_floats(int H, int Dh, int L);

/*
 * Adds d(loss)/d(qkv) into dqkv [N, 3*H*Dh, L], given dout = d(loss)/d(out) [N, H*Dh, L],
 * the forward's input qkv and its caches.  Exact gradient (in real arithmetic) of the
 * forward through both softmaxes; the chains are in docs/nn.md.
 */
void ggdm_linattn_backward(float *dqkv, const float *dout, const float *qkv, const float *cache_q,
                           const float *cache_k, const float *cache_ctx, int N, int H, int Dh, int L, float *scratch);

/* ------------------------------------------------------------------ Attention */

/*
 * Attention core, per (n, h), with scale = ggdm_attn_scale(Dh):
 *   qs[d, i] = q[d, i] * scale                              (before the product)
 *   sim[i, j] = chain over d of fmaf(qs[d,i], k[d,j], acc)
 *   attn[i, :] = softmax over j of sim[i, :]
 *   out[d, i] = chain over j of fmaf(attn[i,j], v[d,j], acc)
 * cache_attn = attn [N, H, L, L] (row i, column j).  out [N, H*Dh, L].
 */
void ggdm_attn_forward(float *out, float *cache_attn, const float *qkv, int N, int H, int Dh, int L);

/* Floats of scratch ggdm_attn_backward needs (per call, any N): L*L. */
size_t ggdm_attn_backward_scratch_floats(int H, int Dh, int L);

/* Adds d(loss)/d(qkv) into dqkv; see ggdm_linattn_backward and docs/nn.md. */
void ggdm_attn_backward(float *dqkv, const float *dout, const float *qkv, const float *cache_attn,
                        int N, int H, int Dh, int L, float *scratch);

/*
 * The same core with separate queries and keys/values (cross-attention: keys and values of
 * another tensor, of their own length Lk): q [heads*Dh, Lq] per sample at sample stride sq
 * (floats), k and v [heads*Dh, Lk] at strides sk, sv; cache_attn [N, H, Lq, Lk]; out
 * [N, H*Dh, Lq] contiguous. The same chains as above with L = Lq for i and L = Lk for j, so
 * self-attention on views into a packed qkv (ggdm_attn_forward) has the same bits. The
 * backward's scratch is Lq * Lk floats; dq, dk, dv (same strides as q, k, v) are ADDED into,
 * and each may be NULL (not wanted).
 */
void ggdm_attn_forward_qkv(float *out, float *cache_attn, const float *q, const float *k, const float *v, long sq,
                           long sk, long sv, int N, int H, int Dh, int Lq, int Lk);
void ggdm_attn_backward_qkv(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                            const float *v, long sq, long sk, long sv, const float *cache_attn, int N, int H, int Dh,
                            int Lq, int Lk, float *scratch);

/*
 * The attention with a causal mask and the kinds of cache, blocked and threaded (the ATTN op
 * runs these; docs/nn.md, "Causal mask", "Recompute"). The same chains as
 * ggdm_attn_forward_qkv / ggdm_attn_backward_qkv (bit-identical for causal = 0, kind keep),
 * computed by blocks of GGDM_ATTN_ROWS query rows (the backward's column pass: blocks of
 * GGDM_ATTN_COLS key columns) of every (n, head), the blocks shared by the executor's tasks
 * (at most GGDM_ATTN_SLOTS, each with its own slot of the scratch): the bits do not depend on
 * the executor or the thread count.
 *   causal = 1 (needs Lq = Lk): query i attends to keys j <= i; the masked keys are skipped
 *     (no term of the max, the exp-sum, the weighted sums or the gradients' chains), so row i
 *     is bit-identical to an unmasked attention over keys 0..i; kept weights of masked keys
 *     are exactly 0.
 *   kind GGDM_ATTN_KEEP (0): cache = the weights [N, H, Lq, Lk];
 *   kind GGDM_ATTN_RECOMPUTE (1): cache = the rows' statistics [N, H, Lq, 2] (max, exp-sum);
 *     the backward recomputes every weight as ggdm_expf(sim - max) / sum with sim by its own
 *     chain, the forward's bits: out and every gradient are those of kind keep.
 * Scratch: ggdm_attn_ex_scratch_floats(N, H, Dh, Lq, Lk, vjp) floats, O(Lk * (GGDM_ATTN_ROWS
 * + Dh)) per slot (plus N H Lq floats for the backward's row sums). Invalid arguments (a size
 * < 1, causal not 0/1, causal with Lq != Lk, another kind) write nothing. dq, dk, dv are ADDED
 * into and may be NULL (not wanted).
 */
#define GGDM_ATTN_ROWS 16
#define GGDM_ATTN_COLS 64
#define GGDM_ATTN_SLOTS 16

struct ggdm_exec;

size_t ggdm_attn_ex_scratch_floats(int N, int H, int Dh, int Lq, int Lk, int vjp);
void ggdm_attn_forward_ex(float *out, float *cache, const float *q, const float *k, const float *v, long sq, long sk,
                          long sv, int N, int H, int Dh, int Lq, int Lk, int causal, int kind, float *scratch,
                          const struct ggdm_exec *ex);
void ggdm_attn_backward_ex(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                           const float *v, long sq, long sk, long sv, const float *cache, int N, int H, int Dh, int Lq,
                           int Lk, int causal, int kind, float *scratch, const struct ggdm_exec *ex);

/* ------------------------------------------------------------------ time embedding */

/*
 * c = (float)(ggdm_log(10000.0) / (double)(half - 1)) for half = dim / 2 >= 2
 * (the original's Python float math.log(10000) / (half - 1), rounded to float32 when it
 * multiplies the float32 arange).
 */
GGDM_HD static inline float ggdm_time_embedding_coef(int dim)
{
    return (float)(ggdm_log(10000.0) / (double)(dim / 2 - 1));
}

/* freq_i = ggdm_expf((float)i * -c) (torch: arange(half) * -c in float32, then exp). */
GGDM_HD static inline float ggdm_time_embedding_freq(int i, float c)
{
    return ggdm_expf((float)i * -c);
}

/*
 * Element j of the embedding of time t (width dim, even, >= 4): with i = j mod half,
 * arg = t * freq_i (float32); j < half: ggdm_sinf(arg); else ggdm_cosf(arg).
 */
GGDM_HD static inline float ggdm_time_embedding_value(float t, int j, int dim)
{
    int half = dim / 2;
    int i = j < half ? j : j - half;
    float arg = t * ggdm_time_embedding_freq(i, ggdm_time_embedding_coef(dim));
    return j < half ? ggdm_sinf(arg) : ggdm_cosf(arg);
}

/*
 * Sinusoidal time embedding: emb [N, dim], row n = [sin(t[n]*freq_0 ..), cos(t[n]*freq_0 ..)],
 * every element equal to ggdm_time_embedding_value(t[n], j, dim).  dim must be even and
 * >= 4 (otherwise nothing is written: the original divides by half - 1 = 0).
 */
void ggdm_time_embedding(float *emb, const float *t, int N, int dim);

#endif /* GGDM_ATTENTION_H */
