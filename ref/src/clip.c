/*
 * Stable Diffusion's text encoder (ggdm/clip.h; docs/sd.md, "Text encoder"): transformers'
 * CLIPTextModel as a graph builder. One parameter walk (pwalk.h) defines the table and the
 * offsets the builder wires.
 */
#include "ggdm/clip.h"

#include <string.h>

#include "ggdm/graph.h"
#include "pwalk.h"

#define MAXLAYERS 128
#define IDS_ALIGN 64

typedef struct layer_p {
    uint64_t qkv_w, qkv_b, out_w, out_b, ln1_w, ln1_b, fc1_w, fc1_b, fc2_w, fc2_b, ln2_w, ln2_b;
} layer_p;

typedef struct plan {
    uint64_t tok, pos, fin_w, fin_b, n_params;
    layer_p ly[MAXLAYERS];
    int n_tensors;
} plan;

static ggdm_status fail(char *msg, const char *s)
{
    if (msg) {
        size_t n = strlen(s);
        if (n >= GGDM_CLIP_MSG_LEN)
            n = GGDM_CLIP_MSG_LEN - 1;
        memcpy(msg, s, n);
        msg[n] = '\0';
    }
    return GGDM_ERR_ARG;
}

void ggdm_clip_cfg_sd15(ggdm_clip_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->vocab_size = 49408;
    c->hidden_size = 768;
    c->intermediate_size = 3072;
    c->num_hidden_layers = 12;
    c->num_attention_heads = 12;
    c->max_position_embeddings = 77;
    c->layer_norm_eps = 1e-5f;
}

void ggdm_clip_cfg_tiny(ggdm_clip_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->vocab_size = 1000;
    c->hidden_size = 32;
    c->intermediate_size = 37;
    c->num_hidden_layers = 2;
    c->num_attention_heads = 4;
    c->max_position_embeddings = 77;
    c->layer_norm_eps = 1e-5f;
}

ggdm_status ggdm_clip_cfg_check(const ggdm_clip_cfg *c, char *msg)
{
    if (msg)
        msg[0] = '\0';
    if (!c)
        return fail(msg, "no configuration");
    if (c->vocab_size < 1 || c->vocab_size > (1 << 24))
        return fail(msg, "vocab_size must be 1 to 2^24 (token ids travel as float32)");
    if (c->hidden_size < 1 || c->hidden_size > (1 << 16) || c->intermediate_size < 1 ||
        c->intermediate_size > (1 << 18))
        return fail(msg, "hidden_size must be 1 to 65536 and intermediate_size 1 to 262144");
    if (c->num_hidden_layers < 1 || c->num_hidden_layers > MAXLAYERS)
        return fail(msg, "num_hidden_layers must be 1 to 128");
    if (c->num_attention_heads < 1 || c->hidden_size % c->num_attention_heads)
        return fail(msg, "hidden_size must be a multiple of num_attention_heads");
    if (c->max_position_embeddings < 1 || c->max_position_embeddings > (1 << 16))
        return fail(msg, "max_position_embeddings must be 1 to 65536");
    if (!(c->layer_norm_eps > 0.0f) || c->layer_norm_eps > 1.0f)
        return fail(msg, "layer_norm_eps must be in (0, 1]");
    return GGDM_OK;
}

/* ------------------------------------------------------------------ parameter walk */

