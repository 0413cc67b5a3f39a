/*
 * The image reward model (ggdm/resnet.h; docs/reward-model.md): torchvision's ResNet-18 in
 * eval mode with a Linear head, behind the authors' preprocessing, as a graph builder on the
 * op graph. One parameter walk (pwalk.h) defines the table and the offsets the builder wires.
 */
#include "ggdm/resnet.h"

#include <string.h>

#include "ggdm/graph.h"
#include "pwalk.h"

#define NSTAGE 4
#define MAXB 64 /* BasicBlocks per stage */

typedef struct bn_p {
    uint64_t off; /* weight, bias, running_mean, running_var: 4 x C contiguous floats */
} bn_p;

typedef struct block_p {
    int cin, cout, stride, down;
    uint64_t conv1, conv2, dconv;
    bn_p bn1, bn2, dbn;
} block_p;

typedef struct plan {
    uint64_t conv1, fc_w, fc_b, nscale, nshift, n_params;
    bn_p bn1;
    block_p blk[NSTAGE * MAXB];
    int n_blk, n_tensors;
} plan;

static void set_msg(char *msg, const char *s)
{
    if (msg) {
        size_t n = strlen(s);
        if (n >= GGDM_RESNET_MSG_LEN)
            n = GGDM_RESNET_MSG_LEN - 1;
        memcpy(msg, s, n);
        msg[n] = '\0';
    }
}

void ggdm_resnet_cfg_default(ggdm_resnet_cfg *cfg)
{
    int i;
    memset(cfg, 0, sizeof *cfg);
    for (i = 0; i < NSTAGE; i++)
        cfg->layers[i] = 2;
    cfg->width = 64;
    cfg->in_ch = 3;
    cfg->n_out = 1;
    cfg->preprocess = 1;
    cfg->resize = 224;
    cfg->antialias = 1;
    cfg->mean[0] = 0.48145466f;
    cfg->mean[1] = 0.4578275f;
    cfg->mean[2] = 0.40821073f;
    cfg->std[0] = 0.26862954f;
    cfg->std[1] = 0.26130258f;
    cfg->std[2] = 0.27577711f;
    cfg->bn_eps = 1e-5f;
}

ggdm_status ggdm_resnet_cfg_check(const ggdm_resnet_cfg *c, char *msg)
{
    int i;
    set_msg(msg, "");
    if (!c) {
        set_msg(msg, "no configuration");
        return GGDM_ERR_ARG;
    }
    for (i = 0; i < NSTAGE; i++)
        if (c->layers[i] < 1 || c->layers[i] > MAXB) {
            set_msg(msg, "every stage needs 1 to 64 BasicBlocks (layers)");
            return GGDM_ERR_ARG;
        }
    if (c->width < 1 || c->width > (1 << 12)) {
        set_msg(msg, "width must be 1 to 4096");
        return GGDM_ERR_ARG;
    }
    if (c->in_ch < 1 || c->in_ch > 64 || c->n_out < 1 || c->n_out > (1 << 16)) {
        set_msg(msg, "in_ch must be 1 to 64 and n_out 1 to 65536");
        return GGDM_ERR_ARG;
    }
    if (c->preprocess != 0 && c->preprocess != 1) {
        set_msg(msg, "preprocess must be 0 or 1");
        return GGDM_ERR_ARG;
    }
    if (c->preprocess && c->in_ch != 3) {
        set_msg(msg, "the preprocessing (Normalize with 3 means) needs in_ch = 3");
        return GGDM_ERR_ARG;
    }
    if (c->resize < 0 || c->resize > (1 << 14) || (c->antialias != 0 && c->antialias != 1)) {
        set_msg(msg, "resize must be 0 (none) to 16384 and antialias 0 or 1");
        return GGDM_ERR_ARG;
    }
    for (i = 0; c->preprocess && i < 3; i++)
        if (!(c->std[i] > 0.0f) || !(c->std[i] < 1e30f) || !(c->mean[i] == c->mean[i]) || c->mean[i] > 1e30f ||
            c->mean[i] < -1e30f) {
            set_msg(msg, "Normalize needs finite means and positive finite standard deviations");
            return GGDM_ERR_ARG;
        }
    if (!(c->bn_eps > 0.0f) || c->bn_eps > 1.0f) {
        set_msg(msg, "bn_eps must be in (0, 1]");
        return GGDM_ERR_ARG;
    }
    return GGDM_OK;
}

/* ------------------------------------------------------------------ parameter walk */

