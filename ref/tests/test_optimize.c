/*
 * ggdm_opt_round (ggdm/optimize.h): one round of Algorithm 1 / 2 in caller memory.
 * - its samples equal the round written out by hand from the public steps (ggdm_sample_ex,
 *   ggdm_opt_targets, ggdm_train_step_ex), bit for bit, with and without fine-tuning; this is
 *   the composition the `opt_round` golden vectors were made with;
 * - the same bits with an executor that cuts the work into 3 chunks and runs them backwards;
 * - the metrics are the means of the state's rewards, the hook sees every phase in order;
 * - bad arguments and short state memory are refused without running.
 */
#include "ggdm_test.h"

#include "ggdm/adam.h"
#include "ggdm/analytic.h"
#include "ggdm/score.h"
#include "ggdm/data.h"
#include "ggdm/diffusion.h"
#include "ggdm/optimize.h"
#include "ggdm/schedule.h"
#include "ggdm/unet.h"

#define TT 10
#define NN 4
#define DD 8
#define DLAT 2

typedef struct fixture {
    ggdm_unet_cfg cfg;
    uint64_t np;
    float *w;
    float tab[12 * TT];
    double A[DLAT * DD], th1[DD], th2[DD], b1, b2[DD];
} fixture;

static void fixture_init(fixture *f)
{
    double work[4096];
    size_t wn;
    memset(f, 0, sizeof *f);
    ggdm_unet_cfg_default(&f->cfg);
    f->cfg.dim = 8;
    f->cfg.n_levels = 2;
    f->cfg.dim_mults[0] = 1;
    f->cfg.dim_mults[1] = 2;
    f->cfg.groups = 2;
    f->cfg.length = DD;
    f->cfg.heads = 2;
    f->cfg.dim_head = 4;
    assert_int_equal(ggdm_unet_num_params(&f->cfg, &f->np), GGDM_OK);
    f->w = (float *)malloc(sizeof(float) * (size_t)f->np);
    assert_non_null(f->w);
    assert_int_equal(ggdm_unet_init(&f->cfg, 5, f->w, f->np), GGDM_OK);
    assert_int_equal(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, TT, f->tab, ggdm_schedule_count(TT)), GGDM_OK);
    wn = ggdm_hyper_linear_latent_work_doubles(DD, DLAT);
    assert_true(wn > 0 && wn <= sizeof work / sizeof work[0]);
    assert_int_equal(ggdm_hyper_linear_latent(7, DD, DLAT, 9.0, f->A, f->th1, f->th2, &f->b1, f->b2, work, wn),
                     GGDM_OK);
}

static void cfg_for(fixture *f, ggdm_score *m, ggdm_score_unet *mu, ggdm_opt_cfg *oc, ggdm_guide_version v, int ft)
{
    assert_int_equal(ggdm_score_init_unet(m, mu, &f->cfg, f->w), GGDM_OK);
    ggdm_opt_cfg_default(oc);
    oc->score = m;
    oc->tab = f->tab;
    oc->T = TT;
    oc->N = NN;
    oc->seed = 7;
    oc->guide.version = v;
    oc->reward = GGDM_REWARD_QUADRATIC;
    oc->reward_param = f->th2;
    oc->interval = 0.2;
    oc->ratio = GGDM_OPT_RATIO_LINEAR_LATENT;
    oc->ratio_A = f->A;
    oc->ratio_d = DLAT;
    oc->top_k = 2;
    if (ft) {
        oc->ft_net = &f->cfg;
        oc->ft_params = f->w;
        oc->ft_steps = 1;
        oc->ft_rounds = 1;
        oc->ft_adam.lr = 1e-4;
    }
}

