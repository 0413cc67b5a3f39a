/*
 * Stable Diffusion's UNet (ggdm/unet2d.h; docs/sd.md, "UNet"): diffusers' UNet2DConditionModel
 * as a graph builder. ONE walk over the modules in forward order both defines the parameter
 * table (pwalk.h: each tensor's name, shape and offset) and, when it is given a graph, wires
 * the nodes that read those offsets, so the table and the graph cannot disagree.
 */
#include "ggdm/unet2d.h"

#include <string.h>

#include "ggdm/graph.h"
#include "pwalk.h"

#define PRE_LEN 96

typedef struct walk {
    ggdm_pwalk w;
    ggdm_graph *g;       /* NULL: the table only */
    const ggdm_unet2d_cfg *c;
    int H, W, Lt;        /* the current resolution, the text length */
    int temb, text;      /* SiLU(time embedding) [N, 4 C0, 1, 1]; the text states */
} walk;

static ggdm_status fail(char *msg, const char *s)
{
    if (msg) {
        size_t n = strlen(s);
        if (n >= GGDM_UNET2D_MSG_LEN)
            n = GGDM_UNET2D_MSG_LEN - 1;
        memcpy(msg, s, n);
        msg[n] = '\0';
    }
    return GGDM_ERR_ARG;
}

void ggdm_unet2d_cfg_sd15(ggdm_unet2d_cfg *c)
{
    int i;
    static const int ch[4] = {320, 640, 1280, 1280};
    memset(c, 0, sizeof *c);
    c->in_channels = c->out_channels = 4;
    c->n_blocks = 4;
    for (i = 0; i < 4; i++) {
        c->block_out_channels[i] = ch[i];
        c->cross_down[i] = i < 3;
        c->cross_up[i] = i > 0;
        c->heads[i] = 8;
    }
    c->layers_per_block = 2;
    c->cross_attention_dim = 768;
    c->norm_num_groups = 32;
    c->norm_eps = 1e-5f;
    c->attn_recompute = 0;
}

void ggdm_unet2d_cfg_tiny(ggdm_unet2d_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->in_channels = c->out_channels = 4;
    c->n_blocks = 2;
    c->block_out_channels[0] = 32;
    c->block_out_channels[1] = 64;
    c->cross_down[0] = 1;
    c->cross_up[1] = 1;
    c->heads[0] = c->heads[1] = 2;
    c->layers_per_block = 1;
    c->cross_attention_dim = 32;
    c->norm_num_groups = 8;
    c->norm_eps = 1e-5f;
}

ggdm_status ggdm_unet2d_cfg_check(const ggdm_unet2d_cfg *c, char *msg)
{
    int i;
    if (msg)
        msg[0] = '\0';
    if (!c)
        return fail(msg, "no configuration");
    if (c->n_blocks < 1 || c->n_blocks > GGDM_UNET2D_MAX_BLOCKS)
        return fail(msg, "the UNet needs 1 to 6 blocks (block_out_channels)");
    if (c->in_channels < 1 || c->in_channels > 64 || c->out_channels < 1 || c->out_channels > 64)
        return fail(msg, "in_channels and out_channels must be 1 to 64");
    if (c->layers_per_block < 1 || c->layers_per_block > 8)
        return fail(msg, "layers_per_block must be 1 to 8");
    if (c->norm_num_groups < 1 || !(c->norm_eps > 0.0f) || c->norm_eps > 1.0f)
        return fail(msg, "norm_num_groups must be >= 1 and norm_eps in (0, 1]");
    if (c->cross_attention_dim < 1 || c->cross_attention_dim > (1 << 14))
        return fail(msg, "cross_attention_dim must be 1 to 16384");
    for (i = 0; i < c->n_blocks; i++) {
        int C = c->block_out_channels[i];
        if (C < 1 || C > (1 << 14) || C % c->norm_num_groups)
            return fail(msg, "every block's channels must be 1 to 16384 and a multiple of norm_num_groups");
        if ((c->cross_down[i] != 0 && c->cross_down[i] != 1) || (c->cross_up[i] != 0 && c->cross_up[i] != 1))
            return fail(msg, "block types must be CrossAttn*Block2D or *Block2D");
        if (c->heads[i] < 1 || C % c->heads[i])
            return fail(msg, "every block's channels must be a multiple of its attention heads");
    }
    if (c->block_out_channels[0] % 2 || c->block_out_channels[0] < 4)
        return fail(msg, "block_out_channels[0] (the time embedding's width) must be even and >= 4");
    if (c->use_linear_projection != 0 && c->use_linear_projection != 1)
        return fail(msg, "use_linear_projection must be 0 or 1");
    if (c->attn_recompute != 0 && c->attn_recompute != 1)
        return fail(msg, "attn_recompute must be 0 or 1");
    return GGDM_OK;
}

