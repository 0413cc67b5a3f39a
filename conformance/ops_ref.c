/*
 * The reference implementation's conformance ops: each computes one vector's output
 * from its parameters and input files with the reference library. Another
 * implementation (the GPU one) provides a table with the same op names.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggdm/dmath.h"
#include "ggdm/philox.h"
#include "ggdm/reduce.h"
#include "ggdm/rng.h"
#include "ggdm/schedule.h"
#include "ggdm/sd_guide.h"
#include "ggdm/sd_sched.h"
#include "ggdm/unet.h"
#include "ggdm/adam.h"
#include "ggdm/data.h"
#include "ggdm/diffusion.h"
#include "ggdm/optimize.h"
#include "ops_adversarial.h"
#include "ops_vectors.h"
#include "runner.h"

static ggdm_status alloc1(conf_call *c, ggdm_dtype dt, uint64_t n)
{
    ggdm_status st = ggdm_array_alloc(&c->out, dt, 1, &n);
    if (st != GGDM_OK)
        snprintf(c->err, sizeof c->err, "cannot allocate %llu outputs", (unsigned long long)n);
    return st;
}

static ggdm_status bad(conf_call *c, ggdm_status st, const char *msg, const char *arg)
{
    snprintf(c->err, sizeof c->err, msg, arg);
    return st;
}

/* --- inputs --------------------------------------------------------------------------
 * input_f32 / input_f64: kind=lin     lo + (hi - lo) * (i / (n - 1)) in float64, rounded
 *                        kind=bits    bit patterns interpolated between |lo| and |hi| (both >= 0):
 *                                     log-spaced, exact integer arithmetic; sign=both alternates signs
 *                        cols=C       shape (n / C, C) instead of (n,)
 *                        kind=special +-0, +-inf, NaN, +-min normal, +-min subnormal, +-max, +-1
 */

static uint64_t interp_u64(uint64_t a, uint64_t b, uint64_t i, uint64_t n)
{
    /* a + (b - a) * i / (n - 1), exactly, without 128-bit integers */
    uint64_t d = b - a, q, r;
    if (n < 2)
        return a;
    q = d / (n - 1);
    r = d % (n - 1);
    return a + q * i + (uint64_t)(((double)r * (double)i) / (double)(n - 1));
}

static ggdm_status op_input(conf_call *c, int f64)
{
    const char *kind = conf_param(c, "kind");
    const char *sign = conf_param(c, "sign");
    double lo, hi;
    unsigned long long n, i, cols;
    int both = sign && strcmp(sign, "both") == 0;
    TRY(conf_param_f64(c, "lo", 0, &lo));
    TRY(conf_param_f64(c, "hi", 1, &hi));
    TRY(conf_param_u64(c, "n", 16, &n));
    if (!kind)
        return bad(c, GGDM_ERR_FORMAT, "parameter kind=lin|bits|special is missing%s", "");
    if (strcmp(kind, "special") == 0) {
        static const double s64[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 2.2250738585072014e-308,
                                     -2.2250738585072014e-308, 4.9406564584124654e-324, -4.9406564584124654e-324,
                                     1.7976931348623157e308, -1.7976931348623157e308, 1.0, -1.0};
        static const float s32[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1.17549435e-38f, -1.17549435e-38f,
                                    1.40129846e-45f, -1.40129846e-45f, 3.40282347e38f, -3.40282347e38f, 1.0f, -1.0f};
        n = 13;
        TRY(alloc1(c, f64 ? GGDM_DT_F64 : GGDM_DT_F32, n));
        for (i = 0; i < n; i++) {
            if (f64)
                ((double *)c->out.data)[i] = s64[i];
            else
                ((float *)c->out.data)[i] = s32[i];
        }
        return GGDM_OK;
    }
    TRY(conf_param_u64(c, "cols", 0, &cols));
    if (n < 1 || n > (1ull << 24))
        return bad(c, GGDM_ERR_ARG, "n must be in 1 .. 2^24%s", "");
    if (cols && n % cols)
        return bad(c, GGDM_ERR_ARG, "cols must divide n%s", "");
    TRY(alloc1(c, f64 ? GGDM_DT_F64 : GGDM_DT_F32, n));
    if (cols) { /* a (n / cols, cols) matrix, filled row-major */
        c->out.ndim = 2;
        c->out.shape[0] = n / cols;
        c->out.shape[1] = cols;
    }
    for (i = 0; i < n; i++) {
        double x;
        if (strcmp(kind, "lin") == 0) {
            x = n > 1 ? lo + (hi - lo) * ((double)i / (double)(n - 1)) : lo;
            if (f64)
                ((double *)c->out.data)[i] = x;
            else
                ((float *)c->out.data)[i] = (float)x;
        } else if (strcmp(kind, "bits") == 0) {
            if (lo < 0 || hi < lo)
                return bad(c, GGDM_ERR_ARG, "kind=bits needs 0 <= lo <= hi%s", "");
            if (f64) {
                uint64_t b = interp_u64(ggdm_f64_bits(lo), ggdm_f64_bits(hi), i, n);
                x = ggdm_f64_from_bits(b);
                ((double *)c->out.data)[i] = (both && (i & 1)) ? -x : x;
            } else {
                uint64_t b = interp_u64(ggdm_f32_bits((float)lo), ggdm_f32_bits((float)hi), i, n);
                float y = ggdm_f32_from_bits((uint32_t)b);
                ((float *)c->out.data)[i] = (both && (i & 1)) ? -y : y;
            }
        } else {
            return bad(c, GGDM_ERR_FORMAT, "unknown kind '%s' (lin, bits or special)", kind);
        }
    }
    return GGDM_OK;
}

static ggdm_status op_input_f32(conf_call *c) { return op_input(c, 0); }
static ggdm_status op_input_f64(conf_call *c) { return op_input(c, 1); }

/* --- elementary functions --------------------------------------------------------------- */

static ggdm_status op_f32_unary(conf_call *c)
{
    const char *fn = conf_param(c, "fn");
    ggdm_array x;
    uint64_t i;
    float (*f)(float) = NULL;
    if (!fn)
        return bad(c, GGDM_ERR_FORMAT, "parameter fn is missing%s", "");
    if (strcmp(fn, "exp") == 0) f = ggdm_expf;
    else if (strcmp(fn, "log") == 0) f = ggdm_logf;
    else if (strcmp(fn, "sin") == 0) f = ggdm_sinf;
    else if (strcmp(fn, "cos") == 0) f = ggdm_cosf;
    else if (strcmp(fn, "erf") == 0) f = ggdm_erff;
    else if (strcmp(fn, "tanh") == 0) f = ggdm_tanhf;
    else if (strcmp(fn, "sqrt") == 0) f = ggdm_sqrtf;
    else if (strcmp(fn, "sin2pi") != 0 && strcmp(fn, "cos2pi") != 0)
        return bad(c, GGDM_ERR_ARG, "unknown float32 function '%s'", fn);
    TRY(conf_input(c, "x", &x));
    if (x.dtype != GGDM_DT_F32) {
        ggdm_array_free(&x);
        return bad(c, GGDM_ERR_FORMAT, "input x must be float32%s", "");
    }
    if (alloc1(c, GGDM_DT_F32, x.count) != GGDM_OK) {
        ggdm_array_free(&x);
        return GGDM_ERR_IO;
    }
    for (i = 0; i < x.count; i++) {
        float xi = ((const float *)x.data)[i], r;
        if (f) {
            r = f(xi);
        } else {
            float s, co;
            ggdm_sincos2pif(xi, &s, &co);
            r = fn[0] == 's' ? s : co;
        }
        ((float *)c->out.data)[i] = r;
    }
    ggdm_array_free(&x);
    return GGDM_OK;
}

