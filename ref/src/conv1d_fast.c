/*
 * Conv1d with a scratch buffer: the same chains as ggdm_conv1d_forward/backward
 * (docs/nn.md, "Conv1d"), bit for bit, evaluated by register-blocked micro-kernels.
 *
 * Each micro-kernel computes a tile of independent outputs: VL = 16 consecutive output
 * channels (forward, dw) or input channels (dx) as SIMD lanes, times TP positions or TF
 * fan taps. Every lane advances its own chain one term at a time, in the documented
 * order (forward: i then k; dx: o then k; dw: n then l), with one fmaf per term; no chain
 * is split, so the bits do not depend on the tile shape or the vector width. The loops
 * over lanes have the constant trip count VL, which the compiler turns into vector
 * fused multiply-adds (two 8-lane vectors with AVX2, one with AVX-512; at -O0 scalar
 * fmaf calls: the same bits).
 *
 * Padding: with the lanes running over channels, whether a tap exists depends only on
 * the position and the tap, never on the lane, so a skipped tap is a skipped fmaf for
 * the whole vector (no product with 0, no masking). Tiles whose taps all exist take the
 * branch-free path.
 *
 * Packed layouts in the scratch buffer (they change where values are read from, never
 * which values enter a chain or in which order):
 *   forward: wp[((ob*Cin + i)*K + k)*VL + j] = w[ob*VL + j, i, k]   (panels of VL outputs)
 *   dx:      wt[((ib*Cout + o)*K + k)*VL + j] = w[o, ib*VL + j, k]  (panels of VL inputs)
 *   dw:      dyt[((ob*N + n)*Lout + l)*VL + j] = dy[n, ob*VL + j, l]
 * Channels beyond the last full panel (Cout or Cin not a multiple of VL) use the plain
 * loops of layers.c (ggdm_conv1d_forward/backward on the remaining rows).
 */
#include <math.h>
#include <stddef.h>

#include "ggdm/layers.h"

#define VL 16 /* lanes: channels per panel */
#define TP 4  /* positions per forward / dx tile */
#define TF 4  /* fan taps (i, k) per dw tile */

size_t ggdm_conv1d_scratch_floats(int N, int Cin, int Lin, int Cout, int K, int stride, int pad)
{
    int Lout = ggdm_conv1d_out_len(Lin, K, stride, pad);
    size_t wsz, dsz;
    if (N <= 0 || Cin <= 0 || Cout <= 0 || Lout <= 0)
        return 0;
    wsz = (size_t)Cout * (size_t)Cin * (size_t)K;
    dsz = (size_t)N * (size_t)Cout * (size_t)Lout;
    return wsz > dsz ? wsz : dsz;
}

/* ------------------------------------------------------------------ micro-kernel */

/*
 * Four accumulator rows of VL lanes (a tile: four positions or four fan taps, times VL
 * channels), each row held as two named halves of HL = 8 lanes: row t is a_t (lanes
 * 0..7) and b_t (lanes 8..15). Named arrays with loops of exactly HL iterations are what
 * the compiler keeps in vector registers across the whole chain (one 8-lane vector each
 * with AVX2; indexed rows, or one 16-iteration loop, stay in memory at -O2).
 *
 * FMA4(v, s0..s3):      row t advances its chain by fmaf(v[j], s_t, row_t[j]) in every lane.
 * FMA4_IF(v, s0..s3, e0..e3): the same where e_t is nonzero; a row whose e_t is zero is
 *   left as it is (a skipped term, not a product with 0: its s_t may be anything).
 */
#define HL 8
#define ROWS_DECL float a0[HL], a1[HL], a2[HL], a3[HL], b0[HL], b1[HL], b2[HL], b3[HL]
#define ROWS_ZERO()                                                                                                    \
    for (j = 0; j < HL; j++)                                                                                           \
    a0[j] = a1[j] = a2[j] = a3[j] = b0[j] = b1[j] = b2[j] = b3[j] = 0.0f
#define FMA4(v, s0, s1, s2, s3)                                                                                        \
    for (j = 0; j < HL; j++) {                                                                                         \
        a0[j] = fmaf((v)[j], (s0), a0[j]);                                                                             \
        a1[j] = fmaf((v)[j], (s1), a1[j]);                                                                             \
        a2[j] = fmaf((v)[j], (s2), a2[j]);                                                                             \
        a3[j] = fmaf((v)[j], (s3), a3[j]);                                                                             \
        b0[j] = fmaf((v)[HL + j], (s0), b0[j]);                                                                        \
        b1[j] = fmaf((v)[HL + j], (s1), b1[j]);                                                                        \
        b2[j] = fmaf((v)[HL + j], (s2), b2[j]);                                                                        \
        b3[j] = fmaf((v)[HL + j], (s3), b3[j]);                                                                        \
    }
