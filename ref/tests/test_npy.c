/*
 * test_npy.c - .npy headers and data: NumPy-written reference files (embedded
 * below), round trips for every dtype and rank 0..3, and malformed input of every
 * kind, each with its status and a message. Plus the little-endian helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ggdm/bytes.h"
#include "ggdm/npy.h"

/* ------------------------------------------------------------------ reference files
 * Written by NumPy 1.24.2, e.g. np.save(f, np.array([[1.0, -2.5, 3.25], [0.1, 1e30,
 * -0.0]], dtype='<f4')); the v2/v3 ones with np.lib.format.write_array(f, a,
 * version=(2, 0)). Values:
 *   ref_f32_2x3    <f4 (2, 3)     1, -2.5, 3.25, 0.1, 1e30, -0.0
 *   ref_f64_5      <f8 (5,)       1, -2.5, pi, 1e-300, -1e300
 *   ref_i64_scalar <i8 ()         -1234567890123
 *   ref_u32_2x2x2  <u4 (2, 2, 2)  4000000000 + 66051 * i, i = 0..7
 *   ref_f64_0x3    <f8 (0, 3)     (empty)
 *   ref_f32_v2/v3  <f4 (2,)       1.5, 2.5 (format 2.0 / 3.0)
 *   ref_be_f4      >f4 (1,)       1.0 (big-endian: rejected)
 *   ref_fortran    <f8 (2, 3)     fortran_order True (rejected)
 *   ref_i2         <i2 (2,)       (unsupported dtype)
 */
static const uint8_t ref_f32_2x3[152] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27, 0x64, 0x65,
    0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x66, 0x34, 0x27, 0x2c, 0x20, 0x27,
    0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x27,
    0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70,
    0x65, 0x27, 0x3a, 0x20, 0x28, 0x32, 0x2c, 0x20, 0x33, 0x29, 0x2c, 0x20, 0x7d, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x0a, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0, 0x00, 0x00, 0x50, 0x40,
    0xcd, 0xcc, 0xcc, 0x3d, 0xca, 0xf2, 0x49, 0x71, 0x00, 0x00, 0x00, 0x80};

static const uint8_t ref_f64_5[168] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27, 0x64, 0x65,
    0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x66, 0x38, 0x27, 0x2c, 0x20, 0x27,
    0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x27,
    0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70,
    0x65, 0x27, 0x3a, 0x20, 0x28, 0x35, 0x2c, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x04, 0xc0, 0x18, 0x2d, 0x44, 0x54, 0xfb, 0x21, 0x09, 0x40, 0x59, 0xf3,
    0xf8, 0xc2, 0x1f, 0x6e, 0xa5, 0x01, 0x9c, 0x75, 0x00, 0x88, 0x3c, 0xe4, 0x37, 0xfe};

static const uint8_t ref_i64_scalar[136] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27, 0x64, 0x65,
    0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x69, 0x38, 0x27, 0x2c, 0x20, 0x27,
    0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x27,
    0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70,
    0x65, 0x27, 0x3a, 0x20, 0x28, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x0a, 0x35, 0xfb, 0x04, 0x8e, 0xe0, 0xfe, 0xff, 0xff};

static const uint8_t ref_u32_2x2x2[160] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27, 0x64, 0x65,
    0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x75, 0x34, 0x27, 0x2c, 0x20, 0x27,
    0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x27,
    0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70,
    0x65, 0x27, 0x3a, 0x20, 0x28, 0x32, 0x2c, 0x20, 0x32, 0x2c, 0x20, 0x32, 0x29, 0x2c,
    0x20, 0x7d, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x0a, 0x00, 0x28, 0x6b, 0xee, 0x03, 0x2a, 0x6c, 0xee, 0x06, 0x2c, 0x6d, 0xee,
    0x09, 0x2e, 0x6e, 0xee, 0x0c, 0x30, 0x6f, 0xee, 0x0f, 0x32, 0x70, 0xee, 0x12, 0x34,
    0x71, 0xee, 0x15, 0x36, 0x72, 0xee};

static const uint8_t ref_f64_0x3[128] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27, 0x64, 0x65,
    0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x66, 0x38, 0x27, 0x2c, 0x20, 0x27,
    0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x27,
    0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70,
    0x65, 0x27, 0x3a, 0x20, 0x28, 0x30, 0x2c, 0x20, 0x33, 0x29, 0x2c, 0x20, 0x7d, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x0a};

static const uint8_t ref_f32_v2[136] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x02, 0x00, 0x74, 0x00, 0x00, 0x00, 0x7b, 0x27,
    0x64, 0x65, 0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x66, 0x34, 0x27, 0x2c,
    0x20, 0x27, 0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65,
    0x72, 0x27, 0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68,
    0x61, 0x70, 0x65, 0x27, 0x3a, 0x20, 0x28, 0x32, 0x2c, 0x29, 0x2c, 0x20, 0x7d, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x0a, 0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x20, 0x40};

static const uint8_t ref_f32_v3[136] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x03, 0x00, 0x74, 0x00, 0x00, 0x00, 0x7b, 0x27,
    0x64, 0x65, 0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x66, 0x34, 0x27, 0x2c,
    0x20, 0x27, 0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65,
    0x72, 0x27, 0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68,
    0x61, 0x70, 0x65, 0x27, 0x3a, 0x20, 0x28, 0x32, 0x2c, 0x29, 0x2c, 0x20, 0x7d, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x0a, 0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x20, 0x40};

static const uint8_t ref_be_f4[132] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27, 0x64, 0x65,
    0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3e, 0x66, 0x34, 0x27, 0x2c, 0x20, 0x27,
    0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x27,
    0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70,
    0x65, 0x27, 0x3a, 0x20, 0x28, 0x31, 0x2c, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x0a, 0x3f, 0x80, 0x00, 0x00};

static const uint8_t ref_fortran[176] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27, 0x64, 0x65,
    0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x66, 0x38, 0x27, 0x2c, 0x20, 0x27,
    0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x27,
    0x3a, 0x20, 0x54, 0x72, 0x75, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70, 0x65,
    0x27, 0x3a, 0x20, 0x28, 0x32, 0x2c, 0x20, 0x33, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x08, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x10, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x40};

static const uint8_t ref_i2[132] = {
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27, 0x64, 0x65,
    0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x69, 0x32, 0x27, 0x2c, 0x20, 0x27,
    0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x27,
    0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70,
    0x65, 0x27, 0x3a, 0x20, 0x28, 0x32, 0x2c, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x0a, 0x01, 0x00, 0x02, 0x00};

static const char *fmt_status(ggdm_status s)
{
    return ggdm_status_str(s);
}

