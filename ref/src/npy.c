/*
 * npy.c - NumPy .npy header parsing and writing, and little-endian data conversion.
 * See ggdm/npy.h for the API and docs/formats.md for what is accepted and why.
 *
 * The header parser is written for hostile input: it looks at no byte outside
 * buf[0 .. buf_len), checks every size with overflow-safe arithmetic, and has no
 * recursion (its only nesting, inside a structured descr list, is counted).
 */
#include "ggdm/npy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ggdm/bytes.h"

static const uint8_t npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

static ggdm_status fail(char *msg, ggdm_status st, const char *fmt, ...)
{
    va_list ap;
    if (msg) {
        va_start(ap, fmt);
        vsnprintf(msg, GGDM_NPY_MSG_LEN, fmt, ap);
        va_end(ap);
    }
    return st;
}

typedef unsigned long long ull;

const char *ggdm_dtype_descr(ggdm_dtype dt)
{
    switch (dt) {
    case GGDM_DT_F32: return "<f4";
    case GGDM_DT_F64: return "<f8";
    case GGDM_DT_I64: return "<i8";
    case GGDM_DT_U32: return "<u4";
    }
    return "?";
}

unsigned ggdm_dtype_size(ggdm_dtype dt)
{
    switch (dt) {
    case GGDM_DT_F32: return 4u;
    case GGDM_DT_F64: return 8u;
    case GGDM_DT_I64: return 8u;
    case GGDM_DT_U32: return 4u;
    }
    return 0u;
}

/* ---------------------------------------------------------------- preamble */

/*
 * Checks magic and version in the first min(len, 8) bytes and, when available, reads
 * the header length. Returns GGDM_OK with *plen and *hlen set, or an error; for
 * GGDM_ERR_BUFFER_TOO_SMALL *plen is the preamble length needed (12 if unknown).
 */
static ggdm_status read_preamble(const uint8_t *p, uint64_t len, uint64_t *plen,
                                 uint64_t *hlen, int *major, int *minor, char *msg)
{
    uint64_t n = len < 6 ? len : 6;
    *plen = GGDM_NPY_PREAMBLE_MAX;
    *hlen = 0;
    if (memcmp(p, npy_magic, (size_t)n) != 0) {
        return fail(msg, GGDM_ERR_FORMAT, "npy: bad magic (file does not start with \\x93NUMPY)");
    }
    if (len < 8) {
        return fail(msg, GGDM_ERR_BUFFER_TOO_SMALL, "npy: need the first 12 bytes, have %llu",
                    (ull)len);
    }
    *major = p[6];
    *minor = p[7];
    if (p[6] < 1 || p[6] > 3 || p[7] != 0) {
        return fail(msg, GGDM_ERR_UNSUPPORTED,
                    "npy: unsupported format version %u.%u (expected 1.0, 2.0 or 3.0)",
                    (unsigned)p[6], (unsigned)p[7]);
    }
    *plen = p[6] == 1 ? 10u : 12u;
    if (len < *plen) {
        return fail(msg, GGDM_ERR_BUFFER_TOO_SMALL, "npy: need the first %llu bytes, have %llu",
                    (ull)*plen, (ull)len);
    }
    *hlen = p[6] == 1 ? (uint64_t)ggdm_le_load_u16(p + 8) : (uint64_t)ggdm_le_load_u32(p + 8);
    if (*hlen > GGDM_NPY_HEADER_LEN_MAX) {
        return fail(msg, GGDM_ERR_FORMAT, "npy: header length %llu exceeds %u bytes (header too large)",
                    (ull)*hlen, (unsigned)GGDM_NPY_HEADER_LEN_MAX);
    }
    return GGDM_OK;
}

