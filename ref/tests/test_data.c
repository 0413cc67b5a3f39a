/*
 * Data distributions and hyper-parameters (ggdm/data.h): orthonormality and the Haar sign
 * convention of A, the reward parameters, data on the subspace / on the sphere, split
 * independence, the off-support ratio, argument errors, and the authors' own
 * hyper-parameter files (../shared/data/authors or /work/shared/data/authors; skipped with a
 * message when missing) checked with ggdm's ratio and reward functions.
 */
#include <math.h>
#include <stdio.h>

#include "ggdm/data.h"
#include "ggdm/hash.h"
#include "ggdm/npy.h"
#include "ggdm/reward.h"
#include "ggdm/rng.h"
#include "ggdm_test.h"

#define MAXD 64
#define MAXL 16

/* Pinned bits (seed 2345, D 64, d 16); see test_pinned_values. */
#define PIN_A0 0x3fd18cd5756619bfull
#define PIN_A1023 0xbfa6809408b91b21ull
#define PIN_T1 0x3fba4c02a42bb71bull
#define PIN_T2 0xbfb9e3a9ac6d1ddeull
#define PIN_B2 0x40136a137c000000ull
#define PIN_X0 0x3f171326u
#define PIN_X191 0x3e03a82eu
#define PIN_UB 0x3fa4a5e957563462ull
#define PIN_H_HYPER 0x4118f60fd56ca731ull
#define PIN_H_LL 0x5ce4a09644b91fedull
#define PIN_H_LL_RATIO 0xc2d3474437a76e0full
#define PIN_H_UB 0x4d021dd3883f482bull
#define PIN_H_UB_RATIO 0x967015869cafc86full
#define PIN_H_UB_THETA 0xccffff7a425fab7cull

enum { NS = 1000 };
static float xs[NS * MAXD], parts[NS * MAXD];
static double ratio[NS];
static double A[MAXD * MAXD], theta1[MAXD], theta2[MAXD], b2[MAXD], work[MAXD * MAXD + 8 * MAXD];

static uint64_t bits64(double x)
{
    uint64_t u;
    memcpy(&u, &x, 8);
    return u;
}