/* Asserts a status and, for errors, a non-empty message (printed on failure). */
#define EXPECT_STATUS(got, want, msg)                                                       \
    do {                                                                                     \
        ggdm_status got_ = (got);                                                            \
        if (got_ != (want)) {                                                                \
            print_error("got '%s', want '%s' (msg: %s)\n", fmt_status(got_),               \
                        fmt_status(want), (msg));                                            \
        }                                                                                    \
        assert_int_equal(got_, (want));                                                      \
        if ((want) != GGDM_OK) {                                                             \
            assert_true(strlen(msg) > 0);                                                    \
            assert_true(strlen(msg) < GGDM_NPY_MSG_LEN);                                     \
        }                                                                                    \
    } while (0)

static int has(const char *msg, const char *needle)
{
    if (strstr(msg, needle) == NULL) {
        print_error("message '%s' lacks '%s'\n", msg, needle);
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ LE helpers */

static void test_le_helpers(void **state)
{
    uint8_t b[8];
    (void)state;
    ggdm_le_store_u32(b, 0x01020304u);
    assert_int_equal(b[0], 4);
    assert_int_equal(b[3], 1);
    assert_int_equal(ggdm_le_load_u32(b), 0x01020304u);
    ggdm_le_store_u16(b, 0xbeefu);
    assert_int_equal(b[0], 0xef);
    assert_int_equal(b[1], 0xbe);
    assert_int_equal(ggdm_le_load_u16(b), 0xbeefu);
    ggdm_le_store_u64(b, 0x0102030405060708ull);
    assert_int_equal(b[0], 8);
    assert_int_equal(b[7], 1);
    assert_true(ggdm_le_load_u64(b) == 0x0102030405060708ull);
    ggdm_le_store_i64(b, -2);
    assert_int_equal(b[0], 0xfe);
    assert_int_equal(b[7], 0xff);
    assert_true(ggdm_le_load_i64(b) == -2);
    ggdm_le_store_f32(b, 1.0f);
    assert_int_equal(b[0], 0x00);
    assert_int_equal(b[2], 0x80);
    assert_int_equal(b[3], 0x3f);
    assert_true(ggdm_le_load_f32(b) == 1.0f);
    ggdm_le_store_f64(b, -2.0);
    assert_int_equal(b[6], 0x00);
    assert_int_equal(b[7], 0xc0);
    assert_true(ggdm_le_load_f64(b) == -2.0);
    /* Unaligned access is fine. */
    {
        uint8_t u[12] = {0};
        ggdm_le_store_u64(u + 3, 0xfedcba9876543210ull);
        assert_true(ggdm_le_load_u64(u + 3) == 0xfedcba9876543210ull);
        assert_int_equal(u[3], 0x10);
    }
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
    assert_int_equal(ggdm_host_is_little_endian(), __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
#endif
}

/* ------------------------------------------------------------------ reference files */

typedef struct ref_case {
    const char *name;
    const uint8_t *bytes;
    uint64_t len;
    ggdm_dtype dtype;
    int ndim;
    uint64_t shape[3];
    uint64_t count;
    int version;
} ref_case;

#define REF(arr, dt, nd, s0, s1, s2, cnt, ver)                                              \
    {#arr, arr, sizeof arr, dt, nd, {s0, s1, s2}, cnt, ver}

static const ref_case refs[] = {
    REF(ref_f32_2x3, GGDM_DT_F32, 2, 2, 3, 0, 6, 1),
    REF(ref_f64_5, GGDM_DT_F64, 1, 5, 0, 0, 5, 1),
    REF(ref_i64_scalar, GGDM_DT_I64, 0, 0, 0, 0, 1, 1),
    REF(ref_u32_2x2x2, GGDM_DT_U32, 3, 2, 2, 2, 8, 1),
    REF(ref_f64_0x3, GGDM_DT_F64, 2, 0, 3, 0, 0, 1),
    REF(ref_f32_v2, GGDM_DT_F32, 1, 2, 0, 0, 2, 2),
    REF(ref_f32_v3, GGDM_DT_F32, 1, 2, 0, 0, 2, 3),
};

static uint8_t scratch[1u << 17];
static uint8_t scratch2[1u << 17];

static void test_reference_files(void **state)
{
    size_t r;
    (void)state;
    for (r = 0; r < sizeof refs / sizeof refs[0]; r++) {
        const ref_case *c = &refs[r];
        ggdm_npy_info info;
        uint64_t hl = 0, need = 0;
        int k;
        EXPECT_STATUS(ggdm_npy_parse(c->bytes, c->len, c->len, &info), GGDM_OK, info.msg);
        assert_string_equal(info.msg, "");
        assert_int_equal(info.dtype, c->dtype);
        assert_int_equal(info.ndim, c->ndim);
        for (k = 0; k < c->ndim; k++) {
            assert_true(info.shape[k] == c->shape[k]);
        }
        for (k = c->ndim; k < GGDM_NPY_MAX_DIMS; k++) {
            assert_true(info.shape[k] == 0);
        }
        assert_true(info.count == c->count);
        assert_true(info.header_bytes == 128);
        assert_true(info.data_bytes == c->count * ggdm_dtype_size(c->dtype));
        assert_true(info.header_bytes + info.data_bytes == c->len);
        assert_int_equal(info.version_major, c->version);
        assert_int_equal(info.version_minor, 0);
        assert_int_equal(ggdm_npy_header_bytes_needed(c->bytes, c->len, &need), GGDM_OK);
        assert_true(need == 128);

        /* Our writer produces NumPy's version 1.0 header byte for byte. */
        if (c->version == 1) {
            assert_int_equal(ggdm_npy_header_write(c->dtype, c->ndim, c->shape, scratch,
                                                   sizeof scratch, &hl),
                             GGDM_OK);
            assert_true(hl == info.header_bytes);
            assert_memory_equal(scratch, c->bytes, (size_t)hl);
        }
    }
}

static void test_reference_values(void **state)
{
    ggdm_npy_info info;
    float f[8];
    double d[8];
    int64_t i64[2];
    uint32_t u[8];
    int k;
    (void)state;

    assert_int_equal(ggdm_npy_parse(ref_f32_2x3, sizeof ref_f32_2x3, sizeof ref_f32_2x3, &info),
                     GGDM_OK);
    EXPECT_STATUS(ggdm_npy_decode_f32(&info, ref_f32_2x3 + 128, f, 6), GGDM_OK, info.msg);
    assert_true(f[0] == 1.0f && f[1] == -2.5f && f[2] == 3.25f);
    assert_true(f[3] == 0.1f && f[4] == 1e30f);
    assert_true(ggdm_f32_bits(f[5]) == 0x80000000u); /* -0.0 kept */
    assert_int_equal(ggdm_npy_encode_f32(f, 6, scratch), GGDM_OK);
    assert_memory_equal(scratch, ref_f32_2x3 + 128, 24);
    /* f32 widened exactly to f64 */
    EXPECT_STATUS(ggdm_npy_decode_f64(&info, ref_f32_2x3 + 128, d, 6), GGDM_OK, info.msg);
    for (k = 0; k < 6; k++) {
        assert_true(ggdm_f64_bits(d[k]) == ggdm_f64_bits((double)f[k]));
    }

    assert_int_equal(ggdm_npy_parse(ref_f64_5, sizeof ref_f64_5, sizeof ref_f64_5, &info),
                     GGDM_OK);
    EXPECT_STATUS(ggdm_npy_decode_f64(&info, ref_f64_5 + 128, d, 5), GGDM_OK, info.msg);
    assert_true(d[0] == 1.0 && d[1] == -2.5 && d[2] == 3.141592653589793);
    assert_true(d[3] == 1e-300 && d[4] == -1e300);
    assert_int_equal(ggdm_npy_encode_f64(d, 5, scratch), GGDM_OK);
    assert_memory_equal(scratch, ref_f64_5 + 128, 40);
    /* f64 rounded to float: the C cast (1e-300 -> +0, -1e300 -> -inf) */
    EXPECT_STATUS(ggdm_npy_decode_f32(&info, ref_f64_5 + 128, f, 5), GGDM_OK, info.msg);
    for (k = 0; k < 5; k++) {
        assert_true(ggdm_f32_bits(f[k]) == ggdm_f32_bits((float)d[k]));
    }
    assert_true(f[2] == 3.14159274f);
    assert_true(ggdm_f32_bits(f[3]) == 0u);
    assert_true(ggdm_f32_bits(f[4]) == 0xff800000u);

    assert_int_equal(
        ggdm_npy_parse(ref_i64_scalar, sizeof ref_i64_scalar, sizeof ref_i64_scalar, &info),
        GGDM_OK);
    EXPECT_STATUS(ggdm_npy_decode_i64(&info, ref_i64_scalar + 128, i64, 1), GGDM_OK, info.msg);
    assert_true(i64[0] == -1234567890123LL);

    assert_int_equal(
        ggdm_npy_parse(ref_u32_2x2x2, sizeof ref_u32_2x2x2, sizeof ref_u32_2x2x2, &info),
        GGDM_OK);
    EXPECT_STATUS(ggdm_npy_decode_u32(&info, ref_u32_2x2x2 + 128, u, 8), GGDM_OK, info.msg);
    for (k = 0; k < 8; k++) {
        assert_true(u[k] == 4000000000u + 66051u * (uint32_t)k);
    }
    assert_int_equal(ggdm_npy_encode_u32(u, 8, scratch), GGDM_OK);
    assert_memory_equal(scratch, ref_u32_2x2x2 + 128, 32);
    {
        /* u32 widens to i64 */
        int64_t w[8];
        EXPECT_STATUS(ggdm_npy_decode_i64(&info, ref_u32_2x2x2 + 128, w, 8), GGDM_OK, info.msg);
        assert_true(w[7] == 4000000000LL + 66051LL * 7);
    }

    assert_int_equal(ggdm_npy_parse(ref_f64_0x3, sizeof ref_f64_0x3, sizeof ref_f64_0x3, &info),
                     GGDM_OK);
    /* empty array: nothing to decode, any output (even null) is fine */
    EXPECT_STATUS(ggdm_npy_decode_f64(&info, ref_f64_0x3 + 128, NULL, 0), GGDM_OK, info.msg);

    assert_int_equal(ggdm_npy_parse(ref_f32_v3, sizeof ref_f32_v3, sizeof ref_f32_v3, &info),
                     GGDM_OK);
    EXPECT_STATUS(ggdm_npy_decode_f32(&info, ref_f32_v3 + 128, f, 2), GGDM_OK, info.msg);
    assert_true(f[0] == 1.5f && f[1] == 2.5f);
}

static void test_reference_rejects(void **state)
{
    ggdm_npy_info info;
    (void)state;
    EXPECT_STATUS(ggdm_npy_parse(ref_be_f4, sizeof ref_be_f4, sizeof ref_be_f4, &info),
                  GGDM_ERR_UNSUPPORTED, info.msg);
    assert_true(has(info.msg, "big-endian"));
    assert_true(has(info.msg, ">f4"));
    EXPECT_STATUS(ggdm_npy_parse(ref_fortran, sizeof ref_fortran, sizeof ref_fortran, &info),
                  GGDM_ERR_UNSUPPORTED, info.msg);
    assert_true(has(info.msg, "fortran_order"));
    EXPECT_STATUS(ggdm_npy_parse(ref_i2, sizeof ref_i2, sizeof ref_i2, &info),
                  GGDM_ERR_UNSUPPORTED, info.msg);
    assert_string_equal(info.msg, "npy: unsupported dtype '<i2' (expected <f4, <f8, <i8 or <u4)");
}

/* ------------------------------------------------------------------ round trips */

static void fill_values(ggdm_dtype dt, uint64_t n, void *vals)
{
    uint64_t i;
    for (i = 0; i < n; i++) {
        double x = ((double)i - 7.0) / 3.0 + (double)(i * i) * 1e-3;
        switch (dt) {
        case GGDM_DT_F32: ((float *)vals)[i] = (float)x; break;
        case GGDM_DT_F64: ((double *)vals)[i] = x; break;
        case GGDM_DT_I64: ((int64_t *)vals)[i] = (int64_t)(i * 0x123456789ull) - 5000000000LL; break;
        case GGDM_DT_U32: ((uint32_t *)vals)[i] = 0xfffffff0u + (uint32_t)(i * 7u); break;
        }
    }
}

static void test_round_trip_all(void **state)
{
    static const uint64_t shapes[4][3] = {{0, 0, 0}, {5, 0, 0}, {2, 3, 0}, {2, 3, 4}};
    static const ggdm_dtype dts[4] = {GGDM_DT_F32, GGDM_DT_F64, GGDM_DT_I64, GGDM_DT_U32};
    static double vals[64], back[64];
    int t, nd;
    (void)state;
    for (t = 0; t < 4; t++) {
        for (nd = 0; nd <= 3; nd++) {
            ggdm_dtype dt = dts[t];
            uint64_t hl = 0, count = 1, bytes = 0, total;
            unsigned es = ggdm_dtype_size(dt);
            ggdm_npy_info info;
            int k;
            for (k = 0; k < nd; k++) {
                count *= shapes[nd][k];
            }
            assert_int_equal(ggdm_npy_data_bytes(dt, nd, shapes[nd], &bytes), GGDM_OK);
            assert_true(bytes == count * es);
            assert_int_equal(
                ggdm_npy_header_write(dt, nd, shapes[nd], scratch, sizeof scratch, &hl), GGDM_OK);
            assert_true(hl == 128); /* every header ggdm writes is 128 bytes */
            assert_true(hl % 64 == 0);
            assert_int_equal(scratch[hl - 1], '\n');
            fill_values(dt, count, vals);
            memset(back, 0xa5, sizeof back);
            switch (dt) {
            case GGDM_DT_F32: assert_int_equal(ggdm_npy_encode_f32((float *)vals, count, scratch + hl), GGDM_OK); break;
            case GGDM_DT_F64: assert_int_equal(ggdm_npy_encode_f64(vals, count, scratch + hl), GGDM_OK); break;
            case GGDM_DT_I64: assert_int_equal(ggdm_npy_encode_i64((int64_t *)vals, count, scratch + hl), GGDM_OK); break;
            case GGDM_DT_U32: assert_int_equal(ggdm_npy_encode_u32((uint32_t *)vals, count, scratch + hl), GGDM_OK); break;
            }
            total = hl + bytes;
            EXPECT_STATUS(ggdm_npy_parse(scratch, total, total, &info), GGDM_OK, info.msg);
            assert_int_equal(info.dtype, dt);
            assert_int_equal(info.ndim, nd);
            assert_true(info.count == count);
            for (k = 0; k < nd; k++) {
                assert_true(info.shape[k] == shapes[nd][k]);
            }
            switch (dt) {
            case GGDM_DT_F32: EXPECT_STATUS(ggdm_npy_decode_f32(&info, scratch + hl, (float *)back, count), GGDM_OK, info.msg); break;
            case GGDM_DT_F64: EXPECT_STATUS(ggdm_npy_decode_f64(&info, scratch + hl, back, count), GGDM_OK, info.msg); break;
            case GGDM_DT_I64: EXPECT_STATUS(ggdm_npy_decode_i64(&info, scratch + hl, (int64_t *)back, count), GGDM_OK, info.msg); break;
            case GGDM_DT_U32: EXPECT_STATUS(ggdm_npy_decode_u32(&info, scratch + hl, (uint32_t *)back, count), GGDM_OK, info.msg); break;
            }
            assert_memory_equal(back, vals, (size_t)(count * es));
            /* On any host the file bytes are little-endian: check one element. */
            if (count > 0 && dt == GGDM_DT_U32) {
                assert_int_equal(scratch[hl], 0xf0);
                assert_int_equal(scratch[hl + 3], 0xff);
            }
        }
    }
}

static void test_header_write_args(void **state)
{
    static const uint64_t eight[8] = {1, 10000, 10000, 10000, 10000, 10, 1, 9};
    static const uint64_t big1[1] = {(uint64_t)INT64_MAX + 1u};
    static const uint64_t ovf[2] = {1ull << 32, 1ull << 31};
    static const uint64_t zero_ovf[3] = {0, 1ull << 40, 1ull << 40};
    static const uint64_t ok2[2] = {2, 3};
    uint64_t hl = 99, bytes = 0;
    ggdm_npy_info info;
    (void)state;
    assert_int_equal(ggdm_npy_header_write(GGDM_DT_F64, 8, eight, scratch, sizeof scratch, &hl),
                     GGDM_OK);
    assert_true(hl <= GGDM_NPY_WRITE_HEADER_MAX);
    assert_true(memcmp(scratch + 10, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 10000, "
                       "10000, 10000, 10000, 10, 1, 9), }", 87) == 0);
    assert_int_equal(ggdm_npy_parse(scratch, hl, hl, &info), GGDM_ERR_FORMAT); /* no data */
    assert_true(has(info.msg, "truncated"));
    assert_true(info.data_bytes == 8ull * 9 * 10 * 10000ull * 10000 * 10000 * 10000);

    /* Buffer too small: length reported, nothing written. */
    memset(scratch, 0x55, 200);
    assert_int_equal(ggdm_npy_header_write(GGDM_DT_F32, 2, ok2, scratch, 127, &hl),
                     GGDM_ERR_BUFFER_TOO_SMALL);
    assert_true(hl == 128);
    assert_int_equal(scratch[0], 0x55);
    assert_int_equal(ggdm_npy_header_write(GGDM_DT_F32, 2, ok2, NULL, 0, &hl),
                     GGDM_ERR_BUFFER_TOO_SMALL);
    assert_true(hl == 128);

    assert_int_equal(ggdm_npy_header_write(GGDM_DT_F32, 9, eight, scratch, sizeof scratch, &hl),
                     GGDM_ERR_ARG);
    assert_int_equal(ggdm_npy_header_write(GGDM_DT_F32, -1, eight, scratch, sizeof scratch, &hl),
                     GGDM_ERR_ARG);
    assert_int_equal(ggdm_npy_header_write(GGDM_DT_F32, 2, NULL, scratch, sizeof scratch, &hl),
                     GGDM_ERR_ARG);
    assert_int_equal(ggdm_npy_header_write(GGDM_DT_F32, 0, NULL, scratch, sizeof scratch, &hl),
                     GGDM_OK);
    assert_int_equal(ggdm_npy_header_write((ggdm_dtype)17, 1, ok2, scratch, sizeof scratch, &hl),
                     GGDM_ERR_ARG);
    assert_int_equal(ggdm_npy_header_write(GGDM_DT_F32, 1, big1, scratch, sizeof scratch, &hl),
                     GGDM_ERR_ARG);
    assert_int_equal(ggdm_npy_header_write(GGDM_DT_F32, 2, ovf, scratch, sizeof scratch, &hl),
                     GGDM_ERR_ARG);
    assert_int_equal(ggdm_npy_header_write(GGDM_DT_U32, 3, zero_ovf, scratch, sizeof scratch, &hl),
                     GGDM_ERR_ARG);
    assert_int_equal(ggdm_npy_header_write(GGDM_DT_F32, 2, ok2, scratch, sizeof scratch, NULL),
                     GGDM_ERR_ARG);
    assert_int_equal(ggdm_npy_data_bytes(GGDM_DT_I64, 2, ok2, &bytes), GGDM_OK);
    assert_true(bytes == 48);
    assert_int_equal(ggdm_npy_data_bytes(GGDM_DT_I64, 2, ovf, &bytes), GGDM_ERR_ARG);
    assert_int_equal(ggdm_npy_encode_f32(NULL, 1, scratch), GGDM_ERR_ARG);
    assert_int_equal(ggdm_npy_encode_f64(NULL, 0, NULL), GGDM_OK);
    assert_string_equal(ggdm_dtype_descr(GGDM_DT_U32), "<u4");
    assert_string_equal(ggdm_dtype_descr((ggdm_dtype)9), "?");
    assert_int_equal(ggdm_dtype_size((ggdm_dtype)9), 0);
}

/* ------------------------------------------------------------------ prefixes */

static void test_prefix_protocol(void **state)
{
    const uint8_t *f = ref_f32_2x3;
    const uint64_t L = sizeof ref_f32_2x3;
    uint64_t p, need;
    ggdm_npy_info info;
    (void)state;
    for (p = 0; p <= L; p++) {
        ggdm_status st = ggdm_npy_header_bytes_needed(f, p, &need);
        if (p < 10) {
            assert_int_equal(st, GGDM_ERR_BUFFER_TOO_SMALL);
            assert_true(need == (p < 8 ? 12u : 10u));
        } else {
            assert_int_equal(st, GGDM_OK);
            assert_true(need == 128);
        }
        /* Parsing any prefix of a good file: OK once the header is in, else asks for more. */
        st = ggdm_npy_parse(f, p, L, &info);
        if (p >= 128) {
            EXPECT_STATUS(st, GGDM_OK, info.msg);
        } else {
            EXPECT_STATUS(st, GGDM_ERR_BUFFER_TOO_SMALL, info.msg);
            assert_true(info.header_bytes > p);
            assert_true(info.header_bytes <= 128);
        }
        /* A file cut to p bytes is never accepted. */
        st = ggdm_npy_parse(f, p, p, &info);
        if (p == L) {
            assert_int_equal(st, GGDM_OK);
        } else {
            EXPECT_STATUS(st, GGDM_ERR_FORMAT, info.msg);
        }
    }
    /* The two-step protocol: read 12, then header_bytes. */
    assert_int_equal(ggdm_npy_parse(f, 12, L, &info), GGDM_ERR_BUFFER_TOO_SMALL);
    assert_true(info.header_bytes == 128);
    assert_true(has(info.msg, "128"));
    assert_int_equal(ggdm_npy_parse(f, 128, L, &info), GGDM_OK);
    assert_int_equal(ggdm_npy_header_bytes_needed(NULL, 0, &need), GGDM_ERR_BUFFER_TOO_SMALL);
    assert_true(need == 12);
    assert_int_equal(ggdm_npy_header_bytes_needed(NULL, 5, &need), GGDM_ERR_ARG);
    assert_int_equal(ggdm_npy_header_bytes_needed((const uint8_t *)"PK\3\4", 4, &need),
                     GGDM_ERR_FORMAT);
    assert_int_equal(ggdm_npy_header_bytes_needed(f, 10, NULL), GGDM_ERR_ARG);
}

/* ------------------------------------------------------------------ malformed input */

/* Builds magic, version, HEADER_LEN, the dict text padded with spaces and '\n' to a
 * multiple of 64 (raw: the text exactly as given), then data_len zero bytes. */
static uint64_t build(uint8_t *out, int major, int minor, const char *dict, int raw,
                      uint64_t data_len)
{
    uint64_t plen = major == 1 ? 10 : 12, n = strlen(dict), hl = n, total;
    if (!raw) {
        hl = n + 1;
        while ((plen + hl) % 64 != 0) {
            hl++;
        }
    }
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)major;
    out[7] = (uint8_t)minor;
    if (plen == 10) {
        ggdm_le_store_u16(out + 8, (uint16_t)hl);
    } else {
        ggdm_le_store_u32(out + 8, (uint32_t)hl);
    }
    memcpy(out + plen, dict, (size_t)n);
    if (!raw) {
        memset(out + plen + n, ' ', (size_t)(hl - n - 1));
        out[plen + hl - 1] = '\n';
    }
    total = plen + hl;
    memset(out + total, 0, (size_t)data_len);
    return total + data_len;
}

typedef struct bad_case {
    const char *dict; /* header dict text; padded unless raw */
    int raw;
    uint64_t data_len;
    ggdm_status want;
    const char *needle; /* a substring the message must contain, or NULL */
} bad_case;

#define D(shape) "{'descr': '<f4', 'fortran_order': False, 'shape': " shape ", }"

static const bad_case dict_cases[] = {
    /* accepted variations */
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0, 24, GGDM_OK, NULL},
    {"{'shape': (2,3), 'descr': '<f4', 'fortran_order': False}", 0, 24, GGDM_OK, NULL},
    {"{\"descr\":\"<f8\",\"fortran_order\":False,\"shape\":(3,)}", 0, 24, GGDM_OK, NULL},
    {"  {\t'descr' : '<i8' ,\n 'fortran_order' : False , 'shape' : ( 1 , 2 , ) , }  ", 0, 16,
     GGDM_OK, NULL},
    {D("()"), 0, 4, GGDM_OK, NULL},
    {D("(0,)"), 0, 0, GGDM_OK, NULL},
    {D("(3, 0, 5)"), 0, 0, GGDM_OK, NULL},
    {D("(1, 1, 1, 1, 1, 1, 1, 2)"), 0, 8, GGDM_OK, NULL},
    {"{'descr': '<u4', 'fortran_order': False, 'shape': (1,), }\n", 1, 4, GGDM_OK, NULL},
    /* dict structure */
    {"", 1, 0, GGDM_ERR_FORMAT, "newline"},
    {"\n", 1, 0, GGDM_ERR_FORMAT, "ends early"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 1, 4, GGDM_ERR_FORMAT,
     "newline"},
    {"[1, 2]", 0, 0, GGDM_ERR_FORMAT, "'{'"},
    {"{}", 0, 0, GGDM_ERR_FORMAT, "no 'descr' key"},
    {"{'descr': '<f4', 'shape': (1,), }", 0, 4, GGDM_ERR_FORMAT, "no 'fortran_order' key"},
    {"{'descr': '<f4', 'fortran_order': False}", 0, 4, GGDM_ERR_FORMAT, "no 'shape' key"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1, }", 0, 4,
     GGDM_ERR_FORMAT, "unexpected key 'extra'"},
    {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 0, 4,
     GGDM_ERR_FORMAT, "duplicate key 'descr'"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'shape': (1,)}", 0, 4,
     GGDM_ERR_FORMAT, "duplicate key 'shape'"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } x", 0, 4, GGDM_ERR_FORMAT,
     "after the header dict"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }}", 0, 4, GGDM_ERR_FORMAT,
     "after the header dict"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,),, }", 0, 4, GGDM_ERR_FORMAT,
     "expected"},
    {"{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", 0, 4, GGDM_ERR_FORMAT,
     "expected"},
    {"{'descr' '<f4', 'fortran_order': False, 'shape': (1,)}", 0, 4, GGDM_ERR_FORMAT,
     "':'"},
    {"{descr: '<f4', 'fortran_order': False, 'shape': (1,)}", 0, 4, GGDM_ERR_FORMAT,
     "quoted key"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", 0, 4, GGDM_ERR_FORMAT,
     "ends early"},
    {"{'descr: '<f4', 'fortran_order': False, 'shape': (1,)}", 0, 4, GGDM_ERR_FORMAT, NULL},
    {"{'descr': '<f4\n', 'fortran_order': False, 'shape': (1,)}", 0, 4, GGDM_ERR_FORMAT,
     "unterminated"},
    {"{'descr': '<f4", 0, 4, GGDM_ERR_FORMAT, "unterminated"},
    {"{'descr': '<\\x66', 'fortran_order': False, 'shape': (1,)}", 0, 4, GGDM_ERR_FORMAT,
     "escape"},
    /* descr */
    {"{'descr': '<i2', 'fortran_order': False, 'shape': (1,)}", 0, 2, GGDM_ERR_UNSUPPORTED,
     "unsupported dtype '<i2'"},
    {"{'descr': '|u1', 'fortran_order': False, 'shape': (1,)}", 0, 1, GGDM_ERR_UNSUPPORTED,
     "'|u1'"},
    {"{'descr': 'f4', 'fortran_order': False, 'shape': (1,)}", 0, 4, GGDM_ERR_UNSUPPORTED,
     "'f4'"},
    {"{'descr': '', 'fortran_order': False, 'shape': (1,)}", 0, 4, GGDM_ERR_UNSUPPORTED,
     "dtype ''"},
    {"{'descr': '<f4 ', 'fortran_order': False, 'shape': (1,)}", 0, 4, GGDM_ERR_UNSUPPORTED,
     NULL},
    {"{'descr': '>f8', 'fortran_order': False, 'shape': (1,)}", 0, 8, GGDM_ERR_UNSUPPORTED,
     "big-endian"},
    {"{'descr': '>u4', 'fortran_order': False, 'shape': (1,)}", 0, 4, GGDM_ERR_UNSUPPORTED,
     "big-endian"},
    {"{'descr': [('a', '<f4'), ('b', '<i8', (2,))], 'fortran_order': False, 'shape': (1,)}", 0,
     20, GGDM_ERR_UNSUPPORTED, "structured"},
    {"{'descr': [('a', '<f4'), 'fortran_order': False, 'shape': (1,)}", 0, 4, GGDM_ERR_FORMAT,
     NULL},
    {"{'descr': 4, 'fortran_order': False, 'shape': (1,)}", 0, 4, GGDM_ERR_FORMAT,
     "string for 'descr'"},
    /* fortran_order */
    {"{'descr': '<f4', 'fortran_order': True, 'shape': (1,)}", 0, 4, GGDM_ERR_UNSUPPORTED,
     "fortran_order"},
    {"{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", 0, 4, GGDM_ERR_FORMAT,
     "True or False"},
    {"{'descr': '<f4', 'fortran_order': false, 'shape': (1,)}", 0, 4, GGDM_ERR_FORMAT,
     "True or False"},
    {"{'descr': '<f4', 'fortran_order': Falsey, 'shape': (1,)}", 0, 4, GGDM_ERR_FORMAT,
     "True or False"},
    /* shape */
    {D("(-1,)"), 0, 0, GGDM_ERR_FORMAT, "negative"},
    {D("(2, -3)"), 0, 0, GGDM_ERR_FORMAT, "negative"},
    {D("(+1,)"), 0, 4, GGDM_ERR_FORMAT, "dimension"},
    {D("(5)"), 0, 20, GGDM_ERR_FORMAT, "not a tuple"},
    {D("5"), 0, 20, GGDM_ERR_FORMAT, "'('"},
    {D("[5]"), 0, 20, GGDM_ERR_FORMAT, "'('"},
    {D("(,)"), 0, 0, GGDM_ERR_FORMAT, "dimension"},
    {D("(1,,2)"), 0, 8, GGDM_ERR_FORMAT, "dimension"},
    {D("(1 2)"), 0, 8, GGDM_ERR_FORMAT, "',' or ')'"},
    {D("(05,)"), 0, 20, GGDM_ERR_FORMAT, "leading zeros"},
    {D("(1.5,)"), 0, 4, GGDM_ERR_FORMAT, "',' or ')'"},
    {D("(1e3,)"), 0, 4, GGDM_ERR_FORMAT, "',' or ')'"},
    {D("(2L, 3L)"), 0, 24, GGDM_ERR_FORMAT, "',' or ')'"},
    {D("(1_000,)"), 0, 4000, GGDM_ERR_FORMAT, "',' or ')'"},
    {D("(0x10,)"), 0, 64, GGDM_ERR_FORMAT, "',' or ')'"},
    {D("(9223372036854775808,)"), 0, 0, GGDM_ERR_FORMAT, "too large"},
    {D("(99999999999999999999999999999999,)"), 0, 0, GGDM_ERR_FORMAT, "too large"},
    {D("(9223372036854775807,)"), 0, 0, GGDM_ERR_FORMAT, "overflows"},
    {D("(4294967296, 4294967296)"), 0, 0, GGDM_ERR_FORMAT, "overflows"},
    {D("(0, 4294967296, 4294967296)"), 0, 0, GGDM_ERR_FORMAT, "overflows"},
    {D("(2305843009213693952,)"), 0, 0, GGDM_ERR_FORMAT, "truncated"},
    {D("(4611686018427387904,)"), 0, 0, GGDM_ERR_FORMAT, "overflows"},
    {D("(1, 1, 1, 1, 1, 1, 1, 1, 1)"), 0, 4, GGDM_ERR_UNSUPPORTED, "9 dimensions"},
    {D("(1,"), 0, 4, GGDM_ERR_FORMAT, NULL},
    {D("(1"), 0, 4, GGDM_ERR_FORMAT, NULL},
    /* data length */
    {D("(2, 3)"), 0, 23, GGDM_ERR_FORMAT, "truncated"},
    {D("(2, 3)"), 0, 0, GGDM_ERR_FORMAT, "truncated"},
    {D("(2, 3)"), 0, 25, GGDM_ERR_FORMAT, "1 trailing bytes"},
    {D("()"), 0, 8, GGDM_ERR_FORMAT, "trailing"},
    {D("(0,)"), 0, 1, GGDM_ERR_FORMAT, "trailing"},
    /* characters */
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\xff", 0, 4, GGDM_ERR_FORMAT,
     "0xff"},
    {"{'descr': '<f4', 'fortran_order': False, 'sh\xc3\xa4pe': (1,), }", 0, 4, GGDM_ERR_FORMAT,
     "not printable ASCII"},
    {"{'descr': '<f4', 'fortran_order': False,\x01 'shape': (1,), }", 0, 4, GGDM_ERR_FORMAT,
     "0x01"},
};

