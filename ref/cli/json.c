/* Strict JSON reader and writer for model folders (json.h). */
#define _POSIX_C_SOURCE 200809L
#include "json.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"

#define JV_DEPTH 64
#define JV_BYTES (64ull << 20)
#define JV_VALUES 4000000ull

typedef struct jp {
    const char *s;
    size_t pos, len;
    int depth, max_depth;
    uint64_t values, max_values;
    const char *prefix;
    char *err;
    size_t errcap;
    ggdm_status st; /* FORMAT or IO once failed */
} jp;

static int jfail(jp *p, size_t at, const char *fmt, ...)
{
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (p->err && p->errcap)
        snprintf(p->err, p->errcap, "%s: at byte %llu: %s", p->prefix, (unsigned long long)at, why);
    if (p->st == GGDM_OK)
        p->st = GGDM_ERR_FORMAT;
    return -1;
}

static int oom(jp *p)
{
    if (p->err && p->errcap)
        snprintf(p->err, p->errcap, "%s: out of memory", p->prefix);
    p->st = GGDM_ERR_IO;
    return -1;
}

static void ws(jp *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static const char *shown_char(char *b, size_t cap, jp *p)
{
    unsigned char c;
    if (p->pos >= p->len)
        return "the end of the text";
    c = (unsigned char)p->s[p->pos];
    if (c >= 0x21 && c <= 0x7e)
        snprintf(b, cap, "'%c'", c);
    else
        snprintf(b, cap, "byte 0x%02x", c);
    return b;
}

static void jv_clear(ggdm_jv *v)
{
    size_t i;
    if (!v)
        return;
    if (v->kind == GGDM_JV_STR)
        free(v->s);
    if (v->kind == GGDM_JV_ARR || v->kind == GGDM_JV_OBJ) {
        for (i = 0; i < v->n; i++) {
            jv_clear(&v->items[i]);
            if (v->keys)
                free(v->keys[i]);
        }
        free(v->items);
        free(v->keys);
    }
    memset(v, 0, sizeof *v);
}

void ggdm_jv_free(ggdm_jv *v)
{
    jv_clear(v);
    free(v);
}

static int hex4(jp *p, unsigned *out)
{
    unsigned v = 0;
    int k;
    if (p->len - p->pos < 4)
        return jfail(p, p->pos, "a \\u escape needs 4 hex digits");
    for (k = 0; k < 4; k++) {
        char h = p->s[p->pos + (size_t)k];
        unsigned d;
        if (h >= '0' && h <= '9')
            d = (unsigned)(h - '0');
        else if (h >= 'a' && h <= 'f')
            d = (unsigned)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F')
            d = (unsigned)(h - 'A' + 10);
        else
            return jfail(p, p->pos + (size_t)k, "a \\u escape needs 4 hex digits");
        v = v * 16u + d;
    }
    p->pos += 4;
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at s[pos] (non-ASCII lead), 0 if invalid. */
static unsigned utf8_seq(const unsigned char *s, size_t pos, size_t len)
{
    unsigned c = s[pos], n, k;
    unsigned long cp, min;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2; cp = c & 0x1f; min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3; cp = c & 0x0f; min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4; cp = c & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (len - pos < n)
        return 0;
    for (k = 1; k < n; k++) {
        unsigned t = s[pos + k];
        if ((t & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (t & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static size_t put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A string at p->pos (a '"'); decoded into a malloc'd buffer (never longer than the
 * source: every escape is at least as long as what it stands for). */
static int parse_string(jp *p, char **out, size_t *outlen)
{
    size_t start = p->pos, cap, n = 0;
    const unsigned char *u = (const unsigned char *)p->s;
    char *o;
    p->pos++;
    /* find the end first, to size the buffer */
    {
        size_t q = p->pos;
        while (q < p->len && p->s[q] != '"') {
            if (p->s[q] == '\\')
                q++;
            q++;
        }
        if (q >= p->len)
            return jfail(p, start, "an unterminated string");
        cap = q - p->pos + 1;
    }
    o = (char *)malloc(cap);
    if (!o)
        return oom(p);
    for (;;) {
        unsigned char c;
        if (p->pos >= p->len) {
            free(o);
            return jfail(p, start, "an unterminated string");
        }
        c = u[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) {
            free(o);
            return jfail(p, p->pos, "a raw control character (0x%02x) in a string", c);
        }
        if (c == '\\') {
            char e;
            size_t at = p->pos;
            p->pos++;
            if (p->pos >= p->len) {
                free(o);
                return jfail(p, at, "an unfinished escape");
            }
            e = p->s[p->pos++];
            switch (e) {
            case '"': o[n++] = '"'; break;
            case '\\': o[n++] = '\\'; break;
            case '/': o[n++] = '/'; break;
            case 'b': o[n++] = '\b'; break;
            case 'f': o[n++] = '\f'; break;
            case 'n': o[n++] = '\n'; break;
            case 'r': o[n++] = '\r'; break;
            case 't': o[n++] = '\t'; break;
            case 'u': {
                unsigned hi, lo;
                unsigned long cp;
                if (hex4(p, &hi) != 0) {
                    free(o);
                    return -1;
                }
                if (hi >= 0xdc00 && hi <= 0xdfff) {
                    free(o);
                    return jfail(p, at, "a lone low surrogate \\u%04x", hi);
                }
                cp = hi;
                if (hi >= 0xd800 && hi <= 0xdbff) {
                    if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                        free(o);
                        return jfail(p, at, "a high surrogate \\u%04x without its low half", hi);
                    }
                    p->pos += 2;
                    if (hex4(p, &lo) != 0) {
                        free(o);
                        return -1;
                    }
                    if (lo < 0xdc00 || lo > 0xdfff) {
                        free(o);
                        return jfail(p, at, "a high surrogate \\u%04x followed by \\u%04x", hi, lo);
                    }
                    cp = 0x10000ul + (((unsigned long)hi - 0xd800u) << 10) + (lo - 0xdc00u);
                }
                n += put_utf8(o + n, cp);
                break;
            }
            default:
                free(o);
                return jfail(p, at, "an unknown escape '\\%c'", (e >= 0x21 && e <= 0x7e) ? e : '?');
            }
            continue;
        }
        if (c < 0x80) {
            o[n++] = (char)c;
            p->pos++;
        } else {
            unsigned k = utf8_seq(u, p->pos, p->len), j;
            if (k == 0) {
                free(o);
                return jfail(p, p->pos, "invalid UTF-8 in a string");
            }
            for (j = 0; j < k; j++)
                o[n++] = (char)u[p->pos + j];
            p->pos += k;
        }
    }
    o[n] = 0;
    *out = o;
    *outlen = n;
    return 0;
}

static int parse_number(jp *p, ggdm_jv *v)
{
    size_t start = p->pos, q = p->pos;
    int is_int = 1;
    char buf[512];
    char *endp;
    const char *s = p->s;
    if (q < p->len && s[q] == '-')
        q++;
    if (q >= p->len || s[q] < '0' || s[q] > '9')
        return jfail(p, start, "a number needs a digit after '-'");
    if (s[q] == '0') {
        q++;
        if (q < p->len && s[q] >= '0' && s[q] <= '9')
            return jfail(p, start, "a number with a leading zero");
    } else {
        while (q < p->len && s[q] >= '0' && s[q] <= '9')
            q++;
    }
    if (q < p->len && s[q] == '.') {
        is_int = 0;
        q++;
        if (q >= p->len || s[q] < '0' || s[q] > '9')
            return jfail(p, start, "a number needs a digit after '.'");
        while (q < p->len && s[q] >= '0' && s[q] <= '9')
            q++;
    }
    if (q < p->len && (s[q] == 'e' || s[q] == 'E')) {
        is_int = 0;
        q++;
        if (q < p->len && (s[q] == '+' || s[q] == '-'))
            q++;
        if (q >= p->len || s[q] < '0' || s[q] > '9')
            return jfail(p, start, "a number needs a digit in its exponent");
        while (q < p->len && s[q] >= '0' && s[q] <= '9')
            q++;
    }
    if (q - start >= sizeof buf)
        return jfail(p, start, "a number of more than %d characters", (int)sizeof buf - 1);
    memcpy(buf, s + start, q - start);
    buf[q - start] = 0;
    errno = 0;
    v->kind = GGDM_JV_NUM;
    v->num = strtod(buf, &endp);
    if (*endp != 0)
        return jfail(p, start, "a malformed number");
    if (errno == ERANGE && (v->num > 1.0 || v->num < -1.0))
        return jfail(p, start, "a number beyond the range of a double");
    /* (an underflow to 0 or a subnormal is a valid reading) */
    if (is_int) {
        errno = 0;
        v->i = strtoll(buf, &endp, 10);
        v->is_int = (errno == 0 && *endp == 0);
    }
    p->pos = q;
    return 0;
}

static int parse_value(jp *p, ggdm_jv *v);

static int grow(jp *p, ggdm_jv *v, size_t *cap, int with_keys)
{
    size_t nc = *cap ? *cap * 2 : 8;
    ggdm_jv *ni;
    if (v->n < *cap)
        return 0;
    ni = (ggdm_jv *)realloc(v->items, nc * sizeof *ni);
    if (!ni)
        return oom(p);
    v->items = ni;
    if (with_keys) {
        char **nk = (char **)realloc(v->keys, nc * sizeof *nk);
        if (!nk)
            return oom(p);
        v->keys = nk;
    }
    *cap = nc;
    return 0;
}

static int parse_container(jp *p, ggdm_jv *v, int is_obj)
{
    size_t cap = 0, start = p->pos;
    char close = is_obj ? '}' : ']';
    char b[16];
    v->kind = is_obj ? GGDM_JV_OBJ : GGDM_JV_ARR;
    if (++p->depth > p->max_depth)
        return jfail(p, start, "nesting deeper than %d", p->max_depth);
    p->pos++;
    ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        p->depth--;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        size_t klen = 0;
        ws(p);
        if (is_obj) {
            size_t kat = p->pos, j;
            if (p->pos >= p->len || p->s[p->pos] != '"')
                return jfail(p, p->pos, "expected a key (a string), found %s", shown_char(b, sizeof b, p));
            if (parse_string(p, &key, &klen) != 0)
                return -1;
            if (memchr(key, 0, klen)) {
                free(key);
                return jfail(p, kat, "a key containing a NUL character");
            }
            for (j = 0; j < v->n; j++) {
                if (strcmp(v->keys[j], key) == 0) {
                    char sh[64];
                    jfail(p, kat, "duplicate key '%s'", ggdm_io_shown(sh, sizeof sh, key, klen));
                    free(key);
                    return -1;
                }
            }
            ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                free(key);
                return jfail(p, p->pos, "expected ':' after a key, found %s", shown_char(b, sizeof b, p));
            }
            p->pos++;
        }
        if (grow(p, v, &cap, is_obj) != 0) {
            free(key);
            return -1;
        }
        memset(&v->items[v->n], 0, sizeof v->items[v->n]);
        if (is_obj)
            v->keys[v->n] = key;
        v->n++;
        if (parse_value(p, &v->items[v->n - 1]) != 0)
            return -1;
        ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            size_t comma = p->pos;
            p->pos++;
            ws(p);
            if (p->pos < p->len && p->s[p->pos] == close)
                return jfail(p, comma, "a trailing comma");
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            p->depth--;
            return 0;
        }
        if (p->pos >= p->len)
            return jfail(p, start, "an unterminated %s", is_obj ? "object" : "array");
        return jfail(p, p->pos, "expected ',' or '%c', found %s", close, shown_char(b, sizeof b, p));
    }
}

static int parse_value(jp *p, ggdm_jv *v)
{
    char b[16];
    char c;
    ws(p);
    v->off = p->pos;
    if (++p->values > p->max_values)
        return jfail(p, p->pos, "more than %llu values", (unsigned long long)p->max_values);
    if (p->pos >= p->len)
        return jfail(p, p->pos, "expected a value, found the end of the text");
    c = p->s[p->pos];
    if (c == '{' || c == '[')
        return parse_container(p, v, c == '{');
    if (c == '"') {
        v->kind = GGDM_JV_STR;
        return parse_string(p, &v->s, &v->len);
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return parse_number(p, v);
    if (p->len - p->pos >= 4 && memcmp(p->s + p->pos, "true", 4) == 0) {
        v->kind = GGDM_JV_BOOL;
        v->b = 1;
        p->pos += 4;
        return 0;
    }
    if (p->len - p->pos >= 5 && memcmp(p->s + p->pos, "false", 5) == 0) {
        v->kind = GGDM_JV_BOOL;
        p->pos += 5;
        return 0;
    }
    if (p->len - p->pos >= 4 && memcmp(p->s + p->pos, "null", 4) == 0) {
        v->kind = GGDM_JV_NULL;
        p->pos += 4;
        return 0;
    }
    return jfail(p, p->pos, "expected a value, found %s", shown_char(b, sizeof b, p));
}

ggdm_status ggdm_jv_parse(const char *text, size_t len, const ggdm_jv_limits *lim, const char *prefix,
                          ggdm_jv **out, char *err, size_t errcap)
{
    jp p;
    ggdm_jv *root;
    char b[16];
    if (err && errcap)
        err[0] = 0;
    if (!out || (!text && len))
        return GGDM_ERR_ARG;
    *out = NULL;
    memset(&p, 0, sizeof p);
    p.s = text ? text : "";
    p.len = len;
    p.max_depth = lim && lim->max_depth > 0 ? lim->max_depth : JV_DEPTH;
    p.max_values = lim && lim->max_values > 0 ? lim->max_values : JV_VALUES;
    p.prefix = prefix ? prefix : "json";
    p.err = err;
    p.errcap = errcap;
    if ((uint64_t)len > (lim && lim->max_bytes > 0 ? lim->max_bytes : JV_BYTES)) {
        jfail(&p, 0, "the text is %llu bytes, more than the limit of %llu", (unsigned long long)len,
              (unsigned long long)(lim && lim->max_bytes > 0 ? lim->max_bytes : JV_BYTES));
        return p.st;
    }
    root = (ggdm_jv *)calloc(1, sizeof *root);
    if (!root) {
        oom(&p);
        return p.st;
    }
    if (len >= 3 && (unsigned char)text[0] == 0xef && (unsigned char)text[1] == 0xbb &&
        (unsigned char)text[2] == 0xbf) {
        jfail(&p, 0, "a UTF-8 byte order mark (not allowed in JSON)");
        ggdm_jv_free(root);
        return p.st;
    }
    if (parse_value(&p, root) == 0) {
        ws(&p);
        if (p.pos < p.len)
            jfail(&p, p.pos, "text after the value: %s", shown_char(b, sizeof b, &p));
    }
    if (p.st != GGDM_OK) {
        ggdm_jv_free(root);
        return p.st;
    }
    *out = root;
    return GGDM_OK;
}

ggdm_status ggdm_jv_parse_file(const char *path, const ggdm_jv_limits *lim, ggdm_jv **out, char *err,
                               size_t errcap)
{
    uint8_t *buf = NULL;
    uint64_t len = 0, max = lim && lim->max_bytes > 0 ? lim->max_bytes : JV_BYTES;
    ggdm_status st;
    if (!path || !out)
        return GGDM_ERR_ARG;
    *out = NULL;
    {
        /* refuse a huge file before reading it */
        FILE *f = fopen(path, "rb");
        long sz;
        if (!f) {
            snprintf(err, errcap, "%s: cannot open (%s)", path, strerror(errno));
            return GGDM_ERR_IO;
        }
        if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) >= 0 && (uint64_t)sz > max) {
            fclose(f);
            snprintf(err, errcap, "%s: %ld bytes, more than the limit of %llu for a JSON file", path, sz,
                     (unsigned long long)max);
            return GGDM_ERR_FORMAT;
        }
        fclose(f);
    }
    st = ggdm_io_read_file(path, &buf, &len, err, errcap);
    if (st != GGDM_OK)
        return st;
    st = ggdm_jv_parse((const char *)buf, (size_t)len, lim, path, out, err, errcap);
    free(buf);
    return st;
}

const ggdm_jv *ggdm_jv_get(const ggdm_jv *v, const char *key)
{
    size_t i;
    if (!v || v->kind != GGDM_JV_OBJ || !key)
        return NULL;
    for (i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], key) == 0)
            return &v->items[i];
    return NULL;
}

