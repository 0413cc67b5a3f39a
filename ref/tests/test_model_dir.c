/*
 * Tests of the weights layer: the library's F16/BF16 conversions (ggdm_st_load_as_f32,
 * ggdm_st_f32_to_f16_bits: every bit pattern against independent formulas), files over
 * 4 GiB (sparse), and the front end's strict JSON reader/writer (ref/cli/json.c), config
 * accessors, weight sets and model folders (ref/cli/model_dir.c): round trips, sharding,
 * variants, aliases, and hostile folders (every error names the file and the problem).
 *
 * The front-end files are compiled into this program (the Makefile links unit tests with the
 * library only).
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../cli/io.c"
#include "../cli/json.c"
#include "../cli/model_dir.c"

#include "ggdm_test.h"

#include "ggdm/safetensors.h"

static char tmpdir[1024];
static char err[1024];

static int has(const char *s, const char *sub) { return strstr(s, sub) != NULL; }

#define EXPECT_ERR(call, status, substr)                                                                               \
    do {                                                                                                               \
        err[0] = 0;                                                                                                    \
        ggdm_status st_ = (call);                                                                                      \
        if (st_ != (status) || !has(err, (substr))) {                                                                  \
            print_error("got %d '%s', expected %d with '%s'\n", (int)st_, err, (int)(status), (substr));               \
            fail();                                                                                                    \
        }                                                                                                              \
    } while (0)

#define EXPECT_OK(call)                                                                                                \
    do {                                                                                                               \
        err[0] = 0;                                                                                                    \
        ggdm_status st_ = (call);                                                                                      \
        if (st_ != GGDM_OK) {                                                                                          \
            print_error("got %d '%s'\n", (int)st_, err);                                                               \
            fail();                                                                                                    \
        }                                                                                                              \
    } while (0)

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ------------------------------------------------------------------ F16 / BF16 */

/* The value of an F16 by its definition (double arithmetic, exact). */
static double f16_value(unsigned h)
{
    int s = (h >> 15) & 1, e = (h >> 10) & 31;
    unsigned m = h & 1023;
    double v = e == 0 ? ldexp((double)m, -24) : ldexp(1.0 + m / 1024.0, e - 15);
    return s ? -v : v;
}

static void test_f16_all_patterns(void **state)
{
    unsigned h;
    (void)state;
    for (h = 0; h < 65536; h++) {
        uint32_t got = ggdm_st_f16_to_f32_bits((uint16_t)h);
        unsigned e = (h >> 10) & 31, m = h & 1023;
        if (e == 31 && m == 0) {
            assert_true(isinf(bitsf(got)) && (got >> 31) == (h >> 15));
        } else if (e == 31) {
            /* NaN: sign, payload in the top mantissa bits, quiet bit set */
            assert_int_equal(got, ((uint32_t)(h & 0x8000) << 16) | 0x7fc00000u | ((uint32_t)m << 13));
            assert_true(isnan(bitsf(got)));
        } else {
            double v = f16_value(h);
            assert_true((double)bitsf(got) == v);
            assert_int_equal(got >> 31, h >> 15); /* -0 stays -0 */
        }
    }
}

static void test_bf16_all_patterns(void **state)
{
    unsigned b;
    (void)state;
    for (b = 0; b < 65536; b++) {
        uint32_t got = ggdm_st_bf16_to_f32_bits((uint16_t)b);
        int e = (b >> 7) & 255;
        unsigned m = b & 127;
        if (e == 255) {
            assert_int_equal(got, (uint32_t)b << 16); /* inf and NaNs, payload and signalling bit kept */
        } else {
            double v = e == 0 ? ldexp((double)m, -133) : ldexp(1.0 + m / 128.0, e - 127);
            if (b & 0x8000)
                v = -v;
            assert_true((double)bitsf(got) == v);
            assert_int_equal(got >> 31, b >> 15);
        }
    }
}

