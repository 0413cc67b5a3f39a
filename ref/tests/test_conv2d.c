/*
 * Conv2d and the 2-D UPSAMPLE (docs/nn.md, "Conv2d"; ggdm/elem/conv2d.h, upsample2d.h):
 *  - the plain loops against the chains written out here (bits) and float64 (values);
 *  - the 1-D case (H = KH = 1) against Conv1d's bits;
 *  - the fast kernels (_ex, every executor and thread count) against the plain loops, bits,
 *    with hostile values (signed zeros, infinite taps at the borders);
 *  - the op's cpu and elem drivers (ggdm/op.h) against each other, and the info's refusals.
 */
#include <math.h>
#include <stdio.h>

#include "ggdm_test.h"

#include "ggdm/elem/conv2d.h"
#include "ggdm/elem/upsample2d.h"
#include "ggdm/exec.h"
#include "ggdm/layers.h"
#include "ggdm/op.h"

static unsigned rng_state = 2463534242u;

static float urand(float lo, float hi)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return lo + (hi - lo) * (float)((rng_state >> 8) * (1.0 / 16777216.0));
}

static float *fnew(long n)
{
    float *p = (float *)malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    assert_non_null(p);
    return p;
}

static void fill(float *p, long n, float lo, float hi)
{
    long i;
    for (i = 0; i < n; i++)
        p[i] = urand(lo, hi);
}

static ggdm_conv2d_dims dims(int N, int C, int H, int W, int Cout, int KH, int KW, int sh, int sw, int ph, int pw)
{
    ggdm_conv2d_dims d;
    d.N = N, d.C = C, d.H = H, d.W = W, d.Cout = Cout, d.KH = KH, d.KW = KW;
    d.sh = sh, d.sw = sw, d.ph = ph, d.pw = pw;
    return d;
}

/* The chains of docs/nn.md written out directly (float), and in float64 (*dbl). */
static void chains(const ggdm_conv2d_dims *d, const float *x, const float *w, const float *b, const float *dy,
                   float *y, float *dx, float *dw, float *db, double *ydbl)
{
    int Ho, Wo, n, o, i, kh, kw, yo, xo, yi, xi;
    assert_true(ggdm_conv2d_out(d, &Ho, &Wo));
    for (n = 0; n < d->N; n++)
        for (o = 0; o < d->Cout; o++)
            for (yo = 0; yo < Ho; yo++)
                for (xo = 0; xo < Wo; xo++) {
                    float acc = 0.0f;
                    double ad = 0;
                    for (i = 0; i < d->C; i++)
                        for (kh = 0; kh < d->KH; kh++)
                            for (kw = 0; kw < d->KW; kw++) {
                                float wv = w[((o * d->C + i) * d->KH + kh) * d->KW + kw], xv;
                                yi = yo * d->sh + kh - d->ph;
                                xi = xo * d->sw + kw - d->pw;
                                if (yi < 0 || yi >= d->H || xi < 0 || xi >= d->W)
                                    continue;
                                xv = x[((n * d->C + i) * d->H + yi) * d->W + xi];
                                acc = fmaf(wv, xv, acc);
                                ad += (double)wv * xv;
                            }
                    y[((n * d->Cout + o) * Ho + yo) * Wo + xo] = b ? acc + b[o] : acc;
                    ydbl[((n * d->Cout + o) * Ho + yo) * Wo + xo] = b ? ad + b[o] : ad;
                }
    for (n = 0; n < d->N; n++)
        for (i = 0; i < d->C; i++)
            for (yi = 0; yi < d->H; yi++)
                for (xi = 0; xi < d->W; xi++) {
                    float acc = 0.0f;
                    for (o = 0; o < d->Cout; o++)
                        for (kh = 0; kh < d->KH; kh++)
                            for (kw = 0; kw < d->KW; kw++) {
                                int ty = yi + d->ph - kh, tx = xi + d->pw - kw;
                                if (ty < 0 || tx < 0 || ty % d->sh || tx % d->sw || ty / d->sh >= Ho ||
                                    tx / d->sw >= Wo)
                                    continue;
                                acc = fmaf(w[((o * d->C + i) * d->KH + kh) * d->KW + kw],
                                           dy[((n * d->Cout + o) * Ho + ty / d->sh) * Wo + tx / d->sw], acc);
                            }
                    dx[((n * d->C + i) * d->H + yi) * d->W + xi] += acc;
                }
    for (o = 0; o < d->Cout; o++) {
        float accb = 0.0f;
        for (i = 0; i < d->C; i++)
            for (kh = 0; kh < d->KH; kh++)
                for (kw = 0; kw < d->KW; kw++) {
                    float acc = 0.0f;
                    for (n = 0; n < d->N; n++)
                        for (yo = 0; yo < Ho; yo++)
                            for (xo = 0; xo < Wo; xo++) {
                                yi = yo * d->sh + kh - d->ph;
                                xi = xo * d->sw + kw - d->pw;
                                if (yi < 0 || yi >= d->H || xi < 0 || xi >= d->W)
                                    continue;
                                acc = fmaf(dy[((n * d->Cout + o) * Ho + yo) * Wo + xo],
                                           x[((n * d->C + i) * d->H + yi) * d->W + xi], acc);
                            }
                    dw[((o * d->C + i) * d->KH + kh) * d->KW + kw] += acc;
                }
        for (n = 0; n < d->N; n++)
            for (yo = 0; yo < Ho * Wo; yo++)
                accb = accb + dy[(n * d->Cout + o) * Ho * Wo + yo];
        db[o] += accb;
    }
}

