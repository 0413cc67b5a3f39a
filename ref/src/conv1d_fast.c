/*
 * Conv1d with a scratch buffer: the same chains as ggdm_conv1d_forward/backward
 * (docs/nn.md, "Conv1d"), bit for bit, evaluated by register-blocked micro-kernels.
 *
 * Each micro-kernel computes a tile of independent outputs: VL = 16 consecutive output
 * channels (forward, dw) or input channels (dx) as SIMD lanes, times up to TP positions
 * or TF fan taps. Every lane advances its own chain one term at a time, in the documented
 * order (forward: i then k; dx: o then k; dw: n then l), with one fmaf per term; no chain
 * is split, so the bits do not depend on the tile shape or the vector width. The loops
 * over lanes have the constant trip count VL, which the compiler turns into vector
 * fused multiply-adds (two 8-lane vectors with AVX2, one with AVX-512; at -O0 scalar
 * fmaf calls: the same bits).
 *
 * Padding: with the lanes running over channels, whether a tap exists depends only on
 * the tile row (a position, or an input channel) and the tap, never on the lane, so a skipped
 * tap is a skipped fmaf for the whole vector (no product with 0, no masking). The taps of
 * one position form a contiguous range. The positions are cut into tiles of TP rows where
 * at least three rows share one range and the fourth (the first or the last row, at a
 * border) has a sub-range of it, or else into groups of up to TP consecutive rows with
 * the same range (interior positions: all K taps). Each tile runs loops whose set of rows
 * is fixed (no branch, no mask in the inner loops, the rows stay in registers); the
 * partial row of a border tile runs its own tap loop after the shared one, inside the
 * same channel step, so every row's terms keep their order.
 *
 * dx with stride s: a tile's rows are the positions p0, p0+s, p0+2s, ... of one residue
 * class of p modulo s; their taps are every s-th k (the others never contribute to that
 * class) and the rows read consecutive dy.
 *
 * dw: a tile's four rows are one tap k of four input channels, which share the range of
 * outputs l where the tap exists, so the chain over (n, l) has no border either.
 *
 * Packed layouts in the scratch buffer (they change where values are read from, never
 * which values enter a chain or in which order):
 *   forward: wp[((ob*Cin + i)*K + k)*VL + j] = w[ob*VL + j, i, k]   (panels of VL outputs)
 *   dx:      wt[((ib*Cout + o)*K + k)*VL + j] = w[o, ib*VL + j, k]  (panels of VL inputs)
 *   dw:      dyt[((ob*N + n)*Lout + l)*VL + j] = dy[n, ob*VL + j, l]
 * Channels beyond the last full panel (Cout or Cin not a multiple of VL) use plain loops
 * (the same chains, one output at a time).
 *
 * Threads (the _ex variants): every phase (packing, tiles, remainders) is cut into tasks
 * over independent outputs (panels, (sample, panel) pairs, channels); a task's range of
 * units depends only on its index and the task count, and every output is computed by the
 * same tile whatever task runs it, so the bits do not depend on the executor. The phases
 * run one after another (packing before the tiles that read it).
 */
#include <math.h>
#include <stddef.h>

#include "ggdm/exec.h"
#include "ggdm/layers.h"

#define VL 16   /* lanes: channels per panel */
#define TP 4 /* positions per forward / dx tile (group) */
#define TF 4 /* fan taps per dw tile: one tap k of TF input channels */

size_t ggdm_conv1d_scratch_floats(int N, int Cin, int Lin, int Cout, int K, int stride, int pad)
{
    int Lout = ggdm_conv1d_out_len(Lin, K, stride, pad);
    size_t wsz, dsz;
    if (N <= 0 || Cin <= 0 || Cout <= 0 || Lout <= 0)
        return 0;
    wsz = (size_t)Cout * (size_t)Cin * (size_t)K;
    dsz = (size_t)N * (size_t)Cout * (size_t)Lout;
    return wsz > dsz ? wsz : dsz;
}

/* ------------------------------------------------------------------ micro-kernel */

/*
 * Four accumulator rows of VL lanes (a tile: up to four positions or four fan taps, times
 * VL channels), each row held as two named halves of HL = 8 lanes: row t is a_t (lanes
 * 0..7) and b_t (lanes 8..15). Named arrays with loops of exactly HL iterations are what
 * the compiler keeps in vector registers across the whole chain (one 8-lane vector each
 * with AVX2; indexed rows, or one 16-iteration loop, stay in memory at -O2). Every path
 * updates a fixed set of rows unconditionally: a row updated on some paths only (a switch
 * on the rows inside the chain loop) is kept in memory.
 *
 * FMA<n>(v, s0..s<n-1>): rows 0..n-1 advance their chains by fmaf(v[j], s_t, row_t[j]) in
 * every lane; the other rows are not touched. FMA3H: the same for rows 1..3.
 */
