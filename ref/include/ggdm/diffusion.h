/*
 * ggdm/diffusion.h - DDPM ancestral sampling, guidance G (v1) and G_loss (v2), and the
 * training step (original.md §3-5). docs/diffusion.md gives the exact order of every
 * operation. Allocation-free: one caller workspace per call.
 */
#ifndef GGDM_DIFFUSION_H
#define GGDM_DIFFUSION_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/adam.h"
#include "ggdm/reward.h"
#include "ggdm/sampler.h"
#include "ggdm/score.h"
#include "ggdm/status.h"
#include "ggdm/unet.h"

/* The score model (ggdm/score.h: the Unet1D, the analytic score or your own) and the
 * sampler (ggdm/sampler.h: DDPM or your own) are interfaces: sampling and guidance below
 * call them only through their function tables. */
typedef enum ggdm_guide_version {
    GGDM_GUIDE_NONE = 0, /* unguided DDPM */
    GGDM_GUIDE_V1 = 1,   /* G: the naive gradient guidance */
    GGDM_GUIDE_V2 = 2    /* G_loss: the look-ahead loss gradient (one VJP per sample and step) */
} ggdm_guide_version;

typedef struct ggdm_guide_cfg {
    ggdm_guide_version version;
    double beta;      /* constant guidance strength; 0 means "use the beta_t formula" (the original's quirk) */
    double beta_coef; /* multiplies beta_t (1 in the published runs) */
    double sigma;     /* 0.1 */
} ggdm_guide_cfg;

void ggdm_guide_cfg_default(ggdm_guide_cfg *c);

/* Per-call statistics of the guidance (for logs): means over samples and steps. */
typedef struct ggdm_guide_stats {
    double guidance;      /* mean |guidance term| (the norm of G - s) */
    double mean_beta;     /* mean beta_t * beta_coef */
    uint64_t count;       /* sample-steps accumulated */
} ggdm_guide_stats;

/*
 * One DDPM update at step t (all samples): x0 = sra[t] x - srm1[t] eps;
 * mean = c1[t] x0 + c2[t] x; x_out = mean + std_t z (t > 0), std_t = ggdm_expf(0.5f * logvar[t]);
 * x_out = mean at t = 0 (z unused, may be NULL). tab: the 12 x T schedule tables.
 */
ggdm_status ggdm_ddpm_update(const float *tab, int T, int t, int N, int D, const float *x, const float *eps,
                             const float *z, float *x_out);

/*
 * The guided noise prediction of one step from the model's eps (and, for v2, jtg = J_eps(x)^T g
 * per sample): eps_out = -G * n_t (original.md §4). g [N, D], y [N]. stats may be NULL.
 */
ggdm_status ggdm_guide_apply(const ggdm_guide_cfg *gc, const float *tab, int T, int t, int N, int D, const float *x,
                             const float *eps, const float *g, const float *y, const float *jtg, float *eps_out,
                             ggdm_guide_stats *stats);

/* Workspace for ggdm_guided_eps / ggdm_sample with this model, batch and guidance. */
ggdm_status ggdm_sample_workspace_bytes(const ggdm_score *m, int N, ggdm_guide_version v, size_t *bytes);

/* eps (guided when gc->version != NONE) of one step for a batch. */
ggdm_status ggdm_guided_eps(const ggdm_score *m, const ggdm_guide_cfg *gc, const float *tab, int T, int t, int N,
                            const float *x, const float *g, const float *y, float *eps_out, ggdm_guide_stats *stats,
                            void *ws, size_t ws_bytes);

/*
 * A full sampling run: N samples, numbered first .. first+N-1 in the run (so a run split into
 * batches gives the same samples), x_T and the per-step noise from the Philox streams
 * INIT_NOISE(a = round) and STEP_NOISE(a = round, b = t), index sample*D + j; or, when noise is
 * not NULL, from noise [(T+1), N, D]: entry 0 is x_T, entry j >= 1 the z added at t = T - j.
 * progress (may be NULL) is called after every step with the number of steps done.
 */
typedef void (*ggdm_progress_fn)(void *ctx, int steps_done, int steps_total);
ggdm_status ggdm_sample(const ggdm_score *m, const ggdm_guide_cfg *gc, const float *tab, int T, int N,
                        uint64_t seed, uint32_t round, uint64_t first, const float *g, const float *y,
                        const float *noise, float *x_out, ggdm_guide_stats *stats, void *ws, size_t ws_bytes,
                        ggdm_progress_fn progress, void *progress_ctx);

