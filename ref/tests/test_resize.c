/*
 * The RESIZE op (ggdm/elem/resize.h, ref/src/ops/resize.c): its info's validation, known
 * answers (PyTorch's values), a double-precision definition of both filters, the VJP as the
 * forward's transpose (<A x, g> = <x, A^T g>), the VJP's windowed gather against a scatter over
 * every output in raster order (PyTorch's order: the same bits), and the cpu driver (executor
 * split) against the elem driver.
 */
#include "ggdm_test.h"

#include <math.h>

#include "ggdm/backend.h"
#include "ggdm/elem/resize.h"
#include "ggdm/exec.h"
#include "ggdm/op.h"
#include "ggdm/rng.h"

static void fill(float *a, size_t n, uint64_t stream)
{
    ggdm_rng_fill_normal(23, stream, 0, a, n);
}

static ggdm_op_attr attr(int N, int C, int H, int W, int oh, int ow, int aa)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    a.N = N, a.C = C, a.H = H, a.W = W, a.oh = oh, a.ow = ow, a.antialias = aa;
    return a;
}

static void same_bits(const float *a, const float *b, size_t n, const char *what)
{
    if (memcmp(a, b, sizeof(float) * n) != 0) {
        size_t i;
        for (i = 0; i < n && !memcmp(a + i, b + i, sizeof(float)); i++)
            ;
        fail_msg("%s differs at %zu: %.9g vs %.9g", what, i, (double)a[i], (double)b[i]);
    }
}

static void test_info(void **state)
{
    ggdm_op_info info;
    ggdm_op_attr a = attr(2, 3, 512, 512, 224, 224, 1);
    (void)state;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_RESIZE, &a, &info), GGDM_OK);
    assert_int_equal(info.n_in, 1);
    assert_int_equal(info.n_cache, 0);
    assert_int_equal(info.out_C, 3);
    assert_int_equal(info.out_H, 224);
    assert_int_equal(info.out_W, 224);
    assert_true(info.out == (size_t)2 * 3 * 224 * 224);
    assert_int_equal(info.vjp_in, 0); /* the VJP reads dy only */
    assert_int_equal(info.vjp_out, 0);
    assert_int_equal((int)(info.scratch_fwd + info.scratch_vjp), 0);
    assert_true(info.flops > 2.0 * 2 * 3 * 224 * 224 * 4);
    a.antialias = 0;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_RESIZE, &a, &info), GGDM_OK);
    assert_true(info.flops == 6.0 * 2 * 3 * 224 * 224);
    a = attr(1, 1, 4, 4, 8, 8, 1); /* upscaling: 2 taps per axis */
    assert_int_equal(ggdm_op_info_get(GGDM_OP_RESIZE, &a, &info), GGDM_OK);
    assert_true(info.flops == 2.0 * (4.0 * 8 * 2 + 8.0 * 8 * 2));
}

static void test_info_errors(void **state)
{
    ggdm_op_info info;
    ggdm_op_attr bad[10];
    int i;
    (void)state;
    bad[0] = attr(1, 1, 4, 4, 0, 2, 0);
    bad[1] = attr(1, 1, 4, 4, 2, 0, 0);
    bad[2] = attr(1, 1, 4, 4, 2, 2, 2);
    bad[3] = attr(1, 1, 4, 4, 2, 2, -1);
    bad[4] = attr(0, 1, 4, 4, 2, 2, 0);
    bad[5] = attr(1, 1, GGDM_RESIZE_MAX + 1, 4, 2, 2, 0);
    bad[6] = attr(1, 1, 4, GGDM_RESIZE_MAX + 1, 2, 2, 0);
    bad[7] = attr(1, 1, 4, 4, GGDM_RESIZE_MAX + 1, 2, 0);
    bad[8] = attr(1, 1, 4, 4, 2, GGDM_RESIZE_MAX + 1, 0);
    bad[9] = attr(1 << 30, 1 << 30, GGDM_RESIZE_MAX, 1, 1, 1, 0); /* dx would not fit */
    for (i = 0; i < 10; i++)
        assert_int_equal(ggdm_op_info_get(GGDM_OP_RESIZE, &bad[i], &info), GGDM_ERR_ARG);
    bad[0] = attr(1 << 30, 1 << 30, 1, 1, GGDM_RESIZE_MAX, 1, 0); /* y would not fit */
    assert_int_equal(ggdm_op_info_get(GGDM_OP_RESIZE, &bad[0], &info), GGDM_ERR_ARG);
}

