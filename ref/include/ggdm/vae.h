/*
 * ggdm/vae.h - Stable Diffusion's VAE decoder (diffusers 0.25.1 AutoencoderKL's decode path,
 * docs/vae.md) as a network on the op graph (ggdm/graph.h):
 *
 *   x0 = decoder(post_quant_conv(z * (1 / scaling_factor)))
 *
 * z: latents as the pipeline holds them [N, latent_channels, H, W]; x0: the image
 * [N, out_channels, H * 2^(blocks-1), W * 2^(blocks-1)] (diffusers' decode(z / sf).sample,
 * before any clamping or rescaling to [0, 1]). The scale is part of the network, so the input
 * VJP gives the gradient with respect to the pipeline's latents.
 *
 * Parameters live in ONE flat float32 array in the order of the network's table
 * (ggdm_vae_tensor): diffusers' state-dict names and order restricted to decoder.* and then
 * post_quant_conv.* (the encoder and quant_conv are not part of this network). The attention's
 * q, k, v and output projections are Linear [C, C] in the state dict and run as 1x1
 * convolutions (the same flat data). Nothing allocates, prints or keeps state; the same inputs
 * give the same bits on every exact backend, executor and thread count.
 */
#ifndef GGDM_VAE_H
#define GGDM_VAE_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/backend.h"
#include "ggdm/exec.h"
#include "ggdm/graph.h"
#include "ggdm/param.h"
#include "ggdm/status.h"

#define GGDM_VAE_MAX_BLOCKS 8
#define GGDM_VAE_MAX_LAYERS 8 /* layers_per_block: each up block has layers_per_block + 1 resnets */
#define GGDM_VAE_MSG_LEN 160
/* The Philox stream of ggdm_vae_init: stream(WEIGHT_INIT, GGDM_VAE_INIT_STREAM_A, tensor index) */
#define GGDM_VAE_INIT_STREAM_A 3u

typedef struct ggdm_vae_cfg {
    int n_blocks;                                /* len(block_out_channels) (4) */
    int block_out_channels[GGDM_VAE_MAX_BLOCKS]; /* (128, 256, 512, 512); the decoder runs them reversed */
    int layers_per_block;                        /* 2 (each up block: 3 ResnetBlock2D) */
    int latent_channels;                         /* 4 */
    int out_channels;                            /* 3 */
    int norm_num_groups;                         /* 32 (every GroupNorm; eps 1e-6) */
    float scaling_factor;                        /* 0.18215: the graph multiplies z by (float)(1 / sf) */
    int mid_attention;                           /* mid_block_add_attention (1) */
    int height, width;                           /* the latent's H, W (64 x 64 for 512 px) */
    int attn_kind;                               /* GGDM_ATTN_KEEP (0) or GGDM_ATTN_RECOMPUTE */
} ggdm_vae_cfg;

/* SD v1.5's VAE (runwayml/stable-diffusion-v1-5, vae/config.json) at a 64 x 64 latent. */
void ggdm_vae_cfg_sd15(ggdm_vae_cfg *cfg);
/* A tiny one with the same block pattern: block_out_channels (32, 64), layers_per_block 1,
 * groups 8, 4 latent channels, 3 out, latent 8 x 8 (diffusers accepts it). */
void ggdm_vae_cfg_tiny(ggdm_vae_cfg *cfg);

/* GGDM_OK, or GGDM_ERR_ARG with msg (GGDM_VAE_MSG_LEN bytes, may be NULL) saying what is
 * impossible (channels not divisible by the groups, a size out of range, ...). */
ggdm_status ggdm_vae_cfg_check(const ggdm_vae_cfg *cfg, char *msg);

/* The parameter table (ggdm/param.h) and its entries. */
ggdm_status ggdm_vae_params(const ggdm_vae_cfg *cfg, ggdm_param_table *table);
ggdm_status ggdm_vae_tensor(const ggdm_vae_cfg *cfg, int i, ggdm_param_info *info);
ggdm_status ggdm_vae_num_params(const ggdm_vae_cfg *cfg, uint64_t *count);

/* Output image height and width (latent * 2^(blocks-1)). */
ggdm_status ggdm_vae_out_size(const ggdm_vae_cfg *cfg, int *out_h, int *out_w);

/*
 * Deterministic initialisation from a seed: every convolution and linear weight and bias
 * uniform in [-b, b), b = (float)(1 / sqrt(fan_in)) (PyTorch's bounds), element e of tensor i =
 * b * (2 u - 1), u = ggdm_rng_uniform(seed, stream(WEIGHT_INIT, GGDM_VAE_INIT_STREAM_A, i), e);
 * GroupNorm weights 1, biases 0.
 */
ggdm_status ggdm_vae_init(const ggdm_vae_cfg *cfg, uint64_t seed, float *params, uint64_t count);

/* The network for the graph runner (cfg must outlive it). */
ggdm_status ggdm_vae_net(const ggdm_vae_cfg *cfg, ggdm_net *net);

/* Workspace bytes of a batch of N: grad 0 decode, 1 decode_vjp; ex as the call's (NULL: one
 * serial run; with threads, one chunk of samples per thread, each with its own part). */
ggdm_status ggdm_vae_workspace_bytes(const ggdm_vae_cfg *cfg, int N, int grad, const ggdm_exec *ex, size_t *bytes);

/* Forward flops of a batch of N (the ops' counts). */
ggdm_status ggdm_vae_flops(const ggdm_vae_cfg *cfg, int N, double *flops);

/*
 * x0 = decoder(z) for a batch: z [N, latent_channels, H, W], x0 [N, out_channels, OH, OW]
 * (host memory). be: where the ops run (NULL: the reference CPU backend). workspace:
 * ggdm_vae_workspace_bytes(grad 0) bytes, 16-byte aligned. trace (may be NULL) receives every
 * named activation (docs/vae.md lists the names); a trace makes the run serial.
 */
ggdm_status ggdm_vae_decode(const ggdm_vae_cfg *cfg, const ggdm_backend *be, const float *params, int N,
                            const float *z, float *x0, void *workspace, size_t ws_bytes, ggdm_graph_trace_fn trace,
                            void *trace_ctx, const ggdm_exec *ex);

/*
 * The input VJP: dz = J_x0(z)^T dx0 per sample (overwritten), after the forward pass, whose
 * output x0 (may be NULL) is stored too. Workspace: ggdm_vae_workspace_bytes(grad 1).
 */
ggdm_status ggdm_vae_decode_vjp(const ggdm_vae_cfg *cfg, const ggdm_backend *be, const float *params, int N,
                                const float *z, const float *dx0, float *x0, float *dz, void *workspace,
                                size_t ws_bytes, const ggdm_exec *ex);

#endif /* GGDM_VAE_H */
