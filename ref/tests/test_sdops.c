/*
 * test_sdops: Stable Diffusion's small ops (ggdm/ops.def: AFFINE, BNORM, MAXPOOL, AVGPOOL,
 * CLAMP, QGELU, EMBED; NORM kind CHANNEL with a bias and any eps). Every case runs the op's
 * forward and VJP on the reference (cpu) and the elem driver and requires the same bits for
 * the output, the caches and every gradient (added into non-zero buffers); then checks the
 * values against the definition in double precision (docs/nn.md, "Stable Diffusion's element
 * ops") and a few values computed with PyTorch 1.13 (CPU, float32), and the refusals of bad
 * attributes (GGDM_ERR_ARG).
 */
#include "ggdm_test.h"

#include <math.h>
#include <stdio.h>

#include "ggdm/backend.h"
#include "ggdm/layers.h"
#include "ggdm/op.h"
#include "ggdm/rng.h"

static void fill(float *a, size_t n, uint64_t stream)
{
    ggdm_rng_fill_normal(17, stream, 0, a, n);
}

static float *falloc(size_t n)
{
    float *p = (float *)malloc(sizeof(float) * (n ? n : 1));
    assert_non_null(p);
    return p;
}

static void same_bits(const float *a, const float *b, size_t n, const char *what)
{
    if (n && memcmp(a, b, sizeof(float) * n) != 0) {
        size_t i;
        for (i = 0; i < n && !memcmp(a + i, b + i, sizeof(float)); i++)
            ;
        fail_msg("%s differs at %zu: %.9g vs %.9g", what, i, (double)a[i], (double)b[i]);
    }
}

/* One op run on a driver: the forward, then the VJP into pre-filled gradients. */
typedef struct res {
    ggdm_op_info info;
    float *out, *cache[GGDM_OP_MAX_CACHE], *din[GGDM_OP_MAX_IN], *pre[GGDM_OP_MAX_IN], *dout;
} res;

static void run_on(const ggdm_backend *be, ggdm_op_id op, const ggdm_op_attr *a, const float *const in[3],
                   const size_t nin[3], int nograd, const float *dout, res *r)
{
    size_t scr;
    float *scratch;
    ggdm_op_call c;
    int i;
    memset(&c, 0, sizeof c);
    c.a = *a;
    r->out = falloc(r->info.out);
    for (i = 0; i < GGDM_OP_MAX_CACHE; i++) {
        r->cache[i] = i < r->info.n_cache ? falloc(r->info.cache[i]) : NULL;
        c.cache[i] = r->cache[i];
    }
    scr = r->info.scratch_fwd > r->info.scratch_vjp ? r->info.scratch_fwd : r->info.scratch_vjp;
    scratch = falloc(scr);
    for (i = 0; i < GGDM_OP_MAX_IN; i++) {
        c.in[i] = in[i];
        r->din[i] = NULL;
        if (in[i] && !(nograd & (1 << i))) {
            r->din[i] = falloc(nin[i]);
            memcpy(r->din[i], r->pre[i], sizeof(float) * nin[i]);
        }
        c.din[i] = r->din[i];
    }
    c.out = r->out, c.scratch = scratch, c.dout = dout;
    be->ops[op].fwd(be->ctx, &c);
    be->ops[op].vjp(be->ctx, &c);
    free(scratch);
}

static void res_free(res *r)
{
    int i;
    free(r->out);
    free(r->dout);
    for (i = 0; i < GGDM_OP_MAX_CACHE; i++)
        free(r->cache[i]);
    for (i = 0; i < GGDM_OP_MAX_IN; i++)
        free(r->din[i]), free(r->pre[i]);
}

/* Runs the op on both drivers, requires the same bits everywhere, returns the cpu's results
 * (dout: normal from stream 40; the gradients' pre-fill: normal from streams 50 + i). */
