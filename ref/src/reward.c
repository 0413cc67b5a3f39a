/* Reward functions (original.md §7): the per-sample math is ggdm_reward_one (reward.h). */
#include "ggdm/reward.h"

ggdm_status ggdm_reward_eval(ggdm_reward_kind kind, const double *param, int D, const float *x,
                             uint64_t n, double *f, float *grad)
{
    ggdm_status st = GGDM_OK;
    uint64_t i;
    if (kind != GGDM_REWARD_LINEAR && kind != GGDM_REWARD_QUADRATIC && kind != GGDM_REWARD_NEGNORMPLUS)
        return GGDM_ERR_ARG;
    if (D < 1 || (n > 0 && (!param || !x || !f)))
        return GGDM_ERR_ARG;
    for (i = 0; i < n; i++) {
        double v = ggdm_reward_one(kind, param, D, x + i * (uint64_t)D, grad ? grad + i * (uint64_t)D : 0);
        f[i] = v;
        if (!(v - v == 0.0)) /* NaN or infinite */
            st = GGDM_ERR_NONFINITE;
    }
    return st;
}

static int streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

ggdm_status ggdm_reward_kind_parse(const char *name, ggdm_reward_kind *kind)
{
    if (!name || !kind)
        return GGDM_ERR_ARG;
    if (streq(name, "linear"))
        *kind = GGDM_REWARD_LINEAR;
    else if (streq(name, "quadratic"))
        *kind = GGDM_REWARD_QUADRATIC;
    else if (streq(name, "negnormplus"))
        *kind = GGDM_REWARD_NEGNORMPLUS;
    else
        return GGDM_ERR_ARG;
    return GGDM_OK;
}

const char *ggdm_reward_kind_name(ggdm_reward_kind kind)
{
    switch (kind) {
    case GGDM_REWARD_LINEAR: return "linear";
    case GGDM_REWARD_QUADRATIC: return "quadratic";
    case GGDM_REWARD_NEGNORMPLUS: return "negnormplus";
    }
    return "unknown";
}
