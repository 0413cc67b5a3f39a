/*
 * Data distributions and hyper-parameters (original.md §6). Every number is float64
 * until the final rounding of data to float32; every reduction is one chain
 * acc = fma(a, b, acc) from +0, element 0 first (docs/data.md).
 */
#include "ggdm/data.h"

#include "ggdm/dmath.h"
#include "ggdm/reduce.h"
#include "ggdm/rng.h"

static int dims_ok(int D, int d)
{
    return D >= 1 && D <= GGDM_DATA_MAX_DIM && d >= 1 && d <= D && d <= GGDM_DATA_MAX_LATENT;
}

/* start + n samples of width w must have indices (start + n) * w below 2^64. */
static int range_ok(uint64_t start, uint64_t n, uint64_t w)
{
    if (n > UINT64_MAX - start)
        return 0;
    return (start + n) <= UINT64_MAX / w;
}

static double hyper_normal(uint64_t seed, uint32_t a, uint64_t index)
{
    return (double)ggdm_rng_normal(seed, ggdm_stream_id(GGDM_STREAM_HYPER, a, 0), index);
}

/* |u| = sqrt(chain over j of fma(u_j, u_j, acc)). */
static double norm_f64(const double *u, long n)
{
    return ggdm_sqrt(ggdm_dot_f64(u, 1, u, 1, n));
}

size_t ggdm_hyper_linear_latent_work_doubles(int D, int d)
{
    if (!dims_ok(D, d))
        return 0;
    return (size_t)D * (size_t)d + 3u * (size_t)d + 2u * (size_t)D;
}

/*
 * Householder QR of the D x d matrix G (row-major, G[i*d + j]), in place: on return
 * column k holds v_k in rows k..D-1, beta[k] = v_k^T v_k / 2 (0: no reflection) and
 * sgn[k] = the sign that makes R_kk > 0. Then A = first d columns of
 * Q = H_0 H_1 ... H_{d-1}, transposed, each row k multiplied by sgn[k].
 */
static void householder_rows(int D, int d, double *G, double *beta, double *sgn, double *A)
{
    size_t z;
    int i, j, k;
    for (k = 0; k < d; k++) {
        double nrm2 = 0.0, alpha, x0, r;
        for (i = k; i < D; i++)
            nrm2 = fma(G[(size_t)i * d + k], G[(size_t)i * d + k], nrm2);
        alpha = ggdm_sqrt(nrm2);
        x0 = G[(size_t)k * d + k];
        if (alpha == 0.0) { /* the column is zero below the diagonal: H_k = I */
            beta[k] = 0.0;
            sgn[k] = 1.0;
            continue;
        }
        r = x0 >= 0.0 ? -alpha : alpha; /* R_kk before the sign fix */
        G[(size_t)k * d + k] = x0 - r;  /* v_k = x - r e_k */
        beta[k] = alpha * (alpha + (x0 >= 0.0 ? x0 : -x0));
        sgn[k] = r < 0.0 ? -1.0 : 1.0;
        for (j = k + 1; j < d; j++) {
            double s = 0.0, f;
            for (i = k; i < D; i++)
                s = fma(G[(size_t)i * d + k], G[(size_t)i * d + j], s);
            f = s / beta[k];
            for (i = k; i < D; i++)
                G[(size_t)i * d + j] = fma(-f, G[(size_t)i * d + k], G[(size_t)i * d + j]);
        }
    }
    /* E = Q[:, 0..d-1], stored transposed in A (E[i][j] = A[j*D + i]), from E = I. */
    for (z = 0; z < (size_t)d * (size_t)D; z++)
        A[z] = 0.0;
    for (j = 0; j < d; j++)
        A[(size_t)j * D + j] = 1.0;
    for (k = d - 1; k >= 0; k--) {
        if (beta[k] == 0.0)
            continue;
        for (j = k; j < d; j++) {
            double s = 0.0, f;
            double *e = A + (size_t)j * D;
            for (i = k; i < D; i++)
                s = fma(G[(size_t)i * d + k], e[i], s);
            f = s / beta[k];
            for (i = k; i < D; i++)
                e[i] = fma(-f, G[(size_t)i * d + k], e[i]);
        }
    }
    for (k = 0; k < d; k++)
        if (sgn[k] < 0.0)
            for (i = 0; i < D; i++)
                A[(size_t)k * D + i] = -A[(size_t)k * D + i];
}

