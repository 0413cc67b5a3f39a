/*
 * The score network's non-attention layers (docs/nn.md, "Layers"):
 *  - float32 forward against a float64 re-implementation written here;
 *  - float32 backward against central finite differences of sum(r * y) taken on that
 *    float64 forward (normwise relative error, worst value printed per layer);
 *  - NULL gradient pointers skip exactly their gradient, and backward adds into buffers;
 *  - the documented chains, written out literally here, equal the library bit for bit.
 */
#include <math.h>
#include <stdio.h>

#include "ggdm/layers.h"
#include "ggdm/reduce.h"
#include "ggdm/rng.h"
#include "ggdm_test.h"

/* ------------------------------------------------------------------ helpers */

static uint64_t rng_at;

static float urand(float lo, float hi)
{
    float u = ggdm_rng_uniform(20240, ggdm_stream_id(GGDM_STREAM_TEST, 31, 7), rng_at++);
    return lo + (hi - lo) * u;
}

static void fill(float *a, long n, float lo, float hi)
{
    long i;
    for (i = 0; i < n; i++)
        a[i] = urand(lo, hi);
}

static float *fnew(long n)
{
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    assert_non_null(p);
    return p;
}

static double *dnew(long n)
{
    double *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    assert_non_null(p);
    return p;
}

static float *fdup(const float *a, long n)
{
    float *p = fnew(n);
    memcpy(p, a, (size_t)n * sizeof *p);
    return p;
}

static void assert_bits_equal(const float *a, const float *b, long n, const char *what)
{
    long i;
    for (i = 0; i < n; i++) {
        if (ggdm_f32_bits(a[i]) != ggdm_f32_bits(b[i])) {
            print_error("%s: element %ld differs: %.9g (0x%08x) vs %.9g (0x%08x)\n", what, i, (double)a[i],
                        (unsigned)ggdm_f32_bits(a[i]), (double)b[i], (unsigned)ggdm_f32_bits(b[i]));
            fail();
        }
    }
}

/* ------------------------------------------------------------------ layer cases */

#define MAXIN 3

typedef struct lcase lcase;
struct lcase {
    const char *name;
    int nin;               /* differentiable inputs */
    const char *in_name[MAXIN];
    long len[MAXIN];
    float lo[MAXIN], hi[MAXIN];
    long nout;
    int d[8]; /* the layer's dimensions */
    /* FD errors are max|g - fd| / max(max|fd|, floor): a floor of the natural gradient scale
     * for ill-conditioned cases (2 normalised values: the output barely depends on the input,
     * the true gradient is O(eps / var) and float32 cancellation dominates relative error) */
    double floor;
    void (*f32)(const lcase *, float *const *in, float *y);
    void (*f64)(const lcase *, double *const *in, double *y);
    void (*b32)(const lcase *, float *const *in, const float *dy, float *const *grad);
};

/* --- Conv1d: d = {N, Cin, Lin, Cout, K, stride, pad}; inputs x, w, (b) */

static void conv_f64_raw(double *y, const double *x, const double *w, const double *b, const int *d)
{
    int N = d[0], Cin = d[1], Lin = d[2], Cout = d[3], K = d[4], s = d[5], pad = d[6];
    int Lout = ggdm_conv1d_out_len(Lin, K, s, pad), n, o, i, k, l;
    for (n = 0; n < N; n++)
        for (o = 0; o < Cout; o++)
            for (l = 0; l < Lout; l++) {
                double acc = b ? b[o] : 0.0;
                for (i = 0; i < Cin; i++)
                    for (k = 0; k < K; k++) {
                        int p = l * s + k - pad;
                        if (p >= 0 && p < Lin)
                            acc += w[(o * Cin + i) * K + k] * x[(n * Cin + i) * Lin + p];
                    }
                y[(n * Cout + o) * Lout + l] = acc;
            }
}

static void conv_f32(const lcase *c, float *const *in, float *y)
{
    const int *d = c->d;
    ggdm_conv1d_forward(y, in[0], in[1], c->nin > 2 ? in[2] : NULL, d[0], d[1], d[2], d[3], d[4], d[5], d[6]);
}

static void conv_f64(const lcase *c, double *const *in, double *y)
{
    conv_f64_raw(y, in[0], in[1], c->nin > 2 ? in[2] : NULL, c->d);
}

static void conv_b32(const lcase *c, float *const *in, const float *dy, float *const *g)
{
    const int *d = c->d;
    ggdm_conv1d_backward(g[0], g[1], c->nin > 2 ? g[2] : NULL, dy, in[0], in[1], d[0], d[1], d[2], d[3], d[4],
                         d[5], d[6]);
}

static lcase conv_case(int N, int Cin, int Lin, int Cout, int K, int s, int pad, int bias)
{
    lcase c;
    memset(&c, 0, sizeof c);
    c.name = bias ? "conv1d" : "conv1d (no bias)";
    c.nin = bias ? 3 : 2;
    c.in_name[0] = "x";
    c.in_name[1] = "w";
    c.in_name[2] = "b";
    c.len[0] = (long)N * Cin * Lin;
    c.len[1] = (long)Cout * Cin * K;
    c.len[2] = Cout;
    c.lo[0] = c.lo[1] = c.lo[2] = -1.0f;
    c.hi[0] = c.hi[1] = c.hi[2] = 1.0f;
    c.d[0] = N; c.d[1] = Cin; c.d[2] = Lin; c.d[3] = Cout; c.d[4] = K; c.d[5] = s; c.d[6] = pad;
    c.nout = (long)N * Cout * ggdm_conv1d_out_len(Lin, K, s, pad);
    c.f32 = conv_f32;
    c.f64 = conv_f64;
    c.b32 = conv_b32;
    return c;
}

/* --- weight standardisation alone: d = {Cout, fan}; input w */

static void ws_f64_raw(double *wh, const double *w, int Cout, int fan)
{
    int o, j;
    for (o = 0; o < Cout; o++) {
        double m = 0.0, v = 0.0;
        for (j = 0; j < fan; j++)
            m += w[o * fan + j];
        m /= fan;
        for (j = 0; j < fan; j++)
            v += (w[o * fan + j] - m) * (w[o * fan + j] - m);
        v /= fan;
        for (j = 0; j < fan; j++)
            wh[o * fan + j] = (w[o * fan + j] - m) / sqrt(v + 1e-5);
    }
}

static void ws_f32(const lcase *c, float *const *in, float *y)
{
    float *r = fnew(c->d[0]);
    ggdm_ws_forward(y, r, in[0], c->d[0], c->d[1]);
    free(r);
}

static void ws_f64(const lcase *c, double *const *in, double *y)
{
    ws_f64_raw(y, in[0], c->d[0], c->d[1]);
}

static void ws_b32(const lcase *c, float *const *in, const float *dy, float *const *g)
{
    float *r = fnew(c->d[0]), *wh = fnew(c->len[0]);
    ggdm_ws_forward(wh, r, in[0], c->d[0], c->d[1]);
    ggdm_ws_backward(g[0], dy, wh, r, c->d[0], c->d[1]);
    free(r);
    free(wh);
}

static lcase ws_case(int Cout, int fan, float lo, float hi)
{
    lcase c;
    memset(&c, 0, sizeof c);
    c.name = "weight std";
    c.nin = 1;
    c.in_name[0] = "w";
    c.len[0] = (long)Cout * fan;
    c.lo[0] = lo;
    c.hi[0] = hi;
    c.d[0] = Cout;
    c.d[1] = fan;
    c.nout = c.len[0];
    c.f32 = ws_f32;
    c.f64 = ws_f64;
    c.b32 = ws_b32;
    return c;
}

/* --- weight-standardised conv, as in every Block: conv(x, ws(w)) + b; as Conv1d */

static void wsconv_f32(const lcase *c, float *const *in, float *y)
{
    const int *d = c->d;
    float *r = fnew(d[3]), *wh = fnew(c->len[1]);
    ggdm_ws_forward(wh, r, in[1], d[3], d[1] * d[4]);
    ggdm_conv1d_forward(y, in[0], wh, in[2], d[0], d[1], d[2], d[3], d[4], d[5], d[6]);
    free(r);
    free(wh);
}

static void wsconv_f64(const lcase *c, double *const *in, double *y)
{
    double *wh = dnew(c->len[1]);
    ws_f64_raw(wh, in[1], c->d[3], c->d[1] * c->d[4]);
    conv_f64_raw(y, in[0], wh, in[2], c->d);
    free(wh);
}

static void wsconv_b32(const lcase *c, float *const *in, const float *dy, float *const *g)
{
    const int *d = c->d;
    float *r = fnew(d[3]), *wh = fnew(c->len[1]), *dwh = g[1] ? fnew(c->len[1]) : NULL;
    ggdm_ws_forward(wh, r, in[1], d[3], d[1] * d[4]);
    ggdm_conv1d_backward(g[0], dwh, g[2], dy, in[0], wh, d[0], d[1], d[2], d[3], d[4], d[5], d[6]);
    if (dwh)
        ggdm_ws_backward(g[1], dwh, wh, r, d[3], d[1] * d[4]);
    free(r);
    free(wh);
    free(dwh);
}

static lcase wsconv_case(int N, int Cin, int Lin, int Cout, int K, int s, int pad)
{
    lcase c = conv_case(N, Cin, Lin, Cout, K, s, pad, 1);
    c.name = "ws-conv1d";
    c.f32 = wsconv_f32;
    c.f64 = wsconv_f64;
    c.b32 = wsconv_b32;
    return c;
}

/* --- Linear: d = {N, In, Out}; inputs x, W, b */

static void linear_f32(const lcase *c, float *const *in, float *y)
{
    ggdm_linear_forward(y, in[0], in[1], in[2], c->d[0], c->d[1], c->d[2]);
}

static void linear_f64(const lcase *c, double *const *in, double *y)
{
    int N = c->d[0], In = c->d[1], Out = c->d[2], n, o, i;
    for (n = 0; n < N; n++)
        for (o = 0; o < Out; o++) {
            double acc = in[2][o];
            for (i = 0; i < In; i++)
                acc += in[1][o * In + i] * in[0][n * In + i];
            y[n * Out + o] = acc;
        }
}

