// gpu/backend_cuda.cu - the CUDA backend of the score network (ggdm/backend.h).
//
// The network's plan (ref/src/unet.c) runs unchanged; this file supplies its memory
// operations (device memory) and its layer operations:
//  - exact mode: one CUDA thread per output element, calling the reference's element
//    function ggdm_elem_<op>_<output> of ggdm/elem.h (or its staged form, where a shared
//    reduction is stored once), so every element is computed by the same chain as on the CPU
//    (compiled with --fmad=false -ftz=false -prec-div=true -prec-sqrt=true, never fast
//    math: gpu/Makefile's NVCC_EXACT); LinearAttention (one block per head) and the Linear
//    forward (tiled) compute the same chains with shared memory;
//  - fast mode: Conv1d (per-sample strided-batch products on the NCL tensors, or one product
//    over the batch with split-K for the deep levels) and Linear as cuBLAS products (cuBLASLt,
//    timed per size, with TF32), block reductions for the norms, the ResnetBlock activation
//    path fused, deferred memsets, cached weight standardisations read in place, the time
//    MLP's Linears on a second stream; the rest the exact element kernels.
// Everything else runs on one stream (CU.stream), so one launch finishes before the next
// starts (the order of an op's outputs matters: see EXACT_OPS below). Uploads and downloads
// are synchronous. Graph mode (GGDM_CUDA_GRAPH=1) records a call's operations and replays
// repeated calls as CUDA graphs ("graphs" below). Debugging switches: gpu/README.md.
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

// ------------------------------------------------------------------ state and errors

#define NPARAM_CACHE 4
#define NWS_CACHE 256
#define THREADS 256

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

static struct {
    int inited, mode, tf32, sync_each, trust_params, failed;
    cudaStream_t stream; // every kernel, cuBLAS call and asynchronous copy (a blocking stream)
    void *blas_ws;       // cuBLAS's workspace (set, so that cuBLAS never allocates while captured)
    size_t blas_ws_bytes;
    int graph_req;       // GGDM_CUDA_GRAPH=1 asked for graphs ...
    int graph;           // ... and they are on (not while profiling or with GGDM_CUDA_SYNC): network calls replayed as CUDA graphs (see "graphs")
    unsigned long long buf_epoch; // bumped whenever a private device buffer is (re)allocated
    int no_wscache, params_hash, rows_loop; // debugging switches (GGDM_CUDA_WSCACHE=0, GGDM_CUDA_PARAMS=hash, GGDM_CUDA_ROWS=0)
    int conv_min_l; // fast Conv1d: the "batched" layout from this output length up (GGDM_CUDA_CONV_MINL, GGDM_CUDA_CONV=cols|batched), or -1: conv_batched's rule
    // fast mode: Linear forwards on a second stream (see side_join)
    int no_side;          // GGDM_CUDA_SIDE=0: everything on CU.stream
    cudaStream_t side;
    cudaEvent_t ev_fork, ev_join;
    cublasHandle_t blas2; // cuBLAS on the side stream, with its own workspace
    void *blas_ws2;
    int side_pending;     // work on the side stream that CU.stream has not waited for
    int n_side_out;
    struct {
        const float *p;
        size_t n;
    } side_out[32];       // what that work writes
    int no_splitk; // GGDM_CUDA_SPLITK=0: no split-K products (see split_k)
    int ws_copy; // GGDM_CUDA_WSCOPY=1: cached weight standardisations copied into the workspace (see ws_resolve)
    int linear_alt; // GGDM_CUDA_LINEAR=tiled (fast: the tiled kernel, not cuBLAS) / elem (exact: the element kernel, not the tiled one)
    int eager_zero; // GGDM_CUDA_LAZYZERO=0: fast mode zeroes at once (see zero_take)
    int la_unfused; // GGDM_CUDA_LAFUSED=0: LinearAttention by the staged launches, not one block per head
    int unstaged; // GGDM_CUDA_STAGED=0: the attention backwards as one launch each (slow; for cross-checks)
    int gemm_tuned;         // GGDM_CUDA_GEMM=tuned: matrix products through cuBLASLt, the fastest algorithm per size
    cublasLtHandle_t lt;    // (fast mode, gemm_tuned)
    float *tune_buf;        // a scratch output for timing the candidates
    size_t tune_cap;        // bytes
    char err[1024];
    char desc[512];
    cublasHandle_t blas;
    float *ws;           // the workspace mirror (ggdm_unet_backend.workspace)
    size_t ws_bytes;
    float *grads;        // parameter gradients (grads_begin / grads_end)
    uint64_t grads_cap;
    float *scratch;      // fast mode: im2col / col2im columns
    size_t scratch_cap;  // bytes
    float *host_tmp;     // steps(): the float steps before upload
    size_t host_tmp_cap;
    param_entry prm[NPARAM_CACHE];
    unsigned long long clock;
    unsigned long long param_gen; // bumped at every parameter upload (ws_cache validity)
    float *att;                   // linattn_backward's dctx and dks
    size_t att_cap;               // bytes
    int n_wsc;
    ws_cached wsc[NWS_CACHE];
    // fast mode: weight standardisations served from the cache without the copy (ws_resolve)
    int n_rd;
    struct {
        const float *w_hat, *rstd, *buf;
        size_t nw;
    } rd[NWS_CACHE];
} CU;

static void record(const char *fmt, ...)
{
    va_list ap;
    if (CU.failed)
        return;
    va_start(ap, fmt);
    vsnprintf(CU.err, sizeof CU.err, fmt, ap);
    va_end(ap);
    CU.failed = 1;
    fprintf(stderr, "ggdm-cuda: %s\n", CU.err);
}

// 0 when e is cudaSuccess; otherwise records "what: error" and returns -1.
static int ck(cudaError_t e, const char *what)
{
    if (e == cudaSuccess)
        return 0;
    record("%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
    return -1;
}

static void prof_mark(const char *what);
static void tape_flush(void);
static void tape_stats(FILE *f);

static int ckb(cublasStatus_t s, const char *what)
{
    if (s == CUBLAS_STATUS_SUCCESS) {
        prof_mark(what);
        return 0;
    }
    record("%s: cuBLAS %s (%d)", what, cublasGetStatusString(s), (int)s);
    return -1;
}

// After a kernel launch: launch errors always; execution errors too with GGDM_CUDA_SYNC=1.
static int ck_launch(const char *what)
{
    if (ck(cudaGetLastError(), what))
        return -1;
    prof_mark(what);
    if (CU.sync_each)
        return ck(cudaDeviceSynchronize(), what);
    return 0;
}

// ------------------------------------------------------------------ profiling (ggdm_cuda_profile)

#define NPROF 160
#define NPROF_EV 4096
#define NPROF_LABEL 96
static struct {
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
} PROF;

static double prof_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void prof_add(const char *name, double secs)
{
    int i;
    for (i = 0; i < PROF.n; i++)
        if (PROF.row[i].name == name || strcmp(PROF.row[i].name, name) == 0)
            break;
    if (i == PROF.n) {
        if (PROF.n == NPROF)
            i = NPROF - 1, name = "(other)";
        else
            PROF.n++;
        PROF.row[i].name = name;
    }
    PROF.row[i].secs += secs;
    PROF.row[i].calls++;
}

// Asynchronous mode: the time between consecutive events is the GPU's time for the operation
// that ends at the later one (including any wait for the host to launch it).
static void prof_drain(void)
{
    int i;
    float ms;
    if (PROF.n_ev == 0)
        return;
    cudaEventSynchronize(PROF.ev[PROF.n_ev]);
    for (i = 1; i <= PROF.n_ev; i++)
        if (cudaEventElapsedTime(&ms, PROF.ev[i - 1], PROF.ev[i]) == cudaSuccess)
            prof_add(PROF.ev_name[i], 1e-3 * (double)ms);
    // the last event starts the next batch
    {
        cudaEvent_t t = PROF.ev[0];
        PROF.ev[0] = PROF.ev[PROF.n_ev];
        PROF.ev[PROF.n_ev] = t;
    }
    PROF.n_ev = 0;
}

// A name with sizes, kept for the profile's table (the same text gives the same pointer).
static const char *prof_label(const char *what, int a, int b, int c)
{
    char buf[96];
    int i;
    snprintf(buf, sizeof buf, "%.60s %dx%dx%d", what, a, b, c);
    for (i = 0; i < PROF.n_label; i++)
        if (strcmp(PROF.label[i], buf) == 0)
            return PROF.label[i];
    if (PROF.n_label == NPROF_LABEL)
        return what;
    memcpy(PROF.label[PROF.n_label], buf, sizeof buf);
    return PROF.label[PROF.n_label++];
}

// At the start of a backend call: the host's time since the previous one (synchronised mode).
static void prof_enter(void)
{
    double t;
    if (PROF.on != 1)
        return;
    t = prof_now();
    prof_add("host (between backend calls)", t - PROF.last);
    PROF.last = t;
}

// After a kernel, cuBLAS call or memory operation: waits for it and counts its time
// (synchronised mode), or records an event after it (asynchronous mode).
static void prof_mark(const char *what)
{
    double t;
    if (!PROF.on)
        return;
    if (PROF.on == 2) {
        if (PROF.n_ev == NPROF_EV)
            prof_drain();
        PROF.n_ev++;
        PROF.ev_name[PROF.n_ev] = what;
        cudaEventRecord(PROF.ev[PROF.n_ev], CU.stream);
        return;
    }
    cudaDeviceSynchronize();
    t = prof_now();
    prof_add(what, t - PROF.last);
    PROF.last = t;
}

// A memory operation's time (from its start: the host's time before it goes to "host").
struct prof_scope {
    const char *name;
    explicit prof_scope(const char *n) : name(n) { prof_enter(); }
    ~prof_scope() { prof_mark(name); }
};

extern "C" void ggdm_cuda_profile(int on)
{
    int i;
    tape_flush();
    CU.graph = CU.graph_req && !CU.sync_each && !on; // profiling times every operation: no capture
    if (on == 2 && !PROF.ev_made) {
        for (i = 0; i <= NPROF_EV; i++)
            if (cudaEventCreate(&PROF.ev[i]) != cudaSuccess)
                break;
        if (i <= NPROF_EV) { // could not make the events: synchronised mode instead
            while (i-- > 0)
                cudaEventDestroy(PROF.ev[i]);
            on = 1;
        } else {
            PROF.ev_made = 1;
        }
    }
    if (on) {
        cudaDeviceSynchronize();
        PROF.n = 0;
        PROF.n_ev = 0;
        memset(PROF.row, 0, sizeof PROF.row);
        PROF.last = prof_now();
        if (on == 2)
            cudaEventRecord(PROF.ev[0], CU.stream);
    } else if (PROF.on == 2) {
        prof_drain();
    }
    PROF.on = on;
}

extern "C" void ggdm_cuda_profile_print(FILE *f)
{
    tape_stats(f);
    int i, j, idx[NPROF];
    double total = 0.0;
    if (PROF.on == 2)
        prof_drain();
    for (i = 0; i < PROF.n; i++) {
        idx[i] = i;
        total += PROF.row[i].secs;
    }
    for (i = 1; i < PROF.n; i++) // insertion sort, largest first
        for (j = i; j > 0 && PROF.row[idx[j]].secs > PROF.row[idx[j - 1]].secs; j--) {
            int k = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = k;
        }
    fprintf(f, "profile: %-52s %10s %8s %10s %6s\n", "what", "total ms", "calls", "us/call", "share");
    for (i = 0; i < PROF.n; i++) {
        int r = idx[i];
        fprintf(f, "profile: %-52s %10.3f %8ld %10.1f %5.1f%%\n", PROF.row[r].name, 1e3 * PROF.row[r].secs,
                PROF.row[r].calls, 1e6 * PROF.row[r].secs / (double)(PROF.row[r].calls ? PROF.row[r].calls : 1),
                total > 0 ? 100.0 * PROF.row[r].secs / total : 0.0);
    }
    fprintf(f, "profile: %-52s %10.3f\n", "total", 1e3 * total);
}

static unsigned grid_for(long long n)
{
    long long b = (n + THREADS - 1) / THREADS;
    return (unsigned)(b > 65535LL * 32 ? 65535LL * 32 : b); // grid-stride loops cover the rest
}

// Launches kernel<int> when every index of n elements (and the largest product the kernel
// forms, big) fits in 32 bits, kernel<long long> otherwise.
#define LAUNCH_I(kern, n, big, ...) LAUNCH_I_ON(CU.stream, kern, n, big, __VA_ARGS__)
#define LAUNCH_I_ON(strm, kern, n, big, ...)                                                                          \
    do {                                                                                                     \
        if ((long long)(big) < 2147483647LL)                                                                 \
            kern<int><<<grid_for((long long)(n)), THREADS, 0, strm>>>(__VA_ARGS__);                          \
        else                                                                                                 \
            kern<long long><<<grid_for((long long)(n)), THREADS, 0, strm>>>(__VA_ARGS__);                    \
    } while (0)

// Grows a device buffer to at least `bytes` (contents are not kept). 0 on success.
static int grow(float **p, size_t *cap_bytes, size_t bytes, const char *what)
{
    if (*p && *cap_bytes >= bytes)
        return 0;
    if (*p) {
        if (ck(cudaFree(*p), what))
            return -1;
        *p = NULL;
        *cap_bytes = 0;
    }
    CU.buf_epoch++; // a captured graph that used the old buffer is stale
    if (ck(cudaMalloc((void **)p, bytes ? bytes : 256), what)) {
        *p = NULL;
        return -1;
    }
    *cap_bytes = bytes;
    return 0;
}

// ------------------------------------------------------------------ graphs (GGDM_CUDA_GRAPH=1)
//
// A sampling round calls the network T times with the same arguments (the same device
// pointers and sizes; only the contents of x and t change), about a thousand small launches
// each. In graph mode the backend does not launch a call's operations when the library makes
// them: it records them on a tape (the function and its arguments, by value; uploads copy the
// host data into pinned staging memory and record a copy from there) until the next
// synchronisation point (a download, the parameters, the workspace, the end of the call).
// There the tape is flushed:
//   - the same tape as the last flush (byte for byte, with the same parameter generation and
//     device buffers): the CUDA graph captured from it is launched (one launch);
//   - the same tape seen a second time, no graph yet: the tape is run under stream capture,
//     the graph instantiated and launched;
//   - else: the tape is run as recorded (eagerly), and remembered.
// The kernels and their arguments are the same in all three cases, so are the results (the
// exact mode stays bit for bit). Not with GGDM_CUDA_SYNC or profiling (they synchronise).
#include <new>
#include <tuple>
#include <vector>

// ------------------------------------------------------------------ fast mode: deferred zeroing
//
// The plan zeroes a gradient buffer and then lets one operation add into it (dA before a
// Conv1d backward, the attention's dproj/dov/dqkv/dnrm, ...). In fast mode cu_zero only notes
// the buffer; the next operation either is a consumer that takes it (zero_take: it then
// writes its sums instead of adding them to zeros, one launch fewer) or, whatever it is, first
// has the memset made (zero_flush: every operation but the consumers, every memory operation
// through tape_flush, the end of a recorded tape). Exact mode zeroes at once (writing x
// instead of 0 + x changes the sign of a zero sum). GGDM_CUDA_LAZYZERO=0 turns it off.
static struct {
    float *p;
    size_t n;
} ZP;

static void zero_flush(void)
{
    float *p = ZP.p;
    if (!p)
        return;
    ZP.p = NULL;
    if (!CU.failed)
        ck(cudaMemsetAsync(p, 0, ZP.n * sizeof(float), CU.stream), "zero");
    prof_mark("zero");
}

// 1 when [p, p + n) is exactly the buffer whose zeroing is pending: the caller writes instead
// of adding (and the memset is not made); 0 otherwise (any pending memset made first).
static int zero_take(const float *p, size_t n)
{
    if (ZP.p && ZP.p == p && ZP.n == n) {
        ZP.p = NULL;
        return 1;
    }
    zero_flush();
    return 0;
}

// Fast mode: the Linear forwards (the ResnetBlocks' time MLPs: one small product each, whose
// result the block reads only after its first convolution) run on a second stream, CU.side,
// forked from CU.stream when they are called; CU.stream waits for them (side_join) before any
// operation but a Conv1d forward, a weight standardisation or another Linear forward (which
// do not touch them; one that would, reading or writing, is checked: side_pending_at), before every memory
// operation (tape_flush) and at the end of a recorded tape. GGDM_CUDA_SIDE=0: one stream.
static void side_join(void)
{
    if (!CU.side_pending)
        return;
    CU.side_pending = 0;
    CU.n_side_out = 0;
    if (!CU.failed && !ck(cudaEventRecord(CU.ev_join, CU.side), "side: join"))
        ck(cudaStreamWaitEvent(CU.stream, CU.ev_join, 0), "side: join");
}

// 1 when p points into what the side stream's pending work writes.
static int side_pending_at(const float *p)
{
    int i;
    for (i = 0; p && i < CU.n_side_out; i++)
        if (p >= CU.side_out[i].p && p < CU.side_out[i].p + CU.side_out[i].n)
            return 1;
    return 0;
}

static void f_conv1d_forward(float *y, const float *x, const float *w, const float *b, int N, int Cin, int Lin,
                             int Cout, int K, int stride, int pad, float *scratch, const struct ggdm_exec *ex);
static void f_linear_forward(float *y, const float *x, const float *W, const float *b, int N, int In, int Out);
static void c_ws_forward(float *w_hat, float *rstd, const float *w, int Cout, int fan);
static void f_conv1d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                              int N, int Cin, int Lin, int Cout, int K, int stride, int pad, float *scratch,
                              const struct ggdm_exec *ex);