ggdm_status ggdm_npy_header_bytes_needed(const uint8_t *prefix, uint64_t prefix_len,
                                         uint64_t *need)
{
    uint64_t plen, hlen;
    int major = 0, minor = 0;
    ggdm_status st;
    if (!need) {
        return GGDM_ERR_ARG;
    }
    *need = 0;
    if (!prefix && prefix_len > 0) {
        return GGDM_ERR_ARG;
    }
    if (!prefix) {
        *need = GGDM_NPY_PREAMBLE_MAX;
        return GGDM_ERR_BUFFER_TOO_SMALL;
    }
    st = read_preamble(prefix, prefix_len, &plen, &hlen, &major, &minor, NULL);
    if (st == GGDM_ERR_BUFFER_TOO_SMALL) {
        *need = plen;
    } else if (st == GGDM_OK) {
        *need = plen + hlen;
    }
    return st;
}

/* ---------------------------------------------------------------- header dict */

enum { KEY_DESCR = 0, KEY_FORTRAN = 1, KEY_SHAPE = 2, KEY_COUNT = 3 };

typedef struct hdr_parser {
    const uint8_t *s; /* header dictionary text */
    uint64_t n;       /* its length */
    uint64_t pos;
    uint64_t base; /* file offset of s[0], for messages */
    char *msg;
    /* results */
    int seen[KEY_COUNT];
    uint64_t descr_off, descr_len; /* the descr string's contents */
    int descr_is_list;
    int fortran;
    int ndim; /* may exceed GGDM_NPY_MAX_DIMS: only the first 8 are stored */
    uint64_t shape[GGDM_NPY_MAX_DIMS];
} hdr_parser;

static int is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(hdr_parser *h)
{
    while (h->pos < h->n && is_ws(h->s[h->pos])) {
        h->pos++;
    }
}

static int peek(const hdr_parser *h)
{
    return h->pos < h->n ? (int)h->s[h->pos] : -1;
}

static ggdm_status syntax(hdr_parser *h, const char *what)
{
    int c = peek(h);
    if (c < 0) {
        return fail(h->msg, GGDM_ERR_FORMAT, "npy: header dict ends early: expected %s", what);
    }
    if (c < 0x20) { /* tab, CR or LF: the only control bytes that get this far */
        return fail(h->msg, GGDM_ERR_FORMAT,
                    "npy: header dict: expected %s at byte %llu, found byte 0x%02x", what,
                    (ull)(h->base + h->pos), (unsigned)c);
    }
    return fail(h->msg, GGDM_ERR_FORMAT, "npy: header dict: expected %s at byte %llu, found '%c'",
                what, (ull)(h->base + h->pos), (char)c);
}

/* A quoted string without escapes: sets *off and *len to its contents. */
static ggdm_status parse_string(hdr_parser *h, uint64_t *off, uint64_t *len)
{
    uint8_t q = h->s[h->pos];
    uint64_t start;
    h->pos++;
    start = h->pos;
    while (h->pos < h->n && h->s[h->pos] != q) {
        uint8_t c = h->s[h->pos];
        if (c == '\\') {
            return fail(h->msg, GGDM_ERR_FORMAT,
                        "npy: header dict: escape sequences in strings are not supported");
        }
        if (c == '\n' || c == '\r') {
            return fail(h->msg, GGDM_ERR_FORMAT, "npy: header dict: unterminated string");
        }
        h->pos++;
    }
    if (h->pos >= h->n) {
        return fail(h->msg, GGDM_ERR_FORMAT, "npy: header dict: unterminated string");
    }
    *off = start;
    *len = h->pos - start;
    h->pos++; /* closing quote */
    return GGDM_OK;
}

static int span_is(const hdr_parser *h, uint64_t off, uint64_t len, const char *lit)
{
    size_t l = strlen(lit);
    return len == l && memcmp(h->s + off, lit, l) == 0;
}

/* Skips a balanced [...] (a structured dtype's descr), strings included. */
static ggdm_status skip_list(hdr_parser *h)
{
    uint64_t depth = 0;
    while (h->pos < h->n) {
        uint8_t c = h->s[h->pos];
        if (c == '\'' || c == '"') {
            uint64_t o, l;
            ggdm_status st = parse_string(h, &o, &l);
            if (st != GGDM_OK) {
                return st;
            }
            continue;
        }
        if (c == '[' || c == '(') {
            depth++;
        } else if (c == ']' || c == ')') {
            if (depth == 0) {
                break;
            }
            depth--;
            if (depth == 0) {
                h->pos++;
                return GGDM_OK;
            }
        }
        h->pos++;
    }
    return fail(h->msg, GGDM_ERR_FORMAT, "npy: header dict: unbalanced list in 'descr'");
}

