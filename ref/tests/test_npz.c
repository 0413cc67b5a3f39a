/*
 * test_npz.c - .npz (zip) member lookup: the authors' hyper-parameter files (read from
 * ../shared/data/authors or /work/shared/data/authors; skipped with a message if
 * absent), archives NumPy wrote (embedded below), and hostile archives built here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ggdm/bytes.h"
#include "ggdm/npy.h"

/*
 * Written by NumPy 1.24.2 / Python's zipfile:
 *   npz_stored  np.savez(f, x=np.array([1, 2, 3], '<f4'), y=np.array(7, '<i8'))
 *   npz_deflate np.savez_compressed(f, x=np.array([1, 2, 3], '<f4'))
 *   npz_zip64   zipfile.ZipFile with ZIP64_LIMIT lowered to 16 (so a genuine ZIP64 end
 *               record, locator and central extra fields): 'a.npy' = [1.0, 2.0] '<f8',
 *               'b.npy' = [3, 4, 5] '<u4'
 */
static const uint8_t npz_stored[510] = {
    0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0x00,
    0x77, 0xa6, 0x40, 0xd1, 0x8c, 0x00, 0x00, 0x00, 0x8c, 0x00, 0x00, 0x00, 0x05, 0x00,
    0x14, 0x00, 0x78, 0x2e, 0x6e, 0x70, 0x79, 0x01, 0x00, 0x10, 0x00, 0x8c, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x8c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x93,
    0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27, 0x64, 0x65, 0x73,
    0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x66, 0x34, 0x27, 0x2c, 0x20, 0x27, 0x66,
    0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x27, 0x3a,
    0x20, 0x46, 0x61, 0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70, 0x65,
    0x27, 0x3a, 0x20, 0x28, 0x33, 0x2c, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x0a, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x40, 0x40, 0x50,
    0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0x00, 0x23,
    0xb8, 0xf0, 0x6c, 0x88, 0x00, 0x00, 0x00, 0x88, 0x00, 0x00, 0x00, 0x05, 0x00, 0x14,
    0x00, 0x79, 0x2e, 0x6e, 0x70, 0x79, 0x01, 0x00, 0x10, 0x00, 0x88, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x88, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x93, 0x4e,
    0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27, 0x64, 0x65, 0x73, 0x63,
    0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x69, 0x38, 0x27, 0x2c, 0x20, 0x27, 0x66, 0x6f,
    0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x27, 0x3a, 0x20,
    0x46, 0x61, 0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70, 0x65, 0x27,
    0x3a, 0x20, 0x28, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x0a,
    0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50, 0x4b, 0x01, 0x02, 0x14, 0x03,
    0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0x00, 0x77, 0xa6, 0x40, 0xd1,
    0x8c, 0x00, 0x00, 0x00, 0x8c, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x78, 0x2e,
    0x6e, 0x70, 0x79, 0x50, 0x4b, 0x01, 0x02, 0x14, 0x03, 0x14, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x21, 0x00, 0x23, 0xb8, 0xf0, 0x6c, 0x88, 0x00, 0x00, 0x00, 0x88,
    0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x80, 0x01, 0xc3, 0x00, 0x00, 0x00, 0x79, 0x2e, 0x6e, 0x70, 0x79, 0x50, 0x4b,
    0x05, 0x06, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, 0x00, 0x66, 0x00, 0x00, 0x00,
    0x82, 0x01, 0x00, 0x00, 0x00, 0x00};

static const uint8_t npz_deflate[207] = {
    0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x21, 0x00,
    0x77, 0xa6, 0x40, 0xd1, 0x4f, 0x00, 0x00, 0x00, 0x8c, 0x00, 0x00, 0x00, 0x05, 0x00,
    0x14, 0x00, 0x78, 0x2e, 0x6e, 0x70, 0x79, 0x01, 0x00, 0x10, 0x00, 0x8c, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x4f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x9b,
    0xec, 0x17, 0xea, 0x1b, 0x10, 0xc9, 0xc8, 0x50, 0xc6, 0x50, 0xad, 0x9e, 0x92, 0x5a,
    0x9c, 0x5c, 0xa4, 0x6e, 0xa5, 0xa0, 0x6e, 0x93, 0x66, 0xa2, 0xae, 0xa3, 0xa0, 0x9e,
    0x96, 0x5f, 0x54, 0x52, 0x94, 0x98, 0x17, 0x9f, 0x5f, 0x94, 0x92, 0x0a, 0x12, 0x77,
    0x4b, 0xcc, 0x29, 0x4e, 0x05, 0x8a, 0x17, 0x67, 0x24, 0x16, 0xa4, 0x02, 0xf9, 0x1a,
    0xc6, 0x3a, 0x9a, 0x3a, 0x0a, 0xb5, 0x0a, 0x14, 0x00, 0x2e, 0x06, 0x86, 0x06, 0x7b,
    0x06, 0x06, 0x06, 0x07, 0x20, 0x72, 0x00, 0x00, 0x50, 0x4b, 0x01, 0x02, 0x14, 0x03,
    0x14, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x21, 0x00, 0x77, 0xa6, 0x40, 0xd1,
    0x4f, 0x00, 0x00, 0x00, 0x8c, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x78, 0x2e,
    0x6e, 0x70, 0x79, 0x50, 0x4b, 0x05, 0x06, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01,
    0x00, 0x33, 0x00, 0x00, 0x00, 0x86, 0x00, 0x00, 0x00, 0x00, 0x00};

