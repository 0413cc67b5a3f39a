/*
 * ggdm/dmath.h - deterministic elementary functions.
 *
 * Every result is defined by this code alone, never by the platform's libm: the
 * only primitives used are IEEE-754 + - * /, comparisons, integer operations, bit
 * casts, and the correctly rounded sqrtf/sqrt and fmaf/fma.  Built with
 * -ffp-contract=off (host) or --fmad=false (nvcc), the same source gives the same
 * bits under gcc, clang, any -O level, x86-64, aarch64, s390x and CUDA devices.
 *
 * The exact algorithms, constants and measured errors are in
 * docs/elementary-functions.md; ref/tools/dmath_coeffs.py re-derives every
 * constant.  Names starting with ggdm_dm_ are internal helpers.
 *
 * NaN results: whenever the result is NaN the functions return the canonical
 * quiet NaN (0x7fc00000 for float, 0x7ff8000000000000 for double): payloads and
 * NaN signs are never propagated, because hardware differs in how it does that.
 *
 * Measured max errors (ulp; see docs for how):
 *   ggdm_expf 0.61 (subnormal results 0.76)        ggdm_logf 0.5 (CR, exhaustive)
 *   ggdm_sinf, ggdm_cosf 0.5 (CR, exhaustive)       ggdm_erff 0.5002
 *   ggdm_tanhf 0.5 (CR, exhaustive)                 ggdm_sincos2pif 0.5 (CR on [0,1))
 *   ggdm_sin 0.58, ggdm_cos 0.58, ggdm_log 0.60
 *   ggdm_sqrtf, ggdm_fmaf, ggdm_sqrt, ggdm_fma: correctly rounded
 */
#ifndef GGDM_DMATH_H
#define GGDM_DMATH_H

#include <math.h>
#include <stdint.h>

#include "ggdm/hostdev.h"

/* ------------------------------------------------------------------ basics */

/* The canonical quiet NaNs every function returns for a NaN result. */
GGDM_HD static inline float ggdm_dm_nanf(void)
{
    return ggdm_f32_from_bits(0x7fc00000u);
}

GGDM_HD static inline double ggdm_dm_nan(void)
{
    return ggdm_f64_from_bits(UINT64_C(0x7ff8000000000000));
}

/* sqrtf / fmaf / sqrt / fma: IEEE correctly rounded; NaN results canonical. */
GGDM_HD static inline float ggdm_sqrtf(float x)
{
    float r = sqrtf(x);
    return r == r ? r : ggdm_dm_nanf();
}

GGDM_HD static inline float ggdm_fmaf(float a, float b, float c)
{
    float r = fmaf(a, b, c);
    return r == r ? r : ggdm_dm_nanf();
}

GGDM_HD static inline double ggdm_sqrt(double x)
{
    double r = sqrt(x);
    return r == r ? r : ggdm_dm_nan();
}

GGDM_HD static inline double ggdm_fma(double a, double b, double c)
{
    double r = fma(a, b, c);
    return r == r ? r : ggdm_dm_nan();
}

/* ------------------------------------------------------------------ expf */

/*
 * e^x in float arithmetic only, no fma, no table, no branch and no floating-point
 * comparison (clamp and NaN case are integer masks, which gcc's if-conversion
 * accepts under -ftrapping-math): vectorisable even for plain SSE2.  x = k*ln2 + r with k = nearest integer to x*log2(e); the
 * reduction is exact (C1 has 15 significant bits, |k| <= 150) and its rounding
 * error is carried in e; e^r = 1 + r + r^2/2 + r^3*q(r) with q a degree-4
 * minimax polynomial; 1 + r is split exactly into hi + lo so that the only large rounding
 * is the final one.  2^k is applied as two exact powers of two so that subnormal
 * results are rounded once.
 */
