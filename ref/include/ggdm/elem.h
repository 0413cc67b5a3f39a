/*
 * ggdm/elem.h - the score network's layers as per-output-element functions: one source of
 * math, two drivers.
 *
 * For every layer operation X of the backend table (ggdm/backend.h) and every output array Y
 * of X (its non-const pointer arguments) there are
 *
 *   GGDM_HD static inline void ggdm_elem_<X>_<Y>(<X's arguments as in backend.h, without the
 *                                                 trailing scratch and ex>, long idx);
 *   GGDM_HD static inline long ggdm_elem_<X>_<Y>_count(<X's int/long size arguments, in order>);
 *
 * The first computes and stores element idx of Y, 0 <= idx < count, by exactly the chain of
 * docs/nn.md (the order of terms, every rounding, skipped padding taps, signed zeros), so its
 * bits are those of the reference's layer functions (ref/src/layers.c, attention.c). The
 * second is the number of elements of Y that X writes: 0 when X writes nothing (a dimension
 * <= 0, C % G != 0 for GroupNorm, an empty conv output, an invalid time-embedding width).
 * Two drivers run them: ref/src/backend_elem.c loops idx over each output on the CPU (the
 * backend "elem"), and the CUDA exact mode launches one thread per element.
 *
 * Driver contract:
 *  - A NULL output pointer means "not wanted": the driver does not launch that output.
 *    (As in the reference, the caches of a forward - mean/rstd of the norms, rstd of the
 *    weight standardisation, the attention caches - are always wanted: later outputs read
 *    them, see below.)
 *  - The outputs of one operation are launched one after the other in the LAUNCH ORDER of
 *    the table below, each after the previous one has completely finished (a kernel
 *    boundary). An element function may read an output launched before its own (never one
 *    launched after), and never reads an element that another element of the same launch
 *    writes; it reads its own element only where the operation adds into it.
 *  - Backward outputs ADD: element idx is formed completely (a chain from +0, or an
 *    element-wise expression, or a sum of two values for upsample2) and then added with one
 *    addition, Y[idx] = Y[idx] + g, exactly as the reference. Forward outputs overwrite.
 *  - In-place element-wise forwards (silu, gelu, scale_shift with y == x) are allowed: each
 *    element reads only x[idx] of the array it writes.
 *
 * LAUNCH ORDER (and what reads what), as X-macros: GGDM_ELEM_LAUNCHES_<X>(F) expands to
 * F(X, Y) for each output Y of X, in launch order; GGDM_ELEM_OPS(F) to F(X) for every X.
 *
 *   op                    launch order                        reads an earlier output
 *   conv1d_forward        y                                   -
 *   conv1d_backward       dx, dw, db                          - (independent)
 *   linear_forward        y                                   -
 *   linear_backward       dx, dW, db                          - (independent)
 *   ws_forward            rstd, w_hat        (NOT arg order)  w_hat reads rstd
 *   ws_backward           dw                                  -
 *   groupnorm_forward     mean, rstd, y      (NOT arg order)  y reads mean, rstd
 *   groupnorm_backward    dx, dgamma, dbeta                   - (independent)
 *   chnorm_forward        mean, rstd, y      (NOT arg order)  y reads mean, rstd
 *   chnorm_backward       dx, dg                              - (independent)
 *   chnorm_beta_backward  dbeta                               - (the NORM op's ChannelNorm bias;
 *                                                             not in GGDM_ELEM_OPS)
 *   silu/gelu_forward     y                                   -
 *   silu/gelu_backward    dx                                  -
 *   scale_shift_forward   y                                   -
 *   scale_shift_backward  dx, dss                             - (independent)
 *   upsample2_forward     y                                   -
 *   upsample2_backward    dx                                  -
 *   linattn_forward       cache_q, cache_k, cache_ctx, out    cache_ctx reads cache_k;
 *                         (NOT arg order)                     out reads cache_q, cache_ctx
 *   linattn_backward      dqkv                                -
 *   attn_forward          cache_attn, out    (NOT arg order)  out reads cache_attn
 *   attn_backward         dqkv                                -
 *   time_embedding        emb                                 -
 *
 * Cost: this is the exact mode, correctness first. A reduction that several elements need
 * (a group's mean, an attention row's softmax sum, ...) is recomputed by each of them with
 * the same chain, so it has the same bits everywhere; e.g. ws_forward's w_hat recomputes its
 * row's mean (fan terms), groupnorm_backward's dx its group's two chains, attn_backward's
 * dk the softmax-backward sums of all its column's rows.
 *
 * Everything here compiles as strict C99 and as CUDA __host__ __device__ code (nvcc
 * --fmad=false -ftz=false -prec-div=true -prec-sqrt=true). Arithmetic is plain IEEE float:
 * fmaf as the reference's chains use it (ggdm/reduce.h, ggdm/layers.h), elementary functions
 * from ggdm/dmath.h, the element-wise helpers of ggdm/layers.h and ggdm/attention.h.
 * NaN results (from NaN or infinite inputs) are NaN exactly where the reference's are; their
 * sign and payload are unspecified (docs/nn.md), as they are between compilers for the
 * reference itself.
 */
#ifndef GGDM_ELEM_H
#define GGDM_ELEM_H

#include <math.h>

#include "ggdm/attention.h"
#include "ggdm/dmath.h"
#include "ggdm/hostdev.h"
#include "ggdm/layers.h"
#include "ggdm/reduce.h"

/* ------------------------------------------------------------------ launch order */

#define GGDM_ELEM_LAUNCHES_conv1d_forward(F) F(conv1d_forward, y)
#define GGDM_ELEM_LAUNCHES_conv1d_backward(F) F(conv1d_backward, dx) F(conv1d_backward, dw) F(conv1d_backward, db)
#define GGDM_ELEM_LAUNCHES_linear_forward(F) F(linear_forward, y)
#define GGDM_ELEM_LAUNCHES_linear_backward(F) F(linear_backward, dx) F(linear_backward, dW) F(linear_backward, db)
#define GGDM_ELEM_LAUNCHES_ws_forward(F) F(ws_forward, rstd) F(ws_forward, w_hat)
#define GGDM_ELEM_LAUNCHES_ws_backward(F) F(ws_backward, dw)
#define GGDM_ELEM_LAUNCHES_groupnorm_forward(F) \
    F(groupnorm_forward, mean) F(groupnorm_forward, rstd) F(groupnorm_forward, y)
#define GGDM_ELEM_LAUNCHES_groupnorm_backward(F) \
    F(groupnorm_backward, dx) F(groupnorm_backward, dgamma) F(groupnorm_backward, dbeta)
#define GGDM_ELEM_LAUNCHES_chnorm_forward(F) F(chnorm_forward, mean) F(chnorm_forward, rstd) F(chnorm_forward, y)
#define GGDM_ELEM_LAUNCHES_chnorm_backward(F) F(chnorm_backward, dx) F(chnorm_backward, dg)
#define GGDM_ELEM_LAUNCHES_chnorm_beta_backward(F) F(chnorm_beta_backward, dbeta)
#define GGDM_ELEM_LAUNCHES_silu_forward(F) F(silu_forward, y)
#define GGDM_ELEM_LAUNCHES_silu_backward(F) F(silu_backward, dx)
#define GGDM_ELEM_LAUNCHES_gelu_forward(F) F(gelu_forward, y)
#define GGDM_ELEM_LAUNCHES_gelu_backward(F) F(gelu_backward, dx)
#define GGDM_ELEM_LAUNCHES_scale_shift_forward(F) F(scale_shift_forward, y)
#define GGDM_ELEM_LAUNCHES_scale_shift_backward(F) F(scale_shift_backward, dx) F(scale_shift_backward, dss)
#define GGDM_ELEM_LAUNCHES_upsample2_forward(F) F(upsample2_forward, y)
#define GGDM_ELEM_LAUNCHES_upsample2_backward(F) F(upsample2_backward, dx)
#define GGDM_ELEM_LAUNCHES_linattn_forward(F) \
    F(linattn_forward, cache_q) F(linattn_forward, cache_k) F(linattn_forward, cache_ctx) F(linattn_forward, out)
#define GGDM_ELEM_LAUNCHES_linattn_backward(F) F(linattn_backward, dqkv)
#define GGDM_ELEM_LAUNCHES_attn_forward(F) F(attn_forward, cache_attn) F(attn_forward, out)
#define GGDM_ELEM_LAUNCHES_attn_backward(F) F(attn_backward, dqkv)
#define GGDM_ELEM_LAUNCHES_time_embedding(F) F(time_embedding, emb)

#define GGDM_ELEM_OPS(F)                                                                                              \
    F(conv1d_forward) F(conv1d_backward) F(linear_forward) F(linear_backward) F(ws_forward) F(ws_backward)            \
    F(groupnorm_forward) F(groupnorm_backward) F(chnorm_forward) F(chnorm_backward) F(silu_forward)                   \
    F(silu_backward) F(gelu_forward) F(gelu_backward) F(scale_shift_forward) F(scale_shift_backward)                   \
    F(upsample2_forward) F(upsample2_backward) F(linattn_forward) F(linattn_backward) F(attn_forward)                  \
    F(attn_backward) F(time_embedding)

/* ------------------------------------------------------------------ internal helpers */

#define GGDM_ELEM_UNUSED(v) ((void)(v))

