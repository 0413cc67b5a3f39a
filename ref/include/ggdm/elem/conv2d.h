/*
 * ggdm/elem/conv2d.h - the 2-D CONV op's element functions (ggdm/ops.def; docs/nn.md,
 * "Conv2d"; ref/src/ops/conv.c). x [N, C, H, W], w [Cout, C, KH, KW], b [Cout] (may be
 * NULL), strides sh, sw, zero padding ph, pw; y [N, Cout, Ho, Wo] with
 * Ho = ggdm_elem_conv1d_out_len(H, KH, sh, ph), Wo = ggdm_elem_conv1d_out_len(W, KW, sw, pw).
 * Tap (kh, kw) of output (yo, xo) reads input (yi, xi) = (yo*sh + kh - ph, xo*sw + kw - pw);
 * a tap outside the input is SKIPPED (no term, not a product with 0).
 *
 *   y[n,o,yo,xo]   = chain over i = 0..C-1, then kh = 0..KH-1, then kw = 0..KW-1 of
 *                    fmaf(w[o,i,kh,kw], x[n,i,yi,xi], acc); then acc + b[o] (b NULL: acc)
 *   dx[n,i,yi,xi] += chain over o, then kh, then kw of fmaf(w[o,i,kh,kw], dy[n,o,yo,xo], acc)
 *                    for the taps where yo = (yi + ph - kh) / sh and xo = (xi + pw - kw) / sw
 *                    are exact integers in 0..Ho-1, 0..Wo-1
 *   dw[o,i,kh,kw] += chain over n, then yo, then xo of fmaf(dy[n,o,yo,xo], x[n,i,yi,xi], acc),
 *                    existing taps only
 *   db[o]         += chain over n, then yo, then xo of acc + dy[n,o,yo,xo]
 *
 * At H = KH = 1 (ph = 0) these are the Conv1d chains (ggdm/elem.h's conv1d functions) bit
 * for bit: the kh loop has one term. C99 and CUDA __host__ __device__.
 * Launch order: forward y; VJP dx, dw, db (independent).
 */
#ifndef GGDM_ELEM_CONV2D_H
#define GGDM_ELEM_CONV2D_H

#include <math.h>

#include "ggdm/elem.h"
#include "ggdm/hostdev.h"

#define GGDM_ELEM_LAUNCHES_conv2d_forward(F) F(conv2d_forward, y)
#define GGDM_ELEM_LAUNCHES_conv2d_backward(F) F(conv2d_backward, dx) F(conv2d_backward, dw) F(conv2d_backward, db)

/* Ho * Wo of a 2-D conv that writes something, else 0; *Ho, *Wo its output's shape. */
GGDM_HD static inline long ggdm_elem_conv2d_hw(int N, int C, int H, int W, int Cout, int KH, int KW, int sh, int sw,
                                                int ph, int pw, long *Ho, long *Wo)
{
    long ho = ggdm_elem_conv1d_out_len(H, KH, sh, ph), wo = ggdm_elem_conv1d_out_len(W, KW, sw, pw);
    *Ho = ho;
    *Wo = wo;
    return (N <= 0 || C <= 0 || Cout <= 0 || ho <= 0 || wo <= 0) ? 0 : ho * wo;
}

GGDM_HD static inline long ggdm_elem_conv2d_forward_y_count(int N, int C, int H, int W, int Cout, int KH, int KW,
                                                            int sh, int sw, int ph, int pw)
{
    long Ho, Wo;
    return (long)N * Cout * ggdm_elem_conv2d_hw(N, C, H, W, Cout, KH, KW, sh, sw, ph, pw, &Ho, &Wo);
}

GGDM_HD static inline void ggdm_elem_conv2d_forward_y(float *y, const float *x, const float *w, const float *b, int N,
                                                      int C, int H, int W, int Cout, int KH, int KW, int sh, int sw,
                                                      int ph, int pw, long idx)
{
    long Ho, Wo, HWo = ggdm_elem_conv2d_hw(N, C, H, W, Cout, KH, KW, sh, sw, ph, pw, &Ho, &Wo);
    long xo = idx % Wo, yo = (idx / Wo) % Ho, o = (idx / HWo) % Cout, n = idx / (HWo * Cout), i, kh, kw;
    float acc = 0.0f;
    for (i = 0; i < C; i++) {
        for (kh = 0; kh < KH; kh++) {
            long yi = yo * sh + kh - ph;
            const float *xr, *wr;
            if (yi < 0 || yi >= H)
                continue;
            xr = x + ((n * C + i) * H + yi) * W;
            wr = w + ((o * C + i) * KH + kh) * KW;
            for (kw = 0; kw < KW; kw++) {
                long xi = xo * sw + kw - pw;
                if (xi >= 0 && xi < W)
                    acc = fmaf(wr[kw], xr[xi], acc);
            }
        }
    }
    y[idx] = b ? acc + b[o] : acc;
}

GGDM_HD static inline long ggdm_elem_conv2d_backward_dx_count(int N, int C, int H, int W, int Cout, int KH, int KW,
                                                              int sh, int sw, int ph, int pw)
{
    long Ho, Wo;
    return ggdm_elem_conv2d_hw(N, C, H, W, Cout, KH, KW, sh, sw, ph, pw, &Ho, &Wo) ? (long)N * C * H * W : 0;
}

