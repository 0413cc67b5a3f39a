/*
 * Unit tests of the op set and the network graph (ggdm/op.h, ggdm/graph.h): a small
 * hand-wired network run through the graph has the bits of the same layers called directly
 * (forward, input and parameter gradients, in the graph's documented order); the CPU and elem
 * drivers agree (the elem backend also runs the fused activation path); the planner never
 * gives two buffers alive at the same time overlapping memory, and a forward-only chain keeps
 * two activations; GEGLU (the op added through the manifest) matches its definition in double
 * precision; the sample-chunk runner has the serial run's bits; every building and planning
 * error is refused.
 */
#include "ggdm_test.h"

#include <math.h>
#include <stdio.h>

#include "ggdm/attention.h"
#include "ggdm/backend.h"
#include "ggdm/elem/geglu.h"
#include "ggdm/graph.h"
#include "ggdm/layers.h"
#include "ggdm/rng.h"

#define N_ 3
#define L_ 11
#define C_ 4
#define G_ 2
#define TD 8

/* parameter offsets of the mini network */
enum { P_W = 0, P_B = P_W + C_ * 3, P_GA = P_B + C_, P_BE = P_GA + C_, P_LW = P_BE + C_,
       P_LB = P_LW + 2 * C_ * TD, P_W2 = P_LB + 2 * C_, P_B2 = P_W2 + C_, P_COUNT = P_B2 + 1 };

static void fill(float *a, size_t n, uint64_t stream)
{
    ggdm_rng_fill_normal(11, stream, 0, a, n);
}

typedef struct mini_cfg {
    int dummy;
} mini_cfg;

static int op3(ggdm_graph *g, ggdm_op_id op, const ggdm_op_attr *a, int i0, int i1, int i2, const char *name)
{
    int in[3];
    in[0] = i0, in[1] = i1, in[2] = i2;
    return ggdm_graph_op(g, op, a, in, 3, name, 3);
}

/* e = temb(t); ss = linear(e); h = conv(x); a = silu(film(norm(h), ss)); y = conv1x1(a + h) */
static ggdm_status mini_build(const void *cfg, ggdm_graph *g)
{
    ggdm_op_attr a;
    int t, e, ss, x, h, v, r, y;
    (void)cfg;
    t = ggdm_graph_steps(g, 0);
    memset(&a, 0, sizeof a);
    a.Cout = TD;
    e = op3(g, GGDM_OP_TEMB, &a, t, -1, -1, "temb");
    memset(&a, 0, sizeof a);
    a.Cout = 2 * C_;
    ss = op3(g, GGDM_OP_LINEAR, &a, e, ggdm_graph_param(g, P_LW, 2 * C_, TD, 1), ggdm_graph_param(g, P_LB, 2 * C_, 1, 1),
             NULL);
    x = ggdm_graph_input(g, 0, 1, 1, L_, "input");
    memset(&a, 0, sizeof a);
    a.Cout = C_, a.KH = 1, a.KW = 3, a.sh = 1, a.sw = 1, a.pw = 1;
    h = op3(g, GGDM_OP_CONV, &a, x, ggdm_graph_param(g, P_W, C_, 1, 3), ggdm_graph_param(g, P_B, C_, 1, 1), "h");
    memset(&a, 0, sizeof a);
    a.kind = GGDM_NORM_GROUP, a.G = G_, a.eps = GGDM_NORM_EPS;
    v = op3(g, GGDM_OP_NORM, &a, h, ggdm_graph_param(g, P_GA, C_, 1, 1), ggdm_graph_param(g, P_BE, C_, 1, 1), NULL);
    memset(&a, 0, sizeof a);
    v = op3(g, GGDM_OP_FILM, &a, v, ss, -1, NULL);
    v = op3(g, GGDM_OP_SILU, &a, v, -1, -1, NULL);
    r = op3(g, GGDM_OP_ADD, &a, v, h, -1, "res");
    a.Cout = 1, a.KH = 1, a.KW = 1, a.sh = 1, a.sw = 1;
    y = op3(g, GGDM_OP_CONV, &a, r, ggdm_graph_param(g, P_W2, 1, C_, 1), ggdm_graph_param(g, P_B2, 1, 1, 1), "y");
    ggdm_graph_output(g, y, 0);
    return g->status;
}

static ggdm_status mini_size(const void *cfg, int N, int *mn, int *mv)
{
    (void)cfg, (void)N;
    *mn = 16;
    *mv = 32;
    return GGDM_OK;
}

static void mini_net(ggdm_net *net, const mini_cfg *cfg)
{
    memset(net, 0, sizeof *net);
    net->cfg = cfg;
    net->build = mini_build;
    net->size = mini_size;
    net->n_params = P_COUNT;
    net->per_sample = 1;
    net->in_floats[0] = L_;
    net->out_floats[0] = L_;
}

/* The same network with the layer functions, in the graph's order; gradients as the runner
 * leaves them (dparams ADDED into). */
static void mini_direct(const float *p, const float *x, const int64_t *t, const float *dy, float *y, float *dx,
                        float *dp)
{
    float tf[N_], e[N_ * TD], ss[N_ * 2 * C_], h[N_ * C_ * L_], gm[N_ * G_], gr[N_ * G_], g[N_ * C_ * L_],
        f[N_ * C_ * L_], a[N_ * C_ * L_], r[N_ * C_ * L_];
    float dr[N_ * C_ * L_], df[N_ * C_ * L_], dg[N_ * C_ * L_], dh[N_ * C_ * L_], dss[N_ * 2 * C_];
    size_t n = N_ * C_ * L_, i;
    int k;
    for (k = 0; k < N_; k++)
        tf[k] = (float)t[k];
    ggdm_time_embedding(e, tf, N_, TD);
    ggdm_linear_forward(ss, e, p + P_LW, p + P_LB, N_, TD, 2 * C_);
    ggdm_conv1d_forward(h, x, p + P_W, p + P_B, N_, 1, L_, C_, 3, 1, 1);
    ggdm_groupnorm_forward(g, gm, gr, h, p + P_GA, p + P_BE, N_, C_, L_, G_);
    ggdm_scale_shift_forward(f, g, ss, N_, C_, L_);
    ggdm_silu_forward(a, f, (long)n);
    for (i = 0; i < n; i++)
        r[i] = a[i] + h[i];
    ggdm_conv1d_forward(y, r, p + P_W2, p + P_B2, N_, C_, L_, 1, 1, 1, 0);
    if (!dy)
        return;
    memset(dr, 0, sizeof dr);
    ggdm_conv1d_backward(dr, dp + P_W2, dp + P_B2, dy, r, p + P_W2, N_, C_, L_, 1, 1, 1, 0);
    memset(dh, 0, sizeof dh);
    for (i = 0; i < n; i++) /* ADD: a shares r's gradient; h's is added */
        dh[i] = dh[i] + dr[i];
    memset(df, 0, sizeof df);
    ggdm_silu_backward(df, dr, f, (long)n);
    memset(dg, 0, sizeof dg);
    memset(dss, 0, sizeof dss);
    ggdm_scale_shift_backward(dg, dss, df, g, ss, N_, C_, L_);
    ggdm_groupnorm_backward(dh, dp + P_GA, dp + P_BE, dg, h, gm, gr, p + P_GA, N_, C_, L_, G_);
    memset(dx, 0, sizeof(float) * N_ * L_);
    ggdm_conv1d_backward(dx, dp + P_W, dp + P_B, dh, x, p + P_W, N_, 1, L_, C_, 3, 1, 1);
    ggdm_linear_backward(NULL, dp + P_LW, dp + P_LB, dss, e, p + P_LW, N_, TD, 2 * C_);
}