static void test_malformed_dicts(void **state)
{
    size_t i;
    int v;
    (void)state;
    for (i = 0; i < sizeof dict_cases / sizeof dict_cases[0]; i++) {
        const bad_case *c = &dict_cases[i];
        for (v = 1; v <= 3; v++) {
            ggdm_npy_info info;
            uint64_t len = build(scratch, v, 0, c->dict, c->raw, c->data_len);
            ggdm_status st = ggdm_npy_parse(scratch, len, len, &info);
            if (st != c->want) {
                print_error("case %u (v%d) [%s]: got '%s' want '%s': %s\n", (unsigned)i, v,
                            c->dict, ggdm_status_str(st), ggdm_status_str(c->want), info.msg);
            }
            EXPECT_STATUS(st, c->want, info.msg);
            if (c->needle) {
                assert_true(has(info.msg, c->needle));
            }
            if (st == GGDM_OK) {
                assert_true(info.header_bytes + info.data_bytes == len);
                assert_string_equal(info.msg, "");
            }
        }
    }
}

static void test_malformed_preamble(void **state)
{
    ggdm_npy_info info;
    uint64_t len, need;
    (void)state;
    len = build(scratch, 1, 0, D("(2,)"), 0, 8);
    assert_int_equal(ggdm_npy_parse(scratch, len, len, &info), GGDM_OK);

    /* bad magic, each byte */
    {
        int k;
        for (k = 0; k < 6; k++) {
            memcpy(scratch2, scratch, (size_t)len);
            scratch2[k] ^= 0x20;
            EXPECT_STATUS(ggdm_npy_parse(scratch2, len, len, &info), GGDM_ERR_FORMAT, info.msg);
            assert_true(has(info.msg, "magic"));
        }
    }
    /* versions */
    len = build(scratch, 4, 0, D("(2,)"), 0, 8);
    EXPECT_STATUS(ggdm_npy_parse(scratch, len, len, &info), GGDM_ERR_UNSUPPORTED, info.msg);
    assert_true(has(info.msg, "version 4.0"));
    len = build(scratch, 1, 1, D("(2,)"), 0, 8);
    EXPECT_STATUS(ggdm_npy_parse(scratch, len, len, &info), GGDM_ERR_UNSUPPORTED, info.msg);
    assert_true(has(info.msg, "version 1.1"));
    len = build(scratch, 0, 0, D("(2,)"), 0, 8);
    EXPECT_STATUS(ggdm_npy_parse(scratch, len, len, &info), GGDM_ERR_UNSUPPORTED, info.msg);
    len = build(scratch, 255, 255, D("(2,)"), 0, 8);
    EXPECT_STATUS(ggdm_npy_parse(scratch, len, len, &info), GGDM_ERR_UNSUPPORTED, info.msg);

    /* header length beyond the file (truncated header) */
    len = build(scratch, 1, 0, D("(2,)"), 0, 8);
    ggdm_le_store_u16(scratch + 8, 0xfff0);
    EXPECT_STATUS(ggdm_npy_parse(scratch, len, len, &info), GGDM_ERR_FORMAT, info.msg);
    assert_true(has(info.msg, "truncated"));
    /* ... beyond the buffer but within the file: supply more */
    EXPECT_STATUS(ggdm_npy_parse(scratch, len, 0x10000, &info), GGDM_ERR_BUFFER_TOO_SMALL,
                  info.msg);
    assert_true(info.header_bytes == 10u + 0xfff0u);

    /* header too large: v2 with HEADER_LEN 70000, and the largest v2 value */
    len = build(scratch, 2, 0, D("(2,)"), 0, 8);
    ggdm_le_store_u32(scratch + 8, 70000u);
    EXPECT_STATUS(ggdm_npy_parse(scratch, len, 1000000, &info), GGDM_ERR_FORMAT, info.msg);
    assert_true(has(info.msg, "header length 70000 exceeds 65536 bytes"));
    assert_int_equal(ggdm_npy_header_bytes_needed(scratch, 12, &need), GGDM_ERR_FORMAT);
    ggdm_le_store_u32(scratch + 8, 0xffffffffu);
    EXPECT_STATUS(ggdm_npy_parse(scratch, len, UINT64_MAX, &info), GGDM_ERR_FORMAT, info.msg);
    /* exactly 65536 is allowed (a header of spaces) */
    {
        uint64_t n = 65536;
        memcpy(scratch, "\x93NUMPY\x02\x00", 8);
        ggdm_le_store_u32(scratch + 8, (uint32_t)n);
        memset(scratch + 12, ' ', (size_t)n);
        memcpy(scratch + 12, D("(1,)"), strlen(D("(1,)")));
        scratch[12 + n - 1] = '\n';
        memset(scratch + 12 + n, 0, 4);
        EXPECT_STATUS(ggdm_npy_parse(scratch, 12 + n + 4, 12 + n + 4, &info), GGDM_OK, info.msg);
        assert_true(info.header_bytes == GGDM_NPY_HEADER_MAX);
        ggdm_le_store_u32(scratch + 8, (uint32_t)n + 1);
        EXPECT_STATUS(ggdm_npy_parse(scratch, 12 + n + 5, 12 + n + 5, &info), GGDM_ERR_FORMAT,
                      info.msg);
        assert_true(has(info.msg, "header too large"));
    }
    /* zero-length header */
    memcpy(scratch, "\x93NUMPY\x01\x00\x00\x00", 10);
    EXPECT_STATUS(ggdm_npy_parse(scratch, 10, 10, &info), GGDM_ERR_FORMAT, info.msg);

    /* tiny and empty files, bad arguments */
    EXPECT_STATUS(ggdm_npy_parse(scratch, 0, 0, &info), GGDM_ERR_FORMAT, info.msg);
    EXPECT_STATUS(ggdm_npy_parse(scratch, 7, 7, &info), GGDM_ERR_FORMAT, info.msg);
    EXPECT_STATUS(ggdm_npy_parse(scratch, 9, 9, &info), GGDM_ERR_FORMAT, info.msg);
    EXPECT_STATUS(ggdm_npy_parse(scratch, 10, 5, &info), GGDM_ERR_ARG, info.msg);
    EXPECT_STATUS(ggdm_npy_parse(NULL, 0, 100, &info), GGDM_ERR_ARG, info.msg);
    assert_int_equal(ggdm_npy_parse(scratch, 10, 10, NULL), GGDM_ERR_ARG);
    /* a zip file is not a .npy file */
    EXPECT_STATUS(ggdm_npy_parse((const uint8_t *)"PK\3\4 zip data here", 19, 19, &info),
                  GGDM_ERR_FORMAT, info.msg);
}

