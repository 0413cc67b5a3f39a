/*
 * ggdm/resnet.h - the paper's image reward model: torchvision's ResNet-18 (BasicBlocks, eval
 * mode) with a Linear(512, n_out) head, behind the authors' preprocessing
 *
 *     x in [-1, 1] -> ((x + 1) / 2).clamp(0, 1) -> Resize(short side 224, bilinear, antialias)
 *       -> Normalize(CLIP's mean, std) -> conv1 7x7/2 -> bn1 -> relu -> maxpool 3x3/2
 *       -> layer1..layer4 (BasicBlocks; the first of layers 2-4 strides 2 with a 1x1/2 conv + bn
 *          downsample) -> global average pool -> fc -> r [N, n_out]
 *
 * forward and input VJP (dr -> dx, the gradient of the reward with respect to the image), on the
 * op graph (docs/graph.md; docs/reward-model.md). Parameters: ONE flat float32 array under
 * torchvision's state-dict names (conv1.weight, bn1.weight, bn1.bias, bn1.running_mean,
 * bn1.running_var, layer1.0.conv1.weight, ..., fc.weight, fc.bias; BatchNorm's
 * num_batches_tracked is not a parameter), then the two DERIVED tensors normalize.scale and
 * normalize.shift (1 / std and -mean / std, from the configuration: ggdm_resnet_derive).
 * Nothing allocates; the same inputs give the same bits on every platform.
 */
#ifndef GGDM_RESNET_H
#define GGDM_RESNET_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/backend.h"
#include "ggdm/exec.h"
#include "ggdm/param.h"
#include "ggdm/status.h"

#define GGDM_RESNET_MSG_LEN 160

typedef struct ggdm_resnet_cfg {
    int layers[4];     /* BasicBlocks per stage: (2, 2, 2, 2) for ResNet-18 */
    int width;         /* channels of conv1 and layer1 (64); layer k has width << k */
    int in_ch;         /* image channels (3) */
    int n_out;         /* outputs of the head (1) */
    int preprocess;    /* 1: ((x + 1) / 2).clamp(0, 1), resize, normalize (the authors'); 0: none */
    int resize;        /* the shorter side after resizing (224); 0: no resize */
    int antialias;     /* 1: torchvision >= 0.17's antialiased bilinear on tensors (default); 0: older */
    float mean[3], std[3]; /* Normalize's (CLIP's: 0.48145466, 0.4578275, 0.40821073; 0.26862954, ...) */
    float bn_eps;      /* 1e-5 */
} ggdm_resnet_cfg;

/* ResNet-18 with a 1-output head and the authors' preprocessing (antialias on). */
void ggdm_resnet_cfg_default(ggdm_resnet_cfg *cfg);

/* GGDM_OK, or GGDM_ERR_ARG with msg (GGDM_RESNET_MSG_LEN bytes, may be NULL) saying why. */
ggdm_status ggdm_resnet_cfg_check(const ggdm_resnet_cfg *cfg, char *msg);

/* The parameter table (ggdm/param.h): tensor i, counts. */
ggdm_status ggdm_resnet_tensor(const ggdm_resnet_cfg *cfg, int i, ggdm_param_info *info);
ggdm_status ggdm_resnet_table(const ggdm_resnet_cfg *cfg, ggdm_param_table *table);

/* Writes the DERIVED tensors (normalize.scale, normalize.shift) from the configuration:
 * scale[c] = (float)(1 / (double)std[c]), shift[c] = (float)(-(double)mean[c] / (double)std[c]). */
ggdm_status ggdm_resnet_derive(const ggdm_resnet_cfg *cfg, float *params, uint64_t count);

/* A fresh network from a seed (ggdm_param_init, stream family GGDM_NET_ID_RESNET; BatchNorm
 * weight 1, bias 0, running_mean 0, running_var 1), derived tensors included. */
ggdm_status ggdm_resnet_init(const ggdm_resnet_cfg *cfg, uint64_t seed, float *params, uint64_t count);

/* The size after preprocessing of an H x W image ([oh, ow]; torchvision's Resize(int)). */
ggdm_status ggdm_resnet_input_size(const ggdm_resnet_cfg *cfg, int H, int W, int *oh, int *ow);

/* Workspace bytes for a batch of N images H x W (grad 0: forward; 1: with the input VJP). */
ggdm_status ggdm_resnet_workspace_bytes(const ggdm_resnet_cfg *cfg, int N, int H, int W, int grad,
                                        const ggdm_exec *ex, size_t *bytes);

/* Forward flops of a batch (the graph's). */
ggdm_status ggdm_resnet_flops(const ggdm_resnet_cfg *cfg, int N, int H, int W, double *flops);

typedef void (*ggdm_resnet_trace_fn)(void *ctx, const char *name, const float *data, int ndim,
                                     const uint64_t *shape);

/*
 * r = reward(x): x [N, in_ch, H, W] (float32 images, [-1, 1] when preprocess), r [N, n_out].
 * ex: the executor (NULL: serial on the reference CPU backend; ex->unet: its backend).
 * GGDM_ERR_ARG when the derived tensors do not hold ggdm_resnet_derive's values.
 */
ggdm_status ggdm_resnet_forward(const ggdm_resnet_cfg *cfg, const float *params, int N, int H, int W,
                                const float *x, float *r, void *workspace, size_t ws_bytes,
                                ggdm_resnet_trace_fn trace, void *trace_ctx, const ggdm_exec *ex);

/* Forward, then dx = J_r(x)^T dr per sample (dr [N, n_out]; dx [N, in_ch, H, W] overwritten);
 * r (may be NULL) receives the forward output. */
ggdm_status ggdm_resnet_vjp(const ggdm_resnet_cfg *cfg, const float *params, int N, int H, int W, const float *x,
                            const float *dr, float *r, float *dx, void *workspace, size_t ws_bytes,
                            const ggdm_exec *ex);

#endif /* GGDM_RESNET_H */
