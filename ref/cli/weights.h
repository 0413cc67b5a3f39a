/* Front end: Unet1D weights (and gradients) as safetensors files under the original's names. */
#ifndef GGDM_CLI_WEIGHTS_H
#define GGDM_CLI_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/status.h"
#include "ggdm/unet.h"

/*
 * Loads a Unet1D from a safetensors file: ggdm's own, or one PyTorch saved (names
 * optionally prefixed "model.", the original's schedule buffers ignored). The
 * configuration comes from the file's metadata when present, else from the tensor
 * shapes (groups, heads and length cannot be inferred: *cfg's values are kept for
 * those; *length_known says whether the metadata gave the length). Every parameter must be present, float32, of the right shape; any other
 * tensor is an error. *params is malloc'd. err gets one line on failure.
 */
ggdm_status ggdm_cli_load_unet(const char *path, ggdm_unet_cfg *cfg, float **params, uint64_t *count,
                               int *length_known, char *err, size_t errcap);

/* Writes n_params floats under the parameter names of cfg, with the configuration in the
 * metadata plus extra (key, value) pairs (may be NULL), atomically. */
ggdm_status ggdm_cli_save_unet(const char *path, const ggdm_unet_cfg *cfg, const float *params,
                               const char *const *extra_kv, int n_extra, char *err, size_t errcap);

/* "1,2,4,8" -> mults; returns the count or -1. */
int ggdm_cli_parse_mults(const char *s, int *mults, int cap);

#endif
