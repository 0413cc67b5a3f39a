/*
 * The exact noise predictor of linear_latent data (ggdm/analytic.h): against an explicit
 * float64 inverse of the noised covariance, the exact order of its chains, symmetry of the
 * Jacobian and vjp == eps(v), the orthogonality principle of the MMSE predictor (sampled),
 * DDPM steps keep points of span(A) in span(A), per-sample independence, argument errors.
 */
#include <math.h>

#include "ggdm/analytic.h"
#include "ggdm/data.h"
#include "ggdm/rng.h"
#include "ggdm/schedule.h"
#include "ggdm_test.h"

enum { T = 200 };

static float tab[GGDM_SCHED_NUM_TABLES * T];
static const float *sab, *s1mab;
static double A[64 * 64], work[64 * 64 + 8 * 64];

static uint32_t bits32(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static void setup(int D, int d, uint64_t seed)
{
    size_t need = ggdm_hyper_linear_latent_work_doubles(D, d);
    assert_true(need > 0 && need <= sizeof work / sizeof work[0]);
    assert_int_equal(ggdm_hyper_linear_latent(seed, D, d, 9.0, A, 0, 0, 0, 0, work, need), GGDM_OK);
    assert_int_equal(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, T, tab, sizeof tab / sizeof tab[0]), GGDM_OK);
    sab = tab + GGDM_SCHED_SQRT_ALPHAS_CUMPROD * T;
    s1mab = tab + GGDM_SCHED_SQRT_ONE_MINUS_ALPHAS_CUMPROD * T;
}

/* Solves M y = r (n x n, Gauss-Jordan with partial pivoting, float64); M is destroyed. */
static void solve(int n, double *M, double *r)
{
    int c, i, j;
    for (c = 0; c < n; c++) {
        int piv = c;
        for (i = c + 1; i < n; i++)
            if (fabs(M[i * n + c]) > fabs(M[piv * n + c]))
                piv = i;
        if (piv != c) {
            double t;
            for (j = 0; j < n; j++) {
                t = M[c * n + j];
                M[c * n + j] = M[piv * n + j];
                M[piv * n + j] = t;
            }
            t = r[c];
            r[c] = r[piv];
            r[piv] = t;
        }
        for (i = 0; i < n; i++) {
            double f;
            if (i == c)
                continue;
            f = M[i * n + c] / M[c * n + c];
            for (j = c; j < n; j++)
                M[i * n + j] -= f * M[c * n + j];
            r[i] -= f * r[c];
        }
    }
    for (i = 0; i < n; i++)
        r[i] /= M[i * n + i];
}

static void test_against_explicit_inverse(void **state)
{
    enum { D = 8, d = 3, N = 6 };
    static const int64_t ts[N] = {0, 1, 17, 100, 198, 199};
    float x[N * D], eps[N * D];
    double worst = 0;
    int i, j, k, q;
    (void)state;
    setup(D, d, 5);
    ggdm_rng_fill_normal(3, ggdm_stream_id(GGDM_STREAM_TEST, 90, 0), 0, x, N * D);
    assert_int_equal(ggdm_analytic_eps(A, d, D, x, ts, N, sab, s1mab, T, eps), GGDM_OK);
    for (i = 0; i < N; i++) {
        double a = sab[ts[i]], n = s1mab[ts[i]], M[D * D], r[D];
        for (j = 0; j < D; j++) {
            for (k = 0; k < D; k++) {
                double p = 0;
                for (q = 0; q < d; q++)
                    p += A[q * D + j] * A[q * D + k];
                M[j * D + k] = a * a * p + (j == k ? n * n : 0.0);
            }
            r[j] = x[i * D + j];
        }
        solve(D, M, r); /* r = (a^2 P + n^2 I)^{-1} x */
        for (j = 0; j < D; j++) {
            double ref = n * r[j];
            double err = fabs((double)eps[i * D + j] - ref) / (fabs(ref) + 1e-300);
            if (err > worst)
                worst = err;
            assert_true(err < 1.2e-7); /* one float32 rounding (2^-24 = 6e-8) plus float64 noise */
        }
    }
    print_message("analytic eps vs explicit float64 inverse: worst relative error %.3g\n", worst);
}

