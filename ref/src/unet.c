/*
 * The Unet1D score network (original.md §2): its parameter table (state-dict order: init's
 * Philox streams and the checkpoints' layout) and its builder, which registers parameter
 * views and wires the graph of ops (ggdm/graph.h) in the forward order docs/nn.md documents
 * ("The network"). Planning, memory, running forward and backward, sample chunks and tracing
 * are the graph runner's (ref/src/graph.c); the ops are ref/src/ops.
 */
#include "ggdm/unet.h"

#include <stdio.h>
#include <string.h>

#include "ggdm/attention.h"
#include "ggdm/backend.h"
#include "ggdm/graph.h"
#include "ggdm/dmath.h"
#include "ggdm/layers.h"
#include "ggdm/reduce.h"
#include "ggdm/rng.h"

#define MAXL GGDM_UNET_MAX_LEVELS

/* ------------------------------------------------------------------ module tables */

/* A module's parameters (offsets into the flat array, in floats) and shape. */
typedef struct rb_plan {
    int cin, cout, L, has_res;
    uint64_t mlp_w, mlp_b, w1, b1, n1w, n1b, w2, b2, n2w, n2b, rw, rbias;
} rb_plan;

typedef struct attn_plan {
    int C, L, linear;
    uint64_t qkv_w, out_w, out_b, out_g, norm_g;
} attn_plan;

typedef struct samp_plan {
    int cin, cout, Lin, Lout, K, stride, pad, up;
    uint64_t w, b;
} samp_plan;

typedef struct plan {
    ggdm_unet_cfg cfg;
    int tdim;
    uint64_t n_params;
    int n_tensors;
    uint64_t init_w, init_b, t1_w, t1_b, t2_w, t2_b, fin_w, fin_b;
    rb_plan rb[4 * MAXL + 3];
    int n_rb;
    attn_plan at[2 * MAXL + 1];
    int n_at;
    samp_plan sp[2 * MAXL];
    int n_sp;
} plan;

/* ------------------------------------------------------------------ parameter walk */

typedef struct walker {
    const ggdm_unet_cfg *cfg;
    uint64_t off;
    int count;
    int want;                    /* tensor index to report, or -1 */
    ggdm_unet_tensor_info *info; /* filled when count == want */
} walker;

static uint64_t add_tensor(walker *w, const char *name, int ndim, uint64_t s0, uint64_t s1, uint64_t s2,
                           uint64_t fan_in, int init)
{
    uint64_t off = w->off, n = s0 * (ndim > 1 ? s1 : 1) * (ndim > 2 ? s2 : 1);
    if (w->count == w->want && w->info) {
        ggdm_unet_tensor_info *t = w->info;
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", name);
        t->ndim = ndim;
        t->shape[0] = s0;
        t->shape[1] = ndim > 1 ? s1 : 0;
        t->shape[2] = ndim > 2 ? s2 : 0;
        t->offset = off;
        t->count = n;
        t->fan_in = fan_in;
        t->init = init;
    }
    w->count++;
    w->off += n;
    return off;
}

static void name2(char *buf, const char *a, const char *b)
{
    snprintf(buf, GGDM_UNET_NAME_LEN, "%s.%s", a, b);
}

static void walk_rb(walker *w, rb_plan *r, const char *pre, int cin, int cout, int tdim)
{
    char n[GGDM_UNET_NAME_LEN];
    r->cin = cin;
    r->cout = cout;
    r->has_res = cin != cout;
    name2(n, pre, "mlp.1.weight");      r->mlp_w = add_tensor(w, n, 2, 2u * cout, tdim, 0, tdim, 0);
    name2(n, pre, "mlp.1.bias");        r->mlp_b = add_tensor(w, n, 1, 2u * cout, 0, 0, tdim, 0);
    name2(n, pre, "block1.proj.weight"); r->w1 = add_tensor(w, n, 3, cout, cin, 3, 3u * cin, 0);
    name2(n, pre, "block1.proj.bias");  r->b1 = add_tensor(w, n, 1, cout, 0, 0, 3u * cin, 0);
    name2(n, pre, "block1.norm.weight"); r->n1w = add_tensor(w, n, 1, cout, 0, 0, 0, 1);
    name2(n, pre, "block1.norm.bias");  r->n1b = add_tensor(w, n, 1, cout, 0, 0, 0, 2);
    name2(n, pre, "block2.proj.weight"); r->w2 = add_tensor(w, n, 3, cout, cout, 3, 3u * cout, 0);
    name2(n, pre, "block2.proj.bias");  r->b2 = add_tensor(w, n, 1, cout, 0, 0, 3u * cout, 0);
    name2(n, pre, "block2.norm.weight"); r->n2w = add_tensor(w, n, 1, cout, 0, 0, 0, 1);
    name2(n, pre, "block2.norm.bias");  r->n2b = add_tensor(w, n, 1, cout, 0, 0, 0, 2);
    if (r->has_res) {
        name2(n, pre, "res_conv.weight"); r->rw = add_tensor(w, n, 3, cout, cin, 1, cin, 0);
        name2(n, pre, "res_conv.bias");   r->rbias = add_tensor(w, n, 1, cout, 0, 0, cin, 0);
    }
}

