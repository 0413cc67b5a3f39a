/*
 * pth.c - PyTorch checkpoints (torch.save's zip format) without Python: a restricted,
 * validating reader (zip directory, a small pickle interpreter that executes nothing) and a
 * deterministic writer. See pth.h for the API and docs/formats.md ("PyTorch checkpoints")
 * for what is accepted and what is refused.
 *
 * Every size and offset read from the file is checked against the file's length with
 * overflow-safe arithmetic before use; the interpreter's memory is bounded by the limits in
 * pth.h; nothing recurses.
 */
#define _POSIX_C_SOURCE 200809L
#include "pth.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggdm/bytes.h"
#include "ggdm/npy.h"
#include "io.h"

typedef unsigned long long ull;
#define NIL 0xffffffffu

/* ================================================================== dtypes */

typedef struct dtype_info {
    const char *storage; /* torch.<storage> */
    const char *name;
    unsigned itemsize;
} dtype_info;

static const dtype_info dtypes[GGDM_PTH_NUM_DTYPES] = {
    {"FloatStorage", "float32", 4},
    {"DoubleStorage", "float64", 8},
    {"HalfStorage", "float16", 2},
    {"BFloat16Storage", "bfloat16", 2},
    {"ComplexFloatStorage", "complex64", 8},
    {"ComplexDoubleStorage", "complex128", 16},
    {"LongStorage", "int64", 8},
    {"IntStorage", "int32", 4},
    {"ShortStorage", "int16", 2},
    {"CharStorage", "int8", 1},
    {"ByteStorage", "uint8", 1},
    {"BoolStorage", "bool", 1},
    {"QInt8Storage", "qint8", 1},
    {"QUInt8Storage", "quint8", 1},
    {"QInt32Storage", "qint32", 4},
    {"QUInt4x2Storage", "quint4x2", 1},
    {"QUInt2x4Storage", "quint2x4", 1},
    {"UntypedStorage", "uint8 (untyped)", 1},
};

const char *ggdm_pth_dtype_name(int dtype)
{
    return dtype >= 0 && dtype < GGDM_PTH_NUM_DTYPES ? dtypes[dtype].name : NULL;
}

const char *ggdm_pth_storage_name(int dtype)
{
    return dtype >= 0 && dtype < GGDM_PTH_NUM_DTYPES ? dtypes[dtype].storage : NULL;
}

unsigned ggdm_pth_itemsize(int dtype)
{
    return dtype >= 0 && dtype < GGDM_PTH_NUM_DTYPES ? dtypes[dtype].itemsize : 0u;
}

/* ================================================================== helpers */

static ggdm_status fail(char *msg, size_t cap, ggdm_status st, const char *fmt, ...)
{
    va_list ap;
    if (msg && cap) {
        va_start(ap, fmt);
        vsnprintf(msg, cap, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* A printable copy of bytes for messages (io.h), cut to 60 characters. */
#define SHOWN 64
#define shown(out, s, n) ggdm_io_shown((out), SHOWN, (s), (n))

/* Strict UTF-8: no overlong forms, no surrogates, at most U+10FFFF. */
static int utf8_ok(const uint8_t *s, uint64_t n)
{
    uint64_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        uint32_t cp;
        int k, j;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07u;
        } else {
            return 0;
        }
        if (n - i - 1 < (uint64_t)k)
            return 0;
        for (j = 1; j <= k; j++) {
            if ((s[i + (uint64_t)j] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + (uint64_t)j] & 0x3fu);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += (uint64_t)k + 1;
    }
    return 1;
}

static char *dup_bytes(const uint8_t *s, uint64_t n)
{
    char *d = (char *)malloc((size_t)n + 1);
    if (!d)
        return NULL;
    if (n)
        memcpy(d, s, (size_t)n);
    d[n] = 0;
    return d;
}

/* Grows *p (elements of elem bytes) to hold need; 0 when out of memory. */
static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t nc;
    void *q;
    if (need <= *cap)
        return 1;
    nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > ((size_t)-1) / 2 / elem)
            return 0;
        nc *= 2;
    }
    q = realloc(*p, nc * elem);
    if (!q)
        return 0;
    *p = q;
    *cap = nc;
    return 1;
}

/* Heapsort of an index array with a context comparator (C99's qsort has no context). */
typedef int (*idx_cmp)(const void *ctx, size_t a, size_t b);

static void sift(size_t *a, size_t root, size_t n, idx_cmp cmp, const void *ctx)
{
    for (;;) {
        size_t c = 2 * root + 1, t;
        if (c >= n)
            return;
        if (c + 1 < n && cmp(ctx, a[c], a[c + 1]) < 0)
            c++;
        if (cmp(ctx, a[root], a[c]) >= 0)
            return;
        t = a[root];
        a[root] = a[c];
        a[c] = t;
        root = c;
    }
}

static void sort_idx(size_t *a, size_t n, idx_cmp cmp, const void *ctx)
{
    size_t i, t;
    if (n < 2)
        return;
    for (i = n / 2; i-- > 0;)
        sift(a, i, n, cmp, ctx);
    for (i = n - 1; i > 0; i--) {
        t = a[0];
        a[0] = a[i];
        a[i] = t;
        sift(a, 0, i, cmp, ctx);
    }
}

static int bytes_cmp(const uint8_t *a, uint64_t na, const uint8_t *b, uint64_t nb)
{
    uint64_t m = na < nb ? na : nb;
    int c = m ? memcmp(a, b, (size_t)m) : 0;
    if (c)
        return c;
    return na < nb ? -1 : na > nb ? 1 : 0;
}

/* ================================================================== the zip archive */

typedef struct zent {
    uint64_t name_off, name_len; /* full name, in the central directory */
    uint64_t hdr_off;            /* local header */
    uint64_t data_off, data_len;
    uint32_t crc;
    int crc_checked;
    int stor_dtype;              /* -1 until a storage uses the entry */
    uint64_t stor_numel;
} zent;

typedef struct zarch {
    const uint8_t *f;
    uint64_t len;
    zent *e;
    size_t n;
    size_t *by_name; /* entry indices sorted by name */
    uint64_t plen;   /* length of "ARCHIVE/" */
} zarch;

static int cmp_hdr(const void *ctx, size_t a, size_t b)
{
    const zent *e = (const zent *)ctx;
    return e[a].hdr_off < e[b].hdr_off ? -1 : e[a].hdr_off > e[b].hdr_off ? 1 : 0;
}

static int cmp_name(const void *ctx, size_t a, size_t b)
{
    const zarch *z = (const zarch *)ctx;
    return bytes_cmp(z->f + z->e[a].name_off, z->e[a].name_len, z->f + z->e[b].name_off, z->e[b].name_len);
}