#define HL 8
#define ROWS_DECL float a0[HL], a1[HL], a2[HL], a3[HL], b0[HL], b1[HL], b2[HL], b3[HL]
#define ROWS_ZERO()                                                                                                    \
    for (j = 0; j < HL; j++)                                                                                           \
    a0[j] = a1[j] = a2[j] = a3[j] = b0[j] = b1[j] = b2[j] = b3[j] = 0.0f
#define FMA4(v, s0, s1, s2, s3)                                                                                        \
    for (j = 0; j < HL; j++) {                                                                                         \
        a0[j] = fmaf((v)[j], (s0), a0[j]);                                                                             \
        a1[j] = fmaf((v)[j], (s1), a1[j]);                                                                             \
        a2[j] = fmaf((v)[j], (s2), a2[j]);                                                                             \
        a3[j] = fmaf((v)[j], (s3), a3[j]);                                                                             \
        b0[j] = fmaf((v)[HL + j], (s0), b0[j]);                                                                        \
        b1[j] = fmaf((v)[HL + j], (s1), b1[j]);                                                                        \
        b2[j] = fmaf((v)[HL + j], (s2), b2[j]);                                                                        \
        b3[j] = fmaf((v)[HL + j], (s3), b3[j]);                                                                        \
    }
#define FMA3(v, s0, s1, s2)                                                                                            \
    for (j = 0; j < HL; j++) {                                                                                         \
        a0[j] = fmaf((v)[j], (s0), a0[j]);                                                                             \
        a1[j] = fmaf((v)[j], (s1), a1[j]);                                                                             \
        a2[j] = fmaf((v)[j], (s2), a2[j]);                                                                             \
        b0[j] = fmaf((v)[HL + j], (s0), b0[j]);                                                                        \
        b1[j] = fmaf((v)[HL + j], (s1), b1[j]);                                                                        \
        b2[j] = fmaf((v)[HL + j], (s2), b2[j]);                                                                        \
    }
#define FMA3H(v, s1, s2, s3) /* rows 1..3 */                                                                    \
    for (j = 0; j < HL; j++) {                                                                                         \
        a1[j] = fmaf((v)[j], (s1), a1[j]);                                                                             \
        a2[j] = fmaf((v)[j], (s2), a2[j]);                                                                             \
        a3[j] = fmaf((v)[j], (s3), a3[j]);                                                                             \
        b1[j] = fmaf((v)[HL + j], (s1), b1[j]);                                                                        \
        b2[j] = fmaf((v)[HL + j], (s2), b2[j]);                                                                        \
        b3[j] = fmaf((v)[HL + j], (s3), b3[j]);                                                                        \
    }
#define FMA2(v, s0, s1)                                                                                                \
    for (j = 0; j < HL; j++) {                                                                                         \
        a0[j] = fmaf((v)[j], (s0), a0[j]);                                                                             \
        a1[j] = fmaf((v)[j], (s1), a1[j]);                                                                             \
        b0[j] = fmaf((v)[HL + j], (s0), b0[j]);                                                                        \
        b1[j] = fmaf((v)[HL + j], (s1), b1[j]);                                                                        \
    }
#define FMA1(v, s0)                                                                                                    \
    for (j = 0; j < HL; j++) {                                                                                         \
        a0[j] = fmaf((v)[j], (s0), a0[j]);                                                                             \
        b0[j] = fmaf((v)[HL + j], (s0), b0[j]);                                                                        \
    }
/* Row t's lane j (t < nt, j < VL) goes to d = dst[j*ls + t*ps]: d = row (bias NULL),
 * d = row + bias[j] (forward with a bias) or d = d + row (add). A macro, so that the rows
 * never have their address taken (which would keep them in memory); they are first copied
 * to a local block (consecutive stores, which every compiler vectorizes), then scattered. */
