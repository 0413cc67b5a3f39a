/* The backends of ggdm/backend.h: the "elem" backend (every layer as a loop over output
 * elements calling the element functions of ggdm/elem.h, as the CUDA exact mode does) gives
 * the CPU backend's bits for every layer operation - random and adversarial inputs, output
 * buffers pre-filled where the operation adds into them, NULL outputs, the network's shapes
 * and odd ones - and for the whole network (forward, backward with parameter gradients,
 * training loss). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ggdm/attention.h"
#include "ggdm/backend.h"
#include "ggdm/diffusion.h"
#include "ggdm/elem.h"
#include "ggdm/exec.h"
#include "ggdm/layers.h"
#include "ggdm/rng.h"
#include "ggdm/schedule.h"
#include "ggdm/unet.h"

#include "op_shim.h"
#include "ggdm_test.h"

/* ------------------------------------------------------------------ data */

static uint64_t rs = 0x9e3779b97f4a7c15u;

static uint32_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (uint32_t)(rs >> 16);
}

static float uni(void) /* [-1, 1) */
{
    return (float)(rnd() & 0xffffff) / 8388608.0f - 1.0f;
}

static float special(void)
{
    static const uint32_t bits[] = {
        0x00000000u, /* +0 */
        0x80000000u, /* -0 */
        0x7f800000u, /* +inf */
        0xff800000u, /* -inf */
        0x7fc00000u, /* NaN */
        0xffc00000u, /* -NaN */
        0x7f7fffffu, /* FLT_MAX */
        0xff7fffffu, /* -FLT_MAX */
        0x00000001u, /* smallest subnormal */
        0x807fffffu, /* largest negative subnormal */
        0x00800000u, /* FLT_MIN */
        0x7149f2cau, /* 1e30 */
        0xf149f2cau, /* -1e30 */
        0x0da24260u, /* 1e-30 */
        0x3f800000u, /* 1 */
        0xbf800000u, /* -1 */
    };
    float f;
    uint32_t u = bits[rnd() % (sizeof bits / sizeof bits[0])];
    memcpy(&f, &u, sizeof f);
    return f;
}

/* mode 0: uniform in (-scale, scale); mode 1: the same with special values at both edges and
 * at ~4% of the positions (and, with probability 1/2, a run of huge or tiny magnitudes);
 * mode 2: no NaN or infinity, but half the values +0 or -0 and some subnormal or tiny ones
 * (sums of zeros, whose signs must come out the same). */
static void fill(float *a, long n, int mode, float scale)
{
    long i;
    for (i = 0; i < n; i++)
        a[i] = uni() * scale;
    if (mode == 2) {
        for (i = 0; i < n; i++) {
            uint32_t r = rnd() % 100;
            if (r < 25)
                a[i] = 0.0f;
            else if (r < 50)
                a[i] = -0.0f;
            else if (r < 60)
                a[i] = a[i] * 1e-40f;
            else if (r < 65)
                a[i] = a[i] * 1e-30f;
        }
        return;
    }
    if (mode && n > 0) {
        int big = rnd() % 2;
        a[0] = special();
        a[n - 1] = special();
        for (i = 0; i < n; i++) {
            uint32_t r = rnd() % 100;
            if (r < 4)
                a[i] = special();
            else if (big && r < 10)
                a[i] = a[i] * (rnd() % 2 ? 1e30f : 1e-30f);
        }
    }
}

static float *buf(long n)
{
    float *p = (float *)malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    assert_non_null(p);
    return p;
}

static float *rbuf(long n, int mode, float scale)
{
    float *p = buf(n);
    fill(p, n, mode, scale);
    return p;
}

static float *dup(const float *a, long n)
{
    float *p = buf(n);
    memcpy(p, a, sizeof(float) * (size_t)(n > 0 ? n : 1));
    return p;
}

static long n_checked, n_nan, n_nan_bits;

/*
 * Same bits, element for element (NULL pointers: nothing to compare), signed zeros and
 * infinities included. A NaN must be a NaN at the same place; its sign and payload are not
 * compared: docs/nn.md leaves them unspecified ("NaN results have unspecified payload and
 * sign"), and the reference's own NaN bits are the compiler's choice (x86 propagates the NaN
 * of the first operand of an instruction, and a compiler may commute a + b or pick any of
 * the three fma forms, vectorised or not), as the CUDA device's are canonical.
 */
static void same(const char *what, const char *shape, const float *a, const float *b, long n)
{
    long i;
    if (!a || !b)
        return;
    for (i = 0; i < n; i++) {
        uint32_t ua, ub;
        memcpy(&ua, &a[i], 4);
        memcpy(&ub, &b[i], 4);
        if (isnan(a[i]) && isnan(b[i])) {
            n_nan++;
            n_nan_bits += ua != ub;
            continue;
        }
        if (ua != ub) {
            fail_msg("%s %s: element %ld differs: cpu %a (0x%08x), elem %a (0x%08x)", what, shape, i, (double)a[i],
                     ua, (double)b[i], ub);
        }
    }
    n_checked += n;
}

static const ggdm_unet_backend *CPU, *ELEM;

static void backends(void)
{
    CPU = ggdm_unet_backend_cpu();
    ELEM = ggdm_unet_backend_elem();
    assert_string_equal(ELEM->name, "elem");
}

/* ------------------------------------------------------------------ Conv1d */

typedef struct {
    int N, Cin, Lin, Cout, K, s, pad;
} conv_shape;

