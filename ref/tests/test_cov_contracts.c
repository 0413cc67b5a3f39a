/*
 * Argument contracts that the other suites do not reach (added with the coverage stage,
 * ci/coverage.sh): every status has its own name, and the diffusion entry points refuse
 * null pointers, steps outside [0, T), empty batches and unknown guidance versions with
 * GGDM_ERR_ARG, and a short workspace with GGDM_ERR_BUFFER_TOO_SMALL, without writing.
 */
#include "ggdm_test.h"

#include "ggdm/adam.h"
#include "ggdm/diffusion.h"
#include "ggdm/schedule.h"
#include "ggdm/status.h"
#include "ggdm/unet.h"

static void test_status_names(void **state)
{
    static const ggdm_status all[] = {GGDM_OK, GGDM_ERR_ARG, GGDM_ERR_BUFFER_TOO_SMALL, GGDM_ERR_NONFINITE,
                                      GGDM_ERR_UNSUPPORTED, GGDM_ERR_FORMAT, GGDM_ERR_IO, GGDM_ERR_MISMATCH,
                                      GGDM_ERR_DEVICE};
    size_t i, j;
    (void)state;
    for (i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *s = ggdm_status_str(all[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_not_equal(s, "unknown status");
        for (j = 0; j < i; j++)
            assert_string_not_equal(s, ggdm_status_str(all[j]));
    }
    assert_string_equal(ggdm_status_str((ggdm_status)99), "unknown status");
}

#define T_ 20
static float tab[12 * T_];

static void test_ddpm_update_args(void **state)
{
    float x[4] = {0.1f, 0.2f, 0.3f, 0.4f}, e[4] = {0}, z[4] = {0}, out[4] = {7, 7, 7, 7};
    (void)state;
    assert_int_equal(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, T_, tab, 12 * T_), GGDM_OK);
    assert_int_equal(ggdm_ddpm_update(NULL, T_, 1, 1, 4, x, e, z, out), GGDM_ERR_ARG);
    assert_int_equal(ggdm_ddpm_update(tab, T_, T_, 1, 4, x, e, z, out), GGDM_ERR_ARG);
    assert_int_equal(ggdm_ddpm_update(tab, T_, -1, 1, 4, x, e, z, out), GGDM_ERR_ARG);
    assert_int_equal(ggdm_ddpm_update(tab, T_, 1, 0, 4, x, e, z, out), GGDM_ERR_ARG);
    assert_int_equal(ggdm_ddpm_update(tab, T_, 1, 1, 0, x, e, z, out), GGDM_ERR_ARG);
    assert_int_equal(ggdm_ddpm_update(tab, T_, 1, 1, 4, x, e, NULL, out), GGDM_ERR_ARG); /* noise needed at t > 0 */
    assert_int_equal(ggdm_ddpm_update(tab, 0, 0, 1, 4, x, e, z, out), GGDM_ERR_ARG);
    assert_true(out[0] == 7.0f && out[3] == 7.0f);
    assert_int_equal(ggdm_ddpm_update(tab, T_, 0, 1, 4, x, e, NULL, out), GGDM_OK); /* no noise at t = 0 */
}

static void test_guide_apply_args(void **state)
{
    ggdm_guide_cfg gc;
    float x[4] = {0}, e[4] = {0}, g[4] = {1, 0, 0, 0}, y[1] = {0.5f}, jtg[4] = {0}, out[4];
    ggdm_guide_stats st;
    (void)state;
    memset(&st, 0, sizeof st);
    assert_int_equal(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, T_, tab, 12 * T_), GGDM_OK);
    ggdm_guide_cfg_default(&gc);
    gc.version = GGDM_GUIDE_V1;
    assert_int_equal(ggdm_guide_apply(NULL, tab, T_, 1, 1, 4, x, e, g, y, jtg, out, &st), GGDM_ERR_ARG);
    assert_int_equal(ggdm_guide_apply(&gc, tab, T_, T_, 1, 4, x, e, g, y, jtg, out, &st), GGDM_ERR_ARG);
    assert_int_equal(ggdm_guide_apply(&gc, tab, T_, 1, 0, 4, x, e, g, y, jtg, out, &st), GGDM_ERR_ARG);
    assert_int_equal(ggdm_guide_apply(&gc, tab, T_, 1, 1, 4, x, e, NULL, y, jtg, out, &st), GGDM_ERR_ARG);
    gc.version = GGDM_GUIDE_V2;
    assert_int_equal(ggdm_guide_apply(&gc, tab, T_, 1, 1, 4, x, e, g, y, NULL, out, &st), GGDM_ERR_ARG);
    gc.version = (ggdm_guide_version)3;
    assert_int_equal(ggdm_guide_apply(&gc, tab, T_, 1, 1, 4, x, e, g, y, jtg, out, &st), GGDM_ERR_ARG);
    /* unguided: eps copied through, whatever g and y are */
    gc.version = GGDM_GUIDE_NONE;
    e[2] = 0.75f;
    assert_int_equal(ggdm_guide_apply(&gc, tab, T_, 1, 1, 4, x, e, NULL, NULL, NULL, out, NULL), GGDM_OK);
    assert_true(out[2] == 0.75f);
    /* with statistics: the guidance norm and beta are accumulated */
    gc.version = GGDM_GUIDE_V1;
    assert_int_equal(ggdm_guide_apply(&gc, tab, T_, 1, 1, 4, x, e, g, y, jtg, out, &st), GGDM_OK);
    assert_true(st.count > 0 && st.guidance >= 0.0);
}

