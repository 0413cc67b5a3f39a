/*
 * The Unet1D score network (original.md §2): parameter table, workspace plan, forward
 * and backward. The layers are in layers.c and attention.c; this file only wires them,
 * in a fixed order that docs/nn.md documents ("The network").
 *
 * Workspace: one float array carved into buffers by a plan computed from (cfg, N, mode);
 * every buffer starts on a 64-byte boundary. The forward pass keeps every activation the
 * backward pass needs (the tape); module backward passes use a shared scratch region.
 */
#include "ggdm/unet.h"

#include <stdio.h>
#include <string.h>

#include "ggdm/attention.h"
#include "ggdm/backend.h"
#include "ggdm/dmath.h"
#include "ggdm/layers.h"
#include "ggdm/reduce.h"
#include "ggdm/rng.h"

#define MAXL GGDM_UNET_MAX_LEVELS
#define MAX_BUFS 160
#define NONE ((size_t)-1)

/* ------------------------------------------------------------------ plan types */

typedef struct rb_plan {
    int cin, cout, L, has_res;
    uint64_t mlp_w, mlp_b, w1, b1, n1w, n1b, w2, b2, n2w, n2b, rw, rbias; /* parameter offsets */
    size_t w1h, r1, w2h, r2;                                              /* standardised weights */
    size_t ss, h1, m1, s1, g1, f1, a1, h2, m2, s2, g2, res;               /* activations */
} rb_plan;

typedef struct attn_plan {
    int C, L, linear;
    uint64_t qkv_w, out_w, out_b, out_g, norm_g;
    size_t nrm, nm, ns, qkv, cq, ck, cctx, cattn, o, proj, pm, ps;
} attn_plan;

typedef struct samp_plan {
    int cin, cout, Lin, Lout, K, stride, pad, up;
    uint64_t w, b;
    size_t upbuf; /* [N, cin, 2 Lin] when up */
} samp_plan;

enum { OP_INIT, OP_RB, OP_ATTN, OP_SAMP, OP_CAT, OP_FINAL };

typedef struct op_plan {
    int kind, in0, in1, out, idx; /* idx: into rb/attn/samp tables */
    char name[GGDM_UNET_NAME_LEN];
} op_plan;

typedef struct buf_plan {
    int C, L;
    size_t v, g; /* value, gradient (NONE in forward mode) */
} buf_plan;

