/* Model folders, config.json accessors, weight sets, parameter tables (model_dir.h). */
#define _POSIX_C_SOURCE 200809L
#include "model_dir.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ggdm/bytes.h"

typedef unsigned long long ull;

static ggdm_status efail(char *err, size_t errcap, ggdm_status st, const char *fmt, ...)
{
    va_list ap;
    if (err && errcap) {
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return st;
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s);
    char *d = (char *)malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

static char *joinpath(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = (char *)malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static const char *shown(char *b, size_t cap, const char *s)
{
    return ggdm_io_shown(b, cap, s, strlen(s));
}

static void show_shape(char *out, size_t cap, int ndim, const uint64_t *shape)
{
    size_t n = 0;
    int i;
    n += (size_t)snprintf(out + n, cap - n, "[");
    for (i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, i ? ", %llu" : "%llu", (ull)shape[i]);
    if (n < cap)
        snprintf(out + n, cap - n, "]");
}

/* ------------------------------------------------------------------ config.json */

ggdm_status ggdm_cli_cfg_load(ggdm_cli_cfg *c, const char *path, char *err, size_t errcap)
{
    ggdm_status st;
    if (!c || !path)
        return GGDM_ERR_ARG;
    memset(c, 0, sizeof *c);
    st = ggdm_jv_parse_file(path, NULL, &c->root, err, errcap);
    if (st != GGDM_OK)
        return st;
    if (c->root->kind != GGDM_JV_OBJ) {
        ggdm_jv_kind k = c->root->kind;
        ggdm_jv_free(c->root);
        c->root = NULL;
        return efail(err, errcap, GGDM_ERR_FORMAT, "%s: the top level is %s, not an object", path,
                     ggdm_jv_kind_name(k));
    }
    c->path = dupstr(path);
    if (!c->path) {
        ggdm_cli_cfg_free(c);
        return efail(err, errcap, GGDM_ERR_IO, "%s: out of memory", path);
    }
    return GGDM_OK;
}

void ggdm_cli_cfg_free(ggdm_cli_cfg *c)
{
    if (!c)
        return;
    ggdm_jv_free(c->root);
    free(c->path);
    memset(c, 0, sizeof *c);
}

const ggdm_jv *ggdm_cli_cfg_get(const ggdm_cli_cfg *c, const char *key)
{
    return c ? ggdm_jv_get(c->root, key) : NULL;
}

int ggdm_cli_cfg_has(const ggdm_cli_cfg *c, const char *key)
{
    const ggdm_jv *v = ggdm_cli_cfg_get(c, key);
    return v && v->kind != GGDM_JV_NULL;
}

static const char *cpath(const ggdm_cli_cfg *c)
{
    return c && c->path ? c->path : "config";
}

static ggdm_status type_err(const ggdm_cli_cfg *c, const char *key, const char *what, const ggdm_jv *v,
                            char *err, size_t errcap)
{
    char k[64];
    if (v && v->kind == GGDM_JV_NUM && !strcmp(what, "an integer"))
        return efail(err, errcap, GGDM_ERR_FORMAT, "%s: key '%s': expected an integer, found %.17g", cpath(c),
                     shown(k, sizeof k, key), v->num);
    return efail(err, errcap, GGDM_ERR_FORMAT, "%s: key '%s': expected %s, found %s", cpath(c),
                 shown(k, sizeof k, key), what, v ? ggdm_jv_kind_name(v->kind) : "nothing");
}

/* The value of a required key, or an error. */
static const ggdm_jv *need(const ggdm_cli_cfg *c, const char *key, ggdm_status *st, char *err, size_t errcap)
{
    const ggdm_jv *v;
    char k[64];
    if (!c || !c->root || !key) {
        *st = efail(err, errcap, GGDM_ERR_ARG, "config: null argument");
        return NULL;
    }
    v = ggdm_cli_cfg_get(c, key);
    if (!v || v->kind == GGDM_JV_NULL) {
        *st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: key '%s' is missing%s", cpath(c), shown(k, sizeof k, key),
                    v ? " (null)" : "");
        return NULL;
    }
    *st = GGDM_OK;
    return v;
}

static ggdm_status as_int(const ggdm_cli_cfg *c, const char *key, const ggdm_jv *v, long long *out, char *err,
                          size_t errcap)
{
    if (v->kind != GGDM_JV_NUM || !v->is_int)
        return type_err(c, key, "an integer", v, err, errcap);
    *out = v->i;
    return GGDM_OK;
}

ggdm_status ggdm_cli_cfg_int(const ggdm_cli_cfg *c, const char *key, long long *out, char *err, size_t errcap)
{
    ggdm_status st;
    const ggdm_jv *v = need(c, key, &st, err, errcap);
    if (!v)
        return st;
    return as_int(c, key, v, out, err, errcap);
}

ggdm_status ggdm_cli_cfg_int_or(const ggdm_cli_cfg *c, const char *key, long long dflt, long long *out, char *err,
                                size_t errcap)
{
    if (!ggdm_cli_cfg_has(c, key)) {
        *out = dflt;
        return GGDM_OK;
    }
    return ggdm_cli_cfg_int(c, key, out, err, errcap);
}

ggdm_status ggdm_cli_cfg_float(const ggdm_cli_cfg *c, const char *key, double *out, char *err, size_t errcap)
{
    ggdm_status st;
    const ggdm_jv *v = need(c, key, &st, err, errcap);
    if (!v)
        return st;
    if (v->kind != GGDM_JV_NUM)
        return type_err(c, key, "a number", v, err, errcap);
    *out = v->num;
    return GGDM_OK;
}

ggdm_status ggdm_cli_cfg_float_or(const ggdm_cli_cfg *c, const char *key, double dflt, double *out, char *err,
                                  size_t errcap)
{
    if (!ggdm_cli_cfg_has(c, key)) {
        *out = dflt;
        return GGDM_OK;
    }
    return ggdm_cli_cfg_float(c, key, out, err, errcap);
}

ggdm_status ggdm_cli_cfg_bool(const ggdm_cli_cfg *c, const char *key, int *out, char *err, size_t errcap)
{
    ggdm_status st;
    const ggdm_jv *v = need(c, key, &st, err, errcap);
    if (!v)
        return st;
    if (v->kind != GGDM_JV_BOOL)
        return type_err(c, key, "a boolean", v, err, errcap);
    *out = v->b;
    return GGDM_OK;
}

ggdm_status ggdm_cli_cfg_bool_or(const ggdm_cli_cfg *c, const char *key, int dflt, int *out, char *err,
                                 size_t errcap)
{
    if (!ggdm_cli_cfg_has(c, key)) {
        *out = dflt;
        return GGDM_OK;
    }
    return ggdm_cli_cfg_bool(c, key, out, err, errcap);
}

ggdm_status ggdm_cli_cfg_str(const ggdm_cli_cfg *c, const char *key, const char **out, char *err, size_t errcap)
{
    ggdm_status st;
    const ggdm_jv *v = need(c, key, &st, err, errcap);
    if (!v)
        return st;
    if (v->kind != GGDM_JV_STR)
        return type_err(c, key, "a string", v, err, errcap);
    *out = v->s;
    return GGDM_OK;
}

ggdm_status ggdm_cli_cfg_str_or(const ggdm_cli_cfg *c, const char *key, const char *dflt, const char **out,
                                char *err, size_t errcap)
{
    if (!ggdm_cli_cfg_has(c, key)) {
        *out = dflt;
        return GGDM_OK;
    }
    return ggdm_cli_cfg_str(c, key, out, err, errcap);
}

static const ggdm_jv *need_array(const ggdm_cli_cfg *c, const char *key, int cap, ggdm_status *st, char *err,
                                 size_t errcap)
{
    char k[64];
    const ggdm_jv *v = need(c, key, st, err, errcap);
    if (!v)
        return NULL;
    if (v->kind != GGDM_JV_ARR) {
        *st = type_err(c, key, "an array", v, err, errcap);
        return NULL;
    }
    if (cap < 0 || v->n > (size_t)cap) {
        *st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: key '%s': the array has %llu elements, at most %d", cpath(c),
                    shown(k, sizeof k, key), (ull)v->n, cap);
        return NULL;
    }
    return v;
}

