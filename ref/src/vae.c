/*
 * Stable Diffusion's VAE decoder (docs/vae.md): its parameter table (diffusers' state-dict
 * names and order, decoder.* then post_quant_conv.*: init's Philox streams and the weights'
 * layout) and its builder, which wires the graph of ops (ggdm/graph.h) in diffusers' forward
 * order. Planning, memory, running, chunks and tracing are the graph runner's.
 */
#include "ggdm/vae.h"

#include <stdio.h>
#include <string.h>

#include "ggdm/dmath.h"
#include "ggdm/op.h"
#include "ggdm/rng.h"
#include "pwalk.h"

#define MAXB GGDM_VAE_MAX_BLOCKS
#define MAXR (MAXB * (GGDM_VAE_MAX_LAYERS + 1) + 2)
#define VAE_EPS 1e-6f

/* ------------------------------------------------------------------ module tables */

typedef struct res_plan {
    int cin, cout;
    uint64_t n1w, n1b, c1w, c1b, n2w, n2b, c2w, c2b, scw, scb; /* scw: the 1x1 shortcut (cin != cout) */
} res_plan;

typedef struct plan {
    ggdm_vae_cfg cfg;
    uint64_t n_params;
    int n_tensors;
    uint64_t pq_w, pq_b, in_w, in_b, an_w, an_b, q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b, no_w, no_b, out_w, out_b;
    uint64_t up_w[MAXB], up_b[MAXB];
    res_plan mid[2];
    res_plan up[MAXB][GGDM_VAE_MAX_LAYERS + 1];
} plan;

static uint64_t conv_t(ggdm_pwalk *w, const char *pre, const char *what, int cout, int cin, int k, uint64_t *bias)
{
    char n[GGDM_PARAM_NAME_LEN];
    uint64_t fan = (uint64_t)cin * (uint64_t)k * (uint64_t)k, off;
    snprintf(n, sizeof n, "%s%s.weight", pre, what);
    off = ggdm_pwalk_add(w, "", n, 4, (uint64_t)cout, (uint64_t)cin, (uint64_t)k, (uint64_t)k, fan, GGDM_PARAM_INIT_UNIFORM);
    snprintf(n, sizeof n, "%s%s.bias", pre, what);
    *bias = ggdm_pwalk_add(w, "", n, 1, (uint64_t)cout, 0, 0, 0, fan, GGDM_PARAM_INIT_UNIFORM);
    return off;
}

static uint64_t linear_t(ggdm_pwalk *w, const char *pre, const char *what, int c, uint64_t *bias)
{
    char n[GGDM_PARAM_NAME_LEN];
    uint64_t off;
    snprintf(n, sizeof n, "%s%s.weight", pre, what);
    off = ggdm_pwalk_add(w, "", n, 2, (uint64_t)c, (uint64_t)c, 0, 0, (uint64_t)c, GGDM_PARAM_INIT_UNIFORM);
    snprintf(n, sizeof n, "%s%s.bias", pre, what);
    *bias = ggdm_pwalk_add(w, "", n, 1, (uint64_t)c, 0, 0, 0, (uint64_t)c, GGDM_PARAM_INIT_UNIFORM);
    return off;
}

static uint64_t norm_t(ggdm_pwalk *w, const char *pre, const char *what, int c, uint64_t *bias)
{
    char n[GGDM_PARAM_NAME_LEN];
    uint64_t off;
    snprintf(n, sizeof n, "%s%s.weight", pre, what);
    off = ggdm_pwalk_add(w, "", n, 1, (uint64_t)c, 0, 0, 0, 0, GGDM_PARAM_INIT_ONES);
    snprintf(n, sizeof n, "%s%s.bias", pre, what);
    *bias = ggdm_pwalk_add(w, "", n, 1, (uint64_t)c, 0, 0, 0, 0, GGDM_PARAM_INIT_ZEROS);
    return off;
}

/* ResnetBlock2D's tensors in registration order: norm1, conv1, norm2, conv2, conv_shortcut. */
static void walk_res(ggdm_pwalk *w, res_plan *r, const char *pre, int cin, int cout)
{
    r->cin = cin;
    r->cout = cout;
    r->n1w = norm_t(w, pre, "norm1", cin, &r->n1b);
    r->c1w = conv_t(w, pre, "conv1", cout, cin, 3, &r->c1b);
    r->n2w = norm_t(w, pre, "norm2", cout, &r->n2b);
    r->c2w = conv_t(w, pre, "conv2", cout, cout, 3, &r->c2b);
    if (cin != cout)
        r->scw = conv_t(w, pre, "conv_shortcut", cout, cin, 1, &r->scb);
}