/* Independent nearest-even F16 of a float32 (double arithmetic; rint rounds to even). */
static unsigned f16_ref(float x)
{
    double a = fabs((double)x), q, r;
    int e;
    unsigned s = signbit(x) ? 0x8000u : 0u;
    if (isnan(x))
        return s | 0x7e00u;
    if (a >= 65520.0)
        return s | 0x7c00u;
    if (a == 0)
        return s;
    frexp(a, &e); /* a in [2^(e-1), 2^e) */
    e -= 1;
    if (e < -14)
        e = -14;
    q = rint(a / ldexp(1.0, e - 10)); /* units of the F16 ulp at this binade (exact division) */
    r = q * ldexp(1.0, e - 10);
    if (r >= 65520.0)
        return s | 0x7c00u;
    /* encode r: find it among the finite F16 patterns by binary search (f16_value is monotonic) */
    {
        unsigned lo = 0, hi = 0x7bff;
        while (lo < hi) {
            unsigned mid = (lo + hi) / 2;
            if (f16_value(mid) < r)
                lo = mid + 1;
            else
                hi = mid;
        }
        assert_true(f16_value(lo) == r);
        return s | lo;
    }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void test_f32_to_f16(void **state)
{
    unsigned h;
    uint32_t i, n = ggdm_test_quick() ? 20000u : 2000000u;
    (void)state;
    /* every F16 comes back unchanged (NaNs as the quiet NaN) */
    for (h = 0; h < 65536; h++) {
        uint16_t back = ggdm_st_f32_to_f16_bits(ggdm_st_f16_to_f32_bits((uint16_t)h));
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            assert_int_equal(back, (h & 0x8000) | 0x7e00);
        else
            assert_int_equal(back, h);
    }
    /* midpoints between neighbours: ties to even; just above/below: nearest */
    for (h = 0; h < 0x7bff; h++) {
        double mid = (f16_value(h) + f16_value(h + 1)) / 2;
        float fm = (float)mid; /* exact: 12 significant bits at most */
        unsigned even = (h & 1) ? h + 1 : h;
        assert_true((double)fm == mid);
        assert_int_equal(ggdm_st_f32_to_f16_bits(fbits(fm)), even);
        assert_int_equal(ggdm_st_f32_to_f16_bits(fbits(nextafterf(fm, 0.0f))), h);
        assert_int_equal(ggdm_st_f32_to_f16_bits(fbits(nextafterf(fm, 1e9f))), h + 1);
        assert_int_equal(ggdm_st_f32_to_f16_bits(fbits(-fm)), 0x8000u | even);
    }
    /* the documented edges */
    assert_int_equal(ggdm_st_f32_to_f16_bits(fbits(65504.0f)), 0x7bff);
    assert_int_equal(ggdm_st_f32_to_f16_bits(fbits(nextafterf(65520.0f, 0.0f))), 0x7bff);
    assert_int_equal(ggdm_st_f32_to_f16_bits(fbits(65520.0f)), 0x7c00);
    assert_int_equal(ggdm_st_f32_to_f16_bits(fbits(-1e30f)), 0xfc00);
    assert_int_equal(ggdm_st_f32_to_f16_bits(fbits((float)ldexp(1.0, -25))), 0x0000);
    assert_int_equal(ggdm_st_f32_to_f16_bits(fbits(nextafterf((float)ldexp(1.0, -25), 1.0f))), 0x0001);
    assert_int_equal(ggdm_st_f32_to_f16_bits(fbits((float)ldexp(1.0, -26))), 0x0000);
    assert_int_equal(ggdm_st_f32_to_f16_bits(0x80000001u), 0x8000);
    assert_int_equal(ggdm_st_f32_to_f16_bits(0x7f800001u), 0x7e00); /* signalling NaN -> quiet */
    assert_int_equal(ggdm_st_f32_to_f16_bits(0xffc12345u), 0xfe00);
    assert_int_equal(ggdm_st_f32_to_f16_bits(0x7f800000u), 0x7c00);
    /* random float32 patterns against the independent formula */
    for (i = 0; i < n; i++) {
        uint32_t u = rnd32();
        if (i & 1) /* half of them in F16's range */
            u = (u & 0x807fffffu) | ((uint32_t)(100 + (rnd32() % 45)) << 23);
        assert_int_equal(ggdm_st_f32_to_f16_bits(u), f16_ref(bitsf(u)));
    }
    /* the encoder */
    {
        float src[3] = {1.0f, -2.0f, 65520.0f};
        uint8_t dst[6];
        assert_int_equal(ggdm_st_encode_f16(src, 3, dst), GGDM_OK);
        assert_int_equal(dst[0] | dst[1] << 8, 0x3c00);
        assert_int_equal(dst[2] | dst[3] << 8, 0xc000);
        assert_int_equal(dst[4] | dst[5] << 8, 0x7c00);
        assert_int_equal(ggdm_st_encode_f16(NULL, 1, dst), GGDM_ERR_ARG);
        assert_int_equal(ggdm_st_encode_f16(src, 1, NULL), GGDM_ERR_ARG);
        assert_int_equal(ggdm_st_encode_f16(NULL, 0, NULL), GGDM_OK);
    }
}

/* A small file: F16 "h" [3], BF16 "b" [2], F32 "f" [2], I32 "i" [1]. */
static uint64_t build_mixed(uint8_t *buf, uint64_t cap)
{
    ggdm_st_spec specs[4] = {{"h", GGDM_ST_F16, 1, {3}}, {"b", GGDM_ST_BF16, 1, {2}}, {"f", GGDM_ST_F32, 1, {2}},
                             {"i", GGDM_ST_I32, 1, {1}}};
    uint64_t hb, db, w;
    char msg[GGDM_ST_MSG_LEN];
    uint8_t *p;
    float fv[2] = {-0.0f, 3.5f};
    assert_int_equal(ggdm_st_header_size(specs, 4, NULL, 0, &hb, &db, msg), GGDM_OK);
    assert_true(hb + db <= cap);
    assert_int_equal(ggdm_st_write_header(specs, 4, NULL, 0, buf, cap, &w, msg), GGDM_OK);
    p = buf + hb;
    ggdm_le_store_u16(p, 0x3c00); /* 1 */
    ggdm_le_store_u16(p + 2, 0x0001); /* 2^-24 */
    ggdm_le_store_u16(p + 4, 0x7d01); /* signalling NaN */
    ggdm_le_store_u16(p + 6, 0x3f80); /* bf16 1 */
    ggdm_le_store_u16(p + 8, 0xff81); /* bf16 -sNaN */
    ggdm_st_encode_f32(fv, 2, p + 10);
    ggdm_le_store_u32(p + 18, 7);
    return hb + db;
}

static void test_load_as_f32(void **state)
{
    uint8_t f[512];
    uint64_t len = build_mixed(f, sizeof f), n = 0, m = 0, ih, ib, iff, ii;
    ggdm_st_tensor t[4], bad;
    float out[4];
    char msg[GGDM_ST_MSG_LEN];
    (void)state;
    assert_int_equal(ggdm_st_parse(f, len, t, 4, &n, NULL, 0, &m, msg), GGDM_OK);
    assert_int_equal(ggdm_st_find(f, len, t, n, "h", &ih, msg), GGDM_OK);
    assert_int_equal(ggdm_st_find(f, len, t, n, "b", &ib, msg), GGDM_OK);
    assert_int_equal(ggdm_st_find(f, len, t, n, "f", &iff, msg), GGDM_OK);
    assert_int_equal(ggdm_st_find(f, len, t, n, "i", &ii, msg), GGDM_OK);
    assert_int_equal(ggdm_st_load_as_f32(f, len, &t[ih], out, 4, msg), GGDM_OK);
    assert_true(out[0] == 1.0f && (double)out[1] == ldexp(1.0, -24));
    assert_int_equal(fbits(out[2]), 0x7fc00000u | (0x101u << 13));
    assert_int_equal(ggdm_st_load_as_f32(f, len, &t[ib], out, 2, msg), GGDM_OK);
    assert_true(out[0] == 1.0f);
    assert_int_equal(fbits(out[1]), 0xff810000u);
    assert_int_equal(ggdm_st_load_as_f32(f, len, &t[iff], out, 2, msg), GGDM_OK);
    assert_int_equal(fbits(out[0]), 0x80000000u);
    assert_true(out[1] == 3.5f);
    /* refusals */
    assert_int_equal(ggdm_st_load_as_f32(f, len, &t[ii], out, 4, msg), GGDM_ERR_UNSUPPORTED);
    assert_true(has(msg, "I32") && has(msg, "'i'"));
    assert_int_equal(ggdm_st_load_as_f32(f, len, &t[ih], out, 2, msg), GGDM_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(ggdm_st_load_as_f32(f, len, &t[ih], NULL, 3, msg), GGDM_ERR_ARG);
    assert_int_equal(ggdm_st_load_as_f32(NULL, len, &t[ih], out, 3, msg), GGDM_ERR_ARG);
    assert_int_equal(ggdm_st_load_as_f32(f, len, NULL, out, 3, msg), GGDM_ERR_ARG);
    bad = t[ih];
    bad.name_off = len + 1;
    assert_int_equal(ggdm_st_load_as_f32(f, len, &bad, out, 3, msg), GGDM_ERR_ARG);
    bad = t[ih];
    bad.data_len = 4; /* does not match count * 2 */
    assert_int_equal(ggdm_st_load_as_f32(f, len, &bad, out, 3, msg), GGDM_ERR_ARG);
    bad = t[ib];
    bad.data_off = len - 2; /* past the end */
    assert_int_equal(ggdm_st_load_as_f32(f, len, &bad, out, 3, msg), GGDM_ERR_ARG);
    bad = t[iff];
    bad.count = UINT64_MAX / 2;
    assert_int_equal(ggdm_st_load_as_f32(f, len, &bad, out, 3, msg), GGDM_ERR_ARG);
    /* the old function still refuses F16 */
    assert_int_equal(ggdm_st_load_f32(f, len, &t[ih], out, 4, msg), GGDM_ERR_UNSUPPORTED);
}

/* ------------------------------------------------------------------ file helpers */

static void put_file(const char *rel, const void *data, size_t n)
{
    char p[2048];
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", tmpdir, rel);
    f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void put_text(const char *rel, const char *text) { put_file(rel, text, strlen(text)); }

static const char *tp(const char *rel)
{
    static char p[8][2048];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, rel);
    return p[k];
}

static void mk(const char *rel) { assert_int_equal(ggdm_io_mkdirs(tp(rel)), 0); }

static void rm_rf(const char *rel) { ggdm_io_remove_tree(tp(rel)); }

static uint64_t file_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return (uint64_t)sb.st_size;
}

/* ------------------------------------------------------------------ JSON */

static ggdm_jv *parse_ok(const char *text)
{
    ggdm_jv *v = NULL;
    EXPECT_OK(ggdm_jv_parse(text, strlen(text), NULL, "t", &v, err, sizeof err));
    assert_non_null(v);
    return v;
}

static void test_json_values(void **state)
{
    ggdm_jv *v;
    const ggdm_jv *x;
    char *out;
    size_t len;
    (void)state;
    v = parse_ok(" {\"a\": [1, -2, 3.5, 1e-05, -0.0, 1E2, 0],\n \"s\": \"x\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\","
                 " \"t\": true, \"f\": false, \"n\": null, \"o\": {}, \"e\": [], \"u\": \"\xc3\xa9\xf0\x9f\x98\x80\","
                 " \"big\": 123456789012345678901234567890, \"z\": \"a\\u0000b\"} ");
    assert_int_equal(v->kind, GGDM_JV_OBJ);
    assert_int_equal(v->n, 10);
    x = ggdm_jv_get(v, "a");
    assert_int_equal(x->kind, GGDM_JV_ARR);
    assert_int_equal(x->n, 7);
    assert_true(x->items[0].is_int && x->items[0].i == 1);
    assert_true(x->items[1].is_int && x->items[1].i == -2);
    assert_true(!x->items[2].is_int && x->items[2].num == 3.5);
    assert_true(x->items[3].num == 1e-05);
    assert_true(x->items[4].num == 0 && signbit(x->items[4].num));
    assert_true(!x->items[5].is_int && x->items[5].num == 100);
    x = ggdm_jv_get(v, "s");
    assert_int_equal(x->len, strlen("x\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80"));
    assert_string_equal(x->s, "x\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80");
    assert_string_equal(ggdm_jv_get(v, "u")->s, "\xc3\xa9\xf0\x9f\x98\x80");
    assert_true(ggdm_jv_get(v, "t")->b == 1 && ggdm_jv_get(v, "f")->b == 0);
    assert_int_equal(ggdm_jv_get(v, "n")->kind, GGDM_JV_NULL);
    assert_true(ggdm_jv_get(v, "big")->kind == GGDM_JV_NUM && !ggdm_jv_get(v, "big")->is_int);
    assert_int_equal(ggdm_jv_get(v, "z")->len, 3);
    assert_null(ggdm_jv_get(v, "missing"));
    assert_null(ggdm_jv_get(ggdm_jv_get(v, "a"), "a"));
    assert_int_equal(ggdm_jv_get(v, "o")->off, strstr(" {\"a\": [1, -2, 3.5, 1e-05, -0.0, 1E2, 0],\n \"s\": \"x\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\", \"t\": true, \"f\": false, \"n\": null, \"o\": {}", "{}") - " {\"a\": [1, -2, 3.5, 1e-05, -0.0, 1E2, 0],\n \"s\": \"x\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\", \"t\": true, \"f\": false, \"n\": null, \"o\": {}");
    /* written back and read again: the same values */
    assert_int_equal(ggdm_jv_write(v, 1, &out, &len), GGDM_OK);
    assert_true(has(out, "\"a\": [\n    1,\n    -2,\n    3.5,\n    1e-05,\n    -0.0,\n    100.0,\n    0\n  ]"));
    assert_true(has(out, "\"z\": \"a\\u0000b\""));
    assert_true(has(out, "\"s\": \"x\\\"\\\\/\\b\\f\\n\\r\\t\xc3\xa9\xf0\x9f\x98\x80\""));
    assert_true(has(out, "\"o\": {},\n  \"s\"")); /* sorted keys */
    assert_true(has(out, "1.2345678901234568e+29"));
    {
        ggdm_jv *w = parse_ok(out);
        char *out2;
        assert_int_equal(ggdm_jv_write(w, 1, &out2, NULL), GGDM_OK);
        assert_string_equal(out, out2);
        free(out2);
        ggdm_jv_free(w);
    }
    free(out);
    ggdm_jv_free(v);
    /* scalars at the top level */
    v = parse_ok("0.18215");
    assert_int_equal(ggdm_jv_write(v, 0, &out, &len), GGDM_OK);
    assert_string_equal(out, "0.18215\n");
    free(out);
    ggdm_jv_free(v);
    v = parse_ok("\"\"");
    assert_true(v->kind == GGDM_JV_STR && v->len == 0);
    ggdm_jv_free(v);
    assert_string_equal(ggdm_jv_kind_name(GGDM_JV_OBJ), "an object");
    assert_string_equal(ggdm_jv_kind_name((ggdm_jv_kind)99), "?");
}

static void test_json_errors(void **state)
{
    static const struct {
        const char *text;
        const char *why;
        long at; /* -1: not checked */
    } cases[] = {
        {"", "expected a value, found the end", 0},
        {"   ", "expected a value", 3},
        {"{\"a\":1,}", "a trailing comma", 6},
        {"[1,]", "a trailing comma", 2},
        {"[1 2]", "expected ',' or ']', found '2'", 3},
        {"{\"a\" 1}", "expected ':'", 5},
        {"{1: 2}", "expected a key", 1},
        {"{\"a\": 1, \"a\": 2}", "duplicate key 'a'", 9},
        {"{\"a\": 1, \"\\u0061\": 2}", "duplicate key 'a'", 9},
        {"[01]", "leading zero", 1},
        {"[-]", "digit after '-'", 1},
        {"[1.]", "digit after '.'", 1},
        {"[.5]", "expected a value, found '.'", 1},
        {"[1e]", "exponent", 1},
        {"[+1]", "expected a value, found '+'", 1},
        {"[NaN]", "expected a value", 1},
        {"[Infinity]", "expected a value", 1},
        {"[1e999]", "beyond the range", 1},
        {"[tru]", "expected a value", 1},
        {"\"abc", "unterminated string", 0},
        {"\"a\\x\"", "unknown escape '\\x'", 2},
        {"\"a\\u12\"", "4 hex digits", -1},
        {"\"a\\u12g4\"", "4 hex digits", -1},
        {"\"\\ud800\"", "without its low half", 1},
        {"\"\\ud800\\u0041\"", "followed by", 1},
        {"\"\\udc00\"", "lone low surrogate", 1},
        {"\"a\tb\"", "raw control character (0x09)", 2},
        {"\"\xc0\xaf\"", "invalid UTF-8", 1},
        {"\"\xed\xa0\x80\"", "invalid UTF-8", 1},
        {"\"\xf4\x90\x80\x80\"", "invalid UTF-8", 1},
        {"\"\xe2\x82\"", "invalid UTF-8", 1},
        {"\"\x80\"", "invalid UTF-8", 1},
        {"{} x", "text after the value: 'x'", 3},
        {"{}{}", "text after the value", 2},
        {"[1] // c", "text after the value", 4},
        {"\xef\xbb\xbf{}", "byte order mark", 0},
        {"[1", "unterminated array", 0},
        {"{\"a\":1", "unterminated object", 0},
        {"{\"a\\u0000\":1}", "key containing a NUL", 1},
        {"[\x01]", "byte 0x01", 1},
    };
    size_t i;
    ggdm_jv *v = (ggdm_jv *)1;
    char want[64];
    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ggdm_status st = ggdm_jv_parse(cases[i].text, strlen(cases[i].text), NULL, "doc.json", &v, err, sizeof err);
        if (st != GGDM_ERR_FORMAT || !has(err, cases[i].why) || !has(err, "doc.json: at byte ")) {
            print_error("case %u '%s': %d '%s'\n", (unsigned)i, cases[i].text, (int)st, err);
            fail();
        }
        if (cases[i].at >= 0) {
            snprintf(want, sizeof want, "at byte %ld:", cases[i].at);
            if (!has(err, want)) {
                print_error("case %u: '%s' lacks '%s'\n", (unsigned)i, err, want);
                fail();
            }
        }
        assert_null(v);
    }
    /* the text need not end in NUL: a value cut at len */
    EXPECT_ERR(ggdm_jv_parse("[1, 2]", 4, NULL, NULL, &v, err, sizeof err), GGDM_ERR_FORMAT, "json: at byte");
    /* limits */
    {
        char deep[200];
        ggdm_jv_limits lim = {8, 0, 0};
        memset(deep, '[', 9);
        memset(deep + 9, ']', 9);
        deep[18] = 0;
        EXPECT_ERR(ggdm_jv_parse(deep, 18, &lim, NULL, &v, err, sizeof err), GGDM_ERR_FORMAT, "nesting deeper than 8");
        lim.max_depth = 9;
        EXPECT_OK(ggdm_jv_parse(deep, 18, &lim, NULL, &v, err, sizeof err));
        ggdm_jv_free(v);
        memset(deep, '[', 100);
        memset(deep + 100, ']', 100);
        EXPECT_ERR(ggdm_jv_parse(deep, 200, NULL, NULL, &v, err, sizeof err), GGDM_ERR_FORMAT, "nesting deeper than 64");
        lim.max_depth = 0;
        lim.max_bytes = 10;
        EXPECT_ERR(ggdm_jv_parse("[1,2,3,4,5,6]", 13, &lim, NULL, &v, err, sizeof err), GGDM_ERR_FORMAT,
                   "more than the limit of 10");
        lim.max_bytes = 0;
        lim.max_values = 4;
        EXPECT_ERR(ggdm_jv_parse("[1,2,3,4,5,6]", 13, &lim, NULL, &v, err, sizeof err), GGDM_ERR_FORMAT,
                   "more than 4 values");
        {
            char longnum[700];
            memset(longnum, '1', 600);
            longnum[600] = 0;
            EXPECT_ERR(ggdm_jv_parse(longnum, 600, NULL, NULL, &v, err, sizeof err), GGDM_ERR_FORMAT,
                       "more than 511 characters");
        }
    }
    assert_int_equal(ggdm_jv_parse("1", 1, NULL, NULL, NULL, err, sizeof err), GGDM_ERR_ARG);
    assert_int_equal(ggdm_jv_parse(NULL, 1, NULL, NULL, &v, err, sizeof err), GGDM_ERR_ARG);
    EXPECT_ERR(ggdm_jv_parse_file(tp("nope.json"), NULL, &v, err, sizeof err), GGDM_ERR_IO, "nope.json: cannot open");
    {
        ggdm_jv_limits lim = {0, 4, 0};
        put_text("big.json", "[1, 2, 3]");
        EXPECT_ERR(ggdm_jv_parse_file(tp("big.json"), &lim, &v, err, sizeof err), GGDM_ERR_FORMAT,
                   "more than the limit of 4 for a JSON file");
        put_text("bad.json", "{\n  \"a\": [1, 2,]\n}");
        EXPECT_ERR(ggdm_jv_parse_file(tp("bad.json"), NULL, &v, err, sizeof err), GGDM_ERR_FORMAT,
                   "bad.json: at byte 14: a trailing comma");
    }
}

