/*
 * Reward functions (ggdm/reward.h): the exact float64 chains, analytic gradients against
 * finite differences, the non-differentiable point of negnormplus, NaN/infinity handling,
 * per-sample independence, names and argument errors. (The authors' hyper-parameters are
 * checked with these rewards in test_data.)
 */
#include <math.h>

#include "ggdm/reward.h"
#include "ggdm/rng.h"
#include "ggdm_test.h"

enum { D = 64, N = 24 };

static double theta[D], b[D];
static float x[N * D], grad[N * D], g1[D];
static double f[N];

static uint64_t bits64(double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return u;
}

static uint32_t bits32(float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    return u;
}

static void setup_data(void)
{
    uint64_t s = ggdm_stream_id(GGDM_STREAM_TEST, 71, 0);
    int i;
    for (i = 0; i < D; i++) {
        theta[i] = (double)ggdm_rng_normal(1, s, (uint64_t)i) / 8.0 + 1e-3 * (double)ggdm_rng_uniform(1, s, 1000u + i);
        b[i] = 4.0 + 3.0 * (double)ggdm_rng_normal(1, s, 2000u + (uint64_t)i);
    }
    ggdm_rng_fill_normal(1, s, 5000, x, (uint64_t)N * D);
}

static double chain_dot(const double *t, const float *xi)
{
    double acc = 0;
    int j;
    for (j = 0; j < D; j++)
        acc = fma(t[j], (double)xi[j], acc);
    return acc;
}

static void test_exact_definitions(void **state)
{
    int i, j;
    (void)state;
    setup_data();
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_LINEAR, theta, D, x, N, f, grad), GGDM_OK);
    for (i = 0; i < N; i++) {
        assert_true(bits64(f[i]) == bits64(chain_dot(theta, x + i * D)));
        for (j = 0; j < D; j++)
            assert_true(bits32(grad[i * D + j]) == bits32((float)theta[j]));
    }
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_QUADRATIC, theta, D, x, N, f, grad), GGDM_OK);
    for (i = 0; i < N; i++) {
        double e = chain_dot(theta, x + i * D) - 3.0;
        assert_true(bits64(f[i]) == bits64(10.0 - e * e));
        for (j = 0; j < D; j++)
            assert_true(bits32(grad[i * D + j]) == bits32((float)(-2.0 * e * theta[j])));
    }
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_NEGNORMPLUS, b, D, x, N, f, grad), GGDM_OK);
    for (i = 0; i < N; i++) {
        double acc = 0, r;
        for (j = 0; j < D; j++) {
            double u = (double)x[i * D + j] - b[j];
            acc = fma(u, u, acc);
        }
        r = sqrt(acc);
        assert_true(bits64(f[i]) == bits64(5.0 - 0.5 * r));
        for (j = 0; j < D; j++)
            assert_true(bits32(grad[i * D + j]) == bits32((float)(-0.5 * ((double)x[i * D + j] - b[j]) / r)));
    }
}

/* Central differences in float64 of the float64 reward (x perturbed in double). */
static double reward_at(ggdm_reward_kind k, const double *p, const double *xd)
{
    /* the same math on a double point: linear/quadratic via theta^T x, negnormplus via |x - b| */
    double acc = 0;
    int j;
    if (k == GGDM_REWARD_NEGNORMPLUS) {
        for (j = 0; j < D; j++)
            acc += (xd[j] - p[j]) * (xd[j] - p[j]);
        return 5.0 - 0.5 * sqrt(acc);
    }
    for (j = 0; j < D; j++)
        acc += p[j] * xd[j];
    return k == GGDM_REWARD_LINEAR ? acc : 10.0 - (acc - 3.0) * (acc - 3.0);
}