/* The state-dict order of AutoencoderKL restricted to the decode path: decoder.conv_in,
 * decoder.up_blocks.*, decoder.mid_block (attentions.0, then resnets), conv_norm_out,
 * conv_out, then post_quant_conv (registered after the decoder). */
static void walk_params(plan *p, ggdm_pwalk *w)
{
    const ggdm_vae_cfg *c = &p->cfg;
    int nb = c->n_blocks, top = c->block_out_channels[nb - 1], i, j, prev;
    char pre[GGDM_PARAM_NAME_LEN];
    p->in_w = conv_t(w, "decoder.", "conv_in", top, c->latent_channels, 3, &p->in_b);
    prev = top;
    for (i = 0; i < nb; i++) {
        int cout = c->block_out_channels[nb - 1 - i];
        for (j = 0; j <= c->layers_per_block; j++) {
            snprintf(pre, sizeof pre, "decoder.up_blocks.%d.resnets.%d.", i, j);
            walk_res(w, &p->up[i][j], pre, j == 0 ? prev : cout, cout);
        }
        if (i < nb - 1) {
            snprintf(pre, sizeof pre, "decoder.up_blocks.%d.upsamplers.0.", i);
            p->up_w[i] = conv_t(w, pre, "conv", cout, cout, 3, &p->up_b[i]);
        }
        prev = cout;
    }
    if (c->mid_attention) {
        const char *ap = "decoder.mid_block.attentions.0.";
        p->an_w = norm_t(w, ap, "group_norm", top, &p->an_b);
        p->q_w = linear_t(w, ap, "to_q", top, &p->q_b);
        p->k_w = linear_t(w, ap, "to_k", top, &p->k_b);
        p->v_w = linear_t(w, ap, "to_v", top, &p->v_b);
        p->o_w = linear_t(w, ap, "to_out.0", top, &p->o_b);
    }
    walk_res(w, &p->mid[0], "decoder.mid_block.resnets.0.", top, top);
    walk_res(w, &p->mid[1], "decoder.mid_block.resnets.1.", top, top);
    p->no_w = norm_t(w, "decoder.", "conv_norm_out", c->block_out_channels[0], &p->no_b);
    p->out_w = conv_t(w, "decoder.", "conv_out", c->out_channels, c->block_out_channels[0], 3, &p->out_b);
    p->pq_w = conv_t(w, "", "post_quant_conv", c->latent_channels, c->latent_channels, 1, &p->pq_b);
    p->n_params = w->off;
    p->n_tensors = w->count;
}

/* ------------------------------------------------------------------ configuration */

void ggdm_vae_cfg_sd15(ggdm_vae_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->n_blocks = 4;
    cfg->block_out_channels[0] = 128;
    cfg->block_out_channels[1] = 256;
    cfg->block_out_channels[2] = 512;
    cfg->block_out_channels[3] = 512;
    cfg->layers_per_block = 2;
    cfg->latent_channels = 4;
    cfg->out_channels = 3;
    cfg->norm_num_groups = 32;
    cfg->scaling_factor = 0.18215f;
    cfg->mid_attention = 1;
    cfg->height = cfg->width = 64;
    cfg->attn_kind = GGDM_ATTN_KEEP;
}

void ggdm_vae_cfg_tiny(ggdm_vae_cfg *cfg)
{
    ggdm_vae_cfg_sd15(cfg);
    cfg->n_blocks = 2;
    cfg->block_out_channels[0] = 32;
    cfg->block_out_channels[1] = 64;
    cfg->block_out_channels[2] = cfg->block_out_channels[3] = 0;
    cfg->layers_per_block = 1;
    cfg->norm_num_groups = 8;
    cfg->height = cfg->width = 8;
}

static ggdm_status fail(char *msg, const char *fmt, int a, int b)
{
    if (msg)
        snprintf(msg, GGDM_VAE_MSG_LEN, fmt, a, b);
    return GGDM_ERR_ARG;
}