static ggdm_status elem_err(const ggdm_cli_cfg *c, const char *key, size_t i, const char *what, const ggdm_jv *e,
                            char *err, size_t errcap)
{
    char k[64];
    return efail(err, errcap, GGDM_ERR_FORMAT, "%s: key '%s': element %llu: expected %s, found %s", cpath(c),
                 shown(k, sizeof k, key), (ull)i, what, ggdm_jv_kind_name(e->kind));
}

ggdm_status ggdm_cli_cfg_ints(const ggdm_cli_cfg *c, const char *key, long long *out, int cap, int *n, char *err,
                              size_t errcap)
{
    ggdm_status st;
    size_t i;
    const ggdm_jv *v = need_array(c, key, cap, &st, err, errcap);
    if (!v)
        return st;
    for (i = 0; i < v->n; i++) {
        const ggdm_jv *e = &v->items[i];
        if (e->kind != GGDM_JV_NUM || !e->is_int)
            return elem_err(c, key, i, "an integer", e, err, errcap);
        out[i] = e->i;
    }
    *n = (int)v->n;
    return GGDM_OK;
}

ggdm_status ggdm_cli_cfg_floats(const ggdm_cli_cfg *c, const char *key, double *out, int cap, int *n, char *err,
                                size_t errcap)
{
    ggdm_status st;
    size_t i;
    const ggdm_jv *v = need_array(c, key, cap, &st, err, errcap);
    if (!v)
        return st;
    for (i = 0; i < v->n; i++) {
        const ggdm_jv *e = &v->items[i];
        if (e->kind != GGDM_JV_NUM)
            return elem_err(c, key, i, "a number", e, err, errcap);
        out[i] = e->num;
    }
    *n = (int)v->n;
    return GGDM_OK;
}

ggdm_status ggdm_cli_cfg_strs(const ggdm_cli_cfg *c, const char *key, const char **out, int cap, int *n,
                              char *err, size_t errcap)
{
    ggdm_status st;
    size_t i;
    const ggdm_jv *v = need_array(c, key, cap, &st, err, errcap);
    if (!v)
        return st;
    for (i = 0; i < v->n; i++) {
        const ggdm_jv *e = &v->items[i];
        if (e->kind != GGDM_JV_STR)
            return elem_err(c, key, i, "a string", e, err, errcap);
        out[i] = e->s;
    }
    *n = (int)v->n;
    return GGDM_OK;
}

ggdm_status ggdm_cli_cfg_ints_bcast(const ggdm_cli_cfg *c, const char *key, int n, long long *out, char *err,
                                    size_t errcap)
{
    ggdm_status st;
    int i, got = 0;
    char k[64];
    const ggdm_jv *v = need(c, key, &st, err, errcap);
    if (!v)
        return st;
    if (n < 0)
        return efail(err, errcap, GGDM_ERR_ARG, "config: negative count");
    if (v->kind == GGDM_JV_NUM) {
        long long x = 0;
        if ((st = as_int(c, key, v, &x, err, errcap)) != GGDM_OK)
            return st;
        for (i = 0; i < n; i++)
            out[i] = x;
        return GGDM_OK;
    }
    if (v->kind != GGDM_JV_ARR)
        return type_err(c, key, "an integer or an array of integers", v, err, errcap);
    if (v->n != (size_t)n)
        return efail(err, errcap, GGDM_ERR_FORMAT, "%s: key '%s': the array has %llu elements, expected %d",
                     cpath(c), shown(k, sizeof k, key), (ull)v->n, n);
    return ggdm_cli_cfg_ints(c, key, out, n, &got, err, errcap);
}

/* ------------------------------------------------------------------ weight sets */

void ggdm_cli_wset_close(ggdm_weight_set *set)
{
    int f;
    uint64_t i;
    if (!set)
        return;
    for (f = 0; f < set->n_files; f++) {
        ggdm_io_unmap(&set->files[f].map);
        free(set->files[f].tensors);
        free(set->files[f].path);
    }
    for (i = 0; i < set->n_entries; i++)
        free(set->entries[i].name);
    free(set->files);
    free(set->entries);
    free(set->index_path);
    memset(set, 0, sizeof *set);
}

