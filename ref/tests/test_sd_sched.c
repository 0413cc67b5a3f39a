/* Stable Diffusion's schedulers (ggdm/sd_sched.h): timesteps, the alphas_cumprod table against
 * torch's values, the PLMS history against a plain list implementation, closed forms, errors. */
#include <math.h>

#include "ggdm/rng.h"
#include "ggdm/sd_sched.h"
#include "ggdm_test.h"

#define N 37 /* latent elements: odd, not a multiple of anything */

static uint32_t bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float ac[1000];
static float buf[5 * N];

/* Model outputs of call c: a fixed function of z and c (a test stream), as the conformance op. */
static void fake_eps(int c, const float *z, float *eps)
{
    int i;
    ggdm_rng_fill_normal(7, ggdm_stream_id(GGDM_STREAM_TEST, 77, (uint32_t)c), 0, eps, N);
    for (i = 0; i < N; i++)
        eps[i] = 0.1f * z[i] + eps[i];
}

static void start_z(float *z)
{
    ggdm_rng_fill_normal(7, ggdm_stream_id(GGDM_STREAM_TEST, 78, 0), 0, z, N);
}

static void test_cfg_and_calls(void **state)
{
    ggdm_sd_sched_cfg c;
    (void)state;
    ggdm_sd_sched_cfg_sd15(&c, GGDM_SD_SCHED_PNDM, 50);
    assert_int_equal(c.kind, GGDM_SD_SCHED_PNDM);
    assert_int_equal(c.num_train_timesteps, 1000);
    assert_true(c.beta_start == 0.00085 && c.beta_end == 0.012);
    assert_int_equal(c.steps_offset, 1);
    assert_int_equal(c.set_alpha_to_one, 0);
    assert_int_equal(c.steps, 50);
    assert_int_equal(ggdm_sd_sched_cfg_check(&c, NULL), GGDM_OK);
    assert_int_equal(ggdm_sd_sched_calls(&c), 51);
    assert_int_equal(ggdm_sd_sched_buffer_floats(&c, 100), 500);
    c.steps = 10;
    assert_int_equal(ggdm_sd_sched_calls(&c), 11);
    c.steps = 2;
    assert_int_equal(ggdm_sd_sched_calls(&c), 3);
    c.steps = 1; /* plms_timesteps = concat([], [], [1]): one call */
    assert_int_equal(ggdm_sd_sched_calls(&c), 1);
    ggdm_sd_sched_cfg_sd15(&c, GGDM_SD_SCHED_DDIM, 50);
    assert_int_equal(ggdm_sd_sched_calls(&c), 50);
    assert_int_equal(ggdm_sd_sched_buffer_floats(&c, 100), 0);
    c.steps = 1;
    assert_int_equal(ggdm_sd_sched_calls(&c), 1);
    c.steps = 999; /* ratio 1: largest timestep 998 + 1 */
    assert_int_equal(ggdm_sd_sched_cfg_check(&c, NULL), GGDM_OK);
    assert_int_equal(ggdm_sd_sched_calls(&c), 999);
}

