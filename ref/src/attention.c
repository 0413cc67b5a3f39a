/*
 * Attention cores (LinearAttention, Attention) and the sinusoidal time embedding,
 * forward and backward.  The exact math is in docs/nn.md; this file follows it.
 *
 * Loops often run several independent chains side by side (an inner loop over outputs
 * whose chains advance one term at a time): each output's chain still takes its terms
 * in the documented order from +0, so the bits do not depend on the loop order.
 */
#include "ggdm/attention.h"

#include <string.h>

#include "ggdm/exec.h"
#include "ggdm/op.h"

/* Offsets (in floats) inside qkv [N, 3*H*Dh, L] and [N, H*Dh, L] tensors. */
static size_t qkv_off(int n, int part, int H, int Dh, int L, int h)
{
    size_t HD = (size_t)H * (size_t)Dh;
    return (((size_t)n * 3u + (size_t)part) * HD + (size_t)h * (size_t)Dh) * (size_t)L;
}

static size_t act_off(int n, int H, int Dh, int L, int h)
{
    return ((size_t)n * (size_t)H + (size_t)h) * (size_t)Dh * (size_t)L;
}

static int bad_sizes(int N, int H, int Dh, int L)
{
    return N < 1 || H < 1 || Dh < 1 || L < 1;
}

#include "tile_f32.h"



/* ------------------------------------------------------------------ softmax, many at once */

/* SB softmaxes side by side: positions l (lanes) of a [D, L] block, or rows d. */
#define SB 8

/*
 * Softmax over d of every column l of x [D, L] (ggdm_softmax_f32(y + l, x + l, D, L)), SB
 * columns as lanes; with sc: y = (y) * scale after the division (one more rounding, as the
 * LinearAttention's qs). y != x.
 */
static void softmax_cols(float *y, const float *x, long D, long L, int sc, float scale)
{
    long l0, d, l;
    int j;
    for (l0 = 0; l0 + SB <= L; l0 += SB) {
        float m[SB], s[SB], e[SB];
        for (j = 0; j < SB; j++)
            m[j] = x[l0 + j];
        for (d = 1; d < D; d++) {
            const float *xr = x + d * L + l0;
            for (j = 0; j < SB; j++) {
                float v = xr[j];
                m[j] = v > m[j] ? v : m[j];
            }
        }
        for (j = 0; j < SB; j++)
            s[j] = 0.0f;
        for (d = 0; d < D; d++) {
            const float *xr = x + d * L + l0;
            float *yr = y + d * L + l0;
            for (j = 0; j < SB; j++) {
                e[j] = ggdm_expf(xr[j] - m[j]);
                s[j] = s[j] + e[j];
            }
            for (j = 0; j < SB; j++)
                yr[j] = e[j];
        }
        for (d = 0; d < D; d++) {
            float *yr = y + d * L + l0;
            for (j = 0; j < SB; j++)
                yr[j] = yr[j] / s[j];
            if (sc)
                for (j = 0; j < SB; j++)
                    yr[j] = yr[j] * scale;
        }
    }
    for (l = l0; l < L; l++) {
        ggdm_softmax_f32(y + l, x + l, D, L);
        if (sc)
            for (d = 0; d < D; d++)
                y[d * L + l] = y[d * L + l] * scale;
    }
}

/* Softmax over l of every row d of x [D, L] (ggdm_softmax_f32(y + d*L, x + d*L, L, 1)): the
 * max and sum chains of SB rows side by side; y != x. */
static void softmax_rows(float *y, const float *x, long D, long L)
{
    long d0, l, l0;
    int k, j;
    for (d0 = 0; d0 + SB <= D; d0 += SB) {
        const float *xb = x + d0 * L;
        float *yb = y + d0 * L;
        float m[SB], s[SB], t[SB];
        for (k = 0; k < SB; k++)
            m[k] = xb[k * L];
        for (l = 1; l < L; l++)
            for (k = 0; k < SB; k++) {
                float v = xb[k * L + l];
                m[k] = v > m[k] ? v : m[k];
            }
        for (k = 0; k < SB; k++) {
            const float *xr = xb + k * L;
            float *yr = yb + k * L;
            const float mk = m[k];
            for (l0 = 0; l0 + SB <= L; l0 += SB) {
                for (j = 0; j < SB; j++)
                    t[j] = ggdm_expf(xr[l0 + j] - mk);
                for (j = 0; j < SB; j++)
                    yr[l0 + j] = t[j];
            }
            for (l = l0; l < L; l++)
                yr[l] = ggdm_expf(xr[l] - mk);
        }
        for (k = 0; k < SB; k++)
            s[k] = 0.0f;
        for (l = 0; l < L; l++)
            for (k = 0; k < SB; k++)
                s[k] = s[k] + yb[k * L + l];
        for (k = 0; k < SB; k++) {
            float *yr = yb + k * L;
            const float sk = s[k];
            for (l0 = 0; l0 + SB <= L; l0 += SB)
                for (j = 0; j < SB; j++)
                    yr[l0 + j] = yr[l0 + j] / sk;
            for (l = l0; l < L; l++)
                yr[l] = yr[l] / sk;
        }
    }
    for (; d0 < D; d0++)
        ggdm_softmax_f32(y + d0 * L, x + d0 * L, L, 1);
}

/* dx += the softmax backward over d of every column l (y = P, dy = G, both [D, L]):
 * t = chain over d of fmaf(P, G, acc); dx = dx + P * (G - t). SB columns as lanes. */