static void test_json_build_write(void **state)
{
    ggdm_jv *o = ggdm_jv_new(GGDM_JV_OBJ), *a = ggdm_jv_new(GGDM_JV_ARR), *r;
    char *out;
    (void)state;
    assert_int_equal(ggdm_jv_push(a, ggdm_jv_new_str("diffusers")), GGDM_OK);
    assert_int_equal(ggdm_jv_push(a, ggdm_jv_new_str("UNet2DConditionModel")), GGDM_OK);
    assert_int_equal(ggdm_jv_put(o, "unet", a), GGDM_OK);
    assert_int_equal(ggdm_jv_put(o, "_class_name", ggdm_jv_new_str("StableDiffusionPipeline")), GGDM_OK);
    assert_int_equal(ggdm_jv_put(o, "eps", ggdm_jv_new_num(1e-5)), GGDM_OK);
    assert_int_equal(ggdm_jv_put(o, "scale", ggdm_jv_new_num(0.18215)), GGDM_OK);
    assert_int_equal(ggdm_jv_put(o, "one", ggdm_jv_new_num(1.0)), GGDM_OK);
    assert_int_equal(ggdm_jv_put(o, "third", ggdm_jv_new_num(1.0 / 3)), GGDM_OK);
    assert_int_equal(ggdm_jv_put(o, "n", ggdm_jv_new_int(-7)), GGDM_OK);
    assert_int_equal(ggdm_jv_put(o, "b", ggdm_jv_new_bool(5)), GGDM_OK);
    assert_int_equal(ggdm_jv_put(o, "nil", ggdm_jv_new(GGDM_JV_NULL)), GGDM_OK);
    assert_int_equal(ggdm_jv_put(o, "empty", ggdm_jv_new(GGDM_JV_STR)), GGDM_OK);
    assert_int_equal(ggdm_jv_put(o, "ctl", ggdm_jv_new_str("a\x01\"\\")), GGDM_OK);
    /* refusals: duplicate key, wrong container, null value, non-finite number */
    assert_int_equal(ggdm_jv_put(o, "n", ggdm_jv_new_int(1)), GGDM_ERR_ARG);
    assert_int_equal(ggdm_jv_push(o, ggdm_jv_new_int(1)), GGDM_ERR_ARG);
    { /* a key into an array (a was moved into o: ggdm_jv_put takes its value) */
        ggdm_jv *a2 = ggdm_jv_new(GGDM_JV_ARR);
        assert_int_equal(ggdm_jv_put(a2, "k", ggdm_jv_new_int(1)), GGDM_ERR_ARG);
        ggdm_jv_free(a2);
    }
    assert_int_equal(ggdm_jv_put(o, "x", NULL), GGDM_ERR_ARG);
    assert_int_equal(ggdm_jv_push(NULL, NULL), GGDM_ERR_ARG);
    assert_null(ggdm_jv_new_num(NAN));
    assert_null(ggdm_jv_new_num(INFINITY));
    assert_null(ggdm_jv_new_str(NULL));
    assert_int_equal(ggdm_jv_write(o, 0, &out, NULL), GGDM_OK);
    assert_string_equal(out, "{\n  \"unet\": [\n    \"diffusers\",\n    \"UNet2DConditionModel\"\n  ],\n"
                             "  \"_class_name\": \"StableDiffusionPipeline\",\n  \"eps\": 1e-05,\n"
                             "  \"scale\": 0.18215,\n  \"one\": 1.0,\n  \"third\": 0.3333333333333333,\n"
                             "  \"n\": -7,\n  \"b\": true,\n  \"nil\": null,\n  \"empty\": \"\",\n"
                             "  \"ctl\": \"a\\u0001\\\"\\\\\"\n}\n");
    free(out);
    r = parse_ok("{}");
    ggdm_jv_free(r);
    /* invalid UTF-8 and a non-finite number are refused by the writer */
    r = ggdm_jv_new_str("\xff");
    assert_int_equal(ggdm_jv_write(r, 0, &out, NULL), GGDM_ERR_ARG);
    assert_null(out);
    EXPECT_ERR(ggdm_jv_save(tp("w.json"), r, 0, err, sizeof err), GGDM_ERR_ARG, "cannot be written as JSON");
    ggdm_jv_free(r);
    r = ggdm_jv_new(GGDM_JV_NUM);
    r->num = NAN;
    assert_int_equal(ggdm_jv_write(r, 0, &out, NULL), GGDM_ERR_ARG);
    ggdm_jv_free(r);
    assert_int_equal(ggdm_jv_write(NULL, 0, &out, NULL), GGDM_ERR_ARG);
    EXPECT_OK(ggdm_jv_save(tp("w.json"), o, 1, err, sizeof err));
    r = NULL;
    EXPECT_OK(ggdm_jv_parse_file(tp("w.json"), NULL, &r, err, sizeof err));
    assert_int_equal(r->n, o->n);
    assert_string_equal(ggdm_jv_get(r, "_class_name")->s, "StableDiffusionPipeline");
    ggdm_jv_free(r);
    ggdm_jv_free(o);
}

/* ------------------------------------------------------------------ config accessors */

