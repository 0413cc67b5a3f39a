/*
 * tile_f32.h - internal to ref/src: the register-blocked tile of independent fmaf chains
 * shared by the Linear layers (layers.c) and the attention cores (attention.c).
 */
#ifndef GGDM_TILE_F32_H
#define GGDM_TILE_F32_H

#include <math.h>

/* x86-64 with AVX2 + FMA (the native build): the register tiles of the Linear chains use
 * 8-lane vectors explicitly (one _mm256_fmadd_ps lane = one fmaf, the same bits); gcc keeps
 * the plain loops' accumulators in memory. Any other target: the plain loops. */
#if defined(__AVX2__) && defined(__FMA__) && !defined(__CUDACC__)
#define GGDM_TILE_AVX2 1
#include <immintrin.h>
#else
#define GGDM_TILE_AVX2 0
#endif

/* ------------------------------------------------------------------ register-blocked chains */

/*
 * A tile of MR x VL independent chains held in registers (the pattern of conv1d_fast.c):
 * row r (< MR), lane j (< VL) is the chain acc = fmaf(v[t*vs + j], s_r[t*sts], acc) over
 * t = 0..T-1 with s_r = s + r*srs, one term at a time, in order. Every lane of every row is
 * exactly one output's documented chain (fmaf's product is exact, so which factor comes first
 * does not matter), so the bits are those of the scalar loops. A row is two named halves of
 * HL lanes (a_r: lanes 0..7, b_r: lanes 8..15): loops of HL iterations over named arrays are
 * what the compiler keeps in vector registers (two 8-lane vectors per row with AVX2).
 */
#define VL 16
#define HL 8
#define MR 4

/* How a finished chain acc reaches its output c: */
enum {
    EP_STORE, /* c = acc                         */
    EP_BIAS,  /* c = acc + e[j]                   */
    EP_ADD,   /* c = c + acc (gradient buffers)   */
    EP_SCALE  /* c = acc * e[0]                   */
};

static inline void tile_out(float *c, long ldc, int nr, int ep, const float *e, const float *acc)
{
    int r, j;
    for (r = 0; r < nr; r++) {
        float *cr = c + r * ldc;
        const float *ar = acc + r * VL;
        if (ep == EP_STORE)
            for (j = 0; j < VL; j++)
                cr[j] = ar[j];
        else if (ep == EP_ADD)
            for (j = 0; j < VL; j++)
                cr[j] = cr[j] + ar[j];
        else if (!e) /* EP_BIAS and EP_SCALE always come with e (this only tells the compiler) */
            return;
        else if (ep == EP_BIAS)
            for (j = 0; j < VL; j++)
                cr[j] = ar[j] + e[j];
        else
            for (j = 0; j < VL; j++)
                cr[j] = ar[j] * e[0];
    }
}

/* The tile's chains for c[r*ldc + j], r < nr <= MR (rows past nr repeat row nr-1 and are
 * dropped). init: every chain continues from the partial value stored in c (by an EP_STORE
 * tile over the earlier terms) instead of starting from +0. */