#define FMA1(v, s, e, ra, rb)                                                                                          \
    if (e)                                                                                                             \
        for (j = 0; j < HL; j++) {                                                                                     \
            ra[j] = fmaf((v)[j], (s), ra[j]);                                                                          \
            rb[j] = fmaf((v)[HL + j], (s), rb[j]);                                                                     \
        }
#define FMA4_IF(v, s0, s1, s2, s3, e0, e1, e2, e3)                                                                     \
    do {                                                                                                               \
        FMA1(v, s0, e0, a0, b0)                                                                                        \
        FMA1(v, s1, e1, a1, b1)                                                                                        \
        FMA1(v, s2, e2, a2, b2)                                                                                        \
        FMA1(v, s3, e3, a3, b3)                                                                                        \
    } while (0)
#define ROWS_STORE(dst, stride, nt, add) rows_store(dst, stride, nt, add, a0, a1, a2, a3, b0, b1, b2, b3)

/* Stores row t's lane j to dst[j * stride + t] (t < nt), overwriting or adding. */
static void rows_store(float *dst, long stride, int nt, int add, const float *a0, const float *a1, const float *a2,
                       const float *a3, const float *b0, const float *b1, const float *b2, const float *b3)
{
    const float *r[2 * TP];
    int j, t;
    r[0] = a0;
    r[1] = a1;
    r[2] = a2;
    r[3] = a3;
    r[4] = b0;
    r[5] = b1;
    r[6] = b2;
    r[7] = b3;
    for (j = 0; j < VL; j++)
        for (t = 0; t < nt; t++) {
            float *d = dst + (long)j * stride + t;
            float v = r[(j / HL) * TP + t][j % HL];
            *d = add ? *d + v : v;
        }
}

/* ------------------------------------------------------------------ forward */

/* Outputs y[n, o0 .. o0+VL-1, l0 .. l0+np-1] (y points at [n, o0, 0]); full: np == TP and
 * every tap of every position lies inside x. */
static void fwd_tile(float *y, const float *xn, const float *wp, int Cin, int Lin, int Lout, int K, int stride,
                     int pad, long l0, int np, int full)
{
    ROWS_DECL;
    int i, k, j;
    ROWS_ZERO();
    if (full) {
        for (i = 0; i < Cin; i++) {
            const float *xr = xn + (long)i * Lin + l0 * stride - pad;
            const float *wi = wp + (long)i * K * VL;
            for (k = 0; k < K; k++) {
                const float *wv = wi + k * VL;
                const float x0 = xr[k], x1 = xr[stride + k], x2 = xr[2 * stride + k], x3 = xr[3 * stride + k];
                FMA4(wv, x0, x1, x2, x3);
            }
        }
    } else {
        for (i = 0; i < Cin; i++) {
            const float *xr = xn + (long)i * Lin;
            const float *wi = wp + (long)i * K * VL;
            for (k = 0; k < K; k++) {
                const float *wv = wi + k * VL;
                long p0 = l0 * stride + k - pad, p1 = p0 + stride, p2 = p1 + stride, p3 = p2 + stride;
                int e0 = np > 0 && p0 >= 0 && p0 < Lin, e1 = np > 1 && p1 >= 0 && p1 < Lin;
                int e2 = np > 2 && p2 >= 0 && p2 < Lin, e3 = np > 3 && p3 >= 0 && p3 < Lin;
                /* a skipped tap reads position 0 (any finite read would do: it is not used) */
                const float x0 = xr[e0 ? p0 : 0], x1 = xr[e1 ? p1 : 0], x2 = xr[e2 ? p2 : 0], x3 = xr[e3 ? p3 : 0];
                FMA4_IF(wv, x0, x1, x2, x3, e0, e1, e2, e3);
            }
        }
    }
    ROWS_STORE(y + l0, Lout, np, 0);
}