static void test_config(void **state)
{
    ggdm_cli_cfg c;
    long long i, arr[8];
    double d, fa[4];
    int b, n;
    const char *s, *sa[4];
    (void)state;
    mk("cfg");
    put_text("cfg/config.json", "{\"sample_size\": 64, \"norm_eps\": 1e-05, \"center\": false, \"act\": \"silu\","
                                " \"blocks\": [320, 640, 1280, 1280], \"types\": [\"A\", \"B\"], \"heads\": 8,"
                                " \"fl\": [1, 2.5], \"nul\": null, \"half\": 2.0, \"mixed\": [1, \"x\"]}");
    EXPECT_OK(ggdm_cli_cfg_load(&c, tp("cfg/config.json"), err, sizeof err));
    EXPECT_OK(ggdm_cli_cfg_int(&c, "sample_size", &i, err, sizeof err));
    assert_int_equal(i, 64);
    EXPECT_OK(ggdm_cli_cfg_float(&c, "norm_eps", &d, err, sizeof err));
    assert_true(d == 1e-05);
    EXPECT_OK(ggdm_cli_cfg_float(&c, "sample_size", &d, err, sizeof err)); /* an integer is a number */
    assert_true(d == 64);
    EXPECT_OK(ggdm_cli_cfg_bool(&c, "center", &b, err, sizeof err));
    assert_int_equal(b, 0);
    EXPECT_OK(ggdm_cli_cfg_str(&c, "act", &s, err, sizeof err));
    assert_string_equal(s, "silu");
    EXPECT_OK(ggdm_cli_cfg_ints(&c, "blocks", arr, 8, &n, err, sizeof err));
    assert_true(n == 4 && arr[0] == 320 && arr[3] == 1280);
    EXPECT_OK(ggdm_cli_cfg_strs(&c, "types", sa, 4, &n, err, sizeof err));
    assert_true(n == 2 && !strcmp(sa[1], "B"));
    EXPECT_OK(ggdm_cli_cfg_floats(&c, "fl", fa, 4, &n, err, sizeof err));
    assert_true(n == 2 && fa[1] == 2.5);
    EXPECT_OK(ggdm_cli_cfg_ints_bcast(&c, "heads", 4, arr, err, sizeof err));
    assert_true(arr[0] == 8 && arr[3] == 8);
    EXPECT_OK(ggdm_cli_cfg_ints_bcast(&c, "blocks", 4, arr, err, sizeof err));
    assert_true(arr[1] == 640);
    /* defaults */
    EXPECT_OK(ggdm_cli_cfg_int_or(&c, "absent", 7, &i, err, sizeof err));
    assert_int_equal(i, 7);
    EXPECT_OK(ggdm_cli_cfg_int_or(&c, "nul", 9, &i, err, sizeof err));
    assert_int_equal(i, 9);
    EXPECT_OK(ggdm_cli_cfg_int_or(&c, "heads", 9, &i, err, sizeof err));
    assert_int_equal(i, 8);
    EXPECT_OK(ggdm_cli_cfg_float_or(&c, "absent", 0.5, &d, err, sizeof err));
    assert_true(d == 0.5);
    EXPECT_OK(ggdm_cli_cfg_float_or(&c, "norm_eps", 0.5, &d, err, sizeof err));
    assert_true(d == 1e-05);
    EXPECT_OK(ggdm_cli_cfg_bool_or(&c, "absent", 1, &b, err, sizeof err));
    assert_int_equal(b, 1);
    EXPECT_OK(ggdm_cli_cfg_bool_or(&c, "center", 1, &b, err, sizeof err));
    assert_int_equal(b, 0);
    EXPECT_OK(ggdm_cli_cfg_str_or(&c, "absent", "gelu", &s, err, sizeof err));
    assert_string_equal(s, "gelu");
    EXPECT_OK(ggdm_cli_cfg_str_or(&c, "act", "gelu", &s, err, sizeof err));
    assert_string_equal(s, "silu");
    assert_true(ggdm_cli_cfg_has(&c, "act") && !ggdm_cli_cfg_has(&c, "nul") && !ggdm_cli_cfg_has(&c, "zz"));
    assert_non_null(ggdm_cli_cfg_get(&c, "nul"));
    /* type errors name the file and the key */
    EXPECT_ERR(ggdm_cli_cfg_int(&c, "act", &i, err, sizeof err), GGDM_ERR_FORMAT,
               "cfg/config.json: key 'act': expected an integer, found a string");
    EXPECT_ERR(ggdm_cli_cfg_int(&c, "half", &i, err, sizeof err), GGDM_ERR_FORMAT, "key 'half': expected an integer, found 2");
    EXPECT_ERR(ggdm_cli_cfg_int(&c, "absent", &i, err, sizeof err), GGDM_ERR_FORMAT, "key 'absent' is missing");
    EXPECT_ERR(ggdm_cli_cfg_int(&c, "nul", &i, err, sizeof err), GGDM_ERR_FORMAT, "key 'nul' is missing (null)");
    EXPECT_ERR(ggdm_cli_cfg_int_or(&c, "act", 1, &i, err, sizeof err), GGDM_ERR_FORMAT, "expected an integer");
    EXPECT_ERR(ggdm_cli_cfg_float(&c, "act", &d, err, sizeof err), GGDM_ERR_FORMAT, "expected a number, found a string");
    EXPECT_ERR(ggdm_cli_cfg_float(&c, "absent", &d, err, sizeof err), GGDM_ERR_FORMAT, "missing");
    EXPECT_ERR(ggdm_cli_cfg_float_or(&c, "act", 1, &d, err, sizeof err), GGDM_ERR_FORMAT, "expected a number");
    EXPECT_ERR(ggdm_cli_cfg_bool(&c, "heads", &b, err, sizeof err), GGDM_ERR_FORMAT, "expected a boolean, found a number");
    EXPECT_ERR(ggdm_cli_cfg_bool(&c, "absent", &b, err, sizeof err), GGDM_ERR_FORMAT, "missing");
    EXPECT_ERR(ggdm_cli_cfg_bool_or(&c, "act", 1, &b, err, sizeof err), GGDM_ERR_FORMAT, "expected a boolean");
    EXPECT_ERR(ggdm_cli_cfg_str(&c, "blocks", &s, err, sizeof err), GGDM_ERR_FORMAT, "expected a string, found an array");
    EXPECT_ERR(ggdm_cli_cfg_str(&c, "absent", &s, err, sizeof err), GGDM_ERR_FORMAT, "missing");
    EXPECT_ERR(ggdm_cli_cfg_str_or(&c, "heads", "", &s, err, sizeof err), GGDM_ERR_FORMAT, "expected a string");
    EXPECT_ERR(ggdm_cli_cfg_ints(&c, "blocks", arr, 3, &n, err, sizeof err), GGDM_ERR_FORMAT, "has 4 elements, at most 3");
    EXPECT_ERR(ggdm_cli_cfg_ints(&c, "heads", arr, 3, &n, err, sizeof err), GGDM_ERR_FORMAT, "expected an array");
    EXPECT_ERR(ggdm_cli_cfg_ints(&c, "absent", arr, 3, &n, err, sizeof err), GGDM_ERR_FORMAT, "missing");
    EXPECT_ERR(ggdm_cli_cfg_ints(&c, "fl", arr, 3, &n, err, sizeof err), GGDM_ERR_FORMAT, "element 1: expected an integer");
    EXPECT_ERR(ggdm_cli_cfg_floats(&c, "mixed", fa, 3, &n, err, sizeof err), GGDM_ERR_FORMAT, "element 1: expected a number");
    EXPECT_ERR(ggdm_cli_cfg_floats(&c, "act", fa, 3, &n, err, sizeof err), GGDM_ERR_FORMAT, "expected an array");
    EXPECT_ERR(ggdm_cli_cfg_strs(&c, "mixed", sa, 3, &n, err, sizeof err), GGDM_ERR_FORMAT, "element 0: expected a string, found a number");
    EXPECT_ERR(ggdm_cli_cfg_strs(&c, "act", sa, 3, &n, err, sizeof err), GGDM_ERR_FORMAT, "expected an array");
    EXPECT_ERR(ggdm_cli_cfg_ints_bcast(&c, "blocks", 3, arr, err, sizeof err), GGDM_ERR_FORMAT, "has 4 elements, expected 3");
    EXPECT_ERR(ggdm_cli_cfg_ints_bcast(&c, "act", 3, arr, err, sizeof err), GGDM_ERR_FORMAT,
               "expected an integer or an array of integers");
    EXPECT_ERR(ggdm_cli_cfg_ints_bcast(&c, "half", 3, arr, err, sizeof err), GGDM_ERR_FORMAT, "expected an integer");
    EXPECT_ERR(ggdm_cli_cfg_ints_bcast(&c, "absent", 3, arr, err, sizeof err), GGDM_ERR_FORMAT, "missing");
    EXPECT_ERR(ggdm_cli_cfg_ints_bcast(&c, "heads", -1, arr, err, sizeof err), GGDM_ERR_ARG, "negative");
    EXPECT_ERR(ggdm_cli_cfg_int(NULL, "a", &i, err, sizeof err), GGDM_ERR_ARG, "null");
    ggdm_cli_cfg_free(&c);
    ggdm_cli_cfg_free(NULL);
    put_text("cfg/arr.json", "[1]");
    EXPECT_ERR(ggdm_cli_cfg_load(&c, tp("cfg/arr.json"), err, sizeof err), GGDM_ERR_FORMAT,
               "arr.json: the top level is an array, not an object");
    put_text("cfg/dup.json", "{\"a\": 1, \"a\": 1}");
    EXPECT_ERR(ggdm_cli_cfg_load(&c, tp("cfg/dup.json"), err, sizeof err), GGDM_ERR_FORMAT, "dup.json: at byte 9: duplicate key 'a'");
    assert_int_equal(ggdm_cli_cfg_load(NULL, "x", err, sizeof err), GGDM_ERR_ARG);
}

/* ------------------------------------------------------------------ synthetic tables */

typedef struct stable {
    ggdm_param_info info[16];
    int n;
    uint64_t total;
} stable;

static ggdm_status stable_fn(const void *cfg, int i, ggdm_param_info *info)
{
    const stable *t = (const stable *)cfg;
    if (i < 0 || i >= t->n)
        return GGDM_ERR_ARG;
    *info = t->info[i];
    return GGDM_OK;
}

static void st_add(stable *t, const char *name, int ndim, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    ggdm_param_info *p = &t->info[t->n++];
    uint64_t dims[4] = {a, b, c, d};
    int k;
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    p->count = 1;
    for (k = 0; k < ndim; k++) {
        p->shape[k] = dims[k];
        p->count *= dims[k];
    }
    p->offset = t->total;
    t->total += p->count;
}

static ggdm_param_table table_of(const stable *t)
{
    ggdm_param_table tb;
    tb.cfg = t;
    tb.tensor = stable_fn;
    tb.n_tensors = t->n;
    tb.n_params = t->total;
    return tb;
}

/* A small "unet": a conv, a linear (run as a 1x1 conv in ggdm: [O, I, 1, 1]), norm, bias. */
static void small_unet(stable *t)
{
    memset(t, 0, sizeof *t);
    st_add(t, "conv_in.weight", 4, 4, 3, 3, 3);
    st_add(t, "conv_in.bias", 1, 4, 0, 0, 0);
    st_add(t, "down_blocks.0.attentions.0.proj_in.weight", 4, 6, 4, 1, 1);
    st_add(t, "down_blocks.0.attentions.0.norm.weight", 1, 4, 0, 0, 0);
    st_add(t, "time_embedding.linear_1.weight", 2, 5, 4, 0, 0);
    st_add(t, "scalar", 0, 0, 0, 0, 0);
}

static float *fill(uint64_t n, uint32_t seed)
{
    float *p = (float *)malloc((size_t)(n ? n : 1) * sizeof *p);
    uint64_t i;
    rng_state = 0x12345678ull * (seed + 1);
    for (i = 0; i < n; i++)
        p[i] = (float)((int32_t)rnd32()) / 1048576.0f; /* |x| up to 2048 */
    if (n > 3) {
        p[0] = -0.0f;
        p[1] = 70000.0f; /* beyond F16 */
        p[2] = bitsf(0x7fc00001u);
    }
    return p;
}

