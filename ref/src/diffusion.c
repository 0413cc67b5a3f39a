/*
 * DDPM sampling, guidance and training steps (original.md §3-5). Every operation below is
 * in float32, in the written order; docs/diffusion.md states the same definitions.
 */
#include "ggdm/diffusion.h"

#include "ggdm/backend.h"

#include <string.h>

#include "ggdm/dmath.h"
#include "ggdm/reduce.h"
#include "ggdm/rng.h"
#include "ggdm/schedule.h"

#define TAB(k) (tab + (size_t)(k) * (size_t)T)

void ggdm_guide_cfg_default(ggdm_guide_cfg *c)
{
    c->version = GGDM_GUIDE_NONE;
    c->beta = 0.0;
    c->beta_coef = 1.0;
    c->sigma = 0.1;
}

ggdm_status ggdm_ddpm_update(const float *tab, int T, int t, int N, int D, const float *x, const float *eps,
                             const float *z, float *x_out)
{
    float sra, srm1, c1, c2, sd = 0.0f;
    size_t i, n = (size_t)N * (size_t)D;
    if (!tab || !x || !eps || !x_out || T < 1 || t < 0 || t >= T || N < 1 || D < 1 || (t > 0 && !z))
        return GGDM_ERR_ARG;
    sra = TAB(GGDM_SCHED_SQRT_RECIP_ALPHAS_CUMPROD)[t];
    srm1 = TAB(GGDM_SCHED_SQRT_RECIPM1_ALPHAS_CUMPROD)[t];
    c1 = TAB(GGDM_SCHED_POSTERIOR_MEAN_COEF1)[t];
    c2 = TAB(GGDM_SCHED_POSTERIOR_MEAN_COEF2)[t];
    if (t > 0)
        sd = ggdm_expf(0.5f * TAB(GGDM_SCHED_POSTERIOR_LOG_VARIANCE_CLIPPED)[t]);
    for (i = 0; i < n; i++) {
        float x0 = sra * x[i] - srm1 * eps[i];
        float mean = c1 * x0 + c2 * x[i];
        x_out[i] = t > 0 ? mean + sd * z[i] : mean;
    }
    return GGDM_OK;
}

ggdm_status ggdm_guide_apply(const ggdm_guide_cfg *gc, const float *tab, int T, int t, int N, int D, const float *x,
                             const float *eps, const float *g, const float *y, const float *jtg, float *eps_out,
                             ggdm_guide_stats *stats)
{
    float a, nt, h, sigma2, bc, fixed;
    int i, j;
    if (!gc || !tab || !x || !eps || !eps_out || T < 1 || t < 0 || t >= T || N < 1 || D < 1)
        return GGDM_ERR_ARG;
    if (gc->version == GGDM_GUIDE_NONE) {
        if (eps_out != eps)
            memmove(eps_out, eps, sizeof(float) * (size_t)N * (size_t)D);
        return GGDM_OK;
    }
    if (!g || !y || (gc->version == GGDM_GUIDE_V2 && !jtg) || gc->version > GGDM_GUIDE_V2)
        return GGDM_ERR_ARG;
    a = TAB(GGDM_SCHED_SQRT_ALPHAS_CUMPROD)[t];
    nt = TAB(GGDM_SCHED_SQRT_ONE_MINUS_ALPHAS_CUMPROD)[t];
    h = nt * nt;
    sigma2 = (float)(gc->sigma * gc->sigma);
    bc = (float)gc->beta_coef;
    fixed = (float)gc->beta;
    for (i = 0; i < N; i++) {
        const float *xi = x + (size_t)i * D, *ei = eps + (size_t)i * D, *gi = g + (size_t)i * D;
        float *oi = eps_out + (size_t)i * D;
        float ip = 0.0f, n2 = 0.0f, beta, coef, gn = 0.0f;
        /* v = <x0hat, g>, x0hat = (x + h s) / a, s = -eps / n_t: one fmaf chain over j */
        for (j = 0; j < D; j++) {
            float s = -ei[j] / nt;
            float x0h = (xi[j] + h * s) / a;
            ip = fmaf(x0h, gi[j], ip);
        }
        if (gc->version == GGDM_GUIDE_V1) {
            n2 = ggdm_dot_f32(gi, 1, gi, 1, D);
            beta = fixed != 0.0f ? fixed : a / (sigma2 + h * n2);
            coef = (beta * bc) * (y[i] - ip);
            for (j = 0; j < D; j++) {
                float s = -ei[j] / nt;
                float term = coef * gi[j];
                float G = s + term;
                oi[j] = -G * nt;
                gn = fmaf(term, term, gn);
            }
        } else {
            const float *ji = jtg + (size_t)i * D;
            float ratio = h / nt, a2 = a * a;
            /* grad = (g - (h / n_t) J^T g) / a; |grad|^2 as an fmaf chain */
            for (j = 0; j < D; j++) {
                float gr = (gi[j] - ratio * ji[j]) / a;
                n2 = fmaf(gr, gr, n2);
            }
            beta = fixed != 0.0f ? fixed : (a2 / 2.0f) / (a2 * sigma2 + h * n2);
            coef = ((beta * bc) * 2.0f) * (ip - y[i]);
            for (j = 0; j < D; j++) {
                float s = -ei[j] / nt;
                float gr = (gi[j] - ratio * ji[j]) / a;
                float term = coef * gr;
                float G = s - term;
                oi[j] = -G * nt;
                gn = fmaf(term, term, gn);
            }
        }
        if (stats) {
            stats->guidance += (double)ggdm_sqrtf(gn);
            stats->mean_beta += (double)(beta * bc);
            stats->count++;
        }
    }
    return GGDM_OK;
}