static void test_decode_errors(void **state)
{
    ggdm_npy_info info, bad;
    float f[8];
    double d[8];
    int64_t i[8];
    uint32_t u[8];
    (void)state;
    assert_int_equal(ggdm_npy_parse(ref_f32_2x3, sizeof ref_f32_2x3, sizeof ref_f32_2x3, &info),
                     GGDM_OK);
    EXPECT_STATUS(ggdm_npy_decode_i64(&info, ref_f32_2x3 + 128, i, 8), GGDM_ERR_UNSUPPORTED,
                  info.msg);
    assert_true(has(info.msg, "<f4"));
    EXPECT_STATUS(ggdm_npy_decode_u32(&info, ref_f32_2x3 + 128, u, 8), GGDM_ERR_UNSUPPORTED,
                  info.msg);
    EXPECT_STATUS(ggdm_npy_decode_f32(&info, ref_f32_2x3 + 128, f, 5), GGDM_ERR_BUFFER_TOO_SMALL,
                  info.msg);
    EXPECT_STATUS(ggdm_npy_decode_f64(&info, ref_f32_2x3 + 128, d, 0), GGDM_ERR_BUFFER_TOO_SMALL,
                  info.msg);
    EXPECT_STATUS(ggdm_npy_decode_f32(&info, NULL, f, 8), GGDM_ERR_ARG, info.msg);
    EXPECT_STATUS(ggdm_npy_decode_f32(&info, ref_f32_2x3 + 128, NULL, 8), GGDM_ERR_ARG, info.msg);
    EXPECT_STATUS(ggdm_npy_decode_f32(&info, ref_f32_2x3 + 128, f, 8), GGDM_OK, info.msg);
    assert_string_equal(info.msg, "");

    assert_int_equal(ggdm_npy_parse(ref_i64_scalar, sizeof ref_i64_scalar,
                                    sizeof ref_i64_scalar, &info),
                     GGDM_OK);
    EXPECT_STATUS(ggdm_npy_decode_f32(&info, ref_i64_scalar + 128, f, 8), GGDM_ERR_UNSUPPORTED,
                  info.msg);
    EXPECT_STATUS(ggdm_npy_decode_f64(&info, ref_i64_scalar + 128, d, 8), GGDM_ERR_UNSUPPORTED,
                  info.msg);
    EXPECT_STATUS(ggdm_npy_decode_u32(&info, ref_i64_scalar + 128, u, 8), GGDM_ERR_UNSUPPORTED,
                  info.msg);

    /* An info that did not come from parse. */
    bad = info;
    bad.count = 1000;
    EXPECT_STATUS(ggdm_npy_decode_i64(&bad, ref_i64_scalar + 128, i, 8), GGDM_ERR_ARG, bad.msg);
    bad = info;
    bad.dtype = (ggdm_dtype)42;
    EXPECT_STATUS(ggdm_npy_decode_i64(&bad, ref_i64_scalar + 128, i, 8), GGDM_ERR_ARG, bad.msg);
    bad = info;
    bad.count = UINT64_MAX;
    bad.data_bytes = UINT64_MAX * 8u;
    EXPECT_STATUS(ggdm_npy_decode_i64(&bad, ref_i64_scalar + 128, i, UINT64_MAX), GGDM_ERR_ARG,
                  bad.msg);
    assert_int_equal(ggdm_npy_decode_i64(NULL, ref_i64_scalar + 128, i, 8), GGDM_ERR_ARG);
}

