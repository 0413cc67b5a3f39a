/*
 * Attention cores (LinearAttention, Attention), softmax and the time embedding:
 * backward vs central finite differences on a float64 re-implementation of the forward,
 * forward vs float64, the documented chains bit for bit (naive loops written here),
 * softmax properties, "adds into", determinism, huge inputs, time-embedding values.
 */
#include <math.h>
#include <stdio.h>

#include "ggdm/attention.h"
#include "ggdm/rng.h"
#include "ggdm_test.h"

/* Largest sizes the tests use. */
enum { MAXN = 3, MAXH = 4, MAXD = 32, MAXL = 16 };
enum { QKV_MAX = MAXN * 3 * MAXH * MAXD * MAXL, ACT_MAX = MAXN * MAXH * MAXD * MAXL };
enum { CTX_MAX = MAXN * MAXH * MAXD * MAXD, ATT_MAX = MAXN * MAXH * MAXL * MAXL };
enum { SCR_MAX = 3 * MAXD * MAXL + MAXD * MAXD + MAXL * MAXL };

static uint32_t bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static void fill_normal(float *x, size_t n, uint32_t tag, float mult)
{
    size_t i;
    ggdm_rng_fill_normal(1234, ggdm_stream_id(GGDM_STREAM_TEST, 77, tag), 0, x, n);
    for (i = 0; i < n; i++)
        x[i] = x[i] * mult;
}

static void fill_nan(float *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        x[i] = ggdm_f32_from_bits(0x7fc00000u);
}

/* ------------------------------------------------------------------ float64 re-implementation */

static double g_dq[MAXD * MAXL], g_dk[MAXD * MAXL], g_dctx[MAXD * MAXD], g_datt[MAXL * MAXL];

/* softmax in double, n values with stride s (max subtracted) */
static void softmax_f64(double *y, const double *x, int n, int s)
{
    double m = x[0], sum = 0.0;
    int i;
    for (i = 1; i < n; i++)
        m = x[i * s] > m ? x[i * s] : m;
    for (i = 0; i < n; i++) {
        y[i * s] = exp(x[i * s] - m);
        sum += y[i * s];
    }
    for (i = 0; i < n; i++)
        y[i * s] /= sum;
}

/*
 * One head of one sample.  qkv points at the sample ([3*H*Dh, L]); out (if not NULL) gets
 * the head's [Dh, L] output; returns sum over the head's outputs of r * out.
 */
static double linattn_head_f64(const double *qkv, const float *r, double *out, int H, int Dh, int L, int h)
{
    const int HD = H * Dh;
    const double *q = qkv + (size_t)(h * Dh) * L, *k = qkv + (size_t)(HD + h * Dh) * L;
    const double *v = qkv + (size_t)(2 * HD + h * Dh) * L;
    const double scale = (double)ggdm_attn_scale(Dh);
    double J = 0.0;
    int d, e, l;
    for (l = 0; l < L; l++)
        softmax_f64(g_dq + l, q + l, Dh, L);
    for (d = 0; d < Dh; d++)
        softmax_f64(g_dk + d * L, k + d * L, L, 1);
    for (d = 0; d < Dh; d++)
        for (e = 0; e < Dh; e++) {
            double acc = 0.0;
            for (l = 0; l < L; l++)
                acc += g_dk[d * L + l] * v[e * L + l];
            g_dctx[d * Dh + e] = acc;
        }
    for (e = 0; e < Dh; e++)
        for (l = 0; l < L; l++) {
            double acc = 0.0;
            for (d = 0; d < Dh; d++)
                acc += g_dctx[d * Dh + e] * g_dq[d * L + l] * scale;
            if (out)
                out[e * L + l] = acc;
            J += (double)r[(size_t)(h * Dh + e) * L + l] * acc;
        }
    return J;
}

static double attn_head_f64(const double *qkv, const float *r, double *out, int H, int Dh, int L, int h)
{
    const int HD = H * Dh;
    const double *q = qkv + (size_t)(h * Dh) * L, *k = qkv + (size_t)(HD + h * Dh) * L;
    const double *v = qkv + (size_t)(2 * HD + h * Dh) * L;
    const double scale = (double)ggdm_attn_scale(Dh);
    double J = 0.0;
    int d, i, j;
    for (i = 0; i < L; i++) {
        for (j = 0; j < L; j++) {
            double acc = 0.0;
            for (d = 0; d < Dh; d++)
                acc += q[d * L + i] * scale * k[d * L + j];
            g_datt[i * L + j] = acc;
        }
        softmax_f64(g_datt + i * L, g_datt + i * L, L, 1);
    }
    for (d = 0; d < Dh; d++)
        for (i = 0; i < L; i++) {
            double acc = 0.0;
            for (j = 0; j < L; j++)
                acc += g_datt[i * L + j] * v[d * L + j];
            if (out)
                out[d * L + i] = acc;
            J += (double)r[(size_t)(h * Dh + d) * L + i] * acc;
        }
    return J;
}

typedef double (*head_f64_fn)(const double *, const float *, double *, int, int, int, int);

/* ------------------------------------------------------------------ the float cores, one interface */

static float b_qkv[QKV_MAX], b_out[ACT_MAX], b_cq[ACT_MAX], b_ck[ACT_MAX], b_ctx[CTX_MAX], b_att[ATT_MAX];
static float b_r[ACT_MAX], b_dqkv[QKV_MAX], b_scr[SCR_MAX];

/* kind 0: LinearAttention, 1: Attention.  Forward into b_out and the caches. */
static void core_forward(int kind, const float *qkv, float *out, int N, int H, int Dh, int L)
{
    if (kind == 0)
        ggdm_linattn_forward(out, b_cq, b_ck, b_ctx, qkv, N, H, Dh, L);
    else
        ggdm_attn_forward(out, b_att, qkv, N, H, Dh, L);
}

