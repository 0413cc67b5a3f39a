// gpu/cuda_ctx.h - the CUDA driver's per-instance context and what every op file shares
// (gpu/cuda_ctx.cu: errors, profiling, memory operations, streams, cuBLAS, caches, graph
// taping; gpu/ops/<name>.cu: the ops; gpu/backend_cuda.cu: init and the tables).
//
// Every piece of the driver's state lives in one ggdm_cuda_ctx, allocated by
// ggdm_cuda_backend_init and passed as ggdm_backend.ctx to every op and memory operation
// (so two instances never share state). What remains process-wide is listed in
// gpu/README.md ("Per-instance context").
//
// Internal to gpu/ (C++ linkage); compiled with gpu/Makefile's NVCC_EXACT flags.
#ifndef GGDM_GPU_CUDA_CTX_H
#define GGDM_GPU_CUDA_CTX_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <new>
#include <tuple>
#include <vector>

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <xxhash.h>

#include "ggdm/elem.h"
#if !defined(GGDM_ELEM_OPS) || !defined(GGDM_ELEM_LAUNCHES_conv1d_forward)
#error "ggdm/elem.h must define the launch-order tables GGDM_ELEM_OPS and GGDM_ELEM_LAUNCHES_<op>"
#endif

#include "backend_cuda.h"
#include "ggdm/backend.h"
#include "ggdm/exec.h"
#include "ggdm/op.h"

// ------------------------------------------------------------------ the context

#define NPARAM_CACHE 4
#define NWS_CACHE 256
#define THREADS 256
#define NPROF 160
#define NPROF_EV 4096
#define NPROF_LABEL 96
#define NLT 512
#define LT_CANDIDATES 8
#define NSIDE 128 // side-stream ranges (reads and writes of the pending Linear forwards)

typedef struct param_entry {
    const float *host;
    uint64_t n, cap;
    float *dev;
    XXH128_hash_t hash;
    unsigned long long used;
} param_entry;

typedef struct ws_cached { // weight standardisation results of a parameter array
    const float *w;
    int Cout, fan;
    unsigned long long gen;
    float *buf; // w_hat [Cout*fan], then rstd [Cout]
} ws_cached;

typedef struct lt_entry {
    int ta, tb, M, Nc, K, lda, ldb, ldc, beta0;
    uint32_t al_a, al_b, al_c; // the operands' alignments (bytes, up to 256): the algorithm must allow them
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
} lt_entry;

struct ggdm_cuda_ctx;
typedef void (*tape_fn)(struct ggdm_cuda_ctx *cx, const unsigned char *args);

struct tape_entry {
    tape_fn run;
    size_t off, len;
};

struct tape_state {
    std::vector<tape_entry> ent, last_ent;
    std::vector<unsigned char> bytes, last_bytes;
    int running;                      // executing a tape: operations run, not recorded
    unsigned long long last_gen, last_epoch;
    int last_valid;
    cudaGraphExec_t exec;             // captured from last_*
    float *staging;                   // pinned host memory for the recorded uploads
    size_t staging_cap, staging_used; // floats
    unsigned long long launches, captures, eager;
};

struct prof_state {
    int on;       // 1: synchronised after every operation; 2: asynchronous (events on the stream)
    double last;  // the end of the previous timed thing
    int n;
    struct {
        const char *name;
        double secs;
        long calls;
    } row[NPROF];
    // asynchronous mode: an event after every operation, read back at the end (or when full)
    cudaEvent_t ev[NPROF_EV + 1]; // ev[0]: the start (or the last event of the previous batch)
    const char *ev_name[NPROF_EV + 1];
    int n_ev, ev_made;
    // labels with sizes ("fast conv1d_forward: sgemm 512x256x1536"), interned
    char label[NPROF_LABEL][96];
    int n_label;
};

