/*
 * ggdm/sd_sched.h - Stable Diffusion v1.5's samplers: diffusers 0.25.1's PNDMScheduler
 * (skip_prk_steps, i.e. PLMS) and DDIMScheduler (eta 0), with SD v1.5's scheduler_config
 * (scaled_linear betas, set_alpha_to_one false, steps_offset 1, timestep_spacing "leading",
 * prediction_type epsilon, clip_sample false).
 *
 * Every value is float32 in torch's operation order (docs/sd.md, "Schedulers"), so that a
 * generation reproduces diffusers' latents bit for bit given the same model outputs. No
 * allocation: the PNDM state's model-output history lives in caller memory.
 *
 * A generation: ggdm_sd_sched_alphas_cumprod (the table, once), ggdm_sd_sched_timesteps (the
 * UNet's timestep per call), ggdm_sd_sched_start, then per call i = 0 .. calls-1:
 * eps = UNet(z, t[i]); ggdm_sd_sched_step(cfg, st, ac, eps, z) (z is updated in place).
 */
#ifndef GGDM_SD_SCHED_H
#define GGDM_SD_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/status.h"

typedef enum ggdm_sd_sched_kind { GGDM_SD_SCHED_PNDM = 0, GGDM_SD_SCHED_DDIM = 1 } ggdm_sd_sched_kind;

#define GGDM_SD_SCHED_MSG_LEN 160

/* Largest num_train_timesteps accepted. */
#define GGDM_SD_SCHED_MAX_T 100000

typedef struct ggdm_sd_sched_cfg {
    ggdm_sd_sched_kind kind;
    int num_train_timesteps;     /* 1000 */
    double beta_start, beta_end; /* 0.00085, 0.012; beta_schedule "scaled_linear" */
    int steps_offset;            /* 1 */
    int set_alpha_to_one;        /* 0 */
    int steps;                   /* num_inference_steps (50) */
} ggdm_sd_sched_cfg;

/* SD v1.5's scheduler_config with the given kind and number of inference steps. */
void ggdm_sd_sched_cfg_sd15(ggdm_sd_sched_cfg *cfg, ggdm_sd_sched_kind kind, int steps);

/*
 * GGDM_OK, or GGDM_ERR_ARG with the reason in msg (GGDM_SD_SCHED_MSG_LEN chars; msg may be
 * NULL): kind PNDM or DDIM; 2 <= num_train_timesteps <= GGDM_SD_SCHED_MAX_T; beta_start and
 * beta_end in (0, 1); steps_offset >= 0; set_alpha_to_one 0 or 1; 1 <= steps <=
 * num_train_timesteps; the largest timestep (steps-1) * (T / steps) + steps_offset <= T - 1
 * (diffusers would index past the table).
 */
ggdm_status ggdm_sd_sched_cfg_check(const ggdm_sd_sched_cfg *cfg, char *msg);

/* alphas_cumprod [num_train_timesteps] (float32; docs/sd.md, "Schedulers"). */
ggdm_status ggdm_sd_sched_alphas_cumprod(const ggdm_sd_sched_cfg *cfg, float *ac);

/* Network calls of one generation: PNDM steps + 1 (1 for steps = 1), DDIM steps; 0 for an invalid cfg. */
int ggdm_sd_sched_calls(const ggdm_sd_sched_cfg *cfg);

/* The timestep passed to the UNet at each call: t[ggdm_sd_sched_calls(cfg)]. */
ggdm_status ggdm_sd_sched_timesteps(const ggdm_sd_sched_cfg *cfg, int64_t *t);

/* Caller-owned plain data; set by ggdm_sd_sched_start, advanced by ggdm_sd_sched_step. */
typedef struct ggdm_sd_sched_state {
    int kind, num_train_timesteps, steps, steps_offset, set_alpha_to_one; /* the cfg it was started with */
    int calls;   /* ggdm_sd_sched_calls */
    int counter; /* calls done (diffusers' counter) */
    int n_ets;   /* PNDM: model outputs in the history (0 .. 4) */
    int ets_new; /* PNDM: ring slot of the newest one */
    size_t n;    /* latent elements */
    float *buf;  /* PNDM: 5n floats: ring of 4 model outputs, then cur_sample; DDIM: unused */
} ggdm_sd_sched_state;

/* Floats of caller memory the state needs for n latent elements (PNDM: 4 ets + cur_sample = 5n;
 * DDIM: 0); 0 also for an invalid cfg or when 5n overflows. */
size_t ggdm_sd_sched_buffer_floats(const ggdm_sd_sched_cfg *cfg, size_t n);

/* Starts a generation of n >= 1 latent elements; buf holds ggdm_sd_sched_buffer_floats(cfg, n)
 * floats (may be NULL for DDIM), kept by st until the generation ends (its contents need no
 * initialisation). */
ggdm_status ggdm_sd_sched_start(const ggdm_sd_sched_cfg *cfg, ggdm_sd_sched_state *st, size_t n, float *buf);

/*
 * Call i = st->counter: z[n] <- the scheduler's step(model_output eps, timestep t_i, sample z);
 * ac from ggdm_sd_sched_alphas_cumprod(cfg). eps and z may be the same array. GGDM_ERR_ARG for
 * NULL pointers, an invalid cfg, a cfg other than the one st was started with, and past the
 * last call (the library has no state error; st and z are then unchanged).
 */
ggdm_status ggdm_sd_sched_step(const ggdm_sd_sched_cfg *cfg, ggdm_sd_sched_state *st, const float *ac,
                               const float *eps, float *z);

#endif /* GGDM_SD_SCHED_H */
