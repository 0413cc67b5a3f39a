// gpu/ops/conv.cu - CONV (ggdm/ops.def; ref/src/ops/conv.c): the 1-D and 2-D convolution.
//  - exact mode: one thread per output element calling ggdm/elem.h's conv1d element functions
//    (the kernels k_conv1d_*_<output>, in elem.h's launch order);
//  - fast mode: cuBLAS products on per-sample (strided batch) or whole-batch columns, split-K
//    for the deep levels, the bias gradient by the exact element kernel.
// The call record maps onto the layer arguments as the reference's driver does: N = a.N,
// Cin = a.C, Lin = a.W, Cout = a.Cout, K = a.KW, stride = a.sw, pad = a.pw; x = in[0],
// w = in[1], b = in[2] (may be NULL); VJP dx = din[0], dw = din[1], db = din[2], dy = dout.
// 2-D convolutions (H, KH > 1 or ph > 0): the exact mode launches ggdm/elem/conv2d.h's element
// functions (k_conv2d_*_<output>; call record N, C, H, W, Cout, KH, KW, sh, sw, ph, pw as they
// are); the fast mode does not run them yet (cuda_supports refuses them in gpu/backend_cuda.cu,
// and a call records a failure).
#include "cuda_ctx.h"

#include "ggdm/elem/conv2d.h"

// ------------------------------------------------------------------ exact element kernels

#define SIG_conv1d_forward \
    (float *y, const float *x, const float *w, const float *b, int N, int Cin, int Lin, int Cout, int K, int stride, int pad)
#define ARG_conv1d_forward (y, x, w, b, N, Cin, Lin, Cout, K, stride, pad)
#define SIZ_conv1d_forward (N, Cin, Lin, Cout, K, stride, pad)

#define SIG_conv1d_backward                                                                                       \
    (float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N, int Cin, int Lin, \
     int Cout, int K, int stride, int pad)
#define ARG_conv1d_backward (dx, dw, db, dy, x, w, N, Cin, Lin, Cout, K, stride, pad)
#define SIZ_conv1d_backward (N, Cin, Lin, Cout, K, stride, pad)

ELEM_KERNELS(conv1d_forward)
ELEM_KERNELS(conv1d_backward)
EXACT_OP(conv1d_forward)
EXACT_OP(conv1d_backward)

#define SIG_conv2d_forward                                                                                        \
    (float *y, const float *x, const float *w, const float *b, int N, int C, int H, int W, int Cout, int KH, int KW, \
     int sh, int sw, int ph, int pw)
#define ARG_conv2d_forward (y, x, w, b, N, C, H, W, Cout, KH, KW, sh, sw, ph, pw)
#define SIZ_conv2d_forward (N, C, H, W, Cout, KH, KW, sh, sw, ph, pw)

#define SIG_conv2d_backward                                                                                       \
    (float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N, int C, int H, int W, \
     int Cout, int KH, int KW, int sh, int sw, int ph, int pw)
#define ARG_conv2d_backward (dx, dw, db, dy, x, w, N, C, H, W, Cout, KH, KW, sh, sw, ph, pw)
#define SIZ_conv2d_backward (N, C, H, W, Cout, KH, KW, sh, sw, ph, pw)

ELEM_KERNELS(conv2d_forward)
ELEM_KERNELS(conv2d_backward)
EXACT_OP(conv2d_forward)
EXACT_OP(conv2d_backward)

// ------------------------------------------------------------------ fast mode

// Fast Conv1d, two layouts of the columns (GGDM_CUDA_CONV picks; see conv_batched below):
//
// "cols": one GEMM per convolution over the whole batch, the columns of all samples side by
// side (P = N*Lout of them):
//   col [CK, P]:  col[(i*K + k)*P + n*Lout + l] = x[n, i, l*stride + k - pad] (0 outside)
//   forward:      Y [Cout, P] = w [Cout, CK] col;           y[n, o, l] = Y[o, n*Lout + l] (+ b[o])
//   backward dx:  dY [Cout, P] from dy; dcol [CK, P] = w^T dY; dx += col2im(dcol)
//   backward dw:  dw [Cout, CK] += dY col^T                  (one GEMM instead of N)
// "batched": the columns per sample, so that the products read and write the NCL tensors
// themselves (a strided batch of N products, w shared): no layout kernels around the GEMMs:
//   col_n [CK, Lout]: col[(n*CK + i*K + k)*Lout + l] (for K = 1, stride 1, pad 0: x_n itself)
//   forward:      y_n [Cout, Lout] = w col_n + y_n, y prefilled with the bias (by the im2col launch)
//   backward dx:  dcol_n = w^T dy_n; dx += col2im(dcol)       (K = 1, stride 1: dx_n += w^T dy_n)
//   backward dw:  the "cols" path (a sum over the batch: one GEMM)
// Index arithmetic in 32 bits where the sizes allow (64-bit division is slow on the GPU).
template <typename I>
__global__ void k_im2col(float *col, const float *x, int N, int Cin, int Lin, int K, int stride, int pad, int Lout)
{
    I P = (I)N * Lout, total = (I)Cin * K * P;
    I i = (I)blockIdx.x * blockDim.x + threadIdx.x, step = (I)gridDim.x * blockDim.x;
    for (; i < total; i += step) {
        I pc = i % P, r = i / P; // r = ci*K + k
        int n = (int)(pc / Lout), l = (int)(pc % Lout), k = (int)(r % K), ci = (int)(r / K);
        int pos = l * stride + k - pad;
        col[i] = pos >= 0 && pos < Lin ? x[((I)n * Cin + ci) * Lin + pos] : 0.0f;
    }
}

