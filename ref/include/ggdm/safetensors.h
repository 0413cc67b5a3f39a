/*
 * ggdm/safetensors.h - reading and writing the safetensors format
 * (https://github.com/huggingface/safetensors): an 8-byte little-endian u64 N, an
 * N-byte UTF-8 JSON header, then the data buffer. Each tensor entry of the header is
 *   "name": {"dtype": "F32", "shape": [a, b], "data_offsets": [begin, end]}
 * with offsets relative to the start of the data buffer; an optional
 *   "__metadata__": {"key": "value", ...}
 * holds string key/value pairs.
 *
 * Nothing here allocates, prints or reads files: the caller hands in the whole file
 * as bytes and memory for the results, and every function says how much it needs.
 * Results are pointer-free (offsets into the file), identical on little- and
 * big-endian hosts. docs/safetensors.md says what is accepted and what is rejected.
 *
 * Reading:
 *   1. ggdm_st_parse(file, len, NULL, 0, &n, NULL, 0, &m, msg) validates every entry
 *      and returns GGDM_ERR_BUFFER_TOO_SMALL with n tensors and m metadata entries
 *      (GGDM_OK straight away for a file with neither).
 *   2. ggdm_st_parse(file, len, tensors, n, &n, meta, m, &m, msg) with room for them
 *      validates the whole file (names unique, data buffer tiled exactly).
 *   3. ggdm_st_find / ggdm_st_find_prefixed locate a tensor by name,
 *      ggdm_st_load_f32 (F32) or ggdm_st_load_as_f32 (F32, F16, BF16) converts its
 *      data; ggdm_st_string decodes a name or string.
 * Writing:
 *   1. ggdm_st_header_size(specs, n, meta, m, &header_bytes, &data_bytes, msg).
 *   2. ggdm_st_write_header(...) into header_bytes bytes, then each tensor's data
 *      (ggdm_st_encode_f32), in the order given, right after it.
 *
 * Every msg argument may be null or points to GGDM_ST_MSG_LEN bytes; it receives ""
 * on success and a one-line reason on error.
 */
#ifndef GGDM_SAFETENSORS_H
#define GGDM_SAFETENSORS_H

#include <stdint.h>

#include "ggdm/status.h"

/* Size of every msg buffer of this header. */
#define GGDM_ST_MSG_LEN 160
/* Most dimensions of a tensor ggdm represents (more -> GGDM_ERR_UNSUPPORTED). */
#define GGDM_ST_MAX_DIMS 8
/* Largest accepted JSON header N, as in the official implementation ("header too large"). */
#define GGDM_ST_HEADER_MAX 100000000u
/* Largest accepted dimension, offset or integer in the header (2^63 - 1). */
#define GGDM_ST_INT_MAX 0x7fffffffffffffffull

/* Every dtype the format (safetensors 0.8) defines. Values are ggdm's own; the file
 * holds the names (ggdm_st_dtype_name). F32, F16 and BF16 data are converted
 * (ggdm_st_load_as_f32); ggdm_st_load_f32 converts F32 only. */
typedef enum ggdm_st_dtype {
    GGDM_ST_BOOL = 0,
    GGDM_ST_F4 = 1,      /* 4 bits, packed: element count * 4 must be a whole number of bytes */
    GGDM_ST_F6_E2M3 = 2, /* 6 bits, packed */
    GGDM_ST_F6_E3M2 = 3, /* 6 bits, packed */
    GGDM_ST_U8 = 4,
    GGDM_ST_I8 = 5,
    GGDM_ST_F8_E5M2 = 6,
    GGDM_ST_F8_E4M3 = 7,
    GGDM_ST_F8_E8M0 = 8,
    GGDM_ST_F8_E4M3FNUZ = 9,
    GGDM_ST_F8_E5M2FNUZ = 10,
    GGDM_ST_I16 = 11,
    GGDM_ST_U16 = 12,
    GGDM_ST_F16 = 13,
    GGDM_ST_BF16 = 14,
    GGDM_ST_I32 = 15,
    GGDM_ST_U32 = 16,
    GGDM_ST_F32 = 17,
    GGDM_ST_C64 = 18,
    GGDM_ST_F64 = 19,
    GGDM_ST_I64 = 20,
    GGDM_ST_U64 = 21
} ggdm_st_dtype;
#define GGDM_ST_DTYPE_COUNT 22

