/*
 * The score network's non-attention layers (docs/nn.md, "Layers").
 *
 * Every output and every gradient element is one sequential chain in the order the
 * header documents. The loops below run many independent chains side by side (the
 * output row itself, or a small stack tile of accumulators, holds them) so that a
 * compiler may vectorise across outputs, but no chain is ever split or reordered:
 * the bits do not depend on the loop structure.
 */
#include "ggdm/layers.h"

#include <stddef.h>

#include "ggdm/elem.h"
#include "ggdm/reduce.h"

#include "tile_f32.h"

/* Accumulator tile on the stack (floats) for gradients that must be formed from +0
 * before being added to the caller's buffer. */
#define TILE 256

/* ------------------------------------------------------------------ Conv1d */

int ggdm_conv1d_out_len(int Lin, int K, int stride, int pad)
{
    return ggdm_elem_conv1d_out_len(Lin, K, stride, pad); /* one definition, shared with the GPU */
}

/*
 * The outputs l in [*lo, *hi) whose tap k reads an input position p = l*stride + k - pad
 * with p0 <= p < p1 (and 0 <= l < Lout). Empty when *lo >= *hi.
 */
static void tap_range(int k, int stride, int pad, long p0, long p1, int Lout, long *lo, long *hi)
{
    long a = p0 + pad - k;     /* need l*stride >= a     */
    long e = p1 - 1 + pad - k; /* need l*stride <= e     */
    *lo = a <= 0 ? 0 : (a + stride - 1) / stride;
    *hi = e < 0 ? 0 : e / stride + 1;
    if (*hi > Lout)
        *hi = Lout;
}

void ggdm_conv1d_forward(float *y, const float *x, const float *w, const float *b,
                         int N, int Cin, int Lin, int Cout, int K, int stride, int pad)
{
    int Lout = ggdm_conv1d_out_len(Lin, K, stride, pad);
    int n, o, i, k;
    long l;
    if (N <= 0 || Cin <= 0 || Cout <= 0 || Lout <= 0)
        return;
    for (n = 0; n < N; n++) {
        for (o = 0; o < Cout; o++) {
            float *yr = y + ((long)n * Cout + o) * Lout;
            /* the row holds the Lout chains; each advances over (i, k) in order */
            for (l = 0; l < Lout; l++)
                yr[l] = 0.0f;
            for (i = 0; i < Cin; i++) {
                const float *xr = x + ((long)n * Cin + i) * Lin;
                const float *wr = w + ((long)o * Cin + i) * K;
                for (k = 0; k < K; k++) {
                    float wv = wr[k];
                    long lo, hi, off = (long)k - pad;
                    tap_range(k, stride, pad, 0, Lin, Lout, &lo, &hi);
                    for (l = lo; l < hi; l++)
                        yr[l] = fmaf(wv, xr[l * stride + off], yr[l]);
                }
            }
            if (b) {
                float bv = b[o];
                for (l = 0; l < Lout; l++)
                    yr[l] = yr[l] + bv;
            }
        }
    }
}

