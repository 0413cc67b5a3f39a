/*
 * The reference's own backend (ggdm/backend.h): the library's layer functions (the CPU
 * driver of every op, ref/src/ops), on host memory. Memory operations are plain copies; parameters and gradients are used in place
 * (backend_host.h: shared with the elem backend).
 */
#include "ggdm/backend.h"

#include <string.h>


#include "backend_host.h"

const float *ggdm_host_params(void *ctx, const float *host, uint64_t n, int changed)
{
    (void)ctx, (void)n, (void)changed;
    return host;
}

float *ggdm_host_grads_begin(void *ctx, float *host, uint64_t n)
{
    (void)ctx, (void)n;
    return host;
}

void ggdm_host_grads_end(void *ctx, float *host, float *dev, uint64_t n)
{
    (void)ctx, (void)host, (void)dev, (void)n;
}

void ggdm_host_copy(void *ctx, float *dst, const float *src, size_t n)
{
    (void)ctx;
    if (n && dst != src)
        memmove(dst, src, sizeof(float) * n);
}

void ggdm_host_zero(void *ctx, float *dst, size_t n)
{
    (void)ctx;
    if (n)
        memset(dst, 0, sizeof(float) * n);
}

void ggdm_host_add_into(void *ctx, float *dst, const float *src, size_t n)
{
    size_t i;
    (void)ctx;
    for (i = 0; i < n; i++)
        dst[i] = dst[i] + src[i];
}

void ggdm_host_steps(void *ctx, float *dst, const int64_t *t, int N)
{
    int i;
    (void)ctx;
    for (i = 0; i < N; i++)
        dst[i] = (float)t[i];
}

static const ggdm_backend cpu_backend = {
    "cpu",
    NULL,
    GGDM_HOST_MEMORY_OPS,
    ggdm_cpu_ops,
    NULL, /* workspace: the caller's host workspace as is */
    NULL, /* failed: never */
    NULL, /* gn_act_forward: the separate ops */
    NULL, /* gn_act_backward: the separate ops */
    NULL, /* supports: every op of the manifest */
};

const ggdm_backend *ggdm_backend_cpu(void)
{
    return &cpu_backend;
}

const ggdm_unet_backend *ggdm_unet_backend_cpu(void)
{
    return &cpu_backend;
}
