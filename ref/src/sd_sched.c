/*
 * Stable Diffusion's samplers: diffusers 0.25.1's PNDMScheduler (skip_prk_steps) and
 * DDIMScheduler (eta 0), float32 in torch's operation order (docs/sd.md, "Schedulers").
 * Every line below that computes a value names the diffusers expression it reproduces.
 */
#include "ggdm/sd_sched.h"

#include <string.h>

#include "ggdm/dmath.h"

static ggdm_status fail(char *msg, const char *s)
{
    if (msg) {
        size_t n = strlen(s);
        if (n >= GGDM_SD_SCHED_MSG_LEN)
            n = GGDM_SD_SCHED_MSG_LEN - 1;
        memcpy(msg, s, n);
        msg[n] = '\0';
    }
    return GGDM_ERR_ARG;
}

void ggdm_sd_sched_cfg_sd15(ggdm_sd_sched_cfg *cfg, ggdm_sd_sched_kind kind, int steps)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->num_train_timesteps = 1000;
    cfg->beta_start = 0.00085;
    cfg->beta_end = 0.012;
    cfg->steps_offset = 1;
    cfg->set_alpha_to_one = 0;
    cfg->steps = steps;
}

ggdm_status ggdm_sd_sched_cfg_check(const ggdm_sd_sched_cfg *c, char *msg)
{
    int T;
    if (msg)
        msg[0] = '\0';
    if (!c)
        return fail(msg, "no configuration");
    if (c->kind != GGDM_SD_SCHED_PNDM && c->kind != GGDM_SD_SCHED_DDIM)
        return fail(msg, "kind must be PNDM (0) or DDIM (1)");
    T = c->num_train_timesteps;
    if (T < 2 || T > GGDM_SD_SCHED_MAX_T)
        return fail(msg, "num_train_timesteps must be 2 to 100000");
    /* written so that NaN fails too */
    if (!(c->beta_start > 0.0 && c->beta_start < 1.0) || !(c->beta_end > 0.0 && c->beta_end < 1.0))
        return fail(msg, "beta_start and beta_end must be in (0, 1)");
    if (c->steps_offset < 0)
        return fail(msg, "steps_offset must be >= 0");
    if (c->set_alpha_to_one != 0 && c->set_alpha_to_one != 1)
        return fail(msg, "set_alpha_to_one must be 0 or 1");
    if (c->steps < 1 || c->steps > T)
        return fail(msg, "steps must be 1 to num_train_timesteps");
    if ((int64_t)(c->steps - 1) * (int64_t)(T / c->steps) + (int64_t)c->steps_offset > (int64_t)(T - 1))
        return fail(msg, "the largest timestep (steps - 1) * (T / steps) + steps_offset exceeds T - 1");
    return GGDM_OK;
}

/* torch.linspace(start, end, T, dtype=float32)[i], torch's scalar CPU formula (float throughout). */
static float linspace_f32(float start, float end, int T, int i)
{
    float step = (end - start) / (float)(T - 1);
    if (i < T / 2)
        return start + step * (float)i;
    return end - step * (float)(T - 1 - i);
}

ggdm_status ggdm_sd_sched_alphas_cumprod(const ggdm_sd_sched_cfg *cfg, float *ac)
{
    float start, end;
    double acc = 1.0;
    int T, i;
    if (ggdm_sd_sched_cfg_check(cfg, 0) != GGDM_OK || !ac)
        return GGDM_ERR_ARG;
    T = cfg->num_train_timesteps;
    /* beta_start**0.5, beta_end**0.5 (Python floats), rounded to float by torch.linspace */
    start = (float)ggdm_sqrt(cfg->beta_start);
    end = (float)ggdm_sqrt(cfg->beta_end);
    for (i = 0; i < T; i++) {
        float s = linspace_f32(start, end, T, i);
        float beta = s * s;       /* ** 2 */
        float alpha = 1.0f - beta; /* 1.0 - betas */
        acc *= (double)alpha;     /* torch.cumprod on the CPU: a double accumulator */
        ac[i] = (float)acc;
    }
    return GGDM_OK;
}

int ggdm_sd_sched_calls(const ggdm_sd_sched_cfg *cfg)
{
    if (ggdm_sd_sched_cfg_check(cfg, 0) != GGDM_OK)
        return 0;
    if (cfg->kind == GGDM_SD_SCHED_DDIM || cfg->steps == 1)
        return cfg->steps;
    return cfg->steps + 1;
}

/* _timesteps[k] = k * (T // steps) + steps_offset ("leading" spacing) */
static int64_t leading(const ggdm_sd_sched_cfg *cfg, int k)
{
    return (int64_t)k * (int64_t)(cfg->num_train_timesteps / cfg->steps) + (int64_t)cfg->steps_offset;
}