/* The documented chains, bit for bit. */
static void test_exact_order(void **state)
{
    enum { D = 64, d = 16, N = 3 };
    static float x[N * D], eps[N * D];
    static const int64_t ts[N] = {0, 77, 199};
    int i, j, q;
    (void)state;
    setup(D, d, 2345);
    ggdm_rng_fill_normal(4, ggdm_stream_id(GGDM_STREAM_TEST, 91, 0), 0, x, N * D);
    assert_int_equal(ggdm_analytic_eps(A, d, D, x, ts, N, sab, s1mab, T, eps), GGDM_OK);
    for (i = 0; i < N; i++) {
        double a = sab[ts[i]], n = s1mab[ts[i]], c[d], kk = n / (a * a + n * n);
        for (q = 0; q < d; q++) {
            c[q] = 0;
            for (j = 0; j < D; j++)
                c[q] = fma(A[q * D + j], (double)x[i * D + j], c[q]);
        }
        for (j = 0; j < D; j++) {
            double p = 0;
            for (q = 0; q < d; q++)
                p = fma(A[q * D + j], c[q], p);
            assert_true(bits32(eps[i * D + j]) == bits32((float)(kk * p + ((double)x[i * D + j] - p) / n)));
        }
    }
}

/* J is symmetric; vjp(v) has the bits of eps(v); eps is linear (J e_j = eps(e_j)). */
static void test_jacobian(void **state)
{
    enum { D = 16, d = 5 };
    static float E[D * D], J[D * D], v[3 * D], out[3 * D], out2[3 * D];
    int64_t t[D];
    int i, j;
    (void)state;
    setup(D, d, 8);
    for (i = 0; i < D; i++) {
        t[i] = 60;
        for (j = 0; j < D; j++)
            E[i * D + j] = i == j ? 1.0f : 0.0f;
    }
    assert_int_equal(ggdm_analytic_vjp(A, d, D, t, D, sab, s1mab, T, E, J), GGDM_OK); /* row i = J^T e_i */
    for (i = 0; i < D; i++)
        for (j = 0; j < i; j++)
            assert_true(fabs(J[i * D + j] - J[j * D + i]) <= 2e-7 * (fabs(J[i * D + j]) + 1e-3));
    /* diagonal: between k = n / (a^2 + n^2) and 1 / n */
    {
        double a = sab[60], n = s1mab[60], lo = n / (a * a + n * n), hi = 1.0 / n;
        for (i = 0; i < D; i++)
            assert_true(J[i * D + i] > lo * (1 - 1e-6) && J[i * D + i] < hi * (1 + 1e-6));
        /* trace = d k + (D - d) / n */
        {
            double tr = 0;
            for (i = 0; i < D; i++)
                tr += J[i * D + i];
            assert_true(fabs(tr - (d * lo + (D - d) * hi)) < 1e-5 * tr);
        }
    }
    ggdm_rng_fill_normal(9, ggdm_stream_id(GGDM_STREAM_TEST, 92, 0), 0, v, 3 * D);
    t[1] = 0;
    t[2] = 199;
    assert_int_equal(ggdm_analytic_vjp(A, d, D, t, 3, sab, s1mab, T, v, out), GGDM_OK);
    assert_int_equal(ggdm_analytic_eps(A, d, D, v, t, 3, sab, s1mab, T, out2), GGDM_OK);
    assert_memory_equal(out, out2, sizeof out);
    /* J v from the columns: sum_j J[:, j] v_j (float64) equals vjp(v) to float32 rounding */
    for (i = 0; i < D; i++) {
        double s = 0;
        for (j = 0; j < D; j++)
            s += (double)J[j * D + i] * v[j];
        assert_true(fabs(s - out[i]) < 1e-5 * (fabs(s) + 1.0));
    }
}

/*
 * The MMSE predictor's error is uncorrelated with every linear function of x_t:
 * E[(eps(x_t) - z) x_t^T] = 0 for x_t = a x0 + n z, x0 = z0 A (sampled).
 */