static inline void tile4(float *c, long ldc, int nr, const float *v, long vs, const float *s, long srs, long sts, long T,
                  int init, int ep, const float *e)
{
    float a0[HL], a1[HL], a2[HL], a3[HL], b0[HL], b1[HL], b2[HL], b3[HL], acc[MR * VL];
    const float *s0 = s, *s1 = nr > 1 ? s + srs : s0;
    const float *s2 = nr > 2 ? s + 2 * srs : s1, *s3 = nr > 3 ? s + 3 * srs : s2;
    long t;
    int j, r;
    for (j = 0; j < MR * VL; j++)
        acc[j] = 0.0f;
    if (init)
        for (r = 0; r < nr; r++)
            for (j = 0; j < VL; j++)
                acc[r * VL + j] = c[r * ldc + j];
#if GGDM_TILE_AVX2
    {
        __m256 A0 = _mm256_loadu_ps(acc), B0 = _mm256_loadu_ps(acc + HL);
        __m256 A1 = _mm256_loadu_ps(acc + VL), B1 = _mm256_loadu_ps(acc + VL + HL);
        __m256 A2 = _mm256_loadu_ps(acc + 2 * VL), B2 = _mm256_loadu_ps(acc + 2 * VL + HL);
        __m256 A3 = _mm256_loadu_ps(acc + 3 * VL), B3 = _mm256_loadu_ps(acc + 3 * VL + HL);
        (void)a0, (void)a1, (void)a2, (void)a3, (void)b0, (void)b1, (void)b2, (void)b3;
        for (t = 0; t < T; t++) {
            const float *vt = v + t * vs;
            const __m256 va = _mm256_loadu_ps(vt), vb = _mm256_loadu_ps(vt + HL);
            const __m256 x0 = _mm256_broadcast_ss(s0 + t * sts), x1 = _mm256_broadcast_ss(s1 + t * sts);
            const __m256 x2 = _mm256_broadcast_ss(s2 + t * sts), x3 = _mm256_broadcast_ss(s3 + t * sts);
            A0 = _mm256_fmadd_ps(va, x0, A0);
            A1 = _mm256_fmadd_ps(va, x1, A1);
            A2 = _mm256_fmadd_ps(va, x2, A2);
            A3 = _mm256_fmadd_ps(va, x3, A3);
            B0 = _mm256_fmadd_ps(vb, x0, B0);
            B1 = _mm256_fmadd_ps(vb, x1, B1);
            B2 = _mm256_fmadd_ps(vb, x2, B2);
            B3 = _mm256_fmadd_ps(vb, x3, B3);
        }
        _mm256_storeu_ps(acc, A0);
        _mm256_storeu_ps(acc + HL, B0);
        _mm256_storeu_ps(acc + VL, A1);
        _mm256_storeu_ps(acc + VL + HL, B1);
        _mm256_storeu_ps(acc + 2 * VL, A2);
        _mm256_storeu_ps(acc + 2 * VL + HL, B2);
        _mm256_storeu_ps(acc + 3 * VL, A3);
        _mm256_storeu_ps(acc + 3 * VL + HL, B3);
    }
#else
    for (j = 0; j < HL; j++) {
        a0[j] = acc[j];
        b0[j] = acc[HL + j];
        a1[j] = acc[VL + j];
        b1[j] = acc[VL + HL + j];
        a2[j] = acc[2 * VL + j];
        b2[j] = acc[2 * VL + HL + j];
        a3[j] = acc[3 * VL + j];
        b3[j] = acc[3 * VL + HL + j];
    }
    for (t = 0; t < T; t++) {
        const float *vt = v + t * vs;
        const float x0 = s0[t * sts], x1 = s1[t * sts], x2 = s2[t * sts], x3 = s3[t * sts];
        for (j = 0; j < HL; j++) {
            a0[j] = fmaf(vt[j], x0, a0[j]);
            a1[j] = fmaf(vt[j], x1, a1[j]);
            a2[j] = fmaf(vt[j], x2, a2[j]);
            a3[j] = fmaf(vt[j], x3, a3[j]);
            b0[j] = fmaf(vt[HL + j], x0, b0[j]);
            b1[j] = fmaf(vt[HL + j], x1, b1[j]);
            b2[j] = fmaf(vt[HL + j], x2, b2[j]);
            b3[j] = fmaf(vt[HL + j], x3, b3[j]);
        }
    }
    for (j = 0; j < HL; j++) {
        acc[j] = a0[j];
        acc[HL + j] = b0[j];
        acc[VL + j] = a1[j];
        acc[VL + HL + j] = b1[j];
        acc[2 * VL + j] = a2[j];
        acc[2 * VL + HL + j] = b2[j];
        acc[3 * VL + j] = a3[j];
        acc[3 * VL + HL + j] = b3[j];
    }
#endif
    tile_out(c, ldc, nr, ep, e, acc);
}