void ggdm_conv1d_forward_s(float *y, const float *x, const float *w, const float *b, int N, int Cin, int Lin,
                           int Cout, int K, int stride, int pad, float *scratch)
{
    int Lout = ggdm_conv1d_out_len(Lin, K, stride, pad);
    int nob = Cout / VL, ob, n, i, k, j;
    long l0, fan = (long)Cin * K;
    if (N <= 0 || Cin <= 0 || Cout <= 0 || Lout <= 0)
        return;
    if (!scratch || nob == 0) {
        ggdm_conv1d_forward(y, x, w, b, N, Cin, Lin, Cout, K, stride, pad);
        return;
    }
    /* pack the full panels */
    for (ob = 0; ob < nob; ob++)
        for (i = 0; i < Cin; i++)
            for (k = 0; k < K; k++)
                for (j = 0; j < VL; j++)
                    scratch[(((long)ob * Cin + i) * K + k) * VL + j] = w[((long)ob * VL + j) * fan + (long)i * K + k];
    for (n = 0; n < N; n++) {
        const float *xn = x + (long)n * Cin * Lin;
        for (ob = 0; ob < nob; ob++) {
            float *yo = y + ((long)n * Cout + (long)ob * VL) * Lout;
            const float *wp = scratch + (long)ob * fan * VL;
            for (l0 = 0; l0 < Lout; l0 += TP) {
                int np = Lout - l0 < TP ? (int)(Lout - l0) : TP;
                int full = np == TP && l0 * stride - pad >= 0 && (l0 + TP - 1) * stride + K - 1 - pad < Lin;
                fwd_tile(yo, xn, wp, Cin, Lin, Lout, K, stride, pad, l0, np, full);
            }
            if (b)
                for (j = 0; j < VL; j++) {
                    float bv = b[ob * VL + j], *yr = yo + (long)j * Lout;
                    for (l0 = 0; l0 < Lout; l0++)
                        yr[l0] = yr[l0] + bv;
                }
        }
    }
    /* remaining output channels: the plain loops, one (o) row at a time */
    if (nob * VL < Cout) {
        int o0 = nob * VL, rest = Cout - o0;
        for (n = 0; n < N; n++)
            ggdm_conv1d_forward(y + ((long)n * Cout + o0) * Lout, x + (long)n * Cin * Lin, w + (long)o0 * fan,
                                b ? b + o0 : NULL, 1, Cin, Lin, rest, K, stride, pad);
    }
}

/* ------------------------------------------------------------------ backward, dx */

/* dx[n, i0 .. i0+VL-1, p0 .. p0+np-1] += chains over o, then k (dxn points at [n, i0, 0]);
 * full: stride 1, np == TP and 0 <= p + pad - k < Lout for every position and tap. */
static void dx_tile(float *dxn, const float *dyn, const float *wt, int Cout, int Lin, int Lout, int K, int stride,
                    int pad, long p0, int np, int full)
{
    ROWS_DECL;
    int o, k, j;
    ROWS_ZERO();
    if (full) {
        for (o = 0; o < Cout; o++) {
            const float *dr = dyn + (long)o * Lout + p0 + pad;
            const float *wo = wt + (long)o * K * VL;
            for (k = 0; k < K; k++) {
                const float *wv = wo + k * VL;
                const float g0 = dr[-k], g1 = dr[1 - k], g2 = dr[2 - k], g3 = dr[3 - k];
                FMA4(wv, g0, g1, g2, g3);
            }
        }
    } else {
        for (o = 0; o < Cout; o++) {
            const float *dr = dyn + (long)o * Lout;
            const float *wo = wt + (long)o * K * VL;
            for (k = 0; k < K; k++) {
                const float *wv = wo + k * VL;
                /* q = l * stride: the output l that tap k of position p0 + t reads */
                long q0 = p0 + pad - k, q1 = q0 + 1, q2 = q0 + 2, q3 = q0 + 3;
                int e0, e1, e2, e3;
                if (stride == 1) {
                    e0 = np > 0 && q0 >= 0 && q0 < Lout;
                    e1 = np > 1 && q1 >= 0 && q1 < Lout;
                    e2 = np > 2 && q2 >= 0 && q2 < Lout;
                    e3 = np > 3 && q3 >= 0 && q3 < Lout;
                } else {
                    e0 = np > 0 && q0 >= 0 && q0 % stride == 0 && (q0 /= stride) < Lout;
                    e1 = np > 1 && q1 >= 0 && q1 % stride == 0 && (q1 /= stride) < Lout;
                    e2 = np > 2 && q2 >= 0 && q2 % stride == 0 && (q2 /= stride) < Lout;
                    e3 = np > 3 && q3 >= 0 && q3 % stride == 0 && (q3 /= stride) < Lout;
                }
                {
                    const float g0 = dr[e0 ? q0 : 0], g1 = dr[e1 ? q1 : 0];
                    const float g2 = dr[e2 ? q2 : 0], g3 = dr[e3 ? q3 : 0];
                    FMA4_IF(wv, g0, g1, g2, g3, e0, e1, e2, e3);
                }
            }
        }
    }
    ROWS_STORE(dxn + p0, Lin, np, 1);
}