GGDM_HD static inline float ggdm_expf(float x)
{
    const float magic = 0x1.8p23f;
    float xc, t, kf, rh, c, r, e, q, z, hi, lo, m, p, y;
    uint32_t ux, ax, lim, u, a, b;

    /* clamp x to [-104, 89] on the bit pattern (integer masks, no branch):
     * e^89 overflows, e^-104 < 2^-150 rounds to +0; NaN is handled at the end */
    ux = ggdm_f32_bits(x);
    ax = ux & 0x7fffffffu;
    lim = 0x42b20000u + (ux >> 31) * 0x1e0000u;  /* 89.0f or 104.0f */
    u = 0u - ((lim - ax) >> 31);                 /* all ones iff |x| > lim */
    xc = ggdm_f32_from_bits(((ax & ~u) | (lim & u)) | (ux & 0x80000000u));
    t = xc * 0x1.715476p+0f + magic;     /* magic + k, k = round(x*log2e) */
    kf = t - magic;                      /* exact */
    rh = xc - kf * 0x1.62e4p-1f;         /* exact: k*C1 and the difference */
    c = kf * 0x1.7f7d1cp-20f;            /* k*C2, C1 + C2 = ln2 */
    r = rh - c;
    e = (rh - r) - c;                    /* r + e = rh - c */
    q = 0x1.6c30ccp-13f;
    q = q * r + 0x1.6d40bap-10f;
    q = q * r + 0x1.1136b0p-7f;
    q = q * r + 0x1.5554f2p-5f;
    q = q * r + 0x1.55553cp-3f;
    z = r * r;
    hi = 1.0f + r;
    lo = (1.0f - hi) + r;                /* exact: hi + lo = 1 + r */
    m = (lo + e * hi) + (0.5f * z + (z * r) * q); /* e^(r+e) ~ e^r + e*(1+r) */
    p = hi + m;                          /* e^r in [0.70, 1.42] */
    u = ggdm_f32_bits(t) - 0x4b400000u + 150u; /* k + 150 in [0, 279] */
    u &= 0x1ffu;                         /* (only matters for NaN) */
    a = u >> 1;                          /* k = (a - 75) + (b - 75) */
    b = u - a;
    y = (p * ggdm_f32_from_bits((a + 52u) << 23)) * ggdm_f32_from_bits((b + 52u) << 23);
    /* NaN x -> canonical NaN */
    u = 0u - ((0x7f800000u - ax) >> 31);         /* all ones iff x is NaN */
    return ggdm_f32_from_bits((ggdm_f32_bits(y) & ~u) | (0x7fc00000u & u));
}

/* ------------------------------------------------------------------ log (double) */

/*
 * log x = k*ln2 + log(1+f), 1+f in (sqrt(2)/2, sqrt(2)].  With s = f/(2+f):
 * log(1+f) = f - f^2/2 + s*(f^2/2 + R(s^2)), R minimax of degree 7.  f - f^2/2 and
 * k*ln2_hi + (f - f^2/2) are formed exactly (two-product, Fast2Sum, 2Sum); all
 * the small terms are added to the low part before the final rounding.
 */