static ggdm_status op_f64_unary(conf_call *c)
{
    const char *fn = conf_param(c, "fn");
    ggdm_array x;
    uint64_t i;
    double (*f)(double) = NULL;
    if (!fn)
        return bad(c, GGDM_ERR_FORMAT, "parameter fn is missing%s", "");
    if (strcmp(fn, "cos") == 0) f = ggdm_cos;
    else if (strcmp(fn, "sin") == 0) f = ggdm_sin;
    else if (strcmp(fn, "log") == 0) f = ggdm_log;
    else if (strcmp(fn, "sqrt") == 0) f = ggdm_sqrt;
    else
        return bad(c, GGDM_ERR_ARG, "unknown float64 function '%s'", fn);
    TRY(conf_input(c, "x", &x));
    if (x.dtype != GGDM_DT_F64) {
        ggdm_array_free(&x);
        return bad(c, GGDM_ERR_FORMAT, "input x must be float64%s", "");
    }
    if (alloc1(c, GGDM_DT_F64, x.count) != GGDM_OK) {
        ggdm_array_free(&x);
        return GGDM_ERR_IO;
    }
    for (i = 0; i < x.count; i++)
        ((double *)c->out.data)[i] = f(((const double *)x.data)[i]);
    ggdm_array_free(&x);
    return GGDM_OK;
}

/* --- random streams --------------------------------------------------------------------- */

static ggdm_status parse_words(conf_call *c, const char *key, uint32_t *w, int n)
{
    const char *s = conf_param(c, key);
    int i;
    if (!s)
        return bad(c, GGDM_ERR_FORMAT, "parameter %s is missing", key);
    for (i = 0; i < n; i++) {
        char *end;
        unsigned long v = strtoul(s, &end, 16);
        if (end == s || v > 0xFFFFFFFFul || (i < n - 1 && *end != ',') || (i == n - 1 && *end))
            return bad(c, GGDM_ERR_FORMAT, "parameter %s must be comma-separated hex words", key);
        w[i] = (uint32_t)v;
        s = end + 1;
    }
    return GGDM_OK;
}

/* philox: rounds, ctr=w0,w1,w2,w3, key=k0,k1, n -> (n, 4) uint32, counter incremented as a 128-bit integer. */
static ggdm_status op_philox(conf_call *c)
{
    uint32_t ctr[4], key[2];
    long long rounds;
    unsigned long long n, i;
    uint64_t shape[2];
    TRY(parse_words(c, "ctr", ctr, 4));
    TRY(parse_words(c, "key", key, 2));
    TRY(conf_param_i64(c, "rounds", 10, &rounds));
    TRY(conf_param_u64(c, "n", 1, &n));
    if (rounds < 1 || rounds > 16 || n < 1 || n > (1u << 20))
        return bad(c, GGDM_ERR_ARG, "rounds must be 1..16 and n 1..2^20%s", "");
    shape[0] = n;
    shape[1] = 4;
    TRY(ggdm_array_alloc(&c->out, GGDM_DT_U32, 2, shape));
    for (i = 0; i < n; i++) {
        ggdm_philox_block b = ggdm_philox4x32_r((int)rounds, ctr, key);
        int k;
        memcpy((uint32_t *)c->out.data + 4 * i, b.v, sizeof b.v);
        for (k = 0; k < 4; k++)
            if (++ctr[k] != 0)
                break;
    }
    return GGDM_OK;
}

/* rng: dist=u32|uniform|normal|below, seed, purpose, a, b, start, n [, bound] */
static ggdm_status op_rng(conf_call *c)
{
    const char *dist = conf_param(c, "dist");
    unsigned long long seed, purpose, a, b, start, n, bound, i, cols;
    uint64_t stream;
    ggdm_status st;
    TRY(conf_param_u64(c, "seed", 0, &seed));
    TRY(conf_param_u64(c, "purpose", 0, &purpose));
    TRY(conf_param_u64(c, "a", 0, &a));
    TRY(conf_param_u64(c, "b", 0, &b));
    TRY(conf_param_u64(c, "start", 0, &start));
    TRY(conf_param_u64(c, "n", 16, &n));
    TRY(conf_param_u64(c, "bound", 1, &bound));
    TRY(conf_param_u64(c, "cols", 0, &cols));
    if (cols && n % cols)
        return bad(c, GGDM_ERR_ARG, "cols must divide n%s", "");
    if (!dist)
        return bad(c, GGDM_ERR_FORMAT, "parameter dist=u32|uniform|normal|below is missing%s", "");
    if (purpose > 255 || a >= (1u << 24) || b > 0xFFFFFFFFull || n < 1 || n > (1u << 22) || bound < 1 ||
        bound > 0xFFFFFFFFull)
        return bad(c, GGDM_ERR_ARG, "purpose < 256, a < 2^24, b < 2^32, 1 <= n <= 2^22, 1 <= bound < 2^32%s", "");
    stream = ggdm_stream_id((ggdm_stream_purpose)purpose, (uint32_t)a, (uint32_t)b);
    if (strcmp(dist, "u32") == 0 || strcmp(dist, "below") == 0) {
        TRY(alloc1(c, GGDM_DT_U32, n));
        ggdm_rng_fill_u32(seed, stream, start, (uint32_t *)c->out.data, n);
        if (dist[0] == 'b')
            for (i = 0; i < n; i++) {
                uint32_t *w = (uint32_t *)c->out.data + i;
                *w = ggdm_rng_below_from_word(*w, (uint32_t)bound);
            }
    } else if (strcmp(dist, "uniform") == 0) {
        TRY(alloc1(c, GGDM_DT_F32, n));
        ggdm_rng_fill_uniform(seed, stream, start, (float *)c->out.data, n);
    } else if (strcmp(dist, "normal") == 0) {
        TRY(alloc1(c, GGDM_DT_F32, n));
        ggdm_rng_fill_normal(seed, stream, start, (float *)c->out.data, n);
    } else {
        return bad(c, GGDM_ERR_FORMAT, "unknown dist '%s'", dist);
    }
    if (cols) { /* a (n / cols, cols) matrix, row-major */
        c->out.ndim = 2;
        c->out.shape[0] = n / cols;
        c->out.shape[1] = cols;
    }
    st = GGDM_OK;
    return st;
}

/* --- schedules ------------------------------------------------------------------------ */

static ggdm_status op_schedule(conf_call *c)
{
    const char *kind = conf_param(c, "kind");
    ggdm_schedule_kind k;
    long long T;
    uint64_t shape[2];
    ggdm_status st;
    TRY(conf_param_i64(c, "T", 200, &T));
    if (!kind || ggdm_schedule_kind_parse(kind, &k) != GGDM_OK)
        return bad(c, GGDM_ERR_ARG, "kind must be cosine or linear, not '%s'", kind ? kind : "(missing)");
    if (T < 1 || T > GGDM_SCHEDULE_MAX_T) {
        snprintf(c->err, sizeof c->err, "T = %lld is outside 1 .. %d", T, GGDM_SCHEDULE_MAX_T);
        return GGDM_ERR_ARG;
    }
    shape[0] = GGDM_SCHED_NUM_TABLES;
    shape[1] = (uint64_t)T;
    TRY(ggdm_array_alloc(&c->out, GGDM_DT_F32, 2, shape));
    st = ggdm_schedule_compute(k, (int)T, (float *)c->out.data, (size_t)c->out.count);
    if (st != GGDM_OK)
        snprintf(c->err, sizeof c->err, "ggdm_schedule_compute: %s", ggdm_status_str(st));
    return st;
}