const char *ggdm_jv_kind_name(ggdm_jv_kind k)
{
    switch (k) {
    case GGDM_JV_NULL: return "null";
    case GGDM_JV_BOOL: return "a boolean";
    case GGDM_JV_NUM: return "a number";
    case GGDM_JV_STR: return "a string";
    case GGDM_JV_ARR: return "an array";
    case GGDM_JV_OBJ: return "an object";
    }
    return "?";
}

/* ------------------------------------------------------------------ building */

ggdm_jv *ggdm_jv_new(ggdm_jv_kind kind)
{
    ggdm_jv *v = (ggdm_jv *)calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->kind = kind;
    if (kind == GGDM_JV_STR) {
        v->s = (char *)calloc(1, 1);
        if (!v->s) {
            free(v);
            return NULL;
        }
    }
    return v;
}

ggdm_jv *ggdm_jv_new_bool(int b)
{
    ggdm_jv *v = ggdm_jv_new(GGDM_JV_BOOL);
    if (v)
        v->b = b != 0;
    return v;
}

ggdm_jv *ggdm_jv_new_int(long long i)
{
    ggdm_jv *v = ggdm_jv_new(GGDM_JV_NUM);
    if (v) {
        v->is_int = 1;
        v->i = i;
        v->num = (double)i;
    }
    return v;
}