static void test_all_finite(void **state)
{
    float f[5] = {1.0f, -0.0f, 3.0e38f, 1e-45f, 2.0f};
    double d[4] = {1.0, -1e308, 4.9e-324, 0.0};
    uint64_t bad = 77;
    (void)state;
    assert_int_equal(ggdm_f32_all_finite(f, 5, &bad), 1);
    assert_true(bad == 77);
    assert_int_equal(ggdm_f32_all_finite(NULL, 0, &bad), 1);
    assert_int_equal(ggdm_f32_all_finite(f, 0, &bad), 1);
    f[3] = ggdm_f32_from_bits(0x7fc00000u); /* NaN */
    f[4] = ggdm_f32_from_bits(0x7f800000u); /* inf */
    assert_int_equal(ggdm_f32_all_finite(f, 5, &bad), 0);
    assert_true(bad == 3);
    assert_int_equal(ggdm_f32_all_finite(f, 3, NULL), 1);
    f[3] = 0.0f;
    assert_int_equal(ggdm_f32_all_finite(f, 5, NULL), 0);
    assert_int_equal(ggdm_f32_all_finite(f, 5, &bad), 0);
    assert_true(bad == 4);
    f[0] = ggdm_f32_from_bits(0xff800001u); /* negative NaN */
    assert_int_equal(ggdm_f32_all_finite(f, 5, &bad), 0);
    assert_true(bad == 0);

    assert_int_equal(ggdm_f64_all_finite(d, 4, &bad), 1);
    d[2] = ggdm_f64_from_bits(0xfff0000000000000ull); /* -inf */
    assert_int_equal(ggdm_f64_all_finite(d, 4, &bad), 0);
    assert_true(bad == 2);
}