static void test_save_load_roundtrip(void **state)
{
    stable t;
    ggdm_param_table tb;
    float *p, *q;
    ggdm_weight_set set;
    uint64_t i;
    (void)state;
    small_unet(&t);
    tb = table_of(&t);
    p = fill(t.total, 1);
    q = (float *)malloc(t.total * sizeof *q);
    mk("rt");
    /* F32, one file: bit for bit */
    EXPECT_OK(ggdm_cli_params_save(tp("rt/unet"), "diffusion_pytorch_model", NULL, &tb, p, GGDM_ST_F32, 0, err,
                                   sizeof err));
    EXPECT_OK(ggdm_cli_wset_open_dir(&set, tp("rt/unet"), NULL, NULL, err, sizeof err));
    assert_int_equal(set.n_files, 1);
    assert_null(set.index_path);
    assert_int_equal(set.n_entries, 6);
    memset(q, 0xff, t.total * sizeof *q);
    EXPECT_OK(ggdm_cli_params_load(&set, &tb, q, NULL, err, sizeof err));
    assert_memory_equal(p, q, t.total * sizeof *q);
    ggdm_cli_wset_close(&set);
    ggdm_cli_wset_close(&set); /* twice is fine */
    /* the same bytes twice (deterministic) and tensors sorted by name */
    {
        uint8_t *a, *b;
        uint64_t la, lb;
        EXPECT_OK(ggdm_io_read_file(tp("rt/unet/diffusion_pytorch_model.safetensors"), &a, &la, err, sizeof err));
        EXPECT_OK(ggdm_cli_params_save_file(tp("rt/copy.safetensors"), &tb, p, GGDM_ST_F32, NULL, 0, err, sizeof err));
        EXPECT_OK(ggdm_io_read_file(tp("rt/copy.safetensors"), &b, &lb, err, sizeof err));
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        assert_true(has((const char *)a + 8, "{\"__metadata__\":{\"format\":\"pt\"},\"conv_in.bias\""));
        free(a);
        free(b);
    }
    /* F16 with variant, sharded at 64 bytes: several shards and an index */
    EXPECT_OK(ggdm_cli_params_save(tp("rt/unet"), "diffusion_pytorch_model", "fp16", &tb, p, GGDM_ST_F16, 64, err,
                                   sizeof err));
    assert_true(ggdm_io_exists(tp("rt/unet/diffusion_pytorch_model.safetensors.index.fp16.json")));
    assert_true(ggdm_io_exists(tp("rt/unet/diffusion_pytorch_model.fp16-00001-of-00003.safetensors")));
    assert_true(ggdm_io_exists(tp("rt/unet/diffusion_pytorch_model.fp16-00003-of-00003.safetensors")));
    EXPECT_OK(ggdm_cli_wset_open_dir(&set, tp("rt/unet"), NULL, "fp16", err, sizeof err));
    assert_int_equal(set.n_files, 3);
    assert_non_null(set.index_path);
    EXPECT_OK(ggdm_cli_params_load(&set, &tb, q, NULL, err, sizeof err));
    for (i = 0; i < t.total; i++)
        assert_int_equal(fbits(q[i]), ggdm_st_f16_to_f32_bits(ggdm_st_f32_to_f16_bits(fbits(p[i]))));
    assert_true(isinf(q[1]) && fbits(q[0]) == 0x80000000u && fbits(q[2]) == 0x7fc00000u);
    ggdm_cli_wset_close(&set);
    {
        ggdm_jv *ix = NULL;
        EXPECT_OK(ggdm_jv_parse_file(tp("rt/unet/diffusion_pytorch_model.safetensors.index.fp16.json"), NULL, &ix, err,
                                     sizeof err));
        assert_int_equal(ggdm_jv_get(ggdm_jv_get(ix, "metadata"), "total_size")->i, (long long)t.total * 2);
        assert_string_equal(ggdm_jv_get(ggdm_jv_get(ix, "weight_map"), "conv_in.weight")->s,
                            "diffusion_pytorch_model.fp16-00001-of-00003.safetensors");
        ggdm_jv_free(ix);
    }
    /* sharding F32 then single again: the other form's file is removed */
    EXPECT_OK(ggdm_cli_params_save(tp("rt/te"), "model", NULL, &tb, p, GGDM_ST_F32, 200, err, sizeof err));
    assert_true(ggdm_io_exists(tp("rt/te/model.safetensors.index.json")));
    assert_false(ggdm_io_exists(tp("rt/te/model.safetensors")));
    EXPECT_OK(ggdm_cli_wset_open(&set, tp("rt/te/model.safetensors.index.json"), err, sizeof err));
    EXPECT_OK(ggdm_cli_params_load(&set, &tb, q, NULL, err, sizeof err));
    assert_memory_equal(p, q, t.total * sizeof *q);
    ggdm_cli_wset_close(&set);
    EXPECT_OK(ggdm_cli_params_save(tp("rt/te"), "model", NULL, &tb, p, GGDM_ST_F32, 1u << 20, err, sizeof err));
    assert_true(ggdm_io_exists(tp("rt/te/model.safetensors")));
    assert_false(ggdm_io_exists(tp("rt/te/model.safetensors.index.json")));
    EXPECT_OK(ggdm_cli_wset_open_dir(&set, tp("rt/te"), "model", NULL, err, sizeof err));
    ggdm_cli_wset_close(&set);
    /* writing refusals */
    EXPECT_ERR(ggdm_cli_params_save(tp("rt/x"), "model", NULL, &tb, p, GGDM_ST_BF16, 0, err, sizeof err), GGDM_ERR_ARG,
               "ggdm writes F32 or F16, not BF16");
    EXPECT_ERR(ggdm_cli_params_save(tp("rt/x"), "a/b", NULL, &tb, p, GGDM_ST_F32, 0, err, sizeof err), GGDM_ERR_ARG,
               "bad folder");
    EXPECT_ERR(ggdm_cli_params_save(tp("rt/x"), "m", NULL, NULL, p, GGDM_ST_F32, 0, err, sizeof err), GGDM_ERR_ARG,
               "null argument");
    EXPECT_ERR(ggdm_cli_params_save_file(NULL, &tb, p, GGDM_ST_F32, NULL, 0, err, sizeof err), GGDM_ERR_ARG, "null");
    EXPECT_ERR(ggdm_cli_params_save_file(tp("nodir/x/y.safetensors"), &tb, p, GGDM_ST_F32, NULL, 0, err, sizeof err),
               GGDM_ERR_IO, "cannot create");
    put_text("rt/afile", "x");
    EXPECT_ERR(ggdm_cli_params_save(tp("rt/afile"), "m", NULL, &tb, p, GGDM_ST_F32, 0, err, sizeof err), GGDM_ERR_IO,
               "cannot create the folder");
    {
        stable d = t;
        ggdm_param_table db;
        ggdm_st_kv kv = {"k", "v"};
        snprintf(d.info[1].name, sizeof d.info[1].name, "conv_in.weight");
        db = table_of(&d);
        EXPECT_ERR(ggdm_cli_params_save_file(tp("rt/d.safetensors"), &db, p, GGDM_ST_F32, NULL, 0, err, sizeof err),
                   GGDM_ERR_ARG, "rt/d.safetensors: ");
        EXPECT_ERR(ggdm_cli_params_save(tp("rt/d"), "m", NULL, &db, p, GGDM_ST_F32, 64, err, sizeof err), GGDM_ERR_ARG,
                   "duplicate tensor names");
        EXPECT_OK(ggdm_cli_params_save_file(tp("rt/kv.safetensors"), &tb, p, GGDM_ST_F32, &kv, 1, err, sizeof err));
    }
    free(p);
    free(q);
}

/* ------------------------------------------------------------------ hostile weights */

/* Writes a safetensors file of the given specs (data: zeros). */
static void put_st(const char *rel, const ggdm_st_spec *specs, uint64_t n)
{
    uint64_t hb, db, w;
    char msg[GGDM_ST_MSG_LEN];
    uint8_t *buf;
    assert_int_equal(ggdm_st_header_size(specs, n, NULL, 0, &hb, &db, msg), GGDM_OK);
    buf = (uint8_t *)calloc(1, (size_t)(hb + db));
    assert_int_equal(ggdm_st_write_header(specs, n, NULL, 0, buf, hb, &w, msg), GGDM_OK);
    put_file(rel, buf, (size_t)(hb + db));
    free(buf);
}