/*
 * One tensor of a parsed file. Pointer-free: the name is located in the file.
 * name_off/name_len delimit the contents of the name's JSON string (between the
 * quotes, as stored). When name_escaped is 0 these bytes are the name itself (UTF-8,
 * not NUL-terminated); when 1 they contain JSON escapes (\" \\ \/ \b \f \n \r \t
 * \uXXXX) and ggdm_st_string decodes them. ggdm_st_find compares decoded names.
 */
typedef struct ggdm_st_tensor {
    uint64_t name_off, name_len;
    int name_escaped;
    ggdm_st_dtype dtype;
    int ndim;                         /* 0 .. GGDM_ST_MAX_DIMS */
    uint64_t shape[GGDM_ST_MAX_DIMS]; /* shape[ndim..7] are 0 */
    uint64_t count;                   /* product of shape; 1 for ndim 0 */
    uint64_t begin, end;              /* data_offsets, relative to the data buffer */
    uint64_t data_off, data_len;      /* absolute: file[data_off .. data_off + data_len) */
    uint64_t header_index;            /* position among the tensor entries of the header */
} ggdm_st_tensor;

/* One "__metadata__" entry: key and value located in the file as for tensor names. */
typedef struct ggdm_st_meta {
    uint64_t key_off, key_len;
    int key_escaped;
    uint64_t value_off, value_len;
    int value_escaped;
} ggdm_st_meta;

/* "F32" etc. (static string) for a valid dtype, "?" otherwise. */
const char *ggdm_st_dtype_name(ggdm_st_dtype dt);
/* Bits per element (4, 6, 8, 16, 32 or 64); 0 for an invalid dtype. */
unsigned ggdm_st_dtype_bits(ggdm_st_dtype dt);

/*
 * Parses and validates the whole file file[0 .. file_len).
 *
 * tensors[0 .. cap) and meta[0 .. meta_cap) receive the results; either pointer may
 * be null when its cap is 0. *count and *meta_count are set to the numbers in the
 * file as soon as the header's JSON and every entry are valid; then
 *   - if cap < *count or meta_cap < *meta_count: GGDM_ERR_BUFFER_TOO_SMALL (size
 *     query: nothing else is checked, the arrays' contents are unspecified);
 *   - otherwise the checks that need the whole list run (duplicate names, data
 *     buffer tiled exactly) and on GGDM_OK tensors come back in order of data offset
 *     (ties: header order) and metadata entries sorted by decoded key (bytewise).
 * Errors (msg names the tensor and the problem):
 *   GGDM_ERR_ARG          null file/count/meta_count, or null array with non-zero cap
 *   GGDM_ERR_FORMAT       anything malformed (file shorter than 8 bytes, header length
 *                         beyond the file or above GGDM_ST_HEADER_MAX, JSON syntax,
 *                         schema, unknown dtype, sizes, offsets, duplicates, gaps)
 *   GGDM_ERR_UNSUPPORTED  a well-formed tensor with more than GGDM_ST_MAX_DIMS dims
 *   GGDM_ERR_BUFFER_TOO_SMALL  see above
 * Never reads outside file[0 .. file_len); no recursion.
 */
ggdm_status ggdm_st_parse(const uint8_t *file, uint64_t file_len, ggdm_st_tensor *tensors,
                          uint64_t cap, uint64_t *count, ggdm_st_meta *meta, uint64_t meta_cap,
                          uint64_t *meta_count, char *msg);

/*
 * Decodes the JSON string contents file[off .. off + len) (a name, key or value from
 * ggdm_st_parse, escaped or not) into out as UTF-8 plus a terminating NUL.
 * *out_len = decoded length without the NUL (set whenever the string is valid); it
 * is at most len, so cap = len + 1 always suffices. cap < *out_len + 1 ->
 * GGDM_ERR_BUFFER_TOO_SMALL (nothing written); a range outside the file or bytes that
 * are not valid JSON string contents -> GGDM_ERR_ARG / GGDM_ERR_FORMAT. Decoded
 * strings may contain NUL bytes (from \u0000).
 */
