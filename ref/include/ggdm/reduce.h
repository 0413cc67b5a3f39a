/*
 * ggdm/reduce.h - the fixed reduction orders of ggdm (docs/math.md, "Reductions").
 *
 * Every reduction that produces one output value is ONE sequential chain, element 0
 * first, starting from +0. Products are fused into the chain with an explicit fmaf
 * (acc = fmaf(a[i], b[i], acc)), so every platform computes the same bits. Speed comes
 * from running many independent chains side by side (SIMD lanes over outputs), never
 * from reassociating one chain.
 */
#ifndef GGDM_REDUCE_H
#define GGDM_REDUCE_H

#include <math.h>

#include "ggdm/hostdev.h"

/* sum_i a[i*sa] * b[i*sb] as the chain acc = fmaf(a, b, acc), acc0 = +0. */
GGDM_HD static inline float ggdm_dot_f32(const float *a, long sa, const float *b, long sb, long n)
{
    float acc = 0.0f;
    long i;
    for (i = 0; i < n; i++)
        acc = fmaf(a[i * sa], b[i * sb], acc);
    return acc;
}

/* sum_i x[i*sx] as the chain acc = acc + x, acc0 = +0. */
GGDM_HD static inline float ggdm_sum_f32(const float *x, long sx, long n)
{
    float acc = 0.0f;
    long i;
    for (i = 0; i < n; i++)
        acc = acc + x[i * sx];
    return acc;
}

/*
 * Mean and biased variance (divide by n), two passes:
 *   mean = sum(x) / n;  var = (chain acc = fmaf(d, d, acc) over d = x - mean) / n.
 */
GGDM_HD static inline void ggdm_mean_var_f32(const float *x, long sx, long n, float *mean, float *var)
{
    float m = ggdm_sum_f32(x, sx, n) / (float)n;
    float acc = 0.0f;
    long i;
    for (i = 0; i < n; i++) {
        float d = x[i * sx] - m;
        acc = fmaf(d, d, acc);
    }
    *mean = m;
    *var = acc / (float)n;
}

/* float64 dot product, acc = fma(a, b, acc), acc0 = +0. */
GGDM_HD static inline double ggdm_dot_f64(const double *a, long sa, const double *b, long sb, long n)
{
    double acc = 0.0;
    long i;
    for (i = 0; i < n; i++)
        acc = fma(a[i * sa], b[i * sb], acc);
    return acc;
}

#endif /* GGDM_REDUCE_H */
