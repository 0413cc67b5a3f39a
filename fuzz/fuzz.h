/*
 * fuzz/fuzz.h - what every ggdm fuzz harness shares.
 *
 * A harness defines the two libFuzzer entry points below. The same source builds
 *   - with libFuzzer (clang -fsanitize=fuzzer,address,undefined): `make fuzz`;
 *   - as a plain program with fuzz/replay_main.c, which runs every file of the
 *     corpus folders (or files) named on its command line: CI replays the seed
 *     corpora this way, under AddressSanitizer + UndefinedBehaviorSanitizer.
 * A harness checks properties beyond "no crash": on a violation it prints what and
 * where and aborts (FUZZ_CHECK), which both drivers report as a failure.
 *
 * Harness code is test code: it may allocate, print and use the platform's libm (as
 * an oracle); the library under test never does.
 */
#ifndef GGDM_FUZZ_H
#define GGDM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A violated property: name it, then abort (libFuzzer saves the input as a crash). */
#define FUZZ_CHECK(cond)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "fuzz: property violated at %s:%d: %s\n", __FILE__, __LINE__, #cond);                      \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* Like FUZZ_CHECK, with a printf-style explanation. */
#define FUZZ_CHECKF(cond, ...)                                                                                         \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "fuzz: property violated at %s:%d: %s: ", __FILE__, __LINE__, #cond);                      \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* A message buffer of the library must hold a NUL-terminated string. */
static inline int fuzz_msg_ok(const char *msg, size_t cap)
{
    return memchr(msg, 0, cap) != NULL;
}

/* ------------------------------------------------------------------ structured input
 * Structure-aware harnesses read their choices from the input bytes; past the end
 * every read gives 0, so every input is valid. */
typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in;

static inline uint8_t fuzz_u8(fuzz_in *in)
{
    uint8_t v = 0;
    if (in->n) {
        v = in->p[0];
        in->p++;
        in->n--;
    }
    return v;
}

static inline uint32_t fuzz_u32(fuzz_in *in)
{
    uint32_t v = 0;
    int i;
    for (i = 0; i < 4; i++)
        v |= (uint32_t)fuzz_u8(in) << (8 * i);
    return v;
}

static inline uint64_t fuzz_u64(fuzz_in *in)
{
    uint64_t lo = fuzz_u32(in);
    return lo | ((uint64_t)fuzz_u32(in) << 32);
}

/* An integer in [lo, hi] (hi - lo < 2^32). */
static inline long long fuzz_range(fuzz_in *in, long long lo, long long hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1u;
    uint64_t v = span <= 256u ? fuzz_u8(in) : span <= 65536u ? (uint64_t)fuzz_u8(in) | ((uint64_t)fuzz_u8(in) << 8)
                                                              : fuzz_u32(in);
    return lo + (long long)(v % span);
}

/* A float with any bit pattern. */
static inline float fuzz_f32_any(fuzz_in *in)
{
    uint32_t b = fuzz_u32(in);
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static inline double fuzz_f64_any(fuzz_in *in)
{
    uint64_t b = fuzz_u64(in);
    double d;
    memcpy(&d, &b, 8);
    return d;
}

/* A finite float in [-bound, bound] from 16 bits (multiples of bound / 32768). */
static inline float fuzz_f32_bounded(fuzz_in *in, float bound)
{
    int lo = fuzz_u8(in), hi = fuzz_u8(in);
    int v = (lo | (hi << 8)) - 32768;
    return (float)v * (bound / 32768.0f);
}

#endif /* GGDM_FUZZ_H */
