/* Stable Diffusion's UNet (ggdm/unet2d.h): configuration refusals (every message), the
 * parameter table against diffusers' UNet2DConditionModel (SD v1.5: 686 tensors, 859,520,964
 * floats; names, shapes), initialisation, sizing and workspace queries (the caller's tmp),
 * the tiny configuration's forward and VJP: finite differences of dz on a random direction,
 * the same bits for 1, 2, 3 threads, the elem backend and attn_recompute 0 / 1; refusals. */
#include "ggdm_test.h"

#include <math.h>
#include <stdio.h>

#include "ggdm/backend.h"
#include "ggdm/graph.h"
#include "ggdm/rng.h"
#include "ggdm/unet2d.h"

static void expect_bad(const ggdm_unet2d_cfg *c, const char *word)
{
    char msg[GGDM_UNET2D_MSG_LEN];
    ggdm_param_table t;
    assert_int_equal(ggdm_unet2d_cfg_check(c, msg), GGDM_ERR_ARG);
    if (!strstr(msg, word))
        fail_msg("message '%s' does not mention '%s'", msg, word);
    assert_int_equal(ggdm_unet2d_table(c, &t), GGDM_ERR_ARG);
}

static void test_cfg_checks(void **state)
{
    ggdm_unet2d_cfg c, b;
    char msg[GGDM_UNET2D_MSG_LEN];
    (void)state;
    ggdm_unet2d_cfg_sd15(&c);
    strcpy(msg, "x");
    assert_int_equal(ggdm_unet2d_cfg_check(&c, msg), GGDM_OK);
    assert_string_equal(msg, "");
    ggdm_unet2d_cfg_tiny(&c);
    assert_int_equal(ggdm_unet2d_cfg_check(&c, NULL), GGDM_OK);
    assert_int_equal(ggdm_unet2d_cfg_check(NULL, msg), GGDM_ERR_ARG);
    assert_string_equal(msg, "no configuration");
    b = c; b.n_blocks = 0; expect_bad(&b, "1 to 6 blocks");
    b = c; b.n_blocks = GGDM_UNET2D_MAX_BLOCKS + 1; expect_bad(&b, "1 to 6 blocks");
    b = c; b.in_channels = 0; expect_bad(&b, "in_channels");
    b = c; b.in_channels = 65; expect_bad(&b, "in_channels");
    b = c; b.out_channels = 0; expect_bad(&b, "out_channels");
    b = c; b.out_channels = 65; expect_bad(&b, "out_channels");
    b = c; b.layers_per_block = 0; expect_bad(&b, "layers_per_block");
    b = c; b.layers_per_block = 9; expect_bad(&b, "layers_per_block");
    b = c; b.norm_num_groups = 0; expect_bad(&b, "norm_num_groups");
    b = c; b.norm_eps = 0.0f; expect_bad(&b, "norm_eps");
    b = c; b.norm_eps = (float)NAN; expect_bad(&b, "norm_eps");
    b = c; b.norm_eps = 1.5f; expect_bad(&b, "norm_eps");
    b = c; b.cross_attention_dim = 0; expect_bad(&b, "cross_attention_dim");
    b = c; b.cross_attention_dim = (1 << 14) + 1; expect_bad(&b, "cross_attention_dim");
    b = c; b.block_out_channels[1] = 0; expect_bad(&b, "multiple of norm_num_groups");
    b = c; b.block_out_channels[1] = (1 << 14) + 8; expect_bad(&b, "multiple of norm_num_groups");
    b = c; b.block_out_channels[1] = 60; expect_bad(&b, "multiple of norm_num_groups"); /* 60 % 8 */
    b = c; b.cross_down[1] = 2; expect_bad(&b, "block types");
    b = c; b.cross_up[0] = -1; expect_bad(&b, "block types");
    b = c; b.heads[1] = 0; expect_bad(&b, "attention heads");
    b = c; b.heads[0] = 3; expect_bad(&b, "attention heads"); /* 32 % 3 */
    b = c; b.norm_num_groups = 2; b.block_out_channels[0] = 2; b.heads[0] = 1;
    expect_bad(&b, "time embedding");
    b = c; b.norm_num_groups = 1; b.block_out_channels[0] = 33; b.heads[0] = 1;
    expect_bad(&b, "time embedding"); /* odd */
    b = c; b.use_linear_projection = 2; expect_bad(&b, "use_linear_projection");
    b = c; b.attn_recompute = -1; expect_bad(&b, "attn_recompute");
}

