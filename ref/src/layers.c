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

#include "ggdm/reduce.h"

/* Accumulator tile on the stack (floats) for gradients that must be formed from +0
 * before being added to the caller's buffer. */
#define TILE 256

/* ------------------------------------------------------------------ Conv1d */

int ggdm_conv1d_out_len(int Lin, int K, int stride, int pad)
{
    long span;
    if (Lin < 1 || K < 1 || stride < 1 || pad < 0)
        return 0;
    span = (long)Lin + 2L * pad - K;
    if (span < 0)
        return 0;
    return (int)(span / stride + 1);
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
    int n, o;
    if (N <= 0 || In <= 0 || Out <= 0)
        return;
    for (n = 0; n < N; n++) {
        const float *xr = x + (long)n * In;
        float *yr = y + (long)n * Out;
        for (o = 0; o < Out; o++) {
            float acc = ggdm_dot_f32(W + (long)o * In, 1, xr, 1, In);
            yr[o] = b ? acc + b[o] : acc;
        }
    }
}

void ggdm_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W,
                          int N, int In, int Out)
{
    int n, o;
    long i, i0;
    if (N <= 0 || In <= 0 || Out <= 0)
        return;

    if (db) {
        for (o = 0; o < Out; o++) {
            float acc = ggdm_sum_f32(dy + o, Out, N);
            db[o] = db[o] + acc;
        }
    }

    if (dW) {
        for (o = 0; o < Out; o++) {
            float *dWr = dW + (long)o * In;
            for (i0 = 0; i0 < In; i0 += TILE) {
                float acc[TILE];
                long i1 = In - i0 < TILE ? In : i0 + TILE;
                for (i = i0; i < i1; i++)
                    acc[i - i0] = 0.0f;
                for (n = 0; n < N; n++) {
                    float g = dy[(long)n * Out + o];
                    const float *xr = x + (long)n * In;
                    for (i = i0; i < i1; i++)
                        acc[i - i0] = fmaf(g, xr[i], acc[i - i0]);
                }
                for (i = i0; i < i1; i++)
                    dWr[i] = dWr[i] + acc[i - i0];
            }
        }
    }

    if (dx) {
        for (n = 0; n < N; n++) {
            float *dxr = dx + (long)n * In;
            const float *dyr = dy + (long)n * Out;
            for (i0 = 0; i0 < In; i0 += TILE) {
                float acc[TILE];
                long i1 = In - i0 < TILE ? In : i0 + TILE;
                for (i = i0; i < i1; i++)
                    acc[i - i0] = 0.0f;
                for (o = 0; o < Out; o++) {
                    float g = dyr[o];
                    const float *Wr = W + (long)o * In;
                    for (i = i0; i < i1; i++)
                        acc[i - i0] = fmaf(Wr[i], g, acc[i - i0]);
                }
                for (i = i0; i < i1; i++)
                    dxr[i] = dxr[i] + acc[i - i0];
            }
        }
    }
}

/* ------------------------------------------------------------------ weight standardisation */

void ggdm_ws_forward(float *w_hat, float *rstd, const float *w, int Cout, int fan)
{
    int o;
    long j;
    if (Cout <= 0 || fan <= 0)
        return;
    for (o = 0; o < Cout; o++) {
        const float *wr = w + (long)o * fan;
        float *hr = w_hat + (long)o * fan;
        float m, v, r;
        ggdm_mean_var_f32(wr, 1, fan, &m, &v);
        r = ggdm_norm_rstd(v);
        rstd[o] = r;
        for (j = 0; j < fan; j++)
            hr[j] = ggdm_norm_xhat(wr[j], m, r);
    }
}