static void f_chnorm_backward(float *dx, float *dg, const float *dy, const float *x, const float *mean,
                              const float *rstd, const float *g, int N, int C, int L);
static void s_linattn_backward(float *dqkv, const float *dout, const float *qkv, const float *cache_q,
                               const float *cache_k, const float *cache_ctx, int N, int H, int Dh, int L,
                               float *scratch);
static void cu_zero(void *ctx, float *dst, size_t n);

// Before an operation runs (direct or replayed from a tape): the pending memset is made unless
// the operation takes it itself (the consumers of zero_take, or cu_zero, which replaces it), and
// the side stream is joined unless the operation cannot touch its outputs (side_join).
typedef void (*code_ptr)(void);
template <typename F> static code_ptr code_of(F fn)
{
    return reinterpret_cast<code_ptr>(fn);
}

template <typename F> static void before_op(F fn)
{
    code_ptr g = code_of(fn);
    if (g != code_of(&f_conv1d_backward) && g != code_of(&f_chnorm_backward) && g != code_of(&s_linattn_backward) &&
        g != code_of(&cu_zero))
        zero_flush();
    if (g != code_of(&f_conv1d_forward) && g != code_of(&f_linear_forward) && g != code_of(&c_ws_forward))
        side_join();
}

typedef void (*tape_fn)(const unsigned char *args);

struct tape_entry {
    tape_fn run;
    size_t off, len;
};

static struct tape_state {
    std::vector<tape_entry> ent, last_ent;
    std::vector<unsigned char> bytes, last_bytes;
    int running;                      // executing a tape: operations run, not recorded
    unsigned long long last_gen, last_epoch;
    int last_valid;
    cudaGraphExec_t exec;             // captured from last_*
    float *staging;                   // pinned host memory for the recorded uploads
    size_t staging_cap, staging_used; // floats
    unsigned long long launches, captures, eager;
} TP;

template <typename... A> struct tape_call {
    void (*fn)(A...);
    std::tuple<A...> args;
};

template <typename... A> static void tape_replay(const unsigned char *p)
{
    alignas(tape_call<A...>) unsigned char buf[sizeof(tape_call<A...>)];
    memcpy((void *)buf, p, sizeof buf);
    const tape_call<A...> *c = std::launder(reinterpret_cast<const tape_call<A...> *>(buf));
    before_op(c->fn);
    std::apply(c->fn, c->args);
}

static int taping(void)
{
    return CU.graph && !TP.running && !CU.failed;
}

// Runs fn(args...) now, or records it when taping.
template <typename... A, typename... B> static void tape_or_run(void (*fn)(A...), B... b)
{
    if (!taping()) {
        before_op(fn);
        fn(b...);
        return;
    }
    alignas(tape_call<A...>) unsigned char buf[sizeof(tape_call<A...>)];
    memset(buf, 0, sizeof buf); // padding compares equal
    new (buf) tape_call<A...>{fn, std::tuple<A...>(b...)};
    tape_entry e;
    e.run = tape_replay<A...>;
    e.off = TP.bytes.size();
    e.len = sizeof buf;
    TP.bytes.insert(TP.bytes.end(), buf, buf + sizeof buf);
    TP.ent.push_back(e);
}

template <typename F, F f> struct taped;
template <typename... A, void (*f)(A...)> struct taped<void (*)(A...), f> {
    static void call(A... a) { tape_or_run(f, a...); }
};
// The backend-table entry of operation fn: recorded in graph mode, run otherwise.
#define TAPED(fn) (&taped<decltype(&fn), &fn>::call)

static void tape_run_all(void)
{
    size_t i;
    zero_flush();
    TP.running = 1;
    for (i = 0; i < TP.ent.size() && !CU.failed; i++)
        TP.ent[i].run(TP.bytes.data() + TP.ent[i].off);
    TP.running = 0;
    zero_flush(); // a captured graph is complete without the host
    side_join();
}

static int same_as_last(void)
{
    size_t i;
    if (!TP.last_valid || TP.last_gen != CU.param_gen || TP.last_epoch != CU.buf_epoch ||
        TP.ent.size() != TP.last_ent.size() || TP.bytes.size() != TP.last_bytes.size())
        return 0;
    for (i = 0; i < TP.ent.size(); i++)
        if (TP.ent[i].run != TP.last_ent[i].run)
            return 0;
    return memcmp(TP.bytes.data(), TP.last_bytes.data(), TP.bytes.size()) == 0;
}

static void drop_graph(void)
{
    if (TP.exec)
        cudaGraphExecDestroy(TP.exec);
    TP.exec = NULL;
}

// The synchronisation point: the recorded operations run (see above); the tape is empty after.
static void tape_flush(void)
{
    if (!CU.graph || TP.running || TP.ent.empty()) {
        TP.staging_used = 0;
        zero_flush();
        side_join();
        return;
    }
    if (!CU.failed) {
        int same = same_as_last();
        if (same && !TP.exec) { // second sight: capture
            cudaGraph_t g = NULL;
            if (!ck(cudaStreamBeginCapture(CU.stream, cudaStreamCaptureModeThreadLocal), "graph: begin capture")) {
                cudaError_t e;
                tape_run_all();
                e = cudaStreamEndCapture(CU.stream, &g);
                if (!CU.failed && !ck(e, "graph: end capture") &&
                    !ck(cudaGraphInstantiate(&TP.exec, g, 0), "graph: instantiate"))
                    TP.captures++;
                if (g)
                    cudaGraphDestroy(g);
            }
        }
        if (same && TP.exec && !CU.failed) {
            ck(cudaGraphLaunch(TP.exec, CU.stream), "graph: launch");
            TP.launches++;
        } else if (!CU.failed) { // first sight: as recorded, and remembered
            drop_graph();
            tape_run_all();
            TP.eager++;
            TP.last_ent.swap(TP.ent);
            TP.last_bytes.swap(TP.bytes);
            TP.last_gen = CU.param_gen;
            TP.last_epoch = CU.buf_epoch;
            TP.last_valid = 1;
        }
    }
    TP.ent.clear();
    TP.bytes.clear();
    if (TP.staging_used && !CU.failed) // the launched copies read the staging: done before it is reused
        ck(cudaStreamSynchronize(CU.stream), "graph: synchronise");
    TP.staging_used = 0;
}

// Pinned staging for a recorded upload of n floats; NULL (flushed: upload synchronously) when full.
static float *tape_stage(size_t n)
{
    float *p;
    if (!taping() || !TP.staging || TP.staging_used + n > TP.staging_cap)
        return NULL;
    p = TP.staging + TP.staging_used;
    TP.staging_used += (n + 15) & ~(size_t)15;
    return p;
}

static int is_device(const void *p)
{
    cudaPointerAttributes a;
    if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
        cudaGetLastError(); // clear: an unregistered host pointer is not an error here
        return 0;
    }
    return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
}

static void tape_stats(FILE *f)
{
    if (TP.launches || TP.captures || TP.eager)
        fprintf(f, "graphs: %llu tapes run as recorded, %llu captured, %llu graph launches\n", TP.eager, TP.captures,
                TP.launches);
}

static void tape_reset(void)
{
    drop_graph();
    TP.ent.clear();
    TP.bytes.clear();
    TP.last_ent.clear();
    TP.last_bytes.clear();
    TP.last_valid = 0;
    TP.running = 0;
    TP.staging_used = 0;
}

// ------------------------------------------------------------------ exact element kernels
//
// Per layer op X of backend.h: SIG_X its parameters without the trailing scratch and ex,
// ARG_X their names, SIZ_X its int/long size arguments in order (those of the
// ggdm_elem_X_Y_count functions). ELEM(X, Y) then defines the kernel k_X_Y (one thread per
// element of output Y, a grid-stride loop) and the launcher l_X_Y (nothing when Y is NULL,
// when the count is not positive, or after an error); x_X launches X's outputs in order.
// The ops and their outputs come from ggdm/elem.h's tables (GGDM_ELEM_OPS,
// GGDM_ELEM_LAUNCHES_X): adding an op there needs only its SIG/ARG/SIZ triple here (and
// its entry in the backend tables at the end).

#define UNPACK(...) __VA_ARGS__

#define SIG_conv1d_forward \
    (float *y, const float *x, const float *w, const float *b, int N, int Cin, int Lin, int Cout, int K, int stride, int pad)
#define ARG_conv1d_forward (y, x, w, b, N, Cin, Lin, Cout, K, stride, pad)
#define SIZ_conv1d_forward (N, Cin, Lin, Cout, K, stride, pad)

#define SIG_conv1d_backward                                                                                       \
    (float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N, int Cin, int Lin, \
     int Cout, int K, int stride, int pad)
#define ARG_conv1d_backward (dx, dw, db, dy, x, w, N, Cin, Lin, Cout, K, stride, pad)
#define SIZ_conv1d_backward (N, Cin, Lin, Cout, K, stride, pad)

#define SIG_linear_forward (float *y, const float *x, const float *W, const float *b, int N, int In, int Out)
#define ARG_linear_forward (y, x, W, b, N, In, Out)
#define SIZ_linear_forward (N, In, Out)

#define SIG_linear_backward \
    (float *dx, float *dW, float *db, const float *dy, const float *x, const float *W, int N, int In, int Out)
#define ARG_linear_backward (dx, dW, db, dy, x, W, N, In, Out)
#define SIZ_linear_backward (N, In, Out)

#define SIG_ws_forward (float *w_hat, float *rstd, const float *w, int Cout, int fan)
#define ARG_ws_forward (w_hat, rstd, w, Cout, fan)
#define SIZ_ws_forward (Cout, fan)

#define SIG_ws_backward (float *dw, const float *dw_hat, const float *w_hat, const float *rstd, int Cout, int fan)
#define ARG_ws_backward (dw, dw_hat, w_hat, rstd, Cout, fan)
#define SIZ_ws_backward (Cout, fan)

#define SIG_groupnorm_forward                                                                                  \
    (float *y, float *mean, float *rstd, const float *x, const float *gamma, const float *beta, int N, int C, \
     int L, int G)
#define ARG_groupnorm_forward (y, mean, rstd, x, gamma, beta, N, C, L, G)
#define SIZ_groupnorm_forward (N, C, L, G)

#define SIG_groupnorm_backward                                                                            \
    (float *dx, float *dgamma, float *dbeta, const float *dy, const float *x, const float *mean,          \
     const float *rstd, const float *gamma, int N, int C, int L, int G)
#define ARG_groupnorm_backward (dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, L, G)
#define SIZ_groupnorm_backward (N, C, L, G)

#define SIG_chnorm_forward (float *y, float *mean, float *rstd, const float *x, const float *g, int N, int C, int L)
#define ARG_chnorm_forward (y, mean, rstd, x, g, N, C, L)
#define SIZ_chnorm_forward (N, C, L)

#define SIG_chnorm_backward                                                                                    \
    (float *dx, float *dg, const float *dy, const float *x, const float *mean, const float *rstd, const float *g, \
     int N, int C, int L)
#define ARG_chnorm_backward (dx, dg, dy, x, mean, rstd, g, N, C, L)
#define SIZ_chnorm_backward (N, C, L)

#define SIG_silu_forward (float *y, const float *x, long n)
#define ARG_silu_forward (y, x, n)
#define SIZ_silu_forward (n)
#define SIG_silu_backward (float *dx, const float *dy, const float *x, long n)
#define ARG_silu_backward (dx, dy, x, n)
#define SIZ_silu_backward (n)
#define SIG_gelu_forward (float *y, const float *x, long n)
#define ARG_gelu_forward (y, x, n)
#define SIZ_gelu_forward (n)
#define SIG_gelu_backward (float *dx, const float *dy, const float *x, long n)
#define ARG_gelu_backward (dx, dy, x, n)
#define SIZ_gelu_backward (n)

#define SIG_scale_shift_forward (float *y, const float *x, const float *ss, int N, int C, int L)
#define ARG_scale_shift_forward (y, x, ss, N, C, L)
#define SIZ_scale_shift_forward (N, C, L)
#define SIG_scale_shift_backward \
    (float *dx, float *dss, const float *dy, const float *x, const float *ss, int N, int C, int L)
#define ARG_scale_shift_backward (dx, dss, dy, x, ss, N, C, L)
#define SIZ_scale_shift_backward (N, C, L)

#define SIG_upsample2_forward (float *y, const float *x, int N, int C, int L)
#define ARG_upsample2_forward (y, x, N, C, L)
#define SIZ_upsample2_forward (N, C, L)
#define SIG_upsample2_backward (float *dx, const float *dy, int N, int C, int L)
#define ARG_upsample2_backward (dx, dy, N, C, L)
#define SIZ_upsample2_backward (N, C, L)

