/*
 * ggdm/graph.h - a network as a graph of ops (ggdm/op.h), built into caller memory, planned
 * with liveness-based memory reuse, and run forward and backward on a backend
 * (ggdm/backend.h). docs/graph.md.
 *
 * Values are tensors [N, C, H, W] (float32, C order): graph inputs, parameter views (slices
 * of the one flat parameter array, registered by the builder in any order: the parameter
 * ORDER is the network's, not the graph's), and node outputs. A node is one op applied to
 * values. The runner executes the nodes in order and, backward, their VJPs in reverse order,
 * each VJP ADDING into gradient buffers zeroed when they become live: a value's gradient is
 * the sum of its consumers' contributions in reverse node order, one addition each. An ADD
 * input that is an activation with no other reader shares the ADD output's gradient (its
 * contribution would be a copy).
 *
 * Memory: the graph's description lives in the caller's buffer (ggdm_graph_bytes); its
 * activations, caches, gradients and scratch live in one arena (backend memory) whose
 * layout ggdm_graph_plan computes: every buffer is placed for the interval of the run in
 * which it is alive (first fit, 64-byte granules), so a forward-only run keeps no tape and a
 * backward run frees each activation once the last VJP that reads it has run.
 *
 * Nothing allocates; the library never prints; the same graph, inputs and parameters give
 * the same bits on every exact backend, for every executor and thread count.
 */
#ifndef GGDM_GRAPH_H
#define GGDM_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/backend.h"
#include "ggdm/exec.h"
#include "ggdm/op.h"
#include "ggdm/status.h"

#define GGDM_GRAPH_SLOTS 2
#define GGDM_GRAPH_NAME_LEN 48
#define GGDM_GRAPH_NONE ((size_t)-1)
/* The stack buffer ggdm_net_workspace_bytes builds a graph in to
 * plan its size: networks whose graph needs more are refused (GGDM_ERR_UNSUPPORTED). */
#define GGDM_NET_SIZING_BYTES (512u * 1024u)

/* Value kinds */
enum {
    GGDM_VAL_ACT = 0,   /* a node's output */
    GGDM_VAL_PARAM = 1, /* a view of the flat parameter array (no batch axis) */
    GGDM_VAL_INPUT = 2, /* a float input [N, C, H, W] of an input slot */
    GGDM_VAL_STEPS = 3  /* integer steps [N] of an input slot (int64, host) as float32 [N, 1, 1, 1] */
};

/* Run modes (ggdm_graph_plan): FORWARD, or an OR of the GRAD flags. */
enum {
    GGDM_GRAPH_FORWARD = 0,
    GGDM_GRAPH_GRAD_INPUT = 1, /* + the gradient of input slot 0 */
    GGDM_GRAPH_GRAD_PARAMS = 2 /* + parameter gradients */
};

typedef struct ggdm_graph_value {
    int kind, slot, batched;
    int C, H, W;
    uint64_t param;    /* PARAM: offset into the flat parameter array, in floats */
    size_t n;          /* floats (all samples) */
    int producer;      /* node index; -1 for parameters and inputs */
    int n_cons, last_cons; /* consumers: count (an input read twice counts twice), last node index */
    int output;        /* 1 + output slot; 0: not an output */
    /* plan */
    int needs_grad;    /* its gradient is wanted or flows to a wanted one */
    int grad_of;       /* the value whose gradient buffer this one's gradient is (itself, or an ADD's output) */
    int grad_zero;     /* the node whose VJP writes its gradient first (zeroed just before), -1: none */
    int t0, t1, g0, g1;/* lifetimes of the value and of its gradient on the plan's time axis */
    size_t off, goff;  /* arena offsets in floats (GGDM_GRAPH_NONE: not placed) */
} ggdm_graph_value;

typedef struct ggdm_graph_node {
    int op;            /* ggdm_op_id */
    ggdm_op_attr a;
    int in[GGDM_OP_MAX_IN], n_in, out;
    ggdm_op_info info;
    char name[GGDM_GRAPH_NAME_LEN]; /* the name its output is traced under ("": not traced) */
    int trace_ndim;    /* 2: [N, C*H*W]; 3: [N, C, H*W] */
    /* plan */
    int vjp;           /* its VJP runs */
    int fuse;          /* the head of a fused chain of 1 + fuse nodes (backend gn_act_forward) */
    int fused;         /* run inside an earlier node's fused call */
    int fuse_bwd;      /* the SILU whose VJP runs the chain's fused backward (gn_act_backward) */
    size_t cache_off[GGDM_OP_MAX_CACHE], scr_fwd_off, scr_vjp_off, scr_vjp_n;
} ggdm_graph_node;