/* ggdm_conv1d_out_len, for both drivers. */
GGDM_HD static inline int ggdm_elem_conv1d_out_len(int Lin, int K, int stride, int pad)
{
    long span;
    if (Lin < 1 || K < 1 || stride < 1 || pad < 0)
        return 0;
    span = (long)Lin + 2L * pad - K;
    if (span < 0)
        return 0;
    return (int)(span / stride + 1);
}

/* Lout of a conv that writes something, else 0 (the reference's early return). */
GGDM_HD static inline long ggdm_elem_conv1d_lout(int N, int Cin, int Lin, int Cout, int K, int stride, int pad)
{
    int Lout = ggdm_elem_conv1d_out_len(Lin, K, stride, pad);
    return (N <= 0 || Cin <= 0 || Cout <= 0 || Lout <= 0) ? 0 : (long)Lout;
}

/* The max and sum of ggdm_softmax_f32 over n values of x with stride s: m = x_0, then
 * m = x_i > m ? x_i : m; sum = chain from +0 of ggdm_expf(x_i - m). Element i of the
 * softmax is then ggdm_expf(x_i - m) / sum (the same bits). */
GGDM_HD static inline void ggdm_elem_softmax_stats(const float *x, long n, long s, float *m_out, float *sum_out)
{
    float m = x[0], sum = 0.0f;
    long i;
    for (i = 1; i < n; i++) {
        float v = x[i * s];
        m = v > m ? v : m;
    }
    for (i = 0; i < n; i++)
        sum = sum + ggdm_expf(x[i * s] - m);
    *m_out = m;
    *sum_out = sum;
}

/* Offsets (floats) of the q/k/v block `part` of head h of sample n in qkv [N, 3*H*Dh, L], and
 * of head h of sample n in an [N, H*Dh, L'] tensor (L' = L, or Dh for cache_ctx). */
GGDM_HD static inline long ggdm_elem_qkv_off(long n, int part, int H, int Dh, int L, long h)
{
    long HD = (long)H * Dh;
    return ((n * 3 + part) * HD + h * Dh) * (long)L;
}

GGDM_HD static inline long ggdm_elem_head_off(long n, int H, int Dh, int L, long h)
{
    return (n * H + h) * (long)Dh * (long)L;
}

/* ------------------------------------------------------------------ Conv1d */

GGDM_HD static inline long ggdm_elem_conv1d_forward_y_count(int N, int Cin, int Lin, int Cout, int K, int stride,
                                                            int pad)
{
    return (long)N * Cout * ggdm_elem_conv1d_lout(N, Cin, Lin, Cout, K, stride, pad);
}

/* y[n,o,l] = (chain over i, then k of fmaf(w[o,i,k], x[n,i,p], acc), p = l*stride + k - pad,
 * taps outside 0..Lin-1 skipped) [+ b[o]]. */
GGDM_HD static inline void ggdm_elem_conv1d_forward_y(float *y, const float *x, const float *w, const float *b, int N,
                                                      int Cin, int Lin, int Cout, int K, int stride, int pad, long idx)
{
    long Lout = ggdm_elem_conv1d_lout(N, Cin, Lin, Cout, K, stride, pad);
    long l = idx % Lout, o = (idx / Lout) % Cout, n = idx / (Lout * Cout), i, k;
    float acc = 0.0f;
    for (i = 0; i < Cin; i++) {
        const float *xr = x + (n * Cin + i) * Lin;
        const float *wr = w + (o * Cin + i) * K;
        for (k = 0; k < K; k++) {
            long p = l * stride + k - pad;
            if (p >= 0 && p < Lin)
                acc = fmaf(wr[k], xr[p], acc);
        }
    }
    y[idx] = b ? acc + b[o] : acc;
}

GGDM_HD static inline long ggdm_elem_conv1d_backward_dx_count(int N, int Cin, int Lin, int Cout, int K, int stride,
                                                              int pad)
{
    return ggdm_elem_conv1d_lout(N, Cin, Lin, Cout, K, stride, pad) ? (long)N * Cin * Lin : 0;
}

/* dx[n,i,p] += chain over o, then k of fmaf(w[o,i,k], dy[n,o,l], acc) for the taps where
 * l = (p + pad - k) / stride is an exact integer in 0..Lout-1. Reads neither x nor dw, db. */
GGDM_HD static inline void ggdm_elem_conv1d_backward_dx(float *dx, float *dw, float *db, const float *dy,
                                                        const float *x, const float *w, int N, int Cin, int Lin,
                                                        int Cout, int K, int stride, int pad, long idx)
{
    long Lout = ggdm_elem_conv1d_lout(N, Cin, Lin, Cout, K, stride, pad);
    long p = idx % Lin, i = (idx / Lin) % Cin, n = idx / ((long)Lin * Cin), o, k;
    float acc = 0.0f;
    GGDM_ELEM_UNUSED(dw), GGDM_ELEM_UNUSED(db), GGDM_ELEM_UNUSED(x);
    for (o = 0; o < Cout; o++) {
        const float *dyr = dy + (n * Cout + o) * Lout;
        const float *wr = w + (o * Cin + i) * K;
        for (k = 0; k < K; k++) {
            long t = p + pad - k, l;
            if (t < 0 || t % stride != 0)
                continue;
            l = t / stride;
            if (l < Lout)
                acc = fmaf(wr[k], dyr[l], acc);
        }
    }
    dx[idx] = dx[idx] + acc;
}

GGDM_HD static inline long ggdm_elem_conv1d_backward_dw_count(int N, int Cin, int Lin, int Cout, int K, int stride,
                                                              int pad)
{
    return ggdm_elem_conv1d_lout(N, Cin, Lin, Cout, K, stride, pad) ? (long)Cout * Cin * K : 0;
}

/* dw[o,i,k] += chain over n, then l of fmaf(dy[n,o,l], x[n,i,p], acc), valid p only. */
GGDM_HD static inline void ggdm_elem_conv1d_backward_dw(float *dx, float *dw, float *db, const float *dy,
                                                        const float *x, const float *w, int N, int Cin, int Lin,
                                                        int Cout, int K, int stride, int pad, long idx)
{
    long Lout = ggdm_elem_conv1d_lout(N, Cin, Lin, Cout, K, stride, pad);
    long k = idx % K, i = (idx / K) % Cin, o = idx / ((long)K * Cin), n, l;
    float acc = 0.0f;
    GGDM_ELEM_UNUSED(dx), GGDM_ELEM_UNUSED(db), GGDM_ELEM_UNUSED(w);
    for (n = 0; n < N; n++) {
        const float *dyr = dy + (n * Cout + o) * Lout;
        const float *xr = x + (n * Cin + i) * Lin;
        for (l = 0; l < Lout; l++) {
            long p = l * stride - pad + k;
            if (p >= 0 && p < Lin)
                acc = fmaf(dyr[l], xr[p], acc);
        }
    }
    dw[idx] = dw[idx] + acc;
}

GGDM_HD static inline long ggdm_elem_conv1d_backward_db_count(int N, int Cin, int Lin, int Cout, int K, int stride,
                                                              int pad)
{
    return ggdm_elem_conv1d_lout(N, Cin, Lin, Cout, K, stride, pad) ? (long)Cout : 0;
}

/* db[o] += chain over n, then l of acc + dy[n,o,l]. */
GGDM_HD static inline void ggdm_elem_conv1d_backward_db(float *dx, float *dw, float *db, const float *dy,
                                                        const float *x, const float *w, int N, int Cin, int Lin,
                                                        int Cout, int K, int stride, int pad, long idx)
{
    long Lout = ggdm_elem_conv1d_lout(N, Cin, Lin, Cout, K, stride, pad), n, l;
    float acc = 0.0f;
    GGDM_ELEM_UNUSED(dx), GGDM_ELEM_UNUSED(dw), GGDM_ELEM_UNUSED(x), GGDM_ELEM_UNUSED(w);
    for (n = 0; n < N; n++) {
        const float *dyr = dy + (n * Cout + idx) * Lout;
        for (l = 0; l < Lout; l++)
            acc = acc + dyr[l];
    }
    db[idx] = db[idx] + acc;
}

/* ------------------------------------------------------------------ Linear */

GGDM_HD static inline int ggdm_elem_linear_valid(int N, int In, int Out)
{
    return N > 0 && In > 0 && Out > 0;
}

GGDM_HD static inline long ggdm_elem_linear_forward_y_count(int N, int In, int Out)
{
    return ggdm_elem_linear_valid(N, In, Out) ? (long)N * Out : 0;
}

/* y[n,o] = (chain over i of fmaf(W[o,i], x[n,i], acc)) [+ b[o]]. */
GGDM_HD static inline void ggdm_elem_linear_forward_y(float *y, const float *x, const float *W, const float *b, int N,
                                                      int In, int Out, long idx)
{
    long o = idx % Out, n = idx / Out;
    float acc = ggdm_dot_f32(W + o * In, 1, x + n * In, 1, In);
    GGDM_ELEM_UNUSED(N);
    y[idx] = b ? acc + b[o] : acc;
}

GGDM_HD static inline long ggdm_elem_linear_backward_dx_count(int N, int In, int Out)
{
    return ggdm_elem_linear_valid(N, In, Out) ? (long)N * In : 0;
}

