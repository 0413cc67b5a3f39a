/*
 * The golden-vector runner (see runner.h and docs/conformance.md). Front-end code:
 * it may allocate, print and touch files; the library it checks does none of that.
 */
#define _POSIX_C_SOURCE 200809L
#include "runner.h"

#include "../ref/cli/pool.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ggdm/backend.h"
#include "ggdm/exec.h"
#include "ggdm/hash.h"

/* ---------------------------------------------------------------- parameters */

const char *conf_param(const conf_call *c, const char *key)
{
    int i;
    for (i = 0; i < c->v->nparams; i++)
        if (strcmp(c->v->key[i], key) == 0)
            return c->v->val[i];
    return NULL;
}

ggdm_status conf_param_i64(conf_call *c, const char *key, long long def, long long *out)
{
    const char *s = conf_param(c, key);
    char *end;
    if (!s) {
        *out = def;
        return GGDM_OK;
    }
    errno = 0;
    *out = strtoll(s, &end, 0);
    if (errno || end == s || *end) {
        snprintf(c->err, sizeof c->err, "parameter %s=%s is not an integer", key, s);
        return GGDM_ERR_FORMAT;
    }
    return GGDM_OK;
}

ggdm_status conf_param_u64(conf_call *c, const char *key, unsigned long long def, unsigned long long *out)
{
    const char *s = conf_param(c, key);
    char *end;
    if (!s) {
        *out = def;
        return GGDM_OK;
    }
    errno = 0;
    *out = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-') {
        snprintf(c->err, sizeof c->err, "parameter %s=%s is not an unsigned integer", key, s);
        return GGDM_ERR_FORMAT;
    }
    return GGDM_OK;
}

ggdm_status conf_param_f64(conf_call *c, const char *key, double def, double *out)
{
    const char *s = conf_param(c, key);
    char *end;
    if (!s) {
        *out = def;
        return GGDM_OK;
    }
    errno = 0;
    *out = strtod(s, &end); /* decimal and C99 hex floats both parse exactly */
    if (end == s || *end) {
        snprintf(c->err, sizeof c->err, "parameter %s=%s is not a number", key, s);
        return GGDM_ERR_FORMAT;
    }
    return GGDM_OK;
}

static void join_path(char *out, size_t cap, const char *dir, const char *rel)
{
    snprintf(out, cap, "%s/%s", dir, rel);
}

ggdm_status conf_input(conf_call *c, const char *key, ggdm_array *a)
{
    const char *s = conf_param(c, key);
    char path[1024];
    if (!s || s[0] != '@') {
        snprintf(c->err, sizeof c->err, "input %s=@FILE.npy is missing", key);
        memset(a, 0, sizeof *a);
        return GGDM_ERR_FORMAT;
    }
    join_path(path, sizeof path, c->dir, s + 1);
    return ggdm_io_load_npy(path, a, c->err, sizeof c->err);
}

/* ------------------------------------------------------------------ manifest */

typedef struct manifest {
    char *text;      /* the file, with lines split in place */
    char **lines;    /* every line (comments kept, for rewriting) */
    int nlines;
    conf_vector *vec;
    int *vec_line;   /* index into lines of each vector */
    int nvec;
} manifest;

static void manifest_free(manifest *m)
{
    free(m->text);
    free(m->lines);
    free(m->vec);
    free(m->vec_line);
    memset(m, 0, sizeof *m);
}

static int copy_field(char *dst, size_t cap, const char *src, const char *what, int line, const char *path)
{
    if (strlen(src) >= cap) {
        fprintf(stderr, "%s:%d: field %s is longer than %zu characters\n", path, line, what, cap - 1);
        return -1;
    }
    strcpy(dst, src);
    return 0;
}

