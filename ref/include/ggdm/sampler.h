/*
 * ggdm/sampler.h - the sampler (the scheduler's update rule) as an interface.
 *
 * A sampling run (ggdm_sample_run in ggdm/diffusion.h) makes num_steps(T) iterations
 * i = 0, 1, ...: it evaluates the (guided) score at step t = timestep(T, i), draws fresh noise
 * z when noisy(T, i) (Philox stream STEP_NOISE(round, t), or entry i + 1 of a caller's noise
 * array) and calls update(i) to get the next x. The sampler's workspace (workspace_bytes,
 * may be NULL for none) is one block that lives for the whole run (multi-step methods keep
 * their history there). DDPM ancestral sampling is the library's implementation today;
 * PNDM / DDIM plug in by providing another ggdm_sampler_ops table.
 */
#ifndef GGDM_SAMPLER_H
#define GGDM_SAMPLER_H

#include <stddef.h>

#include "ggdm/status.h"

typedef struct ggdm_sampler_ops {
    const char *name;
    int (*num_steps)(const void *ctx, int T);
    int (*timestep)(const void *ctx, int T, int i);
    int (*noisy)(const void *ctx, int T, int i);
    ggdm_status (*workspace_bytes)(const void *ctx, int N, int D, size_t *bytes);
    /* x_out [N, D] from x, the step's eps and (when noisy) z; i: the iteration (0 first) */
    ggdm_status (*update)(const void *ctx, const float *tab, int T, int i, int N, int D, const float *x,
                          const float *eps, const float *z, float *x_out, void *ws, size_t ws_bytes);
} ggdm_sampler_ops;

typedef struct ggdm_sampler {
    const ggdm_sampler_ops *ops;
    const void *ctx;
} ggdm_sampler;

/* DDPM: T iterations, t = T - 1 - i, noise at t > 0, update = ggdm_ddpm_update (diffusion.h). */
extern const ggdm_sampler_ops ggdm_sampler_ddpm_ops;
extern const ggdm_sampler ggdm_sampler_ddpm;

#endif /* GGDM_SAMPLER_H */
