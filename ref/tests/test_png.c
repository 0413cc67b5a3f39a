/*
 * test_png.c - the image output path of `ggdm image` (ref/cli/png.c, image.c, pyrandom.c):
 * PNG bytes (signature, IHDR, chunk CRCs, the stored-block zlib stream and its Adler-32,
 * hostile sizes, the atomic save), diffusers' float -> uint8 on edge values, Pillow 9.4's
 * resize on two small images, the grid's layout, and Python's random.sample. Every expected
 * value was captured from Python 3.11.2 / zlib / Pillow 9.4.0 / torch (the literals below);
 * ci/interop/png_vs_pil.py checks the same against the libraries on many more inputs.
 *
 * The front-end files are compiled into this program (the Makefile links unit tests with the
 * library only).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../cli/io.c"
#include "../cli/png.c"
#include "../cli/image.c"
#include "../cli/pyrandom.c"

#include "ggdm_test.h"

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* ------------------------------------------------------------------ checksums */

static void test_checksums(void **state)
{
    (void)state;
    assert_int_equal(ggdm_png_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
    assert_int_equal(ggdm_png_crc32((const uint8_t *)"", 0), 0u);
    assert_int_equal(ggdm_png_crc32((const uint8_t *)"IEND", 4), 0xAE426082u);
    assert_int_equal(ggdm_png_adler32((const uint8_t *)"Wikipedia", 9), 0x11E60398u);
    assert_int_equal(ggdm_png_adler32((const uint8_t *)"", 0), 1u);
    {
        /* a long run of 0xFF: the modular reductions (zlib.adler32(b"\xff" * 100000)) */
        size_t n = 100000;
        uint8_t *b = (uint8_t *)malloc(n);
        assert_non_null(b);
        memset(b, 0xFF, n);
        assert_int_equal(ggdm_png_adler32(b, n), 0x149A302Cu);
        free(b);
    }
}

/* ------------------------------------------------------------------ PNG bytes */

/* Walks the chunks, checking each CRC; concatenates the IDATs' data into *z. */
static void walk_png(const uint8_t *p, size_t len, int w, int h, uint8_t **z, size_t *zlen)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    size_t pos = 8, n;
    int nchunk = 0, seen_end = 0;
    assert_true(len > 8);
    assert_memory_equal(p, sig, 8);
    *z = (uint8_t *)malloc(len);
    *zlen = 0;
    assert_non_null(*z);
    while (pos < len) {
        assert_true(pos + 12 <= len);
        n = be32(p + pos);
        assert_true(pos + 12 + n <= len);
        assert_int_equal(be32(p + pos + 8 + n), ggdm_png_crc32(p + pos + 4, n + 4));
        if (nchunk == 0) {
            assert_memory_equal(p + pos + 4, "IHDR", 4);
            assert_int_equal(n, 13);
            assert_int_equal(be32(p + pos + 8), (uint32_t)w);
            assert_int_equal(be32(p + pos + 12), (uint32_t)h);
            assert_int_equal(p[pos + 16], 8); /* bit depth */
            assert_int_equal(p[pos + 17], 2); /* RGB */
            assert_int_equal(p[pos + 18], 0);
            assert_int_equal(p[pos + 19], 0);
            assert_int_equal(p[pos + 20], 0); /* no interlace */
        } else if (memcmp(p + pos + 4, "IDAT", 4) == 0) {
            memcpy(*z + *zlen, p + pos + 8, n);
            *zlen += n;
        } else {
            assert_memory_equal(p + pos + 4, "IEND", 4);
            assert_int_equal(n, 0);
            seen_end = 1;
        }
        pos += 12 + n;
        nchunk++;
    }
    assert_int_equal(pos, len);
    assert_true(seen_end);
}