GGDM_HD static inline double ggdm_log(double x)
{
    uint64_t ix = ggdm_f64_bits(x), mb;
    int32_t k = 0;
    double m, f, d, dl, s, sl, z, R, hf, h_hi, h_lo, corr, S_hi, S_lo, dk, A, T_hi, T_lo, v;

    if (ix - UINT64_C(0x0010000000000000) >= UINT64_C(0x7fe0000000000000)) {
        /* zero, subnormal, negative, inf or NaN */
        if (x != x)
            return ggdm_dm_nan();
        if (x == 0.0)
            return ggdm_f64_from_bits(UINT64_C(0xfff0000000000000)); /* -inf */
        if (x < 0.0)
            return ggdm_dm_nan();
        if (ix == UINT64_C(0x7ff0000000000000))
            return x;
        x *= 0x1p54;                     /* positive subnormal: exact */
        ix = ggdm_f64_bits(x);
        k = -54;
    }
    k += (int32_t)(ix >> 52) - 1023;
    mb = ix & UINT64_C(0x000fffffffffffff);
    if (mb > UINT64_C(0x6a09e667f3bcc)) {  /* mantissa > sqrt(2): use m/2 */
        m = ggdm_f64_from_bits(mb | UINT64_C(0x3fe0000000000000));
        k += 1;
    } else {
        m = ggdm_f64_from_bits(mb | UINT64_C(0x3ff0000000000000));
    }
    f = m - 1.0;                         /* exact */
    d = 2.0 + f;
    dl = (2.0 - d) + f;                  /* exact: d + dl = 2 + f */
    s = f / d;
    sl = (fma(-s, d, f) - s * dl) / d;   /* s + sl = f/(2+f) to ~2^-104 */
    z = s * s;
    R = 0x1.2f05655700b2fp-3;
    R = fma(R, z, 0x1.39a1ba8c16b96p-3);
    R = fma(R, z, 0x1.74663ee9fbd60p-3);
    R = fma(R, z, 0x1.c71c520956255p-3);
    R = fma(R, z, 0x1.24924941f12cbp-2);
    R = fma(R, z, 0x1.999999997fdb7p-2);
    R = fma(R, z, 0x1.5555555555592p-1);
    R = R * z;
    hf = 0.5 * f;
    h_hi = hf * f;                       /* f^2/2 = h_hi + h_lo exactly */
    h_lo = fma(hf, f, -h_hi);
    corr = fma(s, h_hi, fma(s, R, sl * (h_hi + R)));  /* (s + sl)*(f^2/2 + R) */
    S_hi = f - h_hi;                     /* Fast2Sum: |f| >= h_hi */
    S_lo = (f - S_hi) - h_hi;
    dk = (double)k;
    A = dk * 0x1.62e42fefa38p-1;         /* exact: ln2_hi has 42 bits */
    T_hi = A + S_hi;                     /* 2Sum */
    v = T_hi - A;
    T_lo = (A - (T_hi - v)) + (S_hi - v);
    return T_hi + (((T_lo + (S_lo - h_lo)) + dk * 0x1.ef35793c76730p-45) + corr);
}

/* log for float: the double result rounded once to float. */
GGDM_HD static inline float ggdm_logf(float x)
{
    double r = ggdm_log((double)x);
    return r == r ? (float)r : ggdm_dm_nanf();
}

/* ------------------------------------------------------------------ sin/cos kernels */

/*
 * sin(a + b) for |a| <= pi/4 (+ a little), |b| <= ulp(a):
 * a + a^3*(S0 + z*P(z)) + b*(1 - z/2), z = a^2, with a^3 = v + vl formed exactly
 * enough (two-products) and S0 = -1/6 + ... used as the double-double S0 + S0_LO.
 */
GGDM_HD static inline double ggdm_dm_sin_k(double a, double b)
{
    double z = a * a, zl = fma(a, a, -z), v = z * a, vl, p, w;
    vl = fma(z, a, -v) + zl * a;          /* a^3 = v + vl */
    p = -0x1.aaa24695f55d6p-41;
    p = fma(p, z, 0x1.61208c46d45b1p-33);
    p = fma(p, z, -0x1.ae64528d7ce72p-26);
    p = fma(p, z, 0x1.71de3a53308a7p-19);
    p = fma(p, z, -0x1.a01a01a018a6dp-13);
    p = fma(p, z, 0x1.111111111110bp-7);
    w = ((v * z) * p + v * -0x1.4b96beb61bfe1p-57) + (vl * -0x1.5555555555555p-3 + (b - (0.5 * z) * b));
    return a + fma(v, -0x1.5555555555555p-3, w);
}

