/*
 * fuzz_dmath: ggdm's elementary functions (ggdm/dmath.h) and fixed-order reductions
 * (ggdm/reduce.h) on arbitrary bit patterns. The first byte chooses float32 (even) or
 * float64 (odd) inputs; the rest is read as a sequence of values.
 *
 * Properties, for every input value (NaN, infinities, subnormals included):
 *   - agreement with the platform's libm as an oracle: float32 functions within 1 ulp of
 *     the double-precision result rounded to float (ggdm's bounds are 0.61 ulp, 0.76 for
 *     subnormal results of expf; docs/elementary-functions.md), sincos2pif against
 *     long double on the exactly reduced argument, float64 sin/cos/log within 2 ulp of
 *     glibc's (ggdm <= 0.6, glibc < 1);
 *   - NaN exactly when the oracle is NaN, and then the canonical quiet NaN;
 *   - ranges (|sin|, |cos|, |erf|, |tanh| <= 1, exp >= 0) and the documented bit-exact
 *     symmetries (sin, erf, tanh odd; cos even);
 *   - reductions: dot, sum, mean/variance are the documented sequential chains,
 *     bit for bit (a changed summation order fails here); finite for bounded inputs.
 */
#include <float.h>
#include <math.h>

#include "fuzz.h"
#include "ggdm/dmath.h"
#include "ggdm/reduce.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* Distance in ulps between two floats of the same sign class (ordered integers). */
static double ulp32(float a, float b)
{
    int64_t x = (int64_t)ggdm_f32_bits(a), y = (int64_t)ggdm_f32_bits(b);
    if (x & 0x80000000) x = 0x80000000 - x;
    if (y & 0x80000000) y = 0x80000000 - y;
    return fabs((double)(x - y));
}

static double ulp64(double a, double b)
{
    /* ordered integers: -0 and +0 both map to 0; exact in 64-bit arithmetic */
    uint64_t ux = ggdm_f64_bits(a), uy = ggdm_f64_bits(b);
    int64_t x = (ux >> 63) ? -(int64_t)(ux & 0x7fffffffffffffffull) : (int64_t)ux;
    int64_t y = (uy >> 63) ? -(int64_t)(uy & 0x7fffffffffffffffull) : (int64_t)uy;
    uint64_t d = x >= y ? (uint64_t)x - (uint64_t)y : (uint64_t)y - (uint64_t)x;
    return (double)d;
}

static void check_f32(const char *fn, float x, float got, double want_d, double tol)
{
    float want = (float)want_d;
    if (want_d != want_d) {
        FUZZ_CHECKF(ggdm_f32_bits(got) == 0x7fc00000u, "%s(%a) = %a, expected the canonical NaN", fn, (double)x,
                    (double)got);
        return;
    }
    FUZZ_CHECKF(got == got, "%s(%a) = NaN, expected %a", fn, (double)x, want_d);
    FUZZ_CHECKF(ulp32(got, want) <= tol, "%s(%a) = %a, libm %a: %g ulp", fn, (double)x, (double)got, (double)want,
                ulp32(got, want));
}

static void check_f64(const char *fn, double x, double got, double want, double tol)
{
    if (want != want) {
        FUZZ_CHECKF(ggdm_f64_bits(got) == 0x7ff8000000000000ull, "%s(%a) = %a, expected the canonical NaN", fn, x,
                    got);
        return;
    }
    FUZZ_CHECKF(got == got, "%s(%a) = NaN, expected %a", fn, x, want);
    FUZZ_CHECKF(ulp64(got, want) <= tol, "%s(%a) = %a, libm %a: %g ulp", fn, x, got, want, ulp64(got, want));
}

