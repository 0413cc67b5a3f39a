/*
 * ggdm/npy.h - NumPy .npy headers and data, and stored (uncompressed) .npz archives.
 *
 * Nothing here allocates, prints or reads files: the caller hands in bytes it has
 * read and memory for the results. Every multi-byte value is little-endian in the
 * file and is converted explicitly (ggdm/bytes.h), so results are identical on
 * little- and big-endian hosts. docs/formats.md says what is accepted and why.
 *
 * Reading a .npy file:
 *   1. Read a prefix of the file: min(file size, GGDM_NPY_HEADER_MAX) bytes always
 *      suffice (ggdm_npy_header_bytes_needed tells the exact amount from the first
 *      GGDM_NPY_PREAMBLE_MAX bytes).
 *   2. ggdm_npy_parse(prefix, prefix_len, file_size, &info) validates the whole
 *      header against the file size: on GGDM_OK, data_bytes bytes of data start at
 *      byte header_bytes and end exactly at the end of the file.
 *   3. ggdm_npy_decode_*(&info, data, out, out_count) converts the data.
 * Every error fills info->msg with one line saying what is wrong.
 */
#ifndef GGDM_NPY_H
#define GGDM_NPY_H

#include <stdint.h>

#include "ggdm/status.h"

/* Element types ggdm reads and writes; always stored little-endian. */
typedef enum ggdm_dtype {
    GGDM_DT_F32 = 0, /* '<f4' IEEE-754 binary32 */
    GGDM_DT_F64 = 1, /* '<f8' IEEE-754 binary64 */
    GGDM_DT_I64 = 2, /* '<i8' two's complement int64 */
    GGDM_DT_U32 = 3  /* '<u4' uint32 */
} ggdm_dtype;

#define GGDM_NPY_MAX_DIMS 8
/* Size of every msg buffer in this header (ggdm_npy_info.msg, the npz msg arguments). */
#define GGDM_NPY_MSG_LEN 160
/* Largest accepted header dictionary (the HEADER_LEN field), in bytes. */
#define GGDM_NPY_HEADER_LEN_MAX 65536u
/* Magic + version + length field: 10 bytes for version 1.0, 12 for 2.0 and 3.0. */
#define GGDM_NPY_PREAMBLE_MAX 12u
/* Largest header_bytes ggdm_npy_parse accepts: a prefix this long always suffices. */
#define GGDM_NPY_HEADER_MAX (GGDM_NPY_PREAMBLE_MAX + GGDM_NPY_HEADER_LEN_MAX)
/* Largest header ggdm_npy_header_write produces (any dtype, up to 8 dimensions). */
#define GGDM_NPY_WRITE_HEADER_MAX 256u

/* Everything known about a .npy file once its header is validated. Pointer-free,
 * so it may be copied freely. */
typedef struct ggdm_npy_info {
    ggdm_dtype dtype;
    int ndim;                          /* 0 .. GGDM_NPY_MAX_DIMS */
    uint64_t shape[GGDM_NPY_MAX_DIMS]; /* shape[ndim..7] are 0 */
    uint64_t count;                    /* product of shape; 1 for a 0-d array */
    uint64_t header_bytes;             /* offset of the data from the start of the file */
    uint64_t data_bytes;               /* count * element size */
    int version_major;                 /* 1, 2 or 3 */
    int version_minor;                 /* 0 */
    char msg[GGDM_NPY_MSG_LEN];        /* "" on success; the reason on error */
} ggdm_npy_info;

/* '<f4' etc. (static string) for a valid dtype, "?" otherwise. */
const char *ggdm_dtype_descr(ggdm_dtype dt);
/* Element size in bytes (4 or 8), 0 for an invalid dtype. */
unsigned ggdm_dtype_size(ggdm_dtype dt);

/*
 * How many bytes of the file ggdm_npy_parse needs (header_bytes). Needs the first
 * 10 bytes (version 1.0) or 12 bytes (2.0, 3.0) of the file: with fewer it returns
 * GGDM_ERR_BUFFER_TOO_SMALL and *need = the preamble length still to read (12 when
 * the version is not yet known). Bad magic -> GGDM_ERR_FORMAT, unknown version ->
 * GGDM_ERR_UNSUPPORTED, a header dictionary longer than GGDM_NPY_HEADER_LEN_MAX ->
 * GGDM_ERR_FORMAT; in these cases *need is 0.
 */
ggdm_status ggdm_npy_header_bytes_needed(const uint8_t *prefix, uint64_t prefix_len,
                                         uint64_t *need);