static bn_p walk_bn(ggdm_pwalk *w, const char *pre, int C)
{
    bn_p b;
    b.off = ggdm_pwalk_add(w, pre, "weight", 1, (uint64_t)C, 0, 0, 0, 0, GGDM_PARAM_INIT_ONES);
    ggdm_pwalk_add(w, pre, "bias", 1, (uint64_t)C, 0, 0, 0, 0, GGDM_PARAM_INIT_ZEROS);
    ggdm_pwalk_add(w, pre, "running_mean", 1, (uint64_t)C, 0, 0, 0, 0, GGDM_PARAM_INIT_ZEROS);
    ggdm_pwalk_add(w, pre, "running_var", 1, (uint64_t)C, 0, 0, 0, 0, GGDM_PARAM_INIT_ONES);
    return b;
}

static uint64_t walk_conv(ggdm_pwalk *w, const char *pre, int cout, int cin, int k)
{
    uint64_t fan = (uint64_t)cin * (uint64_t)k * (uint64_t)k;
    return ggdm_pwalk_add(w, pre, "weight", 4, (uint64_t)cout, (uint64_t)cin, (uint64_t)k, (uint64_t)k, fan,
                          GGDM_PARAM_INIT_UNIFORM);
}

static ggdm_status make_plan(const ggdm_resnet_cfg *c, plan *p, int want, ggdm_param_info *info)
{
    ggdm_pwalk w;
    char pre[64];
    int s, b, cin;
    ggdm_status st = ggdm_resnet_cfg_check(c, NULL);
    if (st != GGDM_OK)
        return st;
    memset(p, 0, sizeof *p);
    ggdm_pwalk_begin(&w, want, info);
    p->conv1 = walk_conv(&w, "conv1", c->width, c->in_ch, 7);
    p->bn1 = walk_bn(&w, "bn1", c->width);
    cin = c->width;
    for (s = 0; s < NSTAGE; s++) {
        int cout = c->width << s;
        for (b = 0; b < c->layers[s]; b++) {
            block_p *k = &p->blk[p->n_blk++];
            k->cin = cin;
            k->cout = cout;
            k->stride = (s > 0 && b == 0) ? 2 : 1;
            k->down = k->stride != 1 || cin != cout;
            snprintf(pre, sizeof pre, "layer%d.%d.conv1", s + 1, b);
            k->conv1 = walk_conv(&w, pre, cout, cin, 3);
            snprintf(pre, sizeof pre, "layer%d.%d.bn1", s + 1, b);
            k->bn1 = walk_bn(&w, pre, cout);
            snprintf(pre, sizeof pre, "layer%d.%d.conv2", s + 1, b);
            k->conv2 = walk_conv(&w, pre, cout, cout, 3);
            snprintf(pre, sizeof pre, "layer%d.%d.bn2", s + 1, b);
            k->bn2 = walk_bn(&w, pre, cout);
            if (k->down) {
                snprintf(pre, sizeof pre, "layer%d.%d.downsample.0", s + 1, b);
                k->dconv = walk_conv(&w, pre, cout, cin, 1);
                snprintf(pre, sizeof pre, "layer%d.%d.downsample.1", s + 1, b);
                k->dbn = walk_bn(&w, pre, cout);
            }
            cin = cout;
        }
    }
    p->fc_w = ggdm_pwalk_add(&w, "fc", "weight", 2, (uint64_t)c->n_out, (uint64_t)cin, 0, 0, (uint64_t)cin,
                             GGDM_PARAM_INIT_UNIFORM);
    p->fc_b = ggdm_pwalk_add(&w, "fc", "bias", 1, (uint64_t)c->n_out, 0, 0, 0, (uint64_t)cin,
                             GGDM_PARAM_INIT_UNIFORM);
    if (c->preprocess) {
        p->nscale = ggdm_pwalk_add(&w, "normalize", "scale", 1, 3, 0, 0, 0, 0, GGDM_PARAM_INIT_DERIVED);
        p->nshift = ggdm_pwalk_add(&w, "normalize", "shift", 1, 3, 0, 0, 0, 0, GGDM_PARAM_INIT_DERIVED);
    }
    p->n_params = w.off;
    p->n_tensors = w.count;
    if (w.overflow)
        return GGDM_ERR_ARG;
    if (want >= 0 && want >= w.count)
        return GGDM_ERR_ARG;
    return GGDM_OK;
}

ggdm_status ggdm_resnet_tensor(const ggdm_resnet_cfg *cfg, int i, ggdm_param_info *info)
{
    plan p;
    if (!info || i < 0)
        return GGDM_ERR_ARG;
    return make_plan(cfg, &p, i, info);
}