static void test_timesteps(void **state)
{
    static const int64_t pndm50_head[] = {981, 961, 961, 941, 921, 901};
    static const int64_t pndm10[] = {901, 801, 801, 701, 601, 501, 401, 301, 201, 101, 1};
    static const int64_t pndm2[] = {501, 1, 1};
    static const int64_t ddim10[] = {901, 801, 701, 601, 501, 401, 301, 201, 101, 1};
    int64_t t[64];
    ggdm_sd_sched_cfg c;
    int i;
    (void)state;
    ggdm_sd_sched_cfg_sd15(&c, GGDM_SD_SCHED_PNDM, 50);
    assert_int_equal(ggdm_sd_sched_timesteps(&c, t), GGDM_OK);
    for (i = 0; i < 6; i++)
        assert_int_equal(t[i], pndm50_head[i]);
    for (i = 2; i < 51; i++) /* 961, 961, 941, ..., 21, 1 */
        assert_int_equal(t[i], (int64_t)(50 - i) * 20 + 1);
    assert_int_equal(t[50], 1);
    c.steps = 10;
    assert_int_equal(ggdm_sd_sched_timesteps(&c, t), GGDM_OK);
    assert_memory_equal(t, pndm10, sizeof pndm10);
    c.steps = 2;
    assert_int_equal(ggdm_sd_sched_timesteps(&c, t), GGDM_OK);
    assert_memory_equal(t, pndm2, sizeof pndm2);
    c.steps = 1;
    assert_int_equal(ggdm_sd_sched_timesteps(&c, t), GGDM_OK);
    assert_int_equal(t[0], 1);
    c.steps = 3; /* ratio 333: 667, 334, 334, 1 */
    assert_int_equal(ggdm_sd_sched_timesteps(&c, t), GGDM_OK);
    assert_true(t[0] == 667 && t[1] == 334 && t[2] == 334 && t[3] == 1);
    ggdm_sd_sched_cfg_sd15(&c, GGDM_SD_SCHED_DDIM, 10);
    assert_int_equal(ggdm_sd_sched_timesteps(&c, t), GGDM_OK);
    assert_memory_equal(t, ddim10, sizeof ddim10);
    c.steps = 50;
    assert_int_equal(ggdm_sd_sched_timesteps(&c, t), GGDM_OK);
    for (i = 0; i < 50; i++)
        assert_int_equal(t[i], (int64_t)(49 - i) * 20 + 1);
}

/* torch 1.13.1: torch.cumprod(1.0 - linspace**2, 0) with the scalar linspace formula (the
 * float32 bits ggdm defines); diffusers' own table (torch's vectorised linspace) has the same
 * bits up to index 369 and differs by up to 3 ulp after it (its values in the comments). */
static void test_alphas_cumprod(void **state)
{
    static const struct {
        int t;
        uint32_t bits;
    } known[] = {
        {0, 0x3f7fc84b},   {1, 0x3f7f9054},   {2, 0x3f7f581a},   {100, 0x3f64ebcf},
        {373, 0x3eefcc21}, /* diffusers 0x3eefcc22 */
        {500, 0x3e8d7b73}, /* 0x3e8d7b74 */
        {981, 0x3bbd405f}, /* 0x3bbd4061 */
        {999, 0x3b98b3b6}, /* 0x3b98b3b8 */
    };
    ggdm_sd_sched_cfg c;
    size_t i;
    int t;
    (void)state;
    ggdm_sd_sched_cfg_sd15(&c, GGDM_SD_SCHED_PNDM, 50);
    assert_int_equal(ggdm_sd_sched_alphas_cumprod(&c, ac), GGDM_OK);
    for (i = 0; i < sizeof known / sizeof known[0]; i++)
        assert_int_equal(bits(ac[known[i].t]), known[i].bits);
    for (t = 1; t < 1000; t++)
        assert_true(ac[t] < ac[t - 1] && ac[t] > 0.0f);
    /* the same table whatever the kind and steps */
    {
        static float ac2[1000];
        ggdm_sd_sched_cfg_sd15(&c, GGDM_SD_SCHED_DDIM, 7);
        assert_int_equal(ggdm_sd_sched_alphas_cumprod(&c, ac2), GGDM_OK);
        assert_memory_equal(ac, ac2, sizeof ac);
    }
}