#define SIG_linattn_forward                                                                                   \
    (float *out, float *cache_q, float *cache_k, float *cache_ctx, const float *qkv, int N, int H, int Dh, int L)
#define ARG_linattn_forward (out, cache_q, cache_k, cache_ctx, qkv, N, H, Dh, L)
#define SIZ_linattn_forward (N, H, Dh, L)
#define SIG_linattn_backward                                                                                  \
    (float *dqkv, const float *dout, const float *qkv, const float *cache_q, const float *cache_k,            \
     const float *cache_ctx, int N, int H, int Dh, int L)
#define ARG_linattn_backward (dqkv, dout, qkv, cache_q, cache_k, cache_ctx, N, H, Dh, L)
#define SIZ_linattn_backward (N, H, Dh, L)

#define SIG_attn_forward (float *out, float *cache_attn, const float *qkv, int N, int H, int Dh, int L)
#define ARG_attn_forward (out, cache_attn, qkv, N, H, Dh, L)
#define SIZ_attn_forward (N, H, Dh, L)
#define SIG_attn_backward \
    (float *dqkv, const float *dout, const float *qkv, const float *cache_attn, int N, int H, int Dh, int L)
#define ARG_attn_backward (dqkv, dout, qkv, cache_attn, N, H, Dh, L)
#define SIZ_attn_backward (N, H, Dh, L)

#define SIG_time_embedding (float *emb, const float *t, int N, int dim)
#define ARG_time_embedding (emb, t, N, dim)
#define SIZ_time_embedding (N, dim)

#define ELEM(X, Y) ELEM_(X, Y, SIG_##X, ARG_##X, SIZ_##X)
#define ELEM_(X, Y, SIG, ARG, SIZ)                                                                    \
    __global__ void k_##X##_##Y(UNPACK SIG, long long count_)                                         \
    {                                                                                                 \
        long long i_ = (long long)blockIdx.x * blockDim.x + threadIdx.x;                              \
        long long step_ = (long long)gridDim.x * blockDim.x;                                          \
        for (; i_ < count_; i_ += step_)                                                              \
            ggdm_elem_##X##_##Y(UNPACK ARG, (long)i_);                                                \
    }                                                                                                 \
    static void l_##X##_##Y(UNPACK SIG)                                                               \
    {                                                                                                 \
        long long count_;                                                                             \
        if (!Y || CU.failed)                                                                          \
            return;                                                                                   \
        prof_enter();                                                                                 \
        count_ = (long long)ggdm_elem_##X##_##Y##_count SIZ;                                          \
        if (count_ <= 0)                                                                              \
            return;                                                                                   \
        k_##X##_##Y<<<grid_for(count_), THREADS, 0, CU.stream>>>(UNPACK ARG, count_);                               \
        ck_launch("kernel " #X "." #Y);                                                               \
    }

// Every (op, output) pair of ggdm/elem.h's tables: a kernel and a launcher each.
#define ELEM_KERNELS(X) GGDM_ELEM_LAUNCHES_##X(ELEM)
GGDM_ELEM_OPS(ELEM_KERNELS)

// The exact layer operations x_X: the launchers of X's outputs, in the LAUNCH ORDER of
// ggdm/elem.h (an output may read one launched before it; the default stream serialises).
#define ELEM_CALL(X, Y) l_##X##_##Y ARG_##X;
#define EXACT_OP(X) EXACT_OP_(X, SIG_##X, GGDM_ELEM_LAUNCHES_##X(ELEM_CALL))
#define EXACT_OP_(X, SIG, BODY) \
    static void x_##X(UNPACK SIG) { BODY }
GGDM_ELEM_OPS(EXACT_OP)

// The signatures of backend.h that carry scratch (and ex): the element kernels need neither.
static void e_conv1d_forward(float *y, const float *x, const float *w, const float *b, int N, int Cin, int Lin,
                             int Cout, int K, int stride, int pad, float *scratch, const struct ggdm_exec *ex)
{
    (void)scratch, (void)ex;
    x_conv1d_forward(y, x, w, b, N, Cin, Lin, Cout, K, stride, pad);
}

static void e_conv1d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                              int N, int Cin, int Lin, int Cout, int K, int stride, int pad, float *scratch,
                              const struct ggdm_exec *ex)
{
    (void)scratch, (void)ex;
    x_conv1d_backward(dx, dw, db, dy, x, w, N, Cin, Lin, Cout, K, stride, pad);
}


// ------------------------------------------------------------------ memory operations

template <typename I>
__global__ void k_add_into(float *dst, const float *src, I n)
{
    I i = (I)blockIdx.x * blockDim.x + threadIdx.x, step = (I)gridDim.x * blockDim.x;
    for (; i < n; i += step)
        dst[i] = dst[i] + src[i];
}

// The parameters as device memory: one cached copy per host array (a few arrays at most),
// uploaded when first seen, when `changed`, or when the host array's contents changed
// since (XXH3-128 of the bytes: trainers update the parameters in place, so the contents, not
// the pointer, decide; the later steps of one sampling call pass changed < 0 and skip the
// hash, a few ms for the paper's 14.9 M parameters). GGDM_CUDA_PARAMS=trust
// skips the hash (a few ms for the paper's 14.9 M parameters) for callers that never
// change a parameter array in place.
static const float *cu_params(void *ctx, const float *host, uint64_t n, int changed)
{
    tape_flush();
    prof_scope ps_("params");
    param_entry *e = NULL;
    XXH128_hash_t h;
    int i;
    (void)ctx;
    if (CU.failed || !host || n == 0)
        return NULL;
    // changed < 0: the library guarantees no change since the last call (a sampling loop's
    // later steps); GGDM_CUDA_PARAMS=trust: the caller never changes them in place
    if ((changed < 0 && !CU.params_hash) || (CU.trust_params && !changed))
        for (i = 0; i < NPARAM_CACHE; i++)
            if (CU.prm[i].dev && CU.prm[i].host == host && CU.prm[i].n == n) {
                CU.prm[i].used = ++CU.clock;
                return CU.prm[i].dev;
            }
    h = XXH3_128bits(host, (size_t)n * sizeof(float));
    for (i = 0; i < NPARAM_CACHE; i++)
        if (CU.prm[i].dev && CU.prm[i].host == host && CU.prm[i].n == n) {
            e = &CU.prm[i];
            break;
        }
    if (e && changed <= 0 && XXH128_isEqual(e->hash, h)) {
        e->used = ++CU.clock;
        return e->dev;
    }
    if (!e) { // a free entry, else the least recently used one
        e = &CU.prm[0];
        for (i = 0; i < NPARAM_CACHE; i++) {
            if (!CU.prm[i].dev) {
                e = &CU.prm[i];
                break;
            }
            if (CU.prm[i].used < e->used)
                e = &CU.prm[i];
        }
    }
    if (e->cap < n) {
        size_t capb = (size_t)e->cap * sizeof(float);
        if (grow(&e->dev, &capb, (size_t)n * sizeof(float), "params: cudaMalloc")) {
            memset(e, 0, sizeof *e);
            return NULL;
        }
        e->cap = n;
    }
    e->host = host;
    e->n = n;
    CU.param_gen++; // every cached weight standardisation is stale now
    if (ck(cudaMemcpy(e->dev, host, (size_t)n * sizeof(float), cudaMemcpyHostToDevice), "params: upload")) {
        e->host = NULL;
        return NULL;
    }
    e->hash = h;
    e->used = ++CU.clock;
    return e->dev;
}

static float *cu_grads_begin(void *ctx, float *host, uint64_t n)
{
    tape_flush();
    prof_scope ps_("grads_begin (upload)");
    size_t cap = (size_t)CU.grads_cap * sizeof(float);
    (void)ctx;
    if (CU.failed || !host || n == 0)
        return NULL;
    if (grow(&CU.grads, &cap, (size_t)n * sizeof(float), "grads: cudaMalloc")) {
        CU.grads_cap = 0;
        return NULL;
    }
    CU.grads_cap = cap / sizeof(float);
    if (ck(cudaMemcpy(CU.grads, host, (size_t)n * sizeof(float), cudaMemcpyHostToDevice), "grads: upload"))
        return NULL;
    return CU.grads;
}

static void cu_grads_end(void *ctx, float *host, float *dev, uint64_t n)
{
    tape_flush();
    prof_scope ps_("grads_end (download)");
    (void)ctx;
    if (CU.failed || !host || !dev || n == 0)
        return;
    ck(cudaMemcpy(host, dev, (size_t)n * sizeof(float), cudaMemcpyDeviceToHost), "grads: download");
}

// cudaMemcpyDefault: the direction follows from the pointers (unified addressing), so a
// host pointer where device memory was expected (the trace of the network's input) still
// copies correctly.
// From pinned staging memory (graph mode): recorded.
static void upload_async(float *dst, const float *pinned, size_t n)
{
    prof_scope ps_("upload (staged)");
    if (!CU.failed)
        ck(cudaMemcpyAsync(dst, pinned, n * sizeof(float), cudaMemcpyHostToDevice, CU.stream), "upload (staged)");
}

static void cu_upload(void *ctx, float *dst, const float *host_src, size_t n)
{
    float *st;
    (void)ctx;
    if (CU.failed || n == 0)
        return;
    if (taping() && is_device(dst) && (st = tape_stage(n))) {
        memcpy(st, host_src, n * sizeof(float));
        tape_or_run(upload_async, dst, (const float *)st, n);
        return;
    }
    tape_flush();
    prof_scope ps_("upload");
    ck(cudaMemcpy(dst, host_src, n * sizeof(float), cudaMemcpyDefault), "upload");
}

static void cu_download(void *ctx, float *host_dst, const float *src, size_t n)
{
    tape_flush();
    prof_scope ps_("download");
    (void)ctx;
    if (CU.failed || n == 0)
        return;
    ck(cudaMemcpy(host_dst, src, n * sizeof(float), cudaMemcpyDefault), "download");
}

// Device to device on the stream (recorded in graph mode).
static void copy_async(float *dst, const float *src, size_t n)
{
    prof_scope ps_("copy");
    if (!CU.failed)
        ck(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, CU.stream), "copy");
}

static void cu_copy(void *ctx, float *dst, const float *src, size_t n)
{
    (void)ctx;
    if (CU.failed || n == 0 || dst == src)
        return;
    if (taping() && is_device(dst) && is_device(src)) {
        tape_or_run(copy_async, dst, src, n);
        return;
    }
    tape_flush();
    prof_scope ps_("copy");
    ck(cudaMemcpy(dst, src, n * sizeof(float), cudaMemcpyDefault), "copy");
}

static void cu_zero(void *ctx, float *dst, size_t n)
{
    (void)ctx;
    zero_flush();
    if (CU.failed || n == 0)
        return;
    if (CU.mode == GGDM_CUDA_FAST && !CU.eager_zero) { // deferred: see zero_take
        ZP.p = dst;
        ZP.n = n;
        return;
    }
    prof_scope ps_("zero");
    ck(cudaMemsetAsync(dst, 0, n * sizeof(float), CU.stream), "zero");
}

static void cu_add_into(void *ctx, float *dst, const float *src, size_t n)
{
    prof_enter();
    (void)ctx;
    if (CU.failed || n == 0)
        return;
    LAUNCH_I(k_add_into, n, n, dst, src, (long long)n);
    ck_launch("kernel add_into");
}

static void cu_steps(void *ctx, float *dst, const int64_t *host_t, int N)
{
    int i;
    float *st;
    (void)ctx;
    if (CU.failed || N <= 0)
        return;
    if (taping() && is_device(dst) && (st = tape_stage((size_t)N))) {
        for (i = 0; i < N; i++)
            st[i] = (float)host_t[i];
        tape_or_run(upload_async, dst, (const float *)st, (size_t)N);
        return;
    }
    tape_flush();
    prof_scope ps_("steps (upload)");
    if (CU.host_tmp_cap < (size_t)N) {
        float *p = (float *)realloc(CU.host_tmp, sizeof(float) * (size_t)N);
        if (!p) {
            record("steps: out of host memory (%d floats)", N);
            return;
        }
        CU.host_tmp = p;
        CU.host_tmp_cap = (size_t)N;
    }
    for (i = 0; i < N; i++)
        CU.host_tmp[i] = (float)host_t[i];
    ck(cudaMemcpy(dst, CU.host_tmp, sizeof(float) * (size_t)N, cudaMemcpyHostToDevice), "steps: upload");
}

// Nonzero once a CUDA or cuBLAS call failed: the library then fails the network call with
// GGDM_ERR_DEVICE instead of returning what the device left in the outputs. A pending
// asynchronous kernel error is collected here too.
static int cu_failed(void *ctx)
{
    tape_flush();
    prof_scope ps_("failed (synchronise)");
    (void)ctx;
    if (!CU.failed)
        ck(cudaDeviceSynchronize(), "a kernel of this call");
    return CU.failed;
}

// The plan's workspace: one device arena, grown when a call needs more, kept until
// shutdown. Nothing in it outlives one library call (the plan writes before it reads).
static float *cu_workspace(void *ctx, void *host_ws, size_t bytes)
{
    tape_flush();
    prof_scope ps_("workspace");
    (void)ctx, (void)host_ws;
    CU.n_rd = 0; // a network call starts: its ws_forward calls announce their results again
    if (CU.failed)
        return NULL; // the library call fails (GGDM_ERR_BUFFER_TOO_SMALL); the error is recorded
    if (grow(&CU.ws, &CU.ws_bytes, bytes, "workspace: cudaMalloc"))
        return NULL;
    return CU.ws;
}

// ------------------------------------------------------------------ both modes: rows, staged ops, caches

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

static void cu_copy_rows(void *ctx, float *dst, size_t dst_stride, const float *src, size_t src_stride, size_t rows,
                         size_t cols)
{
    prof_scope ps_("copy_rows");
    (void)ctx;
    if (CU.failed || rows == 0 || cols == 0)
        return;
    if (CU.rows_loop) {
        size_t r;
        for (r = 0; r < rows && !CU.failed; r++)
            ck(cudaMemcpyAsync(dst + r * dst_stride, src + r * src_stride, cols * sizeof(float),
                               cudaMemcpyDeviceToDevice, CU.stream),
               "copy_rows (row by row)");
        return;
    }
    ck(cudaMemcpy2DAsync(dst, dst_stride * sizeof(float), src, src_stride * sizeof(float), cols * sizeof(float), rows,
                         cudaMemcpyDeviceToDevice, CU.stream),
       "copy_rows");
}

static void cu_add_rows(void *ctx, float *dst, size_t dst_stride, const float *src, size_t src_stride, size_t rows,
                        size_t cols)
{
    long long n = (long long)rows * (long long)cols;
    (void)ctx;
    if (CU.failed || n <= 0)
        return;
    prof_enter();
    LAUNCH_I(k_add_rows, n, (long long)rows * (long long)(dst_stride > src_stride ? dst_stride : src_stride) + (long long)cols,
             dst, (long long)dst_stride, src, (long long)src_stride, (long long)rows, (long long)cols);
    ck_launch("kernel add_rows");
}