static int is_ident_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

static ggdm_status parse_bool(hdr_parser *h, int *out)
{
    uint64_t start = h->pos;
    while (h->pos < h->n && is_ident_char(h->s[h->pos])) {
        h->pos++;
    }
    if (span_is(h, start, h->pos - start, "True")) {
        *out = 1;
        return GGDM_OK;
    }
    if (span_is(h, start, h->pos - start, "False")) {
        *out = 0;
        return GGDM_OK;
    }
    h->pos = start;
    return syntax(h, "True or False for 'fortran_order'");
}

/* A non-negative decimal integer as Python writes it, at most INT64_MAX. */
static ggdm_status parse_dim(hdr_parser *h, uint64_t *out)
{
    uint64_t start = h->pos, v = 0;
    int c = peek(h);
    if (c == '-') {
        return fail(h->msg, GGDM_ERR_FORMAT, "npy: negative dimension in 'shape'");
    }
    if (c < '0' || c > '9') {
        return syntax(h, "a dimension (non-negative integer) in 'shape'");
    }
    while (h->pos < h->n && h->s[h->pos] >= '0' && h->s[h->pos] <= '9') {
        uint64_t d = (uint64_t)(h->s[h->pos] - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10u) {
            return fail(h->msg, GGDM_ERR_FORMAT,
                        "npy: dimension in 'shape' is too large (more than 2^63-1)");
        }
        v = v * 10u + d;
        h->pos++;
    }
    if (h->pos - start > 1 && h->s[start] == '0') {
        return fail(h->msg, GGDM_ERR_FORMAT,
                    "npy: dimension with leading zeros in 'shape' is not a Python integer");
    }
    if (h->pos < h->n && is_ident_char(h->s[h->pos])) {
        return syntax(h, "',' or ')' after a dimension in 'shape'");
    }
    *out = v;
    return GGDM_OK;
}

static ggdm_status parse_shape(hdr_parser *h)
{
    int commas = 0;
    ggdm_status st;
    if (peek(h) != '(') {
        return syntax(h, "'(' starting the 'shape' tuple");
    }
    h->pos++;
    h->ndim = 0;
    skip_ws(h);
    if (peek(h) == ')') {
        h->pos++;
        return GGDM_OK;
    }
    for (;;) {
        uint64_t v = 0;
        skip_ws(h);
        st = parse_dim(h, &v);
        if (st != GGDM_OK) {
            return st;
        }
        if (h->ndim < GGDM_NPY_MAX_DIMS) {
            h->shape[h->ndim] = v;
        }
        h->ndim++; /* at most 32768: the header is at most 65536 bytes */
        skip_ws(h);
        if (peek(h) == ')') {
            break;
        }
        if (peek(h) != ',') {
            return syntax(h, "',' or ')' in 'shape'");
        }
        h->pos++;
        commas++;
        skip_ws(h);
        if (peek(h) == ')') {
            break;
        }
    }
    if (h->ndim == 1 && commas == 0) {
        return fail(h->msg, GGDM_ERR_FORMAT,
                    "npy: 'shape' (%llu) is an integer, not a tuple (a 1-d shape is written (n,))",
                    (ull)h->shape[0]);
    }
    h->pos++; /* ')' */
    return GGDM_OK;
}