void ggdm_conv1d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                          int N, int Cin, int Lin, int Cout, int K, int stride, int pad)
{
    int Lout = ggdm_conv1d_out_len(Lin, K, stride, pad);
    int n, o, i, k;
    long l;
    if (N <= 0 || Cin <= 0 || Cout <= 0 || Lout <= 0)
        return;

    if (db) {
        for (o = 0; o < Cout; o++) {
            float acc = 0.0f;
            for (n = 0; n < N; n++) {
                const float *dyr = dy + ((long)n * Cout + o) * Lout;
                for (l = 0; l < Lout; l++)
                    acc = acc + dyr[l];
            }
            db[o] = db[o] + acc;
        }
    }

    if (dw) {
        /* up to TILE taps k of one (o, i) run side by side, each its own chain over (n, l) */
        for (o = 0; o < Cout; o++) {
            for (i = 0; i < Cin; i++) {
                float *dwr = dw + ((long)o * Cin + i) * K;
                int k0;
                for (k0 = 0; k0 < K; k0 += TILE) {
                    float acc[TILE];
                    int k1 = K - k0 < TILE ? K : k0 + TILE;
                    for (k = k0; k < k1; k++)
                        acc[k - k0] = 0.0f;
                    for (n = 0; n < N; n++) {
                        const float *dyr = dy + ((long)n * Cout + o) * Lout;
                        const float *xr = x + ((long)n * Cin + i) * Lin;
                        for (l = 0; l < Lout; l++) {
                            float g = dyr[l];
                            long base = l * stride - pad;
                            for (k = k0; k < k1; k++) {
                                long p = base + k;
                                if (p >= 0 && p < Lin)
                                    acc[k - k0] = fmaf(g, xr[p], acc[k - k0]);
                            }
                        }
                    }
                    for (k = k0; k < k1; k++)
                        dwr[k] = dwr[k] + acc[k - k0];
                }
            }
        }
    }

    if (dx) {
        /* a tile of input positions p of one (n, i): chains over (o, k); for a given p and
         * (o, k) at most one output l contributes. */
        for (n = 0; n < N; n++) {
            for (i = 0; i < Cin; i++) {
                float *dxr = dx + ((long)n * Cin + i) * Lin;
                long p0;
                for (p0 = 0; p0 < Lin; p0 += TILE) {
                    float acc[TILE];
                    long p1 = Lin - p0 < TILE ? Lin : p0 + TILE, p;
                    for (p = p0; p < p1; p++)
                        acc[p - p0] = 0.0f;
                    for (o = 0; o < Cout; o++) {
                        const float *dyr = dy + ((long)n * Cout + o) * Lout;
                        const float *wr = w + ((long)o * Cin + i) * K;
                        for (k = 0; k < K; k++) {
                            float wv = wr[k];
                            long lo, hi, off = (long)k - pad - p0;
                            tap_range(k, stride, pad, p0, p1, Lout, &lo, &hi);
                            for (l = lo; l < hi; l++) {
                                long t = l * stride + off;
                                acc[t] = fmaf(wv, dyr[l], acc[t]);
                            }
                        }
                    }
                    for (p = p0; p < p1; p++)
                        dxr[p] = dxr[p] + acc[p - p0];
                }
            }
        }
    }
}



/* ------------------------------------------------------------------ Linear */

void ggdm_linear_forward(float *y, const float *x, const float *W, const float *b, int N, int In, int Out)
{
    if (N <= 0 || In <= 0 || Out <= 0)
        return;
    /* lanes: output features o (rows of W), rows: samples n */
    chains_nt(y, Out, N, Out, W, In, x, In, In, b ? EP_BIAS : EP_STORE, b);
}

void ggdm_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W,
                          int N, int In, int Out)
{
    int n, o, o0;
    if (N <= 0 || In <= 0 || Out <= 0)
        return;

    if (db) {
        /* a tile of outputs o side by side, each its chain over n */
        for (o0 = 0; o0 < Out; o0 += TILE) {
            float acc[TILE];
            int o1 = Out - o0 < TILE ? Out : o0 + TILE;
            for (o = o0; o < o1; o++)
                acc[o - o0] = 0.0f;
            for (n = 0; n < N; n++) {
                const float *dyr = dy + (long)n * Out;
                for (o = o0; o < o1; o++)
                    acc[o - o0] = acc[o - o0] + dyr[o];
            }
            for (o = o0; o < o1; o++)
                db[o] = db[o] + acc[o - o0];
        }
    }
    /* dW[o, i]: lanes i (a row of x), rows o, chain over n */
    if (dW)
        chains_nn(dW, In, Out, In, x, In, dy, 1, Out, N, EP_ADD, NULL);
    /* dx[n, i]: lanes i (a row of W), rows n, chain over o */
    if (dx)
        chains_nn(dx, In, N, In, W, In, dy, Out, 1, Out, EP_ADD, NULL);
}

/* ------------------------------------------------------------------ element-wise helpers */

/* Element-wise loops run in blocks of EB with a constant trip count over a stack block (no
 * aliasing to prove), which the compiler vectorises; the rest one element at a time. */
#define EB 64

/* 8 independent mean/var chains, chain k over x[k*sq + i], i < n, each exactly ggdm_mean_var_f32. */
static void mean_var8(const float *x, long sq, long n, float *mean, float *var)
{
    float a[8], m[8];
    long i;
    int k;
    for (k = 0; k < 8; k++)
        a[k] = 0.0f;
    for (i = 0; i < n; i++)
        for (k = 0; k < 8; k++)
            a[k] = a[k] + x[k * sq + i];
    for (k = 0; k < 8; k++) {
        m[k] = a[k] / (float)n;
        a[k] = 0.0f;
    }
    for (i = 0; i < n; i++)
        for (k = 0; k < 8; k++) {
            float d = x[k * sq + i] - m[k];
            a[k] = fmaf(d, d, a[k]);
        }
    for (k = 0; k < 8; k++) {
        mean[k] = m[k];
        var[k] = a[k] / (float)n;
    }
}