// Grows a private device buffer (contents not kept) and returns it, NULL on failure.
static float *private_floats(float **p, size_t *cap_bytes, size_t n, const char *what)
{
    return grow(p, cap_bytes, n * sizeof(float), what) ? NULL : *p;
}

// LinearAttention backward in five launches (ggdm/elem.h, ..._dqkv_staged): dctx, dks and
// the q part's softmax values, dp and t stored once instead of recomputed by every element;
// the same bits.
__global__ void k_linattn_dctx(float *dctx, const float *dout, const float *cq, int N, int H, int Dh, int L,
                               long long count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < count; i += step)
        ggdm_elem_linattn_backward_dctx(dctx, dout, cq, N, H, Dh, L, (long)i);
}

__global__ void k_linattn_dks(float *dks, const float *dctx, const float *qkv, int N, int H, int Dh, int L,
                              long long count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < count; i += step)
        ggdm_elem_linattn_backward_dks(dks, dctx, qkv, N, H, Dh, L, (long)i);
}

__global__ void k_linattn_qpg(float *qp, float *qg, const float *dout, const float *qkv, const float *cctx, int N,
                              int H, int Dh, int L, long long count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < count; i += step)
        ggdm_elem_linattn_backward_qpg(qp, qg, dout, qkv, cctx, N, H, Dh, L, (long)i);
}

__global__ void k_linattn_qt(float *qt, const float *qp, const float *qg, int N, int H, int Dh, int L, long long count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < count; i += step)
        ggdm_elem_linattn_backward_qt(qt, qp, qg, N, H, Dh, L, (long)i);
}

__global__ void k_linattn_dqkv_staged(float *dqkv, const float *ckk, const float *dctx, const float *dks,
                                      const float *qp, const float *qg, const float *qt, int N, int H, int Dh, int L,
                                      long long count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < count; i += step)
        ggdm_elem_linattn_backward_dqkv_staged(dqkv, ckk, dctx, dks, qp, qg, qt, N, H, Dh, L, (long)i);
}

// ------------------------------------------------------------------ LinearAttention, one block per head
//
// The whole LinearAttention forward (and backward) of one (sample, head) in one thread block:
// the intermediates (qs, ks, ctx; dctx, dks, p, dp, s, t) in shared memory, every value by the
// same chain as the reference's element functions (ggdm/elem.h: ggdm_dot_f32, fmaf in the same
// order, ggdm_elem_softmax_stats, ggdm_expf), so the results have the reference's bits; one
// launch instead of four (forward) or five (backward), and no per-element recomputation.
// Used when the shared memory fits (la_fused_smem <= LA_SMEM_MAX; the paper's L <= 64 needs
// 21 KiB); GGDM_CUDA_LAFUSED=0 uses the staged launches instead.
#define LA_THREADS 1024
#define LA_SMEM_MAX (96 * 1024) // opted in at initialisation (cudaFuncAttributeMaxDynamicSharedMemorySize)

// Shared memory (floats): forward q/qs, k/ks, v [Dh, L] each, ctx [Dh, Dh], the softmax
// statistics; backward dout, qs, ks, v, q/p, dks/dp [Dh, L] each, ctx, dctx [Dh, Dh], s, the
// statistics and t. The paper's L = 64, Dh = 32: 29 KiB and 58 KiB (above 48 KiB: opted in).
static size_t la_fwd_smem(int Dh, int L)
{
    return sizeof(float) * ((size_t)3 * Dh * L + (size_t)Dh * Dh + (size_t)2 * (L > Dh ? L : Dh));
}

static size_t la_bwd_smem(int Dh, int L)
{
    return sizeof(float) * ((size_t)6 * Dh * L + (size_t)2 * Dh * Dh + (size_t)Dh + (size_t)3 * L);
}

// A softmax of R rows of n values each, row r's value j at x[r*rs + j*js], as
// ggdm_elem_softmax_stats computes it (m: the max scan from element 0; sum: the chain of
// ggdm_expf(x - m) from +0), written to y[r*rs + j*js] = ggdm_expf(x - m) / sum (* post,
// unless post is 1: then no product): the scans and chains one thread per row, the
// exponentials and quotients by all threads (each value once, stored in e). Every thread of
// the block must call it; it synchronises.
__device__ static void la_softmax(float *y, float *e, float *stat, const float *x, int R, int n, int rs, int js,
                                  float post, int has_post)
{
    int tid = threadIdx.x, nt = blockDim.x, i, j;
    for (i = tid; i < R; i += nt) {
        float m = x[(long)i * rs];
        for (j = 1; j < n; j++) {
            float v = x[(long)i * rs + (long)j * js];
            m = v > m ? v : m;
        }
        stat[2 * i] = m;
    }
    __syncthreads();
    for (i = tid; i < R * n; i += nt) {
        int r = i / n, c = i % n;
        e[(long)r * rs + (long)c * js] = ggdm_expf(x[(long)r * rs + (long)c * js] - stat[2 * r]);
    }
    __syncthreads();
    for (i = tid; i < R; i += nt) {
        float sum = 0.0f;
        for (j = 0; j < n; j++)
            sum = sum + e[(long)i * rs + (long)j * js];
        stat[2 * i + 1] = sum;
    }
    __syncthreads();
    for (i = tid; i < R * n; i += nt) {
        int r = i / n, c = i % n;
        long o = (long)r * rs + (long)c * js;
        float t = e[o] / stat[2 * r + 1];
        y[o] = has_post ? t * post : t;
    }
    __syncthreads();
}

// Copies n floats from global to shared memory (all threads; the caller synchronises).
__device__ static void la_load(float *dst, const float *src, int n)
{
    int i;
    for (i = threadIdx.x; i < n; i += blockDim.x)
        dst[i] = src[i];
}

__global__ void __launch_bounds__(LA_THREADS)
k_linattn_fwd_fused(float *out, float *cache_q, float *cache_k, float *cache_ctx, const float *qkv, int H, int Dh,
                    int L)
{
    extern __shared__ float la_sm[];
    int DL = Dh * L;
    float *qs = la_sm, *ks = qs + DL, *v = ks + DL, *ctx = v + DL, *stat = ctx + Dh * Dh;
    int n = blockIdx.x / H, h = blockIdx.x % H, tid = threadIdx.x, nt = blockDim.x, i;
    long ho = ggdm_elem_head_off(n, H, Dh, L, h), co = ggdm_elem_head_off(n, H, Dh, Dh, h);
    // q, k, v of this head are contiguous [Dh, L] blocks
    la_load(qs, qkv + ggdm_elem_qkv_off(n, 0, H, Dh, L, h), DL);
    la_load(ks, qkv + ggdm_elem_qkv_off(n, 1, H, Dh, L, h), DL);
    la_load(v, qkv + ggdm_elem_qkv_off(n, 2, H, Dh, L, h), DL);
    __syncthreads();
    // in place: qs[d, l] = (softmax over d of q[:, l])[d] * scale; ks[d, l] = (softmax over l of k[d, :])[l]
    la_softmax(qs, qs, stat, qs, L, Dh, 1, L, ggdm_attn_scale(Dh), 1);
    la_softmax(ks, ks, stat, ks, Dh, L, L, 1, 1.0f, 0);
    for (i = tid; i < DL; i += nt) {
        cache_q[ho + i] = qs[i];
        cache_k[ho + i] = ks[i];
    }
    for (i = tid; i < Dh * Dh; i += nt) { // ctx[d, e] = chain over l of fmaf(v[e,l], ks[d,l], acc)
        int d = i / Dh, e = i % Dh;
        float t = ggdm_dot_f32(v + e * L, 1, ks + d * L, 1, L);
        ctx[i] = t;
        cache_ctx[co + i] = t;
    }
    __syncthreads();
    for (i = tid; i < DL; i += nt) { // out[e, l] = chain over d of fmaf(qs[d,l], ctx[d,e], acc)
        int e = i / L, l = i % L;
        out[ho + i] = ggdm_dot_f32(qs + l, L, ctx + e, Dh, Dh);
    }
}

__global__ void __launch_bounds__(LA_THREADS)
k_linattn_bwd_fused(float *dqkv, const float *dout, const float *qkv, const float *cache_q, const float *cache_k,
                    const float *cache_ctx, int H, int Dh, int L, int fresh)
{
    extern __shared__ float la_sm[];
    int DL = Dh * L;
    float *go = la_sm, *qs = go + DL, *ks = qs + DL, *v = ks + DL, *qp = v + DL, *dks = qp + DL, *ctx = dks + DL;
    float *dctx = ctx + Dh * Dh, *sd = dctx + Dh * Dh, *st = sd + Dh, *tl = st + 2 * L;
    float *qg = dks; // dp reuses dks's space once the k part is done
    int n = blockIdx.x / H, h = blockIdx.x % H, tid = threadIdx.x, nt = blockDim.x, i, j;
    long ho = ggdm_elem_head_off(n, H, Dh, L, h), co = ggdm_elem_head_off(n, H, Dh, Dh, h);
    long oq = ggdm_elem_qkv_off(n, 0, H, Dh, L, h), ok = ggdm_elem_qkv_off(n, 1, H, Dh, L, h),
         ov = ggdm_elem_qkv_off(n, 2, H, Dh, L, h);
    la_load(go, dout + ho, DL);
    la_load(qs, cache_q + ho, DL);
    la_load(ks, cache_k + ho, DL);
    la_load(v, qkv + ov, DL);
    la_load(qp, qkv + oq, DL); // q, replaced by p below
    la_load(ctx, cache_ctx + co, Dh * Dh);
    __syncthreads();
    for (i = tid; i < Dh * Dh; i += nt) // dctx[d, e] = chain over l of fmaf(dout[e,l], qs[d,l], acc)
        dctx[i] = ggdm_elem_linattn_dctx(go, qs, i / Dh, i % Dh, L);
    __syncthreads();
    for (i = tid; i < 2 * DL; i += nt) {
        int w = i / DL, r = i % DL, d = r / L, l = r % L;
        float acc = 0.0f;
        if (w == 0) { // dks[d, l] = chain over e of fmaf(v[e,l], dctx[d,e], acc)
            for (j = 0; j < Dh; j++)
                acc = fmaf(v[j * L + l], dctx[d * Dh + j], acc);
            dks[r] = acc;
        } else { // the v part, channel e = d: chain over d' of fmaf(ks[d',l], dctx[d',e], acc)
            for (j = 0; j < Dh; j++)
                acc = fmaf(ks[j * L + l], dctx[j * Dh + d], acc);
            dqkv[ov + r] = fresh ? acc : dqkv[ov + r] + acc; // fresh: dqkv was to be zeroed
        }
    }
    __syncthreads();
    for (i = tid; i < Dh; i += nt) { // s[d] = chain over l of fmaf(ks[d,l], dks[d,l], acc)
        float acc = 0.0f;
        for (j = 0; j < L; j++)
            acc = fmaf(ks[i * L + j], dks[i * L + j], acc);
        sd[i] = acc;
    }
    __syncthreads();
    for (i = tid; i < DL; i += nt) { // the k part: ks[d,l] * (dks[d,l] - s[d])
        float g = ks[i] * (dks[i] - sd[i / L]);
        dqkv[ok + i] = fresh ? g : dqkv[ok + i] + g;
    }
    __syncthreads();
    // p = the softmax of q over d (as the forward's, without the scale; in place), then dp[d, l]
    la_softmax(qp, qp, st, qp, L, Dh, 1, L, 1.0f, 0);
    for (i = tid; i < DL; i += nt)
        qg[i] = ggdm_elem_linattn_dp(go, ctx, i / L, i % L, Dh, L);
    __syncthreads();
    for (i = tid; i < L; i += nt) { // t[l] = chain over d of fmaf(p[d,l], dp[d,l], acc)
        float acc = 0.0f;
        for (j = 0; j < Dh; j++)
            acc = fmaf(qp[j * L + i], qg[j * L + i], acc);
        tl[i] = acc;
    }
    __syncthreads();
    for (i = tid; i < DL; i += nt) { // the q part: p * (dp - t)
        float g = qp[i] * (qg[i] - tl[i % L]);
        dqkv[oq + i] = fresh ? g : dqkv[oq + i] + g;
    }
}

static int la_fused(int N, int H, int Dh, int L)
{
    return !CU.la_unfused && (long long)N * H <= 2147483647LL && la_fwd_smem(Dh, L) <= LA_SMEM_MAX &&
           la_bwd_smem(Dh, L) <= LA_SMEM_MAX;
}

static void s_linattn_backward(float *dqkv, const float *dout, const float *qkv, const float *cache_q,
                               const float *cache_k, const float *cache_ctx, int N, int H, int Dh, int L,
                               float *scratch)
{
    long long nd = ggdm_elem_linattn_backward_dctx_count(N, H, Dh, L);
    long long nk = ggdm_elem_linattn_backward_dks_count(N, H, Dh, L);
    long long nq = ggdm_elem_linattn_backward_dqkv_count(N, H, Dh, L);
    long long nqs = ggdm_elem_linattn_backward_qt_count(N, H, Dh, L), nact = nk; // [N, H*Dh, L]
    float *dc, *dk, *qp, *qg, *qt;
    (void)scratch;
    if (CU.failed || nq <= 0)
        return;
    if (CU.unstaged || !la_fused(N, H, Dh, L))
        zero_flush();
    if (CU.unstaged) {
        x_linattn_backward(dqkv, dout, qkv, cache_q, cache_k, cache_ctx, N, H, Dh, L);
        return;
    }
    prof_enter();
    if (la_fused(N, H, Dh, L)) {
        int fresh = zero_take(dqkv, (size_t)nq); // see zero_take (never in exact mode)
        k_linattn_bwd_fused<<<N * H, LA_THREADS, la_bwd_smem(Dh, L), CU.stream>>>(dqkv, dout, qkv, cache_q, cache_k,
                                                                                 cache_ctx, H, Dh, L, fresh);
        ck_launch("kernel linattn_backward (one block per head)");
        return;
    }
    if (!(dc = private_floats(&CU.att, &CU.att_cap, (size_t)(nd + nk + 2 * nact + nqs),
                              "linattn_backward: cudaMalloc")))
        return;
    dk = dc + nd;
    qp = dk + nk;
    qg = qp + nact;
    qt = qg + nact;
    k_linattn_dctx<<<grid_for(nd), THREADS, 0, CU.stream>>>(dc, dout, cache_q, N, H, Dh, L, nd);
    if (ck_launch("kernel linattn_backward.dctx"))
        return;
    k_linattn_dks<<<grid_for(nk), THREADS, 0, CU.stream>>>(dk, dc, qkv, N, H, Dh, L, nk);
    if (ck_launch("kernel linattn_backward.dks"))
        return;
    k_linattn_qpg<<<grid_for(nact), THREADS, 0, CU.stream>>>(qp, qg, dout, qkv, cache_ctx, N, H, Dh, L, nact);
    if (ck_launch("kernel linattn_backward.qpg"))
        return;
    k_linattn_qt<<<grid_for(nqs), THREADS, 0, CU.stream>>>(qt, qp, qg, N, H, Dh, L, nqs);
    if (ck_launch("kernel linattn_backward.qt"))
        return;
    k_linattn_dqkv_staged<<<grid_for(nq), THREADS, 0, CU.stream>>>(dqkv, cache_k, dc, dk, qp, qg, qt, N, H, Dh, L,
                                                                   nq);
    ck_launch("kernel linattn_backward.dqkv (staged)");
}