static ggdm_status tensor_fn(const void *cfg, int i, ggdm_param_info *info)
{
    return ggdm_resnet_tensor((const ggdm_resnet_cfg *)cfg, i, info);
}

ggdm_status ggdm_resnet_table(const ggdm_resnet_cfg *cfg, ggdm_param_table *t)
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

static void derived(const ggdm_resnet_cfg *c, float *scale, float *shift)
{
    int i;
    for (i = 0; i < 3; i++) {
        scale[i] = (float)(1.0 / (double)c->std[i]);
        shift[i] = (float)(-(double)c->mean[i] / (double)c->std[i]);
    }
}

ggdm_status ggdm_resnet_derive(const ggdm_resnet_cfg *cfg, float *params, uint64_t count)
{
    plan p;
    ggdm_status st = make_plan(cfg, &p, -1, NULL);
    if (st != GGDM_OK)
        return st;
    if (!params)
        return GGDM_ERR_ARG;
    if (count < p.n_params)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    if (cfg->preprocess)
        derived(cfg, params + p.nscale, params + p.nshift);
    return GGDM_OK;
}

ggdm_status ggdm_resnet_init(const ggdm_resnet_cfg *cfg, uint64_t seed, float *params, uint64_t count)
{
    ggdm_param_table t;
    ggdm_status st = ggdm_resnet_table(cfg, &t);
    if (st != GGDM_OK)
        return st;
    st = ggdm_param_init(&t, seed, GGDM_NET_ID_RESNET, params, count);
    return st != GGDM_OK ? st : ggdm_resnet_derive(cfg, params, count);
}

ggdm_status ggdm_resnet_input_size(const ggdm_resnet_cfg *c, int H, int W, int *oh, int *ow)
{
    long s, l;
    ggdm_status st = ggdm_resnet_cfg_check(c, NULL);
    if (st != GGDM_OK)
        return st;
    if (!oh || !ow || H < 1 || W < 1 || H > (1 << 16) || W > (1 << 16))
        return GGDM_ERR_ARG;
    *oh = H;
    *ow = W;
    if (!c->preprocess || c->resize == 0)
        return GGDM_OK;
    /* torchvision's Resize(int): the shorter side becomes `resize`, the longer one
     * int(resize * long / short) (exact integer division: the quotient of two integers below
     * 2^31 is never within a double's rounding of an integer without being one) */
    s = W <= H ? W : H;
    l = W <= H ? H : W;
    l = (long)c->resize * l / s;
    if (l > (1 << 16))
        return GGDM_ERR_ARG;
    if (W <= H) {
        *ow = c->resize;
        *oh = (int)l;
    } else {
        *oh = c->resize;
        *ow = (int)l;
    }
    return GGDM_OK;
}

/* ------------------------------------------------------------------ the graph */

typedef struct net_cfg {
    const ggdm_resnet_cfg *cfg;
    int H, W;
} net_cfg;

typedef struct builder {
    ggdm_graph *g;
    const ggdm_resnet_cfg *c;
} builder;

static int op3(builder *b, ggdm_op_id op, const ggdm_op_attr *a, int i0, int i1, int i2, const char *trace)
{
    int in[3];
    in[0] = i0;
    in[1] = i1;
    in[2] = i2;
    return ggdm_graph_op(b->g, op, a, in, 3, trace, 3);
}

static int conv(builder *b, int x, uint64_t w, int cin, int cout, int k, int stride, int pad)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    a.Cout = cout;
    a.KH = a.KW = k;
    a.sh = a.sw = stride;
    a.ph = a.pw = pad;
    return op3(b, GGDM_OP_CONV, &a, x, ggdm_graph_param(b->g, w, cout, cin, k * k), -1, NULL);
}

static int bnorm(builder *b, int x, bn_p p, int C)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    a.eps = b->c->bn_eps;
    return op3(b, GGDM_OP_BNORM, &a, x, ggdm_graph_param(b->g, p.off, 4, C, 1), -1, NULL);
}

static int unary(builder *b, ggdm_op_id op, int x, const char *trace)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    return op3(b, op, &a, x, -1, -1, trace);
}

static int add(builder *b, int x, int y)
{
    ggdm_op_attr a;
    memset(&a, 0, sizeof a);
    return op3(b, GGDM_OP_ADD, &a, x, y, -1, NULL);
}

/* BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + (downsample(x) or x)) */
static int block(builder *b, const block_p *k, int x, const char *name)
{
    int v = conv(b, x, k->conv1, k->cin, k->cout, 3, k->stride, 1), idn = x;
    v = unary(b, GGDM_OP_RELU, bnorm(b, v, k->bn1, k->cout), NULL);
    v = bnorm(b, conv(b, v, k->conv2, k->cout, k->cout, 3, 1, 1), k->bn2, k->cout);
    if (k->down)
        idn = bnorm(b, conv(b, x, k->dconv, k->cin, k->cout, 1, k->stride, 0), k->dbn, k->cout);
    return unary(b, GGDM_OP_RELU, add(b, v, idn), name);
}

static ggdm_status resnet_build(const void *cfgv, ggdm_graph *g)
{
    const net_cfg *nc = (const net_cfg *)cfgv;
    const ggdm_resnet_cfg *c = nc->cfg;
    plan p;
    builder b;
    ggdm_op_attr a;
    int x, i, s, j, oh, ow;
    char name[32];
    ggdm_status st = make_plan(c, &p, -1, NULL);
    if (st == GGDM_OK)
        st = ggdm_resnet_input_size(c, nc->H, nc->W, &oh, &ow);
    if (st != GGDM_OK)
        return st;
    b.g = g;
    b.c = c;
    x = ggdm_graph_input(g, 0, c->in_ch, nc->H, nc->W, "input");
    if (c->preprocess) {
        memset(&a, 0, sizeof a); /* (x + 1) / 2 as x * 0.5 + 0.5: the same value, both exact steps */
        a.scale = 0.5f;
        a.shift = 0.5f;
        x = op3(&b, GGDM_OP_AFFINE, &a, x, -1, -1, NULL);
        memset(&a, 0, sizeof a);
        a.lo = 0.0f;
        a.hi = 1.0f;
        x = op3(&b, GGDM_OP_CLAMP, &a, x, -1, -1, NULL);
        if (oh != nc->H || ow != nc->W) { /* torchvision returns the image itself at its size */
            memset(&a, 0, sizeof a);
            a.oh = oh;
            a.ow = ow;
            a.antialias = c->antialias;
            x = op3(&b, GGDM_OP_RESIZE, &a, x, -1, -1, NULL);
        }
        memset(&a, 0, sizeof a);
        x = op3(&b, GGDM_OP_AFFINE, &a, x, ggdm_graph_param(g, p.nscale, 3, 1, 1),
                ggdm_graph_param(g, p.nshift, 3, 1, 1), "preprocess");
    }
    x = conv(&b, x, p.conv1, c->in_ch, c->width, 7, 2, 3);
    x = unary(&b, GGDM_OP_RELU, bnorm(&b, x, p.bn1, c->width), "relu");
    memset(&a, 0, sizeof a);
    a.KH = a.KW = 3;
    a.sh = a.sw = 2;
    a.ph = a.pw = 1;
    x = op3(&b, GGDM_OP_MAXPOOL, &a, x, -1, -1, "maxpool");
    for (s = 0, i = 0; s < NSTAGE; s++)
        for (j = 0; j < c->layers[s]; j++, i++) {
            snprintf(name, sizeof name, "layer%d.%d", s + 1, j);
            x = block(&b, &p.blk[i], x, name);
        }
    x = unary(&b, GGDM_OP_AVGPOOL, x, "avgpool");
    memset(&a, 0, sizeof a);
    a.Cout = c->n_out;
    {
        int in[3];
        in[0] = x;
        in[1] = ggdm_graph_param(g, p.fc_w, c->n_out, c->width << 3, 1);
        in[2] = ggdm_graph_param(g, p.fc_b, c->n_out, 1, 1);
        x = ggdm_graph_op(g, GGDM_OP_LINEAR, &a, in, 3, "fc", 2);
    }
    ggdm_graph_output(g, x, 0);
    return g->status;
}

static ggdm_status resnet_size(const void *cfgv, int N, int *max_nodes, int *max_vals)
{
    const net_cfg *nc = (const net_cfg *)cfgv;
    int s, nb = 0, nt;
    ggdm_param_table t;
    ggdm_status st = ggdm_resnet_table(nc->cfg, &t);
    (void)N;
    if (st != GGDM_OK)
        return st;
    for (s = 0; s < NSTAGE; s++)
        nb += nc->cfg->layers[s];
    nt = t.n_tensors;
    *max_nodes = 12 + 9 * nb;
    *max_vals = *max_nodes + nt + 4;
    return GGDM_OK;
}

