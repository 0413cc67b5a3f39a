/*
 * ggdm/elem/temb.h - the TEMB op's diffusers kind (GGDM_TEMB_DIFFUSERS; docs/nn.md, "Time
 * embedding"): diffusers' get_timestep_embedding with flip_sin_to_cos = True and
 * downscale_freq_shift = 0 (Stable Diffusion's Timesteps), width dim = 2 half:
 *   e_i   = ggdm_expf(((float)(-ln 10000) * (float)i) / (float)half)    (torch: -log(10000) *
 *           arange(half) in float32, / half in float32, exp)
 *   arg   = t * e_i                                                        (float32)
 *   emb[n, i] = ggdm_cosf(arg), emb[n, half + i] = ggdm_sinf(arg)          ([cos, sin])
 * C99 and CUDA __host__ __device__. Launch order: emb.
 */
#ifndef GGDM_ELEM_TEMB_H
#define GGDM_ELEM_TEMB_H

#include "ggdm/dmath.h"
#include "ggdm/hostdev.h"

#define GGDM_ELEM_LAUNCHES_temb_diffusers(F) F(temb_diffusers, emb)

GGDM_HD static inline float ggdm_temb_diffusers_value(float t, int j, int dim)
{
    int half = dim / 2, i = j < half ? j : j - half;
    float c = (float)-ggdm_log(10000.0);
    float arg = t * ggdm_expf((c * (float)i) / (float)half);
    return j < half ? ggdm_cosf(arg) : ggdm_sinf(arg);
}

GGDM_HD static inline long ggdm_elem_temb_diffusers_emb_count(int N, int dim)
{
    return N > 0 && dim > 0 ? (long)N * dim : 0;
}

GGDM_HD static inline void ggdm_elem_temb_diffusers_emb(float *emb, const float *t, int N, int dim, long idx)
{
    (void)N;
    emb[idx] = ggdm_temb_diffusers_value(t[idx / dim], (int)(idx % dim), dim);
}

#endif /* GGDM_ELEM_TEMB_H */