/*
 * Parses and validates the header in buf[0 .. buf_len) of a .npy file whose total
 * size is file_len (buf_len <= file_len; buf may hold the whole file). Never reads
 * at or past buf[buf_len]. On GGDM_OK every field of *info is set and
 * file_len == header_bytes + data_bytes. On error info->msg says why:
 *   GGDM_ERR_ARG              null pointer or buf_len > file_len
 *   GGDM_ERR_BUFFER_TOO_SMALL buf_len < header_bytes (but the file is long enough):
 *                             info->header_bytes is the number of bytes to supply
 *                             (the preamble length if even that was missing)
 *   GGDM_ERR_FORMAT           bad magic, malformed/oversized header, bad shape,
 *                             overflowing size, truncated data or trailing bytes
 *   GGDM_ERR_UNSUPPORTED      unknown version, dtype other than <f4 <f8 <i8 <u4
 *                             (big-endian and structured included), fortran_order True
 */
ggdm_status ggdm_npy_parse(const uint8_t *buf, uint64_t buf_len, uint64_t file_len,
                           ggdm_npy_info *info);

/*
 * Decoders: convert info->count elements from the little-endian data bytes (the
 * info->data_bytes bytes at file offset info->header_bytes) into out[0 .. count).
 *   decode_f32: stored f32 exactly; stored f64 rounded to nearest float (C cast,
 *               overflow to +-inf). NaN and infinities pass through; see
 *               ggdm_f32_all_finite.
 *   decode_f64: stored f64 exactly, stored f32 widened exactly.
 *   decode_i64: stored i64, or stored u32 widened.
 *   decode_u32: stored u32 only.
 * Any other stored dtype -> GGDM_ERR_UNSUPPORTED; out_count < info->count ->
 * GGDM_ERR_BUFFER_TOO_SMALL; an info that did not come from a successful parse
 * (inconsistent count/data_bytes) -> GGDM_ERR_ARG. The message goes to info->msg,
 * which is the only field a decoder writes.
 */
ggdm_status ggdm_npy_decode_f32(ggdm_npy_info *info, const uint8_t *data, float *out,
                                uint64_t out_count);
ggdm_status ggdm_npy_decode_f64(ggdm_npy_info *info, const uint8_t *data, double *out,
                                uint64_t out_count);
ggdm_status ggdm_npy_decode_i64(ggdm_npy_info *info, const uint8_t *data, int64_t *out,
                                uint64_t out_count);
ggdm_status ggdm_npy_decode_u32(ggdm_npy_info *info, const uint8_t *data, uint32_t *out,
                                uint64_t out_count);

/* 1 if x[0 .. n) are all finite (n == 0 included); otherwise 0 and, when first_bad
 * is not null, *first_bad = index of the first NaN or infinity. */
int ggdm_f32_all_finite(const float *x, uint64_t n, uint64_t *first_bad);
int ggdm_f64_all_finite(const double *x, uint64_t n, uint64_t *first_bad);

/*
 * Number of data bytes of an array of this dtype and shape (product of the shape
 * times the element size; 1 element for ndim 0). GGDM_ERR_ARG for an invalid dtype,
 * ndim outside 0..8, a null shape with ndim > 0, a dimension above INT64_MAX (NumPy
 * cannot represent it) or a byte count that overflows uint64.
 */
ggdm_status ggdm_npy_data_bytes(ggdm_dtype dt, int ndim, const uint64_t *shape,
                                uint64_t *bytes);

/*
 * Writes the header NumPy (1.17 and later) writes for a C-order array of this dtype
 * and shape, byte for byte: version 1.0 (2.0 only if it would not fit, which cannot
 * happen for 8 or fewer dimensions), dictionary keys in sorted order, NumPy's spare
 * growth spaces, padded with spaces and a final '\n' to a multiple of 64 bytes.
 * *len is always set to the header length (at most GGDM_NPY_WRITE_HEADER_MAX) when
 * the arguments are valid; cap < *len -> GGDM_ERR_BUFFER_TOO_SMALL, nothing
 * written. Argument errors as in ggdm_npy_data_bytes.
 */
ggdm_status ggdm_npy_header_write(ggdm_dtype dt, int ndim, const uint64_t *shape,
                                  uint8_t *buf, uint64_t cap, uint64_t *len);

/* Encoders: write n values as little-endian bytes to dst (n * 4 or n * 8 bytes).
 * GGDM_ERR_ARG for null pointers with n > 0. src and dst must not overlap. */
