/* The sampler interface's DDPM implementation (ggdm/sampler.h): ggdm_ddpm_update per step. */
#include "ggdm/sampler.h"

#include "ggdm/diffusion.h"

static int ddpm_num_steps(const void *ctx, int T)
{
    (void)ctx;
    return T;
}

static int ddpm_timestep(const void *ctx, int T, int i)
{
    (void)ctx;
    return T - 1 - i;
}

static int ddpm_noisy(const void *ctx, int T, int i)
{
    (void)ctx;
    return T - 1 - i > 0;
}

static ggdm_status ddpm_update(const void *ctx, const float *tab, int T, int i, int N, int D, const float *x,
                               const float *eps, const float *z, float *x_out, void *ws, size_t ws_bytes)
{
    (void)ctx;
    (void)ws;
    (void)ws_bytes;
    return ggdm_ddpm_update(tab, T, T - 1 - i, N, D, x, eps, z, x_out);
}

const ggdm_sampler_ops ggdm_sampler_ddpm_ops = {"ddpm", ddpm_num_steps, ddpm_timestep, ddpm_noisy, NULL,
                                                ddpm_update};
const ggdm_sampler ggdm_sampler_ddpm = {&ggdm_sampler_ddpm_ops, NULL};