static void run(int elem, const ggdm_op_attr *a, const float *x, float *y, const float *dy, float *dx,
                const ggdm_exec *ex)
{
    const ggdm_backend *be = elem ? ggdm_backend_elem() : ggdm_backend_cpu();
    ggdm_op_call c;
    memset(&c, 0, sizeof c);
    c.a = *a;
    c.in[0] = x, c.out = y, c.ex = ex;
    if (y)
        be->ops[GGDM_OP_RESIZE].fwd(NULL, &c);
    c.dout = dy, c.din[0] = dx;
    if (dy)
        be->ops[GGDM_OP_RESIZE].vjp(NULL, &c);
}

/* PyTorch's values: F.interpolate(arange(4).view(1, 1, 1, 4), (1, 2), bilinear, antialias) with
 * ATEN_CPU_CAPABILITY=default (torch 1.13; its AVX2 kernels' FMA give 2.2857143878936768). */
static void test_known(void **state)
{
    float x[4] = {0, 1, 2, 3}, y[2];
    ggdm_op_attr a = attr(1, 1, 1, 4, 1, 2, 0);
    (void)state;
    run(0, &a, x, y, NULL, NULL, NULL);
    assert_true(y[0] == 0.5f && y[1] == 2.5f);
    a.antialias = 1; /* support 2: weights 3/7, 3/7, 1/7 and 1/7, 3/7, 3/7 */
    run(0, &a, x, y, NULL, NULL, NULL);
    assert_true(y[0] == 0.7142857313156128f);
    assert_true(y[1] == 2.2857141494750977f);
}

/* An identity size without antialias copies every value (signed zeros and subnormals too). */
static void test_identity(void **state)
{
    float x[2 * 5 * 7], y[2 * 5 * 7];
    ggdm_op_attr a = attr(2, 1, 5, 7, 5, 7, 0);
    (void)state;
    fill(x, 70, 1);
    x[3] = -0.0f, x[4] = 1e-45f, x[5] = -3e38f;
    run(0, &a, x, y, NULL, NULL, NULL);
    same_bits(x, y, 70, "identity y");
}

/* The double-precision definition of one axis' weights: bilinear (align_corners false) or the
 * normalised triangle of half-width max(s, 1) (scale s = in / out). */
static double def_weight(int o, int i, int in, int out, int aa)
{
    double s = (double)((float)in / (float)out); /* the float scale, as PyTorch */
    if (!aa) {
        double src = (o + 0.5) * s - 0.5;
        int i0, i1;
        double l;
        if (in == out)
            return o == i ? 1.0 : 0.0;
        if (src < 0)
            src = 0;
        i0 = (int)src, i1 = i0 < in - 1 ? i0 + 1 : i0, l = src - i0;
        return (i == i0 ? 1.0 - l : 0.0) + (i == i1 ? l : 0.0);
    } else {
        double sup = s >= 1 ? s : 1, center = s * (o + 0.5), tot = 0, w = 0;
        int j, lo = (int)(center - sup + 0.5), hi = (int)(center + sup + 0.5);
        if (lo < 0)
            lo = 0;
        if (hi > in)
            hi = in;
        for (j = lo; j < hi; j++) {
            double t = fabs((j - center + 0.5) / sup);
            double v = t < 1 ? 1 - t : 0;
            tot += v;
            if (j == i)
                w = v;
        }
        return w / tot;
    }
}

typedef struct shape {
    int N, C, H, W, oh, ow;
} shape;

static const shape shapes[] = {
    {2, 3, 7, 5, 3, 4},  {1, 2, 5, 6, 11, 13}, {1, 1, 48, 16, 21, 7}, {2, 1, 1, 1, 3, 5}, {1, 2, 37, 3, 1, 1},
    {1, 1, 6, 9, 6, 4},  {1, 1, 3, 200, 7, 2}, {1, 1, 2, 1, 150, 3},  {1, 2, 4, 4, 4, 4}, {1, 1, 9, 13, 5, 30},
};