static size_t align16(size_t floats)
{
    return (floats + 15u) & ~(size_t)15u;
}

static ggdm_status model_ws(const ggdm_score *m, int N, ggdm_guide_version v, const ggdm_exec *ex, size_t *bytes)
{
    return ggdm_score_workspace_bytes(m, N, v == GGDM_GUIDE_V2, ex, bytes);
}

static ggdm_status sampler_ws(const ggdm_sampler *s, int N, int D, size_t *bytes)
{
    *bytes = 0;
    if (!s->ops || !s->ops->num_steps || !s->ops->timestep || !s->ops->noisy || !s->ops->update)
        return GGDM_ERR_ARG;
    return s->ops->workspace_bytes ? s->ops->workspace_bytes(s->ctx, N, D, bytes) : GGDM_OK;
}

ggdm_status ggdm_sample_workspace_bytes(const ggdm_score *m, int N, ggdm_guide_version v, size_t *bytes)
{
    return ggdm_sample_run_workspace_bytes(m, NULL, N, v, NULL, bytes);
}

ggdm_status ggdm_sample_workspace_bytes_ex(const ggdm_score *m, int N, ggdm_guide_version v, const ggdm_exec *ex,
                                           size_t *bytes)
{
    return ggdm_sample_run_workspace_bytes(m, NULL, N, v, ex, bytes);
}

ggdm_status ggdm_sample_run_workspace_bytes(const ggdm_score *m, const ggdm_sampler *s, int N, ggdm_guide_version v,
                                            const ggdm_exec *ex, size_t *bytes)
{
    size_t mb, nd, sb;
    ggdm_status st;
    if (!m || !bytes || N < 1 || m->D < 1)
        return GGDM_ERR_ARG;
    st = model_ws(m, N, v, ex, &mb);
    if (st != GGDM_OK)
        return st;
    st = sampler_ws(s ? s : &ggdm_sampler_ddpm, N, m->D, &sb);
    if (st != GGDM_OK)
        return st;
    nd = align16((size_t)N * (size_t)m->D);
    /* model | eps | jtg | t (int64, 2 floats each) | x | x2 | z | sampler */
    *bytes = align16(mb / sizeof(float) + 1) * sizeof(float) + sizeof(float) * (5 * nd + align16(2 * (size_t)N)) +
             (sb ? align16(sb / sizeof(float) + 1) * sizeof(float) : 0);
    return GGDM_OK;
}

/* Pointers into the sampling workspace. */
typedef struct carve {
    void *model, *sampler;
    size_t model_bytes, sampler_bytes;
    float *eps, *jtg, *x, *x2, *z;
    int64_t *t;
    const ggdm_exec *ex;
} carve;

