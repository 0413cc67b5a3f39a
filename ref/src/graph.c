/*
 * The network graph (ggdm/graph.h; docs/graph.md): building into caller memory, planning
 * (which VJPs run, gradient sharing, lifetimes, first-fit placement in one arena) and the
 * runner (forward in node order, VJPs in reverse order, gradients zeroed when they become
 * live, tracing).
 *
 * The plan's time axis, for n nodes: 0 the graph inputs' upload; 1 + k node k's forward;
 * n + 1 the outputs' download and d(loss)/d(output)'s upload; 2n + 1 - k node k's VJP;
 * 2n + 2 the input gradient's download. A buffer is alive over a closed interval of it.
 */
#include "ggdm/graph.h"

#include <stdio.h>
#include <string.h>

#include "ggdm/layers.h"

#define MAX_COUNT (1 << 20)
#define GRAN 16u /* floats: 64-byte granules */

/* one buffer to place: value, gradient, cache or scratch */
typedef struct pbuf {
    size_t n; /* floats, rounded to granules */
    int t0, t1;
    size_t *off;
} pbuf;

typedef struct gscratch {
    pbuf *buf;
    int *order; /* placed buffers, by offset */
    int cap;
    char in_name[GGDM_GRAPH_SLOTS][GGDM_GRAPH_NAME_LEN];
} gscratch;

static int max_bufs(int max_nodes, int max_vals)
{
    return 2 * max_vals + (GGDM_OP_MAX_CACHE + 2) * max_nodes;
}

static size_t align16(size_t n)
{
    return (n + 15u) & ~(size_t)15u;
}

size_t ggdm_graph_bytes(int max_nodes, int max_vals)
{
    size_t b;
    if (max_nodes < 1 || max_nodes > MAX_COUNT || max_vals < 1 || max_vals > MAX_COUNT)
        return 0;
    b = align16(sizeof(ggdm_graph)) + align16(sizeof(gscratch));
    b += align16(sizeof(ggdm_graph_node) * (size_t)max_nodes) + align16(sizeof(ggdm_graph_value) * (size_t)max_vals);
    b += align16(sizeof(pbuf) * (size_t)max_bufs(max_nodes, max_vals));
    b += align16(sizeof(int) * 2u * (size_t)max_bufs(max_nodes, max_vals));
    return b;
}

ggdm_status ggdm_graph_init(void *mem, size_t bytes, int max_nodes, int max_vals, int N, ggdm_graph **out)
{
    size_t need = ggdm_graph_bytes(max_nodes, max_vals);
    char *p = (char *)mem;
    ggdm_graph *g;
    gscratch *s;
    int i;
    if (!out)
        return GGDM_ERR_ARG;
    *out = NULL;
    if (!mem || need == 0 || N < 1 || N > (1 << 24) || ((uintptr_t)mem & 15u))
        return GGDM_ERR_ARG;
    if (bytes < need)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    g = (ggdm_graph *)p;
    p += align16(sizeof *g);
    memset(g, 0, sizeof *g);
    s = (gscratch *)p;
    p += align16(sizeof *s);
    memset(s, 0, sizeof *s);
    g->node = (ggdm_graph_node *)p;
    p += align16(sizeof(ggdm_graph_node) * (size_t)max_nodes);
    g->val = (ggdm_graph_value *)p;
    p += align16(sizeof(ggdm_graph_value) * (size_t)max_vals);
    s->cap = max_bufs(max_nodes, max_vals);
    s->buf = (pbuf *)p;
    p += align16(sizeof(pbuf) * (size_t)s->cap);
    s->order = (int *)p;
    g->scratch = s;
    g->max_nodes = max_nodes;
    g->max_vals = max_vals;
    g->N = N;
    g->status = GGDM_OK;
    for (i = 0; i < GGDM_GRAPH_SLOTS; i++)
        g->in_val[i] = g->steps_val[i] = g->out_val[i] = -1;
    *out = g;
    return GGDM_OK;
}

/* ------------------------------------------------------------------ building */

static int fail(ggdm_graph *g, ggdm_status st)
{
    if (g->status == GGDM_OK)
        g->status = st;
    return -1;
}

static int new_value(ggdm_graph *g, int kind, int batched, int C, int H, int W)
{
    ggdm_graph_value *v;
    size_t per;
    if (g->status != GGDM_OK)
        return -1;
    if (g->n_vals >= g->max_vals)
        return fail(g, GGDM_ERR_BUFFER_TOO_SMALL);
    if (C < 1 || H < 1 || W < 1)
        return fail(g, GGDM_ERR_ARG);
    per = (size_t)C * (size_t)H;
    if (per > ((size_t)1 << 40) / (size_t)W || per * (size_t)W > ((size_t)1 << 44) / (size_t)g->N)
        return fail(g, GGDM_ERR_ARG);
    v = &g->val[g->n_vals];
    memset(v, 0, sizeof *v);
    v->kind = kind;
    v->batched = batched;
    v->C = C;
    v->H = H;
    v->W = W;
    v->n = per * (size_t)W * (batched ? (size_t)g->N : 1u);
    v->producer = -1;
    v->last_cons = -1;
    v->grad_of = g->n_vals;
    v->grad_zero = -1;
    v->off = v->goff = GGDM_GRAPH_NONE;
    g->planned = 0;
    return g->n_vals++;
}

int ggdm_graph_param(ggdm_graph *g, uint64_t offset, int C, int H, int W)
{
    int v = new_value(g, GGDM_VAL_PARAM, 0, C, H, W);
    if (v >= 0) {
        g->val[v].param = offset;
        if (offset + g->val[v].n > g->n_params)
            g->n_params = offset + g->val[v].n;
    }
    return v;
}