static void test_orthogonality_principle(void **state)
{
    enum { D = 8, d = 3, N = 4000 };
    static float x0[N * D], z[N * D], xt[N * D], eps[N * D];
    static int64_t t[N];
    static const int64_t steps[3] = {20, 100, 180};
    int s, i, j, k;
    (void)state;
    setup(D, d, 21);
    assert_int_equal(ggdm_data_linear_latent(21, A, d, D, 0, N, x0), GGDM_OK);
    ggdm_rng_fill_normal(21, ggdm_stream_id(GGDM_STREAM_TEST, 93, 0), 0, z, (uint64_t)N * D);
    for (s = 0; s < 3; s++) {
        double C[D * D] = {0}, worst = 0, wrong = 0;
        float a = sab[steps[s]], n = s1mab[steps[s]];
        for (i = 0; i < N; i++) {
            t[i] = steps[s];
            for (j = 0; j < D; j++)
                xt[i * D + j] = a * x0[i * D + j] + n * z[i * D + j];
        }
        assert_int_equal(ggdm_analytic_eps(A, d, D, xt, t, N, sab, s1mab, T, eps), GGDM_OK);
        for (i = 0; i < N; i++)
            for (j = 0; j < D; j++)
                for (k = 0; k < D; k++)
                    C[j * D + k] += ((double)eps[i * D + j] - z[i * D + j]) * xt[i * D + k] / N;
        for (j = 0; j < D * D; j++)
            if (fabs(C[j]) > worst)
                worst = fabs(C[j]);
        /* the naive predictor x / n (ignoring the data): visibly correlated (entry 0, 0) */
        for (i = 0; i < N; i++)
            wrong += ((double)xt[i * D] / n - z[i * D]) * xt[i * D] / N;
        print_message("t = %d: max |E[(eps - z) x_t^T]| %.3g (naive x/n: %.3g)\n", (int)steps[s], worst, fabs(wrong));
        assert_true(worst < 0.1); /* sampling sd ~ 1/sqrt(N) = 0.016 */
        if (steps[s] <= 100) /* (late steps: a ~ 0, and x / n is nearly right) */
            assert_true(fabs(wrong) > 0.2);
    }
}

/* One DDPM step (the original's formula, float32, noise-free mean) from a point of span(A)
 * stays in span(A); from a point orthogonal to it, the predicted x0 is 0. */
static void test_ddpm_step_keeps_support(void **state)
{
    enum { D = 64, d = 16, N = 8 };
    static float x[N * D], eps[N * D], mean[N * D], x0[N * D];
    static int64_t t[N];
    static double r[N];
    const float *rab = tab + GGDM_SCHED_SQRT_RECIP_ALPHAS_CUMPROD * T;
    const float *rm1 = tab + GGDM_SCHED_SQRT_RECIPM1_ALPHAS_CUMPROD * T;
    const float *c1 = tab + GGDM_SCHED_POSTERIOR_MEAN_COEF1 * T;
    const float *c2 = tab + GGDM_SCHED_POSTERIOR_MEAN_COEF2 * T;
    int i, j, q;
    double worst = 0;
    (void)state;
    setup(D, d, 2345);
    assert_int_equal(ggdm_data_linear_latent(77, A, d, D, 0, N, x), GGDM_OK);
    for (i = 0; i < N; i++)
        t[i] = (int64_t)(i * 28 + 1);
    assert_int_equal(ggdm_analytic_eps(A, d, D, x, t, N, sab, s1mab, T, eps), GGDM_OK);
    for (i = 0; i < N; i++)
        for (j = 0; j < D; j++) {
            int64_t s = t[i];
            float xz = rab[s] * x[i * D + j] - rm1[s] * eps[i * D + j];
            mean[i * D + j] = c1[s] * xz + c2[s] * x[i * D + j];
        }
    assert_int_equal(ggdm_ratio_linear_latent(A, d, D, mean, N, r), GGDM_OK);
    for (i = 0; i < N; i++)
        if (r[i] > worst)
            worst = r[i];
    print_message("DDPM mean from span(A): max off-support ratio %.3g\n", worst);
    assert_true(worst < 1e-5);
    /* off-support input: x = (I - P) g; x0hat = (x - n eps) / a = 0 up to rounding */
    ggdm_rng_fill_normal(5, ggdm_stream_id(GGDM_STREAM_TEST, 94, 0), 0, x, N * D);
    for (i = 0; i < N; i++) {
        double c[d];
        for (q = 0; q < d; q++) {
            c[q] = 0;
            for (j = 0; j < D; j++)
                c[q] += A[q * D + j] * x[i * D + j];
        }
        for (j = 0; j < D; j++) {
            double p = 0;
            for (q = 0; q < d; q++)
                p += A[q * D + j] * c[q];
            x[i * D + j] = (float)(x[i * D + j] - p);
        }
    }
    assert_int_equal(ggdm_analytic_eps(A, d, D, x, t, N, sab, s1mab, T, eps), GGDM_OK);
    for (i = 0; i < N; i++) {
        double nx = 0, n0 = 0, a = sab[t[i]], n = s1mab[t[i]];
        for (j = 0; j < D; j++) {
            x0[i * D + j] = (float)(((double)x[i * D + j] - n * eps[i * D + j]) / a);
            n0 += (double)x0[i * D + j] * x0[i * D + j];
            nx += (double)x[i * D + j] * x[i * D + j];
        }
        assert_true(sqrt(n0) < 1e-5 * sqrt(nx) / a);
    }
}

