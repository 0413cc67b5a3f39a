/*
 * safetensors.c - parsing, validating and writing safetensors files.
 * See ggdm/safetensors.h for the API and docs/safetensors.md for what is accepted.
 *
 * The parser is written for hostile input: it looks at no byte outside the file,
 * checks every size with overflow-safe arithmetic, and has no recursion. The header
 * grammar it accepts is fixed (an object of tensor entries and "__metadata__"), so a
 * schema-directed parser of bounded depth replaces a general JSON parser: any value
 * in a place the schema does not allow is rejected where it starts.
 * Cross-entry checks use the caller's arrays and in-place heapsorts (O(n log n)).
 */
#include "ggdm/safetensors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ggdm/bytes.h"

typedef unsigned long long ull;

static const char *const dtype_names[GGDM_ST_DTYPE_COUNT] = {
    "BOOL",        "F4",          "F6_E2M3", "F6_E3M2", "U8",  "I8",
    "F8_E5M2",     "F8_E4M3",     "F8_E8M0", "F8_E4M3FNUZ",
    "F8_E5M2FNUZ", "I16",         "U16",     "F16",     "BF16", "I32",
    "U32",         "F32",         "C64",     "F64",     "I64", "U64"};

static const unsigned char dtype_bits[GGDM_ST_DTYPE_COUNT] = {
    8, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 16, 16, 16, 16, 32, 32, 32, 64, 64, 64, 64};

const char *ggdm_st_dtype_name(ggdm_st_dtype dt)
{
    if ((int)dt < 0 || (int)dt >= GGDM_ST_DTYPE_COUNT) {
        return "?";
    }
    return dtype_names[dt];
}

unsigned ggdm_st_dtype_bits(ggdm_st_dtype dt)
{
    if ((int)dt < 0 || (int)dt >= GGDM_ST_DTYPE_COUNT) {
        return 0u;
    }
    return dtype_bits[dt];
}

/* ---------------------------------------------------------------- messages */

static void vmsg(char *msg, const char *prefix, const char *fmt, va_list ap)
{
    size_t used;
    if (!msg) {
        return;
    }
    msg[0] = '\0';
    used = strlen(prefix);
    if (used >= GGDM_ST_MSG_LEN) {
        used = GGDM_ST_MSG_LEN - 1;
    }
    memcpy(msg, prefix, used);
    msg[used] = '\0';
    vsnprintf(msg + used, GGDM_ST_MSG_LEN - used, fmt, ap);
}

static ggdm_status fail(char *msg, ggdm_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(msg, "safetensors: ", fmt, ap);
    va_end(ap);
    return st;
}

static void clear_msg(char *msg)
{
    if (msg) {
        msg[0] = '\0';
    }
}

/* A printable excerpt of raw bytes for messages: printable ASCII kept, other bytes
 * shown as '?', cut to 48 characters with "..." (out has at least 52 bytes). */
#define SHOW_LEN 52
static void show_raw(char out[SHOW_LEN], const uint8_t *s, uint64_t len)
{
    uint64_t i, n = len > 48 ? 45 : len;
    for (i = 0; i < n; i++) {
        uint8_t c = s[i];
        out[i] = (char)((c >= 0x20 && c < 0x7f) ? c : '?');
    }
    if (len > 48) {
        out[n++] = '.';
        out[n++] = '.';
        out[n++] = '.';
    }
    out[n] = '\0';
}

/* ---------------------------------------------------------------- JSON strings */

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Four hex digits at s[pos .. pos + 4) (pos + 4 <= end checked here); -1 if not. */
static long read_hex4(const uint8_t *s, uint64_t pos, uint64_t end)
{
    long v = 0;
    int k;
    if (end < 4 || pos > end - 4) {
        return -1;
    }
    for (k = 0; k < 4; k++) {
        int h = hexval(s[pos + (uint64_t)k]);
        if (h < 0) {
            return -1;
        }
        v = v * 16 + h;
    }
    return v;
}

/* Length (1..4) of the valid UTF-8 sequence at s[pos] (pos < end), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static unsigned utf8_len(const uint8_t *s, uint64_t pos, uint64_t end)
{
    uint8_t c = s[pos], lo = 0x80, hi = 0xbf;
    unsigned n, k;
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) {
            lo = 0xa0;
        } else if (c == 0xed) {
            hi = 0x9f;
        }
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) {
            lo = 0x90;
        } else if (c == 0xf4) {
            hi = 0x8f;
        }
    } else {
        return 0;
    }
    if (end - pos < n) {
        return 0;
    }
    for (k = 1; k < n; k++) {
        uint8_t d = s[pos + k];
        if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xbf)) {
            return 0;
        }
    }
    return n;
}

/*
 * Validates JSON string contents starting at s[pos], up to end. With stop_at_quote,
 * stops at the first unescaped '"' (*stop = its index); without, the contents run to
 * end and a '"' is an error. Returns NULL when valid (sets *escaped), else a reason,
 * with *stop = the offending byte's index.
 */
static const char *scan_contents(const uint8_t *s, uint64_t pos, uint64_t end, int stop_at_quote,
                                 uint64_t *stop, int *escaped)
{
    *escaped = 0;
    while (pos < end) {
        uint8_t c = s[pos];
        *stop = pos;
        if (c == '"') {
            if (stop_at_quote) {
                return NULL;
            }
            return "unescaped '\"' in string";
        }
        if (c < 0x20) {
            return "control character in string (must be escaped)";
        }
        if (c == '\\') {
            uint8_t e;
            *escaped = 1;
            if (end - pos < 2) {
                return "unterminated escape in string";
            }
            e = s[pos + 1];
            if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                e == 'r' || e == 't') {
                pos += 2;
                continue;
            }
            if (e == 'u') {
                long u = read_hex4(s, pos + 2, end);
                if (u < 0) {
                    return "bad \\u escape in string (needs 4 hex digits)";
                }
                pos += 6;
                if (u >= 0xdc00 && u <= 0xdfff) {
                    return "lone low surrogate \\u escape in string";
                }
                if (u >= 0xd800 && u <= 0xdbff) {
                    long v;
                    if (end - pos < 2 || s[pos] != '\\' || s[pos + 1] != 'u' ||
                        (v = read_hex4(s, pos + 2, end)) < 0xdc00 || v > 0xdfff) {
                        return "high surrogate \\u escape not followed by a low one";
                    }
                    pos += 6;
                }
                continue;
            }
            return "bad escape in string";
        }
        {
            unsigned n = utf8_len(s, pos, end);
            if (n == 0) {
                return "invalid UTF-8 in string";
            }
            pos += n;
        }
    }
    *stop = end;
    if (stop_at_quote) {
        return "unterminated string";
    }
    return NULL;
}

/* Decoder of string contents, one UTF-8 byte at a time. Bounds-safe on any bytes;
 * on contents scan_contents accepted it never fails. */
typedef struct jdec {
    const uint8_t *s;
    uint64_t pos, end;
    uint8_t buf[4];
    unsigned nbuf, ibuf;
} jdec;

static void jdec_init(jdec *d, const uint8_t *s, uint64_t off, uint64_t len)
{
    d->s = s;
    d->pos = off;
    d->end = off + len;
    d->nbuf = 0;
    d->ibuf = 0;
}