static void test_gradients_vs_finite_differences(void **state)
{
    static const ggdm_reward_kind kinds[3] = {GGDM_REWARD_LINEAR, GGDM_REWARD_QUADRATIC, GGDM_REWARD_NEGNORMPLUS};
    double worst = 0;
    int k, i, j;
    (void)state;
    setup_data();
    for (k = 0; k < 3; k++) {
        const double *p = kinds[k] == GGDM_REWARD_NEGNORMPLUS ? b : theta;
        assert_int_equal(ggdm_reward_eval(kinds[k], p, D, x, N, f, grad), GGDM_OK);
        for (i = 0; i < N; i += 5) {
            double xd[D], gnorm = 0, err = 0;
            const double h = 1e-5;
            for (j = 0; j < D; j++)
                xd[j] = x[i * D + j];
            /* f itself agrees with the plain double evaluation */
            assert_true(fabs(f[i] - reward_at(kinds[k], p, xd)) < 1e-12 * (1 + fabs(f[i])));
            for (j = 0; j < D; j++) {
                double fp, fm, fd;
                xd[j] += h;
                fp = reward_at(kinds[k], p, xd);
                xd[j] -= 2 * h;
                fm = reward_at(kinds[k], p, xd);
                xd[j] += h;
                fd = (fp - fm) / (2 * h);
                err += (fd - grad[i * D + j]) * (fd - grad[i * D + j]);
                gnorm += fd * fd;
            }
            err = sqrt(err / gnorm);
            if (err > worst)
                worst = err;
            assert_true(err < 1e-6);
        }
    }
    print_message("rewards: gradients vs central differences, worst relative error %.2g\n", worst);
}

static void test_negnormplus_at_b(void **state)
{
    float xb[2 * 4] = {1.0f, -2.0f, 0.5f, 3.0f, 1.0f, -2.0f, 0.5f, 4.0f};
    double bb[4] = {1.0, -2.0, 0.5, 3.0}, ff[2];
    float gg[8];
    int j;
    (void)state;
    memset(gg, 0x7F, sizeof gg);
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_NEGNORMPLUS, bb, 4, xb, 2, ff, gg), GGDM_OK);
    assert_true(ff[0] == 5.0);
    for (j = 0; j < 4; j++)
        assert_true(bits32(gg[j]) == 0); /* +0, not NaN */
    assert_true(ff[1] == 4.5);           /* |x - b| = 1 */
    assert_true(gg[4] == 0.0f && gg[5] == 0.0f && gg[6] == 0.0f && gg[7] == -0.5f);
}

static void test_nonfinite(void **state)
{
    float xn[3 * 4] = {1, 2, 3, 4, 1, 0, 0, 0, 0, 0, 0, 1};
    double t[4] = {0.5, 0.25, -1, 2}, ff[3], want1;
    float gg[12];
    (void)state;
    want1 = ggdm_reward_one(GGDM_REWARD_QUADRATIC, t, 4, xn + 4, 0);
    xn[2] = strtof("nan", 0);
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_QUADRATIC, t, 4, xn, 3, ff, gg), GGDM_ERR_NONFINITE);
    assert_true(ff[0] != ff[0]);
    assert_true(bits64(ff[1]) == bits64(want1)); /* the other samples are still computed */
    assert_true(ff[2] == 10.0 - 1.0);            /* theta^T x = 2: 10 - (2 - 3)^2 */
    xn[2] = strtof("inf", 0);
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_LINEAR, t, 4, xn, 3, ff, 0), GGDM_ERR_NONFINITE);
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_NEGNORMPLUS, t, 4, xn, 3, ff, gg), GGDM_ERR_NONFINITE);
    /* finite inputs whose reward overflows float64: (theta^T x - 3)^2 = inf */
    xn[2] = 3e38f;
    xn[3] = 3e38f;
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_QUADRATIC, t, 4, xn, 3, ff, 0), GGDM_OK); /* 9e76 */
    t[3] = 1e200;
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_LINEAR, t, 4, xn, 3, ff, 0), GGDM_OK);
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_QUADRATIC, t, 4, xn, 3, ff, gg), GGDM_ERR_NONFINITE);
    assert_true(ff[0] == -HUGE_VAL);
    assert_true(ff[1] == 10.0 - 2.5 * 2.5); /* sample 1 (x = e_0) is unaffected */
    /* NaN parameter */
    xn[2] = 1;
    xn[3] = 1;
    t[1] = strtod("nan", 0);
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_LINEAR, t, 4, xn, 1, ff, 0), GGDM_ERR_NONFINITE);
}