/* dx[n,i] += chain over o of fmaf(W[o,i], dy[n,o], acc). */
GGDM_HD static inline void ggdm_elem_linear_backward_dx(float *dx, float *dW, float *db, const float *dy,
                                                        const float *x, const float *W, int N, int In, int Out,
                                                        long idx)
{
    long i = idx % In, n = idx / In;
    float acc = ggdm_dot_f32(W + i, In, dy + n * Out, 1, Out);
    GGDM_ELEM_UNUSED(dW), GGDM_ELEM_UNUSED(db), GGDM_ELEM_UNUSED(x), GGDM_ELEM_UNUSED(N);
    dx[idx] = dx[idx] + acc;
}

GGDM_HD static inline long ggdm_elem_linear_backward_dW_count(int N, int In, int Out)
{
    return ggdm_elem_linear_valid(N, In, Out) ? (long)Out * In : 0;
}

/* dW[o,i] += chain over n of fmaf(dy[n,o], x[n,i], acc). */
GGDM_HD static inline void ggdm_elem_linear_backward_dW(float *dx, float *dW, float *db, const float *dy,
                                                        const float *x, const float *W, int N, int In, int Out,
                                                        long idx)
{
    long i = idx % In, o = idx / In;
    float acc = ggdm_dot_f32(dy + o, Out, x + i, In, N);
    GGDM_ELEM_UNUSED(dx), GGDM_ELEM_UNUSED(db), GGDM_ELEM_UNUSED(W);
    dW[idx] = dW[idx] + acc;
}

GGDM_HD static inline long ggdm_elem_linear_backward_db_count(int N, int In, int Out)
{
    return ggdm_elem_linear_valid(N, In, Out) ? (long)Out : 0;
}

/* db[o] += chain over n of acc + dy[n,o]. */
GGDM_HD static inline void ggdm_elem_linear_backward_db(float *dx, float *dW, float *db, const float *dy,
                                                        const float *x, const float *W, int N, int In, int Out,
                                                        long idx)
{
    float acc = ggdm_sum_f32(dy + idx, Out, N);
    GGDM_ELEM_UNUSED(dx), GGDM_ELEM_UNUSED(dW), GGDM_ELEM_UNUSED(x), GGDM_ELEM_UNUSED(W), GGDM_ELEM_UNUSED(In);
    db[idx] = db[idx] + acc;
}

/* ------------------------------------------------------------------ weight standardisation */

GGDM_HD static inline long ggdm_elem_ws_forward_rstd_count(int Cout, int fan)
{
    return Cout > 0 && fan > 0 ? (long)Cout : 0;
}

/* rstd[o] = ggdm_norm_rstd(var), (mean, var) = ggdm_mean_var_f32(w[o,:], 1, fan). */
GGDM_HD static inline void ggdm_elem_ws_forward_rstd(float *w_hat, float *rstd, const float *w, int Cout, int fan,
                                                     long idx)
{
    float m, v;
    GGDM_ELEM_UNUSED(w_hat), GGDM_ELEM_UNUSED(Cout);
    ggdm_mean_var_f32(w + idx * fan, 1, fan, &m, &v);
    rstd[idx] = ggdm_norm_rstd(v);
}

GGDM_HD static inline long ggdm_elem_ws_forward_w_hat_count(int Cout, int fan)
{
    return Cout > 0 && fan > 0 ? (long)Cout * fan : 0;
}

/* w_hat[o,j] = ggdm_norm_xhat(w[o,j], mean, rstd[o]); the row's mean (the first pass of
 * ggdm_mean_var_f32: chain sum / fan) is recomputed; rstd[o] was launched before. */
GGDM_HD static inline void ggdm_elem_ws_forward_w_hat(float *w_hat, float *rstd, const float *w, int Cout, int fan,
                                                      long idx)
{
    long o = idx / fan;
    float m = ggdm_sum_f32(w + o * fan, 1, fan) / (float)fan;
    GGDM_ELEM_UNUSED(Cout);
    w_hat[idx] = ggdm_norm_xhat(w[idx], m, rstd[o]);
}

GGDM_HD static inline long ggdm_elem_ws_backward_dw_count(int Cout, int fan)
{
    return Cout > 0 && fan > 0 ? (long)Cout * fan : 0;
}

/* dw[o,j] += ggdm_norm_dx(dw_hat[o,j], w_hat[o,j], m1, m2, rstd[o]), m1 = (chain over the row
 * of acc + dw_hat) / fan, m2 = (chain of fmaf(dw_hat, w_hat, acc)) / fan. */
GGDM_HD static inline void ggdm_elem_ws_backward_dw(float *dw, const float *dw_hat, const float *w_hat,
                                                    const float *rstd, int Cout, int fan, long idx)
{
    long o = idx / fan;
    const float *gr = dw_hat + o * fan, *hr = w_hat + o * fan;
    float m1 = ggdm_sum_f32(gr, 1, fan) / (float)fan;
    float m2 = ggdm_dot_f32(gr, 1, hr, 1, fan) / (float)fan;
    GGDM_ELEM_UNUSED(Cout);
    dw[idx] = dw[idx] + ggdm_norm_dx(dw_hat[idx], w_hat[idx], m1, m2, rstd[o]);
}

/* ------------------------------------------------------------------ GroupNorm */

GGDM_HD static inline int ggdm_elem_groupnorm_valid(int N, int C, int L, int G)
{
    return N > 0 && C > 0 && L > 0 && G > 0 && C % G == 0;
}

GGDM_HD static inline long ggdm_elem_groupnorm_forward_mean_count(int N, int C, int L, int G)
{
    return ggdm_elem_groupnorm_valid(N, C, L, G) ? (long)N * G : 0;
}

/* mean[q] (q = n*G + g): ggdm_mean_var_f32 over the group's M = (C/G)*L contiguous values. */
GGDM_HD static inline void ggdm_elem_groupnorm_forward_mean(float *y, float *mean, float *rstd, const float *x,
                                                            const float *gamma, const float *beta, int N, int C,
                                                            int L, int G, float eps, long idx)
{
    long M = (long)(C / G) * L;
    float m, v;
    GGDM_ELEM_UNUSED(y), GGDM_ELEM_UNUSED(rstd), GGDM_ELEM_UNUSED(gamma), GGDM_ELEM_UNUSED(beta),
        GGDM_ELEM_UNUSED(N);
    GGDM_ELEM_UNUSED(eps);
    ggdm_mean_var_f32(x + idx * M, 1, M, &m, &v);
    mean[idx] = m;
}

GGDM_HD static inline long ggdm_elem_groupnorm_forward_rstd_count(int N, int C, int L, int G)
{
    return ggdm_elem_groupnorm_valid(N, C, L, G) ? (long)N * G : 0;
}

/* rstd[q] = ggdm_norm_rstd_eps(var, eps) of the same ggdm_mean_var_f32 (eps = GGDM_NORM_EPS:
 * ggdm_norm_rstd, the same bits). */
GGDM_HD static inline void ggdm_elem_groupnorm_forward_rstd(float *y, float *mean, float *rstd, const float *x,
                                                            const float *gamma, const float *beta, int N, int C,
                                                            int L, int G, float eps, long idx)
{
    long M = (long)(C / G) * L;
    float m, v;
    GGDM_ELEM_UNUSED(y), GGDM_ELEM_UNUSED(mean), GGDM_ELEM_UNUSED(gamma), GGDM_ELEM_UNUSED(beta),
        GGDM_ELEM_UNUSED(N);
    ggdm_mean_var_f32(x + idx * M, 1, M, &m, &v);
    rstd[idx] = ggdm_norm_rstd_eps(v, eps);
}

GGDM_HD static inline long ggdm_elem_groupnorm_forward_y_count(int N, int C, int L, int G)
{
    return ggdm_elem_groupnorm_valid(N, C, L, G) ? (long)N * C * L : 0;
}

/* y[n,c,l] = ((x - mean) * rstd) [* gamma[c]] [+ beta[c]]; mean, rstd launched before. */
GGDM_HD static inline void ggdm_elem_groupnorm_forward_y(float *y, float *mean, float *rstd, const float *x,
                                                         const float *gamma, const float *beta, int N, int C, int L,
                                                         int G, float eps, long idx)
{
    long c = (idx / L) % C, n = idx / ((long)L * C), q = n * G + c / (C / G);
    float v = ggdm_norm_xhat(x[idx], mean[q], rstd[q]);
    GGDM_ELEM_UNUSED(N), GGDM_ELEM_UNUSED(eps);
    if (gamma)
        v = v * gamma[c];
    if (beta)
        v = v + beta[c];
    y[idx] = v;
}

GGDM_HD static inline long ggdm_elem_groupnorm_backward_dx_count(int N, int C, int L, int G)
{
    return ggdm_elem_groupnorm_valid(N, C, L, G) ? (long)N * C * L : 0;
}

/* dx[n,c,l] += ggdm_norm_dx(dxhat, xhat, m1, m2, rstd[q]) with dxhat = dy [* gamma[c]],
 * xhat = (x - mean[q]) * rstd[q], and m1, m2 the group's chains (C order) over
 * acc + dxhat and fmaf(dxhat, xhat, acc), each divided by (float)M. */