/* Backward (adds into dqkv) from the caches of the last core_forward; scratch prefilled with NaN. */
static void core_backward(int kind, float *dqkv, const float *dout, const float *qkv, int N, int H, int Dh, int L)
{
    size_t ns = kind == 0 ? ggdm_linattn_backward_scratch_floats(H, Dh, L)
                          : ggdm_attn_backward_scratch_floats(H, Dh, L);
    assert_true(ns <= SCR_MAX);
    fill_nan(b_scr, SCR_MAX);
    if (kind == 0)
        ggdm_linattn_backward(dqkv, dout, qkv, b_cq, b_ck, b_ctx, N, H, Dh, L, b_scr);
    else
        ggdm_attn_backward(dqkv, dout, qkv, b_att, N, H, Dh, L, b_scr);
}

static const char *kind_name(int kind)
{
    return kind == 0 ? "linattn" : "attn";
}

/* ------------------------------------------------------------------ FD and forward accuracy */

static double x64[3 * MAXH * MAXD * MAXL], o64[MAXD * MAXL];

typedef struct errs {
    double fwd, grad;
} errs;

/* Checks one configuration; returns the worst relative errors (vs the largest magnitude). */
static errs check_config(int kind, int N, int H, int Dh, int L, uint32_t tag)
{
    head_f64_fn f64 = kind == 0 ? linattn_head_f64 : attn_head_f64;
    const int HD = H * Dh;
    const size_t per = (size_t)3 * HD * L, nact = (size_t)N * HD * L;
    double fmax = 0.0, fdiff = 0.0, gmax = 0.0, gdiff = 0.0;
    errs res;
    size_t i;
    int n, h;

    fill_normal(b_qkv, (size_t)N * per, tag, 1.5f);
    fill_normal(b_r, nact, tag + 1000, 1.0f);
    core_forward(kind, b_qkv, b_out, N, H, Dh, L);
    memset(b_dqkv, 0, sizeof b_dqkv);
    core_backward(kind, b_dqkv, b_r, b_qkv, N, H, Dh, L);

    for (n = 0; n < N; n++) {
        const float *rn = b_r + (size_t)n * HD * L;
        for (i = 0; i < per; i++)
            x64[i] = (double)b_qkv[(size_t)n * per + i];
        /* forward vs float64 */
        for (h = 0; h < H; h++) {
            f64(x64, rn, o64, H, Dh, L, h);
            for (i = 0; i < (size_t)Dh * L; i++) {
                double f = (double)b_out[(size_t)n * HD * L + (size_t)h * Dh * L + i];
                fmax = fabs(o64[i]) > fmax ? fabs(o64[i]) : fmax;
                fdiff = fabs(f - o64[i]) > fdiff ? fabs(f - o64[i]) : fdiff;
            }
        }
        /* backward vs central differences of sum(r * out): only the element's head changes */
        for (i = 0; i < per; i++) {
            const int c = (int)(i / (size_t)L);
            const double x0 = x64[i], eps = 1e-5;
            double jp, jm, fd, g;
            h = (c % HD) / Dh;
            x64[i] = x0 + eps;
            jp = f64(x64, rn, NULL, H, Dh, L, h);
            x64[i] = x0 - eps;
            jm = f64(x64, rn, NULL, H, Dh, L, h);
            x64[i] = x0;
            fd = (jp - jm) / (2.0 * eps);
            g = (double)b_dqkv[(size_t)n * per + i];
            gmax = fabs(fd) > gmax ? fabs(fd) : gmax;
            gdiff = fabs(g - fd) > gdiff ? fabs(g - fd) : gdiff;
        }
    }
    for (i = 0; i < (size_t)N * per; i++)
        assert_true(isfinite(b_dqkv[i]));
    res.fwd = fmax > 0.0 ? fdiff / fmax : fdiff;
    res.grad = gmax > 0.0 ? gdiff / gmax : gdiff;
    return res;
}

static void sweep(int kind)
{
    static const int Hs[] = {1, 2, 4}, Ds[] = {2, 4, 8, 32}, Ls[] = {1, 3, 8, 16};
    static const int quick[][3] = {{1, 2, 1}, {2, 4, 3}, {1, 8, 8}, {2, 32, 3}};
    double wf = 0.0, wg = 0.0;
    int a, b, c, cnt = 0;
    uint32_t tag = (uint32_t)kind * 100u;
    if (ggdm_test_quick()) {
        for (a = 0; a < (int)(sizeof quick / sizeof quick[0]); a++) {
            errs e = check_config(kind, 1, quick[a][0], quick[a][1], quick[a][2], tag++);
            wf = e.fwd > wf ? e.fwd : wf;
            wg = e.grad > wg ? e.grad : wg;
            assert_true(e.fwd < 1e-5);
            assert_true(e.grad < 1e-3);
            cnt++;
        }
    } else {
        for (a = 0; a < 3; a++)
            for (b = 0; b < 4; b++)
                for (c = 0; c < 4; c++) {
                    errs e = check_config(kind, 2, Hs[a], Ds[b], Ls[c], tag++);
                    if (!(e.fwd < 1e-5 && e.grad < 1e-3))
                        print_message("%s H=%d Dh=%d L=%d: forward %.3g, gradient %.3g\n", kind_name(kind), Hs[a],
                                      Ds[b], Ls[c], e.fwd, e.grad);
                    wf = e.fwd > wf ? e.fwd : wf;
                    wg = e.grad > wg ? e.grad : wg;
                    assert_true(e.fwd < 1e-5);
                    assert_true(e.grad < 1e-3);
                    cnt++;
                }
    }
    print_message("%s: %d configs, worst forward rel err %.3g, worst gradient rel err (vs central FD) %.3g\n",
                  kind_name(kind), cnt, wf, wg);
}