/* Maps and parses one file into set->files[set->n_files] (room is there). */
static ggdm_status add_file(ggdm_weight_set *set, const char *path, char *err, size_t errcap)
{
    ggdm_wfile *wf = &set->files[set->n_files];
    uint64_t nt = 0, nm = 0;
    char msg[GGDM_ST_MSG_LEN];
    ggdm_st_meta *meta = NULL;
    ggdm_status st;
    memset(wf, 0, sizeof *wf);
    wf->path = dupstr(path);
    if (!wf->path)
        return efail(err, errcap, GGDM_ERR_IO, "%s: out of memory", path);
    set->n_files++; /* owned from here on: ggdm_cli_wset_close frees it */
    st = ggdm_io_map_file(path, &wf->map, err, errcap);
    if (st != GGDM_OK)
        return st;
    st = ggdm_st_parse(wf->map.data ? wf->map.data : (const uint8_t *)"", wf->map.len, NULL, 0, &nt, NULL, 0, &nm,
                       msg);
    if (st == GGDM_ERR_BUFFER_TOO_SMALL) {
        if (nt > wf->map.len / 8 + 1 || nm > wf->map.len / 8 + 1) /* (each entry takes far more bytes) */
            return efail(err, errcap, GGDM_ERR_FORMAT, "%s: implausible entry counts", path);
        wf->tensors = (ggdm_st_tensor *)malloc((size_t)(nt ? nt : 1) * sizeof *wf->tensors);
        meta = (ggdm_st_meta *)malloc((size_t)(nm ? nm : 1) * sizeof *meta);
        if (!wf->tensors || !meta) {
            free(meta);
            return efail(err, errcap, GGDM_ERR_IO, "%s: out of memory", path);
        }
        st = ggdm_st_parse(wf->map.data, wf->map.len, wf->tensors, nt, &nt, meta, nm, &nm, msg);
        free(meta);
    }
    if (st != GGDM_OK)
        return efail(err, errcap, st == GGDM_ERR_UNSUPPORTED ? GGDM_ERR_UNSUPPORTED : GGDM_ERR_FORMAT, "%s: %s", path,
                     msg);
    wf->n = nt;
    return GGDM_OK;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const ggdm_wentry *)a)->name, ((const ggdm_wentry *)b)->name);
}

/* Decoded names of every file's tensors into set->entries, sorted; a name twice -> error. */
static ggdm_status build_entries(ggdm_weight_set *set, char *err, size_t errcap)
{
    uint64_t total = 0, k = 0, i;
    int f;
    char a[64];
    for (f = 0; f < set->n_files; f++)
        total += set->files[f].n;
    set->entries = (ggdm_wentry *)calloc((size_t)(total ? total : 1), sizeof *set->entries);
    if (!set->entries)
        return efail(err, errcap, GGDM_ERR_IO, "weights: out of memory");
    for (f = 0; f < set->n_files; f++) {
        const ggdm_wfile *wf = &set->files[f];
        for (i = 0; i < wf->n; i++) {
            const ggdm_st_tensor *t = &wf->tensors[i];
            uint64_t outlen = 0;
            char *name = (char *)malloc((size_t)t->name_len + 1);
            if (!name)
                return efail(err, errcap, GGDM_ERR_IO, "%s: out of memory", wf->path);
            if (ggdm_st_string(wf->map.data, wf->map.len, t->name_off, t->name_len, name, t->name_len + 1, &outlen) !=
                GGDM_OK) {
                free(name);
                return efail(err, errcap, GGDM_ERR_FORMAT, "%s: a tensor name does not decode", wf->path);
            }
            if (memchr(name, 0, (size_t)outlen)) {
                efail(err, errcap, GGDM_ERR_FORMAT, "%s: tensor '%s' has a NUL character in its name", wf->path,
                      ggdm_io_shown(a, sizeof a, name, outlen));
                free(name);
                return GGDM_ERR_FORMAT;
            }
            set->entries[k].name = name;
            set->entries[k].file = f;
            set->entries[k].tensor = i;
            k++;
            set->n_entries = k;
        }
    }
    qsort(set->entries, (size_t)set->n_entries, sizeof *set->entries, entry_cmp);
    for (i = 1; i < set->n_entries; i++) {
        if (strcmp(set->entries[i - 1].name, set->entries[i].name) == 0) {
            const char *p1 = set->files[set->entries[i - 1].file].path, *p2 = set->files[set->entries[i].file].path;
            return efail(err, errcap, GGDM_ERR_FORMAT, "weights: tensor '%s' is in both %s and %s",
                         shown(a, sizeof a, set->entries[i].name), p1, p2);
        }
    }
    return GGDM_OK;
}

const ggdm_wentry *ggdm_cli_wset_find(const ggdm_weight_set *set, const char *name)
{
    ggdm_wentry key;
    if (!set || !name || !set->entries)
        return NULL;
    key.name = (char *)(uintptr_t)name;
    return (const ggdm_wentry *)bsearch(&key, set->entries, (size_t)set->n_entries, sizeof *set->entries,
                                        entry_cmp);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && memcmp(s + a - b, suf, b) == 0;
}

/* A shard name of an index: a plain file name in the index's folder. */
static const char *bad_shard_name(const char *s, size_t len)
{
    if (len == 0)
        return "is empty";
    if (memchr(s, 0, len))
        return "contains a NUL character";
    if (strchr(s, '/') || strchr(s, '\\'))
        return "is not a plain file name (it has a path separator)";
    if (s[0] == '.')
        return "starts with '.'";
    if (!ends_with(s, ".safetensors"))
        return "does not end in .safetensors (an index names safetensors files only)";
    return NULL;
}

