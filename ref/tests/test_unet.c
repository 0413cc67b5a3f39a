/* The Unet1D: configuration checks, parameter table against the specification, whole-network
 * gradients against finite differences, cross-checks of the two backward paths, and
 * independence of every sample's result from the rest of the batch. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ggdm/backend.h"
#include "ggdm/rng.h"
#include "ggdm/unet.h"
#include "ggdm_test.h"

static void small_cfg(ggdm_unet_cfg *c)
{
    ggdm_unet_cfg_default(c);
    c->dim = 8;
    c->n_levels = 2;
    c->dim_mults[0] = 1;
    c->dim_mults[1] = 2;
    c->groups = 2;
    c->length = 8;
    c->heads = 2;
    c->dim_head = 4;
}

static void test_config_checks(void **state)
{
    ggdm_unet_cfg c;
    char msg[GGDM_UNET_MSG_LEN];
    (void)state;
    ggdm_unet_cfg_default(&c);
    assert_int_equal(ggdm_unet_cfg_check(&c, msg), GGDM_OK);
    c.length = 60; /* not divisible by 2^3 */
    assert_int_equal(ggdm_unet_cfg_check(&c, msg), GGDM_ERR_ARG);
    assert_non_null(strstr(msg, "not divisible by 2^(levels-1)"));
    ggdm_unet_cfg_default(&c);
    c.groups = 7;
    assert_int_equal(ggdm_unet_cfg_check(&c, msg), GGDM_ERR_ARG);
    assert_non_null(strstr(msg, "groups"));
    ggdm_unet_cfg_default(&c);
    c.dim = 6; c.groups = 2; c.dim_mults[3] = 3; /* fine */
    assert_int_equal(ggdm_unet_cfg_check(&c, msg), GGDM_OK);
    c.dim = 7;
    assert_int_equal(ggdm_unet_cfg_check(&c, msg), GGDM_ERR_ARG);
    ggdm_unet_cfg_default(&c);
    c.n_levels = 0;
    assert_int_equal(ggdm_unet_cfg_check(&c, msg), GGDM_ERR_ARG);
    c.n_levels = GGDM_UNET_MAX_LEVELS + 1;
    assert_int_equal(ggdm_unet_cfg_check(&c, msg), GGDM_ERR_ARG);
    ggdm_unet_cfg_default(&c);
    c.dim_mults[2] = 0;
    assert_int_equal(ggdm_unet_cfg_check(&c, msg), GGDM_ERR_ARG);
    ggdm_unet_cfg_default(&c);
    c.heads = 0;
    assert_int_equal(ggdm_unet_cfg_check(&c, msg), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet_cfg_check(NULL, msg), GGDM_ERR_ARG);
}

/* The paper's network: 276 tensors, 14,861,569 parameters, names and shapes of the spec file. */
static void test_paper_table(void **state)
{
    ggdm_unet_cfg c;
    uint64_t n, sum = 0;
    int nt, i, checked = 0;
    FILE *f;
    char line[256];
    (void)state;
    ggdm_unet_cfg_default(&c);
    assert_int_equal(ggdm_unet_num_params(&c, &n), GGDM_OK);
    assert_true(n == 14861569u);
    assert_int_equal(ggdm_unet_num_tensors(&c, &nt), GGDM_OK);
    assert_int_equal(nt, 276);
    for (i = 0; i < nt; i++) {
        ggdm_unet_tensor_info t;
        assert_int_equal(ggdm_unet_tensor(&c, i, &t), GGDM_OK);
        assert_true(t.offset == sum);
        sum += t.count;
    }
    assert_true(sum == n);
    assert_int_equal(ggdm_unet_tensor(&c, nt, NULL), GGDM_ERR_ARG);
    f = fopen("../shared/spec/unet1d-dim64-state.txt", "r");
    if (!f)
        f = fopen("/work/shared/spec/unet1d-dim64-state.txt", "r");
    if (!f) {
        printf("spec file not found: names not compared\n");
        return;
    }
    for (i = 0; fgets(line, sizeof line, f); i++) {
        ggdm_unet_tensor_info t;
        char want[256], got[256];
        line[strcspn(line, "\n")] = 0;
        assert_int_equal(ggdm_unet_tensor(&c, i, &t), GGDM_OK);
        if (t.ndim == 1)
            snprintf(got, sizeof got, "%s (%llu,)", t.name, (unsigned long long)t.shape[0]);
        else if (t.ndim == 2)
            snprintf(got, sizeof got, "%s (%llu, %llu)", t.name, (unsigned long long)t.shape[0],
                     (unsigned long long)t.shape[1]);
        else
            snprintf(got, sizeof got, "%s (%llu, %llu, %llu)", t.name, (unsigned long long)t.shape[0],
                     (unsigned long long)t.shape[1], (unsigned long long)t.shape[2]);
        snprintf(want, sizeof want, "%s", line);
        assert_string_equal(got, want);
        checked++;
    }
    fclose(f);
    assert_int_equal(checked, 276);
}