static void linear_b32(const lcase *c, float *const *in, const float *dy, float *const *g)
{
    ggdm_linear_backward(g[0], g[1], g[2], dy, in[0], in[1], c->d[0], c->d[1], c->d[2]);
}

static lcase linear_case(int N, int In, int Out)
{
    lcase c;
    memset(&c, 0, sizeof c);
    c.name = "linear";
    c.nin = 3;
    c.in_name[0] = "x";
    c.in_name[1] = "W";
    c.in_name[2] = "b";
    c.len[0] = (long)N * In;
    c.len[1] = (long)Out * In;
    c.len[2] = Out;
    c.lo[0] = c.lo[1] = c.lo[2] = -1.0f;
    c.hi[0] = c.hi[1] = c.hi[2] = 1.0f;
    c.d[0] = N; c.d[1] = In; c.d[2] = Out;
    c.nout = (long)N * Out;
    c.f32 = linear_f32;
    c.f64 = linear_f64;
    c.b32 = linear_b32;
    return c;
}

/* --- GroupNorm: d = {N, C, L, G}; inputs x, (gamma, beta) */

static void gn_f32(const lcase *c, float *const *in, float *y)
{
    const int *d = c->d;
    float *m = fnew((long)d[0] * d[3]), *r = fnew((long)d[0] * d[3]);
    ggdm_groupnorm_forward(y, m, r, in[0], c->nin > 1 ? in[1] : NULL, c->nin > 1 ? in[2] : NULL, d[0], d[1],
                           d[2], d[3]);
    free(m);
    free(r);
}

static void gn_f64(const lcase *c, double *const *in, double *y)
{
    int N = c->d[0], C = c->d[1], L = c->d[2], G = c->d[3], Cg = C / G, n, g, j;
    long M = (long)Cg * L;
    for (n = 0; n < N; n++)
        for (g = 0; g < G; g++) {
            const double *x = in[0] + ((long)n * C + g * Cg) * L;
            double *yy = y + ((long)n * C + g * Cg) * L;
            double m = 0.0, v = 0.0;
            for (j = 0; j < M; j++)
                m += x[j];
            m /= (double)M;
            for (j = 0; j < M; j++)
                v += (x[j] - m) * (x[j] - m);
            v /= (double)M;
            for (j = 0; j < M; j++) {
                int ch = g * Cg + j / L;
                double t = (x[j] - m) / sqrt(v + 1e-5);
                yy[j] = c->nin > 1 ? t * in[1][ch] + in[2][ch] : t;
            }
        }
}

static void gn_b32(const lcase *c, float *const *in, const float *dy, float *const *g)
{
    const int *d = c->d;
    float *m = fnew((long)d[0] * d[3]), *r = fnew((long)d[0] * d[3]), *y = fnew(c->nout);
    const float *gamma = c->nin > 1 ? in[1] : NULL;
    ggdm_groupnorm_forward(y, m, r, in[0], gamma, c->nin > 1 ? in[2] : NULL, d[0], d[1], d[2], d[3]);
    ggdm_groupnorm_backward(g[0], c->nin > 1 ? g[1] : NULL, c->nin > 1 ? g[2] : NULL, dy, in[0], m, r, gamma,
                            d[0], d[1], d[2], d[3]);
    free(m);
    free(r);
    free(y);
}

static lcase gn_case(int N, int C, int L, int G, int affine)
{
    lcase c;
    memset(&c, 0, sizeof c);
    c.name = affine ? "groupnorm" : "groupnorm (no affine)";
    c.nin = affine ? 3 : 1;
    c.in_name[0] = "x";
    c.in_name[1] = "gamma";
    c.in_name[2] = "beta";
    c.len[0] = (long)N * C * L;
    c.len[1] = c.len[2] = C;
    c.lo[0] = -2.0f; c.hi[0] = 2.0f;
    c.lo[1] = 0.5f;  c.hi[1] = 1.5f;
    c.lo[2] = -1.0f; c.hi[2] = 1.0f;
    c.d[0] = N; c.d[1] = C; c.d[2] = L; c.d[3] = G;
    c.nout = c.len[0];
    c.f32 = gn_f32;
    c.f64 = gn_f64;
    c.b32 = gn_b32;
    return c;
}

/* --- ChannelNorm: d = {N, C, L}; inputs x, g */

static void cn_f32(const lcase *c, float *const *in, float *y)
{
    float *m = fnew((long)c->d[0] * c->d[2]), *r = fnew((long)c->d[0] * c->d[2]);
    ggdm_chnorm_forward(y, m, r, in[0], in[1], c->d[0], c->d[1], c->d[2]);
    free(m);
    free(r);
}

static void cn_f64(const lcase *c, double *const *in, double *y)
{
    int N = c->d[0], C = c->d[1], L = c->d[2], n, ch, l;
    for (n = 0; n < N; n++)
        for (l = 0; l < L; l++) {
            const double *x = in[0] + (long)n * C * L + l;
            double m = 0.0, v = 0.0;
            for (ch = 0; ch < C; ch++)
                m += x[(long)ch * L];
            m /= C;
            for (ch = 0; ch < C; ch++)
                v += (x[(long)ch * L] - m) * (x[(long)ch * L] - m);
            v /= C;
            for (ch = 0; ch < C; ch++)
                y[(long)n * C * L + (long)ch * L + l] = (x[(long)ch * L] - m) / sqrt(v + 1e-5) * in[1][ch];
        }
}

static void cn_b32(const lcase *c, float *const *in, const float *dy, float *const *g)
{
    float *m = fnew((long)c->d[0] * c->d[2]), *r = fnew((long)c->d[0] * c->d[2]), *y = fnew(c->nout);
    ggdm_chnorm_forward(y, m, r, in[0], in[1], c->d[0], c->d[1], c->d[2]);
    ggdm_chnorm_backward(g[0], g[1], dy, in[0], m, r, in[1], c->d[0], c->d[1], c->d[2]);
    free(m);
    free(r);
    free(y);
}

static lcase cn_case(int N, int C, int L)
{
    lcase c;
    memset(&c, 0, sizeof c);
    c.name = "chnorm";
    c.nin = 2;
    c.in_name[0] = "x";
    c.in_name[1] = "g";
    c.len[0] = (long)N * C * L;
    c.len[1] = C;
    c.lo[0] = -2.0f; c.hi[0] = 2.0f;
    c.lo[1] = 0.5f;  c.hi[1] = 1.5f;
    c.d[0] = N; c.d[1] = C; c.d[2] = L;
    c.nout = c.len[0];
    c.f32 = cn_f32;
    c.f64 = cn_f64;
    c.b32 = cn_b32;
    return c;
}

/* --- SiLU / GELU: d = {n}; input x */

static void silu_f32(const lcase *c, float *const *in, float *y) { ggdm_silu_forward(y, in[0], c->nout); }
static void gelu_f32(const lcase *c, float *const *in, float *y) { ggdm_gelu_forward(y, in[0], c->nout); }

static void silu_f64(const lcase *c, double *const *in, double *y)
{
    long i;
    for (i = 0; i < c->nout; i++)
        y[i] = in[0][i] / (1.0 + exp(-in[0][i]));
}

static void gelu_f64(const lcase *c, double *const *in, double *y)
{
    long i;
    for (i = 0; i < c->nout; i++)
        y[i] = 0.5 * in[0][i] * (1.0 + erf(in[0][i] / sqrt(2.0)));
}

static void silu_b32(const lcase *c, float *const *in, const float *dy, float *const *g)
{
    ggdm_silu_backward(g[0], dy, in[0], c->nout);
}

static void gelu_b32(const lcase *c, float *const *in, const float *dy, float *const *g)
{
    ggdm_gelu_backward(g[0], dy, in[0], c->nout);
}

static lcase act_case(int gelu, long n, float lo, float hi)
{
    lcase c;
    memset(&c, 0, sizeof c);
    c.name = gelu ? "gelu" : "silu";
    c.nin = 1;
    c.in_name[0] = "x";
    c.len[0] = n;
    c.lo[0] = lo;
    c.hi[0] = hi;
    c.nout = n;
    c.f32 = gelu ? gelu_f32 : silu_f32;
    c.f64 = gelu ? gelu_f64 : silu_f64;
    c.b32 = gelu ? gelu_b32 : silu_b32;
    return c;
}

/* --- FiLM: d = {N, C, L}; inputs x, ss */

static void ss_f32(const lcase *c, float *const *in, float *y)
{
    ggdm_scale_shift_forward(y, in[0], in[1], c->d[0], c->d[1], c->d[2]);
}

static void ss_f64(const lcase *c, double *const *in, double *y)
{
    int N = c->d[0], C = c->d[1], L = c->d[2], n, ch, l;
    for (n = 0; n < N; n++)
        for (ch = 0; ch < C; ch++)
            for (l = 0; l < L; l++) {
                long at = ((long)n * C + ch) * L + l;
                y[at] = in[0][at] * (in[1][n * 2 * C + ch] + 1.0) + in[1][n * 2 * C + C + ch];
            }
}

static void ss_b32(const lcase *c, float *const *in, const float *dy, float *const *g)
{
    ggdm_scale_shift_backward(g[0], g[1], dy, in[0], in[1], c->d[0], c->d[1], c->d[2]);
}

static lcase ss_case(int N, int C, int L)
{
    lcase c;
    memset(&c, 0, sizeof c);
    c.name = "scale_shift";
    c.nin = 2;
    c.in_name[0] = "x";
    c.in_name[1] = "ss";
    c.len[0] = (long)N * C * L;
    c.len[1] = (long)N * 2 * C;
    c.lo[0] = c.lo[1] = -1.0f;
    c.hi[0] = c.hi[1] = 1.0f;
    c.d[0] = N; c.d[1] = C; c.d[2] = L;
    c.nout = c.len[0];
    c.f32 = ss_f32;
    c.f64 = ss_f64;
    c.b32 = ss_b32;
    return c;
}

/* --- upsampling: d = {N, C, L}; input x */

static void up_f32(const lcase *c, float *const *in, float *y)
{
    ggdm_upsample2_forward(y, in[0], c->d[0], c->d[1], c->d[2]);
}