/* Next decoded byte (0..255), -1 at the end, -2 on a malformed escape. */
static int jdec_next(jdec *d)
{
    uint8_t c, e;
    long u;
    if (d->ibuf < d->nbuf) {
        return d->buf[d->ibuf++];
    }
    if (d->pos >= d->end) {
        return -1;
    }
    c = d->s[d->pos];
    if (c != '\\') {
        d->pos++;
        return c;
    }
    if (d->end - d->pos < 2) {
        return -2;
    }
    e = d->s[d->pos + 1];
    d->pos += 2;
    switch (e) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return 0x08;
    case 'f': return 0x0c;
    case 'n': return 0x0a;
    case 'r': return 0x0d;
    case 't': return 0x09;
    case 'u': break;
    default: return -2;
    }
    u = read_hex4(d->s, d->pos, d->end);
    if (u < 0 || (u >= 0xdc00 && u <= 0xdfff)) {
        return -2;
    }
    d->pos += 4;
    if (u >= 0xd800 && u <= 0xdbff) {
        long v;
        if (d->end - d->pos < 2 || d->s[d->pos] != '\\' || d->s[d->pos + 1] != 'u') {
            return -2;
        }
        v = read_hex4(d->s, d->pos + 2, d->end);
        if (v < 0xdc00 || v > 0xdfff) {
            return -2;
        }
        d->pos += 6;
        u = 0x10000 + ((u - 0xd800) << 10) + (v - 0xdc00);
    }
    if (u < 0x80) {
        return (int)u;
    }
    if (u < 0x800) {
        d->buf[0] = (uint8_t)(0xc0 | (u >> 6));
        d->buf[1] = (uint8_t)(0x80 | (u & 0x3f));
        d->nbuf = 2;
    } else if (u < 0x10000) {
        d->buf[0] = (uint8_t)(0xe0 | (u >> 12));
        d->buf[1] = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
        d->buf[2] = (uint8_t)(0x80 | (u & 0x3f));
        d->nbuf = 3;
    } else {
        d->buf[0] = (uint8_t)(0xf0 | (u >> 18));
        d->buf[1] = (uint8_t)(0x80 | ((u >> 12) & 0x3f));
        d->buf[2] = (uint8_t)(0x80 | ((u >> 6) & 0x3f));
        d->buf[3] = (uint8_t)(0x80 | (u & 0x3f));
        d->nbuf = 4;
    }
    d->ibuf = 1;
    return d->buf[0];
}

/* Bytewise comparison of two decoded strings (a prefix sorts first). */
static int jcmp(const uint8_t *s, uint64_t aoff, uint64_t alen, int aesc, uint64_t boff,
                uint64_t blen, int besc)
{
    jdec a, b;
    if (!aesc && !besc) {
        uint64_t n = alen < blen ? alen : blen;
        int r = n ? memcmp(s + aoff, s + boff, (size_t)n) : 0;
        if (r != 0) {
            return r < 0 ? -1 : 1;
        }
        return alen < blen ? -1 : (alen > blen ? 1 : 0);
    }
    jdec_init(&a, s, aoff, alen);
    jdec_init(&b, s, boff, blen);
    for (;;) {
        int x = jdec_next(&a), y = jdec_next(&b);
        if (x != y) {
            return x < y ? -1 : 1;
        }
        if (x < 0) {
            return 0;
        }
    }
}

/* 1 if the decoded string equals p1 followed by p2 (either may be null). */
static int jeq2(const uint8_t *s, uint64_t off, uint64_t len, int esc, const char *p1,
                const char *p2)
{
    jdec d;
    const char *parts[2];
    int k;
    parts[0] = p1 ? p1 : "";
    parts[1] = p2 ? p2 : "";
    if (!esc) {
        size_t n1 = strlen(parts[0]), n2 = strlen(parts[1]);
        if ((uint64_t)n1 + (uint64_t)n2 != len) {
            return 0;
        }
        return memcmp(s + off, parts[0], n1) == 0 && memcmp(s + off + n1, parts[1], n2) == 0;
    }
    jdec_init(&d, s, off, len);
    for (k = 0; k < 2; k++) {
        const unsigned char *q = (const unsigned char *)parts[k];
        for (; *q; q++) {
            if (jdec_next(&d) != (int)*q) {
                return 0;
            }
        }
    }
    return jdec_next(&d) == -1;
}

ggdm_status ggdm_st_string(const uint8_t *file, uint64_t file_len, uint64_t off, uint64_t len,
                           char *out, uint64_t cap, uint64_t *out_len)
{
    uint64_t stop = 0, n = 0;
    int esc = 0, c;
    jdec d;
    if (out_len) {
        *out_len = 0;
    }
    if (!file || !out_len || off > file_len || len > file_len - off) {
        return GGDM_ERR_ARG;
    }
    if (scan_contents(file, off, off + len, 0, &stop, &esc) != NULL) {
        return GGDM_ERR_FORMAT;
    }
    jdec_init(&d, file, off, len);
    while (jdec_next(&d) >= 0) {
        n++;
    }
    *out_len = n;
    if (!out || cap < n + 1) {
        return GGDM_ERR_BUFFER_TOO_SMALL;
    }
    jdec_init(&d, file, off, len);
    n = 0;
    while ((c = jdec_next(&d)) >= 0) {
        out[n++] = (char)(unsigned char)c;
    }
    out[n] = '\0';
    return GGDM_OK;
}

/* ---------------------------------------------------------------- sizes */

/* Element count and byte count of a shape; a message fragment on failure. */
static const char *shape_bytes(ggdm_st_dtype dt, int ndim, const uint64_t *shape,
                               uint64_t *count, uint64_t *bytes)
{
    uint64_t c = 1, bits = ggdm_st_dtype_bits(dt);
    int i;
    for (i = 0; i < ndim; i++) {
        if (shape[i] != 0 && c > UINT64_MAX / shape[i]) {
            return "has more than 2^64 elements";
        }
        c *= shape[i];
    }
    if (bits == 0) {
        return "has an invalid dtype";
    }
    if (c > UINT64_MAX / bits) {
        return "has more than 2^64 bits of data";
    }
    if ((c * bits) % 8u != 0) {
        return "holds a bit count that is not a whole number of bytes";
    }
    *count = c;
    *bytes = c * bits / 8u;
    return NULL;
}

ggdm_status ggdm_st_data_bytes(ggdm_st_dtype dt, int ndim, const uint64_t *shape,
                               uint64_t *bytes)
{
    uint64_t count;
    int i;
    if (!bytes) {
        return GGDM_ERR_ARG;
    }
    *bytes = 0;
    if (ggdm_st_dtype_bits(dt) == 0 || ndim < 0 || ndim > GGDM_ST_MAX_DIMS ||
        (!shape && ndim > 0)) {
        return GGDM_ERR_ARG;
    }
    for (i = 0; i < ndim; i++) {
        if (shape[i] > GGDM_ST_INT_MAX) {
            return GGDM_ERR_ARG;
        }
    }
    if (shape_bytes(dt, ndim, shape, &count, bytes) != NULL) {
        *bytes = 0;
        return GGDM_ERR_ARG;
    }
    return GGDM_OK;
}

