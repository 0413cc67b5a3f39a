/*
 * ggdm/unet2d.h - Stable Diffusion's noise predictor: diffusers' UNet2DConditionModel (the SD
 * v1.5 configuration and smaller ones with the same block pattern), forward and input VJP
 * (with respect to the latents), on the op graph (docs/sd.md, "UNet").
 *
 *   conv_in 3x3 -> down blocks (ResnetBlock2D [+ Transformer2DModel] x layers_per_block, then a
 *   3x3/2 conv but in the last) -> mid block (ResnetBlock2D, Transformer2DModel, ResnetBlock2D)
 *   -> up blocks (cat(skip) -> ResnetBlock2D [+ Transformer2DModel] x (layers_per_block + 1),
 *   then nearest x2 + 3x3 conv but in the last) -> GroupNorm -> SiLU -> conv_out 3x3
 *
 * The time embedding is diffusers' Timesteps(block_out_channels[0], flip_sin_to_cos, shift 0)
 * -> Linear -> SiLU -> Linear. A ResnetBlock2D is GroupNorm(eps norm_eps) -> SiLU -> conv1 3x3 ->
 * + time_emb_proj(SiLU(temb)) per channel -> GroupNorm -> SiLU -> conv2 3x3, + x (or its 1x1
 * conv_shortcut). A Transformer2DModel is GroupNorm(eps 1e-6) -> proj_in 1x1 -> one
 * BasicTransformerBlock (LayerNorm -> self-attention -> +, LayerNorm -> cross-attention on the
 * text states -> +, LayerNorm -> GEGLU feed-forward -> +) -> proj_out 1x1 -> + x; attention
 * without biases on q, k, v, with one on to_out.0; scale head_dim^-0.5.
 *
 * Inputs: latents [N, in_channels, H, W] (H, W multiples of 2^(blocks - 1)), integer steps [N],
 * text states [N, cross_attention_dim, 1, Lt] channel-first (the transpose of diffusers'
 * encoder_hidden_states [N, Lt, dim]). Parameters: ONE flat float32 array under diffusers'
 * state-dict names; ggdm lays each self-attention's to_q, to_k, to_v weights next to each
 * other (and each cross-attention's to_k, to_v) so that one convolution computes them: the
 * same bits as separate ones.
 */
#ifndef GGDM_UNET2D_H
#define GGDM_UNET2D_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/exec.h"
#include "ggdm/param.h"
#include "ggdm/status.h"

#define GGDM_UNET2D_MAX_BLOCKS 6
#define GGDM_UNET2D_MSG_LEN 160

typedef struct ggdm_unet2d_cfg {
    int in_channels, out_channels;              /* 4, 4 */
    int n_blocks;                               /* 4 */
    int block_out_channels[GGDM_UNET2D_MAX_BLOCKS]; /* 320, 640, 1280, 1280 */
    int cross_down[GGDM_UNET2D_MAX_BLOCKS];     /* down block i: 1 CrossAttnDownBlock2D, 0 DownBlock2D */
    int cross_up[GGDM_UNET2D_MAX_BLOCKS];       /* up block i (in up order): 1 CrossAttnUpBlock2D, 0 UpBlock2D */
    int heads[GGDM_UNET2D_MAX_BLOCKS];          /* attention heads of down block i (SD v1.5: attention_head_dim 8) */
    int layers_per_block;                       /* 2 */
    int cross_attention_dim;                    /* 768 */
    int norm_num_groups;                        /* 32 */
    float norm_eps;                             /* 1e-5 (ResnetBlock2D, conv_norm_out) */
    int use_linear_projection;                  /* 0: proj_in/out are 1x1 convs [C, C, 1, 1]; 1: Linear [C, C] */
    int attn_recompute;                         /* 1: attention VJPs recompute their weights (O(L) memory, same bits) */
} ggdm_unet2d_cfg;

/* SD v1.5's UNet (859,520,964 parameters). */
void ggdm_unet2d_cfg_sd15(ggdm_unet2d_cfg *cfg);
/* A small one with the same pattern: channels (32, 64), groups 8, 2 heads, cross dim 32. */
void ggdm_unet2d_cfg_tiny(ggdm_unet2d_cfg *cfg);
ggdm_status ggdm_unet2d_cfg_check(const ggdm_unet2d_cfg *cfg, char *msg);