typedef struct net {
    ggdm_unet_cfg cfg;
    uint64_t np;
    float *w;
    void *ws;
    size_t wsb;
    int N;
} net;

static void net_make(net *n, int N, uint64_t seed)
{
    small_cfg(&n->cfg);
    n->N = N;
    assert_int_equal(ggdm_unet_num_params(&n->cfg, &n->np), GGDM_OK);
    n->w = (float *)malloc(sizeof(float) * n->np);
    assert_int_equal(ggdm_unet_init(&n->cfg, seed, n->w, n->np), GGDM_OK);
    assert_int_equal(ggdm_unet_loss_workspace_bytes(&n->cfg, N, &n->wsb), GGDM_OK);
    n->ws = malloc(n->wsb);
}

static void net_free(net *n)
{
    free(n->w);
    free(n->ws);
}

/* Scalar objective <r, eps(x, t)> in float64 from the float forward. */
static double objective(net *n, const float *x, const int64_t *t, const float *r)
{
    float eps[64];
    double s = 0;
    int i;
    assert_int_equal(ggdm_unet_forward(&n->cfg, n->w, n->N, x, t, eps, n->ws, n->wsb, NULL, NULL), GGDM_OK);
    for (i = 0; i < n->N * n->cfg.length; i++)
        s += (double)r[i] * eps[i];
    return s;
}

/* Directional derivatives of <r, eps> along random directions: input and parameters. */
static void test_gradients_fd(void **state)
{
    net n;
    float x[16], r[16], dx[16], xp[16], dir[16];
    int64_t t[2] = {7, 150};
    float *dp, *wsave;
    uint64_t i;
    int k, trials = ggdm_test_quick() ? 2 : 6;
    double worst_x = 0, worst_p = 0;
    (void)state;
    net_make(&n, 2, 3);
    ggdm_rng_fill_normal(1, 100, 0, x, 16);
    ggdm_rng_fill_normal(1, 101, 0, r, 16);
    dp = (float *)calloc(n.np, sizeof(float));
    wsave = (float *)malloc(sizeof(float) * n.np);
    memcpy(wsave, n.w, sizeof(float) * n.np);
    assert_int_equal(ggdm_unet_backward(&n.cfg, n.w, 2, x, t, r, NULL, dx, dp, n.ws, n.wsb), GGDM_OK);
    for (k = 0; k < trials; k++) {
        const double h = 1e-2;
        double an = 0, fd, lp, lm, err;
        int j;
        /* input direction */
        ggdm_rng_fill_normal(2, 200 + k, 0, dir, 16);
        for (j = 0; j < 16; j++) {
            an += (double)dx[j] * dir[j];
            xp[j] = (float)(x[j] + h * dir[j]);
        }
        lp = objective(&n, xp, t, r);
        for (j = 0; j < 16; j++)
            xp[j] = (float)(x[j] - h * dir[j]);
        lm = objective(&n, xp, t, r);
        fd = (lp - lm) / (2 * h);
        {
            double gn = 0, dn = 0;
            for (j = 0; j < 16; j++) {
                gn += (double)dx[j] * dx[j];
                dn += (double)dir[j] * dir[j];
            }
            err = fabs(fd - an) / sqrt(gn * dn); /* relative to |grad| |dir| */
        }
        if (err > worst_x) worst_x = err;
        printf("input dir %d: analytic %.6f fd %.6f\n", k, an, fd);
        assert_true(err < 2e-2);
        /* parameter direction: perturb every parameter by h * d_i * scale */
        an = 0;
        {
            float *d = (float *)malloc(sizeof(float) * n.np);
            ggdm_rng_fill_normal(3, 300 + k, 0, d, n.np);
            for (i = 0; i < n.np; i++)
                an += (double)dp[i] * d[i] * 0.01;
            for (i = 0; i < n.np; i++)
                n.w[i] = (float)(wsave[i] + h * d[i] * 0.01);
            lp = objective(&n, x, t, r);
            for (i = 0; i < n.np; i++)
                n.w[i] = (float)(wsave[i] - h * d[i] * 0.01);
            lm = objective(&n, x, t, r);
            memcpy(n.w, wsave, sizeof(float) * n.np);
            free(d);
        }
        fd = (lp - lm) / (2 * h);
        err = fabs(fd - an) / (fabs(an) + 1e-2 * fabs(fd) + 1e-4);
        if (err > worst_p) worst_p = err;
        printf("param dir %d: analytic %.6f fd %.6f\n", k, an, fd);
        assert_true(err < 2e-2);
    }
    printf("worst relative FD error: input %.2e, parameters %.2e\n", worst_x, worst_p);
    free(dp);
    free(wsave);
    net_free(&n);
}