static void up_f64(const lcase *c, double *const *in, double *y)
{
    long r, l, L = c->d[2];
    for (r = 0; r < (long)c->d[0] * c->d[1]; r++)
        for (l = 0; l < L; l++)
            y[r * 2 * L + 2 * l] = y[r * 2 * L + 2 * l + 1] = in[0][r * L + l];
}

static void up_b32(const lcase *c, float *const *in, const float *dy, float *const *g)
{
    (void)in;
    ggdm_upsample2_backward(g[0], dy, c->d[0], c->d[1], c->d[2]);
}

static lcase up_case(int N, int C, int L)
{
    lcase c;
    memset(&c, 0, sizeof c);
    c.name = "upsample2";
    c.nin = 1;
    c.in_name[0] = "x";
    c.len[0] = (long)N * C * L;
    c.lo[0] = -1.0f;
    c.hi[0] = 1.0f;
    c.d[0] = N; c.d[1] = C; c.d[2] = L;
    c.nout = 2 * c.len[0];
    c.f32 = up_f32;
    c.f64 = up_f64;
    c.b32 = up_b32;
    return c;
}

/* ------------------------------------------------------------------ generic checks */

typedef struct worst {
    const char *name;
    int configs;
    double fwd;
    double grad[MAXIN];
    const char *in_name[MAXIN];
    int nin;
} worst;

static void worst_print(const worst *w)
{
    int j;
    printf("layers: %-22s %3d configs  forward vs f64 %.2e", w->name, w->configs, w->fwd);
    for (j = 0; j < w->nin; j++)
        printf("  d%s vs FD %.2e", w->in_name[j], w->grad[j]);
    printf("\n");
}

typedef struct inputs {
    float *f[MAXIN];
    double *d[MAXIN];
} inputs;

static void inputs_new(const lcase *c, inputs *in)
{
    int j;
    long e;
    memset(in, 0, sizeof *in);
    for (j = 0; j < MAXIN; j++) {
        if (j >= c->nin)
            continue;
        in->f[j] = fnew(c->len[j]);
        in->d[j] = dnew(c->len[j]);
        fill(in->f[j], c->len[j], c->lo[j], c->hi[j]);
        for (e = 0; e < c->len[j]; e++)
            in->d[j][e] = in->f[j][e];
    }
}

static void inputs_free(inputs *in)
{
    int j;
    for (j = 0; j < MAXIN; j++) {
        free(in->f[j]);
        free(in->d[j]);
    }
}

static double loss64(const lcase *c, double *const *in, const double *r, double *y)
{
    double s = 0.0;
    long i;
    c->f64(c, in, y);
    for (i = 0; i < c->nout; i++)
        s += r[i] * y[i];
    return s;
}

/* Forward vs float64 and backward vs central differences; updates the worst errors. */
static void check_fd(const lcase *c, worst *w)
{
    inputs in;
    float *y32 = fnew(c->nout), *r32 = fnew(c->nout), *g[MAXIN] = {NULL, NULL, NULL};
    double *y64 = dnew(c->nout), *r64 = dnew(c->nout), num = 0.0, den = 0.0;
    long i, e;
    int j;

    inputs_new(c, &in);
    fill(r32, c->nout, -1.0f, 1.0f);
    for (i = 0; i < c->nout; i++)
        r64[i] = r32[i];

    c->f32(c, in.f, y32);
    c->f64(c, in.d, y64);
    for (i = 0; i < c->nout; i++) {
        double dd = fabs((double)y32[i] - y64[i]);
        num = dd > num ? dd : num;
        den = fabs(y64[i]) > den ? fabs(y64[i]) : den;
    }
    if (den > 0.0 && num / den > w->fwd)
        w->fwd = num / den;

    for (j = 0; j < c->nin; j++)
        g[j] = fnew(c->len[j]);
    c->b32(c, in.f, r32, g);

    for (j = 0; j < c->nin; j++) {
        double maxd = 0.0, maxfd = 0.0, err;
        for (e = 0; e < c->len[j]; e++) {
            double v = in.d[j][e], h = 1e-5 * (fabs(v) > 1.0 ? fabs(v) : 1.0), lp, lm, fd;
            in.d[j][e] = v + h;
            lp = loss64(c, in.d, r64, y64);
            in.d[j][e] = v - h;
            lm = loss64(c, in.d, r64, y64);
            in.d[j][e] = v;
            fd = (lp - lm) / ((v + h) - (v - h));
            maxd = fabs(g[j][e] - fd) > maxd ? fabs(g[j][e] - fd) : maxd;
            maxfd = fabs(fd) > maxfd ? fabs(fd) : maxfd;
        }
        if (maxfd < c->floor)
            maxfd = c->floor;
        err = maxfd > 1e-12 ? maxd / maxfd : maxd;
        if (err > w->grad[j])
            w->grad[j] = err;
        if (err > 1e-3)
            print_error("%s d=(%d %d %d %d %d %d %d): d%s error %.3e\n", c->name, c->d[0], c->d[1], c->d[2],
                        c->d[3], c->d[4], c->d[5], c->d[6], c->in_name[j], err);
        assert_true(err <= 1e-3);
    }
    assert_true(num <= 1e-5 * den + 1e-30);
    w->configs++;

    for (j = 0; j < c->nin; j++)
        free(g[j]);
    inputs_free(&in);
    free(y32);
    free(r32);
    free(y64);
    free(r64);
}

/*
 * NULL gradient pointers skip exactly their gradient (the others are bit-identical to a
 * full call), and backward adds: twice into zeros gives 2x, into random buffers B gives B + g.
 */
static void check_null_and_add(const lcase *c)
{
    inputs in;
    float *dy = fnew(c->nout), *full[MAXIN] = {NULL, NULL, NULL};
    int j, mask;

    inputs_new(c, &in);
    fill(dy, c->nout, -1.0f, 1.0f);
    for (j = 0; j < c->nin; j++)
        full[j] = fnew(c->len[j]);
    c->b32(c, in.f, dy, full);

    for (mask = 0; mask < (1 << c->nin); mask++) {
        float *g[MAXIN] = {NULL, NULL, NULL};
        for (j = 0; j < c->nin; j++)
            if (mask & (1 << j))
                g[j] = fnew(c->len[j]);
        c->b32(c, in.f, dy, g);
        for (j = 0; j < c->nin; j++)
            if (g[j]) {
                assert_bits_equal(g[j], full[j], c->len[j], c->name);
                free(g[j]);
            }
    }

    {
        float *twice[MAXIN] = {NULL, NULL, NULL}, *buf[MAXIN] = {NULL, NULL, NULL}, *init[MAXIN] = {NULL, NULL, NULL};
        long e;
        for (j = 0; j < c->nin; j++) {
            twice[j] = fnew(c->len[j]);
            buf[j] = fnew(c->len[j]);
            fill(buf[j], c->len[j], -3.0f, 3.0f);
            init[j] = fdup(buf[j], c->len[j]);
        }
        c->b32(c, in.f, dy, twice);
        c->b32(c, in.f, dy, twice);
        c->b32(c, in.f, dy, buf);
        for (j = 0; j < c->nin; j++) {
            for (e = 0; e < c->len[j]; e++) {
                float want2 = 2.0f * full[j][e], wantb = init[j][e] + full[j][e];
                assert_true(ggdm_f32_bits(twice[j][e]) == ggdm_f32_bits(want2) || (twice[j][e] == 0.0f && want2 == 0.0f));
                assert_true(ggdm_f32_bits(buf[j][e]) == ggdm_f32_bits(wantb));
            }
            free(twice[j]);
            free(buf[j]);
            free(init[j]);
        }
    }

    for (j = 0; j < c->nin; j++)
        free(full[j]);
    inputs_free(&in);
    free(dy);
}

static void run_case(lcase c, worst *w)
{
    int j;
    if (!w->name) {
        w->name = c.name;
        w->nin = c.nin;
        for (j = 0; j < c.nin; j++)
            w->in_name[j] = c.in_name[j];
    }
    check_fd(&c, w);
    check_null_and_add(&c);
}

/* ------------------------------------------------------------------ FD sweeps */

static void test_conv_fd(void **state)
{
    static const int Ks[] = {1, 3, 4, 7};
    static const int shapes[][4] = {{1, 1, 9, 1}, {2, 3, 8, 4}, {1, 2, 5, 3}, {2, 3, 11, 2}};
    worst w, wnb;
    int ki, s, pad, sh, quick = ggdm_test_quick();
    (void)state;
    memset(&w, 0, sizeof w);
    memset(&wnb, 0, sizeof wnb);
    for (ki = 0; ki < 4; ki++)
        for (s = 1; s <= 2; s++)
            for (pad = 0; pad <= 3; pad++)
                for (sh = 0; sh < (quick ? 1 : 4); sh++) {
                    const int *d = shapes[(sh + ki + pad) % 4];
                    if (ggdm_conv1d_out_len(d[2], Ks[ki], s, pad) < 1)
                        continue;
                    run_case(conv_case(d[0], d[1], d[2], d[3], Ks[ki], s, pad, 1), &w);
                    if (sh == 0)
                        run_case(conv_case(d[0], d[1], d[2], d[3], Ks[ki], s, pad, 0), &wnb);
                }
    /* wider channels, and an input longer than the library's 256-wide accumulator tile */
    run_case(conv_case(2, 8, 16, 6, 3, 1, 1, 1), &w);
    run_case(conv_case(2, 6, 16, 5, 4, 2, 1, 1), &w);
    if (!quick)
        run_case(conv_case(1, 2, 300, 2, 7, 2, 3, 1), &w);
    worst_print(&w);
    worst_print(&wnb);
    assert_true(w.configs >= 20);
}