static void test_load_refusals(void **state)
{
    stable t;
    ggdm_param_table tb;
    ggdm_weight_set set;
    float q[64];
    ggdm_load_opts opts;
    (void)state;
    memset(&t, 0, sizeof t);
    st_add(&t, "lin.weight", 4, 3, 2, 1, 1);
    st_add(&t, "lin.bias", 1, 3, 0, 0, 0);
    tb = table_of(&t);
    mk("bad");
    {
        /* the linear-vs-1x1-conv equivalence, both ways; exactly that */
        ggdm_st_spec ok[2] = {{"lin.weight", GGDM_ST_F16, 2, {3, 2}}, {"lin.bias", GGDM_ST_BF16, 1, {3}}};
        put_st("bad/lin.safetensors", ok, 2);
        EXPECT_OK(ggdm_cli_wset_open(&set, tp("bad/lin.safetensors"), err, sizeof err));
        EXPECT_OK(ggdm_cli_params_load(&set, &tb, q, NULL, err, sizeof err));
        ggdm_cli_wset_close(&set);
    }
    {
        stable t2;
        ggdm_param_table tb2;
        ggdm_st_spec conv[1] = {{"w", GGDM_ST_F32, 4, {3, 2, 1, 1}}};
        ggdm_st_spec conv3[1] = {{"w", GGDM_ST_F32, 4, {3, 2, 3, 1}}};
        memset(&t2, 0, sizeof t2);
        st_add(&t2, "w", 2, 3, 2, 0, 0);
        tb2 = table_of(&t2);
        put_st("bad/conv.safetensors", conv, 1);
        EXPECT_OK(ggdm_cli_wset_open(&set, tp("bad/conv.safetensors"), err, sizeof err));
        EXPECT_OK(ggdm_cli_params_load(&set, &tb2, q, NULL, err, sizeof err));
        ggdm_cli_wset_close(&set);
        put_st("bad/conv3.safetensors", conv3, 1);
        EXPECT_OK(ggdm_cli_wset_open(&set, tp("bad/conv3.safetensors"), err, sizeof err));
        EXPECT_ERR(ggdm_cli_params_load(&set, &tb2, q, NULL, err, sizeof err), GGDM_ERR_FORMAT,
                   "conv3.safetensors: tensor 'w' has shape [3, 2, 3, 1], the network expects [3, 2]");
        ggdm_cli_wset_close(&set);
    }
    {
        ggdm_st_spec s[2] = {{"lin.weight", GGDM_ST_F32, 4, {3, 2, 1, 1}}, {"lin.bias", GGDM_ST_F32, 1, {4}}};
        put_st("bad/shape.safetensors", s, 2);
        EXPECT_OK(ggdm_cli_wset_open(&set, tp("bad/shape.safetensors"), err, sizeof err));
        EXPECT_ERR(ggdm_cli_params_load(&set, &tb, q, NULL, err, sizeof err), GGDM_ERR_FORMAT,
                   "shape.safetensors: tensor 'lin.bias' has shape [4], the network expects [3]");
        ggdm_cli_wset_close(&set);
    }
    {
        ggdm_st_spec s[2] = {{"lin.weight", GGDM_ST_F32, 4, {3, 2, 1, 1}}, {"lin.bias", GGDM_ST_F64, 1, {3}}};
        put_st("bad/dtype.safetensors", s, 2);
        EXPECT_OK(ggdm_cli_wset_open(&set, tp("bad/dtype.safetensors"), err, sizeof err));
        EXPECT_ERR(ggdm_cli_params_load(&set, &tb, q, NULL, err, sizeof err), GGDM_ERR_UNSUPPORTED,
                   "dtype.safetensors: tensor 'lin.bias' is F64; ggdm reads F32, F16 and BF16 weights");
        ggdm_cli_wset_close(&set);
    }
    {
        ggdm_st_spec s[1] = {{"lin.weight", GGDM_ST_F32, 4, {3, 2, 1, 1}}};
        put_st("bad/missing.safetensors", s, 1);
        EXPECT_OK(ggdm_cli_wset_open(&set, tp("bad/missing.safetensors"), err, sizeof err));
        EXPECT_ERR(ggdm_cli_params_load(&set, &tb, q, NULL, err, sizeof err), GGDM_ERR_FORMAT,
                   "missing.safetensors: tensor 'lin.bias' is missing");
        ggdm_cli_wset_close(&set);
    }
    {
        static const char *const ign[] = {"*num_batches_tracked", "extra.exact", NULL};
        ggdm_st_spec s[4] = {{"lin.weight", GGDM_ST_F32, 4, {3, 2, 1, 1}},
                             {"lin.bias", GGDM_ST_F32, 1, {3}},
                             {"bn.num_batches_tracked", GGDM_ST_I64, 0, {0}},
                             {"extra.exact", GGDM_ST_I64, 1, {2}}};
        put_st("bad/extra.safetensors", s, 4);
        EXPECT_OK(ggdm_cli_wset_open(&set, tp("bad/extra.safetensors"), err, sizeof err));
        EXPECT_ERR(ggdm_cli_params_load(&set, &tb, q, NULL, err, sizeof err), GGDM_ERR_FORMAT,
                   "extra.safetensors: tensor 'bn.num_batches_tracked' is not a parameter of the network: the "
                   "configuration does not match the weights");
        memset(&opts, 0, sizeof opts);
        opts.ignore = ign;
        EXPECT_OK(ggdm_cli_params_load(&set, &tb, q, &opts, err, sizeof err));
        ggdm_cli_wset_close(&set);
    }
    {
        /* the old VAE attention names, through the alias; two parameters on one tensor refused */
        stable v;
        ggdm_param_table vb;
        ggdm_st_spec s[3] = {{"mid.attentions.0.query.weight", GGDM_ST_F32, 2, {2, 2}},
                             {"mid.attentions.0.proj_attn.bias", GGDM_ST_F32, 1, {2}},
                             {"mid.attentions.0.to_k.weight", GGDM_ST_F32, 2, {2, 2}}};
        char out[256];
        memset(&v, 0, sizeof v);
        st_add(&v, "mid.attentions.0.to_q.weight", 2, 2, 2, 0, 0);
        st_add(&v, "mid.attentions.0.to_out.0.bias", 1, 2, 0, 0, 0);
        st_add(&v, "mid.attentions.0.to_k.weight", 2, 2, 2, 0, 0);
        vb = table_of(&v);
        put_st("bad/vae.safetensors", s, 3);
        EXPECT_OK(ggdm_cli_wset_open(&set, tp("bad/vae.safetensors"), err, sizeof err));
        EXPECT_ERR(ggdm_cli_params_load(&set, &vb, q, NULL, err, sizeof err), GGDM_ERR_FORMAT,
                   "tensor 'mid.attentions.0.to_q.weight' is missing");
        memset(&opts, 0, sizeof opts);
        opts.alias = ggdm_cli_alias_vae_attn;
        EXPECT_OK(ggdm_cli_params_load(&set, &vb, q, &opts, err, sizeof err));
        snprintf(v.info[2].name, sizeof v.info[2].name, "mid.attentions.0.query.weight");
        EXPECT_ERR(ggdm_cli_params_load(&set, &vb, q, &opts, err, sizeof err), GGDM_ERR_FORMAT,
                   "tensor 'mid.attentions.0.query.weight' is claimed by two parameters, "
                   "'mid.attentions.0.to_q.weight' and 'mid.attentions.0.query.weight'");
        ggdm_cli_wset_close(&set);
        assert_int_equal(ggdm_cli_alias_vae_attn(NULL, "a.attentions.1.to_v.weight", 0, out, sizeof out), 1);
        assert_string_equal(out, "a.attentions.1.value.weight");
        assert_int_equal(ggdm_cli_alias_vae_attn(NULL, "a.attentions.1.to_v.weight", 1, out, sizeof out), 0);
        assert_int_equal(ggdm_cli_alias_vae_attn(NULL, "a.resnets.1.to_v.weight", 0, out, sizeof out), 0);
        assert_int_equal(ggdm_cli_alias_vae_attn(NULL, "a.attentions.1.conv.weight", 0, out, sizeof out), 0);
        assert_int_equal(ggdm_cli_alias_vae_attn(NULL, "a.attentions.1.to_v.weight", 0, out, 8), 0);
    }
    {
        /* a table that is inconsistent */
        ggdm_st_spec s[2] = {{"lin.weight", GGDM_ST_F32, 4, {3, 2, 1, 1}}, {"lin.bias", GGDM_ST_F32, 1, {3}}};
        stable b2 = t;
        ggdm_param_table bb;
        put_st("bad/ok.safetensors", s, 2);
        EXPECT_OK(ggdm_cli_wset_open(&set, tp("bad/ok.safetensors"), err, sizeof err));
        b2.info[1].count = 4;
        bb = table_of(&b2);
        EXPECT_ERR(ggdm_cli_params_load(&set, &bb, q, NULL, err, sizeof err), GGDM_ERR_ARG, "'lin.bias': count 4");
        b2 = t;
        b2.info[1].offset = 7;
        bb = table_of(&b2);
        EXPECT_ERR(ggdm_cli_params_load(&set, &bb, q, NULL, err, sizeof err), GGDM_ERR_ARG, "do not fit");
        b2 = t;
        b2.info[1].ndim = 5;
        bb = table_of(&b2);
        EXPECT_ERR(ggdm_cli_params_load(&set, &bb, q, NULL, err, sizeof err), GGDM_ERR_ARG, "5 dimensions");
        b2 = t;
        b2.info[1].name[0] = 0;
        bb = table_of(&b2);
        EXPECT_ERR(ggdm_cli_params_load(&set, &bb, q, NULL, err, sizeof err), GGDM_ERR_ARG, "no valid name");
        b2 = t;
        b2.info[0].shape[0] = UINT64_MAX;
        bb = table_of(&b2);
        EXPECT_ERR(ggdm_cli_params_load(&set, &bb, q, NULL, err, sizeof err), GGDM_ERR_ARG, "overflows");
        bb = table_of(&t);
        bb.n_tensors = 3;
        EXPECT_ERR(ggdm_cli_params_load(&set, &bb, q, NULL, err, sizeof err), GGDM_ERR_ARG, "entry 2 cannot be read");
        bb = table_of(&t);
        EXPECT_ERR(ggdm_cli_params_load(&set, &bb, NULL, NULL, err, sizeof err), GGDM_ERR_ARG, "null");
        EXPECT_ERR(ggdm_cli_params_load(NULL, &bb, q, NULL, err, sizeof err), GGDM_ERR_ARG, "null");
        ggdm_cli_wset_close(&set);
    }
    /* files that are not safetensors, truncated, empty, a folder */
    put_text("bad/text.safetensors", "hello world, not a safetensors file");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("bad/text.safetensors"), err, sizeof err), GGDM_ERR_FORMAT,
               "bad/text.safetensors: safetensors: ");
    assert_int_equal(set.n_files, 0);
    put_text("bad/empty.safetensors", "");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("bad/empty.safetensors"), err, sizeof err), GGDM_ERR_FORMAT,
               "empty.safetensors: safetensors: ");
    {
        uint8_t *b;
        uint64_t n;
        EXPECT_OK(ggdm_io_read_file(tp("bad/ok.safetensors"), &b, &n, err, sizeof err));
        put_file("bad/trunc.safetensors", b, (size_t)n - 1);
        EXPECT_ERR(ggdm_cli_wset_open(&set, tp("bad/trunc.safetensors"), err, sizeof err), GGDM_ERR_FORMAT,
                   "trunc.safetensors: safetensors: ");
        put_file("bad/trunc2.safetensors", b, 20);
        EXPECT_ERR(ggdm_cli_wset_open(&set, tp("bad/trunc2.safetensors"), err, sizeof err), GGDM_ERR_FORMAT,
                   "trunc2.safetensors: safetensors: ");
        free(b);
    }
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("bad"), err, sizeof err), GGDM_ERR_IO, "not a regular file");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("bad/none.safetensors"), err, sizeof err), GGDM_ERR_IO, "cannot open");
    EXPECT_ERR(ggdm_cli_wset_open(NULL, "x", err, sizeof err), GGDM_ERR_ARG, "null");
    {
        ggdm_st_spec s[1] = {{"a\\b", GGDM_ST_F32, 1, {1}}};
        ggdm_st_spec nul[1] = {{"x", GGDM_ST_F32, 1, {1}}};
        uint8_t *b;
        uint64_t n, k;
        put_st("bad/esc.safetensors", s, 1);
        EXPECT_OK(ggdm_cli_wset_open(&set, tp("bad/esc.safetensors"), err, sizeof err));
        assert_non_null(ggdm_cli_wset_find(&set, "a\\b"));
        assert_null(ggdm_cli_wset_find(&set, "a"));
        assert_null(ggdm_cli_wset_find(NULL, "a"));
        ggdm_cli_wset_close(&set);
        /* a name decoding to a NUL character */
        put_st("bad/nul.safetensors", nul, 1);
        EXPECT_OK(ggdm_io_read_file(tp("bad/nul.safetensors"), &b, &n, err, sizeof err));
        for (k = 8; k + 3 < n; k++)
            if (!memcmp(b + k, "\"x\"", 3))
                break;
        {
            /* "x" -> "\u0000x" would change the length; rebuild the header by hand instead */
            const char *hdr = "{\"\\u0000\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
            uint8_t f2[128];
            size_t hl = strlen(hdr);
            memset(f2, 0, sizeof f2);
            ggdm_le_store_u64(f2, hl);
            memcpy(f2 + 8, hdr, hl);
            put_file("bad/nul.safetensors", f2, 8 + hl + 4);
        }
        free(b);
        EXPECT_ERR(ggdm_cli_wset_open(&set, tp("bad/nul.safetensors"), err, sizeof err), GGDM_ERR_FORMAT,
                   "has a NUL character in its name");
    }
}

static void put_index(const char *rel, const char *json) { put_text(rel, json); }

