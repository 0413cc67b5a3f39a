/*
 * The score-model interface (ggdm/score.h) and its two implementations: the Unet1D through
 * the public ggdm_unet_* API, and the analytic score of linear_latent data.
 */
#include "ggdm/score.h"

#include "ggdm/analytic.h"
#include "ggdm/schedule.h"

#define TAB(k) (tab + (size_t)(k) * (size_t)T)

/* ------------------------------------------------------------------ dispatch */

ggdm_status ggdm_score_workspace_bytes(const ggdm_score *s, int N, int vjp, const ggdm_exec *ex, size_t *bytes)
{
    if (!s || !s->ops || !s->ops->workspace_bytes || !bytes)
        return GGDM_ERR_ARG;
    return s->ops->workspace_bytes(s->ctx, N, vjp, ex, bytes);
}

ggdm_status ggdm_score_eps(const ggdm_score *s, const float *tab, int T, int N, const float *x, const int64_t *t,
                           float *eps, void *ws, size_t ws_bytes, const ggdm_exec *ex)
{
    if (!s || !s->ops || !s->ops->eps)
        return GGDM_ERR_ARG;
    return s->ops->eps(s->ctx, tab, T, N, x, t, eps, ws, ws_bytes, ex);
}

ggdm_status ggdm_score_eps_vjp(const ggdm_score *s, const float *tab, int T, int N, const float *x,
                               const int64_t *t, const float *v, float *eps, float *jtg, void *ws, size_t ws_bytes,
                               const ggdm_exec *ex)
{
    if (!s || !s->ops || !s->ops->eps_vjp)
        return GGDM_ERR_ARG;
    return s->ops->eps_vjp(s->ctx, tab, T, N, x, t, v, eps, jtg, ws, ws_bytes, ex);
}

/* ------------------------------------------------------------------ the Unet1D */

static ggdm_status unet_ws(const void *ctx, int N, int vjp, const ggdm_exec *ex, size_t *bytes)
{
    const ggdm_score_unet *u = (const ggdm_score_unet *)ctx;
    if (!u || !u->params)
        return GGDM_ERR_ARG;
    return ggdm_unet_workspace_bytes_ex(&u->cfg, N, vjp ? GGDM_UNET_BACKWARD : GGDM_UNET_FORWARD, ex, bytes);
}

static ggdm_status unet_eps(const void *ctx, const float *tab, int T, int N, const float *x, const int64_t *t,
                            float *eps, void *ws, size_t ws_bytes, const ggdm_exec *ex)
{
    const ggdm_score_unet *u = (const ggdm_score_unet *)ctx;
    (void)tab;
    (void)T;
    if (!u)
        return GGDM_ERR_ARG;
    return ggdm_unet_forward_ex(&u->cfg, u->params, N, x, t, eps, ws, ws_bytes, NULL, NULL, ex);
}

static ggdm_status unet_eps_vjp(const void *ctx, const float *tab, int T, int N, const float *x, const int64_t *t,
                                const float *v, float *eps, float *jtg, void *ws, size_t ws_bytes,
                                const ggdm_exec *ex)
{
    const ggdm_score_unet *u = (const ggdm_score_unet *)ctx;
    (void)tab;
    (void)T;
    if (!u)
        return GGDM_ERR_ARG;
    return ggdm_unet_backward_ex(&u->cfg, u->params, N, x, t, v, eps, jtg, NULL, ws, ws_bytes, ex);
}

const ggdm_score_ops ggdm_score_unet_ops = {"unet1d", unet_ws, unet_eps, unet_eps_vjp};

ggdm_status ggdm_score_init_unet(ggdm_score *s, ggdm_score_unet *u, const ggdm_unet_cfg *cfg, const float *params)
{
    if (!s || !u || !cfg)
        return GGDM_ERR_ARG;
    if (&u->cfg != cfg)
        u->cfg = *cfg;
    u->params = params;
    s->ops = &ggdm_score_unet_ops;
    s->ctx = u;
    s->D = cfg->length;
    return GGDM_OK;
}

/* ------------------------------------------------------------------ the analytic score */

static ggdm_status an_ws(const void *ctx, int N, int vjp, const ggdm_exec *ex, size_t *bytes)
{
    const ggdm_score_analytic *a = (const ggdm_score_analytic *)ctx;
    (void)N;
    (void)vjp;
    (void)ex;
    if (!bytes)
        return GGDM_ERR_ARG;
    *bytes = 0;
    return (a && a->A && a->d >= 1 && a->D >= 1) ? GGDM_OK : GGDM_ERR_ARG;
}

static ggdm_status an_eps(const void *ctx, const float *tab, int T, int N, const float *x, const int64_t *t,
                          float *eps, void *ws, size_t ws_bytes, const ggdm_exec *ex)
{
    const ggdm_score_analytic *a = (const ggdm_score_analytic *)ctx;
    (void)ws;
    (void)ws_bytes;
    (void)ex;
    if (!a || !tab || T < 1)
        return GGDM_ERR_ARG;
    return ggdm_analytic_eps(a->A, a->d, a->D, x, t, N, TAB(GGDM_SCHED_SQRT_ALPHAS_CUMPROD),
                             TAB(GGDM_SCHED_SQRT_ONE_MINUS_ALPHAS_CUMPROD), T, eps);
}

static ggdm_status an_eps_vjp(const void *ctx, const float *tab, int T, int N, const float *x, const int64_t *t,
                              const float *v, float *eps, float *jtg, void *ws, size_t ws_bytes, const ggdm_exec *ex)
{
    const ggdm_score_analytic *a = (const ggdm_score_analytic *)ctx;
    ggdm_status st = an_eps(ctx, tab, T, N, x, t, eps, ws, ws_bytes, ex);
    if (st != GGDM_OK)
        return st;
    return ggdm_analytic_vjp(a->A, a->d, a->D, t, N, TAB(GGDM_SCHED_SQRT_ALPHAS_CUMPROD),
                             TAB(GGDM_SCHED_SQRT_ONE_MINUS_ALPHAS_CUMPROD), T, v, jtg);
}

const ggdm_score_ops ggdm_score_analytic_ops = {"analytic", an_ws, an_eps, an_eps_vjp};

ggdm_status ggdm_score_init_analytic(ggdm_score *s, ggdm_score_analytic *a, const double *A, int d, int D)
{
    if (!s || !a)
        return GGDM_ERR_ARG;
    a->A = A;
    a->d = d;
    a->D = D;
    s->ops = &ggdm_score_analytic_ops;
    s->ctx = a;
    s->D = D;
    return GGDM_OK;
}