static void test_ws_fd(void **state)
{
    worst w, wc;
    int quick = ggdm_test_quick();
    (void)state;
    memset(&w, 0, sizeof w);
    memset(&wc, 0, sizeof wc);
    run_case(ws_case(1, 3, -1.0f, 1.0f), &w);
    run_case(ws_case(3, 9, -1.0f, 1.0f), &w);
    run_case(ws_case(4, 21, -0.2f, 0.2f), &w);
    run_case(ws_case(2, 12, 0.5f, 0.7f), &w); /* small spread: eps matters */
    if (!quick)
        run_case(ws_case(5, 64, -1.0f, 1.0f), &w);
    run_case(wsconv_case(2, 3, 8, 4, 3, 1, 1), &wc);
    run_case(wsconv_case(1, 2, 7, 3, 4, 2, 1), &wc);
    if (!quick)
        run_case(wsconv_case(2, 4, 6, 2, 7, 1, 3), &wc);
    worst_print(&w);
    worst_print(&wc);
    {
        worst w2;
        lcase c = ws_case(3, 2, -1.0f, 1.0f);
        memset(&w2, 0, sizeof w2);
        c.name = "weight std (fan 2)";
        c.floor = 1.0;
        run_case(c, &w2);
        worst_print(&w2);
    }
}

static void test_linear_fd(void **state)
{
    worst w;
    (void)state;
    memset(&w, 0, sizeof w);
    run_case(linear_case(1, 1, 1), &w);
    run_case(linear_case(3, 7, 5), &w);
    run_case(linear_case(2, 16, 3), &w);
    if (!ggdm_test_quick()) {
        run_case(linear_case(4, 9, 12), &w);
        run_case(linear_case(2, 300, 4), &w);
    }
    worst_print(&w);
}

static void test_groupnorm_fd(void **state)
{
    static const int cfg[][4] = {{1, 4, 3, 1}, {2, 4, 3, 2}, {2, 8, 5, 4}, {1, 8, 1, 2}, {2, 4, 8, 4},
                                 {1, 6, 4, 2}, {2, 8, 2, 1}, {1, 16, 3, 4}, {2, 32, 16, 8}};
    worst w, wn;
    int i, n = ggdm_test_quick() ? 3 : 9;
    (void)state;
    memset(&w, 0, sizeof w);
    memset(&wn, 0, sizeof wn);
    for (i = 0; i < n; i++) {
        run_case(gn_case(cfg[i][0], cfg[i][1], cfg[i][2], cfg[i][3], 1), &w);
        if (i < 3)
            run_case(gn_case(cfg[i][0], cfg[i][1], cfg[i][2], cfg[i][3], 0), &wn);
    }
    worst_print(&w);
    worst_print(&wn);
}

static void test_chnorm_fd(void **state)
{
    static const int cfg[][3] = {{1, 3, 1}, {2, 3, 4}, {1, 5, 7}, {2, 8, 3}, {1, 16, 2}, {1, 3, 300}};
    worst w, w2;
    lcase c2 = cn_case(2, 2, 5);
    int i, n = ggdm_test_quick() ? 3 : 6;
    (void)state;
    memset(&w, 0, sizeof w);
    memset(&w2, 0, sizeof w2);
    for (i = 0; i < n; i++)
        run_case(cn_case(cfg[i][0], cfg[i][1], cfg[i][2]), &w);
    c2.name = "chnorm (C = 2)";
    c2.floor = 1.0;
    run_case(c2, &w2);
    worst_print(&w);
    worst_print(&w2);
}

static void test_activations_fd(void **state)
{
    worst ws, wg;
    (void)state;
    memset(&ws, 0, sizeof ws);
    memset(&wg, 0, sizeof wg);
    run_case(act_case(0, 64, -8.0f, 8.0f), &ws);
    run_case(act_case(0, 64, -1.0f, 1.0f), &ws);
    run_case(act_case(1, 64, -6.0f, 6.0f), &wg);
    run_case(act_case(1, 64, -1.0f, 1.0f), &wg);
    worst_print(&ws);
    worst_print(&wg);
}

static void test_film_upsample_fd(void **state)
{
    worst ws, wu;
    (void)state;
    memset(&ws, 0, sizeof ws);
    memset(&wu, 0, sizeof wu);
    run_case(ss_case(1, 1, 1), &ws);
    run_case(ss_case(2, 3, 5), &ws);
    run_case(ss_case(3, 4, 2), &ws);
    run_case(up_case(1, 1, 1), &wu);
    run_case(up_case(2, 3, 4), &wu);
    worst_print(&ws);
    worst_print(&wu);
}

/* The scratch (fast) Conv1d against the plain loops, bit for bit: panel and tile
 * remainders, strides, paddings wider than the kernel, signed zeros (a skipped tap must
 * not turn -0 into +0) and infinities in the weights next to padding taps. */
static void test_conv_fast(void **state)
{
    static const int cfg[][7] = {{2, 16, 8, 16, 3, 1, 1},  {3, 32, 9, 48, 3, 1, 1},  {2, 17, 13, 35, 4, 2, 1},
                                 {1, 1, 64, 64, 7, 1, 3},  {2, 64, 64, 1, 1, 1, 0},  {2, 20, 6, 33, 1, 1, 0},
                                 {1, 16, 5, 16, 7, 1, 5},  {2, 33, 16, 17, 3, 2, 2}, {1, 16, 3, 32, 5, 1, 2},
                                 {2, 48, 10, 16, 4, 2, 1}, {1, 16, 1, 16, 3, 1, 1}};
    int ci, sp;
    (void)state;
    for (ci = 0; ci < (int)(sizeof cfg / sizeof cfg[0]); ci++)
        for (sp = 0; sp < 3; sp++) {
            int N = cfg[ci][0], Cin = cfg[ci][1], Lin = cfg[ci][2], Cout = cfg[ci][3], K = cfg[ci][4],
                s = cfg[ci][5], pad = cfg[ci][6], withb;
            int Lout = ggdm_conv1d_out_len(Lin, K, s, pad);
            long nx = (long)N * Cin * Lin, nw = (long)Cout * Cin * K, ny = (long)N * Cout * Lout, q;
            size_t nsc = ggdm_conv1d_scratch_floats(N, Cin, Lin, Cout, K, s, pad);
            float *x = fnew(nx), *w = fnew(nw), *b = fnew(Cout), *y1 = fnew(ny), *y2 = fnew(ny), *dy = fnew(ny);
            float *sc = fnew((long)nsc + 1);
            float *dx0 = fnew(nx), *dw0 = fnew(nw), *db0 = fnew(Cout), *dx1, *dw1, *db1, *dx2, *dw2, *db2;
            fill(x, nx, -1.0f, 1.0f);
            fill(w, nw, -1.0f, 1.0f);
            fill(b, Cout, -1.0f, 1.0f);
            fill(dy, ny, -1.0f, 1.0f);
            fill(dx0, nx, -1.0f, 1.0f);
            fill(dw0, nw, -1.0f, 1.0f);
            fill(db0, Cout, -1.0f, 1.0f);
            if (sp == 1) { /* zeros of both signs: chains that stay at -0 */
                for (q = 0; q < nx; q++)
                    x[q] = (q % 3) ? -0.0f : x[q];
                for (q = 0; q < ny; q++)
                    dy[q] = (q % 2) ? 0.0f : -0.0f;
                for (q = 0; q < nw; q++)
                    w[q] = (q % 5) ? -w[q] * 0.0f : w[q];
            } else if (sp == 2) { /* an infinite weight on the first and last taps */
                for (q = 0; q < nw; q += K)
                    w[q] = w[q + K - 1] = (q / K) % 2 ? INFINITY : -INFINITY;
            }
            for (withb = 0; withb <= 1; withb++) {
                ggdm_conv1d_forward(y1, x, w, withb ? b : NULL, N, Cin, Lin, Cout, K, s, pad);
                ggdm_conv1d_forward_s(y2, x, w, withb ? b : NULL, N, Cin, Lin, Cout, K, s, pad, sc);
                assert_bits_equal(y1, y2, ny, "fast conv forward");
            }
            dx1 = fdup(dx0, nx); dw1 = fdup(dw0, nw); db1 = fdup(db0, Cout);
            dx2 = fdup(dx0, nx); dw2 = fdup(dw0, nw); db2 = fdup(db0, Cout);
            ggdm_conv1d_backward(dx1, dw1, db1, dy, x, w, N, Cin, Lin, Cout, K, s, pad);
            ggdm_conv1d_backward_s(dx2, dw2, db2, dy, x, w, N, Cin, Lin, Cout, K, s, pad, sc);
            assert_bits_equal(dx1, dx2, nx, "fast conv dx");
            assert_bits_equal(dw1, dw2, nw, "fast conv dw");
            assert_bits_equal(db1, db2, Cout, "fast conv db");
            memcpy(dx2, dx0, (size_t)nx * sizeof *dx2);
            ggdm_conv1d_backward_s(dx2, NULL, NULL, dy, NULL, w, N, Cin, Lin, Cout, K, s, pad, sc);
            assert_bits_equal(dx1, dx2, nx, "fast conv dx only");
            memcpy(dw2, dw0, (size_t)nw * sizeof *dw2);
            ggdm_conv1d_backward_s(NULL, dw2, NULL, dy, x, NULL, N, Cin, Lin, Cout, K, s, pad, sc);
            assert_bits_equal(dw1, dw2, nw, "fast conv dw only");
            free(x); free(w); free(b); free(y1); free(y2); free(dy); free(sc); free(dx0); free(dw0); free(db0);
            free(dx1); free(dw1); free(db1); free(dx2); free(dw2); free(db2);
        }
}

/* ------------------------------------------------------------------ the documented chains, literally */