/* Writes "[a, b, c]" (at most cap bytes incl. NUL) for messages. */
static void show_shape(char *out, size_t cap, int ndim, const uint64_t *shape)
{
    size_t used = 0;
    int i;
    out[0] = '\0';
    for (i = 0; i <= ndim && used + 1 < cap; i++) {
        int w;
        if (i == ndim) {
            w = snprintf(out + used, cap - used, "%s]", ndim == 0 ? "[" : "");
        } else {
            w = snprintf(out + used, cap - used, "%s%llu", i == 0 ? "[" : ", ", (ull)shape[i]);
        }
        if (w < 0) {
            break;
        }
        used += (size_t)w;
    }
}

/* ---------------------------------------------------------------- the parser */

typedef struct parser {
    const uint8_t *s; /* the file */
    uint64_t pos;     /* current position (absolute) */
    uint64_t end;     /* end of the JSON header: 8 + N */
    uint64_t data_len;
    char *msg;
    /* the tensor whose entry is being parsed, for messages */
    int in_tensor;
    uint64_t name_off, name_len;
    /* results */
    ggdm_st_tensor *tensors;
    uint64_t cap, nt;
    ggdm_st_meta *meta;
    uint64_t meta_cap, nm;
    int seen_metadata;
} parser;

static ggdm_status pfail(parser *p, ggdm_status st, const char *fmt, ...)
{
    va_list ap;
    char prefix[16 + 8 + SHOW_LEN + 4];
    if (p->msg) {
        if (p->in_tensor) {
            char nm[SHOW_LEN];
            show_raw(nm, p->s + p->name_off, p->name_len);
            snprintf(prefix, sizeof prefix, "safetensors: tensor '%s': ", nm);
        } else {
            snprintf(prefix, sizeof prefix, "safetensors: ");
        }
        va_start(ap, fmt);
        vmsg(p->msg, prefix, fmt, ap);
        va_end(ap);
    }
    return st;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->end) {
        uint8_t c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            break;
        }
        p->pos++;
    }
}

static int peek(const parser *p)
{
    return p->pos < p->end ? p->s[p->pos] : -1;
}

/* "expected X at header byte K, found 'c'" (K counts from the first JSON byte). */
static ggdm_status syntax(parser *p, const char *what)
{
    int c = peek(p);
    ull at = (ull)(p->pos - 8);
    if (c < 0) {
        return pfail(p, GGDM_ERR_FORMAT, "header JSON ends early: expected %s", what);
    }
    if (c >= 0x20 && c < 0x7f) {
        return pfail(p, GGDM_ERR_FORMAT, "header JSON: expected %s at header byte %llu, found '%c'",
                     what, at, c);
    }
    return pfail(p, GGDM_ERR_FORMAT, "header JSON: expected %s at header byte %llu, found byte 0x%02x",
                 what, at, (unsigned)c);
}

static ggdm_status expect(parser *p, char c, const char *what)
{
    skip_ws(p);
    if (peek(p) != (unsigned char)c) {
        return syntax(p, what);
    }
    p->pos++;
    return GGDM_OK;
}

/* A string at the current position (after whitespace): its contents' range. */
static ggdm_status parse_string(parser *p, const char *what, uint64_t *off, uint64_t *len,
                                int *esc)
{
    uint64_t stop = 0;
    const char *why;
    skip_ws(p);
    if (peek(p) != '"') {
        return syntax(p, what);
    }
    why = scan_contents(p->s, p->pos + 1, p->end, 1, &stop, esc);
    if (why) {
        return pfail(p, GGDM_ERR_FORMAT, "header JSON: %s at header byte %llu", why,
                     (ull)(stop - 8));
    }
    *off = p->pos + 1;
    *len = stop - (p->pos + 1);
    p->pos = stop + 1;
    return GGDM_OK;
}

/* A non-negative JSON integer up to GGDM_ST_INT_MAX; `what` names it for messages. */
static ggdm_status parse_uint(parser *p, const char *what, uint64_t *v)
{
    uint64_t x = 0, start;
    int c;
    skip_ws(p);
    c = peek(p);
    if (c == '-') {
        return pfail(p, GGDM_ERR_FORMAT, "%s: negative number at header byte %llu", what,
                     (ull)(p->pos - 8));
    }
    if (c < '0' || c > '9') {
        char buf[64];
        snprintf(buf, sizeof buf, "a non-negative integer in %s", what);
        return syntax(p, buf);
    }
    start = p->pos;
    while ((c = peek(p)) >= '0' && c <= '9') {
        uint64_t dgt = (uint64_t)(c - '0');
        if (p->pos > start && x == 0) {
            return pfail(p, GGDM_ERR_FORMAT, "%s: number with a leading zero at header byte %llu",
                         what, (ull)(start - 8));
        }
        if (x > (GGDM_ST_INT_MAX - dgt) / 10u) {
            return pfail(p, GGDM_ERR_FORMAT, "%s: integer above 2^63 - 1 at header byte %llu",
                         what, (ull)(start - 8));
        }
        x = x * 10u + dgt;
        p->pos++;
    }
    if (c == '.' || c == 'e' || c == 'E') {
        return pfail(p, GGDM_ERR_FORMAT,
                     "%s: not an integer (fraction or exponent) at header byte %llu", what,
                     (ull)(start - 8));
    }
    *v = x;
    return GGDM_OK;
}

/* ',' then more, or the closing bracket: returns 1 for more, 0 for the end. */
static ggdm_status next_or_close(parser *p, char close, const char *what, int *more)
{
    skip_ws(p);
    if (peek(p) == ',') {
        p->pos++;
        *more = 1;
        return GGDM_OK;
    }
    if (peek(p) == (unsigned char)close) {
        p->pos++;
        *more = 0;
        return GGDM_OK;
    }
    return syntax(p, what);
}

enum { K_DTYPE = 0, K_SHAPE = 1, K_OFFSETS = 2, K_COUNT = 3 };
static const char *const key_names[K_COUNT] = {"dtype", "shape", "data_offsets"};

