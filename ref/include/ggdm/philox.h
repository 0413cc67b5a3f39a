/*
 * ggdm/philox.h - Philox4x32 counter-based random number generator
 * (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3", SC'11),
 * with 10 rounds as in Random123's philox4x32_10.
 *
 * A block is a pure function of a 128-bit counter and a 64-bit key: any thread,
 * any batch split and any device computes the same words. Checked against the
 * published Random123 known-answer vectors (kat_vectors) in the unit tests.
 */
#ifndef GGDM_PHILOX_H
#define GGDM_PHILOX_H

#include "ggdm/hostdev.h"

#define GGDM_PHILOX_M0 0xD2511F53u
#define GGDM_PHILOX_M1 0xCD9E8D57u
#define GGDM_PHILOX_W0 0x9E3779B9u /* golden ratio */
#define GGDM_PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */

typedef struct ggdm_philox_block {
    uint32_t v[4];
} ggdm_philox_block;

GGDM_HD static inline void ggdm_philox_mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

/*
 * Philox4x32 with `rounds` rounds (Random123 uses 10; 7 is also published).
 * Round: (c0,c1,c2,c3) -> (hi(M1*c2)^c1^k0, lo(M1*c2), hi(M0*c0)^c3^k1, lo(M0*c0));
 * the key is bumped by (W0, W1) between rounds.
 */
GGDM_HD static inline ggdm_philox_block ggdm_philox4x32_r(int rounds, const uint32_t ctr[4],
                                                         const uint32_t key[2])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    ggdm_philox_block out;
    int r;
    for (r = 0; r < rounds; r++) {
        uint32_t hi0, lo0, hi1, lo1;
        if (r > 0) {
            k0 += GGDM_PHILOX_W0;
            k1 += GGDM_PHILOX_W1;
        }
        ggdm_philox_mulhilo(GGDM_PHILOX_M0, c0, &hi0, &lo0);
        ggdm_philox_mulhilo(GGDM_PHILOX_M1, c2, &hi1, &lo1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    out.v[0] = c0;
    out.v[1] = c1;
    out.v[2] = c2;
    out.v[3] = c3;
    return out;
}

/* Philox4x32-10: the generator ggdm uses everywhere. */
GGDM_HD static inline ggdm_philox_block ggdm_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2])
{
    return ggdm_philox4x32_r(10, ctr, key);
}

#endif /* GGDM_PHILOX_H */
