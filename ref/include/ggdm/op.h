/*
 * ggdm/op.h - the op set of the network graph (ggdm/ops.def is the manifest; docs/ops.md).
 *
 * Every op has one calling convention for every driver: a POD call record (ggdm_op_call)
 * with the op's attributes, its inputs, its output, its caches, and for the VJP the output's
 * gradient and the inputs' gradients (ADDED into; NULL: not wanted, its work is skipped), a
 * scratch buffer and an executor. A driver (the reference's CPU code, the elem loop, the
 * CUDA exact and fast modes) is a table of (fwd, vjp) per op, generated from the manifest.
 * Memory pointers are the driver's memory (device memory for a GPU driver).
 *
 * Shapes: activations are float32, C order, [N, C, H, W] (1-D: H = 1, W = L). The exact
 * chains of every op are those of docs/nn.md (the layer functions of ggdm/layers.h and
 * ggdm/attention.h, which the reference driver runs).
 */
#ifndef GGDM_OP_H
#define GGDM_OP_H

#include <stddef.h>

#include "ggdm/status.h"

struct ggdm_exec;

typedef enum ggdm_op_id {
#define GGDM_OP(NAME, name, n_in, n_cache, doc) GGDM_OP_##NAME,
#include "ggdm/ops.def"
#undef GGDM_OP
    GGDM_OP_COUNT
} ggdm_op_id;

#define GGDM_OP_MAX_IN 3
#define GGDM_OP_MAX_CACHE 3

/* ATTN kinds */
enum {
    GGDM_ATTN_KEEP = 0,     /* the forward caches the attention weights */
    GGDM_ATTN_RECOMPUTE = 1 /* the forward caches row statistics; the VJP recomputes the weights */
};

/* ADD kinds */
enum {
    GGDM_ADD_SAME = 0, /* a and b of the same shape */
    GGDM_ADD_BCAST = 1 /* b [N, C, 1, 1] added at every position of a [N, C, H, W] */
};

/* TEMB kinds */
enum {
    GGDM_TEMB_UNET1D = 0,   /* the Unet1D's SinusoidalPosEmb: [sin, cos], exponents over half - 1 */
    GGDM_TEMB_DIFFUSERS = 1 /* diffusers' Timesteps(flip_sin_to_cos=True, downscale_freq_shift=0): [cos, sin], over half */
};

/* The block of the GroupNorm statistics of Stable Diffusion's networks (NORM attribute block):
 * groups of up to 2^20 values sum in blocks of 512 (docs/nn.md, "GroupNorm with blocked
 * statistics"); the Unet1D keeps its one chain (block 0). */
#define GGDM_NORM_SD_BLOCK 512

/* NORM kinds */
enum {
    GGDM_NORM_GROUP = 0,  /* G groups of C/G contiguous channels, each over (C/G) * H * W values; gamma, beta */
    GGDM_NORM_CHANNEL = 1 /* over the C channels at each position (the original's LayerNorm); gain g only */
};

/*
 * The attributes of an op (zero what an op does not read). Every op reads N (batch) and
 * the shape of its input 0 per sample, C, H, W.
 *   CONV:      Cout, KH, KW, sh, sw (strides), ph, pw (zero padding); w [Cout, C, KH, KW]
 *   LINEAR:    C = In (H = W = 1), Cout = Out; W [Out, In]
 *   WSTD:      Cout (output channels), C = fan (weights per output channel); N = 1
 *   NORM:      kind, G (GROUP), eps; block (GROUP: blocked statistics, ggdm/elem/gnblk.h)
 *   FILM:      x [N, C, H, W], ss [N, 2C]
 *   UPSAMPLE:  along W (H = 1)
 *   LINATTN:   heads, dh; qkv [N, 3 heads dh, 1, W]
 *   ATTN:      heads, dh, Lq, Lk; sq, sk, sv (sample strides of q, k, v in floats) and oq,
 *              ok, ov (offsets of q, k, v inside input 0, 1, 2, in floats): q is
 *              [heads*dh, Lq] per sample, k and v [heads*dh, Lk]; self-attention: the three
 *              inputs are one packed qkv value, views at offsets 0, hd*L, 2*hd*L. The output
 *              is [N, heads*dh, 1, Lq] contiguous
 *   TEMB:      Cout = dim; t [N, 1, 1, 1]
 *   CAT:       C (input a), C2 (input b), H, W
 *   ADD, SILU, GELU: N, C, H, W (both ADD inputs of that shape; ADD kind GGDM_ADD_BCAST: b [N, C, 1, 1])
 *   TEMB kind: GGDM_TEMB_UNET1D (0) or GGDM_TEMB_DIFFUSERS
 *   GEGLU:     C = 2 x the output's channels, H, W
 *   CONV 2-D:  H > 1 or KH > 1: the chain over i, kh, kw (docs/nn.md, "Conv2d")
 *   UPSAMPLE:  sh = 2: also along H (2-D nearest x2); sh 0 or 1: along W only (H = 1, 1-D)
 *   ATTN:      causal = 1: query i attends to keys j <= i only (CLIP's mask; Lq = Lk);
 *              kind = GGDM_ATTN_RECOMPUTE: the cache holds per-row softmax statistics
 *              [N, heads, Lq, 2] (max, sum) instead of the weights [N, heads, Lq, Lk], and
 *              the VJP recomputes the weights row block by row block: the same bits, O(L)
 *              memory
 *   QGELU, CLAMP (lo, hi), MAXPOOL (KH, KW, sh, sw, ph, pw), AVGPOOL (global: [N, C, 1, 1]),
 *   RESIZE (oh, ow, antialias): one activation x [N, C, H, W]
 *   AFFINE:    x [N, C, H, W]; s [C], t [C] (inputs 1, 2), or, when input 1 / 2 is absent,
 *              the scalars scale / shift for every channel: y = (x * s) + t
 *   BNORM:     x [N, C, H, W]; p [4, C] = weight, bias, running_mean, running_var; eps
 *   EMBED:     ids [N, 1, 1, W] (integer token ids as float32), tok [C2, Cout] (C2 = the
 *              vocabulary), pos [W, Cout]: y [N, Cout, 1, W] (channel-first tokens)
 */