static void softmax_bwd_cols_add(float *dx, const float *P, const float *G, long D, long L)
{
    long l0, d, l;
    int j;
    for (l0 = 0; l0 + SB <= L; l0 += SB) {
        float t[SB], u[SB];
        for (j = 0; j < SB; j++)
            t[j] = 0.0f;
        for (d = 0; d < D; d++) {
            const float *pr = P + d * L + l0, *gr = G + d * L + l0;
            for (j = 0; j < SB; j++)
                t[j] = fmaf(pr[j], gr[j], t[j]);
        }
        for (d = 0; d < D; d++) {
            const float *pr = P + d * L + l0, *gr = G + d * L + l0;
            float *dr = dx + d * L + l0;
            for (j = 0; j < SB; j++)
                u[j] = pr[j] * (gr[j] - t[j]);
            for (j = 0; j < SB; j++)
                dr[j] = dr[j] + u[j];
        }
    }
    for (l = l0; l < L; l++) {
        float t = ggdm_dot_f32(P + l, L, G + l, L, D);
        for (d = 0; d < D; d++)
            dx[d * L + l] = dx[d * L + l] + P[d * L + l] * (G[d * L + l] - t);
    }
}

/* dx += the softmax backward over l of every row d (y = Y, dy = G, both [D, L]); the t chains
 * of SB rows side by side. */
static void softmax_bwd_rows_add(float *dx, const float *Y, const float *G, long D, long L)
{
    long d0, l, l0;
    int k, j;
    for (d0 = 0; d0 < D; d0 += SB) {
        int nk = D - d0 < SB ? (int)(D - d0) : SB;
        const float *yb = Y + d0 * L, *gb = G + d0 * L;
        float t[SB], u[SB];
        for (k = 0; k < SB; k++)
            t[k] = 0.0f;
        if (nk == SB)
            for (l = 0; l < L; l++)
                for (k = 0; k < SB; k++)
                    t[k] = fmaf(yb[k * L + l], gb[k * L + l], t[k]);
        else
            for (k = 0; k < nk; k++)
                t[k] = ggdm_dot_f32(yb + k * L, 1, gb + k * L, 1, L);
        for (k = 0; k < nk; k++) {
            const float *yr = yb + k * L, *gr = gb + k * L;
            float *dr = dx + (d0 + k) * L;
            const float tk = t[k];
            for (l0 = 0; l0 + SB <= L; l0 += SB) {
                for (j = 0; j < SB; j++)
                    u[j] = yr[l0 + j] * (gr[l0 + j] - tk);
                for (j = 0; j < SB; j++)
                    dr[l0 + j] = dr[l0 + j] + u[j];
            }
            for (l = l0; l < L; l++)
                dr[l] = dr[l] + yr[l] * (gr[l] - tk);
        }
    }
}

/* ------------------------------------------------------------------ LinearAttention */

void ggdm_linattn_forward(float *out, float *cache_q, float *cache_k, float *cache_ctx, const float *qkv,
                          int N, int H, int Dh, int L)
{
    const float scale = ggdm_attn_scale(Dh);
    int n, h;
    if (bad_sizes(N, H, Dh, L))
        return;
    for (n = 0; n < N; n++)
        for (h = 0; h < H; h++) {
            const float *q = qkv + qkv_off(n, 0, H, Dh, L, h);
            const float *k = qkv + qkv_off(n, 1, H, Dh, L, h);
            const float *v = qkv + qkv_off(n, 2, H, Dh, L, h);
            float *qs = cache_q + act_off(n, H, Dh, L, h);
            float *ks = cache_k + act_off(n, H, Dh, L, h);
            float *ctx = cache_ctx + act_off(n, H, Dh, Dh, h);
            float *o = out + act_off(n, H, Dh, L, h);

            /* qs: softmax over d at each position, then times scale (positions as lanes) */
            softmax_cols(qs, q, (long)Dh, (long)L, 1, scale);
            /* ks: softmax over positions of each row */
            softmax_rows(ks, k, (long)Dh, (long)L);
            /* ctx[d, e] = chain over l of fmaf(ks[d,l], v[e,l], acc): lanes e, rows d */
            chains_nt(ctx, Dh, Dh, Dh, v, L, ks, L, L, EP_STORE, NULL);
            /* out[e, l] = chain over d of fmaf(ctx[d,e], qs[d,l], acc): lanes l, rows e */
            chains_nn(o, L, Dh, L, qs, L, ctx, 1, Dh, Dh, EP_STORE, NULL);
        }
}

size_t ggdm_linattn_backward_scratch_floats(int H, int Dh, int L)
{
    (void)H;
    if (Dh < 1 || L < 1)
        return 0;
    return 3u * (size_t)Dh * (size_t)L + (size_t)Dh * (size_t)Dh;
}