static ggdm_status parse_dict(hdr_parser *h)
{
    static const char *const names[KEY_COUNT] = {"descr", "fortran_order", "shape"};
    ggdm_status st;
    int k;
    skip_ws(h);
    if (peek(h) != '{') {
        return syntax(h, "'{' (the header is a Python dict literal)");
    }
    h->pos++;
    for (;;) {
        uint64_t koff, klen;
        int key = -1;
        skip_ws(h);
        if (peek(h) == '}') {
            h->pos++;
            break;
        }
        if (peek(h) != '\'' && peek(h) != '"') {
            return syntax(h, "a quoted key or '}'");
        }
        st = parse_string(h, &koff, &klen);
        if (st != GGDM_OK) {
            return st;
        }
        for (k = 0; k < KEY_COUNT; k++) {
            if (span_is(h, koff, klen, names[k])) {
                key = k;
            }
        }
        if (key < 0) {
            return fail(h->msg, GGDM_ERR_FORMAT,
                        "npy: unexpected key '%.*s' in header (expected exactly 'descr', "
                        "'fortran_order', 'shape')",
                        (int)(klen > 32 ? 32 : klen), (const char *)(h->s + koff));
        }
        if (h->seen[key]) {
            return fail(h->msg, GGDM_ERR_FORMAT, "npy: duplicate key '%s' in header", names[key]);
        }
        h->seen[key] = 1;
        skip_ws(h);
        if (peek(h) != ':') {
            return syntax(h, "':' after a key");
        }
        h->pos++;
        skip_ws(h);
        if (key == KEY_DESCR) {
            if (peek(h) == '\'' || peek(h) == '"') {
                st = parse_string(h, &h->descr_off, &h->descr_len);
            } else if (peek(h) == '[') {
                h->descr_is_list = 1;
                st = skip_list(h);
            } else {
                st = syntax(h, "a string for 'descr'");
            }
        } else if (key == KEY_FORTRAN) {
            st = parse_bool(h, &h->fortran);
        } else {
            st = parse_shape(h);
        }
        if (st != GGDM_OK) {
            return st;
        }
        skip_ws(h);
        if (peek(h) == ',') {
            h->pos++;
            continue;
        }
        if (peek(h) == '}') {
            h->pos++;
            break;
        }
        return syntax(h, "',' or '}' after a value");
    }
    skip_ws(h);
    if (h->pos != h->n) {
        return fail(h->msg, GGDM_ERR_FORMAT,
                    "npy: unexpected '%c' after the header dict (only padding spaces may follow)",
                    (char)h->s[h->pos]);
    }
    for (k = 0; k < KEY_COUNT; k++) {
        if (!h->seen[k]) {
            return fail(h->msg, GGDM_ERR_FORMAT, "npy: header has no '%s' key", names[k]);
        }
    }
    return GGDM_OK;
}

/* Element count and byte count of a shape; 1 on overflow. Zero dims give count 0 but
 * the non-zero dims must still multiply without overflow. */
static int shape_sizes(int ndim, const uint64_t *shape, unsigned esize, uint64_t *count,
                       uint64_t *bytes)
{
    uint64_t nz = 1;
    int zero = 0, i;
    for (i = 0; i < ndim; i++) {
        if (shape[i] == 0) {
            zero = 1;
            continue;
        }
        if (nz > UINT64_MAX / shape[i]) {
            return 1;
        }
        nz *= shape[i];
    }
    if (nz > UINT64_MAX / esize) {
        return 1;
    }
    *count = zero ? 0 : nz;
    *bytes = *count * esize;
    return 0;
}