/* c = A x (c_k = chain_j fma(A[k*D+j], x_j)), p = A^T c (p_j = chain_k fma(A[k*D+j], c_k)). */
static void project_f64(const double *A, int d, int D, const double *x, double *c, double *p)
{
    int j, k;
    for (k = 0; k < d; k++)
        c[k] = ggdm_dot_f64(A + (size_t)k * D, 1, x, 1, D);
    for (j = 0; j < D; j++)
        p[j] = ggdm_dot_f64(A + j, D, c, 1, d);
}

ggdm_status ggdm_hyper_linear_latent(uint64_t seed, int D, int d, double r_off, double *A,
                                     double *theta1, double *theta2, double *b1, double *b2,
                                     double *work, size_t work_doubles)
{
    size_t need;
    double *G, *beta, *sgn;
    int i, j;
    if (!dims_ok(D, d) || !A || !work)
        return GGDM_ERR_ARG;
    if (theta2 && (d == D || !(r_off - r_off == 0.0))) /* needs an off-support direction, finite r_off */
        return GGDM_ERR_ARG;
    need = ggdm_hyper_linear_latent_work_doubles(D, d);
    if (work_doubles < need)
        return GGDM_ERR_BUFFER_TOO_SMALL;

    /* A: G(i, j) = N at index i*D + j of HYPER a=0, j < d. */
    G = work;
    beta = G + (size_t)D * d;
    sgn = beta + d;
    for (i = 0; i < D; i++)
        for (j = 0; j < d; j++)
            G[(size_t)i * d + j] = hyper_normal(seed, GGDM_HYPER_A_MATRIX, (uint64_t)i * (uint64_t)D + (uint64_t)j);
    householder_rows(D, d, G, beta, sgn, A);

    if (theta1) { /* beta = y / |y|; theta1 = A^T beta */
        double *y = work, ny;
        for (j = 0; j < d; j++)
            y[j] = hyper_normal(seed, GGDM_HYPER_A_BETA, (uint64_t)j);
        ny = norm_f64(y, d);
        for (j = 0; j < d; j++)
            y[j] = y[j] / ny;
        for (i = 0; i < D; i++)
            theta1[i] = ggdm_dot_f64(A + i, D, y, 1, d);
    }
    if (theta2) { /* u = r_off * (v / |v|) + p / |p|; theta2 = u / |u| */
        double *g = work, *p = g + D, *c = p + D, nv, np, nu;
        for (i = 0; i < D; i++)
            g[i] = hyper_normal(seed, GGDM_HYPER_A_THETA2, (uint64_t)i);
        project_f64(A, d, D, g, c, p);
        for (i = 0; i < D; i++)
            g[i] = g[i] - p[i]; /* v, in place of g */
        nv = norm_f64(g, D);
        np = norm_f64(p, D);
        for (i = 0; i < D; i++)
            theta2[i] = r_off * (g[i] / nv) + p[i] / np;
        nu = norm_f64(theta2, D);
        for (i = 0; i < D; i++)
            theta2[i] = theta2[i] / nu;
    }
    if (b1)
        *b1 = 4.0;
    if (b2)
        for (i = 0; i < D; i++)
            b2[i] = 4.0 + 3.0 * hyper_normal(seed, GGDM_HYPER_A_B2, (uint64_t)i);
    return GGDM_OK;
}

ggdm_status ggdm_hyper_unit_ball(uint64_t seed, int D, double *theta)
{
    double nz;
    int i;
    if (D < 1 || D > GGDM_DATA_MAX_DIM || !theta)
        return GGDM_ERR_ARG;
    for (i = 0; i < D; i++)
        theta[i] = hyper_normal(seed, GGDM_HYPER_A_UNIT_BALL_THETA, (uint64_t)i);
    nz = norm_f64(theta, D);
    for (i = 0; i < D; i++)
        theta[i] = theta[i] / nz;
    return GGDM_OK;
}

