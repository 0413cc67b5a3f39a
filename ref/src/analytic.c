/* The exact noise predictor of linear_latent data; the math is ggdm_analytic_apply_one. */
#include "ggdm/analytic.h"

static ggdm_status apply(const double *A, int d, int D, const float *x, const int64_t *t, int N,
                         const float *sqrt_ab, const float *sqrt_1mab, int T, float *out)
{
    double c[GGDM_DATA_MAX_LATENT];
    int i;
    if (!A || D < 1 || D > GGDM_DATA_MAX_DIM || d < 1 || d > D || d > GGDM_DATA_MAX_LATENT || N < 0 || T < 1)
        return GGDM_ERR_ARG;
    if (N > 0 && (!x || !t || !sqrt_ab || !sqrt_1mab || !out))
        return GGDM_ERR_ARG;
    for (i = 0; i < N; i++) { /* validate every sample before writing anything */
        double a, n;
        if (t[i] < 0 || t[i] >= T)
            return GGDM_ERR_ARG;
        a = (double)sqrt_ab[t[i]];
        n = (double)sqrt_1mab[t[i]];
        if (!(a >= 0.0 && a - a == 0.0 && n > 0.0 && n - n == 0.0))
            return GGDM_ERR_ARG;
    }
    for (i = 0; i < N; i++)
        ggdm_analytic_apply_one(A, d, D, x + (size_t)i * (size_t)D, (double)sqrt_ab[t[i]],
                                (double)sqrt_1mab[t[i]], c, out + (size_t)i * (size_t)D);
    return GGDM_OK;
}

ggdm_status ggdm_analytic_eps(const double *A, int d, int D, const float *x, const int64_t *t, int N,
                              const float *sqrt_ab, const float *sqrt_1mab, int T, float *eps)
{
    return apply(A, d, D, x, t, N, sqrt_ab, sqrt_1mab, T, eps);
}

ggdm_status ggdm_analytic_vjp(const double *A, int d, int D, const int64_t *t, int N,
                              const float *sqrt_ab, const float *sqrt_1mab, int T, const float *v,
                              float *out)
{
    return apply(A, d, D, v, t, N, sqrt_ab, sqrt_1mab, T, out);
}
