/* The guided Stable Diffusion step (ggdm/sd_guide.h) on tiny networks: the CFG combination
 * against the UNet itself, the guidance gradient against finite differences of the loss the
 * header defines (all four bias x loss kinds), the generation against a hand-written loop,
 * the same bits on any executor, the linearisation against the reward network, and errors. */
#include <math.h>
#include <stdlib.h>

#include "ggdm/rng.h"
#include "ggdm/sd_guide.h"
#include "ggdm_test.h"

#define BS 2
#define LT 5
#define LAT 4

static ggdm_unet2d_cfg uc;
static ggdm_vae_cfg vc;
static ggdm_resnet_cfg rc;
static float *up, *vp, *rp;
static ggdm_sd_nets nets;
static size_t nz, nx; /* per image */
static float *text, *z, *g;
static double r[BS], gx[BS];
static void *ws;
static size_t wsb;

static void fill(float *x, size_t n, uint32_t b, float scale)
{
    size_t i;
    ggdm_rng_fill_normal(3, ggdm_stream_id(GGDM_STREAM_TEST, 0x5347, b), 0, x, n);
    for (i = 0; i < n; i++)
        x[i] *= scale;
}

static int setup(void **state)
{
    ggdm_param_table t;
    int OH, OW;
    (void)state;
    ggdm_unet2d_cfg_tiny(&uc);
    ggdm_vae_cfg_tiny(&vc);
    vc.height = vc.width = LAT;
    ggdm_resnet_cfg_default(&rc);
    rc.width = 8;
    rc.resize = 0;
    assert_int_equal(ggdm_unet2d_table(&uc, &t), GGDM_OK);
    up = (float *)malloc(sizeof(float) * t.n_params);
    assert_int_equal(ggdm_unet2d_init(&uc, 1, up, t.n_params), GGDM_OK);
    assert_int_equal(ggdm_vae_params(&vc, &t), GGDM_OK);
    vp = (float *)malloc(sizeof(float) * t.n_params);
    assert_int_equal(ggdm_vae_init(&vc, 2, vp, t.n_params), GGDM_OK);
    assert_int_equal(ggdm_resnet_table(&rc, &t), GGDM_OK);
    rp = (float *)malloc(sizeof(float) * t.n_params);
    assert_int_equal(ggdm_resnet_init(&rc, 3, rp, t.n_params), GGDM_OK);
    nets.unet = &uc;
    nets.unet_params = up;
    nets.vae = &vc;
    nets.vae_params = vp;
    assert_int_equal(ggdm_vae_out_size(&vc, &OH, &OW), GGDM_OK);
    nz = (size_t)uc.in_channels * LAT * LAT;
    nx = (size_t)3 * OH * OW;
    text = (float *)malloc(sizeof(float) * 2 * BS * uc.cross_attention_dim * LT);
    z = (float *)malloc(sizeof(float) * BS * nz);
    g = (float *)malloc(sizeof(float) * BS * nx);
    fill(text, (size_t)2 * BS * uc.cross_attention_dim * LT, 1, 1.0f);
    fill(z, BS * nz, 2, 1.0f);
    fill(g, BS * nx, 3, 0.05f);
    r[0] = 0.3;
    r[1] = -0.2;
    gx[0] = 0.1;
    gx[1] = 0.4;
    wsb = (size_t)256 << 20;
    ws = malloc(wsb);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(up);
    free(vp);
    free(rp);
    free(text);
    free(z);
    free(g);
    free(ws);
    return 0;
}

static ggdm_sd_guide_cfg gcfg(float cfg, ggdm_sd_bias bias, ggdm_sd_loss loss)
{
    ggdm_sd_guide_cfg c;
    memset(&c, 0, sizeof c);
    c.bs = BS;
    c.Lt = LT;
    c.cfg_scale = cfg;
    c.guidance = 3.0f;
    c.target = 1.0f;
    c.bias = bias;
    c.loss = loss;
    return c;
}

