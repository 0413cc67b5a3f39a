/*
 * Front end: a strict JSON reader and writer (RFC 8259) for model folders' model_index.json,
 * config.json and *.safetensors.index.json (may allocate; the library never does).
 *
 * The names are ggdm_jv_* ("JSON value"): run.c's config.json writer already owns ggdm_json_*.
 *
 * Reading is strict: one value, surrounded only by JSON whitespace; objects, arrays, strings
 * (escapes \" \\ \/ \b \f \n \r \t \uXXXX, surrogate pairs combined, a lone surrogate an
 * error; the bytes must be valid UTF-8: no overlong forms, no encoded surrogates, nothing
 * above U+10FFFF; no raw control characters), numbers in JSON's grammar (no leading zeros,
 * '+', '.5', 'NaN', 'Infinity'; a number whose magnitude overflows a double is an error),
 * true, false, null. No comments, no trailing commas. A duplicate key in an object is an
 * error. Limits (ggdm_jv_limits): nesting depth, input bytes, values in all. Every error
 * is one line "at byte N: reason" (N from 0), with the caller's prefix (e.g. the path).
 */
#ifndef GGDM_CLI_JSON_H
#define GGDM_CLI_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "ggdm/status.h"

typedef enum ggdm_jv_kind {
    GGDM_JV_NULL = 0,
    GGDM_JV_BOOL,
    GGDM_JV_NUM,
    GGDM_JV_STR,
    GGDM_JV_ARR,
    GGDM_JV_OBJ
} ggdm_jv_kind;

typedef struct ggdm_jv ggdm_jv;
struct ggdm_jv {
    ggdm_jv_kind kind;
    int b;          /* BOOL */
    double num;     /* NUM: the value, correctly rounded (strtod) */
    int is_int;     /* NUM: written as an integer (no '.', no exponent) that fits long long */
    long long i;    /* NUM with is_int */
    char *s;        /* STR: decoded UTF-8 with a NUL after it (may contain NULs: use len) */
    size_t len;     /* STR: bytes */
    size_t n;       /* ARR / OBJ: elements / members, in the order of the text */
    ggdm_jv *items; /* ARR / OBJ: n values */
    char **keys;    /* OBJ: n decoded keys (NUL-terminated; a key with a NUL is refused) */
    uint64_t off;   /* byte offset of the value in the text (0 for built values) */
};

typedef struct ggdm_jv_limits {
    int max_depth;        /* nested arrays/objects; default 64 */
    uint64_t max_bytes;   /* input size; default 64 MiB */
    uint64_t max_values;  /* values in the document; default 4,000,000 */
} ggdm_jv_limits;

/* Parses text[0 .. len) (need not be NUL-terminated). lim NULL: the defaults. On success
 * *out is the root (free with ggdm_jv_free). Errors: GGDM_ERR_FORMAT (malformed, duplicate
 * key, a limit exceeded; err = "PREFIX: at byte N: reason"), GGDM_ERR_IO (out of memory),
 * GGDM_ERR_ARG (null arguments). prefix may be NULL ("json"). */
ggdm_status ggdm_jv_parse(const char *text, size_t len, const ggdm_jv_limits *lim, const char *prefix,
                          ggdm_jv **out, char *err, size_t errcap);
/* Reads and parses a file; err starts with the path. */
ggdm_status ggdm_jv_parse_file(const char *path, const ggdm_jv_limits *lim, ggdm_jv **out, char *err,
                               size_t errcap);
void ggdm_jv_free(ggdm_jv *v);

/* The member of an object (NULL when v is not an object or has no such key). */
const ggdm_jv *ggdm_jv_get(const ggdm_jv *v, const char *key);
/* "null", "a boolean", "a number", "a string", "an array", "an object". */
const char *ggdm_jv_kind_name(ggdm_jv_kind k);

/* ---- building (for writing): every constructor returns NULL when out of memory; a value
 * added to an array or object is owned by it (and freed, with its shell, on failure). */
ggdm_jv *ggdm_jv_new(ggdm_jv_kind kind); /* null, false, 0, "", [] or {} */
ggdm_jv *ggdm_jv_new_bool(int b);
ggdm_jv *ggdm_jv_new_int(long long i);
ggdm_jv *ggdm_jv_new_num(double d); /* finite only (NULL otherwise) */
ggdm_jv *ggdm_jv_new_str(const char *s);
/* Appends v (moved into arr; the shell is freed). GGDM_ERR_ARG: not an array / null v. */
ggdm_status ggdm_jv_push(ggdm_jv *arr, ggdm_jv *v);
/* Adds key: v (moved). GGDM_ERR_ARG: not an object, duplicate key, null v. */
ggdm_status ggdm_jv_put(ggdm_jv *obj, const char *key, ggdm_jv *v);

/*
 * Writes v as JSON text (malloc'd, NUL-terminated, ending in "\n"): 2-space indentation as
 * Python's json.dumps(v, indent=2) (sort_keys: members sorted bytewise by key, as
 * sort_keys=True), strings escaped as Python with ensure_ascii=False would not: ggdm writes
 * UTF-8 and escapes only '"', '\\' and control characters. Integers as integers; other
 * numbers with the fewest digits that read back to the same double ("1e-05", "0.18215",
 * "1.0"). GGDM_ERR_ARG for invalid UTF-8 or a non-finite number, GGDM_ERR_IO out of memory.
 */
ggdm_status ggdm_jv_write(const ggdm_jv *v, int sort_keys, char **text, size_t *len);
/* ggdm_jv_write, then an atomic write of the file (ggdm_io_write_file). */
ggdm_status ggdm_jv_save(const char *path, const ggdm_jv *v, int sort_keys, char *err, size_t errcap);

#endif