static void same_bits(const float *a, const float *b, size_t n, const char *what)
{
    if (memcmp(a, b, sizeof(float) * n) != 0) {
        size_t i;
        for (i = 0; i < n && !memcmp(a + i, b + i, sizeof(float)); i++)
            ;
        fail_msg("%s differs at %zu: %.9g vs %.9g", what, i, (double)a[i], (double)b[i]);
    }
}

typedef struct trace_log {
    int n;
    char names[8][16];
} trace_log;

static void log_trace(void *ctx, const char *name, const float *data, int ndim, const uint64_t *shape)
{
    trace_log *t = (trace_log *)ctx;
    (void)data, (void)ndim, (void)shape;
    if (t->n < 8)
        snprintf(t->names[t->n], sizeof t->names[0], "%s", name);
    t->n++;
}

static void test_mini_network(void **state)
{
    static float ws[1 << 16];
    mini_cfg cfg = {0};
    ggdm_net net;
    ggdm_graph_io io;
    float p[P_COUNT], x[N_ * L_], dy[N_ * L_], y0[N_ * L_], dx0[N_ * L_], dp0[P_COUNT], y1[N_ * L_], dx1[N_ * L_],
        dp1[P_COUNT];
    int64_t t[N_] = {0, 17, 199};
    size_t bytes;
    const ggdm_backend *bes[2];
    int b;
    trace_log tl;
    (void)state;
    bes[0] = ggdm_backend_cpu();
    bes[1] = ggdm_backend_elem();
    fill(p, P_COUNT, 1);
    fill(x, N_ * L_, 2);
    fill(dy, N_ * L_, 3);
    fill(dp0, P_COUNT, 4); /* ADDED into: start from nonzero values */
    memcpy(dp1, dp0, sizeof dp0);
    mini_direct(p, x, t, dy, y0, dx0, dp0);
    mini_net(&net, &cfg);
    assert_int_equal(ggdm_net_workspace_bytes(&net, N_, 1, NULL, &bytes), GGDM_OK);
    assert_true(bytes <= sizeof ws);
    for (b = 0; b < 2; b++) {
        float dpb[P_COUNT];
        memcpy(dpb, dp1, sizeof dpb);
        memset(&io, 0, sizeof io);
        memset(&tl, 0, sizeof tl);
        io.in[0] = x;
        io.steps[0] = t;
        io.out[0] = y1;
        io.dout = dy;
        io.dx = dx1;
        io.dparams = dpb;
        io.trace = log_trace;
        io.trace_ctx = &tl;
        assert_int_equal(ggdm_net_run(&net, bes[b], p, N_, GGDM_GRAPH_GRAD_INPUT | GGDM_GRAPH_GRAD_PARAMS, &io, ws,
                                      bytes, NULL),
                         GGDM_OK);
        same_bits(y0, y1, N_ * L_, "y");
        same_bits(dx0, dx1, N_ * L_, "dx");
        same_bits(dp0, dpb, P_COUNT, "dparams");
        /* traced in node order, the input just before its first reader */
        assert_int_equal(tl.n, 5);
        assert_string_equal(tl.names[0], "temb");
        assert_string_equal(tl.names[1], "input");
        assert_string_equal(tl.names[2], "h");
        assert_string_equal(tl.names[3], "res");
        assert_string_equal(tl.names[4], "y");
        /* input gradient alone, and forward alone, give the same bits */
        io.dparams = NULL;
        io.trace = NULL;
        memset(dx1, 0, sizeof dx1);
        assert_int_equal(ggdm_net_run(&net, bes[b], p, N_, GGDM_GRAPH_GRAD_INPUT, &io, ws, bytes, NULL), GGDM_OK);
        same_bits(dx0, dx1, N_ * L_, "dx (input mode)");
        memset(y1, 0, sizeof y1);
        assert_int_equal(ggdm_net_run(&net, bes[b], p, N_, GGDM_GRAPH_FORWARD, &io, ws, bytes, NULL), GGDM_OK);
        same_bits(y0, y1, N_ * L_, "y (forward mode)");
    }
    /* too small a workspace is refused */
    assert_int_equal(ggdm_net_run(&net, NULL, p, N_, GGDM_GRAPH_GRAD_INPUT, &io, ws, 256, NULL),
                     GGDM_ERR_BUFFER_TOO_SMALL);
}

/* An executor that runs the tasks in reverse order (any order must give the same bits). */
static void rev_run(void *ctx, ggdm_task_fn task, void *arg, int ntasks)
{
    int i;
    (void)ctx;
    for (i = ntasks - 1; i >= 0; i--)
        task(arg, i);
}

static void test_chunks(void **state)
{
    static float ws[1 << 17];
    mini_cfg cfg = {0};
    ggdm_net net;
    ggdm_graph_io io;
    ggdm_exec ex;
    enum { NB = 7 };
    float p[P_COUNT], x[NB * L_], dy[NB * L_], y0[NB * L_], dx0[NB * L_], y1[NB * L_], dx1[NB * L_];
    int64_t t[NB] = {0, 1, 2, 50, 99, 150, 199};
    size_t one, chunked;
    (void)state;
    fill(p, P_COUNT, 5);
    fill(x, NB * L_, 6);
    fill(dy, NB * L_, 7);
    mini_net(&net, &cfg);
    memset(&ex, 0, sizeof ex);
    ex.run = rev_run;
    ex.nthreads = 3;
    assert_int_equal(ggdm_net_workspace_bytes(&net, NB, 1, NULL, &one), GGDM_OK);
    assert_int_equal(ggdm_net_workspace_bytes(&net, NB, 1, &ex, &chunked), GGDM_OK);
    assert_true(chunked >= one);
    assert_true(chunked <= sizeof ws);
    memset(&io, 0, sizeof io);
    io.in[0] = x;
    io.steps[0] = t;
    io.dout = dy;
    io.out[0] = y0;
    io.dx = dx0;
    assert_int_equal(ggdm_net_run(&net, NULL, p, NB, GGDM_GRAPH_GRAD_INPUT, &io, ws, one, NULL), GGDM_OK);
    io.out[0] = y1;
    io.dx = dx1;
    assert_int_equal(ggdm_net_run(&net, NULL, p, NB, GGDM_GRAPH_GRAD_INPUT, &io, ws, chunked, &ex), GGDM_OK);
    same_bits(y0, y1, NB * L_, "y (chunks)");
    same_bits(dx0, dx1, NB * L_, "dx (chunks)");
    /* more threads than samples (and than the chunk limit): one chunk per sample */
    ex.nthreads = 100;
    assert_int_equal(ggdm_net_workspace_bytes(&net, NB, 1, &ex, &chunked), GGDM_OK);
    assert_true(chunked <= sizeof ws);
    memset(y1, 0, sizeof y1);
    assert_int_equal(ggdm_net_run(&net, NULL, p, NB, GGDM_GRAPH_GRAD_INPUT, &io, ws, chunked, &ex), GGDM_OK);
    same_bits(y0, y1, NB * L_, "y (a chunk per sample)");
    ex.nthreads = 3;
    /* a workspace for one run only: one run, the same bits */
    memset(y1, 0, sizeof y1);
    assert_int_equal(ggdm_net_run(&net, NULL, p, NB, GGDM_GRAPH_GRAD_INPUT, &io, ws, one, &ex), GGDM_OK);
    same_bits(y0, y1, NB * L_, "y (one run with an executor)");
}

