/*
 * LINATTN: the linear attention core (docs/nn.md, "LinearAttention"): qkv [N, 3 hd, 1, L]
 * (hd = heads dh) -> out [N, hd, 1, L]; caches the softmaxed q and k [N, hd, L] and the
 * context [N, heads, dh, dh].
 */
#include "op_impl.h"

ggdm_status ggdm_op_linattn_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_status st;
    size_t hd;
    ggdm_op_info_begin(info, 1, 3);
    if (!ggdm_op_shape_ok(a) || a->heads < 1 || a->dh < 1 || a->H != 1 || (long)a->C != 3L * a->heads * a->dh)
        return GGDM_ERR_ARG;
    hd = (size_t)a->heads * (size_t)a->dh;
    st = ggdm_op_info_out(info, &z, a->N, (int)hd, 1, a->W);
    info->cache[0] = info->cache[1] = ggdm_op_mul4(&z, (size_t)a->N, hd, (size_t)a->W, 1);
    info->cache[2] = ggdm_op_mul4(&z, (size_t)a->N, hd, (size_t)a->dh, 1);
    info->scratch_vjp = ggdm_linattn_backward_scratch_floats(a->heads, a->dh, a->W);
    info->vjp_in = 1;
    info->flops = 2.0 * 2.0 * a->N * (double)a->heads * a->dh * a->dh * a->W;
    return z.ovf ? GGDM_ERR_ARG : st;
}

void ggdm_cpu_linattn_fwd(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    ggdm_linattn_forward(c->out, c->cache[0], c->cache[1], c->cache[2], c->in[0], c->a.N, c->a.heads, c->a.dh,
                         c->a.W);
}

void ggdm_cpu_linattn_vjp(void *ctx, const ggdm_op_call *c)
{
    (void)ctx;
    if (c->din[0])
        ggdm_linattn_backward(c->din[0], c->dout, c->in[0], c->cache[0], c->cache[1], c->cache[2], c->a.N,
                              c->a.heads, c->a.dh, c->a.W, c->scratch);
}

void ggdm_elem_linattn_fwd(void *ctx, const ggdm_op_call *c)
{
    float *out = c->out, *cache_q = c->cache[0], *cache_k = c->cache[1], *cache_ctx = c->cache[2];
    const float *qkv = c->in[0];
    int N = c->a.N, H = c->a.heads, Dh = c->a.dh, L = c->a.W;
    (void)ctx;
#define A_ (out, cache_q, cache_k, cache_ctx, qkv, N, H, Dh, L, idx_)
#define S_ (N, H, Dh, L)
    GGDM_ELEM_LAUNCHES_linattn_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_elem_linattn_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dqkv = c->din[0];
    const float *dout = c->dout, *qkv = c->in[0], *cache_q = c->cache[0], *cache_k = c->cache[1],
                *cache_ctx = c->cache[2];
    int N = c->a.N, H = c->a.heads, Dh = c->a.dh, L = c->a.W;
    (void)ctx;
#define A_ (dqkv, dout, qkv, cache_q, cache_k, cache_ctx, N, H, Dh, L, idx_)
#define S_ (N, H, Dh, L)
    GGDM_ELEM_LAUNCHES_linattn_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}