static int find(const ggdm_unet2d_cfg *c, int n, const char *name, ggdm_param_info *info)
{
    int i;
    for (i = 0; i < n; i++) {
        assert_int_equal(ggdm_unet2d_tensor(c, i, info), GGDM_OK);
        if (strcmp(info->name, name) == 0)
            return i;
    }
    fail_msg("no tensor %s", name);
    return -1;
}

/* diffusers 0.25's UNet2DConditionModel with runwayml/stable-diffusion-v1-5's config */
static void test_table(void **state)
{
    ggdm_unet2d_cfg c;
    ggdm_param_table t;
    ggdm_param_info info, prev;
    uint64_t sum = 0;
    int i;
    (void)state;
    ggdm_unet2d_cfg_sd15(&c);
    assert_int_equal(ggdm_unet2d_table(&c, &t), GGDM_OK);
    assert_int_equal(t.n_tensors, 686);
    assert_true(t.n_params == 859520964u);
    for (i = 0; i < t.n_tensors; i++) {
        assert_int_equal(t.tensor(t.cfg, i, &info), GGDM_OK);
        assert_true(info.offset == sum);
        sum += info.count;
    }
    assert_true(sum == t.n_params);
    /* the time path first (time_embedding.linear_1 / _2), then conv_in: the walk's forward order */
    assert_int_equal(ggdm_unet2d_tensor(&c, 0, &info), GGDM_OK);
    assert_string_equal(info.name, "time_embedding.linear_1.weight");
    assert_true(info.ndim == 2 && info.shape[0] == 1280 && info.shape[1] == 320 && info.offset == 0);
    assert_int_equal(ggdm_unet2d_tensor(&c, 4, &info), GGDM_OK);
    assert_string_equal(info.name, "conv_in.weight");
    assert_true(info.ndim == 4 && info.shape[0] == 320 && info.shape[1] == 4 && info.shape[2] == 3 &&
                info.shape[3] == 3 && info.fan_in == 36);
    assert_int_equal(ggdm_unet2d_tensor(&c, 685, &info), GGDM_OK);
    assert_string_equal(info.name, "conv_out.bias");
    assert_true(info.count == 4 && info.offset + 4 == t.n_params);
    find(&c, 40, "time_embedding.linear_2.bias", &info);
    assert_true(info.ndim == 1 && info.shape[0] == 1280);
    i = find(&c, 100, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k.weight", &info);
    assert_true(info.shape[0] == 320 && info.shape[1] == 320);
    assert_int_equal(ggdm_unet2d_tensor(&c, i - 1, &prev), GGDM_OK); /* q, k, v packed */
    assert_string_equal(prev.name, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight");
    assert_true(prev.offset + 320u * 320u == info.offset);
    find(&c, 100, "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight", &info);
    assert_true(info.shape[0] == 320 && info.shape[1] == 768); /* the text's width */
    find(&c, 200, "down_blocks.1.attentions.0.transformer_blocks.0.ff.net.0.proj.weight", &info);
    assert_true(info.shape[0] == 5120 && info.shape[1] == 640);
    find(&c, 200, "down_blocks.1.resnets.0.conv_shortcut.weight", &info);
    assert_true(info.ndim == 4 && info.shape[0] == 640 && info.shape[1] == 320 && info.shape[2] == 1);
    find(&c, 400, "mid_block.attentions.0.proj_in.weight", &info);
    assert_true(info.ndim == 4 && info.shape[0] == 1280 && info.shape[1] == 1280 && info.shape[2] == 1);
    find(&c, 686, "up_blocks.3.resnets.2.conv_shortcut.weight", &info);
    assert_true(info.shape[0] == 320 && info.shape[1] == 640);
    find(&c, 686, "up_blocks.2.upsamplers.0.conv.weight", &info);
    assert_true(info.shape[0] == 640 && info.shape[1] == 640 && info.shape[2] == 3);
    find(&c, 686, "conv_norm_out.weight", &info);
    assert_true(info.init == GGDM_PARAM_INIT_ONES && info.shape[0] == 320);
    assert_int_equal(ggdm_unet2d_tensor(&c, 686, &info), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet2d_tensor(&c, -1, &info), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet2d_tensor(&c, 0, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet2d_table(&c, NULL), GGDM_ERR_ARG);
    /* use_linear_projection: proj_in / proj_out are Linear [C, C]; the same count */
    c.use_linear_projection = 1;
    assert_int_equal(ggdm_unet2d_table(&c, &t), GGDM_OK);
    assert_int_equal(t.n_tensors, 686);
    assert_true(t.n_params == 859520964u);
    find(&c, 400, "mid_block.attentions.0.proj_in.weight", &info);
    assert_true(info.ndim == 2 && info.shape[0] == 1280 && info.shape[1] == 1280);
}

static void test_init(void **state)
{
    ggdm_unet2d_cfg c;
    ggdm_param_table t;
    ggdm_param_info info;
    float *a, *b;
    uint64_t e;
    int i;
    (void)state;
    ggdm_unet2d_cfg_tiny(&c);
    assert_int_equal(ggdm_unet2d_table(&c, &t), GGDM_OK);
    a = (float *)malloc(sizeof(float) * t.n_params);
    b = (float *)malloc(sizeof(float) * t.n_params);
    assert_int_equal(ggdm_unet2d_init(&c, 5, a, t.n_params), GGDM_OK);
    assert_int_equal(ggdm_unet2d_init(&c, 5, b, t.n_params), GGDM_OK);
    assert_memory_equal(a, b, sizeof(float) * t.n_params);
    for (i = 0; i < t.n_tensors; i++) {
        float bound;
        ggdm_unet2d_tensor(&c, i, &info);
        if (info.init != GGDM_PARAM_INIT_UNIFORM) {
            for (e = 0; e < info.count; e++)
                assert_true(a[info.offset + e] == (info.init == GGDM_PARAM_INIT_ONES ? 1.0f : 0.0f));
            continue;
        }
        bound = (float)(1.0 / sqrt((double)info.fan_in));
        for (e = 0; e < info.count; e++)
            assert_true(fabsf(a[info.offset + e]) <= bound);
    }
    assert_int_equal(ggdm_unet2d_init(&c, 5, b, t.n_params - 1), GGDM_ERR_BUFFER_TOO_SMALL);
    c.layers_per_block = 0;
    assert_int_equal(ggdm_unet2d_init(&c, 5, b, t.n_params), GGDM_ERR_ARG);
    free(a);
    free(b);
}

static void test_sizing(void **state)
{
    ggdm_unet2d_cfg c;
    size_t sb, wa, wb, wg;
    void *tmp;
    double f1, f2;
    (void)state;
    ggdm_unet2d_cfg_tiny(&c);
    assert_int_equal(ggdm_unet2d_sizing_bytes(&c, 2, 8, 8, 5, &sb), GGDM_OK);
    assert_true(sb > 0);
    tmp = malloc(sb);
    assert_int_equal(ggdm_unet2d_workspace_bytes(&c, 2, 8, 8, 5, 0, NULL, NULL, 0, &wa), GGDM_OK); /* tmp NULL */
    assert_int_equal(ggdm_unet2d_workspace_bytes(&c, 2, 8, 8, 5, 0, NULL, tmp, sb, &wb), GGDM_OK);
    assert_true(wa == wb && wa > 0);
    assert_int_equal(ggdm_unet2d_workspace_bytes(&c, 2, 8, 8, 5, 1, NULL, tmp, sb, &wg), GGDM_OK);
    assert_true(wg > wa);
    assert_int_equal(ggdm_unet2d_workspace_bytes(&c, 2, 8, 8, 5, 0, NULL, tmp, sb / 2, &wb),
                     GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_unet2d_flops(&c, 1, 8, 8, 5, tmp, sb, &f1), GGDM_OK);
    assert_int_equal(ggdm_unet2d_flops(&c, 2, 8, 8, 5, NULL, 0, &f2), GGDM_OK);
    assert_true(f1 > 0 && f2 == 2 * f1);
    assert_int_equal(ggdm_unet2d_flops(&c, 2, 8, 8, 5, tmp, 64, &f2), GGDM_ERR_BUFFER_TOO_SMALL);
    /* refusals: N, H or W not a multiple of 2^(blocks - 1), Lt, NULL */
    assert_int_equal(ggdm_unet2d_sizing_bytes(&c, 0, 8, 8, 5, &sb), GGDM_ERR_ARG);
    assert_true(sb == 0);
    assert_int_equal(ggdm_unet2d_sizing_bytes(&c, 2, 7, 8, 5, &sb), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet2d_sizing_bytes(&c, 2, 8, 9, 5, &sb), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet2d_sizing_bytes(&c, 2, 1, 8, 5, &sb), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet2d_sizing_bytes(&c, 2, 8, 8, 0, &sb), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet2d_sizing_bytes(&c, 2, 1 << 15, 8, 5, &sb), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet2d_sizing_bytes(&c, 2, 8, 8, (1 << 14) + 1, &sb), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet2d_sizing_bytes(&c, (1 << 16) + 1, 8, 8, 5, &sb), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet2d_sizing_bytes(&c, 2, 8, 8, 5, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet2d_workspace_bytes(&c, 2, 8, 8, 5, 0, NULL, NULL, 0, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet2d_workspace_bytes(&c, 2, 6, 7, 5, 0, NULL, NULL, 0, &wb), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet2d_flops(&c, 2, 8, 8, 5, NULL, 0, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet2d_flops(&c, 2, 8, 5, 5, NULL, 0, &f1), GGDM_ERR_ARG);
    c.n_blocks = 3; /* channels[2] = 0 */
    assert_int_equal(ggdm_unet2d_sizing_bytes(&c, 2, 8, 8, 5, &sb), GGDM_ERR_ARG);
    free(tmp);
    /* SD v1.5 at a 64 x 64 latent: its graph needs the caller's tmp */
    ggdm_unet2d_cfg_sd15(&c);
    assert_int_equal(ggdm_unet2d_sizing_bytes(&c, 1, 64, 64, 77, &sb), GGDM_OK);
    assert_true(sb > 0);
    /* without tmp it does not fit the library's own buffer: unsupported (tmp too small: buffer too small) */
    assert_int_equal(ggdm_unet2d_workspace_bytes(&c, 1, 64, 64, 77, 0, NULL, NULL, 0, &wa), GGDM_ERR_UNSUPPORTED);
    tmp = malloc(sb);
    assert_int_equal(ggdm_unet2d_workspace_bytes(&c, 1, 64, 64, 77, 0, NULL, tmp, sb - 4096, &wa),
                     GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_unet2d_workspace_bytes(&c, 1, 64, 64, 77, 0, NULL, (char *)tmp + 4, sb - 16, &wa),
                     GGDM_ERR_ARG); /* tmp not 16-byte aligned */
    assert_int_equal(ggdm_unet2d_workspace_bytes(&c, 1, 64, 64, 77, 0, NULL, tmp, sb, &wa), GGDM_OK);
    assert_true(wa > (size_t)320 * 64 * 64 * 4 * 4);
    assert_int_equal(ggdm_unet2d_flops(&c, 1, 64, 64, 77, tmp, sb, &f1), GGDM_OK);
    assert_true(f1 > 5e11 && f1 < 2e12); /* about 0.8 TFLOP per step and sample */
    free(tmp);
}

static void run_reverse(void *ctx, ggdm_task_fn task, void *arg, int ntasks)
{
    int i;
    (void)ctx;
    for (i = ntasks - 1; i >= 0; i--)
        task(arg, i);
}

#define UN 2
#define UH 4
#define UW 6
#define ULT 3
#define NZ (UN * 4 * UH * UW)
#define NT (UN * 32 * ULT)

typedef struct fixture {
    ggdm_unet2d_cfg c;
    float *w, z[NZ], text[NT], g[NZ], v[NZ], eps[NZ], dz[NZ];
    int64_t t[UN];
    void *ws;
    size_t wsf, wsg;
} fixture;

static double dotf(fixture *f, const float *z)
{
    float e[NZ];
    double s = 0;
    int i;
    assert_int_equal(ggdm_unet2d_forward(&f->c, f->w, UN, UH, UW, ULT, z, f->t, f->text, e, f->ws, f->wsf, NULL, NULL,
                                         NULL),
                     GGDM_OK);
    for (i = 0; i < NZ; i++)
        s += (double)f->g[i] * (double)e[i];
    return s;
}

static void setup_fixture(fixture *f)
{
    ggdm_param_table t;
    ggdm_param_info info;
    int i;
    uint64_t e;
    memset(f, 0, sizeof *f);
    ggdm_unet2d_cfg_tiny(&f->c);
    assert_int_equal(ggdm_unet2d_table(&f->c, &t), GGDM_OK);
    f->w = (float *)malloc(sizeof(float) * t.n_params);
    assert_int_equal(ggdm_unet2d_init(&f->c, 3, f->w, t.n_params), GGDM_OK);
    for (i = 0; i < t.n_tensors; i++) { /* norms and zero biases away from 1 and 0 */
        ggdm_unet2d_tensor(&f->c, i, &info);
        if (info.init != GGDM_PARAM_INIT_UNIFORM)
            for (e = 0; e < info.count; e++)
                f->w[info.offset + e] += 0.1f * (float)((e * 7 + (uint64_t)i) % 5) - 0.2f;
    }
    ggdm_rng_fill_normal(21, 1, 0, f->z, NZ);
    ggdm_rng_fill_normal(21, 2, 0, f->text, NT);
    ggdm_rng_fill_normal(21, 3, 0, f->g, NZ);
    ggdm_rng_fill_normal(21, 4, 0, f->v, NZ);
    f->t[0] = 999;
    f->t[1] = 0;
    assert_int_equal(ggdm_unet2d_workspace_bytes(&f->c, UN, UH, UW, ULT, 0, NULL, NULL, 0, &f->wsf), GGDM_OK);
    assert_int_equal(ggdm_unet2d_workspace_bytes(&f->c, UN, UH, UW, ULT, 1, NULL, NULL, 0, &f->wsg), GGDM_OK);
    f->ws = malloc(4 * f->wsg);
}

static void test_forward_vjp(void **state)
{
    static fixture F;
    fixture *f = &F;
    float e1[NZ], d1[NZ], zp[NZ], zm[NZ];
    double fd, an = 0, hh = 1e-2, nrm = 0;
    int i, k, threads[3] = {1, 2, 3};
    size_t wsx;
    (void)state;
    setup_fixture(f);
    assert_int_equal(ggdm_unet2d_forward(&f->c, f->w, UN, UH, UW, ULT, f->z, f->t, f->text, f->eps, f->ws, f->wsf,
                                         NULL, NULL, NULL),
                     GGDM_OK);
    for (i = 0; i < NZ; i++) {
        assert_true(isfinite(f->eps[i]));
        nrm += (double)f->eps[i] * f->eps[i];
    }
    assert_true(nrm > 1e-3 * NZ);
    assert_int_equal(ggdm_unet2d_vjp(&f->c, f->w, UN, UH, UW, ULT, f->z, f->t, f->text, f->g, e1, f->dz, f->ws,
                                     f->wsg, NULL),
                     GGDM_OK);
    assert_memory_equal(f->eps, e1, sizeof e1); /* the VJP's forward is the forward */
    assert_int_equal(ggdm_unet2d_vjp(&f->c, f->w, UN, UH, UW, ULT, f->z, f->t, f->text, f->g, NULL, d1, f->ws,
                                     f->wsg, NULL),
                     GGDM_OK); /* eps NULL */
    assert_memory_equal(f->dz, d1, sizeof d1);
    /* samples are independent: sample 1 alone (its step 0) */
    assert_int_equal(ggdm_unet2d_forward(&f->c, f->w, 1, UH, UW, ULT, f->z + NZ / 2, f->t + 1, f->text + NT / 2, e1,
                                         f->ws, f->wsf, NULL, NULL, NULL),
                     GGDM_OK);
    assert_memory_equal(f->eps + NZ / 2, e1, sizeof(float) * NZ / 2);
    /* the step matters */
    {
        int64_t t2[UN] = {998, 0};
        assert_int_equal(ggdm_unet2d_forward(&f->c, f->w, UN, UH, UW, ULT, f->z, t2, f->text, e1, f->ws, f->wsf, NULL,
                                             NULL, NULL),
                         GGDM_OK);
        assert_memory_not_equal(f->eps, e1, sizeof(float) * NZ / 2);
        assert_memory_equal(f->eps + NZ / 2, e1 + NZ / 2, sizeof(float) * NZ / 2);
    }
    /* dz . v against central differences of <g, eps(z + h v)> in double */
    for (i = 0; i < NZ; i++) {
        zp[i] = (float)(f->z[i] + hh * f->v[i]);
        zm[i] = (float)(f->z[i] - hh * f->v[i]);
        an += (double)f->dz[i] * f->v[i];
    }
    fd = (dotf(f, zp) - dotf(f, zm)) / (2.0 * hh);
    print_message("unet2d tiny: dz . v = %.6g, finite differences %.6g (relative %.2e)\n", an, fd,
                  fabs(an - fd) / fabs(fd));
    assert_true(fabs(fd) > 1e-2);
    assert_true(fabs(an - fd) <= 3e-3 * fabs(fd));
    /* executors: the same bits for 1, 2, 3 threads */
    for (k = 0; k < 3; k++) {
        ggdm_exec ex = {0};
        ex.run = run_reverse;
        ex.nthreads = threads[k];
        assert_int_equal(ggdm_unet2d_workspace_bytes(&f->c, UN, UH, UW, ULT, 1, &ex, NULL, 0, &wsx), GGDM_OK);
        assert_true(wsx <= 4 * f->wsg);
        memset(d1, 0, sizeof d1);
        assert_int_equal(ggdm_unet2d_vjp(&f->c, f->w, UN, UH, UW, ULT, f->z, f->t, f->text, f->g, e1, d1, f->ws, wsx,
                                         &ex),
                         GGDM_OK);
        assert_memory_equal(f->eps, e1, sizeof e1);
        assert_memory_equal(f->dz, d1, sizeof d1);
    }
    /* the elem backend */
    {
        ggdm_exec ex = {0};
        ex.unet = ggdm_backend_elem();
        assert_int_equal(ggdm_unet2d_workspace_bytes(&f->c, UN, UH, UW, ULT, 1, &ex, NULL, 0, &wsx), GGDM_OK);
        assert_true(wsx <= 4 * f->wsg);
        assert_int_equal(ggdm_unet2d_vjp(&f->c, f->w, UN, UH, UW, ULT, f->z, f->t, f->text, f->g, e1, d1, f->ws, wsx,
                                         &ex),
                         GGDM_OK);
        assert_memory_equal(f->eps, e1, sizeof e1);
        assert_memory_equal(f->dz, d1, sizeof d1);
    }
    /* attn_recompute: the same bits, in no more workspace */
    f->c.attn_recompute = 1;
    assert_int_equal(ggdm_unet2d_workspace_bytes(&f->c, UN, UH, UW, ULT, 1, NULL, NULL, 0, &wsx), GGDM_OK);
    assert_true(wsx <= f->wsg);
    assert_int_equal(ggdm_unet2d_vjp(&f->c, f->w, UN, UH, UW, ULT, f->z, f->t, f->text, f->g, e1, d1, f->ws, wsx,
                                     NULL),
                     GGDM_OK);
    assert_memory_equal(f->eps, e1, sizeof e1);
    assert_memory_equal(f->dz, d1, sizeof d1);
    f->c.attn_recompute = 0;
    /* workspace refusals */
    assert_int_equal(ggdm_unet2d_forward(&f->c, f->w, UN, UH, UW, ULT, f->z, f->t, f->text, e1, f->ws, 64, NULL, NULL,
                                         NULL),
                     GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_unet2d_vjp(&f->c, f->w, UN, UH, UW, ULT, f->z, f->t, f->text, f->g, e1, d1, f->ws,
                                     f->wsf / 2, NULL),
                     GGDM_ERR_BUFFER_TOO_SMALL);
    /* argument refusals: NULL pointers, N, H, steps out of range */
#define FWD(N_, H_, z_, t_, x_, e_, ws_) \
    ggdm_unet2d_forward(&f->c, f->w, N_, H_, UW, ULT, z_, t_, x_, e_, ws_, f->wsf, NULL, NULL, NULL)
    assert_int_equal(ggdm_unet2d_forward(&f->c, NULL, UN, UH, UW, ULT, f->z, f->t, f->text, e1, f->ws, f->wsf, NULL,
                                         NULL, NULL),
                     GGDM_ERR_ARG);
    assert_int_equal(FWD(UN, UH, NULL, f->t, f->text, e1, f->ws), GGDM_ERR_ARG);
    assert_int_equal(FWD(UN, UH, f->z, NULL, f->text, e1, f->ws), GGDM_ERR_ARG);
    assert_int_equal(FWD(UN, UH, f->z, f->t, NULL, e1, f->ws), GGDM_ERR_ARG);
    assert_int_equal(FWD(UN, UH, f->z, f->t, f->text, NULL, f->ws), GGDM_ERR_ARG);
    assert_int_equal(FWD(UN, UH, f->z, f->t, f->text, e1, NULL), GGDM_ERR_ARG);
    assert_int_equal(FWD(0, UH, f->z, f->t, f->text, e1, f->ws), GGDM_ERR_ARG);
    assert_int_equal(FWD(-1, UH, f->z, f->t, f->text, e1, f->ws), GGDM_ERR_ARG);
    assert_int_equal(FWD(UN, 3, f->z, f->t, f->text, e1, f->ws), GGDM_ERR_ARG); /* H not a multiple of 2 */
    f->t[1] = -1;
    assert_int_equal(FWD(UN, UH, f->z, f->t, f->text, e1, f->ws), GGDM_ERR_ARG);
    f->t[1] = (1 << 24) + 1;
    assert_int_equal(FWD(UN, UH, f->z, f->t, f->text, e1, f->ws), GGDM_ERR_ARG);
    f->t[1] = 1 << 24; /* the largest step */
    assert_int_equal(FWD(UN, UH, f->z, f->t, f->text, e1, f->ws), GGDM_OK);
    f->t[1] = 0;
    assert_int_equal(ggdm_unet2d_vjp(&f->c, f->w, UN, UH, UW, ULT, f->z, f->t, f->text, NULL, e1, d1, f->ws, f->wsg,
                                     NULL),
                     GGDM_ERR_ARG);
    assert_int_equal(ggdm_unet2d_vjp(&f->c, f->w, UN, UH, UW, ULT, f->z, f->t, f->text, f->g, e1, NULL, f->ws, f->wsg,
                                     NULL),
                     GGDM_ERR_ARG);
    f->c.heads[0] = 3;
    assert_int_equal(FWD(UN, UH, f->z, f->t, f->text, e1, f->ws), GGDM_ERR_ARG);
#undef FWD
    free(f->w);
    free(f->ws);
}

/* use_linear_projection = 1 (SD 2.x's proj_in / proj_out as Linear), three blocks, two layers,
 * DownBlock2D / UpBlock2D mixed in, cross dim 24: it runs, its VJP matches finite differences */
static int n_traced;
static char first_trace[GGDM_GRAPH_NAME_LEN], last_trace[GGDM_GRAPH_NAME_LEN];
static void trace_cb(void *ctx, const char *name, const float *data, int ndim, const uint64_t *shape)
{
    (void)ctx;
    (void)data;
    (void)ndim;
    (void)shape;
    if (n_traced == 0)
        snprintf(first_trace, sizeof first_trace, "%s", name);
    snprintf(last_trace, sizeof last_trace, "%s", name);
    n_traced++;
}

static void test_variants(void **state)
{
    ggdm_unet2d_cfg c;
    ggdm_param_table t;
    float *w, z[1 * 3 * 8 * 4], text[24 * 2], g[2 * 8 * 4], eps[2 * 8 * 4], e2[2 * 8 * 4], dz[3 * 8 * 4],
        zp[3 * 8 * 4], zm[3 * 8 * 4];
    int64_t st = 500;
    size_t wsb, i;
    void *ws;
    double an = 0, fp = 0, fm = 0, hh = 1e-2;
    (void)state;
    ggdm_unet2d_cfg_tiny(&c);
    c.in_channels = 3;
    c.out_channels = 2;
    c.n_blocks = 3;
    c.block_out_channels[0] = 16, c.block_out_channels[1] = 16, c.block_out_channels[2] = 24;
    c.cross_down[0] = 0, c.cross_down[1] = 1, c.cross_down[2] = 0;
    c.cross_up[0] = 0, c.cross_up[1] = 1, c.cross_up[2] = 0;
    c.heads[0] = 1, c.heads[1] = 4, c.heads[2] = 3;
    c.layers_per_block = 2;
    c.cross_attention_dim = 24;
    c.norm_num_groups = 4;
    c.use_linear_projection = 1;
    assert_int_equal(ggdm_unet2d_table(&c, &t), GGDM_OK);
    w = (float *)malloc(sizeof(float) * t.n_params);
    assert_int_equal(ggdm_unet2d_init(&c, 8, w, t.n_params), GGDM_OK);
    ggdm_rng_fill_normal(5, 1, 0, z, sizeof z / sizeof z[0]);
    ggdm_rng_fill_normal(5, 2, 0, text, sizeof text / sizeof text[0]);
    ggdm_rng_fill_normal(5, 3, 0, g, sizeof g / sizeof g[0]);
    assert_int_equal(ggdm_unet2d_workspace_bytes(&c, 1, 8, 4, 2, 1, NULL, NULL, 0, &wsb), GGDM_OK);
    ws = malloc(wsb);
    n_traced = 0;
    assert_int_equal(ggdm_unet2d_forward(&c, w, 1, 8, 4, 2, z, &st, text, eps, ws, wsb, trace_cb, NULL, NULL),
                     GGDM_OK);
    assert_true(n_traced > 10);
    assert_string_equal(last_trace, "conv_out");
    assert_int_equal(ggdm_unet2d_vjp(&c, w, 1, 8, 4, 2, z, &st, text, g, e2, dz, ws, wsb, NULL), GGDM_OK);
    assert_memory_equal(eps, e2, sizeof eps);
    for (i = 0; i < sizeof z / sizeof z[0]; i++) { /* the direction: dz itself */
        zp[i] = (float)(z[i] + hh * dz[i]);
        zm[i] = (float)(z[i] - hh * dz[i]);
        an += (double)dz[i] * dz[i];
    }
    assert_int_equal(ggdm_unet2d_forward(&c, w, 1, 8, 4, 2, zp, &st, text, e2, ws, wsb, NULL, NULL, NULL), GGDM_OK);
    for (i = 0; i < sizeof g / sizeof g[0]; i++)
        fp += (double)g[i] * e2[i];
    assert_int_equal(ggdm_unet2d_forward(&c, w, 1, 8, 4, 2, zm, &st, text, e2, ws, wsb, NULL, NULL, NULL), GGDM_OK);
    for (i = 0; i < sizeof g / sizeof g[0]; i++)
        fm += (double)g[i] * e2[i];
    print_message("unet2d variant: |dz|^2 = %.6g, finite differences %.6g\n", an, (fp - fm) / (2 * hh));
    assert_true(an > 0 && fabs(an - (fp - fm) / (2 * hh)) <= 3e-3 * an);
    /* 8 x 4 is a multiple of 4 = 2^(3 - 1); 8 x 6 is not */
    assert_int_equal(ggdm_unet2d_forward(&c, w, 1, 8, 6, 2, z, &st, text, eps, ws, wsb, NULL, NULL, NULL),
                     GGDM_ERR_ARG);
    free(w);
    free(ws);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_checks), cmocka_unit_test(test_table),      cmocka_unit_test(test_init),
        cmocka_unit_test(test_sizing),     cmocka_unit_test(test_forward_vjp), cmocka_unit_test(test_variants),
    };
    return cmocka_run_group_tests_name("unet2d", tests, NULL, NULL);
}