/* The round by hand from the public steps (what conformance's op_opt_round used to compose). */
static void by_hand(fixture *f, ggdm_guide_version v, int ft, float *z)
{
    ggdm_score m;
    ggdm_score_unet mu;
    ggdm_guide_cfg g0, gc;
    float g[NN * DD], y[NN], *grad, *am, *av;
    double fr[NN];
    size_t wsb, twsb;
    void *ws, *tws;
    ggdm_adam_cfg ac;
    ggdm_adam_state as;
    assert_int_equal(ggdm_score_init_unet(&m, &mu, &f->cfg, f->w), GGDM_OK);
    ggdm_guide_cfg_default(&g0);
    ggdm_guide_cfg_default(&gc);
    gc.version = v;
    assert_int_equal(ggdm_sample_workspace_bytes(&m, NN, v, &wsb), GGDM_OK);
    ws = malloc(wsb);
    assert_non_null(ws);
    assert_int_equal(ggdm_sample_ex(&m, &g0, f->tab, TT, NN, 7, 0, 0, NULL, NULL, NULL, z, NULL, ws, wsb, NULL, NULL,
                                    NULL),
                     GGDM_OK);
    assert_int_equal(ggdm_opt_targets(GGDM_REWARD_QUADRATIC, f->th2, DD, z, NN, 0.2, fr, g, y), GGDM_OK);
    if (ft) {
        assert_int_equal(ggdm_train_workspace_bytes(&f->cfg, NN, &twsb), GGDM_OK);
        tws = malloc(twsb);
        grad = (float *)calloc((size_t)f->np, sizeof(float));
        am = (float *)calloc((size_t)f->np, sizeof(float));
        av = (float *)calloc((size_t)f->np, sizeof(float));
        assert_true(tws && grad && am && av);
        ggdm_adam_cfg_default(&ac);
        ac.lr = 1e-4;
        as.step = 0;
        assert_int_equal(ggdm_train_step_ex(&f->cfg, f->w, grad, &ac, &as, am, av, f->tab, TT, NN, z, 7, (1u << 23), 0,
                                            0, NULL, tws, twsb, NULL),
                         GGDM_OK);
        free(tws);
        free(grad);
        free(am);
        free(av);
    }
    assert_int_equal(ggdm_sample_ex(&m, &gc, f->tab, TT, NN, 7, 1, 0, g, y, NULL, z, NULL, ws, wsb, NULL, NULL, NULL),
                     GGDM_OK);
    free(ws);
}

/* An executor that cuts work as for 3 threads and runs the tasks last first. */
static void backwards(void *ctx, ggdm_task_fn task, void *arg, int ntasks)
{
    int i;
    (void)ctx;
    for (i = ntasks - 1; i >= 0; i--)
        task(arg, i);
}

typedef struct hook_log {
    int n;
    ggdm_opt_phase seen[8];
    int rounds[8];
} hook_log;

static void hook(void *ctx, int round, ggdm_opt_phase done, const ggdm_opt_metrics *m, const ggdm_opt_state *st)
{
    hook_log *h = (hook_log *)ctx;
    (void)m;
    (void)st;
    if (h->n < 8) {
        h->seen[h->n] = done;
        h->rounds[h->n] = round;
    }
    h->n++;
}