static ggdm_status open_index(ggdm_weight_set *set, const char *path, char *err, size_t errcap)
{
    ggdm_jv *root = NULL;
    const ggdm_jv *wm;
    ggdm_status st;
    char *dir = NULL, *slash;
    const char **shards = NULL;
    int n_shards = 0;
    size_t i;
    uint64_t j;
    char a[64], b[64];
    st = ggdm_jv_parse_file(path, NULL, &root, err, errcap);
    if (st != GGDM_OK)
        return st;
    if (root->kind != GGDM_JV_OBJ) {
        st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: the top level is %s, not an object", path,
                   ggdm_jv_kind_name(root->kind));
        goto done;
    }
    wm = ggdm_jv_get(root, "weight_map");
    if (!wm || wm->kind != GGDM_JV_OBJ) {
        st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: \"weight_map\" is %s, not an object of tensor: file", path,
                   wm ? ggdm_jv_kind_name(wm->kind) : "missing");
        goto done;
    }
    {
        const ggdm_jv *md = ggdm_jv_get(root, "metadata");
        if (md && md->kind != GGDM_JV_OBJ && md->kind != GGDM_JV_NULL) {
            st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: \"metadata\" is %s, not an object", path,
                       ggdm_jv_kind_name(md->kind));
            goto done;
        }
    }
    shards = (const char **)malloc((wm->n ? wm->n : 1) * sizeof *shards);
    set->index_path = dupstr(path);
    dir = dupstr(path);
    if (!shards || !set->index_path || !dir) {
        st = efail(err, errcap, GGDM_ERR_IO, "%s: out of memory", path);
        goto done;
    }
    slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        strcpy(dir, ".");
    for (i = 0; i < wm->n; i++) {
        const ggdm_jv *v = &wm->items[i];
        const char *why;
        int k;
        if (v->kind != GGDM_JV_STR) {
            st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: weight_map['%s'] is %s, not a file name", path,
                       shown(a, sizeof a, wm->keys[i]), ggdm_jv_kind_name(v->kind));
            goto done;
        }
        if ((why = bad_shard_name(v->s, v->len)) != NULL) {
            st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: weight_map['%s']: shard '%s' %s", path,
                       shown(a, sizeof a, wm->keys[i]), ggdm_io_shown(b, sizeof b, v->s, v->len), why);
            goto done;
        }
        for (k = 0; k < n_shards; k++)
            if (strcmp(shards[k], v->s) == 0)
                break;
        if (k == n_shards) {
            if (n_shards >= GGDM_WSET_MAX_SHARDS) {
                st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: more than %d shards", path, GGDM_WSET_MAX_SHARDS);
                goto done;
            }
            shards[n_shards++] = v->s;
        }
    }
    set->files = (ggdm_wfile *)calloc((size_t)(n_shards ? n_shards : 1), sizeof *set->files);
    if (!set->files) {
        st = efail(err, errcap, GGDM_ERR_IO, "%s: out of memory", path);
        goto done;
    }
    for (i = 0; i < (size_t)n_shards; i++) {
        char *sp = joinpath(dir, shards[i]);
        if (!sp) {
            st = efail(err, errcap, GGDM_ERR_IO, "%s: out of memory", path);
            goto done;
        }
        if (!is_file(sp)) {
            st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: shard %s named in the index is missing (%s)", path, sp,
                       access(sp, F_OK) == 0 ? "not a regular file" : strerror(errno));
            free(sp);
            goto done;
        }
        st = add_file(set, sp, err, errcap);
        free(sp);
        if (st != GGDM_OK)
            goto done;
    }
    if ((st = build_entries(set, err, errcap)) != GGDM_OK)
        goto done;
    /* the index and the shards must agree, both ways */
    for (i = 0; i < wm->n; i++) {
        const ggdm_wentry *e = ggdm_cli_wset_find(set, wm->keys[i]);
        char *sp;
        if (!e) {
            sp = joinpath(dir, wm->items[i].s);
            st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: tensor '%s' is listed in the index but not in its shard %s",
                       path, shown(a, sizeof a, wm->keys[i]), sp ? sp : wm->items[i].s);
            free(sp);
            goto done;
        }
        if (!ends_with(set->files[e->file].path, wm->items[i].s) ||
            strlen(set->files[e->file].path) != strlen(dir) + 1 + wm->items[i].len) {
            st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: tensor '%s' is in %s, but the index puts it in %s", path,
                       shown(a, sizeof a, wm->keys[i]), set->files[e->file].path, wm->items[i].s);
            goto done;
        }
    }
    for (j = 0; j < set->n_entries; j++) {
        if (!ggdm_jv_get(wm, set->entries[j].name)) {
            st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: tensor '%s' of %s is not listed in the index", path,
                       shown(a, sizeof a, set->entries[j].name), set->files[set->entries[j].file].path);
            goto done;
        }
    }
    st = GGDM_OK;
done:
    free(shards);
    free(dir);
    ggdm_jv_free(root);
    return st;
}

ggdm_status ggdm_cli_wset_open(ggdm_weight_set *set, const char *path, char *err, size_t errcap)
{
    ggdm_status st;
    if (!set || !path)
        return efail(err, errcap, GGDM_ERR_ARG, "weights: null argument");
    memset(set, 0, sizeof *set);
    if (ends_with(path, ".json")) {
        st = open_index(set, path, err, errcap);
    } else {
        set->files = (ggdm_wfile *)calloc(1, sizeof *set->files);
        if (!set->files)
            return efail(err, errcap, GGDM_ERR_IO, "%s: out of memory", path);
        st = add_file(set, path, err, errcap);
        if (st == GGDM_OK)
            st = build_entries(set, err, errcap);
    }
    if (st != GGDM_OK)
        ggdm_cli_wset_close(set);
    return st;
}

/* BASE[.VARIANT].safetensors and BASE.safetensors.index[.VARIANT].json */
static int weight_names(const char *dir, const char *base, const char *variant, char **single, char **index)
{
    char a[1024], b[1024];
    int v = variant && variant[0];
    if (snprintf(a, sizeof a, "%s%s%s.safetensors", base, v ? "." : "", v ? variant : "") >= (int)sizeof a ||
        snprintf(b, sizeof b, "%s.safetensors.index%s%s.json", base, v ? "." : "", v ? variant : "") >=
            (int)sizeof b)
        return -1;
    *single = joinpath(dir, a);
    *index = joinpath(dir, b);
    if (!*single || !*index) {
        free(*single);
        free(*index);
        return -1;
    }
    return 0;
}

ggdm_status ggdm_cli_wset_open_dir(ggdm_weight_set *set, const char *dir, const char *base, const char *variant,
                                   char *err, size_t errcap)
{
    static const char *const bases[] = {"diffusion_pytorch_model", "model"};
    char looked[1024];
    size_t lk = 0;
    int b;
    if (!set || !dir)
        return efail(err, errcap, GGDM_ERR_ARG, "weights: null argument");
    memset(set, 0, sizeof *set);
    looked[0] = 0;
    if (variant && (strchr(variant, '/') || strchr(variant, '\\')))
        return efail(err, errcap, GGDM_ERR_ARG, "weights: variant '%s' is not a plain name", variant);
    if (!is_dir(dir))
        return efail(err, errcap, GGDM_ERR_IO, "%s: not a folder", dir);
    for (b = 0; b < 2; b++) {
        const char *bs = base ? base : bases[b];
        char *single, *index;
        int hs, hi;
        ggdm_status st;
        if (weight_names(dir, bs, variant, &single, &index) != 0)
            return efail(err, errcap, GGDM_ERR_ARG, "%s: names too long or out of memory", dir);
        hs = is_file(single);
        hi = is_file(index);
        if (hs && hi) {
            st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: both %s and %s exist: which weights are meant is ambiguous",
                       dir, single, index);
            free(single);
            free(index);
            return st;
        }
        if (hs || hi) {
            st = ggdm_cli_wset_open(set, hs ? single : index, err, errcap);
            free(single);
            free(index);
            return st;
        }
        if (lk < sizeof looked)
            lk += (size_t)snprintf(looked + lk, sizeof looked - lk, "%s%s, %s", lk ? ", " : "",
                                   strrchr(single, '/') + 1, strrchr(index, '/') + 1);
        free(single);
        free(index);
        if (base)
            break;
    }
    return efail(err, errcap, GGDM_ERR_IO, "%s: no weights (looked for %s)", dir, looked);
}