ggdm_status ggdm_unet2d_tensor(const ggdm_unet2d_cfg *cfg, int i, ggdm_param_info *info);
ggdm_status ggdm_unet2d_table(const ggdm_unet2d_cfg *cfg, ggdm_param_table *table);
ggdm_status ggdm_unet2d_init(const ggdm_unet2d_cfg *cfg, uint64_t seed, float *params, uint64_t count);

/* The size queries build the network's graph to plan it: in the caller's scratch tmp of
 * ggdm_unet2d_sizing_bytes bytes (16-byte aligned; the SD v1.5 graph does not fit the
 * library's stack buffer), or, tmp NULL, in that buffer (small configurations). */
ggdm_status ggdm_unet2d_sizing_bytes(const ggdm_unet2d_cfg *cfg, int N, int H, int W, int Lt, size_t *bytes);
/* Workspace bytes of a batch of N latents H x W with Lt text tokens (grad: with the input VJP). */
ggdm_status ggdm_unet2d_workspace_bytes(const ggdm_unet2d_cfg *cfg, int N, int H, int W, int Lt, int grad,
                                        const ggdm_exec *ex, void *tmp, size_t tmp_bytes, size_t *bytes);
ggdm_status ggdm_unet2d_flops(const ggdm_unet2d_cfg *cfg, int N, int H, int W, int Lt, void *tmp, size_t tmp_bytes,
                              double *flops);

typedef void (*ggdm_unet2d_trace_fn)(void *ctx, const char *name, const float *data, int ndim,
                                     const uint64_t *shape);

/* eps = unet(z, t, text): z [N, in, H, W], t [N], text [N, cross_dim, 1, Lt]; eps [N, out, H, W]. */
ggdm_status ggdm_unet2d_forward(const ggdm_unet2d_cfg *cfg, const float *params, int N, int H, int W, int Lt,
                                const float *z, const int64_t *t, const float *text, float *eps, void *workspace,
                                size_t ws_bytes, ggdm_unet2d_trace_fn trace, void *trace_ctx, const ggdm_exec *ex);

/* Forward, then dz = J_eps(z)^T deps per sample (dz overwritten); eps may be NULL. */
ggdm_status ggdm_unet2d_vjp(const ggdm_unet2d_cfg *cfg, const float *params, int N, int H, int W, int Lt,
                            const float *z, const int64_t *t, const float *text, const float *deps, float *eps,
                            float *dz, void *workspace, size_t ws_bytes, const ggdm_exec *ex);

/*
 * The guided step runs the UNet's forward, then other networks (the VAE decoder and its VJP),
 * then the UNet's VJP with a gradient it did not have before: a taped run. The forward keeps
 * what the VJP needs in the workspace (GGDM_GRAPH_GRAD_INPUT's plan: the same workspace size
 * as ggdm_unet2d_workspace_bytes with grad 1) until ggdm_unet2d_tape_vjp. Reference CPU
 * backend only (params, z, text, eps host memory); ex: its executor (NULL: serial).
 */
typedef struct ggdm_unet2d_tape {
    const ggdm_unet2d_cfg *cfg;
    const float *params;
    const ggdm_exec *ex;
    struct ggdm_graph *g;
    float *arena;
    int N, H, W, Lt, done;
} ggdm_unet2d_tape;

ggdm_status ggdm_unet2d_tape_forward(const ggdm_unet2d_cfg *cfg, const float *params, int N, int H, int W, int Lt,
                                     const float *z, const int64_t *t, const float *text, float *eps,
                                     void *workspace, size_t ws_bytes, const ggdm_exec *ex, ggdm_unet2d_tape *tape);
/* dz [N, in, H, W] = J_eps(z)^T deps (overwritten); once per taped forward. */
ggdm_status ggdm_unet2d_tape_vjp(ggdm_unet2d_tape *tape, const float *deps, float *dz);

#endif /* GGDM_UNET2D_H */