/* cos(a + b): 1 - a^2/2 (formed exactly) + a^4*C(a^2) - a*b*(1 - a^2/6). */
GGDM_HD static inline double ggdm_dm_cos_k(double a, double b)
{
    double ha = 0.5 * a, z = a * a, h_hi, h_lo, w, e, p;
    p = -0x1.8fa4998680371p-37;
    p = fma(p, z, 0x1.1ee9d7b3ee8d1p-29);
    p = fma(p, z, -0x1.27e4f7eac35b5p-22);
    p = fma(p, z, 0x1.a01a019c844d7p-16);
    p = fma(p, z, -0x1.6c16c16c14f91p-10);
    p = fma(p, z, 0x1.555555555554bp-5);
    h_hi = ha * a;
    h_lo = fma(ha, a, -h_hi);
    w = 1.0 - h_hi;
    e = (1.0 - w) - h_hi;                /* Fast2Sum: w + e = 1 - h_hi */
    return w + (((e - h_lo) + (z * z) * p) - (a * b) * (1.0 - z * 0x1.5555555555555p-3));
}

/* ------------------------------------------------------------------ pi/2 reduction */

/* bits pos .. pos+63 of the 288-bit little-endian number z[0..8] (0 <= pos <= 224) */
GGDM_HD static inline uint64_t ggdm_dm_field64(const uint32_t *z, int32_t pos)
{
    int32_t li = pos >> 5, sh = pos & 31;
    uint64_t v = (uint64_t)z[li] | ((uint64_t)z[li + 1] << 32);
    if (sh != 0)
        v = (v >> sh) | ((uint64_t)z[li + 2] << (64 - sh));
    return v;
}

/*
 * Payne-Hanek reduction for finite |x| >= 2^27 with exact integer arithmetic:
 * x*(2/pi) mod 4 from a 53 x 224-bit product with the needed window of 2/pi.
 * Returns n mod 4 with x = n*pi/2 + (*ra + *rb), |*ra + *rb| <= pi/4.
 * Slow path (the table is a local array on purpose, see docs).
 */