/* y[i] = ((x[i] - m) * r) [* ga if hg] [+ be if hb], i < n; y != x. */
static void xhat_row(float *y, const float *x, long n, float m, float r, int hg, float ga, int hb, float be)
{
    float t[EB];
    long i, i0;
    for (i0 = 0; i0 + EB <= n; i0 += EB) {
        const float *xs = x + i0;
        float *ys = y + i0;
        for (i = 0; i < EB; i++)
            t[i] = ggdm_norm_xhat(xs[i], m, r);
        if (hg)
            for (i = 0; i < EB; i++)
                t[i] = t[i] * ga;
        if (hb)
            for (i = 0; i < EB; i++)
                t[i] = t[i] + be;
        for (i = 0; i < EB; i++)
            ys[i] = t[i];
    }
    for (i = i0; i < n; i++) {
        float v = ggdm_norm_xhat(x[i], m, r);
        if (hg)
            v = v * ga;
        if (hb)
            v = v + be;
        y[i] = v;
    }
}

/* dx[i] += ggdm_norm_dx(dh, xhat, m1, m2, r) with dh = dy[i] (* ga if hg), xhat = (x[i] - m) * r. */
static void norm_dx_row(float *dx, const float *dy, const float *x, long n, int hg, float ga, float m, float r,
                        float m1, float m2)
{
    float t[EB];
    long i, i0;
    for (i0 = 0; i0 + EB <= n; i0 += EB) {
        const float *xs = x + i0, *ds = dy + i0;
        float *os = dx + i0;
        if (hg)
            for (i = 0; i < EB; i++)
                t[i] = ds[i] * ga;
        else
            for (i = 0; i < EB; i++)
                t[i] = ds[i];
        for (i = 0; i < EB; i++)
            t[i] = ggdm_norm_dx(t[i], ggdm_norm_xhat(xs[i], m, r), m1, m2, r);
        for (i = 0; i < EB; i++)
            os[i] = os[i] + t[i];
    }
    for (i = i0; i < n; i++) {
        float dh = hg ? dy[i] * ga : dy[i];
        dx[i] = dx[i] + ggdm_norm_dx(dh, ggdm_norm_xhat(x[i], m, r), m1, m2, r);
    }
}

/* ------------------------------------------------------------------ weight standardisation */

void ggdm_ws_forward(float *w_hat, float *rstd, const float *w, int Cout, int fan)
{
    int o, o0, k;
    if (Cout <= 0 || fan <= 0)
        return;
    /* 8 output channels' (mean, var) chains side by side */
    for (o0 = 0; o0 < Cout; o0 += 8) {
        float m[8], v[8];
        int no = Cout - o0 < 8 ? Cout - o0 : 8;
        if (no == 8)
            mean_var8(w + (long)o0 * fan, fan, fan, m, v);
        else
            for (k = 0; k < no; k++)
                ggdm_mean_var_f32(w + (long)(o0 + k) * fan, 1, fan, &m[k], &v[k]);
        for (k = 0; k < no; k++) {
            o = o0 + k;
            rstd[o] = ggdm_norm_rstd(v[k]);
            xhat_row(w_hat + (long)o * fan, w + (long)o * fan, fan, m[k], rstd[o], 0, 0.0f, 0, 0.0f);
        }
    }
}

