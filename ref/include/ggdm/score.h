/*
 * ggdm/score.h - the score model as an interface: a table of functions and a context.
 *
 * Sampling and guidance (ggdm/diffusion.h) see a score model only through this struct, so a
 * new network plugs in by providing a ggdm_score_ops table, without editing diffusion.c. Two
 * implementations come with the library: the Unet1D (through the public ggdm_unet_* API of
 * ggdm/unet.h) and the exact score of linear_latent data (ggdm/analytic.h).
 *
 * Every function gets the model's ctx, the 12 x T schedule tables (ggdm/schedule.h) and a
 * caller workspace of at least workspace_bytes(ctx, N, vjp, ex) bytes. Allocation-free.
 */
#ifndef GGDM_SCORE_H
#define GGDM_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/exec.h"
#include "ggdm/status.h"
#include "ggdm/unet.h"

typedef struct ggdm_score_ops {
    const char *name;
    /* Workspace bytes for a batch of N (vjp != 0: also for eps_vjp). GGDM_ERR_ARG when the
     * model's description is unusable (e.g. no parameters). */
    ggdm_status (*workspace_bytes)(const void *ctx, int N, int vjp, const ggdm_exec *ex, size_t *bytes);
    /* eps [N, D] of x [N, D] at the steps t [N] (0 <= t < T). */
    ggdm_status (*eps)(const void *ctx, const float *tab, int T, int N, const float *x, const int64_t *t,
                       float *eps, void *ws, size_t ws_bytes, const ggdm_exec *ex);
    /* eps as above and, per sample, jtg [N, D] = J_eps(x_i)^T v_i. */
    ggdm_status (*eps_vjp)(const void *ctx, const float *tab, int T, int N, const float *x, const int64_t *t,
                           const float *v, float *eps, float *jtg, void *ws, size_t ws_bytes, const ggdm_exec *ex);
} ggdm_score_ops;

/* A score model: its functions, their context (not owned) and the data dimension D. */
typedef struct ggdm_score {
    const ggdm_score_ops *ops;
    const void *ctx;
    int D;
} ggdm_score;

/* The Unet1D: cfg.length = D; params as ggdm_unet_init lays them out. */
typedef struct ggdm_score_unet {
    ggdm_unet_cfg cfg;
    const float *params;
} ggdm_score_unet;

/* The analytic score of linear_latent data: A the d x D latent basis (orthonormal rows). */
typedef struct ggdm_score_analytic {
    const double *A;
    int d, D;
} ggdm_score_analytic;

extern const ggdm_score_ops ggdm_score_unet_ops;
extern const ggdm_score_ops ggdm_score_analytic_ops;

/*
 * Fill the context u (or a) and make s the score model that uses it: s->ctx points to u (a),
 * which must outlive s. GGDM_ERR_ARG for NULL pointers; the description itself is checked
 * by workspace_bytes (as before: no parameters, or d, D < 1, are GGDM_ERR_ARG there).
 */
ggdm_status ggdm_score_init_unet(ggdm_score *s, ggdm_score_unet *u, const ggdm_unet_cfg *cfg, const float *params);
ggdm_status ggdm_score_init_analytic(ggdm_score *s, ggdm_score_analytic *a, const double *A, int d, int D);

/* Calls through s->ops (GGDM_ERR_ARG when s, its ops or the function is NULL). */
ggdm_status ggdm_score_workspace_bytes(const ggdm_score *s, int N, int vjp, const ggdm_exec *ex, size_t *bytes);
ggdm_status ggdm_score_eps(const ggdm_score *s, const float *tab, int T, int N, const float *x, const int64_t *t,
                           float *eps, void *ws, size_t ws_bytes, const ggdm_exec *ex);
ggdm_status ggdm_score_eps_vjp(const ggdm_score *s, const float *tab, int T, int N, const float *x,
                               const int64_t *t, const float *v, float *eps, float *jtg, void *ws, size_t ws_bytes,
                               const ggdm_exec *ex);

#endif /* GGDM_SCORE_H */
