/*
 * ggdm/elem/resize.h - the RESIZE op's element functions (ggdm/ops.def; docs/ops.md; docs/nn.md,
 * "Resize"): bilinear resampling of x [N, C, H, W] to y [N, C, OH, OW], align_corners false,
 * without (aa = 0) or with (aa = 1) antialiasing: PyTorch's F.interpolate(x, (OH, OW),
 * mode="bilinear", align_corners=False, antialias=aa) as its CPU kernel computes it without FMA
 * (ATen's upsample_bilinear2d and _upsample_bilinear2d_aa, torch 1.13, the default CPU
 * capability: bit-identical there; its AVX2 build contracts to FMA, a rounding apart).
 *
 * Per axis (in -> out samples, output coordinate o) the scale is s = (float)in / (float)out.
 *
 * aa = 0 (ggdm_resize_lin): in == out: i0 = i1 = o, l0 = 1, l1 = 0 (an exact copy). Else, in
 * double: src = (double)s * (o + 0.5) - 0.5, clamped below at 0; i0 = (int)src,
 * i1 = i0 + (i0 < in - 1); l1 = (float)(src - i0) (the difference is exact in double), then in
 * float l0 = 1 - l1. Output, one rounding per operation, in this order:
 *   t0 = w0 * x[h0, w0'] + w1 * x[h0, w1']      (the W weights w0, w1 at w0', w1')
 *   t1 = w0 * x[h1, w0'] + w1 * x[h1, w1']
 *   y  = hl0 * t0 + hl1 * t1                     (the H weights hl0, hl1 at rows h0, h1)
 *
 * aa = 1 (ggdm_resize_aa_*): a triangle filter widened by the scale when downscaling, weights in
 * float with the double steps PyTorch's C++ takes (its int64 / double / float promotions):
 *   support  = s >= 1 ? s : 1                            (float)
 *   invscale = s >= 1 ? (float)(1.0 / (double)s) : 1     (a double division, rounded)
 *   center   = (float)((double)s * (o + 0.5))
 *   xmin     = max((long long)((double)(center - support) + 0.5), 0)   (float difference)
 *   xsize    = min((long long)((double)(center + support) + 0.5), in) - xmin
 *   raw_j    = tri((float)(((double)((float)(xmin + j) - center) + 0.5) * invscale)),
 *              tri(t) = |t| < 1 ? 1 - |t| : 0, j = 0 .. xsize - 1
 *   total    = chain from +0 of raw_j (float);  w_j = total != 0 ? raw_j / total : raw_j
 * Separable, along W first and then along H, every axis always (an unchanged size too: then
 * the weights are 1, 0 and -0 inputs can turn to +0, as in PyTorch), each pass a chain that
 * starts with its first product (not from +0):
 *   t[r]  = x[r, xmin] * wx_0;  t[r] = t[r] + x[r, xmin + j] * wx_j      (rows r = ymin + i)
 *   y     = t[ymin] * wy_0;     y = y + t[ymin + i] * wy_i
 * The element form recomputes the row sums t for each output (the same bits as a staged pass).
 *
 * VJP, ADDED into dx (the transpose, PyTorch's scatter order): for every input element p,
 *   g  = chain from +0, over the outputs (a, b) in raster order (a outer, b inner), of
 *        (wh * ww) * dy[a, b] for each tap of output (a, b) that reads p: aa = 0: its four
 *        corners in the order (h0, w0'), (h0, w1'), (h1, w0'), (h1, w1') (a corner counts
 *        twice where i0 = i1); aa = 1: the one tap (ih - ymin, iw - xmin) when p is in its span
 *   dx[p] = dx[p] + g
 * Only outputs in a window of each axis are visited (ggdm_resize_window: a superset of those
 * that read the input row / column; the others contribute nothing).
 *
 * Sizes: every axis 1 .. GGDM_RESIZE_MAX (the float scale and the window bound stay exact).
 * Launch order: forward y; VJP dx (every element of dx is one output). C99 and CUDA
 * __host__ __device__; integer arithmetic in long long, no libm.
 */
#ifndef GGDM_ELEM_RESIZE_H
#define GGDM_ELEM_RESIZE_H

#include "ggdm/hostdev.h"

#define GGDM_RESIZE_MAX (1 << 22) /* the largest H, W, OH, OW */

