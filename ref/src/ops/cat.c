/*
 * CAT: channel concatenation per sample, a [N, C, H, W] and b [N, C2, H, W] -> [N, C + C2, H, W]
 * (the U-Net's skip connections). VJP: da and db ADDED into (one addition each). The
 * reference copies and adds row blocks; the elem driver runs ggdm/elem/cat.h.
 */
#include "op_impl.h"

#include "ggdm/elem/cat.h"

ggdm_status ggdm_op_cat_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_op_info_begin(info, 2, 0);
    if (!ggdm_op_shape_ok(a) || a->C2 < 1 || a->C > (1 << 29) || a->C2 > (1 << 29))
        return GGDM_ERR_ARG;
    return ggdm_op_info_out(info, &z, a->N, a->C + a->C2, a->H, a->W);
}

void ggdm_cpu_cat_fwd(void *ctx, const ggdm_op_call *c)
{
    size_t P = (size_t)c->a.H * (size_t)c->a.W, na = (size_t)c->a.C * P, nb = (size_t)c->a.C2 * P;
    int n;
    (void)ctx;
    for (n = 0; n < c->a.N; n++) {
        memcpy(c->out + (size_t)n * (na + nb), c->in[0] + (size_t)n * na, sizeof(float) * na);
        memcpy(c->out + (size_t)n * (na + nb) + na, c->in[1] + (size_t)n * nb, sizeof(float) * nb);
    }
}

static void add_rows(float *dst, const float *src, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        dst[i] = dst[i] + src[i];
}

void ggdm_cpu_cat_vjp(void *ctx, const ggdm_op_call *c)
{
    size_t P = (size_t)c->a.H * (size_t)c->a.W, na = (size_t)c->a.C * P, nb = (size_t)c->a.C2 * P;
    int n;
    (void)ctx;
    for (n = 0; n < c->a.N; n++) {
        if (c->din[0])
            add_rows(c->din[0] + (size_t)n * na, c->dout + (size_t)n * (na + nb), na);
        if (c->din[1])
            add_rows(c->din[1] + (size_t)n * nb, c->dout + (size_t)n * (na + nb) + na, nb);
    }
}

void ggdm_elem_cat_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    const float *a = c->in[0], *b = c->in[1];
    int N = c->a.N, Ca = c->a.C, Cb = c->a.C2;
    long P = (long)c->a.H * c->a.W;
    (void)ctx;
#define A_ (y, a, b, N, Ca, Cb, P, idx_)
#define S_ (N, Ca, Cb, P)
    GGDM_ELEM_LAUNCHES_cat_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_elem_cat_vjp(void *ctx, const ggdm_op_call *c)
{
    float *da = c->din[0], *db = c->din[1];
    const float *dy = c->dout;
    int N = c->a.N, Ca = c->a.C, Cb = c->a.C2;
    long P = (long)c->a.H * c->a.W;
    (void)ctx;
#define A_ (da, db, dy, N, Ca, Cb, P, idx_)
#define S_ (N, Ca, Cb, P)
    GGDM_ELEM_LAUNCHES_cat_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}
