// gpu/cuda_ctx.cu - the CUDA driver's core (gpu/cuda_ctx.h): errors, profiling, device
// buffers, deferred zeroing, the side stream, graph taping, the memory operations of
// ggdm/backend.h, the parameter and weight-standardisation caches, and the matrix products
// of fast mode. Every function takes the instance's context (ggdm_cuda_ctx); the ops are in
// gpu/ops/<name>.cu, init and the tables in gpu/backend_cuda.cu.
//
// Everything runs on the instance's stream (cx->stream), so one launch finishes before the
// next starts (the order of an op's outputs matters: the launch order of ggdm/elem.h).
// Uploads and downloads are synchronous. Graph mode (GGDM_CUDA_GRAPH=1) records a call's
// operations and replays repeated calls as CUDA graphs ("graphs" below).
#include "cuda_ctx.h"

// ------------------------------------------------------------------ the context

ggdm_cuda_ctx *cuda_ctx_of(void *ctx)
{
    return (ggdm_cuda_ctx *)ctx;
}

// ------------------------------------------------------------------ errors

void record(ggdm_cuda_ctx *cx, const char *fmt, ...)
{
    va_list ap;
    if (cx->failed)
        return;
    va_start(ap, fmt);
    vsnprintf(cx->err, sizeof cx->err, fmt, ap);
    va_end(ap);
    cx->failed = 1;
    fprintf(stderr, "ggdm-cuda: %s\n", cx->err);
}