static ggdm_status carve_ws(const ggdm_score *m, const ggdm_sampler *s, int N, ggdm_guide_version v, void *ws,
                            size_t ws_bytes, const ggdm_exec *ex, carve *c)
{
    size_t need, mb, nd;
    float *f;
    ggdm_status st = ggdm_sample_run_workspace_bytes(m, s, N, v, ex, &need);
    if (st != GGDM_OK)
        return st;
    if (!ws)
        return GGDM_ERR_ARG;
    if (ws_bytes < need)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    model_ws(m, N, v, ex, &mb);
    sampler_ws(s ? s : &ggdm_sampler_ddpm, N, m->D, &c->sampler_bytes);
    c->ex = ex;
    nd = align16((size_t)N * (size_t)m->D);
    c->model = ws;
    c->model_bytes = mb;
    f = (float *)ws + align16(mb / sizeof(float) + 1);
    c->eps = f;
    c->jtg = f + nd;
    c->t = (int64_t *)(f + 2 * nd);
    c->x = f + 2 * nd + align16(2 * (size_t)N);
    c->x2 = c->x + nd;
    c->z = c->x2 + nd;
    c->sampler = c->sampler_bytes ? (void *)(c->z + nd) : NULL;
    return GGDM_OK;
}

/* eps (and J^T g for v2) of the model at step t, then guidance. */
static ggdm_status guided_eps_c(const ggdm_score *m, const ggdm_guide_cfg *gc, const float *tab, int T, int t, int N,
                                const float *x, const float *g, const float *y, float *eps_out,
                                ggdm_guide_stats *stats, carve *c)
{
    int i, D = m->D;
    ggdm_status st;
    int v2 = gc && gc->version == GGDM_GUIDE_V2;
    for (i = 0; i < N; i++)
        c->t[i] = t;
    if (v2)
        st = ggdm_score_eps_vjp(m, tab, T, N, x, c->t, g, c->eps, c->jtg, c->model, c->model_bytes, c->ex);
    else
        st = ggdm_score_eps(m, tab, T, N, x, c->t, c->eps, c->model, c->model_bytes, c->ex);
    if (st != GGDM_OK)
        return st;
    if (!gc || gc->version == GGDM_GUIDE_NONE) {
        memcpy(eps_out, c->eps, sizeof(float) * (size_t)N * D);
        return GGDM_OK;
    }
    return ggdm_guide_apply(gc, tab, T, t, N, D, x, c->eps, g, y, c->jtg, eps_out, stats);
}

ggdm_status ggdm_guided_eps(const ggdm_score *m, const ggdm_guide_cfg *gc, const float *tab, int T, int t, int N,
                            const float *x, const float *g, const float *y, float *eps_out, ggdm_guide_stats *stats,
                            void *ws, size_t ws_bytes)
{
    return ggdm_guided_eps_ex(m, gc, tab, T, t, N, x, g, y, eps_out, stats, ws, ws_bytes, NULL);
}

ggdm_status ggdm_guided_eps_ex(const ggdm_score *m, const ggdm_guide_cfg *gc, const float *tab, int T, int t, int N,
                               const float *x, const float *g, const float *y, float *eps_out,
                               ggdm_guide_stats *stats, void *ws, size_t ws_bytes, const ggdm_exec *ex)
{
    carve c;
    ggdm_status st;
    if (!m || !tab || !x || !eps_out || T < 1 || t < 0 || t >= T)
        return GGDM_ERR_ARG;
    st = carve_ws(m, NULL, N, gc ? gc->version : GGDM_GUIDE_NONE, ws, ws_bytes, ex, &c);
    if (st != GGDM_OK)
        return st;
    return guided_eps_c(m, gc, tab, T, t, N, x, g, y, eps_out, stats, &c);
}

ggdm_status ggdm_sample(const ggdm_score *m, const ggdm_guide_cfg *gc, const float *tab, int T, int N,
                        uint64_t seed, uint32_t round, uint64_t first, const float *g, const float *y,
                        const float *noise, float *x_out, ggdm_guide_stats *stats, void *ws, size_t ws_bytes,
                        ggdm_progress_fn progress, void *progress_ctx)
{
    return ggdm_sample_run(m, NULL, gc, tab, T, N, seed, round, first, g, y, noise, x_out, stats, ws, ws_bytes,
                           progress, progress_ctx, NULL);
}

