/*
 * ggdm/layers.h - the score network's non-attention layers, forward and backward
 * (docs/nn.md, "Layers", defines every output and every gradient bit for bit).
 *
 * Layout: activations are float32 [N, C, L] in C order (PyTorch's layout); conv
 * weights (Cout, Cin, K), linear weights (Out, In), both C order.
 *
 * Conventions (llm.c style):
 *  - forward(out, cache..., in, weights, dims); outputs are overwritten;
 *  - backward ADDS into gradient buffers that the caller zeroed: every gradient
 *    element is first computed as one chain from +0 (or one element-wise expression)
 *    in the documented order, then added to the buffer with one addition
 *    (g = g + chain);
 *  - any gradient pointer may be NULL: that gradient is skipped and its work not done
 *    (the input-only VJP passes NULL for every parameter gradient); bias/affine
 *    pointers b, beta may be NULL in forward (no addition);
 *  - outputs never alias inputs, except the element-wise forwards (silu, gelu,
 *    scale_shift, and y == x is allowed there); no gradient buffer aliases an input;
 *  - no allocation; no scratch, except the Conv1d _s variants (a caller buffer): the
 *    functions use only their arguments and the stack;
 *  - dimensions <= 0 (or C % G != 0 for GroupNorm, an empty conv output) write nothing.
 *
 * Every reduction is one sequential chain per output (ggdm/reduce.h), so the CPU
 * may run many chains side by side but never splits one.
 */
#ifndef GGDM_LAYERS_H
#define GGDM_LAYERS_H

#include <math.h>
#include <stddef.h>

#include "ggdm/dmath.h"
#include "ggdm/hostdev.h"

/* Epsilon of every norm (GroupNorm, ChannelNorm, weight standardisation). */
#define GGDM_NORM_EPS 1e-5f

/* ------------------------------------------------------------------ element-wise math */

/* silu(x) = x / (1 + e^-x). */
GGDM_HD static inline float ggdm_silu(float x)
{
    return x / (1.0f + ggdm_expf(-x));
}

/* silu'(x) = s * (1 + x * (1 - s)), s = 1 / (1 + e^-x). */
GGDM_HD static inline float ggdm_silu_grad(float x)
{
    float s = 1.0f / (1.0f + ggdm_expf(-x));
    return s * (1.0f + x * (1.0f - s));
}

/* gelu(x) = (x / 2) * (1 + erf(x / sqrt 2)), the exact (erf) form. */
GGDM_HD static inline float ggdm_gelu(float x)
{
    return (0.5f * x) * (1.0f + ggdm_erff(x * 0.70710678118654752f));
}

/* gelu'(x) = Phi(x) + x * phi(x): c = 0.5 * (1 + erf(x / sqrt 2)),
 * p = e^((-0.5 x) x) / sqrt(2 pi); result fmaf(x, p, c). */
GGDM_HD static inline float ggdm_gelu_grad(float x)
{
    float c = 0.5f * (1.0f + ggdm_erff(x * 0.70710678118654752f));
    float p = ggdm_expf((-0.5f * x) * x) * 0.39894228040143268f;
    return fmaf(x, p, c);
}

/* rstd of a norm: 1 / sqrt(var + 1e-5) (correctly rounded sqrtf and division). */
GGDM_HD static inline float ggdm_norm_rstd_eps(float var, float eps)
{
    return 1.0f / sqrtf(var + eps);
}

GGDM_HD static inline float ggdm_norm_rstd(float var)
{
    return ggdm_norm_rstd_eps(var, GGDM_NORM_EPS);
}

/* Normalised value (x - mean) * rstd, as in every norm's forward and backward. */
GGDM_HD static inline float ggdm_norm_xhat(float x, float mean, float rstd)
{
    return (x - mean) * rstd;
}

/*
 * The input gradient of a norm (GroupNorm, ChannelNorm, weight standardisation):
 * dx = (fmaf(-xhat, m2, dxhat - m1)) * rstd, where m1 = mean(dxhat) and
 * m2 = mean(dxhat * xhat) over the normalised set.
 */
GGDM_HD static inline float ggdm_norm_dx(float dxhat, float xhat, float m1, float m2, float rstd)
{
    return fmaf(-xhat, m2, dxhat - m1) * rstd;
}

/* ------------------------------------------------------------------ Conv1d */