static const uint8_t npz_zip64[642] = {
    0x50, 0x4b, 0x03, 0x04, 0x2d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x6b, 0x89, 0x79, 0x5d,
    0x64, 0x5b, 0xaa, 0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x05, 0x00,
    0x14, 0x00, 0x61, 0x2e, 0x6e, 0x70, 0x79, 0x01, 0x00, 0x10, 0x00, 0x90, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x93,
    0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27, 0x64, 0x65, 0x73,
    0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x66, 0x38, 0x27, 0x2c, 0x20, 0x27, 0x66,
    0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x27, 0x3a,
    0x20, 0x46, 0x61, 0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68, 0x61, 0x70, 0x65,
    0x27, 0x3a, 0x20, 0x28, 0x32, 0x2c, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x40, 0x50, 0x4b, 0x03, 0x04, 0x2d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x6b,
    0x89, 0x79, 0x5d, 0x30, 0xd3, 0x83, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x05, 0x00, 0x14, 0x00, 0x62, 0x2e, 0x6e, 0x70, 0x79, 0x01, 0x00, 0x10, 0x00,
    0x8c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x8c, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27,
    0x64, 0x65, 0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x75, 0x34, 0x27, 0x2c,
    0x20, 0x27, 0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f, 0x6f, 0x72, 0x64, 0x65,
    0x72, 0x27, 0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68,
    0x61, 0x70, 0x65, 0x27, 0x3a, 0x20, 0x28, 0x33, 0x2c, 0x29, 0x2c, 0x20, 0x7d, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x0a, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x05, 0x00,
    0x00, 0x00, 0x50, 0x4b, 0x01, 0x02, 0x2d, 0x03, 0x2d, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x6b, 0x89, 0x79, 0x5d, 0x64, 0x5b, 0xaa, 0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0x05, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x61, 0x2e, 0x6e, 0x70, 0x79, 0x01, 0x00, 0x10,
    0x00, 0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x50, 0x4b, 0x01, 0x02, 0x2d, 0x03, 0x2d, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x6b, 0x89, 0x79, 0x5d, 0x30, 0xd3, 0x83, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0x05, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x80, 0x01, 0xff, 0xff, 0xff, 0xff, 0x62, 0x2e, 0x6e, 0x70, 0x79, 0x01, 0x00,
    0x18, 0x00, 0x8c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x8c, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xc7, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50, 0x4b,
    0x06, 0x06, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2d, 0x00, 0x2d, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x96, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x8a, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x50, 0x4b,
    0x06, 0x07, 0x00, 0x00, 0x00, 0x00, 0x20, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x50, 0x4b, 0x05, 0x06, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
    0x02, 0x00, 0x96, 0x00, 0x00, 0x00, 0x8a, 0x01, 0x00, 0x00, 0x00, 0x00};

