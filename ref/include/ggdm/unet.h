/*
 * ggdm/unet.h - the score network: the original's Unet1D (original.md §2), configurable.
 *
 * Parameters live in ONE flat float32 array, tensor after tensor in the original's
 * state-dict order (ggdm_unet_tensor gives each tensor's PyTorch name, shape and offset).
 * All working memory is one caller-provided workspace (ggdm_unet_workspace_bytes): the
 * network's graph and an arena laid out by liveness (docs/graph.md). Nothing allocates,
 * prints or keeps state between calls: the same inputs give the same bits, on every
 * platform (docs/nn.md: the exact order of every chain).
 */
#ifndef GGDM_UNET_H
#define GGDM_UNET_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/exec.h"
#include "ggdm/status.h"

#define GGDM_UNET_MAX_LEVELS 8
#define GGDM_UNET_MAX_TENSORS 1024
#define GGDM_UNET_NAME_LEN 64
#define GGDM_UNET_MSG_LEN 160

typedef struct ggdm_unet_cfg {
    int dim;                              /* base width (64) */
    int n_levels;                         /* len(dim_mults) (4) */
    int dim_mults[GGDM_UNET_MAX_LEVELS];  /* (1, 2, 4, 8) */
    int groups;                           /* GroupNorm groups (8) */
    int length;                           /* D, the sequence length (64) */
    int heads;                            /* attention heads (4) */
    int dim_head;                         /* attention head width (32) */
} ggdm_unet_cfg;

/* One parameter tensor: PyTorch name, shape, and where it lives in the flat array. */
typedef struct ggdm_unet_tensor_info {
    char name[GGDM_UNET_NAME_LEN];
    int ndim;
    uint64_t shape[3];
    uint64_t offset;   /* in floats, into the flat parameter array */
    uint64_t count;
    uint64_t fan_in;   /* for initialisation bounds; 0 for norm gains and biases of norms */
    int init;          /* 0: uniform(+-1/sqrt(fan_in)), 1: ones, 2: zeros */
} ggdm_unet_tensor_info;

/* The paper's configuration: dim 64, mults (1,2,4,8), groups 8, length 64, 4 heads of 32. */
void ggdm_unet_cfg_default(ggdm_unet_cfg *cfg);

/*
 * Checks that the configuration describes a network: GGDM_OK, or GGDM_ERR_ARG with msg
 * saying what is impossible (length not divisible by 2^(levels-1), channels not divisible
 * by groups, ...). msg may be NULL, else it has GGDM_UNET_MSG_LEN bytes.
 */
ggdm_status ggdm_unet_cfg_check(const ggdm_unet_cfg *cfg, char *msg);

/* Number of parameter tensors and of parameters (floats). */
ggdm_status ggdm_unet_num_tensors(const ggdm_unet_cfg *cfg, int *count);
ggdm_status ggdm_unet_num_params(const ggdm_unet_cfg *cfg, uint64_t *count);
/* Tensor number i (0-based, state-dict order). */
ggdm_status ggdm_unet_tensor(const ggdm_unet_cfg *cfg, int i, ggdm_unet_tensor_info *info);

/*
 * Deterministic initialisation from a seed: weights and biases of convolutions and
 * linear layers uniform in [-b, b), b = (float)(1 / sqrt(fan_in)) (PyTorch's bounds),
 * element e of tensor i = b * (2 u - 1) with u = ggdm_rng_uniform(seed,
 * stream(WEIGHT_INIT, 0, i), e); norm weights and gains 1, norm biases 0.
 */
ggdm_status ggdm_unet_init(const ggdm_unet_cfg *cfg, uint64_t seed, float *params, uint64_t count);

/*
 * Floating-point operations of one forward pass for a batch of N, for benchmarks: twice the
 * multiply-adds of the convolutions, linear layers and attention products (norms and
 * activations are not counted). An input VJP costs about twice as much again (forward +
 * input gradient), a training step (with parameter gradients) about three times.
 */
ggdm_status ggdm_unet_flops(const ggdm_unet_cfg *cfg, int N, double *flops);

/* What a call needs its workspace for. */
typedef enum ggdm_unet_mode {
    GGDM_UNET_FORWARD = 0,   /* eps only */
    GGDM_UNET_BACKWARD = 1   /* forward, then gradients (input and/or parameters) */
} ggdm_unet_mode;

/* Workspace bytes for a batch of N in the given mode: enough for every call of that mode, on
 * every backend and for every gradient wanted. A call refuses a workspace smaller than its own
 * plan needs (GGDM_ERR_BUFFER_TOO_SMALL); that plan may be smaller than this maximum (only the
 * input gradient, a backend without fused calls), so a call may succeed with less. */