typedef struct ggdm_graph {
    ggdm_graph_node *node;
    ggdm_graph_value *val;
    int n_nodes, n_vals, max_nodes, max_vals;
    int N;
    ggdm_status status;    /* the first building error; GGDM_OK while building went well */
    int in_val[GGDM_GRAPH_SLOTS], steps_val[GGDM_GRAPH_SLOTS], out_val[GGDM_GRAPH_SLOTS];
    uint64_t n_params;     /* parameters the graph's views reach */
    /* plan */
    int planned, mode;
    size_t arena;          /* floats */
    void *scratch;         /* planning scratch (inside the caller's buffer) */
} ggdm_graph;

/* ------------------------------------------------------------------ building */

/* Bytes of the caller's buffer for a graph of at most max_nodes nodes and max_vals values
 * (0 when they are out of range: 1 .. 2^20 each). */
size_t ggdm_graph_bytes(int max_nodes, int max_vals);

/* Starts an empty graph for a batch of N in mem (ggdm_graph_bytes bytes, 16-byte aligned);
 * *g receives it (it lives in mem). */
ggdm_status ggdm_graph_init(void *mem, size_t bytes, int max_nodes, int max_vals, int N, ggdm_graph **g);

/* Value ids (>= 0), or -1 after a building error (recorded in g->status; later calls do
 * nothing and return -1). */
/* A parameter view: the C*H*W floats at `offset` of the flat parameter array. */
int ggdm_graph_param(ggdm_graph *g, uint64_t offset, int C, int H, int W);
/* A float input [N, C, H, W] of input slot `slot`, traced under `trace` (NULL: not), 3-D. */
int ggdm_graph_input(ggdm_graph *g, int slot, int C, int H, int W, const char *trace);
/* The integer steps [N] of input slot `slot`, as float32. */
int ggdm_graph_steps(ggdm_graph *g, int slot);
/* A node: op on inputs in[0 .. n_in-1] (-1: an absent optional input) with attributes a
 * (N, and C, H, W when zero, are taken from input 0); returns its output value. trace: the
 * name the output is traced under (NULL: not traced), with trace_ndim 2 or 3 dimensions. */
int ggdm_graph_op(ggdm_graph *g, ggdm_op_id op, const ggdm_op_attr *a, const int *in, int n_in, const char *trace,
                  int trace_ndim);
/* Marks value v as output slot `slot`. */
void ggdm_graph_output(ggdm_graph *g, int v, int slot);

/* ------------------------------------------------------------------ planning */

/*
 * Plans the arena for a run in `mode` on backend be (its optional fused calls change which
 * buffers exist): which VJPs run, lifetimes, gradient sharing, placement. *floats (may be
 * NULL) receives the arena's size in floats. GGDM_ERR_ARG for an unfinished or failed build.
 */
ggdm_status ggdm_graph_plan(ggdm_graph *g, int mode, const ggdm_backend *be, size_t *floats);

/* Forward flops of the graph (2 x multiply-adds of its ops). */
double ggdm_graph_flops(const ggdm_graph *g);

/* ------------------------------------------------------------------ running */

/* Optional per-value trace (the library never does I/O itself): data is backend memory. */
typedef void (*ggdm_graph_trace_fn)(void *ctx, const char *name, const float *data, int ndim,
                                    const uint64_t *shape);

typedef struct ggdm_graph_io {
    const float *in[GGDM_GRAPH_SLOTS];      /* float inputs (host memory; backend memory when in_dev) */
    const int64_t *steps[GGDM_GRAPH_SLOTS]; /* step inputs (host) */
    int in_dev;
    float *out[GGDM_GRAPH_SLOTS];           /* host: receive the outputs (NULL: not wanted) */
    const float *dout;                      /* backward: d loss / d output 0 (host; backend memory when dout_dev) */
    int dout_dev;
    float *dx;                              /* host: receives d loss / d input 0 (GRAD_INPUT; NULL: not wanted) */
    float *dparams;                         /* backend memory: parameter gradients ADDED into (GRAD_PARAMS) */
    ggdm_graph_trace_fn trace;
    void *trace_ctx;
} ggdm_graph_io;

/* The forward pass of a planned graph, the arena at `arena` (backend memory), parameters
 * `params` (backend memory). Outputs are downloaded into io->out. */
void ggdm_graph_forward(const ggdm_graph *g, const ggdm_backend *be, const float *params, float *arena,
                        const ggdm_graph_io *io, const ggdm_exec *ex);