/* ------------------------------------------------------------------ robustness */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random damage to good files never crashes (Valgrind/ASan watch the reads), and
 * whatever is accepted is self-consistent and decodable. */
static void test_mutations(void **state)
{
    static double out[1024];
    int iter;
    (void)state;
    for (iter = 0; iter < 20000; iter++) {
        const ref_case *c = &refs[rnd() % (sizeof refs / sizeof refs[0])];
        uint64_t len = c->len, k, flips = 1 + rnd() % 4, file_len;
        ggdm_npy_info info;
        ggdm_status st;
        memcpy(scratch2, c->bytes, (size_t)len);
        for (k = 0; k < flips && len > 0; k++) {
            uint64_t at = rnd() % len;
            switch (rnd() % 4) {
            case 0: scratch2[at] ^= (uint8_t)(1u << (rnd() % 8)); break;
            case 1: scratch2[at] = (uint8_t)rnd(); break;
            case 2: scratch2[at] = (uint8_t)"(),:{}' 0123456789-\n\""[rnd() % 21]; break;
            default: len = at; break;
            }
        }
        file_len = len + (rnd() % 8 == 0 ? rnd() % 3 : 0);
        /* Bytes past len exist in scratch2 but must never be read: parse sees buf_len. */
        st = ggdm_npy_parse(scratch2, len, file_len, &info);
        if (st == GGDM_OK) {
            assert_true(info.header_bytes + info.data_bytes == file_len);
            assert_true(info.count <= 1024);
            assert_int_equal(info.msg[0], '\0');
            if (info.dtype == GGDM_DT_F32 || info.dtype == GGDM_DT_F64) {
                if (file_len == len) {
                    assert_int_equal(ggdm_npy_decode_f64(&info, scratch2 + info.header_bytes,
                                                         out, 1024),
                                     GGDM_OK);
                }
            }
        } else {
            assert_true(info.msg[0] != '\0');
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_le_helpers),
        cmocka_unit_test(test_reference_files),
        cmocka_unit_test(test_reference_values),
        cmocka_unit_test(test_reference_rejects),
        cmocka_unit_test(test_round_trip_all),
        cmocka_unit_test(test_header_write_args),
        cmocka_unit_test(test_prefix_protocol),
        cmocka_unit_test(test_malformed_dicts),
        cmocka_unit_test(test_malformed_preamble),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_all_finite),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
