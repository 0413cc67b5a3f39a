/*
 * The image experiment's front-end pieces shared by its commands (cmd_nets.c, cmd_sd.c,
 * cmd_image.c): the networks' configurations from diffusers / transformers / torchvision
 * files, the prompts' token ids, and the tensors of those files that are not parameters.
 * Each prints one line naming the file and what is wrong, and returns 0, on bad input.
 */
#ifndef GGDM_CLI_SDCLI_H
#define GGDM_CLI_SDCLI_H
#include <stdint.h>
#include "ggdm/clip.h"
#include "ggdm/resnet.h"
#include "ggdm/unet2d.h"
#include "ggdm/vae.h"

extern const char *const ggdm_sdcli_nets_ignore[];
/* The reward model's configuration from its weight file's shapes. 1 or 0. */
int ggdm_sdcli_reward_cfg(const char *cmd, const char *path, ggdm_resnet_cfg *cfg);
/* transformers' CLIPTextConfig config.json. 1 or 0. */
int ggdm_sdcli_clip_cfg(const char *cmd, const char *path, ggdm_clip_cfg *c);
/* diffusers' UNet2DConditionModel config.json. 1 or 0. */
int ggdm_sdcli_unet2d_cfg(const char *cmd, const char *path, ggdm_unet2d_cfg *c);
/* diffusers' AutoencoderKL config.json (height, width: 0, for the caller to set). 1 or 0. */
int ggdm_sdcli_vae_cfg(const char *path, ggdm_vae_cfg *cfg);
/* The prompts' ids [n, max_len] as the SD pipeline's tokenizer call gives them (padding
 * "max_length", truncation). 1 or 0. */
int ggdm_sdcli_tokenize(const char *cmd, const char *tdir, const char *const *prompts, int n, int max_len,
                        int32_t *ids);
/* [N, A, B] -> [N, B, A] */
void ggdm_sdcli_transpose(float *dst, const float *src, uint64_t N, uint64_t A, uint64_t B);
#endif