GGDM_HD static inline uint32_t ggdm_dm_rem_pio2_large(double x, double *ra, double *rb)
{
    /* T[0] = 0, T[1 + i] = bits 32i+1 .. 32i+32 of 2/pi (after the binary point) */
    const uint32_t T[38] = {
        0x00000000u,
        0xa2f9836eu, 0x4e441529u, 0xfc2757d1u, 0xf534ddc0u, 0xdb629599u, 0x3c439041u,
        0xfe5163abu, 0xdebbc561u, 0xb7246e3au, 0x424dd2e0u, 0x06492eeau, 0x09d1921cu,
        0xfe1deb1cu, 0xb129a73eu, 0xe88235f5u, 0x2ebb4484u, 0xe99c7026u, 0xb45f7e41u,
        0x3991d639u, 0x835339f4u, 0x9c845f8bu, 0xbdf9283bu, 0x1ff897ffu, 0xde05980fu,
        0xef2f118bu, 0x5a0a6d1fu, 0x6d367ecfu, 0x27cb09b7u, 0x4f463f66u, 0x9e5fea2du,
        0x7527bac7u, 0xebe5f17bu, 0x3d0739f7u, 0x8a5292eau, 0x6bfb5fb1u, 0x1f8d5d08u,
        0x56033046u
    };
    uint64_t ix = ggdm_f64_bits(x), M, acc, carry, f_hi, f_lo, hi53, lo53;
    uint32_t z[9], fw[7], m0, m1, q;
    int32_t E, j0, s, P0, sh, lz, i;
    int neg = 0;
    double dhi, dlo, ph, pl, a, b;

    M = (ix & UINT64_C(0x000fffffffffffff)) | UINT64_C(0x0010000000000000);
    E = (int32_t)((ix >> 52) & 0x7ffu) - 1075;   /* |x| = M * 2^E, E >= -25 */
    j0 = (E + 30) >> 5;                          /* first 2/pi word that matters */
    s = E + 32 - 32 * j0;                        /* 2 <= s <= 33 */
    for (i = 0; i < 7; i++)
        fw[i] = T[j0 + 6 - i];                   /* little-endian 224-bit window */
    m0 = (uint32_t)M;
    m1 = (uint32_t)(M >> 32);
    /* Z = M * window, 9 little-endian 32-bit limbs; x*2/pi = Z * 2^(s-224) mod 4 */
    carry = 0;
    for (i = 0; i < 7; i++) {
        acc = (uint64_t)m0 * fw[i] + carry;
        z[i] = (uint32_t)acc;
        carry = acc >> 32;
    }
    z[7] = (uint32_t)carry;
    carry = 0;
    for (i = 0; i < 7; i++) {
        acc = (uint64_t)m1 * fw[i] + z[i + 1] + carry;
        z[i + 1] = (uint32_t)acc;
        carry = acc >> 32;
    }
    z[8] = (uint32_t)carry;
    P0 = 224 - s;                                /* bit of Z with weight 1 */
    q = (uint32_t)ggdm_dm_field64(z, P0) & 3u;   /* integer part mod 4 */
    f_hi = ggdm_dm_field64(z, P0 - 64);          /* 128 fraction bits */
    f_lo = ggdm_dm_field64(z, P0 - 128);
    if (f_hi >> 63) {                            /* fraction >= 1/2: n += 1, r < 0 */
        q += 1u;
        f_lo = ~f_lo + 1u;
        f_hi = ~f_hi + (f_lo == 0 ? 1u : 0u);
        neg = 1;
    }
    lz = 0;
    if (f_hi == 0) {
        f_hi = f_lo;
        f_lo = 0;
        lz = 64;
    }
    if (f_hi == 0) {                             /* cannot happen for a double x */
        a = 0.0;
        b = 0.0;
    } else {
        for (sh = 32; sh > 0; sh >>= 1) {
            if ((f_hi >> (64 - sh)) == 0) {
                f_hi = (f_hi << sh) | (f_lo >> (64 - sh));
                f_lo <<= sh;
                lz += sh;
            }
        }
        hi53 = f_hi >> 11;
        lo53 = ((f_hi & 0x7ffu) << 42) | (f_lo >> 22);
        dhi = (double)hi53 * ggdm_f64_from_bits((uint64_t)(1023 - 53 - lz) << 52);
        dlo = (double)lo53 * ggdm_f64_from_bits((uint64_t)(1023 - 106 - lz) << 52);
        /* (dhi + dlo) * pi/2 in double-double */
        ph = dhi * 0x1.921fb54442d18p+0;
        pl = fma(dhi, 0x1.921fb54442d18p+0, -ph);
        pl = fma(dhi, 0x1.1a62633145c07p-54, pl);
        pl = fma(dlo, 0x1.921fb54442d18p+0, pl);
        a = ph + pl;
        b = (ph - a) + pl;
    }
    if (neg) {
        a = -a;
        b = -b;
    }
    if (ix >> 63) {
        q = 0u - q;
        a = -a;
        b = -b;
    }
    *ra = a;
    *rb = b;
    return q & 3u;
}

/*
 * x = n*pi/2 + (*ra + *rb) for finite x with |x| > pi/4.  |x| < 2^27: Cody-Waite
 * with pi/2 = P1 + P2 + P3 (three doubles); the first step fma(-n, P1, x) is exact,
 * the rest is carried in double-double.  Larger |x|: Payne-Hanek.
 */