GGDM_HD static inline void ggdm_elem_groupnorm_backward_dx(float *dx, float *dgamma, float *dbeta, const float *dy,
                                                           const float *x, const float *mean, const float *rstd,
                                                           const float *gamma, int N, int C, int L, int G, long idx)
{
    long Cg = C / G, M = Cg * L;
    long c = (idx / L) % C, n = idx / ((long)L * C), g = c / Cg, q = n * G + g;
    const float *xb = x + q * M, *db = dy + q * M;
    float m = mean[q], r = rstd[q], s1 = 0.0f, s2 = 0.0f, dh;
    long cc, l;
    GGDM_ELEM_UNUSED(dgamma), GGDM_ELEM_UNUSED(dbeta), GGDM_ELEM_UNUSED(N);
    for (cc = 0; cc < Cg; cc++) {
        const float *xr = xb + cc * L, *dr = db + cc * L;
        for (l = 0; l < L; l++) {
            float d = gamma ? dr[l] * gamma[g * Cg + cc] : dr[l];
            s1 = s1 + d;
            s2 = fmaf(d, ggdm_norm_xhat(xr[l], m, r), s2);
        }
    }
    s1 = s1 / (float)M;
    s2 = s2 / (float)M;
    dh = gamma ? dy[idx] * gamma[c] : dy[idx];
    dx[idx] = dx[idx] + ggdm_norm_dx(dh, ggdm_norm_xhat(x[idx], m, r), s1, s2, r);
}

GGDM_HD static inline long ggdm_elem_groupnorm_backward_dgamma_count(int N, int C, int L, int G)
{
    return ggdm_elem_groupnorm_valid(N, C, L, G) ? (long)C : 0;
}

/* dgamma[c] += chain over n, then l of fmaf(dy[n,c,l], xhat[n,c,l], acc). */
GGDM_HD static inline void ggdm_elem_groupnorm_backward_dgamma(float *dx, float *dgamma, float *dbeta,
                                                               const float *dy, const float *x, const float *mean,
                                                               const float *rstd, const float *gamma, int N, int C,
                                                               int L, int G, long idx)
{
    long g = idx / (C / G), n, l;
    float acc = 0.0f;
    GGDM_ELEM_UNUSED(dx), GGDM_ELEM_UNUSED(dbeta), GGDM_ELEM_UNUSED(gamma);
    for (n = 0; n < N; n++) {
        const float *xr = x + (n * C + idx) * L, *dr = dy + (n * C + idx) * L;
        float m = mean[n * G + g], r = rstd[n * G + g];
        for (l = 0; l < L; l++)
            acc = fmaf(dr[l], ggdm_norm_xhat(xr[l], m, r), acc);
    }
    dgamma[idx] = dgamma[idx] + acc;
}

GGDM_HD static inline long ggdm_elem_groupnorm_backward_dbeta_count(int N, int C, int L, int G)
{
    return ggdm_elem_groupnorm_valid(N, C, L, G) ? (long)C : 0;
}

/* dbeta[c] += chain over n, then l of acc + dy[n,c,l]. */
GGDM_HD static inline void ggdm_elem_groupnorm_backward_dbeta(float *dx, float *dgamma, float *dbeta, const float *dy,
                                                              const float *x, const float *mean, const float *rstd,
                                                              const float *gamma, int N, int C, int L, int G, long idx)
{
    long n, l;
    float acc = 0.0f;
    GGDM_ELEM_UNUSED(dx), GGDM_ELEM_UNUSED(dgamma), GGDM_ELEM_UNUSED(x), GGDM_ELEM_UNUSED(mean),
        GGDM_ELEM_UNUSED(rstd), GGDM_ELEM_UNUSED(gamma), GGDM_ELEM_UNUSED(G);
    for (n = 0; n < N; n++) {
        const float *dr = dy + (n * C + idx) * L;
        for (l = 0; l < L; l++)
            acc = acc + dr[l];
    }
    dbeta[idx] = dbeta[idx] + acc;
}

/* ------------------------------------------------------------------ ChannelNorm */

GGDM_HD static inline int ggdm_elem_chnorm_valid(int N, int C, int L)
{
    return N > 0 && C > 0 && L > 0;
}

GGDM_HD static inline long ggdm_elem_chnorm_forward_mean_count(int N, int C, int L)
{
    return ggdm_elem_chnorm_valid(N, C, L) ? (long)N * L : 0;
}

/* mean[n*L + l]: ggdm_mean_var_f32(x + n*C*L + l, L, C). */
GGDM_HD static inline void ggdm_elem_chnorm_forward_mean(float *y, float *mean, float *rstd, const float *x,
                                                         const float *g, const float *beta, int N, int C, int L,
                                                         float eps, long idx)
{
    long l = idx % L, n = idx / L;
    float m, v;
    GGDM_ELEM_UNUSED(y), GGDM_ELEM_UNUSED(rstd), GGDM_ELEM_UNUSED(g), GGDM_ELEM_UNUSED(beta), GGDM_ELEM_UNUSED(N),
        GGDM_ELEM_UNUSED(eps);
    ggdm_mean_var_f32(x + n * C * L + l, L, C, &m, &v);
    mean[idx] = m;
}

GGDM_HD static inline long ggdm_elem_chnorm_forward_rstd_count(int N, int C, int L)
{
    return ggdm_elem_chnorm_valid(N, C, L) ? (long)N * L : 0;
}

/* rstd[n*L + l] = ggdm_norm_rstd_eps(var, eps) of the same ggdm_mean_var_f32. */
GGDM_HD static inline void ggdm_elem_chnorm_forward_rstd(float *y, float *mean, float *rstd, const float *x,
                                                         const float *g, const float *beta, int N, int C, int L,
                                                         float eps, long idx)
{
    long l = idx % L, n = idx / L;
    float m, v;
    GGDM_ELEM_UNUSED(y), GGDM_ELEM_UNUSED(mean), GGDM_ELEM_UNUSED(g), GGDM_ELEM_UNUSED(beta), GGDM_ELEM_UNUSED(N);
    ggdm_mean_var_f32(x + n * C * L + l, L, C, &m, &v);
    rstd[idx] = ggdm_norm_rstd_eps(v, eps);
}

GGDM_HD static inline long ggdm_elem_chnorm_forward_y_count(int N, int C, int L)
{
    return ggdm_elem_chnorm_valid(N, C, L) ? (long)N * C * L : 0;
}

/* y[n,c,l] = ((x - mean) * rstd) [* g[c]] [+ beta[c]]; mean, rstd launched before. */
GGDM_HD static inline void ggdm_elem_chnorm_forward_y(float *y, float *mean, float *rstd, const float *x,
                                                      const float *g, const float *beta, int N, int C, int L,
                                                      float eps, long idx)
{
    long l = idx % L, c = (idx / L) % C, n = idx / ((long)L * C), s = n * L + l;
    float t = ggdm_norm_xhat(x[idx], mean[s], rstd[s]);
    GGDM_ELEM_UNUSED(N), GGDM_ELEM_UNUSED(eps);
    if (g)
        t = t * g[c];
    y[idx] = beta ? t + beta[c] : t;
}

GGDM_HD static inline long ggdm_elem_chnorm_backward_dx_count(int N, int C, int L)
{
    return ggdm_elem_chnorm_valid(N, C, L) ? (long)N * C * L : 0;
}

/* dx[n,c,l] += ggdm_norm_dx(dxhat, xhat, m1, m2, rstd[n,l]), dxhat = dy [* g[c]], m1, m2 the
 * chains over c' = 0..C-1 at (n, l) of acc + dxhat and fmaf(dxhat, xhat, acc), / (float)C. */
GGDM_HD static inline void ggdm_elem_chnorm_backward_dx(float *dx, float *dg, const float *dy, const float *x,
                                                        const float *mean, const float *rstd, const float *g, int N,
                                                        int C, int L, long idx)
{
    long l = idx % L, c = (idx / L) % C, n = idx / ((long)L * C), s = n * L + l, cc;
    const float *xb = x + n * C * L + l, *db = dy + n * C * L + l;
    float m = mean[s], r = rstd[s], s1 = 0.0f, s2 = 0.0f, dh;
    GGDM_ELEM_UNUSED(dg), GGDM_ELEM_UNUSED(N);
    for (cc = 0; cc < C; cc++) {
        float d = g ? db[cc * L] * g[cc] : db[cc * L];
        s1 = s1 + d;
        s2 = fmaf(d, ggdm_norm_xhat(xb[cc * L], m, r), s2);
    }
    s1 = s1 / (float)C;
    s2 = s2 / (float)C;
    dh = g ? dy[idx] * g[c] : dy[idx];
    dx[idx] = dx[idx] + ggdm_norm_dx(dh, ggdm_norm_xhat(x[idx], m, r), s1, s2, r);
}

GGDM_HD static inline long ggdm_elem_chnorm_backward_dg_count(int N, int C, int L)
{
    return ggdm_elem_chnorm_valid(N, C, L) ? (long)C : 0;
}

/* dg[c] += chain over n, then l of fmaf(dy[n,c,l], xhat[n,c,l], acc). */
GGDM_HD static inline void ggdm_elem_chnorm_backward_dg(float *dx, float *dg, const float *dy, const float *x,
                                                        const float *mean, const float *rstd, const float *g, int N,
                                                        int C, int L, long idx)
{
    long n, l;
    float acc = 0.0f;
    GGDM_ELEM_UNUSED(dx), GGDM_ELEM_UNUSED(g);
    for (n = 0; n < N; n++) {
        const float *xr = x + (n * C + idx) * L, *dr = dy + (n * C + idx) * L;
        const float *mn = mean + n * L, *rn = rstd + n * L;
        for (l = 0; l < L; l++)
            acc = fmaf(dr[l], ggdm_norm_xhat(xr[l], mn[l], rn[l]), acc);
    }
    dg[idx] = dg[idx] + acc;
}

