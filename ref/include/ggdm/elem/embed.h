/*
 * ggdm/elem/embed.h - the EMBED op's element functions (ggdm/ops.def; docs/nn.md, "Stable
 * Diffusion's element ops"): CLIP's token and position embeddings, channel-first.
 * ids [N, W] (float32 token ids), tok [C2, Cout] (C2 = the vocabulary), pos [W, Cout]
 * (optional: NULL is no position term) -> y [N, Cout, 1, W]:
 *   v valid:   y[n,c,0,l] = tok[v, c] + pos[l, c]    (one addition; pos NULL: tok[v, c])
 *   v invalid: y[n,c,0,l] = pos[l, c]                (no token term; pos NULL: +0)
 * with v = ids[n, l]; valid: an integer in [0, C2) (NaN, infinities, fractions and ids out
 * of range are invalid; the front end validates ids before). VJP, ADDED into (the ids get no
 * gradient; din[0] is ignored):
 *   dtok[v, c] = dtok + (chain over n, then l, of the positions with ids[n, l] = v, of
 *                acc + dy[n,c,0,l]); a row v no position holds is not written
 *   dpos[l, c] = dpos + (chain over n of acc + dy[n,c,0,l])
 * C2 <= 2^24 (every id exact as a float). C99 and CUDA __host__ __device__. Launch order:
 * forward y; VJP dtok, dpos (independent).
 */
#ifndef GGDM_ELEM_EMBED_H
#define GGDM_ELEM_EMBED_H

#include "ggdm/hostdev.h"

#define GGDM_ELEM_LAUNCHES_embed_forward(F) F(embed_forward, y)
#define GGDM_ELEM_LAUNCHES_embed_backward(F) F(embed_backward, dtok) F(embed_backward, dpos)

GGDM_HD static inline int ggdm_elem_embed_valid(int N, int W, int C2, int Cout)
{
    return N > 0 && W > 0 && C2 > 0 && C2 <= (1 << 24) && Cout > 0;
}

/* The row of id v, or -1 when v is not an integer in [0, C2). */
GGDM_HD static inline long ggdm_elem_embed_row(float v, int C2)
{
    long r;
    if (!(v >= 0.0f && v < (float)C2)) /* NaN too */
        return -1;
    r = (long)v;
    return (float)r == v ? r : -1;
}

GGDM_HD static inline long ggdm_elem_embed_forward_y_count(int N, int W, int C2, int Cout)
{
    return ggdm_elem_embed_valid(N, W, C2, Cout) ? (long)N * Cout * W : 0;
}

GGDM_HD static inline void ggdm_elem_embed_forward_y(float *y, const float *ids, const float *tok, const float *pos,
                                                     int N, int W, int C2, int Cout, long idx)
{
    long l = idx % W, c = (idx / W) % Cout, n = idx / ((long)W * Cout);
    long v = ggdm_elem_embed_row(ids[n * W + l], C2);
    (void)N;
    if (v >= 0)
        y[idx] = pos ? tok[v * Cout + c] + pos[l * Cout + c] : tok[v * Cout + c];
    else
        y[idx] = pos ? pos[l * Cout + c] : 0.0f;
}

GGDM_HD static inline long ggdm_elem_embed_backward_dtok_count(int N, int W, int C2, int Cout)
{
    return ggdm_elem_embed_valid(N, W, C2, Cout) ? (long)C2 * Cout : 0;
}

GGDM_HD static inline void ggdm_elem_embed_backward_dtok(float *dtok, float *dpos, const float *dy, const float *ids,
                                                         int N, int W, int C2, int Cout, long idx)
{
    long v = idx / Cout, c = idx % Cout, n, l;
    float acc = 0.0f;
    int hit = 0;
    (void)dpos;
    for (n = 0; n < N; n++)
        for (l = 0; l < W; l++)
            if (ggdm_elem_embed_row(ids[n * W + l], C2) == v) {
                acc = acc + dy[(n * Cout + c) * W + l];
                hit = 1;
            }
    if (hit)
        dtok[idx] = dtok[idx] + acc;
}

GGDM_HD static inline long ggdm_elem_embed_backward_dpos_count(int N, int W, int C2, int Cout)
{
    return ggdm_elem_embed_valid(N, W, C2, Cout) ? (long)W * Cout : 0;
}

GGDM_HD static inline void ggdm_elem_embed_backward_dpos(float *dtok, float *dpos, const float *dy, const float *ids,
                                                         int N, int W, int C2, int Cout, long idx)
{
    long l = idx / Cout, c = idx % Cout, n;
    float acc = 0.0f;
    (void)dtok, (void)ids, (void)C2;
    for (n = 0; n < N; n++)
        acc = acc + dy[(n * Cout + c) * W + l];
    dpos[idx] = dpos[idx] + acc;
}

#endif /* GGDM_ELEM_EMBED_H */
