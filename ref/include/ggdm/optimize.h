/*
 * ggdm/optimize.h - one round of Algorithm 1 (and 2, with fine-tuning) of the paper as one
 * library call (original.md §8), the round the command line (`ggdm original --optimize`,
 * `ggdm demo`), the conformance vectors (`opt_round`) and later the sweeps and bindings run.
 *
 * Round 0 is the unguided baseline: x from ggdm_sample_run(round 0, no guidance), then the
 * rewards. A round r >= 1 starts from the current samples z of the state:
 *   a. targets: f, g = reward and gradient at z, y_i = interval + <g_i, z_i>
 *      (ggdm_opt_targets);
 *   b. Algorithm 2 (when fine-tuning is configured and this round is one of the ft_rounds
 *      rounds from ft_start on, counted with r - 1): ft_steps training steps, step j on the
 *      samples [j bs, (j + 1) bs), bs = N / ft_steps, streams TRAIN_T/TRAIN_NOISE with
 *      a = 2^23 + (r - 1), b = j, then one Adam step each (ggdm_train_step_ex);
 *   c. fresh guided samples: ggdm_sample_run(round r, guidance cfg->guide, g, y) into z;
 *      they must be finite;
 *   d. metrics of the new z: mean reward and ratio, and the same over the top-K samples
 *      (reward descending, then sample index: torch.topk's order).
 * All state lives in caller memory (ggdm_opt_state_bytes / ggdm_opt_state_init); the call
 * neither allocates nor prints. Bit-identical for every executor and thread count.
 */
#ifndef GGDM_OPTIMIZE_H
#define GGDM_OPTIMIZE_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/adam.h"
#include "ggdm/diffusion.h"
#include "ggdm/exec.h"
#include "ggdm/reward.h"
#include "ggdm/status.h"
#include "ggdm/unet.h"

/* How the "ratio" metric is measured (ggdm/data.h). */
typedef enum ggdm_opt_ratio {
    GGDM_OPT_RATIO_NONE = 0,         /* not measured: ratios 0 */
    GGDM_OPT_RATIO_LINEAR_LATENT = 1, /* ggdm_ratio_linear_latent(ratio_A, ratio_d) */
    GGDM_OPT_RATIO_UNIT_BALL = 2      /* ggdm_ratio_unit_ball */
} ggdm_opt_ratio;

/* The phases of a round, in order (the hook is called after each one that ran). */
typedef enum ggdm_opt_phase {
    GGDM_OPT_PHASE_NONE = 0,
    GGDM_OPT_PHASE_TARGETS = 1,  /* a. (rounds >= 1) */
    GGDM_OPT_PHASE_FINETUNE = 2, /* b. (when this round fine-tunes) */
    GGDM_OPT_PHASE_SAMPLE = 3,   /* c. the sampling run */
    GGDM_OPT_PHASE_CHECK = 4,    /* c. the samples are finite (else GGDM_ERR_NONFINITE) */
    GGDM_OPT_PHASE_EVALUATE = 5  /* d. rewards, ratios, metrics */
} ggdm_opt_phase;

/* A round's metrics. NaN where a value does not exist (round 0's targets, no fine-tuning). */
typedef struct ggdm_opt_metrics {
    double reward, ratio, top_reward, top_ratio; /* of the round's new samples */
    double y0, mean_y;       /* the targets: sample 0's and their mean */
    double loss;             /* mean fine-tuning loss over the round's steps */
    double gnorm, mean_beta; /* mean |G - s| and beta_t * beta_coef over the sampling steps (0: unguided) */
    int ft_steps;            /* training steps this round ran (0: none) */
    ggdm_opt_phase failed;   /* on an error: the phase that failed; GGDM_OPT_PHASE_NONE on success */
} ggdm_opt_metrics;

/* Called after each phase that ran, with the metrics so far and the state (read only). */
struct ggdm_opt_state;
typedef void (*ggdm_opt_hook_fn)(void *ctx, int round, ggdm_opt_phase done, const ggdm_opt_metrics *m,
                                 const struct ggdm_opt_state *st);