/* ChannelNorm's bias gradient (Stable Diffusion's LayerNorm; not an operation of the backend
 * table, so not in GGDM_ELEM_OPS: the NORM op's elem and CUDA drivers launch it after
 * chnorm_backward): dbeta[c] += chain over n, then l of acc + dy[n,c,l]. */
GGDM_HD static inline long ggdm_elem_chnorm_beta_backward_dbeta_count(int N, int C, int L)
{
    return ggdm_elem_chnorm_valid(N, C, L) ? (long)C : 0;
}

GGDM_HD static inline void ggdm_elem_chnorm_beta_backward_dbeta(float *dbeta, const float *dy, int N, int C, int L,
                                                                long idx)
{
    long n, l;
    float acc = 0.0f;
    for (n = 0; n < N; n++) {
        const float *dr = dy + (n * C + idx) * L;
        for (l = 0; l < L; l++)
            acc = acc + dr[l];
    }
    dbeta[idx] = dbeta[idx] + acc;
}

/* ------------------------------------------------------------------ activations */

GGDM_HD static inline long ggdm_elem_silu_forward_y_count(long n)
{
    return n > 0 ? n : 0;
}

/* y[i] = ggdm_silu(x[i]) (y == x allowed). */
GGDM_HD static inline void ggdm_elem_silu_forward_y(float *y, const float *x, long n, long idx)
{
    GGDM_ELEM_UNUSED(n);
    y[idx] = ggdm_silu(x[idx]);
}

GGDM_HD static inline long ggdm_elem_silu_backward_dx_count(long n)
{
    return n > 0 ? n : 0;
}

/* dx[i] += dy[i] * ggdm_silu_grad(x[i]). */
GGDM_HD static inline void ggdm_elem_silu_backward_dx(float *dx, const float *dy, const float *x, long n, long idx)
{
    GGDM_ELEM_UNUSED(n);
    dx[idx] = dx[idx] + dy[idx] * ggdm_silu_grad(x[idx]);
}

GGDM_HD static inline long ggdm_elem_gelu_forward_y_count(long n)
{
    return n > 0 ? n : 0;
}

/* y[i] = ggdm_gelu(x[i]) (y == x allowed). */
GGDM_HD static inline void ggdm_elem_gelu_forward_y(float *y, const float *x, long n, long idx)
{
    GGDM_ELEM_UNUSED(n);
    y[idx] = ggdm_gelu(x[idx]);
}

GGDM_HD static inline long ggdm_elem_gelu_backward_dx_count(long n)
{
    return n > 0 ? n : 0;
}

/* dx[i] += dy[i] * ggdm_gelu_grad(x[i]). */
GGDM_HD static inline void ggdm_elem_gelu_backward_dx(float *dx, const float *dy, const float *x, long n, long idx)
{
    GGDM_ELEM_UNUSED(n);
    dx[idx] = dx[idx] + dy[idx] * ggdm_gelu_grad(x[idx]);
}

/* ------------------------------------------------------------------ FiLM, upsampling */

GGDM_HD static inline long ggdm_elem_scale_shift_forward_y_count(int N, int C, int L)
{
    return N > 0 && C > 0 && L > 0 ? (long)N * C * L : 0;
}

/* y[n,c,l] = (x * (ss[n,c] + 1.0f)) + ss[n,C+c] (y == x allowed). */
GGDM_HD static inline void ggdm_elem_scale_shift_forward_y(float *y, const float *x, const float *ss, int N, int C,
                                                           int L, long idx)
{
    long c = (idx / L) % C, n = idx / ((long)L * C);
    float s1 = ss[n * 2 * C + c] + 1.0f, sh = ss[n * 2 * C + C + c];
    GGDM_ELEM_UNUSED(N);
    y[idx] = (x[idx] * s1) + sh;
}

GGDM_HD static inline long ggdm_elem_scale_shift_backward_dx_count(int N, int C, int L)
{
    return N > 0 && C > 0 && L > 0 ? (long)N * C * L : 0;
}

/* dx[n,c,l] += dy * (ss[n,c] + 1.0f). Does not read x. */
GGDM_HD static inline void ggdm_elem_scale_shift_backward_dx(float *dx, float *dss, const float *dy, const float *x,
                                                             const float *ss, int N, int C, int L, long idx)
{
    long c = (idx / L) % C, n = idx / ((long)L * C);
    float s1 = ss[n * 2 * C + c] + 1.0f;
    GGDM_ELEM_UNUSED(dss), GGDM_ELEM_UNUSED(x), GGDM_ELEM_UNUSED(N);
    dx[idx] = dx[idx] + dy[idx] * s1;
}

GGDM_HD static inline long ggdm_elem_scale_shift_backward_dss_count(int N, int C, int L)
{
    return N > 0 && C > 0 && L > 0 ? (long)N * 2 * C : 0;
}

/* dss[n,c] += chain over l of fmaf(dy[n,c,l], x[n,c,l], acc) (scale, c < C);
 * dss[n,C+c] += chain over l of acc + dy[n,c,l] (shift). */
GGDM_HD static inline void ggdm_elem_scale_shift_backward_dss(float *dx, float *dss, const float *dy, const float *x,
                                                              const float *ss, int N, int C, int L, long idx)
{
    long j = idx % (2L * C), n = idx / (2L * C), c = j < C ? j : j - C, l;
    const float *dyr = dy + (n * C + c) * L;
    float acc = 0.0f;
    GGDM_ELEM_UNUSED(dx), GGDM_ELEM_UNUSED(ss), GGDM_ELEM_UNUSED(N);
    if (j < C) {
        const float *xr = x + (n * C + c) * L;
        for (l = 0; l < L; l++)
            acc = fmaf(dyr[l], xr[l], acc);
    } else {
        for (l = 0; l < L; l++)
            acc = acc + dyr[l];
    }
    dss[idx] = dss[idx] + acc;
}

GGDM_HD static inline long ggdm_elem_upsample2_forward_y_count(int N, int C, int L)
{
    return N > 0 && C > 0 && L > 0 ? (long)N * C * 2 * L : 0;
}

/* y[n,c,j] = x[n,c,j/2], y [N, C, 2L]. */
GGDM_HD static inline void ggdm_elem_upsample2_forward_y(float *y, const float *x, int N, int C, int L, long idx)
{
    long j = idx % (2L * L), r = idx / (2L * L);
    GGDM_ELEM_UNUSED(N), GGDM_ELEM_UNUSED(C);
    y[idx] = x[r * L + j / 2];
}

GGDM_HD static inline long ggdm_elem_upsample2_backward_dx_count(int N, int C, int L)
{
    return N > 0 && C > 0 && L > 0 ? (long)N * C * L : 0;
}

/* dx[n,c,l] += (dy[n,c,2l] + dy[n,c,2l+1]). */
GGDM_HD static inline void ggdm_elem_upsample2_backward_dx(float *dx, const float *dy, int N, int C, int L, long idx)
{
    long l = idx % L, r = idx / L;
    const float *dyr = dy + r * 2 * L;
    GGDM_ELEM_UNUSED(N), GGDM_ELEM_UNUSED(C);
    dx[idx] = dx[idx] + (dyr[2 * l] + dyr[2 * l + 1]);
}

/* ------------------------------------------------------------------ LinearAttention */

GGDM_HD static inline int ggdm_elem_attn_valid(int N, int H, int Dh, int L)
{
    return N >= 1 && H >= 1 && Dh >= 1 && L >= 1;
}

GGDM_HD static inline long ggdm_elem_linattn_forward_cache_q_count(int N, int H, int Dh, int L)
{
    return ggdm_elem_attn_valid(N, H, Dh, L) ? (long)N * H * Dh * L : 0;
}

/* cache_q[n, h*Dh+d, l] = qs[d,l] = (softmax over d of q[:, l])[d] * scale. */
GGDM_HD static inline void ggdm_elem_linattn_forward_cache_q(float *out, float *cache_q, float *cache_k,
                                                             float *cache_ctx, const float *qkv, int N, int H, int Dh,
                                                             int L, long idx)
{
    long l = idx % L, d = (idx / L) % Dh, h = (idx / ((long)L * Dh)) % H, n = idx / ((long)L * Dh * H);
    const float *q = qkv + ggdm_elem_qkv_off(n, 0, H, Dh, L, h);
    float m, s;
    GGDM_ELEM_UNUSED(out), GGDM_ELEM_UNUSED(cache_k), GGDM_ELEM_UNUSED(cache_ctx), GGDM_ELEM_UNUSED(N);
    ggdm_elem_softmax_stats(q + l, Dh, L, &m, &s);
    cache_q[idx] = (ggdm_expf(q[d * L + l] - m) / s) * ggdm_attn_scale(Dh);
}

GGDM_HD static inline long ggdm_elem_linattn_forward_cache_k_count(int N, int H, int Dh, int L)
{
    return ggdm_elem_attn_valid(N, H, Dh, L) ? (long)N * H * Dh * L : 0;
}

/* cache_k[n, h*Dh+d, l] = ks[d,l] = (softmax over l of k[d, :])[l]. */
GGDM_HD static inline void ggdm_elem_linattn_forward_cache_k(float *out, float *cache_q, float *cache_k,
                                                             float *cache_ctx, const float *qkv, int N, int H, int Dh,
                                                             int L, long idx)
{
    long l = idx % L, d = (idx / L) % Dh, h = (idx / ((long)L * Dh)) % H, n = idx / ((long)L * Dh * H);
    const float *kr = qkv + ggdm_elem_qkv_off(n, 1, H, Dh, L, h) + d * L;
    float m, s;
    GGDM_ELEM_UNUSED(out), GGDM_ELEM_UNUSED(cache_q), GGDM_ELEM_UNUSED(cache_ctx), GGDM_ELEM_UNUSED(N);
    ggdm_elem_softmax_stats(kr, L, 1, &m, &s);
    cache_k[idx] = ggdm_expf(kr[l] - m) / s;
}