int ggdm_graph_input(ggdm_graph *g, int slot, int C, int H, int W, const char *trace)
{
    int v;
    if (slot < 0 || slot >= GGDM_GRAPH_SLOTS || (g->status == GGDM_OK && g->in_val[slot] >= 0))
        return fail(g, GGDM_ERR_ARG);
    v = new_value(g, GGDM_VAL_INPUT, 1, C, H, W);
    if (v >= 0) {
        gscratch *s = (gscratch *)g->scratch;
        g->val[v].slot = slot;
        g->in_val[slot] = v;
        snprintf(s->in_name[slot], GGDM_GRAPH_NAME_LEN, "%s", trace ? trace : "");
    }
    return v;
}

int ggdm_graph_steps(ggdm_graph *g, int slot)
{
    int v;
    if (slot < 0 || slot >= GGDM_GRAPH_SLOTS || (g->status == GGDM_OK && g->steps_val[slot] >= 0))
        return fail(g, GGDM_ERR_ARG);
    v = new_value(g, GGDM_VAL_STEPS, 1, 1, 1, 1);
    if (v >= 0) {
        g->val[v].slot = slot;
        g->steps_val[slot] = v;
    }
    return v;
}

int ggdm_graph_op(ggdm_graph *g, ggdm_op_id op, const ggdm_op_attr *attr, const int *in, int n_in, const char *trace,
                  int trace_ndim)
{
    ggdm_graph_node *nd;
    ggdm_op_attr a;
    ggdm_op_info info;
    ggdm_status st;
    int i, out;
    if (g->status != GGDM_OK)
        return -1;
    if (!attr || !in || n_in < 1 || (int)op < 0 || op >= GGDM_OP_COUNT)
        return fail(g, GGDM_ERR_ARG);
    if (g->n_nodes >= g->max_nodes)
        return fail(g, GGDM_ERR_BUFFER_TOO_SMALL);
    a = *attr;
    if (in[0] < 0 || in[0] >= g->n_vals)
        return fail(g, GGDM_ERR_ARG);
    {
        const ggdm_graph_value *x = &g->val[in[0]];
        a.N = x->batched ? g->N : 1;
        if (!a.C)
            a.C = x->C;
        if (!a.H)
            a.H = x->H;
        if (!a.W)
            a.W = x->W;
    }
    st = ggdm_op_info_get(op, &a, &info);
    if (st != GGDM_OK)
        return fail(g, st);
    for (i = 0; i < n_in; i++) /* entries past the op's inputs must be absent (-1) */
        if (in[i] >= g->n_vals || in[i] < -1 || (i >= info.n_in && in[i] >= 0) || n_in > GGDM_OP_MAX_IN)
            return fail(g, GGDM_ERR_ARG);
    if (n_in > info.n_in)
        n_in = info.n_in;
    out = new_value(g, GGDM_VAL_ACT, info.batched, info.out_C, info.out_H, info.out_W);
    if (out < 0)
        return -1;
    nd = &g->node[g->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->op = (int)op;
    nd->a = a;
    nd->info = info;
    nd->n_in = info.n_in;
    for (i = 0; i < GGDM_OP_MAX_IN; i++)
        nd->in[i] = i < n_in ? in[i] : -1;
    for (i = 0; i < n_in; i++)
        if (in[i] >= 0) {
            g->val[in[i]].n_cons++;
            g->val[in[i]].last_cons = g->n_nodes;
        }
    nd->out = out;
    g->val[out].producer = g->n_nodes;
    if (trace && trace[0]) {
        snprintf(nd->name, sizeof nd->name, "%s", trace);
        nd->trace_ndim = trace_ndim == 2 ? 2 : 3;
    }
    g->n_nodes++;
    return out;
}

void ggdm_graph_output(ggdm_graph *g, int v, int slot)
{
    if (g->status != GGDM_OK)
        return;
    if (v < 0 || v >= g->n_vals || slot < 0 || slot >= GGDM_GRAPH_SLOTS || g->val[v].kind != GGDM_VAL_ACT ||
        g->out_val[slot] >= 0) {
        fail(g, GGDM_ERR_ARG);
        return;
    }
    g->out_val[slot] = v;
    g->val[v].output = slot + 1;
}

double ggdm_graph_flops(const ggdm_graph *g)
{
    double f = 0;
    int k;
    for (k = 0; k < g->n_nodes; k++)
        f += g->node[k].info.flops;
    return f;
}

/* ------------------------------------------------------------------ planning */

static int root(const ggdm_graph *g, int v)
{
    while (g->val[v].grad_of != v)
        v = g->val[v].grad_of;
    return v;
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

static int imin(int a, int b)
{
    return a < b ? a : b;
}

/* the fused activation chain at node k: NORM(GROUP, eps 1e-5, gamma, beta) -> [FILM ->] SILU,
 * each intermediate read by the next node only; returns the number of following nodes (0: none) */
static int fuse_len(const ggdm_graph *g, int k)
{
    const ggdm_graph_node *a = &g->node[k], *b, *c;
    const ggdm_graph_value *ga;
    if (a->op != GGDM_OP_NORM || a->a.kind != GGDM_NORM_GROUP || a->a.eps != GGDM_NORM_EPS || a->a.block || a->a.H != 1 ||
        a->in[1] < 0 || a->in[2] < 0 || k + 1 >= g->n_nodes)
        return 0;
    ga = &g->val[a->out];
    b = &g->node[k + 1];
    if (ga->n_cons != 1 || ga->output || b->in[0] != a->out)
        return 0;
    if (b->op == GGDM_OP_SILU)
        return 1;
    if (b->op != GGDM_OP_FILM || k + 2 >= g->n_nodes)
        return 0;
    c = &g->node[k + 2];
    if (g->val[b->out].n_cons != 1 || g->val[b->out].output || c->op != GGDM_OP_SILU || c->in[0] != b->out ||
        b->in[1] == a->out)
        return 0;
    return 2;
}

static ggdm_status add_buf(gscratch *s, int *nb, size_t n, int t0, int t1, size_t *off)
{
    pbuf *b;
    *off = 0;
    if (n == 0)
        return GGDM_OK; /* nothing to place */
    if (*nb >= s->cap)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    b = &s->buf[(*nb)++];
    b->n = (n + GRAN - 1u) / GRAN * GRAN;
    b->t0 = t0;
    b->t1 = t1;
    b->off = off;
    return GGDM_OK;
}

/* ord[0 .. nb) sorted by (t0, listing order), a stable bottom-up merge sort with tmp */
static void sort_by_t0(const pbuf *buf, int *ord, int *tmp, int nb)
{
    int w, i;
    for (i = 0; i < nb; i++)
        ord[i] = i;
    for (w = 1; w < nb; w *= 2) {
        for (i = 0; i < nb; i += 2 * w) {
            int a = i, m = i + w < nb ? i + w : nb, e = i + 2 * w < nb ? i + 2 * w : nb, b = m, k = i;
            while (a < m || b < e)
                tmp[k++] = (b >= e || (a < m && buf[ord[a]].t0 <= buf[ord[b]].t0)) ? ord[a++] : ord[b++];
        }
        memcpy(ord, tmp, sizeof(int) * (size_t)nb);
    }
}

/* First fit in order of creation time (ties: the order the buffers were listed): each buffer
 * goes at the lowest offset where it overlaps no placed buffer alive at the same time. The
 * placed buffers still alive are kept sorted by offset, so one scan finds the place; a
 * buffer dead before the current creation time can meet no later one and leaves the list. */
static size_t place(gscratch *s, int nb)
{
    int *ord = s->order, *live = s->order + s->cap, n_live = 0, i, t;
    size_t top = 0;
    sort_by_t0(s->buf, ord, live, nb);
    for (t = 0; t < nb; t++) {
        pbuf *b = &s->buf[ord[t]];
        size_t cand = 0;
        int at, k;
        for (i = k = 0; i < n_live; i++) { /* drop the dead, keep the order */
            const pbuf *p = &s->buf[live[i]];
            if (p->t1 >= b->t0)
                live[k++] = live[i];
        }
        n_live = k;
        for (i = 0; i < n_live; i++) {
            const pbuf *p = &s->buf[live[i]];
            if (*p->off >= cand + b->n)
                break;
            if (*p->off + p->n > cand)
                cand = *p->off + p->n;
        }
        *b->off = cand;
        if (cand + b->n > top)
            top = cand + b->n;
        for (at = n_live; at > 0 && *s->buf[live[at - 1]].off > cand; at--)
            live[at] = live[at - 1];
        live[at] = ord[t];
        n_live++;
    }
    return top;
}

/* 1: node k's backward reads its inputs (its VJP runs, or the fused backward of its chain) */
static int bwd_reads(const ggdm_graph *g, int k)
{
    int head = k;
    if (g->node[k].vjp)
        return 1;
    while (head > 0 && g->node[head].fused)
        head--;
    return g->node[head].fuse && g->node[head + g->node[head].fuse].fuse_bwd;
}

/* Whether node k's VJP reads its input i: the op says so (vjp_in), and when it reads it only
 * for some gradients (vjp_in_for), one of those is wanted. */
static int vjp_reads_in(const ggdm_graph *g, const ggdm_graph_node *nd, int i)
{
    int j, m = nd->info.vjp_in_for[i];
    if (!((nd->info.vjp_in >> i) & 1))
        return 0;
    if (!m)
        return 1;
    for (j = 0; j < nd->n_in; j++)
        if (((m >> j) & 1) && nd->in[j] >= 0 && g->val[nd->in[j]].needs_grad)
            return 1;
    return 0;
}

ggdm_status ggdm_graph_plan(ggdm_graph *g, int mode, const ggdm_backend *be, size_t *floats)
{
    gscratch *s;
    int n, k, i, nb = 0, o0;
    ggdm_status st;
    if (floats)
        *floats = 0;
    if (!g || g->status != GGDM_OK || mode < 0 || mode > 3 || g->n_nodes < 1)
        return GGDM_ERR_ARG;
    o0 = g->out_val[0];
    if (o0 < 0)
        return GGDM_ERR_ARG;
    if (be && be->supports)
        for (k = 0; k < g->n_nodes; k++)
            if (!be->supports(be->ctx, g->node[k].op, &g->node[k].a, NULL))
                return GGDM_ERR_UNSUPPORTED; /* (the backend does not run this op yet) */
    s = (gscratch *)g->scratch;
    n = g->n_nodes;
    g->mode = mode;
    /* needs_grad, forward: depends on a value whose gradient is wanted */
    for (i = 0; i < g->n_vals; i++) {
        ggdm_graph_value *v = &g->val[i];
        v->needs_grad = (v->kind == GGDM_VAL_PARAM && (mode & GGDM_GRAPH_GRAD_PARAMS)) ||
                        (v->kind == GGDM_VAL_INPUT && v->slot == 0 && (mode & GGDM_GRAPH_GRAD_INPUT));
        v->grad_of = i;
        v->grad_zero = -1;
        v->off = v->goff = GGDM_GRAPH_NONE;
    }
    for (k = 0; k < n; k++) {
        ggdm_graph_node *nd = &g->node[k];
        int any = 0;
        for (i = 0; i < nd->n_in; i++)
            if (nd->in[i] >= 0 && g->val[nd->in[i]].needs_grad)
                any = 1;
        g->val[nd->out].needs_grad = any;
        nd->vjp = 0;
        nd->fuse = nd->fused = nd->fuse_bwd = 0;
        nd->scr_vjp_n = nd->info.scratch_vjp;
    }
    /* which VJPs run: reverse reachability from output 0's gradient */
    if (mode) {
        /* needs_grad bit 1: the gradient is live (reaches output 0's) */
        if (g->val[o0].needs_grad)
            g->val[o0].needs_grad |= 2;
        for (k = n - 1; k >= 0; k--) {
            ggdm_graph_node *nd = &g->node[k];
            if ((g->val[nd->out].needs_grad & 3) != 3)
                continue;
            nd->vjp = 1;
            for (i = 0; i < nd->n_in; i++)
                if (nd->in[i] >= 0 && (g->val[nd->in[i]].needs_grad & 1))
                    g->val[nd->in[i]].needs_grad |= 2;
        }
        for (i = 0; i < g->n_vals; i++)
            g->val[i].needs_grad = (g->val[i].needs_grad & 3) == 3;
        /* gradient sharing: an ADD input that is an activation with no other reader */
        for (k = n - 1; k >= 0; k--) {
            ggdm_graph_node *nd = &g->node[k];
            if (nd->op != GGDM_OP_ADD || !nd->vjp)
                continue;
            for (i = 0; i < (nd->a.kind == GGDM_ADD_BCAST ? 1 : 2); i++) { /* (a broadcast b is smaller) */
                ggdm_graph_value *v = &g->val[nd->in[i]];
                if (v->kind == GGDM_VAL_ACT && v->needs_grad && v->n_cons == 1 && !v->output)
                    v->grad_of = root(g, nd->out);
            }
        }
    }
    /* fused activation chains (the backend's gn_act_forward / gn_act_backward) */
    if (be && be->gn_act_forward)
        for (k = 0; k < n; k++) {
            int f = fuse_len(g, k);
            if (!f)
                continue;
            g->node[k].fuse = f;
            for (i = 1; i <= f; i++)
                g->node[k + i].fused = 1;
            if (be->gn_act_backward && g->node[k].vjp && !(mode & GGDM_GRAPH_GRAD_PARAMS)) {
                ggdm_graph_node *silu = &g->node[k + f];
                const ggdm_graph_value *h = &g->val[g->node[k].in[0]];
                int ss = f == 2 ? g->node[k + 1].in[1] : -1;
                if (h->kind == GGDM_VAL_ACT && h->n_cons == 1 && (ss < 0 || !g->val[ss].needs_grad)) {
                    silu->fuse_bwd = 1;
                    silu->scr_vjp_n = g->val[silu->out].n;
                    if (f == 2)
                        g->node[k + 1].vjp = 0;
                    g->node[k].vjp = 0;
                }
            }
            k += f;
        }
    /* lifetimes of values */
    for (i = 0; i < g->n_vals; i++) {
        ggdm_graph_value *v = &g->val[i];
        if (v->kind == GGDM_VAL_ACT) {
            int p = v->producer, head = p;
            while (head > 0 && g->node[head].fused)
                head--;
            v->t0 = v->t1 = 1 + head;
            if (v->output)
                v->t1 = n + 1;
            if (g->node[p].vjp && g->node[p].info.vjp_out)
                v->t1 = imax(v->t1, 2 * n + 1 - p);
        } else {
            v->t0 = v->t1 = 0;
        }
        v->g0 = 2 * n + 3;
        v->g1 = -1;
    }
    for (k = 0; k < n; k++) {
        ggdm_graph_node *nd = &g->node[k];
        for (i = 0; i < nd->n_in; i++) {
            int u = nd->in[i];
            if (u < 0)
                continue;
            g->val[u].t1 = imax(g->val[u].t1, 1 + k);
            if (bwd_reads(g, k) && vjp_reads_in(g, nd, i))
                g->val[u].t1 = imax(g->val[u].t1, 2 * n + 1 - k);
        }
    }
    /* gradients: written first by the latest consumer whose VJP writes it, read as dout by the
     * producer's VJP; output 0's is uploaded at n + 1, input 0's downloaded at 2n + 2 */
    if (mode) {
        for (k = n - 1; k >= 0; k--) {
            ggdm_graph_node *nd = &g->node[k];
            int t = 2 * n + 1 - k, head = k;
            if (!nd->vjp && !nd->fuse_bwd)
                continue;
            if (nd->fuse_bwd) { /* writes dh, the chain head's input's gradient */
                while (g->node[head].fused)
                    head--;
                {
                    int r = root(g, g->node[head].in[0]);
                    ggdm_graph_value *rv = &g->val[r];
                    if (t < rv->g0) {
                        rv->g0 = t;
                        rv->grad_zero = k;
                    }
                }
            } else {
                for (i = 0; i < nd->n_in; i++) {
                    int u = nd->in[i], r;
                    if (u < 0 || !g->val[u].needs_grad || g->val[u].kind == GGDM_VAL_PARAM)
                        continue;
                    r = root(g, u);
                    if (r == root(g, nd->out))
                        continue; /* shares the output's gradient: nothing to add */
                    if (t < g->val[r].g0) {
                        g->val[r].g0 = t;
                        g->val[r].grad_zero = k;
                    }
                }
            }
            {
                int r = root(g, nd->out);
                g->val[r].g1 = imax(g->val[r].g1, t);
            }
        }
        if (g->val[o0].needs_grad) {
            ggdm_graph_value *r = &g->val[root(g, o0)];
            r->g0 = imin(r->g0, n + 1);
            r->grad_zero = -1; /* uploaded, not zeroed */
            r->g1 = imax(r->g1, n + 1);
        }
        if ((mode & GGDM_GRAPH_GRAD_INPUT) && g->in_val[0] >= 0 && g->val[g->in_val[0]].needs_grad) {
            ggdm_graph_value *r = &g->val[root(g, g->in_val[0])];
            r->g1 = 2 * n + 2;
            if (r->g0 > 2 * n + 2) { /* no consumer writes it: zeroed at the end (a zero gradient) */
                r->g0 = 2 * n + 2;
                r->grad_zero = n; /* marker: zeroed before the download */
            }
        }
    }
    /* the buffers */
    for (i = 0; i < g->n_vals; i++) {
        ggdm_graph_value *v = &g->val[i];
        if (v->kind != GGDM_VAL_PARAM) {
            st = add_buf(s, &nb, v->n, v->t0, v->t1, &v->off);
            if (st != GGDM_OK)
                return st;
        }
        if (mode && v->needs_grad && v->kind != GGDM_VAL_PARAM && v->grad_of == i && v->g1 >= 0 &&
            v->g0 <= v->g1) {
            st = add_buf(s, &nb, v->n, v->g0, v->g1, &v->goff);
            if (st != GGDM_OK)
                return st;
        }
    }
    for (k = 0; k < n; k++) {
        ggdm_graph_node *nd = &g->node[k];
        int head = k, tf, tb = 2 * n + 1 - k;
        while (g->node[head].fused)
            head--;
        tf = 1 + head;
        for (i = 0; i < nd->info.n_cache; i++) {
            int t1 = bwd_reads(g, k) ? tb : tf; /* (a fused backward reads them earlier) */
            st = add_buf(s, &nb, nd->info.cache[i], tf, t1, &nd->cache_off[i]);
            if (st != GGDM_OK)
                return st;
        }
        st = add_buf(s, &nb, nd->info.scratch_fwd, tf, tf, &nd->scr_fwd_off);
        if (st == GGDM_OK)
            st = add_buf(s, &nb, (nd->vjp || nd->fuse_bwd) ? nd->scr_vjp_n : 0, tb, tb, &nd->scr_vjp_off);
        if (st != GGDM_OK)
            return st;
    }
    g->arena = place(s, nb);
    g->planned = 1;
    if (floats)
        *floats = g->arena;
    return GGDM_OK;
}

/* ------------------------------------------------------------------ running */

float *ggdm_graph_value_ptr(const ggdm_graph *g, float *arena, int v)
{
    if (!g || v < 0 || v >= g->n_vals || g->val[v].off == GGDM_GRAPH_NONE || g->val[v].kind == GGDM_VAL_PARAM)
        return NULL;
    return arena + g->val[v].off;
}

static const float *vptr(const ggdm_graph *g, const float *params, float *arena, int v)
{
    if (v < 0)
        return NULL;
    if (g->val[v].kind == GGDM_VAL_PARAM)
        return params + g->val[v].param;
    return arena + g->val[v].off;
}

static float *gptr(const ggdm_graph *g, float *arena, float *dparams, int v)
{
    const ggdm_graph_value *x;
    if (v < 0 || !g->val[v].needs_grad)
        return NULL;
    x = &g->val[v];
    if (x->kind == GGDM_VAL_PARAM)
        return dparams ? dparams + x->param : NULL;
    return arena + g->val[root(g, v)].goff;
}

static void trace_value(const ggdm_graph *g, const ggdm_graph_io *io, const char *name, int ndim, const float *data,
                        const ggdm_graph_value *v)
{
    uint64_t shape[3];
    shape[0] = (uint64_t)g->N;
    if (ndim == 2) {
        shape[1] = (uint64_t)v->C * (uint64_t)v->H * (uint64_t)v->W;
        io->trace(io->trace_ctx, name, data, 2, shape);
    } else {
        shape[1] = (uint64_t)v->C;
        shape[2] = (uint64_t)v->H * (uint64_t)v->W;
        io->trace(io->trace_ctx, name, data, 3, shape);
    }
}

static void fill_call(const ggdm_graph *g, const ggdm_graph_node *nd, const float *params, float *arena,
                      const ggdm_exec *ex, ggdm_op_call *c)
{
    int i;
    memset(c, 0, sizeof *c);
    c->a = nd->a;
    for (i = 0; i < GGDM_OP_MAX_IN; i++)
        c->in[i] = vptr(g, params, arena, nd->in[i]);
    c->out = arena + g->val[nd->out].off;
    for (i = 0; i < nd->info.n_cache; i++)
        c->cache[i] = arena + nd->cache_off[i];
    c->ex = ex;
}

void ggdm_graph_forward(const ggdm_graph *g, const ggdm_backend *be, const float *params, float *arena,
                        const ggdm_graph_io *io, const ggdm_exec *ex)
{
    const gscratch *s = (const gscratch *)g->scratch;
    int k, i;
    for (i = 0; i < GGDM_GRAPH_SLOTS; i++) {
        int v = g->in_val[i];
        if (v >= 0 && io->in[i]) {
            if (io->in_dev)
                be->copy(be->ctx, arena + g->val[v].off, io->in[i], g->val[v].n);
            else
                be->upload(be->ctx, arena + g->val[v].off, io->in[i], g->val[v].n);
        }
        v = g->steps_val[i];
        if (v >= 0 && io->steps[i])
            be->steps(be->ctx, arena + g->val[v].off, io->steps[i], g->N);
    }
    for (k = 0; k < g->n_nodes; k++) {
        const ggdm_graph_node *nd = &g->node[k];
        ggdm_op_call c;
        if (io->trace) /* an input is traced just before its first reader runs */
            for (i = 0; i < GGDM_GRAPH_SLOTS; i++) {
                int v = g->in_val[i], j, first = 1;
                if (v < 0 || !s->in_name[i][0])
                    continue;
                for (j = 0; j < k && first; j++)
                    if (g->node[j].in[0] == v || g->node[j].in[1] == v || g->node[j].in[2] == v)
                        first = 0;
                if (first && (nd->in[0] == v || nd->in[1] == v || nd->in[2] == v))
                    trace_value(g, io, s->in_name[i], 3, arena + g->val[v].off, &g->val[v]);
            }
        if (nd->fused)
            continue;
        fill_call(g, nd, params, arena, ex, &c);
        if (nd->fuse) {
            const ggdm_graph_node *silu = &g->node[k + nd->fuse];
            const ggdm_graph_node *film = nd->fuse == 2 ? &g->node[k + 1] : NULL;
            be->gn_act_forward(be->ctx, c.out, c.cache[0], c.cache[1], film ? arena + g->val[film->out].off : NULL,
                               arena + g->val[silu->out].off, c.in[0], c.in[1], c.in[2],
                               film ? vptr(g, params, arena, film->in[1]) : NULL, nd->a.N, nd->a.C, nd->a.W, nd->a.G);
        } else {
            c.scratch = arena + nd->scr_fwd_off;
            be->ops[nd->op].fwd(be->ctx, &c);
        }
        if (io->trace)
            for (i = 0; i <= nd->fuse; i++) {
                const ggdm_graph_node *t = &g->node[k + i];
                if (t->name[0])
                    trace_value(g, io, t->name, t->trace_ndim, arena + g->val[t->out].off, &g->val[t->out]);
            }
    }
    for (i = 0; i < GGDM_GRAPH_SLOTS; i++)
        if (g->out_val[i] >= 0 && io->out[i])
            be->download(be->ctx, io->out[i], arena + g->val[g->out_val[i]].off, g->val[g->out_val[i]].n);
}

void ggdm_graph_backward(const ggdm_graph *g, const ggdm_backend *be, const float *params, float *arena,
                         const ggdm_graph_io *io, const ggdm_exec *ex)
{
    int k, i, o0 = g->out_val[0], x0 = g->in_val[0];
    if (!g->mode)
        return;
    if (g->val[o0].needs_grad) {
        float *d = arena + g->val[root(g, o0)].goff;
        if (io->dout_dev)
            be->copy(be->ctx, d, io->dout, g->val[o0].n);
        else
            be->upload(be->ctx, d, io->dout, g->val[o0].n);
    }
    for (k = g->n_nodes - 1; k >= 0; k--) {
        const ggdm_graph_node *nd = &g->node[k];
        ggdm_op_call c;
        if (!nd->vjp && !nd->fuse_bwd)
            continue;
        for (i = 0; i < GGDM_GRAPH_SLOTS + GGDM_OP_MAX_IN; i++) { /* gradients that become live here */
            int u = -1;
            if (nd->fuse_bwd) {
                int head = k;
                while (g->node[head].fused)
                    head--;
                u = i == 0 ? g->node[head].in[0] : -1;
            } else if (i < GGDM_OP_MAX_IN) {
                u = nd->in[i];
            }
            if (u >= 0 && g->val[u].needs_grad && g->val[u].kind != GGDM_VAL_PARAM) {
                const ggdm_graph_value *r = &g->val[root(g, u)];
                int j, dup = 0;
                for (j = 0; j < i && !nd->fuse_bwd; j++)
                    if (nd->in[j] >= 0 && root(g, nd->in[j]) == root(g, u))
                        dup = 1;
                if (r->grad_zero == k && !dup)
                    be->zero(be->ctx, arena + r->goff, r->n);
            }
        }
        fill_call(g, nd, params, arena, ex, &c);
        c.dout = arena + g->val[root(g, nd->out)].goff;
        c.scratch = arena + nd->scr_vjp_off;
        if (nd->fuse_bwd) {
            int head = k;
            const ggdm_graph_node *h, *film;
            while (g->node[head].fused)
                head--;
            h = &g->node[head];
            film = k - head == 2 ? &g->node[head + 1] : NULL;
            be->gn_act_backward(be->ctx, gptr(g, arena, NULL, h->in[0]), c.scratch, c.dout, vptr(g, params, arena, h->in[0]),
                                arena + h->cache_off[0], arena + h->cache_off[1], vptr(g, params, arena, h->in[1]),
                                arena + g->val[h->out].off, film ? arena + g->val[film->out].off : NULL,
                                film ? vptr(g, params, arena, film->in[1]) : NULL, h->a.N, h->a.C, h->a.W, h->a.G);
            continue;
        }
        for (i = 0; i < GGDM_OP_MAX_IN; i++) {
            int u = nd->in[i];
            c.din[i] = NULL;
            if (u >= 0 && (g->val[u].kind == GGDM_VAL_PARAM || root(g, u) != root(g, nd->out)))
                c.din[i] = gptr(g, arena, io->dparams, u);
            if (u >= 0 && !vjp_reads_in(g, nd, i)) /* freed after the forward: never read */
                c.in[i] = NULL;
        }
        be->ops[nd->op].vjp(be->ctx, &c);
    }
    if (x0 >= 0 && io->dx && (g->mode & GGDM_GRAPH_GRAD_INPUT)) {
        const ggdm_graph_value *r = &g->val[root(g, x0)];
        if (!g->val[x0].needs_grad) { /* the outputs do not depend on the input: a zero gradient */
            memset(io->dx, 0, sizeof(float) * g->val[x0].n);
            return;
        }
        if (r->grad_zero == g->n_nodes)
            be->zero(be->ctx, arena + r->goff, r->n);
        be->download(be->ctx, io->dx, arena + r->goff, g->val[x0].n);
    }
}

/* ------------------------------------------------------------------ networks */

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

/* the graph's bytes (rounded to 64) for a batch of N, 0 on failure */
static size_t graph_region(const ggdm_net *net, int N)
{
    int mn, mv;
    size_t b;
    if (net->size(net->cfg, N, &mn, &mv) != GGDM_OK)
        return 0;
    b = ggdm_graph_bytes(mn, mv);
    return (b + 63u) & ~(size_t)63u;
}

/* Builds the graph into mem (graph_region bytes). */
static ggdm_status build(const ggdm_net *net, int N, void *mem, size_t bytes, ggdm_graph **g)
{
    int mn, mv;
    ggdm_status st = net->size(net->cfg, N, &mn, &mv);
    if (st == GGDM_OK)
        st = ggdm_graph_init(mem, bytes, mn, mv, N, g);
    if (st == GGDM_OK)
        st = net->build(net->cfg, *g);
    if (st == GGDM_OK)
        st = (*g)->status;
    return st;
}

/* The arena floats of one run of a batch of N in every mode the flag covers, with and without
 * the fused calls (the elem backend has them); 0 on failure. *gb receives the graph region. */
static size_t run_floats(const ggdm_net *net, int N, int grad, void *mem, size_t bytes)
{
    static const int modes[3] = {GGDM_GRAPH_GRAD_INPUT, GGDM_GRAPH_GRAD_PARAMS,
                                 GGDM_GRAPH_GRAD_INPUT | GGDM_GRAPH_GRAD_PARAMS};
    const ggdm_backend *bes[2];
    size_t most = 0, f;
    int m, b;
    ggdm_graph *g;
    bes[0] = ggdm_backend_cpu();
    bes[1] = ggdm_backend_elem();
    if (build(net, N, mem, bytes, &g) != GGDM_OK)
        return 0;
    for (b = 0; b < 2; b++)
        for (m = 0; m < (grad == 1 ? 3 : 1); m++) { /* grad 2: the input gradient only */
            if (ggdm_graph_plan(g, grad ? modes[m] : GGDM_GRAPH_FORWARD, bes[b], &f) != GGDM_OK)
                return 0;
            most = f > most ? f : most;
        }
    return most;
}

/* Bytes of one serial run of a batch of N: graph region + arena (64-byte multiple); 0 on
 * failure. mem: where the graph is built to plan it. */
static size_t one_bytes(const ggdm_net *net, int N, int grad, void *mem, size_t bytes)
{
    size_t gb = graph_region(net, N), f;
    if (gb == 0 || gb > bytes)
        return 0;
    f = run_floats(net, N, grad, mem, bytes);
    if (f == 0 || f > (SIZE_MAX / 4u - gb) / sizeof(float))
        return 0;
    return gb + ((f * sizeof(float) + 63u) & ~(size_t)63u);
}

/* The bytes of C chunks' runs, one after the other; 0 on failure. */
static size_t chunked_bytes(const ggdm_net *net, int N, int grad, int C, void *mem, size_t bytes)
{
    size_t total = 0, one = 0;
    int c, last_n = -1;
    for (c = 0; c < C; c++) {
        int n = chunk_first(N, C, c + 1) - chunk_first(N, C, c);
        if (n != last_n) /* chunks take one of two sizes: each is planned once */
            one = one_bytes(net, n, grad, mem, bytes);
        last_n = n;
        if (one == 0 || total > SIZE_MAX / 4u - one)
            return 0;
        total += one;
    }
    return total;
}

ggdm_status ggdm_net_sizing_bytes(const ggdm_net *net, int N, size_t *bytes)
{
    if (!bytes)
        return GGDM_ERR_ARG;
    *bytes = 0;
    if (!net || !net->build || !net->size || N < 1 || N > (1 << 24))
        return GGDM_ERR_ARG;
    *bytes = graph_region(net, N);
    return *bytes ? GGDM_OK : GGDM_ERR_ARG;
}

/* The sizing memory: the caller's tmp, or (tmp NULL) the stack buffer of GGDM_NET_SIZING_BYTES. */
#define SIZING_MEM(tmp, tmp_bytes, mem, room)                                                                         \
    unsigned char mem_[(tmp) ? 16 : GGDM_NET_SIZING_BYTES + 16];                                                      \
    unsigned char *mem = (tmp) ? (unsigned char *)(tmp) : mem_ + ((16u - ((uintptr_t)mem_ & 15u)) & 15u);             \
    size_t room = (tmp) ? (tmp_bytes) : GGDM_NET_SIZING_BYTES

ggdm_status ggdm_net_flops_tmp(const ggdm_net *net, int N, void *tmp, size_t tmp_bytes, double *flops)
{
    ggdm_graph *g;
    ggdm_status st;
    if (!flops)
        return GGDM_ERR_ARG;
    *flops = 0;
    if (!net || !net->build || !net->size || N < 1 || N > (1 << 24) || ((uintptr_t)tmp & 15u))
        return GGDM_ERR_ARG;
    {
        SIZING_MEM(tmp, tmp_bytes, mem, room);
        if (graph_region(net, N) > room)
            return graph_region(net, N) ? (tmp ? GGDM_ERR_BUFFER_TOO_SMALL : GGDM_ERR_UNSUPPORTED) : GGDM_ERR_ARG;
        st = build(net, N, mem, room, &g);
        if (st == GGDM_OK)
            *flops = ggdm_graph_flops(g);
    }
    return st;
}

ggdm_status ggdm_net_flops(const ggdm_net *net, int N, double *flops)
{
    return ggdm_net_flops_tmp(net, N, NULL, 0, flops);
}

ggdm_status ggdm_net_workspace_bytes_tmp(const ggdm_net *net, int N, int grad, const ggdm_exec *ex, void *tmp,
                                         size_t tmp_bytes, size_t *bytes)
{
    size_t one, ch;
    int C;
    if (!bytes)
        return GGDM_ERR_ARG;
    *bytes = 0;
    if (!net || !net->build || !net->size || N < 1 || N > (1 << 24) || ((uintptr_t)tmp & 15u))
        return GGDM_ERR_ARG;
    {
        /* the graph is built here to plan it: in the caller's tmp, or in the only stack buffer
         * of the library's size queries (GGDM_NET_SIZING_BYTES; docs/graph.md) */
        SIZING_MEM(tmp, tmp_bytes, mem, room);
        if (graph_region(net, N) > room)
            return graph_region(net, N) ? (tmp ? GGDM_ERR_BUFFER_TOO_SMALL : GGDM_ERR_UNSUPPORTED) : GGDM_ERR_ARG;
        one = one_bytes(net, N, grad, mem, room);
        if (one == 0)
            return GGDM_ERR_ARG;
        C = n_chunks(ex, N);
        if (C > 1 && net->per_sample) {
            ch = chunked_bytes(net, N, grad, C, mem, room);
            if (ch == 0)
                return GGDM_ERR_ARG;
            one = ch > one ? ch : one;
        }
    }
    *bytes = one;
    return GGDM_OK;
}

ggdm_status ggdm_net_workspace_bytes(const ggdm_net *net, int N, int grad, const ggdm_exec *ex, size_t *bytes)
{
    return ggdm_net_workspace_bytes_tmp(net, N, grad, ex, NULL, 0, bytes);
}

/* Builds and plans into host (bytes); the arena is at dev + graph region (dev: the backend
 * memory at the same offset as host; NULL: ask the backend for its mirror of host). */
static ggdm_status prepare_at(const ggdm_net *net, const ggdm_backend *be, int N, int mode, void *host, size_t bytes,
                              void *dev, ggdm_graph **g, float **arena, size_t *used)
{
    size_t gb = graph_region(net, N), f;
    ggdm_status st;
    if (gb == 0)
        return GGDM_ERR_ARG;
    if (bytes < gb)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    st = build(net, N, host, gb, g);
    if (st == GGDM_OK)
        st = ggdm_graph_plan(*g, mode, be, &f);
    if (st != GGDM_OK)
        return st;
    if ((bytes - gb) / sizeof(float) < f)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    if (!dev)
        dev = be->workspace ? (void *)be->workspace(be->ctx, host, bytes) : host;
    if (!dev)
        return GGDM_ERR_BUFFER_TOO_SMALL; /* the backend could not provide its workspace */
    *arena = (float *)((char *)dev + gb);
    if (used)
        *used = gb + ((f * sizeof(float) + 63u) & ~(size_t)63u);
    return GGDM_OK;
}

ggdm_status ggdm_net_prepare(const ggdm_net *net, const ggdm_backend *be, int N, int mode, void *workspace,
                             size_t ws_bytes, ggdm_graph **g, float **arena, size_t *used)
{
    if (!net || !g || !arena || !workspace || ((uintptr_t)workspace & 15u) || N < 1)
        return GGDM_ERR_ARG;
    return prepare_at(net, be ? be : ggdm_backend_cpu(), N, mode, workspace, ws_bytes, NULL, g, arena, used);
}

static ggdm_status backend_status(const ggdm_backend *be)
{
    return be->failed && be->failed(be->ctx) ? GGDM_ERR_DEVICE : GGDM_OK;
}

typedef struct chunk_job {
    const ggdm_net *net;
    const ggdm_backend *be;
    const float *params;
    const ggdm_graph_io *io;
    int N, C, mode;
    ggdm_graph *g[MAX_CHUNKS];
    float *arena[MAX_CHUNKS];
} chunk_job;

/* The io of samples [n0, n0 + n) */
static void chunk_io(const ggdm_net *net, const ggdm_graph_io *io, int n0, ggdm_graph_io *c)
{
    int i;
    *c = *io;
    for (i = 0; i < GGDM_GRAPH_SLOTS; i++) {
        c->in[i] = io->in[i] ? io->in[i] + (size_t)n0 * net->in_floats[i] : NULL;
        c->steps[i] = io->steps[i] ? io->steps[i] + n0 : NULL;
        c->out[i] = io->out[i] ? io->out[i] + (size_t)n0 * net->out_floats[i] : NULL;
    }
    c->dout = io->dout ? io->dout + (size_t)n0 * net->out_floats[0] : NULL;
    c->dx = io->dx ? io->dx + (size_t)n0 * net->in_floats[0] : NULL;
    c->trace = NULL;
}

static void chunk_task(void *arg, int c)
{
    const chunk_job *j = (const chunk_job *)arg;
    ggdm_graph_io io;
    chunk_io(j->net, j->io, chunk_first(j->N, j->C, c), &io);
    ggdm_graph_forward(j->g[c], j->be, j->params, j->arena[c], &io, NULL);
    if (j->mode)
        ggdm_graph_backward(j->g[c], j->be, j->params, j->arena[c], &io, NULL);
}

ggdm_status ggdm_net_run(const ggdm_net *net, const ggdm_backend *be, const float *params, int N, int mode,
                         const ggdm_graph_io *io, void *workspace, size_t ws_bytes, const ggdm_exec *ex)
{
    ggdm_graph *g;
    float *arena, *dpb = NULL;
    const float *prm;
    int C;
    ggdm_status st;
    if (!net || !params || !io || !workspace || N < 1)
        return GGDM_ERR_ARG;
    if (!be)
        be = ggdm_backend_cpu();
    C = n_chunks(ex, N);
    if (C > 1 && net->per_sample && !(mode & GGDM_GRAPH_GRAD_PARAMS) && !io->trace && !((uintptr_t)workspace & 15u)) {
        /* every chunk's graph is built and planned here, one after the other in the workspace;
         * when they do not all fit (a workspace sized for one run), one run, threads inside the
         * ops */
        chunk_job j;
        char *ws = (char *)workspace, *dev;
        size_t off = 0, used;
        int c;
        dev = be->workspace ? (char *)be->workspace(be->ctx, workspace, ws_bytes) : ws;
        if (!dev)
            return GGDM_ERR_BUFFER_TOO_SMALL; /* the backend could not provide its workspace */
        for (c = 0; c < C; c++) {
            int n = chunk_first(N, C, c + 1) - chunk_first(N, C, c);
            st = prepare_at(net, be, n, mode, ws + off, ws_bytes - off, dev + off, &j.g[c], &j.arena[c], &used);
            if (st != GGDM_OK)
                break;
            off += used;
        }
        if (st == GGDM_OK) {
            j.net = net;
            j.be = be;
            j.io = io;
            j.N = N;
            j.C = C;
            j.mode = mode;
            j.params = be->params(be->ctx, params, net->n_params, ex->params_unchanged ? -1 : 0); /* (C > 1: ex) */
            ggdm_exec_run(ex, chunk_task, &j, C);
            return backend_status(be);
        }
        if (st != GGDM_ERR_BUFFER_TOO_SMALL)
            return st;
    }
    st = ggdm_net_prepare(net, be, N, mode, workspace, ws_bytes, &g, &arena, NULL);
    if (st != GGDM_OK)
        return st;
    prm = be->params(be->ctx, params, net->n_params, ex && ex->params_unchanged ? -1 : 0);
    ggdm_graph_forward(g, be, prm, arena, io, ex);
    if (mode) {
        ggdm_graph_io bio = *io;
        if ((mode & GGDM_GRAPH_GRAD_PARAMS) && io->dparams)
            dpb = be->grads_begin(be->ctx, io->dparams, net->n_params);
        bio.dparams = dpb;
        ggdm_graph_backward(g, be, prm, arena, &bio, ex);
        if (dpb)
            be->grads_end(be->ctx, io->dparams, dpb, net->n_params);
    }
    return backend_status(be);
}