/* No two buffers alive at the same time share memory; returns the number of pairs checked. */
static long check_disjoint(const ggdm_graph *g)
{
    int i, j, a, b;
    long pairs = 0;
    for (i = 0; i < g->n_vals; i++)
        for (a = 0; a < 2; a++) {
            const ggdm_graph_value *u = &g->val[i];
            size_t uo = a ? u->goff : u->off;
            int u0 = a ? u->g0 : u->t0, u1 = a ? u->g1 : u->t1;
            if (u->kind == GGDM_VAL_PARAM || uo == GGDM_GRAPH_NONE || (a && (u->grad_of != i || !u->needs_grad)))
                continue;
            for (j = i; j < g->n_vals; j++)
                for (b = 0; b < 2; b++) {
                    const ggdm_graph_value *v = &g->val[j];
                    size_t vo = b ? v->goff : v->off;
                    int v0 = b ? v->g0 : v->t0, v1 = b ? v->g1 : v->t1;
                    if ((j == i && b <= a) || v->kind == GGDM_VAL_PARAM || vo == GGDM_GRAPH_NONE ||
                        (b && (v->grad_of != j || !v->needs_grad)))
                        continue;
                    if (u1 < v0 || v1 < u0)
                        continue;
                    pairs++;
                    if (uo < vo + v->n && vo < uo + u->n)
                        fail_msg("values %d (%s) and %d (%s) overlap while both alive", i, a ? "grad" : "value", j,
                                 b ? "grad" : "value");
                }
        }
    return pairs;
}

static void test_planner(void **state)
{
    static unsigned char mem[1 << 16] __attribute__((aligned(64)));
    ggdm_graph *g;
    ggdm_op_attr a;
    int v, k, mode;
    size_t floats, n;
    (void)state;
    /* a chain of 20 SiLUs: forward-only keeps two activations */
    assert_int_equal(ggdm_graph_init(mem, sizeof mem, 32, 32, 2, &g), GGDM_OK);
    v = ggdm_graph_input(g, 0, 5, 1, 100, NULL);
    memset(&a, 0, sizeof a);
    for (k = 0; k < 20; k++) {
        int in[1];
        in[0] = v;
        v = ggdm_graph_op(g, GGDM_OP_SILU, &a, in, 1, NULL, 3);
    }
    ggdm_graph_output(g, v, 0);
    n = (2 * 5 * 100 + 15) / 16 * 16;
    for (mode = 0; mode < 4; mode++) {
        assert_int_equal(ggdm_graph_plan(g, mode, ggdm_backend_cpu(), &floats), GGDM_OK);
        assert_true(check_disjoint(g) > 0);
        if (mode == GGDM_GRAPH_FORWARD)
            assert_int_equal(floats, 2 * n);
        else if (mode & GGDM_GRAPH_GRAD_INPUT)
            assert_true(floats <= 23 * n && floats >= 21 * n); /* the tape, plus two gradients */
    }
    assert_int_equal(ggdm_graph_flops(g), 0.0);
    /* the mini network: every mode, with and without the fused calls */
    {
        mini_cfg cfg;
        assert_int_equal(ggdm_graph_init(mem, sizeof mem, 16, 32, 3, &g), GGDM_OK);
        assert_int_equal(mini_build(&cfg, g), GGDM_OK);
        for (mode = 0; mode < 4; mode++) {
            assert_int_equal(ggdm_graph_plan(g, mode, ggdm_backend_cpu(), NULL), GGDM_OK);
            check_disjoint(g);
            assert_int_equal(ggdm_graph_plan(g, mode, ggdm_backend_elem(), NULL), GGDM_OK);
            check_disjoint(g);
        }
        assert_true(ggdm_graph_flops(g) > 0);
        assert_null(ggdm_graph_value_ptr(g, (float *)mem, -1));
        assert_int_equal(g->val[2].kind, GGDM_VAL_PARAM);
        assert_null(ggdm_graph_value_ptr(g, (float *)mem, 2)); /* a parameter */
    }
}