static void test_conv_literal(void **state)
{
    /* the last shapes cross the library's 256-wide accumulator tiles (Lin, K) */
    static const int cfg[][7] = {{2, 3, 9, 4, 3, 1, 1}, {1, 2, 10, 3, 4, 2, 1}, {2, 2, 7, 2, 7, 2, 3},
                                 {1, 3, 5, 2, 1, 1, 2}, {1, 2, 600, 2, 7, 2, 3}, {1, 1, 270, 2, 260, 1, 0}};
    int ci;
    (void)state;
    for (ci = 0; ci < 6; ci++) {
        int N = cfg[ci][0], Cin = cfg[ci][1], Lin = cfg[ci][2], Cout = cfg[ci][3], K = cfg[ci][4], s = cfg[ci][5],
            pad = cfg[ci][6];
        int Lout = ggdm_conv1d_out_len(Lin, K, s, pad), n, o, i, k, l, p, withb;
        long nx = (long)N * Cin * Lin, nw = (long)Cout * Cin * K, ny = (long)N * Cout * Lout;
        float *x = fnew(nx), *w = fnew(nw), *b = fnew(Cout), *y = fnew(ny), *dy = fnew(ny);
        float *dx0 = fnew(nx), *dw0 = fnew(nw), *db0 = fnew(Cout);
        float *dx1, *dw1, *db1, *dx2, *dw2, *db2;
        assert_int_equal(Lout, (Lin + 2 * pad - K) / s + 1);
        fill(x, nx, -1.0f, 1.0f);
        fill(w, nw, -1.0f, 1.0f);
        fill(b, Cout, -1.0f, 1.0f);
        fill(dy, ny, -1.0f, 1.0f);
        fill(dx0, nx, -1.0f, 1.0f);
        fill(dw0, nw, -1.0f, 1.0f);
        fill(db0, Cout, -1.0f, 1.0f);

        for (withb = 0; withb <= 1; withb++) {
            ggdm_conv1d_forward(y, x, w, withb ? b : NULL, N, Cin, Lin, Cout, K, s, pad);
            for (n = 0; n < N; n++)
                for (o = 0; o < Cout; o++)
                    for (l = 0; l < Lout; l++) {
                        float acc = 0.0f;
                        for (i = 0; i < Cin; i++)
                            for (k = 0; k < K; k++) {
                                p = l * s + k - pad;
                                if (p >= 0 && p < Lin)
                                    acc = fmaf(w[(o * Cin + i) * K + k], x[(n * Cin + i) * Lin + p], acc);
                            }
                        if (withb)
                            acc = acc + b[o];
                        assert_true(ggdm_f32_bits(acc) == ggdm_f32_bits(y[(n * Cout + o) * Lout + l]));
                    }
        }

        dx1 = fdup(dx0, nx); dw1 = fdup(dw0, nw); db1 = fdup(db0, Cout);
        dx2 = fdup(dx0, nx); dw2 = fdup(dw0, nw); db2 = fdup(db0, Cout);
        ggdm_conv1d_backward(dx1, dw1, db1, dy, x, w, N, Cin, Lin, Cout, K, s, pad);
        for (n = 0; n < N; n++)
            for (i = 0; i < Cin; i++)
                for (p = 0; p < Lin; p++) {
                    float acc = 0.0f;
                    for (o = 0; o < Cout; o++)
                        for (k = 0; k < K; k++) {
                            int q = p + pad - k;
                            if (q >= 0 && q % s == 0 && q / s < Lout)
                                acc = fmaf(w[(o * Cin + i) * K + k], dy[(n * Cout + o) * Lout + q / s], acc);
                        }
                    dx2[(n * Cin + i) * Lin + p] = dx2[(n * Cin + i) * Lin + p] + acc;
                }
        for (o = 0; o < Cout; o++) {
            float acc = 0.0f;
            for (i = 0; i < Cin; i++)
                for (k = 0; k < K; k++) {
                    float a = 0.0f;
                    for (n = 0; n < N; n++)
                        for (l = 0; l < Lout; l++) {
                            p = l * s + k - pad;
                            if (p >= 0 && p < Lin)
                                a = fmaf(dy[(n * Cout + o) * Lout + l], x[(n * Cin + i) * Lin + p], a);
                        }
                    dw2[(o * Cin + i) * K + k] = dw2[(o * Cin + i) * K + k] + a;
                }
            for (n = 0; n < N; n++)
                for (l = 0; l < Lout; l++)
                    acc = acc + dy[(n * Cout + o) * Lout + l];
            db2[o] = db2[o] + acc;
        }
        assert_bits_equal(dx1, dx2, nx, "conv dx");
        assert_bits_equal(dw1, dw2, nw, "conv dw");
        assert_bits_equal(db1, db2, Cout, "conv db");

        /* x is read only for dw, w only for dx: NULL there proves the skipped work is skipped */
        memcpy(dx1, dx0, (size_t)nx * sizeof *dx1);
        ggdm_conv1d_backward(dx1, NULL, NULL, dy, NULL, w, N, Cin, Lin, Cout, K, s, pad);
        assert_bits_equal(dx1, dx2, nx, "conv dx only");
        memcpy(dw1, dw0, (size_t)nw * sizeof *dw1);
        memcpy(db1, db0, (size_t)Cout * sizeof *db1);
        ggdm_conv1d_backward(NULL, dw1, db1, dy, x, NULL, N, Cin, Lin, Cout, K, s, pad);
        assert_bits_equal(dw1, dw2, nw, "conv dw only");
        assert_bits_equal(db1, db2, Cout, "conv db only");

        free(x); free(w); free(b); free(y); free(dy); free(dx0); free(dw0); free(db0);
        free(dx1); free(dw1); free(db1); free(dx2); free(dw2); free(db2);
    }
    /* output length: invalid or empty configurations give 0 */
    assert_int_equal(ggdm_conv1d_out_len(64, 4, 2, 1), 32);
    assert_int_equal(ggdm_conv1d_out_len(64, 7, 1, 3), 64);
    assert_int_equal(ggdm_conv1d_out_len(2, 4, 2, 0), 0);
    assert_int_equal(ggdm_conv1d_out_len(1, 3, 2, 0), 0);
    assert_int_equal(ggdm_conv1d_out_len(1, 3, 2, 1), 1);
    assert_int_equal(ggdm_conv1d_out_len(8, 3, 0, 1), 0);
    assert_int_equal(ggdm_conv1d_out_len(8, 0, 1, 1), 0);
    assert_int_equal(ggdm_conv1d_out_len(8, 3, 1, -1), 0);
}

static void test_linear_literal(void **state)
{
    static const int cfg[][3] = {{3, 7, 5}, {2, 300, 4}, {1, 1, 1}};
    int ci;
    (void)state;
    for (ci = 0; ci < 3; ci++) {
        int N = cfg[ci][0], In = cfg[ci][1], Out = cfg[ci][2], n, o, i;
        float *x = fnew((long)N * In), *W = fnew((long)Out * In), *b = fnew(Out), *y = fnew((long)N * Out);
        float *dy = fnew((long)N * Out), *dx1 = fnew((long)N * In), *dW1 = fnew((long)Out * In), *db1 = fnew(Out);
        float *dx2, *dW2, *db2;
        fill(x, (long)N * In, -1.0f, 1.0f);
        fill(W, (long)Out * In, -1.0f, 1.0f);
        fill(b, Out, -1.0f, 1.0f);
        fill(dy, (long)N * Out, -1.0f, 1.0f);
        fill(dx1, (long)N * In, -1.0f, 1.0f);
        fill(dW1, (long)Out * In, -1.0f, 1.0f);
        fill(db1, Out, -1.0f, 1.0f);
        dx2 = fdup(dx1, (long)N * In);
        dW2 = fdup(dW1, (long)Out * In);
        db2 = fdup(db1, Out);
        ggdm_linear_forward(y, x, W, b, N, In, Out);
        for (n = 0; n < N; n++)
            for (o = 0; o < Out; o++) {
                float acc = 0.0f;
                for (i = 0; i < In; i++)
                    acc = fmaf(W[o * In + i], x[n * In + i], acc);
                acc = acc + b[o];
                assert_true(ggdm_f32_bits(acc) == ggdm_f32_bits(y[n * Out + o]));
            }
        ggdm_linear_forward(y, x, W, NULL, N, In, Out);
        assert_true(ggdm_f32_bits(y[0]) == ggdm_f32_bits(ggdm_dot_f32(W, 1, x, 1, In)));

        ggdm_linear_backward(dx1, dW1, db1, dy, x, W, N, In, Out);
        for (n = 0; n < N; n++)
            for (i = 0; i < In; i++) {
                float acc = 0.0f;
                for (o = 0; o < Out; o++)
                    acc = fmaf(W[o * In + i], dy[n * Out + o], acc);
                dx2[n * In + i] = dx2[n * In + i] + acc;
            }
        for (o = 0; o < Out; o++) {
            float ab = 0.0f;
            for (i = 0; i < In; i++) {
                float acc = 0.0f;
                for (n = 0; n < N; n++)
                    acc = fmaf(dy[n * Out + o], x[n * In + i], acc);
                dW2[o * In + i] = dW2[o * In + i] + acc;
            }
            for (n = 0; n < N; n++)
                ab = ab + dy[n * Out + o];
            db2[o] = db2[o] + ab;
        }
        assert_bits_equal(dx1, dx2, (long)N * In, "linear dx");
        assert_bits_equal(dW1, dW2, (long)Out * In, "linear dW");
        assert_bits_equal(db1, db2, Out, "linear db");
        /* x is read only for dW, W only for dx */
        ggdm_linear_backward(dx1, NULL, NULL, dy, NULL, W, N, In, Out);
        ggdm_linear_backward(NULL, dW1, db1, dy, x, NULL, N, In, Out);
        /* a Linear is bit-identical to a Conv1d with K = 1 over L = 1, forward and backward */
        {
            float *yc = fnew((long)N * Out), *dxc = fdup(dx1, (long)N * In), *dWc = fdup(dW1, (long)Out * In),
                  *dbc = fdup(db1, Out);
            ggdm_linear_forward(y, x, W, b, N, In, Out);
            ggdm_conv1d_forward(yc, x, W, b, N, In, 1, Out, 1, 1, 0);
            assert_bits_equal(y, yc, (long)N * Out, "linear as conv");
            ggdm_linear_backward(dx1, dW1, db1, dy, x, W, N, In, Out);
            ggdm_conv1d_backward(dxc, dWc, dbc, dy, x, W, N, In, 1, Out, 1, 1, 0);
            assert_bits_equal(dx1, dxc, (long)N * In, "linear dx as conv");
            assert_bits_equal(dW1, dWc, (long)Out * In, "linear dW as conv");
            assert_bits_equal(db1, dbc, Out, "linear db as conv");
            free(yc); free(dxc); free(dWc); free(dbc);
        }
        free(x); free(W); free(b); free(y); free(dy);
        free(dx1); free(dW1); free(db1); free(dx2); free(dW2); free(db2);
    }
}