// y[n, o, l] = Y[o, n*L + l] (+ b[o]); with S > 1 split-K partial products Y_s = Y + s*C*P,
// summed in order of s first
template <typename I>
__global__ void k_cols_to_ncl(float *y, const float *Y, const float *b, int N, int C, int L, int S)
{
    I P = (I)N * L, total = (I)C * P;
    I i = (I)blockIdx.x * blockDim.x + threadIdx.x, step = (I)gridDim.x * blockDim.x;
    int s;
    for (; i < total; i += step) {
        int l = (int)(i % L), o = (int)((i / L) % C);
        I n = i / ((I)L * C), a = (I)o * P + n * L + l;
        float v = Y[a];
        for (s = 1; s < S; s++)
            v = v + Y[a + (I)s * total];
        y[i] = b ? v + b[o] : v;
    }
}

// Y[o, n*L + l] = y[n, o, l]
template <typename I>
__global__ void k_ncl_to_cols(float *Y, const float *y, int N, int C, int L)
{
    I P = (I)N * L, total = (I)C * P;
    I i = (I)blockIdx.x * blockDim.x + threadIdx.x, step = (I)gridDim.x * blockDim.x;
    for (; i < total; i += step) {
        int l = (int)(i % L), o = (int)((i / L) % C);
        I n = i / ((I)L * C);
        Y[(I)o * P + n * L + l] = y[i];
    }
}

// dx[n, ci, pos] += sum over k of dcol[ci*K + k, column (n, l)] where l*stride = pos + pad - k;
// the column (n, l) of sample n's row r is at dcol[(r*P + n*Lout + l] ("cols", rs = P, ns = Lout)
// or dcol[(n*CK + r)*Lout + l] ("batched", rs = Lout, ns = CK*Lout).
template <typename I>
__global__ void k_col2im_add(float *dx, const float *dcol, int N, int Cin, int Lin, int K, int stride, int pad,
                             int Lout, I rs, I ns, int fresh, int S, I ps)
{
    I total = (I)N * Cin * Lin;
    I i = (I)blockIdx.x * blockDim.x + threadIdx.x, step = (I)gridDim.x * blockDim.x;
    for (; i < total; i += step) {
        int pos = (int)(i % Lin), ci = (int)((i / Lin) % Cin), k;
        I n = i / ((I)Lin * Cin);
        float acc = 0.0f;
        for (k = 0; k < K; k++) {
            int q = pos + pad - k;
            if (q < 0 || q % stride)
                continue;
            q /= stride;
            if (q < Lout) {
                I a = ((I)ci * K + k) * rs + n * ns + q;
                float v = dcol[a];
                int t;
                for (t = 1; t < S; t++) // split-K partials (ps apart), in order
                    v = v + dcol[a + (I)t * ps];
                acc = acc + v;
            }
        }
        dx[i] = fresh ? acc : dx[i] + acc; // fresh: dx was to be zeroed (zero_take)
    }
}

// "batched" forward's columns, col[(n*CK + ci*K + k)*Lout + l] (unless col is NULL), and
// y[n, o, l] = b[o] (unless b is NULL), in one launch over the larger of the two.
template <typename I>
__global__ void k_im2col_bias(float *col, float *y, const float *b, const float *x, int N, int Cin, int Lin, int K,
                              int stride, int pad, int Lout, int Cout)
{
    I ncol = col ? (I)N * Cin * K * Lout : 0, ny = b ? (I)N * Cout * Lout : 0, total = ncol > ny ? ncol : ny;
    I i = (I)blockIdx.x * blockDim.x + threadIdx.x, step = (I)gridDim.x * blockDim.x;
    for (; i < total; i += step) {
        if (i < ncol) {
            int l = (int)(i % Lout);
            I r = i / Lout; // n*CK + ci*K + k
            int k = (int)(r % K);
            I nci = r / K; // n*Cin + ci
            int pos = l * stride + k - pad;
            col[i] = pos >= 0 && pos < Lin ? x[nci * Lin + pos] : 0.0f;
        }
        if (i < ny)
            y[i] = b[(i / Lout) % Cout];
    }
}


