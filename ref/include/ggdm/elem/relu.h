/*
 * ggdm/elem/relu.h - the RELU op's element functions (ggdm/ops.def; docs/nn.md "ReLU").
 *   y  = x > 0 ? x : (x is NaN ? x : +0)       (PyTorch's relu: NaN propagates; -0 -> +0)
 * VJP, ADDED into dx:
 *   dx = dx + (x > 0 ? dy : +0)                 (threshold_backward: masked where x <= 0)
 * C99 and CUDA __host__ __device__. Launch order: forward y; VJP dx.
 */
#ifndef GGDM_ELEM_RELU_H
#define GGDM_ELEM_RELU_H

#include "ggdm/hostdev.h"

#define GGDM_ELEM_LAUNCHES_relu_forward(F) F(relu_forward, y)
#define GGDM_ELEM_LAUNCHES_relu_backward(F) F(relu_backward, dx)

GGDM_HD static inline float ggdm_relu(float x)
{
    return x > 0.0f ? x : (x != x ? x : 0.0f);
}

GGDM_HD static inline long ggdm_elem_relu_forward_y_count(long n)
{
    return n > 0 ? n : 0;
}

GGDM_HD static inline void ggdm_elem_relu_forward_y(float *y, const float *x, long n, long idx)
{
    (void)n;
    y[idx] = ggdm_relu(x[idx]);
}

GGDM_HD static inline long ggdm_elem_relu_backward_dx_count(long n)
{
    return n > 0 ? n : 0;
}

GGDM_HD static inline void ggdm_elem_relu_backward_dx(float *dx, const float *dy, const float *x, long n, long idx)
{
    (void)n;
    dx[idx] = dx[idx] + (x[idx] > 0.0f ? dy[idx] : 0.0f);
}

#endif /* GGDM_ELEM_RELU_H */
