/*
 * Conv2d, the plain loops (docs/nn.md, "Conv2d"; ggdm/layers.h): every output and every
 * gradient element is one chain in the documented order (forward: i, kh, kw; dx: o, kh, kw;
 * dw and db: n, yo, xo). The loops run many independent chains side by side (an output
 * plane, or a stack tile of accumulators, holds them) but never split or reorder one, so the
 * bits do not depend on the loop structure. The fast kernels (the _ex functions) are in
 * ref/src/conv1d_fast.c.
 */
#include <stddef.h>

#include "ggdm/layers.h"

#define TILE 256 /* floats of a stack tile of accumulators */

int ggdm_conv2d_out(const ggdm_conv2d_dims *d, int *Ho, int *Wo)
{
    int ho = ggdm_conv1d_out_len(d->H, d->KH, d->sh, d->ph), wo = ggdm_conv1d_out_len(d->W, d->KW, d->sw, d->pw);
    *Ho = ho;
    *Wo = wo;
    return d->N > 0 && d->C > 0 && d->Cout > 0 && ho > 0 && wo > 0;
}

/* The outputs l in [*lo, *hi) (0 <= l < Lout) whose tap k reads a position
 * p = l*s + k - pad with p0 <= p < p1; empty when *lo >= *hi. */
static void tap_range(long k, long s, long pad, long p0, long p1, long Lout, long *lo, long *hi)
{
    long a = p0 + pad - k, e = p1 - 1 + pad - k;
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    *hi = e < 0 ? 0 : e / s + 1;
    if (*hi > Lout)
        *hi = Lout;
}

void ggdm_conv2d_forward(float *y, const float *x, const float *w, const float *b, const ggdm_conv2d_dims *d)
{
    int Ho, Wo;
    long n, o, i, kh, kw, yo, xo;
    if (!ggdm_conv2d_out(d, &Ho, &Wo))
        return;
    for (n = 0; n < d->N; n++) {
        for (o = 0; o < d->Cout; o++) {
            float *yp = y + (n * d->Cout + o) * (long)Ho * Wo;
            for (xo = 0; xo < (long)Ho * Wo; xo++)
                yp[xo] = 0.0f;
            /* the plane holds the chains; each advances over (i, kh, kw) in order */
            for (i = 0; i < d->C; i++) {
                const float *xp = x + (n * d->C + i) * (long)d->H * d->W;
                for (kh = 0; kh < d->KH; kh++) {
                    long ylo, yhi;
                    tap_range(kh, d->sh, d->ph, 0, d->H, Ho, &ylo, &yhi);
                    for (kw = 0; kw < d->KW; kw++) {
                        const float wv = w[((o * d->C + i) * d->KH + kh) * d->KW + kw];
                        long xlo, xhi;
                        tap_range(kw, d->sw, d->pw, 0, d->W, Wo, &xlo, &xhi);
                        for (yo = ylo; yo < yhi; yo++) {
                            float *yr = yp + yo * Wo;
                            const float *xr = xp + (yo * d->sh + kh - d->ph) * d->W + kw - d->pw;
                            for (xo = xlo; xo < xhi; xo++)
                                yr[xo] = fmaf(wv, xr[xo * d->sw], yr[xo]);
                        }
                    }
                }
            }
            if (b)
                for (xo = 0; xo < (long)Ho * Wo; xo++)
                    yp[xo] = yp[xo] + b[o];
        }
    }
}

void ggdm_conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                          const ggdm_conv2d_dims *d)
{
    int Ho, Wo;
    long HWo, n, o, i, kh, kw, yo, xo, t;
    if (!ggdm_conv2d_out(d, &Ho, &Wo))
        return;
    HWo = (long)Ho * Wo;

    if (db) {
        for (o = 0; o < d->Cout; o++) {
            float acc = 0.0f;
            for (n = 0; n < d->N; n++) {
                const float *dyp = dy + (n * d->Cout + o) * HWo;
                for (t = 0; t < HWo; t++)
                    acc = acc + dyp[t];
            }
            db[o] = db[o] + acc;
        }
    }

    if (dw) {
        /* up to TILE taps kw of one (o, i, kh) side by side, each its own chain over (n, yo, xo) */
        for (o = 0; o < d->Cout; o++)
            for (i = 0; i < d->C; i++)
                for (kh = 0; kh < d->KH; kh++) {
                    float *dwr = dw + ((o * d->C + i) * d->KH + kh) * d->KW;
                    long k0, ylo, yhi;
                    tap_range(kh, d->sh, d->ph, 0, d->H, Ho, &ylo, &yhi);
                    for (k0 = 0; k0 < d->KW; k0 += TILE) {
                        float acc[TILE];
                        long k1 = d->KW - k0 < TILE ? d->KW : k0 + TILE;
                        for (kw = k0; kw < k1; kw++)
                            acc[kw - k0] = 0.0f;
                        for (n = 0; n < d->N; n++)
                            for (yo = ylo; yo < yhi; yo++) {
                                const float *dyr = dy + (n * d->Cout + o) * HWo + yo * Wo;
                                const float *xr = x + ((n * d->C + i) * d->H + yo * d->sh + kh - d->ph) * d->W;
                                for (xo = 0; xo < Wo; xo++) {
                                    const float g = dyr[xo];
                                    const long base = xo * d->sw - d->pw;
                                    for (kw = k0; kw < k1; kw++) {
                                        long p = base + kw;
                                        if (p >= 0 && p < d->W)
                                            acc[kw - k0] = fmaf(g, xr[p], acc[kw - k0]);
                                    }
                                }
                            }
                        for (kw = k0; kw < k1; kw++)
                            dwr[kw] = dwr[kw] + acc[kw - k0];
                    }
                }
    }

    if (dx) {
        /* a tile of positions xi of one row (n, i, yi): chains over (o, kh, kw); for a given
         * position and tap at most one output contributes */
        for (n = 0; n < d->N; n++)
            for (i = 0; i < d->C; i++) {
                long yi;
                for (yi = 0; yi < d->H; yi++) {
                    float *dxr = dx + ((n * d->C + i) * d->H + yi) * d->W;
                    long p0;
                    for (p0 = 0; p0 < d->W; p0 += TILE) {
                        float acc[TILE];
                        long p1 = d->W - p0 < TILE ? d->W : p0 + TILE, p;
                        for (p = p0; p < p1; p++)
                            acc[p - p0] = 0.0f;
                        for (o = 0; o < d->Cout; o++)
                            for (kh = 0; kh < d->KH; kh++) {
                                long ty = yi + d->ph - kh;
                                const float *dyr;
                                if (ty < 0 || ty % d->sh != 0 || ty / d->sh >= Ho)
                                    continue;
                                dyr = dy + (n * d->Cout + o) * HWo + ty / d->sh * Wo;
                                for (kw = 0; kw < d->KW; kw++) {
                                    const float wv = w[((o * d->C + i) * d->KH + kh) * d->KW + kw];
                                    long lo, hi;
                                    tap_range(kw, d->sw, d->pw, p0, p1, Wo, &lo, &hi);
                                    for (xo = lo; xo < hi; xo++)
                                        acc[xo * d->sw + kw - d->pw - p0] =
                                            fmaf(wv, dyr[xo], acc[xo * d->sw + kw - d->pw - p0]);
                                }
                            }
                        for (p = p0; p < p1; p++)
                            dxr[p] = dxr[p] + acc[p - p0];
                    }
                }
            }
    }
}