/* PNDMScheduler.step_plms written as diffusers writes it: a list of model outputs. */
static void plms_list(const ggdm_sd_sched_cfg *c, const float *a, float *z, float *lat)
{
    static float ets[64][N], cur[N];
    int64_t ts[64];
    int calls = ggdm_sd_sched_calls(c), ratio = c->num_train_timesteps / c->steps, counter, len = 0, i;
    float eps[N];
    assert_true(calls <= 64);
    assert_int_equal(ggdm_sd_sched_timesteps(c, ts), GGDM_OK);
    for (counter = 0; counter < calls; counter++) {
        int64_t t = ts[counter], prev = t - ratio;
        float mo[N], *smp = z, a_t, a_p, b_t, b_p, sc, den;
        fake_eps(counter, z, eps);
        if (counter != 1) {
            memcpy(ets[len++], eps, sizeof eps);
        } else {
            prev = t;
            t = t + ratio;
        }
        for (i = 0; i < N; i++) {
            int L = len > 4 ? 4 : len;
            const float *e1 = ets[len - 1], *e2 = L > 1 ? ets[len - 2] : 0, *e3 = L > 2 ? ets[len - 3] : 0,
                        *e4 = L > 3 ? ets[len - 4] : 0;
            if (L == 1 && counter == 0)
                mo[i] = eps[i];
            else if (L == 1 && counter == 1)
                mo[i] = (eps[i] + e1[i]) / 2;
            else if (L == 2)
                mo[i] = (3 * e1[i] - e2[i]) / 2;
            else if (L == 3)
                mo[i] = (23 * e1[i] - 16 * e2[i] + 5 * e3[i]) / 12;
            else
                mo[i] = (float)(1.0 / 24) * (55 * e1[i] - 59 * e2[i] + 37 * e3[i] - 9 * e4[i]);
        }
        if (counter == 0)
            memcpy(cur, z, sizeof cur);
        if (counter == 1)
            smp = cur;
        a_t = a[t];
        a_p = prev >= 0 ? a[prev] : a[0];
        b_t = 1 - a_t;
        b_p = 1 - a_p;
        sc = sqrtf(a_p / a_t);
        den = a_t * sqrtf(b_p) + sqrtf(a_t * b_t * a_p);
        for (i = 0; i < N; i++)
            z[i] = sc * smp[i] - (a_p - a_t) * mo[i] / den;
        memcpy(lat + (size_t)counter * N, z, sizeof eps);
    }
}

/* A generation through the library; lat[c * N ..] = z after call c. */
static void run_lib(const ggdm_sd_sched_cfg *c, float *z, float *lat)
{
    ggdm_sd_sched_state st;
    float eps[N];
    int calls = ggdm_sd_sched_calls(c), k;
    assert_int_equal(ggdm_sd_sched_alphas_cumprod(c, ac), GGDM_OK);
    assert_int_equal(ggdm_sd_sched_start(c, &st, N, buf), GGDM_OK);
    for (k = 0; k < calls; k++) {
        fake_eps(k, z, eps);
        assert_int_equal(ggdm_sd_sched_step(c, &st, ac, eps, z), GGDM_OK);
        memcpy(lat + (size_t)k * N, z, sizeof eps);
    }
    assert_int_equal(st.counter, calls);
    assert_int_equal(ggdm_sd_sched_step(c, &st, ac, eps, z), GGDM_ERR_ARG); /* past the last call */
    assert_int_equal(st.counter, calls);
}

static float lat_a[64 * N], lat_b[64 * N];

/* The ring of 4 gives the bits of diffusers' list (every branch of the history: 1, 2, 50 steps). */
static void test_pndm_ring_vs_list(void **state)
{
    static const int steps[] = {1, 2, 3, 4, 5, 10, 50};
    ggdm_sd_sched_cfg c;
    float z[N];
    size_t i;
    (void)state;
    for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        int calls;
        ggdm_sd_sched_cfg_sd15(&c, GGDM_SD_SCHED_PNDM, steps[i]);
        calls = ggdm_sd_sched_calls(&c);
        start_z(z);
        run_lib(&c, z, lat_a);
        start_z(z);
        plms_list(&c, ac, z, lat_b);
        assert_memory_equal(lat_a, lat_b, sizeof(float) * (size_t)calls * N);
    }
}

/* One DDIM step (t = 1 to final_alpha_cumprod = ac[0]) is the closed form; so is one PNDM step. */
static void test_one_step_closed_forms(void **state)
{
    ggdm_sd_sched_cfg c;
    float z[N], z0[N], eps[N];
    double a_t, a_p;
    int i;
    (void)state;
    ggdm_sd_sched_cfg_sd15(&c, GGDM_SD_SCHED_DDIM, 1);
    start_z(z0);
    memcpy(z, z0, sizeof z);
    run_lib(&c, z, lat_a);
    fake_eps(0, z0, eps);
    a_t = ac[1];
    a_p = ac[0];
    for (i = 0; i < N; i++) {
        float x0 = (z0[i] - sqrtf(1.0f - ac[1]) * eps[i]) / sqrtf(ac[1]);
        float want = sqrtf(ac[0]) * x0 + sqrtf(1.0f - ac[0] - 0.0f) * eps[i];
        double exact = sqrt(a_p) * ((z0[i] - sqrt(1 - a_t) * eps[i]) / sqrt(a_t)) + sqrt(1 - a_p) * eps[i];
        assert_int_equal(bits(z[i]), bits(want));
        assert_true(fabs(z[i] - exact) <= 1e-6 * (1 + fabs(exact)));
    }
    ggdm_sd_sched_cfg_sd15(&c, GGDM_SD_SCHED_PNDM, 1);
    memcpy(z, z0, sizeof z);
    run_lib(&c, z, lat_a);
    for (i = 0; i < N; i++) {
        /* x_prev = sqrt(a_p / a_t) x - (a_p - a_t) eps / (a_t sqrt(1 - a_p) + sqrt(a_t (1 - a_t) a_p)) */
        double exact = sqrt(a_p / a_t) * z0[i] -
                       (a_p - a_t) * eps[i] / (a_t * sqrt(1 - a_p) + sqrt(a_t * (1 - a_t) * a_p));
        assert_true(fabs(z[i] - exact) <= 1e-6 * (1 + fabs(exact)));
    }
}