/*
 * One training step (original.md §5) on a batch x0 [N, D]: t_i = ggdm_rng_below(seed,
 * TRAIN_T(a, b), first + i, T); z from TRAIN_NOISE(a, b), index (first + i)*D + j; loss and
 * parameter gradients (grad is overwritten), then one Adam step. loss may be NULL.
 * Workspace: ggdm_train_workspace_bytes.
 */
ggdm_status ggdm_train_workspace_bytes(const ggdm_unet_cfg *cfg, int N, size_t *bytes);
ggdm_status ggdm_train_step(const ggdm_unet_cfg *cfg, float *params, float *grad, const ggdm_adam_cfg *ac,
                            ggdm_adam_state *as, float *adam_m, float *adam_v, const float *tab, int T, int N,
                            const float *x0, uint64_t seed, uint32_t a, uint32_t b, uint64_t first, float *loss,
                            void *ws, size_t ws_bytes);

/*
 * Step a. of an optimisation round (original.md §8): rewards f [N] (float64), gradients
 * g [N, D] (float32) and targets y_i = (float)(interval + <g_i, z_i>), the inner product a
 * float64 fma chain over j. GGDM_ERR_NONFINITE when a reward is not finite.
 */
ggdm_status ggdm_opt_targets(ggdm_reward_kind kind, const double *param, int D, const float *z, int N,
                             double interval, double *f, float *g, float *y);

/*
 * The same with an executor (ggdm/exec.h): bit-identical results for every executor and
 * thread count. The sampling workspace must then have ggdm_sample_workspace_bytes_ex bytes
 * (the network runs one chunk of samples per thread); training needs no more workspace
 * (its threads run inside the convolutions).
 */
ggdm_status ggdm_sample_workspace_bytes_ex(const ggdm_score *m, int N, ggdm_guide_version v, const ggdm_exec *ex,
                                           size_t *bytes);
ggdm_status ggdm_guided_eps_ex(const ggdm_score *m, const ggdm_guide_cfg *gc, const float *tab, int T, int t, int N,
                               const float *x, const float *g, const float *y, float *eps_out,
                               ggdm_guide_stats *stats, void *ws, size_t ws_bytes, const ggdm_exec *ex);
ggdm_status ggdm_sample_ex(const ggdm_score *m, const ggdm_guide_cfg *gc, const float *tab, int T, int N,
                           uint64_t seed, uint32_t round, uint64_t first, const float *g, const float *y,
                           const float *noise, float *x_out, ggdm_guide_stats *stats, void *ws, size_t ws_bytes,
                           ggdm_progress_fn progress, void *progress_ctx, const ggdm_exec *ex);
ggdm_status ggdm_train_step_ex(const ggdm_unet_cfg *cfg, float *params, float *grad, const ggdm_adam_cfg *ac,
                               ggdm_adam_state *as, float *adam_m, float *adam_v, const float *tab, int T, int N,
                               const float *x0, uint64_t seed, uint32_t a, uint32_t b, uint64_t first, float *loss,
                               void *ws, size_t ws_bytes, const ggdm_exec *ex);

/*
 * A sampling run with any sampler (ggdm/sampler.h; NULL: DDPM, which makes ggdm_sample_ex
 * exactly this call): iteration i evaluates the guided eps at t = sampler timestep(T, i)
 * and, when the sampler adds noise there, draws z from STEP_NOISE(a = round, b = t) or takes
 * entry i + 1 of noise [(steps + 1), N, D]. progress gets (i + 1, steps). The workspace must
 * have ggdm_sample_run_workspace_bytes bytes (the model's, the run's buffers and the
 * sampler's own).
 */
ggdm_status ggdm_sample_run_workspace_bytes(const ggdm_score *m, const ggdm_sampler *s, int N, ggdm_guide_version v,
                                            const ggdm_exec *ex, size_t *bytes);
ggdm_status ggdm_sample_run(const ggdm_score *m, const ggdm_sampler *s, const ggdm_guide_cfg *gc, const float *tab,
                            int T, int N, uint64_t seed, uint32_t round, uint64_t first, const float *g,
                            const float *y, const float *noise, float *x_out, ggdm_guide_stats *stats, void *ws,
                            size_t ws_bytes, ggdm_progress_fn progress, void *progress_ctx, const ggdm_exec *ex);
#endif /* GGDM_DIFFUSION_H */