/* --- Stable Diffusion's schedulers (ggdm/sd_sched.h) -------------------------------------
 * sd_sched:     kind=pndm|ddim, steps (SD v1.5's scheduler_config; T, beta_start, beta_end,
 *               offset, alpha_one override it): (T + calls,) float32, alphas_cumprod then the
 *               UNet's timestep of every call (exact integers).
 * sd_sched_run: the same cfg, n (64), seed (0): a whole generation with z_T = normal(seed, TEST,
 *               a = 0x5344, b = 0) and the model output of call i eps_i = 0.1f * z + normal(seed,
 *               TEST, 0x5344, 1 + i) (z: the latents passed to that call): (calls, n) float32,
 *               the latents after every call. */
#define SD_SCHED_STREAM_A 0x5344u

static ggdm_status sd_sched_cfg_of(conf_call *c, ggdm_sd_sched_cfg *cfg)
{
    const char *kind = conf_param(c, "kind");
    long long steps, T, offset, one;
    char msg[GGDM_SD_SCHED_MSG_LEN];
    if (!kind || (strcmp(kind, "pndm") && strcmp(kind, "ddim")))
        return bad(c, GGDM_ERR_ARG, "kind must be pndm or ddim, not '%s'", kind ? kind : "(missing)");
    TRY(conf_param_i64(c, "steps", 50, &steps));
    ggdm_sd_sched_cfg_sd15(cfg, kind[0] == 'p' ? GGDM_SD_SCHED_PNDM : GGDM_SD_SCHED_DDIM, 0);
    TRY(conf_param_i64(c, "T", cfg->num_train_timesteps, &T));
    TRY(conf_param_i64(c, "offset", cfg->steps_offset, &offset));
    TRY(conf_param_i64(c, "alpha_one", cfg->set_alpha_to_one, &one));
    TRY(conf_param_f64(c, "beta_start", cfg->beta_start, &cfg->beta_start));
    TRY(conf_param_f64(c, "beta_end", cfg->beta_end, &cfg->beta_end));
    if (steps < -1000000 || steps > 1000000 || T < -1000000 || T > 1000000 || offset < -1000000 ||
        offset > 1000000 || one < -1 || one > 2)
        return bad(c, GGDM_ERR_ARG, "steps, T, offset or alpha_one out of range%s", "");
    cfg->steps = (int)steps;
    cfg->num_train_timesteps = (int)T;
    cfg->steps_offset = (int)offset;
    cfg->set_alpha_to_one = (int)one;
    if (ggdm_sd_sched_cfg_check(cfg, msg) != GGDM_OK)
        return bad(c, GGDM_ERR_ARG, "%s", msg);
    return GGDM_OK;
}

static ggdm_status op_sd_sched(conf_call *c)
{
    ggdm_sd_sched_cfg cfg;
    int64_t *ts;
    float *o;
    int calls, T, i;
    ggdm_status st;
    TRY(sd_sched_cfg_of(c, &cfg));
    calls = ggdm_sd_sched_calls(&cfg);
    T = cfg.num_train_timesteps;
    TRY(alloc1(c, GGDM_DT_F32, (uint64_t)T + (uint64_t)calls));
    o = (float *)c->out.data;
    ts = (int64_t *)malloc(sizeof(int64_t) * (size_t)calls);
    if (!ts)
        return bad(c, GGDM_ERR_IO, "out of memory%s", "");
    st = ggdm_sd_sched_alphas_cumprod(&cfg, o);
    if (st == GGDM_OK)
        st = ggdm_sd_sched_timesteps(&cfg, ts);
    for (i = 0; st == GGDM_OK && i < calls; i++)
        o[T + i] = (float)ts[i];
    free(ts);
    if (st != GGDM_OK)
        snprintf(c->err, sizeof c->err, "ggdm_sd_sched: %s", ggdm_status_str(st));
    return st;
}

static ggdm_status op_sd_sched_run(conf_call *c)
{
    ggdm_sd_sched_cfg cfg;
    ggdm_sd_sched_state s;
    unsigned long long n, seed;
    uint64_t shape[2], i;
    float *ac = NULL, *buf = NULL, *eps = NULL, *z = NULL, *o;
    int calls, k;
    ggdm_status st = GGDM_OK;
    TRY(sd_sched_cfg_of(c, &cfg));
    TRY(conf_param_u64(c, "n", 64, &n));
    TRY(conf_param_u64(c, "seed", 0, &seed));
    if (n < 1 || n > (1u << 20))
        return bad(c, GGDM_ERR_ARG, "n must be 1 .. 2^20%s", "");
    calls = ggdm_sd_sched_calls(&cfg);
    shape[0] = (uint64_t)calls;
    shape[1] = n;
    TRY(ggdm_array_alloc(&c->out, GGDM_DT_F32, 2, shape));
    o = (float *)c->out.data;
    ac = (float *)malloc(sizeof(float) * (size_t)cfg.num_train_timesteps);
    buf = (float *)malloc(sizeof(float) * (ggdm_sd_sched_buffer_floats(&cfg, (size_t)n) + 1));
    eps = (float *)malloc(sizeof(float) * (size_t)n);
    z = (float *)malloc(sizeof(float) * (size_t)n);
    if (!ac || !buf || !eps || !z) {
        st = GGDM_ERR_IO;
        snprintf(c->err, sizeof c->err, "out of memory");
    }
    if (st == GGDM_OK)
        st = ggdm_sd_sched_alphas_cumprod(&cfg, ac);
    if (st == GGDM_OK)
        st = ggdm_sd_sched_start(&cfg, &s, (size_t)n, buf);
    if (st == GGDM_OK)
        ggdm_rng_fill_normal(seed, ggdm_stream_id(GGDM_STREAM_TEST, SD_SCHED_STREAM_A, 0), 0, z, n);
    for (k = 0; st == GGDM_OK && k < calls; k++) {
        ggdm_rng_fill_normal(seed, ggdm_stream_id(GGDM_STREAM_TEST, SD_SCHED_STREAM_A, (uint32_t)(1 + k)), 0, eps, n);
        for (i = 0; i < n; i++)
            eps[i] = 0.1f * z[i] + eps[i];
        st = ggdm_sd_sched_step(&cfg, &s, ac, eps, z);
        if (st == GGDM_OK)
            memcpy(o + (size_t)k * n, z, sizeof(float) * (size_t)n);
    }
    if (st != GGDM_OK && !c->err[0])
        snprintf(c->err, sizeof c->err, "ggdm_sd_sched: %s", ggdm_status_str(st));
    free(ac);
    free(buf);
    free(eps);
    free(z);
    return st;
}

/* --- the guided Stable Diffusion step (ggdm/sd_guide.h) ------------------------------------
 * sd_guide: kind=eps|generate|linearize on tiny networks (ggdm_unet2d_cfg_tiny init seed 1,
 * ggdm_vae_cfg_tiny at a 4 x 4 latent seed 2, ResNet-18 width 8 without resize seed 3), bs 2,
 * 5 text tokens; z, text, g from normal(seed, TEST, 0x5347, b = 1, 2, 3) (g x 0.05), r = (0.3,
 * -0.2), gx = (0.1, 0.4); guided (1) or not (0), cfg (7.5), guidance (3), target (1),
 * bias=batch|own, loss=mean|sum; eps at t (500) with a = alphas_cumprod[t] of SD v1.5's table;
 * generate: sched=pndm|ddim, steps (3) -> the final latents (bs, 4, 4, 4); linearize ->
 * float64 [r (bs), gx (bs), g (bs * 3 * 8 * 8)] at the latents z. */
