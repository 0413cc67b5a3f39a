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

/* ------------------------------------------------------------------ LinearAttention */

void ggdm_linattn_forward(float *out, float *cache_q, float *cache_k, float *cache_ctx, const float *qkv,
                          int N, int H, int Dh, int L)
{
    const float scale = ggdm_attn_scale(Dh);
    const size_t sL = (size_t)L, sD = (size_t)Dh;
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
            size_t d, e, l, i;

            /* qs: softmax over d at each position, then times scale */
            for (l = 0; l < sL; l++)
                ggdm_softmax_f32(qs + l, q + l, (long)Dh, (long)L);
            for (i = 0; i < sD * sL; i++)
                qs[i] = qs[i] * scale;
            /* ks: softmax over positions of each row */
            for (d = 0; d < sD; d++)
                ggdm_softmax_f32(ks + d * sL, k + d * sL, (long)L, 1);
            /* ctx[d, e] = chain over l of fmaf(ks[d,l], v[e,l], acc) */
            for (d = 0; d < sD; d++)
                for (e = 0; e < sD; e++)
                    ctx[d * sD + e] = ggdm_dot_f32(ks + d * sL, 1, v + e * sL, 1, (long)L);
            /* out[e, l] = chain over d of fmaf(ctx[d,e], qs[d,l], acc): L chains side by side */
            for (e = 0; e < sD; e++) {
                float *oe = o + e * sL;
                for (l = 0; l < sL; l++)
                    oe[l] = 0.0f;
                for (d = 0; d < sD; d++) {
                    const float c = ctx[d * sD + e];
                    const float *qd = qs + d * sL;
                    for (l = 0; l < sL; l++)
                        oe[l] = fmaf(c, qd[l], oe[l]);
                }
            }
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
            size_t d, e, l, i;

            /* P: the forward's softmax of q over d, recomputed (same bits, before the scale) */
            for (l = 0; l < sL; l++)
                ggdm_softmax_f32(P + l, q + l, (long)Dh, (long)L);

            /* dctx[d, e] = chain over l of fmaf(qs[d,l], dout[e,l], acc) */
            for (d = 0; d < sD; d++)
                for (e = 0; e < sD; e++)
                    DC[d * sD + e] = ggdm_dot_f32(qs + d * sL, 1, go + e * sL, 1, (long)L);

            /* dqs[d, l] = chain over e of fmaf(ctx[d,e], dout[e,l], acc); dp = dqs * scale */
            for (d = 0; d < sD; d++) {
                float *gd = G + d * sL;
                for (l = 0; l < sL; l++)
                    gd[l] = 0.0f;
                for (e = 0; e < sD; e++) {
                    const float c = ctx[d * sD + e];
                    const float *ge = go + e * sL;
                    for (l = 0; l < sL; l++)
                        gd[l] = fmaf(c, ge[l], gd[l]);
                }
                for (l = 0; l < sL; l++)
                    gd[l] = gd[l] * scale;
            }
            /* dq = softmax backward over d at each position (y = P, dy = dp) */
            for (l = 0; l < sL; l++)
                ggdm_softmax_backward_f32(G + l, P + l, G + l, (long)Dh, (long)L);
            for (i = 0; i < sD * sL; i++)
                dq[i] = dq[i] + G[i];

            /* dks[d, l] = chain over e of fmaf(dctx[d,e], v[e,l], acc) */
            for (d = 0; d < sD; d++) {
                float *kd = K + d * sL;
                for (l = 0; l < sL; l++)
                    kd[l] = 0.0f;
                for (e = 0; e < sD; e++) {
                    const float c = DC[d * sD + e];
                    const float *ve = v + e * sL;
                    for (l = 0; l < sL; l++)
                        kd[l] = fmaf(c, ve[l], kd[l]);
                }
            }
            /* dk = softmax backward over l of each row (y = ks, dy = dks) */
            for (d = 0; d < sD; d++)
                ggdm_softmax_backward_f32(K + d * sL, ks + d * sL, K + d * sL, (long)L, 1);
            for (i = 0; i < sD * sL; i++)
                dk[i] = dk[i] + K[i];

            /* dv[e, l] = chain over d of fmaf(dctx[d,e], ks[d,l], acc) */
            for (e = 0; e < sD; e++) {
                float *ge = G + e * sL;
                for (l = 0; l < sL; l++)
                    ge[l] = 0.0f;
                for (d = 0; d < sD; d++) {
                    const float c = DC[d * sD + e];
                    const float *kd = ks + d * sL;
                    for (l = 0; l < sL; l++)
                        ge[l] = fmaf(c, kd[l], ge[l]);
                }
            }
            for (i = 0; i < sD * sL; i++)
                dv[i] = dv[i] + G[i];
        }
}

/* ------------------------------------------------------------------ Attention */

