/* Bulk fills over the per-index definitions of ggdm/rng.h (one Philox block per 4 numbers). */
#include "ggdm/rng.h"

void ggdm_rng_fill_u32(uint64_t seed, uint64_t stream, uint64_t start, uint32_t *out, uint64_t n)
{
    uint64_t i = 0;
    while (i < n) {
        uint64_t idx = start + i;
        ggdm_philox_block b = ggdm_rng_block(seed, stream, idx >> 2);
        unsigned w;
        for (w = (unsigned)(idx & 3u); w < 4u && i < n; w++, i++)
            out[i] = b.v[w];
    }
}

void ggdm_rng_fill_uniform(uint64_t seed, uint64_t stream, uint64_t start, float *out, uint64_t n)
{
    uint64_t i = 0;
    while (i < n) {
        uint64_t idx = start + i;
        ggdm_philox_block b = ggdm_rng_block(seed, stream, idx >> 2);
        unsigned w;
        for (w = (unsigned)(idx & 3u); w < 4u && i < n; w++, i++)
            out[i] = ggdm_rng_u01_from_word(b.v[w]);
    }
}

void ggdm_rng_fill_normal(uint64_t seed, uint64_t stream, uint64_t start, float *out, uint64_t n)
{
    uint64_t i = 0;
    while (i < n) {
        uint64_t idx = start + i;
        ggdm_philox_block b = ggdm_rng_block(seed, stream, idx >> 2);
        float z[4];
        unsigned w;
        ggdm_rng_box_muller(b.v[0], b.v[1], &z[0], &z[1]);
        ggdm_rng_box_muller(b.v[2], b.v[3], &z[2], &z[3]);
        for (w = (unsigned)(idx & 3u); w < 4u && i < n; w++, i++)
            out[i] = z[w];
    }
}