static void test_index_refusals(void **state)
{
    ggdm_weight_set set;
    ggdm_st_spec a[2] = {{"a.w", GGDM_ST_F32, 1, {2}}, {"a.b", GGDM_ST_F32, 1, {1}}};
    ggdm_st_spec b[1] = {{"b.w", GGDM_ST_F32, 1, {3}}};
    ggdm_st_spec dup[1] = {{"a.w", GGDM_ST_F32, 1, {2}}};
    (void)state;
    mk("ix");
    put_st("ix/m-1.safetensors", a, 2);
    put_st("ix/m-2.safetensors", b, 1);
    put_st("ix/dup.safetensors", dup, 1);
    put_index("ix/good.json", "{\"metadata\": {\"total_size\": 24}, \"weight_map\": {\"a.w\": \"m-1.safetensors\", "
                              "\"a.b\": \"m-1.safetensors\", \"b.w\": \"m-2.safetensors\"}}");
    EXPECT_OK(ggdm_cli_wset_open(&set, tp("ix/good.json"), err, sizeof err));
    assert_int_equal(set.n_files, 2); /* m-1 named twice, opened once */
    assert_int_equal(set.n_entries, 3);
    ggdm_cli_wset_close(&set);
    put_index("ix/j1.json", "{\"weight_map\": {\"a.w\": \"m-1.safetensors\",}}");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j1.json"), err, sizeof err), GGDM_ERR_FORMAT, "j1.json: at byte 40: a trailing comma");
    put_index("ix/j2.json", "[1]");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j2.json"), err, sizeof err), GGDM_ERR_FORMAT, "the top level is an array");
    put_index("ix/j3.json", "{\"metadata\": {}}");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j3.json"), err, sizeof err), GGDM_ERR_FORMAT, "\"weight_map\" is missing");
    put_index("ix/j4.json", "{\"metadata\": 3, \"weight_map\": {}}");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j4.json"), err, sizeof err), GGDM_ERR_FORMAT, "\"metadata\" is a number");
    put_index("ix/j5.json", "{\"weight_map\": {\"a.w\": 1}}");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j5.json"), err, sizeof err), GGDM_ERR_FORMAT,
               "weight_map['a.w'] is a number, not a file name");
    put_index("ix/j6.json", "{\"weight_map\": {\"a.w\": \"../ix/m-1.safetensors\"}}");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j6.json"), err, sizeof err), GGDM_ERR_FORMAT, "has a path separator");
    put_index("ix/j7.json", "{\"weight_map\": {\"a.w\": \"j7.json\"}}");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j7.json"), err, sizeof err), GGDM_ERR_FORMAT,
               "does not end in .safetensors");
    put_index("ix/j8.json", "{\"weight_map\": {\"a.w\": \".hidden.safetensors\"}}");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j8.json"), err, sizeof err), GGDM_ERR_FORMAT, "starts with '.'");
    put_index("ix/j9.json", "{\"weight_map\": {\"a.w\": \"\"}}");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j9.json"), err, sizeof err), GGDM_ERR_FORMAT, "is empty");
    put_index("ix/j10.json", "{\"weight_map\": {\"a.w\": \"x\\u0000.safetensors\"}}");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j10.json"), err, sizeof err), GGDM_ERR_FORMAT, "NUL character");
    put_index("ix/j11.json", "{\"weight_map\": {\"a.w\": \"gone.safetensors\"}}");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j11.json"), err, sizeof err), GGDM_ERR_FORMAT,
               "shard ");
    assert_true(has(err, "gone.safetensors named in the index is missing"));
    put_index("ix/j12.json", "{\"weight_map\": {\"a.w\": \"m-1.safetensors\", \"a.b\": \"m-1.safetensors\", "
                             "\"b.w\": \"m-2.safetensors\", \"c.w\": \"m-2.safetensors\"}}");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j12.json"), err, sizeof err), GGDM_ERR_FORMAT,
               "tensor 'c.w' is listed in the index but not in its shard");
    put_index("ix/j13.json", "{\"weight_map\": {\"a.w\": \"m-1.safetensors\", \"b.w\": \"m-2.safetensors\"}}");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j13.json"), err, sizeof err), GGDM_ERR_FORMAT,
               "tensor 'a.b' of ");
    assert_true(has(err, "m-1.safetensors is not listed in the index"));
    put_index("ix/j14.json", "{\"weight_map\": {\"a.w\": \"m-2.safetensors\", \"a.b\": \"m-1.safetensors\", "
                             "\"b.w\": \"m-1.safetensors\"}}");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j14.json"), err, sizeof err), GGDM_ERR_FORMAT, "but the index puts it in");
    put_index("ix/j15.json", "{\"weight_map\": {\"a.w\": \"m-1.safetensors\", \"a.b\": \"m-1.safetensors\", "
                             "\"x\": \"dup.safetensors\"}}");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j15.json"), err, sizeof err), GGDM_ERR_FORMAT, "tensor 'a.w' is in both");
    put_index("ix/j16.json", "{\"weight_map\": {\"a.w\": \"m-1.safetensors\", \"a.w\": \"m-1.safetensors\"}}");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j16.json"), err, sizeof err), GGDM_ERR_FORMAT, "duplicate key 'a.w'");
    put_text("ix/broken.safetensors", "12345678");
    put_index("ix/j17.json", "{\"weight_map\": {\"a.w\": \"broken.safetensors\"}}");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j17.json"), err, sizeof err), GGDM_ERR_FORMAT, "broken.safetensors: safetensors:");
    mk("ix/adir.safetensors");
    put_index("ix/j18.json", "{\"weight_map\": {\"a.w\": \"adir.safetensors\"}}");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/j18.json"), err, sizeof err), GGDM_ERR_FORMAT, "not a regular file");
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("ix/none.json"), err, sizeof err), GGDM_ERR_IO, "cannot open");
    put_index("ix/j19.json", "{\"weight_map\": {}}");
    EXPECT_OK(ggdm_cli_wset_open(&set, tp("ix/j19.json"), err, sizeof err)); /* an empty model */
    assert_int_equal(set.n_entries, 0);
    assert_null(ggdm_cli_wset_find(&set, "a"));
    ggdm_cli_wset_close(&set);
    /* a folder with both forms, none, a bad variant */
    mk("amb");
    put_st("amb/model.safetensors", a, 2);
    put_index("amb/model.safetensors.index.json", "{\"weight_map\": {}}");
    EXPECT_ERR(ggdm_cli_wset_open_dir(&set, tp("amb"), "model", NULL, err, sizeof err), GGDM_ERR_FORMAT, "ambiguous");
    EXPECT_ERR(ggdm_cli_wset_open_dir(&set, tp("amb"), NULL, "fp16", err, sizeof err), GGDM_ERR_IO,
               "no weights (looked for diffusion_pytorch_model.fp16.safetensors, "
               "diffusion_pytorch_model.safetensors.index.fp16.json, model.fp16.safetensors, "
               "model.safetensors.index.fp16.json)");
    EXPECT_ERR(ggdm_cli_wset_open_dir(&set, tp("amb"), NULL, "../x", err, sizeof err), GGDM_ERR_ARG, "not a plain name");
    EXPECT_ERR(ggdm_cli_wset_open_dir(&set, tp("nowhere"), NULL, NULL, err, sizeof err), GGDM_ERR_IO, "not a folder");
    EXPECT_ERR(ggdm_cli_wset_open_dir(NULL, "x", NULL, NULL, err, sizeof err), GGDM_ERR_ARG, "null");
}

/* ------------------------------------------------------------------ model folders */

