/*
 * The "elem" backend (ggdm/backend.h): every op runs as a loop over the elements of each of
 * its outputs, calling the element functions of ggdm/elem.h (and ggdm/elem/<op>.h) - what
 * the CUDA exact mode does with one thread per element - in their launch order (a later
 * output may read an earlier one): the elem drivers of ref/src/ops. Host memory, like the
 * CPU backend: parameters and gradients are used in place. The bits are the reference's
 * (ref/tests/test_backend.c); it is slow (every shared reduction is recomputed per element)
 * and single-threaded by design: it exists to prove on the CPU that the element functions
 * are the reference's math. It also provides the optional fused activation path, as the
 * separate ops, so that the CPU tests run the runner's fused branch.
 */
#include "ggdm/backend.h"

#include <string.h>

#include "ggdm/layers.h"

#include "backend_host.h"

static ggdm_op_call call_nc(int N, int C, int L)
{
    ggdm_op_call c;
    memset(&c, 0, sizeof c);
    c.a.N = N;
    c.a.C = C;
    c.a.H = 1;
    c.a.W = L;
    return c;
}

static void gn_fwd(float *y, float *mean, float *rstd, const float *x, const float *gamma, const float *beta, int N,
                   int C, int L, int G)
{
    ggdm_op_call c = call_nc(N, C, L);
    c.a.kind = GGDM_NORM_GROUP;
    c.a.G = G;
    c.a.eps = GGDM_NORM_EPS;
    c.in[0] = x, c.in[1] = gamma, c.in[2] = beta;
    c.out = y, c.cache[0] = mean, c.cache[1] = rstd;
    ggdm_elem_norm_fwd(NULL, &c);
}

static void unary(void (*fn)(void *, const ggdm_op_call *), float *out, float *din, const float *dout,
                  const float *x, const float *ss, int N, int C, int L)
{
    ggdm_op_call c = call_nc(N, C, L);
    c.in[0] = x, c.in[1] = ss;
    c.out = out, c.din[0] = din, c.dout = dout;
    fn(NULL, &c);
}

static void e_gn_act_forward(void *ctx, float *g, float *mean, float *rstd, float *f, float *a, const float *h, const float *gamma,
                             const float *beta, const float *ss, int N, int C, int L, int G)
{
    (void)ctx;
    gn_fwd(g, mean, rstd, h, gamma, beta, N, C, L, G);
    if (ss) {
        unary(ggdm_elem_film_fwd, f, NULL, NULL, g, ss, N, C, L);
        unary(ggdm_elem_silu_fwd, a, NULL, NULL, f, NULL, N, C, L);
    } else {
        unary(ggdm_elem_silu_fwd, a, NULL, NULL, g, NULL, N, C, L);
    }
}

static void e_gn_act_backward(void *ctx, float *dh, float *scratch, const float *da, const float *h, const float *mean,
                              const float *rstd, const float *gamma, const float *g, const float *f, const float *ss,
                              int N, int C, int L, int G)
{
    size_t n = (size_t)N * C * L;
    ggdm_op_call c = call_nc(N, C, L);
    (void)ctx;
    if (ss) { /* da may be scratch: read before scratch is written */
        ggdm_host_zero(NULL, dh, n);
        unary(ggdm_elem_silu_vjp, NULL, dh, da, f, NULL, N, C, L);
        ggdm_host_zero(NULL, scratch, n);
        unary(ggdm_elem_film_vjp, NULL, scratch, dh, g, ss, N, C, L);
    } else if (da != scratch) {
        ggdm_host_zero(NULL, scratch, n);
        unary(ggdm_elem_silu_vjp, NULL, scratch, da, g, NULL, N, C, L);
    } else { /* the same values, by way of dh */
        ggdm_host_zero(NULL, dh, n);
        unary(ggdm_elem_silu_vjp, NULL, dh, da, g, NULL, N, C, L);
        ggdm_host_copy(NULL, scratch, dh, n);
    }
    ggdm_host_zero(NULL, dh, n);
    c.a.kind = GGDM_NORM_GROUP;
    c.a.G = G;
    c.a.eps = GGDM_NORM_EPS;
    c.in[0] = h, c.in[1] = gamma;
    c.cache[0] = (float *)mean, c.cache[1] = (float *)rstd;
    c.dout = scratch;
    c.din[0] = dh;
    ggdm_elem_norm_vjp(NULL, &c);
}

static const ggdm_backend elem_backend = {
    "elem",
    NULL,
    GGDM_HOST_MEMORY_OPS,
    ggdm_elem_ops,
    NULL, /* workspace: the caller's host workspace as is */
    NULL, /* failed: never */
    e_gn_act_forward,
    e_gn_act_backward,
    NULL, /* supports: every op of the manifest */
};

const ggdm_backend *ggdm_backend_elem(void)
{
    return &elem_backend;
}

const ggdm_unet_backend *ggdm_unet_backend_elem(void)
{
    return &elem_backend;
}