/* The UNet's timestep at call i (PNDM: plms_timesteps; DDIM: timesteps). */
static int64_t timestep_at(const ggdm_sd_sched_cfg *cfg, int i)
{
    int s = cfg->steps;
    if (cfg->kind == GGDM_SD_SCHED_DDIM || s == 1)
        return leading(cfg, s - 1 - i);
    /* concat(_t[:-1], _t[-2:-1], _t[-1:])[::-1] = _t[s-1], _t[s-2], _t[s-2], _t[s-3], ..., _t[0] */
    if (i == 0)
        return leading(cfg, s - 1);
    return leading(cfg, s - i < s - 2 ? s - i : s - 2);
}

ggdm_status ggdm_sd_sched_timesteps(const ggdm_sd_sched_cfg *cfg, int64_t *t)
{
    int i, calls;
    if (ggdm_sd_sched_cfg_check(cfg, 0) != GGDM_OK || !t)
        return GGDM_ERR_ARG;
    calls = ggdm_sd_sched_calls(cfg);
    for (i = 0; i < calls; i++)
        t[i] = timestep_at(cfg, i);
    return GGDM_OK;
}

size_t ggdm_sd_sched_buffer_floats(const ggdm_sd_sched_cfg *cfg, size_t n)
{
    if (ggdm_sd_sched_cfg_check(cfg, 0) != GGDM_OK || cfg->kind == GGDM_SD_SCHED_DDIM)
        return 0;
    if (n > (size_t)-1 / 5)
        return 0;
    return 5 * n;
}

ggdm_status ggdm_sd_sched_start(const ggdm_sd_sched_cfg *cfg, ggdm_sd_sched_state *st, size_t n, float *buf)
{
    if (ggdm_sd_sched_cfg_check(cfg, 0) != GGDM_OK || !st || n < 1)
        return GGDM_ERR_ARG;
    if (cfg->kind == GGDM_SD_SCHED_PNDM && (!buf || ggdm_sd_sched_buffer_floats(cfg, n) == 0))
        return GGDM_ERR_ARG;
    memset(st, 0, sizeof *st);
    st->kind = (int)cfg->kind;
    st->num_train_timesteps = cfg->num_train_timesteps;
    st->steps = cfg->steps;
    st->steps_offset = cfg->steps_offset;
    st->set_alpha_to_one = cfg->set_alpha_to_one;
    st->calls = ggdm_sd_sched_calls(cfg);
    st->counter = 0;
    st->n_ets = 0;
    st->ets_new = 3; /* the first model output goes to slot 0 */
    st->n = n;
    st->buf = cfg->kind == GGDM_SD_SCHED_PNDM ? buf : 0;
    return GGDM_OK;
}

static int same_cfg(const ggdm_sd_sched_cfg *c, const ggdm_sd_sched_state *st)
{
    return st->kind == (int)c->kind && st->num_train_timesteps == c->num_train_timesteps &&
           st->steps == c->steps && st->steps_offset == c->steps_offset &&
           st->set_alpha_to_one == c->set_alpha_to_one && st->calls == ggdm_sd_sched_calls(c);
}

/* alphas_cumprod[prev_t] if prev_t >= 0 else final_alpha_cumprod */
static float alpha_prev(const ggdm_sd_sched_cfg *cfg, const float *ac, int64_t prev_t)
{
    if (prev_t >= 0)
        return ac[prev_t];
    return cfg->set_alpha_to_one ? 1.0f : ac[0];
}

/* The coefficients of PNDMScheduler._get_prev_sample (0-dim float32 tensors in torch). */
typedef struct prev_coef {
    float sc;  /* (alpha_prod_t_prev / alpha_prod_t) ** 0.5 */
    float d;   /* alpha_prod_t_prev - alpha_prod_t */
    float den; /* alpha_prod_t * beta_prod_t_prev ** 0.5 + (alpha_prod_t * beta_prod_t * alpha_prod_t_prev) ** 0.5 */
} prev_coef;

static prev_coef pndm_coef(float a_t, float a_p)
{
    prev_coef k;
    float b_t = 1.0f - a_t; /* beta_prod_t = 1 - alpha_prod_t */
    float b_p = 1.0f - a_p; /* beta_prod_t_prev = 1 - alpha_prod_t_prev */
    k.sc = ggdm_sqrtf(a_p / a_t);
    k.d = a_p - a_t;
    k.den = a_t * ggdm_sqrtf(b_p) + ggdm_sqrtf(a_t * b_t * a_p);
    return k;
}

/* prev_sample = sample_coeff * sample - (alpha_prod_t_prev - alpha_prod_t) * model_output / denom */
static float pndm_prev(const prev_coef *k, float z, float mo)
{
    float u = k->sc * z;
    float w = (k->d * mo) / k->den;
    return u - w;
}