/* ------------------------------------------------------------------ the walk */

/* A parameter tensor (the walk) and its graph view (-1 without a graph). */
static int prm(walk *k, const char *pre, const char *name, int ndim, int s0, int s1, int s2, int s3, int fan,
               int init)
{
    uint64_t off = ggdm_pwalk_add(&k->w, pre, name, ndim, (uint64_t)s0, (uint64_t)s1, (uint64_t)s2, (uint64_t)s3,
                                  (uint64_t)fan, init);
    int n2 = ndim > 2 ? s2 * (ndim > 3 ? s3 : 1) : 1;
    if (!k->g)
        return -1;
    return ggdm_graph_param(k->g, off, s0, ndim > 1 ? s1 : 1, n2);
}

/* A parameter tensor without a view (one of a packed group), its offset. */
static uint64_t raw(walk *k, const char *pre, const char *name, int s0, int s1)
{
    return ggdm_pwalk_add(&k->w, pre, name, 2, (uint64_t)s0, (uint64_t)s1, 0, 0, (uint64_t)s1,
                          GGDM_PARAM_INIT_UNIFORM);
}

static int view(walk *k, uint64_t off, int C, int H)
{
    return k->g ? ggdm_graph_param(k->g, off, C, H, 1) : -1;
}

static int node(walk *k, ggdm_op_id op, const ggdm_op_attr *a, int i0, int i1, int i2, const char *trace)
{
    int in[3];
    if (!k->g)
        return -1;
    in[0] = i0;
    in[1] = i1;
    in[2] = i2;
    return ggdm_graph_op(k->g, op, a, in, 3, trace, 3);
}

/* out = pre "." name (PRE_LEN bytes; a longer name is cut and recorded as an overflow) */
static void sub_(walk *k, char *out, const char *pre, const char *name)
{
    size_t a = strlen(pre), b = strlen(name);
    if (a + 1 + b >= PRE_LEN) {
        k->w.overflow = 1;
        a = a < PRE_LEN - 1 ? a : PRE_LEN - 1;
        b = a + 1 + b < PRE_LEN ? b : (a + 1 < PRE_LEN ? PRE_LEN - 2 - a : 0);
    }
    memcpy(out, pre, a);
    if (a + 1 < PRE_LEN) {
        out[a] = '.';
        memcpy(out + a + 1, name, b);
        out[a + 1 + b] = '\0';
    } else {
        out[a] = '\0';
    }
}
#define sub(out, pre, name) sub_(k, out, pre, name)

/* a convolution k x k (stride, pad) with a bias: pre.weight [cout, cin, k, k], pre.bias */
static int conv(walk *k, const char *pre, int x, int cin, int cout, int ks, int stride, int pad, const char *trace)
{
    ggdm_op_attr a;
    int w = prm(k, pre, "weight", 4, cout, cin, ks, ks, cin * ks * ks, GGDM_PARAM_INIT_UNIFORM);
    int b = prm(k, pre, "bias", 1, cout, 0, 0, 0, cin * ks * ks, GGDM_PARAM_INIT_UNIFORM);
    memset(&a, 0, sizeof a);
    a.Cout = cout;
    a.KH = a.KW = ks;
    a.sh = a.sw = stride;
    a.ph = a.pw = pad;
    return node(k, GGDM_OP_CONV, &a, x, w, b, trace);
}

/* a linear over the channels at each of the H W positions: a 1x1 convolution run as 1-D over
 * the positions (the same chain); w and b are graph values (b -1: none) */
static int pointwise(walk *k, int x, int w, int b, int cout, int L)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    a.Cout = cout;
    a.KH = a.KW = a.sh = a.sw = 1;
    a.H = 1;
    a.W = L;
    if (k->g && x >= 0)
        a.C = k->g->val[x].C;
    return node(k, GGDM_OP_CONV, &a, x, w, b, NULL);
}

