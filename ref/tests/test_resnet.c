/*
 * Unit tests of the image reward model (ggdm/resnet.h): the parameter table is torchvision's
 * resnet18 state dict (names, shapes, counts), the configuration checks, the resize rule of
 * torchvision's Resize(int), the derived Normalize constants and their check, the
 * initialisation, and the RELU op. (The network's values against torchvision:
 * ci/interop/reward_vs_torchvision.py.)
 */
#include "ggdm_test.h"

#include <math.h>
#include <stdio.h>

#include "ggdm/backend.h"
#include "ggdm/exec.h"
#include "ggdm/elem/relu.h"
#include "ggdm/op.h"
#include "ggdm/param.h"
#include "ggdm/resnet.h"

static void test_table_is_torchvision(void **state)
{
    ggdm_resnet_cfg c;
    ggdm_param_table t;
    ggdm_param_info p;
    uint64_t total = 0, bn = 0;
    int i, n_conv = 0;
    (void)state;
    ggdm_resnet_cfg_default(&c);
    assert_int_equal(ggdm_resnet_table(&c, &t), GGDM_OK);
    /* torchvision's resnet18 state dict has 122 entries, 20 of them num_batches_tracked;
     * + normalize.scale, normalize.shift */
    assert_int_equal(t.n_tensors, 104);
    /* parameters 11,176,512 + fc 512 -> 1 (513) + running stats 2 x 4800 + 6 derived */
    assert_int_equal(t.n_params, 11176512u + 513u + 9600u + 6u);
    for (i = 0; i < t.n_tensors; i++) {
        assert_int_equal(ggdm_resnet_tensor(&c, i, &p), GGDM_OK);
        assert_int_equal(p.offset, total); /* contiguous, in table order */
        total += p.count;
        if (strstr(p.name, "running_mean"))
            bn += p.count;
        if (p.ndim == 4)
            n_conv++;
    }
    assert_int_equal(total, t.n_params);
    assert_int_equal(bn, 4800u);
    assert_int_equal(n_conv, 20); /* conv1 + 16 block convs + 3 downsamples */
    assert_int_equal(ggdm_resnet_tensor(&c, 0, &p), GGDM_OK);
    assert_string_equal(p.name, "conv1.weight");
    assert_int_equal(p.ndim, 4);
    assert_int_equal(p.shape[0], 64);
    assert_int_equal(p.shape[1], 3);
    assert_int_equal(p.shape[2], 7);
    assert_int_equal(p.fan_in, 147);
    assert_int_equal(ggdm_resnet_tensor(&c, 4, &p), GGDM_OK);
    assert_string_equal(p.name, "bn1.running_var");
    assert_int_equal(p.init, GGDM_PARAM_INIT_ONES);
    assert_int_equal(ggdm_resnet_tensor(&c, 5 + 10, &p), GGDM_OK); /* layer1.0: conv1, bn1 x4, conv2, bn2 x4 */
    assert_string_equal(p.name, "layer1.1.conv1.weight");
    assert_int_equal(ggdm_resnet_tensor(&c, 101, &p), GGDM_OK);
    assert_string_equal(p.name, "fc.bias");
    assert_int_equal(p.shape[0], 1);
    assert_int_equal(ggdm_resnet_tensor(&c, 102, &p), GGDM_OK);
    assert_string_equal(p.name, "normalize.scale");
    assert_int_equal(p.init, GGDM_PARAM_INIT_DERIVED);
    assert_int_equal(ggdm_resnet_tensor(&c, 104, &p), GGDM_ERR_ARG);
    assert_int_equal(ggdm_resnet_tensor(&c, -1, &p), GGDM_ERR_ARG);
    /* the downsample of layer2.0 */
    for (i = 0; i < t.n_tensors; i++) {
        ggdm_resnet_tensor(&c, i, &p);
        if (strcmp(p.name, "layer2.0.downsample.0.weight") == 0)
            break;
    }
    assert_true(i < t.n_tensors);
    assert_int_equal(p.shape[0], 128);
    assert_int_equal(p.shape[1], 64);
    assert_int_equal(p.shape[2], 1);
    ggdm_resnet_tensor(&c, i + 1, &p);
    assert_string_equal(p.name, "layer2.0.downsample.1.weight");
    /* no preprocessing: no derived tensors */
    c.preprocess = 0;
    assert_int_equal(ggdm_resnet_table(&c, &t), GGDM_OK);
    assert_int_equal(t.n_tensors, 102);
}

