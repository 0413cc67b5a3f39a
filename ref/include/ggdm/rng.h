/*
 * ggdm/rng.h - random variates on top of Philox4x32-10, as pure functions of
 * (seed, stream, index). See docs/math.md, "Random streams", for the recipes.
 *
 *   key     = (seed & 0xffffffff, seed >> 32)
 *   counter = (block & 0xffffffff, block >> 32, stream & 0xffffffff, stream >> 32)
 *   block   = index / 4, word = index % 4
 *
 * The index is a position in a logical array (for per-sample data: sample*D + j,
 * with the global sample number), never a position in a batch, so results do not
 * depend on batch split, thread count or device.
 */
#ifndef GGDM_RNG_H
#define GGDM_RNG_H

#include "ggdm/dmath.h"
#include "ggdm/hostdev.h"
#include "ggdm/philox.h"

/*
 * What each stream feeds. A stream id is (purpose << 56) | (a << 32) | b, with
 * a < 2^24 and b < 2^32; docs/math.md lists what a and b are for each purpose.
 */
typedef enum ggdm_stream_purpose {
    GGDM_STREAM_TEST = 0,         /* conformance and unit tests                      */
    GGDM_STREAM_INIT_NOISE = 1,   /* x_T of a sampling run: a = round, b = 0          */
    GGDM_STREAM_STEP_NOISE = 2,   /* z added at step t: a = round, b = t              */
    GGDM_STREAM_TRAIN_T = 3,      /* training timesteps: a = epoch/round, b = batch   */
    GGDM_STREAM_TRAIN_NOISE = 4,  /* training noise: a = epoch/round, b = batch       */
    GGDM_STREAM_WEIGHT_INIT = 5,  /* parameter init: a = 0, b = parameter number      */
    GGDM_STREAM_DATA = 6,         /* data set generation: a = 0, b = 0                */
    GGDM_STREAM_HYPER = 7         /* hyper-parameters (A, theta, b): a = what, b = 0  */
} ggdm_stream_purpose;

GGDM_HD static inline uint64_t ggdm_stream_id(ggdm_stream_purpose purpose, uint32_t a, uint32_t b)
{
    return ((uint64_t)purpose << 56) | ((uint64_t)(a & 0xFFFFFFu) << 32) | (uint64_t)b;
}

/* The Philox block that holds index `index` (4 words per block). */
GGDM_HD static inline ggdm_philox_block ggdm_rng_block(uint64_t seed, uint64_t stream, uint64_t block)
{
    uint32_t ctr[4], key[2];
    ctr[0] = (uint32_t)block;
    ctr[1] = (uint32_t)(block >> 32);
    ctr[2] = (uint32_t)stream;
    ctr[3] = (uint32_t)(stream >> 32);
    key[0] = (uint32_t)seed;
    key[1] = (uint32_t)(seed >> 32);
    return ggdm_philox4x32_10(ctr, key);
}

/* Word `index` of the stream. */
GGDM_HD static inline uint32_t ggdm_rng_u32(uint64_t seed, uint64_t stream, uint64_t index)
{
    ggdm_philox_block b = ggdm_rng_block(seed, stream, index >> 2);
    return b.v[index & 3u];
}

/* Uniform on [0, 1): the top 24 bits of the word times 2^-24 (exact). */
GGDM_HD static inline float ggdm_rng_u01_from_word(uint32_t w)
{
    return (float)(w >> 8) * 0x1p-24f;
}

/* Uniform on (0, 1]: 1 - (w >> 8) * 2^-24 (exact), the Box-Muller radius input. */
GGDM_HD static inline float ggdm_rng_u01_open0_from_word(uint32_t w)
{
    return 1.0f - (float)(w >> 8) * 0x1p-24f;
}

/* Integer uniform on {0, ..., n-1}: floor(w * n / 2^32) (exact, bias < n / 2^32). */
GGDM_HD static inline uint32_t ggdm_rng_below_from_word(uint32_t w, uint32_t n)
{
    return (uint32_t)(((uint64_t)w * (uint64_t)n) >> 32);
}

/*
 * Box-Muller on the word pair (w0, w1):
 *   u1 = 1 - (w0 >> 8) 2^-24 in (0, 1],  u2 = (w1 >> 8) 2^-24 in [0, 1)
 *   r  = sqrtf(-2 * logf(u1))            (ggdm_logf, IEEE sqrtf)
 *   z0 = r * cos(2 pi u2),  z1 = r * sin(2 pi u2)   (ggdm_sincos2pif)
 */
GGDM_HD static inline void ggdm_rng_box_muller(uint32_t w0, uint32_t w1, float *z0, float *z1)
{
    float u1 = ggdm_rng_u01_open0_from_word(w0);
    float u2 = ggdm_rng_u01_from_word(w1);
    float r = ggdm_sqrtf(-2.0f * ggdm_logf(u1));
    float s, c;
    ggdm_sincos2pif(u2, &s, &c);
    *z0 = r * c;
    *z1 = r * s;
}

GGDM_HD static inline float ggdm_rng_uniform(uint64_t seed, uint64_t stream, uint64_t index)
{
    return ggdm_rng_u01_from_word(ggdm_rng_u32(seed, stream, index));
}

/*
 * Standard normal number `index`: block index/4; words (0,1) give numbers 4k, 4k+1
 * (cos, sin), words (2,3) give 4k+2, 4k+3.
 */
GGDM_HD static inline float ggdm_rng_normal(uint64_t seed, uint64_t stream, uint64_t index)
{
    ggdm_philox_block b = ggdm_rng_block(seed, stream, index >> 2);
    unsigned lane = (unsigned)(index & 3u);
    unsigned pair = lane >> 1;
    float z0, z1;
    ggdm_rng_box_muller(b.v[2 * pair], b.v[2 * pair + 1], &z0, &z1);
    return (lane & 1u) ? z1 : z0;
}

/* Integer uniform on {0, ..., n-1} at `index` (n >= 1). */
GGDM_HD static inline uint32_t ggdm_rng_below(uint64_t seed, uint64_t stream, uint64_t index, uint32_t n)
{
    return ggdm_rng_below_from_word(ggdm_rng_u32(seed, stream, index), n);
}

/* Bulk fills of out[0..n) with the stream's numbers start, start+1, ... (host loops). */
void ggdm_rng_fill_uniform(uint64_t seed, uint64_t stream, uint64_t start, float *out, uint64_t n);
void ggdm_rng_fill_normal(uint64_t seed, uint64_t stream, uint64_t start, float *out, uint64_t n);
void ggdm_rng_fill_u32(uint64_t seed, uint64_t stream, uint64_t start, uint32_t *out, uint64_t n);

#endif /* GGDM_RNG_H */