static void walk_attn(walker *w, attn_plan *a, const char *pre, int C, int hd, int linear)
{
    char n[GGDM_UNET_NAME_LEN];
    a->C = C;
    a->linear = linear;
    name2(n, pre, "fn.fn.to_qkv.weight"); a->qkv_w = add_tensor(w, n, 3, 3u * hd, C, 1, C, 0);
    if (linear) {
        name2(n, pre, "fn.fn.to_out.0.weight"); a->out_w = add_tensor(w, n, 3, C, hd, 1, hd, 0);
        name2(n, pre, "fn.fn.to_out.0.bias");   a->out_b = add_tensor(w, n, 1, C, 0, 0, hd, 0);
        name2(n, pre, "fn.fn.to_out.1.g");      a->out_g = add_tensor(w, n, 3, 1, C, 1, 0, 1);
    } else {
        name2(n, pre, "fn.fn.to_out.weight"); a->out_w = add_tensor(w, n, 3, C, hd, 1, hd, 0);
        name2(n, pre, "fn.fn.to_out.bias");   a->out_b = add_tensor(w, n, 1, C, 0, 0, hd, 0);
    }
    name2(n, pre, "fn.norm.g"); a->norm_g = add_tensor(w, n, 3, 1, C, 1, 0, 1);
}

static void walk_samp(walker *w, samp_plan *s, const char *wname, const char *bname, int cin, int cout, int K)
{
    s->cin = cin;
    s->cout = cout;
    s->K = K;
    s->w = add_tensor(w, wname, 3, cout, cin, K, (uint64_t)cin * K, 0);
    s->b = add_tensor(w, bname, 1, cout, 0, 0, (uint64_t)cin * K, 0);
}

/*
 * Walks every parameter in state-dict order (downs, ups, mid, final: the original's module
 * registration order), filling the module tables of p in FORWARD order: ResnetBlocks down
 * 0 .. 2nl-1, mid 2nl and 2nl+1, up 2nl+2 .. 4nl+1, final 4nl+2; attentions down 0 .. nl-1,
 * mid nl, up nl+1 .. 2nl; sampling convs down 0 .. nl-1, up nl .. 2nl-1.
 */
static void walk_params(plan *p, walker *w)
{
    const ggdm_unet_cfg *c = &p->cfg;
    int dims[MAXL + 1], i, nl = c->n_levels, hd = c->heads * c->dim_head, tdim = 4 * c->dim;
    char pre[GGDM_UNET_NAME_LEN], wn[GGDM_UNET_NAME_LEN], bn[GGDM_UNET_NAME_LEN];
    dims[0] = c->dim;
    for (i = 0; i < nl; i++)
        dims[i + 1] = c->dim * c->dim_mults[i];
    p->n_rb = 4 * nl + 3;
    p->n_at = 2 * nl + 1;
    p->n_sp = 2 * nl;
    p->init_w = add_tensor(w, "init_conv.weight", 3, c->dim, 1, 7, 7, 0);
    p->init_b = add_tensor(w, "init_conv.bias", 1, c->dim, 0, 0, 7, 0);
    p->t1_w = add_tensor(w, "time_mlp.1.weight", 2, tdim, c->dim, 0, c->dim, 0);
    p->t1_b = add_tensor(w, "time_mlp.1.bias", 1, tdim, 0, 0, c->dim, 0);
    p->t2_w = add_tensor(w, "time_mlp.3.weight", 2, tdim, tdim, 0, tdim, 0);
    p->t2_b = add_tensor(w, "time_mlp.3.bias", 1, tdim, 0, 0, tdim, 0);
    for (i = 0; i < nl; i++) {
        int cin = dims[i], cout = dims[i + 1], last = i == nl - 1;
        samp_plan *s = &p->sp[i];
        snprintf(pre, sizeof pre, "downs.%d.0", i);
        walk_rb(w, &p->rb[2 * i], pre, cin, cin, tdim);
        snprintf(pre, sizeof pre, "downs.%d.1", i);
        walk_rb(w, &p->rb[2 * i + 1], pre, cin, cin, tdim);
        snprintf(pre, sizeof pre, "downs.%d.2", i);
        walk_attn(w, &p->at[i], pre, cin, hd, 1);
        snprintf(wn, sizeof wn, "downs.%d.3.weight", i);
        snprintf(bn, sizeof bn, "downs.%d.3.bias", i);
        walk_samp(w, s, wn, bn, cin, cout, last ? 3 : 4);
        s->stride = last ? 1 : 2;
        s->pad = 1;
        s->up = 0;
    }
    for (i = nl - 1; i >= 0; i--) {
        int j = nl - 1 - i, cin = dims[i], cout = dims[i + 1], last = i == 0;
        samp_plan *s = &p->sp[nl + j];
        snprintf(pre, sizeof pre, "ups.%d.0", j);
        walk_rb(w, &p->rb[2 * nl + 2 + 2 * j], pre, cout + cin, cout, tdim);
        snprintf(pre, sizeof pre, "ups.%d.1", j);
        walk_rb(w, &p->rb[2 * nl + 3 + 2 * j], pre, cout + cin, cout, tdim);
        snprintf(pre, sizeof pre, "ups.%d.2", j);
        walk_attn(w, &p->at[nl + 1 + j], pre, cout, hd, 1);
        snprintf(wn, sizeof wn, last ? "ups.%d.3.weight" : "ups.%d.3.1.weight", j);
        snprintf(bn, sizeof bn, last ? "ups.%d.3.bias" : "ups.%d.3.1.bias", j);
        walk_samp(w, s, wn, bn, cout, cin, 3);
        s->stride = 1;
        s->pad = 1;
        s->up = !last;
    }
    walk_rb(w, &p->rb[2 * nl], "mid_block1", dims[nl], dims[nl], tdim);
    walk_attn(w, &p->at[nl], "mid_attn", dims[nl], hd, 0);
    walk_rb(w, &p->rb[2 * nl + 1], "mid_block2", dims[nl], dims[nl], tdim);
    walk_rb(w, &p->rb[4 * nl + 2], "final_res_block", 2 * c->dim, c->dim, tdim);
    p->fin_w = add_tensor(w, "final_conv.weight", 3, 1, c->dim, 1, c->dim, 0);
    p->fin_b = add_tensor(w, "final_conv.bias", 1, 1, 0, 0, c->dim, 0);
    p->n_params = w->off;
    p->n_tensors = w->count;
}