// LinearAttention forward with the softmax statistics stored once (ggdm/elem.h,
// ..._cache_q_staged / _cache_k_staged), then cache_ctx and out as the element kernels; the
// same bits.
__global__ void k_linattn_stats(float *qst, float *kst, const float *qkv, int N, int H, int Dh, int L, long long nq,
                                long long nk)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < nq + nk; i += step) {
        if (i < nq)
            ggdm_elem_linattn_forward_qstats(qst, qkv, N, H, Dh, L, (long)i);
        else
            ggdm_elem_linattn_forward_kstats(kst, qkv, N, H, Dh, L, (long)(i - nq));
    }
}

__global__ void k_linattn_qk(float *cache_q, float *cache_k, const float *qkv, const float *qst, const float *kst,
                             int N, int H, int Dh, int L, long long count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < 2 * count; i += step) {
        if (i < count)
            ggdm_elem_linattn_forward_cache_q_staged(cache_q, qkv, qst, N, H, Dh, L, (long)i);
        else
            ggdm_elem_linattn_forward_cache_k_staged(cache_k, qkv, kst, N, H, Dh, L, (long)(i - count));
    }
}

static void s_linattn_forward(float *out, float *cache_q, float *cache_k, float *cache_ctx, const float *qkv, int N,
                              int H, int Dh, int L)
{
    long long nq = ggdm_elem_linattn_forward_qstats_count(N, H, Dh, L);
    long long nk = ggdm_elem_linattn_forward_kstats_count(N, H, Dh, L);
    long long nc = ggdm_elem_linattn_forward_cache_q_count(N, H, Dh, L);
    float *qst, *kst;
    if (CU.failed || nc <= 0)
        return;
    if (CU.unstaged) {
        x_linattn_forward(out, cache_q, cache_k, cache_ctx, qkv, N, H, Dh, L);
        return;
    }
    prof_enter();
    if (la_fused(N, H, Dh, L)) {
        k_linattn_fwd_fused<<<N * H, LA_THREADS, la_fwd_smem(Dh, L), CU.stream>>>(out, cache_q, cache_k, cache_ctx,
                                                                                 qkv, H, Dh, L);
        ck_launch("kernel linattn_forward (one block per head)");
        return;
    }
    if (!(qst = private_floats(&CU.att, &CU.att_cap, (size_t)(2 * (nq + nk)), "linattn_forward: cudaMalloc")))
        return;
    kst = qst + 2 * nq;
    k_linattn_stats<<<grid_for(nq + nk), THREADS, 0, CU.stream>>>(qst, kst, qkv, N, H, Dh, L, nq, nk);
    if (ck_launch("kernel linattn_forward.stats"))
        return;
    k_linattn_qk<<<grid_for(2 * nc), THREADS, 0, CU.stream>>>(cache_q, cache_k, qkv, qst, kst, N, H, Dh, L, nc);
    if (ck_launch("kernel linattn_forward.cache_q, cache_k (staged)"))
        return;
    // cache_ctx reads cache_k; out reads cache_q and cache_ctx (the launch order of ggdm/elem.h)
    l_linattn_forward_cache_ctx(out, cache_q, cache_k, cache_ctx, qkv, N, H, Dh, L);
    l_linattn_forward_out(out, cache_q, cache_k, cache_ctx, qkv, N, H, Dh, L);
}

// Attention backward in two launches (ggdm/elem.h, ..._attn_backward_dqkv_staged): dsim
// stored once; the same bits.
__global__ void k_attn_dsim(float *dsim, const float *dout, const float *qkv, const float *ca, int N, int H, int Dh,
                            int L, long long count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < count; i += step)
        ggdm_elem_attn_backward_dsim(dsim, dout, qkv, ca, N, H, Dh, L, (long)i);
}

__global__ void k_attn_dqkv_staged(float *dqkv, const float *dout, const float *qkv, const float *ca,
                                   const float *dsim, int N, int H, int Dh, int L, long long count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x, step = (long long)gridDim.x * blockDim.x;
    for (; i < count; i += step)
        ggdm_elem_attn_backward_dqkv_staged(dqkv, dout, qkv, ca, dsim, N, H, Dh, L, (long)i);
}

static void s_attn_backward(float *dqkv, const float *dout, const float *qkv, const float *cache_attn, int N, int H,
                            int Dh, int L, float *scratch)
{
    long long nds = ggdm_elem_attn_backward_dsim_count(N, H, Dh, L);
    long long nq = ggdm_elem_attn_backward_dqkv_count(N, H, Dh, L);
    float *ds;
    (void)scratch;
    if (CU.failed || nq <= 0)
        return;
    if (CU.unstaged) {
        x_attn_backward(dqkv, dout, qkv, cache_attn, N, H, Dh, L);
        return;
    }
    prof_enter();
    if (!(ds = private_floats(&CU.att, &CU.att_cap, (size_t)nds, "attn_backward: cudaMalloc")))
        return;
    k_attn_dsim<<<grid_for(nds), THREADS, 0, CU.stream>>>(ds, dout, qkv, cache_attn, N, H, Dh, L, nds);
    if (ck_launch("kernel attn_backward.dsim"))
        return;
    k_attn_dqkv_staged<<<grid_for(nq), THREADS, 0, CU.stream>>>(dqkv, dout, qkv, cache_attn, ds, N, H, Dh, L, nq);
    ck_launch("kernel attn_backward.dqkv (staged)");
}

// Weight standardisation of a parameter array, cached until the parameters change (every
// sampling step standardises the same weights): the cached w_hat and rstd are the element
// kernels' own results, so the bits are the same; arrays outside the parameters are never
// cached.
static int in_params(const float *p)
{
    int i;
    for (i = 0; i < NPARAM_CACHE; i++)
        if (CU.prm[i].dev && p >= CU.prm[i].dev && p < CU.prm[i].dev + CU.prm[i].n)
            return 1;
    return 0;
}

// Fast mode: a cached weight standardisation is not copied into the plan's w_hat and rstd
// slots of the workspace; ws_forward notes where they are, and the operations that read them
// (Conv1d forward and backward: w; ws_backward: w_hat, rstd) read the cache instead. The
// notes hold for one network call (cleared by cu_workspace; a computed ws_forward drops the
// note of its slots). The plan writes those slots only by ws_forward (ref/src/unet.c: one
// w_hat/rstd slot per convolution), so nothing else sees the difference. GGDM_CUDA_WSCOPY=1
// copies instead.
static const float *ws_resolve(const float *p)
{
    int i;
    for (i = 0; i < CU.n_rd; i++) {
        if (CU.rd[i].w_hat == p)
            return CU.rd[i].buf;
        if (CU.rd[i].rstd == p)
            return CU.rd[i].buf + CU.rd[i].nw;
    }
    return p;
}

static void ws_unresolve(const float *w_hat, const float *rstd)
{
    int i;
    for (i = 0; i < CU.n_rd; i++)
        if (CU.rd[i].w_hat == w_hat || CU.rd[i].rstd == rstd) {
            CU.rd[i] = CU.rd[--CU.n_rd];
            i--;
        }
}

static void f_ws_backward(float *dw, const float *dw_hat, const float *w_hat, const float *rstd, int Cout, int fan)
{
    x_ws_backward(dw, dw_hat, ws_resolve(w_hat), ws_resolve(rstd), Cout, fan);
}

static void c_ws_forward(float *w_hat, float *rstd, const float *w, int Cout, int fan)
{
    ws_cached *e = NULL;
    size_t nw = (size_t)Cout * (size_t)fan;
    int i, cacheable;
    if (CU.failed || Cout <= 0 || fan <= 0)
        return;
    cacheable = !CU.no_wscache && in_params(w);
    if (cacheable)
        for (i = 0; i < CU.n_wsc; i++)
            if (CU.wsc[i].w == w && CU.wsc[i].Cout == Cout && CU.wsc[i].fan == fan) {
                e = &CU.wsc[i];
                break;
            }
    ws_unresolve(w_hat, rstd);
    if (side_pending_at(w) || side_pending_at(w_hat) || side_pending_at(rstd)) // (the plan never does: see side_join)
        side_join();
    if (e && e->gen == CU.param_gen && CU.mode == GGDM_CUDA_FAST && !CU.ws_copy && CU.n_rd < NWS_CACHE) {
        // no copy: the operations that read w_hat or rstd read the cache (ws_resolve)
        CU.rd[CU.n_rd].w_hat = w_hat;
        CU.rd[CU.n_rd].rstd = rstd;
        CU.rd[CU.n_rd].buf = e->buf;
        CU.rd[CU.n_rd].nw = nw;
        CU.n_rd++;
        return;
    }
    if (e && e->gen == CU.param_gen) {
        prof_scope ps_("ws_forward (cached: copies)");
        if (rstd == w_hat + nw) { // the plan keeps them adjacent: one copy (the cache is laid out the same)
            ck(cudaMemcpyAsync(w_hat, e->buf, (nw + (size_t)Cout) * sizeof(float), cudaMemcpyDeviceToDevice,
                               CU.stream),
               "ws cache: copy");
            return;
        }
        if (!ck(cudaMemcpyAsync(w_hat, e->buf, nw * sizeof(float), cudaMemcpyDeviceToDevice, CU.stream), "ws cache: copy"))
            ck(cudaMemcpyAsync(rstd, e->buf + nw, (size_t)Cout * sizeof(float), cudaMemcpyDeviceToDevice, CU.stream),
               "ws cache: copy");
        return;
    }
    x_ws_forward(w_hat, rstd, w, Cout, fan);
    if (!cacheable || CU.failed)
        return;
    if (!e && CU.n_wsc < NWS_CACHE) {
        e = &CU.wsc[CU.n_wsc];
        if (ck(cudaMalloc((void **)&e->buf, (nw + (size_t)Cout) * sizeof(float)), "ws cache: cudaMalloc"))
            return;
        e->w = w;
        e->Cout = Cout;
        e->fan = fan;
        CU.n_wsc++;
    }
    if (!e)
        return; // the cache is full: computed every time
    prof_scope ps_("ws_forward (caching: copies)");
    if (!ck(cudaMemcpyAsync(e->buf, w_hat, nw * sizeof(float), cudaMemcpyDeviceToDevice, CU.stream), "ws cache: fill") &&
        !ck(cudaMemcpyAsync(e->buf + nw, rstd, (size_t)Cout * sizeof(float), cudaMemcpyDeviceToDevice, CU.stream),
            "ws cache: fill"))
        e->gen = CU.param_gen;
}

// ------------------------------------------------------------------ fast mode (cuBLAS)

// ------------------------------------------------------------------ fast mode: tuned matrix products
//
// GGDM_CUDA_GEMM=tuned (the default with TF32; GGDM_CUDA_GEMM=blas turns it off): every
// matrix product of a new size goes through cuBLASLt; its heuristic
// proposes up to LT_CANDIDATES algorithms, each is timed (on a scratch output, so that
// accumulating products are not applied twice), and the fastest is used for that size from
// then on (like cuDNN's benchmark mode). A size first met while a CUDA graph is captured takes
// the heuristic's first proposal. The choice is per process: two runs may pick different
// algorithms, which sum in different orders (fast mode's results are within tolerance, not
// bit-stable across runs with this switch).
#define NLT 512
#define LT_CANDIDATES 8
typedef struct lt_entry {
    int ta, tb, M, Nc, K, lda, ldb, ldc, beta0;
    uint32_t al_a, al_b, al_c; // the operands' alignments (bytes, up to 256): the algorithm must allow them
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
} lt_entry;
static struct {
    int n;
    lt_entry e[NLT];
} LT;

static void lt_reset(void)
{
    int i;
    for (i = 0; i < LT.n; i++) {
        cublasLtMatrixLayoutDestroy(LT.e[i].la);
        cublasLtMatrixLayoutDestroy(LT.e[i].lb);
        cublasLtMatrixLayoutDestroy(LT.e[i].lc);
        cublasLtMatmulDescDestroy(LT.e[i].op);
    }
    LT.n = 0;
}

static int ckl(cublasStatus_t s, const char *what)
{
    if (s == CUBLAS_STATUS_SUCCESS)
        return 0;
    record("%s: cuBLASLt %s (%d)", what, cublasGetStatusString(s), (int)s);
    return -1;
}

// The largest power of two (up to 256) dividing a device address.
static uint32_t lt_align(const void *p)
{
    uint32_t a = 256;
    while (a > 4 && ((uintptr_t)p % a) != 0)
        a /= 2;
    return a;
}