static ggdm_status make_plan(const ggdm_clip_cfg *c, plan *p, int want, ggdm_param_info *info)
{
    ggdm_pwalk w;
    char pre[96];
    uint64_t D, I;
    int l;
    ggdm_status st = ggdm_clip_cfg_check(c, NULL);
    if (st != GGDM_OK)
        return st;
    memset(p, 0, sizeof *p);
    D = (uint64_t)c->hidden_size;
    I = (uint64_t)c->intermediate_size;
    ggdm_pwalk_begin(&w, want, info);
    p->tok = ggdm_pwalk_add(&w, "text_model.embeddings.token_embedding", "weight", 2, (uint64_t)c->vocab_size, D,
                            0, 0, D, GGDM_PARAM_INIT_UNIFORM);
    p->pos = ggdm_pwalk_add(&w, "text_model.embeddings.position_embedding", "weight", 2,
                            (uint64_t)c->max_position_embeddings, D, 0, 0, D, GGDM_PARAM_INIT_UNIFORM);
    for (l = 0; l < c->num_hidden_layers; l++) {
        layer_p *y = &p->ly[l];
        snprintf(pre, sizeof pre, "text_model.encoder.layers.%d.self_attn", l);
        /* q, k, v next to each other: one [3D, D] convolution */
        y->qkv_w = ggdm_pwalk_add(&w, pre, "q_proj.weight", 2, D, D, 0, 0, D, GGDM_PARAM_INIT_UNIFORM);
        ggdm_pwalk_add(&w, pre, "k_proj.weight", 2, D, D, 0, 0, D, GGDM_PARAM_INIT_UNIFORM);
        ggdm_pwalk_add(&w, pre, "v_proj.weight", 2, D, D, 0, 0, D, GGDM_PARAM_INIT_UNIFORM);
        y->qkv_b = ggdm_pwalk_add(&w, pre, "q_proj.bias", 1, D, 0, 0, 0, D, GGDM_PARAM_INIT_UNIFORM);
        ggdm_pwalk_add(&w, pre, "k_proj.bias", 1, D, 0, 0, 0, D, GGDM_PARAM_INIT_UNIFORM);
        ggdm_pwalk_add(&w, pre, "v_proj.bias", 1, D, 0, 0, 0, D, GGDM_PARAM_INIT_UNIFORM);
        y->out_w = ggdm_pwalk_add(&w, pre, "out_proj.weight", 2, D, D, 0, 0, D, GGDM_PARAM_INIT_UNIFORM);
        y->out_b = ggdm_pwalk_add(&w, pre, "out_proj.bias", 1, D, 0, 0, 0, D, GGDM_PARAM_INIT_UNIFORM);
        snprintf(pre, sizeof pre, "text_model.encoder.layers.%d", l);
        y->ln1_w = ggdm_pwalk_add(&w, pre, "layer_norm1.weight", 1, D, 0, 0, 0, 0, GGDM_PARAM_INIT_ONES);
        y->ln1_b = ggdm_pwalk_add(&w, pre, "layer_norm1.bias", 1, D, 0, 0, 0, 0, GGDM_PARAM_INIT_ZEROS);
        y->fc1_w = ggdm_pwalk_add(&w, pre, "mlp.fc1.weight", 2, I, D, 0, 0, D, GGDM_PARAM_INIT_UNIFORM);
        y->fc1_b = ggdm_pwalk_add(&w, pre, "mlp.fc1.bias", 1, I, 0, 0, 0, D, GGDM_PARAM_INIT_UNIFORM);
        y->fc2_w = ggdm_pwalk_add(&w, pre, "mlp.fc2.weight", 2, D, I, 0, 0, I, GGDM_PARAM_INIT_UNIFORM);
        y->fc2_b = ggdm_pwalk_add(&w, pre, "mlp.fc2.bias", 1, D, 0, 0, 0, I, GGDM_PARAM_INIT_UNIFORM);
        y->ln2_w = ggdm_pwalk_add(&w, pre, "layer_norm2.weight", 1, D, 0, 0, 0, 0, GGDM_PARAM_INIT_ONES);
        y->ln2_b = ggdm_pwalk_add(&w, pre, "layer_norm2.bias", 1, D, 0, 0, 0, 0, GGDM_PARAM_INIT_ZEROS);
    }
    p->fin_w = ggdm_pwalk_add(&w, "text_model.final_layer_norm", "weight", 1, D, 0, 0, 0, 0, GGDM_PARAM_INIT_ONES);
    p->fin_b = ggdm_pwalk_add(&w, "text_model.final_layer_norm", "bias", 1, D, 0, 0, 0, 0, GGDM_PARAM_INIT_ZEROS);
    p->n_params = w.off;
    p->n_tensors = w.count;
    if (w.overflow || (want >= 0 && want >= w.count))
        return GGDM_ERR_ARG;
    return GGDM_OK;
}

ggdm_status ggdm_clip_tensor(const ggdm_clip_cfg *cfg, int i, ggdm_param_info *info)
{
    plan p;
    if (!info || i < 0)
        return GGDM_ERR_ARG;
    return make_plan(cfg, &p, i, info);
}

static ggdm_status tensor_fn(const void *cfg, int i, ggdm_param_info *info)
{
    return ggdm_clip_tensor((const ggdm_clip_cfg *)cfg, i, info);
}