/* (Lin + 2*pad - K) / stride + 1; 0 when that is not positive or an argument is invalid
 * (Lin < 1, K < 1, stride < 1, pad < 0). */
int ggdm_conv1d_out_len(int Lin, int K, int stride, int pad);

/*
 * y[n,o,l] = chain over i = 0..Cin-1, then k = 0..K-1 of acc = fmaf(w[o,i,k], x[n,i,p], acc)
 * with p = l*stride + k - pad, positions outside 0..Lin-1 skipped (zero padding); then
 * y = acc + b[o] (b NULL: y = acc). y is [N, Cout, Lout], Lout = ggdm_conv1d_out_len(...).
 */
void ggdm_conv1d_forward(float *y, const float *x, const float *w, const float *b,
                         int N, int Cin, int Lin, int Cout, int K, int stride, int pad);

/*
 * dx[n,i,p] += chain over o = 0..Cout-1, then k = 0..K-1 of fmaf(w[o,i,k], dy[n,o,l], acc),
 *              l = (p + pad - k) / stride, only where that is an exact integer in 0..Lout-1;
 * dw[o,i,k] += chain over n = 0..N-1, then l = 0..Lout-1 of fmaf(dy[n,o,l], x[n,i,p], acc),
 *              p = l*stride + k - pad, only where 0 <= p < Lin;
 * db[o]     += chain over n, then l of acc + dy[n,o,l].
 * x is needed only for dw, w only for dx (either may be NULL when that gradient is NULL).
 */
void ggdm_conv1d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                          int N, int Cin, int Lin, int Cout, int K, int stride, int pad);

/*
 * The same two functions, bit for bit, with a caller-provided scratch buffer of
 * ggdm_conv1d_scratch_floats(...) floats (contents irrelevant on entry, undefined on
 * return): the fast path (ref/src/conv1d_fast.c), register-blocked kernels that run
 * 16 channels as SIMD lanes, each lane one output's documented chain. scratch NULL:
 * the plain loops above.
 */
size_t ggdm_conv1d_scratch_floats(int N, int Cin, int Lin, int Cout, int K, int stride, int pad);
void ggdm_conv1d_forward_s(float *y, const float *x, const float *w, const float *b, int N, int Cin, int Lin,
                           int Cout, int K, int stride, int pad, float *scratch);
void ggdm_conv1d_backward_s(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N,
                            int Cin, int Lin, int Cout, int K, int stride, int pad, float *scratch);

/*
 * The same two functions with an executor (ggdm/exec.h; NULL: serial): the work is cut
 * into tasks over independent outputs (weight panels, (sample, panel) pairs, channels),
 * bit-identical to the _s functions for every executor and thread count. The _s
 * functions are these with ex = NULL.
 */
struct ggdm_exec;
void ggdm_conv1d_forward_ex(float *y, const float *x, const float *w, const float *b, int N, int Cin, int Lin,
                            int Cout, int K, int stride, int pad, float *scratch, const struct ggdm_exec *ex);
void ggdm_conv1d_backward_ex(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N,
                             int Cin, int Lin, int Cout, int K, int stride, int pad, float *scratch,
                             const struct ggdm_exec *ex);

/* ------------------------------------------------------------------ Conv2d */

/* A 2-D convolution's shape: x [N, C, H, W], w [Cout, C, KH, KW], b [Cout], strides sh, sw,
 * zero padding ph, pw; y [N, Cout, Ho, Wo], Ho = ggdm_conv1d_out_len(H, KH, sh, ph),
 * Wo = ggdm_conv1d_out_len(W, KW, sw, pw). */
typedef struct ggdm_conv2d_dims {
    int N, C, H, W, Cout, KH, KW, sh, sw, ph, pw;
} ggdm_conv2d_dims;

/* 1 when the convolution writes something (every size >= 1, a non-empty output; then *Ho,
 * *Wo are its output's height and width), else 0. */
int ggdm_conv2d_out(const ggdm_conv2d_dims *d, int *Ho, int *Wo);

