/*
 * bench_util.h - what the benchmark programs share (ref/bench, gpu/bench_gpu.c): a monotonic
 * clock, medians, aligned allocation that exits on failure (benchmarks, not the library).
 * Define BENCH_NAME before including it (used in messages).
 */
#ifndef GGDM_BENCH_UTIL_H
#define GGDM_BENCH_UTIL_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..R-1] (sorts v; the mean of the two middle values when R is even). */
static inline double median(double *v, int R)
{
    qsort(v, R, sizeof v[0], cmp_double);
    return R % 2 ? v[R / 2] : 0.5 * (v[R / 2 - 1] + v[R / 2]);
}

/* 64-byte aligned, zeroed; exits with a message when memory runs out. */
static inline void *xalloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) {
        fprintf(stderr, "%s: out of memory (%lu bytes)\n", BENCH_NAME, (unsigned long)bytes);
        exit(1);
    }
    memset(p, 0, bytes);
    return p;
}

#endif /* GGDM_BENCH_UTIL_H */