static int norm(walk *k, const char *pre, int x, int kind, int C, float eps, int L)
{
    ggdm_op_attr a;
    int w = prm(k, pre, "weight", 1, C, 0, 0, 0, 0, GGDM_PARAM_INIT_ONES);
    int b = prm(k, pre, "bias", 1, C, 0, 0, 0, 0, GGDM_PARAM_INIT_ZEROS);
    memset(&a, 0, sizeof a);
    a.kind = kind;
    a.G = k->c->norm_num_groups;
    a.eps = eps;
    a.block = kind == GGDM_NORM_GROUP ? GGDM_NORM_SD_BLOCK : 0;
    if (L > 0) { /* tokens [N, C, 1, L] */
        a.C = C;
        a.H = 1;
        a.W = L;
    }
    return node(k, GGDM_OP_NORM, &a, x, w, b, NULL);
}

static int unary(walk *k, ggdm_op_id op, int x)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    return node(k, op, &a, x, -1, -1, NULL);
}

static int add(walk *k, int x, int y, int kind, const char *trace)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    a.kind = kind;
    return node(k, GGDM_OP_ADD, &a, x, y, -1, trace);
}

/* ResnetBlock2D(cin -> cout) with the time embedding */
static int resnet(walk *k, const char *pre, int x, int cin, int cout, const char *trace)
{
    const ggdm_unet2d_cfg *c = k->c;
    char p[PRE_LEN];
    int h, t, tw, tb, tdim = 4 * c->block_out_channels[0];
    ggdm_op_attr a;
    sub(p, pre, "norm1");
    h = unary(k, GGDM_OP_SILU, norm(k, p, x, GGDM_NORM_GROUP, cin, c->norm_eps, 0));
    sub(p, pre, "conv1");
    h = conv(k, p, h, cin, cout, 3, 1, 1, NULL);
    sub(p, pre, "time_emb_proj");
    tw = prm(k, p, "weight", 2, cout, tdim, 0, 0, tdim, GGDM_PARAM_INIT_UNIFORM);
    tb = prm(k, p, "bias", 1, cout, 0, 0, 0, tdim, GGDM_PARAM_INIT_UNIFORM);
    memset(&a, 0, sizeof a);
    a.Cout = cout;
    t = node(k, GGDM_OP_LINEAR, &a, k->temb, tw, tb, NULL);
    h = add(k, h, t, GGDM_ADD_BCAST, NULL);
    sub(p, pre, "norm2");
    h = unary(k, GGDM_OP_SILU, norm(k, p, h, GGDM_NORM_GROUP, cout, c->norm_eps, 0));
    sub(p, pre, "conv2");
    h = conv(k, p, h, cout, cout, 3, 1, 1, NULL);
    if (cin != cout) {
        sub(p, pre, "conv_shortcut");
        x = conv(k, p, x, cin, cout, 1, 1, 0, NULL);
    }
    return add(k, x, h, GGDM_ADD_SAME, trace); /* (input_tensor + hidden_states) / 1 */
}

/* attention: q [N, C, L] (at offset oq of input qv, sample stride sq), k and v in kv */
static int attention(walk *k, int q, int kv, int C, int heads, int Lq, int Lk, long sq, long skv, long ok, long ov)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    a.heads = heads;
    a.dh = C / heads;
    a.Lq = Lq;
    a.Lk = Lk;
    a.sq = sq;
    a.sk = a.sv = skv;
    a.ok = ok;
    a.ov = ov;
    a.kind = k->c->attn_recompute ? GGDM_ATTN_RECOMPUTE : GGDM_ATTN_KEEP;
    return node(k, GGDM_OP_ATTN, &a, q, kv, kv, NULL);
}