/* Rounds 0 and 1 through the library; returns z of round 1, metrics of round 1. */
static void by_library(fixture *f, ggdm_guide_version v, int ft, const ggdm_exec *ex, float *z, ggdm_opt_metrics *m1,
                       hook_log *hl)
{
    ggdm_score m;
    ggdm_score_unet mu;
    ggdm_opt_cfg oc;
    ggdm_opt_state os;
    ggdm_opt_metrics m0;
    size_t b;
    void *mem;
    cfg_for(f, &m, &mu, &oc, v, ft);
    if (hl) {
        oc.hook = hook;
        oc.hook_ctx = hl;
    }
    assert_int_equal(ggdm_opt_state_bytes(&oc, ex, &b), GGDM_OK);
    mem = malloc(b);
    assert_non_null(mem);
    assert_int_equal(ggdm_opt_state_init(&oc, ex, mem, b, &os), GGDM_OK);
    assert_int_equal(ggdm_opt_round(&oc, &os, 0, &m0, ex), GGDM_OK);
    assert_true(m0.y0 != m0.y0 && m0.loss != m0.loss); /* no targets, no fine-tuning in round 0 */
    assert_int_equal(m0.failed, GGDM_OPT_PHASE_NONE);
    assert_true(m0.gnorm == 0.0 && m0.mean_beta == 0.0);
    assert_int_equal(ggdm_opt_round(&oc, &os, 1, m1, ex), GGDM_OK);
    assert_int_equal(m1->ft_steps, ft ? 1 : 0);
    assert_int_equal(os.ft_done, ft ? 1 : 0);
    if (ft)
        assert_true(os.adam.step == 1 && m1->loss == m1->loss && m1->loss == (double)(os.losses[0] / 1));
    else
        assert_true(m1->loss != m1->loss);
    assert_true(m1->y0 == (double)os.y[0]);
    assert_true(m1->gnorm > 0.0 && m1->mean_beta > 0.0);
    {   /* the metrics are the means of the state's rewards of the new samples */
        double r = 0, best = os.f[0];
        int i;
        for (i = 0; i < NN; i++) {
            r += os.f[i] / NN;
            best = os.f[i] > best ? os.f[i] : best;
        }
        assert_true(r == m1->reward);
        assert_true(m1->top_reward >= m1->reward && m1->top_reward <= best);
    }
    memcpy(z, os.z, sizeof(float) * NN * DD);
    free(mem);
}

static void test_round_equals_composition(void **state)
{
    static const ggdm_guide_version vs[2] = {GGDM_GUIDE_V1, GGDM_GUIDE_V2};
    fixture f;
    float *w0;
    int vi, ft;
    (void)state;
    fixture_init(&f);
    w0 = (float *)malloc(sizeof(float) * (size_t)f.np);
    assert_non_null(w0);
    memcpy(w0, f.w, sizeof(float) * (size_t)f.np);
    for (vi = 0; vi < 2; vi++)
        for (ft = 0; ft < 2; ft++) {
            float za[NN * DD], zb[NN * DD], zc[NN * DD], wa0;
            ggdm_opt_metrics ma, mc;
            ggdm_exec ex;
            memcpy(f.w, w0, sizeof(float) * (size_t)f.np);
            by_hand(&f, vs[vi], ft, za);
            wa0 = f.w[0];
            memcpy(f.w, w0, sizeof(float) * (size_t)f.np);
            by_library(&f, vs[vi], ft, NULL, zb, &ma, NULL);
            assert_memory_equal(za, zb, sizeof za);
            assert_true(f.w[0] == wa0); /* the same fine-tuned parameters */
            memset(&ex, 0, sizeof ex);
            ex.run = backwards;
            ex.nthreads = 3;
            memcpy(f.w, w0, sizeof(float) * (size_t)f.np);
            by_library(&f, vs[vi], ft, &ex, zc, &mc, NULL);
            assert_memory_equal(za, zc, sizeof za);
            assert_memory_equal(&ma, &mc, sizeof ma);
        }
    free(w0);
    free(f.w);
}

static void test_round_phases(void **state)
{
    fixture f;
    float z[NN * DD];
    ggdm_opt_metrics m;
    hook_log hl;
    (void)state;
    fixture_init(&f);
    memset(&hl, 0, sizeof hl);
    by_library(&f, GGDM_GUIDE_V2, 1, NULL, z, &m, &hl);
    /* round 0: SAMPLE, EVALUATE; round 1: TARGETS, FINETUNE, SAMPLE, EVALUATE */
    assert_int_equal(hl.n, 6);
    assert_int_equal(hl.seen[0], GGDM_OPT_PHASE_SAMPLE);
    assert_int_equal(hl.seen[1], GGDM_OPT_PHASE_EVALUATE);
    assert_int_equal(hl.rounds[1], 0);
    assert_int_equal(hl.seen[2], GGDM_OPT_PHASE_TARGETS);
    assert_int_equal(hl.seen[3], GGDM_OPT_PHASE_FINETUNE);
    assert_int_equal(hl.seen[4], GGDM_OPT_PHASE_SAMPLE);
    assert_int_equal(hl.seen[5], GGDM_OPT_PHASE_EVALUATE);
    assert_int_equal(hl.rounds[5], 1);
    free(f.w);
}