/* The same chains for nl <= VL lanes, lane j at v[t*vs + j*vj], any number of rows nr; the
 * lanes of a row run side by side. */
static inline void tile_gen(float *c, long ldc, int nr, int nl, const float *v, long vs, long vj, const float *s, long srs,
                     long sts, long T, int ep, const float *e)
{
    float acc[VL];
    long t;
    int r, j;
    for (r = 0; r < nr; r++) {
        const float *sr = s + r * srs;
        float *cr = c + r * ldc;
        for (j = 0; j < nl; j++)
            acc[j] = 0.0f;
        for (t = 0; t < T; t++) {
            const float x = sr[t * sts];
            for (j = 0; j < nl; j++)
                acc[j] = fmaf(v[t * vs + j * vj], x, acc[j]);
        }
        for (j = 0; j < nl; j++)
            cr[j] = ep == EP_STORE ? acc[j] : ep == EP_ADD ? cr[j] + acc[j] : !e ? cr[j] : ep == EP_BIAS ? acc[j] + e[j] : acc[j] * e[0];
    }
}

/* c[r*ldc + j] (r < R, j < J) <- chain over t < T of fmaf(v[t*vs + j], s[r*srs + t*sts], acc):
 * the lanes j are contiguous in v. */
static inline void chains_nn(float *c, long ldc, int R, int J, const float *v, long vs, const float *s, long srs, long sts,
                      long T, int ep, const float *e)
{
    int r0, j0;
    for (j0 = 0; j0 + VL <= J; j0 += VL)
        for (r0 = 0; r0 < R; r0 += MR)
            tile4(c + r0 * ldc + j0, ldc, R - r0 < MR ? R - r0 : MR, v + j0, vs, s + r0 * srs, srs, sts, T, 0, ep,
                  e && ep == EP_BIAS ? e + j0 : e);
    if (j0 < J)
        tile_gen(c + j0, ldc, R, J - j0, v + j0, vs, 1, s, srs, sts, T, ep, e && ep == EP_BIAS ? e + j0 : e);
}

/* Terms per stack panel of chains_nt (VL * TC floats, 16 KiB). */
#define TC 256

/*
 * c[r*ldc + j] (r < R, j < J) <- chain over t < T of fmaf(B[j*ldb + t], A[r*lda + t], acc), both
 * operands contiguous in t (ep EP_STORE, EP_BIAS or EP_SCALE). VL rows of B at a time are packed
 * lane-major on the stack, TC terms of their chains at a time; a chain longer than TC is
 * stored after each piece and continued from that value (exact).
 */
static inline void chains_nt(float *c, long ldc, int R, int J, const float *B, long ldb, const float *A, long lda, long T,
                      int ep, const float *e)
{
    float P[TC * VL];
    int r0, j0, j;
    long t0, t;
    for (j0 = 0; j0 + VL <= J; j0 += VL) {
        for (t0 = 0; t0 < T; t0 += TC) {
            long nt = T - t0 < TC ? T - t0 : TC;
            for (t = 0; t < nt; t++)
                for (j = 0; j < VL; j++)
                    P[t * VL + j] = B[(j0 + j) * ldb + t0 + t];
            for (r0 = 0; r0 < R; r0 += MR)
                tile4(c + r0 * ldc + j0, ldc, R - r0 < MR ? R - r0 : MR, P, VL, A + r0 * lda + t0, lda, 1, nt, t0 > 0,
                      t0 + nt == T ? ep : EP_STORE, e && ep == EP_BIAS ? e + j0 : e);
        }
    }
    if (j0 < J)
        tile_gen(c + j0, ldc, R, J - j0, B + j0 * ldb, 1, ldb, A, lda, 1, T, ep, e && ep == EP_BIAS ? e + j0 : e);
}

#endif /* GGDM_TILE_F32_H */
