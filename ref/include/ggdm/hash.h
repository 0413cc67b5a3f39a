/*
 * ggdm/hash.h - identifiers of outputs: XXH3-64 (seed 0) of their little-endian bytes.
 *
 * An array of floats or integers is hashed as the bytes a little-endian machine
 * holds in memory (= the bytes of a .npy file's data), so a result hashes to the
 * same value on every host. Little-endian hosts hash the memory directly; big-endian
 * hosts convert fixed-size chunks into a stack buffer and stream them through a
 * stack-allocated XXH3 state. Nothing allocates.
 *
 * A null pointer is hashed as the empty input (only meaningful with n == 0).
 */
#ifndef GGDM_HASH_H
#define GGDM_HASH_H

#include <stdint.h>

#include "ggdm/status.h"

/* XXH3-64 of n raw bytes (no byte-order conversion; bytes have none). */
uint64_t ggdm_hash_bytes(const void *p, uint64_t n);

/* XXH3-64 of the little-endian bytes of n values (4 or 8 bytes each). */
uint64_t ggdm_hash_f32(const float *x, uint64_t n);
uint64_t ggdm_hash_f64(const double *x, uint64_t n);
uint64_t ggdm_hash_i64(const int64_t *x, uint64_t n);
uint64_t ggdm_hash_u32(const uint32_t *x, uint64_t n);

/* 16 lowercase hex digits and a NUL: out must hold 17 chars. */
void ggdm_hash_hex(uint64_t h, char out[17]);

/* Parses exactly 16 hex digits (either case) followed by NUL; GGDM_ERR_FORMAT
 * otherwise, GGDM_ERR_ARG for null pointers. */
ggdm_status ggdm_hash_parse_hex(const char *s, uint64_t *h);

/*
 * The portable path, exposed so that it can be tested on any host: converts
 * `count` host-order words of `word_size` bytes (1, 2, 4 or 8) to little-endian in
 * chunks of GGDM_HASH_CHUNK_BYTES and streams them through XXH3. Equal to the direct
 * hash on a little-endian host; it is what big-endian hosts always use. Returns 0
 * for any other word_size.
 */
#define GGDM_HASH_CHUNK_BYTES 1024u
uint64_t ggdm_hash_words_chunked(const void *words, uint64_t count, unsigned word_size);

#endif /* GGDM_HASH_H */