// The column-major product the row-major one is: D[Nc, M] = op(B)[Nc, K] op(A)[K, M] (+ beta D).
static lt_entry *lt_find(int ta, int tb, int M, int Nc, int K, int lda, int ldb, int ldc, float beta, const float *A,
                         const float *B, float *C, const char *what)
{
    int i, j, nres = 0, best = -1;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t res[LT_CANDIDATES];
    cublasOperation_t oa = tb ? CUBLAS_OP_T : CUBLAS_OP_N, ob = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasComputeType_t ct = CU.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
    lt_entry *e;
    int beta0 = beta == 0.0f;
    float best_ms = 0.0f;
    // cuBLASLt's A is our B, its B our A
    uint32_t al_a = lt_align(B), al_b = lt_align(A), al_c = lt_align(C);
    for (i = 0; i < LT.n; i++) {
        e = &LT.e[i];
        if (e->ta == ta && e->tb == tb && e->M == M && e->Nc == Nc && e->K == K && e->lda == lda && e->ldb == ldb &&
            e->ldc == ldc && e->beta0 == beta0 && e->al_a == al_a && e->al_b == al_b && e->al_c == al_c)
            return e;
    }
    if (LT.n == NLT) // full (a process running many sizes, e.g. the conformance runner): start again
        lt_reset();
    e = &LT.e[LT.n];
    memset(e, 0, sizeof *e);
    e->ta = ta, e->tb = tb, e->M = M, e->Nc = Nc, e->K = K, e->lda = lda, e->ldb = ldb, e->ldc = ldc, e->beta0 = beta0;
    e->al_a = al_a, e->al_b = al_b, e->al_c = al_c;
    if (ckl(cublasLtMatmulDescCreate(&e->op, ct, CUDA_R_32F), what) ||
        ckl(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSA, &oa, sizeof oa), what) ||
        ckl(cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSB, &ob, sizeof ob), what) ||
        ckl(cublasLtMatrixLayoutCreate(&e->la, CUDA_R_32F, tb ? K : Nc, tb ? Nc : K, ldb), what) ||
        ckl(cublasLtMatrixLayoutCreate(&e->lb, CUDA_R_32F, ta ? M : K, ta ? K : M, lda), what) ||
        ckl(cublasLtMatrixLayoutCreate(&e->lc, CUDA_R_32F, Nc, M, ldc), what) ||
        ckl(cublasLtMatmulPreferenceCreate(&pref), what) ||
        ckl(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &CU.blas_ws_bytes,
                                                 sizeof CU.blas_ws_bytes),
            what) ||
        ckl(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof al_a),
            what) ||
        ckl(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof al_b),
            what) ||
        ckl(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c, sizeof al_c),
            what) ||
        ckl(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c, sizeof al_c),
            what) ||
        ckl(cublasLtMatmulAlgoGetHeuristic(CU.lt, e->op, e->la, e->lb, e->lc, e->lc, pref, LT_CANDIDATES, res, &nres),
            what)) {
        if (pref)
            cublasLtMatmulPreferenceDestroy(pref);
        return NULL;
    }
    cublasLtMatmulPreferenceDestroy(pref);
    if (nres < 1) {
        record("%s: cuBLASLt has no algorithm for %dx%dx%d", what, M, Nc, K);
        return NULL;
    }
    e->algo = res[0].algo;
    LT.n++;
    cudaStreamIsCapturing(CU.stream, &cap);
    if (nres > 1 && cap == cudaStreamCaptureStatusNone) {
        // time each candidate: one warm-up, then the best of 3, on a scratch output
        size_t bytes = (size_t)ldc * (size_t)M * sizeof(float);
        cudaEvent_t e0, e1;
        const float one = 1.0f;
        if (grow(&CU.tune_buf, &CU.tune_cap, bytes, "fast: tuning buffer"))
            return NULL;
        if (ck(cudaEventCreate(&e0), what))
            return NULL;
        if (ck(cudaEventCreate(&e1), what)) {
            cudaEventDestroy(e0);
            return NULL;
        }
        for (i = 0; i < nres; i++) {
            float ms = 0.0f, t;
            int ok = 1;
            for (j = -1; ok && j < 3; j++) {
                ok = cudaEventRecord(e0, CU.stream) == cudaSuccess &&
                     cublasLtMatmul(CU.lt, e->op, &one, B, e->la, A, e->lb, &beta, CU.tune_buf, e->lc, CU.tune_buf,
                                    e->lc, &res[i].algo, CU.blas_ws, CU.blas_ws_bytes,
                                    CU.stream) == CUBLAS_STATUS_SUCCESS &&
                     cudaEventRecord(e1, CU.stream) == cudaSuccess && cudaEventSynchronize(e1) == cudaSuccess &&
                     cudaEventElapsedTime(&t, e0, e1) == cudaSuccess;
                if (ok && j >= 0 && (j == 0 || t < ms))
                    ms = t;
            }
            if (ok && (best < 0 || ms < best_ms))
                best = i, best_ms = ms;
        }
        cudaGetLastError(); // a candidate that failed to launch is only not chosen
        cudaEventDestroy(e0);
        cudaEventDestroy(e1);
        if (best >= 0)
            e->algo = res[best].algo;
    }
    return e;
}

// Row-major C[M, Nc] = op(A)[M, K] op(B)[K, Nc] + beta C by cublasSgemm on handle h (a
// row-major matrix is its transpose in column-major order: C^T = op(B)^T op(A)^T).
static int sgemm_rm(cublasHandle_t h, int ta, int tb, int M, int Nc, int K, const float *A, int lda, const float *B,
                    int ldb, float beta, float *C, int ldc, const char *what)
{
    const float one = 1.0f;
    return ckb(cublasSgemm(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, Nc, M, K, &one, B, ldb, A,
                           lda, &beta, C, ldc),
               what);
}

// The same on CU.stream: cuBLASLt's timed algorithm (GGDM_CUDA_GEMM=tuned) or cublasSgemm.
static int gemm_rm(int ta, int tb, int M, int Nc, int K, const float *A, int lda, const float *B, int ldb, float beta,
                   float *C, int ldc, const char *what)
{
    const float one = 1.0f;
    if (CU.failed)
        return -1;
    if (PROF.on)
        what = prof_label(what, M, Nc, K);
    if (CU.gemm_tuned) {
        lt_entry *e = lt_find(ta, tb, M, Nc, K, lda, ldb, ldc, beta, A, B, C, what);
        if (!e)
            return -1;
        return ckb(cublasLtMatmul(CU.lt, e->op, &one, B, e->la, A, e->lb, &beta, C, e->lc, C, e->lc, &e->algo,
                                  CU.blas_ws, CU.blas_ws_bytes, CU.stream),
                   what);
    }
    return sgemm_rm(CU.blas, ta, tb, M, Nc, K, A, lda, B, ldb, beta, C, ldc, what);
}

// The convolutions' columns (im2col / col2im and the GEMM outputs around them).
static float *scratch_floats(size_t n)
{
    return private_floats(&CU.scratch, &CU.scratch_cap, n, "fast: scratch cudaMalloc");
}

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

// y[(r * inner) + l] += b[r % C] for r over rows, l < inner (Linear's bias: inner = 1)
template <typename I>
__global__ void k_add_bias(float *y, const float *b, I rows, int C, int inner)
{
    I total = rows * inner, i = (I)blockIdx.x * blockDim.x + threadIdx.x;
    I step = (I)gridDim.x * blockDim.x;
    for (; i < total; i += step)
        y[i] = y[i] + b[(i / inner) % C];
}


// Row-major, a strided batch: C_i = op(A_i) op(B_i) + beta C_i, X_i = X + i * sX.
static int gemm_rm_batched(int ta, int tb, int M, int Nc, int K, const float *A, int lda, long long sA,
                           const float *B, int ldb, long long sB, float beta, float *C, int ldc, long long sC,
                           int batch, const char *what)
{
    const float one = 1.0f;
    if (CU.failed)
        return -1;
    if (PROF.on)
        what = prof_label(what, M, Nc, K);
    return ckb(cublasSgemmStridedBatched(CU.blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, Nc,
                                         M, K, &one, B, ldb, sB, A, lda, sA, &beta, C, ldc, sC, batch),
               what);
}

// Split-K for the "cols" layout's products C [M, Nc] = A [M, K] B [K, Nc]: with few output
// tiles (the deep levels: 512 x 256 outputs are 8 tiles of 128 x 128 on 132 SMs) the product
// runs as S products over K/S each (one strided-batched call, S*M*Nc partial outputs), and
// the layout kernel after it (cols_to_ncl, col2im) sums the partials in order of s: more
// blocks, no extra launch. S in {8, 4, 2}, K/S >= 128, at most 264 tiles in all; 1 when the
// product already has 66 tiles, K < 512, or GGDM_CUDA_SPLITK=0. (The input gradient's
// product only: a training step's backward keeps one product.)
static int split_k(long long M, long long Nc, long long K)
{
    long long tiles = ((M + 127) / 128) * ((Nc + 127) / 128);
    int S;
    if (CU.no_splitk || tiles >= 66 || K < 512)
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
static int conv_batched(int Lout, int Cout, int CK)
{
    if (CU.conv_min_l >= 0)
        return Lout >= CU.conv_min_l;
    return Lout >= 32 || (Lout >= 16 && (long long)Cout * CK <= 65536);
}

static void f_conv1d_forward(float *y, const float *x, const float *w, const float *b, int N, int Cin, int Lin,
                             int Cout, int K, int stride, int pad, float *scratch, const struct ggdm_exec *ex)
{
    int Lout = ggdm_elem_conv1d_out_len(Lin, K, stride, pad), CK = Cin * K;
    long long P = (long long)N * Lout, ncol = (long long)CK * P, ny = (long long)Cout * P;
    long long big = (ncol > ny ? ncol : ny) + (long long)N * Cin * Lin;
    float *col, *Y;
    int S;
    (void)scratch, (void)ex;
    if (CU.failed || N <= 0 || Cin <= 0 || Cout <= 0 || Lout <= 0)
        return;
    w = ws_resolve(w); // a cached weight standardisation (see ws_resolve)
    if (side_pending_at(x) || side_pending_at(w) || side_pending_at(b) || side_pending_at(y)) // (the plan never does)
        side_join();
    prof_enter();
    if (conv_batched(Lout, Cout, CK)) {
        int direct = K == 1 && stride == 1 && pad == 0; // the columns are x itself
        col = NULL;
        if (!direct && !(col = scratch_floats((size_t)ncol)))
            return;
        if (col || b) {
            LAUNCH_I(k_im2col_bias, col ? (ncol > ny ? ncol : ny) : ny, big, col, y, b, x, N, Cin, Lin, K, stride,
                     pad, Lout, Cout);
            if (ck_launch(col ? "kernel im2col (per sample, + bias)" : "kernel bias (per sample)"))
                return;
        }
        gemm_rm_batched(0, 0, Cout, Lout, CK, w, CK, 0, direct ? x : col, Lout, direct ? (long long)Cin * Lin : (long long)CK * Lout,
                        b ? 1.0f : 0.0f, y, Lout, (long long)Cout * Lout, N, "fast conv1d_forward: sgemm batched");
        return;
    }
    S = split_k(Cout, P, CK);
    if (!(col = scratch_floats((size_t)(ncol + S * ny))))
        return;
    Y = col + ncol;
    LAUNCH_I(k_im2col, ncol, big, col, x, N, Cin, Lin, K, stride, pad, Lout);
    if (ck_launch("kernel im2col"))
        return;
    if (S > 1) { // Y_s [Cout, P] = w[:, s*Kc : (s+1)*Kc] col[s*Kc : (s+1)*Kc, :]
        int Kc = CK / S;
        if (gemm_rm_batched(0, 0, Cout, (int)P, Kc, w, CK, Kc, col, (int)P, (long long)Kc * P, 0.0f, Y, (int)P, ny, S,
                            "fast conv1d_forward: sgemm split-K"))
            return;
    } else if (gemm_rm(0, 0, Cout, (int)P, CK, w, CK, col, (int)P, 0.0f, Y, (int)P, "fast conv1d_forward: sgemm")) {
        return;
    }
    LAUNCH_I(k_cols_to_ncl, ny, ny * S, y, Y, b, N, Cout, Lout, S);
    ck_launch("kernel cols_to_ncl (+ bias)");
}

static void f_conv1d_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                              int N, int Cin, int Lin, int Cout, int K, int stride, int pad, float *scratch,
                              const struct ggdm_exec *ex)
{
    int Lout = ggdm_elem_conv1d_out_len(Lin, K, stride, pad), CK = Cin * K;
    long long P = (long long)N * Lout, ncol = (long long)CK * P, ny = (long long)Cout * P;
    long long big = (ncol > ny ? ncol : ny) + (long long)N * Cin * Lin;
    float *dY, *col;
    int fresh, S = 1;
    (void)scratch, (void)ex;
    if (CU.failed || N <= 0 || Cin <= 0 || Cout <= 0 || Lout <= 0)
        return; // (a pending zero stays pending: the next operation makes it)
    w = ws_resolve(w); // a cached weight standardisation (see ws_resolve)
    // dx was just to be zeroed: write the sums instead of adding them (one memset fewer)
    fresh = dx ? zero_take(dx, (size_t)N * Cin * Lin) : (zero_flush(), 0);
    prof_enter();
    if (dx && !dw && conv_batched(Lout, Cout, CK)) { // the input's gradient only (a guided step's VJP)
        if (K == 1 && stride == 1 && pad == 0) {
            // dx_n [Cin, L] += w^T [Cin, Cout] dy_n [Cout, L]
            if (gemm_rm_batched(1, 0, Cin, Lout, Cout, w, CK, 0, dy, Lout, (long long)Cout * Lout, fresh ? 0.0f : 1.0f, dx, Lout,
                                (long long)Cin * Lout, N, "fast conv1d_backward dx: sgemm batched"))
                return;
        } else {
            if (!(col = scratch_floats((size_t)ncol)))
                return;
            if (gemm_rm_batched(1, 0, CK, Lout, Cout, w, CK, 0, dy, Lout, (long long)Cout * Lout, 0.0f, col, Lout,
                                (long long)CK * Lout, N, "fast conv1d_backward dcol: sgemm batched"))
                return;
            LAUNCH_I(k_col2im_add, (long long)N * Cin * Lin, big, dx, col, N, Cin, Lin, K, stride, pad, Lout, Lout,
                     CK * Lout, fresh, 1, 0);
            if (ck_launch("kernel col2im (per sample)"))
                return;
        }
    } else if ((dx || dw) && (S = dw ? 1 : split_k(CK, P, Cout), dY = scratch_floats((size_t)(ny + S * ncol)))) {
        col = dY + ny; // dcol for dx (S split-K partials), then the columns of x for dw
        LAUNCH_I(k_ncl_to_cols, ny, ny, dY, dy, N, Cout, Lout);
        if (ck_launch("kernel ncl_to_cols"))
            return;
        if (dx) {
            if (S > 1) { // dcol_s [CK, P] = w[s*Kc : (s+1)*Kc, :]^T dY[s*Kc : (s+1)*Kc, :]
                int Kc = Cout / S;
                if (gemm_rm_batched(1, 0, CK, (int)P, Kc, w, CK, (long long)Kc * CK, dY, (int)P, (long long)Kc * P,
                                    0.0f, col, (int)P, ncol, S, "fast conv1d_backward dcol: sgemm split-K"))
                    return;
            } else if (gemm_rm(1, 0, CK, (int)P, Cout, w, CK, dY, (int)P, 0.0f, col, (int)P,
                               "fast conv1d_backward dcol: sgemm")) {
                return;
            }
            LAUNCH_I(k_col2im_add, (long long)N * Cin * Lin, big + (S - 1) * ncol, dx, col, N, Cin, Lin, K, stride,
                     pad, Lout, P, Lout, fresh, S, ncol);
            if (ck_launch("kernel col2im"))
                return;
        }
        if (dw) {
            LAUNCH_I(k_im2col, ncol, big, col, x, N, Cin, Lin, K, stride, pad, Lout);
            if (ck_launch("kernel im2col"))
                return;
            if (gemm_rm(0, 1, Cout, CK, (int)P, dY, (int)P, col, (int)P, 1.0f, dw, CK,
                        "fast conv1d_backward dw: sgemm"))
                return;
        }
    }
    if (db) // the exact element kernel (one chain per channel)
        l_conv1d_backward_db(dx, dw, db, dy, x, w, N, Cin, Lin, Cout, K, stride, pad);
}

// Linear forward, tiled: y[n, o] = (chain over i of fmaf(W[o,i], x[n,i], acc)) [+ b[o]], the
// reference's chain (ggdm_elem_linear_forward_y) in order of i, so the reference's bits, with
// 32 x 32 tiles of W and x staged in shared memory (coalesced loads; the element kernel's
// thread-per-output reads of W rows are not): block = 32 outputs o x 32 rows n, 256 threads of
// 4 outputs each. Exact mode uses it; fast mode uses cuBLAS (GGDM_CUDA_LINEAR=tiled: this
// kernel; it is slower there, and the reference's bits in the time MLP move pretrain.short's
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

static void tiled_linear_forward(float *y, const float *x, const float *W, const float *b, int N, int In, int Out)
{
    if (CU.failed || ggdm_elem_linear_forward_y_count(N, In, Out) <= 0)
        return;
    prof_enter();
    k_linear_fwd_tiled<<<dim3((unsigned)((Out + LIN_T - 1) / LIN_T), (unsigned)((N + LIN_T - 1) / LIN_T)), 256, 0,
                         CU.stream>>>(y, x, W, b, N, In, Out);
    ck_launch("kernel linear_forward (tiled)");
}

