/*
 * ggdm/elem/upsample2d.h - the 2-D UPSAMPLE op's element functions (a.sh = 2; ggdm/ops.def;
 * docs/nn.md, "FiLM and upsampling"; ref/src/ops/upsample.c): nearest-neighbour upsampling
 * by 2 along H and W, x [N, C, H, W] -> y [N, C, 2H, 2W]:
 *   y[n,c,h2,w2]  = x[n,c,h2/2,w2/2]
 *   dx[n,c,h,w]  += (((dy[n,c,2h,2w] + dy[n,c,2h,2w+1]) + dy[n,c,2h+1,2w]) + dy[n,c,2h+1,2w+1])
 * (the four terms in this order, one rounding each, then one addition into dx).
 * C99 and CUDA __host__ __device__. Launch order: forward y; VJP dx.
 */
#ifndef GGDM_ELEM_UPSAMPLE2D_H
#define GGDM_ELEM_UPSAMPLE2D_H

#include "ggdm/hostdev.h"

#define GGDM_ELEM_LAUNCHES_upsample2d_forward(F) F(upsample2d_forward, y)
#define GGDM_ELEM_LAUNCHES_upsample2d_backward(F) F(upsample2d_backward, dx)

GGDM_HD static inline long ggdm_elem_upsample2d_forward_y_count(int N, int C, int H, int W)
{
    return N > 0 && C > 0 && H > 0 && W > 0 ? (long)N * C * 4 * H * W : 0;
}

GGDM_HD static inline void ggdm_elem_upsample2d_forward_y(float *y, const float *x, int N, int C, int H, int W,
                                                          long idx)
{
    long W2 = 2L * W, HW4 = 4L * H * W;
    long w2 = idx % W2, h2 = (idx / W2) % (2L * H), r = idx / HW4;
    (void)N;
    (void)C;
    y[idx] = x[(r * H + h2 / 2) * W + w2 / 2];
}

GGDM_HD static inline long ggdm_elem_upsample2d_backward_dx_count(int N, int C, int H, int W)
{
    return N > 0 && C > 0 && H > 0 && W > 0 ? (long)N * C * H * W : 0;
}

GGDM_HD static inline void ggdm_elem_upsample2d_backward_dx(float *dx, const float *dy, int N, int C, int H, int W,
                                                            long idx)
{
    long w = idx % W, h = (idx / W) % H, r = idx / ((long)H * W), W2 = 2L * W;
    const float *d0 = dy + (r * 2 * H + 2 * h) * W2 + 2 * w, *d1 = d0 + W2;
    (void)N;
    (void)C;
    dx[idx] = dx[idx] + (((d0[0] + d0[1]) + d1[0]) + d1[1]);
}

#endif /* GGDM_ELEM_UPSAMPLE2D_H */