ggdm_status ggdm_npy_parse(const uint8_t *buf, uint64_t buf_len, uint64_t file_len,
                           ggdm_npy_info *info)
{
    static const struct {
        const char *descr;
        ggdm_dtype dt;
    } known[4] = {{"<f4", GGDM_DT_F32}, {"<f8", GGDM_DT_F64}, {"<i8", GGDM_DT_I64},
                  {"<u4", GGDM_DT_U32}};
    uint64_t plen, hlen, i, count = 0, bytes = 0;
    int major = 0, minor = 0, k, found = -1;
    hdr_parser h;
    ggdm_status st;

    if (!info) {
        return GGDM_ERR_ARG;
    }
    memset(info, 0, sizeof *info);
    if (!buf) {
        return fail(info->msg, GGDM_ERR_ARG, "npy: null buffer");
    }
    if (buf_len > file_len) {
        return fail(info->msg, GGDM_ERR_ARG, "npy: buffer length %llu exceeds file length %llu",
                    (ull)buf_len, (ull)file_len);
    }

    st = read_preamble(buf, buf_len, &plen, &hlen, &major, &minor, info->msg);
    if (st == GGDM_ERR_BUFFER_TOO_SMALL) {
        if (file_len < (buf_len < 8 ? 8u : plen)) {
            return fail(info->msg, GGDM_ERR_FORMAT,
                        "npy: file has %llu bytes, too short for a .npy preamble", (ull)file_len);
        }
        info->header_bytes = plen < file_len ? plen : file_len;
        return st;
    }
    if (st != GGDM_OK) {
        return st;
    }
    info->version_major = major;
    info->version_minor = minor;
    info->header_bytes = plen + hlen;
    if (file_len < plen + hlen) {
        return fail(info->msg, GGDM_ERR_FORMAT,
                    "npy: file has %llu bytes but the header needs %llu (truncated?)",
                    (ull)file_len, (ull)(plen + hlen));
    }
    if (buf_len < plen + hlen) {
        return fail(info->msg, GGDM_ERR_BUFFER_TOO_SMALL,
                    "npy: header needs %llu bytes, buffer has %llu", (ull)(plen + hlen),
                    (ull)buf_len);
    }

    /* Character set: printable ASCII plus tab/newline/CR, whatever the version. */
    for (i = 0; i < hlen; i++) {
        uint8_t c = buf[plen + i];
        if (!((c >= 0x20 && c <= 0x7e) || c == '\t' || c == '\n' || c == '\r')) {
            return fail(info->msg, GGDM_ERR_FORMAT,
                        "npy: header byte 0x%02x at byte %llu is not printable ASCII",
                        (unsigned)c, (ull)(plen + i));
        }
    }
    if (hlen == 0 || buf[plen + hlen - 1] != '\n') {
        return fail(info->msg, GGDM_ERR_FORMAT, "npy: header does not end with a newline");
    }

    memset(&h, 0, sizeof h);
    h.s = buf + plen;
    h.n = hlen;
    h.base = plen;
    h.msg = info->msg;
    st = parse_dict(&h);
    if (st != GGDM_OK) {
        return st;
    }

    /* Semantics: dtype, order, rank. */
    if (h.descr_is_list) {
        return fail(info->msg, GGDM_ERR_UNSUPPORTED,
                    "npy: structured dtypes (descr is a list) are not supported");
    }
    for (k = 0; k < 4; k++) {
        if (span_is(&h, h.descr_off, h.descr_len, known[k].descr)) {
            found = k;
        }
    }
    if (found < 0) {
        int shown = (int)(h.descr_len > 24 ? 24 : h.descr_len);
        const char *d = (const char *)(h.s + h.descr_off);
        if (h.descr_len == 3 && d[0] == '>') {
            return fail(info->msg, GGDM_ERR_UNSUPPORTED,
                        "npy: big-endian dtype '%.*s' is not supported (expected <f4, <f8, <i8 "
                        "or <u4)",
                        shown, d);
        }
        return fail(info->msg, GGDM_ERR_UNSUPPORTED,
                    "npy: unsupported dtype '%.*s' (expected <f4, <f8, <i8 or <u4)", shown, d);
    }
    if (h.fortran) {
        return fail(info->msg, GGDM_ERR_UNSUPPORTED,
                    "npy: fortran_order True is not supported (save a C-order array)");
    }
    if (h.ndim > GGDM_NPY_MAX_DIMS) {
        return fail(info->msg, GGDM_ERR_UNSUPPORTED, "npy: %d dimensions, at most %d supported",
                    h.ndim, GGDM_NPY_MAX_DIMS);
    }

    info->dtype = known[found].dt;
    info->ndim = h.ndim;
    for (k = 0; k < h.ndim; k++) {
        info->shape[k] = h.shape[k];
    }
    if (shape_sizes(h.ndim, h.shape, ggdm_dtype_size(info->dtype), &count, &bytes)) {
        return fail(info->msg, GGDM_ERR_FORMAT, "npy: the byte count of the shape overflows 64 bits");
    }
    info->count = count;
    info->data_bytes = bytes;

    if (bytes > file_len - info->header_bytes) {
        if (bytes <= UINT64_MAX - info->header_bytes) {
            return fail(info->msg, GGDM_ERR_FORMAT,
                        "npy: file has %llu bytes but header+data need %llu (truncated?)",
                        (ull)file_len, (ull)(info->header_bytes + bytes));
        }
        return fail(info->msg, GGDM_ERR_FORMAT,
                    "npy: file has %llu bytes but the data alone need %llu (truncated?)",
                    (ull)file_len, (ull)bytes);
    }
    if (bytes < file_len - info->header_bytes) {
        return fail(info->msg, GGDM_ERR_FORMAT,
                    "npy: file has %llu bytes but header+data need only %llu (%llu trailing bytes)",
                    (ull)file_len, (ull)(info->header_bytes + bytes),
                    (ull)(file_len - info->header_bytes - bytes));
    }
    info->msg[0] = '\0';
    return GGDM_OK;
}

