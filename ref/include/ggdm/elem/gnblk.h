/*
 * ggdm/elem/gnblk.h - GroupNorm with blocked statistics (the NORM op, kind GROUP, block B > 0;
 * docs/nn.md, "GroupNorm with blocked statistics"): Stable Diffusion's networks normalise
 * groups of up to a million values (the VAE decoder at 512 px: 4 channels x 512 x 512), where
 * one sequential float32 chain loses ~1e-4 of the variance. Here every sum over a group's M
 * values (C order) is two-level: a chain from +0 over each block of B consecutive values (the
 * last may be shorter), then a chain from +0 over the blocks' partial sums, in order:
 *
 *   mean = blocked sum of x / (float)M
 *   var  = blocked fmaf(d, d, .) chain, d = x - mean, / (float)M       (biased)
 *   rstd = ggdm_norm_rstd_eps(var, eps); y = ((x - mean) * rstd) [* gamma[c]] [+ beta[c]]
 *   VJP: m1 = blocked sum of dxhat / M, m2 = blocked fmaf(dxhat, xhat, .) / M, dxhat = dy [* gamma],
 *        dx = dx + ggdm_norm_dx(dxhat, xhat, m1, m2, rstd)
 *
 * (the same formulas as GroupNorm's, only the order of the sums differs; B >= M is GroupNorm's
 * own bits). The parameter gradients dgamma, dbeta are GroupNorm's chains (ggdm/elem.h).
 * C99 and CUDA __host__ __device__. Launch order: forward mean, rstd, y; VJP dx, dgamma, dbeta.
 */
#ifndef GGDM_ELEM_GNBLK_H
#define GGDM_ELEM_GNBLK_H

#include "ggdm/elem.h"
#include "ggdm/hostdev.h"

#define GGDM_ELEM_LAUNCHES_gnblk_forward(F) F(gnblk_forward, mean) F(gnblk_forward, rstd) F(gnblk_forward, y)
#define GGDM_ELEM_LAUNCHES_gnblk_backward(F) F(gnblk_backward, dx)

/* The blocked mean and variance of the M values at x (blocks of B). */
GGDM_HD static inline void ggdm_gnblk_mean_var(const float *x, long M, long B, float *mean, float *var)
{
    float tot = 0.0f, m;
    long b, i;
    for (b = 0; b < M; b += B) {
        float part = 0.0f;
        long e = b + B < M ? b + B : M;
        for (i = b; i < e; i++)
            part = part + x[i];
        tot = tot + part;
    }
    m = tot / (float)M;
    tot = 0.0f;
    for (b = 0; b < M; b += B) {
        float part = 0.0f;
        long e = b + B < M ? b + B : M;
        for (i = b; i < e; i++) {
            float d = x[i] - m;
            part = fmaf(d, d, part);
        }
        tot = tot + part;
    }
    *mean = m;
    *var = tot / (float)M;
}

/* The backward's m1, m2 of group q = (n, g) (Cg channels of L values from x and dy, its slices). */
GGDM_HD static inline void ggdm_gnblk_m1_m2(const float *x, const float *dy, const float *gamma, long Cg, long L, long g,
                                            float m, float r, long B, float *m1, float *m2)
{
    long M = Cg * L, b, j;
    float t1 = 0.0f, t2 = 0.0f;
    for (b = 0; b < M; b += B) {
        float p1 = 0.0f, p2 = 0.0f;
        long e = b + B < M ? b + B : M;
        for (j = b; j < e; j++) {
            float d = gamma ? dy[j] * gamma[g * Cg + j / L] : dy[j];
            p1 = p1 + d;
            p2 = fmaf(d, ggdm_norm_xhat(x[j], m, r), p2);
        }
        t1 = t1 + p1;
        t2 = t2 + p2;
    }
    *m1 = t1 / (float)M;
    *m2 = t2 / (float)M;
}

GGDM_HD static inline long ggdm_elem_gnblk_forward_mean_count(int N, int C, int L, int G, long B)
{
    return ggdm_elem_groupnorm_valid(N, C, L, G) && B > 0 ? (long)N * G : 0;
}

GGDM_HD static inline void ggdm_elem_gnblk_forward_mean(float *y, float *mean, float *rstd, const float *x,
                                                        const float *gamma, const float *beta, int N, int C, int L,
                                                        int G, float eps, long B, long idx)
{
    long M = (long)(C / G) * L;
    float m, v;
    GGDM_ELEM_UNUSED(y), GGDM_ELEM_UNUSED(rstd), GGDM_ELEM_UNUSED(gamma), GGDM_ELEM_UNUSED(beta),
        GGDM_ELEM_UNUSED(N), GGDM_ELEM_UNUSED(eps);
    ggdm_gnblk_mean_var(x + idx * M, M, B, &m, &v);
    mean[idx] = m;
}

GGDM_HD static inline long ggdm_elem_gnblk_forward_rstd_count(int N, int C, int L, int G, long B)
{
    return ggdm_elem_gnblk_forward_mean_count(N, C, L, G, B);
}

GGDM_HD static inline void ggdm_elem_gnblk_forward_rstd(float *y, float *mean, float *rstd, const float *x,
                                                        const float *gamma, const float *beta, int N, int C, int L,
                                                        int G, float eps, long B, long idx)
{
    long M = (long)(C / G) * L;
    float m, v;
    GGDM_ELEM_UNUSED(y), GGDM_ELEM_UNUSED(mean), GGDM_ELEM_UNUSED(gamma), GGDM_ELEM_UNUSED(beta),
        GGDM_ELEM_UNUSED(N);
    ggdm_gnblk_mean_var(x + idx * M, M, B, &m, &v);
    rstd[idx] = ggdm_norm_rstd_eps(v, eps);
}

GGDM_HD static inline long ggdm_elem_gnblk_forward_y_count(int N, int C, int L, int G, long B)
{
    return ggdm_elem_groupnorm_valid(N, C, L, G) && B > 0 ? (long)N * C * L : 0;
}

/* y: GroupNorm's element (mean, rstd launched before). */
GGDM_HD static inline void ggdm_elem_gnblk_forward_y(float *y, float *mean, float *rstd, const float *x,
                                                     const float *gamma, const float *beta, int N, int C, int L, int G,
                                                     float eps, long B, long idx)
{
    GGDM_ELEM_UNUSED(B);
    ggdm_elem_groupnorm_forward_y(y, mean, rstd, x, gamma, beta, N, C, L, G, eps, idx);
}

GGDM_HD static inline long ggdm_elem_gnblk_backward_dx_count(int N, int C, int L, int G, long B)
{
    return ggdm_elem_gnblk_forward_y_count(N, C, L, G, B);
}

GGDM_HD static inline void ggdm_elem_gnblk_backward_dx(float *dx, const float *dy, const float *x, const float *mean,
                                                       const float *rstd, const float *gamma, int N, int C, int L,
                                                       int G, long B, long idx)
{
    long Cg = C / G, M = Cg * L;
    long c = (idx / L) % C, n = idx / ((long)L * C), g = c / Cg, q = n * G + g;
    float m = mean[q], r = rstd[q], m1, m2, dh;
    GGDM_ELEM_UNUSED(N);
    ggdm_gnblk_m1_m2(x + q * M, dy + q * M, gamma, Cg, L, g, m, r, B, &m1, &m2);
    dh = gamma ? dy[idx] * gamma[c] : dy[idx];
    dx[idx] = dx[idx] + ggdm_norm_dx(dh, ggdm_norm_xhat(x[idx], m, r), m1, m2, r);
}

#endif /* GGDM_ELEM_GNBLK_H */
