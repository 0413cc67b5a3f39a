/*
 * fuzz_npy: the .npy reader (ggdm/npy.h) on arbitrary bytes, as a file.
 *
 * Properties checked besides "no crash, no UB":
 *   - the prefix protocol: ggdm_npy_header_bytes_needed on the first 12 bytes, then
 *     ggdm_npy_parse on exactly that many bytes (an exactly sized heap copy, so one
 *     byte read past buf_len is an AddressSanitizer report), agrees with a parse of
 *     the whole file;
 *   - on GGDM_OK: header_bytes + data_bytes == file size, count == product of the
 *     shape, data_bytes == count * element size, msg == "";
 *   - on error: msg is a non-empty, NUL-terminated line;
 *   - decoders: the documented dtype table (UNSUPPORTED otherwise), BUFFER_TOO_SMALL
 *     for a short output, exact values (f32 bits, f64 widening, i64, u32);
 *   - encode(decode(data)) reproduces the stored bytes; the finiteness scan agrees
 *     with a direct one;
 *   - the header ggdm_npy_header_write writes for the parsed dtype and shape parses
 *     back to the same dtype and shape.
 */
#include <math.h>

#include "fuzz.h"
#include "ggdm/bytes.h"
#include "ggdm/npy.h"

#define MAX_DECODE (1u << 16) /* elements decoded per input (bounded work) */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static ggdm_status parse_copy(const uint8_t *data, uint64_t n, uint64_t file_len, ggdm_npy_info *info)
{
    uint8_t *buf = (uint8_t *)malloc(n ? (size_t)n : 1);
    ggdm_status st;
    FUZZ_CHECK(buf != NULL);
    if (n)
        memcpy(buf, data, (size_t)n);
    memset(info, 0xA5, sizeof *info); /* nothing may depend on what was there */
    st = ggdm_npy_parse(buf, n, file_len, info);
    free(buf);
    FUZZ_CHECK(fuzz_msg_ok(info->msg, sizeof info->msg));
    FUZZ_CHECK((st == GGDM_OK) == (info->msg[0] == 0));
    return st;
}

static void check_info(const ggdm_npy_info *info, uint64_t file_len)
{
    uint64_t count = 1;
    int d;
    unsigned es = ggdm_dtype_size(info->dtype);
    FUZZ_CHECK(es == 4 || es == 8);
    FUZZ_CHECK(info->ndim >= 0 && info->ndim <= GGDM_NPY_MAX_DIMS);
    for (d = 0; d < info->ndim; d++)
        count *= info->shape[d]; /* no overflow: data_bytes fits the file */
    for (d = info->ndim; d < GGDM_NPY_MAX_DIMS; d++)
        FUZZ_CHECK(info->shape[d] == 0);
    FUZZ_CHECK(count == info->count);
    FUZZ_CHECK(info->data_bytes == info->count * es);
    FUZZ_CHECK(info->header_bytes <= file_len);
    FUZZ_CHECK(info->header_bytes + info->data_bytes == file_len);
    FUZZ_CHECK(info->header_bytes <= GGDM_NPY_HEADER_MAX);
    FUZZ_CHECK(info->version_major >= 1 && info->version_major <= 3 && info->version_minor == 0);
}

