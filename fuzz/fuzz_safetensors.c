/*
 * fuzz_safetensors: the safetensors reader and writer (ggdm/safetensors.h) on arbitrary
 * bytes, as a file.
 *
 * Properties checked besides "no crash, no UB":
 *   - the two-call protocol: the size query and the full parse agree on the counts;
 *   - on GGDM_OK: tensors ordered by data offset (ties in header order), their data
 *     tiling the data buffer exactly, data_len == count * bits / 8, every range inside
 *     the file; metadata sorted by decoded key;
 *   - every name, key and value decodes (ggdm_st_string, cap len + 1) to valid UTF-8;
 *     a too small cap is GGDM_ERR_BUFFER_TOO_SMALL;
 *   - ggdm_st_find / find_prefixed / find_meta by a decoded name find that entry;
 *   - ggdm_st_load_f32 copies the bits of F32 data and refuses other dtypes and short
 *     outputs;
 *   - writer round trip: the parsed tensors and metadata, written again with
 *     ggdm_st_header_size / ggdm_st_write_header, parse back to the same names,
 *     dtypes, shapes and metadata;
 *   - the writer accepts a name made of raw input bytes exactly when it is valid UTF-8,
 *     and a file it writes parses back.
 */
#include "fuzz.h"
#include "ggdm/bytes.h"
#include "ggdm/safetensors.h"

