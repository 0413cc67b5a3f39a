/*
 * ggdm/reward.h - the reward functions of the paper's experiments (original.md §7),
 * float64 with analytic gradients (docs/data.md, "Rewards").
 *
 *   linear       f = theta^T x                 grad = theta
 *   quadratic    f = 10 - (theta^T x - 3)^2     grad = -2 (theta^T x - 3) theta
 *   negnormplus  f = 5 - 0.5 |x - b|           grad = -0.5 (x - b) / |x - b|  (0 at x == b)
 *
 * x is float32 and is widened exactly; theta^T x = chain over j of
 * acc = fma(theta_j, (double)x_j, acc); |u| = sqrt(chain over j of fma(u_j, u_j, acc))
 * with u_j = (double)x_j - b_j. f is float64; each gradient element is its float64
 * expression (in the order written in ggdm_reward_one) rounded once to float32.
 */
#ifndef GGDM_REWARD_H
#define GGDM_REWARD_H

#include <stdint.h>

#include "ggdm/dmath.h"
#include "ggdm/hostdev.h"
#include "ggdm/status.h"

typedef enum ggdm_reward_kind {
    GGDM_REWARD_LINEAR = 0,     /* unit_ball:     theta                          */
    GGDM_REWARD_QUADRATIC = 1,  /* linear_latent: theta_2 (or theta_1)           */
    GGDM_REWARD_NEGNORMPLUS = 2 /* linear_latent: b_2 (or b_1 broadcast to [D])  */
} ggdm_reward_kind;

/*
 * One sample: returns f(x); when grad is not null writes grad[0 .. D) (float32).
 * param is theta [D] (linear, quadratic) or b [D] (negnormplus). An unknown kind
 * returns NaN and writes no gradient. Exact order:
 *   linear:      s = chain fma(theta_j, x_j);  f = s;  grad_j = (float)theta_j
 *   quadratic:   s as above;  e = s - 3;  f = 10 - e * e;  c = -2 * e;  grad_j = (float)(c * theta_j)
 *   negnormplus: r = sqrt(chain fma(u_j, u_j)), u_j = x_j - b_j;  f = 5 - 0.5 * r;
 *                grad_j = r > 0 ? (float)((-0.5 * u_j) / r) : 0
 */
GGDM_HD static inline double ggdm_reward_one(ggdm_reward_kind kind, const double *param, int D,
                                             const float *x, float *grad)
{
    double acc = 0.0;
    int j;
    if (kind == GGDM_REWARD_LINEAR || kind == GGDM_REWARD_QUADRATIC) {
        for (j = 0; j < D; j++)
            acc = fma(param[j], (double)x[j], acc);
        if (kind == GGDM_REWARD_LINEAR) {
            if (grad)
                for (j = 0; j < D; j++)
                    grad[j] = (float)param[j];
            return acc;
        } else {
            double e = acc - 3.0;
            double c = -2.0 * e;
            if (grad)
                for (j = 0; j < D; j++)
                    grad[j] = (float)(c * param[j]);
            return 10.0 - e * e;
        }
    }
    if (kind == GGDM_REWARD_NEGNORMPLUS) {
        double r;
        for (j = 0; j < D; j++) {
            double u = (double)x[j] - param[j];
            acc = fma(u, u, acc);
        }
        r = ggdm_sqrt(acc);
        if (grad)
            for (j = 0; j < D; j++)
                grad[j] = r > 0.0 ? (float)((-0.5 * ((double)x[j] - param[j])) / r) : 0.0f;
        return 5.0 - 0.5 * r;
    }
    return ggdm_dm_nan();
}

/*
 * n samples x [n*D] (float32): f [n] (float64) and, when grad is not null, grad [n*D]
 * (float32). Every sample is computed; GGDM_ERR_NONFINITE if any f is NaN or
 * infinite (the outputs are still written). GGDM_ERR_ARG: unknown kind, D < 1, null
 * param/x/f with n > 0.
 */
ggdm_status ggdm_reward_eval(ggdm_reward_kind kind, const double *param, int D, const float *x,
                             uint64_t n, double *f, float *grad);

/* "linear", "quadratic", "negnormplus" (GGDM_ERR_ARG otherwise). */
ggdm_status ggdm_reward_kind_parse(const char *name, ggdm_reward_kind *kind);
/* The name of a kind ("unknown" for an invalid one). */
const char *ggdm_reward_kind_name(ggdm_reward_kind kind);

#endif /* GGDM_REWARD_H */