/* Each sample's f and gradient depend on that sample only, grad NULL or not. */
static void test_per_sample_independence(void **state)
{
    static const ggdm_reward_kind kinds[3] = {GGDM_REWARD_LINEAR, GGDM_REWARD_QUADRATIC, GGDM_REWARD_NEGNORMPLUS};
    double f2[N];
    int k, i;
    (void)state;
    setup_data();
    for (k = 0; k < 3; k++) {
        const double *p = kinds[k] == GGDM_REWARD_NEGNORMPLUS ? b : theta;
        assert_int_equal(ggdm_reward_eval(kinds[k], p, D, x, N, f, grad), GGDM_OK);
        assert_int_equal(ggdm_reward_eval(kinds[k], p, D, x, N, f2, 0), GGDM_OK);
        assert_memory_equal(f, f2, sizeof f);
        for (i = 0; i < N; i++) {
            double one;
            assert_int_equal(ggdm_reward_eval(kinds[k], p, D, x + i * D, 1, &one, g1), GGDM_OK);
            assert_true(bits64(one) == bits64(f[i]));
            assert_memory_equal(g1, grad + i * D, sizeof g1);
        }
    }
}

static void test_names_and_errors(void **state)
{
    ggdm_reward_kind k = GGDM_REWARD_LINEAR;
    double ff[1];
    (void)state;
    assert_int_equal(ggdm_reward_kind_parse("quadratic", &k), GGDM_OK);
    assert_int_equal(k, GGDM_REWARD_QUADRATIC);
    assert_int_equal(ggdm_reward_kind_parse("negnormplus", &k), GGDM_OK);
    assert_int_equal(k, GGDM_REWARD_NEGNORMPLUS);
    assert_int_equal(ggdm_reward_kind_parse("linear", &k), GGDM_OK);
    assert_int_equal(k, GGDM_REWARD_LINEAR);
    assert_int_equal(ggdm_reward_kind_parse("Linear", &k), GGDM_ERR_ARG);
    assert_int_equal(ggdm_reward_kind_parse("linearx", &k), GGDM_ERR_ARG);
    assert_int_equal(ggdm_reward_kind_parse("line", &k), GGDM_ERR_ARG);
    assert_int_equal(ggdm_reward_kind_parse("", &k), GGDM_ERR_ARG);
    assert_int_equal(ggdm_reward_kind_parse(0, &k), GGDM_ERR_ARG);
    assert_int_equal(ggdm_reward_kind_parse("linear", 0), GGDM_ERR_ARG);
    assert_string_equal(ggdm_reward_kind_name(GGDM_REWARD_NEGNORMPLUS), "negnormplus");
    assert_string_equal(ggdm_reward_kind_name(GGDM_REWARD_QUADRATIC), "quadratic");
    assert_string_equal(ggdm_reward_kind_name(GGDM_REWARD_LINEAR), "linear");
    assert_string_equal(ggdm_reward_kind_name((ggdm_reward_kind)7), "unknown");
    setup_data();
    assert_int_equal(ggdm_reward_eval((ggdm_reward_kind)3, theta, D, x, 1, ff, 0), GGDM_ERR_ARG);
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_LINEAR, theta, 0, x, 1, ff, 0), GGDM_ERR_ARG);
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_LINEAR, 0, D, x, 1, ff, 0), GGDM_ERR_ARG);
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_LINEAR, theta, D, 0, 1, ff, 0), GGDM_ERR_ARG);
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_LINEAR, theta, D, x, 1, 0, 0), GGDM_ERR_ARG);
    assert_int_equal(ggdm_reward_eval(GGDM_REWARD_LINEAR, 0, D, 0, 0, 0, 0), GGDM_OK);
    assert_true(ggdm_reward_one((ggdm_reward_kind)9, theta, D, x, 0) != ggdm_reward_one((ggdm_reward_kind)9, theta, D, x, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_definitions),
        cmocka_unit_test(test_gradients_vs_finite_differences),
        cmocka_unit_test(test_negnormplus_at_b),
        cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_per_sample_independence),
        cmocka_unit_test(test_names_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