ggdm_status ggdm_vae_cfg_check(const ggdm_vae_cfg *c, char *msg)
{
    int i, up;
    if (msg)
        msg[0] = 0;
    if (!c)
        return fail(msg, "vae: no configuration", 0, 0);
    if (c->n_blocks < 1 || c->n_blocks > MAXB)
        return fail(msg, "vae: %d block_out_channels given; 1 .. %d are supported", c->n_blocks, MAXB);
    if (c->norm_num_groups < 1)
        return fail(msg, "vae: norm_num_groups = %d must be at least 1", c->norm_num_groups, 0);
    for (i = 0; i < c->n_blocks; i++) {
        if (c->block_out_channels[i] < 1 || c->block_out_channels[i] > 8192)
            return fail(msg, "vae: block_out_channels[%d] = %d must be in 1 .. 8192", i, c->block_out_channels[i]);
        if (c->block_out_channels[i] % c->norm_num_groups)
            return fail(msg, "vae: block_out_channels[%d] = %d is not divisible by norm_num_groups (GroupNorm)", i,
                        c->block_out_channels[i]);
    }
    if (c->layers_per_block < 0 || c->layers_per_block > GGDM_VAE_MAX_LAYERS)
        return fail(msg, "vae: layers_per_block = %d must be in 0 .. %d", c->layers_per_block, GGDM_VAE_MAX_LAYERS);
    if (c->latent_channels < 1 || c->latent_channels > 1024)
        return fail(msg, "vae: latent_channels = %d must be in 1 .. 1024", c->latent_channels, 0);
    if (c->out_channels < 1 || c->out_channels > 1024)
        return fail(msg, "vae: out_channels = %d must be in 1 .. 1024", c->out_channels, 0);
    if (!(c->scaling_factor > 0.0f) || !(c->scaling_factor < 1e30f))
        return fail(msg, "vae: scaling_factor must be positive and finite", 0, 0);
    if (c->mid_attention != 0 && c->mid_attention != 1)
        return fail(msg, "vae: mid_attention = %d must be 0 or 1", c->mid_attention, 0);
    if (c->attn_kind != GGDM_ATTN_KEEP && c->attn_kind != GGDM_ATTN_RECOMPUTE)
        return fail(msg, "vae: attn_kind = %d must be 0 (keep) or 1 (recompute)", c->attn_kind, 0);
    up = c->n_blocks - 1;
    if (c->height < 1 || c->width < 1 || c->height > (1 << 14) || c->width > (1 << 14))
        return fail(msg, "vae: the latent's height %d and width %d must be in 1 .. 16384", c->height, c->width);
    if ((long)c->height << up > (1L << 16) || (long)c->width << up > (1L << 16))
        return fail(msg, "vae: the image (%d x %d latent, upsampled) would exceed 65536 pixels a side", c->height,
                    c->width);
    return GGDM_OK;
}

static ggdm_status make_plan(const ggdm_vae_cfg *cfg, plan *p, int want, ggdm_param_info *info)
{
    ggdm_pwalk w;
    ggdm_status st = ggdm_vae_cfg_check(cfg, NULL);
    if (st != GGDM_OK)
        return st;
    memset(p, 0, sizeof *p);
    p->cfg = *cfg;
    ggdm_pwalk_begin(&w, want, info);
    walk_params(p, &w);
    return GGDM_OK;
}

static ggdm_status table_fn(const void *cfg, int i, ggdm_param_info *info)
{
    return ggdm_vae_tensor((const ggdm_vae_cfg *)cfg, i, info);
}

ggdm_status ggdm_vae_params(const ggdm_vae_cfg *cfg, ggdm_param_table *t)
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
    t->tensor = table_fn;
    t->n_tensors = p.n_tensors;
    t->n_params = p.n_params;
    return GGDM_OK;
}

ggdm_status ggdm_vae_tensor(const ggdm_vae_cfg *cfg, int i, ggdm_param_info *info)
{
    plan p;
    ggdm_status st;
    if (!info || i < 0)
        return GGDM_ERR_ARG;
    st = make_plan(cfg, &p, i, info);
    if (st != GGDM_OK)
        return st;
    return i < p.n_tensors ? GGDM_OK : GGDM_ERR_ARG;
}

ggdm_status ggdm_vae_num_params(const ggdm_vae_cfg *cfg, uint64_t *count)
{
    plan p;
    ggdm_status st;
    if (!count)
        return GGDM_ERR_ARG;
    st = make_plan(cfg, &p, -1, NULL);
    *count = st == GGDM_OK ? p.n_params : 0;
    return st;
}

