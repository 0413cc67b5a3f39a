/* Run folders: lock, config.json, atomic checkpoint generations (run.h). */
#define _POSIX_C_SOURCE 200809L
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"

/* ------------------------------------------------------------------ lock */

int ggdm_run_lock(const char *dir, int *fd, char *err, size_t errcap)
{
    char path[GGDM_RUN_PATH_MAX], pid[32];
    struct flock fl;
    *fd = -1;
    if (ggdm_io_mkdirs(dir) != 0) {
        snprintf(err, errcap, "cannot create the folder %s (%s)", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/.lock", dir);
    if (!ggdm_io_exists(path))
        ggdm_io_fault_point("create", path);
    *fd = open(path, O_RDWR | O_CREAT, 0666);
    if (*fd < 0) {
        snprintf(err, errcap, "cannot create the lock file %s (%s)", path, strerror(errno));
        return -1;
    }
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(*fd, F_SETLK, &fl) != 0) {
        long other = 0;
        struct flock q;
        memset(&q, 0, sizeof q);
        q.l_type = F_WRLCK;
        q.l_whence = SEEK_SET;
        if (fcntl(*fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK)
            other = (long)q.l_pid;
        snprintf(err, errcap,
                 "another ggdm (pid %ld) is running in %s; wait for it to finish, or choose another output folder",
                 other, dir);
        close(*fd);
        *fd = -1;
        return -1;
    }
    /* the holder's pid, for people looking at the folder (the lock itself is what counts) */
    snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(*fd, 0) == 0 && write(*fd, pid, strlen(pid)) < 0) {
        /* informational only */
    }
    return 0;
}

void ggdm_run_unlock(int *fd)
{
    if (*fd >= 0)
        close(*fd); /* closing releases the fcntl lock */
    *fd = -1;
}

/* NAME.tmp.PID: the PID, or 0 when the name is not of that form. */
static long tmp_pid(const char *name)
{
    const char *p = strstr(name, ".tmp.");
    const char *q;
    long v = 0;
    if (!p)
        return 0;
    while (strstr(p + 1, ".tmp.")) /* the last one */
        p = strstr(p + 1, ".tmp.");
    q = p + 5;
    if (!*q)
        return 0;
    for (; *q; q++) {
        if (*q < '0' || *q > '9' || v > 100000000L)
            return 0;
        v = v * 10 + (*q - '0');
    }
    return v;
}

int ggdm_run_clean_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int removed = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        long pid = tmp_pid(e->d_name);
        char path[GGDM_RUN_PATH_MAX];
        if (pid <= 0)
            continue;
        if (pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue; /* a live process's file */
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            continue;
        if (ggdm_io_remove_tree(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

/* ------------------------------------------------------------------ JSON writer */

static void jput(ggdm_json *j, const char *s, size_t n)
{
    if (j->failed)
        return;
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 1024;
        char *b;
        while (j->len + n + 1 > cap)
            cap *= 2;
        b = (char *)realloc(j->buf, cap);
        if (!b) {
            j->failed = 1;
            return;
        }
        j->buf = b;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = 0;
}

static void jputs(ggdm_json *j, const char *s) { jput(j, s, strlen(s)); }

static void jstring(ggdm_json *j, const char *s)
{
    jputs(j, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\';
            e[1] = (char)c;
            jput(j, e, 2);
        } else if (c < 0x20) {
            snprintf(e, sizeof e, "\\u%04x", c);
            jputs(j, e);
        } else {
            jput(j, (const char *)&c, 1);
        }
    }
    jputs(j, "\"");
}

void ggdm_json_begin(ggdm_json *j)
{
    memset(j, 0, sizeof *j);
    jputs(j, "{");
}

void ggdm_json_key(ggdm_json *j, const char *key)
{
    jputs(j, j->need_comma ? ",\n  " : "\n  ");
    if (key) {
        jstring(j, key);
        jputs(j, ": ");
    }
    j->need_comma = 1;
}

void ggdm_json_str(ggdm_json *j, const char *key, const char *val)
{
    ggdm_json_key(j, key);
    if (val)
        jstring(j, val);
    else
        jputs(j, "null");
}

void ggdm_json_num(ggdm_json *j, const char *key, double val)
{
    char b[40];
    ggdm_json_key(j, key);
    if (val != val || val > 1.7976931348623157e308 || val < -1.7976931348623157e308)
        jputs(j, "null");
    else {
        snprintf(b, sizeof b, "%.17g", val);
        jputs(j, b);
    }
}

void ggdm_json_int(ggdm_json *j, const char *key, long long val)
{
    char b[32];
    ggdm_json_key(j, key);
    snprintf(b, sizeof b, "%lld", val);
    jputs(j, b);
}

void ggdm_json_bool(ggdm_json *j, const char *key, int val)
{
    ggdm_json_key(j, key);
    jputs(j, val ? "true" : "false");
}

void ggdm_json_raw(ggdm_json *j, const char *key, const char *json)
{
    ggdm_json_key(j, key);
    jputs(j, json);
}

void ggdm_json_open(ggdm_json *j, const char *key, char bracket)
{
    char b[2] = {0, 0};
    ggdm_json_key(j, key);
    b[0] = bracket;
    jputs(j, b);
    j->need_comma = 0;
}

void ggdm_json_close(ggdm_json *j, char bracket)
{
    char b[2] = {0, 0};
    b[0] = bracket;
    jputs(j, "\n  ");
    jputs(j, b);
    j->need_comma = 1;
}

const char *ggdm_json_end(ggdm_json *j)
{
    jputs(j, "\n}\n");
    return j->failed ? NULL : j->buf;
}

void ggdm_json_free(ggdm_json *j)
{
    free(j->buf);
    memset(j, 0, sizeof *j);
}

/* ------------------------------------------------------------------ JSON reader (config.json) */

typedef struct jr {
    const char *p, *end;
    int depth;
    const char *err;
} jr;

static void jr_ws(jr *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

/* A string; decoded into out (NULL: skipped). 0 or -1. */
static int jr_string(jr *r, char *out, size_t cap)
{
    size_t n = 0;
    jr_ws(r);
    if (r->p >= r->end || *r->p != '"') {
        r->err = "a string expected";
        return -1;
    }
    r->p++;
    while (r->p < r->end && *r->p != '"') {
        char c = *r->p++;
        if ((unsigned char)c < 0x20) {
            r->err = "a control character in a string";
            return -1;
        }
        if (c == '\\') {
            if (r->p >= r->end) {
                r->err = "an unfinished escape";
                return -1;
            }
            c = *r->p++;
            switch (c) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case '"': case '\\': case '/': break;
            case 'u': {
                unsigned v = 0;
                int k;
                if (r->end - r->p < 4) {
                    r->err = "a short \\u escape";
                    return -1;
                }
                for (k = 0; k < 4; k++) {
                    char h = *r->p++;
                    v = v * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                             : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 99);
                    if (v > 0xFFFF) {
                        r->err = "a bad \\u escape";
                        return -1;
                    }
                }
                if (v == 0 || v > 0x7F) {
                    r->err = "a \\u escape outside ASCII";
                    return -1;
                }
                c = (char)v;
                break;
            }
            default:
                r->err = "an unknown escape";
                return -1;
            }
        }
        if (out) {
            if (n + 1 >= cap) {
                r->err = "a string too long";
                return -1;
            }
            out[n++] = c;
        }
    }
    if (r->p >= r->end) {
        r->err = "an unterminated string";
        return -1;
    }
    r->p++;
    if (out)
        out[n] = 0;
    return 0;
}

static int jr_value(jr *r);

static int jr_container(jr *r, char open, char close)
{
    int first = 1;
    if (++r->depth > 32) {
        r->err = "nesting too deep";
        return -1;
    }
    r->p++; /* open */
    (void)open;
    for (;;) {
        jr_ws(r);
        if (r->p >= r->end) {
            r->err = "an unterminated object or array";
            return -1;
        }
        if (*r->p == close) {
            r->p++;
            r->depth--;
            return 0;
        }
        if (!first) {
            if (*r->p != ',') {
                r->err = "',' expected";
                return -1;
            }
            r->p++;
        }
        first = 0;
        if (close == '}') {
            if (jr_string(r, NULL, 0) != 0)
                return -1;
            jr_ws(r);
            if (r->p >= r->end || *r->p != ':') {
                r->err = "':' expected";
                return -1;
            }
            r->p++;
        }
        if (jr_value(r) != 0)
            return -1;
    }
}

static int jr_value(jr *r)
{
    jr_ws(r);
    if (r->p >= r->end) {
        r->err = "a value expected";
        return -1;
    }
    if (*r->p == '"')
        return jr_string(r, NULL, 0);
    if (*r->p == '{')
        return jr_container(r, '{', '}');
    if (*r->p == '[')
        return jr_container(r, '[', ']');
    if (r->end - r->p >= 4 && (!strncmp(r->p, "true", 4) || !strncmp(r->p, "null", 4))) {
        r->p += 4;
        return 0;
    }
    if (r->end - r->p >= 5 && !strncmp(r->p, "false", 5)) {
        r->p += 5;
        return 0;
    }
    if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9')) {
        while (r->p < r->end && strchr("+-0123456789.eE", *r->p))
            r->p++;
        return 0;
    }
    r->err = "an unexpected character";
    return -1;
}

#define GGDM_ARG_MAX 4096

int ggdm_run_read_config(const char *path, ggdm_run_record *rec, char *err, size_t errcap)
{
    uint8_t *buf;
    uint64_t len;
    jr r;
    char key[64];
    int first = 1;
    memset(rec, 0, sizeof *rec);
    if (ggdm_io_read_file(path, &buf, &len, err, errcap) != GGDM_OK)
        return -1;
    r.p = (const char *)buf;
    r.end = r.p + len;
    r.depth = 0;
    r.err = NULL;
    jr_ws(&r);
    if (r.p >= r.end || *r.p != '{') {
        r.err = "'{' expected";
        goto bad;
    }
    r.p++;
    for (;;) {
        jr_ws(&r);
        if (r.p < r.end && *r.p == '}')
            break;
        if (!first) {
            if (r.p >= r.end || *r.p != ',') {
                r.err = "',' expected";
                goto bad;
            }
            r.p++;
        }
        first = 0;
        if (jr_string(&r, key, sizeof key) != 0)
            goto bad;
        jr_ws(&r);
        if (r.p >= r.end || *r.p != ':') {
            r.err = "':' expected";
            goto bad;
        }
        r.p++;
        jr_ws(&r);
        if (r.p < r.end && *r.p == '"' && rec->n < GGDM_RUN_REC_MAX) {
            if (jr_string(&r, rec->val[rec->n], sizeof rec->val[rec->n]) != 0)
                goto bad;
            snprintf(rec->key[rec->n], sizeof rec->key[rec->n], "%s", key);
            rec->n++;
        } else if (!strcmp(key, "argv") && r.p < r.end && *r.p == '[') {
            int afirst = 1;
            r.p++;
            for (;;) {
                char *s, **a2;
                jr_ws(&r);
                if (r.p < r.end && *r.p == ']') {
                    r.p++;
                    break;
                }
                if (!afirst) {
                    if (r.p >= r.end || *r.p != ',') {
                        r.err = "',' expected in argv";
                        goto bad;
                    }
                    r.p++;
                }
                afirst = 0;
                if (rec->argc >= 4096) {
                    r.err = "argv too long";
                    goto bad;
                }
                s = (char *)malloc(GGDM_ARG_MAX);
                a2 = s ? (char **)realloc(rec->argv, sizeof(char *) * (size_t)(rec->argc + 2)) : NULL;
                if (!a2) {
                    free(s);
                    r.err = "out of memory";
                    goto bad;
                }
                rec->argv = a2;
                if (jr_string(&r, s, GGDM_ARG_MAX) != 0) {
                    free(s);
                    goto bad;
                }
                rec->argv[rec->argc++] = s;
                rec->argv[rec->argc] = NULL;
            }
        } else if (jr_value(&r) != 0) {
            goto bad;
        }
    }
    free(buf);
    return 0;
bad:
    snprintf(err, errcap, "%s: not a ggdm run record: %s at byte %ld", path, r.err ? r.err : "malformed",
             (long)(r.p - (const char *)buf));
    free(buf);
    ggdm_run_record_free(rec);
    return -1;
}

const char *ggdm_run_record_get(const ggdm_run_record *rec, const char *key)
{
    int i;
    for (i = 0; i < rec->n; i++)
        if (!strcmp(rec->key[i], key))
            return rec->val[i];
    return "";
}

void ggdm_run_record_free(ggdm_run_record *rec)
{
    int i;
    if (rec->argv) {
        for (i = 0; i < rec->argc; i++)
            free(rec->argv[i]);
        free(rec->argv);
    }
    rec->argv = NULL;
    rec->argc = 0;
}

/* ------------------------------------------------------------------ checkpoint generations */

static int read_current(const char *ckdir, char *current, size_t cap)
{
    char path[GGDM_RUN_PATH_MAX];
    FILE *f;
    size_t n;
    current[0] = 0;
    snprintf(path, sizeof path, "%s/CURRENT", ckdir);
    f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(current, (int)cap, f))
        current[0] = 0;
    fclose(f);
    n = strlen(current);
    while (n && (current[n - 1] == '\n' || current[n - 1] == '\r'))
        current[--n] = 0;
    if (!n || strchr(current, '/') || !strcmp(current, ".") || !strcmp(current, "..")) {
        current[0] = 0;
        return -1;
    }
    return 0;
}