static void conv_dx(float *dx, const float *dy, const float *w, int N, int Cin, int Lin, int Cout, int K, int stride,
                    int pad, int Lout, float *scratch)
{
    int nib = Cin / VL, ib, n, o, k, j;
    long p0, fan = (long)Cin * K;
    for (ib = 0; ib < nib; ib++)
        for (o = 0; o < Cout; o++)
            for (k = 0; k < K; k++)
                for (j = 0; j < VL; j++)
                    scratch[(((long)ib * Cout + o) * K + k) * VL + j] = w[(long)o * fan + ((long)ib * VL + j) * K + k];
    for (n = 0; n < N; n++) {
        const float *dyn = dy + (long)n * Cout * Lout;
        for (ib = 0; ib < nib; ib++) {
            float *dxn = dx + ((long)n * Cin + (long)ib * VL) * Lin;
            const float *wt = scratch + (long)ib * Cout * K * VL;
            for (p0 = 0; p0 < Lin; p0 += TP) {
                int np = Lin - p0 < TP ? (int)(Lin - p0) : TP;
                int full = stride == 1 && np == TP && p0 + pad - (K - 1) >= 0 && p0 + TP - 1 + pad < Lout;
                dx_tile(dxn, dyn, wt, Cout, Lin, Lout, K, stride, pad, p0, np, full);
            }
        }
    }
}

/* ------------------------------------------------------------------ backward, dw */

/* dw[o0 .. o0+VL-1, f0 .. f0+nf-1] (f = i*K + k; dw points at [o0, 0]) += chains over n,
 * then l, from the transposed panel dyt [N, Lout, VL]. */
static void dw_tile(float *dw, long fan, const float *x, const float *dyt, int N, int Cin, int Lin, int Lout, int K,
                    int stride, int pad, long f0, int nf)
{
    ROWS_DECL;
    const float *xr[TF];
    long lo[TF], hi[TF], lo_all = 0, hi_all = Lout, l;
    int n, t, j;
    ROWS_ZERO();
    for (t = 0; t < TF; t++) {
        long f = f0 + (t < nf ? t : 0), a, e;
        int k = (int)(f % K);
        a = (long)k - pad;             /* p = l*stride + a */
        xr[t] = x + (f / K) * Lin + a; /* x[n=0, i, p] = xr[t][l*stride]; only read where p is valid */
        lo[t] = a >= 0 ? 0 : (-a + stride - 1) / stride;
        e = Lin - 1 - a;
        hi[t] = e < 0 ? 0 : e / stride + 1;
        if (hi[t] > Lout)
            hi[t] = Lout;
        if (t >= nf)
            lo[t] = hi[t] = 0; /* a row beyond the tile: no terms */
        if (lo[t] > lo_all)
            lo_all = lo[t];
        if (hi[t] < hi_all)
            hi_all = hi[t];
    }
    if (hi_all < lo_all)
        hi_all = lo_all; /* no position where every row has a term */
    for (n = 0; n < N; n++) {
        const long xo = (long)n * Cin * Lin;
        const float *dn = dyt + (long)n * Lout * VL;
        for (l = 0; l < Lout; l++) {
            const float *dv = dn + l * VL;
            const long q = xo + l * stride;
            if (l >= lo_all && l < hi_all) {
                const float x0 = xr[0][q], x1 = xr[1][q], x2 = xr[2][q], x3 = xr[3][q];
                FMA4(dv, x0, x1, x2, x3);
            } else {
                int e0 = l >= lo[0] && l < hi[0], e1 = l >= lo[1] && l < hi[1];
                int e2 = l >= lo[2] && l < hi[2], e3 = l >= lo[3] && l < hi[3];
                const float x0 = e0 ? xr[0][q] : 0.0f, x1 = e1 ? xr[1][q] : 0.0f;
                const float x2 = e2 ? xr[2][q] : 0.0f, x3 = e3 ? xr[3][q] : 0.0f;
                FMA4_IF(dv, x0, x1, x2, x3, e0, e1, e2, e3);
            }
        }
    }
    ROWS_STORE(dw + f0, fan, nf, 1);
}

