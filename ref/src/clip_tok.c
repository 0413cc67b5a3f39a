/*
 * clip_tok.c - CLIP's tokenizer as transformers 4.36.2's CLIPTokenizer runs it without ftfy
 * (docs/tokenizer.md). Allocation-free: the tables live in the caller's arena, the text's
 * intermediate forms in the caller's work memory. The Unicode tables are generated
 * (clip_unicode.h, ref/tools/clip_unicode_gen.py).
 */
#include "ggdm/clip_tok.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "clip_unicode.h"

typedef struct vent {
    uint32_t off, len; /* key: pool[off .. off + len) (UTF-8, as JSON-decoded) */
    int32_t id;
} vent;

typedef struct ment {
    uint32_t off1, len1, off2, len2; /* the two symbols, pool bytes as in merges.txt */
    int32_t rank;
} ment;

struct ggdm_clip_tok {
    uint32_t n_vocab, n_merges, nv_max, nm_max;
    int32_t bos, eos;
    uint32_t vmask, mmask; /* hash table sizes - 1 (powers of two) */
    vent *vocab;
    uint32_t *vslot; /* 0: empty, else entry index + 1 */
    ment *merge;
    uint32_t *mslot;
    uint8_t *pool;
    uint32_t pool_len, pool_cap;
    uint8_t b2u[256][2]; /* bytes_to_unicode: byte -> UTF-8 of its character (1 or 2 bytes) */
    uint8_t b2u_len[256];
};

#define ALIGN_UP(x) (((x) + 15u) & ~(uint64_t)15u)
#define NO_RANK INT32_MAX

/* ---------- small helpers ---------- */

static void set_msg(char *msg, const char *fmt, ...)
{
    va_list ap;
    if (!msg)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, GGDM_CLIP_TOK_MSG_LEN, fmt, ap);
    va_end(ap);
}