ggdm_status ggdm_clip_table(const ggdm_clip_cfg *cfg, ggdm_param_table *t)
{
    plan p;
    ggdm_status st;
    if (!t)
        return GGDM_ERR_ARG;
    memset(t, 0, sizeof *t);
    st = make_plan(cfg, &p, -1, NULL);
    if (st != GGDM_OK)
        return st;
    t->cfg = cfg;
    t->tensor = tensor_fn;
    t->n_tensors = p.n_tensors;
    t->n_params = p.n_params;
    return GGDM_OK;
}

ggdm_status ggdm_clip_init(const ggdm_clip_cfg *cfg, uint64_t seed, float *params, uint64_t count)
{
    ggdm_param_table t;
    ggdm_status st = ggdm_clip_table(cfg, &t);
    return st != GGDM_OK ? st : ggdm_param_init(&t, seed, GGDM_NET_ID_CLIP, params, count);
}

/* ------------------------------------------------------------------ the graph */

typedef struct net_cfg {
    const ggdm_clip_cfg *cfg;
    int L;
} net_cfg;

static int op3(ggdm_graph *g, ggdm_op_id op, const ggdm_op_attr *a, int i0, int i1, int i2, const char *trace)
{
    int in[3];
    in[0] = i0;
    in[1] = i1;
    in[2] = i2;
    return ggdm_graph_op(g, op, a, in, 3, trace, 3);
}

/* a linear over the channels of [N, cin, 1, L]: a 1x1 convolution (the same chain) */
static int proj(ggdm_graph *g, int x, uint64_t w, uint64_t b, int cin, int cout, const char *trace)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    a.Cout = cout;
    a.KH = a.KW = a.sh = a.sw = 1;
    return op3(g, GGDM_OP_CONV, &a, x, ggdm_graph_param(g, w, cout, cin, 1), ggdm_graph_param(g, b, cout, 1, 1),
               trace);
}

static int layernorm(ggdm_graph *g, int x, uint64_t w, uint64_t b, int D, float eps, const char *trace)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    a.kind = GGDM_NORM_CHANNEL;
    a.eps = eps;
    return op3(g, GGDM_OP_NORM, &a, x, ggdm_graph_param(g, w, D, 1, 1), ggdm_graph_param(g, b, D, 1, 1), trace);
}

static int add(ggdm_graph *g, int x, int y, const char *trace)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    return op3(g, GGDM_OP_ADD, &a, x, y, -1, trace);
}

static ggdm_status clip_build(const void *cfgv, ggdm_graph *g)
{
    const net_cfg *nc = (const net_cfg *)cfgv;
    const ggdm_clip_cfg *c = nc->cfg;
    plan p;
    ggdm_op_attr a;
    int x, v, l, D = c->hidden_size, L = nc->L, H = c->num_attention_heads;
    char name[64];
    ggdm_status st = make_plan(c, &p, -1, NULL);
    if (st != GGDM_OK)
        return st;
    v = ggdm_graph_input(g, 0, 1, 1, L, NULL);
    memset(&a, 0, sizeof a);
    a.Cout = D;
    a.C2 = c->vocab_size;
    x = op3(g, GGDM_OP_EMBED, &a, v, ggdm_graph_param(g, p.tok, c->vocab_size, D, 1),
            ggdm_graph_param(g, p.pos, L, D, 1), "text_model.embeddings");
    for (l = 0; l < c->num_hidden_layers; l++) {
        const layer_p *y = &p.ly[l];
        long hdl = (long)D * L;
        v = layernorm(g, x, y->ln1_w, y->ln1_b, D, c->layer_norm_eps, NULL);
        v = proj(g, v, y->qkv_w, y->qkv_b, D, 3 * D, NULL);
        memset(&a, 0, sizeof a);
        a.heads = H;
        a.dh = D / H;
        a.Lq = a.Lk = L;
        a.sq = a.sk = a.sv = 3 * hdl;
        a.ok = hdl;
        a.ov = 2 * hdl;
        a.causal = 1;
        v = op3(g, GGDM_OP_ATTN, &a, v, v, v, NULL);
        v = proj(g, v, y->out_w, y->out_b, D, D, NULL);
        x = add(g, v, x, NULL);
        v = layernorm(g, x, y->ln2_w, y->ln2_b, D, c->layer_norm_eps, NULL);
        v = proj(g, v, y->fc1_w, y->fc1_b, D, c->intermediate_size, NULL);
        memset(&a, 0, sizeof a);
        v = op3(g, GGDM_OP_QGELU, &a, v, -1, -1, NULL);
        v = proj(g, v, y->fc2_w, y->fc2_b, c->intermediate_size, D, NULL);
        snprintf(name, sizeof name, "text_model.encoder.layers.%d", l);
        x = add(g, v, x, name);
    }
    x = layernorm(g, x, p.fin_w, p.fin_b, D, c->layer_norm_eps, "text_model.final_layer_norm");
    ggdm_graph_output(g, x, 0);
    return g->status;
}