void ggdm_attn_forward(float *out, float *cache_attn, const float *qkv, int N, int H, int Dh, int L)
{
    const float scale = ggdm_attn_scale(Dh);
    const size_t sL = (size_t)L, sD = (size_t)Dh;
    int n, h;
    if (bad_sizes(N, H, Dh, L))
        return;
    for (n = 0; n < N; n++)
        for (h = 0; h < H; h++) {
            const float *q = qkv + qkv_off(n, 0, H, Dh, L, h);
            const float *k = qkv + qkv_off(n, 1, H, Dh, L, h);
            const float *v = qkv + qkv_off(n, 2, H, Dh, L, h);
            float *A = cache_attn + act_off(n, H, L, L, h);
            float *o = out + act_off(n, H, Dh, L, h);
            size_t d, i, j;

            /* sim[i, j] = chain over d of fmaf(q[d,i] * scale, k[d,j], acc): L chains side by side */
            for (i = 0; i < sL; i++) {
                float *Ai = A + i * sL;
                for (j = 0; j < sL; j++)
                    Ai[j] = 0.0f;
                for (d = 0; d < sD; d++) {
                    const float qs = q[d * sL + i] * scale;
                    const float *kd = k + d * sL;
                    for (j = 0; j < sL; j++)
                        Ai[j] = fmaf(qs, kd[j], Ai[j]);
                }
                ggdm_softmax_f32(Ai, Ai, (long)L, 1);
            }
            /* out[d, i] = chain over j of fmaf(attn[i,j], v[d,j], acc) */
            for (d = 0; d < sD; d++)
                for (i = 0; i < sL; i++)
                    o[d * sL + i] = ggdm_dot_f32(A + i * sL, 1, v + d * sL, 1, (long)L);
        }
}

size_t ggdm_attn_backward_scratch_floats(int H, int Dh, int L)
{
    (void)H;
    if (Dh < 1 || L < 1)
        return 0;
    return (size_t)L * (size_t)L;
}

void ggdm_attn_backward(float *dqkv, const float *dout, const float *qkv, const float *cache_attn,
                        int N, int H, int Dh, int L, float *scratch)
{
    const float scale = ggdm_attn_scale(Dh);
    const size_t sL = (size_t)L, sD = (size_t)Dh;
    float *S = scratch; /* [L, L]: dattn, then dsim */
    int n, h;
    if (bad_sizes(N, H, Dh, L))
        return;
    for (n = 0; n < N; n++)
        for (h = 0; h < H; h++) {
            const float *q = qkv + qkv_off(n, 0, H, Dh, L, h);
            const float *k = qkv + qkv_off(n, 1, H, Dh, L, h);
            const float *v = qkv + qkv_off(n, 2, H, Dh, L, h);
            float *dq = dqkv + qkv_off(n, 0, H, Dh, L, h);
            float *dk = dqkv + qkv_off(n, 1, H, Dh, L, h);
            float *dv = dqkv + qkv_off(n, 2, H, Dh, L, h);
            const float *A = cache_attn + act_off(n, H, L, L, h);
            const float *go = dout + act_off(n, H, Dh, L, h);
            size_t d, i, j;

            /* dattn[i, j] = chain over d of fmaf(dout[d,i], v[d,j], acc): L chains side by side */
            for (i = 0; i < sL; i++) {
                float *Si = S + i * sL;
                for (j = 0; j < sL; j++)
                    Si[j] = 0.0f;
                for (d = 0; d < sD; d++) {
                    const float g = go[d * sL + i];
                    const float *vd = v + d * sL;
                    for (j = 0; j < sL; j++)
                        Si[j] = fmaf(g, vd[j], Si[j]);
                }
                /* dsim = softmax backward over j of row i (y = attn, dy = dattn) */
                ggdm_softmax_backward_f32(Si, A + i * sL, Si, (long)L, 1);
            }
            /* dv[d, j] = chain over i of fmaf(attn[i,j], dout[d,i], acc) */
            for (d = 0; d < sD; d++)
                for (j = 0; j < sL; j++)
                    dv[d * sL + j] = dv[d * sL + j] + ggdm_dot_f32(A + j, (long)L, go + d * sL, 1, (long)L);
            /* dq[d, i] = (chain over j of fmaf(dsim[i,j], k[d,j], acc)) * scale */
            for (d = 0; d < sD; d++)
                for (i = 0; i < sL; i++)
                    dq[d * sL + i] = dq[d * sL + i] + ggdm_dot_f32(S + i * sL, 1, k + d * sL, 1, (long)L) * scale;
            /* dk[d, j] = chain over i of fmaf(dsim[i,j], q[d,i] * scale, acc) */
            for (d = 0; d < sD; d++)
                for (j = 0; j < sL; j++) {
                    const float *qd = q + d * sL;
                    float acc = 0.0f;
                    for (i = 0; i < sL; i++)
                        acc = fmaf(S[i * sL + j], qd[i] * scale, acc);
                    dk[d * sL + j] = dk[d * sL + j] + acc;
                }
        }
}

/* ------------------------------------------------------------------ time embedding */

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
