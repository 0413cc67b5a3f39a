/*
 * ggdm/schedule.h - the diffusion noise schedules (section 1 of the spec).
 *
 * Every table is computed in float64 with ggdm's own cos/log and IEEE sqrt, in the
 * order the original evaluates it, then rounded once to float32. No workspace.
 */
#ifndef GGDM_SCHEDULE_H
#define GGDM_SCHEDULE_H

#include <stddef.h>

#include "ggdm/status.h"

typedef enum ggdm_schedule_kind {
    GGDM_SCHEDULE_COSINE = 0, /* the default: s = 0.008, betas clipped to [0, 0.999] */
    GGDM_SCHEDULE_LINEAR = 1  /* linspace(1e-4 * 1000/T, 0.02 * 1000/T, T)           */
} ggdm_schedule_kind;

/* The tables, in this order (row t of table k is out[k*T + t]); names are the original's buffers. */
typedef enum ggdm_schedule_table {
    GGDM_SCHED_BETAS = 0,
    GGDM_SCHED_ALPHAS_CUMPROD,
    GGDM_SCHED_ALPHAS_CUMPROD_PREV,
    GGDM_SCHED_SQRT_ALPHAS_CUMPROD,
    GGDM_SCHED_SQRT_ONE_MINUS_ALPHAS_CUMPROD,
    GGDM_SCHED_LOG_ONE_MINUS_ALPHAS_CUMPROD,
    GGDM_SCHED_SQRT_RECIP_ALPHAS_CUMPROD,
    GGDM_SCHED_SQRT_RECIPM1_ALPHAS_CUMPROD,
    GGDM_SCHED_POSTERIOR_VARIANCE,
    GGDM_SCHED_POSTERIOR_LOG_VARIANCE_CLIPPED,
    GGDM_SCHED_POSTERIOR_MEAN_COEF1,
    GGDM_SCHED_POSTERIOR_MEAN_COEF2,
    GGDM_SCHED_NUM_TABLES
} ggdm_schedule_table;

/* Largest T accepted (the tables of T steps need 12*T floats). */
#define GGDM_SCHEDULE_MAX_T 100000

/* The original's buffer name of table k ("betas", "alphas_cumprod", ...), or NULL. */
const char *ggdm_schedule_table_name(int k);

/* Parses "cosine" / "linear". */
ggdm_status ggdm_schedule_kind_parse(const char *name, ggdm_schedule_kind *kind);
const char *ggdm_schedule_kind_name(ggdm_schedule_kind kind);

/* Number of floats ggdm_schedule_compute writes: 12 * T (0 if T is out of range). */
size_t ggdm_schedule_count(int T);

/*
 * Computes all 12 tables for T steps into out[0 .. 12*T), table-major.
 * GGDM_ERR_ARG for an unknown kind, T < 1 or T > GGDM_SCHEDULE_MAX_T, and for the
 * linear schedule T <= 20 (its betas reach 20 / T: alpha would be <= 0);
 * GGDM_ERR_BUFFER_TOO_SMALL when cap < 12*T floats.
 */
ggdm_status ggdm_schedule_compute(ggdm_schedule_kind kind, int T, float *out, size_t cap);

/* The float64 betas before rounding (what the tables are derived from), for tests and tools. */
ggdm_status ggdm_schedule_betas_f64(ggdm_schedule_kind kind, int T, double *out, size_t cap);

#endif /* GGDM_SCHEDULE_H */