// 0 when e is cudaSuccess; otherwise records "what: error" and returns -1.
int ck(ggdm_cuda_ctx *cx, cudaError_t e, const char *what)
{
    if (e == cudaSuccess)
        return 0;
    record(cx, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
    return -1;
}

int ckb(ggdm_cuda_ctx *cx, cublasStatus_t s, const char *what)
{
    if (s == CUBLAS_STATUS_SUCCESS) {
        prof_mark(cx, what);
        return 0;
    }
    record(cx, "%s: cuBLAS %s (%d)", what, cublasGetStatusString(s), (int)s);
    return -1;
}

// After a kernel launch: launch errors always; execution errors too with GGDM_CUDA_SYNC=1.
int ck_launch(ggdm_cuda_ctx *cx, const char *what)
{
    if (ck(cx, cudaGetLastError(), what))
        return -1;
    prof_mark(cx, what);
    if (cx->sync_each)
        return ck(cx, cudaDeviceSynchronize(), what);
    return 0;
}

static double prof_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void prof_add(ggdm_cuda_ctx *cx, const char *name, double secs)
{
    int i;
    for (i = 0; i < cx->prof.n; i++)
        if (cx->prof.row[i].name == name || strcmp(cx->prof.row[i].name, name) == 0)
            break;
    if (i == cx->prof.n) {
        if (cx->prof.n == NPROF)
            i = NPROF - 1, name = "(other)";
        else
            cx->prof.n++;
        cx->prof.row[i].name = name;
    }
    cx->prof.row[i].secs += secs;
    cx->prof.row[i].calls++;
}

// Asynchronous mode: the time between consecutive events is the GPU's time for the operation
// that ends at the later one (including any wait for the host to launch it).
void prof_drain(ggdm_cuda_ctx *cx)
{
    int i;
    float ms;
    if (cx->prof.n_ev == 0)
        return;
    cudaEventSynchronize(cx->prof.ev[cx->prof.n_ev]);
    for (i = 1; i <= cx->prof.n_ev; i++)
        if (cudaEventElapsedTime(&ms, cx->prof.ev[i - 1], cx->prof.ev[i]) == cudaSuccess)
            prof_add(cx, cx->prof.ev_name[i], 1e-3 * (double)ms);
    // the last event starts the next batch
    {
        cudaEvent_t t = cx->prof.ev[0];
        cx->prof.ev[0] = cx->prof.ev[cx->prof.n_ev];
        cx->prof.ev[cx->prof.n_ev] = t;
    }
    cx->prof.n_ev = 0;
}

// A name with sizes, kept for the profile's table (the same text gives the same pointer).
const char *prof_label(ggdm_cuda_ctx *cx, const char *what, int a, int b, int c)
{
    char buf[96];
    int i;
    snprintf(buf, sizeof buf, "%.60s %dx%dx%d", what, a, b, c);
    for (i = 0; i < cx->prof.n_label; i++)
        if (strcmp(cx->prof.label[i], buf) == 0)
            return cx->prof.label[i];
    if (cx->prof.n_label == NPROF_LABEL)
        return what;
    memcpy(cx->prof.label[cx->prof.n_label], buf, sizeof buf);
    return cx->prof.label[cx->prof.n_label++];
}

// At the start of a backend call: the host's time since the previous one (synchronised mode).
void prof_enter(ggdm_cuda_ctx *cx)
{
    double t;
    if (cx->prof.on != 1)
        return;
    t = prof_now();
    prof_add(cx, "host (between backend calls)", t - cx->prof.last);
    cx->prof.last = t;
}

// After a kernel, cuBLAS call or memory operation: waits for it and counts its time
// (synchronised mode), or records an event after it (asynchronous mode).
void prof_mark(ggdm_cuda_ctx *cx, const char *what)
{
    double t;
    if (!cx->prof.on)
        return;
    if (cx->prof.on == 2) {
        if (cx->prof.n_ev == NPROF_EV)
            prof_drain(cx);
        cx->prof.n_ev++;
        cx->prof.ev_name[cx->prof.n_ev] = what;
        cudaEventRecord(cx->prof.ev[cx->prof.n_ev], cx->stream);
        return;
    }
    cudaDeviceSynchronize();
    t = prof_now();
    prof_add(cx, what, t - cx->prof.last);
    cx->prof.last = t;
}

void cuda_profile(ggdm_cuda_ctx *cx, int on)
{
    int i;
    tape_flush(cx);
    cx->graph = cx->graph_req && !cx->sync_each && !on; // profiling times every operation: no capture
    if (on == 2 && !cx->prof.ev_made) {
        for (i = 0; i <= NPROF_EV; i++)
            if (cudaEventCreate(&cx->prof.ev[i]) != cudaSuccess)
                break;
        if (i <= NPROF_EV) { // could not make the events: synchronised mode instead
            while (i-- > 0)
                cudaEventDestroy(cx->prof.ev[i]);
            on = 1;
        } else {
            cx->prof.ev_made = 1;
        }
    }
    if (on) {
        cudaDeviceSynchronize();
        cx->prof.n = 0;
        cx->prof.n_ev = 0;
        memset(cx->prof.row, 0, sizeof cx->prof.row);
        cx->prof.last = prof_now();
        if (on == 2)
            cudaEventRecord(cx->prof.ev[0], cx->stream);
    } else if (cx->prof.on == 2) {
        prof_drain(cx);
    }
    cx->prof.on = on;
}

void cuda_profile_print(ggdm_cuda_ctx *cx, FILE *f)
{
    tape_stats(cx, f);
    int i, j, idx[NPROF];
    double total = 0.0;
    if (cx->prof.on == 2)
        prof_drain(cx);
    for (i = 0; i < cx->prof.n; i++) {
        idx[i] = i;
        total += cx->prof.row[i].secs;
    }
    for (i = 1; i < cx->prof.n; i++) // insertion sort, largest first
        for (j = i; j > 0 && cx->prof.row[idx[j]].secs > cx->prof.row[idx[j - 1]].secs; j--) {
            int k = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = k;
        }
    fprintf(f, "profile: %-52s %10s %8s %10s %6s\n", "what", "total ms", "calls", "us/call", "share");
    for (i = 0; i < cx->prof.n; i++) {
        int r = idx[i];
        fprintf(f, "profile: %-52s %10.3f %8ld %10.1f %5.1f%%\n", cx->prof.row[r].name, 1e3 * cx->prof.row[r].secs,
                cx->prof.row[r].calls, 1e6 * cx->prof.row[r].secs / (double)(cx->prof.row[r].calls ? cx->prof.row[r].calls : 1),
                total > 0 ? 100.0 * cx->prof.row[r].secs / total : 0.0);
    }
    fprintf(f, "profile: %-52s %10.3f\n", "total", 1e3 * total);
}

// Grows a device buffer to at least `bytes` (contents are not kept). 0 on success.
int grow(ggdm_cuda_ctx *cx, float **p, size_t *cap_bytes, size_t bytes, const char *what)
{
    if (*p && *cap_bytes >= bytes)
        return 0;
    if (*p) {
        if (ck(cx, cudaFree(*p), what))
            return -1;
        *p = NULL;
        *cap_bytes = 0;
    }
    cx->buf_epoch++; // a captured graph that used the old buffer is stale
    if (ck(cx, cudaMalloc((void **)p, bytes ? bytes : 256), what)) {
        *p = NULL;
        return -1;
    }
    *cap_bytes = bytes;
    return 0;
}

// ------------------------------------------------------------------ fast mode: deferred zeroing
//
// The plan zeroes a gradient buffer and then lets one operation add into it (dA before a
// Conv1d backward, the attention's dproj/dov/dqkv/dnrm, ...). In fast mode cu_zero only notes
// the buffer; the next operation either is a consumer that takes it (zero_take: it then
// writes its sums instead of adding them to zeros, one launch fewer) or, whatever it is, first
// has the memset made (zero_flush: every operation but the consumers, every memory operation
// through tape_flush, the end of a recorded tape). Exact mode zeroes at once (writing x
// instead of 0 + x changes the sign of a zero sum). GGDM_CUDA_LAZYZERO=0 turns it off.
void zero_flush(ggdm_cuda_ctx *cx)
{
    float *p = cx->zp.p;
    if (!p)
        return;
    cx->zp.p = NULL;
    if (!cx->failed)
        ck(cx, cudaMemsetAsync(p, 0, cx->zp.n * sizeof(float), cx->stream), "zero");
    prof_mark(cx, "zero");
}

// 1 when [p, p + n) is exactly the buffer whose zeroing is pending: the caller writes instead
// of adding (and the memset is not made); 0 otherwise (any pending memset made first).
int zero_take(ggdm_cuda_ctx *cx, const float *p, size_t n)
{
    if (cx->zp.p && cx->zp.p == p && cx->zp.n == n) {
        cx->zp.p = NULL;
        return 1;
    }
    zero_flush(cx);
    return 0;
}

// Fast mode: the Linear forwards (the ResnetBlocks' time MLPs: one small product each, whose
// result the block reads only after its first convolution) run on a second stream, cx->side,
// forked from cx->stream when they are called; cx->stream waits for them (side_join) before any
// operation but a Conv1d forward, a weight standardisation or another Linear forward (which
// do not touch them; one whose ranges overlap the side's pending work joins first: side_conflict), before every memory
// operation (tape_flush) and at the end of a recorded tape. GGDM_CUDA_SIDE=0: one stream.
void side_join(ggdm_cuda_ctx *cx)
{
    if (!cx->side_pending)
        return;
    cx->side_pending = 0;
    cx->n_side = 0;
    if (!cx->failed && !ck(cx, cudaEventRecord(cx->ev_join, cx->side), "side: join"))
        ck(cx, cudaStreamWaitEvent(cx->stream, cx->ev_join, 0), "side: join");
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

static void tape_run_all(ggdm_cuda_ctx *cx)
{
    size_t i;
    zero_flush(cx);
    cx->tp.running = 1;
    for (i = 0; i < cx->tp.ent.size() && !cx->failed; i++)
        cx->tp.ent[i].run(cx, cx->tp.bytes.data() + cx->tp.ent[i].off);
    cx->tp.running = 0;
    zero_flush(cx); // a captured graph is complete without the host
    side_join(cx);
}

static int same_as_last(ggdm_cuda_ctx *cx)
{
    size_t i;
    if (!cx->tp.last_valid || cx->tp.last_gen != cx->param_gen || cx->tp.last_epoch != cx->buf_epoch ||
        cx->tp.ent.size() != cx->tp.last_ent.size() || cx->tp.bytes.size() != cx->tp.last_bytes.size())
        return 0;
    for (i = 0; i < cx->tp.ent.size(); i++)
        if (cx->tp.ent[i].run != cx->tp.last_ent[i].run)
            return 0;
    return memcmp(cx->tp.bytes.data(), cx->tp.last_bytes.data(), cx->tp.bytes.size()) == 0;
}

static void drop_graph(ggdm_cuda_ctx *cx)
{
    if (cx->tp.exec)
        cudaGraphExecDestroy(cx->tp.exec);
    cx->tp.exec = NULL;
}

// The synchronisation point: the recorded operations run (see above); the tape is empty after.
void tape_flush(ggdm_cuda_ctx *cx)
{
    if (!cx->graph || cx->tp.running || cx->tp.ent.empty()) {
        cx->tp.staging_used = 0;
        zero_flush(cx);
        side_join(cx);
        return;
    }
    if (!cx->failed) {
        int same = same_as_last(cx);
        if (same && !cx->tp.exec) { // second sight: capture
            cudaGraph_t g = NULL;
            if (!ck(cx, cudaStreamBeginCapture(cx->stream, cudaStreamCaptureModeThreadLocal), "graph: begin capture")) {
                cudaError_t e;
                tape_run_all(cx);
                e = cudaStreamEndCapture(cx->stream, &g);
                if (!cx->failed && !ck(cx, e, "graph: end capture") &&
                    !ck(cx, cudaGraphInstantiate(&cx->tp.exec, g, 0), "graph: instantiate"))
                    cx->tp.captures++;
                if (g)
                    cudaGraphDestroy(g);
            }
        }
        if (same && cx->tp.exec && !cx->failed) {
            ck(cx, cudaGraphLaunch(cx->tp.exec, cx->stream), "graph: launch");
            cx->tp.launches++;
        } else if (!cx->failed) { // first sight: as recorded, and remembered
            drop_graph(cx);
            tape_run_all(cx);
            cx->tp.eager++;
            cx->tp.last_ent.swap(cx->tp.ent);
            cx->tp.last_bytes.swap(cx->tp.bytes);
            cx->tp.last_gen = cx->param_gen;
            cx->tp.last_epoch = cx->buf_epoch;
            cx->tp.last_valid = 1;
        }
    }
    cx->tp.ent.clear();
    cx->tp.bytes.clear();
    if (cx->tp.staging_used && !cx->failed) // the launched copies read the staging: done before it is reused
        ck(cx, cudaStreamSynchronize(cx->stream), "graph: synchronise");
    cx->tp.staging_used = 0;
}

// Pinned staging for a recorded upload of n floats; NULL (flushed: upload synchronously) when full.
float *tape_stage(ggdm_cuda_ctx *cx, size_t n)
{
    float *p;
    if (!taping(cx) || !cx->tp.staging || cx->tp.staging_used + n > cx->tp.staging_cap)
        return NULL;
    p = cx->tp.staging + cx->tp.staging_used;
    cx->tp.staging_used += (n + 15) & ~(size_t)15;
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

void tape_stats(ggdm_cuda_ctx *cx, FILE *f)
{
    if (cx->tp.launches || cx->tp.captures || cx->tp.eager)
        fprintf(f, "graphs: %llu tapes run as recorded, %llu captured, %llu graph launches\n", cx->tp.eager, cx->tp.captures,
                cx->tp.launches);
}

void tape_reset(ggdm_cuda_ctx *cx)
{
    drop_graph(cx);
    cx->tp.ent.clear();
    cx->tp.bytes.clear();
    cx->tp.last_ent.clear();
    cx->tp.last_bytes.clear();
    cx->tp.last_valid = 0;
    cx->tp.running = 0;
    cx->tp.staging_used = 0;
}


void cuda_unsupported(ggdm_cuda_ctx *cx, const char *op, const char *what)
{
    record(cx, "op %s: %s is not on the GPU yet (the reference's CPU backend runs it)", op, what);
}

// ------------------------------------------------------------------ side stream: ranges

// A pending side-stream range [q, q + m) against [p, p + n): an overlap with a range the side
// writes always conflicts; with one it reads only when the main stream writes.
int side_conflict(ggdm_cuda_ctx *cx, const float *p, size_t n, int write)
{
    int i;
    if (!cx->side_pending || !p || n == 0)
        return 0;
    for (i = 0; i < cx->n_side; i++) {
        const float *q = cx->side_rng[i].p;
        size_t m = cx->side_rng[i].n;
        if ((write || cx->side_rng[i].write) && q && p < q + m && q < p + n)
            return 1;
    }
    return 0;
}

int side_note(ggdm_cuda_ctx *cx, const float *p, size_t n, int write)
{
    if (cx->n_side == NSIDE)
        return 0;
    cx->side_rng[cx->n_side].p = p;
    cx->side_rng[cx->n_side].n = n;
    cx->side_rng[cx->n_side].write = write;
    cx->n_side++;
    return 1;
}

// ------------------------------------------------------------------ graphs: recording

// Before an operation runs (direct or replayed from a tape): the pending memset is made unless
// the operation takes it itself (the consumers of zero_take, or cu_zero_run, which replaces
// it), and the side stream is joined unless the operation is one of those that check their
// own ranges against it (side_conflict: Conv1d forward, weight standardisation, Linear forward).
void before_op(ggdm_cuda_ctx *cx, code_ptr g)
{
    if (g != code_of(&f_conv1d_backward) && g != code_of(&f_chnorm_backward) && g != code_of(&s_linattn_backward) &&
        g != code_of(&cu_zero_run))
        zero_flush(cx);
    if (g != code_of(&f_conv1d_forward) && g != code_of(&f_linear_forward) && g != code_of(&c_ws_forward))
        side_join(cx);
}

int taping(ggdm_cuda_ctx *cx)
{
    return cx->graph && !cx->tp.running && !cx->failed;
}

void tape_push(ggdm_cuda_ctx *cx, tape_fn run, const unsigned char *buf, size_t len)
{
    tape_entry e;
    e.run = run;
    e.off = cx->tp.bytes.size();
    e.len = len;
    cx->tp.bytes.insert(cx->tp.bytes.end(), buf, buf + len);
    cx->tp.ent.push_back(e);
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
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    tape_flush(cx);
    prof_scope ps_(cx, "params");
    param_entry *e = NULL;
    XXH128_hash_t h;
    int i;
    if (cx->failed || !host || n == 0)
        return NULL;
    // changed < 0: the library guarantees no change since the last call (a sampling loop's
    // later steps); GGDM_CUDA_PARAMS=trust: the caller never changes them in place
    if ((changed < 0 && !cx->params_hash) || (cx->trust_params && !changed))
        for (i = 0; i < NPARAM_CACHE; i++)
            if (cx->prm[i].dev && cx->prm[i].host == host && cx->prm[i].n == n) {
                cx->prm[i].used = ++cx->clock;
                return cx->prm[i].dev;
            }
    h = XXH3_128bits(host, (size_t)n * sizeof(float));
    for (i = 0; i < NPARAM_CACHE; i++)
        if (cx->prm[i].dev && cx->prm[i].host == host && cx->prm[i].n == n) {
            e = &cx->prm[i];
            break;
        }
    if (e && changed <= 0 && XXH128_isEqual(e->hash, h)) {
        e->used = ++cx->clock;
        return e->dev;
    }
    if (!e) { // a free entry, else the least recently used one
        e = &cx->prm[0];
        for (i = 0; i < NPARAM_CACHE; i++) {
            if (!cx->prm[i].dev) {
                e = &cx->prm[i];
                break;
            }
            if (cx->prm[i].used < e->used)
                e = &cx->prm[i];
        }
    }
    if (e->cap < n) {
        size_t capb = (size_t)e->cap * sizeof(float);
        if (grow(cx, &e->dev, &capb, (size_t)n * sizeof(float), "params: cudaMalloc")) {
            memset(e, 0, sizeof *e);
            return NULL;
        }
        e->cap = n;
    }
    e->host = host;
    e->n = n;
    cx->param_gen++; // every cached weight standardisation is stale now
    if (ck(cx, cudaMemcpy(e->dev, host, (size_t)n * sizeof(float), cudaMemcpyHostToDevice), "params: upload")) {
        e->host = NULL;
        return NULL;
    }
    e->hash = h;
    e->used = ++cx->clock;
    return e->dev;
}

static float *cu_grads_begin(void *ctx, float *host, uint64_t n)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    tape_flush(cx);
    prof_scope ps_(cx, "grads_begin (upload)");
    size_t cap = (size_t)cx->grads_cap * sizeof(float);
    if (cx->failed || !host || n == 0)
        return NULL;
    if (grow(cx, &cx->grads, &cap, (size_t)n * sizeof(float), "grads: cudaMalloc")) {
        cx->grads_cap = 0;
        return NULL;
    }
    cx->grads_cap = cap / sizeof(float);
    if (ck(cx, cudaMemcpy(cx->grads, host, (size_t)n * sizeof(float), cudaMemcpyHostToDevice), "grads: upload"))
        return NULL;
    return cx->grads;
}

static void cu_grads_end(void *ctx, float *host, float *dev, uint64_t n)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    tape_flush(cx);
    prof_scope ps_(cx, "grads_end (download)");
    if (cx->failed || !host || !dev || n == 0)
        return;
    ck(cx, cudaMemcpy(host, dev, (size_t)n * sizeof(float), cudaMemcpyDeviceToHost), "grads: download");
}

// cudaMemcpyDefault: the direction follows from the pointers (unified addressing), so a
// host pointer where device memory was expected (the trace of the network's input) still
// copies correctly.
// From pinned staging memory (graph mode): recorded.
static void upload_async(ggdm_cuda_ctx *cx, float *dst, const float *pinned, size_t n)
{
    prof_scope ps_(cx, "upload (staged)");
    if (!cx->failed)
        ck(cx, cudaMemcpyAsync(dst, pinned, n * sizeof(float), cudaMemcpyHostToDevice, cx->stream), "upload (staged)");
}

static void cu_upload(void *ctx, float *dst, const float *host_src, size_t n)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    float *st;
    if (cx->failed || n == 0)
        return;
    if (taping(cx) && is_device(dst) && (st = tape_stage(cx, n))) {
        memcpy(st, host_src, n * sizeof(float));
        tape_or_run(cx, upload_async, dst, (const float *)st, n);
        return;
    }
    tape_flush(cx);
    prof_scope ps_(cx, "upload");
    ck(cx, cudaMemcpy(dst, host_src, n * sizeof(float), cudaMemcpyDefault), "upload");
}