static void test_build_errors(void **state)
{
    static unsigned char mem[1 << 14] __attribute__((aligned(64)));
    ggdm_graph *g;
    ggdm_op_attr a;
    int in[3] = {0, -1, -1}, x;
    (void)state;
    memset(&a, 0, sizeof a);
    assert_int_equal(ggdm_graph_bytes(0, 1), 0);
    assert_int_equal(ggdm_graph_bytes(1, 1 << 21), 0);
    assert_int_equal(ggdm_graph_init(mem, sizeof mem, 4, 4, 1, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_graph_init(NULL, sizeof mem, 4, 4, 1, &g), GGDM_ERR_ARG);
    assert_int_equal(ggdm_graph_init(mem + 4, sizeof mem, 4, 4, 1, &g), GGDM_ERR_ARG); /* misaligned */
    assert_int_equal(ggdm_graph_init(mem, sizeof mem, 4, 4, 0, &g), GGDM_ERR_ARG);
    assert_int_equal(ggdm_graph_init(mem, 64, 4, 4, 1, &g), GGDM_ERR_BUFFER_TOO_SMALL);
    /* too many values, then nothing more is built */
    assert_int_equal(ggdm_graph_init(mem, sizeof mem, 4, 2, 1, &g), GGDM_OK);
    assert_true(ggdm_graph_param(g, 0, 1, 1, 1) >= 0);
    assert_true(ggdm_graph_param(g, 1, 1, 1, 1) >= 0);
    assert_int_equal(ggdm_graph_param(g, 2, 1, 1, 1), -1);
    assert_int_equal(g->status, GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_graph_steps(g, 0), -1);
    assert_int_equal(ggdm_graph_plan(g, 0, NULL, NULL), GGDM_ERR_ARG);
    /* too many nodes */
    assert_int_equal(ggdm_graph_init(mem, sizeof mem, 1, 8, 1, &g), GGDM_OK);
    x = ggdm_graph_input(g, 0, 1, 1, 4, NULL);
    in[0] = x;
    assert_true(ggdm_graph_op(g, GGDM_OP_SILU, &a, in, 1, NULL, 3) >= 0);
    assert_int_equal(ggdm_graph_op(g, GGDM_OP_SILU, &a, in, 1, NULL, 3), -1);
    assert_int_equal(g->status, GGDM_ERR_BUFFER_TOO_SMALL);
    /* bad arguments, each in a fresh graph */
#define FRESH() assert_int_equal(ggdm_graph_init(mem, sizeof mem, 8, 8, 2, &g), GGDM_OK)
    FRESH();
    assert_int_equal(ggdm_graph_input(g, 2, 1, 1, 4, NULL), -1); /* no such slot */
    FRESH();
    x = ggdm_graph_input(g, 0, 1, 1, 4, NULL);
    assert_int_equal(ggdm_graph_input(g, 0, 1, 1, 4, NULL), -1); /* slot taken */
    FRESH();
    assert_true(ggdm_graph_steps(g, 1) >= 0);
    assert_int_equal(ggdm_graph_steps(g, 1), -1);
    FRESH();
    assert_int_equal(ggdm_graph_param(g, 0, 0, 1, 1), -1); /* empty shape */
    FRESH();
    assert_int_equal(ggdm_graph_param(g, 0, 1 << 20, 1 << 20, 1 << 10), -1); /* too large */
    FRESH();
    x = ggdm_graph_input(g, 0, 1, 1, 4, NULL);
    in[0] = x + 5;
    assert_int_equal(ggdm_graph_op(g, GGDM_OP_SILU, &a, in, 1, NULL, 3), -1); /* no such value */
    FRESH();
    x = ggdm_graph_input(g, 0, 1, 1, 4, NULL);
    in[0] = x, in[1] = x;
    assert_int_equal(ggdm_graph_op(g, GGDM_OP_SILU, &a, in, 2, NULL, 3), -1); /* SILU has one input */
    FRESH();
    in[0] = ggdm_graph_input(g, 0, 1, 1, 4, NULL), in[1] = -1;
    assert_int_equal(ggdm_graph_op(g, GGDM_OP_COUNT, &a, in, 1, NULL, 3), -1);
    FRESH();
    in[0] = ggdm_graph_input(g, 0, 1, 2, 4, NULL);
    a.Cout = 1, a.KH = 1, a.KW = 1, a.sh = 1, a.sw = 1;
    assert_true(ggdm_graph_op(g, GGDM_OP_CONV, &a, in, 1, NULL, 3) >= 0); /* 2-D (1x1) */
    assert_int_equal(g->status, GGDM_OK);
    assert_int_equal(ggdm_graph_op(g, GGDM_OP_UPSAMPLE, &a, in, 1, NULL, 3), -1); /* along W (sh 1), H > 1 */
    assert_int_equal(g->status, GGDM_ERR_UNSUPPORTED);
    memset(&a, 0, sizeof a);
    FRESH();
    in[0] = ggdm_graph_param(g, 0, 1, 1, 4);
    ggdm_graph_output(g, in[0], 0); /* a parameter cannot be an output */
    assert_int_equal(g->status, GGDM_ERR_ARG);
    FRESH();
    in[0] = ggdm_graph_input(g, 0, 1, 1, 4, NULL);
    x = ggdm_graph_op(g, GGDM_OP_SILU, &a, in, 1, NULL, 3);
    assert_int_equal(ggdm_graph_plan(g, 0, NULL, NULL), GGDM_ERR_ARG); /* no output yet */
    ggdm_graph_output(g, x, 0);
    ggdm_graph_output(g, x, 0); /* slot taken */
    assert_int_equal(g->status, GGDM_ERR_ARG);
    FRESH();
    in[0] = ggdm_graph_input(g, 0, 1, 1, 4, NULL);
    x = ggdm_graph_op(g, GGDM_OP_SILU, &a, in, 1, NULL, 3);
    ggdm_graph_output(g, x, 0);
    assert_int_equal(ggdm_graph_plan(g, 4, NULL, NULL), GGDM_ERR_ARG); /* no such mode */
    assert_int_equal(ggdm_graph_plan(NULL, 0, NULL, NULL), GGDM_ERR_ARG);
#undef FRESH
}

static void test_op_info(void **state)
{
    ggdm_op_attr a;
    ggdm_op_info info;
    int op;
    (void)state;
    memset(&a, 0, sizeof a);
    for (op = 0; op < GGDM_OP_COUNT; op++) { /* all-zero attributes describe no op */
        assert_non_null(ggdm_op_name((ggdm_op_id)op));
        assert_int_equal(ggdm_op_info_get((ggdm_op_id)op, &a, &info), GGDM_ERR_ARG);
    }
    assert_null(ggdm_op_name(GGDM_OP_COUNT));
    assert_string_equal(ggdm_op_name(GGDM_OP_GEGLU), "geglu");
    assert_int_equal(ggdm_op_info_get(GGDM_OP_COUNT, &a, &info), GGDM_ERR_ARG);
    assert_int_equal(ggdm_op_info_get(GGDM_OP_SILU, NULL, &info), GGDM_ERR_ARG);
    a.N = 2, a.C = 6, a.H = 1, a.W = 5;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_SILU, &a, NULL), GGDM_OK);
    /* norms */
    a.kind = GGDM_NORM_GROUP, a.G = 4, a.eps = 1e-5f;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_NORM, &a, &info), GGDM_ERR_ARG); /* 6 % 4 */
    a.G = 3;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_NORM, &a, &info), GGDM_OK);
    assert_int_equal(info.cache[0], 6);
    a.kind = GGDM_NORM_CHANNEL;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_NORM, &a, &info), GGDM_OK);
    assert_int_equal(info.cache[1], 10);
    a.kind = 7;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_NORM, &a, &info), GGDM_ERR_ARG);
    a.kind = GGDM_NORM_CHANNEL, a.eps = 0.0f;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_NORM, &a, &info), GGDM_ERR_ARG);
    a.eps = 1e-6f;
    /* conv: sizes, an empty output, 2-D */
    a.Cout = 3, a.KH = 1, a.KW = 3, a.sh = 1, a.sw = 2, a.pw = 1;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_CONV, &a, &info), GGDM_OK);
    assert_int_equal(info.out_W, 3);
    assert_int_equal(info.out, 2 * 3 * 3);
    assert_true(info.flops == 2.0 * 2 * 3 * 3 * 6 * 3);
    a.KW = 9, a.pw = 0;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_CONV, &a, &info), GGDM_ERR_ARG);
    a.KW = 3, a.H = 2;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_CONV, &a, &info), GGDM_OK); /* 2-D (docs/nn.md, "Conv2d") */
    assert_int_equal(info.out_H, 2);
    assert_int_equal(ggdm_op_info_get(GGDM_OP_UPSAMPLE, &a, &info), GGDM_ERR_UNSUPPORTED);
    a.H = 1;
    /* linear needs H = W = 1; GEGLU an even C; attention consistent strides */
    assert_int_equal(ggdm_op_info_get(GGDM_OP_LINEAR, &a, &info), GGDM_ERR_ARG);
    a.C = 5;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_GEGLU, &a, &info), GGDM_ERR_ARG);
    a.C = 6;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_GEGLU, &a, &info), GGDM_OK);
    assert_int_equal(info.out_C, 3);
    /* (a.kind is still GGDM_NORM_CHANNEL = 1 = GGDM_ATTN_RECOMPUTE: the rows' (max, sum) cache) */
    a.heads = 2, a.dh = 3, a.Lq = 4, a.Lk = 7, a.sq = 24, a.sk = 42, a.sv = 42;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &info), GGDM_OK);
    assert_int_equal(info.cache[0], 2 * 2 * 4 * 2);
    a.kind = GGDM_ATTN_KEEP; /* the weights [N, heads, Lq, Lk] */
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &info), GGDM_OK);
    assert_int_equal(info.cache[0], 2 * 2 * 4 * 7);
    a.kind = 2;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &info), GGDM_ERR_ARG);
    a.kind = GGDM_ATTN_KEEP, a.causal = 1; /* causal needs Lq = Lk */
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &info), GGDM_ERR_ARG);
    a.causal = 0, a.sk = 41;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &info), GGDM_ERR_ARG);
    a.C = 18, a.W = 5;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_LINATTN, &a, &info), GGDM_OK);
    a.C = 17;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_LINATTN, &a, &info), GGDM_ERR_ARG);
    a.Cout = 6;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_TEMB, &a, &info), GGDM_OK);
    a.Cout = 7;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_TEMB, &a, &info), GGDM_ERR_ARG);
    a.C2 = 2;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_CAT, &a, &info), GGDM_OK);
    assert_int_equal(info.out_C, 19);
    a.Cout = 4, a.C = 9;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_WSTD, &a, &info), GGDM_OK);
    assert_int_equal(info.batched, 0);
    assert_int_equal(info.vjp_out, 1);
}