/* ------------------------------------------------------------------ aliases */

int ggdm_cli_alias_vae_attn(void *ctx, const char *name, int k, char *out, size_t cap)
{
    static const char *const from[] = {".to_q.", ".to_k.", ".to_v.", ".to_out.0."};
    static const char *const to[] = {".query.", ".key.", ".value.", ".proj_attn."};
    const char *hit;
    size_t i, pre, fl, tl;
    (void)ctx;
    if (k != 0 || !name || !out || !strstr(name, "attentions."))
        return 0;
    for (i = 0; i < 4; i++) {
        hit = strstr(name, from[i]);
        if (!hit)
            continue;
        pre = (size_t)(hit - name);
        fl = strlen(from[i]);
        tl = strlen(to[i]);
        if (pre + tl + strlen(hit + fl) + 1 > cap)
            return 0;
        memcpy(out, name, pre);
        memcpy(out + pre, to[i], tl);
        strcpy(out + pre + tl, hit + fl);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ loading a table */

static ggdm_status table_info(const ggdm_param_table *table, int i, ggdm_param_info *info, char *err, size_t errcap)
{
    uint64_t cnt = 1;
    int d;
    memset(info, 0, sizeof *info);
    if (table->tensor(table->cfg, i, info) != GGDM_OK)
        return efail(err, errcap, GGDM_ERR_ARG, "parameter table: entry %d cannot be read", i);
    if (memchr(info->name, 0, sizeof info->name) == NULL || info->name[0] == 0)
        return efail(err, errcap, GGDM_ERR_ARG, "parameter table: entry %d has no valid name", i);
    if (info->ndim < 0 || info->ndim > GGDM_PARAM_MAX_DIMS)
        return efail(err, errcap, GGDM_ERR_ARG, "parameter table: '%s' has %d dimensions", info->name, info->ndim);
    for (d = 0; d < info->ndim; d++) {
        if (info->shape[d] != 0 && cnt > UINT64_MAX / info->shape[d])
            return efail(err, errcap, GGDM_ERR_ARG, "parameter table: '%s': shape overflows", info->name);
        cnt *= info->shape[d];
    }
    if (cnt != info->count || info->offset > table->n_params || info->count > table->n_params - info->offset)
        return efail(err, errcap, GGDM_ERR_ARG,
                     "parameter table: '%s': count %llu, offset %llu do not fit its shape and %llu parameters",
                     info->name, (ull)info->count, (ull)info->offset, (ull)table->n_params);
    return GGDM_OK;
}

static int shapes_match(const ggdm_param_info *info, const ggdm_st_tensor *t)
{
    int d;
    if (t->ndim == info->ndim) {
        for (d = 0; d < t->ndim; d++)
            if (t->shape[d] != info->shape[d])
                return 0;
        return 1;
    }
    /* [O, I] == [O, I, 1, 1] (either way) */
    if (t->ndim == 2 && info->ndim == 4)
        return t->shape[0] == info->shape[0] && t->shape[1] == info->shape[1] && info->shape[2] == 1 &&
               info->shape[3] == 1;
    if (t->ndim == 4 && info->ndim == 2)
        return t->shape[0] == info->shape[0] && t->shape[1] == info->shape[1] && t->shape[2] == 1 && t->shape[3] == 1;
    return 0;
}

static int ignored(const ggdm_load_opts *opts, const char *name)
{
    const char *const *p;
    if (!opts || !opts->ignore)
        return 0;
    for (p = opts->ignore; *p; p++) {
        size_t l = strlen(*p);
        if ((*p)[0] == '*' ? ends_with(name, *p + 1)
            : l && (*p)[l - 1] == '*' ? strncmp(name, *p, l - 1) == 0
                                      : strcmp(name, *p) == 0)
            return 1;
    }
    return 0;
}

ggdm_status ggdm_cli_params_load(const ggdm_weight_set *set, const ggdm_param_table *table, float *params,
                                 const ggdm_load_opts *opts, char *err, size_t errcap)
{
    int *claim = NULL, i;
    uint64_t *which = NULL, j;
    ggdm_param_info info;
    ggdm_status st = GGDM_OK;
    char a[64], s1[200], s2[200], alt[GGDM_PARAM_NAME_LEN + 64], msg[GGDM_ST_MSG_LEN];
    if (!set || !table || !table->tensor || table->n_tensors < 0 || (!params && table->n_params))
        return efail(err, errcap, GGDM_ERR_ARG, "weights: null argument or bad table");
    claim = (int *)malloc((size_t)(set->n_entries ? set->n_entries : 1) * sizeof *claim);
    which = (uint64_t *)malloc((size_t)(table->n_tensors ? table->n_tensors : 1) * sizeof *which);
    if (!claim || !which) {
        st = efail(err, errcap, GGDM_ERR_IO, "weights: out of memory");
        goto done;
    }
    for (j = 0; j < set->n_entries; j++)
        claim[j] = -1;
    /* pass 1: resolve and check everything */
    for (i = 0; i < table->n_tensors; i++) {
        const ggdm_wentry *e;
        const ggdm_st_tensor *t;
        const char *path;
        if ((st = table_info(table, i, &info, err, errcap)) != GGDM_OK)
            goto done;
        e = ggdm_cli_wset_find(set, info.name);
        if (!e && opts && opts->alias) {
            int k;
            for (k = 0; k < 64 && !e; k++) {
                if (!opts->alias(opts->alias_ctx, info.name, k, alt, sizeof alt))
                    break;
                e = ggdm_cli_wset_find(set, alt);
            }
        }
        if (!e) {
            st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: tensor '%s' is missing (the network needs it)",
                       set->index_path ? set->index_path : set->n_files ? set->files[0].path : "weights",
                       shown(a, sizeof a, info.name));
            goto done;
        }
        j = (uint64_t)(e - set->entries);
        t = &set->files[e->file].tensors[e->tensor];
        path = set->files[e->file].path;
        if (claim[j] >= 0) {
            ggdm_param_info other;
            table->tensor(table->cfg, claim[j], &other);
            st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: tensor '%s' is claimed by two parameters, '%s' and '%s'",
                       path, shown(a, sizeof a, e->name), other.name, info.name);
            goto done;
        }
        claim[j] = i;
        which[i] = j;
        if (!shapes_match(&info, t)) {
            show_shape(s1, sizeof s1, t->ndim, t->shape);
            show_shape(s2, sizeof s2, info.ndim, info.shape);
            st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: tensor '%s' has shape %s, the network expects %s", path,
                       shown(a, sizeof a, e->name), s1, s2);
            goto done;
        }
        if (t->dtype != GGDM_ST_F32 && t->dtype != GGDM_ST_F16 && t->dtype != GGDM_ST_BF16) {
            st = efail(err, errcap, GGDM_ERR_UNSUPPORTED,
                       "%s: tensor '%s' is %s; ggdm reads F32, F16 and BF16 weights", path, shown(a, sizeof a, e->name),
                       ggdm_st_dtype_name(t->dtype));
            goto done;
        }
    }
    for (j = 0; j < set->n_entries; j++) {
        if (claim[j] < 0 && !ignored(opts, set->entries[j].name)) {
            st = efail(err, errcap, GGDM_ERR_FORMAT,
                       "%s: tensor '%s' is not a parameter of the network: the configuration does not match the weights",
                       set->files[set->entries[j].file].path, shown(a, sizeof a, set->entries[j].name));
            goto done;
        }
    }
    /* pass 2: convert, straight from the mapping into the array */
    for (i = 0; i < table->n_tensors; i++) {
        const ggdm_wentry *e = &set->entries[which[i]];
        const ggdm_wfile *wf = &set->files[e->file];
        table->tensor(table->cfg, i, &info);
        st = ggdm_st_load_as_f32(wf->map.data, wf->map.len, &wf->tensors[e->tensor], params + info.offset, info.count,
                                 msg);
        if (st != GGDM_OK) {
            st = efail(err, errcap, st, "%s: %s", wf->path, msg);
            goto done;
        }
    }
    st = GGDM_OK;