static void cu_download(void *ctx, float *host_dst, const float *src, size_t n)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    tape_flush(cx);
    prof_scope ps_(cx, "download");
    if (cx->failed || n == 0)
        return;
    ck(cx, cudaMemcpy(host_dst, src, n * sizeof(float), cudaMemcpyDefault), "download");
}

// Device to device on the stream (recorded in graph mode).
static void copy_async(ggdm_cuda_ctx *cx, float *dst, const float *src, size_t n)
{
    prof_scope ps_(cx, "copy");
    if (!cx->failed)
        ck(cx, cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, cx->stream), "copy");
}

static void cu_copy(void *ctx, float *dst, const float *src, size_t n)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    if (cx->failed || n == 0 || dst == src)
        return;
    if (taping(cx) && is_device(dst) && is_device(src)) {
        tape_or_run(cx, copy_async, dst, src, n);
        return;
    }
    tape_flush(cx);
    prof_scope ps_(cx, "copy");
    ck(cx, cudaMemcpy(dst, src, n * sizeof(float), cudaMemcpyDefault), "copy");
}

void cu_zero_run(ggdm_cuda_ctx *cx, float *dst, size_t n)
{
    zero_flush(cx);
    if (cx->failed || n == 0)
        return;
    if (cx->mode == GGDM_CUDA_FAST && !cx->eager_zero) { // deferred: see zero_take
        cx->zp.p = dst;
        cx->zp.n = n;
        return;
    }
    prof_scope ps_(cx, "zero");
    ck(cx, cudaMemsetAsync(dst, 0, n * sizeof(float), cx->stream), "zero");
}