#define SD_GUIDE_STREAM_A 0x5347u
static ggdm_status op_sd_guide(conf_call *c)
{
    const char *kind = conf_param(c, "kind"), *bias = conf_param(c, "bias"), *loss = conf_param(c, "loss"),
               *sk = conf_param(c, "sched");
    unsigned long long guided, seed, t, steps;
    double cfg, guidance, target;
    ggdm_unet2d_cfg uc;
    ggdm_vae_cfg vc;
    ggdm_resnet_cfg rc;
    ggdm_param_table tu, tv, tr;
    ggdm_sd_nets nets;
    ggdm_sd_guide_cfg gc;
    ggdm_sd_sched_cfg sc;
    ggdm_sd_plan p;
    ggdm_sd_surrogate sur;
    float *up = NULL, *vp = NULL, *rp = NULL, *text = NULL, *z = NULL, *g = NULL, *x = NULL, ac[1000];
    double r[2] = {0.3, -0.2}, gx[2] = {0.1, 0.4};
    void *ws = NULL;
    size_t nz = 4 * 4 * 4, nx = 3 * 8 * 8, ntext, wsb = 0, e;
    uint64_t shape[4];
    char msg[GGDM_SD_MSG_LEN];
    ggdm_status st = GGDM_OK;
    if (!kind || (strcmp(kind, "eps") && strcmp(kind, "generate") && strcmp(kind, "linearize")))
        return bad(c, GGDM_ERR_ARG, "kind must be eps, generate or linearize, not '%s'", kind ? kind : "(missing)");
    if ((bias && strcmp(bias, "batch") && strcmp(bias, "own")) || (loss && strcmp(loss, "mean") && strcmp(loss, "sum")))
        return bad(c, GGDM_ERR_ARG, "bias must be batch|own, loss mean|sum%s", "");
    if (sk && strcmp(sk, "pndm") && strcmp(sk, "ddim"))
        return bad(c, GGDM_ERR_ARG, "sched must be pndm or ddim, not '%s'", sk);
    TRY(conf_param_u64(c, "guided", 1, &guided));
    TRY(conf_param_u64(c, "seed", 0, &seed));
    TRY(conf_param_u64(c, "t", 500, &t));
    TRY(conf_param_u64(c, "steps", 3, &steps));
    TRY(conf_param_f64(c, "cfg", 7.5, &cfg));
    TRY(conf_param_f64(c, "guidance", 3.0, &guidance));
    TRY(conf_param_f64(c, "target", 1.0, &target));
    if (t > 999 || steps > 1000)
        return bad(c, GGDM_ERR_ARG, "t must be 0 .. 999, steps 0 .. 1000%s", "");
    ggdm_unet2d_cfg_tiny(&uc);
    ggdm_vae_cfg_tiny(&vc);
    vc.height = vc.width = 4;
    ggdm_resnet_cfg_default(&rc);
    rc.width = 8;
    rc.resize = 0;
    ggdm_sd_sched_cfg_sd15(&sc, sk && strcmp(sk, "ddim") == 0 ? GGDM_SD_SCHED_DDIM : GGDM_SD_SCHED_PNDM, (int)steps);
    if (ggdm_unet2d_table(&uc, &tu) != GGDM_OK || ggdm_vae_params(&vc, &tv) != GGDM_OK ||
        ggdm_resnet_table(&rc, &tr) != GGDM_OK)
        return bad(c, GGDM_ERR_ARG, "tiny configurations%s", "");
    memset(&gc, 0, sizeof gc);
    gc.bs = 2;
    gc.Lt = 5;
    gc.cfg_scale = (float)cfg;
    gc.guidance = (float)guidance;
    gc.target = (float)target;
    gc.bias = bias && strcmp(bias, "own") == 0 ? GGDM_SD_BIAS_OWN : GGDM_SD_BIAS_BATCH;
    gc.loss = loss && strcmp(loss, "sum") == 0 ? GGDM_SD_LOSS_SUM : GGDM_SD_LOSS_MEAN;
    nets.unet = &uc;
    nets.vae = &vc;
    ntext = (size_t)(gc.cfg_scale > 1.0f ? 4 : 2) * (size_t)uc.cross_attention_dim * 5;
    up = (float *)malloc(sizeof(float) * tu.n_params);
    vp = (float *)malloc(sizeof(float) * tv.n_params);
    rp = (float *)malloc(sizeof(float) * tr.n_params);
    text = (float *)malloc(sizeof(float) * ntext);
    z = (float *)malloc(sizeof(float) * 2 * nz);
    g = (float *)malloc(sizeof(float) * 2 * nx);
    x = (float *)malloc(sizeof(float) * 2 * nx);
    if (!up || !vp || !rp || !text || !z || !g || !x) {
        st = GGDM_ERR_IO;
        snprintf(c->err, sizeof c->err, "out of memory");
        goto done;
    }
    nets.unet_params = up;
    nets.vae_params = vp;
    if (ggdm_unet2d_init(&uc, 1, up, tu.n_params) != GGDM_OK || ggdm_vae_init(&vc, 2, vp, tv.n_params) != GGDM_OK ||
        ggdm_resnet_init(&rc, 3, rp, tr.n_params) != GGDM_OK) {
        st = bad(c, GGDM_ERR_ARG, "init%s", "");
        goto done;
    }
    ggdm_rng_fill_normal(seed, ggdm_stream_id(GGDM_STREAM_TEST, SD_GUIDE_STREAM_A, 1), 0, text, ntext);
    ggdm_rng_fill_normal(seed, ggdm_stream_id(GGDM_STREAM_TEST, SD_GUIDE_STREAM_A, 2), 0, z, 2 * nz);
    ggdm_rng_fill_normal(seed, ggdm_stream_id(GGDM_STREAM_TEST, SD_GUIDE_STREAM_A, 3), 0, g, 2 * nx);
    for (e = 0; e < 2 * nx; e++)
        g[e] *= 0.05f;
    sur.g = g;
    sur.r = r;
    sur.gx = gx;
    if (strcmp(kind, "linearize") == 0) {
        double rr[2], gg[2];
        st = ggdm_sd_linearize_workspace_bytes(&vc, &rc, 2, c->ex, &wsb);
        if (st == GGDM_OK && !(ws = malloc(wsb)))
            st = GGDM_ERR_IO;
        shape[0] = 4 + 2 * nx;
        if (st == GGDM_OK)
            st = ggdm_array_alloc(&c->out, GGDM_DT_F64, 1, shape);
        if (st == GGDM_OK)
            st = ggdm_sd_linearize(&vc, vp, &rc, rp, 2, z, x, rr, g, gg, ws, wsb, c->ex);
        if (st == GGDM_OK) {
            double *o = (double *)c->out.data;
            o[0] = rr[0], o[1] = rr[1], o[2] = gg[0], o[3] = gg[1];
            for (e = 0; e < 2 * nx; e++)
                o[4 + e] = (double)g[e];
        }
        goto done;
    }
    st = ggdm_sd_plan_make(&nets, &gc, strcmp(kind, "generate") == 0 ? &sc : NULL, c->ex, NULL, 0, &p, msg);
    if (st != GGDM_OK) {
        snprintf(c->err, sizeof c->err, "ggdm_sd_plan_make: %s", msg);
        goto done;
    }
    if (!(ws = malloc(p.bytes))) {
        st = GGDM_ERR_IO;
        goto done;
    }
    shape[0] = 2, shape[1] = 4, shape[2] = 4, shape[3] = 4;
    st = ggdm_array_alloc(&c->out, GGDM_DT_F32, 4, shape);
    if (st == GGDM_OK && strcmp(kind, "eps") == 0) {
        ggdm_sd_sched_cfg s50;
        ggdm_sd_sched_cfg_sd15(&s50, GGDM_SD_SCHED_PNDM, 50);
        st = ggdm_sd_sched_alphas_cumprod(&s50, ac);
        if (st == GGDM_OK)
            st = ggdm_sd_guide_eps(&p, guided ? &sur : NULL, (int64_t)t, ac[t], z, text, (float *)c->out.data, ws,
                                   p.bytes, NULL);
    } else if (st == GGDM_OK) {
        st = ggdm_sd_generate(&p, guided ? &sur : NULL, z, text, ws, p.bytes, NULL, NULL);
        if (st == GGDM_OK)
            memcpy(c->out.data, z, sizeof(float) * 2 * nz);
    }
done:
    if (st != GGDM_OK && !c->err[0])
        snprintf(c->err, sizeof c->err, "ggdm_sd_guide: %s", ggdm_status_str(st));
    free(up);
    free(vp);
    free(rp);
    free(text);
    free(z);
    free(g);
    free(x);
    free(ws);
    return st;
}