typedef struct plan {
    ggdm_unet_cfg cfg;
    int N, backward, tdim;
    uint64_t n_params;
    int n_tensors;
    uint64_t init_w, init_b, t1_w, t1_b, t2_w, t2_b, fin_w, fin_b;
    rb_plan rb[4 * MAXL + 3];
    int n_rb;
    attn_plan at[2 * MAXL + 1];
    int n_at;
    samp_plan sp[2 * MAXL];
    int n_sp;
    op_plan op[MAX_BUFS];
    int n_op;
    buf_plan buf[MAX_BUFS];
    int n_buf;
    /* time path */
    size_t tf, temb0, t1, t1g, temb, st, dst;
    /* backward: every buffer's gradient and dst, one contiguous range [g_lo, g_hi) (zeroed at once) */
    size_t g_lo, g_hi;
    /* scratch for backward */
    size_t sc_a, sc_b, sc_c, sc_ss, sc_wh, sc_att, sc_qkv, sc_o, sc_t1, sc_t2;
    /* scratch of the fast Conv1d (packed weights, transposed gradients), both modes */
    size_t sc_conv;
    size_t total; /* floats */
    const ggdm_exec *ex; /* runs the convolutions' independent tiles (NULL: serially) */
    const ggdm_unet_backend *be; /* where the layers run (ggdm/backend.h) */
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

/* ------------------------------------------------------------------ workspace plan */

typedef struct carver {
    size_t off;
    int overflow; /* a size did not fit: the plan is refused (GGDM_ERR_ARG) */
} carver;

static size_t take(carver *c, size_t floats)
{
    size_t at = c->off, g;
    /* the workspace's byte count, off * sizeof(float), must fit in a size_t */
    if (floats > SIZE_MAX / sizeof(float) - 15u) {
        c->overflow = 1;
        return at;
    }
    g = (floats + 15u) & ~(size_t)15u; /* 64-byte granules */
    if (g > SIZE_MAX / sizeof(float) - c->off) {
        c->overflow = 1;
        return at;
    }
    c->off += g;
    return at;
}

/* a * b * d, or 0 with the carver's overflow flag set when it does not fit in a size_t */
static size_t mul3(carver *c, size_t a, size_t b, size_t d)
{
    if ((a != 0 && b > SIZE_MAX / a) || (a * b != 0 && d > SIZE_MAX / (a * b))) {
        c->overflow = 1;
        return 0;
    }
    return a * b * d;
}

static int new_buf(plan *p, carver *c, int C, int L)
{
    buf_plan *b = &p->buf[p->n_buf];
    size_t n = (size_t)p->N * (size_t)C * (size_t)L;
    b->C = C;
    b->L = L;
    b->v = take(c, n);
    b->g = NONE; /* taken once the whole stream is planned (make_plan), so that they are contiguous */
    return p->n_buf++;
}

static void add_op(plan *p, int kind, int in0, int in1, int out, int idx, const char *name)
{
    op_plan *o = &p->op[p->n_op++];
    o->kind = kind;
    o->in0 = in0;
    o->in1 = in1;
    o->out = out;
    o->idx = idx;
    snprintf(o->name, sizeof o->name, "%s", name);
}

static size_t max_sz(size_t a, size_t b)
{
    return a > b ? a : b;
}

static void plan_rb(plan *p, carver *c, rb_plan *r, int L)
{
    size_t N = (size_t)p->N, CL = N * (size_t)r->cout * (size_t)L, G = N * (size_t)p->cfg.groups;
    r->L = L;
    r->w1h = take(c, (size_t)r->cout * r->cin * 3);
    r->r1 = take(c, (size_t)r->cout);
    r->w2h = take(c, (size_t)r->cout * r->cout * 3);
    r->r2 = take(c, (size_t)r->cout);
    r->ss = take(c, N * 2u * (size_t)r->cout);
    r->h1 = take(c, CL);
    r->m1 = take(c, G);
    r->s1 = take(c, G);
    r->g1 = take(c, CL);
    r->f1 = take(c, CL);
    r->a1 = take(c, CL);
    r->h2 = take(c, CL);
    r->m2 = take(c, G);
    r->s2 = take(c, G);
    r->g2 = take(c, CL);
    r->res = r->has_res ? take(c, CL) : NONE;
}

static void plan_attn(plan *p, carver *c, attn_plan *a, int L)
{
    size_t N = (size_t)p->N, hd = (size_t)p->cfg.heads * (size_t)p->cfg.dim_head, H = (size_t)p->cfg.heads,
           Dh = (size_t)p->cfg.dim_head;
    a->L = L;
    a->nrm = take(c, N * a->C * L);
    a->nm = take(c, N * L);
    a->ns = take(c, N * L);
    a->qkv = take(c, N * 3 * hd * L);
    a->cq = a->linear ? take(c, N * hd * L) : NONE;
    a->ck = a->linear ? take(c, N * hd * L) : NONE;
    a->cctx = a->linear ? take(c, N * H * Dh * Dh) : NONE;
    a->cattn = a->linear ? NONE : take(c, mul3(c, N * H, (size_t)L, (size_t)L));
    a->o = take(c, N * hd * L);
    a->proj = take(c, N * a->C * L);
    a->pm = a->linear ? take(c, N * L) : NONE;
    a->ps = a->linear ? take(c, N * L) : NONE;
}

/* Builds the whole plan: parameters, ops, buffers and their offsets (in floats). */
static ggdm_status make_plan(const ggdm_unet_cfg *cfg, int N, int backward, plan *p)
{
    carver c;
    int dims[MAXL + 1], lens[MAXL + 1], i, nl, x, r, skip[2 * MAXL], nskip = 0, rbi = 0, ati = 0, spi = 0;
    int hd, H, Dh, tdim;
    size_t maxCL = 0, maxss = 0, maxwh = 0, maxatt = 0, maxqkv = 0, maxo = 0;
    char name[GGDM_UNET_NAME_LEN];
    ggdm_status st;
    if (N < 1 || N > (1 << 24))
        return GGDM_ERR_ARG;
    st = make_params(cfg, p, -1, NULL);
    if (st != GGDM_OK)
        return st;
    p->N = N;
    p->backward = backward;
    p->ex = NULL;
    p->be = ggdm_unet_backend_cpu();
    nl = cfg->n_levels;
    hd = cfg->heads * cfg->dim_head;
    H = cfg->heads;
    Dh = cfg->dim_head;
    tdim = 4 * cfg->dim;
    p->tdim = tdim;
    dims[0] = cfg->dim;
    for (i = 0; i < nl; i++)
        dims[i + 1] = cfg->dim * cfg->dim_mults[i];
    for (i = 0; i < nl; i++)
        lens[i] = cfg->length >> i;
    c.off = 0;
    c.overflow = 0;
    /* time path */
    p->tf = take(&c, (size_t)N);
    p->temb0 = take(&c, (size_t)N * cfg->dim);
    p->t1 = take(&c, (size_t)N * tdim);
    p->t1g = take(&c, (size_t)N * tdim);
    p->temb = take(&c, (size_t)N * tdim);
    p->st = take(&c, (size_t)N * tdim);
    p->dst = NONE; /* taken with the buffers' gradients, after the stream */
    /* the stream, in forward order */
    x = new_buf(p, &c, 1, cfg->length);
    r = new_buf(p, &c, cfg->dim, cfg->length);
    add_op(p, OP_INIT, x, -1, r, 0, "init_conv");
    x = r;
    for (i = 0; i < nl; i++) {
        int L = lens[i], a, b, o;
        plan_rb(p, &c, &p->rb[rbi], L);
        a = new_buf(p, &c, dims[i], L);
        snprintf(name, sizeof name, "downs.%d.0", i);
        add_op(p, OP_RB, x, -1, a, rbi++, name);
        skip[nskip++] = a;
        plan_rb(p, &c, &p->rb[rbi], L);
        b = new_buf(p, &c, dims[i], L);
        snprintf(name, sizeof name, "downs.%d.1", i);
        add_op(p, OP_RB, a, -1, b, rbi++, name);
        plan_attn(p, &c, &p->at[ati], L);
        o = new_buf(p, &c, dims[i], L);
        snprintf(name, sizeof name, "downs.%d.2", i);
        add_op(p, OP_ATTN, b, -1, o, ati++, name);
        skip[nskip++] = o;
        {
            samp_plan *s = &p->sp[spi];
            s->Lin = L;
            s->Lout = ggdm_conv1d_out_len(L, s->K, s->stride, s->pad);
            s->upbuf = NONE;
            x = new_buf(p, &c, dims[i + 1], s->Lout);
            snprintf(name, sizeof name, "downs.%d.3", i);
            add_op(p, OP_SAMP, o, -1, x, spi++, name);
        }
    }
    {
        int L = lens[nl - 1], a, b, m;
        plan_rb(p, &c, &p->rb[rbi], L);
        a = new_buf(p, &c, dims[nl], L);
        add_op(p, OP_RB, x, -1, a, rbi++, "mid_block1");
        plan_attn(p, &c, &p->at[ati], L);
        b = new_buf(p, &c, dims[nl], L);
        add_op(p, OP_ATTN, a, -1, b, ati++, "mid_attn");
        plan_rb(p, &c, &p->rb[rbi], L);
        m = new_buf(p, &c, dims[nl], L);
        add_op(p, OP_RB, b, -1, m, rbi++, "mid_block2");
        x = m;
    }
    for (i = nl - 1; i >= 0; i--) {
        int j = nl - 1 - i, L = lens[i], cat1, a, cat2, b, o;
        cat1 = new_buf(p, &c, dims[i + 1] + dims[i], L);
        snprintf(name, sizeof name, "ups.%d.cat0", j);
        add_op(p, OP_CAT, x, skip[--nskip], cat1, 0, name);
        plan_rb(p, &c, &p->rb[rbi], L);
        a = new_buf(p, &c, dims[i + 1], L);
        snprintf(name, sizeof name, "ups.%d.0", j);
        add_op(p, OP_RB, cat1, -1, a, rbi++, name);
        cat2 = new_buf(p, &c, dims[i + 1] + dims[i], L);
        snprintf(name, sizeof name, "ups.%d.cat1", j);
        add_op(p, OP_CAT, a, skip[--nskip], cat2, 0, name);
        plan_rb(p, &c, &p->rb[rbi], L);
        b = new_buf(p, &c, dims[i + 1], L);
        snprintf(name, sizeof name, "ups.%d.1", j);
        add_op(p, OP_RB, cat2, -1, b, rbi++, name);
        plan_attn(p, &c, &p->at[ati], L);
        o = new_buf(p, &c, dims[i + 1], L);
        snprintf(name, sizeof name, "ups.%d.2", j);
        add_op(p, OP_ATTN, b, -1, o, ati++, name);
        {
            samp_plan *s = &p->sp[spi];
            s->Lin = L;
            s->Lout = s->up ? 2 * L : L;
            s->upbuf = s->up ? take(&c, (size_t)N * s->cin * 2 * L) : NONE;
            x = new_buf(p, &c, dims[i], s->Lout);
            snprintf(name, sizeof name, "ups.%d.3", j);
            add_op(p, OP_SAMP, o, -1, x, spi++, name);
        }
    }
    {
        int cat = new_buf(p, &c, 2 * cfg->dim, cfg->length), f, e;
        add_op(p, OP_CAT, x, r, cat, 0, "final_cat");
        plan_rb(p, &c, &p->rb[rbi], cfg->length);
        f = new_buf(p, &c, cfg->dim, cfg->length);
        add_op(p, OP_RB, cat, -1, f, rbi++, "final_res_block");
        e = new_buf(p, &c, 1, cfg->length);
        add_op(p, OP_FINAL, f, -1, e, 0, "final_conv");
    }
    if (backward) { /* the gradients of the buffers and dst, contiguous: zeroed with one call */
        p->g_lo = c.off;
        for (i = 0; i < p->n_buf; i++)
            p->buf[i].g = take(&c, (size_t)N * (size_t)p->buf[i].C * (size_t)p->buf[i].L);
        p->dst = take(&c, (size_t)N * tdim);
        p->g_hi = c.off;
    }
    /* backward scratch: sized by the largest module */
    for (i = 0; i < p->n_rb; i++) {
        rb_plan *b = &p->rb[i];
        maxCL = max_sz(maxCL, (size_t)N * b->cout * b->L);
        maxss = max_sz(maxss, (size_t)N * 2 * b->cout);
        maxwh = max_sz(maxwh, (size_t)b->cout * b->cin * 3);
    }
    for (i = 0; i < p->n_at; i++) {
        attn_plan *a = &p->at[i];
        size_t sc = a->linear ? ggdm_linattn_backward_scratch_floats(H, Dh, a->L)
                              : ggdm_attn_backward_scratch_floats(H, Dh, a->L);
        maxCL = max_sz(maxCL, (size_t)N * a->C * a->L);
        maxatt = max_sz(maxatt, sc);
        maxqkv = max_sz(maxqkv, (size_t)N * 3 * hd * a->L);
        maxo = max_sz(maxo, (size_t)N * hd * a->L);
    }
    for (i = 0; i < p->n_sp; i++)
        maxCL = max_sz(maxCL, (size_t)N * p->sp[i].cin * 2 * p->sp[i].Lin);
    /* Conv1d scratch: the largest over every convolution of the network */
    {
        size_t m = ggdm_conv1d_scratch_floats(N, 1, cfg->length, cfg->dim, 7, 1, 3);
        m = max_sz(m, ggdm_conv1d_scratch_floats(N, cfg->dim, cfg->length, 1, 1, 1, 0));
        for (i = 0; i < p->n_rb; i++) {
            rb_plan *b = &p->rb[i];
            m = max_sz(m, ggdm_conv1d_scratch_floats(N, b->cin, b->L, b->cout, 3, 1, 1));
            m = max_sz(m, ggdm_conv1d_scratch_floats(N, b->cout, b->L, b->cout, 3, 1, 1));
            m = max_sz(m, ggdm_conv1d_scratch_floats(N, b->cin, b->L, b->cout, 1, 1, 0));
        }
        for (i = 0; i < p->n_at; i++) {
            attn_plan *a = &p->at[i];
            m = max_sz(m, ggdm_conv1d_scratch_floats(N, a->C, a->L, 3 * hd, 1, 1, 0));
            m = max_sz(m, ggdm_conv1d_scratch_floats(N, hd, a->L, a->C, 1, 1, 0));
        }
        for (i = 0; i < p->n_sp; i++) {
            samp_plan *s = &p->sp[i];
            m = max_sz(m, ggdm_conv1d_scratch_floats(N, s->cin, s->up ? 2 * s->Lin : s->Lin, s->cout, s->K,
                                                     s->stride, s->pad));
        }
        p->sc_conv = take(&c, m);
    }
    if (backward) {
        p->sc_a = take(&c, maxCL);
        p->sc_b = take(&c, maxCL);
        p->sc_c = take(&c, maxCL);
        p->sc_ss = take(&c, maxss);
        p->sc_wh = take(&c, maxwh);
        p->sc_att = take(&c, maxatt);
        p->sc_qkv = take(&c, maxqkv);
        p->sc_o = take(&c, maxo);
        p->sc_t1 = take(&c, (size_t)N * tdim);
        p->sc_t2 = take(&c, (size_t)N * tdim);
    }
    if (c.overflow)
        return GGDM_ERR_ARG; /* the workspace would not be addressable */
    p->total = c.off;
    return GGDM_OK;
}

ggdm_status ggdm_unet_workspace_bytes(const ggdm_unet_cfg *cfg, int N, ggdm_unet_mode mode, size_t *bytes)
{
    plan p;
    ggdm_status st;
    if (!bytes || (mode != GGDM_UNET_FORWARD && mode != GGDM_UNET_BACKWARD))
        return GGDM_ERR_ARG;
    st = make_plan(cfg, N, mode == GGDM_UNET_BACKWARD, &p);
    *bytes = st == GGDM_OK ? p.total * sizeof(float) : 0;
    return st;
}

static double conv_flops(double N, int cin, int Lin, int cout, int K, int stride, int pad)
{
    return 2.0 * N * cout * ggdm_conv1d_out_len(Lin, K, stride, pad) * (double)cin * K;
}

ggdm_status ggdm_unet_flops(const ggdm_unet_cfg *cfg, int N, double *flops)
{
    plan p;
    double f = 0, n = N, H, Dh, hd;
    int i;
    ggdm_status st;
    if (!flops)
        return GGDM_ERR_ARG;
    *flops = 0;
    st = make_plan(cfg, N, 0, &p);
    if (st != GGDM_OK)
        return st;
    H = cfg->heads;
    Dh = cfg->dim_head;
    hd = H * Dh;
    f += 2.0 * n * cfg->dim * p.tdim + 2.0 * n * p.tdim * p.tdim; /* time MLP */
    f += conv_flops(n, 1, cfg->length, cfg->dim, 7, 1, 3) + conv_flops(n, cfg->dim, cfg->length, 1, 1, 1, 0);
    for (i = 0; i < p.n_rb; i++) {
        const rb_plan *r = &p.rb[i];
        f += 2.0 * n * p.tdim * 2.0 * r->cout;
        f += conv_flops(n, r->cin, r->L, r->cout, 3, 1, 1) + conv_flops(n, r->cout, r->L, r->cout, 3, 1, 1);
        if (r->has_res)
            f += conv_flops(n, r->cin, r->L, r->cout, 1, 1, 0);
    }
    for (i = 0; i < p.n_at; i++) {
        const attn_plan *a = &p.at[i];
        f += conv_flops(n, a->C, a->L, (int)(3 * hd), 1, 1, 0) + conv_flops(n, (int)hd, a->L, a->C, 1, 1, 0);
        /* linear: context (Dh x Dh over L) and output; full: scores (L x L over Dh) and output */
        f += a->linear ? 2.0 * 2.0 * n * H * Dh * Dh * a->L : 2.0 * 2.0 * n * H * (double)a->L * a->L * Dh;
    }
    for (i = 0; i < p.n_sp; i++) {
        const samp_plan *s = &p.sp[i];
        f += conv_flops(n, s->cin, s->up ? 2 * s->Lin : s->Lin, s->cout, s->K, s->stride, s->pad);
    }
    *flops = f;
    return GGDM_OK;
}

/*
 * Threads over samples. Every sample's eps and input gradient depend only on that sample
 * (docs/nn.md), so the batch can be cut into chunks, each a serial network call on its own
 * part of the workspace: the bits do not depend on the cut. Chunk c of C holds samples
 * [N*c/C, N*(c+1)/C); chunk workspaces follow each other, each rounded up to 64 bytes.
 */
#define MAX_CHUNKS 64

static int n_chunks(const ggdm_exec *ex, int N)
{
    int c = ggdm_exec_threads(ex);
    if (c > MAX_CHUNKS)
        c = MAX_CHUNKS;
    return c < N ? c : N;
}

static int chunk_first(int N, int C, int c)
{
    return (int)(((int64_t)N * c) / C);
}

/* Floats of the chunked workspace (0 on failure); off (may be NULL) receives each chunk's
 * offset in floats. */
static size_t chunked_floats(const ggdm_unet_cfg *cfg, int N, int backward, int C, size_t *off)
{
    size_t total = 0;
    int c;
    for (c = 0; c < C; c++) {
        plan p;
        int n = chunk_first(N, C, c + 1) - chunk_first(N, C, c);
        if (make_plan(cfg, n, backward, &p) != GGDM_OK)
            return 0;
        if (total > SIZE_MAX / 8 - p.total)
            return 0;
        if (off)
            off[c] = total;
        total += (p.total + 15u) & ~(size_t)15u;
    }
    return total;
}

ggdm_status ggdm_unet_workspace_bytes_ex(const ggdm_unet_cfg *cfg, int N, ggdm_unet_mode mode, const ggdm_exec *ex,
                                         size_t *bytes)
{
    size_t one, chunked;
    int C;
    ggdm_status st = ggdm_unet_workspace_bytes(cfg, N, mode, bytes);
    if (st != GGDM_OK)
        return st;
    C = n_chunks(ex, N);
    if (C <= 1)
        return GGDM_OK;
    one = *bytes;
    chunked = chunked_floats(cfg, N, mode == GGDM_UNET_BACKWARD, C, NULL);
    if (chunked == 0) {
        *bytes = 0;
        return GGDM_ERR_ARG;
    }
    *bytes = chunked * sizeof(float) > one ? chunked * sizeof(float) : one;
    return GGDM_OK;
}

/* ------------------------------------------------------------------ forward */

/* The convolutions, with the plan's executor (bit-identical for every executor). */
static void conv_fwd(const plan *p, float *y, const float *x, const float *w, const float *b, int N, int Cin, int Lin,
                     int Cout, int K, int stride, int pad, float *scratch)
{
    p->be->conv1d_forward(y, x, w, b, N, Cin, Lin, Cout, K, stride, pad, scratch, p->ex);
}

static void conv_bwd(const plan *p, float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                     int N, int Cin, int Lin, int Cout, int K, int stride, int pad, float *scratch)
{
    p->be->conv1d_backward(dx, dw, db, dy, x, w, N, Cin, Lin, Cout, K, stride, pad, scratch, p->ex);
}

static void fwd_rb(const plan *p, const rb_plan *r, const float *prm, float *ws, const float *x, float *out)
{
    int N = p->N, L = r->L, G = p->cfg.groups;
    long n = (long)N * r->cout * L;
    p->be->linear_forward(ws + r->ss, ws + p->st, prm + r->mlp_w, prm + r->mlp_b, N, p->tdim, 2 * r->cout);
    p->be->ws_forward(ws + r->w1h, ws + r->r1, prm + r->w1, r->cout, 3 * r->cin);
    conv_fwd(p, ws + r->h1, x, ws + r->w1h, prm + r->b1, N, r->cin, L, r->cout, 3, 1, 1, ws + p->sc_conv);
    if (p->be->gn_act_forward) {
        p->be->gn_act_forward(ws + r->g1, ws + r->m1, ws + r->s1, ws + r->f1, ws + r->a1, ws + r->h1, prm + r->n1w,
                              prm + r->n1b, ws + r->ss, N, r->cout, L, G);
    } else {
        p->be->groupnorm_forward(ws + r->g1, ws + r->m1, ws + r->s1, ws + r->h1, prm + r->n1w, prm + r->n1b, N,
                                 r->cout, L, G);
        p->be->scale_shift_forward(ws + r->f1, ws + r->g1, ws + r->ss, N, r->cout, L);
        p->be->silu_forward(ws + r->a1, ws + r->f1, n);
    }
    p->be->ws_forward(ws + r->w2h, ws + r->r2, prm + r->w2, r->cout, 3 * r->cout);
    conv_fwd(p, ws + r->h2, ws + r->a1, ws + r->w2h, prm + r->b2, N, r->cout, L, r->cout, 3, 1, 1, ws + p->sc_conv);
    if (p->be->gn_act_forward) {
        p->be->gn_act_forward(ws + r->g2, ws + r->m2, ws + r->s2, NULL, out, ws + r->h2, prm + r->n2w, prm + r->n2b,
                              NULL, N, r->cout, L, G);
    } else {
        p->be->groupnorm_forward(ws + r->g2, ws + r->m2, ws + r->s2, ws + r->h2, prm + r->n2w, prm + r->n2b, N,
                                 r->cout, L, G);
        p->be->silu_forward(out, ws + r->g2, n);
    }
    if (r->has_res) {
        conv_fwd(p, ws + r->res, x, prm + r->rw, prm + r->rbias, N, r->cin, L, r->cout, 1, 1, 0, ws + p->sc_conv);
        p->be->add_into(p->be->ctx, out, ws + r->res, (size_t)n);
    } else {
        p->be->add_into(p->be->ctx, out, x, (size_t)n);
    }
}

static void fwd_attn(const plan *p, const attn_plan *a, const float *prm, float *ws, const float *x, float *out)
{
    int N = p->N, L = a->L, H = p->cfg.heads, Dh = p->cfg.dim_head, hd = H * Dh;
    long n = (long)N * a->C * L;
    p->be->chnorm_forward(ws + a->nrm, ws + a->nm, ws + a->ns, x, prm + a->norm_g, N, a->C, L);
    conv_fwd(p, ws + a->qkv, ws + a->nrm, prm + a->qkv_w, NULL, N, a->C, L, 3 * hd, 1, 1, 0, ws + p->sc_conv);
    if (a->linear)
        p->be->linattn_forward(ws + a->o, ws + a->cq, ws + a->ck, ws + a->cctx, ws + a->qkv, N, H, Dh, L);
    else
        p->be->attn_forward(ws + a->o, ws + a->cattn, ws + a->qkv, N, H, Dh, L);
    conv_fwd(p, ws + a->proj, ws + a->o, prm + a->out_w, prm + a->out_b, N, hd, L, a->C, 1, 1, 0, ws + p->sc_conv);
    if (a->linear) {
        p->be->chnorm_forward(out, ws + a->pm, ws + a->ps, ws + a->proj, prm + a->out_g, N, a->C, L);
        p->be->add_into(p->be->ctx, out, x, (size_t)n);
    } else { /* proj + x, as out = proj; out = out + x (one addition, commutative) */
        p->be->copy(p->be->ctx, out, ws + a->proj, (size_t)n);
        p->be->add_into(p->be->ctx, out, x, (size_t)n);
    }
}

static void fwd_samp(const plan *p, const samp_plan *s, const float *prm, float *ws, const float *x, float *out)
{
    if (s->up) {
        p->be->upsample2_forward(ws + s->upbuf, x, p->N, s->cin, s->Lin);
        conv_fwd(p, out, ws + s->upbuf, prm + s->w, prm + s->b, p->N, s->cin, 2 * s->Lin, s->cout, s->K,
                            s->stride, s->pad, ws + p->sc_conv);
    } else {
        conv_fwd(p, out, x, prm + s->w, prm + s->b, p->N, s->cin, s->Lin, s->cout, s->K, s->stride, s->pad, ws + p->sc_conv);
    }
}

static void cat_forward(const plan *p, int N, const float *a, int Ca, const float *b, int Cb, int L, float *out)
{
    int n;
    size_t Lz = (size_t)L, cat = (size_t)(Ca + Cb) * Lz;
    if (p->be->copy_rows) {
        p->be->copy_rows(p->be->ctx, out, cat, a, (size_t)Ca * Lz, (size_t)N, (size_t)Ca * Lz);
        p->be->copy_rows(p->be->ctx, out + (size_t)Ca * Lz, cat, b, (size_t)Cb * Lz, (size_t)N, (size_t)Cb * Lz);
        return;
    }
    for (n = 0; n < N; n++) {
        p->be->copy(p->be->ctx, out + (size_t)n * (Ca + Cb) * L, a + (size_t)n * Ca * L, (size_t)Ca * L);
        p->be->copy(p->be->ctx, out + ((size_t)n * (Ca + Cb) + Ca) * L, b + (size_t)n * Cb * L, (size_t)Cb * L);
    }
}

static void trace_buf(const plan *p, ggdm_unet_trace_fn trace, void *ctx, const char *name, const float *data, int C,
                      int L)
{
    uint64_t shape[3];
    if (!trace)
        return;
    shape[0] = (uint64_t)p->N;
    shape[1] = (uint64_t)C;
    shape[2] = (uint64_t)L;
    trace(ctx, name, data, 3, shape);
}

static ggdm_status check_inputs(const plan *p, const float *params, const float *x, const int64_t *t, void *ws,
                                size_t ws_bytes)
{
    int n;
    if (!params || !x || !t || !ws)
        return GGDM_ERR_ARG;
    if (ws_bytes < p->total * sizeof(float))
        return GGDM_ERR_BUFFER_TOO_SMALL;
    for (n = 0; n < p->N; n++)
        if (t[n] < 0 || t[n] > (1 << 24))
            return GGDM_ERR_ARG;
    return GGDM_OK;
}

/* The whole forward pass over the plan; fills the tape. */
static void forward_all(const plan *p, const float *prm, const float *x, int x_in_ws, const int64_t *t, float *ws,
                        ggdm_unet_trace_fn trace, void *ctx)
{
    int N = p->N, k;
    const ggdm_unet_cfg *c = &p->cfg;
    uint64_t shp[2];
    /* time embedding and MLP */
    p->be->steps(p->be->ctx, ws + p->tf, t, N);
    p->be->time_embedding(ws + p->temb0, ws + p->tf, N, c->dim);
    p->be->linear_forward(ws + p->t1, ws + p->temb0, prm + p->t1_w, prm + p->t1_b, N, c->dim, p->tdim);
    p->be->gelu_forward(ws + p->t1g, ws + p->t1, (long)N * p->tdim);
    p->be->linear_forward(ws + p->temb, ws + p->t1g, prm + p->t2_w, prm + p->t2_b, N, p->tdim, p->tdim);
    p->be->silu_forward(ws + p->st, ws + p->temb, (long)N * p->tdim);
    if (trace) {
        shp[0] = (uint64_t)N;
        shp[1] = (uint64_t)c->dim;
        trace(ctx, "time_embedding", ws + p->temb0, 2, shp);
        shp[1] = (uint64_t)p->tdim;
        trace(ctx, "time_mlp", ws + p->temb, 2, shp);
    }
    if (x_in_ws)
        p->be->copy(p->be->ctx, ws + p->buf[p->op[0].in0].v, x, (size_t)N * c->length);
    else
        p->be->upload(p->be->ctx, ws + p->buf[p->op[0].in0].v, x, (size_t)N * c->length);
    trace_buf(p, trace, ctx, "input", ws + p->buf[p->op[0].in0].v, 1, c->length);
    for (k = 0; k < p->n_op; k++) {
        const op_plan *o = &p->op[k];
        const buf_plan *in = &p->buf[o->in0], *out = &p->buf[o->out];
        float *y = ws + out->v;
        const float *xi = ws + in->v;
        switch (o->kind) {
        case OP_INIT:
            conv_fwd(p, y, xi, prm + p->init_w, prm + p->init_b, N, 1, c->length, c->dim, 7, 1, 3, ws + p->sc_conv);
            break;
        case OP_RB: fwd_rb(p, &p->rb[o->idx], prm, ws, xi, y); break;
        case OP_ATTN: fwd_attn(p, &p->at[o->idx], prm, ws, xi, y); break;
        case OP_SAMP: fwd_samp(p, &p->sp[o->idx], prm, ws, xi, y); break;
        case OP_CAT: cat_forward(p, N, xi, in->C, ws + p->buf[o->in1].v, p->buf[o->in1].C, in->L, y); break;
        case OP_FINAL:
            conv_fwd(p, y, xi, prm + p->fin_w, prm + p->fin_b, N, c->dim, c->length, 1, 1, 1, 0, ws + p->sc_conv);
            break;
        }
        if (o->kind != OP_CAT)
            trace_buf(p, trace, ctx, o->name, y, out->C, out->L);
    }
}

static void backward_all(const plan *p, const float *prm, float *ws, const float *deps, int deps_in_ws, float *dp);

/* Forward (and, when backward, the gradients) of one serial call on a checked plan. */
static void run_plan(const plan *p, const float *prm, const float *x, const int64_t *t, const float *deps, float *eps,
                     float *dx, float *dp, float *ws, ggdm_unet_trace_fn trace, void *trace_ctx)
{
    size_t nd = (size_t)p->N * p->cfg.length;
    forward_all(p, prm, x, 0, t, ws, trace, trace_ctx);
    if (eps)
        p->be->download(p->be->ctx, eps, ws + p->buf[p->op[p->n_op - 1].out].v, nd);
    if (!p->backward || (!dx && !dp))
        return;
    backward_all(p, prm, ws, deps, 0, dp);
    if (dx)
        p->be->download(p->be->ctx, dx, ws + p->buf[0].g, nd);
}

typedef struct chunk_job {
    const ggdm_unet_cfg *cfg;
    const float *params, *x, *deps;
    const int64_t *t;
    float *eps, *dx, *ws;
    const ggdm_unet_backend *be;
    int N, C, backward;
    size_t off[MAX_CHUNKS];
} chunk_job;

static void chunk_task(void *arg, int c)
{
    const chunk_job *j = (const chunk_job *)arg;
    plan p;
    int n0 = chunk_first(j->N, j->C, c), n = chunk_first(j->N, j->C, c + 1) - n0;
    size_t o = (size_t)n0 * j->cfg->length;
    if (make_plan(j->cfg, n, j->backward, &p) != GGDM_OK)
        return; /* cannot happen: every chunk's plan was made before */
    p.be = j->be;
    run_plan(&p, j->params, j->x + o, j->t + n0, j->deps ? j->deps + o : NULL, j->eps ? j->eps + o : NULL,
             j->dx ? j->dx + o : NULL, NULL, j->ws + j->off[c], NULL, NULL);
}

/* GGDM_ERR_DEVICE when the backend recorded a failure during the call. */
static ggdm_status backend_status(const ggdm_unet_backend *be)
{
    return be->failed && be->failed(be->ctx) ? GGDM_ERR_DEVICE : GGDM_OK;
}

/* Everything the public entry points share: checks, then chunks over samples or one call. */
static ggdm_status unet_run(const ggdm_unet_cfg *cfg, const float *params, int N, const float *x, const int64_t *t,
                            const float *deps, float *eps, float *dx, float *dp, int backward, void *workspace,
                            size_t ws_bytes, ggdm_unet_trace_fn trace, void *trace_ctx, const ggdm_exec *ex)
{
    plan p;
    int C;
    const ggdm_unet_backend *be = ex && ex->unet ? ex->unet : ggdm_unet_backend_cpu();
    const float *prm;
    float *dpb;
    ggdm_status st = make_plan(cfg, N, backward, &p);
    if (st != GGDM_OK)
        return st;
    st = check_inputs(&p, params, x, t, workspace, ws_bytes);
    if (st != GGDM_OK)
        return st;
    p.be = be;
    if (be->workspace && !(workspace = be->workspace(be->ctx, workspace, ws_bytes)))
        return GGDM_ERR_BUFFER_TOO_SMALL; /* the backend could not provide its workspace */
    prm = be->params(be->ctx, params, p.n_params, ex && ex->params_unchanged ? -1 : 0);
    C = n_chunks(ex, N);
    if (C > 1 && !trace && !dp && (!backward || dx)) {
        chunk_job j;
        size_t need = chunked_floats(cfg, N, backward, C, j.off);
        if (need != 0 && ws_bytes / sizeof(float) >= need) {
            j.cfg = cfg;
            j.params = prm;
            j.be = be;
            j.x = x;
            j.deps = deps;
            j.t = t;
            j.eps = eps;
            j.dx = dx;
            j.ws = (float *)workspace;
            j.N = N;
            j.C = C;
            j.backward = backward;
            ggdm_exec_run(ex, chunk_task, &j, C);
            return backend_status(be);
        }
        /* a workspace sized for one call: one call, threads inside the convolutions */
    }
    p.ex = ex;
    dpb = dp ? be->grads_begin(be->ctx, dp, p.n_params) : NULL;
    run_plan(&p, prm, x, t, deps, eps, dx, dpb, (float *)workspace, trace, trace_ctx);
    if (dp)
        be->grads_end(be->ctx, dp, dpb, p.n_params);
    return backend_status(be);
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

/* ------------------------------------------------------------------ backward */

static void zero(const plan *p, float *x, size_t n)
{
    p->be->zero(p->be->ctx, x, n);
}

static void add_into(const plan *p, float *dst, const float *src, size_t n)
{
    p->be->add_into(p->be->ctx, dst, src, n);
}

/* dparams may be NULL (input gradient only): then no parameter work at all. */
static void bwd_rb(const plan *p, const rb_plan *r, const float *prm, float *ws, const float *x, float *dx,
                   const float *dout, float *dp)
{
    int N = p->N, L = r->L, G = p->cfg.groups;
    size_t n = (size_t)N * r->cout * L;
    float *dA = ws + p->sc_a, *dB = ws + p->sc_b, *dss = ws + p->sc_ss, *dwh = ws + p->sc_wh;
    /* out = silu(g2) + res(x) */
    if (r->has_res)
        conv_bwd(p, dx, dp ? dp + r->rw : NULL, dp ? dp + r->rbias : NULL, dout, x, prm + r->rw, N, r->cin,
                             L, r->cout, 1, 1, 0, ws + p->sc_conv);
    else
        add_into(p, dx, dout, n);
    if (!dp && p->be->gn_act_backward) { /* dh2, fused (input gradient only) */
        p->be->gn_act_backward(dB, dA, dout, ws + r->h2, ws + r->m2, ws + r->s2, prm + r->n2w, ws + r->g2, NULL, NULL,
                               N, r->cout, L, G);
    } else {
        zero(p, dA, n); /* dg2 */
        p->be->silu_backward(dA, dout, ws + r->g2, (long)n);
        zero(p, dB, n); /* dh2 */
        p->be->groupnorm_backward(dB, dp ? dp + r->n2w : NULL, dp ? dp + r->n2b : NULL, dA, ws + r->h2, ws + r->m2,
                                  ws + r->s2, prm + r->n2w, N, r->cout, L, G);
    }
    zero(p, dA, n); /* da1 */
    if (dp)
        zero(p, dwh, (size_t)r->cout * r->cout * 3);
    conv_bwd(p, dA, dp ? dwh : NULL, dp ? dp + r->b2 : NULL, dB, ws + r->a1, ws + r->w2h, N, r->cout, L,
                         r->cout, 3, 1, 1, ws + p->sc_conv);
    if (dp)
        p->be->ws_backward(dp + r->w2, dwh, ws + r->w2h, ws + r->r2, r->cout, 3 * r->cout);
    if (!dp && p->be->gn_act_backward) { /* dh1, fused (input gradient only); da1 is in dA */
        p->be->gn_act_backward(dB, dA, dA, ws + r->h1, ws + r->m1, ws + r->s1, prm + r->n1w, ws + r->g1, ws + r->f1,
                               ws + r->ss, N, r->cout, L, G);
    } else {
        zero(p, dB, n); /* df1 */
        p->be->silu_backward(dB, dA, ws + r->f1, (long)n);
        zero(p, dA, n); /* dg1 */
        if (dp)
            zero(p, dss, (size_t)N * 2 * r->cout);
        p->be->scale_shift_backward(dA, dp ? dss : NULL, dB, ws + r->g1, ws + r->ss, N, r->cout, L);
        zero(p, dB, n); /* dh1 */
        p->be->groupnorm_backward(dB, dp ? dp + r->n1w : NULL, dp ? dp + r->n1b : NULL, dA, ws + r->h1, ws + r->m1,
                                  ws + r->s1, prm + r->n1w, N, r->cout, L, G);
    }
    if (dp)
        zero(p, dwh, (size_t)r->cout * r->cin * 3);
    conv_bwd(p, dx, dp ? dwh : NULL, dp ? dp + r->b1 : NULL, dB, x, ws + r->w1h, N, r->cin, L, r->cout, 3,
                         1, 1, ws + p->sc_conv);
    if (dp) {
        p->be->ws_backward(dp + r->w1, dwh, ws + r->w1h, ws + r->r1, r->cout, 3 * r->cin);
        p->be->linear_backward(ws + p->dst, dp + r->mlp_w, dp + r->mlp_b, dss, ws + p->st, prm + r->mlp_w, N, p->tdim,
                             2 * r->cout);
    }
}

static void bwd_attn(const plan *p, const attn_plan *a, const float *prm, float *ws, const float *x, float *dx,
                     const float *dout, float *dp)
{
    int N = p->N, L = a->L, H = p->cfg.heads, Dh = p->cfg.dim_head, hd = H * Dh;
    size_t n = (size_t)N * a->C * L;
    float *dproj = ws + p->sc_a, *dnrm = ws + p->sc_b, *dqkv = ws + p->sc_qkv, *dov = ws + p->sc_o;
    const float *dpr = dout;
    add_into(p, dx, dout, n); /* the residual */
    if (a->linear) {
        zero(p, dproj, n);
        p->be->chnorm_backward(dproj, dp ? dp + a->out_g : NULL, dout, ws + a->proj, ws + a->pm, ws + a->ps,
                             prm + a->out_g, N, a->C, L);
        dpr = dproj;
    }
    zero(p, dov, (size_t)N * hd * L);
    conv_bwd(p, dov, dp ? dp + a->out_w : NULL, dp ? dp + a->out_b : NULL, dpr, ws + a->o, prm + a->out_w, N,
                         hd, L, a->C, 1, 1, 0, ws + p->sc_conv);
    zero(p, dqkv, (size_t)N * 3 * hd * L);
    if (a->linear)
        p->be->linattn_backward(dqkv, dov, ws + a->qkv, ws + a->cq, ws + a->ck, ws + a->cctx, N, H, Dh, L,
                              ws + p->sc_att);
    else
        p->be->attn_backward(dqkv, dov, ws + a->qkv, ws + a->cattn, N, H, Dh, L, ws + p->sc_att);
    zero(p, dnrm, n);
    conv_bwd(p, dnrm, dp ? dp + a->qkv_w : NULL, NULL, dqkv, ws + a->nrm, prm + a->qkv_w, N, a->C, L, 3 * hd,
                         1, 1, 0, ws + p->sc_conv);
    p->be->chnorm_backward(dx, dp ? dp + a->norm_g : NULL, dnrm, x, ws + a->nm, ws + a->ns, prm + a->norm_g, N, a->C, L);
}

static void bwd_samp(const plan *p, const samp_plan *s, const float *prm, float *ws, const float *x, float *dx,
                     const float *dout, float *dp)
{
    if (s->up) {
        float *dup = ws + p->sc_a;
        zero(p, dup, (size_t)p->N * s->cin * 2 * s->Lin);
        conv_bwd(p, dup, dp ? dp + s->w : NULL, dp ? dp + s->b : NULL, dout, ws + s->upbuf, prm + s->w, p->N,
                             s->cin, 2 * s->Lin, s->cout, s->K, s->stride, s->pad, ws + p->sc_conv);
        p->be->upsample2_backward(dx, dup, p->N, s->cin, s->Lin);
    } else {
        conv_bwd(p, dx, dp ? dp + s->w : NULL, dp ? dp + s->b : NULL, dout, x, prm + s->w, p->N, s->cin,
                             s->Lin, s->cout, s->K, s->stride, s->pad, ws + p->sc_conv);
    }
}

static void cat_backward(const plan *p, int N, float *da, int Ca, float *db, int Cb, int L, const float *dout)
{
    int n;
    size_t Lz = (size_t)L, cat = (size_t)(Ca + Cb) * Lz;
    if (p->be->add_rows) {
        p->be->add_rows(p->be->ctx, da, (size_t)Ca * Lz, dout, cat, (size_t)N, (size_t)Ca * Lz);
        p->be->add_rows(p->be->ctx, db, (size_t)Cb * Lz, dout + (size_t)Ca * Lz, cat, (size_t)N, (size_t)Cb * Lz);
        return;
    }
    for (n = 0; n < N; n++) {
        add_into(p, da + (size_t)n * Ca * L, dout + (size_t)n * (Ca + Cb) * L, (size_t)Ca * L);
        add_into(p, db + (size_t)n * Cb * L, dout + ((size_t)n * (Ca + Cb) + Ca) * L, (size_t)Cb * L);
    }
}

/* Reverse pass over the ops; dp NULL: input gradient only. */
static void backward_all(const plan *p, const float *prm, float *ws, const float *deps, int deps_in_ws, float *dp)
{
    const ggdm_unet_cfg *c = &p->cfg;
    int N = p->N, k;
    zero(p, ws + p->g_lo, p->g_hi - p->g_lo); /* every buffer's gradient and dst (contiguous) */
    if (deps_in_ws)
        p->be->copy(p->be->ctx, ws + p->buf[p->op[p->n_op - 1].out].g, deps, (size_t)N * c->length);
    else
        p->be->upload(p->be->ctx, ws + p->buf[p->op[p->n_op - 1].out].g, deps, (size_t)N * c->length);
    for (k = p->n_op - 1; k >= 0; k--) {
        const op_plan *o = &p->op[k];
        const buf_plan *in = &p->buf[o->in0], *out = &p->buf[o->out];
        const float *xi = ws + in->v, *dy = ws + out->g;
        float *dx = ws + in->g;
        switch (o->kind) {
        case OP_INIT:
            conv_bwd(p, dx, dp ? dp + p->init_w : NULL, dp ? dp + p->init_b : NULL, dy, xi, prm + p->init_w,
                                 N, 1, c->length, c->dim, 7, 1, 3, ws + p->sc_conv);
            break;
        case OP_RB: bwd_rb(p, &p->rb[o->idx], prm, ws, xi, dx, dy, dp); break;
        case OP_ATTN: bwd_attn(p, &p->at[o->idx], prm, ws, xi, dx, dy, dp); break;
        case OP_SAMP: bwd_samp(p, &p->sp[o->idx], prm, ws, xi, dx, dy, dp); break;
        case OP_CAT: cat_backward(p, N, dx, in->C, ws + p->buf[o->in1].g, p->buf[o->in1].C, in->L, dy); break;
        case OP_FINAL:
            conv_bwd(p, dx, dp ? dp + p->fin_w : NULL, dp ? dp + p->fin_b : NULL, dy, xi, prm + p->fin_w, N,
                                 c->dim, c->length, 1, 1, 1, 0, ws + p->sc_conv);
            break;
        }
    }
    if (dp) { /* the time MLP, once every ResnetBlock has added into d(silu(temb)) */
        float *dt = ws + p->sc_t1, *dt2 = ws + p->sc_t2;
        size_t nt = (size_t)N * p->tdim;
        zero(p, dt, nt);
        p->be->silu_backward(dt, ws + p->dst, ws + p->temb, (long)nt);
        zero(p, dt2, nt);
        p->be->linear_backward(dt2, dp + p->t2_w, dp + p->t2_b, dt, ws + p->t1g, prm + p->t2_w, N, p->tdim, p->tdim);
        zero(p, dt, nt);
        p->be->gelu_backward(dt, dt2, ws + p->t1, (long)nt);
        p->be->linear_backward(NULL, dp + p->t1_w, dp + p->t1_b, dt, ws + p->temb0, prm + p->t1_w, N, c->dim, p->tdim);
    }
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
        size_t extra = 2u * sizeof(float) * (size_t)N * (size_t)cfg->length + 64u; /* < 2^50 */
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
    size_t need, nd, off, i;
    float *xt, *d, acc = 0.0f, scale;
    int n, D;
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
    /* the network's workspace first, then xt and d (64-byte aligned), all backend memory:
     * host values pass through a stack buffer */
    {
        plan p;
        float *ws = (float *)workspace, buf[256], *dpb;
        const ggdm_unet_backend *be = ex && ex->unet ? ex->unet : ggdm_unet_backend_cpu();
        const float *prm;
        size_t k, m;
        st = make_plan(cfg, N, 1, &p);
        if (st != GGDM_OK)
            return st;
        p.ex = ex;
        p.be = be;
        if (be->workspace && !(workspace = be->workspace(be->ctx, workspace, ws_bytes)))
            return GGDM_ERR_BUFFER_TOO_SMALL; /* the backend could not provide its workspace */
        ws = (float *)workspace;
        prm = be->params(be->ctx, params, p.n_params, ex && ex->params_unchanged ? -1 : 0);
        off = p.total * sizeof(float);
        xt = (float *)((char *)workspace + off);
        d = xt + ((nd + 15u) & ~(size_t)15u);
        for (k = 0; k < nd; k += m) {
            m = nd - k < 256 ? nd - k : 256;
            for (i = 0; i < m; i++) {
                n = (int)((k + i) / (size_t)D);
                buf[i] = sqrt_ab[t[n]] * x0[k + i] + sqrt_1mab[t[n]] * z[k + i];
            }
            be->upload(be->ctx, xt + k, buf, m);
        }
        forward_all(&p, prm, xt, 1, t, ws, NULL, NULL);
        /* d = eps - z, the loss chain in order, then d * scale = d loss / d eps */
        scale = 2.0f / (float)nd;
        for (k = 0; k < nd; k += m) {
            m = nd - k < 256 ? nd - k : 256;
            be->download(be->ctx, buf, ws + p.buf[p.op[p.n_op - 1].out].v + k, m);
            for (i = 0; i < m; i++) {
                float di = buf[i] - z[k + i];
                acc = fmaf(di, di, acc);
                buf[i] = di * scale;
            }
            be->upload(be->ctx, d + k, buf, m);
        }
        *loss = acc / (float)nd;
        if (!dparams)
            return backend_status(be);
        dpb = be->grads_begin(be->ctx, dparams, p.n_params);
        backward_all(&p, prm, ws, d, 1, dpb);
        be->grads_end(be->ctx, dparams, dpb, p.n_params);
        return backend_status(be);
    }
}