/* ---------------------------------------------------------------- decoding */

static ggdm_status decode_check(ggdm_npy_info *info, const uint8_t *data, const void *out,
                                uint64_t out_count, const char *fn)
{
    unsigned es;
    if (!info) {
        return GGDM_ERR_ARG;
    }
    es = ggdm_dtype_size(info->dtype);
    if (es == 0 || info->ndim < 0 || info->ndim > GGDM_NPY_MAX_DIMS ||
        info->count > UINT64_MAX / es || info->count * es != info->data_bytes) {
        return fail(info->msg, GGDM_ERR_ARG, "npy: %s: info is not from a successful parse", fn);
    }
    if (info->count > 0 && (!data || !out)) {
        return fail(info->msg, GGDM_ERR_ARG, "npy: %s: null data or output pointer", fn);
    }
    if (out_count < info->count) {
        return fail(info->msg, GGDM_ERR_BUFFER_TOO_SMALL,
                    "npy: %s: output holds %llu values, the array has %llu", fn, (ull)out_count,
                    (ull)info->count);
    }
    return GGDM_OK;
}

static ggdm_status wrong_dtype(ggdm_npy_info *info, const char *fn, const char *accepted)
{
    return fail(info->msg, GGDM_ERR_UNSUPPORTED, "npy: %s: stored dtype %s, expected %s", fn,
                ggdm_dtype_descr(info->dtype), accepted);
}

ggdm_status ggdm_npy_decode_f32(ggdm_npy_info *info, const uint8_t *data, float *out,
                                uint64_t out_count)
{
    uint64_t i;
    ggdm_status st = decode_check(info, data, out, out_count, "decode_f32");
    if (st != GGDM_OK) {
        return st;
    }
    if (info->dtype == GGDM_DT_F32) {
        for (i = 0; i < info->count; i++) {
            out[i] = ggdm_le_load_f32(data + 4u * i);
        }
    } else if (info->dtype == GGDM_DT_F64) {
        for (i = 0; i < info->count; i++) {
            out[i] = (float)ggdm_le_load_f64(data + 8u * i);
        }
    } else {
        return wrong_dtype(info, "decode_f32", "<f4 or <f8");
    }
    info->msg[0] = '\0';
    return GGDM_OK;
}

ggdm_status ggdm_npy_decode_f64(ggdm_npy_info *info, const uint8_t *data, double *out,
                                uint64_t out_count)
{
    uint64_t i;
    ggdm_status st = decode_check(info, data, out, out_count, "decode_f64");
    if (st != GGDM_OK) {
        return st;
    }
    if (info->dtype == GGDM_DT_F64) {
        for (i = 0; i < info->count; i++) {
            out[i] = ggdm_le_load_f64(data + 8u * i);
        }
    } else if (info->dtype == GGDM_DT_F32) {
        for (i = 0; i < info->count; i++) {
            out[i] = (double)ggdm_le_load_f32(data + 4u * i);
        }
    } else {
        return wrong_dtype(info, "decode_f64", "<f8 or <f4");
    }
    info->msg[0] = '\0';
    return GGDM_OK;
}