void ggdm_ws_backward(float *dw, const float *dw_hat, const float *w_hat, const float *rstd, int Cout, int fan)
{
    int o, o0, k;
    long j;
    if (!dw || Cout <= 0 || fan <= 0)
        return;
    for (o0 = 0; o0 < Cout; o0 += 8) {
        float s1[8], s2[8];
        int no = Cout - o0 < 8 ? Cout - o0 : 8;
        const float *g0 = dw_hat + (long)o0 * fan, *h0 = w_hat + (long)o0 * fan;
        if (no == 8) {
            /* 8 channels' two chains side by side */
            for (k = 0; k < 8; k++)
                s1[k] = s2[k] = 0.0f;
            for (j = 0; j < fan; j++)
                for (k = 0; k < 8; k++) {
                    float gv = g0[(long)k * fan + j];
                    s1[k] = s1[k] + gv;
                    s2[k] = fmaf(gv, h0[(long)k * fan + j], s2[k]);
                }
        } else {
            for (k = 0; k < no; k++) {
                s1[k] = ggdm_sum_f32(g0 + (long)k * fan, 1, fan);
                s2[k] = ggdm_dot_f32(g0 + (long)k * fan, 1, h0 + (long)k * fan, 1, fan);
            }
        }
        for (k = 0; k < no; k++) {
            float m1 = s1[k] / (float)fan, m2 = s2[k] / (float)fan, r;
            o = o0 + k;
            r = rstd[o];
            {
                /* w_hat is xhat itself: dw += fmaf(-h, m2, g - m1) * r */
                const float *gr = dw_hat + (long)o * fan, *hr = w_hat + (long)o * fan;
                float *dr = dw + (long)o * fan;
                float t[EB];
                long i, i0;
                for (i0 = 0; i0 + EB <= fan; i0 += EB) {
                    for (i = 0; i < EB; i++)
                        t[i] = ggdm_norm_dx(gr[i0 + i], hr[i0 + i], m1, m2, r);
                    for (i = 0; i < EB; i++)
                        dr[i0 + i] = dr[i0 + i] + t[i];
                }
                for (i = i0; i < fan; i++)
                    dr[i] = dr[i] + ggdm_norm_dx(gr[i], hr[i], m1, m2, r);
            }
        }
    }
}

/* ------------------------------------------------------------------ GroupNorm */

void ggdm_groupnorm_forward_eps(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                const float *beta, int N, int C, int L, int G, float eps)
{
    int n, c, Cg, k;
    long M, Q, q0;
    if (N <= 0 || C <= 0 || L <= 0 || G <= 0 || C % G != 0)
        return;
    Cg = C / G;
    M = (long)Cg * L;
    Q = (long)N * G;
    /* group q = n*G + g is the contiguous slice x[q*M .. q*M + M - 1]: 8 groups' chains side by side */
    for (q0 = 0; q0 < Q; q0 += 8) {
        float m[8], v[8];
        int nq = Q - q0 < 8 ? (int)(Q - q0) : 8;
        if (nq == 8)
            mean_var8(x + q0 * M, M, M, m, v);
        else
            for (k = 0; k < nq; k++)
                ggdm_mean_var_f32(x + (q0 + k) * M, 1, M, &m[k], &v[k]);
        for (k = 0; k < nq; k++) {
            mean[q0 + k] = m[k];
            rstd[q0 + k] = ggdm_norm_rstd_eps(v[k], eps);
        }
    }
    for (n = 0; n < N; n++)
        for (c = 0; c < C; c++) {
            long q = (long)n * G + c / Cg, off = ((long)n * C + c) * L;
            xhat_row(y + off, x + off, L, mean[q], rstd[q], gamma != NULL, gamma ? gamma[c] : 0.0f, beta != NULL,
                     beta ? beta[c] : 0.0f);
        }
}

void ggdm_groupnorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                            const float *beta, int N, int C, int L, int G)
{
    ggdm_groupnorm_forward_eps(y, mean, rstd, x, gamma, beta, N, C, L, G, GGDM_NORM_EPS);
}