/* ------------------------------------------------------------------ configuration */

void ggdm_unet_cfg_default(ggdm_unet_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->dim = 64;
    cfg->n_levels = 4;
    cfg->dim_mults[0] = 1;
    cfg->dim_mults[1] = 2;
    cfg->dim_mults[2] = 4;
    cfg->dim_mults[3] = 8;
    cfg->groups = 8;
    cfg->length = 64;
    cfg->heads = 4;
    cfg->dim_head = 32;
}

static ggdm_status fail(char *msg, const char *fmt, int a, int b)
{
    if (msg)
        snprintf(msg, GGDM_UNET_MSG_LEN, fmt, a, b);
    return GGDM_ERR_ARG;
}

ggdm_status ggdm_unet_cfg_check(const ggdm_unet_cfg *c, char *msg)
{
    int i, div;
    if (msg)
        msg[0] = 0;
    if (!c)
        return fail(msg, "unet: no configuration", 0, 0);
    if (c->dim < 4 || c->dim > 4096 || c->dim % 2)
        return fail(msg, "unet: dim = %d must be even and in 4 .. 4096 (the time embedding needs dim/2 >= 2)",
                    c->dim, 0);
    if (c->n_levels < 1 || c->n_levels > MAXL)
        return fail(msg, "unet: %d dim_mults given; 1 .. %d are supported", c->n_levels, MAXL);
    for (i = 0; i < c->n_levels; i++)
        if (c->dim_mults[i] < 1 || c->dim_mults[i] > 64)
            return fail(msg, "unet: dim_mults[%d] = %d must be in 1 .. 64", i, c->dim_mults[i]);
    if (c->groups < 1)
        return fail(msg, "unet: groups = %d must be at least 1", c->groups, 0);
    if (c->dim % c->groups)
        return fail(msg, "unet: dim = %d is not divisible by groups = %d (GroupNorm)", c->dim, c->groups);
    for (i = 0; i < c->n_levels; i++)
        if ((c->dim * c->dim_mults[i]) % c->groups)
            return fail(msg, "unet: channels dim * dim_mults[%d] = %d are not divisible by groups (GroupNorm)", i,
                        c->dim * c->dim_mults[i]);
    if (c->heads < 1 || c->heads > 64 || c->dim_head < 1 || c->dim_head > 1024)
        return fail(msg, "unet: heads = %d and dim_head = %d must be in 1 .. 64 and 1 .. 1024", c->heads,
                    c->dim_head);
    div = 1 << (c->n_levels - 1);
    if (c->length < 1 || c->length > (1 << 20))
        return fail(msg, "unet: length D = %d must be in 1 .. 2^20", c->length, 0);
    if (c->length % div)
        return fail(msg, "unet: length D = %d is not divisible by 2^(levels-1) = %d (downsampling)", c->length, div);
    return GGDM_OK;
}

static ggdm_status make_params(const ggdm_unet_cfg *cfg, plan *p, int want, ggdm_unet_tensor_info *info)
{
    walker w;
    ggdm_status st = ggdm_unet_cfg_check(cfg, NULL);
    if (st != GGDM_OK)
        return st;
    memset(p, 0, sizeof *p);
    p->cfg = *cfg;
    w.cfg = cfg;
    w.off = 0;
    w.count = 0;
    w.want = want;
    w.info = info;
    walk_params(p, &w);
    return GGDM_OK;
}