/* GEGLU against its definition in double precision, and the CPU and elem drivers' bits */
static void test_geglu(void **state)
{
    enum { NB = 2, CH = 3, P = 5 };
    float x[NB * 2 * CH * P], y0[NB * CH * P], y1[NB * CH * P], dy[NB * CH * P], dx0[NB * 2 * CH * P],
        dx1[NB * 2 * CH * P];
    ggdm_op_call c;
    int n, ch, q;
    (void)state;
    fill(x, sizeof x / sizeof x[0], 8);
    fill(dy, sizeof dy / sizeof dy[0], 9);
    fill(dx0, sizeof dx0 / sizeof dx0[0], 10);
    memcpy(dx1, dx0, sizeof dx0);
    memset(&c, 0, sizeof c);
    c.a.N = NB, c.a.C = 2 * CH, c.a.H = 1, c.a.W = P;
    c.in[0] = x, c.out = y0;
    ggdm_backend_cpu()->ops[GGDM_OP_GEGLU].fwd(NULL, &c);
    c.out = y1;
    ggdm_backend_elem()->ops[GGDM_OP_GEGLU].fwd(NULL, &c);
    same_bits(y0, y1, NB * CH * P, "geglu y");
    c.dout = dy, c.din[0] = dx0;
    ggdm_backend_cpu()->ops[GGDM_OP_GEGLU].vjp(NULL, &c);
    c.din[0] = dx1;
    ggdm_backend_elem()->ops[GGDM_OP_GEGLU].vjp(NULL, &c);
    same_bits(dx0, dx1, NB * 2 * CH * P, "geglu dx");
    fill(dx1, sizeof dx1 / sizeof dx1[0], 10); /* the values dx started from */
    for (n = 0; n < NB; n++)
        for (ch = 0; ch < CH; ch++)
            for (q = 0; q < P; q++) {
                size_t ih = ((size_t)n * 2 * CH + ch) * P + q, ig = ih + (size_t)CH * P, o = ((size_t)n * CH + ch) * P + q;
                double h = x[ih], gt = x[ig], cdf = 0.5 * (1.0 + erf(gt / sqrt(2.0)));
                double pdf = exp(-0.5 * gt * gt) / sqrt(2.0 * 3.14159265358979323846);
                double yd = h * gt * cdf, dhd = dy[o] * gt * cdf, dgd = dy[o] * h * (cdf + gt * pdf);
                assert_true(fabs(y0[o] - yd) <= 1e-6 * (1.0 + fabs(yd)));
                assert_true(fabs((dx0[ih] - dx1[ih]) - dhd) <= 1e-5 * (1.0 + fabs(dhd) + fabs(dx1[ih])));
                assert_true(fabs((dx0[ig] - dx1[ig]) - dgd) <= 1e-5 * (1.0 + fabs(dgd) + fabs(dx1[ig])));
            }
}

/* ------------------------------------------------------------------ a device-like backend */

/* The CPU's ops on a "device" that is a separate host buffer: workspace() returns the mirror,
 * params() a copy, so a runner that wrote to the host workspace or read host parameters where
 * it must not would get other values. failed() and a refused workspace are switchable. */
static struct {
    float mirror[1 << 17];
    float params[P_COUNT];
    int fail, no_ws, ws_calls;
} dev;

static float *dev_workspace(void *ctx, void *host, size_t bytes)
{
    (void)ctx, (void)host;
    dev.ws_calls++;
    return dev.no_ws || bytes > sizeof dev.mirror ? NULL : dev.mirror;
}

static const float *dev_params(void *ctx, const float *host, uint64_t n, int changed)
{
    (void)ctx, (void)changed;
    memcpy(dev.params, host, sizeof(float) * n);
    return dev.params;
}

static int dev_failed(void *ctx)
{
    (void)ctx;
    return dev.fail;
}

static int no_silu(void *ctx, int op, const ggdm_op_attr *a, const char **why)
{
    (void)ctx, (void)a;
    if (why)
        *why = "no SiLU";
    return op != GGDM_OP_SILU;
}

static void test_device_backend(void **state)
{
    static float ws[1 << 17];
    ggdm_backend be = *ggdm_backend_cpu();
    mini_cfg cfg = {0};
    ggdm_net net;
    ggdm_graph_io io;
    ggdm_exec ex;
    float p[P_COUNT], x[N_ * L_], dy[N_ * L_], y0[N_ * L_], dx0[N_ * L_], dp0[P_COUNT], y1[N_ * L_], dx1[N_ * L_];
    int64_t t[N_] = {3, 1, 4};
    size_t bytes;
    (void)state;
    be.name = "fake-device";
    be.workspace = dev_workspace;
    be.params = dev_params;
    be.failed = dev_failed;
    fill(p, P_COUNT, 12);
    fill(x, N_ * L_, 13);
    fill(dy, N_ * L_, 14);
    memset(dp0, 0, sizeof dp0);
    mini_direct(p, x, t, dy, y0, dx0, dp0);
    mini_net(&net, &cfg);
    memset(&ex, 0, sizeof ex);
    ex.run = rev_run;
    ex.nthreads = 2;
    assert_int_equal(ggdm_net_workspace_bytes(&net, N_, 1, &ex, &bytes), GGDM_OK);
    memset(&io, 0, sizeof io);
    io.in[0] = x;
    io.steps[0] = t;
    io.out[0] = y1;
    io.dout = dy;
    io.dx = dx1;
    /* one run, and chunks */
    assert_int_equal(ggdm_net_run(&net, &be, p, N_, GGDM_GRAPH_GRAD_INPUT, &io, ws, bytes, NULL), GGDM_OK);
    same_bits(y0, y1, N_ * L_, "y (device)");
    same_bits(dx0, dx1, N_ * L_, "dx (device)");
    memset(y1, 0, sizeof y1);
    memset(dx1, 0, sizeof dx1);
    dev.ws_calls = 0;
    assert_int_equal(ggdm_net_run(&net, &be, p, N_, GGDM_GRAPH_GRAD_INPUT, &io, ws, bytes, &ex), GGDM_OK);
    assert_int_equal(dev.ws_calls, 1); /* the backend's workspace once per call, not per chunk */
    same_bits(y0, y1, N_ * L_, "y (device, chunks)");
    same_bits(dx0, dx1, N_ * L_, "dx (device, chunks)");
    /* a device failure is the call's */
    dev.fail = 1;
    assert_int_equal(ggdm_net_run(&net, &be, p, N_, GGDM_GRAPH_FORWARD, &io, ws, bytes, NULL), GGDM_ERR_DEVICE);
    assert_int_equal(ggdm_net_run(&net, &be, p, N_, GGDM_GRAPH_FORWARD, &io, ws, bytes, &ex), GGDM_ERR_DEVICE);
    dev.fail = 0;
    /* an op the backend does not run: refused before anything runs */
    be.supports = no_silu;
    dev.ws_calls = 0;
    assert_int_equal(ggdm_net_run(&net, &be, p, N_, GGDM_GRAPH_FORWARD, &io, ws, bytes, NULL), GGDM_ERR_UNSUPPORTED);
    assert_int_equal(ggdm_net_run(&net, &be, p, N_, GGDM_GRAPH_FORWARD, &io, ws, bytes, &ex), GGDM_ERR_UNSUPPORTED);
    be.supports = NULL;
    /* no device workspace */
    dev.no_ws = 1;
    assert_int_equal(ggdm_net_run(&net, &be, p, N_, GGDM_GRAPH_FORWARD, &io, ws, bytes, NULL),
                     GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_net_run(&net, &be, p, N_, GGDM_GRAPH_FORWARD, &io, ws, bytes, &ex),
                     GGDM_ERR_BUFFER_TOO_SMALL);
    dev.no_ws = 0;
}

static ggdm_status bad_size(const void *cfg, int N, int *mn, int *mv)
{
    (void)cfg, (void)N;
    *mn = *mv = 0;
    return GGDM_ERR_ARG;
}