ggdm_status ggdm_npy_decode_i64(ggdm_npy_info *info, const uint8_t *data, int64_t *out,
                                uint64_t out_count)
{
    uint64_t i;
    ggdm_status st = decode_check(info, data, out, out_count, "decode_i64");
    if (st != GGDM_OK) {
        return st;
    }
    if (info->dtype == GGDM_DT_I64) {
        for (i = 0; i < info->count; i++) {
            out[i] = ggdm_le_load_i64(data + 8u * i);
        }
    } else if (info->dtype == GGDM_DT_U32) {
        for (i = 0; i < info->count; i++) {
            out[i] = (int64_t)ggdm_le_load_u32(data + 4u * i);
        }
    } else {
        return wrong_dtype(info, "decode_i64", "<i8 or <u4");
    }
    info->msg[0] = '\0';
    return GGDM_OK;
}

ggdm_status ggdm_npy_decode_u32(ggdm_npy_info *info, const uint8_t *data, uint32_t *out,
                                uint64_t out_count)
{
    uint64_t i;
    ggdm_status st = decode_check(info, data, out, out_count, "decode_u32");
    if (st != GGDM_OK) {
        return st;
    }
    if (info->dtype != GGDM_DT_U32) {
        return wrong_dtype(info, "decode_u32", "<u4");
    }
    for (i = 0; i < info->count; i++) {
        out[i] = ggdm_le_load_u32(data + 4u * i);
    }
    info->msg[0] = '\0';
    return GGDM_OK;
}

int ggdm_f32_all_finite(const float *x, uint64_t n, uint64_t *first_bad)
{
    uint64_t i;
    if (!x) {
        return n == 0;
    }
    for (i = 0; i < n; i++) {
        if ((ggdm_f32_bits(x[i]) & 0x7f800000u) == 0x7f800000u) {
            if (first_bad) {
                *first_bad = i;
            }
            return 0;
        }
    }
    return 1;
}

int ggdm_f64_all_finite(const double *x, uint64_t n, uint64_t *first_bad)
{
    uint64_t i;
    const uint64_t exp_mask = (uint64_t)0x7ff0000000000000ull;
    if (!x) {
        return n == 0;
    }
    for (i = 0; i < n; i++) {
        if ((ggdm_f64_bits(x[i]) & exp_mask) == exp_mask) {
            if (first_bad) {
                *first_bad = i;
            }
            return 0;
        }
    }
    return 1;
}

/* ---------------------------------------------------------------- writing */

ggdm_status ggdm_npy_data_bytes(ggdm_dtype dt, int ndim, const uint64_t *shape,
                                uint64_t *bytes)
{
    uint64_t count;
    int i;
    unsigned es = ggdm_dtype_size(dt);
    if (!bytes || es == 0 || ndim < 0 || ndim > GGDM_NPY_MAX_DIMS || (ndim > 0 && !shape)) {
        return GGDM_ERR_ARG;
    }
    for (i = 0; i < ndim; i++) {
        if (shape[i] > (uint64_t)INT64_MAX) {
            return GGDM_ERR_ARG;
        }
    }
    if (shape_sizes(ndim, shape, es, &count, bytes)) {
        return GGDM_ERR_ARG;
    }
    return GGDM_OK;
}

static int dec_len(uint64_t v)
{
    int k = 1;
    while (v >= 10u) {
        v /= 10u;
        k++;
    }
    return k;
}

/* Appends decimal digits of v at text[*n]; text has room (checked by the caller). */
static void put_u64(char *text, uint64_t *n, uint64_t v)
{
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0);
    while (k > 0) {
        text[(*n)++] = tmp[--k];
    }
}

static void put_str(char *text, uint64_t *n, const char *s)
{
    size_t l = strlen(s);
    memcpy(text + *n, s, l);
    *n += l;
}