static void test_ws_literal(void **state)
{
    enum { COUT = 5, FAN = 3 * 7 };
    float w[COUT * FAN], wh[COUT * FAN], r[COUT], g[COUT * FAN], d1[COUT * FAN], d2[COUT * FAN];
    int o, j;
    (void)state;
    fill(w, COUT * FAN, -1.0f, 1.0f);
    fill(g, COUT * FAN, -1.0f, 1.0f);
    fill(d1, COUT * FAN, -1.0f, 1.0f);
    memcpy(d2, d1, sizeof d1);
    ggdm_ws_forward(wh, r, w, COUT, FAN);
    ggdm_ws_backward(d1, g, wh, r, COUT, FAN);
    for (o = 0; o < COUT; o++) {
        float m, v, rr, s1 = 0.0f, s2 = 0.0f, m1, m2;
        ggdm_mean_var_f32(w + o * FAN, 1, FAN, &m, &v);
        rr = 1.0f / sqrtf(v + 1e-5f);
        assert_true(ggdm_f32_bits(rr) == ggdm_f32_bits(r[o]));
        for (j = 0; j < FAN; j++)
            assert_true(ggdm_f32_bits((w[o * FAN + j] - m) * rr) == ggdm_f32_bits(wh[o * FAN + j]));
        for (j = 0; j < FAN; j++) {
            s1 = s1 + g[o * FAN + j];
            s2 = fmaf(g[o * FAN + j], wh[o * FAN + j], s2);
        }
        m1 = s1 / (float)FAN;
        m2 = s2 / (float)FAN;
        for (j = 0; j < FAN; j++)
            d2[o * FAN + j] = d2[o * FAN + j] + fmaf(-wh[o * FAN + j], m2, g[o * FAN + j] - m1) * rr;
    }
    assert_bits_equal(d1, d2, COUT * FAN, "ws dw");
}

static void test_groupnorm_literal(void **state)
{
    static const int cfg[][4] = {{2, 8, 5, 4}, {1, 6, 3, 3}, {3, 4, 7, 1}};
    int ci, affine;
    (void)state;
    for (ci = 0; ci < 3; ci++)
        for (affine = 0; affine <= 1; affine++) {
            int N = cfg[ci][0], C = cfg[ci][1], L = cfg[ci][2], G = cfg[ci][3], Cg = C / G, n, g, c, l;
            long nx = (long)N * C * L, M = (long)Cg * L;
            float *x = fnew(nx), *y = fnew(nx), *dy = fnew(nx), *gm = fnew(C), *bt = fnew(C);
            float *mean = fnew(N * G), *rstd = fnew(N * G);
            float *dx1 = fnew(nx), *dg1 = fnew(C), *db1 = fnew(C), *dx2, *dg2, *db2;
            const float *gp = affine ? gm : NULL;
            fill(x, nx, -2.0f, 3.0f);
            fill(dy, nx, -1.0f, 1.0f);
            fill(gm, C, 0.5f, 1.5f);
            fill(bt, C, -1.0f, 1.0f);
            fill(dx1, nx, -1.0f, 1.0f);
            fill(dg1, C, -1.0f, 1.0f);
            fill(db1, C, -1.0f, 1.0f);
            dx2 = fdup(dx1, nx);
            dg2 = fdup(dg1, C);
            db2 = fdup(db1, C);
            ggdm_groupnorm_forward(y, mean, rstd, x, gp, affine ? bt : NULL, N, C, L, G);
            ggdm_groupnorm_backward(dx1, dg1, db1, dy, x, mean, rstd, gp, N, C, L, G);
            for (n = 0; n < N; n++)
                for (g = 0; g < G; g++) {
                    const float *xs = x + ((long)n * C + g * Cg) * L, *dys = dy + ((long)n * C + g * Cg) * L;
                    float m, v, r, s1 = 0.0f, s2 = 0.0f, m1, m2;
                    long j;
                    ggdm_mean_var_f32(xs, 1, M, &m, &v);
                    r = 1.0f / sqrtf(v + 1e-5f);
                    assert_true(ggdm_f32_bits(m) == ggdm_f32_bits(mean[n * G + g]));
                    assert_true(ggdm_f32_bits(r) == ggdm_f32_bits(rstd[n * G + g]));
                    for (j = 0; j < M; j++) {
                        c = g * Cg + (int)(j / L);
                        float want = (xs[j] - m) * r;
                        if (affine)
                            want = want * gm[c] + bt[c];
                        assert_true(ggdm_f32_bits(want) == ggdm_f32_bits(y[((long)n * C + g * Cg) * L + j]));
                    }
                    for (j = 0; j < M; j++) {
                        c = g * Cg + (int)(j / L);
                        float dh = affine ? dys[j] * gm[c] : dys[j];
                        s1 = s1 + dh;
                        s2 = fmaf(dh, (xs[j] - m) * r, s2);
                    }
                    m1 = s1 / (float)M;
                    m2 = s2 / (float)M;
                    for (j = 0; j < M; j++) {
                        long at = ((long)n * C + g * Cg) * L + j;
                        float dh, xh;
                        c = g * Cg + (int)(j / L);
                        dh = affine ? dys[j] * gm[c] : dys[j];
                        xh = (xs[j] - m) * r;
                        dx2[at] = dx2[at] + fmaf(-xh, m2, dh - m1) * r;
                    }
                }
            for (c = 0; c < C; c++) {
                float ag = 0.0f, ab = 0.0f;
                for (n = 0; n < N; n++)
                    for (l = 0; l < L; l++) {
                        long at = ((long)n * C + c) * L + l;
                        float xh = (x[at] - mean[n * G + c / Cg]) * rstd[n * G + c / Cg];
                        ag = fmaf(dy[at], xh, ag);
                        ab = ab + dy[at];
                    }
                dg2[c] = dg2[c] + ag;
                db2[c] = db2[c] + ab;
            }
            assert_bits_equal(dx1, dx2, nx, "groupnorm dx");
            assert_bits_equal(dg1, dg2, C, "groupnorm dgamma");
            assert_bits_equal(db1, db2, C, "groupnorm dbeta");
            free(x); free(y); free(dy); free(gm); free(bt); free(mean); free(rstd);
            free(dx1); free(dg1); free(db1); free(dx2); free(dg2); free(db2);
        }
}

static void test_chnorm_literal(void **state)
{
    /* L = 300 crosses the library's 128-wide tile of positions */
    static const int cfg[][3] = {{2, 5, 7}, {1, 3, 300}, {2, 1, 4}};
    int ci;
    (void)state;
    for (ci = 0; ci < 3; ci++) {
        int N = cfg[ci][0], C = cfg[ci][1], L = cfg[ci][2], n, c, l;
        long nx = (long)N * C * L;
        float *x = fnew(nx), *y = fnew(nx), *dy = fnew(nx), *g = fnew(C), *mean = fnew((long)N * L),
              *rstd = fnew((long)N * L), *dx1 = fnew(nx), *dg1 = fnew(C), *dx2, *dg2;
        fill(x, nx, -2.0f, 3.0f);
        fill(dy, nx, -1.0f, 1.0f);
        fill(g, C, 0.5f, 1.5f);
        fill(dx1, nx, -1.0f, 1.0f);
        fill(dg1, C, -1.0f, 1.0f);
        dx2 = fdup(dx1, nx);
        dg2 = fdup(dg1, C);
        ggdm_chnorm_forward(y, mean, rstd, x, g, N, C, L);
        ggdm_chnorm_backward(dx1, dg1, dy, x, mean, rstd, g, N, C, L);
        for (n = 0; n < N; n++)
            for (l = 0; l < L; l++) {
                const float *xs = x + (long)n * C * L + l, *dys = dy + (long)n * C * L + l;
                float m, v, r, s1 = 0.0f, s2 = 0.0f, m1, m2;
                ggdm_mean_var_f32(xs, L, C, &m, &v);
                r = 1.0f / sqrtf(v + 1e-5f);
                assert_true(ggdm_f32_bits(m) == ggdm_f32_bits(mean[(long)n * L + l]));
                assert_true(ggdm_f32_bits(r) == ggdm_f32_bits(rstd[(long)n * L + l]));
                for (c = 0; c < C; c++) {
                    float want = ((xs[(long)c * L] - m) * r) * g[c];
                    float dh = dys[(long)c * L] * g[c];
                    assert_true(ggdm_f32_bits(want) == ggdm_f32_bits(y[(long)n * C * L + (long)c * L + l]));
                    s1 = s1 + dh;
                    s2 = fmaf(dh, (xs[(long)c * L] - m) * r, s2);
                }
                m1 = s1 / (float)C;
                m2 = s2 / (float)C;
                for (c = 0; c < C; c++) {
                    long at = (long)n * C * L + (long)c * L + l;
                    float dh = dy[at] * g[c], xh = (x[at] - m) * r;
                    dx2[at] = dx2[at] + fmaf(-xh, m2, dh - m1) * r;
                }
            }
        for (c = 0; c < C; c++) {
            float acc = 0.0f;
            for (n = 0; n < N; n++)
                for (l = 0; l < L; l++) {
                    long at = (long)n * C * L + (long)c * L + l;
                    acc = fmaf(dy[at], (x[at] - mean[(long)n * L + l]) * rstd[(long)n * L + l], acc);
                }
            dg2[c] = dg2[c] + acc;
        }
        assert_bits_equal(dx1, dx2, nx, "chnorm dx");
        assert_bits_equal(dg1, dg2, C, "chnorm dg");
        free(x); free(y); free(dy); free(g); free(mean); free(rstd); free(dx1); free(dg1); free(dx2); free(dg2);
    }
}