static void one_f32(float x)
{
    float s, c, e;
    check_f32("expf", x, ggdm_expf(x), exp((double)x), 1);
    check_f32("logf", x, ggdm_logf(x), log((double)x), 1);
    check_f32("sinf", x, ggdm_sinf(x), sin((double)x), 1);
    check_f32("cosf", x, ggdm_cosf(x), cos((double)x), 1);
    check_f32("erff", x, ggdm_erff(x), erf((double)x), 1);
    check_f32("tanhf", x, ggdm_tanhf(x), tanh((double)x), 1);
    check_f32("sqrtf", x, ggdm_sqrtf(x), sqrt((double)x), 0.5 + 1e-9); /* (float)sqrt(double) is correctly rounded */
    /* ranges and symmetries */
    if (isfinite(x)) {
        FUZZ_CHECK(fabsf(ggdm_sinf(x)) <= 1.0f && fabsf(ggdm_cosf(x)) <= 1.0f);
        FUZZ_CHECK(fabsf(ggdm_erff(x)) <= 1.0f && fabsf(ggdm_tanhf(x)) <= 1.0f);
        FUZZ_CHECK(ggdm_expf(x) >= 0.0f);
        if (x > 0.0f)
            FUZZ_CHECK(isfinite(ggdm_logf(x)));
    }
    if (isfinite(x)) { /* (a NaN result is canonical, its negation is not) */
        FUZZ_CHECK(ggdm_f32_bits(ggdm_sinf(-x)) == ggdm_f32_bits(-ggdm_sinf(x)));
        FUZZ_CHECK(ggdm_f32_bits(ggdm_cosf(-x)) == ggdm_f32_bits(ggdm_cosf(x)));
        FUZZ_CHECK(ggdm_f32_bits(ggdm_erff(-x)) == ggdm_f32_bits(-ggdm_erff(x)));
        FUZZ_CHECK(ggdm_f32_bits(ggdm_tanhf(-x)) == ggdm_f32_bits(-ggdm_tanhf(x)));
    }
    /* sin(2 pi u), cos(2 pi u): 4u = q + f exactly (|f| <= 1/2), the oracle is long double
     * sin/cos of f pi/2 in quadrant q; multiples of 1/4 are exact (sin's zero has u's sign) */
    ggdm_sincos2pif(x, &s, &c);
    if (!isfinite(x)) {
        FUZZ_CHECK(ggdm_f32_bits(s) == 0x7fc00000u && ggdm_f32_bits(c) == 0x7fc00000u);
    } else {
        long double u4 = 4.0L * (long double)x, q = rintl(u4), f = u4 - q;
        long double a = f * 1.57079632679489661923132169163975144L, sa = sinl(a), ca = cosl(a), ws, wc;
        long qm = (long)fmodl(q, 4.0L);
        if (qm < 0)
            qm += 4;
        ws = qm == 0 ? sa : qm == 1 ? ca : qm == 2 ? -sa : -ca;
        wc = qm == 0 ? ca : qm == 1 ? -sa : qm == 2 ? -ca : sa;
        if (f == 0.0L) {
            FUZZ_CHECKF(s == (float)ws && c == (float)wc, "sincos2pif(%a) = (%a, %a), exactly (%g, %g)", (double)x,
                        (double)s, (double)c, (double)ws, (double)wc);
            if (s == 0.0f)
                FUZZ_CHECK(signbit(s) == signbit(x));
            if (c == 0.0f)
                FUZZ_CHECK(!signbit(c));
        } else {
            check_f32("sin2pif", x, s, (double)ws, 1);
            check_f32("cos2pif", x, c, (double)wc, 1);
        }
        FUZZ_CHECK(fabsf(s) <= 1.0f && fabsf(c) <= 1.0f);
    }
    e = ggdm_fmaf(x, x, -1.0f);
    FUZZ_CHECK(e != e ? ggdm_f32_bits(e) == 0x7fc00000u : e == fmaf(x, x, -1.0f));
}