ggdm_jv *ggdm_jv_new_num(double d)
{
    ggdm_jv *v;
    if (!(d == d) || d > DBL_MAX || d < -DBL_MAX)
        return NULL;
    v = ggdm_jv_new(GGDM_JV_NUM);
    if (v)
        v->num = d;
    return v;
}

ggdm_jv *ggdm_jv_new_str(const char *s)
{
    ggdm_jv *v;
    size_t n;
    if (!s)
        return NULL;
    n = strlen(s);
    v = (ggdm_jv *)calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->kind = GGDM_JV_STR;
    v->s = (char *)malloc(n + 1);
    if (!v->s) {
        free(v);
        return NULL;
    }
    memcpy(v->s, s, n + 1);
    v->len = n;
    return v;
}

static ggdm_status append(ggdm_jv *c, char *key, ggdm_jv *v)
{
    ggdm_jv *ni = (ggdm_jv *)realloc(c->items, (c->n + 1) * sizeof *ni);
    if (!ni)
        return GGDM_ERR_IO;
    c->items = ni;
    if (c->kind == GGDM_JV_OBJ) {
        char **nk = (char **)realloc(c->keys, (c->n + 1) * sizeof *nk);
        if (!nk)
            return GGDM_ERR_IO;
        c->keys = nk;
        c->keys[c->n] = key;
    }
    c->items[c->n++] = *v;
    free(v);
    return GGDM_OK;
}