void ggdm_linattn_backward(float *dqkv, const float *dout, const float *qkv, const float *cache_q,
                           const float *cache_k, const float *cache_ctx, int N, int H, int Dh, int L, float *scratch)
{
    const float scale = ggdm_attn_scale(Dh);
    const size_t sL = (size_t)L, sD = (size_t)Dh;
    float *P = scratch;            /* [Dh, L]  softmax of q over d (no scale)        */
    float *G = P + sD * sL;        /* [Dh, L]  dp = d/d(softmax of q), then dv         */
    float *K = G + sD * sL;        /* [Dh, L]  dks = d/d(ks), then dk                  */
    float *DC = K + sD * sL;       /* [Dh, Dh] dctx                                    */
    int n, h;
    if (bad_sizes(N, H, Dh, L))
        return;
    for (n = 0; n < N; n++)
        for (h = 0; h < H; h++) {
            const float *q = qkv + qkv_off(n, 0, H, Dh, L, h);
            const float *v = qkv + qkv_off(n, 2, H, Dh, L, h);
            float *dq = dqkv + qkv_off(n, 0, H, Dh, L, h);
            float *dk = dqkv + qkv_off(n, 1, H, Dh, L, h);
            float *dv = dqkv + qkv_off(n, 2, H, Dh, L, h);
            const float *qs = cache_q + act_off(n, H, Dh, L, h);
            const float *ks = cache_k + act_off(n, H, Dh, L, h);
            const float *ctx = cache_ctx + act_off(n, H, Dh, Dh, h);
            const float *go = dout + act_off(n, H, Dh, L, h);

            /* P: the forward's softmax of q over d, recomputed (same bits, before the scale) */
            softmax_cols(P, q, (long)Dh, (long)L, 0, 0.0f);
            /* dctx[d, e] = chain over l of fmaf(qs[d,l], dout[e,l], acc) */
            chains_nt(DC, Dh, Dh, Dh, go, L, qs, L, L, EP_STORE, NULL);
            /* dqs[d, l] = chain over e of fmaf(ctx[d,e], dout[e,l], acc); dp = dqs * scale */
            chains_nn(G, L, Dh, L, go, L, ctx, Dh, 1, Dh, EP_SCALE, &scale);
            /* dq += softmax backward over d at each position (y = P, dy = dp) */
            softmax_bwd_cols_add(dq, P, G, (long)Dh, (long)L);
            /* dks[d, l] = chain over e of fmaf(dctx[d,e], v[e,l], acc) */
            chains_nn(K, L, Dh, L, v, L, DC, Dh, 1, Dh, EP_STORE, NULL);
            /* dk += softmax backward over l of each row (y = ks, dy = dks) */
            softmax_bwd_rows_add(dk, ks, K, (long)Dh, (long)L);
            /* dv[e, l] += chain over d of fmaf(dctx[d,e], ks[d,l], acc) */
            chains_nn(dv, L, Dh, L, ks, L, DC, 1, Dh, Dh, EP_ADD, NULL);
        }
}

/* ------------------------------------------------------------------ Attention */

void ggdm_attn_forward_qkv(float *out, float *cache_attn, const float *q_, const float *k_, const float *v_,
                           long sq, long sk, long sv, int N, int H, int Dh, int Lq, int Lk)
{
    const float scale = ggdm_attn_scale(Dh);
    const size_t sLq = (size_t)Lq, sLk = (size_t)Lk, sD = (size_t)Dh;
    int n, h;
    if (bad_sizes(N, H, Dh, Lq) || Lk < 1)
        return;
    for (n = 0; n < N; n++)
        for (h = 0; h < H; h++) {
            const float *q = q_ + (size_t)n * (size_t)sq + (size_t)h * sD * sLq;
            const float *k = k_ + (size_t)n * (size_t)sk + (size_t)h * sD * sLk;
            const float *v = v_ + (size_t)n * (size_t)sv + (size_t)h * sD * sLk;
            float *A = cache_attn + ((size_t)n * (size_t)H + (size_t)h) * sLq * sLk;
            float *o = out + act_off(n, H, Dh, Lq, h);
            size_t d, i, j;

            /* sim[i, j] = chain over d of fmaf(q[d,i] * scale, k[d,j], acc): Lk chains side by side */
            for (i = 0; i < sLq; i++) {
                float *Ai = A + i * sLk;
                for (j = 0; j < sLk; j++)
                    Ai[j] = 0.0f;
                for (d = 0; d < sD; d++) {
                    const float qs = q[d * sLq + i] * scale;
                    const float *kd = k + d * sLk;
                    for (j = 0; j < sLk; j++)
                        Ai[j] = fmaf(qs, kd[j], Ai[j]);
                }
                ggdm_softmax_f32(Ai, Ai, (long)Lk, 1);
            }
            /* out[d, i] = chain over j of fmaf(attn[i,j], v[d,j], acc) */
            for (d = 0; d < sD; d++)
                for (i = 0; i < sLq; i++)
                    o[d * sLq + i] = ggdm_dot_f32(A + i * sLk, 1, v + d * sLk, 1, (long)Lk);
        }
}

void ggdm_attn_forward(float *out, float *cache_attn, const float *qkv, int N, int H, int Dh, int L)
{
    size_t HDL = (size_t)H * (size_t)Dh * (size_t)L;
    long s = (long)(3u * HDL);
    if (bad_sizes(N, H, Dh, L))
        return;
    ggdm_attn_forward_qkv(out, cache_attn, qkv, qkv + HDL, qkv + 2u * HDL, s, s, s, N, H, Dh, L, L);
}

size_t ggdm_attn_backward_scratch_floats(int H, int Dh, int L)
{
    (void)H;
    if (Dh < 1 || L < 1)
        return 0;
    return (size_t)L * (size_t)L;
}