// (recorded in graph mode)
static void cu_zero(void *ctx, float *dst, size_t n)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    tape_or_run(cx, cu_zero_run, dst, n);
}

static void cu_add_into_run(ggdm_cuda_ctx *cx, float *dst, const float *src, size_t n)
{
    prof_enter(cx);
    if (cx->failed || n == 0)
        return;
    LAUNCH_I(cx, k_add_into, n, n, dst, src, (long long)n);
    ck_launch(cx, "kernel add_into");
}

// (recorded in graph mode)
static void cu_add_into(void *ctx, float *dst, const float *src, size_t n)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    tape_or_run(cx, cu_add_into_run, dst, src, n);
}

static void cu_steps(void *ctx, float *dst, const int64_t *host_t, int N)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    int i;
    float *st;
    if (cx->failed || N <= 0)
        return;
    if (taping(cx) && is_device(dst) && (st = tape_stage(cx, (size_t)N))) {
        for (i = 0; i < N; i++)
            st[i] = (float)host_t[i];
        tape_or_run(cx, upload_async, dst, (const float *)st, (size_t)N);
        return;
    }
    tape_flush(cx);
    prof_scope ps_(cx, "steps (upload)");
    if (cx->host_tmp_cap < (size_t)N) {
        float *p = (float *)realloc(cx->host_tmp, sizeof(float) * (size_t)N);
        if (!p) {
            record(cx, "steps: out of host memory (%d floats)", N);
            return;
        }
        cx->host_tmp = p;
        cx->host_tmp_cap = (size_t)N;
    }
    for (i = 0; i < N; i++)
        cx->host_tmp[i] = (float)host_t[i];
    ck(cx, cudaMemcpy(dst, cx->host_tmp, sizeof(float) * (size_t)N, cudaMemcpyHostToDevice), "steps: upload");
}

