/*
 * ggdm/sd_guide.h - gradient-guided Stable Diffusion (the paper's image experiment; the
 * authors' GradGuidedSDPipeline; docs/image.md): one guided noise prediction, one whole
 * generation through a scheduler (ggdm/sd_sched.h), and the reward's linearisation that the
 * next round guides with.
 *
 * One call of the noise predictor at timestep t (a = alphas_cumprod[t], s1 = sqrtf(1 - a),
 * sa = sqrtf(a), float32 as the pipeline computes them):
 *
 *   [e_u; e_c] = unet([z; z], t, [text_u; text_c])        the classifier-free batch of 2 bs
 *   eps        = e_u + cfg * (e_c - e_u)                    (cfg <= 1: eps = unet(z, t, text_c))
 *   guided (a surrogate given):
 *     z0   = (z - s1 * eps) / sa;   x0 = vae.decode(z0)     (the VAE network includes 1 / 0.18215)
 *     lin_j = <g_j, x0_j>                                    (double, elements in order)
 *     res_ij = lin_j + r_i - gx_j - y*    (bias BATCH: the authors' biases broadcast to (bs, bs))
 *     res_j  = lin_j + r_j - gx_j - y*    (bias OWN: each image's own reward)
 *     L = 0.5 * mean(res^2) (loss MEAN, the authors' MSELoss) or 0.5 * sum_j res_j'^2 (loss SUM,
 *         res_j' = res_j, or the mean over i of res_ij for BATCH)
 *     c_j = dL/dlin_j (double; MEAN + BATCH: sum_i res_ij / bs^2; MEAN + OWN: res_j / bs;
 *           SUM + BATCH: sum_i res_ij / bs; SUM + OWN: res_j)
 *     dx0_j = (float)c_j * g_j;  dz0 = J_vae(z0)^T dx0;  w = dz0 * (-s1 / sa)
 *     dz   = dz0 / sa + J_unet_u^T (w - cfg * w) + J_unet_c^T (cfg * w)
 *     eps += (s1 * beta) * dz
 *
 * Round 0 of the authors' loop guides with g = 0, b = 0: its gradient is exactly zero, so it
 * is the plain pipeline's prediction; ggdm skips the guided part when no surrogate is given.
 *
 * Nothing allocates: the caller gives one workspace of the plan's size (ggdm_sd_plan_make)
 * (16-byte aligned). Same inputs, same bits, on every executor and thread count (the networks'
 * and the scheduler's own guarantees; the scalars above are computed in one fixed order).
 */
#ifndef GGDM_SD_GUIDE_H
#define GGDM_SD_GUIDE_H
#include <stddef.h>
#include <stdint.h>
#include "ggdm/exec.h"
#include "ggdm/resnet.h"
#include "ggdm/sd_sched.h"
#include "ggdm/status.h"
#include "ggdm/unet2d.h"
#include "ggdm/vae.h"

#define GGDM_SD_MSG_LEN 160

typedef enum ggdm_sd_bias {
    GGDM_SD_BIAS_BATCH = 0, /* the authors': every image's surrogate holds every reward (bias (bs, bs)) */
    GGDM_SD_BIAS_OWN = 1    /* each image's surrogate holds its own reward */
} ggdm_sd_bias;

typedef enum ggdm_sd_loss {
    GGDM_SD_LOSS_MEAN = 0, /* the authors': MSELoss's mean (a 1/bs on each image's guidance) */
    GGDM_SD_LOSS_SUM = 1   /* 0.5 (r_j - y*)^2 per image: guidance independent of the batch size */
} ggdm_sd_loss;

/* The networks (the VAE's height and width are the latents'). */
typedef struct ggdm_sd_nets {
    const ggdm_unet2d_cfg *unet;
    const float *unet_params;
    const ggdm_vae_cfg *vae;
    const float *vae_params;
} ggdm_sd_nets;

typedef struct ggdm_sd_guide_cfg {
    int bs;             /* images in the batch */
    int Lt;             /* text tokens (77) */
    float cfg_scale;    /* classifier-free guidance scale (7.5); <= 1: none */
    float guidance;     /* beta: the gradient guidance's strength */
    float target;       /* y*: the target reward */
    ggdm_sd_bias bias;
    ggdm_sd_loss loss;
} ggdm_sd_guide_cfg;

/* The previous round's linearisation of the reward: r(x) ~ <g_j, x> + r_j - gx_j. */
typedef struct ggdm_sd_surrogate {
    const float *g;   /* [bs, 3, OH, OW]: dr/dx at the previous round's images */
    const double *r;  /* [bs]: their rewards */
    const double *gx; /* [bs]: <g_j, x_j> */
} ggdm_sd_surrogate;