static void conv_case(const conv_shape *c, int mode, int variant)
{
    int Lout = ggdm_conv1d_out_len(c->Lin, c->K, c->s, c->pad);
    long nx = (long)c->N * c->Cin * c->Lin, nw = (long)c->Cout * c->Cin * c->K;
    long ny = (long)c->N * c->Cout * (Lout > 0 ? Lout : 1);
    size_t sf = ggdm_conv1d_scratch_floats(c->N, c->Cin, c->Lin, c->Cout, c->K, c->s, c->pad);
    float *x = rbuf(nx, mode, 2.0f), *w = rbuf(nw, mode, 0.5f), *b = rbuf(c->Cout, mode, 1.0f);
    float *dy = rbuf(ny, mode, 1.0f), *scratch = buf((long)sf + 1);
    float *y0 = rbuf(ny, 0, 9.0f), *y1 = dup(y0, ny);
    float *dx0 = rbuf(nx, mode, 1.0f), *dw0 = rbuf(nw, mode, 1.0f), *db0 = rbuf(c->Cout, mode, 1.0f);
    float *dx1 = dup(dx0, nx), *dw1 = dup(dw0, nw), *db1 = dup(db0, c->Cout);
    const float *bias = variant & 1 ? NULL : b;
    int want_dx = variant != 2, want_dw = variant != 3, want_db = variant != 4;
    char shape[160];
    snprintf(shape, sizeof shape, "N=%d Cin=%d Lin=%d Cout=%d K=%d s=%d pad=%d mode=%d variant=%d", c->N, c->Cin,
             c->Lin, c->Cout, c->K, c->s, c->pad, mode, variant);

    L_conv1d_forward(CPU, y0, x, w, bias, c->N, c->Cin, c->Lin, c->Cout, c->K, c->s, c->pad, scratch, NULL);
    L_conv1d_forward(ELEM, y1, x, w, bias, c->N, c->Cin, c->Lin, c->Cout, c->K, c->s, c->pad, NULL, NULL);
    same("conv1d_forward y", shape, y0, y1, ny);

    /* x only for dw, w only for dx: pass NULL where not needed */
    L_conv1d_backward(CPU, want_dx ? dx0 : NULL, want_dw ? dw0 : NULL, want_db ? db0 : NULL, dy, want_dw ? x : NULL,
                         want_dx ? w : NULL, c->N, c->Cin, c->Lin, c->Cout, c->K, c->s, c->pad, scratch, NULL);
    L_conv1d_backward(ELEM, want_dx ? dx1 : NULL, want_dw ? dw1 : NULL, want_db ? db1 : NULL, dy, want_dw ? x : NULL,
                          want_dx ? w : NULL, c->N, c->Cin, c->Lin, c->Cout, c->K, c->s, c->pad, NULL, NULL);
    same("conv1d_backward dx", shape, dx0, dx1, nx);
    same("conv1d_backward dw", shape, dw0, dw1, nw);
    same("conv1d_backward db", shape, db0, db1, c->Cout);
    free(x), free(w), free(b), free(dy), free(scratch), free(y0), free(y1);
    free(dx0), free(dw0), free(db0), free(dx1), free(dw1), free(db1);
}

static void test_conv1d(void **state)
{
    static const conv_shape shapes[] = {
        {2, 8, 8, 8, 7, 1, 3},     /* init_conv-like, Cin > 1 */
        {2, 1, 64, 16, 7, 1, 3},   /* init_conv: K=7 pad 3, Cin=1 */
        {3, 5, 8, 7, 3, 1, 1},     /* K=3 pad 1 */
        {2, 20, 16, 18, 3, 1, 1},  /* channels past one 16-lane panel, not multiples of 16 */
        {2, 33, 64, 17, 3, 1, 1},  /* L=64 */
        {2, 6, 16, 6, 4, 2, 1},    /* Downsample: K=4 stride 2 pad 1 */
        {1, 17, 64, 19, 4, 2, 1},  /* Downsample at L=64 */
        {2, 9, 9, 5, 4, 2, 1},     /* odd L, stride 2 */
        {2, 24, 8, 40, 1, 1, 0},   /* 1x1 */
        {3, 16, 13, 1, 1, 1, 0},   /* Cout = 1 */
        {1, 12, 11, 1, 3, 1, 1},   /* Cout = 1, K=3 */
        {2, 4, 5, 3, 3, 1, 2},     /* pad > K/2: taps skipped at both ends */
        {1, 3, 3, 2, 7, 1, 3},     /* Lin < K */
        {2, 3, 7, 4, 5, 3, 2},     /* stride 3 */
        {2, 3, 2, 4, 7, 1, 1},     /* empty output: nothing written */
        {0, 3, 8, 4, 3, 1, 1},     /* N = 0 */
    };
    size_t i;
    int mode, variant;
    (void)state;
    backends();
    for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (mode = 0; mode < 3; mode++)
            for (variant = 0; variant < 5; variant++)
                conv_case(&shapes[i], mode, variant);
}

/* ------------------------------------------------------------------ Linear */

static void linear_case(int N, int In, int Out, int mode, int variant)
{
    long nx = (long)N * In, nw = (long)Out * In, ny = (long)N * Out;
    float *x = rbuf(nx, mode, 2.0f), *W = rbuf(nw, mode, 0.5f), *b = rbuf(Out, mode, 1.0f), *dy = rbuf(ny, mode, 1.0f);
    float *y0 = rbuf(ny, 0, 9.0f), *y1 = dup(y0, ny);
    float *dx0 = rbuf(nx, mode, 1.0f), *dW0 = rbuf(nw, mode, 1.0f), *db0 = rbuf(Out, mode, 1.0f);
    float *dx1 = dup(dx0, nx), *dW1 = dup(dW0, nw), *db1 = dup(db0, Out);
    const float *bias = variant & 1 ? NULL : b;
    int want_dx = variant != 2, want_dW = variant != 3, want_db = variant != 4;
    char shape[128];
    snprintf(shape, sizeof shape, "N=%d In=%d Out=%d mode=%d variant=%d", N, In, Out, mode, variant);
    L_linear_forward(CPU, y0, x, W, bias, N, In, Out);
    L_linear_forward(ELEM, y1, x, W, bias, N, In, Out);
    same("linear_forward y", shape, y0, y1, ny);
    L_linear_backward(CPU, want_dx ? dx0 : NULL, want_dW ? dW0 : NULL, want_db ? db0 : NULL, dy, want_dW ? x : NULL,
                         want_dx ? W : NULL, N, In, Out);
    L_linear_backward(ELEM, want_dx ? dx1 : NULL, want_dW ? dW1 : NULL, want_db ? db1 : NULL, dy, want_dW ? x : NULL,
                          want_dx ? W : NULL, N, In, Out);
    same("linear_backward dx", shape, dx0, dx1, nx);
    same("linear_backward dW", shape, dW0, dW1, nw);
    same("linear_backward db", shape, db0, db1, Out);
    free(x), free(W), free(b), free(dy), free(y0), free(y1);
    free(dx0), free(dW0), free(db0), free(dx1), free(dW1), free(db1);
}