static ggdm_status parse_tensor(parser *p, uint64_t name_off, uint64_t name_len, int name_esc)
{
    ggdm_st_tensor t;
    int seen[K_COUNT] = {0, 0, 0};
    int more = 1, k, ndim = 0;
    uint64_t koff = 0, klen = 0, off[2] = {0, 0}, count = 0, bytes = 0;
    int kesc = 0;
    ggdm_status st;
    const char *why;
    char sh[96];

    memset(&t, 0, sizeof t);
    p->in_tensor = 1;
    p->name_off = name_off;
    p->name_len = name_len;
    if ((st = expect(p, '{', "'{' opening the tensor's entry")) != GGDM_OK) {
        return st;
    }
    skip_ws(p);
    if (peek(p) == '}') {
        p->pos++;
        more = 0;
    }
    while (more) {
        if ((st = parse_string(p, "a key string (dtype, shape or data_offsets)", &koff, &klen,
                               &kesc)) != GGDM_OK) {
            return st;
        }
        for (k = 0; k < K_COUNT; k++) {
            if (jeq2(p->s, koff, klen, kesc, key_names[k], NULL)) {
                break;
            }
        }
        if (k == K_COUNT) {
            char kn[SHOW_LEN];
            show_raw(kn, p->s + koff, klen);
            return pfail(p, GGDM_ERR_FORMAT,
                         "unknown key '%s' (an entry has exactly dtype, shape and data_offsets)",
                         kn);
        }
        if (seen[k]) {
            return pfail(p, GGDM_ERR_FORMAT, "duplicate key '%s'", key_names[k]);
        }
        seen[k] = 1;
        if ((st = expect(p, ':', "':' after a key")) != GGDM_OK) {
            return st;
        }
        if (k == K_DTYPE) {
            uint64_t voff = 0, vlen = 0;
            int vesc = 0, d;
            if ((st = parse_string(p, "a dtype string", &voff, &vlen, &vesc)) != GGDM_OK) {
                return st;
            }
            for (d = 0; d < GGDM_ST_DTYPE_COUNT; d++) {
                if (jeq2(p->s, voff, vlen, vesc, dtype_names[d], NULL)) {
                    break;
                }
            }
            if (d == GGDM_ST_DTYPE_COUNT) {
                char dn[SHOW_LEN];
                show_raw(dn, p->s + voff, vlen);
                return pfail(p, GGDM_ERR_FORMAT, "unknown dtype '%s'", dn);
            }
            t.dtype = (ggdm_st_dtype)d;
        } else if (k == K_SHAPE) {
            int inner = 1;
            if ((st = expect(p, '[', "'[' opening the shape")) != GGDM_OK) {
                return st;
            }
            skip_ws(p);
            if (peek(p) == ']') {
                p->pos++;
                inner = 0;
            }
            while (inner) {
                uint64_t dim = 0;
                if ((st = parse_uint(p, "shape", &dim)) != GGDM_OK) {
                    return st;
                }
                if (ndim >= GGDM_ST_MAX_DIMS) {
                    return pfail(p, GGDM_ERR_UNSUPPORTED,
                                 "shape has more than %d dimensions (ggdm supports at most %d)",
                                 GGDM_ST_MAX_DIMS, GGDM_ST_MAX_DIMS);
                }
                t.shape[ndim++] = dim;
                if ((st = next_or_close(p, ']', "',' or ']' in the shape", &inner)) != GGDM_OK) {
                    return st;
                }
            }
            t.ndim = ndim;
        } else {
            if ((st = expect(p, '[', "'[' opening data_offsets")) != GGDM_OK ||
                (st = parse_uint(p, "data_offsets", &off[0])) != GGDM_OK ||
                (st = expect(p, ',', "',' after the first of the two data_offsets")) != GGDM_OK ||
                (st = parse_uint(p, "data_offsets", &off[1])) != GGDM_OK ||
                (st = expect(p, ']', "']' after the two data_offsets [begin, end]")) != GGDM_OK) {
                return st;
            }
        }
        if ((st = next_or_close(p, '}', "',' or '}' in the tensor's entry", &more)) != GGDM_OK) {
            return st;
        }
    }
    for (k = 0; k < K_COUNT; k++) {
        if (!seen[k]) {
            return pfail(p, GGDM_ERR_FORMAT, "entry has no '%s'", key_names[k]);
        }
    }

    show_shape(sh, sizeof sh, t.ndim, t.shape);
    why = shape_bytes(t.dtype, t.ndim, t.shape, &count, &bytes);
    if (why) {
        return pfail(p, GGDM_ERR_FORMAT, "shape %s of %s %s", sh, dtype_names[t.dtype], why);
    }
    if (off[0] > off[1]) {
        return pfail(p, GGDM_ERR_FORMAT, "data_offsets [%llu, %llu] end before they begin",
                     (ull)off[0], (ull)off[1]);
    }
    if (off[1] - off[0] != bytes) {
        return pfail(p, GGDM_ERR_FORMAT,
                     "data_offsets [%llu, %llu] hold %llu bytes but shape %s of %s needs %llu",
                     (ull)off[0], (ull)off[1], (ull)(off[1] - off[0]), sh,
                     dtype_names[t.dtype], (ull)bytes);
    }
    if (off[1] > p->data_len) {
        return pfail(p, GGDM_ERR_FORMAT,
                     "data_offsets [%llu, %llu] run past the data buffer (%llu bytes; file truncated?)",
                     (ull)off[0], (ull)off[1], (ull)p->data_len);
    }
    if (p->nt < p->cap) {
        t.name_off = name_off;
        t.name_len = name_len;
        t.name_escaped = name_esc;
        t.count = count;
        t.begin = off[0];
        t.end = off[1];
        t.data_off = p->end + off[0];
        t.data_len = bytes;
        t.header_index = p->nt;
        p->tensors[p->nt] = t;
    }
    p->nt++;
    p->in_tensor = 0;
    return GGDM_OK;
}

static ggdm_status parse_metadata(parser *p)
{
    int more = 1;
    ggdm_status st;
    if (p->seen_metadata) {
        return pfail(p, GGDM_ERR_FORMAT, "header has two '__metadata__' entries");
    }
    p->seen_metadata = 1;
    skip_ws(p);
    if (p->end - p->pos >= 4 && memcmp(p->s + p->pos, "null", 4) == 0) {
        p->pos += 4; /* "__metadata__": null is what serde reads as no metadata */
        return GGDM_OK;
    }
    if ((st = expect(p, '{', "'{' opening __metadata__")) != GGDM_OK) {
        return st;
    }
    skip_ws(p);
    if (peek(p) == '}') {
        p->pos++;
        more = 0;
    }
    while (more) {
        ggdm_st_meta m;
        int c;
        memset(&m, 0, sizeof m);
        if ((st = parse_string(p, "a key string in __metadata__", &m.key_off, &m.key_len,
                               &m.key_escaped)) != GGDM_OK ||
            (st = expect(p, ':', "':' after a key")) != GGDM_OK) {
            return st;
        }
        skip_ws(p);
        c = peek(p);
        if (c != '"') {
            char kn[SHOW_LEN];
            show_raw(kn, p->s + m.key_off, m.key_len);
            if (c < 0) {
                return syntax(p, "a string value in __metadata__");
            }
            return pfail(p, GGDM_ERR_FORMAT,
                         "__metadata__ value of '%s' is not a string (header byte %llu)", kn,
                         (ull)(p->pos - 8));
        }
        if ((st = parse_string(p, "a string value in __metadata__", &m.value_off, &m.value_len,
                               &m.value_escaped)) != GGDM_OK) {
            return st;
        }
        if (p->nm < p->meta_cap) {
            p->meta[p->nm] = m;
        }
        p->nm++;
        if ((st = next_or_close(p, '}', "',' or '}' in __metadata__", &more)) != GGDM_OK) {
            return st;
        }
    }
    return GGDM_OK;
}

static ggdm_status parse_header(parser *p)
{
    int more = 1;
    ggdm_status st;
    if (peek(p) != '{') {
        return pfail(p, GGDM_ERR_FORMAT, "header does not start with '{' (not a JSON object)");
    }
    p->pos++;
    skip_ws(p);
    if (peek(p) == '}') {
        p->pos++;
        more = 0;
    }
    while (more) {
        uint64_t off = 0, len = 0;
        int esc = 0;
        if ((st = parse_string(p, "a tensor name string", &off, &len, &esc)) != GGDM_OK ||
            (st = expect(p, ':', "':' after a tensor name")) != GGDM_OK) {
            return st;
        }
        if (jeq2(p->s, off, len, esc, "__metadata__", NULL)) {
            st = parse_metadata(p);
        } else {
            st = parse_tensor(p, off, len, esc);
        }
        if (st != GGDM_OK) {
            return st;
        }
        if ((st = next_or_close(p, '}', "',' or '}' after an entry", &more)) != GGDM_OK) {
            return st;
        }
    }
    skip_ws(p);
    if (p->pos != p->end) {
        return pfail(p, GGDM_ERR_FORMAT,
                     "unexpected bytes after the header's JSON object at header byte %llu "
                     "(only whitespace padding may follow)",
                     (ull)(p->pos - 8));
    }
    return GGDM_OK;
}

