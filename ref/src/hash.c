/*
 * hash.c - XXH3-64 of little-endian bytes, identical on every host (ggdm/hash.h).
 */
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t's definition, for a stack state */
#include <xxhash.h>

#include <string.h>

#include "ggdm/bytes.h"
#include "ggdm/hash.h"

uint64_t ggdm_hash_bytes(const void *p, uint64_t n)
{
    if (!p) {
        return (uint64_t)XXH3_64bits(NULL, 0);
    }
    return (uint64_t)XXH3_64bits(p, (size_t)n);
}

uint64_t ggdm_hash_words_chunked(const void *words, uint64_t count, unsigned word_size)
{
    XXH3_state_t state; /* on the stack; XXH3_createState would allocate */
    uint8_t chunk[GGDM_HASH_CHUNK_BYTES];
    const uint8_t *src = (const uint8_t *)words;
    uint64_t per_chunk, done = 0;

    if (word_size != 1u && word_size != 2u && word_size != 4u && word_size != 8u) {
        return 0;
    }
    if (!words) {
        count = 0;
    }
    memset(&state, 0, sizeof state);
    XXH3_INITSTATE(&state);
    (void)XXH3_64bits_reset(&state);
    per_chunk = GGDM_HASH_CHUNK_BYTES / word_size;
    while (done < count) {
        uint64_t k = count - done < per_chunk ? count - done : per_chunk, i;
        for (i = 0; i < k; i++) {
            const uint8_t *w = src + (done + i) * word_size;
            uint8_t *d = chunk + i * word_size;
            if (word_size == 1u) {
                d[0] = w[0];
            } else if (word_size == 2u) {
                uint16_t v;
                memcpy(&v, w, sizeof v);
                ggdm_le_store_u16(d, v);
            } else if (word_size == 4u) {
                uint32_t v;
                memcpy(&v, w, sizeof v);
                ggdm_le_store_u32(d, v);
            } else {
                uint64_t v;
                memcpy(&v, w, sizeof v);
                ggdm_le_store_u64(d, v);
            }
        }
        (void)XXH3_64bits_update(&state, chunk, (size_t)(k * word_size));
        done += k;
    }
    return (uint64_t)XXH3_64bits_digest(&state);
}

static uint64_t hash_words(const void *x, uint64_t n, unsigned word_size)
{
    if (ggdm_host_is_little_endian()) {
        return ggdm_hash_bytes(x, x ? n * word_size : 0);
    }
    return ggdm_hash_words_chunked(x, n, word_size);
}

uint64_t ggdm_hash_f32(const float *x, uint64_t n)
{
    return hash_words(x, n, 4u);
}

uint64_t ggdm_hash_f64(const double *x, uint64_t n)
{
    return hash_words(x, n, 8u);
}

uint64_t ggdm_hash_i64(const int64_t *x, uint64_t n)
{
    return hash_words(x, n, 8u);
}

uint64_t ggdm_hash_u32(const uint32_t *x, uint64_t n)
{
    return hash_words(x, n, 4u);
}

void ggdm_hash_hex(uint64_t h, char out[17])
{
    static const char digits[] = "0123456789abcdef";
    int i;
    if (!out) {
        return;
    }
    for (i = 15; i >= 0; i--) {
        out[i] = digits[h & 0xfu];
        h >>= 4;
    }
    out[16] = '\0';
}

ggdm_status ggdm_hash_parse_hex(const char *s, uint64_t *h)
{
    uint64_t v = 0;
    int i;
    if (!s || !h) {
        return GGDM_ERR_ARG;
    }
    for (i = 0; i < 16; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9') {
            d = (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = (unsigned)(c - 'a') + 10u;
        } else if (c >= 'A' && c <= 'F') {
            d = (unsigned)(c - 'A') + 10u;
        } else {
            return GGDM_ERR_FORMAT;
        }
        v = (v << 4) | d;
    }
    if (s[16] != '\0') {
        return GGDM_ERR_FORMAT;
    }
    *h = v;
    return GGDM_OK;
}