done:
    free(claim);
    free(which);
    return st;
}

/* ------------------------------------------------------------------ writing */

typedef struct wtensor {
    ggdm_param_info info;
} wtensor;

static int wt_cmp(const void *a, const void *b)
{
    return strcmp(((const wtensor *)a)->info.name, ((const wtensor *)b)->info.name);
}

/* Streams one safetensors file of tensors t[0 .. n) (already sorted) to path, atomically. */
static ggdm_status write_st(const char *path, const wtensor *t, size_t n, const float *params, ggdm_st_dtype dtype,
                            const ggdm_st_kv *meta, uint64_t n_meta, char *err, size_t errcap)
{
    ggdm_st_spec *specs = NULL;
    ggdm_st_kv *kv = NULL;
    uint8_t *hdr = NULL, *chunk = NULL;
    uint64_t hb = 0, db = 0, w = 0, m;
    size_t i, plen = strlen(path);
    char msg[GGDM_ST_MSG_LEN], *tmp = NULL;
    FILE *f = NULL;
    int ok = 1, d;
    ggdm_status st;
    const size_t CH = 65536; /* floats per encoded chunk */
    unsigned esz = dtype == GGDM_ST_F16 ? 2u : 4u;
    specs = (ggdm_st_spec *)calloc(n ? n : 1, sizeof *specs);
    kv = (ggdm_st_kv *)calloc((size_t)n_meta + 1, sizeof *kv);
    chunk = (uint8_t *)malloc(CH * 4);
    tmp = (char *)malloc(plen + 32);
    if (!specs || !kv || !chunk || !tmp) {
        st = efail(err, errcap, GGDM_ERR_IO, "%s: out of memory", path);
        goto done;
    }
    for (i = 0; i < n; i++) {
        specs[i].name = t[i].info.name;
        specs[i].dtype = dtype;
        specs[i].ndim = t[i].info.ndim;
        for (d = 0; d < t[i].info.ndim; d++)
            specs[i].shape[d] = t[i].info.shape[d];
    }
    kv[0].key = "format";
    kv[0].value = "pt";
    for (m = 0; m < n_meta; m++)
        kv[m + 1] = meta[m];
    st = ggdm_st_header_size(specs, n, kv, n_meta + 1, &hb, &db, msg);
    if (st != GGDM_OK) {
        st = efail(err, errcap, GGDM_ERR_ARG, "%s: %s", path, msg);
        goto done;
    }
    hdr = (uint8_t *)malloc((size_t)hb);
    if (!hdr) {
        st = efail(err, errcap, GGDM_ERR_IO, "%s: out of memory", path);
        goto done;
    }
    st = ggdm_st_write_header(specs, n, kv, n_meta + 1, hdr, hb, &w, msg);
    if (st != GGDM_OK) {
        st = efail(err, errcap, GGDM_ERR_ARG, "%s: %s", path, msg);
        goto done;
    }
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    ggdm_io_fault_point("create", tmp);
    f = fopen(tmp, "wb");
    if (!f) {
        st = efail(err, errcap, GGDM_ERR_IO, "%s: cannot create (%s)", tmp, strerror(errno));
        goto done;
    }
    ggdm_io_fault_point("write", tmp);
    ok = fwrite(hdr, 1, (size_t)hb, f) == (size_t)hb;
    for (i = 0; i < n && ok; i++) {
        uint64_t done_n = 0;
        const float *src = params + t[i].info.offset;
        while (done_n < t[i].info.count && ok) {
            size_t k = (size_t)(t[i].info.count - done_n < CH ? t[i].info.count - done_n : CH);
            if (dtype == GGDM_ST_F16)
                ggdm_st_encode_f16(src + done_n, k, chunk);
            else
                ggdm_st_encode_f32(src + done_n, k, chunk);
            ok = fwrite(chunk, esz, k, f) == k;
            done_n += k;
        }
    }
    ok = (fflush(f) == 0) && ok;
    ggdm_io_fault_point("fsync", tmp);
    ok = (fsync(fileno(f)) == 0 || errno == EINVAL) && ok;
    ok = (fclose(f) == 0) && ok;
    f = NULL;
    if (!ok || ggdm_io_rename(tmp, path) != 0) {
        st = efail(err, errcap, GGDM_ERR_IO, "%s: write failed (%s); nothing was written", path, strerror(errno));
        remove(tmp);
        goto done;
    }
    st = GGDM_OK;
done:
    if (f) {
        fclose(f);
        remove(tmp);
    }
    free(specs);
    free(kv);
    free(hdr);
    free(chunk);
    free(tmp);
    return st;
}