#define ROWS_STORE(dst, ls, ps, nt, add, bias)                                                                         \
    do {                                                                                                               \
        float *const dst_ = (dst);                                                                                     \
        const long ls_ = (ls), ps_ = (ps);                                                                             \
        const int nt_ = (nt), add_ = (add);                                                                            \
        const float *const bias_ = (bias);                                                                             \
        float blk_[TP][VL];                                                                                            \
        int t_;                                                                                                        \
        for (j = 0; j < HL; j++) {                                                                                     \
            blk_[0][j] = a0[j];                                                                                        \
            blk_[1][j] = a1[j];                                                                                        \
            blk_[2][j] = a2[j];                                                                                        \
            blk_[3][j] = a3[j];                                                                                        \
            blk_[0][HL + j] = b0[j];                                                                                   \
            blk_[1][HL + j] = b1[j];                                                                                   \
            blk_[2][HL + j] = b2[j];                                                                                   \
            blk_[3][HL + j] = b3[j];                                                                                   \
        }                                                                                                              \
        for (t_ = 0; t_ < nt_; t_++) {                                                                                 \
            float *d_ = dst_ + t_ * ps_;                                                                               \
            const float *r_ = blk_[t_];                                                                                \
            if (add_)                                                                                                  \
                for (j = 0; j < VL; j++)                                                                               \
                    d_[j * ls_] = d_[j * ls_] + r_[j];                                                                 \
            else if (bias_)                                                                                            \
                for (j = 0; j < VL; j++)                                                                               \
                    d_[j * ls_] = r_[j] + bias_[j];                                                                    \
            else                                                                                                       \
                for (j = 0; j < VL; j++)                                                                               \
                    d_[j * ls_] = r_[j];                                                                               \
        }                                                                                                              \
    } while (0)

/* Units [*u0, *u1) of task `task` of ntasks: a function of the indices only. */
static void task_range(long units, int ntasks, int task, long *u0, long *u1)
{
    *u0 = units * task / ntasks;
    *u1 = units * (task + 1) / ntasks;
}

/* How many tasks to cut `units` independent units into (1 without threads). */
static int task_count(const ggdm_exec *ex, long units)
{
    long t = ggdm_exec_threads(ex);
    if (t <= 1 || units <= 1)
        return 1;
    t *= 4;
    return (int)(units < t ? units : t);
}

/* ------------------------------------------------------------------ tiles */

/*
 * A tile of nr <= TP rows (positions) x VL lanes: row t's chain is, over c = 0..C-1, then
 * its taps k in increasing order, fmaf(w[c*wc + k*wk + lane], src[off + c*sc + t*se + k*sk],
 * acc), the taps k being
 *   mode 0: 0 .. nk-1 for every row;
 *   mode 1: 0 .. nk-1 for rows 1..3 and plo .. phi-1 for row 0 (a sub-range; nr == TP);
 *   mode 2: 0 .. nk-1 for rows 0..2 and plo .. phi-1 for row 3 (a sub-range; nr == TP).
 * (forward: c = i, src = x[n]; dx: c = o, src = dy[n].) Every loop updates a fixed set of
 * rows. The rows then go to dst[lane*ls + t*ps] (ROWS_STORE).
 */
typedef struct {
    const float *src, *w;
    long off, sc, se, sk, wc, wk;
    int C, nk, nr, mode, plo, phi;
} tile_args;

#define TILE_LOOP(BODY)                                                                                                \
    for (c = 0; c < C; c++) {                                                                                          \
        const long q = off + c * sc;                                                                                   \
        const float *wr = w + c * wc;                                                                                  \
        BODY                                                                                                           \
    }
#define X1(k) const float x0 = src[q + (k) * sk]
#define X2(k) X1(k); const float x1 = src[q + se + (k) * sk]
#define X3(k) X2(k); const float x2 = src[q + 2 * se + (k) * sk]
#define X4(k) X3(k); const float x3 = src[q + 3 * se + (k) * sk]
#define X3H(k)                                                                                                         \
    const float x1 = src[q + se + (k) * sk];                                                                           \
    const float x2 = src[q + 2 * se + (k) * sk];                                                                       \
    const float x3 = src[q + 3 * se + (k) * sk]

/* One function per loop shape, each with its own rows and store: rows that merge from
 * paths of different shapes are not kept in vector registers by every compiler. */
#define TILE_FN(NAME, BODY)                                                                                            \
    static void NAME(const tile_args *T, float *dst, long ls, long ps, int add, const float *bias)                     \
    {                                                                                                                  \
        ROWS_DECL;                                                                                                     \
        const float *src = T->src, *w = T->w;                                                                          \
        const long off = T->off, sc = T->sc, se = T->se, sk = T->sk, wc = T->wc, wk = T->wk;                           \
        const int C = T->C, nk = T->nk, plo = T->plo, phi = T->phi;                                                    \
        int c, k, j;                                                                                                   \
        ROWS_ZERO();                                                                                                   \
        (void)nk;                                                                                                      \
        (void)plo;                                                                                                     \
        (void)phi;                                                                                                     \
        (void)wk;                                                                                                      \
        (void)se;                                                                                                      \
        (void)k;                                                                                                       \
        TILE_LOOP(BODY)                                                                                                \
        ROWS_STORE(dst, ls, ps, T->nr, add, bias);                                                                     \
    }