static void test_elementwise_literal(void **state)
{
    enum { N = 2, C = 3, L = 5, M = 257 };
    float x[M], y[M], dy[M], d1[M], d2[M], ss[N * 2 * C], dss1[N * 2 * C], dss2[N * 2 * C];
    float up[2 * M];
    int i, n, c, l;
    (void)state;
    fill(x, M, -10.0f, 10.0f);
    x[0] = 0.0f;
    x[1] = -0.0f;
    x[2] = 100.0f;
    x[3] = -100.0f;
    x[4] = 1e-30f;
    fill(dy, M, -1.0f, 1.0f);
    fill(d1, M, -1.0f, 1.0f);

    /* the scalar definitions */
    for (i = 0; i < M; i++) {
        float v = x[i], s = 1.0f / (1.0f + ggdm_expf(-v));
        float cdf = 0.5f * (1.0f + ggdm_erff(v * 0.70710678118654752f));
        float pdf = ggdm_expf((-0.5f * v) * v) * 0.39894228040143268f;
        assert_true(ggdm_f32_bits(ggdm_silu(v)) == ggdm_f32_bits(v / (1.0f + ggdm_expf(-v))));
        assert_true(ggdm_f32_bits(ggdm_silu_grad(v)) == ggdm_f32_bits(s * (1.0f + v * (1.0f - s))));
        assert_true(ggdm_f32_bits(ggdm_gelu(v)) ==
                    ggdm_f32_bits((0.5f * v) * (1.0f + ggdm_erff(v * 0.70710678118654752f))));
        assert_true(ggdm_f32_bits(ggdm_gelu_grad(v)) == ggdm_f32_bits(fmaf(v, pdf, cdf)));
        assert_false(isnan(ggdm_silu(v)) || isnan(ggdm_silu_grad(v)) || isnan(ggdm_gelu(v)) ||
                     isnan(ggdm_gelu_grad(v)));
    }
    assert_true(ggdm_silu(-100.0f) == 0.0f && ggdm_silu(100.0f) == 100.0f);
    assert_true(ggdm_gelu(-100.0f) == 0.0f && ggdm_gelu(100.0f) == 100.0f);
    assert_true(ggdm_gelu_grad(-100.0f) == 0.0f && ggdm_gelu_grad(100.0f) == 1.0f);
    assert_true(ggdm_silu_grad(100.0f) == 1.0f && ggdm_silu_grad(-100.0f) == 0.0f);

    /* the array forms, including in place */
    ggdm_silu_forward(y, x, M);
    for (i = 0; i < M; i++)
        assert_true(ggdm_f32_bits(y[i]) == ggdm_f32_bits(ggdm_silu(x[i])));
    memcpy(y, x, sizeof x);
    ggdm_gelu_forward(y, y, M);
    for (i = 0; i < M; i++)
        assert_true(ggdm_f32_bits(y[i]) == ggdm_f32_bits(ggdm_gelu(x[i])));
    memcpy(d2, d1, sizeof d1);
    ggdm_silu_backward(d1, dy, x, M);
    for (i = 0; i < M; i++)
        d2[i] = d2[i] + dy[i] * ggdm_silu_grad(x[i]);
    assert_bits_equal(d1, d2, M, "silu dx");
    ggdm_gelu_backward(d1, dy, x, M);
    for (i = 0; i < M; i++)
        d2[i] = d2[i] + dy[i] * ggdm_gelu_grad(x[i]);
    assert_bits_equal(d1, d2, M, "gelu dx");
    ggdm_silu_backward(NULL, dy, x, M);
    ggdm_gelu_backward(NULL, dy, x, M);

    /* FiLM */
    fill(ss, N * 2 * C, -1.0f, 1.0f);
    fill(dss1, N * 2 * C, -1.0f, 1.0f);
    memcpy(dss2, dss1, sizeof dss1);
    fill(d1, N * C * L, -1.0f, 1.0f);
    memcpy(d2, d1, sizeof d1);
    ggdm_scale_shift_forward(y, x, ss, N, C, L);
    ggdm_scale_shift_backward(d1, dss1, dy, x, ss, N, C, L);
    for (n = 0; n < N; n++)
        for (c = 0; c < C; c++) {
            float as = 0.0f, ah = 0.0f, sc = ss[n * 2 * C + c], sh = ss[n * 2 * C + C + c];
            for (l = 0; l < L; l++) {
                int at = (n * C + c) * L + l;
                assert_true(ggdm_f32_bits(y[at]) == ggdm_f32_bits((x[at] * (sc + 1.0f)) + sh));
                d2[at] = d2[at] + dy[at] * (sc + 1.0f);
                as = fmaf(dy[at], x[at], as);
                ah = ah + dy[at];
            }
            dss2[n * 2 * C + c] = dss2[n * 2 * C + c] + as;
            dss2[n * 2 * C + C + c] = dss2[n * 2 * C + C + c] + ah;
        }
    assert_bits_equal(d1, d2, N * C * L, "scale_shift dx");
    assert_bits_equal(dss1, dss2, N * 2 * C, "scale_shift dss");
    /* dss does not need x when NULL, dx does not need x at all */
    ggdm_scale_shift_backward(d1, NULL, dy, NULL, ss, N, C, L);

    /* upsampling */
    ggdm_upsample2_forward(up, x, N, C, L);
    fill(d1, N * C * L, -1.0f, 1.0f);
    memcpy(d2, d1, sizeof d1);
    ggdm_upsample2_backward(d1, dy, N, C, L);
    for (i = 0; i < N * C * L; i++) {
        assert_true(ggdm_f32_bits(up[2 * i]) == ggdm_f32_bits(x[i]));
        assert_true(ggdm_f32_bits(up[2 * i + 1]) == ggdm_f32_bits(x[i]));
        d2[i] = d2[i] + (dy[2 * i] + dy[2 * i + 1]);
    }
    assert_bits_equal(d1, d2, N * C * L, "upsample2 dx");
}

/* Degenerate shapes write nothing and never crash. */
static void test_degenerate(void **state)
{
    float a[16], b[16], m[4], r[4];
    int i;
    (void)state;
    for (i = 0; i < 16; i++)
        a[i] = b[i] = 7.0f;
    ggdm_conv1d_forward(b, a, a, a, 1, 1, 2, 1, 4, 1, 0); /* empty output */
    ggdm_conv1d_backward(b, b, b, a, a, a, 1, 1, 2, 1, 4, 1, 0);
    ggdm_groupnorm_forward(b, m, r, a, a, a, 1, 6, 2, 4); /* C % G != 0 */
    ggdm_groupnorm_backward(b, b, b, a, a, m, r, a, 1, 6, 2, 4);
    ggdm_linear_forward(b, a, a, a, 0, 3, 3);
    ggdm_chnorm_forward(b, m, r, a, a, 1, 0, 4);
    ggdm_ws_forward(b, r, a, 2, 0);
    ggdm_scale_shift_forward(b, a, a, 1, 1, 0);
    ggdm_upsample2_forward(b, a, 0, 1, 1);
    for (i = 0; i < 16; i++)
        assert_true(b[i] == 7.0f);
    /* a group of one value: xhat = 0, y = beta, gradients finite (and dx = 0) */
    {
        float x[2] = {3.0f, -1.0f}, g2[2] = {2.0f, 2.0f}, be[2] = {0.5f, -0.5f}, y[2], dy[2] = {1.0f, 1.0f};
        float dx[2] = {0.0f, 0.0f};
        ggdm_groupnorm_forward(y, m, r, x, g2, be, 1, 2, 1, 2);
        assert_true(y[0] == 0.5f && y[1] == -0.5f);
        ggdm_groupnorm_backward(dx, NULL, NULL, dy, x, m, r, g2, 1, 2, 1, 2);
        assert_true(dx[0] == 0.0f && dx[1] == 0.0f);
    }
}

/* ------------------------------------------------------------------ Conv1d with an executor */

#include "ggdm/exec.h"

/* Test executors: every task once, in reverse order or in a shuffled order (ctx: seed). */
static void exec_reverse(void *ctx, ggdm_task_fn task, void *arg, int ntasks)
{
    int i;
    (void)ctx;
    for (i = ntasks - 1; i >= 0; i--)
        task(arg, i);
}

static void exec_shuffled(void *ctx, ggdm_task_fn task, void *arg, int ntasks)
{
    unsigned s = *(unsigned *)ctx;
    int *ord = malloc((size_t)ntasks * sizeof *ord), i;
    assert_non_null(ord);
    for (i = 0; i < ntasks; i++)
        ord[i] = i;
    for (i = ntasks - 1; i > 0; i--) {
        int r, t;
        s = s * 1664525u + 1013904223u;
        r = (int)((s >> 8) % (unsigned)(i + 1));
        t = ord[i];
        ord[i] = ord[r];
        ord[r] = t;
    }
    *(unsigned *)ctx = s;
    for (i = 0; i < ntasks; i++)
        task(arg, ord[i]);
    free(ord);
}

/* ggdm_conv1d_forward_ex / backward_ex with executors that run the tasks out of order and
 * several thread counts (the task cut) against the plain loops, bit for bit. */