static void test_linattn_fd(void **state)
{
    (void)state;
    sweep(0);
}

static void test_attn_fd(void **state)
{
    (void)state;
    sweep(1);
}

/* ------------------------------------------------------------------ the documented chains, bit for bit */

/* The chains of docs/nn.md written as plain loops (different loop order from the library). */
static float n_out[ACT_MAX], n_cq[ACT_MAX], n_ck[ACT_MAX], n_ctx[CTX_MAX], n_att[ATT_MAX], n_dqkv[QKV_MAX];

static void naive_softmax(float *y, const float *x, int n, int s)
{
    float m = x[0], sum = 0.0f;
    int i;
    for (i = 1; i < n; i++)
        if (x[i * s] > m)
            m = x[i * s];
    for (i = 0; i < n; i++)
        sum = sum + ggdm_expf(x[i * s] - m);
    for (i = 0; i < n; i++)
        y[i * s] = ggdm_expf(x[i * s] - m) / sum;
}

static void naive_linattn(const float *qkv, const float *dout, int N, int H, int Dh, int L)
{
    const float sc = ggdm_attn_scale(Dh);
    const int HD = H * Dh;
    static float P[MAXD * MAXL], DC[MAXD * MAXD], DP[MAXD * MAXL], DKS[MAXD * MAXL];
    int n, h, d, e, l;
    for (n = 0; n < N; n++)
        for (h = 0; h < H; h++) {
            const float *q = qkv + ((size_t)n * 3 * HD + h * Dh) * L, *k = q + (size_t)HD * L, *v = k + (size_t)HD * L;
            float *dq = n_dqkv + ((size_t)n * 3 * HD + h * Dh) * L, *dk = dq + (size_t)HD * L, *dv = dk + (size_t)HD * L;
            float *qs = n_cq + ((size_t)n * HD + h * Dh) * L, *ks = n_ck + ((size_t)n * HD + h * Dh) * L;
            float *o = n_out + ((size_t)n * HD + h * Dh) * L, *ctx = n_ctx + ((size_t)n * H + h) * Dh * Dh;
            const float *go = dout + ((size_t)n * HD + h * Dh) * L;
            for (l = 0; l < L; l++) {
                naive_softmax(P + l, q + l, Dh, L);
                for (d = 0; d < Dh; d++)
                    qs[d * L + l] = P[d * L + l] * sc;
            }
            for (d = 0; d < Dh; d++)
                naive_softmax(ks + d * L, k + d * L, L, 1);
            for (e = 0; e < Dh; e++)
                for (d = 0; d < Dh; d++) {
                    float acc = 0.0f;
                    for (l = 0; l < L; l++)
                        acc = fmaf(ks[d * L + l], v[e * L + l], acc);
                    ctx[d * Dh + e] = acc;
                }
            for (l = 0; l < L; l++)
                for (e = 0; e < Dh; e++) {
                    float acc = 0.0f;
                    for (d = 0; d < Dh; d++)
                        acc = fmaf(ctx[d * Dh + e], qs[d * L + l], acc);
                    o[e * L + l] = acc;
                }
            /* backward */
            for (d = 0; d < Dh; d++)
                for (e = 0; e < Dh; e++) {
                    float acc = 0.0f;
                    for (l = 0; l < L; l++)
                        acc = fmaf(qs[d * L + l], go[e * L + l], acc);
                    DC[d * Dh + e] = acc;
                }
            for (l = 0; l < L; l++) {
                float t = 0.0f;
                for (d = 0; d < Dh; d++) {
                    float acc = 0.0f;
                    for (e = 0; e < Dh; e++)
                        acc = fmaf(ctx[d * Dh + e], go[e * L + l], acc);
                    DP[d * L + l] = acc * sc;
                }
                for (d = 0; d < Dh; d++)
                    t = fmaf(P[d * L + l], DP[d * L + l], t);
                for (d = 0; d < Dh; d++)
                    dq[d * L + l] = dq[d * L + l] + P[d * L + l] * (DP[d * L + l] - t);
            }
            for (d = 0; d < Dh; d++) {
                float s = 0.0f;
                for (l = 0; l < L; l++) {
                    float acc = 0.0f;
                    for (e = 0; e < Dh; e++)
                        acc = fmaf(DC[d * Dh + e], v[e * L + l], acc);
                    DKS[d * L + l] = acc;
                }
                for (l = 0; l < L; l++)
                    s = fmaf(ks[d * L + l], DKS[d * L + l], s);
                for (l = 0; l < L; l++)
                    dk[d * L + l] = dk[d * L + l] + ks[d * L + l] * (DKS[d * L + l] - s);
            }
            for (e = 0; e < Dh; e++)
                for (l = 0; l < L; l++) {
                    float acc = 0.0f;
                    for (d = 0; d < Dh; d++)
                        acc = fmaf(DC[d * Dh + e], ks[d * L + l], acc);
                    dv[e * L + l] = dv[e * L + l] + acc;
                }
        }
}