static const int cfgs[][11] = {
    /* N C H W Cout KH KW sh sw ph pw */
    {2, 3, 5, 7, 4, 3, 3, 1, 1, 1, 1},     {1, 2, 6, 5, 3, 3, 3, 2, 2, 1, 1},     {2, 3, 7, 6, 2, 1, 1, 1, 1, 0, 0},
    {1, 3, 11, 9, 5, 7, 7, 2, 2, 3, 3},    {2, 4, 5, 5, 3, 1, 1, 2, 2, 0, 0},     {1, 2, 4, 9, 3, 2, 3, 1, 2, 0, 1},
    {2, 2, 3, 3, 2, 3, 3, 1, 1, 2, 2},     {1, 2, 5, 4, 2, 5, 1, 3, 1, 1, 0},     {3, 2, 1, 7, 2, 1, 3, 1, 1, 0, 1},
    {1, 3, 1, 6, 2, 1, 3, 2, 1, 2, 1},     {1, 2, 2, 300, 2, 2, 3, 1, 1, 0, 1}};

/* The plain loops and the element functions against the chains (bits) and float64. */
static void test_plain_vs_chains(void **state)
{
    int ci;
    (void)state;
    for (ci = 0; ci < (int)(sizeof cfgs / sizeof cfgs[0]); ci++) {
        const int *c = cfgs[ci];
        ggdm_conv2d_dims d = dims(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]);
        int Ho, Wo, bias;
        long nx, nw, ny, q;
        float *x, *w, *b, *dy, *y0, *y1, *dx0, *dx1, *dx2, *dw0, *dw1, *dw2, *db0, *db1, *db2;
        double *yd, worst = 0;
        assert_true(ggdm_conv2d_out(&d, &Ho, &Wo));
        nx = (long)d.N * d.C * d.H * d.W, nw = (long)d.Cout * d.C * d.KH * d.KW, ny = (long)d.N * d.Cout * Ho * Wo;
        x = fnew(nx), w = fnew(nw), b = fnew(d.Cout), dy = fnew(ny), y0 = fnew(ny), y1 = fnew(ny);
        dx0 = fnew(nx), dx1 = fnew(nx), dx2 = fnew(nx), dw0 = fnew(nw), dw1 = fnew(nw), dw2 = fnew(nw);
        db0 = fnew(d.Cout), db1 = fnew(d.Cout), db2 = fnew(d.Cout);
        yd = (double *)malloc((size_t)ny * sizeof(double));
        assert_non_null(yd);
        fill(x, nx, -1, 1), fill(w, nw, -1, 1), fill(b, d.Cout, -1, 1), fill(dy, ny, -1, 1);
        fill(dx0, nx, -1, 1), fill(dw0, nw, -1, 1), fill(db0, d.Cout, -1, 1);
        for (bias = 0; bias < 2; bias++) {
            const float *bb = bias ? b : NULL;
            memcpy(dx1, dx0, (size_t)nx * 4), memcpy(dw1, dw0, (size_t)nw * 4), memcpy(db1, db0, (size_t)d.Cout * 4);
            memcpy(dx2, dx0, (size_t)nx * 4), memcpy(dw2, dw0, (size_t)nw * 4), memcpy(db2, db0, (size_t)d.Cout * 4);
            chains(&d, x, w, bb, dy, y0, dx1, dw1, db1, yd);
            ggdm_conv2d_forward(y1, x, w, bb, &d);
            assert_memory_equal(y0, y1, (size_t)ny * 4);
            ggdm_conv2d_backward(dx2, dw2, db2, dy, x, w, &d);
            assert_memory_equal(dx1, dx2, (size_t)nx * 4);
            assert_memory_equal(dw1, dw2, (size_t)nw * 4);
            assert_memory_equal(db1, db2, (size_t)d.Cout * 4);
            for (q = 0; q < ny; q++) {
                double e = fabs(yd[q] - y1[q]);
                worst = e > worst ? e : worst;
            }
            assert_true(worst < 1e-5 * (d.C * d.KH * d.KW + 1));
            /* the element functions */
            memset(y1, 0xff, (size_t)ny * 4);
            for (q = 0; q < ggdm_elem_conv2d_forward_y_count(d.N, d.C, d.H, d.W, d.Cout, d.KH, d.KW, d.sh, d.sw, d.ph,
                                                            d.pw);
                 q++)
                ggdm_elem_conv2d_forward_y(y1, x, w, bb, d.N, d.C, d.H, d.W, d.Cout, d.KH, d.KW, d.sh, d.sw, d.ph,
                                           d.pw, q);
            assert_memory_equal(y0, y1, (size_t)ny * 4);
            memcpy(dx2, dx0, (size_t)nx * 4), memcpy(dw2, dw0, (size_t)nw * 4), memcpy(db2, db0, (size_t)d.Cout * 4);
#define ARGS_ dx2, dw2, db2, dy, x, w, d.N, d.C, d.H, d.W, d.Cout, d.KH, d.KW, d.sh, d.sw, d.ph, d.pw
#define SIZES_ d.N, d.C, d.H, d.W, d.Cout, d.KH, d.KW, d.sh, d.sw, d.ph, d.pw
            assert_int_equal(ggdm_elem_conv2d_backward_dx_count(SIZES_), nx);
            assert_int_equal(ggdm_elem_conv2d_backward_dw_count(SIZES_), nw);
            assert_int_equal(ggdm_elem_conv2d_backward_db_count(SIZES_), d.Cout);
            for (q = 0; q < nx; q++)
                ggdm_elem_conv2d_backward_dx(ARGS_, q);
            for (q = 0; q < nw; q++)
                ggdm_elem_conv2d_backward_dw(ARGS_, q);
            for (q = 0; q < d.Cout; q++)
                ggdm_elem_conv2d_backward_db(ARGS_, q);
#undef ARGS_
#undef SIZES_
            assert_memory_equal(dx1, dx2, (size_t)nx * 4);
            assert_memory_equal(dw1, dw2, (size_t)nw * 4);
            assert_memory_equal(db1, db2, (size_t)d.Cout * 4);
        }
        free(x), free(w), free(b), free(dy), free(y0), free(y1), free(dx0), free(dx1), free(dx2);
        free(dw0), free(dw1), free(dw2), free(db0), free(db1), free(db2), free(yd);
    }
}

