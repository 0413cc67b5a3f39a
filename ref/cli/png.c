#define _POSIX_C_SOURCE 200809L
#include "png.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

/* ---- checksums ---------------------------------------------------------------------------- */

/* A message into the caller's buffer (cut to its size: a va_list keeps gcc's truncation
 * analysis, which small test buffers trip on some targets, out of it). */
static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (!err || cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static uint32_t crc_table[256];
static int crc_table_ready;

static void crc_init(void)
{
    uint32_t i, c;
    int k;
    for (i = 0; i < 256; i++) {
        c = i;
        for (k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        crc_table[i] = c;
    }
    crc_table_ready = 1;
}

static uint32_t crc_update(uint32_t c, const uint8_t *p, size_t n)
{
    size_t i;
    if (!crc_table_ready)
        crc_init();
    for (i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
    return c;
}

uint32_t ggdm_png_crc32(const uint8_t *p, size_t n) { return crc_update(0xFFFFFFFFu, p, n) ^ 0xFFFFFFFFu; }

typedef struct {
    uint32_t a, b;
} adler_state;

static void adler_update(adler_state *s, const uint8_t *p, size_t n)
{
    /* 5552 bytes keep b below 2^32 before the reduction (zlib's NMAX) */
    while (n > 0) {
        size_t m = n < 5552 ? n : 5552, i;
        for (i = 0; i < m; i++) {
            s->a += p[i];
            s->b += s->a;
        }
        s->a %= 65521u;
        s->b %= 65521u;
        p += m;
        n -= m;
    }
}

uint32_t ggdm_png_adler32(const uint8_t *p, size_t n)
{
    adler_state s = {1u, 0u};
    adler_update(&s, p, n);
    return (s.b << 16) | s.a;
}

/* ---- encoder ------------------------------------------------------------------------------ */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes a chunk's length, type and data (data may already be at p + 8) and its CRC. */
static size_t put_chunk(uint8_t *p, const char *type, const uint8_t *data, size_t n)
{
    put_be32(p, (uint32_t)n);
    memcpy(p + 4, type, 4);
    if (data && n)
        memmove(p + 8, data, n);
    put_be32(p + 8 + n, ggdm_png_crc32(p + 4, n + 4));
    return n + 12;
}

#define STORED_MAX 65535u
#define IDAT_MAX ((size_t)1 << 30) /* bytes of zlib stream per IDAT chunk */

int ggdm_png_encode(const uint8_t *rgb, int w, int h, uint8_t **out, size_t *len, char *err, size_t errcap)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    size_t row, raw, nblocks, zlen, nidat, total, pos, done, i;
    uint8_t *buf, *z, ihdr[13];
    adler_state ad = {1u, 0u};
    size_t block_left, r, col;
    int y;

    *out = NULL;
    *len = 0;
    if (w <= 0 || h <= 0 || (long)w > GGDM_PNG_MAX_DIM || (long)h > GGDM_PNG_MAX_DIM) {
        set_err(err, errcap, "PNG: image size %d x %d refused (width and height must be 1 .. %ld)", w, h,
                 (long)GGDM_PNG_MAX_DIM);
        return -1;
    }
    row = 1 + (size_t)w * 3u; /* filter byte + pixels; < 2^26 */
    if ((size_t)h > (SIZE_MAX / 4) / row) {
        set_err(err, errcap, "PNG: image size %d x %d too large for this machine's memory", w, h);
        return -1;
    }
    raw = row * (size_t)h;
    if ((uint64_t)raw > GGDM_PNG_MAX_BYTES) {
        set_err(err, errcap, "PNG: image size %d x %d refused (%llu bytes of rows; at most %llu)", w, h,
                 (unsigned long long)raw, (unsigned long long)GGDM_PNG_MAX_BYTES);
        return -1;
    }
    nblocks = (raw + STORED_MAX - 1) / STORED_MAX;
    zlen = 2 + raw + 5 * nblocks + 4;
    nidat = (zlen + IDAT_MAX - 1) / IDAT_MAX;
    total = 8 + 25 + zlen + 12 * nidat + 12;
    if (total < raw || total > SIZE_MAX / 2) {
        set_err(err, errcap, "PNG: image size %d x %d too large for this machine's memory", w, h);
        return -1;
    }
    buf = (uint8_t *)malloc(total);
    z = (uint8_t *)malloc(zlen);
    if (!buf || !z) {
        free(buf);
        free(z);
        set_err(err, errcap, "PNG: out of memory encoding %d x %d (%zu bytes)", w, h, total);
        return -1;
    }

    /* the zlib stream: header 78 01 (deflate, 32 KiB window, no dictionary, level "fastest"),
     * stored blocks of the filtered rows, Adler-32 of those rows (big-endian) */
    z[0] = 0x78;
    z[1] = 0x01;
    pos = 2;
    block_left = 0;
    for (y = 0; y < h; y++) {
        static const uint8_t filter_none = 0;
        const uint8_t *src = rgb + (size_t)y * (size_t)w * 3u;
        adler_update(&ad, &filter_none, 1); /* over the uncompressed rows */
        adler_update(&ad, src, row - 1);
        for (col = 0; col < row;) {
            if (block_left == 0) {
                size_t rest = raw - ((size_t)y * row + col);
                size_t bl = rest < STORED_MAX ? rest : STORED_MAX;
                z[pos] = (uint8_t)(rest <= STORED_MAX ? 1 : 0); /* BFINAL, BTYPE 00 */
                z[pos + 1] = (uint8_t)bl;
                z[pos + 2] = (uint8_t)(bl >> 8);
                z[pos + 3] = (uint8_t)~bl;
                z[pos + 4] = (uint8_t)(~bl >> 8);
                pos += 5;
                block_left = bl;
            }
            if (col == 0) {
                z[pos++] = 0; /* filter type None */
                col = 1;
                block_left--;
                continue;
            }
            r = row - col < block_left ? row - col : block_left;
            memcpy(z + pos, src + (col - 1), r);
            pos += r;
            col += r;
            block_left -= r;
        }
    }
    put_be32(z + pos, (ad.b << 16) | ad.a);
    pos += 4;

    memcpy(buf, sig, 8);
    pos = 8;
    put_be32(ihdr, (uint32_t)w);
    put_be32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 2;  /* colour type: RGB */
    ihdr[10] = 0; /* compression: deflate */
    ihdr[11] = 0; /* filter method 0 */
    ihdr[12] = 0; /* no interlace */
    pos += put_chunk(buf + pos, "IHDR", ihdr, 13);
    for (i = 0, done = 0; i < nidat; i++) {
        size_t n = zlen - done < IDAT_MAX ? zlen - done : IDAT_MAX;
        pos += put_chunk(buf + pos, "IDAT", z + done, n);
        done += n;
    }
    pos += put_chunk(buf + pos, "IEND", NULL, 0);
    free(z);
    *out = buf;
    *len = pos;
    return 0;
}

int ggdm_png_save(const char *path, const uint8_t *rgb, int w, int h, char *err, size_t errcap)
{
    uint8_t *png;
    size_t len, n;
    char msg[256], *dir;
    const char *slash;
    if (ggdm_png_encode(rgb, w, h, &png, &len, msg, sizeof msg) != 0) {
        set_err(err, errcap, "%s: %s", path, msg);
        return -1;
    }
    if (ggdm_io_write_file(path, png, len, err, errcap) != GGDM_OK) {
        free(png);
        return -1;
    }
    free(png);
    /* the rename is durable once the folder is synced */
    slash = strrchr(path, '/');
    n = slash ? (size_t)(slash - path) : 1;
    if (slash && n == 0)
        n = 1; /* "/x.png": the root */
    dir = (char *)malloc(n + 1);
    if (!dir) {
        set_err(err, errcap, "%s: out of memory", path);
        return -1;
    }
    if (slash)
        memcpy(dir, path, n);
    else
        dir[0] = '.';
    dir[n] = '\0';
    if (ggdm_io_sync_dir(dir) != 0) {
        set_err(err, errcap, "%s: written, but its folder %s could not be synced", path, dir);
        free(dir);
        return -1;
    }
    free(dir);
    return 0;
}