static ggdm_status clip_size(const void *cfgv, int N, int *max_nodes, int *max_vals)
{
    const net_cfg *nc = (const net_cfg *)cfgv;
    (void)N;
    *max_nodes = 4 + 10 * nc->cfg->num_hidden_layers;
    *max_vals = *max_nodes + 4 + 14 * nc->cfg->num_hidden_layers;
    return GGDM_OK;
}

static ggdm_status make_net(const ggdm_clip_cfg *cfg, int N, int L, net_cfg *nc, ggdm_net *net)
{
    ggdm_param_table t;
    ggdm_status st = ggdm_clip_table(cfg, &t);
    if (st != GGDM_OK)
        return st;
    if (N < 1 || N > (1 << 20) || L < 1 || L > cfg->max_position_embeddings)
        return GGDM_ERR_ARG;
    nc->cfg = cfg;
    nc->L = L;
    memset(net, 0, sizeof *net);
    net->cfg = nc;
    net->build = clip_build;
    net->size = clip_size;
    net->n_params = t.n_params;
    net->per_sample = 1;
    net->in_floats[0] = (size_t)L;
    net->out_floats[0] = (size_t)cfg->hidden_size * (size_t)L;
    return GGDM_OK;
}

/* the ids as float32 at the head of the workspace, then the network's workspace */
static size_t ids_bytes(int N, int L)
{
    size_t b = (size_t)N * (size_t)L * sizeof(float);
    return (b + IDS_ALIGN - 1) / IDS_ALIGN * IDS_ALIGN;
}

ggdm_status ggdm_clip_workspace_bytes(const ggdm_clip_cfg *cfg, int N, int L, const ggdm_exec *ex, size_t *bytes)
{
    net_cfg nc;
    ggdm_net net;
    ggdm_status st;
    if (!bytes)
        return GGDM_ERR_ARG;
    *bytes = 0;
    st = make_net(cfg, N, L, &nc, &net);
    if (st == GGDM_OK)
        st = ggdm_net_workspace_bytes(&net, N, 0, ex, bytes);
    if (st == GGDM_OK)
        *bytes += ids_bytes(N, L);
    return st;
}

ggdm_status ggdm_clip_flops(const ggdm_clip_cfg *cfg, int N, int L, double *flops)
{
    net_cfg nc;
    ggdm_net net;
    ggdm_status st;
    if (!flops)
        return GGDM_ERR_ARG;
    *flops = 0;
    st = make_net(cfg, N, L, &nc, &net);
    return st != GGDM_OK ? st : ggdm_net_flops(&net, N, flops);
}

ggdm_status ggdm_clip_forward(const ggdm_clip_cfg *cfg, const float *params, int N, int L, const int32_t *ids,
                              float *out, void *workspace, size_t ws_bytes, ggdm_clip_trace_fn trace,
                              void *trace_ctx, const ggdm_exec *ex)
{
    net_cfg nc;
    ggdm_net net;
    ggdm_graph_io io;
    float *fid;
    size_t i, n, head;
    ggdm_status st = make_net(cfg, N, L, &nc, &net);
    if (st != GGDM_OK)
        return st;
    if (!params || !ids || !out || !workspace)
        return GGDM_ERR_ARG;
    head = ids_bytes(N, L);
    if (ws_bytes < head)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    n = (size_t)N * (size_t)L;
    for (i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= cfg->vocab_size)
            return GGDM_ERR_ARG;
    fid = (float *)workspace;
    for (i = 0; i < n; i++)
        fid[i] = (float)ids[i];
    memset(&io, 0, sizeof io);
    io.in[0] = fid;
    io.out[0] = out;
    io.trace = (ggdm_graph_trace_fn)trace;
    io.trace_ctx = trace_ctx;
    return ggdm_net_run(&net, ex && ex->unet ? ex->unet : ggdm_backend_cpu(), params, N, GGDM_GRAPH_FORWARD, &io,
                        (unsigned char *)workspace + head, ws_bytes - head, ex);
}
