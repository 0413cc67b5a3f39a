/*
 * The per-op golden vectors (ops_vectors.h; docs/conformance.md, "Per-op vectors").
 *
 * conformance op `op`: one op of the manifest ggdm/ops.def, run forward and then VJP on the
 * backend in use (the executor's, `--backend`, or the CUDA build's), and one of its results.
 *
 *   name=conv|linear|...        the op (ggdm_op_name)
 *   N C H W Cout KH KW sh sw ph pw G heads dh Lq Lk C2   the attributes (ggdm/op.h; defaults:
 *                               1 for N C H W KH KW sh sw, 0 otherwise); kind=group|channel
 *                               (norm), keep|recompute (attn); eps (default GGDM_NORM_EPS);
 *                               causal oh ow antialias block (ints, default 0); lo hi scale shift
 *                               (floats; default 0, 0, 1, 0); kind=same|bcast (add: b [N, C] added at every
 *                               position when bcast), unet1d|diffusers (temb)
 *   layout=packed|separate|strided   ATTN only: packed = self-attention on one qkv buffer (the
 *                               three inputs and the three gradients one buffer each, views at
 *                               0, hd L, 2 hd L); separate = q [N, hd, Lq], k, v [N, hd, Lk], three
 *                               buffers; strided = q in a buffer of sample stride hd Lq + 3 at
 *                               offset 2, k and v interleaved in one buffer of sample stride
 *                               2 hd Lk + 3 at offsets 1 and hd Lk + 2 (padding between the views)
 *   seed                        the random streams' seed (default 1)
 *   in0 in1 in2 dout pre        what fills input buffer i, the output's gradient, and every din
 *                               buffer before the VJP (which ADDS into it); default normal:
 *                                 normal[:S[:M]]  M + S z, z = ggdm_rng_normal(seed, stream, k)
 *                                 adv[:A]         odd k: z; even k: a table of hostile values
 *                                                 (+-0, subnormals, +-min normal, +-A, 0.75 A,
 *                                                 -A/1024, +-1, 2^-100, -3), see adv_value
 *                                 lin:A:B         (float)(A + B k);  const:V;  zero (the
 *                                                 backend's zero() after the upload)
 *                                 uniform:A:B     (float)(A + (B - A) u), u = ggdm_rng_uniform
 *                                                 (seed, stream, k) in [0, 1) (BNORM's running
 *                                                 variances: positive)
 *                                 ids:V           (float)ggdm_rng_below(seed, stream, k, V):
 *                                                 integers in [0, V) (EMBED's token ids)
 *                               stream = ggdm_stream_id(GGDM_STREAM_TEST, 0x4f50, slot), slot
 *                               0..2 (in0..2), 8 (dout), 16 + i (the din buffer of input i)
 *   absent=MASK                 bit i: input i is absent (NULL: an optional bias, gamma, beta)
 *   beta=1                      NORM kind channel: input 2 (the bias beta) is present (default:
 *                               absent, the original's LayerNorm with a gain only)
 *   nograd=MASK                 bit i: din[i] is NULL in the VJP (not wanted)
 *   result=out|cache0..2|din0..2   what the vector compares (din: the whole gradient buffer of
 *                               input i, its pre-fill included)
 *
 * Memory: every buffer lies in one arena of backend memory (the backend's workspace() when it
 * has one, else host memory), each with guard floats around it; the whole arena is uploaded
 * (inputs, dout, pre-filled gradients; outputs, caches and scratch hold a NaN sentinel), and
 * downloaded after the forward and after the VJP. The op fails (GGDM_ERR_MISMATCH, naming
 * what) when the forward wrote anything but its output, caches and scratch, when the VJP wrote
 * anything but the gradients it was given and scratch (out and caches are its inputs), or
 * when the result holds an element never written or a NaN (NaN bits are not portable, so no
 * vector expects one).
 */
#include "ops_vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggdm/backend.h"
#include "ggdm/layers.h"
#include "ggdm/op.h"
#include "ggdm/rng.h"

#define OPV_GUARD 16 /* floats of guard before and after every buffer */
#define OPV_ALIGN 64 /* floats: every buffer starts 256-byte aligned */
#define OPV_SENTINEL 0x7fc5a5a5u /* a quiet NaN: "never written" */

enum { R_IN = 0, R_OUT = 3, R_CACHE = 4, R_DOUT = 7, R_DIN = 8, R_SCRATCH = 11, R_COUNT = 12 };

