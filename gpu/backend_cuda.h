/*
 * gpu/backend_cuda.h - the CUDA backend of the network graph (ggdm/backend.h).
 *
 * Exact mode: every op output element is computed by one CUDA thread calling the
 * reference's element function (ggdm/elem.h, ggdm/elem/<name>.h), so the bits are the
 * reference's. Fast mode: Conv1d and Linear are cuBLAS SGEMMs (TF32 tensor cores with
 * tf32 = 1), the norms block reductions, the ResnetBlock activation path fused; results agree
 * within the manifest's tolerances, not bit for bit.
 *
 * Every ggdm_cuda_backend_init makes an independent instance (its own stream, cuBLAS
 * handles, caches, buffers, graph tape and error: the backend's ctx), on the current device;
 * uploads and downloads are synchronous. The functions below without a backend argument act
 * on the instance the last init returned (the "default instance").
 * Environment (read at init): GGDM_CUDA_GRAPH=1 replays repeated network calls as CUDA
 * graphs; GGDM_CUDA_SYNC=1 synchronises after every kernel (names a failing one);
 * GGDM_CUDA_PARAMS=trust never re-checks the host parameters (=hash: always does);
 * GGDM_CUDA_FUSE=0, GGDM_CUDA_STAGED=0, GGDM_CUDA_WSCACHE=0, GGDM_CUDA_ROWS=0 turn off the
 * fused activation path, the staged attention kernels, the weight-standardisation cache and
 * the strided row copies (cross-checks); the rest: gpu/README.md.
 * An instance is not thread-safe: run its network calls from one host thread at a time
 * (ggdm_cli_exec does, once a backend is set).
 *
 * Errors: the ops cannot return one, so the first failing CUDA or cuBLAS call (or an op
 * whose attributes the GPU does not run yet) is recorded (and printed once to stderr); every
 * later operation of that instance does nothing, and the backend's failed() reports it.
 * ggdm_cuda_backend_error() returns that message (NULL while all is well); callers check it
 * after each library call or at least before they trust a result.
 */
#ifndef GGDM_GPU_BACKEND_CUDA_H
#define GGDM_GPU_BACKEND_CUDA_H
#include <stddef.h>
#include <stdio.h>

#include "ggdm/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { GGDM_CUDA_EXACT = 0, GGDM_CUDA_FAST = 1 };

/* Return codes of ggdm_cuda_backend_init. */
enum {
    GGDM_CUDA_OK = 0,
    GGDM_CUDA_NO_DEVICE = 3, /* no usable CUDA device (driver missing, no GPU, ...) */
    GGDM_CUDA_FAILED = 1     /* anything else (out of memory, cuBLAS) */
};

/*
 * Makes a new instance on the current device (CUDA_VISIBLE_DEVICES chooses it): its stream,
 * in fast mode its cuBLAS handles, and returns its backend in *out (owned by the instance:
 * valid until ggdm_cuda_backend_free or _shutdown). mode: GGDM_CUDA_EXACT or GGDM_CUDA_FAST;
 * tf32: fast mode only, lets cuBLAS use TF32 tensor cores. On failure returns one of the
 * codes above with the reason in err. Two calls give two independent instances; the new one
 * becomes the default instance.
 */
int ggdm_cuda_backend_init(int mode, int tf32, const ggdm_unet_backend **out, char *err, size_t errlen);

/* Frees an instance's device buffers, handles and stream (be must not be used after);
 * nothing for NULL or a backend that is not a CUDA instance. */
void ggdm_cuda_backend_free(const ggdm_backend *be);

/* Frees the default instance (ggdm_cuda_backend_free of what the last init returned). */
void ggdm_cuda_backend_shutdown(void);

/* The default instance's first error since init (NULL: none); after shutdown, the freed
 * default instance's. */
const char *ggdm_cuda_backend_error(void);
/* The first error of the instance be (NULL: none). */
const char *ggdm_cuda_backend_error_of(const ggdm_backend *be);

/* (default instance) One line describing the device and the mode ("NVIDIA H100 80GB HBM3 (sm_90), exact"). */
const char *ggdm_cuda_backend_describe(void);

/* Nonzero when network calls run as CUDA graphs (GGDM_CUDA_GRAPH=1 at init). */
int ggdm_cuda_backend_graphs(void);
/* One line: how many tapes ran as recorded, were captured, and how many graph launches. */
void ggdm_cuda_graph_stats(FILE *f);

/* Waits for the device to finish the queued work (for timing); 0 on success. */
int ggdm_cuda_backend_sync(void);

/* The device's measured float32 matrix-product rate in TFLOP/s: the best of 5 timed
 * n x n x n cublasSgemm (after a warm-up), with TF32 tensor cores when tf32 is nonzero.
 * Works in either mode (its own cuBLAS handle and buffers); 0 on failure. */
double ggdm_cuda_sgemm_peak(int n, int tf32);

/* Profiling (for finding where the time goes, not for timings). on = 1 clears the table and
 * starts the synchronised profile: it synchronises after every operation, and every kernel,
 * cuBLAS call and memory operation is timed from the end of the previous one (the host's own
 * time between two backend calls is counted as "host"). on = 2 starts the asynchronous
 * profile: a CUDA event is recorded after every operation, nothing waits, and an operation's
 * time is the GPU's time from the previous event to its own (what a real run spends, launch
 * gaps included). Matrix products are listed per size (M x N x K). on = 0 stops. print writes
 * the table, largest total first, to f. */
void ggdm_cuda_profile(int on);
void ggdm_cuda_profile_print(FILE *f);

#ifdef __cplusplus
}
#endif
#endif /* GGDM_GPU_BACKEND_CUDA_H */
