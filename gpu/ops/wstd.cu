// gpu/ops/wstd.cu - WSTD (ggdm/ops.def; ref/src/ops/wstd.c): weight standardisation,
// w [Cout, fan] -> w_hat = out [Cout, fan], rstd = cache[0] [Cout]; VJP dw = din[0] from
// dw_hat = dout, w_hat = out, rstd. Call record: Cout = a.Cout, fan = a.C.
// Both modes: the element kernels, and the cache of a parameter array's standardisation
// (keyed by the parameter's device address, valid until the next parameter upload: the
// cached values are the element kernels' own results, copied into the op's output; the
// in-place reads of fast mode, GGDM_CUDA_WSCOPY=0, are off by default: gpu/cuda_ctx.cu,
// ws_resolve).
#include "cuda_ctx.h"

// ------------------------------------------------------------------ exact element kernels

#define SIG_ws_forward (float *w_hat, float *rstd, const float *w, int Cout, int fan)
#define ARG_ws_forward (w_hat, rstd, w, Cout, fan)
#define SIZ_ws_forward (Cout, fan)

#define SIG_ws_backward (float *dw, const float *dw_hat, const float *w_hat, const float *rstd, int Cout, int fan)
#define ARG_ws_backward (dw, dw_hat, w_hat, rstd, Cout, fan)
#define SIZ_ws_backward (Cout, fan)

ELEM_KERNELS(ws_forward)
ELEM_KERNELS(ws_backward)
EXACT_OP(ws_forward)
EXACT_OP(ws_backward)

// ------------------------------------------------------------------ the cache

static void f_ws_backward(ggdm_cuda_ctx *cx, float *dw, const float *dw_hat, const float *w_hat, const float *rstd, int Cout, int fan)
{
    x_ws_backward(cx, dw, dw_hat, ws_resolve(cx, w_hat), ws_resolve(cx, rstd), Cout, fan);
}

void c_ws_forward(ggdm_cuda_ctx *cx, float *w_hat, float *rstd, const float *w, int Cout, int fan)
{
    ws_cached *e = NULL;
    size_t nw = (size_t)Cout * (size_t)fan;
    int i, cacheable;
    if (cx->failed || Cout <= 0 || fan <= 0)
        return;
    cacheable = !cx->no_wscache && in_params(cx, w);
    if (cacheable)
        for (i = 0; i < cx->n_wsc; i++)
            if (cx->wsc[i].w == w && cx->wsc[i].Cout == Cout && cx->wsc[i].fan == fan) {
                e = &cx->wsc[i];
                break;
            }
    ws_unresolve(cx, w_hat, rstd);
    // the side stream's pending Linear forwards may still run: join them first when these
    // ranges touch theirs (the arena is reused: any address may come back)
    if (side_conflict(cx, w, nw, 0) || side_conflict(cx, w_hat, nw, 1) || side_conflict(cx, rstd, (size_t)Cout, 1))
        side_join(cx);
    if (e && e->gen == cx->param_gen && cx->mode == GGDM_CUDA_FAST && !cx->ws_copy && cx->n_rd < NWS_CACHE) {
        // no copy: the operations that read w_hat or rstd read the cache (ws_resolve)
        cx->rd[cx->n_rd].w_hat = w_hat;
        cx->rd[cx->n_rd].rstd = rstd;
        cx->rd[cx->n_rd].buf = e->buf;
        cx->rd[cx->n_rd].nw = nw;
        cx->n_rd++;
        return;
    }
    if (e && e->gen == cx->param_gen) {
        prof_scope ps_(cx, "ws_forward (cached: copies)");
        if (rstd == w_hat + nw) { // the plan keeps them adjacent: one copy (the cache is laid out the same)
            ck(cx, cudaMemcpyAsync(w_hat, e->buf, (nw + (size_t)Cout) * sizeof(float), cudaMemcpyDeviceToDevice,
                               cx->stream),
               "ws cache: copy");
            return;
        }
        if (!ck(cx, cudaMemcpyAsync(w_hat, e->buf, nw * sizeof(float), cudaMemcpyDeviceToDevice, cx->stream), "ws cache: copy"))
            ck(cx, cudaMemcpyAsync(rstd, e->buf + nw, (size_t)Cout * sizeof(float), cudaMemcpyDeviceToDevice, cx->stream),
               "ws cache: copy");
        return;
    }
    x_ws_forward(cx, w_hat, rstd, w, Cout, fan);
    if (!cacheable || cx->failed)
        return;
    if (!e && cx->n_wsc < NWS_CACHE) {
        e = &cx->wsc[cx->n_wsc];
        if (ck(cx, cudaMalloc((void **)&e->buf, (nw + (size_t)Cout) * sizeof(float)), "ws cache: cudaMalloc"))
            return;
        e->w = w;
        e->Cout = Cout;
        e->fan = fan;
        cx->n_wsc++;
    }
    if (!e)
        return; // the cache is full: computed every time
    prof_scope ps_(cx, "ws_forward (caching: copies)");
    if (!ck(cx, cudaMemcpyAsync(e->buf, w_hat, nw * sizeof(float), cudaMemcpyDeviceToDevice, cx->stream), "ws cache: fill") &&
        !ck(cx, cudaMemcpyAsync(e->buf + nw, rstd, (size_t)Cout * sizeof(float), cudaMemcpyDeviceToDevice, cx->stream),
            "ws cache: fill"))
        e->gen = cx->param_gen;
}


// ------------------------------------------------------------------ the op

extern "C" void ggdm_cuda_wstd_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed)
        return;
    tape_or_run(cx, c_ws_forward, c->out, c->cache[0], c->in[0], c->a.Cout, c->a.C);
}

extern "C" void ggdm_cuda_wstd_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed || !c->din[0])
        return;
    if (cx->mode == GGDM_CUDA_FAST)
        tape_or_run(cx, f_ws_backward, c->din[0], c->dout, (const float *)c->out, (const float *)c->cache[0],
                    c->a.Cout, c->a.C);
    else
        tape_or_run(cx, x_ws_backward, c->din[0], c->dout, (const float *)c->out, (const float *)c->cache[0],
                    c->a.Cout, c->a.C);
}