static void conv_dw(float *dw, const float *dy, const float *x, int N, int Cin, int Lin, int Cout, int K, int stride,
                    int pad, int Lout, float *scratch)
{
    int nob = Cout / VL, ob, n, j;
    long l, f0, fan = (long)Cin * K;
    for (ob = 0; ob < nob; ob++)
        for (n = 0; n < N; n++)
            for (j = 0; j < VL; j++) {
                const float *dr = dy + ((long)n * Cout + (long)ob * VL + j) * Lout;
                float *tr = scratch + ((long)ob * N + n) * Lout * VL + j;
                for (l = 0; l < Lout; l++)
                    tr[l * VL] = dr[l];
            }
    for (ob = 0; ob < nob; ob++) {
        const float *dyt = scratch + (long)ob * N * Lout * VL;
        for (f0 = 0; f0 < fan; f0 += TF) {
            int nf = fan - f0 < TF ? (int)(fan - f0) : TF;
            dw_tile(dw + (long)ob * VL * fan, fan, x, dyt, N, Cin, Lin, Lout, K, stride, pad, f0, nf);
        }
    }
}

/* ------------------------------------------------------------------ backward */

void ggdm_conv1d_backward_s(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N,
                            int Cin, int Lin, int Cout, int K, int stride, int pad, float *scratch)
{
    int Lout = ggdm_conv1d_out_len(Lin, K, stride, pad);
    long fan = (long)Cin * K;
    if (N <= 0 || Cin <= 0 || Cout <= 0 || Lout <= 0)
        return;
    if (!scratch) {
        ggdm_conv1d_backward(dx, dw, db, dy, x, w, N, Cin, Lin, Cout, K, stride, pad);
        return;
    }
    if (db)
        ggdm_conv1d_backward(NULL, NULL, db, dy, NULL, NULL, N, Cin, Lin, Cout, K, stride, pad);
    if (dw) {
        int o0 = (Cout / VL) * VL;
        if (o0 > 0)
            conv_dw(dw, dy, x, N, Cin, Lin, Cout, K, stride, pad, Lout, scratch);
        if (o0 < Cout) {
            /* remaining output channels: their chains read dy rows o0.., one (o) row at a time */
            int o;
            for (o = o0; o < Cout; o++) {
                int n, i, k;
                long l;
                for (i = 0; i < Cin; i++)
                    for (k = 0; k < K; k++) {
                        float acc = 0.0f;
                        for (n = 0; n < N; n++) {
                            const float *dyr = dy + ((long)n * Cout + o) * Lout;
                            const float *xr = x + ((long)n * Cin + i) * Lin;
                            for (l = 0; l < Lout; l++) {
                                long p = l * stride + k - pad;
                                if (p >= 0 && p < Lin)
                                    acc = fmaf(dyr[l], xr[p], acc);
                            }
                        }
                        dw[(long)o * fan + (long)i * K + k] = dw[(long)o * fan + (long)i * K + k] + acc;
                    }
            }
        }
    }
    if (dx) {
        int i0 = (Cin / VL) * VL, n;
        if (i0 > 0)
            conv_dx(dx, dy, w, N, Cin, Lin, Cout, K, stride, pad, Lout, scratch);
        if (i0 < Cin) {
            /* remaining input channels: the plain loops over (n, i) rows */
            int i, o, k;
            long p, l;
            for (n = 0; n < N; n++)
                for (i = i0; i < Cin; i++) {
                    float *dxr = dx + ((long)n * Cin + i) * Lin;
                    for (p = 0; p < Lin; p++) {
                        float acc = 0.0f;
                        for (o = 0; o < Cout; o++) {
                            const float *dyr = dy + ((long)n * Cout + o) * Lout;
                            const float *wr = w + ((long)o * Cin + i) * K;
                            for (k = 0; k < K; k++) {
                                long q = p + pad - k;
                                if (q >= 0 && q % stride == 0 && (l = q / stride) < Lout)
                                    acc = fmaf(wr[k], dyr[l], acc);
                            }
                        }
                        dxr[p] = dxr[p] + acc;
                    }
                }
        }
    }
}