static void test_linear(void **state)
{
    static const int shapes[][3] = {{3, 8, 32},   {2, 32, 256}, {2, 256, 32},  {2, 33, 17}, {5, 1, 20},
                                    {2, 300, 40}, {1, 64, 256}, {7, 64, 128}, {2, 5, 1},   {0, 4, 4}};
    size_t i;
    int mode, variant;
    (void)state;
    backends();
    for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (mode = 0; mode < 3; mode++)
            for (variant = 0; variant < 5; variant++)
                linear_case(shapes[i][0], shapes[i][1], shapes[i][2], mode, variant);
}

/* ------------------------------------------------------------------ weight standardisation */

static void test_ws(void **state)
{
    static const int shapes[][2] = {{8, 24}, {7, 15}, {16, 3}, {3, 1000}, {1, 5}, {9, 1}, {17, 48}, {0, 3}};
    size_t i;
    int mode;
    (void)state;
    backends();
    for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (mode = 0; mode < 3; mode++) {
            int Cout = shapes[i][0], fan = shapes[i][1];
            long n = (long)Cout * fan;
            float *w = rbuf(n, mode, 0.3f), *wh0 = rbuf(n, 0, 9.0f), *wh1 = dup(wh0, n);
            float *r0 = rbuf(Cout, 0, 9.0f), *r1 = dup(r0, Cout);
            float *gh = rbuf(n, mode, 1.0f), *dw0 = rbuf(n, mode, 1.0f), *dw1 = dup(dw0, n);
            char shape[64];
            snprintf(shape, sizeof shape, "Cout=%d fan=%d mode=%d", Cout, fan, mode);
            L_ws_forward(CPU, wh0, r0, w, Cout, fan);
            L_ws_forward(ELEM, wh1, r1, w, Cout, fan);
            same("ws_forward w_hat", shape, wh0, wh1, n);
            same("ws_forward rstd", shape, r0, r1, Cout);
            L_ws_backward(CPU, dw0, gh, wh0, r0, Cout, fan);
            L_ws_backward(ELEM, dw1, gh, wh0, r0, Cout, fan);
            same("ws_backward dw", shape, dw0, dw1, n);
            /* arbitrary caches (the backward takes them as given) */
            fill(wh1, n, mode, 2.0f);
            fill(r1, Cout, mode, 3.0f);
            L_ws_backward(CPU, dw0, gh, wh1, r1, Cout, fan);
            L_ws_backward(ELEM, dw1, gh, wh1, r1, Cout, fan);
            same("ws_backward dw (given caches)", shape, dw0, dw1, n);
            L_ws_backward(ELEM, NULL, gh, wh1, r1, Cout, fan); /* nothing wanted */
            free(w), free(wh0), free(wh1), free(r0), free(r1), free(gh), free(dw0), free(dw1);
        }
}

/* ------------------------------------------------------------------ GroupNorm */

static void groupnorm_case(int N, int C, int L, int G, int mode, int variant)
{
    long n = (long)N * C * L, q = (long)N * (G > 0 ? G : 1);
    float *x = rbuf(n, mode, 3.0f), *gamma = rbuf(C, mode, 2.0f), *beta = rbuf(C, mode, 1.0f);
    float *y0 = rbuf(n, 0, 9.0f), *y1 = dup(y0, n), *m0 = rbuf(q, 0, 9.0f), *m1 = dup(m0, q);
    float *r0 = rbuf(q, 0, 9.0f), *r1 = dup(r0, q), *dy = rbuf(n, mode, 1.0f);
    float *dx0 = rbuf(n, mode, 1.0f), *dx1 = dup(dx0, n), *dg0 = rbuf(C, mode, 1.0f), *dg1 = dup(dg0, C);
    float *dbt0 = rbuf(C, mode, 1.0f), *dbt1 = dup(dbt0, C);
    const float *ga = variant & 1 ? NULL : gamma, *be = variant & 2 ? NULL : beta;
    int want_dx = variant != 4, want_dg = variant != 5, want_db = variant != 6;
    char shape[128];
    snprintf(shape, sizeof shape, "N=%d C=%d L=%d G=%d mode=%d variant=%d", N, C, L, G, mode, variant);
    L_groupnorm_forward(CPU, y0, m0, r0, x, ga, be, N, C, L, G);
    L_groupnorm_forward(ELEM, y1, m1, r1, x, ga, be, N, C, L, G);
    same("groupnorm_forward y", shape, y0, y1, n);
    same("groupnorm_forward mean", shape, m0, m1, q);
    same("groupnorm_forward rstd", shape, r0, r1, q);
    L_groupnorm_backward(CPU, want_dx ? dx0 : NULL, want_dg ? dg0 : NULL, want_db ? dbt0 : NULL, dy, x, m0, r0, ga, N,
                            C, L, G);
    L_groupnorm_backward(ELEM, want_dx ? dx1 : NULL, want_dg ? dg1 : NULL, want_db ? dbt1 : NULL, dy, x, m0, r0, ga, N,
                             C, L, G);
    same("groupnorm_backward dx", shape, dx0, dx1, n);
    same("groupnorm_backward dgamma", shape, dg0, dg1, C);
    same("groupnorm_backward dbeta", shape, dbt0, dbt1, C);
    free(x), free(gamma), free(beta), free(y0), free(y1), free(m0), free(m1), free(r0), free(r1), free(dy);
    free(dx0), free(dx1), free(dg0), free(dg1), free(dbt0), free(dbt1);
}

static void test_groupnorm(void **state)
{
    static const int shapes[][4] = {{2, 16, 8, 8},  {3, 12, 9, 1}, {2, 24, 16, 8}, {1, 20, 64, 4}, {9, 8, 5, 8},
                                    {2, 64, 8, 8},  {1, 6, 3, 2},  {2, 10, 7, 5},  {2, 12, 8, 5}, /* C % G */
                                    {2, 8, 0, 2}};
    size_t i;
    int mode, variant;
    (void)state;
    backends();
    for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (mode = 0; mode < 3; mode++)
            for (variant = 0; variant < 7; variant++)
                groupnorm_case(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], mode, variant);
}