/* dx is the same with and without parameter gradients; the loss path agrees with the VJP path. */
static void test_cross_checks(void **state)
{
    net n;
    float x[24], z[24], dx1[24], dx2[24], eps[24], deps[24], loss, acc = 0;
    int64_t t[3] = {0, 99, 199};
    float *dp1, *dp2, tab_a[200], tab_b[200];
    int i;
    (void)state;
    net_make(&n, 3, 9);
    ggdm_rng_fill_normal(4, 1, 0, x, 24);
    ggdm_rng_fill_normal(4, 2, 0, z, 24);
    for (i = 0; i < 200; i++) { /* any tables will do for the identity being tested */
        tab_a[i] = 1.0f - (float)i / 400.0f;
        tab_b[i] = (float)i / 400.0f + 0.01f;
    }
    dp1 = (float *)calloc(n.np, sizeof(float));
    dp2 = (float *)calloc(n.np, sizeof(float));
    assert_int_equal(ggdm_unet_loss_grad(&n.cfg, n.w, 3, x, t, z, tab_a, tab_b, 200, &loss, dp1, n.ws, n.wsb),
                     GGDM_OK);
    /* the same loss by hand: xt, forward, then backward with d loss / d eps */
    {
        float xt[24];
        for (i = 0; i < 24; i++)
            xt[i] = tab_a[t[i / 8]] * x[i] + tab_b[t[i / 8]] * z[i];
        assert_int_equal(ggdm_unet_forward(&n.cfg, n.w, 3, xt, t, eps, n.ws, n.wsb, NULL, NULL), GGDM_OK);
        for (i = 0; i < 24; i++) {
            float d = eps[i] - z[i];
            acc = fmaf(d, d, acc);
            deps[i] = d * (2.0f / 24.0f);
        }
        assert_true(acc / 24.0f == loss);
        assert_int_equal(ggdm_unet_backward(&n.cfg, n.w, 3, xt, t, deps, NULL, dx1, dp2, n.ws, n.wsb), GGDM_OK);
        assert_memory_equal(dp1, dp2, sizeof(float) * n.np);
        assert_int_equal(ggdm_unet_backward(&n.cfg, n.w, 3, xt, t, deps, NULL, dx2, NULL, n.ws, n.wsb), GGDM_OK);
        assert_memory_equal(dx1, dx2, sizeof dx1); /* the VJP does not depend on computing dparams */
    }
    /* gradients are added into dparams */
    assert_int_equal(ggdm_unet_loss_grad(&n.cfg, n.w, 3, x, t, z, tab_a, tab_b, 200, &loss, dp1, n.ws, n.wsb),
                     GGDM_OK);
    for (i = 0; i < (int)n.np; i += 97)
        assert_true(dp1[i] == dp2[i] + dp2[i]);
    free(dp1);
    free(dp2);
    net_free(&n);
}

/* A sample's eps and VJP do not depend on the other samples of its batch, bit for bit. */
static void test_batch_independence(void **state)
{
    net n3, n1;
    float x[24], v[24], e3[24], g3[24], e1[8], g1[8];
    int64_t t[3] = {5, 50, 180};
    int i;
    (void)state;
    net_make(&n3, 3, 21);
    net_make(&n1, 1, 21);
    ggdm_rng_fill_normal(5, 1, 0, x, 24);
    ggdm_rng_fill_normal(5, 2, 0, v, 24);
    assert_int_equal(ggdm_unet_backward(&n3.cfg, n3.w, 3, x, t, v, e3, g3, NULL, n3.ws, n3.wsb), GGDM_OK);
    for (i = 0; i < 3; i++) {
        assert_int_equal(ggdm_unet_backward(&n1.cfg, n1.w, 1, x + 8 * i, t + i, v + 8 * i, e1, g1, NULL, n1.ws,
                                            n1.wsb),
                         GGDM_OK);
        assert_memory_equal(e1, e3 + 8 * i, sizeof e1);
        assert_memory_equal(g1, g3 + 8 * i, sizeof g1);
    }
    net_free(&n3);
    net_free(&n1);
}