typedef struct ggdm_op_attr {
    int N, C, H, W;
    int Cout, KH, KW, sh, sw, ph, pw;
    int kind, G;
    float eps;
    int heads, dh, Lq, Lk;
    long sq, sk, sv, oq, ok, ov;
    int C2;
    int causal;        /* ATTN */
    int oh, ow;        /* RESIZE: output height and width */
    int antialias;     /* RESIZE: 1: torchvision's antialiased bilinear (downscaling widens the filter) */
    float lo, hi;      /* CLAMP */
    float scale, shift;/* AFFINE's scalars (when s / t are absent) */
    int block;         /* NORM kind GROUP: the statistics' sums in blocks of `block` values (0: one chain) */
} ggdm_op_attr;

typedef struct ggdm_op_call {
    ggdm_op_attr a;
    const float *in[GGDM_OP_MAX_IN];  /* inputs in the manifest's order (NULL: an absent optional one) */
    float *out;                       /* the output (overwritten) */
    float *cache[GGDM_OP_MAX_CACHE];  /* written by fwd, read by vjp */
    const float *dout;                /* vjp: d loss / d out */
    float *din[GGDM_OP_MAX_IN];       /* vjp: ADDED into; NULL: not wanted */
    float *scratch;                   /* fwd / vjp scratch of the sizes ggdm_op_info gives */
    const struct ggdm_exec *ex;       /* the CPU's executor (NULL: serial); device drivers ignore it */
} ggdm_op_call;

typedef void (*ggdm_op_fn)(void *ctx, const ggdm_op_call *c);

/* One driver's implementation of one op. */
typedef struct ggdm_op_impl {
    ggdm_op_fn fwd, vjp;
} ggdm_op_impl;

/* What an op needs, from its attributes (sizes in floats). */
typedef struct ggdm_op_info {
    int n_in, n_cache;
    int out_C, out_H, out_W;          /* the output's shape per sample ([N, out_C, out_H, out_W]) */
    size_t out;                       /* floats of the output (all samples) */
    size_t cache[GGDM_OP_MAX_CACHE];  /* floats of each cache */
    size_t scratch_fwd, scratch_vjp;  /* floats of scratch */
    int vjp_out;                      /* 1: the VJP reads the op's own output (it must stay alive) */
    int vjp_in;                       /* bit i: the VJP reads input i (it must stay alive) */
    unsigned char vjp_in_for[GGDM_OP_MAX_IN]; /* bit j of entry i: input i is read only to compute
                                       * din[j] (0: for any gradient); when none of those is
                                       * wanted, the VJP does not read input i: the planner frees
                                       * it after the forward and the runner passes NULL */
    int batched;                      /* 0: the output has no batch axis (derived from parameters only) */
    double flops;                     /* 2 x multiply-adds of the forward (benchmarks) */
} ggdm_op_info;

/*
 * The op's needs for these attributes: GGDM_OK; GGDM_ERR_ARG when they do not describe a
 * valid op (a size < 1, C % G != 0, an empty convolution output, a size that would not fit
 * in a size_t); GGDM_ERR_UNSUPPORTED for a valid op the drivers do not run yet.
 */
ggdm_status ggdm_op_info_get(ggdm_op_id op, const ggdm_op_attr *a, ggdm_op_info *info);

/* "conv", "linear", ... (the manifest's names); NULL for an invalid id. */
const char *ggdm_op_name(ggdm_op_id op);

/* The drivers' functions, declared from the manifest: ggdm_op_<name>_info,
 * ggdm_cpu_<name>_fwd/_vjp and ggdm_elem_<name>_fwd/_vjp (all in the math file). */
#define GGDM_OP(NAME, name, n_in, n_cache, doc)                                                                        \
    ggdm_status ggdm_op_##name##_info(const ggdm_op_attr *a, ggdm_op_info *info);                                    \
    void ggdm_cpu_##name##_fwd(void *ctx, const ggdm_op_call *c);                                                     \
    void ggdm_cpu_##name##_vjp(void *ctx, const ggdm_op_call *c);                                                     \
    void ggdm_elem_##name##_fwd(void *ctx, const ggdm_op_call *c);                                                    \
    void ggdm_elem_##name##_vjp(void *ctx, const ggdm_op_call *c);
#include "ggdm/ops.def"
#undef GGDM_OP

/* A driver's table from the manifest, every entry bound by name (in enum order, as the
 * enum is generated from the same lines): PREFIX is cpu, elem, cuda, ...
 *     static const ggdm_op_impl table[GGDM_OP_COUNT] = {
 *     #define GGDM_OP(NAME, name, n_in, n_cache, doc) GGDM_OP_IMPL(cpu, name)
 *     #include "ggdm/ops.def"
 *     #undef GGDM_OP
 *     }; */
#define GGDM_OP_IMPL(PREFIX, name) { ggdm_##PREFIX##_##name##_fwd, ggdm_##PREFIX##_##name##_vjp },

#endif /* GGDM_OP_H */