/* --- reductions ------------------------------------------------------------------------
 * reduce: fn=dot (x, y: (m, n) -> (m,)), sum (x -> (m,)), meanvar (x -> (m, 2)), each row one chain. */
static ggdm_status op_reduce(conf_call *c)
{
    const char *fn = conf_param(c, "fn");
    ggdm_array x, y;
    uint64_t m, n, i;
    ggdm_status st = GGDM_OK;
    memset(&y, 0, sizeof y);
    if (!fn || (strcmp(fn, "dot") && strcmp(fn, "sum") && strcmp(fn, "meanvar")))
        return bad(c, GGDM_ERR_ARG, "fn must be dot, sum or meanvar, not '%s'", fn ? fn : "(missing)");
    TRY(conf_input(c, "x", &x));
    if (x.dtype != GGDM_DT_F32 || x.ndim != 2) {
        ggdm_array_free(&x);
        return bad(c, GGDM_ERR_FORMAT, "input x must be a (m, n) float32 array%s", "");
    }
    m = x.shape[0];
    n = x.shape[1];
    if (strcmp(fn, "dot") == 0) {
        st = conf_input(c, "y", &y);
        if (st == GGDM_OK && (y.dtype != GGDM_DT_F32 || y.ndim != 2 || y.shape[0] != m || y.shape[1] != n)) {
            st = GGDM_ERR_FORMAT;
            snprintf(c->err, sizeof c->err, "input y must be float32 of the same shape as x");
        }
    }
    if (st == GGDM_OK) {
        uint64_t shape[2];
        shape[0] = m;
        shape[1] = 2;
        st = ggdm_array_alloc(&c->out, GGDM_DT_F32, strcmp(fn, "meanvar") == 0 ? 2 : 1, shape);
    }
    for (i = 0; st == GGDM_OK && i < m; i++) {
        const float *xr = (const float *)x.data + i * n;
        float *o = (float *)c->out.data;
        if (fn[0] == 'd')
            o[i] = ggdm_dot_f32(xr, 1, (const float *)y.data + i * n, 1, (long)n);
        else if (fn[0] == 's')
            o[i] = ggdm_sum_f32(xr, 1, (long)n);
        else
            ggdm_mean_var_f32(xr, 1, (long)n, &o[2 * i], &o[2 * i + 1]);
    }
    ggdm_array_free(&x);
    ggdm_array_free(&y);
    return st;
}

/* --- the score network --------------------------------------------------------------
 * Configuration params (defaults: the paper's): dim, mults (e.g. 1,2), groups, length, heads,
 * dim_head; weights: ggdm_unet_init(seed); t: comma-separated steps, one per sample. */

static ggdm_status unet_cfg(conf_call *c, ggdm_unet_cfg *cfg, uint64_t *np)
{
    long long v;
    const char *m = conf_param(c, "mults");
    char msg[GGDM_UNET_MSG_LEN];
    ggdm_unet_cfg_default(cfg);
    TRY(conf_param_i64(c, "dim", cfg->dim, &v)); cfg->dim = (int)v;
    TRY(conf_param_i64(c, "groups", cfg->groups, &v)); cfg->groups = (int)v;
    TRY(conf_param_i64(c, "length", cfg->length, &v)); cfg->length = (int)v;
    TRY(conf_param_i64(c, "heads", cfg->heads, &v)); cfg->heads = (int)v;
    TRY(conf_param_i64(c, "dim_head", cfg->dim_head, &v)); cfg->dim_head = (int)v;
    if (m) {
        int n = 0;
        const char *s = m;
        while (*s && n < GGDM_UNET_MAX_LEVELS) {
            char *end;
            cfg->dim_mults[n++] = (int)strtol(s, &end, 10);
            s = *end == ',' ? end + 1 : end;
            if (end == s && *s)
                break;
        }
        cfg->n_levels = n;
    }
    if (ggdm_unet_cfg_check(cfg, msg) != GGDM_OK) {
        snprintf(c->err, sizeof c->err, "%s", msg);
        return GGDM_ERR_ARG;
    }
    return ggdm_unet_num_params(cfg, np);
}

static ggdm_status unet_weights(conf_call *c, const ggdm_unet_cfg *cfg, uint64_t np, float **w)
{
    unsigned long long seed;
    TRY(conf_param_u64(c, "seed", 0, &seed));
    *w = (float *)malloc(sizeof(float) * (size_t)np);
    if (!*w)
        return bad(c, GGDM_ERR_IO, "out of memory%s", "");
    return ggdm_unet_init(cfg, seed, *w, np);
}

static ggdm_status unet_steps(conf_call *c, int N, int64_t *t)
{
    const char *s = conf_param(c, "t");
    int n = 0;
    if (!s)
        return bad(c, GGDM_ERR_FORMAT, "parameter t=STEP,STEP,... is missing%s", "");
    while (*s && n < N) {
        char *end;
        t[n++] = strtoll(s, &end, 10);
        if (end == s)
            return bad(c, GGDM_ERR_FORMAT, "t must be comma-separated integers%s", "");
        s = *end == ',' ? end + 1 : end;
    }
    if (n != N || *s)
        return bad(c, GGDM_ERR_FORMAT, "t must give one step per sample%s", "");
    return GGDM_OK;
}

static ggdm_status op_unet_init(conf_call *c)
{
    ggdm_unet_cfg cfg;
    uint64_t np;
    float *w = NULL;
    ggdm_status st;
    TRY(unet_cfg(c, &cfg, &np));
    st = unet_weights(c, &cfg, np, &w);
    if (st == GGDM_OK)
        st = alloc1(c, GGDM_DT_F32, np);
    if (st == GGDM_OK)
        memcpy(c->out.data, w, sizeof(float) * (size_t)np);
    free(w);
    return st;
}