/* Transformer2DModel (one BasicTransformerBlock) on C channels */
static int transformer(walk *k, const char *pre, int x, int C, int heads, const char *trace)
{
    const ggdm_unet2d_cfg *c = k->c;
    char p[PRE_LEN], bp[PRE_LEN];
    int L = k->H * k->W, D = c->cross_attention_dim, h, v, w, b, lin = c->use_linear_projection;
    long CL = (long)C * L;
    ggdm_op_attr a;
    sub(p, pre, "norm");
    h = norm(k, p, x, GGDM_NORM_GROUP, C, 1e-6f, 0);
    sub(p, pre, "proj_in");
    w = prm(k, p, "weight", lin ? 2 : 4, C, C, 1, 1, C, GGDM_PARAM_INIT_UNIFORM);
    b = prm(k, p, "bias", 1, C, 0, 0, 0, C, GGDM_PARAM_INIT_UNIFORM);
    h = pointwise(k, h, w, b, C, L);
    sub(bp, pre, "transformer_blocks.0");
    /* self-attention: q, k, v from one [3C, C] convolution */
    sub(p, bp, "norm1");
    v = norm(k, p, h, GGDM_NORM_CHANNEL, C, 1e-5f, L);
    sub(p, bp, "attn1");
    {
        uint64_t off = raw(k, p, "to_q.weight", C, C);
        raw(k, p, "to_k.weight", C, C);
        raw(k, p, "to_v.weight", C, C);
        v = pointwise(k, v, view(k, off, 3 * C, C), -1, 3 * C, L);
    }
    v = attention(k, v, v, C, heads, L, L, 3 * CL, 3 * CL, CL, 2 * CL);
    w = prm(k, p, "to_out.0.weight", 2, C, C, 0, 0, C, GGDM_PARAM_INIT_UNIFORM);
    b = prm(k, p, "to_out.0.bias", 1, C, 0, 0, 0, C, GGDM_PARAM_INIT_UNIFORM);
    h = add(k, pointwise(k, v, w, b, C, L), h, GGDM_ADD_SAME, NULL);
    /* cross-attention: q from the image tokens, k and v from one [2C, D] convolution of the text */
    sub(p, bp, "norm2");
    v = norm(k, p, h, GGDM_NORM_CHANNEL, C, 1e-5f, L);
    sub(p, bp, "attn2");
    w = prm(k, p, "to_q.weight", 2, C, C, 0, 0, C, GGDM_PARAM_INIT_UNIFORM);
    v = pointwise(k, v, w, -1, C, L);
    {
        uint64_t off = raw(k, p, "to_k.weight", C, D);
        int kvv;
        raw(k, p, "to_v.weight", C, D);
        kvv = pointwise(k, k->text, view(k, off, 2 * C, D), -1, 2 * C, k->Lt);
        long CLt = (long)C * k->Lt;
        v = attention(k, v, kvv, C, heads, L, k->Lt, CL, 2 * CLt, 0, CLt);
    }
    w = prm(k, p, "to_out.0.weight", 2, C, C, 0, 0, C, GGDM_PARAM_INIT_UNIFORM);
    b = prm(k, p, "to_out.0.bias", 1, C, 0, 0, 0, C, GGDM_PARAM_INIT_UNIFORM);
    h = add(k, pointwise(k, v, w, b, C, L), h, GGDM_ADD_SAME, NULL);
    /* GEGLU feed-forward */
    sub(p, bp, "norm3");
    v = norm(k, p, h, GGDM_NORM_CHANNEL, C, 1e-5f, L);
    sub(p, bp, "ff.net");
    w = prm(k, p, "0.proj.weight", 2, 8 * C, C, 0, 0, C, GGDM_PARAM_INIT_UNIFORM);
    b = prm(k, p, "0.proj.bias", 1, 8 * C, 0, 0, 0, C, GGDM_PARAM_INIT_UNIFORM);
    v = pointwise(k, v, w, b, 8 * C, L);
    memset(&a, 0, sizeof a);
    v = node(k, GGDM_OP_GEGLU, &a, v, -1, -1, NULL);
    w = prm(k, p, "2.weight", 2, C, 4 * C, 0, 0, 4 * C, GGDM_PARAM_INIT_UNIFORM);
    b = prm(k, p, "2.bias", 1, C, 0, 0, 0, 4 * C, GGDM_PARAM_INIT_UNIFORM);
    h = add(k, pointwise(k, v, w, b, C, L), h, GGDM_ADD_SAME, NULL);
    sub(p, pre, "proj_out");
    w = prm(k, p, "weight", lin ? 2 : 4, C, C, 1, 1, C, GGDM_PARAM_INIT_UNIFORM);
    b = prm(k, p, "bias", 1, C, 0, 0, 0, C, GGDM_PARAM_INIT_UNIFORM);
    h = pointwise(k, h, w, b, C, L);
    return add(k, x, h, GGDM_ADD_SAME, trace); /* [N, C, H, W] again (input 0's shape): the same floats */
}

