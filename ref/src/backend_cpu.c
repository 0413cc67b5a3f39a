/*
 * The reference's own backend (ggdm/backend.h): the library's layer functions, on host
 * memory. Memory operations are plain copies; parameters and gradients are used in place
 * (backend_host.h: shared with the elem backend).
 */
#include "ggdm/backend.h"

#include <string.h>

#include "ggdm/attention.h"
#include "ggdm/layers.h"

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

void ggdm_host_copy_rows(void *ctx, float *dst, size_t dst_stride, const float *src, size_t src_stride, size_t rows,
                         size_t cols)
{
    size_t r;
    for (r = 0; r < rows; r++)
        ggdm_host_copy(ctx, dst + r * dst_stride, src + r * src_stride, cols);
}

void ggdm_host_add_rows(void *ctx, float *dst, size_t dst_stride, const float *src, size_t src_stride, size_t rows,
                        size_t cols)
{
    size_t r;
    for (r = 0; r < rows; r++)
        ggdm_host_add_into(ctx, dst + r * dst_stride, src + r * src_stride, cols);
}

void ggdm_host_steps(void *ctx, float *dst, const int64_t *t, int N)
{
    int i;
    (void)ctx;
    for (i = 0; i < N; i++)
        dst[i] = (float)t[i];
}

static const ggdm_unet_backend cpu_backend = {
    "cpu",
    NULL,
    GGDM_HOST_MEMORY_OPS,
    ggdm_conv1d_forward_ex,
    ggdm_conv1d_backward_ex,
    ggdm_linear_forward,
    ggdm_linear_backward,
    ggdm_ws_forward,
    ggdm_ws_backward,
    ggdm_groupnorm_forward,
    ggdm_groupnorm_backward,
    ggdm_chnorm_forward,
    ggdm_chnorm_backward,
    ggdm_silu_forward,
    ggdm_silu_backward,
    ggdm_gelu_forward,
    ggdm_gelu_backward,
    ggdm_scale_shift_forward,
    ggdm_scale_shift_backward,
    ggdm_upsample2_forward,
    ggdm_upsample2_backward,
    ggdm_linattn_forward,
    ggdm_linattn_backward,
    ggdm_attn_forward,
    ggdm_attn_backward,
    ggdm_time_embedding,
    NULL, /* workspace: the caller's host workspace as is */
    NULL, /* failed: never */
    NULL, /* copy_rows: row by row */
    NULL, /* add_rows: row by row */
    NULL, /* gn_act_forward: the separate operations */
    NULL, /* gn_act_backward: the separate operations */
};

const ggdm_unet_backend *ggdm_unet_backend_cpu(void)
{
    return &cpu_backend;
}