GGDM_HD static inline long ggdm_elem_linattn_forward_cache_ctx_count(int N, int H, int Dh, int L)
{
    return ggdm_elem_attn_valid(N, H, Dh, L) ? (long)N * H * Dh * Dh : 0;
}

/* cache_ctx[n, h, d, e] = chain over l of fmaf(v[e,l], ks[d,l], acc); reads cache_k. */
GGDM_HD static inline void ggdm_elem_linattn_forward_cache_ctx(float *out, float *cache_q, float *cache_k,
                                                               float *cache_ctx, const float *qkv, int N, int H,
                                                               int Dh, int L, long idx)
{
    long e = idx % Dh, d = (idx / Dh) % Dh, h = (idx / ((long)Dh * Dh)) % H, n = idx / ((long)Dh * Dh * H);
    const float *vr = qkv + ggdm_elem_qkv_off(n, 2, H, Dh, L, h) + e * L;
    const float *ks = cache_k + ggdm_elem_head_off(n, H, Dh, L, h) + d * L;
    GGDM_ELEM_UNUSED(out), GGDM_ELEM_UNUSED(cache_q), GGDM_ELEM_UNUSED(N);
    cache_ctx[idx] = ggdm_dot_f32(vr, 1, ks, 1, L);
}

GGDM_HD static inline long ggdm_elem_linattn_forward_out_count(int N, int H, int Dh, int L)
{
    return ggdm_elem_attn_valid(N, H, Dh, L) ? (long)N * H * Dh * L : 0;
}

/* out[n, h*Dh+e, l] = chain over d of fmaf(qs[d,l], ctx[d,e], acc); reads cache_q, cache_ctx. */
GGDM_HD static inline void ggdm_elem_linattn_forward_out(float *out, float *cache_q, float *cache_k, float *cache_ctx,
                                                         const float *qkv, int N, int H, int Dh, int L, long idx)
{
    long l = idx % L, e = (idx / L) % Dh, h = (idx / ((long)L * Dh)) % H, n = idx / ((long)L * Dh * H);
    const float *qs = cache_q + ggdm_elem_head_off(n, H, Dh, L, h) + l;
    const float *ctx = cache_ctx + ggdm_elem_head_off(n, H, Dh, Dh, h) + e;
    GGDM_ELEM_UNUSED(cache_k), GGDM_ELEM_UNUSED(qkv), GGDM_ELEM_UNUSED(N);
    out[idx] = ggdm_dot_f32(qs, L, ctx, Dh, Dh);
}

/*
 * cache_q and cache_k with the softmax statistics stored once (per (n, h, l) over d for q, per
 * (n, h, d) over l for k; ggdm_elem_softmax_stats, so the same (m, s) as every element of the
 * single launches recomputes), for a device: qst [N*H*L][2], kst [N*H*Dh][2]; the same bits.
 */
GGDM_HD static inline long ggdm_elem_linattn_forward_qstats_count(int N, int H, int Dh, int L)
{
    return ggdm_elem_attn_valid(N, H, Dh, L) ? (long)N * H * L : 0;
}

GGDM_HD static inline void ggdm_elem_linattn_forward_qstats(float *qst, const float *qkv, int N, int H, int Dh, int L,
                                                            long idx)
{
    long l = idx % L, h = (idx / L) % H, n = idx / ((long)L * H);
    GGDM_ELEM_UNUSED(N);
    ggdm_elem_softmax_stats(qkv + ggdm_elem_qkv_off(n, 0, H, Dh, L, h) + l, Dh, L, &qst[2 * idx], &qst[2 * idx + 1]);
}

GGDM_HD static inline long ggdm_elem_linattn_forward_kstats_count(int N, int H, int Dh, int L)
{
    return ggdm_elem_attn_valid(N, H, Dh, L) ? (long)N * H * Dh : 0;
}

GGDM_HD static inline void ggdm_elem_linattn_forward_kstats(float *kst, const float *qkv, int N, int H, int Dh, int L,
                                                            long idx)
{
    long d = idx % Dh, h = (idx / Dh) % H, n = idx / ((long)Dh * H);
    GGDM_ELEM_UNUSED(N);
    ggdm_elem_softmax_stats(qkv + ggdm_elem_qkv_off(n, 1, H, Dh, L, h) + d * L, L, 1, &kst[2 * idx],
                            &kst[2 * idx + 1]);
}

/* cache_q[idx] as ggdm_elem_linattn_forward_cache_q, its (m, s) from qst. */
GGDM_HD static inline void ggdm_elem_linattn_forward_cache_q_staged(float *cache_q, const float *qkv, const float *qst,
                                                                    int N, int H, int Dh, int L, long idx)
{
    long l = idx % L, d = (idx / L) % Dh, h = (idx / ((long)L * Dh)) % H, n = idx / ((long)L * Dh * H);
    long s = (n * H + h) * L + l;
    const float *q = qkv + ggdm_elem_qkv_off(n, 0, H, Dh, L, h);
    GGDM_ELEM_UNUSED(N);
    cache_q[idx] = (ggdm_expf(q[d * L + l] - qst[2 * s]) / qst[2 * s + 1]) * ggdm_attn_scale(Dh);
}

/* cache_k[idx] as ggdm_elem_linattn_forward_cache_k, its (m, s) from kst. */
GGDM_HD static inline void ggdm_elem_linattn_forward_cache_k_staged(float *cache_k, const float *qkv, const float *kst,
                                                                    int N, int H, int Dh, int L, long idx)
{
    long l = idx % L, d = (idx / L) % Dh, h = (idx / ((long)L * Dh)) % H, n = idx / ((long)L * Dh * H);
    long s = (n * H + h) * Dh + d;
    const float *kr = qkv + ggdm_elem_qkv_off(n, 1, H, Dh, L, h) + d * L;
    GGDM_ELEM_UNUSED(N);
    cache_k[idx] = ggdm_expf(kr[l] - kst[2 * s]) / kst[2 * s + 1];
}

GGDM_HD static inline long ggdm_elem_linattn_backward_dqkv_count(int N, int H, int Dh, int L)
{
    return ggdm_elem_attn_valid(N, H, Dh, L) ? (long)N * 3 * H * Dh * L : 0;
}

/* dctx[d, e] = chain over l of fmaf(dout[e,l], qs[d,l], acc) (one head's blocks). */
GGDM_HD static inline float ggdm_elem_linattn_dctx(const float *go, const float *qs, long d, long e, int L)
{
    return ggdm_dot_f32(go + e * L, 1, qs + d * L, 1, L);
}

/* dp[d, l] = (chain over e of fmaf(dout[e,l], ctx[d,e], acc)) * scale (one head's blocks). */
GGDM_HD static inline float ggdm_elem_linattn_dp(const float *go, const float *ctx, long d, long l, int Dh, int L)
{
    return ggdm_dot_f32(go + l, L, ctx + d * Dh, 1, Dh) * ggdm_attn_scale(Dh);
}

/*
 * dqkv += the gradient of element idx of qkv [N, 3*H*Dh, L] (docs/nn.md, LinearAttention
 * backward), per head, with p the softmax of q over d (recomputed), qs = cache_q,
 * ks = cache_k, ctx = cache_ctx:
 *   q channel d, position l:  dp[d',l] = (chain over e of fmaf(dout[e,l], ctx[d',e], acc)) * scale;
 *                             t = chain over d' of fmaf(p[d',l], dp[d',l], acc);
 *                             g = p[d,l] * (dp[d,l] - t)
 *   k channel d, position l:  dctx[d,e] = chain over l' of fmaf(dout[e,l'], qs[d,l'], acc);
 *                             dks[d,l'] = chain over e of fmaf(v[e,l'], dctx[d,e], acc);
 *                             s = chain over l' of fmaf(ks[d,l'], dks[d,l'], acc);
 *                             g = ks[d,l] * (dks[d,l] - s)
 *   v channel e, position l:  g = chain over d of fmaf(ks[d,l], dctx[d,e], acc)
 */