ggdm_status ggdm_jv_push(ggdm_jv *arr, ggdm_jv *v)
{
    ggdm_status st;
    if (!v)
        return GGDM_ERR_ARG;
    if (!arr || arr->kind != GGDM_JV_ARR) {
        ggdm_jv_free(v);
        return GGDM_ERR_ARG;
    }
    st = append(arr, NULL, v);
    if (st != GGDM_OK)
        ggdm_jv_free(v);
    return st;
}

ggdm_status ggdm_jv_put(ggdm_jv *obj, const char *key, ggdm_jv *v)
{
    char *k;
    size_t n;
    ggdm_status st;
    if (!v)
        return GGDM_ERR_ARG;
    if (!obj || obj->kind != GGDM_JV_OBJ || !key || ggdm_jv_get(obj, key)) {
        ggdm_jv_free(v);
        return GGDM_ERR_ARG;
    }
    n = strlen(key);
    k = (char *)malloc(n + 1);
    if (!k) {
        ggdm_jv_free(v);
        return GGDM_ERR_IO;
    }
    memcpy(k, key, n + 1);
    st = append(obj, k, v);
    if (st != GGDM_OK) {
        free(k);
        ggdm_jv_free(v);
    }
    return st;
}

/* ------------------------------------------------------------------ writing */