static void make_plan(const ggdm_sd_guide_cfg *c, const ggdm_sd_sched_cfg *s, const ggdm_exec *ex, ggdm_sd_plan *p)
{
    char msg[GGDM_SD_MSG_LEN];
    assert_int_equal(ggdm_sd_plan_make(&nets, c, s, ex, NULL, 0, p, msg), GGDM_OK);
    assert_true(p->bytes <= wsb && p->eps_bytes <= p->bytes);
}

static void test_unguided_is_cfg(void **state)
{
    ggdm_sd_guide_cfg c = gcfg(7.5f, GGDM_SD_BIAS_BATCH, GGDM_SD_LOSS_MEAN);
    ggdm_sd_plan p;
    float *eps = (float *)malloc(sizeof(float) * BS * nz), *z2 = (float *)malloc(sizeof(float) * 2 * BS * nz),
          *e2 = (float *)malloc(sizeof(float) * 2 * BS * nz);
    int64_t t4[2 * BS] = {500, 500, 500, 500};
    size_t e, ub = 0;
    void *uws;
    (void)state;
    make_plan(&c, NULL, NULL, &p);
    assert_int_equal(ggdm_sd_guide_eps(&p, NULL, 500, 0.3f, z, text, eps, ws, p.eps_bytes, NULL), GGDM_OK);
    memcpy(z2, z, sizeof(float) * BS * nz);
    memcpy(z2 + BS * nz, z, sizeof(float) * BS * nz);
    assert_int_equal(ggdm_unet2d_workspace_bytes(&uc, 2 * BS, LAT, LAT, LT, 0, NULL, NULL, 0, &ub), GGDM_OK);
    uws = malloc(ub);
    assert_int_equal(ggdm_unet2d_forward(&uc, up, 2 * BS, LAT, LAT, LT, z2, t4, text, e2, uws, ub, NULL, NULL, NULL),
                     GGDM_OK);
    for (e = 0; e < BS * nz; e++) {
        float want = e2[e] + 7.5f * (e2[BS * nz + e] - e2[e]);
        assert_memory_equal(&eps[e], &want, sizeof(float));
    }
    /* cfg 1: the UNet on the prompt's states alone */
    c.cfg_scale = 1.0f;
    make_plan(&c, NULL, NULL, &p);
    assert_int_equal(p.nb, BS);
    assert_int_equal(ggdm_sd_guide_eps(&p, NULL, 500, 0.3f, z, text + (size_t)BS * uc.cross_attention_dim * LT, eps,
                                       ws, p.eps_bytes, NULL),
                     GGDM_OK);
    assert_int_equal(ggdm_unet2d_forward(&uc, up, BS, LAT, LAT, LT, z, t4, text + (size_t)BS * uc.cross_attention_dim * LT,
                                         e2, uws, ub, NULL, NULL, NULL),
                     GGDM_OK);
    assert_memory_equal(eps, e2, sizeof(float) * BS * nz);
    free(uws);
    free(eps);
    free(z2);
    free(e2);
}