/* The whole network in forward order; x: the latents. */
static ggdm_status unet_walk(walk *k)
{
    const ggdm_unet2d_cfg *c = k->c;
    char pre[PRE_LEN], nm[PRE_LEN];
    int nb = c->n_blocks, C0 = c->block_out_channels[0], tdim = 4 * C0;
    int skip[GGDM_UNET2D_MAX_BLOCKS * 9 + 1], sk_c[GGDM_UNET2D_MAX_BLOCKS * 9 + 1], ns = 0;
    int x = -1, t = -1, i, j, ch = C0;
    ggdm_op_attr a;
    /* time embedding */
    if (k->g) {
        memset(&a, 0, sizeof a);
        a.Cout = C0;
        a.kind = GGDM_TEMB_DIFFUSERS;
        t = node(k, GGDM_OP_TEMB, &a, ggdm_graph_steps(k->g, 0), -1, -1, NULL);
    }
    {
        int w = prm(k, "time_embedding.linear_1", "weight", 2, tdim, C0, 0, 0, C0, GGDM_PARAM_INIT_UNIFORM);
        int b = prm(k, "time_embedding.linear_1", "bias", 1, tdim, 0, 0, 0, C0, GGDM_PARAM_INIT_UNIFORM);
        memset(&a, 0, sizeof a);
        a.Cout = tdim;
        t = unary(k, GGDM_OP_SILU, node(k, GGDM_OP_LINEAR, &a, t, w, b, NULL));
        w = prm(k, "time_embedding.linear_2", "weight", 2, tdim, tdim, 0, 0, tdim, GGDM_PARAM_INIT_UNIFORM);
        b = prm(k, "time_embedding.linear_2", "bias", 1, tdim, 0, 0, 0, tdim, GGDM_PARAM_INIT_UNIFORM);
        t = node(k, GGDM_OP_LINEAR, &a, t, w, b, "time_embedding");
        k->temb = unary(k, GGDM_OP_SILU, t); /* every ResnetBlock2D's nonlinearity(temb): one value */
    }
    if (k->g) {
        x = ggdm_graph_input(k->g, 0, c->in_channels, k->H, k->W, "sample");
        k->text = ggdm_graph_input(k->g, 1, c->cross_attention_dim, 1, k->Lt, NULL);
    }
    x = conv(k, "conv_in", x, c->in_channels, C0, 3, 1, 1, "conv_in");
    skip[ns] = x;
    sk_c[ns++] = C0;
    /* down */
    for (i = 0; i < nb; i++) {
        int cout = c->block_out_channels[i];
        for (j = 0; j < c->layers_per_block; j++) {
            snprintf(pre, sizeof pre, "down_blocks.%d.resnets.%d", i, j);
            snprintf(nm, sizeof nm, "down_blocks.%d.%d", i, j);
            x = resnet(k, pre, x, ch, cout, c->cross_down[i] ? NULL : nm);
            ch = cout;
            if (c->cross_down[i]) {
                snprintf(pre, sizeof pre, "down_blocks.%d.attentions.%d", i, j);
                x = transformer(k, pre, x, cout, c->heads[i], nm);
            }
            skip[ns] = x;
            sk_c[ns++] = cout;
        }
        if (i < nb - 1) {
            snprintf(pre, sizeof pre, "down_blocks.%d.downsamplers.0.conv", i);
            snprintf(nm, sizeof nm, "down_blocks.%d", i);
            x = conv(k, pre, x, cout, cout, 3, 2, 1, nm);
            k->H /= 2;
            k->W /= 2;
            skip[ns] = x;
            sk_c[ns++] = cout;
        }
    }
    /* mid */
    x = resnet(k, "mid_block.resnets.0", x, ch, ch, NULL);
    x = transformer(k, "mid_block.attentions.0", x, ch, c->heads[nb - 1], NULL);
    x = resnet(k, "mid_block.resnets.1", x, ch, ch, "mid_block");
    /* up (block i of the up path runs at block nb - 1 - i's channels) */
    for (i = 0; i < nb; i++) {
        int cout = c->block_out_channels[nb - 1 - i], heads = c->heads[nb - 1 - i];
        for (j = 0; j <= c->layers_per_block; j++) {
            int s = skip[--ns];
            if (k->g) {
                memset(&a, 0, sizeof a);
                a.C2 = sk_c[ns];
                x = node(k, GGDM_OP_CAT, &a, x, s, -1, NULL);
            }
            snprintf(pre, sizeof pre, "up_blocks.%d.resnets.%d", i, j);
            snprintf(nm, sizeof nm, "up_blocks.%d.%d", i, j);
            x = resnet(k, pre, x, ch + sk_c[ns], cout, c->cross_up[i] ? NULL : nm);
            ch = cout;
            if (c->cross_up[i]) {
                snprintf(pre, sizeof pre, "up_blocks.%d.attentions.%d", i, j);
                x = transformer(k, pre, x, cout, heads, nm);
            }
        }
        if (i < nb - 1) {
            if (k->g) {
                memset(&a, 0, sizeof a);
                a.sh = 2; /* nearest x2 along H and W */
                x = node(k, GGDM_OP_UPSAMPLE, &a, x, -1, -1, NULL);
            }
            k->H *= 2;
            k->W *= 2;
            snprintf(pre, sizeof pre, "up_blocks.%d.upsamplers.0.conv", i);
            snprintf(nm, sizeof nm, "up_blocks.%d", i);
            x = conv(k, pre, x, cout, cout, 3, 1, 1, nm);
        }
    }
    x = unary(k, GGDM_OP_SILU, norm(k, "conv_norm_out", x, GGDM_NORM_GROUP, ch, c->norm_eps, 0));
    x = conv(k, "conv_out", x, ch, c->out_channels, 3, 1, 1, "conv_out");
    if (k->g) {
        ggdm_graph_output(k->g, x, 0);
        return k->g->status;
    }
    return k->w.overflow ? GGDM_ERR_ARG : GGDM_OK;
}