/*
 * (docs/nn.md, "Conv2d"; ggdm/elem/conv2d.h) with (yi, xi) = (yo*sh + kh - ph, xo*sw + kw - pw),
 * taps outside the input skipped:
 * y[n,o,yo,xo]   = chain over i, then kh, then kw of fmaf(w[o,i,kh,kw], x[n,i,yi,xi], acc) [+ b[o]];
 * dx[n,i,yi,xi] += chain over o, then kh, then kw of fmaf(w[o,i,kh,kw], dy[n,o,yo,xo], acc);
 * dw[o,i,kh,kw] += chain over n, then yo, then xo of fmaf(dy[n,o,yo,xo], x[n,i,yi,xi], acc);
 * db[o]         += chain over n, then yo, then xo of acc + dy[n,o,yo,xo].
 * At H = KH = 1, ph = 0 the Conv1d functions' bits. The plain loops; the _ex functions are
 * the same bits with a scratch buffer of ggdm_conv2d_scratch_floats(d) floats (NULL: these
 * loops) and an executor (NULL: serial), register-blocked kernels (ref/src/conv1d_fast.c).
 */
void ggdm_conv2d_forward(float *y, const float *x, const float *w, const float *b, const ggdm_conv2d_dims *d);
void ggdm_conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                          const ggdm_conv2d_dims *d);
size_t ggdm_conv2d_scratch_floats(const ggdm_conv2d_dims *d);
void ggdm_conv2d_forward_ex(float *y, const float *x, const float *w, const float *b, const ggdm_conv2d_dims *d,
                            float *scratch, const struct ggdm_exec *ex);
void ggdm_conv2d_backward_ex(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                             const ggdm_conv2d_dims *d, float *scratch, const struct ggdm_exec *ex);

/* ------------------------------------------------------------------ Linear */

/* y[n,o] = (chain over i of fmaf(W[o,i], x[n,i], acc)) + b[o] (b NULL: no addition). */
void ggdm_linear_forward(float *y, const float *x, const float *W, const float *b, int N, int In, int Out);

/*
 * dx[n,i] += chain over o of fmaf(W[o,i], dy[n,o], acc);
 * dW[o,i] += chain over n of fmaf(dy[n,o], x[n,i], acc);
 * db[o]   += chain over n of acc + dy[n,o].
 */
void ggdm_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W,
                          int N, int In, int Out);

/* ------------------------------------------------------------------ weight standardisation */

/*
 * Each output channel's fan = Cin*K weights w[o*fan .. o*fan+fan-1]: (mean, var) by
 * ggdm_mean_var_f32 over the slice in C order (biased var); rstd[o] = 1.0f / sqrtf(var + 1e-5f);
 * w_hat = (w - mean) * rstd. w_hat and w are [Cout, fan], rstd [Cout].
 */
void ggdm_ws_forward(float *w_hat, float *rstd, const float *w, int Cout, int fan);

/*
 * dw += ggdm_norm_dx(dw_hat[j], w_hat[j], m1, m2, rstd[o]) with, per o,
 * m1 = (chain over j of acc + dw_hat[j]) / fan, m2 = (chain over j of fmaf(dw_hat[j], w_hat[j], acc)) / fan.
 */
void ggdm_ws_backward(float *dw, const float *dw_hat, const float *w_hat, const float *rstd, int Cout, int fan);

/* ------------------------------------------------------------------ GroupNorm */

/*
 * GroupNorm(G, C), eps 1e-5: group g of sample n is the contiguous slice of channels
 * g*C/G .. (g+1)*C/G - 1, i.e. (C/G)*L values in C order; (mean, var) by ggdm_mean_var_f32
 * over it; rstd = ggdm_norm_rstd(var); y = ((x - mean) * rstd) * gamma[c] + beta[c]
 * (gamma NULL: no multiplication; beta NULL: no addition). mean, rstd: [N*G], index n*G + g.
 */
void ggdm_groupnorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                            const float *beta, int N, int C, int L, int G);

/*
 * With xhat = (x - mean) * rstd recomputed from the cache and dxhat = dy * gamma[c] (dy when
 * gamma is NULL):
 * dgamma[c] += chain over n, then l of fmaf(dy[n,c,l], xhat[n,c,l], acc);
 * dbeta[c]  += chain over n, then l of acc + dy[n,c,l];
 * dx        += ggdm_norm_dx(dxhat, xhat, m1, m2, rstd) where per (n, g) m1 = (chain of
 *              acc + dxhat) / M, m2 = (chain of fmaf(dxhat, xhat, acc)) / M over the group in
 *              C order, M = (C/G)*L.
 */
void ggdm_groupnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                             const float *mean, const float *rstd, const float *gamma, int N, int C, int L, int G);