ggdm_status ggdm_vae_out_size(const ggdm_vae_cfg *cfg, int *oh, int *ow)
{
    ggdm_status st;
    if (!oh || !ow)
        return GGDM_ERR_ARG;
    *oh = *ow = 0;
    st = ggdm_vae_cfg_check(cfg, NULL);
    if (st != GGDM_OK)
        return st;
    *oh = cfg->height << (cfg->n_blocks - 1);
    *ow = cfg->width << (cfg->n_blocks - 1);
    return GGDM_OK;
}

ggdm_status ggdm_vae_init(const ggdm_vae_cfg *cfg, uint64_t seed, float *params, uint64_t count)
{
    ggdm_param_table t;
    ggdm_status st = ggdm_vae_params(cfg, &t);
    return st != GGDM_OK ? st : ggdm_param_init(&t, seed, GGDM_VAE_INIT_STREAM_A, params, count);
}

/* ------------------------------------------------------------------ the graph (builder) */

typedef struct builder {
    ggdm_graph *g;
    const plan *p;
} builder;

static int node(builder *b, ggdm_op_id op, const ggdm_op_attr *a, int i0, int i1, int i2, const char *trace)
{
    int in[3];
    in[0] = i0;
    in[1] = i1;
    in[2] = i2;
    return ggdm_graph_op(b->g, op, a, in, 3, trace, 3);
}

/* A k x k convolution (stride 1, zero padding k / 2) with bias, cin -> cout channels. */
static int conv(builder *b, int x, uint64_t w, uint64_t bias, int cin, int cout, int k, const char *trace)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    a.Cout = cout;
    a.KH = a.KW = k;
    a.sh = a.sw = 1;
    a.ph = a.pw = k / 2;
    return node(b, GGDM_OP_CONV, &a, x, ggdm_graph_param(b->g, w, cout, cin, k * k),
                ggdm_graph_param(b->g, bias, cout, 1, 1), trace);
}

static int gnorm(builder *b, int x, uint64_t gamma, uint64_t beta, int C)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    a.kind = GGDM_NORM_GROUP;
    a.block = GGDM_NORM_SD_BLOCK;
    a.G = b->p->cfg.norm_num_groups;
    a.eps = VAE_EPS;
    return node(b, GGDM_OP_NORM, &a, x, ggdm_graph_param(b->g, gamma, C, 1, 1), ggdm_graph_param(b->g, beta, C, 1, 1),
                NULL);
}

static int simple(builder *b, ggdm_op_id op, int x, int y, const char *trace)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    return node(b, op, &a, x, y, -1, trace);
}

/* ResnetBlock2D (temb None, eval): h = conv2(silu(norm2(conv1(silu(norm1(x)))))); out =
 * (conv_shortcut(x) or x) + h (output_scale_factor 1). */
static int build_res(builder *b, const res_plan *r, int x, const char *name)
{
    int h, s;
    h = gnorm(b, x, r->n1w, r->n1b, r->cin);
    h = simple(b, GGDM_OP_SILU, h, -1, NULL);
    h = conv(b, h, r->c1w, r->c1b, r->cin, r->cout, 3, NULL);
    h = gnorm(b, h, r->n2w, r->n2b, r->cout);
    h = simple(b, GGDM_OP_SILU, h, -1, NULL);
    h = conv(b, h, r->c2w, r->c2b, r->cout, r->cout, 3, NULL);
    s = r->cin != r->cout ? conv(b, x, r->scw, r->scb, r->cin, r->cout, 1, NULL) : x;
    return simple(b, GGDM_OP_ADD, s, h, name);
}

/* Attention (_from_deprecated_attn_block, one head of C): h = group_norm(x); q, k, v = 1x1
 * convs of h; o = softmax(q^T k * C^-1/2) over the H*W positions applied to v; out =
 * to_out.0(o) + x (rescale_output_factor 1). */