static ggdm_status table_walk(const ggdm_unet2d_cfg *c, int want, ggdm_param_info *info, ggdm_pwalk *out)
{
    walk k;
    ggdm_status st = ggdm_unet2d_cfg_check(c, NULL);
    if (st != GGDM_OK)
        return st;
    memset(&k, 0, sizeof k);
    ggdm_pwalk_begin(&k.w, want, info);
    k.c = c;
    k.H = k.W = 1 << (c->n_blocks - 1);
    k.Lt = 1;
    st = unet_walk(&k);
    *out = k.w;
    if (st == GGDM_OK && want >= k.w.count)
        st = GGDM_ERR_ARG;
    return st;
}

ggdm_status ggdm_unet2d_tensor(const ggdm_unet2d_cfg *cfg, int i, ggdm_param_info *info)
{
    ggdm_pwalk w;
    if (!info || i < 0)
        return GGDM_ERR_ARG;
    return table_walk(cfg, i, info, &w);
}

static ggdm_status tensor_fn(const void *cfg, int i, ggdm_param_info *info)
{
    return ggdm_unet2d_tensor((const ggdm_unet2d_cfg *)cfg, i, info);
}

ggdm_status ggdm_unet2d_table(const ggdm_unet2d_cfg *cfg, ggdm_param_table *t)
{
    ggdm_pwalk w;
    ggdm_status st;
    if (!t)
        return GGDM_ERR_ARG;
    memset(t, 0, sizeof *t);
    st = table_walk(cfg, -1, NULL, &w);
    if (st != GGDM_OK)
        return st;
    t->cfg = cfg;
    t->tensor = tensor_fn;
    t->n_tensors = w.count;
    t->n_params = w.off;
    return GGDM_OK;
}

ggdm_status ggdm_unet2d_init(const ggdm_unet2d_cfg *cfg, uint64_t seed, float *params, uint64_t count)
{
    ggdm_param_table t;
    ggdm_status st = ggdm_unet2d_table(cfg, &t);
    return st != GGDM_OK ? st : ggdm_param_init(&t, seed, GGDM_NET_ID_UNET2D, params, count);
}

/* ------------------------------------------------------------------ the network */

typedef struct net_cfg {
    const ggdm_unet2d_cfg *cfg;
    int H, W, Lt;
    int n_tensors;
} net_cfg;

static ggdm_status unet2d_build(const void *cfgv, ggdm_graph *g)
{
    const net_cfg *nc = (const net_cfg *)cfgv;
    walk k;
    memset(&k, 0, sizeof k);
    ggdm_pwalk_begin(&k.w, -1, NULL);
    k.g = g;
    k.c = nc->cfg;
    k.H = nc->H;
    k.W = nc->W;
    k.Lt = nc->Lt;
    return unet_walk(&k);
}

/* Bounds: a ResnetBlock2D <= 10 nodes, a Transformer2DModel <= 20, a cat, down- or upsampler
 * <= 2, the time path 6, conv_in, the output 3. */
