/*
 * The "elem" backend (ggdm/backend.h): every layer runs as a loop over the elements of each
 * of its outputs, calling the element functions of ggdm/elem.h - what the CUDA exact mode
 * does with one thread per element - in the launch order of the table there (a later output
 * may read an earlier one). Host memory, like the CPU backend: parameters and gradients are
 * used in place. The bits are the reference's (ref/tests/test_backend.c); it is slow (every
 * shared reduction is recomputed per element) and single-threaded by design: it exists to
 * prove on the CPU that the element functions are the reference's math.
 */
#include "ggdm/backend.h"

#include "ggdm/elem.h"

#include "backend_host.h"

/* ------------------------------------------------------------------ layers */

/* One "launch": element idx_ of output OUT of operation OP for every idx_ < its count, if OUT
 * is wanted (not NULL). ARGS are the operation's arguments (without scratch and ex) and idx_,
 * SIZES its size arguments. */
#define LAUNCH(OP, OUT, ARGS, SIZES)                                                                                  \
    do {                                                                                                              \
        if (OUT) {                                                                                                    \
            long idx_, cnt_ = ggdm_elem_##OP##_##OUT##_count SIZES;                                                  \
            for (idx_ = 0; idx_ < cnt_; idx_++)                                                                       \
                ggdm_elem_##OP##_##OUT ARGS;                                                                          \
        }                                                                                                             \
    } while (0);

/* Every operation runs its outputs in the launch order of ggdm/elem.h's table
 * (GGDM_ELEM_LAUNCHES_<op>), with its own arguments A_ and sizes S_. */
#define RUN(OP, OUT) LAUNCH(OP, OUT, A_, S_)

static void e_conv1d_forward(float *y, const float *x, const float *w, const float *b, int N, int Cin, int Lin,
                             int Cout, int K, int stride, int pad, float *scratch, const struct ggdm_exec *ex)
{
    (void)scratch, (void)ex;
#define A_ (y, x, w, b, N, Cin, Lin, Cout, K, stride, pad, idx_)
#define S_ (N, Cin, Lin, Cout, K, stride, pad)
    GGDM_ELEM_LAUNCHES_conv1d_forward(RUN)
#undef A_
#undef S_
}

static void e_conv1d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N,
                              int Cin, int Lin, int Cout, int K, int stride, int pad, float *scratch,
                              const struct ggdm_exec *ex)
{
    (void)scratch, (void)ex;
#define A_ (dx, dw, db, dy, x, w, N, Cin, Lin, Cout, K, stride, pad, idx_)
#define S_ (N, Cin, Lin, Cout, K, stride, pad)
    GGDM_ELEM_LAUNCHES_conv1d_backward(RUN)
#undef A_
#undef S_
}

static void e_linear_forward(float *y, const float *x, const float *W, const float *b, int N, int In, int Out)
{
#define A_ (y, x, W, b, N, In, Out, idx_)
#define S_ (N, In, Out)
    GGDM_ELEM_LAUNCHES_linear_forward(RUN)
#undef A_
#undef S_
}

static void e_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W, int N,
                              int In, int Out)
{
#define A_ (dx, dW, db, dy, x, W, N, In, Out, idx_)
#define S_ (N, In, Out)
    GGDM_ELEM_LAUNCHES_linear_backward(RUN)
#undef A_
#undef S_
}

static void e_ws_forward(float *w_hat, float *rstd, const float *w, int Cout, int fan)
{
#define A_ (w_hat, rstd, w, Cout, fan, idx_)
#define S_ (Cout, fan)
    GGDM_ELEM_LAUNCHES_ws_forward(RUN)
#undef A_
#undef S_
}

static void e_ws_backward(float *dw, const float *dw_hat, const float *w_hat, const float *rstd, int Cout, int fan)
{
#define A_ (dw, dw_hat, w_hat, rstd, Cout, fan, idx_)
#define S_ (Cout, fan)
    GGDM_ELEM_LAUNCHES_ws_backward(RUN)
#undef A_
#undef S_
}

static void e_groupnorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                const float *beta, int N, int C, int L, int G)
{
#define A_ (y, mean, rstd, x, gamma, beta, N, C, L, G, idx_)
#define S_ (N, C, L, G)
    GGDM_ELEM_LAUNCHES_groupnorm_forward(RUN)
#undef A_
#undef S_
}