// One instance of the CUDA driver (what was the process-wide `CU` and its companions PROF,
// TP, LT and ZP). Allocated with new (value-initialised: every scalar zero).
struct ggdm_cuda_ctx {
    ggdm_backend be; // the instance's backend: be.ctx == this
    int mode, tf32, sync_each, trust_params, failed;
    cudaStream_t stream; // every kernel, cuBLAS call and asynchronous copy (a blocking stream)
    void *blas_ws;       // cuBLAS's workspace (set, so that cuBLAS never allocates while captured)
    size_t blas_ws_bytes;
    int graph_req;       // GGDM_CUDA_GRAPH=1 asked for graphs ...
    int graph;           // ... and they are on (not while profiling or with GGDM_CUDA_SYNC)
    unsigned long long buf_epoch; // bumped whenever a private device buffer is (re)allocated
    int no_wscache, params_hash, rows_loop; // GGDM_CUDA_WSCACHE=0, GGDM_CUDA_PARAMS=hash, GGDM_CUDA_ROWS=0
    int conv_min_l; // fast Conv1d: the "batched" layout from this output length up, or -1: conv_batched's rule
    // fast mode: Linear forwards on a second stream (see side_join)
    int no_side; // GGDM_CUDA_SIDE=0: everything on stream
    cudaStream_t side;
    cudaEvent_t ev_fork, ev_join;
    cublasHandle_t blas2; // cuBLAS on the side stream, with its own workspace
    void *blas_ws2;
    int side_pending; // work on the side stream that stream has not waited for
    int n_side;
    struct {
        const float *p;
        size_t n;
        int write;
    } side_rng[NSIDE]; // what that work reads and writes (see side_conflict)
    int no_splitk;  // GGDM_CUDA_SPLITK=0
    int ws_copy;    // 1 (default; GGDM_CUDA_WSCOPY=0 turns it off): cached standardisations copied (see ws_resolve)
    int linear_alt; // GGDM_CUDA_LINEAR=tiled (fast) / elem (exact)
    int eager_zero; // GGDM_CUDA_LAZYZERO=0: fast mode zeroes at once (see zero_take)
    int la_unfused; // GGDM_CUDA_LAFUSED=0
    int unstaged;   // GGDM_CUDA_STAGED=0
    int gemm_tuned; // GGDM_CUDA_GEMM=tuned
    cublasLtHandle_t lt;
    float *tune_buf;
    size_t tune_cap; // bytes
    char err[1024];
    char desc[512];
    cublasHandle_t blas;
    float *ws; // the workspace mirror (ggdm_backend.workspace)
    size_t ws_bytes;
    float *grads; // parameter gradients (grads_begin / grads_end)
    uint64_t grads_cap;
    float *scratch; // fast mode: im2col / col2im columns
    size_t scratch_cap;
    float *host_tmp; // steps(): the float steps before upload
    size_t host_tmp_cap;
    param_entry prm[NPARAM_CACHE];
    unsigned long long clock;
    unsigned long long param_gen; // bumped at every parameter upload (ws cache validity)
    float *att;                   // the attention cores' staged intermediates
    size_t att_cap;
    int n_wsc;
    ws_cached wsc[NWS_CACHE];
    int n_rd; // weight standardisations served from the cache without the copy (ws_resolve)
    struct {
        const float *w_hat, *rstd, *buf;
        size_t nw;
    } rd[NWS_CACHE];
    struct {
        float *p;
        size_t n;
    } zp; // the deferred memset (zero_take)
    struct {
        int n;
        lt_entry e[NLT];
    } ltc; // cuBLASLt's timed algorithms per size
    prof_state prof;
    tape_state tp;
};

// The context of an op or memory operation's ctx argument (the instance: backend.h passes it
// to every op, memory operation and fused call).
ggdm_cuda_ctx *cuda_ctx_of(void *ctx);

// ------------------------------------------------------------------ errors, profiling, buffers

void record(ggdm_cuda_ctx *cx, const char *fmt, ...);
int ck(ggdm_cuda_ctx *cx, cudaError_t e, const char *what);
int ckb(ggdm_cuda_ctx *cx, cublasStatus_t s, const char *what);
int ckl(ggdm_cuda_ctx *cx, cublasStatus_t s, const char *what);
int ck_launch(ggdm_cuda_ctx *cx, const char *what);
// An op this driver does not run (yet) for these attributes: recorded as a failure.
void cuda_unsupported(ggdm_cuda_ctx *cx, const char *op, const char *what);