static void check_decoders(ggdm_npy_info *info, const uint8_t *dat)
{
    uint64_t n = info->count, i, bad = 0;
    ggdm_dtype dt = info->dtype;
    float *f = (float *)malloc(sizeof(float) * (size_t)(n + 1));
    double *g = (double *)malloc(sizeof(double) * (size_t)(n + 1));
    int64_t *k = (int64_t *)malloc(sizeof(int64_t) * (size_t)(n + 1));
    uint32_t *u = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(n + 1));
    uint8_t *enc = (uint8_t *)malloc((size_t)info->data_bytes + 1);
    ggdm_status st;
    FUZZ_CHECK(f && g && k && u && enc);

    st = ggdm_npy_decode_f32(info, dat, f, n);
    FUZZ_CHECK(st == ((dt == GGDM_DT_F32 || dt == GGDM_DT_F64) ? GGDM_OK : GGDM_ERR_UNSUPPORTED));
    if (st == GGDM_OK) {
        for (i = 0; i < n; i++) {
            if (dt == GGDM_DT_F32) {
                uint32_t a = ggdm_le_load_u32(dat + 4 * i), b;
                memcpy(&b, &f[i], 4);
                FUZZ_CHECK(a == b);
            } else {
                double x = ggdm_le_load_f64(dat + 8 * i);
                FUZZ_CHECK(x != x ? f[i] != f[i] : f[i] == (float)x);
            }
        }
    }
    st = ggdm_npy_decode_f64(info, dat, g, n);
    FUZZ_CHECK(st == ((dt == GGDM_DT_F32 || dt == GGDM_DT_F64) ? GGDM_OK : GGDM_ERR_UNSUPPORTED));
    if (st == GGDM_OK)
        for (i = 0; i < n; i++) {
            double x = dt == GGDM_DT_F64 ? ggdm_le_load_f64(dat + 8 * i) : (double)ggdm_le_load_f32(dat + 4 * i);
            FUZZ_CHECK(x != x ? g[i] != g[i] : memcmp(&x, &g[i], 8) == 0);
        }
    st = ggdm_npy_decode_i64(info, dat, k, n);
    FUZZ_CHECK(st == ((dt == GGDM_DT_I64 || dt == GGDM_DT_U32) ? GGDM_OK : GGDM_ERR_UNSUPPORTED));
    if (st == GGDM_OK)
        for (i = 0; i < n; i++)
            FUZZ_CHECK(k[i] == (dt == GGDM_DT_I64 ? ggdm_le_load_i64(dat + 8 * i) : (int64_t)ggdm_le_load_u32(dat + 4 * i)));
    st = ggdm_npy_decode_u32(info, dat, u, n);
    FUZZ_CHECK(st == (dt == GGDM_DT_U32 ? GGDM_OK : GGDM_ERR_UNSUPPORTED));
    if (st == GGDM_OK)
        for (i = 0; i < n; i++)
            FUZZ_CHECK(u[i] == ggdm_le_load_u32(dat + 4 * i));
    FUZZ_CHECK(fuzz_msg_ok(info->msg, sizeof info->msg));

    /* a short output buffer is refused, whatever the dtype */
    if (n > 0) {
        FUZZ_CHECK(ggdm_npy_decode_f32(info, dat, f, n - 1) == GGDM_ERR_BUFFER_TOO_SMALL);
        FUZZ_CHECK(ggdm_npy_decode_u32(info, dat, u, n - 1) == GGDM_ERR_BUFFER_TOO_SMALL);
    }

    /* encode(decode(x)) == x, bit for bit, in the stored dtype */
    switch (dt) {
    case GGDM_DT_F32:
        FUZZ_CHECK(ggdm_npy_decode_f32(info, dat, f, n) == GGDM_OK);
        FUZZ_CHECK(ggdm_npy_encode_f32(f, n, enc) == GGDM_OK);
        /* the finiteness scan agrees with a direct one */
        {
            uint64_t first = 0, j;
            int all = 1;
            for (j = 0; j < n && all; j++)
                if (!isfinite(f[j])) {
                    all = 0;
                    first = j;
                }
            bad = UINT64_MAX;
            FUZZ_CHECK(ggdm_f32_all_finite(f, n, &bad) == all);
            FUZZ_CHECK(all || bad == first);
        }
        break;
    case GGDM_DT_F64:
        FUZZ_CHECK(ggdm_npy_decode_f64(info, dat, g, n) == GGDM_OK);
        FUZZ_CHECK(ggdm_npy_encode_f64(g, n, enc) == GGDM_OK);
        {
            uint64_t first = 0, j;
            int all = 1;
            for (j = 0; j < n && all; j++)
                if (!isfinite(g[j])) {
                    all = 0;
                    first = j;
                }
            bad = UINT64_MAX;
            FUZZ_CHECK(ggdm_f64_all_finite(g, n, &bad) == all);
            FUZZ_CHECK(all || bad == first);
        }
        break;
    case GGDM_DT_I64:
        FUZZ_CHECK(ggdm_npy_decode_i64(info, dat, k, n) == GGDM_OK);
        FUZZ_CHECK(ggdm_npy_encode_i64(k, n, enc) == GGDM_OK);
        break;
    case GGDM_DT_U32:
        FUZZ_CHECK(ggdm_npy_decode_u32(info, dat, u, n) == GGDM_OK);
        FUZZ_CHECK(ggdm_npy_encode_u32(u, n, enc) == GGDM_OK);
        break;
    }
    FUZZ_CHECK(n == 0 || memcmp(enc, dat, (size_t)info->data_bytes) == 0);
    free(f);
    free(g);
    free(k);
    free(u);
    free(enc);
}