/* mode 1: rows 1..3 over every tap, then row 0 over its own (each row's order is kept) */
TILE_FN(tile_m1, for (k = 0; k < nk; k++) {
    X3H(k);
    FMA3H(wr + k * wk, x1, x2, x3)
} for (k = plo; k < phi; k++) {
    X1(k);
    FMA1(wr + k * wk, x0)
})

/* mode 2: rows 0..2 over every tap, then row 3 over its own */
TILE_FN(tile_m2, for (k = 0; k < nk; k++) {
    X3(k);
    FMA3(wr + k * wk, x0, x1, x2)
} for (k = plo; k < phi; k++) {
    const float x3 = src[q + 3 * se + k * sk];
    for (j = 0; j < HL; j++) {
        a3[j] = fmaf((wr + k * wk)[j], x3, a3[j]);
        b3[j] = fmaf((wr + k * wk)[HL + j], x3, b3[j]);
    }
})

/* mode 0 */
TILE_FN(tile_r4_k1, X4(0); FMA4(wr, x0, x1, x2, x3)) /* 1x1 convolutions: no tap loop */
TILE_FN(tile_r4, for (k = 0; k < nk; k++) {
    X4(k);
    FMA4(wr + k * wk, x0, x1, x2, x3)
})
TILE_FN(tile_r3, for (k = 0; k < nk; k++) {
    X3(k);
    FMA3(wr + k * wk, x0, x1, x2)
})
TILE_FN(tile_r2, for (k = 0; k < nk; k++) {
    X2(k);
    FMA2(wr + k * wk, x0, x1)
})
TILE_FN(tile_r1, for (k = 0; k < nk; k++) {
    X1(k);
    FMA1(wr + k * wk, x0)
})

/* The tile's outputs: its rows' chains (empty when nk == 0: the rows stay 0) stored. */
static void tile_run(const tile_args *T, float *dst, long ls, long ps, int add, const float *bias)
{
    if (T->nk > 0 && T->mode == 1)
        tile_m1(T, dst, ls, ps, add, bias);
    else if (T->nk > 0 && T->mode == 2)
        tile_m2(T, dst, ls, ps, add, bias);
    else if (T->nk == 1 && T->nr == 4)
        tile_r4_k1(T, dst, ls, ps, add, bias);
    else if (T->nr == 4)
        tile_r4(T, dst, ls, ps, add, bias);
    else if (T->nr == 3)
        tile_r3(T, dst, ls, ps, add, bias);
    else if (T->nr == 2)
        tile_r2(T, dst, ls, ps, add, bias);
    else
        tile_r1(T, dst, ls, ps, add, bias);
}

/*
 * The rows of a forward panel (outputs l = 0..Lout-1) or of a dx residue class (positions
 * p = r + c*stride, c = 0..cnt-1) and their taps: row c has the taps [lo, hi) of a list
 * (forward: k; dx: k = kf + a*stride, a the index), contiguous and the same for every
 * channel of the chain.
 */
typedef struct {
    int dx, Lin, Lout, K, stride, pad, r, kf;
} row_set;

static void row_taps(const row_set *R, long c, int *plo, int *phi)
{
    long lo, hi;
    if (!R->dx) {
        /* output c reads x at c*stride - pad + k */
        long p = c * R->stride - R->pad;
        lo = p >= 0 ? 0 : -p;
        hi = R->Lin - p;
        if (hi > R->K)
            hi = R->K;
    } else {
        /* tap a reads dy at lf - a */
        const long lf = ((long)R->r + c * R->stride + R->pad - R->kf) / R->stride;
        const long na = R->kf < R->K ? (R->K - R->kf + R->stride - 1) / R->stride : 0;
        lo = lf - R->Lout + 1;
        hi = lf + 1;
        if (lo < 0)
            lo = 0;
        if (hi > na)
            hi = na;
    }
    if (lo > R->K)
        lo = R->K;
    if (hi < lo)
        hi = lo;
    *plo = (int)lo;
    *phi = (int)hi;
}

/* Cuts rows c0 = 0..cnt-1 into tiles: four rows where three share their taps and the
 * fourth (first or last) has a sub-range of them, else up to TP consecutive rows with the
 * same taps. Fills T->nr, mode, nk, plo, phi; *base is the first tap of the shared range
 * (the rows' offset) and returns the tile's first row. */