/* H = KH = 1, ph = 0: Conv1d's bits (the plain loops and the element functions). */
static void test_1d_is_conv1d(void **state)
{
    static const int c1[][6] = {{2, 5, 7, 4, 3, 1}, {3, 4, 9, 5, 4, 2}, {1, 3, 8, 2, 7, 1}, {2, 17, 13, 18, 1, 1}};
    static const int pads[] = {1, 1, 3, 0};
    int ci;
    (void)state;
    for (ci = 0; ci < 4; ci++) {
        int N = c1[ci][0], C = c1[ci][1], L = c1[ci][2], Co = c1[ci][3], K = c1[ci][4], s = c1[ci][5], p = pads[ci];
        ggdm_conv2d_dims d = dims(N, C, 1, L, Co, 1, K, 1 + ci, s, 0, p);
        int Lo = ggdm_conv1d_out_len(L, K, s, p);
        long nx = (long)N * C * L, nw = (long)Co * C * K, ny = (long)N * Co * Lo, q;
        float *x = fnew(nx), *w = fnew(nw), *b = fnew(Co), *dy = fnew(ny), *y1 = fnew(ny), *y2 = fnew(ny);
        float *dx1 = fnew(nx), *dx2 = fnew(nx), *dw1 = fnew(nw), *dw2 = fnew(nw), *db1 = fnew(Co), *db2 = fnew(Co);
        fill(x, nx, -1, 1), fill(w, nw, -1, 1), fill(b, Co, -1, 1), fill(dy, ny, -1, 1);
        fill(dx1, nx, -1, 1), fill(dw1, nw, -1, 1), fill(db1, Co, -1, 1);
        memcpy(dx2, dx1, (size_t)nx * 4), memcpy(dw2, dw1, (size_t)nw * 4), memcpy(db2, db1, (size_t)Co * 4);
        ggdm_conv1d_forward(y1, x, w, b, N, C, L, Co, K, s, p);
        ggdm_conv2d_forward(y2, x, w, b, &d);
        assert_memory_equal(y1, y2, (size_t)ny * 4);
        for (q = 0; q < ny; q++)
            ggdm_elem_conv2d_forward_y(y2, x, w, b, N, C, 1, L, Co, 1, K, 1 + ci, s, 0, p, q);
        assert_memory_equal(y1, y2, (size_t)ny * 4);
        ggdm_conv1d_backward(dx1, dw1, db1, dy, x, w, N, C, L, Co, K, s, p);
        ggdm_conv2d_backward(dx2, dw2, db2, dy, x, w, &d);
        assert_memory_equal(dx1, dx2, (size_t)nx * 4);
        assert_memory_equal(dw1, dw2, (size_t)nw * 4);
        assert_memory_equal(db1, db2, (size_t)Co * 4);
        free(x), free(w), free(b), free(dy), free(y1), free(y2), free(dx1), free(dx2), free(dw1), free(dw2);
        free(db1), free(db2);
    }
}

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
    int *ord = (int *)malloc((size_t)ntasks * sizeof(int)), i;
    assert_non_null(ord);
    for (i = 0; i < ntasks; i++)
        ord[i] = i;
    for (i = ntasks - 1; i > 0; i--) {
        int r, t;
        s = s * 1664525u + 1013904223u;
        r = (int)((s >> 8) % (unsigned)(i + 1));
        t = ord[i], ord[i] = ord[r], ord[r] = t;
    }
    *(unsigned *)ctx = s;
    for (i = 0; i < ntasks; i++)
        task(arg, ord[i]);
    free(ord);
}