#define GGDM_ELEM_LAUNCHES_resize_forward(F) F(resize_forward, y)
#define GGDM_ELEM_LAUNCHES_resize_backward(F) F(resize_backward, dx)

/* s = (float)in / (float)out */
GGDM_HD static inline float ggdm_resize_scale(int in, int out)
{
    return (float)in / (float)out;
}

/* aa = 0: output o's two taps i0, i1 and weights l0, l1 along an axis of in -> out. */
GGDM_HD static inline void ggdm_resize_lin(int o, int in, int out, int *i0, int *i1, float *l0, float *l1)
{
    double src;
    int i;
    if (in == out) {
        *i0 = *i1 = o;
        *l0 = 1.0f;
        *l1 = 0.0f;
        return;
    }
    src = (double)ggdm_resize_scale(in, out) * ((double)o + 0.5) - 0.5;
    if (src < 0.0)
        src = 0.0;
    i = (int)src;
    *i0 = i;
    *i1 = i < in - 1 ? i + 1 : i;
    *l1 = (float)(src - (double)i);
    *l0 = 1.0f - *l1;
}

/* aa = 1: output o's filter along an axis of in -> out. */
typedef struct ggdm_resize_aa {
    float center, invscale, total;
    int xmin, xsize;
} ggdm_resize_aa;

/* The unnormalised weight of tap j (0 <= j < xsize). */
GGDM_HD static inline float ggdm_resize_aa_raw(const ggdm_resize_aa *f, int j)
{
    float t = (float)(f->xmin + j) - f->center;
    float u = (float)(((double)t + 0.5) * (double)f->invscale);
    if (u < 0.0f)
        u = -u;
    return u < 1.0f ? 1.0f - u : 0.0f;
}

/* The filter of output o: its span [xmin, xmin + xsize) and the sum of its raw weights. */
GGDM_HD static inline ggdm_resize_aa ggdm_resize_aa_of(int o, int in, int out)
{
    ggdm_resize_aa f;
    float s = ggdm_resize_scale(in, out), support = s >= 1.0f ? s : 1.0f;
    long long lo, hi;
    int j;
    f.invscale = s >= 1.0f ? (float)(1.0 / (double)s) : 1.0f;
    f.center = (float)((double)s * ((double)o + 0.5));
    lo = (long long)((double)(f.center - support) + 0.5);
    hi = (long long)((double)(f.center + support) + 0.5);
    if (lo < 0)
        lo = 0;
    if (hi > in)
        hi = in;
    f.xmin = (int)lo;
    f.xsize = (int)(hi - lo);
    f.total = 0.0f;
    for (j = 0; j < f.xsize; j++)
        f.total = f.total + ggdm_resize_aa_raw(&f, j);
    return f;
}

/* The normalised weight of tap j. */
GGDM_HD static inline float ggdm_resize_aa_w(const ggdm_resize_aa *f, int j)
{
    float r = ggdm_resize_aa_raw(f, j);
    return f->total != 0.0f ? r / f->total : r;
}

/* The outputs [*lo, *hi] of an axis in -> out that may read input i (both filters): a superset
 * from integer bounds, (i - 2) out / in - 2 .. (i + 2) out / in + 2, clamped. */
GGDM_HD static inline void ggdm_resize_window(int i, int in, int out, int *lo, int *hi)
{
    long long a = (long long)(i - 2) * out, b = (long long)(i + 2) * out;
    long long l = a < 0 ? 0 : a / in - 2, h = (b + in - 1) / in + 2;
    *lo = l < 0 ? 0 : (int)l;
    *hi = h > out - 1 ? out - 1 : (int)h;
}

GGDM_HD static inline long ggdm_elem_resize_forward_y_count(int N, int C, int H, int W, int OH, int OW, int aa)
{
    (void)H, (void)W, (void)aa;
    return N > 0 && C > 0 && OH > 0 && OW > 0 ? (long)N * C * OH * OW : 0;
}

/* aa = 1: the W pass of input row r at output column f (the chain from its first product). */
GGDM_HD static inline float ggdm_resize_aa_row(const float *row, const ggdm_resize_aa *f)
{
    float t = row[f->xmin] * ggdm_resize_aa_w(f, 0);
    int j;
    for (j = 1; j < f->xsize; j++)
        t = t + row[f->xmin + j] * ggdm_resize_aa_w(f, j);
    return t;
}