static int build_attn(builder *b, int x, int C, int H, int W, const char *name)
{
    const plan *p = b->p;
    int h, q, k, v, o;
    long L = (long)H * W;
    ggdm_op_attr a;
    h = gnorm(b, x, p->an_w, p->an_b, C);
    q = conv(b, h, p->q_w, p->q_b, C, C, 1, NULL);
    k = conv(b, h, p->k_w, p->k_b, C, C, 1, NULL);
    v = conv(b, h, p->v_w, p->v_b, C, C, 1, NULL);
    memset(&a, 0, sizeof a);
    a.heads = 1;
    a.dh = C;
    a.Lq = a.Lk = (int)L;
    a.sq = a.sk = a.sv = (long)C * L;
    a.kind = p->cfg.attn_kind;
    o = node(b, GGDM_OP_ATTN, &a, q, k, v, NULL); /* [N, C, 1, H*W] */
    memset(&a, 0, sizeof a);                    /* to_out.0 reads it as [N, C, H, W] */
    a.Cout = C;
    a.C = C;
    a.H = H;
    a.W = W;
    a.KH = a.KW = 1;
    a.sh = a.sw = 1;
    o = node(b, GGDM_OP_CONV, &a, o, ggdm_graph_param(b->g, p->o_w, C, C, 1), ggdm_graph_param(b->g, p->o_b, C, 1, 1),
             NULL);
    return simple(b, GGDM_OP_ADD, o, x, name);
}

static ggdm_status vae_build(const void *cfgv, ggdm_graph *g)
{
    plan p;
    builder b;
    const ggdm_vae_cfg *c = (const ggdm_vae_cfg *)cfgv;
    int x, i, j, nb, top, H, W;
    char name[GGDM_GRAPH_NAME_LEN];
    ggdm_op_attr a;
    ggdm_status s = make_plan(c, &p, -1, NULL);
    if (s != GGDM_OK)
        return s;
    b.g = g;
    b.p = &p;
    nb = c->n_blocks;
    top = c->block_out_channels[nb - 1];
    H = c->height;
    W = c->width;
    x = ggdm_graph_input(g, 0, c->latent_channels, H, W, "latents");
    memset(&a, 0, sizeof a); /* z * (1 / scaling_factor): the pipeline's latents / sf */
    a.scale = (float)(1.0 / (double)c->scaling_factor);
    a.shift = 0.0f;
    x = node(&b, GGDM_OP_AFFINE, &a, x, -1, -1, "scaled_latents");
    x = conv(&b, x, p.pq_w, p.pq_b, c->latent_channels, c->latent_channels, 1, "post_quant_conv");
    x = conv(&b, x, p.in_w, p.in_b, c->latent_channels, top, 3, "decoder.conv_in");
    x = build_res(&b, &p.mid[0], x, "decoder.mid_block.resnets.0");
    if (c->mid_attention)
        x = build_attn(&b, x, top, H, W, "decoder.mid_block.attentions.0");
    x = build_res(&b, &p.mid[1], x, "decoder.mid_block.resnets.1");
    for (i = 0; i < nb; i++) {
        int cout = c->block_out_channels[nb - 1 - i];
        for (j = 0; j <= c->layers_per_block; j++) {
            snprintf(name, sizeof name, "decoder.up_blocks.%d.resnets.%d", i, j);
            x = build_res(&b, &p.up[i][j], x, name);
        }
        if (i < nb - 1) { /* Upsample2D: nearest x2, then conv 3x3 */
            memset(&a, 0, sizeof a);
            a.sh = 2;
            x = node(&b, GGDM_OP_UPSAMPLE, &a, x, -1, -1, NULL);
            snprintf(name, sizeof name, "decoder.up_blocks.%d.upsamplers.0", i);
            x = conv(&b, x, p.up_w[i], p.up_b[i], cout, cout, 3, name);
        }
    }
    x = gnorm(&b, x, p.no_w, p.no_b, c->block_out_channels[0]);
    x = simple(&b, GGDM_OP_SILU, x, -1, "decoder.conv_act");
    x = conv(&b, x, p.out_w, p.out_b, c->block_out_channels[0], c->out_channels, 3, "decoder.conv_out");
    ggdm_graph_output(g, x, 0);
    return g->status;
}

/* Bounds: a ResnetBlock2D <= 8 nodes, the attention 7, an upsampler 2, the rest 6; values <=
 * nodes + one parameter view per tensor + the input. */
static ggdm_status vae_size(const void *cfgv, int N, int *max_nodes, int *max_vals)
{
    const ggdm_vae_cfg *c = (const ggdm_vae_cfg *)cfgv;
    plan p;
    ggdm_status st = make_plan(c, &p, -1, NULL);
    (void)N;
    if (st != GGDM_OK)
        return st;
    *max_nodes = 8 * (2 + c->n_blocks * (c->layers_per_block + 1)) + 7 + 2 * c->n_blocks + 6;
    *max_vals = *max_nodes + p.n_tensors + 2;
    return GGDM_OK;
}