/* Decodes one well-formed UTF-8 sequence at s[0..n) (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). Returns its length, 0 if ill-formed. */
static unsigned utf8_dec(const uint8_t *s, uint64_t n, uint32_t *cp)
{
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        if (n < 2 || (s[1] & 0xC0) != 0x80)
            return 0;
        *cp = ((uint32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        uint8_t lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        if (n < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
            return 0;
        *cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        uint8_t lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        if (n < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        *cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6) |
              (s[3] & 0x3F);
        return 4;
    }
    return 0;
}

static unsigned utf8_enc(uint32_t cp, uint8_t *o)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Offset of the first ill-formed byte, or n when all of s is UTF-8. */
static uint64_t utf8_check(const uint8_t *s, uint64_t n)
{
    uint64_t i = 0;
    uint32_t cp;
    while (i < n) {
        unsigned k = utf8_dec(s + i, n - i, &cp);
        if (!k)
            return i;
        i += k;
    }
    return n;
}

/* Index of the last run start <= cp in a sorted table of n >= 1 starts (the first is 0). */
static uint32_t run_find(const uint32_t *start, uint32_t n, uint32_t cp)
{
    uint32_t lo = 0, hi = n; /* start[lo] <= cp < start[hi] */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (start[mid] <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static unsigned prop(uint32_t cp)
{
    return cu_prop_flags[run_find(cu_prop_start, (uint32_t)(sizeof cu_prop_start / sizeof cu_prop_start[0]), cp)];
}

static unsigned ccc(uint32_t cp)
{
    return cu_ccc_val[run_find(cu_ccc_start, (uint32_t)(sizeof cu_ccc_start / sizeof cu_ccc_start[0]), cp)];
}

/* Index of cp in a sorted code point list, or -1. */
static long cp_find(const uint32_t *list, uint32_t n, uint32_t cp)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (list[mid] == cp)
            return (long)mid;
        if (list[mid] < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

#define N_OF(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

/* The primary composite of (a, b), or 0. */
static uint32_t compose(uint32_t a, uint32_t b)
{
    uint32_t lo = 0, hi = N_OF(cu_comp);
    /* Hangul: L V -> LV, LV T -> LVT */
    if (a >= 0x1100 && a < 0x1113 && b >= 0x1161 && b < 0x1176)
        return 0xAC00 + ((a - 0x1100) * 21 + (b - 0x1161)) * 28;
    if (a >= 0xAC00 && a <= 0xD7A3 && (a - 0xAC00) % 28 == 0 && b > 0x11A7 && b <= 0x11C2)
        return a + (b - 0x11A7);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const uint32_t *e = cu_comp[mid];
        if (e[0] == a && e[1] == b)
            return e[2];
        if (e[0] < a || (e[0] == a && e[1] < b))
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* Does cp match the pattern's literal character ch under IGNORECASE? */
static int lit(char ch, uint32_t cp)
{
    uint32_t i, k;
    for (i = 0; i < N_OF(cu_lit); i++)
        if (cu_lit[i].ch == ch) {
            for (k = 0; k < cu_lit[i].n; k++)
                if (cu_lit_cps[cu_lit[i].off + k] == cp)
                    return 1;
            return 0;
        }
    return 0;
}

/* ---------- hashing ---------- */

#define FNV_INIT 0xcbf29ce484222325ull
static uint64_t fnv(uint64_t h, const uint8_t *s, uint64_t n)
{
    uint64_t i;
    for (i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint32_t slot_of(uint64_t h, uint32_t mask)
{
    return (uint32_t)(h ^ (h >> 29)) & mask;
}

static const uint8_t EOW[4] = {'<', '/', 'w', '>'};
static const uint8_t SEP = 0xFF; /* never in UTF-8: separates a merge's two symbols in its hash */

/* A string given as a span plus an optional "</w>" suffix. */
typedef struct sstr {
    const uint8_t *s;
    uint32_t n;
    int eow;
} sstr;

static uint64_t sstr_hash(uint64_t h, sstr a)
{
    h = fnv(h, a.s, a.n);
    return a.eow ? fnv(h, EOW, 4) : h;
}

static int sstr_eq(sstr a, const uint8_t *b, uint32_t bn)
{
    if (a.n + (a.eow ? 4u : 0u) != bn || memcmp(a.s, b, a.n) != 0)
        return 0;
    return !a.eow || memcmp(b + a.n, EOW, 4) == 0;
}

/* Vocabulary id of a string, or -1. */
static int32_t vocab_get(const ggdm_clip_tok *t, sstr k)
{
    uint32_t i = slot_of(sstr_hash(FNV_INIT, k), t->vmask);
    for (;; i = (i + 1) & t->vmask) {
        uint32_t e = t->vslot[i];
        const vent *v;
        if (!e)
            return -1;
        v = &t->vocab[e - 1];
        if (sstr_eq(k, t->pool + v->off, v->len))
            return v->id;
    }
}

static int32_t merge_rank(const ggdm_clip_tok *t, sstr a, sstr b)
{
    uint32_t i = slot_of(sstr_hash(fnv(sstr_hash(FNV_INIT, a), &SEP, 1), b), t->mmask);
    for (;; i = (i + 1) & t->mmask) {
        uint32_t e = t->mslot[i];
        const ment *m;
        if (!e)
            return NO_RANK;
        m = &t->merge[e - 1];
        if (sstr_eq(a, t->pool + m->off1, m->len1) && sstr_eq(b, t->pool + m->off2, m->len2))
            return m->rank;
    }
}

/* ---------- sizes ---------- */

static uint32_t pow2_at_least(uint64_t n)
{
    uint32_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

typedef struct layout {
    uint32_t nv_max, nm_max, vcap, mcap;
    uint64_t pool, total;
} layout;

static void plan(uint64_t vlen, uint64_t mlen, layout *L)
{
    /* a vocab entry takes >= 5 bytes ("":0 plus a separator), a merge line >= 4 ("a b\n") */
    uint64_t nm = mlen / 4 + 2;
    L->nv_max = (uint32_t)(vlen / 4 + 1);
    L->nm_max = (uint32_t)(nm < GGDM_CLIP_TOK_MAX_MERGES ? nm : GGDM_CLIP_TOK_MAX_MERGES);
    L->vcap = pow2_at_least(2 * (uint64_t)L->nv_max);
    L->mcap = pow2_at_least(2 * (uint64_t)L->nm_max);
    L->pool = vlen + mlen + 16;
    L->total = 16 + ALIGN_UP(sizeof(struct ggdm_clip_tok)) + ALIGN_UP((uint64_t)L->nv_max * sizeof(vent)) +
               ALIGN_UP((uint64_t)L->vcap * 4) + ALIGN_UP((uint64_t)L->nm_max * sizeof(ment)) +
               ALIGN_UP((uint64_t)L->mcap * 4) + ALIGN_UP(L->pool);
}

ggdm_status ggdm_clip_tok_bytes(uint64_t vocab_len, uint64_t merges_len, uint64_t *bytes)
{
    layout L;
    if (!bytes)
        return GGDM_ERR_ARG;
    *bytes = 0;
    if (vocab_len > GGDM_CLIP_TOK_FILE_MAX || merges_len > GGDM_CLIP_TOK_FILE_MAX)
        return GGDM_ERR_UNSUPPORTED;
    plan(vocab_len, merges_len, &L);
    *bytes = L.total;
    return GGDM_OK;
}

/* ---------- vocab.json ---------- */

typedef struct jp {
    const uint8_t *s;
    uint64_t n, i;
    char *msg;
} jp;

static void j_ws(jp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static ggdm_status j_err(jp *p, const char *what)
{
    set_msg(p->msg, "vocab.json: byte %llu: %s", (unsigned long long)p->i, what);
    return GGDM_ERR_FORMAT;
}

static int hex4(const uint8_t *s, uint32_t *v)
{
    int k;
    *v = 0;
    for (k = 0; k < 4; k++) {
        uint8_t c = s[k];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else
            return 0;
        *v = *v << 4 | d;
    }
    return 1;
}

/* A JSON string at p->i (the opening quote), decoded into the pool. */
static ggdm_status j_string(jp *p, ggdm_clip_tok *t, uint32_t *off, uint32_t *len)
{
    uint8_t *o = t->pool + t->pool_len;
    uint32_t k = 0;
    if (p->i >= p->n || p->s[p->i] != '"')
        return j_err(p, "expected a string");
    p->i++;
    for (;;) {
        uint8_t c;
        if (p->i >= p->n)
            return j_err(p, "unterminated string");
        c = p->s[p->i];
        if (c == '"') {
            p->i++;
            break;
        }
        if (c < 0x20)
            return j_err(p, "control character in a string");
        if (c == '\\') {
            uint32_t cp;
            if (p->i + 1 >= p->n)
                return j_err(p, "unterminated string");
            c = p->s[p->i + 1];
            switch (c) {
            case '"': case '\\': case '/': o[k++] = c; p->i += 2; continue;
            case 'b': o[k++] = '\b'; p->i += 2; continue;
            case 'f': o[k++] = '\f'; p->i += 2; continue;
            case 'n': o[k++] = '\n'; p->i += 2; continue;
            case 'r': o[k++] = '\r'; p->i += 2; continue;
            case 't': o[k++] = '\t'; p->i += 2; continue;
            case 'u': break;
            default: return j_err(p, "invalid escape");
            }
            if (p->i + 6 > p->n || !hex4(p->s + p->i + 2, &cp))
                return j_err(p, "invalid \\u escape");
            p->i += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (p->i + 6 > p->n || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u' || !hex4(p->s + p->i + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return j_err(p, "lone surrogate in a \\u escape");
                p->i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return j_err(p, "lone surrogate in a \\u escape");
            }
            k += utf8_enc(cp, o + k); /* never longer than the 6-byte escape */
            continue;
        }
        o[k++] = c; /* the file was checked to be UTF-8 */
        p->i++;
    }
    *off = t->pool_len;
    *len = k;
    t->pool_len += k;
    return GGDM_OK;
}

static ggdm_status load_vocab(ggdm_clip_tok *t, const uint8_t *s, uint64_t n, char *msg)
{
    jp p;
    uint64_t bad = utf8_check(s, n);
    uint32_t e;
    sstr k;
    p.s = s;
    p.n = n;
    p.i = 0;
    p.msg = msg;
    if (bad < n) {
        p.i = bad;
        return j_err(&p, "not UTF-8");
    }
    j_ws(&p);
    if (p.i >= p.n || s[p.i] != '{')
        return j_err(&p, "expected '{' (vocab.json is one JSON object: token -> id)");
    p.i++;
    j_ws(&p);
    if (p.i < p.n && s[p.i] == '}')
        p.i++;
    else
        for (;;) {
            uint32_t off, len, slot;
            int64_t v = 0;
            int neg = 0;
            uint64_t d0;
            ggdm_status st;
            j_ws(&p);
            st = j_string(&p, t, &off, &len);
            if (st != GGDM_OK)
                return st;
            j_ws(&p);
            if (p.i >= p.n || s[p.i] != ':')
                return j_err(&p, "expected ':'");
            p.i++;
            j_ws(&p);
            if (p.i < p.n && s[p.i] == '-') {
                neg = 1;
                p.i++;
            }
            d0 = p.i;
            while (p.i < p.n && s[p.i] >= '0' && s[p.i] <= '9') {
                if (v <= INT32_MAX)
                    v = v * 10 + (s[p.i] - '0');
                p.i++;
            }
            if (p.i == d0)
                return j_err(&p, "expected an integer id");
            if (p.i < p.n && (s[p.i] == '.' || s[p.i] == 'e' || s[p.i] == 'E'))
                return j_err(&p, "id is not an integer");
            if (p.i - d0 > 1 && s[d0] == '0')
                return j_err(&p, "id with a leading zero");
            if (neg && v != 0)
                return j_err(&p, "negative id");
            if (v > INT32_MAX)
                return j_err(&p, "id out of range");
            if (t->n_vocab >= t->nv_max)
                return j_err(&p, "too many entries"); /* cannot happen: nv_max bounds them */
            k.s = t->pool + off;
            k.n = len;
            k.eow = 0;
            slot = slot_of(sstr_hash(FNV_INIT, k), t->vmask);
            while (t->vslot[slot]) {
                const vent *o = &t->vocab[t->vslot[slot] - 1];
                if (sstr_eq(k, t->pool + o->off, o->len))
                    return j_err(&p, "duplicate key");
                slot = (slot + 1) & t->vmask;
            }
            t->vocab[t->n_vocab].off = off;
            t->vocab[t->n_vocab].len = len;
            t->vocab[t->n_vocab].id = (int32_t)v;
            t->vslot[slot] = ++t->n_vocab;
            j_ws(&p);
            if (p.i < p.n && s[p.i] == ',') {
                p.i++;
                continue;
            }
            if (p.i < p.n && s[p.i] == '}') {
                p.i++;
                break;
            }
            return j_err(&p, p.i < p.n ? "expected ',' or '}'" : "truncated (no closing '}')");
        }
    j_ws(&p);
    if (p.i != p.n)
        return j_err(&p, "data after the JSON object");
    for (e = 0; e < t->n_vocab; e++)
        if ((uint32_t)t->vocab[e].id >= t->n_vocab) {
            set_msg(msg, "vocab.json: id %ld outside [0, %lu) (the number of entries)", (long)t->vocab[e].id,
                    (unsigned long)t->n_vocab);
            return GGDM_ERR_FORMAT;
        }
    k.eow = 0;
    k.s = (const uint8_t *)GGDM_CLIP_TOK_BOS;
    k.n = (uint32_t)strlen(GGDM_CLIP_TOK_BOS);
    t->bos = vocab_get(t, k);
    k.s = (const uint8_t *)GGDM_CLIP_TOK_EOS;
    k.n = (uint32_t)strlen(GGDM_CLIP_TOK_EOS);
    t->eos = vocab_get(t, k);
    if (t->bos < 0 || t->eos < 0) {
        set_msg(msg, "vocab.json: no %s token", t->bos < 0 ? GGDM_CLIP_TOK_BOS : GGDM_CLIP_TOK_EOS);
        return GGDM_ERR_FORMAT;
    }
    return GGDM_OK;
}

/* ---------- merges.txt ---------- */

/* python's str.isspace() of the character at s[i] (UTF-8 checked); *k its length */
static int py_space_at(const uint8_t *s, uint64_t n, uint64_t i, unsigned *k)
{
    uint32_t cp = 0;
    *k = utf8_dec(s + i, n - i, &cp);
    return (prop(cp) & CU_PYSPACE) != 0;
}

static ggdm_status load_merges(ggdm_clip_tok *t, const uint8_t *s, uint64_t n, char *msg)
{
    uint64_t bad = utf8_check(s, n), b = 0, e = 0, i, line_start;
    unsigned long line_no = 1;
    uint32_t lines = 0;
    unsigned k;
    if (bad < n) {
        set_msg(msg, "merges.txt: byte %llu: not UTF-8", (unsigned long long)bad);
        return GGDM_ERR_FORMAT;
    }
    /* text.strip(): [b, e) without python-whitespace at either end */
    for (i = 0; i < n; i += k)
        if (!py_space_at(s, n, i, &k)) {
            if (e == 0)
                b = i;
            e = i + k;
        }
    for (i = 0; i < b; i++)
        if (s[i] == '\n' || (s[i] == '\r' && !(i + 1 < n && s[i + 1] == '\n')))
            line_no++;
    if (e == 0 || e - b < 8 || memcmp(s + b, "#version", 8) != 0) {
        set_msg(msg, "merges.txt: line %lu: the first line is not a \"#version\" header", line_no);
        return GGDM_ERR_FORMAT;
    }
    /* lines: universal newlines (\r\n, \r, \n), the first one is the header */
    line_start = b;
    for (i = b; i <= e && lines <= GGDM_CLIP_TOK_MAX_MERGES; i++) {
        uint64_t j, f0 = 0, f0e = 0, f1 = 0, f1e = 0;
        uint32_t fields = 0;
        int in = 0;
        if (i < e && s[i] != '\n' && s[i] != '\r')
            continue;
        if (lines > 0) { /* a merge line: s[line_start .. i) */
            for (j = line_start; j < i; j += k) {
                int sp = py_space_at(s, i, j, &k);
                if (!sp && !in) {
                    fields++;
                    if (fields == 1)
                        f0 = j;
                    else if (fields == 2)
                        f1 = j;
                }
                if (sp && in) {
                    if (fields == 1)
                        f0e = j;
                    else if (fields == 2)
                        f1e = j;
                }
                in = !sp;
            }
            if (in) {
                if (fields == 1)
                    f0e = i;
                else if (fields == 2)
                    f1e = i;
            }
            if (fields != 2) {
                set_msg(msg, "merges.txt: line %lu: %lu symbols, a merge is two (\"first second\")", line_no,
                        (unsigned long)fields);
                return GGDM_ERR_FORMAT;
            }
            {
                sstr a, c;
                uint32_t slot;
                ment *m;
                a.s = s + f0;
                a.n = (uint32_t)(f0e - f0);
                a.eow = 0;
                c.s = s + f1;
                c.n = (uint32_t)(f1e - f1);
                c.eow = 0;
                slot = slot_of(sstr_hash(fnv(sstr_hash(FNV_INIT, a), &SEP, 1), c), t->mmask);
                while (t->mslot[slot]) {
                    m = &t->merge[t->mslot[slot] - 1];
                    if (sstr_eq(a, t->pool + m->off1, m->len1) && sstr_eq(c, t->pool + m->off2, m->len2))
                        break;
                    slot = (slot + 1) & t->mmask;
                }
                if (t->mslot[slot]) { /* a repeated pair: python's dict keeps the later rank */
                    t->merge[t->mslot[slot] - 1].rank = (int32_t)(lines - 1);
                } else {
                    m = &t->merge[t->n_merges];
                    m->off1 = t->pool_len;
                    m->len1 = a.n;
                    memcpy(t->pool + t->pool_len, a.s, a.n);
                    t->pool_len += a.n;
                    m->off2 = t->pool_len;
                    m->len2 = c.n;
                    memcpy(t->pool + t->pool_len, c.s, c.n);
                    t->pool_len += c.n;
                    m->rank = (int32_t)(lines - 1);
                    t->mslot[slot] = ++t->n_merges;
                }
            }
        }
        lines++;
        line_no++;
        if (i + 1 < e && s[i] == '\r' && s[i + 1] == '\n')
            i++;
        line_start = i + 1;
    }
    return GGDM_OK;
}

/* ---------- loading ---------- */

ggdm_status ggdm_clip_tok_load(void *arena, uint64_t arena_bytes, const char *vocab, uint64_t vocab_len,
                               const char *merges, uint64_t merges_len, ggdm_clip_tok **tok, char *msg)
{
    layout L;
    uint8_t *a;
    ggdm_clip_tok *t;
    ggdm_status st;
    int b, nb = 0;
    set_msg(msg, "%s", "");
    if (tok)
        *tok = NULL;
    if (!arena || !tok || (!vocab && vocab_len) || (!merges && merges_len)) {
        set_msg(msg, "clip_tok: null argument");
        return GGDM_ERR_ARG;
    }
    if (vocab_len > GGDM_CLIP_TOK_FILE_MAX || merges_len > GGDM_CLIP_TOK_FILE_MAX) {
        set_msg(msg, "clip_tok: vocab.json or merges.txt larger than 2 GiB");
        return GGDM_ERR_UNSUPPORTED;
    }
    plan(vocab_len, merges_len, &L);
    if (arena_bytes < L.total) {
        set_msg(msg, "clip_tok: arena of %llu bytes, %llu needed", (unsigned long long)arena_bytes,
                (unsigned long long)L.total);
        return GGDM_ERR_BUFFER_TOO_SMALL;
    }
    a = (uint8_t *)arena;
    a += (16 - ((uintptr_t)a & 15u)) & 15u;
    t = (ggdm_clip_tok *)(void *)a;
    memset(t, 0, sizeof *t);
    a += ALIGN_UP(sizeof *t);
    t->nv_max = L.nv_max;
    t->nm_max = L.nm_max;
    t->vmask = L.vcap - 1;
    t->mmask = L.mcap - 1;
    t->vocab = (vent *)(void *)a;
    a += ALIGN_UP((uint64_t)L.nv_max * sizeof(vent));
    t->vslot = (uint32_t *)(void *)a;
    a += ALIGN_UP((uint64_t)L.vcap * 4);
    t->merge = (ment *)(void *)a;
    a += ALIGN_UP((uint64_t)L.nm_max * sizeof(ment));
    t->mslot = (uint32_t *)(void *)a;
    a += ALIGN_UP((uint64_t)L.mcap * 4);
    t->pool = a;
    t->pool_cap = (uint32_t)L.pool;
    memset(t->vslot, 0, (size_t)L.vcap * 4);
    memset(t->mslot, 0, (size_t)L.mcap * 4);
    /* bytes_to_unicode: printable Latin-1 bytes stand for themselves, the others for 256 + k */
    for (b = 0; b < 256; b++) {
        int self = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        t->b2u_len[b] = (uint8_t)utf8_enc(self ? (uint32_t)b : (uint32_t)(256 + nb++), t->b2u[b]);
    }
    st = load_vocab(t, (const uint8_t *)vocab, vocab_len, msg);
    if (st == GGDM_OK)
        st = load_merges(t, (const uint8_t *)merges, merges_len, msg);
    if (st != GGDM_OK)
        return st;
    *tok = t;
    return GGDM_OK;
}

ggdm_status ggdm_clip_tok_info_get(const ggdm_clip_tok *tok, ggdm_clip_tok_info *info)
{
    if (!tok || !info)
        return GGDM_ERR_ARG;
    info->n_vocab = tok->n_vocab;
    info->n_merges = tok->n_merges;
    info->bos = tok->bos;
    info->eos = tok->eos;
    return GGDM_OK;
}

/* ---------- encoding ---------- */

/* Capacities (elements) of the work arrays for a text of len bytes; see docs/tokenizer.md:
 * A holds the cleaned text (<= len code points) and later the lower-cased one (<= its
 * UTF-8 bytes <= 4.5 len), B the canonical decomposition (<= 4 code points per code point),
 * R the UTF-8 bytes of one pre-token (<= 4.5 len). */
typedef struct wplan {
    uint64_t acap, bcap, rcap, total;
} wplan;

static void wplan_of(uint64_t len, wplan *w)
{
    w->acap = 5 * len + 8;
    w->bcap = (uint64_t)CU_MAX_DECOMP * len + 8;
    w->rcap = 5 * len + 8;
    w->total = 16 + ALIGN_UP(4 * w->acap) + ALIGN_UP(4 * w->bcap) + ALIGN_UP(2 * w->rcap) +
               ALIGN_UP(4 * (w->rcap + 1)) + ALIGN_UP(4 * w->rcap) + ALIGN_UP(w->rcap);
}

ggdm_status ggdm_clip_tok_work_bytes(uint64_t text_len, uint64_t *bytes)
{
    wplan w;
    if (!bytes)
        return GGDM_ERR_ARG;
    *bytes = 0;
    if (text_len > GGDM_CLIP_TOK_TEXT_MAX)
        return GGDM_ERR_UNSUPPORTED;
    wplan_of(text_len, &w);
    *bytes = w.total;
    return GGDM_OK;
}

typedef struct enc {
    const ggdm_clip_tok *t;
    uint32_t *A, *B;
    uint8_t *conv;     /* one pre-token in bytes_to_unicode characters (UTF-8) */
    uint32_t *sym;     /* BPE symbols: start offsets into conv, sym[nsym] = end */
    int32_t *rank;     /* rank of the pair (sym i, sym i + 1) */
    uint8_t *changed;  /* the symbol was made by the last merge pass */
    uint32_t max_len;  /* 0: no truncation */
    int32_t *ids;
    uint64_t ids_cap, count; /* tokens so far (without BOS/EOS) */
} enc;

static void emit(enc *E, int32_t id)
{
    uint64_t pos = 1 + E->count;
    if (E->max_len ? E->count < (uint64_t)E->max_len - 2 : pos < E->ids_cap)
        E->ids[pos] = id;
    E->count++;
}

static sstr sym_str(const enc *E, uint32_t i, uint32_t nsym)
{
    sstr r;
    r.s = E->conv + E->sym[i];
    r.n = E->sym[i + 1] - E->sym[i];
    r.eow = i + 1 == nsym;
    return r;
}

/* CLIPTokenizer.bpe of one pre-token (its UTF-8 bytes), then the vocabulary ids. */
static void bpe(enc *E, const uint8_t *raw, uint32_t nraw)
{
    const ggdm_clip_tok *t = E->t;
    uint32_t i, nsym = nraw, c = 0;
    for (i = 0; i < nraw; i++) {
        E->sym[i] = c;
        memcpy(E->conv + c, t->b2u[raw[i]], t->b2u_len[raw[i]]);
        c += t->b2u_len[raw[i]];
    }
    E->sym[nraw] = c;
    for (i = 0; i + 1 < nsym; i++)
        E->rank[i] = merge_rank(t, sym_str(E, i, nsym), sym_str(E, i + 1, nsym));
    while (nsym > 1) {
        int32_t best = NO_RANK;
        uint32_t w = 0;
        for (i = 0; i + 1 < nsym; i++)
            if (E->rank[i] < best)
                best = E->rank[i];
        if (best == NO_RANK)
            break;
        /* merge every occurrence of the pair, left to right, without overlaps */
        for (i = 0; i < nsym; w++) {
            if (i + 1 < nsym && E->rank[i] == best) {
                E->sym[w] = E->sym[i];
                E->changed[w] = 1;
                i += 2;
            } else {
                E->sym[w] = E->sym[i];
                E->changed[w] = 0;
                E->rank[w] = i + 1 < nsym ? E->rank[i] : NO_RANK;
                i += 1;
            }
        }
        E->sym[w] = c;
        nsym = w;
        for (i = 0; i + 1 < nsym; i++)
            if (E->changed[i] || E->changed[i + 1])
                E->rank[i] = merge_rank(t, sym_str(E, i, nsym), sym_str(E, i + 1, nsym));
    }
    for (i = 0; i < nsym; i++) {
        int32_t id = vocab_get(t, sym_str(E, i, nsym));
        emit(E, id < 0 ? t->eos : id);
    }
}

/* Python's str.lower() final-sigma rule for the capital sigma at s[i] of s[0..n). */
static uint32_t sigma(const uint32_t *s, uint64_t n, uint64_t i)
{
    uint64_t j = i;
    unsigned f = 0;
    int found = 0;
    while (j > 0 && !found) { /* backwards over case-ignorable characters */
        f = prop(s[--j]);
        found = !(f & CU_CI);
    }
    if (!found || !(f & CU_CASED))
        return 0x3C3; /* nothing cased before: not final */
    for (j = i + 1; j < n; j++) {
        f = prop(s[j]);
        if (!(f & CU_CI))
            return (f & CU_CASED) ? 0x3C3 : 0x3C2;
    }
    return 0x3C2;
}

/* The specials of the pattern, matched under IGNORECASE at s[i..n); returns their length or 0. */
static uint64_t match_lit(const uint32_t *s, uint64_t n, uint64_t i, const char *p)
{
    uint64_t k;
    for (k = 0; p[k]; k++)
        if (i + k >= n || !lit(p[k], s[i + k]))
            return 0;
    return k;
}

static void regex_scan(enc *E, const uint32_t *s, uint64_t n, uint8_t *rawbuf)
{
    static const char *const spec[2] = {GGDM_CLIP_TOK_BOS, GGDM_CLIP_TOK_EOS};
    static const char *const contr[7] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    uint64_t i = 0;
    while (i < n) {
        uint64_t m = 0, k;
        int q, special = -1;
        unsigned f;
        for (q = 0; q < 2 && !m; q++)
            if ((m = match_lit(s, n, i, spec[q])) != 0)
                special = q;
        for (q = 0; q < 7 && !m; q++)
            m = match_lit(s, n, i, contr[q]);
        if (!m) {
            f = prop(s[i]);
            if (f & CU_L) {
                for (m = 1; i + m < n && (prop(s[i + m]) & CU_L); m++) {
                }
            } else if (f & CU_N) {
                m = 1;
            } else if (f & CU_O) {
                for (m = 1; i + m < n && (prop(s[i + m]) & CU_O); m++) {
                }
            } else {
                i++; /* \s: between matches */
                continue;
            }
        }
        if (special >= 0) { /* the cache of CLIPTokenizer.bpe: only the exact string is special */
            const char *p = spec[special];
            for (k = 0; k < m && s[i + k] == (uint8_t)p[k]; k++) {
            }
            if (k == m) {
                emit(E, special == 0 ? E->t->bos : E->t->eos);
                i += m;
                continue;
            }
        }
        {
            uint64_t nb = 0;
            for (k = 0; k < m; k++)
                nb += utf8_enc(s[i + k], rawbuf + nb);
            bpe(E, rawbuf, (uint32_t)nb);
        }
        i += m;
    }
}

/* One piece of the text between special tokens: BasicTokenizer, then the pattern and BPE. */
static void piece(enc *E, const uint8_t *s, uint64_t n, uint8_t *rawbuf)
{
    uint32_t *A = E->A, *B = E->B;
    uint64_t na = 0, nb = 0, i, o, sp;
    unsigned k, lastcc = 0;
    /* 1. decode; _clean_text (drop NUL, U+FFFD, C*; whitespace -> ' '); CJK gets spaces */
    for (i = 0; i < n; i += k) {
        uint32_t cp;
        unsigned f;
        k = utf8_dec(s + i, n - i, &cp);
        if (!k) { /* an ill-formed byte: U+FFFD in python, which _clean_text drops */
            k = 1;
            continue;
        }
        f = prop(cp);
        if (f & CU_DROP)
            continue;
        if (f & CU_WS) {
            A[na++] = ' ';
        } else if (f & CU_CJK) {
            A[na++] = ' ';
            A[na++] = cp;
            A[na++] = ' ';
        } else {
            A[na++] = cp;
        }
    }
    /* 2. NFC: canonical decomposition, canonical order, canonical composition */
    for (i = 0; i < na; i++) {
        uint32_t cp = A[i];
        long d;
        if (cp >= 0xAC00 && cp <= 0xD7A3) {
            uint32_t x = cp - 0xAC00;
            B[nb++] = 0x1100 + x / 588;
            B[nb++] = 0x1161 + (x % 588) / 28;
            if (x % 28)
                B[nb++] = 0x11A7 + x % 28;
        } else if (cp >= 0xC0 && (d = cp_find(cu_decomp_cp, N_OF(cu_decomp_cp), cp)) >= 0) {
            for (k = 0; k < 4 && cu_decomp_map[d][k]; k++)
                B[nb++] = cu_decomp_map[d][k];
        } else {
            B[nb++] = cp;
        }
    }
    for (i = 1; i < nb; i++) { /* stable insertion sort of each run of non-starters by class */
        uint32_t c = B[i];
        unsigned cc = ccc(c);
        uint64_t j = i;
        if (cc == 0)
            continue;
        while (j > 0) {
            unsigned pc = ccc(B[j - 1]);
            if (pc == 0 || pc <= cc)
                break;
            B[j] = B[j - 1];
            j--;
        }
        B[j] = c;
    }
    o = 0;
    sp = (uint64_t)-1; /* the last starter's position in the output */
    for (i = 0; i < nb; i++) {
        uint32_t c = B[i], comp;
        unsigned cc = ccc(c);
        if (sp != (uint64_t)-1 && (o == sp + 1 || (lastcc != 0 && lastcc < cc)) && (comp = compose(B[sp], c)) != 0) {
            B[sp] = comp;
            continue;
        }
        B[o++] = c;
        if (cc == 0)
            sp = o - 1;
        lastcc = cc;
    }
    nb = o;
    /* 3. whitespace split (str.split), str.lower() of each word, joined by single spaces */
    na = 0;
    for (i = 0; i < nb;) {
        uint64_t e, j;
        if (prop(B[i]) & CU_PYSPACE) {
            i++;
            continue;
        }
        for (e = i; e < nb && !(prop(B[e]) & CU_PYSPACE); e++) {
        }
        if (na)
            A[na++] = ' ';
        for (j = i; j < e; j++) {
            long d;
            if (B[j] == 0x3A3)
                A[na++] = sigma(B + i, e - i, j - i);
            else if ((d = cp_find(cu_lower_cp, N_OF(cu_lower_cp), B[j])) >= 0)
                for (k = 0; k < 3 && cu_lower_map[d][k]; k++)
                    A[na++] = cu_lower_map[d][k];
            else
                A[na++] = B[j];
        }
        i = e;
    }
    /* 4. the pattern, byte-level BPE, ids */
    regex_scan(E, A, na, rawbuf);
}

ggdm_status ggdm_clip_tok_encode(const ggdm_clip_tok *tok, const char *text, uint64_t text_len, void *work,
                                 uint64_t work_bytes, uint32_t max_len, int32_t *ids, uint64_t ids_cap, uint64_t *n)
{
    wplan W;
    enc E;
    uint8_t *w, *rawbuf;
    const uint8_t *s = (const uint8_t *)text;
    uint64_t i, start, total, k;
    if (n)
        *n = 0;
    if (!tok || !work || !ids || !n || (!text && text_len) || max_len == 1 || ids_cap < max_len)
        return GGDM_ERR_ARG;
    if (text_len > GGDM_CLIP_TOK_TEXT_MAX)
        return GGDM_ERR_UNSUPPORTED;
    wplan_of(text_len, &W);
    if (work_bytes < W.total)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    w = (uint8_t *)work;
    w += (16 - ((uintptr_t)w & 15u)) & 15u;
    E.t = tok;
    E.A = (uint32_t *)(void *)w;
    w += ALIGN_UP(4 * W.acap);
    E.B = (uint32_t *)(void *)w;
    w += ALIGN_UP(4 * W.bcap);
    E.conv = w;
    w += ALIGN_UP(2 * W.rcap);
    E.sym = (uint32_t *)(void *)w;
    w += ALIGN_UP(4 * (W.rcap + 1));
    E.rank = (int32_t *)(void *)w;
    w += ALIGN_UP(4 * W.rcap);
    E.changed = w;
    rawbuf = (uint8_t *)E.B; /* a pre-token's bytes: B is free once A holds the lower-cased text */
    E.max_len = max_len;
    E.ids = ids;
    E.ids_cap = ids_cap;
    E.count = 0;
    if (ids_cap > 0)
        ids[0] = tok->bos;
    /* PreTrainedTokenizer.tokenize: the added tokens (<|startoftext|>, <|endoftext|>) split the
     * text first; the pieces between are tokenized one by one */
    start = 0;
    for (i = 0; i <= text_len;) {
        int q = -1;
        uint64_t L = 0;
        if (i < text_len && s[i] == '<') {
            static const char *const spec[2] = {GGDM_CLIP_TOK_BOS, GGDM_CLIP_TOK_EOS};
            for (q = 0; q < 2; q++) {
                L = strlen(spec[q]);
                if (text_len - i >= L && memcmp(s + i, spec[q], L) == 0)
                    break;
            }
            if (q == 2)
                q = -1;
        }
        if (q < 0 && i < text_len) {
            i++;
            continue;
        }
        if (i > start)
            piece(&E, s + start, i - start, rawbuf);
        if (q < 0)
            break;
        emit(&E, q == 0 ? tok->bos : tok->eos);
        i += L;
        start = i;
    }
    if (max_len) {
        total = E.count < (uint64_t)max_len - 2 ? E.count + 2 : max_len;
        ids[total - 1] = tok->eos;
        for (k = total; k < max_len; k++)
            ids[k] = tok->eos;
        *n = total;
        return GGDM_OK;
    }
    total = E.count + 2;
    *n = total;
    if (total > ids_cap)
        return GGDM_ERR_BUFFER_TOO_SMALL;
    ids[total - 1] = tok->eos;
    return GGDM_OK;
}