static const char *const region_name[R_COUNT] = {"in0", "in1", "in2", "out", "cache0", "cache1",
                                                 "cache2", "dout", "din0", "din1", "din2", "scratch"};

typedef struct region {
    size_t off, n;
    int ndim;
    uint64_t shape[4];
} region;

typedef struct opcase {
    ggdm_op_id op;
    ggdm_op_attr a;
    ggdm_op_info info;
    int in_buf[GGDM_OP_MAX_IN]; /* the buffer input i views (-1: absent) */
    int nbuf;                   /* input buffers */
    region r[R_COUNT];          /* R_IN + j, R_DIN + j: input buffer j and its gradient */
    size_t total;               /* floats of the arena */
} opcase;

static ggdm_status fail(conf_call *c, ggdm_status st, const char *fmt, const char *arg)
{
    snprintf(c->err, sizeof c->err, fmt, arg);
    return st;
}

static void set_shape(region *r, int ndim, uint64_t d0, uint64_t d1, uint64_t d2, uint64_t d3)
{
    uint64_t d[4];
    int i;
    d[0] = d0, d[1] = d1, d[2] = d2, d[3] = d3;
    r->ndim = ndim;
    r->n = 1;
    for (i = 0; i < ndim; i++) {
        r->shape[i] = d[i];
        r->n *= (size_t)d[i];
    }
}

/* [N, C, W] (H = 1) or [N, C, H, W] */
static void set_act(region *r, int N, int C, int H, int W)
{
    if (H == 1)
        set_shape(r, 3, (uint64_t)N, (uint64_t)C, (uint64_t)W, 0);
    else
        set_shape(r, 4, (uint64_t)N, (uint64_t)C, (uint64_t)H, (uint64_t)W);
}

static ggdm_status get_int(conf_call *c, const char *key, int def, int *out)
{
    long long v;
    ggdm_status st = conf_param_i64(c, key, def, &v);
    if (st != GGDM_OK)
        return st;
    if (v < -(1LL << 30) || v > (1LL << 30))
        return fail(c, GGDM_ERR_ARG, "parameter %s is out of range", key);
    *out = (int)v;
    return GGDM_OK;
}

/* The op, its attributes, its input buffers and every region's size and shape. */
static ggdm_status get_f32(conf_call *c, const char *key, float def, float *out)
{
    double v;
    ggdm_status st = conf_param_f64(c, key, (double)def, &v);
    if (st == GGDM_OK)
        *out = (float)v;
    return st;
}