ggdm_status ggdm_vae_net(const ggdm_vae_cfg *cfg, ggdm_net *net)
{
    uint64_t np = 0;
    int oh, ow;
    ggdm_status st;
    if (!net)
        return GGDM_ERR_ARG;
    memset(net, 0, sizeof *net);
    st = ggdm_vae_num_params(cfg, &np);
    if (st != GGDM_OK)
        return st;
    ggdm_vae_out_size(cfg, &oh, &ow);
    net->cfg = cfg;
    net->build = vae_build;
    net->size = vae_size;
    net->n_params = np;
    net->per_sample = 1; /* GroupNorm and attention are per sample */
    net->in_floats[0] = (size_t)cfg->latent_channels * (size_t)cfg->height * (size_t)cfg->width;
    net->out_floats[0] = (size_t)cfg->out_channels * (size_t)oh * (size_t)ow;
    return GGDM_OK;
}

/* ------------------------------------------------------------------ workspace, flops, runs */

static ggdm_status net_n(const ggdm_vae_cfg *cfg, int N, ggdm_net *net)
{
    ggdm_status st = ggdm_vae_net(cfg, net);
    if (st != GGDM_OK)
        return st;
    return N < 1 || N > (1 << 20) ? GGDM_ERR_ARG : GGDM_OK;
}

ggdm_status ggdm_vae_workspace_bytes(const ggdm_vae_cfg *cfg, int N, int grad, const ggdm_exec *ex, size_t *bytes)
{
    ggdm_net net;
    ggdm_status st;
    if (!bytes)
        return GGDM_ERR_ARG;
    *bytes = 0;
    if (grad != 0 && grad != 1)
        return GGDM_ERR_ARG;
    st = net_n(cfg, N, &net);
    if (st != GGDM_OK)
        return st;
    return ggdm_net_workspace_bytes(&net, N, grad ? 2 : 0, ex, bytes) /* the VJP is the input gradient only */;
}

ggdm_status ggdm_vae_flops(const ggdm_vae_cfg *cfg, int N, double *flops)
{
    ggdm_net net;
    ggdm_status st;
    if (!flops)
        return GGDM_ERR_ARG;
    *flops = 0;
    st = net_n(cfg, N, &net);
    if (st != GGDM_OK)
        return st;
    return ggdm_net_flops(&net, N, flops);
}

ggdm_status ggdm_vae_decode(const ggdm_vae_cfg *cfg, const ggdm_backend *be, const float *params, int N,
                            const float *z, float *x0, void *workspace, size_t ws_bytes, ggdm_graph_trace_fn trace,
                            void *trace_ctx, const ggdm_exec *ex)
{
    ggdm_net net;
    ggdm_graph_io io;
    ggdm_status st = net_n(cfg, N, &net);
    if (st != GGDM_OK)
        return st;
    if (!params || !z || !x0 || !workspace)
        return GGDM_ERR_ARG;
    memset(&io, 0, sizeof io);
    io.in[0] = z;
    io.out[0] = x0;
    io.trace = trace;
    io.trace_ctx = trace_ctx;
    return ggdm_net_run(&net, be, params, N, GGDM_GRAPH_FORWARD, &io, workspace, ws_bytes, ex);
}

ggdm_status ggdm_vae_decode_vjp(const ggdm_vae_cfg *cfg, const ggdm_backend *be, const float *params, int N,
                                const float *z, const float *dx0, float *x0, float *dz, void *workspace,
                                size_t ws_bytes, const ggdm_exec *ex)
{
    ggdm_net net;
    ggdm_graph_io io;
    ggdm_status st = net_n(cfg, N, &net);
    if (st != GGDM_OK)
        return st;
    if (!params || !z || !dx0 || !dz || !workspace)
        return GGDM_ERR_ARG;
    memset(&io, 0, sizeof io);
    io.in[0] = z;
    io.out[0] = x0;
    io.dout = dx0;
    io.dx = dz;
    return ggdm_net_run(&net, be, params, N, GGDM_GRAPH_GRAD_INPUT, &io, workspace, ws_bytes, ex);
}