static void naive_attn(const float *qkv, const float *dout, int N, int H, int Dh, int L)
{
    const float sc = ggdm_attn_scale(Dh);
    const int HD = H * Dh;
    static float DA[MAXL * MAXL];
    int n, h, d, i, j;
    for (n = 0; n < N; n++)
        for (h = 0; h < H; h++) {
            const float *q = qkv + ((size_t)n * 3 * HD + h * Dh) * L, *k = q + (size_t)HD * L, *v = k + (size_t)HD * L;
            float *dq = n_dqkv + ((size_t)n * 3 * HD + h * Dh) * L, *dk = dq + (size_t)HD * L, *dv = dk + (size_t)HD * L;
            float *o = n_out + ((size_t)n * HD + h * Dh) * L, *A = n_att + ((size_t)n * H + h) * L * L;
            const float *go = dout + ((size_t)n * HD + h * Dh) * L;
            for (i = 0; i < L; i++) {
                for (j = 0; j < L; j++) {
                    float acc = 0.0f;
                    for (d = 0; d < Dh; d++)
                        acc = fmaf(q[d * L + i] * sc, k[d * L + j], acc);
                    A[i * L + j] = acc;
                }
                naive_softmax(A + i * L, A + i * L, L, 1);
            }
            for (i = 0; i < L; i++)
                for (d = 0; d < Dh; d++) {
                    float acc = 0.0f;
                    for (j = 0; j < L; j++)
                        acc = fmaf(A[i * L + j], v[d * L + j], acc);
                    o[d * L + i] = acc;
                }
            /* backward */
            for (i = 0; i < L; i++) {
                float t = 0.0f;
                for (j = 0; j < L; j++) {
                    float acc = 0.0f;
                    for (d = 0; d < Dh; d++)
                        acc = fmaf(go[d * L + i], v[d * L + j], acc);
                    DA[i * L + j] = acc;
                }
                for (j = 0; j < L; j++)
                    t = fmaf(A[i * L + j], DA[i * L + j], t);
                for (j = 0; j < L; j++)
                    DA[i * L + j] = A[i * L + j] * (DA[i * L + j] - t);
            }
            for (d = 0; d < Dh; d++)
                for (j = 0; j < L; j++) {
                    float a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
                    for (i = 0; i < L; i++) {
                        a1 = fmaf(A[i * L + j], go[d * L + i], a1);
                        a3 = fmaf(DA[i * L + j], q[d * L + i] * sc, a3);
                    }
                    for (i = 0; i < L; i++)
                        a2 = fmaf(DA[j * L + i], k[d * L + i], a2); /* dq[d, j]: chain over the key index */
                    dv[d * L + j] = dv[d * L + j] + a1;
                    dq[d * L + j] = dq[d * L + j] + a2 * sc;
                    dk[d * L + j] = dk[d * L + j] + a3;
                }
        }
}

static void test_chains_exact(void **state)
{
    static const int cfg[][4] = {{2, 2, 8, 5}, {1, 4, 32, 16}, {3, 1, 3, 1}, {1, 3, 4, 7}};
    int c, kind;
    (void)state;
    for (kind = 0; kind < 2; kind++)
        for (c = 0; c < (int)(sizeof cfg / sizeof cfg[0]); c++) {
            const int N = cfg[c][0], H = cfg[c][1], Dh = cfg[c][2], L = cfg[c][3];
            const size_t nq = (size_t)N * 3 * H * Dh * L, na = (size_t)N * H * Dh * L;
            fill_normal(b_qkv, nq, 500u + (uint32_t)c, 2.0f);
            fill_normal(b_r, na, 600u + (uint32_t)c, 1.0f);
            fill_normal(b_dqkv, nq, 700u + (uint32_t)c, 0.25f);
            memcpy(n_dqkv, b_dqkv, nq * sizeof(float));
            core_forward(kind, b_qkv, b_out, N, H, Dh, L);
            core_backward(kind, b_dqkv, b_r, b_qkv, N, H, Dh, L);
            if (kind == 0) {
                naive_linattn(b_qkv, b_r, N, H, Dh, L);
                assert_memory_equal(b_cq, n_cq, na * sizeof(float));
                assert_memory_equal(b_ck, n_ck, na * sizeof(float));
                assert_memory_equal(b_ctx, n_ctx, (size_t)N * H * Dh * Dh * sizeof(float));
            } else {
                naive_attn(b_qkv, b_r, N, H, Dh, L);
                assert_memory_equal(b_att, n_att, (size_t)N * H * L * L * sizeof(float));
            }
            assert_memory_equal(b_out, n_out, na * sizeof(float));
            assert_memory_equal(b_dqkv, n_dqkv, nq * sizeof(float));
        }
}

/* ------------------------------------------------------------------ adds into, determinism, batch */

static float c_out[ACT_MAX], c_dqkv[QKV_MAX], c_cq[ACT_MAX], c_ck[ACT_MAX], c_ctx[CTX_MAX], c_att[ATT_MAX];

