// gpu/ops/linear.cu - LINEAR (ggdm/ops.def; ref/src/ops/linear.c): y [N, Out] = x W^T + b.
//  - exact mode: the tiled forward kernel (the reference's chain over the inputs;
//    GGDM_CUDA_LINEAR=elem: the element kernel), the element kernels for the VJP;
//  - fast mode: cuBLAS products (the forward on the side stream when there is one), the bias
//    gradient by the exact element kernel.
// Call record: N = a.N, In = a.C, Out = a.Cout; x = in[0], W = in[1], b = in[2] (may be NULL);
// VJP dx = din[0], dW = din[1], db = din[2], dy = dout.
#include "cuda_ctx.h"

// ------------------------------------------------------------------ exact element kernels

#define SIG_linear_forward (float *y, const float *x, const float *W, const float *b, int N, int In, int Out)
#define ARG_linear_forward (y, x, W, b, N, In, Out)
#define SIZ_linear_forward (N, In, Out)

#define SIG_linear_backward \
    (float *dx, float *dW, float *db, const float *dy, const float *x, const float *W, int N, int In, int Out)
#define ARG_linear_backward (dx, dW, db, dy, x, W, N, In, Out)
#define SIZ_linear_backward (N, In, Out)

ELEM_KERNELS(linear_forward)
ELEM_KERNELS(linear_backward)
EXACT_OP(linear_forward)
EXACT_OP(linear_backward)

// ------------------------------------------------------------------ fast mode

// y[(r * inner) + l] += b[r % C] for r over rows, l < inner (Linear's bias: inner = 1)
template <typename I>
__global__ void k_add_bias(float *y, const float *b, I rows, int C, int inner)
{
    I total = rows * inner, i = (I)blockIdx.x * blockDim.x + threadIdx.x;
    I step = (I)gridDim.x * blockDim.x;
    for (; i < total; i += step)
        y[i] = y[i] + b[(i / inner) % C];
}



// one Adam-amplified element out of its tolerance: docs/conformance.md).
#define LIN_T 32
__global__ void __launch_bounds__(256)
k_linear_fwd_tiled(float *y, const float *x, const float *W, const float *b, int N, int In, int Out)
{
    __shared__ float Ws[LIN_T][LIN_T + 1], Xs[LIN_T][LIN_T + 1];
    int o0 = blockIdx.x * LIN_T, n0 = blockIdx.y * LIN_T, tid = threadIdx.x, to = tid % LIN_T, tn = tid / LIN_T;
    int i0, k, j, r;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (i0 = 0; i0 < In; i0 += LIN_T) {
        int m = In - i0 < LIN_T ? In - i0 : LIN_T;
        for (r = tid; r < LIN_T * LIN_T; r += 256) {
            int row = r / LIN_T, col = r % LIN_T;
            Ws[row][col] = o0 + row < Out && col < m ? W[(long long)(o0 + row) * In + i0 + col] : 0.0f;
            Xs[row][col] = n0 + row < N && col < m ? x[(long long)(n0 + row) * In + i0 + col] : 0.0f;
        }
        __syncthreads();
        for (k = 0; k < m; k++) {
            float w = Ws[to][k];
            for (j = 0; j < 4; j++)
                acc[j] = fmaf(w, Xs[tn + 8 * j][k], acc[j]);
        }
        __syncthreads();
    }
    for (j = 0; j < 4; j++) {
        int n = n0 + tn + 8 * j, o = o0 + to;
        if (n < N && o < Out)
            y[(long long)n * Out + o] = b ? acc[j] + b[o] : acc[j];
    }
}

static void tiled_linear_forward(ggdm_cuda_ctx *cx, float *y, const float *x, const float *W, const float *b, int N, int In, int Out)
{
    if (cx->failed || ggdm_elem_linear_forward_y_count(N, In, Out) <= 0)
        return;
    prof_enter(cx);
    k_linear_fwd_tiled<<<dim3((unsigned)((Out + LIN_T - 1) / LIN_T), (unsigned)((N + LIN_T - 1) / LIN_T)), 256, 0,
                         cx->stream>>>(y, x, W, b, N, In, Out);
    ck_launch(cx, "kernel linear_forward (tiled)");
}

// Exact mode's Linear forward: the tiled kernel (GGDM_CUDA_LINEAR=elem: the element kernel).
static void e_linear_forward(ggdm_cuda_ctx *cx, float *y, const float *x, const float *W, const float *b, int N, int In, int Out)
{
    if (cx->linear_alt)
        x_linear_forward(cx, y, x, W, b, N, In, Out);
    else
        tiled_linear_forward(cx, y, x, W, b, N, In, Out);
}