void ggdm_attn_backward_qkv(float *dq_, float *dk_, float *dv_, const float *dout, const float *q_, const float *k_,
                            const float *v_, long sq, long sk, long sv, const float *cache_attn, int N, int H, int Dh,
                            int Lq, int Lk, float *scratch)
{
    const float scale = ggdm_attn_scale(Dh);
    const size_t sLq = (size_t)Lq, sLk = (size_t)Lk, sD = (size_t)Dh;
    float *S = scratch; /* [Lq, Lk]: dattn, then dsim */
    int n, h;
    if (bad_sizes(N, H, Dh, Lq) || Lk < 1)
        return;
    for (n = 0; n < N; n++)
        for (h = 0; h < H; h++) {
            const float *q = q_ + (size_t)n * (size_t)sq + (size_t)h * sD * sLq;
            const float *k = k_ + (size_t)n * (size_t)sk + (size_t)h * sD * sLk;
            const float *v = v_ + (size_t)n * (size_t)sv + (size_t)h * sD * sLk;
            float *dq = dq_ ? dq_ + (size_t)n * (size_t)sq + (size_t)h * sD * sLq : NULL;
            float *dk = dk_ ? dk_ + (size_t)n * (size_t)sk + (size_t)h * sD * sLk : NULL;
            float *dv = dv_ ? dv_ + (size_t)n * (size_t)sv + (size_t)h * sD * sLk : NULL;
            const float *A = cache_attn + ((size_t)n * (size_t)H + (size_t)h) * sLq * sLk;
            const float *go = dout + act_off(n, H, Dh, Lq, h);
            size_t d, i, j;

            /* dattn[i, j] = chain over d of fmaf(dout[d,i], v[d,j], acc): Lk chains side by side */
            for (i = 0; i < sLq; i++) {
                float *Si = S + i * sLk;
                for (j = 0; j < sLk; j++)
                    Si[j] = 0.0f;
                for (d = 0; d < sD; d++) {
                    const float g = go[d * sLq + i];
                    const float *vd = v + d * sLk;
                    for (j = 0; j < sLk; j++)
                        Si[j] = fmaf(g, vd[j], Si[j]);
                }
                /* dsim = softmax backward over j of row i (y = attn, dy = dattn) */
                ggdm_softmax_backward_f32(Si, A + i * sLk, Si, (long)Lk, 1);
            }
            /* dv[d, j] = chain over i of fmaf(attn[i,j], dout[d,i], acc) */
            if (dv)
                for (d = 0; d < sD; d++)
                    for (j = 0; j < sLk; j++)
                        dv[d * sLk + j] = dv[d * sLk + j] + ggdm_dot_f32(A + j, (long)Lk, go + d * sLq, 1, (long)Lq);
            /* dq[d, i] = (chain over j of fmaf(dsim[i,j], k[d,j], acc)) * scale */
            if (dq)
                for (d = 0; d < sD; d++)
                    for (i = 0; i < sLq; i++)
                        dq[d * sLq + i] =
                            dq[d * sLq + i] + ggdm_dot_f32(S + i * sLk, 1, k + d * sLk, 1, (long)Lk) * scale;
            /* dk[d, j] = chain over i of fmaf(dsim[i,j], q[d,i] * scale, acc) */
            if (dk)
                for (d = 0; d < sD; d++)
                    for (j = 0; j < sLk; j++) {
                        const float *qd = q + d * sLq;
                        float acc = 0.0f;
                        for (i = 0; i < sLq; i++)
                            acc = fmaf(S[i * sLk + j], qd[i] * scale, acc);
                        dk[d * sLk + j] = dk[d * sLk + j] + acc;
                    }
        }
}

void ggdm_attn_backward(float *dqkv, const float *dout, const float *qkv, const float *cache_attn,
                        int N, int H, int Dh, int L, float *scratch)
{
    size_t HDL = (size_t)H * (size_t)Dh * (size_t)L;
    long s = (long)(3u * HDL);
    if (bad_sizes(N, H, Dh, L))
        return;
    ggdm_attn_backward_qkv(dqkv, dqkv + HDL, dqkv + 2u * HDL, dout, qkv, qkv + HDL, qkv + 2u * HDL, s, s, s,
                           cache_attn, N, H, Dh, L, L, scratch);
}

/* ------------------------------------------------------------------ Attention, blocked (causal, kinds) */

/*
 * The same chains as ggdm_attn_forward_qkv / ggdm_attn_backward_qkv (docs/nn.md, "Attention",
 * "Causal mask", "Recompute"), computed by blocks of GGDM_ATTN_ROWS query rows (and, in the
 * backward's column pass, GGDM_ATTN_COLS key columns), the blocks of all (n, head) being
 * independent units that the executor's tasks share (task t takes units t, t + ntasks, ... and
 * uses scratch slot t). Every output is one chain in the documented order whatever the split.
 */
#define AB GGDM_ATTN_ROWS
#define AK GGDM_ATTN_COLS

/* c[r*ldc + j] (r < R, j < J) <- the chains of chains_nn continued from the values in c. */
static void chains_nn_acc(float *c, long ldc, int R, int J, const float *v, long vs, const float *s, long srs,
                          long sts, long T)
{
    int r0, j0, r, j;
    long t;
    if (T < 1)
        return;
    for (j0 = 0; j0 + VL <= J; j0 += VL)
        for (r0 = 0; r0 < R; r0 += MR)
            tile4(c + r0 * ldc + j0, ldc, R - r0 < MR ? R - r0 : MR, v + j0, vs, s + r0 * srs, srs, sts, T, 1,
                  EP_STORE, NULL);
    for (r = 0; r < R; r++)
        for (j = j0; j < J; j++) {
            float acc = c[r * ldc + j];
            for (t = 0; t < T; t++)
                acc = fmaf(v[t * vs + j], s[r * srs + t * sts], acc);
            c[r * ldc + j] = acc;
        }
}