// tiles (the deep levels: 512 x 256 outputs are 8 tiles of 128 x 128 on 132 SMs) the product
// runs as S products over K/S each (one strided-batched call, S*M*Nc partial outputs), and
// the layout kernel after it (cols_to_ncl, col2im) sums the partials in order of s: more
// blocks, no extra launch. S in {8, 4, 2}, K/S >= 128, at most 264 tiles in all; 1 when the
// product already has 66 tiles, K < 512, or GGDM_CUDA_SPLITK=0. (The input gradient's
// product only: a training step's backward keeps one product.)
static int split_k(ggdm_cuda_ctx *cx, long long M, long long Nc, long long K)
{
    long long tiles = ((M + 127) / 128) * ((Nc + 127) / 128);
    int S;
    if (cx->no_splitk || tiles >= 66 || K < 512)
        return 1;
    for (S = 8; S > 1; S /= 2)
        if (K % S == 0 && K / S >= 128 && tiles * S <= 264)
            return S;
    return 1;
}

// The layout of a convolution's columns. "batched" (per sample) saves two layout launches, but
// a short output makes narrow per-sample products: measured on an H200 (docs/performance.md),
// it is faster from Lout = 32 up, and at Lout = 16 for small weights (Cout*Cin*K <= 65536),
// "cols" otherwise. GGDM_CUDA_CONV=cols|batched forces one; GGDM_CUDA_CONV_MINL=L uses
// "batched" from Lout = L up.
static int conv_batched(ggdm_cuda_ctx *cx, int Lout, int Cout, int CK)
{
    if (cx->conv_min_l >= 0)
        return Lout >= cx->conv_min_l;
    return Lout >= 32 || (Lout >= 16 && (long long)Cout * CK <= 65536);
}

void f_conv1d_forward(ggdm_cuda_ctx *cx, float *y, const float *x, const float *w, const float *b, int N, int Cin, int Lin,
                             int Cout, int K, int stride, int pad)
{
    int Lout = ggdm_elem_conv1d_out_len(Lin, K, stride, pad), CK = Cin * K;
    long long P = (long long)N * Lout, ncol = (long long)CK * P, ny = (long long)Cout * P;
    long long big = (ncol > ny ? ncol : ny) + (long long)N * Cin * Lin;
    float *col, *Y;
    int S;
    if (cx->failed || N <= 0 || Cin <= 0 || Cout <= 0 || Lout <= 0)
        return;
    w = ws_resolve(cx, w); // a cached weight standardisation (see ws_resolve)
    // the side stream's pending Linear forwards may still run: join them first when this
    // convolution's ranges touch theirs (the arena is reused: any address may come back)
    if (side_conflict(cx, x, (size_t)N * Cin * Lin, 0) || side_conflict(cx, w, (size_t)Cout * CK, 0) ||
        (b && side_conflict(cx, b, (size_t)Cout, 0)) || side_conflict(cx, y, (size_t)ny, 1))
        side_join(cx);
    prof_enter(cx);
    if (conv_batched(cx, Lout, Cout, CK)) {
        int direct = K == 1 && stride == 1 && pad == 0; // the columns are x itself
        col = NULL;
        if (!direct && !(col = scratch_floats(cx, (size_t)ncol)))
            return;
        if (col || b) {
            LAUNCH_I(cx, k_im2col_bias, col ? (ncol > ny ? ncol : ny) : ny, big, col, y, b, x, N, Cin, Lin, K, stride,
                     pad, Lout, Cout);
            if (ck_launch(cx, col ? "kernel im2col (per sample, + bias)" : "kernel bias (per sample)"))
                return;
        }
        gemm_rm_batched(cx, 0, 0, Cout, Lout, CK, w, CK, 0, direct ? x : col, Lout, direct ? (long long)Cin * Lin : (long long)CK * Lout,
                        b ? 1.0f : 0.0f, y, Lout, (long long)Cout * Lout, N, "fast conv1d_forward: sgemm batched");
        return;
    }
    S = split_k(cx, Cout, P, CK);
    if (!(col = scratch_floats(cx, (size_t)(ncol + S * ny))))
        return;
    Y = col + ncol;
    LAUNCH_I(cx, k_im2col, ncol, big, col, x, N, Cin, Lin, K, stride, pad, Lout);
    if (ck_launch(cx, "kernel im2col"))
        return;
    if (S > 1) { // Y_s [Cout, P] = w[:, s*Kc : (s+1)*Kc] col[s*Kc : (s+1)*Kc, :]
        int Kc = CK / S;
        if (gemm_rm_batched(cx, 0, 0, Cout, (int)P, Kc, w, CK, Kc, col, (int)P, (long long)Kc * P, 0.0f, Y, (int)P, ny, S,
                            "fast conv1d_forward: sgemm split-K"))
            return;
    } else if (gemm_rm(cx, 0, 0, Cout, (int)P, CK, w, CK, col, (int)P, 0.0f, Y, (int)P, "fast conv1d_forward: sgemm")) {
        return;
    }
    LAUNCH_I(cx, k_cols_to_ncl, ny, ny * S, y, Y, b, N, Cout, Lout, S);
    ck_launch(cx, "kernel cols_to_ncl (+ bias)");
}