void ggdm_groupnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                             const float *mean, const float *rstd, const float *gamma, int N, int C, int L, int G)
{
    int n, g, c, Cg, k, cc;
    long l, M, Q, q0;
    if (N <= 0 || C <= 0 || L <= 0 || G <= 0 || C % G != 0)
        return;
    Cg = C / G;
    M = (long)Cg * L;
    Q = (long)N * G;

    if (dgamma || dbeta) {
        int c0;
        for (c0 = 0; c0 < C; c0 += 8) {
            int nc = C - c0 < 8 ? C - c0 : 8;
            if (nc == 8) {
                /* 8 channels' chains (over n, then l) side by side */
                float ag[8], ab[8], m[8], r[8];
                for (k = 0; k < 8; k++)
                    ag[k] = ab[k] = 0.0f;
                for (n = 0; n < N; n++) {
                    const float *xb = x + ((long)n * C + c0) * L, *db = dy + ((long)n * C + c0) * L;
                    for (k = 0; k < 8; k++) {
                        m[k] = mean[(long)n * G + (c0 + k) / Cg];
                        r[k] = rstd[(long)n * G + (c0 + k) / Cg];
                    }
                    for (l = 0; l < L; l++)
                        for (k = 0; k < 8; k++) {
                            float d = db[(long)k * L + l];
                            ag[k] = fmaf(d, ggdm_norm_xhat(xb[(long)k * L + l], m[k], r[k]), ag[k]);
                            ab[k] = ab[k] + d;
                        }
                }
                for (k = 0; k < 8; k++) {
                    if (dgamma)
                        dgamma[c0 + k] = dgamma[c0 + k] + ag[k];
                    if (dbeta)
                        dbeta[c0 + k] = dbeta[c0 + k] + ab[k];
                }
            } else {
                for (c = c0; c < C; c++) {
                    float ag = 0.0f, ab = 0.0f;
                    g = c / Cg;
                    for (n = 0; n < N; n++) {
                        const float *xr = x + ((long)n * C + c) * L;
                        const float *dyr = dy + ((long)n * C + c) * L;
                        float m = mean[(long)n * G + g], r = rstd[(long)n * G + g];
                        for (l = 0; l < L; l++) {
                            ag = fmaf(dyr[l], ggdm_norm_xhat(xr[l], m, r), ag);
                            ab = ab + dyr[l];
                        }
                    }
                    if (dgamma)
                        dgamma[c] = dgamma[c] + ag;
                    if (dbeta)
                        dbeta[c] = dbeta[c] + ab;
                }
            }
        }
    }

    if (dx) {
        for (q0 = 0; q0 < Q; q0 += 8) {
            float s1[8], s2[8], m[8], r[8], ga[8];
            int nq = Q - q0 < 8 ? (int)(Q - q0) : 8;
            for (k = 0; k < nq; k++) {
                m[k] = mean[q0 + k];
                r[k] = rstd[q0 + k];
                s1[k] = s2[k] = 0.0f;
            }
            if (nq == 8) {
                /* 8 groups' (s1, s2) chains side by side, each over its group in C order */
                const float *xb = x + q0 * M, *db = dy + q0 * M;
                for (cc = 0; cc < Cg; cc++) {
                    const float *xc = xb + (long)cc * L, *dc = db + (long)cc * L;
                    if (gamma) {
                        for (k = 0; k < 8; k++)
                            ga[k] = gamma[((q0 + k) % G) * Cg + cc];
                        for (l = 0; l < L; l++)
                            for (k = 0; k < 8; k++) {
                                float dh = dc[k * M + l] * ga[k];
                                s1[k] = s1[k] + dh;
                                s2[k] = fmaf(dh, ggdm_norm_xhat(xc[k * M + l], m[k], r[k]), s2[k]);
                            }
                    } else {
                        for (l = 0; l < L; l++)
                            for (k = 0; k < 8; k++) {
                                float dh = dc[k * M + l];
                                s1[k] = s1[k] + dh;
                                s2[k] = fmaf(dh, ggdm_norm_xhat(xc[k * M + l], m[k], r[k]), s2[k]);
                            }
                    }
                }
            } else {
                for (k = 0; k < nq; k++) {
                    long q = q0 + k;
                    g = (int)(q % G);
                    for (cc = 0; cc < Cg; cc++) {
                        const float *xr = x + q * M + (long)cc * L, *dyr = dy + q * M + (long)cc * L;
                        c = g * Cg + cc;
                        for (l = 0; l < L; l++) {
                            float dh = gamma ? dyr[l] * gamma[c] : dyr[l];
                            s1[k] = s1[k] + dh;
                            s2[k] = fmaf(dh, ggdm_norm_xhat(xr[l], m[k], r[k]), s2[k]);
                        }
                    }
                }
            }
            for (k = 0; k < nq; k++) {
                long q = q0 + k, off;
                float m1 = s1[k] / (float)M, m2 = s2[k] / (float)M;
                g = (int)(q % G);
                for (cc = 0; cc < Cg; cc++) {
                    c = g * Cg + cc;
                    off = q * M + (long)cc * L;
                    norm_dx_row(dx + off, dy + off, x + off, L, gamma != NULL, gamma ? gamma[c] : 0.0f, m[k], r[k],
                                m1, m2);
                }
            }
        }
    }
}

/* ------------------------------------------------------------------ ChannelNorm */

/* LB positions l side by side: their chains over c (stride L) run as lanes. */
#define LB 8

