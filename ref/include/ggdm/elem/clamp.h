/*
 * ggdm/elem/clamp.h - the CLAMP op's element functions (ggdm/ops.def; docs/nn.md, "Stable
 * Diffusion's element ops"): y = min(max(x, lo), hi), lo <= hi, as
 *   y = x < lo ? lo : (x > hi ? hi : x)
 * (no rounding; a NaN x propagates: both comparisons are false; an x equal to a bound is
 * kept, so x = -0 with lo = +0 stays -0). VJP, ADDED into (PyTorch's mask x >= lo & x <= hi):
 *   dx = dx + dy where lo <= x <= hi; elsewhere (and for a NaN x) nothing is added.
 * C99 and CUDA __host__ __device__. Launch order: forward y; VJP dx.
 */
#ifndef GGDM_ELEM_CLAMP_H
#define GGDM_ELEM_CLAMP_H

#include "ggdm/hostdev.h"

#define GGDM_ELEM_LAUNCHES_clamp_forward(F) F(clamp_forward, y)
#define GGDM_ELEM_LAUNCHES_clamp_backward(F) F(clamp_backward, dx)

GGDM_HD static inline long ggdm_elem_clamp_forward_y_count(long n)
{
    return n > 0 ? n : 0;
}

GGDM_HD static inline void ggdm_elem_clamp_forward_y(float *y, const float *x, long n, float lo, float hi, long idx)
{
    float v = x[idx];
    (void)n;
    y[idx] = v < lo ? lo : (v > hi ? hi : v);
}

GGDM_HD static inline long ggdm_elem_clamp_backward_dx_count(long n)
{
    return n > 0 ? n : 0;
}

GGDM_HD static inline void ggdm_elem_clamp_backward_dx(float *dx, const float *dy, const float *x, long n, float lo,
                                                       float hi, long idx)
{
    float v = x[idx];
    (void)n;
    if (v >= lo && v <= hi)
        dx[idx] = dx[idx] + dy[idx];
}

#endif /* GGDM_ELEM_CLAMP_H */