static void next_tile(const row_set *R, long c0, long cnt, tile_args *T, int *base)
{
    int lo[TP], hi[TP], t;
    row_taps(R, c0, &lo[0], &hi[0]);
    T->mode = 0;
    T->plo = T->phi = 0;
    if (cnt - c0 >= TP) {
        for (t = 1; t < TP; t++)
            row_taps(R, c0 + t, &lo[t], &hi[t]);
        if (lo[1] == lo[2] && hi[1] == hi[2]) {
            int f = -1; /* the full rows' representative, when one row is a sub-range */
            if (lo[3] == lo[1] && hi[3] == hi[1] && (lo[0] != lo[1] || hi[0] != hi[1]) &&
                (lo[0] == hi[0] || (lo[0] >= lo[1] && hi[0] <= hi[1]))) {
                T->mode = 1;
                f = 0;
            } else if (lo[0] == lo[1] && hi[0] == hi[1] && (lo[3] != lo[1] || hi[3] != hi[1]) &&
                       (lo[3] == hi[3] || (lo[3] >= lo[1] && hi[3] <= hi[1]))) {
                T->mode = 2;
                f = 3;
            }
            if (T->mode) {
                T->nr = TP;
                T->nk = hi[1] - lo[1];
                *base = lo[1];
                if (lo[f] < hi[f]) {
                    T->plo = lo[f] - lo[1];
                    T->phi = hi[f] - lo[1];
                }
                return;
            }
        }
    }
    for (t = 1; t < TP && c0 + t < cnt; t++) {
        int l2, h2;
        row_taps(R, c0 + t, &l2, &h2);
        if (l2 != lo[0] || h2 != hi[0])
            break;
    }
    T->nr = t;
    T->nk = hi[0] - lo[0];
    *base = lo[0];
}

/* ------------------------------------------------------------------ forward */

typedef struct {
    float *y;
    const float *x, *w, *b;
    float *wp;
    int N, Cin, Lin, Cout, K, stride, pad, Lout, nob, ntasks;
    long units;
} fwd_job;

static void fwd_pack_task(void *arg, int task)
{
    const fwd_job *J = (const fwd_job *)arg;
    const long fan = (long)J->Cin * J->K;
    long ob, ob0, ob1, f;
    int j;
    task_range(J->nob, J->ntasks, task, &ob0, &ob1);
    for (ob = ob0; ob < ob1; ob++)
        for (f = 0; f < fan; f++)
            for (j = 0; j < VL; j++)
                J->wp[(ob * fan + f) * VL + j] = J->w[(ob * VL + j) * fan + f];
}

static void fwd_task(void *arg, int task)
{
    const fwd_job *J = (const fwd_job *)arg;
    const long fan = (long)J->Cin * J->K, full_units = (long)J->N * J->nob;
    long u, u0, u1, l0;
    task_range(J->units, J->ntasks, task, &u0, &u1);
    for (u = u0; u < u1; u++) {
        if (u < full_units) {
            long n = u / J->nob, ob = u % J->nob;
            const float *xn = J->x + n * J->Cin * J->Lin;
            float *yo = J->y + (n * J->Cout + ob * VL) * J->Lout;
            const float *wp = J->wp + ob * fan * VL;
            const float *bias = J->b ? J->b + ob * VL : NULL;
            row_set R;
            tile_args T;
            R.dx = 0;
            R.Lin = J->Lin;
            R.Lout = J->Lout;
            R.K = J->K;
            R.stride = J->stride;
            R.pad = J->pad;
            R.r = R.kf = 0;
            T.src = xn;
            T.sc = J->Lin;
            T.se = J->stride;
            T.sk = 1;
            T.wc = (long)J->K * VL;
            T.wk = VL;
            T.C = J->Cin;
            for (l0 = 0; l0 < J->Lout; l0 += T.nr) {
                int klo;
                next_tile(&R, l0, J->Lout, &T, &klo);
                T.off = l0 * J->stride - J->pad + klo;
                T.w = wp + (long)klo * VL;
                tile_run(&T, yo + l0, J->Lout, 1, 0, bias);
            }
        } else {
            /* remaining output channels of sample n: the plain loops */
            long n = u - full_units, o0 = (long)J->nob * VL;
            ggdm_conv1d_forward(J->y + (n * J->Cout + o0) * J->Lout, J->x + n * J->Cin * J->Lin, J->w + o0 * fan,
                                J->b ? J->b + o0 : NULL, 1, J->Cin, J->Lin, J->Cout - (int)o0, J->K, J->stride,
                                J->pad);
        }
    }
}