static void test_adds_into_and_determinism(void **state)
{
    const int N = 3, H = 2, Dh = 8, L = 6;
    const size_t nq = (size_t)N * 3 * H * Dh * L, na = (size_t)N * H * Dh * L;
    static float base[QKV_MAX];
    int kind, n;
    size_t i;
    (void)state;
    for (kind = 0; kind < 2; kind++) {
        fill_normal(b_qkv, nq, 800, 1.5f);
        fill_normal(b_r, na, 801, 1.0f);
        fill_normal(base, nq, 802, 3.0f);
        /* plain gradient (dqkv zeroed) */
        fill_nan(b_out, ACT_MAX);
        core_forward(kind, b_qkv, b_out, N, H, Dh, L);
        memset(b_dqkv, 0, sizeof b_dqkv);
        core_backward(kind, b_dqkv, b_r, b_qkv, N, H, Dh, L);
        memcpy(c_out, b_out, sizeof c_out);
        memcpy(c_dqkv, b_dqkv, sizeof c_dqkv);
        memcpy(c_cq, b_cq, sizeof c_cq);
        memcpy(c_ck, b_ck, sizeof c_ck);
        memcpy(c_ctx, b_ctx, sizeof c_ctx);
        memcpy(c_att, b_att, sizeof c_att);
        for (i = nq; i < QKV_MAX; i++) /* nothing beyond the tensor is touched */
            assert_int_equal(bits(b_dqkv[i]), 0u);
        for (i = na; i < ACT_MAX; i++)
            assert_int_equal(bits(b_out[i]), 0x7fc00000u);
        /* same bits a second time (fresh output buffers, NaN scratch) */
        fill_nan(b_out, ACT_MAX);
        fill_nan(b_cq, ACT_MAX);
        fill_nan(b_ck, ACT_MAX);
        fill_nan(b_ctx, CTX_MAX);
        fill_nan(b_att, ATT_MAX);
        core_forward(kind, b_qkv, b_out, N, H, Dh, L);
        assert_memory_equal(b_out, c_out, na * sizeof(float));
        if (kind == 0) {
            assert_memory_equal(b_cq, c_cq, na * sizeof(float));
            assert_memory_equal(b_ck, c_ck, na * sizeof(float));
            assert_memory_equal(b_ctx, c_ctx, (size_t)N * H * Dh * Dh * sizeof(float));
        } else {
            assert_memory_equal(b_att, c_att, (size_t)N * H * L * L * sizeof(float));
        }
        /* adds into: result = base + gradient, one addition per element */
        memcpy(b_dqkv, base, sizeof b_dqkv);
        core_backward(kind, b_dqkv, b_r, b_qkv, N, H, Dh, L);
        for (i = 0; i < nq; i++)
            assert_int_equal(bits(b_dqkv[i]), bits(base[i] + c_dqkv[i]));
        for (i = nq; i < QKV_MAX; i++)
            assert_int_equal(bits(b_dqkv[i]), bits(base[i]));
        /* each sample alone (N = 1) gives the same bits as inside the batch */
        for (n = 0; n < N; n++) {
            static float q1[QKV_MAX], o1[ACT_MAX], d1[QKV_MAX];
            const size_t pq = nq / N, pa = na / N;
            memcpy(q1, b_qkv + n * pq, pq * sizeof(float));
            core_forward(kind, q1, o1, 1, H, Dh, L);
            memset(d1, 0, sizeof d1);
            core_backward(kind, d1, b_r + n * pa, q1, 1, H, Dh, L);
            assert_memory_equal(o1, c_out + n * pa, pa * sizeof(float));
            assert_memory_equal(d1, c_dqkv + n * pq, pq * sizeof(float));
        }
    }
}

/* ------------------------------------------------------------------ huge inputs (max subtraction) */

/*
 * Dh = 4 (scale 0.5 exactly) and inputs on a 1/8 grid: every sim, every x - max and the
 * shifted values are exact, so shifting q and k (LinearAttention) or k by a constant
 * (Attention: adds a per-row constant to sim) must give the same bits.  The shifted logits
 * reach ~1000-2000: e^x would overflow without the max subtraction.
 */
static void test_huge_inputs(void **state)
{
    const int N = 2, H = 2, Dh = 4, L = 8, HD = H * Dh;
    const size_t nq = (size_t)N * 3 * HD * L, na = (size_t)N * HD * L;
    static float sh[QKV_MAX];
    int kind, n, c;
    size_t i;
    (void)state;
    assert_true(ggdm_attn_scale(4) == 0.5f);
    fill_normal(b_qkv, nq, 900, 1.0f);
    for (i = 0; i < nq; i++) {
        float x = (float)(long)(b_qkv[i] * 16.0f) / 8.0f; /* in (-12, 12) on a 1/8 grid */
        b_qkv[i] = x;
    }
    fill_normal(b_r, na, 901, 1.0f);
    for (kind = 0; kind < 2; kind++) {
        memcpy(sh, b_qkv, sizeof sh);
        for (n = 0; n < N; n++)
            for (c = 0; c < 3 * HD; c++) {
                float add = 0.0f;
                if (kind == 0 && c < 2 * HD)
                    add = c < HD ? 1000.0f : -1500.0f; /* q: per-position shift over d; k: per-row */
                if (kind == 1 && c >= HD && c < 2 * HD)
                    add = 256.0f;                   /* k: sim[i, :] shifted by 256 * sum_d qs[d, i] */
                for (i = 0; i < (size_t)L; i++)
                    sh[((size_t)n * 3 * HD + c) * L + i] += add;
            }
        core_forward(kind, b_qkv, b_out, N, H, Dh, L);
        memset(b_dqkv, 0, sizeof b_dqkv);
        core_backward(kind, b_dqkv, b_r, b_qkv, N, H, Dh, L);
        memcpy(c_out, b_out, sizeof c_out);
        memcpy(c_dqkv, b_dqkv, sizeof c_dqkv);
        if (kind == 1) {
            /* huge logits: rows still finite and summing to 1 */
            core_forward(kind, sh, b_out, N, H, Dh, L);
            for (i = 0; i < (size_t)N * H * L * L; i++)
                assert_true(isfinite(b_att[i]));
            for (n = 0; n < N * H * L; n++) {
                float s = 0.0f;
                for (c = 0; c < L; c++)
                    s += b_att[(size_t)n * L + c];
                assert_true(fabsf(s - 1.0f) < 1e-5f);
            }
        }
        core_forward(kind, sh, b_out, N, H, Dh, L);
        memset(b_dqkv, 0, sizeof b_dqkv);
        core_backward(kind, b_dqkv, b_r, sh, N, H, Dh, L);
        assert_memory_equal(b_out, c_out, na * sizeof(float));
        if (kind == 0) {
            assert_memory_equal(b_dqkv, c_dqkv, nq * sizeof(float));
        } else {
            /* dq sees k's shift through sum_j dsim[i,j] k[d,j] (sum_j dsim = 0 only in real
               arithmetic); dk and dv are unchanged bit for bit */
            for (n = 0; n < N; n++) {
                const size_t o = (size_t)n * 3 * HD * L + (size_t)HD * L;
                assert_memory_equal(b_dqkv + o, c_dqkv + o, 2 * (size_t)HD * L * sizeof(float));
            }
            for (i = 0; i < nq; i++)
                assert_true(isfinite(b_dqkv[i]));
        }
    }
}