/* ------------------------------------------------------------------ ChannelNorm */

static void chnorm_case(int N, int C, int L, int mode, int variant)
{
    long n = (long)N * C * L, q = (long)N * L;
    float *x = rbuf(n, mode, 3.0f), *g = rbuf(C, mode, 2.0f);
    float *y0 = rbuf(n, 0, 9.0f), *y1 = dup(y0, n), *m0 = rbuf(q, 0, 9.0f), *m1 = dup(m0, q);
    float *r0 = rbuf(q, 0, 9.0f), *r1 = dup(r0, q), *dy = rbuf(n, mode, 1.0f);
    float *dx0 = rbuf(n, mode, 1.0f), *dx1 = dup(dx0, n), *dg0 = rbuf(C, mode, 1.0f), *dg1 = dup(dg0, C);
    const float *gg = variant & 1 ? NULL : g;
    int want_dx = variant != 2, want_dg = variant != 3;
    char shape[128];
    snprintf(shape, sizeof shape, "N=%d C=%d L=%d mode=%d variant=%d", N, C, L, mode, variant);
    L_chnorm_forward(CPU, y0, m0, r0, x, gg, N, C, L);
    L_chnorm_forward(ELEM, y1, m1, r1, x, gg, N, C, L);
    same("chnorm_forward y", shape, y0, y1, n);
    same("chnorm_forward mean", shape, m0, m1, q);
    same("chnorm_forward rstd", shape, r0, r1, q);
    L_chnorm_backward(CPU, want_dx ? dx0 : NULL, want_dg ? dg0 : NULL, dy, x, m0, r0, gg, N, C, L);
    L_chnorm_backward(ELEM, want_dx ? dx1 : NULL, want_dg ? dg1 : NULL, dy, x, m0, r0, gg, N, C, L);
    same("chnorm_backward dx", shape, dx0, dx1, n);
    same("chnorm_backward dg", shape, dg0, dg1, C);
    free(x), free(g), free(y0), free(y1), free(m0), free(m1), free(r0), free(r1), free(dy);
    free(dx0), free(dx1), free(dg0), free(dg1);
}

static void test_chnorm(void **state)
{
    static const int shapes[][3] = {{2, 16, 8}, {3, 7, 13}, {1, 40, 64}, {2, 5, 3}, {2, 64, 16}, {1, 1, 9}, {0, 4, 4}};
    size_t i;
    int mode, variant;
    (void)state;
    backends();
    for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (mode = 0; mode < 3; mode++)
            for (variant = 0; variant < 4; variant++)
                chnorm_case(shapes[i][0], shapes[i][1], shapes[i][2], mode, variant);
}

/* ------------------------------------------------------------------ activations */

static void test_activations(void **state)
{
    static const long sizes[] = {1, 63, 64, 65, 200, 1000, 0};
    size_t i;
    int mode, act;
    (void)state;
    backends();
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (mode = 0; mode < 3; mode++)
            for (act = 0; act < 2; act++) {
                long n = sizes[i];
                float *x = rbuf(n, mode, 12.0f), *y0 = rbuf(n, 0, 9.0f), *y1 = dup(y0, n), *dy = rbuf(n, mode, 1.0f);
                float *dx0 = rbuf(n, mode, 1.0f), *dx1 = dup(dx0, n), *xi0 = dup(x, n), *xi1 = dup(x, n);
                char shape[64];
                snprintf(shape, sizeof shape, "n=%ld mode=%d", n, mode);
                if (act == 0) {
                    L_silu_forward(CPU, y0, x, n);
                    L_silu_forward(ELEM, y1, x, n);
                    L_silu_forward(CPU, xi0, xi0, n); /* in place */
                    L_silu_forward(ELEM, xi1, xi1, n);
                    L_silu_backward(CPU, dx0, dy, x, n);
                    L_silu_backward(ELEM, dx1, dy, x, n);
                    L_silu_backward(ELEM, NULL, dy, x, n);
                } else {
                    L_gelu_forward(CPU, y0, x, n);
                    L_gelu_forward(ELEM, y1, x, n);
                    L_gelu_forward(CPU, xi0, xi0, n);
                    L_gelu_forward(ELEM, xi1, xi1, n);
                    L_gelu_backward(CPU, dx0, dy, x, n);
                    L_gelu_backward(ELEM, dx1, dy, x, n);
                    L_gelu_backward(ELEM, NULL, dy, x, n);
                }
                same(act ? "gelu_forward y" : "silu_forward y", shape, y0, y1, n);
                same(act ? "gelu_forward in place" : "silu_forward in place", shape, xi0, xi1, n);
                same(act ? "gelu_backward dx" : "silu_backward dx", shape, dx0, dx1, n);
                free(x), free(y0), free(y1), free(dy), free(dx0), free(dx1), free(xi0), free(xi1);
            }
}

/* ------------------------------------------------------------------ FiLM, upsampling */