int ggdm_ckpt_recover(const char *ckdir, const char *const *keep, char *current, size_t cap, char *err,
                      size_t errcap)
{
    DIR *d;
    struct dirent *e;
    char path[GGDM_RUN_PATH_MAX];
    struct stat sb;
    if (ggdm_io_mkdirs(ckdir) != 0) {
        snprintf(err, errcap, "cannot create %s (%s)", ckdir, strerror(errno));
        return -1;
    }
    if (read_current(ckdir, current, cap) != 0) {
        snprintf(err, errcap, "%s/CURRENT is damaged; remove %s to start the run again", ckdir, ckdir);
        return -1;
    }
    if (current[0]) {
        snprintf(path, sizeof path, "%s/%s", ckdir, current);
        if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            snprintf(err, errcap, "%s/CURRENT names %s, which is missing; remove %s to start the run again", ckdir,
                     current, ckdir);
            return -1;
        }
    }
    d = opendir(ckdir);
    if (!d) {
        snprintf(err, errcap, "cannot read %s (%s)", ckdir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        const char *const *k;
        int kept = 0;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "CURRENT") ||
            (current[0] && !strcmp(e->d_name, current)))
            continue;
        for (k = keep; k && *k; k++)
            kept |= !strcmp(e->d_name, *k);
        if (kept)
            continue;
        snprintf(path, sizeof path, "%s/%s", ckdir, e->d_name);
        if (ggdm_io_remove_tree(path) != 0) {
            snprintf(err, errcap, "cannot remove the stale %s (%s)", path, strerror(errno));
            closedir(d);
            return -1;
        }
    }
    closedir(d);
    return 0;
}