/* The loss of the header at latents zz, in double over the float networks (unguided eps). */
static double loss_at(const ggdm_sd_plan *p, const ggdm_sd_guide_cfg *c, const float *zz, float a)
{
    float *eps = (float *)malloc(sizeof(float) * BS * nz), *z0 = (float *)malloc(sizeof(float) * BS * nz),
          *x0 = (float *)malloc(sizeof(float) * BS * nx);
    float s1 = sqrtf(1.0f - a), sa = sqrtf(a);
    double lin[BS], L = 0.0, y = c->target;
    size_t e;
    int i, j;
    assert_int_equal(ggdm_sd_guide_eps(p, NULL, 500, a, zz, text, eps, ws, p->eps_bytes, NULL), GGDM_OK);
    for (e = 0; e < BS * nz; e++)
        z0[e] = (zz[e] - s1 * eps[e]) / sa;
    assert_int_equal(ggdm_vae_decode(&vc, NULL, vp, BS, z0, x0, (char *)ws + p->eps_bytes, wsb - p->eps_bytes - 64,
                                     NULL, NULL, NULL),
                     GGDM_OK);
    for (j = 0; j < BS; j++) {
        lin[j] = 0.0;
        for (e = 0; e < nx; e++)
            lin[j] += (double)g[j * nx + e] * (double)x0[j * nx + e];
    }
    for (j = 0; j < BS; j++) {
        if (c->bias == GGDM_SD_BIAS_BATCH) {
            double m = 0.0;
            for (i = 0; i < BS; i++) {
                double res = lin[j] + r[i] - gx[j] - y;
                m += res / BS;
                if (c->loss == GGDM_SD_LOSS_MEAN)
                    L += 0.5 * res * res / (BS * BS);
            }
            if (c->loss == GGDM_SD_LOSS_SUM)
                L += 0.5 * m * m;
        } else {
            double res = lin[j] + r[j] - gx[j] - y;
            L += c->loss == GGDM_SD_LOSS_MEAN ? 0.5 * res * res / BS : 0.5 * res * res;
        }
    }
    free(eps);
    free(z0);
    free(x0);
    return L;
}

static void test_guided_gradient(void **state)
{
    ggdm_sd_surrogate sur;
    int kind;
    float a = 0.3f;
    (void)state;
    sur.g = g;
    sur.r = r;
    sur.gx = gx;
    for (kind = 0; kind < 4; kind++) {
        ggdm_sd_guide_cfg c = gcfg(7.5f, (ggdm_sd_bias)(kind & 1), (ggdm_sd_loss)(kind >> 1));
        ggdm_sd_plan p;
        ggdm_sd_step_info info;
        float *eg = (float *)malloc(sizeof(float) * BS * nz), *eu = (float *)malloc(sizeof(float) * BS * nz),
              *v = (float *)malloc(sizeof(float) * BS * nz), *zp = (float *)malloc(sizeof(float) * BS * nz);
        float k = sqrtf(1.0f - a) * c.guidance;
        double dd = 0.0, fd, h = 1e-2, L0, Lp, Lm, vn = 0.0;
        size_t e;
        make_plan(&c, NULL, NULL, &p);
        assert_int_equal(ggdm_sd_guide_eps(&p, &sur, 500, a, z, text, eg, ws, p.eps_bytes, &info), GGDM_OK);
        assert_int_equal(ggdm_sd_guide_eps(&p, NULL, 500, a, z, text, eu, ws, p.eps_bytes, NULL), GGDM_OK);
        L0 = loss_at(&p, &c, z, a);
        assert_true(L0 > 1e-3);
        assert_true(fabs(info.loss - L0) <= 1e-6 * L0); /* the same loss (float VAE outputs) */
        assert_true(info.gnorm > 0.0);
        fill(v, BS * nz, 10 + (uint32_t)kind, 1.0f);
        for (e = 0; e < BS * nz; e++) {
            dd += (double)(eg[e] - eu[e]) / (double)k * (double)v[e]; /* dz . v */
            vn += (double)v[e] * v[e];
        }
        for (e = 0; e < BS * nz; e++)
            zp[e] = z[e] + (float)(h * v[e]);
        Lp = loss_at(&p, &c, zp, a);
        for (e = 0; e < BS * nz; e++)
            zp[e] = z[e] - (float)(h * v[e]);
        Lm = loss_at(&p, &c, zp, a);
        fd = (Lp - Lm) / (2.0 * h);
        /* float32 networks: L's rounding noise ~1e-7 L over 2h, the curvature h^2 terms: 2e-2 */
        if (fabs(fd - dd) > 2e-2 * fabs(fd) + 1e-6 * L0 / h)
            fail_msg("bias %d loss %d: dz.v %.8g, finite differences %.8g (L %g, |v| %g)", kind & 1, kind >> 1, dd, fd,
                     L0, sqrt(vn));
        assert_true(fabs(fd) > 1e-4 * L0); /* the direction sees the loss */
        print_message("bias %d loss %d: L %.6g, dz.v %.8g, finite differences %.8g (rel. %.1e)\n", kind & 1,
                      kind >> 1, L0, dd, fd, fabs(fd - dd) / fabs(fd));
        free(eg);
        free(eu);
        free(v);
        free(zp);
    }
}