static void e_groupnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                 const float *mean, const float *rstd, const float *gamma, int N, int C, int L, int G)
{
#define A_ (dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, L, G, idx_)
#define S_ (N, C, L, G)
    GGDM_ELEM_LAUNCHES_groupnorm_backward(RUN)
#undef A_
#undef S_
}

static void e_chnorm_forward(float *y, float *mean, float *rstd, const float *x, const float *g, int N, int C, int L)
{
#define A_ (y, mean, rstd, x, g, N, C, L, idx_)
#define S_ (N, C, L)
    GGDM_ELEM_LAUNCHES_chnorm_forward(RUN)
#undef A_
#undef S_
}

static void e_chnorm_backward(float *dx, float *dg, const float *dy, const float *x, const float *mean,
                              const float *rstd, const float *g, int N, int C, int L)
{
#define A_ (dx, dg, dy, x, mean, rstd, g, N, C, L, idx_)
#define S_ (N, C, L)
    GGDM_ELEM_LAUNCHES_chnorm_backward(RUN)
#undef A_
#undef S_
}

static void e_silu_forward(float *y, const float *x, long n)
{
#define A_ (y, x, n, idx_)
#define S_ (n)
    GGDM_ELEM_LAUNCHES_silu_forward(RUN)
#undef A_
#undef S_
}

static void e_silu_backward(float *dx, const float *dy, const float *x, long n)
{
#define A_ (dx, dy, x, n, idx_)
#define S_ (n)
    GGDM_ELEM_LAUNCHES_silu_backward(RUN)
#undef A_
#undef S_
}

static void e_gelu_forward(float *y, const float *x, long n)
{
#define A_ (y, x, n, idx_)
#define S_ (n)
    GGDM_ELEM_LAUNCHES_gelu_forward(RUN)
#undef A_
#undef S_
}

static void e_gelu_backward(float *dx, const float *dy, const float *x, long n)
{
#define A_ (dx, dy, x, n, idx_)
#define S_ (n)
    GGDM_ELEM_LAUNCHES_gelu_backward(RUN)
#undef A_
#undef S_
}

static void e_scale_shift_forward(float *y, const float *x, const float *ss, int N, int C, int L)
{
#define A_ (y, x, ss, N, C, L, idx_)
#define S_ (N, C, L)
    GGDM_ELEM_LAUNCHES_scale_shift_forward(RUN)
#undef A_
#undef S_
}

static void e_scale_shift_backward(float *dx, float *dss, const float *dy, const float *x, const float *ss, int N,
                                   int C, int L)
{
#define A_ (dx, dss, dy, x, ss, N, C, L, idx_)
#define S_ (N, C, L)
    GGDM_ELEM_LAUNCHES_scale_shift_backward(RUN)
#undef A_
#undef S_
}

static void e_upsample2_forward(float *y, const float *x, int N, int C, int L)
{
#define A_ (y, x, N, C, L, idx_)
#define S_ (N, C, L)
    GGDM_ELEM_LAUNCHES_upsample2_forward(RUN)
#undef A_
#undef S_
}

static void e_upsample2_backward(float *dx, const float *dy, int N, int C, int L)
{
#define A_ (dx, dy, N, C, L, idx_)
#define S_ (N, C, L)
    GGDM_ELEM_LAUNCHES_upsample2_backward(RUN)
#undef A_
#undef S_
}

static void e_linattn_forward(float *out, float *cache_q, float *cache_k, float *cache_ctx, const float *qkv, int N,
                              int H, int Dh, int L)
{
#define A_ (out, cache_q, cache_k, cache_ctx, qkv, N, H, Dh, L, idx_)
#define S_ (N, H, Dh, L)
    GGDM_ELEM_LAUNCHES_linattn_forward(RUN)
#undef A_
#undef S_
}

static void e_linattn_backward(float *dqkv, const float *dout, const float *qkv, const float *cache_q,
                               const float *cache_k, const float *cache_ctx, int N, int H, int Dh, int L,
                               float *scratch)
{
    (void)scratch;
#define A_ (dqkv, dout, qkv, cache_q, cache_k, cache_ctx, N, H, Dh, L, idx_)
#define S_ (N, H, Dh, L)
    GGDM_ELEM_LAUNCHES_linattn_backward(RUN)
#undef A_
#undef S_
}