static int parse_params(conf_vector *v, const char *path)
{
    char buf[CONF_FIELD];
    char *p, *save = NULL;
    strcpy(buf, v->params);
    v->nparams = 0;
    if (strcmp(buf, "-") == 0 || buf[0] == 0)
        return 0;
    for (p = strtok_r(buf, ";", &save); p; p = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(p, '=');
        if (!eq || eq == p) {
            fprintf(stderr, "%s:%d: parameter '%s' is not key=value\n", path, v->line, p);
            return -1;
        }
        if (v->nparams == CONF_MAX_PARAMS) {
            fprintf(stderr, "%s:%d: more than %d parameters\n", path, v->line, CONF_MAX_PARAMS);
            return -1;
        }
        *eq = 0;
        if (strlen(p) >= sizeof v->key[0] || strlen(eq + 1) >= sizeof v->val[0]) {
            fprintf(stderr, "%s:%d: parameter '%s' is too long\n", path, v->line, p);
            return -1;
        }
        strcpy(v->key[v->nparams], p);
        strcpy(v->val[v->nparams], eq + 1);
        v->nparams++;
    }
    return 0;
}

static int manifest_load(const char *path, manifest *m)
{
    uint8_t *buf;
    uint64_t len, i;
    char err[512];
    int cap = 64, k;
    memset(m, 0, sizeof *m);
    if (ggdm_io_read_file(path, &buf, &len, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    m->text = (char *)realloc(buf, (size_t)len + 1);
    if (!m->text) {
        free(buf);
        return -1;
    }
    m->text[len] = 0;
    for (i = 0; i < len; i++)
        if (m->text[i] == 0) {
            fprintf(stderr, "%s: contains a NUL byte at offset %llu\n", path, (unsigned long long)i);
            manifest_free(m);
            return -1;
        }
    m->lines = (char **)malloc(sizeof(char *) * (size_t)(len + 2));
    if (!m->lines) {
        manifest_free(m);
        return -1;
    }
    {
        char *p = m->text;
        while (*p) {
            char *nl = strchr(p, '\n');
            m->lines[m->nlines++] = p;
            if (!nl)
                break;
            *nl = 0;
            p = nl + 1;
        }
    }
    m->vec = (conf_vector *)calloc((size_t)cap, sizeof *m->vec);
    m->vec_line = (int *)calloc((size_t)cap, sizeof *m->vec_line);
    for (k = 0; k < m->nlines; k++) {
        char tmp[4096];
        char *f[8] = {0}, *p, *tab;
        int nf = 0;
        conf_vector *v;
        if (m->lines[k][0] == 0 || m->lines[k][0] == '#')
            continue;
        if (strlen(m->lines[k]) >= sizeof tmp) {
            fprintf(stderr, "%s:%d: line too long\n", path, k + 1);
            manifest_free(m);
            return -1;
        }
        strcpy(tmp, m->lines[k]);
        p = tmp;
        while (nf < 8) {
            f[nf++] = p;
            tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = 0;
            p = tab + 1;
        }
        if (nf < 7 || (nf == 8 && strchr(f[7], '\t'))) {
            fprintf(stderr, "%s:%d: expected 8 tab-separated fields (id op params expect xxh3 tolerance flags comment), found %d\n",
                    path, k + 1, nf);
            manifest_free(m);
            return -1;
        }
        if (m->nvec == cap) {
            cap *= 2;
            m->vec = (conf_vector *)realloc(m->vec, sizeof *m->vec * (size_t)cap);
            m->vec_line = (int *)realloc(m->vec_line, sizeof *m->vec_line * (size_t)cap);
        }
        v = &m->vec[m->nvec];
        memset(v, 0, sizeof *v);
        v->line = k + 1;
        if (copy_field(v->id, sizeof v->id, f[0], "id", k + 1, path) ||
            copy_field(v->op, sizeof v->op, f[1], "op", k + 1, path) ||
            copy_field(v->params, sizeof v->params, f[2], "params", k + 1, path) ||
            copy_field(v->expect, sizeof v->expect, f[3], "expect", k + 1, path) ||
            copy_field(v->xxh3, sizeof v->xxh3, f[4], "xxh3", k + 1, path) ||
            copy_field(v->tolerance, sizeof v->tolerance, f[5], "tolerance", k + 1, path) ||
            copy_field(v->flags, sizeof v->flags, f[6], "flags", k + 1, path) ||
            copy_field(v->comment, sizeof v->comment, nf == 8 ? f[7] : "", "comment", k + 1, path) ||
            parse_params(v, path)) {
            manifest_free(m);
            return -1;
        }
        {
            int j;
            for (j = 0; j < m->nvec; j++)
                if (strcmp(m->vec[j].id, v->id) == 0) {
                    fprintf(stderr, "%s:%d: duplicate vector id %s (first on line %d)\n", path, k + 1, v->id,
                            m->vec[j].line);
                    manifest_free(m);
                    return -1;
                }
        }
        m->vec_line[m->nvec] = k;
        m->nvec++;
    }
    return 0;
}

/* ---------------------------------------------------------- error expectations */

static const struct {
    const char *name;
    ggdm_status st;
} status_names[] = {
    {"ARG", GGDM_ERR_ARG},           {"BUFFER_TOO_SMALL", GGDM_ERR_BUFFER_TOO_SMALL},
    {"NONFINITE", GGDM_ERR_NONFINITE}, {"UNSUPPORTED", GGDM_ERR_UNSUPPORTED},
    {"FORMAT", GGDM_ERR_FORMAT},     {"IO", GGDM_ERR_IO},
};

static int expected_error(const conf_vector *v, ggdm_status *st)
{
    size_t i;
    if (strncmp(v->expect, "error:", 6) != 0)
        return 0;
    for (i = 0; i < sizeof status_names / sizeof status_names[0]; i++)
        if (strcmp(v->expect + 6, status_names[i].name) == 0) {
            *st = status_names[i].st;
            return 1;
        }
    *st = GGDM_OK;
    return -1;
}

static const char *status_name(ggdm_status st)
{
    size_t i;
    for (i = 0; i < sizeof status_names / sizeof status_names[0]; i++)
        if (status_names[i].st == st)
            return status_names[i].name;
    return st == GGDM_OK ? "OK" : "?";
}

/* ------------------------------------------------------------------- hashing */

static uint64_t array_hash(const ggdm_array *a)
{
    switch (a->dtype) {
    case GGDM_DT_F32: return ggdm_hash_f32((const float *)a->data, a->count);
    case GGDM_DT_F64: return ggdm_hash_f64((const double *)a->data, a->count);
    case GGDM_DT_I64: return ggdm_hash_i64((const int64_t *)a->data, a->count);
    case GGDM_DT_U32: return ggdm_hash_u32((const uint32_t *)a->data, a->count);
    }
    return 0;
}

/* ---------------------------------------------------------------- comparison */

static void index_str(const ggdm_array *a, uint64_t flat, char *buf, size_t cap)
{
    uint64_t idx[GGDM_NPY_MAX_DIMS];
    size_t used = 0;
    int d;
    for (d = a->ndim - 1; d >= 0; d--) {
        idx[d] = a->shape[d] ? flat % a->shape[d] : 0;
        flat = a->shape[d] ? flat / a->shape[d] : 0;
    }
    used += (size_t)snprintf(buf, cap, "[");
    for (d = 0; d < a->ndim && used < cap; d++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%llu", d ? ", " : "", (unsigned long long)idx[d]);
    if (used < cap)
        snprintf(buf + used, cap - used, "]");
}

static void value_str(const ggdm_array *a, uint64_t i, char *buf, size_t cap)
{
    switch (a->dtype) {
    case GGDM_DT_F32: {
        float x = ((const float *)a->data)[i];
        uint32_t b;
        memcpy(&b, &x, 4);
        snprintf(buf, cap, "%.9g (0x%08x)", (double)x, (unsigned)b);
        break;
    }
    case GGDM_DT_F64: {
        double x = ((const double *)a->data)[i];
        uint64_t b;
        memcpy(&b, &x, 8);
        snprintf(buf, cap, "%.17g (0x%016llx)", x, (unsigned long long)b);
        break;
    }
    case GGDM_DT_I64: snprintf(buf, cap, "%lld", (long long)((const int64_t *)a->data)[i]); break;
    case GGDM_DT_U32: snprintf(buf, cap, "0x%08x", (unsigned)((const uint32_t *)a->data)[i]); break;
    }
}

static double elem_f64(const ggdm_array *a, uint64_t i)
{
    switch (a->dtype) {
    case GGDM_DT_F32: return (double)((const float *)a->data)[i];
    case GGDM_DT_F64: return ((const double *)a->data)[i];
    case GGDM_DT_I64: return (double)((const int64_t *)a->data)[i];
    case GGDM_DT_U32: return (double)((const uint32_t *)a->data)[i];
    }
    return 0;
}

static int elem_bits_equal(const ggdm_array *a, const ggdm_array *b, uint64_t i)
{
    size_t s = ggdm_dtype_size(a->dtype);
    return memcmp((const char *)a->data + i * s, (const char *)b->data + i * s, s) == 0;
}

/* Ordered distance in ulps between two floats of the same type (NaNs: huge). */
static double ulp_distance(const ggdm_array *a, const ggdm_array *b, uint64_t i)
{
    if (a->dtype == GGDM_DT_F32) {
        int32_t x, y;
        float fx = ((const float *)a->data)[i], fy = ((const float *)b->data)[i];
        if (fx != fx || fy != fy)
            return (fx != fx && fy != fy) ? 0 : 1e300;
        memcpy(&x, &fx, 4);
        memcpy(&y, &fy, 4);
        if (x < 0) x = (int32_t)(0x80000000u - (uint32_t)x);
        if (y < 0) y = (int32_t)(0x80000000u - (uint32_t)y);
        return fabs((double)x - (double)y);
    }
    if (a->dtype == GGDM_DT_F64) {
        int64_t x, y;
        double fx = ((const double *)a->data)[i], fy = ((const double *)b->data)[i];
        if (fx != fx || fy != fy)
            return (fx != fx && fy != fy) ? 0 : 1e300;
        memcpy(&x, &fx, 8);
        memcpy(&y, &fy, 8);
        if (x < 0) x = (int64_t)(0x8000000000000000ull - (uint64_t)x);
        if (y < 0) y = (int64_t)(0x8000000000000000ull - (uint64_t)y);
        return fabs((double)x - (double)y);
    }
    return elem_bits_equal(a, b, i) ? 0 : 1e300;
}

typedef struct tolerance {
    int exact;
    double abs, rel, ulp;
} tolerance;

static int parse_tolerance(const char *s, tolerance *t)
{
    char buf[128], *p, *save = NULL;
    memset(t, 0, sizeof *t);
    t->ulp = -1;
    if (strcmp(s, "exact") == 0 || strcmp(s, "-") == 0) {
        t->exact = 1;
        return 0;
    }
    snprintf(buf, sizeof buf, "%s", s);
    for (p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        char *end;
        double *dst = strncmp(p, "abs=", 4) == 0 ? &t->abs
                      : strncmp(p, "rel=", 4) == 0 ? &t->rel
                      : strncmp(p, "ulp=", 4) == 0 ? &t->ulp : NULL;
        if (!dst)
            return -1;
        *dst = strtod(p + 4, &end);
        if (end == p + 4 || *end || *dst < 0)
            return -1;
    }
    return 0;
}

/* Returns 0 when got matches want under the rule; prints the first failure otherwise. */
static int compare(const conf_vector *v, const ggdm_array *got, const ggdm_array *want, int exact_impl,
                   const tolerance *tol, char *why, size_t cap)
{
    char gs[96], ws[96], is[96], gd[96], wd[96];
    uint64_t i, bad = 0, first = 0;
    double max_abs = 0, max_rel = 0;
    int bitwise = exact_impl || tol->exact || got->dtype == GGDM_DT_I64 || got->dtype == GGDM_DT_U32;
    int d;
    ggdm_array_describe(got, gd, sizeof gd);
    ggdm_array_describe(want, wd, sizeof wd);
    if (got->dtype != want->dtype || got->ndim != want->ndim) {
        snprintf(why, cap, "output is %s, expected %s", gd, wd);
        return -1;
    }
    for (d = 0; d < got->ndim; d++)
        if (got->shape[d] != want->shape[d]) {
            snprintf(why, cap, "output is %s, expected %s", gd, wd);
            return -1;
        }
    for (i = 0; i < got->count; i++) {
        int ok;
        if (bitwise) {
            ok = elem_bits_equal(got, want, i);
        } else {
            double g = elem_f64(got, i), w = elem_f64(want, i);
            double ad = fabs(g - w), rd = w != 0 ? ad / fabs(w) : (ad == 0 ? 0 : INFINITY);
            if (g != g || w != w)
                ok = (g != g) && (w != w);
            else if (isinf(g) || isinf(w))
                ok = g == w;
            else {
                ok = ad <= tol->abs + tol->rel * fabs(w);
                if (!ok && tol->ulp >= 0)
                    ok = ulp_distance(got, want, i) <= tol->ulp;
                if (ad > max_abs) max_abs = ad;
                if (rd > max_rel) max_rel = rd;
            }
        }
        if (!ok && bad++ == 0)
            first = i;
    }
    (void)v;
    if (!bad)
        return 0;
    value_str(got, first, gs, sizeof gs);
    value_str(want, first, ws, sizeof ws);
    index_str(got, first, is, sizeof is);
    if (bitwise)
        snprintf(why, cap, "%llu of %llu elements of %s differ; first at flat index %llu %s: got %s, expected %s",
                 (unsigned long long)bad, (unsigned long long)got->count, gd, (unsigned long long)first, is, gs, ws);
    else
        snprintf(why, cap,
                 "%llu of %llu elements of %s outside tolerance (%s); first at flat index %llu %s: got %s, "
                 "expected %s; max abs err %.3g, max rel err %.3g",
                 (unsigned long long)bad, (unsigned long long)got->count, gd, v->tolerance,
                 (unsigned long long)first, is, gs, ws, max_abs, max_rel);
    return -1;
}

/* ---------------------------------------------------------- stored file check */

static int file_hash(const char *path, uint64_t *h, char *err, size_t cap)
{
    uint8_t *buf;
    uint64_t len;
    if (ggdm_io_read_file(path, &buf, &len, err, cap) != GGDM_OK)
        return -1;
    *h = ggdm_hash_bytes(buf, len);
    free(buf);
    return 0;
}

/* Verifies every line "HASH  PATH" of files.xxh3; returns the number of bad files. */
static int check_stored_files(const char *dir, int *nfiles)
{
    char path[1024], err[512];
    uint8_t *buf;
    uint64_t len;
    char *p, *save = NULL;
    int bad = 0;
    *nfiles = 0;
    join_path(path, sizeof path, dir, "files.xxh3");
    if (ggdm_io_read_file(path, &buf, &len, err, sizeof err) != GGDM_OK) {
        printf("FAIL stored files: %s (run `make vectors` only after a deliberate change of the math)\n", err);
        return 1;
    }
    buf = (uint8_t *)realloc(buf, (size_t)len + 1);
    buf[len] = 0;
    for (p = strtok_r((char *)buf, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
        char hex[17], fpath[1024];
        unsigned long long want;
        uint64_t got;
        if (p[0] == '#' || p[0] == 0)
            continue;
        if (strlen(p) < 19 || p[16] != ' ' || p[17] != ' ' || sscanf(p, "%16llx", &want) != 1) {
            printf("FAIL stored files: malformed line in files.xxh3: '%s'\n", p);
            bad++;
            continue;
        }
        (*nfiles)++;
        join_path(fpath, sizeof fpath, dir, p + 18);
        if (file_hash(fpath, &got, err, sizeof err) != 0) {
            printf("FAIL stored file %s: %s\n", p + 18, err);
            bad++;
        } else if (got != (uint64_t)want) {
            ggdm_hash_hex(got, hex);
            printf("FAIL stored file %s was altered: xxh3 %s, files.xxh3 records %016llx\n", p + 18, hex, want);
            bad++;
        }
    }
    free(buf);
    return bad;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int write_files_list(const char *dir, const manifest *m)
{
    char **names = (char **)calloc((size_t)m->nvec * (CONF_MAX_PARAMS + 1) + 1, sizeof *names);
    int n = 0, i, j, rc = 0;
    size_t cap = 4096, used = 0;
    char *out = (char *)malloc(cap), path[1024], err[512];
    for (i = 0; i < m->nvec; i++) {
        const conf_vector *v = &m->vec[i];
        if (strncmp(v->expect, "error:", 6) != 0)
            names[n++] = (char *)v->expect;
        for (j = 0; j < v->nparams; j++)
            if (v->val[j][0] == '@')
                names[n++] = (char *)v->val[j] + 1;
    }
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    used = (size_t)snprintf(out, cap, "# XXH3-64 of every stored vector file; written by `make vectors`, checked by `make conformance`.\n");
    for (i = 0; i < n; i++) {
        uint64_t h;
        char hex[17];
        if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
            continue;
        join_path(path, sizeof path, dir, names[i]);
        if (file_hash(path, &h, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            rc = -1;
            continue;
        }
        ggdm_hash_hex(h, hex);
        while (used + strlen(names[i]) + 32 > cap) {
            cap *= 2;
            out = (char *)realloc(out, cap);
        }
        used += (size_t)snprintf(out + used, cap - used, "%s  %s\n", hex, names[i]);
    }
    join_path(path, sizeof path, dir, "files.xxh3");
    if (rc == 0 && ggdm_io_write_file(path, out, used, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "%s\n", err);
        rc = -1;
    }
    free(out);
    free(names);
    return rc;
}

static int write_manifest(const char *path, manifest *m)
{
    size_t cap = 1 << 16, used = 0;
    char *out = (char *)malloc(cap), err[512];
    int k, vi = 0, rc = 0;
    for (k = 0; k < m->nlines; k++) {
        char line[4096];
        if (vi < m->nvec && m->vec_line[vi] == k) {
            const conf_vector *v = &m->vec[vi++];
            snprintf(line, sizeof line, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", v->id, v->op, v->params, v->expect, v->xxh3,
                     v->tolerance, v->flags, v->comment);
        } else {
            snprintf(line, sizeof line, "%s", m->lines[k]);
        }
        if (k == m->nlines - 1 && line[0] == 0)
            break;
        while (used + strlen(line) + 2 > cap) {
            cap *= 2;
            out = (char *)realloc(out, cap);
        }
        used += (size_t)snprintf(out + used, cap - used, "%s\n", line);
    }
    if (ggdm_io_write_file(path, out, used, err, sizeof err) != GGDM_OK) {
        fprintf(stderr, "%s\n", err);
        rc = -1;
    }
    free(out);
    return rc;
}

/* ---------------------------------------------------------------------- main */

static const conf_op *find_op(const conf_impl *impl, const char *name)
{
    int i;
    for (i = 0; i < impl->nops; i++)
        if (strcmp(impl->ops[i].name, name) == 0)
            return &impl->ops[i];
    return NULL;
}

static void usage(FILE *f, int regenerate)
{
    if (regenerate)
        fprintf(f,
                "usage: ggdm vectors [--vectors DIR] [--filter TEXT]\n"
                "Recomputes every golden vector with the reference and rewrites the stored .npy files,\n"
                "the manifest's xxh3 column and files.xxh3 (of DIR and of DIR/ops). Only after a deliberate change of the math,\n"
                "documented in docs/math.md: golden vectors are evidence, not fixtures.\n");
    else
        fprintf(f,
                "usage: ggdm conformance [--vectors DIR] [--filter TEXT] [--list] [--verbose] [--threads N]\n"
                "                        [--backend cpu|elem]\n"
                "Recomputes every golden vector of DIR/manifest.tsv (default: vectors), then of DIR/ops/manifest.tsv\n"
                "(every op of ggdm/ops.def through the backend's op table), and compares it with\n"
                "the stored result: bit for bit for an exact implementation, within the vector's tolerance\n"
                "otherwise. Fails naming the vector and the first differing element. Exit status 0 when\n"
                "every vector passes, 1 when one fails, 2 on a usage or manifest error. --threads N (default\n"
                "1) runs the network, sampling and training with N threads: the results must not change.\n"
                "--backend runs the score network's layers on that backend (ggdm/backend.h): cpu, the\n"
                "library's layer functions; elem, the per-element functions of ggdm/elem.h looped on the\n"
                "host as the CUDA exact mode runs them (slow). Default: the front end's own choice.\n");
}

/* What one run of the vectors shares across its manifests (the main one and vectors/ops). */
typedef struct conf_run {
    const conf_impl *impl;
    const char *filter;
    int verbose, list, regenerate, threads;
    const ggdm_unet_backend *backend;
    int pass, fail, skip;
} conf_run;

/* Runs (or regenerates, or lists) the vectors of DIR/manifest.tsv; paths in it are relative
 * to DIR. Returns -1 when the manifest cannot be read (a usage error), else 0 (counts in r). */
static int run_manifest(conf_run *r, const char *dir, int sub)
{
    const conf_impl *impl = r->impl;
    const char *filter = r->filter;
    int verbose = r->verbose, regenerate = r->regenerate, threads = r->threads, i;
    int pass = 0, fail = 0, skip = 0, nfiles = 0, bad_files = 0;
    const ggdm_unet_backend *backend = r->backend;
    static ggdm_exec bex; /* ggdm_cli_exec(threads) with .unet = backend */
    char mpath[1024];
    manifest m;
    join_path(mpath, sizeof mpath, dir, "manifest.tsv");
    if (manifest_load(mpath, &m) != 0)
        return -1;
    if (r->list) {
        for (i = 0; i < m.nvec; i++)
            printf("%-40s %-12s %s\n", m.vec[i].id, m.vec[i].op, m.vec[i].comment);
        manifest_free(&m);
        return 0;
    }
    if (!regenerate) {
        bad_files = check_stored_files(dir, &nfiles);
        if (verbose || bad_files)
            printf("%s stored files%s%s%s: %d checked, %d altered or missing\n", bad_files ? "FAIL" : "ok  ",
                   sub ? " (" : "", sub ? dir : "", sub ? ")" : "", nfiles, bad_files);
    }
    for (i = 0; i < m.nvec; i++) {
        conf_vector *v = &m.vec[i];
        const conf_op *op;
        conf_call c;
        ggdm_status want_st = GGDM_OK, st;
        int want_err = expected_error(v, &want_st);
        tolerance tol;
        char why[1024];
        if (filter && !strstr(v->id, filter))
            continue;
        if (want_err < 0 || parse_tolerance(v->tolerance, &tol) != 0) {
            printf("FAIL %s (manifest line %d): bad expect '%s' or tolerance '%s'\n", v->id, v->line, v->expect,
                   v->tolerance);
            fail++;
            continue;
        }
        op = find_op(impl, v->op);
        if (!op) {
            printf("SKIP %s: op '%s' is not implemented by %s\n", v->id, v->op, impl->name);
            skip++;
            continue;
        }
        memset(&c, 0, sizeof c);
        c.v = v;
        c.dir = dir;
        c.ex = ggdm_cli_exec(threads);
        if (backend) {
            bex = *c.ex;
            bex.unet = backend;
            c.ex = &bex;
        }
        st = op->fn(&c);
        if (c.skip && !want_err) {
            printf("SKIP %s: %s\n", v->id, c.err);
            skip++;
            ggdm_array_free(&c.out);
            continue;
        }
        if (want_err) {
            if (st == want_st) {
                pass++;
                if (verbose)
                    printf("ok   %s: rejected as expected (%s: %s)\n", v->id, status_name(st), c.err);
            } else {
                fail++;
                printf("FAIL %s [%s]: expected error %s, got %s%s%s\n", v->id, v->flags, status_name(want_st),
                       status_name(st), c.err[0] ? ": " : "", c.err);
            }
            ggdm_array_free(&c.out);
            continue;
        }
        if (st != GGDM_OK) {
            fail++;
            printf("FAIL %s [%s]: %s: %s\n", v->id, v->flags, ggdm_status_str(st), c.err);
            ggdm_array_free(&c.out);
            continue;
        }
        if (regenerate) {
            char path[1024], err[512], hex[17];
            join_path(path, sizeof path, dir, v->expect);
            char parent[1024], *slash;
            snprintf(parent, sizeof parent, "%s", path);
            slash = strrchr(parent, '/');
            if (slash)
                *slash = 0;
            if ((slash && ggdm_io_mkdirs(parent) != 0) || ggdm_io_save_npy(path, &c.out, err, sizeof err) != GGDM_OK) {
                printf("FAIL %s: cannot write %s: %s\n", v->id, path, err);
                fail++;
            } else {
                ggdm_hash_hex(array_hash(&c.out), hex);
                if (strcmp(hex, v->xxh3) != 0 && verbose)
                    printf("new  %s: xxh3 %s (was %s)\n", v->id, hex, v->xxh3);
                strcpy(v->xxh3, hex);
                pass++;
            }
        } else {
            char path[1024], err[512], hex[17];
            ggdm_array want;
            int hash_ok;
            ggdm_hash_hex(array_hash(&c.out), hex);
            hash_ok = strcmp(hex, v->xxh3) == 0;
            join_path(path, sizeof path, dir, v->expect);
            if (ggdm_io_load_npy(path, &want, err, sizeof err) != GGDM_OK) {
                printf("FAIL %s: cannot read the stored result: %s\n", v->id, err);
                fail++;
            } else if (compare(v, &c.out, &want, impl->exact, &tol, why, sizeof why) != 0) {
                printf("FAIL %s [%s]: %s\n", v->id, v->flags, why);
                fail++;
            } else if (impl->exact && !hash_ok) {
                printf("FAIL %s [%s]: xxh3 %s, manifest records %s (the stored file agrees with the output, so the "
                       "manifest was altered)\n",
                       v->id, v->flags, hex, v->xxh3);
                fail++;
            } else {
                pass++;
                if (verbose)
                    printf("ok   %s: %s\n", v->id, impl->exact ? hex : "within tolerance");
            }
            ggdm_array_free(&want);
        }
        ggdm_array_free(&c.out);
    }
    if (regenerate && fail == 0) {
        if (write_manifest(mpath, &m) != 0 || write_files_list(dir, &m) != 0)
            fail++;
    }
    if (bad_files)
        fail += bad_files;
    manifest_free(&m);
    r->pass += pass;
    r->fail += fail;
    r->skip += skip;
    return 0;
}

/* Manifests of their own below the vectors folder, run after the main one (docs/conformance.md,
 * "Per-op vectors"): DIR/<sub>/manifest.tsv with its own files.xxh3; paths relative to DIR/<sub>. */
static const char *const sub_manifests[] = {"ops"};

int conf_main(int argc, char **argv, const conf_impl *impl, int regenerate)
{
    const char *dir = "vectors", *filter = NULL;
    int verbose = 0, list = 0, threads = 1, i;
    size_t k;
    const ggdm_unet_backend *backend = NULL; /* --backend; NULL: ggdm_cli_exec's own */
    conf_run run;
    memset(&run, 0, sizeof run);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--vectors") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc)
            filter = argv[++i];
        else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0)
            verbose = 1;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 1024) {
                fprintf(stderr, "ggdm conformance: --threads must be an integer in [1, 1024], not '%s'\n", argv[i]);
                return 2;
            }
            threads = (int)n;
        } else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
            const char *b = argv[++i];
            if (strcmp(b, "cpu") == 0)
                backend = ggdm_unet_backend_cpu();
            else if (strcmp(b, "elem") == 0)
                backend = ggdm_unet_backend_elem();
            else {
                fprintf(stderr, "ggdm conformance: --backend must be cpu or elem, not '%s'\n", b);
                return 2;
            }
        } else if (strcmp(argv[i], "--list") == 0)
            list = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout, regenerate);
            return 0;
        } else {
            fprintf(stderr, "ggdm %s: unknown or incomplete option '%s'\n", regenerate ? "vectors" : "conformance",
                    argv[i]);
            usage(stderr, regenerate);
            return 2;
        }
    }
    run.impl = impl;
    run.filter = filter;
    run.verbose = verbose;
    run.list = list;
    run.regenerate = regenerate;
    run.threads = threads;
    run.backend = backend;
    if (run_manifest(&run, dir, 0) != 0)
        return 2;
    for (k = 0; k < sizeof sub_manifests / sizeof sub_manifests[0]; k++) {
        char sub[1024], spath[1100];
        join_path(sub, sizeof sub, dir, sub_manifests[k]);
        snprintf(spath, sizeof spath, "%s/manifest.tsv", sub);
        if (!ggdm_io_exists(spath)) {
            if (!list) {
                printf("SKIP %s: not present (its vectors were not run)\n", spath);
                run.skip++;
            }
        } else if (run_manifest(&run, sub, 1) != 0) {
            return 2;
        }
    }
    if (list)
        return 0;
    printf("implementation %s, vectors %s%s%s\n", impl->name, dir, backend ? ", backend " : "",
           backend ? backend->name : "");
    printf("%s: %d passed, %d failed, %d skipped\n", regenerate ? "vectors" : "conformance", run.pass, run.fail,
           run.skip);
    return run.fail ? 1 : 0;
}