ggdm_status ggdm_npy_encode_f32(const float *src, uint64_t n, uint8_t *dst);
ggdm_status ggdm_npy_encode_f64(const double *src, uint64_t n, uint8_t *dst);
ggdm_status ggdm_npy_encode_i64(const int64_t *src, uint64_t n, uint8_t *dst);
ggdm_status ggdm_npy_encode_u32(const uint32_t *src, uint64_t n, uint8_t *dst);

/* ------------------------------------------------------------------------------
 * .npz: a zip archive of .npy members, as written by np.savez (stored, method 0).
 * The caller holds the whole archive in memory (zip, zip_len); results are byte
 * ranges inside it. Every msg argument may be null or points to GGDM_NPY_MSG_LEN
 * bytes that receive "" on success or the reason on error.
 * ---------------------------------------------------------------------------- */

/* One central-directory entry, validated against the archive and its local header. */
typedef struct ggdm_npz_member {
    uint64_t index;       /* 0-based position in the central directory */
    uint64_t name_offset; /* the name: zip[name_offset .. name_offset + name_len), */
    uint64_t name_len;    /*   not NUL-terminated (e.g. "A.npy") */
    uint64_t data_offset; /* the member's bytes, after its local header; for a stored */
    uint64_t data_len;    /*   member this is the whole .npy file */
    uint64_t uncompressed_len;
    uint32_t crc32;       /* as recorded in the central directory */
    uint16_t method;      /* 0 stored, 8 deflate, ... */
    uint16_t flags;       /* general purpose bit flags (bit 0: encrypted) */
} ggdm_npz_member;

/* Walk state; set up by ggdm_npz_iter_init, advanced by ggdm_npz_iter_next. */
typedef struct ggdm_npz_iter {
    uint64_t entries;   /* number of members in the archive */
    uint64_t index;     /* members returned so far */
    uint64_t cd_offset; /* central directory: zip[cd_offset .. cd_offset + cd_size) */
    uint64_t cd_size;
    uint64_t pos;       /* offset of the next central-directory entry */
} ggdm_npz_iter;

/*
 * Finds the End of Central Directory record (and the ZIP64 one when present) and
 * checks that the central directory lies inside the archive and ends where the
 * end records begin. GGDM_ERR_FORMAT for anything that is not such an archive,
 * GGDM_ERR_UNSUPPORTED for multi-disk archives.
 */
ggdm_status ggdm_npz_iter_init(const uint8_t *zip, uint64_t zip_len, ggdm_npz_iter *it,
                               char *msg);

/*
 * Validates and returns the next member (*has = 1), or sets *has = 0 once all
 * it->entries members were returned (then also checking that the central directory
 * has no bytes left over). Every offset and size is checked against zip_len, the
 * local header must match the central entry (name, method) and the member's bytes
 * must lie before the central directory. Compressed or encrypted members are
 * returned, not rejected (use .method/.flags); malformed ones -> GGDM_ERR_FORMAT.
 */
ggdm_status ggdm_npz_iter_next(const uint8_t *zip, uint64_t zip_len, ggdm_npz_iter *it,
                               ggdm_npz_member *m, int *has, char *msg);

/* Validates the whole central directory and sets *count to the number of members. */
ggdm_status ggdm_npz_count(const uint8_t *zip, uint64_t zip_len, uint64_t *count,
                           char *msg);

/*
 * Looks up a member by name: a member called exactly `name` (NUL-terminated), else
 * one called name + ".npy" ("A" finds "A.npy", as np.load(...)["A"] does). The
 * whole central directory is validated first. On GGDM_OK the member's .npy bytes
 * are zip[*member_offset .. *member_offset + *member_len) and their CRC-32 matched.
 *   GGDM_ERR_ARG          null pointers, empty name, or no such member
 *   GGDM_ERR_UNSUPPORTED  the member is compressed (np.savez_compressed) or encrypted
 *   GGDM_ERR_FORMAT       malformed archive, two members with the matching name,
 *                         CRC-32 mismatch
 */
ggdm_status ggdm_npz_find(const uint8_t *zip, uint64_t zip_len, const char *name,
                          uint64_t *member_offset, uint64_t *member_len, char *msg);

/* CRC-32 (ISO-HDLC, as in zip and zlib): crc32(0, p, n) of the bytes; chainable. */
uint32_t ggdm_crc32(uint32_t crc, const uint8_t *p, uint64_t n);

#endif /* GGDM_NPY_H */