/* kind 0: eps, 1: vjp (input v), 2: loss and parameter gradients (inputs x0, z; T, schedule) */
static ggdm_status unet_run(conf_call *c, int kind)
{
    ggdm_unet_cfg cfg;
    uint64_t np;
    float *w = NULL, *tab = NULL;
    int64_t *t = NULL;
    void *ws = NULL;
    size_t wsb = 0;
    ggdm_array x, v;
    int N, D;
    ggdm_status st;
    memset(&x, 0, sizeof x);
    memset(&v, 0, sizeof v);
    TRY(unet_cfg(c, &cfg, &np));
    st = conf_input(c, "x", &x);
    if (st == GGDM_OK && (x.dtype != GGDM_DT_F32 || x.ndim != 2 || x.shape[1] != (uint64_t)cfg.length)) {
        st = GGDM_ERR_FORMAT;
        snprintf(c->err, sizeof c->err, "input x must be (N, %d) float32", cfg.length);
    }
    if (st != GGDM_OK)
        goto done;
    N = (int)x.shape[0];
    D = cfg.length;
    if (kind >= 1) {
        st = conf_input(c, kind == 1 ? "v" : "z", &v);
        if (st == GGDM_OK && (v.dtype != GGDM_DT_F32 || v.count != x.count)) {
            st = GGDM_ERR_FORMAT;
            snprintf(c->err, sizeof c->err, "input %s must be float32 of the shape of x", kind == 1 ? "v" : "z");
        }
        if (st != GGDM_OK)
            goto done;
    }
    t = (int64_t *)malloc(sizeof(int64_t) * (size_t)N);
    st = t ? unet_steps(c, N, t) : GGDM_ERR_IO;
    if (st == GGDM_OK)
        st = unet_weights(c, &cfg, np, &w);
    if (st == GGDM_OK)
        st = kind == 2 ? ggdm_unet_loss_workspace_bytes(&cfg, N, &wsb)
                       : ggdm_unet_workspace_bytes_ex(&cfg, N, kind ? GGDM_UNET_BACKWARD : GGDM_UNET_FORWARD, c->ex, &wsb);
    if (st == GGDM_OK && !(ws = malloc(wsb)))
        st = GGDM_ERR_IO;
    if (st != GGDM_OK)
        goto done;
    if (kind < 2) {
        uint64_t shape[2];
        shape[0] = (uint64_t)N;
        shape[1] = (uint64_t)D;
        st = ggdm_array_alloc(&c->out, GGDM_DT_F32, 2, shape);
        if (st == GGDM_OK && kind == 0)
            st = ggdm_unet_forward_ex(&cfg, w, N, (float *)x.data, t, (float *)c->out.data, ws, wsb, NULL, NULL, c->ex);
        else if (st == GGDM_OK)
            st = ggdm_unet_backward_ex(&cfg, w, N, (float *)x.data, t, (float *)v.data, NULL, (float *)c->out.data, NULL,
                                    ws, wsb, c->ex);
    } else {
        long long T;
        const char *ks = conf_param(c, "schedule");
        ggdm_schedule_kind sk = GGDM_SCHEDULE_COSINE;
        st = conf_param_i64(c, "T", 200, &T);
        if (st == GGDM_OK && ks && ggdm_schedule_kind_parse(ks, &sk) != GGDM_OK)
            st = bad(c, GGDM_ERR_ARG, "unknown schedule '%s'", ks);
        if (st == GGDM_OK && (T < 1 || T > GGDM_SCHEDULE_MAX_T))
            st = bad(c, GGDM_ERR_ARG, "T out of range%s", "");
        if (st == GGDM_OK && !(tab = (float *)malloc(sizeof(float) * ggdm_schedule_count((int)T))))
            st = GGDM_ERR_IO;
        if (st == GGDM_OK)
            st = ggdm_schedule_compute(sk, (int)T, tab, ggdm_schedule_count((int)T));
        if (st == GGDM_OK)
            st = alloc1(c, GGDM_DT_F32, np + 1);
        if (st == GGDM_OK) {
            float *o = (float *)c->out.data; /* [loss, gradients...] */
            st = ggdm_unet_loss_grad_ex(&cfg, w, N, (float *)x.data, t, (float *)v.data,
                                     tab + GGDM_SCHED_SQRT_ALPHAS_CUMPROD * (size_t)T,
                                     tab + GGDM_SCHED_SQRT_ONE_MINUS_ALPHAS_CUMPROD * (size_t)T, (int)T, o, o + 1, ws,
                                     wsb, c->ex);
        }
    }
    if (st != GGDM_OK && !c->err[0])
        snprintf(c->err, sizeof c->err, "%s", ggdm_status_str(st));
done:
    ggdm_array_free(&x);
    ggdm_array_free(&v);
    free(w);
    free(t);
    free(tab);
    free(ws);
    return st;
}

static ggdm_status op_unet_eps(conf_call *c) { return unet_run(c, 0); }
static ggdm_status op_unet_vjp(conf_call *c) { return unet_run(c, 1); }
static ggdm_status op_unet_loss_grad(conf_call *c) { return unet_run(c, 2); }

/* --- diffusion, guidance, training, algorithms -------------------------------------------
 * Common params: the network (as unet_*), seed (weights), T (schedule steps, cosine), and for
 * guidance version=v1|v2, beta, beta_coef; inputs x, g (N, D) and y (N,) or (N, 1). */

static ggdm_status diff_setup(conf_call *c, ggdm_unet_cfg *cfg, uint64_t *np, float **w, float **tab, int *T)
{
    long long t;
    TRY(unet_cfg(c, cfg, np));
    TRY(conf_param_i64(c, "T", 200, &t));
    if (t < 1 || t > 100000)
        return bad(c, GGDM_ERR_ARG, "T out of range%s", "");
    *T = (int)t;
    *tab = (float *)malloc(sizeof(float) * ggdm_schedule_count(*T));
    if (!*tab)
        return GGDM_ERR_IO;
    TRY(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, *T, *tab, ggdm_schedule_count(*T)));
    return unet_weights(c, cfg, *np, w);
}

static ggdm_status guide_params(conf_call *c, ggdm_guide_cfg *gc)
{
    const char *v = conf_param(c, "version");
    ggdm_guide_cfg_default(gc);
    gc->version = !v ? GGDM_GUIDE_NONE : !strcmp(v, "v1") ? GGDM_GUIDE_V1 : !strcmp(v, "v2") ? GGDM_GUIDE_V2
                                                                                           : GGDM_GUIDE_NONE;
    if (v && gc->version == GGDM_GUIDE_NONE && strcmp(v, "none"))
        return bad(c, GGDM_ERR_ARG, "version must be none, v1 or v2, not '%s'", v);
    TRY(conf_param_f64(c, "beta", 0.0, &gc->beta));
    TRY(conf_param_f64(c, "beta_coef", 1.0, &gc->beta_coef));
    return GGDM_OK;
}

static ggdm_status load_xgy(conf_call *c, int D, ggdm_array *x, ggdm_array *g, ggdm_array *y, int need_x)
{
    memset(x, 0, sizeof *x);
    memset(g, 0, sizeof *g);
    memset(y, 0, sizeof *y);
    if (need_x)
        TRY(conf_input(c, "x", x));
    if (conf_param(c, "g")) {
        TRY(conf_input(c, "g", g));
        TRY(conf_input(c, "y", y));
        if (g->dtype != GGDM_DT_F32 || y->dtype != GGDM_DT_F32 || g->count != y->count * (uint64_t)D)
            return bad(c, GGDM_ERR_FORMAT, "g must be (N, D) and y (N,) float32%s", "");
    }
    if (need_x && (x->dtype != GGDM_DT_F32 || x->count % (uint64_t)D))
        return bad(c, GGDM_ERR_FORMAT, "x must be (N, D) float32%s", "");
    return GGDM_OK;
}