static void run_reverse(void *ctx, ggdm_task_fn task, void *arg, int ntasks)
{
    int i;
    (void)ctx;
    for (i = ntasks - 1; i >= 0; i--)
        task(arg, i);
}

typedef struct cb_ctx {
    int calls, stop_at;
    float *last;
} cb_ctx;

static int on_step(void *vctx, int call, int calls, const float *zz, const ggdm_sd_step_info *info)
{
    cb_ctx *c = (cb_ctx *)vctx;
    assert_int_equal(call, c->calls);
    assert_true(calls >= 1 && info != NULL);
    c->calls++;
    memcpy(c->last, zz, sizeof(float) * BS * nz);
    return c->stop_at >= 0 && call == c->stop_at;
}

static void test_generate(void **state)
{
    ggdm_sd_surrogate sur;
    int kind;
    (void)state;
    sur.g = g;
    sur.r = r;
    sur.gx = gx;
    for (kind = 0; kind < 2; kind++) {
        ggdm_sd_sched_cfg s;
        ggdm_sd_guide_cfg c = gcfg(7.5f, GGDM_SD_BIAS_BATCH, GGDM_SD_LOSS_MEAN);
        ggdm_sd_plan p, p3;
        ggdm_sd_sched_state ss;
        ggdm_exec ex;
        float ac[1000], *z1 = (float *)malloc(sizeof(float) * BS * nz), *z2 = (float *)malloc(sizeof(float) * BS * nz),
              *eps = (float *)malloc(sizeof(float) * BS * nz), *buf, *last = (float *)malloc(sizeof(float) * BS * nz);
        int64_t ts[16];
        int i, calls;
        cb_ctx cc;
        ggdm_sd_sched_cfg_sd15(&s, kind ? GGDM_SD_SCHED_DDIM : GGDM_SD_SCHED_PNDM, 3);
        make_plan(&c, &s, NULL, &p);
        calls = ggdm_sd_sched_calls(&s);
        assert_int_equal(calls, kind ? 3 : 4);
        /* by hand */
        buf = (float *)malloc(sizeof(float) * (ggdm_sd_sched_buffer_floats(&s, BS * nz) + 1));
        assert_int_equal(ggdm_sd_sched_alphas_cumprod(&s, ac), GGDM_OK);
        assert_int_equal(ggdm_sd_sched_timesteps(&s, ts), GGDM_OK);
        assert_int_equal(ggdm_sd_sched_start(&s, &ss, BS * nz, buf), GGDM_OK);
        memcpy(z1, z, sizeof(float) * BS * nz);
        for (i = 0; i < calls; i++) {
            assert_int_equal(ggdm_sd_guide_eps(&p, &sur, ts[i], ac[ts[i]], z1, text, eps, ws, p.eps_bytes, NULL),
                             GGDM_OK);
            assert_int_equal(ggdm_sd_sched_step(&s, &ss, ac, eps, z1), GGDM_OK);
        }
        /* the library's loop, the callback in order */
        memcpy(z2, z, sizeof(float) * BS * nz);
        cc.calls = 0;
        cc.stop_at = -1;
        cc.last = last;
        assert_int_equal(ggdm_sd_generate(&p, &sur, z2, text, ws, p.bytes, on_step, &cc), GGDM_OK);
        assert_int_equal(cc.calls, calls);
        assert_memory_equal(z1, z2, sizeof(float) * BS * nz);
        assert_memory_equal(last, z2, sizeof(float) * BS * nz);
        /* a 3-thread executor running its tasks in reverse: the same bits */
        memset(&ex, 0, sizeof ex);
        ex.run = run_reverse;
        ex.nthreads = 3;
        make_plan(&c, &s, &ex, &p3);
        memcpy(z2, z, sizeof(float) * BS * nz);
        assert_int_equal(ggdm_sd_generate(&p3, &sur, z2, text, ws, p3.bytes, NULL, NULL), GGDM_OK);
        assert_memory_equal(z1, z2, sizeof(float) * BS * nz);
        /* the callback stops it after call 1: z as of then */
        memcpy(z2, z, sizeof(float) * BS * nz);
        cc.calls = 0;
        cc.stop_at = 1;
        assert_int_equal(ggdm_sd_generate(&p, &sur, z2, text, ws, p.bytes, on_step, &cc), GGDM_ERR_ARG);
        assert_int_equal(cc.calls, 2);
        assert_memory_equal(last, z2, sizeof(float) * BS * nz);
        /* guided differs from unguided */
        memcpy(z2, z, sizeof(float) * BS * nz);
        assert_int_equal(ggdm_sd_generate(&p, NULL, z2, text, ws, p.bytes, NULL, NULL), GGDM_OK);
        assert_true(memcmp(z1, z2, sizeof(float) * BS * nz) != 0);
        /* too small a workspace, a plan without a scheduler */
        assert_int_equal(ggdm_sd_generate(&p, &sur, z2, text, ws, p.bytes - 1, NULL, NULL), GGDM_ERR_BUFFER_TOO_SMALL);
        make_plan(&c, NULL, NULL, &p3);
        assert_int_equal(ggdm_sd_generate(&p3, &sur, z2, text, ws, wsb, NULL, NULL), GGDM_ERR_ARG);
        free(z1);
        free(z2);
        free(eps);
        free(buf);
        free(last);
    }
}