static void run_op(ggdm_op_id op, const ggdm_op_attr *a, const float *const in[3], const size_t nin[3], int nograd,
                   res *r)
{
    res e;
    int i;
    memset(r, 0, sizeof *r);
    memset(&e, 0, sizeof e);
    assert_int_equal(ggdm_op_info_get(op, a, &r->info), GGDM_OK);
    r->dout = falloc(r->info.out);
    fill(r->dout, r->info.out, 40);
    for (i = 0; i < GGDM_OP_MAX_IN; i++)
        if (in[i]) {
            r->pre[i] = falloc(nin[i]);
            fill(r->pre[i], nin[i], 50u + (unsigned)i);
        }
    e.info = r->info;
    for (i = 0; i < GGDM_OP_MAX_IN; i++)
        e.pre[i] = r->pre[i];
    run_on(ggdm_backend_cpu(), op, a, in, nin, nograd, r->dout, r);
    run_on(ggdm_backend_elem(), op, a, in, nin, nograd, r->dout, &e);
    same_bits(r->out, e.out, r->info.out, "out");
    for (i = 0; i < r->info.n_cache; i++)
        same_bits(r->cache[i], e.cache[i], r->info.cache[i], "cache");
    for (i = 0; i < GGDM_OP_MAX_IN; i++) {
        assert_true((r->din[i] == NULL) == (e.din[i] == NULL));
        if (r->din[i])
            same_bits(r->din[i], e.din[i], nin[i], "din");
        e.pre[i] = NULL;
    }
    e.dout = NULL;
    res_free(&e);
}

/* |got - want| <= tol * (1 + |want|) */
static void near(double got, double want, double tol, const char *what, size_t i)
{
    if (!(fabs(got - want) <= tol * (1.0 + fabs(want))))
        fail_msg("%s[%zu]: %.9g, want %.9g", what, i, got, want);
}

static ggdm_op_attr attr(int N, int C, int H, int W)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    a.N = N, a.C = C, a.H = H, a.W = W;
    return a;
}

static ggdm_status info_of(ggdm_op_id op, const ggdm_op_attr *a)
{
    ggdm_op_info info;
    return ggdm_op_info_get(op, a, &info);
}

/* ------------------------------------------------------------------ AFFINE */

static void affine_case(int N, int C, int H, int W, int absent, int nograd)
{
    ggdm_op_attr a = attr(N, C, H, W);
    size_t P = (size_t)H * W, n = (size_t)N * C * P, nin[3];
    float *x = falloc(n), *s = falloc(C), *t = falloc(C);
    const float *in[3];
    res r;
    size_t i, k;
    a.scale = 0.5f, a.shift = -0.25f;
    fill(x, n, 1), fill(s, C, 2), fill(t, C, 3);
    in[0] = x, in[1] = absent & 2 ? NULL : s, in[2] = absent & 4 ? NULL : t;
    nin[0] = n, nin[1] = nin[2] = (size_t)C;
    run_op(GGDM_OP_AFFINE, &a, in, nin, nograd, &r);
    for (i = 0; i < n; i++) {
        size_t c = (i / P) % (size_t)C;
        float sc = in[1] ? s[c] : a.scale, sh = in[2] ? t[c] : a.shift;
        float want = x[i] * sc; /* the definition, rounding by rounding */
        want = want + sh;
        assert_memory_equal(&r.out[i], &want, sizeof want);
        if (r.din[0]) {
            float d = r.pre[0][i] + r.dout[i] * sc;
            assert_memory_equal(&r.din[0][i], &d, sizeof d);
        }
    }
    for (k = 0; k < (size_t)C; k++) {
        double ds = 0.0, dt = 0.0;
        int m;
        for (m = 0; m < N; m++)
            for (i = 0; i < P; i++) {
                size_t o = ((size_t)m * C + k) * P + i;
                ds += (double)r.dout[o] * x[o];
                dt += r.dout[o];
            }
        if (r.din[1])
            near(r.din[1][k] - r.pre[1][k], ds, 1e-5 * (1 + sqrt((double)N * P)), "affine ds", k);
        if (r.din[2])
            near(r.din[2][k] - r.pre[2][k], dt, 1e-5 * (1 + sqrt((double)N * P)), "affine dt", k);
    }
    if (in[1] && !(nograd & 2)) {
        assert_non_null(r.din[1]);
    }
    res_free(&r);
    free(x), free(s), free(t);
}