ggdm_status ggdm_unet_workspace_bytes(const ggdm_unet_cfg *cfg, int N, ggdm_unet_mode mode, size_t *bytes);

/* Optional per-layer trace: called with every named activation of the forward pass
 * (docs/nn.md lists the names). The library never does I/O itself. */
typedef void (*ggdm_unet_trace_fn)(void *ctx, const char *name, const float *data, int ndim,
                                   const uint64_t *shape);

/*
 * eps = net(x, t) for a batch: x [N, length], t [N] (integer steps, as float32 exactly
 * representable), eps [N, length]. workspace: ggdm_unet_workspace_bytes(FORWARD) bytes,
 * aligned to at least 16 bytes. trace may be NULL.
 */
ggdm_status ggdm_unet_forward(const ggdm_unet_cfg *cfg, const float *params, int N, const float *x,
                              const int64_t *t, float *eps, void *workspace, size_t ws_bytes,
                              ggdm_unet_trace_fn trace, void *trace_ctx);

/*
 * Forward, then backward from deps = d(loss)/d(eps) [N, length]:
 *   dx     (may be NULL) receives J_eps(x)^T deps per sample (overwritten);
 *   dparams (may be NULL) is ADDED into (the caller zeroes it): d(loss)/d(params).
 * eps (may be NULL) receives the forward output. Workspace: mode BACKWARD.
 */
ggdm_status ggdm_unet_backward(const ggdm_unet_cfg *cfg, const float *params, int N, const float *x,
                               const int64_t *t, const float *deps, float *eps, float *dx, float *dparams,
                               void *workspace, size_t ws_bytes);

/*
 * The training loss of original.md §5 for given t and noise z:
 *   xt = sqrt_ab[t] * x0 + sqrt_1mab[t] * z   (two products, one sum, float32)
 *   loss = (chain over n, then j, of fmaf(d, d, acc), d = eps(xt, t) - z) / (float)(N * length)
 * dparams (may be NULL) is ADDED into with d(loss)/d(params); d(loss)/d(eps) = d * (2 / (N*length)).
 * sqrt_ab, sqrt_1mab: the schedule tables (float32), T entries; every t must be in [0, T).
 * Workspace: mode BACKWARD, plus 2 * N * length floats (ggdm_unet_loss_workspace_bytes).
 */
ggdm_status ggdm_unet_loss_workspace_bytes(const ggdm_unet_cfg *cfg, int N, size_t *bytes);
ggdm_status ggdm_unet_loss_grad(const ggdm_unet_cfg *cfg, const float *params, int N, const float *x0,
                                const int64_t *t, const float *z, const float *sqrt_ab, const float *sqrt_1mab,
                                int T, float *loss, float *dparams, void *workspace, size_t ws_bytes);

/*
 * The same with an executor (ggdm/exec.h): the same bits for every executor and thread count.
 * Without parameter gradients (and without a trace) the batch is cut into one chunk of
 * samples per thread, each a serial call on its own part of the workspace, which must then
 * have ggdm_unet_workspace_bytes_ex bytes (with fewer, one call runs, threads inside the
 * convolutions). With parameter gradients, threads run inside the convolutions.
 */
ggdm_status ggdm_unet_workspace_bytes_ex(const ggdm_unet_cfg *cfg, int N, ggdm_unet_mode mode, const ggdm_exec *ex,
                                         size_t *bytes);
ggdm_status ggdm_unet_forward_ex(const ggdm_unet_cfg *cfg, const float *params, int N, const float *x,
                                 const int64_t *t, float *eps, void *workspace, size_t ws_bytes,
                                 ggdm_unet_trace_fn trace, void *trace_ctx, const ggdm_exec *ex);
ggdm_status ggdm_unet_backward_ex(const ggdm_unet_cfg *cfg, const float *params, int N, const float *x,
                                  const int64_t *t, const float *deps, float *eps, float *dx, float *dparams,
                                  void *workspace, size_t ws_bytes, const ggdm_exec *ex);
ggdm_status ggdm_unet_loss_grad_ex(const ggdm_unet_cfg *cfg, const float *params, int N, const float *x0,
                                   const int64_t *t, const float *z, const float *sqrt_ab, const float *sqrt_1mab,
                                   int T, float *loss, float *dparams, void *workspace, size_t ws_bytes,
                                   const ggdm_exec *ex);
#endif /* GGDM_UNET_H */