typedef struct ggdm_opt_cfg {
    const ggdm_score *score;     /* the sampling model (D = score->D); for fine-tuning the Unet1D whose
                                  * parameters are ft_params */
    const ggdm_sampler *sampler; /* NULL: DDPM */
    const float *tab;            /* the 12 x T schedule tables */
    int T, N;                    /* steps; samples per round */
    uint64_t seed;               /* the run's seed: every Philox stream */
    ggdm_guide_cfg guide;        /* the guidance of rounds >= 1 (round 0 is unguided) */
    ggdm_reward_kind reward;     /* the reward and its parameter (ggdm/reward.h) */
    const double *reward_param;
    double interval;             /* the targets' step: y = interval + <g, z> */
    ggdm_opt_ratio ratio;        /* the ratio metric; ratio_A [ratio_d, D] for LINEAR_LATENT */
    const double *ratio_A;
    int ratio_d;
    int top_k;                   /* K of the top-K metrics (min(K, N) used) */
    /* Algorithm 2: fine-tuning when ft_params != NULL and ft_steps >= 1 */
    const ggdm_unet_cfg *ft_net;
    float *ft_params;            /* the network's parameters, updated in place */
    int ft_steps;                /* steps per fine-tuning round (bs = N / ft_steps >= 1) */
    int ft_start, ft_rounds;     /* rounds r with r - 1 >= ft_start fine-tune, at most ft_rounds of them */
    ggdm_adam_cfg ft_adam;
    /* optional */
    ggdm_progress_fn progress;   /* each sampling step (ggdm_sample_run's progress) */
    void *progress_ctx;
    ggdm_opt_hook_fn hook;       /* after each phase */
    void *hook_ctx;
} ggdm_opt_cfg;

/* Defaults: DDPM, guidance defaults, top_k 4, no ratio, no fine-tuning, Adam defaults. */
void ggdm_opt_cfg_default(ggdm_opt_cfg *c);

/*
 * The state between rounds, carved from one caller block by ggdm_opt_state_init. z holds the
 * current samples (a round's output and the next round's input); f, ratio the rewards and
 * ratios of z after the round; g, y the round's reward gradients and targets; losses
 * [ft_steps] the round's training losses. Fine-tuning: grad, adam_m, adam_v [num_params],
 * adam (its step), ft_done (rounds fine-tuned so far), ft_steps_done (training steps so far).
 * A caller resuming a run writes z, adam_m, adam_v, adam.step, ft_done and ft_steps_done.
 */
typedef struct ggdm_opt_state {
    float *z, *g, *y, *losses;
    double *f, *ratio;
    float *grad, *adam_m, *adam_v;
    uint64_t num_params;
    ggdm_adam_state adam;
    int ft_done;
    int64_t ft_steps_done;
    /* internal */
    void *rank;
    void *sample_ws, *train_ws;
    size_t sample_ws_bytes, train_ws_bytes;
    int N, D;
} ggdm_opt_state;

/* Bytes of the block for ggdm_opt_state_init (the sampling and training workspaces included). */
ggdm_status ggdm_opt_state_bytes(const ggdm_opt_cfg *c, const ggdm_exec *ex, size_t *bytes);

/*
 * Carves mem (at least ggdm_opt_state_bytes bytes; 64-byte aligned runs fastest) into st and
 * zeroes it (Adam's moments, step 0, counters 0). GGDM_ERR_BUFFER_TOO_SMALL when short.
 */
ggdm_status ggdm_opt_state_init(const ggdm_opt_cfg *c, const ggdm_exec *ex, void *mem, size_t mem_bytes,
                                ggdm_opt_state *st);

/*
 * Round `round` (0: the baseline; >= 1: a., b., c., d. above) with the state of the same cfg.
 * m (may be NULL) gets the metrics; on an error m->failed names the phase (the state's z is
 * then unspecified). GGDM_ERR_NONFINITE: a non-finite reward or sample.
 */
ggdm_status ggdm_opt_round(const ggdm_opt_cfg *c, ggdm_opt_state *st, int round, ggdm_opt_metrics *m,
                           const ggdm_exec *ex);

/* The indices of the K largest of f[0..N-1], reward descending, then index (torch.topk's
 * order, the round's top-K metrics): idx[0..K-1]. scratch: ggdm_opt_top_k_bytes(N) bytes,
 * 8-byte aligned. GGDM_ERR_ARG for K outside 0..N. */
size_t ggdm_opt_top_k_bytes(int N);
ggdm_status ggdm_opt_top_k(const double *f, int N, int K, int *idx, void *scratch, size_t scratch_bytes);

#endif /* GGDM_OPTIMIZE_H */