void f_linear_forward(ggdm_cuda_ctx *cx, float *y, const float *x, const float *W, const float *b, int N, int In, int Out)
{
    if (cx->linear_alt) {
        side_join(cx); // on the main stream: after the side's pending work (see side_conflict)
        tiled_linear_forward(cx, y, x, W, b, N, In, Out);
        return;
    }
    prof_enter(cx);
    if (cx->failed || N <= 0 || In <= 0 || Out <= 0)
        return;
    if (cx->side && !cx->no_side && cx->n_side + 4 <= NSIDE) {
        // on the side stream, after everything cx->stream has queued (x is ready); the product
        // as cuBLAS computes it on cx->stream (the same call), then the bias
        if (ck(cx, cudaEventRecord(cx->ev_fork, cx->stream), "side: fork") ||
            ck(cx, cudaStreamWaitEvent(cx->side, cx->ev_fork, 0), "side: fork") ||
            sgemm_rm(cx, cx->blas2, 0, 1, N, Out, In, x, In, W, In, 0.0f, y, Out, "fast linear_forward (side stream): sgemm"))
            return;
        if (b) {
            LAUNCH_I_ON(cx->side, k_add_bias, (long long)N * Out, (long long)N * Out, y, b, (long long)N * Out, Out, 1);
            if (ck_launch(cx, "kernel linear bias (side stream)"))
                return;
        }
        // what it writes and reads: the main stream's operations that do not join first
        // check their ranges against these (side_conflict)
        side_note(cx, y, (size_t)N * (size_t)Out, 1);
        side_note(cx, x, (size_t)N * (size_t)In, 0);
        side_note(cx, W, (size_t)Out * (size_t)In, 0);
        if (b)
            side_note(cx, b, (size_t)Out, 0);
        cx->side_pending = 1;
        return;
    }
    side_join(cx); // on the main stream: after the side's pending work
    // y [N, Out] = x [N, In] W^T [In, Out]
    if (gemm_rm(cx, 0, 1, N, Out, In, x, In, W, In, 0.0f, y, Out, "fast linear_forward: sgemm"))
        return;
    if (b) {
        LAUNCH_I(cx, k_add_bias, (long long)N * Out, (long long)N * Out, y, b, (long long)N * Out, Out, 1);
        ck_launch(cx, "kernel linear bias");
    }
}

static void f_linear_backward(ggdm_cuda_ctx *cx, float *dx, float *dW, float *db, const float *dy, const float *x, const float *W, int N,
                              int In, int Out)
{
    prof_enter(cx);
    if (cx->failed || N <= 0 || In <= 0 || Out <= 0)
        return;
    // dx [N, In] += dy [N, Out] W [Out, In]
    if (dx && gemm_rm(cx, 0, 0, N, In, Out, dy, Out, W, In, 1.0f, dx, In, "fast linear_backward dx: sgemm"))
        return;
    // dW [Out, In] += dy^T [Out, N] x [N, In]
    if (dW && gemm_rm(cx, 1, 0, Out, In, N, dy, Out, x, In, 1.0f, dW, In, "fast linear_backward dW: sgemm"))
        return;
    if (db)
        l_linear_backward_db(cx, dx, dW, db, dy, x, W, N, In, Out);
}


// ------------------------------------------------------------------ the op

extern "C" void ggdm_cuda_linear_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    const ggdm_op_attr *a = &c->a;
    if (cx->failed)
        return;
    if (cx->mode == GGDM_CUDA_FAST)
        tape_or_run(cx, f_linear_forward, c->out, c->in[0], c->in[1], c->in[2], a->N, a->C, a->Cout);
    else
        tape_or_run(cx, e_linear_forward, c->out, c->in[0], c->in[1], c->in[2], a->N, a->C, a->Cout);
}

extern "C" void ggdm_cuda_linear_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    const ggdm_op_attr *a = &c->a;
    if (cx->failed || (!c->din[0] && !c->din[1] && !c->din[2]))
        return;
    if (cx->mode == GGDM_CUDA_FAST)
        tape_or_run(cx, f_linear_backward, c->din[0], c->din[1], c->din[2], c->dout, c->in[0], c->in[1], a->N, a->C,
                    a->Cout);
    else
        tape_or_run(cx, x_linear_backward, c->din[0], c->din[1], c->din[2], c->dout, c->in[0], c->in[1], a->N, a->C,
                    a->Cout);
}
