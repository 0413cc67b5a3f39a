/*
 * Python's random module, as far as the authors' prompt choice needs it:
 *     random.seed(args.seed); prompts = random.sample(imagenet_classes, k)
 * bit-exact to CPython 3.11 (Modules/_randommodule.c, Lib/random.py; 3.x agree): MT19937
 * seeded by init_by_array with the 32-bit little-endian words of abs(seed), getrandbits(k)
 * for k <= 32, _randbelow (rejection sampling) and sample() (pool or selected-set method).
 */
#ifndef GGDM_CLI_PYRANDOM_H
#define GGDM_CLI_PYRANDOM_H

#include <stdint.h>

typedef struct ggdm_pyrandom {
    uint32_t mt[624];
    int index;
} ggdm_pyrandom;

/* random.seed(seed) for an int seed (any int64; negative seeds use abs(seed), so -1 and 1
 * give the same stream, as in Python). */
void ggdm_pyrandom_seed(ggdm_pyrandom *r, int64_t seed);
/* The next 32-bit output (genrand_uint32). */
uint32_t ggdm_pyrandom_u32(ggdm_pyrandom *r);
/* random.getrandbits(k), 0 <= k <= 32 (k = 0 consumes nothing and returns 0). */
uint32_t ggdm_pyrandom_getrandbits(ggdm_pyrandom *r, int k);
/* random._randbelow(n), n >= 1: uniform in [0, n). */
uint32_t ggdm_pyrandom_randbelow(ggdm_pyrandom *r, uint32_t n);
/* random.sample(population, k) for a population of n items, continuing r's stream: idx[0..k)
 * get the chosen items' indexes, in Python's order. 0, or -1 when not 0 <= k <= n (Python's
 * ValueError) or out of memory. */
int ggdm_pyrandom_sample_r(ggdm_pyrandom *r, int n, int k, int *idx);
/* random.seed(seed); random.sample(range(n), k). */
int ggdm_pyrandom_sample(int64_t seed, int n, int k, int *idx);

#endif