/* PNDM and DDIM are different methods: the same model outputs give different latents. */
static void test_pndm_is_not_ddim(void **state)
{
    ggdm_sd_sched_cfg p, d;
    float zp[N], zd[N];
    int i, differ = 0;
    (void)state;
    ggdm_sd_sched_cfg_sd15(&p, GGDM_SD_SCHED_PNDM, 10);
    ggdm_sd_sched_cfg_sd15(&d, GGDM_SD_SCHED_DDIM, 10);
    start_z(zp);
    start_z(zd);
    run_lib(&p, zp, lat_a);
    run_lib(&d, zd, lat_b);
    for (i = 0; i < N; i++) {
        differ += bits(zp[i]) != bits(zd[i]);
        assert_true(isfinite(zp[i]) && isfinite(zd[i]));
    }
    assert_true(differ > N / 2);
    /* the first call (plain eps, t = 901 to 801) is the same update written two ways: close */
    for (i = 0; i < N; i++)
        assert_true(fabsf(lat_a[i] - lat_b[i]) <= 1e-5f * (1 + fabsf(lat_b[i])));
}

/* eps and z may be one array: the same bits as separate arrays holding the same values. */
static void test_alias(void **state)
{
    int kind;
    (void)state;
    for (kind = 0; kind < 2; kind++) {
        ggdm_sd_sched_cfg c;
        ggdm_sd_sched_state s1, s2;
        static float buf2[5 * N];
        float a[N], b[N], e[N];
        int k, calls;
        ggdm_sd_sched_cfg_sd15(&c, (ggdm_sd_sched_kind)kind, 6);
        calls = ggdm_sd_sched_calls(&c);
        assert_int_equal(ggdm_sd_sched_alphas_cumprod(&c, ac), GGDM_OK);
        assert_int_equal(ggdm_sd_sched_start(&c, &s1, N, buf), GGDM_OK);
        assert_int_equal(ggdm_sd_sched_start(&c, &s2, N, buf2), GGDM_OK);
        start_z(a);
        memcpy(b, a, sizeof a);
        for (k = 0; k < calls; k++) {
            memcpy(e, b, sizeof e);
            assert_int_equal(ggdm_sd_sched_step(&c, &s1, ac, a, a), GGDM_OK);
            assert_int_equal(ggdm_sd_sched_step(&c, &s2, ac, e, b), GGDM_OK);
            assert_memory_equal(a, b, sizeof a);
        }
    }
}