ggdm_status ggdm_unet_num_tensors(const ggdm_unet_cfg *cfg, int *count)
{
    plan p;
    ggdm_status st;
    if (!count)
        return GGDM_ERR_ARG;
    st = make_params(cfg, &p, -1, NULL);
    *count = st == GGDM_OK ? p.n_tensors : 0;
    return st;
}

ggdm_status ggdm_unet_num_params(const ggdm_unet_cfg *cfg, uint64_t *count)
{
    plan p;
    ggdm_status st;
    if (!count)
        return GGDM_ERR_ARG;
    st = make_params(cfg, &p, -1, NULL);
    *count = st == GGDM_OK ? p.n_params : 0;
    return st;
}

ggdm_status ggdm_unet_tensor(const ggdm_unet_cfg *cfg, int i, ggdm_unet_tensor_info *info)
{
    plan p;
    ggdm_status st;
    if (!info || i < 0)
        return GGDM_ERR_ARG;
    st = make_params(cfg, &p, i, info);
    if (st != GGDM_OK)
        return st;
    return i < p.n_tensors ? GGDM_OK : GGDM_ERR_ARG;
}

ggdm_status ggdm_unet_init(const ggdm_unet_cfg *cfg, uint64_t seed, float *params, uint64_t count)
{
    plan p;
    int i;
    ggdm_status st = make_params(cfg, &p, -1, NULL);
    if (st != GGDM_OK)
        return st;
    if (!params)
        return GGDM_ERR_ARG;
    if (count < p.n_params)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    for (i = 0; i < p.n_tensors; i++) {
        ggdm_unet_tensor_info t;
        uint64_t e;
        ggdm_unet_tensor(cfg, i, &t);
        if (t.init == 1 || t.init == 2) {
            for (e = 0; e < t.count; e++)
                params[t.offset + e] = t.init == 1 ? 1.0f : 0.0f;
        } else {
            float b = (float)(1.0 / ggdm_sqrt((double)t.fan_in));
            uint64_t stream = ggdm_stream_id(GGDM_STREAM_WEIGHT_INIT, 0, (uint32_t)i);
            ggdm_rng_fill_uniform(seed, stream, 0, params + t.offset, t.count);
            for (e = 0; e < t.count; e++)
                params[t.offset + e] = b * (2.0f * params[t.offset + e] - 1.0f);
        }
    }
    return GGDM_OK;
}

/* ------------------------------------------------------------------ the graph (builder) */

/* Module lengths: level i runs at length >> i. */
static void set_lengths(plan *p)
{
    const ggdm_unet_cfg *c = &p->cfg;
    int nl = c->n_levels, i;
    p->tdim = 4 * c->dim;
    for (i = 0; i < nl; i++) {
        int L = c->length >> i, j = nl - 1 - i;
        p->rb[2 * i].L = p->rb[2 * i + 1].L = L;
        p->at[i].L = L;
        p->sp[i].Lin = L;
        p->sp[i].Lout = ggdm_conv1d_out_len(L, p->sp[i].K, p->sp[i].stride, p->sp[i].pad);
        p->rb[2 * nl + 2 + 2 * j].L = p->rb[2 * nl + 3 + 2 * j].L = L;
        p->at[nl + 1 + j].L = L;
        p->sp[nl + j].Lin = L;
        p->sp[nl + j].Lout = p->sp[nl + j].up ? 2 * L : L;
    }
    p->rb[2 * nl].L = p->rb[2 * nl + 1].L = c->length >> (nl - 1);
    p->at[nl].L = c->length >> (nl - 1);
    p->rb[4 * nl + 2].L = c->length;
}

typedef struct builder {
    ggdm_graph *g;
    const plan *p;
} builder;

static int prm(builder *b, uint64_t off, int C, int H, int W)
{
    return ggdm_graph_param(b->g, off, C, H, W);
}

static int node(builder *b, ggdm_op_id op, const ggdm_op_attr *a, int i0, int i1, int i2, const char *trace)
{
    int in[3];
    in[0] = i0;
    in[1] = i1;
    in[2] = i2;
    return ggdm_graph_op(b->g, op, a, in, 3, trace, 3);
}

static ggdm_op_attr conv_attr(int cout, int K, int stride, int pad)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    a.Cout = cout;
    a.KH = 1;
    a.KW = K;
    a.sh = 1;
    a.sw = stride;
    a.pw = pad;
    return a;
}

static int conv(builder *b, int x, uint64_t w, int wv, uint64_t bias, int has_bias, int cin, int cout, int K,
                int stride, int pad, const char *trace)
{
    ggdm_op_attr a = conv_attr(cout, K, stride, pad);
    int wi = wv >= 0 ? wv : prm(b, w, cout, cin, K);
    return node(b, GGDM_OP_CONV, &a, x, wi, has_bias ? prm(b, bias, cout, 1, 1) : -1, trace);
}

static int norm(builder *b, int x, int kind, uint64_t gamma, int has_beta, uint64_t beta, int C)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    a.kind = kind;
    a.G = b->p->cfg.groups;
    a.eps = GGDM_NORM_EPS;
    return node(b, GGDM_OP_NORM, &a, x, prm(b, gamma, C, 1, 1), has_beta ? prm(b, beta, C, 1, 1) : -1, NULL);
}

