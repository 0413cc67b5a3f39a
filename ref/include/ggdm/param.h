/*
 * ggdm/param.h - a network's parameter table: what every network of ggdm (the Unet1D aside,
 * which has its own ggdm_unet_tensor_info) says about each of its parameter tensors.
 *
 * A network keeps all its parameters in ONE flat float32 array; tensor i of its table is
 * the `count` floats at `offset`, in C order of `shape`, under the name the network's
 * reference implementation gives it (diffusers / transformers / torchvision state-dict
 * names: "down_blocks.0.resnets.0.conv1.weight", "layer1.0.bn1.running_mean", ...).
 * Loaders fill the array by name from weight files (checking shape and dtype); writers
 * (ggdm sd-init, reward-init) write it under those names.
 */
#ifndef GGDM_PARAM_H
#define GGDM_PARAM_H

#include <stdint.h>

#include "ggdm/status.h"

#define GGDM_PARAM_NAME_LEN 112
#define GGDM_PARAM_MAX_DIMS 4

/* How a freshly initialised network fills a tensor (ggdm sd-init, reward-init). */
enum {
    GGDM_PARAM_INIT_UNIFORM = 0, /* uniform(+-1/sqrt(fan_in)) (PyTorch's default bounds) */
    GGDM_PARAM_INIT_ONES = 1,    /* norm weights, BatchNorm running_var */
    GGDM_PARAM_INIT_ZEROS = 2,   /* norm biases, BatchNorm running_mean */
    GGDM_PARAM_INIT_DERIVED = 3  /* not a weight: constants the network derives from its configuration
                                  * (e.g. the reward's Normalize); not in weight files, not initialised
                                  * from a seed: the network's own function fills them */
};

typedef struct ggdm_param_info {
    char name[GGDM_PARAM_NAME_LEN];
    int ndim;
    uint64_t shape[GGDM_PARAM_MAX_DIMS];
    uint64_t offset; /* in floats, into the flat parameter array */
    uint64_t count;  /* floats */
    uint64_t fan_in; /* initialisation bound's fan-in (UNIFORM) */
    int init;        /* GGDM_PARAM_INIT_* */
} ggdm_param_info;

/* A network's table: n tensors, tensor i through fn (GGDM_ERR_ARG for i out of range). */
typedef ggdm_status (*ggdm_param_fn)(const void *cfg, int i, ggdm_param_info *info);

typedef struct ggdm_param_table {
    const void *cfg;
    ggdm_param_fn tensor;
    int n_tensors;
    uint64_t n_params; /* floats of the flat array */
} ggdm_param_table;

/*
 * Initialises a fresh network from a seed: UNIFORM tensors element e of tensor i =
 * b * (2 u - 1), b = (float)(1 / sqrt(fan_in)), u = ggdm_rng_uniform(seed, stream(WEIGHT_INIT,
 * net_id, i), e) (the Unet1D's recipe with its own stream family net_id); ONES, ZEROS; DERIVED
 * tensors are left as they are. count: floats of params (>= n_params).
 */
ggdm_status ggdm_param_init(const ggdm_param_table *t, uint64_t seed, uint32_t net_id, float *params, uint64_t count);

/* Stream families of ggdm_param_init (a = net_id): one per network, so that no two share numbers. */
enum {
    GGDM_NET_ID_RESNET = 1,
    GGDM_NET_ID_UNET2D = 2,
    GGDM_NET_ID_VAE = 3, /* = GGDM_VAE_INIT_STREAM_A (vae.c) */
    GGDM_NET_ID_CLIP = 4,
    GGDM_NET_ID_VAE_ENC = 5 /* the VAE's encoder side, written by ggdm sd-init only (random, never run) */
};

#endif /* GGDM_PARAM_H */
