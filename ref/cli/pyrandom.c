#include "pyrandom.h"

#include <stdlib.h>

#define MT_N 624
#define MT_M 397

static void init_genrand(ggdm_pyrandom *r, uint32_t s)
{
    int i;
    r->mt[0] = s;
    for (i = 1; i < MT_N; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->index = MT_N;
}

static void init_by_array(ggdm_pyrandom *r, const uint32_t *key, int len)
{
    int i = 1, j = 0, k;
    init_genrand(r, 19650218u);
    for (k = MT_N > len ? MT_N : len; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++;
        j++;
        if (i >= MT_N) {
            r->mt[0] = r->mt[MT_N - 1];
            i = 1;
        }
        if (j >= len)
            j = 0;
    }
    for (k = MT_N - 1; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= MT_N) {
            r->mt[0] = r->mt[MT_N - 1];
            i = 1;
        }
    }
    r->mt[0] = 0x80000000u; /* MSB is 1, assuring a non-zero initial array */
}

void ggdm_pyrandom_seed(ggdm_pyrandom *r, int64_t seed)
{
    /* abs(seed) without overflow (INT64_MIN -> 2^63) */
    uint64_t a = seed < 0 ? (uint64_t)0 - (uint64_t)seed : (uint64_t)seed;
    uint32_t key[2];
    key[0] = (uint32_t)a;
    key[1] = (uint32_t)(a >> 32);
    init_by_array(r, key, key[1] ? 2 : 1); /* as many words as abs(seed) needs, at least one */
}

uint32_t ggdm_pyrandom_u32(ggdm_pyrandom *r)
{
    static const uint32_t mag01[2] = {0x0u, 0x9908b0dfu};
    uint32_t y;
    if (r->index >= MT_N) {
        int kk;
        for (kk = 0; kk < MT_N - MT_M; kk++) {
            y = (r->mt[kk] & 0x80000000u) | (r->mt[kk + 1] & 0x7fffffffu);
            r->mt[kk] = r->mt[kk + MT_M] ^ (y >> 1) ^ mag01[y & 1u];
        }
        for (; kk < MT_N - 1; kk++) {
            y = (r->mt[kk] & 0x80000000u) | (r->mt[kk + 1] & 0x7fffffffu);
            r->mt[kk] = r->mt[kk + (MT_M - MT_N)] ^ (y >> 1) ^ mag01[y & 1u];
        }
        y = (r->mt[MT_N - 1] & 0x80000000u) | (r->mt[0] & 0x7fffffffu);
        r->mt[MT_N - 1] = r->mt[MT_M - 1] ^ (y >> 1) ^ mag01[y & 1u];
        r->index = 0;
    }
    y = r->mt[r->index++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
}

uint32_t ggdm_pyrandom_getrandbits(ggdm_pyrandom *r, int k)
{
    if (k <= 0)
        return 0;
    return ggdm_pyrandom_u32(r) >> (32 - (k > 32 ? 32 : k));
}

static int bit_length(uint32_t n)
{
    int b = 0;
    while (n) {
        b++;
        n >>= 1;
    }
    return b;
}

uint32_t ggdm_pyrandom_randbelow(ggdm_pyrandom *r, uint32_t n)
{
    int k = bit_length(n);
    uint32_t v = ggdm_pyrandom_getrandbits(r, k);
    while (v >= n)
        v = ggdm_pyrandom_getrandbits(r, k);
    return v;
}

int ggdm_pyrandom_sample_r(ggdm_pyrandom *r, int n, int k, int *idx)
{
    int64_t setsize = 21; /* size of a small set minus size of an empty list */
    int i;
    if (n < 0 || k < 0 || k > n)
        return -1;
    if (k > 5) {
        /* 4 ** ceil(log(3k, 4)): the least power of 4 >= 3k (3k is never a power of 4) */
        int64_t p = 1, t = 3 * (int64_t)k;
        while (p < t)
            p *= 4;
        setsize += p;
    }
    if ((int64_t)n <= setsize) {
        /* an n-length list is smaller than a k-length set: the pool method */
        int *pool = (int *)malloc((size_t)(n ? n : 1) * sizeof(int));
        if (!pool)
            return -1;
        for (i = 0; i < n; i++)
            pool[i] = i;
        for (i = 0; i < k; i++) {
            int j = (int)ggdm_pyrandom_randbelow(r, (uint32_t)(n - i));
            idx[i] = pool[j];
            pool[j] = pool[n - i - 1]; /* move a non-selected item into the vacancy */
        }
        free(pool);
    } else {
        /* the selected-set method (a bitmap of the n indexes) */
        uint8_t *sel = (uint8_t *)calloc((size_t)n / 8 + 1, 1);
        if (!sel)
            return -1;
        for (i = 0; i < k; i++) {
            uint32_t j = ggdm_pyrandom_randbelow(r, (uint32_t)n);
            while (sel[j >> 3] & (1u << (j & 7u)))
                j = ggdm_pyrandom_randbelow(r, (uint32_t)n);
            sel[j >> 3] = (uint8_t)(sel[j >> 3] | (1u << (j & 7u)));
            idx[i] = (int)j;
        }
        free(sel);
    }
    return 0;
}

int ggdm_pyrandom_sample(int64_t seed, int n, int k, int *idx)
{
    ggdm_pyrandom r;
    ggdm_pyrandom_seed(&r, seed);
    return ggdm_pyrandom_sample_r(&r, n, k, idx);
}