/* The table's entries, checked, in table order. */
static ggdm_status collect(const ggdm_param_table *table, const float *params, ggdm_st_dtype dtype, wtensor **out,
                           char *err, size_t errcap)
{
    wtensor *t;
    int i;
    ggdm_status st;
    *out = NULL;
    if (!table || !table->tensor || table->n_tensors < 0 || (!params && table->n_params))
        return efail(err, errcap, GGDM_ERR_ARG, "weights: null argument or bad table");
    if (dtype != GGDM_ST_F32 && dtype != GGDM_ST_F16)
        return efail(err, errcap, GGDM_ERR_ARG, "weights: ggdm writes F32 or F16, not %s", ggdm_st_dtype_name(dtype));
    t = (wtensor *)calloc((size_t)(table->n_tensors ? table->n_tensors : 1), sizeof *t);
    if (!t)
        return efail(err, errcap, GGDM_ERR_IO, "weights: out of memory");
    for (i = 0; i < table->n_tensors; i++) {
        if ((st = table_info(table, i, &t[i].info, err, errcap)) != GGDM_OK) {
            free(t);
            return st;
        }
    }
    *out = t;
    return GGDM_OK;
}

ggdm_status ggdm_cli_params_save_file(const char *path, const ggdm_param_table *table, const float *params,
                                      ggdm_st_dtype dtype, const ggdm_st_kv *meta, uint64_t n_meta, char *err,
                                      size_t errcap)
{
    wtensor *t;
    ggdm_status st;
    if (!path || (n_meta && !meta))
        return efail(err, errcap, GGDM_ERR_ARG, "weights: null argument");
    if ((st = collect(table, params, dtype, &t, err, errcap)) != GGDM_OK)
        return st;
    qsort(t, (size_t)table->n_tensors, sizeof *t, wt_cmp);
    st = write_st(path, t, (size_t)table->n_tensors, params, dtype, meta, n_meta, err, errcap);
    free(t);
    return st;
}

ggdm_status ggdm_cli_params_save(const char *dir, const char *base, const char *variant,
                                 const ggdm_param_table *table, const float *params, ggdm_st_dtype dtype,
                                 uint64_t max_shard_bytes, char *err, size_t errcap)
{
    wtensor *t = NULL;
    int *shard_of = NULL, n_shards = 0, i, s;
    uint64_t total = 0, cur = 0, esz = dtype == GGDM_ST_F16 ? 2u : 4u;
    char *single = NULL, *index = NULL, name[1200];
    int v = variant && variant[0];
    ggdm_jv *root = NULL, *md = NULL, *wm = NULL;
    ggdm_status st;
    if (!dir || !base || strchr(base, '/') || (v && strchr(variant, '/')))
        return efail(err, errcap, GGDM_ERR_ARG, "weights: bad folder, base or variant");
    if ((st = collect(table, params, dtype, &t, err, errcap)) != GGDM_OK)
        return st;
    if (ggdm_io_mkdirs(dir) != 0 || !is_dir(dir)) {
        free(t);
        return efail(err, errcap, GGDM_ERR_IO, "%s: cannot create the folder (%s)", dir,
                     is_dir(dir) ? strerror(errno) : "not a folder");
    }
    if (weight_names(dir, base, variant, &single, &index) != 0) {
        free(t);
        return efail(err, errcap, GGDM_ERR_ARG, "%s: names too long or out of memory", dir);
    }
    shard_of = (int *)calloc((size_t)(table->n_tensors ? table->n_tensors : 1), sizeof *shard_of);
    if (!shard_of) {
        st = efail(err, errcap, GGDM_ERR_IO, "%s: out of memory", dir);
        goto done;
    }
    for (i = 0; i < table->n_tensors; i++) {
        uint64_t b = t[i].info.count * esz;
        if (n_shards == 0 || (max_shard_bytes && cur > 0 && cur + b > max_shard_bytes)) {
            n_shards++;
            cur = 0;
        }
        shard_of[i] = n_shards - 1;
        cur += b;
        total += b;
    }
    if (n_shards <= 1) {
        qsort(t, (size_t)table->n_tensors, sizeof *t, wt_cmp);
        st = write_st(single, t, (size_t)table->n_tensors, params, dtype, NULL, 0, err, errcap);
        if (st == GGDM_OK && is_file(index))
            ggdm_io_remove_tree(index);
        goto done;
    }
    if (n_shards > 99999) {
        st = efail(err, errcap, GGDM_ERR_ARG, "%s: %d shards: more than 99999", dir, n_shards);
        goto done;
    }
    root = ggdm_jv_new(GGDM_JV_OBJ);
    md = ggdm_jv_new(GGDM_JV_OBJ);
    wm = ggdm_jv_new(GGDM_JV_OBJ);
    if (!root || !md || !wm) {
        st = efail(err, errcap, GGDM_ERR_IO, "%s: out of memory", dir);
        goto done;
    }
    st = ggdm_jv_put(md, "total_size", ggdm_jv_new_int((long long)total));
    for (s = 0; s < n_shards && st == GGDM_OK; s++) {
        wtensor *sub;
        int k = 0;
        char *sp;
        snprintf(name, sizeof name, "%s%s%s-%05d-of-%05d.safetensors", base, v ? "." : "", v ? variant : "", s + 1,
                 n_shards);
        sub = (wtensor *)malloc((size_t)table->n_tensors * sizeof *sub);
        sp = joinpath(dir, name);
        if (!sub || !sp) {
            free(sub);
            free(sp);
            st = efail(err, errcap, GGDM_ERR_IO, "%s: out of memory", dir);
            break;
        }
        for (i = 0; i < table->n_tensors; i++) {
            if (shard_of[i] == s) {
                sub[k++] = t[i];
                if (st == GGDM_OK)
                    st = ggdm_jv_put(wm, t[i].info.name, ggdm_jv_new_str(name));
            }
        }
        if (st != GGDM_OK) {
            st = efail(err, errcap, st, "%s: building the index failed (duplicate tensor names?)", dir);
        } else {
            qsort(sub, (size_t)k, sizeof *sub, wt_cmp);
            st = write_st(sp, sub, (size_t)k, params, dtype, NULL, 0, err, errcap);
        }
        free(sub);
        free(sp);
    }
    if (st != GGDM_OK)
        goto done;
    st = ggdm_jv_put(root, "metadata", md);
    md = NULL;
    if (st == GGDM_OK)
        st = ggdm_jv_put(root, "weight_map", wm);
    wm = NULL;
    if (st != GGDM_OK) {
        st = efail(err, errcap, st, "%s: out of memory", dir);
        goto done;
    }
    st = ggdm_jv_save(index, root, 1, err, errcap);
    if (st == GGDM_OK && is_file(single))
        ggdm_io_remove_tree(single);
done:
    ggdm_jv_free(root);
    ggdm_jv_free(md);
    ggdm_jv_free(wm);
    free(shard_of);
    free(single);
    free(index);
    free(t);
    return st;
}