static ggdm_status make_net(const ggdm_resnet_cfg *cfg, int N, int H, int W, net_cfg *nc, ggdm_net *net)
{
    ggdm_param_table t;
    int oh, ow;
    ggdm_status st = ggdm_resnet_table(cfg, &t);
    if (st == GGDM_OK)
        st = ggdm_resnet_input_size(cfg, H, W, &oh, &ow);
    if (st != GGDM_OK)
        return st;
    if (N < 1 || N > (1 << 20))
        return GGDM_ERR_ARG;
    nc->cfg = cfg;
    nc->H = H;
    nc->W = W;
    memset(net, 0, sizeof *net);
    net->cfg = nc;
    net->build = resnet_build;
    net->size = resnet_size;
    net->n_params = t.n_params;
    net->per_sample = 1;
    net->in_floats[0] = (size_t)cfg->in_ch * (size_t)H * (size_t)W;
    net->out_floats[0] = (size_t)cfg->n_out;
    return GGDM_OK;
}

ggdm_status ggdm_resnet_workspace_bytes(const ggdm_resnet_cfg *cfg, int N, int H, int W, int grad,
                                        const ggdm_exec *ex, size_t *bytes)
{
    net_cfg nc;
    ggdm_net net;
    ggdm_status st;
    if (!bytes)
        return GGDM_ERR_ARG;
    *bytes = 0;
    st = make_net(cfg, N, H, W, &nc, &net);
    if (st != GGDM_OK)
        return st;
    return ggdm_net_workspace_bytes(&net, N, grad ? 2 : 0, ex, bytes);
}

ggdm_status ggdm_resnet_flops(const ggdm_resnet_cfg *cfg, int N, int H, int W, double *flops)
{
    net_cfg nc;
    ggdm_net net;
    ggdm_status st;
    if (!flops)
        return GGDM_ERR_ARG;
    *flops = 0;
    st = make_net(cfg, N, H, W, &nc, &net);
    if (st != GGDM_OK)
        return st;
    return ggdm_net_flops(&net, N, flops);
}

/* The derived tensors must hold ggdm_resnet_derive's bits (a loaded network that forgot them
 * would otherwise normalise with whatever the array held). */
static ggdm_status check_derived(const ggdm_resnet_cfg *c, const float *params)
{
    plan p;
    float sc[3], sh[3];
    ggdm_status st = make_plan(c, &p, -1, NULL);
    if (st != GGDM_OK || !c->preprocess)
        return st;
    derived(c, sc, sh);
    return memcmp(sc, params + p.nscale, sizeof sc) == 0 && memcmp(sh, params + p.nshift, sizeof sh) == 0
               ? GGDM_OK
               : GGDM_ERR_ARG;
}

static ggdm_status run(const ggdm_resnet_cfg *cfg, const float *params, int N, int H, int W, const float *x,
                       const float *dr, float *r, float *dx, void *ws, size_t ws_bytes, ggdm_resnet_trace_fn trace,
                       void *trace_ctx, const ggdm_exec *ex)
{
    net_cfg nc;
    ggdm_net net;
    ggdm_graph_io io;
    ggdm_status st = make_net(cfg, N, H, W, &nc, &net);
    if (st != GGDM_OK)
        return st;
    if (!params || !x || !ws)
        return GGDM_ERR_ARG;
    st = check_derived(cfg, params);
    if (st != GGDM_OK)
        return st;
    memset(&io, 0, sizeof io);
    io.in[0] = x;
    io.out[0] = r;
    io.dout = dr;
    io.dx = dx;
    io.trace = (ggdm_graph_trace_fn)trace;
    io.trace_ctx = trace_ctx;
    return ggdm_net_run(&net, ex && ex->unet ? ex->unet : ggdm_backend_cpu(), params, N,
                        dx ? GGDM_GRAPH_GRAD_INPUT : GGDM_GRAPH_FORWARD, &io, ws, ws_bytes, ex);
}

ggdm_status ggdm_resnet_forward(const ggdm_resnet_cfg *cfg, const float *params, int N, int H, int W,
                                const float *x, float *r, void *workspace, size_t ws_bytes,
                                ggdm_resnet_trace_fn trace, void *trace_ctx, const ggdm_exec *ex)
{
    if (!r)
        return GGDM_ERR_ARG;
    return run(cfg, params, N, H, W, x, NULL, r, NULL, workspace, ws_bytes, trace, trace_ctx, ex);
}

ggdm_status ggdm_resnet_vjp(const ggdm_resnet_cfg *cfg, const float *params, int N, int H, int W, const float *x,
                            const float *dr, float *r, float *dx, void *workspace, size_t ws_bytes,
                            const ggdm_exec *ex)
{
    if (!dr || !dx)
        return GGDM_ERR_ARG;
    return run(cfg, params, N, H, W, x, dr, r, dx, workspace, ws_bytes, NULL, NULL, ex);
}
