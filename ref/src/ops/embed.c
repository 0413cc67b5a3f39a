/*
 * EMBED: CLIP's token and position embeddings, ids [N, 1, 1, W] (float32 token ids), tok
 * [C2, Cout], pos [W, Cout] (optional) -> y [N, Cout, 1, W] = tok[ids] + pos, channel-first
 * (ggdm/elem/embed.h defines the chains and what an invalid id gives). VJP: dtok, dpos, ADDED
 * into; din[0] (the ids) is ignored.
 *
 * Attributes: N, W >= 1, C = H = 1 (the ids' shape), 1 <= C2 <= 2^24, Cout >= 1, else
 * GGDM_ERR_ARG. The forward is the element functions in order. The reference's dtok visits
 * only the rows some position holds (in the order of their first position), each element by
 * the element function itself, so the bits are the elem driver's, in O(distinct ids x Cout x
 * N W) instead of O(C2 x Cout x N W).
 */
#include "op_impl.h"

#include "ggdm/elem/embed.h"

ggdm_status ggdm_op_embed_info(const ggdm_op_attr *a, ggdm_op_info *info)
{
    ggdm_op_sz z = {0};
    ggdm_op_info_begin(info, 3, 0);
    if (!ggdm_op_shape_ok(a) || a->C != 1 || a->H != 1 || !ggdm_elem_embed_valid(a->N, a->W, a->C2, a->Cout))
        return GGDM_ERR_ARG;
    info->vjp_in = 1; /* the ids (dtok) */
    return ggdm_op_info_out(info, &z, a->N, a->Cout, 1, a->W);
}

#define EMB_DIMS c->a.N, c->a.W, c->a.C2, c->a.Cout

void ggdm_elem_embed_fwd(void *ctx, const ggdm_op_call *c)
{
    float *y = c->out;
    (void)ctx;
    GGDM_ELEM_LAUNCH(embed_forward, y, (y, c->in[0], c->in[1], c->in[2], EMB_DIMS, idx_), (EMB_DIMS))
}

void ggdm_elem_embed_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dtok = c->din[1], *dpos = c->in[2] ? c->din[2] : NULL;
    const float *dy = c->dout, *ids = c->in[0];
    (void)ctx;
#define A_ (dtok, dpos, dy, ids, EMB_DIMS, idx_)
#define S_ (EMB_DIMS)
    GGDM_ELEM_LAUNCHES_embed_backward(GGDM_ELEM_RUN)
#undef A_
#undef S_
}

void ggdm_cpu_embed_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_elem_embed_fwd(ctx, c);
}

void ggdm_cpu_embed_vjp(void *ctx, const ggdm_op_call *c)
{
    float *dtok = c->din[1], *dpos = c->in[2] ? c->din[2] : NULL;
    const float *dy = c->dout, *ids = c->in[0];
    long q, q2, k, Q = (long)c->a.N * c->a.W, Cout = c->a.Cout;
    (void)ctx;
    if (ggdm_elem_embed_backward_dtok_count(EMB_DIMS) <= 0)
        return;
    if (dtok)
        for (q = 0; q < Q; q++) {
            long v = ggdm_elem_embed_row(ids[q], c->a.C2);
            if (v < 0)
                continue;
            for (q2 = 0; q2 < q && ggdm_elem_embed_row(ids[q2], c->a.C2) != v; q2++)
                ;
            if (q2 < q) /* the row was done at its first position */
                continue;
            for (k = 0; k < Cout; k++)
                ggdm_elem_embed_backward_dtok(dtok, dpos, dy, ids, EMB_DIMS, v * Cout + k);
        }
    if (dpos)
        for (k = 0; k < (long)c->a.W * Cout; k++)
            ggdm_elem_embed_backward_dpos(dtok, dpos, dy, ids, EMB_DIMS, k);
}