/* Executors for the tests: tasks in reverse order, or in a scrambled order, on one thread
 * (the library may not depend on which task runs when). */
static int exec_calls;
static void run_reverse(void *ctx, ggdm_task_fn task, void *arg, int ntasks)
{
    int i;
    (void)ctx;
    exec_calls++;
    for (i = ntasks - 1; i >= 0; i--)
        task(arg, i);
}
static void run_scrambled(void *ctx, ggdm_task_fn task, void *arg, int ntasks)
{
    int i;
    (void)ctx;
    exec_calls++;
    /* 5 is coprime with every count that is not a multiple of 5: a permutation */
    for (i = 0; i < ntasks; i++)
        task(arg, ntasks % 5 ? (int)(((long)i * 5 + 3) % ntasks) : ntasks - 1 - i);
}

static int always_failed(void *ctx)
{
    (void)ctx;
    return 1;
}

/* eps, VJP, loss and parameter gradients with an executor of 2, 3 and 5 threads equal the
 * serial results bit for bit, with workspaces sized for chunks and for one call. */
static void test_executor(void **state)
{
    ggdm_unet_cfg cfg;
    uint64_t np;
    float *w, *dp0, *dp1, x[7 * 8], v[7 * 8], e0[7 * 8], g0[7 * 8], e1[7 * 8], g1[7 * 8], tab_a[200], tab_b[200];
    float loss0, loss1;
    int64_t t[7] = {0, 3, 50, 99, 120, 180, 199};
    size_t wsb1, wsbx, wl;
    void *ws;
    int threads[3] = {2, 3, 5}, k, i, kind;
    (void)state;
    small_cfg(&cfg);
    assert_int_equal(ggdm_unet_num_params(&cfg, &np), GGDM_OK);
    w = (float *)malloc(sizeof(float) * np);
    dp0 = (float *)calloc(np, sizeof(float));
    dp1 = (float *)calloc(np, sizeof(float));
    assert_int_equal(ggdm_unet_init(&cfg, 77, w, np), GGDM_OK);
    ggdm_rng_fill_normal(6, 1, 0, x, 56);
    ggdm_rng_fill_normal(6, 2, 0, v, 56);
    for (i = 0; i < 200; i++) {
        tab_a[i] = 1.0f - (float)i / 400.0f;
        tab_b[i] = (float)i / 400.0f + 0.01f;
    }
    assert_int_equal(ggdm_unet_workspace_bytes(&cfg, 7, GGDM_UNET_BACKWARD, &wsb1), GGDM_OK);
    assert_int_equal(ggdm_unet_loss_workspace_bytes(&cfg, 7, &wl), GGDM_OK);
    ws = malloc(wl > 4 * wsb1 ? wl : 4 * wsb1);
    assert_int_equal(ggdm_unet_backward(&cfg, w, 7, x, t, v, e0, g0, NULL, ws, wsb1), GGDM_OK);
    assert_int_equal(ggdm_unet_loss_grad(&cfg, w, 7, x, t, v, tab_a, tab_b, 200, &loss0, dp0, ws, wl), GGDM_OK);
    for (kind = 0; kind < 2; kind++)
        for (k = 0; k < 3; k++) {
            ggdm_exec ex = {0};
            ex.run = kind ? run_scrambled : run_reverse;
            ex.ctx = NULL;
            ex.nthreads = threads[k];
            assert_int_equal(ggdm_unet_workspace_bytes_ex(&cfg, 7, GGDM_UNET_BACKWARD, &ex, &wsbx), GGDM_OK);
            assert_true(wsbx >= wsb1 && wsbx <= 4 * wsb1);
            /* chunks of samples (workspace for chunks) */
            exec_calls = 0;
            memset(e1, 0, sizeof e1);
            memset(g1, 0, sizeof g1);
            assert_int_equal(ggdm_unet_backward_ex(&cfg, w, 7, x, t, v, e1, g1, NULL, ws, wsbx, &ex), GGDM_OK);
            assert_true(exec_calls == 1);
            assert_memory_equal(e0, e1, sizeof e0);
            assert_memory_equal(g0, g1, sizeof g0);
            assert_int_equal(ggdm_unet_forward_ex(&cfg, w, 7, x, t, e1, ws, wsbx, NULL, NULL, &ex), GGDM_OK);
            assert_memory_equal(e0, e1, sizeof e0);
            /* a workspace for one call only: one call (threads inside the convolutions) */
            memset(g1, 0, sizeof g1);
            assert_int_equal(ggdm_unet_backward_ex(&cfg, w, 7, x, t, v, e1, g1, NULL, ws, wsb1, &ex), GGDM_OK);
            assert_memory_equal(g0, g1, sizeof g0);
            /* parameter gradients */
            memset(dp1, 0, sizeof(float) * np);
            assert_int_equal(ggdm_unet_loss_grad_ex(&cfg, w, 7, x, t, v, tab_a, tab_b, 200, &loss1, dp1, ws, wl, &ex),
                             GGDM_OK);
            assert_true(loss0 == loss1);
            assert_memory_equal(dp0, dp1, sizeof(float) * np);
        }
    /* too small for even one call */
    assert_int_equal(ggdm_unet_forward_ex(&cfg, w, 7, x, t, e1, ws, 64, NULL, NULL, NULL), GGDM_ERR_BUFFER_TOO_SMALL);
    /* a backend that reports a failure (a GPU's) fails the call: its outputs are not results */
    {
        ggdm_unet_backend bad = *ggdm_unet_backend_cpu();
        ggdm_exec ex = {0};
        bad.failed = always_failed;
        ex.unet = &bad;
        assert_int_equal(ggdm_unet_forward_ex(&cfg, w, 7, x, t, e1, ws, wsb1, NULL, NULL, &ex), GGDM_ERR_DEVICE);
        assert_int_equal(ggdm_unet_backward_ex(&cfg, w, 7, x, t, v, e1, g1, NULL, ws, wsb1, &ex), GGDM_ERR_DEVICE);
        assert_int_equal(ggdm_unet_loss_grad_ex(&cfg, w, 7, x, t, v, tab_a, tab_b, 200, &loss1, dp1, ws, wl, &ex),
                         GGDM_ERR_DEVICE);
        bad.failed = NULL; /* and the CPU backend through a copy of its table: the same bits */
        assert_int_equal(ggdm_unet_forward_ex(&cfg, w, 7, x, t, e1, ws, wsb1, NULL, NULL, &ex), GGDM_OK);
        assert_memory_equal(e0, e1, sizeof e0);
    }
    free(w);
    free(dp0);
    free(dp1);
    free(ws);
}

