/* Adam in PyTorch's form (torch.optim.Adam, _single_tensor_adam); see ggdm/adam.h. */
#include "ggdm/adam.h"

#include "ggdm/dmath.h"

void ggdm_adam_cfg_default(ggdm_adam_cfg *c)
{
    if (!c)
        return;
    c->lr = 1e-3;
    c->beta1 = 0.9;
    c->beta2 = 0.99;
    c->eps = 1e-8;
}

static int finite64(double x)
{
    return x - x == 0.0;
}

ggdm_status ggdm_adam_cfg_check(const ggdm_adam_cfg *c)
{
    if (!c)
        return GGDM_ERR_ARG;
    if (!finite64(c->lr) || !(c->lr >= 0.0) || !finite64(c->eps) || !(c->eps >= 0.0))
        return GGDM_ERR_ARG;
    if (!(c->beta1 >= 0.0 && c->beta1 < 1.0) || !(c->beta2 >= 0.0 && c->beta2 < 1.0))
        return GGDM_ERR_ARG;
    return GGDM_OK;
}

/* (ah + al) * (bh + bl) as a normalised double-double (al * bl dropped). */
static void dd_mul(double ah, double al, double bh, double bl, double *h, double *l)
{
    double p = ah * bh;
    double e = fma(ah, bh, -p); /* the exact error of p */
    double s;
    e = fma(ah, bl, e);
    e = fma(al, bh, e);
    s = p + e; /* fast two-sum, |p| >= |e| */
    *l = e - (s - p);
    *h = s;
}

double ggdm_adam_powi(double b, uint64_t k)
{
    double rh = 1.0, rl = 0.0, bh = b, bl = 0.0;
    while (k) {
        if (k & 1u)
            dd_mul(rh, rl, bh, bl, &rh, &rl);
        k >>= 1;
        if (k)
            dd_mul(bh, bl, bh, bl, &bh, &bl);
    }
    return rh;
}

ggdm_status ggdm_adam_scalars_at(const ggdm_adam_cfg *c, uint64_t k, ggdm_adam_scalars *s)
{
    double bc1, bc2, step_size, bc2_sqrt;
    if (!s || k == 0 || ggdm_adam_cfg_check(c) != GGDM_OK)
        return GGDM_ERR_ARG;
    bc1 = 1.0 - ggdm_adam_powi(c->beta1, k);
    bc2 = 1.0 - ggdm_adam_powi(c->beta2, k);
    step_size = c->lr / bc1;
    bc2_sqrt = ggdm_sqrt(bc2);
    s->b1 = (float)c->beta1;
    s->c1 = (float)(1.0 - c->beta1);
    s->b2 = (float)c->beta2;
    s->c2 = (float)(1.0 - c->beta2);
    s->bc2_sqrt = (float)bc2_sqrt;
    s->eps = (float)c->eps;
    s->neg_step_size = (float)(-step_size);
    return GGDM_OK;
}

ggdm_status ggdm_adam_step(const ggdm_adam_cfg *c, ggdm_adam_state *s, float *params,
                           const float *grads, float *m, float *v, uint64_t n)
{
    ggdm_adam_scalars sc;
    ggdm_status st;
    uint64_t i;
    if (!s || (n > 0 && (!params || !grads || !m || !v)) || s->step == UINT64_MAX)
        return GGDM_ERR_ARG;
    st = ggdm_adam_scalars_at(c, s->step + 1, &sc);
    if (st != GGDM_OK)
        return st;
    for (i = 0; i < n; i++)
        if (!(grads[i] - grads[i] == 0.0f))
            return GGDM_ERR_NONFINITE;
    s->step += 1;
    for (i = 0; i < n; i++)
        ggdm_adam_elem(&sc, &params[i], grads[i], &m[i], &v[i]);
    return GGDM_OK;
}
