/*
 * backend_host.h - internal to ref/src: the memory operations of a backend whose memory is
 * the host's (the CPU and elem backends, ggdm/backend.h): plain copies, parameters and
 * gradients used in place. Defined in backend_cpu.c.
 */
#ifndef GGDM_BACKEND_HOST_H
#define GGDM_BACKEND_HOST_H
#include <stddef.h>
#include <stdint.h>

#include "ggdm/op.h"

const float *ggdm_host_params(void *ctx, const float *host, uint64_t n, int changed);
float *ggdm_host_grads_begin(void *ctx, float *host, uint64_t n);
void ggdm_host_grads_end(void *ctx, float *host, float *dev, uint64_t n);
void ggdm_host_copy(void *ctx, float *dst, const float *src, size_t n); /* also upload and download */
void ggdm_host_zero(void *ctx, float *dst, size_t n);
void ggdm_host_add_into(void *ctx, float *dst, const float *src, size_t n);
void ggdm_host_steps(void *ctx, float *dst, const int64_t *t, int N);
/* The host drivers' op tables (op.c, from the manifest ggdm/ops.def). */
extern const ggdm_op_impl ggdm_cpu_ops[GGDM_OP_COUNT];
extern const ggdm_op_impl ggdm_elem_ops[GGDM_OP_COUNT];

/* The memory operations' entries of a host backend's table (ggdm_backend, params to steps). */
#define GGDM_HOST_MEMORY_OPS                                                                                          \
    ggdm_host_params, ggdm_host_grads_begin, ggdm_host_grads_end, ggdm_host_copy /* upload */,                       \
        ggdm_host_copy /* download */, ggdm_host_copy, ggdm_host_zero, ggdm_host_add_into, ggdm_host_steps

#endif /* GGDM_BACKEND_HOST_H */
