/*
 * op_impl.h - internal to ref/src/ops: what every math file shares (ggdm/op.h).
 *
 * The elem drivers run an op as "launches": for every output OUT of a layer function OP in
 * the launch order of its table (GGDM_ELEM_LAUNCHES_<OP> in ggdm/elem.h, or in the op's
 * ggdm/elem/<name>.h), element idx_ of OUT for every idx_ below its count, when OUT is
 * wanted (not NULL) - what the CUDA exact mode does with one thread per element.
 */
#ifndef GGDM_OP_IMPL_H
#define GGDM_OP_IMPL_H

#include <stddef.h>
#include <string.h>

#include "ggdm/attention.h"
#include "ggdm/elem.h"
#include "ggdm/exec.h"
#include "ggdm/layers.h"
#include "ggdm/op.h"

#define GGDM_ELEM_LAUNCH(OP, OUT, ARGS, SIZES)                                                                        \
    do {                                                                                                              \
        if (OUT) {                                                                                                    \
            long idx_, cnt_ = ggdm_elem_##OP##_##OUT##_count SIZES;                                                  \
            for (idx_ = 0; idx_ < cnt_; idx_++)                                                                       \
                ggdm_elem_##OP##_##OUT ARGS;                                                                          \
        }                                                                                                             \
    } while (0);

/* Runs GGDM_ELEM_LAUNCHES_<OP> with the arguments A_ and sizes S_ defined by the caller. */
#define GGDM_ELEM_RUN(OP, OUT) GGDM_ELEM_LAUNCH(OP, OUT, A_, S_)

/* Size arithmetic for the info functions: products in size_t with overflow recorded. */
typedef struct ggdm_op_sz {
    int ovf;
} ggdm_op_sz;

static inline size_t ggdm_op_mul(ggdm_op_sz *z, size_t a, size_t b)
{
    if (a != 0 && b > (size_t)-1 / 8u / a) { /* byte counts (x 4, x 2 for granules) must fit too */
        z->ovf = 1;
        return 0;
    }
    return a * b;
}

static inline size_t ggdm_op_mul4(ggdm_op_sz *z, size_t a, size_t b, size_t c, size_t d)
{
    return ggdm_op_mul(z, ggdm_op_mul(z, ggdm_op_mul(z, a, b), c), d);
}

/* Starts an info record: the op's input and cache counts, batched, nothing else. */
static inline void ggdm_op_info_begin(ggdm_op_info *info, int n_in, int n_cache)
{
    memset(info, 0, sizeof *info);
    info->n_in = n_in;
    info->n_cache = n_cache;
    info->batched = 1;
}

/* Sets the output's shape [N, C, H, W] and size; GGDM_ERR_ARG on overflow. */
static inline ggdm_status ggdm_op_info_out(ggdm_op_info *info, ggdm_op_sz *z, int N, int C, int H, int W)
{
    info->out_C = C;
    info->out_H = H;
    info->out_W = W;
    info->out = ggdm_op_mul4(z, (size_t)N, (size_t)C, (size_t)H, (size_t)W);
    return z->ovf ? GGDM_ERR_ARG : GGDM_OK;
}

/* N, C, H, W all >= 1 */
static inline int ggdm_op_shape_ok(const ggdm_op_attr *a)
{
    return a->N >= 1 && a->C >= 1 && a->H >= 1 && a->W >= 1;
}

/* N * C * H * W as the long the element-wise layer functions take */
static inline long ggdm_op_count(const ggdm_op_attr *a)
{
    return (long)a->N * a->C * a->H * a->W;
}

/* An element-wise op y = f(x) of one input: its info, and its drivers over the layer
 * functions ggdm_<f>_forward/_backward (cpu) and the element functions
 * ggdm_elem_<f>_forward_y / _backward_dx (elem). */
#define GGDM_UNARY_OP(name, f)                                                                                        \
    ggdm_status ggdm_op_##name##_info(const ggdm_op_attr *a, ggdm_op_info *info)                                     \
    {                                                                                                                 \
        ggdm_op_sz z = {0};                                                                                           \
        ggdm_op_info_begin(info, 1, 0);                                                                               \
        if (!ggdm_op_shape_ok(a))                                                                                     \
            return GGDM_ERR_ARG;                                                                                      \
        info->vjp_in = 1;                                                                                             \
        return ggdm_op_info_out(info, &z, a->N, a->C, a->H, a->W);                                                    \
    }                                                                                                                 \
    void ggdm_cpu_##name##_fwd(void *ctx, const ggdm_op_call *c)                                                      \
    {                                                                                                                 \
        (void)ctx;                                                                                                    \
        ggdm_##f##_forward(c->out, c->in[0], ggdm_op_count(&c->a));                                                   \
    }                                                                                                                 \
    void ggdm_cpu_##name##_vjp(void *ctx, const ggdm_op_call *c)                                                      \
    {                                                                                                                 \
        (void)ctx;                                                                                                    \
        if (c->din[0])                                                                                                \
            ggdm_##f##_backward(c->din[0], c->dout, c->in[0], ggdm_op_count(&c->a));                                  \
    }                                                                                                                 \
    void ggdm_elem_##name##_fwd(void *ctx, const ggdm_op_call *c)                                                     \
    {                                                                                                                 \
        float *y = c->out;                                                                                            \
        const float *x = c->in[0];                                                                                    \
        long n = ggdm_op_count(&c->a);                                                                                \
        (void)ctx;                                                                                                    \
        GGDM_ELEM_LAUNCH(f##_forward, y, (y, x, n, idx_), (n))                                                        \
    }                                                                                                                 \
    void ggdm_elem_##name##_vjp(void *ctx, const ggdm_op_call *c)                                                     \
    {                                                                                                                 \
        float *dx = c->din[0];                                                                                        \
        const float *dy = c->dout, *x = c->in[0];                                                                     \
        long n = ggdm_op_count(&c->a);                                                                                \
        (void)ctx;                                                                                                    \
        GGDM_ELEM_LAUNCH(f##_backward, dx, (dx, dy, x, n, idx_), (n))                                                 \
    }

#endif /* GGDM_OP_IMPL_H */