/* Undoes the stored blocks: the raw rows (malloc'd), checking LEN/NLEN, BFINAL, Adler-32. */
static uint8_t *unstore(const uint8_t *z, size_t zlen, size_t *rawlen)
{
    size_t pos = 2, n = 0;
    uint8_t *raw = (uint8_t *)malloc(zlen);
    int final = 0;
    assert_non_null(raw);
    assert_true(zlen >= 2 + 5 + 4);
    assert_int_equal(z[0], 0x78);
    assert_int_equal(((unsigned)z[0] * 256u + z[1]) % 31u, 0u); /* FCHECK */
    while (!final) {
        unsigned bl, nl;
        assert_true(pos + 5 <= zlen);
        assert_int_equal(z[pos] & 0xFE, 0); /* BTYPE 00 */
        final = z[pos] & 1;
        bl = z[pos + 1] | ((unsigned)z[pos + 2] << 8);
        nl = z[pos + 3] | ((unsigned)z[pos + 4] << 8);
        assert_int_equal(bl ^ nl, 0xFFFFu);
        assert_true(pos + 5 + bl <= zlen);
        memcpy(raw + n, z + pos + 5, bl);
        n += bl;
        pos += 5 + bl;
    }
    assert_int_equal(pos + 4, zlen);
    assert_int_equal(be32(z + pos), ggdm_png_adler32(raw, n));
    *rawlen = n;
    return raw;
}

static void check_roundtrip(int w, int h)
{
    size_t npx = (size_t)w * (size_t)h * 3u, len, zlen, rawlen, i;
    uint8_t *rgb = (uint8_t *)malloc(npx), *png, *z, *raw, *png2;
    size_t len2;
    char err[256];
    int y;
    assert_non_null(rgb);
    for (i = 0; i < npx; i++)
        rgb[i] = (uint8_t)(i * 131u + 7u);
    assert_int_equal(ggdm_png_encode(rgb, w, h, &png, &len, err, sizeof err), 0);
    walk_png(png, len, w, h, &z, &zlen);
    raw = unstore(z, zlen, &rawlen);
    assert_int_equal(rawlen, (size_t)h * (1 + (size_t)w * 3u));
    for (y = 0; y < h; y++) {
        const uint8_t *r = raw + (size_t)y * (1 + (size_t)w * 3u);
        assert_int_equal(r[0], 0);
        assert_memory_equal(r + 1, rgb + (size_t)y * (size_t)w * 3u, (size_t)w * 3u);
    }
    /* deterministic */
    assert_int_equal(ggdm_png_encode(rgb, w, h, &png2, &len2, err, sizeof err), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(png, png2, len);
    free(png2);
    free(raw);
    free(z);
    free(png);
    free(rgb);
}

static void test_png_encode(void **state)
{
    static const uint8_t px[18] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};
    uint8_t *png;
    size_t len;
    char err[256];
    (void)state;
    /* 3 x 2: every byte is known */
    assert_int_equal(ggdm_png_encode(px, 3, 2, &png, &len, err, sizeof err), 0);
    assert_int_equal(len, 8 + 25 + (12 + 2 + 5 + 20 + 4) + 12);
    assert_int_equal(be32(png + 29), 0x1216F14Du);        /* IHDR's CRC (zlib.crc32) */
    assert_int_equal(be32(png + 33), 2 + 5 + 20 + 4);     /* IDAT length */
    assert_int_equal(be32(png + 41 + 27), 0x0401009Au);   /* Adler-32 of the rows (zlib.adler32) */
    assert_int_equal(be32(png + len - 4), 0xAE426082u);   /* IEND's CRC */
    free(png);
    check_roundtrip(1, 1);
    check_roundtrip(5, 3);
    check_roundtrip(21845, 1); /* a row of exactly 65536 bytes: two stored blocks */
    check_roundtrip(200, 150); /* 90150 bytes: blocks split inside rows */
    check_roundtrip(7, 9363);  /* many short rows over a block boundary */
}