/* What one call computed (for logs and tests). */
typedef struct ggdm_sd_step_info {
    double loss;     /* L (0 unguided) */
    double gnorm;    /* ||dz|| over the batch (0 unguided) */
} ggdm_sd_step_info;

/*
 * The plan: sizes and the workspace's layout, made once (the UNet's size queries build its
 * graph, which for SD v1.5 needs the caller's scratch tmp of ggdm_sd_plan_sizing_bytes bytes;
 * tmp NULL: the library's stack buffer, enough for small configurations). A caller-owned POD
 * that holds the configurations by value and the networks' pointers; sched NULL: a plan for
 * ggdm_sd_guide_eps only. ex: the executor the calls will use (the workspace depends on its
 * thread count). GGDM_ERR_ARG with msg (GGDM_SD_MSG_LEN bytes, may be NULL) saying why.
 */
typedef struct ggdm_sd_plan {
    ggdm_sd_nets nets;
    ggdm_unet2d_cfg unet;
    ggdm_vae_cfg vae;
    ggdm_sd_guide_cfg gc;
    ggdm_sd_sched_cfg sched;
    int has_sched;
    const ggdm_exec *ex;
    int nb, H, W, OH, OW;      /* UNet batch (2 bs with CFG), latent and image sizes */
    size_t nz, nx;             /* latent and image elements per image */
    size_t unet_bytes, vae_bytes;
    size_t off[12];            /* the buffers' offsets (sd_guide.c) */
    size_t eps_bytes;          /* the workspace of ggdm_sd_guide_eps */
    size_t bytes;              /* the workspace of ggdm_sd_generate (with the scheduler) */
} ggdm_sd_plan;

ggdm_status ggdm_sd_plan_sizing_bytes(const ggdm_sd_nets *nets, const ggdm_sd_guide_cfg *gc, size_t *bytes);
ggdm_status ggdm_sd_plan_make(const ggdm_sd_nets *nets, const ggdm_sd_guide_cfg *gc, const ggdm_sd_sched_cfg *sched,
                              const ggdm_exec *ex, void *tmp, size_t tmp_bytes, ggdm_sd_plan *p, char *msg);

/*
 * eps [bs, 4, H, W] at timestep t (a = alphas_cumprod[t]) of latents z [bs, 4, H, W]; text
 * [2 bs, cross_dim, 1, Lt] channel-first: the bs unconditional states first, then the bs
 * prompt states (cfg <= 1: the bs prompt states only). sur NULL: unguided. info may be NULL.
 * ws: p->eps_bytes (or more) bytes, 16-byte aligned.
 */
ggdm_status ggdm_sd_guide_eps(const ggdm_sd_plan *p, const ggdm_sd_surrogate *sur, int64_t t, float a, const float *z,
                              const float *text, float *eps, void *ws, size_t ws_bytes, ggdm_sd_step_info *info);

/* Called after each scheduler step with the latents z_{i+1}; nonzero stops the generation
 * (ggdm_sd_generate then returns GGDM_ERR_ARG: the caller asked to stop). */
typedef int (*ggdm_sd_step_fn)(void *ctx, int call, int calls, const float *z, const ggdm_sd_step_info *info);

/*
 * One generation: z [bs, 4, H, W] holds z_T (the scheduler's init_noise_sigma is 1 for PNDM and
 * DDIM) and receives z_0 after ggdm_sd_sched_calls(sched) guided noise predictions and steps.
 * ws: p->bytes bytes (a plan made with a scheduler).
 */
ggdm_status ggdm_sd_generate(const ggdm_sd_plan *p, const ggdm_sd_surrogate *sur, float *z, const float *text,
                             void *ws, size_t ws_bytes, ggdm_sd_step_fn cb, void *cb_ctx);

/* Workspace bytes of ggdm_sd_linearize for bs images. */
ggdm_status ggdm_sd_linearize_workspace_bytes(const ggdm_vae_cfg *vae, const ggdm_resnet_cfg *rw, int bs,
                                              const ggdm_exec *ex, size_t *bytes);
/*
 * The end of a round: x = vae.decode(z) [bs, 3, OH, OW] (the authors' image_eval), the rewards
 * r [bs] and their image gradients g = dr/dx [bs, 3, OH, OW] (the reward's first output), and
 * gx_j = <g_j, x_j> (double, in order): the next round's surrogate.
 */
ggdm_status ggdm_sd_linearize(const ggdm_vae_cfg *vae, const float *vae_params, const ggdm_resnet_cfg *rw,
                              const float *rw_params, int bs, const float *z, float *x, double *r, float *g,
                              double *gx, void *ws, size_t ws_bytes, const ggdm_exec *ex);

#endif /* GGDM_SD_GUIDE_H */
