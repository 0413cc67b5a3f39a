/*
 * ggdm/elem/bnorm.h - the BNORM op's element functions (ggdm/ops.def; docs/nn.md, "Stable
 * Diffusion's element ops"): BatchNorm in eval mode on x [N, C, P] (P = H W) with
 * p [4, C] = weight, bias, running_mean, running_var (PyTorch's CPU eval formula):
 *   invstd_c = 1.0f / sqrtf(var_c + eps)
 *   alpha_c  = weight_c * invstd_c
 *   y        = ((x - mean_c) * alpha_c) + bias_c        a difference, a product, a sum
 * VJP, ADDED into:
 *   dx            = dx + dy * alpha_c
 *   dp[0, c] (dweight) = dp + (chain over n, then p of fmaf(dy, (x - mean_c) * invstd_c, acc))
 *   dp[1, c] (dbias)   = dp + (chain over n, then p of acc + dy)
 *   dp[2, :], dp[3, :] (the running statistics: no gradient): nothing is added.
 * C99 and CUDA __host__ __device__. Launch order: forward y; VJP dx, dp (independent).
 */
#ifndef GGDM_ELEM_BNORM_H
#define GGDM_ELEM_BNORM_H

#include <math.h>

#include "ggdm/hostdev.h"

#define GGDM_ELEM_LAUNCHES_bnorm_forward(F) F(bnorm_forward, y)
#define GGDM_ELEM_LAUNCHES_bnorm_backward(F) F(bnorm_backward, dx) F(bnorm_backward, dp)

GGDM_HD static inline int ggdm_elem_bnorm_valid(int N, int C, long P)
{
    return N > 0 && C > 0 && P > 0;
}

GGDM_HD static inline float ggdm_elem_bnorm_invstd(const float *p, int C, int c, float eps)
{
    return 1.0f / sqrtf(p[3 * (long)C + c] + eps);
}

GGDM_HD static inline long ggdm_elem_bnorm_forward_y_count(int N, int C, long P)
{
    return ggdm_elem_bnorm_valid(N, C, P) ? (long)N * C * P : 0;
}

GGDM_HD static inline void ggdm_elem_bnorm_forward_y(float *y, const float *x, const float *p, int N, int C, long P,
                                                     float eps, long idx)
{
    int c = (int)((idx / P) % C);
    float alpha = p[c] * ggdm_elem_bnorm_invstd(p, C, c, eps);
    (void)N;
    y[idx] = ((x[idx] - p[2 * (long)C + c]) * alpha) + p[(long)C + c];
}

GGDM_HD static inline long ggdm_elem_bnorm_backward_dx_count(int N, int C, long P)
{
    return ggdm_elem_bnorm_valid(N, C, P) ? (long)N * C * P : 0;
}

GGDM_HD static inline void ggdm_elem_bnorm_backward_dx(float *dx, float *dp, const float *dy, const float *x,
                                                       const float *p, int N, int C, long P, float eps, long idx)
{
    int c = (int)((idx / P) % C);
    float alpha = p[c] * ggdm_elem_bnorm_invstd(p, C, c, eps);
    (void)dp, (void)x, (void)N;
    dx[idx] = dx[idx] + dy[idx] * alpha;
}

/* dp rows 0 (weight) and 1 (bias): idx = row * C + c, row < 2. */
GGDM_HD static inline long ggdm_elem_bnorm_backward_dp_count(int N, int C, long P)
{
    return ggdm_elem_bnorm_valid(N, C, P) ? 2 * (long)C : 0;
}

GGDM_HD static inline void ggdm_elem_bnorm_backward_dp(float *dx, float *dp, const float *dy, const float *x,
                                                       const float *p, int N, int C, long P, float eps, long idx)
{
    int c = (int)(idx % C), bias = idx >= C;
    float m = p[2 * (long)C + c], r = ggdm_elem_bnorm_invstd(p, C, c, eps), acc = 0.0f;
    long n, q;
    (void)dx;
    for (n = 0; n < N; n++) {
        const float *dr = dy + (n * C + c) * P, *xr = x + (n * C + c) * P;
        if (bias)
            for (q = 0; q < P; q++)
                acc = acc + dr[q];
        else
            for (q = 0; q < P; q++)
                acc = fmaf(dr[q], (xr[q] - m) * r, acc);
    }
    dp[idx] = dp[idx] + acc;
}

#endif /* GGDM_ELEM_BNORM_H */
