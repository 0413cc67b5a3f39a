/*
 * ggdm/data.h - the data distributions of the paper's experiments and their
 * hyper-parameters (original.md §6): linear_latent (x = z A on a d-dimensional
 * subspace of R^D) and unit_ball (points on the unit sphere of R^D).
 *
 * Everything is a pure function of (seed, arguments): random numbers come only from
 * the Philox streams of ggdm/rng.h, every reduction is one sequential chain, and
 * sample i of a data set is the same whatever range [start, start + n) is asked for.
 * docs/data.md gives the exact definitions (operation order, streams, indices).
 *
 * Streams (purpose, a, b = 0; the index is the element of the logical array):
 *   HYPER a=0  the Gaussian matrix G (D x D, only its first d columns are drawn), G(i,j) at i*D + j
 *   HYPER a=1  y (d) for beta = y / |y|                       index j
 *   HYPER a=2  g (D) for theta_2                              index j
 *   HYPER a=3  the Gaussian of b_2 (D)                        index j
 *   HYPER a=4  the Gaussian of the unit_ball theta (D)        index j
 *   DATA  a=0  linear_latent z (d per sample)                 index i*d + j
 *   DATA  a=1  unit_ball z (D per sample)                     index i*D + j
 * Every Gaussian is ggdm_rng_normal (float32) widened exactly to double.
 *
 * All arrays are the caller's; nothing is allocated. Errors: GGDM_ERR_ARG for null
 * pointers (where not optional), D < 1, d < 1, d > D or d > GGDM_DATA_MAX_LATENT,
 * index overflow; GGDM_ERR_BUFFER_TOO_SMALL for a short workspace.
 */
#ifndef GGDM_DATA_H
#define GGDM_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/status.h"

/* Largest latent dimension d (per-sample temporaries of d doubles live on the stack). */
#define GGDM_DATA_MAX_LATENT 1024

/* Largest ambient dimension D accepted (index arithmetic stays far from overflow). */
#define GGDM_DATA_MAX_DIM (1 << 24)

/* The HYPER stream's `a` for each hyper-parameter, and the DATA stream's `a` for each data set. */
enum {
    GGDM_HYPER_A_MATRIX = 0,
    GGDM_HYPER_A_BETA = 1,
    GGDM_HYPER_A_THETA2 = 2,
    GGDM_HYPER_A_B2 = 3,
    GGDM_HYPER_A_UNIT_BALL_THETA = 4,
    GGDM_DATA_A_LINEAR_LATENT = 0,
    GGDM_DATA_A_UNIT_BALL = 1
};

/* The paper's r_off for theta_2. */
#define GGDM_THETA2_R_OFF 9.0

/* ------------------------------------------------------------------ hyper-parameters */

/*
 * linear_latent hyper-parameters (float64, the layout of the authors' .npz files):
 *   A [d*D] row-major with orthonormal rows: A = Q[:, 0..d-1]^T where G = Q R is the
 *     Householder QR of the D x D Gaussian matrix G (HYPER a=0) with the signs fixed so
 *     that diag(R) > 0 (then Q, and Q^T, are Haar-distributed). Only G's first d columns
 *     influence Q's first d columns, so only they are drawn.
 *   theta1 [D] = A^T beta, beta = y / |y| uniform on the unit sphere of R^d (HYPER a=1);
 *   theta2 [D] = normalise(r_off * v / |v| + p / |p|), p = A^T (A g), v = g - p, g ~ N(0, I_D)
 *     (HYPER a=2); r_off = 9 in the paper (GGDM_THETA2_R_OFF); needs d < D and a finite r_off
 *     (GGDM_ERR_ARG otherwise: with d = D there is no off-support direction);
 *   b1 (one double) = 4;  b2 [D] = 4 + 3 z, z ~ N(0, I_D) (HYPER a=3).
 * theta1, theta2, b1, b2 may be NULL (not computed). The work array needs
 * ggdm_hyper_linear_latent_work_doubles(D, d) doubles (0 for invalid D, d).
 */
size_t ggdm_hyper_linear_latent_work_doubles(int D, int d);
ggdm_status ggdm_hyper_linear_latent(uint64_t seed, int D, int d, double r_off, double *A,
                                     double *theta1, double *theta2, double *b1, double *b2,
                                     double *work, size_t work_doubles);

/* unit_ball reward parameter: theta [D] = z / |z|, z ~ N(0, I_D) (HYPER a=4). */
ggdm_status ggdm_hyper_unit_ball(uint64_t seed, int D, double *theta);

/* ------------------------------------------------------------------ data sets */

/*
 * Samples start .. start+n-1 of the linear_latent data set into x [n*D] (float32):
 *   x_i = z_i A, z_i ~ N(0, I_d) (DATA a=0, element j of z_i at index i*d + j);
 *   x_i[j] = (float)(chain over k = 0..d-1 of acc = fma(z_i[k], A[k*D + j], acc)).
 */
ggdm_status ggdm_data_linear_latent(uint64_t seed, const double *A, int d, int D, uint64_t start,
                                    uint64_t n, float *x);

/*
 * Samples start .. start+n-1 of the unit_ball data set into x [n*D] (float32):
 *   z_i ~ N(0, I_D) (DATA a=1, index i*D + j); r = sqrt(chain fma(z, z)) in float64;
 *   x_i[j] = (float)(z_i[j] / r)  (r == 0, probability ~0: x_i = 0).
 */
ggdm_status ggdm_data_unit_ball(uint64_t seed, int D, uint64_t start, uint64_t n, float *x);

/* ------------------------------------------------------------------ off-support ratio */

/*
 * Per sample, float64 (the spec's definition):
 *   linear_latent: c = A x (c_k = chain over j of fma(A[k*D+j], x_j, acc)),
 *     p = A^T c (p_j = chain over k of fma(A[k*D+j], c_k, acc)), v = x - p,
 *     ratio = |v| / (|p| + 1e-8), |u| = sqrt(chain over j of fma(u_j, u_j, acc));
 *   unit_ball: ratio = |x| - 1.
 * NaN/inf in x give NaN/inf ratios (no error: the caller decides).
 */
ggdm_status ggdm_ratio_linear_latent(const double *A, int d, int D, const float *x, uint64_t n,
                                     double *ratio);
ggdm_status ggdm_ratio_unit_ball(int D, const float *x, uint64_t n, double *ratio);

#endif /* GGDM_DATA_H */