static void test_conv_exec(void **state)
{
    static const int cfg[][7] = {{2, 16, 8, 16, 3, 1, 1},   {3, 32, 9, 48, 3, 1, 1},   {2, 17, 13, 35, 4, 2, 1},
                                 {2, 1, 64, 64, 7, 1, 3},   {2, 64, 64, 1, 1, 1, 0},   {2, 20, 6, 33, 1, 1, 0},
                                 {3, 64, 8, 64, 3, 1, 1},   {2, 48, 10, 16, 4, 2, 1},  {2, 16, 5, 16, 7, 1, 5},
                                 {2, 33, 16, 17, 3, 2, 2},  {4, 32, 32, 64, 4, 2, 1},  {1, 16, 3, 32, 5, 1, 2},
                                 {2, 16, 11, 32, 2, 3, 0},  {5, 40, 7, 24, 3, 1, 1},   {1, 16, 1, 16, 3, 1, 1}};
    static const int threads[] = {2, 3, 7};
    int ci, ei, ti;
    unsigned seed = 12345u;
    (void)state;
    for (ci = 0; ci < (int)(sizeof cfg / sizeof cfg[0]); ci++) {
        int N = cfg[ci][0], Cin = cfg[ci][1], Lin = cfg[ci][2], Cout = cfg[ci][3], K = cfg[ci][4], s = cfg[ci][5],
            pad = cfg[ci][6], sp;
        int Lout = ggdm_conv1d_out_len(Lin, K, s, pad);
        long nx = (long)N * Cin * Lin, nw = (long)Cout * Cin * K, ny = (long)N * Cout * Lout, q;
        size_t nsc = ggdm_conv1d_scratch_floats(N, Cin, Lin, Cout, K, s, pad);
        float *x = fnew(nx), *w = fnew(nw), *b = fnew(Cout), *dy = fnew(ny), *sc = fnew((long)nsc + 1);
        float *y0 = fnew(ny), *y1 = fnew(ny), *y2 = fnew(ny), *dx0 = fnew(nx), *dw0 = fnew(nw), *db0 = fnew(Cout);
        float *dx1 = fnew(nx), *dw1 = fnew(nw), *db1 = fnew(Cout), *dx2 = fnew(nx), *dw2 = fnew(nw),
              *db2 = fnew(Cout);
        assert_true(Lout > 0);
        for (sp = 0; sp < 2; sp++) {
            fill(x, nx, -1.0f, 1.0f);
            fill(w, nw, -1.0f, 1.0f);
            fill(b, Cout, -1.0f, 1.0f);
            fill(dy, ny, -1.0f, 1.0f);
            fill(dx0, nx, -1.0f, 1.0f);
            fill(dw0, nw, -1.0f, 1.0f);
            fill(db0, Cout, -1.0f, 1.0f);
            if (sp == 1) { /* signed zeros (skipped taps must stay skipped) and infinite edge taps */
                for (q = 0; q < nx; q++)
                    x[q] = (q % 3) ? -0.0f : x[q];
                for (q = 0; q < ny; q++)
                    dy[q] = (q % 2) ? 0.0f : -0.0f;
                for (q = 0; q < nw; q += K)
                    w[q] = w[q + K - 1] = (q / K) % 2 ? INFINITY : -INFINITY;
                for (q = 0; q < nx; q += 2)
                    dx0[q] = -0.0f;
            }
            ggdm_conv1d_forward(y1, x, w, b, N, Cin, Lin, Cout, K, s, pad);
            ggdm_conv1d_forward(y0, x, w, NULL, N, Cin, Lin, Cout, K, s, pad);
            memcpy(dx1, dx0, (size_t)nx * sizeof *dx1);
            memcpy(dw1, dw0, (size_t)nw * sizeof *dw1);
            memcpy(db1, db0, (size_t)Cout * sizeof *db1);
            ggdm_conv1d_backward(dx1, dw1, db1, dy, x, w, N, Cin, Lin, Cout, K, s, pad);
            for (ei = 0; ei < 2; ei++)
                for (ti = 0; ti < (int)(sizeof threads / sizeof threads[0]); ti++) {
                    ggdm_exec ex = {0};
                    ex.run = ei == 0 ? exec_reverse : exec_shuffled;
                    ex.ctx = &seed;
                    ex.nthreads = threads[ti];
                    for (q = 0; q <= (long)nsc; q++)
                        sc[q] = NAN;
                    memset(y2, 0xff, (size_t)ny * sizeof *y2);
                    ggdm_conv1d_forward_ex(y2, x, w, b, N, Cin, Lin, Cout, K, s, pad, sc, &ex);
                    assert_memory_equal(y1, y2, (size_t)ny * sizeof *y1);
                    ggdm_conv1d_forward_ex(y2, x, w, NULL, N, Cin, Lin, Cout, K, s, pad, sc, &ex);
                    assert_memory_equal(y0, y2, (size_t)ny * sizeof *y0);
                    memcpy(dx2, dx0, (size_t)nx * sizeof *dx2);
                    memcpy(dw2, dw0, (size_t)nw * sizeof *dw2);
                    memcpy(db2, db0, (size_t)Cout * sizeof *db2);
                    ggdm_conv1d_backward_ex(dx2, dw2, db2, dy, x, w, N, Cin, Lin, Cout, K, s, pad, sc, &ex);
                    assert_memory_equal(dx1, dx2, (size_t)nx * sizeof *dx1);
                    assert_memory_equal(dw1, dw2, (size_t)nw * sizeof *dw1);
                    assert_memory_equal(db1, db2, (size_t)Cout * sizeof *db1);
                    /* one gradient at a time */
                    memcpy(dx2, dx0, (size_t)nx * sizeof *dx2);
                    ggdm_conv1d_backward_ex(dx2, NULL, NULL, dy, NULL, w, N, Cin, Lin, Cout, K, s, pad, sc, &ex);
                    assert_memory_equal(dx1, dx2, (size_t)nx * sizeof *dx1);
                    memcpy(dw2, dw0, (size_t)nw * sizeof *dw2);
                    ggdm_conv1d_backward_ex(NULL, dw2, NULL, dy, x, NULL, N, Cin, Lin, Cout, K, s, pad, sc, &ex);
                    assert_memory_equal(dw1, dw2, (size_t)nw * sizeof *dw1);
                    memcpy(db2, db0, (size_t)Cout * sizeof *db2);
                    ggdm_conv1d_backward_ex(NULL, NULL, db2, dy, NULL, NULL, N, Cin, Lin, Cout, K, s, pad, sc, &ex);
                    assert_memory_equal(db1, db2, (size_t)Cout * sizeof *db1);
                }
            /* the serial _s entry points are the NULL executor */
            memcpy(dx2, dx0, (size_t)nx * sizeof *dx2);
            memcpy(dw2, dw0, (size_t)nw * sizeof *dw2);
            memcpy(db2, db0, (size_t)Cout * sizeof *db2);
            ggdm_conv1d_backward_s(dx2, dw2, db2, dy, x, w, N, Cin, Lin, Cout, K, s, pad, sc);
            assert_memory_equal(dx1, dx2, (size_t)nx * sizeof *dx1);
            assert_memory_equal(dw1, dw2, (size_t)nw * sizeof *dw1);
            assert_memory_equal(db1, db2, (size_t)Cout * sizeof *db1);
        }
        free(x); free(w); free(b); free(dy); free(sc); free(y0); free(y1); free(y2); free(dx0); free(dw0); free(db0);
        free(dx1); free(dw1); free(db1); free(dx2); free(dw2); free(db2);
    }
}

/* The norms' own epsilon (Stable Diffusion's 1e-6 and others): the _eps forms with
 * GGDM_NORM_EPS have the plain forms' bits, and with another eps match float64. */
static void test_norm_eps(void **state)
{
    enum { N = 2, C = 6, L = 5, G = 3 };
    float x[N * C * L], y1[N * C * L], y2[N * C * L], m1[N * L], r1[N * L], m2[N * L], r2[N * L], gm[C], bt[C];
    const float eps = 0.25f;
    double worst = 0;
    int n, c, l, q;
    (void)state;
    fill(x, N * C * L, -0.1f, 0.1f); /* var ~ 3e-3: eps dominates, so a wrong eps shows */
    fill(gm, C, 0.5f, 1.5f);
    fill(bt, C, -1.0f, 1.0f);
    ggdm_groupnorm_forward(y1, m1, r1, x, gm, bt, N, C, L, G);
    ggdm_groupnorm_forward_eps(y2, m2, r2, x, gm, bt, N, C, L, G, GGDM_NORM_EPS);
    assert_memory_equal(y1, y2, sizeof y1);
    assert_memory_equal(r1, r2, N * G * sizeof(float));
    ggdm_groupnorm_forward_eps(y2, m2, r2, x, gm, bt, N, C, L, G, eps);
    for (q = 0; q < N * G; q++) {
        double mu = 0, var = 0;
        int M = C / G * L, i;
        for (i = 0; i < M; i++)
            mu += x[q * M + i];
        mu /= M;
        for (i = 0; i < M; i++)
            var += (x[q * M + i] - mu) * (x[q * M + i] - mu);
        var /= M;
        for (i = 0; i < M; i++) {
            int ch = (q % G) * (C / G) + i / L;
            double ref = (x[q * M + i] - mu) / sqrt(var + eps) * gm[ch] + bt[ch];
            double e = fabs(ref - y2[q * M + i]);
            worst = e > worst ? e : worst;
        }
    }
    ggdm_chnorm_forward(y1, m1, r1, x, gm, N, C, L);
    ggdm_chnorm_forward_eps(y2, m2, r2, x, gm, N, C, L, GGDM_NORM_EPS);
    assert_memory_equal(y1, y2, sizeof y1);
    ggdm_chnorm_forward_eps(y2, m2, r2, x, gm, N, C, L, eps);
    for (n = 0; n < N; n++)
        for (l = 0; l < L; l++) {
            double mu = 0, var = 0;
            for (c = 0; c < C; c++)
                mu += x[(n * C + c) * L + l];
            mu /= C;
            for (c = 0; c < C; c++)
                var += (x[(n * C + c) * L + l] - mu) * (x[(n * C + c) * L + l] - mu);
            var /= C;
            for (c = 0; c < C; c++) {
                double ref = (x[(n * C + c) * L + l] - mu) / sqrt(var + eps) * gm[c];
                double e = fabs(ref - y2[(n * C + c) * L + l]);
                worst = e > worst ? e : worst;
            }
        }
    assert_true(worst < 1e-6);
    /* and eps really changed the result (rstd ~ 2 instead of ~ 18) */
    assert_true(fabsf(r2[0] - r1[0]) > 1.0f);
    print_message("norm eps %.2f: worst |ggdm - float64| = %.3g\n", eps, worst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_literal),       cmocka_unit_test(test_conv_fast),       cmocka_unit_test(test_linear_literal),
        cmocka_unit_test(test_ws_literal),         cmocka_unit_test(test_groupnorm_literal),
        cmocka_unit_test(test_chnorm_literal),     cmocka_unit_test(test_elementwise_literal),
        cmocka_unit_test(test_degenerate),         cmocka_unit_test(test_conv_fd),
        cmocka_unit_test(test_ws_fd),              cmocka_unit_test(test_linear_fd),
        cmocka_unit_test(test_groupnorm_fd),       cmocka_unit_test(test_chnorm_fd),
        cmocka_unit_test(test_activations_fd),     cmocka_unit_test(test_film_upsample_fd),
        cmocka_unit_test(test_conv_exec),          cmocka_unit_test(test_norm_eps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
