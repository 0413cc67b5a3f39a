/*
 * ggdm/elem/qgelu.h - the QGELU op's element functions (ggdm/ops.def; docs/nn.md, "Stable
 * Diffusion's element ops"): CLIP's quick_gelu, x * sigmoid(1.702 x), as PyTorch evaluates
 * it (1.702 is the float 0x1.b3b646p+0 when it multiplies a float32 tensor):
 *   t = 1.702f * x;  s = 1.0f / (1.0f + ggdm_expf(-t));  y = x * s
 * VJP, ADDED into, with d/dx [x sigma(k x)] = sigma + k x sigma (1 - sigma):
 *   dx = dx + dy * (s * (1.0f + t * (1.0f - s)))             (the form of ggdm_silu_grad)
 * Large |x| saturates without NaN: qgelu(-100) = -0, qgelu_grad(-100) = -0, qgelu_grad(100) = 1.
 * C99 and CUDA __host__ __device__. Launch order: forward y; VJP dx.
 */
#ifndef GGDM_ELEM_QGELU_H
#define GGDM_ELEM_QGELU_H

#include "ggdm/dmath.h"
#include "ggdm/hostdev.h"

#define GGDM_ELEM_LAUNCHES_qgelu_forward(F) F(qgelu_forward, y)
#define GGDM_ELEM_LAUNCHES_qgelu_backward(F) F(qgelu_backward, dx)

#define GGDM_QGELU_K 1.702f

GGDM_HD static inline float ggdm_qgelu(float x)
{
    float t = GGDM_QGELU_K * x;
    float s = 1.0f / (1.0f + ggdm_expf(-t));
    return x * s;
}

GGDM_HD static inline float ggdm_qgelu_grad(float x)
{
    float t = GGDM_QGELU_K * x;
    float s = 1.0f / (1.0f + ggdm_expf(-t));
    return s * (1.0f + t * (1.0f - s));
}

GGDM_HD static inline long ggdm_elem_qgelu_forward_y_count(long n)
{
    return n > 0 ? n : 0;
}

GGDM_HD static inline void ggdm_elem_qgelu_forward_y(float *y, const float *x, long n, long idx)
{
    (void)n;
    y[idx] = ggdm_qgelu(x[idx]);
}

GGDM_HD static inline long ggdm_elem_qgelu_backward_dx_count(long n)
{
    return n > 0 ? n : 0;
}

GGDM_HD static inline void ggdm_elem_qgelu_backward_dx(float *dx, const float *dy, const float *x, long n, long idx)
{
    (void)n;
    dx[idx] = dx[idx] + dy[idx] * ggdm_qgelu_grad(x[idx]);
}

#endif /* GGDM_ELEM_QGELU_H */