/* ---------------------------------------------------------------- sorting */

typedef int (*cmp_fn)(const uint8_t *file, const void *a, const void *b);

static void swap_elems(unsigned char *a, unsigned char *b, size_t size)
{
    size_t i;
    for (i = 0; i < size; i++) {
        unsigned char t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}

static void sift_down(unsigned char *base, uint64_t root, uint64_t n, size_t size, cmp_fn cmp,
                      const uint8_t *file)
{
    for (;;) {
        uint64_t child = 2 * root + 1, big = root;
        if (child >= n) {
            return;
        }
        if (cmp(file, base + (size_t)big * size, base + (size_t)child * size) < 0) {
            big = child;
        }
        if (child + 1 < n &&
            cmp(file, base + (size_t)big * size, base + (size_t)(child + 1) * size) < 0) {
            big = child + 1;
        }
        if (big == root) {
            return;
        }
        swap_elems(base + (size_t)root * size, base + (size_t)big * size, size);
        root = big;
    }
}

/* In-place heapsort: O(n log n) comparisons, no recursion, no extra memory. */
static void heap_sort(void *vbase, uint64_t n, size_t size, cmp_fn cmp, const uint8_t *file)
{
    unsigned char *base = (unsigned char *)vbase;
    uint64_t i;
    if (n < 2) {
        return;
    }
    for (i = n / 2; i-- > 0;) {
        sift_down(base, i, n, size, cmp, file);
    }
    for (i = n - 1; i > 0; i--) {
        swap_elems(base, base + (size_t)i * size, size);
        sift_down(base, 0, i, size, cmp, file);
    }
}

static int cmp_tensor_name(const uint8_t *file, const void *va, const void *vb)
{
    const ggdm_st_tensor *a = (const ggdm_st_tensor *)va, *b = (const ggdm_st_tensor *)vb;
    return jcmp(file, a->name_off, a->name_len, a->name_escaped, b->name_off, b->name_len,
                b->name_escaped);
}

static int cmp_tensor_offset(const uint8_t *file, const void *va, const void *vb)
{
    const ggdm_st_tensor *a = (const ggdm_st_tensor *)va, *b = (const ggdm_st_tensor *)vb;
    (void)file;
    if (a->begin != b->begin) {
        return a->begin < b->begin ? -1 : 1;
    }
    if (a->end != b->end) {
        return a->end < b->end ? -1 : 1;
    }
    if (a->header_index != b->header_index) {
        return a->header_index < b->header_index ? -1 : 1;
    }
    return 0;
}

static int cmp_meta_key(const uint8_t *file, const void *va, const void *vb)
{
    const ggdm_st_meta *a = (const ggdm_st_meta *)va, *b = (const ggdm_st_meta *)vb;
    return jcmp(file, a->key_off, a->key_len, a->key_escaped, b->key_off, b->key_len,
                b->key_escaped);
}

/* ---------------------------------------------------------------- ggdm_st_parse */

ggdm_status ggdm_st_parse(const uint8_t *file, uint64_t file_len, ggdm_st_tensor *tensors,
                          uint64_t cap, uint64_t *count, ggdm_st_meta *meta, uint64_t meta_cap,
                          uint64_t *meta_count, char *msg)
{
    parser p;
    uint64_t n, i, at;
    ggdm_status st;

    clear_msg(msg);
    if (count) {
        *count = 0;
    }
    if (meta_count) {
        *meta_count = 0;
    }
    if (!file || !count || !meta_count || (!tensors && cap > 0) || (!meta && meta_cap > 0)) {
        return fail(msg, GGDM_ERR_ARG, "null argument");
    }
    if (file_len < 8) {
        return fail(msg, GGDM_ERR_FORMAT,
                    "file has %llu bytes, too short for the 8-byte header length", (ull)file_len);
    }
    n = ggdm_le_load_u64(file);
    if (n > GGDM_ST_HEADER_MAX) {
        return fail(msg, GGDM_ERR_FORMAT, "header length %llu exceeds %u bytes (header too large)",
                    (ull)n, (unsigned)GGDM_ST_HEADER_MAX);
    }
    if (n > file_len - 8) {
        return fail(msg, GGDM_ERR_FORMAT,
                    "header length %llu runs past the end of the %llu-byte file (truncated?)",
                    (ull)n, (ull)file_len);
    }
    if (n == 0) {
        return fail(msg, GGDM_ERR_FORMAT, "header is empty (length 0)");
    }

    memset(&p, 0, sizeof p);
    p.s = file;
    p.pos = 8;
    p.end = 8 + n;
    p.data_len = file_len - 8 - n;
    p.msg = msg;
    p.tensors = tensors;
    p.cap = cap;
    p.meta = meta;
    p.meta_cap = meta_cap;
    st = parse_header(&p);
    if (st != GGDM_OK) {
        return st;
    }
    *count = p.nt;
    *meta_count = p.nm;
    if (p.nt > cap || p.nm > meta_cap) {
        return fail(msg, GGDM_ERR_BUFFER_TOO_SMALL,
                    "file has %llu tensors and %llu metadata entries; room for %llu and %llu",
                    (ull)p.nt, (ull)p.nm, (ull)cap, (ull)meta_cap);
    }

    /* Unique names (decoded), unique metadata keys. */
    heap_sort(tensors, p.nt, sizeof *tensors, cmp_tensor_name, file);
    for (i = 1; i < p.nt; i++) {
        if (cmp_tensor_name(file, &tensors[i - 1], &tensors[i]) == 0) {
            char nm[SHOW_LEN];
            show_raw(nm, file + tensors[i].name_off, tensors[i].name_len);
            return fail(msg, GGDM_ERR_FORMAT, "duplicate tensor name '%s'", nm);
        }
    }
    heap_sort(meta, p.nm, sizeof *meta, cmp_meta_key, file);
    for (i = 1; i < p.nm; i++) {
        if (cmp_meta_key(file, &meta[i - 1], &meta[i]) == 0) {
            char kn[SHOW_LEN];
            show_raw(kn, file + meta[i].key_off, meta[i].key_len);
            return fail(msg, GGDM_ERR_FORMAT, "duplicate __metadata__ key '%s'", kn);
        }
    }

    /* The data buffer is tiled exactly, in order of offset. */
    heap_sort(tensors, p.nt, sizeof *tensors, cmp_tensor_offset, file);
    at = 0;
    for (i = 0; i < p.nt; i++) {
        const ggdm_st_tensor *t = &tensors[i];
        if (t->begin != at) {
            char nm[SHOW_LEN], prev[SHOW_LEN];
            show_raw(nm, file + t->name_off, t->name_len);
            if (i == 0) {
                return fail(msg, GGDM_ERR_FORMAT,
                            "tensor '%s': data_offsets [%llu, %llu]: the first tensor must begin "
                            "at 0 (gap)",
                            nm, (ull)t->begin, (ull)t->end);
            }
            show_raw(prev, file + tensors[i - 1].name_off, tensors[i - 1].name_len);
            if (t->begin < at) {
                return fail(msg, GGDM_ERR_FORMAT,
                            "tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s' "
                            "(ends at %llu)",
                            nm, (ull)t->begin, (ull)t->end, prev, (ull)at);
            }
            return fail(msg, GGDM_ERR_FORMAT,
                        "tensor '%s': data_offsets [%llu, %llu] leave a gap of %llu bytes after "
                        "tensor '%s'",
                        nm, (ull)t->begin, (ull)t->end, (ull)(t->begin - at), prev);
        }
        at = t->end;
    }
    if (at != p.data_len) {
        return fail(msg, GGDM_ERR_FORMAT,
                    "the tensors cover %llu bytes but the data buffer has %llu (%llu unused "
                    "bytes at the end)",
                    (ull)at, (ull)p.data_len, (ull)(p.data_len - at));
    }
    return GGDM_OK;
}

/* ---------------------------------------------------------------- lookup */

static int range_ok(uint64_t file_len, uint64_t off, uint64_t len)
{
    return off <= file_len && len <= file_len - off;
}

ggdm_status ggdm_st_find_prefixed(const uint8_t *file, uint64_t file_len,
                                  const ggdm_st_tensor *tensors, uint64_t count,
                                  const char *prefix, const char *name, uint64_t *index,
                                  char *msg)
{
    uint64_t i;
    int pass;
    char shown[SHOW_LEN];
    clear_msg(msg);
    if (!file || (!tensors && count > 0) || !name || !index) {
        return fail(msg, GGDM_ERR_ARG, "null argument");
    }
    *index = 0;
    for (i = 0; i < count; i++) {
        if (!range_ok(file_len, tensors[i].name_off, tensors[i].name_len)) {
            return fail(msg, GGDM_ERR_ARG, "tensor %llu's name lies outside the file", (ull)i);
        }
    }
    for (pass = 0; pass < 2; pass++) {
        const char *pre = pass == 0 ? NULL : prefix;
        if (pass == 1 && (!prefix || !prefix[0])) {
            break;
        }
        for (i = 0; i < count; i++) {
            const ggdm_st_tensor *t = &tensors[i];
            if (jeq2(file, t->name_off, t->name_len, t->name_escaped, pre, name)) {
                *index = i;
                return GGDM_OK;
            }
        }
    }
    show_raw(shown, (const uint8_t *)name, (uint64_t)strlen(name));
    if (prefix && prefix[0]) {
        char sp[SHOW_LEN];
        show_raw(sp, (const uint8_t *)prefix, (uint64_t)strlen(prefix));
        return fail(msg, GGDM_ERR_ARG, "no tensor '%s' (nor '%s' + that name)", shown, sp);
    }
    return fail(msg, GGDM_ERR_ARG, "no tensor '%s'", shown);
}

ggdm_status ggdm_st_find(const uint8_t *file, uint64_t file_len, const ggdm_st_tensor *tensors,
                         uint64_t count, const char *name, uint64_t *index, char *msg)
{
    return ggdm_st_find_prefixed(file, file_len, tensors, count, NULL, name, index, msg);
}

ggdm_status ggdm_st_find_meta(const uint8_t *file, uint64_t file_len, const ggdm_st_meta *meta,
                              uint64_t meta_count, const char *key, uint64_t *index, char *msg)
{
    uint64_t i;
    char shown[SHOW_LEN];
    clear_msg(msg);
    if (!file || (!meta && meta_count > 0) || !key || !index) {
        return fail(msg, GGDM_ERR_ARG, "null argument");
    }
    *index = 0;
    for (i = 0; i < meta_count; i++) {
        if (!range_ok(file_len, meta[i].key_off, meta[i].key_len)) {
            return fail(msg, GGDM_ERR_ARG, "metadata entry %llu's key lies outside the file",
                        (ull)i);
        }
        if (jeq2(file, meta[i].key_off, meta[i].key_len, meta[i].key_escaped, key, NULL)) {
            *index = i;
            return GGDM_OK;
        }
    }
    show_raw(shown, (const uint8_t *)key, (uint64_t)strlen(key));
    return fail(msg, GGDM_ERR_ARG, "no __metadata__ key '%s'", shown);
}

/* ---------------------------------------------------------------- data */

ggdm_status ggdm_st_load_f32(const uint8_t *file, uint64_t file_len, const ggdm_st_tensor *t,
                             float *out, uint64_t out_count, char *msg)
{
    uint64_t i;
    char nm[SHOW_LEN];
    clear_msg(msg);
    if (!file || !t) {
        return fail(msg, GGDM_ERR_ARG, "null argument");
    }
    if (!range_ok(file_len, t->name_off, t->name_len)) {
        return fail(msg, GGDM_ERR_ARG, "tensor's name lies outside the file");
    }
    show_raw(nm, file + t->name_off, t->name_len);
    if (t->dtype != GGDM_ST_F32) {
        return fail(msg, GGDM_ERR_UNSUPPORTED,
                    "tensor '%s' is %s; only F32 tensors can be loaded as float32", nm,
                    ggdm_st_dtype_name(t->dtype));
    }
    if (t->count > UINT64_MAX / 4u || t->data_len != t->count * 4u ||
        !range_ok(file_len, t->data_off, t->data_len)) {
        return fail(msg, GGDM_ERR_ARG,
                    "tensor '%s': entry does not match the file (not from ggdm_st_parse?)", nm);
    }
    if (out_count < t->count) {
        return fail(msg, GGDM_ERR_BUFFER_TOO_SMALL,
                    "tensor '%s' has %llu elements, the output room for %llu", nm,
                    (ull)t->count, (ull)out_count);
    }
    if (!out && t->count > 0) {
        return fail(msg, GGDM_ERR_ARG, "null output");
    }
    for (i = 0; i < t->count; i++) {
        out[i] = ggdm_le_load_f32(file + t->data_off + 4u * i);
    }
    return GGDM_OK;
}

ggdm_status ggdm_st_encode_f32(const float *src, uint64_t n, uint8_t *dst)
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

/* ---------------------------------------------------------------- F16 / BF16 */

uint32_t ggdm_st_f16_to_f32_bits(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (uint32_t)(h >> 10) & 0x1fu;
    uint32_t m = (uint32_t)h & 0x3ffu;
    if (e == 0x1fu) {
        if (m == 0u) {
            return sign | 0x7f800000u; /* infinity */
        }
        /* NaN: payload kept, made quiet (IEEE 754 convertFormat; what x86's F16C and
         * PyTorch's conversion give) */
        return sign | 0x7fc00000u | (m << 13);
    }
    if (e != 0u) {
        return sign | ((e + 112u) << 23) | (m << 13); /* normal: rebias 15 -> 127 */
    }
    if (m == 0u) {
        return sign; /* +-0 */
    }
    /* subnormal m * 2^-24: normalise (every one is a normal float32) */
    e = 113u; /* exponent field of 2^-14 */
    while ((m & 0x400u) == 0u) {
        m <<= 1;
        e--;
    }
    return sign | (e << 23) | ((m & 0x3ffu) << 13);
}

uint32_t ggdm_st_bf16_to_f32_bits(uint16_t b)
{
    return (uint32_t)b << 16;
}

uint16_t ggdm_st_f32_to_f16_bits(uint32_t f)
{
    uint32_t sign = (f >> 16) & 0x8000u;
    uint32_t e = (f >> 23) & 0xffu;
    uint32_t m = f & 0x7fffffu;
    uint32_t shift, mant, rest, half, q;
    if (e == 0xffu) {
        return (uint16_t)(sign | (m ? 0x7e00u : 0x7c00u)); /* NaN -> the quiet NaN, as PyTorch */
    }
    if (e >= 143u) {
        return (uint16_t)(sign | 0x7c00u); /* |f| >= 2^16: overflow to infinity */
    }
    if (e >= 113u) {
        /* normal range of f16 (|f| >= 2^-14): 10 of the 23 mantissa bits, nearest-even;
         * a carry out of the mantissa increments the exponent (up to infinity) */
        q = ((e - 112u) << 10) | (m >> 13);
        rest = m & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (q & 1u))) {
            q++;
        }
        return (uint16_t)(sign | q);
    }
    if (e < 102u) {
        return (uint16_t)sign; /* |f| < 2^-25: rounds to +-0 (2^-25 itself is a tie, see below) */
    }
    /* subnormal f16: value = mant * 2^(e - 150) with the implicit bit; result units 2^-24 */
    mant = m | 0x800000u;
    shift = 126u - e; /* 14 .. 24 */
    q = mant >> shift;
    rest = mant & ((1u << shift) - 1u);
    half = 1u << (shift - 1u);
    if (rest > half || (rest == half && (q & 1u))) {
        q++; /* may become 0x400: the smallest normal, correctly */
    }
    return (uint16_t)(sign | q);
}