static void e_attn_forward(float *out, float *cache_attn, const float *qkv, int N, int H, int Dh, int L)
{
#define A_ (out, cache_attn, qkv, N, H, Dh, L, idx_)
#define S_ (N, H, Dh, L)
    GGDM_ELEM_LAUNCHES_attn_forward(RUN)
#undef A_
#undef S_
}

static void e_attn_backward(float *dqkv, const float *dout, const float *qkv, const float *cache_attn, int N, int H,
                            int Dh, int L, float *scratch)
{
    (void)scratch;
#define A_ (dqkv, dout, qkv, cache_attn, N, H, Dh, L, idx_)
#define S_ (N, H, Dh, L)
    GGDM_ELEM_LAUNCHES_attn_backward(RUN)
#undef A_
#undef S_
}

static void e_time_embedding(float *emb, const float *t, int N, int dim)
{
#define A_ (emb, t, N, dim, idx_)
#define S_ (N, dim)
    GGDM_ELEM_LAUNCHES_time_embedding(RUN)
#undef A_
#undef S_
}

/* The fused activation path as the separate operations (so that the CPU tests run the plan's
 * fused branch, bit for bit against the CPU backend's separate one). */
static void e_gn_act_forward(float *g, float *mean, float *rstd, float *f, float *a, const float *h, const float *gamma,
                             const float *beta, const float *ss, int N, int C, int L, int G)
{
    long n = (long)N * C * L;
    e_groupnorm_forward(g, mean, rstd, h, gamma, beta, N, C, L, G);
    if (ss) {
        e_scale_shift_forward(f, g, ss, N, C, L);
        e_silu_forward(a, f, n);
    } else {
        e_silu_forward(a, g, n);
    }
}

static void e_gn_act_backward(float *dh, float *scratch, const float *da, const float *h, const float *mean,
                              const float *rstd, const float *gamma, const float *g, const float *f, const float *ss,
                              int N, int C, int L, int G)
{
    long n = (long)N * C * L;
    if (ss) { /* da may be scratch: read before scratch is written */
        ggdm_host_zero(NULL, dh, (size_t)n);
        e_silu_backward(dh, da, f, n);
        ggdm_host_zero(NULL, scratch, (size_t)n);
        e_scale_shift_backward(scratch, NULL, dh, g, ss, N, C, L);
    } else if (da != scratch) {
        ggdm_host_zero(NULL, scratch, (size_t)n);
        e_silu_backward(scratch, da, g, n);
    } else { /* the same values, by way of dh */
        ggdm_host_zero(NULL, dh, (size_t)n);
        e_silu_backward(dh, da, g, n);
        ggdm_host_copy(NULL, scratch, dh, (size_t)n);
    }
    ggdm_host_zero(NULL, dh, (size_t)n);
    e_groupnorm_backward(dh, NULL, NULL, scratch, h, mean, rstd, gamma, N, C, L, G);
}

static const ggdm_unet_backend elem_backend = {
    "elem",
    NULL,
    GGDM_HOST_MEMORY_OPS,
    e_conv1d_forward,
    e_conv1d_backward,
    e_linear_forward,
    e_linear_backward,
    e_ws_forward,
    e_ws_backward,
    e_groupnorm_forward,
    e_groupnorm_backward,
    e_chnorm_forward,
    e_chnorm_backward,
    e_silu_forward,
    e_silu_backward,
    e_gelu_forward,
    e_gelu_backward,
    e_scale_shift_forward,
    e_scale_shift_backward,
    e_upsample2_forward,
    e_upsample2_backward,
    e_linattn_forward,
    e_linattn_backward,
    e_attn_forward,
    e_attn_backward,
    e_time_embedding,
    NULL, /* workspace: the caller's host workspace as is */
    NULL, /* failed: never */
    ggdm_host_copy_rows,
    ggdm_host_add_rows,
    e_gn_act_forward,
    e_gn_act_backward,
};

const ggdm_unet_backend *ggdm_unet_backend_elem(void)
{
    return &elem_backend;
}