void ggdm_chnorm_forward_beta(float *y, float *mean, float *rstd, const float *x, const float *g, const float *beta,
                              int N, int C, int L, float eps)
{
    int n, c, j;
    long l, l0;
    if (N <= 0 || C <= 0 || L <= 0)
        return;
    for (n = 0; n < N; n++) {
        const float *xn = x + (long)n * C * L;
        float *yn = y + (long)n * C * L;
        float *mn = mean + (long)n * L, *rn = rstd + (long)n * L;
        for (l0 = 0; l0 + LB <= L; l0 += LB) {
            /* ggdm_mean_var_f32(xn + l, L, C) for LB positions at once */
            float s[LB], m[LB];
            for (j = 0; j < LB; j++)
                s[j] = 0.0f;
            for (c = 0; c < C; c++) {
                const float *xr = xn + (long)c * L + l0;
                for (j = 0; j < LB; j++)
                    s[j] = s[j] + xr[j];
            }
            for (j = 0; j < LB; j++) {
                m[j] = s[j] / (float)C;
                s[j] = 0.0f;
            }
            for (c = 0; c < C; c++) {
                const float *xr = xn + (long)c * L + l0;
                for (j = 0; j < LB; j++) {
                    float d = xr[j] - m[j];
                    s[j] = fmaf(d, d, s[j]);
                }
            }
            for (j = 0; j < LB; j++) {
                mn[l0 + j] = m[j];
                rn[l0 + j] = ggdm_norm_rstd_eps(s[j] / (float)C, eps);
            }
        }
        for (l = l0; l < L; l++) {
            float v;
            ggdm_mean_var_f32(xn + l, L, C, &mn[l], &v);
            rn[l] = ggdm_norm_rstd_eps(v, eps);
        }
        for (c = 0; c < C; c++) {
            const float *xr = xn + (long)c * L;
            float *yr = yn + (long)c * L;
            for (l0 = 0; l0 + LB <= L; l0 += LB) {
                float t[LB];
                for (j = 0; j < LB; j++)
                    t[j] = ggdm_norm_xhat(xr[l0 + j], mn[l0 + j], rn[l0 + j]);
                if (g)
                    for (j = 0; j < LB; j++)
                        t[j] = t[j] * g[c];
                if (beta)
                    for (j = 0; j < LB; j++)
                        t[j] = t[j] + beta[c];
                for (j = 0; j < LB; j++)
                    yr[l0 + j] = t[j];
            }
            for (l = l0; l < L; l++) {
                float t = ggdm_norm_xhat(xr[l], mn[l], rn[l]);
                if (g)
                    t = t * g[c];
                yr[l] = beta ? t + beta[c] : t;
            }
        }
    }
}

void ggdm_chnorm_forward_eps(float *y, float *mean, float *rstd, const float *x, const float *g, int N, int C, int L,
                             float eps)
{
    ggdm_chnorm_forward_beta(y, mean, rstd, x, g, NULL, N, C, L, eps);
}

void ggdm_chnorm_forward(float *y, float *mean, float *rstd, const float *x, const float *g, int N, int C, int L)
{
    ggdm_chnorm_forward_beta(y, mean, rstd, x, g, NULL, N, C, L, GGDM_NORM_EPS);
}

void ggdm_chnorm_backward_beta(float *dbeta, const float *dy, int N, int C, int L)
{
    int n, c;
    long l;
    if (!dbeta || N <= 0 || C <= 0 || L <= 0)
        return;
    for (c = 0; c < C; c++) {
        float acc = 0.0f;
        for (n = 0; n < N; n++) {
            const float *dr = dy + ((long)n * C + c) * L;
            for (l = 0; l < L; l++)
                acc = acc + dr[l];
        }
        dbeta[c] = dbeta[c] + acc;
    }
}