void prof_enter(ggdm_cuda_ctx *cx);
void prof_mark(ggdm_cuda_ctx *cx, const char *what);
void prof_drain(ggdm_cuda_ctx *cx);
const char *prof_label(ggdm_cuda_ctx *cx, const char *what, int a, int b, int c);
void cuda_profile(ggdm_cuda_ctx *cx, int on);
void cuda_profile_print(ggdm_cuda_ctx *cx, FILE *f);

// A memory operation's time (from its start: the host's time before it goes to "host").
struct prof_scope {
    ggdm_cuda_ctx *cx;
    const char *name;
    prof_scope(ggdm_cuda_ctx *c, const char *n) : cx(c), name(n) { prof_enter(cx); }
    ~prof_scope() { prof_mark(cx, name); }
};

static inline unsigned grid_for(long long n)
{
    long long b = (n + THREADS - 1) / THREADS;
    return (unsigned)(b > 65535LL * 32 ? 65535LL * 32 : b); // grid-stride loops cover the rest
}

// Launches kernel<int> when every index of n elements (and the largest product the kernel
// forms, big) fits in 32 bits, kernel<long long> otherwise.
#define LAUNCH_I(cx, kern, n, big, ...) LAUNCH_I_ON((cx)->stream, kern, n, big, __VA_ARGS__)
#define LAUNCH_I_ON(strm, kern, n, big, ...)                                                                           \
    do {                                                                                                               \
        if ((long long)(big) < 2147483647LL)                                                                           \
            kern<int><<<grid_for((long long)(n)), THREADS, 0, strm>>>(__VA_ARGS__);                                    \
        else                                                                                                           \
            kern<long long><<<grid_for((long long)(n)), THREADS, 0, strm>>>(__VA_ARGS__);                              \
    } while (0)

int grow(ggdm_cuda_ctx *cx, float **p, size_t *cap_bytes, size_t bytes, const char *what);
float *private_floats(ggdm_cuda_ctx *cx, float **p, size_t *cap_bytes, size_t n, const char *what);
float *scratch_floats(ggdm_cuda_ctx *cx, size_t n);

// ------------------------------------------------------------------ deferred zeroing, side stream

void zero_flush(ggdm_cuda_ctx *cx);
int zero_take(ggdm_cuda_ctx *cx, const float *p, size_t n);
void side_join(ggdm_cuda_ctx *cx);
// 1 when [p, p + n) overlaps what the side stream's pending work writes, or (write) reads.
int side_conflict(ggdm_cuda_ctx *cx, const float *p, size_t n, int write);
// Notes a range the side stream's pending work reads or writes; 0 when the table is full.
int side_note(ggdm_cuda_ctx *cx, const float *p, size_t n, int write);

// ------------------------------------------------------------------ caches

int in_params(ggdm_cuda_ctx *cx, const float *p);
const float *ws_resolve(ggdm_cuda_ctx *cx, const float *p);
void ws_unresolve(ggdm_cuda_ctx *cx, const float *w_hat, const float *rstd);

// ------------------------------------------------------------------ matrix products (fast mode)

int sgemm_rm(ggdm_cuda_ctx *cx, cublasHandle_t h, int ta, int tb, int M, int Nc, int K, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc, const char *what);
int gemm_rm(ggdm_cuda_ctx *cx, int ta, int tb, int M, int Nc, int K, const float *A, int lda, const float *B, int ldb,
            float beta, float *C, int ldc, const char *what);
int gemm_rm_batched(ggdm_cuda_ctx *cx, int ta, int tb, int M, int Nc, int K, const float *A, int lda, long long sA,
                    const float *B, int ldb, long long sB, float beta, float *C, int ldc, long long sC, int batch,
                    const char *what);
void lt_reset(ggdm_cuda_ctx *cx);

