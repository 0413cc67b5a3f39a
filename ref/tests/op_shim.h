/*
 * op_shim.h - the layer functions' signatures as calls of a backend's ops (ggdm/op.h), for the
 * tests that compare the CPU and elem drivers layer by layer: L_<layer>(be, <the layer's
 * arguments>) fills the op's call record and runs be->ops[op].fwd or .vjp.
 */
#ifndef GGDM_TEST_OP_SHIM_H
#define GGDM_TEST_OP_SHIM_H

#include <string.h>

#include "ggdm/backend.h"
#include "ggdm/layers.h"

static ggdm_op_call shim_call(int N, int C, int W)
{
    ggdm_op_call c;
    memset(&c, 0, sizeof c);
    c.a.N = N;
    c.a.C = C;
    c.a.H = 1;
    c.a.W = W;
    return c;
}

static void shim_run(const ggdm_backend *be, ggdm_op_id op, int vjp, const ggdm_op_call *c)
{
    if (vjp)
        be->ops[op].vjp(be->ctx, c);
    else
        be->ops[op].fwd(be->ctx, c);
}

static void L_conv1d_forward(const ggdm_backend *be, float *y, const float *x, const float *w, const float *b, int N,
                             int Cin, int Lin, int Cout, int K, int stride, int pad, float *scratch,
                             const struct ggdm_exec *ex)
{
    ggdm_op_call c = shim_call(N, Cin, Lin);
    c.a.Cout = Cout, c.a.KH = 1, c.a.KW = K, c.a.sh = 1, c.a.sw = stride, c.a.pw = pad;
    c.out = y, c.in[0] = x, c.in[1] = w, c.in[2] = b, c.scratch = scratch, c.ex = ex;
    shim_run(be, GGDM_OP_CONV, 0, &c);
}

static void L_conv1d_backward(const ggdm_backend *be, float *dx, float *dw, float *db, const float *dy,
                              const float *x, const float *w, int N, int Cin, int Lin, int Cout, int K, int stride,
                              int pad, float *scratch, const struct ggdm_exec *ex)
{
    ggdm_op_call c = shim_call(N, Cin, Lin);
    c.a.Cout = Cout, c.a.KH = 1, c.a.KW = K, c.a.sh = 1, c.a.sw = stride, c.a.pw = pad;
    c.din[0] = dx, c.din[1] = dw, c.din[2] = db, c.dout = dy, c.in[0] = x, c.in[1] = w;
    c.scratch = scratch, c.ex = ex;
    shim_run(be, GGDM_OP_CONV, 1, &c);
}

static void L_linear_forward(const ggdm_backend *be, float *y, const float *x, const float *W, const float *b, int N,
                             int In, int Out)
{
    ggdm_op_call c = shim_call(N, In, 1);
    c.a.Cout = Out, c.out = y, c.in[0] = x, c.in[1] = W, c.in[2] = b;
    shim_run(be, GGDM_OP_LINEAR, 0, &c);
}

static void L_linear_backward(const ggdm_backend *be, float *dx, float *dW, float *db, const float *dy,
                              const float *x, const float *W, int N, int In, int Out)
{
    ggdm_op_call c = shim_call(N, In, 1);
    c.a.Cout = Out, c.din[0] = dx, c.din[1] = dW, c.din[2] = db, c.dout = dy, c.in[0] = x, c.in[1] = W;
    shim_run(be, GGDM_OP_LINEAR, 1, &c);
}

static void L_ws_forward(const ggdm_backend *be, float *w_hat, float *rstd, const float *w, int Cout, int fan)
{
    ggdm_op_call c = shim_call(1, fan, 1);
    c.a.Cout = Cout, c.out = w_hat, c.cache[0] = rstd, c.in[0] = w;
    shim_run(be, GGDM_OP_WSTD, 0, &c);
}

static void L_ws_backward(const ggdm_backend *be, float *dw, const float *dw_hat, const float *w_hat,
                          const float *rstd, int Cout, int fan)
{
    ggdm_op_call c = shim_call(1, fan, 1);
    c.a.Cout = Cout, c.din[0] = dw, c.dout = dw_hat, c.out = (float *)w_hat, c.cache[0] = (float *)rstd;
    shim_run(be, GGDM_OP_WSTD, 1, &c);
}