// Nonzero once a CUDA or cuBLAS call failed: the library then fails the network call with
// GGDM_ERR_DEVICE instead of returning what the device left in the outputs. A pending
// asynchronous kernel error is collected here too.
static int cu_failed(void *ctx)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    tape_flush(cx);
    prof_scope ps_(cx, "failed (synchronise)");
    if (!cx->failed)
        ck(cx, cudaDeviceSynchronize(), "a kernel of this call");
    return cx->failed;
}

// The plan's workspace: one device arena, grown when a call needs more, kept until
// shutdown. Nothing in it outlives one library call (the plan writes before it reads).
static float *cu_workspace(void *ctx, void *host_ws, size_t bytes)
{
    ggdm_cuda_ctx *cx = cuda_ctx_of(ctx);
    tape_flush(cx);
    prof_scope ps_(cx, "workspace");
    (void)host_ws;
    cx->n_rd = 0; // a network call starts: its ws_forward calls announce their results again
    if (cx->failed)
        return NULL; // the library call fails (GGDM_ERR_BUFFER_TOO_SMALL); the error is recorded
    if (grow(cx, &cx->ws, &cx->ws_bytes, bytes, "workspace: cudaMalloc"))
        return NULL;
    return cx->ws;
}

// Grows a private device buffer (contents not kept) and returns it, NULL on failure.
float *private_floats(ggdm_cuda_ctx *cx, float **p, size_t *cap_bytes, size_t n, const char *what)
{
    return grow(cx, p, cap_bytes, n * sizeof(float), what) ? NULL : *p;
}


