/*
 * ATTN: softmax attention with queries and keys/values of their own lengths (docs/nn.md,
 * "Attention"): q = in[0] + oq ([hd, Lq] per sample, sample stride sq), k = in[1] + ok and
 * v = in[2] + ov ([hd, Lk], strides sk, sv), hd = heads dh; out [N, hd, 1, Lq] contiguous;
 * cache: the attention weights [N, heads, Lq, Lk]. Self-attention is the three inputs one
 * packed qkv value at offsets 0, hd L, 2 hd L (the bits of ggdm_attn_forward).
 *
 * causal = 1: query i attends to keys j <= i (Lq = Lk); kind GGDM_ATTN_RECOMPUTE: the cache is
 * the rows' (max, exp-sum) [N, heads, Lq, 2] and the VJP recomputes the weights (the same bits
 * as kind keep). The CPU driver runs the blocked, threaded core (ggdm_attn_forward_ex /
 * _backward_ex); the elem driver runs ggdm/elem/attn.h's element functions on any views (the
 * older ggdm/elem.h forms for one packed qkv, keep, no mask: the same bits); the VJP's scratch
 * holds the elem driver's row sums tv [N, heads, Lq].
 */
#include "op_impl.h"

#include "ggdm/elem/attn.h"

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
    /* the blocks of every (n, head) are counted in an int (ggdm_attn_forward_ex's units) */
    if ((double)a->N * a->heads * ((a->Lq + GGDM_ATTN_ROWS - 1) / GGDM_ATTN_ROWS + (a->Lk + GGDM_ATTN_COLS - 1) / GGDM_ATTN_COLS) >
        2147483647.0)
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

/* The layout and the options the older element functions of ggdm/elem.h read (attn_forward,
 * attn_backward): one packed qkv, keep, no mask; their bits are those of ggdm/elem/attn.h's. */
static int packed_plain(const ggdm_op_call *c)
{
    return packed(c) && !c->a.causal && c->a.kind == GGDM_ATTN_KEEP;
}

void ggdm_elem_attn_fwd(void *ctx, const ggdm_op_call *c)
{
    const ggdm_op_attr *a = &c->a;
    (void)ctx;
    if (packed_plain(c)) {
        float *out = c->out, *cache_attn = c->cache[0];
        const float *qkv = c->in[0];
        int N = a->N, H = a->heads, Dh = a->dh, L = a->Lq;
#define A_ (out, cache_attn, qkv, N, H, Dh, L, idx_)
#define S_ (N, H, Dh, L)
        GGDM_ELEM_LAUNCHES_attn_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
    } else {
        float *out = c->out, *cache = c->cache[0];
        const float *q = c->in[0] + a->oq, *k = c->in[1] + a->ok, *v = c->in[2] + a->ov;
        long sq = a->sq, sk = a->sk, sv = a->sv;
        int N = a->N, H = a->heads, Dh = a->dh, Lq = a->Lq, Lk = a->Lk, causal = a->causal, kind = a->kind;
#define A_ (out, cache, q, k, v, sq, sk, sv, N, H, Dh, Lq, Lk, causal, kind, idx_)
#define S_ (N, H, Dh, Lq, Lk, causal, kind)
        GGDM_ELEM_LAUNCHES_attnv_forward(GGDM_ELEM_RUN)
#undef A_
#undef S_
    }
}

void ggdm_elem_attn_vjp(void *ctx, const ggdm_op_call *c)
{
    const ggdm_op_attr *a = &c->a;
    (void)ctx;
    if (packed_plain(c) && c->din[0] && c->din[1] == c->din[0] && c->din[2] == c->din[0]) {
        float *dqkv = c->din[0];
        const float *dout = c->dout, *qkv = c->in[0], *cache_attn = c->cache[0];
        int N = a->N, H = a->heads, Dh = a->dh, L = a->Lq;
#define A_ (dqkv, dout, qkv, cache_attn, N, H, Dh, L, idx_)
#define S_ (N, H, Dh, L)
        GGDM_ELEM_LAUNCHES_attn_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
    } else {
        /* tv: the rows' t_i in the scratch (its first N heads Lq floats), when dq or dk is wanted */
        float *dq = c->din[0] ? c->din[0] + a->oq : NULL, *dk = c->din[1] ? c->din[1] + a->ok : NULL;
        float *dv = c->din[2] ? c->din[2] + a->ov : NULL, *tv = dq || dk ? c->scratch : NULL;
        const float *dout = c->dout, *cache = c->cache[0];
        const float *q = c->in[0] + a->oq, *k = c->in[1] + a->ok, *v = c->in[2] + a->ov;
        long sq = a->sq, sk = a->sk, sv = a->sv;
        int N = a->N, H = a->heads, Dh = a->dh, Lq = a->Lq, Lk = a->Lk, causal = a->causal, kind = a->kind;
#define A_ (tv, dq, dk, dv, dout, q, k, v, cache, sq, sk, sv, N, H, Dh, Lq, Lk, causal, kind, idx_)
#define S_ (N, H, Dh, Lq, Lk, causal, kind)
        GGDM_ELEM_LAUNCHES_attnv_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
    }
}