void ggdm_ws_backward(float *dw, const float *dw_hat, const float *w_hat, const float *rstd, int Cout, int fan)
{
    int o;
    long j;
    if (!dw || Cout <= 0 || fan <= 0)
        return;
    for (o = 0; o < Cout; o++) {
        const float *gr = dw_hat + (long)o * fan;
        const float *hr = w_hat + (long)o * fan;
        float *dr = dw + (long)o * fan;
        float m1 = ggdm_sum_f32(gr, 1, fan) / (float)fan;
        float m2 = ggdm_dot_f32(gr, 1, hr, 1, fan) / (float)fan;
        float r = rstd[o];
        for (j = 0; j < fan; j++)
            dr[j] = dr[j] + ggdm_norm_dx(gr[j], hr[j], m1, m2, r);
    }
}

/* ------------------------------------------------------------------ GroupNorm */

void ggdm_groupnorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                            const float *beta, int N, int C, int L, int G)
{
    int n, g, c, Cg;
    long l, M;
    if (N <= 0 || C <= 0 || L <= 0 || G <= 0 || C % G != 0)
        return;
    Cg = C / G;
    M = (long)Cg * L;
    for (n = 0; n < N; n++) {
        for (g = 0; g < G; g++) {
            long base = ((long)n * C + (long)g * Cg) * L;
            float m, v, r;
            ggdm_mean_var_f32(x + base, 1, M, &m, &v);
            r = ggdm_norm_rstd(v);
            mean[(long)n * G + g] = m;
            rstd[(long)n * G + g] = r;
            for (c = g * Cg; c < (g + 1) * Cg; c++) {
                const float *xr = x + ((long)n * C + c) * L;
                float *yr = y + ((long)n * C + c) * L;
                for (l = 0; l < L; l++) {
                    float t = ggdm_norm_xhat(xr[l], m, r);
                    if (gamma)
                        t = t * gamma[c];
                    if (beta)
                        t = t + beta[c];
                    yr[l] = t;
                }
            }
        }
    }
}

