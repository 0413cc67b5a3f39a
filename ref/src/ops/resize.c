/*
 * RESIZE: bilinear resampling x [N, C, H, W] -> y [N, C, oh, ow], align_corners false, with
 * (antialias = 1) or without (0) PyTorch's antialiasing (ggdm/elem/resize.h defines the chains;
 * docs/nn.md, "Resize"). The weights come from the attributes alone, recomputed by every
 * element (no tables, no scratch). The reference driver runs the element functions, cut into
 * tasks of contiguous elements for the executor (every element is its own chain, so the bits
 * do not depend on the split); the elem driver the same launches in one loop.
 */
#include "op_impl.h"

#include "ggdm/elem/resize.h"

ggdm_status ggdm_op_resize_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_status st;
    ggdm_op_info_begin(info, 1, 0);
    if (!ggdm_op_shape_ok(a) || a->oh < 1 || a->ow < 1 || (a->antialias != 0 && a->antialias != 1) ||
        a->H > GGDM_RESIZE_MAX || a->W > GGDM_RESIZE_MAX || a->oh > GGDM_RESIZE_MAX || a->ow > GGDM_RESIZE_MAX)
        return GGDM_ERR_ARG;
    st = ggdm_op_info_out(info, &z, a->N, a->C, a->oh, a->ow);
    (void)ggdm_op_mul4(&z, (size_t)a->N, (size_t)a->C, (size_t)a->H, (size_t)a->W); /* dx must fit too */
    if (st != GGDM_OK || z.ovf)
        return GGDM_ERR_ARG;
    if (a->antialias) { /* separable: the W pass over H rows, then the H pass; taps ~ 2 ceil(support) */
        float sh = ggdm_resize_scale(a->H, a->oh), sw = ggdm_resize_scale(a->W, a->ow);
        double kh = sh > 1.0f ? 2.0 * sh : 2.0, kw = sw > 1.0f ? 2.0 * sw : 2.0;
        info->flops = 2.0 * (double)a->N * a->C * ((double)a->H * a->ow * kw + (double)a->oh * a->ow * kh);
    } else {
        info->flops = 2.0 * 3.0 * (double)info->out; /* 6 products, 3 sums */
    }
    return GGDM_OK;
}

#define RESIZE_ARGS(c) (c)->a.N, (c)->a.C, (c)->a.H, (c)->a.W, (c)->a.oh, (c)->a.ow, (c)->a.antialias

void ggdm_elem_resize_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    const float *x = c->in[0];
    (void)ctx;
#define A_ (y, x, RESIZE_ARGS(c), idx_)
#define S_ (RESIZE_ARGS(c))
    GGDM_ELEM_LAUNCHES_resize_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_elem_resize_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dx = c->din[0];
    const float *dy = c->dout;
    (void)ctx;
#define A_ (dx, dy, RESIZE_ARGS(c), idx_)
#define S_ (RESIZE_ARGS(c))
    GGDM_ELEM_LAUNCHES_resize_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

/* The reference driver: the same element functions over [begin, end) per task. */
typedef struct resize_task {
    const ggdm_op_call *c;
    long count, per;
    int vjp;
} resize_task;

static void resize_run(void *arg, int task)
{
    const resize_task *t = (const resize_task *)arg;
    const ggdm_op_call *c = t->c;
    long i = (long)task * t->per, end = i + t->per < t->count ? i + t->per : t->count;
    for (; i < end; i++) {
        if (t->vjp)
            ggdm_elem_resize_backward_dx(c->din[0], c->dout, RESIZE_ARGS(c), i);
        else
            ggdm_elem_resize_forward_y(c->out, c->in[0], RESIZE_ARGS(c), i);
    }
}

static void resize_cpu(const ggdm_op_call *c, int vjp)
{
    resize_task t;
    long tasks = 4L * ggdm_exec_threads(c->ex);
    t.c = c;
    t.vjp = vjp;
    t.count = vjp ? ggdm_elem_resize_backward_dx_count(RESIZE_ARGS(c)) : ggdm_elem_resize_forward_y_count(RESIZE_ARGS(c));
    if (tasks > t.count)
        tasks = t.count;
    if (tasks < 1)
        return;
    t.per = (t.count + tasks - 1) / tasks;
    ggdm_exec_run(c->ex, resize_run, &t, (int)((t.count + t.per - 1) / t.per));
}

void ggdm_cpu_resize_fwd(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    resize_cpu(c, 0);
}

void ggdm_cpu_resize_vjp(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    if (c->din[0])
        resize_cpu(c, 1);
}