static void test_film_upsample(void **state)
{
    static const int shapes[][3] = {{2, 16, 8}, {3, 5, 13}, {1, 64, 64}, {2, 7, 1}, {0, 3, 3}};
    size_t i;
    int mode, variant;
    (void)state;
    backends();
    for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (mode = 0; mode < 3; mode++)
            for (variant = 0; variant < 3; variant++) {
                int N = shapes[i][0], C = shapes[i][1], L = shapes[i][2];
                long n = (long)N * C * L, ns = (long)N * 2 * C;
                float *x = rbuf(n, mode, 3.0f), *ss = rbuf(ns, mode, 1.0f), *dy = rbuf(n, mode, 1.0f);
                float *y0 = rbuf(2 * n, 0, 9.0f), *y1 = dup(y0, 2 * n), *xi0 = dup(x, n), *xi1 = dup(x, n);
                float *dx0 = rbuf(n, mode, 1.0f), *dx1 = dup(dx0, n), *ds0 = rbuf(ns, mode, 1.0f), *ds1 = dup(ds0, ns);
                float *dy2 = rbuf(2 * n, mode, 1.0f);
                int want_dx = variant != 1, want_dss = variant != 2;
                char shape[96];
                snprintf(shape, sizeof shape, "N=%d C=%d L=%d mode=%d variant=%d", N, C, L, mode, variant);
                L_scale_shift_forward(CPU, y0, x, ss, N, C, L);
                L_scale_shift_forward(ELEM, y1, x, ss, N, C, L);
                same("scale_shift_forward y", shape, y0, y1, 2 * n);
                L_scale_shift_forward(CPU, xi0, xi0, ss, N, C, L);
                L_scale_shift_forward(ELEM, xi1, xi1, ss, N, C, L);
                same("scale_shift_forward in place", shape, xi0, xi1, n);
                L_scale_shift_backward(CPU, want_dx ? dx0 : NULL, want_dss ? ds0 : NULL, dy, want_dss ? x : NULL, ss, N,
                                          C, L);
                L_scale_shift_backward(ELEM, want_dx ? dx1 : NULL, want_dss ? ds1 : NULL, dy, want_dss ? x : NULL, ss,
                                           N, C, L);
                same("scale_shift_backward dx", shape, dx0, dx1, n);
                same("scale_shift_backward dss", shape, ds0, ds1, ns);
                L_upsample2_forward(CPU, y0, x, N, C, L);
                L_upsample2_forward(ELEM, y1, x, N, C, L);
                same("upsample2_forward y", shape, y0, y1, 2 * n);
                L_upsample2_backward(CPU, dx0, dy2, N, C, L);
                L_upsample2_backward(ELEM, dx1, dy2, N, C, L);
                same("upsample2_backward dx", shape, dx0, dx1, n);
                free(x), free(ss), free(dy), free(y0), free(y1), free(xi0), free(xi1);
                free(dx0), free(dx1), free(ds0), free(ds1), free(dy2);
            }
}

/* ------------------------------------------------------------------ attention */

static void attn_case(int linear, int N, int H, int Dh, int L, int mode)
{
    long nq = (long)N * 3 * H * Dh * L, no = (long)N * H * Dh * L;
    long nctx = (long)N * H * Dh * Dh, natt = (long)N * H * L * L;
    size_t sf = linear ? ggdm_linattn_backward_scratch_floats(H, Dh, L) : ggdm_attn_ex_scratch_floats(N, H, Dh, L, L, 1);
    float *qkv = rbuf(nq, mode, 4.0f), *dout = rbuf(no, mode, 1.0f), *scratch = buf((long)sf + 1);
    float *o0 = rbuf(no, 0, 9.0f), *o1 = dup(o0, no);
    float *cq0 = rbuf(no, 0, 9.0f), *cq1 = dup(cq0, no), *ck0 = rbuf(no, 0, 9.0f), *ck1 = dup(ck0, no);
    float *cc0 = rbuf(nctx, 0, 9.0f), *cc1 = dup(cc0, nctx), *ca0 = rbuf(natt, 0, 9.0f), *ca1 = dup(ca0, natt);
    float *g0 = rbuf(nq, mode, 1.0f), *g1 = dup(g0, nq);
    char shape[96];
    snprintf(shape, sizeof shape, "N=%d H=%d Dh=%d L=%d mode=%d", N, H, Dh, L, mode);
    if (linear) {
        L_linattn_forward(CPU, o0, cq0, ck0, cc0, qkv, N, H, Dh, L);
        L_linattn_forward(ELEM, o1, cq1, ck1, cc1, qkv, N, H, Dh, L);
        same("linattn_forward out", shape, o0, o1, no);
        same("linattn_forward cache_q", shape, cq0, cq1, no);
        same("linattn_forward cache_k", shape, ck0, ck1, no);
        same("linattn_forward cache_ctx", shape, cc0, cc1, nctx);
        { /* the staged cache_q, cache_k (the CUDA backend's): statistics stored once */
            long i, nqs = ggdm_elem_linattn_forward_qstats_count(N, H, Dh, L);
            long nks = ggdm_elem_linattn_forward_kstats_count(N, H, Dh, L);
            float *qs = buf(2 * nqs + 1), *ks = buf(2 * nks + 1), *q2 = buf(no + 1), *k2 = buf(no + 1);
            assert_int_equal(nqs, N > 0 ? (long)N * H * L : 0);
            assert_int_equal(nks, N > 0 ? (long)N * H * Dh : 0);
            for (i = 0; i < nqs; i++)
                ggdm_elem_linattn_forward_qstats(qs, qkv, N, H, Dh, L, i);
            for (i = 0; i < nks; i++)
                ggdm_elem_linattn_forward_kstats(ks, qkv, N, H, Dh, L, i);
            for (i = 0; i < ggdm_elem_linattn_forward_cache_q_count(N, H, Dh, L); i++) {
                ggdm_elem_linattn_forward_cache_q_staged(q2, qkv, qs, N, H, Dh, L, i);
                ggdm_elem_linattn_forward_cache_k_staged(k2, qkv, ks, N, H, Dh, L, i);
            }
            same("linattn_forward cache_q staged", shape, cq0, q2, no);
            same("linattn_forward cache_k staged", shape, ck0, k2, no);
            free(qs), free(ks), free(q2), free(k2);
        }
        L_linattn_backward(CPU, g0, dout, qkv, cq0, ck0, cc0, N, H, Dh, L, scratch);
        L_linattn_backward(ELEM, g1, dout, qkv, cq0, ck0, cc0, N, H, Dh, L, NULL);
        same("linattn_backward dqkv", shape, g0, g1, nq);
        { /* the staged form (the CUDA backend's): dctx, dks, then dqkv reading them */
            long i, ndc = ggdm_elem_linattn_backward_dctx_count(N, H, Dh, L);
            long nks = ggdm_elem_linattn_backward_dks_count(N, H, Dh, L);
            long nqs = ggdm_elem_linattn_backward_qt_count(N, H, Dh, L);
            long npg = ggdm_elem_linattn_backward_qpg_count(N, H, Dh, L);
            float *dc = buf(ndc + 1), *dk = buf(nks + 1), *g2 = rbuf(nq, 0, 1.0f), *g3 = dup(g2, nq);
            float *qp = buf(no + 1), *qg = buf(no + 1), *qt = buf(nqs + 1);
            assert_int_equal(ndc, N > 0 ? nctx : 0);
            assert_int_equal(nks, N > 0 ? no : 0);
            for (i = 0; i < ndc; i++)
                ggdm_elem_linattn_backward_dctx(dc, dout, cq0, N, H, Dh, L, i);
            for (i = 0; i < nks; i++)
                ggdm_elem_linattn_backward_dks(dk, dc, qkv, N, H, Dh, L, i);
            assert_int_equal(nqs, N > 0 ? (long)N * H * L : 0);
            assert_int_equal(npg, N > 0 ? no : 0);
            for (i = 0; i < npg; i++)
                ggdm_elem_linattn_backward_qpg(qp, qg, dout, qkv, cc0, N, H, Dh, L, i);
            for (i = 0; i < nqs; i++)
                ggdm_elem_linattn_backward_qt(qt, qp, qg, N, H, Dh, L, i);
            for (i = 0; i < ggdm_elem_linattn_backward_dqkv_count(N, H, Dh, L); i++) {
                ggdm_elem_linattn_backward_dqkv(g2, dout, qkv, cq0, ck0, cc0, N, H, Dh, L, i);
                ggdm_elem_linattn_backward_dqkv_staged(g3, ck0, dc, dk, qp, qg, qt, N, H, Dh, L, i);
            }
            same("linattn_backward dqkv staged", shape, g2, g3, nq);
            free(dc), free(dk), free(g2), free(g3), free(qp), free(qg), free(qt);
        }
    } else {
        L_attn_forward(CPU, o0, ca0, qkv, N, H, Dh, L, scratch);
        L_attn_forward(ELEM, o1, ca1, qkv, N, H, Dh, L, NULL);
        same("attn_forward out", shape, o0, o1, no);
        same("attn_forward cache_attn", shape, ca0, ca1, natt);
        L_attn_backward(CPU, g0, dout, qkv, ca0, N, H, Dh, L, scratch);
        L_attn_backward(ELEM, g1, dout, qkv, ca0, N, H, Dh, L, NULL);
        same("attn_backward dqkv", shape, g0, g1, nq);
        { /* the staged form (the CUDA backend's): dsim, then dqkv reading it */
            long i, nds = ggdm_elem_attn_backward_dsim_count(N, H, Dh, L);
            float *ds = buf(nds + 1), *g2 = rbuf(nq, 0, 1.0f), *g3 = dup(g2, nq);
            assert_int_equal(nds, N > 0 ? natt : 0);
            for (i = 0; i < nds; i++)
                ggdm_elem_attn_backward_dsim(ds, dout, qkv, ca0, N, H, Dh, L, i);
            for (i = 0; i < ggdm_elem_attn_backward_dqkv_count(N, H, Dh, L); i++) {
                ggdm_elem_attn_backward_dqkv(g2, dout, qkv, ca0, N, H, Dh, L, i);
                ggdm_elem_attn_backward_dqkv_staged(g3, dout, qkv, ca0, ds, N, H, Dh, L, i);
            }
            same("attn_backward dqkv staged", shape, g2, g3, nq);
            free(ds), free(g2), free(g3);
        }
    }
    free(qkv), free(dout), free(scratch), free(o0), free(o1), free(cq0), free(cq1), free(ck0), free(ck1);
    free(cc0), free(cc1), free(ca0), free(ca1), free(g0), free(g1);
}