// Weight standardisation of a parameter array, cached until the parameters change (every
// sampling step standardises the same weights): the cached w_hat and rstd are the element
// kernels' own results, so the bits are the same; arrays outside the parameters are never
// cached.
int in_params(ggdm_cuda_ctx *cx, const float *p)
{
    int i;
    for (i = 0; i < NPARAM_CACHE; i++)
        if (cx->prm[i].dev && p >= cx->prm[i].dev && p < cx->prm[i].dev + cx->prm[i].n)
            return 1;
    return 0;
}

// Fast mode: a cached weight standardisation is not copied into the plan's w_hat and rstd
// slots of the workspace; ws_forward notes where they are, and the operations that read them
// (Conv1d forward and backward: w; ws_backward: w_hat, rstd) read the cache instead. The
// notes hold for one network call (cleared by cu_workspace; a computed ws_forward drops the
// note of its slots). The plan writes those slots only by ws_forward (ref/src/unet.c: one
// w_hat/rstd slot per convolution), so nothing else sees the difference.
// OFF BY DEFAULT since the graph runner's arena is reused (gpu/README.md, "Arena reuse"): a
// note is keyed by a workspace address, and the liveness planner may put another value at that
// address later in the same call (or read the slot by an op that does not resolve it), which
// these notes cannot see. GGDM_CUDA_WSCOPY=0 turns the in-place reads on again (only for
// plans that keep every WSTD slot for the WSTD output alone, as the old layer plan did).
const float *ws_resolve(ggdm_cuda_ctx *cx, const float *p)
{
    int i;
    for (i = 0; i < cx->n_rd; i++) {
        if (cx->rd[i].w_hat == p)
            return cx->rd[i].buf;
        if (cx->rd[i].rstd == p)
            return cx->rd[i].buf + cx->rd[i].nw;
    }
    return p;
}