GGDM_HD static inline uint32_t ggdm_dm_rem_pio2(double x, double *ra, double *rb)
{
    const double magic = 0x1.8p52;
    double t, nd, r1, w_hi, w_lo, y_hi, bb, y_err, y_lo, a;
    uint64_t ax = ggdm_f64_bits(x) & UINT64_C(0x7fffffffffffffff);

    if (ax >= UINT64_C(0x41a0000000000000))     /* |x| >= 2^27 */
        return ggdm_dm_rem_pio2_large(x, ra, rb);
    t = x * 0x1.45f306dc9c883p-1 + magic;        /* magic + n */
    nd = t - magic;
    r1 = fma(-nd, 0x1.921fb54442d18p+0, x);      /* exact */
    w_hi = nd * 0x1.1a62633145c07p-54;
    w_lo = fma(nd, 0x1.1a62633145c07p-54, -w_hi);
    y_hi = r1 - w_hi;                            /* 2Sum(r1, -w_hi) */
    bb = y_hi - r1;
    y_err = (r1 - (y_hi - bb)) + (-w_hi - bb);
    y_lo = (y_err - w_lo) - nd * -0x1.f1976b7ed8fbcp-110;
    a = y_hi + y_lo;
    *ra = a;
    *rb = (y_hi - a) + y_lo;
    return (uint32_t)ggdm_f64_bits(t) & 3u;
}

/* ------------------------------------------------------------------ sin/cos (double) */

GGDM_HD static inline double ggdm_sin(double x)
{
    uint64_t ax = ggdm_f64_bits(x) & UINT64_C(0x7fffffffffffffff);
    double a, b;
    uint32_t n;

    if (ax < UINT64_C(0x3e40000000000000))      /* |x| < 2^-27: sin x rounds to x */
        return x;
    if (ax >= UINT64_C(0x7ff0000000000000))     /* inf, NaN */
        return ggdm_dm_nan();
    if (ax <= UINT64_C(0x3fe921fb54442d18))     /* |x| <= pi/4 */
        return ggdm_dm_sin_k(x, 0.0);
    n = ggdm_dm_rem_pio2(x, &a, &b);
    switch (n) {
    case 0: return ggdm_dm_sin_k(a, b);
    case 1: return ggdm_dm_cos_k(a, b);
    case 2: return -ggdm_dm_sin_k(a, b);
    default: return -ggdm_dm_cos_k(a, b);
    }
}

GGDM_HD static inline double ggdm_cos(double x)
{
    uint64_t ax = ggdm_f64_bits(x) & UINT64_C(0x7fffffffffffffff);
    double a, b;
    uint32_t n;

    if (ax < UINT64_C(0x3e40000000000000))      /* |x| < 2^-27: cos x rounds to 1 */
        return 1.0;
    if (ax >= UINT64_C(0x7ff0000000000000))
        return ggdm_dm_nan();
    if (ax <= UINT64_C(0x3fe921fb54442d18))
        return ggdm_dm_cos_k(x, 0.0);
    n = ggdm_dm_rem_pio2(x, &a, &b);
    switch (n) {
    case 0: return ggdm_dm_cos_k(a, b);
    case 1: return -ggdm_dm_sin_k(a, b);
    case 2: return -ggdm_dm_cos_k(a, b);
    default: return ggdm_dm_sin_k(a, b);
    }
}

/* float sin/cos: the double result (x is exact in double) rounded once to float. */
GGDM_HD static inline float ggdm_sinf(float x)
{
    double r = ggdm_sin((double)x);
    return r == r ? (float)r : ggdm_dm_nanf();
}

GGDM_HD static inline float ggdm_cosf(float x)
{
    double r = ggdm_cos((double)x);
    return r == r ? (float)r : ggdm_dm_nanf();
}

/*
 * sin(2*pi*u) and cos(2*pi*u).  u = q/4 + r exactly (in double), |r| <= 1/8, then
 * the double kernels on 2*pi*r and a quadrant swap.  Multiples of 1/4 give exact
 * 0 and +-1 (sin: zero with the sign of u; cos: +0).
 */