static ggdm_status step_pndm(const ggdm_sd_sched_cfg *cfg, ggdm_sd_sched_state *st, const float *ac,
                             const float *eps, float *z)
{
    const int64_t ratio = (int64_t)(cfg->num_train_timesteps / cfg->steps);
    const size_t n = st->n;
    float *ring = st->buf, *cur = st->buf + 4 * n;
    int64_t t = timestep_at(cfg, st->counter), prev_t = t - ratio;
    prev_coef k;
    size_t i;
    if (st->counter == 1) {
        /* counter 1: the second evaluation at the first step's start; ets keeps its one output */
        float *e1 = ring + (size_t)st->ets_new * n;
        prev_t = t;
        t = t + ratio;
        k = pndm_coef(ac[t], alpha_prev(cfg, ac, prev_t));
        for (i = 0; i < n; i++) {
            float mo = (eps[i] + e1[i]) / 2.0f; /* (model_output + ets[-1]) / 2 */
            z[i] = pndm_prev(&k, cur[i], mo);   /* sample = cur_sample */
        }
    } else {
        /* ets = ets[-3:] + [model_output]: the new one takes the oldest slot */
        int s1 = (st->ets_new + 1) & 3, m = st->n_ets < 4 ? st->n_ets + 1 : 4;
        float *e1 = ring + (size_t)s1 * n, *e2 = ring + (size_t)((s1 + 3) & 3) * n;
        float *e3 = ring + (size_t)((s1 + 2) & 3) * n, *e4 = ring + (size_t)((s1 + 1) & 3) * n;
        const float c24 = (float)(1.0 / 24.0); /* 1 / 24, a Python float, rounded to the tensor's dtype */
        k = pndm_coef(ac[t], alpha_prev(cfg, ac, prev_t));
        for (i = 0; i < n; i++) {
            float e = eps[i], zi = z[i], mo;
            e1[i] = e;
            if (m == 1) {
                mo = e; /* counter 0 */
                cur[i] = zi;
            } else if (m == 2) {
                mo = (3.0f * e1[i] - e2[i]) / 2.0f;
            } else if (m == 3) {
                mo = (23.0f * e1[i] - 16.0f * e2[i] + 5.0f * e3[i]) / 12.0f;
            } else {
                mo = c24 * (55.0f * e1[i] - 59.0f * e2[i] + 37.0f * e3[i] - 9.0f * e4[i]);
            }
            z[i] = pndm_prev(&k, zi, mo);
        }
        st->ets_new = s1;
        st->n_ets = m;
    }
    return GGDM_OK;
}

static ggdm_status step_ddim(const ggdm_sd_sched_cfg *cfg, ggdm_sd_sched_state *st, const float *ac,
                             const float *eps, float *z)
{
    const int64_t ratio = (int64_t)(cfg->num_train_timesteps / cfg->steps);
    int64_t t = timestep_at(cfg, st->counter), prev_t = t - ratio;
    float a_t = ac[t], a_p = alpha_prev(cfg, ac, prev_t);
    float b_t = 1.0f - a_t;                      /* beta_prod_t */
    float sb_t = ggdm_sqrtf(b_t);                /* beta_prod_t ** 0.5 */
    float sa_t = ggdm_sqrtf(a_t);                /* alpha_prod_t ** 0.5 */
    float std_dev_t = 0.0f;                      /* eta * variance ** 0.5 with eta = 0: +0 */
    float cdir = ggdm_sqrtf(1.0f - a_p - std_dev_t * std_dev_t); /* (1 - a_p - std_dev_t**2) ** 0.5 */
    float sa_p = ggdm_sqrtf(a_p);                /* alpha_prod_t_prev ** 0.5 */
    size_t i, n = st->n;
    for (i = 0; i < n; i++) {
        float e = eps[i], zi = z[i];
        float x0 = (zi - sb_t * e) / sa_t; /* pred_original_sample */
        float dir = cdir * e;              /* pred_sample_direction */
        z[i] = sa_p * x0 + dir;            /* prev_sample */
    }
    return GGDM_OK;
}

ggdm_status ggdm_sd_sched_step(const ggdm_sd_sched_cfg *cfg, ggdm_sd_sched_state *st, const float *ac,
                               const float *eps, float *z)
{
    ggdm_status s;
    if (ggdm_sd_sched_cfg_check(cfg, 0) != GGDM_OK || !st || !ac || !eps || !z)
        return GGDM_ERR_ARG;
    if (!same_cfg(cfg, st) || st->n < 1 || st->counter < 0 || st->counter >= st->calls)
        return GGDM_ERR_ARG;
    if (cfg->kind == GGDM_SD_SCHED_PNDM) {
        if (!st->buf || st->n_ets < 0 || st->n_ets > 4 || st->ets_new < 0 || st->ets_new > 3)
            return GGDM_ERR_ARG;
        s = step_pndm(cfg, st, ac, eps, z);
    } else {
        s = step_ddim(cfg, st, ac, eps, z);
    }
    if (s == GGDM_OK)
        st->counter++;
    return s;
}