static void test_model_dir(void **state)
{
    ggdm_model_dir md;
    ggdm_cli_cfg cfg;
    ggdm_weight_set set;
    stable t;
    ggdm_param_table tb;
    float *p, *q;
    char path[4096];
    long long ss;
    (void)state;
    small_unet(&t);
    tb = table_of(&t);
    p = fill(t.total, 2);
    q = (float *)calloc(t.total, sizeof *q);
    mk("sd/unet");
    mk("sd/vae");
    mk("sd/scheduler");
    mk("sd/tokenizer");
    put_text("sd/model_index.json",
             "{\"_class_name\": \"StableDiffusionPipeline\", \"_diffusers_version\": \"0.6.0\","
             " \"feature_extractor\": [null, null], \"safety_checker\": null,"
             " \"scheduler\": [\"diffusers\", \"PNDMScheduler\"], \"tokenizer\": [\"transformers\", \"CLIPTokenizer\"],"
             " \"unet\": [\"diffusers\", \"UNet2DConditionModel\"], \"vae\": [\"diffusers\", \"AutoencoderKL\"]}");
    put_text("sd/unet/config.json", "{\"_class_name\": \"UNet2DConditionModel\", \"sample_size\": 64}");
    put_text("sd/scheduler/scheduler_config.json", "{\"num_train_timesteps\": 1000}");
    put_text("sd/tokenizer/tokenizer_config.json", "{\"model_max_length\": 77}");
    EXPECT_OK(ggdm_cli_params_save(tp("sd/unet"), "diffusion_pytorch_model", NULL, &tb, p, GGDM_ST_F32, 0, err,
                                   sizeof err));
    EXPECT_OK(ggdm_cli_params_save(tp("sd/unet"), "diffusion_pytorch_model", "fp16", &tb, p, GGDM_ST_F16, 0, err,
                                   sizeof err));
    EXPECT_OK(ggdm_cli_model_open(&md, tp("sd"), err, sizeof err));
    assert_string_equal(ggdm_cli_model_class(&md, "unet"), "UNet2DConditionModel");
    assert_null(ggdm_cli_model_class(&md, "safety_checker"));
    assert_null(ggdm_cli_model_class(&md, "feature_extractor"));
    assert_null(ggdm_cli_model_class(&md, "_class_name"));
    assert_null(ggdm_cli_model_class(&md, "text_encoder"));
    EXPECT_OK(ggdm_cli_model_config(&md, "unet", &cfg, err, sizeof err));
    EXPECT_OK(ggdm_cli_cfg_int(&cfg, "sample_size", &ss, err, sizeof err));
    assert_int_equal(ss, 64);
    ggdm_cli_cfg_free(&cfg);
    EXPECT_OK(ggdm_cli_model_config(&md, "scheduler", &cfg, err, sizeof err));
    EXPECT_OK(ggdm_cli_cfg_int(&cfg, "num_train_timesteps", &ss, err, sizeof err));
    assert_int_equal(ss, 1000);
    ggdm_cli_cfg_free(&cfg);
    EXPECT_OK(ggdm_cli_model_config(&md, "tokenizer", &cfg, err, sizeof err));
    ggdm_cli_cfg_free(&cfg);
    EXPECT_ERR(ggdm_cli_model_config(&md, "vae", &cfg, err, sizeof err), GGDM_ERR_IO, "sd/vae/config.json: missing");
    EXPECT_ERR(ggdm_cli_model_config(&md, "text_encoder", &cfg, err, sizeof err), GGDM_ERR_ARG,
               "the pipeline has no component 'text_encoder'");
    EXPECT_ERR(ggdm_cli_model_config(&md, "unet", NULL, err, sizeof err), GGDM_ERR_ARG, "null");
    EXPECT_OK(ggdm_cli_model_path(&md, "vae", NULL, path, sizeof path, err, sizeof err));
    assert_true(has(path, "sd/vae"));
    EXPECT_ERR(ggdm_cli_model_path(&md, "vae", "config.json", path, 4, err, sizeof err), GGDM_ERR_BUFFER_TOO_SMALL,
               "too long");
    EXPECT_ERR(ggdm_cli_model_path(NULL, "vae", NULL, path, 4, err, sizeof err), GGDM_ERR_ARG, "null");
    /* weights: default and fp16 variant */
    EXPECT_OK(ggdm_cli_model_weights(&md, "unet", NULL, &set, err, sizeof err));
    EXPECT_OK(ggdm_cli_params_load(&set, &tb, q, NULL, err, sizeof err));
    assert_memory_equal(p, q, t.total * sizeof *q);
    ggdm_cli_wset_close(&set);
    EXPECT_OK(ggdm_cli_model_weights(&md, "unet", "fp16", &set, err, sizeof err));
    assert_true(has(set.files[0].path, "diffusion_pytorch_model.fp16.safetensors"));
    EXPECT_OK(ggdm_cli_params_load(&set, &tb, q, NULL, err, sizeof err));
    assert_true(isinf(q[1]));
    ggdm_cli_wset_close(&set);
    EXPECT_ERR(ggdm_cli_model_weights(&md, "vae", NULL, &set, err, sizeof err), GGDM_ERR_IO,
               "no weights (looked for diffusion_pytorch_model.safetensors, diffusion_pytorch_model.safetensors.index.json)");
    EXPECT_ERR(ggdm_cli_model_weights(&md, "text_encoder", NULL, &set, err, sizeof err), GGDM_ERR_ARG, "no component");
    /* a config that does not match the weights: the network has one tensor fewer */
    t.n--;
    tb = table_of(&t);
    EXPECT_OK(ggdm_cli_model_weights(&md, "unet", NULL, &set, err, sizeof err));
    EXPECT_ERR(ggdm_cli_params_load(&set, &tb, q, NULL, err, sizeof err), GGDM_ERR_FORMAT,
               "tensor 'scalar' is not a parameter of the network: the configuration does not match the weights");
    ggdm_cli_wset_close(&set);
    ggdm_cli_model_close(&md);
    ggdm_cli_model_close(&md);
    /* hostile folders */
    mk("h1");
    EXPECT_ERR(ggdm_cli_model_open(&md, tp("h1"), err, sizeof err), GGDM_ERR_IO,
               "h1/model_index.json: missing (not a diffusers pipeline folder)");
    EXPECT_ERR(ggdm_cli_model_open(&md, tp("h-none"), err, sizeof err), GGDM_ERR_IO, "not a folder");
    put_text("h1/model_index.json", "{\"unet\": [\"diffusers\", \"UNet2DConditionModel\"],}");
    EXPECT_ERR(ggdm_cli_model_open(&md, tp("h1"), err, sizeof err), GGDM_ERR_FORMAT, "model_index.json: at byte 46: a trailing comma");
    put_text("h1/model_index.json", "\"x\"");
    EXPECT_ERR(ggdm_cli_model_open(&md, tp("h1"), err, sizeof err), GGDM_ERR_FORMAT, "the top level is a string");
    put_text("h1/model_index.json", "{\"unet\": [\"diffusers\", \"UNet2DConditionModel\"]}");
    EXPECT_ERR(ggdm_cli_model_open(&md, tp("h1"), err, sizeof err), GGDM_ERR_FORMAT,
               "component 'unet' is listed but its folder");
    put_text("h1/model_index.json", "{\"unet\": \"UNet2DConditionModel\"}");
    EXPECT_ERR(ggdm_cli_model_open(&md, tp("h1"), err, sizeof err), GGDM_ERR_FORMAT,
               "component 'unet' must be [\"library\", \"ClassName\"] (or [null, null]), found a string");
    put_text("h1/model_index.json", "{\"unet\": [\"diffusers\", 3]}");
    EXPECT_ERR(ggdm_cli_model_open(&md, tp("h1"), err, sizeof err), GGDM_ERR_FORMAT, "component 'unet' must be");
    put_text("h1/model_index.json", "{\"../etc\": [\"a\", \"b\"]}");
    EXPECT_ERR(ggdm_cli_model_open(&md, tp("h1"), err, sizeof err), GGDM_ERR_FORMAT, "not a plain folder name");
    put_text("h1/model_index.json", "{\"_class_name\": 3}");
    EXPECT_OK(ggdm_cli_model_open(&md, tp("h1"), err, sizeof err));
    ggdm_cli_model_close(&md);
    EXPECT_ERR(ggdm_cli_model_open(NULL, "x", err, sizeof err), GGDM_ERR_ARG, "null");
    free(p);
    free(q);
}

/* ------------------------------------------------------------------ big files */

/* A sparse file over 4 GiB: a header naming a 4.5 GiB F16 tensor and a small F32 one after
 * it. Only the header and the small tensor's bytes are written. */
static void test_big_sparse(void **state)
{
    const uint64_t big = (9ull << 29) / 2; /* F16 elements: 4.5 GiB */
    char hdr[512];
    uint8_t head[520], tail[16];
    uint64_t hl, total, data_end;
    int fd, n;
    ggdm_weight_set set;
    stable t;
    ggdm_param_table tb;
    float q[4];
    float vals[4] = {1.5f, -2.0f, 0.25f, 1e30f};
    static const char *const ign[] = {"big", NULL};
    ggdm_load_opts opts;
    (void)state;
    if (ggdm_test_quick()) {
        skip(); /* (Valgrind would map 4.5 GiB) */
    }
    n = snprintf(hdr, sizeof hdr,
                 "{\"big\":{\"dtype\":\"F16\",\"shape\":[%llu],\"data_offsets\":[0,%llu]},"
                 "\"tail\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[%llu,%llu]}}",
                 (ull)big, (ull)(2 * big), (ull)(2 * big), (ull)(2 * big + 16));
    hl = (uint64_t)n;
    while (hl % 8)
        hdr[hl++] = ' ';
    ggdm_le_store_u64(head, hl);
    memcpy(head + 8, hdr, (size_t)hl);
    data_end = 2 * big + 16;
    total = 8 + hl + data_end;
    assert_true(total > (4ull << 30) + (1ull << 29));
    ggdm_st_encode_f32(vals, 4, tail);
    fd = open(tp("big.safetensors"), O_CREAT | O_TRUNC | O_WRONLY, 0644);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, head, (size_t)(8 + hl), 0), (ssize_t)(8 + hl));
    if (ftruncate(fd, (off_t)total) != 0 || pwrite(fd, tail, 16, (off_t)(8 + hl + 2 * big)) != 16) {
        close(fd);
        skip(); /* no room for a sparse file here */
    }
    close(fd);
    assert_int_equal(file_size(tp("big.safetensors")), total);
    EXPECT_OK(ggdm_cli_wset_open(&set, tp("big.safetensors"), err, sizeof err));
    {
        const ggdm_wentry *e = ggdm_cli_wset_find(&set, "tail");
        const ggdm_st_tensor *tt;
        assert_non_null(e);
        tt = &set.files[e->file].tensors[e->tensor];
        assert_true(tt->data_off > (4ull << 30));
        e = ggdm_cli_wset_find(&set, "big");
        assert_int_equal(set.files[e->file].tensors[e->tensor].data_len, 2 * big);
        assert_int_equal(set.files[e->file].tensors[e->tensor].count, big);
    }
    memset(&t, 0, sizeof t);
    st_add(&t, "tail", 1, 4, 0, 0, 0);
    tb = table_of(&t);
    EXPECT_ERR(ggdm_cli_params_load(&set, &tb, q, NULL, err, sizeof err), GGDM_ERR_FORMAT,
               "tensor 'big' is not a parameter");
    memset(&opts, 0, sizeof opts);
    opts.ignore = ign;
    EXPECT_OK(ggdm_cli_params_load(&set, &tb, q, &opts, err, sizeof err));
    assert_memory_equal(q, vals, sizeof vals);
    ggdm_cli_wset_close(&set);
    /* the file shorter than its header says: refused without reading the data */
    fd = open(tp("big.safetensors"), O_WRONLY);
    assert_int_equal(ftruncate(fd, (off_t)(total - 1)), 0);
    close(fd);
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("big.safetensors"), err, sizeof err), GGDM_ERR_FORMAT, "big.safetensors: safetensors: ");
    unlink(tp("big.safetensors"));
    /* a header length over 2 GiB (and over the file): "header too large" */
    ggdm_le_store_u64(head, (2ull << 30) + 8);
    put_file("hbig.safetensors", head, 8 + (size_t)hl);
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("hbig.safetensors"), err, sizeof err), GGDM_ERR_FORMAT, "header");
    assert_true(has(err, "hbig.safetensors: safetensors: "));
    /* a header length within the limit but beyond the file */
    ggdm_le_store_u64(head, hl + 1000);
    put_file("hlong.safetensors", head, 8 + (size_t)hl);
    EXPECT_ERR(ggdm_cli_wset_open(&set, tp("hlong.safetensors"), err, sizeof err), GGDM_ERR_FORMAT, "hlong.safetensors: safetensors: ");
    print_message("big: %s\n", err);
}

/* ------------------------------------------------------------------ io map */

static void test_io_map(void **state)
{
    ggdm_io_map m;
    (void)state;
    put_text("map.bin", "abc");
    EXPECT_OK(ggdm_io_map_file(tp("map.bin"), &m, err, sizeof err));
    assert_int_equal(m.len, 3);
    assert_memory_equal(m.data, "abc", 3);
    ggdm_io_unmap(&m);
    assert_null(m.data);
    ggdm_io_unmap(&m);
    ggdm_io_unmap(NULL);
    put_text("map0.bin", "");
    EXPECT_OK(ggdm_io_map_file(tp("map0.bin"), &m, err, sizeof err));
    assert_true(m.data == NULL && m.len == 0);
    EXPECT_ERR(ggdm_io_map_file(tp("nomap.bin"), &m, err, sizeof err), GGDM_ERR_IO, "nomap.bin: cannot open");
    EXPECT_ERR(ggdm_io_map_file(tmpdir, &m, err, sizeof err), GGDM_ERR_IO, "not a regular file");
    assert_int_equal(ggdm_io_map_file(NULL, &m, err, sizeof err), GGDM_ERR_ARG);
}

static int setup(void **state)
{
    const char *base = getenv("TMPDIR");
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/ggdm-model-dir-XXXXXX", base && base[0] ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ggdm_io_remove_tree(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_all_patterns), cmocka_unit_test(test_bf16_all_patterns),
        cmocka_unit_test(test_f32_to_f16),       cmocka_unit_test(test_load_as_f32),
        cmocka_unit_test(test_json_values),      cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_json_build_write), cmocka_unit_test(test_config),
        cmocka_unit_test(test_save_load_roundtrip), cmocka_unit_test(test_load_refusals),
        cmocka_unit_test(test_index_refusals),   cmocka_unit_test(test_model_dir),
        cmocka_unit_test(test_big_sparse),       cmocka_unit_test(test_io_map),
    };
    (void)rm_rf;
    return cmocka_run_group_tests(tests, setup, teardown);
}
