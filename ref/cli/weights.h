/* Front end: Unet1D weights (and gradients) as safetensors files or PyTorch checkpoints (.pth)
 * under the original's names. */
#ifndef GGDM_CLI_WEIGHTS_H
#define GGDM_CLI_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/schedule.h"
#include "ggdm/status.h"
#include "ggdm/unet.h"

/*
 * Loads a Unet1D from a safetensors file (ggdm's own, or one PyTorch saved) or from a PyTorch
 * checkpoint (torch.save's zip format, recognised by its first bytes "PK\3\4", not by the
 * file name: the original's {"x_type", "model_state_dict", "epoch"} checkpoints, or a state
 * dict saved directly; read by pth.c, which executes nothing). Both are validated the same
 * way: names optionally prefixed "model.", the original's schedule buffers ignored, every
 * parameter present, float32, of the right shape; any other tensor is an error. The
 * configuration comes from the file's metadata when present (safetensors written by ggdm),
 * else from the tensor shapes (groups, heads and length cannot be inferred: *cfg's values are
 * kept for those; *length_known says whether the metadata gave the length). *params is
 * malloc'd. err gets one line naming the file and the problem on failure.
 */
ggdm_status ggdm_cli_load_unet(const char *path, ggdm_unet_cfg *cfg, float **params, uint64_t *count,
                               int *length_known, char *err, size_t errcap);

/*
 * What a checkpoint says about its training: x_type (the data it was trained on,
 * "linear_latent" or "unit_ball"; "" when the file does not say) and the epoch, or for a
 * fine-tuned checkpoint the iteration (-1 when it does not say). From a .pth, the top-level
 * entries "x_type" and "epoch" / "iteration"; from a safetensors file, the metadata keys of
 * the same names. The file is validated as a container, not as a network (ggdm_cli_load_unet
 * does that). GGDM_ERR_BUFFER_TOO_SMALL when x_type does not fit in cap bytes (with its NUL).
 */
ggdm_status ggdm_cli_unet_ckpt_info(const char *path, char *x_type, size_t cap, long long *epoch, char *err,
                                    size_t errcap);

/* Writes n_params floats under the parameter names of cfg, with the configuration in the
 * metadata plus extra (key, value) pairs (may be NULL), atomically. */
ggdm_status ggdm_cli_save_unet(const char *path, const ggdm_unet_cfg *cfg, const float *params,
                               const char *const *extra_kv, int n_extra, char *err, size_t errcap);

/*
 * Writes the network as the original's checkpoint, atomically: what
 *   torch.save({"x_type": x_type, "model_state_dict": diffusion.state_dict(), "epoch": epoch}, path)
 * writes, loadable with torch.load(path, weights_only=True). The state dict holds, as the
 * original's GaussianDiffusion's does, its 12 float32 schedule buffers of T steps ("betas",
 * "alphas_cumprod", ..., the cosine schedule of ggdm_schedule_compute) first, then every
 * parameter under "model." + its name, so the original's strict load_state_dict accepts it.
 * T = 0 leaves the buffers out; x_type NULL leaves its entry out; epoch < 0 leaves the epoch
 * out. The configuration is not recorded (the original's checkpoints do not record it):
 * groups, heads and length must be given again when the file is read. The same weights
 * always give the same bytes.
 */
ggdm_status ggdm_cli_save_unet_pth(const char *path, const ggdm_unet_cfg *cfg, const float *params, const char *x_type,
                                   long long epoch, int T, char *err, size_t errcap);

/* The same with the schedule's kind and the step's key chosen: step_key NULL is "epoch"
 * (the original's fine-tuned checkpoints say "iteration"); step < 0 leaves it out. */
ggdm_status ggdm_cli_save_unet_pth_ex(const char *path, const ggdm_unet_cfg *cfg, const float *params, int T,
                                      ggdm_schedule_kind schedule, const char *x_type, const char *step_key,
                                      long long step, char *err, size_t errcap);

/* "1,2,4,8" -> mults; returns the count or -1. */
int ggdm_cli_parse_mults(const char *s, int *mults, int cap);

#endif