void ggdm_conv1d_forward_ex(float *y, const float *x, const float *w, const float *b, int N, int Cin, int Lin,
                            int Cout, int K, int stride, int pad, float *scratch, const ggdm_exec *ex)
{
    fwd_job J;
    int Lout = ggdm_conv1d_out_len(Lin, K, stride, pad);
    if (N <= 0 || Cin <= 0 || Cout <= 0 || Lout <= 0)
        return;
    if (!scratch || Cout < VL) {
        ggdm_conv1d_forward(y, x, w, b, N, Cin, Lin, Cout, K, stride, pad);
        return;
    }
    J.y = y;
    J.x = x;
    J.w = w;
    J.b = b;
    J.wp = scratch;
    J.N = N;
    J.Cin = Cin;
    J.Lin = Lin;
    J.Cout = Cout;
    J.K = K;
    J.stride = stride;
    J.pad = pad;
    J.Lout = Lout;
    J.nob = Cout / VL;
    /* pack the full panels */
    J.ntasks = task_count(ex, J.nob);
    ggdm_exec_run(ex, fwd_pack_task, &J, J.ntasks);
    /* (sample, panel) pairs, then one unit per sample for the remaining channels */
    J.units = (long)N * J.nob + (J.nob * VL < Cout ? N : 0);
    J.ntasks = task_count(ex, J.units);
    ggdm_exec_run(ex, fwd_task, &J, J.ntasks);
}

void ggdm_conv1d_forward_s(float *y, const float *x, const float *w, const float *b, int N, int Cin, int Lin,
                           int Cout, int K, int stride, int pad, float *scratch)
{
    ggdm_conv1d_forward_ex(y, x, w, b, N, Cin, Lin, Cout, K, stride, pad, scratch, NULL);
}

/* ------------------------------------------------------------------ backward */

typedef struct {
    float *dx, *dw, *db;
    const float *dy, *x, *w;
    float *scratch;
    int N, Cin, Lin, Cout, K, stride, pad, Lout, nob, nib, nft, ntasks;
    long units;
} bwd_job;

/* ---------------------------------------------------------- dx */

static void dx_pack_task(void *arg, int task)
{
    const bwd_job *J = (const bwd_job *)arg;
    const long fan = (long)J->Cin * J->K;
    long ib, ib0, ib1, o;
    int k, j;
    task_range(J->nib, J->ntasks, task, &ib0, &ib1);
    for (ib = ib0; ib < ib1; ib++)
        for (o = 0; o < J->Cout; o++)
            for (k = 0; k < J->K; k++)
                for (j = 0; j < VL; j++)
                    J->scratch[((ib * J->Cout + o) * J->K + k) * VL + j] = J->w[o * fan + (ib * VL + j) * J->K + k];
}

/* dx rows [n, i0 .. i1-1] by the plain chains (channels beyond the last full panel) */
static void dx_rows_plain(const bwd_job *J, long n, int i0, int i1)
{
    int i, o, k;
    long p, l;
    for (i = i0; i < i1; i++) {
        float *dxr = J->dx + (n * J->Cin + i) * J->Lin;
        for (p = 0; p < J->Lin; p++) {
            float acc = 0.0f;
            for (o = 0; o < J->Cout; o++) {
                const float *dyr = J->dy + (n * J->Cout + o) * J->Lout;
                const float *wr = J->w + ((long)o * J->Cin + i) * J->K;
                for (k = 0; k < J->K; k++) {
                    long q = p + J->pad - k;
                    if (q >= 0 && q % J->stride == 0 && (l = q / J->stride) < J->Lout)
                        acc = fmaf(wr[k], dyr[l], acc);
                }
            }
            dxr[p] = dxr[p] + acc;
        }
    }
}

static void dx_task(void *arg, int task)
{
    const bwd_job *J = (const bwd_job *)arg;
    const long full_units = (long)J->N * J->nib;
    long u, u0, u1;
    task_range(J->units, J->ntasks, task, &u0, &u1);
    for (u = u0; u < u1; u++) {
        if (u < full_units) {
            const long n = u / J->nib, ib = u % J->nib;
            const float *dyn = J->dy + n * J->Cout * J->Lout;
            float *dxn = J->dx + (n * J->Cin + ib * VL) * J->Lin;
            const float *wt = J->scratch + ib * J->Cout * J->K * VL;
            const int s = J->stride;
            int r;
            row_set R;
            tile_args T;
            R.dx = 1;
            R.Lin = J->Lin;
            R.Lout = J->Lout;
            R.K = J->K;
            R.stride = s;
            R.pad = J->pad;
            T.src = dyn;
            T.sc = J->Lout;
            T.se = 1;
            T.sk = -1;
            T.wc = (long)J->K * VL;
            T.wk = (long)s * VL;
            T.C = J->Cout;
            /* residue classes r of the positions modulo stride, tiles of positions in each */
            for (r = 0; r < s && r < J->Lin; r++) {
                const long cnt = (J->Lin - r + s - 1) / s;
                long c0;
                R.r = r;
                R.kf = (r + J->pad) % s;
                for (c0 = 0; c0 < cnt; c0 += T.nr) {
                    int alo;
                    next_tile(&R, c0, cnt, &T, &alo);
                    /* tap alo of row 0 reads dy at lf - alo */
                    T.off = ((long)r + c0 * s + J->pad - R.kf) / s - alo;
                    T.w = wt + (long)(R.kf + alo * s) * VL;
                    /* an empty chain still stores dx + 0 */
                    tile_run(&T, dxn + r + c0 * s, J->Lin, s, 1, NULL);
                }
            }
        } else {
            dx_rows_plain(J, u - full_units, J->nib * VL, J->Cin);
        }
    }
}