/* The floats of one task's scratch slot (the largest of the phases'). */
static size_t attn_slot(int Dh, int Lk)
{
    size_t b = AB, d = (size_t)Dh, lk = (size_t)Lk;
    size_t fwd = b * d + 2u * b * lk;               /* qs block, weights block, its transpose */
    size_t rows = 2u * b * d + 3u * b * lk;         /* qs block, weights, dattn, transpose, dq block */
    size_t cols = b * d + 2u * b * AK + 2u * d * AK; /* qs block, weights, dsim, dv and dk chains */
    size_t m = fwd > rows ? fwd : rows;
    return m > cols ? m : cols;
}

size_t ggdm_attn_ex_scratch_floats(int N, int H, int Dh, int Lq, int Lk, int vjp)
{
    if (N < 1 || H < 1 || Dh < 1 || Lq < 1 || Lk < 1)
        return 0;
    return (size_t)GGDM_ATTN_SLOTS * attn_slot(Dh, Lk) + (vjp ? (size_t)N * (size_t)H * (size_t)Lq : 0u);
}

typedef struct attn_job {
    float *out, *cache, *dq, *dk, *dv, *tv, *scratch;
    const float *q, *k, *v, *dout, *ccache;
    long sq, sk, sv;
    int N, H, Dh, Lq, Lk, causal, kind;
    int nrb, ncb, nunits, ntasks;
    size_t slot;
    float scale;
} attn_job;

/* The task count for nunits units: one per slot at most, a few per thread. */
static int attn_tasks(const ggdm_exec *ex, int nunits)
{
    int t = ggdm_exec_threads(ex);
    t = t > 1 ? 4 * t : 1;
    t = t < GGDM_ATTN_SLOTS ? t : GGDM_ATTN_SLOTS;
    return t < nunits ? t : nunits;
}

/* The head (n, h) of unit u of a pass with nb blocks per head, and its block. */
static void attn_head(const attn_job *J, int u, int nb, const float **q, const float **k, const float **v, size_t *nh,
                      int *blk)
{
    size_t n = (size_t)(u / nb) / (size_t)J->H, h = (size_t)(u / nb) % (size_t)J->H;
    *nh = n * (size_t)J->H + h;
    *blk = u % nb;
    *q = J->q + n * (size_t)J->sq + h * (size_t)J->Dh * (size_t)J->Lq;
    *k = J->k + n * (size_t)J->sk + h * (size_t)J->Dh * (size_t)J->Lk;
    *v = J->v + n * (size_t)J->sv + h * (size_t)J->Dh * (size_t)J->Lk;
}

/* qs[d*AB + r] = q[d*Lq + i0 + r] * scale (r < nb) */
static void attn_qs(float *qs, const float *q, int Dh, int Lq, int i0, int nb, float scale)
{
    int d, r;
    for (d = 0; d < Dh; d++)
        for (r = 0; r < nb; r++)
            qs[d * AB + r] = q[(size_t)d * (size_t)Lq + (size_t)(i0 + r)] * scale;
}

/* T[j*AB + r] = X[r*ldx + j] (j < nj, r < nb) */
static void attn_transpose(float *T, const float *X, long ldx, int nb, int nj)
{
    int r, j;
    for (r = 0; r < nb; r++)
        for (j = 0; j < nj; j++)
            T[(size_t)j * AB + (size_t)r] = X[(size_t)r * (size_t)ldx + (size_t)j];
}

/*
 * Row i's weights W[0 .. len) from its sim, as ggdm_softmax_f32 (max scan from term 0, exps,
 * the exp-sum chain, the division); writes the statistics (max, sum) to st when st != NULL.
 */
static void attn_softmax_row(float *W, long len, float *st)
{
    float m = W[0], s = 0.0f, lm[8];
    long j;
    int l;
    /* the max scan "m = W[j] > m ? W[j] : m" from W[0]: 8 lanes of the same scan from W[0],
     * combined by the same rule, is the same value unless the max is a zero (whose sign is the
     * first zero's): then the sequential scan. A NaN W[0] stays, other NaNs are never taken. */
    for (l = 0; l < 8; l++)
        lm[l] = m;
    for (j = 1; j + 8 <= len; j += 8)
        for (l = 0; l < 8; l++)
            lm[l] = W[j + l] > lm[l] ? W[j + l] : lm[l];
    for (; j < len; j++)
        lm[0] = W[j] > lm[0] ? W[j] : lm[0];
    for (l = 1; l < 8; l++)
        m = lm[l] > m ? lm[l] : m;
    m = lm[0] > m ? lm[0] : m;
    if (m == 0.0f)
        for (m = W[0], j = 1; j < len; j++)
            m = W[j] > m ? W[j] : m;
    for (j = 0; j < len; j++) /* the exps (vectorised), then their sum's chain */
        W[j] = ggdm_expf(W[j] - m);
    for (j = 0; j < len; j++)
        s = s + W[j];
    for (j = 0; j < len; j++)
        W[j] = W[j] / s;
    if (st) {
        st[0] = m;
        st[1] = s;
    }
}