static void one_f64(double x)
{
    check_f64("sin", x, ggdm_sin(x), sin(x), 2);
    check_f64("cos", x, ggdm_cos(x), cos(x), 2);
    check_f64("log", x, ggdm_log(x), log(x), 2);
    check_f64("sqrt", x, ggdm_sqrt(x), sqrt(x), 0);
    if (isfinite(x)) {
        FUZZ_CHECK(fabs(ggdm_sin(x)) <= 1.0 && fabs(ggdm_cos(x)) <= 1.0);
        if (x > 0.0)
            FUZZ_CHECK(isfinite(ggdm_log(x)));
    }
    if (isfinite(x)) {
        FUZZ_CHECK(ggdm_f64_bits(ggdm_sin(-x)) == ggdm_f64_bits(-ggdm_sin(x)));
        FUZZ_CHECK(ggdm_f64_bits(ggdm_cos(-x)) == ggdm_f64_bits(ggdm_cos(x)));
    }
}

/* The reductions against their definitions (docs/math.md section 3), bit for bit. */
static void reductions_f32(const float *a, const float *b, long n)
{
    float acc = 0.0f, m, v, mean = 0, var = 0, got;
    long i;
    for (i = 0; i < n; i++)
        acc = fmaf(a[i], b[i], acc);
    got = ggdm_dot_f32(a, 1, b, 1, n);
    FUZZ_CHECK(ggdm_f32_bits(got) == ggdm_f32_bits(acc) || (got != got && acc != acc));
    /* strided: every other element */
    acc = 0.0f;
    for (i = 0; i < n / 2; i++)
        acc = fmaf(a[2 * i], b[2 * i + 1], acc);
    got = ggdm_dot_f32(a, 2, b + 1, 2, n / 2);
    FUZZ_CHECK(ggdm_f32_bits(got) == ggdm_f32_bits(acc) || (got != got && acc != acc));
    acc = 0.0f;
    for (i = 0; i < n; i++)
        acc = acc + a[i];
    got = ggdm_sum_f32(a, 1, n);
    FUZZ_CHECK(ggdm_f32_bits(got) == ggdm_f32_bits(acc) || (got != got && acc != acc));
    if (n > 0) {
        m = acc / (float)n;
        v = 0.0f;
        for (i = 0; i < n; i++) {
            float d = a[i] - m;
            v = fmaf(d, d, v);
        }
        v = v / (float)n;
        ggdm_mean_var_f32(a, 1, n, &mean, &var);
        FUZZ_CHECK(ggdm_f32_bits(mean) == ggdm_f32_bits(m) || (mean != mean && m != m));
        FUZZ_CHECK(ggdm_f32_bits(var) == ggdm_f32_bits(v) || (var != var && v != v));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in;
    int f64;
    in.p = data;
    in.n = size;
    f64 = fuzz_u8(&in) & 1;
    if (!f64) {
        float a[256], b[256], bounded[256];
        long n = 0, i;
        while (in.n >= 4 && n < 256) {
            a[n] = fuzz_f32_any(&in);
            one_f32(a[n]);
            n++;
        }
        for (i = 0; i < n; i++) {
            b[i] = a[n - 1 - i];
            /* bounded copies: sums of at most 256 values of magnitude < 2^100 stay finite */
            bounded[i] = isfinite(a[i]) && fabsf(a[i]) < 0x1p100f ? a[i] : 1.0f;
        }
        reductions_f32(a, b, n);
        reductions_f32(bounded, bounded, n);
        {
            float mean, var;
            if (n > 0) {
                ggdm_mean_var_f32(bounded, 1, n, &mean, &var);
                FUZZ_CHECK(isfinite(mean) && var >= 0.0f && !(var != var));
            }
        }
    } else {
        double x[128], y[128], acc = 0.0;
        long n = 0, i;
        while (in.n >= 8 && n < 128) {
            x[n] = fuzz_f64_any(&in);
            one_f64(x[n]);
            n++;
        }
        for (i = 0; i < n; i++) {
            y[i] = x[n - 1 - i];
            acc = fma(x[i], y[i], acc);
        }
        {
            double got = ggdm_dot_f64(x, 1, y, 1, n);
            FUZZ_CHECK(ggdm_f64_bits(got) == ggdm_f64_bits(acc) || (got != got && acc != acc));
        }
    }
    return 0;
}