static ggdm_status setup(conf_call *c, opcase *k)
{
    const char *name = conf_param(c, "name"), *kind = conf_param(c, "kind"), *layout = conf_param(c, "layout");
    ggdm_op_attr *a = &k->a;
    ggdm_status st;
    double eps;
    int i, absent, chbeta, id;
    memset(k, 0, sizeof *k);
    if (!name)
        return fail(c, GGDM_ERR_FORMAT, "parameter name=OP is missing%s", "");
    for (id = 0; id < GGDM_OP_COUNT; id++)
        if (strcmp(ggdm_op_name((ggdm_op_id)id), name) == 0)
            break;
    if (id == GGDM_OP_COUNT)
        return fail(c, GGDM_ERR_FORMAT, "no op '%s' in ggdm/ops.def", name);
    k->op = (ggdm_op_id)id;
    TRY(get_int(c, "N", 1, &a->N));
    TRY(get_int(c, "C", 1, &a->C));
    TRY(get_int(c, "H", 1, &a->H));
    TRY(get_int(c, "W", 1, &a->W));
    TRY(get_int(c, "Cout", 0, &a->Cout));
    TRY(get_int(c, "KH", 1, &a->KH));
    TRY(get_int(c, "KW", 1, &a->KW));
    TRY(get_int(c, "sh", 1, &a->sh));
    TRY(get_int(c, "sw", 1, &a->sw));
    TRY(get_int(c, "ph", 0, &a->ph));
    TRY(get_int(c, "pw", 0, &a->pw));
    TRY(get_int(c, "G", 0, &a->G));
    TRY(get_int(c, "heads", 0, &a->heads));
    TRY(get_int(c, "dh", 0, &a->dh));
    TRY(get_int(c, "Lq", 0, &a->Lq));
    TRY(get_int(c, "Lk", 0, &a->Lk));
    TRY(get_int(c, "C2", 0, &a->C2));
    TRY(get_int(c, "causal", 0, &a->causal));
    TRY(get_int(c, "block", 0, &a->block));
    TRY(get_int(c, "oh", 0, &a->oh));
    TRY(get_int(c, "ow", 0, &a->ow));
    TRY(get_int(c, "antialias", 0, &a->antialias));
    TRY(get_f32(c, "lo", 0.0f, &a->lo));
    TRY(get_f32(c, "hi", 0.0f, &a->hi));
    TRY(get_f32(c, "scale", 1.0f, &a->scale));
    TRY(get_f32(c, "shift", 0.0f, &a->shift));
    TRY(get_int(c, "absent", 0, &absent));
    TRY(get_int(c, "beta", 0, &chbeta));
    TRY(conf_param_f64(c, "eps", (double)GGDM_NORM_EPS, &eps));
    a->eps = (float)eps;
    if (k->op == GGDM_OP_ATTN) {
        if (!kind || strcmp(kind, "keep") == 0)
            a->kind = GGDM_ATTN_KEEP;
        else if (strcmp(kind, "recompute") == 0)
            a->kind = GGDM_ATTN_RECOMPUTE;
        else
            return fail(c, GGDM_ERR_FORMAT, "attn: kind must be keep or recompute, not '%s'", kind);
    } else if (k->op == GGDM_OP_ADD) {
        if (!kind || strcmp(kind, "same") == 0)
            a->kind = GGDM_ADD_SAME;
        else if (strcmp(kind, "bcast") == 0)
            a->kind = GGDM_ADD_BCAST;
        else
            return fail(c, GGDM_ERR_FORMAT, "add: kind must be same or bcast, not '%s'", kind);
    } else if (k->op == GGDM_OP_TEMB) {
        if (!kind || strcmp(kind, "unet1d") == 0)
            a->kind = GGDM_TEMB_UNET1D;
        else if (strcmp(kind, "diffusers") == 0)
            a->kind = GGDM_TEMB_DIFFUSERS;
        else
            return fail(c, GGDM_ERR_FORMAT, "temb: kind must be unet1d or diffusers, not '%s'", kind);
    } else if (!kind || strcmp(kind, "group") == 0)
        a->kind = GGDM_NORM_GROUP;
    else if (strcmp(kind, "channel") == 0)
        a->kind = GGDM_NORM_CHANNEL;
    else
        return fail(c, GGDM_ERR_FORMAT, "kind must be group or channel, not '%s'", kind);
    for (i = 0; i < GGDM_OP_MAX_IN; i++)
        k->in_buf[i] = -1;

    /* input buffers, in the order of the manifest's inputs */
    switch (k->op) {
    case GGDM_OP_CONV:
        k->nbuf = 3;
        set_act(&k->r[R_IN], a->N, a->C, a->H, a->W);
        set_shape(&k->r[R_IN + 1], a->KH == 1 ? 3 : 4, (uint64_t)a->Cout, (uint64_t)a->C,
                  (uint64_t)(a->KH == 1 ? a->KW : a->KH), (uint64_t)a->KW);
        set_shape(&k->r[R_IN + 2], 1, (uint64_t)a->Cout, 0, 0, 0);
        break;
    case GGDM_OP_LINEAR:
        k->nbuf = 3;
        set_shape(&k->r[R_IN], 2, (uint64_t)a->N, (uint64_t)a->C, 0, 0);
        set_shape(&k->r[R_IN + 1], 2, (uint64_t)a->Cout, (uint64_t)a->C, 0, 0);
        set_shape(&k->r[R_IN + 2], 1, (uint64_t)a->Cout, 0, 0, 0);
        break;
    case GGDM_OP_WSTD:
        k->nbuf = 1;
        set_shape(&k->r[R_IN], 2, (uint64_t)a->Cout, (uint64_t)a->C, 0, 0);
        break;
    case GGDM_OP_NORM:
        k->nbuf = 3;
        set_act(&k->r[R_IN], a->N, a->C, a->H, a->W);
        set_shape(&k->r[R_IN + 1], 1, (uint64_t)a->C, 0, 0, 0);
        set_shape(&k->r[R_IN + 2], 1, (uint64_t)a->C, 0, 0, 0);
        if (a->kind == GGDM_NORM_CHANNEL && !chbeta)
            absent |= 4; /* the original's ChannelNorm has a gain only */
        break;
    case GGDM_OP_FILM:
        k->nbuf = 2;
        set_act(&k->r[R_IN], a->N, a->C, a->H, a->W);
        set_shape(&k->r[R_IN + 1], 2, (uint64_t)a->N, 2u * (uint64_t)a->C, 0, 0);
        break;
    case GGDM_OP_ATTN: {
        long hd = (long)a->heads * a->dh;
        if (!layout || strcmp(layout, "packed") == 0) {
            if (a->Lq != a->Lk)
                return fail(c, GGDM_ERR_ARG, "layout=packed needs Lq = Lk%s", "");
            k->nbuf = 1;
            set_shape(&k->r[R_IN], 3, (uint64_t)a->N, 3u * (uint64_t)hd, (uint64_t)a->Lq, 0);
            a->sq = a->sk = a->sv = 3 * hd * a->Lq;
            a->oq = 0, a->ok = hd * a->Lq, a->ov = 2 * hd * a->Lq;
            k->in_buf[0] = k->in_buf[1] = k->in_buf[2] = 0;
        } else if (strcmp(layout, "separate") == 0) {
            k->nbuf = 3;
            set_shape(&k->r[R_IN], 3, (uint64_t)a->N, (uint64_t)hd, (uint64_t)a->Lq, 0);
            set_shape(&k->r[R_IN + 1], 3, (uint64_t)a->N, (uint64_t)hd, (uint64_t)a->Lk, 0);
            set_shape(&k->r[R_IN + 2], 3, (uint64_t)a->N, (uint64_t)hd, (uint64_t)a->Lk, 0);
            a->sq = hd * a->Lq, a->sk = a->sv = hd * a->Lk;
        } else if (strcmp(layout, "strided") == 0) {
            k->nbuf = 2;
            a->sq = hd * a->Lq + 3, a->oq = 2;
            a->sk = a->sv = 2 * hd * a->Lk + 3, a->ok = 1, a->ov = hd * a->Lk + 2;
            set_shape(&k->r[R_IN], 1, (uint64_t)(a->oq + a->N * a->sq), 0, 0, 0);
            set_shape(&k->r[R_IN + 1], 1, (uint64_t)(a->N * a->sk), 0, 0, 0);
            k->in_buf[0] = 0, k->in_buf[1] = k->in_buf[2] = 1;
        } else {
            return fail(c, GGDM_ERR_FORMAT, "layout must be packed, separate or strided, not '%s'", layout);
        }
        break;
    }
    case GGDM_OP_TEMB:
        k->nbuf = 1;
        set_shape(&k->r[R_IN], 1, (uint64_t)a->N, 0, 0, 0);
        break;
    case GGDM_OP_CAT:
        k->nbuf = 2;
        set_act(&k->r[R_IN], a->N, a->C, a->H, a->W);
        set_act(&k->r[R_IN + 1], a->N, a->C2, a->H, a->W);
        break;
    case GGDM_OP_ADD:
        k->nbuf = 2;
        set_act(&k->r[R_IN], a->N, a->C, a->H, a->W);
        if (a->kind == GGDM_ADD_BCAST) /* b [N, C] (1 x 1), added at every position */
            set_shape(&k->r[R_IN + 1], 2, (uint64_t)a->N, (uint64_t)a->C, 0, 0);
        else
            set_act(&k->r[R_IN + 1], a->N, a->C, a->H, a->W);
        break;
    case GGDM_OP_AFFINE:
        k->nbuf = 3;
        set_act(&k->r[R_IN], a->N, a->C, a->H, a->W);
        set_shape(&k->r[R_IN + 1], 1, (uint64_t)a->C, 0, 0, 0);
        set_shape(&k->r[R_IN + 2], 1, (uint64_t)a->C, 0, 0, 0);
        break;
    case GGDM_OP_BNORM:
        k->nbuf = 2;
        set_act(&k->r[R_IN], a->N, a->C, a->H, a->W);
        set_shape(&k->r[R_IN + 1], 2, 4u, (uint64_t)a->C, 0, 0);
        break;
    case GGDM_OP_EMBED:
        k->nbuf = 3;
        set_shape(&k->r[R_IN], 2, (uint64_t)a->N, (uint64_t)a->W, 0, 0);
        set_shape(&k->r[R_IN + 1], 2, (uint64_t)a->C2, (uint64_t)a->Cout, 0, 0);
        set_shape(&k->r[R_IN + 2], 2, (uint64_t)a->W, (uint64_t)a->Cout, 0, 0);
        break;
    default: /* SILU, GELU, UPSAMPLE, LINATTN, GEGLU, QGELU, CLAMP, MAXPOOL, AVGPOOL, RESIZE: one activation */
        k->nbuf = 1;
        set_act(&k->r[R_IN], a->N, a->C, a->H, a->W);
        break;
    }
    if (layout && k->op != GGDM_OP_ATTN)
        return fail(c, GGDM_ERR_FORMAT, "layout= is for attn only%s", "");
    st = ggdm_op_info_get(k->op, a, &k->info);
    if (st != GGDM_OK)
        return fail(c, st, "ggdm_op_info_get refuses these attributes (%s)", ggdm_status_str(st));
    if (k->in_buf[0] < 0) /* one buffer per input */
        for (i = 0; i < k->info.n_in && i < k->nbuf; i++)
            k->in_buf[i] = i;
    for (i = 0; i < k->info.n_in; i++)
        if (absent & (1 << i))
            k->in_buf[i] = -1;
    for (i = 0; i < k->nbuf; i++) {
        int j, used = 0;
        for (j = 0; j < k->info.n_in; j++)
            used |= k->in_buf[j] == i;
        if (!used) { /* an absent input has neither a buffer nor a gradient */
            k->r[R_IN + i].n = 0;
            k->r[R_IN + i].ndim = 0;
            continue;
        }
        k->r[R_DIN + i] = k->r[R_IN + i];
    }

    /* the output, its gradient, the caches, scratch */
    if (k->op == GGDM_OP_WSTD)
        set_shape(&k->r[R_OUT], 2, (uint64_t)a->Cout, (uint64_t)a->C, 0, 0);
    else if (k->info.out_H == 1 && k->info.out_W == 1)
        set_shape(&k->r[R_OUT], 2, (uint64_t)a->N, (uint64_t)k->info.out_C, 0, 0);
    else
        set_act(&k->r[R_OUT], a->N, k->info.out_C, k->info.out_H, k->info.out_W);
    if (k->r[R_OUT].n != k->info.out)
        return fail(c, GGDM_ERR_ARG, "the output's size disagrees with ggdm_op_info_get%s", "");
    k->r[R_DOUT] = k->r[R_OUT];
    for (i = 0; i < k->info.n_cache && i < GGDM_OP_MAX_CACHE; i++)
        set_shape(&k->r[R_CACHE + i], 1, (uint64_t)k->info.cache[i], 0, 0, 0);
    set_shape(&k->r[R_SCRATCH], 1,
              (uint64_t)(k->info.scratch_fwd > k->info.scratch_vjp ? k->info.scratch_fwd : k->info.scratch_vjp), 0, 0,
              0);

    /* the arena: [guard][buffer][guard] ..., every buffer aligned */
    {
        size_t off = 0;
        for (i = 0; i < R_COUNT; i++) {
            if (k->r[i].n == 0) {
                k->r[i].off = 0;
                continue;
            }
            off += OPV_GUARD;
            off = (off + OPV_ALIGN - 1) / OPV_ALIGN * OPV_ALIGN;
            k->r[i].off = off;
            off += k->r[i].n;
        }
        k->total = off + OPV_GUARD;
        if (k->total > ((size_t)1 << 26))
            return fail(c, GGDM_ERR_ARG, "the case needs more than 2^26 floats: keep op vectors small%s", "");
    }
    return GGDM_OK;
}

