/*
 * ggdm/elem/avgpool.h - the AVGPOOL op's element functions (ggdm/ops.def; docs/nn.md, "Stable
 * Diffusion's element ops"): the global average pool of x [N, C, P] (P = H W) -> y [N, C]
 * (ResNet-18's adaptive_avg_pool2d to 1 x 1):
 *   y[n,c]    = (chain over p = 0..P-1 of acc + x[n,c,p]) / (float)P      (one division)
 * VJP, ADDED into:
 *   dx[n,c,p] = dx + dy[n,c] / (float)P                                  (PyTorch's CPU backward, bit for bit)
 * (P <= 2^24, so (float)P is exact.) C99 and CUDA __host__ __device__. Launch order: forward
 * y; VJP dx.
 */
#ifndef GGDM_ELEM_AVGPOOL_H
#define GGDM_ELEM_AVGPOOL_H

#include "ggdm/hostdev.h"

#define GGDM_ELEM_LAUNCHES_avgpool_forward(F) F(avgpool_forward, y)
#define GGDM_ELEM_LAUNCHES_avgpool_backward(F) F(avgpool_backward, dx)

GGDM_HD static inline long ggdm_elem_avgpool_forward_y_count(int N, int C, long P)
{
    return N > 0 && C > 0 && P > 0 ? (long)N * C : 0;
}

GGDM_HD static inline void ggdm_elem_avgpool_forward_y(float *y, const float *x, int N, int C, long P, long idx)
{
    const float *xr = x + idx * P;
    float acc = 0.0f;
    long p;
    (void)N, (void)C;
    for (p = 0; p < P; p++)
        acc = acc + xr[p];
    y[idx] = acc / (float)P;
}

GGDM_HD static inline long ggdm_elem_avgpool_backward_dx_count(int N, int C, long P)
{
    return N > 0 && C > 0 && P > 0 ? (long)N * C * P : 0;
}

GGDM_HD static inline void ggdm_elem_avgpool_backward_dx(float *dx, const float *dy, int N, int C, long P, long idx)
{
    (void)N, (void)C;
    dx[idx] = dx[idx] + dy[idx / P] / (float)P;
}

#endif /* GGDM_ELEM_AVGPOOL_H */
