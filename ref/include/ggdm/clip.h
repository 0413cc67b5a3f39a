/*
 * ggdm/clip.h - Stable Diffusion's text encoder: transformers' CLIPTextModel (CLIP ViT-L/14's
 * text tower in SD v1.5), forward only, on the op graph.
 *
 *     h = token_embedding[ids] + position_embedding[0 .. L-1]
 *     for each layer: h = h + out_proj(attn_causal(q, k, v of layer_norm1(h)))
 *                     h = h + fc2(quick_gelu(fc1(layer_norm2(h))))
 *     out = final_layer_norm(h)                     (last_hidden_state)
 *
 * Tokens are channel-first in ggdm: the hidden states of a batch are [N, hidden, 1, L] (the
 * state's transpose of transformers' [N, L, hidden]); the front end transposes at its edges.
 * The attention is causal (query i sees keys 0..i), with no padding mask (SD's pipeline passes
 * none), heads of hidden / heads, scale head_dim^-0.5 on q. LayerNorm: the NORM op's CHANNEL
 * kind with weight and bias, eps layer_norm_eps. Parameter names are transformers' state dict
 * ("text_model.embeddings.token_embedding.weight", "text_model.encoder.layers.0.self_attn.
 * q_proj.weight", ...); the position_ids buffer some files hold is not a parameter. ggdm lays
 * the q, k, v projections of a layer out next to each other (weights, then biases) so that
 * one convolution computes all three: the same bits as three.
 */
#ifndef GGDM_CLIP_H
#define GGDM_CLIP_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/exec.h"
#include "ggdm/param.h"
#include "ggdm/status.h"

#define GGDM_CLIP_MSG_LEN 160

typedef struct ggdm_clip_cfg {
    int vocab_size;              /* 49408 */
    int hidden_size;             /* 768 */
    int intermediate_size;       /* 3072 */
    int num_hidden_layers;       /* 12 */
    int num_attention_heads;     /* 12 */
    int max_position_embeddings; /* 77 */
    float layer_norm_eps;        /* 1e-5 */
} ggdm_clip_cfg;

/* SD v1.5's text encoder (CLIP ViT-L/14's text model). */
void ggdm_clip_cfg_sd15(ggdm_clip_cfg *cfg);
/* A small one with the same pattern: vocab 1000, hidden 32, MLP 37, 2 layers, 4 heads, 77 positions. */
void ggdm_clip_cfg_tiny(ggdm_clip_cfg *cfg);
ggdm_status ggdm_clip_cfg_check(const ggdm_clip_cfg *cfg, char *msg);

ggdm_status ggdm_clip_tensor(const ggdm_clip_cfg *cfg, int i, ggdm_param_info *info);
ggdm_status ggdm_clip_table(const ggdm_clip_cfg *cfg, ggdm_param_table *table);
/* A fresh network from a seed (ggdm_param_init, GGDM_NET_ID_CLIP; LayerNorms 1 and 0). */
ggdm_status ggdm_clip_init(const ggdm_clip_cfg *cfg, uint64_t seed, float *params, uint64_t count);

/* Workspace bytes of a batch of N prompts of L tokens (1 <= L <= max_position_embeddings). */
ggdm_status ggdm_clip_workspace_bytes(const ggdm_clip_cfg *cfg, int N, int L, const ggdm_exec *ex, size_t *bytes);
ggdm_status ggdm_clip_flops(const ggdm_clip_cfg *cfg, int N, int L, double *flops);

typedef void (*ggdm_clip_trace_fn)(void *ctx, const char *name, const float *data, int ndim, const uint64_t *shape);

/*
 * out = last_hidden_state, [N, hidden, 1, L] (channel-first): ids [N, L] token ids (each in
 * [0, vocab_size): GGDM_ERR_ARG otherwise).
 */
ggdm_status ggdm_clip_forward(const ggdm_clip_cfg *cfg, const float *params, int N, int L, const int32_t *ids,
                              float *out, void *workspace, size_t ws_bytes, ggdm_clip_trace_fn trace,
                              void *trace_ctx, const ggdm_exec *ex);

#endif /* GGDM_CLIP_H */