/* The fast kernels (_ex) against the plain loops, bit for bit, for every executor. */
static void test_fast_vs_plain(void **state)
{
    static const int cf[][11] = {
        /* N C H W Cout KH KW sh sw ph pw */
        {2, 16, 6, 7, 16, 3, 3, 1, 1, 1, 1},  {1, 32, 9, 8, 48, 3, 3, 2, 2, 1, 1},  {2, 17, 5, 13, 35, 3, 3, 1, 1, 1, 1},
        {1, 3, 12, 11, 32, 7, 7, 2, 2, 3, 3}, {2, 32, 6, 6, 16, 1, 1, 2, 2, 0, 0},  {1, 20, 4, 6, 33, 1, 1, 1, 1, 0, 0},
        {1, 16, 8, 8, 16, 3, 3, 1, 1, 2, 2},  {2, 48, 5, 4, 16, 2, 4, 2, 2, 1, 1},  {1, 16, 3, 5, 16, 5, 7, 1, 1, 3, 5},
        {2, 33, 7, 9, 17, 3, 3, 2, 2, 1, 1},  {1, 16, 4, 3, 32, 3, 5, 3, 1, 2, 2},  {1, 16, 1, 9, 16, 3, 3, 1, 1, 1, 1},
        {1, 32, 16, 16, 32, 3, 3, 1, 1, 1, 1}, {2, 16, 5, 5, 16, 3, 3, 3, 2, 0, 1}, {1, 16, 2, 2, 20, 3, 3, 1, 1, 1, 1}};
    static const int threads[] = {2, 3, 7};
    int ci, ei, ti, sp;
    unsigned seed = 777u;
    (void)state;
    for (ci = 0; ci < (int)(sizeof cf / sizeof cf[0]); ci++) {
        const int *c = cf[ci];
        ggdm_conv2d_dims d = dims(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10]);
        int Ho, Wo;
        long nx, nw, ny, q, K;
        size_t nsc;
        float *x, *w, *b, *dy, *sc, *y0, *y1, *y2, *dx0, *dw0, *db0, *dx1, *dw1, *db1, *dx2, *dw2, *db2;
        assert_true(ggdm_conv2d_out(&d, &Ho, &Wo));
        nx = (long)d.N * d.C * d.H * d.W, nw = (long)d.Cout * d.C * d.KH * d.KW, ny = (long)d.N * d.Cout * Ho * Wo;
        K = (long)d.KH * d.KW;
        nsc = ggdm_conv2d_scratch_floats(&d);
        assert_true(nsc >= (size_t)nw && nsc >= (size_t)ny);
        x = fnew(nx), w = fnew(nw), b = fnew(d.Cout), dy = fnew(ny), sc = fnew((long)nsc + 1);
        y0 = fnew(ny), y1 = fnew(ny), y2 = fnew(ny), dx0 = fnew(nx), dw0 = fnew(nw), db0 = fnew(d.Cout);
        dx1 = fnew(nx), dw1 = fnew(nw), db1 = fnew(d.Cout), dx2 = fnew(nx), dw2 = fnew(nw), db2 = fnew(d.Cout);
        for (sp = 0; sp < 2; sp++) {
            fill(x, nx, -1, 1), fill(w, nw, -1, 1), fill(b, d.Cout, -1, 1), fill(dy, ny, -1, 1);
            fill(dx0, nx, -1, 1), fill(dw0, nw, -1, 1), fill(db0, d.Cout, -1, 1);
            if (sp == 1) { /* signed zeros (skipped taps stay skipped), infinite corner taps */
                for (q = 0; q < nx; q++)
                    x[q] = (q % 3) ? -0.0f : x[q];
                for (q = 0; q < ny; q++)
                    dy[q] = (q % 2) ? 0.0f : -0.0f;
                for (q = 0; q < nw; q += K)
                    w[q] = w[q + K - 1] = (q / K) % 2 ? INFINITY : -INFINITY;
                for (q = 0; q < nx; q += 2)
                    dx0[q] = -0.0f;
            }
            ggdm_conv2d_forward(y1, x, w, b, &d);
            ggdm_conv2d_forward(y0, x, w, NULL, &d);
            memcpy(dx1, dx0, (size_t)nx * 4), memcpy(dw1, dw0, (size_t)nw * 4), memcpy(db1, db0, (size_t)d.Cout * 4);
            ggdm_conv2d_backward(dx1, dw1, db1, dy, x, w, &d);
            for (ei = 0; ei < 3; ei++)
                for (ti = 0; ti < (int)(sizeof threads / sizeof threads[0]); ti++) {
                    ggdm_exec ex = {0};
                    const ggdm_exec *e = ei == 2 ? NULL : &ex;
                    ex.run = ei == 0 ? exec_reverse : exec_shuffled;
                    ex.ctx = &seed;
                    ex.nthreads = threads[ti];
                    for (q = 0; q <= (long)nsc; q++)
                        sc[q] = NAN;
                    memset(y2, 0xff, (size_t)ny * 4);
                    ggdm_conv2d_forward_ex(y2, x, w, b, &d, sc, e);
                    assert_memory_equal(y1, y2, (size_t)ny * 4);
                    ggdm_conv2d_forward_ex(y2, x, w, NULL, &d, sc, e);
                    assert_memory_equal(y0, y2, (size_t)ny * 4);
                    memcpy(dx2, dx0, (size_t)nx * 4), memcpy(dw2, dw0, (size_t)nw * 4);
                    memcpy(db2, db0, (size_t)d.Cout * 4);
                    ggdm_conv2d_backward_ex(dx2, dw2, db2, dy, x, w, &d, sc, e);
                    assert_memory_equal(dx1, dx2, (size_t)nx * 4);
                    assert_memory_equal(dw1, dw2, (size_t)nw * 4);
                    assert_memory_equal(db1, db2, (size_t)d.Cout * 4);
                    memcpy(dx2, dx0, (size_t)nx * 4);
                    ggdm_conv2d_backward_ex(dx2, NULL, NULL, dy, NULL, w, &d, sc, e);
                    assert_memory_equal(dx1, dx2, (size_t)nx * 4);
                    memcpy(dw2, dw0, (size_t)nw * 4);
                    ggdm_conv2d_backward_ex(NULL, dw2, NULL, dy, x, NULL, &d, sc, e);
                    assert_memory_equal(dw1, dw2, (size_t)nw * 4);
                    memcpy(db2, db0, (size_t)d.Cout * 4);
                    ggdm_conv2d_backward_ex(NULL, NULL, db2, dy, NULL, NULL, &d, sc, e);
                    assert_memory_equal(db1, db2, (size_t)d.Cout * 4);
                    if (ei == 2)
                        break;
                }
            /* no scratch: the plain loops */
            ggdm_conv2d_forward_ex(y2, x, w, b, &d, NULL, NULL);
            assert_memory_equal(y1, y2, (size_t)ny * 4);
            memcpy(dx2, dx0, (size_t)nx * 4), memcpy(dw2, dw0, (size_t)nw * 4), memcpy(db2, db0, (size_t)d.Cout * 4);
            ggdm_conv2d_backward_ex(dx2, dw2, db2, dy, x, w, &d, NULL, NULL);
            assert_memory_equal(dx1, dx2, (size_t)nx * 4);
            assert_memory_equal(dw1, dw2, (size_t)nw * 4);
        }
        free(x), free(w), free(b), free(dy), free(sc), free(y0), free(y1), free(y2), free(dx0), free(dw0);
        free(db0), free(dx1), free(dw1), free(db1), free(dx2), free(dw2), free(db2);
    }
}