GGDM_HD static inline void ggdm_sincos2pif(float u, float *s, float *c)
{
    const double magic = 0x1.8p52;
    uint32_t iu = ggdm_f32_bits(u), au = iu & 0x7fffffffu, q;
    double d, t, qd, r, th, sk, ck;
    float zs = (iu >> 31) ? -0.0f : 0.0f;

    if (au >= 0x7f800000u) {                     /* inf, NaN */
        *s = ggdm_dm_nanf();
        *c = ggdm_dm_nanf();
        return;
    }
    if (au >= 0x4b800000u) {                     /* |u| >= 2^24: u is an even integer */
        *s = zs;
        *c = 1.0f;
        return;
    }
    d = (double)u;
    t = d * 4.0 + magic;                         /* exact: |4u| < 2^26 */
    qd = t - magic;
    q = (uint32_t)ggdm_f64_bits(t) & 3u;
    r = d - qd * 0.25;                           /* exact */
    if (r == 0.0) {
        switch (q) {
        case 0: *s = zs; *c = 1.0f; break;
        case 1: *s = 1.0f; *c = 0.0f; break;
        case 2: *s = zs; *c = -1.0f; break;
        default: *s = -1.0f; *c = 0.0f; break;
        }
        return;
    }
    th = r * 0x1.921fb54442d18p+2;               /* 2*pi*r, |th| <= pi/4 */
    sk = ggdm_dm_sin_k(th, 0.0);
    ck = ggdm_dm_cos_k(th, 0.0);
    switch (q) {
    case 0: *s = (float)sk; *c = (float)ck; break;
    case 1: *s = (float)ck; *c = (float)-sk; break;
    case 2: *s = (float)-sk; *c = (float)-ck; break;
    default: *s = (float)-ck; *c = (float)sk; break;
    }
}

/* ------------------------------------------------------------------ erff */

/*
 * erf in double arithmetic, rounded once to float.  |x| < 1.25: x*P(x^2) (degree 9
 * in x^2); 1.25 <= |x| < 2.5 and 2.5 <= |x| < 3.9375: degree-12 polynomials in
 * |x| - centre; beyond, erf rounds to +-1.  All coefficients minimax.
 */
GGDM_HD static inline float ggdm_erff(float x)
{
    double xd = (double)x, ax, z, t, p;

    if (x != x)
        return ggdm_dm_nanf();
    ax = xd < 0.0 ? -xd : xd;
    if (ax < 1.25) {
        z = xd * xd;
        p = -0x1.5da1e01e556bbp-24;
        p = fma(p, z, 0x1.78eb28ecb82fap-20);
        p = fma(p, z, -0x1.e6b0f297a676ep-17);
        p = fma(p, z, 0x1.f7ba2e2416debp-14);
        p = fma(p, z, -0x1.c0042904bbe23p-11);
        p = fma(p, z, 0x1.5659a16155300p-8);
        p = fma(p, z, -0x1.b82cc1740a00dp-6);
        p = fma(p, z, 0x1.ce2f2095e2fcep-4);
        p = fma(p, z, -0x1.812746acfe84fp-2);
        p = fma(p, z, 0x1.20dd7504280d1p+0);
        return (float)(xd * p);                  /* keeps the sign of -0 */
    }
    if (ax < 2.5) {
        t = ax - 1.875;
        p = 0x1.32381d110e33ep-15;
        p = fma(p, t, 0x1.a064832d1f653p-15);
        p = fma(p, t, -0x1.993a0eca3afcbp-12);
        p = fma(p, t, 0x1.87ca4e09ca8a5p-12);
        p = fma(p, t, 0x1.770043445c8b9p-10);
        p = fma(p, t, -0x1.4328b7fe971edp-8);
        p = fma(p, t, 0x1.0d099a2f34d8fp-8);
        p = fma(p, t, 0x1.779d98950f610p-7);
        p = fma(p, t, -0x1.5a316523f9acap-5);
        p = fma(p, t, 0x1.143d1898dd2f3p-4);
        p = fma(p, t, -0x1.01a1c847df72cp-4);
        p = fma(p, t, 0x1.12ceb39b2e5ddp-5);
        p = fma(p, t, 0x1.fbe61eef4cf25p-1);
    } else if (ax < 3.9375) {
        t = ax - 3.21875;
        p = 0x1.0d578bc789223p-19;
        p = fma(p, t, -0x1.265e09dc46553p-18);
        p = fma(p, t, -0x1.2a453894658c2p-20);
        p = fma(p, t, 0x1.c3eecf1e5d96ep-16);
        p = fma(p, t, -0x1.75918d1e2d971p-14);
        p = fma(p, t, 0x1.90f103cfb4950p-13);
        p = fma(p, t, -0x1.3db93c92a6866p-12);
        p = fma(p, t, 0x1.80adad14224b2p-12);
        p = fma(p, t, -0x1.6425ac06fd6d7p-12);
        p = fma(p, t, 0x1.ec89ddc6bbb84p-13);
        p = fma(p, t, -0x1.e2588c1d8d20fp-14);
        p = fma(p, t, 0x1.2bb5d8f04908dp-15);
        p = fma(p, t, 0x1.ffff4db27ead2p-1);
    } else {
        p = 1.0;
    }
    return (float)(xd < 0.0 ? -p : p);
}