/* Row i's weights W[0 .. len) recomputed from its sim and the statistics (max, sum). */
static void attn_weights_row(float *W, long len, const float *st)
{
    const float m = st[0], s = st[1];
    long j;
    for (j = 0; j < len; j++)
        W[j] = ggdm_expf(W[j] - m) / s;
}

static void attn_fwd_unit(const attn_job *J, int u, float *slot)
{
    const float *q, *k, *v;
    size_t nh;
    int ib, i0, nb, jn, r, d, T;
    const int Dh = J->Dh, Lq = J->Lq, Lk = J->Lk;
    float *qs = slot, *W, *WT, *o, *st = NULL;
    attn_head(J, u, J->nrb, &q, &k, &v, &nh, &ib);
    i0 = ib * AB;
    nb = Lq - i0 < AB ? Lq - i0 : AB;
    jn = J->causal ? i0 + nb : Lk;
    if (J->kind == GGDM_ATTN_KEEP) {
        W = J->cache + (nh * (size_t)Lq + (size_t)i0) * (size_t)Lk;
        WT = qs + (size_t)AB * (size_t)Dh;
    } else {
        W = qs + (size_t)AB * (size_t)Dh;
        WT = W + (size_t)AB * (size_t)Lk;
        st = J->cache + (nh * (size_t)Lq + (size_t)i0) * 2u;
    }
    o = J->out + nh * (size_t)Dh * (size_t)Lq + (size_t)i0;
    /* sim[i, j] = chain over d of fmaf(q[d,i] * scale, k[d,j], acc): rows r, lanes j */
    attn_qs(qs, q, Dh, Lq, i0, nb, J->scale);
    chains_nn(W, Lk, nb, jn, k, Lk, qs, 1, AB, Dh, EP_STORE, NULL);
    for (r = 0; r < nb; r++) {
        long len = J->causal ? i0 + r + 1 : Lk, j;
        attn_softmax_row(W + (size_t)r * (size_t)Lk, len, st ? st + 2 * r : NULL);
        if (J->kind == GGDM_ATTN_KEEP)
            for (j = len; j < Lk; j++) /* masked keys: weight exactly 0 */
                W[(size_t)r * (size_t)Lk + (size_t)j] = 0.0f;
    }
    /* out[d, i] = chain over j of fmaf(attn[i,j], v[d,j], acc): rows d, lanes r (the block's
     * weights transposed), the keys every row of the block attends to, then each row's own */
    attn_transpose(WT, W, Lk, nb, jn);
    T = J->causal ? i0 + 1 : Lk;
    chains_nn(o, Lq, Dh, nb, WT, AB, v, Lk, 1, T, EP_STORE, NULL);
    if (J->causal)
        for (d = 0; d < Dh; d++)
            for (r = 1; r < nb; r++) {
                float acc = o[(size_t)d * (size_t)Lq + (size_t)r];
                int j;
                for (j = T; j <= i0 + r; j++)
                    acc = fmaf(WT[(size_t)j * AB + (size_t)r], v[(size_t)d * (size_t)Lk + (size_t)j], acc);
                o[(size_t)d * (size_t)Lq + (size_t)r] = acc;
            }
}

static void attn_fwd_task(void *arg, int t)
{
    const attn_job *J = (const attn_job *)arg;
    int u;
    for (u = t; u < J->nunits; u += J->ntasks)
        attn_fwd_unit(J, u, J->scratch + (size_t)t * J->slot);
}

static int attn_args_bad(int N, int H, int Dh, int Lq, int Lk, int causal, int kind)
{
    return bad_sizes(N, H, Dh, Lq) || Lk < 1 || (causal != 0 && causal != 1) || (causal && Lq != Lk) ||
           (kind != GGDM_ATTN_KEEP && kind != GGDM_ATTN_RECOMPUTE) ||
           (double)N * H * ((Lq + AB - 1) / AB + (Lk + AK - 1) / AK) > 2147483647.0; /* the units: ints */
}

void ggdm_attn_forward_ex(float *out, float *cache, const float *q, const float *k, const float *v, long sq, long sk,
                          long sv, int N, int H, int Dh, int Lq, int Lk, int causal, int kind, float *scratch,
                          const ggdm_exec *ex)
{
    attn_job J;
    if (attn_args_bad(N, H, Dh, Lq, Lk, causal, kind))
        return;
    memset(&J, 0, sizeof J);
    J.out = out, J.cache = cache, J.q = q, J.k = k, J.v = v, J.sq = sq, J.sk = sk, J.sv = sv;
    J.N = N, J.H = H, J.Dh = Dh, J.Lq = Lq, J.Lk = Lk, J.causal = causal, J.kind = kind;
    J.scale = ggdm_attn_scale(Dh);
    J.scratch = scratch;
    J.slot = attn_slot(Dh, Lk);
    J.nrb = (Lq + AB - 1) / AB;
    J.nunits = N * H * J.nrb;
    J.ntasks = attn_tasks(ex, J.nunits);
    ggdm_exec_run(ex, attn_fwd_task, &J, J.ntasks);
}

/*
 * The backward's row pass, one block of rows: the weights (the cache's or recomputed), dattn,
 * t_i (kept in tv for the column pass) and, when dq is wanted, dsim and dq.
 */
