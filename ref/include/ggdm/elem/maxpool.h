/*
 * ggdm/elem/maxpool.h - the MAXPOOL op's element functions (ggdm/ops.def; docs/nn.md, "Stable
 * Diffusion's element ops"): max pooling of x [N, C, H, W] over KH x KW windows, strides
 * sh, sw, padding ph, pw (PyTorch's max_pool2d, ceil_mode False, dilation 1):
 *   Ho = (H + 2 ph - KH) / sh + 1, Wo = (W + 2 pw - KW) / sw + 1
 * The window of output (yo, xo) holds the input positions ih = yo sh - ph + kh, iw = xo sw -
 * pw + kw, kh < KH, kw < KW, inside the plane (the padding is no value: it never wins).
 *   argmax: m = -inf, a = the window's first inside position; for every inside position in
 *           (kh, kw) row-major order: if (v > m || v != v) { m = v; a = position }
 *           (PyTorch CPU's scan: the FIRST maximum wins ties; a NaN wins and propagates, the
 *           last NaN being the argmax)
 *   y[n,c,yo,xo] = m
 * VJP, ADDED into (no cache: the argmax is recomputed from x, the same bits):
 *   dx[n,c,ih,iw] = dx + (chain over the windows (yo, xo) that contain (ih, iw), in output
 *                   order (yo, then xo), whose argmax is (ih, iw), of acc + dy[n,c,yo,xo])
 *   (a chain from +0, added always: an element no window selects gets + 0).
 * C99 and CUDA __host__ __device__. Launch order: forward y; VJP dx.
 */
#ifndef GGDM_ELEM_MAXPOOL_H
#define GGDM_ELEM_MAXPOOL_H

#include <math.h>

#include "ggdm/hostdev.h"

#define GGDM_ELEM_LAUNCHES_maxpool_forward(F) F(maxpool_forward, y)
#define GGDM_ELEM_LAUNCHES_maxpool_backward(F) F(maxpool_backward, dx)

/* (L + 2 p - K) / s + 1, or 0 for invalid arguments (as the op's info refuses them). */
GGDM_HD static inline int ggdm_elem_maxpool_out(int L, int K, int s, int p)
{
    if (L < 1 || K < 1 || s < 1 || p < 0 || 2 * p > K || L + 2 * p < K)
        return 0;
    return (L + 2 * p - K) / s + 1;
}

GGDM_HD static inline long ggdm_elem_maxpool_valid(int N, int C, int H, int W, int KH, int KW, int sh, int sw, int ph,
                                                   int pw)
{
    return N > 0 && C > 0 && ggdm_elem_maxpool_out(H, KH, sh, ph) > 0 && ggdm_elem_maxpool_out(W, KW, sw, pw) > 0;
}

/* The argmax (index into the plane xp [H, W]) of window (yo, xo); *m its value. */
GGDM_HD static inline long ggdm_elem_maxpool_arg(const float *xp, int H, int W, int KH, int KW, int sh, int sw,
                                                 int ph, int pw, int yo, int xo, float *m)
{
    int h0 = yo * sh - ph, w0 = xo * sw - pw, kh, kw;
    int ha = h0 < 0 ? 0 : h0, wa = w0 < 0 ? 0 : w0;
    long a = (long)ha * W + wa;
    float best = -INFINITY;
    for (kh = 0; kh < KH; kh++) {
        int ih = h0 + kh;
        if (ih < 0 || ih >= H)
            continue;
        for (kw = 0; kw < KW; kw++) {
            int iw = w0 + kw;
            float v;
            if (iw < 0 || iw >= W)
                continue;
            v = xp[(long)ih * W + iw];
            if (v > best || v != v) {
                best = v;
                a = (long)ih * W + iw;
            }
        }
    }
    *m = best;
    return a;
}

GGDM_HD static inline long ggdm_elem_maxpool_forward_y_count(int N, int C, int H, int W, int KH, int KW, int sh,
                                                             int sw, int ph, int pw)
{
    if (!ggdm_elem_maxpool_valid(N, C, H, W, KH, KW, sh, sw, ph, pw))
        return 0;
    return (long)N * C * ggdm_elem_maxpool_out(H, KH, sh, ph) * ggdm_elem_maxpool_out(W, KW, sw, pw);
}

GGDM_HD static inline void ggdm_elem_maxpool_forward_y(float *y, const float *x, int N, int C, int H, int W, int KH,
                                                       int KW, int sh, int sw, int ph, int pw, long idx)
{
    int Ho = ggdm_elem_maxpool_out(H, KH, sh, ph), Wo = ggdm_elem_maxpool_out(W, KW, sw, pw);
    long plane = idx / ((long)Ho * Wo), r = idx % ((long)Ho * Wo);
    float m;
    (void)N, (void)C;
    ggdm_elem_maxpool_arg(x + plane * H * W, H, W, KH, KW, sh, sw, ph, pw, (int)(r / Wo), (int)(r % Wo), &m);
    y[idx] = m;
}

GGDM_HD static inline long ggdm_elem_maxpool_backward_dx_count(int N, int C, int H, int W, int KH, int KW, int sh,
                                                               int sw, int ph, int pw)
{
    return ggdm_elem_maxpool_valid(N, C, H, W, KH, KW, sh, sw, ph, pw) ? (long)N * C * H * W : 0;
}

/* The first and last output index (along one axis) whose window contains input position i. */
GGDM_HD static inline void ggdm_elem_maxpool_span(int i, int K, int s, int p, int Lo, int *lo, int *hi)
{
    int a = i + p - K + 1, b = (i + p) / s;
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    *hi = b < Lo - 1 ? b : Lo - 1;
}

GGDM_HD static inline void ggdm_elem_maxpool_backward_dx(float *dx, const float *dy, const float *x, int N, int C,
                                                         int H, int W, int KH, int KW, int sh, int sw, int ph, int pw,
                                                         long idx)
{
    int Ho = ggdm_elem_maxpool_out(H, KH, sh, ph), Wo = ggdm_elem_maxpool_out(W, KW, sw, pw);
    long plane = idx / ((long)H * W), r = idx % ((long)H * W);
    int ih = (int)(r / W), iw = (int)(r % W), y0, y1, x0, x1, yo, xo;
    const float *xp = x + plane * H * W, *dyp = dy + plane * Ho * Wo;
    float acc = 0.0f, m;
    (void)N, (void)C;
    ggdm_elem_maxpool_span(ih, KH, sh, ph, Ho, &y0, &y1);
    ggdm_elem_maxpool_span(iw, KW, sw, pw, Wo, &x0, &x1);
    for (yo = y0; yo <= y1; yo++)
        for (xo = x0; xo <= x1; xo++)
            if (ggdm_elem_maxpool_arg(xp, H, W, KH, KW, sh, sw, ph, pw, yo, xo, &m) == r)
                acc = acc + dyp[(long)yo * Wo + xo];
    dx[idx] = dx[idx] + acc;
}

#endif /* GGDM_ELEM_MAXPOOL_H */