/* ------------------------------------------------------------------ tanhf */

/* e^y for 0 <= y <= 20 (internal, relative error < 2^-46): Taylor degree 11. */
GGDM_HD static inline double ggdm_dm_exp_small(double y)
{
    const double magic = 0x1.8p52;
    double t = y * 0x1.71547652b82fep+0 + magic, kd = t - magic, r, p;
    uint64_t k = (ggdm_f64_bits(t) - ggdm_f64_bits(magic)) & 0x3fu; /* 0..29 */

    r = fma(-kd, 0x1.62e42fefa39efp-1, y);       /* exact */
    r = fma(-kd, 0x1.abc9e3b39803fp-56, r);
    p = 0x1.ae64567f544e4p-26;
    p = fma(p, r, 0x1.27e4fb7789f5cp-22);
    p = fma(p, r, 0x1.71de3a556c734p-19);
    p = fma(p, r, 0x1.a01a01a01a01ap-16);
    p = fma(p, r, 0x1.a01a01a01a01ap-13);
    p = fma(p, r, 0x1.6c16c16c16c17p-10);
    p = fma(p, r, 0x1.1111111111111p-7);
    p = fma(p, r, 0x1.5555555555555p-5);
    p = fma(p, r, 0x1.5555555555555p-3);
    p = fma(p, r, 0.5);
    p = fma(p, r, 1.0);
    p = fma(p, r, 1.0);
    return p * ggdm_f64_from_bits((UINT64_C(1023) + k) << 52);
}

/*
 * tanh in double, rounded once to float.  |x| < 2^-12: x.  |x| < 0.25:
 * x + x^3*T(x^2) (degree 5 minimax).  |x| < 10: 1 - 2/(e^(2|x|) + 1).  Else +-1.
 */
GGDM_HD static inline float ggdm_tanhf(float x)
{
    double xd = (double)x, ax, z, p, r;

    if (x != x)
        return ggdm_dm_nanf();
    ax = xd < 0.0 ? -xd : xd;
    if (ax < 0x1p-12)                            /* tanh x rounds to x; keeps -0 */
        return x;
    if (ax < 0.25) {
        z = xd * xd;
        p = 0x1.afbaa5cf69528p-9;
        p = fma(p, z, -0x1.219e94e13628fp-7);
        p = fma(p, z, 0x1.664b01f732609p-6);
        p = fma(p, z, -0x1.ba1b964a3735fp-5);
        p = fma(p, z, 0x1.1111110a053f9p-3);
        p = fma(p, z, -0x1.5555555552707p-2);
        return (float)fma(xd * z, p, xd);
    }
    if (ax < 10.0)
        r = 1.0 - 2.0 / (ggdm_dm_exp_small(2.0 * ax) + 1.0);
    else
        r = 1.0;
    return (float)(xd < 0.0 ? -r : r);
}

#endif /* GGDM_DMATH_H */