static uint32_t bits32(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static double dot(const double *a, const double *b, int n)
{
    double s = 0;
    int i;
    for (i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void hyper(uint64_t seed, int D, int d)
{
    double b1 = 0;
    size_t need = ggdm_hyper_linear_latent_work_doubles(D, d);
    assert_true(need > 0 && need <= sizeof work / sizeof work[0]);
    assert_int_equal(ggdm_hyper_linear_latent(seed, D, d, GGDM_THETA2_R_OFF, A, theta1, d < D ? theta2 : 0, &b1, b2,
                                              work, need),
                     GGDM_OK);
    assert_true(b1 == 4.0);
}

/* G(i, j) of the QR: HYPER a=0, index i*D + j, widened. */
static double gmat(uint64_t seed, int D, int i, int j)
{
    return (double)ggdm_rng_normal(seed, ggdm_stream_id(GGDM_STREAM_HYPER, 0, 0), (uint64_t)i * D + j);
}

static void test_orthonormal_and_haar_signs(void **state)
{
    static const int dims[][2] = {{64, 16}, {8, 3}, {5, 5}, {1, 1}, {64, 64}, {33, 1}, {17, 16}};
    static const uint64_t seeds[] = {2345, 1, 0, 0xFFFFFFFFFFFFFFFFull};
    size_t a, s;
    (void)state;
    for (a = 0; a < sizeof dims / sizeof dims[0]; a++)
        for (s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
            int D = dims[a][0], d = dims[a][1], i, j, k;
            double n0;
            hyper(seeds[s], D, d);
            for (i = 0; i < d; i++)
                for (j = 0; j < d; j++) {
                    double e = dot(A + i * D, A + j * D, D) - (i == j ? 1.0 : 0.0);
                    assert_true(fabs(e) < 1e-12);
                }
            /* R = A G (d x d): upper triangular with a positive diagonal (Q R = G, diag R > 0) */
            for (k = 0; k < d; k++)
                for (j = 0; j < d; j++) {
                    double r = 0, scale = 0;
                    for (i = 0; i < D; i++) {
                        r += A[k * D + i] * gmat(seeds[s], D, i, j);
                        scale += fabs(gmat(seeds[s], D, i, j));
                    }
                    if (k > j)
                        assert_true(fabs(r) < 1e-12 * scale);
                    if (k == j)
                        assert_true(r > 0);
                }
            /* row 0 is G's first column normalised (Gram-Schmidt with positive R_00) */
            n0 = 0;
            for (i = 0; i < D; i++)
                n0 += gmat(seeds[s], D, i, 0) * gmat(seeds[s], D, i, 0);
            n0 = sqrt(n0);
            for (i = 0; i < D; i++)
                assert_true(fabs(A[i] - gmat(seeds[s], D, i, 0) / n0) < 1e-14);
        }
}

/* Over many seeds, A's entries have mean 0 and second moment 1/D (Haar; a wrong sign
 * convention biases the means). */
static void test_haar_moments(void **state)
{
    enum { D = 4, d = 2, SEEDS = 800 };
    double mean[d * D] = {0}, sq[d * D] = {0};
    int s, k;
    (void)state;
    for (s = 0; s < SEEDS; s++) {
        hyper((uint64_t)s + 1000, D, d);
        for (k = 0; k < d * D; k++) {
            mean[k] += A[k] / SEEDS;
            sq[k] += A[k] * A[k] / SEEDS;
        }
    }
    for (k = 0; k < d * D; k++) {
        assert_true(fabs(mean[k]) < 0.08);          /* sd of the mean: 0.5 / sqrt(800) = 0.018 */
        assert_true(fabs(sq[k] - 1.0 / D) < 0.04);  /* sd ~0.008 */
    }
}

static void test_reward_parameters(void **state)
{
    static const int dims[][2] = {{64, 16}, {8, 3}, {5, 5}, {2, 1}};
    size_t a;
    (void)state;
    for (a = 0; a < sizeof dims / sizeof dims[0]; a++) {
        int D = dims[a][0], d = dims[a][1], i, k;
        double c[MAXL], p[MAXD], v[MAXD], np = 0, nv = 0, y[MAXL], ny = 0;
        hyper(2345, D, d);
        assert_true(fabs(dot(theta1, theta1, D) - 1) < 1e-13);
        if (d < D)
            assert_true(fabs(dot(theta2, theta2, D) - 1) < 1e-13);
        /* theta1 = A^T beta with beta = y / |y|: A theta1 = beta, and theta1 is in span(A) */
        for (k = 0; k < d; k++) {
            y[k] = (double)ggdm_rng_normal(2345, ggdm_stream_id(GGDM_STREAM_HYPER, 1, 0), (uint64_t)k);
            ny += y[k] * y[k];
        }
        for (k = 0; k < d; k++)
            assert_true(fabs(dot(A + k * D, theta1, D) - y[k] / sqrt(ny)) < 1e-14);
        /* theta2: |off-support| / |on-support| = r_off (when d < D) */
        for (k = 0; k < d; k++)
            c[k] = dot(A + k * D, theta2, D);
        for (i = 0; i < D; i++) {
            p[i] = 0;
            for (k = 0; k < d; k++)
                p[i] += A[k * D + i] * c[k];
            v[i] = theta2[i] - p[i];
            np += p[i] * p[i];
            nv += v[i] * v[i];
        }
        if (d < D)
            assert_true(fabs(sqrt(nv / np) - 9.0) < 1e-12);
        /* b2 = 4 + 3 z, exactly */
        for (i = 0; i < D; i++) {
            double z = (double)ggdm_rng_normal(2345, ggdm_stream_id(GGDM_STREAM_HYPER, 3, 0), (uint64_t)i);
            assert_true(b2[i] == 4.0 + 3.0 * z);
        }
    }
    /* theta2 with another r_off */
    {
        double b1 = 0;
        int i;
        assert_int_equal(ggdm_hyper_linear_latent(7, 8, 3, 0.0, A, 0, theta2, &b1, 0, work, 1000), GGDM_OK);
        /* r_off = 0: theta2 = p / |p| is on the support */
        {
            double c[3], back[8], e = 0;
            int k;
            for (k = 0; k < 3; k++)
                c[k] = dot(A + k * 8, theta2, 8);
            for (i = 0; i < 8; i++) {
                back[i] = 0;
                for (k = 0; k < 3; k++)
                    back[i] += A[k * 8 + i] * c[k];
                e += fabs(back[i] - theta2[i]);
            }
            assert_true(e < 1e-14);
        }
    }
}

/* The outputs are optional, and asking for fewer does not change the others. */
static void test_optional_outputs_and_determinism(void **state)
{
    static double A2[MAXL * MAXD], t1[MAXD], t2[MAXD], bb[MAXD];
    double b1 = 0;
    (void)state;
    hyper(99, 64, 16);
    assert_int_equal(ggdm_hyper_linear_latent(99, 64, 16, 9.0, A2, 0, 0, 0, 0, work, sizeof work / sizeof work[0]),
                     GGDM_OK);
    assert_memory_equal(A, A2, sizeof(double) * 64 * 16);
    assert_int_equal(ggdm_hyper_linear_latent(99, 64, 16, 9.0, A2, t1, t2, &b1, bb, work, sizeof work / sizeof work[0]),
                     GGDM_OK);
    assert_memory_equal(theta1, t1, sizeof(double) * 64);
    assert_memory_equal(theta2, t2, sizeof(double) * 64);
    assert_memory_equal(b2, bb, sizeof(double) * 64);
    /* another seed gives another A */
    hyper(100, 64, 16);
    assert_true(memcmp(A, A2, sizeof(double) * 64 * 16) != 0);
}

/* Fixed bits for seed 2345, D 64, d 16: any change of the definitions shows here
 * (docs/data.md; a deliberate change updates these and the change log). */
static void test_pinned_values(void **state)
{
    static float x[3 * 64];
    double th[64];
    (void)state;
    hyper(2345, 64, 16);
    if (getenv("GGDM_TEST_VERBOSE"))
        print_message("pinned: A[0] %016llx A[1023] %016llx theta1[5] %016llx theta2[63] %016llx b2[0] %016llx\n",
                  (unsigned long long)bits64(A[0]), (unsigned long long)bits64(A[1023]),
                  (unsigned long long)bits64(theta1[5]), (unsigned long long)bits64(theta2[63]),
                  (unsigned long long)bits64(b2[0]));
    assert_int_equal(ggdm_data_linear_latent(2345, A, 16, 64, 1000, 3, x), GGDM_OK);
    assert_int_equal(ggdm_hyper_unit_ball(2345, 64, th), GGDM_OK);
    if (getenv("GGDM_TEST_VERBOSE"))
        print_message("pinned: x[0] %08x x[191] %08x theta_ub[0] %016llx\n", (unsigned)bits32(x[0]),
                  (unsigned)bits32(x[191]), (unsigned long long)bits64(th[0]));
    assert_true(bits64(A[0]) == PIN_A0);
    assert_true(bits64(A[1023]) == PIN_A1023);
    assert_true(bits64(theta1[5]) == PIN_T1);
    assert_true(bits64(theta2[63]) == PIN_T2);
    assert_true(bits64(b2[0]) == PIN_B2);
    assert_true(bits32(x[0]) == PIN_X0);
    assert_true(bits32(x[191]) == PIN_X191);
    assert_true(bits64(th[0]) == PIN_UB);
    /* every element: XXH3-64 of A, theta1, theta2, b2, 1000 samples of each data set, the ratios */
    {
        uint64_t h[6];
        assert_int_equal(ggdm_data_linear_latent(2345, A, 16, 64, 0, NS, xs), GGDM_OK);
        assert_int_equal(ggdm_ratio_linear_latent(A, 16, 64, xs, NS, ratio), GGDM_OK);
        h[0] = ggdm_hash_f64(A, 16 * 64) ^ ggdm_hash_f64(theta1, 64) ^ ggdm_hash_f64(theta2, 64) ^ ggdm_hash_f64(b2, 64);
        h[1] = ggdm_hash_f32(xs, (uint64_t)NS * 64);
        h[2] = ggdm_hash_f64(ratio, NS);
        assert_int_equal(ggdm_data_unit_ball(2345, 64, 0, NS, xs), GGDM_OK);
        assert_int_equal(ggdm_ratio_unit_ball(64, xs, NS, ratio), GGDM_OK);
        h[3] = ggdm_hash_f32(xs, (uint64_t)NS * 64);
        h[4] = ggdm_hash_f64(ratio, NS);
        h[5] = ggdm_hash_f64(th, 64);
        if (getenv("GGDM_TEST_VERBOSE"))
            print_message("pinned hashes: %016llx %016llx %016llx %016llx %016llx %016llx\n", (unsigned long long)h[0],
                          (unsigned long long)h[1], (unsigned long long)h[2], (unsigned long long)h[3],
                          (unsigned long long)h[4], (unsigned long long)h[5]);
        assert_true(h[0] == PIN_H_HYPER);
        assert_true(h[1] == PIN_H_LL);
        assert_true(h[2] == PIN_H_LL_RATIO);
        assert_true(h[3] == PIN_H_UB);
        assert_true(h[4] == PIN_H_UB_RATIO);
        assert_true(h[5] == PIN_H_UB_THETA);
    }
}

/* ------------------------------------------------------------------ data sets */


static void test_linear_latent_data(void **state)
{
    uint64_t stream = ggdm_stream_id(GGDM_STREAM_DATA, 0, 0);
    double sumsq = 0, worst = 0;
    int i, j, k;
    (void)state;
    hyper(2345, 64, 16);
    assert_int_equal(ggdm_data_linear_latent(2345, A, 16, 64, 0, NS, xs), GGDM_OK);
    /* x_i = (float)(chain_k fma(z_k, A[k][j])) with z from DATA a=0 at i*d + k */
    for (i = 0; i < NS; i += 97)
        for (j = 0; j < 64; j++) {
            double acc = 0;
            for (k = 0; k < 16; k++)
                acc = fma((double)ggdm_rng_normal(2345, stream, (uint64_t)i * 16 + k), A[k * 64 + j], acc);
            assert_true(bits32(xs[i * 64 + j]) == bits32((float)acc));
        }
    /* on the subspace up to float32 rounding */
    assert_int_equal(ggdm_ratio_linear_latent(A, 16, 64, xs, NS, ratio), GGDM_OK);
    for (i = 0; i < NS; i++) {
        assert_true(ratio[i] >= 0 && ratio[i] < 1e-6);
        if (ratio[i] > worst)
            worst = ratio[i];
        for (j = 0; j < 64; j++)
            sumsq += (double)xs[i * 64 + j] * xs[i * 64 + j];
    }
    print_message("linear_latent: max off-support ratio of float32 data %.3g, mean |x|^2 %.3f (d = 16)\n", worst,
                  sumsq / NS);
    assert_true(fabs(sumsq / NS - 16.0) < 0.8); /* sd of the mean ~ sqrt(32/1000) = 0.18 */
}

static void test_split_independence(void **state)
{
    static const int sizes[] = {1, 7, 3, 64, 2, 5, 130, 1, 33};
    int kind;
    (void)state;
    hyper(11, 64, 16);
    for (kind = 0; kind < 2; kind++) {
        uint64_t at = 0;
        size_t s = 0;
        if (kind == 0)
            assert_int_equal(ggdm_data_linear_latent(11, A, 16, 64, 0, NS, xs), GGDM_OK);
        else
            assert_int_equal(ggdm_data_unit_ball(11, 64, 0, NS, xs), GGDM_OK);
        memset(parts, 0xAB, sizeof parts);
        while (at < NS) {
            uint64_t len = (uint64_t)sizes[s++ % (sizeof sizes / sizeof sizes[0])];
            if (at + len > NS)
                len = NS - at;
            if (kind == 0)
                assert_int_equal(ggdm_data_linear_latent(11, A, 16, 64, at, len, parts + at * 64), GGDM_OK);
            else
                assert_int_equal(ggdm_data_unit_ball(11, 64, at, len, parts + at * 64), GGDM_OK);
            at += len;
        }
        assert_memory_equal(xs, parts, sizeof(float) * NS * 64);
        /* n = 0 writes nothing and is fine with x == NULL */
        assert_int_equal(kind == 0 ? ggdm_data_linear_latent(11, A, 16, 64, 5, 0, 0) : ggdm_data_unit_ball(11, 64, 5, 0, 0),
                         GGDM_OK);
    }
    /* a sample far out in the data set: index arithmetic in 64 bits */
    assert_int_equal(ggdm_data_unit_ball(11, 64, 1ull << 40, 2, parts), GGDM_OK);
    assert_int_equal(ggdm_data_unit_ball(11, 64, (1ull << 40) + 1, 1, parts + 128), GGDM_OK);
    assert_memory_equal(parts + 64, parts + 128, sizeof(float) * 64);
}

static void test_unit_ball_data(void **state)
{
    double worst = 0, m0 = 0;
    int i;
    (void)state;
    assert_int_equal(ggdm_data_unit_ball(2345, 64, 0, NS, xs), GGDM_OK);
    assert_int_equal(ggdm_ratio_unit_ball(64, xs, NS, ratio), GGDM_OK);
    for (i = 0; i < NS; i++) {
        if (fabs(ratio[i]) > worst)
            worst = fabs(ratio[i]);
        m0 += xs[i * 64] / (double)NS;
    }
    print_message("unit_ball: max | |x| - 1 | of float32 data %.3g\n", worst);
    assert_true(worst < 4e-7);
    assert_true(fabs(m0) < 0.02); /* sd 1/8/sqrt(1000) = 0.004 */
    /* the same numbers as z / |z| from DATA a=1 */
    {
        uint64_t stream = ggdm_stream_id(GGDM_STREAM_DATA, 1, 0);
        double z[64], n = 0;
        int j;
        for (j = 0; j < 64; j++) {
            z[j] = (double)ggdm_rng_normal(2345, stream, 5 * 64 + (uint64_t)j);
            n = fma(z[j], z[j], n);
        }
        n = sqrt(n);
        for (j = 0; j < 64; j++)
            assert_true(bits32(xs[5 * 64 + j]) == bits32((float)(z[j] / n)));
    }
}

static void test_ratio(void **state)
{
    float x[4 * 8];
    double r[4];
    int i, k;
    (void)state;
    hyper(3, 8, 3);
    for (i = 0; i < 8; i++) {
        x[i] = (float)A[8 + i];          /* a row of A: on the support */
        x[8 + i] = 0.0f;                 /* zero: 0 / (0 + 1e-8) = 0 */
        x[16 + i] = (float)theta2[i];    /* |v| / |p| = 9 */
    }
    /* an off-support vector: x - P x for x = e_0 */
    {
        double e[8] = {1, 0, 0, 0, 0, 0, 0, 0};
        for (i = 0; i < 8; i++) {
            double p = 0;
            for (k = 0; k < 3; k++)
                p += A[k * 8 + i] * A[k * 8];
            x[24 + i] = (float)(e[i] - p);
        }
    }
    assert_int_equal(ggdm_ratio_linear_latent(A, 3, 8, x, 4, r), GGDM_OK);
    assert_true(r[0] < 1e-7);
    assert_true(r[1] == 0.0);
    assert_true(fabs(r[2] - 9.0) < 1e-5);
    assert_true(r[3] > 1e5);
    /* the definition: float64 chains, |v| / (|p| + 1e-8) */
    {
        double c[3], vv = 0, pp = 0;
        for (k = 0; k < 3; k++) {
            c[k] = 0;
            for (i = 0; i < 8; i++)
                c[k] = fma(A[k * 8 + i], (double)x[16 + i], c[k]);
        }
        for (i = 0; i < 8; i++) {
            double p = 0, v;
            for (k = 0; k < 3; k++)
                p = fma(A[k * 8 + i], c[k], p);
            v = (double)x[16 + i] - p;
            vv = fma(v, v, vv);
            pp = fma(p, p, pp);
        }
        assert_true(bits64(r[2]) == bits64(sqrt(vv) / (sqrt(pp) + 1e-8)));
    }
    /* unit ball */
    {
        float u[3] = {0.6f, 0.8f, 0.0f}, w[3] = {0, 0, 0};
        double ru[2];
        float uw[6];
        memcpy(uw, u, sizeof u);
        memcpy(uw + 3, w, sizeof w);
        assert_int_equal(ggdm_ratio_unit_ball(3, uw, 2, ru), GGDM_OK);
        assert_true(fabs(ru[0]) < 1e-7);
        assert_true(ru[1] == -1.0);
    }
    /* NaN input: NaN ratio, no error */
    x[3] = strtof("nan", 0);
    assert_int_equal(ggdm_ratio_linear_latent(A, 3, 8, x, 1, r), GGDM_OK);
    assert_true(r[0] != r[0]);
}

static void test_argument_errors(void **state)
{
    float x[64];
    double r[1], th[4];
    (void)state;
    assert_true(ggdm_hyper_linear_latent_work_doubles(64, 16) == 64 * 16 + 3 * 16 + 2 * 64);
    assert_true(ggdm_hyper_linear_latent_work_doubles(4, 5) == 0);
    assert_true(ggdm_hyper_linear_latent_work_doubles(0, 0) == 0);
    assert_true(ggdm_hyper_linear_latent_work_doubles(2000, GGDM_DATA_MAX_LATENT + 1) == 0);
    assert_int_equal(ggdm_hyper_linear_latent(1, 64, 16, 9, A, theta1, theta2, 0, b2, work, 64 * 16 + 3 * 16 + 2 * 64 - 1),
                     GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_hyper_linear_latent(1, 4, 5, 9, A, 0, 0, 0, 0, work, 1000), GGDM_ERR_ARG);
    assert_int_equal(ggdm_hyper_linear_latent(1, 4, 0, 9, A, 0, 0, 0, 0, work, 1000), GGDM_ERR_ARG);
    assert_int_equal(ggdm_hyper_linear_latent(1, 4, 2, 9, 0, 0, 0, 0, 0, work, 1000), GGDM_ERR_ARG);
    assert_int_equal(ggdm_hyper_linear_latent(1, 4, 2, 9, A, 0, 0, 0, 0, 0, 1000), GGDM_ERR_ARG);
    assert_int_equal(ggdm_hyper_linear_latent(1, 4, 2, HUGE_VAL, A, 0, theta2, 0, 0, work, 1000), GGDM_ERR_ARG);
    assert_int_equal(ggdm_hyper_linear_latent(1, 4, 4, 9, A, 0, theta2, 0, 0, work, 1000), GGDM_ERR_ARG); /* d = D */
    assert_int_equal(ggdm_hyper_linear_latent(1, 4, 4, 9, A, theta1, 0, 0, b2, work, 1000), GGDM_OK);
    assert_int_equal(ggdm_hyper_unit_ball(1, 0, th), GGDM_ERR_ARG);
    assert_int_equal(ggdm_hyper_unit_ball(1, 4, 0), GGDM_ERR_ARG);
    assert_int_equal(ggdm_data_linear_latent(1, 0, 2, 4, 0, 1, x), GGDM_ERR_ARG);
    assert_int_equal(ggdm_data_linear_latent(1, A, 2, 4, 0, 1, 0), GGDM_ERR_ARG);
    assert_int_equal(ggdm_data_linear_latent(1, A, 5, 4, 0, 1, x), GGDM_ERR_ARG);
    assert_int_equal(ggdm_data_linear_latent(1, A, 2, 4, UINT64_MAX / 2, 1, x), GGDM_ERR_ARG); /* index overflow */
    assert_int_equal(ggdm_data_linear_latent(1, A, 2, 4, UINT64_MAX, 2, x), GGDM_ERR_ARG);
    assert_int_equal(ggdm_data_unit_ball(1, 0, 0, 1, x), GGDM_ERR_ARG);
    assert_int_equal(ggdm_data_unit_ball(1, 4, UINT64_MAX / 4, 1, x), GGDM_ERR_ARG);
    assert_int_equal(ggdm_ratio_linear_latent(A, 2, 4, 0, 1, r), GGDM_ERR_ARG);
    assert_int_equal(ggdm_ratio_linear_latent(A, 2, 4, x, 1, 0), GGDM_ERR_ARG);
    assert_int_equal(ggdm_ratio_linear_latent(A, 0, 4, x, 1, r), GGDM_ERR_ARG);
    assert_int_equal(ggdm_ratio_unit_ball(0, x, 1, r), GGDM_ERR_ARG);
    assert_int_equal(ggdm_ratio_unit_ball(4, x, 0, 0), GGDM_OK);
}

static void test_unit_ball_theta(void **state)
{
    double th[64], n = 0;
    int i;
    (void)state;
    assert_int_equal(ggdm_hyper_unit_ball(1, 64, th), GGDM_OK);
    for (i = 0; i < 64; i++) {
        double z = (double)ggdm_rng_normal(1, ggdm_stream_id(GGDM_STREAM_HYPER, 4, 0), (uint64_t)i);
        n = fma(z, z, n);
    }
    n = sqrt(n);
    for (i = 0; i < 64; i++) {
        double z = (double)ggdm_rng_normal(1, ggdm_stream_id(GGDM_STREAM_HYPER, 4, 0), (uint64_t)i);
        assert_true(bits64(th[i]) == bits64(z / n));
    }
    assert_true(fabs(dot(th, th, 64) - 1) < 1e-14);
}

/* ------------------------------------------------------------------ authors' files */

static uint8_t authors[1u << 20];
static char msg[GGDM_NPY_MSG_LEN];

static uint64_t read_authors(const char *file)
{
    static const char *const dirs[] = {"../shared/data/authors/", "/work/shared/data/authors/"};
    char path[512];
    const char *env = getenv("GGDM_AUTHORS_DIR");
    size_t d;
    for (d = 0; d < 3; d++) {
        const char *dir = d == 0 ? env : dirs[d - 1];
        FILE *f;
        size_t n;
        if (!dir || !dir[0])
            continue;
        snprintf(path, sizeof path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", file);
        f = fopen(path, "rb");
        if (!f)
            continue;
        n = fread(authors, 1, sizeof authors, f);
        assert_true(feof(f));
        fclose(f);
        return (uint64_t)n;
    }
    return 0;
}

static void load(uint64_t len, const char *name, double *out, uint64_t count)
{
    uint64_t off = 0, mlen = 0;
    ggdm_npy_info info;
    assert_int_equal(ggdm_npz_find(authors, len, name, &off, &mlen, msg), GGDM_OK);
    assert_int_equal(ggdm_npy_parse(authors + off, mlen, mlen, &info), GGDM_OK);
    assert_true(info.count == count);
    assert_int_equal(ggdm_npy_decode_f64(&info, authors + off + info.header_bytes, out, count), GGDM_OK);
}

static void test_authors_files(void **state)
{
    static double aA[16 * 64], t1[64], t2[64], ab1[1], ab2[64], bb1[64], ut[64];
    static float xr[18 * 64], g[18 * 64];
    double r[18], f[18];
    uint64_t len;
    int i, j;
    (void)state;
    len = read_authors("linear_latent_hyperparameters.npz");
    if (len == 0) {
        print_message("SKIP: the authors' files are not in ../shared/data/authors or /work/shared/data/authors"
                      " (set GGDM_AUTHORS_DIR)\n");
        skip();
    }
    load(len, "A", aA, 16 * 64);
    load(len, "theta_1", t1, 64);
    load(len, "theta_2", t2, 64);
    load(len, "b_1", ab1, 1);
    load(len, "b_2", ab2, 64);
    for (i = 0; i < 16; i++)
        for (j = 0; j < 16; j++)
            assert_true(fabs(dot(aA + i * 64, aA + j * 64, 64) - (i == j)) < 1e-12);
    assert_true(fabs(dot(t1, t1, 64) - 1) < 1e-12);
    assert_true(fabs(dot(t2, t2, 64) - 1) < 1e-12);
    assert_true(ab1[0] == 4.0);
    /* ggdm's ratio on the authors' vectors (as float32): rows of A and theta_1 on the support,
     * theta_2 with |v| / |p| = r_off = 9 (the construction ggdm reproduces) */
    for (i = 0; i < 16; i++)
        for (j = 0; j < 64; j++)
            xr[i * 64 + j] = (float)aA[i * 64 + j];
    for (j = 0; j < 64; j++) {
        xr[16 * 64 + j] = (float)t1[j];
        xr[17 * 64 + j] = (float)t2[j];
    }
    assert_int_equal(ggdm_ratio_linear_latent(aA, 16, 64, xr, 18, r), GGDM_OK);
    for (i = 0; i < 17; i++)
        assert_true(r[i] < 1e-6);
    print_message("authors: theta_2 off/on-support ratio %.9f (r_off = 9), theta_1 %.3g\n", r[17], r[16]);
    assert_true(fabs(r[17] - 9.0) < 1e-5);
    /* rewards of the rows of A, theta_1, theta_2: finite, with the analytic gradients */
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_QUADRATIC, t2, 64, xr, 18, f, g), GGDM_OK);
    /* f(theta_2) = 10 - (|theta_2|^2 - 3)^2 = 6 */
    assert_true(fabs(f[17] - 6.0) < 1e-6);
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_QUADRATIC, t1, 64, xr, 18, f, g), GGDM_OK);
    assert_true(fabs(f[16] - 6.0) < 1e-6);
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_NEGNORMPLUS, ab2, 64, xr, 18, f, g), GGDM_OK);
    for (i = 0; i < 64; i++)
        bb1[i] = ab1[0];
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_NEGNORMPLUS, bb1, 64, xr, 18, f, g), GGDM_OK);
    /* |e_k-ish - 4| ~ 32: f ~ 5 - 16 */
    for (i = 0; i < 18; i++)
        assert_true(f[i] < -9 && f[i] > -13);

    len = read_authors("unit_ball_hyperparameters.npz");
    assert_true(len > 0);
    load(len, "theta", ut, 64);
    assert_true(fabs(dot(ut, ut, 64) - 1) < 1e-12);
    assert_int_equal(ggdm_data_unit_ball(2345, 64, 0, 18, xr), GGDM_OK);
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_LINEAR, ut, 64, xr, 18, f, g), GGDM_OK);
    for (i = 0; i < 18; i++)
        assert_true(fabs(f[i]) <= 1.0 + 1e-6); /* |theta^T x| <= 1 on the sphere */
    for (j = 0; j < 64; j++)
        assert_true(g[j] == (float)ut[j]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orthonormal_and_haar_signs),
        cmocka_unit_test(test_haar_moments),
        cmocka_unit_test(test_reward_parameters),
        cmocka_unit_test(test_optional_outputs_and_determinism),
        cmocka_unit_test(test_pinned_values),
        cmocka_unit_test(test_linear_latent_data),
        cmocka_unit_test(test_split_independence),
        cmocka_unit_test(test_unit_ball_data),
        cmocka_unit_test(test_ratio),
        cmocka_unit_test(test_argument_errors),
        cmocka_unit_test(test_unit_ball_theta),
        cmocka_unit_test(test_authors_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