static void L_groupnorm_forward(const ggdm_backend *be, float *y, float *mean, float *rstd, const float *x,
                                const float *gamma, const float *beta, int N, int C, int L, int G)
{
    ggdm_op_call c = shim_call(N, C, L);
    c.a.kind = GGDM_NORM_GROUP, c.a.G = G, c.a.eps = GGDM_NORM_EPS;
    c.out = y, c.cache[0] = mean, c.cache[1] = rstd, c.in[0] = x, c.in[1] = gamma, c.in[2] = beta;
    shim_run(be, GGDM_OP_NORM, 0, &c);
}

static void L_groupnorm_backward(const ggdm_backend *be, float *dx, float *dgamma, float *dbeta, const float *dy,
                                 const float *x, const float *mean, const float *rstd, const float *gamma, int N,
                                 int C, int L, int G)
{
    ggdm_op_call c = shim_call(N, C, L);
    c.a.kind = GGDM_NORM_GROUP, c.a.G = G, c.a.eps = GGDM_NORM_EPS;
    c.din[0] = dx, c.din[1] = dgamma, c.din[2] = dbeta, c.dout = dy, c.in[0] = x;
    c.cache[0] = (float *)mean, c.cache[1] = (float *)rstd, c.in[1] = gamma;
    shim_run(be, GGDM_OP_NORM, 1, &c);
}

static void L_chnorm_forward(const ggdm_backend *be, float *y, float *mean, float *rstd, const float *x,
                             const float *g, int N, int C, int L)
{
    ggdm_op_call c = shim_call(N, C, L);
    c.a.kind = GGDM_NORM_CHANNEL, c.a.eps = GGDM_NORM_EPS;
    c.out = y, c.cache[0] = mean, c.cache[1] = rstd, c.in[0] = x, c.in[1] = g;
    shim_run(be, GGDM_OP_NORM, 0, &c);
}

static void L_chnorm_backward(const ggdm_backend *be, float *dx, float *dg, const float *dy, const float *x,
                              const float *mean, const float *rstd, const float *g, int N, int C, int L)
{
    ggdm_op_call c = shim_call(N, C, L);
    c.a.kind = GGDM_NORM_CHANNEL, c.a.eps = GGDM_NORM_EPS;
    c.din[0] = dx, c.din[1] = dg, c.dout = dy, c.in[0] = x, c.in[1] = g;
    c.cache[0] = (float *)mean, c.cache[1] = (float *)rstd;
    shim_run(be, GGDM_OP_NORM, 1, &c);
}

static void shim_unary(const ggdm_backend *be, ggdm_op_id op, int vjp, float *y, float *dx, const float *dy,
                       const float *x, long n)
{
    ggdm_op_call c = shim_call(1, 1, (int)n);
    c.out = y, c.din[0] = dx, c.dout = dy, c.in[0] = x;
    shim_run(be, op, vjp, &c);
}

static void L_silu_forward(const ggdm_backend *be, float *y, const float *x, long n)
{
    shim_unary(be, GGDM_OP_SILU, 0, y, NULL, NULL, x, n);
}

static void L_silu_backward(const ggdm_backend *be, float *dx, const float *dy, const float *x, long n)
{
    shim_unary(be, GGDM_OP_SILU, 1, NULL, dx, dy, x, n);
}

static void L_gelu_forward(const ggdm_backend *be, float *y, const float *x, long n)
{
    shim_unary(be, GGDM_OP_GELU, 0, y, NULL, NULL, x, n);
}

static void L_gelu_backward(const ggdm_backend *be, float *dx, const float *dy, const float *x, long n)
{
    shim_unary(be, GGDM_OP_GELU, 1, NULL, dx, dy, x, n);
}

static void L_scale_shift_forward(const ggdm_backend *be, float *y, const float *x, const float *ss, int N, int C,
                                  int L)
{
    ggdm_op_call c = shim_call(N, C, L);
    c.out = y, c.in[0] = x, c.in[1] = ss;
    shim_run(be, GGDM_OP_FILM, 0, &c);
}

