/*
 * test_hash.c - XXH3-64 of little-endian bytes: known answers from the xxhsum tool
 * (xxhsum -H3 on files holding the same bytes, written with Python's struct '<'),
 * the portable chunked path (what big-endian hosts run) against the direct one, and
 * the hex helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ggdm/bytes.h"
#include "ggdm/hash.h"

#define XXH3_EMPTY 0x2D06800538D394C2ull

static void test_empty(void **state)
{
    float f = 1.0f;
    (void)state;
    assert_true(ggdm_hash_bytes("", 0) == XXH3_EMPTY);
    assert_true(ggdm_hash_bytes(NULL, 0) == XXH3_EMPTY);
    assert_true(ggdm_hash_f32(&f, 0) == XXH3_EMPTY);
    assert_true(ggdm_hash_f32(NULL, 0) == XXH3_EMPTY);
    assert_true(ggdm_hash_f64(NULL, 0) == XXH3_EMPTY);
    assert_true(ggdm_hash_i64(NULL, 0) == XXH3_EMPTY);
    assert_true(ggdm_hash_u32(NULL, 0) == XXH3_EMPTY);
    assert_true(ggdm_hash_words_chunked(NULL, 0, 4) == XXH3_EMPTY);
    assert_true(ggdm_hash_words_chunked(&f, 0, 8) == XXH3_EMPTY);
}

/*
 * Known answers, from `xxhsum -H3 FILE` (xxHash 0.8.1) where FILE holds:
 *   k_abc       b'abc'                                   78af5f94892f3950
 *   k_256       bytes(range(256))                        9408a4433b952d71
 *   k_f32       struct.pack('<4f', 1.0, -2.5, 3.25, 0.0) bb53835410fae605
 *   k_f64       struct.pack('<3d', 1.0, 2.0, 3.0)        495f4262f8140384
 *   k_i64       struct.pack('<3q', -1, 0, 1 << 40)       7323c7625683f461
 *   k_u32       struct.pack('<3I', 0xdeadbeef, 1, 2)     a927345352f3e1b9
 *   k_f32_1000  struct.pack('<1000f', *[i * 0.5 - 100 for i in range(1000)])
 *                                                        31a78bebfafe2b19
 *   k_f64_777   struct.pack('<777d', *[i / 3.0 for i in range(777)])
 *                                                        ff24d4dda2d6021b
 */
static void test_known_answers(void **state)
{
    static const float f32[4] = {1.0f, -2.5f, 3.25f, 0.0f};
    static const double f64[3] = {1.0, 2.0, 3.0};
    static const int64_t i64[3] = {-1, 0, (int64_t)1 << 40};
    static const uint32_t u32[3] = {0xdeadbeefu, 1u, 2u};
    static float big32[1000];
    static double big64[777];
    uint8_t b256[256];
    int i;
    (void)state;
    for (i = 0; i < 256; i++) {
        b256[i] = (uint8_t)i;
    }
    assert_true(ggdm_hash_bytes("abc", 3) == 0x78af5f94892f3950ull);
    assert_true(ggdm_hash_bytes(b256, 256) == 0x9408a4433b952d71ull);
    assert_true(ggdm_hash_f32(f32, 4) == 0xbb53835410fae605ull);
    assert_true(ggdm_hash_f64(f64, 3) == 0x495f4262f8140384ull);
    assert_true(ggdm_hash_i64(i64, 3) == 0x7323c7625683f461ull);
    assert_true(ggdm_hash_u32(u32, 3) == 0xa927345352f3e1b9ull);
    for (i = 0; i < 1000; i++) {
        big32[i] = (float)i * 0.5f - 100.0f;
    }
    for (i = 0; i < 777; i++) {
        big64[i] = (double)i / 3.0;
    }
    assert_true(ggdm_hash_f32(big32, 1000) == 0x31a78bebfafe2b19ull);
    assert_true(ggdm_hash_f64(big64, 777) == 0xff24d4dda2d6021bull);
    /* The same answers through the chunked path. */
    assert_true(ggdm_hash_words_chunked(f32, 4, 4) == 0xbb53835410fae605ull);
    assert_true(ggdm_hash_words_chunked(i64, 3, 8) == 0x7323c7625683f461ull);
    assert_true(ggdm_hash_words_chunked(b256, 256, 1) == 0x9408a4433b952d71ull);
    assert_true(ggdm_hash_words_chunked(big32, 1000, 4) == 0x31a78bebfafe2b19ull);
    assert_true(ggdm_hash_words_chunked(big64, 777, 8) == 0xff24d4dda2d6021bull);
}

/* The hash is of the little-endian bytes: build them explicitly (as a big-endian
 * host's chunked path does) and compare, across chunk boundaries. */