ggdm_status ggdm_npy_header_write(ggdm_dtype dt, int ndim, const uint64_t *shape,
                                  uint8_t *buf, uint64_t cap, uint64_t *len)
{
    /* Dict text: at most 55 fixed chars + 8 dims * 21 + 20 growth spaces < 256. */
    char text[GGDM_NPY_WRITE_HEADER_MAX];
    uint64_t n = 0, bytes, hl, pad, total, plen;
    int i;
    ggdm_status st;
    if (!len) {
        return GGDM_ERR_ARG;
    }
    *len = 0;
    st = ggdm_npy_data_bytes(dt, ndim, shape, &bytes);
    if (st != GGDM_OK) {
        return st;
    }
    /* Python: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" */
    put_str(text, &n, "{'descr': '");
    put_str(text, &n, ggdm_dtype_descr(dt));
    put_str(text, &n, "', 'fortran_order': False, 'shape': (");
    for (i = 0; i < ndim; i++) {
        if (i > 0) {
            put_str(text, &n, ", ");
        }
        put_u64(text, &n, shape[i]);
    }
    if (ndim == 1) {
        put_str(text, &n, ",");
    }
    put_str(text, &n, "), }");
    if (ndim > 0) {
        /* NumPy's spare room for growing axis 0: 21 - len(repr(shape[0])) spaces. */
        for (i = dec_len(shape[0]); i < 21; i++) {
            text[n++] = ' ';
        }
    }
    hl = n + 1; /* + '\n' */
    plen = 10;
    pad = 64u - ((plen + hl) % 64u);
    if (hl + pad > 65535u) { /* version 2.0 (unreachable with <= 8 dimensions) */
        plen = 12;
        pad = 64u - ((plen + hl) % 64u);
    }
    total = plen + hl + pad;
    *len = total;
    if (!buf || cap < total) {
        return GGDM_ERR_BUFFER_TOO_SMALL;
    }
    memcpy(buf, npy_magic, 6);
    buf[6] = plen == 10 ? 1 : 2;
    buf[7] = 0;
    if (plen == 10) {
        ggdm_le_store_u16(buf + 8, (uint16_t)(hl + pad));
    } else {
        ggdm_le_store_u32(buf + 8, (uint32_t)(hl + pad));
    }
    memcpy(buf + plen, text, (size_t)n);
    memset(buf + plen + n, ' ', (size_t)pad);
    buf[total - 1] = '\n';
    return GGDM_OK;
}

ggdm_status ggdm_npy_encode_f32(const float *src, uint64_t n, uint8_t *dst)
{
    uint64_t i;
    if (n > 0 && (!src || !dst)) {
        return GGDM_ERR_ARG;
    }
    for (i = 0; i < n; i++) {
        ggdm_le_store_f32(dst + 4u * i, src[i]);
    }
    return GGDM_OK;
}

ggdm_status ggdm_npy_encode_f64(const double *src, uint64_t n, uint8_t *dst)
{
    uint64_t i;
    if (n > 0 && (!src || !dst)) {
        return GGDM_ERR_ARG;
    }
    for (i = 0; i < n; i++) {
        ggdm_le_store_f64(dst + 8u * i, src[i]);
    }
    return GGDM_OK;
}

ggdm_status ggdm_npy_encode_i64(const int64_t *src, uint64_t n, uint8_t *dst)
{
    uint64_t i;
    if (n > 0 && (!src || !dst)) {
        return GGDM_ERR_ARG;
    }
    for (i = 0; i < n; i++) {
        ggdm_le_store_i64(dst + 8u * i, src[i]);
    }
    return GGDM_OK;
}

ggdm_status ggdm_npy_encode_u32(const uint32_t *src, uint64_t n, uint8_t *dst)
{
    uint64_t i;
    if (n > 0 && (!src || !dst)) {
        return GGDM_ERR_ARG;
    }
    for (i = 0; i < n; i++) {
        ggdm_le_store_u32(dst + 4u * i, src[i]);
    }
    return GGDM_OK;
}