ggdm_status ggdm_st_encode_f16(const float *src, uint64_t n, uint8_t *dst)
{
    uint64_t i;
    if (n > 0 && (!src || !dst)) {
        return GGDM_ERR_ARG;
    }
    for (i = 0; i < n; i++) {
        ggdm_le_store_u16(dst + 2u * i, ggdm_st_f32_to_f16_bits(ggdm_f32_bits(src[i])));
    }
    return GGDM_OK;
}

ggdm_status ggdm_st_load_as_f32(const uint8_t *file, uint64_t file_len, const ggdm_st_tensor *t,
                                float *out, uint64_t out_count, char *msg)
{
    uint64_t i, size;
    const uint8_t *src;
    char nm[SHOW_LEN];
    clear_msg(msg);
    if (!file || !t) {
        return fail(msg, GGDM_ERR_ARG, "null argument");
    }
    if (!range_ok(file_len, t->name_off, t->name_len)) {
        return fail(msg, GGDM_ERR_ARG, "tensor's name lies outside the file");
    }
    show_raw(nm, file + t->name_off, t->name_len);
    if (t->dtype == GGDM_ST_F32) {
        size = 4u;
    } else if (t->dtype == GGDM_ST_F16 || t->dtype == GGDM_ST_BF16) {
        size = 2u;
    } else {
        return fail(msg, GGDM_ERR_UNSUPPORTED,
                    "tensor '%s' is %s; only F32, F16 and BF16 tensors can be loaded as float32",
                    nm, ggdm_st_dtype_name(t->dtype));
    }
    if (t->count > UINT64_MAX / size || t->data_len != t->count * size ||
        !range_ok(file_len, t->data_off, t->data_len)) {
        return fail(msg, GGDM_ERR_ARG,
                    "tensor '%s': entry does not match the file (not from ggdm_st_parse?)", nm);
    }
    if (out_count < t->count) {
        return fail(msg, GGDM_ERR_BUFFER_TOO_SMALL,
                    "tensor '%s' has %llu elements, the output room for %llu", nm,
                    (ull)t->count, (ull)out_count);
    }
    if (!out && t->count > 0) {
        return fail(msg, GGDM_ERR_ARG, "null output");
    }
    src = file + t->data_off;
    if (t->dtype == GGDM_ST_F32) {
        for (i = 0; i < t->count; i++) {
            out[i] = ggdm_le_load_f32(src + 4u * i);
        }
    } else if (t->dtype == GGDM_ST_F16) {
        for (i = 0; i < t->count; i++) {
            out[i] = ggdm_f32_from_bits(ggdm_st_f16_to_f32_bits(ggdm_le_load_u16(src + 2u * i)));
        }
    } else {
        for (i = 0; i < t->count; i++) {
            out[i] = ggdm_f32_from_bits(ggdm_st_bf16_to_f32_bits(ggdm_le_load_u16(src + 2u * i)));
        }
    }
    return GGDM_OK;
}