GGDM_HD static inline void ggdm_elem_resize_forward_y(float *y, const float *x, int N, int C, int H, int W, int OH,
                                                      int OW, int aa, long idx)
{
    int b = (int)(idx % OW), a = (int)(idx / OW % OH);
    const float *xp = x + idx / ((long)OH * OW) * ((long)H * W);
    (void)N, (void)C;
    if (!aa) {
        int h0, h1, w0, w1;
        float hl0, hl1, wl0, wl1, t0, t1;
        ggdm_resize_lin(a, H, OH, &h0, &h1, &hl0, &hl1);
        ggdm_resize_lin(b, W, OW, &w0, &w1, &wl0, &wl1);
        t0 = wl0 * xp[(long)h0 * W + w0] + wl1 * xp[(long)h0 * W + w1];
        t1 = wl0 * xp[(long)h1 * W + w0] + wl1 * xp[(long)h1 * W + w1];
        y[idx] = hl0 * t0 + hl1 * t1;
    } else {
        ggdm_resize_aa fh = ggdm_resize_aa_of(a, H, OH), fw = ggdm_resize_aa_of(b, W, OW);
        float acc = ggdm_resize_aa_row(xp + (long)fh.xmin * W, &fw) *
                    ggdm_resize_aa_w(&fh, 0);
        int i;
        for (i = 1; i < fh.xsize; i++)
            acc = acc + ggdm_resize_aa_row(xp + (long)(fh.xmin + i) * W, &fw) * ggdm_resize_aa_w(&fh, i);
        y[idx] = acc;
    }
}

GGDM_HD static inline long ggdm_elem_resize_backward_dx_count(int N, int C, int H, int W, int OH, int OW, int aa)
{
    (void)OH, (void)OW, (void)aa;
    return N > 0 && C > 0 && H > 0 && W > 0 ? (long)N * C * H * W : 0;
}

GGDM_HD static inline void ggdm_elem_resize_backward_dx(float *dx, const float *dy, int N, int C, int H, int W,
                                                        int OH, int OW, int aa, long idx)
{
    int iw = (int)(idx % W), ih = (int)(idx / W % H), alo, ahi, blo, bhi, a, b;
    const float *g = dy + idx / ((long)H * W) * ((long)OH * OW);
    float acc = 0.0f;
    (void)N, (void)C;
    ggdm_resize_window(ih, H, OH, &alo, &ahi);
    ggdm_resize_window(iw, W, OW, &blo, &bhi);
    for (a = alo; a <= ahi; a++) {
        if (!aa) {
            int h0, h1;
            float hl0, hl1;
            ggdm_resize_lin(a, H, OH, &h0, &h1, &hl0, &hl1);
            if (h0 != ih && h1 != ih)
                continue;
            for (b = blo; b <= bhi; b++) {
                int w0, w1;
                float wl0, wl1, gv = g[(long)a * OW + b];
                ggdm_resize_lin(b, W, OW, &w0, &w1, &wl0, &wl1);
                if (h0 == ih && w0 == iw)
                    acc = acc + (hl0 * wl0) * gv;
                if (h0 == ih && w1 == iw)
                    acc = acc + (hl0 * wl1) * gv;
                if (h1 == ih && w0 == iw)
                    acc = acc + (hl1 * wl0) * gv;
                if (h1 == ih && w1 == iw)
                    acc = acc + (hl1 * wl1) * gv;
            }
        } else {
            ggdm_resize_aa fh = ggdm_resize_aa_of(a, H, OH);
            float wy;
            if (ih < fh.xmin || ih >= fh.xmin + fh.xsize)
                continue;
            wy = ggdm_resize_aa_w(&fh, ih - fh.xmin);
            for (b = blo; b <= bhi; b++) {
                ggdm_resize_aa fw = ggdm_resize_aa_of(b, W, OW);
                if (iw < fw.xmin || iw >= fw.xmin + fw.xsize)
                    continue;
                acc = acc + (ggdm_resize_aa_w(&fw, iw - fw.xmin) * wy) * g[(long)a * OW + b];
            }
        }
    }
    dx[idx] = dx[idx] + acc;
}

#endif /* GGDM_ELEM_RESIZE_H */