static int simple(builder *b, ggdm_op_id op, int x, int y, const char *trace)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    return node(b, op, &a, x, y, -1, trace);
}

static int linear(builder *b, int x, uint64_t w, uint64_t bias, int in, int out, const char *trace, int ndim)
{
    ggdm_op_attr a;
    int i[3];
    memset(&a, 0, sizeof a);
    a.Cout = out;
    i[0] = x;
    i[1] = prm(b, w, out, in, 1);
    i[2] = prm(b, bias, out, 1, 1);
    return ggdm_graph_op(b->g, GGDM_OP_LINEAR, &a, i, 3, trace, ndim);
}

static int wstd(builder *b, uint64_t w, int cout, int fan)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    a.Cout = cout;
    a.C = fan;
    a.H = a.W = 1;
    return node(b, GGDM_OP_WSTD, &a, prm(b, w, cout, 1, fan), -1, -1, NULL);
}

/* ResnetBlock (docs/nn.md): ss = mlp(st); h = silu(film(norm1(conv1(x; ws(w1))), ss));
 * out = silu(norm2(conv2(h; ws(w2)))) + (res_conv(x) or x). */
static int build_rb(builder *b, const rb_plan *r, int x, int st, const char *name)
{
    int ss = linear(b, st, r->mlp_w, r->mlp_b, b->p->tdim, 2 * r->cout, NULL, 3), v, res;
    v = conv(b, x, 0, wstd(b, r->w1, r->cout, 3 * r->cin), r->b1, 1, r->cin, r->cout, 3, 1, 1, NULL);
    v = norm(b, v, GGDM_NORM_GROUP, r->n1w, 1, r->n1b, r->cout);
    v = simple(b, GGDM_OP_FILM, v, ss, NULL);
    v = simple(b, GGDM_OP_SILU, v, -1, NULL);
    v = conv(b, v, 0, wstd(b, r->w2, r->cout, 3 * r->cout), r->b2, 1, r->cout, r->cout, 3, 1, 1, NULL);
    v = norm(b, v, GGDM_NORM_GROUP, r->n2w, 1, r->n2b, r->cout);
    v = simple(b, GGDM_OP_SILU, v, -1, NULL);
    res = r->has_res ? conv(b, x, r->rw, -1, r->rbias, 1, r->cin, r->cout, 1, 1, 0, NULL) : x;
    return simple(b, GGDM_OP_ADD, v, res, name);
}

/* Residual(PreNorm(attention)): x + proj (full) or x + norm(proj) (linear). */
static int build_attn(builder *b, const attn_plan *at, int x, const char *name)
{
    const ggdm_unet_cfg *c = &b->p->cfg;
    int hd = c->heads * c->dim_head, L = at->L, v, qkv, o;
    ggdm_op_attr a;
    v = norm(b, x, GGDM_NORM_CHANNEL, at->norm_g, 0, 0, at->C);
    qkv = conv(b, v, at->qkv_w, -1, 0, 0, at->C, 3 * hd, 1, 1, 0, NULL);
    memset(&a, 0, sizeof a);
    a.heads = c->heads;
    a.dh = c->dim_head;
    if (at->linear) {
        o = node(b, GGDM_OP_LINATTN, &a, qkv, -1, -1, NULL);
    } else { /* self-attention: q, k, v are views into the packed qkv */
        a.Lq = a.Lk = L;
        a.sq = a.sk = a.sv = 3L * hd * L;
        a.oq = 0;
        a.ok = (long)hd * L;
        a.ov = 2L * hd * L;
        o = node(b, GGDM_OP_ATTN, &a, qkv, qkv, qkv, NULL);
    }
    v = conv(b, o, at->out_w, -1, at->out_b, 1, hd, at->C, 1, 1, 0, NULL);
    if (at->linear)
        v = norm(b, v, GGDM_NORM_CHANNEL, at->out_g, 0, 0, at->C);
    return simple(b, GGDM_OP_ADD, v, x, name);
}

static int build_samp(builder *b, const samp_plan *s, int x, const char *name)
{
    if (s->up)
        x = simple(b, GGDM_OP_UPSAMPLE, x, -1, NULL);
    return conv(b, x, s->w, -1, s->b, 1, s->cin, s->cout, s->K, s->stride, s->pad, name);
}

static int cat(builder *b, int x, int y)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    a.C2 = b->g->val[y].C;
    return node(b, GGDM_OP_CAT, &a, x, y, -1, NULL);
}