void ggdm_chnorm_backward(float *dx, float *dg, const float *dy, const float *x, const float *mean,
                          const float *rstd, const float *g, int N, int C, int L)
{
    int n, c, c0, k, j;
    long l, l0;
    if (N <= 0 || C <= 0 || L <= 0)
        return;

    if (dg) {
        for (c0 = 0; c0 < C; c0 += 8) {
            int nc = C - c0 < 8 ? C - c0 : 8;
            float acc[8];
            for (k = 0; k < 8; k++)
                acc[k] = 0.0f;
            if (nc == 8) {
                /* 8 channels' chains (over n, then l) side by side */
                for (n = 0; n < N; n++) {
                    const float *xb = x + ((long)n * C + c0) * L, *db = dy + ((long)n * C + c0) * L;
                    const float *mn = mean + (long)n * L, *rn = rstd + (long)n * L;
                    for (l = 0; l < L; l++) {
                        float m = mn[l], r = rn[l];
                        for (k = 0; k < 8; k++)
                            acc[k] = fmaf(db[(long)k * L + l], ggdm_norm_xhat(xb[(long)k * L + l], m, r), acc[k]);
                    }
                }
            } else {
                for (k = 0; k < nc; k++)
                    for (n = 0; n < N; n++) {
                        const float *xr = x + ((long)n * C + c0 + k) * L;
                        const float *dyr = dy + ((long)n * C + c0 + k) * L;
                        const float *mn = mean + (long)n * L, *rn = rstd + (long)n * L;
                        for (l = 0; l < L; l++)
                            acc[k] = fmaf(dyr[l], ggdm_norm_xhat(xr[l], mn[l], rn[l]), acc[k]);
                    }
            }
            for (k = 0; k < nc; k++)
                dg[c0 + k] = dg[c0 + k] + acc[k];
        }
    }

    if (dx) {
        /* LB positions l: their (s1, s2) chains over c run as lanes */
        for (n = 0; n < N; n++) {
            const float *xn = x + (long)n * C * L;
            const float *dyn = dy + (long)n * C * L;
            float *dxn = dx + (long)n * C * L;
            const float *mn = mean + (long)n * L, *rn = rstd + (long)n * L;
            for (l0 = 0; l0 < L; l0 += LB) {
                float s1[LB], s2[LB], m[LB], r[LB], t[LB];
                if (L - l0 >= LB) {
                    for (j = 0; j < LB; j++) {
                        s1[j] = s2[j] = 0.0f;
                        m[j] = mn[l0 + j];
                        r[j] = rn[l0 + j];
                    }
                    for (c = 0; c < C; c++) {
                        const float *xr = xn + (long)c * L + l0, *dyr = dyn + (long)c * L + l0;
                        if (g)
                            for (j = 0; j < LB; j++)
                                t[j] = dyr[j] * g[c];
                        else
                            for (j = 0; j < LB; j++)
                                t[j] = dyr[j];
                        for (j = 0; j < LB; j++) {
                            s1[j] = s1[j] + t[j];
                            s2[j] = fmaf(t[j], ggdm_norm_xhat(xr[j], m[j], r[j]), s2[j]);
                        }
                    }
                    for (j = 0; j < LB; j++) {
                        s1[j] = s1[j] / (float)C;
                        s2[j] = s2[j] / (float)C;
                    }
                    for (c = 0; c < C; c++) {
                        const float *xr = xn + (long)c * L + l0, *dyr = dyn + (long)c * L + l0;
                        float *dxr = dxn + (long)c * L + l0;
                        if (g)
                            for (j = 0; j < LB; j++)
                                t[j] = dyr[j] * g[c];
                        else
                            for (j = 0; j < LB; j++)
                                t[j] = dyr[j];
                        for (j = 0; j < LB; j++)
                            t[j] = ggdm_norm_dx(t[j], ggdm_norm_xhat(xr[j], m[j], r[j]), s1[j], s2[j], r[j]);
                        for (j = 0; j < LB; j++)
                            dxr[j] = dxr[j] + t[j];
                    }
                } else {
                    long nl = L - l0;
                    for (l = 0; l < nl; l++)
                        s1[l] = s2[l] = 0.0f;
                    for (c = 0; c < C; c++) {
                        const float *xr = xn + (long)c * L + l0, *dyr = dyn + (long)c * L + l0;
                        for (l = 0; l < nl; l++) {
                            float dh = g ? dyr[l] * g[c] : dyr[l];
                            s1[l] = s1[l] + dh;
                            s2[l] = fmaf(dh, ggdm_norm_xhat(xr[l], mn[l0 + l], rn[l0 + l]), s2[l]);
                        }
                    }
                    for (l = 0; l < nl; l++) {
                        s1[l] = s1[l] / (float)C;
                        s2[l] = s2[l] / (float)C;
                    }
                    for (c = 0; c < C; c++) {
                        const float *xr = xn + (long)c * L + l0, *dyr = dyn + (long)c * L + l0;
                        float *dxr = dxn + (long)c * L + l0;
                        for (l = 0; l < nl; l++) {
                            float dh = g ? dyr[l] * g[c] : dyr[l];
                            float xh = ggdm_norm_xhat(xr[l], mn[l0 + l], rn[l0 + l]);
                            dxr[l] = dxr[l] + ggdm_norm_dx(dh, xh, s1[l], s2[l], rn[l0 + l]);
                        }
                    }
                }
            }
        }
    }
}

/* ------------------------------------------------------------------ activations */