/* Empty or invalid shapes write nothing; the scratch size is 0. */
static void test_degenerate(void **state)
{
    float y[4] = {7, 7, 7, 7}, x[4] = {1, 2, 3, 4}, w[4] = {1, 1, 1, 1}, g[4] = {5, 5, 5, 5};
    ggdm_conv2d_dims d = dims(1, 1, 2, 2, 1, 3, 3, 1, 1, 0, 0); /* 3x3 kernel on 2x2: empty */
    int Ho, Wo;
    (void)state;
    assert_false(ggdm_conv2d_out(&d, &Ho, &Wo));
    assert_int_equal(ggdm_conv2d_scratch_floats(&d), 0);
    ggdm_conv2d_forward(y, x, w, NULL, &d);
    ggdm_conv2d_forward_ex(y, x, w, NULL, &d, g, NULL);
    ggdm_conv2d_backward(g, g, g, x, x, w, &d);
    ggdm_conv2d_backward_ex(g, g, g, x, x, w, &d, y, NULL);
    assert_true(y[0] == 7 && y[3] == 7 && g[0] == 5 && g[3] == 5);
    d = dims(0, 1, 2, 2, 1, 1, 1, 1, 1, 0, 0);
    assert_false(ggdm_conv2d_out(&d, &Ho, &Wo));
    d = dims(1, 1, 2, 2, 1, 1, 1, 1, 1, 0, 0);
    d.KH = 0;
    assert_int_equal(ggdm_conv2d_scratch_floats(&d), 0);
    assert_int_equal(ggdm_elem_conv2d_forward_y_count(1, 1, 2, 2, 1, 3, 3, 1, 1, 0, 0), 0);
    assert_int_equal(ggdm_elem_conv2d_backward_dx_count(1, 1, 2, 2, 1, 3, 3, 1, 1, 0, 0), 0);
    assert_int_equal(ggdm_elem_conv2d_backward_dw_count(1, 1, 2, 2, 1, 3, 3, 1, 1, 0, 0), 0);
    assert_int_equal(ggdm_elem_conv2d_backward_db_count(1, 1, 2, 2, 1, 3, 3, 1, 1, 0, 0), 0);
    assert_int_equal(ggdm_elem_upsample2d_forward_y_count(1, 0, 2, 2), 0);
    assert_int_equal(ggdm_elem_upsample2d_backward_dx_count(1, 2, 0, 2), 0);
}