int ggdm_ckpt_begin(const char *ckdir, const char *name, char *gendir, size_t cap, char *err, size_t errcap)
{
    if (snprintf(gendir, cap, "%s/%s.tmp", ckdir, name) >= (int)cap) {
        snprintf(err, errcap, "%s: path too long", ckdir);
        return -1;
    }
    if (ggdm_io_remove_tree(gendir) != 0 || ggdm_io_mkdirs(gendir) != 0) {
        snprintf(err, errcap, "cannot create %s (%s)", gendir, strerror(errno));
        return -1;
    }
    return 0;
}

int ggdm_ckpt_commit(const char *ckdir, const char *name, const char *prev, char *err, size_t errcap)
{
    char tmp[GGDM_RUN_PATH_MAX], fin[GGDM_RUN_PATH_MAX], cur[GGDM_RUN_PATH_MAX], text[512];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", ckdir, name);
    snprintf(fin, sizeof fin, "%s/%s", ckdir, name);
    snprintf(cur, sizeof cur, "%s/CURRENT", ckdir);
    if (ggdm_io_sync_dir(tmp) != 0 || ggdm_io_remove_tree(fin) != 0 || ggdm_io_rename(tmp, fin) != 0 ||
        ggdm_io_sync_dir(ckdir) != 0) {
        snprintf(err, errcap, "cannot commit the checkpoint %s (%s)", fin, strerror(errno));
        return -1;
    }
    snprintf(text, sizeof text, "%s\n", name);
    if (ggdm_io_write_file(cur, text, strlen(text), err, errcap) != GGDM_OK || ggdm_io_sync_dir(ckdir) != 0) {
        if (!err[0])
            snprintf(err, errcap, "cannot commit the checkpoint %s (%s)", cur, strerror(errno));
        return -1;
    }
    if (prev && prev[0] && strcmp(prev, name)) {
        snprintf(fin, sizeof fin, "%s/%s", ckdir, prev);
        ggdm_io_remove_tree(fin); /* a leftover is removed by the next recovery */
    }
    return 0;
}