static void test_round_args(void **state)
{
    fixture f;
    ggdm_score m;
    ggdm_score_unet mu;
    ggdm_opt_cfg oc, bad;
    ggdm_opt_state os;
    ggdm_opt_metrics mt;
    size_t b = 0, b2 = 0;
    char *mem;
    (void)state;
    fixture_init(&f);
    cfg_for(&f, &m, &mu, &oc, GGDM_GUIDE_V2, 1);
    assert_int_equal(ggdm_opt_state_bytes(NULL, NULL, &b), GGDM_ERR_ARG);
    assert_int_equal(ggdm_opt_state_bytes(&oc, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_opt_state_bytes(&oc, NULL, &b), GGDM_OK);
    bad = oc;
    bad.ft_params = NULL; /* no fine-tuning: less memory */
    assert_int_equal(ggdm_opt_state_bytes(&bad, NULL, &b2), GGDM_OK);
    assert_true(b2 < b);
    bad = oc;
    bad.N = 0;
    assert_int_equal(ggdm_opt_state_bytes(&bad, NULL, &b2), GGDM_ERR_ARG);
    bad = oc;
    bad.score = NULL;
    assert_int_equal(ggdm_opt_state_bytes(&bad, NULL, &b2), GGDM_ERR_ARG);
    bad = oc;
    bad.reward_param = NULL;
    assert_int_equal(ggdm_opt_state_bytes(&bad, NULL, &b2), GGDM_ERR_ARG);
    bad = oc;
    bad.ft_steps = NN + 1; /* batches of N / steps = 0 samples */
    assert_int_equal(ggdm_opt_state_bytes(&bad, NULL, &b2), GGDM_ERR_ARG);
    bad = oc;
    bad.ratio_A = NULL;
    assert_int_equal(ggdm_opt_state_bytes(&bad, NULL, &b2), GGDM_ERR_ARG);
    bad = oc;
    bad.guide.version = (ggdm_guide_version)3;
    assert_int_equal(ggdm_opt_state_bytes(&bad, NULL, &b2), GGDM_ERR_ARG);
    bad = oc;
    bad.tab = NULL;
    assert_int_equal(ggdm_opt_state_bytes(&bad, NULL, &b2), GGDM_ERR_ARG);
    bad = oc;
    bad.T = 0;
    assert_int_equal(ggdm_opt_state_bytes(&bad, NULL, &b2), GGDM_ERR_ARG);
    bad = oc;
    bad.top_k = -1;
    assert_int_equal(ggdm_opt_state_bytes(&bad, NULL, &b2), GGDM_ERR_ARG);
    bad = oc;
    bad.ratio = GGDM_OPT_RATIO_LINEAR_LATENT;
    bad.ratio_d = 0;
    assert_int_equal(ggdm_opt_state_bytes(&bad, NULL, &b2), GGDM_ERR_ARG);
    bad = oc;
    bad.ratio = (ggdm_opt_ratio)7;
    assert_int_equal(ggdm_opt_state_bytes(&bad, NULL, &b2), GGDM_ERR_ARG);
    bad = oc;
    bad.ratio = GGDM_OPT_RATIO_UNIT_BALL; /* needs no matrix */
    bad.ratio_A = NULL;
    assert_int_equal(ggdm_opt_state_bytes(&bad, NULL, &b2), GGDM_OK);
    ggdm_opt_cfg_default(NULL); /* does nothing */
    mem = (char *)malloc(b);
    assert_non_null(mem);
    /* short memory is refused, nothing written */
    memset(mem, 0x5a, b);
    assert_int_equal(ggdm_opt_state_init(&oc, NULL, mem, b - 1, &os), GGDM_ERR_BUFFER_TOO_SMALL);
    assert_true(mem[0] == 0x5a && mem[b - 2] == 0x5a);
    assert_int_equal(ggdm_opt_state_init(&oc, NULL, NULL, b, &os), GGDM_ERR_ARG);
    assert_int_equal(ggdm_opt_state_init(&oc, NULL, mem, b, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_opt_state_init(&oc, NULL, mem, b, &os), GGDM_OK);
    assert_true(os.adam.step == 0 && os.ft_done == 0 && os.adam_m[0] == 0.0f);
    assert_int_equal(ggdm_opt_round(&oc, NULL, 0, &mt, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_opt_round(&oc, &os, -1, &mt, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_opt_round(NULL, &os, 0, &mt, NULL), GGDM_ERR_ARG);
    bad = oc;
    bad.N = NN + 1; /* a state carved for another batch */
    assert_int_equal(ggdm_opt_round(&bad, &os, 0, &mt, NULL), GGDM_ERR_ARG);
    /* a state without fine-tuning buffers cannot serve a fine-tuning cfg */
    bad = oc;
    bad.ft_params = NULL;
    assert_int_equal(ggdm_opt_state_init(&bad, NULL, mem, b, &os), GGDM_OK);
    assert_int_equal(ggdm_opt_round(&oc, &os, 1, &mt, NULL), GGDM_ERR_ARG);
    /* non-finite targets: the round stops in its first phase and says so */
    assert_int_equal(ggdm_opt_state_init(&oc, NULL, mem, b, &os), GGDM_OK);
    os.z[3] = 1e30f * 1e30f;
    assert_int_equal(ggdm_opt_round(&oc, &os, 1, &mt, NULL), GGDM_ERR_NONFINITE);
    assert_int_equal(mt.failed, GGDM_OPT_PHASE_TARGETS);
    free(mem);
    free(f.w);
}

/* Top-K: reward descending, ties by sample index (torch.topk's order); bad K and a short
 * scratch are refused. */
static void test_top_k(void **state)
{
    const double f[6] = {0.5, 2.0, -1.0, 2.0, 0.5, 3.0};
    int idx[6] = {-1, -1, -1, -1, -1, -1}, want[5] = {5, 1, 3, 0, 4};
    double scratch[32];
    size_t n = ggdm_opt_top_k_bytes(6);
    int i;
    (void)state;
    assert_true(n > 0 && n <= sizeof scratch);
    assert_int_equal(ggdm_opt_top_k(f, 6, 5, idx, scratch, n), GGDM_OK);
    for (i = 0; i < 5; i++)
        assert_int_equal(idx[i], want[i]);
    assert_int_equal(idx[5], -1); /* only K written */
    assert_int_equal(ggdm_opt_top_k(f, 6, 7, idx, scratch, n), GGDM_ERR_ARG);
    assert_int_equal(ggdm_opt_top_k(f, 6, 2, idx, scratch, n - 1), GGDM_ERR_BUFFER_TOO_SMALL);
}

/* The score interface: the analytic model's eps and VJP through it are the direct
 * functions' bits; every missing piece is refused. */
static void test_score_interface(void **state)
{
    enum { T = 20, d = 2, D = 4, N = 3 };
    static float tab[GGDM_SCHED_NUM_TABLES * T + 64];
    double A[D * d] = {1, 0, 0, 1, 0.5, 0.5, -1, 2};
    float x[N * D], v[N * D], e1[N * D], e2[N * D], j1[N * D], j2[N * D];
    int64_t t[N] = {0, 7, 19};
    ggdm_score s, bad;
    ggdm_score_analytic an;
    ggdm_score_unet un;
    ggdm_score_ops none;
    ggdm_unet_cfg cfg;
    size_t bytes = 1;
    int i;
    (void)state;
    assert_true(ggdm_schedule_count(T) <= sizeof tab / sizeof tab[0]);
    assert_int_equal(ggdm_schedule_compute(GGDM_SCHEDULE_COSINE, T, tab, ggdm_schedule_count(T)), GGDM_OK);
    for (i = 0; i < N * D; i++) {
        x[i] = 0.25f * (float)(i - 5);
        v[i] = 1.0f - 0.125f * (float)i;
    }
    assert_int_equal(ggdm_score_init_analytic(&s, &an, A, d, D), GGDM_OK);
    assert_int_equal(ggdm_score_workspace_bytes(&s, N, 1, NULL, &bytes), GGDM_OK);
    assert_int_equal(bytes, 0);
    assert_int_equal(ggdm_score_eps_vjp(&s, tab, T, N, x, t, v, e1, j1, NULL, 0, NULL), GGDM_OK);
    assert_int_equal(ggdm_analytic_eps(A, d, D, x, t, N, tab + (size_t)GGDM_SCHED_SQRT_ALPHAS_CUMPROD * T,
                                       tab + (size_t)GGDM_SCHED_SQRT_ONE_MINUS_ALPHAS_CUMPROD * T, T, e2),
                     GGDM_OK);
    assert_int_equal(ggdm_analytic_vjp(A, d, D, t, N, tab + (size_t)GGDM_SCHED_SQRT_ALPHAS_CUMPROD * T,
                                       tab + (size_t)GGDM_SCHED_SQRT_ONE_MINUS_ALPHAS_CUMPROD * T, T, v, j2),
                     GGDM_OK);
    assert_memory_equal(e1, e2, sizeof e1);
    assert_memory_equal(j1, j2, sizeof j1);
    assert_true(j1[0] != 0.0f);
    /* refused: no tables, no model, no pieces */
    assert_int_equal(ggdm_score_eps(&s, NULL, T, N, x, t, e1, NULL, 0, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_score_eps_vjp(&s, NULL, T, N, x, t, v, e1, j1, NULL, 0, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_score_workspace_bytes(&s, N, 0, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_score_init_analytic(&bad, &an, NULL, d, D), GGDM_OK);
    assert_int_equal(ggdm_score_workspace_bytes(&bad, N, 0, NULL, &bytes), GGDM_ERR_ARG);
    assert_int_equal(ggdm_score_init_analytic(NULL, &an, A, d, D), GGDM_ERR_ARG);
    memset(&none, 0, sizeof none);
    bad.ops = &none;
    bad.ctx = &an;
    assert_int_equal(ggdm_score_workspace_bytes(&bad, N, 0, NULL, &bytes), GGDM_ERR_ARG);
    assert_int_equal(ggdm_score_eps(&bad, tab, T, N, x, t, e1, NULL, 0, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_score_eps_vjp(&bad, tab, T, N, x, t, v, e1, j1, NULL, 0, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_score_eps(NULL, tab, T, N, x, t, e1, NULL, 0, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_score_eps_vjp(NULL, tab, T, N, x, t, v, e1, j1, NULL, 0, NULL), GGDM_ERR_ARG);
    ggdm_unet_cfg_default(&cfg);
    assert_int_equal(ggdm_score_init_unet(&bad, &un, &cfg, NULL), GGDM_OK);
    assert_int_equal(bad.D, cfg.length);
    assert_int_equal(ggdm_score_workspace_bytes(&bad, N, 0, NULL, &bytes), GGDM_ERR_ARG); /* no parameters */
    assert_int_equal(ggdm_score_init_unet(&bad, NULL, &cfg, NULL), GGDM_ERR_ARG);
    bad.ops = &ggdm_score_unet_ops;
    bad.ctx = NULL;
    assert_int_equal(ggdm_score_eps(&bad, tab, T, N, x, t, e1, NULL, 0, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_score_eps_vjp(&bad, tab, T, N, x, t, v, e1, j1, NULL, 0, NULL), GGDM_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_equals_composition),
        cmocka_unit_test(test_round_phases),
        cmocka_unit_test(test_round_args),
        cmocka_unit_test(test_top_k),
        cmocka_unit_test(test_score_interface),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