/* The op: info (shapes, refusals), the cpu and elem drivers' bits. */
static void run_op(ggdm_op_id op, const ggdm_op_attr *a, int elem, const float *const in[3], float *out,
                   const float *dout, float *const din[3], float *scratch)
{
    ggdm_op_call c;
    memset(&c, 0, sizeof c);
    c.a = *a;
    c.in[0] = in[0], c.in[1] = in[1], c.in[2] = in[2];
    c.out = out;
    c.scratch = scratch;
    if (elem)
        (op == GGDM_OP_CONV ? ggdm_elem_conv_fwd : ggdm_elem_upsample_fwd)(NULL, &c);
    else
        (op == GGDM_OP_CONV ? ggdm_cpu_conv_fwd : ggdm_cpu_upsample_fwd)(NULL, &c);
    c.dout = dout;
    c.din[0] = din[0], c.din[1] = din[1], c.din[2] = din[2];
    if (elem)
        (op == GGDM_OP_CONV ? ggdm_elem_conv_vjp : ggdm_elem_upsample_vjp)(NULL, &c);
    else
        (op == GGDM_OP_CONV ? ggdm_cpu_conv_vjp : ggdm_cpu_upsample_vjp)(NULL, &c);
}

static void test_op_drivers(void **state)
{
    static const int cf[][11] = {{2, 16, 5, 6, 17, 3, 3, 2, 2, 1, 1},
                                 {1, 5, 4, 4, 3, 3, 3, 1, 1, 1, 1},
                                 {1, 4, 1, 9, 16, 1, 3, 1, 2, 0, 1},
                                 {1, 3, 9, 9, 16, 7, 7, 2, 2, 3, 3}};
    int ci, drv, mask;
    (void)state;
    for (ci = 0; ci < 4; ci++)
        for (mask = 0; mask < 8; mask += 3) { /* nograd / absent patterns: 0, 3 (dx and dw NULL), 6 */
            const int *c = cf[ci];
            ggdm_op_attr a;
            ggdm_op_info info;
            long nx, nw, ny, q;
            float *buf[2][8];
            memset(&a, 0, sizeof a);
            a.N = c[0], a.C = c[1], a.H = c[2], a.W = c[3], a.Cout = c[4], a.KH = c[5], a.KW = c[6];
            a.sh = c[7], a.sw = c[8], a.ph = c[9], a.pw = c[10];
            assert_int_equal(ggdm_op_info_get(GGDM_OP_CONV, &a, &info), GGDM_OK);
            nx = (long)a.N * a.C * a.H * a.W, nw = (long)a.Cout * a.C * a.KH * a.KW, ny = (long)info.out;
            assert_int_equal(info.out, (size_t)a.N * a.Cout * info.out_H * info.out_W);
            assert_true(info.flops == 2.0 * ny * a.C * a.KH * a.KW);
            for (drv = 0; drv < 2; drv++) {
                const float *in[3];
                float *din[3];
                rng_state = 99u + (unsigned)ci;
                buf[drv][0] = fnew(nx), buf[drv][1] = fnew(nw), buf[drv][2] = fnew(a.Cout);
                buf[drv][3] = fnew(ny), buf[drv][4] = fnew(ny), buf[drv][5] = fnew(nx), buf[drv][6] = fnew(nw);
                buf[drv][7] = fnew(a.Cout + (long)info.scratch_vjp);
                fill(buf[drv][0], nx, -1, 1), fill(buf[drv][1], nw, -1, 1), fill(buf[drv][2], a.Cout, -1, 1);
                fill(buf[drv][4], ny, -1, 1), fill(buf[drv][5], nx, -1, 1), fill(buf[drv][6], nw, -1, 1);
                fill(buf[drv][7], a.Cout, -1, 1);
                in[0] = buf[drv][0], in[1] = buf[drv][1], in[2] = (mask & 4) ? NULL : buf[drv][2];
                din[0] = (mask & 1) ? NULL : buf[drv][5], din[1] = (mask & 2) ? NULL : buf[drv][6];
                din[2] = (mask & 4) ? NULL : buf[drv][7];
                run_op(GGDM_OP_CONV, &a, drv, in, buf[drv][3], buf[drv][4], din, buf[drv][7] + a.Cout);
            }
            assert_memory_equal(buf[0][3], buf[1][3], (size_t)ny * 4);
            assert_memory_equal(buf[0][5], buf[1][5], (size_t)nx * 4);
            assert_memory_equal(buf[0][6], buf[1][6], (size_t)nw * 4);
            assert_memory_equal(buf[0][7], buf[1][7], (size_t)a.Cout * 4);
            for (drv = 0; drv < 2; drv++)
                for (q = 0; q < 8; q++)
                    free(buf[drv][q]);
        }
}

