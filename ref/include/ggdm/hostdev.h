/*
 * ggdm/hostdev.h - the one macro that lets the reference's math compile both as
 * strict C99 (host) and as CUDA __host__ __device__ code (one source, two drivers),
 * plus exact bit casts that are valid in C99, C++ and CUDA device code.
 *
 * Every function that defines exact math is declared `GGDM_HD static inline` in a
 * header. Under a C99 compiler GGDM_HD expands to nothing.
 */
#ifndef GGDM_HOSTDEV_H
#define GGDM_HOSTDEV_H

#include <float.h>
#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define GGDM_HD __host__ __device__
#else
#define GGDM_HD
#endif

/*
 * Bit-reproducibility needs float and double expressions evaluated in their own
 * precision (no x87 80-bit intermediates). FLT_EVAL_METHOD 0 guarantees that;
 * refuse to build anywhere else rather than produce different bits quietly.
 * (CUDA device code always evaluates in the declared type.)
 */
#if !defined(__CUDA_ARCH__) && defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0
#error "ggdm needs FLT_EVAL_METHOD == 0 (use SSE2 on x86: -msse2 -mfpmath=sse)"
#endif

/* Exact reinterpretation of IEEE-754 binary32/binary64 bit patterns. */
GGDM_HD static inline uint32_t ggdm_f32_bits(float x)
{
#if defined(__CUDA_ARCH__)
    return (uint32_t)__float_as_uint(x);
#else
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
#endif
}

GGDM_HD static inline float ggdm_f32_from_bits(uint32_t u)
{
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
#endif
}

GGDM_HD static inline uint64_t ggdm_f64_bits(double x)
{
#if defined(__CUDA_ARCH__)
    return (uint64_t)__double_as_longlong(x);
#else
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
#endif
}

GGDM_HD static inline double ggdm_f64_from_bits(uint64_t u)
{
#if defined(__CUDA_ARCH__)
    return __longlong_as_double((long long)u);
#else
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
#endif
}

#endif /* GGDM_HOSTDEV_H */