/* The whole network, in the forward order of docs/nn.md ("The network"). */
static ggdm_status unet_build(const void *cfgv, ggdm_graph *g)
{
    plan p;
    builder b;
    const ggdm_unet_cfg *c = (const ggdm_unet_cfg *)cfgv;
    int nl, i, x, r, st, t, skip[2 * MAXL], nskip = 0, rbi = 0, ati = 0, spi = 0;
    char name[GGDM_UNET_NAME_LEN];
    ggdm_op_attr a;
    ggdm_status s = make_params(c, &p, -1, NULL);
    if (s != GGDM_OK)
        return s;
    set_lengths(&p);
    b.g = g;
    b.p = &p;
    nl = c->n_levels;
    /* time path */
    t = ggdm_graph_steps(g, 0);
    memset(&a, 0, sizeof a);
    a.Cout = c->dim;
    {
        int in[1];
        in[0] = t;
        t = ggdm_graph_op(g, GGDM_OP_TEMB, &a, in, 1, "time_embedding", 2);
    }
    t = linear(&b, t, p.t1_w, p.t1_b, c->dim, p.tdim, NULL, 2);
    t = simple(&b, GGDM_OP_GELU, t, -1, NULL);
    t = linear(&b, t, p.t2_w, p.t2_b, p.tdim, p.tdim, "time_mlp", 2);
    st = simple(&b, GGDM_OP_SILU, t, -1, NULL);
    /* the stream */
    x = ggdm_graph_input(g, 0, 1, 1, c->length, "input");
    r = x = conv(&b, x, p.init_w, -1, p.init_b, 1, 1, c->dim, 7, 1, 3, "init_conv");
    for (i = 0; i < nl; i++) {
        snprintf(name, sizeof name, "downs.%d.0", i);
        x = skip[nskip++] = build_rb(&b, &p.rb[rbi++], x, st, name);
        snprintf(name, sizeof name, "downs.%d.1", i);
        x = build_rb(&b, &p.rb[rbi++], x, st, name);
        snprintf(name, sizeof name, "downs.%d.2", i);
        x = skip[nskip++] = build_attn(&b, &p.at[ati++], x, name);
        snprintf(name, sizeof name, "downs.%d.3", i);
        x = build_samp(&b, &p.sp[spi++], x, name);
    }
    x = build_rb(&b, &p.rb[rbi++], x, st, "mid_block1");
    x = build_attn(&b, &p.at[ati++], x, "mid_attn");
    x = build_rb(&b, &p.rb[rbi++], x, st, "mid_block2");
    for (i = nl - 1; i >= 0; i--) {
        int j = nl - 1 - i;
        x = cat(&b, x, skip[--nskip]);
        snprintf(name, sizeof name, "ups.%d.0", j);
        x = build_rb(&b, &p.rb[rbi++], x, st, name);
        x = cat(&b, x, skip[--nskip]);
        snprintf(name, sizeof name, "ups.%d.1", j);
        x = build_rb(&b, &p.rb[rbi++], x, st, name);
        snprintf(name, sizeof name, "ups.%d.2", j);
        x = build_attn(&b, &p.at[ati++], x, name);
        snprintf(name, sizeof name, "ups.%d.3", j);
        x = build_samp(&b, &p.sp[spi++], x, name);
    }
    x = cat(&b, x, r);
    x = build_rb(&b, &p.rb[rbi++], x, st, "final_res_block");
    x = conv(&b, x, p.fin_w, -1, p.fin_b, 1, c->dim, 1, 1, 1, 0, "final_conv");
    ggdm_graph_output(g, x, 0);
    return g->status;
}

/* Bounds: nodes per ResnetBlock <= 13, attention <= 7, sampling 2, cat 1, time path 6,
 * init and final convolutions; values <= nodes + parameter views (one per tensor) + inputs. */
static ggdm_status unet_size(const void *cfgv, int N, int *max_nodes, int *max_vals)
{
    const ggdm_unet_cfg *c = (const ggdm_unet_cfg *)cfgv;
    int nl, nt;
    ggdm_status st = ggdm_unet_num_tensors(c, &nt);
    (void)N;
    if (st != GGDM_OK)
        return st;
    nl = c->n_levels;
    *max_nodes = 8 + 13 * (4 * nl + 3) + 7 * (2 * nl + 1) + 2 * (2 * nl) + (2 * nl + 1) + 2;
    *max_vals = *max_nodes + nt + 4;
    return GGDM_OK;
}

static void unet_net(const ggdm_unet_cfg *cfg, ggdm_net *net)
{
    uint64_t np = 0;
    memset(net, 0, sizeof *net);
    ggdm_unet_num_params(cfg, &np);
    net->cfg = cfg;
    net->build = unet_build;
    net->size = unet_size;
    net->n_params = np;
    net->per_sample = 1;
    net->in_floats[0] = (size_t)cfg->length;
    net->out_floats[0] = (size_t)cfg->length;
}

/* ------------------------------------------------------------------ workspace and flops */

static ggdm_status check_cfg_n(const ggdm_unet_cfg *cfg, int N)
{
    ggdm_status st = ggdm_unet_cfg_check(cfg, NULL);
    if (st != GGDM_OK)
        return st;
    return N < 1 || N > (1 << 24) ? GGDM_ERR_ARG : GGDM_OK;
}

