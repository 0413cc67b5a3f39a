/*
 * ggdm/backend.h - where a network graph's ops run (ggdm/graph.h, ggdm/op.h).
 *
 * A network's graph (which op reads and writes which part of the arena, in which order) is
 * defined once, by its builder (ref/src/unet.c for the Unet1D). A backend supplies the ops
 * (a table generated from the manifest ggdm/ops.def, every entry bound by name) and the few
 * memory operations the runner needs; the reference's CPU backend is the library's own layer
 * functions, and another implementation (the CUDA driver in gpu/) supplies its own, operating
 * on its own memory. An exact backend computes every output element by the same chain as the
 * reference (the element functions of ggdm/elem.h), so the bits are the same.
 *
 * Pointers the ops receive ("workspace pointers") point into the arena the runner uses, or
 * into the parameters as returned by params(): they are the backend's memory (device memory
 * for a GPU backend). Host pointers are only ever passed to upload/download/steps. `ctx` is
 * the backend instance's own state (a GPU's device, stream and caches), passed to every op
 * and memory operation, so two instances never share state.
 */
#ifndef GGDM_BACKEND_H
#define GGDM_BACKEND_H
#include <stddef.h>
#include <stdint.h>

#include "ggdm/op.h"

struct ggdm_exec;

typedef struct ggdm_backend {
    const char *name; /* "cpu", "cuda-exact", "cuda-fast", ... */
    void *ctx;        /* the backend's own state, passed to the memory operations */

    /* ---- memory (n in floats) ---- */
    /* The parameters as the backend's memory: the host array itself for the CPU; a device
     * copy for a GPU backend (uploaded when `changed` is positive or first seen; when 0, a
     * backend may verify that the host contents did not change since; when negative, the
     * library guarantees they did not: the later steps of one sampling call). */
    const float *(*params)(void *ctx, const float *host, uint64_t n, int changed);
    /* Where parameter gradients are accumulated: host for the CPU (returned as is); a device
     * buffer for a GPU, filled from `host` (they are ADDED into) ... */
    float *(*grads_begin)(void *ctx, float *host, uint64_t n);
    /* ... and copied back to `host` when the backward pass ends. */
    void (*grads_end)(void *ctx, float *host, float *dev, uint64_t n);
    void (*upload)(void *ctx, float *dst, const float *host_src, size_t n);
    void (*download)(void *ctx, float *host_dst, const float *src, size_t n);
    void (*copy)(void *ctx, float *dst, const float *src, size_t n);
    void (*zero)(void *ctx, float *dst, size_t n);
    void (*add_into)(void *ctx, float *dst, const float *src, size_t n); /* dst[i] = dst[i] + src[i] */
    /* dst[i] = (float)t[i] for the N integer steps of the host array t */
    void (*steps)(void *ctx, float *dst, const int64_t *host_t, int N);

    /* ---- ops: (fwd, vjp) of every op of ggdm/ops.def, indexed by ggdm_op_id ([GGDM_OP_COUNT],
     * generated from the manifest: GGDM_OP_IMPL in ggdm/op.h) ---- */
    const ggdm_op_impl *ops;

    /* ---- optional (NULL: not needed) ---- */
    /* The workspace the plan uses instead of the caller's (host) workspace of `bytes` bytes:
     * a GPU backend returns a device buffer of at least that size (the same for every call
     * with the same host workspace is not required: nothing in it outlives one call).
     * NULL (it could not): the call fails with GGDM_ERR_BUFFER_TOO_SMALL. */
    float *(*workspace)(void *ctx, void *host_ws, size_t bytes);
    /* Optional: nonzero once an operation has failed (operations cannot return a status);
     * checked at the end of every network call, which then fails with GGDM_ERR_DEVICE, so a
     * device error never passes for a result. NULL: never fails. */
    int (*failed)(void *ctx);
    /* Optional: a ResnetBlock half's activation path in one operation (a device backend saves
     * launches; NULL: the runner runs the separate ops). The runner uses them for a chain of
     * nodes NORM (GROUP, eps GGDM_NORM_EPS, gamma and beta) -> [FILM ->] SILU whose
     * intermediate values have no other reader, and they must compute what those ops compute,
     * from the same arguments:
     *   gn_act_forward:  g = groupnorm(h) (with mean, rstd); with ss: f = scale_shift(g, ss),
     *                    a = silu(f); ss and f NULL: a = silu(g)
     *   gn_act_backward: the input gradient only (no parameter gradients): dh = the gradient at
     *                    h given da, as the separate backward operations leave it in a zeroed
     *                    dh (silu, [scale_shift,] groupnorm); scratch [N*C*L] may be clobbered
     *                    and may be da itself; g, f, ss as in the forward. */
    void (*gn_act_forward)(void *ctx, float *g, float *mean, float *rstd, float *f, float *a, const float *h,
                           const float *gamma, const float *beta, const float *ss, int N, int C, int L, int G);
    void (*gn_act_backward)(void *ctx, float *dh, float *scratch, const float *da, const float *h, const float *mean,
                            const float *rstd, const float *gamma, const float *g, const float *f, const float *ss,
                            int N, int C, int L, int G);
    /* Optional: 0 when the backend does not run op with these attributes yet (*why, may be
     * NULL, receives a static phrase saying what); NULL: it runs every op the manifest has.
     * The planner refuses such a graph (GGDM_ERR_UNSUPPORTED) before anything runs, and the
     * per-op vectors report the case as SKIPPED on that backend. */
    int (*supports)(void *ctx, int op, const ggdm_op_attr *a, const char **why);
} ggdm_backend;

/* The name the Unet1D API has always used. */
typedef ggdm_backend ggdm_unet_backend;

/* The reference's own backend: the library's layer functions on host memory. */
const ggdm_backend *ggdm_backend_cpu(void);
const ggdm_unet_backend *ggdm_unet_backend_cpu(void); /* the same */

/* The reference's math as per-element functions (ggdm/elem.h) looped over every output
 * element on the host, as the CUDA exact mode runs them (one thread per element): the same
 * bits as ggdm_backend_cpu(), slowly. Named "elem". */
const ggdm_backend *ggdm_backend_elem(void);
const ggdm_unet_backend *ggdm_unet_backend_elem(void); /* the same */

#endif /* GGDM_BACKEND_H */
