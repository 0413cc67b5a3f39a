/*
 * Attention cores (LinearAttention, Attention) and the sinusoidal time embedding,
 * forward and backward.  The exact math is in docs/nn.md; this file follows it.
 *
 * Loops often run several independent chains side by side (an inner loop over outputs
 * whose chains advance one term at a time): each output's chain still takes its terms
 * in the documented order from +0, so the bits do not depend on the loop order.
 */
#include "ggdm/attention.h"

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