ggdm_status ggdm_st_string(const uint8_t *file, uint64_t file_len, uint64_t off, uint64_t len,
                           char *out, uint64_t cap, uint64_t *out_len);

/*
 * Finds the tensor whose decoded name equals `name` (NUL-terminated) exactly.
 * GGDM_OK with *index; GGDM_ERR_ARG when there is none (msg says so), for null
 * pointers, or for an entry whose name range lies outside the file.
 */
ggdm_status ggdm_st_find(const uint8_t *file, uint64_t file_len, const ggdm_st_tensor *tensors,
                         uint64_t count, const char *name, uint64_t *index, char *msg);

/*
 * As ggdm_st_find for `name`, and when there is no such tensor for prefix + name
 * (e.g. prefix "model." finds "model.downs.0.0.block1.proj.weight" for
 * "downs.0.0.block1.proj.weight"). A null or empty prefix tries `name` only.
 */
ggdm_status ggdm_st_find_prefixed(const uint8_t *file, uint64_t file_len,
                                  const ggdm_st_tensor *tensors, uint64_t count,
                                  const char *prefix, const char *name, uint64_t *index,
                                  char *msg);

/* Finds the metadata entry whose decoded key equals `key`; as ggdm_st_find. */
ggdm_status ggdm_st_find_meta(const uint8_t *file, uint64_t file_len, const ggdm_st_meta *meta,
                              uint64_t meta_count, const char *key, uint64_t *index, char *msg);

/*
 * Converts the tensor's t->count little-endian float32 values into out[0 .. count).
 * Values are copied bit for bit (NaN, infinities and -0 included).
 *   GGDM_ERR_UNSUPPORTED       dtype other than F32 (msg names it)
 *   GGDM_ERR_BUFFER_TOO_SMALL  out_count < t->count
 *   GGDM_ERR_ARG               null pointers (out may be null when count is 0), or a
 *                              t inconsistent with the file (range outside the file,
 *                              data_len != count * 4)
 */
ggdm_status ggdm_st_load_f32(const uint8_t *file, uint64_t file_len, const ggdm_st_tensor *t,
                             float *out, uint64_t out_count, char *msg);

/* Writes n floats as little-endian bytes to dst (4 * n bytes). GGDM_ERR_ARG for null
 * pointers with n > 0. src and dst must not overlap. */
ggdm_status ggdm_st_encode_f32(const float *src, uint64_t n, uint8_t *dst);

/*
 * As ggdm_st_load_f32, for F32, F16 and BF16 tensors: every F16 and BF16 value is a
 * float32, so the conversion is exact (no rounding, no dependence on the host):
 *   F32   bit for bit (NaN payloads, infinities, -0 included);
 *   BF16  the 16 bits are the float32's upper half (bits << 16): bit for bit, NaN
 *         payloads and signalling NaNs included (PyTorch's bfloat16 -> float);
 *   F16   sign kept; normal numbers rebiased; the 1024 subnormals (m * 2^-24) become
 *         normal float32s; +-inf -> +-inf; a NaN keeps its sign and 10-bit payload
 *         (shifted into the top of the float32 mantissa) and is made quiet (bit 22 set):
 *         IEEE 754's convertFormat, what x86's F16C instructions and PyTorch give.
 * Other dtypes: GGDM_ERR_UNSUPPORTED naming the dtype. Other errors as ggdm_st_load_f32.
 */
ggdm_status ggdm_st_load_as_f32(const uint8_t *file, uint64_t file_len, const ggdm_st_tensor *t,
                                float *out, uint64_t out_count, char *msg);

/* The float32 bits of an F16 / BF16 value (the conversions of ggdm_st_load_as_f32). */
uint32_t ggdm_st_f16_to_f32_bits(uint16_t h);
uint32_t ggdm_st_bf16_to_f32_bits(uint16_t b);

