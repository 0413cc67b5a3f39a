// Compile-time contract of "one source of math, two drivers": every exact function of the
// reference's shared headers must compile as CUDA device code with the exact-mode flags.
// (The CUDA implementation proper launches these same functions.)
#include "ggdm/dmath.h"
#include "ggdm/philox.h"
#include "ggdm/reduce.h"
#include "ggdm/rng.h"

__global__ void ggdm_shared_headers_kernel(const float *x, float *y, double *z, uint32_t *w, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float s, c;
    ggdm_sincos2pif(x[i], &s, &c);
    y[i] = ggdm_expf(x[i]) + ggdm_logf(x[i]) + ggdm_sinf(x[i]) + ggdm_cosf(x[i]) + ggdm_erff(x[i]) +
           ggdm_tanhf(x[i]) + ggdm_sqrtf(x[i]) + ggdm_fmaf(x[i], s, c) + ggdm_dot_f32(x, 1, x, 1, n) +
           ggdm_sum_f32(x, 1, n) + ggdm_rng_normal(1234u, ggdm_stream_id(GGDM_STREAM_STEP_NOISE, 0u, 7u), i) +
           ggdm_rng_uniform(1u, 2u, i);
    z[i] = ggdm_cos((double)x[i]) + ggdm_sin((double)x[i]) + ggdm_log((double)x[i]) + ggdm_sqrt((double)x[i]);
    w[i] = ggdm_rng_u32(5u, 6u, i) ^ ggdm_rng_below(5u, 6u, i, 200u);
}

// The element files of the ops added since (ggdm/elem/<name>.h) are compiled as device code by
// their op's GPU file (gpu/ops/<name>.cu launches them with the same exact-mode flags), so
// adding an op does not touch this file.