/* ------------------------------------------------------------------ softmax */

static void test_softmax(void **state)
{
    static float x[3 * 64], y[3 * 64], z[3 * 64];
    const int ns[] = {1, 2, 5, 32, 64};
    size_t a;
    int i;
    (void)state;
    /* tiny case: the defined chain, bit for bit */
    {
        const float t[3] = {0.5f, -1.25f, 2.0f};
        float out[3], e0 = ggdm_expf(0.5f - 2.0f), e1 = ggdm_expf(-1.25f - 2.0f), e2 = ggdm_expf(0.0f);
        float s = ((0.0f + e0) + e1) + e2;
        assert_int_equal(bits(e2), bits(1.0f));
        ggdm_softmax_f32(out, t, 3, 1);
        assert_int_equal(bits(out[0]), bits(e0 / s));
        assert_int_equal(bits(out[1]), bits(e1 / s));
        assert_int_equal(bits(out[2]), bits(e2 / s));
    }
    /* equal inputs: exactly 1/n; a single value: exactly 1 */
    for (i = 0; i < 4; i++)
        x[i] = -7.0f;
    ggdm_softmax_f32(y, x, 4, 1);
    for (i = 0; i < 4; i++)
        assert_true(y[i] == 0.25f);
    ggdm_softmax_f32(y, x, 1, 1);
    assert_true(y[0] == 1.0f);
    for (a = 0; a < sizeof ns / sizeof ns[0]; a++) {
        const int n = ns[a];
        double sum = 0.0, ref = 0.0, m;
        fill_normal(x, 3 * 64, 40u + (uint32_t)a, 3.0f);
        for (i = 0; i < 3 * 64; i++)
            x[i] = (float)(long)(x[i] * 64.0f) / 64.0f; /* 1/64 grid: shifts by 32 are exact */
        /* stride 3: the other elements are untouched */
        memcpy(y, x, sizeof y);
        ggdm_softmax_f32(y, x, n, 3);
        for (i = 0; i < 3 * 64; i++)
            if (i % 3 != 0 || i / 3 >= n)
                assert_int_equal(bits(y[i]), bits(x[i]));
        /* sums to 1; agrees with float64 */
        m = x[0];
        for (i = 1; i < n; i++)
            m = x[3 * i] > m ? x[3 * i] : m;
        for (i = 0; i < n; i++)
            ref += exp((double)x[3 * i] - m);
        for (i = 0; i < n; i++) {
            double r = exp((double)x[3 * i] - m) / ref;
            sum += y[3 * i];
            assert_true(fabs(y[3 * i] - r) <= (2.0 + n) * 1.2e-7 * r + 1e-30);
        }
        assert_true(fabs(sum - 1.0) < 1e-6);
        /* shift invariance: exact shift gives the same bits; any shift nearly the same */
        for (i = 0; i < n; i++)
            z[3 * i] = x[3 * i] + 32.0f;
        ggdm_softmax_f32(z, z, n, 3); /* in place */
        for (i = 0; i < n; i++)
            assert_int_equal(bits(z[3 * i]), bits(y[3 * i]));
        for (i = 0; i < n; i++)
            z[3 * i] = x[3 * i] + 0.3f;
        ggdm_softmax_f32(z, z, n, 3);
        for (i = 0; i < n; i++)
            assert_true(fabsf(z[3 * i] - y[3 * i]) <= 1e-6f);
    }
    /* huge values: no overflow */
    {
        const float t[3] = {1000.0f, 999.0f, -3.0e38f};
        float out[3];
        double e1 = exp(-1.0);
        ggdm_softmax_f32(out, t, 3, 1);
        assert_true(fabs(out[0] - 1.0 / (1.0 + e1)) < 1e-7);
        assert_true(fabs(out[1] - e1 / (1.0 + e1)) < 1e-7);
        assert_true(out[2] == 0.0f);
    }
    /* backward: dx_i = y_i (dy_i - sum_j y_j dy_j), so sum dx ~ 0; in place allowed */
    {
        const float yy[4] = {0.125f, 0.5f, 0.25f, 0.125f};
        float dy[4] = {1.0f, -2.0f, 0.5f, 3.0f}, dx[4];
        float t = fmaf(yy[3], dy[3], fmaf(yy[2], dy[2], fmaf(yy[1], dy[1], fmaf(yy[0], dy[0], 0.0f))));
        ggdm_softmax_backward_f32(dx, yy, dy, 4, 1);
        for (i = 0; i < 4; i++)
            assert_int_equal(bits(dx[i]), bits(yy[i] * (dy[i] - t)));
        ggdm_softmax_backward_f32(dy, yy, dy, 4, 1);
        assert_memory_equal(dx, dy, sizeof dx);
    }
}

/* ------------------------------------------------------------------ time embedding */