/*
 * The F16 bits nearest to a float32 (bits): round to nearest, ties to even, in the
 * normal and the subnormal range alike; |x| >= 65520 (the midpoint above F16's largest
 * finite 65504) overflows to +-inf; |x| <= 2^-25 becomes +-0 (2^-25 is a tie to even 0);
 * +-inf -> +-inf; every NaN -> sign | 0x7e00 (the quiet NaN; the payload is dropped, as
 * PyTorch's float -> half does). No floating-point arithmetic: bits only.
 */
uint16_t ggdm_st_f32_to_f16_bits(uint32_t f);

/* Writes n floats as little-endian F16 (2 * n bytes, ggdm_st_f32_to_f16_bits).
 * GGDM_ERR_ARG for null pointers with n > 0. */
ggdm_status ggdm_st_encode_f16(const float *src, uint64_t n, uint8_t *dst);

/*
 * Data bytes of a tensor: product(shape) * bits / 8. GGDM_ERR_ARG for an invalid
 * dtype, ndim outside 0..GGDM_ST_MAX_DIMS, a null shape with ndim > 0, a dimension
 * above GGDM_ST_INT_MAX, overflow, or a bit count that is not a whole number of bytes.
 */
ggdm_status ggdm_st_data_bytes(ggdm_st_dtype dt, int ndim, const uint64_t *shape,
                               uint64_t *bytes);

/* ---------------------------------------------------------------- writing */

/* A tensor to write: name (NUL-terminated UTF-8, any characters; escaped as needed),
 * dtype (GGDM_ST_F32 for ggdm's weights), rank and shape. */
typedef struct ggdm_st_spec {
    const char *name;
    ggdm_st_dtype dtype;
    int ndim;
    uint64_t shape[GGDM_ST_MAX_DIMS];
} ggdm_st_spec;

/* A "__metadata__" entry to write: NUL-terminated UTF-8 key and value. */
typedef struct ggdm_st_kv {
    const char *key;
    const char *value;
} ggdm_st_kv;

/*
 * Sizes of a file holding these tensors, laid out contiguously in the given order,
 * and these metadata entries (written in the given order; meta may be null when
 * meta_n is 0, and no "__metadata__" is written then):
 *   *header_bytes  8 + N, a multiple of 8: where the data buffer starts
 *   *data_bytes    sum of the tensors' data bytes (the file is header + data bytes)
 * The header is the compact JSON that safetensors' own serializer writes
 * ({"__metadata__":{...},"name":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}})
 * padded with spaces, so with the same order the bytes are the same as Python's.
 *   GGDM_ERR_ARG  null pointers (specs may be null only when n is 0), null or invalid
 *                 UTF-8 names/keys/values, a tensor called "__metadata__", duplicate
 *                 names or keys, bad dtypes or shapes (as ggdm_st_data_bytes), a header
 *                 above GGDM_ST_HEADER_MAX, or a total data size that overflows
 * Duplicate checks compare every pair (quadratic: meant for hundreds of tensors).
 */
ggdm_status ggdm_st_header_size(const ggdm_st_spec *specs, uint64_t n, const ggdm_st_kv *meta,
                                uint64_t meta_n, uint64_t *header_bytes, uint64_t *data_bytes,
                                char *msg);

/*
 * Writes the 8-byte length and the padded JSON header (header_bytes bytes, as
 * reported by ggdm_st_header_size, which it calls) to buf. *written = header_bytes
 * whenever the arguments are valid; cap < header_bytes -> GGDM_ERR_BUFFER_TOO_SMALL,
 * nothing written. Tensor i's data goes at header_bytes + (sum of the data bytes of
 * tensors 0 .. i-1).
 */
ggdm_status ggdm_st_write_header(const ggdm_st_spec *specs, uint64_t n, const ggdm_st_kv *meta,
                                 uint64_t meta_n, uint8_t *buf, uint64_t cap,
                                 uint64_t *written, char *msg);

#endif /* GGDM_SAFETENSORS_H */