void ggdm_groupnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                             const float *mean, const float *rstd, const float *gamma, int N, int C, int L, int G)
{
    int n, g, c, Cg;
    long l, M;
    if (N <= 0 || C <= 0 || L <= 0 || G <= 0 || C % G != 0)
        return;
    Cg = C / G;
    M = (long)Cg * L;

    if (dgamma || dbeta) {
        for (c = 0; c < C; c++) {
            float ag = 0.0f, ab = 0.0f;
            g = c / Cg;
            for (n = 0; n < N; n++) {
                const float *xr = x + ((long)n * C + c) * L;
                const float *dyr = dy + ((long)n * C + c) * L;
                float m = mean[(long)n * G + g], r = rstd[(long)n * G + g];
                for (l = 0; l < L; l++) {
                    if (dgamma)
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

    if (dx) {
        for (n = 0; n < N; n++) {
            for (g = 0; g < G; g++) {
                float m = mean[(long)n * G + g], r = rstd[(long)n * G + g];
                float s1 = 0.0f, s2 = 0.0f, m1, m2;
                for (c = g * Cg; c < (g + 1) * Cg; c++) {
                    const float *xr = x + ((long)n * C + c) * L;
                    const float *dyr = dy + ((long)n * C + c) * L;
                    for (l = 0; l < L; l++) {
                        float dh = gamma ? dyr[l] * gamma[c] : dyr[l];
                        s1 = s1 + dh;
                        s2 = fmaf(dh, ggdm_norm_xhat(xr[l], m, r), s2);
                    }
                }
                m1 = s1 / (float)M;
                m2 = s2 / (float)M;
                for (c = g * Cg; c < (g + 1) * Cg; c++) {
                    const float *xr = x + ((long)n * C + c) * L;
                    const float *dyr = dy + ((long)n * C + c) * L;
                    float *dxr = dx + ((long)n * C + c) * L;
                    for (l = 0; l < L; l++) {
                        float dh = gamma ? dyr[l] * gamma[c] : dyr[l];
                        dxr[l] = dxr[l] + ggdm_norm_dx(dh, ggdm_norm_xhat(xr[l], m, r), m1, m2, r);
                    }
                }
            }
        }
    }
}

/* ------------------------------------------------------------------ ChannelNorm */

void ggdm_chnorm_forward(float *y, float *mean, float *rstd, const float *x, const float *g, int N, int C, int L)
{
    int n, c;
    long l;
    if (N <= 0 || C <= 0 || L <= 0)
        return;
    for (n = 0; n < N; n++) {
        const float *xn = x + (long)n * C * L;
        float *yn = y + (long)n * C * L;
        float *mn = mean + (long)n * L, *rn = rstd + (long)n * L;
        for (l = 0; l < L; l++) {
            float v;
            ggdm_mean_var_f32(xn + l, L, C, &mn[l], &v);
            rn[l] = ggdm_norm_rstd(v);
        }
        for (c = 0; c < C; c++) {
            const float *xr = xn + (long)c * L;
            float *yr = yn + (long)c * L;
            for (l = 0; l < L; l++) {
                float t = ggdm_norm_xhat(xr[l], mn[l], rn[l]);
                yr[l] = g ? t * g[c] : t;
            }
        }
    }
}

void ggdm_chnorm_backward(float *dx, float *dg, const float *dy, const float *x, const float *mean,
                          const float *rstd, const float *g, int N, int C, int L)
{
    int n, c;
    long l, l0;
    if (N <= 0 || C <= 0 || L <= 0)
        return;

    if (dg) {
        for (c = 0; c < C; c++) {
            float acc = 0.0f;
            for (n = 0; n < N; n++) {
                const float *xr = x + ((long)n * C + c) * L;
                const float *dyr = dy + ((long)n * C + c) * L;
                const float *mn = mean + (long)n * L, *rn = rstd + (long)n * L;
                for (l = 0; l < L; l++)
                    acc = fmaf(dyr[l], ggdm_norm_xhat(xr[l], mn[l], rn[l]), acc);
            }
            dg[c] = dg[c] + acc;
        }
    }

    if (dx) {
        /* a tile of positions l: its (s1, s2) chains over c run side by side */
        for (n = 0; n < N; n++) {
            const float *xn = x + (long)n * C * L;
            const float *dyn = dy + (long)n * C * L;
            float *dxn = dx + (long)n * C * L;
            const float *mn = mean + (long)n * L, *rn = rstd + (long)n * L;
            for (l0 = 0; l0 < L; l0 += TILE / 2) {
                float s1[TILE / 2], s2[TILE / 2];
                long l1 = L - l0 < TILE / 2 ? L : l0 + TILE / 2;
                for (l = l0; l < l1; l++)
                    s1[l - l0] = s2[l - l0] = 0.0f;
                for (c = 0; c < C; c++) {
                    const float *xr = xn + (long)c * L;
                    const float *dyr = dyn + (long)c * L;
                    for (l = l0; l < l1; l++) {
                        float dh = g ? dyr[l] * g[c] : dyr[l];
                        s1[l - l0] = s1[l - l0] + dh;
                        s2[l - l0] = fmaf(dh, ggdm_norm_xhat(xr[l], mn[l], rn[l]), s2[l - l0]);
                    }
                }
                for (l = l0; l < l1; l++) {
                    s1[l - l0] = s1[l - l0] / (float)C;
                    s2[l - l0] = s2[l - l0] / (float)C;
                }
                for (c = 0; c < C; c++) {
                    const float *xr = xn + (long)c * L;
                    const float *dyr = dyn + (long)c * L;
                    float *dxr = dxn + (long)c * L;
                    for (l = l0; l < l1; l++) {
                        float dh = g ? dyr[l] * g[c] : dyr[l];
                        float xh = ggdm_norm_xhat(xr[l], mn[l], rn[l]);
                        dxr[l] = dxr[l] + ggdm_norm_dx(dh, xh, s1[l - l0], s2[l - l0], rn[l]);
                    }
                }
            }
        }
    }
}

/* ------------------------------------------------------------------ activations */

void ggdm_silu_forward(float *y, const float *x, long n)
{
    long i;
    for (i = 0; i < n; i++)
        y[i] = ggdm_silu(x[i]);
}

void ggdm_silu_backward(float *dx, const float *dy, const float *x, long n)
{
    long i;
    if (!dx)
        return;
    for (i = 0; i < n; i++)
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