static void test_scale(void **state)
{
    int dh;
    (void)state;
    assert_int_equal(bits(ggdm_attn_scale(32)), bits(GGDM_ATTN_SCALE_DH32));
    assert_int_equal(bits(GGDM_ATTN_SCALE_DH32), 0x3e3504f3u);
    assert_true(ggdm_attn_scale(1) == 1.0f && ggdm_attn_scale(4) == 0.5f && ggdm_attn_scale(64) == 0.125f);
    for (dh = 1; dh <= 512; dh++) {
        float s = ggdm_attn_scale(dh);
        double r = 1.0 / sqrt((double)dh), err = fabs((double)s - r);
        /* correctly rounded: no float is closer */
        assert_true(err <= fabs((double)nextafterf(s, 0.0f) - r));
        assert_true(err <= fabs((double)nextafterf(s, 1.0f) - r));
    }
}

static void test_time_embedding(void **state)
{
    enum { DIMMAX = 256, NT = 12 };
    static const int dims[] = {4, 6, 16, 64, 256};
    static float t[NT] = {0.0f, 1.0f, 2.0f, 7.0f, 50.0f, 99.0f, 123.0f, 199.0f, 0.5f, 999.0f, -3.0f, 1e-3f};
    static float emb[NT * DIMMAX + 8];
    double worst = 0.0;
    size_t a;
    int n, j;
    (void)state;
    /* the coefficient for dim 64: log(10000)/31 rounded to float */
    assert_int_equal(bits(ggdm_time_embedding_coef(64)), bits((float)(9.210340371976184 / 31.0)));
    for (a = 0; a < sizeof dims / sizeof dims[0]; a++) {
        const int dim = dims[a], half = dim / 2;
        const double c = log(10000.0) / (double)(half - 1);
        const float cf = (float)c;
        fill_nan(emb, NT * DIMMAX + 8);
        ggdm_time_embedding(emb, t, NT, dim);
        assert_int_equal(bits(emb[NT * dim]), 0x7fc00000u); /* nothing beyond [N, dim] */
        for (n = 0; n < NT; n++)
            for (j = 0; j < dim; j++) {
                const int i = j < half ? j : j - half;
                const float e = emb[n * dim + j];
                /* float64 sin/cos of the float32 argument of the definition */
                const float ic = (float)i * -cf;
                const float freq = ggdm_time_embedding_freq(i, cf);
                const double arg = (double)(t[n] * freq);
                const double r = j < half ? sin(arg) : cos(arg);
                /* float64 end to end */
                const double arg64 = (double)t[n] * exp(-(double)i * c);
                const double r64 = j < half ? sin(arg64) : cos(arg64);
                assert_int_equal(bits(e), bits(ggdm_time_embedding_value(t[n], j, dim)));
                assert_true(fabs((double)freq - exp((double)ic)) <= 0x1p-23 * (double)freq); /* <= 1 ulp */
                assert_true(fabs(e - r) <= 0x1p-24); /* |sin|, |cos| <= 1: half an ulp of 1 */
                /* c and i * -c are rounded to float32 (as in the original): ~1e-6 relative in freq */
                assert_true(fabs(e - r64) <= 2e-6 * (1.0 + fabs(arg64)));
                if (fabs(e - r64) / (1.0 + fabs(arg64)) > worst)
                    worst = fabs(e - r64) / (1.0 + fabs(arg64));
            }
        /* t = 0: sin(+0) = +0 and cos(0) = 1 exactly */
        for (j = 0; j < half; j++) {
            assert_int_equal(bits(emb[j]), 0u);
            assert_int_equal(bits(emb[half + j]), bits(1.0f));
        }
        /* frequency 0 is exactly 1: the first sin/cos pair sees t itself */
        assert_int_equal(bits(ggdm_time_embedding_freq(0, cf)), bits(1.0f));
        assert_int_equal(bits(emb[1 * dim + 0]), bits(ggdm_sinf(1.0f)));
    }
    /* dim 4: frequencies 1 and 1e-4 */
    assert_true(fabsf(ggdm_time_embedding_freq(1, ggdm_time_embedding_coef(4)) - 1e-4f) < 1e-10f);
    /* invalid widths write nothing */
    fill_nan(emb, 16);
    ggdm_time_embedding(emb, t, 2, 2);
    ggdm_time_embedding(emb, t, 1, 7);
    ggdm_time_embedding(emb, t, 0, 8);
    for (j = 0; j < 16; j++)
        assert_int_equal(bits(emb[j]), 0x7fc00000u);
    print_message("time embedding: worst |emb - float64| / (1 + |arg|) = %.3g\n", worst);
}

/* Cross-attention (queries and keys/values of their own lengths, strided views): forward and
 * every gradient against a float64 evaluation of the same formulas; the gradients are ADDED
 * into (a prefilled dq), a NULL gradient is skipped, and padding between samples (strides
 * larger than the tensor) is neither read nor written. */