#define EXPECT_STATUS(got, want, msg)                                                       \
    do {                                                                                     \
        ggdm_status got_ = (got);                                                            \
        if (got_ != (want)) {                                                                \
            print_error("got '%s', want '%s' (msg: %s)\n", ggdm_status_str(got_),           \
                        ggdm_status_str(want), (msg));                                       \
        }                                                                                    \
        assert_int_equal(got_, (want));                                                      \
        if ((want) != GGDM_OK) {                                                             \
            assert_true(strlen(msg) > 0);                                                    \
        } else {                                                                             \
            assert_string_equal((msg), "");                                                  \
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

static char msg[GGDM_NPY_MSG_LEN];

/* Finds `name`, parses the member as a .npy file and decodes it as doubles. */
static void load_f64(const uint8_t *zip, uint64_t zip_len, const char *name, ggdm_npy_info *info,
                     double *out, uint64_t cap)
{
    uint64_t off = 0, len = 0;
    EXPECT_STATUS(ggdm_npz_find(zip, zip_len, name, &off, &len, msg), GGDM_OK, msg);
    assert_true(off + len <= zip_len);
    EXPECT_STATUS(ggdm_npy_parse(zip + off, len, len, info), GGDM_OK, info->msg);
    EXPECT_STATUS(ggdm_npy_decode_f64(info, zip + off + info->header_bytes, out, cap), GGDM_OK,
                  info->msg);
}

static void load_i64(const uint8_t *zip, uint64_t zip_len, const char *name, ggdm_npy_info *info,
                     int64_t *out, uint64_t cap)
{
    uint64_t off = 0, len = 0;
    EXPECT_STATUS(ggdm_npz_find(zip, zip_len, name, &off, &len, msg), GGDM_OK, msg);
    EXPECT_STATUS(ggdm_npy_parse(zip + off, len, len, info), GGDM_OK, info->msg);
    EXPECT_STATUS(ggdm_npy_decode_i64(info, zip + off + info->header_bytes, out, cap), GGDM_OK,
                  info->msg);
}

static void test_crc32(void **state)
{
    (void)state;
    assert_true(ggdm_crc32(0, (const uint8_t *)"123456789", 9) == 0xcbf43926u);
    assert_true(ggdm_crc32(0, (const uint8_t *)"", 0) == 0u);
    /* chaining */
    assert_true(ggdm_crc32(ggdm_crc32(0, (const uint8_t *)"1234", 4), (const uint8_t *)"56789",
                           5) == 0xcbf43926u);
}

/* ------------------------------------------------------------------ authors' files */

static uint8_t authors[1u << 20];

/* Reads the authors' file into `authors`; 0 if it is not there. */
static uint64_t read_authors(const char *file)
{
    static const char *const dirs[] = {"../shared/data/authors/", "/work/shared/data/authors/"};
    char path[512];
    const char *env = getenv("GGDM_AUTHORS_DIR");
    size_t d;
    for (d = 0; d < 3; d++) {
        const char *dir = d == 0 ? env : dirs[d - 1];
        FILE *f;
        size_t n;
        if (!dir) {
            continue;
        }
        snprintf(path, sizeof path, "%s%s%s", dir,
                 dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", file);
        f = fopen(path, "rb");
        if (!f) {
            continue;
        }
        n = fread(authors, 1, sizeof authors, f);
        assert_true(feof(f)); /* the whole file fitted */
        fclose(f);
        return (uint64_t)n;
    }
    return 0;
}

static void test_authors_linear_latent(void **state)
{
    static double A[16 * 64], theta1[64], theta2[64], b1[1], b2[64];
    static const char *const names[7] = {"d_inner.npy", "d_outer.npy", "A.npy", "theta_1.npy",
                                         "theta_2.npy", "b_1.npy", "b_2.npy"};
    int64_t d_inner = 0, d_outer = 0;
    uint64_t len = read_authors("linear_latent_hyperparameters.npz"), count = 0;
    ggdm_npy_info info;
    ggdm_npz_iter it;
    ggdm_npz_member m;
    int i, j, k, more = 1;
    double n1 = 0, n2 = 0;
    (void)state;
    if (len == 0) {
        print_message("SKIP: linear_latent_hyperparameters.npz not found in ../shared/data/authors"
                      " or /work/shared/data/authors (set GGDM_AUTHORS_DIR)\n");
        skip();
    }
    EXPECT_STATUS(ggdm_npz_count(authors, len, &count, msg), GGDM_OK, msg);
    assert_true(count == 7);
    EXPECT_STATUS(ggdm_npz_iter_init(authors, len, &it, msg), GGDM_OK, msg);
    for (i = 0; more; i++) {
        EXPECT_STATUS(ggdm_npz_iter_next(authors, len, &it, &m, &more, msg), GGDM_OK, msg);
        if (more) {
            assert_true(i < 7);
            assert_true(m.index == (uint64_t)i);
            assert_true(m.name_len == strlen(names[i]));
            assert_memory_equal(authors + m.name_offset, names[i], strlen(names[i]));
            assert_int_equal(m.method, 0);
            assert_true(m.data_len == m.uncompressed_len);
            assert_true(ggdm_crc32(0, authors + m.data_offset, m.data_len) == m.crc32);
        }
    }
    assert_int_equal(i, 8);

    load_i64(authors, len, "d_inner", &info, &d_inner, 1);
    assert_int_equal(info.ndim, 0);
    assert_true(d_inner == 16);
    load_i64(authors, len, "d_outer.npy", &info, &d_outer, 1);
    assert_true(d_outer == 64);

    load_f64(authors, len, "A", &info, A, 16 * 64);
    assert_int_equal(info.dtype, GGDM_DT_F64);
    assert_int_equal(info.ndim, 2);
    assert_true(info.shape[0] == 16 && info.shape[1] == 64);
    for (i = 0; i < 16; i++) {
        for (j = 0; j < 16; j++) {
            double dot = 0;
            for (k = 0; k < 64; k++) {
                dot += A[i * 64 + k] * A[j * 64 + k];
            }
            assert_true(dot - (i == j ? 1.0 : 0.0) <= 1e-12);
            assert_true(dot - (i == j ? 1.0 : 0.0) >= -1e-12);
        }
    }
    load_f64(authors, len, "theta_1", &info, theta1, 64);
    assert_true(info.ndim == 2 && info.shape[0] == 64 && info.shape[1] == 1);
    load_f64(authors, len, "theta_2", &info, theta2, 64);
    assert_true(info.ndim == 2 && info.shape[0] == 64 && info.shape[1] == 1);
    for (k = 0; k < 64; k++) {
        n1 += theta1[k] * theta1[k];
        n2 += theta2[k] * theta2[k];
    }
    assert_true(n1 > 1 - 1e-12 && n1 < 1 + 1e-12);
    assert_true(n2 > 1 - 1e-12 && n2 < 1 + 1e-12);
    load_f64(authors, len, "b_1", &info, b1, 1);
    assert_true(info.ndim == 0 && b1[0] == 4.0);
    load_f64(authors, len, "b_2", &info, b2, 64);
    assert_true(info.ndim == 1 && info.shape[0] == 64);

    {
        uint64_t off = 1, l = 1;
        EXPECT_STATUS(ggdm_npz_find(authors, len, "theta", &off, &l, msg), GGDM_ERR_ARG, msg);
        assert_true(has(msg, "no member 'theta'"));
        assert_true(off == 0 && l == 0);
        EXPECT_STATUS(ggdm_npz_find(authors, len, "a", &off, &l, msg), GGDM_ERR_ARG, msg);
        EXPECT_STATUS(ggdm_npz_find(authors, len, "A.np", &off, &l, msg), GGDM_ERR_ARG, msg);
        EXPECT_STATUS(ggdm_npz_find(authors, len, "", &off, &l, msg), GGDM_ERR_ARG, msg);
    }
}

static void test_authors_unit_ball(void **state)
{
    static double mean[64], theta[64], theta2[64];
    static double unused[16 * 64];
    int64_t d_outer = 0;
    uint64_t len = read_authors("unit_ball_hyperparameters.npz"), count = 0;
    ggdm_npy_info info;
    int k;
    (void)state;
    if (len == 0) {
        print_message("SKIP: unit_ball_hyperparameters.npz not found\n");
        skip();
    }
    EXPECT_STATUS(ggdm_npz_count(authors, len, &count, msg), GGDM_OK, msg);
    assert_true(count == 3);
    load_i64(authors, len, "d_outer", &info, &d_outer, 1);
    assert_true(d_outer == 64);
    load_f64(authors, len, "mean", &info, mean, 64);
    assert_true(info.ndim == 1 && info.shape[0] == 64);
    for (k = 0; k < 64; k++) {
        assert_true(mean[k] == 0.0);
    }
    load_f64(authors, len, "theta", &info, theta, 64);
    assert_true(info.ndim == 2 && info.shape[0] == 64 && info.shape[1] == 1);
    /* The same vector as linear_latent's theta_2. */
    len = read_authors("linear_latent_hyperparameters.npz");
    if (len == 0) {
        return;
    }
    load_f64(authors, len, "theta_2", &info, theta2, 64);
    assert_memory_equal(theta, theta2, sizeof theta);
    (void)unused;
}

/* ------------------------------------------------------------------ NumPy's archives */

static void test_numpy_archives(void **state)
{
    double x[3], a[2];
    int64_t y = 0, b[3];
    ggdm_npy_info info;
    uint64_t off, len, count;
    (void)state;
    EXPECT_STATUS(ggdm_npz_count(npz_stored, sizeof npz_stored, &count, msg), GGDM_OK, msg);
    assert_true(count == 2);
    load_f64(npz_stored, sizeof npz_stored, "x", &info, x, 3);
    assert_int_equal(info.dtype, GGDM_DT_F32);
    assert_true(x[0] == 1.0 && x[1] == 2.0 && x[2] == 3.0);
    load_i64(npz_stored, sizeof npz_stored, "y", &info, &y, 1);
    assert_true(y == 7);

    EXPECT_STATUS(ggdm_npz_count(npz_deflate, sizeof npz_deflate, &count, msg), GGDM_OK, msg);
    assert_true(count == 1);
    EXPECT_STATUS(ggdm_npz_find(npz_deflate, sizeof npz_deflate, "x", &off, &len, msg),
                  GGDM_ERR_UNSUPPORTED, msg);
    assert_true(has(msg, "np.savez, not np.savez_compressed"));
    assert_true(has(msg, "'x.npy'"));

    EXPECT_STATUS(ggdm_npz_count(npz_zip64, sizeof npz_zip64, &count, msg), GGDM_OK, msg);
    assert_true(count == 2);
    load_f64(npz_zip64, sizeof npz_zip64, "a", &info, a, 2);
    assert_true(a[0] == 1.0 && a[1] == 2.0);
    load_i64(npz_zip64, sizeof npz_zip64, "b.npy", &info, b, 3);
    assert_true(b[0] == 3 && b[1] == 4 && b[2] == 5);
}

/* ------------------------------------------------------------------ archives built here */

typedef struct zmember {
    const char *name;
    const uint8_t *data;
    uint32_t len;
    uint16_t method;
} zmember;

/* Offsets of the parts of the last archive built. */
static uint64_t g_lho[4], g_cen[4], g_cd_off, g_cd_size, g_eocd, g_z64, g_loc;

static uint8_t zbuf[1u << 16];
static uint8_t zmut[1u << 16];

/* A zip archive as Python writes it (local headers without ZIP64 extras); with zip64,
 * every size and offset goes through ZIP64 extra fields and end records. */
static uint64_t zbuild(uint8_t *out, const zmember *m, int n, int zip64, const char *comment)
{
    uint64_t p = 0;
    int i;
    for (i = 0; i < n; i++) {
        size_t nl = strlen(m[i].name);
        g_lho[i] = p;
        ggdm_le_store_u32(out + p, 0x04034b50u);
        ggdm_le_store_u16(out + p + 4, 20);
        ggdm_le_store_u16(out + p + 6, 0);
        ggdm_le_store_u16(out + p + 8, m[i].method);
        ggdm_le_store_u32(out + p + 10, 0);
        ggdm_le_store_u32(out + p + 14, ggdm_crc32(0, m[i].data, m[i].len));
        ggdm_le_store_u32(out + p + 18, m[i].len);
        ggdm_le_store_u32(out + p + 22, m[i].len);
        ggdm_le_store_u16(out + p + 26, (uint16_t)nl);
        ggdm_le_store_u16(out + p + 28, 0);
        memcpy(out + p + 30, m[i].name, nl);
        memcpy(out + p + 30 + nl, m[i].data, m[i].len);
        p += 30 + nl + m[i].len;
    }
    g_cd_off = p;
    for (i = 0; i < n; i++) {
        size_t nl = strlen(m[i].name);
        g_cen[i] = p;
        ggdm_le_store_u32(out + p, 0x02014b50u);
        ggdm_le_store_u16(out + p + 4, 0x031e);
        ggdm_le_store_u16(out + p + 6, zip64 ? 45 : 20);
        ggdm_le_store_u16(out + p + 8, 0);
        ggdm_le_store_u16(out + p + 10, m[i].method);
        ggdm_le_store_u32(out + p + 12, 0);
        ggdm_le_store_u32(out + p + 16, ggdm_crc32(0, m[i].data, m[i].len));
        ggdm_le_store_u32(out + p + 20, zip64 ? 0xffffffffu : m[i].len);
        ggdm_le_store_u32(out + p + 24, zip64 ? 0xffffffffu : m[i].len);
        ggdm_le_store_u16(out + p + 28, (uint16_t)nl);
        ggdm_le_store_u16(out + p + 30, zip64 ? 28 : 0);
        ggdm_le_store_u16(out + p + 32, 0);
        ggdm_le_store_u16(out + p + 34, 0);
        ggdm_le_store_u16(out + p + 36, 0);
        ggdm_le_store_u32(out + p + 38, 0);
        ggdm_le_store_u32(out + p + 42, zip64 ? 0xffffffffu : (uint32_t)g_lho[i]);
        memcpy(out + p + 46, m[i].name, nl);
        p += 46 + nl;
        if (zip64) {
            ggdm_le_store_u16(out + p, 1);
            ggdm_le_store_u16(out + p + 2, 24);
            ggdm_le_store_u64(out + p + 4, m[i].len);
            ggdm_le_store_u64(out + p + 12, m[i].len);
            ggdm_le_store_u64(out + p + 20, g_lho[i]);
            p += 28;
        }
    }
    g_cd_size = p - g_cd_off;
    g_z64 = g_loc = 0;
    if (zip64) {
        g_z64 = p;
        ggdm_le_store_u32(out + p, 0x06064b50u);
        ggdm_le_store_u64(out + p + 4, 44);
        ggdm_le_store_u16(out + p + 12, 45);
        ggdm_le_store_u16(out + p + 14, 45);
        ggdm_le_store_u32(out + p + 16, 0);
        ggdm_le_store_u32(out + p + 20, 0);
        ggdm_le_store_u64(out + p + 24, (uint64_t)n);
        ggdm_le_store_u64(out + p + 32, (uint64_t)n);
        ggdm_le_store_u64(out + p + 40, g_cd_size);
        ggdm_le_store_u64(out + p + 48, g_cd_off);
        p += 56;
        g_loc = p;
        ggdm_le_store_u32(out + p, 0x07064b50u);
        ggdm_le_store_u32(out + p + 4, 0);
        ggdm_le_store_u64(out + p + 8, g_z64);
        ggdm_le_store_u32(out + p + 16, 1);
        p += 20;
    }
    g_eocd = p;
    ggdm_le_store_u32(out + p, 0x06054b50u);
    ggdm_le_store_u16(out + p + 4, 0);
    ggdm_le_store_u16(out + p + 6, 0);
    ggdm_le_store_u16(out + p + 8, zip64 ? 0xffff : (uint16_t)n);
    ggdm_le_store_u16(out + p + 10, zip64 ? 0xffff : (uint16_t)n);
    ggdm_le_store_u32(out + p + 12, zip64 ? 0xffffffffu : (uint32_t)g_cd_size);
    ggdm_le_store_u32(out + p + 16, zip64 ? 0xffffffffu : (uint32_t)g_cd_off);
    ggdm_le_store_u16(out + p + 20, (uint16_t)(comment ? strlen(comment) : 0));
    p += 22;
    if (comment) {
        memcpy(out + p, comment, strlen(comment));
        p += strlen(comment);
    }
    return p;
}

static uint8_t npy_a[256], npy_b[256];
static uint32_t npy_a_len, npy_b_len;

static void make_members(void)
{
    static const uint64_t shape_a[1] = {3}, shape_b[2] = {2, 2};
    static const double va[3] = {0.5, -1.5, 2.5};
    static const float vb[4] = {1, 2, 3, 4};
    uint64_t hl = 0;
    assert_int_equal(ggdm_npy_header_write(GGDM_DT_F64, 1, shape_a, npy_a, sizeof npy_a, &hl),
                     GGDM_OK);
    assert_int_equal(ggdm_npy_encode_f64(va, 3, npy_a + hl), GGDM_OK);
    npy_a_len = (uint32_t)(hl + 24);
    assert_int_equal(ggdm_npy_header_write(GGDM_DT_F32, 2, shape_b, npy_b, sizeof npy_b, &hl),
                     GGDM_OK);
    assert_int_equal(ggdm_npy_encode_f32(vb, 4, npy_b + hl), GGDM_OK);
    npy_b_len = (uint32_t)(hl + 16);
}

static void expect_find(const uint8_t *z, uint64_t zl, const char *name, ggdm_status want,
                        const char *needle)
{
    uint64_t off = 0, len = 0;
    ggdm_status st = ggdm_npz_find(z, zl, name, &off, &len, msg);
    EXPECT_STATUS(st, want, msg);
    if (needle) {
        assert_true(has(msg, needle));
    }
    if (st == GGDM_OK) {
        assert_true(off <= zl && len <= zl - off);
    } else {
        assert_true(off == 0 && len == 0);
    }
}

static void test_built_archives(void **state)
{
    zmember m[3];
    uint64_t zl, count, off, len;
    ggdm_npy_info info;
    double a[3];
    int z64;
    (void)state;
    make_members();
    m[0].name = "a.npy"; m[0].data = npy_a; m[0].len = npy_a_len; m[0].method = 0;
    m[1].name = "b.npy"; m[1].data = npy_b; m[1].len = npy_b_len; m[1].method = 0;

    for (z64 = 0; z64 <= 1; z64++) {
        zl = zbuild(zbuf, m, 2, z64, NULL);
        EXPECT_STATUS(ggdm_npz_count(zbuf, zl, &count, msg), GGDM_OK, msg);
        assert_true(count == 2);
        load_f64(zbuf, zl, "a", &info, a, 3);
        assert_true(a[0] == 0.5 && a[1] == -1.5 && a[2] == 2.5);
        EXPECT_STATUS(ggdm_npz_find(zbuf, zl, "b", &off, &len, msg), GGDM_OK, msg);
        assert_true(off == g_lho[1] + 30 + 5 && len == npy_b_len);
    }

    /* With an archive comment (containing a signature lookalike). */
    zl = zbuild(zbuf, m, 2, 0, "PK\5\6 comment");
    expect_find(zbuf, zl, "b", GGDM_OK, NULL);
    /* Comment length that does not reach the end -> no end record. */
    zbuf[g_eocd + 20] = 3;
    expect_find(zbuf, zl, "b", GGDM_ERR_FORMAT, "End of Central Directory");

    /* Exact names win over name + ".npy"; duplicates are ambiguous. */
    m[0].name = "a";
    m[1].name = "a.npy";
    zl = zbuild(zbuf, m, 2, 0, NULL);
    EXPECT_STATUS(ggdm_npz_find(zbuf, zl, "a", &off, &len, msg), GGDM_OK, msg);
    assert_true(off == g_lho[0] + 30 + 1);
    EXPECT_STATUS(ggdm_npz_find(zbuf, zl, "a.npy", &off, &len, msg), GGDM_OK, msg);
    assert_true(off == g_lho[1] + 30 + 5);
    m[0].name = "a.npy";
    zl = zbuild(zbuf, m, 2, 0, NULL);
    expect_find(zbuf, zl, "a", GGDM_ERR_FORMAT, "ambiguous");
    m[1].name = "b.npy";

    /* Empty archive: 22 bytes. */
    zl = zbuild(zbuf, m, 0, 0, NULL);
    assert_true(zl == 22);
    EXPECT_STATUS(ggdm_npz_count(zbuf, zl, &count, msg), GGDM_OK, msg);
    assert_true(count == 0);
    expect_find(zbuf, zl, "a", GGDM_ERR_ARG, "no member");

    /* Compressed, other methods, encrypted. */
    m[0].method = 8;
    zl = zbuild(zbuf, m, 2, 0, NULL);
    EXPECT_STATUS(ggdm_npz_count(zbuf, zl, &count, msg), GGDM_OK, msg); /* listing is fine */
    expect_find(zbuf, zl, "a", GGDM_ERR_UNSUPPORTED, "savez_compressed");
    expect_find(zbuf, zl, "b", GGDM_OK, NULL);
    m[0].method = 12;
    zl = zbuild(zbuf, m, 2, 0, NULL);
    expect_find(zbuf, zl, "a", GGDM_ERR_UNSUPPORTED, "method 12");
    m[0].method = 0;
    zl = zbuild(zbuf, m, 2, 0, NULL);
    zbuf[g_cen[0] + 8] |= 1;
    expect_find(zbuf, zl, "a", GGDM_ERR_UNSUPPORTED, "encrypted");

    /* Bad arguments. */
    zl = zbuild(zbuf, m, 2, 0, NULL);
    assert_int_equal(ggdm_npz_find(NULL, zl, "a", &off, &len, msg), GGDM_ERR_ARG);
    assert_int_equal(ggdm_npz_find(zbuf, zl, NULL, &off, &len, msg), GGDM_ERR_ARG);
    assert_int_equal(ggdm_npz_find(zbuf, zl, "a", NULL, &len, msg), GGDM_ERR_ARG);
    assert_int_equal(ggdm_npz_find(zbuf, zl, "a", &off, &len, NULL), GGDM_OK); /* msg optional */
    assert_int_equal(ggdm_npz_count(zbuf, zl, NULL, msg), GGDM_ERR_ARG);
    expect_find(zbuf, 21, "a", GGDM_ERR_FORMAT, "too short");
    expect_find(zbuf, 0, "a", GGDM_ERR_FORMAT, "too short");
}

/* One mutation of a freshly built two-member archive, and its expected outcome. */
typedef enum { AT_LHO0, AT_CEN0, AT_CEN1, AT_EOCD, AT_Z64, AT_LOC, AT_DATA0 } anchor;
typedef struct mutation {
    const char *what;
    int zip64;
    anchor at;
    uint64_t offset; /* from the anchor */
    int width;       /* 1, 2, 4 or 8 bytes, little-endian */
    uint64_t value;
    int relative;    /* value is added to the current value */
    ggdm_status want;
    const char *needle;
} mutation;

static const mutation mutations[] = {
    {"data byte (CRC)", 0, AT_DATA0, 130, 1, 0x01, 1, GGDM_ERR_FORMAT, "CRC-32"},
    {"crc field", 0, AT_CEN0, 16, 4, 1, 1, GGDM_ERR_FORMAT, "CRC-32"},
    {"local signature", 0, AT_LHO0, 0, 1, 0, 0, GGDM_ERR_FORMAT, "no local header"},
    {"local name", 0, AT_LHO0, 30, 1, 'x', 0, GGDM_ERR_FORMAT, "name differs"},
    {"local name length", 0, AT_LHO0, 26, 2, 4, 0, GGDM_ERR_FORMAT, "name differs"},
    {"local extra length", 0, AT_LHO0, 28, 2, 0xffff, 0, GGDM_ERR_FORMAT, "overruns"},
    {"local method", 0, AT_LHO0, 8, 2, 8, 0, GGDM_ERR_FORMAT, "method differs"},
    {"central signature", 0, AT_CEN0, 0, 1, 0, 0, GGDM_ERR_FORMAT, "missing or truncated"},
    {"central name length", 0, AT_CEN1, 28, 2, 0xffff, 0, GGDM_ERR_FORMAT, "overruns"},
    {"central name length 0", 0, AT_CEN0, 28, 2, 0, 0, GGDM_ERR_FORMAT, "empty name"},
    {"central extra length", 0, AT_CEN0, 30, 2, 8, 0, GGDM_ERR_FORMAT, NULL},
    {"compressed size", 0, AT_CEN0, 20, 4, 1, 1, GGDM_ERR_FORMAT, "compressed size"},
    {"both sizes huge", 0, AT_CEN0, 20, 8, 0x7fffff007fffff00ull, 0, GGDM_ERR_FORMAT, "overrun"},
    {"size 0xffffffff without zip64", 0, AT_CEN0, 20, 8, 0xffffffffffffffffull, 0,
     GGDM_ERR_FORMAT, "overrun"},
    {"local header offset", 0, AT_CEN1, 42, 4, 1, 1, GGDM_ERR_FORMAT, "no local header"},
    {"local header offset past cd", 0, AT_CEN0, 42, 4, 0xfffffff0u, 0, GGDM_ERR_FORMAT,
     "no local header"},
    {"disk start", 0, AT_CEN0, 34, 2, 1, 0, GGDM_ERR_UNSUPPORTED, "disk"},
    {"eocd disk", 0, AT_EOCD, 4, 2, 1, 0, GGDM_ERR_UNSUPPORTED, "multi-disk"},
    {"eocd entries this disk", 0, AT_EOCD, 8, 2, 1, 0, GGDM_ERR_FORMAT, "on this disk"},
    {"eocd entries 0xffff", 0, AT_EOCD, 8, 4, 0xffffffffu, 0, GGDM_ERR_FORMAT, "cannot fit"},
    {"eocd entries 1", 0, AT_EOCD, 8, 4, 0x00010001u, 0, GGDM_ERR_FORMAT, "after its"},
    {"eocd entries 3", 0, AT_EOCD, 8, 4, 0x00030003u, 0, GGDM_ERR_FORMAT, NULL},
    {"cd size", 0, AT_EOCD, 12, 4, 1, 1, GGDM_ERR_FORMAT, "does not end"},
    {"cd size huge", 0, AT_EOCD, 12, 4, 0xffffffffu, 0, GGDM_ERR_FORMAT, "does not end"},
    {"cd offset", 0, AT_EOCD, 16, 4, 0xffffffffu, 1, GGDM_ERR_FORMAT, "does not end"},
    {"cd offset huge", 0, AT_EOCD, 16, 4, 0xfffffff0u, 0, GGDM_ERR_FORMAT, "does not end"},
    {"z64 extra short", 1, AT_CEN0, 2 + 46 + 5, 2, 16, 0, GGDM_ERR_FORMAT, "ZIP64"},
    {"z64 extra id", 1, AT_CEN0, 46 + 5, 2, 0x7075, 0, GGDM_ERR_FORMAT, "no local header"},
    {"z64 extra overruns", 1, AT_CEN0, 2 + 46 + 5, 2, 200, 0, GGDM_ERR_FORMAT, "extra field"},
    {"z64 size", 1, AT_CEN0, 4 + 46 + 5, 8, 0xfffffffffffffff0ull, 0, GGDM_ERR_FORMAT, NULL},
    {"z64 offset", 1, AT_CEN1, 20 + 46 + 5, 8, 0xfffffffffffffff0ull, 0, GGDM_ERR_FORMAT,
     "no local header"},
    {"z64 record signature", 1, AT_Z64, 0, 1, 0, 0, GGDM_ERR_FORMAT, "ZIP64"},
    {"z64 record size", 1, AT_Z64, 4, 8, 45, 0, GGDM_ERR_FORMAT, "ZIP64"},
    {"z64 record size huge", 1, AT_Z64, 4, 8, 0xffffffffffffffffull, 0, GGDM_ERR_FORMAT, "ZIP64"},
    {"z64 entries", 1, AT_Z64, 32, 8, 0x8000000000000000ull, 0, GGDM_ERR_FORMAT, NULL},
    {"z64 entries both", 1, AT_Z64, 24, 8, 0x8000000000000000ull, 0, GGDM_ERR_FORMAT, NULL},
    {"z64 cd size", 1, AT_Z64, 40, 8, 0xffffffffffffff00ull, 0, GGDM_ERR_FORMAT, "does not end"},
    {"z64 cd offset", 1, AT_Z64, 48, 8, 0xffffffffffffff00ull, 0, GGDM_ERR_FORMAT,
     "does not end"},
    {"z64 disk", 1, AT_Z64, 16, 4, 2, 0, GGDM_ERR_UNSUPPORTED, "multi-disk"},
    {"locator offset", 1, AT_LOC, 8, 8, 1, 1, GGDM_ERR_FORMAT, "ZIP64"},
    {"locator offset huge", 1, AT_LOC, 8, 8, 0xffffffffffffffffull, 0, GGDM_ERR_FORMAT, "ZIP64"},
    {"locator disks", 1, AT_LOC, 16, 4, 3, 0, GGDM_ERR_UNSUPPORTED, "multi-disk"},
};

static void put(uint8_t *p, int width, uint64_t v)
{
    int i;
    for (i = 0; i < width; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get(const uint8_t *p, int width)
{
    uint64_t v = 0;
    int i;
    for (i = width - 1; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void test_hostile_archives(void **state)
{
    zmember m[2];
    size_t i;
    (void)state;
    make_members();
    m[0].name = "a.npy"; m[0].data = npy_a; m[0].len = npy_a_len; m[0].method = 0;
    m[1].name = "b.npy"; m[1].data = npy_b; m[1].len = npy_b_len; m[1].method = 0;
    for (i = 0; i < sizeof mutations / sizeof mutations[0]; i++) {
        const mutation *mu = &mutations[i];
        uint64_t zl = zbuild(zbuf, m, 2, mu->zip64, NULL), base = 0, v, off, len;
        ggdm_status st, st2;
        switch (mu->at) {
        case AT_LHO0: base = g_lho[0]; break;
        case AT_DATA0: base = g_lho[0] + 30 + 5; break;
        case AT_CEN0: base = g_cen[0]; break;
        case AT_CEN1: base = g_cen[1]; break;
        case AT_EOCD: base = g_eocd; break;
        case AT_Z64: base = g_z64; break;
        case AT_LOC: base = g_loc; break;
        }
        v = mu->value;
        if (mu->relative) {
            v += get(zbuf + base + mu->offset, mu->width);
        }
        put(zbuf + base + mu->offset, mu->width, v);
        /* Whichever member is asked for, the broken archive is reported. */
        st = ggdm_npz_find(zbuf, zl, "a", &off, &len, msg);
        if (st != mu->want || (mu->needle && !strstr(msg, mu->needle))) {
            print_error("mutation '%s': got '%s' (%s)\n", mu->what, ggdm_status_str(st), msg);
        }
        EXPECT_STATUS(st, mu->want, msg);
        if (mu->needle) {
            assert_true(has(msg, mu->needle));
        }
        if (getenv("GGDM_TEST_VERBOSE")) {
            print_message("%-32s %s\n", mu->what, msg);
        }
        /* Damage to member a's data or CRC leaves b readable; all else breaks both. */
        if (mu->at != AT_DATA0 && strcmp(mu->what, "crc field") != 0) {
            st2 = ggdm_npz_find(zbuf, zl, "b", &off, &len, msg);
            EXPECT_STATUS(st2, mu->want, msg);
        }
    }
    {
        /* Both ZIP64 entry counts absurd: refused before any walk. */
        uint64_t zl = zbuild(zbuf, m, 2, 1, NULL), count = 7;
        ggdm_le_store_u64(zbuf + g_z64 + 24, 1ull << 63);
        ggdm_le_store_u64(zbuf + g_z64 + 32, 1ull << 63);
        EXPECT_STATUS(ggdm_npz_count(zbuf, zl, &count, msg), GGDM_ERR_FORMAT, msg);
        assert_true(has(msg, "cannot fit"));
        assert_true(count == 0);
    }
}

/* Every prefix, and prepended junk (self-extractor style). */
static void test_truncated_and_shifted(void **state)
{
    uint64_t zl, p, count, off, len;
    (void)state;
    zl = sizeof npz_stored;
    for (p = 0; p < zl; p++) {
        memcpy(zmut, npz_stored, (size_t)p);
        assert_int_not_equal(ggdm_npz_count(zmut, p, &count, msg), GGDM_OK);
        assert_true(strlen(msg) > 0);
        assert_int_not_equal(ggdm_npz_find(zmut, p, "x", &off, &len, msg), GGDM_OK);
    }
    memset(zmut, 'j', 7);
    memcpy(zmut + 7, npz_stored, (size_t)zl);
    EXPECT_STATUS(ggdm_npz_find(zmut, zl + 7, "x", &off, &len, msg), GGDM_ERR_FORMAT, msg);
    /* Trailing junk after the end record is not an archive either. */
    memcpy(zmut, npz_stored, (size_t)zl);
    zmut[zl] = 0;
    EXPECT_STATUS(ggdm_npz_find(zmut, zl + 1, "x", &off, &len, msg), GGDM_ERR_FORMAT, msg);
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random damage never crashes or yields an out-of-range member. */
static void test_random_damage(void **state)
{
    static const uint8_t *const src[3] = {npz_stored, npz_deflate, npz_zip64};
    static const uint64_t srclen[3] = {sizeof npz_stored, sizeof npz_deflate, sizeof npz_zip64};
    static const char *const names[4] = {"x", "y", "a", "b.npy"};
    int iter;
    (void)state;
    for (iter = 0; iter < 20000; iter++) {
        int s = (int)(rnd() % 3), k, flips = 1 + (int)(rnd() % 3);
        uint64_t zl = srclen[s], off = 0, len = 0, count = 0;
        ggdm_status st;
        memcpy(zmut, src[s], (size_t)zl);
        for (k = 0; k < flips; k++) {
            uint64_t at = zl > 60 && rnd() % 2 ? zl - 1 - rnd() % 60 : rnd() % zl;
            if (rnd() % 3 == 0) {
                zmut[at] = (uint8_t)rnd();
            } else {
                zmut[at] ^= (uint8_t)(1u << (rnd() % 8));
            }
        }
        st = ggdm_npz_find(zmut, zl, names[rnd() % 4], &off, &len, msg);
        if (st == GGDM_OK) {
            ggdm_npy_info info;
            assert_true(off <= zl && len <= zl - off);
            (void)ggdm_npy_parse(zmut + off, len, len, &info);
        } else {
            assert_true(strlen(msg) > 0);
        }
        (void)ggdm_npz_count(zmut, zl, &count, NULL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32),
        cmocka_unit_test(test_authors_linear_latent),
        cmocka_unit_test(test_authors_unit_ball),
        cmocka_unit_test(test_numpy_archives),
        cmocka_unit_test(test_built_archives),
        cmocka_unit_test(test_hostile_archives),
        cmocka_unit_test(test_truncated_and_shifted),
        cmocka_unit_test(test_random_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