static void test_errors(void **state)
{
    net n;
    float x[16], eps[16];
    int64_t t[2] = {1, 2}, bad[2] = {1, -1};
    size_t b;
    (void)state;
    net_make(&n, 2, 1);
    ggdm_rng_fill_normal(6, 1, 0, x, 16);
    assert_int_equal(ggdm_unet_forward(&n.cfg, n.w, 2, x, t, eps, n.ws, 64, NULL, NULL), GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_unet_forward(&n.cfg, n.w, 2, x, bad, eps, n.ws, n.wsb, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet_forward(&n.cfg, n.w, 0, x, t, eps, n.ws, n.wsb, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet_forward(&n.cfg, NULL, 2, x, t, eps, n.ws, n.wsb, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet_workspace_bytes(&n.cfg, 2, (ggdm_unet_mode)5, &b), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet_init(&n.cfg, 1, n.w, n.np - 1), GGDM_ERR_BUFFER_TOO_SMALL);
    net_free(&n);
}

/* The graph's workspace: the paper network's forward-only call at N = 32 fits in half of what the
 * fixed table of buffers took before the graph (162657920 bytes); flops as documented; the loss's
 * remaining refusals. */
static void test_workspace_flops_loss(void **state)
{
    ggdm_unet_cfg cfg;
    size_t fwd, bwd, loss;
    double f32, f64;
    net n;
    float x[16], z[16], tab[4] = {0.9f, 0.8f, 0.7f, 0.6f}, l0, l1, *dp;
    int64_t t[2] = {1, 3}, late[2] = {1, 4};
    (void)state;
    ggdm_unet_cfg_default(&cfg);
    assert_int_equal(ggdm_unet_workspace_bytes(&cfg, 32, GGDM_UNET_FORWARD, &fwd), GGDM_OK);
    assert_int_equal(ggdm_unet_workspace_bytes(&cfg, 32, GGDM_UNET_BACKWARD, &bwd), GGDM_OK);
    assert_int_equal(ggdm_unet_loss_workspace_bytes(&cfg, 32, &loss), GGDM_OK);
    printf("paper Unet1D, N = 32: forward workspace %zu bytes (before the graph: 162657920), forward + backward %zu "
           "(before: 199108224)\n",
           fwd, bwd);
    assert_true(fwd <= 162657920u / 2u);
    assert_true(bwd > fwd && loss > bwd);
    assert_int_equal(ggdm_unet_workspace_bytes(&cfg, 32, GGDM_UNET_FORWARD, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet_workspace_bytes(&cfg, 0, GGDM_UNET_FORWARD, &fwd), GGDM_ERR_ARG);
    assert_int_equal(fwd, 0);
    assert_int_equal(ggdm_unet_flops(&cfg, 32, &f32), GGDM_OK);
    assert_int_equal(ggdm_unet_flops(&cfg, 64, &f64), GGDM_OK);
    assert_true(fabs(f32 - 9.66e9) < 0.01e9); /* docs/performance.md */
    assert_true(f64 == 2.0 * f32);
    assert_int_equal(ggdm_unet_flops(&cfg, 32, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet_flops(&cfg, 0, &f32), GGDM_ERR_ARG);
    cfg.groups = 7;
    assert_int_equal(ggdm_unet_flops(&cfg, 32, &f32), GGDM_ERR_ARG);
    /* the loss without parameter gradients has the loss's bits; steps past T are refused */
    net_make(&n, 2, 5);
    ggdm_rng_fill_normal(6, 2, 0, x, 16);
    ggdm_rng_fill_normal(6, 3, 0, z, 16);
    dp = (float *)calloc(n.np, sizeof(float));
    assert_int_equal(ggdm_unet_loss_grad(&n.cfg, n.w, 2, x, t, z, tab, tab, 4, &l0, dp, n.ws, n.wsb), GGDM_OK);
    assert_int_equal(ggdm_unet_loss_grad(&n.cfg, n.w, 2, x, t, z, tab, tab, 4, &l1, NULL, n.ws, n.wsb), GGDM_OK);
    assert_memory_equal(&l0, &l1, sizeof l0);
    assert_int_equal(ggdm_unet_loss_grad(&n.cfg, n.w, 2, x, late, z, tab, tab, 4, &l1, dp, n.ws, n.wsb),
                     GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet_loss_grad(&n.cfg, n.w, 2, x, t, z, tab, tab, 4, &l1, dp, n.ws, n.wsb - 1),
                     GGDM_ERR_BUFFER_TOO_SMALL);
    free(dp);
    net_free(&n);
}

/* Initialisation: PyTorch's bounds, ones and zeros for the norms, seed-determined. */
static void test_init(void **state)
{
    net a, b;
    int nt, i;
    uint64_t e, differ = 0;
    (void)state;
    net_make(&a, 1, 77);
    net_make(&b, 1, 78);
    ggdm_unet_num_tensors(&a.cfg, &nt);
    for (i = 0; i < nt; i++) {
        ggdm_unet_tensor_info t;
        ggdm_unet_tensor(&a.cfg, i, &t);
        for (e = 0; e < t.count; e++) {
            float v = a.w[t.offset + e];
            if (t.init == 1)
                assert_true(v == 1.0f);
            else if (t.init == 2)
                assert_true(v == 0.0f);
            else
                assert_true(fabs(v) <= 1.0 / sqrt((double)t.fan_in) + 1e-7);
            differ += v != b.w[t.offset + e];
        }
    }
    assert_true(differ > a.np / 2);
    net_free(&a);
    net_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_checks), cmocka_unit_test(test_paper_table),
        cmocka_unit_test(test_gradients_fd),  cmocka_unit_test(test_cross_checks),
        cmocka_unit_test(test_batch_independence), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_init), cmocka_unit_test(test_executor),
        cmocka_unit_test(test_workspace_flops_loss),
    };
    return cmocka_run_group_tests_name("unet", tests, NULL, NULL);
}