ggdm_status ggdm_data_linear_latent(uint64_t seed, const double *A, int d, int D, uint64_t start,
                                    uint64_t n, float *x)
{
    uint64_t stream = ggdm_stream_id(GGDM_STREAM_DATA, GGDM_DATA_A_LINEAR_LATENT, 0), s;
    float z[GGDM_DATA_MAX_LATENT];
    double zd[GGDM_DATA_MAX_LATENT];
    if (!dims_ok(D, d) || !A || (n > 0 && !x) || !range_ok(start, n, (uint64_t)d))
        return GGDM_ERR_ARG;
    for (s = 0; s < n; s++) {
        float *xi = x + s * (uint64_t)D;
        int j, k;
        ggdm_rng_fill_normal(seed, stream, (start + s) * (uint64_t)d, z, (uint64_t)d);
        for (k = 0; k < d; k++)
            zd[k] = (double)z[k];
        for (j = 0; j < D; j++) {
            double acc = 0.0;
            for (k = 0; k < d; k++)
                acc = fma(zd[k], A[(size_t)k * D + j], acc);
            xi[j] = (float)acc;
        }
    }
    return GGDM_OK;
}

ggdm_status ggdm_data_unit_ball(uint64_t seed, int D, uint64_t start, uint64_t n, float *x)
{
    uint64_t stream = ggdm_stream_id(GGDM_STREAM_DATA, GGDM_DATA_A_UNIT_BALL, 0), s;
    if (D < 1 || D > GGDM_DATA_MAX_DIM || (n > 0 && !x) || !range_ok(start, n, (uint64_t)D))
        return GGDM_ERR_ARG;
    for (s = 0; s < n; s++) {
        float *xi = x + s * (uint64_t)D;
        double acc = 0.0, r;
        int j;
        /* z_i is drawn into x_i (float32, exact), then normalised in float64 */
        ggdm_rng_fill_normal(seed, stream, (start + s) * (uint64_t)D, xi, (uint64_t)D);
        for (j = 0; j < D; j++)
            acc = fma((double)xi[j], (double)xi[j], acc);
        r = ggdm_sqrt(acc);
        for (j = 0; j < D; j++)
            xi[j] = r > 0.0 ? (float)((double)xi[j] / r) : 0.0f;
    }
    return GGDM_OK;
}

ggdm_status ggdm_ratio_linear_latent(const double *A, int d, int D, const float *x, uint64_t n,
                                     double *ratio)
{
    double c[GGDM_DATA_MAX_LATENT];
    uint64_t s;
    if (!dims_ok(D, d) || !A || (n > 0 && (!x || !ratio)))
        return GGDM_ERR_ARG;
    for (s = 0; s < n; s++) {
        const float *xi = x + s * (uint64_t)D;
        double vv = 0.0, pp = 0.0;
        int j, k;
        for (k = 0; k < d; k++) {
            const double *a = A + (size_t)k * D;
            double acc = 0.0;
            for (j = 0; j < D; j++)
                acc = fma(a[j], (double)xi[j], acc);
            c[k] = acc;
        }
        /* p_j and v_j = x_j - p_j one j at a time; |v|^2 and |p|^2 as chains over j */
        for (j = 0; j < D; j++) {
            double p = ggdm_dot_f64(A + j, D, c, 1, d);
            double v = (double)xi[j] - p;
            vv = fma(v, v, vv);
            pp = fma(p, p, pp);
        }
        ratio[s] = ggdm_sqrt(vv) / (ggdm_sqrt(pp) + 1e-8);
    }
    return GGDM_OK;
}

ggdm_status ggdm_ratio_unit_ball(int D, const float *x, uint64_t n, double *ratio)
{
    uint64_t s;
    if (D < 1 || D > GGDM_DATA_MAX_DIM || (n > 0 && (!x || !ratio)))
        return GGDM_ERR_ARG;
    for (s = 0; s < n; s++) {
        const float *xi = x + s * (uint64_t)D;
        double acc = 0.0;
        int j;
        for (j = 0; j < D; j++)
            acc = fma((double)xi[j], (double)xi[j], acc);
        ratio[s] = ggdm_sqrt(acc) - 1.0;
    }
    return GGDM_OK;
}