/* ------------------------------------------------------------------ fills */

static float f32_of(uint32_t b)
{
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static uint32_t bits_of(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

/* Element k of the hostile table (16 entries, shifted by the slot so inputs do not align). */
static float adv_value(float A, unsigned slot, uint64_t k)
{
    switch ((unsigned)((k + 5u * slot) % 16u)) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    case 2: return f32_of(0x00000001u);  /* the smallest subnormal */
    case 3: return f32_of(0x80000002u);  /* -2 x the smallest subnormal */
    case 4: return f32_of(0x00400000u);  /* 2^-127 */
    case 5: return f32_of(0x807fffffu);  /* - the largest subnormal */
    case 6: return f32_of(0x00800000u);  /* the smallest normal */
    case 7: return f32_of(0x80800000u);
    case 8: return A;
    case 9: return -A;
    case 10: return 0.75f * A;
    case 11: return -A * 0x1p-10f;
    case 12: return 1.0f;
    case 13: return -1.0f;
    case 14: return 0x1p-100f;
    default: return -3.0f;
    }
}

typedef struct fill {
    int kind; /* 0 normal, 1 adv, 2 lin, 3 const, 4 zero, 5 uniform, 6 ids */
    double p, q;
} fill;

static ggdm_status parse_fill(conf_call *c, const char *key, fill *f)
{
    const char *s = conf_param(c, key);
    char *end;
    memset(f, 0, sizeof *f);
    f->p = 1.0; /* normal: S = 1, M = 0 */
    if (!s || strcmp(s, "normal") == 0)
        return GGDM_OK;
    if (strncmp(s, "normal:", 7) == 0) {
        f->p = strtod(s + 7, &end);
        if (*end == ':')
            f->q = strtod(end + 1, &end);
    } else if (strcmp(s, "adv") == 0 || strncmp(s, "adv:", 4) == 0) {
        f->kind = 1;
        f->p = s[3] ? strtod(s + 4, &end) : 1e30;
        if (!s[3])
            end = (char *)s + 3;
    } else if (strncmp(s, "lin:", 4) == 0) {
        f->kind = 2;
        f->p = strtod(s + 4, &end);
        if (*end != ':')
            return fail(c, GGDM_ERR_FORMAT, "fill '%s': lin:A:B", s);
        f->q = strtod(end + 1, &end);
    } else if (strncmp(s, "const:", 6) == 0) {
        f->kind = 3;
        f->p = strtod(s + 6, &end);
    } else if (strcmp(s, "zero") == 0) {
        f->kind = 4;
        end = (char *)s + 4;
    } else if (strncmp(s, "uniform:", 8) == 0) {
        f->kind = 5;
        f->p = strtod(s + 8, &end);
        if (*end != ':')
            return fail(c, GGDM_ERR_FORMAT, "fill '%s': uniform:A:B", s);
        f->q = strtod(end + 1, &end);
    } else if (strncmp(s, "ids:", 4) == 0) {
        f->kind = 6;
        f->p = strtod(s + 4, &end);
        if (!(f->p >= 1.0 && f->p <= 16777216.0) || f->p != (double)(long)f->p)
            return fail(c, GGDM_ERR_FORMAT, "fill '%s': ids:V with an integer V in [1, 2^24]", s);
    } else {
        return fail(c, GGDM_ERR_FORMAT,
                    "unknown fill '%s' (normal[:S[:M]], adv[:A], lin:A:B, const:V, zero, uniform:A:B, ids:V)", s);
    }
    if (*end)
        return fail(c, GGDM_ERR_FORMAT, "fill '%s' is malformed", s);
    return GGDM_OK;
}

static void do_fill(float *dst, size_t n, const fill *f, uint64_t seed, unsigned slot)
{
    uint64_t stream = ggdm_stream_id(GGDM_STREAM_TEST, 0x4f50u, slot), k;
    float S = (float)f->p, M = (float)f->q, A = (float)f->p;
    for (k = 0; k < n; k++) {
        switch (f->kind) {
        case 0: dst[k] = M + S * ggdm_rng_normal(seed, stream, k); break;
        case 1: dst[k] = (k & 1u) ? ggdm_rng_normal(seed, stream, k) : adv_value(A, slot, k >> 1); break;
        case 2: dst[k] = (float)(f->p + f->q * (double)k); break;
        case 3: dst[k] = (float)f->p; break;
        case 5: dst[k] = (float)(f->p + (f->q - f->p) * (double)ggdm_rng_uniform(seed, stream, k)); break;
        case 6: dst[k] = (float)ggdm_rng_below(seed, stream, k, (uint32_t)f->p); break;
        default: dst[k] = 0.0f; break;
        }
    }
}

/* ------------------------------------------------------------------ checks */

/* The region holding arena float i (or -1: a guard or padding). */
static int region_of(const opcase *k, size_t i)
{
    int r;
    for (r = 0; r < R_COUNT; r++)
        if (k->r[r].n && i >= k->r[r].off && i < k->r[r].off + k->r[r].n)
            return r;
    return -1;
}

/* Every float of got outside the writable regions (bit r of mask) equals want. */
static ggdm_status check_untouched(conf_call *c, const opcase *k, const float *got, const float *want, int mask,
                                   const char *phase)
{
    size_t i;
    for (i = 0; i < k->total; i++) {
        int r = region_of(k, i);
        if (r >= 0 && (mask & (1 << r)))
            continue;
        if (bits_of(got[i]) != bits_of(want[i])) {
            snprintf(c->err, sizeof c->err,
                     "the %s wrote where it may not: %s%s%llu (0x%08x, was 0x%08x)", phase,
                     r < 0 ? "a guard float beside a buffer, arena float " : region_name[r],
                     r < 0 ? "" : " element ", (unsigned long long)(r < 0 ? i : i - k->r[r].off),
                     (unsigned)bits_of(got[i]), (unsigned)bits_of(want[i]));
            return GGDM_ERR_MISMATCH;
        }
    }
    return GGDM_OK;
}

/* ------------------------------------------------------------------ the op */

ggdm_status conf_op_op(conf_call *c)
{
    const ggdm_backend *be = c->ex && c->ex->unet ? c->ex->unet : ggdm_backend_cpu();
    const char *res = conf_param(c, "result");
    opcase k;
    fill fin[GGDM_OP_MAX_IN], fdout, fpre;
    unsigned long long seed;
    int nograd, i, sel = -1, wfwd, wvjp;
    float *img = NULL, *A = NULL, *B = NULL, *host_ws = NULL, *dev;
    ggdm_op_call rec;
    ggdm_status st;
    static const char *const fill_key[GGDM_OP_MAX_IN] = {"in0", "in1", "in2"};

    TRY(setup(c, &k));
    TRY(conf_param_u64(c, "seed", 1, &seed));
    TRY(get_int(c, "nograd", 0, &nograd));
    for (i = 0; i < GGDM_OP_MAX_IN; i++)
        TRY(parse_fill(c, fill_key[i], &fin[i]));
    TRY(parse_fill(c, "dout", &fdout));
    TRY(parse_fill(c, "pre", &fpre));
    if (!res)
        return fail(c, GGDM_ERR_FORMAT, "parameter result=out|cacheI|dinI is missing%s", "");
    if (strcmp(res, "out") == 0)
        sel = R_OUT;
    else if (strncmp(res, "cache", 5) == 0 && res[5] >= '0' && res[5] < '0' + GGDM_OP_MAX_CACHE && !res[6])
        sel = R_CACHE + (res[5] - '0');
    else if (strncmp(res, "din", 3) == 0 && res[3] >= '0' && res[3] < '0' + GGDM_OP_MAX_IN && !res[4] &&
             res[3] - '0' < k.info.n_in && k.in_buf[res[3] - '0'] >= 0)
        sel = R_DIN + k.in_buf[res[3] - '0'];
    if (sel < 0 || k.r[sel].n == 0)
        return fail(c, GGDM_ERR_FORMAT, "result=%s: the op has no such (present) result", res);
    if (!be->ops || !be->ops[k.op].fwd || !be->ops[k.op].vjp || !be->upload || !be->download)
        return fail(c, GGDM_ERR_UNSUPPORTED, "backend %s does not run this op (no op table entry)", be->name);
    {
        const char *why = NULL;
        if (be->supports && !be->supports(be->ctx, k.op, &k.a, &why)) {
            c->skip = 1;
            snprintf(c->err, sizeof c->err, "not run by backend %s yet (%s)", be->name, why ? why : "these attributes");
            return GGDM_ERR_UNSUPPORTED;
        }
    }

    img = (float *)malloc(sizeof(float) * k.total);
    A = (float *)malloc(sizeof(float) * k.total);
    B = (float *)malloc(sizeof(float) * k.total);
    host_ws = (float *)malloc(sizeof(float) * k.total);
    if (!img || !A || !B || !host_ws) {
        st = fail(c, GGDM_ERR_IO, "out of memory%s", "");
        goto done;
    }
    for (i = 0; (size_t)i < k.total; i++)
        img[i] = f32_of(OPV_SENTINEL);
    for (i = 0; i < k.nbuf; i++) {
        if (k.r[R_IN + i].n)
            do_fill(img + k.r[R_IN + i].off, k.r[R_IN + i].n, &fin[i], seed, (unsigned)i);
        if (k.r[R_DIN + i].n)
            do_fill(img + k.r[R_DIN + i].off, k.r[R_DIN + i].n, &fpre, seed, 16u + (unsigned)i);
    }
    do_fill(img + k.r[R_DOUT].off, k.r[R_DOUT].n, &fdout, seed, 8u);

    /* backend memory: its workspace, or the host */
    dev = be->workspace ? be->workspace(be->ctx, host_ws, sizeof(float) * k.total) : host_ws;
    if (!dev) {
        st = fail(c, GGDM_ERR_BUFFER_TOO_SMALL, "backend %s: no workspace for the case", be->name);
        goto done;
    }
    be->upload(be->ctx, dev, img, k.total);
    for (i = 0; i < k.nbuf; i++) { /* zero fills through the backend's zero() */
        if (fin[i].kind == 4 && k.r[R_IN + i].n && be->zero)
            be->zero(be->ctx, dev + k.r[R_IN + i].off, k.r[R_IN + i].n);
        if (fpre.kind == 4 && k.r[R_DIN + i].n && be->zero)
            be->zero(be->ctx, dev + k.r[R_DIN + i].off, k.r[R_DIN + i].n);
    }
    if (fdout.kind == 4 && be->zero)
        be->zero(be->ctx, dev + k.r[R_DOUT].off, k.r[R_DOUT].n);

#define PTR(R) (k.r[R].n ? dev + k.r[R].off : NULL)
    /* forward */
    memset(&rec, 0, sizeof rec);
    rec.a = k.a;
    for (i = 0; i < k.info.n_in; i++)
        rec.in[i] = k.in_buf[i] >= 0 ? PTR(R_IN + k.in_buf[i]) : NULL;
    rec.out = PTR(R_OUT);
    for (i = 0; i < GGDM_OP_MAX_CACHE; i++)
        rec.cache[i] = PTR(R_CACHE + i);
    rec.scratch = PTR(R_SCRATCH);
    rec.ex = c->ex;
    be->ops[k.op].fwd(be->ctx, &rec);
    be->download(be->ctx, A, dev, k.total);
    wfwd = (1 << R_OUT) | (7 << R_CACHE) | (1 << R_SCRATCH);
    if ((st = check_untouched(c, &k, A, img, wfwd, "forward")) != GGDM_OK)
        goto done;

    /* VJP: scratch back to the sentinel, the gradients wanted */
    if (k.r[R_SCRATCH].n)
        be->upload(be->ctx, dev + k.r[R_SCRATCH].off, img + k.r[R_SCRATCH].off, k.r[R_SCRATCH].n);
    rec.dout = PTR(R_DOUT);
    wvjp = 1 << R_SCRATCH;
    for (i = 0; i < k.info.n_in; i++)
        if (k.in_buf[i] >= 0 && !(nograd & (1 << i))) {
            rec.din[i] = PTR(R_DIN + k.in_buf[i]);
            wvjp |= 1 << (R_DIN + k.in_buf[i]);
        }
    be->ops[k.op].vjp(be->ctx, &rec);
#undef PTR
    be->download(be->ctx, B, dev, k.total);
    if (be->failed && be->failed(be->ctx)) {
        st = fail(c, GGDM_ERR_DEVICE, "backend %s failed while running the op", be->name);
        goto done;
    }
    if ((st = check_untouched(c, &k, B, A, wvjp, "VJP")) != GGDM_OK)
        goto done;

    /* the result */
    {
        const region *r = &k.r[sel];
        const float *src = B + r->off;
        size_t j;
        for (j = 0; j < r->n; j++)
            if (src[j] != src[j]) {
                char m[160];
                snprintf(m, sizeof m, "%s element %llu %s", res, (unsigned long long)j,
                         bits_of(src[j]) == OPV_SENTINEL ? "was never written"
                                                         : "is NaN (NaN bits are not portable: no vector expects one)");
                st = fail(c, GGDM_ERR_MISMATCH, "%s", m);
                goto done;
            }
        st = ggdm_array_alloc(&c->out, GGDM_DT_F32, r->ndim, r->shape);
        if (st != GGDM_OK) {
            fail(c, st, "cannot allocate the result%s", "");
            goto done;
        }
        memcpy(c->out.data, src, sizeof(float) * r->n);
    }
done:
    free(img);
    free(A);
    free(B);
    free(host_ws);
    return st;
}