/* guide: the guided eps of one step t */
static ggdm_status op_guide(conf_call *c)
{
    ggdm_unet_cfg cfg;
    ggdm_score m;
    ggdm_score_unet mu;
    ggdm_guide_cfg gc;
    uint64_t np, shape[2];
    float *w = NULL, *tab = NULL;
    int T, N;
    long long t;
    ggdm_array x, g, y;
    void *ws = NULL;
    size_t wsb;
    ggdm_status st;
    memset(&x, 0, sizeof x);
    memset(&g, 0, sizeof g);
    memset(&y, 0, sizeof y);
    st = diff_setup(c, &cfg, &np, &w, &tab, &T);
    if (st == GGDM_OK) st = guide_params(c, &gc);
    if (st == GGDM_OK) st = load_xgy(c, cfg.length, &x, &g, &y, 1);
    if (st == GGDM_OK) st = conf_param_i64(c, "t", 0, &t);
    if (st == GGDM_OK && (t < 0 || t >= T)) st = bad(c, GGDM_ERR_ARG, "t out of range%s", "");
    if (st != GGDM_OK) goto done;
    N = (int)(x.count / (uint64_t)cfg.length);
    ggdm_score_init_unet(&m, &mu, &cfg, w);
    st = ggdm_sample_workspace_bytes_ex(&m, N, gc.version, c->ex, &wsb);
    if (st == GGDM_OK && !(ws = malloc(wsb))) st = GGDM_ERR_IO;
    shape[0] = (uint64_t)N;
    shape[1] = (uint64_t)cfg.length;
    if (st == GGDM_OK) st = ggdm_array_alloc(&c->out, GGDM_DT_F32, 2, shape);
    if (st == GGDM_OK)
        st = ggdm_guided_eps_ex(&m, &gc, tab, T, (int)t, N, (float *)x.data, (float *)g.data, (float *)y.data,
                             (float *)c->out.data, NULL, ws, wsb, c->ex);
done:
    ggdm_array_free(&x); ggdm_array_free(&g); ggdm_array_free(&y);
    free(w); free(tab); free(ws);
    return st;
}

/* sample: a full DDPM run of N samples (Philox noise, round), guided when g is given */
static ggdm_status op_sample(conf_call *c)
{
    ggdm_unet_cfg cfg;
    ggdm_score m;
    ggdm_score_unet mu;
    ggdm_guide_cfg gc;
    uint64_t np, shape[2];
    unsigned long long N, round, seed;
    float *w = NULL, *tab = NULL;
    int T;
    ggdm_array x, g, y;
    void *ws = NULL;
    size_t wsb;
    ggdm_status st;
    memset(&x, 0, sizeof x);
    memset(&g, 0, sizeof g);
    memset(&y, 0, sizeof y);
    st = diff_setup(c, &cfg, &np, &w, &tab, &T);
    if (st == GGDM_OK) st = guide_params(c, &gc);
    if (st == GGDM_OK) st = load_xgy(c, cfg.length, &x, &g, &y, 0);
    if (st == GGDM_OK) st = conf_param_u64(c, "n", 2, &N);
    if (st == GGDM_OK) st = conf_param_u64(c, "round", 0, &round);
    if (st == GGDM_OK) st = conf_param_u64(c, "noise_seed", 1, &seed);
    if (st == GGDM_OK && (N < 1 || N > 4096)) st = bad(c, GGDM_ERR_ARG, "n out of range%s", "");
    if (st != GGDM_OK) goto done;
    ggdm_score_init_unet(&m, &mu, &cfg, w);
    st = ggdm_sample_workspace_bytes_ex(&m, (int)N, gc.version, c->ex, &wsb);
    if (st == GGDM_OK && !(ws = malloc(wsb))) st = GGDM_ERR_IO;
    shape[0] = N;
    shape[1] = (uint64_t)cfg.length;
    if (st == GGDM_OK) st = ggdm_array_alloc(&c->out, GGDM_DT_F32, 2, shape);
    if (st == GGDM_OK)
        st = ggdm_sample_ex(&m, &gc, tab, T, (int)N, seed, (uint32_t)round, 0, (float *)g.data, (float *)y.data, NULL,
                         (float *)c->out.data, NULL, ws, wsb, NULL, NULL, c->ex);
done:
    ggdm_array_free(&x); ggdm_array_free(&g); ggdm_array_free(&y);
    free(w); free(tab); free(ws);
    return st;
}

/* adam: k steps on n parameters with gradients from the TEST stream (b = step); out (3, n): p, m, v */
static ggdm_status op_adam(conf_call *c)
{
    unsigned long long n, k, i;
    ggdm_adam_cfg ac;
    ggdm_adam_state as;
    uint64_t shape[2];
    float *p, *m, *v, *g;
    ggdm_status st = GGDM_OK;
    TRY(conf_param_u64(c, "n", 64, &n));
    TRY(conf_param_u64(c, "steps", 3, &k));
    ggdm_adam_cfg_default(&ac);
    TRY(conf_param_f64(c, "lr", ac.lr, &ac.lr));
    if (n < 1 || n > (1u << 20) || k > 1000)
        return bad(c, GGDM_ERR_ARG, "n or steps out of range%s", "");
    shape[0] = 3;
    shape[1] = n;
    TRY(ggdm_array_alloc(&c->out, GGDM_DT_F32, 2, shape));
    p = (float *)c->out.data;
    m = p + n;
    v = m + n;
    g = (float *)malloc(sizeof(float) * n);
    if (!g)
        return GGDM_ERR_IO;
    ggdm_rng_fill_normal(3, ggdm_stream_id(GGDM_STREAM_TEST, 9, 0), 0, p, n);
    as.step = 0;
    for (i = 0; st == GGDM_OK && i < k; i++) {
        ggdm_rng_fill_normal(3, ggdm_stream_id(GGDM_STREAM_TEST, 9, (uint32_t)(i + 1)), 0, g, n);
        st = ggdm_adam_step(&ac, &as, p, g, m, v, n);
    }
    free(g);
    return st;
}

/* pretrain: a short pre-training run on linear_latent data (d = dlat), flat parameters out */
static ggdm_status op_pretrain(conf_call *c)
{
    ggdm_unet_cfg cfg;
    uint64_t np;
    float *w = NULL, *tab = NULL, *grad = NULL, *am = NULL, *av = NULL, *data = NULL;
    double *A = NULL, *work = NULL, th1[4096], th2[4096], b1, b2[4096];
    unsigned long long N0, bs, epochs, e, b;
    long long dlat;
    int T, D;
    ggdm_adam_cfg ac;
    ggdm_adam_state as;
    void *ws = NULL;
    size_t wsb, wn;
    ggdm_status st = diff_setup(c, &cfg, &np, &w, &tab, &T);
    if (st == GGDM_OK) st = conf_param_u64(c, "N_0", 64, &N0);
    if (st == GGDM_OK) st = conf_param_u64(c, "bs", 16, &bs);
    if (st == GGDM_OK) st = conf_param_u64(c, "epochs", 1, &epochs);
    if (st == GGDM_OK) st = conf_param_i64(c, "dlat", 2, &dlat);
    D = cfg.length;
    if (st == GGDM_OK && (bs < 1 || N0 % bs || N0 > 65536 || epochs > 100 || dlat < 1 || dlat >= D || D > 4096))
        st = bad(c, GGDM_ERR_ARG, "bad N_0, bs, epochs or dlat%s", "");
    if (st != GGDM_OK) goto done;
    ggdm_adam_cfg_default(&ac);
    st = conf_param_f64(c, "lr", 1e-3, &ac.lr);
    wn = ggdm_hyper_linear_latent_work_doubles(D, (int)dlat);
    A = (double *)malloc(sizeof(double) * (size_t)dlat * D);
    work = (double *)malloc(sizeof(double) * (wn + 1));
    data = (float *)malloc(sizeof(float) * N0 * D);
    grad = (float *)malloc(sizeof(float) * np);
    am = (float *)calloc(np, sizeof(float));
    av = (float *)calloc(np, sizeof(float));
    if (st == GGDM_OK) st = ggdm_train_workspace_bytes(&cfg, (int)bs, &wsb);
    if (st == GGDM_OK && (!A || !work || !data || !grad || !am || !av || !(ws = malloc(wsb)))) st = GGDM_ERR_IO;
    if (st == GGDM_OK) st = ggdm_hyper_linear_latent(7, D, (int)dlat, 9.0, A, th1, th2, &b1, b2, work, wn);
    if (st == GGDM_OK) st = ggdm_data_linear_latent(7, A, (int)dlat, D, 0, N0, data);
    as.step = 0;
    for (e = 0; st == GGDM_OK && e < epochs; e++)
        for (b = 0; st == GGDM_OK && b < N0 / bs; b++)
            st = ggdm_train_step_ex(&cfg, w, grad, &ac, &as, am, av, tab, T, (int)bs, data + b * bs * D, 7, (uint32_t)e,
                                 (uint32_t)b, 0, NULL, ws, wsb, c->ex);
    if (st == GGDM_OK) st = alloc1(c, GGDM_DT_F32, np);
    if (st == GGDM_OK) memcpy(c->out.data, w, sizeof(float) * np);
done:
    free(w); free(tab); free(grad); free(am); free(av); free(data); free(A); free(work); free(ws);
    return st;
}