static ggdm_status unet2d_size(const void *cfgv, int N, int *max_nodes, int *max_vals)
{
    const net_cfg *nc = (const net_cfg *)cfgv;
    const ggdm_unet2d_cfg *c = nc->cfg;
    int nb = c->n_blocks, lp = c->layers_per_block, i, n_res = 2, n_tr = 1;
    (void)N;
    for (i = 0; i < nb; i++) {
        n_res += 2 * lp + 1;
        n_tr += c->cross_down[i] * lp + c->cross_up[i] * (lp + 1);
    }
    *max_nodes = 16 + 10 * n_res + 20 * n_tr + 2 * (nb * (lp + 1) + 2 * nb);
    *max_vals = *max_nodes + nc->n_tensors + 4;
    return GGDM_OK;
}

static ggdm_status make_net(const ggdm_unet2d_cfg *cfg, int N, int H, int W, int Lt, net_cfg *nc, ggdm_net *net)
{
    ggdm_param_table t;
    int f;
    ggdm_status st = ggdm_unet2d_table(cfg, &t);
    if (st != GGDM_OK)
        return st;
    f = 1 << (cfg->n_blocks - 1);
    if (N < 1 || N > (1 << 16) || H < f || W < f || H % f || W % f || H > (1 << 14) || W > (1 << 14) || Lt < 1 ||
        Lt > (1 << 14))
        return GGDM_ERR_ARG;
    nc->cfg = cfg;
    nc->H = H;
    nc->W = W;
    nc->Lt = Lt;
    nc->n_tensors = t.n_tensors;
    memset(net, 0, sizeof *net);
    net->cfg = nc;
    net->build = unet2d_build;
    net->size = unet2d_size;
    net->n_params = t.n_params;
    net->per_sample = 1;
    net->in_floats[0] = (size_t)cfg->in_channels * (size_t)H * (size_t)W;
    net->in_floats[1] = (size_t)cfg->cross_attention_dim * (size_t)Lt;
    net->out_floats[0] = (size_t)cfg->out_channels * (size_t)H * (size_t)W;
    return GGDM_OK;
}

ggdm_status ggdm_unet2d_sizing_bytes(const ggdm_unet2d_cfg *cfg, int N, int H, int W, int Lt, size_t *bytes)
{
    net_cfg nc;
    ggdm_net net;
    ggdm_status st;
    if (!bytes)
        return GGDM_ERR_ARG;
    *bytes = 0;
    st = make_net(cfg, N, H, W, Lt, &nc, &net);
    return st != GGDM_OK ? st : ggdm_net_sizing_bytes(&net, N, bytes);
}

ggdm_status ggdm_unet2d_workspace_bytes(const ggdm_unet2d_cfg *cfg, int N, int H, int W, int Lt, int grad,
                                        const ggdm_exec *ex, void *tmp, size_t tmp_bytes, size_t *bytes)
{
    net_cfg nc;
    ggdm_net net;
    ggdm_status st;
    if (!bytes)
        return GGDM_ERR_ARG;
    *bytes = 0;
    st = make_net(cfg, N, H, W, Lt, &nc, &net);
    return st != GGDM_OK ? st : ggdm_net_workspace_bytes_tmp(&net, N, grad ? 2 : 0, ex, tmp, tmp_bytes, bytes);
}

ggdm_status ggdm_unet2d_flops(const ggdm_unet2d_cfg *cfg, int N, int H, int W, int Lt, void *tmp, size_t tmp_bytes,
                              double *flops)
{
    net_cfg nc;
    ggdm_net net;
    ggdm_status st;
    if (!flops)
        return GGDM_ERR_ARG;
    *flops = 0;
    st = make_net(cfg, N, H, W, Lt, &nc, &net);
    return st != GGDM_OK ? st : ggdm_net_flops_tmp(&net, N, tmp, tmp_bytes, flops);
}