typedef struct jw {
    char *buf;
    size_t len, cap;
    ggdm_status st;
} jw;

static void wput(jw *w, const char *s, size_t n)
{
    if (w->st != GGDM_OK)
        return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        char *b;
        while (w->len + n + 1 > cap)
            cap *= 2;
        b = (char *)realloc(w->buf, cap);
        if (!b) {
            w->st = GGDM_ERR_IO;
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = 0;
}

static void wputs(jw *w, const char *s) { wput(w, s, strlen(s)); }

static void wstring(jw *w, const char *s, size_t n)
{
    size_t i = 0;
    wputs(w, "\"");
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\';
            e[1] = (char)c;
            wput(w, e, 2);
            i++;
        } else if (c < 0x20) {
            const char *sh = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : c == '\b' ? "\\b"
                           : c == '\f' ? "\\f" : NULL;
            if (sh)
                wputs(w, sh);
            else {
                snprintf(e, sizeof e, "\\u%04x", c);
                wputs(w, e);
            }
            i++;
        } else if (c < 0x80) {
            wput(w, (const char *)&s[i], 1);
            i++;
        } else {
            unsigned k = utf8_seq((const unsigned char *)s, i, n);
            if (k == 0) {
                if (w->st == GGDM_OK)
                    w->st = GGDM_ERR_ARG;
                return;
            }
            wput(w, s + i, k);
            i += k;
        }
    }
    wputs(w, "\"");
}