#define MAX_ENTRIES 4096

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* Strict UTF-8 (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
static int utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k, len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07u;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* Decodes a string of the file into a fresh NUL-terminated buffer; checks the contract. */
static char *decode(const uint8_t *f, uint64_t n, uint64_t off, uint64_t len, uint64_t *out_len)
{
    char *s = (char *)malloc((size_t)len + 1);
    uint64_t l = UINT64_MAX, l2 = 0;
    ggdm_status st;
    FUZZ_CHECK(s != NULL);
    st = ggdm_st_string(f, n, off, len, s, len + 1, &l);
    FUZZ_CHECKF(st == GGDM_OK, "a parsed string does not decode (status %d)", (int)st);
    FUZZ_CHECK(l <= len && s[l] == 0);
    FUZZ_CHECK(utf8_valid((const uint8_t *)s, (size_t)l));
    if (l > 0) { /* one byte too few */
        char *t = (char *)malloc((size_t)l);
        FUZZ_CHECK(t != NULL);
        FUZZ_CHECK(ggdm_st_string(f, n, off, len, t, l, &l2) == GGDM_ERR_BUFFER_TOO_SMALL);
        free(t);
    }
    *out_len = l;
    return s;
}

/* Parses a whole file (exact-size copy); returns the status, the arrays via pointers. */
static ggdm_status parse(const uint8_t *data, size_t size, ggdm_st_tensor **pt, uint64_t *nt, ggdm_st_meta **pm,
                         uint64_t *nm, char *msg)
{
    ggdm_status st;
    uint64_t n = UINT64_MAX, m = UINT64_MAX;
    *pt = NULL;
    *pm = NULL;
    st = ggdm_st_parse(data, size, NULL, 0, &n, NULL, 0, &m, msg);
    FUZZ_CHECK(fuzz_msg_ok(msg, GGDM_ST_MSG_LEN));
    FUZZ_CHECK(st == GGDM_OK || st == GGDM_ERR_BUFFER_TOO_SMALL || st == GGDM_ERR_FORMAT ||
               st == GGDM_ERR_UNSUPPORTED);
    if (st == GGDM_OK) {
        FUZZ_CHECK(n == 0 && m == 0 && msg[0] == 0);
    }
    if (st != GGDM_ERR_BUFFER_TOO_SMALL) {
        FUZZ_CHECK(st == GGDM_OK || msg[0] != 0);
        *nt = *nm = 0;
        return st;
    }
    FUZZ_CHECK(n > 0 || m > 0);
    FUZZ_CHECK(n <= size && m <= size); /* every entry takes bytes of the header */
    if (n > MAX_ENTRIES || m > MAX_ENTRIES) {
        *nt = *nm = 0;
        return GGDM_ERR_BUFFER_TOO_SMALL; /* enough work for one input */
    }
    *pt = (ggdm_st_tensor *)calloc((size_t)n + 1, sizeof **pt);
    *pm = (ggdm_st_meta *)calloc((size_t)m + 1, sizeof **pm);
    FUZZ_CHECK(*pt && *pm);
    /* with one entry too few: still a size query */
    if (n > 0) {
        uint64_t n2 = 0, m2 = 0;
        FUZZ_CHECK(ggdm_st_parse(data, size, *pt, n - 1, &n2, *pm, m, &m2, msg) == GGDM_ERR_BUFFER_TOO_SMALL);
        FUZZ_CHECK(n2 == n && m2 == m);
    }
    *nt = n;
    *nm = m;
    st = ggdm_st_parse(data, size, *pt, n, nt, *pm, m, nm, msg);
    FUZZ_CHECK(fuzz_msg_ok(msg, GGDM_ST_MSG_LEN));
    FUZZ_CHECK(st == GGDM_OK || st == GGDM_ERR_FORMAT);
    FUZZ_CHECK(st != GGDM_OK || (*nt == n && *nm == m && msg[0] == 0));
    FUZZ_CHECK(st == GGDM_OK || msg[0] != 0);
    return st;
}

static void check_tensors(const uint8_t *f, uint64_t n, const ggdm_st_tensor *t, uint64_t nt)
{
    uint64_t i, data_start = 8u + ggdm_le_load_u64(f), pos = 0;
    int d;
    FUZZ_CHECK(data_start <= n);
    for (i = 0; i < nt; i++) {
        uint64_t count = 1, bits = ggdm_st_dtype_bits(t[i].dtype);
        FUZZ_CHECK(bits > 0);
        FUZZ_CHECK(t[i].ndim >= 0 && t[i].ndim <= GGDM_ST_MAX_DIMS);
        for (d = 0; d < t[i].ndim; d++) {
            FUZZ_CHECK(t[i].shape[d] <= GGDM_ST_INT_MAX);
            if (t[i].shape[d] != 0 && count > UINT64_MAX / t[i].shape[d])
                count = 0; /* cannot happen: the data fits the file */
            count *= t[i].shape[d];
        }
        FUZZ_CHECK(count == t[i].count);
        FUZZ_CHECK(t[i].end >= t[i].begin && t[i].data_len == t[i].end - t[i].begin);
        FUZZ_CHECK(t[i].data_len * 8u == t[i].count * bits);
        FUZZ_CHECK(t[i].data_off == data_start + t[i].begin);
        FUZZ_CHECK(t[i].data_off <= n && t[i].data_len <= n - t[i].data_off);
        FUZZ_CHECK(t[i].name_off <= n && t[i].name_len <= n - t[i].name_off);
        /* sorted by offset, tiling the buffer exactly; ties in header order */
        FUZZ_CHECK(t[i].begin == pos);
        pos = t[i].end;
        if (i > 0 && t[i].begin == t[i - 1].begin)
            FUZZ_CHECK(t[i].header_index > t[i - 1].header_index);
    }
    FUZZ_CHECK(data_start + pos == n);
}

static void check_lookups(const uint8_t *f, uint64_t n, const ggdm_st_tensor *t, uint64_t nt, const ggdm_st_meta *m,
                          uint64_t nm)
{
    char msg[GGDM_ST_MSG_LEN];
    uint64_t i, idx, l;
    char *prev = NULL;
    uint64_t prev_len = 0;
    for (i = 0; i < nt; i++) {
        char *name = decode(f, n, t[i].name_off, t[i].name_len, &l);
        if (strlen(name) == (size_t)l) { /* no NUL inside: findable by a C string */
            idx = UINT64_MAX;
            FUZZ_CHECKF(ggdm_st_find(f, n, t, nt, name, &idx, msg) == GGDM_OK, "%s", msg);
            FUZZ_CHECK(idx == i);
            idx = UINT64_MAX;
            FUZZ_CHECK(ggdm_st_find_prefixed(f, n, t, nt, "", name, &idx, msg) == GGDM_OK && idx == i);
        }
        free(name);
        /* the data */
        if (t[i].dtype == GGDM_ST_F32) {
            float *out = (float *)malloc(sizeof(float) * (size_t)(t[i].count + 1));
            uint64_t k;
            FUZZ_CHECK(out != NULL);
            FUZZ_CHECKF(ggdm_st_load_f32(f, n, &t[i], out, t[i].count, msg) == GGDM_OK, "%s", msg);
            for (k = 0; k < t[i].count; k++) {
                uint32_t b;
                memcpy(&b, &out[k], 4);
                FUZZ_CHECK(b == ggdm_le_load_u32(f + t[i].data_off + 4 * k));
            }
            if (t[i].count > 0)
                FUZZ_CHECK(ggdm_st_load_f32(f, n, &t[i], out, t[i].count - 1, msg) == GGDM_ERR_BUFFER_TOO_SMALL);
            free(out);
        } else {
            float one;
            FUZZ_CHECK(ggdm_st_load_f32(f, n, &t[i], &one, 1, msg) == GGDM_ERR_UNSUPPORTED);
        }
    }
    for (i = 0; i < nm; i++) {
        char *key = decode(f, n, m[i].key_off, m[i].key_len, &l), *val;
        uint64_t vl;
        val = decode(f, n, m[i].value_off, m[i].value_len, &vl);
        if (strlen(key) == (size_t)l) {
            idx = UINT64_MAX;
            FUZZ_CHECK(ggdm_st_find_meta(f, n, m, nm, key, &idx, msg) == GGDM_OK && idx == i);
        }
        /* sorted by decoded key, bytewise, unique */
        if (prev) {
            uint64_t c = prev_len < l ? prev_len : l;
            int r = memcmp(prev, key, (size_t)c);
            FUZZ_CHECK(r < 0 || (r == 0 && prev_len < l));
        }
        free(prev);
        prev = key;
        prev_len = l;
        free(val);
    }
    free(prev);
}

/* Writes the parsed entries again and parses the result. */
static void check_rewrite(const uint8_t *f, uint64_t n, const ggdm_st_tensor *t, uint64_t nt, const ggdm_st_meta *m,
                          uint64_t nm)
{
    ggdm_st_spec *specs = (ggdm_st_spec *)calloc((size_t)nt + 1, sizeof *specs);
    ggdm_st_kv *kv = (ggdm_st_kv *)calloc((size_t)nm + 1, sizeof *kv);
    char **strs = (char **)calloc((size_t)(nt + 2 * nm) + 1, sizeof *strs);
    uint64_t i, l, ns = 0, hb = 0, db = 0, written = 0, nt2 = 0, nm2 = 0;
    char msg[GGDM_ST_MSG_LEN];
    ggdm_st_tensor *t2 = NULL;
    ggdm_st_meta *m2 = NULL;
    uint8_t *out;
    ggdm_status st;
    int d, ok = 1;
    FUZZ_CHECK(specs && kv && strs);
    for (i = 0; i < nt; i++) {
        char *s = decode(f, n, t[i].name_off, t[i].name_len, &l);
        strs[ns++] = s;
        ok = ok && strlen(s) == (size_t)l;
        specs[i].name = s;
        specs[i].dtype = t[i].dtype;
        specs[i].ndim = t[i].ndim;
        for (d = 0; d < t[i].ndim; d++)
            specs[i].shape[d] = t[i].shape[d];
    }
    for (i = 0; i < nm; i++) {
        char *k = decode(f, n, m[i].key_off, m[i].key_len, &l), *v;
        uint64_t vl;
        strs[ns++] = k;
        ok = ok && strlen(k) == (size_t)l;
        v = decode(f, n, m[i].value_off, m[i].value_len, &vl);
        strs[ns++] = v;
        ok = ok && strlen(v) == (size_t)vl;
        kv[i].key = k;
        kv[i].value = v;
    }
    if (ok) { /* names with NUL inside cannot be given to the writer */
        st = ggdm_st_header_size(specs, nt, kv, nm, &hb, &db, msg);
        FUZZ_CHECKF(st == GGDM_OK, "the writer refuses what the reader accepted: %s", msg);
        FUZZ_CHECK(hb % 8 == 0 && hb >= 8);
        FUZZ_CHECK(db == n - (8u + ggdm_le_load_u64(f)));
        out = (uint8_t *)calloc((size_t)(hb + db) + 1, 1);
        FUZZ_CHECK(out != NULL);
        FUZZ_CHECK(ggdm_st_write_header(specs, nt, kv, nm, out, hb - 1, &written, msg) == GGDM_ERR_BUFFER_TOO_SMALL);
        st = ggdm_st_write_header(specs, nt, kv, nm, out, hb + db, &written, msg);
        FUZZ_CHECKF(st == GGDM_OK && written == hb, "%s", msg);
        st = parse(out, (size_t)(hb + db), &t2, &nt2, &m2, &nm2, msg);
        FUZZ_CHECKF(st == GGDM_OK, "a file ggdm wrote does not parse: %s", msg);
        FUZZ_CHECK(nt2 == nt && nm2 == nm);
        for (i = 0; i < nt; i++) {
            uint64_t idx = UINT64_MAX;
            FUZZ_CHECK(ggdm_st_find(out, hb + db, t2, nt2, specs[i].name, &idx, msg) == GGDM_OK);
            FUZZ_CHECK(t2[idx].dtype == t[i].dtype && t2[idx].ndim == t[i].ndim && t2[idx].count == t[i].count);
            for (d = 0; d < t[i].ndim; d++)
                FUZZ_CHECK(t2[idx].shape[d] == t[i].shape[d]);
        }
        for (i = 0; i < nm; i++) {
            uint64_t idx = UINT64_MAX, vl;
            char *v;
            FUZZ_CHECK(ggdm_st_find_meta(out, hb + db, m2, nm2, kv[i].key, &idx, msg) == GGDM_OK);
            v = decode(out, hb + db, m2[idx].value_off, m2[idx].value_len, &vl);
            FUZZ_CHECK(strcmp(v, kv[i].value) == 0);
            free(v);
        }
        free(out);
        free(t2);
        free(m2);
    }
    for (i = 0; i < ns; i++)
        free(strs[i]);
    free(strs);
    free(specs);
    free(kv);
}

/* The writer with a name of raw bytes: accepted exactly when it is valid UTF-8. */
static void check_raw_name(const uint8_t *data, size_t size)
{
    char name[48], msg[GGDM_ST_MSG_LEN];
    size_t l = size < sizeof name - 1 ? size : sizeof name - 1, k;
    ggdm_st_spec spec;
    ggdm_st_kv kv;
    uint64_t hb = 0, db = 0, written = 0, nt = 0, nm = 0, idx = 0;
    ggdm_status st;
    uint8_t *out;
    ggdm_st_tensor *t = NULL;
    ggdm_st_meta *m = NULL;
    memcpy(name, data, l);
    name[l] = 0;
    for (k = 0; k < l; k++)
        if (!name[k])
            break;
    l = k; /* up to the first NUL */
    memset(&spec, 0, sizeof spec);
    spec.name = name;
    spec.dtype = GGDM_ST_F32;
    spec.ndim = 2;
    spec.shape[0] = 2;
    spec.shape[1] = 3;
    kv.key = name;
    kv.value = name;
    st = ggdm_st_header_size(&spec, 1, &kv, 1, &hb, &db, msg);
    FUZZ_CHECK(fuzz_msg_ok(msg, sizeof msg));
    if (!utf8_valid((const uint8_t *)name, l) || strcmp(name, "__metadata__") == 0) {
        FUZZ_CHECKF(st == GGDM_ERR_ARG, "the writer accepts the name of %zu bytes that is not valid UTF-8", l);
        return;
    }
    FUZZ_CHECKF(st == GGDM_OK, "the writer refuses a valid UTF-8 name: %s", msg);
    FUZZ_CHECK(db == 24);
    out = (uint8_t *)calloc((size_t)(hb + db), 1);
    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK(ggdm_st_write_header(&spec, 1, &kv, 1, out, hb + db, &written, msg) == GGDM_OK);
    st = parse(out, (size_t)(hb + db), &t, &nt, &m, &nm, msg);
    FUZZ_CHECKF(st == GGDM_OK && nt == 1 && nm == 1, "%s", msg);
    FUZZ_CHECK(ggdm_st_find(out, hb + db, t, nt, name, &idx, msg) == GGDM_OK && idx == 0);
    FUZZ_CHECK(ggdm_st_find_meta(out, hb + db, m, nm, name, &idx, msg) == GGDM_OK && idx == 0);
    free(t);
    free(m);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[GGDM_ST_MSG_LEN];
    ggdm_st_tensor *t = NULL;
    ggdm_st_meta *m = NULL;
    uint64_t nt = 0, nm = 0;
    uint8_t *f = (uint8_t *)malloc(size ? size : 1); /* exactly sized: reads past it are reported */
    ggdm_status st;
    FUZZ_CHECK(f != NULL);
    if (size)
        memcpy(f, data, size);
    st = parse(f, size, &t, &nt, &m, &nm, msg);
    if (st == GGDM_OK && (nt > 0 || nm > 0)) {
        check_tensors(f, size, t, nt);
        check_lookups(f, size, t, nt, m, nm);
        check_rewrite(f, size, t, nt, m, nm);
    }
    free(t);
    free(m);
    free(f);
    check_raw_name(data, size);
    return 0;
}