static ggdm_status huge_size(const void *cfg, int N, int *mn, int *mv)
{
    (void)cfg, (void)N;
    *mn = *mv = 1 << 16;
    return GGDM_OK;
}

static ggdm_status bad_build(const void *cfg, ggdm_graph *g)
{
    (void)cfg;
    ggdm_graph_input(g, 0, 1, 1, 4, NULL);
    return GGDM_OK; /* no node, no output: planning refuses it */
}

static void test_net_errors(void **state)
{
    static float ws[1 << 14];
    mini_cfg cfg = {0};
    ggdm_net net;
    ggdm_graph_io io;
    ggdm_graph *g;
    float *arena, p[P_COUNT], x[N_ * L_], y[N_ * L_];
    int64_t t[N_] = {0, 0, 0};
    size_t bytes;
    double flops;
    (void)state;
    memset(p, 0, sizeof p);
    memset(x, 0, sizeof x);
    memset(&io, 0, sizeof io);
    io.in[0] = x;
    io.steps[0] = t;
    io.out[0] = y;
    mini_net(&net, &cfg);
    assert_int_equal(ggdm_net_workspace_bytes(&net, N_, 0, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_workspace_bytes(NULL, N_, 0, NULL, &bytes), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_workspace_bytes(&net, 0, 0, NULL, &bytes), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_workspace_bytes(&net, (1 << 24) + 1, 0, NULL, &bytes), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_run(&net, NULL, p, N_, 0, NULL, ws, sizeof ws, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_run(&net, NULL, p, N_, 0, &io, NULL, sizeof ws, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_run(&net, NULL, p, 0, 0, &io, ws, sizeof ws, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_prepare(&net, NULL, N_, 0, ws, sizeof ws, NULL, &arena, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_prepare(&net, NULL, N_, 0, ws, sizeof ws, &g, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_prepare(&net, NULL, 0, 0, ws, sizeof ws, &g, &arena, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_prepare(NULL, NULL, N_, 0, ws, sizeof ws, &g, &arena, NULL), GGDM_ERR_ARG);
    net.build = NULL;
    assert_int_equal(ggdm_net_workspace_bytes(&net, N_, 0, NULL, &bytes), GGDM_ERR_ARG);
    net.build = mini_build;
    assert_int_equal(ggdm_net_run(NULL, NULL, p, N_, 0, &io, ws, sizeof ws, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_run(&net, NULL, NULL, N_, 0, &io, ws, sizeof ws, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_prepare(&net, NULL, N_, 0, (char *)ws + 4, sizeof ws - 4, &g, &arena, NULL),
                     GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_prepare(&net, NULL, N_, 0, ws, 128, &g, &arena, NULL), GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_net_prepare(&net, NULL, N_, 0, ws, sizeof ws, &g, &arena, &bytes), GGDM_OK);
    assert_true(bytes <= sizeof ws && bytes % 64 == 0);
    net.size = bad_size;
    assert_int_equal(ggdm_net_workspace_bytes(&net, N_, 0, NULL, &bytes), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_prepare(&net, NULL, N_, 0, ws, sizeof ws, &g, &arena, NULL), GGDM_ERR_ARG);
    net.size = huge_size; /* a graph larger than the sizing buffer */
    assert_int_equal(ggdm_net_workspace_bytes(&net, N_, 0, NULL, &bytes), GGDM_ERR_UNSUPPORTED);
    assert_int_equal(ggdm_net_flops(&net, N_, &flops), GGDM_ERR_UNSUPPORTED);
    net.size = mini_size;
    assert_int_equal(ggdm_net_flops(&net, N_, &flops), GGDM_OK);
    /* the two convolutions and the linear layer: 2 x multiply-adds */
    assert_true(flops == 2.0 * N_ * (C_ * L_ * 3 + L_ * C_ + 2 * C_ * TD));
    assert_int_equal(ggdm_net_flops(&net, N_, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_flops(&net, 0, &flops), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_flops(NULL, N_, &flops), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_flops(&net, (1 << 24) + 1, &flops), GGDM_ERR_ARG);
    net.build = NULL;
    assert_int_equal(ggdm_net_flops(&net, N_, &flops), GGDM_ERR_ARG);
    net.build = mini_build;
    net.size = NULL;
    assert_int_equal(ggdm_net_flops(&net, N_, &flops), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_workspace_bytes(&net, N_, 0, NULL, &bytes), GGDM_ERR_ARG);
    net.size = bad_size;
    assert_int_equal(ggdm_net_flops(&net, N_, &flops), GGDM_ERR_ARG);
    net.size = mini_size;
    net.size = mini_size;
    net.build = bad_build;
    assert_int_equal(ggdm_net_workspace_bytes(&net, N_, 0, NULL, &bytes), GGDM_ERR_ARG);
    assert_int_equal(ggdm_net_run(&net, NULL, p, N_, 0, &io, ws, sizeof ws, NULL), GGDM_ERR_ARG);
}

/* An input gradient no node writes (the output does not depend on the input) is zero. */
static ggdm_status steps_only_build(const void *cfg, ggdm_graph *g)
{
    ggdm_op_attr a;
    int in[1];
    (void)cfg;
    ggdm_graph_input(g, 0, 1, 1, 8, NULL);
    in[0] = ggdm_graph_steps(g, 0);
    memset(&a, 0, sizeof a);
    a.Cout = 8;
    ggdm_graph_output(g, ggdm_graph_op(g, GGDM_OP_TEMB, &a, in, 1, "temb", 2), 0);
    return g->status;
}

/* y = temb(x): the input needs a gradient, its one reader's VJP adds nothing into it */
static ggdm_status temb_of_input_build(const void *cfg, ggdm_graph *g)
{
    ggdm_op_attr a;
    int in[1];
    (void)cfg;
    in[0] = ggdm_graph_input(g, 0, 1, 1, 1, NULL);
    memset(&a, 0, sizeof a);
    a.Cout = 8;
    ggdm_graph_output(g, ggdm_graph_op(g, GGDM_OP_TEMB, &a, in, 1, NULL, 3), 0);
    return g->status;
}

static void test_unused_input_gradient(void **state)
{
    static float ws[1 << 14];
    mini_cfg cfg = {0};
    ggdm_net net;
    ggdm_graph_io io;
    float p[1] = {0}, x[N_ * 8], dx[N_ * 8], y[N_ * 8], dy[N_ * 8];
    int64_t t[N_] = {1, 2, 3};
    trace_log tl;
    int i;
    (void)state;
    mini_net(&net, &cfg);
    net.build = steps_only_build;
    net.n_params = 0;
    net.in_floats[0] = net.out_floats[0] = 8;
    fill(x, N_ * 8, 15);
    fill(dy, N_ * 8, 16);
    fill(dx, N_ * 8, 17);
    memset(&io, 0, sizeof io);
    memset(&tl, 0, sizeof tl);
    io.in[0] = x;
    io.steps[0] = t;
    io.out[0] = y;
    io.dout = dy;
    io.dx = dx;
    io.trace = log_trace; /* a 2-D trace */
    io.trace_ctx = &tl;
    assert_int_equal(ggdm_net_run(&net, NULL, p, N_, GGDM_GRAPH_GRAD_INPUT, &io, ws, sizeof ws, NULL), GGDM_OK);
    for (i = 0; i < N_ * 8; i++)
        assert_true(dx[i] == 0.0f && !signbit(dx[i]));
    assert_int_equal(tl.n, 1);
    net.build = temb_of_input_build;
    net.in_floats[0] = 1;
    fill(dx, N_, 17);
    io.trace = NULL;
    assert_int_equal(ggdm_net_run(&net, NULL, p, N_, GGDM_GRAPH_GRAD_INPUT, &io, ws, sizeof ws, NULL), GGDM_OK);
    for (i = 0; i < N_; i++)
        assert_true(dx[i] == 0.0f && !signbit(dx[i]));
}

/* y = conv(silu(film(norm(h), ss))): the norm's input has no other reader, so with the elem
 * backend's fused calls the whole backward chain is fused; the bits are the CPU's. */
static ggdm_status chain_build(const void *cfg, ggdm_graph *g)
{
    ggdm_op_attr a;
    int t, e, ss, x, h, v;
    (void)cfg;
    t = ggdm_graph_steps(g, 0);
    memset(&a, 0, sizeof a);
    a.Cout = TD;
    e = op3(g, GGDM_OP_TEMB, &a, t, -1, -1, NULL);
    memset(&a, 0, sizeof a);
    a.Cout = 2 * C_;
    ss = op3(g, GGDM_OP_LINEAR, &a, e, ggdm_graph_param(g, P_LW, 2 * C_, TD, 1), ggdm_graph_param(g, P_LB, 2 * C_, 1, 1),
             NULL);
    x = ggdm_graph_input(g, 0, 1, 1, L_, NULL);
    memset(&a, 0, sizeof a);
    a.Cout = C_, a.KH = 1, a.KW = 3, a.sh = 1, a.sw = 1, a.pw = 1;
    h = op3(g, GGDM_OP_CONV, &a, x, ggdm_graph_param(g, P_W, C_, 1, 3), ggdm_graph_param(g, P_B, C_, 1, 1), NULL);
    memset(&a, 0, sizeof a);
    a.kind = GGDM_NORM_GROUP, a.G = G_, a.eps = GGDM_NORM_EPS;
    v = op3(g, GGDM_OP_NORM, &a, h, ggdm_graph_param(g, P_GA, C_, 1, 1), ggdm_graph_param(g, P_BE, C_, 1, 1), NULL);
    memset(&a, 0, sizeof a);
    v = op3(g, GGDM_OP_FILM, &a, v, ss, -1, NULL);
    v = op3(g, GGDM_OP_SILU, &a, v, -1, -1, NULL);
    /* a second half without FiLM: norm -> silu */
    memset(&a, 0, sizeof a);
    a.kind = GGDM_NORM_GROUP, a.G = G_, a.eps = GGDM_NORM_EPS;
    v = op3(g, GGDM_OP_NORM, &a, v, ggdm_graph_param(g, P_GA, C_, 1, 1), ggdm_graph_param(g, P_BE, C_, 1, 1), NULL);
    memset(&a, 0, sizeof a);
    v = op3(g, GGDM_OP_SILU, &a, v, -1, -1, NULL);
    a.Cout = 1, a.KH = 1, a.KW = 1, a.sh = 1, a.sw = 1;
    v = op3(g, GGDM_OP_CONV, &a, v, ggdm_graph_param(g, P_W2, 1, C_, 1), ggdm_graph_param(g, P_B2, 1, 1, 1), NULL);
    ggdm_graph_output(g, v, 0);
    return g->status;
}

static void test_fusion(void **state)
{
    static float ws[1 << 16];
    static unsigned char mem[1 << 16] __attribute__((aligned(64)));
    mini_cfg cfg = {0};
    ggdm_net net;
    ggdm_graph_io io;
    ggdm_graph *g;
    float p[P_COUNT], x[N_ * L_], dy[N_ * L_], y0[N_ * L_], dx0[N_ * L_], y1[N_ * L_], dx1[N_ * L_];
    int64_t t[N_] = {5, 0, 9};
    int k, fused = 0, fused_bwd = 0;
    (void)state;
    /* which chains fuse: every mode on the elem backend; none on the CPU's */
    assert_int_equal(ggdm_graph_init(mem, sizeof mem, 16, 32, N_, &g), GGDM_OK);
    assert_int_equal(chain_build(&cfg, g), GGDM_OK);
    assert_int_equal(ggdm_graph_plan(g, GGDM_GRAPH_GRAD_INPUT, ggdm_backend_elem(), NULL), GGDM_OK);
    for (k = 0; k < g->n_nodes; k++)
        fused += g->node[k].fuse, fused_bwd += g->node[k].fuse_bwd;
    assert_int_equal(fused, 3); /* norm -> film -> silu (2) and norm -> silu (1) */
    assert_int_equal(fused_bwd, 2);
    check_disjoint(g);
    assert_int_equal(ggdm_graph_plan(g, GGDM_GRAPH_GRAD_PARAMS, ggdm_backend_elem(), NULL), GGDM_OK);
    for (k = 0, fused = fused_bwd = 0; k < g->n_nodes; k++)
        fused += g->node[k].fuse, fused_bwd += g->node[k].fuse_bwd;
    assert_int_equal(fused, 3);
    assert_int_equal(fused_bwd, 0); /* parameter gradients: the separate VJPs */
    assert_int_equal(ggdm_graph_plan(g, GGDM_GRAPH_GRAD_INPUT, ggdm_backend_cpu(), NULL), GGDM_OK);
    for (k = 0, fused = 0; k < g->n_nodes; k++)
        fused += g->node[k].fuse;
    assert_int_equal(fused, 0);
    /* the bits, fused and not */
    fill(p, P_COUNT, 18);
    fill(x, N_ * L_, 19);
    fill(dy, N_ * L_, 20);
    mini_net(&net, &cfg);
    net.build = chain_build;
    memset(&io, 0, sizeof io);
    io.in[0] = x;
    io.steps[0] = t;
    io.dout = dy;
    io.out[0] = y0;
    io.dx = dx0;
    assert_int_equal(ggdm_net_run(&net, ggdm_backend_cpu(), p, N_, GGDM_GRAPH_GRAD_INPUT, &io, ws, sizeof ws, NULL),
                     GGDM_OK);
    io.out[0] = y1;
    io.dx = dx1;
    assert_int_equal(ggdm_net_run(&net, ggdm_backend_elem(), p, N_, GGDM_GRAPH_GRAD_INPUT, &io, ws, sizeof ws, NULL),
                     GGDM_OK);
    same_bits(y0, y1, N_ * L_, "y (fused)");
    same_bits(dx0, dx1, N_ * L_, "dx (fused backward)");
}

/* Every remaining refusal of the building API and of the attention's attributes. */
static void test_more_refusals(void **state)
{
    static unsigned char mem[1 << 14] __attribute__((aligned(64)));
    ggdm_graph *g;
    ggdm_op_attr a;
    ggdm_op_info info;
    int in[4] = {0, -1, -1, -1}, x, y;
    size_t k;
    static const struct {
        int heads, dh, Lq, Lk;
        long sq, sk, sv, oq, ok, ov;
    } bad[] = {
        {0, 3, 4, 7, 24, 42, 42, 0, 0, 0},  {2, 0, 4, 7, 24, 42, 42, 0, 0, 0},  {2, 3, 0, 7, 24, 42, 42, 0, 0, 0},
        {2, 3, 4, 0, 24, 42, 42, 0, 0, 0},  {2, 3, 4, 7, 24, 42, 42, -1, 0, 0}, {2, 3, 4, 7, 24, 42, 42, 0, -1, 0},
        {2, 3, 4, 7, 24, 42, 42, 0, 0, -1}, {2, 3, 4, 7, 23, 42, 42, 0, 0, 0},  {2, 3, 4, 7, 24, 42, 41, 0, 0, 0},
        {2, 3, 4, 7, -24, 42, 42, 0, 0, 0}, {1 << 17, 1, 4, 7, 24, 42, 42, 0, 0, 0},
    };
    (void)state;
    memset(&a, 0, sizeof a);
    a.N = 2;
    for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        a.heads = bad[k].heads, a.dh = bad[k].dh, a.Lq = bad[k].Lq, a.Lk = bad[k].Lk;
        a.sq = bad[k].sq, a.sk = bad[k].sk, a.sv = bad[k].sv, a.oq = bad[k].oq, a.ok = bad[k].ok, a.ov = bad[k].ov;
        if (ggdm_op_info_get(GGDM_OP_ATTN, &a, &info) != GGDM_ERR_ARG)
            fail_msg("attention case %zu accepted", k);
    }
    a.N = 0, a.heads = 2, a.dh = 3, a.Lq = 4, a.Lk = 4, a.sq = a.sk = a.sv = 24, a.oq = a.ok = a.ov = 0;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &info), GGDM_ERR_ARG);
    a.N = 1;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_ATTN, &a, &info), GGDM_OK);
    assert_true(info.scratch_vjp >= 16); /* Lq = Lk: the packed backward's scratch too */
    memset(&a, 0, sizeof a);
    /* sizes and init */
    assert_int_equal(ggdm_graph_bytes(1, 0), 0);
    assert_int_equal(ggdm_graph_bytes(1 << 21, 1), 0);
    assert_int_equal(ggdm_graph_init(mem, sizeof mem, 0, 4, 1, &g), GGDM_ERR_ARG);
    assert_int_equal(ggdm_graph_init(mem, sizeof mem, 4, 4, (1 << 24) + 1, &g), GGDM_ERR_ARG);
    assert_int_equal(ggdm_graph_init(mem, sizeof mem, 8, 16, 2, &g), GGDM_OK);
    /* values */
    assert_int_equal(ggdm_graph_param(g, 0, 1, 0, 1), -1);
    assert_int_equal(ggdm_graph_init(mem, sizeof mem, 8, 16, 2, &g), GGDM_OK);
    assert_int_equal(ggdm_graph_param(g, 0, 1, 1, 0), -1);
    assert_int_equal(ggdm_graph_init(mem, sizeof mem, 8, 16, 2, &g), GGDM_OK);
    assert_int_equal(ggdm_graph_input(g, -1, 1, 1, 4, NULL), -1);
    assert_int_equal(ggdm_graph_init(mem, sizeof mem, 8, 16, 2, &g), GGDM_OK);
    assert_int_equal(ggdm_graph_steps(g, -1), -1);
    assert_int_equal(ggdm_graph_init(mem, sizeof mem, 8, 16, 2, &g), GGDM_OK);
    assert_int_equal(ggdm_graph_steps(g, 2), -1);
    /* nodes */
#define FRESH_X()                                                                                                     \
    do {                                                                                                              \
        assert_int_equal(ggdm_graph_init(mem, sizeof mem, 8, 16, 2, &g), GGDM_OK);                                   \
        x = ggdm_graph_input(g, 0, 2, 1, 4, "x");                                                                    \
        in[0] = x, in[1] = in[2] = in[3] = -1;                                                                        \
    } while (0)
    FRESH_X();
    assert_int_equal(ggdm_graph_op(g, GGDM_OP_SILU, NULL, in, 1, NULL, 3), -1);
    FRESH_X();
    assert_int_equal(ggdm_graph_op(g, GGDM_OP_SILU, &a, NULL, 1, NULL, 3), -1);
    FRESH_X();
    assert_int_equal(ggdm_graph_op(g, GGDM_OP_SILU, &a, in, 0, NULL, 3), -1);
    FRESH_X();
    assert_int_equal(ggdm_graph_op(g, (ggdm_op_id)-1, &a, in, 1, NULL, 3), -1);
    FRESH_X();
    in[0] = -1;
    assert_int_equal(ggdm_graph_op(g, GGDM_OP_SILU, &a, in, 1, NULL, 3), -1);
    FRESH_X();
    in[1] = -2;
    assert_int_equal(ggdm_graph_op(g, GGDM_OP_ADD, &a, in, 2, NULL, 3), -1);
    FRESH_X();
    assert_int_equal(ggdm_graph_op(g, GGDM_OP_SILU, &a, in, 4, NULL, 3), -1); /* more than GGDM_OP_MAX_IN */
    FRESH_X();
    y = ggdm_graph_op(g, GGDM_OP_SILU, &a, in, 1, "", 2); /* an empty trace name: not traced */
    assert_true(y >= 0);
    assert_int_equal(g->node[0].name[0], 0);
    ggdm_graph_output(g, -1, 0);
    assert_int_equal(g->status, GGDM_ERR_ARG);
    FRESH_X();
    y = ggdm_graph_op(g, GGDM_OP_SILU, &a, in, 1, NULL, 3);
    ggdm_graph_output(g, y + 1, 0);
    assert_int_equal(g->status, GGDM_ERR_ARG);
    FRESH_X();
    y = ggdm_graph_op(g, GGDM_OP_SILU, &a, in, 1, NULL, 3);
    ggdm_graph_output(g, y, -1);
    assert_int_equal(g->status, GGDM_ERR_ARG);
    FRESH_X();
    y = ggdm_graph_op(g, GGDM_OP_SILU, &a, in, 1, NULL, 3);
    ggdm_graph_output(g, y, GGDM_GRAPH_SLOTS);
    assert_int_equal(g->status, GGDM_ERR_ARG);
    /* chains that are not fused: a channel norm, another eps, no beta, an intermediate that is an output */
    {
        int kind, eps, beta, out;
        for (kind = 0; kind < 2; kind++)
            for (eps = 0; eps < 2; eps++)
                for (beta = 0; beta < 2; beta++)
                    for (out = 0; out < 2; out++) {
                        int v, gm, bt, f;
                        FRESH_X();
                        memset(&a, 0, sizeof a);
                        a.kind = kind ? GGDM_NORM_CHANNEL : GGDM_NORM_GROUP;
                        a.G = 1;
                        a.eps = eps ? 1e-6f : GGDM_NORM_EPS;
                        gm = ggdm_graph_param(g, 0, 2, 1, 1);
                        bt = beta ? ggdm_graph_param(g, 2, 2, 1, 1) : -1;
                        in[1] = gm, in[2] = kind ? -1 : bt;
                        v = ggdm_graph_op(g, GGDM_OP_NORM, &a, in, 3, NULL, 3);
                        memset(&a, 0, sizeof a);
                        in[0] = v, in[1] = in[2] = -1;
                        f = ggdm_graph_op(g, GGDM_OP_SILU, &a, in, 1, NULL, 3);
                        ggdm_graph_output(g, f, 0);
                        if (out)
                            ggdm_graph_output(g, v, 1);
                        assert_int_equal(ggdm_graph_plan(g, GGDM_GRAPH_GRAD_INPUT, ggdm_backend_elem(), NULL), GGDM_OK);
                        assert_int_equal(g->node[0].fuse, !kind && !eps && beta && !out);
                    }
    }
#undef FRESH_X
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mini_network), cmocka_unit_test(test_chunks),   cmocka_unit_test(test_planner),
        cmocka_unit_test(test_build_errors), cmocka_unit_test(test_op_info), cmocka_unit_test(test_geglu),
        cmocka_unit_test(test_device_backend), cmocka_unit_test(test_net_errors),
        cmocka_unit_test(test_unused_input_gradient), cmocka_unit_test(test_fusion),
        cmocka_unit_test(test_more_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