/* ------------------------------------------------------------------ model folders */

void ggdm_cli_model_close(ggdm_model_dir *md)
{
    if (!md)
        return;
    ggdm_jv_free(md->index);
    free(md->dir);
    memset(md, 0, sizeof *md);
}

ggdm_status ggdm_cli_model_open(ggdm_model_dir *md, const char *dir, char *err, size_t errcap)
{
    char *path;
    ggdm_status st;
    size_t i;
    char a[64];
    if (!md || !dir)
        return efail(err, errcap, GGDM_ERR_ARG, "model: null argument");
    memset(md, 0, sizeof *md);
    if (!is_dir(dir))
        return efail(err, errcap, GGDM_ERR_IO, "%s: not a folder", dir);
    path = joinpath(dir, "model_index.json");
    md->dir = dupstr(dir);
    if (!path || !md->dir) {
        free(path);
        ggdm_cli_model_close(md);
        return efail(err, errcap, GGDM_ERR_IO, "%s: out of memory", dir);
    }
    if (!is_file(path)) {
        st = efail(err, errcap, GGDM_ERR_IO, "%s: missing (not a diffusers pipeline folder)", path);
        goto fail;
    }
    st = ggdm_jv_parse_file(path, NULL, &md->index, err, errcap);
    if (st != GGDM_OK)
        goto fail;
    if (md->index->kind != GGDM_JV_OBJ) {
        st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: the top level is %s, not an object", path,
                   ggdm_jv_kind_name(md->index->kind));
        goto fail;
    }
    for (i = 0; i < md->index->n; i++) {
        const char *k = md->index->keys[i];
        const ggdm_jv *v = &md->index->items[i];
        char *cdir;
        if (k[0] == '_' || v->kind == GGDM_JV_BOOL)
            continue; /* "requires_safety_checker": a pipeline option, not a component */
        if (!k[0] || strchr(k, '/') || strchr(k, '\\') || k[0] == '.') {
            st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: component '%s' is not a plain folder name", path,
                       shown(a, sizeof a, k));
            goto fail;
        }
        if (v->kind == GGDM_JV_NULL ||
            (v->kind == GGDM_JV_ARR && v->n == 2 && v->items[0].kind == GGDM_JV_NULL &&
             v->items[1].kind == GGDM_JV_NULL))
            continue;
        if (v->kind != GGDM_JV_ARR || v->n != 2 || v->items[0].kind != GGDM_JV_STR ||
            v->items[1].kind != GGDM_JV_STR) {
            st = efail(err, errcap, GGDM_ERR_FORMAT,
                       "%s: component '%s' must be [\"library\", \"ClassName\"] (or [null, null]), found %s", path,
                       shown(a, sizeof a, k), ggdm_jv_kind_name(v->kind));
            goto fail;
        }
        cdir = joinpath(dir, k);
        if (!cdir) {
            st = efail(err, errcap, GGDM_ERR_IO, "%s: out of memory", path);
            goto fail;
        }
        if (!is_dir(cdir)) {
            st = efail(err, errcap, GGDM_ERR_FORMAT, "%s: component '%s' is listed but its folder %s is missing", path,
                       shown(a, sizeof a, k), cdir);
            free(cdir);
            goto fail;
        }
        free(cdir);
    }
    free(path);
    return GGDM_OK;
fail:
    free(path);
    ggdm_cli_model_close(md);
    return st;
}

const char *ggdm_cli_model_class(const ggdm_model_dir *md, const char *comp)
{
    const ggdm_jv *v;
    if (!md || !comp || comp[0] == '_')
        return NULL;
    v = ggdm_jv_get(md->index, comp);
    if (!v || v->kind != GGDM_JV_ARR || v->n != 2 || v->items[1].kind != GGDM_JV_STR)
        return NULL;
    return v->items[1].s;
}

ggdm_status ggdm_cli_model_path(const ggdm_model_dir *md, const char *comp, const char *file, char *out,
                                size_t cap, char *err, size_t errcap)
{
    int n;
    if (!md || !comp || !out)
        return efail(err, errcap, GGDM_ERR_ARG, "model: null argument");
    if (!ggdm_cli_model_class(md, comp))
        return efail(err, errcap, GGDM_ERR_ARG, "%s/model_index.json: the pipeline has no component '%s'", md->dir,
                     comp);
    n = file ? snprintf(out, cap, "%s/%s/%s", md->dir, comp, file) : snprintf(out, cap, "%s/%s", md->dir, comp);
    if (n < 0 || (size_t)n >= cap)
        return efail(err, errcap, GGDM_ERR_BUFFER_TOO_SMALL, "%s: path too long", md->dir);
    return GGDM_OK;
}

ggdm_status ggdm_cli_model_config(const ggdm_model_dir *md, const char *comp, ggdm_cli_cfg *cfg, char *err,
                                  size_t errcap)
{
    char path[4096];
    const char *file = !comp ? "config.json" : !strcmp(comp, "scheduler") ? "scheduler_config.json"
                                           : !strcmp(comp, "tokenizer") ? "tokenizer_config.json" : "config.json";
    ggdm_status st;
    if (cfg)
        memset(cfg, 0, sizeof *cfg);
    st = ggdm_cli_model_path(md, comp, file, path, sizeof path, err, errcap);
    if (st != GGDM_OK)
        return st;
    if (!cfg)
        return efail(err, errcap, GGDM_ERR_ARG, "model: null argument");
    if (!is_file(path))
        return efail(err, errcap, GGDM_ERR_IO, "%s: missing", path);
    return ggdm_cli_cfg_load(cfg, path, err, errcap);
}

ggdm_status ggdm_cli_model_weights(const ggdm_model_dir *md, const char *comp, const char *variant,
                                   ggdm_weight_set *set, char *err, size_t errcap)
{
    char path[4096];
    const char *base = NULL;
    ggdm_status st;
    if (set)
        memset(set, 0, sizeof *set);
    st = ggdm_cli_model_path(md, comp, NULL, path, sizeof path, err, errcap);
    if (st != GGDM_OK)
        return st;
    if (!strcmp(comp, "unet") || !strcmp(comp, "vae"))
        base = "diffusion_pytorch_model";
    else if (!strcmp(comp, "text_encoder"))
        base = "model";
    return ggdm_cli_wset_open_dir(set, path, base, variant, err, errcap);
}