/* Python's repr of a double: the shortest digits that read back to it, in fixed notation
 * when the decimal exponent is in [-4, 16), else d.ddde+XX. */
static void py_repr(double x, char *out, size_t cap)
{
    char e[40], digits[24];
    int prec, exp10, nd = 0, k;
    const char *p;
    size_t o = 0;
    if (x == 0) {
        snprintf(out, cap, signbit(x) ? "-0.0" : "0.0");
        return;
    }
    for (prec = 0; prec <= 16; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, x);
        if (strtod(e, NULL) == x)
            break;
    }
    /* e = [-]d[.ddd]e[+-]XX */
    p = e;
    if (*p == '-')
        out[o++] = *p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[nd++] = *p;
    exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 < 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (k = 0; k < -exp10 - 1; k++)
                out[o++] = '0';
            for (k = 0; k < nd; k++)
                out[o++] = digits[k];
        } else {
            for (k = 0; k <= exp10; k++)
                out[o++] = k < nd ? digits[k] : '0';
            out[o++] = '.';
            if (nd > exp10 + 1)
                for (k = exp10 + 1; k < nd; k++)
                    out[o++] = digits[k];
            else
                out[o++] = '0';
        }
        out[o] = 0;
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (k = 1; k < nd; k++)
                out[o++] = digits[k];
        }
        snprintf(out + o, cap - o, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    }
}

