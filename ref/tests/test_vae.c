/* The VAE decoder (ggdm/vae.h, docs/vae.md): configuration checks, the parameter table against
 * diffusers' (counts, names, shapes), initialisation, the decode and its VJP (finite
 * differences, executors, backends, workspace refusals). */
#include "ggdm_test.h"

#include <math.h>
#include <stdio.h>

#include "ggdm/backend.h"
#include "ggdm/rng.h"
#include "ggdm/vae.h"

static void expect_bad(const ggdm_vae_cfg *c, const char *word)
{
    char msg[GGDM_VAE_MSG_LEN];
    assert_int_equal(ggdm_vae_cfg_check(c, msg), GGDM_ERR_ARG);
    if (!strstr(msg, word))
        fail_msg("message '%s' does not mention '%s'", msg, word);
}

static void test_cfg_checks(void **state)
{
    ggdm_vae_cfg c, b;
    char msg[GGDM_VAE_MSG_LEN];
    (void)state;
    ggdm_vae_cfg_sd15(&c);
    assert_int_equal(ggdm_vae_cfg_check(&c, msg), GGDM_OK);
    assert_string_equal(msg, "");
    ggdm_vae_cfg_tiny(&c);
    assert_int_equal(ggdm_vae_cfg_check(&c, NULL), GGDM_OK);
    assert_int_equal(ggdm_vae_cfg_check(NULL, msg), GGDM_ERR_ARG);
    b = c; b.n_blocks = 0; expect_bad(&b, "block_out_channels");
    b = c; b.n_blocks = GGDM_VAE_MAX_BLOCKS + 1; expect_bad(&b, "block_out_channels");
    b = c; b.norm_num_groups = 0; expect_bad(&b, "norm_num_groups");
    b = c; b.block_out_channels[1] = 0; expect_bad(&b, "block_out_channels[1]");
    b = c; b.block_out_channels[0] = 36; expect_bad(&b, "divisible");
    b = c; b.layers_per_block = -1; expect_bad(&b, "layers_per_block");
    b = c; b.layers_per_block = GGDM_VAE_MAX_LAYERS + 1; expect_bad(&b, "layers_per_block");
    b = c; b.latent_channels = 0; expect_bad(&b, "latent_channels");
    b = c; b.out_channels = 2000; expect_bad(&b, "out_channels");
    b = c; b.scaling_factor = 0.0f; expect_bad(&b, "scaling_factor");
    b = c; b.scaling_factor = (float)NAN; expect_bad(&b, "scaling_factor");
    b = c; b.mid_attention = 2; expect_bad(&b, "mid_attention");
    b = c; b.attn_kind = 5; expect_bad(&b, "attn_kind");
    b = c; b.height = 0; expect_bad(&b, "height");
    b = c; b.width = 1 << 15; expect_bad(&b, "width");
    b = c; b.n_blocks = 4; b.block_out_channels[2] = b.block_out_channels[3] = 64; b.height = 1 << 14;
    expect_bad(&b, "65536");
}

/* SD v1.5's decoder side as diffusers reports it: 140 tensors, 49,490,199 parameters
 * (decoder.* 49,490,179 + post_quant_conv.* 20); the tiny one 70 tensors, 402,071. */
