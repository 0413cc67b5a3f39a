/*
 * ATTN: softmax attention with queries and keys/values of their own lengths (docs/nn.md,
 * "Attention"): q = in[0] + oq ([hd, Lq] per sample, sample stride sq), k = in[1] + ok and
 * v = in[2] + ov ([hd, Lk], strides sk, sv), hd = heads dh; out [N, hd, 1, Lq] contiguous;
 * cache: the attention weights [N, heads, Lq, Lk]. Self-attention is the three inputs one
 * packed qkv value at offsets 0, hd L, 2 hd L (the bits of ggdm_attn_forward).
 *
 * The elem driver runs ggdm/elem.h's element functions, which read a packed qkv: other views
 * (cross-attention) run the reference's functions (the same math) until the element form of
 * separate q, k, v comes with Stable Diffusion's transformer blocks.
 */
#include "op_impl.h"

ggdm_status ggdm_op_attn_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_status st;
    size_t hd, sc;
    ggdm_op_info_begin(info, 3, 1);
    if (a->N < 1 || a->heads < 1 || a->dh < 1 || a->Lq < 1 || a->Lk < 1 || a->oq < 0 || a->ok < 0 || a->ov < 0)
        return GGDM_ERR_ARG;
    hd = (size_t)a->heads * (size_t)a->dh;
    if (a->heads > (1 << 16) || a->dh > (1 << 16) || a->Lq > (1 << 24) || a->Lk > (1 << 24))
        return GGDM_ERR_ARG;
    /* every sample's view must hold its [hd, L] (so no stride is negative) */
    if (a->sq < (long)(hd * (size_t)a->Lq) || a->sk < (long)(hd * (size_t)a->Lk) || a->sv < (long)(hd * (size_t)a->Lk))
        return GGDM_ERR_ARG;
    if ((a->causal != 0 && a->causal != 1) || (a->causal && a->Lq != a->Lk) ||
        (a->kind != GGDM_ATTN_KEEP && a->kind != GGDM_ATTN_RECOMPUTE))
        return GGDM_ERR_ARG;
    st = ggdm_op_info_out(info, &z, a->N, (int)hd, 1, a->Lq);
    /* the weights [N, heads, Lq, Lk], or the rows' (max, sum) [N, heads, Lq, 2] */
    info->cache[0] = ggdm_op_mul4(&z, (size_t)a->N, (size_t)a->heads, (size_t)a->Lq,
                                  a->kind == GGDM_ATTN_KEEP ? (size_t)a->Lk : 2u);
    /* an upper bound of the scratch's slots (so that their size cannot overflow) */
    sc = ggdm_op_mul(&z, (size_t)GGDM_ATTN_SLOTS * (3u * GGDM_ATTN_ROWS + 2u * GGDM_ATTN_COLS),
                     (size_t)a->Lk + (size_t)a->dh + GGDM_ATTN_COLS);
    (void)sc;
    info->scratch_fwd = ggdm_attn_ex_scratch_floats(a->N, a->heads, a->dh, a->Lq, a->Lk, 0);
    info->scratch_vjp = ggdm_attn_ex_scratch_floats(a->N, a->heads, a->dh, a->Lq, a->Lk, 1);
    info->vjp_in = 7;
    info->flops = 2.0 * 2.0 * a->N * (double)a->heads * a->Lq * (double)a->Lk * a->dh;
    return z.ovf ? GGDM_ERR_ARG : st;
}

void ggdm_cpu_attn_fwd(void *ctx, const ggdm_op_call *c)
{
    const ggdm_op_attr *a = &c->a;
    (void)ctx;
    ggdm_attn_forward_ex(c->out, c->cache[0], c->in[0] + a->oq, c->in[1] + a->ok, c->in[2] + a->ov, a->sq, a->sk,
                         a->sv, a->N, a->heads, a->dh, a->Lq, a->Lk, a->causal, a->kind, c->scratch, c->ex);
}

void ggdm_cpu_attn_vjp(void *ctx, const ggdm_op_call *c)
{
    const ggdm_op_attr *a = &c->a;
    (void)ctx;
    ggdm_attn_backward_ex(c->din[0] ? c->din[0] + a->oq : NULL, c->din[1] ? c->din[1] + a->ok : NULL,
                           c->din[2] ? c->din[2] + a->ov : NULL, c->dout, c->in[0] + a->oq, c->in[1] + a->ok,
                          c->in[2] + a->ov, a->sq, a->sk, a->sv, c->cache[0], a->N, a->heads, a->dh, a->Lq, a->Lk,
                          a->causal, a->kind, c->scratch, c->ex);
}

/* The packed self-attention layout of ggdm_attn_forward (what the element functions read). */
static int packed(const ggdm_op_call *c)
{
    const ggdm_op_attr *a = &c->a;
    long hdl = (long)a->heads * a->dh * a->Lq;
    return c->in[0] == c->in[1] && c->in[1] == c->in[2] && a->Lq == a->Lk && a->oq == 0 && a->ok == hdl &&
           a->ov == 2 * hdl && a->sq == 3 * hdl && a->sk == 3 * hdl && a->sv == 3 * hdl;
}

void ggdm_elem_attn_fwd(void *ctx, const ggdm_op_call *c)
{
    float *out = c->out, *cache_attn = c->cache[0];
    const float *qkv = c->in[0];
    int N = c->a.N, H = c->a.heads, Dh = c->a.dh, L = c->a.Lq;
    if (!packed(c) || c->a.causal || c->a.kind != GGDM_ATTN_KEEP) {
        ggdm_cpu_attn_fwd(ctx, c);
        return;
    }
#define A_ (out, cache_attn, qkv, N, H, Dh, L, idx_)
#define S_ (N, H, Dh, L)
    GGDM_ELEM_LAUNCHES_attn_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_elem_attn_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dqkv = c->din[0];
    const float *dout = c->dout, *qkv = c->in[0], *cache_attn = c->cache[0];
    int N = c->a.N, H = c->a.heads, Dh = c->a.dh, L = c->a.Lq;
    if (!packed(c) || c->a.causal || c->a.kind != GGDM_ATTN_KEEP || c->din[1] != dqkv || c->din[2] != dqkv) {
        ggdm_cpu_attn_vjp(ctx, c);
        return;
    }
#define A_ (dqkv, dout, qkv, cache_attn, N, H, Dh, L, idx_)
#define S_ (N, H, Dh, L)
    GGDM_ELEM_LAUNCHES_attn_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}