/* ------------------------------------------------------------------ ChannelNorm */

/*
 * ChannelNorm (the original's LayerNorm): at each (n, l) normalise over the C channels
 * (stride L): (mean, var) by ggdm_mean_var_f32(x + n*C*L + l, L, C); rstd = ggdm_norm_rstd(var);
 * y = ((x - mean) * rstd) * g[c] (g NULL: no multiplication). mean, rstd: [N*L], index n*L + l.
 */
void ggdm_chnorm_forward(float *y, float *mean, float *rstd, const float *x, const float *g, int N, int C, int L);

/*
 * dg[c] += chain over n, then l of fmaf(dy[n,c,l], xhat[n,c,l], acc);
 * dx    += ggdm_norm_dx(dxhat, xhat, m1, m2, rstd[n,l]) with dxhat = dy * g[c], and per (n, l)
 *          m1, m2 the chains over c = 0..C-1 (as GroupNorm) divided by C.
 */
/* The same norms with their own epsilon (ggdm_norm_rstd_eps; the functions above use
 * GGDM_NORM_EPS): Stable Diffusion's VAE and transformer norms use 1e-6. */
void ggdm_groupnorm_forward_eps(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                const float *beta, int N, int C, int L, int G, float eps);
void ggdm_chnorm_forward_eps(float *y, float *mean, float *rstd, const float *x, const float *g, int N, int C, int L,
                             float eps);
void ggdm_chnorm_backward(float *dx, float *dg, const float *dy, const float *x, const float *mean,
                          const float *rstd, const float *g, int N, int C, int L);

/*
 * ChannelNorm with a bias (LayerNorm with weight and bias over the channels of channel-first
 * tokens [N, C, L]: CLIP, Stable Diffusion's transformer blocks): y = ((x - mean) * rstd) *
 * g[c] + beta[c], a product, then a sum (g NULL: no product; beta NULL: no sum, the bits of
 * ggdm_chnorm_forward_eps). Its backward is ggdm_chnorm_backward (beta does not enter dx or
 * dg) and ggdm_chnorm_backward_beta: dbeta[c] += chain over n, then l of acc + dy[n,c,l].
 */
void ggdm_chnorm_forward_beta(float *y, float *mean, float *rstd, const float *x, const float *g, const float *beta,
                              int N, int C, int L, float eps);
void ggdm_chnorm_backward_beta(float *dbeta, const float *dy, int N, int C, int L);

/* ------------------------------------------------------------------ activations */

/* y[i] = ggdm_silu(x[i]); y == x allowed. */
void ggdm_silu_forward(float *y, const float *x, long n);
/* dx[i] += dy[i] * ggdm_silu_grad(x[i]). */
void ggdm_silu_backward(float *dx, const float *dy, const float *x, long n);
/* y[i] = ggdm_gelu(x[i]); y == x allowed. */
void ggdm_gelu_forward(float *y, const float *x, long n);
/* dx[i] += dy[i] * ggdm_gelu_grad(x[i]). */
void ggdm_gelu_backward(float *dx, const float *dy, const float *x, long n);

/* ------------------------------------------------------------------ FiLM, upsampling */

/*
 * FiLM of the ResnetBlock: ss is [N, 2C] (the time MLP's output), scale = ss[n, c],
 * shift = ss[n, C + c]; y[n,c,l] = (x * (scale + 1.0f)) + shift. y == x allowed.
 */
void ggdm_scale_shift_forward(float *y, const float *x, const float *ss, int N, int C, int L);

/*
 * dx[n,c,l]   += dy * (scale + 1.0f);
 * dss[n,c]    += chain over l of fmaf(dy[n,c,l], x[n,c,l], acc);
 * dss[n,C+c]  += chain over l of acc + dy[n,c,l].
 */
void ggdm_scale_shift_backward(float *dx, float *dss, const float *dy, const float *x, const float *ss,
                               int N, int C, int L);

/* Nearest-neighbour upsampling by 2 along L: y[n,c,2l] = y[n,c,2l+1] = x[n,c,l]; y is [N, C, 2L]. */
void ggdm_upsample2_forward(float *y, const float *x, int N, int C, int L);
/* dx[n,c,l] += (dy[n,c,2l] + dy[n,c,2l+1]). */
void ggdm_upsample2_backward(float *dx, const float *dy, int N, int C, int L);

#endif /* GGDM_LAYERS_H */