static void test_op_info(void **state)
{
    ggdm_op_attr a;
    ggdm_op_info info;
    (void)state;
    memset(&a, 0, sizeof a);
    a.N = 2, a.C = 3, a.H = 64, a.W = 64, a.Cout = 5, a.KH = 3, a.KW = 3, a.sh = 2, a.sw = 2, a.ph = 1, a.pw = 1;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_CONV, &a, &info), GGDM_OK);
    assert_int_equal(info.out_C, 5);
    assert_int_equal(info.out_H, 32);
    assert_int_equal(info.out_W, 32);
    assert_int_equal(info.vjp_in, 3);
    assert_true(info.scratch_fwd >= 5 * 3 * 9 && info.scratch_vjp >= 2 * 5 * 32 * 32);
    a.ph = -1;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_CONV, &a, &info), GGDM_ERR_ARG);
    a.ph = 1, a.sh = 0;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_CONV, &a, &info), GGDM_ERR_ARG);
    a.sh = 2, a.KH = 0;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_CONV, &a, &info), GGDM_ERR_ARG);
    a.KH = 67; /* taller than the padded input */
    assert_int_equal(ggdm_op_info_get(GGDM_OP_CONV, &a, &info), GGDM_ERR_ARG);
    a.KH = 3, a.H = 1 << 30, a.W = 1 << 30, a.sh = a.sw = 1 << 20; /* an input that does not fit */
    assert_int_equal(ggdm_op_info_get(GGDM_OP_CONV, &a, &info), GGDM_ERR_ARG);
    a.H = a.W = 4, a.sh = a.sw = 1, a.C = 1 << 30, a.Cout = 1 << 30, a.KH = a.KW = 3; /* weights */
    assert_int_equal(ggdm_op_info_get(GGDM_OP_CONV, &a, &info), GGDM_ERR_ARG);
    /* upsample: sh = 2 is 2-D, sh 0/1 along W for one row only */
    memset(&a, 0, sizeof a);
    a.N = 2, a.C = 3, a.H = 5, a.W = 7, a.sh = 2;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_UPSAMPLE, &a, &info), GGDM_OK);
    assert_int_equal(info.out_H, 10);
    assert_int_equal(info.out_W, 14);
    assert_int_equal(info.out, 2 * 3 * 10 * 14);
    a.sh = 3;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_UPSAMPLE, &a, &info), GGDM_ERR_ARG);
    a.sh = -1;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_UPSAMPLE, &a, &info), GGDM_ERR_ARG);
    a.sh = 1;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_UPSAMPLE, &a, &info), GGDM_ERR_UNSUPPORTED);
    a.sh = 2, a.H = (1 << 29) + 1;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_UPSAMPLE, &a, &info), GGDM_ERR_ARG);
    a.H = 1, a.sh = 0;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_UPSAMPLE, &a, &info), GGDM_OK);
    assert_int_equal(info.out_H, 1);
    assert_int_equal(info.out_W, 14);
}