void ggdm_silu_forward(float *y, const float *x, long n)
{
    float t[EB];
    long i, i0;
    for (i0 = 0; i0 + EB <= n; i0 += EB) {
        const float *xs = x + i0;
        float *ys = y + i0;
        for (i = 0; i < EB; i++)
            t[i] = ggdm_silu(xs[i]);
        for (i = 0; i < EB; i++)
            ys[i] = t[i];
    }
    for (i = i0; i < n; i++)
        y[i] = ggdm_silu(x[i]);
}

void ggdm_silu_backward(float *dx, const float *dy, const float *x, long n)
{
    float t[EB];
    long i, i0;
    if (!dx)
        return;
    for (i0 = 0; i0 + EB <= n; i0 += EB) {
        const float *xs = x + i0, *ds = dy + i0;
        float *os = dx + i0;
        for (i = 0; i < EB; i++)
            t[i] = ds[i] * ggdm_silu_grad(xs[i]);
        for (i = 0; i < EB; i++)
            os[i] = os[i] + t[i];
    }
    for (i = i0; i < n; i++)
        dx[i] = dx[i] + dy[i] * ggdm_silu_grad(x[i]);
}
void ggdm_gelu_forward(float *y, const float *x, long n)
{
    long i;
    for (i = 0; i < n; i++)
        y[i] = ggdm_gelu(x[i]);
}

void ggdm_gelu_backward(float *dx, const float *dy, const float *x, long n)
{
    long i;
    if (!dx)
        return;
    for (i = 0; i < n; i++)
        dx[i] = dx[i] + dy[i] * ggdm_gelu_grad(x[i]);
}

/* ------------------------------------------------------------------ FiLM, upsampling */

void ggdm_scale_shift_forward(float *y, const float *x, const float *ss, int N, int C, int L)
{
    int n, c;
    long l;
    if (N <= 0 || C <= 0 || L <= 0)
        return;
    for (n = 0; n < N; n++) {
        for (c = 0; c < C; c++) {
            float s1 = ss[(long)n * 2 * C + c] + 1.0f, sh = ss[(long)n * 2 * C + C + c];
            const float *xr = x + ((long)n * C + c) * L;
            float *yr = y + ((long)n * C + c) * L;
            for (l = 0; l < L; l++)
                yr[l] = (xr[l] * s1) + sh;
        }
    }
}

void ggdm_scale_shift_backward(float *dx, float *dss, const float *dy, const float *x, const float *ss,
                               int N, int C, int L)
{
    int n, c;
    long l;
    if (N <= 0 || C <= 0 || L <= 0)
        return;
    for (n = 0; n < N; n++) {
        for (c = 0; c < C; c++) {
            const float *dyr = dy + ((long)n * C + c) * L;
            if (dx) {
                float s1 = ss[(long)n * 2 * C + c] + 1.0f;
                float *dxr = dx + ((long)n * C + c) * L;
                for (l = 0; l < L; l++)
                    dxr[l] = dxr[l] + dyr[l] * s1;
            }
            if (dss) {
                const float *xr = x + ((long)n * C + c) * L;
                float as = 0.0f, ah = 0.0f;
                for (l = 0; l < L; l++) {
                    as = fmaf(dyr[l], xr[l], as);
                    ah = ah + dyr[l];
                }
                dss[(long)n * 2 * C + c] = dss[(long)n * 2 * C + c] + as;
                dss[(long)n * 2 * C + C + c] = dss[(long)n * 2 * C + C + c] + ah;
            }
        }
    }
}

void ggdm_upsample2_forward(float *y, const float *x, int N, int C, int L)
{
    long r, l, rows;
    if (N <= 0 || C <= 0 || L <= 0)
        return;
    rows = (long)N * C;
    for (r = 0; r < rows; r++) {
        const float *xr = x + r * L;
        float *yr = y + r * 2 * L;
        for (l = 0; l < L; l++) {
            yr[2 * l] = xr[l];
            yr[2 * l + 1] = xr[l];
        }
    }
}

void ggdm_upsample2_backward(float *dx, const float *dy, int N, int C, int L)
{
    long r, l, rows;
    if (!dx || N <= 0 || C <= 0 || L <= 0)
        return;
    rows = (long)N * C;
    for (r = 0; r < rows; r++) {
        const float *dyr = dy + r * 2 * L;
        float *dxr = dx + r * L;
        for (l = 0; l < L; l++)
            dxr[l] = dxr[l] + (dyr[2 * l] + dyr[2 * l + 1]);
    }
}