/* opt_round: round 0 (unguided) then one round of Algorithm 1, or 2 with finetune=1, with the
 * quadratic reward on linear_latent hyper-parameters (seed 7, d = dlat); out: the new samples */
static ggdm_status op_opt_round(conf_call *c)
{
    ggdm_unet_cfg cfg;
    ggdm_score m;
    ggdm_score_unet mu;
    ggdm_opt_cfg oc;
    ggdm_opt_state os;
    ggdm_guide_cfg gc;
    uint64_t np, shape[2];
    float *w = NULL, *tab = NULL;
    double *A = NULL, *work = NULL, th1[4096], th2[4096], b1, b2[4096], interval;
    unsigned long long N, ft;
    long long dlat;
    int T, D;
    void *mem = NULL;
    size_t memb = 0, wn;
    ggdm_status st = diff_setup(c, &cfg, &np, &w, &tab, &T);
    if (st == GGDM_OK) st = guide_params(c, &gc);
    if (st == GGDM_OK) st = conf_param_u64(c, "n", 4, &N);
    if (st == GGDM_OK) st = conf_param_u64(c, "finetune", 0, &ft);
    if (st == GGDM_OK) st = conf_param_i64(c, "dlat", 2, &dlat);
    if (st == GGDM_OK) st = conf_param_f64(c, "interval", 0.2, &interval);
    D = cfg.length;
    if (st == GGDM_OK && (N < 1 || N > 1024 || dlat < 1 || dlat >= D || D > 4096))
        st = bad(c, GGDM_ERR_ARG, "bad n or dlat%s", "");
    if (st != GGDM_OK) goto done;
    ggdm_score_init_unet(&m, &mu, &cfg, w);
    wn = ggdm_hyper_linear_latent_work_doubles(D, (int)dlat);
    A = (double *)malloc(sizeof(double) * (size_t)dlat * D);
    work = (double *)malloc(sizeof(double) * (wn + 1));
    if (!A || !work)
        st = GGDM_ERR_IO;
    if (st == GGDM_OK) st = ggdm_hyper_linear_latent(7, D, (int)dlat, 9.0, A, th1, th2, &b1, b2, work, wn);
    /* the library's round (ggdm/optimize.h): round 0, then round 1 of Algorithm 1 (2 with finetune) */
    ggdm_opt_cfg_default(&oc);
    oc.score = &m;
    oc.tab = tab;
    oc.T = T;
    oc.N = (int)N;
    oc.seed = 7;
    oc.guide = gc;
    oc.reward = GGDM_REWARD_QUADRATIC;
    oc.reward_param = th2;
    oc.interval = interval;
    oc.ratio = GGDM_OPT_RATIO_LINEAR_LATENT;
    oc.ratio_A = A;
    oc.ratio_d = (int)dlat;
    oc.top_k = (int)N;
    if (ft) { /* one step on all N samples, Adam at lr 1e-4 from step 0 */
        oc.ft_net = &cfg;
        oc.ft_params = w;
        oc.ft_steps = 1;
        oc.ft_start = 0;
        oc.ft_rounds = 1;
        oc.ft_adam.lr = 1e-4;
    }
    if (st == GGDM_OK) st = ggdm_opt_state_bytes(&oc, c->ex, &memb);
    if (st == GGDM_OK && !(mem = malloc(memb))) st = GGDM_ERR_IO;
    if (st == GGDM_OK) st = ggdm_opt_state_init(&oc, c->ex, mem, memb, &os);
    if (st == GGDM_OK) st = ggdm_opt_round(&oc, &os, 0, NULL, c->ex);
    if (st == GGDM_OK) st = ggdm_opt_round(&oc, &os, 1, NULL, c->ex);
    shape[0] = N;
    shape[1] = (uint64_t)D;
    if (st == GGDM_OK) st = ggdm_array_alloc(&c->out, GGDM_DT_F32, 2, shape);
    if (st == GGDM_OK) memcpy(c->out.data, os.z, sizeof(float) * N * D);
done:
    free(w); free(tab); free(A); free(work); free(mem);
    return st;
}

static const conf_op ref_ops[] = {
    CONF_OPS_ADVERSARIAL
    CONF_OPS_VECTORS
    {"input_f32", op_input_f32, "deterministic float32 inputs (lin, bits, special)"},
    {"input_f64", op_input_f64, "deterministic float64 inputs (lin, bits, special)"},
    {"f32_unary", op_f32_unary, "ggdm's float32 elementary functions"},
    {"f64_unary", op_f64_unary, "ggdm's float64 elementary functions"},
    {"philox", op_philox, "Philox4x32-R blocks"},
    {"rng", op_rng, "random streams: u32, uniform, normal, below"},
    {"schedule", op_schedule, "the 12 schedule tables (12, T)"},
    {"sd_sched", op_sd_sched, "SD's PNDM/DDIM scheduler: alphas_cumprod then the timesteps (T + calls,)"},
    {"sd_sched_run", op_sd_sched_run, "a whole PNDM/DDIM generation on test-stream eps: (calls, n) latents"},
    {"sd_guide", op_sd_guide, "the guided SD step on tiny networks: eps, a generation's latents, or the linearisation"},
    {"reduce", op_reduce, "fixed-order reductions: dot, sum, meanvar"},
    {"unet_init", op_unet_init, "Unet1D parameters from a seed (flat, state-dict order)"},
    {"unet_eps", op_unet_eps, "Unet1D forward: eps(x, t)"},
    {"unet_vjp", op_unet_vjp, "Unet1D input vector-Jacobian product J_eps(x)^T v"},
    {"unet_loss_grad", op_unet_loss_grad, "training loss and parameter gradients: [loss, grads...]"},
    {"guide", op_guide, "guided eps of one step (v1: G, v2: G_loss)"},
    {"sample", op_sample, "a full DDPM sampling run, unguided or guided"},
    {"adam", op_adam, "Adam steps: (3, n) parameters, m, v"},
    {"pretrain", op_pretrain, "a short pre-training run: the parameters after it"},
    {"opt_round", op_opt_round, "one round of Algorithm 1 (or 2 with finetune=1): the new samples"},
};

const conf_impl conf_impl_ref = {"ref", ref_ops, (int)(sizeof ref_ops / sizeof ref_ops[0]), 1};
