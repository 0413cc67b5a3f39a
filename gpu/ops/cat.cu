// gpu/ops/cat.cu - CAT (ggdm/ops.def; ref/src/ops/cat.c): channel concatenation per sample,
// a [N, C, P] and b [N, C2, P] (P = H W) -> y [N, C + C2, P]; VJP da += dy's a part,
// db += dy's b part (each only when wanted).
//  - exact mode: ggdm/elem/cat.h's element functions, one thread per element;
//  - fast mode: the strided row copies and row additions (what were the backend's copy_rows
//    and add_rows: one 2-D copy or one launch per input; GGDM_CUDA_ROWS=0: row by row).
// Both are the same bits (copies, and one addition per element).
#include "cuda_ctx.h"

#include "ggdm/elem/cat.h"

#define SIG_cat_forward (float *y, const float *a, const float *b, int N, int Ca, int Cb, long P)
#define ARG_cat_forward (y, a, b, N, Ca, Cb, P)
#define SIZ_cat_forward (N, Ca, Cb, P)
#define SIG_cat_backward (float *da, float *db, const float *dy, int N, int Ca, int Cb, long P)
#define ARG_cat_backward (da, db, dy, N, Ca, Cb, P)
#define SIZ_cat_backward (N, Ca, Cb, P)

ELEM_KERNELS(cat_forward)
ELEM_KERNELS(cat_backward)
EXACT_OP(cat_forward)
EXACT_OP(cat_backward)

// ------------------------------------------------------------------ fast mode: rows

// dst[r*ds + j] = dst[r*ds + j] + src[r*ss + j]
template <typename I>
__global__ void k_add_rows(float *dst, I ds, const float *src, I ss, I rows, I cols)
{
    I total = rows * cols, i = (I)blockIdx.x * blockDim.x + threadIdx.x;
    I step = (I)gridDim.x * blockDim.x;
    for (; i < total; i += step) {
        I r = i / cols, j = i % cols;
        dst[r * ds + j] = dst[r * ds + j] + src[r * ss + j];
    }
}

static void cu_copy_rows(ggdm_cuda_ctx *cx, float *dst, size_t dst_stride, const float *src, size_t src_stride, size_t rows,
                         size_t cols)
{
    prof_scope ps_(cx, "copy_rows");
    if (cx->failed || rows == 0 || cols == 0)
        return;
    if (cx->rows_loop) {
        size_t r;
        for (r = 0; r < rows && !cx->failed; r++)
            ck(cx, cudaMemcpyAsync(dst + r * dst_stride, src + r * src_stride, cols * sizeof(float),
                               cudaMemcpyDeviceToDevice, cx->stream),
               "copy_rows (row by row)");
        return;
    }
    ck(cx, cudaMemcpy2DAsync(dst, dst_stride * sizeof(float), src, src_stride * sizeof(float), cols * sizeof(float), rows,
                         cudaMemcpyDeviceToDevice, cx->stream),
       "copy_rows");
}

static void cu_add_rows(ggdm_cuda_ctx *cx, float *dst, size_t dst_stride, const float *src, size_t src_stride, size_t rows,
                        size_t cols)
{
    long long n = (long long)rows * (long long)cols;
    if (cx->failed || n <= 0)
        return;
    prof_enter(cx);
    LAUNCH_I(cx, k_add_rows, n, (long long)rows * (long long)(dst_stride > src_stride ? dst_stride : src_stride) + (long long)cols,
             dst, (long long)dst_stride, src, (long long)src_stride, (long long)rows, (long long)cols);
    ck_launch(cx, "kernel add_rows");
}


// ------------------------------------------------------------------ the op

extern "C" void ggdm_cuda_cat_fwd(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    const ggdm_op_attr *a = &c->a;
    long P = (long)a->H * a->W;
    size_t na = (size_t)a->C * (size_t)P, nb = (size_t)a->C2 * (size_t)P;
    if (cx->failed)
        return;
    if (cx->mode == GGDM_CUDA_FAST) {
        tape_or_run(cx, cu_copy_rows, c->out, na + nb, c->in[0], na, (size_t)a->N, na);
        tape_or_run(cx, cu_copy_rows, c->out + na, na + nb, c->in[1], nb, (size_t)a->N, nb);
    } else {
        tape_or_run(cx, x_cat_forward, c->out, c->in[0], c->in[1], a->N, a->C, a->C2, P);
    }
}

extern "C" void ggdm_cuda_cat_vjp(void *ctx, const ggdm_op_call *c)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    const ggdm_op_attr *a = &c->a;
    long P = (long)a->H * a->W;
    size_t na = (size_t)a->C * (size_t)P, nb = (size_t)a->C2 * (size_t)P;
    if (cx->failed || (!c->din[0] && !c->din[1]))
        return;
    if (cx->mode == GGDM_CUDA_FAST) {
        if (c->din[0])
            tape_or_run(cx, cu_add_rows, c->din[0], na, c->dout, na + nb, (size_t)a->N, na);
        if (c->din[1])
            tape_or_run(cx, cu_add_rows, c->din[1], nb, c->dout + na, na + nb, (size_t)a->N, nb);
    } else {
        tape_or_run(cx, x_cat_backward, c->din[0], c->din[1], c->dout, a->N, a->C, a->C2, P);
    }
}