static void L_scale_shift_backward(const ggdm_backend *be, float *dx, float *dss, const float *dy, const float *x,
                                   const float *ss, int N, int C, int L)
{
    ggdm_op_call c = shim_call(N, C, L);
    c.din[0] = dx, c.din[1] = dss, c.dout = dy, c.in[0] = x, c.in[1] = ss;
    shim_run(be, GGDM_OP_FILM, 1, &c);
}

static void L_upsample2_forward(const ggdm_backend *be, float *y, const float *x, int N, int C, int L)
{
    ggdm_op_call c = shim_call(N, C, L);
    c.out = y, c.in[0] = x;
    shim_run(be, GGDM_OP_UPSAMPLE, 0, &c);
}

static void L_upsample2_backward(const ggdm_backend *be, float *dx, const float *dy, int N, int C, int L)
{
    ggdm_op_call c = shim_call(N, C, L);
    c.din[0] = dx, c.dout = dy;
    shim_run(be, GGDM_OP_UPSAMPLE, 1, &c);
}

static void L_linattn_forward(const ggdm_backend *be, float *out, float *cq, float *ck, float *cctx,
                              const float *qkv, int N, int H, int Dh, int L)
{
    ggdm_op_call c = shim_call(N, 3 * H * Dh, L);
    c.a.heads = H, c.a.dh = Dh;
    c.out = out, c.cache[0] = cq, c.cache[1] = ck, c.cache[2] = cctx, c.in[0] = qkv;
    shim_run(be, GGDM_OP_LINATTN, 0, &c);
}

static void L_linattn_backward(const ggdm_backend *be, float *dqkv, const float *dout, const float *qkv,
                               const float *cq, const float *ck, const float *cctx, int N, int H, int Dh, int L,
                               float *scratch)
{
    ggdm_op_call c = shim_call(N, 3 * H * Dh, L);
    c.a.heads = H, c.a.dh = Dh;
    c.din[0] = dqkv, c.dout = dout, c.in[0] = qkv, c.scratch = scratch;
    c.cache[0] = (float *)cq, c.cache[1] = (float *)ck, c.cache[2] = (float *)cctx;
    shim_run(be, GGDM_OP_LINATTN, 1, &c);
}

/* self-attention on a packed qkv: the three inputs are views into it */
static ggdm_op_call shim_attn(const float *qkv, int N, int H, int Dh, int L)
{
    ggdm_op_call c = shim_call(N, 3 * H * Dh, L);
    long hdl = (long)H * Dh * L;
    c.a.heads = H, c.a.dh = Dh, c.a.Lq = c.a.Lk = L;
    c.a.sq = c.a.sk = c.a.sv = 3 * hdl, c.a.oq = 0, c.a.ok = hdl, c.a.ov = 2 * hdl;
    c.in[0] = c.in[1] = c.in[2] = qkv;
    return c;
}

static void L_attn_forward(const ggdm_backend *be, float *out, float *cache_attn, const float *qkv, int N, int H,
                           int Dh, int L, float *scratch)
{
    ggdm_op_call c = shim_attn(qkv, N, H, Dh, L);
    c.out = out, c.cache[0] = cache_attn, c.scratch = scratch;
    shim_run(be, GGDM_OP_ATTN, 0, &c);
}

static void L_attn_backward(const ggdm_backend *be, float *dqkv, const float *dout, const float *qkv,
                            const float *cache_attn, int N, int H, int Dh, int L, float *scratch)
{
    ggdm_op_call c = shim_attn(qkv, N, H, Dh, L);
    c.din[0] = c.din[1] = c.din[2] = dqkv, c.dout = dout, c.cache[0] = (float *)cache_attn, c.scratch = scratch;
    shim_run(be, GGDM_OP_ATTN, 1, &c);
}

static void L_time_embedding(const ggdm_backend *be, float *emb, const float *t, int N, int dim)
{
    ggdm_op_call c = shim_call(N, 1, 1);
    c.a.Cout = dim, c.out = emb, c.in[0] = t;
    shim_run(be, GGDM_OP_TEMB, 0, &c);
}

#endif /* GGDM_TEST_OP_SHIM_H */