static void test_linearize(void **state)
{
    size_t lb = 0, rb = 0, e;
    float *x = (float *)malloc(sizeof(float) * BS * nx), *gg = (float *)malloc(sizeof(float) * BS * nx),
          *x2 = (float *)malloc(sizeof(float) * BS * nx), *g2 = (float *)malloc(sizeof(float) * BS * nx), rf[BS],
          one[BS] = {1.0f, 1.0f};
    double rr[BS], gxx[BS];
    int OH, OW, j;
    (void)state;
    assert_int_equal(ggdm_vae_out_size(&vc, &OH, &OW), GGDM_OK);
    assert_int_equal(ggdm_sd_linearize_workspace_bytes(&vc, &rc, BS, NULL, &lb), GGDM_OK);
    assert_true(lb <= wsb);
    assert_int_equal(ggdm_sd_linearize(&vc, vp, &rc, rp, BS, z, x, rr, gg, gxx, ws, lb, NULL), GGDM_OK);
    assert_int_equal(ggdm_vae_decode(&vc, NULL, vp, BS, z, x2, ws, lb, NULL, NULL, NULL), GGDM_OK);
    assert_memory_equal(x, x2, sizeof(float) * BS * nx);
    assert_int_equal(ggdm_resnet_workspace_bytes(&rc, BS, OH, OW, 1, NULL, &rb), GGDM_OK);
    assert_int_equal(ggdm_resnet_vjp(&rc, rp, BS, OH, OW, x2, one, rf, g2, ws, rb, NULL), GGDM_OK);
    assert_memory_equal(gg, g2, sizeof(float) * BS * nx);
    for (j = 0; j < BS; j++) {
        double s = 0.0;
        assert_true(rr[j] == (double)rf[j]);
        for (e = 0; e < nx; e++)
            s += (double)g2[j * nx + e] * (double)x2[j * nx + e];
        assert_true(gxx[j] == s);
    }
    assert_int_equal(ggdm_sd_linearize(&vc, vp, &rc, rp, BS, z, x, rr, gg, gxx, ws, lb - 1, NULL),
                     GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_sd_linearize(&vc, vp, &rc, rp, BS, NULL, x, rr, gg, gxx, ws, lb, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sd_linearize(&vc, vp, &rc, rp, 0, z, x, rr, gg, gxx, ws, lb, NULL), GGDM_ERR_ARG);
    free(x);
    free(gg);
    free(x2);
    free(g2);
}

static void expect_plan_err(const ggdm_sd_nets *n, const ggdm_sd_guide_cfg *c, const char *what)
{
    ggdm_sd_plan p;
    char msg[GGDM_SD_MSG_LEN];
    msg[0] = '\0';
    assert_int_equal(ggdm_sd_plan_make(n, c, NULL, NULL, NULL, 0, &p, msg), GGDM_ERR_ARG);
    if (!strstr(msg, what))
        fail_msg("plan error '%s' does not say '%s'", msg, what);
}

static void test_errors(void **state)
{
    ggdm_sd_guide_cfg c = gcfg(7.5f, GGDM_SD_BIAS_BATCH, GGDM_SD_LOSS_MEAN), b;
    ggdm_sd_nets n = nets;
    ggdm_vae_cfg v = vc;
    ggdm_unet2d_cfg u = uc;
    ggdm_sd_plan p;
    ggdm_sd_sched_cfg s;
    ggdm_sd_surrogate sur;
    float *eps = (float *)malloc(sizeof(float) * BS * nz);
    size_t sz = 0;
    (void)state;
    b = c; b.bs = 0; expect_plan_err(&nets, &b, "batch size");
    b = c; b.guidance = (float)NAN; expect_plan_err(&nets, &b, "finite");
    b = c; b.target = (float)INFINITY; expect_plan_err(&nets, &b, "finite");
    b = c; b.bias = (ggdm_sd_bias)7; expect_plan_err(&nets, &b, "bias or loss");
    expect_plan_err(NULL, &c, "no networks");
    v.out_channels = 1;
    n.vae = &v;
    expect_plan_err(&n, &c, "3 channels");
    u.in_channels = u.out_channels = 3;
    n.vae = &vc;
    n.unet = &u;
    expect_plan_err(&n, &c, "channels");
    assert_int_equal(ggdm_sd_plan_make(&nets, &c, NULL, NULL, NULL, 0, NULL, NULL), GGDM_ERR_ARG);
    ggdm_sd_sched_cfg_sd15(&s, GGDM_SD_SCHED_PNDM, 0);
    assert_int_equal(ggdm_sd_plan_make(&nets, &c, &s, NULL, NULL, 0, &p, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sd_plan_sizing_bytes(&nets, &c, &sz), GGDM_OK);
    assert_true(sz > 0);
    assert_int_equal(ggdm_sd_plan_sizing_bytes(&nets, &c, NULL), GGDM_ERR_ARG);
    make_plan(&c, NULL, NULL, &p);
    sur.g = g;
    sur.r = r;
    sur.gx = NULL;
    assert_int_equal(ggdm_sd_guide_eps(&p, &sur, 500, 0.3f, z, text, eps, ws, p.eps_bytes, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sd_guide_eps(&p, NULL, 500, 0.0f, z, text, eps, ws, p.eps_bytes, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sd_guide_eps(&p, NULL, -1, 0.3f, z, text, eps, ws, p.eps_bytes, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sd_guide_eps(&p, NULL, 500, 0.3f, NULL, text, eps, ws, p.eps_bytes, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_sd_guide_eps(&p, NULL, 500, 0.3f, z, text, eps, (char *)ws + 8, p.eps_bytes, NULL),
                     GGDM_ERR_ARG);
    assert_int_equal(ggdm_sd_guide_eps(&p, NULL, 500, 0.3f, z, text, eps, ws, p.eps_bytes - 1, NULL),
                     GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_sd_guide_eps(NULL, NULL, 500, 0.3f, z, text, eps, ws, p.eps_bytes, NULL), GGDM_ERR_ARG);
    free(eps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unguided_is_cfg), cmocka_unit_test(test_guided_gradient),
        cmocka_unit_test(test_generate),        cmocka_unit_test(test_linearize),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