static void test_cross_attention(void **state)
{
    enum { N = 2, H = 2, Dh = 3, Lq = 5, Lk = 7, HD = H * Dh, SQ = HD * Lq + 3, SK = HD * Lk + 5, SV = HD * Lk + 1 };
    float q[N * SQ], k[N * SK], v[N * SV], out[N * HD * Lq], A[N * H * Lq * Lk], go[N * HD * Lq];
    float dq[N * SQ], dv[N * SV], scr[Lq * Lk];
    const double scale = (double)ggdm_attn_scale(Dh);
    double worst = 0;
    int n, h, d, i, j;
    (void)state;
    fill_normal(q, N * SQ, 501, 1.0f);
    fill_normal(k, N * SK, 502, 1.0f);
    fill_normal(v, N * SV, 503, 1.0f);
    fill_normal(go, N * HD * Lq, 504, 1.0f);
    ggdm_attn_forward_qkv(out, A, q, k, v, SQ, SK, SV, N, H, Dh, Lq, Lk);
    for (i = 0; i < N * SQ; i++)
        dq[i] = 1.0f;
    for (i = 0; i < N * SV; i++)
        dv[i] = -2.0f;
    ggdm_attn_backward_qkv(dq, NULL, dv, go, q, k, v, SQ, SK, SV, A, N, H, Dh, Lq, Lk, scr);
    for (n = 0; n < N; n++)
        for (h = 0; h < H; h++) {
            const float *qh = q + n * SQ + h * Dh * Lq, *kh = k + n * SK + h * Dh * Lk, *vh = v + n * SV + h * Dh * Lk;
            const float *gh = go + (n * H + h) * Dh * Lq;
            double P[Lq][Lk], dP[Lq][Lk], dS[Lq][Lk];
            for (i = 0; i < Lq; i++) {
                double mx = -1e300, sum = 0, dot = 0;
                for (j = 0; j < Lk; j++) {
                    double sim = 0;
                    for (d = 0; d < Dh; d++)
                        sim += (double)qh[d * Lq + i] * scale * (double)kh[d * Lk + j];
                    P[i][j] = sim;
                    mx = sim > mx ? sim : mx;
                }
                for (j = 0; j < Lk; j++)
                    sum += (P[i][j] = exp(P[i][j] - mx));
                for (j = 0; j < Lk; j++) {
                    P[i][j] /= sum;
                    dP[i][j] = 0;
                    for (d = 0; d < Dh; d++)
                        dP[i][j] += (double)gh[d * Lq + i] * (double)vh[d * Lk + j];
                    dot += P[i][j] * dP[i][j];
                }
                for (j = 0; j < Lk; j++)
                    dS[i][j] = P[i][j] * (dP[i][j] - dot);
                for (d = 0; d < Dh; d++) {
                    double o = 0, g = 0;
                    for (j = 0; j < Lk; j++) {
                        o += P[i][j] * (double)vh[d * Lk + j];
                        g += dS[i][j] * (double)kh[d * Lk + j];
                    }
                    o = fabs(o - (double)out[(n * H + h) * Dh * Lq + d * Lq + i]);
                    g = fabs(1.0 + scale * g - (double)dq[n * SQ + h * Dh * Lq + d * Lq + i]);
                    worst = o > worst ? o : worst;
                    worst = g > worst ? g : worst;
                }
            }
            for (d = 0; d < Dh; d++)
                for (j = 0; j < Lk; j++) {
                    double g = 0;
                    for (i = 0; i < Lq; i++)
                        g += P[i][j] * (double)gh[d * Lq + i];
                    g = fabs(-2.0 + g - (double)dv[n * SV + h * Dh * Lk + d * Lk + j]);
                    worst = g > worst ? g : worst;
                }
        }
    assert_true(worst < 1e-5);
    /* the padding after each sample's tensor is untouched */
    for (n = 0; n < N; n++) {
        for (i = HD * Lq; i < SQ; i++)
            assert_int_equal(bits(dq[n * SQ + i]), bits(1.0f));
        for (i = HD * Lk; i < SV; i++)
            assert_int_equal(bits(dv[n * SV + i]), bits(-2.0f));
    }
    print_message("cross-attention (Lq %d, Lk %d): worst |ggdm - float64| = %.3g\n", Lq, Lk, worst);
}

/* Self-attention as views into a packed qkv has exactly the packed core's bits. */
static void test_attn_views_packed(void **state)
{
    enum { N = 3, H = 2, Dh = 4, L = 6, HDL = H * Dh * L };
    float qkv[N * 3 * HDL], o1[N * HDL], o2[N * HDL], A1[N * H * L * L], A2[N * H * L * L];
    float go[N * HDL], d1[N * 3 * HDL], d2[N * 3 * HDL], scr[L * L];
    int i;
    (void)state;
    fill_normal(qkv, N * 3 * HDL, 511, 2.0f);
    fill_normal(go, N * HDL, 512, 1.0f);
    ggdm_attn_forward(o1, A1, qkv, N, H, Dh, L);
    ggdm_attn_forward_qkv(o2, A2, qkv, qkv + HDL, qkv + 2 * HDL, 3 * HDL, 3 * HDL, 3 * HDL, N, H, Dh, L, L);
    memset(d1, 0, sizeof d1);
    memset(d2, 0, sizeof d2);
    ggdm_attn_backward(d1, go, qkv, A1, N, H, Dh, L, scr);
    ggdm_attn_backward_qkv(d2, d2 + HDL, d2 + 2 * HDL, go, qkv, qkv + HDL, qkv + 2 * HDL, 3 * HDL, 3 * HDL, 3 * HDL,
                           A2, N, H, Dh, L, L, scr);
    for (i = 0; i < N * HDL; i++)
        assert_int_equal(bits(o1[i]), bits(o2[i]));
    for (i = 0; i < N * 3 * HDL; i++)
        assert_int_equal(bits(d1[i]), bits(d2[i]));
    assert_true(d1[0] != 0.0f && d1[HDL] != 0.0f && d1[2 * HDL] != 0.0f); /* a gradient was written */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax),          cmocka_unit_test(test_scale),
        cmocka_unit_test(test_chains_exact),     cmocka_unit_test(test_linattn_fd),
        cmocka_unit_test(test_attn_fd),          cmocka_unit_test(test_adds_into_and_determinism),
        cmocka_unit_test(test_huge_inputs),      cmocka_unit_test(test_time_embedding),
        cmocka_unit_test(test_cross_attention),  cmocka_unit_test(test_attn_views_packed),
    };
    return cmocka_run_group_tests_name("attention", tests, NULL, NULL);
}