/* ---------------------------------------------------------- dw, db */

/* dw[o0 .. o0+VL-1, (i0+t)*K + k] (t < ni; dw points at [o0, 0]) += chains over n, then
 * l, from the transposed panel dyt [N, Lout, VL]; the tap k exists for the same outputs l
 * in every row. Rows beyond ni repeat row 0 (computed, never stored). */
static void dw_tile(float *dw, long fan, const float *x, const float *dyt, int N, int Cin, int Lin, int Lout, int K,
                    int stride, int pad, long i0, int ni, int k)
{
    ROWS_DECL;
    const long a = (long)k - pad, e = Lin - 1 - a; /* p = l*stride + a */
    long lo = a >= 0 ? 0 : (-a + stride - 1) / stride, hi = e < 0 ? 0 : e / stride + 1, l;
    long xo[TF];
    int n, t, j;
    ROWS_ZERO();
    if (hi > Lout)
        hi = Lout;
    for (t = 0; t < TF; t++)
        xo[t] = (i0 + (t < ni ? t : 0)) * Lin + a; /* x[n, i, p] = x[n*Cin*Lin + xo[t] + l*stride] */
    for (n = 0; n < N; n++) {
        const long xn = (long)n * Cin * Lin;
        const float *dn = dyt + (long)n * Lout * VL;
        const long q0 = xn + xo[0], q1 = xn + xo[1], q2 = xn + xo[2], q3 = xn + xo[3];
        for (l = lo; l < hi; l++) {
            const float *dv = dn + l * VL;
            const long ls = l * stride;
            const float x0 = x[q0 + ls], x1 = x[q1 + ls], x2 = x[q2 + ls], x3 = x[q3 + ls];
            FMA4(dv, x0, x1, x2, x3);
        }
    }
    ROWS_STORE(dw + i0 * K + k, fan, K, ni, 1, NULL);
}

/* Phase 1 of dw/db: units [0, nob) transpose dy panel ob into the scratch (when dw);
 * then units over remaining dw rows o (plain chains); then db in groups of VL channels. */
static void dw_pre_task(void *arg, int task)
{
    const bwd_job *J = (const bwd_job *)arg;
    const long fan = (long)J->Cin * J->K, o0 = (long)J->nob * VL;
    const long ntr = J->dw ? J->nob : 0, nrem = J->dw ? J->Cout - o0 : 0;
    long u, u0, u1;
    task_range(J->units, J->ntasks, task, &u0, &u1);
    for (u = u0; u < u1; u++) {
        if (u < ntr) {
            long ob = u, n, l;
            int j;
            for (n = 0; n < J->N; n++)
                for (j = 0; j < VL; j++) {
                    const float *dr = J->dy + (n * J->Cout + ob * VL + j) * J->Lout;
                    float *tr = J->scratch + (ob * J->N + n) * J->Lout * VL + j;
                    for (l = 0; l < J->Lout; l++)
                        tr[l * VL] = dr[l];
                }
        } else if (u < ntr + nrem) {
            /* remaining output channel o: its chains read dy row o */
            long o = o0 + (u - ntr), l;
            int n, i, k;
            for (i = 0; i < J->Cin; i++)
                for (k = 0; k < J->K; k++) {
                    float acc = 0.0f, *d = J->dw + o * fan + (long)i * J->K + k;
                    for (n = 0; n < J->N; n++) {
                        const float *dyr = J->dy + ((long)n * J->Cout + o) * J->Lout;
                        const float *xr = J->x + ((long)n * J->Cin + i) * J->Lin;
                        for (l = 0; l < J->Lout; l++) {
                            long p = l * J->stride + k - J->pad;
                            if (p >= 0 && p < J->Lin)
                                acc = fmaf(dyr[l], xr[p], acc);
                        }
                    }
                    *d = *d + acc;
                }
        } else {
            long c0 = (u - ntr - nrem) * VL, c1 = c0 + VL < J->Cout ? c0 + VL : J->Cout, o, l;
            int n;
            for (o = c0; o < c1; o++) {
                float acc = 0.0f;
                for (n = 0; n < J->N; n++) {
                    const float *dyr = J->dy + ((long)n * J->Cout + o) * J->Lout;
                    for (l = 0; l < J->Lout; l++)
                        acc = acc + dyr[l];
                }
                J->db[o] = J->db[o] + acc;
            }
        }
    }
}