static void test_chunked_equals_direct(void **state)
{
    static uint32_t u[2100];
    static uint64_t q[1100];
    static uint16_t h[2100];
    static uint8_t le[8800];
    static const uint64_t lens[] = {0, 1, 2, 3, 127, 128, 129, 255, 256, 257, 511, 512, 513,
                                    1023, 1024, 1025, 2047, 2048, 2049};
    size_t k;
    uint64_t i;
    (void)state;
    for (i = 0; i < 2100; i++) {
        u[i] = (uint32_t)(i * 2654435761u) ^ 0x5a5a5a5au;
        h[i] = (uint16_t)(i * 40503u);
    }
    for (i = 0; i < 1100; i++) {
        q[i] = (uint64_t)i * 0x9e3779b97f4a7c15ull;
    }
    for (k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        uint64_t n = lens[k];
        uint64_t n8 = n < 1100 ? n : 1100;
        for (i = 0; i < n; i++) {
            ggdm_le_store_u32(le + 4 * i, u[i]);
        }
        assert_true(ggdm_hash_words_chunked(u, n, 4) == ggdm_hash_bytes(le, 4 * n));
        assert_true(ggdm_hash_u32(u, n) == ggdm_hash_bytes(le, 4 * n));
        assert_true(ggdm_hash_f32((const float *)(const void *)u, n) ==
                    ggdm_hash_words_chunked(u, n, 4));
        for (i = 0; i < n; i++) {
            ggdm_le_store_u16(le + 2 * i, h[i]);
        }
        assert_true(ggdm_hash_words_chunked(h, n, 2) == ggdm_hash_bytes(le, 2 * n));
        for (i = 0; i < n8; i++) {
            ggdm_le_store_u64(le + 8 * i, q[i]);
        }
        assert_true(ggdm_hash_words_chunked(q, n8, 8) == ggdm_hash_bytes(le, 8 * n8));
        assert_true(ggdm_hash_i64((const int64_t *)(const void *)q, n8) ==
                    ggdm_hash_bytes(le, 8 * n8));
        assert_true(ggdm_hash_f64((const double *)(const void *)q, n8) ==
                    ggdm_hash_words_chunked(q, n8, 8));
        assert_true(ggdm_hash_words_chunked(le, 8 * n8, 1) == ggdm_hash_bytes(le, 8 * n8));
    }
    /* Unsupported word sizes give 0, not a hash. */
    assert_true(ggdm_hash_words_chunked(u, 4, 3) == 0);
    assert_true(ggdm_hash_words_chunked(u, 4, 0) == 0);
    assert_true(ggdm_hash_words_chunked(u, 4, 16) == 0);
    /* Unaligned input to the chunked path. */
    {
        static uint8_t raw[4 * 300 + 1];
        for (i = 0; i < 300; i++) {
            memcpy(raw + 1 + 4 * i, &u[i], 4);
        }
        assert_true(ggdm_hash_words_chunked(raw + 1, 300, 4) == ggdm_hash_u32(u, 300));
    }
}

/* Values whose bit patterns differ only in byte order must hash differently. */
static void test_byte_order_matters(void **state)
{
    uint32_t a = 0x01020304u, b = 0x04030201u;
    float nan1 = ggdm_f32_from_bits(0x7fc00000u), nan2 = ggdm_f32_from_bits(0x7fc00001u);
    double z = 0.0, nz = -0.0;
    (void)state;
    assert_true(ggdm_hash_u32(&a, 1) != ggdm_hash_u32(&b, 1));
    /* Bits, not values: NaN payloads and signed zeros are distinguished. */
    assert_true(ggdm_hash_f32(&nan1, 1) != ggdm_hash_f32(&nan2, 1));
    assert_true(ggdm_hash_f64(&z, 1) != ggdm_hash_f64(&nz, 1));
    {
        const uint8_t le[4] = {0x04, 0x03, 0x02, 0x01};
        assert_true(ggdm_hash_u32(&a, 1) == ggdm_hash_bytes(le, 4));
    }
}

static void test_hex(void **state)
{
    char out[17];
    uint64_t h = 0;
    (void)state;
    ggdm_hash_hex(XXH3_EMPTY, out);
    assert_string_equal(out, "2d06800538d394c2");
    ggdm_hash_hex(0, out);
    assert_string_equal(out, "0000000000000000");
    ggdm_hash_hex(UINT64_MAX, out);
    assert_string_equal(out, "ffffffffffffffff");
    ggdm_hash_hex(0x0123456789abcdefull, out);
    assert_string_equal(out, "0123456789abcdef");
    ggdm_hash_hex(1, NULL); /* ignored */

    assert_int_equal(ggdm_hash_parse_hex("2d06800538d394c2", &h), GGDM_OK);
    assert_true(h == XXH3_EMPTY);
    assert_int_equal(ggdm_hash_parse_hex("2D06800538D394C2", &h), GGDM_OK);
    assert_true(h == XXH3_EMPTY);
    assert_int_equal(ggdm_hash_parse_hex("ffffffffffffffff", &h), GGDM_OK);
    assert_true(h == UINT64_MAX);
    h = 5;
    assert_int_equal(ggdm_hash_parse_hex("2d06800538d394c", &h), GGDM_ERR_FORMAT);
    assert_int_equal(ggdm_hash_parse_hex("2d06800538d394c20", &h), GGDM_ERR_FORMAT);
    assert_int_equal(ggdm_hash_parse_hex("2d06800538d394cg", &h), GGDM_ERR_FORMAT);
    assert_int_equal(ggdm_hash_parse_hex("0x06800538d394c2", &h), GGDM_ERR_FORMAT);
    assert_int_equal(ggdm_hash_parse_hex(" d06800538d394c2", &h), GGDM_ERR_FORMAT);
    assert_int_equal(ggdm_hash_parse_hex("", &h), GGDM_ERR_FORMAT);
    assert_true(h == 5);
    assert_int_equal(ggdm_hash_parse_hex(NULL, &h), GGDM_ERR_ARG);
    assert_int_equal(ggdm_hash_parse_hex("2d06800538d394c2", NULL), GGDM_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_chunked_equals_direct),
        cmocka_unit_test(test_byte_order_matters),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