static void test_cfg_check(void **state)
{
    ggdm_resnet_cfg c;
    char msg[GGDM_RESNET_MSG_LEN];
    (void)state;
    ggdm_resnet_cfg_default(&c);
    assert_int_equal(ggdm_resnet_cfg_check(&c, msg), GGDM_OK);
    assert_string_equal(msg, "");
    c.layers[2] = 0;
    assert_int_equal(ggdm_resnet_cfg_check(&c, msg), GGDM_ERR_ARG);
    assert_non_null(strstr(msg, "BasicBlocks"));
    ggdm_resnet_cfg_default(&c);
    c.width = 0;
    assert_int_equal(ggdm_resnet_cfg_check(&c, msg), GGDM_ERR_ARG);
    ggdm_resnet_cfg_default(&c);
    c.in_ch = 1;
    assert_int_equal(ggdm_resnet_cfg_check(&c, msg), GGDM_ERR_ARG);
    assert_non_null(strstr(msg, "in_ch = 3"));
    c.preprocess = 0;
    assert_int_equal(ggdm_resnet_cfg_check(&c, msg), GGDM_OK);
    c.preprocess = 2;
    assert_int_equal(ggdm_resnet_cfg_check(&c, msg), GGDM_ERR_ARG);
    ggdm_resnet_cfg_default(&c);
    c.std[1] = 0.0f;
    assert_int_equal(ggdm_resnet_cfg_check(&c, msg), GGDM_ERR_ARG);
    ggdm_resnet_cfg_default(&c);
    c.antialias = 3;
    assert_int_equal(ggdm_resnet_cfg_check(&c, msg), GGDM_ERR_ARG);
    ggdm_resnet_cfg_default(&c);
    c.bn_eps = 0.0f;
    assert_int_equal(ggdm_resnet_cfg_check(&c, msg), GGDM_ERR_ARG);
    ggdm_resnet_cfg_default(&c);
    c.n_out = 0;
    assert_int_equal(ggdm_resnet_cfg_check(&c, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_resnet_cfg_check(NULL, msg), GGDM_ERR_ARG);
}

static void test_input_size(void **state)
{
    ggdm_resnet_cfg c;
    int oh, ow;
    (void)state;
    ggdm_resnet_cfg_default(&c);
    assert_int_equal(ggdm_resnet_input_size(&c, 512, 512, &oh, &ow), GGDM_OK);
    assert_int_equal(oh, 224);
    assert_int_equal(ow, 224);
    /* torchvision: short side 224, long side int(224 * long / short) */
    assert_int_equal(ggdm_resnet_input_size(&c, 300, 200, &oh, &ow), GGDM_OK);
    assert_int_equal(ow, 224);
    assert_int_equal(oh, 336);
    assert_int_equal(ggdm_resnet_input_size(&c, 100, 333, &oh, &ow), GGDM_OK);
    assert_int_equal(oh, 224);
    assert_int_equal(ow, 745); /* 224 * 333 / 100 = 745.92 */
    assert_int_equal(ggdm_resnet_input_size(&c, 0, 5, &oh, &ow), GGDM_ERR_ARG);
    assert_int_equal(ggdm_resnet_input_size(&c, 5, 5, NULL, &ow), GGDM_ERR_ARG);
    assert_int_equal(ggdm_resnet_input_size(&c, 1, 60000, &oh, &ow), GGDM_ERR_ARG); /* long side > 2^16 */
    c.resize = 0;
    assert_int_equal(ggdm_resnet_input_size(&c, 300, 200, &oh, &ow), GGDM_OK);
    assert_int_equal(oh, 300);
    assert_int_equal(ow, 200);
}

static void test_init_and_derived(void **state)
{
    ggdm_resnet_cfg c;
    ggdm_param_table t;
    ggdm_param_info p;
    float *a, *b;
    int i;
    (void)state;
    ggdm_resnet_cfg_default(&c);
    c.width = 4; /* a small network with the same pattern */
    assert_int_equal(ggdm_resnet_table(&c, &t), GGDM_OK);
    a = malloc(t.n_params * sizeof *a);
    b = malloc(t.n_params * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(ggdm_resnet_init(&c, 7, a, t.n_params), GGDM_OK);
    assert_int_equal(ggdm_resnet_init(&c, 7, b, t.n_params), GGDM_OK);
    assert_memory_equal(a, b, t.n_params * sizeof *a);
    assert_int_equal(ggdm_resnet_init(&c, 8, b, t.n_params), GGDM_OK);
    assert_memory_not_equal(a, b, 64 * sizeof *a);
    assert_int_equal(ggdm_resnet_init(&c, 7, b, t.n_params - 1), GGDM_ERR_BUFFER_TOO_SMALL);
    for (i = 0; i < t.n_tensors; i++) {
        uint64_t e;
        ggdm_resnet_tensor(&c, i, &p);
        for (e = 0; e < p.count; e++) {
            float v = a[p.offset + e];
            if (p.init == GGDM_PARAM_INIT_ONES)
                assert_true(v == 1.0f);
            else if (p.init == GGDM_PARAM_INIT_ZEROS)
                assert_true(v == 0.0f);
            else if (p.init == GGDM_PARAM_INIT_UNIFORM)
                assert_true(v >= -1.0f / 1.0f && v <= 1.0f && (double)v * v * (double)p.fan_in <= 1.0 + 1e-6);
        }
    }
    /* derived: 1 / std and -mean / std, in double, rounded once */
    ggdm_resnet_tensor(&c, t.n_tensors - 2, &p);
    assert_true(a[p.offset] == (float)(1.0 / (double)0.26862954f));
    assert_true(a[p.offset + 3] == (float)(-(double)0.48145466f / (double)0.26862954f));
    /* a run refuses an array whose derived tensors were not written */
    {
        size_t ws = 0;
        void *w;
        float x[3 * 8 * 8] = {0}, r;
        c.resize = 8;
        assert_int_equal(ggdm_resnet_workspace_bytes(&c, 1, 8, 8, 0, NULL, &ws), GGDM_OK);
        w = malloc(ws);
        assert_non_null(w);
        a[p.offset + 1] = 0.0f;
        assert_int_equal(ggdm_resnet_forward(&c, a, 1, 8, 8, x, &r, w, ws, NULL, NULL, NULL), GGDM_ERR_ARG);
        assert_int_equal(ggdm_resnet_derive(&c, a, t.n_params), GGDM_OK);
        assert_int_equal(ggdm_resnet_derive(&c, a, 3), GGDM_ERR_BUFFER_TOO_SMALL);
        assert_int_equal(ggdm_resnet_derive(&c, NULL, t.n_params), GGDM_ERR_ARG);
        free(w);
    }
    free(a);
    free(b);
}

static void test_relu_op(void **state)
{
    static const float x[8] = {-2.0f, -0.0f, 0.0f, 1e-40f, 3.5f, -1e-40f, 1.0f, -7.0f};
    float y[8], dx[8], dy[8];
    ggdm_op_attr a;
    ggdm_op_info info;
    ggdm_op_call c;
    int i;
    (void)state;
    memset(&a, 0, sizeof a);
    a.N = 2;
    a.C = 2;
    a.H = 1;
    a.W = 2;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_RELU, &a, &info), GGDM_OK);
    assert_int_equal(info.out, 8);
    memset(&c, 0, sizeof c);
    c.a = a;
    c.in[0] = x;
    c.out = y;
    ggdm_backend_cpu()->ops[GGDM_OP_RELU].fwd(NULL, &c);
    for (i = 0; i < 8; i++) {
        float want = x[i] > 0.0f ? x[i] : 0.0f;
        uint32_t u, v;
        memcpy(&u, &y[i], 4);
        memcpy(&v, &want, 4);
        assert_int_equal(u, v); /* -0 -> +0 */
        dy[i] = (float)(i + 1);
        dx[i] = 0.5f;
    }
    c.dout = dy;
    c.din[0] = dx;
    ggdm_backend_cpu()->ops[GGDM_OP_RELU].vjp(NULL, &c);
    for (i = 0; i < 8; i++)
        assert_true(dx[i] == (x[i] > 0.0f ? 0.5f + (float)(i + 1) : 0.5f)); /* 1e-40 > 0 passes */
    assert_true(ggdm_relu(0.0f / 0.0f) != ggdm_relu(0.0f / 0.0f)); /* NaN stays NaN */
    a.W = 0;
    assert_int_equal(ggdm_op_info_get(GGDM_OP_RELU, &a, &info), GGDM_ERR_ARG);
}