static void test_errors(void **state)
{
    ggdm_sd_sched_cfg c, g;
    ggdm_sd_sched_state st;
    char msg[GGDM_SD_SCHED_MSG_LEN];
    float z[N], eps[N];
    int64_t t[4];
    (void)state;
    ggdm_sd_sched_cfg_sd15(&g, GGDM_SD_SCHED_PNDM, 50);
    assert_int_equal(ggdm_sd_sched_cfg_check(NULL, msg), GGDM_ERR_ARG);
    assert_true(msg[0] != '\0');
#define BAD(field, value)                                                                                       \
    do {                                                                                                        \
        c = g;                                                                                                  \
        c.field = value;                                                                                        \
        msg[0] = '\0';                                                                                          \
        assert_int_equal(ggdm_sd_sched_cfg_check(&c, msg), GGDM_ERR_ARG);                                       \
        assert_true(msg[0] != '\0');                                                                            \
        assert_int_equal(ggdm_sd_sched_cfg_check(&c, NULL), GGDM_ERR_ARG);                                      \
        assert_int_equal(ggdm_sd_sched_calls(&c), 0);                                                           \
        assert_int_equal(ggdm_sd_sched_alphas_cumprod(&c, ac), GGDM_ERR_ARG);                                   \
        assert_int_equal(ggdm_sd_sched_timesteps(&c, t), GGDM_ERR_ARG);                                         \
        assert_int_equal(ggdm_sd_sched_buffer_floats(&c, N), 0);                                                \
        assert_int_equal(ggdm_sd_sched_start(&c, &st, N, buf), GGDM_ERR_ARG);                                   \
    } while (0)
    BAD(kind, (ggdm_sd_sched_kind)2);
    BAD(num_train_timesteps, 1);
    BAD(num_train_timesteps, GGDM_SD_SCHED_MAX_T + 1);
    BAD(beta_start, 0.0);
    BAD(beta_end, 1.0);
    BAD(beta_end, NAN);
    BAD(beta_start, -0.001);
    BAD(steps_offset, -1);
    BAD(set_alpha_to_one, 2);
    BAD(steps, 0);
    BAD(steps, 1001);
    BAD(steps, 1000); /* ratio 1: the last timestep would be 999 + 1 */
#undef BAD
    /* NULLs */
    assert_int_equal(ggdm_sd_sched_alphas_cumprod(&g, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sd_sched_timesteps(&g, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sd_sched_start(&g, NULL, N, buf), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sd_sched_start(&g, &st, N, NULL), GGDM_ERR_ARG); /* PNDM needs the buffer */
    assert_int_equal(ggdm_sd_sched_start(&g, &st, 0, buf), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sd_sched_buffer_floats(&g, (size_t)-1 / 4), 0);
    ggdm_sd_sched_cfg_sd15(NULL, GGDM_SD_SCHED_PNDM, 50); /* no crash */
    assert_int_equal(ggdm_sd_sched_alphas_cumprod(&g, ac), GGDM_OK);
    assert_int_equal(ggdm_sd_sched_start(&g, &st, N, buf), GGDM_OK);
    start_z(z);
    memset(eps, 0, sizeof eps);
    assert_int_equal(ggdm_sd_sched_step(NULL, &st, ac, eps, z), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sd_sched_step(&g, NULL, ac, eps, z), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sd_sched_step(&g, &st, NULL, eps, z), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sd_sched_step(&g, &st, ac, NULL, z), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sd_sched_step(&g, &st, ac, eps, NULL), GGDM_ERR_ARG);
    /* a cfg other than the one the state was started with */
    c = g;
    c.steps = 10;
    assert_int_equal(ggdm_sd_sched_step(&c, &st, ac, eps, z), GGDM_ERR_ARG);
    c = g;
    c.kind = GGDM_SD_SCHED_DDIM;
    assert_int_equal(ggdm_sd_sched_step(&c, &st, ac, eps, z), GGDM_ERR_ARG);
    assert_int_equal(st.counter, 0);
    /* DDIM needs no buffer */
    ggdm_sd_sched_cfg_sd15(&c, GGDM_SD_SCHED_DDIM, 2);
    assert_int_equal(ggdm_sd_sched_start(&c, &st, N, NULL), GGDM_OK);
    assert_int_equal(ggdm_sd_sched_step(&c, &st, ac, eps, z), GGDM_OK);
    assert_int_equal(ggdm_sd_sched_step(&c, &st, ac, eps, z), GGDM_OK);
    memcpy(eps, z, sizeof eps);
    assert_int_equal(ggdm_sd_sched_step(&c, &st, ac, eps, z), GGDM_ERR_ARG); /* past the end */
    assert_memory_equal(eps, z, sizeof eps);                               /* z unchanged */
    assert_int_equal(st.counter, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_and_calls),       cmocka_unit_test(test_timesteps),
        cmocka_unit_test(test_alphas_cumprod),      cmocka_unit_test(test_pndm_ring_vs_list),
        cmocka_unit_test(test_one_step_closed_forms), cmocka_unit_test(test_pndm_is_not_ddim),
        cmocka_unit_test(test_alias),               cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