static ggdm_status run(const ggdm_unet2d_cfg *cfg, const float *params, int N, int H, int W, int Lt, const float *z,
                       const int64_t *t, const float *text, const float *deps, float *eps, float *dz, void *ws,
                       size_t ws_bytes, ggdm_unet2d_trace_fn trace, void *trace_ctx, const ggdm_exec *ex)
{
    net_cfg nc;
    ggdm_net net;
    ggdm_graph_io io;
    int n;
    ggdm_status st = make_net(cfg, N, H, W, Lt, &nc, &net);
    if (st != GGDM_OK)
        return st;
    if (!params || !z || !t || !text || !ws)
        return GGDM_ERR_ARG;
    for (n = 0; n < N; n++)
        if (t[n] < 0 || t[n] > (1 << 24))
            return GGDM_ERR_ARG;
    memset(&io, 0, sizeof io);
    io.in[0] = z;
    io.in[1] = text;
    io.steps[0] = t;
    io.out[0] = eps;
    io.dout = deps;
    io.dx = dz;
    io.trace = (ggdm_graph_trace_fn)trace;
    io.trace_ctx = trace_ctx;
    return ggdm_net_run(&net, ex && ex->unet ? ex->unet : ggdm_backend_cpu(), params, N,
                        dz ? GGDM_GRAPH_GRAD_INPUT : GGDM_GRAPH_FORWARD, &io, ws, ws_bytes, ex);
}

ggdm_status ggdm_unet2d_forward(const ggdm_unet2d_cfg *cfg, const float *params, int N, int H, int W, int Lt,
                                const float *z, const int64_t *t, const float *text, float *eps, void *workspace,
                                size_t ws_bytes, ggdm_unet2d_trace_fn trace, void *trace_ctx, const ggdm_exec *ex)
{
    if (!eps)
        return GGDM_ERR_ARG;
    return run(cfg, params, N, H, W, Lt, z, t, text, NULL, eps, NULL, workspace, ws_bytes, trace, trace_ctx, ex);
}

ggdm_status ggdm_unet2d_vjp(const ggdm_unet2d_cfg *cfg, const float *params, int N, int H, int W, int Lt,
                            const float *z, const int64_t *t, const float *text, const float *deps, float *eps,
                            float *dz, void *workspace, size_t ws_bytes, const ggdm_exec *ex)
{
    if (!deps || !dz)
        return GGDM_ERR_ARG;
    return run(cfg, params, N, H, W, Lt, z, t, text, deps, eps, dz, workspace, ws_bytes, NULL, NULL, ex);
}

/* ------------------------------------------------------------------ taped runs */

ggdm_status ggdm_unet2d_tape_forward(const ggdm_unet2d_cfg *cfg, const float *params, int N, int H, int W, int Lt,
                                     const float *z, const int64_t *t, const float *text, float *eps,
                                     void *workspace, size_t ws_bytes, const ggdm_exec *ex, ggdm_unet2d_tape *tape)
{
    net_cfg nc;
    ggdm_net net;
    ggdm_graph_io io;
    const ggdm_backend *be = ggdm_backend_cpu();
    int n;
    ggdm_status st;
    if (!tape)
        return GGDM_ERR_ARG;
    memset(tape, 0, sizeof *tape);
    st = make_net(cfg, N, H, W, Lt, &nc, &net);
    if (st != GGDM_OK)
        return st;
    if (!params || !z || !t || !text || !eps || !workspace)
        return GGDM_ERR_ARG;
    for (n = 0; n < N; n++)
        if (t[n] < 0 || t[n] > (1 << 24))
            return GGDM_ERR_ARG;
    st = ggdm_net_prepare(&net, be, N, GGDM_GRAPH_GRAD_INPUT, workspace, ws_bytes, &tape->g, &tape->arena, NULL);
    if (st != GGDM_OK)
        return st;
    memset(&io, 0, sizeof io);
    io.in[0] = z;
    io.in[1] = text;
    io.steps[0] = t;
    io.out[0] = eps;
    ggdm_graph_forward(tape->g, be, params, tape->arena, &io, ex);
    tape->cfg = cfg;
    tape->params = params;
    tape->ex = ex;
    tape->N = N;
    tape->H = H;
    tape->W = W;
    tape->Lt = Lt;
    return GGDM_OK;
}

ggdm_status ggdm_unet2d_tape_vjp(ggdm_unet2d_tape *tape, const float *deps, float *dz)
{
    ggdm_graph_io io;
    if (!tape || !tape->g || tape->done || !deps || !dz)
        return GGDM_ERR_ARG;
    memset(&io, 0, sizeof io);
    io.dout = deps;
    io.dx = dz;
    ggdm_graph_backward(tape->g, ggdm_backend_cpu(), tape->params, tape->arena, &io, tape->ex);
    tape->done = 1;
    return GGDM_OK;
}