static void attn_rows_unit(const attn_job *J, int u, float *slot)
{
    const float *q, *k, *v, *go, *W;
    size_t nh;
    int ib, i0, nb, jn, r, d, T;
    const int Dh = J->Dh, Lq = J->Lq, Lk = J->Lk;
    float *qs = slot, *G = qs + (size_t)AB * (size_t)Dh, *ST = G + (size_t)AB * (size_t)Lk;
    float *Wb = ST + (size_t)AB * (size_t)Lk, *tmp = Wb + (size_t)AB * (size_t)Lk, *tv;
    attn_head(J, u, J->nrb, &q, &k, &v, &nh, &ib);
    i0 = ib * AB;
    nb = Lq - i0 < AB ? Lq - i0 : AB;
    jn = J->causal ? i0 + nb : Lk;
    go = J->dout + nh * (size_t)Dh * (size_t)Lq + (size_t)i0;
    tv = J->tv + nh * (size_t)Lq + (size_t)i0;
    if (J->kind == GGDM_ATTN_KEEP) {
        W = J->ccache + (nh * (size_t)Lq + (size_t)i0) * (size_t)Lk;
    } else {
        const float *st = J->ccache + (nh * (size_t)Lq + (size_t)i0) * 2u;
        attn_qs(qs, q, Dh, Lq, i0, nb, J->scale);
        chains_nn(Wb, Lk, nb, jn, k, Lk, qs, 1, AB, Dh, EP_STORE, NULL);
        for (r = 0; r < nb; r++)
            attn_weights_row(Wb + (size_t)r * (size_t)Lk, J->causal ? i0 + r + 1 : Lk, st + 2 * r);
        W = Wb;
    }
    /* dattn[i, j] = chain over d of fmaf(dout[d,i], v[d,j], acc) */
    chains_nn(G, Lk, nb, jn, v, Lk, go, 1, Lq, Dh, EP_STORE, NULL);
    for (r = 0; r < nb; r++) {
        const float *Wr = W + (size_t)r * (size_t)Lk;
        float *Gr = G + (size_t)r * (size_t)Lk;
        long len = J->causal ? i0 + r + 1 : Lk, j;
        const float t = ggdm_dot_f32(Wr, 1, Gr, 1, len);
        tv[r] = t;
        if (J->dq)
            for (j = 0; j < len; j++) /* dsim */
                Gr[j] = Wr[j] * (Gr[j] - t);
    }
    if (!J->dq)
        return;
    /* dq[d, i] += (chain over j of fmaf(dsim[i,j], k[d,j], acc)) * scale: rows d, lanes r */
    attn_transpose(ST, G, Lk, nb, jn);
    T = J->causal ? i0 + 1 : Lk;
    chains_nn(tmp, AB, Dh, nb, ST, AB, k, Lk, 1, T, EP_STORE, NULL);
    for (d = 0; d < Dh; d++) {
        float *dqd = J->dq + (nh / (size_t)J->H) * (size_t)J->sq + (nh % (size_t)J->H) * (size_t)Dh * (size_t)Lq +
                     (size_t)d * (size_t)Lq + (size_t)i0;
        for (r = 0; r < nb; r++) {
            float acc = tmp[d * AB + r];
            int j;
            if (J->causal)
                for (j = T; j <= i0 + r; j++)
                    acc = fmaf(ST[(size_t)j * AB + (size_t)r], k[(size_t)d * (size_t)Lk + (size_t)j], acc);
            dqd[r] = dqd[r] + acc * J->scale;
        }
    }
}

/*
 * The backward's column pass, one block of key columns: dv[d, j] and dk[d, j] as chains over the
 * rows i in order (causal: i >= j), the weights and dsim of each block of rows recomputed (the
 * weights from the cache when kept), t_i from the row pass.
 */