GGDM_HD static inline void ggdm_elem_conv2d_backward_dx(float *dx, float *dw, float *db, const float *dy,
                                                        const float *x, const float *w, int N, int C, int H, int W,
                                                        int Cout, int KH, int KW, int sh, int sw, int ph, int pw,
                                                        long idx)
{
    long Ho, Wo, HWo = ggdm_elem_conv2d_hw(N, C, H, W, Cout, KH, KW, sh, sw, ph, pw, &Ho, &Wo);
    long xi = idx % W, yi = (idx / W) % H, i = (idx / ((long)H * W)) % C, n = idx / ((long)H * W * C), o, kh, kw;
    float acc = 0.0f;
    GGDM_ELEM_UNUSED(dw), GGDM_ELEM_UNUSED(db), GGDM_ELEM_UNUSED(x);
    for (o = 0; o < Cout; o++) {
        for (kh = 0; kh < KH; kh++) {
            long ty = yi + ph - kh, yo;
            const float *dyr, *wr;
            if (ty < 0 || ty % sh != 0)
                continue;
            yo = ty / sh;
            if (yo >= Ho)
                continue;
            dyr = dy + (n * Cout + o) * HWo + yo * Wo;
            wr = w + ((o * C + i) * KH + kh) * KW;
            for (kw = 0; kw < KW; kw++) {
                long tx = xi + pw - kw, xo;
                if (tx < 0 || tx % sw != 0)
                    continue;
                xo = tx / sw;
                if (xo < Wo)
                    acc = fmaf(wr[kw], dyr[xo], acc);
            }
        }
    }
    dx[idx] = dx[idx] + acc;
}

GGDM_HD static inline long ggdm_elem_conv2d_backward_dw_count(int N, int C, int H, int W, int Cout, int KH, int KW,
                                                              int sh, int sw, int ph, int pw)
{
    long Ho, Wo;
    return ggdm_elem_conv2d_hw(N, C, H, W, Cout, KH, KW, sh, sw, ph, pw, &Ho, &Wo) ? (long)Cout * C * KH * KW : 0;
}

GGDM_HD static inline void ggdm_elem_conv2d_backward_dw(float *dx, float *dw, float *db, const float *dy,
                                                        const float *x, const float *w, int N, int C, int H, int W,
                                                        int Cout, int KH, int KW, int sh, int sw, int ph, int pw,
                                                        long idx)
{
    long Ho, Wo, HWo = ggdm_elem_conv2d_hw(N, C, H, W, Cout, KH, KW, sh, sw, ph, pw, &Ho, &Wo);
    long kw = idx % KW, kh = (idx / KW) % KH, i = (idx / ((long)KW * KH)) % C, o = idx / ((long)KW * KH * C);
    long n, yo, xo;
    float acc = 0.0f;
    GGDM_ELEM_UNUSED(dx), GGDM_ELEM_UNUSED(db), GGDM_ELEM_UNUSED(w);
    for (n = 0; n < N; n++) {
        for (yo = 0; yo < Ho; yo++) {
            long yi = yo * sh + kh - ph;
            const float *dyr, *xr;
            if (yi < 0 || yi >= H)
                continue;
            dyr = dy + (n * Cout + o) * HWo + yo * Wo;
            xr = x + ((n * C + i) * H + yi) * W;
            for (xo = 0; xo < Wo; xo++) {
                long xi = xo * sw + kw - pw;
                if (xi >= 0 && xi < W)
                    acc = fmaf(dyr[xo], xr[xi], acc);
            }
        }
    }
    dw[idx] = dw[idx] + acc;
}

GGDM_HD static inline long ggdm_elem_conv2d_backward_db_count(int N, int C, int H, int W, int Cout, int KH, int KW,
                                                              int sh, int sw, int ph, int pw)
{
    long Ho, Wo;
    return ggdm_elem_conv2d_hw(N, C, H, W, Cout, KH, KW, sh, sw, ph, pw, &Ho, &Wo) ? (long)Cout : 0;
}

GGDM_HD static inline void ggdm_elem_conv2d_backward_db(float *dx, float *dw, float *db, const float *dy,
                                                        const float *x, const float *w, int N, int C, int H, int W,
                                                        int Cout, int KH, int KW, int sh, int sw, int ph, int pw,
                                                        long idx)
{
    long Ho, Wo, HWo = ggdm_elem_conv2d_hw(N, C, H, W, Cout, KH, KW, sh, sw, ph, pw, &Ho, &Wo), n, l;
    float acc = 0.0f;
    GGDM_ELEM_UNUSED(dx), GGDM_ELEM_UNUSED(dw), GGDM_ELEM_UNUSED(x), GGDM_ELEM_UNUSED(w);
    for (n = 0; n < N; n++) {
        const float *dyr = dy + (n * Cout + idx) * HWo;
        for (l = 0; l < HWo; l++)
            acc = acc + dyr[l];
    }
    db[idx] = db[idx] + acc;
}

#endif /* GGDM_ELEM_CONV2D_H */
