/* The CLIP text encoder (ggdm/clip.h): configuration refusals (every message), the parameter
 * table against transformers' CLIPTextModel (SD v1.5: 196 tensors, 123,060,480 floats; names,
 * shapes, offsets), initialisation, the forward of the tiny configuration (the final
 * LayerNorm's statistics, causality, batch independence, position dependence; the same bits
 * for 1, 2, 3 threads and the elem backend), workspace, flops and the refusals. */
#include "ggdm_test.h"

#include <math.h>
#include <stdio.h>

#include "ggdm/backend.h"
#include "ggdm/clip.h"
#include "ggdm/graph.h"

static void expect_bad(const ggdm_clip_cfg *c, const char *word)
{
    char msg[GGDM_CLIP_MSG_LEN];
    ggdm_param_table t;
    assert_int_equal(ggdm_clip_cfg_check(c, msg), GGDM_ERR_ARG);
    if (!strstr(msg, word))
        fail_msg("message '%s' does not mention '%s'", msg, word);
    assert_int_equal(ggdm_clip_table(c, &t), GGDM_ERR_ARG); /* the table refuses it too */
}

static void test_cfg_checks(void **state)
{
    ggdm_clip_cfg c, b;
    char msg[GGDM_CLIP_MSG_LEN];
    (void)state;
    ggdm_clip_cfg_sd15(&c);
    strcpy(msg, "x");
    assert_int_equal(ggdm_clip_cfg_check(&c, msg), GGDM_OK);
    assert_string_equal(msg, "");
    ggdm_clip_cfg_tiny(&c);
    assert_int_equal(ggdm_clip_cfg_check(&c, NULL), GGDM_OK);
    assert_int_equal(ggdm_clip_cfg_check(NULL, msg), GGDM_ERR_ARG);
    assert_string_equal(msg, "no configuration");
    assert_int_equal(ggdm_clip_cfg_check(NULL, NULL), GGDM_ERR_ARG);
    b = c; b.vocab_size = 0; expect_bad(&b, "vocab_size");
    b = c; b.vocab_size = (1 << 24) + 1; expect_bad(&b, "vocab_size");
    b = c; b.hidden_size = 0; expect_bad(&b, "hidden_size");
    b = c; b.hidden_size = (1 << 16) + 4; expect_bad(&b, "hidden_size");
    b = c; b.intermediate_size = 0; expect_bad(&b, "intermediate_size");
    b = c; b.intermediate_size = (1 << 18) + 1; expect_bad(&b, "intermediate_size");
    b = c; b.num_hidden_layers = 0; expect_bad(&b, "num_hidden_layers");
    b = c; b.num_hidden_layers = 129; expect_bad(&b, "num_hidden_layers");
    b = c; b.num_attention_heads = 0; expect_bad(&b, "num_attention_heads");
    b = c; b.num_attention_heads = 5; expect_bad(&b, "num_attention_heads"); /* 32 % 5 */
    b = c; b.max_position_embeddings = 0; expect_bad(&b, "max_position_embeddings");
    b = c; b.max_position_embeddings = (1 << 16) + 1; expect_bad(&b, "max_position_embeddings");
    b = c; b.layer_norm_eps = 0.0f; expect_bad(&b, "layer_norm_eps");
    b = c; b.layer_norm_eps = (float)NAN; expect_bad(&b, "layer_norm_eps");
    b = c; b.layer_norm_eps = 2.0f; expect_bad(&b, "layer_norm_eps");
}

/* transformers' CLIPTextModel (openai/clip-vit-large-patch14's text tower, SD v1.5):
 * 196 tensors (2 embeddings + 12 x 16 + the final LayerNorm's 2), 123,060,480 floats. */