/* The header ggdm writes for this dtype and shape parses back to them. */
static void check_writer(const ggdm_npy_info *info)
{
    uint8_t hdr[GGDM_NPY_WRITE_HEADER_MAX];
    uint64_t len = 0, bytes = 0;
    ggdm_npy_info back;
    ggdm_status st = ggdm_npy_data_bytes(info->dtype, info->ndim, info->shape, &bytes);
    int d;
    FUZZ_CHECK(st == GGDM_OK && bytes == info->data_bytes);
    st = ggdm_npy_header_write(info->dtype, info->ndim, info->shape, hdr, sizeof hdr, &len);
    FUZZ_CHECK(st == GGDM_OK);
    FUZZ_CHECK(len > 0 && len <= GGDM_NPY_WRITE_HEADER_MAX && len % 64 == 0);
    FUZZ_CHECK(ggdm_npy_header_write(info->dtype, info->ndim, info->shape, hdr, len - 1, &len) ==
               GGDM_ERR_BUFFER_TOO_SMALL);
    /* the header alone, with a file size that includes the data */
    if (info->data_bytes <= UINT64_MAX - len) {
        st = parse_copy(hdr, len, len + info->data_bytes, &back);
        FUZZ_CHECKF(st == GGDM_OK, "written header does not parse back: %s", back.msg);
        FUZZ_CHECK(back.dtype == info->dtype && back.ndim == info->ndim && back.count == info->count);
        for (d = 0; d < info->ndim; d++)
            FUZZ_CHECK(back.shape[d] == info->shape[d]);
        FUZZ_CHECK(back.header_bytes == len && back.version_major == 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t need = 0, pre = size < GGDM_NPY_PREAMBLE_MAX ? size : GGDM_NPY_PREAMBLE_MAX;
    ggdm_npy_info whole, part;
    ggdm_status st_whole, st_need, st_part;

    /* 1. the whole file at once */
    st_whole = parse_copy(data, size, size, &whole);
    FUZZ_CHECK(st_whole == GGDM_OK || st_whole == GGDM_ERR_FORMAT || st_whole == GGDM_ERR_UNSUPPORTED ||
               st_whole == GGDM_ERR_BUFFER_TOO_SMALL);
    FUZZ_CHECK(st_whole != GGDM_ERR_BUFFER_TOO_SMALL || size < GGDM_NPY_PREAMBLE_MAX);

    /* 2. the front ends' protocol: preamble, then exactly the header */
    {
        uint8_t *p = (uint8_t *)malloc(pre ? (size_t)pre : 1);
        FUZZ_CHECK(p != NULL);
        if (pre)
            memcpy(p, data, (size_t)pre);
        st_need = ggdm_npy_header_bytes_needed(pre ? p : NULL, pre, &need);
        free(p);
    }
    FUZZ_CHECK(st_need != GGDM_ERR_ARG);
    if (st_need == GGDM_OK) {
        FUZZ_CHECK(need >= 10 && need <= GGDM_NPY_HEADER_MAX);
        if (need <= size) {
            st_part = parse_copy(data, need, size, &part);
            FUZZ_CHECK(st_part == st_whole);
            if (st_part == GGDM_OK)
                FUZZ_CHECK(part.header_bytes == need && memcmp(&part, &whole, sizeof part) == 0);
        } else {
            FUZZ_CHECK(st_whole == GGDM_ERR_FORMAT); /* the header runs past the end of the file */
            st_part = parse_copy(data, size, size, &part);
            FUZZ_CHECK(st_part == GGDM_ERR_FORMAT);
        }
    } else if (st_need == GGDM_ERR_BUFFER_TOO_SMALL) {
        FUZZ_CHECK(need > pre && need <= GGDM_NPY_PREAMBLE_MAX);
        FUZZ_CHECK(st_whole != GGDM_OK);
    } else {
        FUZZ_CHECK(st_whole == st_need); /* bad magic, version or header length: same verdict */
    }

    /* 3. a prefix that is too short is asked for more, never misread */
    if (st_whole == GGDM_OK && whole.header_bytes > 0) {
        uint64_t cut = (size * 7u) % whole.header_bytes;
        st_part = parse_copy(data, cut, size, &part);
        FUZZ_CHECK(st_part == GGDM_ERR_BUFFER_TOO_SMALL);
        FUZZ_CHECK(part.header_bytes > cut && part.header_bytes <= whole.header_bytes);
    }

    if (st_whole != GGDM_OK)
        return 0;
    check_info(&whole, size);
    check_writer(&whole);
    if (whole.count <= MAX_DECODE) {
        /* the data in an exactly sized buffer of its own */
        uint8_t *dat = (uint8_t *)malloc(whole.data_bytes ? (size_t)whole.data_bytes : 1);
        FUZZ_CHECK(dat != NULL);
        if (whole.data_bytes)
            memcpy(dat, data + whole.header_bytes, (size_t)whole.data_bytes);
        check_decoders(&whole, dat);
        free(dat);
    }
    return 0;
}