ggdm_status ggdm_unet_workspace_bytes_ex(const ggdm_unet_cfg *cfg, int N, ggdm_unet_mode mode, const ggdm_exec *ex,
                                         size_t *bytes)
{
    ggdm_net net;
    ggdm_status st;
    if (!bytes)
        return GGDM_ERR_ARG;
    *bytes = 0;
    if (mode != GGDM_UNET_FORWARD && mode != GGDM_UNET_BACKWARD)
        return GGDM_ERR_ARG;
    st = check_cfg_n(cfg, N);
    if (st != GGDM_OK)
        return st;
    unet_net(cfg, &net);
    return ggdm_net_workspace_bytes(&net, N, mode == GGDM_UNET_BACKWARD, ex, bytes);
}

ggdm_status ggdm_unet_workspace_bytes(const ggdm_unet_cfg *cfg, int N, ggdm_unet_mode mode, size_t *bytes)
{
    return ggdm_unet_workspace_bytes_ex(cfg, N, mode, NULL, bytes);
}

ggdm_status ggdm_unet_flops(const ggdm_unet_cfg *cfg, int N, double *flops)
{
    ggdm_net net;
    ggdm_status st;
    if (!flops)
        return GGDM_ERR_ARG;
    *flops = 0;
    st = check_cfg_n(cfg, N);
    if (st != GGDM_OK)
        return st;
    unet_net(cfg, &net);
    return ggdm_net_flops(&net, N, flops); /* the ops' own counts (ggdm_op_info) */
}

/* ------------------------------------------------------------------ runs */

static ggdm_status check_inputs(const ggdm_unet_cfg *cfg, int N, const float *params, const float *x,
                                const int64_t *t, void *ws)
{
    int n;
    ggdm_status st = check_cfg_n(cfg, N);
    if (st != GGDM_OK)
        return st;
    if (!params || !x || !t || !ws)
        return GGDM_ERR_ARG;
    for (n = 0; n < N; n++)
        if (t[n] < 0 || t[n] > (1 << 24))
            return GGDM_ERR_ARG;
    return GGDM_OK;
}

static const ggdm_backend *backend_of(const ggdm_exec *ex)
{
    return ex && ex->unet ? ex->unet : ggdm_backend_cpu();
}

static ggdm_status unet_run(const ggdm_unet_cfg *cfg, const float *params, int N, const float *x, const int64_t *t,
                            const float *deps, float *eps, float *dx, float *dp, int backward, void *workspace,
                            size_t ws_bytes, ggdm_unet_trace_fn trace, void *trace_ctx, const ggdm_exec *ex)
{
    ggdm_net net;
    ggdm_graph_io io;
    int mode = 0;
    ggdm_status st = check_inputs(cfg, N, params, x, t, workspace);
    if (st != GGDM_OK)
        return st;
    /* (the run refuses a workspace its plan does not fit in: GGDM_ERR_BUFFER_TOO_SMALL) */
    unet_net(cfg, &net);
    memset(&io, 0, sizeof io);
    io.in[0] = x;
    io.steps[0] = t;
    io.out[0] = eps;
    io.trace = (ggdm_graph_trace_fn)trace;
    io.trace_ctx = trace_ctx;
    if (backward) {
        io.dout = deps;
        io.dx = dx;
        io.dparams = dp;
        mode = (dx ? GGDM_GRAPH_GRAD_INPUT : 0) | (dp ? GGDM_GRAPH_GRAD_PARAMS : 0);
    }
    return ggdm_net_run(&net, backend_of(ex), params, N, mode, &io, workspace, ws_bytes, ex);
}

ggdm_status ggdm_unet_forward_ex(const ggdm_unet_cfg *cfg, const float *params, int N, const float *x,
                                 const int64_t *t, float *eps, void *workspace, size_t ws_bytes,
                                 ggdm_unet_trace_fn trace, void *trace_ctx, const ggdm_exec *ex)
{
    if (!eps)
        return GGDM_ERR_ARG;
    return unet_run(cfg, params, N, x, t, NULL, eps, NULL, NULL, 0, workspace, ws_bytes, trace, trace_ctx, ex);
}

ggdm_status ggdm_unet_forward(const ggdm_unet_cfg *cfg, const float *params, int N, const float *x,
                              const int64_t *t, float *eps, void *workspace, size_t ws_bytes,
                              ggdm_unet_trace_fn trace, void *trace_ctx)
{
    return ggdm_unet_forward_ex(cfg, params, N, x, t, eps, workspace, ws_bytes, trace, trace_ctx, NULL);
}

ggdm_status ggdm_unet_backward_ex(const ggdm_unet_cfg *cfg, const float *params, int N, const float *x,
                                  const int64_t *t, const float *deps, float *eps, float *dx, float *dparams,
                                  void *workspace, size_t ws_bytes, const ggdm_exec *ex)
{
    if (!deps)
        return GGDM_ERR_ARG;
    return unet_run(cfg, params, N, x, t, deps, eps, dx, dparams, 1, workspace, ws_bytes, NULL, NULL, ex);
}

ggdm_status ggdm_unet_backward(const ggdm_unet_cfg *cfg, const float *params, int N, const float *x,
                               const int64_t *t, const float *deps, float *eps, float *dx, float *dparams,
                               void *workspace, size_t ws_bytes)
{
    return ggdm_unet_backward_ex(cfg, params, N, x, t, deps, eps, dx, dparams, workspace, ws_bytes, NULL);
}

