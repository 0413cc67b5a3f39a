/*
 * ggdm/elem/affine.h - the AFFINE op's element functions (ggdm/ops.def; docs/nn.md, "Stable
 * Diffusion's element ops"): a per-channel scale and shift of x [N, C, P] (P = H W),
 *   y[n,c,p]  = (x * s_c) + t_c           a product, then a sum (two roundings)
 * with s_c = s[c] (input 1) or, when s is absent (NULL), the scalar scale, and t_c = t[c]
 * (input 2) or the scalar shift. Both operations always happen (an absent t with shift 0
 * still adds +0: -0 becomes +0). VJP, ADDED into:
 *   dx[n,c,p] = dx + dy * s_c
 *   ds[c]     = ds + (chain over n, then p of fmaf(dy[n,c,p], x[n,c,p], acc))   (s present)
 *   dt[c]     = dt + (chain over n, then p of acc + dy[n,c,p])                  (t present)
 * C99 and CUDA __host__ __device__. Launch order: forward y; VJP dx, ds, dt (independent).
 */
#ifndef GGDM_ELEM_AFFINE_H
#define GGDM_ELEM_AFFINE_H

#include <math.h>

#include "ggdm/hostdev.h"

#define GGDM_ELEM_LAUNCHES_affine_forward(F) F(affine_forward, y)
#define GGDM_ELEM_LAUNCHES_affine_backward(F) F(affine_backward, dx) F(affine_backward, ds) F(affine_backward, dt)

GGDM_HD static inline int ggdm_elem_affine_valid(int N, int C, long P)
{
    return N > 0 && C > 0 && P > 0;
}

GGDM_HD static inline long ggdm_elem_affine_forward_y_count(int N, int C, long P)
{
    return ggdm_elem_affine_valid(N, C, P) ? (long)N * C * P : 0;
}

GGDM_HD static inline void ggdm_elem_affine_forward_y(float *y, const float *x, const float *s, const float *t, int N,
                                                      int C, long P, float scale, float shift, long idx)
{
    long c = (idx / P) % C;
    (void)N;
    y[idx] = (x[idx] * (s ? s[c] : scale)) + (t ? t[c] : shift);
}

GGDM_HD static inline long ggdm_elem_affine_backward_dx_count(int N, int C, long P)
{
    return ggdm_elem_affine_valid(N, C, P) ? (long)N * C * P : 0;
}

GGDM_HD static inline void ggdm_elem_affine_backward_dx(float *dx, float *ds, float *dt, const float *dy,
                                                        const float *x, const float *s, int N, int C, long P,
                                                        float scale, long idx)
{
    long c = (idx / P) % C;
    (void)ds, (void)dt, (void)x, (void)N;
    dx[idx] = dx[idx] + dy[idx] * (s ? s[c] : scale);
}

GGDM_HD static inline long ggdm_elem_affine_backward_ds_count(int N, int C, long P)
{
    return ggdm_elem_affine_valid(N, C, P) ? (long)C : 0;
}

GGDM_HD static inline void ggdm_elem_affine_backward_ds(float *dx, float *ds, float *dt, const float *dy,
                                                        const float *x, const float *s, int N, int C, long P,
                                                        float scale, long idx)
{
    long n, p;
    float acc = 0.0f;
    (void)dx, (void)dt, (void)s, (void)scale;
    for (n = 0; n < N; n++) {
        const float *dr = dy + (n * C + idx) * P, *xr = x + (n * C + idx) * P;
        for (p = 0; p < P; p++)
            acc = fmaf(dr[p], xr[p], acc);
    }
    ds[idx] = ds[idx] + acc;
}

GGDM_HD static inline long ggdm_elem_affine_backward_dt_count(int N, int C, long P)
{
    return ggdm_elem_affine_valid(N, C, P) ? (long)C : 0;
}

GGDM_HD static inline void ggdm_elem_affine_backward_dt(float *dx, float *ds, float *dt, const float *dy,
                                                        const float *x, const float *s, int N, int C, long P,
                                                        float scale, long idx)
{
    long n, p;
    float acc = 0.0f;
    (void)dx, (void)ds, (void)x, (void)s, (void)scale;
    for (n = 0; n < N; n++) {
        const float *dr = dy + (n * C + idx) * P;
        for (p = 0; p < P; p++)
            acc = acc + dr[p];
    }
    dt[idx] = dt[idx] + acc;
}

#endif /* GGDM_ELEM_AFFINE_H */