/* ------------------------------------------------------------------ Python's float repr */

void ggdm_py_float_repr(double v, char *out, size_t cap)
{
    char digits[40], buf[64];
    int prec, exp10, nd, i;
    char *e;
    if (v != v) {
        snprintf(out, cap, "nan");
        return;
    }
    if (v > 1.7976931348623157e308 || v < -1.7976931348623157e308) {
        snprintf(out, cap, v > 0 ? "inf" : "-inf");
        return;
    }
    if (v == 0) {
        snprintf(out, cap, (1.0 / v) < 0 ? "-0.0" : "0.0");
        return;
    }
    /* the shortest %.Ne that reads back as v */
    for (prec = 0; prec < 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    snprintf(buf, sizeof buf, "%.*e", prec, v);
    /* buf: [-]d.ddde[+-]xx -> digits, exponent */
    e = strchr(buf, 'e');
    exp10 = (int)strtol(e + 1, NULL, 10);
    *e = 0;
    nd = 0;
    for (i = 0; buf[i]; i++)
        if (buf[i] >= '0' && buf[i] <= '9')
            digits[nd++] = buf[i];
    digits[nd] = 0;
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = 0;
    {
        int decpt = exp10 + 1; /* digits d1 d2 ... times 10^(decpt - nd) */
        size_t used = 0;
        const char *sign = v < 0 ? "-" : "";
        if (decpt > -4 && decpt <= 16) { /* repr's fixed notation */
            used += (size_t)snprintf(out + used, cap - used, "%s", sign);
            if (decpt <= 0) {
                used += (size_t)snprintf(out + used, cap - used, "0.");
                for (i = 0; i < -decpt; i++)
                    used += (size_t)snprintf(out + used, cap - used, "0");
                snprintf(out + used, cap - used, "%s", digits);
            } else if (decpt >= nd) {
                used += (size_t)snprintf(out + used, cap - used, "%s", digits);
                for (i = nd; i < decpt; i++)
                    used += (size_t)snprintf(out + used, cap - used, "0");
                snprintf(out + used, cap - used, ".0");
            } else {
                used += (size_t)snprintf(out + used, cap - used, "%.*s.%s", decpt, digits, digits + decpt);
            }
        } else { /* d.ddde-05 */
            int x = decpt - 1;
            if (nd > 1)
                snprintf(out, cap, "%s%c.%se%c%02d", sign, digits[0], digits + 1, x < 0 ? '-' : '+', x < 0 ? -x : x);
            else
                snprintf(out, cap, "%s%ce%c%02d", sign, digits[0], x < 0 ? '-' : '+', x < 0 ? -x : x);
        }
    }
}