/* y and dx against the definition in double; the VJP is the transpose: <y, g> = <x, dx>. */
static void test_definition(void **state)
{
    enum { MAXN = 2 * 3 * 600 * 2 + 64 };
    static float x[MAXN], y[MAXN], g[MAXN], dx[MAXN];
    size_t k;
    int aa;
    (void)state;
    for (k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        for (aa = 0; aa < 2; aa++) {
            const shape *s = &shapes[k];
            ggdm_op_attr a = attr(s->N, s->C, s->H, s->W, s->oh, s->ow, aa);
            int nc, oa, ob, ia, ib, NC = s->N * s->C;
            size_t nin = (size_t)NC * s->H * s->W, nout = (size_t)NC * s->oh * s->ow;
            double yx = 0, xd = 0, scale = 0;
            assert_true(nin <= MAXN && nout <= MAXN);
            fill(x, nin, 2);
            fill(g, nout, 3);
            memset(dx, 0, sizeof(float) * nin);
            run(0, &a, x, y, g, dx, NULL);
            for (nc = 0; nc < NC; nc++)
                for (oa = 0; oa < s->oh; oa++)
                    for (ob = 0; ob < s->ow; ob++) {
                        double want = 0, mag = 0, got = y[((size_t)nc * s->oh + oa) * s->ow + ob];
                        for (ia = 0; ia < s->H; ia++) {
                            double wh = def_weight(oa, ia, s->H, s->oh, aa);
                            if (wh == 0)
                                continue;
                            for (ib = 0; ib < s->W; ib++) {
                                double t = wh * def_weight(ob, ib, s->W, s->ow, aa) *
                                           x[((size_t)nc * s->H + ia) * s->W + ib];
                                want += t;
                                mag += fabs(t);
                            }
                        }
                        if (fabs(got - want) > 1e-6 * (1 + mag))
                            fail_msg("shape %zu aa %d y[%d, %d, %d] = %.9g, the definition %.9g", k, aa, nc, oa,
                                     ob, got, want);
                        yx += got * g[((size_t)nc * s->oh + oa) * s->ow + ob];
                        scale += fabs(got * g[((size_t)nc * s->oh + oa) * s->ow + ob]);
                    }
            for (nc = 0; (size_t)nc < nin; nc++)
                xd += (double)x[nc] * dx[nc];
            if (fabs(yx - xd) > 1e-5 * (1 + scale))
                fail_msg("shape %zu aa %d: <y, g> = %.9g but <x, dx> = %.9g", k, aa, yx, xd);
        }
}

/* The VJP's gather over a window = a scatter over every output in raster order (PyTorch's
 * loop), term (wh * ww) * g, each input's sum from +0: bit for bit, at extreme ratios too. */
static void test_vjp_window(void **state)
{
    static const int sizes[][2] = {{7, 3}, {3, 7}, {1, 9}, {9, 1}, {300, 2}, {2, 300}, {16, 7}, {7, 16}, {5, 5},
                                   {1000, 3}, {3, 1000}, {224, 512}, {512, 224}, {1, 1}};
    static float g[2 * 1000], dx[2 * 1000], acc[2 * 1000];
    size_t si, sj;
    int aa;
    (void)state;
    for (si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (sj = 0; sj < 3; sj++)
            for (aa = 0; aa < 2; aa++) {
                /* H = sizes[si] and W = a small pair, so both axes see each ratio */
                int H = sj == 0 ? sizes[si][0] : 2, oh = sj == 0 ? sizes[si][1] : 3;
                int W = sj == 0 ? 1 : sizes[si][0], ow = sj == 0 ? 1 : sizes[si][1];
                ggdm_op_attr a = attr(1, 1, H, W, oh, ow, aa);
                int oa, ob, i;
                if (sj == 2) { /* both axes */
                    H = sizes[si][1] > 40 ? 3 : sizes[si][1], oh = sizes[si][0] > 40 ? 5 : sizes[si][0];
                    a = attr(1, 1, H, W, oh, ow, aa);
                }
                if ((size_t)oh * ow > sizeof g / sizeof g[0] || (size_t)H * W > sizeof dx / sizeof dx[0])
                    continue;
                fill(g, (size_t)oh * ow, 4);
                memset(dx, 0, sizeof(float) * H * W);
                memset(acc, 0, sizeof(float) * H * W);
                run(1, &a, NULL, NULL, g, dx, NULL);
                for (oa = 0; oa < oh; oa++)
                    for (ob = 0; ob < ow; ob++) {
                        float gv = g[oa * ow + ob];
                        if (!aa) {
                            int h[2], w[2], p, q;
                            float lh[2], lw[2];
                            ggdm_resize_lin(oa, H, oh, &h[0], &h[1], &lh[0], &lh[1]);
                            ggdm_resize_lin(ob, W, ow, &w[0], &w[1], &lw[0], &lw[1]);
                            for (p = 0; p < 2; p++)
                                for (q = 0; q < 2; q++)
                                    acc[h[p] * W + w[q]] = acc[h[p] * W + w[q]] + (lh[p] * lw[q]) * gv;
                        } else {
                            ggdm_resize_aa fh = ggdm_resize_aa_of(oa, H, oh), fw = ggdm_resize_aa_of(ob, W, ow);
                            int p, q;
                            for (p = 0; p < fh.xsize; p++)
                                for (q = 0; q < fw.xsize; q++) {
                                    float *t = &acc[(fh.xmin + p) * W + fw.xmin + q];
                                    *t = *t + (ggdm_resize_aa_w(&fw, q) * ggdm_resize_aa_w(&fh, p)) * gv;
                                }
                        }
                    }
                for (i = 0; i < H * W; i++)
                    acc[i] = 0.0f + acc[i]; /* dx = 0 + chain */
                same_bits(dx, acc, (size_t)H * W, "windowed dx vs scatter");
            }
}

/* An executor that runs its tasks backwards (any order must give the same bits). */
static void rev_run(void *ctx, ggdm_task_fn task, void *arg, int ntasks)
{
    int i;
    (void)ctx;
    for (i = ntasks - 1; i >= 0; i--)
        task(arg, i);
}

static void test_drivers(void **state)
{
    enum { N = 2, C = 3, H = 23, W = 17, OH = 9, OW = 31 };
    static float x[N * C * H * W], y0[N * C * OH * OW], y1[N * C * OH * OW], g[N * C * OH * OW],
        dx0[N * C * H * W], dx1[N * C * H * W];
    ggdm_exec ex;
    int aa;
    (void)state;
    memset(&ex, 0, sizeof ex);
    ex.run = rev_run, ex.nthreads = 3;
    fill(x, sizeof x / sizeof x[0], 5);
    fill(g, sizeof g / sizeof g[0], 6);
    for (aa = 0; aa < 2; aa++) {
        ggdm_op_attr a = attr(N, C, H, W, OH, OW, aa);
        fill(dx0, sizeof dx0 / sizeof dx0[0], 7);
        memcpy(dx1, dx0, sizeof dx0);
        run(0, &a, x, y0, g, dx0, &ex);
        run(1, &a, x, y1, g, dx1, NULL);
        same_bits(y0, y1, sizeof y0 / sizeof y0[0], "cpu (executor) vs elem y");
        same_bits(dx0, dx1, sizeof dx0 / sizeof dx0[0], "cpu (executor) vs elem dx");
        run(0, &a, x, y1, g, dx1, NULL); /* serial cpu: dx1 = pre + 2 g' */
        same_bits(y0, y1, sizeof y0 / sizeof y0[0], "cpu serial vs executor y");
    }
}

/* dx NULL: nothing written; N = 0 at the drivers: nothing written. */
static void test_nothing(void **state)
{
    float x[16], y[16], g[16];
    ggdm_op_attr a = attr(1, 1, 4, 4, 2, 2, 1);
    int i;
    (void)state;
    fill(x, 16, 8);
    for (i = 0; i < 16; i++)
        y[i] = g[i] = 7.0f;
    run(0, &a, NULL, NULL, g, NULL, NULL);
    run(1, &a, NULL, NULL, g, NULL, NULL);
    a.N = 0;
    run(0, &a, x, y, g, NULL, NULL);
    run(1, &a, x, y, g, NULL, NULL);
    for (i = 0; i < 16; i++)
        assert_true(y[i] == 7.0f && g[i] == 7.0f);
    assert_int_equal((int)ggdm_elem_resize_forward_y_count(1, 1, 4, 4, 0, 2, 0), 0);
    assert_int_equal((int)ggdm_elem_resize_backward_dx_count(1, 1, 0, 4, 2, 2, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info),       cmocka_unit_test(test_info_errors), cmocka_unit_test(test_known),
        cmocka_unit_test(test_identity),   cmocka_unit_test(test_definition),  cmocka_unit_test(test_vjp_window),
        cmocka_unit_test(test_drivers),    cmocka_unit_test(test_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
