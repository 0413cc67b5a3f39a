/*
 * One round of Algorithm 1 / 2 (ggdm/optimize.h; original.md §8): targets, fine-tuning,
 * guided sampling, rewards and metrics, with every buffer in the caller's state block.
 */
#include "ggdm/optimize.h"

#include <stdlib.h>
#include <string.h>

#include "ggdm/data.h"
#include "ggdm/dmath.h"
#include "ggdm/npy.h"

void ggdm_opt_cfg_default(ggdm_opt_cfg *c)
{
    if (!c)
        return;
    memset(c, 0, sizeof *c);
    ggdm_guide_cfg_default(&c->guide);
    c->reward = GGDM_REWARD_QUADRATIC;
    c->interval = 0.2;
    c->ratio = GGDM_OPT_RATIO_NONE;
    c->top_k = 4;
    ggdm_adam_cfg_default(&c->ft_adam);
}

/* Top-K order: reward descending, then sample index. */
typedef struct ranked {
    double f;
    int i;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = (const ranked *)a, *y = (const ranked *)b;
    if (x->f != y->f)
        return x->f < y->f ? 1 : -1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static void sort_ranked(ranked *r, const double *f, int N)
{
    int i;
    for (i = 0; i < N; i++) {
        r[i].f = f[i];
        r[i].i = i;
    }
    qsort(r, (size_t)N, sizeof *r, cmp_ranked);
}

size_t ggdm_opt_top_k_bytes(int N)
{
    return N > 0 ? sizeof(ranked) * (size_t)N : 0;
}

ggdm_status ggdm_opt_top_k(const double *f, int N, int K, int *idx, void *scratch, size_t scratch_bytes)
{
    ranked *r = (ranked *)scratch;
    int i;
    if (!f || !idx || !scratch || N < 1 || K < 0 || K > N)
        return GGDM_ERR_ARG;
    if (scratch_bytes < ggdm_opt_top_k_bytes(N))
        return GGDM_ERR_BUFFER_TOO_SMALL;
    sort_ranked(r, f, N);
    for (i = 0; i < K; i++)
        idx[i] = r[i].i;
    return GGDM_OK;
}

static size_t up64(size_t n)
{
    return (n + 63u) & ~(size_t)63u;
}

static int fine_tunes(const ggdm_opt_cfg *c)
{
    return c->ft_params != NULL && c->ft_steps >= 1;
}

/* Sizes of every part (bytes, each rounded up to 64). */
typedef struct layout {
    size_t nd, z, g, y, losses, f, ratio, rank, grad, sws, tws, total;
    uint64_t np;
} layout;

static ggdm_status plan(const ggdm_opt_cfg *c, const ggdm_exec *ex, layout *l)
{
    ggdm_status st;
    int N, D;
    if (!c || !c->score || !c->tab || c->T < 1 || c->N < 1 || c->score->D < 1 || !c->reward_param ||
        c->top_k < 0 || c->guide.version > GGDM_GUIDE_V2 ||
        (c->ratio == GGDM_OPT_RATIO_LINEAR_LATENT && (!c->ratio_A || c->ratio_d < 1)) ||
        (c->ratio != GGDM_OPT_RATIO_NONE && c->ratio != GGDM_OPT_RATIO_LINEAR_LATENT &&
         c->ratio != GGDM_OPT_RATIO_UNIT_BALL))
        return GGDM_ERR_ARG;
    memset(l, 0, sizeof *l);
    N = c->N;
    D = c->score->D;
    l->nd = (size_t)N * (size_t)D;
    l->z = l->g = up64(sizeof(float) * l->nd);
    l->y = up64(sizeof(float) * (size_t)N);
    l->f = l->ratio = up64(sizeof(double) * (size_t)N);
    l->rank = up64(sizeof(ranked) * (size_t)N);
    st = ggdm_sample_run_workspace_bytes(c->score, c->sampler, N, c->guide.version, ex, &l->sws);
    if (st != GGDM_OK)
        return st;
    l->sws = up64(l->sws);
    if (fine_tunes(c)) {
        if (!c->ft_net || c->ft_net->length != D || N / c->ft_steps < 1 || c->ft_start < 0 || c->ft_rounds < 0)
            return GGDM_ERR_ARG;
        st = ggdm_unet_num_params(c->ft_net, &l->np);
        if (st == GGDM_OK)
            st = ggdm_train_workspace_bytes(c->ft_net, N / c->ft_steps, &l->tws);
        if (st != GGDM_OK)
            return st;
        l->tws = up64(l->tws);
        l->losses = up64(sizeof(float) * (size_t)c->ft_steps);
        l->grad = up64(sizeof(float) * (size_t)l->np);
    }
    l->total = l->z + l->g + l->y + l->losses + l->f + l->ratio + l->rank + 3 * l->grad + l->sws + l->tws;
    return GGDM_OK;
}

ggdm_status ggdm_opt_state_bytes(const ggdm_opt_cfg *c, const ggdm_exec *ex, size_t *bytes)
{
    layout l;
    ggdm_status st;
    if (!bytes)
        return GGDM_ERR_ARG;
    st = plan(c, ex, &l);
    if (st == GGDM_OK)
        *bytes = l.total;
    return st;
}

ggdm_status ggdm_opt_state_init(const ggdm_opt_cfg *c, const ggdm_exec *ex, void *mem, size_t mem_bytes,
                                ggdm_opt_state *st)
{
    layout l;
    unsigned char *p = (unsigned char *)mem;
    ggdm_status s;
    if (!st || !mem)
        return GGDM_ERR_ARG;
    s = plan(c, ex, &l);
    if (s != GGDM_OK)
        return s;
    if (mem_bytes < l.total)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    memset(mem, 0, l.total);
    memset(st, 0, sizeof *st);
    st->N = c->N;
    st->D = c->score->D;
    st->z = (float *)p;
    p += l.z;
    st->g = (float *)p;
    p += l.g;
    st->y = (float *)p;
    p += l.y;
    st->f = (double *)p;
    p += l.f;
    st->ratio = (double *)p;
    p += l.ratio;
    st->rank = p;
    p += l.rank;
    st->sample_ws = p;
    st->sample_ws_bytes = l.sws;
    p += l.sws;
    if (fine_tunes(c)) {
        st->losses = (float *)p;
        p += l.losses;
        st->grad = (float *)p;
        p += l.grad;
        st->adam_m = (float *)p;
        p += l.grad;
        st->adam_v = (float *)p;
        p += l.grad;
        st->train_ws = p;
        st->train_ws_bytes = l.tws;
        st->num_params = l.np;
    }
    st->adam.step = 0;
    return GGDM_OK;
}

/* d.: rewards (and gradients into g), ratios and the metrics of z. */
static ggdm_status evaluate(const ggdm_opt_cfg *c, ggdm_opt_state *s, ggdm_opt_metrics *mt)
{
    int i, N = c->N, D = s->D, K = c->top_k < N ? c->top_k : N;
    ranked *r = (ranked *)s->rank;
    ggdm_status st = ggdm_reward_eval(c->reward, c->reward_param, D, s->z, (uint64_t)N, s->f, s->g);
    if (st != GGDM_OK)
        return st;
    if (c->ratio == GGDM_OPT_RATIO_UNIT_BALL)
        st = ggdm_ratio_unit_ball(D, s->z, (uint64_t)N, s->ratio);
    else if (c->ratio == GGDM_OPT_RATIO_LINEAR_LATENT)
        st = ggdm_ratio_linear_latent(c->ratio_A, c->ratio_d, D, s->z, (uint64_t)N, s->ratio);
    else
        memset(s->ratio, 0, sizeof(double) * (size_t)N);
    if (st != GGDM_OK)
        return st;
    sort_ranked(r, s->f, N);
    mt->reward = mt->ratio = mt->top_reward = mt->top_ratio = 0;
    for (i = 0; i < N; i++) {
        mt->reward += s->f[i] / N;
        mt->ratio += s->ratio[i] / N;
    }
    for (i = 0; i < K; i++) {
        mt->top_reward += s->f[r[i].i] / K;
        mt->top_ratio += s->ratio[r[i].i] / K;
    }
    return GGDM_OK;
}

#define PHASE(p)                                                                                                  \
    do {                                                                                                          \
        mt->failed = (p);                                                                                         \
    } while (0)
#define DONE(p)                                                                                                   \
    do {                                                                                                          \
        if (c->hook)                                                                                              \
            c->hook(c->hook_ctx, round, (p), mt, s);                                                              \
    } while (0)

ggdm_status ggdm_opt_round(const ggdm_opt_cfg *c, ggdm_opt_state *s, int round, ggdm_opt_metrics *m,
                           const ggdm_exec *ex)
{
    ggdm_opt_metrics local, *mt = m ? m : &local;
    ggdm_guide_stats gs;
    ggdm_guide_cfg g0;
    layout l;
    int i, N, D;
    ggdm_status st;
    memset(mt, 0, sizeof *mt);
    mt->y0 = mt->mean_y = mt->loss = ggdm_dm_nan();
    mt->failed = GGDM_OPT_PHASE_NONE;
    if (!s || round < 0)
        return GGDM_ERR_ARG;
    st = plan(c, ex, &l);
    if (st != GGDM_OK)
        return st;
    N = c->N;
    D = c->score->D;
    if (s->N != N || s->D != D || !s->z || !s->sample_ws || s->sample_ws_bytes < l.sws ||
        (fine_tunes(c) && (!s->grad || !s->train_ws || s->num_params != l.np || s->train_ws_bytes < l.tws)))
        return GGDM_ERR_ARG;
    if (round >= 1) {
        /* a. gradients and targets at the current samples */
        PHASE(GGDM_OPT_PHASE_TARGETS);
        st = ggdm_opt_targets(c->reward, c->reward_param, D, s->z, N, c->interval, s->f, s->g, s->y);
        if (st != GGDM_OK)
            return st;
        mt->y0 = s->y[0];
        mt->mean_y = 0;
        for (i = 0; i < N; i++)
            mt->mean_y += (double)s->y[i];
        mt->mean_y /= N;
        DONE(GGDM_OPT_PHASE_TARGETS);
        /* b. Algorithm 2: fine-tune the score network on the current samples */
        if (fine_tunes(c) && round - 1 >= c->ft_start && s->ft_done < c->ft_rounds) {
            int j, steps = c->ft_steps, bs = N / steps;
            double ls = 0;
            PHASE(GGDM_OPT_PHASE_FINETUNE);
            for (j = 0; j < steps; j++) {
                float loss;
                st = ggdm_train_step_ex(c->ft_net, c->ft_params, s->grad, &c->ft_adam, &s->adam, s->adam_m,
                                        s->adam_v, c->tab, c->T, bs, s->z + (size_t)j * bs * D, c->seed,
                                        (1u << 23) + (uint32_t)(round - 1), (uint32_t)j, 0, &loss, s->train_ws,
                                        s->train_ws_bytes, ex);
                if (st != GGDM_OK)
                    return st;
                s->losses[j] = loss;
                ls += loss / steps;
                mt->ft_steps++;
            }
            mt->loss = ls;
            s->ft_done++;
            s->ft_steps_done += steps;
            DONE(GGDM_OPT_PHASE_FINETUNE);
        }
    }
    /* c. fresh samples: unguided in round 0, guided after */
    PHASE(GGDM_OPT_PHASE_SAMPLE);
    memset(&gs, 0, sizeof gs);
    ggdm_guide_cfg_default(&g0);
    st = ggdm_sample_run(c->score, c->sampler, round ? &c->guide : &g0, c->tab, c->T, N, c->seed, (uint32_t)round, 0,
                         round ? s->g : NULL, round ? s->y : NULL, NULL, s->z, &gs, s->sample_ws, s->sample_ws_bytes,
                         c->progress, c->progress_ctx, ex);
    if (st != GGDM_OK)
        return st;
    mt->gnorm = gs.count ? gs.guidance / gs.count : 0;
    mt->mean_beta = gs.count ? gs.mean_beta / gs.count : 0;
    DONE(GGDM_OPT_PHASE_SAMPLE);
    PHASE(GGDM_OPT_PHASE_CHECK);
    if (!ggdm_f32_all_finite(s->z, (uint64_t)l.nd, NULL))
        return GGDM_ERR_NONFINITE;
    /* d. rewards and metrics */
    PHASE(GGDM_OPT_PHASE_EVALUATE);
    st = evaluate(c, s, mt);
    if (st != GGDM_OK)
        return st;
    mt->failed = GGDM_OPT_PHASE_NONE;
    DONE(GGDM_OPT_PHASE_EVALUATE);
    return GGDM_OK;
}
