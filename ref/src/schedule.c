/*
 * Noise schedules, float64 throughout, each table rounded once to float32.
 * The operation order follows the original (see docs/math.md, "Schedules").
 */
#include "ggdm/schedule.h"

#include "ggdm/dmath.h"

static const char *const table_names[GGDM_SCHED_NUM_TABLES] = {
    "betas",
    "alphas_cumprod",
    "alphas_cumprod_prev",
    "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod",
    "log_one_minus_alphas_cumprod",
    "sqrt_recip_alphas_cumprod",
    "sqrt_recipm1_alphas_cumprod",
    "posterior_variance",
    "posterior_log_variance_clipped",
    "posterior_mean_coef1",
    "posterior_mean_coef2",
};

const char *ggdm_schedule_table_name(int k)
{
    if (k < 0 || k >= GGDM_SCHED_NUM_TABLES)
        return 0;
    return table_names[k];
}

ggdm_status ggdm_schedule_kind_parse(const char *name, ggdm_schedule_kind *kind)
{
    const char *s = name;
    if (!name || !kind)
        return GGDM_ERR_ARG;
    if (s[0] == 'c' && s[1] == 'o' && s[2] == 's' && s[3] == 'i' && s[4] == 'n' && s[5] == 'e' && !s[6]) {
        *kind = GGDM_SCHEDULE_COSINE;
        return GGDM_OK;
    }
    if (s[0] == 'l' && s[1] == 'i' && s[2] == 'n' && s[3] == 'e' && s[4] == 'a' && s[5] == 'r' && !s[6]) {
        *kind = GGDM_SCHEDULE_LINEAR;
        return GGDM_OK;
    }
    return GGDM_ERR_ARG;
}

const char *ggdm_schedule_kind_name(ggdm_schedule_kind kind)
{
    return kind == GGDM_SCHEDULE_COSINE ? "cosine" : kind == GGDM_SCHEDULE_LINEAR ? "linear" : "unknown";
}

size_t ggdm_schedule_count(int T)
{
    if (T < 1 || T > GGDM_SCHEDULE_MAX_T)
        return 0;
    return (size_t)GGDM_SCHED_NUM_TABLES * (size_t)T;
}

/* f_j = cos(((j / T) + s) / (1 + s) * pi * 0.5)^2, unnormalised (the original's order). */
static double cosine_f(int j, int T)
{
    const double s = 0.008;
    const double pi = 3.141592653589793; /* math.pi */
    double u = (double)j;                /* linspace(0, T, T+1) is exact: step 1.0 */
    double c = ggdm_cos(((u / (double)T) + s) / (1.0 + s) * pi * 0.5);
    return c * c;
}

/* torch.linspace(start, end, steps) in float64, element i (the scalar, symmetric form). */
static double linspace_at(double start, double end, int steps, int i)
{
    double step;
    if (steps == 1)
        return start;
    step = (end - start) / (double)(steps - 1);
    if (i < steps / 2)
        return start + step * (double)i;
    return end - step * (double)(steps - i - 1);
}

static double clip(double x, double lo, double hi)
{
    /* torch.clip: NaN stays NaN; here inputs are finite. */
    if (x < lo)
        return lo;
    if (x > hi)
        return hi;
    return x;
}

static double beta_at(ggdm_schedule_kind kind, int T, int t, double f0)
{
    if (kind == GGDM_SCHEDULE_COSINE) {
        double fa = cosine_f(t, T) / f0;
        double fb = cosine_f(t + 1, T) / f0;
        return clip(1.0 - (fb / fa), 0.0, 0.999);
    } else {
        double scale = 1000.0 / (double)T;
        return linspace_at(scale * 0.0001, scale * 0.02, T, t);
    }
}

/* The linear betas reach 0.02 * 1000 / T: every beta stays below 1 only for T > 20. */
static int valid(ggdm_schedule_kind kind, int T)
{
    if (kind == GGDM_SCHEDULE_COSINE)
        return T >= 1 && T <= GGDM_SCHEDULE_MAX_T;
    if (kind == GGDM_SCHEDULE_LINEAR)
        return T > 20 && T <= GGDM_SCHEDULE_MAX_T;
    return 0;
}

ggdm_status ggdm_schedule_betas_f64(ggdm_schedule_kind kind, int T, double *out, size_t cap)
{
    double f0;
    int t;
    if (!valid(kind, T) || !out)
        return GGDM_ERR_ARG;
    if (cap < (size_t)T)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    f0 = cosine_f(0, T);
    for (t = 0; t < T; t++)
        out[t] = beta_at(kind, T, t, f0);
    return GGDM_OK;
}

ggdm_status ggdm_schedule_compute(ggdm_schedule_kind kind, int T, float *out, size_t cap)
{
    double f0, abar = 1.0;
    size_t n = (size_t)T;
    int t;
    if (!valid(kind, T) || !out)
        return GGDM_ERR_ARG;
    if (cap < (size_t)GGDM_SCHED_NUM_TABLES * n)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    f0 = cosine_f(0, T);
    for (t = 0; t < T; t++) {
        double beta = beta_at(kind, T, t, f0);
        double alpha = 1.0 - beta;
        double abar_prev = abar;   /* F.pad(alphas_cumprod[:-1], (1, 0), value=1.) */
        double pv, one_m;
        abar = abar * alpha;       /* torch.cumprod: sequential, left to right */
        one_m = 1.0 - abar;
        pv = beta * (1.0 - abar_prev) / one_m;
        out[GGDM_SCHED_BETAS * n + t] = (float)beta;
        out[GGDM_SCHED_ALPHAS_CUMPROD * n + t] = (float)abar;
        out[GGDM_SCHED_ALPHAS_CUMPROD_PREV * n + t] = (float)abar_prev;
        out[GGDM_SCHED_SQRT_ALPHAS_CUMPROD * n + t] = (float)ggdm_sqrt(abar);
        out[GGDM_SCHED_SQRT_ONE_MINUS_ALPHAS_CUMPROD * n + t] = (float)ggdm_sqrt(one_m);
        out[GGDM_SCHED_LOG_ONE_MINUS_ALPHAS_CUMPROD * n + t] = (float)ggdm_log(one_m);
        out[GGDM_SCHED_SQRT_RECIP_ALPHAS_CUMPROD * n + t] = (float)ggdm_sqrt(1.0 / abar);
        out[GGDM_SCHED_SQRT_RECIPM1_ALPHAS_CUMPROD * n + t] = (float)ggdm_sqrt(1.0 / abar - 1.0);
        out[GGDM_SCHED_POSTERIOR_VARIANCE * n + t] = (float)pv;
        /* clamp(min=1e-20): at t = 0, pv = 0 and this is log(1e-20) */
        out[GGDM_SCHED_POSTERIOR_LOG_VARIANCE_CLIPPED * n + t] = (float)ggdm_log(pv < 1e-20 ? 1e-20 : pv);
        out[GGDM_SCHED_POSTERIOR_MEAN_COEF1 * n + t] = (float)(beta * ggdm_sqrt(abar_prev) / one_m);
        out[GGDM_SCHED_POSTERIOR_MEAN_COEF2 * n + t] = (float)((1.0 - abar_prev) * ggdm_sqrt(alpha) / one_m);
    }
    return GGDM_OK;
}