static void test_affine(void **state)
{
    ggdm_op_attr a = attr(2, 3, 4, 5);
    (void)state;
    affine_case(2, 3, 4, 5, 0, 0);
    affine_case(3, 5, 1, 7, 0, 0);
    affine_case(2, 3, 4, 5, 6, 0);   /* scalars only */
    affine_case(1, 4, 3, 3, 4, 0);   /* s, scalar shift */
    affine_case(2, 3, 2, 2, 2, 0);   /* scalar scale, t */
    affine_case(2, 3, 4, 5, 0, 1);   /* no dx */
    affine_case(2, 3, 4, 5, 0, 6);   /* dx only */
    affine_case(1, 1, 1, 1, 0, 0);
    assert_int_equal(info_of(GGDM_OP_AFFINE, &a), GGDM_OK);
    a.scale = (float)NAN;
    assert_int_equal(info_of(GGDM_OP_AFFINE, &a), GGDM_ERR_ARG);
    a.scale = 1.0f, a.shift = (float)NAN;
    assert_int_equal(info_of(GGDM_OP_AFFINE, &a), GGDM_ERR_ARG);
    a = attr(2, 0, 4, 5);
    assert_int_equal(info_of(GGDM_OP_AFFINE, &a), GGDM_ERR_ARG);
    a = attr(0, 3, 4, 5);
    assert_int_equal(info_of(GGDM_OP_AFFINE, &a), GGDM_ERR_ARG);
}

/* ------------------------------------------------------------------ NORM CHANNEL with a bias */

static void chnorm_case(int N, int C, int H, int W, float eps, int absent, int nograd)
{
    ggdm_op_attr a = attr(N, C, H, W);
    size_t L = (size_t)H * W, n = (size_t)N * C * L, nin[3];
    float *x = falloc(n), *g = falloc(C), *b = falloc(C), *y0 = falloc(n), *m0 = falloc(N * L),
          *r0 = falloc(N * L);
    const float *in[3];
    res r;
    size_t i, k;
    int m;
    a.kind = GGDM_NORM_CHANNEL, a.eps = eps;
    fill(x, n, 4), fill(g, C, 5), fill(b, C, 6);
    in[0] = x, in[1] = absent & 2 ? NULL : g, in[2] = absent & 4 ? NULL : b;
    nin[0] = n, nin[1] = nin[2] = (size_t)C;
    run_op(GGDM_OP_NORM, &a, in, nin, nograd, &r);
    /* without beta: the bits of the ChannelNorm functions; with: their output, then + beta */
    ggdm_chnorm_forward_eps(y0, m0, r0, x, in[1], N, C, (int)L, eps);
    same_bits(r.cache[0], m0, N * L, "chnorm mean");
    same_bits(r.cache[1], r0, N * L, "chnorm rstd");
    for (i = 0; i < n; i++) {
        float want = in[2] ? y0[i] + b[(i / L) % (size_t)C] : y0[i];
        assert_memory_equal(&r.out[i], &want, sizeof want);
    }
    /* against the definition in double (LayerNorm over the channels at each position) */
    for (m = 0; m < N; m++)
        for (i = 0; i < L; i++) {
            double mu = 0.0, var = 0.0, rs;
            for (k = 0; k < (size_t)C; k++)
                mu += x[((size_t)m * C + k) * L + i];
            mu /= C;
            for (k = 0; k < (size_t)C; k++) {
                double d = x[((size_t)m * C + k) * L + i] - mu;
                var += d * d;
            }
            rs = 1.0 / sqrt(var / C + (double)eps);
            for (k = 0; k < (size_t)C; k++) {
                size_t o = ((size_t)m * C + k) * L + i;
                double want = (x[o] - mu) * rs * (in[1] ? g[k] : 1.0) + (in[2] ? b[k] : 0.0);
                near(r.out[o], want, 2e-6, "chnorm y", o);
            }
        }
    if (r.din[2])
        for (k = 0; k < (size_t)C; k++) {
            float acc = 0.0f;
            for (m = 0; m < N; m++)
                for (i = 0; i < L; i++)
                    acc = acc + r.dout[((size_t)m * C + k) * L + i];
            acc = r.pre[2][k] + acc;
            assert_memory_equal(&r.din[2][k], &acc, sizeof acc);
        }
    {
        /* dx and dg: those of ggdm_chnorm_backward (beta does not enter them) */
        float *dx = falloc(n), *dg = falloc(C);
        memcpy(dx, r.pre[0], sizeof(float) * n);
        if (in[1])
            memcpy(dg, r.pre[1], sizeof(float) * C);
        ggdm_chnorm_backward(r.din[0] ? dx : NULL, r.din[1] ? dg : NULL, r.dout, x, m0, r0, in[1], N, C, (int)L);
        if (r.din[0])
            same_bits(r.din[0], dx, n, "chnorm dx");
        if (r.din[1])
            same_bits(r.din[1], dg, C, "chnorm dg");
        free(dx), free(dg);
    }
    res_free(&r);
    free(x), free(g), free(b), free(y0), free(m0), free(r0);
}