static void test_table(void **state)
{
    ggdm_clip_cfg c;
    ggdm_param_table t;
    ggdm_param_info info;
    uint64_t sum = 0;
    int i, found = 0;
    (void)state;
    ggdm_clip_cfg_sd15(&c);
    assert_int_equal(ggdm_clip_table(&c, &t), GGDM_OK);
    assert_int_equal(t.n_tensors, 196);
    assert_true(t.n_params == 123060480u);
    for (i = 0; i < t.n_tensors; i++) {
        assert_int_equal(t.tensor(t.cfg, i, &info), GGDM_OK);
        assert_true(info.offset == sum);
        sum += info.count;
        if (strcmp(info.name, "text_model.encoder.layers.11.mlp.fc1.weight") == 0) {
            assert_int_equal(info.ndim, 2);
            assert_true(info.shape[0] == 3072 && info.shape[1] == 768 && info.fan_in == 768);
            assert_int_equal(info.init, GGDM_PARAM_INIT_UNIFORM);
            found++;
        }
        if (strcmp(info.name, "text_model.encoder.layers.0.self_attn.k_proj.bias") == 0) {
            ggdm_param_info q;
            assert_int_equal(info.ndim, 1);
            assert_true(info.shape[0] == 768);
            assert_int_equal(ggdm_clip_tensor(&c, i - 1, &q), GGDM_OK); /* the packed q, k, v biases */
            assert_string_equal(q.name, "text_model.encoder.layers.0.self_attn.q_proj.bias");
            assert_true(q.offset + 768 == info.offset);
            found++;
        }
        if (strcmp(info.name, "text_model.encoder.layers.5.layer_norm2.weight") == 0) {
            assert_int_equal(info.init, GGDM_PARAM_INIT_ONES);
            found++;
        }
    }
    assert_int_equal(found, 3);
    assert_true(sum == t.n_params);
    assert_int_equal(ggdm_clip_tensor(&c, 0, &info), GGDM_OK);
    assert_string_equal(info.name, "text_model.embeddings.token_embedding.weight");
    assert_true(info.shape[0] == 49408 && info.shape[1] == 768 && info.offset == 0);
    assert_int_equal(ggdm_clip_tensor(&c, 1, &info), GGDM_OK);
    assert_string_equal(info.name, "text_model.embeddings.position_embedding.weight");
    assert_true(info.shape[0] == 77 && info.offset == 49408u * 768u);
    assert_int_equal(ggdm_clip_tensor(&c, 195, &info), GGDM_OK);
    assert_string_equal(info.name, "text_model.final_layer_norm.bias");
    assert_true(info.offset + 768 == t.n_params && info.init == GGDM_PARAM_INIT_ZEROS);
    assert_int_equal(ggdm_clip_tensor(&c, 196, &info), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_tensor(&c, -1, &info), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_tensor(&c, 0, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_table(&c, NULL), GGDM_ERR_ARG);
    /* tiny: 2 + 2 x 16 + 2 tensors */
    ggdm_clip_cfg_tiny(&c);
    assert_int_equal(ggdm_clip_table(&c, &t), GGDM_OK);
    assert_int_equal(t.n_tensors, 36);
    assert_true(t.n_params == 1000u * 32 + 77u * 32 + 2u * (4u * (32 * 32 + 32) + 4 * 32 + 37 * 32 + 37 + 32 * 37 + 32) + 64);
    c.hidden_size = 30;
    assert_int_equal(ggdm_clip_tensor(&c, 0, &info), GGDM_ERR_ARG);
}

static void test_init(void **state)
{
    ggdm_clip_cfg c;
    ggdm_param_table t;
    ggdm_param_info info;
    float *a, *b;
    uint64_t e;
    int i;
    (void)state;
    ggdm_clip_cfg_tiny(&c);
    assert_int_equal(ggdm_clip_table(&c, &t), GGDM_OK);
    a = (float *)malloc(sizeof(float) * t.n_params);
    b = (float *)malloc(sizeof(float) * t.n_params);
    assert_int_equal(ggdm_clip_init(&c, 5, a, t.n_params), GGDM_OK);
    assert_int_equal(ggdm_clip_init(&c, 5, b, t.n_params), GGDM_OK);
    assert_memory_equal(a, b, sizeof(float) * t.n_params);
    for (i = 0; i < t.n_tensors; i++) {
        float bound;
        ggdm_clip_tensor(&c, i, &info);
        if (info.init != GGDM_PARAM_INIT_UNIFORM) {
            for (e = 0; e < info.count; e++)
                assert_true(a[info.offset + e] == (info.init == GGDM_PARAM_INIT_ONES ? 1.0f : 0.0f));
            continue;
        }
        bound = (float)(1.0 / sqrt((double)info.fan_in));
        for (e = 0; e < info.count; e++)
            assert_true(fabsf(a[info.offset + e]) <= bound);
    }
    assert_int_equal(ggdm_clip_init(&c, 6, b, t.n_params), GGDM_OK);
    assert_memory_not_equal(a, b, sizeof(float) * 64);
    assert_int_equal(ggdm_clip_init(&c, 5, b, t.n_params - 1), GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_clip_init(&c, 5, NULL, t.n_params), GGDM_ERR_ARG);
    c.vocab_size = -1;
    assert_int_equal(ggdm_clip_init(&c, 5, b, t.n_params), GGDM_ERR_ARG);
    free(a);
    free(b);
}

static void run_reverse(void *ctx, ggdm_task_fn task, void *arg, int ntasks)
{
    int i;
    (void)ctx;
    for (i = ntasks - 1; i >= 0; i--)
        task(arg, i);
}

static int n_traced;
static char traced[8][GGDM_GRAPH_NAME_LEN];
static void trace_cb(void *ctx, const char *name, const float *data, int ndim, const uint64_t *shape)
{
    (void)data;
    (void)ndim;
    (void)shape;
    assert_ptr_equal(ctx, &n_traced);
    if (n_traced < 8)
        snprintf(traced[n_traced], GGDM_GRAPH_NAME_LEN, "%s", name);
    n_traced++;
}

#define CN 3
#define CL 7
#define CD 32

static void test_forward(void **state)
{
    ggdm_clip_cfg c;
    ggdm_param_table t;
    float *w, out[CN * CD * CL], o1[CN * CD * CL], o2[CN * CD * CL];
    int32_t ids[CN * CL];
    size_t wsb, wsx, i;
    void *ws;
    int n, l, d, k, threads[3] = {1, 2, 3};
    double flops, flops2;
    (void)state;
    ggdm_clip_cfg_tiny(&c);
    assert_int_equal(ggdm_clip_table(&c, &t), GGDM_OK);
    w = (float *)malloc(sizeof(float) * t.n_params);
    assert_int_equal(ggdm_clip_init(&c, 9, w, t.n_params), GGDM_OK);
    for (i = 0; i < CN * CL; i++)
        ids[i] = (int32_t)((i * 389 + 17) % 1000);
    ids[0] = 999; /* the last id */
    ids[1] = 0;
    assert_int_equal(ggdm_clip_workspace_bytes(&c, CN, CL, NULL, &wsb), GGDM_OK);
    assert_true(wsb > CN * CL * sizeof(float));
    ws = malloc(wsb);
    n_traced = 0;
    assert_int_equal(ggdm_clip_forward(&c, w, CN, CL, ids, out, ws, wsb, trace_cb, &n_traced, NULL), GGDM_OK);
    /* embeddings, 2 layers, the final LayerNorm */
    assert_int_equal(n_traced, 4);
    assert_string_equal(traced[0], "text_model.embeddings");
    assert_string_equal(traced[1], "text_model.encoder.layers.0");
    assert_string_equal(traced[3], "text_model.final_layer_norm");
    /* the final LayerNorm (weight 1, bias 0): every token's hidden state has mean 0, variance 1 */
    for (n = 0; n < CN; n++)
        for (l = 0; l < CL; l++) {
            double m = 0, v = 0;
            for (d = 0; d < CD; d++)
                m += out[((size_t)n * CD + d) * CL + l];
            m /= CD;
            for (d = 0; d < CD; d++) {
                double e = out[((size_t)n * CD + d) * CL + l] - m;
                v += e * e;
            }
            v /= CD;
            assert_true(fabs(m) < 1e-5);
            assert_true(fabs(v - 1.0) < 1e-3); /* eps 1e-5 against a variance of the order of 1 */
        }
    /* samples are independent: sample 2 alone */
    assert_int_equal(ggdm_clip_forward(&c, w, 1, CL, ids + 2 * CL, o1, ws, wsb, NULL, NULL, NULL), GGDM_OK);
    assert_memory_equal(o1, out + 2 * CD * CL, sizeof(float) * CD * CL);
    /* causal: a changed last token changes only the last position; a changed first one all */
    {
        int32_t id2[CN * CL];
        memcpy(id2, ids, sizeof id2);
        id2[CL - 1] = (id2[CL - 1] + 1) % 1000;
        assert_int_equal(ggdm_clip_forward(&c, w, CN, CL, id2, o1, ws, wsb, NULL, NULL, NULL), GGDM_OK);
        for (d = 0; d < CD; d++) {
            for (l = 0; l < CL - 1; l++)
                assert_true(o1[(size_t)d * CL + l] == out[(size_t)d * CL + l]);
            assert_true(o1[(size_t)d * CL + CL - 1] != out[(size_t)d * CL + CL - 1] || d > 0);
        }
        assert_memory_not_equal(o1, out, sizeof(float) * CD * CL);
        assert_memory_equal(o1 + CD * CL, out + CD * CL, sizeof(float) * (CN - 1) * CD * CL);
        memcpy(id2, ids, sizeof id2);
        id2[0] = 5;
        assert_int_equal(ggdm_clip_forward(&c, w, CN, CL, id2, o1, ws, wsb, NULL, NULL, NULL), GGDM_OK);
        for (l = 0; l < CL; l++)
            assert_true(o1[l] != out[l]); /* hidden channel 0 of every position */
    }
    /* the positions matter: the same token at two positions gives two states */
    {
        int32_t same[CL];
        for (l = 0; l < CL; l++)
            same[l] = 42;
        assert_int_equal(ggdm_clip_forward(&c, w, 1, CL, same, o1, ws, wsb, NULL, NULL, NULL), GGDM_OK);
        assert_true(o1[0] != o1[1]);
    }
    /* a shorter prompt is the first positions of a longer one (causal, no padding mask) */
    assert_int_equal(ggdm_clip_forward(&c, w, 1, 3, ids, o1, ws, wsb, NULL, NULL, NULL), GGDM_OK);
    for (d = 0; d < CD; d++)
        for (l = 0; l < 3; l++)
            assert_true(o1[(size_t)d * 3 + l] == out[(size_t)d * CL + l]);
    /* executors: the same bits for 1, 2, 3 threads */
    for (k = 0; k < 3; k++) {
        ggdm_exec ex = {0};
        void *wx;
        ex.run = run_reverse;
        ex.nthreads = threads[k];
        assert_int_equal(ggdm_clip_workspace_bytes(&c, CN, CL, &ex, &wsx), GGDM_OK);
        wx = malloc(wsx);
        memset(o2, 0, sizeof o2);
        assert_int_equal(ggdm_clip_forward(&c, w, CN, CL, ids, o2, wx, wsx, NULL, NULL, &ex), GGDM_OK);
        assert_memory_equal(out, o2, sizeof out);
        free(wx);
    }
    /* the elem backend */
    {
        ggdm_exec ex = {0};
        ex.unet = ggdm_backend_elem();
        assert_int_equal(ggdm_clip_workspace_bytes(&c, CN, CL, &ex, &wsx), GGDM_OK);
        assert_true(wsx <= wsb);
        memset(o2, 0, sizeof o2);
        assert_int_equal(ggdm_clip_forward(&c, w, CN, CL, ids, o2, ws, wsb, NULL, NULL, &ex), GGDM_OK);
        assert_memory_equal(out, o2, sizeof out);
    }
    /* flops: linear in N */
    assert_int_equal(ggdm_clip_flops(&c, 1, CL, &flops), GGDM_OK);
    assert_int_equal(ggdm_clip_flops(&c, 2, CL, &flops2), GGDM_OK);
    assert_true(flops > 2.0 * 2 * CL * (3 * CD * CD + CD * CD + 2 * 37 * CD) && flops2 == 2 * flops);
    assert_int_equal(ggdm_clip_flops(&c, 1, CL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_flops(&c, 1, 78, &flops), GGDM_ERR_ARG);
    assert_true(flops == 0);
    /* refusals */
    assert_int_equal(ggdm_clip_workspace_bytes(&c, CN, CL, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_workspace_bytes(&c, 0, CL, NULL, &wsx), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_workspace_bytes(&c, CN, 0, NULL, &wsx), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_workspace_bytes(&c, CN, 78, NULL, &wsx), GGDM_ERR_ARG); /* > 77 positions */
    assert_true(wsx == 0);
    assert_int_equal(ggdm_clip_forward(&c, NULL, CN, CL, ids, o1, ws, wsb, NULL, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_forward(&c, w, CN, CL, NULL, o1, ws, wsb, NULL, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_forward(&c, w, CN, CL, ids, NULL, ws, wsb, NULL, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_forward(&c, w, CN, CL, ids, o1, NULL, wsb, NULL, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_forward(&c, w, 0, CL, ids, o1, ws, wsb, NULL, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_forward(&c, w, CN, 78, ids, o1, ws, wsb, NULL, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_forward(&c, w, CN, CL, ids, o1, ws, 16, NULL, NULL, NULL), GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_clip_forward(&c, w, CN, CL, ids, o1, ws, wsb / 2, NULL, NULL, NULL),
                     GGDM_ERR_BUFFER_TOO_SMALL);
    ids[5] = 1000; /* token ids out of range */
    assert_int_equal(ggdm_clip_forward(&c, w, CN, CL, ids, o1, ws, wsb, NULL, NULL, NULL), GGDM_ERR_ARG);
    ids[5] = -1;
    assert_int_equal(ggdm_clip_forward(&c, w, CN, CL, ids, o1, ws, wsb, NULL, NULL, NULL), GGDM_ERR_ARG);
    ids[5] = 3;
    c.num_attention_heads = 3;
    assert_int_equal(ggdm_clip_forward(&c, w, CN, CL, ids, o1, ws, wsb, NULL, NULL, NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_clip_workspace_bytes(&c, CN, CL, NULL, &wsx), GGDM_ERR_ARG);
    free(w);
    free(ws);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfg_checks), cmocka_unit_test(test_table), cmocka_unit_test(test_init),
        cmocka_unit_test(test_forward),
    };
    return cmocka_run_group_tests_name("clip", tests, NULL, NULL);
}