static void wnum(jw *w, const ggdm_jv *v)
{
    char b[48];
    if (v->is_int) {
        snprintf(b, sizeof b, "%lld", v->i);
        wputs(w, b);
        return;
    }
    if (!(v->num == v->num) || v->num > DBL_MAX || v->num < -DBL_MAX) {
        if (w->st == GGDM_OK)
            w->st = GGDM_ERR_ARG;
        return;
    }
    py_repr(v->num, b, sizeof b);
    wputs(w, b);
}

static void windent(jw *w, int depth)
{
    int i;
    wputs(w, "\n");
    for (i = 0; i < depth; i++)
        wputs(w, "  ");
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void wvalue(jw *w, const ggdm_jv *v, int sort_keys, int depth)
{
    size_t i;
    if (w->st != GGDM_OK)
        return;
    switch (v->kind) {
    case GGDM_JV_NULL: wputs(w, "null"); break;
    case GGDM_JV_BOOL: wputs(w, v->b ? "true" : "false"); break;
    case GGDM_JV_NUM: wnum(w, v); break;
    case GGDM_JV_STR: wstring(w, v->s, v->len); break;
    case GGDM_JV_ARR:
        if (v->n == 0) {
            wputs(w, "[]");
            break;
        }
        wputs(w, "[");
        for (i = 0; i < v->n; i++) {
            if (i)
                wputs(w, ",");
            windent(w, depth + 1);
            wvalue(w, &v->items[i], sort_keys, depth + 1);
        }
        windent(w, depth);
        wputs(w, "]");
        break;
    case GGDM_JV_OBJ: {
        const char **order;
        if (v->n == 0) {
            wputs(w, "{}");
            break;
        }
        order = (const char **)malloc(v->n * sizeof *order);
        if (!order) {
            w->st = GGDM_ERR_IO;
            return;
        }
        for (i = 0; i < v->n; i++)
            order[i] = v->keys[i];
        if (sort_keys)
            qsort(order, v->n, sizeof *order, key_cmp);
        wputs(w, "{");
        for (i = 0; i < v->n; i++) {
            if (i)
                wputs(w, ",");
            windent(w, depth + 1);
            wstring(w, order[i], strlen(order[i]));
            wputs(w, ": ");
            wvalue(w, ggdm_jv_get(v, order[i]), sort_keys, depth + 1);
        }
        free(order);
        windent(w, depth);
        wputs(w, "}");
        break;
    }
    }
}

ggdm_status ggdm_jv_write(const ggdm_jv *v, int sort_keys, char **text, size_t *len)
{
    jw w;
    if (text)
        *text = NULL;
    if (!v || !text)
        return GGDM_ERR_ARG;
    memset(&w, 0, sizeof w);
    wvalue(&w, v, sort_keys, 0);
    wputs(&w, "\n");
    if (w.st != GGDM_OK) {
        free(w.buf);
        *text = NULL;
        return w.st;
    }
    *text = w.buf;
    if (len)
        *len = w.len;
    return GGDM_OK;
}

ggdm_status ggdm_jv_save(const char *path, const ggdm_jv *v, int sort_keys, char *err, size_t errcap)
{
    char *text = NULL;
    size_t len = 0;
    ggdm_status st = ggdm_jv_write(v, sort_keys, &text, &len);
    if (st != GGDM_OK) {
        snprintf(err, errcap, "%s: %s", path,
                 st == GGDM_ERR_IO ? "out of memory" : "the value cannot be written as JSON (invalid UTF-8 or a non-finite number)");
        return st;
    }
    st = ggdm_io_write_file(path, text, len, err, errcap);
    free(text);
    return st;
}