void f_conv1d_backward(ggdm_cuda_ctx *cx, float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                              int N, int Cin, int Lin, int Cout, int K, int stride, int pad)
{
    int Lout = ggdm_elem_conv1d_out_len(Lin, K, stride, pad), CK = Cin * K;
    long long P = (long long)N * Lout, ncol = (long long)CK * P, ny = (long long)Cout * P;
    long long big = (ncol > ny ? ncol : ny) + (long long)N * Cin * Lin;
    float *dY, *col;
    int fresh, S = 1;
    if (cx->failed || N <= 0 || Cin <= 0 || Cout <= 0 || Lout <= 0)
        return; // (a pending zero stays pending: the next operation makes it)
    w = ws_resolve(cx, w); // a cached weight standardisation (see ws_resolve)
    // dx was just to be zeroed: write the sums instead of adding them (one memset fewer)
    fresh = dx ? zero_take(cx, dx, (size_t)N * Cin * Lin) : (zero_flush(cx), 0);
    prof_enter(cx);
    if (dx && !dw && conv_batched(cx, Lout, Cout, CK)) { // the input's gradient only (a guided step's VJP)
        if (K == 1 && stride == 1 && pad == 0) {
            // dx_n [Cin, L] += w^T [Cin, Cout] dy_n [Cout, L]
            if (gemm_rm_batched(cx, 1, 0, Cin, Lout, Cout, w, CK, 0, dy, Lout, (long long)Cout * Lout, fresh ? 0.0f : 1.0f, dx, Lout,
                                (long long)Cin * Lout, N, "fast conv1d_backward dx: sgemm batched"))
                return;
        } else {
            if (!(col = scratch_floats(cx, (size_t)ncol)))
                return;
            if (gemm_rm_batched(cx, 1, 0, CK, Lout, Cout, w, CK, 0, dy, Lout, (long long)Cout * Lout, 0.0f, col, Lout,
                                (long long)CK * Lout, N, "fast conv1d_backward dcol: sgemm batched"))
                return;
            LAUNCH_I(cx, k_col2im_add, (long long)N * Cin * Lin, big, dx, col, N, Cin, Lin, K, stride, pad, Lout, Lout,
                     CK * Lout, fresh, 1, 0);
            if (ck_launch(cx, "kernel col2im (per sample)"))
                return;
        }
    } else if ((dx || dw) && (S = dw ? 1 : split_k(cx, CK, P, Cout), dY = scratch_floats(cx, (size_t)(ny + S * ncol)))) {
        col = dY + ny; // dcol for dx (S split-K partials), then the columns of x for dw
        LAUNCH_I(cx, k_ncl_to_cols, ny, ny, dY, dy, N, Cout, Lout);
        if (ck_launch(cx, "kernel ncl_to_cols"))
            return;
        if (dx) {
            if (S > 1) { // dcol_s [CK, P] = w[s*Kc : (s+1)*Kc, :]^T dY[s*Kc : (s+1)*Kc, :]
                int Kc = Cout / S;
                if (gemm_rm_batched(cx, 1, 0, CK, (int)P, Kc, w, CK, (long long)Kc * CK, dY, (int)P, (long long)Kc * P,
                                    0.0f, col, (int)P, ncol, S, "fast conv1d_backward dcol: sgemm split-K"))
                    return;
            } else if (gemm_rm(cx, 1, 0, CK, (int)P, Cout, w, CK, dY, (int)P, 0.0f, col, (int)P,
                               "fast conv1d_backward dcol: sgemm")) {
                return;
            }
            LAUNCH_I(cx, k_col2im_add, (long long)N * Cin * Lin, big + (S - 1) * ncol, dx, col, N, Cin, Lin, K, stride,
                     pad, Lout, P, Lout, fresh, S, ncol);
            if (ck_launch(cx, "kernel col2im"))
                return;
        }
        if (dw) {
            LAUNCH_I(cx, k_im2col, ncol, big, col, x, N, Cin, Lin, K, stride, pad, Lout);
            if (ck_launch(cx, "kernel im2col"))
                return;
            if (gemm_rm(cx, 0, 1, Cout, CK, (int)P, dY, (int)P, col, (int)P, 1.0f, dw, CK,
                        "fast conv1d_backward dw: sgemm"))
                return;
        }
    }
    if (db) // the exact element kernel (one chain per channel)
        l_conv1d_backward_db(cx, dx, dw, db, dy, x, w, N, Cin, Lin, Cout, K, stride, pad);
}