ggdm_status ggdm_sample_ex(const ggdm_score *m, const ggdm_guide_cfg *gc, const float *tab, int T, int N,
                           uint64_t seed, uint32_t round, uint64_t first, const float *g, const float *y,
                           const float *noise, float *x_out, ggdm_guide_stats *stats, void *ws, size_t ws_bytes,
                           ggdm_progress_fn progress, void *progress_ctx, const ggdm_exec *ex)
{
    return ggdm_sample_run(m, NULL, gc, tab, T, N, seed, round, first, g, y, noise, x_out, stats, ws, ws_bytes,
                           progress, progress_ctx, ex);
}

ggdm_status ggdm_sample_run(const ggdm_score *m, const ggdm_sampler *s, const ggdm_guide_cfg *gc, const float *tab,
                            int T, int N, uint64_t seed, uint32_t round, uint64_t first, const float *g,
                            const float *y, const float *noise, float *x_out, ggdm_guide_stats *stats, void *ws,
                            size_t ws_bytes, ggdm_progress_fn progress, void *progress_ctx, const ggdm_exec *ex)
{
    carve c;
    int it, steps, D, i;
    size_t nd;
    ggdm_status st;
    ggdm_exec later; /* ex for the steps after the first: the parameters are unchanged since */
    if (!m || !tab || !x_out || T < 1)
        return GGDM_ERR_ARG;
    if (!s)
        s = &ggdm_sampler_ddpm;
    st = carve_ws(m, s, N, gc ? gc->version : GGDM_GUIDE_NONE, ws, ws_bytes, ex, &c);
    if (st != GGDM_OK)
        return st;
    D = m->D;
    nd = (size_t)N * (size_t)D;
    steps = s->ops->num_steps(s->ctx, T);
    if (steps < 1)
        return GGDM_ERR_ARG;
    if (noise)
        memcpy(c.x, noise, sizeof(float) * nd);
    else
        for (i = 0; i < N; i++)
            ggdm_rng_fill_normal(seed, ggdm_stream_id(GGDM_STREAM_INIT_NOISE, round, 0), (first + (uint64_t)i) * D,
                                 c.x + (size_t)i * D, (uint64_t)D);
    for (it = 0; it < steps; it++) {
        const float *z = NULL;
        float *tmp;
        int t = s->ops->timestep(s->ctx, T, it);
        if (t < 0 || t >= T)
            return GGDM_ERR_ARG;
        st = guided_eps_c(m, gc, tab, T, t, N, c.x, g, y, c.eps, stats, &c);
        if (st != GGDM_OK)
            return st;
        if (ex && it == 0) { /* a device backend verified its copy of the parameters once */
            later = *ex;
            later.params_unchanged = 1;
            c.ex = &later;
        }
        if (s->ops->noisy(s->ctx, T, it)) {
            if (noise) {
                z = noise + (size_t)(it + 1) * nd;
            } else {
                for (i = 0; i < N; i++)
                    ggdm_rng_fill_normal(seed, ggdm_stream_id(GGDM_STREAM_STEP_NOISE, round, (uint32_t)t),
                                         (first + (uint64_t)i) * D, c.z + (size_t)i * D, (uint64_t)D);
                z = c.z;
            }
        }
        st = s->ops->update(s->ctx, tab, T, it, N, D, c.x, c.eps, z, c.x2, c.sampler, c.sampler_bytes);
        if (st != GGDM_OK)
            return st;
        tmp = c.x;
        c.x = c.x2;
        c.x2 = tmp;
        if (progress)
            progress(progress_ctx, it + 1, steps);
    }
    memcpy(x_out, c.x, sizeof(float) * nd);
    return GGDM_OK;
}

ggdm_status ggdm_train_workspace_bytes(const ggdm_unet_cfg *cfg, int N, size_t *bytes)
{
    size_t lb;
    ggdm_status st;
    if (!cfg || !bytes || N < 1)
        return GGDM_ERR_ARG;
    st = ggdm_unet_loss_workspace_bytes(cfg, N, &lb);
    if (st != GGDM_OK)
        return st;
    /* loss workspace | z | t */
    *bytes = align16(lb / sizeof(float) + 1) * sizeof(float) +
             sizeof(float) * (align16((size_t)N * (size_t)cfg->length) + align16(2 * (size_t)N));
    return GGDM_OK;
}