/* The entry ARCHIVE/rel, or -1. */
static long zip_find(const zarch *z, const char *rel, size_t rlen)
{
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const zent *e = &z->e[z->by_name[mid]];
        int c = bytes_cmp(z->f + e->name_off + z->plen, e->name_len - z->plen, (const uint8_t *)rel, rlen);
        if (c == 0)
            return (long)z->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static ggdm_status zip_crc(zarch *z, size_t i, char *msg, size_t cap)
{
    zent *e = &z->e[i];
    char nm[SHOWN];
    if (e->crc_checked)
        return GGDM_OK;
    if (ggdm_crc32(0, z->f + e->data_off, e->data_len) != e->crc)
        return fail(msg, cap, GGDM_ERR_FORMAT, "pth: zip entry '%s' fails its CRC-32 check (corrupted)",
                    shown(nm, z->f + e->name_off, e->name_len));
    e->crc_checked = 1;
    return GGDM_OK;
}

static void zip_free(zarch *z)
{
    free(z->e);
    free(z->by_name);
    z->e = NULL;
    z->by_name = NULL;
}

/* The local header offset of the central directory entry at cpos (already validated by
 * ggdm_npz_iter_next), with its ZIP64 override applied the way the iterator applies it. */
static uint64_t central_lho(const uint8_t *f, uint64_t cpos)
{
    const uint8_t *c = f + cpos;
    uint64_t nlen = ggdm_le_load_u16(c + 28), elen = ggdm_le_load_u16(c + 30);
    uint64_t csize = ggdm_le_load_u32(c + 20), usize = ggdm_le_load_u32(c + 24), lho = ggdm_le_load_u32(c + 42);
    uint64_t e = cpos + 46u + nlen, end = e + elen;
    while (end - e >= 4u) {
        uint16_t id = ggdm_le_load_u16(f + e);
        uint64_t sz = ggdm_le_load_u16(f + e + 2), q = e + 4u, qe;
        if (sz > end - e - 4u)
            break;
        qe = q + sz;
        if (id == 1u) {
            if (usize == 0xffffffffu) {
                if (qe - q < 8u)
                    break;
                usize = ggdm_le_load_u64(f + q);
                q += 8u;
            }
            if (csize == 0xffffffffu) {
                if (qe - q < 8u)
                    break;
                csize = ggdm_le_load_u64(f + q);
                q += 8u;
            }
            if (lho == 0xffffffffu) {
                if (qe - q < 8u)
                    break;
                lho = ggdm_le_load_u64(f + q);
            }
        }
        e += 4u + sz;
    }
    return lho;
}

static ggdm_status zip_open(zarch *z, const uint8_t *f, uint64_t len, char *msg, size_t cap)
{
    ggdm_npz_iter it;
    ggdm_npz_member m;
    char zmsg[GGDM_NPY_MSG_LEN], nm[SHOWN], nm2[SHOWN];
    size_t i, *order = NULL;
    int has = 1;
    ggdm_status st;
    const uint8_t *first;
    uint64_t k;
    memset(z, 0, sizeof *z);
    z->f = f;
    z->len = len;
    st = ggdm_npz_iter_init(f, len, &it, zmsg);
    if (st != GGDM_OK)
        return fail(msg, cap, st, "pth: zip: %s", strncmp(zmsg, "npz: ", 5) == 0 ? zmsg + 5 : zmsg);
    if (it.entries == 0)
        return fail(msg, cap, GGDM_ERR_FORMAT, "pth: the zip archive is empty");
    if (it.entries > GGDM_PTH_MAX_ENTRIES)
        return fail(msg, cap, GGDM_ERR_UNSUPPORTED, "pth: %llu zip entries (more than %u)", (ull)it.entries,
                    GGDM_PTH_MAX_ENTRIES);
    z->e = (zent *)calloc((size_t)it.entries, sizeof *z->e);
    z->by_name = (size_t *)calloc((size_t)it.entries, sizeof *z->by_name);
    order = (size_t *)calloc((size_t)it.entries, sizeof *order);
    if (!z->e || !z->by_name || !order) {
        free(order);
        return fail(msg, cap, GGDM_ERR_IO, "pth: out of memory for %llu zip entries", (ull)it.entries);
    }
    for (;;) {
        zent *e;
        uint64_t cpos = it.pos; /* the central directory entry the iterator validates next */
        st = ggdm_npz_iter_next(f, len, &it, &m, &has, zmsg);
        if (st != GGDM_OK) {
            free(order);
            return fail(msg, cap, st, "pth: zip: %s", strncmp(zmsg, "npz: ", 5) == 0 ? zmsg + 5 : zmsg);
        }
        if (!has)
            break;
        shown(nm, f + m.name_offset, m.name_len);
        if (m.flags & 1u) {
            free(order);
            return fail(msg, cap, GGDM_ERR_UNSUPPORTED, "pth: zip entry '%s' is encrypted", nm);
        }
        if (m.method != 0) {
            free(order);
            return fail(msg, cap, GGDM_ERR_UNSUPPORTED,
                        "pth: zip entry '%s' is compressed (method %u%s); torch.save stores its entries "
                        "uncompressed: load and save it again with torch.save",
                        nm, (unsigned)m.method, m.method == 8 ? ", deflate" : "");
        }
        if (memchr(f + m.name_offset, 0, (size_t)m.name_len)) {
            free(order);
            return fail(msg, cap, GGDM_ERR_FORMAT, "pth: zip entry name '%s' holds a NUL byte", nm);
        }
        e = &z->e[z->n];
        e->name_off = m.name_offset;
        e->name_len = m.name_len;
        e->hdr_off = central_lho(f, cpos);
        e->data_off = m.data_offset;
        e->data_len = m.data_len;
        e->crc = m.crc32;
        e->stor_dtype = -1;
        if (e->hdr_off > e->data_off || e->data_off - e->hdr_off < 30u + m.name_len) {
            free(order);
            return fail(msg, cap, GGDM_ERR_FORMAT, "pth: zip entry '%s': its local header and data disagree", nm);
        }
        z->n++;
    }
    /* no two entries overlap: sorted by local header, each ends before the next begins */
    for (i = 0; i < z->n; i++)
        order[i] = i;
    sort_idx(order, z->n, cmp_hdr, z->e);
    for (i = 0; i + 1 < z->n; i++) {
        const zent *a = &z->e[order[i]], *b = &z->e[order[i + 1]];
        if (a->data_off + a->data_len > b->hdr_off) {
            ggdm_status r = fail(msg, cap, GGDM_ERR_FORMAT, "pth: zip entries '%s' and '%s' overlap (bytes %llu..%llu "
                                 "and %llu..)",
                                 shown(nm, f + a->name_off, a->name_len), shown(nm2, f + b->name_off, b->name_len),
                                 (ull)a->hdr_off, (ull)(a->data_off + a->data_len), (ull)b->hdr_off);
            free(order);
            return r;
        }
    }
    free(order);
    /* one top folder: the first entry's name up to its first '/' */
    first = f + z->e[0].name_off;
    for (k = 0; k < z->e[0].name_len && first[k] != '/'; k++)
        ;
    if (k == 0 || k == z->e[0].name_len)
        return fail(msg, cap, GGDM_ERR_FORMAT, "pth: zip entry '%s' is not inside a folder (torch.save puts "
                    "every entry under ARCHIVE/)",
                    shown(nm, first, z->e[0].name_len));
    z->plen = k + 1;
    for (i = 0; i < z->n; i++) {
        const zent *e = &z->e[i];
        if (e->name_len < z->plen || memcmp(f + e->name_off, first, (size_t)z->plen) != 0)
            return fail(msg, cap, GGDM_ERR_FORMAT, "pth: zip entry '%s' is outside the archive's folder '%s'",
                        shown(nm, f + e->name_off, e->name_len), shown(nm2, first, z->plen));
        z->by_name[i] = i;
    }
    sort_idx(z->by_name, z->n, cmp_name, z);
    for (i = 0; i + 1 < z->n; i++)
        if (cmp_name(z, z->by_name[i], z->by_name[i + 1]) == 0) {
            const zent *e = &z->e[z->by_name[i]];
            return fail(msg, cap, GGDM_ERR_FORMAT, "pth: two zip entries are named '%s'",
                        shown(nm, f + e->name_off, e->name_len));
        }
    return GGDM_OK;
}

/* ================================================================== the pickle interpreter */

enum { K_NONE, K_BOOL, K_INT, K_FLOAT, K_STR, K_BYTES, K_TUPLE, K_LIST, K_DICT, K_GLOBAL, K_STORAGE, K_TENSOR };

static const char *const kind_names[] = {"None",   "bool", "int",    "float",  "str",     "bytes",
                                         "tuple",  "list", "dict",   "global", "storage", "tensor"};

enum { G_ODICT = 0, G_REBUILD_TENSOR = 1, G_REBUILD_PARAM = 2, G_STORAGE = 16 };

typedef struct pobj {
    uint8_t kind;
    uint8_t ordered; /* K_DICT made by collections.OrderedDict */
    uint8_t depth;
    uint32_t a, b, c; /* TUPLE: first item, count; LIST/DICT: head, tail, count; GLOBAL: id; STORAGE/TENSOR: index */
    int64_t i;        /* BOOL, INT */
    double f;         /* FLOAT */
    uint64_t off, len; /* STR, BYTES: bytes of the pickle */
} pobj;

typedef struct pnode {
    uint32_t k, v, next;
} pnode;

typedef struct pstor {
    int dtype;
    uint64_t key_off, key_len, numel;
} pstor;

typedef struct pten {
    uint32_t storage; /* index into stor */
    uint64_t offset;
    int ndim;
    uint64_t shape[GGDM_PTH_MAX_DIMS], stride[GGDM_PTH_MAX_DIMS];
    int requires_grad, parameter;
} pten;

typedef struct pk {
    const uint8_t *p;
    uint64_t n, pos, op_pos;
    int op;
    pobj *obj;
    size_t nobj, capobj;
    uint32_t *stack;
    size_t nstack, capstack;
    size_t marks[GGDM_PTH_MAX_MARKS];
    int nmarks;
    uint32_t *memo;
    size_t capmemo, nmemo;
    uint32_t *items;
    size_t nitems, capitems;
    pnode *nodes;
    size_t nnodes, capnodes;
    pstor *stor;
    size_t nstor, capstor;
    pten *ten;
    size_t nten, capten;
    ggdm_status st;
    char *msg;
    size_t cap;
} pk;

/* Every pickle opcode (protocols 0 to 5) by name, for messages. */
static const struct opname {
    int op;
    const char *name;
} op_names[] = {
    {'(', "MARK"}, {'.', "STOP"}, {'0', "POP"}, {'1', "POP_MARK"}, {'2', "DUP"}, {'F', "FLOAT"}, {'I', "INT"},
    {'J', "BININT"}, {'K', "BININT1"}, {'L', "LONG"}, {'M', "BININT2"}, {'N', "NONE"}, {'P', "PERSID"},
    {'Q', "BINPERSID"}, {'R', "REDUCE"}, {'S', "STRING"}, {'T', "BINSTRING"}, {'U', "SHORT_BINSTRING"},
    {'V', "UNICODE"}, {'X', "BINUNICODE"}, {'a', "APPEND"}, {'b', "BUILD"}, {'c', "GLOBAL"}, {'d', "DICT"},
    {'}', "EMPTY_DICT"}, {'e', "APPENDS"}, {'g', "GET"}, {'h', "BINGET"}, {'i', "INST"}, {'j', "LONG_BINGET"},
    {'l', "LIST"}, {']', "EMPTY_LIST"}, {'o', "OBJ"}, {'p', "PUT"}, {'q', "BINPUT"}, {'r', "LONG_BINPUT"},
    {'s', "SETITEM"}, {'t', "TUPLE"}, {')', "EMPTY_TUPLE"}, {'u', "SETITEMS"}, {'G', "BINFLOAT"}, {'B', "BINBYTES"},
    {'C', "SHORT_BINBYTES"}, {0x80, "PROTO"}, {0x81, "NEWOBJ"}, {0x82, "EXT1"}, {0x83, "EXT2"}, {0x84, "EXT4"},
    {0x85, "TUPLE1"}, {0x86, "TUPLE2"}, {0x87, "TUPLE3"}, {0x88, "NEWTRUE"}, {0x89, "NEWFALSE"}, {0x8a, "LONG1"},
    {0x8b, "LONG4"}, {0x8c, "SHORT_BINUNICODE"}, {0x8d, "BINUNICODE8"}, {0x8e, "BINBYTES8"}, {0x8f, "EMPTY_SET"},
    {0x90, "ADDITEMS"}, {0x91, "FROZENSET"}, {0x92, "NEWOBJ_EX"}, {0x93, "STACK_GLOBAL"}, {0x94, "MEMOIZE"},
    {0x95, "FRAME"}, {0x96, "BYTEARRAY8"}, {0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"},
};

static const char *op_name(int op)
{
    size_t i;
    for (i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
        if (op_names[i].op == op)
            return op_names[i].name;
    return NULL;
}

/* Records the first error: "pth: data.pkl byte N (OPCODE): ...". Returns 0. */
static int perr(pk *k, ggdm_status st, const char *fmt, ...)
{
    va_list ap;
    int used;
    const char *nm = op_name(k->op);
    if (k->st != GGDM_OK)
        return 0;
    k->st = st;
    if (!k->msg || !k->cap)
        return 0;
    used = snprintf(k->msg, k->cap, "pth: data.pkl byte %llu (%s): ", (ull)k->op_pos, nm ? nm : "?");
    if (used < 0 || (size_t)used >= k->cap)
        return 0;
    va_start(ap, fmt);
    vsnprintf(k->msg + used, k->cap - (size_t)used, fmt, ap);
    va_end(ap);
    return 0;
}

static int oom(pk *k)
{
    return perr(k, GGDM_ERR_IO, "out of memory");
}

static int need(pk *k, uint64_t bytes)
{
    if (k->n - k->pos < bytes)
        return perr(k, GGDM_ERR_FORMAT, "truncated: %llu argument bytes needed, %llu left", (ull)bytes,
                    (ull)(k->n - k->pos));
    return 1;
}

static uint32_t new_obj(pk *k, int kind)
{
    pobj *o;
    if (k->nobj >= GGDM_PTH_MAX_OBJECTS) {
        perr(k, GGDM_ERR_UNSUPPORTED, "more than %u objects", GGDM_PTH_MAX_OBJECTS);
        return NIL;
    }
    if (!grow((void **)&k->obj, &k->capobj, k->nobj + 1, sizeof *k->obj)) {
        oom(k);
        return NIL;
    }
    o = &k->obj[k->nobj];
    memset(o, 0, sizeof *o);
    o->kind = (uint8_t)kind;
    o->a = o->b = NIL;
    return (uint32_t)k->nobj++;
}

static size_t avail(const pk *k)
{
    return k->nstack - (k->nmarks ? k->marks[k->nmarks - 1] : 0);
}

static int push(pk *k, uint32_t o)
{
    if (o == NIL)
        return 0;
    if (k->nstack >= GGDM_PTH_MAX_STACK)
        return perr(k, GGDM_ERR_UNSUPPORTED, "more than %u values on the stack", GGDM_PTH_MAX_STACK);
    if (!grow((void **)&k->stack, &k->capstack, k->nstack + 1, sizeof *k->stack))
        return oom(k);
    k->stack[k->nstack++] = o;
    return 1;
}

/* Pops n values (n <= avail) into out[0..n) in stack order. */
static int popn(pk *k, size_t n, uint32_t *out)
{
    size_t i;
    if (avail(k) < n)
        return perr(k, GGDM_ERR_FORMAT, "stack underflow (%zu values needed, %zu there)", n, avail(k));
    for (i = 0; i < n; i++)
        out[i] = k->stack[k->nstack - n + i];
    k->nstack -= n;
    return 1;
}

/* Pops to the last MARK: *start = index of the first value above it; the values stay in
 * k->stack[*start .. *end) until the next push. */
static int pop_mark(pk *k, size_t *start, size_t *end)
{
    if (k->nmarks == 0)
        return perr(k, GGDM_ERR_FORMAT, "no MARK to pop to");
    *start = k->marks[--k->nmarks];
    *end = k->nstack;
    k->nstack = *start;
    return 1;
}

static int add_depth(pk *k, uint32_t parent, uint32_t child)
{
    unsigned d = (unsigned)k->obj[child].depth + 1u;
    if (d > GGDM_PTH_MAX_DEPTH)
        return perr(k, GGDM_ERR_UNSUPPORTED, "containers nested deeper than %d", GGDM_PTH_MAX_DEPTH);
    if (d > k->obj[parent].depth)
        k->obj[parent].depth = (uint8_t)d;
    return 1;
}

static int room_items(pk *k, size_t more)
{
    if (k->nitems + k->nnodes + more > GGDM_PTH_MAX_ITEMS)
        return perr(k, GGDM_ERR_UNSUPPORTED, "more than %u container items", GGDM_PTH_MAX_ITEMS);
    return 1;
}

/* A tuple of the values src[0..n) (which may point into k->stack). */
static uint32_t make_tuple(pk *k, const uint32_t *src, size_t n)
{
    uint32_t t;
    size_t i;
    if (!room_items(k, n))
        return NIL;
    if (!grow((void **)&k->items, &k->capitems, k->nitems + n + 1, sizeof *k->items)) {
        oom(k);
        return NIL;
    }
    if (n)
        memmove(k->items + k->nitems, src, n * sizeof *src); /* src may be the stack, never the items */
    t = new_obj(k, K_TUPLE);
    if (t == NIL)
        return NIL;
    k->obj[t].a = (uint32_t)k->nitems;
    k->obj[t].b = (uint32_t)n;
    for (i = 0; i < n; i++)
        if (!add_depth(k, t, k->items[k->nitems + i]))
            return NIL;
    k->nitems += n;
    return t;
}

static int node_add(pk *k, uint32_t c, uint32_t key, uint32_t val)
{
    pobj *o;
    pnode *nd;
    if (!room_items(k, 1))
        return 0;
    if (!grow((void **)&k->nodes, &k->capnodes, k->nnodes + 1, sizeof *k->nodes))
        return oom(k);
    nd = &k->nodes[k->nnodes];
    nd->k = key;
    nd->v = val;
    nd->next = NIL;
    o = &k->obj[c];
    if (o->a == NIL)
        o->a = (uint32_t)k->nnodes;
    else
        k->nodes[o->b].next = (uint32_t)k->nnodes;
    o->b = (uint32_t)k->nnodes;
    o->c++;
    k->nnodes++;
    if (key != NIL && !add_depth(k, c, key))
        return 0;
    return add_depth(k, c, val);
}

static int set_item(pk *k, uint32_t d, uint32_t key, uint32_t val)
{
    int kk = k->obj[key].kind;
    if (kk == K_LIST || kk == K_DICT)
        return perr(k, GGDM_ERR_FORMAT, "a %s cannot be a dict key (unhashable)", kind_names[kk]);
    return node_add(k, d, key, val);
}

static uint32_t tuple_item(const pk *k, uint32_t t, uint32_t i)
{
    return k->items[k->obj[t].a + i];
}

static int is_str(const pk *k, uint32_t o, const char *s)
{
    size_t n = strlen(s);
    return k->obj[o].kind == K_STR && k->obj[o].len == n && memcmp(k->p + k->obj[o].off, s, n) == 0;
}

static int line(pk *k, uint64_t *off, uint64_t *len)
{
    const uint8_t *nl;
    uint64_t left = k->n - k->pos, lim = left < 256 ? left : 256;
    nl = (const uint8_t *)memchr(k->p + k->pos, '\n', (size_t)lim);
    if (!nl)
        return perr(k, GGDM_ERR_FORMAT, "a module or name line of GLOBAL is unterminated or longer than 255 bytes");
    *off = k->pos;
    *len = (uint64_t)(nl - (k->p + k->pos));
    k->pos += *len + 1;
    return 1;
}

static int bytes_eq(const uint8_t *p, uint64_t n, const char *s)
{
    size_t m = strlen(s);
    return n == m && memcmp(p, s, m) == 0;
}

/* The allowed global module.name, or a refusal naming it. */
static uint32_t global(pk *k, uint64_t moff, uint64_t mlen, uint64_t noff, uint64_t nlen)
{
    const uint8_t *m = k->p + moff, *n = k->p + noff;
    int id = -1, d;
    uint32_t o;
    char a[SHOWN], b[SHOWN];
    if (bytes_eq(m, mlen, "collections") && bytes_eq(n, nlen, "OrderedDict"))
        id = G_ODICT;
    else if (bytes_eq(m, mlen, "torch._utils") && bytes_eq(n, nlen, "_rebuild_tensor_v2"))
        id = G_REBUILD_TENSOR;
    else if (bytes_eq(m, mlen, "torch._utils") && bytes_eq(n, nlen, "_rebuild_parameter"))
        id = G_REBUILD_PARAM;
    else if (bytes_eq(m, mlen, "torch"))
        for (d = 0; d < GGDM_PTH_NUM_DTYPES; d++)
            if (bytes_eq(n, nlen, dtypes[d].storage))
                id = G_STORAGE + d;
    if (id < 0) {
        perr(k, GGDM_ERR_UNSUPPORTED,
             "global '%s.%s' is refused: a checkpoint may name only collections.OrderedDict, "
             "torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and torch.*Storage "
             "(ggdm never executes a pickle)",
             shown(a, m, mlen), shown(b, n, nlen));
        return NIL;
    }
    o = new_obj(k, K_GLOBAL);
    if (o != NIL)
        k->obj[o].c = (uint32_t)id;
    return o;
}

static const char *global_name(uint32_t id, char *buf, size_t cap)
{
    if (id == G_ODICT)
        return "collections.OrderedDict";
    if (id == G_REBUILD_TENSOR)
        return "torch._utils._rebuild_tensor_v2";
    if (id == G_REBUILD_PARAM)
        return "torch._utils._rebuild_parameter";
    snprintf(buf, cap, "torch.%s", dtypes[id - G_STORAGE].storage);
    return buf;
}

/* An int (INT, or BOOL as Python's bool is an int) in [lo, hi]; else an error naming what. */
static int get_int(pk *k, uint32_t o, int64_t lo, int64_t hi, const char *what, int64_t *v)
{
    if (k->obj[o].kind != K_INT)
        return perr(k, GGDM_ERR_FORMAT, "%s is a %s, not an int", what, kind_names[k->obj[o].kind]);
    if (k->obj[o].i < lo || k->obj[o].i > hi)
        return perr(k, GGDM_ERR_FORMAT, "%s = %lld is out of range", what, (long long)k->obj[o].i);
    *v = k->obj[o].i;
    return 1;
}

static int empty_dict(pk *k, uint32_t o, const char *what)
{
    if (k->obj[o].kind != K_DICT)
        return perr(k, GGDM_ERR_FORMAT, "%s is a %s, not a dict", what, kind_names[k->obj[o].kind]);
    if (k->obj[o].c != 0)
        return perr(k, GGDM_ERR_UNSUPPORTED, "%s is not empty (%u entries)", what, k->obj[o].c);
    return 1;
}

/* torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
 * backward_hooks[, metadata]) */
static uint32_t rebuild_tensor(pk *k, uint32_t args)
{
    uint32_t n = k->obj[args].b, s, sz, sd, o;
    pten t;
    int64_t v = 0;
    uint32_t d;
    memset(&t, 0, sizeof t);
    if (n != 6 && n != 7) {
        perr(k, GGDM_ERR_FORMAT, "_rebuild_tensor_v2 takes 6 or 7 arguments, not %u", n);
        return NIL;
    }
    s = tuple_item(k, args, 0);
    if (k->obj[s].kind != K_STORAGE) {
        perr(k, GGDM_ERR_FORMAT, "_rebuild_tensor_v2: the storage is a %s (not a persistent storage)",
             kind_names[k->obj[s].kind]);
        return NIL;
    }
    t.storage = k->obj[s].c;
    if (!get_int(k, tuple_item(k, args, 1), 0, INT64_MAX, "the storage offset", &v))
        return NIL;
    t.offset = (uint64_t)v;
    sz = tuple_item(k, args, 2);
    sd = tuple_item(k, args, 3);
    if (k->obj[sz].kind != K_TUPLE || k->obj[sd].kind != K_TUPLE) {
        perr(k, GGDM_ERR_FORMAT, "_rebuild_tensor_v2: size and stride must be tuples, not %s and %s",
             kind_names[k->obj[sz].kind], kind_names[k->obj[sd].kind]);
        return NIL;
    }
    if (k->obj[sz].b > GGDM_PTH_MAX_DIMS) {
        perr(k, GGDM_ERR_UNSUPPORTED, "a tensor of %u dimensions (at most %d)", k->obj[sz].b, GGDM_PTH_MAX_DIMS);
        return NIL;
    }
    if (k->obj[sd].b != k->obj[sz].b) {
        perr(k, GGDM_ERR_FORMAT, "a tensor of %u dimensions has %u strides", k->obj[sz].b, k->obj[sd].b);
        return NIL;
    }
    t.ndim = (int)k->obj[sz].b;
    for (d = 0; d < (uint32_t)t.ndim; d++) {
        if (!get_int(k, tuple_item(k, sz, d), 0, INT64_MAX, "a dimension", &v))
            return NIL;
        t.shape[d] = (uint64_t)v;
        if (!get_int(k, tuple_item(k, sd, d), 0, INT64_MAX, "a stride", &v))
            return NIL;
        t.stride[d] = (uint64_t)v;
    }
    o = tuple_item(k, args, 4);
    if (k->obj[o].kind != K_BOOL) {
        perr(k, GGDM_ERR_FORMAT, "requires_grad is a %s, not a bool", kind_names[k->obj[o].kind]);
        return NIL;
    }
    t.requires_grad = (int)k->obj[o].i;
    if (!empty_dict(k, tuple_item(k, args, 5), "the tensor's backward_hooks"))
        return NIL;
    if (n == 7 && !empty_dict(k, tuple_item(k, args, 6), "the tensor's metadata"))
        return NIL;
    if (!grow((void **)&k->ten, &k->capten, k->nten + 1, sizeof *k->ten)) {
        oom(k);
        return NIL;
    }
    o = new_obj(k, K_TENSOR);
    if (o == NIL)
        return NIL;
    k->ten[k->nten] = t;
    k->obj[o].c = (uint32_t)k->nten++;
    k->obj[o].depth = 1;
    return o;
}

static int op_reduce(pk *k)
{
    uint32_t v[2] = {0, 0}, f, args, r = NIL;
    char buf[64];
    if (!popn(k, 2, v))
        return 0;
    f = v[0];
    args = v[1];
    if (k->obj[f].kind != K_GLOBAL)
        return perr(k, GGDM_ERR_UNSUPPORTED, "REDUCE calls a %s: only the allowed globals are callable",
                    kind_names[k->obj[f].kind]);
    if (k->obj[args].kind != K_TUPLE)
        return perr(k, GGDM_ERR_FORMAT, "the arguments of %s are a %s, not a tuple",
                    global_name(k->obj[f].c, buf, sizeof buf), kind_names[k->obj[args].kind]);
    switch (k->obj[f].c) {
    case G_ODICT:
        if (k->obj[args].b != 0)
            return perr(k, GGDM_ERR_UNSUPPORTED, "collections.OrderedDict called with %u arguments (torch.save "
                        "passes none)", k->obj[args].b);
        r = new_obj(k, K_DICT);
        if (r != NIL)
            k->obj[r].ordered = 1;
        break;
    case G_REBUILD_TENSOR:
        r = rebuild_tensor(k, args);
        break;
    case G_REBUILD_PARAM: { /* _rebuild_parameter(data, requires_grad, backward_hooks) */
        uint32_t t, g;
        if (k->obj[args].b != 3)
            return perr(k, GGDM_ERR_FORMAT, "_rebuild_parameter takes 3 arguments, not %u", k->obj[args].b);
        t = tuple_item(k, args, 0);
        g = tuple_item(k, args, 1);
        if (k->obj[t].kind != K_TENSOR)
            return perr(k, GGDM_ERR_FORMAT, "_rebuild_parameter of a %s, not a tensor", kind_names[k->obj[t].kind]);
        if (k->obj[g].kind != K_BOOL)
            return perr(k, GGDM_ERR_FORMAT, "requires_grad is a %s, not a bool", kind_names[k->obj[g].kind]);
        if (!empty_dict(k, tuple_item(k, args, 2), "the parameter's backward_hooks"))
            return 0;
        k->ten[k->obj[t].c].parameter = 1;
        k->ten[k->obj[t].c].requires_grad = (int)k->obj[g].i;
        r = t;
        break;
    }
    default:
        return perr(k, GGDM_ERR_UNSUPPORTED, "REDUCE calls %s: a storage comes only from persistent_load",
                    global_name(k->obj[f].c, buf, sizeof buf));
    }
    return push(k, r);
}

/* BINPERSID: ('storage', torch.<T>Storage, key, location, numel) */
static int op_persid(pk *k)
{
    uint32_t pid = 0, o, n, ty, key, loc;
    int64_t numel = 0;
    uint64_t i;
    if (!popn(k, 1, &pid))
        return 0;
    if (k->obj[pid].kind != K_TUPLE || k->obj[pid].b != 5 || !is_str(k, tuple_item(k, pid, 0), "storage"))
        return perr(k, GGDM_ERR_FORMAT, "a persistent id must be ('storage', type, key, location, numel)");
    ty = tuple_item(k, pid, 1);
    key = tuple_item(k, pid, 2);
    loc = tuple_item(k, pid, 3);
    n = tuple_item(k, pid, 4);
    if (k->obj[ty].kind != K_GLOBAL || k->obj[ty].c < G_STORAGE)
        return perr(k, GGDM_ERR_FORMAT, "the storage type is a %s, not a torch.*Storage class",
                    kind_names[k->obj[ty].kind]);
    if (k->obj[key].kind != K_STR || k->obj[key].len == 0 || k->obj[key].len > 64)
        return perr(k, GGDM_ERR_FORMAT, "the storage key must be a string of 1 to 64 characters");
    for (i = 0; i < k->obj[key].len; i++) {
        uint8_t c = k->p[k->obj[key].off + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-' ||
              c == '.'))
            return perr(k, GGDM_ERR_FORMAT, "the storage key holds the byte 0x%02x (only letters, digits, '_', "
                        "'-' and '.')", c);
    }
    if (k->obj[loc].kind != K_STR || k->obj[loc].len == 0 || k->obj[loc].len > 64)
        return perr(k, GGDM_ERR_FORMAT, "the storage location must be a string like 'cpu'");
    if (!get_int(k, n, 0, INT64_MAX, "the storage's numel", &numel))
        return 0;
    if (!grow((void **)&k->stor, &k->capstor, k->nstor + 1, sizeof *k->stor))
        return oom(k);
    o = new_obj(k, K_STORAGE);
    if (o == NIL)
        return 0;
    k->stor[k->nstor].dtype = (int)(k->obj[ty].c - G_STORAGE);
    k->stor[k->nstor].key_off = k->obj[key].off;
    k->stor[k->nstor].key_len = k->obj[key].len;
    k->stor[k->nstor].numel = (uint64_t)numel;
    k->obj[o].c = (uint32_t)k->nstor++;
    return push(k, o);
}

static int op_string(pk *k, int kind, uint64_t len)
{
    uint32_t o;
    if (len > GGDM_PTH_MAX_STR)
        return perr(k, GGDM_ERR_UNSUPPORTED, "a %s of %llu bytes (at most %u)", kind == K_STR ? "string" : "bytes",
                    (ull)len, GGDM_PTH_MAX_STR);
    if (!need(k, len))
        return 0;
    if (kind == K_STR && !utf8_ok(k->p + k->pos, len))
        return perr(k, GGDM_ERR_FORMAT, "a string is not valid UTF-8");
    o = new_obj(k, kind);
    if (o == NIL)
        return 0;
    k->obj[o].off = k->pos;
    k->obj[o].len = len;
    k->pos += len;
    return push(k, o);
}

static int op_int(pk *k, int64_t v)
{
    uint32_t o = new_obj(k, K_INT);
    if (o == NIL)
        return 0;
    k->obj[o].i = v;
    return push(k, o);
}

static int memo_put(pk *k, uint64_t idx)
{
    if (avail(k) < 1)
        return perr(k, GGDM_ERR_FORMAT, "nothing on the stack to memoize");
    if (idx >= GGDM_PTH_MAX_MEMO)
        return perr(k, GGDM_ERR_UNSUPPORTED, "memo key %llu (at most %u)", (ull)idx, GGDM_PTH_MAX_MEMO - 1);
    if (idx >= k->capmemo) {
        size_t old = k->capmemo, i;
        if (!grow((void **)&k->memo, &k->capmemo, (size_t)idx + 1, sizeof *k->memo))
            return oom(k);
        for (i = old; i < k->capmemo; i++)
            k->memo[i] = NIL;
    }
    if (k->memo[idx] == NIL)
        k->nmemo++;
    k->memo[idx] = k->stack[k->nstack - 1];
    return 1;
}

static int memo_get(pk *k, uint64_t idx)
{
    if (idx >= k->capmemo || k->memo[idx] == NIL)
        return perr(k, GGDM_ERR_FORMAT, "memo key %llu was never set", (ull)idx);
    return push(k, k->memo[idx]);
}

/* Runs the pickle to STOP; *result = the object it returns. */
static ggdm_status interpret(pk *k, uint32_t *result)
{
    const uint8_t *p = k->p;
    while (k->st == GGDM_OK) {
        uint32_t v[3] = {0, 0, 0}, o;
        size_t s = 0, e = 0, i;
        uint64_t u;
        if (k->pos >= k->n) {
            k->op_pos = k->pos;
            k->op = -1;
            perr(k, GGDM_ERR_FORMAT, "the pickle ends without STOP");
            break;
        }
        k->op_pos = k->pos;
        k->op = p[k->pos++];
        if (k->op_pos == 0 && k->op != 0x80) {
            perr(k, GGDM_ERR_FORMAT, "the pickle does not start with PROTO (byte 0x%02x): not a torch.save pickle",
                 (unsigned)k->op);
            break;
        }
        switch (k->op) {
        case 0x80: /* PROTO */
            if (k->op_pos != 0) {
                perr(k, GGDM_ERR_FORMAT, "PROTO after the start");
                break;
            }
            if (need(k, 1) && (p[k->pos] < 2 || p[k->pos] > 5))
                perr(k, GGDM_ERR_UNSUPPORTED, "pickle protocol %u (2 to 5 are read)", (unsigned)p[k->pos]);
            k->pos++;
            break;
        case 0x95: /* FRAME: a length; the frame's opcodes follow */
            if (need(k, 8)) {
                u = ggdm_le_load_u64(p + k->pos);
                k->pos += 8;
                if (u > k->n - k->pos)
                    perr(k, GGDM_ERR_FORMAT, "a frame of %llu bytes runs past the end", (ull)u);
            }
            break;
        case '.': /* STOP */
            if (k->nmarks != 0 || k->nstack != 1) {
                perr(k, GGDM_ERR_FORMAT, "STOP with %zu values and %d MARKs on the stack (1 and 0 expected)",
                     k->nstack, k->nmarks);
                break;
            }
            if (k->pos != k->n) {
                perr(k, GGDM_ERR_FORMAT, "%llu bytes after STOP", (ull)(k->n - k->pos));
                break;
            }
            *result = k->stack[0];
            return GGDM_OK;
        case '(': /* MARK */
            if (k->nmarks >= GGDM_PTH_MAX_MARKS)
                perr(k, GGDM_ERR_UNSUPPORTED, "more than %d open MARKs", GGDM_PTH_MAX_MARKS);
            else
                k->marks[k->nmarks++] = k->nstack;
            break;
        case '}': /* EMPTY_DICT */
            push(k, new_obj(k, K_DICT));
            break;
        case ']': /* EMPTY_LIST */
            push(k, new_obj(k, K_LIST));
            break;
        case ')': /* EMPTY_TUPLE */
            push(k, make_tuple(k, NULL, 0));
            break;
        case 't': /* TUPLE */
            if (pop_mark(k, &s, &e))
                push(k, make_tuple(k, e > s ? k->stack + s : NULL, e - s)); /* the stack may be NULL yet */
            break;
        case 0x85: case 0x86: case 0x87: /* TUPLE1, TUPLE2, TUPLE3 */
            i = (size_t)(k->op - 0x84);
            if (popn(k, i, v))
                push(k, make_tuple(k, v, i));
            break;
        case 'a': /* APPEND */
            if (popn(k, 1, v)) {
                if (avail(k) < 1 || k->obj[k->stack[k->nstack - 1]].kind != K_LIST)
                    perr(k, GGDM_ERR_FORMAT, "APPEND to something that is not a list");
                else
                    node_add(k, k->stack[k->nstack - 1], NIL, v[0]);
            }
            break;
        case 'e': /* APPENDS */
            if (pop_mark(k, &s, &e)) {
                if (avail(k) < 1 || k->obj[k->stack[k->nstack - 1]].kind != K_LIST) {
                    perr(k, GGDM_ERR_FORMAT, "APPENDS to something that is not a list");
                    break;
                }
                o = k->stack[k->nstack - 1];
                for (i = s; i < e && k->st == GGDM_OK; i++)
                    node_add(k, o, NIL, k->stack[i]);
            }
            break;
        case 's': /* SETITEM */
            if (popn(k, 2, v)) {
                if (avail(k) < 1 || k->obj[k->stack[k->nstack - 1]].kind != K_DICT)
                    perr(k, GGDM_ERR_FORMAT, "SETITEM on something that is not a dict");
                else
                    set_item(k, k->stack[k->nstack - 1], v[0], v[1]);
            }
            break;
        case 'u': /* SETITEMS */
            if (pop_mark(k, &s, &e)) {
                if ((e - s) % 2 != 0) {
                    perr(k, GGDM_ERR_FORMAT, "SETITEMS with an odd number (%zu) of values", e - s);
                    break;
                }
                if (avail(k) < 1 || k->obj[k->stack[k->nstack - 1]].kind != K_DICT) {
                    perr(k, GGDM_ERR_FORMAT, "SETITEMS on something that is not a dict");
                    break;
                }
                o = k->stack[k->nstack - 1];
                for (i = s; i < e && k->st == GGDM_OK; i += 2)
                    set_item(k, o, k->stack[i], k->stack[i + 1]);
            }
            break;
        case 'q': /* BINPUT */
            if (need(k, 1))
                memo_put(k, p[k->pos++]);
            break;
        case 'r': /* LONG_BINPUT */
            if (need(k, 4)) {
                u = ggdm_le_load_u32(p + k->pos);
                k->pos += 4;
                memo_put(k, u);
            }
            break;
        case 0x94: /* MEMOIZE */
            memo_put(k, k->nmemo);
            break;
        case 'h': /* BINGET */
            if (need(k, 1))
                memo_get(k, p[k->pos++]);
            break;
        case 'j': /* LONG_BINGET */
            if (need(k, 4)) {
                u = ggdm_le_load_u32(p + k->pos);
                k->pos += 4;
                memo_get(k, u);
            }
            break;
        case 'J': /* BININT: signed 32 bits */
            if (need(k, 4)) {
                u = ggdm_le_load_u32(p + k->pos);
                k->pos += 4;
                op_int(k, u >= 0x80000000u ? (int64_t)u - (int64_t)0x100000000ll : (int64_t)u);
            }
            break;
        case 'K': /* BININT1 */
            if (need(k, 1))
                op_int(k, p[k->pos++]);
            break;
        case 'M': /* BININT2 */
            if (need(k, 2)) {
                op_int(k, ggdm_le_load_u16(p + k->pos));
                k->pos += 2;
            }
            break;
        case 0x8a: /* LONG1: n bytes, little-endian two's complement */
            if (need(k, 1)) {
                unsigned nb = p[k->pos++], j;
                uint64_t x = 0;
                if (nb > 8) {
                    perr(k, GGDM_ERR_UNSUPPORTED, "an integer of %u bytes (at most 8)", nb);
                    break;
                }
                if (!need(k, nb))
                    break;
                for (j = 0; j < nb; j++)
                    x |= (uint64_t)p[k->pos + j] << (8 * j);
                if (nb > 0 && nb < 8 && (p[k->pos + nb - 1] & 0x80))
                    x |= ~(uint64_t)0 << (8 * nb);
                k->pos += nb;
                op_int(k, x > (uint64_t)INT64_MAX ? -(int64_t)(~x) - 1 : (int64_t)x);
            }
            break;
        case 'G': /* BINFLOAT: big-endian double */
            if (need(k, 8)) {
                unsigned j;
                for (u = 0, j = 0; j < 8; j++)
                    u = (u << 8) | p[k->pos + j];
                k->pos += 8;
                o = new_obj(k, K_FLOAT);
                if (o != NIL) {
                    k->obj[o].f = ggdm_f64_from_bits(u);
                    push(k, o);
                }
            }
            break;
        case 'X': /* BINUNICODE */
            if (need(k, 4)) {
                u = ggdm_le_load_u32(p + k->pos);
                k->pos += 4;
                op_string(k, K_STR, u);
            }
            break;
        case 0x8c: /* SHORT_BINUNICODE */
            if (need(k, 1)) {
                u = p[k->pos++];
                op_string(k, K_STR, u);
            }
            break;
        case 0x8d: /* BINUNICODE8 */
            if (need(k, 8)) {
                u = ggdm_le_load_u64(p + k->pos);
                k->pos += 8;
                op_string(k, K_STR, u);
            }
            break;
        case 'C': /* SHORT_BINBYTES */
            if (need(k, 1)) {
                u = p[k->pos++];
                op_string(k, K_BYTES, u);
            }
            break;
        case 'B': /* BINBYTES */
            if (need(k, 4)) {
                u = ggdm_le_load_u32(p + k->pos);
                k->pos += 4;
                op_string(k, K_BYTES, u);
            }
            break;
        case 0x8e: /* BINBYTES8 */
            if (need(k, 8)) {
                u = ggdm_le_load_u64(p + k->pos);
                k->pos += 8;
                op_string(k, K_BYTES, u);
            }
            break;
        case 0x88: case 0x89: /* NEWTRUE, NEWFALSE */
            o = new_obj(k, K_BOOL);
            if (o != NIL) {
                k->obj[o].i = k->op == 0x88;
                push(k, o);
            }
            break;
        case 'N': /* NONE */
            push(k, new_obj(k, K_NONE));
            break;
        case 'c': { /* GLOBAL "module\nname\n" */
            uint64_t mo = 0, ml = 0, no = 0, nl = 0;
            if (line(k, &mo, &ml) && line(k, &no, &nl))
                push(k, global(k, mo, ml, no, nl));
            break;
        }
        case 0x93: /* STACK_GLOBAL: module, name on the stack */
            if (popn(k, 2, v)) {
                if (k->obj[v[0]].kind != K_STR || k->obj[v[1]].kind != K_STR)
                    perr(k, GGDM_ERR_FORMAT, "STACK_GLOBAL of a %s and a %s, not two strings",
                         kind_names[k->obj[v[0]].kind], kind_names[k->obj[v[1]].kind]);
                else
                    push(k, global(k, k->obj[v[0]].off, k->obj[v[0]].len, k->obj[v[1]].off, k->obj[v[1]].len));
            }
            break;
        case 'R': /* REDUCE */
            op_reduce(k);
            break;
        case 'b': /* BUILD: only an OrderedDict's state (torch's _metadata), which is ignored */
            if (popn(k, 1, v)) {
                if (avail(k) < 1) {
                    perr(k, GGDM_ERR_FORMAT, "BUILD with nothing to build");
                    break;
                }
                o = k->stack[k->nstack - 1];
                if (k->obj[o].kind != K_DICT || !k->obj[o].ordered)
                    perr(k, GGDM_ERR_UNSUPPORTED, "BUILD on a %s (only an OrderedDict's _metadata is accepted)",
                         kind_names[k->obj[o].kind]);
                else if (k->obj[v[0]].kind != K_DICT)
                    perr(k, GGDM_ERR_UNSUPPORTED, "BUILD of an OrderedDict with a %s state (a dict expected)",
                         kind_names[k->obj[v[0]].kind]);
            }
            break;
        case 'Q': /* BINPERSID */
            op_persid(k);
            break;
        default:
            if (op_name(k->op))
                perr(k, GGDM_ERR_UNSUPPORTED, "opcode 0x%02x (%s) is not one a state dict needs; refused",
                     (unsigned)k->op, op_name(k->op));
            else
                perr(k, GGDM_ERR_FORMAT, "byte 0x%02x is not a pickle opcode", (unsigned)k->op);
            break;
        }
    }
    return k->st;
}

static void pk_free(pk *k)
{
    free(k->obj);
    free(k->stack);
    free(k->memo);
    free(k->items);
    free(k->nodes);
    free(k->stor);
    free(k->ten);
}

/* ================================================================== the checkpoint */

int ggdm_pth_is_zip(const uint8_t *file, uint64_t len)
{
    return len >= 4 && file[0] == 'P' && file[1] == 'K' && file[2] == 3 && file[3] == 4;
}

void ggdm_pth_free(ggdm_pth *p)
{
    size_t i;
    if (!p)
        return;
    for (i = 0; i < p->n_tensors; i++) {
        free(p->tensors[i].name);
        free(p->tensors[i].storage_key);
    }
    for (i = 0; i < p->n_entries; i++) {
        free(p->entries[i].key);
        free(p->entries[i].s);
    }
    free(p->tensors);
    free(p->entries);
    free(p->archive);
    free(p->state_key);
    memset(p, 0, sizeof *p);
}

const ggdm_pth_entry *ggdm_pth_find_entry(const ggdm_pth *p, const char *key)
{
    size_t i;
    for (i = 0; p && key && i < p->n_entries; i++)
        if (strcmp(p->entries[i].key, key) == 0)
            return &p->entries[i];
    return NULL;
}

typedef struct keyctx {
    const pk *k;
    const uint32_t *keys; /* STR objects */
} keyctx;

static int cmp_key(const void *ctx, size_t a, size_t b)
{
    const keyctx *c = (const keyctx *)ctx;
    const pobj *x = &c->k->obj[c->keys[a]], *y = &c->k->obj[c->keys[b]];
    return bytes_cmp(c->k->p + x->off, x->len, c->k->p + y->off, y->len);
}

/* The keys of dict d must be strings, all different. */
static ggdm_status check_keys(const pk *k, uint32_t d, const char *what, char *msg, size_t cap)
{
    uint32_t n = k->obj[d].c, nd = k->obj[d].a, i;
    uint32_t *keys = NULL;
    size_t *idx = NULL, j;
    keyctx c;
    char nm[SHOWN];
    ggdm_status st = GGDM_OK;
    if (n == 0)
        return GGDM_OK;
    keys = (uint32_t *)malloc(n * sizeof *keys);
    idx = (size_t *)malloc(n * sizeof *idx);
    if (!keys || !idx) {
        free(keys);
        free(idx);
        return fail(msg, cap, GGDM_ERR_IO, "pth: out of memory");
    }
    for (i = 0; i < n; i++, nd = k->nodes[nd].next) {
        uint32_t key = k->nodes[nd].k;
        if (k->obj[key].kind != K_STR) {
            st = fail(msg, cap, GGDM_ERR_FORMAT, "pth: %s has a key that is a %s, not a string", what,
                      kind_names[k->obj[key].kind]);
            goto done;
        }
        keys[i] = key;
        idx[i] = i;
    }
    c.k = k;
    c.keys = keys;
    sort_idx(idx, n, cmp_key, &c);
    for (j = 0; j + 1 < n; j++)
        if (cmp_key(&c, idx[j], idx[j + 1]) == 0) {
            const pobj *o = &k->obj[keys[idx[j]]];
            st = fail(msg, cap, GGDM_ERR_FORMAT, "pth: %s has the key '%s' twice", what, shown(nm, k->p + o->off, o->len));
            goto done;
        }
done:
    free(keys);
    free(idx);
    return st;
}

static int dict_has_tensor(const pk *k, uint32_t d)
{
    uint32_t nd;
    for (nd = k->obj[d].a; nd != NIL; nd = k->nodes[nd].next)
        if (k->obj[k->nodes[nd].v].kind == K_TENSOR)
            return 1;
    return 0;
}

/* Validates tensor number idx (state dict entry `name`) against its storage's zip entry. */
static ggdm_status place_tensor(zarch *z, const pk *k, const pten *t, const char *name, const char *arch,
                                ggdm_pth_tensor *out, char *msg, size_t cap)
{
    const pstor *s = &k->stor[t->storage];
    char rel[80], nm[SHOWN], key[SHOWN], ent[SHOWN];
    unsigned isz = dtypes[s->dtype].itemsize;
    uint64_t count = 1, expect;
    long zi;
    int d;
    ggdm_status st;
    shown(nm, (const uint8_t *)name, strlen(name));
    shown(key, k->p + s->key_off, s->key_len);
    out->dtype = s->dtype;
    out->ndim = t->ndim;
    out->storage_offset = t->offset;
    out->storage_numel = s->numel;
    out->requires_grad = t->requires_grad;
    out->parameter = t->parameter;
    for (d = 0; d < t->ndim; d++) {
        out->shape[d] = t->shape[d];
        out->stride[d] = t->stride[d];
        if (t->shape[d] && count > (UINT64_MAX / isz) / t->shape[d])
            return fail(msg, cap, GGDM_ERR_FORMAT, "pth: tensor '%s': its size overflows 64 bits", nm);
        count *= t->shape[d];
    }
    out->count = count;
    if (count > 0) { /* contiguous as torch's is_contiguous: dims of size 1 may have any stride */
        uint64_t want = 1;
        for (d = t->ndim - 1; d >= 0; d--) {
            if (t->shape[d] != 1 && t->stride[d] != want)
                return fail(msg, cap, GGDM_ERR_UNSUPPORTED,
                            "pth: tensor '%s' is not contiguous (dimension %d: size %llu, stride %llu, expected %llu); "
                            "save tensor.contiguous()",
                            nm, d, (ull)t->shape[d], (ull)t->stride[d], (ull)want);
            want *= t->shape[d];
        }
    }
    out->storage_key = dup_bytes(k->p + s->key_off, s->key_len);
    if (!out->storage_key)
        return fail(msg, cap, GGDM_ERR_IO, "pth: out of memory");
    snprintf(rel, sizeof rel, "data/%s", out->storage_key);
    zi = zip_find(z, rel, strlen(rel));
    if (zi < 0)
        return fail(msg, cap, GGDM_ERR_FORMAT, "pth: tensor '%s': its storage '%s' has no zip entry '%s/data/%s'", nm,
                    key, shown(ent, (const uint8_t *)arch, strlen(arch)), key);
    shown(ent, z->f + z->e[zi].name_off, z->e[zi].name_len);
    if (s->numel > UINT64_MAX / isz || s->numel * isz != z->e[zi].data_len)
        return fail(msg, cap, GGDM_ERR_FORMAT,
                    "pth: storage '%s' (torch.%s of %llu elements) needs %llu bytes but zip entry '%s' holds %llu", key,
                    dtypes[s->dtype].storage, (ull)s->numel,
                    (ull)(s->numel > UINT64_MAX / isz ? UINT64_MAX : s->numel * isz), ent, (ull)z->e[zi].data_len);
    if (z->e[zi].stor_dtype < 0) {
        z->e[zi].stor_dtype = s->dtype;
        z->e[zi].stor_numel = s->numel;
    } else if (z->e[zi].stor_dtype != s->dtype || z->e[zi].stor_numel != s->numel) {
        return fail(msg, cap, GGDM_ERR_FORMAT, "pth: storage '%s' is used as torch.%s of %llu elements and as torch.%s "
                    "of %llu", key, dtypes[z->e[zi].stor_dtype].storage, (ull)z->e[zi].stor_numel,
                    dtypes[s->dtype].storage, (ull)s->numel);
    }
    expect = count;
    if (t->offset > s->numel || expect > s->numel - t->offset)
        return fail(msg, cap, GGDM_ERR_FORMAT,
                    "pth: tensor '%s': elements %llu .. %llu lie outside its storage '%s' of %llu elements", nm,
                    (ull)t->offset, (ull)(t->offset + (expect < UINT64_MAX - t->offset ? expect : 0)), key,
                    (ull)s->numel);
    st = zip_crc(z, (size_t)zi, msg, cap);
    if (st != GGDM_OK)
        return st;
    out->data_off = z->e[zi].data_off + t->offset * isz;
    out->data_len = count * isz;
    return GGDM_OK;
}

/* The small records: version (required), byteorder (optional), and no TorchScript. */
static ggdm_status check_records(zarch *z, ggdm_pth *out, char *msg, size_t cap)
{
    long vi = zip_find(z, "version", 7), bi;
    size_t i;
    char nm[SHOWN];
    ggdm_status st;
    if (vi < 0)
        vi = zip_find(z, ".data/version", 13);
    if (vi < 0)
        return fail(msg, cap, GGDM_ERR_FORMAT, "pth: no version record (ARCHIVE/version): not a torch.save file");
    st = zip_crc(z, (size_t)vi, msg, cap);
    if (st != GGDM_OK)
        return st;
    {
        const uint8_t *v = z->f + z->e[vi].data_off;
        uint64_t n = z->e[vi].data_len, j;
        int val = 0;
        if (n > 0 && v[n - 1] == '\n')
            n--;
        if (n == 0 || n > 4)
            return fail(msg, cap, GGDM_ERR_FORMAT, "pth: the version record is not a small number");
        for (j = 0; j < n; j++) {
            if (v[j] < '0' || v[j] > '9')
                return fail(msg, cap, GGDM_ERR_FORMAT, "pth: the version record '%s' is not a number",
                            shown(nm, v, z->e[vi].data_len));
            val = val * 10 + (v[j] - '0');
        }
        out->version = val;
    }
    bi = zip_find(z, "byteorder", 9);
    if (bi >= 0) {
        const uint8_t *b = z->f + z->e[bi].data_off;
        uint64_t n = z->e[bi].data_len;
        st = zip_crc(z, (size_t)bi, msg, cap);
        if (st != GGDM_OK)
            return st;
        if (bytes_eq(b, n, "big"))
            return fail(msg, cap, GGDM_ERR_UNSUPPORTED, "pth: byteorder 'big': the storages are big-endian; load and "
                        "save the checkpoint again on a little-endian machine");
        if (!bytes_eq(b, n, "little"))
            return fail(msg, cap, GGDM_ERR_FORMAT, "pth: byteorder record '%s' (expected 'little')", shown(nm, b, n));
    }
    for (i = 0; i < z->n; i++) {
        const zent *e = &z->e[i];
        const uint8_t *r = z->f + e->name_off + z->plen;
        uint64_t n = e->name_len - z->plen;
        if (bytes_eq(r, n, "data.pkl") || bytes_eq(r, n, "version") || bytes_eq(r, n, "byteorder") ||
            bytes_eq(r, n, ".format_version") || bytes_eq(r, n, ".storage_alignment") ||
            (n > 5 && memcmp(r, "data/", 5) == 0) || (n > 6 && memcmp(r, ".data/", 6) == 0))
            continue;
        if (bytes_eq(r, n, "constants.pkl") || (n > 5 && memcmp(r, "code/", 5) == 0))
            return fail(msg, cap, GGDM_ERR_UNSUPPORTED, "pth: a TorchScript archive (entry '%s'; torch.jit.save), not "
                        "a torch.save checkpoint", shown(nm, z->f + e->name_off, e->name_len));
        return fail(msg, cap, GGDM_ERR_UNSUPPORTED, "pth: unexpected zip entry '%s' (a torch.save checkpoint holds "
                    "data.pkl, data/KEY, version, byteorder and .data/)", shown(nm, z->f + e->name_off, e->name_len));
    }
    return GGDM_OK;
}

static ggdm_status fill_entry(const pk *k, uint32_t key, uint32_t val, ggdm_pth_entry *e, char *msg, size_t cap)
{
    const pobj *o = &k->obj[val];
    e->key = dup_bytes(k->p + k->obj[key].off, k->obj[key].len);
    if (!e->key)
        return fail(msg, cap, GGDM_ERR_IO, "pth: out of memory");
    switch (o->kind) {
    case K_NONE: e->kind = GGDM_PTH_NONE; break;
    case K_BOOL: e->kind = GGDM_PTH_BOOL_V; e->i = o->i; break;
    case K_INT: e->kind = GGDM_PTH_INT; e->i = o->i; break;
    case K_FLOAT: e->kind = GGDM_PTH_FLOAT; e->f = o->f; break;
    case K_STR:
        e->kind = GGDM_PTH_STR;
        e->s = dup_bytes(k->p + o->off, o->len);
        if (!e->s)
            return fail(msg, cap, GGDM_ERR_IO, "pth: out of memory");
        break;
    default: e->kind = GGDM_PTH_OTHER; break;
    }
    return GGDM_OK;
}

ggdm_status ggdm_pth_parse(const uint8_t *file, uint64_t len, ggdm_pth *out, char *msg, size_t msgcap)
{
    zarch z;
    pk k;
    long pi;
    uint32_t top = NIL, sd = NIL, nd;
    ggdm_status st;
    char nm[SHOWN];
    size_t i;
    if (msg && msgcap)
        msg[0] = 0;
    if (!out)
        return fail(msg, msgcap, GGDM_ERR_ARG, "pth: null argument");
    memset(out, 0, sizeof *out);
    memset(&k, 0, sizeof k);
    if (!file)
        return fail(msg, msgcap, GGDM_ERR_ARG, "pth: null argument");
    if (!ggdm_pth_is_zip(file, len))
        return fail(msg, msgcap, GGDM_ERR_FORMAT, "pth: not a zip archive (torch.save's format since torch 1.6 is "
                    "one; the older tar format is not read)");
    st = zip_open(&z, file, len, msg, msgcap);
    if (st != GGDM_OK)
        goto done;
    out->archive = dup_bytes(file + z.e[0].name_off, z.plen - 1);
    if (!out->archive) {
        st = fail(msg, msgcap, GGDM_ERR_IO, "pth: out of memory");
        goto done;
    }
    st = check_records(&z, out, msg, msgcap);
    if (st != GGDM_OK)
        goto done;
    pi = zip_find(&z, "data.pkl", 8);
    if (pi < 0) {
        st = fail(msg, msgcap, GGDM_ERR_FORMAT, "pth: no zip entry %s/data.pkl: not a torch.save checkpoint",
                  shown(nm, file + z.e[0].name_off, z.plen - 1));
        goto done;
    }
    st = zip_crc(&z, (size_t)pi, msg, msgcap);
    if (st != GGDM_OK)
        goto done;
    k.p = file + z.e[pi].data_off;
    k.n = z.e[pi].data_len;
    k.msg = msg;
    k.cap = msgcap;
    k.op = -1;
    st = interpret(&k, &top);
    if (st != GGDM_OK)
        goto done;
    if (k.obj[top].kind != K_DICT) {
        st = fail(msg, msgcap, GGDM_ERR_FORMAT, "pth: the checkpoint holds a %s, not a dict (a state dict, or a dict "
                  "holding one under 'model_state_dict')", kind_names[k.obj[top].kind]);
        goto done;
    }
    st = check_keys(&k, top, "the checkpoint's dict", msg, msgcap);
    if (st != GGDM_OK)
        goto done;
    if (dict_has_tensor(&k, top) || k.obj[top].c == 0) {
        sd = top;
    } else {
        for (nd = k.obj[top].a; nd != NIL; nd = k.nodes[nd].next)
            if (is_str(&k, k.nodes[nd].k, "model_state_dict"))
                sd = k.nodes[nd].v;
        if (sd == NIL) {
            char keys[200];
            size_t used = 0;
            keys[0] = 0;
            for (nd = k.obj[top].a; nd != NIL && used + SHOWN + 4 < sizeof keys; nd = k.nodes[nd].next) {
                const pobj *o = &k.obj[k.nodes[nd].k];
                used += (size_t)snprintf(keys + used, sizeof keys - used, "%s'%s'", used ? ", " : "",
                                         shown(nm, k.p + o->off, o->len));
            }
            st = fail(msg, msgcap, GGDM_ERR_FORMAT, "pth: no state dict: the checkpoint's dict holds no tensors and no "
                      "'model_state_dict' (keys: %s)", keys);
            goto done;
        }
        if (k.obj[sd].kind != K_DICT) {
            st = fail(msg, msgcap, GGDM_ERR_FORMAT, "pth: 'model_state_dict' is a %s, not a dict",
                      kind_names[k.obj[sd].kind]);
            goto done;
        }
        st = check_keys(&k, sd, "'model_state_dict'", msg, msgcap);
        if (st != GGDM_OK)
            goto done;
        out->state_key = dup_bytes((const uint8_t *)"model_state_dict", 16);
        if (!out->state_key) {
            st = fail(msg, msgcap, GGDM_ERR_IO, "pth: out of memory");
            goto done;
        }
        out->entries = (ggdm_pth_entry *)calloc(k.obj[top].c, sizeof *out->entries);
        if (!out->entries) {
            st = fail(msg, msgcap, GGDM_ERR_IO, "pth: out of memory");
            goto done;
        }
        for (nd = k.obj[top].a; nd != NIL; nd = k.nodes[nd].next) {
            if (k.nodes[nd].v == sd)
                continue;
            st = fill_entry(&k, k.nodes[nd].k, k.nodes[nd].v, &out->entries[out->n_entries++], msg, msgcap);
            if (st != GGDM_OK)
                goto done;
        }
    }
    /* the state dict: string keys, tensor values */
    out->tensors = (ggdm_pth_tensor *)calloc(k.obj[sd].c + 1u, sizeof *out->tensors);
    if (!out->tensors) {
        st = fail(msg, msgcap, GGDM_ERR_IO, "pth: out of memory");
        goto done;
    }
    for (nd = k.obj[sd].a, i = 0; nd != NIL; nd = k.nodes[nd].next, i++) {
        const pobj *ko = &k.obj[k.nodes[nd].k], *vo = &k.obj[k.nodes[nd].v];
        ggdm_pth_tensor *t = &out->tensors[out->n_tensors];
        if (vo->kind != K_TENSOR) {
            st = fail(msg, msgcap, GGDM_ERR_FORMAT, "pth: state dict entry '%s' is a %s, not a tensor",
                      shown(nm, k.p + ko->off, ko->len), kind_names[vo->kind]);
            goto done;
        }
        t->name = dup_bytes(k.p + ko->off, ko->len);
        out->n_tensors++;
        if (!t->name) {
            st = fail(msg, msgcap, GGDM_ERR_IO, "pth: out of memory");
            goto done;
        }
        if (memchr(k.p + ko->off, 0, (size_t)ko->len)) {
            st = fail(msg, msgcap, GGDM_ERR_FORMAT, "pth: state dict key '%s' holds a NUL character",
                      shown(nm, k.p + ko->off, ko->len));
            goto done;
        }
        st = place_tensor(&z, &k, &k.ten[vo->c], t->name, out->archive, t, msg, msgcap);
        if (st != GGDM_OK)
            goto done;
    }
    st = GGDM_OK;
done:
    if (st != GGDM_OK && st != GGDM_ERR_FORMAT && st != GGDM_ERR_UNSUPPORTED && st != GGDM_ERR_IO &&
        st != GGDM_ERR_ARG)
        st = GGDM_ERR_FORMAT;
    pk_free(&k);
    zip_free(&z);
    return st;
}

ggdm_status ggdm_pth_load_f32(const uint8_t *file, uint64_t len, const ggdm_pth_tensor *t, float *out,
                              uint64_t out_count, char *msg, size_t msgcap)
{
    uint64_t i;
    char nm[SHOWN];
    if (!file || !t || !t->name || (!out && t->count))
        return fail(msg, msgcap, GGDM_ERR_ARG, "pth: null argument");
    shown(nm, (const uint8_t *)t->name, strlen(t->name));
    if (t->dtype != GGDM_PTH_F32)
        return fail(msg, msgcap, GGDM_ERR_UNSUPPORTED, "pth: tensor '%s' is %s (torch.%s); only float32 tensors can be "
                    "loaded", nm, ggdm_pth_dtype_name(t->dtype) ? ggdm_pth_dtype_name(t->dtype) : "?",
                    ggdm_pth_storage_name(t->dtype) ? ggdm_pth_storage_name(t->dtype) : "?");
    if (out_count < t->count)
        return fail(msg, msgcap, GGDM_ERR_BUFFER_TOO_SMALL, "pth: tensor '%s' has %llu elements, room for %llu", nm,
                    (ull)t->count, (ull)out_count);
    if (t->count > UINT64_MAX / 4 || t->data_len != 4 * t->count || t->data_off > len || t->data_len > len - t->data_off)
        return fail(msg, msgcap, GGDM_ERR_ARG, "pth: tensor '%s' does not belong to this file", nm);
    for (i = 0; i < t->count; i++)
        out[i] = ggdm_le_load_f32(file + t->data_off + 4 * i);
    return GGDM_OK;
}

/* ================================================================== writing */

typedef struct bbuf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} bbuf;

static void bb_put(bbuf *b, const void *d, size_t n)
{
    if (b->oom)
        return;
    if (n > ((size_t)-1) - b->n || !grow((void **)&b->p, &b->cap, b->n + n, 1)) {
        b->oom = 1;
        return;
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void bb_u8(bbuf *b, unsigned v)
{
    uint8_t c = (uint8_t)v;
    bb_put(b, &c, 1);
}

static void bb_u32(bbuf *b, uint32_t v)
{
    uint8_t c[4];
    ggdm_le_store_u32(c, v);
    bb_put(b, c, 4);
}

/* The pickler: Python's protocol 2 output, memo indices counted as Python counts them. */
typedef struct pwr {
    bbuf b;
    uint32_t memo;
    uint32_t m_odict, m_rebuild, m_float, m_storage, m_cpu; /* memo slots of shared objects */
} pwr;

static void pw_memoize(pwr *w)
{
    if (w->memo < 256) {
        bb_u8(&w->b, 'q');
        bb_u8(&w->b, w->memo);
    } else {
        bb_u8(&w->b, 'r');
        bb_u32(&w->b, w->memo);
    }
    w->memo++;
}

static void pw_get(pwr *w, uint32_t idx)
{
    if (idx < 256) {
        bb_u8(&w->b, 'h');
        bb_u8(&w->b, idx);
    } else {
        bb_u8(&w->b, 'j');
        bb_u32(&w->b, idx);
    }
}

static void pw_str(pwr *w, const char *s)
{
    size_t n = strlen(s);
    bb_u8(&w->b, 'X');
    bb_u32(&w->b, (uint32_t)n);
    bb_put(&w->b, s, n);
    pw_memoize(w);
}

/* A string object used several times (Python's interned 'storage', 'cpu'): BINGET after the first. */
static void pw_shared_str(pwr *w, const char *s, uint32_t *slot)
{
    if (*slot != NIL) {
        pw_get(w, *slot);
        return;
    }
    *slot = w->memo;
    pw_str(w, s);
}

static void pw_global(pwr *w, const char *mod, const char *name, uint32_t *slot)
{
    if (*slot != NIL) {
        pw_get(w, *slot);
        return;
    }
    bb_u8(&w->b, 'c');
    bb_put(&w->b, mod, strlen(mod));
    bb_u8(&w->b, '\n');
    bb_put(&w->b, name, strlen(name));
    bb_u8(&w->b, '\n');
    *slot = w->memo;
    pw_memoize(w);
}

/* Python's save_long: BININT1, BININT2, BININT, else LONG1 with the shortest two's complement. */
static void pw_int(pwr *w, long long v)
{
    if (v >= 0 && v <= 0xff) {
        bb_u8(&w->b, 'K');
        bb_u8(&w->b, (unsigned)v);
    } else if (v >= 0 && v <= 0xffff) {
        uint8_t c[2];
        ggdm_le_store_u16(c, (uint16_t)v);
        bb_u8(&w->b, 'M');
        bb_put(&w->b, c, 2);
    } else if (v >= -2147483647ll - 1 && v <= 2147483647ll) {
        bb_u8(&w->b, 'J');
        bb_u32(&w->b, (uint32_t)(v < 0 ? (uint32_t)(v + 4294967296ll) : (uint32_t)v));
    } else {
        uint64_t u = v < 0 ? ~(uint64_t)(-(v + 1)) : (uint64_t)v; /* two's complement without overflow */
        unsigned n, j;
        for (n = 1; n < 8; n++) { /* fits n signed bytes? */
            long long lim = 1ll << (8 * n - 1);
            if (v >= -lim && v < lim)
                break;
        }
        bb_u8(&w->b, 0x8a);
        bb_u8(&w->b, n);
        for (j = 0; j < n; j++)
            bb_u8(&w->b, (unsigned)((u >> (8 * j)) & 0xffu));
    }
}

/* A tuple of ints as Python writes it: EMPTY_TUPLE, TUPLE1..3, or MARK ... TUPLE; memoized. */
static void pw_int_tuple(pwr *w, const uint64_t *v, int n)
{
    int i;
    if (n == 0) {
        bb_u8(&w->b, ')');
        return;
    }
    if (n > 3)
        bb_u8(&w->b, '(');
    for (i = 0; i < n; i++)
        pw_int(w, (long long)v[i]);
    bb_u8(&w->b, n == 1 ? 0x85 : n == 2 ? 0x86 : n == 3 ? 0x87 : 't');
    pw_memoize(w);
}

static void pw_empty_odict(pwr *w)
{
    pw_global(w, "collections", "OrderedDict", &w->m_odict);
    bb_u8(&w->b, ')');
    bb_u8(&w->b, 'R');
    pw_memoize(w);
}

/* torch.Tensor.__reduce_ex__: _rebuild_tensor_v2(persistent storage, 0, size, stride, False, OrderedDict()) */
static void pw_tensor(pwr *w, const ggdm_pth_wtensor *t, size_t key, uint64_t count)
{
    char kbuf[32];
    uint64_t stride[GGDM_PTH_MAX_DIMS], s = 1;
    int d;
    for (d = t->ndim - 1; d >= 0; d--) {
        stride[d] = s;
        s *= t->shape[d];
    }
    snprintf(kbuf, sizeof kbuf, "%zu", key);
    pw_global(w, "torch._utils", "_rebuild_tensor_v2", &w->m_rebuild);
    bb_u8(&w->b, '(');
    bb_u8(&w->b, '('); /* the persistent id */
    pw_shared_str(w, "storage", &w->m_storage);
    pw_global(w, "torch", "FloatStorage", &w->m_float);
    pw_str(w, kbuf);
    pw_shared_str(w, "cpu", &w->m_cpu);
    pw_int(w, (long long)count);
    bb_u8(&w->b, 't');
    pw_memoize(w);
    bb_u8(&w->b, 'Q');
    pw_int(w, 0);
    pw_int_tuple(w, t->shape, t->ndim);
    pw_int_tuple(w, stride, t->ndim);
    bb_u8(&w->b, 0x89);
    pw_empty_odict(w);
    bb_u8(&w->b, 't');
    pw_memoize(w);
    bb_u8(&w->b, 'R');
    pw_memoize(w);
}

/* Python's _batch_setitems: batches of 1000, MARK ... SETITEMS, a batch of one as SETITEM. */
static void pw_state_items(pwr *w, const ggdm_pth_wtensor *t, size_t n, const uint64_t *counts)
{
    size_t start = 0, i;
    for (;;) {
        size_t m = n - start < 1000 ? n - start : 1000;
        if (m > 1)
            bb_u8(&w->b, '(');
        for (i = start; i < start + m; i++) {
            pw_str(w, t[i].name);
            pw_tensor(w, &t[i], i, counts[i]);
        }
        if (m > 1)
            bb_u8(&w->b, 'u');
        else if (m == 1)
            bb_u8(&w->b, 's');
        start += m;
        if (m < 1000)
            break;
    }
}

static void pw_state(pwr *w, const ggdm_pth_wtensor *t, size_t n, const uint64_t *counts)
{
    pw_empty_odict(w);
    pw_state_items(w, t, n, counts);
}

typedef struct wrec {
    char name[48];
    const uint8_t *bytes; /* or NULL: floats */
    const float *floats;
    uint64_t len;         /* bytes */
    uint64_t hdr, data;   /* offsets in the archive */
    uint32_t crc;
} wrec;

#define ZIP_ARCHIVE "archive"
#define ZIP_DATE 0x0021u /* 1980-01-01, 00:00: fixed, so the same tensors give the same bytes */

static int cmp_wname(const void *ctx, size_t a, size_t b)
{
    const ggdm_pth_wtensor *t = (const ggdm_pth_wtensor *)ctx;
    return strcmp(t[a].name, t[b].name);
}

static int cmp_wkey(const void *ctx, size_t a, size_t b)
{
    const wrec *r = (const wrec *)ctx;
    return strcmp(r[a].name, r[b].name);
}

ggdm_status ggdm_pth_write(const ggdm_pth_wentry *entries, size_t n_entries, const ggdm_pth_wtensor *tensors,
                           size_t n_tensors, uint8_t **out, uint64_t *out_len, char *msg, size_t msgcap)
{
    pwr w;
    uint64_t *counts = NULL, pos, cd_size, total;
    size_t *idx = NULL, i, j, nrec, n_state = 0;
    wrec *rec = NULL;
    uint8_t *buf = NULL;
    ggdm_status st = GGDM_OK;
    static const char byteorder[] = "little", version[] = "3\n";
    if (msg && msgcap)
        msg[0] = 0;
    if (!out || !out_len || (n_tensors && !tensors) || (n_entries && !entries))
        return fail(msg, msgcap, GGDM_ERR_ARG, "pth: null argument");
    *out = NULL;
    *out_len = 0;
    if (n_tensors > 60000)
        return fail(msg, msgcap, GGDM_ERR_UNSUPPORTED, "pth: %zu tensors (at most 60000 without zip64)", n_tensors);
    memset(&w, 0, sizeof w);
    w.m_odict = w.m_rebuild = w.m_float = w.m_storage = w.m_cpu = NIL;
    counts = (uint64_t *)calloc(n_tensors + 1, sizeof *counts);
    idx = (size_t *)calloc(n_tensors + 1, sizeof *idx);
    rec = (wrec *)calloc(n_tensors + 3, sizeof *rec);
    if (!counts || !idx || !rec) {
        st = fail(msg, msgcap, GGDM_ERR_IO, "pth: out of memory");
        goto done;
    }
    for (i = 0; i < n_entries; i++) {
        if (!entries[i].key || !utf8_ok((const uint8_t *)entries[i].key, strlen(entries[i].key))) {
            st = fail(msg, msgcap, GGDM_ERR_ARG, "pth: entry %zu: the key is missing or not UTF-8", i);
            goto done;
        }
        for (j = 0; j < i; j++)
            if (strcmp(entries[i].key, entries[j].key) == 0) {
                st = fail(msg, msgcap, GGDM_ERR_ARG, "pth: two entries are called '%s'", entries[i].key);
                goto done;
            }
        if (entries[i].kind == GGDM_PTH_W_STATE)
            n_state++;
        else if (entries[i].kind == GGDM_PTH_W_STR) {
            if (!entries[i].s || !utf8_ok((const uint8_t *)entries[i].s, strlen(entries[i].s))) {
                st = fail(msg, msgcap, GGDM_ERR_ARG, "pth: entry '%s': the string is missing or not UTF-8",
                          entries[i].key);
                goto done;
            }
        } else if (entries[i].kind != GGDM_PTH_W_INT) {
            st = fail(msg, msgcap, GGDM_ERR_ARG, "pth: entry '%s' has an unknown kind %d", entries[i].key,
                      entries[i].kind);
            goto done;
        }
    }
    if (n_entries && n_state != 1) {
        st = fail(msg, msgcap, GGDM_ERR_ARG, "pth: %zu entries hold the state dict (one must)", n_state);
        goto done;
    }
    for (i = 0; i < n_tensors; i++) {
        const ggdm_pth_wtensor *t = &tensors[i];
        uint64_t c = 1;
        int d;
        if (!t->name || !utf8_ok((const uint8_t *)t->name, strlen(t->name))) {
            st = fail(msg, msgcap, GGDM_ERR_ARG, "pth: tensor %zu: the name is missing or not UTF-8", i);
            goto done;
        }
        if (t->ndim < 0 || t->ndim > GGDM_PTH_MAX_DIMS) {
            st = fail(msg, msgcap, GGDM_ERR_ARG, "pth: tensor '%s' has %d dimensions (0 to %d)", t->name, t->ndim,
                      GGDM_PTH_MAX_DIMS);
            goto done;
        }
        for (d = 0; d < t->ndim; d++) {
            if (t->shape[d] > 0x7fffffffffffffffull || (t->shape[d] && c > (0xffffffffull / 4) / t->shape[d])) {
                st = fail(msg, msgcap, GGDM_ERR_UNSUPPORTED, "pth: tensor '%s' is too large for a zip without zip64",
                          t->name);
                goto done;
            }
            c *= t->shape[d];
        }
        if (c && !t->data) {
            st = fail(msg, msgcap, GGDM_ERR_ARG, "pth: tensor '%s' has no data", t->name);
            goto done;
        }
        counts[i] = c;
        idx[i] = i;
    }
    sort_idx(idx, n_tensors, cmp_wname, tensors);
    for (i = 0; i + 1 < n_tensors; i++)
        if (strcmp(tensors[idx[i]].name, tensors[idx[i + 1]].name) == 0) {
            st = fail(msg, msgcap, GGDM_ERR_ARG, "pth: two tensors are called '%s'", tensors[idx[i]].name);
            goto done;
        }

    /* data.pkl */
    bb_u8(&w.b, 0x80);
    bb_u8(&w.b, 2);
    if (n_entries == 0) {
        pw_state(&w, tensors, n_tensors, counts);
    } else {
        bb_u8(&w.b, '}');
        pw_memoize(&w);
        if (n_entries > 1)
            bb_u8(&w.b, '(');
        for (i = 0; i < n_entries; i++) {
            pw_str(&w, entries[i].key);
            if (entries[i].kind == GGDM_PTH_W_STR)
                pw_str(&w, entries[i].s);
            else if (entries[i].kind == GGDM_PTH_W_INT)
                pw_int(&w, entries[i].i);
            else
                pw_state(&w, tensors, n_tensors, counts);
        }
        bb_u8(&w.b, n_entries > 1 ? 'u' : 's');
    }
    bb_u8(&w.b, '.');
    if (w.b.oom) {
        st = fail(msg, msgcap, GGDM_ERR_IO, "pth: out of memory");
        goto done;
    }

    /* the records: data.pkl, byteorder, data/KEY (in torch's order: keys sorted as strings), version */
    nrec = 0;
    snprintf(rec[nrec].name, sizeof rec[nrec].name, "%s/data.pkl", ZIP_ARCHIVE);
    rec[nrec].bytes = w.b.p;
    rec[nrec++].len = w.b.n;
    snprintf(rec[nrec].name, sizeof rec[nrec].name, "%s/byteorder", ZIP_ARCHIVE);
    rec[nrec].bytes = (const uint8_t *)byteorder;
    rec[nrec++].len = sizeof byteorder - 1;
    for (i = 0; i < n_tensors; i++) {
        snprintf(rec[nrec + i].name, sizeof rec[nrec + i].name, "%s/data/%zu", ZIP_ARCHIVE, i);
        rec[nrec + i].floats = tensors[i].data;
        rec[nrec + i].len = 4 * counts[i];
        idx[i] = nrec + i;
    }
    sort_idx(idx, n_tensors, cmp_wkey, rec);
    nrec += n_tensors;
    snprintf(rec[nrec].name, sizeof rec[nrec].name, "%s/version", ZIP_ARCHIVE);
    rec[nrec].bytes = (const uint8_t *)version;
    rec[nrec++].len = sizeof version - 1;

    /* layout: local header (30) + name + 'FB' padding extra, data at a multiple of 64 */
    pos = 0;
    cd_size = 0;
    for (j = 0; j < nrec; j++) {
        /* write order: 0, 1, then the storages in key order, then the version */
        size_t r = j < 2 ? j : j < 2 + n_tensors ? idx[j - 2] : j;
        uint64_t nl = strlen(rec[r].name), pad = (64u - (pos + 30u + nl + 4u) % 64u) % 64u;
        rec[r].hdr = pos;
        rec[r].data = pos + 30u + nl + 4u + pad;
        pos = rec[r].data + rec[r].len;
        cd_size += 46u + nl;
        if (pos > 0xffffffffull) {
            st = fail(msg, msgcap, GGDM_ERR_UNSUPPORTED, "pth: the checkpoint would exceed 4 GiB (zip64 is not "
                      "written)");
            goto done;
        }
    }
    total = pos + cd_size + 22u;
    if (total > 0xffffffffull) {
        st = fail(msg, msgcap, GGDM_ERR_UNSUPPORTED, "pth: the checkpoint would exceed 4 GiB (zip64 is not written)");
        goto done;
    }
    buf = (uint8_t *)calloc((size_t)total, 1);
    if (!buf) {
        st = fail(msg, msgcap, GGDM_ERR_IO, "pth: out of memory for %llu bytes", (ull)total);
        goto done;
    }
    for (j = 0; j < nrec; j++) {
        wrec *r = &rec[j];
        uint8_t *h = buf + r->hdr;
        uint64_t nl = strlen(r->name), ex = r->data - r->hdr - 30u - nl, q;
        if (r->bytes) {
            if (r->len)
                memcpy(buf + r->data, r->bytes, (size_t)r->len);
        } else {
            for (q = 0; q < r->len / 4; q++)
                ggdm_le_store_f32(buf + r->data + 4 * q, r->floats[q]);
        }
        r->crc = ggdm_crc32(0, buf + r->data, r->len);
        ggdm_le_store_u32(h, 0x04034b50u);
        ggdm_le_store_u16(h + 4, 20);          /* version needed: 2.0 */
        ggdm_le_store_u16(h + 6, 0);           /* flags */
        ggdm_le_store_u16(h + 8, 0);           /* stored */
        ggdm_le_store_u16(h + 10, 0);          /* time */
        ggdm_le_store_u16(h + 12, ZIP_DATE);   /* date */
        ggdm_le_store_u32(h + 14, r->crc);
        ggdm_le_store_u32(h + 18, (uint32_t)r->len);
        ggdm_le_store_u32(h + 22, (uint32_t)r->len);
        ggdm_le_store_u16(h + 26, (uint16_t)nl);
        ggdm_le_store_u16(h + 28, (uint16_t)ex);
        memcpy(h + 30, r->name, (size_t)nl);
        ggdm_le_store_u16(h + 30 + nl, 0x4246u); /* "FB": torch's alignment padding */
        ggdm_le_store_u16(h + 32 + nl, (uint16_t)(ex - 4u));
        memset(h + 34 + nl, 'Z', (size_t)(ex - 4u));
    }
    /* central directory, in write order */
    {
        uint8_t *c = buf + pos;
        for (j = 0; j < nrec; j++) {
            size_t ri = j < 2 ? j : j < 2 + n_tensors ? idx[j - 2] : j;
            const wrec *r = &rec[ri];
            uint64_t nl = strlen(r->name);
            ggdm_le_store_u32(c, 0x02014b50u);
            ggdm_le_store_u16(c + 4, 20); /* made by: MS-DOS, 2.0 */
            ggdm_le_store_u16(c + 6, 20);
            ggdm_le_store_u16(c + 8, 0);
            ggdm_le_store_u16(c + 10, 0);
            ggdm_le_store_u16(c + 12, 0);
            ggdm_le_store_u16(c + 14, ZIP_DATE);
            ggdm_le_store_u32(c + 16, r->crc);
            ggdm_le_store_u32(c + 20, (uint32_t)r->len);
            ggdm_le_store_u32(c + 24, (uint32_t)r->len);
            ggdm_le_store_u16(c + 28, (uint16_t)nl);
            /* extra, comment, disk, internal and external attributes: 0 */
            ggdm_le_store_u32(c + 42, (uint32_t)r->hdr);
            memcpy(c + 46, r->name, (size_t)nl);
            c += 46u + nl;
        }
        ggdm_le_store_u32(c, 0x06054b50u);
        ggdm_le_store_u16(c + 8, (uint16_t)nrec);
        ggdm_le_store_u16(c + 10, (uint16_t)nrec);
        ggdm_le_store_u32(c + 12, (uint32_t)cd_size);
        ggdm_le_store_u32(c + 16, (uint32_t)pos);
    }
    *out = buf;
    *out_len = total;
    buf = NULL;
done:
    free(buf);
    free(w.b.p);
    free(counts);
    free(idx);
    free(rec);
    return st;
}