static void test_chnorm_beta(void **state)
{
    (void)state;
    chnorm_case(2, 5, 1, 7, 1e-5f, 0, 0);
    chnorm_case(2, 5, 1, 7, 1e-6f, 0, 0);
    chnorm_case(3, 12, 1, 19, 1e-5f, 0, 0); /* positions beyond the 8-lane blocks */
    chnorm_case(2, 8, 3, 5, 1e-6f, 0, 0);
    chnorm_case(2, 5, 1, 9, 1e-6f, 2, 0);   /* beta without gain */
    chnorm_case(2, 5, 1, 9, 1e-6f, 4, 0);   /* the gain only: the old bits */
    chnorm_case(2, 5, 1, 9, 1e-5f, 6, 0);
    chnorm_case(2, 5, 1, 9, 1e-6f, 0, 3);   /* dbeta only */
    chnorm_case(2, 5, 1, 9, 1e-6f, 0, 4);   /* no dbeta */
}

/* GroupNorm with another eps: the element functions take it (no fallback any more). */
static void test_groupnorm_eps(void **state)
{
    ggdm_op_attr a = attr(2, 6, 3, 5);
    size_t n = 2 * 6 * 15, nin[3];
    float *x = falloc(n), *g = falloc(6), *b = falloc(6), *y0 = falloc(n), *m0 = falloc(4), *r0 = falloc(4);
    const float *in[3];
    res r;
    (void)state;
    a.kind = GGDM_NORM_GROUP, a.G = 2, a.eps = 1e-6f;
    fill(x, n, 7), fill(g, 6, 8), fill(b, 6, 9);
    in[0] = x, in[1] = g, in[2] = b;
    nin[0] = n, nin[1] = nin[2] = 6;
    run_op(GGDM_OP_NORM, &a, in, nin, 0, &r);
    ggdm_groupnorm_forward_eps(y0, m0, r0, x, g, b, 2, 6, 15, 2, 1e-6f);
    same_bits(r.out, y0, n, "groupnorm eps y");
    same_bits(r.cache[1], r0, 4, "groupnorm eps rstd");
    res_free(&r);
    free(x), free(g), free(b), free(y0), free(m0), free(r0);
}

/* ------------------------------------------------------------------ BNORM */