static void test_png_hostile(void **state)
{
    static const uint8_t px[3] = {1, 2, 3};
    static const int sizes[][2] = {{0, 1}, {1, 0}, {-1, 1}, {1, -5}, {(1 << 24) + 1, 1}, {1, (1 << 24) + 1},
                                   {1 << 24, 1 << 24}, {100000, 100000}};
    uint8_t *png = (uint8_t *)&png;
    size_t len = 99, i;
    char err[256];
    (void)state;
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        err[0] = '\0';
        assert_int_equal(ggdm_png_encode(px, sizes[i][0], sizes[i][1], &png, &len, err, sizeof err), -1);
        assert_null(png);
        assert_int_equal(len, 0);
        assert_non_null(strstr(err, "refused"));
    }
    /* a tiny error buffer is never overrun */
    assert_int_equal(ggdm_png_encode(px, 0, 0, &png, &len, err, 8), -1);
    assert_true(strlen(err) < 8);
}

static void test_png_save(void **state)
{
    char dir[] = "/tmp/ggdm-test-png-XXXXXX", path[256], err[512];
    static const uint8_t px[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9};
    uint8_t *png, *file;
    size_t len;
    uint64_t flen;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a.png", dir);
    assert_int_equal(ggdm_png_save(path, px, 2, 2, err, sizeof err), 0);
    assert_int_equal(ggdm_png_encode(px, 2, 2, &png, &len, err, sizeof err), 0);
    assert_int_equal(ggdm_io_read_file(path, &file, &flen, err, sizeof err), GGDM_OK);
    assert_int_equal(flen, len);
    assert_memory_equal(file, png, len);
    free(file);
    free(png);
    /* replaced atomically, no temporary file left */
    assert_int_equal(ggdm_png_save(path, px, 1, 1, err, sizeof err), 0);
    {
        char tmp[300];
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
        assert_false(ggdm_io_exists(tmp));
    }
    /* a missing folder: the path in the message, nothing written */
    snprintf(path, sizeof path, "%s/missing/b.png", dir);
    assert_int_equal(ggdm_png_save(path, px, 2, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    /* a bad size: the path and the reason */
    snprintf(path, sizeof path, "%s/c.png", dir);
    assert_int_equal(ggdm_png_save(path, px, 0, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "refused"));
    assert_false(ggdm_io_exists(path));
    assert_int_equal(ggdm_io_remove_tree(dir), 0);
}

/* ------------------------------------------------------------------ image_to_u8 */

/* (torch: (x / 2 + 0.5).clamp(0, 1); NumPy: (t * 255).round().astype(uint8)); the ties' t * 255
 * in the comments is exact: numpy's round takes them to the even neighbour. */
static const struct {
    float x;
    uint8_t want;
} u8_cases[] = {
    {-0x1.0p+0f, 0},                 /* -1 */
    {0x1.0p+0f, 255},                /* 1 */
    {0x0.0p+0f, 128},                /* 0 -> 127.5: tie, to even 128 */
    {-0x0.0p+0f, 128},
    {0x1.0p-1f, 191},                /* 0.5 -> 191.25 */
    {-0x1.0p-1f, 64},                /* -0.5 -> 63.75 */
    {0x1.0p-149f, 128},              /* the smallest subnormal: x / 2 rounds to 0 */
    {0x1.fffffep-1f, 255},
    {-0x1.fffffep-1f, 0},            /* -> 7.6e-06 */
    {0x1.0p+1f, 255},
    {-0x1.0p+1f, 0},
    {0x1.99999ap-3f, 153},           /* 0.2 -> 153.0 */
    {0x1.333334p-2f, 166},           /* 0.3 -> 165.75 */
    {-0x1.666666p-1f, 38},           /* -0.7 -> 38.25 */
    {-0x1.f9f9f8p-2f, 64},           /* -> 64.5 */
    {-0x1.f1f1f0p-2f, 66},           /* -> 65.5 */
    {-0x1.e9e9e8p-2f, 66},           /* -> 66.5 */
    {-0x1.e1e1e0p-2f, 68},           /* -> 67.5 */
    {-0x1.d9d9d8p-2f, 68},           /* -> 68.5 */
    {-0x1.d1d1d0p-2f, 70},           /* -> 69.5 */
    {0x1.292928p-2f, 164},           /* -> 164.5 */
    {0x1.313130p-2f, 166},           /* -> 165.5 */
    {0x1.393938p-2f, 166},           /* -> 166.5 */
    {0x1.414140p-2f, 168},           /* -> 167.5 */
    {0x1.f5f5f4p-1f, 252},           /* -> 252.5 */
    {0x1.f9f9f8p-1f, 254},           /* -> 253.5 */
    {0x1.fdfdfcp-1f, 254},           /* -> 254.5 */
    {0x1.fdfe00p-1f, 254},           /* -> 254.5 */
};

static void test_to_u8(void **state)
{
    enum { N = sizeof u8_cases / sizeof u8_cases[0] };
    float x[3 * (N + 3)];
    uint8_t rgb[3 * (N + 3)];
    int i, c;
    (void)state;
    /* one row of N + 3 pixels; channel c of pixel i holds case (i + c) mod (N + 3) */
    for (c = 0; c < 3; c++)
        for (i = 0; i < N + 3; i++) {
            int q = (i + c) % (N + 3);
            x[c * (N + 3) + i] = q < N ? u8_cases[q].x : q == N ? (float)INFINITY : q == N + 1 ? -(float)INFINITY : (float)NAN;
        }
    ggdm_image_to_u8(x, 1, N + 3, rgb);
    for (c = 0; c < 3; c++)
        for (i = 0; i < N + 3; i++) {
            int q = (i + c) % (N + 3);
            int want = q < N ? u8_cases[q].want : q == N ? 255 : 0; /* +inf 255, -inf 0, NaN 0 */
            assert_int_equal(rgb[i * 3 + c], want);
        }
}

/* ------------------------------------------------------------------ resize */

static void fill(uint8_t *p, int w, int h)
{
    int i;
    for (i = 0; i < w * h * 3; i++)
        p[i] = (uint8_t)((i * 37 + 11) % 256);
}

static void test_resize(void **state)
{
    /* np.asarray(Image.fromarray(src).resize((dw, dh))), Pillow 9.4.0 */
    static const uint8_t want_8x6_3x2[18] = {156, 104, 121, 136, 161, 97, 87, 128, 160,
                                             158, 129, 103, 111, 153, 136, 127, 106, 146};
    static const uint8_t want_4x3_11x5[165] = {
        0, 21, 79, 0, 37, 93, 39, 89, 138, 94, 150, 190, 145, 154, 190, 200, 82, 118, 236, 10, 47, 217,
        14, 51, 151, 75, 112, 97, 127, 164, 78, 143, 180, 79, 115, 41, 80, 118, 56, 78, 127, 100, 80, 138,
        155, 103, 134, 176, 162, 112, 154, 209, 88, 125, 190, 81, 120, 118, 87, 131, 60, 92, 141, 40, 93, 143,
        214, 251, 6, 195, 232, 20, 141, 178, 52, 75, 112, 99, 58, 95, 145, 110, 147, 200, 161, 198, 237, 144,
        181, 218, 78, 115, 152, 24, 61, 98, 5, 42, 79, 163, 216, 142, 164, 196, 134, 169, 138, 110, 175, 66,
        84, 168, 47, 91, 145, 95, 149, 122, 153, 199, 118, 176, 181, 129, 178, 110, 138, 176, 51, 141, 176, 31,
        113, 178, 236, 129, 159, 215, 181, 105, 154, 242, 39, 80, 246, 20, 58, 175, 57, 110, 102, 111, 162, 106,
        162, 145, 167, 217, 79, 219, 255, 25, 235, 255, 6};
    uint8_t src[8 * 6 * 3], dst[11 * 5 * 3], same[8 * 6 * 3];
    (void)state;
    fill(src, 8, 6);
    assert_int_equal(ggdm_image_resize_pil(src, 8, 6, dst, 3, 2), 0);
    assert_memory_equal(dst, want_8x6_3x2, sizeof want_8x6_3x2);
    fill(src, 4, 3);
    assert_int_equal(ggdm_image_resize_pil(src, 4, 3, dst, 11, 5), 0);
    assert_memory_equal(dst, want_4x3_11x5, sizeof want_4x3_11x5);
    /* the same size is a copy */
    fill(src, 8, 6);
    assert_int_equal(ggdm_image_resize_pil(src, 8, 6, same, 8, 6), 0);
    assert_memory_equal(same, src, sizeof src);
    /* a flat image stays flat (the coefficients sum to 1 in fixed point), down and up */
    memset(src, 200, sizeof src);
    assert_int_equal(ggdm_image_resize_pil(src, 8, 6, dst, 3, 5), 0);
    {
        int i;
        for (i = 0; i < 3 * 5 * 3; i++)
            assert_int_equal(dst[i], 200);
    }
    /* bad sizes */
    assert_int_equal(ggdm_image_resize_pil(src, 0, 6, dst, 3, 2), -1);
    assert_int_equal(ggdm_image_resize_pil(src, 8, 6, dst, 3, -2), -1);
    assert_int_equal(ggdm_image_resize_pil(src, 8, (1 << 24) + 1, dst, 3, 2), -1);
}

/* ------------------------------------------------------------------ grid */

static void test_grid(void **state)
{
    /* 2 x 3 tiles of 2 x 1 pixels (tw 2, th 1)... and of 1 x 2 (tw 1, th 2) */
    uint8_t t[6][6], out[36];
    const uint8_t *tiles[6];
    int i, j, x, y, c;
    (void)state;
    for (i = 0; i < 6; i++) {
        for (j = 0; j < 6; j++)
            t[i][j] = (uint8_t)(i * 10 + j);
        tiles[i] = t[i];
    }
    ggdm_image_grid(tiles, 2, 3, 2, 1, out); /* out: 6 x 2 */
    for (y = 0; y < 2; y++)
        for (x = 0; x < 6; x++)
            for (c = 0; c < 3; c++)
                assert_int_equal(out[(y * 6 + x) * 3 + c], t[y * 3 + x / 2][(x % 2) * 3 + c]);
    ggdm_image_grid(tiles, 2, 3, 1, 2, out); /* out: 3 x 4 */
    for (y = 0; y < 4; y++)
        for (x = 0; x < 3; x++)
            for (c = 0; c < 3; c++)
                assert_int_equal(out[(y * 3 + x) * 3 + c], t[(y / 2) * 3 + x][(y % 2) * 3 + c]);
}

/* ------------------------------------------------------------------ pyrandom */

/* random.seed(seed); v = random.sample(range(1000), k): zlib.crc32 of v as little-endian int32,
 * and v[:8] (CPython 3.11.2; 3.11.7 agrees). -1 and 1 are the same stream (abs). */
static const struct {
    long long seed;
    int k;
    uint32_t crc;
    int first[8];
} sample_cases[] = {
    {-1LL, 1, 0xB11526ADu, {137}},
    {-1LL, 5, 0x91834ECDu, {137, 582, 867, 821, 782}},
    {-1LL, 6, 0xD3D5796Au, {137, 582, 867, 821, 782, 64}},
    {-1LL, 50, 0x30B6980Eu, {137, 582, 867, 821, 782, 64, 261, 120}},
    {-1LL, 300, 0xD517F65Au, {137, 582, 867, 821, 782, 64, 261, 120}},
    {-1LL, 1000, 0x5EB4229Cu, {137, 582, 867, 821, 782, 64, 261, 120}},
    {0LL, 1, 0x18249646u, {864}},
    {0LL, 5, 0x1A59F81Cu, {864, 394, 776, 911, 430}},
    {0LL, 6, 0xCB7DEA80u, {864, 394, 776, 911, 430, 41}},
    {0LL, 50, 0x8BA2E1D9u, {864, 394, 776, 911, 430, 41, 265, 988}},
    {0LL, 300, 0x23EC3D13u, {864, 394, 776, 911, 430, 41, 265, 988}},
    {0LL, 1000, 0xF6B1F85Au, {864, 394, 776, 911, 430, 41, 265, 988}},
    {1LL, 1, 0xB11526ADu, {137}},
    {1LL, 5, 0x91834ECDu, {137, 582, 867, 821, 782}},
    {1LL, 6, 0xD3D5796Au, {137, 582, 867, 821, 782, 64}},
    {1LL, 50, 0x30B6980Eu, {137, 582, 867, 821, 782, 64, 261, 120}},
    {1LL, 300, 0xD517F65Au, {137, 582, 867, 821, 782, 64, 261, 120}},
    {1LL, 1000, 0x5EB4229Cu, {137, 582, 867, 821, 782, 64, 261, 120}},
    {42LL, 1, 0x2F46CA7Au, {654}},
    {42LL, 5, 0x8EFDA978u, {654, 114, 25, 759, 281}},
    {42LL, 6, 0x1BAFF694u, {654, 114, 25, 759, 281, 250}},
    {42LL, 50, 0xAAFBC7D3u, {654, 114, 25, 759, 281, 250, 228, 142}},
    {42LL, 300, 0x979DFCD5u, {654, 114, 25, 759, 281, 250, 228, 142}},
    {42LL, 1000, 0xC0C574A7u, {654, 114, 25, 759, 281, 250, 228, 142}},
    {1099511627779LL, 1, 0x4F87F941u, {225}}, /* 2^40 + 3: a two-word key */
    {1099511627779LL, 5, 0x48ABA2D4u, {225, 62, 562, 853, 96}},
    {1099511627779LL, 6, 0xED5FF7E1u, {225, 62, 562, 853, 96, 579}},
    {1099511627779LL, 50, 0x0F51782Du, {225, 62, 562, 853, 96, 579, 311, 924}},
    {1099511627779LL, 300, 0x5B0A3202u, {225, 62, 562, 853, 96, 579, 311, 924}},
    {1099511627779LL, 1000, 0x8CCCF5CBu, {225, 62, 562, 853, 96, 579, 311, 924}},
    {-7LL, 1, 0x6C936A17u, {331}},
    {-7LL, 5, 0x12DCE58Cu, {331, 970, 154, 404, 666}},
    {-7LL, 6, 0xBF41A04Bu, {331, 970, 154, 404, 666, 49}},
    {-7LL, 50, 0x5C19CF4Fu, {331, 970, 154, 404, 666, 49, 74, 840}},
    {-7LL, 300, 0x0D42CD78u, {331, 970, 154, 404, 666, 49, 74, 840}},
    {-7LL, 1000, 0x1EF4F27Eu, {331, 970, 154, 404, 666, 49, 74, 840}},
};

static void test_pyrandom_sample(void **state)
{
    /* random.seed(42); random.sample(range(1000), 50) in full */
    static const int seed42_k50[50] = {654, 114, 25,  759, 281, 250, 228, 142, 754, 104, 692, 758, 913,
                                       558, 89,  604, 432, 32,  30,  95,  223, 238, 517, 616, 27,  574,
                                       203, 733, 665, 718, 429, 225, 459, 603, 284, 828, 890, 6,   777,
                                       825, 163, 714, 348, 159, 220, 980, 781, 344, 94,  389};
    int idx[1000], q, i;
    uint8_t le[4000];
    (void)state;
    assert_int_equal(ggdm_pyrandom_sample(42, 1000, 50, idx), 0);
    assert_memory_equal(idx, seed42_k50, sizeof seed42_k50);
    for (q = 0; q < (int)(sizeof sample_cases / sizeof sample_cases[0]); q++) {
        int k = sample_cases[q].k;
        memset(idx, 0xFF, sizeof idx);
        assert_int_equal(ggdm_pyrandom_sample(sample_cases[q].seed, 1000, k, idx), 0);
        for (i = 0; i < (k < 8 ? k : 8); i++)
            assert_int_equal(idx[i], sample_cases[q].first[i]);
        for (i = 0; i < k; i++) {
            uint32_t v = (uint32_t)idx[i];
            le[4 * i] = (uint8_t)v;
            le[4 * i + 1] = (uint8_t)(v >> 8);
            le[4 * i + 2] = (uint8_t)(v >> 16);
            le[4 * i + 3] = (uint8_t)(v >> 24);
        }
        assert_int_equal(ggdm_png_crc32(le, (size_t)k * 4u), sample_cases[q].crc);
    }
    /* k = n is a permutation; k = 0 and n = 0 are fine; k > n and k < 0 are Python's ValueError */
    {
        uint8_t seen[1000];
        assert_int_equal(ggdm_pyrandom_sample(-7, 1000, 1000, idx), 0);
        memset(seen, 0, sizeof seen);
        for (i = 0; i < 1000; i++) {
            assert_true(idx[i] >= 0 && idx[i] < 1000);
            assert_int_equal(seen[idx[i]], 0);
            seen[idx[i]] = 1;
        }
    }
    assert_int_equal(ggdm_pyrandom_sample(1, 1000, 0, idx), 0);
    assert_int_equal(ggdm_pyrandom_sample(1, 0, 0, idx), 0);
    assert_int_equal(ggdm_pyrandom_sample(1, 10, 11, idx), -1);
    assert_int_equal(ggdm_pyrandom_sample(1, 10, -1, idx), -1);
}

static void test_pyrandom_stream(void **state)
{
    /* random.seed(s); [random.getrandbits(32) for _ in range(3)], and getrandbits(5) after them */
    static const struct {
        long long seed;
        uint32_t w[3];
        uint32_t b5;
    } cases[] = {
        {0LL, {0xD82C07CDu, 0x629F6FBEu, 0xC2094CACu}, 28u},
        {1LL, {0x2265B1F5u, 0x91B7584Au, 0xD8F16ADFu}, 25u},
        {-1LL, {0x2265B1F5u, 0x91B7584Au, 0xD8F16ADFu}, 25u},
        {42LL, {0xA3B1799Du, 0x1C80317Fu, 0x06671AD1u}, 23u},
        {4294967296LL, {0x1CED31D7u, 0x59EF8BBCu, 0x6AF6D506u}, 29u}, /* key [0, 1] */
        {4294967295LL, {0xA2A6C909u, 0x9E9C04F4u, 0x3404E941u}, 6u},  /* key [2^32 - 1] */
        {1099511627779LL, {0x3843F7CEu, 0x0F92B630u, 0x8CA9FC52u}, 26u},
        {9223372036854775807LL, {0x510FA39Fu, 0xA81394C8u, 0xA19A35CBu}, 4u},
        {INT64_MIN, {0x8DAFD108u, 0x64D61BFEu, 0xF0CC1C28u}, 6u}, /* abs: 2^63 */
        {-7LL, {0x52E6B438u, 0xF2A74DE4u, 0x269E0D37u}, 12u},
        {123456789LL, {0xA432D4B7u, 0x7138777Cu, 0x8ACCEA7Fu}, 22u},
    };
    ggdm_pyrandom r;
    int q;
    (void)state;
    for (q = 0; q < (int)(sizeof cases / sizeof cases[0]); q++) {
        ggdm_pyrandom_seed(&r, cases[q].seed);
        assert_int_equal(ggdm_pyrandom_getrandbits(&r, 32), cases[q].w[0]);
        assert_int_equal(ggdm_pyrandom_u32(&r), cases[q].w[1]);
        assert_int_equal(ggdm_pyrandom_getrandbits(&r, 32), cases[q].w[2]);
        assert_int_equal(ggdm_pyrandom_getrandbits(&r, 5), cases[q].b5);
        assert_int_equal(ggdm_pyrandom_getrandbits(&r, 0), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checksums),   cmocka_unit_test(test_png_encode),
        cmocka_unit_test(test_png_hostile), cmocka_unit_test(test_png_save),
        cmocka_unit_test(test_to_u8),       cmocka_unit_test(test_resize),
        cmocka_unit_test(test_grid),        cmocka_unit_test(test_pyrandom_sample),
        cmocka_unit_test(test_pyrandom_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