void ws_unresolve(ggdm_cuda_ctx *cx, const float *w_hat, const float *rstd)
{
    int i;
    for (i = 0; i < cx->n_rd; i++)
        if (cx->rd[i].w_hat == w_hat || cx->rd[i].rstd == rstd) {
            cx->rd[i] = cx->rd[--cx->n_rd];
            i--;
        }
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

void lt_reset(ggdm_cuda_ctx *cx)
{
    int i;
    for (i = 0; i < cx->ltc.n; i++) {
        cublasLtMatrixLayoutDestroy(cx->ltc.e[i].la);
        cublasLtMatrixLayoutDestroy(cx->ltc.e[i].lb);
        cublasLtMatrixLayoutDestroy(cx->ltc.e[i].lc);
        cublasLtMatmulDescDestroy(cx->ltc.e[i].op);
    }
    cx->ltc.n = 0;
}

int ckl(ggdm_cuda_ctx *cx, cublasStatus_t s, const char *what)
{
    if (s == CUBLAS_STATUS_SUCCESS)
        return 0;
    record(cx, "%s: cuBLASLt %s (%d)", what, cublasGetStatusString(s), (int)s);
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
static lt_entry *lt_find(ggdm_cuda_ctx *cx, int ta, int tb, int M, int Nc, int K, int lda, int ldb, int ldc, float beta, const float *A,
                         const float *B, float *C, const char *what)
{
    int i, j, nres = 0, best = -1;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t res[LT_CANDIDATES];
    cublasOperation_t oa = tb ? CUBLAS_OP_T : CUBLAS_OP_N, ob = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasComputeType_t ct = cx->tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
    lt_entry *e;
    int beta0 = beta == 0.0f;
    float best_ms = 0.0f;
    // cuBLASLt's A is our B, its B our A
    uint32_t al_a = lt_align(B), al_b = lt_align(A), al_c = lt_align(C);
    for (i = 0; i < cx->ltc.n; i++) {
        e = &cx->ltc.e[i];
        if (e->ta == ta && e->tb == tb && e->M == M && e->Nc == Nc && e->K == K && e->lda == lda && e->ldb == ldb &&
            e->ldc == ldc && e->beta0 == beta0 && e->al_a == al_a && e->al_b == al_b && e->al_c == al_c)
            return e;
    }
    if (cx->ltc.n == NLT) // full (a process running many sizes, e.g. the conformance runner): start again
        lt_reset(cx);
    e = &cx->ltc.e[cx->ltc.n];
    memset(e, 0, sizeof *e);
    e->ta = ta, e->tb = tb, e->M = M, e->Nc = Nc, e->K = K, e->lda = lda, e->ldb = ldb, e->ldc = ldc, e->beta0 = beta0;
    e->al_a = al_a, e->al_b = al_b, e->al_c = al_c;
    if (ckl(cx, cublasLtMatmulDescCreate(&e->op, ct, CUDA_R_32F), what) ||
        ckl(cx, cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSA, &oa, sizeof oa), what) ||
        ckl(cx, cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSB, &ob, sizeof ob), what) ||
        ckl(cx, cublasLtMatrixLayoutCreate(&e->la, CUDA_R_32F, tb ? K : Nc, tb ? Nc : K, ldb), what) ||
        ckl(cx, cublasLtMatrixLayoutCreate(&e->lb, CUDA_R_32F, ta ? M : K, ta ? K : M, lda), what) ||
        ckl(cx, cublasLtMatrixLayoutCreate(&e->lc, CUDA_R_32F, Nc, M, ldc), what) ||
        ckl(cx, cublasLtMatmulPreferenceCreate(&pref), what) ||
        ckl(cx, cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &cx->blas_ws_bytes,
                                                 sizeof cx->blas_ws_bytes),
            what) ||
        ckl(cx, cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof al_a),
            what) ||
        ckl(cx, cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof al_b),
            what) ||
        ckl(cx, cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c, sizeof al_c),
            what) ||
        ckl(cx, cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c, sizeof al_c),
            what) ||
        ckl(cx, cublasLtMatmulAlgoGetHeuristic(cx->lt, e->op, e->la, e->lb, e->lc, e->lc, pref, LT_CANDIDATES, res, &nres),
            what)) {
        if (pref)
            cublasLtMatmulPreferenceDestroy(pref);
        return NULL;
    }
    cublasLtMatmulPreferenceDestroy(pref);
    if (nres < 1) {
        record(cx, "%s: cuBLASLt has no algorithm for %dx%dx%d", what, M, Nc, K);
        return NULL;
    }
    e->algo = res[0].algo;
    cx->ltc.n++;
    cudaStreamIsCapturing(cx->stream, &cap);
    if (nres > 1 && cap == cudaStreamCaptureStatusNone) {
        // time each candidate: one warm-up, then the best of 3, on a scratch output
        size_t bytes = (size_t)ldc * (size_t)M * sizeof(float);
        cudaEvent_t e0, e1;
        const float one = 1.0f;
        if (grow(cx, &cx->tune_buf, &cx->tune_cap, bytes, "fast: tuning buffer"))
            return NULL;
        if (ck(cx, cudaEventCreate(&e0), what))
            return NULL;
        if (ck(cx, cudaEventCreate(&e1), what)) {
            cudaEventDestroy(e0);
            return NULL;
        }
        for (i = 0; i < nres; i++) {
            float ms = 0.0f, t;
            int ok = 1;
            for (j = -1; ok && j < 3; j++) {
                ok = cudaEventRecord(e0, cx->stream) == cudaSuccess &&
                     cublasLtMatmul(cx->lt, e->op, &one, B, e->la, A, e->lb, &beta, cx->tune_buf, e->lc, cx->tune_buf,
                                    e->lc, &res[i].algo, cx->blas_ws, cx->blas_ws_bytes,
                                    cx->stream) == CUBLAS_STATUS_SUCCESS &&
                     cudaEventRecord(e1, cx->stream) == cudaSuccess && cudaEventSynchronize(e1) == cudaSuccess &&
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
int sgemm_rm(ggdm_cuda_ctx *cx, cublasHandle_t h, int ta, int tb, int M, int Nc, int K, const float *A, int lda, const float *B,
                    int ldb, float beta, float *C, int ldc, const char *what)
{
    const float one = 1.0f;
    return ckb(cx, cublasSgemm(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, Nc, M, K, &one, B, ldb, A,
                           lda, &beta, C, ldc),
               what);
}

// The same on cx->stream: cuBLASLt's timed algorithm (GGDM_CUDA_GEMM=tuned) or cublasSgemm.
int gemm_rm(ggdm_cuda_ctx *cx, int ta, int tb, int M, int Nc, int K, const float *A, int lda, const float *B, int ldb, float beta,
                   float *C, int ldc, const char *what)
{
    const float one = 1.0f;
    if (cx->failed)
        return -1;
    if (cx->prof.on)
        what = prof_label(cx, what, M, Nc, K);
    if (cx->gemm_tuned) {
        lt_entry *e = lt_find(cx, ta, tb, M, Nc, K, lda, ldb, ldc, beta, A, B, C, what);
        if (!e)
            return -1;
        return ckb(cx, cublasLtMatmul(cx->lt, e->op, &one, B, e->la, A, e->lb, &beta, C, e->lc, C, e->lc, &e->algo,
                                  cx->blas_ws, cx->blas_ws_bytes, cx->stream),
                   what);
    }
    return sgemm_rm(cx, cx->blas, ta, tb, M, Nc, K, A, lda, B, ldb, beta, C, ldc, what);
}

// The convolutions' columns (im2col / col2im and the GEMM outputs around them).
float *scratch_floats(ggdm_cuda_ctx *cx, size_t n)
{
    return private_floats(cx, &cx->scratch, &cx->scratch_cap, n, "fast: scratch cudaMalloc");
}


// Row-major, a strided batch: C_i = op(A_i) op(B_i) + beta C_i, X_i = X + i * sX.
int gemm_rm_batched(ggdm_cuda_ctx *cx, int ta, int tb, int M, int Nc, int K, const float *A, int lda, long long sA,
                           const float *B, int ldb, long long sB, float beta, float *C, int ldc, long long sC,
                           int batch, const char *what)
{
    const float one = 1.0f;
    if (cx->failed)
        return -1;
    if (cx->prof.on)
        what = prof_label(cx, what, M, Nc, K);
    return ckb(cx, cublasSgemmStridedBatched(cx->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, Nc,
                                         M, K, &one, B, ldb, sB, A, lda, sA, &beta, C, ldc, sC, batch),
               what);
}

// Split-K for the "cols" layout's products C [M, Nc] = A [M, K] B [K, Nc]: with few output

// ------------------------------------------------------------------ the memory operations of backend.h

void cuda_memory_ops(ggdm_backend *be)
{
    be->params = cu_params;
    be->grads_begin = cu_grads_begin;
    be->grads_end = cu_grads_end;
    be->upload = cu_upload;
    be->download = cu_download;
    be->copy = cu_copy;
    be->zero = cu_zero;
    be->add_into = cu_add_into;
    be->steps = cu_steps;
    be->workspace = cu_workspace;
    be->failed = cu_failed;
}