static void bnorm_case(int N, int C, int H, int W, float eps, int nograd)
{
    ggdm_op_attr a = attr(N, C, H, W);
    size_t P = (size_t)H * W, n = (size_t)N * C * P, nin[3];
    float *x = falloc(n), *p = falloc(4 * (size_t)C);
    const float *in[3];
    res r;
    size_t i, k;
    int m;
    a.eps = eps;
    fill(x, n, 10), fill(p, 4 * (size_t)C, 11);
    for (k = 0; k < (size_t)C; k++)
        p[3 * C + k] = 0.25f + p[3 * C + k] * p[3 * C + k]; /* running_var > 0 */
    in[0] = x, in[1] = p, in[2] = NULL;
    nin[0] = n, nin[1] = 4 * (size_t)C, nin[2] = 0;
    run_op(GGDM_OP_BNORM, &a, in, nin, nograd, &r);
    for (i = 0; i < n; i++) {
        size_t c = (i / P) % (size_t)C;
        float inv = 1.0f / sqrtf(p[3 * C + c] + eps), al = p[c] * inv, want = x[i] - p[2 * C + c];
        double wd = ((double)x[i] - p[2 * C + c]) / sqrt((double)p[3 * C + c] + (double)eps) * p[c] + p[C + c];
        want = want * al;
        want = want + p[C + c];
        assert_memory_equal(&r.out[i], &want, sizeof want);
        near(r.out[i], wd, 1e-6, "bnorm y", i);
        if (r.din[0]) {
            float d = r.pre[0][i] + r.dout[i] * al;
            assert_memory_equal(&r.din[0][i], &d, sizeof d);
        }
    }
    if (r.din[1]) {
        for (k = 0; k < (size_t)C; k++) {
            double dw = 0.0, db = 0.0, rs = 1.0 / sqrt((double)p[3 * C + k] + (double)eps);
            for (m = 0; m < N; m++)
                for (i = 0; i < P; i++) {
                    size_t o = ((size_t)m * C + k) * P + i;
                    dw += (double)r.dout[o] * ((double)x[o] - p[2 * C + k]) * rs;
                    db += r.dout[o];
                }
            near(r.din[1][k] - r.pre[1][k], dw, 1e-5 * (1 + sqrt((double)N * P)), "bnorm dweight", k);
            near(r.din[1][C + k] - r.pre[1][C + k], db, 1e-5 * (1 + sqrt((double)N * P)), "bnorm dbias", k);
        }
        /* the running statistics get nothing */
        assert_memory_equal(r.din[1] + 2 * C, r.pre[1] + 2 * C, sizeof(float) * 2 * C);
    }
    res_free(&r);
    free(x), free(p);
}

static void test_bnorm(void **state)
{
    ggdm_op_attr a = attr(2, 3, 4, 5);
    (void)state;
    bnorm_case(2, 3, 4, 5, 1e-5f, 0);
    bnorm_case(3, 7, 3, 3, 1e-3f, 0);
    bnorm_case(1, 5, 1, 1, 1e-5f, 0);
    bnorm_case(2, 3, 4, 5, 1e-5f, 1); /* dp only */
    bnorm_case(2, 3, 4, 5, 1e-5f, 2); /* dx only */
    a.eps = 0.0f;
    assert_int_equal(info_of(GGDM_OP_BNORM, &a), GGDM_ERR_ARG);
    a.eps = 2.0f;
    assert_int_equal(info_of(GGDM_OP_BNORM, &a), GGDM_ERR_ARG);
    a.eps = (float)NAN;
    assert_int_equal(info_of(GGDM_OP_BNORM, &a), GGDM_ERR_ARG);
    a.eps = 1e-5f, a.W = 0;
    assert_int_equal(info_of(GGDM_OP_BNORM, &a), GGDM_ERR_ARG);
}

/* ------------------------------------------------------------------ MAXPOOL */

/* The definition written out: torch's scan, then the backward as torch does it (the adds into
 * a zeroed dx in output order), then added into the pre-fill. */