// Exact mode's Linear forward: the tiled kernel (GGDM_CUDA_LINEAR=elem: the element kernel).
static void e_linear_forward(float *y, const float *x, const float *W, const float *b, int N, int In, int Out)
{
    if (CU.linear_alt)
        x_linear_forward(y, x, W, b, N, In, Out);
    else
        tiled_linear_forward(y, x, W, b, N, In, Out);
}

static void f_linear_forward(float *y, const float *x, const float *W, const float *b, int N, int In, int Out)
{
    if (CU.linear_alt) {
        tiled_linear_forward(y, x, W, b, N, In, Out);
        return;
    }
    prof_enter();
    if (CU.failed || N <= 0 || In <= 0 || Out <= 0)
        return;
    if (CU.side && !CU.no_side && CU.n_side_out < 32) {
        // on the side stream, after everything CU.stream has queued (x is ready); the product
        // as cuBLAS computes it on CU.stream (the same call), then the bias
        if (ck(cudaEventRecord(CU.ev_fork, CU.stream), "side: fork") ||
            ck(cudaStreamWaitEvent(CU.side, CU.ev_fork, 0), "side: fork") ||
            sgemm_rm(CU.blas2, 0, 1, N, Out, In, x, In, W, In, 0.0f, y, Out, "fast linear_forward (side stream): sgemm"))
            return;
        if (b) {
            LAUNCH_I_ON(CU.side, k_add_bias, (long long)N * Out, (long long)N * Out, y, b, (long long)N * Out, Out, 1);
            if (ck_launch("kernel linear bias (side stream)"))
                return;
        }
        CU.side_out[CU.n_side_out].p = y;
        CU.side_out[CU.n_side_out].n = (size_t)N * (size_t)Out;
        CU.n_side_out++;
        CU.side_pending = 1;
        return;
    }
    // y [N, Out] = x [N, In] W^T [In, Out]
    if (gemm_rm(0, 1, N, Out, In, x, In, W, In, 0.0f, y, Out, "fast linear_forward: sgemm"))
        return;
    if (b) {
        LAUNCH_I(k_add_bias, (long long)N * Out, (long long)N * Out, y, b, (long long)N * Out, Out, 1);
        ck_launch("kernel linear bias");
    }
}

static void f_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W, int N,
                              int In, int Out)
{
    prof_enter();
    if (CU.failed || N <= 0 || In <= 0 || Out <= 0)
        return;
    // dx [N, In] += dy [N, Out] W [Out, In]
    if (dx && gemm_rm(0, 0, N, In, Out, dy, Out, W, In, 1.0f, dx, In, "fast linear_backward dx: sgemm"))
        return;
    // dW [Out, In] += dy^T [Out, N] x [N, In]
    if (dW && gemm_rm(1, 0, Out, In, N, dy, Out, x, In, 1.0f, dW, In, "fast linear_backward dW: sgemm"))
        return;
    if (db)
        l_linear_backward_db(dx, dW, db, dy, x, W, N, In, Out);
}

// ------------------------------------------------------------------ fast mode: the norms' reductions
//
// The exact mode reduces each group with one thread (the reference's chain); fast mode sums
// a group with a block of up to RED_THREADS threads (norm_threads; a different order: within
// the tolerance).
// A group q's M values are at x[base(q) + i*s], base(q) = (q / L2) * S1 + (q % L2):
//   GroupNorm:   q = n*G + g, L2 = 1, S1 = M = (C/G)*L, s = 1
//   ChannelNorm: q = n*L + l, L2 = L, S1 = C*L, s = L (M = C)
#define RED_THREADS 256

// The sum of v over the block (blockDim.x a multiple of 32, at most RED_THREADS): a butterfly
// of shuffles within each warp (every lane ends with the same bits: each step adds the same
// two values in either order), then the warps' sums in warp order, by every thread.
__device__ static float block_sum(float v, float *red)
{
    int o, nw = (int)(blockDim.x >> 5);
    for (o = 16; o > 0; o >>= 1)
        v = v + __shfl_xor_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0)
        red[threadIdx.x >> 5] = v;
    __syncthreads();
    v = red[0];
    for (o = 1; o < nw; o++)
        v = v + red[o];
    __syncthreads(); // red is reused by the caller's next block_sum
    return v;
}

// Threads for a group of M values: a multiple of 32, at most RED_THREADS.
static int norm_threads(long long M)
{
    long long t = (M + 31) / 32 * 32;
    return t < 32 ? 32 : t > RED_THREADS ? RED_THREADS : (int)t;
}

// The mean and rstd = ggdm_norm_rstd(biased variance) of b[i*s], i < M, two passes as
// ggdm_mean_var_f32, summed by the block; thread 0 stores them to *mean, *rstd.
__device__ static void block_stats(const float *b, long long s, int M, float *red, float *m_out, float *r_out,
                                   float *mean, float *rstd)
{
    float acc = 0.0f, m, r;
    int i;
    for (i = threadIdx.x; i < M; i += blockDim.x)
        acc = acc + b[(long long)i * s];
    m = block_sum(acc, red) / (float)M;
    acc = 0.0f;
    for (i = threadIdx.x; i < M; i += blockDim.x) {
        float d = b[(long long)i * s] - m;
        acc = fmaf(d, d, acc);
    }
    r = ggdm_norm_rstd(block_sum(acc, red) / (float)M);
    if (threadIdx.x == 0) {
        *mean = m;
        *rstd = r;
    }
    *m_out = m;
    *r_out = r;
}

// mean[q], rstd[q] = ggdm_norm_rstd(biased variance), two passes as ggdm_mean_var_f32, then
// the group's outputs y = xhat [* gamma[channel]] [+ beta[channel]] (as the element kernel
// ..._forward_y), channel of element i = (q % G2) * Cg + i / Ldiv: one launch per norm.
__global__ void __launch_bounds__(RED_THREADS)
k_fast_norm(float *y, float *mean, float *rstd, const float *x, const float *gamma, const float *beta, int L2,
            long long S1, long long s, int M, int G2, int Cg, int Ldiv)
{
    __shared__ float red[RED_THREADS];
    int q = blockIdx.x, i;
    long long base = (long long)(q / L2) * S1 + (q % L2);
    const float *b = x + base;
    float m, r;
    block_stats(b, s, M, red, &m, &r, &mean[q], &rstd[q]);
    for (i = threadIdx.x; i < M; i += blockDim.x) {
        int c = (q % G2) * Cg + i / Ldiv;
        float v = ggdm_norm_xhat(b[(long long)i * s], m, r);
        if (gamma)
            v = v * gamma[c];
        if (beta)
            v = v + beta[c];
        y[base + (long long)i * s] = v;
    }
}

// The backward of a group: m1 = (sum of dxhat) / M, m2 = (sum of dxhat * xhat) / M over the
// group, dxhat = dy [* gamma[channel]], then dx += ggdm_norm_dx(dxhat, xhat, m1, m2, rstd)
// for the group's elements (as the element kernel ..._backward_dx): one launch.
__global__ void __launch_bounds__(RED_THREADS)
k_fast_norm_bwd(float *dx, const float *dy, const float *x, const float *mean, const float *rstd, const float *gamma,
                int L2, long long S1, long long s, int M, int G2, int Cg, int Ldiv, int fresh)
{
    __shared__ float red[RED_THREADS];
    int q = blockIdx.x, i;
    long long base = (long long)(q / L2) * S1 + (q % L2);
    float mq = mean[q], rq = rstd[q], s1 = 0.0f, s2 = 0.0f;
    for (i = threadIdx.x; i < M; i += blockDim.x) {
        long long a = base + (long long)i * s;
        float d = gamma ? dy[a] * gamma[(q % G2) * Cg + i / Ldiv] : dy[a];
        s1 = s1 + d;
        s2 = fmaf(d, ggdm_norm_xhat(x[a], mq, rq), s2);
    }
    s1 = block_sum(s1, red) / (float)M;
    s2 = block_sum(s2, red) / (float)M;
    for (i = threadIdx.x; i < M; i += blockDim.x) {
        long long a = base + (long long)i * s;
        float d = gamma ? dy[a] * gamma[(q % G2) * Cg + i / Ldiv] : dy[a];
        float g = ggdm_norm_dx(d, ggdm_norm_xhat(x[a], mq, rq), s1, s2, rq);
        dx[a] = fresh ? g : dx[a] + g;
    }
}

static void f_groupnorm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                const float *beta, int N, int C, int L, int G)
{
    int M;
    if (CU.failed || ggdm_elem_groupnorm_forward_mean_count(N, C, L, G) <= 0)
        return;
    prof_enter();
    M = (C / G) * L;
    k_fast_norm<<<N * G, norm_threads(M), 0, CU.stream>>>(y, mean, rstd, x, gamma, beta, 1, (long long)M, 1, M, G, C / G,
                                                      L);
    ck_launch("kernel fast groupnorm");
}

static void f_chnorm_forward(float *y, float *mean, float *rstd, const float *x, const float *g, int N, int C, int L)
{
    if (CU.failed || ggdm_elem_chnorm_forward_mean_count(N, C, L) <= 0)
        return;
    prof_enter();
    k_fast_norm<<<N * L, norm_threads(C), 0, CU.stream>>>(y, mean, rstd, x, g, (const float *)NULL, L, (long long)C * L, L,
                                                      C, 1, 0, 1);
    ck_launch("kernel fast chnorm");
}

static void f_groupnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                 const float *mean, const float *rstd, const float *gamma, int N, int C, int L, int G)
{
    if (CU.failed || ggdm_elem_groupnorm_backward_dx_count(N, C, L, G) <= 0)
        return;
    if (dx) {
        int M = (C / G) * L;
        prof_enter();
        k_fast_norm_bwd<<<N * G, norm_threads(M), 0, CU.stream>>>(dx, dy, x, mean, rstd, gamma, 1, (long long)M, 1, M, G,
                                                              C / G, L, 0);
        if (ck_launch("kernel fast groupnorm_backward"))
            return;
    }
    // the parameter gradients (training only): the exact element kernels
    l_groupnorm_backward_dgamma(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, L, G);
    l_groupnorm_backward_dbeta(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, C, L, G);
}

static void f_chnorm_backward(float *dx, float *dg, const float *dy, const float *x, const float *mean,
                              const float *rstd, const float *g, int N, int C, int L)
{
    int fresh;
    if (CU.failed || ggdm_elem_chnorm_backward_dx_count(N, C, L) <= 0)
        return;
    fresh = dx ? zero_take(dx, (size_t)N * C * L) : (zero_flush(), 0); // see zero_take
    if (dx) {
        prof_enter();
        k_fast_norm_bwd<<<N * L, norm_threads(C), 0, CU.stream>>>(dx, dy, x, mean, rstd, g, L, (long long)C * L, L, C, 1,
                                                              0, 1, fresh);
        if (ck_launch("kernel fast chnorm_backward"))
            return;
    }
    l_chnorm_backward_dg(dx, dg, dy, x, mean, rstd, g, N, C, L);
}

// A ResnetBlock half's activation path (ggdm/backend.h, gn_act_*), one block per group
// q = n*G + gi of M = (C/G)*L contiguous values: the GroupNorm of k_fast_norm, then per
// element the scale_shift and silu of the element kernels (ggdm/elem.h formulas).
__global__ void __launch_bounds__(RED_THREADS)
k_fast_gn_act(float *g, float *mean, float *rstd, float *f, float *a, const float *h, const float *gamma,
              const float *beta, const float *ss, int C, int L, int G)
{
    __shared__ float red[RED_THREADS];
    int q = blockIdx.x, i, Cg = C / G, M = Cg * L, n = q / G, gi = q % G;
    long long base = (long long)q * M;
    const float *b = h + base;
    float m, r;
    block_stats(b, 1, M, red, &m, &r, &mean[q], &rstd[q]);
    for (i = threadIdx.x; i < M; i += blockDim.x) {
        int c = gi * Cg + i / L;
        long long o = base + i;
        float v = ggdm_norm_xhat(b[i], m, r);
        if (gamma)
            v = v * gamma[c];
        if (beta)
            v = v + beta[c];
        g[o] = v;
        if (ss) {
            v = (v * (ss[(long long)n * 2 * C + c] + 1.0f)) + ss[(long long)n * 2 * C + C + c];
            f[o] = v;
        }
        a[o] = ggdm_silu(v);
    }
}

// Its input gradient: t = da * silu'(f or g) [* (scale + 1)], then GroupNorm's backward with
// dy = t (sums over the group, then dh); dh is written (as 0 + the value, as the separate
// operations leave it in a zeroed dh).
__device__ static float gn_act_t(const float *da, const float *g, const float *f, const float *ss, long long o, int n,
                                 int c, int C)
{
    float t = 0.0f + da[o] * ggdm_silu_grad(ss ? f[o] : g[o]);
    if (ss)
        t = 0.0f + t * (ss[(long long)n * 2 * C + c] + 1.0f);
    return t;
}

__global__ void __launch_bounds__(RED_THREADS)
k_fast_gn_act_bwd(float *dh, const float *da, const float *h, const float *mean, const float *rstd, const float *gamma,
                  const float *g, const float *f, const float *ss, int C, int L, int G)
{
    __shared__ float red[RED_THREADS];
    int q = blockIdx.x, i, Cg = C / G, M = Cg * L, n = q / G, gi = q % G;
    long long base = (long long)q * M;
    float mq = mean[q], rq = rstd[q], s1 = 0.0f, s2 = 0.0f;
    for (i = threadIdx.x; i < M; i += blockDim.x) {
        int c = gi * Cg + i / L;
        long long o = base + i;
        float t = gn_act_t(da, g, f, ss, o, n, c, C);
        float d = gamma ? t * gamma[c] : t;
        s1 = s1 + d;
        s2 = fmaf(d, ggdm_norm_xhat(h[o], mq, rq), s2);
    }
    s1 = block_sum(s1, red) / (float)M;
    s2 = block_sum(s2, red) / (float)M;
    for (i = threadIdx.x; i < M; i += blockDim.x) {
        int c = gi * Cg + i / L;
        long long o = base + i;
        float t = gn_act_t(da, g, f, ss, o, n, c, C);
        float d = gamma ? t * gamma[c] : t;
        dh[o] = 0.0f + ggdm_norm_dx(d, ggdm_norm_xhat(h[o], mq, rq), s1, s2, rq);
    }
}

static void f_gn_act_forward(float *g, float *mean, float *rstd, float *f, float *a, const float *h,
                             const float *gamma, const float *beta, const float *ss, int N, int C, int L, int G)
{
    if (CU.failed || ggdm_elem_groupnorm_forward_mean_count(N, C, L, G) <= 0)
        return;
    prof_enter();
    k_fast_gn_act<<<N * G, norm_threads((long long)(C / G) * L), 0, CU.stream>>>(g, mean, rstd, f, a, h, gamma, beta, f ? ss : NULL, C, L, G);
    ck_launch("kernel fast gn_act");
}

