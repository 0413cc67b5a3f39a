// gpu/backend_cuda.cu - the CUDA backend of a network graph (ggdm/backend.h): instances,
// the op table, and the public functions of gpu/backend_cuda.h.
//
// The network's graph (ref/src/unet.c, run by ref/src/graph.c) runs unchanged; an instance
// supplies its memory operations (device memory, gpu/cuda_ctx.cu) and its ops (the table
// below, generated from the manifest ggdm/ops.def: ggdm_cuda_<name>_fwd/_vjp of
// gpu/ops/<name>.cu), each dispatching on the instance's mode:
//  - exact mode: one CUDA thread per output element, calling the reference's element
//    function (ggdm/elem.h, ggdm/elem/<name>.h, or its staged form, where a shared reduction
//    is stored once), so every element is computed by the same chain as on the CPU (compiled
//    with --fmad=false -ftz=false -prec-div=true -prec-sqrt=true, never fast math:
//    gpu/Makefile's NVCC_EXACT); LinearAttention (one block per head) and the Linear forward
//    (tiled) compute the same chains with shared memory;
//  - fast mode: Conv1d and Linear as cuBLAS products, block reductions for the norms, the
//    ResnetBlock activation path fused, deferred memsets, the time MLP's Linears on a second
//    stream; the rest the exact element kernels.
// Debugging switches: gpu/README.md.
#include "cuda_ctx.h"

// ------------------------------------------------------------------ the op table

static const ggdm_op_impl cuda_ops[GGDM_OP_COUNT] = {
#define GGDM_OP(NAME, name, n_in, n_cache, doc) GGDM_OP_IMPL(cuda, name)
#include "ggdm/ops.def"
#undef GGDM_OP
};

// What the ops do not run yet (ggdm_backend.supports): the planner refuses such a graph before
// anything runs, and the per-op vectors report the case as skipped. (The ops also record a
// failure if called with them anyway: gpu/ops/norm.cu.)
static int cuda_supports(void *ctx, int op, const ggdm_op_attr *a, const char **why)
{
    if (op == GGDM_OP_CONV && !(a->H == 1 && a->KH == 1 && a->ph == 0) && ((ggdm_cuda_ctx *)ctx)->mode == GGDM_CUDA_FAST) {
        if (why)
            *why = "a 2-D convolution in the fast mode (the exact mode runs it; gpu/ops/conv.cu)";
        return 0;
    }
    // ATTN: every view, causal and kind, in both modes (gpu/ops/attn.cu: the element kernels)
    return 1;
}

// ------------------------------------------------------------------ instances

// The instance the ctx-less functions of backend_cuda.h act on (the last one initialised),
// and the error of that instance once it is freed (so that it stays readable after
// shutdown): the only process-wide state of the driver (gpu/README.md).
static ggdm_cuda_ctx *default_ctx;
static int freed_failed;
static char freed_err[sizeof(((ggdm_cuda_ctx *)0)->err)];