// ------------------------------------------------------------------ graphs (GGDM_CUDA_GRAPH=1): the tape
//
// A network call's operations are recorded (function and arguments, by value) until the next
// synchronisation point, then run, captured or replayed (gpu/cuda_ctx.cu, "graphs"). Every
// taped function takes the context first; tape_or_run(cx, fn, args...) runs fn(cx, args...)
// now, or records it when taping.

typedef void (*code_ptr)(void);
template <typename F> static inline code_ptr code_of(F fn)
{
    return reinterpret_cast<code_ptr>(fn);
}

// Before an operation runs (direct or replayed from a tape): the pending memset is made unless
// the operation takes it itself, and the side stream is joined unless the operation cannot
// touch its ranges (gpu/cuda_ctx.cu).
void before_op(ggdm_cuda_ctx *cx, code_ptr g);
int taping(ggdm_cuda_ctx *cx);
void tape_flush(ggdm_cuda_ctx *cx);
float *tape_stage(ggdm_cuda_ctx *cx, size_t n);
void tape_stats(ggdm_cuda_ctx *cx, FILE *f);
void tape_reset(ggdm_cuda_ctx *cx);
void tape_push(ggdm_cuda_ctx *cx, tape_fn run, const unsigned char *buf, size_t len);

template <typename... A> struct tape_call {
    void (*fn)(ggdm_cuda_ctx *, A...);
    std::tuple<A...> args;
};

template <typename... A> void tape_replay(ggdm_cuda_ctx *cx, const unsigned char *p)
{
    alignas(tape_call<A...>) unsigned char buf[sizeof(tape_call<A...>)];
    memcpy((void *)buf, p, sizeof buf);
    const tape_call<A...> *c = std::launder(reinterpret_cast<const tape_call<A...> *>(buf));
    before_op(cx, code_of(c->fn));
    std::apply([cx, c](A... a) { c->fn(cx, a...); }, c->args);
}

template <typename... A, typename... B> void tape_or_run(ggdm_cuda_ctx *cx, void (*fn)(ggdm_cuda_ctx *, A...), B... b)
{
    if (!taping(cx)) {
        before_op(cx, code_of(fn));
        fn(cx, b...);
        return;
    }
    alignas(tape_call<A...>) unsigned char buf[sizeof(tape_call<A...>)];
    memset(buf, 0, sizeof buf); // padding compares equal
    new (buf) tape_call<A...>{fn, std::tuple<A...>(b...)};
    tape_push(cx, tape_replay<A...>, buf, sizeof buf);
}

// The functions before_op treats specially (defined in the op files and the core).
void f_conv1d_forward(ggdm_cuda_ctx *cx, float *y, const float *x, const float *w, const float *b, int N, int Cin,
                      int Lin, int Cout, int K, int stride, int pad);
void f_conv1d_backward(ggdm_cuda_ctx *cx, float *dx, float *dw, float *db, const float *dy, const float *x,
                       const float *w, int N, int Cin, int Lin, int Cout, int K, int stride, int pad);
void f_linear_forward(ggdm_cuda_ctx *cx, float *y, const float *x, const float *W, const float *b, int N, int In,
                      int Out);
void c_ws_forward(ggdm_cuda_ctx *cx, float *w_hat, float *rstd, const float *w, int Cout, int fan);
void f_chnorm_backward(ggdm_cuda_ctx *cx, float *dx, float *dg, const float *dy, const float *x, const float *mean,
                       const float *rstd, const float *g, int N, int C, int L);
void s_linattn_backward(ggdm_cuda_ctx *cx, float *dqkv, const float *dout, const float *qkv, const float *cache_q,
                        const float *cache_k, const float *cache_ctx, int N, int H, int Dh, int L);
void cu_zero_run(ggdm_cuda_ctx *cx, float *dst, size_t n);