static void run_reverse(void *ctx, ggdm_task_fn task, void *arg, int ntasks)
{
    int i;
    (void)ctx;
    for (i = ntasks - 1; i >= 0; i--)
        task(arg, i);
}

/* A small network with the same pattern, run: threads and the elem backend give the same
 * bits, the VJP is the gradient (directional finite differences in the smooth region of the
 * inputs: clamp inactive), the preprocessing's paths, the refusals. */
static void test_forward_vjp(void **state)
{
    enum { N = 2, H = 20, W = 24, NX = N * 3 * H * W };
    ggdm_resnet_cfg c;
    ggdm_param_table t;
    float *p, x[NX], v[NX], xp[NX], dx[NX], dx2[NX], r[N], r2[N], dr[N] = {1.0f, -0.5f};
    size_t wsf, wsb, wsx;
    void *ws;
    double an = 0.0, fp = 0.0, fm = 0.0, h = 1e-3;
    int i, k, oh, ow;
    double flops;
    (void)state;
    ggdm_resnet_cfg_default(&c);
    c.width = 4;
    for (i = 0; i < 4; i++)
        c.layers[i] = 1 + (i == 1);
    c.resize = 16;
    assert_int_equal(ggdm_resnet_input_size(&c, H, W, &oh, &ow), GGDM_OK);
    assert_int_equal(oh, 16);
    assert_int_equal(ow, 19);
    assert_int_equal(ggdm_resnet_table(&c, &t), GGDM_OK);
    p = malloc(t.n_params * sizeof *p);
    assert_non_null(p);
    assert_int_equal(ggdm_resnet_init(&c, 3, p, t.n_params), GGDM_OK);
    for (i = 0; i < NX; i++) { /* inside (-1, 1): the clamp passes everything */
        x[i] = 0.9f * (float)((i * 37 % 101) - 50) / 50.0f;
        v[i] = (float)((i * 13 % 7) - 3) / 3.0f;
    }
    assert_int_equal(ggdm_resnet_workspace_bytes(&c, N, H, W, 0, NULL, &wsf), GGDM_OK);
    assert_int_equal(ggdm_resnet_workspace_bytes(&c, N, H, W, 1, NULL, &wsb), GGDM_OK);
    assert_true(wsb > wsf);
    ws = malloc(4 * wsb);
    assert_non_null(ws);
    assert_int_equal(ggdm_resnet_forward(&c, p, N, H, W, x, r, ws, wsf, NULL, NULL, NULL), GGDM_OK);
    assert_true(r[0] == r[0] && r[1] == r[1] && r[0] != r[1]);
    memset(dx, 0x7f, sizeof dx); /* overwritten, not added into */
    assert_int_equal(ggdm_resnet_vjp(&c, p, N, H, W, x, dr, r2, dx, ws, wsb, NULL), GGDM_OK);
    assert_memory_equal(r, r2, sizeof r);
    /* <dr, r(x + h v)> - <dr, r(x - h v)> over 2h against dx . v */
    for (k = -1; k <= 1; k += 2) {
        for (i = 0; i < NX; i++)
            xp[i] = (float)(x[i] + k * h * v[i]);
        assert_int_equal(ggdm_resnet_forward(&c, p, N, H, W, xp, r2, ws, wsf, NULL, NULL, NULL), GGDM_OK);
        *(k < 0 ? &fm : &fp) = (double)dr[0] * r2[0] + (double)dr[1] * r2[1];
    }
    for (i = 0; i < NX; i++)
        an += (double)dx[i] * v[i];
    print_message("resnet small: dx . v = %.6g, finite differences %.6g\n", an, (fp - fm) / (2 * h));
    assert_true(fabs(an - (fp - fm) / (2 * h)) <= 2e-2 * fabs(an) + 1e-4);
    /* the same bits with executors (reversed task order) and on the elem backend */
    for (k = 1; k <= 3; k++) {
        ggdm_exec ex = {0};
        ex.run = run_reverse;
        ex.nthreads = k;
        if (k == 3)
            ex.unet = ggdm_backend_elem();
        assert_int_equal(ggdm_resnet_workspace_bytes(&c, N, H, W, 1, &ex, &wsx), GGDM_OK);
        assert_true(wsx <= 4 * wsb);
        assert_int_equal(ggdm_resnet_vjp(&c, p, N, H, W, x, dr, r2, dx2, ws, wsx, &ex), GGDM_OK);
        assert_memory_equal(r, r2, sizeof r);
        assert_memory_equal(dx, dx2, sizeof dx);
    }
    assert_int_equal(ggdm_resnet_flops(&c, N, H, W, &flops), GGDM_OK);
    assert_true(flops > 1e5);
    /* refusals */
    assert_int_equal(ggdm_resnet_forward(&c, p, N, H, W, x, r2, ws, 64, NULL, NULL, NULL), GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_resnet_forward(&c, p, N, H, W, x, NULL, ws, wsf, NULL, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_resnet_forward(&c, NULL, N, H, W, x, r2, ws, wsf, NULL, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_resnet_forward(&c, p, 0, H, W, x, r2, ws, wsf, NULL, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_resnet_vjp(&c, p, N, H, W, x, NULL, r2, dx2, ws, wsb, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_resnet_vjp(&c, p, N, H, W, x, dr, r2, NULL, ws, wsb, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_resnet_workspace_bytes(&c, N, H, W, 0, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_resnet_workspace_bytes(&c, N, 0, W, 0, NULL, &wsx), GGDM_ERR_ARG);
    assert_int_equal(ggdm_resnet_flops(&c, N, H, W, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_resnet_flops(&c, 0, H, W, &flops), GGDM_ERR_ARG);
    assert_int_equal(ggdm_resnet_table(&c, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_resnet_tensor(&c, 0, NULL), GGDM_ERR_ARG);
    /* an image already of the resize's size is not resized (torchvision returns it): the
     * network then equals one without a resize at that size */
    {
        float r3[N], r4[N];
        assert_int_equal(ggdm_resnet_forward(&c, p, N, 16, 16, x, r3, ws, wsb, NULL, NULL, NULL), GGDM_OK);
        c.resize = 0;
        assert_int_equal(ggdm_resnet_forward(&c, p, N, 16, 16, x, r4, ws, wsb, NULL, NULL, NULL), GGDM_OK);
        assert_memory_equal(r3, r4, sizeof r3);
        /* without the preprocessing: no derived tensors, a different function */
        c.preprocess = 0;
        assert_int_equal(ggdm_resnet_table(&c, &t), GGDM_OK);
        assert_int_equal(ggdm_resnet_forward(&c, p, N, 16, 16, x, r4, ws, wsb, NULL, NULL, NULL), GGDM_OK);
        assert_memory_not_equal(r3, r4, sizeof r3);
        assert_int_equal(ggdm_resnet_derive(&c, p, t.n_params), GGDM_OK); /* nothing to derive */
    }
    free(ws);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_torchvision),
        cmocka_unit_test(test_cfg_check),
        cmocka_unit_test(test_input_size),
        cmocka_unit_test(test_init_and_derived),
        cmocka_unit_test(test_relu_op),
        cmocka_unit_test(test_forward_vjp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