static void test_table(void **state)
{
    ggdm_vae_cfg c;
    ggdm_param_table t;
    ggdm_param_info info;
    uint64_t n, sum = 0;
    int i, oh, ow, found = 0;
    (void)state;
    ggdm_vae_cfg_sd15(&c);
    assert_int_equal(ggdm_vae_params(&c, &t), GGDM_OK);
    assert_int_equal(t.n_tensors, 140);
    assert_true(t.n_params == 49490199u);
    assert_int_equal(ggdm_vae_num_params(&c, &n), GGDM_OK);
    assert_true(n == 49490199u);
    for (i = 0; i < t.n_tensors; i++) {
        assert_int_equal(t.tensor(t.cfg, i, &info), GGDM_OK);
        assert_true(info.offset == sum); /* contiguous, in table order */
        sum += info.count;
        if (strcmp(info.name, "decoder.up_blocks.2.resnets.0.conv_shortcut.weight") == 0) {
            assert_int_equal(info.ndim, 4);
            assert_true(info.shape[0] == 256 && info.shape[1] == 512 && info.shape[2] == 1 && info.shape[3] == 1);
            assert_true(info.fan_in == 512);
            found++;
        }
        if (strcmp(info.name, "decoder.mid_block.attentions.0.to_out.0.weight") == 0) {
            assert_int_equal(info.ndim, 2);
            assert_true(info.shape[0] == 512 && info.shape[1] == 512 && info.init == GGDM_PARAM_INIT_UNIFORM);
            found++;
        }
        if (strcmp(info.name, "decoder.conv_norm_out.bias") == 0) {
            assert_true(info.shape[0] == 128 && info.init == GGDM_PARAM_INIT_ZEROS);
            found++;
        }
    }
    assert_int_equal(found, 3);
    assert_true(sum == t.n_params);
    assert_int_equal(ggdm_vae_tensor(&c, 0, &info), GGDM_OK);
    assert_string_equal(info.name, "decoder.conv_in.weight");
    assert_true(info.shape[0] == 512 && info.shape[1] == 4 && info.shape[2] == 3 && info.fan_in == 36);
    assert_int_equal(ggdm_vae_tensor(&c, 139, &info), GGDM_OK);
    assert_string_equal(info.name, "post_quant_conv.bias");
    assert_true(info.count == 4 && info.offset + 4 == t.n_params);
    assert_int_equal(ggdm_vae_tensor(&c, 140, &info), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_tensor(&c, -1, &info), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_tensor(&c, 0, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_out_size(&c, &oh, &ow), GGDM_OK);
    assert_true(oh == 512 && ow == 512);
    c.mid_attention = 0; /* without the attention: 10 tensors, 4 * (512 * 512 + 512) + 2 * 512 fewer */
    assert_int_equal(ggdm_vae_params(&c, &t), GGDM_OK);
    assert_int_equal(t.n_tensors, 130);
    assert_true(t.n_params == 49490199u - 4u * (512u * 512u + 512u) - 1024u);
    ggdm_vae_cfg_tiny(&c);
    assert_int_equal(ggdm_vae_params(&c, &t), GGDM_OK);
    assert_int_equal(t.n_tensors, 70);
    assert_true(t.n_params == 402071u);
    c.norm_num_groups = 7;
    assert_int_equal(ggdm_vae_params(&c, &t), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_num_params(&c, &n), GGDM_ERR_ARG);
    assert_true(n == 0);
    assert_int_equal(ggdm_vae_params(&c, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_num_params(&c, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_out_size(&c, &oh, &ow), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_out_size(&c, NULL, &ow), GGDM_ERR_ARG);
}

static void test_init(void **state)
{
    ggdm_vae_cfg c;
    ggdm_param_table t;
    ggdm_param_info info;
    float *a, *b;
    uint64_t e;
    int i;
    (void)state;
    ggdm_vae_cfg_tiny(&c);
    assert_int_equal(ggdm_vae_params(&c, &t), GGDM_OK);
    a = (float *)malloc(sizeof(float) * t.n_params);
    b = (float *)malloc(sizeof(float) * t.n_params);
    assert_int_equal(ggdm_vae_init(&c, 5, a, t.n_params), GGDM_OK);
    assert_int_equal(ggdm_vae_init(&c, 5, b, t.n_params), GGDM_OK);
    assert_memory_equal(a, b, sizeof(float) * t.n_params);
    for (i = 0; i < t.n_tensors; i++) {
        float bound, mx = 0;
        ggdm_vae_tensor(&c, i, &info);
        if (info.init != GGDM_PARAM_INIT_UNIFORM) {
            for (e = 0; e < info.count; e++)
                assert_true(a[info.offset + e] == (info.init == GGDM_PARAM_INIT_ONES ? 1.0f : 0.0f));
            continue;
        }
        bound = (float)(1.0 / sqrt((double)info.fan_in));
        for (e = 0; e < info.count; e++) {
            float v = fabsf(a[info.offset + e]);
            assert_true(v <= bound);
            mx = v > mx ? v : mx;
        }
        if (info.count >= 32)
            assert_true(mx > 0.5f * bound); /* it does fill the range */
    }
    assert_int_equal(ggdm_vae_init(&c, 6, b, t.n_params), GGDM_OK);
    assert_memory_not_equal(a, b, sizeof(float) * 64);
    assert_int_equal(ggdm_vae_init(&c, 5, b, t.n_params - 1), GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_vae_init(&c, 5, NULL, t.n_params), GGDM_ERR_ARG);
    c.latent_channels = 0;
    assert_int_equal(ggdm_vae_init(&c, 5, b, t.n_params), GGDM_ERR_ARG);
    free(a);
    free(b);
}

/* A small decoder for the runs: blocks (8, 16), groups 4, one layer, latent 4 x 6 (not square). */
static void small_cfg(ggdm_vae_cfg *c)
{
    ggdm_vae_cfg_tiny(c);
    c->block_out_channels[0] = 8;
    c->block_out_channels[1] = 16;
    c->norm_num_groups = 4;
    c->height = 4;
    c->width = 6;
}

static int exec_calls;
static void run_reverse(void *ctx, ggdm_task_fn task, void *arg, int ntasks)
{
    int i;
    (void)ctx;
    exec_calls++;
    for (i = ntasks - 1; i >= 0; i--)
        task(arg, i);
}

/* <g, decode(z)> in double, for finite differences. */
static double dotg(const ggdm_vae_cfg *c, const float *w, int N, const float *z, const float *g, float *x, size_t nx,
                   void *ws, size_t wsb)
{
    double s = 0;
    size_t i;
    assert_int_equal(ggdm_vae_decode(c, NULL, w, N, z, x, ws, wsb, NULL, NULL, NULL), GGDM_OK);
    for (i = 0; i < nx; i++)
        s += (double)g[i] * (double)x[i];
    return s;
}

static void test_decode_vjp(void **state)
{
    ggdm_vae_cfg c;
    uint64_t np;
    float *w, z[3 * 4 * 24], dz[3 * 4 * 24], dz1[3 * 4 * 24], *x, *x1, *g;
    size_t nz = 3 * 4 * 24, nx, wsf, wsg, wsx, i;
    void *ws;
    int oh, ow, k, threads[3] = {1, 2, 3}, kind;
    double flops;
    (void)state;
    small_cfg(&c);
    assert_int_equal(ggdm_vae_num_params(&c, &np), GGDM_OK);
    assert_int_equal(ggdm_vae_out_size(&c, &oh, &ow), GGDM_OK);
    assert_true(oh == 8 && ow == 12);
    nx = (size_t)3 * 3 * oh * ow;
    w = (float *)malloc(sizeof(float) * np);
    x = (float *)malloc(sizeof(float) * nx);
    x1 = (float *)malloc(sizeof(float) * nx);
    g = (float *)malloc(sizeof(float) * nx);
    assert_int_equal(ggdm_vae_init(&c, 3, w, np), GGDM_OK);
    {   /* the norms' weights and biases away from 1 and 0, so that they matter */
        ggdm_param_info info;
        int t;
        ggdm_param_table tab;
        ggdm_vae_params(&c, &tab);
        for (t = 0; t < tab.n_tensors; t++) {
            ggdm_vae_tensor(&c, t, &info);
            if (info.init != GGDM_PARAM_INIT_UNIFORM)
                for (i = 0; i < info.count; i++)
                    w[info.offset + i] += 0.1f * (float)((i * 7 + (size_t)t) % 5) - 0.2f;
        }
    }
    ggdm_rng_fill_normal(11, 1, 0, z, nz);
    ggdm_rng_fill_normal(11, 2, 0, g, nx);
    assert_int_equal(ggdm_vae_workspace_bytes(&c, 3, 0, NULL, &wsf), GGDM_OK);
    assert_int_equal(ggdm_vae_workspace_bytes(&c, 3, 1, NULL, &wsg), GGDM_OK);
    assert_true(wsg > wsf && wsf > 0);
    ws = malloc(4 * wsg);
    assert_int_equal(ggdm_vae_decode(&c, NULL, w, 3, z, x, ws, wsf, NULL, NULL, NULL), GGDM_OK);
    for (i = 0; i < nx; i++)
        assert_true(isfinite(x[i]));
    assert_int_equal(ggdm_vae_decode_vjp(&c, NULL, w, 3, z, g, x1, dz, ws, wsg, NULL), GGDM_OK);
    assert_memory_equal(x, x1, sizeof(float) * nx); /* the VJP's forward is the decode */
    /* samples are independent: sample 1 alone gives its bits */
    assert_int_equal(ggdm_vae_decode(&c, NULL, w, 1, z + nz / 3, x1, ws, wsf, NULL, NULL, NULL), GGDM_OK);
    assert_memory_equal(x + nx / 3, x1, sizeof(float) * nx / 3);
    /* dz against central differences of <g, decode(z)> */
    for (k = 0; k < 6; k++) {
        size_t j = (size_t)(k * 53) % nz;
        float zk = z[j], hh = 1e-2f;
        double fp, fm, fd;
        z[j] = zk + hh;
        fp = dotg(&c, w, 3, z, g, x1, nx, ws, wsf);
        z[j] = zk - hh;
        fm = dotg(&c, w, 3, z, g, x1, nx, ws, wsf);
        z[j] = zk;
        fd = (fp - fm) / (2.0 * hh);
        if (fabs(fd - dz[j]) > 2e-2 * fabs(fd) + 2e-3)
            fail_msg("dz[%d] = %g, finite differences %g", (int)j, dz[j], fd);
    }
    /* executors: the same bits for 1, 2, 3 threads, chunks or not */
    for (kind = 0; kind < 2; kind++)
        for (k = 0; k < 3; k++) {
            ggdm_exec ex = {0};
            ex.run = run_reverse;
            ex.nthreads = threads[k];
            assert_int_equal(ggdm_vae_workspace_bytes(&c, 3, kind, &ex, &wsx), GGDM_OK);
            assert_true(wsx >= (kind ? wsg : wsf) && wsx <= 4 * wsg);
            memset(x1, 0, sizeof(float) * nx);
            if (kind == 0) {
                assert_int_equal(ggdm_vae_decode(&c, NULL, w, 3, z, x1, ws, wsx, NULL, NULL, &ex), GGDM_OK);
            } else {
                assert_int_equal(ggdm_vae_decode_vjp(&c, NULL, w, 3, z, g, x1, dz1, ws, wsx, &ex), GGDM_OK);
                assert_memory_equal(dz, dz1, sizeof dz);
            }
            assert_memory_equal(x, x1, sizeof(float) * nx);
        }
    /* the elem backend: the same bits */
    assert_int_equal(ggdm_vae_decode_vjp(&c, ggdm_backend_elem(), w, 3, z, g, x1, dz1, ws, wsg, NULL), GGDM_OK);
    assert_memory_equal(x, x1, sizeof(float) * nx);
    assert_memory_equal(dz, dz1, sizeof dz);
    /* the attention's recompute kind: the same bits */
    c.attn_kind = GGDM_ATTN_RECOMPUTE;
    assert_int_equal(ggdm_vae_workspace_bytes(&c, 3, 1, NULL, &wsx), GGDM_OK);
    assert_true(wsx <= wsg);
    assert_int_equal(ggdm_vae_decode_vjp(&c, NULL, w, 3, z, g, x1, dz1, ws, wsx, NULL), GGDM_OK);
    assert_memory_equal(x, x1, sizeof(float) * nx);
    assert_memory_equal(dz, dz1, sizeof dz);
    c.attn_kind = GGDM_ATTN_KEEP;
    /* workspace refusals */
    assert_int_equal(ggdm_vae_decode(&c, NULL, w, 3, z, x1, ws, 64, NULL, NULL, NULL), GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_vae_decode_vjp(&c, NULL, w, 3, z, g, x1, dz1, ws, wsf / 2, NULL), GGDM_ERR_BUFFER_TOO_SMALL);
    /* argument errors */
    assert_int_equal(ggdm_vae_decode(&c, NULL, NULL, 3, z, x1, ws, wsf, NULL, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_decode(&c, NULL, w, 3, NULL, x1, ws, wsf, NULL, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_decode(&c, NULL, w, 3, z, NULL, ws, wsf, NULL, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_decode(&c, NULL, w, 3, z, x1, NULL, wsf, NULL, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_decode(&c, NULL, w, 0, z, x1, ws, wsf, NULL, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_decode_vjp(&c, NULL, w, 3, z, NULL, x1, dz1, ws, wsg, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_decode_vjp(&c, NULL, w, 3, z, g, x1, NULL, ws, wsg, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_decode_vjp(&c, NULL, w, -1, z, g, x1, dz1, ws, wsg, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_workspace_bytes(&c, 3, 2, NULL, &wsx), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_workspace_bytes(&c, 0, 0, NULL, &wsx), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_workspace_bytes(&c, 3, 0, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_flops(&c, 3, &flops), GGDM_OK);
    assert_true(flops > 0);
    assert_int_equal(ggdm_vae_flops(&c, 3, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_flops(&c, 0, &flops), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_net(&c, NULL), GGDM_ERR_ARG);
    c.height = 0;
    assert_int_equal(ggdm_vae_decode(&c, NULL, w, 3, z, x1, ws, wsf, NULL, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_vae_decode_vjp(&c, NULL, w, 3, z, g, x1, dz1, ws, wsg, NULL), GGDM_ERR_ARG);
    free(w);
    free(x);
    free(x1);
    free(g);
    free(ws);
}

/* The trace names every block, in forward order. */
static int n_traced;
static char traced[64][GGDM_GRAPH_NAME_LEN];
static void trace_cb(void *ctx, const char *name, const float *data, int ndim, const uint64_t *shape)
{
    (void)ctx;
    (void)data;
    (void)shape;
    assert_int_equal(ndim, 3);
    if (n_traced < 64)
        snprintf(traced[n_traced], GGDM_GRAPH_NAME_LEN, "%s", name);
    n_traced++;
}

static void test_trace(void **state)
{
    ggdm_vae_cfg c;
    uint64_t np;
    float *w, z[4 * 24], x[3 * 8 * 12];
    size_t wsb;
    void *ws;
    (void)state;
    small_cfg(&c);
    ggdm_vae_num_params(&c, &np);
    w = (float *)malloc(sizeof(float) * np);
    ggdm_vae_init(&c, 1, w, np);
    ggdm_rng_fill_normal(2, 1, 0, z, 96);
    assert_int_equal(ggdm_vae_workspace_bytes(&c, 1, 0, NULL, &wsb), GGDM_OK);
    ws = malloc(wsb);
    n_traced = 0;
    assert_int_equal(ggdm_vae_decode(&c, NULL, w, 1, z, x, ws, wsb, trace_cb, NULL, NULL), GGDM_OK);
    /* latents, scaled_latents, post_quant_conv, conv_in, mid (3), up 0 (2 + upsampler), up 1 (2),
     * conv_act, conv_out */
    assert_int_equal(n_traced, 14);
    assert_string_equal(traced[0], "latents");
    assert_string_equal(traced[3], "decoder.conv_in");
    assert_string_equal(traced[5], "decoder.mid_block.attentions.0");
    assert_string_equal(traced[9], "decoder.up_blocks.0.upsamplers.0");
    assert_string_equal(traced[13], "decoder.conv_out");
    free(w);
    free(ws);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_checks), cmocka_unit_test(test_table), cmocka_unit_test(test_init),
        cmocka_unit_test(test_decode_vjp), cmocka_unit_test(test_trace),
    };
    return cmocka_run_group_tests_name("vae", tests, NULL, NULL);
}