/* Each sample depends only on itself: one call over N equals N calls of one. */
static void test_per_sample_independence(void **state)
{
    enum { D = 64, d = 16, N = 5 };
    static float x[N * D], eps[N * D], one[D];
    static const int64_t t[N] = {199, 0, 3, 150, 42};
    int i;
    (void)state;
    setup(D, d, 1);
    ggdm_rng_fill_normal(6, ggdm_stream_id(GGDM_STREAM_TEST, 95, 0), 0, x, N * D);
    assert_int_equal(ggdm_analytic_eps(A, d, D, x, t, N, sab, s1mab, T, eps), GGDM_OK);
    for (i = 0; i < N; i++) {
        assert_int_equal(ggdm_analytic_eps(A, d, D, x + i * D, t + i, 1, sab, s1mab, T, one), GGDM_OK);
        assert_memory_equal(one, eps + i * D, sizeof one);
    }
}

static void test_argument_errors(void **state)
{
    enum { D = 8, d = 3 };
    float x[D] = {0}, out[D], bad[T];
    int64_t t = 5;
    (void)state;
    setup(D, d, 1);
    assert_int_equal(ggdm_analytic_eps(A, d, D, x, &t, 1, sab, s1mab, T, out), GGDM_OK);
    assert_int_equal(ggdm_analytic_eps(0, d, D, x, &t, 1, sab, s1mab, T, out), GGDM_ERR_ARG);
    assert_int_equal(ggdm_analytic_eps(A, D + 1, D, x, &t, 1, sab, s1mab, T, out), GGDM_ERR_ARG);
    assert_int_equal(ggdm_analytic_eps(A, 0, D, x, &t, 1, sab, s1mab, T, out), GGDM_ERR_ARG);
    assert_int_equal(ggdm_analytic_eps(A, d, D, 0, &t, 1, sab, s1mab, T, out), GGDM_ERR_ARG);
    assert_int_equal(ggdm_analytic_eps(A, d, D, x, 0, 1, sab, s1mab, T, out), GGDM_ERR_ARG);
    assert_int_equal(ggdm_analytic_eps(A, d, D, x, &t, 1, 0, s1mab, T, out), GGDM_ERR_ARG);
    assert_int_equal(ggdm_analytic_eps(A, d, D, x, &t, 1, sab, s1mab, T, 0), GGDM_ERR_ARG);
    assert_int_equal(ggdm_analytic_eps(A, d, D, x, &t, -1, sab, s1mab, T, out), GGDM_ERR_ARG);
    assert_int_equal(ggdm_analytic_eps(A, d, D, 0, 0, 0, 0, 0, T, 0), GGDM_OK);
    t = T;
    assert_int_equal(ggdm_analytic_eps(A, d, D, x, &t, 1, sab, s1mab, T, out), GGDM_ERR_ARG);
    t = -1;
    assert_int_equal(ggdm_analytic_vjp(A, d, D, &t, 1, sab, s1mab, T, x, out), GGDM_ERR_ARG);
    t = 3;
    memcpy(bad, s1mab, sizeof bad);
    bad[3] = 0.0f; /* n = 0: no noise, eps undefined */
    assert_int_equal(ggdm_analytic_eps(A, d, D, x, &t, 1, sab, bad, T, out), GGDM_ERR_ARG);
    bad[3] = strtof("nan", 0);
    assert_int_equal(ggdm_analytic_vjp(A, d, D, &t, 1, sab, bad, T, x, out), GGDM_ERR_ARG);
    t = 4; /* other steps of the same table are fine */
    assert_int_equal(ggdm_analytic_vjp(A, d, D, &t, 1, sab, bad, T, x, out), GGDM_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_explicit_inverse),
        cmocka_unit_test(test_exact_order),
        cmocka_unit_test(test_jacobian),
        cmocka_unit_test(test_orthogonality_principle),
        cmocka_unit_test(test_ddpm_step_keeps_support),
        cmocka_unit_test(test_per_sample_independence),
        cmocka_unit_test(test_argument_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
