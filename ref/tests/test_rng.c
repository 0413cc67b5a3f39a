/* Philox4x32 known answers (Random123 kat_vectors) and the random-stream recipes. */
#include <math.h>
#include <stdio.h>

#include "ggdm/philox.h"
#include "ggdm/rng.h"
#include "ggdm_test.h"

typedef struct kat {
    int rounds;
    uint32_t ctr[4], key[2], out[4];
} kat;

/* Random123's kat_vectors, the philox4x32 lines (counter, key, expected output). */
static const kat kats[] = {
    {7, {0, 0, 0, 0}, {0, 0}, {0x5f6fb709, 0x0d893f64, 0x4f121f81, 0x4f730a48}},
    {7, {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
     {0x5207ddc2, 0x45165e59, 0x4d8ee751, 0x8c52f662}},
    {7, {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
     {0x4dfccaba, 0x190a87f0, 0xc47362ba, 0xb6b5242a}},
    {10, {0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {10, {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {10, {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

static void test_philox_kat(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof kats / sizeof kats[0]; i++) {
        ggdm_philox_block b = ggdm_philox4x32_r(kats[i].rounds, kats[i].ctr, kats[i].key);
        int k;
        for (k = 0; k < 4; k++)
            assert_int_equal(b.v[k], kats[i].out[k]);
        if (kats[i].rounds == 10) {
            ggdm_philox_block c = ggdm_philox4x32_10(kats[i].ctr, kats[i].key);
            assert_memory_equal(c.v, kats[i].out, sizeof c.v);
        }
    }
}

static void test_stream_layout(void **state)
{
    /* counter = (block lo, block hi, stream lo, stream hi), key = (seed lo, seed hi) */
    uint64_t seed = 0x299f31d0a4093822ull, stream = 0x0370734413198a2eull, block = 0x85a308d3243f6a88ull;
    ggdm_philox_block b = ggdm_rng_block(seed, stream, block);
    (void)state;
    assert_memory_equal(b.v, kats[5].out, sizeof b.v);
    /* index i is word i % 4 of block i / 4 */
    b = ggdm_rng_block(seed, stream, 0x0123456789ull);
    assert_int_equal(ggdm_rng_u32(seed, stream, 0x0123456789ull * 4 + 2), b.v[2]);
    assert_int_equal(ggdm_rng_u32(seed, stream, 0x0123456789ull * 4 + 3), b.v[3]);
    assert_true(ggdm_stream_id(GGDM_STREAM_STEP_NOISE, 3, 199) == ((2ull << 56) | (3ull << 32) | 199ull));
    /* a is 24 bits: larger values are masked, never spill into the purpose */
    assert_true(ggdm_stream_id(GGDM_STREAM_TEST, 0x1FFFFFFu, 0) == (0xFFFFFFull << 32));
}

/* Any split of [0, n) into fills gives the same numbers as one fill and as per-index calls. */
static void test_split_independence(void **state)
{
    enum { N = 1031 };
    static float whole[N], parts[N];
    static uint32_t wu[N], pu[N];
    static const int sizes[] = {1, 3, 2, 7, 4, 5, 64, 1, 13};
    uint64_t seed = 2345, stream = ggdm_stream_id(GGDM_STREAM_STEP_NOISE, 1, 17);
    int kind;
    (void)state;
    for (kind = 0; kind < 3; kind++) {
        uint64_t at = 0;
        size_t s = 0;
        if (kind == 0) ggdm_rng_fill_normal(seed, stream, 0, whole, N);
        if (kind == 1) ggdm_rng_fill_uniform(seed, stream, 0, whole, N);
        if (kind == 2) ggdm_rng_fill_u32(seed, stream, 0, wu, N);
        while (at < N) {
            uint64_t len = (uint64_t)sizes[s++ % (sizeof sizes / sizeof sizes[0])];
            if (at + len > N)
                len = N - at;
            if (kind == 0) ggdm_rng_fill_normal(seed, stream, at, parts + at, len);
            if (kind == 1) ggdm_rng_fill_uniform(seed, stream, at, parts + at, len);
            if (kind == 2) ggdm_rng_fill_u32(seed, stream, at, pu + at, len);
            at += len;
        }
        if (kind == 2) {
            assert_memory_equal(wu, pu, sizeof wu);
        } else {
            uint64_t i;
            assert_memory_equal(whole, parts, sizeof whole);
            for (i = 0; i < N; i += 97) {
                float one = kind == 0 ? ggdm_rng_normal(seed, stream, i) : ggdm_rng_uniform(seed, stream, i);
                assert_memory_equal(&one, &whole[i], sizeof one);
            }
        }
    }
}

static void test_uniform_recipe(void **state)
{
    (void)state;
    assert_true(ggdm_rng_u01_from_word(0) == 0.0f);
    assert_true(ggdm_rng_u01_from_word(0xFFFFFFFFu) == 1.0f - 0x1p-24f); /* < 1 */
    assert_true(ggdm_rng_u01_from_word(0x80000000u) == 0.5f);
    assert_true(ggdm_rng_u01_open0_from_word(0) == 1.0f);
    assert_true(ggdm_rng_u01_open0_from_word(0xFFFFFFFFu) == 0x1p-24f); /* > 0: log is finite */
    assert_int_equal(ggdm_rng_below_from_word(0, 200), 0);
    assert_int_equal(ggdm_rng_below_from_word(0xFFFFFFFFu, 200), 199);
    assert_int_equal(ggdm_rng_below_from_word(0x80000000u, 200), 100);
}

static void test_box_muller_recipe(void **state)
{
    float z0, z1;
    (void)state;
    /* u1 = 1 -> r = 0 */
    ggdm_rng_box_muller(0, 0x12345678u, &z0, &z1);
    assert_true(z0 == 0.0f && z1 == 0.0f);
    /* u2 = 0 -> (r, 0); u2 = 1/4 -> (0, r) exactly, r = sqrt(-2 log(2^-24)) */
    ggdm_rng_box_muller(0xFFFFFFFFu, 0, &z0, &z1);
    assert_true(z1 == 0.0f);
    assert_true(fabs(z0 - sqrt(-2.0 * log(0x1p-24))) < 1e-5);
    ggdm_rng_box_muller(0xFFFFFFFFu, 0x40000000u, &z0, &z1);
    assert_true(z0 == 0.0f);
    assert_true(fabs(z1 - sqrt(-2.0 * log(0x1p-24))) < 1e-5);
    /* u2 = 1/2 -> (-r, 0) */
    ggdm_rng_box_muller(0x7FFFFFFFu, 0x80000000u, &z0, &z1);
    assert_true(z0 < 0 && z1 == 0.0f);
}

/* Moments of 2^20 normals and uniforms (fixed seed: deterministic, so the bounds are exact checks). */
static void test_moments(void **state)
{
    enum { N = 1 << 20 };
    static float x[N];
    double m = 0, v = 0, m3 = 0, m4 = 0, mx = 0;
    int i, n = ggdm_test_quick() ? N / 16 : N;
    uint64_t stream = ggdm_stream_id(GGDM_STREAM_TEST, 0, 1);
    (void)state;
    ggdm_rng_fill_normal(42, stream, 0, x, (uint64_t)n);
    for (i = 0; i < n; i++) {
        double d = x[i];
        m += d;
        v += d * d;
        m3 += d * d * d;
        m4 += d * d * d * d;
        if (fabs(d) > mx)
            mx = fabs(d);
        assert_true(isfinite(d));
    }
    m /= n; v /= n; m3 /= n; m4 /= n;
    printf("normal: n %d mean %.5f var %.5f skew %.5f kurt %.5f max|z| %.3f\n", n, m, v, m3, m4, mx);
    assert_true(fabs(m) < 5.0 / sqrt(n));
    assert_true(fabs(v - 1) < 8.0 / sqrt(n));
    assert_true(fabs(m3) < 15.0 / sqrt(n));
    assert_true(fabs(m4 - 3) < 40.0 / sqrt(n));
    assert_true(mx < 5.8 && mx > 4.0);
    ggdm_rng_fill_uniform(42, stream, 0, x, (uint64_t)n);
    m = 0;
    for (i = 0; i < n; i++) {
        assert_true(x[i] >= 0.0f && x[i] < 1.0f);
        m += x[i];
    }
    m /= n;
    assert_true(fabs(m - 0.5) < 3.0 / sqrt(12.0 * n));
}

/* Distinct streams, seeds and purposes give unrelated numbers. */
static void test_streams_differ(void **state)
{
    uint32_t a[64], b[64], c[64];
    int i, same_ab = 0, same_ac = 0;
    (void)state;
    ggdm_rng_fill_u32(1, ggdm_stream_id(GGDM_STREAM_STEP_NOISE, 0, 5), 0, a, 64);
    ggdm_rng_fill_u32(1, ggdm_stream_id(GGDM_STREAM_STEP_NOISE, 0, 6), 0, b, 64);
    ggdm_rng_fill_u32(2, ggdm_stream_id(GGDM_STREAM_STEP_NOISE, 0, 5), 0, c, 64);
    for (i = 0; i < 64; i++) {
        same_ab += a[i] == b[i];
        same_ac += a[i] == c[i];
    }
    assert_int_equal(same_ab, 0);
    assert_int_equal(same_ac, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_philox_kat),       cmocka_unit_test(test_stream_layout),
        cmocka_unit_test(test_split_independence), cmocka_unit_test(test_uniform_recipe),
        cmocka_unit_test(test_box_muller_recipe), cmocka_unit_test(test_moments),
        cmocka_unit_test(test_streams_differ),
    };
    return cmocka_run_group_tests_name("rng", tests, NULL, NULL);
}