ggdm_status ggdm_train_step(const ggdm_unet_cfg *cfg, float *params, float *grad, const ggdm_adam_cfg *ac,
                            ggdm_adam_state *as, float *adam_m, float *adam_v, const float *tab, int T, int N,
                            const float *x0, uint64_t seed, uint32_t a, uint32_t b, uint64_t first, float *loss,
                            void *ws, size_t ws_bytes)
{
    return ggdm_train_step_ex(cfg, params, grad, ac, as, adam_m, adam_v, tab, T, N, x0, seed, a, b, first, loss, ws,
                              ws_bytes, NULL);
}

ggdm_status ggdm_train_step_ex(const ggdm_unet_cfg *cfg, float *params, float *grad, const ggdm_adam_cfg *ac,
                               ggdm_adam_state *as, float *adam_m, float *adam_v, const float *tab, int T, int N,
                               const float *x0, uint64_t seed, uint32_t a, uint32_t b, uint64_t first, float *loss,
                               void *ws, size_t ws_bytes, const ggdm_exec *ex)
{
    size_t need, lb, nd;
    uint64_t np;
    float *z, l;
    int64_t *t;
    int i, D;
    ggdm_status st = ggdm_train_workspace_bytes(cfg, N, &need);
    if (st != GGDM_OK)
        return st;
    if (!params || !grad || !ac || !as || !adam_m || !adam_v || !tab || !x0 || !ws || T < 1)
        return GGDM_ERR_ARG;
    if (ws_bytes < need)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    ggdm_unet_loss_workspace_bytes(cfg, N, &lb);
    ggdm_unet_num_params(cfg, &np);
    D = cfg->length;
    nd = (size_t)N * (size_t)D;
    z = (float *)ws + align16(lb / sizeof(float) + 1);
    t = (int64_t *)(z + align16(nd));
    for (i = 0; i < N; i++) {
        t[i] = (int64_t)ggdm_rng_below(seed, ggdm_stream_id(GGDM_STREAM_TRAIN_T, a, b), first + (uint64_t)i,
                                       (uint32_t)T);
        ggdm_rng_fill_normal(seed, ggdm_stream_id(GGDM_STREAM_TRAIN_NOISE, a, b), (first + (uint64_t)i) * D,
                             z + (size_t)i * D, (uint64_t)D);
    }
    memset(grad, 0, sizeof(float) * (size_t)np);
    st = ggdm_unet_loss_grad_ex(cfg, params, N, x0, t, z, TAB(GGDM_SCHED_SQRT_ALPHAS_CUMPROD),
                                TAB(GGDM_SCHED_SQRT_ONE_MINUS_ALPHAS_CUMPROD), T, &l, grad, ws, lb, ex);
    if (st != GGDM_OK)
        return st;
    if (!(l == l) || l - l != 0.0f)
        return GGDM_ERR_NONFINITE;
    if (loss)
        *loss = l;
    st = ggdm_adam_step(ac, as, params, grad, adam_m, adam_v, np);
    /* a backend that keeps its own copy of the parameters (a GPU's) takes the new values */
    if (st == GGDM_OK && ex && ex->unet)
        ex->unet->params(ex->unet->ctx, params, np, 1);
    return st;
}

ggdm_status ggdm_opt_targets(ggdm_reward_kind kind, const double *param, int D, const float *z, int N,
                             double interval, double *f, float *g, float *y)
{
    int i, j;
    ggdm_status st;
    if (!param || !z || !f || !g || !y || N < 1 || D < 1)
        return GGDM_ERR_ARG;
    st = ggdm_reward_eval(kind, param, D, z, (uint64_t)N, f, g);
    if (st != GGDM_OK)
        return st;
    for (i = 0; i < N; i++) {
        double ip = 0.0;
        for (j = 0; j < D; j++)
            ip = fma((double)g[(size_t)i * D + j], (double)z[(size_t)i * D + j], ip);
        y[i] = (float)(interval + ip);
    }
    return GGDM_OK;
}