GGDM_HD static inline void ggdm_elem_linattn_backward_dqkv(float *dqkv, const float *dout, const float *qkv,
                                                           const float *cache_q, const float *cache_k,
                                                           const float *cache_ctx, int N, int H, int Dh, int L,
                                                           long idx)
{
    long l = idx % L, r = (idx / L) % ((long)H * Dh), part = (idx / ((long)L * H * Dh)) % 3;
    long n = idx / ((long)L * H * Dh * 3), h = r / Dh, d = r % Dh, dd, e, ll;
    const float *go = dout + ggdm_elem_head_off(n, H, Dh, L, h);
    const float *qs = cache_q + ggdm_elem_head_off(n, H, Dh, L, h);
    const float *ks = cache_k + ggdm_elem_head_off(n, H, Dh, L, h);
    float g;
    GGDM_ELEM_UNUSED(N);
    if (part == 0) {
        const float *q = qkv + ggdm_elem_qkv_off(n, 0, H, Dh, L, h);
        const float *ctx = cache_ctx + ggdm_elem_head_off(n, H, Dh, Dh, h);
        float m, s, t = 0.0f, p = 0.0f, dp = 0.0f;
        ggdm_elem_softmax_stats(q + l, Dh, L, &m, &s);
        for (dd = 0; dd < Dh; dd++) {
            float pd = ggdm_expf(q[dd * L + l] - m) / s;
            float gd = ggdm_elem_linattn_dp(go, ctx, dd, l, Dh, L);
            t = fmaf(pd, gd, t);
            if (dd == d) {
                p = pd;
                dp = gd;
            }
        }
        g = p * (dp - t);
    } else if (part == 1) {
        const float *v = qkv + ggdm_elem_qkv_off(n, 2, H, Dh, L, h);
        float s = 0.0f, dk = 0.0f;
        for (ll = 0; ll < L; ll++) {
            float acc = 0.0f;
            for (e = 0; e < Dh; e++)
                acc = fmaf(v[e * L + ll], ggdm_elem_linattn_dctx(go, qs, d, e, L), acc);
            s = fmaf(ks[d * L + ll], acc, s);
            if (ll == l)
                dk = acc;
        }
        g = ks[d * L + l] * (dk - s);
    } else {
        float acc = 0.0f;
        e = d;
        for (dd = 0; dd < Dh; dd++)
            acc = fmaf(ks[dd * L + l], ggdm_elem_linattn_dctx(go, qs, dd, e, L), acc);
        g = acc;
    }
    dqkv[idx] = dqkv[idx] + g;
}

/*
 * The same dqkv in five launches (dctx, dks, qpg, qt, then dqkv_staged), for a device that
 * cannot afford the recomputation above (each k element of the single launch recomputes L x Dh dctx chains of L terms, each q
 * element Dh x Dh): the intermediates are stored once, as the chains above compute them
 * (float values of the same chains), and the last launch reads them, so every dqkv element
 * gets the bits of ggdm_elem_linattn_backward_dqkv (test_backend checks this).
 *   dctx [N, H, Dh, Dh]: dctx[n, h, d, e] = ggdm_elem_linattn_dctx(go, qs, d, e, L)
 *   dks  [N, H, Dh, L]:  dks[n, h, d, l]  = chain over e of fmaf(v[e,l], dctx[d,e], acc)
 */
GGDM_HD static inline long ggdm_elem_linattn_backward_dctx_count(int N, int H, int Dh, int L)
{
    return ggdm_elem_attn_valid(N, H, Dh, L) ? (long)N * H * Dh * Dh : 0;
}

GGDM_HD static inline void ggdm_elem_linattn_backward_dctx(float *dctx, const float *dout, const float *cache_q, int N,
                                                           int H, int Dh, int L, long idx)
{
    long e = idx % Dh, d = (idx / Dh) % Dh, h = (idx / ((long)Dh * Dh)) % H, n = idx / ((long)Dh * Dh * H);
    GGDM_ELEM_UNUSED(N);
    dctx[idx] = ggdm_elem_linattn_dctx(dout + ggdm_elem_head_off(n, H, Dh, L, h),
                                       cache_q + ggdm_elem_head_off(n, H, Dh, L, h), d, e, L);
}

GGDM_HD static inline long ggdm_elem_linattn_backward_dks_count(int N, int H, int Dh, int L)
{
    return ggdm_elem_attn_valid(N, H, Dh, L) ? (long)N * H * Dh * L : 0;
}

GGDM_HD static inline void ggdm_elem_linattn_backward_dks(float *dks, const float *dctx, const float *qkv, int N, int H,
                                                          int Dh, int L, long idx)
{
    long l = idx % L, d = (idx / L) % Dh, h = (idx / ((long)L * Dh)) % H, n = idx / ((long)L * Dh * H), e;
    const float *v = qkv + ggdm_elem_qkv_off(n, 2, H, Dh, L, h);
    const float *dc = dctx + ggdm_elem_head_off(n, H, Dh, Dh, h) + d * Dh;
    float acc = 0.0f;
    GGDM_ELEM_UNUSED(N);
    for (e = 0; e < Dh; e++)
        acc = fmaf(v[e * L + l], dc[e], acc);
    dks[idx] = acc;
}

/*
 * The q part's shared values, as the single launch computes them for every q element:
 *   qp[n, h*Dh+d, l] = p[d,l], the softmax of q[:, l] over d (recomputed per element, as there),
 *   qg[n, h*Dh+d, l] = dp[d,l] = (chain over e of fmaf(dout[e,l], ctx[d,e], acc)) * scale,
 *   qt[n, h, l]      = t = chain over d' of fmaf(p[d',l], dp[d',l], acc) (reads qp, qg).
 */
GGDM_HD static inline long ggdm_elem_linattn_backward_qpg_count(int N, int H, int Dh, int L)
{
    return ggdm_elem_attn_valid(N, H, Dh, L) ? (long)N * H * Dh * L : 0;
}

GGDM_HD static inline void ggdm_elem_linattn_backward_qpg(float *qp, float *qg, const float *dout, const float *qkv,
                                                          const float *cache_ctx, int N, int H, int Dh, int L,
                                                          long idx)
{
    long l = idx % L, d = (idx / L) % Dh, h = (idx / ((long)L * Dh)) % H, n = idx / ((long)L * Dh * H);
    const float *q = qkv + ggdm_elem_qkv_off(n, 0, H, Dh, L, h);
    float m, s;
    GGDM_ELEM_UNUSED(N);
    ggdm_elem_softmax_stats(q + l, Dh, L, &m, &s);
    qp[idx] = ggdm_expf(q[d * L + l] - m) / s;
    qg[idx] = ggdm_elem_linattn_dp(dout + ggdm_elem_head_off(n, H, Dh, L, h),
                                   cache_ctx + ggdm_elem_head_off(n, H, Dh, Dh, h), d, l, Dh, L);
}

GGDM_HD static inline long ggdm_elem_linattn_backward_qt_count(int N, int H, int Dh, int L)
{
    return ggdm_elem_attn_valid(N, H, Dh, L) ? (long)N * H * L : 0;
}

GGDM_HD static inline void ggdm_elem_linattn_backward_qt(float *qt, const float *qp, const float *qg, int N, int H,
                                                         int Dh, int L, long idx)
{
    long l = idx % L, h = (idx / L) % H, n = idx / ((long)L * H), dd;
    const float *P = qp + ggdm_elem_head_off(n, H, Dh, L, h) + l, *G = qg + ggdm_elem_head_off(n, H, Dh, L, h) + l;
    float t = 0.0f;
    GGDM_ELEM_UNUSED(N);
    for (dd = 0; dd < Dh; dd++)
        t = fmaf(P[dd * L], G[dd * L], t);
    qt[idx] = t;
}

/* dqkv as ggdm_elem_linattn_backward_dqkv, from the stored intermediates: the q part from
 * qp, qg, qt (g = p * (dp - t)), the k part from dks, the v part from dctx. */
GGDM_HD static inline void ggdm_elem_linattn_backward_dqkv_staged(float *dqkv, const float *cache_k, const float *dctx,
                                                                  const float *dks, const float *qp, const float *qg,
                                                                  const float *qt, int N, int H, int Dh, int L,
                                                                  long idx)
{
    long l = idx % L, r = (idx / L) % ((long)H * Dh), part = (idx / ((long)L * H * Dh)) % 3;
    long n = idx / ((long)L * H * Dh * 3), h = r / Dh, d = r % Dh, dd, ll;
    const float *ks = cache_k + ggdm_elem_head_off(n, H, Dh, L, h);
    float g;
    GGDM_ELEM_UNUSED(N);
    if (part == 0) {
        long o = ggdm_elem_head_off(n, H, Dh, L, h) + d * L + l;
        g = qp[o] * (qg[o] - qt[(n * H + h) * L + l]);
    } else if (part == 1) {
        const float *dk = dks + ggdm_elem_head_off(n, H, Dh, L, h) + d * L;
        float s = 0.0f;
        for (ll = 0; ll < L; ll++)
            s = fmaf(ks[d * L + ll], dk[ll], s);
        g = ks[d * L + l] * (dk[l] - s);
    } else {
        const float *dc = dctx + ggdm_elem_head_off(n, H, Dh, Dh, h) + d; /* e = d: column e of dctx */
        float acc = 0.0f;
        for (dd = 0; dd < Dh; dd++)
            acc = fmaf(ks[dd * L + l], dc[dd * Dh], acc);
        g = acc;
    }
    dqkv[idx] = dqkv[idx] + g;
}

/* ------------------------------------------------------------------ Attention */

/* sim[i, j] = chain over d of fmaf(q[d,i] * scale, k[d,j], acc) (one head's q, k blocks). */
GGDM_HD static inline float ggdm_elem_attn_sim(const float *q, const float *k, long i, long j, int Dh, int L,
                                               float scale)
{
    float acc = 0.0f;
    long d;
    for (d = 0; d < Dh; d++)
        acc = fmaf(q[d * L + i] * scale, k[d * L + j], acc);
    return acc;
}

GGDM_HD static inline long ggdm_elem_attn_forward_cache_attn_count(int N, int H, int Dh, int L)
{
    return ggdm_elem_attn_valid(N, H, Dh, L) ? (long)N * H * L * L : 0;
}