static void f_gn_act_backward(float *dh, float *scratch, const float *da, const float *h, const float *mean,
                              const float *rstd, const float *gamma, const float *g, const float *f, const float *ss,
                              int N, int C, int L, int G)
{
    (void)scratch; // not needed: one kernel reads da and writes dh
    if (CU.failed || ggdm_elem_groupnorm_backward_dx_count(N, C, L, G) <= 0)
        return;
    prof_enter();
    k_fast_gn_act_bwd<<<N * G, norm_threads((long long)(C / G) * L), 0, CU.stream>>>(dh, da, h, mean, rstd, gamma, g, f, f ? ss : NULL, C, L,
                                                            G);
    ck_launch("kernel fast gn_act_backward");
}

// ------------------------------------------------------------------ the two backends

// Every operation that launches work is TAPED (recorded in graph mode, run otherwise); the
// convolutions drop the executor pointer first (unused here; a caller's stack address would
// make otherwise equal tapes differ).
#define NO_EX_CONV(name, f)                                                                                         \
    static void name(float *y, const float *x, const float *w, const float *b, int N, int Cin, int Lin, int Cout,   \
                     int K, int stride, int pad, float *scratch, const struct ggdm_exec *ex)                        \
    {                                                                                                               \
        (void)ex;                                                                                                   \
        tape_or_run(f, y, x, w, b, N, Cin, Lin, Cout, K, stride, pad, scratch, (const struct ggdm_exec *)NULL);     \
    }
#define NO_EX_CONV_BWD(name, f)                                                                                     \
    static void name(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N,      \
                     int Cin, int Lin, int Cout, int K, int stride, int pad, float *scratch,                        \
                     const struct ggdm_exec *ex)                                                                    \
    {                                                                                                               \
        (void)ex;                                                                                                   \
        tape_or_run(f, dx, dw, db, dy, x, w, N, Cin, Lin, Cout, K, stride, pad, scratch,                           \
                    (const struct ggdm_exec *)NULL);                                                                \
    }
NO_EX_CONV(t_e_conv1d_forward, e_conv1d_forward)
NO_EX_CONV(t_f_conv1d_forward, f_conv1d_forward)
NO_EX_CONV_BWD(t_e_conv1d_backward, e_conv1d_backward)
NO_EX_CONV_BWD(t_f_conv1d_backward, f_conv1d_backward)

#define MEMORY_OPS                                                                                                 \
    cu_params, cu_grads_begin, cu_grads_end, cu_upload, cu_download, cu_copy, TAPED(cu_zero), TAPED(cu_add_into), \
        cu_steps

#define SHARED_ELEMENTWISE                                                                                          \
    TAPED(x_silu_forward), TAPED(x_silu_backward), TAPED(x_gelu_forward), TAPED(x_gelu_backward),                  \
        TAPED(x_scale_shift_forward), TAPED(x_scale_shift_backward), TAPED(x_upsample2_forward),                   \
        TAPED(x_upsample2_backward), TAPED(s_linattn_forward), TAPED(s_linattn_backward), TAPED(x_attn_forward),  \
        TAPED(s_attn_backward), TAPED(x_time_embedding), cu_workspace, cu_failed, TAPED(cu_copy_rows),             \
        TAPED(cu_add_rows)

static const ggdm_unet_backend exact_backend = {
    "cuda-exact", NULL, MEMORY_OPS,
    t_e_conv1d_forward, t_e_conv1d_backward, TAPED(e_linear_forward), TAPED(x_linear_backward),
    TAPED(c_ws_forward), TAPED(x_ws_backward), TAPED(x_groupnorm_forward), TAPED(x_groupnorm_backward),
    TAPED(x_chnorm_forward), TAPED(x_chnorm_backward),
    SHARED_ELEMENTWISE,
    NULL, NULL, // gn_act: the separate exact operations
};

static const ggdm_unet_backend fast_backend = {
    "cuda-fast", NULL, MEMORY_OPS,
    t_f_conv1d_forward, t_f_conv1d_backward, TAPED(f_linear_forward), TAPED(f_linear_backward),
    TAPED(c_ws_forward), TAPED(f_ws_backward), TAPED(f_groupnorm_forward), TAPED(f_groupnorm_backward),
    TAPED(f_chnorm_forward), TAPED(f_chnorm_backward),
    SHARED_ELEMENTWISE,
    TAPED(f_gn_act_forward), TAPED(f_gn_act_backward),
};

// ------------------------------------------------------------------ public functions

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
    if (CU.inited)
        ggdm_cuda_backend_shutdown();
    memset(&CU, 0, sizeof CU);
    ZP.p = NULL;
    CU.mode = mode;
    CU.tf32 = mode == GGDM_CUDA_FAST && tf32;
    env = getenv("GGDM_CUDA_SYNC");
    CU.sync_each = env && env[0] && strcmp(env, "0") != 0;
    env = getenv("GGDM_CUDA_STAGED");
    CU.unstaged = env && strcmp(env, "0") == 0;
    env = getenv("GGDM_CUDA_PARAMS");
    CU.trust_params = env && strcmp(env, "trust") == 0;
    env = getenv("GGDM_CUDA_WSCACHE");
    CU.no_wscache = env && strcmp(env, "0") == 0;
    env = getenv("GGDM_CUDA_PARAMS");
    CU.params_hash = env && strcmp(env, "hash") == 0;
    env = getenv("GGDM_CUDA_ROWS");
    CU.rows_loop = env && strcmp(env, "0") == 0;
    env = getenv("GGDM_CUDA_SPLITK");
    CU.no_splitk = env && strcmp(env, "0") == 0;
    env = getenv("GGDM_CUDA_WSCOPY");
    CU.ws_copy = env && strcmp(env, "1") == 0;
    env = getenv("GGDM_CUDA_LINEAR");
    CU.linear_alt = env && (strcmp(env, mode == GGDM_CUDA_FAST ? "tiled" : "elem") == 0);
    env = getenv("GGDM_CUDA_LAZYZERO");
    CU.eager_zero = env && strcmp(env, "0") == 0;
    env = getenv("GGDM_CUDA_LAFUSED");
    CU.la_unfused = env && strcmp(env, "0") == 0;
    env = getenv("GGDM_CUDA_CONV_MINL");
    CU.conv_min_l = env && env[0] ? atoi(env) : -1; // -1: the rule of conv_batched
    env = getenv("GGDM_CUDA_CONV");
    if (env && strcmp(env, "cols") == 0)
        CU.conv_min_l = 1 << 30;
    else if (env && strcmp(env, "batched") == 0)
        CU.conv_min_l = 0;
    env = getenv("GGDM_CUDA_GEMM");
    // the default: cuBLAS's own choice in float32, timed cuBLASLt algorithms with TF32 (cuBLAS's
    // TF32 heuristic picks slow kernels for these sizes: docs/performance.md)
    CU.gemm_tuned = mode == GGDM_CUDA_FAST && (env && env[0] ? strcmp(env, "tuned") == 0 : CU.tf32);
    env = getenv("GGDM_CUDA_GRAPH");
    CU.graph_req = env && env[0] && strcmp(env, "0") != 0;
    CU.graph = CU.graph_req && !CU.sync_each;
    tape_reset();
    // LinearAttention's one-block-per-head kernels may use more than 48 KiB of shared memory
    if (cudaFuncSetAttribute(k_linattn_fwd_fused, cudaFuncAttributeMaxDynamicSharedMemorySize, LA_SMEM_MAX) !=
            cudaSuccess ||
        cudaFuncSetAttribute(k_linattn_bwd_fused, cudaFuncAttributeMaxDynamicSharedMemorySize, LA_SMEM_MAX) !=
            cudaSuccess) {
        cudaGetLastError();
        CU.la_unfused = 1; // the staged launches instead
    }
    if ((e = cudaStreamCreate(&CU.stream)) != cudaSuccess) {
        set_err(err, errlen, "cudaStreamCreate: %s", cudaGetErrorString(e));
        return GGDM_CUDA_FAILED;
    }
    if (CU.graph_req && !TP.staging) { // pinned staging for recorded uploads (kept for the process)
        TP.staging_cap = (size_t)4 << 20; // floats: 16 MiB
        if ((e = cudaMallocHost((void **)&TP.staging, TP.staging_cap * sizeof(float))) != cudaSuccess) {
            TP.staging = NULL;
            TP.staging_cap = 0;
        }
    }
    if (mode == GGDM_CUDA_FAST) {
        if ((s = cublasCreate(&CU.blas)) != CUBLAS_STATUS_SUCCESS) {
            set_err(err, errlen, "cublasCreate: %s", cublasGetStatusString(s));
            return GGDM_CUDA_FAILED;
        }
        s = cublasSetMathMode(CU.blas, CU.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
        if (s != CUBLAS_STATUS_SUCCESS) {
            set_err(err, errlen, "cublasSetMathMode: %s", cublasGetStatusString(s));
            cublasDestroy(CU.blas);
            CU.blas = NULL;
            return GGDM_CUDA_FAILED;
        }
        // cuBLAS on our stream, with a workspace of its own: it never allocates while a graph is captured
        CU.blas_ws_bytes = (size_t)32 << 20;
        if ((e = cudaMalloc(&CU.blas_ws, CU.blas_ws_bytes)) != cudaSuccess ||
            (s = cublasSetStream(CU.blas, CU.stream)) != CUBLAS_STATUS_SUCCESS ||
            (s = cublasSetWorkspace(CU.blas, CU.blas_ws, CU.blas_ws_bytes)) != CUBLAS_STATUS_SUCCESS) {
            set_err(err, errlen, "cuBLAS stream/workspace: %s", e != cudaSuccess ? cudaGetErrorString(e)
                                                                                   : cublasGetStatusString(s));
            cublasDestroy(CU.blas);
            CU.blas = NULL;
            return GGDM_CUDA_FAILED;
        }
        env = getenv("GGDM_CUDA_SIDE");
        CU.no_side = env && strcmp(env, "0") == 0;
        if (!CU.no_side &&
            (cudaStreamCreate(&CU.side) != cudaSuccess ||
             cudaEventCreateWithFlags(&CU.ev_fork, cudaEventDisableTiming) != cudaSuccess ||
             cudaEventCreateWithFlags(&CU.ev_join, cudaEventDisableTiming) != cudaSuccess ||
             cudaMalloc(&CU.blas_ws2, CU.blas_ws_bytes) != cudaSuccess ||
             cublasCreate(&CU.blas2) != CUBLAS_STATUS_SUCCESS ||
             cublasSetMathMode(CU.blas2, CU.tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH) !=
                 CUBLAS_STATUS_SUCCESS ||
             cublasSetStream(CU.blas2, CU.side) != CUBLAS_STATUS_SUCCESS ||
             cublasSetWorkspace(CU.blas2, CU.blas_ws2, CU.blas_ws_bytes) != CUBLAS_STATUS_SUCCESS)) {
            cudaGetLastError();
            CU.no_side = 1; // one stream (what was made is released at shutdown)
        }
        if (CU.gemm_tuned && (s = cublasLtCreate(&CU.lt)) != CUBLAS_STATUS_SUCCESS) {
            set_err(err, errlen, "cublasLtCreate: %s", cublasGetStatusString(s));
            cublasDestroy(CU.blas);
            CU.blas = NULL;
            return GGDM_CUDA_FAILED;
        }
    }
    snprintf(CU.desc, sizeof CU.desc, "%.200s (sm_%d%d, %d SMs, %.1f GiB), %s%s%s%s%s%s", prop.name, prop.major,
             prop.minor, prop.multiProcessorCount, (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0),
             mode == GGDM_CUDA_FAST ? "fast" : "exact", CU.tf32 ? ", TF32" : "",
             CU.graph ? ", CUDA graphs (GGDM_CUDA_GRAPH)" : "",
             CU.sync_each ? ", GGDM_CUDA_SYNC (synchronise after every kernel)" : "",
             CU.trust_params ? ", GGDM_CUDA_PARAMS=trust" : "",
             CU.gemm_tuned ? ", GGDM_CUDA_GEMM=tuned (cuBLASLt, timed per size)" : "");
    CU.inited = 1;
    if (out) {
        static ggdm_unet_backend fast_unfused; // GGDM_CUDA_FUSE=0: the separate operations (cross-checks)
        env = getenv("GGDM_CUDA_FUSE");
        fast_unfused = fast_backend;
        fast_unfused.gn_act_forward = NULL;
        fast_unfused.gn_act_backward = NULL;
        *out = mode != GGDM_CUDA_FAST ? &exact_backend : env && strcmp(env, "0") == 0 ? &fast_unfused : &fast_backend;
    }
    return GGDM_CUDA_OK;
}

extern "C" void ggdm_cuda_backend_shutdown(void)
{
    int i;
    if (!CU.inited)
        return;
    tape_flush();
    tape_reset();
    if (!CU.failed)
        ck(cudaDeviceSynchronize(), "shutdown: synchronise"); // a late kernel failure is still reported
    for (i = 0; i < NPARAM_CACHE; i++)
        if (CU.prm[i].dev)
            cudaFree(CU.prm[i].dev);
    if (CU.ws)
        cudaFree(CU.ws);
    if (CU.grads)
        cudaFree(CU.grads);
    if (CU.scratch)
        cudaFree(CU.scratch);
    if (CU.att)
        cudaFree(CU.att);
    for (i = 0; i < CU.n_wsc; i++)
        cudaFree(CU.wsc[i].buf);
    lt_reset();
    if (CU.blas2)
        cublasDestroy(CU.blas2);
    if (CU.blas_ws2)
        cudaFree(CU.blas_ws2);
    if (CU.ev_fork)
        cudaEventDestroy(CU.ev_fork);
    if (CU.ev_join)
        cudaEventDestroy(CU.ev_join);
    if (CU.side)
        cudaStreamDestroy(CU.side);
    if (CU.lt)
        cublasLtDestroy(CU.lt);
    if (CU.tune_buf)
        cudaFree(CU.tune_buf);
    if (CU.blas)
        cublasDestroy(CU.blas);
    if (CU.blas_ws)
        cudaFree(CU.blas_ws);
    if (CU.stream)
        cudaStreamDestroy(CU.stream);
    free(CU.host_tmp);
    // the first error stays readable after shutdown
    {
        int failed = CU.failed;
        char errbuf[sizeof CU.err];
        memcpy(errbuf, CU.err, sizeof errbuf);
        memset(&CU, 0, sizeof CU);
        CU.failed = failed;
        memcpy(CU.err, errbuf, sizeof errbuf);
    }
}

extern "C" const char *ggdm_cuda_backend_error(void)
{
    return CU.failed ? CU.err : NULL;
}

extern "C" const char *ggdm_cuda_backend_describe(void)
{
    return CU.inited ? CU.desc : "not initialised";
}

extern "C" void ggdm_cuda_graph_stats(FILE *f)
{
    tape_stats(f);
}

extern "C" int ggdm_cuda_backend_graphs(void)
{
    return CU.inited && CU.graph;
}

extern "C" int ggdm_cuda_backend_sync(void)
{
    tape_flush();
    if (CU.failed)
        return -1;
    return ck(cudaDeviceSynchronize(), "synchronise");
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
