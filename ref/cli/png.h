/*
 * PNG files of 8-bit RGB images (colour type 2, no interlacing), for `ggdm image`'s samples
 * and grids. The zlib stream holds deflate "stored" blocks (no compression: valid PNG, read
 * by every decoder; a 512x512 image is 787 KB), every row with filter type 0, so the bytes
 * depend on the pixels alone. CRC-32 (ISO 3309, PNG's) and Adler-32 are computed here.
 */
#ifndef GGDM_CLI_PNG_H
#define GGDM_CLI_PNG_H

#include <stddef.h>
#include <stdint.h>

/* Largest width or height accepted (2^24). */
#define GGDM_PNG_MAX_DIM (1L << 24)
/* Largest image accepted, in bytes of filtered rows (h * (1 + 3 w)): 4 GiB. */
#define GGDM_PNG_MAX_BYTES ((uint64_t)1 << 32)

/* CRC-32 of PNG chunks and zlib/gzip (reflected 0xEDB88320, init and final xor 0xFFFFFFFF):
 * "123456789" -> 0xCBF43926. */
uint32_t ggdm_png_crc32(const uint8_t *p, size_t n);
/* Adler-32 of zlib streams: "Wikipedia" -> 0x11E60398. */
uint32_t ggdm_png_adler32(const uint8_t *p, size_t n);

/* Encodes h rows of w pixels, rgb interleaved (h*w*3 bytes, row-major, top row first) as a
 * PNG file in *out (malloc'd, *len bytes; free() it). 0 on success; -1 with a message in err
 * (w or h <= 0 or > 2^24, rows over 4 GiB, out of memory), *out NULL. */
int ggdm_png_encode(const uint8_t *rgb, int w, int h, uint8_t **out, size_t *len, char *err, size_t errcap);

/* Encodes and writes path atomically (ggdm_io_write_file: a temporary file in the same
 * folder, fsync, rename; then the folder is synced), every step a fault point. 0 or -1 with
 * "PATH: reason" in err. A failed write leaves no file at path (an old one stays as it was);
 * a folder that cannot be synced after the rename is reported (the new file is in place). */
int ggdm_png_save(const char *path, const uint8_t *rgb, int w, int h, char *err, size_t errcap);

#endif