static void attn_cols_unit(const attn_job *J, int u, float *slot)
{
    const float *q, *k, *v, *go;
    size_t nh;
    int jb, j0, nj, i0, r, d, j;
    const int Dh = J->Dh, Lq = J->Lq, Lk = J->Lk;
    float *qs = slot, *Wc = qs + (size_t)AB * (size_t)Dh, *Gc = Wc + (size_t)AB * AK;
    float *av = Gc + (size_t)AB * AK, *ak = av + (size_t)Dh * AK;
    const float *tv;
    attn_head(J, u, J->ncb, &q, &k, &v, &nh, &jb);
    j0 = jb * AK;
    nj = Lk - j0 < AK ? Lk - j0 : AK;
    go = J->dout + nh * (size_t)Dh * (size_t)Lq;
    tv = J->tv + nh * (size_t)Lq;
    for (j = 0; j < Dh * AK; j++)
        av[j] = ak[j] = 0.0f;
    for (i0 = J->causal ? j0 : 0; i0 < Lq; i0 += AB) {
        const int nb = Lq - i0 < AB ? Lq - i0 : AB;
        const float *W;
        long ldw;
        if (J->kind == GGDM_ATTN_KEEP) {
            W = J->ccache + (nh * (size_t)Lq + (size_t)i0) * (size_t)Lk + (size_t)j0;
            ldw = Lk;
            if (J->dk)
                attn_qs(qs, q, Dh, Lq, i0, nb, J->scale);
        } else {
            const float *st = J->ccache + (nh * (size_t)Lq + (size_t)i0) * 2u;
            attn_qs(qs, q, Dh, Lq, i0, nb, J->scale);
            chains_nn(Wc, AK, nb, nj, k + j0, Lk, qs, 1, AB, Dh, EP_STORE, NULL);
            for (r = 0; r < nb; r++) {
                /* causal: only the columns j <= i are used (the others are never read) */
                int len = J->causal ? (i0 + r + 1 - j0 < nj ? i0 + r + 1 - j0 : nj) : nj;
                attn_weights_row(Wc + (size_t)r * AK, len, st + 2 * r);
            }
            W = Wc;
            ldw = AK;
        }
        if (J->dk) {
            /* dsim[i, j] = attn[i,j] * (dattn[i,j] - t_i) */
            chains_nn(Gc, AK, nb, nj, v + j0, Lk, go + i0, 1, Lq, Dh, EP_STORE, NULL);
            for (r = 0; r < nb; r++)
                for (j = 0; j < nj; j++)
                    Gc[r * AK + j] = W[(size_t)r * (size_t)ldw + (size_t)j] * (Gc[r * AK + j] - tv[i0 + r]);
        }
        if (J->causal && i0 < j0 + nj - 1) {
            /* the diagonal: row i takes the columns j <= i only */
            for (r = 0; r < nb; r++)
                for (d = 0; d < Dh; d++) {
                    const float g = go[(size_t)d * (size_t)Lq + (size_t)(i0 + r)];
                    for (j = 0; j <= i0 + r - j0 && j < nj; j++) {
                        if (J->dv)
                            av[d * AK + j] = fmaf(W[(size_t)r * (size_t)ldw + (size_t)j], g, av[d * AK + j]);
                        if (J->dk)
                            ak[d * AK + j] = fmaf(Gc[r * AK + j], qs[d * AB + r], ak[d * AK + j]);
                    }
                }
            continue;
        }
        /* dv[d, j]: chain over i of fmaf(attn[i,j], dout[d,i], acc); dk[d, j]: of
         * fmaf(dsim[i,j], q[d,i] * scale, acc): rows d, lanes j, continued block by block */
        if (J->dv)
            chains_nn_acc(av, AK, Dh, nj, W, ldw, go + i0, Lq, 1, nb);
        if (J->dk)
            chains_nn_acc(ak, AK, Dh, nj, Gc, AK, qs, AB, 1, nb);
    }
    for (d = 0; d < Dh; d++) {
        size_t n = nh / (size_t)J->H, h = nh % (size_t)J->H;
        size_t off = (size_t)d * (size_t)Lk + (size_t)j0 + h * (size_t)Dh * (size_t)Lk;
        if (J->dv) {
            float *dvd = J->dv + n * (size_t)J->sv + off;
            for (j = 0; j < nj; j++)
                dvd[j] = dvd[j] + av[d * AK + j];
        }
        if (J->dk) {
            float *dkd = J->dk + n * (size_t)J->sk + off;
            for (j = 0; j < nj; j++)
                dkd[j] = dkd[j] + ak[d * AK + j];
        }
    }
}

static void attn_rows_task(void *arg, int t)
{
    const attn_job *J = (const attn_job *)arg;
    int u;
    for (u = t; u < J->nunits; u += J->ntasks)
        attn_rows_unit(J, u, J->scratch + (size_t)t * J->slot);
}

static void attn_cols_task(void *arg, int t)
{
    const attn_job *J = (const attn_job *)arg;
    int u;
    for (u = t; u < J->nunits; u += J->ntasks)
        attn_cols_unit(J, u, J->scratch + (size_t)t * J->slot);
}

void ggdm_attn_backward_ex(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                           const float *v, long sq, long sk, long sv, const float *cache, int N, int H, int Dh, int Lq,
                           int Lk, int causal, int kind, float *scratch, const ggdm_exec *ex)
{
    attn_job J;
    if (attn_args_bad(N, H, Dh, Lq, Lk, causal, kind) || (!dq && !dk && !dv))
        return;
    memset(&J, 0, sizeof J);
    J.dq = dq, J.dk = dk, J.dv = dv, J.dout = dout, J.ccache = cache;
    J.q = q, J.k = k, J.v = v, J.sq = sq, J.sk = sk, J.sv = sv;
    J.N = N, J.H = H, J.Dh = Dh, J.Lq = Lq, J.Lk = Lk, J.causal = causal, J.kind = kind;
    J.scale = ggdm_attn_scale(Dh);
    J.scratch = scratch;
    J.slot = attn_slot(Dh, Lk);
    J.tv = scratch + (size_t)GGDM_ATTN_SLOTS * J.slot;
    J.nrb = (Lq + AB - 1) / AB;
    J.ncb = (Lk + AK - 1) / AK;
    if (dq || dk) { /* dv needs no t_i */
        J.nunits = N * H * J.nrb;
        J.ntasks = attn_tasks(ex, J.nunits);
        ggdm_exec_run(ex, attn_rows_task, &J, J.ntasks);
    }
    if (dk || dv) {
        J.nunits = N * H * J.ncb;
        J.ntasks = attn_tasks(ex, J.nunits);
        ggdm_exec_run(ex, attn_cols_task, &J, J.ntasks);
    }
}

void ggdm_time_embedding(float *emb, const float *t, int N, int dim)
{
    const int half = dim / 2;
    float c;
    int n, i;
    if (N < 1 || dim < 4 || (dim & 1))
        return;
    c = ggdm_time_embedding_coef(dim);
    for (i = 0; i < half; i++) {
        const float f = ggdm_time_embedding_freq(i, c);
        for (n = 0; n < N; n++) {
            const float arg = t[n] * f;
            float *row = emb + (size_t)n * (size_t)dim;
            row[i] = ggdm_sinf(arg);
            row[half + i] = ggdm_cosf(arg);
        }
    }
}