static void test_sampling_and_training_args(void **state)
{
    ggdm_score m;
    ggdm_score_unet mu;
    ggdm_score_analytic ma;
    ggdm_guide_cfg gc;
    size_t b = 0;
    float x[8], eps[8], loss = 0, dummy[4] = {0};
    char ws[64];
    ggdm_adam_cfg ac;
    ggdm_adam_state as;
    (void)state;
    memset(&m, 0, sizeof m);
    ggdm_unet_cfg_default(&mu.cfg);
    mu.cfg.dim = 8;
    mu.cfg.n_levels = 1;
    mu.cfg.dim_mults[0] = 1;
    mu.cfg.groups = 2;
    mu.cfg.length = 8;
    mu.cfg.heads = 1;
    mu.cfg.dim_head = 4;
    assert_int_equal(ggdm_score_init_unet(&m, &mu, &mu.cfg, dummy), GGDM_OK); /* never read: every call below stops at its checks */
    assert_int_equal(m.D, 8);
    ggdm_guide_cfg_default(&gc);
    assert_int_equal(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, T_, tab, 12 * T_), GGDM_OK);
    assert_int_equal(ggdm_sample_workspace_bytes(NULL, 1, GGDM_GUIDE_NONE, &b), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sample_workspace_bytes(&m, 0, GGDM_GUIDE_NONE, &b), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sample_workspace_bytes(&m, 1, GGDM_GUIDE_NONE, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sample_workspace_bytes(&m, 1, GGDM_GUIDE_V2, &b), GGDM_OK);
    assert_true(b > sizeof ws);
    /* a workspace too small is refused before anything is computed */
    assert_int_equal(ggdm_guided_eps(&m, &gc, tab, T_, 1, 1, x, NULL, NULL, eps, NULL, ws, sizeof ws),
                     GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_guided_eps(NULL, &gc, tab, T_, 1, 1, x, NULL, NULL, eps, NULL, ws, sizeof ws), GGDM_ERR_ARG);
    assert_int_equal(ggdm_guided_eps(&m, &gc, tab, T_, T_, 1, x, NULL, NULL, eps, NULL, ws, sizeof ws), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sample(&m, &gc, tab, T_, 1, 1, 0, 0, NULL, NULL, NULL, x, NULL, ws, sizeof ws, NULL, NULL),
                     GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_sample(&m, &gc, NULL, T_, 1, 1, 0, 0, NULL, NULL, NULL, x, NULL, ws, sizeof ws, NULL, NULL),
                     GGDM_ERR_ARG);
    /* training: size queries and a short workspace */
    assert_int_equal(ggdm_train_workspace_bytes(NULL, 1, &b), GGDM_ERR_ARG);
    assert_int_equal(ggdm_train_workspace_bytes(&mu.cfg, 0, &b), GGDM_ERR_ARG);
    assert_int_equal(ggdm_train_workspace_bytes(&mu.cfg, 2, &b), GGDM_OK);
    assert_true(b > sizeof ws);
    memset(&ac, 0, sizeof ac);
    memset(&as, 0, sizeof as);
    assert_int_equal(ggdm_train_step(&mu.cfg, NULL, NULL, NULL, NULL, NULL, NULL, tab, T_, 2, x, 1, 0, 0, 0, &loss, ws,
                                     sizeof ws),
                     GGDM_ERR_ARG);
    assert_int_equal(ggdm_train_step(&mu.cfg, dummy, dummy, &ac, &as, dummy, dummy, tab, T_, 2, x, 1, 0, 0, 0, &loss,
                                     ws, sizeof ws),
                     GGDM_ERR_BUFFER_TOO_SMALL);
    /* the analytic score needs its basis */
    assert_int_equal(ggdm_score_init_analytic(&m, &ma, NULL, 1, 8), GGDM_OK);
    assert_int_equal(ggdm_sample_workspace_bytes(&m, 1, GGDM_GUIDE_NONE, &b), GGDM_ERR_ARG);
}

static void test_opt_targets_args(void **state)
{
    double param[4] = {1, 0, 0, 0}, f[2];
    float z[4] = {0}, g[8], y[2];
    (void)state;
    assert_int_equal(ggdm_opt_targets(GGDM_REWARD_LINEAR, NULL, 4, z, 2, 0.5, f, g, y), GGDM_ERR_ARG);
    assert_int_equal(ggdm_opt_targets(GGDM_REWARD_LINEAR, param, 4, z, 0, 0.5, f, g, y), GGDM_ERR_ARG);
    assert_int_equal(ggdm_opt_targets(GGDM_REWARD_LINEAR, param, 0, z, 2, 0.5, f, g, y), GGDM_ERR_ARG);
    assert_int_equal(ggdm_opt_targets(GGDM_REWARD_LINEAR, param, 4, z, 2, 0.5, NULL, g, y), GGDM_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_ddpm_update_args),
        cmocka_unit_test(test_guide_apply_args),
        cmocka_unit_test(test_sampling_and_training_args),
        cmocka_unit_test(test_opt_targets_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
