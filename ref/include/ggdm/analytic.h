/*
 * ggdm/analytic.h - the exact noise predictor (score model) of linear_latent data,
 * used in place of the network (`--score analytic`). docs/data.md, "Analytic score".
 *
 * For x0 = z A, z ~ N(0, I_d), A with orthonormal rows (P = A^T A the projector onto
 * its row space), the noised marginal at step t is N(0, a^2 P + n^2 I) with
 * a = sqrt_ab[t], n = sqrt_1mab[t] (the float32 schedule tables, widened exactly), so
 *   eps(x, t) = n (a^2 P + n^2 I)^{-1} x = k P x + (x - P x) / n,   k = n / (a^2 + n^2)
 *   J_eps     = k P + (I - P) / n           (symmetric, independent of x)
 * Exact order, float64 throughout, one rounding to float32 at the end:
 *   c_q = chain over j of acc = fma(A[q*D + j], (double)x_j, acc)      (q < d)
 *   p_j = chain over q of acc = fma(A[q*D + j], c_q, acc)
 *   k   = n / (a * a + n * n)
 *   eps_j = (float)(k * p_j + ((double)x_j - p_j) / n)
 * Because eps is linear in x, J^T v is the same formula applied to v: ggdm_analytic_vjp
 * returns exactly the bits of ggdm_analytic_eps(v).
 */
#ifndef GGDM_ANALYTIC_H
#define GGDM_ANALYTIC_H

#include <stdint.h>

#include "ggdm/data.h"
#include "ggdm/hostdev.h"
#include "ggdm/reduce.h"
#include "ggdm/status.h"

/*
 * One sample: out [D] = k P x + (x - P x) / n (the order above); c is the caller's
 * scratch of d doubles.
 */
GGDM_HD static inline void ggdm_analytic_apply_one(const double *A, int d, int D, const float *x,
                                                   double a, double n, double *c, float *out)
{
    double k = n / (a * a + n * n);
    int j, q;
    for (q = 0; q < d; q++) {
        const double *r = A + (long)q * D;
        double acc = 0.0;
        for (j = 0; j < D; j++)
            acc = fma(r[j], (double)x[j], acc);
        c[q] = acc;
    }
    for (j = 0; j < D; j++) {
        double p = ggdm_dot_f64(A + j, D, c, 1, d);
        out[j] = (float)(k * p + ((double)x[j] - p) / n);
    }
}

/*
 * eps [N*D] for x [N*D] at steps t [N] (each 0 <= t < T). d <= GGDM_DATA_MAX_LATENT,
 * 1 <= d <= D. GGDM_ERR_ARG: null pointers (N > 0), bad dimensions, a t out of range,
 * or table values at a used t that are not finite, negative, or n == 0.
 */
ggdm_status ggdm_analytic_eps(const double *A, int d, int D, const float *x, const int64_t *t, int N,
                              const float *sqrt_ab, const float *sqrt_1mab, int T, float *eps);

/* out [N*D] = J_eps(x_i, t_i)^T v_i (= J v: J is symmetric); same checks. */
ggdm_status ggdm_analytic_vjp(const double *A, int d, int D, const int64_t *t, int N,
                              const float *sqrt_ab, const float *sqrt_1mab, int T, const float *v,
                              float *out);

#endif /* GGDM_ANALYTIC_H */