/* cache_attn[n, h, i, j] = (softmax over j of sim[i, :])[j] (sim recomputed for every term). */
GGDM_HD static inline void ggdm_elem_attn_forward_cache_attn(float *out, float *cache_attn, const float *qkv, int N,
                                                             int H, int Dh, int L, long idx)
{
    long j = idx % L, i = (idx / L) % L, h = (idx / ((long)L * L)) % H, n = idx / ((long)L * L * H), jj;
    const float scale = ggdm_attn_scale(Dh);
    const float *q = qkv + ggdm_elem_qkv_off(n, 0, H, Dh, L, h);
    const float *k = qkv + ggdm_elem_qkv_off(n, 1, H, Dh, L, h);
    float m = ggdm_elem_attn_sim(q, k, i, 0, Dh, L, scale), s = 0.0f;
    GGDM_ELEM_UNUSED(out), GGDM_ELEM_UNUSED(N);
    for (jj = 1; jj < L; jj++) {
        float v = ggdm_elem_attn_sim(q, k, i, jj, Dh, L, scale);
        m = v > m ? v : m;
    }
    for (jj = 0; jj < L; jj++)
        s = s + ggdm_expf(ggdm_elem_attn_sim(q, k, i, jj, Dh, L, scale) - m);
    cache_attn[idx] = ggdm_expf(ggdm_elem_attn_sim(q, k, i, j, Dh, L, scale) - m) / s;
}

GGDM_HD static inline long ggdm_elem_attn_forward_out_count(int N, int H, int Dh, int L)
{
    return ggdm_elem_attn_valid(N, H, Dh, L) ? (long)N * H * Dh * L : 0;
}

/* out[n, h*Dh+d, i] = chain over j of fmaf(attn[i,j], v[d,j], acc); reads cache_attn. */
GGDM_HD static inline void ggdm_elem_attn_forward_out(float *out, float *cache_attn, const float *qkv, int N, int H,
                                                      int Dh, int L, long idx)
{
    long i = idx % L, d = (idx / L) % Dh, h = (idx / ((long)L * Dh)) % H, n = idx / ((long)L * Dh * H);
    const float *v = qkv + ggdm_elem_qkv_off(n, 2, H, Dh, L, h);
    const float *A = cache_attn + ggdm_elem_head_off(n, H, L, L, h);
    GGDM_ELEM_UNUSED(N);
    out[idx] = ggdm_dot_f32(A + i * L, 1, v + d * L, 1, L);
}

GGDM_HD static inline long ggdm_elem_attn_backward_dqkv_count(int N, int H, int Dh, int L)
{
    return ggdm_elem_attn_valid(N, H, Dh, L) ? (long)N * 3 * H * Dh * L : 0;
}

/* dattn[i, j] = chain over d of fmaf(dout[d,i], v[d,j], acc). */
GGDM_HD static inline float ggdm_elem_attn_dattn(const float *go, const float *v, long i, long j, int Dh, int L)
{
    return ggdm_dot_f32(go + i, L, v + j, L, Dh);
}

/* t_i = chain over j of fmaf(attn[i,j], dattn[i,j], acc) (the softmax backward's sum of row i). */
GGDM_HD static inline float ggdm_elem_attn_t(const float *A, const float *go, const float *v, long i, int Dh, int L)
{
    float t = 0.0f;
    long j;
    for (j = 0; j < L; j++)
        t = fmaf(A[i * L + j], ggdm_elem_attn_dattn(go, v, i, j, Dh, L), t);
    return t;
}

/*
 * dqkv += the gradient of element idx of qkv (docs/nn.md, Attention backward), per head, with
 * attn = cache_attn, dsim[i,j] = attn[i,j] * (dattn[i,j] - t_i):
 *   q channel d, position i:  g = (chain over j of fmaf(dsim[i,j], k[d,j], acc)) * scale
 *   k channel d, position j:  g = chain over i of fmaf(dsim[i,j], q[d,i] * scale, acc)
 *   v channel d, position j:  g = chain over i of fmaf(attn[i,j], dout[d,i], acc)
 */
GGDM_HD static inline void ggdm_elem_attn_backward_dqkv(float *dqkv, const float *dout, const float *qkv,
                                                        const float *cache_attn, int N, int H, int Dh, int L, long idx)
{
    long pos = idx % L, r = (idx / L) % ((long)H * Dh), part = (idx / ((long)L * H * Dh)) % 3;
    long n = idx / ((long)L * H * Dh * 3), h = r / Dh, d = r % Dh, i, j;
    const float scale = ggdm_attn_scale(Dh);
    const float *q = qkv + ggdm_elem_qkv_off(n, 0, H, Dh, L, h);
    const float *k = qkv + ggdm_elem_qkv_off(n, 1, H, Dh, L, h);
    const float *v = qkv + ggdm_elem_qkv_off(n, 2, H, Dh, L, h);
    const float *A = cache_attn + ggdm_elem_head_off(n, H, L, L, h);
    const float *go = dout + ggdm_elem_head_off(n, H, Dh, L, h);
    float acc = 0.0f, g;
    GGDM_ELEM_UNUSED(N);
    if (part == 0) {
        float t = ggdm_elem_attn_t(A, go, v, pos, Dh, L);
        i = pos;
        for (j = 0; j < L; j++) {
            float ds = A[i * L + j] * (ggdm_elem_attn_dattn(go, v, i, j, Dh, L) - t);
            acc = fmaf(ds, k[d * L + j], acc);
        }
        g = acc * scale;
    } else if (part == 1) {
        j = pos;
        for (i = 0; i < L; i++) {
            float t = ggdm_elem_attn_t(A, go, v, i, Dh, L);
            float ds = A[i * L + j] * (ggdm_elem_attn_dattn(go, v, i, j, Dh, L) - t);
            acc = fmaf(ds, q[d * L + i] * scale, acc);
        }
        g = acc;
    } else {
        g = ggdm_dot_f32(A + pos, L, go + d * L, 1, L);
    }
    dqkv[idx] = dqkv[idx] + g;
}

/*
 * The same dqkv in two launches for a device: dsim [N, H, L, L] stored once (each element
 * as ggdm_elem_attn_backward_dqkv computes it: attn[i,j] * (dattn[i,j] - t_i)), then the
 * q and k parts read it; the same bits (test_backend checks this).
 */
GGDM_HD static inline long ggdm_elem_attn_backward_dsim_count(int N, int H, int Dh, int L)
{
    return ggdm_elem_attn_valid(N, H, Dh, L) ? (long)N * H * L * L : 0;
}

GGDM_HD static inline void ggdm_elem_attn_backward_dsim(float *dsim, const float *dout, const float *qkv,
                                                        const float *cache_attn, int N, int H, int Dh, int L, long idx)
{
    long j = idx % L, i = (idx / L) % L, h = (idx / ((long)L * L)) % H, n = idx / ((long)L * L * H);
    const float *v = qkv + ggdm_elem_qkv_off(n, 2, H, Dh, L, h);
    const float *A = cache_attn + ggdm_elem_head_off(n, H, L, L, h);
    const float *go = dout + ggdm_elem_head_off(n, H, Dh, L, h);
    float t = ggdm_elem_attn_t(A, go, v, i, Dh, L);
    GGDM_ELEM_UNUSED(N);
    dsim[idx] = A[i * L + j] * (ggdm_elem_attn_dattn(go, v, i, j, Dh, L) - t);
}

GGDM_HD static inline void ggdm_elem_attn_backward_dqkv_staged(float *dqkv, const float *dout, const float *qkv,
                                                               const float *cache_attn, const float *dsim, int N,
                                                               int H, int Dh, int L, long idx)
{
    long pos = idx % L, r = (idx / L) % ((long)H * Dh), part = (idx / ((long)L * H * Dh)) % 3;
    long n = idx / ((long)L * H * Dh * 3), h = r / Dh, d = r % Dh, i, j;
    const float scale = ggdm_attn_scale(Dh);
    const float *DS = dsim + ggdm_elem_head_off(n, H, L, L, h);
    float acc = 0.0f, g;
    GGDM_ELEM_UNUSED(N);
    if (part == 0) {
        const float *k = qkv + ggdm_elem_qkv_off(n, 1, H, Dh, L, h);
        i = pos;
        for (j = 0; j < L; j++)
            acc = fmaf(DS[i * L + j], k[d * L + j], acc);
        g = acc * scale;
    } else if (part == 1) {
        const float *q = qkv + ggdm_elem_qkv_off(n, 0, H, Dh, L, h);
        j = pos;
        for (i = 0; i < L; i++)
            acc = fmaf(DS[i * L + j], q[d * L + i] * scale, acc);
        g = acc;
    } else {
        const float *A = cache_attn + ggdm_elem_head_off(n, H, L, L, h);
        const float *go = dout + ggdm_elem_head_off(n, H, Dh, L, h);
        g = ggdm_dot_f32(A + pos, L, go + d * L, 1, L);
    }
    dqkv[idx] = dqkv[idx] + g;
}

/* ------------------------------------------------------------------ time embedding */

GGDM_HD static inline long ggdm_elem_time_embedding_emb_count(int N, int dim)
{
    return N >= 1 && dim >= 4 && !(dim & 1) ? (long)N * dim : 0;
}

/* emb[n, j] = ggdm_time_embedding_value(t[n], j, dim). */
GGDM_HD static inline void ggdm_elem_time_embedding_emb(float *emb, const float *t, int N, int dim, long idx)
{
    GGDM_ELEM_UNUSED(N);
    emb[idx] = ggdm_time_embedding_value(t[idx / dim], (int)(idx % dim), dim);
}

#endif /* GGDM_ELEM_H */