// Linear forward, tiled: y[n, o] = (chain over i of fmaf(W[o,i], x[n,i], acc)) [+ b[o]], the
// reference's chain (ggdm_elem_linear_forward_y) in order of i, so the reference's bits, with
// 32 x 32 tiles of W and x staged in shared memory (coalesced loads; the element kernel's
// thread-per-output reads of W rows are not): block = 32 outputs o x 32 rows n, 256 threads of
// 4 outputs each. Exact mode uses it; fast mode uses cuBLAS (GGDM_CUDA_LINEAR=tiled: this
// kernel; it is slower there, and the reference's bits in the time MLP move pretrain.short's

// ------------------------------------------------------------------ the op

// 1: the 1-D case (ggdm/elem.h's conv1d chains, the fast mode's cuBLAS paths); 0: 2-D
static int conv_is_1d(const ggdm_op_attr *a)
{
    return a->H == 1 && a->KH == 1 && a->ph == 0;
}

// 0 (a recorded failure) for what the mode does not run: 2-D in the fast mode
static int conv_ok(ggdm_cuda_ctx *cx, const ggdm_op_attr *a)
{
    if (!conv_is_1d(a) && cx->mode == GGDM_CUDA_FAST) {
        cuda_unsupported(cx, "conv", "a 2-D convolution (H, KH > 1 or ph > 0) in the fast mode (the exact mode runs it)");
        return 0;
    }
    return 1;
}

extern "C" void ggdm_cuda_conv_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    const ggdm_op_attr *a = &c->a;
    if (cx->failed || !conv_ok(cx, a))
        return;
    // recorded in graph mode (the executor is not an argument: a caller's stack address would
    // make otherwise equal tapes differ)
    if (!conv_is_1d(a))
        tape_or_run(cx, x_conv2d_forward, c->out, c->in[0], c->in[1], c->in[2], a->N, a->C, a->H, a->W, a->Cout,
                    a->KH, a->KW, a->sh, a->sw, a->ph, a->pw);
    else if (cx->mode == GGDM_CUDA_FAST)
        tape_or_run(cx, f_conv1d_forward, c->out, c->in[0], c->in[1], c->in[2], a->N, a->C, a->W, a->Cout, a->KW,
                    a->sw, a->pw);
    else
        tape_or_run(cx, x_conv1d_forward, c->out, c->in[0], c->in[1], c->in[2], a->N, a->C, a->W, a->Cout, a->KW,
                    a->sw, a->pw);
}

extern "C" void ggdm_cuda_conv_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    const ggdm_op_attr *a = &c->a;
    if (cx->failed || !conv_ok(cx, a) || (!c->din[0] && !c->din[1] && !c->din[2]))
        return;
    if (!conv_is_1d(a))
        tape_or_run(cx, x_conv2d_backward, c->din[0], c->din[1], c->din[2], c->dout, c->in[0], c->in[1], a->N, a->C,
                    a->H, a->W, a->Cout, a->KH, a->KW, a->sh, a->sw, a->ph, a->pw);
    else if (cx->mode == GGDM_CUDA_FAST)
        tape_or_run(cx, f_conv1d_backward, c->din[0], c->din[1], c->din[2], c->dout, c->in[0], c->in[1], a->N, a->C,
                    a->W, a->Cout, a->KW, a->sw, a->pw);
    else
        tape_or_run(cx, x_conv1d_backward, c->din[0], c->din[1], c->din[2], c->dout, c->in[0], c->in[1], a->N, a->C,
                    a->W, a->Cout, a->KW, a->sw, a->pw);
}