/* ------------------------------------------------------------------ training loss */

ggdm_status ggdm_unet_loss_workspace_bytes(const ggdm_unet_cfg *cfg, int N, size_t *bytes)
{
    ggdm_status st = ggdm_unet_workspace_bytes(cfg, N, GGDM_UNET_BACKWARD, bytes);
    if (st == GGDM_OK) {
        size_t extra = 2u * sizeof(float) * (size_t)N * (size_t)cfg->length + 128u; /* < 2^50 */
        if (*bytes > SIZE_MAX - extra) {
            *bytes = 0;
            return GGDM_ERR_ARG;
        }
        *bytes += extra;
    }
    return st;
}

ggdm_status ggdm_unet_loss_grad(const ggdm_unet_cfg *cfg, const float *params, int N, const float *x0,
                                const int64_t *t, const float *z, const float *sqrt_ab, const float *sqrt_1mab,
                                int T, float *loss, float *dparams, void *workspace, size_t ws_bytes)
{
    return ggdm_unet_loss_grad_ex(cfg, params, N, x0, t, z, sqrt_ab, sqrt_1mab, T, loss, dparams, workspace,
                                  ws_bytes, NULL);
}

ggdm_status ggdm_unet_loss_grad_ex(const ggdm_unet_cfg *cfg, const float *params, int N, const float *x0,
                                   const int64_t *t, const float *z, const float *sqrt_ab, const float *sqrt_1mab,
                                   int T, float *loss, float *dparams, void *workspace, size_t ws_bytes,
                                   const ggdm_exec *ex)
{
    size_t need, nd, i, k, m, used;
    float *xt, *d, acc = 0.0f, scale, buf[256];
    int n, D;
    ggdm_net net;
    ggdm_graph *g;
    ggdm_graph_io io;
    float *arena, *dpb;
    const float *prm;
    const ggdm_backend *be = backend_of(ex);
    ggdm_status st = ggdm_unet_loss_workspace_bytes(cfg, N, &need);
    if (st != GGDM_OK)
        return st;
    if (!params || !x0 || !t || !z || !sqrt_ab || !sqrt_1mab || !loss || !workspace || T < 1)
        return GGDM_ERR_ARG;
    if (ws_bytes < need)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    D = cfg->length;
    nd = (size_t)N * (size_t)D;
    for (n = 0; n < N; n++)
        if (t[n] < 0 || t[n] >= T)
            return GGDM_ERR_ARG;
    /* the network's graph and arena first, then xt and d (64-byte aligned), all backend memory:
     * host values pass through a stack buffer */
    unet_net(cfg, &net);
    st = ggdm_net_prepare(&net, be, N, dparams ? GGDM_GRAPH_GRAD_PARAMS : GGDM_GRAPH_FORWARD, workspace, ws_bytes,
                          &g, &arena, &used);
    if (st != GGDM_OK)
        return st;
    if (ws_bytes - used < 2u * sizeof(float) * nd + 128u)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    xt = arena + g->arena; /* the arena is a whole number of 64-byte granules */
    d = xt + ((nd + 15u) & ~(size_t)15u);
    prm = be->params(be->ctx, params, net.n_params, ex && ex->params_unchanged ? -1 : 0);
    for (k = 0; k < nd; k += m) {
        m = nd - k < 256 ? nd - k : 256;
        for (i = 0; i < m; i++) {
            n = (int)((k + i) / (size_t)D);
            buf[i] = sqrt_ab[t[n]] * x0[k + i] + sqrt_1mab[t[n]] * z[k + i];
        }
        be->upload(be->ctx, xt + k, buf, m);
    }
    memset(&io, 0, sizeof io);
    io.in[0] = xt;
    io.in_dev = 1;
    io.steps[0] = t;
    ggdm_graph_forward(g, be, prm, arena, &io, ex);
    /* d = eps - z, the loss chain in order, then d * scale = d loss / d eps */
    scale = 2.0f / (float)nd;
    for (k = 0; k < nd; k += m) {
        m = nd - k < 256 ? nd - k : 256;
        be->download(be->ctx, buf, ggdm_graph_value_ptr(g, arena, g->out_val[0]) + k, m);
        for (i = 0; i < m; i++) {
            float di = buf[i] - z[k + i];
            acc = fmaf(di, di, acc);
            buf[i] = di * scale;
        }
        be->upload(be->ctx, d + k, buf, m);
    }
    *loss = acc / (float)nd;
    if (!dparams)
        return be->failed && be->failed(be->ctx) ? GGDM_ERR_DEVICE : GGDM_OK;
    dpb = be->grads_begin(be->ctx, dparams, net.n_params);
    io.dout = d;
    io.dout_dev = 1;
    io.dparams = dpb;
    ggdm_graph_backward(g, be, prm, arena, &io, ex);
    be->grads_end(be->ctx, dparams, dpb, net.n_params);
    return be->failed && be->failed(be->ctx) ? GGDM_ERR_DEVICE : GGDM_OK;
}