static void test_linattn(void **state)
{
    static const int shapes[][4] = {{2, 4, 32, 16}, {1, 4, 32, 8}, {2, 2, 4, 8}, {1, 1, 3, 5},
                                    {2, 3, 5, 9},   {2, 2, 8, 64}, {1, 1, 1, 1}, {0, 2, 4, 4}};
    size_t i;
    int mode;
    (void)state;
    backends();
    for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (mode = 0; mode < 3; mode++)
            attn_case(1, shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], mode);
}

static void test_attn(void **state)
{
    static const int shapes[][4] = {{2, 4, 32, 8}, {1, 4, 32, 16}, {1, 2, 4, 5}, {2, 1, 8, 16},
                                    {2, 3, 5, 9},  {1, 1, 1, 1},   {0, 2, 4, 4}};
    size_t i;
    int mode;
    (void)state;
    backends();
    for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (mode = 0; mode < 3; mode++)
            attn_case(0, shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], mode);
}

/* ------------------------------------------------------------------ time embedding */

static void test_time_embedding(void **state)
{
    static const int shapes[][2] = {{3, 8}, {5, 64}, {2, 4}, {1, 6}, {4, 256}, {2, 5}, {2, 2}, {0, 8}};
    size_t i;
    int mode, k;
    (void)state;
    backends();
    for (i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (mode = 0; mode < 3; mode++) {
            int N = shapes[i][0], dim = shapes[i][1];
            long n = (long)N * dim;
            float *t = rbuf(N, mode, 1.0f), *e0 = rbuf(n, 0, 9.0f), *e1 = dup(e0, n);
            char shape[64];
            for (k = 0; k < N; k++)
                if (!mode || k % 2)
                    t[k] = (float)(rnd() % 1000); /* the network's integer steps */
            if (N > 0)
                t[0] = 0.0f;
            snprintf(shape, sizeof shape, "N=%d dim=%d mode=%d", N, dim, mode);
            L_time_embedding(CPU, e0, t, N, dim);
            L_time_embedding(ELEM, e1, t, N, dim);
            same("time_embedding emb", shape, e0, e1, n);
            free(t), free(e0), free(e1);
        }
}

/* ------------------------------------------------------------------ element-function contract */

/* The counts say "nothing" exactly where the reference writes nothing, and the launch-order
 * table lists every output once. */
#define COUNT_OUT(OP, OUT) n_outputs++;
#define COUNT_OP(OP) GGDM_ELEM_LAUNCHES_##OP(COUNT_OUT)

static void test_contract(void **state)
{
    int n_outputs = 0;
    (void)state;
    GGDM_ELEM_OPS(COUNT_OP)
    assert_int_equal(n_outputs, 40);
    assert_int_equal(ggdm_elem_conv1d_forward_y_count(2, 3, 2, 4, 7, 1, 1), 0);
    assert_int_equal(ggdm_elem_conv1d_backward_dx_count(2, 3, 2, 4, 7, 1, 1), 0);
    assert_int_equal(ggdm_elem_conv1d_forward_y_count(2, 3, 16, 4, 4, 2, 1), 2 * 4 * 8);
    assert_int_equal(ggdm_elem_conv1d_backward_dw_count(2, 3, 16, 4, 4, 2, 1), 4 * 3 * 4);
    assert_int_equal(ggdm_elem_groupnorm_forward_y_count(2, 12, 8, 5), 0);
    assert_int_equal(ggdm_elem_groupnorm_forward_mean_count(2, 12, 8, 4), 8);
    assert_int_equal(ggdm_elem_time_embedding_emb_count(3, 5), 0);
    assert_int_equal(ggdm_elem_time_embedding_emb_count(3, 2), 0);
    assert_int_equal(ggdm_elem_time_embedding_emb_count(3, 8), 24);
    assert_int_equal(ggdm_elem_silu_forward_y_count(-3), 0);
    assert_int_equal(ggdm_elem_scale_shift_backward_dss_count(2, 3, 4), 12);
    assert_int_equal(ggdm_elem_linattn_forward_cache_ctx_count(2, 4, 32, 8), 2 * 4 * 32 * 32);
    assert_int_equal(ggdm_elem_attn_forward_cache_attn_count(2, 4, 32, 8), 2 * 4 * 8 * 8);
    assert_int_equal(ggdm_elem_attn_backward_dqkv_count(2, 4, 32, 0), 0);
    {
        int Lin, K, s, p;
        for (Lin = 0; Lin < 10; Lin++)
            for (K = 0; K < 9; K++)
                for (s = 0; s < 4; s++)
                    for (p = -1; p < 4; p++)
                        assert_int_equal(ggdm_elem_conv1d_out_len(Lin, K, s, p), ggdm_conv1d_out_len(Lin, K, s, p));
    }
}

/* ------------------------------------------------------------------ the whole network */

static void run_serial(void *ctx, ggdm_task_fn task, void *arg, int ntasks)
{
    int i;
    (void)ctx;
    for (i = ntasks - 1; i >= 0; i--)
        task(arg, i);
}

static void net_case(const ggdm_unet_cfg *cfg, int N)
{
    uint64_t np;
    long nd = (long)N * cfg->length, k;
    float *w, *x, *v, *z, *e0, *e1, *g0, *g1, *dp0, *dp1, tab_a[200], tab_b[200], loss0, loss1;
    int64_t *t;
    size_t wsb, wl, wsx;
    void *ws;
    int i, threads;
    ggdm_exec ex;
    assert_int_equal(ggdm_unet_num_params(cfg, &np), GGDM_OK);
    w = buf((long)np), dp0 = rbuf((long)np, 0, 1.0f), dp1 = dup(dp0, (long)np);
    x = buf(nd), v = buf(nd), z = buf(nd), e0 = buf(nd), e1 = buf(nd), g0 = buf(nd), g1 = buf(nd);
    t = (int64_t *)malloc(sizeof(int64_t) * (size_t)N);
    assert_int_equal(ggdm_unet_init(cfg, 99, w, np), GGDM_OK);
    ggdm_rng_fill_normal(7, 1, 0, x, (uint64_t)nd);
    ggdm_rng_fill_normal(7, 2, 0, v, (uint64_t)nd);
    ggdm_rng_fill_normal(7, 3, 0, z, (uint64_t)nd);
    for (i = 0; i < N; i++)
        t[i] = (int64_t)((i * 71 + 3) % 200);
    for (i = 0; i < 200; i++) {
        tab_a[i] = 1.0f - (float)i / 400.0f;
        tab_b[i] = (float)i / 400.0f + 0.01f;
    }
    assert_int_equal(ggdm_unet_workspace_bytes(cfg, N, GGDM_UNET_BACKWARD, &wsb), GGDM_OK);
    assert_int_equal(ggdm_unet_loss_workspace_bytes(cfg, N, &wl), GGDM_OK);
    for (threads = 1; threads <= 3; threads += 2) {
        memset(&ex, 0, sizeof ex);
        ex.unet = ggdm_unet_backend_elem();
        if (threads > 1) { /* an executor: the batch is cut into chunks, each run by the backend */
            ex.run = run_serial;
            ex.nthreads = threads;
        }
        assert_int_equal(ggdm_unet_workspace_bytes_ex(cfg, N, GGDM_UNET_BACKWARD, &ex, &wsx), GGDM_OK);
        wsx = wsx > wl ? wsx : wl;
        ws = malloc(wsx > wsb ? wsx : wsb);
        assert_non_null(ws);

        assert_int_equal(ggdm_unet_forward(cfg, w, N, x, t, e0, ws, wsb, NULL, NULL), GGDM_OK);
        assert_int_equal(ggdm_unet_forward_ex(cfg, w, N, x, t, e1, ws, wsx, NULL, NULL, &ex), GGDM_OK);
        same("unet forward eps", "", e0, e1, nd);

        /* input VJP only (chunks with an executor) */
        assert_int_equal(ggdm_unet_backward(cfg, w, N, x, t, v, e0, g0, NULL, ws, wsb), GGDM_OK);
        memset(e1, 0, sizeof(float) * (size_t)nd);
        assert_int_equal(ggdm_unet_backward_ex(cfg, w, N, x, t, v, e1, g1, NULL, ws, wsx, &ex), GGDM_OK);
        same("unet backward eps", "", e0, e1, nd);
        same("unet backward dx", "", g0, g1, nd);

        /* with parameter gradients, added into non-zero buffers */
        assert_int_equal(ggdm_unet_backward(cfg, w, N, x, t, v, e0, g0, dp0, ws, wsb), GGDM_OK);
        assert_int_equal(ggdm_unet_backward_ex(cfg, w, N, x, t, v, e1, g1, dp1, ws, wsx, &ex), GGDM_OK);
        same("unet backward (dparams) eps", "", e0, e1, nd);
        same("unet backward (dparams) dx", "", g0, g1, nd);
        same("unet backward dparams", "", dp0, dp1, (long)np);

        /* training loss and its parameter gradients */
        for (k = 0; k < (long)np; k++)
            dp0[k] = dp1[k] = 0.0f;
        assert_int_equal(ggdm_unet_loss_grad(cfg, w, N, x, t, z, tab_a, tab_b, 200, &loss0, dp0, ws, wl), GGDM_OK);
        assert_int_equal(ggdm_unet_loss_grad_ex(cfg, w, N, x, t, z, tab_a, tab_b, 200, &loss1, dp1, ws, wsx, &ex),
                         GGDM_OK);
        same("unet loss", "", &loss0, &loss1, 1);
        same("unet loss dparams", "", dp0, dp1, (long)np);
        free(ws);
    }
    free(w), free(dp0), free(dp1), free(x), free(v), free(z), free(e0), free(e1), free(g0), free(g1), free(t);
}

static void test_network(void **state)
{
    ggdm_unet_cfg c;
    (void)state;
    /* the small network of test_unet */
    ggdm_unet_cfg_default(&c);
    c.dim = 8;
    c.n_levels = 2;
    c.dim_mults[0] = 1;
    c.dim_mults[1] = 2;
    c.groups = 2;
    c.length = 8;
    c.heads = 2;
    c.dim_head = 4;
    net_case(&c, 3);
    /* linear attention at three down and three up levels, full attention in the middle */
    ggdm_unet_cfg_default(&c);
    c.dim = 8;
    c.n_levels = 3;
    c.dim_mults[0] = 1;
    c.dim_mults[1] = 2;
    c.dim_mults[2] = 3;
    c.groups = 4;
    c.length = 16;
    c.heads = 3;
    c.dim_head = 5;
    net_case(&c, 2);
    if (!ggdm_test_quick()) {
        /* the paper's head layout (4 x 32) and groups 8 on a narrow network */
        ggdm_unet_cfg_default(&c);
        c.dim = 16;
        c.n_levels = 2;
        c.dim_mults[0] = 1;
        c.dim_mults[1] = 2;
        c.groups = 8;
        c.length = 16;
        net_case(&c, 2);
    }
    printf("test_backend: %ld elements compared, %ld NaN in both (%ld with other NaN bits)\n", n_checked, n_nan,
           n_nan_bits);
}

/* ------------------------------------------------------------------ the parameters' announcements */

/* A backend that records the `changed` argument of every params() call (the CPU backend
 * otherwise): a device backend may skip verifying its copy only when changed < 0. */
static int seen_changed[64], n_seen;

static const float *recording_params(void *ctx, const float *host, uint64_t n, int changed)
{
    if (n_seen < 64)
        seen_changed[n_seen] = changed;
    n_seen++;
    return ggdm_unet_backend_cpu()->params(ctx, host, n, changed);
}

static void test_params_announcements(void **state)
{
    ggdm_unet_backend rec = *ggdm_unet_backend_cpu();
    ggdm_exec ex;
    ggdm_score m;
    ggdm_score_unet mu;
    ggdm_guide_cfg gc;
    uint64_t np;
    float *w, tab[12 * 3], x[2 * 8], g[2 * 8], eo[2 * 8], y[2] = {0.5f, -0.5f};
    size_t wsb;
    void *ws;
    int v, i, T = 3;
    (void)state;
    rec.params = recording_params;
    memset(&ex, 0, sizeof ex);
    ex.nthreads = 1;
    ex.unet = &rec;
    memset(&m, 0, sizeof m);
    ggdm_unet_cfg_default(&mu.cfg);
    mu.cfg.dim = 8;
    mu.cfg.n_levels = 2;
    mu.cfg.dim_mults[0] = 1;
    mu.cfg.dim_mults[1] = 2;
    mu.cfg.groups = 2;
    mu.cfg.length = 8;
    mu.cfg.heads = 2;
    mu.cfg.dim_head = 4;
    assert_int_equal(ggdm_unet_num_params(&mu.cfg, &np), GGDM_OK);
    w = buf((long)np);
    assert_int_equal(ggdm_unet_init(&mu.cfg, 5, w, np), GGDM_OK);
    assert_int_equal(ggdm_score_init_unet(&m, &mu, &mu.cfg, w), GGDM_OK);
    assert_true(ggdm_schedule_count(T) <= sizeof tab / sizeof tab[0]);
    assert_int_equal(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, T, tab, ggdm_schedule_count(T)), GGDM_OK);
    ggdm_rng_fill_normal(3, 1, 0, g, 16);
    for (v = 0; v < 2; v++) { /* unguided (forward calls), G_loss (forward + VJP calls) */
        ggdm_guide_cfg_default(&gc);
        gc.version = v ? GGDM_GUIDE_V2 : GGDM_GUIDE_NONE;
        assert_int_equal(ggdm_sample_workspace_bytes_ex(&m, 2, gc.version, &ex, &wsb), GGDM_OK);
        ws = buf((long)(wsb / sizeof(float)) + 1);
        n_seen = 0;
        assert_int_equal(ggdm_sample_ex(&m, &gc, tab, T, 2, 7, 0, 0, v ? g : NULL, v ? y : NULL, NULL, x, NULL, ws,
                                        wsb, NULL, NULL, &ex),
                         GGDM_OK);
        /* one network call per step: the first verifies (0), the later ones are unchanged (-1) */
        assert_int_equal(n_seen, T);
        assert_int_equal(seen_changed[0], 0);
        for (i = 1; i < T; i++)
            assert_int_equal(seen_changed[i], -1);
        assert_int_equal(ex.params_unchanged, 0); /* the caller's executor is left as it was */
        /* a single guided-eps call never claims the parameters unchanged */
        n_seen = 0;
        assert_int_equal(ggdm_guided_eps_ex(&m, &gc, tab, T, 1, 2, x, v ? g : NULL, v ? y : NULL, eo, NULL, ws, wsb,
                                            &ex),
                         GGDM_OK);
        assert_int_equal(n_seen, 1);
        assert_int_equal(seen_changed[0], 0);
        free(ws);
    }
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract),       cmocka_unit_test(test_conv1d),
        cmocka_unit_test(test_linear),         cmocka_unit_test(test_ws),
        cmocka_unit_test(test_groupnorm),      cmocka_unit_test(test_chnorm),
        cmocka_unit_test(test_activations),    cmocka_unit_test(test_film_upsample),
        cmocka_unit_test(test_time_embedding), cmocka_unit_test(test_linattn),
        cmocka_unit_test(test_attn),           cmocka_unit_test(test_network),
        cmocka_unit_test(test_params_announcements),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