/* UPSAMPLE 2-D: the definition, both drivers, the VJP's order of the four terms. */
static void test_upsample2d(void **state)
{
    enum { N = 2, C = 3, H = 3, W = 5 };
    float x[N * C * H * W], y[2][N * C * 4 * H * W], dy[N * C * 4 * H * W], dx[2][N * C * H * W];
    float pre[N * C * H * W];
    ggdm_op_attr a;
    int drv, r, h, w;
    (void)state;
    memset(&a, 0, sizeof a);
    a.N = N, a.C = C, a.H = H, a.W = W, a.sh = 2;
    fill(x, N * C * H * W, -1, 1);
    fill(dy, N * C * 4 * H * W, -1, 1);
    fill(pre, N * C * H * W, -1, 1);
    dy[0] = 1e30f, dy[1] = 1.0f, dy[2 * W] = -1e30f, dy[2 * W + 1] = 1.0f; /* ((1e30 + 1) - 1e30) + 1 = 1 */
    for (drv = 0; drv < 2; drv++) {
        const float *in[3] = {x, NULL, NULL};
        float *din[3] = {dx[drv], NULL, NULL};
        memcpy(dx[drv], pre, sizeof pre);
        run_op(GGDM_OP_UPSAMPLE, &a, drv, in, y[drv], dy, din, NULL);
    }
    assert_memory_equal(y[0], y[1], sizeof y[0]);
    assert_memory_equal(dx[0], dx[1], sizeof dx[0]);
    for (r = 0; r < N * C; r++)
        for (h = 0; h < 2 * H; h++)
            for (w = 0; w < 2 * W; w++)
                assert_true(y[0][(r * 2 * H + h) * 2 * W + w] == x[(r * H + h / 2) * W + w / 2]);
    for (r = 0; r < N * C; r++)
        for (h = 0; h < H; h++)
            for (w = 0; w < W; w++) {
                const float *d0 = dy + (r * 2 * H + 2 * h) * 2 * W + 2 * w, *d1 = d0 + 2 * W;
                float want = pre[(r * H + h) * W + w] + (((d0[0] + d0[1]) + d1[0]) + d1[1]);
                assert_true(dx[0][(r * H + h) * W + w] == want);
            }
    assert_true(dx[0][0] == pre[0] + 1.0f);
    /* no gradient wanted: nothing happens */
    {
        const float *in[3] = {x, NULL, NULL};
        float *din[3] = {NULL, NULL, NULL};
        run_op(GGDM_OP_UPSAMPLE, &a, 0, in, y[0], dy, din, NULL);
        run_op(GGDM_OP_UPSAMPLE, &a, 1, in, y[1], dy, din, NULL);
        assert_memory_equal(y[0], y[1], sizeof y[0]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_vs_chains), cmocka_unit_test(test_1d_is_conv1d),
        cmocka_unit_test(test_fast_vs_plain),   cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_op_drivers),      cmocka_unit_test(test_op_info),
        cmocka_unit_test(test_upsample2d),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