static void maxpool_want(float *y, float *g, const float *x, const float *dy, const ggdm_op_attr *a, int Ho, int Wo)
{
    int n, yo, xo, kh, kw;
    for (n = 0; n < a->N * a->C; n++)
        for (yo = 0; yo < Ho; yo++)
            for (xo = 0; xo < Wo; xo++) {
                const float *xp = x + (size_t)n * a->H * a->W;
                int h0 = yo * a->sh - a->ph, w0 = xo * a->sw - a->pw, best = -1;
                float m = -INFINITY;
                for (kh = 0; kh < a->KH; kh++)
                    for (kw = 0; kw < a->KW; kw++) {
                        int ih = h0 + kh, iw = w0 + kw;
                        if (ih < 0 || iw < 0 || ih >= a->H || iw >= a->W)
                            continue;
                        if (best < 0)
                            best = ih * a->W + iw;
                        if (xp[ih * a->W + iw] > m || xp[ih * a->W + iw] != xp[ih * a->W + iw]) {
                            m = xp[ih * a->W + iw];
                            best = ih * a->W + iw;
                        }
                    }
                y[((size_t)n * Ho + yo) * Wo + xo] = m;
                g[(size_t)n * a->H * a->W + best] += dy[((size_t)n * Ho + yo) * Wo + xo];
            }
}

static void maxpool_case(int N, int C, int H, int W, int K, int s, int p, int quant, int nograd)
{
    ggdm_op_attr a = attr(N, C, H, W);
    size_t n = (size_t)N * C * H * W, nin[3], i;
    float *x = falloc(n), *y, *g = falloc(n);
    const float *in[3];
    res r;
    int Ho = (H + 2 * p - K) / s + 1, Wo = (W + 2 * p - K) / s + 1;
    a.KH = a.KW = K, a.sh = a.sw = s, a.ph = a.pw = p;
    fill(x, n, 12);
    if (quant) /* many ties */
        for (i = 0; i < n; i++)
            x[i] = (float)floor(x[i] * 1.5);
    in[0] = x, in[1] = in[2] = NULL;
    nin[0] = n, nin[1] = nin[2] = 0;
    run_op(GGDM_OP_MAXPOOL, &a, in, nin, nograd, &r);
    assert_int_equal(r.info.out_H, Ho);
    assert_int_equal(r.info.out_W, Wo);
    y = falloc(r.info.out);
    memset(g, 0, sizeof(float) * n);
    maxpool_want(y, g, x, r.dout, &a, Ho, Wo);
    same_bits(r.out, y, r.info.out, "maxpool y");
    if (r.din[0])
        for (i = 0; i < n; i++) {
            float want = r.pre[0][i] + g[i];
            assert_memory_equal(&r.din[0][i], &want, sizeof want);
        }
    res_free(&r);
    free(x), free(y), free(g);
}