static void dw_task(void *arg, int task)
{
    const bwd_job *J = (const bwd_job *)arg;
    const long fan = (long)J->Cin * J->K, per = (long)J->nft * J->K;
    long u, u0, u1;
    task_range(J->units, J->ntasks, task, &u0, &u1);
    for (u = u0; u < u1; u++) {
        const long ob = u / per, ig = u % per / J->K, i0 = ig * TF;
        const int k = (int)(u % J->K), ni = J->Cin - i0 < TF ? (int)(J->Cin - i0) : TF;
        dw_tile(J->dw + ob * VL * fan, fan, J->x, J->scratch + ob * J->N * J->Lout * VL, J->N, J->Cin, J->Lin,
                J->Lout, J->K, J->stride, J->pad, i0, ni, k);
    }
}

void ggdm_conv1d_backward_ex(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N,
                             int Cin, int Lin, int Cout, int K, int stride, int pad, float *scratch,
                             const ggdm_exec *ex)
{
    bwd_job J;
    int Lout = ggdm_conv1d_out_len(Lin, K, stride, pad);
    if (N <= 0 || Cin <= 0 || Cout <= 0 || Lout <= 0)
        return;
    if (!scratch) {
        ggdm_conv1d_backward(dx, dw, db, dy, x, w, N, Cin, Lin, Cout, K, stride, pad);
        return;
    }
    J.dx = dx;
    J.dw = dw;
    J.db = db;
    J.dy = dy;
    J.x = x;
    J.w = w;
    J.scratch = scratch;
    J.N = N;
    J.Cin = Cin;
    J.Lin = Lin;
    J.Cout = Cout;
    J.K = K;
    J.stride = stride;
    J.pad = pad;
    J.Lout = Lout;
    J.nob = Cout / VL;
    J.nib = Cin / VL;
    J.nft = (Cin + TF - 1) / TF;
    if (dw || db) {
        /* dy panels transposed, dw rows beyond the panels, db */
        J.units = (dw ? Cout - J.nob * VL + J.nob : 0) + (db ? (Cout + VL - 1) / VL : 0);
        J.ntasks = task_count(ex, J.units);
        ggdm_exec_run(ex, dw_pre_task, &J, J.ntasks);
        if (dw && J.nob > 0) {
            J.units = (long)J.nob * J.nft * K;
            J.ntasks = task_count(ex, J.units);
            ggdm_exec_run(ex, dw_task, &J, J.ntasks);
        }
    }
    if (dx) {
        /* the scratch now holds the dx panels of w */
        J.ntasks = task_count(ex, J.nib);
        ggdm_exec_run(ex, dx_pack_task, &J, J.ntasks);
        J.units = (long)N * J.nib + (J.nib * VL < Cin ? N : 0);
        J.ntasks = task_count(ex, J.units);
        ggdm_exec_run(ex, dx_task, &J, J.ntasks);
    }
}

void ggdm_conv1d_backward_s(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N,
                            int Cin, int Lin, int Cout, int K, int stride, int pad, float *scratch)
{
    ggdm_conv1d_backward_ex(dx, dw, db, dy, x, w, N, Cin, Lin, Cout, K, stride, pad, scratch, NULL);
}

/* ------------------------------------------------------------------ Conv2d */

size_t ggdm_conv2d_scratch_floats(const ggdm_conv2d_dims *d)
{
    int Ho, Wo;
    size_t wsz, dsz;
    if (!ggdm_conv2d_out(d, &Ho, &Wo) || d->KH < 1 || d->KW < 1)
        return 0;
    wsz = (size_t)d->Cout * (size_t)d->C * (size_t)d->KH * (size_t)d->KW;
    dsz = (size_t)d->N * (size_t)d->Cout * (size_t)Ho * (size_t)Wo;
    return wsz > dsz ? wsz : dsz;
}

void ggdm_conv2d_forward_ex(float *y, const float *x, const float *w, const float *b, const ggdm_conv2d_dims *d,
                            float *scratch, const ggdm_exec *ex)
{
    (void)scratch;
    (void)ex;
    ggdm_conv2d_forward(y, x, w, b, d);
}

void ggdm_conv2d_backward_ex(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                             const ggdm_conv2d_dims *d, float *scratch, const ggdm_exec *ex)
{
    (void)scratch;
    (void)ex;
    ggdm_conv2d_backward(dx, dw, db, dy, x, w, d);
}
