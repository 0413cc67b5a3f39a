/* Noise schedules: values the original (PyTorch) computes, invariants, and argument errors. */
#include <math.h>

#include "ggdm/schedule.h"
#include "ggdm_test.h"

static uint32_t bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

typedef struct known {
    ggdm_schedule_kind kind;
    int table, t;
    uint32_t bits;
} known;

/* float32 bit patterns of the original's buffers (torch 1.13.1, float64 then .to(float32)), T = 200. */
static const known knowns[] = {
    {GGDM_SCHEDULE_COSINE, GGDM_SCHED_BETAS, 0, 0x3985add9}, {GGDM_SCHEDULE_COSINE, GGDM_SCHED_BETAS, 1, 0x39c55837},
    {GGDM_SCHEDULE_COSINE, GGDM_SCHED_BETAS, 100, 0x3c813df7}, {GGDM_SCHEDULE_COSINE, GGDM_SCHED_BETAS, 199, 0x3f7fbe77},
    {GGDM_SCHEDULE_COSINE, GGDM_SCHED_ALPHAS_CUMPROD, 0, 0x3f7fef4a},
    {GGDM_SCHEDULE_COSINE, GGDM_SCHED_ALPHAS_CUMPROD, 199, 0x33826412},
    {GGDM_SCHEDULE_COSINE, GGDM_SCHED_POSTERIOR_LOG_VARIANCE_CLIPPED, 0, 0xc23834f1},
    {GGDM_SCHEDULE_COSINE, GGDM_SCHED_POSTERIOR_LOG_VARIANCE_CLIPPED, 1, 0xc10ca9be},
    {GGDM_SCHEDULE_COSINE, GGDM_SCHED_POSTERIOR_MEAN_COEF2, 0, 0x0},
    {GGDM_SCHEDULE_COSINE, GGDM_SCHED_POSTERIOR_MEAN_COEF2, 100, 0x3f7a1f5a},
    {GGDM_SCHEDULE_COSINE, GGDM_SCHED_SQRT_RECIPM1_ALPHAS_CUMPROD, 199, 0x457da45f},
    {GGDM_SCHEDULE_LINEAR, GGDM_SCHED_BETAS, 0, 0x3a03126f}, {GGDM_SCHEDULE_LINEAR, GGDM_SCHED_BETAS, 100, 0x3d4ed917},
    {GGDM_SCHEDULE_LINEAR, GGDM_SCHED_BETAS, 199, 0x3dcccccd},
    {GGDM_SCHEDULE_LINEAR, GGDM_SCHED_ALPHAS_CUMPROD, 199, 0x37fe5435},
    {GGDM_SCHEDULE_LINEAR, GGDM_SCHED_POSTERIOR_LOG_VARIANCE_CLIPPED, 1, 0xc10018b7},
    {GGDM_SCHEDULE_LINEAR, GGDM_SCHED_POSTERIOR_MEAN_COEF2, 199, 0x3f72dcb3},
    {GGDM_SCHEDULE_LINEAR, GGDM_SCHED_SQRT_RECIPM1_ALPHAS_CUMPROD, 199, 0x43359c3d},
};

static float tab[GGDM_SCHED_NUM_TABLES * 1000];

static void test_known_values(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof knowns / sizeof knowns[0]; i++) {
        const known *k = &knowns[i];
        assert_int_equal(ggdm_schedule_compute(k->kind, 200, tab, sizeof tab / sizeof tab[0]), GGDM_OK);
        assert_int_equal(bits(tab[k->table * 200 + k->t]), k->bits);
    }
}

