/*
 * ggdm/bytes.h - little-endian loads and stores that give the same result on every
 * host, little- or big-endian. Every file format ggdm reads or writes (.npy, .npz,
 * safetensors, golden vectors) is little-endian; all byte-order handling goes
 * through these helpers.
 *
 * The helpers assemble and split values with shifts on unsigned integers, so they
 * never depend on the host's byte order or on the alignment of the pointer.
 * Floats are moved through their exact IEEE-754 bit patterns (ggdm/hostdev.h).
 */
#ifndef GGDM_BYTES_H
#define GGDM_BYTES_H

#include <stdint.h>
#include <string.h>

#include "ggdm/hostdev.h"

/* 1 on a little-endian host, 0 on a big-endian one (constant-folded by compilers). */
static inline int ggdm_host_is_little_endian(void)
{
    const uint32_t one = 1u;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1u;
}

static inline uint16_t ggdm_le_load_u16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] | (uint16_t)((uint16_t)p[1] << 8));
}

static inline uint32_t ggdm_le_load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline uint64_t ggdm_le_load_u64(const uint8_t *p)
{
    return (uint64_t)ggdm_le_load_u32(p) | ((uint64_t)ggdm_le_load_u32(p + 4) << 32);
}

static inline int64_t ggdm_le_load_i64(const uint8_t *p)
{
    /* Two's complement reinterpretation without implementation-defined conversion. */
    uint64_t u = ggdm_le_load_u64(p);
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static inline float ggdm_le_load_f32(const uint8_t *p)
{
    return ggdm_f32_from_bits(ggdm_le_load_u32(p));
}

static inline double ggdm_le_load_f64(const uint8_t *p)
{
    return ggdm_f64_from_bits(ggdm_le_load_u64(p));
}

static inline void ggdm_le_store_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xffu);
    p[1] = (uint8_t)((v >> 8) & 0xffu);
}

static inline void ggdm_le_store_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xffu);
    p[1] = (uint8_t)((v >> 8) & 0xffu);
    p[2] = (uint8_t)((v >> 16) & 0xffu);
    p[3] = (uint8_t)((v >> 24) & 0xffu);
}

static inline void ggdm_le_store_u64(uint8_t *p, uint64_t v)
{
    ggdm_le_store_u32(p, (uint32_t)(v & 0xffffffffu));
    ggdm_le_store_u32(p + 4, (uint32_t)(v >> 32));
}

static inline void ggdm_le_store_i64(uint8_t *p, int64_t v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    ggdm_le_store_u64(p, u);
}

static inline void ggdm_le_store_f32(uint8_t *p, float v)
{
    ggdm_le_store_u32(p, ggdm_f32_bits(v));
}

static inline void ggdm_le_store_f64(uint8_t *p, double v)
{
    ggdm_le_store_u64(p, ggdm_f64_bits(v));
}

#endif /* GGDM_BYTES_H */