static void test_maxpool(void **state)
{
    /* PyTorch 1.13: F.max_pool2d(x, 3, 2, 1) and its backward with dy = 1..6 */
    static const float x[20] = {1, 3, 3, 0, 2, 3, -1, 2, 3, 3, 0, 0, 1, 3, -2, 2, 3, 1, 1, 3};
    static const float want_dx[20] = {0, 3, 0, 0, 0, 4, 0, 0, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    float y[6], dy[6] = {1, 2, 3, 4, 5, 6}, dx[20];
    ggdm_op_attr a = attr(1, 1, 4, 5);
    ggdm_op_call c;
    int i;
    (void)state;
    a.KH = a.KW = 3, a.sh = a.sw = 2, a.ph = a.pw = 1;
    memset(&c, 0, sizeof c);
    memset(dx, 0, sizeof dx);
    c.a = a, c.in[0] = x, c.out = y, c.dout = dy, c.din[0] = dx;
    ggdm_backend_cpu()->ops[GGDM_OP_MAXPOOL].fwd(NULL, &c);
    ggdm_backend_cpu()->ops[GGDM_OP_MAXPOOL].vjp(NULL, &c);
    for (i = 0; i < 6; i++)
        assert_true(y[i] == 3.0f);
    for (i = 0; i < 20; i++)
        assert_true(dx[i] == want_dx[i]);

    maxpool_case(2, 3, 7, 9, 3, 2, 1, 0, 0); /* ResNet-18's stem pool on odd planes */
    maxpool_case(2, 3, 8, 8, 3, 2, 1, 1, 0); /* ties */
    maxpool_case(1, 2, 6, 5, 2, 2, 0, 1, 0);
    maxpool_case(1, 2, 6, 5, 3, 1, 1, 1, 0); /* overlapping windows, stride 1 */
    maxpool_case(1, 2, 5, 5, 5, 3, 2, 0, 0);
    maxpool_case(1, 1, 1, 1, 1, 1, 0, 0, 0);
    maxpool_case(2, 2, 4, 4, 3, 2, 1, 0, 1); /* no dx */
    {
        /* NaN propagates (the last NaN of a window is its argmax), -inf is a value */
        float xn[9], yn[1], dyn[1] = {2.0f}, dxn[9];
        ggdm_op_attr b = attr(1, 1, 3, 3);
        b.KH = b.KW = 3, b.sh = b.sw = 1;
        for (i = 0; i < 9; i++)
            xn[i] = -INFINITY, dxn[i] = -0.0f;
        memset(&c, 0, sizeof c);
        c.a = b, c.in[0] = xn, c.out = yn, c.dout = dyn, c.din[0] = dxn;
        ggdm_backend_elem()->ops[GGDM_OP_MAXPOOL].fwd(NULL, &c);
        ggdm_backend_elem()->ops[GGDM_OP_MAXPOOL].vjp(NULL, &c);
        assert_true(yn[0] == -INFINITY);
        assert_true(dxn[0] == 2.0f);
        assert_false(signbit(dxn[1])); /* -0 + (+0): every dx element gets its chain */
        xn[2] = (float)NAN, xn[4] = 5.0f, xn[6] = (float)NAN;
        ggdm_backend_cpu()->ops[GGDM_OP_MAXPOOL].fwd(NULL, &c);
        for (i = 0; i < 9; i++)
            dxn[i] = 0.0f;
        ggdm_backend_cpu()->ops[GGDM_OP_MAXPOOL].vjp(NULL, &c);
        assert_true(yn[0] != yn[0]);
        assert_true(dxn[6] == 2.0f && dxn[2] == 0.0f && dxn[4] == 0.0f);
    }
    a.ph = 2; /* more than half the kernel */
    assert_int_equal(info_of(GGDM_OP_MAXPOOL, &a), GGDM_ERR_ARG);
    a.ph = -1;
    assert_int_equal(info_of(GGDM_OP_MAXPOOL, &a), GGDM_ERR_ARG);
    a.ph = 1, a.sw = 0;
    assert_int_equal(info_of(GGDM_OP_MAXPOOL, &a), GGDM_ERR_ARG);
    a.sw = 2, a.KW = 0;
    assert_int_equal(info_of(GGDM_OP_MAXPOOL, &a), GGDM_ERR_ARG);
    a = attr(1, 1, 2, 2);
    a.KH = a.KW = 3, a.sh = a.sw = 1;
    assert_int_equal(info_of(GGDM_OP_MAXPOOL, &a), GGDM_ERR_ARG); /* the window is larger than the plane */
    a.ph = a.pw = 1;
    assert_int_equal(info_of(GGDM_OP_MAXPOOL, &a), GGDM_OK);
    a.C = 0;
    assert_int_equal(info_of(GGDM_OP_MAXPOOL, &a), GGDM_ERR_ARG);
}

/* ------------------------------------------------------------------ main */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_affine),
        cmocka_unit_test(test_chnorm_beta),
        cmocka_unit_test(test_groupnorm_eps),
        cmocka_unit_test(test_bnorm),
        cmocka_unit_test(test_maxpool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