static void test_invariants(void **state)
{
    static const int Ts[] = {1, 2, 10, 21, 200, 1000};
    size_t i;
    int kind, t;
    (void)state;
    for (kind = 0; kind < 2; kind++)
        for (i = 0; i < sizeof Ts / sizeof Ts[0]; i++) {
            int T = Ts[i];
            const float *b, *ac, *acp, *lv;
            double betas[1000];
            if (kind == GGDM_SCHEDULE_LINEAR && T <= 20)
                continue; /* rejected: see test_errors */
            assert_int_equal(ggdm_schedule_compute((ggdm_schedule_kind)kind, T, tab, sizeof tab / sizeof tab[0]),
                             GGDM_OK);
            assert_int_equal(ggdm_schedule_betas_f64((ggdm_schedule_kind)kind, T, betas, 1000), GGDM_OK);
            b = tab + GGDM_SCHED_BETAS * T;
            ac = tab + GGDM_SCHED_ALPHAS_CUMPROD * T;
            acp = tab + GGDM_SCHED_ALPHAS_CUMPROD_PREV * T;
            lv = tab + GGDM_SCHED_POSTERIOR_LOG_VARIANCE_CLIPPED * T;
            assert_true(acp[0] == 1.0f);
            assert_true(lv[0] == (float)log(1e-20)); /* the t = 0 clipping */
            for (t = 0; t < T; t++) {
                int k;
                assert_true(b[t] == (float)betas[t]); /* rounded once */
                assert_true(b[t] >= 0.0f && b[t] <= 0.999f);
                if (t > 0) {
                    assert_true(acp[t] == ac[t - 1]);
                    assert_true(ac[t] <= ac[t - 1]);
                }
                for (k = 0; k < GGDM_SCHED_NUM_TABLES; k++)
                    assert_true(isfinite(tab[k * T + t]));
                /* sqrt(abar)^2 ~ abar, and sqrt(1 - abar)^2 + abar ~ 1 */
                assert_true(fabs((double)tab[GGDM_SCHED_SQRT_ALPHAS_CUMPROD * T + t] *
                                     tab[GGDM_SCHED_SQRT_ALPHAS_CUMPROD * T + t] - ac[t]) <= 4e-7 * ac[t] + 1e-30);
            }
            if (kind == GGDM_SCHEDULE_COSINE && T >= 10)
                assert_true(b[T - 1] == 0.999f); /* the last cosine beta is clipped */
        }
}

static void test_errors(void **state)
{
    ggdm_schedule_kind k;
    double d[4];
    (void)state;
    assert_int_equal(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, 0, tab, 100), GGDM_ERR_ARG);
    assert_int_equal(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, -5, tab, 100), GGDM_ERR_ARG);
    assert_int_equal(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, GGDM_SCHEDULE_MAX_T + 1, tab, 100), GGDM_ERR_ARG);
    assert_int_equal(ggdm_schedule_compute((ggdm_schedule_kind)7, 10, tab, 1000), GGDM_ERR_ARG);
    assert_int_equal(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, 10, NULL, 1000), GGDM_ERR_ARG);
    assert_int_equal(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, 10, tab, 119), GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, 10, tab, 120), GGDM_OK);
    assert_int_equal(ggdm_schedule_betas_f64(GGDM_SCHEDULE_LINEAR, 25, d, 4), GGDM_ERR_BUFFER_TOO_SMALL);
    /* linear betas reach 20 / T: T <= 20 would make alpha <= 0 */
    assert_int_equal(ggdm_schedule_compute(GGDM_SCHEDULE_LINEAR, 20, tab, 1000), GGDM_ERR_ARG);
    assert_int_equal(ggdm_schedule_compute(GGDM_SCHEDULE_LINEAR, 21, tab, 1000), GGDM_OK);
    assert_int_equal(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, 1, tab, 1000), GGDM_OK);
    assert_true(tab[0] == 0.999f); /* T = 1: the single cosine beta is clipped */
    assert_int_equal(ggdm_schedule_count(200), 2400);
    assert_int_equal(ggdm_schedule_count(0), 0);
    assert_int_equal(ggdm_schedule_kind_parse("cosine", &k), GGDM_OK);
    assert_int_equal(k, GGDM_SCHEDULE_COSINE);
    assert_int_equal(ggdm_schedule_kind_parse("linear", &k), GGDM_OK);
    assert_int_equal(k, GGDM_SCHEDULE_LINEAR);
    assert_int_equal(ggdm_schedule_kind_parse("cosin", &k), GGDM_ERR_ARG);
    assert_int_equal(ggdm_schedule_kind_parse("cosines", &k), GGDM_ERR_ARG);
    assert_string_equal(ggdm_schedule_table_name(0), "betas");
    assert_string_equal(ggdm_schedule_table_name(11), "posterior_mean_coef2");
    assert_null(ggdm_schedule_table_name(12));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_invariants),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("schedule", tests, NULL, NULL);
}