/* ---------------------------------------------------------------- writing */

/* Output sink: counts bytes, and stores them when buf is set. */
typedef struct sink {
    uint8_t *buf;
    uint64_t pos;
} sink;

static void put_bytes(sink *w, const char *s, size_t n)
{
    if (w->buf) {
        memcpy(w->buf + w->pos, s, n);
    }
    w->pos += n;
}

static void put_str(sink *w, const char *s)
{
    put_bytes(w, s, strlen(s));
}

static void put_u64(sink *w, uint64_t v)
{
    char tmp[24];
    int n = 0, k;
    char out[24];
    do {
        tmp[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v > 0);
    for (k = 0; k < n; k++) {
        out[k] = tmp[n - 1 - k];
    }
    put_bytes(w, out, (size_t)n);
}

/* A JSON string, escaped as serde_json escapes: '"', '\\', and control characters
 * (\b \f \n \r \t, else \u00xx with lowercase hex); everything else verbatim. */
static void put_json_string(sink *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *q = (const unsigned char *)s;
    put_bytes(w, "\"", 1);
    for (; *q; q++) {
        unsigned char c = *q;
        switch (c) {
        case '"': put_bytes(w, "\\\"", 2); break;
        case '\\': put_bytes(w, "\\\\", 2); break;
        case 0x08: put_bytes(w, "\\b", 2); break;
        case 0x0c: put_bytes(w, "\\f", 2); break;
        case 0x0a: put_bytes(w, "\\n", 2); break;
        case 0x0d: put_bytes(w, "\\r", 2); break;
        case 0x09: put_bytes(w, "\\t", 2); break;
        default:
            if (c < 0x20) {
                char e[6];
                e[0] = '\\';
                e[1] = 'u';
                e[2] = '0';
                e[3] = '0';
                e[4] = hex[c >> 4];
                e[5] = hex[c & 15u];
                put_bytes(w, e, 6);
            } else {
                put_bytes(w, (const char *)q, 1);
            }
        }
    }
    put_bytes(w, "\"", 1);
}

static int valid_utf8(const char *s)
{
    const uint8_t *q = (const uint8_t *)s;
    uint64_t n = (uint64_t)strlen(s), pos = 0;
    while (pos < n) {
        unsigned k = utf8_len(q, pos, n);
        if (k == 0) {
            return 0;
        }
        pos += k;
    }
    return 1;
}

/* Emits the unpadded JSON header; *data_bytes = total data. Arguments checked. */
static ggdm_status emit_json(const ggdm_st_spec *specs, uint64_t n, const ggdm_st_kv *meta,
                             uint64_t meta_n, sink *w, uint64_t *data_bytes, char *msg)
{
    uint64_t i, j, off = 0;
    put_bytes(w, "{", 1);
    if (meta_n > 0) {
        put_str(w, "\"__metadata__\":{");
        for (i = 0; i < meta_n; i++) {
            if (i > 0) {
                put_bytes(w, ",", 1);
            }
            put_json_string(w, meta[i].key);
            put_bytes(w, ":", 1);
            put_json_string(w, meta[i].value);
        }
        put_bytes(w, "}", 1);
    }
    for (i = 0; i < n; i++) {
        const ggdm_st_spec *t = &specs[i];
        uint64_t bytes = 0;
        if (ggdm_st_data_bytes(t->dtype, t->ndim, t->shape, &bytes) != GGDM_OK) {
            return fail(msg, GGDM_ERR_ARG, "tensor %llu: bad dtype or shape", (ull)i);
        }
        if (off > UINT64_MAX - bytes) {
            return fail(msg, GGDM_ERR_ARG, "total data size overflows 64 bits");
        }
        if (i > 0 || meta_n > 0) {
            put_bytes(w, ",", 1);
        }
        put_json_string(w, t->name);
        put_str(w, ":{\"dtype\":\"");
        put_str(w, dtype_names[t->dtype]);
        put_str(w, "\",\"shape\":[");
        for (j = 0; j < (uint64_t)t->ndim; j++) {
            if (j > 0) {
                put_bytes(w, ",", 1);
            }
            put_u64(w, t->shape[j]);
        }
        put_str(w, "],\"data_offsets\":[");
        put_u64(w, off);
        put_bytes(w, ",", 1);
        put_u64(w, off + bytes);
        put_str(w, "]}");
        off += bytes;
    }
    put_bytes(w, "}", 1);
    *data_bytes = off;
    return GGDM_OK;
}

/* Checks the arguments of the writer; GGDM_OK or GGDM_ERR_ARG with a message. */
static ggdm_status check_specs(const ggdm_st_spec *specs, uint64_t n, const ggdm_st_kv *meta,
                               uint64_t meta_n, char *msg)
{
    uint64_t i, j, bytes = 0;
    if ((!specs && n > 0) || (!meta && meta_n > 0)) {
        return fail(msg, GGDM_ERR_ARG, "null argument");
    }
    for (i = 0; i < n; i++) {
        const ggdm_st_spec *t = &specs[i];
        if (!t->name) {
            return fail(msg, GGDM_ERR_ARG, "tensor %llu has a null name", (ull)i);
        }
        if (!valid_utf8(t->name)) {
            return fail(msg, GGDM_ERR_ARG, "tensor %llu's name is not valid UTF-8", (ull)i);
        }
        if (strcmp(t->name, "__metadata__") == 0) {
            return fail(msg, GGDM_ERR_ARG, "a tensor cannot be called '__metadata__'");
        }
        if (ggdm_st_data_bytes(t->dtype, t->ndim, t->shape, &bytes) != GGDM_OK) {
            char nm[SHOW_LEN];
            show_raw(nm, (const uint8_t *)t->name, (uint64_t)strlen(t->name));
            return fail(msg, GGDM_ERR_ARG,
                        "tensor '%s': invalid dtype, rank (0..%d), dimension or size", nm,
                        GGDM_ST_MAX_DIMS);
        }
        for (j = 0; j < i; j++) {
            if (strcmp(specs[j].name, t->name) == 0) {
                char nm[SHOW_LEN];
                show_raw(nm, (const uint8_t *)t->name, (uint64_t)strlen(t->name));
                return fail(msg, GGDM_ERR_ARG, "duplicate tensor name '%s'", nm);
            }
        }
    }
    for (i = 0; i < meta_n; i++) {
        if (!meta[i].key || !meta[i].value) {
            return fail(msg, GGDM_ERR_ARG, "metadata entry %llu has a null key or value", (ull)i);
        }
        if (!valid_utf8(meta[i].key) || !valid_utf8(meta[i].value)) {
            return fail(msg, GGDM_ERR_ARG, "metadata entry %llu is not valid UTF-8", (ull)i);
        }
        for (j = 0; j < i; j++) {
            if (strcmp(meta[j].key, meta[i].key) == 0) {
                char kn[SHOW_LEN];
                show_raw(kn, (const uint8_t *)meta[i].key, (uint64_t)strlen(meta[i].key));
                return fail(msg, GGDM_ERR_ARG, "duplicate metadata key '%s'", kn);
            }
        }
    }
    return GGDM_OK;
}

ggdm_status ggdm_st_header_size(const ggdm_st_spec *specs, uint64_t n, const ggdm_st_kv *meta,
                                uint64_t meta_n, uint64_t *header_bytes, uint64_t *data_bytes,
                                char *msg)
{
    sink w;
    uint64_t data = 0, json;
    ggdm_status st;
    clear_msg(msg);
    if (header_bytes) {
        *header_bytes = 0;
    }
    if (data_bytes) {
        *data_bytes = 0;
    }
    if (!header_bytes || !data_bytes) {
        return fail(msg, GGDM_ERR_ARG, "null argument");
    }
    if ((st = check_specs(specs, n, meta, meta_n, msg)) != GGDM_OK) {
        return st;
    }
    /* No overflow in the size pass: it counts at most 6 bytes per input byte (all in
     * memory) plus a bounded amount per entry. */
    w.buf = NULL;
    w.pos = 0;
    if ((st = emit_json(specs, n, meta, meta_n, &w, &data, msg)) != GGDM_OK) {
        return st;
    }
    json = (w.pos + 7u) / 8u * 8u;
    if (json > GGDM_ST_HEADER_MAX) {
        return fail(msg, GGDM_ERR_ARG, "header of %llu bytes exceeds %u bytes", (ull)json,
                    (unsigned)GGDM_ST_HEADER_MAX);
    }
    *header_bytes = 8u + json;
    *data_bytes = data;
    return GGDM_OK;
}

ggdm_status ggdm_st_write_header(const ggdm_st_spec *specs, uint64_t n, const ggdm_st_kv *meta,
                                 uint64_t meta_n, uint8_t *buf, uint64_t cap,
                                 uint64_t *written, char *msg)
{
    uint64_t hb = 0, db = 0;
    sink w;
    ggdm_status st;
    if (written) {
        *written = 0;
    }
    if (!written) {
        return fail(msg, GGDM_ERR_ARG, "null argument");
    }
    if ((st = ggdm_st_header_size(specs, n, meta, meta_n, &hb, &db, msg)) != GGDM_OK) {
        return st;
    }
    *written = hb;
    if (!buf || cap < hb) {
        return fail(msg, GGDM_ERR_BUFFER_TOO_SMALL, "header needs %llu bytes, buffer has %llu",
                    (ull)hb, (ull)(buf ? cap : 0));
    }
    ggdm_le_store_u64(buf, hb - 8u);
    w.buf = buf + 8;
    w.pos = 0;
    if ((st = emit_json(specs, n, meta, meta_n, &w, &db, msg)) != GGDM_OK) {
        return st;
    }
    while (w.pos < hb - 8u) {
        put_bytes(&w, " ", 1);
    }
    return GGDM_OK;
}
