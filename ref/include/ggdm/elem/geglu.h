/*
 * ggdm/elem/geglu.h - the GEGLU op's element functions (ggdm/ops.def; docs/ops.md): Stable
 * Diffusion's feed-forward gate over channel halves. x [N, 2Ch, P] (P = H W positions) is
 * h = x[:, :Ch] and g = x[:, Ch:]; y [N, Ch, P]:
 *   y  = h * gelu(g)                         (ggdm_gelu: the erf form)
 * VJP, ADDED into dx:
 *   dh = dy * gelu(g)
 *   dg = (dy * h) * gelu'(g)                 (ggdm_gelu_grad)
 * one rounding per product, in this order. C99 and CUDA __host__ __device__.
 * Launch order: forward y; VJP dx (every element of dx is one output).
 */
#ifndef GGDM_ELEM_GEGLU_H
#define GGDM_ELEM_GEGLU_H

#include "ggdm/hostdev.h"
#include "ggdm/layers.h"

#define GGDM_ELEM_LAUNCHES_geglu_forward(F) F(geglu_forward, y)
#define GGDM_ELEM_LAUNCHES_geglu_backward(F) F(geglu_backward, dx)

GGDM_HD static inline long ggdm_elem_geglu_forward_y_count(int N, int Ch, long P)
{
    return N > 0 && Ch > 0 && P > 0 ? (long)N * Ch * P : 0;
}

GGDM_HD static inline void ggdm_elem_geglu_forward_y(float *y, const float *x, int N, int Ch, long P, long idx)
{
    long half = (long)Ch * P, n = idx / half, r = idx % half;
    const float *xn = x + n * 2 * half;
    (void)N;
    y[idx] = xn[r] * ggdm_gelu(xn[half + r]);
}

GGDM_HD static inline long ggdm_elem_geglu_backward_dx_count(int N, int Ch, long P)
{
    return N > 0 && Ch > 0 && P > 0 ? (long)N * 2 * Ch * P : 0;
}

GGDM_HD static inline void ggdm_elem_geglu_backward_dx(float *dx, const float *dy, const float *x, int N, int Ch,
                                                       long P, long idx)
{
    long half = (long)Ch * P, n = idx / (2 * half), r = idx % (2 * half);
    const float *xn = x + n * 2 * half, *dyn = dy + n * half;
    (void)N;
    if (r < half)
        dx[idx] = dx[idx] + dyn[r] * ggdm_gelu(xn[half + r]);
    else
        dx[idx] = dx[idx] + (dyn[r - half] * xn[r - half]) * ggdm_gelu_grad(xn[r]);
}

#endif /* GGDM_ELEM_GEGLU_H */