/* The backward pass, after ggdm_graph_forward on the same arena (a mode with a GRAD flag). */
void ggdm_graph_backward(const ggdm_graph *g, const ggdm_backend *be, const float *params, float *arena,
                         const ggdm_graph_io *io, const ggdm_exec *ex);
/* Where value v lives in the arena (backend memory); NULL when it is not placed. Output
 * values stay alive to the end of the forward pass. */
float *ggdm_graph_value_ptr(const ggdm_graph *g, float *arena, int v);

/* ------------------------------------------------------------------ networks */

/*
 * A network: a builder that wires its graph (parameters, inputs, nodes, outputs) for the
 * batch g->N, and its size bounds. The runner below builds, plans and runs it, cutting a
 * batch into one chunk of samples per thread when the network's outputs and input gradient
 * depend on each sample alone (per_sample) and no parameter gradient or trace is wanted:
 * every chunk a serial run on its own part of the workspace, so the bits do not depend on
 * the cut. Chunk c of C holds samples [N c / C, N (c + 1) / C).
 */
typedef struct ggdm_net {
    const void *cfg;
    ggdm_status (*build)(const void *cfg, ggdm_graph *g);
    ggdm_status (*size)(const void *cfg, int N, int *max_nodes, int *max_vals);
    uint64_t n_params;
    int per_sample;
    size_t in_floats[GGDM_GRAPH_SLOTS];  /* floats per sample of each float input */
    size_t out_floats[GGDM_GRAPH_SLOTS]; /* floats per sample of each output */
} ggdm_net;

/*
 * Workspace bytes of a run of a batch of N (grad 0: forward only; 1: any gradient; 2: the
 * input gradient only, GGDM_GRAPH_GRAD_INPUT: the networks that never train) with
 * executor ex (NULL: one serial run): enough for every backend (with or without the fused
 * calls) and every gradient mode.
 */
ggdm_status ggdm_net_workspace_bytes(const ggdm_net *net, int N, int grad, const ggdm_exec *ex, size_t *bytes);

/* Forward flops of a batch of N: the sum of the ops' (ggdm_graph_flops of its graph, built in
 * the same stack buffer as the size query). */
ggdm_status ggdm_net_flops(const ggdm_net *net, int N, double *flops);

/*
 * Large networks (Stable Diffusion's UNet) have graphs bigger than the size queries' stack
 * buffer (GGDM_NET_SIZING_BYTES): their queries take the caller's scratch instead. Bytes of
 * that scratch for a batch of N (the graph's description):
 */
ggdm_status ggdm_net_sizing_bytes(const ggdm_net *net, int N, size_t *bytes);
/* ggdm_net_workspace_bytes / ggdm_net_flops building the graph in tmp (16-byte aligned,
 * tmp_bytes >= ggdm_net_sizing_bytes, else GGDM_ERR_BUFFER_TOO_SMALL); tmp NULL: the stack buffer. */
ggdm_status ggdm_net_workspace_bytes_tmp(const ggdm_net *net, int N, int grad, const ggdm_exec *ex, void *tmp,
                                         size_t tmp_bytes, size_t *bytes);
ggdm_status ggdm_net_flops_tmp(const ggdm_net *net, int N, void *tmp, size_t tmp_bytes, double *flops);

/*
 * Builds and plans the network into the head of the workspace (host memory, 16-byte aligned)
 * and places its arena after it: *g and *arena (backend memory: the backend's workspace()
 * mirror of the whole workspace when it has one) receive them; *used (may be NULL) the bytes
 * it takes, a multiple of 64: the caller may keep its own buffers after them (the training
 * loss's xt and d: at arena + g->arena, backend memory).
 */
ggdm_status ggdm_net_prepare(const ggdm_net *net, const ggdm_backend *be, int N, int mode, void *workspace,
                             size_t ws_bytes, ggdm_graph **g, float **arena, size_t *used);

/*
 * Builds, plans and runs the network: forward, and backward when mode has a GRAD flag. be:
 * where the ops run (NULL: the reference CPU backend); params and io->dparams are host
 * memory here (the runner moves them to and from the backend; dparams is ADDED into). The
 * backend's failure (failed()) makes it GGDM_ERR_DEVICE.
 */
ggdm_status ggdm_net_run(const ggdm_net *net, const ggdm_backend *be, const float *params, int N, int mode,
                         const ggdm_graph_io *io, void *workspace, size_t ws_bytes, const ggdm_exec *ex);

#endif /* GGDM_GRAPH_H */