// The optional fused activation path (gpu/ops/norm.cu) and LinearAttention's start-up
// (gpu/ops/linattn.cu: the shared-memory opt-in of its one-block-per-head kernels; 0 when done).
void ggdm_cuda_gn_act_forward(void *ctx, float *g, float *mean, float *rstd, float *f, float *a, const float *h,
                              const float *gamma, const float *beta, const float *ss, int N, int C, int L, int G);
void ggdm_cuda_gn_act_backward(void *ctx, float *dh, float *scratch, const float *da, const float *h, const float *mean,
                               const float *rstd, const float *gamma, const float *g, const float *f, const float *ss,
                               int N, int C, int L, int G);
int ggdm_cuda_linattn_init(void);

// The memory operations (gpu/cuda_ctx.cu), in backend.h's order, for the backend struct.
void cuda_memory_ops(ggdm_backend *be);

// The op table (gpu/backend_cuda.cu) and the op functions (gpu/ops/*.cu), from the manifest.
extern "C" {
#define GGDM_OP(NAME, name, n_in, n_cache, doc)                                                                        \
    void ggdm_cuda_##name##_fwd(void *ctx, const ggdm_op_call *c);                                                    \
    void ggdm_cuda_##name##_vjp(void *ctx, const ggdm_op_call *c);
#include "ggdm/ops.def"
#undef GGDM_OP
}

// ------------------------------------------------------------------ exact element kernels
//
// Per layer function X of ggdm/elem.h an op file defines SIG_X (its parameters), ARG_X (their
// names) and SIZ_X (its size arguments, those of the ggdm_elem_X_Y_count functions).
// ELEM_KERNELS(X) then defines, for every output Y of X in elem.h's table
// GGDM_ELEM_LAUNCHES_X, the kernel k_X_Y (one thread per element of Y, a grid-stride loop)
// and the launcher l_X_Y(cx, ...) (nothing when Y is NULL, when the count is not positive, or
// after an error); EXACT_OP(X) defines x_X(cx, ...), which launches X's outputs in elem.h's
// LAUNCH ORDER (an output may read one launched before it; the stream serialises).

#define UNPACK(...) __VA_ARGS__

#define ELEM(X, Y) ELEM_(X, Y, SIG_##X, ARG_##X, SIZ_##X)
#define ELEM_(X, Y, SIG, ARG, SIZ)                                                                                     \
    __global__ void k_##X##_##Y(UNPACK SIG, long long count_)                                                          \
    {                                                                                                                  \
        long long i_ = (long long)blockIdx.x * blockDim.x + threadIdx.x;                                               \
        long long step_ = (long long)gridDim.x * blockDim.x;                                                           \
        for (; i_ < count_; i_ += step_)                                                                               \
            ggdm_elem_##X##_##Y(UNPACK ARG, (long)i_);                                                                 \
    }                                                                                                                  \
    __attribute__((unused)) static void l_##X##_##Y(ggdm_cuda_ctx *cx_, UNPACK SIG)                                    \
    {                                                                                                                  \
        long long count_;                                                                                              \
        if (!Y || cx_->failed)                                                                                         \
            return;                                                                                                    \
        prof_enter(cx_);                                                                                               \
        count_ = (long long)ggdm_elem_##X##_##Y##_count SIZ;                                                           \
        if (count_ <= 0)                                                                                               \
            return;                                                                                                    \
        k_##X##_##Y<<<grid_for(count_), THREADS, 0, cx_->stream>>>(UNPACK ARG, count_);                                \
        ck_launch(cx_, "kernel " #X "." #Y);                                                                           \
    }

#define ELEM_KERNELS(X) GGDM_ELEM_LAUNCHES_##X(ELEM)

#define ELEM_CALL(X, Y) l_##X##_##Y(cx_, UNPACK ARG_##X);
#define EXACT_OP(X) EXACT_OP_(X, SIG_##X, GGDM_ELEM_LAUNCHES_##X(ELEM_CALL))
#define EXACT_OP_(X, SIG, BODY)                                                                                        \
    __attribute__((unused)) static void x_##X(ggdm_cuda_ctx *cx_, UNPACK SIG) { BODY }

#endif /* GGDM_GPU_CUDA_CTX_H */
