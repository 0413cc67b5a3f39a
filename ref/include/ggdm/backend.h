/*
 * ggdm/backend.h - where the score network's layers run.
 *
 * The network's plan (which layer reads and writes which part of the workspace, in which
 * order: ref/src/unet.c) is defined once. A backend supplies the layer operations and the
 * few memory operations the plan needs; the reference's CPU backend is the library's own
 * layer functions, and another implementation (the CUDA driver in gpu/) supplies its own,
 * operating on its own memory. An exact backend computes every output element by the same
 * chain as the reference (the element functions of ggdm/elem.h), so the bits are the same.
 *
 * Pointers the layer operations receive ("workspace pointers") point into the workspace
 * given to the ggdm_unet_*_ex call, or into the parameters as returned by params(): they
 * are the backend's memory (device memory for a GPU backend). Host pointers are only ever
 * passed to upload/download.
 */
#ifndef GGDM_BACKEND_H
#define GGDM_BACKEND_H
#include <stddef.h>
#include <stdint.h>

struct ggdm_exec;

typedef struct ggdm_unet_backend {
    const char *name; /* "cpu", "cuda-exact", "cuda-fast", ... */
    void *ctx;        /* the backend's own state, passed to the memory operations */

    /* ---- memory (n in floats) ---- */
    /* The parameters as the backend's memory: the host array itself for the CPU; a device
     * copy for a GPU backend (uploaded when `changed` is positive or first seen; when 0, a
     * backend may verify that the host contents did not change since; when negative, the
     * library guarantees they did not: the later steps of one sampling call). */
    const float *(*params)(void *ctx, const float *host, uint64_t n, int changed);
    /* Where parameter gradients are accumulated: host for the CPU (returned as is); a device
     * buffer for a GPU, filled from `host` (they are ADDED into) ... */
    float *(*grads_begin)(void *ctx, float *host, uint64_t n);
    /* ... and copied back to `host` when the backward pass ends. */
    void (*grads_end)(void *ctx, float *host, float *dev, uint64_t n);
    void (*upload)(void *ctx, float *dst, const float *host_src, size_t n);
    void (*download)(void *ctx, float *host_dst, const float *src, size_t n);
    void (*copy)(void *ctx, float *dst, const float *src, size_t n);
    void (*zero)(void *ctx, float *dst, size_t n);
    void (*add_into)(void *ctx, float *dst, const float *src, size_t n); /* dst[i] = dst[i] + src[i] */
    /* dst[i] = (float)t[i] for the N integer steps of the host array t */
    void (*steps)(void *ctx, float *dst, const int64_t *host_t, int N);

    /* ---- layers: the signatures (and semantics) of ggdm/layers.h and ggdm/attention.h ---- */
    void (*conv1d_forward)(float *y, const float *x, const float *w, const float *b, int N, int Cin, int Lin,
                           int Cout, int K, int stride, int pad, float *scratch, const struct ggdm_exec *ex);
    void (*conv1d_backward)(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N,
                            int Cin, int Lin, int Cout, int K, int stride, int pad, float *scratch,
                            const struct ggdm_exec *ex);
    void (*linear_forward)(float *y, const float *x, const float *W, const float *b, int N, int In, int Out);
    void (*linear_backward)(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W, int N,
                            int In, int Out);
    void (*ws_forward)(float *w_hat, float *rstd, const float *w, int Cout, int fan);
    void (*ws_backward)(float *dw, const float *dw_hat, const float *w_hat, const float *rstd, int Cout, int fan);
    void (*groupnorm_forward)(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                              const float *beta, int N, int C, int L, int G);
    void (*groupnorm_backward)(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                               const float *mean, const float *rstd, const float *gamma, int N, int C, int L, int G);
    void (*chnorm_forward)(float *y, float *mean, float *rstd, const float *x, const float *g, int N, int C, int L);
    void (*chnorm_backward)(float *dx, float *dg, const float *dy, const float *x, const float *mean,
                            const float *rstd, const float *g, int N, int C, int L);
    void (*silu_forward)(float *y, const float *x, long n);
    void (*silu_backward)(float *dx, const float *dy, const float *x, long n);
    void (*gelu_forward)(float *y, const float *x, long n);
    void (*gelu_backward)(float *dx, const float *dy, const float *x, long n);
    void (*scale_shift_forward)(float *y, const float *x, const float *ss, int N, int C, int L);
    void (*scale_shift_backward)(float *dx, float *dss, const float *dy, const float *x, const float *ss, int N,
                                 int C, int L);
    void (*upsample2_forward)(float *y, const float *x, int N, int C, int L);
    void (*upsample2_backward)(float *dx, const float *dy, int N, int C, int L);
    void (*linattn_forward)(float *out, float *cache_q, float *cache_k, float *cache_ctx, const float *qkv, int N,
                            int H, int Dh, int L);
    void (*linattn_backward)(float *dqkv, const float *dout, const float *qkv, const float *cache_q,
                             const float *cache_k, const float *cache_ctx, int N, int H, int Dh, int L,
                             float *scratch);
    void (*attn_forward)(float *out, float *cache_attn, const float *qkv, int N, int H, int Dh, int L);
    void (*attn_backward)(float *dqkv, const float *dout, const float *qkv, const float *cache_attn, int N, int H,
                          int Dh, int L, float *scratch);
    void (*time_embedding)(float *emb, const float *t, int N, int dim);

    /* ---- optional (NULL: not needed) ---- */
    /* The workspace the plan uses instead of the caller's (host) workspace of `bytes` bytes:
     * a GPU backend returns a device buffer of at least that size (the same for every call
     * with the same host workspace is not required: nothing in it outlives one call).
     * NULL (it could not): the call fails with GGDM_ERR_BUFFER_TOO_SMALL. */
    float *(*workspace)(void *ctx, void *host_ws, size_t bytes);
    /* Optional: nonzero once an operation has failed (operations cannot return a status);
     * checked at the end of every network call, which then fails with GGDM_ERR_DEVICE, so a
     * device error never passes for a result. NULL: never fails. */
    int (*failed)(void *ctx);
    /* Optional: `rows` blocks of `cols` floats at once (the channel concatenation of the
     * skip connections, per sample), strides in floats:
     *   copy_rows: dst[r*dst_stride + j] = src[r*src_stride + j]
     *   add_rows:  dst[r*dst_stride + j] = dst[r*dst_stride + j] + src[r*src_stride + j]
     * NULL: the library calls copy / add_into once per row (a device backend saves a launch
     * per sample). The blocks never overlap. */
    void (*copy_rows)(void *ctx, float *dst, size_t dst_stride, const float *src, size_t src_stride, size_t rows,
                      size_t cols);
    void (*add_rows)(void *ctx, float *dst, size_t dst_stride, const float *src, size_t src_stride, size_t rows,
                     size_t cols);
    /* Optional: a ResnetBlock half's activation path in one operation (a device backend saves
     * launches; NULL: the plan runs the separate operations, and these must compute what
     * those compute, from the same arguments):
     *   gn_act_forward:  g = groupnorm(h) (with mean, rstd); with ss: f = scale_shift(g, ss),
     *                    a = silu(f); ss and f NULL: a = silu(g)
     *   gn_act_backward: the input gradient only (no parameter gradients): dh = the gradient at
     *                    h given da, as the separate backward operations leave it in a zeroed
     *                    dh (silu, [scale_shift,] groupnorm); scratch [N*C*L] may be clobbered
     *                    and may be da itself; g, f, ss as in the forward. */
    void (*gn_act_forward)(float *g, float *mean, float *rstd, float *f, float *a, const float *h,
                           const float *gamma, const float *beta, const float *ss, int N, int C, int L, int G);
    void (*gn_act_backward)(float *dh, float *scratch, const float *da, const float *h, const float *mean,
                            const float *rstd, const float *gamma, const float *g, const float *f, const float *ss,
                            int N, int C, int L, int G);
} ggdm_unet_backend;

/* The reference's own backend: the library's layer functions on host memory. */
const ggdm_unet_backend *ggdm_unet_backend_cpu(void);

/* The reference's math as per-element functions (ggdm/elem.h) looped over every output
 * element on the host, as the CUDA exact mode runs them (one thread per element): the same
 * bits as ggdm_unet_backend_cpu(), slowly. Named "elem". */
const ggdm_unet_backend *ggdm_unet_backend_elem(void);

#endif /* GGDM_BACKEND_H */