static void ctx_free(ggdm_cuda_ctx *cx)
{
    int i;
    if (!cx)
        return;
    tape_flush(cx);
    tape_reset(cx);
    if (!cx->failed)
        ck(cx, cudaDeviceSynchronize(), "shutdown: synchronise"); // a late kernel failure is still reported
    for (i = 0; i < NPARAM_CACHE; i++)
        if (cx->prm[i].dev)
            cudaFree(cx->prm[i].dev);
    if (cx->ws)
        cudaFree(cx->ws);
    if (cx->grads)
        cudaFree(cx->grads);
    if (cx->scratch)
        cudaFree(cx->scratch);
    if (cx->att)
        cudaFree(cx->att);
    for (i = 0; i < cx->n_wsc; i++)
        cudaFree(cx->wsc[i].buf);
    lt_reset(cx);
    if (cx->blas2)
        cublasDestroy(cx->blas2);
    if (cx->blas_ws2)
        cudaFree(cx->blas_ws2);
    if (cx->ev_fork)
        cudaEventDestroy(cx->ev_fork);
    if (cx->ev_join)
        cudaEventDestroy(cx->ev_join);
    if (cx->side)
        cudaStreamDestroy(cx->side);
    if (cx->lt)
        cublasLtDestroy(cx->lt);
    if (cx->tune_buf)
        cudaFree(cx->tune_buf);
    if (cx->blas)
        cublasDestroy(cx->blas);
    if (cx->blas_ws)
        cudaFree(cx->blas_ws);
    if (cx->stream)
        cudaStreamDestroy(cx->stream);
    free(cx->host_tmp);
    if (cx->tp.staging)
        cudaFreeHost(cx->tp.staging);
    if (cx->prof.ev_made)
        for (i = 0; i <= NPROF_EV; i++)
            cudaEventDestroy(cx->prof.ev[i]);
    delete cx;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

extern "C" int ggdm_cuda_backend_init(int mode, int tf32, const ggdm_unet_backend **out, char *err, size_t errlen)
{
    int count = 0, dev = 0;
    cudaError_t e;
    cudaDeviceProp prop;
    ggdm_cuda_ctx *cx = NULL;
    cublasStatus_t s;
    const char *env;
    if (out)
        *out = NULL;
    set_err(err, errlen, "%s", "");
    if (mode != GGDM_CUDA_EXACT && mode != GGDM_CUDA_FAST) {
        set_err(err, errlen, "unknown mode %d", mode);
        return GGDM_CUDA_FAILED;
    }
    e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        set_err(err, errlen, "%s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
        return GGDM_CUDA_NO_DEVICE;
    }
    if (count < 1) {
        set_err(err, errlen, "%s", "the CUDA runtime sees no device");
        return GGDM_CUDA_NO_DEVICE;
    }
    if ((e = cudaGetDevice(&dev)) != cudaSuccess || (e = cudaGetDeviceProperties(&prop, dev)) != cudaSuccess ||
        (e = cudaFree(0)) != cudaSuccess) {
        set_err(err, errlen, "cannot use device %d: %s (%s)", dev, cudaGetErrorString(e), cudaGetErrorName(e));
        return GGDM_CUDA_NO_DEVICE;
    }
    if (!(cx = new (std::nothrow) ggdm_cuda_ctx())) { // value-initialised: every scalar zero
        set_err(err, errlen, "%s", "out of host memory");
        return GGDM_CUDA_FAILED;
    }
    cx->mode = mode;
    cx->tf32 = mode == GGDM_CUDA_FAST && tf32;
    env = getenv("GGDM_CUDA_SYNC");
    cx->sync_each = env && env[0] && strcmp(env, "0") != 0;
    env = getenv("GGDM_CUDA_STAGED");
    cx->unstaged = env && strcmp(env, "0") == 0;
    env = getenv("GGDM_CUDA_PARAMS");
    cx->trust_params = env && strcmp(env, "trust") == 0;
    env = getenv("GGDM_CUDA_WSCACHE");
    cx->no_wscache = env && strcmp(env, "0") == 0;
    env = getenv("GGDM_CUDA_PARAMS");
    cx->params_hash = env && strcmp(env, "hash") == 0;
    env = getenv("GGDM_CUDA_ROWS");
    cx->rows_loop = env && strcmp(env, "0") == 0;
    env = getenv("GGDM_CUDA_SPLITK");
    cx->no_splitk = env && strcmp(env, "0") == 0;
    env = getenv("GGDM_CUDA_WSCOPY"); // copies by default (arena reuse: see ws_resolve); =0: in-place reads
    cx->ws_copy = !(env && strcmp(env, "0") == 0);
    env = getenv("GGDM_CUDA_LINEAR");
    cx->linear_alt = env && (strcmp(env, mode == GGDM_CUDA_FAST ? "tiled" : "elem") == 0);
    env = getenv("GGDM_CUDA_LAZYZERO");
    cx->eager_zero = env && strcmp(env, "0") == 0;
    env = getenv("GGDM_CUDA_LAFUSED");
    cx->la_unfused = env && strcmp(env, "0") == 0;
    env = getenv("GGDM_CUDA_CONV_MINL");
    cx->conv_min_l = env && env[0] ? atoi(env) : -1; // -1: the rule of conv_batched
    env = getenv("GGDM_CUDA_CONV");
    if (env && strcmp(env, "cols") == 0)
        cx->conv_min_l = 1 << 30;
    else if (env && strcmp(env, "batched") == 0)
        cx->conv_min_l = 0;
    env = getenv("GGDM_CUDA_GEMM");
    // the default: cuBLAS's own choice in float32, timed cuBLASLt algorithms with TF32 (cuBLAS's
    // TF32 heuristic picks slow kernels for these sizes: docs/performance.md)
    cx->gemm_tuned = mode == GGDM_CUDA_FAST && (env && env[0] ? strcmp(env, "tuned") == 0 : cx->tf32);
    env = getenv("GGDM_CUDA_GRAPH");
    cx->graph_req = env && env[0] && strcmp(env, "0") != 0;
    cx->graph = cx->graph_req && !cx->sync_each;
    tape_reset(cx);
    // LinearAttention's one-block-per-head kernels may use more than 48 KiB of shared memory
    if (ggdm_cuda_linattn_init())
        cx->la_unfused = 1; // the staged launches instead
    if ((e = cudaStreamCreate(&cx->stream)) != cudaSuccess) {
        set_err(err, errlen, "cudaStreamCreate: %s", cudaGetErrorString(e));
        ctx_free(cx);
        return GGDM_CUDA_FAILED;
    }
    if (cx->graph_req && !cx->tp.staging) { // pinned staging for recorded uploads (kept for the instance)
        cx->tp.staging_cap = (size_t)4 << 20; // floats: 16 MiB
        if ((e = cudaMallocHost((void **)&cx->tp.staging, cx->tp.staging_cap * sizeof(float))) != cudaSuccess) {
            cx->tp.staging = NULL;
            cx->tp.staging_cap = 0;
        }
    }
    if (mode == GGDM_CUDA_FAST) {
        if ((s = cublasCreate(&cx->blas)) != CUBLAS_STATUS_SUCCESS) {
            set_err(err, errlen, "cublasCreate: %s", cublasGetStatusString(s));
            ctx_free(cx);
            return GGDM_CUDA_FAILED;
        }
        s = cublasSetMathMode(cx->blas, cx->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
        if (s != CUBLAS_STATUS_SUCCESS) {
            set_err(err, errlen, "cublasSetMathMode: %s", cublasGetStatusString(s));
            ctx_free(cx);
            return GGDM_CUDA_FAILED;
        }
        // cuBLAS on our stream, with a workspace of its own: it never allocates while a graph is captured
        cx->blas_ws_bytes = (size_t)32 << 20;
        if ((e = cudaMalloc(&cx->blas_ws, cx->blas_ws_bytes)) != cudaSuccess ||
            (s = cublasSetStream(cx->blas, cx->stream)) != CUBLAS_STATUS_SUCCESS ||
            (s = cublasSetWorkspace(cx->blas, cx->blas_ws, cx->blas_ws_bytes)) != CUBLAS_STATUS_SUCCESS) {
            set_err(err, errlen, "cuBLAS stream/workspace: %s", e != cudaSuccess ? cudaGetErrorString(e)
                                                                                   : cublasGetStatusString(s));
            ctx_free(cx);
            return GGDM_CUDA_FAILED;
        }
        env = getenv("GGDM_CUDA_SIDE");
        cx->no_side = env && strcmp(env, "0") == 0;
        if (!cx->no_side &&
            (cudaStreamCreate(&cx->side) != cudaSuccess ||
             cudaEventCreateWithFlags(&cx->ev_fork, cudaEventDisableTiming) != cudaSuccess ||
             cudaEventCreateWithFlags(&cx->ev_join, cudaEventDisableTiming) != cudaSuccess ||
             cudaMalloc(&cx->blas_ws2, cx->blas_ws_bytes) != cudaSuccess ||
             cublasCreate(&cx->blas2) != CUBLAS_STATUS_SUCCESS ||
             cublasSetMathMode(cx->blas2, cx->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH) !=
                 CUBLAS_STATUS_SUCCESS ||
             cublasSetStream(cx->blas2, cx->side) != CUBLAS_STATUS_SUCCESS ||
             cublasSetWorkspace(cx->blas2, cx->blas_ws2, cx->blas_ws_bytes) != CUBLAS_STATUS_SUCCESS)) {
            cudaGetLastError();
            cx->no_side = 1; // one stream (what was made is released at shutdown)
        }
        if (cx->gemm_tuned && (s = cublasLtCreate(&cx->lt)) != CUBLAS_STATUS_SUCCESS) {
            set_err(err, errlen, "cublasLtCreate: %s", cublasGetStatusString(s));
            ctx_free(cx);
            return GGDM_CUDA_FAILED;
        }
    }
    snprintf(cx->desc, sizeof cx->desc, "%.200s (sm_%d%d, %d SMs, %.1f GiB), %s%s%s%s%s%s", prop.name, prop.major,
             prop.minor, prop.multiProcessorCount, (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0),
             mode == GGDM_CUDA_FAST ? "fast" : "exact", cx->tf32 ? ", TF32" : "",
             cx->graph ? ", CUDA graphs (GGDM_CUDA_GRAPH)" : "",
             cx->sync_each ? ", GGDM_CUDA_SYNC (synchronise after every kernel)" : "",
             cx->trust_params ? ", GGDM_CUDA_PARAMS=trust" : "",
             cx->gemm_tuned ? ", GGDM_CUDA_GEMM=tuned (cuBLASLt, timed per size)" : "");
    // the instance's backend: the memory operations, the op table, and in fast mode the fused
    // activation path (GGDM_CUDA_FUSE=0: the separate ops, for cross-checks)
    cx->be.name = mode == GGDM_CUDA_FAST ? "cuda-fast" : "cuda-exact";
    cx->be.ctx = cx;
    cuda_memory_ops(&cx->be);
    cx->be.ops = cuda_ops;
    cx->be.supports = cuda_supports;
    env = getenv("GGDM_CUDA_FUSE");
    if (mode == GGDM_CUDA_FAST && !(env && strcmp(env, "0") == 0)) {
        cx->be.gn_act_forward = ggdm_cuda_gn_act_forward;
        cx->be.gn_act_backward = ggdm_cuda_gn_act_backward;
    }
    default_ctx = cx; // what the ctx-less functions below act on
    if (out)
        *out = &cx->be;
    return GGDM_CUDA_OK;
}

extern "C" void ggdm_cuda_backend_free(const ggdm_backend *be)
{
    ggdm_cuda_ctx *cx;
    if (!be || !be->ctx || be->ops != cuda_ops)
        return;
    cx = (ggdm_cuda_ctx *)be->ctx;
    tape_flush(cx);
    if (!cx->failed)
        ck(cx, cudaDeviceSynchronize(), "shutdown: synchronise"); // a late kernel failure is still reported
    if (cx == default_ctx) { // the first error stays readable after shutdown
        freed_failed = cx->failed;
        memcpy(freed_err, cx->err, sizeof freed_err);
        default_ctx = NULL;
    }
    ctx_free(cx);
}

extern "C" void ggdm_cuda_backend_shutdown(void)
{
    if (default_ctx)
        ggdm_cuda_backend_free(&default_ctx->be);
}

extern "C" const char *ggdm_cuda_backend_error_of(const ggdm_backend *be)
{
    ggdm_cuda_ctx *cx = be && be->ops == cuda_ops ? (ggdm_cuda_ctx *)be->ctx : NULL;
    return cx && cx->failed ? cx->err : NULL;
}

extern "C" const char *ggdm_cuda_backend_error(void)
{
    if (default_ctx)
        return default_ctx->failed ? default_ctx->err : NULL;
    return freed_failed ? freed_err : NULL;
}

extern "C" const char *ggdm_cuda_backend_describe(void)
{
    return default_ctx ? default_ctx->desc : "not initialised";
}

extern "C" void ggdm_cuda_graph_stats(FILE *f)
{
    if (default_ctx)
        tape_stats(default_ctx, f);
}

extern "C" int ggdm_cuda_backend_graphs(void)
{
    return default_ctx && default_ctx->graph;
}

extern "C" int ggdm_cuda_backend_sync(void)
{
    ggdm_cuda_ctx *cx = default_ctx;
    if (!cx)
        return -1;
    tape_flush(cx);
    if (cx->failed)
        return -1;
    return ck(cx, cudaDeviceSynchronize(), "synchronise");
}

extern "C" void ggdm_cuda_profile(int on)
{
    if (default_ctx)
        cuda_profile(default_ctx, on);
}

extern "C" void ggdm_cuda_profile_print(FILE *f)
{
    if (default_ctx)
        cuda_profile_print(default_ctx, f);
}

extern "C" double ggdm_cuda_sgemm_peak(int n, int tf32)
{
    cublasHandle_t h = NULL;
    float *a = NULL, *b = NULL, *c = NULL, ms = 0.0f, best = 0.0f;
    const float one = 1.0f, zero = 0.0f;
    cudaEvent_t e0 = NULL, e1 = NULL;
    size_t bytes = (size_t)n * (size_t)n * sizeof(float);
    double tflops = 0.0;
    int r, ok = n > 0;
    ok = ok && cublasCreate(&h) == CUBLAS_STATUS_SUCCESS;
    ok = ok && cublasSetMathMode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH) == CUBLAS_STATUS_SUCCESS;
    ok = ok && cudaMalloc((void **)&a, bytes) == cudaSuccess && cudaMalloc((void **)&b, bytes) == cudaSuccess &&
         cudaMalloc((void **)&c, bytes) == cudaSuccess;
    ok = ok && cudaMemset(a, 0, bytes) == cudaSuccess && cudaMemset(b, 0, bytes) == cudaSuccess;
    ok = ok && cudaEventCreate(&e0) == cudaSuccess && cudaEventCreate(&e1) == cudaSuccess;
    for (r = -1; ok && r < 5; r++) {
        ok = cudaEventRecord(e0) == cudaSuccess &&
             cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, n, b, n, &zero, c, n) == CUBLAS_STATUS_SUCCESS &&
             cudaEventRecord(e1) == cudaSuccess && cudaEventSynchronize(e1) == cudaSuccess &&
             cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess;
        if (ok && r >= 0 && (best == 0.0f || ms < best))
            best = ms;
    }
    if (ok && best > 0.0f)
        tflops = 2.0 * (double)n * n * n / (best * 1e-3) / 1e12;
    if (e0)
        cudaEventDestroy(e0);
    if (e1)
        cudaEventDestroy(e1);
    cudaFree(a);
    cudaFree(b);
    cudaFree(c);
    if (h)
        cublasDestroy(h);
    return tflops;
}
